"""Where a sweep's cells train: this machine (``local``: in-process or spawned processes, see
:mod:`mnistlab.execute`) or a Ray cluster (``ray``: :class:`RayRunner`).

On Ray only the driver touches the run store: it claims each cell (so a second driver on the same
store, or the next run after this one is killed, sees who holds it), sends the cell to a Ray task
that trains it without any store, gets back the run's result (history, metrics, weights and test
predictions: small) and records it with the same :func:`~mnistlab.execute.record_cells` as a local
run. Same config, same seed: the same numbers as the local backend.

Workers talk to the driver through one small Ray actor, the *relay* (:class:`Relay`): at each
epoch end a task posts its history so far (the driver writes it to the running run's row, so
`mnistlab watch` and the live view show Ray cells' epochs) and a search trial asks whether to
stop (the driver, which holds the Optuna study, answers; :class:`RayTrials`). The relay opens no
files, so a worker never opens the driver's store or study, wherever it runs.

A cell's checkpoints travel the same way (:class:`CheckpointMirror`): the worker trains with a
checkpoint folder of its own and posts each checkpoint it writes; the relay keeps the newest (a
task Ray retries after its worker died starts from it) and the driver writes it into the store
beside a local cell's (a sweep run again after its driver was killed continues the cell there).

    runner = ray_runner(address=None, cpus_per_cell=1)     # a local Ray sized to this machine
    run_experiment("recipes/fast.toml", runner=runner)
"""

from __future__ import annotations

import asyncio
import dataclasses
import contextlib
import logging
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch

from mnistlab.callbacks import Callback, Logs
from mnistlab.errors import MnistlabError, SpecError, SpecWarning, StoreError, first_line, user_level
from mnistlab.execute import CHECKPOINT_ENDS, CellTask, Claims, claim_cells, record_cells, train_cells
from mnistlab.files import pid_alive, stop_signals_held, write_atomic
from mnistlab.run import RunResult, failure_message
from mnistlab.store import RunRecord, RunStore
from mnistlab.trainer import CHECKPOINT_FILE

POLL_SECONDS = 0.05  # how often the driver looks at the relay while tasks train
ROOM_SECONDS = 2.0  # how often a driver with cells still to send asks whether the cluster grew (nodes joined)
WAIT_SAY_SECONDS = 10.0  # a task not started after this long: say that it waits for resources
# A task of ours unstarted this long is queued, not a worker still importing torch: its CPUs no longer
# count as the cluster's busy ones (helper-115: another job holding a 2-CPU cluster was never said)
STARTING_SECONDS = 30.0
# How hard Ray tries to join a cluster (its settings, read from the environment when Ray is
# imported): twice instead of 20 times, each try giving up after 3 s to connect and 4 s to hear the
# cluster's id instead of 5 and 30 s, so that a server which speaks gRPC but is not Ray's GCS is one
# line after about 20 s, not a silent wait of minutes. A working GCS answers in milliseconds.
CONNECT_SETTINGS = {"RAY_gcs_server_port_wait_time_s": "2", "RAY_gcs_rpc_server_connect_timeout_s": "3",
                    "RAY_py_gcs_connect_timeout_s": "4"}
T = TypeVar("T")
R = TypeVar("R")
TrainFn = Callable[..., "list[RunResult | BaseException]"]  # (task, indices, callbacks=, checkpoint_dir=) -> results
# (run_id, "started" | "progress" | "prune" | "checkpoint", payload) -> a "prune"'s answer
OnReport = Callable[[str, str, Any], Any]
MIRROR_SECONDS = 1.0  # how often a Ray worker looks for a checkpoint written inside an epoch
RELAY_TIMEOUT_SECONDS = 60.0  # a relay that has not answered a checkpoint's post by then: the cell trains on


class Relay:
    """The Ray actor (no CPU of its own) between the workers and the driver. A worker posts
    ``report(run_id, kind, payload)``: ``"progress"`` (its history so far) returns at once,
    ``"prune"`` (``(step, value)``) waits for the driver's answer. The driver collects the posts
    with :meth:`take` and answers each ``"prune"`` with :meth:`answer`. An async actor: many
    workers can wait at once."""

    def __init__(self) -> None:
        self._inbox: list[tuple[str, str, Any]] = []
        self._waiting: dict[tuple[str, int], asyncio.Future] = {}
        self._checkpoints: dict[str, bytes] = {}  # run id -> the newest checkpoint file's bytes

    async def report(self, run_id: str, kind: str, payload: Any) -> Any:
        """Post a report; for ``"prune"``, wait for and return the driver's answer (a bool); a
        ``"checkpoint"`` (the file's bytes) is also kept as the run's newest (:meth:`checkpoint`)."""
        self._inbox.append((run_id, kind, payload))
        if kind == "checkpoint":
            self._checkpoints[run_id] = payload
        if kind != "prune":
            return None
        fut = asyncio.get_running_loop().create_future()
        self._waiting[(run_id, int(payload[0]))] = fut
        return await fut

    async def take(self) -> list[tuple[str, str, Any]]:
        """Every report posted since the last take, oldest first."""
        out, self._inbox = self._inbox, []
        return out

    async def checkpoint(self, run_id: str) -> bytes | None:
        """The newest checkpoint of ``run_id`` (posted by its worker or kept by the driver), or None."""
        return self._checkpoints.get(run_id)

    async def keep(self, run_id: str, data: bytes | None) -> None:
        """The driver's side of :meth:`checkpoint`: the store's checkpoint of a cell it sends (a
        rerun's), or None to forget the run's once its cell has ended."""
        if data is None:
            self._checkpoints.pop(run_id, None)
        else:
            self._checkpoints[run_id] = data

    async def answer(self, run_id: str, step: int, value: Any) -> None:
        """Answer the ``"prune"`` report of ``run_id`` at ``step``."""
        fut = self._waiting.pop((run_id, int(step)), None)
        if fut is not None and not fut.done():
            fut.set_result(value)


class RelayProgress(Callback):
    """Worker side: posts the run's history so far to the relay at each epoch end (the Ray
    counterpart of :class:`~mnistlab.live.EpochProgress`; the driver writes it to the store).
    Never waits, and a relay that is gone is ignored: progress is never worth failing a run for."""

    def __init__(self, relay: Any, run_id: str) -> None:
        self.relay, self.run_id = relay, run_id
        self.history: list[dict[str, Any]] = []

    def _entry(self, epoch: int, logs: Logs | None) -> dict[str, Any]:
        numbers = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, (int, float)) and k != "epoch"}
        return {"epoch": epoch + 1, "epochs": int(self.params.get("epochs", 0) or 0), **numbers}

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        if epoch > 0 and not self.history:  # resumed from a checkpoint: its epochs so far, at once
            self.history = [self._entry(i, h) for i, h in enumerate(self.trainer.history[:epoch])]
            self._post()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.history.append(self._entry(epoch, logs))
        self._post()

    def _post(self) -> None:
        try:
            self.relay.report.remote(self.run_id, "progress", list(self.history))
        except Exception:  # noqa: BLE001 - the driver and its relay are gone: the task is cancelled anyway
            pass


