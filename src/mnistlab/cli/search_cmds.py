"""`mnistlab search / search-best`: an Optuna study from an experiment's [search] table (parsing only)."""

from __future__ import annotations

import dataclasses
import signal
from types import SimpleNamespace
from contextlib import ExitStack
from pathlib import Path

import click

from mnistlab.cli._common import (IntRange, PathArg, backend_and_store, backend_options, check_backend_flags,
                                  data_dir_option, jobs_option, open_store, status_said, store_flag, store_option,
                                  trains_here)
from mnistlab.cli.experiment_cmds import COMPARE_FORMATS, _notes_out, _rows_out
from mnistlab.cli._output import closed_output_stops, format_option, is_terminal, rich_console, stopped_by
from mnistlab.errors import OutputError, RunNotFinished, StoreError
from mnistlab.files import check_output_path, display_name, shell_word

_STORE = store_option()


@click.command("search")
@click.argument("experiment", type=PathArg(dir_okay=False))
@_STORE
@jobs_option("trials")
@click.option("--quick", is_flag=True, help="A small data subset, at most 2 epochs and 4 trials (a study of its own).")
@click.option("--dry-run", is_flag=True, help="Check the file, its data and the store's study; train nothing.")
@click.option("--trials", type=IntRange(1, None), default=None, metavar="N",
              help="The trials the study is to hold, in place of the file's `trials` (Keras Tuner's max_trials): "
                   "more than it has continues it.")
@data_dir_option(remote=True)
@backend_options("trials")
@format_option(COMPARE_FORMATS)
def search_cmd(experiment: str, store: str | None, jobs: int, quick: bool, dry_run: bool,  # noqa: PLR0913
               trials: int | None, data_dir: Path | None, backend: str | None, address: str | None,
               cpus_per_cell: float | None, gpus_per_cell: float | None, fmt: str) -> None:
    """Run (or resume) the Optuna study of an EXPERIMENT file's [search] table, then print the trials ranked.

    Each trial is a run in the store (variant trial-0007); the study is search.sqlite in the store
    folder, so a stopped search resumes where it stopped. Exits with status 1 when every trial failed.
    With --backend ray each trial is a Ray task (as many at once as the cluster has room for;
    --jobs does not apply): this process keeps the study and the store and answers the pruner.
    --dry-run checks what a search checks before its first trial and says what it would train.
    """
    from mnistlab.experiments import load_experiment

    exp = load_experiment(experiment)  # a mistake in the file said before torch is imported (helper-173: 6 s)
    if exp.search is None:
        exp.cells()  # not a search: says how to run it (or what is wrong)
        raise click.UsageError(f"{experiment} has no [search] table: train it with `mnistlab run {shell_word(experiment)}`")
    if trials is not None:  # (not part of the study's identity: the same study goes on)
        from mnistlab.search import MAX_TRIALS, grid_trials

        if trials > MAX_TRIALS:  # (as a file's `trials` is bounded: helper-249)
            raise click.BadParameter(f"{trials} is more than a study takes ({MAX_TRIALS:,})", param_hint="'--trials'")
        if exp.search.sampler == "grid":
            trials = grid_trials(exp.search.params, trials, "--trials")
        exp = dataclasses.replace(exp, search=dataclasses.replace(exp.search, trials=trials))
    check_backend_flags(backend, address, data_dir)
    if dry_run:  # (helper-207: only --quick, which trains, checked a search file)
        _dry_run(exp, experiment, store, data_dir, quick=quick, files_here=trains_here(exp.resources, backend))
        return
    from mnistlab.search import checked_base

    checked_base(exp, data_dir, files_here=trains_here(exp.resources, backend), quick=quick)  # before the store
    trial = SimpleNamespace(variant=f"{exp.name} (each trial)", cpus=None, gpus=None)  # the per-cell amounts
    runner, st = backend_and_store(exp.resources, [trial], store, backend=backend, address=address,
                                   cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell, jobs=jobs, unit="trials")
    _search(exp, st, runner, jobs=jobs, quick=quick, data_dir=data_dir, fmt=fmt)


