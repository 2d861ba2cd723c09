"""Running an experiment: every cell trained and recorded in the store, committees scored.

A *cell* (:class:`~mnistlab.experiments.Cell`) is a pure function of its resolved config, keyed by a
hash of that config and the mnistlab version. :func:`run_experiment` skips cells already finished
(or diverged) in the store (unless ``force``) and runs the rest through a :class:`Runner` (in this
process, ``jobs`` spawned processes, or Ray tasks: :class:`mnistlab.backends.RayRunner`). Once the
cells are done, every complete committee has its members' averaged softmax outputs scored
(:func:`evaluate_committees`), and the comparison rows (:mod:`mnistlab.comparison`) are returned.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import re
import shutil
import signal
import socket
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TextIO, TypeVar

import numpy as np

from mnistlab import accel
from mnistlab.accel.members import batch_refusal
from mnistlab.callbacks import Callback
from mnistlab.comparison import COLUMNS, Comparison, ComparisonRows, compare, table_notes
from mnistlab.config import (RunConfig, data_shuffled, is_model_checkpoint, parse_run_config, split_seed, test_seed,
                             with_threads)
from mnistlab.data.userdata import carves_test_split
from mnistlab.datasets import load_dataset
from mnistlab.errors import (CheckpointError, DataError, MnistlabError, ReportWarning, SpecError, SpecWarning, StoreError,
                             TrainingWarning, WorkerDied, clip, in_file_order, show_warning, together, toml_repr,
                             user_level)
from mnistlab.metrics import committee_probs
from mnistlab.experiments import Cell, Experiment, load_experiment, start_levels, variant_setting
from mnistlab.files import STOP_SIGNALS, PipeGuard, command_env, display_name, stop_signals_held
from mnistlab.live import EpochProgress, driver_alive, planned, read_plan, write_plan
from mnistlab.store import RESULT_STATUSES, CommitteeRecord, RunRecord, RunStore, run_alive
from mnistlab.run import Recorder, RunResult, run_config, run_data_mistakes, run_members, with_warnings_kept
from mnistlab.trainer import CHECKPOINT_FILE, STOPPED_BY, checkpoint_threads

DONE_STATUSES = RESULT_STATUSES  # cells with such a run are skipped unless force
# A cell's checkpoint goes when its run ends so, or was deleted (`mnistlab rm`) while it trained: rm said
# "the next `mnistlab run` trains that cell afresh", and the worker's later checkpoints must not make it resume
CHECKPOINT_ENDS = (*DONE_STATUSES, "deleted")
# A sweep cell writes its checkpoint once this many seconds have passed since the last one, at an
# epoch's end or after the batch where the time is up inside an epoch: an interrupted cell loses
# about this much training, and a sweep of second-long epochs does not spend its time writing
# checkpoints (Keras's BackupAndRestore writes one every epoch, or every ``save_freq`` batches).
CHECKPOINT_EVERY = 60.0


def checkpoint_every() -> float:
    """Seconds between a sweep cell's checkpoints: ``MNISTLAB_CHECKPOINT_EVERY`` when set (0: every
    epoch), else :data:`CHECKPOINT_EVERY`. Raises SpecError for a value that is not a number >= 0."""
    raw = os.environ.get("MNISTLAB_CHECKPOINT_EVERY", "").strip()
    if not raw:
        return CHECKPOINT_EVERY
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise SpecError(f"MNISTLAB_CHECKPOINT_EVERY: expected seconds between checkpoints (a number >= 0), got {raw[:40]!r}")
    return seconds

# ---------------------------------------------------------------------------------- runners
T = TypeVar("T")
R = TypeVar("R")


class Runner(Protocol):
    """Where cells run. ``map`` calls ``fn`` on every item and yields ``(item, result)`` as each
    finishes (any order). The local runners are below. A runner may also have ``run_cells(tasks)``
    yielding ``(task, [(run_id, status)...])`` as :func:`execute_cell` returns them: then the sweep
    uses it instead of ``map`` (:class:`mnistlab.backends.RayRunner`: the driver claims and records,
    the workers only train)."""

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[T, R]]: ...


class InlineRunner:
    """Runs cells one by one in this process (Ctrl-C reaches the training loop directly)."""

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[T, R]]:
        for item in items:
            yield item, fn(item)


def worker_result(fut: Future[R]) -> R:
    """A finished pool task's result (its exception raised here), or :class:`~mnistlab.errors.WorkerDied`
    where its worker was killed (the pool then ends its others too). The cells' pool and a search's
    trials' pool both read their tasks through it."""
    try:
        return fut.result()
    except BrokenProcessPool:
        time.sleep(0.5)  # a Ctrl-C to the process group (which also ends an idle worker) reaches us meanwhile: a stop
        raise WorkerDied() from None


class ProcessRunner:
    """Runs cells in ``jobs`` spawned processes (spawn: safe with torch's threads).

    Stopping (Ctrl-C, SIGTERM, or an exception here) forwards SIGINT to every worker: each records
    the run it is training as ``interrupted`` and takes no further cell (:func:`init_worker`), so
    the pool's shutdown returns in seconds instead of waiting for the running cells to finish.
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[T, R]]:
        """Yield ``(item, fn(item))`` as each worker finishes; a worker's exception is raised here, and
        :class:`~mnistlab.errors.WorkerDied` for a worker that was killed."""
        try:
            os.getcwd()
        except FileNotFoundError:  # each worker would die importing torch, a traceback apiece (helper-189)
            raise MnistlabError("the current folder no longer exists (deleted while the sweep started?): worker "
                                "processes cannot start in it; cd to one that does, then run again (what ended is "
                                "recorded)") from None
        quiet_resource_tracker()
        pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=init_worker, initargs=(os.getpid(),))
        complete = False
        try:
            # The workers start with INT and TERM blocked (a signal mask survives exec) until
            # init_worker has installed its handler: a Ctrl-C while one imports torch waits
            # for the handler instead of killing it and breaking the pool.
            with stop_signals_held():
                pending = {pool.submit(fn, item): item for item in items}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    got = worker_result(fut)
                    yield pending.pop(fut), got
            complete = True
        finally:
            with stop_signals_held(drop=not complete):  # stopping: a Ctrl-C more waits for the workers' records too
                if not complete:
                    stop_workers(pool)
                pool.shutdown(wait=True, cancel_futures=True)


def quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (if this process has none yet) with its
    end-of-life warning off. The pool's locks are spawn-context semaphores the tracker unlinks when
    the driver dies without doing so itself (``kill -9``); it does that cleanup either way, but
    also warns "There appear to be N leaked semaphore objects" on the terminal after the prompt has
    returned, about a cleanup nobody needs to act on. The tracker takes its warning filters from
    the interpreter flags of the process that starts it (``sys.warnoptions``)."""
    from multiprocessing import resource_tracker

    quiet = "ignore:resource_tracker:UserWarning"
    added = quiet not in sys.warnoptions
    if added:
        sys.warnoptions.append(quiet)
    try:
        resource_tracker.ensure_running()
    finally:
        if added:
            sys.warnoptions.remove(quiet)




def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Tell every worker of ``pool`` (started with :func:`init_worker`) to stop: SIGINT, which
    stops the task it trains as Ctrl-C does (recorded ``interrupted``) and lets it take no other."""
    # The executor keeps its worker processes in a private dict; there is no public way to reach them.
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            os.kill(proc.pid, signal.SIGINT)
        except (ProcessLookupError, TypeError):  # already gone, or never started (pid None)
            pass


# In a worker process: set once the worker is told to stop (SIGINT or SIGTERM); it then takes no
# new cell. While a cell trains (_training) the first such signal also raises KeyboardInterrupt,
# which the training loop turns into an "interrupted" run; anywhere else (importing torch, between
# cells, recording a result) it only sets the flag, so the worker never dies mid-way.
_stopping = False
_training = False
_busy = False  # between claiming a task's cells and recording them (the worker must not end then)
_driver_gone = False  # the driver that started this worker has ended


def _on_stop_signal(signum: int, frame: FrameType | None) -> None:
    global _stopping
    first, _stopping = not _stopping, True
    if first and _training:
        raise KeyboardInterrupt


def init_worker(driver: int | None = None) -> None:
    """Each worker process's start (the initializer of a pool of sweep cells or search trials):
    install the stop handler and the watch on the driver (the process ``driver``, the pool's
    maker; default the parent now), then unblock the stop signals (a pool's workers are started
    inside :func:`~mnistlab.files.stop_signals_held`). The driver's pid comes from the driver: a
    ``kill -9`` of it while this worker started left the worker watching init, its parent by
    then, and training on forever (helper-167)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _on_stop_signal)
    warnings.showwarning = show_warning  # a spec warning (a resumed cell's) as the CLI shows it
    sys.stdout, sys.stderr = PipeGuard(sys.stdout), PipeGuard(sys.stderr)  # a closed pipe never fails a cell
    threading.Thread(target=_end_with_driver, args=(os.getppid() if driver is None else driver,), daemon=True,
                     name="driver-watch").start()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


ORPHAN_GRACE = 60.0  # seconds a worker whose driver is gone has to record its cell (its test pass included)


def _end_with_driver(driver: int, interval: float = 1.0) -> None:
    """A worker's watch on its driver: once the driver is gone (``kill -9`` hands the workers to
    init), the cell being trained stops as on Ctrl-C (recorded ``interrupted``, its checkpoint kept
    for the next sweep) and the worker ends, instead of training on, and idling, for nobody."""
    global _driver_gone
    while os.getppid() == driver:
        time.sleep(interval)
    _driver_gone = True
    os.kill(os.getpid(), signal.SIGTERM)  # the stop handler: no new cell, the training loop stops
    deadline = time.monotonic() + ORPHAN_GRACE  # a worker stuck in one long call ends anyway
    while _busy and time.monotonic() < deadline:  # the cell is being recorded
        time.sleep(0.05)
    # A cell claimed just now is left "running": the next sweep's mark_stale makes it interrupted.
    os._exit(128 + signal.SIGTERM)


@contextmanager
def worker_task() -> Iterator[bool]:
    """In a pool worker (:func:`init_worker`), around one task that trains and records: a worker
    whose driver is gone lets the task be recorded before it exits. Yields whether the worker has
    been told to stop (it then takes no new task). Elsewhere it yields False and does nothing."""
    global _busy
    _busy = True
    try:
        yield _stopping
    finally:
        _busy = False


@contextmanager
def worker_training() -> Iterator[None]:
    """In a pool worker (:func:`init_worker`), around the training itself: a stop (Ctrl-C, SIGTERM,
    the driver gone) raises KeyboardInterrupt in the block, as Ctrl-C does in a single process,
    and one that came before the block raises it at once. Elsewhere it does nothing."""
    global _training
    _training = True
    try:
        if _stopping:
            raise KeyboardInterrupt
        yield
    finally:
        _training = False