class CheckpointMirror(Callback):
    """Worker side: posts each checkpoint the cell writes to ``path`` (in the worker's own folder)
    to the relay as ``"checkpoint"``, waiting for the relay to have it. It looks as each epoch
    begins (the last epoch's end wrote one) and every :data:`MIRROR_SECONDS` in a thread of its own
    (one written inside an epoch). A relay that is gone is ignored: the cell trains on."""

    def __init__(self, relay: Any, run_id: str, path: Path, every: float = MIRROR_SECONDS) -> None:
        import threading

        self.relay, self.run_id, self.path = relay, run_id, path
        self._sent = self._stamp()  # a checkpoint the cell resumes from is the relay's already
        self._lock, self._done = threading.Lock(), threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(every,), name="mnistlab-checkpoint-mirror", daemon=True)
        self._thread.start()

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size  # a new file (written whole, then renamed) has a new inode

    def _watch(self, every: float) -> None:
        while not self._done.wait(every):
            self.flush()

    def flush(self) -> None:
        """Post the checkpoint file if it changed since the last post, and wait for the relay."""
        import ray

        with self._lock:
            stamp = self._stamp()
            if stamp is None or stamp == self._sent:
                return
            try:
                data = self.path.read_bytes()
                ray.get(self.relay.report.remote(self.run_id, "checkpoint", data), timeout=RELAY_TIMEOUT_SECONDS)
            except (OSError, ray.exceptions.RayError):  # renamed over meanwhile (the next look sends it), or no relay
                return
            self._sent = stamp

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self.flush()

    def close(self) -> None:
        """Stop the thread (the cell has ended)."""
        self._done.set()
        self._thread.join()


class RelayTrial:
    """Worker side: what :class:`~mnistlab.search.PruningCallback` takes for an Optuna trial, its
    ``report`` and ``should_prune`` answered by the driver through the relay (the driver reports
    the value to the study and asks its pruner). A relay that is gone means: do not prune."""

    def __init__(self, relay: Any, run_id: str) -> None:
        self.relay, self.run_id = relay, run_id
        self._last: tuple[int, float] | None = None

    def report(self, value: float, step: int) -> None:
        self._last = (int(step), float(value))

    def should_prune(self) -> bool:
        import ray

        if self._last is None:
            return False
        try:
            return bool(ray.get(self.relay.report.remote(self.run_id, "prune", self._last)))
        except ray.exceptions.RayError:
            return False


class _CellError(MnistlabError):
    """A cell's error carried back from a Ray worker as its one-line message (the original
    exception may not pickle); :meth:`~mnistlab.run.Recorder.fail` records that message as is."""


class _Weights(torch.nn.Module):
    """A trained model reduced to its state dict (CPU tensors) for the trip back to the driver:
    all :meth:`~mnistlab.run.Recorder.finish` reads from a result's model."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self._state = state

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        return dict(self._state)


def _portable(res: RunResult | BaseException) -> RunResult | BaseException:
    if isinstance(res, BaseException):
        if isinstance(res, KeyboardInterrupt):
            return KeyboardInterrupt()
        return _CellError(str(res) if isinstance(res, MnistlabError) else failure_message(res))
    state = {k: v.detach().cpu() for k, v in res.model.state_dict().items()}
    # where it trained, in its record's env beside the worker's host and pid (helper-134: nothing said Ray)
    return dataclasses.replace(res, model=_Weights(state), env={**(res.env or {}), "backend": "ray"})


def _driver_data() -> str:
    """The driver's ``MNISTLAB_DATA_DIR``, absolute (a worker's working folder is another), for its
    Ray tasks to use where their worker has none (:func:`_data_from_driver`); "" when it has none."""
    given = os.environ.get("MNISTLAB_DATA_DIR", "").strip()
    return os.path.abspath(given) if given else ""


def _data_from_driver(folder: str) -> None:
    """In a Ray worker: take the driver's ``MNISTLAB_DATA_DIR`` (``folder``) where this worker has
    none and the folder is here (helper-134: a cluster started from a shell without it failed every
    cell with "files not found", though the driver had checked its data). A worker's own stays."""
    if folder and not os.environ.get("MNISTLAB_DATA_DIR", "").strip() and os.path.isdir(folder):
        os.environ["MNISTLAB_DATA_DIR"] = folder


def train_remote(train: TrainFn, task: CellTask, indices: Sequence[int], relay: Any = None,
                 run_id: str = "", token: str = "", data_dir: str = "") -> list[RunResult | BaseException]:
    """What a Ray task runs: ``train(task, indices)`` (:func:`~mnistlab.execute.train_cells`, which
    writes no store), each result made small and picklable for the driver. ``token`` is posted
    first as ``"started"`` (the driver then knows the task is not waiting for resources). A single
    cell (``run_id``, its run) posts its epochs to ``relay`` and trains with a checkpoint folder
    in the worker's temporary files: it starts from the relay's newest checkpoint of the run if
    there is one, and each checkpoint it writes goes to the relay (:class:`CheckpointMirror`).
    ``data_dir``: the driver's ``MNISTLAB_DATA_DIR`` (:func:`_data_from_driver`)."""
    _data_from_driver(data_dir)
    if relay is not None and token:
        relay.report.remote(token, "started", None)
    if relay is None or not run_id:  # several cells (stacked members) restart together, as locally
        return [_portable(r) for r in train(task, indices)]
    folder = _worker_folder()
    _fetch_checkpoint(relay, run_id, folder / CHECKPOINT_FILE)
    mirror = CheckpointMirror(relay, run_id, folder / CHECKPOINT_FILE)
    try:
        results = train(task, indices, callbacks=[RelayProgress(relay, run_id), mirror], checkpoint_dir=folder)
    finally:
        mirror.close()
        shutil.rmtree(folder, ignore_errors=True)
    return [_portable(r) for r in results]


def _fetch_checkpoint(relay: Any, run_id: str, path: Path) -> bool:
    """Write the relay's newest checkpoint of ``run_id`` (the last try's, or the one the driver
    kept from the store) to ``path``; whether there was one. No relay: none (it trains from its
    first epoch)."""
    import ray

    try:
        newest = ray.get(relay.checkpoint.remote(run_id), timeout=RELAY_TIMEOUT_SECONDS)
    except ray.exceptions.RayError:
        return False
    if newest:
        path.write_bytes(newest)
    return bool(newest)


def _worker_folder() -> Path:
    """An empty folder for this Ray worker process's cell checkpoint (a worker trains one task at a
    time). A worker killed meanwhile (Ray's cancel, out of memory) could not remove its own: the
    folders of processes no longer alive on this machine are removed here."""
    root = Path(tempfile.gettempdir())
    for old in root.glob("mnistlab-ray-cell-*"):
        pid = old.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    folder = root / f"mnistlab-ray-cell-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