def _search(exp, st, runner, *, jobs: int, quick: bool, data_dir: Path | None, fmt: str) -> None:  # noqa: ANN001
    """`search`'s study run in ``st`` (with ``runner``: Ray's, or None), its trials said as they end,
    then the ranking (:func:`~mnistlab.search.run_search`)."""
    from mnistlab.backends import close
    from mnistlab.comparison import compare, notes_below, resolve_experiment
    from mnistlab.execute import terminate_as_interrupt
    from mnistlab.experiments import study_name
    from mnistlab.live import LiveTable
    from mnistlab.search import run_search

    err, space = fmt != "table", exp.search
    name = study_name(exp.name, quick)
    table = LiveTable(rich_console(), st.root, name) if fmt == "table" and is_terminal() else None
    shown = ExitStack()

    def on_start(result) -> None:  # noqa: ANN001  the study opened fine (a changed table says only that)
        click.echo(_header(name, space, st.root), err=err)
        if table is not None:  # started now: its first frame has the plan (0/20 done, not 0/0)
            shown.enter_context(table)

    def on_trial(t) -> None:  # noqa: ANN001
        value = f", {space.metric} {t.value:.4f}" if t.value is not None else ""
        why, rest = status_said(t.state, t.message)  # "interrupted by Ctrl-C or a stop signal after 2 ...": the word once
        said = "; ".join(filter(None, (t.continued, rest)))
        line = f"  trial {t.number:4d}  {t.run_id or '-':10s}  {t.state}{value}{why}" + (f" ({said})" if said else "")
        if table is None:
            click.echo(line, err=err)
        else:  # the live table (trials done / running / left, the leader) says it; a line above it each trial
            table.live.console.print(line, markup=False, highlight=False)
            table.poke()

    with terminate_as_interrupt() as stop, closed_output_stops(stop), shown:  # SIGTERM stops a search as Ctrl-C does
        try:
            result = run_search(exp, st, jobs=jobs, quick=quick, data_dir=data_dir, on_trial=on_trial, runner=runner,
                                on_start=on_start)
        except KeyboardInterrupt:
            shown.close()  # the live table's last frame first, then the ranking below it
            _stopped(st, name, fmt, int(stop.signum or signal.SIGINT))
        finally:
            close(runner)
        if stop.came:  # a SIGTERM whose KeyboardInterrupt was swallowed (in a garbage collector's callback)
            shown.close()
            _stopped(st, name, fmt, int(stop.signum))
    _say_how_it_ended(result, space, err)
    _rows_out(rows := compare(st, result.study, notes=False), result.study, fmt)
    _notes_out(notes_below(st, resolve_experiment(st, result.study, run_ids=False), rows), fmt)  # (as compare's: helper-207)
    _no_result(st, result)


def _dry_run(exp, given: str, store: str | None, data_dir: Path | None, *, quick: bool,  # noqa: ANN001
             files_here: bool) -> None:
    """`search --dry-run`: the search's header, its distributions, and how many trials it would train
    (:func:`~mnistlab.search.plan_search`); nothing trained or written."""
    from mnistlab.search import param_said, plan_search
    from mnistlab.store import RunStore, default_root

    root = Path(store) if store else default_root()
    RunStore.check_root(root)
    plan = plan_search(exp, root, quick=quick, data_dir=data_dir, files_here=files_here)
    space, again = exp.search, f"mnistlab search {shell_word(given)}{' --quick' * quick}{store_flag(root)}"
    click.echo(_header(plan.study, space, root) + " (--dry-run: checked, nothing trained)")
    width = max(len(p.written or p.key) for p in space.params)
    for p in space.params:
        click.echo(f"  {p.written or p.key:{width}s}  {param_said(p)}")
    if not plan.states:
        click.echo(f"no study {plan.study} yet: `{again}` trains {plan.total} trial{'s' * (plan.total != 1)}")
        return
    held = ", ".join(f"{n} {'failed' if state == 'fail' else state}" for state, n in sorted(plan.states.items()))
    if plan.left:
        click.echo(f"study {plan.study} has {plan.counted} of its {plan.total} trials ({held}): `{again}` trains "
                   f"{plan.left} more")
    else:  # (as the search itself says it)
        click.echo(f"nothing to train: study {plan.study} has {plan.counted} trials (trials = {plan.total}; {held}); "
                   + _further(space, plan.counted))