class StopSignal:
    """Which signal stopped the work, inside :func:`terminate_as_interrupt` (SIGINT unless SIGTERM
    came); the exit status is ``128 + signum`` (130 for Ctrl-C, 143 for SIGTERM).

    A stop the program notices itself (a closed output, :func:`mnistlab.cli._output.closed_output_stops`)
    need not raise wherever it is noticed: while ``defer`` is set (by
    :class:`~mnistlab.callbacks.StopBetweenEpochs`, while an epoch ends) it sets ``pending`` to its
    signal instead, and the stop is taken before the next epoch, the epoch that was ending kept whole."""

    signum: int = signal.SIGINT
    defer: bool = False
    pending: int = 0  # the signal of a stop asked for while ``defer`` was set; 0: none
    #: a SIGTERM came: its KeyboardInterrupt may have been swallowed (raised inside a garbage collector's
    #: callback, which Python ignores: CI, a parallel search ran to its end), so the caller checks this too
    came: bool = False


@contextmanager
def terminate_as_interrupt() -> Iterator[StopSignal]:
    """While inside, SIGTERM (a scheduler stopping a job, ``kill``) stops the work as Ctrl-C does:
    it raises KeyboardInterrupt in the main thread, so the running cells are recorded as
    interrupted and the finished ones stay. One that lands in a garbage collector's callback (where
    Python ignores an exception) is raised again once the callback is done, without a traceback.
    Outside the main thread it does nothing."""
    got = StopSignal()
    if threading.current_thread() is not threading.main_thread():
        yield got
        return

    raised: list[KeyboardInterrupt] = []

    def on_term(signum: int, frame: FrameType | None) -> None:
        got.signum, got.came = signum, True
        raised.append(KeyboardInterrupt())
        raise raised[-1]

    def unraisable(hook: Any) -> None:  # our stop, swallowed in a garbage collector's callback: no traceback,
        if not any(hook.exc_value is r for r in raised):  # and raised again in the main thread once the collector
            old_hook(hook)  # is done (review: `train` trained on to its end, `run` and `search` to theirs)
        else:  # from another thread, a moment later: from this one it would land in the callback again
            threading.Timer(0.01, again).start()

    def again() -> None:  # the signal itself, to the main thread: it wakes a sleep or a wait (review: interrupt_main
        if signal.getsignal(signal.SIGTERM) is on_term:  # came only once the call returned); not once the block is left
            signal.pthread_kill(main, got.signum)

    main = threading.main_thread().ident or 0

    old, old_hook = signal.signal(signal.SIGTERM, on_term), sys.unraisablehook
    sys.unraisablehook = unraisable
    try:
        yield got
    finally:
        signal.signal(signal.SIGTERM, old)
        sys.unraisablehook = old_hook


@dataclass(frozen=True)
class CellTask:
    """What a worker needs to train cells and record them (picklable): one cell, or a committee's
    members trained together as one stacked model (:func:`member_groups`)."""

    cells: tuple[Cell, ...]
    store_root: str
    data_dir: str | None = None
    threads: int = 0
    done: tuple[str, ...] = DONE_STATUSES  # a cell with such a run is not trained again (() = --force)
    #: seconds between the cell's checkpoints: :func:`checkpoint_every` where the task is made (a
    #: Ray worker on another machine has not the driver's environment)
    checkpoint_every: float = field(default_factory=lambda: checkpoint_every())


def _cell_config(cell: Cell, threads: int = 0) -> RunConfig:
    """The cell's run config, training with ``threads`` unless the file set its own (:func:`with_threads`),
    its callbacks' ``verbose`` as the file set them (:attr:`~mnistlab.experiments.Cell.verbose`)."""
    config = with_threads(cell.config, threads)
    if cell.verbose:
        config = {**config, "callbacks": [{**c, "verbose": v} if v else c
                                          for c, v in zip(config["callbacks"], cell.verbose)]}
    return parse_run_config(config, source=f'{cell.experiment}: variant "{cell.variant}"', check_model=False)


def execute_cell(task: CellTask) -> list[tuple[str, str]]:
    """Claim the task's cells, train those claimed and record each in the store; returns ``(run_id,
    status)`` per cell, in order. A cell another driver holds (running, or already in a status of
    ``task.done``) is not trained: its status is ``"taken"`` and the run id is the holder's. In a
    worker told to stop, nothing is claimed: every cell is ``("", "stopped")``. A Ctrl-C while the
    cells train records them ``interrupted``. Safe in any process; each epoch's end is written to
    the running run's history (:class:`~mnistlab.live.EpochProgress`). A runner that trains
    elsewhere (Ray) calls the three steps itself: :func:`claim_cells` and :func:`record_cells` in
    the driver, :func:`train_cells` in the worker."""
    global _busy
    _busy = True
    try:
        if _stopping:
            return [("", "stopped")] * len(task.cells)
        with RunStore.opened_for_a_sweep(task.store_root) as store:  # its database rebuilt if it was lost meanwhile
            out, mine = claim_cells(store, task)
            indices = [i for i, _ in mine]
            cell = resumable_cell(task, indices)
            folder = None if cell is None else store.checkpoint_dir(cell.experiment, cell.variant, cell.key)
            if cell is not None and not task.done:  # --force: the cell trains afresh
                store.drop_checkpoint(cell.experiment, cell.variant, cell.key)
            results = train_cells(task, indices, store, [r.run_id for _, r in mine], checkpoint_dir=folder)
            with stop_signals_held():  # every cell recorded, and its checkpoint settled, before a stop
                statuses = record_cells(out, mine, results)
                if cell is not None and statuses[indices[0]][1] in CHECKPOINT_ENDS:  # nothing left to resume
                    store.drop_checkpoint(cell.experiment, cell.variant, cell.key)
            return statuses
    finally:
        _busy = False


def resumable_cell(task: CellTask, indices: Sequence[int]) -> Cell | None:
    """The cell of ``task`` this worker claimed (``indices``) when it trains alone: it then keeps a
    checkpoint in the store while it trains (:meth:`RunStore.checkpoint_dir`), so that a sweep
    stopped in the middle of it (Ctrl-C, SIGTERM, a killed process, a closed laptop) continues it
    from its last saved epoch. A failed cell keeps it too (it trains again next time). None for a
    committee's members stacked into one model (they restart together) or nothing claimed."""
    return task.cells[indices[0]] if len(indices) == 1 else None


Claims = tuple[dict[int, tuple[str, str]], list[tuple[int, Recorder]]]


def claim_cells(store: RunStore, task: CellTask) -> Claims:
    """Claim the task's cells in ``store`` (:meth:`Recorder.claim`): ``({index: (holder's run_id,
    "taken")}, [(index, recorder)])``, the cells another process holds and those this one trains."""
    claims = [Recorder.claim(store, experiment=c.experiment, variant=c.variant, config=c.config, seed=c.seed,
                             member=c.member, repeat=c.repeat, done=task.done, source=c.source) for c in task.cells]
    out = {i: (run_id, "taken") for i, (recorder, run_id) in enumerate(claims) if recorder is None}
    return out, [(i, recorder) for i, (recorder, _) in enumerate(claims) if recorder is not None]


def train_cells(task: CellTask, indices: Sequence[int], store: RunStore | None = None,
                run_ids: Sequence[str] = (), callbacks: Sequence[Callback] = (),
                checkpoint_dir: Path | None = None) -> list[RunResult | BaseException]:
    """Train the task's cells at ``indices`` (several: one stacked committee model); one result per
    cell, or the exception that stopped it (KeyboardInterrupt: recorded as interrupted; any other:
    failed). Writes nothing but each epoch's progress, and that only with a ``store`` and the
    cells' ``run_ids``; with neither (a Ray worker) it touches no store at all. ``callbacks``
    also see a single cell's epochs (a Ray worker's :class:`~mnistlab.backends.RelayProgress`).
    A single cell with a ``checkpoint_dir`` resumes from the checkpoint there, if any, and writes
    one every :func:`checkpoint_every` seconds, at an epoch's end or inside one (:func:`resume_or_start`)."""
    global _training
    try:
        _training = True
        if _stopping:  # told to stop while claiming: record the claimed cells as interrupted
            raise KeyboardInterrupt
        if len(indices) > 1:
            return list(run_members([_cell_config(task.cells[i], task.threads) for i in indices], data_dir=task.data_dir))
        progress: list[Callback] = [EpochProgress(store, rid) for rid in run_ids[:1]] if store is not None else []
        progress += callbacks
        with warnings_named(f'variant "{task.cells[indices[0]].variant}" (seed {task.cells[indices[0]].seed})',
                            said=_said_by_the_file(task.cells[indices[0]])):
            return [resume_or_start(task.cells[i], task.threads, task.data_dir, progress, checkpoint_dir,
                                    task.checkpoint_every, run_ids[0] if run_ids else "") for i in indices]
    except KeyboardInterrupt as exc:  # before training began (loading data): recorded as interrupted
        return [exc] * len(indices)
    except Exception as exc:  # a bad input or a bug in one cell must not end the sweep unrecorded
        return [exc] * len(indices)
    finally:
        _training = False


def _said_by_the_file(cell: Cell) -> frozenset[str]:
    """The model warnings of ``cell`` that its experiment file said as it was read
    (:func:`~mnistlab.experiments.model_warnings`): its build says them again, unplaced."""
    from mnistlab.config import setting_doubts
    from mnistlab.specs import ModelSpec, spec_warnings

    said = frozenset(setting_doubts(cell.config.get("dataset"), cell.config.get("augment"), cell.config.get("evaluate") or {}))
    try:
        return said | frozenset(spec_warnings(ModelSpec.from_dict(cell.config["model"])))
    except (MnistlabError, KeyError, TypeError):  # (a cell its file could not say: its run says what is wrong)
        return said


@contextmanager
def warnings_named(cell: str, said: Collection[str] = ()) -> Iterator[None]:
    """Each :class:`~mnistlab.errors.TrainingWarning` shown meanwhile names ``cell`` first
    (``variant "l2" (seed 0): epoch 3: the weight penalties are ...``): among a sweep's lines, it
    says which cell it is about. Other warnings are of settings or data the cells may share, and
    are shown once, as they were (the filters are left alone: changing them would show them again
    for each cell); a SpecWarning in ``said`` (the file said it, naming the variant, as it was read)
    is not shown again, though the run keeps it (helper-193: the sigmoid output said twice)."""
    shown = warnings.showwarning

    def named(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: TextIO | None = None,
              line: str | None = None) -> None:
        if issubclass(category, SpecWarning) and str(message) in said:
            return
        if issubclass(category, TrainingWarning):
            message = category(f"{cell}: {message}")
        shown(message, category, filename, lineno, file, line)

    warnings.showwarning = named
    try:
        yield
    finally:
        warnings.showwarning = shown