def _units(cpus: float, gpus: float | None) -> str:
    """Resource counts as a sentence says them (1 is singular; ``gpus`` None: CPUs alone).

    >>> _units(1, 0.5)
    '1 CPU and 0.5 GPUs'
    >>> _units(1, None)
    '1 CPU'
    """
    counts = ((cpus, "CPU"),) if gpus is None else ((cpus, "CPU"), (gpus, "GPU"))
    return " and ".join(f"{n:g} {unit}{'s' * (n != 1)}" for n, unit in counts)


class RayRunner:
    """Runs a sweep's cells as Ray tasks (``cpus_per_cell`` CPUs and ``gpus_per_cell`` GPUs each,
    a GPU fraction allowed), at most as many at once as the cluster has room for: asked again as
    cells end and every :data:`ROOM_SECONDS` while cells wait to be sent, so nodes that join the
    cluster mid-sweep take cells (helper-185: the room was fixed at the start). The driver
    claims each cell just before its task is sent and records its result when it returns.

    A task whose worker dies (killed, out of memory, ``os._exit``) is run again once by Ray
    (``max_retries=1``); if it dies again its cells are recorded ``failed``. Stopping the driver
    (Ctrl-C) cancels the tasks in flight and records their cells ``interrupted``; killing it
    outright leaves their claims to expire with it. Either way the next run trains them again,
    each from its last checkpoint where it had one (:class:`CheckpointMirror`).
    ``train`` is what the workers run (tests give one that dies).
    """

    def __init__(self, *, cpus_per_cell: float = 1.0, gpus_per_cell: float = 0.0,
                 train: TrainFn = train_cells, started: bool = False, fixed: tuple[bool, bool] = (False, False)) -> None:
        if not (math.isfinite(cpus_per_cell) and math.isfinite(gpus_per_cell)) or cpus_per_cell <= 0 or gpus_per_cell < 0:
            raise SpecError(f"--cpus-per-cell must be above 0 and --gpus-per-cell at least 0, "
                            f"got {cpus_per_cell} and {gpus_per_cell}")
        if gpus_per_cell > 1 and gpus_per_cell != int(gpus_per_cell):
            raise SpecError(f"--gpus-per-cell: a GPU fraction must be at most 1 (Ray shares one GPU, not several); "
                            f"got {gpus_per_cell}: use a whole number above 1")
        self.cpus_per_cell, self.gpus_per_cell, self.train = cpus_per_cell, gpus_per_cell, train
        self.fixed = fixed  # (CPUs, GPUs) set by a flag: a variant's own resources do not apply
        self.started = started  # this runner started Ray (a local instance): close() shuts it down
        self.quieted = False  # this runner routed Ray's messages through _ray_message: close() undoes it
        self._relay: Any = None
        self._sent: dict[Any, tuple[str, float, float, float]] = {}  # ref -> (token, sent at, CPUs, GPUs)
        self._started: set[str] = set()  # tokens of the tasks a worker began
        self._progress_seen: dict[str, int] = {}  # run id -> epochs in the longest history it posted
        self._said_waiting = False
        self._said_code = False  # said once: the workers run another mnistlab than this driver
        self._mine: dict[str, Any] | None = None  # this driver's environment (run.environment), once asked
        self._looked_at = 0.0  # when _say_waiting last asked the cluster (time.monotonic())
        self.wait_say_seconds = WAIT_SAY_SECONDS
        self.starting_seconds = STARTING_SECONDS

    @property
    def threads(self) -> int:
        """The CPU threads a task trains with: Ray sets a worker's OMP threads to its CPUs."""
        return max(1, int(self.cpus_per_cell))

    def relay(self) -> Any:
        """This driver's :class:`Relay` actor (started on first use; it ends with the driver)."""
        import ray

        if self._relay is None:
            self._relay = ray.remote(num_cpus=0)(Relay).remote()
            ray.get(self._relay.take.remote())  # started before any task reports (else the first epochs come late)
        return self._relay

    def wait_one(self, refs: Sequence[Any], on_report: OnReport, grown: Callable[[], bool] | None = None) -> Any:
        """Wait for one of ``refs`` to finish and return it; meanwhile hand every report the
        workers post to ``on_report(run_id, kind, payload)`` and send each ``"prune"`` its answer.
        None, before any has finished, where ``grown()`` (asked every :data:`ROOM_SECONDS`) says the
        cluster has room for more than is in flight."""
        import ray

        asked = time.monotonic()
        while True:
            done, _ = ray.wait(list(refs), num_returns=1, timeout=POLL_SECONDS)
            self.drain(on_report)
            if done:
                self._sent.pop(done[0], None)
                return done[0]
            self._say_waiting(refs)
            if grown is not None and time.monotonic() - asked >= ROOM_SECONDS:
                asked = time.monotonic()
                if grown():
                    return None

    def drain(self, on_report: OnReport) -> None:
        """Hand every report the workers posted since the last look to ``on_report`` (and send each
        ``"prune"`` its answer): while waiting, and once more when the driver stops, so that a
        checkpoint posted just before the stop reaches the store."""
        import ray

        if self._relay is None:
            return
        for run_id, kind, payload in ray.get(self._relay.take.remote()):
            if kind == "started":  # its worker began: the run is no longer queued (on_report says so in the store)
                self._started.add(run_id)
            if kind == "progress":  # posted without waiting, they may come out of order: the longest stands
                if len(payload) <= self._progress_seen.get(run_id, 0):
                    continue
                self._progress_seen[run_id] = len(payload)
            answer = on_report(run_id, kind, payload)
            if kind == "prune":
                self._relay.answer.remote(run_id, payload[0], answer)

    def _say_waiting(self, refs: Sequence[Any]) -> None:
        """One line (once per runner) when a task has waited ``wait_say_seconds`` without a
        worker starting it: the cluster's free resources are taken (by other jobs, say)."""
        import ray

        now = time.monotonic()
        if self._said_waiting or now - self._looked_at < 1.0:  # ask the cluster once a second at most
            return
        for ref in refs:
            token, sent, cpus, gpus = self._sent.get(ref, ("", now, 0.0, 0.0))
            if token and token not in self._started and now - sent > self.wait_say_seconds:
                self._looked_at = now
                free, total = ray.available_resources(), ray.cluster_resources()
                # this driver's tasks, started or (sent in the last starting_seconds) maybe starting: a task
                # unstarted longer is queued, and its CPUs are no reason to think the cluster's busy ones ours
                ours = sum(c for t, at, c, _ in self._sent.values() if t in self._started or now - at < self.starting_seconds)
                if total.get("CPU", 0) - free.get("CPU", 0) <= ours and (not gpus or free.get("GPU", 0) >= gpus):
                    return  # the CPUs in use may all be this sweep's own workers, still starting (importing torch)
                need = _units(cpus, gpus or None)  # (helper-185: "1 CPUs")
                has = _units(free.get("CPU", 0), free.get("GPU", 0) if gpus else None)
                _say(f"waiting for Ray resources: {need} per cell, the cluster has {has} free (other jobs hold the rest)")
                self._said_waiting = True
                return

    def track(self, ref: Any, token: str, cpus: float, gpus: float) -> None:
        """Remember a task just sent (its worker posts ``token`` as ``"started"`` when it begins),
        for the "waiting for Ray resources" line; :meth:`wait_one` forgets it when it ends."""
        self._sent[ref] = (token, time.monotonic(), cpus, gpus)

    def cell_resources(self, cell: Any) -> tuple[float, float]:
        """The (CPUs, GPUs) a cell's task reserves: its variant's own ``resources`` where it has
        them (and no flag set that amount), else this runner's per-cell amounts."""
        cpus = self.cpus_per_cell if self.fixed[0] or cell.cpus is None else cell.cpus
        gpus = self.gpus_per_cell if self.fixed[1] or cell.gpus is None else cell.gpus
        return float(cpus), float(gpus)

    def check_fits(self, cells: Sequence[Any]) -> None:
        """Refuse, in one line, cells (:class:`~mnistlab.experiments.Cell`) asking for more CPUs or
        GPUs than any one node of the cluster has: a task runs on one node, so theirs would wait
        forever (helper-185: two 1-CPU nodes took a 2-CPU cell, which hung without a word). `mnistlab
        run` calls it before it makes the store; :meth:`run_cells` checks again.

        Raises :class:`~mnistlab.errors.SpecError` naming the first such variant."""
        import ray

        have = ray.cluster_resources()
        nodes = [n.get("Resources") or {} for n in ray.nodes() if n.get("Alive")] or [have]
        for cell in cells:
            cpus, gpus = self.cell_resources(cell)
            if cpus > have.get("CPU", 0) or gpus > have.get("GPU", 0):
                raise SpecError(f'variant "{cell.variant}" asks for {_units(cpus, gpus)} per cell; '
                                f"the Ray cluster has {_units(have.get('CPU', 0), have.get('GPU', 0))}")
            if not any(cpus <= n.get("CPU", 0) and gpus <= n.get("GPU", 0) for n in nodes):
                most = max(nodes, key=lambda n: (n.get("CPU", 0), n.get("GPU", 0)))
                raise SpecError(f'variant "{cell.variant}" asks for {_units(cpus, gpus)} per cell; no node of the Ray '
                                f"cluster has that many (its largest: {_units(most.get('CPU', 0), most.get('GPU', 0))}; "
                                f"{len(nodes)} nodes, {_units(have.get('CPU', 0), have.get('GPU', 0))} in all), and a "
                                "cell's task runs on one node")

    def slots(self) -> int:
        """How many cells the cluster trains at once with this runner's resources per cell
        (:meth:`room`); SpecError where it has room for none."""
        import ray

        if (n := self.room()) < 1:
            have = ray.cluster_resources()
            raise SpecError(f"the Ray cluster has {_units(have.get('CPU', 0), have.get('GPU', 0))}: "
                            f"not enough for one cell ({_units(self.cpus_per_cell, self.gpus_per_cell)})")
        return n

    def room(self) -> int:
        """How many cells of this runner's resources the cluster's nodes hold now (0 where none
        fits): the nodes alive, busy or not, as Ray counts them (``cluster_resources``)."""
        import ray

        have = ray.cluster_resources()
        n = int(have.get("CPU", 0) // self.cpus_per_cell)
        if self.gpus_per_cell:
            n = min(n, int(have.get("GPU", 0) // self.gpus_per_cell))
        return max(n, 0)

    def _remote(self, fn: Callable[..., Any]) -> Any:
        import ray

        return ray.remote(max_retries=1, retry_exceptions=False)(fn).options(
            num_cpus=self.cpus_per_cell, num_gpus=self.gpus_per_cell)

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[T, R]]:
        """Yield ``(item, fn(item))`` as each Ray task finishes (the :class:`~mnistlab.execute.Runner`
        protocol); a task's exception is raised here."""
        import ray

        remote = self._remote(fn)
        pending = {remote.remote(item): item for item in items}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                yield pending.pop(done[0]), ray.get(done[0])
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    # long: the driver's loop (claim, send, wait, record, stop), read top to bottom; split, it would scatter it
    def run_cells(self, tasks: Sequence[CellTask]) -> Iterator[tuple[CellTask, list[tuple[str, str]]]]:
        """Claim, train on Ray and record every task's cells; yields ``(task, [(run_id, status)])``
        as :func:`~mnistlab.execute.execute_cell` returns them, in the order the tasks finish."""

        if not tasks:
            return
        self.check_fits([t.cells[0] for t in tasks])
        import ray

        remote, slots, relay = ray.remote(max_retries=1, retry_exceptions=False)(train_remote), self.slots(), self.relay()
        queue = list(reversed(tasks))
        pending: dict[Any, tuple[CellTask, Claims]] = {}
        with RunStore(tasks[0].store_root) as store:
            folders: dict[str, Path] = {}  # a single cell's run id -> its checkpoint folder in the store

            sent: dict[str, list[str]] = {}  # a task's token (its first run id) -> its runs, queued till it starts

            def progress(run_id: str, kind: str, payload: Any) -> None:  # a cell's epochs so far, or a checkpoint
                if kind == "started":
                    store.mark_queued(sent.pop(run_id, ()), queued=False)
                elif kind != "checkpoint":
                    store.record_progress(run_id, payload)
                else:
                    _keep_in_store(folders, run_id, payload)

            try:
                while queue or pending:
                    while queue and len(pending) < slots:
                        task = queue.pop()
                        claims = claim_cells(store, task)
                        if not claims[1]:  # every cell held by another driver, or done meanwhile
                            yield task, record_cells(*claims, [])
                            continue
                        first = claims[1][0][1].run_id if len(claims[1]) == 1 else ""  # one cell: its epochs
                        try:
                            if first:  # and its checkpoints, as a local cell's (execute_cell)
                                folders[first] = self._seed_checkpoint(store, task, claims[1][0][0], first)
                            cpus, gpus = self.cell_resources(task.cells[0])
                            task = dataclasses.replace(task, threads=max(1, int(cpus)))  # Ray sets OMP threads so
                            token = claims[1][0][1].run_id
                            ref = remote.options(num_cpus=cpus, num_gpus=gpus).remote(
                                self.train, task, [i for i, _ in claims[1]], relay, first, token, _driver_data())
                        except BaseException as exc:  # claimed, not sent (a Ctrl-C, Ray gone): recorded, not left running
                            record_cells(*claims, [exc] * len(claims[1]))
                            raise
                        pending[ref] = (task, claims)
                        self.track(ref, token, cpus, gpus)
                        sent[token] = [recorder.run_id for _, recorder in claims[1]]
                        store.mark_queued(sent[token])
                    if not pending:
                        continue
                    ref = self.wait_one(list(pending), progress, grown=lambda: bool(queue) and self.room() > len(pending))
                    slots = max(self.room(), 1)  # nodes joined (or left) meanwhile: as many in flight as now fit
                    if ref is None:
                        continue
                    task, claims = pending.pop(ref)
                    with stop_signals_held():  # recorded, and its checkpoint settled, before a stop
                        statuses = record_cells(*claims, _results(ref, len(claims[1])))
                        folder = folders.get(claims[1][0][1].run_id) if len(claims[1]) == 1 else None
                        if len(claims[1]) == 1:
                            self._end_checkpoint(store, task, claims[1][0], statuses, folders)
                    records = _records(store, [run_id for run_id, _ in statuses])
                    self.say_other_code(records)
                    say_worker_warnings(records, folder)
                    yield task, statuses
            finally:
                with contextlib.suppress(Exception):  # the last checkpoints posted reach the store (Ray gone: none)
                    self.drain(progress)
                _stop(pending)
                for ref in pending:  # cancelled: no longer this sweep's (a reused runner counts afresh)
                    self._sent.pop(ref, None)
                with contextlib.suppress(Exception):  # nor are their checkpoints the relay's (the store keeps them)
                    for run_id in folders:
                        self.relay().keep.remote(run_id, None)

    def say_other_code(self, records: Sequence[RunRecord]) -> bool:
        """Say once (a warning line) where the runs ``records`` were trained by another mnistlab than
        this driver's: another version, or another git commit where both know theirs. A cluster started
        from another environment imports its own copy, and the runs' numbers are that code's while
        their keys are this driver's (helper-185: nothing said). True when said now."""
        if self._said_code:
            return False
        if self._mine is None:  # this driver's code, asked once
            import torch

            from mnistlab.run import environment

            self._mine = environment(torch.device("cpu"))
        mine = self._mine
        for rec in records:
            version, commit = (rec.env or {}).get("mnistlab"), (rec.env or {}).get("git_commit")
            if version and (version != mine["mnistlab"] or commit and mine["git_commit"] and commit != mine["git_commit"]):
                self._said_code = True
                _say(f"the Ray workers run another mnistlab (version {version}, commit {(commit or 'unknown')[:12]}) "
                     f"than this driver (version {mine['mnistlab']}, commit {(mine['git_commit'] or 'unknown')[:12]}): "
                     "their runs "
                     "are that code's; install this one where the cluster's workers find it (or start the cluster "
                     "from this environment)")
                return True
        return False

    def _seed_checkpoint(self, store: RunStore, task: CellTask, index: int, run_id: str) -> Path:
        """The store's checkpoint folder of the task's cell ``index``, trained as run ``run_id``: its
        checkpoint, if any, handed to the relay for the worker to resume from (``--force``: dropped,
        the cell trains afresh, as :func:`~mnistlab.execute.execute_cell` does)."""
        cell = task.cells[index]
        folder = store.checkpoint_dir(cell.experiment, cell.variant, cell.key)
        if not task.done:
            store.drop_checkpoint(cell.experiment, cell.variant, cell.key)
        else:
            _hand_to_relay(self.relay(), run_id, folder)
        return folder

    def _end_checkpoint(self, store: RunStore, task: CellTask, mine: tuple[int, Any],
                        statuses: Sequence[tuple[str, str]], folders: dict[str, Path]) -> None:
        """A single cell's task has ended: the relay forgets its checkpoint; the store's goes once
        the cell is recorded done or its run was deleted meanwhile (an interrupted or failed one
        keeps it for the next run)."""
        index, recorder = mine
        folders.pop(recorder.run_id, None)
        self.relay().keep.remote(recorder.run_id, None)
        if statuses[index][1] in CHECKPOINT_ENDS:
            cell = task.cells[index]
            store.drop_checkpoint(cell.experiment, cell.variant, cell.key)

    def trial_pool(self, study: Any, store: RunStore) -> RayTrials:
        """A search's trials as Ray tasks (see :class:`RayTrials`; used by :func:`~mnistlab.search.run_search`)."""
        return RayTrials(self, study, store)


def _hand_to_relay(relay: Any, run_id: str, folder: Path) -> None:
    """The store's checkpoint in ``folder`` handed to the relay, for the worker that trains run
    ``run_id`` to continue from; none there, or unreadable: it trains from its first epoch."""
    if (folder / CHECKPOINT_FILE).is_file():
        import ray

        with contextlib.suppress(OSError):
            ray.get(relay.keep.remote(run_id, (folder / CHECKPOINT_FILE).read_bytes()))


def _keep_in_store(folders: dict[str, Path], run_id: str, data: bytes) -> None:
    """A checkpoint a worker posted for run ``run_id``, written whole in its store folder
    (``folders``: run id -> folder). A full disk: said once, and the run trains on without one, as
    a local one does (its folder forgotten: a stop then loses its epochs)."""
    folder = folders.get(run_id)
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / CHECKPOINT_FILE, lambda tmp: tmp.write_bytes(data), through=False)
    except OSError as exc:
        folders.pop(run_id)
        _say(f"run {run_id}: its checkpoint cannot be written in the store ({first_line(exc)}); it trains on, "
             "and a stop loses its epochs")


class RayTrials:
    """A search's trials as Ray tasks (the pool :func:`~mnistlab.search.run_search` drives, as it
    drives :class:`~mnistlab.search.LocalTrials`). The driver holds the study and the store: it
    marks each trial's run running before sending it, and records it when its task returns. A
    worker trains with the search's own :class:`~mnistlab.search.PruningCallback`, whose trial is a
    :class:`RelayTrial`: at each epoch end the driver reports the value to the study and answers
    with the pruner's verdict (as Ray Tune's function trainables report to their driver). Each
    epoch is also written to the running run's row for `mnistlab watch`, and each checkpoint the
    worker posts to the trial's folder in the store (:func:`~mnistlab.search.trial_checkpoint`),
    whence a trial asked again for a stopped one continues (:func:`train_trial_remote`)."""

    def __init__(self, runner: RayRunner, study: Any, store: RunStore) -> None:
        self.runner, self.study, self.store = runner, study, store
        self.slots, self.threads = runner.slots(), runner.threads
        self.remote = runner._remote(train_trial_remote)
        self.pending: dict[Any, tuple[Any, Any, Any]] = {}  # ref -> (task, recorder, cfg)
        self.by_run: dict[str, Any] = {}  # run id -> its Optuna trial
        self.folders: dict[str, Path] = {}  # run id -> its trial's checkpoint folder in the store
        self.ready: list[tuple[Any, Any]] = []

    def __len__(self) -> int:
        return len(self.pending) + len(self.ready)

    def submit(self, task: Any) -> None:
        """Mark the trial's run running and send it to Ray (a config the trial's values break: failed here)."""
        from mnistlab.search import TrialResult, trial_checkpoint, trial_configs, trial_recorder

        optuna = _import_optuna()
        try:
            cfg, _ = trial_configs(task)
        except MnistlabError as exc:
            self.ready.append((task, TrialResult(task.number, "", "failed", None, "failed", str(exc))))
            return
        recorder = trial_recorder(self.store, task, cfg)
        try:
            self.by_run[recorder.run_id] = optuna.Trial(self.study, task.trial_id)
            self.folders[recorder.run_id] = folder = trial_checkpoint(self.store, task)
            if task.continues is not None:  # a stopped trial asked again: from its checkpoint
                _hand_to_relay(self.runner.relay(), recorder.run_id, folder)
            sent = dataclasses.replace(task, store_root="")  # the worker has no business with the store's disk
            ref = self.remote.remote(sent, self.runner.relay(), recorder.run_id, _driver_data())
        except BaseException as exc:  # marked running, not sent (a Ctrl-C, Ray gone): recorded, not left running
            recorder.fail(exc)
            self._forget(recorder.run_id)
            raise
        self.pending[ref] = (task, recorder, cfg)
        self.runner.track(ref, recorder.run_id, self.runner.cpus_per_cell, self.runner.gpus_per_cell)
        self.store.mark_queued([recorder.run_id])  # till its worker posts "started"

    def _on_report(self, run_id: str, kind: str, payload: Any) -> Any:
        if kind == "started":
            self.store.mark_queued([run_id], queued=False)
        if kind == "progress":
            self.store.record_progress(run_id, payload)
        if kind == "checkpoint":
            _keep_in_store(self.folders, run_id, payload)
        if kind != "prune":
            return None
        trial = self.by_run.get(run_id)
        if trial is None:
            return False
        step, value = payload
        trial.report(float(value), step=int(step))
        return bool(trial.should_prune())

    def wait(self) -> list[tuple[Any, Any]]:
        """The trials that ended (at least one), recorded, with their results."""
        from mnistlab.search import TrialResult, record_trial, trial_cell, trial_metrics

        if self.ready:
            out, self.ready = self.ready, []
            return out
        ref = self.runner.wait_one(list(self.pending), self._on_report)
        task, recorder, cfg = self.pending.pop(ref)
        self._forget(recorder.run_id)
        res: Any = _results(ref, 1)[0]  # (result, pruned_at, seconds, overhead) or the error
        done = None
        try:
            with stop_signals_held():  # recorded, and its checkpoint settled, before a stop
                if isinstance(res, BaseException):
                    status = recorder.fail(res, metrics=trial_metrics(task, "failed", self.study.direction.name.lower()))
                    done = TrialResult(task.number, recorder.run_id, "failed", None, status, str(res))
                else:
                    result, pruned_at, seconds, overhead = res
                    done = record_trial(recorder, task, cfg, result, pruned_at, self.study.direction.name.lower(),
                                        seconds, overhead)
                if done.status != "interrupted":  # recorded, or never to be continued: its checkpoint goes
                    self.store.drop_checkpoint(task.experiment, *trial_cell(task))
        except KeyboardInterrupt:  # the stop held meanwhile: this trial is handed back by stop(), told to the study
            if done is not None:
                self.ready.append((task, done))
            raise
        return [(task, done)]

    def _forget(self, run_id: str) -> None:
        """A trial's task has ended: neither the relay nor this pool keeps its checkpoint (the store does)."""
        self.by_run.pop(run_id, None)
        self.folders.pop(run_id, None)
        with contextlib.suppress(Exception):  # Ray gone: nothing to forget there
            self.runner.relay().keep.remote(run_id, None)

    def stop(self) -> list[tuple[Any, Any]]:
        """Cancel the trials in flight and record their runs interrupted; returns every trial not yet
        handed back, with its result, as :meth:`wait` does (the next search asks the stopped ones again)."""
        from mnistlab.search import TrialResult
        from mnistlab.trainer import STOPPED_BY

        out, self.ready = self.ready, []
        for task, recorder in self._cancel():
            status = recorder.fail(KeyboardInterrupt(), STOPPED_BY, metrics=self._stopped(task))
            out.append((task, TrialResult(task.number, recorder.run_id, "interrupted", None, status, STOPPED_BY)))
        return out

    def close(self) -> None:
        """Cancel the trials in flight and record their runs interrupted (the next search asks them again)."""
        for task, recorder in self._cancel():
            recorder.fail(KeyboardInterrupt(), metrics=self._stopped(task))

    def _stopped(self, task: Any) -> dict[str, Any]:
        """What a stopped trial's run records of its trial (:func:`~mnistlab.search.trial_metrics`)."""
        from mnistlab.search import trial_metrics

        return trial_metrics(task, "interrupted", self.study.direction.name.lower())

    def _cancel(self) -> list[tuple[Any, Any]]:
        """Cancel the trials in flight; their tasks and recorders."""
        import ray

        out = []
        for ref in self.pending:
            with contextlib.suppress(Exception):  # already finished or gone: nothing to cancel
                ray.cancel(ref, force=True)
        with contextlib.suppress(Exception):  # the last checkpoints they posted reach the store (Ray gone: none)
            self.runner.drain(self._on_report)
        for ref, (task, recorder, _) in self.pending.items():
            self.runner._sent.pop(ref, None)
            self._forget(recorder.run_id)
            out.append((task, recorder))
        self.pending.clear()
        return out


def _import_optuna() -> Any:
    from mnistlab.search import _optuna

    return _optuna()


def train_trial_remote(task: Any, relay: Any, run_id: str, data_dir: str = "") -> Any:
    """What a search trial's Ray task runs: train it (no store, no study) with a pruning callback
    answered by the driver through ``relay``; returns ``(result, pruned_at, seconds, overhead)``
    made small for the trip back, or the error as a one-line :class:`_CellError`. Its checkpoints
    go to the relay, as a cell's (:func:`train_remote`), and it continues from the relay's newest
    one when there is one (a trial asked again for a stopped one; Ray's retry of a dead worker's).
    ``data_dir``: the driver's ``MNISTLAB_DATA_DIR`` (:func:`_data_from_driver`)."""
    import time

    _data_from_driver(data_dir)
    from mnistlab.search import PruningCallback, train_trial, trial_configs

    relay.report.remote(run_id, "started", None)  # the driver then knows the task is not waiting for resources
    folder = _worker_folder()
    mirror = None
    try:
        _, run_cfg = trial_configs(task)
        pruning = PruningCallback(RelayTrial(relay, run_id), task.metric)
        resume = _fetch_checkpoint(relay, run_id, folder / CHECKPOINT_FILE)
        mirror = CheckpointMirror(relay, run_id, folder / CHECKPOINT_FILE)
        t0 = time.perf_counter()
        result = train_trial(task, run_cfg, [pruning, RelayProgress(relay, run_id), mirror], folder, resume=resume)
    except Exception as exc:  # noqa: BLE001 - bad data or a bug: the trial fails, recorded by the driver
        return [_portable(exc)]
    finally:
        if mirror is not None:
            mirror.close()
        shutil.rmtree(folder, ignore_errors=True)
    return [(_portable(result), pruning.pruned_at, time.perf_counter() - t0 - pruning.seconds, pruning.seconds)]


def _results(ref: Any, n: int) -> list[RunResult | BaseException]:
    """A finished Ray task's results, or its failure as every cell's error (a dead worker: failed)."""
    import ray

    try:
        return list(ray.get(ref))
    except ray.exceptions.RayError as exc:
        if isinstance(exc, (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError)):  # helper-134: Ray's
            why = ("its Ray worker died twice (Ray retried it once; out of memory, or killed): the worker nodes' "  # words
                   "Ray logs (/tmp/ray/session_latest/logs) say why; running it again trains it on, from its last "
                   "checkpoint if it reached one")
            return [_CellError(f"{why} ({type(exc).__name__})")] * n
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        return [_CellError(f"the Ray task failed: {type(exc).__name__}: {first}")] * n


def _stop(pending: dict[Any, tuple[CellTask, Claims]]) -> None:
    """Cancel the tasks still in flight and record their cells as interrupted (the driver stops)."""
    import ray

    for ref, (_, claims) in pending.items():
        try:
            ray.cancel(ref, force=True)
        except Exception:  # noqa: BLE001 - already finished or gone: nothing to cancel
            pass
        record_cells(*claims, [KeyboardInterrupt()] * len(claims[1]))


def runner_for(resources: Any, *, backend: str | None = None, address: str | None = None,
               cpus_per_cell: float | None = None, gpus_per_cell: float | None = None,
               jobs: int = 1, unit: str = "cells", tasks: int | None = None) -> RayRunner | None:
    """The runner an experiment trains with: its ``[resources]`` table
    (:class:`~mnistlab.experiments.Resources`) with each flag given (not None) taking precedence
    over the file, including a variant's own ``resources``; None for the local backend. A Ray
    runner is connected before anything trains (:func:`ray_runner`).

    A flag the chosen backend ignores is one :class:`~mnistlab.errors.SpecWarning`: the per-cell
    amounts on the local backend, ``jobs`` (`-j`) above 1 on Ray (Ray decides how many cells train
    at once from the resources; ``unit``: what trains, "cells" or a search's "trials"), and locally
    more workers than cores (at most ``tasks`` of them start, where that is known).

    Raises :class:`~mnistlab.errors.SpecError` for ``address`` without the Ray backend, and as
    :func:`ray_runner` does.
    """
    asked = "--backend ray" if backend else '[resources] backend = "ray"'  # what a missing Ray is said of
    backend = backend or resources.backend or "local"
    if backend != "ray":
        if address is not None:
            raise SpecError("--address needs --backend ray")
        given = [f for f, v in (("--cpus-per-cell", cpus_per_cell), ("--gpus-per-cell", gpus_per_cell)) if v is not None]
        if given:
            them = "them" if len(given) > 1 else "it"
            warnings.warn(f"{' and '.join(given)} {'apply' if len(given) > 1 else 'applies'} with --backend ray: "
                          f"the local backend ignores {them}", SpecWarning, stacklevel=user_level())
        from mnistlab.accel.threads import usable_cores

        workers = jobs if tasks is None else min(jobs, tasks)  # -j 8 for 2 cells starts 2
        if workers > (cores := len(usable_cores())):
            many = "more workers than" if tasks is None else f"{workers} workers, more than"
            warnings.warn(f"-j {jobs} starts {many} the {cores} core{'s' * (cores != 1)} this process may use: they "
                          f"share them, each of the {unit} training slower, and the whole seldom ends sooner than "
                          f"with -j {cores}", SpecWarning, stacklevel=user_level())
        return None
    if jobs > 1:
        warnings.warn(f"-j {jobs} applies to the local backend: on Ray the {unit}' resources decide how many "
                      "train at once (see --cpus-per-cell)", SpecWarning, stacklevel=user_level())
    cpus = cpus_per_cell if cpus_per_cell is not None else resources.cpus_per_cell
    gpus = gpus_per_cell if gpus_per_cell is not None else resources.gpus_per_cell
    runner = ray_runner(address if address is not None else resources.address,
                        cpus_per_cell=1.0 if cpus is None else cpus, gpus_per_cell=0.0 if gpus is None else gpus,
                        asked=asked, named="--address" if address is not None else "[resources] address")
    runner.fixed = (cpus_per_cell is not None, gpus_per_cell is not None)
    return runner


def ray_runner(address: str | None = None, *, cpus_per_cell: float = 1.0, gpus_per_cell: float = 0.0,
               asked: str = "--backend ray", named: str = "--address") -> RayRunner:
    """A :class:`RayRunner` connected to Ray, before anything trains: the Ray this process already
    joined; else, without ``address`` (nor ``RAY_ADDRESS``, Ray's variable, read as one), a new local
    instance sized to this machine, beside any cluster already running here (no dashboard, workers'
    output not forwarded); else the cluster at ``address`` (``auto``: the one running on this
    machine; ``HOST:PORT`` its GCS; ``ray://HOST:PORT`` through Ray Client).

    Raises :class:`~mnistlab.errors.SpecError` (one line) when Ray is not installed (naming what
    ``asked`` for it: the flag, or the experiment file's ``[resources]``) or the address does not
    answer, naming where the address came from (``named``: the flag, the file's key, ``RAY_ADDRESS``;
    helper-134: a file's address was said to be the flag's).
    """
    runner = RayRunner(cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell)
    if address is None and os.environ.get("RAY_ADDRESS", "").strip():  # Ray's own way to name a cluster to join
        address, named = os.environ["RAY_ADDRESS"].strip(), "RAY_ADDRESS"
    if address is not None and not address.strip():
        raise SpecError('--address "": expected auto, HOST:PORT or ray://HOST:PORT (leave it out for a local Ray)')
    if address:  # read when Ray is imported: the ones a user set stay
        for key, value in CONNECT_SETTINGS.items():
            os.environ.setdefault(key, value)
    try:
        import ray
    except ImportError:
        raise SpecError(f"{asked} needs Ray, which is not installed: pip install 'mnistlab[ray]'") from None
    if address and address != "auto":
        _check_answers(address, named=named)
    if ray.is_initialized():  # a Ray this process joined already (a notebook's): its messages stay as they are
        return runner
    runner.quieted = _quiet_ray_messages()
    try:
        if address:
            with _connecting():
                ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        else:
            # "local": a new instance even where a cluster already runs on this machine (helper-134:
            # ray.init found one and refused num_cpus, in its own words)
            ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR)
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds (ConnectionError, RuntimeError...)
        raise SpecError(ray_init_error(address, exc, named)) from None
    runner.started = not address
    return runner


