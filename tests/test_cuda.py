"""The GPU path, on a machine with CUDA (``bench/gpu_check.sh`` runs this file there); every test
here is skipped, and reported as skipped, where torch sees no CUDA device.

What it checks: the dataset and every batch stay on the device, a training step never makes the
host wait for the GPU (torch's sync debug mode turns any such wait into an error), the epoch's
metrics are read once, bf16 is chosen for conv models where the GPU has it, and a CUDA run trains
to the CPU's accuracy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import torch

from mnistlab import accel
from mnistlab.config import AugmentConfig, parse_run_config
from mnistlab.models import build_model
from mnistlab.optim import set_lr
from mnistlab.presets import resolve_model
from mnistlab.run import prepare_data, run_config
from mnistlab.accel.meter import EpochMeter
from mnistlab.trainer import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def cfg(model: str = "seed000-cnn", device: str = "cuda", **train):
    return parse_run_config({"dataset": "fashion-mnist", "model": model, "data": {"subset": 2000, "validation": 500},
                             "train": {"epochs": 2, "device": device, **train}})


@contextlib.contextmanager
def no_host_sync() -> Iterator[None]:
    """Any operation that makes the host wait for the GPU raises inside the block."""
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("model, optimizer, augment", [
    ("seed000-dense", "adam", None), ("seed000-cnn", "sgd", None), ("seed002-deep-conv", "rmsprop", None),
    ("seed000-cnn", "adam", AugmentConfig(rotation_range=10, zoom_range=0.1, fill_mode="nearest", random_erasing=0.5)),
    ("seed000-cnn", "nadam", AugmentConfig(width_shift_range=0.1, fill_mode="constant", horizontal_flip=True)),
    ("seed000-cnn", "adam", AugmentConfig(height_shift_range=0.1, fill_mode="wrap")),
    ("seed000-cnn", "adam", AugmentConfig(width_shift_range=3, height_shift_range=[0.1, 0.2], zoom_range=[0.9, 1.1],
                                          shear_range=10.0, vertical_flip=True)),
])
def test_training_steps_never_wait_for_the_host(data_dir, model, optimizer, augment):
    """Every optimizer kind, augmentation with each way of filling, a learning rate set per step."""
    data = prepare_data(cfg(model), data_dir, "cuda")
    assert data.train_x.is_cuda and data.train_y.is_cuda
    net = build_model(resolve_model(model), seed=0).cuda()
    trainer = Trainer(net, plan=accel.plan(net), optimizer=optimizer, momentum=0.9 if optimizer == "sgd" else 0.0,
                      batch_size=64, seed=0, augment=augment)
    assert not trainer.plan.sync_each_step
    trainer.train_step(data.train_x[:64], data.train_y[:64])  # warm-up: cuDNN's choices, lazy state
    meter = EpochMeter(data.train_x.device, trainer.plan.sync_each_step)
    with no_host_sync():
        for i in range(1, 20):
            set_lr(trainer.optimizer, 1e-3 / i)
            xb, yb = data.train_x[64 * i : 64 * (i + 1)], data.train_y[64 * i : 64 * (i + 1)]
            loss, hits = trainer.train_step(xb, yb)
            assert meter.add(loss, hits, len(yb)) is None
    loss_value, accuracy = meter.totals()
    assert loss_value == loss_value and 0 <= accuracy <= 1


def test_a_cuda_run_records_its_device_precision_and_sync(data_dir):
    r = run_config(cfg(), data_dir=data_dir, progress="none")
    assert r.status == "finished" and r.env["device"].startswith("cuda")
    assert r.env["gradients"] == "autograd"  # the hand-written dense step is the CPU's
    assert r.env["host_sync"] == "once per epoch"
    assert run_config(cfg(), data_dir=data_dir, progress="lines").env["host_sync"] == "once per epoch"  # lines: no reads
    assert run_config(cfg(), data_dir=data_dir, progress="bar").env["host_sync"].startswith("each step")  # the bar reads
    assert r.env["precision"] == ("bf16" if torch.cuda.is_bf16_supported() else "float32")
    assert len(r.history) == 2 and r.metrics["test_accuracy"] > 0.6


def test_cuda_trains_to_the_cpu_accuracy(data_dir):
    gpu = run_config(cfg("seed000-dense", precision="float32"), data_dir=data_dir, progress="none")
    cpu = run_config(cfg("seed000-dense", device="cpu", precision="float32"), data_dir=data_dir, progress="none")
    assert abs(gpu.metrics["test_accuracy"] - cpu.metrics["test_accuracy"]) < 0.03
    assert abs(gpu.history[0]["loss"] - cpu.history[0]["loss"]) < 0.05