def resume_or_start(cell: Cell, threads: int, data_dir: str | None, callbacks: Sequence[Callback],
                    folder: Path | None, every: float, run_id: str = "") -> RunResult:
    """:func:`~mnistlab.run.run_config` for one sweep cell (training with ``threads`` unless its file
    sets them), writing a checkpoint in ``folder`` every ``every`` seconds (0: at every epoch's end;
    :func:`checkpoint_every`) and continuing from the one there when there is one, with the thread
    count that checkpoint was trained with when that was fixed (:func:`~mnistlab.trainer.checkpoint_threads`):
    the resumed cell then ends on the digits of an uninterrupted one. A checkpoint that cannot be
    read (or is not this config's) is deleted with a warning and the cell trains from its first
    epoch, with ``threads``: a resume point is never worth failing the cell for. ``run_id``: the
    cell's recorded run, kept in its checkpoints (:func:`~mnistlab.run.run_config`). The result
    keeps the warnings said, that one too (:func:`~mnistlab.run.with_warnings_kept`)."""
    return with_warnings_kept(lambda: _resume_or_start(cell, threads, data_dir, callbacks, folder, every, run_id))


def _resume_or_start(cell: Cell, threads: int, data_dir: str | None, callbacks: Sequence[Callback],
                     folder: Path | None, every: float, run_id: str) -> RunResult:
    """:func:`resume_or_start`'s runs."""
    fresh = _cell_config(cell, threads)

    def run(cfg: RunConfig, resume: bool) -> RunResult:
        return run_config(cfg, data_dir=data_dir, progress="none", extra_callbacks=callbacks, checkpoint_dir=folder,
                          resume=resume, checkpoint_every=every, run_id=run_id)
    if folder is None:
        return run(fresh, False)
    saved = checkpoint_threads(folder / CHECKPOINT_FILE)
    try:
        return run(_cell_config(cell, saved) if saved else fresh, True)
    except CheckpointError as exc:
        there = folder / CHECKPOINT_FILE
        try:
            if there.is_dir() and not there.is_symlink():  # helper-156: a folder by that name failed the cell for ever
                shutil.rmtree(there)
            else:
                there.unlink(missing_ok=True)
            gone = "it is deleted"
        except OSError as why:  # (review: the warning said "deleted" of what stayed)
            gone = f"it cannot be deleted ({why.strerror or why}): remove it by hand"
        warnings.warn(f"{exc}: {gone} and the cell trains from its first epoch", SpecWarning, stacklevel=user_level())
        return run(fresh, False)


def record_cells(out: dict[int, tuple[str, str]], mine: Sequence[tuple[int, Recorder]],
                 results: Sequence[RunResult | BaseException]) -> list[tuple[str, str]]:
    """Record each claimed cell's result with its recorder (finished, diverged, failed or
    interrupted) and return ``(run_id, status)`` for every cell of the task, in order."""
    out = dict(out)
    for (i, recorder), res in zip(mine, results):
        if isinstance(res, BaseException):
            out[i] = (recorder.run_id, recorder.fail(res))
        else:
            if res.status == "interrupted" and _driver_gone:  # not the user's Ctrl-C: say what stopped it
                res.message = res.message.replace(STOPPED_BY, "because its driver process ended (kill -9?)")
            problem = recorder.finish(res)
            try:
                status = recorder.store.get(recorder.run_id).status  # "failed" if its files were not written
            except StoreError:
                if any(r.run_id == recorder.run_id for r in recorder.store.runs()):
                    raise  # the store cannot be read: said as any store error
                out[i] = (recorder.run_id, "deleted")  # deleted (`mnistlab rm`) while it trained: nothing to show
                continue
            if status == "running":  # neither the result nor its failure could be written (a full disk)
                raise StoreError(f"run {recorder.run_id}: its result could not be recorded ({problem}); the "
                                 "sweep stops here: free the space, then run it again (the run trains again)")
            out[i] = (recorder.run_id, status)
    return [out[i] for i in range(len(out))]


def member_groups(cells: Sequence[Cell], batch_members: bool | None = None) -> list[tuple[Cell, ...]]:
    """The cells as tasks, in order: each committee's members together where ``batch_members``
    (None: where they train on CUDA, :mod:`mnistlab.accel.members`) and
    :func:`~mnistlab.accel.members.batch_refusal` allow it, else one cell per task."""
    if batch_members is False:
        return [(c,) for c in cells]
    committees: dict[tuple[str, int], list[Cell]] = {}
    for c in cells:
        committees.setdefault((c.variant, c.repeat), []).append(c)
    groups: list[tuple[Cell, ...]] = []
    for members in committees.values():
        cfgs = [_cell_config(c) for c in members]
        try:
            wanted = batch_members or accel.pick_device(cfgs[0].train.device).type == "cuda"
        except SpecError:  # no such device here: each cell records the error itself
            wanted = False
        why = batch_refusal(cfgs) if wanted else None
        if wanted and why is None:
            groups.append(tuple(members))
            continue
        if batch_members and len(members) > 1:  # asked for by name: say why not
            warnings.warn(f'variant "{members[0].variant}" (repeat {members[0].repeat}): its {len(members)} committee '
                          f"members train one by one: {why}", SpecWarning, stacklevel=user_level())
        groups.extend((c,) for c in members)
    return groups


@dataclass
class CellOutcome:
    """What happened to one cell in :func:`run_experiment`."""

    cell: Cell
    record: RunRecord
    skipped: bool  # True: an earlier finished run was reused
    copied: bool = False  # skipped as another variant's run of the same config and seed, recorded again now


@dataclass
class ExperimentResult:
    """What :func:`run_experiment` did: one outcome per cell (trained, skipped or failed) and the comparison rows."""

    experiment: Experiment
    outcomes: list[CellOutcome] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    elsewhere: list[RunRecord] = field(default_factory=list)  # cells another process still trains (not in rows)
    repeats: list[Cell] = field(default_factory=list)  # cells of a key another cell of the sweep trains
    unrecorded: list[Cell] = field(default_factory=list)  # repeats whose run did not end here (elsewhere, or failed)
    #: cells not trained because the run they start from (``weights = { variant = ... }``) did not finish
    waiting: list[Cell] = field(default_factory=list)
    repeats_recorded: int = field(default=0, repr=False)  # how many of ``repeats`` record_repeats has handled
    #: each of ``waiting``'s cells (by key) -> the status of the latest run of the cell it starts from
    waiting_on: dict[str, str] = field(default_factory=dict)
    #: runs whose worker process died as they trained (``kill -9``, the system out of memory): recorded
    #: interrupted, not trained again in this sweep (:func:`_through_deaths`)
    died: list[RunRecord] = field(default_factory=list)
    #: the sweep stopped because a worker was told to stop (a signal sent to it alone), not this process
    stopped_by_worker: bool = False

    def ended(self) -> tuple[int, int]:
        """(cells trained to their end here, cells interrupted here): skipped cells are neither."""
        trained = [o.record.status for o in self.outcomes if not o.skipped]
        return sum(s != "interrupted" for s in trained), trained.count("interrupted")

    def counts(self) -> str:
        """What the cells did, in words: ``"3 trained, 1 interrupted, 2 already done"`` (none: ``"no cells"``)."""
        said = [*zip(self.ended(), ("trained", "interrupted")), (sum(o.skipped for o in self.outcomes), "already done"),
                (len(self.elsewhere), "training elsewhere"), (len(self.waiting), "not started (their start did not finish)")]
        return ", ".join(f"{n} {what}" for n, what in said if n) or "no cells"

    def _repr_markdown_(self) -> str:
        """In Jupyter: what the cells did, then the comparison table with its notes (helper-211: a
        notebook had to know to show ``.rows``)."""
        return f"**{self.experiment.name}**: {self.counts()}\n\n" + self._table()._repr_markdown_()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(f"{self.experiment.name}: {self.counts()}\n")
        self._table()._repr_pretty_(printer, cycle)

    def _table(self) -> ComparisonRows:
        return self.rows if isinstance(self.rows, ComparisonRows) else ComparisonRows(self.rows)

    def __repr__(self) -> str:
        """``ExperimentResult('seed001', 8 cells: 6 trained, 2 already done, 5 rows)`` (the dataclass's
        own repr printed every record)."""
        n, rows = len(self.outcomes), len(self.rows)
        return f"ExperimentResult({self.experiment.name!r}, {n} cell{'s' * (n != 1)}: {self.counts()}, " \
               f"{rows} row{'s' * (rows != 1)})"


class SweepInterrupted(KeyboardInterrupt):
    """Raised by :func:`run_experiment` when Ctrl-C or SIGTERM stopped the sweep, after the
    interrupted runs were recorded and the complete committees scored; ``result`` holds what was
    done (its rows are the comparison as it stands). Catching KeyboardInterrupt catches it too."""

    def __init__(self, result: ExperimentResult) -> None:
        ended, stopped = result.ended()
        super().__init__(f"sweep {result.experiment.name} stopped: {ended} cell{'s' * (ended != 1)} ended in it"
                         + (f", {stopped} interrupted" if stopped else "")
                         + ", recorded (.result holds them); run it again to train the rest")  # a notebook's last line
        self.result = result


