"""`mnistlab train` and `mnistlab show-augment`: flags -> a validated config -> the library."""

from __future__ import annotations

import contextlib
import math
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mnistlab import files
from mnistlab.callbacks import PROGRESS_MODES
from mnistlab.cli._common import (FIGURE_FORMATS, FIGURE_FORMATS_SAID, IntRange, PathArg, TomlNumber, check_output,
                                  data_dir_option, dataset_arg, is_experiment,
                                  model_arg, one_variant, open_store, replacing, save_figure, status_said, store_flag,
                                  store_option, variant_configs)
from mnistlab.cli._output import closed_output_ignored, closed_output_stops
from mnistlab.config import (OPTIMIZERS, AugmentConfig, RunConfig, build_run_config, parse_augment, setting_default,
                             setting_doubts)
from mnistlab.errors import CheckpointError, MnistlabError, OutputError, RunNotFinished, SpecError
from mnistlab.files import refuse_store_path

if TYPE_CHECKING:  # the commands import mnistlab.run late, when they run
    from mnistlab.run import Recorder, RunResult
    from mnistlab.store import RunRecord, RunStore

PROGRESS = click.Choice(PROGRESS_MODES)


def _validation(value: str | None) -> Any:
    """``test``, an int count (``10000``) or a fraction (``0.1``)."""
    if value is None:
        return None
    if value.strip().lower() == "test":
        return "test"
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        raise SpecError(f'--validation: expected a fraction (0.1), a count (10000) or "test", got {value!r}') from None


def weights_options(f: Any) -> Any:
    """`--weights FILE|RUN` and `--skip-mismatch` (:func:`_start_weights` reads them), as `train` and `lr-find` take them."""
    f = click.option("--skip-mismatch", is_flag=True, default=None,
                     help="With --weights: layers whose weights the file lacks or shapes otherwise (a new output layer) "
                          "keep their fresh initialisation, as Keras's load_weights(skip_mismatch=True).")(f)
    return click.option("--weights", "start_weights", metavar="FILE|RUN",
                        help="Start from trained weights instead of a fresh initialisation (Keras's load_weights): a "
                             ".safetensors file (`mnistlab export RUN -o FILE.safetensors`), or a finished run's id in "
                             "the store.")(f)


@click.command("train")
@click.option("--config", "config_file", type=PathArg(dir_okay=False, path_type=Path),
              help="Run config TOML (dataset, model, [data], [train], [augment], [[callbacks]]), or a recorded "
                   "run's config.json (that run again); flags override it.")
@click.option("--dataset", callback=dataset_arg,
              help=f"A dataset name (mnistlab datasets), or your own .csv, .npz or class-folder path, or a table "
                   f"'{{ folder = \"train\", test = \"test\" }}' ('{{ idx = \"folder\" }}': IDX files) "
                   f"(default {setting_default('dataset')}).")
@click.option("--model", callback=model_arg,
              help=f"A preset name (mnistlab models) or a spec file (.toml/.json), or a spec inline: "
                   f"'{{ conv = [32], dense = [128] }}' (TOML or JSON). Default {setting_default('model')}.")
@click.option("--epochs", type=int, help=f"Epochs (default {setting_default('epochs')}).")
@click.option("--batch-size", type=int, help=f"Images per step (default {setting_default('batch_size')}, as Keras).")
@click.option("--lr", type=float, help="Learning rate (default: the optimizer's Keras default).")
@click.option("--optimizer", help=f"{' '.join(OPTIMIZERS)} (default {setting_default('optimizer')})")
@click.option("--momentum", type=float, help=f"sgd / rmsprop momentum (default {setting_default('momentum'):g}).")
@click.option("--nesterov/--no-nesterov", default=None, help="Nesterov momentum (sgd with --momentum).")
@click.option("--weight-decay", type=float,
              help="Decoupled weight decay, as Keras 3 (default: the optimizer's Keras default).")
@click.option("--label-smoothing", type=float,
              help=f"Label smoothing of the cross-entropy (default {setting_default('label_smoothing'):g}).")
@click.option("--seed", type=int,
              help=f"Seed of weights, shuffling, augmentation, dropout (default {setting_default('seed')}).")
@click.option("--validation", help='Fraction of train (0.1), a count (10000), "test", or 0 for none (the default). '
              "Held out at random (seeded); Keras's validation_split takes the last images: --set data.split=last.")
@click.option("--subset", type=IntRange(min=1), help="Train on the first N images (and N // 6 test images, at least 1); "
              "without it, all of them.")
@click.option("--device", help=f"auto cpu cuda cuda:N mps (default {setting_default('device')})")
@click.option("--threads", type=int, help="CPU threads (default 0: from the machine, adapting to other work).")
@click.option("--precision", type=click.Choice(["float32", "bf16", "auto", "mixed_bfloat16", "bfloat16"],
                                              case_sensitive=False),
              help=f"Default {setting_default('precision')}: auto = bf16 autocast where it pays (conv models on CPUs "
                   "with native bf16), else float32. bf16 is Keras's mixed_bfloat16 policy (float32 weights); "
                   "mixed_bfloat16 and bfloat16 are names of it.")
@data_dir_option()
@click.option("--checkpoint-dir", type=PathArg(file_okay=False, path_type=Path),
              help="Save checkpoints here: after every epoch, or see --checkpoint-every (resume with --resume).")
@click.option("--checkpoint-every", type=float, metavar="SECONDS", callback=lambda _c, _p, v: _seconds(v, "--checkpoint-every"),
              help="With --checkpoint-dir: save once this many seconds have passed, inside an epoch too (after "
                   "the batch where the time is up), instead of after every epoch (0, the default: after every "
                   "epoch); the last epoch's end replaces any earlier one.")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in --checkpoint-dir.")