def ray_init_error(address: str | None, exc: BaseException, named: str = "--address") -> str:
    """The one line said when ``ray.init`` (joining ``address``, or starting a local Ray) raised
    ``exc``: what a user does about it, where Ray's words are known, else Ray's first line."""
    first, whole = first_line(exc), str(exc)
    if address == "auto" and "running Ray instance" in first:
        first = f"no Ray cluster is running on this machine (start one with `ray start --head`, or leave out {named})"
    elif address and ("InvalidAuthToken" in whole or "uthentication token" in whole):  # helper-115: said "no answer"
        first = ("the cluster answers but refuses this driver's authentication token (missing or wrong): set "
                 f"{TOKEN_ADVICE}, or run on its head node with --address auto")
    elif address and "Failed to connect" in first:
        first = ("no Ray cluster answers there: give the head node's GCS port (6379 unless `ray start --port` "
                 "said otherwise), or ray://HOST:10001 for Ray Client")
        if os.environ.get("RAY_AUTH_MODE", "") != "token" and (Path.home() / ".ray" / "auth_token").is_file():
            # the likelier cause first: a Ray server answered the probe (helper-185; helper-134 found the token)
            first = (f"the cluster may ask for a token, which Ray says only in its own log (this machine has "
                     f"~/.ray/auth_token): set {TOKEN_ADVICE}; else {first}")
    return f"could not start or reach Ray{f' at {address}' if address else ''}: {first}"


