"""Weight averaging: Keras's optimizer EMA (``train.use_ema``), ``SwapEMAWeights``, and SWA (``train.swa``).

A Keras 3 optimizer built with ``use_ema=True`` keeps an exponential moving average of every
trainable variable, updated after each step (``keras/src/optimizers/base_optimizer.py``)::

    momentum = 0 on the first step, else ema_momentum
    average  = momentum * average + (1 - momentum) * variable

With ``ema_overwrite_frequency = k`` the variables are replaced by their average after every k-th
step, and ``fit`` ends with ``finalize_variable_values``, which writes the average into the
variables (before the callbacks' ``on_train_end``, so EarlyStopping's restored best weights win).
:class:`ExponentialMovingAverage` computes the same numbers (tests/data/keras_ema.json holds
Keras's, recorded by bench/keras_ema.py) as a callback that the run puts first in its list; the
average is updated by a step hook on the trainer's optimizer, so it costs nothing per batch in the
loop itself (the lean fused Adam step of :mod:`mnistlab.accel.fused_adam` steps aside for torch's
hooked step while a hook is registered: about 6% of a dense model's CPU step, nothing on a GPU).

Only trainable parameters are averaged, as in Keras: BatchNormalization's moving mean and
variance (buffers, Keras's non-trainable variables) stay as training left them, which matches
the averaged weights only approximately. Validation during training sees the raw weights unless
a :class:`SwapEMAWeights` callback swaps the average in around it (Keras's callback of that name).

Where mnistlab differs from Keras: with ``SwapEMAWeights(swap_on_epoch=True)`` a fit that stops
before its last epoch (EarlyStopping) ends with the averaged weights here; Keras then leaves the raw
weights in the model (its callback only prepares the finalisation on the last epoch).

Stochastic weight averaging (Izmailov et al. 2018, "Averaging Weights Leads to Wider Optima and
Better Generalization") has no Keras name: :class:`StochasticWeightAveraging` (``train.swa``) averages
the weights each epoch ends with from ``start_epoch`` on, with torch's
``torch.optim.swa_utils.AveragedModel`` (an equal-weight running mean), optionally at a constant
learning rate from then on, writes the average into the model when training ends, and
:func:`recompute_bn` then recomputes BatchNormalization's statistics for the averaged weights with
``torch.optim.swa_utils.update_bn`` over the training images (as torch's SWA recipe does).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from torch.optim.swa_utils import AveragedModel, update_bn

from mnistlab.callbacks import Callback, Logs
from mnistlab.errors import SpecError

__all__ = ["ExponentialMovingAverage", "StochasticWeightAveraging", "SwapEMAWeights", "find_ema", "recompute_bn"]


class ExponentialMovingAverage(Callback):
    """Keras's optimizer EMA (``use_ema=True``) as a callback; put it first in the trainer's list.

    ``momentum``: Keras's ``ema_momentum`` in [0, 1] (default 0.99); ``overwrite_frequency``:
    Keras's ``ema_overwrite_frequency``, None or an int >= 1. Raises ValueError otherwise. On
    :meth:`set_trainer` it hooks the trainer's optimizer (``trainer.optimizer``): every
    ``optimizer.step()`` then updates :attr:`average` (one tensor per trainable parameter, same
    shape, dtype and device). ``on_train_end`` writes the average into the weights.
    Use it without a trainer with :meth:`attach`.
    """

    def __init__(self, momentum: float = 0.99, overwrite_frequency: int | None = None) -> None:
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"ema_momentum must be in [0, 1], got {momentum}")
        if overwrite_frequency is not None and (not isinstance(overwrite_frequency, int) or overwrite_frequency < 1):
            raise ValueError(f"ema_overwrite_frequency must be None or an int >= 1, got {overwrite_frequency!r}")
        self.momentum, self.overwrite_frequency = float(momentum), overwrite_frequency
        self.average: list[torch.Tensor] | None = None  # created on the first step, as Keras's build
        self.iterations = 0  # optimizer steps seen (Keras's optimizer.iterations)
        self.ema_in_model = False  # True while SwapEMAWeights has the average in the model
        self._params: list[torch.nn.Parameter] = []
        self._handle: Any = None

    def set_trainer(self, trainer: Any) -> None:
        super().set_trainer(trainer)
        optimizer = getattr(trainer, "optimizer", None)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError("ExponentialMovingAverage needs a trainer with a torch optimizer (trainer.optimizer)")
        self.attach(trainer.model, optimizer)

    def attach(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """Average ``model``'s trainable parameters after each ``optimizer.step()`` (replaces an earlier hook)."""
        self.close()
        self._params = [p for p in model.parameters() if p.requires_grad]
        self._handle = optimizer.register_step_post_hook(lambda *_: self.update())

    @torch.no_grad()
    def update(self) -> None:
        """One step of the average, then Keras's overwrite when the step count is a multiple of
        ``overwrite_frequency``. Coefficients are float32, as Keras computes them."""
        if self.average is None:
            self.average = [torch.zeros_like(p) for p in self._params]
        keep = np.float32(self.momentum if self.iterations else 0.0)
        take = np.float32(1.0) - keep
        for avg, p in zip(self.average, self._params):
            avg.mul_(float(keep)).add_(p * float(take))
        if self.overwrite_frequency and (self.iterations + 1) % self.overwrite_frequency == 0:
            self._copy_average_into_model()
        self.iterations += 1

    @torch.no_grad()
    def _copy_average_into_model(self) -> None:
        for avg, p in zip(self.average or [], self._params):
            p.copy_(avg)

    @torch.no_grad()
    def swap(self) -> None:
        """Exchange the model's weights and the average (SwapEMAWeights); a no-op before the first step."""
        for avg, p in zip(self.average or [], self._params):
            raw = p.detach().clone()
            p.copy_(avg)
            avg.copy_(raw)
        if self.average is not None:
            self.ema_in_model = not self.ema_in_model

    def finalize(self) -> None:
        """Keras's ``finalize_variable_values``: the model ends with the averaged weights."""
        if self.average is not None and not self.ema_in_model:
            self._copy_average_into_model()

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._attached()

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._attached()  # a fit resumed from a checkpoint sees no on_train_begin

    def _attached(self) -> None:
        """The step hook again where a fit's end removed it (:meth:`close`): a second ``fit`` (Keras's
        fit called again) goes on averaging over its steps."""
        if self._handle is None and getattr(self, "trainer", None) is not None:
            self.set_trainer(self.trainer)

    def on_train_end(self, logs: Logs | None = None) -> None:
        self.finalize()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def state_dict(self) -> dict[str, Any]:
        return {"average": self.average, "iterations": self.iterations, "ema_in_model": self.ema_in_model}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        average = state["average"]
        if average is not None:
            average = [a.to(p.device) for a, p in zip(average, self._params)] if self._params else list(average)
        self.average, self.iterations = average, int(state["iterations"])
        self.ema_in_model = bool(state["ema_in_model"])


