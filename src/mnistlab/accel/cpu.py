"""CPU runtime tuning: threads, denormal flushing, and keeping the allocator from thrashing.

All were measured on the seed-000 models (BENCHMARKS.md), and all depend only on the model and
the machine, never on the current load, so the same config on the same machine repeats exactly.
(What the load changes, the thread count during a run, is :mod:`mnistlab.accel.threads`'s.)
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager

import torch

# Below this many forward multiply-adds per batch, a CPU step is a few dozen tiny kernels: a second
# thread saves ~5% on an idle machine but costs 2-5x when the cores are shared (each parallel region
# waits for a descheduled thread; BENCHMARKS.md). ~8.4 M: seed 000's dense model (3.3 M per batch of
# 32) stays below; its one-conv exercises ex1/ex2 (14 M, 15-30% faster on 2 threads) and its CNN
# (162 M) are above.
SMALL_STEP_MACS = 1 << 23


def default_threads(macs_per_image: int, batch_size: int, device: torch.device) -> int:
    """CPU threads for ``train.threads = 0``: all of torch's threads, or 1 for small models.

    Depends only on the model, the batch size and the machine (never on the current load), so the
    same config on the same machine always uses the same thread count and gives the same numbers.
    """
    if device.type != "cpu" or macs_per_image * batch_size >= SMALL_STEP_MACS:
        return torch.get_num_threads()
    return 1


def cpu_has_native_bf16() -> bool:
    """True on CPUs with bf16 instructions (AVX512_BF16 or AMX), where bf16 autocast pays.

    Not ``torch.ops.mkldnn._is_mkldnn_bf16_supported()``: that is true on any AVX-512 CPU
    (Skylake, Cascade Lake), where oneDNN emulates bf16 and convolutions get slower, not faster.
    """
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):  # a torch without these probes: assume none
        return False


def cuda_has_native_bf16() -> bool:
    """True on GPUs that compute in bf16 natively (Ampere and later), not by emulation."""
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # torch before 2.4 had no emulation and no such argument
        return bool(torch.cuda.is_bf16_supported())


# glibc's mallopt() parameter numbers (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_GIB, _MMAP_CAP = 1 << 30, 32 << 20  # glibc before 2.35 refuses mmap thresholds above 32 MiB
_retaining = False


def retain_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse instead of handing it back to the OS; True if it does.

    Every CPU training step frees and reallocates the same few-MB activation and gradient buffers.
    With glibc's defaults those buffers are mmapped and unmapped (or trimmed off the heap top)
    each step, so each step page-faults them in again: 1,200-2,500 minor faults per step of seed
    000's CNN, a third of its step time in a VM where faults are dear (BENCHMARKS.md). With both
    thresholds raised, a step reuses the previous step's pages (0 faults per step). The cost: the
    process keeps its peak memory until it exits (``MNISTLAB_RETAIN_MEMORY=0`` opts out).
    Process-wide and idempotent; a no-op off glibc.
    """
    global _retaining
    if _retaining:
        return True
    if os.environ.get("MNISTLAB_RETAIN_MEMORY", "1") == "0":  # opt out: give memory back, fault it in again
        return False
    try:
        if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
            return False
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # libc_ver() may read sys.executable; CDLL may find no libc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # Both are needed (measured): a high mmap threshold alone still trims the heap top every step,
    # a high trim threshold alone still mmaps the big buffers.
    mmap_ok = mallopt(_M_MMAP_THRESHOLD, _GIB) == 1 or mallopt(_M_MMAP_THRESHOLD, _MMAP_CAP) == 1
    _retaining = mmap_ok and mallopt(_M_TRIM_THRESHOLD, _GIB) == 1
    return _retaining


def _flushing() -> bool:
    """Whether this thread flushes denormals now (torch can set the mode but not read it)."""
    return bool((torch.tensor([1e-40]) * 1.0).item() == 0.0)


@contextmanager
def flush_denormals() -> Iterator[bool]:
    """Flush denormal floats to zero on this thread for the block (as TensorFlow's CPU threads do).

    Where a gradient stays zero (pixels blank in every recent image), Adam's moments decay
    geometrically into the denormal range, and arithmetic on denormals is many times slower:
    over seed 000's dense model's first 3,000 steps a step took 413 us instead of 380 us and its
    Adam update 98 instead of 65 us; a 5-epoch run is ~3% faster (BENCHMARKS.md). TensorFlow sets
    flush-to-zero on all its CPU threads, so Keras trains this way too.

    Only this thread changes mode (torch's pool threads keep theirs; the Trainer therefore flushes
    only single-threaded runs, where this thread does all the arithmetic), and it gets its previous
    mode back on exit. ``MNISTLAB_FLUSH_DENORMALS=0`` opts out. Yields whether flushing is on.
    """
    if os.environ.get("MNISTLAB_FLUSH_DENORMALS", "1") == "0":
        yield False
        return
    before = _flushing()
    on = torch.set_flush_denormal(True)  # False on CPUs without the flags: nothing changed
    try:
        yield on
    finally:
        if on and not before:
            torch.set_flush_denormal(False)