# How a driver joins a cluster started with tokens (Ray 2.5x: RAY_AUTH_MODE=token, then the token
# from RAY_AUTH_TOKEN or ~/.ray/auth_token; helper-134: RAY_AUTH_TOKEN alone still failed)
TOKEN_ADVICE = "RAY_AUTH_MODE=token (the token itself in RAY_AUTH_TOKEN or ~/.ray/auth_token, the cluster's)"


@contextlib.contextmanager
def _connecting() -> Iterator[None]:
    """While joining a cluster, Ray's C++ client's retry lines on the process's stderr (file
    descriptor 2, which Python's logging does not reach) are kept out of the user's output."""
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            sys.stderr.flush()
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def _records(store: RunStore, run_ids: Sequence[str]) -> list[RunRecord]:
    """The records of ``run_ids`` that the store has (one deleted meanwhile is left out)."""
    out = []
    for run_id in run_ids:
        with contextlib.suppress(StoreError):
            out.append(store.get(run_id))
    return out


def say_worker_warnings(records: Sequence[RunRecord], folder: Path | None = None) -> None:
    """The warnings a Ray worker gave while it trained the runs ``records`` (kept in them,
    ``metrics["warnings"]``), said on the driver as the local backend says them: each once, one that
    this process said already not again (:func:`~mnistlab.errors.show_warning`); a path in the
    worker's copy of the cell's checkpoint folder named as the store's ``folder``. helper-185: only
    `mnistlab show` had them, naming the worker's temporary copy."""
    from mnistlab.errors import ReportWarning, show_warning

    for rec in records:
        kept = (rec.metrics or {}).get("warnings") or []
        for said in kept if isinstance(kept, list) else []:
            text = _WORKER_COPY.sub(str(folder), str(said)) if folder is not None else str(said)
            show_warning(text, ReportWarning, "", 0)