def _say_how_it_ended(result, space, err: bool) -> None:  # noqa: ANN001
    """The lines above the ranking: trials asked again after a dead driver, a timeout reached, or
    nothing left to ask (a rerun of a study that has its trials, or more: trials lowered since)."""
    if result.resumed:
        click.echo(f"asked again: trials {', '.join(map(str, result.resumed))} (their driver had stopped)", err=err)
    if result.timed_out:
        click.echo(f"timeout: {space.timeout:g} s passed, so no trial was asked after it: {result.counted} of "
                   f"{result.total} trials; run it again to go on", err=err)
    elif not result.trials:
        click.echo(f"nothing to train: study {result.study} has {result.counted} trials (trials = {result.total})"
                   + (f"; {_further(space, result.counted)}" if result.counted >= result.total else ""), err=err)


def _further(space, counted: int) -> str:  # noqa: ANN001
    """How a study of ``counted`` trials searches further: more trials, or, a grid's points all tried, another grid."""
    from mnistlab.search import grid_size

    if space.sampler == "grid" and counted >= (size := grid_size(space.params)):
        return f"the grid's {size} points are all tried: widen the grid (a new study: name = \"...\") to search further"
    return "raise trials to search further"


def _no_result(st, result) -> None:  # noqa: ANN001
    """Exit status 1 (RunNotFinished) when every trial this run trained failed, or when the study
    has no complete trial (run again with nothing left to ask: still no result to give)."""
    states = [t.state for t in result.trials]
    if states and all(s == "failed" for s in states):
        raise RunNotFinished(f"all {len(states)} trials of {result.study} failed: see `mnistlab runs -e {result.study}`")
    recorded = [(r.metrics or {}).get("trial_state") for r in st.runs(experiment=result.study)]
    if recorded and "complete" not in recorded:
        raise RunNotFinished(f"no trial of {result.study} is complete ({len(recorded)} recorded): see "
                             f"`mnistlab runs -e {result.study}`")


def _stopped(st, name: str, fmt: str, signum: int) -> None:  # noqa: ANN001
    """Ctrl-C, SIGTERM or a closed output: the trials recorded so far, ranked (none before the
    first trial is recorded: no table), one line on stderr, exit 128 + signal."""
    from mnistlab.comparison import compare

    if st.runs(experiment=name):
        _rows_out(compare(st, name, notes=False), name, fmt)
    click.echo(f"{stopped_by(signum)}: the trials finished so far are recorded; "
               "run the same command again to resume the study", err=True)
    raise SystemExit(128 + signum) from None


def _header(name: str, space, root: Path) -> str:  # noqa: ANN001
    """The search's first line: its study, sampler, pruner, metric and store."""
    pruner = "no pruner" if space.pruner == "none" else f"{space.pruner} pruner"
    return f"search {name}: {space.sampler} sampler, {pruner}, {space.direction} {space.metric}, store {root}"


@click.command("search-best")
@click.argument("experiment")
@_STORE
@click.option("--output", "-o", type=PathArg(dir_okay=False), default=None,
              help="The experiment file to write (default: the TOML on stdout).")
@click.option("--force", is_flag=True, help="Overwrite an existing --output file (an experiment file may hold your edits, "
              "so it is never replaced unasked, where plots and exports, made again from the store, are).")
