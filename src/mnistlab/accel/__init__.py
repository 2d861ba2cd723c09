"""Speed work, beside the engine: one :class:`Plan` per fit says how a plain model trains fast here.

The engine (``models``, ``trainer``, ``optim``) knows nothing of what is in this package. A plan
is chosen once, from the model and the machine, and applied as substitutions, never as branches
inside a model's ``forward`` or inside the training loop:

- ``device``, ``threads`` and ``precision`` (bf16 autocast where it was measured to pay);
- ``channels_last``: the memory layout oneDNN/cuDNN convolve fastest;
- ``forward``: the model's forward with conv -> ReLU -> max-pool blocks computed faster
  (:mod:`mnistlab.accel.conv_pool`), or the model itself, inside the plan's autocast;
- ``dense_step``: hand-written gradients for models made only of dense layers
  (:mod:`mnistlab.accel.dense_step`), or None for autograd;
- ``optimizer()``: torch's fused Adam/AdamW with a leaner step (:mod:`mnistlab.accel.fused_adam`);
- ``activate()``: the thread count, glibc's allocator kept from thrashing and denormals flushed
  in single-threaded runs (:mod:`mnistlab.accel.cpu`);
- ``sync_each_step``: whether the trainer reads each step's loss on the host (CPU: free, and a
  NaN stops at its batch) or leaves the epoch's sums on the device (GPU: no wait per step), in the
  :class:`~mnistlab.accel.meter.EpochMeter` that ``meter()`` gives;
- ``inputs()`` and ``relayout()``: a batch in the plan's memory layout (channels-last), before and
  after augmentation;
- ``callbacks()``: the :class:`~mnistlab.accel.threads.ThreadGovernor`, which gives cores back to
  other processes while they are busy and takes them again after (:mod:`mnistlab.accel.threads`).

Each fast path gives the plain path's numbers to float rounding (``tests/test_accel.py``), and
each has a switch: ``plan(..., hand_gradients=False, conv_pool_forward=False, lean_optimizer=False,
adaptive_threads=False)``, or ``MNISTLAB_NATIVE=0`` / ``MNISTLAB_RETAIN_MEMORY=0`` /
``MNISTLAB_FLUSH_DENORMALS=0`` / ``MNISTLAB_ADAPTIVE_THREADS=0``. What the
plan chose is recorded in every run's ``env`` (:meth:`Plan.describe`). Every private torch call
of mnistlab lives in this package.

    plan = accel.plan(model, precision="auto", threads=None)
    optimizer = plan.optimizer(make_optimizer("adam", model.parameters()))
    with plan.activate():
        logits = plan.forward(plan.inputs(uint8_batch))
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from mnistlab.accel import conv_pool
from mnistlab.accel.cpu import (cpu_has_native_bf16, cuda_has_native_bf16, default_threads, flush_denormals,
                                retain_freed_memory)
from mnistlab.accel.dense_step import DenseStep
from mnistlab.accel.fused_adam import lean
from mnistlab.accel.hooks import has_hooks
from mnistlab.accel.meter import EpochMeter
from mnistlab.accel.threads import ThreadGovernor, adaptive_threads_enabled
from mnistlab.callbacks import Callback
from mnistlab.errors import SpecError
from mnistlab.evaluate import to_input

__all__ = ["Plan", "default_threads", "import_compiler", "pick_device", "plan", "resolve_precision"]

Precision = Literal["float32", "bf16"]
Step = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class Plan:
    """How one fit runs; built by :func:`plan`, read by the trainer, recorded in the run's env.

    ``forward(x)``: float32 (N, 1, H, W) in [0, 1] -> logits (N, classes), under the plan's
    autocast. ``threads`` None leaves torch's thread count as it is; ``adaptive_threads``: a
    :class:`~mnistlab.accel.threads.ThreadGovernor` may lower it while other processes are busy.
    """

    device: torch.device
    precision: Precision
    channels_last: bool
    threads: int | None
    forward: Callable[[torch.Tensor], torch.Tensor]
    dense_step: DenseStep | None = None
    lean_optimizer: bool = True
    native_kernel: str = "not applicable"  # "on", "off: <why>" or "not applicable"
    fused: conv_pool.FusedForward | None = field(default=None, repr=False)
    adaptive_threads: bool = False
    threads_policy: str = "torch's"  # how ``threads`` was chosen: "fixed", "model size" or "torch's"
    governor: ThreadGovernor | None = field(default=None, repr=False)
    sync_each_step: bool = True  # read each step's loss on the host; False keeps a GPU's metrics on the device

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The autocast dtype of ``forward`` (None: float32 throughout)."""
        return torch.bfloat16 if self.precision == "bf16" else None

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W) -> float32 (N, 1, H, W) in [0, 1], in the plan's memory layout."""
        return to_input(images, channels_last=self.channels_last)

    def relayout(self, x: torch.Tensor) -> torch.Tensor:
        """A float batch (N, C, H, W) back in the plan's memory layout: augmentation's ``grid_sample``
        returns NCHW, and a channels-last model fed a mixed layout is slow."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def meter(self, device: torch.device) -> EpochMeter:
        """An epoch's loss and accuracy sums on ``device``, read each step or once an epoch as
        ``sync_each_step`` says (:class:`~mnistlab.accel.meter.EpochMeter`)."""
        return EpochMeter(device, self.sync_each_step)

    def gradients(self, autograd_step: Step, label_smoothing: float = 0.0) -> Step:
        """The step that computes ``(loss, logits)`` and sets every parameter's ``.grad``: the
        hand-written dense step where it applies (``autograd_step`` once a parameter is frozen),
        else ``autograd_step``. ``label_smoothing`` is the dense step's loss's (the trainer's)."""
        dense = self.dense_step
        if dense is None:
            return autograd_step

        def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return dense.step(x, y, label_smoothing) if dense.usable() else autograd_step(x, y)

        return step

    def follow_hooks(self, model: nn.Module) -> bool:
        """Give up the fused forward and the dense step once ``model`` has hooks they would skip
        (a callback may register them after the plan was made); True if the plan changed. The
        trainer asks before every epoch: hooks registered during an epoch count from the next one."""
        if (self.fused is None and self.dense_step is None) or not has_hooks(
                *model.modules(), parameters=model.parameters()):
            return False
        autocast = self.autocast_dtype
        self.forward = _autocast(model, self.device.type, autocast) if autocast is not None else model
        self.fused, self.dense_step = None, None
        if self.native_kernel == "on":
            self.native_kernel = "off: the model has hooks"
        return True

    def callbacks(self) -> list[Callback]:
        """Callbacks the trainer adds for this plan: the thread governor of an adaptive plan."""
        if self.adaptive_threads and self.threads and self.governor is None:
            self.governor = ThreadGovernor(self.threads)
        return [self.governor] if self.governor is not None else []

    def optimizer(self, optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        """``optimizer`` with the lean fused Adam step where it applies (the same object)."""
        return lean(optimizer) if self.lean_optimizer else optimizer

    @contextlib.contextmanager
    def use_threads(self) -> Iterator[None]:
        """torch's thread count set to ``threads`` for the block (unchanged when None), then restored."""
        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    @contextlib.contextmanager
    def activate(self) -> Iterator[bool]:
        """The runtime settings of a fit: threads, the allocator kept from returning memory each
        step, and denormals flushed to zero where this thread does all the arithmetic (single-
        threaded CPU runs: torch's pool threads cannot be switched). Yields whether it flushes."""
        with self.use_threads():
            cpu = self.device.type == "cpu"
            if cpu:
                retain_freed_memory()  # a third of a CNN step was page faults without it (accel.cpu)
            single = cpu and torch.get_num_threads() == 1
            with flush_denormals() if single else contextlib.nullcontext(False) as flushing:
                yield flushing

    def describe(self) -> dict[str, Any]:
        """What a run records in ``env``: precision, channels_last, gradients, native_kernel, and how
        its threads were chosen (``threads_policy``) and changed under load (``thread_changes``)."""
        return {
            "threads_policy": self.threads_policy + (", adapts to load" if self.adaptive_threads else ""),
            "thread_changes": list(self.governor.changes) if self.governor is not None else [],
            **({"threads": self.threads} if self.threads else {}),
            "precision": self.precision,
            "channels_last": self.channels_last,
            "gradients": "hand-written (dense fast path)" if self.dense_step is not None else "autograd",
            "native_kernel": self.native_kernel,
            "host_sync": "each step" if self.sync_each_step else "once per epoch",
        }


def plan(
    model: nn.Module,
    *,
    precision: str = "auto",
    channels_last: bool | None = None,
    threads: int | None = None,
    macs_per_image: int | None = None,
    batch_size: int = 32,
    hand_gradients: bool = True,
    conv_pool_forward: bool = True,
    lean_optimizer: bool = True,
    adaptive_threads: bool = True,
    sync_each_step: bool | None = None,
) -> Plan:
    """Choose how ``model`` trains fast on the device its parameters are on; converts the model to
    channels-last in place where the plan says so (oneDNN/cuDNN's fastest convolutions, measured in
    ``bench/``). Call it after any hooks are registered: a fast path is never chosen where a hook
    would be skipped. ``precision``: auto | bf16 | float32 (see :func:`resolve_precision`).

    Threads: ``threads`` fixes the count; else with ``macs_per_image`` (forward multiply-adds per
    image) and ``batch_size`` the plan picks it from the model's size (:func:`default_threads`) and,
    on a CPU with more than one thread, follows the machine's load (``adaptive_threads``;
    :mod:`mnistlab.accel.threads`); with neither, torch's current count is left alone.
    ``sync_each_step`` (default: on the CPU only) reads each step's loss on the host; off, the
    trainer keeps an epoch's loss and accuracy sums on the device and reads them once."""
    device = next(model.parameters()).device
    from mnistlab.models import SeparableConv2D  # (its two kernels are parameters of its own, no nn.Conv2d)

    has_conv = any(isinstance(m, (nn.Conv2d, SeparableConv2D)) for m in model.modules())
    resolved = resolve_precision(precision, device, has_conv)
    layout = has_conv if channels_last is None else channels_last
    if layout:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs lack memory_format
    autocast = torch.bfloat16 if resolved == "bf16" else None
    fused, native = _fused_forward(model, autocast, conv_pool_forward)
    forward: Callable[[torch.Tensor], torch.Tensor] = fused if fused is not None else model
    if autocast is not None:
        forward = _autocast(forward, device.type, autocast)
    # Dense-only models on CPU skip autograd's bookkeeping (a quarter of a step; accel.dense_step).
    dense = DenseStep.for_model(model) if hand_gradients and autocast is None and device.type == "cpu" else None
    policy = "fixed" if threads else "torch's"
    if not threads and macs_per_image is not None:
        threads, policy = default_threads(macs_per_image, batch_size, device), "model size"
    adaptive = (policy == "model size" and adaptive_threads and device.type == "cpu" and (threads or 0) > 1
                and adaptive_threads_enabled())
    sync = device.type == "cpu" if sync_each_step is None else sync_each_step
    return Plan(device, resolved, layout, threads, forward, dense, lean_optimizer, native, fused,
                adaptive_threads=adaptive, threads_policy=policy, sync_each_step=sync)


def _fused_forward(model: nn.Module, autocast: torch.dtype | None,
                   enabled: bool) -> tuple[conv_pool.FusedForward | None, str]:
    """The conv-pool forward where it changes anything, and what ``env.native_kernel`` says. A
    model with hooks keeps its own forward: the hooks must see every layer run."""
    hooked = has_hooks(*model.modules())
    fused = conv_pool.FusedForward(model, autocast_dtype=autocast, use_kernel=enabled and not hooked)
    native = "not applicable"
    if fused.qualifying:
        native = ("on" if fused.uses_kernel else "off: conv_pool_forward=False" if not enabled
                  else "off: the model has hooks" if hooked else conv_pool.kernel_status())
    return (fused if enabled and not hooked and fused.fuses else None), native


def _autocast(forward: Callable[[torch.Tensor], torch.Tensor], device_type: str,
              dtype: torch.dtype) -> Callable[[torch.Tensor], torch.Tensor]:
    def autocast_forward(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type, dtype=dtype):
            return forward(x)
    return autocast_forward


def resolve_precision(precision: str, device: torch.device, has_conv: bool) -> Precision:
    """``auto`` -> ``bf16`` where bf16 autocast was measured to pay, else ``float32``.

    Measured (BENCHMARKS.md): on a CPU with native bf16 (AVX512_BF16/AMX) it speeds up
    convolutions ~1.5-2x but slows small dense models (the casts cost more than the matmuls save);
    on GPUs with native bf16 (Ampere and later) for conv models too.
    """
    if precision in ("bf16", "float32"):
        return precision  # type: ignore[return-value]
    if device.type == "cuda":
        return "bf16" if has_conv and cuda_has_native_bf16() else "float32"
    if device.type == "cpu" and has_conv:
        return "bf16" if cpu_has_native_bf16() else "float32"
    return "float32"


@functools.cache
def import_compiler() -> None:
    """Import torch's compiler (``torch._dynamo``) with Ctrl-C held (:func:`~mnistlab.files.stop_signals_held`).
    torch's first optimizer imports it (and sympy): 2-3 s of a run's start, where a Ctrl-C cut the
    import short and left the process unable to build another optimizer (``module 'sympy' has no
    attribute 'core'``), in a notebook until its kernel restarts. The stop comes once it is whole."""
    from mnistlab.files import stop_signals_held

    with stop_signals_held():
        import torch._dynamo  # noqa: F401


def pick_device(name: str) -> torch.device:
    """``auto`` = CUDA when available, else Apple MPS, else CPU. Unavailable devices raise SpecError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError(f'device "{name}" was asked for, but CUDA is not available here; use cpu or auto')
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        raise SpecError(f'device "{name}" was asked for, but this machine has {torch.cuda.device_count()} GPU(s): '
                        f'use cuda:0 to cuda:{torch.cuda.device_count() - 1}')
    if name == "mps" and not _mps_available():
        raise SpecError("device 'mps' requested but it is not available")
    return torch.device(name)


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