@click.option("--save-weights", type=PathArg(dir_okay=False, path_type=Path),
              help="Write the trained weights here (.safetensors).")
@weights_options
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help='Any other setting, repeatable: --set augment.rotation_range=10 --set train.schedule.type=cosine.')
@click.option("--progress", type=PROGRESS, default="auto", show_default=True,
              help="bar: a bar redrawn in place as each epoch runs; lines: one line an epoch (a log, a screen reader); "
                   "none: the summary and result only; auto: bar on a terminal, lines elsewhere (and with TERM=dumb).")
@click.option("--record/--no-record", default=True, show_default=True,
              help="Record the run (config, history, metrics, weights, test predictions) in the run store.")
@click.option("--experiment", default="train", show_default=True, callback=lambda _c, _p, v: _experiment_name(v),
              help="The experiment name it is recorded under.")
@click.option("--variant", "run_variant", metavar="NAME", callback=lambda _c, _p, v: _experiment_name(v, "--variant"),
              help="The row it is recorded as (MLflow's run name): runs of one model with other flags told apart by "
                   "name in `compare EXPERIMENT` (default: the model's name).")
@store_option()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: one JSON object on stdout once the run has ended (run_id, status, metrics...), "
                   "everything else on stderr, for scripts.")
def train_cmd(config_file: Path | None, data_dir: Path | None, checkpoint_dir: Path | None,
              checkpoint_every: float | None, resume: bool, save_weights: Path | None, progress: str,
              validation: str | None, settings: tuple[str, ...], record: bool, experiment: str, store: str | None,
              fmt: str, **flags: Any) -> None:
    """Train one model and print its summary, one line per epoch and the test metrics.

    \b
    mnistlab train --dataset fashion-mnist --model seed000-cnn --epochs 5
    mnistlab train --config run.toml --epochs 2 --checkpoint-dir ckpt --resume
    """
    if fmt == "text":
        _train(config_file, data_dir, checkpoint_dir, checkpoint_every, resume, save_weights, progress, validation,
               settings, record, experiment, store, None, **flags)
        return
    import json
    import sys

    out, ended = sys.stdout, dict[str, Any]()  # helper-165: a script had the run id only inside "recorded as run ..." prose
    try:
        with contextlib.redirect_stdout(sys.stderr):
            _train(config_file, data_dir, checkpoint_dir, checkpoint_every, resume, save_weights, progress,
                   validation, settings, record, experiment, store, ended, **flags)
    finally:  # (a run that ended diverged or stopped: said too, before its exit status)
        if ended:
            click.echo(json.dumps(ended, default=str), file=out)


# long: the run's steps in order (check, record, train, report), each with how a stop or a mistake ends it
def _train(config_file: Path | None, data_dir: Path | None, checkpoint_dir: Path | None,  # noqa: PLR0913
           checkpoint_every: float | None, resume: bool, save_weights: Path | None, progress: str,
           validation: str | None, settings: tuple[str, ...], record: bool, experiment: str, store: str | None,
           ended: dict[str, Any] | None, **flags: Any) -> None:
    """:func:`train_cmd`; ``ended`` (--format json) gets the run as it ended: its id (None: not
    recorded), experiment, variant, store, status as recorded, message and metrics."""
    from mnistlab.accel import pick_device
    from mnistlab.callbacks import StopBetweenEpochs
    from mnistlab.execute import terminate_as_interrupt
    from mnistlab.live import EpochProgress
    from mnistlab.run import UNTESTED_BY_STOP, run_config
    from mnistlab.trainer import STOPPED_BY

    _check_outputs(resume, checkpoint_dir, save_weights)
    if checkpoint_every is not None and checkpoint_dir is None:
        raise SpecError("--checkpoint-every needs --checkpoint-dir (where the checkpoints go)")
    if validation is not None:
        flags["validation"] = _validation(validation)
    variant = flags.pop("run_variant", None)  # (the record's, not a setting)
    _start_weights(flags, store)
    cfg = build_run_config(config_file, settings, flags)
    _check_before_training(cfg, data_dir)
    _data_changed_since(config_file, cfg)
    pick_device(cfg.train.device)  # an unavailable device fails before the summary, not after
    recorder = None
    if record:
        runs, recorder, done = _open_record(store, experiment, cfg, checkpoint_dir if resume else None, variant)
        if done is not None and checkpoint_dir is not None:
            _already_recorded(done, runs, checkpoint_dir, save_weights, experiment)
            if ended is not None:  # (that run: nothing trained)
                ended.update(_recorded_as(done, runs.root))
            return
    # its epochs so far in its row, as a sweep's: a `kill -9` leaves them for `runs` and `show`
    kept = [EpochProgress(recorder.store, recorder.run_id)] if recorder is not None else []
    try:  # SIGTERM (a scheduler, `kill`) or a closed output (`| head`) stops it as Ctrl-C does
        with terminate_as_interrupt() as stop, closed_output_stops(stop):
            result = run_config(cfg, data_dir=data_dir, progress=progress, checkpoint_dir=checkpoint_dir,
                                resume=resume, checkpoint_every=checkpoint_every or 0.0,
                                extra_callbacks=[between := StopBetweenEpochs(stop), *kept], interrupt=between.asked,
                                on_data_ready=lambda data: _announce(cfg, checkpoint_dir if resume else None, data),
                                run_id=recorder.run_id if recorder is not None else "", names=(experiment, variant))
    except BaseException as exc:
        err = _not_trained(exc, int(stop.signum), recorder, began=between.began)
        if ended is not None and recorder is not None:  # (a stop: the run as recorded, interrupted)
            ended.update(_ended(None, recorder))
        raise err from None
    if result.status == "interrupted" and stop.signum == signal.SIGPIPE:  # not Ctrl-C: say what stopped it
        result.message = result.message.replace(STOPPED_BY, "because its output was closed (SIGPIPE)")
    try:  # a SIGTERM while the result is written ends it as a Ctrl-C then does (helper-255: killed, unsaid)
        with terminate_as_interrupt() as late:
            save_error = _report(result, cfg, save_weights, recorder, checkpoint_dir, late)
    finally:  # (a Ctrl-C while the run was recorded too: helper-165 got no object then)
        if ended is not None:
            ended.update(_ended(result, recorder))
    if save_error is not None:
        save_error.exit_code = 1  # it trained: not "nothing done" (helper-255: exit 2)
        if recorder is not None and _recorded_finished(recorder):  # and its weights are in the store
            save_error.args = (f"{save_error}; the run is recorded as {recorder.run_id}: `mnistlab export "
                               f"{recorder.run_id} -o FILE.safetensors` writes its weights",)
        raise save_error
    stopped = result.status == "interrupted" or result.message.endswith(UNTESTED_BY_STOP)
    if result.status != "finished" or stopped:
        tail, rest = status_said(result.status, result.message)  # "interrupted by Ctrl-C ...": the word once
        err = RunNotFinished(f"run {result.status}{tail}" + (f": {rest}" if rest else "") + _resume_hint(result, checkpoint_dir))
        err.exit_code = 128 + int(stop.signum) if stopped else 1
        if stopped and stop.signum != signal.SIGPIPE:  # Ctrl-C or kill: what the user asked for, not an error
            err.label = ""
        raise err