_WORKER_COPY = re.compile(r"\S*mnistlab-ray-cell-\d+")  # a worker's copy of a cell's checkpoint folder (_worker_folder)


def _say(line: str) -> None:
    """One mnistlab line on stderr, from any thread (Ray's error listener calls it too)."""
    print(f"warning: {line}", file=sys.stderr, flush=True)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _ray_message(data: dict[str, Any], ignore_prefix: bool = False) -> None:
    """Stands in for Ray's printer of the cluster's error messages (a paragraph per dead worker,
    with colour codes, on stdout): a worker that died and whose task Ray runs again becomes one
    mnistlab line; the rest is left to mnistlab's own lines (a cell whose worker died twice is
    recorded failed, and says so)."""
    for text in data.get("lines", []):
        text = _ANSI.sub("", str(text))
        if "will be retried" in text:
            _say("a Ray worker died while training a cell; Ray trains the cell again (once)")
        elif "low on memory" in text or "OutOfMemoryError" in text:  # Ray's memory monitor killed a worker
            _say("Ray killed a worker because its node ran low on memory (fewer cells at once: raise --cpus-per-cell)")
        else:
            logging.getLogger(__name__).debug("Ray: %s", text)


_RAY_PRINTER: list[Any] = []  # Ray's own printer while _ray_message stands in for it


