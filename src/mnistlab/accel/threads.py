"""CPU threads that follow the machine's load: a training run shares the cores it finds.

Why: torch's CPU ops run in OpenMP parallel regions that end at a barrier, so every region waits
for its slowest thread. When another process takes one of two cores, one of torch's two threads
is descheduled for whole time slices and every region waits for it: seed 000's CNN went from
~4.3 ms a step to 130-185 ms a step with one busy process beside it, while one thread on the free
core took ~7-17 ms (BENCHMARKS.md, "Under load"). TensorFlow's work-stealing pool degrades
gracefully instead (1.6x), so Keras beat mnistlab on a busy machine.

:class:`ThreadGovernor` is a callback the Plan adds to runs whose thread count mnistlab chose
(``train.threads = 0``) and that use more than one thread: about twice a second it measures how
many cores *other* processes kept busy (``/proc/stat`` minus this process's own CPU time) and sets
torch's thread count to the cores left, between 1 and the count the plan chose; when the load
goes, the threads come back. On an idle machine it never changes anything, so runs repeat
exactly; under load the sums split across another number of threads add in another order, so the
run ends another draw of the same model (tenths of a point from an idle run's accuracy, as two
seeds are), and every change is recorded in the run's ``env.thread_changes``.
``MNISTLAB_ADAPTIVE_THREADS=0`` (or ``accel.plan(..., adaptive_threads=False)``) turns it off.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import torch

from mnistlab.callbacks import Callback

__all__ = ["CpuSampler", "ThreadGovernor", "adaptive_threads_enabled", "threads_for"]

_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# A core counts as taken once other processes use more than this share of it: a short burst (a
# shell, a file sync) does not cost the run a thread, a compile or a second training run does.
TAKEN_SHARE = 0.65
CHECK_EVERY_STEPS = 16      # read the clock only every few steps (a step is 0.3-10 ms)
CHECK_EVERY_SECONDS = 0.5   # and measure the load at most this often


def adaptive_threads_enabled() -> bool:
    """False where ``MNISTLAB_ADAPTIVE_THREADS=0`` or the machine has no ``/proc/stat`` (not Linux)."""
    return os.environ.get("MNISTLAB_ADAPTIVE_THREADS", "1") != "0" and Path("/proc/stat").exists()


def threads_for(others: float, cores: int, most: int) -> int:
    """Threads to use when other processes keep ``others`` cores busy out of ``cores``: the cores
    they leave, each taken one counted once its use passes :data:`TAKEN_SHARE`, between 1 and ``most``.

    >>> threads_for(0.1, 2, 2), threads_for(1.0, 2, 2), threads_for(0.5, 2, 2), threads_for(3.0, 2, 2)
    (2, 1, 2, 1)
    """
    taken = math.ceil(others - TAKEN_SHARE) if others > TAKEN_SHARE else 0
    return max(1, min(most, cores - taken))


def usable_cores() -> set[int]:
    """The cores this process may run on (its affinity mask, as taskset or a container's cpuset
    narrows it; every core where the platform has no mask)."""
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))


class CpuSampler:
    """How many of this process's cores other processes kept busy since the last :meth:`sample`.

    Reads the cores in this process's affinity mask from ``/proc/stat`` (busy = user, nice,
    system, irq, softirq and steal: a hypervisor's steal is a core someone else has) and takes off
    this process's own CPU time (``time.process_time``, all its threads, spinning ones included).
    """

    def __init__(self) -> None:
        self.cpus = {f"cpu{i}" for i in usable_cores()}
        self.cores = len(self.cpus)
        self._last = self._read()

    def _read(self) -> tuple[float, float, float]:
        busy = 0
        try:
            for line in Path("/proc/stat").read_text().splitlines():
                name, _, rest = line.partition(" ")
                if name in self.cpus:
                    f = [int(v) for v in rest.split()]
                    busy += f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] if len(f) > 7 else 0)
        except (OSError, ValueError, IndexError):
            busy = 0
        return time.perf_counter(), busy / _HZ, time.process_time()

    def sample(self) -> float:
        """Cores (0.0 to ``cores``) that other processes used, on average, since the last call."""
        now = self._read()
        (t0, busy0, own0), (t1, busy1, own1) = self._last, now
        self._last = now
        wall = t1 - t0
        if wall <= 0 or busy1 < busy0:
            return 0.0
        return min(float(self.cores), max(0.0, (busy1 - busy0 - (own1 - own0)) / wall))


class ThreadGovernor(Callback):
    """Sets torch's thread count to the cores other processes leave free, during a fit.

    ``most``: the thread count the plan chose (never exceeded). ``changes`` lists every change as
    ``{"epoch", "step", "threads", "others"}`` (``others``: cores other processes used, measured).
    """

    def __init__(self, most: int, sampler: CpuSampler | None = None) -> None:
        self.most = most
        self.sampler = sampler or CpuSampler()
        self.changes: list[dict[str, Any]] = []
        self.last_others: float | None = None  # the last measurement (cores other processes used)
        self._epoch = 0
        self._next_check = 0.0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.sampler.sample()  # start the first interval now
        self._next_check = time.perf_counter() + CHECK_EVERY_SECONDS

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch
        if not self._next_check:  # a resumed fit skips on_train_begin
            self.on_train_begin()

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if (batch + 1) % CHECK_EVERY_STEPS or time.perf_counter() < self._next_check:
            return
        self._next_check = time.perf_counter() + CHECK_EVERY_SECONDS
        others = self.last_others = self.sampler.sample()
        threads = threads_for(others, self.sampler.cores, self.most)
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
            self.changes.append({"epoch": self._epoch + 1, "step": batch + 1, "threads": threads,
                                 "others": round(others, 2)})

    def state_dict(self) -> dict[str, Any]:
        return {}  # nothing to resume: the load is measured afresh