def _start_weights(flags: dict[str, Any], store: str | None) -> None:
    """``--weights FILE|RUN`` and ``--skip-mismatch`` into ``flags["weights"]``: a run id (not a file
    here, nor one's name) is its weights file in the store (:func:`~mnistlab.initial_weights.run_weights`)."""
    given, skip = flags.pop("start_weights", None), flags.pop("skip_mismatch", None)
    if given is None:
        if skip:
            raise SpecError("--skip-mismatch goes with --weights (the file or run whose weights the run starts from); "
                            "for a config's weights, --set weights.skip_mismatch=true")
        return
    from mnistlab.initial_weights import weights_file

    file = weights_file(given, lambda: open_store(store))
    flags["weights"] = {"file": file, "skip_mismatch": True} if skip else file


def _ended(result: RunResult | None, recorder: Recorder | None) -> dict[str, Any]:
    """`train --format json`'s object: the run as the store holds it (its status there: "failed"
    where its files could not be written), or as it ended where it was not recorded (run_id null);
    empty where neither is known (no ``result``: training raised, and the run is not in the store)."""
    if recorder is not None:
        with contextlib.suppress(MnistlabError):
            return _recorded_as(recorder.store.get(recorder.run_id), recorder.store.root)
    if result is None:
        return {}
    return {"run_id": None, "experiment": None, "variant": None, "store": None, "status": result.status,
            "message": result.message, "metrics": result.metrics}


def _recorded_as(rec: RunRecord, root: Path) -> dict[str, Any]:
    """A recorded run as `train --format json` says it (:func:`_ended`)."""
    return {"run_id": rec.run_id, "experiment": rec.experiment, "variant": rec.variant, "store": str(root),
            "status": rec.status, "message": rec.message, "metrics": rec.metrics}


def _check_before_training(cfg: RunConfig, data_dir: Path | None) -> None:
    """What `train` checks before it opens the store (:func:`~mnistlab.run.check_run_data`): its data
    (a first run's mistake in it leaves no empty store behind; the user's own data is read once, kept
    for the run), a validation split that leaves no training image, said with its settings, a
    checkpoint folder that cannot be written. Raises SpecError or DataError."""
    from mnistlab.run import check_run_data

    check_run_data(cfg.resolved(), data_dir, files_here=True)  # (a run of train trains here)


def _data_changed_since(config_file: Path | None, cfg: RunConfig) -> None:
    """A DataWarning where ``config_file`` is a recorded run's ``config.json`` (its ``record.json``
    beside it), the run trains on the same data that run named, and that data (the user's own)
    changed since: both SHA-256s (:func:`~mnistlab.data.userdata.digest_change`), as `mnistlab run`
    says of a variant (helper-171: edited labels trained on without a word). Other data given
    (``--dataset``) is the user's choice: nothing is said."""
    import json
    import warnings

    from mnistlab.data.userdata import absolute_data, digest_change, recorded_digests
    from mnistlab.errors import DataWarning, user_level

    if config_file is None or config_file.name != "config.json" or not (config_file.parent / "record.json").is_file():
        return
    try:
        record = json.loads((config_file.parent / "record.json").read_text(encoding="utf-8"))
        recorded = json.loads(config_file.read_text(encoding="utf-8"))
        same = absolute_data(recorded.get("dataset")) == absolute_data(cfg.dataset)
        change = digest_change(recorded_digests(recorded, record.get("env")), cfg.dataset) if same else None
    except (OSError, ValueError, AttributeError, TypeError):  # not a record after all: nothing to compare with
        return
    if change:
        role, before, after = change
        warnings.warn(f"{config_file}: its {role} changed since run {record.get('run_id', '?')} trained on it (SHA-256 "
                      f"{before[:12]}... then, {after[:12]}... now): this run trains on the data as it is now, "
                      "so it need not give that run's numbers", DataWarning, stacklevel=user_level())