def _quiet_ray_messages() -> bool:
    """Route Ray's driver-side error messages through :func:`_ray_message` until :func:`close`;
    True when it did. Ray prints them from a thread with no option to turn it off
    (``log_to_driver=False`` covers only the workers' output), through the module function
    ``ray._private.worker.print_to_stdstream``, replaced here."""
    try:
        import ray._private.worker as ray_worker
    except ImportError:  # another Ray layout: its messages stay as they are
        return False
    if not hasattr(ray_worker, "print_to_stdstream"):
        return False
    if not _RAY_PRINTER:
        _RAY_PRINTER.append(ray_worker.print_to_stdstream)
    ray_worker.print_to_stdstream = _ray_message
    return True


def _restore_ray_messages() -> None:
    """Give Ray its own printer back (after :func:`_quiet_ray_messages`)."""
    if _RAY_PRINTER:
        import ray._private.worker as ray_worker

        ray_worker.print_to_stdstream = _RAY_PRINTER.pop()


def address_parts(address: str, named: str = "--address") -> tuple[str, int]:
    """The (host, port) of a Ray ``address`` written ``HOST:PORT`` or ``ray://HOST:PORT``; SpecError,
    one line, for any other form (checked before anything runs: `run --dry-run` too, helper-241)."""
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", address) and not address.startswith("ray://"):  # the dashboard's http://
        raise SpecError(f'{named} "{address}": expected auto, HOST:PORT (the cluster\'s GCS port, 6379 by '
                        "default, not the dashboard's) or ray://HOST:PORT (Ray Client, 10001 by default)")
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SpecError(f'{named} "{address}": expected auto, HOST:PORT or ray://HOST:PORT (a port 1 to 65535)')
    return host, int(port)


