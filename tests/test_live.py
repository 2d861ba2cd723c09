"""The live view of a sweep (mnistlab.live), `mnistlab watch`, and stopping a sweep safely:
SIGINT or SIGTERM to the driver alone, and Ctrl-C reaching workers while they start."""

from __future__ import annotations

import io
import json
import os
import socket
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from mnistlab.cli import main
from mnistlab.config import parse_run_config
from mnistlab.comparison import compare
from mnistlab.live import (EpochProgress, LiveTable, cell_line, clock, read_plan, render, summary, sweep_status, watch,
                           write_plan)
from mnistlab.run import run_config
from mnistlab.store import RunRecord, RunStore


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _run(store: RunStore, variant: str, key: str, status: str | None = None, acc: float | None = None,
         history: list[dict] | None = None, took: float = 0.0) -> str:
    """A run row as a worker leaves it: running with its progress, or ended ``status``."""
    rid = store.start_run(experiment="sw", variant=variant, seed=0, member=0, config={"train": {"epochs": 4}},
                          config_hash=key)
    if history is not None:
        store.record_progress(rid, history)
    if status is not None:
        store.finish_run(rid, status=status, history=[], metrics={} if acc is None else {"test_accuracy": acc}, env={})
        con = sqlite3.connect(store.db_path)
        con.execute("UPDATE runs SET created_at = finished_at - ? WHERE run_id = ?", (took, rid))
        con.commit()
        con.close()
    return rid


def _render(status) -> str:  # noqa: ANN001
    console = Console(file=io.StringIO(), width=120, record=True)
    console.print(render(status))
    return console.export_text()


def test_status_counts_leader_eta_and_running_epochs(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "store")
    cells = [("a", "k1"), ("a", "k2"), ("b", "k3"), ("b", "k4"), ("c", "k5"), ("c", "k6"), ("c", "k7")]
    write_plan(store.root, "sw", cells, workers=2, started=time.time() - 100)
    _run(store, "a", "k1", "finished", 0.90, took=10)
    _run(store, "a", "k2", "finished", 0.92, took=10)
    _run(store, "b", "k3", "finished", 0.95, took=10)
    _run(store, "b", "k4", "failed", took=10)
    running = _run(store, "c", "k5", history=[{"epoch": 1, "epochs": 4, "val_accuracy": 0.5},
                                              {"epoch": 3, "epochs": 4, "val_accuracy": 0.875}])
    dead = _run(store, "c", "k6")  # its process died: the cell is left, not running
    con = sqlite3.connect(store.db_path)
    con.execute("UPDATE runs SET pid = ? WHERE run_id = ?", (_dead_pid(), dead))
    con.commit()
    con.close()

    s = sweep_status(store, "sw")
    assert (s.total, s.done, s.failed, s.left) == (7, 3, 1, 2)
    assert [(c.run_id, c.epoch, c.epochs, c.val_accuracy) for c in s.running] == [(running, 3, 4, 0.875)]
    assert s.leader == ("b", 0.95, 1)
    # 4 ended cells took 10 s each; 2 cells left and a quarter of the running one, over 2 workers.
    assert s.eta == pytest.approx(10 * 2.25 / 2)
    assert 99 <= s.elapsed < 200 and not s.over
    text = _render(s)
    assert "sw: 3/7 done, 1 running, 2 left, 1 failed, leader b 95.00% test acc (1 run)" in text
    assert running in text and "3/4" in text and "87.50%" in text and "ETA 0:11" in text
    assert dead not in text


def test_the_eta_shrinks_while_an_epoch_runs_not_grows(tmp_path: Path) -> None:
    """helper-174: the pace was the time since the run's start over its ended epochs, so while the
    next epoch ran (no new epoch ended) the whole grew, and the ETA with it, a second a second."""
    store = RunStore(tmp_path / "store")
    write_plan(store.root, "sw", [("a", "k1"), ("a", "k2")], workers=1, started=time.time() - 60)
    running = _run(store, "a", "k1", history=[{"epoch": 1, "epochs": 4, "epoch_seconds": 10.0}])
    etas, lefts = [], []
    for since in (12, 18, 25):  # 2 s of setup and the first epoch's 10, then 0, 6 and 13 s into epoch 2
        con = sqlite3.connect(store.db_path)
        con.execute("UPDATE runs SET created_at = ? WHERE run_id = ?", (time.time() - since, running))
        con.commit()
        con.close()
        s = sweep_status(store, "sw")
        [cell] = s.running
        etas.append(s.eta)
        lefts.append(cell.expected_seconds - cell.seconds)
    assert lefts[0] == pytest.approx(28, abs=0.5) and lefts[1] == pytest.approx(22, abs=0.5)  # 40 s in all, then
    assert lefts[2] == pytest.approx(20, abs=0.5)  # epoch 2 later than its pace: epochs 3 and 4 at it
    # this cell's time left and the other cell's whole at this one's pace: 40 s, then 45 once late
    assert etas == pytest.approx([28 + 40, 22 + 40, 20 + 45], abs=1), etas
    from mnistlab.live import RunningCell

    resumed = RunningCell("r", "a", 0, 0, epoch=5, epochs=10, seconds=2.0, val_accuracy=None, trained=50.0)
    assert resumed.expected_seconds - resumed.seconds == pytest.approx(50)  # 5 epochs at 10 s (helper-180: 98)