def _open_record(store: str | None, experiment: str, cfg: RunConfig, resume_from: Path | None,
                 variant: str | None = None) -> tuple[RunStore, Recorder | None, RunRecord | None]:
    """The store the run records into and its recorder; or, where the checkpoint in ``resume_from``
    is where a run recorded there ended (:func:`~mnistlab.run.recorded_end`), that run and no
    recorder. An unusable store fails now, before training."""
    from mnistlab.run import Recorder, recorded_end

    try:
        runs = open_store(store, create=True)
        done = recorded_end(resume_from, runs, cfg)
    except MnistlabError as exc:
        raise type(exc)(f"{exc} (or train with --no-record)") from None
    _not_a_searchs(runs, experiment)
    return runs, Recorder.for_config(runs, experiment, cfg, variant) if done is None else None, done


def _not_a_searchs(runs: RunStore, experiment: str) -> None:
    """SpecError when ``experiment`` names a search's trials in ``runs`` (helper-116: a run of
    `train --experiment SEARCH` was ranked among the trials, and could not be deleted alone). The
    default name is looked up only in a store that holds a search (its runs may be many)."""
    from mnistlab.search import STUDY_FILE, holds_search

    if (experiment != "train" or (runs.root / STUDY_FILE).is_file()) and holds_search(
            runs, experiment, runs.runs(experiment=experiment)):
        raise SpecError(f'--experiment: "{experiment}" is a search\'s in {runs.root}: a run of its own would be '
                        "ranked among its trials; give another name")


def _already_recorded(done: RunRecord, store: RunStore, checkpoint_dir: Path, save_weights: Path | None,
                      experiment: str) -> None:
    """What `train --resume` says (and does, for --save-weights) when the checkpoint in
    ``checkpoint_dir`` is where the recorded run ``done`` ended: nothing to train, no copy recorded
    (under ``experiment`` either: the run is said to be recorded under its own)."""
    from mnistlab.run import Run

    m = done.metrics
    loss = "n/a" if m.get("test_loss") is None else f"{m['test_loss']:.4f}"
    elsewhere = f" of experiment {done.experiment!r}, not {experiment!r}" if done.experiment != experiment else ""
    click.echo(f"test_accuracy: {m['test_accuracy']:.4f} - test_loss: {loss} - recorded as run {done.run_id}{elsewhere}")
    if save_weights is not None:
        files.save_weights(Run.from_store(store, done.run_id).model.state_dict(), save_weights)
        click.echo(f"weights saved to {save_weights}")
    epochs = int(done.config.get("train", {}).get("epochs", 0))
    click.echo(f"nothing to train: the checkpoint in {checkpoint_dir} is where run {done.run_id} ended, tested and "
               f"recorded (mnistlab show {done.run_id}); --epochs above {epochs} trains on from it, and without "
               f"--resume the run trains afresh{' (and is recorded under ' + repr(experiment) + ')' if elsewhere else ''}",
               err=True)


def _not_trained(exc: BaseException, signum: int, recorder: Recorder | None, *, began: bool) -> BaseException:
    """What `train` raises when training raised ``exc`` (``signum``: what stopped it, if it was a
    stop; ``began``: whether training had begun), once the run is recorded (interrupted, failed)
    or, for bad input, left unrecorded. A stop says when it came, without "error:" unless the
    output was closed (SIGPIPE)."""
    from mnistlab.trainer import STOPPED_BY

    stopped = isinstance(exc, KeyboardInterrupt)
    piped = stopped and signum == signal.SIGPIPE  # while the summary was printed
    when = "after training, before its result was complete" if began else "before training began"
    why = (f"interrupted because its output was closed (SIGPIPE) {when}" if piped else
           f"interrupted {STOPPED_BY} {when}" if stopped else None)
    if recorder is not None:
        recorder.abandon(exc, why)  # the record says why too: the line on stderr may have no reader either
    if isinstance(exc, CheckpointError):
        return CheckpointError(f"{exc}: use another --checkpoint-dir, or drop --resume to train afresh")
    if why is None:
        return exc
    recorded = f" (recorded as run {recorder.run_id})" if recorder is not None else ""
    err = RunNotFinished(f"run {why}" + ("" if piped else f"{recorded}; run the same command again to train it"))
    err.exit_code = 128 + (signum or signal.SIGINT)
    if not piped:
        err.label = ""  # Ctrl-C or kill: what the user asked for, not an error
    return err


