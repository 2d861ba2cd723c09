"""Threads that follow the load (mnistlab.accel.threads), measured against a real busy process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

from mnistlab import accel
from mnistlab.accel.threads import CHECK_EVERY_SECONDS, CHECK_EVERY_STEPS, CpuSampler, ThreadGovernor, threads_for
from mnistlab.models import build_model
from mnistlab.summary import summarize
from mnistlab.presets import resolve_model

pytestmark = pytest.mark.quiet  # scripts/test.sh runs these alone: the rest of the suite would be the load they see

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
needs_two_cores = pytest.mark.skipif(CORES < 2 or not os.path.exists("/proc/stat"),
                                     reason="needs two cores and /proc/stat to share them")


@pytest.fixture
def quiet_machine() -> float:
    """These tests measure the machine's load: they need one that nothing else keeps busy (CI's)."""
    sampler = CpuSampler()
    time.sleep(0.5)
    background = sampler.sample()
    if background > 0.3:
        pytest.skip(f"other processes keep {background:.1f} cores busy: the load tests need a quiet machine")
    return background


def _busy() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def test_threads_for_counts_a_core_taken_once_others_use_most_of_it() -> None:
    assert [threads_for(x, 2, 2) for x in (0.0, 0.3, 0.6, 0.7, 1.0, 1.9, 2.0)] == [2, 2, 2, 1, 1, 1, 1]
    assert threads_for(1.0, 8, 4) == 4 and threads_for(5.0, 8, 8) == 3 and threads_for(0.0, 8, 1) == 1


@needs_two_cores
def test_the_sampler_sees_another_process_and_not_this_one(quiet_machine: float) -> None:
    sampler, background = CpuSampler(), quiet_machine
    end = time.perf_counter() + 0.6
    while time.perf_counter() < end:  # a core's worth of this process's own work...
        pass
    assert sampler.sample() < background + 0.4  # ... is not "others"
    busy = _busy()
    try:
        time.sleep(0.2)
        sampler.sample()
        time.sleep(0.8)
        assert sampler.sample() > background + 0.6  # another process's is
    finally:
        busy.kill()
        busy.wait()


@needs_two_cores
@pytest.mark.usefixtures("two_threads", "quiet_machine")
def test_the_governor_gives_a_busy_core_back_and_takes_it_again_after() -> None:
    governor = ThreadGovernor(most=2)
    governor.on_train_begin()
    step = CHECK_EVERY_STEPS - 1  # the governor looks at the clock every CHECK_EVERY_STEPS steps

    def after(seconds: float) -> int:
        time.sleep(seconds)
        governor.on_batch_end(step)
        return torch.get_num_threads()

    busy = _busy()
    try:
        time.sleep(0.3)
        governor.sampler.sample()  # measure from now, with the busy process running
        assert after(CHECK_EVERY_SECONDS + 0.5) == 1
    finally:
        busy.kill()
        busy.wait()
    governor.sampler.sample()
    assert after(CHECK_EVERY_SECONDS + 0.3) == 2
    assert [c["threads"] for c in governor.changes] == [1, 2] and governor.changes[0]["others"] > 0.6
    assert governor.state_dict() == {}


def test_only_threads_mnistlab_chose_follow_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    cnn = resolve_model("seed000-cnn")
    macs = summarize(cnn).flops
    chosen = accel.plan(build_model(cnn), macs_per_image=macs, batch_size=32)
    assert chosen.threads_policy == "model size" and chosen.threads == torch.get_num_threads()
    assert chosen.adaptive_threads is (CORES > 1 and torch.get_num_threads() > 1 and os.path.exists("/proc/stat"))
    assert [type(c) for c in chosen.callbacks()] == ([ThreadGovernor] if chosen.adaptive_threads else [])
    assert chosen.callbacks() == chosen.callbacks()  # one governor per plan
    fixed = accel.plan(build_model(cnn), threads=2, macs_per_image=macs)
    assert fixed.threads_policy == "fixed" and not fixed.adaptive_threads and fixed.callbacks() == []
    assert not accel.plan(build_model(cnn), macs_per_image=macs, adaptive_threads=False).adaptive_threads
    monkeypatch.setenv("MNISTLAB_ADAPTIVE_THREADS", "0")
    assert not accel.plan(build_model(cnn), macs_per_image=macs).adaptive_threads
    dense_spec = resolve_model("seed000-dense")
    dense = accel.plan(build_model(dense_spec), macs_per_image=summarize(dense_spec).flops)
    assert dense.threads == 1 and not dense.adaptive_threads  # one thread has nothing to give back
    assert dense.describe()["threads_policy"] == "model size" and dense.describe()["thread_changes"] == []


def test_a_resume_on_another_thread_count_records_the_change_and_no_exact_repeat(data_dir, tmp_path) -> None:
    """helper-206: a run begun on 2 threads and resumed on 1 recorded thread_changes [] and
    deterministic true, and its config.json retrained to other numbers."""
    from mnistlab.config import parse_run_config
    from mnistlab.run import run_config
    from test_trainer import InterruptAt

    def cfg(threads: int):
        return parse_run_config({"dataset": "mnist", "model": "seed000-dense", "data": {"subset": 600},
                                 "train": {"epochs": 3, "threads": threads}})

    for now, changed in ((1, True), (2, False)):
        folder = tmp_path / str(now)
        first = run_config(cfg(2), data_dir=data_dir, progress="none", checkpoint_dir=folder,
                           extra_callbacks=[InterruptAt(1, 3)])
        assert first.status == "interrupted"
        resumed = run_config(cfg(now), data_dir=data_dir, progress="none", checkpoint_dir=folder, resume=True)
        assert resumed.status == "finished" and resumed.metrics["resumed_from_epoch"] >= 1
        changes = resumed.env["thread_changes"]
        assert changes == ([{"epoch": resumed.metrics["resumed_from_epoch"] + 1, "step": changes[0]["step"], "threads": 1,
                             "others": None, "from": 2, "at": "resume"}] if changed else [])
        assert resumed.env["deterministic"] is not changed
