"""Running experiments: nothing trains before every cell is valid, skipping, forcing, jobs, committees."""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from test_experiments import TINY, write

from mnistlab.callbacks import Callback
from mnistlab.cli import main
from mnistlab.errors import MnistlabError, SpecError, SpecWarning
from mnistlab.execute import (CellTask, claim_cells, committee_accuracy, record_cells, run_experiment,
                              train_cells)
from mnistlab.experiments import load_experiment
from mnistlab.live import cell_line
from mnistlab.run import train
from mnistlab.store import ENDED, RunStore
from mnistlab.trainer import CHECKPOINT_FILE, checkpoint_threads


def test_nothing_trains_when_a_later_variant_is_bad(tmp_path: Path, data_dir: Path) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "ok"\n[[variants]]\n"train.batch_size" = -1\n')
    with pytest.raises(SpecError, match="batch_size"):
        run_experiment(p, tmp_path / "store", data_dir=data_dir)
    assert RunStore(tmp_path / "store").runs() == []


def test_skip_finished_force_and_changed_cells(tmp_path: Path, data_dir: Path) -> None:
    text = TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n"train.lr" = 0.01\n'
    p = write(tmp_path, text)
    store = RunStore(tmp_path / "s")
    first = run_experiment(p, store, data_dir=data_dir)
    assert [o.skipped for o in first.outcomes] == [False, False]
    assert all(o.record.status == "finished" for o in first.outcomes)
    again = run_experiment(p, store, data_dir=data_dir)
    assert [o.skipped for o in again.outcomes] == [True, True] and len(store.runs()) == 2
    forced = run_experiment(p, store, data_dir=data_dir, force=True)
    assert [o.skipped for o in forced.outcomes] == [False, False] and len(store.runs()) == 4
    write(tmp_path, text.replace("0.01", "0.02"))
    changed = run_experiment(p, store, data_dir=data_dir)
    assert {o.cell.variant: o.skipped for o in changed.outcomes} == {"a": True, "b": False}
    rows = {r["variant"]: r for r in changed.rows}
    assert rows["a"]["n"] == 1 and rows["b"]["n"] == 1  # only the current cells' latest runs count


def test_committee_accuracy_math() -> None:
    rng = np.random.default_rng(3)
    members = [rng.dirichlet(np.ones(10), size=50).astype(np.float32) for _ in range(4)]
    labels = rng.integers(0, 10, size=50)
    manual = sum(m.astype(np.float64) for m in members) / 4
    assert committee_accuracy(members, labels) == float((manual.argmax(1) == labels).mean())
    # a committee can beat every member: two members, each right on a different half
    a = np.array([[0.9, 0.1], [0.4, 0.6]], np.float32)
    b = np.array([[0.4, 0.6], [0.1, 0.9]], np.float32)
    assert committee_accuracy([a, b], np.array([0, 1])) == 1.0
    assert committee_accuracy([a], np.array([0, 0])) == 0.5


def test_parallel_jobs_record_the_same_results(tmp_path: Path, data_dir: Path) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\nrepeats = 2\n')
    one = run_experiment(p, tmp_path / "one", data_dir=data_dir)
    two = run_experiment(p, tmp_path / "two", data_dir=data_dir, jobs=2)
    acc = lambda res: sorted((o.cell.seed, o.record.metrics["test_accuracy"]) for o in res.outcomes)  # noqa: E731
    assert acc(one) == acc(two)
    assert all(o.record.status == "finished" for o in two.outcomes)


@pytest.mark.parametrize("status, skipped", [("diverged", True), ("failed", False), ("interrupted", False)])
def test_which_earlier_outcomes_are_reused(tmp_path: Path, data_dir: Path, status: str, skipped: bool) -> None:
    exp = load_experiment(write(tmp_path, TINY))
    cell = exp.cells()[0]
    store = RunStore(tmp_path / "s")
    rid = store.start_run(experiment=exp.name, variant=cell.variant, seed=cell.seed, member=0, config=cell.config,
                          config_hash=cell.key)
    store.finish_run(rid, status=status, history=[], metrics={}, env={})
    res = run_experiment(exp, store, data_dir=data_dir)
    assert res.outcomes[0].skipped is skipped
    assert len(store.runs()) == (1 if skipped else 2)


# ------------------------------------------------------------- resuming an interrupted cell
class _CtrlCIn(Callback):
    """A user's Ctrl-C as epoch ``epoch`` (1-based) begins, or as it ends (``ends``: in its
    ``on_epoch_end``, its batches trained), as the trainer receives it."""

    def __init__(self, epoch: int, ends: bool = False) -> None:
        self.epoch, self.ends = epoch, ends

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        if epoch + 1 == self.epoch and not self.ends:
            raise KeyboardInterrupt

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if epoch + 1 == self.epoch and self.ends:
            raise KeyboardInterrupt


RESUMABLE = TINY.replace("epochs = 1", "epochs = 4").replace("subset = 120", "subset = 600")


def _one_cell(tmp_path: Path) -> tuple[Path, RunStore]:
    """An experiment of one four-epoch cell (variant "a") and an empty store for it."""
    return write(tmp_path, RESUMABLE + '[[variants]]\nname = "a"\n'), RunStore(tmp_path / "s")


def _interrupt_first_cell(exp_path: Path, store: RunStore, after: int, data_dir: Path,
                          threads: int = 0, ends: bool = False) -> tuple[str, Path]:
    """Train the experiment's first cell the way a sweep worker does (with ``threads``: a worker's
    share of the cores), stopped by Ctrl-C as epoch ``after + 1`` begins (the checkpoint holds
    ``after`` epochs), or as it ends (``ends``); returns its run id and checkpoint folder."""
    exp = load_experiment(exp_path)
    task = CellTask((exp.cells()[0],), str(store.root), str(data_dir), threads, done=())  # trained even if done before
    out, mine = claim_cells(store, task)
    folder = store.checkpoint_dir(task.cells[0].experiment, task.cells[0].variant, task.cells[0].key)
    results = train_cells(task, [0], store, [mine[0][1].run_id], callbacks=[_CtrlCIn(after + 1, ends)],
                          checkpoint_dir=folder)
    [(run_id, status)] = record_cells(out, mine, results)
    assert status == "interrupted"
    return run_id, folder