def _report(result: RunResult, cfg: RunConfig, save_weights: Path | None, recorder: Recorder | None,
            checkpoint_dir: Path | None, stop: Any = None) -> MnistlabError | None:
    """Write --save-weights and record the run, then print the test metrics and say both; returns
    the weights' error, to be raised once the run is recorded (a store problem must not cost the
    weights, nor a weights problem the record), else RunNotFinished where the run was not recorded
    (whole: helper-156, a full disk's run said "recorded", exit 0, and the store had it failed). A
    stop may not cut the writing short: Ctrl-C or SIGTERM then waits until it is done (nothing is
    printed meanwhile, so a full pipe holds no stop back); a Ctrl-C (or, with ``stop``, the
    :class:`~mnistlab.execute.StopSignal` of the block around it, SIGTERM) then or while the lines are
    printed ends it as :func:`_stopped_after` says."""
    from mnistlab.run import mark_checkpoint_recorded
    from mnistlab.store import epochs_trained

    save_error: MnistlabError | None = None
    problem: str | None = None
    stopped = False
    try:
        with files.stop_signals_held():
            if save_weights is not None:
                try:
                    files.save_weights(result.model.state_dict(), save_weights)
                except MnistlabError as exc:
                    save_error = exc
            if recorder is not None:
                problem = recorder.finish(result)
                mark_checkpoint_recorded(checkpoint_dir, recorder.run_id, cfg, result)  # so --resume finds it done
    except KeyboardInterrupt:
        stopped = True
    try:
        with closed_output_ignored():  # the reader gone now changes nothing: all is written
            _echo_test_metrics(result)
            if save_weights is not None and save_error is None:
                click.echo(f"weights saved to {save_weights}" + ("" if result.status == "finished" else
                           f" (the weights at the stop: {result.status} after {epochs_trained(result)})"))
            if recorder is not None and not problem:
                click.echo(f"recorded as run {recorder.run_id} in {files.display_name(recorder.store.root)} "
                           f"(mnistlab show {recorder.run_id}{store_flag(recorder.store.root)})")
            elif problem and save_error is not None:  # that error is the one raised: this is said first
                click.echo(f"warning: {problem}", err=True)
    except KeyboardInterrupt:
        stopped = True
    if stopped:
        raise _stopped_after(recorder, int(getattr(stop, "signum", signal.SIGINT)))
    return RunNotFinished(problem) if problem and save_error is None else save_error  # exit 1: scripts see it


def _recorded_finished(recorder: Recorder) -> bool:
    """Whether ``recorder``'s run is in its store as finished (its weights there)."""
    try:
        return recorder.store.get(recorder.run_id).status == "finished"
    except MnistlabError:
        return False


def _stopped_after(recorder: Recorder | None, signum: int = signal.SIGINT) -> RunNotFinished:
    """What `train` raises for a Ctrl-C (or SIGTERM: ``signum``) that came once training had ended,
    while the result was written (held until it was whole) or said: the run as the store holds it,
    exit status 128 + ``signum`` (130, 143), no "error:"."""
    kept = "the run was not recorded (--no-record)"
    if recorder is not None:
        try:
            kept = f"run {recorder.run_id} was recorded ({recorder.store.get(recorder.run_id).status})"
        except MnistlabError:
            kept = f"run {recorder.run_id} was recorded, then deleted"
    by = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    err = RunNotFinished(f"interrupted by {by} after training; {kept}")
    err.exit_code, err.label = 128 + signum, ""
    return err


def _resume_hint(result: Any, checkpoint_dir: Path | None) -> str:
    """Where ``--resume`` would continue an interrupted run from its checkpoint, or, without
    ``--checkpoint-dir``, how to make the next one resumable (empty otherwise)."""
    saved = result.metrics.get("checkpoint_epoch")
    if result.status == "interrupted" and checkpoint_dir is None:
        return "; it kept no checkpoint: with --checkpoint-dir DIR a stopped run continues with --resume"
    if result.status != "interrupted" or checkpoint_dir is None or not isinstance(saved, int):
        return ""
    step = result.metrics.get("checkpoint_step") or 0
    if not (saved or step):
        return f" (no checkpoint in {checkpoint_dir} yet)"
    if saved >= int(result.config.get("train", {}).get("epochs", 0)) and not step:  # stopped while testing
        return f"; add --resume to test it (its {saved} epochs are in the checkpoint in {checkpoint_dir})"
    where = f"epoch {saved + 1}, batch {step + 1}" if step else f"epoch {saved + 1}"
    return f"; add --resume to continue from {where} (the checkpoint in {checkpoint_dir})"


def _check_outputs(resume: bool, checkpoint_dir: Path | None, save_weights: Path | None) -> None:
    """Refuse unusable output paths now, not after the training they would have lost."""
    from mnistlab.store import DB_FILE
    from mnistlab.trainer import CHECKPOINT_FILE, unfinished_checkpoint

    if resume and checkpoint_dir is None:
        raise SpecError("--resume needs --checkpoint-dir (where the checkpoint is)")
    if checkpoint_dir is not None:
        _check_writable_folder(checkpoint_dir, "--checkpoint-dir")
        refuse_store_path(checkpoint_dir / CHECKPOINT_FILE)  # a run's folder, a sweep cell's checkpoint
        if (checkpoint_dir / DB_FILE).is_file():  # (helper-250: its last.pt went beside runs.sqlite)
            raise OutputError(f"--checkpoint-dir {checkpoint_dir}: a run store's folder; a checkpoint goes in a folder of "
                              "its own (--checkpoint-dir ckpt)")
        if not resume and (held := unfinished_checkpoint(checkpoint_dir / CHECKPOINT_FILE)):
            raise SpecError(f"--checkpoint-dir {checkpoint_dir}: holds the checkpoint of {held}, which this run would "
                            f"write over: --resume continues it, or delete {checkpoint_dir / CHECKPOINT_FILE} to start "
                            "afresh")
    if save_weights is not None:  # (click already refuses a folder here)
        if save_weights.suffix.lower() != ".safetensors":
            raise OutputError(f"cannot write {str(save_weights)!r}: --save-weights writes safetensors, so the file "
                              "name must end in .safetensors")
        _check_writable_folder(save_weights.parent, "--save-weights")
        refuse_store_path(save_weights)


