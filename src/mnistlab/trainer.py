"""The training loop: ``fit`` -> ``run_epoch`` -> ``train_step``, with Keras-style callbacks.

:class:`Trainer` trains any ``torch.nn.Module`` that returns logits on uint8 image tensors:

    trainer = Trainer(model, optimizer="adam", batch_size=32, seed=0)
    outcome = trainer.fit(train_x, train_y, epochs=2, val=(val_x, val_y))

The loop holds the whole dataset as one uint8 tensor and indexes shuffled batches from it (no
DataLoader), normalises each batch (/255), and records per epoch ``loss``, ``accuracy``,
``val_loss``, ``val_accuracy`` (when there is validation data), ``lr``, ``epoch_seconds`` and
``images_per_second``. Failure is a result: a NaN/inf loss, or an epoch whose loss blew up at
chance accuracy (:func:`mnistlab.evaluate.blow_up`), ends the fit as ``"diverged"``, Ctrl-C
as ``"interrupted"``, with the history so far kept: an epoch whose ``on_epoch_end`` raised (a
callback's error, a Ctrl-C there) counts, as it has trained (Keras's History, its last callback,
would miss it). With a checkpoint folder the state is saved
(model, optimizer, callbacks, RNG states, history) after every epoch, or every ``checkpoint_every``
seconds (inside epochs too), and ``resume=True`` continues bit-exactly on CPU.

How the model runs fast (device, threads, layout, precision, fused blocks, hand-written dense
gradients) is decided once, by an :class:`mnistlab.accel.Plan`; the loop only calls it. For
loading data, provenance and recording, see :mod:`mnistlab.run`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from mnistlab import accel
from mnistlab._version import __version__
from mnistlab.augment import Augmenter
from mnistlab.callbacks import Callback, CallbackList, make_progress
from mnistlab.config import AugmentConfig, ScheduleConfig, config_changes, optimizer_defaults
from mnistlab.errors import CheckpointError, TrainingWarning, user_level
from mnistlab.evaluate import blow_up, evaluate_model
from mnistlab.models import penalised, regularization_loss, trainable
from mnistlab.files import CHECKPOINT_FILE, drop_stale_temporaries, stop_signals_held, write_atomic
from mnistlab.optim import KerasLearningRate, lower_lr, make_optimizer, schedule_lr, set_lr

if TYPE_CHECKING:  # (the plan makes the meter: Plan.meter)
    from mnistlab.accel.meter import EpochMeter

__all__ = ["CHECKPOINT_FILE", "FitOutcome", "Trainer", "checkpoint_threads", "fit"]

STOPPED_BY = "by Ctrl-C or a stop signal"  # what an interrupted run's message says stopped it
CHECKPOINT_FORMAT = 1
CHECKPOINT_FORMAT_INSIDE_EPOCH = 2  # a checkpoint written inside an epoch: a reader of format 1 only would redo its batches
# An epoch's end writes a checkpoint before its period is up where the write costs at most this
# share of the training since the last one (a 9-second epoch keeps its checkpoint: a stop in the
# next loses at most that epoch, as Keras's BackupAndRestore per epoch), a write guessed to cost
# FIRST_CHECKPOINT_SECONDS until one is timed (BENCHMARKS.md: 14-78 ms for the best recipes' models).
CHEAP_CHECKPOINT = 0.02
FIRST_CHECKPOINT_SECONDS = 0.05


@dataclass
class FitOutcome:
    """How a fit ended: ``finished``, ``diverged``, ``interrupted`` or ``failed``, with the history so far."""

    status: str = "finished"
    message: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: int = 0  # epochs already done when this fit started (0 = fresh)
    checkpointed: int | None = None  # epochs the checkpoint on disk holds (None: no checkpoint_dir)
    resumed_from_step: int = 0  # batches of the next epoch already done when this fit started
    checkpointed_step: int = 0  # batches of the next epoch the checkpoint holds (0: written at an epoch's end)
    resumed_from_run: str = ""  # the run whose checkpoint this fit continued ("" where none was recorded)
    #: what a ``failed`` fit raised where it came from the user's own callback code: train() raises it
    #: again once the run is recorded, as Keras's fit lets it through (with its traceback)
    error: BaseException | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class CheckpointTarget:
    """Where a fit writes its checkpoints: the file, the run's config key (a checkpoint of another
    key is refused on resume), the config that key hashes (:func:`~mnistlab.config.checkpoint_config`,
    kept in the file to name what changed) and the fit's outcome (which says what the file holds)."""

    path: Path
    key: str
    key_config: str
    outcome: FitOutcome
    run_id: str = ""  # the recorded run writing it: the run a resume from it continues (helper-171)


def _partial_ok(partial: Any) -> bool:
    """Whether a checkpoint's ``partial_epoch`` is None or a position :meth:`Trainer.run_epoch` can
    continue from: ``steps`` >= 1 batches done, and the epoch's sums so far."""
    if partial is None:
        return True
    if not isinstance(partial, dict):
        return False
    meter = partial.get("meter")
    return (isinstance(partial.get("steps"), int) and partial["steps"] >= 1 and isinstance(meter, dict)
            and isinstance(meter.get("seen"), int) and isinstance(meter.get("correct"), int)
            and isinstance(meter.get("loss_sum"), float) and 0 <= meter["correct"] <= meter["seen"])