def find_ema(trainer: Any) -> ExponentialMovingAverage:
    """The trainer's :class:`ExponentialMovingAverage` callback; SpecError when it has none."""
    for cb in getattr(trainer, "callbacks", []):
        if isinstance(cb, ExponentialMovingAverage):
            return cb
    raise SpecError("SwapEMAWeights needs an optimizer EMA: set train.use_ema = true")


class SwapEMAWeights(Callback):
    """Keras's ``SwapEMAWeights``: validation sees the averaged weights, training the raw ones.

    The average is swapped into the model for each validation pass (``on_test_begin``) and out
    after it; with ``swap_on_epoch`` it is also swapped in at each epoch's end and out at the next
    epoch's start, so that callbacks after this one (EarlyStopping, ModelCheckpoint) see and keep
    the averaged weights. Needs ``train.use_ema`` (SpecError at the start of training otherwise).
    """

    def __init__(self, swap_on_epoch: bool = False) -> None:
        self.swap_on_epoch = swap_on_epoch

    def on_train_begin(self, logs: Logs | None = None) -> None:
        find_ema(self.trainer)

    def on_test_begin(self, logs: Logs | None = None) -> None:
        ema = find_ema(self.trainer)
        if not ema.ema_in_model:
            ema.swap()

    def on_test_end(self, logs: Logs | None = None) -> None:
        ema = find_ema(self.trainer)
        if ema.ema_in_model:
            ema.swap()

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        ema = find_ema(self.trainer)
        if self.swap_on_epoch and ema.ema_in_model:
            ema.swap()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        ema = find_ema(self.trainer)
        if self.swap_on_epoch and not ema.ema_in_model:
            ema.swap()