def _announce(cfg: RunConfig, resume_from: Path | None, data: Any = None) -> None:
    """The model's summary, what the run will do on how many images of ``data`` (its
    :class:`~mnistlab.run.Split`), and whether it resumes (``resume_from``: --checkpoint-dir)."""
    from mnistlab.data.userdata import dataset_label
    from mnistlab.summary import format_summary, optimizer_said, run_memory, summarize
    from mnistlab.trainer import CHECKPOINT_FILE

    spec = cfg.model_spec()  # the memory line for this run's optimizer and batch, not the summary's default
    click.echo(format_summary(summarize(spec), run_memory(cfg, spec, cfg.data.subset or cfg.train.batch_size)))
    t = cfg.train
    click.echo(f"Training on {dataset_label(cfg.dataset)}{_sizes(data)}: {t.epochs} epoch{'s' * (t.epochs != 1)}, "
               f"batch {t.batch_size}, {optimizer_said(cfg)}, seed {t.seed}")
    if cfg.weights is not None:  # (helper-200: only `show` said it, after the run)
        from mnistlab.initial_weights import match_weights, read_source

        source = read_source(cfg.weights)
        fresh = match_weights(spec, source, cfg.weights.skip_mismatch).skipped
        click.echo(f"Starting from the weights of {source.describe()}" + (f"; fresh: {', '.join(fresh)}" if fresh else ""))
    if resume_from is not None:
        found = (resume_from / CHECKPOINT_FILE).exists()
        click.echo(f"Resuming from {resume_from / CHECKPOINT_FILE}{_resumed_at(resume_from / CHECKPOINT_FILE, t.epochs)}"
                   if found
                   else f"No checkpoint in {resume_from} yet: starting from epoch 1")


def _sizes(data: Any) -> str:
    """`` (320 training, 80 validation, 100 test images)``: how a run's images were split (helper-121:
    the 20% of a CSV held out as its test set went unsaid); '' without ``data``."""
    if data is None:
        return ""
    val = 0 if data.val_y is None or data.validation_is_test else len(data.val_y)
    return (f" ({len(data.train_y):,} training, " + (f"{val:,} validation, " if val else "")
            + f"{len(data.test_y):,} test images" + (", validating on the test set" if data.validation_is_test else "")
            + ")")


def _resumed_at(path: Path, epochs: int) -> str:
    """Where a resume from the checkpoint at ``path`` goes on: ``": epoch 3, batch 12"`` (the
    checkpoint's next batch), or that its ``epochs`` are all trained already; '' where it cannot be
    read, or holds more than ``epochs`` (the trainer then says why, in one line; helper-241: "epoch 4"
    was said of a run of 3 epochs, then the error)."""
    from mnistlab.trainer import read_checkpoint

    try:
        state = read_checkpoint(path)
    except CheckpointError:
        return ""
    done, inside = state.get("epochs_done"), state.get("partial_epoch")
    if not isinstance(done, int):
        return ""
    steps = inside.get("steps") if isinstance(inside, dict) else None
    if isinstance(steps, int):
        return f": epoch {done + 1}, batch {steps + 1}"
    if done >= epochs:
        return f": all {epochs} epoch{'s' * (epochs != 1)} trained already, nothing left to train" if done == epochs else ""
    return f": epoch {done + 1}"


def _echo_test_metrics(result: RunResult) -> None:
    from mnistlab.comparison import test_set_notes

    m = result.metrics
    if m.get("restored_epoch") is not None:  # which weights were tested, in our words: EarlyStopping's own line,
        # Keras's, comes with its verbose alone (helper-178: said twice with verbose = 1, and with verbose = 0)
        click.echo(f"weights: epoch {m['restored_epoch']}'s, the best, restored by EarlyStopping (restore_best_weights)")
    if result.env.get("weight_average"):
        click.echo(f"weights: {result.env['weight_average']}")
    if m.get("val_scored") and m.get("val_accuracy") is not None:  # the epochs' lines scored the raw weights
        loss = "n/a" if m.get("val_loss") is None else f"{m['val_loss']:.4f}"
        click.echo(f"val_accuracy: {m['val_accuracy']:.4f} - val_loss: {loss} (these {m['val_scored']}: the "
                   "model the test set scores)")
    if m["test_accuracy"] is not None:
        loss = "n/a" if m["test_loss"] is None else f"{m['test_loss']:.4f}"
        n = m["epochs_run"]
        trained = f"train: {m['train_seconds']:.1f}s ({n} epoch{'s' * (n != 1)})"
        if result.status == "interrupted":  # stopped inside an epoch: its time is not counted, its weights are tested
            trained = (f"train: {n} complete epoch{'s' * (n != 1)} ({m['train_seconds']:.1f}s), then stopped" if n else
                       "train: stopped in epoch 1, before it completed")
            trained += ": tested as the weights stood at the stop"
        click.echo(f"test_accuracy: {m['test_accuracy']:.4f} - test_loss: {loss} - {trained} - "
                   f"params: {m['params']:,} - "
                   f"{result.env['device']} {result.env['precision']} - {result.status}")
    if m.get("tta_test_accuracy") is not None:
        click.echo(f"tta_test_accuracy: {m['tta_test_accuracy']:.4f} - tta_test_loss: {m['tta_test_loss']:.4f} "
                   f"({m['tta_views']} view{'s' * (m['tta_views'] != 1)} of each test image averaged)")
    if m.get("tta_val_gain") is not None:  # where to decide whether TTA pays: never on the test set
        click.echo(f"tta_val_accuracy: {m['tta_val_accuracy']:.4f} ({100 * m['tta_val_gain']:+.2f} points over the "
                   "same weights without TTA on the validation images)")
    for note in test_set_notes([result]) if m["test_accuracy"] is not None else ():  # as compare says them
        click.echo(f"note: {note}", err=True)


def _seconds(value: float | None, flag: str) -> float | None:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise click.BadParameter(f"expected seconds (a number >= 0), got {value}", param_hint=flag)
    return value


