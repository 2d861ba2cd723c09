"""A live view of a running sweep, read from the run store alone.

While cells train, each worker writes its run's history as its epochs end, at most every
:data:`PROGRESS_EVERY_S` seconds (:class:`EpochProgress`), and the driver writes the sweep's plan (its cells, workers and start
time) beside the database (:func:`write_plan`). :func:`sweep_status` reads both back into a
:class:`SweepStatus`: cells done / running / left, failures, the current leader, elapsed time and
an ETA. :func:`render` draws it as one compact rich table (what `mnistlab run` shows in place on a
terminal and `mnistlab watch` shows from another terminal); :func:`cell_line` is the one line per
finished cell written instead where nothing can update in place (a log file, CI, a notebook).

Everything here is a plain function of the store, so it is tested by rendering to a
``rich.console.Console(file=io.StringIO())``::

    status = sweep_status(RunStore("runs"), "fast")
    Console().print(render(status))
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnistlab.callbacks import Callback
from mnistlab.comparison import columns_that_fit, counts_over
from mnistlab.errors import MnistlabError
from mnistlab.files import write_atomic
from mnistlab.stats import mean_sd
from mnistlab.store import ENDED, QUEUED, RESULT_STATUSES, RunRecord, RunStore, epochs_trained, process_holds, run_alive

PLAN_DIR = "sweeps"  # under the store root: one small JSON file per experiment
# Seconds between two progress writes of one run. Each write is a SQLite commit and a small file,
# some 35 ms: once per 1.3 s dense epoch it cost 3% of the run (bench/bench_train_record.py).
PROGRESS_EVERY_S = 2.0


# ------------------------------------------------------------------------- worker side
class EpochProgress(Callback):
    """Writes a running run's epochs so far into its store row as they end, so the driver and
    `mnistlab watch` see which epoch each cell is on, and a run killed outright keeps them.

    The first epoch is written at once, later ones at most every ``every_s`` seconds (the epochs
    between wait for the next write), and whatever is unwritten when the fit ends, however it
    ends, is written then. A store that is busy or gone is ignored: progress is never worth
    failing a run for."""

    def __init__(self, store: RunStore, run_id: str, every_s: float = PROGRESS_EVERY_S) -> None:
        self.store, self.run_id, self.every_s = store, run_id, every_s
        self.history: list[dict[str, Any]] = []
        self._written, self._written_at = 0, -math.inf  # epochs in the row, and when (time.monotonic)
        self._began: float | None = None  # the running epoch's start (time.perf_counter)

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._began = time.perf_counter()  # the epoch's own seconds, which its logs do not hold yet (helper-242)
        if epoch > 0 and not self.history:  # a run resumed from a checkpoint: its epochs so far, at once
            self.history = [self._entry(h) for h in self.trainer.history[:epoch]]
            self._write()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        took = {"epoch_seconds": time.perf_counter() - self._began} if self._began is not None else {}
        self.history.append(self._entry({**(logs or {}), **took, "epoch": epoch + 1}))
        if time.monotonic() - self._written_at >= self.every_s:
            self._write()

    def close(self) -> None:
        if self._written < len(self.history):  # the epochs since the last write
            self._write()

    def _entry(self, logs: Mapping[str, Any]) -> dict[str, Any]:
        entry = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float)) and k != "epoch"}
        return {"epoch": int(logs["epoch"]), "epochs": int(self.params.get("epochs", 0) or 0), **entry}

    def _write(self) -> None:
        self._written, self._written_at = len(self.history), time.monotonic()
        try:
            self.store.record_progress(self.run_id, self.history)
        except MnistlabError:
            pass


# --------------------------------------------------------------------------- the plan
def _plan_path(root: str | os.PathLike, experiment: str) -> Path:
    digest = hashlib.sha256(experiment.encode()).hexdigest()[:16]  # any name, a safe file name
    return Path(root) / PLAN_DIR / f"{digest}.json"


# The experiments this process wrote a plan for: a plan with this process's pid that is not among
# them was an earlier process's of the same pid, which has ended (store.process_holds).
_PLANNED_HERE: set[str] = set()


def write_plan(root: str | os.PathLike, experiment: str, cells: Sequence[tuple[str, str]], *, workers: int = 1,
               started: float | None = None, trials: int = 0, quick: bool = False, force: bool = False) -> None:
    """Record the sweep a driver is about to run: its cells as ``(variant, config key)`` pairs,
    how many workers, when it started, the driver's pid and host, and whether it is a ``--quick``
    smoke check or trains every cell again (``force``: its cells' earlier runs are not its progress);
    a search (whose trials are not known ahead) gives no cells but its number of ``trials``.
    Written atomically; a store that cannot be written to is ignored (the sweep itself reports that)."""
    _PLANNED_HERE.add(experiment)
    plan = {"experiment": experiment, "cells": [list(c) for c in cells], "workers": int(workers),
            "started": time.time() if started is None else started, "pid": os.getpid(), "host": socket.gethostname(),
            "trials": int(trials), "quick": bool(quick), "force": bool(force)}
    path = _plan_path(root, experiment)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda tmp: tmp.write_text(json.dumps(plan)), through=False)  # (a store's file: helper-188)
    except OSError:
        pass


@contextmanager
def planned(root: str | os.PathLike, experiment: str, cells: Sequence[tuple[str, str]], *,
            workers: int = 1, quick: bool = False, force: bool = False) -> Iterator[None]:
    """:func:`write_plan` for the block, then :func:`end_plan`, however the block ends."""
    write_plan(root, experiment, cells, workers=workers, quick=quick, force=force)
    try:
        yield
    finally:
        end_plan(root, experiment)


def end_plan(root: str | os.PathLike, experiment: str) -> None:
    """Mark this process's plan of ``experiment`` ended (its sweep returned or stopped): its driver,
    still alive (a notebook's kernel), then trains it no more (:func:`driver_alive`), so `mnistlab
    rm -e` and a new sweep need not wait for that process to end. Another process's plan is left."""
    plan = read_plan(root, experiment)
    if plan is None or plan.get("pid") != os.getpid() or plan.get("host") != socket.gethostname():
        return
    try:
        write_atomic(_plan_path(root, experiment), lambda tmp: tmp.write_text(json.dumps({**plan, "ended": time.time()})),
                     through=False)
    except OSError:
        pass


def remove_plan(root: str | os.PathLike, experiment: str) -> bool:
    """Delete the plan of ``experiment`` (its runs were deleted: `mnistlab rm -e`); False when there was none."""
    try:
        _plan_path(root, experiment).unlink()
    except OSError:
        return False
    return True


def read_plan(root: str | os.PathLike, experiment: str) -> dict[str, Any] | None:
    """The plan :func:`write_plan` recorded for ``experiment`` in the store at ``root``, or None;
    None too for a plan that is not what :func:`write_plan` writes (a damaged or hand-edited file:
    each key of its type), which is then as good as none."""
    try:
        plan = json.loads(_plan_path(root, experiment).read_text())
    except (OSError, ValueError):
        return None
    return plan if _well_formed(plan) and plan.get("experiment") == experiment else None


def _well_formed(plan: Any) -> bool:
    """Whether ``plan`` has :func:`write_plan`'s keys, each of its type (``ended``: when present)."""
    def whole(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    return (isinstance(plan, dict) and isinstance(plan.get("experiment"), str) and isinstance(plan.get("host"), str)
            and isinstance(plan.get("cells"), list)
            and all(isinstance(c, list) and len(c) == 2 and all(isinstance(x, str) for x in c) for c in plan["cells"])
            and whole(plan.get("workers")) and whole(plan.get("pid")) and whole(plan.get("trials", 0))
            and number(plan.get("started")) and (plan.get("ended") is None or number(plan["ended"])))


def driver_alive(plan: Mapping[str, Any]) -> bool:
    """Whether the driver that wrote ``plan`` still runs its sweep: not ended (:func:`end_plan`) and
    its process alive (another host: assumed so; this process's own pid: only for a plan it wrote)."""
    return plan.get("ended") is None and process_holds(int(plan.get("pid") or 0), str(plan.get("host")),
                                                       plan.get("experiment") in _PLANNED_HERE)


# ------------------------------------------------------------------------- the status
@dataclass(frozen=True)
class RunningCell:
    """One cell training now: its run, and its last epoch end (0 before the first)."""

    run_id: str
    variant: str
    seed: int
    member: int
    epoch: int
    epochs: int
    seconds: float  # since the run started
    val_accuracy: float | None
    queued: bool = False  # sent to Ray, no worker started yet (:data:`~mnistlab.store.QUEUED`)
    trained: float = 0.0  # the seconds its ended epochs took (their ``epoch_seconds``)

    @property
    def expected_seconds(self) -> float | None:
        """The whole run's seconds at its pace so far: its seconds now and the epochs left at that
        pace, less what the running epoch has done; None before its first epoch's end. The pace is
        its ended epochs' own seconds each (``trained / epoch``), not the time since its start over
        them (helper-174: that grew while an epoch ran, and the ETA with it). The time outside the
        ended epochs (setup, validation, the running epoch) counts as the running epoch's, up to one
        pace: between epochs the time left shrinks, or holds where setup took longer than an epoch
        (then it falls at each epoch's end). A resumed run's record holds epochs trained before its
        start (helper-180: 98 s left of 50): none of its time is then in the running epoch. A record
        without epoch times: by its start."""
        if not 0 < self.epoch <= self.epochs:
            return None
        if not self.trained:
            return self.seconds * self.epochs / self.epoch
        pace = self.trained / self.epoch
        running = min(max(self.seconds - self.trained, 0.0), pace)  # of the running epoch, at most one pace
        return self.seconds + max(0.0, pace * (self.epochs - self.epoch) - running)


@dataclass(frozen=True)
class SweepStatus:
    """Where a sweep stands. ``done`` counts finished and diverged cells (``diverged`` of them),
    ``failed`` failed ones, ``left`` those not started or interrupted; ``leader`` is ``(variant,
    mean test accuracy, runs)``, and their sd from 2 runs, over finished runs scored on one test set (None when they were
    scored on several: their accuracies do not compare; a search's: ``(trial variant, value, 1,
    metric)``, its best complete trial by the search's metric and direction); ``eta`` is None until
    a cell of this sweep has ended, and when its driver has ended (nothing will end)."""

    experiment: str
    total: int
    done: int
    failed: int
    running: tuple[RunningCell, ...]
    left: int
    leader: tuple[Any, ...] | None
    elapsed: float
    eta: float | None
    driver_alive: bool = True
    search: bool = False  # a search's trials (its plan counts trials; a trial has no seed or member to show)
    smoke: bool = False  # the plan's cells are a --quick smoke check's: their figures are no result
    diverged: int = 0  # of ``done``: scored as their weights ended, after a blow-up
    planned: bool = True  # a sweep's or search's plan was read; False: runs of `mnistlab train` (no file to run again)

    @property
    def over(self) -> bool:
        """No cell is running and none will: every cell ended, or the driver is gone."""
        return not self.running and (self.left == 0 or not self.driver_alive)


def sweep_status(store: RunStore, experiment: str, cells: Iterable[tuple[str, str]] | None = None, *,
                 started: float | None = None, workers: int | None = None, now: float | None = None) -> SweepStatus:
    """The status of ``experiment``'s sweep from the store: ``cells`` as ``(variant, config key)``
    pairs (None: the store's plan of the sweep, else every cell with a run). Each cell counts by
    its live ``running`` run while it trains, else by the run compare counts
    (:func:`~mnistlab.comparison.counts_over`: a failed or stopped rerun never hides a result); a
    cell whose only run is ``running`` in a process that died counts as left. ``started`` and
    ``workers`` default to the plan's (else the first run's start, and the running count). Of the
    plan of a sweep run with ``--force``, only the runs it started count (helper-173: its live header
    said "2/2 done" of the runs it was replacing, before anything trained)."""
    plan = read_plan(store.root, experiment)
    runs = store.runs(experiment=experiment)
    cells_from_plan = cells is None and bool(plan and plan["cells"])
    if cells_from_plan and plan and plan.get("force"):
        runs = [r for r in runs if r.created_at >= float(plan["started"])]
    if cells is None:
        cells = [tuple(c) for c in plan["cells"]] if plan and plan["cells"] else [(r.variant, r.config_hash) for r in runs]
    latest: dict[tuple[str, str], RunRecord] = {}
    counted: dict[tuple[str, str], RunRecord] = {}  # the ended run compare counts (comparison.counts_over)
    for r in runs:  # oldest first
        key = (r.variant, r.config_hash)
        latest[key] = r
        if r.status != "running" and (key not in counted or counts_over(r, counted[key])):
            counted[key] = r
    wanted = list(dict.fromkeys((str(v), str(k)) for v, k in cells))
    # a cell training now shows its live run; else it counts as compare counts it; else (only a
    # run whose process died) it is left
    def live(r: RunRecord | None) -> bool:
        return r is not None and r.status == "running" and run_alive(r.run_id, r.pid, r.host, r.created_at)

    recs = [latest[c] if live(latest.get(c)) else counted.get(c, latest.get(c)) for c in wanted]
    now = time.time() if now is None else now
    if started is None:
        started = float(plan["started"]) if plan else min((r.created_at for r in recs if r), default=now)
    running = tuple(running_cell(r, now) for r in recs if r is not None and live(r))
    done = sum(r is not None and r.status in RESULT_STATUSES for r in recs)
    failed = sum(r is not None and r.status == "failed" for r in recs)
    # A search counts its planned trials: a trial stopped by Ctrl-C is asked again under a new number,
    # so its interrupted run is not one more cell left.
    total = int(plan["trials"]) if plan and plan.get("trials") else len(wanted)
    left = max(0, total - done - failed - len(running))
    width = workers or (int(plan["workers"]) if plan else 0) or max(len(running), 1)
    search = bool(plan and plan.get("trials")) or any(r is not None and "trial" in (r.metrics or {}) for r in recs)
    alive = driver_alive(plan) if plan else bool(running)
    if not running and (not left or not alive):  # over, or stopped: its time ends with its last run, not at this look
        now = max((_ended_at(r) for r in recs if r is not None and r.finished_at), default=now)
    return SweepStatus(experiment, total, done, failed, running, left, _leader(recs), now - started,
                       None if left and not (alive or running) else _eta(recs, running, left, started, width), alive, search,
                       smoke=bool(plan and plan.get("quick") and cells_from_plan),
                       diverged=sum(r is not None and r.status == "diverged" for r in recs), planned=plan is not None)


def _ended_at(r: RunRecord) -> float:
    """When ``r`` ended: its recorded end, or for a run whose process died unrecorded (``kill -9``:
    its end is when a look found it, :data:`~mnistlab.store.ENDED`) its start plus its epochs' times."""
    if r.message != ENDED:
        return float(r.finished_at or r.created_at)
    return r.created_at + sum(float(h.get("epoch_seconds") or 0.0) for h in r.history or ())


def running_cell(r: RunRecord, now: float) -> RunningCell:
    """Where ``r`` (a ``running`` run) stands at ``now`` (epoch seconds): its last epoch's end of its
    epochs, and the seconds since it started."""
    last = r.history[-1] if r.history else {}
    epochs = int(last.get("epochs") or (r.config.get("train") or {}).get("epochs") or 0)
    val = last.get("val_accuracy")
    trained = sum(float(h["epoch_seconds"]) for h in r.history or () if isinstance(h.get("epoch_seconds"), (int, float)))
    return RunningCell(r.run_id, r.variant, r.seed, r.member, int(last.get("epoch") or 0), epochs,
                       max(0.0, now - r.created_at), float(val) if isinstance(val, (int, float)) else None,
                       queued=r.message == QUEUED and not r.history, trained=trained)


def _leader(recs: Sequence[RunRecord | None]) -> tuple[Any, ...] | None:
    if any(r is not None and "trial" in (r.metrics or {}) for r in recs):
        return _search_leader(recs)
    from mnistlab.comparison import scored_on_note

    scores: dict[str, list[float]] = {}
    scored = []
    for r in recs:
        acc = None if r is None or r.status != "finished" else r.metrics.get("test_accuracy")
        if r is not None and isinstance(acc, float):
            scores.setdefault(r.variant, []).append(acc)
            scored.append(r)
    if not scores or scored_on_note(scored):  # another dataset's (or test set's) accuracy is no rival
        return None
    best = max(scores, key=lambda v: mean_sd(scores[v])[0])
    accs = scores[best]  # (its sd, from 2 runs, is said beside it: a leader by seed noise shows so)
    mean, sd = mean_sd(accs)
    return best, mean, len(accs), *([sd] if sd is not None else [])


def _search_leader(recs: Sequence[RunRecord | None]) -> tuple[str, float, int, str] | None:
    """A search's best complete trial by the search's metric and direction: (variant, value, 1, metric)."""
    trials = [r.metrics for r in recs if r is not None and r.metrics.get("trial_state") == "complete"
              and isinstance(r.metrics.get("search_value"), (int, float))]
    if not trials:
        return None
    sign = -1.0 if trials[0].get("search_direction") == "minimize" else 1.0
    best = max(trials, key=lambda m: sign * float(m["search_value"]))
    return f"trial-{int(best['trial']):04d}", float(best["search_value"]), 1, str(best.get("search_metric"))


def _eta(recs: Sequence[RunRecord | None], running: Sequence[RunningCell], left: int, started: float,
         workers: int) -> float | None:
    """Seconds to go: the mean duration of this sweep's ended cells (before any has ended, of the
    running ones at their pace so far) times the cells left, and each running cell's time left at
    its own pace (:attr:`RunningCell.expected_seconds`; without its epochs' times, that mean times
    the share of its epochs left), spread over the workers."""
    took = [r.finished_at - r.created_at for r in recs
            if r is not None and r.finished_at and r.created_at >= started - 1 and r.status != "running"]
    if not took:  # before a cell has ended: the running cells' pace by their epochs (helper-123: "ETA ?" till then)
        took = [c.expected_seconds for c in running if c.expected_seconds is not None]
    if not took:
        return None if left or running else 0.0
    per_cell = sum(took) / len(took)  # a running cell's time left: at its own pace, else as the others took
    going = sum(max(0.0, c.expected_seconds - c.seconds) if c.trained and c.expected_seconds is not None
                else per_cell * (1 - c.epoch / c.epochs if c.epochs else 1.0) for c in running)
    return (per_cell * left + going) / max(workers, 1)


# ------------------------------------------------------------------------ drawing it
def clock(seconds: float | None) -> str:
    """``83.2`` -> ``"1:23"``, ``4000`` -> ``"1:06:40"``; None -> ``"?"``."""
    if seconds is None:
        return "?"
    s = int(round(max(seconds, 0.0)))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


def summary(status: SweepStatus) -> str:
    """The status in one line: counts, leader, elapsed and ETA."""
    name = f"{status.experiment} (a --quick smoke check: its figures are no result)" if status.smoke else status.experiment
    done = f"{status.done}/{status.total} done" + (f" ({status.diverged} diverged)" if status.diverged else "")
    queued = sum(c.queued for c in status.running)  # claimed and sent to Ray, waiting for a worker
    left = f"{status.left} {'stopped' if status.left and not status.planned else 'left'}"  # (runs of no sweep: none will
    parts = [f"{name}: {done}", f"{len(status.running) - queued} running", *([f"{queued} queued"] if queued else ()),
             left]  # train them, helper-147)
    if status.failed:
        parts.append(f"{status.failed} failed")
    if status.leader is not None and isinstance(status.leader[-1], str):  # a search: its best trial by its metric
        variant, value, _, metric = status.leader
        parts.append(f"leader {variant} {metric} {value:.4f} (the search's metric)")
    elif status.leader is not None:
        variant, acc, n = status.leader[:3]
        sd = f" +- {100 * status.leader[3]:.2f}" if len(status.leader) > 3 else ""  # (helper-146: the mean alone)
        parts.append(f"leader {variant} {100 * acc:.2f}%{sd} test acc ({n} run{'s' * (n != 1)})")
    parts.append(f"elapsed {clock(status.elapsed)}")
    if status.running or (status.left and status.driver_alive):  # a stopped sweep has no ETA
        parts.append(f"ETA {clock(status.eta)}")
    return ", ".join(parts)


def epochs_said(status: SweepStatus, most: int = 4) -> str:
    """Each running cell's epoch, as a pipe's line ends (helper-124: the table's column, missing in a
    log): ``"; running lr=0.01 seed 0 epoch 2/4, lr=0.1 seed 0 epoch 1/4"``, the first ``most``."""
    started = [c for c in status.running if not c.queued]
    cells = [f"{c.variant} seed {c.seed} epoch {c.epoch}/{c.epochs or '?'}" for c in started[:most]]
    more = ", ..." if len(started) > most else ""
    return f"; running {', '.join(cells)}{more}" if cells else ""


def render(status: SweepStatus) -> Any:
    """The status as one rich renderable: the :func:`summary` line over a table with a row per
    running cell (its run, variant, seed, member, epoch, last validation accuracy and time; a
    search's trials have no seed or member column), fitted when printed to the console's width:
    whole columns left out (member, seed, time, val acc, in that order), never a cell cut to "…"."""
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    heads = ["run", "variant", *(() if status.search else ("seed", "member")), "epoch", "val acc", "time"]
    rows = []
    for c in status.running:
        epoch = "queued" if c.queued else f"{c.epoch}/{c.epochs}" if c.epochs else str(c.epoch)
        val = "" if c.val_accuracy is None else f"{100 * c.val_accuracy:.2f}%"
        seeds = [] if status.search else [str(c.seed), str(c.member)]
        rows.append([c.run_id, c.variant, *seeds, epoch, val, clock(c.seconds)])
    if not status.running:
        rows.append(["", "(nothing running)" if status.over else "(starting)", *[""] * (len(heads) - 2)])
    widths = [max(cell_len(h), *(cell_len(r[i]) for r in rows)) + 3 for i, h in enumerate(heads)]

    class Fitted:
        def __rich_console__(self, console: Any, options: Any) -> Any:
            order = [heads.index(h) for h in ("member", "seed", "time", "val acc") if h in heads]
            keep = columns_that_fit(widths, order, options.max_width)
            table = Table(expand=False)
            for i in keep:
                table.add_column(heads[i], justify="left" if heads[i] in ("run", "variant") else "right",
                                 no_wrap=heads[i] == "run", overflow="fold")
            for r in rows:
                table.add_row(*(r[i] for i in keep))
            yield Text(summary(status), style="bold")
            yield table

    return Fitted()


class OutcomeLines:
    """Each ended cell's line of a sweep of ``total`` cells (:func:`outcome_line`), numbered
    ``[i/total]`` in the order they end; a cell that comes again (one another driver held and gave
    up, trained here after all) keeps its number. `mnistlab run`'s lines and ``run_experiment``'s."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.numbers: dict[int, int] = {}  # by the cell object's id: the driver's own cells

    def __call__(self, outcome: Any) -> str:
        number = self.numbers.setdefault(id(outcome.cell), len(self.numbers) + 1)
        return outcome_line(outcome, (number, self.total) if self.total > 1 else None)


def progress_said(r: RunRecord, now: float) -> str:
    """A running run's progress at ``now`` (epoch seconds), as `mnistlab show` says it (helper-123):
    ``progress epoch 2 of 6, 0:31 so far, about 1:02 left (at its pace so far), process 32161 on vm``."""
    cell = running_cell(r, now)
    if cell.queued:
        return f"progress none yet: {clock(cell.seconds)} waiting for a Ray worker (the cluster's resources are taken)"
    of = f" of {cell.epochs}" if cell.epochs else ""
    whole = cell.expected_seconds
    left = f", about {clock(whole - cell.seconds)} left (at its pace so far)" if whole is not None else ""
    return f"progress epoch {cell.epoch}{of}, {clock(cell.seconds)} so far{left}, process {r.pid} on {r.host}"


def outcome_line(outcome: Any, position: tuple[int, int] | None = None) -> str:
    """:func:`cell_line` for a sweep's :class:`~mnistlab.execute.CellOutcome`: a cell it did not
    train now says so ("skipped (already finished)", or "being trained by another process")."""
    rec, how = outcome.record, None
    if outcome.skipped:  # reused, or trained right now by another `mnistlab run` on this store
        where = "" if rec.host == socket.gethostname() else f" on host {rec.host}"  # a store on a shared disk
        how = (f"being trained by another process (pid {rec.pid}{where})" if rec.status == "running"
               else f"{rec.status}, the same run as {rec.env['same_run_as']} (not trained twice)"
               if rec.env.get("same_run_as") and getattr(outcome, "copied", False) else f"skipped (already {rec.status})")
    return cell_line(rec, how, position)


def cell_line(rec: RunRecord, how: str | None = None, position: tuple[int, int] | None = None) -> str:
    """One line for a cell that ended (where no table updates in place): ``[i/n]`` with
    ``position``, the run, its status (or ``how``, say "skipped (already finished)"), its test
    accuracy and, with no ``how``, the run's message. An interrupted run shows no test accuracy
    (that of its partial weights is no result) but the epochs it completed; a run that continued
    an interrupted one from its checkpoint says from which epoch."""
    acc = rec.metrics.get("test_accuracy") if rec.status != "interrupted" else None
    count = f"[{position[0]}/{position[1]}] " if position is not None else ""
    if rec.status == "interrupted" and how is None:
        epochs = int((rec.config.get("train") or {}).get("epochs") or 0)
        saved = rec.metrics.get("checkpoint_epoch")  # a sweep cell's: where the next run continues
        step = rec.metrics.get("checkpoint_step")  # ... inside the next epoch, after that many batches
        inside = f", batch {step + 1}" if isinstance(step, int) and step > 0 else ""
        then = ("run it again to train it" if not isinstance(saved, int) else
                "run it again to test it" if epochs and saved >= epochs and not inside else
                f"run it again to continue from epoch {saved + 1}{inside}" if saved > 0 or inside else
                "run it again to train it from the start: it stopped before its first checkpoint")
        testing = " while testing" if rec.message.endswith("interrupted before its test pass") else ""
        return (f"  {count}{rec.run_id}  {rec.variant}  seed {rec.seed}: interrupted{testing} after "
                f"{epochs_trained(rec)}, no result yet ({then})")
    resumed, step = rec.metrics.get("resumed_from_epoch"), rec.metrics.get("resumed_from_step")
    status = rec.status
    if isinstance(resumed, int) and isinstance(step, int) and step > 0:  # from a checkpoint inside an epoch
        status += f", resumed in epoch {resumed + 1} after batch {step}"
    elif isinstance(resumed, int) and resumed > 0:
        status += f", resumed after epoch {resumed}"
    if (resumed or step) and (before := rec.metrics.get("resumed_from_run")):
        status += f" of run {before}"
    return (f"  {count}{rec.run_id}  {rec.variant}  seed {rec.seed}: {how or status}"
            + (f", test acc {100 * acc:.2f}%" if isinstance(acc, float) else "")
            + (f" ({rec.message})" if rec.message and how is None else ""))


# ------------------------------------------------------------------ following a sweep
class LiveTable:
    """The in-place table of a sweep on a terminal: a thread reads the store (its own
    connection) every ``interval`` seconds, or at once after :meth:`poke`, and redraws.

    Use as a context manager around the sweep; ``console`` is a rich Console."""

    def __init__(self, console: Any, root: str | os.PathLike, experiment: str, interval: float = 1.0) -> None:
        from rich.live import Live

        self.root, self.experiment, self.interval = root, experiment, interval
        self.live = Live(console=console, auto_refresh=False, transient=False)
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mnistlab-live", daemon=True)

    def __enter__(self) -> LiveTable:
        self.live.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.live.stop()

    def poke(self) -> None:
        """Redraw now (a cell ended)."""
        self._wake.set()

    def _loop(self) -> None:
        try:
            with RunStore(self.root) as store:
                while True:
                    plan = read_plan(self.root, self.experiment)  # drawn once this sweep's plan is written: an
                    if plan is not None and plan.get("pid") == os.getpid():  # earlier one is of earlier runs
                        self.live.update(render(sweep_status(store, self.experiment)), refresh=True)  # (helper-174:
                    if self._stop.is_set():  # --force drew "2/2 done, leader ..." first)
                        return
                    self._wake.wait(self.interval)
                    self._wake.clear()
        except MnistlabError:  # the store went away: the sweep itself says so
            return


def watch(store: RunStore, experiment: str, console: Any, *, interval: float = 2.0, live: bool = True,
          max_seconds: float | None = None) -> SweepStatus:
    """Follow ``experiment``'s sweep from the store until it is :attr:`~SweepStatus.over` (or
    ``max_seconds`` pass); returns the last status. ``live``: one table updated in place (a
    terminal), else a summary line whenever it changes, however long (a pipe or log is not wrapped).
    Ctrl-C raises KeyboardInterrupt."""
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    status = sweep_status(store, experiment)
    if live:
        from rich.live import Live

        with Live(render(status), console=console, auto_refresh=False) as view:
            while not status.over and (deadline is None or time.monotonic() < deadline):
                time.sleep(interval)
                status = sweep_status(store, experiment)
                view.update(render(status), refresh=True)
        return status
    last = ""
    while True:
        line, epochs = summary(status), epochs_said(status)
        key = line.split(", elapsed")[0] + epochs
        if key != last:  # the counts, the leader or a running cell's epoch changed: not just the clock
            console.print(line + epochs, markup=False, highlight=False, soft_wrap=True)  # a plain line: never cut
            last = key
        if status.over or (deadline is not None and time.monotonic() >= deadline):
            return status
        time.sleep(interval)
        status = sweep_status(store, experiment)