# long: a docstring of what a sweep promises, then its steps in order, one line each
def run_experiment(exp: Experiment | str | os.PathLike, store: RunStore | str | os.PathLike | None = None, *,
                   jobs: int = 1, force: bool = False, quick: bool = False, data_dir: str | os.PathLike | None = None,
                   runner: Runner | None = None, batch_members: bool | None = None,
                   on_cell: Callable[[CellOutcome, list[dict[str, Any]]], None] | None = None,
                   progress: str = "auto") -> ExperimentResult:
    """Train every cell of an experiment that is not already finished in the store.

    ``on_cell(outcome, rows)`` is called after each cell with the comparison rows so far (the store is
    read for them once, then each recorded run is added: see :class:`~mnistlab.comparison.Comparison`);
    a callback with ``wants_rows = False`` gets ``[]`` instead, which saves a comparison a cell (:func:`tell`).
    ``progress`` (train()'s words) but ``"none"`` prints a line for each cell as it ends (``[2/8]
    804311532c  cnn  seed 1: finished, test acc 99.12%``, as `mnistlab run` does in a log).
    Ctrl-C (or SIGTERM inside :func:`terminate_as_interrupt`) stops the sweep: the running cells are
    recorded as interrupted (in every worker), complete committees are still scored, and
    :class:`SweepInterrupted` (a KeyboardInterrupt) is raised; finished runs stay recorded and the next
    call trains only what is missing (also when stopped before any cell began: waiting for a killed
    driver's workers, reading the user's data). A bad file of the user's data, or a model whose outputs
    do not match its classes, raises DataError or SpecError before anything trains (:func:`check_data`).
    ``batch_members``: train each committee's members as one stacked model (None: on CUDA only; see
    :func:`member_groups`). The sweep's plan is written to the store for `mnistlab watch`. A store
    that cannot be written (a read-only disk) gives the rows of an experiment it holds finished, or
    StoreError where a cell is left to train.

    >>> result = run_experiment("recipes/fast.toml", quick=True)   # doctest: +SKIP
    >>> result.rows[0]["test_acc"]                                 # doctest: +SKIP
    """
    exp = _given_experiment(exp)  # (a table, or a file's text: helper-211, a TypeError and "no such file")
    if not isinstance(exp, Experiment):
        exp = load_checked(exp, data_dir, quick=quick)
    if jobs < 1:
        raise SpecError(f"jobs must be at least 1, got {jobs}")
    cells = exp.cells(quick=quick)  # every config validated before anything trains
    if runner is None and exp.resources.backend == "ray":  # helper-185: trained here, not a word of the file's Ray
        warnings.warn(f"{exp.source}: its [resources] ask for Ray; run_experiment trains here, in this process, unless "
                      "given runner=mnistlab.backends.runner_for(exp.resources) (as `mnistlab run` does)",
                      SpecWarning, stacklevel=user_level())
    on_cell = _with_lines(on_cell, progress, len(cells))
    every = checkpoint_every()  # ... and the environment's setting
    check_data_before_store(exp, cells, store, data_dir, files_here=runner is None, quick=quick)
    st = store if isinstance(store, RunStore) else RunStore.to_record(store)
    if exp.starts_from_runs:  # (a variant that starts from another's: its runs' weights, where finished)
        cells = exp.cells(quick=quick, store=st)
    keys = dict.fromkeys((c.variant, c.key) for c in cells)  # ordered: the table follows the file
    result, started = ExperimentResult(exp), time.time()
    if st.read_only:  # a read-only disk, another user's store: nothing can be recorded
        return _as_recorded(st, exp, cells, result, keys, force)
    levels = start_levels(exp.variants)
    later = [c for c in cells if levels[c.variant] and (force or c.pending or st.find_finished(
        exp.name, c.variant, c.key, DONE_STATUSES, whole=True) is None)]  # (those that start from others' runs: checked now too)
    todo = _cells_ready(st, exp, [c for c in cells if not levels[c.variant]], result, force, data_dir,
                        files_here=runner is None, quick=quick, later=later)
    held = _runs_of_its_name(st, exp)
    live = Comparison(held, st.committees(exp.name), keys=keys, defined=exp.committee_variants()) if on_cell else None
    if on_cell and live is not None:
        for o in result.outcomes:
            tell(on_cell, o, live)
    def train(todo: Sequence[Cell], keys: Iterable[tuple[str, str]]) -> bool:  # one level: True where stopped
        groups = member_groups(todo, batch_members)
        its_runner, workers = _runner(runner, jobs, len(groups))
        threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else 0  # the cores split between workers
        def task(group: tuple[Cell, ...]) -> CellTask:
            return CellTask(group, str(st.root), None if data_dir is None else str(data_dir), threads,
                            () if force else DONE_STATUSES, every)
        write_plan(st.root, exp.name, list(keys), workers=max(workers, 1), started=started, quick=quick, force=force)
        return _train_all(its_runner, groups, task, st, result, on_cell, live)  # (a notebook lives on)
    with planned(st.root, exp.name, list(keys), quick=quick, force=force):
        interrupted = train(todo, keys)
        for level in range(1, max(levels.values(), default=0) + 1):  # then those that start from their runs
            if interrupted:
                break
            try:  # (a stop while the next level is read is the sweep's stop: its committees still scored)
                record_repeats(st, result, on_cell, live, force=force)
                cells, keys = _started_level(exp, st, result, level, levels, quick=quick, live=live)
                told = len(result.outcomes)
                todo = _cells_ready(st, exp, [c for c in cells if levels[c.variant] == level and not c.pending], result,
                                    force, data_dir, files_here=runner is None, quick=quick)
            except KeyboardInterrupt:
                interrupted = True
                break
            if on_cell and live is not None:  # (helper-208: the runs of this level found done, not said)
                for o in result.outcomes[told:]:
                    tell(on_cell, o, live)
            interrupted = train(todo, keys)
        if not interrupted:
            record_repeats(st, result, on_cell, live, force=force)
    evaluate_committees(st, exp, cells, data_dir=data_dir)  # a stopped sweep's complete committees too
    result.elsewhere = running_elsewhere(st, result.outcomes)
    if interrupted:
        st.mark_stale()  # the workers are gone: a cell one of them had just claimed is interrupted, not running
        stopped_in_workers(st, cells, result, started, on_cell, live)
        rows = compare(st, exp.name, keys=keys, committees=exp.committee_variants()) if st.runs(experiment=exp.name) else []
        result.rows = _with_notes(stopped_rows(rows, cells, st), st, exp, quick)  # (helper-211: a list of dicts)
        raise SweepInterrupted(result)
    result.rows = _with_notes(compare(st, exp.name, keys=keys, committees=exp.committee_variants()), st, exp, quick)
    return result


def _with_notes(rows: Sequence[dict[str, Any]], st: RunStore, exp: Experiment, quick: bool) -> ComparisonRows:
    """A sweep's ``rows`` as the table a notebook shows, with the notes `mnistlab run` prints under it
    (:attr:`~mnistlab.comparison.ComparisonRows.notes`, read from its file, else by its name)."""
    return ComparisonRows(rows, notes=table_notes(st, exp.file_path() or exp.name, rows, quick=quick))


def _given_experiment(exp: Any) -> Any:
    """An experiment given in Python as a table (a dict, as the TOML file holds it) or as a file's
    text (a string of several lines) made an :class:`Experiment`, its paths relative to the current
    folder, its mistakes one line each (:func:`~mnistlab.experiments.parse_experiment`); anything
    else as it is (a file's path, an Experiment)."""
    from mnistlab._toml import loads_toml
    from mnistlab.experiments import parse_experiment

    if isinstance(exp, (list, tuple)):  # (helper-213: a TypeError, "expected str, bytes or os.PathLike")
        raise SpecError("run_experiment takes one experiment (a file, a table or its text), not a list: call it once "
                        "for each")
    if isinstance(exp, str) and not Path(exp.strip()).exists() and ("\n" in exp.strip() or "=" in exp):
        exp = loads_toml(exp, source="the experiment text given in Python")  # (not a file here: a file's text)
    elif isinstance(exp, str) and exp != exp.strip():
        return exp.strip()  # (a path pasted with its line's end)
    if isinstance(exp, Mapping):
        if "name" not in exp:  # (review: every table given so recorded under "experiment", mixed)
            raise SpecError('the experiment given in Python: give it a name (name = "...", its runs\' experiment in '
                            "the store), as a file's name gives one")
        return parse_experiment(exp, source="the experiment given in Python")
    return exp


def _started_level(exp: Experiment, st: RunStore, result: ExperimentResult, level: int, levels: Mapping[str, int], *,
                   quick: bool, live: Comparison | None) -> tuple[list[Cell], dict[tuple[str, str], None]]:
    """The cells of ``exp`` once the variants before ``level`` have trained, each that starts from a
    finished run now naming its weights (:meth:`~mnistlab.experiments.Experiment.cells`), and their
    keys; the cells of ``level`` whose start did not finish go to ``result.waiting``."""
    cells = exp.cells(quick=quick, store=st)
    waiting = [c for c in cells if levels[c.variant] == level and c.pending]
    latest = {(r.variant, r.config_hash): r.status for r in st.runs(experiment=exp.name)} if waiting else {}
    for c in waiting:  # with the status of the latest run of the cell it starts from: diverged, failed...
        result.waiting.append(c)
        start = exp.start_cell(c, cells)
        result.waiting_on[c.key] = latest.get((start.variant, start.key), "not trained") if start else "not trained"
    keys = dict.fromkeys((c.variant, c.key) for c in cells)
    if live is not None and live.keys is not None:
        live.keys = frozenset(keys)
    return cells, keys


def _as_recorded(st: RunStore, exp: Experiment, cells: Sequence[Cell], result: ExperimentResult,
                 keys: Mapping[tuple[str, str], None], force: bool) -> ExperimentResult:
    """:func:`run_experiment` on a read-only ``st`` (:meth:`~mnistlab.store.RunStore.to_record`):
    ``result`` with every cell's finished run and the comparison rows, where the store holds each
    one finished (helper-156: `mnistlab run` of a finished experiment on a read-only disk failed to
    open the store, where `compare` shows it);
    StoreError, before anything trains, where a cell is still to train (or ``force``)."""
    done = [(c, None if force else st.find_finished(c.experiment, c.variant, c.key, DONE_STATUSES, whole=True)) for c in cells]
    if left := [c for c, rec in done if rec is None]:
        which = ("every run is trained again (--force)" if force
                 else f"{len(left)} of {len(cells)} runs {'is' if len(left) == 1 else 'are'} still to train")
        raise StoreError(f"{st.root}: the store cannot be written (a read-only disk or folder, or another user's?), and "
                         f"{which} for {exp.name}: give a store that can be written with --store")
    result.outcomes = [CellOutcome(c, rec, True) for c, rec in done if rec is not None]
    result.rows = compare(st, exp.name, keys=keys, committees=exp.committee_variants())
    return result


def _train_all(runner: Runner, groups: Sequence[tuple[Cell, ...]], task: Callable[[tuple[Cell, ...]], CellTask],
               st: RunStore, result: ExperimentResult,
               on_cell: Callable[[CellOutcome, list[dict[str, Any]]], None] | None, live: Comparison | None) -> bool:
    """Train the ``groups`` (each a ``task``), then the cells other drivers held and gave up
    meanwhile (:func:`given_up_elsewhere`); True when the sweep was stopped (:func:`_run_tasks`)."""
    interrupted = _through_deaths(runner, [task(g) for g in groups], st, result, on_cell, live)
    for _ in range(TAKE_BACK_PASSES):
        RunStore.opened_for_a_sweep(st.root).close()  # a database lost meanwhile: rebuilt before it is read again
        if interrupted or not (again := given_up_elsewhere(st, result)):
            break
        interrupted = _through_deaths(runner, [task((c,)) for c in again], st, result, on_cell, live)
    return interrupted