def _experiment_name(value: str | None, flag: str = "--experiment") -> str | None:
    """``--experiment`` (or ``--variant``), checked at parse time as the library checks it (:func:`mnistlab.run.train`)."""
    from mnistlab.experiments import NAME_RULE, is_valid_name

    if value is not None and not is_valid_name(value):
        raise click.BadParameter(f"must be {NAME_RULE} (got {value!r})", param_hint=flag)
    if flag == "--experiment" and value is not None and value.lower().endswith((".toml", ".json")):  # (helper-254:
        raise click.BadParameter(f"{value!r} reads as a file's name: give the experiment a name, "  # every command read
                                 f"{value.rsplit('.', 1)[0]!r}", param_hint=flag)  # it as that file, not found)
    return value


def _check_writable_folder(folder: Path, flag: str) -> None:
    """The folder exists or can be made, and a file can be written there; else a one-line error."""
    import tempfile

    for part in (folder, *folder.parents):
        if part.exists():
            if not part.is_dir():
                raise SpecError(f"{flag}: {part} is a file, so {folder} cannot be a folder")
            try:  # the only honest test of writability (root passes os.access checks it then fails)
                with tempfile.TemporaryFile(dir=part):
                    pass
            except OSError as exc:
                raise SpecError(f"{flag}: cannot write in {part}: {exc.strerror or exc}") from None
            return




@click.command("show-augment")
@click.option("--dataset", callback=dataset_arg,
              help=f"Whose training images (default: the config's, else {setting_default('dataset')}).")
@click.option("--config", "config_file", type=PathArg(dir_okay=False, path_type=Path),
              help="Take [augment] and the dataset from this run or experiment file (a variant's: --variant).")
@click.option("--variant", multiple=True, callback=one_variant,
              help="The experiment file's variant whose augmentation to show (needed when they differ).")
@click.option("--rotation-range", type=float, help="Degrees.")
@click.option("--zoom-range", type=TomlNumber(), help="z (each axis in [1-z, 1+z]) or [lo, hi].")
@click.option("--width-shift-range", type=TomlNumber(),
              help="Below 1: a fraction of the width; 2.0: up to 2 pixels; 2 (an int): whole pixels in (-2, 2); "
                   "[1, 3]: one of these, with a sign (Keras's forms).")
@click.option("--height-shift-range", type=TomlNumber(), help="The same forms, of the height.")
@click.option("--shear-range", type=float, help="Degrees.")
@click.option("--horizontal-flip/--no-horizontal-flip", default=None, help="Flip half the images left-right.")
@click.option("--vertical-flip/--no-vertical-flip", default=None, help="Flip half the images upside down.")
@click.option("--random-erasing", type=float, help="Probability (0-1) of blanking one random rectangle of 2-33% of "
              "the image, aspect 0.3-3.3 (Zhong et al. 2017).")
@click.option("--fill-mode", type=click.Choice(["nearest", "constant", "reflect", "wrap"]),
              help="What comes in at the edges, as ImageDataGenerator's (default nearest).")
@click.option("--cval", type=float, help="Fill value of --fill-mode constant, in pixels / 255: 0 the background "
              "(no ink), 1 full ink (the figure draws ink dark).")
@click.option("--images", "count", type=IntRange(1, 50), default=6, show_default=True,
              help="Rows: the first N training images.")
@click.option("--copies", type=IntRange(1, 20), default=7, show_default=True, help="Augmented copies per image.")
@click.option("--seed", type=IntRange(0, 2**63 - 1), default=0, show_default=True, metavar="INTEGER",
              help="Seed of the random transforms.")
@data_dir_option()
@click.option("-o", "--output", "--out", "out", type=PathArg(dir_okay=False, path_type=Path), default=Path("augment.png"),
              show_default=True, help=f"The figure's file ({FIGURE_FORMATS_SAID}).")
def show_augment_cmd(dataset: str | None, config_file: Path | None, variant: str | None, count: int, copies: int,
                     seed: int, data_dir: Path | None, out: Path, **flags: Any) -> None:
    """Save a grid of training images next to augmented copies (one row per image)."""
    from mnistlab.augment import preview_figure
    from mnistlab.data.userdata import is_folder_dataset
    from mnistlab.datasets import load_dataset

    out = check_output(out, FIGURE_FORMATS)  # a typo costs nothing
    settings: dict[str, Any] = {}
    if config_file is not None:
        settings, dataset = _augment_of(config_file, variant, dataset)
    elif variant is not None:
        raise SpecError("--variant names a variant of the experiment file given as --config")
    settings.update({k: v for k, v in flags.items() if v is not None})
    cfg = parse_augment(settings, source="command line")
    dataset = dataset or setting_default("dataset")  # a registered name, or the user's own data: a folder's
    for doubt in setting_doubts(dataset, cfg, None):  # as training says them (helper-238: 0.1 degrees unsaid here)
        click.echo(f"warning: {doubt}", err=True)
    ds = load_dataset(dataset, data_dir, shuffle=is_folder_dataset(dataset))  # first images then are of every class
    fig = preview_figure(ds.train_images[:count], cfg, seed=seed, copies=copies)
    replaced = replacing(out)
    save_figure(fig, out)
    click.echo(f"wrote {out}{replaced}")


