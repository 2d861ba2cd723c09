"""CPU runtime tuning: the thread default, bf16 detection, denormal flushing, and the allocator."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mnistlab.callbacks import Callback
from mnistlab.accel.cpu import SMALL_STEP_MACS, cpu_has_native_bf16, default_threads, flush_denormals
from mnistlab.summary import summarize
from mnistlab.presets import resolve_model

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def test_thread_default_depends_on_model_size_only() -> None:
    cpu = torch.device("cpu")
    dense = summarize(resolve_model("seed000-dense")).flops
    cnn = summarize(resolve_model("seed000-cnn")).flops
    assert dense * 32 < SMALL_STEP_MACS <= cnn * 32
    assert default_threads(dense, 32, cpu) == 1
    assert default_threads(cnn, 32, cpu) == torch.get_num_threads()
    ex2 = summarize(resolve_model("seed000-ex2")).flops  # one small conv: a second thread pays
    assert default_threads(ex2, 32, cpu) == torch.get_num_threads()
    assert default_threads(dense, 4096, cpu) == torch.get_num_threads()  # big batches amortise threads


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="reads the CPU flags from /proc/cpuinfo")
def test_native_bf16_means_the_cpu_has_bf16_instructions() -> None:
    # Not merely AVX-512: on Skylake/Cascade Lake oneDNN emulates bf16 and convolutions slow down.
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    assert cpu_has_native_bf16() == bool({"avx512_bf16", "amx_bf16", "amx_tile"} & flags)


_FAULTS_SCRIPT = """
import resource, torch
from mnistlab.accel.cpu import retain_freed_memory

def faults_per_step():
    # What a training step does: free and reallocate the same big buffers (here 40 MB, above
    # glibc's largest dynamic mmap threshold, so by default each one is a fresh mmap).
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        torch.empty(10 << 20, dtype=torch.float32).fill_(1.0)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20

default = faults_per_step()
retained = retain_freed_memory()
faults_per_step()  # the first round after the switch maps the pages once
print(default, retained, retain_freed_memory(), faults_per_step())
"""


def _run_faults_script(**env: str) -> list[str]:
    # Variables that change how the allocator or the kernel hands out pages would change the
    # baseline this test compares with: run with glibc's and torch's defaults.
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("MALLOC_", "GLIBC_TUNABLES", "THP_MEM_ALLOC", "LD_PRELOAD"))}
    out = subprocess.run([sys.executable, "-c", _FAULTS_SCRIPT], capture_output=True, text=True, check=True,
                         env={**clean, **env}).stdout
    return out.split()


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_retained_memory_stops_per_step_page_faults() -> None:
    default, retained, again, after = _run_faults_script()
    # 40 MB is 10,240 small pages (or 20 huge ones where transparent huge pages are "always").
    assert float(default) >= 10
    assert retained == again == "True"  # idempotent
    assert float(after) * 10 <= float(default)


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_retaining_memory_can_be_turned_off() -> None:
    default, retained, again, after = _run_faults_script(MNISTLAB_RETAIN_MEMORY="0")
    assert retained == again == "False"
    assert float(after) >= float(default) / 2 >= 5


def _flushing() -> bool:
    """True when arithmetic on this thread turns a denormal float into zero."""
    return bool((torch.full((4,), 1e-40) * 1.0 == 0).all())


FTZ = torch.set_flush_denormal(False)  # True where the CPU has the flags (x86 with SSE3, arm64)


@pytest.mark.skipif(not FTZ, reason="this CPU cannot flush denormals")
def test_flush_denormals_is_scoped_and_restores_the_previous_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not _flushing()
    with flush_denormals() as on:
        assert on and _flushing()
    assert not _flushing()
    torch.set_flush_denormal(True)  # a caller who flushes already keeps flushing afterwards
    try:
        with flush_denormals():
            assert _flushing()
        assert _flushing()
    finally:
        torch.set_flush_denormal(False)
    monkeypatch.setenv("MNISTLAB_FLUSH_DENORMALS", "0")
    with flush_denormals() as on:
        assert not on and not _flushing()


class _FlushSeen(Callback):
    """Notes at each epoch's end whether the training thread flushes denormals."""

    def __init__(self, seen: list[bool]) -> None:
        self.seen = seen

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seen.append(_flushing())


@pytest.mark.skipif(not FTZ, reason="this CPU cannot flush denormals")
def test_training_flushes_denormals_and_records_it(data_dir) -> None:
    from mnistlab.config import parse_run_config
    from mnistlab.run import run_config

    seen = []
    cfg = parse_run_config({"dataset": "fashion-mnist", "model": "seed000-dense", "data": {"subset": 100},
                            "train": {"epochs": 1}})
    result = run_config(cfg, data_dir=data_dir, progress="none", extra_callbacks=[_FlushSeen(seen)])
    assert seen == [True] and result.env["flush_denormals"] is True and result.env["threads"] == 1
    assert not _flushing()  # the caller's thread is as it was
    # With more threads, torch's pool threads would not flush: then nothing does, and it says so.
    two = parse_run_config({"dataset": "fashion-mnist", "model": "seed000-dense", "data": {"subset": 100},
                            "train": {"epochs": 1, "threads": 2}})
    seen.clear()
    result = run_config(two, data_dir=data_dir, progress="none", extra_callbacks=[_FlushSeen(seen)])
    assert seen == [False] and result.env["flush_denormals"] is False