def _through_deaths(runner: Runner, tasks: list[CellTask], st: RunStore, result: ExperimentResult,
                    on_cell: Callable[[CellOutcome, list[dict[str, Any]]], None] | None, live: Comparison | None) -> bool:
    """:func:`_run_tasks`, going on past a worker process that died (``kill -9``, the system's
    out-of-memory killer): the pool ends its other workers too (their cells recorded interrupted,
    with their checkpoints), so a new pool takes every task not yet ended but the dead worker's,
    whose run stays interrupted (``result.died``; the next sweep trains it, perhaps with fewer
    ``--jobs``). helper-167: one killed worker ended the whole sweep, and the healthy cells beside
    it read "interrupted by Ctrl-C". WorkerDied where a pool dies without a run to blame (a worker
    killed before it claimed a cell, twice running)."""
    from mnistlab.store import ENDED

    started, blameless = time.time(), 0
    while True:
        try:
            return _run_tasks(runner, tasks, st, result, on_cell, live)
        except WorkerDied:
            keys = {(c.variant, c.key) for t in tasks for c in t.cells}
            died = [r for r in st.runs(experiment=result.experiment.name, status=["interrupted"])
                    if r.message == ENDED and r.created_at >= started and (r.variant, r.config_hash) in keys
                    and r.run_id not in {d.run_id for d in result.died}]
            blameless = 0 if died else blameless + 1
            if blameless > 1:
                raise
            result.died += died
            ended = {o.cell.key for o in result.outcomes} | {r.config_hash for r in died}
            tasks = [t for t in tasks if not any(c.key in ended for c in t.cells)]
            if not tasks:
                return False


def _runner(runner: Runner | None, jobs: int, groups: int) -> tuple[Runner, int]:
    """The runner of a sweep of ``groups`` tasks (``runner``, or one of at most ``jobs`` processes
    here: inline for one) and how many of them run at once (a Ray runner's ``slots``, its room)."""
    workers = min(jobs, groups)
    if runner is None:
        runner = InlineRunner() if workers <= 1 else ProcessRunner(workers)
    slots = getattr(runner, "slots", None)  # a runner that knows its room (Ray): the plan shows it
    if slots is not None and groups:
        workers = min(slots(), groups)
    return runner, workers


def _with_lines(on_cell: Callable[[CellOutcome, list[dict[str, Any]]], None] | None, progress: str,
                total: int) -> Callable[[CellOutcome, list[dict[str, Any]]], None] | None:
    """``on_cell``, after printing each cell's line on stdout (:func:`~mnistlab.live.outcome_line`,
    ``[i/total]``) for any :data:`~mnistlab.callbacks.PROGRESS_MODES` mode but ``"none"``, for
    which it is as it is; SpecError for another word."""
    from mnistlab.callbacks import check_progress_mode

    check_progress_mode(progress)
    if progress == "none":
        return on_cell
    from mnistlab.live import OutcomeLines

    line = OutcomeLines(total)

    def each(outcome: CellOutcome, rows: list[dict[str, Any]]) -> None:
        print(line(outcome), flush=True)
        if on_cell is not None:
            on_cell(outcome, rows)

    each.wants_rows = on_cell is not None and wants_rows(on_cell)  # type: ignore[attr-defined]
    return each


def wants_rows(on_cell: Callable[..., None]) -> bool:
    """Whether ``on_cell`` reads the rows it is given: True unless it says otherwise with a
    ``wants_rows = False`` attribute (`mnistlab run`'s progress, which reads the store), for which
    :func:`tell` gives ``[]``."""
    return bool(getattr(on_cell, "wants_rows", True))


def tell(on_cell: Callable[[CellOutcome, list[dict[str, Any]]], None], outcome: CellOutcome, live: Comparison,
         record: RunRecord | None = None) -> None:
    """``on_cell(outcome, rows)``, ``record`` (a run recorded now) counted in ``live`` first; the rows
    are worked out only for a callback that reads them (:func:`wants_rows`): each is a whole
    comparison, so a sweep of 1,000 cells spent 12 s on rows no one read (helper-196)."""
    if record is not None:
        live.count(record)
    on_cell(outcome, live.rows() if wants_rows(on_cell) else [])


def _runs_of_its_name(st: RunStore, exp: Experiment) -> list[RunRecord]:
    """The runs ``st`` holds under ``exp``'s name; SpecError, before anything trains, when they are
    a search's trials: the experiment's runs would be ranked among them (and they among its variants)."""
    from mnistlab.search import holds_search

    if holds_search(st, exp.name, held := st.runs(experiment=exp.name)):
        raise SpecError(f'{exp.source}: name "{exp.name}" is a search\'s in {st.root} (`mnistlab compare {exp.name}` '
                        "lists its trials): its runs and these would mix; give this experiment a name of its own "
                        '(name = "...")', path=("name",))
    return held


def _cells_ready(st: RunStore, exp: Experiment, cells: Sequence[Cell], result: ExperimentResult, force: bool,
                 data_dir: str | os.PathLike | None, *, files_here: bool = False, quick: bool = False,
                 later: Sequence[Cell] = ()) -> list[Cell]:
    """What :func:`run_experiment` does before any cell trains: wait for a killed driver's workers,
    mark dead processes' runs interrupted, take out the cells already done (into ``result``) and
    check the rest against their data (``quick``: their full-size cells' too), with the cells that
    train ``later`` (after the runs they start from). Returns the cells to train. A stop meanwhile
    (these can take a while) is the sweep's stop too: SweepInterrupted, not a bare KeyboardInterrupt."""
    try:
        await_orphaned_workers(st, exp.name)  # a driver killed just now: its workers are still recording
        st.mark_stale()
        todo = cells_to_train(st, cells, result, force)
        check_data(exp, [*todo, *later], data_dir, files_here=files_here, quick=quick)  # found before anything trains
    except KeyboardInterrupt:
        raise SweepInterrupted(result) from None
    return todo


def await_orphaned_workers(st: RunStore, experiment: str, timeout: float = ORPHAN_GRACE + 5.0) -> int:
    """Wait (at most ``timeout`` seconds) for the workers of a killed driver of ``experiment`` to end.

    A driver killed with ``kill -9`` leaves its workers to notice within about a second
    (:func:`_end_with_driver`) and record their cells ``interrupted``; a new sweep started in that
    second (or while a worker still scores its partial weights on the test set, up to
    :data:`ORPHAN_GRACE` seconds) would find those cells ``running`` in live processes and leave
    them to "another process". So when the experiment's plan names a driver on this host that is gone, this waits
    while any of the experiment's runs on this host is ``running`` in a live process. Returns how
    many such runs there were at the start (0: nothing to wait for)."""
    plan = read_plan(st.root, experiment)
    here = socket.gethostname()
    if plan is None or plan.get("host") != here or plan.get("pid") == os.getpid() or driver_alive(plan):
        return 0

    def orphans() -> list[RunRecord]:
        return [r for r in st.runs(experiment=experiment, status="running") if r.host == here
                and run_alive(r.run_id, r.pid, here, r.created_at)]

    found = len(orphans())
    deadline = time.monotonic() + timeout
    while found and orphans() and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def stopped_in_workers(st: RunStore, cells: Sequence[Cell], result: ExperimentResult, since: float,
                       on_cell: Callable[[CellOutcome, list[dict[str, Any]]], None] | None,
                       live: Comparison | None) -> None:
    """Add the cells a stop interrupted in worker processes to ``result`` (and show them through
    ``on_cell``, as every other cell): the pool is shut down without handing their statuses back,
    so they are read from the store, as this sweep's (started at ``since``, epoch seconds)
    interrupted runs of its cells that ``result`` does not hold yet."""
    known = {o.record.run_id for o in result.outcomes}
    by_key = {(c.variant, c.key): c for c in cells}
    for rec in st.runs(experiment=result.experiment.name, status="interrupted"):
        cell = by_key.get((str(rec.variant), rec.config_hash))
        if cell is None or rec.run_id in known or rec.created_at < since:
            continue
        outcome = CellOutcome(cell, rec, False)
        result.outcomes.append(outcome)
        if on_cell and live is not None:
            tell(on_cell, outcome, live, rec)


def check_data(exp: Experiment, cells: Sequence[Cell], data_dir: str | os.PathLike | None = None, *,
               files_here: bool = False, quick: bool = False, download: bool = True) -> None:
    """Check each cell against the data it trains on before anything trains (the user's own data
    read once; a registered dataset's files found or downloaded once with ``files_here``, the
    cells training on this machine): its model's outputs against the classes, its validation
    split against the training images (:func:`~mnistlab.run.run_data_mistakes`). Each variant is
    checked on its own, for every mistake it has: raises the DataError or SpecError of the first
    mistake, naming its variant and the file's line that sets the value at fault
    (``exp.toml:18: variant "b": digits.csv: no labels ...``), the others in its ``more``, in the
    file's order; variants with the same mistake (their data from ``[base]``) in one line.
    ``quick``: ``cells`` are a ``--quick`` run's, and the full-size cells of their variants are
    checked too (:func:`data_mistakes`), so that the smoke check finds what the full run would.
    ``download=False``: a registered dataset whose files are not here is not downloaded (known by
    its registry entry, as for a remote backend): `run --dry-run` fetches nothing."""
    mistakes = data_mistakes(exp, cells, data_dir, files_here=files_here, quick=quick, download=download)
    if mistakes:
        raise together(mistakes)


def check_data_before_store(exp: Experiment, cells: Sequence[Cell], store: RunStore | str | os.PathLike | None,
                            data_dir: str | os.PathLike | None = None, *, files_here: bool = False,
                            quick: bool = False) -> None:
    """:func:`check_data` of every cell where no run store is at ``store`` yet
    (:func:`~mnistlab.store.store_held`): a mistake in the data (or, with ``files_here``, the cells
    training on this machine, in a checkpoint's folder) then leaves no new, empty store behind.
    (Where a store is, an open one included, the cells it holds finished are not checked:
    :func:`run_experiment` checks the others once it has read it.)"""
    from mnistlab.store import store_held

    if not isinstance(store, RunStore) and not store_held(store):
        check_data(exp, cells, data_dir, files_here=files_here, quick=quick)


