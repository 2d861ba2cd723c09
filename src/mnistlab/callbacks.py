"""Callbacks with the Keras protocol: hooks that see a ``logs`` dict and can stop training.

A callback gets ``self.trainer`` (set by :meth:`Callback.set_trainer`) with ``.model``, ``.lr``
(the base learning rate, settable), ``.stop_training`` (set it to True to stop: in ``on_epoch_end``
after this epoch, in ``on_batch_end`` right after this batch, as in Keras)
and ``.history``. Hooks, called by the trainer in this order::

    on_train_begin(logs) -> [on_epoch_begin(epoch, logs) -> on_batch_begin(batch, logs)
    -> on_batch_end(batch, logs) ... -> on_epoch_end(epoch, logs)] ... -> on_train_end(logs)

``epoch`` counts from 0 as in Keras (the history's ``epoch`` field counts from 1, as Keras prints
it). Epoch logs hold ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` (with validation) and
``lr``. A custom callback in Python::

    class Stop(Callback):
        def on_epoch_end(self, epoch, logs):
            if logs["accuracy"] > 0.95:
                self.trainer.stop_training = True

Callbacks that carry state across epochs implement ``state_dict``/``load_state_dict`` so that a
resumed run continues exactly where it stopped. :func:`make_callback` builds one from its config.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from mnistlab.errors import SpecError, SpecWarning, did_you_mean

Logs = dict[str, Any]


class Callback:
    """Base class: every hook does nothing."""

    trainer: Any = None

    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer

    def on_train_begin(self, logs: Logs | None = None) -> None: ...
    def on_train_end(self, logs: Logs | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None: ...
    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """Plain data (numbers, strings, tensors) needed to resume; empty for stateless callbacks."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)


def resolve_mode(mode: str, monitor: str) -> str:
    """Keras's "auto": maximise accuracies (and anything named like one), minimise the rest."""
    if mode in ("min", "max"):
        return mode
    return "max" if ("acc" in monitor or monitor.startswith("fmeasure") or "auc" in monitor) else "min"


def _monitored(logs: Logs | None, monitor: str, who: str) -> float | None:
    value = (logs or {}).get(monitor)
    if value is None:
        available = ", ".join(sorted(k for k, v in (logs or {}).items() if isinstance(v, (int, float))))
        warnings.warn(f"{who}: metric {monitor!r} is not available (available: {available}); skipping",
                      SpecWarning, stacklevel=3)
        return None
    return float(value)


class StopAtLoss(Callback):
    """Stop training once ``logs[monitor] < threshold`` at the end of an epoch (seed 001)."""

    def __init__(self, threshold: float, monitor: str = "loss") -> None:
        self.threshold = float(threshold)
        self.monitor = monitor

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = _monitored(logs, self.monitor, "StopAtLoss")
        if value is not None and value < self.threshold:
            self.trainer.stop_training = True


class EarlyStopping(Callback):
    """Keras's EarlyStopping: stop after ``patience`` epochs without an improvement > ``min_delta``.

    With ``restore_best_weights`` the model ends with the weights of its best epoch, also when the
    run reaches its last epoch without stopping early.
    """

    def __init__(
        self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, mode: str = "auto",
        baseline: float | None = None, restore_best_weights: bool = False, start_from_epoch: int = 0,
    ) -> None:
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.mode = resolve_mode(mode, monitor)
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self.on_train_begin()

    def _improved(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self.mode == "max":
            return value - self.min_delta > reference
        return value + self.min_delta < reference

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait = 0
        self.best: float | None = None
        self.best_epoch = -1
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.stopped_epoch = -1

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = _monitored(logs, self.monitor, "EarlyStopping")
        if value is None or epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self._improved(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = {k: v.detach().clone() for k, v in self.trainer.model.state_dict().items()}
            if self.baseline is None or self._improved(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {"wait": self.wait, "best": self.best, "best_epoch": self.best_epoch,
                "best_weights": self.best_weights, "stopped_epoch": self.stopped_epoch}


class ReduceLROnPlateau(Callback):
    """Keras's ReduceLROnPlateau: ``lr = max(lr * factor, min_lr)`` after ``patience`` epochs without
    an improvement > ``min_delta``, then wait ``cooldown`` epochs before counting again."""

    def __init__(
        self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, mode: str = "auto",
        min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0, verbose: bool = False,
    ) -> None:
        if not 0 < factor < 1:
            raise SpecError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor}")
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = int(patience)
        self.mode = resolve_mode(mode, monitor)
        self.min_delta = float(min_delta)
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self.verbose = verbose
        self.on_train_begin()

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "max":
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait = 0
        self.cooldown_counter = 0
        self.best: float | None = None
        self.reductions: list[tuple[int, float]] = []  # (epoch, new lr), for the record

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = _monitored(logs, self.monitor, "ReduceLROnPlateau")
        if value is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(value):
            self.best = value
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = self.trainer.lr
                # float32 comparison as Keras does, so lr == min_lr stops reducing exactly there
                if old > float(torch.tensor(self.min_lr, dtype=torch.float32)):
                    new = max(old * self.factor, self.min_lr)
                    self.trainer.lr = new
                    self.reductions.append((epoch, new))
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new:g}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def state_dict(self) -> dict[str, Any]:
        return {"wait": self.wait, "cooldown_counter": self.cooldown_counter, "best": self.best,
                "reductions": [list(r) for r in self.reductions]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.reductions = [(int(e), float(lr)) for e, lr in self.reductions]


class ModelCheckpoint(Callback):
    """Save the model's weights (safetensors) after each epoch, or only when ``monitor`` improves.

    ``filepath`` is formatted with ``epoch`` (from 1) and the logs, e.g. ``"e{epoch:02d}.safetensors"``.
    """

    def __init__(self, filepath: str | Path, monitor: str = "val_loss", save_best_only: bool = False, mode: str = "auto") -> None:
        self.filepath = str(filepath)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = resolve_mode(mode, monitor)
        self.best: float | None = None
        self.saved: list[str] = []

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        from safetensors.torch import save_file

        logs = logs or {}
        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            if value is None:
                return
            better = self.best is None or (value > self.best if self.mode == "max" else value < self.best)
            if not better:
                return
            self.best = value
        try:
            path = Path(self.filepath.format(epoch=epoch + 1, **logs))
        except (KeyError, ValueError, IndexError) as exc:
            raise SpecError(f"ModelCheckpoint: cannot format filepath {self.filepath!r}: {exc}") from None
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.trainer.model.state_dict().items()}
        save_file(state, str(path))
        self.saved.append(str(path))

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "saved": list(self.saved)}