def read_checkpoint(path: Path, config_key: str = "", key_config: str = "") -> dict[str, Any]:
    """The state a :meth:`Trainer.save_checkpoint` file holds, loaded on the CPU without pickles
    (``weights_only``). CheckpointError (one line) if it is unreadable, not mnistlab's, or written
    by another run config (``config_key``; the settings that changed are named when
    ``key_config``, :func:`~mnistlab.config.checkpoint_config`, is given). Whether it fits the
    model is :meth:`Trainer.load_checkpoint`'s to find."""
    if not Path(path).is_file():  # a FIFO or a device would never end
        raise CheckpointError(f"{path}: not a regular file, so not a checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # RNG states must stay on CPU
    except Exception as exc:  # truncated, garbage or hostile (non-weights) pickle
        raise CheckpointError(f"{path}: not a readable mnistlab checkpoint ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("format") not in (CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_INSIDE_EPOCH):
        raise CheckpointError(f"{path}: not a mnistlab checkpoint (mnistlab writes formats {CHECKPOINT_FORMAT} "
                              f"and {CHECKPOINT_FORMAT_INSIDE_EPOCH})")
    if config_key and state.get("config_key") != config_key:
        writer = state.get("mnistlab")
        by = "" if writer == __version__ else f" (and by mnistlab {writer or 'of an older version'}, not {__version__})"
        changed = _changed_settings(state.get("config"), key_config)
        raise CheckpointError(f"{path}: the checkpoint was written by a different run config{by}{changed}")
    return state


def _changed_settings(saved: Any, now: str) -> str:
    """``" (train.lr was 0.001, now 0.01)"`` when both configs are known and readable, else ``""``
    (older checkpoints keep no config)."""
    try:
        before, after = json.loads(saved), json.loads(now)
    except (TypeError, ValueError):
        return ""
    if not (isinstance(before, dict) and isinstance(after, dict)):
        return ""
    changes = config_changes(before, after)
    return f" ({changes})" if changes else ""


# what a diverged run's message adds when the model has a weight penalty: a penalty that large also does it
PENALTY_HINT = "; or a weight penalty too strong (kernel_regularizer, bias_regularizer: the loss includes it)"


def divergence_hint(loss: float, where: str, lr: float, optimizer: str | None = None) -> str:
    """What a run that diverged records: its non-finite ``loss``, ``where`` (``"during epoch 3"``)
    and a lower learning rate to try (:func:`~mnistlab.optim.lower_lr`)."""
    return f"loss became {loss} {where}: the learning rate ({lr:g}) is probably too high; try {lower_lr(lr, optimizer)}"


@contextmanager
def own_global_rng(device: torch.device) -> Iterator[None]:
    """The global random generators a fit on ``device`` draws from (the CPU's, and the GPU's it
    runs on), saved on entry and restored on exit: a fit seeds them (:func:`seed_global_rng`) and
    leaves the user's draws after it as they were, as Keras's ``fit`` does (helper-157)."""
    index = (device.index if device.index is not None else torch.cuda.current_device()) if device.type == "cuda" else 0
    accelerated = device.type in ("cuda", "mps")
    with torch.random.fork_rng(devices=[index] if accelerated else [], device_type=device.type if accelerated else "cuda"):
        yield


def seed_global_rng(seed: int, device: torch.device) -> None:
    """Seed the global generators a fit on ``device`` draws from (dropout's): the CPU's, and the
    GPU's it runs on; on a CPU, the CPU's alone (``torch.manual_seed`` also queues every GPU's
    seed, which :func:`own_global_rng` would not restore). The same draws as ``torch.manual_seed``."""
    if device.type == "cpu":
        torch.default_generator.manual_seed(seed)
    else:
        torch.manual_seed(seed)


class Trainer:
    """Trains a model (logits out) on uint8 (N, H, W) images with int64 labels.

    Callbacks see ``trainer.model``, ``trainer.lr`` (base learning rate, settable),
    ``trainer.stop_training`` and ``trainer.history``. ``plan`` (default: ``accel.plan(model,
    precision=, channels_last=, hand_gradients=)``) says how the model runs fast; hooks on the
    model turn its fast paths off (checked when it is made and before every epoch, so a hook that a
    callback registers in ``on_train_begin`` fires too). ``interrupt()``, when given, is asked
    before each epoch; True stops the fit there as Ctrl-C does (``interrupted``, the finished epochs
    kept): :class:`~mnistlab.callbacks.StopBetweenEpochs` takes a stop so. ``class_weight``: float
    (classes,), Keras's ``class_weight`` (:meth:`autograd_step`); None weighs every image alike.
    """

    _divergence_hint: str  # why the run diverged: set by run_epoch when the loss stops being finite

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        optimizer: str = "adam",
        lr: float | None = None,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float | None = None,
        beta_1: float | None = None,
        beta_2: float | None = None,
        epsilon: float | None = None,
        amsgrad: bool = False,
        centered: bool = False,
        rho: float | None = None,
        initial_accumulator_value: float | None = None,
        batch_size: int = 32,
        label_smoothing: float = 0.0,
        class_weight: torch.Tensor | None = None,
        schedule: ScheduleConfig | None = None,
        augment: AugmentConfig | None = None,
        callbacks: Sequence[Callback] = (),
        seed: int = 0,
        precision: str = "auto",
        channels_last: bool | None = None,
        progress: str = "none",
        hand_gradients: bool = True,
        plan: accel.Plan | None = None,
        interrupt: Callable[[], bool] | None = None,
    ) -> None:
        self.plan = plan or accel.plan(model, precision=precision, channels_last=channels_last,
                                       hand_gradients=hand_gradients)
        self.model = model
        self.penalised = penalised(model)  # its layers are its own for the fit: asked once, not at every step
        # the epoch's penalties (summed over images; images), each epoch's mean (None: a resumed run's), said
        self._penalty_paid, self._penalty_means, self._said_penalty = list[Any]([0.0, 0]), list[float | None](), False
        self.base_lr = float(lr if lr is not None else optimizer_defaults(optimizer)["lr"])
        self.optimizer_name, self.optimizer = optimizer, self.plan.optimizer(make_optimizer(
            optimizer, trainable(model), lr=self.base_lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad, centered=centered, rho=rho,
            initial_accumulator_value=initial_accumulator_value))
        if isinstance(self.optimizer, KerasLearningRate):  # a callback's optimizer.learning_rate = x sets self.lr
            self.optimizer.owner = self
        self.class_weight = None if class_weight is None else class_weight.to(self.plan.device, torch.float32)  # (classes,)
        self.batch_size, self.label_smoothing, self.schedule, self.seed = batch_size, label_smoothing, schedule, seed
        self.compute_gradients = self._gradients()
        self.augmenter = (Augmenter(augment, seed=seed + 1, device=self.plan.device)
                          if augment is not None and not augment.is_identity() else None)
        self.callbacks = list(callbacks)  # what checkpoints save; the progress logger goes last, as in Keras
        self.hooks = CallbackList([*self.callbacks, *self.plan.callbacks(), make_progress(progress)], trainer=self)
        self.shuffle_gen, self.stop_training = torch.Generator().manual_seed(seed), False
        self.interrupt = interrupt  # asked before each epoch: True stops the fit as Ctrl-C does
        self.flushes_denormals, self.epochs_done = False, 0  # (the first set by fit())
        self.history: list[dict[str, Any]] = []
        self._target_epochs: int | None = None  # set by fit(); saved in checkpoints
        self._resumed_from: dict[str, Any] = {}
        self._earlier_thread_changes: list[dict[str, Any]] = []  # a resumed fit's, before it and at its resume
        self._checkpoint_to: CheckpointTarget | None = None  # set by fit() when it writes checkpoints
        self._epoch_shuffle = self.shuffle_gen.get_state()  # the shuffle RNG before this epoch's order was drawn
        self._resume_in_epoch: dict[str, Any] | None = None  # a mid-epoch checkpoint's position, until run_epoch takes it

    # The base lr: schedules scale it per batch; ReduceLROnPlateau changes it between epochs.
    @property
    def lr(self) -> float:
        """The base learning rate (settable: callbacks such as ReduceLROnPlateau lower it)."""
        return self.base_lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.base_lr = float(value)
        if self.schedule is None:
            set_lr(self.optimizer, self.base_lr)

    # -------------------------------------------------------------------------------- the loop
    def fit(self, images: torch.Tensor, labels: torch.Tensor, *, epochs: int,
            val: tuple[torch.Tensor, torch.Tensor] | None = None, checkpoint_dir: str | os.PathLike | None = None,
            resume: bool = False, config_key: str = "", checkpoint_every: float = 0.0,
            key_config: str = "", run_id: str = "") -> FitOutcome:
        """Train until ``epochs`` epochs are done (counting those a resumed checkpoint had done).

        ``images``: uint8 (N, H, W); ``labels``: int64 (N,), both on the plan's device. With a
        ``checkpoint_dir``, a checkpoint is written there at the end of an epoch once
        ``checkpoint_every`` seconds (0: every epoch) have passed since the last one (or the start), or
        sooner where the write costs at most :data:`CHEAP_CHECKPOINT` of the training since the last
        (the last write timed), as Keras's BackupAndRestore does per epoch; with ``checkpoint_every`` >
        0 also after the batch where that time is up inside a long epoch (Keras's ``save_freq`` in
        batches, here in seconds), so a stop loses at most about ``checkpoint_every`` seconds of
        training; at the last epoch's end (or an early stop's) a checkpoint already there is always
        replaced. A resume continues after the checkpoint's last batch, with the same order, random
        draws, epoch sums and seconds, and on a CPU ends exactly as an uninterrupted run; the callbacks
        see ``on_epoch_begin`` of that epoch again (in a new process, as after an epoch-end checkpoint
        they see the next epoch's), its logs giving ``resumed_after_batch`` (batches done before, int)
        and ``seconds_before_resume`` (float) where Keras's are empty. Raises CheckpointError for an
        unreadable checkpoint, one of another config (``config_key``; naming the settings that changed
        when ``key_config``, :func:`~mnistlab.config.checkpoint_config`, is given), or one that has
        trained past ``epochs``. ``run_id``: the recorded run, kept in its checkpoints, so that a
        resume says which run it continues (``FitOutcome.resumed_from_run``). The global random
        generators (dropout's draws) are seeded inside and left as they were found, as Keras's ``fit``
        leaves them (helper-157: a user's own draws after training followed the run's seed).
        """
        with own_global_rng(self.plan.device):
            return self._fit(images, labels, epochs=epochs, val=val, checkpoint_dir=checkpoint_dir, resume=resume,
                             config_key=config_key, checkpoint_every=checkpoint_every, key_config=key_config,
                             run_id=run_id)

    def _fit(self, images: torch.Tensor, labels: torch.Tensor, *, epochs: int,
             val: tuple[torch.Tensor, torch.Tensor] | None, checkpoint_dir: str | os.PathLike | None,
             resume: bool, config_key: str, checkpoint_every: float, key_config: str, run_id: str) -> FitOutcome:
        """:meth:`fit`, inside its own random state."""
        outcome = FitOutcome(history=self.history)
        ckpt = Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir is not None else None
        self._target_epochs = epochs
        self._checkpoint_every, self._last_checkpoint, self._unwritable = checkpoint_every, time.monotonic(), False
        self._checkpoint_cost = FIRST_CHECKPOINT_SECONDS  # seconds the last write took
        self._checkpoint_to = None if ckpt is None else CheckpointTarget(ckpt, config_key, key_config, outcome, run_id)
        outcome.checkpointed = None if ckpt is None else 0
        self._classes = max(int(labels.max()) + 1, 2) if len(labels) else 2  # for blow_up's chance level
        if resume and ckpt is not None and ckpt.exists():
            self.load_checkpoint(ckpt, config_key, key_config)
            outcome.resumed_from = outcome.checkpointed = self.epochs_done
            outcome.resumed_from_run = str(self._resumed_from.get("run_id") or "")
            outcome.resumed_from_step = outcome.checkpointed_step = (self._resume_in_epoch or {}).get("steps", 0)
            reached = self.epochs_done + (1 if outcome.resumed_from_step else 0)  # epochs it has begun
            if reached > epochs:  # its weights have trained past the run asked for
                where = (f"was written inside epoch {reached}" if outcome.resumed_from_step
                         else f"holds {reached} epochs")
                raise CheckpointError(f"{ckpt}: the checkpoint {where}, past the {epochs} epoch(s) asked for: "
                                      f"ask for at least {reached}")
            self._warn_if_resume_differs(epochs)
        else:
            seed_global_rng(self.seed, self.plan.device)  # dropout draws from the global generator
        self.hooks.set_params({"epochs": epochs, "steps": math.ceil(len(images) / self.batch_size),
                               "samples": len(images), "batch_size": self.batch_size})  # Keras's two, and the lines' two
        logs: dict[str, Any] = {}
        try:
            if outcome.resumed_from == outcome.resumed_from_step == 0:  # a resumed run's callbacks carry their state on
                self.hooks.on_train_begin(logs)
            with self.plan.activate() as self.flushes_denormals:
                logs = self._epochs(outcome, epochs, images, labels, val)
            if outcome.status in ("finished", "diverged"):
                # A diverged run ends the way Keras's TerminateOnNaN ends fit, with on_train_end:
                # EarlyStopping(restore_best_weights) hands back its best epoch instead of NaNs.
                self._end(outcome, logs)
        finally:
            self.hooks.close()  # the progress bar ends, even on Ctrl-C or an error
        return outcome

    def _end(self, outcome: FitOutcome, logs: dict[str, Any]) -> None:
        """The callbacks' ``on_train_end``. A Ctrl-C there (a slow one, EarlyStopping's restore) ends
        the run ``interrupted`` with its epochs, as one inside an epoch does, not as a run that
        never trained (helper-98: its history was lost)."""
        try:
            self.hooks.on_train_end(logs)
        except KeyboardInterrupt:
            n = self.epochs_done
            outcome.status = "interrupted"
            outcome.message = (f"interrupted {STOPPED_BY} after {n} complete epoch{'s' * (n != 1)}, as training ended "
                               "(its callbacks' on_train_end, such as EarlyStopping's restore, may not have finished)")

    def _epochs(self, outcome: FitOutcome, epochs: int, images: torch.Tensor, labels: torch.Tensor,
                val: tuple[torch.Tensor, torch.Tensor] | None) -> dict[str, Any]:
        """The epoch loop of :meth:`fit`; sets ``outcome``'s status; returns the last epoch's logs."""
        logs: dict[str, Any] = {}
        try:
            while self.epochs_done < epochs and not self.stop_training:
                if self.interrupt is not None and self.interrupt():  # a stop asked for as the last epoch ended
                    raise KeyboardInterrupt
                if self.plan.follow_hooks(self.model):  # a callback hooked the model: no fast path may skip it
                    self.compute_gradients = self._gradients()
                self._penalty_paid = [0.0, 0]  # the epoch's weight penalties (summed over its images), images
                entry = self.run_epoch(self.epochs_done, epochs, images, labels, val)
                if entry is None:
                    outcome.status, outcome.message = "diverged", self._divergence_hint
                    break
                self._record(entry)
                logs = {k: v for k, v in entry.items() if k != "epoch"}  # what on_train_end sees, as in Keras
                # The fit ends here: an older checkpoint of it (this fit's, or the one it resumed) is replaced.
                if (target := self._checkpoint_to) is not None:
                    last = (self.epochs_done == epochs or self.stop_training) and target.path.exists()
                    since = time.monotonic() - self._last_checkpoint  # the period, or sooner where cheap
                    if last or since >= self._checkpoint_every or since * CHEAP_CHECKPOINT >= self._checkpoint_cost:
                        self._write_checkpoint(target)
                if (why := blow_up(self._judged(), self._classes, self.optimizer_name)) is not None:  # far past chance
                    outcome.status, outcome.message = "diverged", why + (PENALTY_HINT if self.penalised else "")
                    break
                self._say_penalty_dominates()
        except KeyboardInterrupt:
            outcome.status = "interrupted"
            n = self.epochs_done
            outcome.message = f"interrupted {STOPPED_BY} " + (f"after {n} complete epoch{'s' * (n != 1)}" if n else
                                                             "in epoch 1, before it completed")
        return logs

    def run_epoch(self, epoch: int, epochs: int, images: torch.Tensor, labels: torch.Tensor,
                  val: tuple[torch.Tensor, torch.Tensor] | None) -> dict[str, Any] | None:
        """One epoch: shuffled batches, then validation and the epoch-end callbacks. None = diverged."""
        n, bs = len(images), self.batch_size
        steps = math.ceil(n / bs)
        hooks, batch_hooks = self.hooks, self.hooks.wants_batch_hooks
        meter = self.plan.meter(images.device)
        first, before = self._continue_epoch(meter)  # 0, 0.0, or a mid-epoch checkpoint's batches and seconds
        hooks.on_epoch_begin(epoch, {"resumed_after_batch": first, "seconds_before_resume": before} if first else {})
        lr = self.base_lr  # after the callbacks: a scheduler or SWA sets the epoch's rate in on_epoch_begin
        self.model.train()
        start = time.perf_counter() - before
        # One gather per epoch, then each batch is a contiguous slice: the same batches as indexing
        # with order[i:j] every step, minus two small index ops per step (the dataset stays uint8).
        self._epoch_shuffle = self.shuffle_gen.get_state()  # a mid-epoch checkpoint draws this order again
        order = torch.randperm(n, generator=self.shuffle_gen).to(images.device)
        shuffled_x, shuffled_y = images[order], labels[order]
        for step in range(first, steps):
            if self.schedule is not None:
                lr = schedule_lr(self.schedule, self.base_lr, epoch + step / steps, epochs, steps)
                set_lr(self.optimizer, lr)
            xb, yb = shuffled_x[step * bs : (step + 1) * bs], shuffled_y[step * bs : (step + 1) * bs]
            if batch_hooks:
                hooks.on_batch_begin(step, {"batch": step, "size": len(yb)})
            loss, hits = self.train_step(xb, yb)
            value = meter.add(loss, hits, len(yb), read=batch_hooks)  # None: left on the device (GPU)
            if value is not None and not math.isfinite(value):
                self._diverged(value, f"at epoch {epoch + 1}, batch {step + 1}", lr, first=epoch == step == 0)
                return None
            if batch_hooks:
                hooks.on_batch_end(step, {"loss": value, "batch": step, "size": len(yb)})
                if self.stop_training:  # Keras stops right after the batch; the epoch ends early
                    break
            self._checkpoint_inside(step + 1, steps, meter, start)  # once checkpoint_every seconds (> 0) are up
        del shuffled_x, shuffled_y
        epoch_loss, accuracy = meter.totals()  # on a GPU, the epoch's one wait for the device
        if not math.isfinite(epoch_loss):
            self._diverged(epoch_loss, f"during epoch {epoch + 1}", lr)
            return None
        train_seconds = time.perf_counter() - start
        logs: dict[str, Any] = {"loss": epoch_loss, "accuracy": accuracy}
        if val is not None and len(val[0]):
            hooks.on_test_begin({})  # Keras's hooks around validation (SwapEMAWeights swaps the average in)
            logs["val_loss"], logs["val_accuracy"] = self.evaluate(*val)
            hooks.on_test_end({"loss": logs["val_loss"], "accuracy": logs["val_accuracy"]})  # as Keras 3's, unprefixed
        # the rate the epoch's last batch ran at, as the optimizer holds it: a schedule's, or one a callback set
        # (self.model.lr, or torch's param_groups[0]["lr"]) during the epoch (helper-251: the epoch's first was logged)
        logs["lr"] = float(self.optimizer.param_groups[0]["lr"])
        try:
            hooks.on_epoch_end(epoch, logs)
        except BaseException:  # a callback's error, or a Ctrl-C there: the epoch has trained, its figures stand
            self._record(self._entry(epoch, logs, start, meter.seen / train_seconds))
            raise
        return self._entry(epoch, logs, start, meter.seen / train_seconds)

    @staticmethod
    def _entry(epoch: int, logs: dict[str, Any], start: float, speed: float) -> dict[str, Any]:
        """A history entry: the 1-based ``epoch``, the callbacks' ``logs``, the seconds since ``start``
        (a ``time.perf_counter()`` reading) and ``speed`` in training images per second."""
        return {"epoch": epoch + 1, **logs, "epoch_seconds": time.perf_counter() - start, "images_per_second": speed}

    def _record(self, entry: dict[str, Any]) -> None:
        """Count a trained epoch: its history ``entry``, and the mean weight penalty it paid."""
        self.history.append(entry)
        paid, seen = self._penalty_paid
        self._penalty_means += [None] * (len(self.history) - 1 - len(self._penalty_means))  # a resume's epochs
        self._penalty_means.append(float(paid) / seen if seen else None)
        self.epochs_done += 1

    def _continue_epoch(self, meter: EpochMeter) -> tuple[int, float]:
        """After a mid-epoch checkpoint was loaded: its epoch sums into ``meter``, and how many
        batches it had done (the epoch goes on after them) in how many seconds; (0, 0.0) otherwise."""
        partial, self._resume_in_epoch = self._resume_in_epoch, None
        if partial is None:
            return 0, 0.0
        meter.load_state_dict(partial["meter"])
        return int(partial["steps"]), float(partial.get("seconds", 0.0))

    def _checkpoint_inside(self, done: int, steps: int, meter: EpochMeter, start: float) -> None:
        """A checkpoint after batch ``done`` of ``steps`` (the epoch began at ``start``, perf_counter
        seconds) when it is inside the epoch (its end writes its own), fit was given a checkpoint
        file and a period above 0, that many seconds have passed since the last one, no callback
        asked to stop and the epoch's loss is finite (a GPU reads it only here and at the end)."""
        target = self._checkpoint_to
        if (target is None or done >= steps or self._checkpoint_every <= 0 or self.stop_training
                or time.monotonic() - self._last_checkpoint < self._checkpoint_every):
            return
        sums = meter.state_dict()
        if math.isfinite(sums["loss_sum"]):  # a NaN never replaces the last good checkpoint
            self._write_checkpoint(target, partial=(done, sums, time.perf_counter() - start))

    def _diverged(self, loss: float, where: str, lr: float, first: bool = False) -> None:
        """Note why the run diverged (a non-finite ``loss`` ``where``; ``first``: at the run's first
        step, before any update); run_epoch then returns None."""
        if self.penalised and first:  # the starting weights' loss: no update, so no learning rate, has acted yet
            self._divergence_hint = (f"loss became {loss} {where}, before any update: a weight penalty too strong "
                                     "(kernel_regularizer, bias_regularizer: the loss includes it): lower its factors")
        else:
            self._divergence_hint = divergence_hint(loss, where, lr, self.optimizer_name) + (PENALTY_HINT if self.penalised
                                                                                             else "")

    def train_step(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimisation step on a uint8 batch (B, H, W). Returns the mean loss (float32) and the
        number of correct predictions (int64) as 0-d tensors on the device: reading them waits for
        the step, which on a GPU is the caller's choice (:class:`~mnistlab.accel.meter.EpochMeter`)."""
        x = self.plan.inputs(xb)
        if self.augmenter is not None:
            x = self.plan.relayout(self.augmenter(x))
        loss, logits = self.compute_gradients(x, yb)
        self.optimizer.step()
        return loss.detach(), (logits.detach().argmax(1) == yb).sum()

    def _gradients(self) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """The step computing ``(loss, logits)`` and the gradients: the plan's (a hand-written dense
        step where it applies), or autograd's where classes are weighted (the dense step's loss is
        the plain mean)."""
        return self.autograd_step if self.class_weight is not None else self.plan.gradients(self.autograd_step,
                                                                                            self.label_smoothing)

    def autograd_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean cross-entropy (plus the weight penalties, as Keras adds them) and logits of a float
        batch; sets every parameter's ``.grad`` (autograd). With ``class_weight``, each image's
        cross-entropy times its class's weight, their mean over the batch's images (Keras's
        ``class_weight`` as sample weights, reduced by ``sum_over_batch_size``: not divided by the
        weights' sum, as torch's ``cross_entropy(weight=...)`` would)."""
        logits = self.plan.forward(x)
        if self.class_weight is None:
            loss = F.cross_entropy(logits.float(), y, label_smoothing=self.label_smoothing)
        else:
            each = F.cross_entropy(logits.float(), y, label_smoothing=self.label_smoothing, reduction="none")
            loss = (each * self.class_weight[y]).mean()
        if self.penalised and (penalty := regularization_loss(self.model)) is not None:  # Keras's model.losses,
            loss = loss + penalty  # in the loss it trains on and reports
            paid = self._penalty_paid  # ... and kept aside, so that a blow-up is judged without it (_judged)
            paid[0], paid[1] = paid[0] + penalty.detach().double() * len(y), paid[1] + len(y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        return loss, logits

    def _say_penalty_dominates(self) -> None:
        """A :class:`~mnistlab.errors.TrainingWarning`, once per trainer, when the last epoch's weight
        penalties are most of its loss and its accuracy is at chance: the model learns to shrink
        its weights, not to classify (not a blow-up: its cross-entropy is not far past chance)."""
        penalty, last = self._penalty_means[-1] if self._penalty_means else None, self.history[-1]
        if penalty is None or self._said_penalty or not (
                penalty > float(last["loss"]) / 2 and float(last["accuracy"]) <= 1.5 / self._classes):
            return
        self._said_penalty = True
        warnings.warn(f"epoch {len(self.history)}: the weight penalties are {penalty:.3g} of the loss {float(last['loss']):.3g} "
                      f"and accuracy is at chance ({float(last['accuracy']):.1%}): the penalty (kernel_regularizer, "
                      "bias_regularizer) is probably too strong; lower its factors", TrainingWarning, stacklevel=user_level())

    def _judged(self) -> list[dict[str, Any]]:
        """The history :func:`~mnistlab.evaluate.blow_up` judges: a penalised model's epochs with
        their weight penalties' mean taken out of the loss (where seen: not a resumed run's earlier
        epochs), so that a strong penalty (a loss large from the first step, and falling) is not
        called a learning rate blown up; the cross-entropy alone is what a too-large step throws
        far past chance."""
        if not self.penalised:
            return self.history
        return [h if p is None else {**h, "loss": float(h["loss"]) - p} for h, p in zip(self.history, self._penalty_means)]

    def evaluate(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
        """Mean loss and accuracy on uint8 images, with the plan's forward; the model is left in eval mode."""
        loss, acc, _ = evaluate_model(self.model, images, labels, label_smoothing=self.label_smoothing,
                                      channels_last=self.plan.channels_last, forward=self.plan.forward)
        return loss, acc

    # --------------------------------------------------------------------------- checkpoints
    def state_dict(self, partial: tuple[int, dict[str, Any], float] | None = None) -> dict[str, Any]:
        """Everything needed to continue exactly: plain types and tensors only (weights_only-safe).
        ``partial``: written inside an epoch, after that many of its batches, with its sums so far
        (:meth:`~mnistlab.accel.meter.EpochMeter.state_dict`) and seconds."""
        return {
            "format": CHECKPOINT_FORMAT if partial is None else CHECKPOINT_FORMAT_INSIDE_EPOCH,
            "epochs_done": self.epochs_done,
            "stop_training": self.stop_training,
            "base_lr": self.base_lr,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "callbacks": [{"class": type(cb).__name__, "state": cb.state_dict()} for cb in self.callbacks],
            "rng": {
                "torch": torch.get_rng_state(),
                # inside an epoch: the state its order was drawn from, to draw it again
                "shuffle": self._epoch_shuffle if partial else self.shuffle_gen.get_state(),
                "augment": self.augmenter.state_dict()["generator"] if self.augmenter else None,
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
            "history": self.history,
            "partial_epoch": None if partial is None else {"steps": partial[0], "meter": partial[1], "seconds": partial[2]},
            # What a resume must match to end exactly like an uninterrupted run (checked in fit).
            "threads": self.plan.threads or torch.get_num_threads(),  # the chosen count, not the load's
            "thread_changes": self.thread_changes(),  # (a resume's record says them: helper-206)
            "threads_policy": self.plan.threads_policy,  # "fixed": a resume keeps the count (checkpoint_threads)
            "epochs": self._target_epochs,
            "native_kernel": self.plan.native_kernel,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`'s output: weights, optimizer, callbacks, RNGs, history."""
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
        self._resume_in_epoch = state.get("partial_epoch")  # None: written at an epoch's end (or before 0.4)
        self._earlier_thread_changes = [c for c in state.get("thread_changes") or () if isinstance(c, dict)]
        self._resumed_from = {"threads": state.get("threads"), "epochs": state.get("epochs"), "run_id": state.get("run_id"),
                              # mnistlab before 0.3.0 had no native kernel and wrote no such key
                              "native_kernel": state.get("native_kernel", "off: mnistlab before 0.3.0")}

    def _write_checkpoint(self, target: CheckpointTarget, partial: tuple[int, dict[str, Any], float] | None = None) -> None:
        """:meth:`save_checkpoint` at an epoch's end (or inside one: ``partial``); one that cannot be
        written (a full disk, a quota) is said once and training goes on: a resume point is never
        worth failing a run for. A stop signal during the write comes after it and after ``outcome``
        says what the file holds (what a stopped run records as where its next run continues)."""
        outcome = target.outcome
        with stop_signals_held():
            began = time.monotonic()
            try:
                self.save_checkpoint(target.path, target.key, partial, target.key_config, target.run_id)
            except (OSError, RuntimeError) as exc:  # torch.save reports a full disk as a RuntimeError
                self._unwritable_checkpoint(target.path, exc, outcome)
                return
            self._last_checkpoint, outcome.checkpointed, self._unwritable = time.monotonic(), self.epochs_done, False
            self._checkpoint_cost = self._last_checkpoint - began
            outcome.checkpointed_step = partial[0] if partial else 0

    def _unwritable_checkpoint(self, path: Path, exc: BaseException, outcome: FitOutcome) -> None:
        """Say once that checkpoints cannot be written, and try again after another period."""
        if not self._unwritable:
            in_way = next((p for p in path.parents if os.path.lexists(p)), None)  # never raises
            why = (f"{in_way} is a file, not a folder" if in_way is not None and not os.path.isdir(in_way)
                   else getattr(exc, "strerror", None) or _full_disk(in_way) or " ".join(str(exc).split())[:160])
            step = f", batch {outcome.checkpointed_step + 1}" if outcome.checkpointed_step else ""
            then = (f"continue from epoch {(outcome.checkpointed or 0) + 1}{step}" if outcome.checkpointed or step else
                    "train from the first epoch: none was written yet")  # (helper-189: "continue from epoch 1")
            warnings.warn(f"{path}: cannot write the checkpoint ({why}); training goes on (a stop now would {then})",
                          TrainingWarning, stacklevel=user_level())
        self._unwritable = True
        self._last_checkpoint = time.monotonic()  # the next try after another period, not after every batch
        self._checkpoint_cost = math.inf  # ... nor at each epoch's end as a cheap one

    def save_checkpoint(self, path: Path, config_key: str = "",
                        partial: tuple[int, dict[str, Any], float] | None = None, key_config: str = "",
                        run_id: str = "") -> None:
        """Write atomically (temp file + rename), so a crash never leaves half a checkpoint; a
        failed or interrupted write (a full disk, Ctrl-C) leaves no temp file either. The file keeps
        ``config_key`` and ``key_config`` (what the key hashes) for :meth:`load_checkpoint`, and the
        recorded run writing it (``run_id``)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {**self.state_dict(partial), "config_key": config_key, "config": key_config, "mnistlab": __version__,
                 "run_id": run_id}
        write_atomic(path, lambda tmp: torch.save(state, tmp), through=False)  # (never through a link: helper-188)
        drop_stale_temporaries(path)  # a killed writer's half-written copy, left beside it

    def load_checkpoint(self, path: Path, config_key: str = "", key_config: str = "") -> None:
        """Load a checkpoint written by :meth:`save_checkpoint`; CheckpointError if it is unreadable,
        not mnistlab's, of another run config (``config_key``: the settings that changed are named
        when ``key_config`` is given) or of another model."""
        state = read_checkpoint(path, config_key, key_config)
        done, history = state.get("epochs_done"), state.get("history")
        if not (isinstance(done, int) and isinstance(history, list) and 0 <= done == len(history)):
            raise CheckpointError(f"{path}: damaged checkpoint: it says {done!r} epochs done but holds the "
                                  f"history of {len(history) if isinstance(history, list) else 'no'} epochs")
        if not _partial_ok(state.get("partial_epoch")):
            raise CheckpointError(f"{path}: damaged checkpoint: its position inside an epoch is not a count of "
                                  "batches with the epoch's sums")
        try:
            self.load_state_dict(state)
        except KeyError as exc:
            raise CheckpointError(f"{path}: damaged checkpoint: {exc} is missing") from None
        except (RuntimeError, ValueError, TypeError, AttributeError) as exc:
            why = " ".join(str(exc).split())[:160].rstrip(".")  # torch's message spans lines
            raise CheckpointError(f"{path}: the checkpoint does not match this model: {why}") from None

    def thread_changes(self) -> list[dict[str, Any]]:
        """Every change of this run's CPU thread count, in order: a resumed run's before it (and at
        the resume, ``"at": "resume"``, where the checkpoint was written with another count), then the
        load's (:class:`~mnistlab.accel.threads.ThreadGovernor`). What ``env.thread_changes`` records:
        a run with any is not repeated exactly (helper-206: a resume on 1 thread of a run begun on 2
        recorded none, and ``deterministic: true``)."""
        governor = self.plan.governor
        return [*self._earlier_thread_changes, *(governor.changes if governor is not None else ())]

    def _warn_if_resume_differs(self, epochs: int) -> None:
        """Settings outside the config key that make a resumed run differ from an uninterrupted one."""
        saved = self._resumed_from
        threads = self.plan.threads or torch.get_num_threads()
        if self.plan.device.type == "cpu" and saved.get("threads") not in (None, threads):
            warnings.warn(f"the checkpoint was written with {saved['threads']} CPU thread(s) and this run uses "
                          f"{threads}: it continues, but its numbers will differ from an uninterrupted run's "
                          f"(sums are added in another order; set train.threads = {saved['threads']} to match)",
                          TrainingWarning, stacklevel=user_level())
            step = (self._resume_in_epoch or {}).get("steps", 0)
            self._earlier_thread_changes.append({"epoch": self.epochs_done + 1, "step": step + 1, "threads": threads,
                                                 "others": None, "from": saved["threads"], "at": "resume"})
        if getattr(self.schedule, "type", None) in ("cosine", "onecycle") and saved.get("epochs") not in (None, epochs):
            warnings.warn(f"the learning-rate schedule spans the run's epochs: resuming with {epochs} instead of "
                          f"{saved['epochs']} reshapes it from epoch {self.epochs_done + 1} on", TrainingWarning,
                          stacklevel=user_level())
        was, now = saved.get("native_kernel"), self.plan.native_kernel
        if was is not None and now != "not applicable" and (was == "on") != (now == "on"):
            warnings.warn(f"the checkpoint was trained {'with' if was == 'on' else 'without'} mnistlab's native "
                          f"kernel and this run {'uses' if now == 'on' else 'does not use'} it ({now}): it continues, "
                          f"but its numbers will differ from an uninterrupted run", TrainingWarning, stacklevel=user_level())


def unfinished_checkpoint(path: str | os.PathLike) -> str | None:
    """The run a checkpoint at ``path`` can still continue, in words (``"a run stopped after 2 of 4
    epochs"``), where it holds one that stopped before its epochs' end: what a run started afresh in
    its folder would write over (helper-206: a forgotten ``--resume`` lost it, unsaid). None for no
    file, one that cannot be read (loading it proper says why) or one at its run's end (its epochs
    done, or a callback's stop: EarlyStopping)."""
    try:
        if not Path(path).is_file():
            return None
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        done, epochs, partial = state.get("epochs_done"), state.get("epochs"), state.get("partial_epoch")
        ended = bool(state.get("stop_training"))  # (EarlyStopping, a pruner: its run is over, review)
    except Exception:  # noqa: BLE001  # truncated or foreign: nothing a run could continue
        return None
    if ended or not (type(done) is int and type(epochs) is int and (done < epochs or partial)):
        return None
    steps = partial.get("steps") if isinstance(partial, dict) else None
    inside = f" and {steps} batches of the next" if type(steps) is int and steps else ""
    return f"a run stopped after {done} of {epochs} epochs{inside}"


def checkpoint_threads(path: str | os.PathLike) -> int | None:
    """The thread count the checkpoint at ``path`` was trained with, when it was fixed (a sweep
    worker's share of the cores, or ``train.threads``) and this machine has that many cores; None
    otherwise: no readable checkpoint there (loading it proper says why), a count mnistlab chose
    from the model's size and the load, or one from an older mnistlab that did not say. A resumed run that
    trains with this count ends on exactly the numbers of an uninterrupted run."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        threads, policy = state.get("threads"), state.get("threads_policy")
    except Exception:  # noqa: BLE001  # missing, truncated or foreign: Trainer.load_checkpoint reports it
        return None
    fits = type(threads) is int and 0 < threads <= (os.cpu_count() or 1)
    return threads if policy == "fixed" and fits else None


def fit(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, *, epochs: int = 1,
        val: tuple[torch.Tensor, torch.Tensor] | None = None, **kwargs: Any) -> FitOutcome:
    """Train ``model`` in place on uint8 images; ``kwargs`` are :class:`Trainer` options."""
    return Trainer(model, **kwargs).fit(images, labels, epochs=epochs, val=val)


def _full_disk(folder: Path | None) -> str | None:
    """"No space left on device (12 KB free)" where the disk holding ``folder`` has less than 1 MiB
    free: torch.save says a full disk in its own words ("enforce fail at inline_container.cc ...
    unexpected pos", helper-189); None otherwise, or where it cannot be asked."""
    try:
        free = shutil.disk_usage(folder).free if folder is not None else None
    except OSError:
        return None
    return f"No space left on device ({free // 1024:,} KB free)" if free is not None and free < 2**20 else None