def data_mistakes(exp: Experiment, cells: Sequence[Cell], data_dir: str | os.PathLike | None = None, *,
                  files_here: bool = False, quick: bool = False, download: bool = True) -> list[MnistlabError]:
    """What :func:`check_data` raises, as a list: a DataError or SpecError for each mistake (empty
    when every cell fits its data), each naming its variants and the line of ``exp.source`` that
    sets the value at fault, ordered by that line. ``quick``: ``cells`` are a ``--quick`` run's,
    and the full-size cells of their variants are checked too: where both sizes are at fault at one
    line (for the same variants) in the full run's words, the values the user wrote
    (``data.validation = 500``, not the 50 a smoke run scales it to); a full-size mistake alone (a
    ``data.validation`` of 1,000 in a ``data.subset`` of 1,000 fits the smoke run's smaller subset)
    saying ``in the full run``. A registered dataset's full-size cells are known by its registry."""
    found = _variant_mistakes(cells, data_dir, files_here, download)
    variants = {c.variant for c in cells}
    full = _variant_mistakes([c for c in exp.cells() if c.variant in variants], data_dir) if quick else {}
    text = _source_text(exp) if found or full else None  # read once for every mistake's line
    alike = _alike(exp, found, text)
    if full:
        at = {(line, tuple(names)): (kind, message) for (kind, message, line), names in _alike(exp, full, text).items()}
        both = {(*at.pop((line, tuple(names)), (kind, message)), line): names
                for (kind, message, line), names in alike.items()}
        alike = {**both, **{(kind, f"{message}; in the full run (--quick checks it too)", line): list(names)
                            for (line, names), (kind, message) in at.items()}}
    out = []
    for (kind, message, line), names in sorted(alike.items(), key=lambda item: in_file_order(item[0][2])):
        out.append(kind(f"{exp.source}{f':{line}' if line else ''}: variant{'s' * (len(names) > 1)} "
                        f"{', '.join(names)}: {message}"))
        out[-1].line = line
    return out


def _variant_mistakes(cells: Sequence[Cell], data_dir: str | os.PathLike | None, files_here: bool = False,
                      download: bool = True) -> dict[str, list[MnistlabError]]:
    """Each variant's data mistakes (:func:`~mnistlab.run.run_data_mistakes` of its first cell: its
    other cells have its data and model), for the variants that have some."""
    classes: dict[str, tuple[int, int, list[str]] | MnistlabError] = {}
    mistakes: dict[str, list[MnistlabError]] = {}
    for cell in cells:
        if cell.variant in mistakes:
            continue
        try:
            found = run_data_mistakes(cell.config, data_dir, classes, files_here=files_here, download=download)
        except (DataError, SpecError) as exc:  # (a model that cannot be built: said where it is)
            found = [exc]
        if found:
            mistakes[cell.variant] = found
    return mistakes


def _alike(exp: Experiment, mistakes: Mapping[str, Sequence[MnistlabError]],
           text: str | None) -> dict[tuple[type[MnistlabError], str, int | None], list[str]]:
    """Variants' ``mistakes`` as (kind, message, line of ``text``) -> the quoted names of the variants
    that have it (a [base] mistake is every variant's: one line)."""
    alike: dict[tuple[type[MnistlabError], str, int | None], list[str]] = {}
    for variant, found in mistakes.items():
        for mistake in found:
            alike.setdefault((type(mistake), str(mistake), mistake_line(exp, variant, mistake, text)),
                             []).append(f'"{variant}"')
    return alike


def _source_text(exp: Experiment) -> str | None:
    """The text of ``exp``'s file, read as :func:`~mnistlab.experiments.load_experiment` read it;
    None when it cannot be read again (an experiment given as data)."""
    from mnistlab._toml import read_text_file
    from mnistlab.experiments import MAX_FILE_BYTES

    try:
        return read_text_file(exp.source, what="an experiment file", max_bytes=MAX_FILE_BYTES)
    except (MnistlabError, OSError):
        return None


def mistake_line(exp: Experiment, variant: str, mistake: MnistlabError, text: str | None = None) -> int | None:
    """The line of ``exp``'s file (its ``text``, read here when not given) that sets the value a
    data check of ``variant`` found at fault: the key at the SpecError's path, the dataset's for a
    DataError (:meth:`Experiment.written_at`), for outputs that do not match the classes the
    model's, or the dataset's where only that is the variant's own; None when the file cannot be
    read again or the key is not found (never raises)."""
    from mnistlab._toml import line_of

    text = _source_text(exp) if text is None else text
    if text is None:
        return None
    path = getattr(mistake, "path", ()) or ("dataset",)
    if path == ("model",) and exp.written_at(variant, path)[0] == "base":  # the classes: the model's, or its data's
        path = ("dataset",) if exp.written_at(variant, ("dataset",))[0] != "base" else path
    return line_of(text, exp.written_at(variant, path))  # an experiment file is TOML, whatever its name


def load_checked(path: str | os.PathLike, data_dir: str | os.PathLike | None = None, *,
                 quick: bool = False) -> Experiment:
    """:func:`~mnistlab.experiments.load_experiment`, whose error for variants with mistakes in
    the file also holds the data mistakes of the other variants (:func:`data_mistakes`, of every
    cell, finished or not; their registered datasets known by the registry, no file read), so
    that one pass shows every mistake, in the file's order (:func:`run_experiment` reads a path
    so). Raises SpecError (or DataError: the first by line is raised, the others in its ``more``)."""
    try:
        return load_experiment(path)
    except SpecError as exc:
        right = exc.partial
        if not isinstance(right, Experiment) or not right.variants:
            raise
        try:
            found = data_mistakes(right, right.cells(quick=quick), data_dir, quick=quick)
        except MnistlabError:  # a right variant's cells that cannot be made: the file's mistakes say enough
            found = []
        if not found:
            raise
        every = [exc, *exc.more, *found]
        exc.more, exc.partial = (), None  # each said once, in the one list below
        raise together(every, in_order=True) from None


def shared_checkpoints(cells: Sequence[Cell]) -> list[str]:
    """A line for each ModelCheckpoint ``filepath`` that several of ``cells`` write (a ``[base]``
    callback's, say): their files have the same names, so each run's saves replace the others'
    (helper-145: variant b's silently replaced a's). Keras's ModelCheckpoint has no run in its
    names either; the line says to give each variant its own path."""
    users: dict[str, list[Cell]] = {}
    for c in cells:
        for cb in c.config.get("callbacks") or ():
            if is_model_checkpoint(cb) and isinstance(cb.get("filepath"), str):
                users.setdefault(cb["filepath"], []).append(c)
    said = []
    for path, who in users.items():
        if len(who) > 1:
            names = list(dict.fromkeys(c.variant for c in who))
            fix = ("give each variant a filepath of its own" if len(names) > 1 else
                   "the last run's files stay")  # (one variant's seeds: Keras names no run either)
            here = os.path.relpath(path)  # (a file's paths are absolute: said from here, where that is shorter)
            shown = display_name(path if here.startswith("..") else here)
            said.append(f'ModelCheckpoint filepath "{shown}" is written by {len(who)} runs (of '
                        f"{', '.join(repr(n) for n in names)}): each run's saves replace the others'; {fix}")
    return said


def data_changed(st: RunStore, cells: Sequence[Cell], force: bool = False) -> list[str]:
    """A line for each variant of ``cells`` on the user's own data that trains again because its
    data changed since its last finished run of the same settings: the SHA-256 that run recorded,
    each file in its role, against the data's now. Why cells train though the file did not change.
    Empty for registered datasets, and with ``force`` (every cell trains anyway)."""
    from mnistlab.data.registry import is_registered
    from mnistlab.data.userdata import digest_change, recorded_digests

    def settings(config: Mapping[str, Any]) -> str:  # the setting apart from the data: no data is read for it
        return variant_setting({**config, "dataset": None})

    own = [c for c in cells if not is_registered(c.config.get("dataset"))]
    training = {c.variant for c in own if not force and st.find_finished(c.experiment, c.variant, c.key,
                                                                         DONE_STATUSES, whole=True) is None}
    said: list[str] = []
    runs = {e: st.runs(experiment=e) for e in {c.experiment for c in own if c.variant in training}}
    for cell in {c.variant: c for c in own if c.variant in training}.values():  # one cell per variant: its data
        now_setting = settings(cell.config)
        last = [r for r in runs[cell.experiment] if r.variant == cell.variant
                and r.status in DONE_STATUSES and settings(r.config or {}) == now_setting
                and recorded_digests(r.config or {}, r.env) is not None]
        if last and (change := digest_change(recorded_digests(last[-1].config, last[-1].env), cell.config.get("dataset"))):
            role, before, after = change
            said.append(f'variant "{cell.variant}": its {role} changed since run {last[-1].run_id} trained on it '
                        f"(SHA-256 {str(before)[:12]}... then, {str(after)[:12]}... now): its cells train again")
    return said


# train settings that come and go with the optimizer (its Keras defaults, filled in by RunConfig.resolved)
FOLLOWS_OPTIMIZER = frozenset({"beta_1", "beta_2", "epsilon", "rho", "momentum", "nesterov", "amsgrad", "centered",
                               "initial_accumulator_value", "weight_decay"})


def from_other_file(rec: RunRecord, source: str, *, elsewhere: bool = False) -> bool:
    """Whether ``rec`` was recorded from another experiment file than ``source`` (an absolute path;
    its ``env["experiment_file"]``), one still there: False where either is unknown (a run recorded
    before files were, a file read from no path), where the recorded file is gone (this file,
    moved or renamed since, or a clone of it elsewhere), and for a run recorded on another host (its
    path is that machine's: the same experiment run on a laptop and a server, their runs copied into
    one store, helper-227), unless ``elsewhere``: then such a run counts as another file's (what
    `rm -e FILE` must not delete on a guess). The host is the one of the process that recorded
    the run (a Ray sweep's driver), not of a Ray worker."""
    env = rec.env or {}
    theirs = env.get("experiment_file")
    if not (source and isinstance(theirs, str) and theirs and theirs != source) or (
            env.get("same_run_as") and not env.get("file_asked")):
        return False  # (a run recorded as another's before session 59: its env is that run's, helper-194)
    if rec.host and rec.host != socket.gethostname():
        return elsewhere
    try:  # a file moved or renamed since (gone from there) is this one: its runs are its own (helper-194)
        return os.path.isfile(theirs) and not os.path.samefile(theirs, source)
    except OSError:
        return False


def other_files(st: RunStore, experiment: str, source: str) -> list[str]:
    """A line for each other experiment file whose runs this store holds under ``experiment``, the
    name of the file at ``source`` (its absolute path; "" for none: no line), as two students' copies
    of one template (helper-193: their runs mixed in `compare NAME`, and `rm -e` of one took the
    other's): how many, and from where."""
    if not source:
        return []
    theirs = Counter(str((r.env or {}).get("experiment_file")) for r in st.runs(experiment=experiment)
                     if from_other_file(r, source))
    return [f'experiment "{experiment}": {n} run{"s" * (n != 1)} here {"were" if n != 1 else "was"} recorded '
            f"from another file, {display_name(path)}: `compare {experiment}` shows both files' runs; give this "
            "file a name of its own (name = ...) to keep them apart" for path, n in theirs.items()]