@click.option("--repeats", type=IntRange(1, 1000), default=3, show_default=True, help="Seeds the written file trains.")
@click.option("--quick", is_flag=True, help="With a search file: the best trial of its --quick study.")
def search_best_cmd(experiment: str, store: str | None, output: str | None, force: bool, repeats: int,
                    quick: bool) -> None:
    """Write the best complete trial of a search EXPERIMENT (a file or its name) as a plain
    experiment file, trained with `mnistlab run OUTPUT` over --repeats seeds (no -o: printed); a
    trial's run id writes that trial instead (a runner-up)."""
    from mnistlab.comparison import resolve_experiment
    from mnistlab.errors import SpecError
    from mnistlab.search import best_toml, best_trial, chance_warning, is_search, smoke_warning, write_best

    if output is not None:  # a folder, a FIFO, a store's records: refused before anything is read
        check_output_path(output)
        if Path(output).suffix.lower() != ".toml":  # it writes an experiment file: `run` reads .toml alone
            raise OutputError(f"cannot write {output!r}: search-best writes an experiment file, so the file name "
                              "must end in .toml")
    st = open_store(store)
    named = quick and not experiment.lower().endswith(".toml") and bool(st.runs(experiment=experiment))
    if quick and experiment.endswith("-quick") and st.runs(experiment=experiment):  # (said twice: the same study)
        named, quick = False, False
    if quick and not experiment.lower().endswith(".toml") and st.runs(experiment=f"{experiment}-quick"):
        ref, quick = resolve_experiment(st, f"{experiment}-quick"), False  # a search's name: its --quick study
    elif named:  # (helper-260, -263: the name's full study was given for --quick, unsaid)
        raise StoreError(f"{experiment} has no --quick study ({experiment}-quick) in {st.root}: `mnistlab search FILE "
                         "--quick` runs one; without --quick, the full study's best")
    else:
        ref = resolve_experiment(st, experiment, quick=quick)
    name = ref.recorded_as(quick=quick)  # (helper-173: --quick as compare's)
    runs = st.runs(experiment=name)
    chosen = ref.run if ref.run is not None and (ref.run.metrics or {}).get("trial") is not None else None
    if not runs:  # (helper-243: "is not a search ... `mnistlab compare NAME` ranks its variants", which failed too)
        raise StoreError(f"{name} has no trials yet: `mnistlab search FILE{' --quick' * quick}` runs them")
    if not is_search(runs):
        raise SpecError(f"{name} is not a search: its runs are not trials of a [search] table "
                        f"(`mnistlab compare {name}` ranks its variants)")
    if output is not None and Path(output).exists() and not force:
        raise SpecError(f"{output} exists: choose another --output, or add --force to overwrite it")
    if smoke := smoke_warning(runs, name):  # one line: the file written says it in two comment lines
        click.echo(f"warning: {' '.join(smoke)}", err=True)
    rec = best_trial(runs) if chosen is None else chosen  # (a trial's run id: that trial, helper-246)
    if chosen is not None and (chosen.metrics or {}).get("trial_state") != "complete":
        raise SpecError(f"run {chosen.run_id} is trial {chosen.metrics.get('trial')}, which is "
                        f"{chosen.metrics.get('trial_state') or chosen.status}, not complete: give a complete trial")
    if why := chance_warning(rec):
        click.echo(f"warning: {why}", err=True)
    if output is None:
        click.echo(best_toml(runs, name, repeats, chosen), nl=False)
        return
    path = write_best(runs, name, output, repeats, chosen)
    again = f"{shell_word(path)}{store_flag(st.root)}"
    click.echo(f"wrote {display_name(path)}: trial {rec.metrics['trial']} ({rec.run_id}), {rec.metrics['search_metric']} "
               f"{rec.metrics['search_value']:.4f}; train it with `mnistlab run {again}`")


COMMANDS: list[click.Command] = [search_cmd, search_best_cmd]
