"""The training engine: a plain epoch/batch loop with Keras-style callbacks, and the run API.

Three levels, use the one you need:

- :func:`train` for notebooks: ``run = mnistlab.train(dataset="fashion-mnist", model="seed000-cnn",
  epochs=5, lr=1e-3)`` returns a :class:`Run` (``.history``, ``.test_accuracy``, ``.predict(images)``).
- :func:`run_config` for a validated :class:`~mnistlab.config.RunConfig`: loads the data, builds the
  model, trains, evaluates on the test set and returns a :class:`RunResult` (what the run store keeps).
- :class:`Trainer` / :func:`fit` for any ``torch.nn.Module`` (logits out) on uint8 image tensors.

The loop holds the whole dataset as one uint8 tensor and indexes shuffled batches from it (no
DataLoader), normalises each batch (/255), and records per epoch ``loss``, ``accuracy``,
``val_loss``, ``val_accuracy`` (when there is validation data), ``lr``, ``epoch_seconds`` and
``images_per_second``. Failure is a result: a NaN/inf loss ends the run as ``"diverged"``, Ctrl-C
as ``"interrupted"``, with the history so far kept. With a checkpoint folder every epoch is saved
(model, optimizer, callbacks, RNG states, history) and ``resume=True`` continues bit-exactly on CPU.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import subprocess
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mnistlab import native
from mnistlab.augment import Augmenter
from mnistlab.callbacks import Callback, check_progress_mode, make_callback, make_reporter
from mnistlab.config import AugmentConfig, RunConfig, apply_overrides, config_hash, parse_run_config, setting_default
from mnistlab.cpu import (cpu_has_native_bf16, cuda_has_native_bf16, default_threads, flush_denormals,
                          retain_freed_memory)
from mnistlab.dense_fastpath import DenseFastPath
from mnistlab.errors import MnistlabError, SpecError, SpecWarning
from mnistlab.evaluate import check_images, evaluate_model, predict_probs, to_input
from mnistlab.optim import make_optimizer, schedule_lr, set_lr

CHECKPOINT_FILE = "last.pt"
CHECKPOINT_FORMAT = 1


class CheckpointError(MnistlabError):
    """A checkpoint cannot be read or belongs to a different run config."""


# ------------------------------------------------------------------------------------- results
@dataclass
class RunResult:
    """Everything one run produced. ``status``: finished | diverged | interrupted | failed."""

    config: dict[str, Any]
    status: str
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    env: dict[str, Any]
    test_probs: np.ndarray
    model: torch.nn.Module
    message: str = ""


@dataclass
class FitOutcome:
    """How a fit ended: ``finished``, ``diverged``, ``interrupted`` or ``failed``, with the history so far."""

    status: str = "finished"
    message: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: int = 0  # epochs already done when this fit started (0 = fresh)


# ------------------------------------------------------------------------------------- trainer
class Trainer:
    """Trains a model (logits out) on uint8 (N, H, W) images with int64 labels.

    Callbacks see ``trainer.model``, ``trainer.lr`` (base learning rate, settable),
    ``trainer.stop_training`` and ``trainer.history``.

        trainer = Trainer(model, optimizer="adam", batch_size=32, seed=0)
        outcome = trainer.fit(train_x, train_y, epochs=2, val=(val_x, val_y))

    Models made only of Flatten/Dense/activation/Dropout layers train on CPU with hand-written
    gradients (``trainer.fast_path``, see mnistlab.dense_fastpath); ``hand_gradients=False``
    forces autograd, and so does freezing a layer. Hooks are looked for here: add them before.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        optimizer: str = "adam",
        lr: float | None = None,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float | None = None,
        batch_size: int = 32,
        label_smoothing: float = 0.0,
        schedule: Any = None,
        augment: AugmentConfig | None = None,
        callbacks: Sequence[Callback] = (),
        seed: int = 0,
        precision: str = "auto",
        channels_last: bool | None = None,
        progress: str = "none",
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
        hand_gradients: bool = True,
    ) -> None:
        self.device = next(model.parameters()).device
        if self.device.type == "cpu":
            retain_freed_memory()  # a third of a CNN step was page faults without it (mnistlab.cpu)
        # Channels-last lets oneDNN/cuDNN pick their fastest convolution kernels (measured in bench/).
        has_conv = any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
        self.channels_last = has_conv if channels_last is None else channels_last
        self.model = model.to(memory_format=torch.channels_last) if self.channels_last else model
        self.optimizer = make_optimizer(optimizer, model.parameters(), lr=lr, momentum=momentum,
                                        nesterov=nesterov, weight_decay=weight_decay)
        self.base_lr = float(self.optimizer.param_groups[0]["lr"])
        self.batch_size = batch_size
        self.label_smoothing = label_smoothing
        self.schedule = schedule
        self.augmenter = Augmenter(augment, seed=seed + 1) if augment is not None and not augment.is_identity() else None
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_trainer(self)
        self.seed = seed
        self.shuffle_gen = torch.Generator().manual_seed(seed)
        self.precision = resolve_precision(precision, model)
        self.autocast_dtype = torch.bfloat16 if self.precision == "bf16" else None
        # Dense-only models on CPU skip autograd's bookkeeping (a quarter of a step; mnistlab.dense_fastpath).
        self.fast_path = (DenseFastPath.for_model(self.model)
                          if hand_gradients and self.autocast_dtype is None and self.device.type == "cpu" else None)
        self.progress = progress
        self.on_epoch = on_epoch
        self.stop_training = False
        self._target_epochs: int | None = None  # set by fit(); saved in checkpoints
        self._native_since: tuple[int, int] | None = None  # native.counts() when fit() began
        self._resumed_from: dict[str, Any] = {}
        self.flushes_denormals = False  # set by fit()
        self.epochs_done = 0
        self.history: list[dict[str, Any]] = []

    # The base lr: schedules scale it per batch; ReduceLROnPlateau changes it between epochs.
    @property
    def lr(self) -> float:
        return self.base_lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.base_lr = float(value)
        if self.schedule is None:
            set_lr(self.optimizer, self.base_lr)

    # -------------------------------------------------------------------------------- the loop
    def fit(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        epochs: int,
        val: tuple[torch.Tensor, torch.Tensor] | None = None,
        checkpoint_dir: str | os.PathLike | None = None,
        resume: bool = False,
        config_key: str = "",
    ) -> FitOutcome:
        """Train for ``epochs`` (counting epochs already done when resuming from a checkpoint)."""
        outcome = FitOutcome(history=self.history)
        ckpt = Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir is not None else None
        self._target_epochs = epochs
        self._native_since = native.counts()
        if resume and ckpt is not None and ckpt.exists():
            self.load_checkpoint(ckpt, config_key)
            outcome.resumed_from = self.epochs_done
            self._warn_if_resume_differs(epochs)
        else:
            torch.manual_seed(self.seed)  # dropout draws from the global generator
        steps = math.ceil(len(images) / self.batch_size)
        reporter = make_reporter(self.progress, epochs, steps)
        logs: dict[str, Any] = {}
        if outcome.resumed_from == 0:  # a resumed run's callbacks carry their state on
            self._call("on_train_begin", logs)
        # Keras's arithmetic (TensorFlow flushes denormals on CPU) and faster Adam steps, where this
        # thread does all the arithmetic: torch's pool threads cannot be switched (mnistlab.cpu).
        single = self.device.type == "cpu" and torch.get_num_threads() == 1
        flush = flush_denormals() if single else contextlib.nullcontext(False)
        with flush as self.flushes_denormals:
            try:
                while self.epochs_done < epochs and not self.stop_training:
                    epoch = self.epochs_done
                    entry = self.run_epoch(epoch, epochs, images, labels, val, reporter)
                    if outcome.resumed_from and epoch == outcome.resumed_from:
                        self._warn_if_native_differs()  # known only once the model has run
                    if entry is None:  # diverged
                        outcome.status = "diverged"
                        outcome.message = self._divergence_hint
                        break
                    self.history.append(entry)
                    logs = {k: v for k, v in entry.items() if k != "epoch"}  # what on_train_end sees, as in Keras
                    self.epochs_done += 1
                    if ckpt is not None:
                        self.save_checkpoint(ckpt, config_key)
                    reporter.epoch_end(entry)
                    if self.on_epoch is not None:
                        self.on_epoch(entry)
            except KeyboardInterrupt:
                outcome.status = "interrupted"
                outcome.message = f"interrupted by the user after {self.epochs_done} complete epoch(s)"
            finally:
                reporter.close()
        if outcome.status in ("finished", "diverged"):
            # A diverged run ends the way Keras's TerminateOnNaN ends fit, with on_train_end:
            # EarlyStopping(restore_best_weights) hands back its best epoch instead of NaNs.
            self._call("on_train_end", logs)
        return outcome

    def _warn_if_resume_differs(self, epochs: int) -> None:
        """Settings outside the config key that make a resumed run differ from an uninterrupted one."""
        saved = self._resumed_from
        threads = torch.get_num_threads()
        if self.device.type == "cpu" and saved.get("threads") not in (None, threads):
            warnings.warn(f"the checkpoint was written with {saved['threads']} CPU thread(s) and this run uses "
                          f"{threads}: it continues, but its numbers will differ from an uninterrupted run "
                          f"in the last digits (set train.threads = {saved['threads']} to match)", SpecWarning,
                          stacklevel=3)
        if getattr(self.schedule, "type", None) in ("cosine", "onecycle") and saved.get("epochs") not in (None, epochs):
            warnings.warn(f"the learning-rate schedule spans the run's epochs: resuming with {epochs} instead of "
                          f"{saved['epochs']} reshapes it from epoch {self.epochs_done + 1} on", SpecWarning,
                          stacklevel=3)

    def native_kernel(self) -> str | None:
        """What the fused first-block kernel (mnistlab.native) did in the last fit: "on", "off: <why>"
        or "not applicable"; None before any fit."""
        return None if self._native_since is None else native.describe(self._native_since)

    def _warn_if_native_differs(self) -> None:
        saved, now = self._resumed_from.get("native_kernel"), self.native_kernel()
        if saved is not None and (saved == "on") != (now == "on"):
            warnings.warn(f"the checkpoint was trained {'with' if saved == 'on' else 'without'} mnistlab's native "
                          f"kernel and this run {'uses' if now == 'on' else 'does not use'} it ({now}): it continues, "
                          f"but its numbers will differ from an uninterrupted run", SpecWarning, stacklevel=3)

    def run_epoch(self, epoch: int, epochs: int, images: torch.Tensor, labels: torch.Tensor,
                  val: tuple[torch.Tensor, torch.Tensor] | None, reporter: Any) -> dict[str, Any] | None:
        """One epoch: shuffled batches, then validation and the epoch-end callbacks. None = diverged."""
        n = len(images)
        steps = math.ceil(n / self.batch_size)
        self._call("on_epoch_begin", epoch, {})
        reporter.epoch_begin(epoch)
        self.model.train()
        start = time.perf_counter()
        order = torch.randperm(n, generator=self.shuffle_gen).to(images.device)
        # One gather per epoch, then each batch is a contiguous slice: the same batches as indexing
        # with order[i:j] every step, minus two small index ops per step (the dataset stays uint8).
        shuffled_x, shuffled_y = images[order], labels[order]
        loss_sum, correct, seen = 0.0, 0, 0
        lr = self.base_lr
        bs, callbacks, schedule = self.batch_size, self.callbacks, self.schedule
        for step in range(steps):
            if schedule is not None:
                lr = schedule_lr(schedule, self.base_lr, epoch + step / steps, epochs)
                set_lr(self.optimizer, lr)
            xb, yb = shuffled_x[step * bs : (step + 1) * bs], shuffled_y[step * bs : (step + 1) * bs]
            if callbacks:
                self._call("on_batch_begin", step, {"batch": step, "size": len(yb)})
            loss, hits = self.train_step(xb, yb)
            if not math.isfinite(loss):
                self._divergence_hint = (
                    f"loss became {loss} at epoch {epoch + 1}, batch {step + 1}: the learning rate "
                    f"({lr:g}) is probably too high; try lr = {lr / 10:g} (--lr {lr / 10:g})"
                )
                return None
            loss_sum += loss * len(yb)
            correct += hits
            seen += len(yb)
            reporter.batch_end(step, loss_sum / seen)
            if callbacks:
                self._call("on_batch_end", step, {"loss": loss, "batch": step})
                if self.stop_training:  # Keras stops right after the batch; the epoch ends early
                    break
        del shuffled_x, shuffled_y
        train_seconds = time.perf_counter() - start
        logs: dict[str, Any] = {"loss": loss_sum / seen, "accuracy": correct / seen}
        if val is not None and len(val[0]):
            vl, va, _ = evaluate_model(self.model, val[0], val[1], label_smoothing=self.label_smoothing,
                                       channels_last=self.channels_last, autocast_dtype=self.autocast_dtype)
            logs.update(val_loss=vl, val_accuracy=va)
        logs["lr"] = lr
        self._call("on_epoch_end", epoch, logs)
        seconds = time.perf_counter() - start
        return {"epoch": epoch + 1, **logs, "epoch_seconds": seconds, "images_per_second": seen / train_seconds}

    def train_step(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[float, int]:
        """One optimisation step on a uint8 batch; returns (mean loss, correct predictions)."""
        x = to_input(xb, channels_last=self.channels_last)
        if self.augmenter is not None:
            x = self.augmenter(x)
            if self.channels_last:  # grid_sample returns NCHW; mixed layouts are slow
                x = x.contiguous(memory_format=torch.channels_last)
        if self.fast_path is not None and self.fast_path.usable():
            loss, logits = self.fast_path.step(x, yb, self.label_smoothing)
        else:
            if self.autocast_dtype is None:  # even a disabled autocast context costs ~5 us a step
                logits = self.model(x)
            else:
                with torch.autocast(self.device.type, dtype=self.autocast_dtype):
                    logits = self.model(x)
            loss = F.cross_entropy(logits.float(), yb, label_smoothing=self.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
        self.optimizer.step()
        return loss.item(), int((logits.detach().argmax(1) == yb).sum())

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    # --------------------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: plain types and tensors only (weights_only-safe)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "epochs_done": self.epochs_done,
            "stop_training": self.stop_training,
            "base_lr": self.base_lr,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "callbacks": [{"class": type(cb).__name__, "state": cb.state_dict()} for cb in self.callbacks],
            "rng": {
                "torch": torch.get_rng_state(),
                "shuffle": self.shuffle_gen.get_state(),
                "augment": self.augmenter.state_dict()["generator"] if self.augmenter else None,
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
            "history": self.history,
            # What a resume must match to end exactly like an uninterrupted run (checked in fit).
            "threads": torch.get_num_threads(),
            "epochs": self._target_epochs,
            "native_kernel": self.native_kernel(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        # The config key already pins the configured callbacks; Python-only extras resume when they match.
        for cb, saved in zip(self.callbacks, state["callbacks"]):
            if saved.get("class") == type(cb).__name__:
                cb.load_state_dict(saved["state"])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        self.shuffle_gen.set_state(rng["shuffle"])
        if self.augmenter is not None and rng["augment"] is not None:
            self.augmenter.load_state_dict({"generator": rng["augment"]})
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        self.base_lr = float(state["base_lr"])
        self.epochs_done = int(state["epochs_done"])
        self.stop_training = bool(state["stop_training"])
        self.history[:] = list(state["history"])
        self._resumed_from = {"threads": state.get("threads"), "epochs": state.get("epochs"),
                              # mnistlab before 0.3.0 had no native kernel and wrote no such key
                              "native_kernel": state.get("native_kernel", "off: mnistlab before 0.3.0")}

    def save_checkpoint(self, path: Path, config_key: str = "") -> None:
        """Write atomically (temp file + rename), so a crash never leaves half a checkpoint."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save({**self.state_dict(), "config_key": config_key, "mnistlab": _version()}, tmp)
        os.replace(tmp, path)

    def load_checkpoint(self, path: Path, config_key: str = "") -> None:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)  # RNG states must stay on CPU
        except Exception as exc:  # truncated, garbage or hostile (non-weights) pickle
            raise CheckpointError(f"{path}: not a readable mnistlab checkpoint ({type(exc).__name__})") from None
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path}: not a mnistlab checkpoint (format {CHECKPOINT_FORMAT})")
        if config_key and state.get("config_key") != config_key:
            writer = state.get("mnistlab")
            by = "" if writer == _version() else f" (and by mnistlab {writer or 'of an older version'}, not {_version()})"
            raise CheckpointError(f"{path}: the checkpoint was written by a different run config{by}; "
                                  "use another --checkpoint-dir or drop --resume")
        try:
            self.load_state_dict(state)
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise CheckpointError(f"{path}: checkpoint does not match this model: {' '.join(str(exc).split())[:200]}") from None


def fit(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, *, epochs: int = 1,
        val: tuple[torch.Tensor, torch.Tensor] | None = None, **kwargs: Any) -> FitOutcome:
    """Train ``model`` in place on uint8 images; ``kwargs`` are :class:`Trainer` options."""
    return Trainer(model, **kwargs).fit(images, labels, epochs=epochs, val=val)


# ------------------------------------------------------------------------------------ the run
@dataclass
class Split:
    """A run's data as uint8/int64 tensors (on the training device)."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor | None
    val_y: torch.Tensor | None
    test_x: torch.Tensor
    test_y: torch.Tensor
    validation_is_test: bool
    num_classes: int


def given_validation(validation_data: Any, shape: Sequence[int], num_classes: int,
                     device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, labels)`` from a notebook as the uint8/int64 tensors a run holds; bad arrays raise SpecError.

    Images are (N, H, W) or (N, 1, H, W), integers 0-255 or floats in [0, 1] (as ``x / 255``).
    """
    try:
        images, labels = validation_data
        x, y = np.asarray(images), np.asarray(labels)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"validation_data: expected (images, labels), got {type(validation_data).__name__} ({exc})") from None
    try:
        x = check_images(x, shape)
    except ValueError as exc:
        raise SpecError(f"validation_data: {exc}") from None
    if len(x) == 0:
        raise SpecError("validation_data: 0 images; give at least one, or leave validation_data out")
    if y.shape != (len(x),):
        raise SpecError(f"validation_data: {len(x)} images need {len(x)} labels (N,), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= num_classes:
        raise SpecError(f"validation_data: labels must be integers 0-{num_classes - 1}")
    if x.dtype != np.uint8:
        x = np.rint(x * 255).astype(np.uint8)  # the run holds uint8; x / 255 comes back exactly
    return torch.from_numpy(x).to(device), torch.from_numpy(y.astype(np.int64)).to(device)


def prepare_data(cfg: RunConfig, data_dir: str | os.PathLike | None = None, device: torch.device | str = "cpu") -> Split:
    """Load the dataset, apply ``data.subset`` and the validation split; tensors on ``device``."""
    from mnistlab.datasets import load_dataset, validation_split

    ds = load_dataset(cfg.dataset, data_dir)
    train_x, train_y = np.asarray(ds.train_images), np.asarray(ds.train_labels)
    test_x, test_y = np.asarray(ds.test_images), np.asarray(ds.test_labels)
    if cfg.data.subset:
        train_x, train_y = train_x[: cfg.data.subset], train_y[: cfg.data.subset]
        keep = max(cfg.data.subset // 6, 1)
        test_x, test_y = test_x[:keep], test_y[:keep]
    validation = cfg.data.validation
    val_x = val_y = None
    if validation == "test":
        val_x, val_y = test_x, test_y
    elif validation:
        kind = {"fraction": validation} if isinstance(validation, float) else {"count": validation}
        split_seed = cfg.data.split_seed if cfg.data.split_seed is not None else cfg.train.seed
        train_idx, val_idx = validation_split(train_y, seed=split_seed, stratify=cfg.data.stratify,
                                              last=cfg.data.split == "last", **kind)
        val_x, val_y = train_x[val_idx], train_y[val_idx]
        train_x, train_y = train_x[train_idx], train_y[train_idx]

    def t(a: np.ndarray | None, dtype: torch.dtype) -> torch.Tensor | None:
        return None if a is None else torch.from_numpy(np.array(a)).to(device=device, dtype=dtype)  # copy: the arrays may be read-only memmaps

    return Split(t(train_x, torch.uint8), t(train_y, torch.int64), t(val_x, torch.uint8), t(val_y, torch.int64),
                 t(test_x, torch.uint8), t(test_y, torch.int64), validation == "test", ds.info.num_classes)


def resolve_precision(precision: str, model: torch.nn.Module) -> str:
    """``auto`` -> ``bf16`` where bf16 autocast was measured to pay, else ``float32``.

    Measured (BENCHMARKS.md): on a CPU with native bf16 (AVX512_BF16/AMX) it speeds up
    convolutions ~1.5-2x but slows small dense models (the casts cost more than the matmuls save).
    """
    if precision != "auto":
        return precision
    device = next(model.parameters()).device
    has_conv = any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    if device.type == "cuda":
        return "bf16" if has_conv and cuda_has_native_bf16() else "float32"
    if device.type == "cpu" and has_conv:
        return "bf16" if cpu_has_native_bf16() else "float32"
    return "float32"


def pick_device(name: str) -> torch.device:
    """``auto`` = CUDA when available, else Apple MPS, else CPU. Unavailable devices raise SpecError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError(f'device "{name}" was asked for, but CUDA is not available here; use cpu or auto')
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        raise SpecError(f'device "{name}" was asked for, but this machine has {torch.cuda.device_count()} GPU(s): '
                        f'use cuda:0 to cuda:{torch.cuda.device_count() - 1}')
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise SpecError("device 'mps' requested but it is not available")
    return torch.device(name)


def run_config(
    cfg: RunConfig,
    *,
    data_dir: str | os.PathLike | None = None,
    progress: str = "auto",
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    extra_callbacks: Sequence[Callback] = (),
    validation_data: tuple[Any, Any] | None = None,
) -> RunResult:
    """Train one run described by ``cfg`` and evaluate it on the test set.

    ``validation_data=(images, labels)`` validates on those arrays (Keras's ``fit(validation_data=)``)
    instead of what ``data.validation`` says; which one was used is recorded in ``metrics["validation"]``.

    Never raises for what happens during training (divergence, Ctrl-C, a failing callback): the
    status and message say what happened and the history so far is kept. Bad configs, missing
    data and unreadable checkpoints raise :class:`MnistlabError` before training starts.
    """
    from mnistlab.models import build_model, count_parameters, summarize

    check_progress_mode(progress)  # a config error: say so before any data is loaded
    resolved = cfg.resolved()
    spec = cfg.model_spec()
    device = pick_device(cfg.train.device)
    data = prepare_data(cfg, data_dir, device)
    if spec.num_classes != data.num_classes:
        raise SpecError(f"the model has {spec.num_classes} outputs but {cfg.dataset} has {data.num_classes} classes")
    if validation_data is not None:
        if cfg.data.validation:
            raise SpecError("validation_data was given, and data.validation is set too: choose one")
        data.val_x, data.val_y = given_validation(validation_data, spec.input_shape[:2], data.num_classes, device)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.train.threads or default_threads(summarize(spec).flops, cfg.train.batch_size, device))
    try:
        model = build_model(spec, seed=cfg.train.seed).to(device)
        callbacks = [make_callback(c) for c in cfg.callbacks] + list(extra_callbacks)
        t = cfg.train
        trainer = Trainer(
            model, optimizer=t.optimizer, lr=cfg.lr, momentum=t.momentum, nesterov=t.nesterov,
            weight_decay=cfg.weight_decay, batch_size=t.batch_size, label_smoothing=t.label_smoothing,
            schedule=t.schedule, augment=cfg.augment, callbacks=callbacks, seed=t.seed, precision=t.precision,
            progress=progress, on_epoch=on_epoch,
        )
        val = (data.val_x, data.val_y) if data.val_x is not None else None
        key = config_key(resolved)
        try:
            outcome = trainer.fit(data.train_x, data.train_y, epochs=t.epochs, val=val,
                                  checkpoint_dir=checkpoint_dir, resume=resume, config_key=key)
        except MnistlabError as exc:
            if isinstance(exc, CheckpointError):
                raise
            outcome = FitOutcome("failed", str(exc), trainer.history)
        except Exception as exc:  # a bug or a resource problem mid-run: record it, keep the history
            if os.environ.get("MNISTLAB_DEBUG"):
                raise
            outcome = FitOutcome("failed", f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}", trainer.history)
        finite = weights_finite(model)  # a diverged model's "accuracy" would be one class's share
        test_loss, test_acc, probs = _safe_test(trainer, data) if finite else _untested(data)
        if not finite:
            outcome.message = "; ".join(filter(None, [outcome.message, "its weights are not finite, so it was not tested"]))
        trainable, frozen = count_parameters(model)
        env = environment(device)
        env["deterministic"] = device.type == "cpu"
        env["precision"] = trainer.precision
        env["channels_last"] = trainer.channels_last
        env["flush_denormals"] = trainer.flushes_denormals
        env["gradients"] = "hand-written (dense fast path)" if trainer.fast_path is not None else "autograd"
        env["native_kernel"] = trainer.native_kernel()
        metrics = _metrics(outcome, test_loss, test_acc, trainable + frozen, summarize(spec).flops, data)
        metrics["validation"] = ("given" if validation_data is not None else "test" if data.validation_is_test
                                 else "none" if data.val_y is None else cfg.data.split)
        model.eval()
        model = model.to("cpu", memory_format=torch.contiguous_format)
        return RunResult(resolved, outcome.status, list(outcome.history), metrics, env, probs, model, outcome.message)
    finally:
        torch.set_num_threads(old_threads)


def _untested(data: Split) -> tuple[None, None, np.ndarray]:
    return None, None, np.full((len(data.test_y), data.num_classes), np.nan, np.float32)


def _safe_test(trainer: Trainer, data: Split) -> tuple[float | None, float | None, np.ndarray]:
    try:
        loss, acc, probs = evaluate_model(trainer.model, data.test_x, data.test_y, return_probs=True,
                                          label_smoothing=trainer.label_smoothing, channels_last=trainer.channels_last,
                                          autocast_dtype=trainer.autocast_dtype)
    except KeyboardInterrupt:  # a second Ctrl-C: skip the test pass, keep the run
        return _untested(data)
    return (loss if math.isfinite(loss) else None), acc, probs  # type: ignore[return-value]


def weights_finite(model: torch.nn.Module) -> bool:
    """No NaN or infinity in any parameter or buffer (a diverged run's last step usually leaves some)."""
    return all(bool(torch.isfinite(t).all()) for t in model.state_dict().values() if t.is_floating_point())


def _metrics(outcome: FitOutcome, test_loss: float | None, test_acc: float | None, params: int, flops: int,
             data: Split) -> dict[str, Any]:
    hist = outcome.history
    last = hist[-1] if hist else {}
    seconds = sum(h["epoch_seconds"] for h in hist)
    m: dict[str, Any] = {
        "test_loss": test_loss,
        "test_accuracy": test_acc,
        "train_loss": last.get("loss"),
        "train_accuracy": last.get("accuracy"),
        "train_seconds": seconds,
        "seconds_per_epoch": seconds / len(hist) if hist else None,
        "epochs_run": len(hist),
        "params": params,
        "flops": flops,
        "train_size": len(data.train_y),
        "val_size": 0 if data.val_y is None else len(data.val_y),
        "test_size": len(data.test_y),
        "validation_is_test": data.validation_is_test,
        "resumed_from_epoch": outcome.resumed_from,
    }
    if "val_accuracy" in last:
        m["val_loss"] = last["val_loss"]
        m["val_accuracy"] = last["val_accuracy"]
        m["best_val_accuracy"] = max(h["val_accuracy"] for h in hist)
    return m


def config_key(resolved: dict[str, Any]) -> str:
    """A checkpoint's identity: the resolved config without the epoch count (so a run can be extended)."""
    return config_hash(resolved, ignore=("epochs", "threads"))


def _version() -> str:
    import mnistlab

    return mnistlab.__version__


def environment(device: torch.device) -> dict[str, Any]:
    """Provenance of a run: versions, device, threads, git commit of the working folder (if any)."""
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "mnistlab": _version(),
        "platform": platform.platform(),
        "device": str(device),
        "device_name": _device_name(device),
        "threads": torch.get_num_threads(),
        "git_commit": _git_commit(),
    }
    return env


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=3, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


# ------------------------------------------------------------------------------ notebook API
class Recorder:
    """One run in a :class:`~mnistlab.store.RunStore`, marked ``running`` before it trains, so that
    even a crash leaves a trace; :meth:`finish` writes its result (``mnistlab train`` and
    ``train(store=...)`` record this way)."""

    def __init__(self, store: Any, experiment: str, cfg: RunConfig) -> None:
        resolved = cfg.resolved()
        variant = resolved["model"].get("name") or (Path(cfg.model).stem if isinstance(cfg.model, str) else "model")
        self.store = store
        self.run_id = store.start_run(experiment=experiment, variant=variant, seed=cfg.train.seed, member=0,
                                      config=resolved, config_hash=config_key(resolved))

    def abandon(self, exc: BaseException) -> None:
        """The run raised: bad data or config leave no record; anything else is recorded as such.
        A store problem here must not hide the run's own error, which the caller re-raises."""
        try:
            if isinstance(exc, MnistlabError):
                self.store.rm([self.run_id])
                return
            if isinstance(exc, KeyboardInterrupt):
                status, message = "interrupted", "interrupted before it finished"
            else:
                status, message = "failed", f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            self.store.finish_run(self.run_id, status=status, history=[], metrics={}, env={}, message=message)
        except MnistlabError:
            pass

    def finish(self, result: RunResult) -> str | None:
        """Record the result; returns why it could not be (the run row deleted meanwhile...) or None."""
        try:
            self.store.finish_run(self.run_id, status=result.status, history=result.history, metrics=result.metrics,
                                  env=result.env, message=result.message, weights=result.model.state_dict(),
                                  predictions=result.test_probs)
        except Exception as exc:  # a store error, or a callback's value JSON cannot hold: never "running"
            problem = str(exc) if isinstance(exc, MnistlabError) else f"{type(exc).__name__}: {exc}"
            try:
                self.store.finish_run(self.run_id, status="failed", history=[], metrics={}, env={},
                                      message=f"could not record the result: {problem}"[:400])
            except MnistlabError:
                pass  # the row is gone (deleted meanwhile): nothing left to mark
            return problem
        return None


class Run:
    """A finished run for notebooks: ``.history``, ``.test_accuracy``, ``.model``, ``.predict()``."""

    def __init__(self, result: RunResult, run_id: str | None = None) -> None:
        self.result = result
        self.run_id = run_id  # its id in the run store, when train(store=...) recorded it

    status = property(lambda self: self.result.status)
    history = property(lambda self: self.result.history)
    metrics = property(lambda self: self.result.metrics)
    config = property(lambda self: self.result.config)
    model = property(lambda self: self.result.model)
    message = property(lambda self: self.result.message)
    test_accuracy = property(lambda self: self.result.metrics.get("test_accuracy"))
    test_loss = property(lambda self: self.result.metrics.get("test_loss"))

    def predict(self, images: Any) -> np.ndarray:
        """Class probabilities (N, classes) for uint8 (0-255) or float ([0, 1]) images (N, 28, 28)."""
        try:
            return predict_probs(self.result.model, images)
        except (ValueError, TypeError) as exc:  # check_pixels / numpy on something that is not images
            raise SpecError(f"predict: {exc}") from None

    def __repr__(self) -> str:
        m = self.result.metrics
        name = self.result.config["model"].get("name") or "model"
        acc = f"{m['test_accuracy']:.4f}" if m.get("test_accuracy") is not None else "n/a"
        return (f"Run({self.result.config['dataset']}, {name}, {self.status}, epochs={m['epochs_run']}, "
                f"test_accuracy={acc}, train_seconds={m['train_seconds']:.1f})")


def train(
    dataset: str = setting_default("dataset"),
    model: Any = setting_default("model"),
    epochs: int = setting_default("epochs"),
    *,
    data_dir: str | os.PathLike | None = None,
    progress: str = "auto",
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    validation_data: tuple[Any, Any] | None = None,
    store: Any = None,
    experiment: str = "train",
    **overrides: Any,
) -> Run:
    """Train a model the way a notebook does; returns a :class:`Run`.

    ``overrides`` are config settings by name: ``batch_size``, ``lr``, ``optimizer``, ``seed``,
    ``validation``, ``augment={...}``, ``callbacks=[{"type": "EarlyStopping", ...}]`` (or
    :class:`~mnistlab.callbacks.Callback` objects), ``schedule={"type": "cosine"}`` ...
    ``validation_data=(images, labels)`` validates on your own arrays, as Keras's ``fit`` does.
    ``store`` (a folder, a :class:`~mnistlab.store.RunStore`, or True for the default one)
    records the run there under ``experiment``, as ``mnistlab train`` does; ``run.run_id`` is its id.

        >>> run = train("fashion-mnist", "seed000-dense", epochs=1, subset=600)   # doctest: +SKIP
        >>> run.test_accuracy                                                     # doctest: +SKIP
    """
    cb_objects = [c for c in overrides.get("callbacks", []) if isinstance(c, Callback)]
    if "callbacks" in overrides:
        overrides["callbacks"] = [c for c in overrides["callbacks"] if not isinstance(c, Callback)]
    if hasattr(model, "to_dict"):
        model = model.to_dict()
    elif isinstance(model, os.PathLike):
        model = os.fspath(model)
    raw = apply_overrides({"dataset": dataset, "model": model, "train": {"epochs": epochs}}, overrides, source="train()")
    cfg = parse_run_config(raw, source="train()", check_callbacks=validation_data is None)
    recorder = None
    if store is not None and store is not False:
        from mnistlab.store import RunStore

        if not isinstance(store, (RunStore, str, os.PathLike, bool)):
            raise SpecError(f"store: expected a folder, a RunStore or True, got {type(store).__name__}")
        if not experiment.strip():
            raise SpecError("experiment: must not be empty")

        recorder = Recorder(store if isinstance(store, RunStore) else RunStore(None if store is True else store),
                            experiment, cfg)
    try:
        result = run_config(cfg, data_dir=data_dir, progress=progress, checkpoint_dir=checkpoint_dir,
                            resume=resume, extra_callbacks=cb_objects, validation_data=validation_data)
    except BaseException as exc:
        if recorder is not None:
            recorder.abandon(exc)
        raise
    if recorder is None:
        return Run(result)
    problem = recorder.finish(result)
    if problem:  # the run itself is fine and returned; only its record is missing
        warnings.warn(f"the run was not recorded: {problem}", stacklevel=2)
        return Run(result)
    return Run(result, recorder.run_id)


__all__ = ["RunResult", "Run", "Recorder", "Trainer", "FitOutcome", "fit", "run_config", "train", "prepare_data",
           "pick_device", "default_threads", "environment", "CheckpointError"]
