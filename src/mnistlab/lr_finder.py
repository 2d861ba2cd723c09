"""The learning-rate range test: which ``lr`` to train a model with, before training it.

Leslie Smith's test ("Cyclical Learning Rates for Training Neural Networks", 2017, section 3.3), as
fastai's ``lr_find`` and PyTorch Lightning's ``Tuner.lr_find`` run it: a fresh model trains for
``num_steps`` batches while the learning rate grows geometrically from ``start_lr`` to ``end_lr``;
the loss of each batch is smoothed (an exponential moving average, ``beta = 0.98``, bias-corrected),
and the test stops early once the smoothed loss passes ``4 x`` its lowest (Lightning's
``early_stop_threshold``). The suggestion is Lightning's: the rate where the smoothed loss falls
fastest (its steepest negative slope against log lr), leaving out the first 10 steps and the
last. Defaults are Lightning's (``min_lr = 1e-8``, ``max_lr = 1``, ``num_training = 100``).

Nothing is recorded: the model is thrown away. A config's ``train.schedule`` and callbacks are left
out (the ramp sets the rate at every batch), its averages of the weights (EMA, SWA) and its validation.

    >>> found = lr_find("mnist", "seed000-cnn", subset=6000)   # doctest: +SKIP
    >>> found.suggestion                                       # doctest: +SKIP
    0.0021
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mnistlab.callbacks import Callback, Logs
from mnistlab.config import RunConfig
from mnistlab.errors import SpecError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

START_LR, END_LR, NUM_STEPS = 1e-8, 1.0, 100  # Lightning's lr_find defaults (min_lr, max_lr, num_training)
BETA = 0.98  # the loss's smoothing (fastai's and Lightning's)
DIVERGED = 4.0  # the smoothed loss past this many times its lowest: stop (Lightning's early_stop_threshold)
SKIP_BEGIN, SKIP_END = 10, 1  # the steps the suggestion leaves out (Lightning's suggestion(skip_begin, skip_end))


@dataclass
class LRFinderResult:
    """What :func:`lr_find` measured: ``lrs[i]`` the rate of step ``i``, ``losses[i]`` its batch's
    loss (cross-entropy, nats) and ``smoothed[i]`` their bias-corrected moving average;
    ``suggestion`` the rate of the steepest fall of ``smoothed`` (None where there are too few steps:
    fewer than ``SKIP_BEGIN + SKIP_END + 2``); ``stopped`` why the test ended before ``num_steps``
    ("" where it did not)."""

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    suggestion: float | None = None
    stopped: str = ""

    @property
    def lowest(self) -> float | None:
        """The rate at which the smoothed loss was lowest (fastai's old ``lr_min`` is a tenth of it)."""
        return self.lrs[int(np.argmin(self.smoothed))] if self.smoothed else None

    def plot(self) -> Figure:
        """The smoothed loss against the rate (log scale), the suggestion marked
        (:func:`mnistlab.plots.plot_lr_find`)."""
        from mnistlab.plots import plot_lr_find

        return plot_lr_find(self)

    def __repr__(self) -> str:
        """``LRFinderResult(suggestion=0.00209, lowest=0.0158, 100 steps)``: a notebook's last line
        (helper-211: 6,224 characters of every step's rate and loss; :meth:`to_dict` has them)."""
        def rate(v: float | None) -> str:
            return "None" if v is None else f"{v:.3g}"
        stopped = f", stopped: {self.stopped}" if self.stopped else ""
        return (f"LRFinderResult(suggestion={rate(self.suggestion)}, lowest={rate(self.lowest)}, "
                f"{len(self.lrs)} steps{stopped})")

    def to_dict(self) -> dict[str, Any]:
        """Plain data: the suggestion, the lowest-loss rate, why it stopped, and each step."""
        return {"suggestion": self.suggestion, "lowest": self.lowest, "stopped": self.stopped, "steps": len(self.lrs),
                "still_falling": still_falling(self), "lrs": self.lrs, "losses": self.losses, "smoothed": self.smoothed}


class LRRangeTest(Callback):
    """The callback that runs the test inside a fit: before each batch the rate of its step (geometric
    from ``start_lr`` to ``end_lr`` over ``num_steps``), after it the loss; stops the fit once
    ``num_steps`` are done or the smoothed loss passes ``DIVERGED`` times its lowest."""

    def __init__(self, start_lr: float, end_lr: float, num_steps: int) -> None:
        self.start_lr, self.end_lr, self.num_steps = start_lr, end_lr, num_steps
        self.result = LRFinderResult()
        self._average = 0.0

    def rate(self, step: int) -> float:
        """The learning rate of step ``step`` (0-based): ``start_lr * (end_lr / start_lr) ** (step / (num_steps - 1))``."""
        return self.start_lr * (self.end_lr / self.start_lr) ** (step / (self.num_steps - 1))

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self.model.lr = self.rate(len(self.result.lrs))  # (no schedule here: the optimizer's rate, set)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        found = self.result
        loss = float((logs or {}).get("loss", math.nan))
        found.lrs.append(self.rate(len(found.lrs)))
        found.losses.append(loss)
        self._average = BETA * self._average + (1 - BETA) * loss
        found.smoothed.append(self._average / (1 - BETA ** len(found.losses)))
        if len(found.lrs) >= self.num_steps:  # the last step: no early stop, whatever its loss (helper-198)
            self.model.stop_training = True
        elif not math.isfinite(found.smoothed[-1]) or found.smoothed[-1] > DIVERGED * min(found.smoothed):
            found.stopped = f"the smoothed loss passed {DIVERGED:g} x its lowest at lr {found.lrs[-1]:.3g}"
            self.model.stop_training = True


def suggested_lr(lrs: Sequence[float], smoothed: Sequence[float]) -> float | None:
    """The rate where ``smoothed`` falls fastest against log ``lrs`` (Lightning's ``suggestion()``: the
    least finite gradient, the first ``SKIP_BEGIN`` and last ``SKIP_END`` steps left out), among the
    steps up to the lowest smoothed loss: one deliberate difference, as a noisy curve (a few images,
    helper-200) can fall steeply again after it has blown up, where Lightning's then points; None
    where fewer than two steps remain."""
    lr = np.asarray(lrs[SKIP_BEGIN:len(lrs) - SKIP_END], dtype=np.float64)
    loss = np.asarray(smoothed[SKIP_BEGIN:len(smoothed) - SKIP_END], dtype=np.float64)
    if never_fell(smoothed):  # (helper-202: a rate after the lowest loss, which came first)
        return None
    if np.isfinite(loss).any():
        lowest = int(np.nanargmin(np.where(np.isfinite(loss), loss, np.nan)))
        lr, loss = lr[:lowest + 1], loss[:lowest + 1]
    keep = np.isfinite(loss)
    if keep.sum() < 2:
        return None
    slope = np.gradient(loss[keep], np.log(lr[keep]))
    return float(lr[keep][int(np.argmin(slope))])


def few_batches(images: int, batch_size: int, num_steps: int) -> None:
    """A DataWarning where the training images make fewer batches than half the test's steps: each
    batch comes back again and again, and the curve tells more of those images than of the data
    (helper-200: 36 images, a suggestion where the loss had blown up)."""
    batches = max(1, -(-images // batch_size))
    if 2 * batches < num_steps:
        from mnistlab.errors import DataWarning, user_level

        warnings.warn(f"lr-find: {images:,} training images make {batches} batch{'es' * (batches != 1)} of {batch_size}, "
                      f"each seen about {num_steps // batches} times in {num_steps} steps: the curve is noisy and tells "
                      "more of those images than of the data; use more images (or fewer steps: --steps, num_steps=)",
                      DataWarning,
                      stacklevel=user_level())


def never_fell(smoothed: Sequence[float]) -> bool:
    """Whether the smoothed loss was lowest in the first ``SKIP_BEGIN`` steps, which the suggestion
    leaves out: it never fell after them (a model already at a minimum for this data, one started
    from trained weights say, or a range that starts too high)."""
    loss = np.asarray(smoothed, dtype=np.float64)
    finite = np.isfinite(loss)
    return len(loss) > SKIP_BEGIN and bool(finite.any()) and int(np.nanargmin(np.where(finite, loss, np.nan))) < SKIP_BEGIN


def check_range(start_lr: float, end_lr: float, num_steps: int, *, flags: bool = False) -> None:
    """SpecError, one line, for a range :func:`lr_find` cannot test: rates not finite and above 0, an
    ``end_lr`` not above ``start_lr``, ``num_steps`` not an int from ``SKIP_BEGIN + SKIP_END + 2`` to
    100,000; ``flags``: said as `mnistlab lr-find`'s flags (``--start-lr``), not as arguments."""
    start, end, steps = ("--start-lr", "--end-lr", "--steps") if flags else ("start_lr", "end_lr", "num_steps")
    said = "lr-find" if flags else "lr_find()"
    for name, value in ((start, start_lr), (end, end_lr)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
            raise SpecError(f"{said}: {name} must be a rate above 0, got {value!r}")
    if end_lr <= start_lr:
        raise SpecError(f"{said}: {end} ({end_lr:g}) must be above {start} ({start_lr:g}): the rate grows from one to the other")
    least = SKIP_BEGIN + SKIP_END + 2
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or not least <= num_steps <= 100_000:
        raise SpecError(f"{said}: {steps} must be a whole number from {least} to 100000, got {num_steps!r}")


#: What the test leaves out of a config, in its words: the ramp sets the rate; an average of the weights
#: (EMA, SWA) would stand for other weights than those the rate moves (helper-197: EMA's overwrite moved the
#: suggestion from 0.1 to 0.46).
LEFT_OUT = "train.schedule, callbacks, use_ema and swa"


def left_out(cfg: RunConfig) -> bool:
    """Whether ``cfg`` sets any of what the test leaves out (:data:`LEFT_OUT`)."""
    return bool(cfg.train.schedule is not None or cfg.callbacks or cfg.train.use_ema or cfg.train.swa is not None)


def range_test_config(cfg: RunConfig, num_steps: int) -> RunConfig:
    """``cfg`` as the test trains it: none of :data:`LEFT_OUT`, no validation, and epochs enough for
    ``num_steps`` batches (one an epoch at least)."""
    train = cfg.train.model_copy(update={"schedule": None, "epochs": num_steps, "use_ema": False, "swa": None})
    return cfg.model_copy(update={"train": train, "callbacks": [], "data": cfg.data.model_copy(update={"validation": 0})})


def lr_find(dataset: Any = "mnist", model: Any = "seed000-cnn", *, start_lr: float = START_LR, end_lr: float = END_LR,
            num_steps: int = NUM_STEPS, data_dir: str | os.PathLike | None = None,
            config: RunConfig | str | os.PathLike | None = None, **overrides: Any) -> LRFinderResult:
    """Run the learning-rate range test (see the module) on ``dataset`` and ``model``, named as
    :func:`mnistlab.train` names them (arrays in memory too), with ``overrides`` (``optimizer="sgd"``,
    ``batch_size=32``, ``subset=6000``...); or on ``config`` alone, a :class:`~mnistlab.config.RunConfig`
    or a run config file's path (`mnistlab lr-find --config`). Either way :data:`LEFT_OUT` and validation
    are left out. Returns the rates, losses and suggestion; records nothing. SpecError (one line) for a range it cannot test, a
    bad setting or ``config`` given with other settings, DataError for missing data, before anything
    trains; :class:`RangeTestInterrupted` (a KeyboardInterrupt, as :func:`mnistlab.train`'s) where Ctrl-C
    stopped it, its ``found`` the steps so far."""
    from mnistlab.config import apply_overrides, build_run_config, parse_run_config
    from mnistlab.data.arrays import given_dataset, said_as_given, saved_if_given
    from mnistlab.initial_weights import given_weights
    from mnistlab.run import run_config

    check_range(start_lr, end_lr, num_steps)
    for key, why in (("epochs", f"the test runs num_steps= batches ({num_steps}), one rate each"),
                     ("lr", "the test ramps it from start_lr= to end_lr="),  # (helper-211: accepted unsaid)
                     ("callbacks", "its own callback sets the rate each batch, and it stops as the loss blows up")):
        if key in overrides:
            raise SpecError(f"lr_find(): {key} has no part in a range test: {why}")
    if config is None:
        dataset, data_dir = given_dataset(dataset, data_dir)
        dataset, overrides = saved_if_given(dataset, given_weights(overrides, source="lr_find()"), source="lr_find()")
        with said_as_given():
            config = parse_run_config(apply_overrides({"dataset": dataset, "model": model}, overrides,
                                                      source="lr_find()"), source="lr_find()")
    elif overrides or not (isinstance(dataset, str) and dataset == "mnist" and isinstance(model, str)
                           and model == "seed000-cnn"):  # (helper-197: they were dropped unsaid; arrays: no ==)
        raise SpecError("lr_find(config=...) takes its settings from the config: give the others in it, not beside it")
    elif not isinstance(config, RunConfig):  # a file, as --config takes it (helper-198: an AttributeError)
        config = build_run_config(config)
    test = LRRangeTest(float(start_lr), float(end_lr), num_steps)
    size = config.train.batch_size
    with said_as_given():  # (a mistake in arrays in memory: theirs, not their cache file's)
        result = run_config(range_test_config(config, num_steps), data_dir=data_dir, progress="none",
                            extra_callbacks=[test], on_data_ready=lambda data: few_batches(len(data.train_y), size,
                                                                                            num_steps))
    found = test.result
    if result.status == "interrupted":  # Ctrl-C stops a loop of tests, as it stops train()'s
        found.stopped, found.suggestion = "by Ctrl-C", suggested_lr(found.lrs, found.smoothed)  # (not "still falling":
        raise RangeTestInterrupted(found, num_steps)  # its range never ran whole, helper-199)
    if result.status == "diverged":  # the trainer's advice names its base rate, not the ramp's (helper-197)
        found.stopped = f"the loss was no longer finite at lr {test.rate(len(found.lrs)):.3g}"
    elif not found.stopped and len(found.lrs) < num_steps:  # the fit itself ended (a failure)
        found.stopped = result.message or result.status
    found.suggestion = suggested_lr(found.lrs, found.smoothed)
    return found


class RangeTestInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped :func:`lr_find`: ``found`` holds the steps it ran (their suggestion too, where
    enough ran), which `mnistlab lr-find` says and draws before it exits 130 (helper-198: lost)."""

    def __init__(self, found: LRFinderResult, num_steps: int) -> None:
        super().__init__(f"the range test was stopped by Ctrl-C after {len(found.lrs)} of its {num_steps} steps")
        self.found = found


def still_falling(found: LRFinderResult) -> bool:
    """Whether the smoothed loss was lowest in the last tenth of the steps of a test that ran them all:
    the range ended before the loss turned, so the rate that trains best may lie above ``end_lr``
    (helper-198: sgd's lowest loss at lr 1, said nothing of it)."""
    n = len(found.smoothed)
    return n > SKIP_BEGIN and not found.stopped and int(np.argmin(found.smoothed)) >= n - max(1, n // 10)


def said(found: LRFinderResult) -> str:
    """One line for a terminal: the suggestion and the lowest-loss rate, with how many steps ran
    and why it stopped early."""
    steps = f"{len(found.lrs)} step{'s' * (len(found.lrs) != 1)}"
    head = (f"suggested lr {found.suggestion:.3g} (the loss fell fastest there)" if found.suggestion is not None
            else f"no suggestion: the loss never fell below its first {SKIP_BEGIN} steps' (a model already at a minimum "
                 "for this data, or a range that starts too high: --start-lr)" if never_fell(found.smoothed)
            else f"no suggestion: only {steps} ran, too few to tell a slope")
    lowest = f"; lowest loss at lr {found.lowest:.3g}" if found.lowest is not None else ""
    falling = "; the loss still fell at the end of the range: give a larger end_lr (--end-lr)" if still_falling(found) else ""
    return f"{head}{lowest}; {steps}" + (f", stopped early: {found.stopped}" if found.stopped else "") + falling