_CLASSES: dict[str, type[Callback]] = {
    "StopAtLoss": StopAtLoss,
    "EarlyStopping": EarlyStopping,
    "ReduceLROnPlateau": ReduceLROnPlateau,
    "ModelCheckpoint": ModelCheckpoint,
}


def make_callback(cfg: Any) -> Callback:
    """Build a callback from its validated config (see :mod:`mnistlab.config`)."""
    kwargs = cfg.model_dump()
    kind = kwargs.pop("type")
    return _CLASSES[kind](**kwargs)


def is_finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))


# ------------------------------------------------------------------------------------ progress
def format_epoch(entry: dict[str, Any], epochs: int) -> str:
    """Keras's one-line epoch summary: ``Epoch 2/5 - 3.1s - loss: 0.4123 - accuracy: 0.8512 ...``."""
    parts = [f"Epoch {entry['epoch']}/{epochs}", f"{entry['epoch_seconds']:.1f}s"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if entry.get(key) is not None:
            parts.append(f"{key}: {entry[key]:.4f}")
    parts.append(f"lr: {entry['lr']:.3g}")
    parts.append(f"{entry['images_per_second']:,.0f} img/s")
    return " - ".join(parts)


class Reporter:
    """Progress output. ``"lines"``: one summary line per epoch (log files, notebooks, tests);
    ``"none"``: silent. :class:`BarReporter` adds a live bar in a terminal."""

    def __init__(self, mode: str, epochs: int, steps: int, stream: Any = None) -> None:
        self.mode, self.epochs, self.steps = mode, epochs, steps
        self.stream = stream

    def epoch_begin(self, epoch: int) -> None: ...
    def batch_end(self, step: int, loss: float) -> None: ...
    def close(self) -> None: ...

    def epoch_end(self, entry: dict[str, Any]) -> None:
        if self.mode != "none":
            print(format_epoch(entry, self.epochs), file=self.stream or sys.stdout, flush=True)


class BarReporter(Reporter):
    """A rich progress bar for the running epoch (redrawn at most 10 times a second), replaced
    by the epoch's summary line when it ends, like Keras's progbar."""

    def __init__(self, mode: str, epochs: int, steps: int, stream: Any = None) -> None:
        super().__init__(mode, epochs, steps, stream)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console(file=stream)
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("loss: {task.fields[loss]}"), TimeRemainingColumn(),
                            console=self.console, transient=True, auto_refresh=False)
        self.task: Any = None
        self.next_draw = 0.0

    def epoch_begin(self, epoch: int) -> None:
        self.bar.start()
        self.task = self.bar.add_task(f"Epoch {epoch + 1}/{self.epochs}", total=self.steps, loss="-")

    def batch_end(self, step: int, loss: float) -> None:
        now = time.monotonic()
        if now >= self.next_draw or step + 1 == self.steps:
            self.next_draw = now + 0.1
            self.bar.update(self.task, completed=step + 1, loss=f"{loss:.4f}")
            self.bar.refresh()

    def epoch_end(self, entry: dict[str, Any]) -> None:
        self.close()
        self.console.print(format_epoch(entry, self.epochs), highlight=False)

    def close(self) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None
        self.bar.stop()


PROGRESS_MODES = ("auto", "bar", "lines", "none")


def check_progress_mode(mode: str) -> None:
    if mode not in PROGRESS_MODES:
        raise SpecError(f'unknown progress mode "{mode}"{did_you_mean(mode, PROGRESS_MODES)}; use auto, bar, lines or none')


def make_reporter(mode: str, epochs: int, steps: int, stream: Any = None) -> Reporter:
    """``"auto"``: a bar when stdout is a terminal, else one line per epoch."""
    check_progress_mode(mode)
    if mode == "auto":
        out = stream or sys.stdout
        mode = "bar" if getattr(out, "isatty", lambda: False)() else "lines"
    return BarReporter(mode, epochs, steps, stream) if mode == "bar" else Reporter(mode, epochs, steps, stream)