def _augment_of(path: Path, variant: str | None, dataset: str | None) -> tuple[dict[str, Any], Any]:
    """The ``[augment]`` settings and the dataset (``dataset`` if given) of a file: an experiment
    file's variant (``variant``; needed when its variants augment differently), validated whole as
    `mnistlab run` does; a run config (`train --config`), validated as `train` does; or a table
    holding ``[augment]`` (or ``[base.augment]``) and perhaps a dataset. Its mistakes say the line."""
    from mnistlab._toml import load_toml, with_line

    doc = load_toml(path)
    base = doc["base"] if isinstance(doc.get("base"), dict) else None
    if is_experiment(doc):  # (the file already read)
        by_name = variant_configs(path, variant)
        chosen = list(by_name.values())
        if any(c.augment != chosen[0].augment for c in chosen):
            names = ", ".join(f'"{n}"' for n in by_name)  # quoted: a grid's names hold commas
            raise SpecError(f"{path}: its variants augment differently: give --variant (one of {names})")
        return _settings(chosen[0].augment), dataset or chosen[0].dataset
    if variant is not None:
        raise SpecError(f"{path}: --variant names a variant of an experiment file, and this is none")
    if base is None and "model" in doc:  # its dataset as `train` reads it (beside the file), or --dataset's
        cfg = build_run_config(path, flags={"dataset": dataset} if dataset else {})
        return _settings(cfg.augment), cfg.dataset
    table, at = (base, ("base",)) if base is not None else (doc, ())
    if "augment" not in table:
        raise SpecError(f"{path}: no [augment] (or [base.augment]) table")
    try:
        settings = parse_augment(table["augment"], source=str(path)).model_dump()
    except SpecError as exc:
        raise with_line(exc.within(*at), str(path), path.read_text(encoding="utf-8", errors="replace")) from None
    if dataset is None and table.get("dataset") is not None:  # a path in the file is relative to the file
        from mnistlab.data.userdata import data_beside

        dataset = data_beside(table["dataset"], path.parent)
    return settings, dataset


def _settings(augment: AugmentConfig | None) -> dict[str, Any]:
    """A config's augmentation as the settings show-augment's flags are laid over ({}: none)."""
    return augment.model_dump() if augment is not None else {}


@click.command("lr-find")
@click.option("--config", "config_file", type=PathArg(dir_okay=False, path_type=Path),
              help="Run config TOML, as `train --config` takes it (its schedule, callbacks, EMA, SWA and validation "
                   "left out).")
@click.option("--dataset", callback=dataset_arg, help="A dataset, as `train --dataset` takes it (default fashion-mnist).")
@click.option("--model", callback=model_arg, help="A model, as `train --model` takes it (default seed000-cnn).")
@click.option("--optimizer", help=f"{' '.join(OPTIMIZERS)} (default {setting_default('optimizer')})")
@click.option("--batch-size", type=int, help=f"Images per step (default {setting_default('batch_size')}).")
@click.option("--subset", type=IntRange(min=1), help="Train on the first N images.")
@click.option("--seed", type=int, help=f"Seed of the weights and batches (default {setting_default('seed')}).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Any other setting, as `train --set`.")
@click.option("--start-lr", type=float, default=1e-8, show_default=True, help="The rate of the first step.")
@click.option("--end-lr", type=float, default=1.0, show_default=True, help="The rate of the last step.")
@click.option("--steps", "num_steps", type=int, default=100, show_default=True,
              help="Batches (13 to 100000; the suggestion leaves out the first 10 and the last), the rate growing "
                   "geometrically from --start-lr to --end-lr.")
@click.option("--output", "-o", type=PathArg(dir_okay=False),
              help=f"Also draw the loss against the rate here ({FIGURE_FORMATS_SAID}).")
@weights_options
@store_option()
@data_dir_option()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: the suggestion and every step (rate, loss, smoothed loss) as one object.")
def lr_find_cmd(config_file: Path | None, settings: tuple[str, ...], start_lr: float, end_lr: float, num_steps: int,
                output: str | None, store: str | None, data_dir: Path | None, fmt: str, **flags: Any) -> None:
    """Suggest a learning rate: the range test of fastai's and Lightning's lr_find.

    A fresh model (or one started from --weights, to fine-tune) trains for --steps batches while the
    rate grows from --start-lr to --end-lr; the suggestion is the rate where the smoothed loss falls
    fastest (Lightning's). Nothing is recorded.

    \b
    mnistlab lr-find --dataset fashion-mnist --model seed000-cnn --subset 6000 -o lr.png
    """
    import json

    from mnistlab.lr_finder import LEFT_OUT, RangeTestInterrupted, check_range, left_out, lr_find, said

    check_range(start_lr, end_lr, num_steps, flags=True)  # (before the data is read)
    out = check_output(output, FIGURE_FORMATS) if output else None
    _start_weights(flags, store)
    cfg = build_run_config(config_file, settings, flags)
    if left_out(cfg):
        click.echo(f"lr-find: the test sets the rate at every batch and moves the weights themselves: the config's "
                   f"{LEFT_OUT} are left out", err=True)
    try:
        found = lr_find(config=cfg, start_lr=start_lr, end_lr=end_lr, num_steps=num_steps, data_dir=data_dir)
    except RangeTestInterrupted as stop:  # what ran is said and drawn, then the stop goes on (exit 130: helper-198)
        click.echo(f"{stop}: {said(stop.found)}", err=True)
        if out is not None and stop.found.lrs:
            save_figure(stop.found.plot(), out)
            click.echo(f"wrote {files.display_name(out)} (the steps that ran)", err=True)
        raise
    click.echo(json.dumps(found.to_dict()) if fmt == "json" else said(found))  # (before the figure: its reason too)
    if out is not None and found.lrs:
        save_figure(found.plot(), out)
        click.echo(f"wrote {files.display_name(out)}", err=fmt == "json")
    elif out is not None:
        click.echo(f"no figure written to {files.display_name(out)}: no step ran", err=True)


COMMANDS: list[click.Command] = [train_cmd, show_augment_cmd, lr_find_cmd]