def _check_answers(address: str, timeout: float = 3.0, named: str = "--address") -> None:
    """Fail fast, in one line, when nothing at ``[ray://]HOST:PORT`` answers as a Ray server would
    (Ray itself would retry for 20 s to minutes). Ray's GCS and Ray Client servers speak gRPC, that
    is HTTP/2: sent the client preface (RFC 9113, section 3.4), such a server answers with a SETTINGS
    frame at once; a closed port, a silent listener or a server that says something else does not.
    With ``RAY_USE_TLS`` set the probe is skipped (Ray's own connect, bounded by
    :data:`CONNECT_SETTINGS`, decides)."""
    if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):  # a TLS cluster answers TLS, not HTTP/2
        return
    host, port = address_parts(address, named)
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(_H2_PREFACE)
            head = b""
            while len(head) < 9 and (chunk := conn.recv(9 - len(head))):
                head += chunk
    except OSError as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        raise SpecError(f"the Ray cluster at {address} ({named}) does not answer: {why}") from None
    if len(head) < 9 or head[3] != 0x4:  # byte 3 of a frame header: its type, 0x4 SETTINGS
        raise SpecError(f"the Ray cluster at {address} ({named}) does not answer: what listens there is not a Ray "
                        "server")


_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # + an empty SETTINGS frame


def close(runner: object) -> None:
    """Shut down the local Ray instance ``runner`` started, if it did, and give Ray its own message
    printer back (any other runner: nothing)."""
    if isinstance(runner, RayRunner) and runner.quieted:
        _restore_ray_messages()
        runner.quieted = False
    if isinstance(runner, RayRunner) and runner.started:
        import ray

        ray.shutdown()