def test_a_sweep_before_its_first_cell_ends_has_an_eta_by_its_running_cells_pace(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """helper-123: `watch` said "ETA ?" until a cell ended, and `show` of a running run said only
    "running", though its epochs were recorded."""
    store = RunStore(tmp_path / "store")
    write_plan(store.root, "sw", [("a", "k1"), ("a", "k2")], workers=1, started=time.time() - 20)
    running = _run(store, "a", "k1", history=[{"epoch": 1, "epochs": 4}])
    con = sqlite3.connect(store.db_path)
    con.execute("UPDATE runs SET created_at = ? WHERE run_id = ?", (time.time() - 20, running))
    con.commit()
    con.close()
    s = sweep_status(store, "sw")
    # 1 of 4 epochs in 20 s: a cell takes 80 s; 3/4 of this one and one more cell are left
    assert s.eta == pytest.approx(80 * 1.75, rel=0.05)
    assert main(["show", running, "--store", str(store.root)]) == 0
    shown_text = capsys.readouterr().out
    line = next(x for x in shown_text.splitlines() if x.startswith("progress "))
    assert "  epoch=1\n" in shown_text and "epochs=4" not in shown_text  # helper-129: each epoch's line said epochs=60
    said = re.fullmatch(rf"progress epoch 1 of 4, 0:(\d\d) so far, about 1:(\d\d) left \(at its pace so far\), "
                        rf"process {os.getpid()} on {re.escape(socket.gethostname())}", line)
    assert said, line  # 1 of 4 epochs in its seconds so far (20 and the test's own): 3 times as many left
    so_far, left = int(said[1]), 60 + int(said[2])
    assert 20 <= so_far <= 25 and abs(left - 3 * so_far) <= 2, line  # (each rounded to a whole second)
    log = Console(file=io.StringIO(), width=80, record=True)  # a pipe's lines: each running cell's epoch too
    watch(store, "sw", log, interval=0.05, live=False, max_seconds=0.2)
    assert log.export_text().splitlines()[0].endswith("; running a seed 0 epoch 1/4"), log.export_text()
    assert main(["show", running, "--store", str(store.root), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["progress"]["epoch"] == 1 and shown["progress"]["epochs"] == 4 and shown["pid"] == os.getpid()
    from mnistlab.views import history_runs

    [(label, history, _, val)] = history_runs([store.get(running)])  # its plot looked finished
    assert label == "seed 0 (running: 1 of 4 epochs so far)" and len(history) == 1 and val == "val"


def test_a_forced_sweeps_progress_counts_only_the_runs_it_started(tmp_path: Path) -> None:
    """helper-173: `run --force`'s live header said "2/2 done, leader ..." of the runs it replaces,
    before it had trained anything; a sweep without --force counts them (they are its cells' results)."""
    store = RunStore(tmp_path / "store")
    _run(store, "a", "k1", "finished", 0.9)
    _run(store, "b", "k2", "finished", 0.8)
    write_plan(store.root, "sw", [("a", "k1"), ("b", "k2")], workers=1, force=True)
    s = sweep_status(store, "sw")
    assert (s.done, s.left, s.leader) == (0, 2, None)
    _run(store, "b", "k2", "finished", 0.7)
    s = sweep_status(store, "sw")
    assert (s.done, s.left) == (1, 1) and s.leader is not None and s.leader[0] == "b"
    assert sweep_status(store, "sw", [("a", "k1"), ("b", "k2")]).done == 2  # what is left to train: the store's
    write_plan(store.root, "sw", [("a", "k1"), ("b", "k2")], workers=1)
    assert sweep_status(store, "sw").done == 2


def test_status_without_a_plan_counts_the_runs_and_the_latest_run_wins(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "store")
    _run(store, "a", "k1", "interrupted", took=10)
    _run(store, "a", "k1", "finished", 0.5, took=3)  # the rerun of the same cell
    _run(store, "a", "k2", "diverged", took=3)
    s = sweep_status(store, "sw")
    assert (s.total, s.done, s.left, s.running) == (2, 2, 0, ())
    assert s.over and s.eta is not None
    later = sweep_status(store, "sw", now=time.time() + 3600)  # a look an hour after it ended
    assert later.elapsed == s.elapsed and 3 <= s.elapsed < 60  # the sweep's time: its first start to its last end
    assert "ETA" not in summary(s) and "(nothing running)" in _render(s)


def test_a_rerun_that_fails_or_dies_never_hides_a_cell_s_result(tmp_path: Path) -> None:
    """As compare counts it (comparison.counts_over): a rerun (--force) that fails, is stopped, or
    whose process died leaves the cell done with its earlier result; one training now shows as running."""
    store = RunStore(tmp_path / "store")
    for key in ("k1", "k2", "k3"):
        _run(store, "a", key, "finished", 0.9, took=5)
    _run(store, "a", "k1", "failed", took=1)
    _run(store, "a", "k2", "interrupted", took=1)
    _run(store, "a", "k4", "failed", took=1)
    dead = [_run(store, "a", "k3"), _run(store, "a", "k4")]  # reruns whose process died
    con = sqlite3.connect(store.db_path)
    con.executemany("UPDATE runs SET pid = ? WHERE run_id = ?", [(_dead_pid(), rid) for rid in dead])
    con.commit()
    con.close()
    s = sweep_status(store, "sw")
    assert (s.total, s.done, s.failed, s.left, s.running) == (4, 3, 1, 0, ()) and s.leader[:3] == ("a", 0.9, 3)
    assert s.leader[3] == pytest.approx(0.0) and "leader a 90.00% +- 0.00 test acc (3 runs)" in summary(s)  # helper-146
    assert {r["variant"]: (r["n"], r["failed"]) for r in compare(store, "sw")} == {"a": (3, 1)}  # as compare counts
    live = _run(store, "a", "k1")  # a rerun in this process, alive: the cell trains again
    s = sweep_status(store, "sw")
    assert (s.done, s.left) == (2, 0) and [c.run_id for c in s.running] == [live]


def test_a_reading_command_shows_a_dead_process_s_run_interrupted_not_running(tmp_path: Path, capsys) -> None:
    """A `train` killed with kill -9 stayed "running" in `runs`, `show` and `compare` until the next
    `run` (store attack, session 22)."""
    from mnistlab.cli import main

    store = RunStore(tmp_path / "store")
    dead, alive = _run(store, "a", "k1"), _run(store, "b", "k2")  # alive: this process's own
    con = sqlite3.connect(store.db_path)
    con.execute("UPDATE runs SET pid = ? WHERE run_id = ?", (_dead_pid(), dead))
    con.commit()
    con.close()
    assert main(["runs", "--store", str(store.root), "--format", "csv"]) == 0
    rows = {line.split(",")[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert ",interrupted," in rows[dead] and ",running," in rows[alive]


@pytest.mark.parametrize("damage", [{"cells": 5}, {"cells": None}, {"pid": "abc"}, {"started": None},
                                    {"workers": -1}, {"ended": "soon"}, {"cells": [["a"]]}, {"pid": True}])
def test_a_damaged_plan_is_as_good_as_none(tmp_path: Path, damage: dict) -> None:
    """`watch` gave a traceback and `run` refused ("invalid literal for int()") over a hand-edited
    plan file (store attack, session 22)."""
    store = RunStore(tmp_path / "store")
    write_plan(store.root, "exp", [("a", "k1")], workers=2)
    [path] = (store.root / "sweeps").glob("*.json")
    path.write_text(json.dumps({**json.loads(path.read_text()), **damage}))
    assert read_plan(store.root, "exp") is None
    s = sweep_status(store, "exp")  # what `watch` shows: no runs, no plan
    assert s.total == 0 and s.running == ()


def test_a_plan_round_trips_and_a_dead_driver_ends_the_sweep(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "store")
    write_plan(store.root, "odd name/ü", [("a", "k1"), ("a", "k2")], workers=3)
    plan = read_plan(store.root, "odd name/ü")
    assert plan is not None and plan["cells"] == [["a", "k1"], ["a", "k2"]] and plan["workers"] == 3
    assert plan["pid"] == os.getpid() and read_plan(store.root, "other") is None
    s = sweep_status(store, "odd name/ü")
    assert s.left == 2 and s.driver_alive and not s.over  # this process wrote it: alive

    [path] = (store.root / "sweeps").glob("*.json")
    path.write_text(json.dumps({**plan, "pid": _dead_pid()}))
    s = sweep_status(store, "odd name/ü")
    assert s.left == 2 and not s.driver_alive and s.over  # nothing will train them now


def test_a_stopped_sweep_has_no_eta_and_its_time_ends_with_its_last_run(tmp_path: Path) -> None:
    """helper-114: `watch` of a sweep stopped minutes earlier said "elapsed 4:17, ETA 0:04", as if live."""
    store = RunStore(tmp_path / "store")
    write_plan(store.root, "sw", [("a", "k1"), ("a", "k2"), ("b", "k3")], workers=1, started=time.time() - 600)
    _run(store, "a", "k1", "finished", 0.9, took=10)
    [path] = (store.root / "sweeps").glob("*.json")
    path.write_text(json.dumps({**read_plan(store.root, "sw"), "pid": _dead_pid()}))  # the driver was stopped
    s = sweep_status(store, "sw")
    assert s.left == 2 and s.eta is None and 590 <= s.elapsed < 620  # its start to its last run's end
    assert sweep_status(store, "sw", now=time.time() + 3600).elapsed == s.elapsed  # not the time of this look
    assert "ETA" not in summary(s)


def test_watch_counts_diverged_cells_and_leads_only_on_one_test_set(tmp_path: Path) -> None:
    """helper-114: `watch` said "4/4 done, leader ok" of a sweep half of whose runs diverged, and led
    with a Fashion-MNIST variant's accuracy over an MNIST one's."""
    store = RunStore(tmp_path / "store")
    _run(store, "ok", "k1", "finished", 0.86, took=3)
    _run(store, "boom", "k2", "diverged", 0.10, took=3)
    assert summary(sweep_status(store, "sw")).startswith("sw: 2/2 done (1 diverged), 0 running, 0 left, leader ok 86.00%")
    for variant, dataset, acc in (("digits", "mnist", 0.97), ("clothes", "fashion-mnist", 0.88)):
        rid = store.start_run(experiment="mixed", variant=variant, seed=0, member=0, config={"dataset": dataset},
                              config_hash=variant)
        store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": acc, "test_size": 10_000}, env={})
    s = sweep_status(store, "mixed")
    assert s.done == 2 and s.leader is None and "leader" not in summary(s)


def test_clock_and_cell_line() -> None:
    assert (clock(None), clock(0), clock(83.2), clock(4000)) == ("?", "0:00", "1:23", "1:06:40")
    rec = RunRecord("abc", "sw", "v", 3, 0, {}, "k", "failed", metrics={}, message="boom")
    assert cell_line(rec, position=(2, 5)) == "  [2/5] abc  v  seed 3: failed (boom)"
    rec = RunRecord("abc", "sw", "v", 3, 0, {}, "k", "finished", metrics={"test_accuracy": 0.9})
    assert cell_line(rec, "skipped (already finished)") == "  abc  v  seed 3: skipped (already finished), test acc 90.00%"


def test_epoch_progress_reaches_the_store_while_the_run_trains(tmp_path: Path, data_dir: Path) -> None:
    store = RunStore(tmp_path / "store")
    cfg = parse_run_config({"dataset": "mnist", "model": {"dense": [8]}, "data": {"subset": 200, "validation": 0.2},
                            "train": {"epochs": 3, "batch_size": 50}})
    rid = store.start_run(experiment="sw", variant="v", seed=0, member=0, config=cfg.resolved(), config_hash="k")
    seen: list[int] = []

    class Look(EpochProgress):  # what a reader sees right after each write
        def on_epoch_end(self, epoch, logs=None):  # noqa: ANN001
            super().on_epoch_end(epoch, logs)
            seen.append(len(RunStore(store.root).get(rid).history))

    result = run_config(cfg, data_dir=data_dir, progress="none", extra_callbacks=[Look(store, rid, every_s=0)])
    assert result.status == "finished" and seen == [1, 2, 3]
    rec = store.get(rid)
    assert rec.status == "running" and [h["epoch"] for h in rec.history] == [1, 2, 3]
    assert {h["epochs"] for h in rec.history} == {3} and 0 <= rec.history[-1]["val_accuracy"] <= 1
    store.finish_run(rid, status="finished", history=result.history, metrics={}, env={})
    store.record_progress(rid, [{"epoch": 99}])  # an ended run is left alone
    assert store.get(rid).history == result.history


def test_epoch_progress_writes_at_most_every_few_seconds_and_the_rest_at_the_end(tmp_path: Path,
                                                                                 data_dir: Path) -> None:
    store = RunStore(tmp_path / "store")
    cfg = parse_run_config({"dataset": "mnist", "model": {"dense": [8]}, "data": {"subset": 200},
                            "train": {"epochs": 4, "batch_size": 50}})
    rid = store.start_run(experiment="sw", variant="v", seed=0, member=0, config=cfg.resolved(), config_hash="k")
    seen: list[int] = []

    class Look(EpochProgress):
        def on_epoch_end(self, epoch, logs=None):  # noqa: ANN001
            super().on_epoch_end(epoch, logs)
            seen.append(len(RunStore(store.root).get(rid).history))

    result = run_config(cfg, data_dir=data_dir, progress="none", extra_callbacks=[Look(store, rid, every_s=3600)])
    assert result.status == "finished" and seen == [1, 1, 1, 1]  # the first epoch at once, then none for an hour
    assert [h["epoch"] for h in store.get(rid).history] == [1, 2, 3, 4]  # the rest as the fit ended


def test_live_table_and_watch_render_from_the_store(tmp_path: Path) -> None:
    from mnistlab.live import _plan_path

    store = RunStore(tmp_path / "store")
    write_plan(store.root, "sw", [("a", "k1"), ("a", "k2")])
    _run(store, "a", "k1", "finished", 0.8, took=2)
    plan = _plan_path(store.root, "sw")
    ours = plan.read_text()
    plan.write_text(ours.replace(f'"pid": {os.getpid()}', '"pid": 1'))  # an earlier sweep's plan, before this one's
    buf = io.StringIO()  # is written: not drawn (helper-174: `run --force` drew "2/2 done, leader ..." first)
    with LiveTable(Console(file=buf, width=120, force_terminal=True), store.root, "sw", interval=0.05):
        time.sleep(0.3)
    assert "sw:" not in buf.getvalue()
    plan.write_text(ours)
    buf = io.StringIO()
    console = Console(file=buf, width=120, force_terminal=True)
    with LiveTable(console, store.root, "sw", interval=0.05) as table:
        time.sleep(0.3)
        table.poke()
    assert "sw: 1/2 done, 0 running, 1 left" in buf.getvalue()

    lines = Console(file=io.StringIO(), width=200, record=True)
    _run(store, "a", "k2", "finished", 0.9, took=2)
    last = watch(store, "sw", lines, interval=0.05, live=False, max_seconds=5)
    assert last.over and "sw: 2/2 done, 0 running, 0 left, leader a 85.00% +- 7.07 test acc (2 runs)" in lines.export_text()


EXP = """
name = "stop"
[base]
dataset = "mnist"
model = { conv = [8], dense = [32] }
[base.data]
subset = 3000
validation = 0.2
[base.train]
epochs = 4
[[variants]]
name = "pair"
committee = 2
"train.epochs" = 1  # a quarter of a "rest" cell: the committee is done while "rest" cells still train
[[variants]]
name = "rest"
repeats = 3
"""
# The child resets SIGINT to Python's default: a test started from a background shell inherits it ignored.
_CHILD = ("import signal, runpy, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
          "sys.argv = ['mnistlab'] + sys.argv[1:]; runpy.run_module('mnistlab', run_name='__main__')")


def _start(exp: Path, store: Path, data_dir: Path, *more: str, session: bool = False) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", _CHILD, "run", str(exp), "--store", str(store), "--data-dir",
                             str(data_dir), *more], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=session)


def _rows(db: Path, sql: str) -> list[tuple]:
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    except sqlite3.Error:  # not created yet
        return []


def _wait(proc: subprocess.Popen[str], what: str, ready, timeout: float = 180) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if ready():
            return
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"{what} did not happen in time: {proc.communicate()}")


@pytest.mark.long
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stopping_the_driver_alone_stops_its_workers(tmp_path: Path, data_dir: Path, sig: signal.Signals) -> None:
    """`kill -INT/-TERM <driver pid>` with --jobs 2: the workers record their runs as interrupted,
    the driver exits 130/143 in seconds, the committee already complete is scored, and a rerun
    trains only the missing cells."""
    exp = tmp_path / "stop.toml"
    exp.write_text(EXP)
    store_dir, db = tmp_path / "store", tmp_path / "store" / "runs.sqlite"
    proc = _start(exp, store_dir, data_dir, "--jobs", "2")
    # Both committee members finished, and a later cell has reported an epoch: stop mid-cell.
    _wait(proc, "a cell mid-way",
          lambda: len(_rows(db, "SELECT 1 FROM runs WHERE status = 'finished' AND variant = 'pair'")) == 2
          and _rows(db, "SELECT 1 FROM runs WHERE status = 'running' AND history != '[]'"))
    sent = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    took = time.monotonic() - sent
    assert proc.returncode == 128 + sig, err
    assert took < 60 and "Traceback" not in err and f"interrupted by {sig.name}" in err, err
    store = RunStore(store_dir)
    finished = {r.run_id for r in store.runs(status="finished")}
    assert 2 <= len(finished) < 5 and store.runs(status="running") == []
    assert store.runs(status="interrupted"), "the running cells are recorded as interrupted"
    assert [c.variant for c in store.committees("stop")] == ["pair"]  # scored though the sweep was stopped
    assert "stop" in out and "pair" in out  # the comparison as it stands
    assert "[1/5] " in out  # not a terminal: one line per finished cell, counted
    ended = sweep_status(store, "stop")  # what `mnistlab watch stop` sees now: the driver is gone
    assert ended.over and not ended.driver_alive and ended.done == len(finished) and ended.left == 5 - len(finished)

    if sig == signal.SIGTERM:
        return  # the rerun is the same after either signal: once is enough for the suite's time
    again = _start(exp, store_dir, data_dir, "--jobs", "2")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    now = store.runs(status="finished")
    assert len(now) == 5 and finished <= {r.run_id for r in now}
    assert out.count("skipped (already finished)") == len(finished)  # only the missing cells trained
    assert (sweep_status(store, "stop").done, sweep_status(store, "stop").left) == (5, 0)


def _children(pid: int) -> list[str]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append((stat.parent / "cmdline").read_bytes().decode(errors="replace"))
        except (OSError, IndexError, ValueError):
            continue
    return out


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads worker processes from /proc")
def test_ctrl_c_while_workers_start_ends_the_sweep(tmp_path: Path, data_dir: Path) -> None:
    """Ctrl-C (SIGINT to the whole process group) while the workers still import torch: no worker
    dies mid-import and none takes a cell afterwards, so the driver exits promptly with 130."""
    exp = tmp_path / "stop.toml"
    exp.write_text(EXP)
    proc = _start(exp, tmp_path / "store", data_dir, "--jobs", "2", session=True)
    _wait(proc, "two workers", lambda: sum("spawn_main" in c for c in _children(proc.pid)) >= 2)
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 130 and time.monotonic() - sent < 90, err
    assert "Traceback" not in err and "interrupted" in err, err
    store = RunStore(tmp_path / "store")
    assert store.runs(status="running") == [] and len(store.runs(status="finished")) < 5


def test_watch_cli_follows_an_ended_sweep_and_rejects_bad_input(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    store = RunStore(tmp_path / "store")
    write_plan(store.root, "sw", [("a", "k1")])
    _run(store, "a", "k1", "finished", 0.75, took=1)
    assert main(["watch", "sw", "--store", str(store.root), "--interval", "0.1"]) == 0
    assert "sw: 1/1 done, 0 running, 0 left, leader a 75.00% test acc (1 run)" in capsys.readouterr().out
    # new-user finding (helper-102): a --quick smoke check's leader read as the experiment's
    write_plan(store.root, "sw", [("a", "k1")], quick=True)
    assert main(["watch", "sw", "--store", str(store.root), "--interval", "0.1"]) == 0
    assert "sw (a --quick smoke check: its figures are no result): 1/1 done" in capsys.readouterr().out

    assert main(["watch", "nope", "--store", str(store.root)]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error:") and "nope" in err and err.count("\n") == 1
    assert main(["watch", "sw", "--store", str(tmp_path / "missing")]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: no run store") and err.count("\n") == 1
    assert main(["watch", "sw", "--store", str(store.root), "--interval", "0"]) == 2
    assert "interval" in capsys.readouterr().err


def test_watch_of_runs_no_sweep_planned_does_not_ask_to_run_a_sweep_again(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """helper-146: `watch` of an interrupted `mnistlab train` run (runs with no plan) said "the
    sweep's driver has ended with 1 cell left: run it again to finish it": there is no sweep."""
    store = RunStore(tmp_path / "store")
    rid = _run(store, "a", "k1", "interrupted", took=1)
    assert main(["watch", rid, "--store", str(store.root), "--interval", "0.1"]) == 0
    out, err = capsys.readouterr()
    assert "sw: 0/1 done, 0 running, 1 stopped" in out and "driver" not in err and err == (
        "1 run of sw ended without a result and no sweep is planned to train it (`mnistlab train` runs): `mnistlab "
        "runs -e sw` lists the runs, `mnistlab show RUN_ID` says how each ended\n")
    from mnistlab.live import end_plan

    write_plan(store.root, "sw", [("a", "k1")])  # a sweep's plan, its driver ended: run it again
    end_plan(store.root, "sw")
    assert main(["watch", "sw", "--store", str(store.root), "--interval", "0.1"]) == 0
    assert "the sweep's driver has ended with 1 cell left: run it again" in capsys.readouterr().err


def test_watch_in_a_pipe_prints_whole_lines_not_wrapped_at_80_columns(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    store = RunStore(tmp_path / "store")
    name = "a-variant-with-a-name-long-enough-to-push-the-summary-past-eighty-columns"
    write_plan(store.root, "sw", [(name, "k1")])
    _run(store, name, "k1", "finished", 0.75, took=1)
    assert main(["watch", "sw", "--store", str(store.root), "--interval", "0.1"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1 and len(out.splitlines()[0]) > 100, out
    assert f"leader {name} 75.00% test acc (1 run)" in out


def test_an_interrupted_run_shows_no_test_accuracy(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "store")
    rid = store.start_run(experiment="sw", variant="a", seed=0, member=0, config={"train": {"epochs": 4}},
                          config_hash="k1")
    store.finish_run(rid, status="interrupted", history=[{"epoch": 1}], metrics={"test_accuracy": 0.42}, env={})
    line = cell_line(store.get(rid), position=(1, 3))
    assert "42.0" not in line and "test acc" not in line  # 42.0%, not a run id that happens to hold "42"
    assert line.endswith("a  seed 0: interrupted after 1 of 4 epochs, no result yet (run it again to train it)")
    tested = store.start_run(experiment="sw", variant="b", seed=0, member=0, config={"train": {"epochs": 2}},
                             config_hash="k2")  # stopped in its test pass, its 2 epochs in the checkpoint
    store.finish_run(tested, status="interrupted", history=[{"epoch": 1}, {"epoch": 2}],
                     metrics={"test_accuracy": None, "checkpoint_epoch": 2}, env={},
                     message="interrupted before its test pass")
    assert cell_line(store.get(tested)).endswith("b  seed 0: interrupted while testing after 2 of 2 epochs, no result "
                                                 "yet (run it again to test it)")  # not "continue from epoch 3"


STOPPED = """
name = "stopped"
[base]
dataset = "mnist"
model = { dense = [64] }
[base.data]
subset = 3000
[base.train]
epochs = 6
batch_size = 32
[[variants]]
name = "first"
[[variants]]
name = "second"
repeats = 2
"train.lr" = 0.02
[[variants]]
name = "third"
"train.lr" = 0.01
"""


def test_a_stopped_sweep_lists_every_variant_and_its_interrupted_cell_is_not_scored(
        tmp_path: Path, data_dir: Path, capsys) -> None:  # noqa: ANN001
    """Ctrl-C during the first cell: its line shows no test accuracy (its weights are partial), and
    the table lists every variant, each saying what was interrupted or not started."""
    import threading

    exp = tmp_path / "stopped.toml"
    exp.write_text(STOPPED)
    store_dir = tmp_path / "store"

    def interrupt_mid_cell() -> None:  # what Ctrl-C does: KeyboardInterrupt in the main thread, mid-epoch
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if _rows(store_dir / "runs.sqlite", "SELECT 1 FROM runs WHERE status = 'running' AND history != '[]'"):
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.02)

    helper = threading.Thread(target=interrupt_mid_cell)
    helper.start()
    try:
        with pytest.raises(SystemExit) as stopped:  # in this process main() leaves the exit to the caller
            main(["run", str(exp), "--store", str(store_dir), "--data-dir", str(data_dir)])
    finally:
        helper.join()
    out, err = capsys.readouterr()
    assert stopped.value.code == 130, err
    first = next(line for line in out.splitlines() if "  first  " in line)
    # 1 epoch, or 0 where the Ctrl-C landed in the epoch-end callbacks, after the progress write the
    # helper waits for: that epoch is not complete (the trainer keeps the epochs it finished whole); on
    # a busy runner the signal may reach the main thread an epoch or more later (CI: 2), never at the end
    assert re.search(r"interrupted after [0-5] of 6 epochs, no result yet", first) and "test acc" not in first, first
    table = out[out.index("stopped\nvariant"):]
    rows = {line.split()[0]: line for line in table.splitlines()[2:] if line.strip()}
    assert set(rows) == {"first", "second", "third"}, table
    assert "no result: 1 interrupted" in rows["first"] and rows["first"].count("interrupted") == 1  # said once
    assert "stopped: 2 not started" in rows["second"]
    assert "stopped: 1 not started" in rows["third"]
    assert err.splitlines()[-1] == ("interrupted by SIGINT: 0 of 4 runs of stopped finished and recorded, 0 failed, the "
                                    "running ones here recorded as interrupted; 4 left: run the same command again to "
                                    "train them (one stopped in training goes on from its last checkpoint, if it "
                                    "reached one)")  # of the store's cells, as `watch` counts them (helper-123)


def test_the_first_driver_to_finish_says_which_cells_another_still_trains(tmp_path: Path, data_dir: Path,
                                                                          capsys) -> None:  # noqa: ANN001
    exp = tmp_path / "two.toml"
    exp.write_text(STOPPED.replace("epochs = 6", "epochs = 1").replace("subset = 3000", "subset = 120"))
    store_dir = tmp_path / "store"
    # Another driver (a live process) claims the cell of variant "third" and keeps training it.
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from mnistlab.experiments import load_experiment; from mnistlab.run import Recorder; "
        "from mnistlab.store import RunStore; c = load_experiment(sys.argv[1]).cells()[-1]; "
        "r, _ = Recorder.claim(RunStore(sys.argv[2]), experiment=c.experiment, variant=c.variant, config=c.config, "
        "seed=c.seed, member=c.member, repeat=c.repeat); print(r.run_id, flush=True); time.sleep(120)"),
        str(exp), str(store_dir)], stdout=subprocess.PIPE, text=True)
    try:
        held = holder.stdout.readline().strip() if holder.stdout else ""
        assert held, "the other driver did not claim its cell"
        assert main(["run", str(exp), "--store", str(store_dir), "--data-dir", str(data_dir)]) == 0
        out, err = capsys.readouterr()
        assert f"1 cell still running in another process (pid {holder.pid}): the table leaves them out" in err, err
        assert "third" not in out.split("stopped\nvariant")[1]  # the table: the cells recorded
    finally:
        holder.kill()
        holder.wait()


# ------------------------------------------------------------------- new-user check (issue 18)
def _trial_run(store: RunStore, number: int, value: float, test_acc: float) -> None:
    """A search trial's run as record_trial leaves it."""
    rid = store.start_run(experiment="sw", variant=f"trial-{number:04d}", seed=0, member=0,
                          config={"train": {"epochs": 2}}, config_hash=f"k{number}")
    store.finish_run(rid, status="finished", history=[], env={},
                     metrics={"test_accuracy": test_acc, "trial": number, "trial_state": "complete",
                              "search_metric": "val_accuracy", "search_direction": "maximize", "search_value": value})


def test_watch_on_a_search_leads_by_the_searchs_metric_and_counts_its_trials(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "store")
    write_plan(store.root, "sw", [], trials=4)  # what run_search writes: no cells, its number of trials
    _trial_run(store, 0, 0.80, 0.99)  # the best test accuracy, the worse validation accuracy
    _trial_run(store, 1, 0.95, 0.90)
    status = sweep_status(store, "sw")
    assert (status.total, status.done, status.left) == (4, 2, 2) and not status.over  # between two trials
    assert status.leader is not None and status.leader[0] == "trial-0001"
    assert "leader trial-0001 val_accuracy 0.9500 (the search's metric)" in summary(status)


def test_watch_waits_for_a_sweep_not_started_yet(tmp_path: Path) -> None:
    exp = tmp_path / "later.toml"
    exp.write_text('name = "later"\n[base]\ndataset = "mnist"\nmodel = { dense = [8] }\n')
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "mnistlab", "watch", str(exp), "--store", str(tmp_path / "none"),
                             "--interval", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stderr.readline()  # type: ignore[union-attr]
        assert line == f"waiting for {exp} to start... (Ctrl-C stops)\n"
        time.sleep(0.5)
        assert proc.poll() is None  # still waiting
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert main(["watch", "later", "--store", str(tmp_path / "none"), "--no-wait"]) == 2  # a bare name: at once


def test_a_searchs_interrupted_trial_is_not_one_more_left(tmp_path: Path) -> None:
    """Review finding: a trial stopped by Ctrl-C is asked again under a new number; its
    interrupted run made watch count 3 of 2 trials and say one was left."""
    store = RunStore(tmp_path / "store")
    write_plan(store.root, "srch", [], trials=2)
    stopped = store.start_run(experiment="srch", variant="trial-0000", seed=0, member=0, config={}, config_hash="k0")
    store.finish_run(stopped, status="interrupted", history=[], metrics={}, env={})
    for number in (1, 2):
        rid = store.start_run(experiment="srch", variant=f"trial-{number:04d}", seed=0, member=0, config={},
                              config_hash=f"k{number}")
        store.finish_run(rid, status="finished", history=[{"epoch": 1, "val_accuracy": 0.5}], env={},
                         metrics={"trial": number, "trial_state": "complete", "search_metric": "val_accuracy",
                                  "search_direction": "maximize", "search_value": 0.5})
    status = sweep_status(store, "srch")
    assert (status.total, status.done, status.left) == (2, 2, 0) and status.over


def test_watch_of_a_search_file_whose_quick_study_alone_ran_says_so_instead_of_waiting(tmp_path: Path) -> None:
    """Review finding: `watch FILE` waited forever on any store error, hiding "give NAME-quick"."""
    store = RunStore(tmp_path / "store")
    rid = store.start_run(experiment="srch-quick", variant="trial-0000", seed=0, member=0, config={}, config_hash="k")
    store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.5}, env={})
    path = tmp_path / "srch.toml"
    path.write_text('name = "srch"\n[base]\ndataset = "mnist"\nmodel = { dense = [8] }\ndata = { validation = 0.2 }\n'
                    '[search]\n"train.lr" = { log_uniform = [1e-4, 1e-1] }\n')
    proc = subprocess.run([sys.executable, "-m", "mnistlab", "watch", str(path), "--store", str(store.root)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "give srch-quick instead of the file" in proc.stderr and "waiting" not in proc.stderr


def test_watch_into_a_closed_pipe_stops_watching_and_leaves_the_sweep_alone(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "store")
    write_plan(store.root, "w", [("a", "k1"), ("b", "k2")], workers=1)  # its driver: this live process
    store.start_run(experiment="w", variant="a", seed=0, member=0, config={}, config_hash="k1")  # running here
    read, write = os.pipe()
    os.close(read)  # `| head -1` that has had its line
    proc = subprocess.Popen([sys.executable, "-m", "mnistlab", "watch", "w", "--store", str(store.root),
                             "--interval", "0.1"], stdout=write, stderr=subprocess.PIPE)
    os.close(write)
    _, err = proc.communicate(timeout=60)  # not watching on for as long as the sweep runs
    assert proc.returncode == 0 and err == b"", err
    assert [r.status for r in store.runs()] == ["running"]


def test_a_sweep_that_ended_is_no_longer_driven_though_its_process_lives(tmp_path: Path, data_dir: Path) -> None:
    """A notebook's kernel ran the sweep and lives on: `mnistlab rm -e` refused ("being trained
    now") and `watch` waited, for as long as the kernel lived."""
    from test_experiments import TINY, write

    from mnistlab.execute import run_experiment
    from mnistlab.live import driver_alive, end_plan

    store = RunStore(tmp_path / "s")
    write_plan(store.root, "other", [("a", "k")])
    assert driver_alive(read_plan(store.root, "other"))  # this process: alive, not ended
    end_plan(store.root, "other")
    assert not driver_alive(read_plan(store.root, "other"))
    run_experiment(write(tmp_path, TINY + '[[variants]]\nname = "a"\n'), store, data_dir=data_dir)
    plan = read_plan(store.root, "exp")
    assert plan is not None and plan["pid"] == os.getpid() and plan["ended"] >= plan["started"]
    assert not driver_alive(plan) and sweep_status(store, "exp").over


def test_a_plan_with_this_process_s_pid_that_it_did_not_write_is_a_dead_driver_s(tmp_path: Path) -> None:
    """A container started again gives `watch` the pid its killed driver had: the plan that driver
    left is not this process's sweep (watch waited for ever)."""
    import json

    from mnistlab.live import _plan_path, driver_alive

    store = RunStore(tmp_path / "s")
    _plan_path(store.root, "left").parent.mkdir(parents=True, exist_ok=True)
    _plan_path(store.root, "left").write_text(json.dumps({"experiment": "left", "cells": [], "workers": 1,
                                                          "started": 0.0, "pid": os.getpid(), "host": socket.gethostname(),
                                                          "trials": 0}))
    assert not driver_alive(read_plan(store.root, "left"))
    write_plan(store.root, "mine", [("a", "k")])
    assert driver_alive(read_plan(store.root, "mine"))


def test_compare_early_in_a_sweep_points_to_watch_not_to_a_second_run(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """helper-114: `compare NAME` of a sweep whose runs were all training said only "nothing to
    compare", and `compare FILE` advised `mnistlab run FILE`: a second driver beside the first."""
    store = RunStore(tmp_path / "store")
    _run(store, "a", "k1", history=[{"epoch": 1, "epochs": 4, "val_accuracy": 0.5}])  # this process: alive
    assert main(["compare", "sw", "--store", str(store.root)]) == 2
    assert capsys.readouterr().err == ("error: nothing to compare for experiment 'sw' yet: its 1 run is still running; "
                                       f"`mnistlab watch sw --store {store.root}` follows it\n")
    exp = tmp_path / "sw.toml"
    exp.write_text('name = "sw"\n[base]\ndataset = "mnist"\nmodel = { dense = [8] }\n[[variants]]\nname = "a"\n')
    assert main(["compare", str(exp), "--store", str(store.root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith(f"1 still running: `mnistlab watch {exp} --store {store.root}` "
                                                  "follows it\n"), err
    assert "mnistlab run" not in err


def test_the_live_table_on_a_narrow_terminal_leaves_columns_out_not_cells_cut(tmp_path: Path) -> None:
    """helper-116: at 60 columns watch's table cut every cell to "…" ("s… │ m… │ e…")."""
    from rich.cells import cell_len

    store = RunStore(tmp_path / "store")
    rid = _run(store, "lr=0.001,dropout=0.25", "k1", history=[{"epoch": 3, "epochs": 10, "val_accuracy": 0.875}])
    status = sweep_status(store, "sw")
    for width in (60, 40):
        console = Console(width=width, record=True, file=io.StringIO())
        console.print(render(status))
        text = console.export_text()
        lines = text.splitlines()
        assert "…" not in text and max(cell_len(line) for line in lines) <= width, text
        assert rid in text and "3/10" in text, text  # the run whole, and its epoch
    wide = _render(status)
    assert "87.50%" in wide and "member" in wide and "lr=0.001,dropout=0.25" in wide


def test_a_killed_sweeps_time_ends_with_its_last_epoch_not_when_a_look_found_it(tmp_path: Path) -> None:
    """helper-116: after `kill -9` of a driver, watch said "elapsed 0:39" of a sweep that ran 9 s:
    its run's end was the time a later look found its process gone."""
    store = RunStore(tmp_path / "store")
    started = time.time() - 600
    write_plan(store.root, "sw", [("a", "k1"), ("a", "k2")], workers=1, started=started)
    rid = _run(store, "a", "k1", history=[{"epoch": 1, "epochs": 4, "epoch_seconds": 4.0},
                                          {"epoch": 2, "epochs": 4, "epoch_seconds": 5.0}])
    [path] = (store.root / "sweeps").glob("*.json")
    path.write_text(json.dumps({**read_plan(store.root, "sw"), "pid": _dead_pid()}))  # the driver: killed
    con = sqlite3.connect(store.db_path)
    con.execute("UPDATE runs SET pid = ?, created_at = ? WHERE run_id = ?", (_dead_pid(), started, rid))
    con.commit()
    con.close()
    assert store.mark_stale() == 1  # a look, 600 s on: its end is unrecorded
    s = sweep_status(store, "sw")
    assert not s.driver_alive and s.eta is None and s.elapsed == pytest.approx(9.0, abs=0.5), s.elapsed


def test_a_run_sent_to_ray_and_not_started_shows_queued_until_its_worker_begins(tmp_path: Path) -> None:
    """Note 40: a cell a Ray driver had sent showed as running, epoch 0, while the cluster's
    resources were taken by other jobs. The driver marks it queued; its worker's start clears it."""
    from mnistlab.live import epochs_said, progress_said

    store = RunStore(tmp_path / "store")
    write_plan(store.root, "sw", [("a", "k1"), ("b", "k2"), ("c", "k3")], workers=2, started=time.time() - 5)
    waiting, training = _run(store, "a", "k1"), _run(store, "b", "k2", history=[{"epoch": 1, "epochs": 4}])
    store.mark_queued([waiting, training])
    store.mark_queued([training], queued=False)  # its worker began
    s = sweep_status(store, "sw")
    assert [(c.variant, c.queued) for c in s.running] == [("a", True), ("b", False)]
    assert summary(s).startswith("sw: 0/3 done, 1 running, 1 queued, 1 left, elapsed")
    assert epochs_said(s) == "; running b seed 0 epoch 1/4"
    table = _render(s)
    assert re.search(r"\ba\s.*\bqueued\b", table) and re.search(r"\bb\s.*\b1/4\b", table), table
    assert progress_said(store.get(waiting), time.time()).startswith("progress none yet: 0:0")
    assert progress_said(store.get(training), time.time()).startswith("progress epoch 1 of 4")
    store.record_progress(waiting, [{"epoch": 1, "epochs": 4}])  # a worker's epoch: no longer queued, whatever the message
    assert not any(c.queued for c in sweep_status(store, "sw").running)
    store.finish_run(waiting, status="finished", history=[], metrics={"test_accuracy": 0.5}, env={})
    store.mark_queued([waiting])  # an ended run is left alone
    assert store.get(waiting).message == ""


def test_a_dead_run_in_a_store_that_cannot_be_written_is_shown_ended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """helper-189: while the disk stayed full (or on a read-only mount) a run whose process had died
    stayed "running" in `runs`, `show` (the progress of process N) and `compare` ("1 more run
    training now"): it could not be marked interrupted. Its reads give it as interrupted all the same."""
    from conftest import read_only_store

    store = RunStore(tmp_path)
    done = _run(store, "a", "k1", "finished", 0.9)
    dead = _run(store, "a", "k2")
    store.close()
    with sqlite3.connect(tmp_path / "runs.sqlite") as con:
        con.execute("UPDATE runs SET pid = ? WHERE run_id = ?", (_dead_pid(), dead))
    con.close()
    with read_only_store(tmp_path, monkeypatch):
        assert main(["runs", "--format", "json", "--store", str(tmp_path)]) == 0
        statuses = {r["run_id"]: r["status"] for r in json.loads(capsys.readouterr().out)}
        assert statuses == {done: "finished", dead: "interrupted"}
        assert main(["runs", "--status", "running", "--format", "json", "--store", str(tmp_path)]) == 0
        assert json.loads(capsys.readouterr().out) == []
        assert main(["show", dead, "--store", str(tmp_path)]) == 0
        assert "status interrupted: the process running it ended" in capsys.readouterr().out
    assert main(["runs", "--store", str(tmp_path)]) == 0  # written once it can be
    assert RunStore(tmp_path).get(dead).status == "interrupted"


def test_watch_of_an_ended_sweep_waits_for_its_next_run_with_wait_or_an_edited_file(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """Note 55 (helper-234): `watch FILE` started before `run --force` (or before running a file
    edited since its last sweep) showed the old sweep done and exited at once."""
    from mnistlab.experiments import load_experiment
    from mnistlab.live import end_plan

    exp = tmp_path / "sw.toml"
    exp.write_text('name = "sw"\n[base]\ndataset = "mnist"\nmodel = { dense = [8] }\n')
    store = RunStore(tmp_path / "store")
    (cell,) = load_experiment(exp).cells()
    write_plan(store.root, "sw", [("base", cell.key)], started=time.time() - 60)
    _run(store, "base", cell.key, "finished", 0.75, took=1)
    end_plan(store.root, "sw")
    assert main(["watch", str(exp), "--store", str(store.root), "--interval", "0.1"]) == 0  # unchanged: shown, left
    out, err = capsys.readouterr()
    assert "sw: 1/1 done" in out and err == "sw's last sweep has ended (--wait waits for its next `mnistlab run`)\n"
    assert main(["watch", "sw", "--store", str(store.root), "--interval", "0.1"]) == 0  # a name: no hint
    assert capsys.readouterr().err == ""

    def watching(*flags: str) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        proc = subprocess.Popen([sys.executable, "-m", "mnistlab", "watch", str(exp), "--store", str(store.root),
                                 "--interval", "0.1", *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env)
        assert proc.stderr is not None
        assert proc.stderr.readline() == "sw's last sweep has ended: waiting for its next `mnistlab run`... (Ctrl-C stops)\n"
        time.sleep(1.0)
        assert proc.poll() is None  # still waiting
        return proc

    proc = watching("--wait")
    try:
        write_plan(store.root, "sw", [("base", cell.key)], force=True)  # `run --force` starts: this process drives it
        rid = _run(store, "base", cell.key)
        time.sleep(1.0)
        assert proc.poll() is None  # now following the new sweep
        store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.5}, env={})
        end_plan(store.root, "sw")
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "sw: 1/1 done, 0 running, 0 left, leader base 50.00%" in out.splitlines()[-1], out

    exp.write_text('name = "sw"\n[base]\ndataset = "mnist"\nmodel = { dense = [16] }\n')  # edited: a new cell
    proc = watching()
    try:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert main(["watch", str(exp), "--store", str(store.root), "--no-wait"]) == 0  # never waits