def test_an_interrupted_cell_resumes_where_it_stopped(tmp_path: Path, data_dir: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNISTLAB_CHECKPOINT_EVERY", "0")  # a checkpoint every epoch, as in a long run
    p, store = _one_cell(tmp_path)
    whole = run_experiment(p, tmp_path / "whole", data_dir=data_dir).outcomes[0].record
    stopped, folder = _interrupt_first_cell(p, store, after=2, data_dir=data_dir)
    assert (folder / CHECKPOINT_FILE).is_file()
    assert [h["epoch"] for h in store.get(stopped).history] == [1, 2]

    res = run_experiment(p, store, data_dir=data_dir)
    resumed = res.outcomes[0].record
    assert resumed.run_id != stopped and resumed.status == "finished"
    assert resumed.metrics["resumed_from_epoch"] == 2 and whole.metrics["resumed_from_epoch"] == 0
    # the same run as one that was never interrupted: its history, test score and predictions
    strip = lambda h: [{k: v for k, v in e.items() if k not in ("epoch_seconds", "images_per_second")} for e in h]  # noqa: E731
    assert strip(resumed.history) == strip(whole.history) and len(resumed.history) == 4
    assert resumed.metrics["test_accuracy"] == whole.metrics["test_accuracy"]
    np.testing.assert_array_equal(store.load_predictions(resumed.run_id),
                                  RunStore(tmp_path / "whole").load_predictions(whole.run_id))
    assert not folder.exists()  # the cell ended: its checkpoint is gone
    assert store.get(stopped).status == "interrupted"  # the stopped run's record stays as it was
    assert f": finished, resumed after epoch 2 of run {stopped}, test acc" in cell_line(resumed)  # (helper-171)
    assert resumed.metrics["resumed_from_run"] == stopped and "resumed_from_run" not in whole.metrics


def test_a_cell_stopped_inside_an_epoch_continues_after_its_last_checkpointed_batch(
        tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNISTLAB_CHECKPOINT_EVERY", "0.000001")  # a checkpoint after every batch (10 an epoch)
    p, store = _one_cell(tmp_path)
    whole = run_experiment(p, tmp_path / "whole", data_dir=data_dir).outcomes[0].record
    stopped, folder = _interrupt_first_cell(p, store, after=2, data_dir=data_dir, ends=True)  # as epoch 3 ends
    rec = store.get(stopped)
    assert len(rec.history) == 3  # its weights trained epoch 3; the checkpoint holds it but for its end
    assert (rec.metrics["checkpoint_epoch"], rec.metrics["checkpoint_step"]) == (2, 9)  # after batch 9 of 10
    assert cell_line(rec).endswith("(run it again to continue from epoch 3, batch 10)")
    resumed = run_experiment(p, store, data_dir=data_dir).outcomes[0].record
    assert resumed.status == "finished" and resumed.metrics["resumed_from_step"] == 9
    assert f": finished, resumed in epoch 3 after batch 9 of run {stopped}, test acc" in cell_line(resumed)
    strip = lambda h: [{k: v for k, v in e.items() if k not in ("epoch_seconds", "images_per_second")} for e in h]  # noqa: E731
    assert strip(resumed.history) == strip(whole.history)
    assert resumed.metrics["test_accuracy"] == whole.metrics["test_accuracy"] and not folder.exists()


class _ProgressSeen(Callback):
    """What the store's progress row of ``run_id`` holds when each epoch begins."""

    def __init__(self, store: RunStore, run_id: str) -> None:
        self.store, self.run_id, self.seen = store, run_id, {}

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.seen[epoch + 1] = [h["epoch"] for h in self.store.get(self.run_id).history]


def test_a_resumed_cell_shows_its_epochs_at_once_and_says_where_it_continues(tmp_path: Path, data_dir: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNISTLAB_CHECKPOINT_EVERY", "0")
    p, store = _one_cell(tmp_path)
    stopped, _ = _interrupt_first_cell(p, store, after=2, data_dir=data_dir)
    assert store.get(stopped).metrics["checkpoint_epoch"] == 2
    assert cell_line(store.get(stopped)).endswith("interrupted after 2 of 4 epochs, no result yet "
                                                  "(run it again to continue from epoch 3)")
    task = CellTask((load_experiment(p).cells()[0],), str(store.root), str(data_dir))
    out, mine = claim_cells(store, task)
    seen = _ProgressSeen(store, mine[0][1].run_id)
    record_cells(out, mine, train_cells(task, [0], store, [seen.run_id], callbacks=[seen],
                                        checkpoint_dir=store.checkpoint_dir(task.cells[0].experiment, "a", task.cells[0].key)))
    assert seen.seen[3] == [1, 2]  # `mnistlab watch` sees epoch 2 of 4 before epoch 3 ends
    assert seen.seen[4] in ([1, 2], [1, 2, 3])  # epoch 3 too where PROGRESS_EVERY_S passed since
    assert store.get(seen.run_id).status == "finished"

    monkeypatch.setenv("MNISTLAB_CHECKPOINT_EVERY", "3600")
    early, folder = _interrupt_first_cell(p, RunStore(tmp_path / "s2"), after=2, data_dir=data_dir)
    assert RunStore(tmp_path / "s2").get(early).metrics["checkpoint_epoch"] == 0 and not folder.exists()
    assert cell_line(RunStore(tmp_path / "s2").get(early)).endswith(
        "(run it again to train it from the start: it stopped before its first checkpoint)")


def test_a_cell_cancelled_without_a_word_back_says_where_its_checkpoint_continues(
        tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """helper-115: a Ray cell stopped by Ctrl-C (its task cancelled: no result comes back, the driver
    records it) said "no result yet (run it again to train it)" though its worker had left a
    checkpoint after epoch 2, which the next run continued from."""
    monkeypatch.setenv("MNISTLAB_CHECKPOINT_EVERY", "0")
    p, store = _one_cell(tmp_path)
    _interrupt_first_cell(p, store, after=2, data_dir=data_dir)  # leaves the cell's checkpoint after epoch 2
    task = CellTask((load_experiment(p).cells()[0],), str(store.root), str(data_dir))
    _, mine = claim_cells(store, task)
    [(_, recorder)] = mine
    assert recorder.fail(KeyboardInterrupt()) == "interrupted"  # as RayRunner records a cancelled task
    rec = store.get(recorder.run_id)
    assert rec.metrics == {"checkpoint_epoch": 2}
    assert cell_line(rec).endswith("(run it again to continue from epoch 3)"), cell_line(rec)


def test_a_cell_whose_run_was_deleted_while_it_trained_leaves_no_checkpoint(tmp_path: Path, data_dir: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """helper-123: `mnistlab rm` said "the next `mnistlab run` trains that cell afresh", but the
    worker went on writing checkpoints, and the next run resumed after epoch 5."""
    import threading

    from mnistlab.execute import execute_cell

    monkeypatch.setenv("MNISTLAB_CHECKPOINT_EVERY", "0")  # a checkpoint at every epoch's end
    p, store = _one_cell(tmp_path)
    task = CellTask((load_experiment(p).cells()[0],), str(store.root), str(data_dir), done=())
    deleted: list[str] = []

    def rm_when_running() -> None:  # as an rm of another host's would (here rm refuses a live run of another
        # process; this thread shares the trainer's process, which rm lets delete its own runs)
        watcher, deadline = RunStore(store.root), time.monotonic() + 60
        while not deleted and time.monotonic() < deadline:
            if running := [r.run_id for r in watcher.runs() if r.status == "running"]:
                deleted.extend(watcher.rm(running).run_ids)
            time.sleep(0.005)

    rm = threading.Thread(target=rm_when_running)
    rm.start()
    [(run_id, status)] = execute_cell(task)
    rm.join()
    assert deleted == [run_id] and status == "deleted"
    assert not store.checkpoint_dir(task.cells[0].experiment, "a", task.cells[0].key).exists()
    again = run_experiment(p, store, data_dir=data_dir).outcomes[0].record
    assert again.metrics["resumed_from_epoch"] == 0 and len(again.history) == 4  # afresh, as rm said


def test_a_cell_another_driver_gave_up_is_trained_before_the_sweep_ends(tmp_path: Path, data_dir: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """helper-123: two `mnistlab run` of one file; the second, stopped, left the cell it held
    interrupted; the first had passed it as "being trained by another process", never trained it,
    and ended 0 with a row of n=1."""
    import subprocess
    import sys

    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n"train.lr" = 0.01\n')
    store = RunStore(tmp_path / "s")
    other = subprocess.Popen([sys.executable, "-c", "import sys, time; from mnistlab.experiments import load_experiment; "
                              "from mnistlab.run import Recorder; from mnistlab.store import RunStore; "
                              f"c = load_experiment({str(p)!r}).cells()[0]; r, rid = Recorder.claim(RunStore("
                              f"{str(store.root)!r}), experiment=c.experiment, variant=c.variant, config=c.config, "
                              "seed=c.seed); print(rid, flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    held = other.stdout.readline().strip()

    def stop_the_other(outcome: Any, rows: Any) -> None:  # as its user's Ctrl-C, once this sweep has passed its cell
        if outcome.skipped and outcome.record.run_id == held:
            other.kill()
            other.wait()
    try:
        result = run_experiment(p, store, data_dir=data_dir, on_cell=stop_the_other)
    finally:
        other.kill()
        other.wait()
    assert store.get(held).status == "interrupted"
    mine = [o.record for o in result.outcomes if o.cell.variant == "a"]
    assert [(r.status, r.run_id != held) for r in mine] == [("finished", True)]  # trained here after all
    assert {r["variant"]: r["n"] for r in result.rows} == {"a": 1, "b": 1} and not result.elsewhere
    lines = [line for line in capsys.readouterr().out.splitlines() if line.lstrip().startswith("[")]
    assert [line.split()[0] for line in lines] == ["[1/2]", "[2/2]", "[1/2]"], lines  # the cell keeps its number


def test_a_database_lost_while_a_sweep_runs_is_rebuilt_and_the_sweep_goes_on(tmp_path: Path, data_dir: Path) -> None:
    """helper-124: runs.sqlite deleted while a cell trained stopped the sweep after that cell (`empty
    or missing ... mnistlab reindex`), its other cells untrained, no table."""
    from mnistlab.errors import ReportWarning

    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n"train.lr" = 0.01\n'
                              '[[variants]]\nname = "c"\n"train.lr" = 0.02\n')
    store = RunStore(tmp_path / "s")

    def lose(outcome: Any, rows: Any) -> None:  # after each cell, as a user's `rm runs.sqlite*` between two
        for f in store.root.glob("runs.sqlite*"):
            f.unlink()
    with pytest.warns(ReportWarning, match="runs.sqlite was lost while the sweep ran: rebuilt from the run folders"):
        result = run_experiment(p, store, data_dir=data_dir, on_cell=lose)
    assert [o.record.status for o in result.outcomes] == ["finished"] * 3
    assert {r["variant"]: r["n"] for r in result.rows} == {"a": 1, "b": 1, "c": 1}
    assert (store.root / "runs.sqlite").is_file()  # rebuilt after the last cell too
    assert sorted(r.variant for r in RunStore(store.root).runs()) == ["a", "b", "c"]


def test_a_database_overwritten_by_a_truncated_copy_while_a_sweep_runs_is_rebuilt(tmp_path: Path, data_dir: Path,
                                                                                   truncated_store_head: bytes) -> None:
    """helper-156: runs.sqlite overwritten mid-sweep by the first 5,000 bytes of another store's
    stopped the sweep (`not a mnistlab run store ... reindex`); rebuilt as a lost one is, the
    damaged file kept aside, and the sweep goes on with every cell recorded."""
    from mnistlab.errors import ReportWarning

    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n"train.lr" = 0.01\n')
    head = truncated_store_head
    store = RunStore(tmp_path / "s")

    def overwrite(outcome: Any, rows: Any) -> None:  # after the first cell: `head -c 5000 other > runs.sqlite`
        if outcome.cell.variant == "a":
            (store.root / "runs.sqlite").write_bytes(head)
    with pytest.warns(ReportWarning, match="runs.sqlite was damaged while the sweep ran: kept aside as runs.sqlite.damaged-"):
        result = run_experiment(p, store, data_dir=data_dir, on_cell=overwrite)
    assert [o.record.status for o in result.outcomes] == ["finished"] * 2
    assert sorted(r.variant for r in RunStore(store.root).runs()) == ["a", "b"]
    assert [f.read_bytes() for f in store.root.glob("runs.sqlite.damaged-*[0-9]")] == [head]  # never deleted


def test_a_cell_without_a_recent_checkpoint_starts_over(tmp_path: Path, data_dir: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # CHECKPOINT_EVERY (60 s) has not passed in these second-long epochs: nothing was written
    monkeypatch.delenv("MNISTLAB_CHECKPOINT_EVERY", raising=False)
    p, store = _one_cell(tmp_path)
    _, folder = _interrupt_first_cell(p, store, after=2, data_dir=data_dir)
    assert not (folder / CHECKPOINT_FILE).exists()
    resumed = run_experiment(p, store, data_dir=data_dir).outcomes[0].record
    assert resumed.metrics["resumed_from_epoch"] == 0 and len(resumed.history) == 4


class _SlowEpochs(Callback):
    """Epochs of about ``seconds`` each (a real one's length, in a test's tiny cell)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        time.sleep(self.seconds)


def test_a_cell_of_epochs_long_enough_keeps_a_checkpoint_before_the_minute(tmp_path: Path, data_dir: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """New-user finding (helper-105): a cell of 9-second epochs stopped in its second lost its first,
    the checkpoint being due once a minute; an epoch's end writes one as soon as the write costs
    at most CHEAP_CHECKPOINT of the training since the last (a guess of FIRST_CHECKPOINT_SECONDS
    until one is timed): here after epoch 2 (3 s), not after epoch 1 (1.5 s)."""
    from mnistlab.trainer import CHEAP_CHECKPOINT, FIRST_CHECKPOINT_SECONDS

    assert 1.5 * CHEAP_CHECKPOINT < FIRST_CHECKPOINT_SECONDS <= 3.0 * CHEAP_CHECKPOINT  # what the epochs below rely on
    monkeypatch.delenv("MNISTLAB_CHECKPOINT_EVERY", raising=False)  # the default: a minute
    p, store = _one_cell(tmp_path)
    task = CellTask((load_experiment(p).cells()[0],), str(store.root), str(data_dir), 0, done=())
    out, mine = claim_cells(store, task)
    folder = store.checkpoint_dir(task.cells[0].experiment, "a", task.cells[0].key)
    [(run_id, status)] = record_cells(out, mine, train_cells(task, [0], store, [mine[0][1].run_id],
                                                             callbacks=[_SlowEpochs(1.5), _CtrlCIn(3)],
                                                             checkpoint_dir=folder))
    assert status == "interrupted" and store.get(run_id).metrics["checkpoint_epoch"] == 2
    assert cell_line(store.get(run_id)).endswith("(run it again to continue from epoch 3)")


def test_a_sweeps_result_and_its_interruption_count_interrupted_cells_apart(tmp_path: Path, data_dir: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """helper-117/118: an ExperimentResult's repr printed every record, a Dataset's its arrays, a
    RunStore's an address; SweepInterrupted's "1 cell ended in it" counted a cell it interrupted."""
    from mnistlab.datasets import load_dataset
    from mnistlab.execute import CellOutcome, ExperimentResult, SweepInterrupted

    monkeypatch.setenv("MNISTLAB_CHECKPOINT_EVERY", "0")
    p, store = _one_cell(tmp_path)
    stopped, _ = _interrupt_first_cell(p, store, after=1, data_dir=data_dir)
    result = run_experiment(p, store, data_dir=data_dir)  # the stopped cell, continued
    assert repr(result) == "ExperimentResult('exp', 1 cell: 1 trained, 1 row)"
    exp = load_experiment(p)
    cut = ExperimentResult(exp, [CellOutcome(exp.cells()[0], store.get(stopped), False), *result.outcomes])
    assert str(SweepInterrupted(cut)).startswith("sweep exp stopped: 1 cell ended in it, 1 interrupted, recorded")
    assert cut.counts() == "1 trained, 1 interrupted" and ExperimentResult(exp).counts() == "no cells"
    assert repr(store) == f"RunStore({str(store.root.resolve())!r})"
    assert repr(RunStore(store.root, create=False)) == repr(store)
    assert repr(load_dataset("mnist", data_dir)) == ("Dataset('mnist', train (60000, 28, 28) uint8, "
                                                     "test (10000, 28, 28) uint8, 10 classes)")


def test_run_experiment_prints_a_line_per_cell_in_python_unless_asked_not_to(tmp_path: Path, data_dir: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """helper-117: run_experiment printed nothing in a notebook, through minutes of training."""
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\ntrain = { optimizer = "sgd" }\n')
    with pytest.raises(SpecError, match='^unknown progress mode "cells"; use auto, bar, lines or none'):
        run_experiment(p, tmp_path / "s", data_dir=data_dir, progress="cells")  # train()'s words (helper-120)
    run_experiment(p, tmp_path / "s", data_dir=data_dir)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(re.match(rf"\s*\[{i}/2\] [0-9a-f]{{10}}\s+{v}\s+seed 0: finished, test acc \d", line)
                                   for i, v, line in zip((1, 2), "ab", lines)), lines
    run_experiment(p, tmp_path / "s", data_dir=data_dir, progress="none")
    assert capsys.readouterr().out == ""


def test_force_and_a_broken_checkpoint_train_from_the_first_epoch(tmp_path: Path, data_dir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNISTLAB_CHECKPOINT_EVERY", "0")
    p, store = _one_cell(tmp_path)
    _, folder = _interrupt_first_cell(p, store, after=2, data_dir=data_dir)
    forced = run_experiment(p, store, data_dir=data_dir, force=True).outcomes[0].record
    assert forced.metrics["resumed_from_epoch"] == 0 and not folder.exists()

    store = RunStore(tmp_path / "s2")
    _, folder = _interrupt_first_cell(p, store, after=1, data_dir=data_dir)
    ckpt = folder / CHECKPOINT_FILE
    ckpt.write_bytes(ckpt.read_bytes()[:100])  # truncated, as a full disk would leave it
    with pytest.warns(SpecWarning, match="not a readable mnistlab checkpoint.*trains from its first epoch"):
        fresh = run_experiment(p, store, data_dir=data_dir).outcomes[0].record
    assert fresh.status == "finished" and fresh.metrics["resumed_from_epoch"] == 0 and not folder.exists()
    assert any("trains from its first epoch" in w for w in fresh.metrics["warnings"])  # kept (helper-180: said outside)

    store = RunStore(tmp_path / "s3")  # helper-156: a folder named last.pt was "deleted", kept, and failed the cell
    [cell] = load_experiment(p).cells()  # on every run
    (store.checkpoint_dir(cell.experiment, cell.variant, cell.key) / CHECKPOINT_FILE / "x").mkdir(parents=True)
    with pytest.warns(SpecWarning, match="not a regular file, so not a checkpoint: it is deleted and the cell trains"):
        fresh = run_experiment(p, store, data_dir=data_dir).outcomes[0].record
    assert fresh.status == "finished" and fresh.metrics["resumed_from_epoch"] == 0
    assert not store.checkpoint_dir(cell.experiment, cell.variant, cell.key).exists()


def test_cells_keep_separate_checkpoints_and_rm_e_deletes_them(tmp_path: Path, data_dir: Path) -> None:
    # two variants with the same config, and the same config in another experiment: three folders
    p = write(tmp_path, RESUMABLE + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n')
    q = write(tmp_path, RESUMABLE.replace("[base]", 'name = "other"\n[base]') + '[[variants]]\nname = "a"\n', "q.toml")
    store = RunStore(tmp_path / "s")
    cells = load_experiment(p).cells() + load_experiment(q).cells()
    assert cells[0].key == cells[1].key == cells[2].key
    folders = {store.checkpoint_dir(c.experiment, c.variant, c.key) for c in cells}
    assert len(folders) == 3
    for f in folders:
        f.mkdir(parents=True)
    removal = store.rm(None, experiment=cells[0].experiment)
    assert removal.run_ids == [] and removal.checkpoints == 0  # folders without a checkpoint file held none
    assert [f.exists() for f in sorted(folders)] == [f.parent.name != store.checkpoint_dir(
        cells[0].experiment, "a", cells[0].key).parent.name for f in sorted(folders)]


def _cell_checkpoints(store: RunStore) -> list[Path]:
    """The checkpoint files a store keeps for its sweep cells (checkpoints/<experiment>/<cell>/last.pt)."""
    return sorted(store.root.glob(f"checkpoints/*/*/{CHECKPOINT_FILE}"))


def test_rm_e_says_how_many_checkpoints_it_deleted(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MNISTLAB_CHECKPOINT_EVERY", "0")
    store = RunStore(tmp_path / "s")
    for variant in ("a", "b"):  # two stopped cells of experiment "two"
        exp = write(tmp_path, f'name = "two"{RESUMABLE}[[variants]]\nname = "{variant}"\n', f"{variant}.toml")
        _interrupt_first_cell(exp, store, after=1, data_dir=data_dir)
    (store.root / "checkpoints" / "not-a-cell.txt").write_text("")  # odd contents elsewhere count for nothing
    assert len(_cell_checkpoints(store)) == 2
    assert main(["rm", "-e", "two", "--store", str(store.root), "--dry-run"]) == 0  # (helper-254: left unsaid)
    assert capsys.readouterr().out == ("would delete all 2 runs of two (2 variants) with their files; 2 checkpoints would "
                                       "be deleted too (the next `mnistlab run` would train those cells afresh) "
                                       "(--dry-run: nothing deleted)\n")
    assert len(_cell_checkpoints(store)) == 2
    one = store.runs(experiment="two")[0].run_id
    assert main(["rm", one, "--store", str(store.root), "--dry-run"]) == 0
    assert "; 1 checkpoint would be deleted too" in capsys.readouterr().out and len(_cell_checkpoints(store)) == 2
    assert main(["rm", "-e", "two", "--store", str(store.root)]) == 0
    assert capsys.readouterr().out == ("deleted 2 runs of two; 2 checkpoints deleted too (the next `mnistlab run` trains "
                                       "those cells afresh)\n")
    assert _cell_checkpoints(store) == []


def test_a_cell_resumes_with_the_thread_count_it_was_stopped_with(tmp_path: Path, data_dir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # stopped as one of two workers (1 thread each), resumed alone (it could have every core): it keeps 1
    monkeypatch.setenv("MNISTLAB_CHECKPOINT_EVERY", "0")
    p, store = _one_cell(tmp_path)
    stopped, folder = _interrupt_first_cell(p, store, after=2, data_dir=data_dir, threads=1)
    assert store.get(stopped).env["threads"] == 1 and checkpoint_threads(folder / CHECKPOINT_FILE) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpecWarning)  # no "the checkpoint was written with 1 CPU thread(s)"
        resumed = run_experiment(p, store, data_dir=data_dir).outcomes[0].record
    assert resumed.metrics["resumed_from_epoch"] == 2 and resumed.env["threads"] == 1
    assert resumed.config["train"]["threads"] == 1
    # a count mnistlab chose itself (it follows the load) is not carried over, nor is a damaged file's
    _, folder = _interrupt_first_cell(p, RunStore(tmp_path / "s2"), after=1, data_dir=data_dir, threads=0)
    assert checkpoint_threads(folder / CHECKPOINT_FILE) is None
    (folder / CHECKPOINT_FILE).write_bytes(b"PK\x03\x04 truncated")
    assert checkpoint_threads(folder / CHECKPOINT_FILE) is None and checkpoint_threads(folder / "none.pt") is None


def test_deleting_a_cells_latest_run_deletes_its_checkpoint(tmp_path: Path, data_dir: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MNISTLAB_CHECKPOINT_EVERY", "0")
    p, store = _one_cell(tmp_path)
    older, folder = _interrupt_first_cell(p, store, after=1, data_dir=data_dir)
    stopped, _ = _interrupt_first_cell(p, store, after=3, data_dir=data_dir)  # resumed, then stopped again
    assert store.get(stopped).metrics["resumed_from_epoch"] == 1 and len(_cell_checkpoints(store)) == 1
    assert main(["rm", older, "--store", str(store.root)]) == 0  # tidying an old stop keeps the cell's resume point
    assert capsys.readouterr().out == "deleted 1 run\n"
    assert (folder / CHECKPOINT_FILE).is_file()
    assert main(["rm", "-s", "interrupted", "--dry-run", "--store", str(store.root)]) == 0  # (helper-206: unsaid)
    assert (f"would delete 1 run (status interrupted); with its checkpoint too, {stopped} (the next run trains it "
            "afresh):\n") in capsys.readouterr().out
    assert main(["rm", stopped[:8], "--store", str(store.root)]) == 0
    assert capsys.readouterr().out == ("deleted 1 run; 1 checkpoint deleted too (the next `mnistlab run` trains "
                                       "that cell afresh)\n")
    assert not folder.exists() and _cell_checkpoints(store) == []
    again = run_experiment(p, store, data_dir=data_dir).outcomes[0].record
    assert again.metrics["resumed_from_epoch"] == 0 and not folder.parent.exists()  # no empty folder left


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf", "1e999"])
def test_a_bad_checkpoint_interval_is_refused_before_anything_trains(tmp_path: Path, data_dir: Path, value: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNISTLAB_CHECKPOINT_EVERY", value)
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n')
    with pytest.raises(SpecError, match="MNISTLAB_CHECKPOINT_EVERY: expected seconds"):
        run_experiment(p, tmp_path / "s", data_dir=data_dir)
    assert not (tmp_path / "s" / "runs.sqlite").exists() or RunStore(tmp_path / "s").runs() == []


@pytest.mark.parametrize("damage, says", [
    (lambda st: st.update(epochs_done=99), "damaged checkpoint: it says 99 epochs done but holds the history of 2"),
    (lambda st: st.pop("rng"), "damaged checkpoint: 'rng' is missing"),
    (lambda st: st["model"].update({k: v[:, :3] for k, v in st["model"].items() if v.ndim == 2}),
     "the checkpoint does not match this model: Error(s) in loading state_dict"),
    (lambda st: st.update(callbacks=["not a dict"]), "the checkpoint does not match this model"),
], ids=["epochs", "missing", "shapes", "callbacks"])
def test_a_damaged_checkpoint_is_refused_and_the_cell_starts_over(tmp_path: Path, data_dir: Path, damage: Any,
                                                                  says: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNISTLAB_CHECKPOINT_EVERY", "0")
    p, store = _one_cell(tmp_path)
    _, folder = _interrupt_first_cell(p, store, after=2, data_dir=data_dir)
    state = torch.load(folder / CHECKPOINT_FILE, weights_only=True)
    damage(state)
    torch.save(state, folder / CHECKPOINT_FILE)
    with pytest.warns(SpecWarning, match=re.escape(says)):
        fresh = run_experiment(p, store, data_dir=data_dir).outcomes[0].record
    assert fresh.status == "finished" and fresh.metrics["resumed_from_epoch"] == 0 and len(fresh.history) == 4


def test_a_checkpoint_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "afile").write_text("")
    with pytest.warns(SpecWarning, match=r"cannot write the checkpoint \(.*afile is a file, not a folder\); "
                                         "training goes on") as caught:
        run = train("mnist", {"dense": [8]}, epochs=3, subset=120, data_dir=data_dir, progress="none",
                    checkpoint_dir=tmp_path / "afile" / "ck")
    assert run.status == "finished" and len(run.history) == 3
    assert sum("cannot write the checkpoint" in str(w.message) for w in caught) == 1  # said once, not per epoch


def test_a_stop_before_any_cell_trains_is_the_sweep_s_stop(tmp_path: Path, data_dir: Path) -> None:
    """Ctrl-C while the sweep waits for a killed driver's workers to record (up to a minute): a
    SweepInterrupted, as a stop during the cells (the CLI said it came "after the cells ... none left")."""
    import json
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import threading

    from mnistlab.execute import SweepInterrupted
    from mnistlab.live import _plan_path, write_plan

    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n')
    store = RunStore(tmp_path / "s")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a driver that was killed
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # its worker, still recording
    try:
        write_plan(store.root, "exp", [("a", "k")])
        plan = json.loads(_plan_path(store.root, "exp").read_text())
        _plan_path(store.root, "exp").write_text(json.dumps({**plan, "pid": gone.pid}))
        rid = store.start_run(experiment="exp", variant="a", seed=0, member=0, config={"dataset": "mnist"},
                              config_hash="k")
        with sqlite3.connect(store.root / "runs.sqlite") as con:
            con.execute("UPDATE runs SET pid = ? WHERE run_id = ?", (worker.pid, rid))
        threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        with pytest.raises(SweepInterrupted) as stopped:
            run_experiment(p, store, data_dir=data_dir)
        assert stopped.value.result.outcomes == [] and store.get(rid).status == "running"  # nothing trained
        assert str(stopped.value) == ("sweep exp stopped: 0 cells ended in it, recorded (.result holds them); run it "
                                      "again to train the rest")  # helper-117: a notebook's traceback said nothing
    finally:
        worker.kill()
        worker.wait()


def _workers() -> list[int]:
    """The pids of this process's pool workers (spawned, the resource tracker aside)."""
    import os

    found = []
    for entry in os.listdir("/proc"):
        try:
            stat = open(f"/proc/{entry}/stat").read()
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
        except OSError:
            continue
        if entry.isdigit() and int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"spawn_main" in cmdline \
                and b"resource_tracker" not in cmdline:
            found.append(int(entry))
    return found


def _signal_a_worker(store: Path, sig: int) -> None:
    """Once two cells of the sweep recording into ``store`` train, send ``sig`` to one of its workers."""
    import os
    import time

    mine = RunStore(store)  # (a store's connection is its thread's)
    for _ in range(600):
        time.sleep(0.1)
        if len(mine.runs(status="running")) == 2 and _workers():
            time.sleep(1.0)
            os.kill(_workers()[0], sig)
            return


def test_a_killed_worker_loses_its_cell_the_sweep_goes_on_and_no_run_stays_running(tmp_path: Path, data_dir: Path,
                                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """kill -9 of a --jobs worker (the out-of-memory killer) gave a BrokenProcessPool traceback and
    left the other worker's run "running" (store attack, session 22)."""
    import signal
    import threading

    p = write(tmp_path, TINY.replace("epochs = 1", "epochs = 300").replace("subset = 120", "subset = 600")
              + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n"train.lr" = 0.003\n')
    store = RunStore(tmp_path / "s")

    threading.Thread(target=_signal_a_worker, args=(tmp_path / "s", signal.SIGKILL), daemon=True).start()
    code = main(["run", str(p), "--store", str(store.root), "--data-dir", str(data_dir), "--jobs", "2"])
    out, err = capsys.readouterr()
    # helper-167: the sweep ended there, and the healthy cell's run read "interrupted by Ctrl-C": it goes on in a
    # new pool; the killed one's run stays interrupted, said once the table is printed
    [killed] = [r for r in store.runs() if r.message == ENDED]
    assert code == 1 and "Traceback" not in err, err
    assert (f"error: 1 run of exp ({killed.run_id}) lost its worker process as it trained (killed: by the system for "
            "lack of memory, or kill -9?), recorded interrupted: run the same command again to train it (fewer --jobs "
            "need less memory)") in err, err
    other = [r for r in store.runs() if r.variant != killed.variant]
    assert other[-1].status == "finished" and all(r.status == "interrupted" for r in other[:-1]), other
    assert not store.runs(status="running") and "\nexp\n" in f"\n{out}"  # the table, printed


def test_a_signal_sent_to_one_worker_is_said_so_not_as_this_commands_interrupt(tmp_path: Path, data_dir: Path,
                                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """helper-167: `kill` of one --jobs worker stopped the sweep as "interrupted by SIGINT" (exit 130),
    though no one had stopped the command."""
    import signal
    import threading

    p = write(tmp_path, TINY.replace("epochs = 1", "epochs = 300").replace("subset = 120", "subset = 600")
              + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n"train.lr" = 0.003\n')
    store = RunStore(tmp_path / "s")
    threading.Thread(target=_signal_a_worker, args=(tmp_path / "s", signal.SIGTERM), daemon=True).start()
    with pytest.raises(SystemExit) as exited:  # (as the console script ends: the command's own exit status)
        main(["run", str(p), "--store", str(store.root), "--data-dir", str(data_dir), "--jobs", "2"])
    err = capsys.readouterr().err
    said = "stopped because a worker process was told to stop (a signal sent to it alone, not to this command)"
    assert exited.value.code == 1 and f"{said}: 0 of 2 runs of exp finished" in err and "SIGINT" not in err, err
    assert not store.runs(status="running")


def test_a_run_two_variants_share_trains_once_and_is_recorded_under_both(tmp_path: Path, data_dir: Path, capsys) -> None:
    """A committee of the plain variant's config repeats its seed 0: one run, recorded under each."""
    p = write(tmp_path, TINY + '[[variants]]\nname = "plain"\n[[variants]]\nname = "comm"\ncommittee = 3\n')
    store = RunStore(tmp_path / "s")
    result = run_experiment(p, store, data_dir=data_dir)
    trained = [o for o in result.outcomes if not o.skipped]
    assert [(o.cell.variant, o.cell.member) for o in trained] == [("plain", 0), ("comm", 1), ("comm", 2)]
    [again] = [o.record for o in result.outcomes if o.skipped]
    plain = trained[0].record
    assert (again.variant, again.member, again.seed, again.config_hash) == ("comm", 0, 0, plain.config_hash)
    assert again.env["same_run_as"] == plain.run_id and again.metrics == plain.metrics and again.status == "finished"
    assert again.history == plain.history and f"run {plain.run_id}" in again.message
    assert np.array_equal(store.load_predictions(again.run_id), store.load_predictions(plain.run_id))
    [committee] = store.committees(result.experiment.name)
    assert again.run_id in committee.member_ids and len(committee.member_ids) == 3
    from mnistlab.live import outcome_line
    assert f"the same run as {plain.run_id} (not trained twice)" in outcome_line(
        next(o for o in result.outcomes if o.skipped))
    store.rm([plain.run_id])  # the other keeps its files (hard links or copies)
    assert store.load_model(again.run_id) is not None and store.load_predictions(again.run_id).shape[1] == 10
    rerun = run_experiment(p, store, data_dir=data_dir)  # plain's cell: comm's member 0 is its run
    assert all(o.skipped for o in rerun.outcomes) and len(store.runs()) == 4
    [copied] = [o.record for o in rerun.outcomes if o.cell.variant == "plain"]
    assert copied.env["same_run_as"] == plain.run_id  # the run that trained, not the copy it was made from
    said = {(o.cell.variant, o.cell.member): outcome_line(o) for o in rerun.outcomes}
    assert f"finished, the same run as {plain.run_id} (not trained twice)" in said["plain", 0]  # recorded again now
    assert "skipped (already finished)" in said["comm", 0] and "same run" not in said["comm", 0]  # note 40: was here
    from mnistlab.cli import main
    assert main(["show", copied.run_id, "--store", str(store.root)]) == 0  # helper-109: named a run no longer there
    shown = capsys.readouterr().out
    assert f"(run {plain.run_id} since deleted; this run holds its files and figures)" in shown
    assert f", recorded from run {plain.run_id}, which trained it\n" in shown and " took " not in shown  # helper-146
    member = [o.record for o in rerun.outcomes if o.cell.variant == "comm"][0]
    assert main(["show", member.run_id, "--store", str(store.root)]) == 0 and "  member 0\n" in capsys.readouterr().out
    assert main(["compare", copied.run_id, member.run_id, "--store", str(store.root)]) == 0  # helper-147: two rows of
    assert 'note: variants "plain" and "comm" train the same config with seed 0' in capsys.readouterr().err  # one run
    again = store.record_again(copied, variant="comm", seed=0, member=0, repeat=0)  # a second driver, say
    assert again.variant == "comm" and again.member == 0 and len(store.runs()) == 4  # its run: nothing new


def test_a_run_whose_files_are_gone_is_not_recorded_again_as_finished(tmp_path: Path, data_dir: Path) -> None:
    import shutil

    from mnistlab.errors import StoreError, StoreWarning

    p = write(tmp_path, TINY + '[[variants]]\nname = "plain"\n')
    store = RunStore(tmp_path / "s")
    [outcome] = run_experiment(p, store, data_dir=data_dir).outcomes
    shutil.rmtree(store.root / "runs" / outcome.record.run_id)
    with pytest.raises(StoreError, match="files cannot be read"):
        store.record_again(outcome.record, variant="other", seed=0, member=0, repeat=0)
    assert [r.variant for r in store.runs()] == ["plain"]  # nothing recorded
    write(tmp_path, TINY + '[[variants]]\nname = "plain"\n[[variants]]\nname = "twin"\n')
    with pytest.warns(StoreWarning, match=f"run {outcome.record.run_id} is finished, but its folder is gone"):
        outcomes = {o.cell.variant: o for o in run_experiment(p, store, data_dir=data_dir).outcomes}
    plain, twin = outcomes["plain"], outcomes["twin"]  # the lost run's cell trains again (helper-250: skipped as
    assert not plain.skipped and plain.record.status == "finished"  # done), and twin is recorded from that run,
    assert twin.record.status == "finished" and twin.record.env.get("same_run_as") in (None, plain.record.run_id)


def test_run_says_which_variants_share_runs_as_compare_does_of_smoke_runs_too(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n"train.epochs" = 2\n'
              '[[variants]]\nname = "c"\n"train.lr" = 0.001\n')  # c: Adam's default, written out: a's config
    args = ["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]
    shared = 'variants "a" and "c" train the same config with seed 0'
    assert main([*args, "--quick"]) == 0  # a and b both train 1 epoch there: said as `compare --quick` says it
    err = capsys.readouterr().err  # (helper-160: `run --quick` said nothing, compare did; review: then only a and c)
    assert err.count('variants "a", "b" and "c" train the same config with seed 0') == 2, err
    assert err.count("note:") == 4 and "note: these are smoke runs" in err
    assert main(["compare", str(p), "--quick", "--store", str(tmp_path / "s")]) == 0
    assert 'variants "a", "b" and "c" train the same config with seed 0' in capsys.readouterr().err
    assert main(args) == 0
    err = capsys.readouterr().err
    assert err.count("note:") == 4 and err.count(shared) == 2  # before the sweep, and under its table as compare
    assert "note: test accuracy here is on part of the test set" in err  # under the table, as compare says it
    assert "note: the runs of a, c are smoke runs" in err  # above it, as compare says it too (helper-118)
    assert main([*args, "--format", "markdown"]) == 0  # all recorded: the table and its notes in the page
    page = capsys.readouterr().out
    assert page.index("| a ") < page.index(f"Note: {shared}")  # under the table, where a reader of the page looks


def test_a_shared_run_training_in_another_process_leaves_its_twin_for_the_next_run(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Variant a's run is held by a live process: a is left to it, and c (a's config) has no ended
    run to share: both are said, nothing of c is recorded, and the next `run` records it."""
    import sqlite3
    import subprocess
    import sys

    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "c"\n"train.lr" = 0.001\n')
    store = RunStore(tmp_path / "s")
    [a, c] = load_experiment(p).cells()
    assert a.key == c.key
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # another driver, training a
    try:
        rid = store.start_run(experiment=a.experiment, variant="a", seed=0, member=0, config=a.config,
                              config_hash=a.key)
        with sqlite3.connect(store.root / "runs.sqlite") as con:
            con.execute("UPDATE runs SET pid = ? WHERE run_id = ?", (other.pid, rid))
        args = ["run", str(p), "--store", str(store.root), "--data-dir", str(data_dir)]
        main(args)
        err = capsys.readouterr().err
        assert f"1 cell still running in another process (pid {other.pid})" in err
        assert "1 cell shares a run that has not ended finished here" in err
        assert f"`mnistlab run {p} --store {store.root}` again" in err
        assert [r.variant for r in store.runs()] == ["a"]  # c is not recorded as anything
    finally:
        other.kill()
        other.wait()
    assert main(args) == 0  # the other process is gone: a trains, c shares its run
    assert sorted((r.variant, r.status) for r in store.runs()) == [("a", "finished"), ("a", "interrupted"),
                                                                   ("c", "finished")]


def test_a_cell_held_by_a_run_of_another_host_says_how_to_free_it(tmp_path: Path, data_dir: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A run left "running" by a host that is gone (a container restarted under another name) held
    its cell with no word on how to release it (store attack, session 22)."""
    import sqlite3

    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n')
    store = RunStore(tmp_path / "s")
    [a] = load_experiment(p).cells()
    rid = store.start_run(experiment=a.experiment, variant="a", seed=0, member=0, config=a.config, config_hash=a.key)
    with sqlite3.connect(store.root / "runs.sqlite") as con:
        con.execute("UPDATE runs SET host = 'gone-host' WHERE run_id = ?", (rid,))
    args = ["run", str(p), "--store", str(store.root), "--data-dir", str(data_dir)]
    main(args)
    out, err = capsys.readouterr()
    assert "being trained by another process (pid" in out + err and "on host gone-host)" in out + err
    assert f"holds its cells until `mnistlab rm {rid}` frees them" in err
    assert main(["rm", rid, "--store", str(store.root)]) == 0 and main(args) == 0  # freed: the cell trains
    assert [r.status for r in store.runs()] == ["finished"]


def test_the_table_follows_the_file_though_a_shared_run_is_recorded_last(tmp_path: Path, data_dir: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "lr"\n[variants.grid]\n'
              '"train.lr" = [0.01, 0.001, 0.1]\n')  # lr=0.001 is Adam's default: a's run, recorded after the others
    result = run_experiment(p, tmp_path / "s", data_dir=data_dir, progress="none")
    assert [o.cell.variant for o in result.outcomes][-1] == "lr,lr=0.001"
    assert [r["variant"] for r in result.rows] == ["a", "lr,lr=0.01", "lr,lr=0.001", "lr,lr=0.1"]
    assert main(["compare", str(p), "--store", str(tmp_path / "s")]) == 0
    captured = capsys.readouterr()
    assert [line.split()[0] for line in captured.out.splitlines()[2:]] == ["a", "lr,lr=0.01", "lr,lr=0.001", "lr,lr=0.1"]
    assert 'note: variants "a" and "lr,lr=0.001" train the same config with seed 0' in captured.err
    assert main(["compare", result.experiment.name, "--store", str(tmp_path / "s")]) == 0  # by name: the runs say it
    assert 'note: variants "a" and "lr,lr=0.001" train the same config with seed 0' in capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "search"])
def test_a_dataset_missing_offline_is_one_error_before_anything_trains(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str) -> None:
    """Reviewer finding: with mnist's files nowhere and no network, `run` recorded a failed run for
    every cell (and `search` a failed trial for each), each trying the download again; the sweep
    exits with the one line of the missing files, before any run is recorded."""
    monkeypatch.delenv("MNISTLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MNISTLAB_MIRRORS", "http://127.0.0.1:9/")  # nothing listens there: offline
    text = TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n"train.lr" = 0.01\n'
    if command == "search":
        text = TINY.replace("subset = 120", "subset = 120\nvalidation = 0.25") + (
            '[search]\n"train.lr" = { log_uniform = [1e-3, 0.1] }\ntrials = 3\npruner = "none"\n')
    p, store = write(tmp_path, text), tmp_path / "s"
    (tmp_path / "empty").mkdir()
    assert main([command, str(p), "--store", str(store), "--data-dir", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {p}:3: ")  # the line of [base]'s dataset
    assert "mnist: files not found" in err and "the download failed" in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not store.exists() or RunStore(store).runs() == []


@pytest.mark.parametrize("command", ["run", "search"])
def test_every_data_mistake_of_one_variant_is_said_at_once(tmp_path: Path, data_dir: Path, command: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Note 33's gap: the data check stopped at a variant's first mistake, so outputs that did not
    match the classes hid a validation split too large for the data; both are said, each at its line."""
    rows = ["label," + ",".join(f"p{i}" for i in range(784))] + [f"{i % 2}," + ",".join(["0"] * 783 + ["200"]) for i in range(12)]
    (tmp_path / "two.csv").write_text("\n".join(rows) + "\n")
    own = 'dataset = "two.csv"\n"data.validation" = 500\n'
    if command == "run":
        text = TINY + '[[variants]]\nname = "plain"\n[[variants]]\nname = "own"\n' + own
    else:
        text = (TINY.replace('dataset = "mnist"', 'dataset = "two.csv"').replace("subset = 120", "validation = 500")
                + '[search]\n"train.lr" = { log_uniform = [1e-3, 0.1] }\ntrials = 2\npruner = "none"\n')
    p, lines = write(tmp_path, text), text.splitlines()
    assert main([command, str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    where = (('dataset = "two.csv"', '"data.validation" = 500') if command == "run"  # the variant's own data: its line
             else ("model = { dense = [8] }", "validation = 500"))
    assert [e.split(": ")[1] for e in err] == [f"{p}:{lines.index(w) + 1}" for w in where], err
    assert "the model has 10 outputs but" in err[0] and "data.validation = 500: validation count" in err[1]
    assert not (tmp_path / "s" / "runs.sqlite").exists() or RunStore(tmp_path / "s").runs() == []


@pytest.mark.parametrize("command", ["run", "search"])
def test_quick_finds_the_data_mistakes_of_the_full_run(tmp_path: Path, data_dir: Path, command: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """New-user finding (helper-105): `--quick` passed a file whose full run then refused it (a
    validation split of 1,000 in a subset of 1,000 fits the smoke run's 300 images, rescaled)."""
    text = TINY.replace("subset = 120", "subset = 1000\nvalidation = 1000")
    text += ('[[variants]]\nname = "v"\n[[variants]]\nname = "w"\n"data.validation" = 0.1\n' if command == "run" else
             '[search]\n"train.lr" = { log_uniform = [1e-3, 0.1] }\ntrials = 2\npruner = "none"\n')
    p = write(tmp_path, text)
    assert main([command, str(p), "--quick", "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    at = text.splitlines().index("validation = 1000") + 1
    assert len(err) == 1 and err[0].startswith(f"error: {p}:{at}: "), err  # "w" has a split of its own: it fits
    assert "data.validation = 1000: validation count must be between 1 and 999" in err[0]
    assert err[0].endswith("; in the full run (--quick checks it too)")
    assert not (tmp_path / "s" / "runs.sqlite").exists() or RunStore(tmp_path / "s").runs() == []


@pytest.mark.parametrize("command", ["run", "search"])
def test_quick_says_a_key_at_fault_at_both_sizes_once_with_the_users_value(tmp_path: Path, data_dir: Path,
                                                                           command: str, capsys) -> None:
    """Review finding (helper-106): a validation of 500 in 10 images was said twice under --quick,
    first as the 50 the smoke run scales it to (a value the user never wrote)."""
    rows = ["label," + ",".join(f"p{i}" for i in range(784))] + [f"{i % 2}," + ",".join(["0"] * 783 + ["200"]) for i in range(12)]
    (tmp_path / "two.csv").write_text("\n".join(rows) + "\n")
    text = ('[base]\ndataset = "two.csv"\nmodel = { dense = [8], outputs = 2 }\n[base.data]\nvalidation = 500\n'
            '[base.train]\nepochs = 1\n')
    text += ('[[variants]]\nname = "a"\n' if command == "run" else
             '[search]\n"train.lr" = { log_uniform = [1e-3, 0.1] }\npruner = "none"\n')
    p = write(tmp_path, text)
    assert main([command, str(p), "--quick", "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{p}:5: " in err[0] and "data.validation = 500: validation count must be between 1 and 9" in err[0]
    assert "in the full run" not in err[0]  # the smoke run has it too


def test_train_config_says_every_data_mistake(tmp_path: Path, data_dir: Path, capsys) -> None:
    """`train --config` with outputs that do not match mnist's classes and a split larger than the
    subset: both said (the check stopped at the first)."""
    cfg = tmp_path / "run.toml"
    cfg.write_text('dataset = "mnist"\nmodel = { dense = [8], outputs = 5 }\n[data]\nsubset = 120\nvalidation = 500\n')
    assert main(["train", "--config", str(cfg), "--data-dir", str(data_dir), "--no-record"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "the model has 5 outputs" in err[0] and "data.validation = 500" in err[1], err


def _every_line(exc: BaseException) -> list[str]:
    return [str(exc), *(str(m) for m in getattr(exc, "more", ()))]


def test_run_experiment_finds_the_file_s_and_the_data_s_mistakes_in_one_pass(tmp_path: Path, data_dir: Path) -> None:
    """Review findings (helper-103): the library's run_experiment(path) said the data's mistakes only
    once the file's were mended; a grid's key, a [base] mistake beside a variant's, a file starting
    with a byte order mark, and outputs that fit [base]'s data but not a variant's own all name their line."""
    rows = ["label," + ",".join(f"p{i}" for i in range(784))] + [f"{i % 2}," + ",".join(["0"] * 783 + ["200"]) for i in range(12)]
    (tmp_path / "two.csv").write_text("\n".join(rows) + "\n")
    text = (TINY.replace("subset = 120", "subset = 120\nvalidation = 500")  # [base]'s split: every variant's
            + '[[variants]]\nname = "plain"\n'
            + '[[variants]]\nname = "typo"\n"train.optimizer" = "adamm"\n'
            + '[[variants]]\nname = "own"\ndataset = "two.csv"\n'  # 10 outputs, 2 classes: its dataset's line
            + '[[variants]]\nname = "g"\n[variants.grid]\n"data.validation" = [0.1, 200]\n')
    p = tmp_path / "exp.toml"
    p.write_bytes(b"\xef\xbb\xbf" + text.encode())  # a byte order mark, as some Windows editors write
    lines = text.splitlines()
    at = lambda key: lines.index(key) + 1  # noqa: E731
    with pytest.raises(SpecError) as err:
        run_experiment(p, RunStore(tmp_path / "s"), data_dir=data_dir)
    said = _every_line(err.value)
    assert [s.split(": ")[0] for s in said] == [f"{p}:{n}" for n in (at("validation = 500"), at("validation = 500"),
                                                                   at('"train.optimizer" = "adamm"'),
                                                                   at('dataset = "two.csv"'),
                                                                   at('"data.validation" = [0.1, 200]'))], said
    assert 'variant "plain": data.validation = 500: validation count must be between 1 and 119' in said[0]
    # "own" has both: [base]'s split is too large for its 12 images too (it waited for its outputs to be mended)
    assert 'variant "own": data.validation = 500: validation count must be between 1 and 9' in said[1]
    assert 'variant "own": the model has 10 outputs but' in said[3] and "2 classes" in said[3]
    assert 'variant "g,val=200": data.validation = 200' in said[4]
    assert not (tmp_path / "s" / "runs.sqlite").exists() or RunStore(tmp_path / "s").runs() == []
    assert all(getattr(m, "more", ()) == () for m in err.value.more)  # each said once: no list inside the list


def test_more_jobs_than_cores_is_said_once_before_anything_trains() -> None:
    """helper-115: `run -j 8` on 2 cores said nothing (on Ray -j warns); its workers share the cores."""
    import os

    from mnistlab.backends import runner_for
    from mnistlab.experiments import Resources

    cores = len(os.sched_getaffinity(0))
    with pytest.warns(SpecWarning, match=f"-j {cores + 1} starts more workers than the {cores} core"):
        assert runner_for(Resources(), jobs=cores + 1) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert runner_for(Resources(), jobs=cores) is None  # as many as the cores: nothing to say
        assert runner_for(Resources(), jobs=cores + 5, tasks=cores) is None  # helper-118: -j 8 for 2 cells starts 2
    with pytest.warns(SpecWarning, match=f"-j {cores + 5} starts {cores + 1} workers, more than the {cores} core"):
        runner_for(Resources(), jobs=cores + 5, tasks=cores + 1)


def test_compare_by_name_keeps_the_file_s_order_when_a_twin_s_run_is_recorded_last(tmp_path: Path, data_dir: Path) -> None:
    """helper-140: a cell recorded again from its twin's run (the same config and seed) is recorded
    after the sweep's other cells, and `compare NAME` put it last; the file's order stands."""
    from mnistlab.comparison import compare

    p = write(tmp_path, TINY + '[[variants]]\nname = "x"\ntrain.lr = 0.01\n[[variants]]\nname = "twin"\ntrain.lr = 0.01\n'
                               '[[variants]]\nname = "y"\ntrain.lr = 0.02\n')
    store = RunStore(tmp_path / "s")
    result = run_experiment(p, store, data_dir=data_dir)
    assert [o.cell.variant for o in result.outcomes] == ["x", "y", "twin"]  # recorded in this order
    assert [r["variant"] for r in compare(store, result.experiment.name)] == ["x", "twin", "y"]


def test_a_rerun_after_an_edit_says_which_settings_changed(tmp_path: Path, data_dir: Path, capsys) -> None:
    """helper-143: editing a callback's patience retrained the variant's cells, and the re-run said
    only "finished" for each; now a line names the settings that changed, then and now."""
    text = TINY.replace("subset = 120", "subset = 120\nvalidation = 0.2") + (
        '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\nrepeats = 2\n'
        'callbacks = [{ type = "EarlyStopping", patience = 3 }]\n')
    p = write(tmp_path, text)
    argv = ["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]
    assert main(argv) == 0
    assert "settings changed" not in capsys.readouterr().out  # a first run: nothing to say
    p.write_text(text.replace("patience = 3", "patience = 4").replace("batch_size = 60", "batch_size = 40"))
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "settings changed" in line]
    assert len(lines) == 2 and lines[1].startswith('variant "b": its settings changed since run '), out
    assert lines[0].endswith("(train.batch_size: 60 -> 40): its cells train again"), lines
    assert "(callbacks[0].patience: 3 -> 4, train.batch_size: 60 -> 40): its cells train again" in lines[1], lines
    assert main(argv) == 0 and "settings changed" not in capsys.readouterr().out  # nothing changed since
    # helper-144: a Normalization's adapted statistics (recorded, unset in the file) and a layer's name
    # (no part of a run's key) are no change; the lr is
    norm = text.replace("model = { dense = [8] }", 'model = { layers = [{ type = "Normalization" }, { type = "Flatten" }, '
                        '{ type = "Dense", units = 10, activation = "softmax" }] }')
    p.write_text(norm)
    assert main(argv) == 0
    capsys.readouterr()
    p.write_text(norm.replace('type = "Flatten" }', 'type = "Flatten", name = "flat" }').replace("batch_size = 60",
                                                                                               "batch_size = 30"))
    assert main(argv) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "settings changed" in line]
    assert len(lines) == 2 and all(line.endswith("(train.batch_size: 60 -> 30): its cells train again") for line in lines)
    named = p.read_text().replace("model = { layers", 'model = { name = "mine", layers')  # the model's own name is
    p.write_text(named)  # part of a run's key, unlike its layers': said
    assert main(argv) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "settings changed" in line]
    assert len(lines) == 2 and all(line.endswith('(model.name: unset -> "mine"): its cells train again') for line in lines)


def test_runs_writing_one_checkpoint_path_are_warned_before_they_train(tmp_path: Path, data_dir: Path, capsys) -> None:
    """helper-145: a [base] ModelCheckpoint wrote one file for variants a and b: b's replaced a's, unsaid."""
    from mnistlab.execute import shared_checkpoints
    from mnistlab.experiments import load_experiment

    exp = write(tmp_path, TINY.replace("[base.data]", 'callbacks = [{ type = "ModelCheckpoint", filepath = '
                                       '"ckr/e{epoch}.safetensors" }]\n[base.data]') + '[[variants]]\nname = "a"\n'
                '[[variants]]\nname = "b"\n"train.lr" = 0.01\n[[variants]]\nname = "c"\nrepeats = 2\n'
                'callbacks = [{ type = "ModelCheckpoint", filepath = "own/e{epoch}.safetensors" }]\n', "ck.toml")
    said = shared_checkpoints(load_experiment(exp).cells())  # (paths relative to the file: absolute, or relative here)
    assert [line.split('" is written', 1)[1] for line in said] == [
        " by 2 runs (of 'a', 'b'): each run's saves replace the others'; give each variant a filepath of its own",
        " by 2 runs (of 'c'): each run's saves replace the others'; the last run's files stay"]
    assert said[0].startswith('ModelCheckpoint filepath "') and "ckr/e{epoch}.safetensors" in said[0]
    assert main(["run", str(exp), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]) == 0
    assert capsys.readouterr().err.count("warning: ModelCheckpoint filepath") == 2


def test_a_stopped_sweeps_row_of_a_variant_not_started_holds_a_list_of_run_ids(tmp_path: Path) -> None:
    """helper-165: `run --format json` of a stopped sweep gave "run_ids": null for a variant not started
    ([] for one interrupted): a script's len() of it failed."""
    from mnistlab.execute import stopped_rows
    from mnistlab.experiments import load_experiment

    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n"train.lr" = 0.01\n')
    rows = stopped_rows([], load_experiment(p).cells(), RunStore(tmp_path / "s"))
    assert [(r["variant"], r["run_ids"], r["n"]) for r in rows] == [("a", [], 0), ("b", [], 0)]
    assert all("stopped: 1 not started" in r["note"] for r in rows)


def test_a_worker_whose_driver_died_as_it_started_ends() -> None:
    """helper-167: a `kill -9` of the driver while its --jobs workers started left each watching
    init (its parent by then, taken as the driver) and training on forever; the driver's pid now
    comes from the driver. Here the worker's parent lives on: only the pid given says who drives."""
    import signal
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    worker = subprocess.run([sys.executable, "-c", "import time\nfrom mnistlab.execute import init_worker\n"
                             f"init_worker({gone.pid})\ntime.sleep(60)"], timeout=30)
    assert worker.returncode == 128 + signal.SIGTERM


def test_run_experiment_says_when_it_trains_here_what_the_file_asks_ray_for(tmp_path: Path, data_dir: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """helper-185: from Python, a file whose [resources] ask for Ray trained in this process without a
    word (`mnistlab run` uses Ray); `mnistlab run --backend local`, which chose, says nothing of it."""
    p = write(tmp_path, '[resources]\nbackend = "ray"\n' + TINY)
    with pytest.warns(SpecWarning, match=r"its \[resources\] ask for Ray; run_experiment trains here, in this process, "
                                         r"unless given runner=mnistlab.backends.runner_for\(exp.resources\)"):
        result = run_experiment(p, RunStore(tmp_path / "s"), data_dir=data_dir, progress="none")
    assert [o.record.status for o in result.outcomes] == ["finished"]
    assert main(["run", str(p), "--backend", "local", "--force", "--store", str(tmp_path / "s"), "--data-dir",
                 str(data_dir)]) == 0
    assert "ask for Ray" not in capsys.readouterr().err


def test_a_deleted_current_folder_is_one_line_for_workers_and_no_error_after_a_sweep(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """helper-189: the folder `mnistlab run` was started in, deleted mid-sweep: a sweep that recorded
    every cell (in a store elsewhere) ended in "error: No such file or directory", exit 1 (the hint
    naming its --store resolved the current folder); with --jobs 2 each worker died importing torch,
    a traceback apiece."""
    from mnistlab.execute import ProcessRunner
    from mnistlab.store import default_root, store_flag

    (tmp_path / "gone").mkdir()
    monkeypatch.chdir(tmp_path / "gone")
    (tmp_path / "gone").rmdir()
    assert store_flag(tmp_path / "s") == f" --store {tmp_path / 's'}"
    assert store_flag(default_root()) == ""
    with pytest.raises(MnistlabError, match=r"^the current folder no longer exists .*: worker processes cannot start"):
        list(ProcessRunner(2).map(abs, [1, 2]))


def test_a_sweeps_result_shows_in_a_notebook_as_its_table_with_compares_notes(tmp_path: Path, data_dir: Path) -> None:
    """helper-211: a notebook showed a sweep's table without the notes `mnistlab run` prints under it
    (scores of two test sets side by side), and an ExperimentResult as a repr line."""
    from mnistlab.comparison import ComparisonRows

    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\ndataset = "fashion-mnist"\n')
    result = run_experiment(p, RunStore(tmp_path / "s"), data_dir=data_dir, progress="none")
    assert isinstance(result.rows, ComparisonRows)
    assert any("scored on 2 different test sets" in n for n in result.rows.notes)
    shown = result._repr_markdown_()
    assert shown.startswith("**exp**: 2 trained\n\n| variant |") and "\nNote: these runs were scored on 2 different" in shown
    import shutil

    from mnistlab.comparison import compare

    by_name = compare(tmp_path / "s", "exp")
    ids = [o.record.run_id for o in result.outcomes]
    chosen = compare(tmp_path / "s", ids)  # (helper-213: chosen runs' table said nothing of their two test sets)
    shutil.rmtree(tmp_path / "s")  # (helper-213: read when first shown, the notes went with the store)
    assert any("scored on 2 different test sets" in n for n in by_name.notes)
    assert any("scored on 2 different test sets" in n for n in chosen.notes)


def test_an_experiment_given_in_python_as_a_table_or_a_files_text(tmp_path: Path, data_dir: Path) -> None:
    """helper-211: a dict gave a TypeError ("expected str, bytes or os.PathLike"), a TOML string "no
    such file": a notebook's experiment lives in a cell."""
    store = RunStore(tmp_path / "s")
    table = {"name": "inline", "base": {"dataset": "mnist", "model": "seed000-dense", "data": {"subset": 120},
                                        "train": {"epochs": 1}},
             "variants": [{"name": "a"}, {"name": "b", "train.lr": 0.01}]}
    assert [o.cell.variant for o in run_experiment(table, store, data_dir=data_dir, progress="none").outcomes] == ["a", "b"]
    text = 'name = "text"\n[base]\ndataset = "mnist"\nmodel = "seed000-dense"\n[base.data]\nsubset = 120\n'
    assert len(run_experiment(text, store, data_dir=data_dir, progress="none").outcomes) == 1
    with pytest.raises(SpecError, match="^the experiment given in Python: \\[base\\]: model: required key is missing"):
        run_experiment({"name": "bad", "base": {"dataset": "mnist"}}, store, data_dir=data_dir)
    with pytest.raises(SpecError, match="give it a name"):  # (review: every table recorded as "experiment", mixed)
        run_experiment({"base": {"dataset": "mnist", "model": "seed000-dense"}}, store, data_dir=data_dir)
    path = tmp_path / "pasted.toml"
    path.write_text(text.replace('"text"', '"pasted"'))
    assert len(run_experiment(f"{path}\n", store, data_dir=data_dir, progress="none").outcomes) == 1  # a path, pasted
    with pytest.raises(SpecError, match="not a list: call it once for each"):  # (helper-213: a TypeError)
        run_experiment([table], store, data_dir=data_dir)
    with pytest.raises(SpecError, match=f"{tmp_path / 'nope.toml'}: no such file"):  # (not "nope.toml : no such")
        run_experiment(f"{tmp_path / 'nope.toml'}\n", store, data_dir=data_dir)


def test_a_sigterm_swallowed_in_a_garbage_collectors_callback_is_still_known() -> None:
    """CI: a SIGTERM landing while a weakref callback ran (sqlalchemy's, in a parallel search) raised
    its KeyboardInterrupt there, where Python ignores it: the search ran on and exited 0. The stop is
    recorded (StopSignal.came), so `search` and `run` still stop with 143."""
    import os
    import signal
    import sys
    import time
    import weakref

    from mnistlab.execute import terminate_as_interrupt

    class Held:
        pass

    def collected(_: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)  # the handler runs here, inside the callback: its KeyboardInterrupt is ignored

    def wrong(_: object) -> None:
        raise ValueError("not ours")

    told: list[BaseException | None] = []
    def hook(u: Any) -> None:
        told.append(u.exc_value)

    before, sys.unraisablehook = sys.unraisablehook, hook
    went_on = False
    try:
        with pytest.raises(KeyboardInterrupt), terminate_as_interrupt() as stop:
            held, other = Held(), Held()
            ref, other_ref = weakref.ref(held, collected), weakref.ref(other, wrong)
            del other  # an error of someone else's callback is still told
            del held  # the callback runs now: its stop is raised again once it is done (review: it trained on)
            began = time.monotonic()
            time.sleep(20)  # woken by it, as by a SIGTERM (review: interrupt_main waited for the call to return)
            went_on = True
        after = sys.unraisablehook  # put back as it was
    finally:
        sys.unraisablehook = before
    assert ref() is None and other_ref() is None and stop.came and stop.signum == signal.SIGTERM and not went_on
    assert time.monotonic() - began < 10
    # our own stop is not printed as "Exception ignored in ... KeyboardInterrupt" (a parallel search's stderr)
    assert [type(e) for e in told] == [ValueError] and after is hook


def test_a_run_of_own_data_from_before_its_keys_changed_is_said_to_be_an_older_versions() -> None:
    """helper-217: after an upgrade, a sweep on the user's own data said "its settings changed since run
    ... (dataset.csv: "data/train.csv" -> "/home/.../data/train.csv")" though nothing was edited."""
    from mnistlab.execute import _older_own_data

    then = {"dataset.csv": "data/train.csv", "data.test_seed": None, "train.lr": 0.01}
    now = {"dataset.csv": "/home/kim/exp/data/train.csv", "data.test_seed": 0, "train.lr": 0.01}
    assert _older_own_data(["dataset.csv", "data.test_seed"], then, now)
    assert not _older_own_data(["dataset.csv", "train.lr"], then, {**now, "train.lr": 0.1})  # an edit too
    assert not _older_own_data(["dataset.csv"], then, {**now, "dataset.csv": "/home/kim/exp/data/other.csv"})
    assert not _older_own_data(["dataset.csv"], {"dataset.csv": "/a/train.csv"}, {"dataset.csv": "/b/train.csv"})
    assert _older_own_data(["dataset"], {"dataset": "train.csv"}, {"dataset": "/home/kim/train.csv"})  # (helper-218)
