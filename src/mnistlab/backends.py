"""Where a sweep's cells train: this machine (``local``: in-process or spawned processes, see
:mod:`mnistlab.execute`) or a Ray cluster (``ray``: :class:`RayRunner`).

On Ray only the driver touches the run store: it claims each cell (so a second driver on the same
store, or the next run after this one is killed, sees who holds it), sends the cell to a Ray task
that trains it without any store, gets back the run's result (history, metrics, weights and test
predictions: small) and records it with the same :func:`~mnistlab.execute.record_cells` as a local
run. Same config, same seed: the same numbers as the local backend.

    runner = ray_runner(address=None, cpus_per_cell=1)     # a local Ray sized to this machine
    run_experiment("recipes/fast.toml", runner=runner)
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch

from mnistlab.errors import MnistlabError, SpecError
from mnistlab.execute import CellTask, Claims, claim_cells, record_cells, train_cells
from mnistlab.run import RunResult, failure_message
from mnistlab.store import RunStore

BACKENDS = ("local", "ray")
T = TypeVar("T")
R = TypeVar("R")
TrainFn = Callable[[CellTask, Sequence[int]], "list[RunResult | BaseException]"]


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
    return dataclasses.replace(res, model=_Weights(state))


def train_remote(train: TrainFn, task: CellTask, indices: Sequence[int]) -> list[RunResult | BaseException]:
    """What a Ray task runs: ``train(task, indices)`` (:func:`~mnistlab.execute.train_cells`, which
    writes no store), each result made small and picklable for the driver."""
    return [_portable(r) for r in train(task, indices)]


class RayRunner:
    """Runs a sweep's cells as Ray tasks (``cpus_per_cell`` CPUs and ``gpus_per_cell`` GPUs each,
    a GPU fraction allowed), at most as many at once as the cluster has room for. The driver
    claims each cell just before its task is sent and records its result when it returns.

    A task whose worker dies (killed, out of memory, ``os._exit``) is run again once by Ray
    (``max_retries=1``); if it dies again its cells are recorded ``failed``. Stopping the driver
    (Ctrl-C) cancels the tasks in flight and records their cells ``interrupted``; killing it
    outright leaves their claims to expire with it, and the next run trains them again.
    ``train`` is what the workers run (tests give one that dies).
    """

    def __init__(self, *, cpus_per_cell: float = 1.0, gpus_per_cell: float = 0.0,
                 train: TrainFn = train_cells, started: bool = False) -> None:
        if cpus_per_cell <= 0 or gpus_per_cell < 0:
            raise SpecError(f"--cpus-per-cell must be above 0 and --gpus-per-cell at least 0, "
                            f"got {cpus_per_cell} and {gpus_per_cell}")
        self.cpus_per_cell, self.gpus_per_cell, self.train = cpus_per_cell, gpus_per_cell, train
        self.started = started  # this runner started Ray (a local instance): close() shuts it down

    def slots(self) -> int:
        """How many cells the cluster trains at once with this runner's resources per cell."""
        import ray

        have = ray.cluster_resources()
        n = int(have.get("CPU", 1) // self.cpus_per_cell)
        if self.gpus_per_cell:
            n = min(n, int(have.get("GPU", 0) // self.gpus_per_cell))
        if n < 1:
            raise SpecError(f"the Ray cluster has {have.get('CPU', 0):g} CPUs and {have.get('GPU', 0):g} GPUs: "
                            f"not enough for one cell ({self.cpus_per_cell:g} CPUs, {self.gpus_per_cell:g} GPUs)")
        return n

    def _remote(self, fn: Callable[..., Any]) -> Any:
        import ray

        return ray.remote(fn).options(num_cpus=self.cpus_per_cell, num_gpus=self.gpus_per_cell, max_retries=1,
                                      retry_exceptions=False)

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

    def run_cells(self, tasks: Sequence[CellTask]) -> Iterator[tuple[CellTask, list[tuple[str, str]]]]:
        """Claim, train on Ray and record every task's cells; yields ``(task, [(run_id, status)])``
        as :func:`~mnistlab.execute.execute_cell` returns them, in the order the tasks finish."""
        import ray

        if not tasks:
            return
        remote, slots = self._remote(train_remote), self.slots()
        threads = max(1, int(self.cpus_per_cell))  # Ray sets the worker's OMP threads to its CPUs
        queue = [dataclasses.replace(t, threads=threads) for t in reversed(tasks)]
        pending: dict[Any, tuple[CellTask, Claims]] = {}
        with RunStore(tasks[0].store_root) as store:
            try:
                while queue or pending:
                    while queue and len(pending) < slots:
                        task = queue.pop()
                        claims = claim_cells(store, task)
                        if not claims[1]:  # every cell held by another driver, or done meanwhile
                            yield task, record_cells(*claims, [])
                            continue
                        pending[remote.remote(self.train, task, [i for i, _ in claims[1]])] = (task, claims)
                    if not pending:
                        continue
                    done, _ = ray.wait(list(pending), num_returns=1)
                    task, claims = pending.pop(done[0])
                    yield task, record_cells(*claims, _results(done[0], len(claims[1])))
            finally:
                _stop(pending)


def _results(ref: Any, n: int) -> list[RunResult | BaseException]:
    """A finished Ray task's results, or its failure as every cell's error (a dead worker: failed)."""
    import ray

    try:
        return list(ray.get(ref))
    except ray.exceptions.RayError as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        why = "its Ray worker died twice (Ray retried it once)" if isinstance(
            exc, (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError)) else "the Ray task failed"
        return [_CellError(f"{why}: {type(exc).__name__}: {first}")] * n


def _stop(pending: dict[Any, tuple[CellTask, Claims]]) -> None:
    """Cancel the tasks still in flight and record their cells as interrupted (the driver stops)."""
    import ray

    for ref, (_, claims) in pending.items():
        try:
            ray.cancel(ref, force=True)
        except Exception:  # noqa: BLE001 - already finished or gone: nothing to cancel
            pass
        record_cells(*claims, [KeyboardInterrupt()] * len(claims[1]))


def ray_runner(address: str | None = None, *, cpus_per_cell: float = 1.0, gpus_per_cell: float = 0.0) -> RayRunner:
    """A :class:`RayRunner` connected to Ray, before anything trains: the Ray this process already
    joined; else, without ``address``, a new local instance sized to this machine (no dashboard,
    workers' output not forwarded); else the cluster at ``address`` (``auto``: the one running on
    this machine; ``HOST:PORT`` its GCS; ``ray://HOST:PORT`` through Ray Client).

    Raises :class:`~mnistlab.errors.SpecError` (one line) when Ray is not installed or the address
    does not answer.
    """
    runner = RayRunner(cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell)
    try:
        import ray
    except ImportError:
        raise SpecError("--backend ray needs Ray, which is not installed: pip install 'mnistlab[ray]'") from None
    if address and address != "auto":
        _check_answers(address)
    if ray.is_initialized():
        return runner
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        else:
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR)
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds (ConnectionError, RuntimeError...)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise SpecError(f"could not start or reach Ray{f' at {address}' if address else ''}: {first}") from None
    runner.started = not address
    return runner


def _check_answers(address: str, timeout: float = 3.0) -> None:
    """Fail fast, in one line, when nothing listens at ``[ray://]HOST:PORT`` (Ray itself would
    retry for a minute or more)."""
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise SpecError(f'--address "{address}": expected auto, HOST:PORT or ray://HOST:PORT')
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise SpecError(f"the Ray cluster at {address} does not answer: {exc.strerror or exc}") from None


def close(runner: object) -> None:
    """Shut down the local Ray instance ``runner`` started, if it did (any other runner: nothing)."""
    if isinstance(runner, RayRunner) and runner.started:
        import ray

        ray.shutdown()