class StochasticWeightAveraging(Callback):
    """SWA (``train.swa``): the equal-weight mean of the weights at the end of every epoch from
    ``start_epoch`` (counting from 1) on, written into the model by ``on_train_end``.

    ``lr``: the base learning rate from ``start_epoch`` on (None: the run's own goes on); the run's
    config refuses it together with a schedule, which would scale it. BatchNormalization's statistics
    are left for :func:`recompute_bn`, which needs the training images. :attr:`averaged` counts the
    epochs averaged so far. ValueError for a ``start_epoch`` < 1 or an ``lr`` <= 0.
    """

    def __init__(self, start_epoch: int, lr: float | None = None) -> None:
        if start_epoch < 1 or (lr is not None and lr <= 0):
            raise ValueError(f"swa needs start_epoch >= 1 and lr > 0 (or None), got {start_epoch} and {lr}")
        self.start_epoch, self.swa_lr = int(start_epoch), lr
        self.swa: AveragedModel | None = None  # made at the first averaged epoch (a copy of the model)

    @property
    def averaged(self) -> int:
        """How many epochs' weights the average holds."""
        return 0 if self.swa is None else int(self.swa.n_averaged)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        if self.swa_lr is not None and epoch + 1 >= self.start_epoch:
            self.trainer.lr = self.swa_lr

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if epoch + 1 >= self.start_epoch:
            if self.swa is None:
                self.swa = AveragedModel(self.trainer.model)
            self.swa.update_parameters(self.trainer.model)

    @torch.no_grad()
    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.swa is not None:
            for avg, p in zip(self.swa.module.parameters(), self.trainer.model.parameters()):
                p.copy_(avg)

    def state_dict(self) -> dict[str, Any]:
        return {"swa": None if self.swa is None else self.swa.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.swa = None
        if state["swa"] is not None:
            self.swa = AveragedModel(self.trainer.model)
            self.swa.load_state_dict(state["swa"])


def recompute_bn(model: torch.nn.Module, images: torch.Tensor, inputs: Any, batch_size: int = 250) -> bool:
    """BatchNormalization's running statistics recomputed for ``model``'s weights as they are, over the
    uint8 training ``images`` (N, H, W) without augmentation, in batches of ``batch_size``, a last
    batch of one image left out (``torch.optim.swa_utils.update_bn``: an equal-weight mean over the
    batches of each batch's statistics, the variance biased as Keras's in mnistlab's layers,
    :class:`~mnistlab.models.BatchNorm2d`). ``inputs`` turns a uint8 batch into the model's input
    (a plan's ``inputs``). False, and nothing done, without BN."""
    if not any(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) for m in model.modules()):
        return False
    # a last batch of one image has a variance of 0, which an equal weight would average in (helper-144)
    starts = [i for i in range(0, len(images), batch_size) if len(images) - i >= 2]
    with torch.no_grad():  # update_bn only runs forward passes
        update_bn((inputs(images[i : i + batch_size]) for i in starts), model)
    model.eval()
    return True