def settings_changed(st: RunStore, cells: Sequence[Cell], force: bool = False, most: int = 3) -> list[str]:
    """A line for each variant of ``cells`` that trains again though it has finished runs, because
    its settings changed since the last of them (helper-143: a re-run after an edit said only
    "finished" for the cells it trained again): the first ``most`` config keys that differ, then
    and now (seeds, threads and device aside; runs of the same size, a --quick run beside --quick
    runs). Empty with ``force`` (every cell trains anyway)."""
    from mnistlab.comparison import NOT_SETTINGS, flatten_config, setting_value, smoke_run
    from mnistlab.config import without_layer_names
    from mnistlab.experiments import is_quick

    def flat(config: Mapping[str, Any]) -> dict[str, Any]:  # what trains: layer names are no part of a run's key
        return dict(flatten_config({**config, "model": without_layer_names(config.get("model"))}))

    if force:
        return []
    training: dict[str, Cell] = {}  # each variant's first cell to train
    for c in cells:
        if c.variant not in training and st.find_finished(c.experiment, c.variant, c.key, DONE_STATUSES, whole=True) is None:
            training[c.variant] = c
    runs = {e: st.runs(experiment=e) for e in {c.experiment for c in training.values()}}
    said: list[str] = []
    for variant, cell in training.items():
        last = [r for r in runs[cell.experiment] if r.variant == variant and r.status in DONE_STATUSES
                and r.config and smoke_run(r) == is_quick(cell.config) and not from_other_file(r, cell.source)]
        if not last:
            continue
        then, now = flat(last[-1].config), flat(cell.config)
        differ = [k for k in sorted(set(then) | set(now)) if repr(setting_value(then, k)) != repr(setting_value(now, k))
                  and k not in NOT_SETTINGS and not _adapted(k, now.get(k))]
        if cell.after:  # (its weights are another variant's runs, new or still to train: said so, not as a file)
            differ = [k for k in differ if k not in ("weights.file", "weights.variant", "weights.skip_mismatch")
                      or not cell.pending and k != "weights.file"] or [""]
        differ.sort(key=lambda k: k.rsplit(".", 1)[-1] in FOLLOWS_OPTIMIZER and (then.get(k) is None or now.get(k) is None))
        # (an optimizer's own settings that came or went with it last: helper-193, adam -> sgd said beta_1, beta_2,
        # epsilon and hid optimizer and lr; helper-194, not a schedule added beside)
        if differ == [""]:
            said.append(f'variant "{variant}": the runs of variant "{cell.after}" it starts from train again first; its '
                        "cells train again from them, unless they end with the weights its runs started from")
        elif differ and _older_own_data(differ, then, now):
            held = (" and held each run's test images out with its own seed" if "data.test_seed" in differ else "")
            said.append(f'variant "{variant}": its run {last[-1].run_id} was recorded by an older mnistlab (before '
                        f"2026-12-02), which keyed your own data by its path as typed{held}; nothing of yours "
                        "changed, but its cells train again once")
        elif differ:
            shown = ", ".join(f"{_written(k)}: {_said(then.get(k))} -> {_said(now.get(k))}" for k in differ[:most])
            said.append(f'variant "{variant}": its settings changed since run {last[-1].run_id} ({shown}'
                        f"{', ...' if len(differ) > most else ''}): its cells train again")
    return said


def _older_own_data(differ: Sequence[str], then: Mapping[str, Any], now: Mapping[str, Any]) -> bool:
    """Whether a variant's settings differ from its last run's only as a run on the user's own data
    recorded before 2026-12-02 differs (helper-217: "its settings changed" where the user changed
    nothing): its data's paths as typed where they are now absolute and end the same, and its
    ``data.test_seed`` unset where it is now set."""
    def same_path(k: str) -> bool:
        old, new = then.get(k), now.get(k)
        return (isinstance(old, str) and isinstance(new, str) and not os.path.isabs(old) and os.path.isabs(new)
                and Path(new).parts[-len(Path(old).parts):] == Path(old).parts)

    return all(((k == "dataset" or k.startswith("dataset.")) and same_path(k))  # (helper-218: dataset = "x.csv" too)
               or (k == "data.test_seed" and then.get(k) is None) for k in differ)


def _adapted(key: str, now: Any) -> bool:
    """Whether a flattened config key that differs between a variant's last run and its cell now is
    a Normalization's statistic that the run adapted and recorded, where the file leaves it unset
    (helper-144): no change of what trains."""
    return key.startswith("model.") and key.rsplit(".", 1)[-1] in ("mean", "variance", "adapted") and now is None


def _written(key: str) -> str:
    """A flattened config key as a file writes it: ``callbacks.0.patience`` -> ``callbacks[0].patience``."""
    return re.sub(r"[.](\d+)(?=[.]|$)", r"[\1]", key)


def _said(value: Any) -> str:
    """A config value in a line of :func:`settings_changed`: TOML's words, ``unset`` for none."""
    return "unset" if value is None else clip(toml_repr(value), 30)


def plan_cells(st: RunStore | None, cells: Sequence[Cell], force: bool = False) -> list[tuple[Cell, str, RunRecord | None]]:
    """What :func:`run_experiment` would do with each of ``cells`` in the store ``st`` (None: no store
    yet), doing nothing: ``"finished"`` (a run of it ended finished or diverged: skipped),
    ``"copied"`` (another variant's ended run of its config and seed is recorded again for it),
    ``"repeat"`` (an earlier cell of this sweep trains its config and seed: recorded from that
    one) or ``"train"``, each with the finished run it has (None but for "finished");
    ``force``: every cell trains (`run --dry-run` and :func:`cells_to_train`)."""
    first: set[str] = set()
    out: list[tuple[Cell, str, RunRecord | None]] = []
    for c in cells:
        held = None if force or st is None else st.find_finished(c.experiment, c.variant, c.key, DONE_STATUSES, whole=True)
        if held is not None:
            state = "finished"
        elif not force and st is not None and st.find_finished(c.experiment, None, c.key, DONE_STATUSES, whole=True):
            state = "copied"
        else:
            state = "repeat" if c.key in first else "train"
            first.add(c.key)
        out.append((c, state, held))
    return out


def held_elsewhere(st: RunStore, cells: Sequence[Cell]) -> list[RunRecord]:
    """The ``running`` runs of ``cells`` that another live process trains now
    (:func:`~mnistlab.store.trained_by_others`): cells `run` leaves to them, which
    `run --dry-run` says (helper-227: it said "to train", then `run` skipped them)."""
    from mnistlab.store import trained_by_others

    wanted = {(c.experiment, c.variant, c.key) for c in cells}
    runs = [r for e in {c.experiment for c in cells} for r in st.runs(experiment=e, status="running")]
    return trained_by_others([r for r in runs if (r.experiment, r.variant, r.config_hash) in wanted])


def cells_to_train(st: RunStore, cells: Sequence[Cell], result: ExperimentResult, force: bool) -> list[Cell]:
    """The cells to train, in order (:func:`plan_cells`); each other cell (a run of it already
    ended finished or diverged: the same config and seed give the same outcome) is added to
    ``result`` as skipped, and a checkpoint it left (a driver killed between recording it and
    deleting that, or a Ray sweep's) is deleted. ``force``: every cell trains again.

    A cell of the same config and seed as another variant's (the same key: a committee member
    repeating the plain variant's seed, a grid value equal to another variant's) is not trained
    twice: that variant's ended run is recorded again as its (:meth:`RunStore.record_again`; its
    files unreadable, it trains); of two such cells of this sweep only the first trains, the other
    goes to ``result.repeats`` (:func:`record_repeats` records it once the first has ended)."""
    todo: list[Cell] = []
    for c, state, held in plan_cells(st, cells, force):
        prev = held if state == "finished" else _same_run(st, c) if state == "copied" else None
        if state == "repeat" or (prev is None and any(t.key == c.key for t in todo)):
            result.repeats.append(c)
        elif prev is None:
            todo.append(c)
        else:
            result.outcomes.append(CellOutcome(c, prev, True, state == "copied"))
            st.drop_checkpoint(c.experiment, c.variant, c.key)
    return todo


def record_repeats(st: RunStore, result: ExperimentResult,
                   on_cell: Callable[[CellOutcome, list[dict[str, Any]]], None] | None, live: Comparison | None,
                   *, force: bool = False) -> None:
    """Record each of ``result.repeats`` (see :func:`cells_to_train`) as the run of its config and
    seed that this sweep trained under another variant, adding it to ``result`` (and showing it
    through ``on_cell``). One whose run did not end finished or diverged stays untrained: the next
    `mnistlab run` trains it (or its twin). ``force``: a cell's own earlier run is not taken for the
    new one (helper-208: after --force a twin variant's cells still named the runs before it)."""
    fresh, result.repeats_recorded = result.repeats[result.repeats_recorded:], len(result.repeats)
    for c in fresh:  # (a sweep of variants that start from others' runs records them after each level: once each)
        if (rec := _same_run(st, c, force=force)) is None:
            result.unrecorded.append(c)
            continue
        outcome = CellOutcome(c, rec, True, copied=True)
        result.outcomes.append(outcome)
        if on_cell and live is not None:
            tell(on_cell, outcome, live, outcome.record)


def _same_run(st: RunStore, cell: Cell, *, force: bool = False) -> RunRecord | None:
    """``cell``'s run recorded again from another variant's ended run of its config and seed
    (:meth:`RunStore.record_again`; or the run another process recorded for it meanwhile, unless
    ``force``: this sweep trains every cell again); None when there is none, or its files cannot be
    read or copied: then the cell trains."""
    same = st.find_finished(cell.experiment, None, cell.key, DONE_STATUSES, whole=True)
    if same is None:
        return None
    try:
        return st.record_again(same, variant=cell.variant, seed=cell.seed, member=cell.member, repeat=cell.repeat,
                               done=() if force else DONE_STATUSES, env=_asked_by(cell))
    except StoreError:
        return None


def _asked_by(cell: Cell) -> dict[str, Any]:
    """The env keys of a run recorded again for ``cell`` that are this sweep's, not its source run's:
    the experiment file and the command line that asked for it, where this process ran (helper-262: a
    student's run was credited to the file that had trained it first)."""
    return {"experiment_file": cell.source or None, "command": None, "cwd": None, **command_env(),  # (None: the
            "file_asked": True}  # source's dropped) (its experiment_file is the asker's: from_other_file reads it so)


TAKE_BACK_PASSES = 3  # how often a sweep looks again for cells other drivers gave up (each may give up one anew)


def given_up_elsewhere(st: RunStore, result: ExperimentResult) -> list[Cell]:
    """The cells another driver held when this sweep reached them (``taken``) whose run has ended
    since without a result (that driver stopped: interrupted, failed, deleted, or its process gone),
    taken out of ``result`` for this sweep to train (helper-123: such a cell was never trained,
    and the sweep ended 0 with a row of n=1). A held cell that has finished meanwhile gets its
    final record; one still training elsewhere stays as it is (:func:`running_elsewhere`)."""
    st.mark_stale()  # a killed driver's runs: interrupted, not running
    again: list[Cell] = []
    for i, o in reversed(list(enumerate(result.outcomes))):
        if not (o.skipped and o.record.status == "running"):
            continue
        try:
            now = st.get(o.record.run_id)
        except StoreError:  # deleted meanwhile
            now = None
        if now is not None and (now.status in DONE_STATUSES or now.status == "running"):
            result.outcomes[i] = CellOutcome(o.cell, now, True)
        else:
            again.insert(0, result.outcomes.pop(i).cell)
    return again


def running_elsewhere(st: RunStore, outcomes: Sequence[CellOutcome]) -> list[RunRecord]:
    """The runs of cells another driver on the same store held during the sweep (``taken``) and
    still trains now, looked up again (the comparison leaves them out)."""
    held = [st.get(o.record.run_id) for o in outcomes if o.skipped and o.record.status == "running"]
    return [r for r in held if r.status == "running" and run_alive(r.run_id, r.pid, r.host, r.created_at)]


def stopped_rows(rows: list[dict[str, Any]], cells: Sequence[Cell], st: RunStore) -> list[dict[str, Any]]:
    """The comparison of a stopped sweep with every variant listed, in file order: each row's note
    says how many of its cells were interrupted and how many not started (a variant with no run
    at all gets an n=0 row); ``failed`` counts failed runs only, not interrupted ones."""
    latest = {(r.variant, r.config_hash): r.status for r in st.runs(experiment=cells[0].experiment)} if cells else {}
    counts: dict[str, Counter[str]] = {}
    for c in cells:
        counts.setdefault(c.variant, Counter())[latest.get((c.variant, c.key), "not started")] += 1
    by_variant = {r["variant"]: r for r in rows}
    out = []
    for variant, n in counts.items():
        row = by_variant.get(variant) or {**{k: None for k in COLUMNS}, "variant": variant, "n": 0, "failed": 0,
                                           "run_ids": []}  # a list, as every row's (helper-165: null here)
        said = str(row.get("note") or "")  # a row of no result already counts its interrupted runs
        if stopped := [f"{n[s]} {s}" for s in ("interrupted", "not started") if n[s] and f"{n[s]} {s}" not in said]:
            row["note"] = "; ".join(filter(None, [row.get("note"), "stopped: " + ", ".join(stopped)]))
        out.append(row)
    return out + [r for r in rows if r["variant"] not in counts]


def _run_tasks(runner: Runner, tasks: list[CellTask], st: RunStore, result: ExperimentResult,
               on_cell: Callable[[CellOutcome, list[dict[str, Any]]], None] | None,
               live: Comparison | None) -> bool:
    """Run the tasks, adding each cell's outcome to ``result``; True when the sweep was stopped
    (Ctrl-C here, or a cell interrupted in a worker), after the runner has stopped its workers."""
    # A runner that trains away from the store (Ray) claims and records in this process itself.
    run_cells = getattr(runner, "run_cells", None)
    results = run_cells(tasks) if run_cells is not None else runner.map(execute_cell, tasks)
    interrupted = False
    try:
        for task, statuses in results:
            for cell, (run_id, status) in zip(task.cells, statuses):
                if status == "stopped":  # a worker told to stop did not start it
                    interrupted = True
                    continue
                if status == "deleted":
                    warnings.warn(f'run {run_id} ({cell.variant}, seed {cell.seed}) was deleted while it trained: its '
                                  "result is not recorded (`mnistlab run` again trains the cell)", ReportWarning,
                                  stacklevel=user_level())
                    continue
                outcome = CellOutcome(cell, st.get(run_id), status == "taken")  # taken: another driver's run
                result.outcomes.append(outcome)
                if on_cell and live is not None:
                    tell(on_cell, outcome, live, outcome.record)
                interrupted = interrupted or status == "interrupted"
            if interrupted:  # a worker's own stop, where workers are other processes: a Ctrl-C here raises here
                result.stopped_by_worker = isinstance(runner, ProcessRunner)  # first (then not); inline, it is ours
                break
    except KeyboardInterrupt:
        interrupted, result.stopped_by_worker = True, False
    except WorkerDied:  # (the pool is shut down by now)
        st.mark_stale()  # the killed worker's run and those the pool ended with it: interrupted, not running
        raise
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()  # a generator runner stops its workers in its own `finally`
    return interrupted


def evaluate_committees(store: RunStore, exp: Experiment, cells: Sequence[Cell], *,
                        data_dir: str | os.PathLike | None = None) -> list[CommitteeRecord]:
    """For each complete committee (all members finished), average the members' test softmax
    outputs, score it, and record it in the store: a variant's ``committee`` (per repeat), then
    each ``[[committees]]`` table across variants (:class:`~mnistlab.experiments.VariantCommittee`)."""
    groups: dict[tuple[str, int], list[Cell]] = {}
    sizes = {v.name: v.committee for v in exp.variants}
    measured = {tuple(c.member_ids): c.val_accuracy for c in store.committees(exp.name) if c.val_accuracy is not None}
    for c in cells:
        if sizes.get(c.variant, 1) > 1:
            groups.setdefault((c.variant, c.repeat), []).append(c)
    committees = [(variant, repeat, members) for (variant, repeat), members in groups.items()]
    committees += [(comm.name, 0, [c for c in cells if c.variant in comm.variants]) for comm in exp.committees]
    records = (_score_committee(store, exp.name, name, repeat, members, measured, data_dir)
               for name, repeat, members in committees)
    return [rec for rec in records if rec is not None]


def _score_committee(store: RunStore, experiment: str, name: str, repeat: int, members: Sequence[Cell],
                     measured: Mapping[tuple[str, ...], float],
                     data_dir: str | os.PathLike | None) -> CommitteeRecord | None:
    """Score and record committee ``name`` (a committee variant, or a ``[[committees]]`` table's
    name) of the cells ``members`` once they have all finished: their test softmax outputs averaged
    (its validation accuracy: ``measured`` before for these runs, or now). None, recording
    nothing, while one has not finished with a test result, for fewer than 2 (``--quick`` shrinks repeats to 1), or
    runs scored on different test sets (a warning: load_experiment refuses such a committee)."""
    found = [store.find_finished(experiment, c.variant, c.key) for c in members]
    # a member without a test result (a stop while testing, recorded before such runs were interrupted)
    recs = [r for r in found if r is not None and isinstance(r.metrics.get("test_accuracy"), (int, float))]
    if len(recs) < max(len(found), 2):
        return None
    probs = [store.load_predictions(r.run_id) for r in recs]
    held = {test_seed(r.config) for r in recs} if carves_test_split(members[0].config.get("dataset")) else set()
    if len({p.shape for p in probs}) > 1 or len(held) > 1:  # (helper-191: each member's own held-out images, averaged)
        said = (f"test images held out with seeds {', '.join(map(str, sorted(held)))}" if len(held) > 1
                else ", ".join(sorted({str(p.shape) for p in probs})))
        warnings.warn(f'committee "{name}": its runs were scored on different test sets ({said}); it is not scored',
                      SpecWarning, stacklevel=user_level())
        return None
    labels = scored_labels(members[0].config, len(probs[0]), data_dir)
    rec = CommitteeRecord(experiment, name, repeat, committee_accuracy(probs, labels), [r.run_id for r in recs],
                          [float(r.metrics.get("test_accuracy") or 0.0) for r in recs], time.time(),
                          _val_accuracy(store, recs, measured, data_dir))
    store.save_committee(rec)
    return rec


def _val_accuracy(store: RunStore, members: Sequence[RunRecord], measured: Mapping[tuple[str, ...], float],
                  data_dir: str | os.PathLike | None) -> float | None:
    """A committee's validation accuracy (``measured`` before for these members, or now), or None
    (:func:`committee_val_accuracy`)."""
    ids = tuple(r.run_id for r in members)
    return measured[ids] if ids in measured else committee_val_accuracy(store, members, data_dir)


def committee_val_accuracy(store: RunStore, members: Sequence[RunRecord],
                           data_dir: str | os.PathLike | None = None) -> float | None:
    """The accuracy of the members' averaged softmax outputs on their validation images: what a
    committee is chosen on, as a single model's epoch is (the test set is scored once, after).

    Only defined when every member held out the same images (the same dataset, ``data.subset``,
    ``data.validation`` and split seed: a fixed ``data.split_seed``, or one training seed); None
    when they differ (each member then trained on the others' validation images), when there is
    no validation split or it is the test set, or when the data or a model cannot be loaded."""
    from mnistlab.errors import MnistlabError
    from mnistlab.run import Run, prepare_data

    splits = {_validation_split(r.config) for r in members}
    if len(splits) != 1 or None in splits:
        return None
    try:
        data = prepare_data(parse_run_config(members[0].config), data_dir)
        if data.val_x is None or data.val_y is None:
            return None
        val_x, val_y = data.val_x.numpy(), data.val_y.numpy()
        probs = [Run.from_store(store, r.run_id).predict(val_x, preprocess=False) for r in members]
    except MnistlabError:
        return None
    return committee_accuracy(probs, val_y)


def _validation_split(config: Mapping[str, Any]) -> str | None:
    """What fixes a run's validation images (None: it has none, or validates on the test set)."""
    data = config.get("data") or {}
    if not data.get("validation") or data.get("validation") == "test":
        return None
    shape = (config.get("model") or {}).get("input_shape")
    fixed = (data.get(k) for k in ("subset", "validation", "stratify", "split"))
    return json.dumps([config.get("dataset"), shape, split_seed(config), *fixed], default=str)


def committee_accuracy(member_probs: Sequence[np.ndarray], labels: np.ndarray) -> float:
    """Accuracy of the averaged softmax outputs of a committee's members."""
    avg = committee_probs(member_probs)
    return float((avg.argmax(1) == np.asarray(labels)).mean())


def scored_labels(resolved: Mapping[str, Any], n: int, data_dir: str | os.PathLike | None = None) -> np.ndarray:
    """The test labels a run was scored on (``data.subset`` keeps the first images)."""
    seed = test_seed(resolved)  # user data without a test file: its carved split
    return np.asarray(load_dataset(resolved["dataset"], data_dir, seed=seed, shuffle=data_shuffled(resolved)).test_labels[:n])
