"""Run configuration: what one training run is, as plain, validated data.

A run config is exactly what an experiment file's ``[base]`` table holds (and what
``mnistlab train --config FILE.toml`` reads)::

    dataset = "fashion-mnist"
    model = "seed000-cnn"              # a preset, a spec file, or an inline {layers = [...]}
    [data]
    validation = 0.1                   # fraction of train, an int count, "test", or 0 (none)
    [train]
    epochs = 5
    batch_size = 32
    optimizer = "adam"                 # lr defaults to the optimizer's Keras default
    schedule = { type = "cosine" }
    [augment]
    rotation_range = 10.0
    [[callbacks]]
    type = "ReduceLROnPlateau"
    monitor = "val_accuracy"

Use :func:`parse_run_config` on a dict (from TOML/JSON); it raises a one-line
:class:`~mnistlab.errors.SpecError` naming the source and key path of the first problem, with a
"did you mean" hint for misspelt keys and type names (the error's ``path`` holds the key path).
:func:`build_run_config` layers defaults, a config file, ``--set`` settings and flags into one
validated config, as ``mnistlab train`` does. :meth:`RunConfig.resolved` gives the fully resolved
plain dict (model expanded to its layer spec, every default filled in) that runs are recorded by;
:func:`run_key` is a run's identity in the store, :func:`checkpoint_key` a checkpoint's.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import numbers
import os
import re
import typing
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, ValidationError, ValidationInfo,
                      field_validator, model_validator)

from mnistlab._version import __version__
from mnistlab._toml import dotted_key, loads_json, loads_toml, plain_data, read_text_file, toml_value, with_line
from mnistlab.errors import (MnistlabError, SpecError, SpecWarning, clip, closest, did_you_mean, key_hint, show, toml_repr,
                             number_hint, type_name, unknown_key, user_level)
from mnistlab.files import display_name
from mnistlab.keypaths import (check_slice_value, is_position, is_slice, key_path, reaches_into_layers, set_at,
                               slices_alone, written_key)
from mnistlab.presets import resolve_model
from mnistlab.specs import ModelSpec, is_model_table

_FROZEN = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)

# Keras 3's defaults for each optimizer (keras/src/optimizers/<name>.py), as keyword arguments of
# mnistlab.optim's classes (torch's names: betas, eps; ``lr`` always present). The one registry of
# them, here and torch-free: a config is checked, and the CLI lists the names, without loading torch.
_OPTIMIZER_DEFAULTS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "adam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7},
    "adamw": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.004},
    "nadam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7},
    "adamax": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7},
    "adagrad": {"lr": 1e-3, "initial_accumulator_value": 0.1, "eps": 1e-7},
    "rmsprop": {"lr": 1e-3, "rho": 0.9, "eps": 1e-7},
    "sgd": {"lr": 0.01},
})
OPTIMIZERS: tuple[str, ...] = tuple(_OPTIMIZER_DEFAULTS)
#: The optimizer's settings besides its name and lr (TrainConfig's fields), in the order a run's
#: optimizer line and its card say them: the one list (helper-168: two had drifted apart).
OPTIMIZER_SETTINGS: tuple[str, ...] = ("momentum", "nesterov", "amsgrad", "centered", "weight_decay", "beta_1",
                                       "beta_2", "epsilon", "rho", "initial_accumulator_value")


def optimizer_settings_said(value: Callable[[str], Any], optimizer: str) -> list[tuple[str, Any]]:
    """The :data:`OPTIMIZER_SETTINGS` a run's training line and its card say, with their values
    (``value(name)``: a config's field, a recorded train table's key): a switch that is on, a
    number that is set (momentum only where it is not 0), each one ``optimizer`` takes (helper-174:
    "adamax (amsgrad)" of a setting adamax ignores, as the config's warning said)."""
    return [(k, v) for k in OPTIMIZER_SETTINGS if (v := value(k)) is not None and v is not False
            and (v or k != "momentum") and setting_applies(k, optimizer)]


# The settings only some optimizers take (the others ignore them, with a SpecWarning): which ones.
_TAKERS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "momentum": ("sgd", "rmsprop"), "nesterov": ("sgd",), "amsgrad": ("adam", "adamw"), "centered": ("rmsprop",)})


def setting_applies(key: str, optimizer: str) -> bool:
    """Whether optimizer ``optimizer`` takes setting ``key`` of :data:`OPTIMIZER_SETTINGS` (momentum,
    nesterov, amsgrad, centered: :data:`_TAKERS`; a setting whose default is the optimizer's own, as
    ``beta_1``: where Keras's optimizer has it; ``weight_decay``: every one)."""
    name = optimizer.lower()
    if key in _TAKERS:
        return name in _TAKERS[key]
    if key in _OWN_DEFAULTS:
        return _OWN_DEFAULTS[key][0] in _OPTIMIZER_DEFAULTS.get(name, {})
    return True


# The settings whose Keras default is the optimizer's own: each one's key in _OPTIMIZER_DEFAULTS (and
# its place in that tuple). An optimizer without that key ignores the setting.
_OWN_DEFAULTS: Mapping[str, tuple[str, int | None]] = MappingProxyType({
    "beta_1": ("betas", 0), "beta_2": ("betas", 1), "epsilon": ("eps", None), "rho": ("rho", None),
    "initial_accumulator_value": ("initial_accumulator_value", None)})
#: train.precision as Keras's dtype policies name it (keras.mixed_precision.set_global_policy)
PRECISION_SYNONYMS: dict[str, str] = {"mixed_bfloat16": "bf16", "bfloat16": "bf16",
                                      # PyTorch Lightning's Trainer(precision=...) names (helper-253)
                                      "bf16-mixed": "bf16", "32": "float32", "32-true": "float32"}


def keras_setting_default(key: str, optimizer: str) -> Any:
    """Keras's default of the optimizer setting ``key`` (one of :data:`OPTIMIZER_SETTINGS`) for
    ``optimizer``: a switch's False, momentum's and weight decay's 0 (AdamW's 0.004), the betas',
    epsilon's, rho's and the initial accumulator's of that optimizer's class; None where it has none.

    >>> keras_setting_default("beta_2", "adam"), keras_setting_default("weight_decay", "adamw")
    (0.999, 0.004)
    """
    defaults = _OPTIMIZER_DEFAULTS.get(optimizer.lower(), {})
    if key in _OWN_DEFAULTS:
        name, at = _OWN_DEFAULTS[key]
        value = defaults.get(name)
        return value if at is None or value is None else value[at]
    return defaults.get("weight_decay", 0.0) if key == "weight_decay" else 0.0 if key == "momentum" else False


def optimizer_defaults(name: str) -> dict[str, Any]:
    """Keras's defaults for optimizer ``name`` (any case), as keyword arguments of its class in
    :mod:`mnistlab.optim` (``lr`` always present). Raises KeyError for an unknown name."""
    return dict(_OPTIMIZER_DEFAULTS[name.lower()])


# --------------------------------------------------------------------------------------- sections
class DataConfig(BaseModel):
    """Which images a run trains and validates on."""

    model_config = _FROZEN
    #: 0 / 0.0 = no validation; a float in (0, 1) = that fraction of train held out (seeded by
    #: train.seed); an int = that many train images held out; "test" = validate on the test set
    #: (allowed, as seed 003 does it, and recorded as ``validation_is_test``).
    validation: float | int | Literal["test"] = 0.0
    #: which images are held out: "random" (seeded, below) or "last", the end of the training set
    #: as Keras's ``fit(validation_split=...)`` takes it.
    split: Literal["random", "last"] = "random"
    #: keep each class's share equal in the held-out part (random splits only).
    stratify: bool = False
    #: seed of the validation split; None = train.seed. Fix it to keep one split across seeds
    #: (seed 002's committee members all see the same held-out sixth).
    split_seed: int | None = Field(None, ge=0, lt=2**63)
    #: seed of the test split held out of the user's own data without a test file (its
    #: ``test_fraction``); None = 0: one test set whatever the run's seed, so that a variant's repeats
    #: and a committee's members are scored on the same images (as one ``train_test_split(...,
    #: random_state=0)`` before every model). Runs recorded before it was kept carved theirs with
    #: the split seed.
    test_seed: int | None = Field(None, ge=0, lt=2**63)
    #: 0 = everything; N = the first N train images and N // 6 test images (quick runs, tests).
    subset: int = Field(0, ge=0)
    #: the user's own images in one order drawn once (seed 0), before ``subset`` and the splits, as
    #: Keras's ``image_dataset_from_directory(shuffle=True)`` shuffles its files. None: true for a
    #: folder of class folders (its files come class by class), false for a CSV, an .npz or IDX files (their
    #: rows' order, as Keras's ``fit(x, y)`` takes it). A registered dataset keeps its published order.
    shuffle: bool | None = None

    @field_validator("validation", mode="before")
    @classmethod
    def _validation_word(cls, v: Any) -> Any:
        """``"test"`` in any case; another word says what is taken (helper-143: "must be a valid number")."""
        if isinstance(v, str):
            if v.strip().lower() == "test":
                return "test"
            try:
                float(v)
                quoted = ": a number is written without quotes"
            except ValueError:
                quoted = ""
            raise ValueError(f'must be a fraction in (0, 1), a count, 0 or "test" (got the string {clip(repr(v), 40)}'
                             f"{quoted})")
        return v

    @field_validator("validation")
    @classmethod
    def _check_validation(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError('must be a fraction in (0, 1), a count, 0 or "test"')
        if isinstance(v, float) and not (v == 0.0 or 0.0 < v < 1.0):
            raise ValueError(f"a fraction must be in (0, 1) (or 0 for none), got {v}")
        if isinstance(v, int) and v < 0:
            raise ValueError(f"a count must be >= 0, got {v}")
        return v

    @model_validator(mode="after")
    def _check_split(self) -> DataConfig:
        if self.split == "last" and self.stratify:
            raise ValueError('stratify needs split = "random" (the last images are whatever classes they are)')
        return self


class StepSchedule(BaseModel):
    """lr = base * gamma ** floor(epoch / step_size): drop by ``gamma`` every ``step_size`` epochs."""

    model_config = _FROZEN
    type: Literal["step"] = "step"
    # epochs between drops; at least 1e-6, below one batch of any dataset here (60,000 images): a smaller one
    # (1e-320, a denormal read as 0) divided by zero mid-run (helper-195)
    step_size: float = Field(10.0, ge=1e-6)
    gamma: float = Field(0.1, gt=0, le=1)  # factor per drop


class CosineSchedule(BaseModel):
    """Linear warm-up for ``warmup_epochs``, then cosine decay from base lr to ``min_lr``."""

    model_config = _FROZEN
    type: Literal["cosine"] = "cosine"
    warmup_epochs: float = Field(0.0, ge=0)
    min_lr: float = Field(0.0, ge=0)


class OneCycleSchedule(BaseModel):
    """One-cycle (Smith): warm up from lr/div_factor to lr (the peak) over ``pct_start`` of the
    run, then cosine down to lr/(div_factor*final_div_factor). The lr of every step is torch's
    OneCycleLR's (cosine, two phases, no momentum cycling) over the run's steps."""

    model_config = _FROZEN
    type: Literal["onecycle"] = "onecycle"
    pct_start: float = Field(0.3, gt=0, lt=1)
    div_factor: float = Field(25.0, ge=1)
    final_div_factor: float = Field(1e4, ge=1)


class ExponentialSchedule(BaseModel):
    """Keras's ``ExponentialDecay(initial_learning_rate, decay_steps, decay_rate, staircase)``: lr =
    base * decay_rate ** (step / decay_steps), ``step`` the batches trained before this one (the
    optimizer's iterations), ``step / decay_steps`` floored with ``staircase``. ``decay_steps`` and
    ``decay_rate`` are required, as Keras's are."""

    model_config = _FROZEN
    type: Literal["exponential"] = "exponential"
    decay_steps: int = Field(ge=1)  # batches per factor of decay_rate
    decay_rate: float = Field(gt=0, le=1)  # (above 1 the rate would grow without bound)
    staircase: bool = False


#: Any one schedule (the type of ``train.schedule``, and what :func:`mnistlab.optim.schedule_lr` takes).
ScheduleConfig = StepSchedule | CosineSchedule | OneCycleSchedule | ExponentialSchedule
Schedule = Annotated[ScheduleConfig, Field(discriminator="type")]
# A callback's Keras `verbose`: 0, 1, ..., or true/false, which Keras takes as 1/0 (`if self.verbose > 0`)
KerasVerbose = Annotated[int, BeforeValidator(lambda v: int(v) if isinstance(v, bool) else v)]
SCHEDULES: dict[str, type[BaseModel]] = {"step": StepSchedule, "cosine": CosineSchedule, "onecycle": OneCycleSchedule,
                                          "exponential": ExponentialSchedule}


class SWAConfig(BaseModel):
    """Stochastic weight averaging (Izmailov et al. 2018; torch's ``swa_utils``; no Keras name): the
    mean of the weights each epoch ends with, from ``start_epoch`` on, with BatchNormalization's
    statistics recomputed for it over the training images (:mod:`mnistlab.averaging`)."""

    model_config = _FROZEN
    start_epoch: int = Field(ge=1, le=100_000)  # the first epoch (counting from 1) whose weights are averaged
    lr: float | None = Field(None, gt=0, le=100)  # constant learning rate from start_epoch on; None = unchanged


CLASS_WEIGHT_KEYS = 100_000  # the most classes train.class_weight weighs (a dataset's classes are far fewer)


class TrainConfig(BaseModel):
    """How a run trains. Defaults are Keras's (batch 32, Adam with lr 1e-3, eps 1e-7)."""

    model_config = _FROZEN
    epochs: int = Field(5, ge=1, le=100_000)
    batch_size: int = Field(32, ge=1, le=1_000_000)
    optimizer: str = "adam"  # adam adamw nadam adamax adagrad rmsprop sgd
    lr: float | None = Field(None, gt=0, le=100)  # None = the optimizer's Keras default
    momentum: float = Field(0.0, ge=0, lt=1)  # sgd (and rmsprop) momentum
    nesterov: bool = False  # sgd only
    weight_decay: float | None = Field(None, ge=0, lt=1)  # None = optimizer default (adamw 0.004, else 0)
    #: decay rates of the first and second moment estimates (adam, adamw, nadam, adamax: its second is the
    #: infinity norm's); None = Keras's 0.9 / 0.999
    beta_1: float | None = Field(None, ge=0, lt=1)
    beta_2: float | None = Field(None, ge=0, lt=1)
    #: the small constant in the update's denominator (every optimizer but sgd); None = Keras's 1e-7
    epsilon: float | None = Field(None, gt=0, le=1)
    #: adam, adamw: divide by the running maximum of the second moment (Keras's ``amsgrad``)
    amsgrad: bool = False
    #: rmsprop: divide by the gradient's variance estimate, not its raw second moment (Keras's ``centered``)
    centered: bool = False
    #: rmsprop: decay rate of the squared-gradient average; None = Keras's 0.9
    rho: float | None = Field(None, ge=0, lt=1)
    #: adagrad: the starting value of each weight's squared-gradient accumulator; None = Keras 3's 0.1.
    #: tf.keras 2 (TF 2.0-2.10) gave ``optimizer="adagrad"`` (the string) 0.0 (its ``Adagrad.from_config``),
    #: so a notebook from that time, such as seed 004, reproduces with 0.0 (REPRODUCTION.md, seed 004;
    #: Keras 3's ``sqrt(acc + eps)`` is kept where tf.keras 2 had ``sqrt(acc) + eps``)
    initial_accumulator_value: float | None = Field(None, ge=0, le=1e6)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    #: Keras's ``fit(class_weight=...)``: each training image's loss times its class's weight, the batch's
    #: loss their mean (Keras's sample weights, reduced over the batch's size); validation and test losses
    #: are not weighted, as Keras's are not. A list of one weight per class; a table of weights by class
    #: index (digits, "0" in a file) or by a name that is not all digits, a class not in it weighing 1.0 as
    #: in Keras; or "balanced", scikit-learn's n_images / (n_classes * the class's count) over the training images.
    class_weight: list[float] | dict[int | str, float] | Literal["balanced"] | None = None
    seed: int = Field(0, ge=0, lt=2**63)
    schedule: Schedule | None = None
    device: str = "auto"  # auto cpu cuda cuda:N mps
    threads: int = Field(0, ge=0, le=1024)  # CPU threads; 0 = from the machine
    #: bf16 = autocast matmuls/convs to bfloat16; auto = bf16 where measured to pay (conv models on
    #: CPUs with native bf16, CUDA GPUs with bf16), else float32; the run records which one it used.
    #: auto is the default because it is what makes a CNN 2x faster than Keras on such CPUs, within
    #: Keras's accuracy (BENCHMARKS.md); float32 gives results that do not depend on the CPU's ISA.
    precision: Literal["float32", "bf16", "auto"] = "auto"
    #: Keras's optimizer EMA (:mod:`mnistlab.averaging`): keep an exponential moving average of the
    #: trainable weights, updated after every step, and end the fit with it in the model (Keras's
    #: finalize_variable_values). BatchNormalization's moving statistics are not averaged (as in Keras).
    use_ema: bool = False
    #: weight of the old average at each step: average = m * average + (1 - m) * weights (Keras's 0.99)
    ema_momentum: float = Field(0.99, ge=0, le=1)
    #: every this many steps the weights are replaced by their average; None = only at the end
    ema_overwrite_frequency: int | None = Field(None, ge=1, le=10**9)
    #: stochastic weight averaging, e.g. { start_epoch = 31, lr = 0.01 }; None = none
    swa: SWAConfig | None = None

    @field_validator("swa", mode="before")
    @classmethod
    def _swa_off(cls, v: Any) -> Any:
        """``false`` (a variant without the base's SWA, as ``augment = false``) is none; anything but
        a table says what to write (helper-128: "must be a valid dictionary or instance of SWAConfig")."""
        return _table_or_off(v, SWAConfig, "train.swa", "{ start_epoch = 31, lr = 0.01 }")

    @field_validator("optimizer", mode="before")
    @classmethod
    def _optimizer_as_a_table(cls, v: Any) -> Any:
        """Keras's ``optimizer=keras.optimizers.Adam(learning_rate=0.01)`` written as a table: said how
        mnistlab spells it (the name, and its settings as train keys), not "must be a valid string"."""
        if isinstance(v, Mapping):
            kind = v.get("type") or v.get("class_name") or "adam"
            # Keras's saved form holds them in its config (helper-143: "train.config = {...}" was said), beside
            # its module and registered name; TOML's words; none unset, none mnistlab refuses (helper-144)
            given = v["config"] if isinstance(v.get("config"), Mapping) else v
            settings = ", ".join(f"train.{optimizer_key(str(k))} = {toml_repr(x)}" for k, x in given.items()
                                 if k not in ("type", "class_name", "name", "module", "registered_name")
                                 and x is not None and k not in KERAS_OPTIMIZER_NOT_OFFERED)
            refused = [str(k) for k, x in given.items() if k in KERAS_OPTIMIZER_NOT_OFFERED and x is not None]
            name = str(kind).lower()
            if name not in _OPTIMIZER_DEFAULTS:  # helper-145: "optimizer = \"lion\"", then refused
                raise ValueError(f"is a name, not a table, and {clip(str(kind), 20)} is not one of mnistlab's optimizers: "
                                 f"{', '.join(_OPTIMIZER_DEFAULTS)}")
            raise ValueError(f'is a name, not a table: optimizer = "{clip(name, 20)}"'
                             + (f", and its settings as train keys ({clip(settings, 160)})" if settings else "")
                             + (f"; {', '.join(refused)}: not offered here" if refused else ""))
        return v

    @field_validator("optimizer")
    @classmethod
    def _check_optimizer(cls, v: str) -> str:
        name = v.lower()
        if name not in OPTIMIZERS:
            raise ValueError(f'got "{v}"{did_you_mean(v, OPTIMIZERS)}; choose from {", ".join(OPTIMIZERS)}')
        return name

    @field_validator("precision", mode="before")
    @classmethod
    def _keras_precision(cls, v: Any) -> Any:
        """Keras's dtype policy names: ``mixed_bfloat16`` (float32 weights, bfloat16 compute) is
        mnistlab's ``bf16`` autocast, and so is ``bfloat16`` (Keras's pure-bfloat16 policy, which
        keeps the weights in bfloat16 too: here they stay float32); any case."""
        if isinstance(v, str):
            lower = v.strip().lower()
            if lower in ("16-mixed", "16", "float16", "mixed_float16"):
                raise ValueError(f'float16 ("{v}") is not offered: "bf16" (bfloat16 autocast, Lightning\'s "bf16-mixed" and '
                                 'Keras\'s "mixed_bfloat16") needs no loss scaling; "auto" picks it where it pays')
            return PRECISION_SYNONYMS.get(lower, lower)
        return v if v != 32 else "float32"

    @field_validator("device")
    @classmethod
    def _check_device(cls, v: str) -> str:
        d = v.lower()
        ok = d in ("auto", "cpu", "cuda", "mps") or (d.startswith("cuda:") and d[5:].isascii() and d[5:].isdigit())
        if not ok:
            gpu = ' (a GPU is "cuda" here, as torch names it; Lightning\'s accelerator="gpu")' if d == "gpu" else ""
            raise ValueError(f'unknown device "{v}"{gpu}; use auto, cpu, cuda, cuda:N or mps')
        return d

    @field_validator("class_weight", mode="before")
    @classmethod
    def _class_weight_form(cls, v: Any) -> Any:
        """One line for a word other than "balanced" (pydantic said each form of the union)."""
        if isinstance(v, str) and v != "balanced":
            raise ValueError(f'must be "balanced", a list of one weight per class or a table of weights by class, '
                             f"got {show(v)}")
        return v

    @field_validator("class_weight")
    @classmethod
    def _check_class_weight(cls, v: Any) -> Any:
        """Weights that are numbers from 0 (Keras multiplies each loss by them), not all 0 (no image
        would train), at most :data:`CLASS_WEIGHT_KEYS` of them, a key an index from 0 or a name."""
        weights = list(v.values()) if isinstance(v, dict) else v if isinstance(v, list) else []
        if len(weights) > CLASS_WEIGHT_KEYS:
            raise ValueError(f"at most {CLASS_WEIGHT_KEYS:,} classes are weighed, got {len(weights):,}")
        if bad := next((w for w in weights if not 0 <= w < math.inf), None):
            raise ValueError(f"a class's weight is a number from 0 (each image's loss times it), got {bad:g}")
        if weights and not any(weights) and isinstance(v, list):
            raise ValueError("every class weighs 0: no image would train")
        if isinstance(v, dict) and (neg := next((k for k in v if isinstance(k, int) and k < 0), None)) is not None:
            raise ValueError(f"class {neg}: a class index counts from 0")
        return v

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, s: Any, info: ValidationInfo) -> Any:
        """A cosine schedule that could not be meant (helper-143: both trained on, silently): a
        ``min_lr`` above the run's lr (the lr would rise to it), a warm-up not over before the last
        epoch (the lr would never reach ``lr``). ``lr`` is the optimizer's default when unset. Said
        at the schedule's key (its line in a file: helper-145); unchecked where epochs, optimizer or
        lr is itself wrong (said on its own)."""
        epochs, optimizer = info.data.get("epochs"), info.data.get("optimizer")
        if not isinstance(s, CosineSchedule) or epochs is None or optimizer is None or "lr" not in info.data:
            return s
        lr = info.data["lr"] if info.data["lr"] is not None else optimizer_defaults(optimizer)["lr"]
        if s.min_lr > lr:
            raise ValueError(f"min_lr ({s.min_lr:g}) is above train.lr ({lr:g}): the cosine decays from lr down to "
                             "min_lr, and would rise instead")
        if s.warmup_epochs and s.warmup_epochs >= epochs:
            raise ValueError(f"warmup_epochs ({s.warmup_epochs:g}) is as long as the run or longer ({epochs} "
                             f"epoch{'s' * (epochs != 1)}): the learning rate would never reach train.lr")
        return s

    @model_validator(mode="after")
    def _check_momentum(self) -> TrainConfig:
        if self.momentum and self.optimizer not in ("sgd", "rmsprop"):
            # A warning, not an error: an experiment may sweep optimizers over a base with momentum.
            warnings.warn(f"train.momentum = {self.momentum:g} applies to sgd and rmsprop; "
                          f"{self.optimizer} ignores it", SpecWarning, stacklevel=user_level())
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ValueError("nesterov needs optimizer sgd with momentum > 0")
        if self.swa is not None:
            if self.use_ema:
                raise ValueError("swa and use_ema both average the weights: choose one")
            if self.swa.start_epoch > self.epochs:
                raise ValueError(f"swa.start_epoch ({self.swa.start_epoch}) is after the last epoch ({self.epochs})")
            if self.swa.lr is not None and self.schedule is not None:
                raise ValueError("swa.lr and a schedule both set the learning rate: drop one of them")
        if self.use_ema and self.ema_momentum == 1:  # Keras takes it too: the average of the first step alone
            warnings.warn("train.ema_momentum = 1 keeps the weights after the first step as the average, which never "
                          "moves again: the run ends with them (0.99, Keras's default, or 0.999 averages)",
                          SpecWarning, stacklevel=user_level())
        if not self.use_ema and "use_ema" not in self.model_fields_set and (  # use_ema = false, written: no mistake
                self.ema_momentum != 0.99 or self.ema_overwrite_frequency is not None):
            given = [k for k, unset in (("ema_momentum", 0.99), ("ema_overwrite_frequency", None))
                     if getattr(self, k) != unset]  # the ones set, not both (helper-130)
            warnings.warn(f"{' and '.join(f'train.{k}' for k in given)} appl{'y' if len(given) > 1 else 'ies'} with "
                          f"train.use_ema = true; without it {'they are' if len(given) > 1 else 'it is'} ignored",
                          SpecWarning, stacklevel=user_level())
        defaults = optimizer_defaults(self.optimizer)
        for flag in ("amsgrad", "centered"):
            if getattr(self, flag) and not setting_applies(flag, self.optimizer):
                warnings.warn(f"train.{flag} applies to {' and '.join(_TAKERS[flag])}; {self.optimizer} ignores it",
                              SpecWarning, stacklevel=user_level())
        for key, (known, _) in _OWN_DEFAULTS.items():
            if getattr(self, key) is not None and known not in defaults:
                users = [name for name in OPTIMIZERS if known in optimizer_defaults(name)]
                warnings.warn(f"train.{key} = {getattr(self, key):g} applies to {', '.join(users)}; "
                              f"{self.optimizer} ignores it", SpecWarning, stacklevel=user_level())
        return self


#: Keras optimizer arguments mnistlab does not offer, said as such under ``train`` (helper-143: a bare "unknown key")
KERAS_OPTIMIZER_NOT_OFFERED: Mapping[str, str] = MappingProxyType({
    k: "Keras's optimizer argument; not offered here"
    for k in ("clipnorm", "clipvalue", "global_clipnorm", "loss_scale_factor", "gradient_accumulation_steps")})

# ImageDataGenerator's other arguments, and what a Keras user writes here instead (or why not at all).
KERAS_GENERATOR_ELSEWHERE: Mapping[str, str] = MappingProxyType({
    "rescale": "mnistlab gives the model pixels / 255 (in [0, 1]) already, what rescale = 1/255 does in Keras: leave it out",
    "featurewise_center": "put a Normalization layer first in the model instead (adapted to the training images)",
    "featurewise_std_normalization": "put a Normalization layer first in the model instead (adapted to the training images)",
    "samplewise_center": "not offered; a Normalization layer first in the model standardises with the training images' "
                         "statistics",
    "samplewise_std_normalization": "not offered; a Normalization layer first in the model standardises with the training "
                                    "images' statistics",
    "zca_whitening": "not offered", "zca_epsilon": "not offered",
    "brightness_range": "not offered (Keras computes it on 8-bit images through Pillow)",
    "channel_shift_range": "not offered",
    "validation_split": "the validation split is data.validation here (data.split = \"last\" holds out the end of the "
                        "training set, as fit(validation_split=) does)",
    "interpolation_order": "mnistlab interpolates as Keras does by default (order 1, bilinear): leave it out",
    "preprocessing_function": "not offered in a config file", "data_format": "leave it out: mnistlab knows its images' layout",
    "dtype": "leave it out: mnistlab augments float32 images in [0, 1]",
})
# Keras 3's preprocessing layers (and other augmentation words), and what this [augment] table,
# ImageDataGenerator's words, writes for them (helper-235: "unknown key" with no way across).
KERAS_LAYERS_ELSEWHERE: Mapping[str, str] = MappingProxyType({
    "RandomRotation": "its factor f turns by up to f x 360 degrees; here rotation_range = 360 f, in degrees as "
                      "ImageDataGenerator takes it (RandomRotation(0.1): rotation_range = 36); it fills with "
                      "\"reflect\" by default, ImageDataGenerator (and here) with \"nearest\": fill_mode = \"reflect\" "
                      "for its fill",
    "RandomZoom": "zoom_range = z scales x and y apart, each in [1 - z, 1 + z], as ImageDataGenerator does; "
                  "RandomZoom's zoom that keeps the aspect ratio is not offered, and its default fill is "
                  "fill_mode = \"reflect\" (here \"nearest\")",
    "RandomTranslation": "width_shift_range and height_shift_range, fractions of the size as its factors; it fills "
                         "with \"reflect\" by default, ImageDataGenerator (and here) with \"nearest\": fill_mode = "
                         "\"reflect\" for its fill",
    "RandomFlip": 'horizontal_flip = true for "horizontal", vertical_flip = true for "vertical", both for its default',
    "RandomShear": "its factor f shears pixels up to f of the way across, one way, and fills with \"reflect\"; "
                   "here shear_range = its angle in degrees, both ways (RandomShear(0.2) is about shear_range = "
                   "11.3, atan(0.2)), filling with fill_mode",
    "RandomErasing": "random_erasing = p erases one rectangle with probability p (Zhong et al. 2017); Keras 3's "
                     "factor f draws each image's probability from [0, f], so RandomErasing(factor=f) is about "
                     "random_erasing = f / 2",
    "RandomCrop": "not offered (zoom_range with width_shift_range comes closest)",
    "RandomContrast": "not offered", "RandomBrightness": "not offered",
    "fill_value": "cval is ImageDataGenerator's (and this table's) name for the constant fill, in pixels / 255",
    "cutout": "not offered as such; random_erasing = p blanks one random rectangle (Zhong et al. 2017)",
    "type": "[augment] is one table of ImageDataGenerator's arguments, not a Keras 3 layer: RandomRotation(0.1) is "
            "rotation_range = 36, RandomFlip(\"horizontal\") horizontal_flip = true, RandomZoom(0.1) zoom_range = 0.1",
})
# Keras 3's layer names as Python writes their modules (keras.layers.random_rotation): the same hints
KERAS_LAYERS_ELSEWHERE = MappingProxyType({**KERAS_LAYERS_ELSEWHERE, "factor": KERAS_LAYERS_ELSEWHERE["type"],
                                           **{re.sub(r"(?<!^)([A-Z])", r"_\1", k).lower(): v
                                              for k, v in KERAS_LAYERS_ELSEWHERE.items() if k.startswith("Random")}})


def augment_key_hint(key: str) -> str | None:
    """What to write in ``[augment]`` for ``key``, a word of Keras's it does not take (an
    ImageDataGenerator argument, a Keras 3 preprocessing layer); None for any other key."""
    if instead := KERAS_GENERATOR_ELSEWHERE.get(key):
        return f"Keras's ImageDataGenerator takes it; {instead}"
    if instead := KERAS_LAYERS_ELSEWHERE.get(key):
        return f"Keras 3's layer; {instead}" if key.startswith(("Random", "random_")) else instead
    return None


MAX_SHIFT = 10_000  # pixels, and values in a list: far past any image here (a shift past the size brings in only the fill)
MAX_ZOOM = 100.0  # a zoom factor: at 100 the image is 1/100 of the output (zoom_range = [lo, hi])


class AugmentConfig(BaseModel):
    """Random per-image transforms, named as in Keras's ImageDataGenerator, with the forms its
    arguments take there (Keras 3 ``ImageDataGenerator.get_random_transform``)."""

    model_config = _FROZEN
    rotation_range: float = Field(0.0, ge=0, le=180)  # degrees, uniform in [-r, r]
    # z: scale x and y each uniform in [1-z, 1+z]; [lo, hi]: each uniform in [lo, hi]
    zoom_range: float | list[float] = 0.0
    # a float below 1: a fraction of the width, uniform in [-r, r]; a float from 1 up: pixels, uniform
    # in [-r, r]; an int N: whole pixels, one of 0 .. N-1 with a random sign; a list: one of its values
    # with a random sign (fractions of the width if all are below 1, else pixels)
    width_shift_range: int | float | list[float] = 0.0
    height_shift_range: int | float | list[float] = 0.0  # the same, of the height
    shear_range: float = Field(0.0, ge=0, lt=90)  # degrees, uniform in [-s, s] (counter-clockwise)
    horizontal_flip: bool = False  # flip half the images left-right
    vertical_flip: bool = False  # flip half the images upside down
    random_erasing: float = Field(0.0, ge=0, le=1)  # probability of blanking one random rectangle
    # what comes in at the edges, as Keras's ImageDataGenerator (scipy.ndimage order 1) computes it:
    # nearest repeats the edge pixel (Keras default), constant fills with cval, reflect mirrors about
    # the image's border (d c b a | a b c d), wrap repeats it with period size - 1 (scipy's "wrap")
    fill_mode: Literal["nearest", "constant", "reflect", "wrap"] = "nearest"
    cval: float = 0.0  # fill value of "constant", in the model's input scale (pixel / 255): 0 black, 1 white

    @field_validator("cval")
    @classmethod
    def _check_cval(cls, v: float) -> float:
        if not 0.0 <= v <= 1.0:  # a Keras habit: cval in pixels (255) where the images are scaled to [0, 1]
            raise ValueError(f"must be between 0 (the background, no ink) and 1 (full ink), in pixels / 255, got {v:g}"
                             + (f" (for {v:g} in pixels write {v / 255:.4g})" if 1 < v <= 255 else ""))
        return v

    @field_validator("rotation_range", mode="before")
    @classmethod
    def _check_rotation(cls, v: Any) -> Any:
        if isinstance(v, list):  # Keras 3's RandomRotation((-0.1, 0.1)) (helper-238: "must be a valid number")
            raise ValueError(f"must be one number of degrees r (uniform in [-r, r]), as ImageDataGenerator takes it, got "
                             f"{show(v)}; a pair of fractions of a turn is Keras 3's RandomRotation factor: "
                             "rotation_range = 360 x the larger bound")
        return v

    @field_validator("zoom_range", mode="before")
    @classmethod
    def _check_zoom(cls, v: Any) -> Any:
        v = _plain(v)
        if _is_number(v):
            if not 0 <= v < 1:
                raise ValueError(f"must be a number in [0, 1) (x and y zoom each in [1 - z, 1 + z]) or a list "
                                 f"[lo, hi] of zoom factors, as Keras takes it (got {clip(repr(v), 40)})")
            return float(v)
        if isinstance(v, list) and len(v) == 2 and all(_is_number(z) for z in v):
            if not all(0 < z <= MAX_ZOOM for z in v):
                raise ValueError(f"zoom factors must be above 0 (1 = unchanged) and at most {MAX_ZOOM:g}, "
                                 f"got {clip(repr(v), 40)}")
            return 0.0 if v == [1, 1] else [float(z) for z in v]  # [1, 1] draws and zooms as 0 does: none
        raise ValueError(f"must be a number in [0, 1) or a list [lo, hi] of two zoom factors (got {clip(repr(v), 40)})")

    @field_validator("width_shift_range", "height_shift_range", mode="before")
    @classmethod
    def _check_shift(cls, v: Any, info: ValidationInfo) -> Any:
        v = _plain(v)
        if _is_number(v) and 0 <= v <= MAX_SHIFT:
            if v == 1 and isinstance(v, int):
                warnings.warn(f"augment.{info.field_name} = 1 (an int) shifts by whole pixels in (-1, 1), that is never, "
                              f"as in Keras: write 2 for -1, 0 or 1 pixel, or 1.0 for any shift up to a pixel", SpecWarning,
                              stacklevel=user_level())
            return v if isinstance(v, int) and v > 1 else float(0 if isinstance(v, int) else v)  # an int: whole pixels
        if isinstance(v, list) and 0 < len(v) <= MAX_SHIFT and all(_is_number(r) and 0 <= r <= MAX_SHIFT for r in v):
            return [float(r) for r in v] if any(v) else 0.0  # [0] draws and shifts as 0 does: none
        if isinstance(v, list):
            raise ValueError(f"a list is the shifts to choose from, each then given a random sign as Keras does: write "
                             f"magnitudes from 0 to {MAX_SHIFT}, at least one, e.g. [0, 1, 2] (got {clip(repr(v), 40)})")
        raise ValueError(f"must be a number from 0 to {MAX_SHIFT} (below 1: a fraction of the size; from 1 up: pixels; an int "
                         f"N: whole pixels in (-N, N)) or a list of such numbers, as Keras takes it (got {clip(repr(v), 40)})")

    @model_validator(mode="after")
    def _cval_is_for_constant(self) -> AugmentConfig:
        if self.cval and self.fill_mode != "constant":
            warnings.warn(f'augment.cval = {self.cval:g} fills only with fill_mode = "constant"; "{self.fill_mode}" '
                          f"does not use it", SpecWarning, stacklevel=user_level())
        return self

    def is_identity(self) -> bool:
        """Whether no image is changed: every transform at its default (the fill settings aside)."""
        return all(getattr(self, k) == f.default for k, f in type(self).model_fields.items() if k not in ("fill_mode", "cval"))


def _plain(v: Any) -> Any:
    """Python's own types for what Keras users pass from Python: a tuple as a list, numpy numbers as int / float."""
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return int(v)
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        return float(v)
    return v


def _is_number(v: Any) -> bool:
    """A finite int or float, not a bool (TOML's true is no number of pixels); an int of any size."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and (isinstance(v, int) or math.isfinite(v))


# -------------------------------------------------------------------------------------- callbacks
Mode = Literal["auto", "min", "max"]


class StopAtLossConfig(BaseModel):
    """Stop once the monitored value (training loss) falls below ``threshold`` (seed 001)."""

    model_config = _FROZEN
    type: Literal["StopAtLoss"] = "StopAtLoss"
    threshold: float
    monitor: str = "loss"


class EarlyStoppingConfig(BaseModel):
    """Keras EarlyStopping: stop after ``patience`` epochs without improvement."""

    model_config = _FROZEN
    type: Literal["EarlyStopping"] = "EarlyStopping"
    monitor: str = "val_loss"
    min_delta: float = Field(0.0, ge=0)
    patience: int = Field(0, ge=0)
    mode: Mode = "auto"
    baseline: float | None = None
    restore_best_weights: bool = False
    start_from_epoch: int = Field(0, ge=0)
    verbose: KerasVerbose = Field(0, ge=0, exclude=True)  # Keras's: 1 says the stop; left out of the run's key, as it prints only


class ReduceLROnPlateauConfig(BaseModel):
    """Keras ReduceLROnPlateau: multiply the lr by ``factor`` after ``patience`` flat epochs."""

    model_config = _FROZEN
    type: Literal["ReduceLROnPlateau"] = "ReduceLROnPlateau"
    monitor: str = "val_loss"
    factor: float = Field(0.1, gt=0, lt=1)
    patience: int = Field(10, ge=0)
    mode: Mode = "auto"
    min_delta: float = Field(1e-4, ge=0)
    cooldown: int = Field(0, ge=0)
    min_lr: float = Field(0.0, ge=0)
    verbose: KerasVerbose = Field(0, ge=0, exclude=True)  # Keras's: 1 says each reduction; left out of the run's key


class ModelCheckpointConfig(BaseModel):
    """Keras ModelCheckpoint: save the weights (safetensors) after each epoch.

    ``filepath`` may hold ``{epoch}`` and any logs key, e.g. ``"ckpt/e{epoch:02d}-{val_accuracy:.4f}.safetensors"``.
    """

    model_config = _FROZEN
    type: Literal["ModelCheckpoint"] = "ModelCheckpoint"
    filepath: str  # required, as Keras's (helper-143: a default was written beside wherever mnistlab ran)
    monitor: str = "val_loss"
    save_best_only: bool = False
    mode: Mode = "auto"
    initial_value_threshold: float | None = None  # the best value to beat before the first save (save_best_only)
    # Keras's switch between weights and the whole model: mnistlab writes weights alone, so only
    # true is taken (left out of the dump: a config that writes it is the same run as one without)
    save_weights_only: bool = Field(True, exclude=True)
    save_freq: Literal["epoch"] = Field("epoch", exclude=True)  # Keras's default; every N batches is not offered
    verbose: KerasVerbose = Field(0, ge=0, exclude=True)  # Keras's: 1 says each save

    @field_validator("save_weights_only")
    @classmethod
    def _weights_only(cls, v: bool) -> bool:
        if not v:
            raise ValueError("mnistlab saves the weights alone (safetensors), not Keras's whole-model .keras file: "
                             "leave it out, or true")
        return v


RAW_RESTORED = "EarlyStopping(restore_best_weights) ends the run with the raw weights of its best epoch"


def ema_replaced(where: str, python: bool = False) -> str:
    """The warning for an EarlyStopping that restores its best epoch's raw weights over the EMA,
    no SwapEMAWeights(swap_on_epoch) before it (Keras does the same); ``python``: said to a caller
    of ``train()``, in its words."""
    setting, swap = ("use_ema", "swap_on_epoch=True") if python else ("train.use_ema", "swap_on_epoch = true")
    return (f"{where}: {RAW_RESTORED}, replacing {setting}'s average (as in Keras); to keep the average, put "
            f"SwapEMAWeights({swap}) before it")


class SwapEMAWeightsConfig(BaseModel):
    """Keras SwapEMAWeights: validate with the averaged weights of ``train.use_ema``; with
    ``swap_on_epoch`` the callbacks after it (EarlyStopping, ModelCheckpoint) see and keep them too."""

    model_config = _FROZEN
    type: Literal["SwapEMAWeights"] = "SwapEMAWeights"
    swap_on_epoch: bool = False


class PythonCallbackConfig(BaseModel):
    """A callback object of the user's own class that a run trained with (``mnistlab.train(callbacks=
    [MyCallback()])``), recorded by its class and its plain settings when training began
    (:func:`~mnistlab.run.callback_table`): part of the run's key, so that no sweep takes that run for
    one without it (helper-251: a sweep reused a run a callback had changed). A config cannot rebuild
    the object: training from such a config is refused before anything trains
    (:func:`~mnistlab.run.setting_mistakes`). Not a type to write in a file."""

    model_config = _FROZEN
    type: Literal["Python"] = "Python"
    class_name: str  # "module.QualName", e.g. "__main__.HalveLR"
    settings: dict[str, Any] = {}  # its public attributes of plain values (numbers, strings, booleans, None)


CallbackConfig = Annotated[
    StopAtLossConfig | EarlyStoppingConfig | ReduceLROnPlateauConfig | ModelCheckpointConfig | SwapEMAWeightsConfig
    | PythonCallbackConfig,
    Field(discriminator="type"),
]
CALLBACKS: dict[str, type[BaseModel]] = {
    "StopAtLoss": StopAtLossConfig,
    "EarlyStopping": EarlyStoppingConfig,
    "ReduceLROnPlateau": ReduceLROnPlateauConfig,
    "ModelCheckpoint": ModelCheckpointConfig,
    "SwapEMAWeights": SwapEMAWeightsConfig,
}
# Keras's callbacks whose work mnistlab does without one (lower-case type -> what does it): said
# instead of "unknown type" (helper-155: TerminateOnNaN was unknown, not said to be built in)
KERAS_CALLBACKS_ELSEWHERE = {name.lower(): (name, how) for name, how in {
    "TerminateOnNaN": "a run whose loss turns NaN (or blows up far past chance level) always stops here, recorded as "
                      "diverged: leave it out",
    "History": "every run's epoch logs are recorded in the store (`mnistlab show RUN_ID`): leave it out",
    "CSVLogger": "every run's epoch logs are recorded in the store: `mnistlab show RUN_ID --format json` gives its "
                 "history",
    "TensorBoard": "the curves are `mnistlab plot history RUN_ID` and `mnistlab report EXPERIMENT`",
    "LearningRateScheduler": 'a schedule of the learning rate is train.schedule = { type = "step" }, "cosine", '
                             '"onecycle" or "exponential" (lambda epoch: lr * 0.9 ** epoch is { type = "step", '
                             "step_size = 1, gamma = 0.9 }; a Python callback may set self.model.lr in on_epoch_begin)",
    "BackupAndRestore": "a stopped `mnistlab run` continues each cell from its last checkpoint when run again, and "
                        "`mnistlab train --checkpoint-dir DIR --resume` a run: leave it out",
    "ProgbarLogger": "the progress lines are `mnistlab train --progress`'s: leave it out",
}.items()}


def _table_or_off(v: Any, cls: type[BaseModel], key: str, example: str) -> Any:
    """A setting that is a table of settings or nothing: ``false`` (or None) is nothing, a table (or
    ``cls``) is itself; ValueError saying what to write otherwise."""
    if v is False or v is None:
        return None
    if isinstance(v, (Mapping, cls)):
        return v
    raise ValueError(f"must be a table of settings, e.g. {key} = {example}, or false for none, got {show(v)}")


# ------------------------------------------------------------------------------------- evaluation
class TTAConfig(BaseModel):
    """Test-time augmentation: the test score averages the softmax over the image and a few fixed
    shifted, rotated or mirrored copies of it.

    Views: the image itself; with ``shift`` > 0 also the image moved ``shift`` pixels left, right,
    up and down (4 more); with ``rotation`` > 0 also the image turned by +-``rotation`` degrees
    (2 more); with ``flip`` also the image mirrored left-right (1 more: fastai's ``tta`` default,
    for clothes, which a mirror leaves what they are; never for digits, which it does not). All off
    = the image alone, which scores exactly as plain evaluation."""

    model_config = _FROZEN
    shift: int = Field(0, ge=0, le=4)  # pixels
    rotation: float = Field(0.0, ge=0, le=30)  # degrees
    flip: StrictBool = False  # (off, no part of a run's key: runs recorded before it keep theirs)


class EvaluateConfig(BaseModel):
    """How the trained model is scored on the test set (once, after training)."""

    model_config = _FROZEN
    #: test-time augmentation; the run records ``tta_test_accuracy``, ``tta_test_loss`` and
    #: ``tta_views`` beside the plain ``test_accuracy``, and with validation images of its own
    #: ``tta_val_accuracy`` and ``tta_val_gain``, to choose TTA on (None = no TTA)
    tta: TTAConfig | None = None

    @field_validator("tta", mode="before")
    @classmethod
    def _tta_off(cls, v: Any) -> Any:
        return _table_or_off(v, TTAConfig, "evaluate.tta", "{ shift = 1, rotation = 8.0 }")


# ------------------------------------------------------------------------------------- initial weights
WEIGHTS_SUFFIX = ".safetensors"


class WeightsConfig(BaseModel):
    """Trained weights a run starts from instead of a fresh initialisation: Keras's
    ``model.load_weights(file, skip_mismatch=...)`` before ``fit`` (:mod:`mnistlab.initial_weights`)."""

    model_config = _FROZEN
    #: a safetensors file: one ``mnistlab export RUN -o FILE.safetensors`` wrote, or a run's own
    #: ``runs/<run id>/weights.safetensors`` in the store; recorded by its absolute path, keyed by its SHA-256
    file: str = Field(min_length=1)
    #: Keras's ``skip_mismatch``: a layer whose weights are missing from the file or shaped otherwise keeps
    #: its fresh initialisation (a new output layer for other classes), with a warning; false: an error
    skip_mismatch: bool = False
    #: the experiment variant whose trained run ``file`` is, where an experiment file's ``weights = {
    #: variant = ... }`` started the run (written by it, not the user): each seed's run starts from another
    #: file, and this names them alike (tables, settings compared), where the run key holds each file's SHA-256
    variant: str | None = None

    @field_validator("file")
    @classmethod
    def _safetensors(cls, v: str) -> str:
        """Absolute and canonical (found again from any folder); a suffix mnistlab does not read refused."""
        suffix = Path(v).suffix.lower()
        if v.lower().endswith((".weights.h5", ".h5", ".hdf5", ".keras")):
            raise ValueError(f"{v!r} is a Keras file, which mnistlab does not read: start from a run of mnistlab's, "
                             "exported with `mnistlab export RUN -o FILE.safetensors` (or its runs/<id>/weights.safetensors)")
        from mnistlab.store import run_id_like

        name = Path(v).name
        if not suffix and run_id_like(name):  # a run id: the command line's (and train()'s, given a store)
            raise ValueError(f"{name!r} looks like a run id, which `--weights {name}` takes on the command line: in a "
                             f"config, name the run's weights file, runs/{name}/weights.safetensors in its store (or "
                             f"export them: `mnistlab export {name} -o FILE.safetensors`)")
        if suffix != WEIGHTS_SUFFIX:
            hint = f'; in an experiment file, weights = {{ variant = "{name}" }} starts from that variant\'s runs' if (
                not suffix) else ""  # (helper-208: the name of a variant of the file read as a file's)
            raise ValueError(f"{v!r}: the weights are a {WEIGHTS_SUFFIX} file (`mnistlab export RUN -o FILE.safetensors` "
                             f"writes one; a run's runs/<id>/weights.safetensors is one){hint}")
        path = Path(v).expanduser()
        return str(path.resolve()) if path.is_file() else v


def weights_beside(weights: Any, folder: str | os.PathLike) -> Any:
    """``weights`` as written in a config or experiment file (a path, or a table with ``file``) as a
    table, a relative path made relative to that file's ``folder``, as data paths and spec files are:
    a table, so that a variant's ``"weights.skip_mismatch" = true`` (or ``--set``) goes on a base's
    ``weights = "FILE"`` (helper-203: "weights is not a table"). Other values (false, wrong types:
    validation says so) pass through unchanged."""
    def beside(text: Any) -> Any:
        if not isinstance(text, str) or not text or Path(text).expanduser().is_absolute():
            return text
        return str(Path(folder) / text)

    if isinstance(weights, Mapping) and "file" in weights:
        return {**weights, "file": beside(weights["file"])}
    if isinstance(weights, str) and weights.strip():
        return {"file": beside(weights)}
    return weights


# ------------------------------------------------------------------------------------- run config
def data_shuffled(resolved: Mapping[str, Any]) -> bool:
    """:attr:`RunConfig.shuffles_data` of a recorded run's resolved config: false for runs recorded
    before ``data.shuffle`` was (a folder's images then came class by class)."""
    return (resolved.get("data") or {}).get("shuffle") is True


def split_seed(resolved: Mapping[str, Any]) -> int:
    """:attr:`RunConfig.split_seed` of a recorded run's resolved config: ``data.split_seed``, which
    :meth:`RunConfig.resolved` spells out, else ``train.seed`` (0 where neither is recorded)."""
    data, train = resolved.get("data") or {}, resolved.get("train") or {}
    seed = data.get("split_seed") if data.get("split_seed") is not None else train.get("seed")
    return int(seed or 0)


def test_seed(resolved: Mapping[str, Any]) -> int:
    """The seed that held a recorded run's test split out of the user's own data (no test file):
    ``data.test_seed``, which :meth:`RunConfig.resolved` writes for such data; a run recorded before
    it was written carved its split with its :func:`split_seed` (helper-191: a committee's members
    were each scored on their own test set, averaged row by row as if one)."""
    data = resolved.get("data") or {}
    return int(data["test_seed"]) if data.get("test_seed") is not None else split_seed(resolved)


class RunConfig(BaseModel):
    """One training run. Build it with :func:`parse_run_config`; it is frozen."""

    model_config = _FROZEN
    dataset: str | dict[str, Any]  # a registered name, a path, or {csv|folder|npz|idx = ..., test = ...}
    model: str | dict[str, Any] | list[Any]  # preset name / spec file path / inline spec
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    augment: AugmentConfig | None = None  # false in a file: none (a variant without the base's augmentation)
    callbacks: list[CallbackConfig] = []
    evaluate: EvaluateConfig = EvaluateConfig()
    weights: WeightsConfig | None = None  # start from trained weights (Keras's load_weights); None: fresh

    @field_validator("weights", mode="before")
    @classmethod
    def _weights_file(cls, v: Any) -> Any:
        """``weights = "FILE"``: ``{ file = "FILE" }``; false or None: a fresh initialisation."""
        if v is False or v is None:
            return None
        if isinstance(v, (str, os.PathLike)):
            if not os.fspath(v).strip():
                raise ValueError('is empty: name a .safetensors file (weights = "base.safetensors"), or false for none')
            return {"file": os.fspath(v)}
        if isinstance(v, (Mapping, WeightsConfig)):
            return v
        raise ValueError(f'must be a safetensors file, weights = "base.safetensors", or a table '
                         f'{{ file = "base.safetensors", skip_mismatch = true }} (in an experiment file also '
                         f'{{ variant = "NAME" }}, another variant\'s runs), got {show(v)}')

    @field_validator("augment", mode="before")
    @classmethod
    def _augment_off(cls, v: Any) -> Any:
        if v is False:
            return None
        if v is None or isinstance(v, (Mapping, AugmentConfig)):
            return v
        layers = (" (Keras 3's preprocessing layers are written as ImageDataGenerator's arguments here: RandomRotation(0.1) "
                  "is rotation_range = 36, RandomFlip(\"horizontal\") horizontal_flip = true)" if isinstance(v, list) else "")
        raise ValueError(f"must be a table of settings ([augment]) or false for no augmentation, got {show(v)}{layers}")

    @field_validator("data")
    @classmethod
    def _shuffle_own_data(cls, v: DataConfig, info: ValidationInfo) -> DataConfig:
        from mnistlab.data.registry import is_registered

        dataset = info.data.get("dataset")
        if v.shuffle and is_registered(dataset):
            raise ValueError(f"{dataset} comes in its published order (already shuffled); "
                             "shuffle is for your own data: a folder, a CSV, an .npz (got shuffle = true)")
        return v

    @field_validator("dataset", mode="before")
    @classmethod
    def _not_arrays(cls, v: Any) -> Any:
        """Keras's ``fit(x, y)`` written as ``dataset=(x, y)``: said what to give instead, not
        "must be a valid string" over a page of printed pixels."""
        if isinstance(v, (tuple, list)) and v and all(isinstance(p, (str, os.PathLike)) for p in v):
            raise ValueError("is one path or a table, not a list of files: a training file and a test file are "
                             "{ csv = \"train.csv\", test = \"test.csv\" } (a dict in Python)")
        if isinstance(v, (tuple, list)) or hasattr(v, "__array__") or (
                hasattr(v, "__getitem__") and hasattr(v, "__len__") and not isinstance(v, (str, Mapping))):
            raise ValueError("is a name, a path or a table here; arrays in memory are mnistlab.train()'s: (x, y), "
                             "((x_train, y_train), (x_test, y_test)) as keras.datasets.mnist.load_data() gives them, "
                             "or a PyTorch Dataset of (image, label) items")
        return v

    @field_validator("dataset")
    @classmethod
    def _absolute_data(cls, v: Any) -> Any:
        """The user's data recorded by its canonical absolute path, so that a run finds its data
        again from any folder (its key holds the content: :func:`_hashed`)."""
        from mnistlab.data.userdata import absolute_data

        return absolute_data(v)

    def model_spec(self) -> ModelSpec:
        """The model's :class:`~mnistlab.specs.ModelSpec` (presets and files resolved).

        Resolved once per config and kept: a run asks for it several times (summary, build,
        record), and a spec file is read only once. Bad models raise SpecError.
        """
        # The config is frozen, so the cache goes straight into __dict__ (pydantic ignores keys
        # that are not fields there); it remembers which `model` it resolved, so a model_copy
        # with another model resolves afresh.
        cached = self.__dict__.get("_model_spec")
        if cached is None or cached[0] is not self.model:
            cached = (self.model, resolve_model(self.model))
            self.__dict__["_model_spec"] = cached
        return cached[1]

    def resolved(self) -> dict[str, Any]:
        """Fully resolved plain dict: the model expanded to its layer spec dict, the lr, weight decay,
        beta_1, beta_2, epsilon, rho and initial_accumulator_value filled with the optimizer's defaults, every
        section present. JSON/TOML safe and hashable with ``json.dumps(sort_keys=True)``;
        ``parse_run_config(cfg.resolved())`` round-trips.
        """
        d = self.model_dump(mode="json")
        d["model"] = self.model_spec().to_dict()
        d["train"]["lr"] = self.lr
        d["train"]["weight_decay"] = self.weight_decay
        defaults = optimizer_defaults(self.train.optimizer)
        for key, (known, at) in _OWN_DEFAULTS.items():
            if d["train"][key] is None and known in defaults:  # Keras's default for this optimizer (None: it has none)
                d["train"][key] = defaults[known] if at is None else defaults[known][at]
        d["data"]["split_seed"] = self.split_seed
        from mnistlab.data.userdata import carves_test_split

        if carves_test_split(self.dataset):  # written only there: the configs (and keys) of other runs are as before
            d["data"]["test_seed"] = self.test_seed
        else:
            del d["data"]["test_seed"]
        if self.shuffles_data:  # written only where true: the configs (and keys) of other runs are as before
            d["data"]["shuffle"] = True
        else:
            del d["data"]["shuffle"]
        if self.weights is None:  # written only where given: the configs (and keys) of other runs are as before
            del d["weights"]
        elif d["weights"].get("variant") is None:  # (an experiment's start alone names one)
            d["weights"].pop("variant", None)
        return d

    @property
    def shuffles_data(self) -> bool:
        """Whether the user's own images are taken in a shuffled order (``data.shuffle``; by default
        a folder of class folders is, a CSV or an .npz is not): :func:`data_shuffled` of :meth:`resolved`."""
        from mnistlab.data.userdata import is_folder_dataset

        return self.data.shuffle if self.data.shuffle is not None else is_folder_dataset(self.dataset)

    @property
    def split_seed(self) -> int:
        """The seed of this run's validation split: ``data.split_seed``, else ``train.seed`` (see
        :func:`split_seed`)."""
        return self.data.split_seed if self.data.split_seed is not None else self.train.seed

    @property
    def test_seed(self) -> int:
        """The seed of the test split held out of the user's own data without a test file:
        ``data.test_seed``, else 0, whatever ``train.seed`` (see :func:`test_seed`)."""
        return self.data.test_seed if self.data.test_seed is not None else 0

    @property
    def lr(self) -> float:
        """The learning rate this run starts from: ``train.lr``, else the optimizer's Keras default
        (:func:`optimizer_defaults`, the one registry of those defaults)."""
        return self.train.lr if self.train.lr is not None else optimizer_defaults(self.train.optimizer)["lr"]

    @property
    def weight_decay(self) -> float:
        """The decoupled weight decay: ``train.weight_decay``, else the optimizer's Keras default
        (0.0 for optimizers without one)."""
        if self.train.weight_decay is not None:
            return self.train.weight_decay
        return optimizer_defaults(self.train.optimizer).get("weight_decay", 0.0)


#: What a run trains when nothing says otherwise: the dataset and model of a bare ``mnistlab train``
#: and of ``mnistlab.train()``, also under a config file that names neither (an empty file is an
#: error: build_run_config); every other default is a field default of the sections above, so
#: defaults live in this file only.
RUN_DEFAULTS: Mapping[str, Any] = MappingProxyType({"dataset": "fashion-mnist", "model": "seed000-cnn"})
_SECTIONS: dict[str, type[BaseModel]] = {"train": TrainConfig, "data": DataConfig, "augment": AugmentConfig,
                                         "evaluate": EvaluateConfig}



def with_threads(raw: Mapping[str, Any], threads: int) -> dict[str, Any]:
    """A copy of the run config ``raw`` (plain data) that trains with ``threads`` (a worker's share
    of the cores, or a Ray task's CPUs; 0: unchanged) unless it sets ``train.threads`` itself:
    the user's count always wins, so a cell gives the same digits locally, with ``-j`` and on Ray."""
    out = copy.deepcopy(dict(raw))
    if threads and not (out.get("train") or {}).get("threads"):
        out["train"] = {**(out.get("train") or {}), "threads": threads}
    return out

def setting_default(key: str) -> Any:
    """The default of one setting, read from the schema: ``"dataset"`` and ``"model"`` (from
    :data:`RUN_DEFAULTS`), a dotted field (``"train.epochs"``, ``"augment.zoom_range"``) or a flat
    train/data field name (``"epochs"``, ``"validation"``). None means derived at run time (lr and
    weight decay: the optimizer's Keras default). Unknown names raise SpecError.

    >>> setting_default("epochs"), setting_default("dataset")
    (5, 'fashion-mnist')
    """
    if key in RUN_DEFAULTS:
        return RUN_DEFAULTS[key]
    section, _, name = setting_path(key).rpartition(".")
    cls = _SECTIONS.get(section)
    if cls is None or name not in cls.model_fields:
        choices = [*RUN_DEFAULTS, *_FLAT_SECTIONS]
        raise SpecError(f'unknown setting "{key}"{did_you_mean(key, choices)}', path=tuple(key.split(".")))
    return cls.model_fields[name].default


# ------------------------------------------------------------------------------------ the boundary
def parse_run_config(d: Mapping[str, Any], *, source: str = "<config>", check_model: bool = True,
                     check_callbacks: bool = True) -> RunConfig:
    """Validate a plain dict (from TOML, JSON or Python) into a :class:`RunConfig`.

    Raises :class:`SpecError` ``"<source>: <key.path>: <what is wrong>"`` for the first problem;
    its ``path`` is the key path (``("train", "lr")``), its ``source`` is ``source``. With
    ``check_model`` the model is resolved now (unknown presets and bad specs fail here, not
    minutes into an experiment). Callbacks may only watch values a run logs (a monitor or a
    checkpoint filepath key such as Keras 2's ``val_acc`` fails here, with a did-you-mean);
    ``check_callbacks=False`` skips only the check that those watching ``val_*`` values have
    validation data (for an experiment's ``[base]``, whose variants may add it, and for runs given
    validation arrays).

    >>> cfg = parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"epochs": 2}})
    >>> cfg.train.batch_size
    32
    """
    if not isinstance(d, Mapping):
        raise SpecError(f"{source}: a run config must be a table, got {type_name(d)}", source=source)
    d = _python_forms(dict(plain_data(d)), source)  # NumPy numbers of a Python caller's, as a file writes them
    if "callbacks" in d:
        cbs = d["callbacks"]
        if not isinstance(cbs, (list, tuple)):
            one = (f"; a callback goes in a list: callbacks=[{cbs.__name__}(...)]" if isinstance(cbs, type) else
                   "; a callback goes in a list: callbacks=[...]" if hasattr(cbs, "on_epoch_end") else "")  # (helper-213)
            raise SpecError(f"{source}: callbacks: must be a list of tables ([[callbacks]]), got {type_name(cbs)}{one}",
                            path=("callbacks",), source=source)
        d["callbacks"] = [_python_callback(cb, source, i) if isinstance(cb, Mapping) and cb.get("type") == "Python"
                          else _typed(cb, CALLBACKS, source, ("callbacks", i), elsewhere=KERAS_CALLBACKS_ELSEWHERE)
                          for i, cb in enumerate(cbs)]
    try:
        cfg = RunConfig.model_validate(d)
    except ValidationError as exc:
        # its dataset and model are checked too where they are not among the keys at fault, so that
        # a misspelt preset name is not said only once the typo beside it is mended
        wrong = {e["loc"][0] for e in exc.errors() if e["loc"]}
        later = [m for key, check in (("dataset", _dataset_mistake), ("model", _model_mistake if check_model else None))
                 if check is not None and key in d and key not in wrong and (m := check(d[key], source)) is not None]
        raise _validation_error(exc, source, RunConfig, later=later) from None
    if (mistake := _dataset_mistake(cfg.dataset, source)) is not None:
        raise mistake
    _check_callbacks(cfg, source, validation=bool(cfg.data.validation) or not check_callbacks)
    if check_model:
        try:
            spec = cfg.model_spec()
        except MnistlabError as exc:
            raise _model_error(exc, cfg.model, source) from None
        if cfg.train.swa is not None and (frozen := _frozen_batch_norm(spec)) is not None:
            raise SpecError(f"{source}: train.swa recomputes every BatchNormalization's moving statistics after the fit, "
                            f"and layers[{frozen}] freezes one (trainable = false keeps them): average with "
                            "train.use_ema instead, or leave that layer trainable", path=("train", "swa"), source=source)
    return cfg


def _frozen_batch_norm(spec: ModelSpec) -> int | None:
    """The index of the first frozen layer of ``spec`` that holds a BatchNormalization (a block's too), or None."""
    from mnistlab.specs import keras_graph

    return next((node.owner for node in keras_graph(spec)
                 if node.type == "BatchNormalization" and not spec.layers[node.owner].trainable), None)


def _model_mistake(model: Any, source: str) -> SpecError | None:
    """The SpecError of a model (a preset name, a spec file, a written spec) that cannot be
    resolved (:func:`~mnistlab.presets.resolve_model`), or None."""
    try:
        resolve_model(model)
    except MnistlabError as exc:
        return _model_error(exc, model, source)
    return None


def _model_error(exc: MnistlabError, model: Any, source: str) -> SpecError:
    """``exc``, raised resolving ``model``, as the config's ``model`` mistake. An inline model's path
    goes on into its layers; a spec file's or a preset's stops at ``model``: the spec file's lines
    are its own (its error names them), not this file's."""
    inner = tuple(exc.path) if isinstance(exc, SpecError) and not isinstance(model, str) else ()
    return SpecError(f"{source}: model: {exc}", path=("model", *inner), source=source)


def parse_augment(settings: Mapping[str, Any], *, source: str = "command line") -> AugmentConfig:
    """Validate an ``[augment]`` table on its own (``mnistlab show-augment``); bad keys and values
    raise a one-line SpecError ``"<source>: augment.<key>: ..."`` with path ``("augment", key)``."""
    if not isinstance(settings, Mapping):
        raise SpecError(f"{source}: augment: must be a table of settings ([augment]), got {show(settings)}",
                        path=("augment",), source=source)
    try:
        return AugmentConfig.model_validate(settings)
    except ValidationError as exc:
        raise _validation_error(exc, source, AugmentConfig, prefix=("augment",)) from None


def _schedule(schedule: Any, source: str) -> BaseModel:
    """A ``train.schedule`` table as its class (:data:`SCHEDULES`); SpecError for a function, Keras's
    ``LearningRateScheduler(fn)``'s (helper-245: "must be a valid dictionary ...")."""
    if callable(schedule):
        raise SpecError(f"{source}: train.schedule: a function is no schedule here: write a table, {{ type = \"step\", "
                        "step_size = 1, gamma = 0.9 } (lr * 0.9 ** epoch), \"exponential\", \"cosine\" or \"onecycle\", or "
                        "set self.model.lr in a mnistlab.Callback's on_epoch_begin, as a LearningRateScheduler would",
                        path=("train", "schedule"), source=source)
    return _typed(schedule, SCHEDULES, source, ("train", "schedule"), lower=True)


def _typed(obj: Any, registry: Mapping[str, type[BaseModel]], source: str, where: tuple[str | int, ...], *,
           lower: bool = False, elsewhere: Mapping[str, tuple[str, str]] | None = None) -> BaseModel:
    """Validate one ``{type = ..., ...}`` table (at path ``where``) against the class its type names;
    ``elsewhere``: types of Keras's that mnistlab does otherwise (lower case -> Keras's name, and
    how), said instead of "unknown"."""
    label = _dotted(where)
    if isinstance(obj, type) and hasattr(obj, "on_epoch_end"):  # (helper-211: callbacks=[Callback] said "must be a
        # table with a type, got type")
        raise SpecError(f"{source}: {label}: the class {obj.__name__} itself: give an instance, {obj.__name__}(...), "
                        "as Keras takes callbacks", path=where, source=source)
    ours = not isinstance(obj, Mapping) and any(c.__module__ == "mnistlab.callbacks" and c.__name__ == "Callback"
                                                for c in type(obj).__mro__)
    if ours or (not isinstance(obj, Mapping) and any(hasattr(obj, f"on_{e}") for e in (
            "epoch_end", "epoch_begin", "train_begin", "train_end", "batch_end"))):
        if ours or source != "train()":  # an experiment takes no object (helper-251, -253: told to subclass what it was)
            raise SpecError(f"{source}: {label}: a callback object ({type(obj).__name__}) is for mnistlab.train(); an "
                            "experiment takes callbacks as tables, which it records and may run in other processes: "
                            "{\"type\": \"EarlyStopping\", \"patience\": 3}", path=where, source=source)
        raise SpecError(f"{source}: {label}: {type(obj).__name__} has Keras's callback methods but is no "
                        "mnistlab.Callback: subclass mnistlab.Callback (as Keras's keras.callbacks.Callback), or give "
                        "a table such as {\"type\": \"EarlyStopping\"}", path=where, source=source)  # (helper-228)
    if not isinstance(obj, Mapping):
        raise SpecError(f"{source}: {label}: must be a table with a type, got {type_name(obj)}",
                        path=where, source=source)
    name = obj.get("type")
    if not isinstance(name, str):
        raise SpecError(f"{source}: {label}: missing type; choose from {', '.join(registry)}", path=where, source=source)
    by_lower = {k.lower(): k for k in registry}
    key = by_lower.get(name.lower())
    if key is None and (instead := (elsewhere or {}).get(name.strip().lower())):  # as Keras names it (a layer's,
        raise SpecError(f"{source}: {label}: Keras's {instead[0]} is no {str(where[0]).rstrip('s')} mnistlab takes: "  # an
                        f"{instead[1]}", path=(*where, "type"), source=source)  # initializer's words)
    if key is None:
        raise SpecError(
            f'{source}: {label}: unknown type "{name}"{did_you_mean(name, registry)}; choose from {", ".join(registry)}',
            path=where, source=source)
    cls = registry[key]
    try:
        return cls.model_validate({**obj, "type": key})
    except ValidationError as exc:
        raise _validation_error(exc, source, cls, prefix=where) from None


def is_a(obj: Any, module: str, name: str) -> bool:
    """Whether ``obj`` is an instance (or ``obj`` a subclass) of the class ``module.name``, by its
    classes' names: torch's, without importing torch to ask."""
    classes = obj.__mro__ if isinstance(obj, type) else type(obj).__mro__
    return any(c.__module__.startswith(module) and c.__name__ == name for c in classes)


def torch_objects_said(model: Any, optimizer: Any, source: str) -> None:
    """SpecError, in PyTorch's words, for a torch ``nn.Module`` model or a ``torch.optim`` optimizer,
    which a config does not take (helper-251, -253: "must be a valid string (got Net(...))")."""
    if is_a(model, "torch.nn", "Module"):
        raise SpecError(f"{source}: model: a torch nn.Module ({type(model).__name__}) is not taken: mnistlab builds its "
                        "models from layers in Keras's words, so that it can record, compare, summarise and export "
                        "them: a preset's name, ModelSpec(layers=[Conv2D(32, 3, activation=\"relu\"), ...]), a spec "
                        "file or a Keras model's JSON", path=("model",), source=source)
    if optimizer is not None and is_a(optimizer, "torch.optim", "Optimizer"):
        name = (optimizer if isinstance(optimizer, type) else type(optimizer)).__name__.lower()
        raise SpecError(f'{source}: train.optimizer: give its name, optimizer="{name}" (mnistlab builds Keras\'s '
                        "optimizers by name, their settings lr, momentum, weight_decay ...), not a torch.optim class "
                        "or object", path=("train", "optimizer"), source=source)


def _python_forms(d: dict[str, Any], source: str) -> dict[str, Any]:
    """A run config's model and schedule as the schema reads them: a ``ModelSpec`` as its table
    (helper-251: one in an experiment given in Python was "no valid string"), a schedule's type alone
    as ``{"type": ...}`` (its defaults), a schedule function or table checked (:func:`_schedule`).
    SpecError (one line) for a word that names no schedule (helper-248: pydantic's words)."""
    if callable(getattr(d.get("model"), "to_dict", None)) and type(d["model"]).__name__ == "ModelSpec":
        d["model"] = d["model"].to_dict()
    torch_objects_said(d.get("model"), (d.get("train") or {}).get("optimizer") if isinstance(d.get("train"), Mapping)
                       else None, source)
    train = d.get("train")
    if isinstance(train, Mapping) and isinstance(word := train.get("schedule"), str) and word.strip().lower() in SCHEDULES:
        d["train"] = train = {**train, "schedule": {"type": word.strip().lower()}}
    if isinstance(train, Mapping) and isinstance(word := train.get("schedule"), str):
        raise SpecError(f'{source}: train.schedule: unknown schedule {toml_repr(word)}{did_you_mean(word, list(SCHEDULES))}'
                        f"; types: {', '.join(SCHEDULES)} (a type alone takes its defaults; a table sets them, "
                        '{ type = "cosine", min_lr = 1e-5 })', path=("train", "schedule"), source=source)
    if isinstance(train, Mapping) and (callable(train.get("schedule")) or isinstance(train.get("schedule"), Mapping)):
        d["train"] = {**train, "schedule": _schedule(train["schedule"], source)}
    return d


def _python_callback(obj: Mapping[str, Any], source: str, i: int) -> PythonCallbackConfig:
    """A recorded run's entry for a callback object of the user's own (:class:`PythonCallbackConfig`)."""
    try:
        return PythonCallbackConfig.model_validate(obj)
    except ValidationError as exc:
        raise _validation_error(exc, source, PythonCallbackConfig, prefix=("callbacks", i)) from None


def _dotted(path: Sequence[str | int]) -> str:
    """``("callbacks", 0, "monitor")`` -> ``"callbacks[0].monitor"``: a key path as messages write it."""
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")


def _validation_error(exc: ValidationError, source: str, cls: type[BaseModel],
                      prefix: tuple[str | int, ...] = (), later: Sequence[SpecError] = ()) -> SpecError:
    """One line for every problem pydantic found: the first in full (source, dotted key path,
    problem, did-you-mean, the keys the table knows), then ``; and 2 more: train.lr: must be ...;
    data.valdation: unknown key (did you mean "validation"?)`` for the rest, so that a file with
    three typos is mended in one go (each also in full in the error's ``apart``, for an experiment
    file to say each at its line). The error's path is the first problem's: ``prefix`` plus
    pydantic's location (``cls`` is the model validated there). A key missing beside an unknown key
    of the same table is left unsaid (most often the same key, mistyped: ``modle`` for ``model``),
    and so is a union's second reading of one value. ``later``: mistakes found beside pydantic's
    (each a SpecError whose message starts with ``source``), said after them."""
    errors: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and _is_union_tag(p)))
        if loc not in seen:
            seen.add(loc)
            errors.append({**err, "loc": loc})
    unknown_in = {e["loc"][:-1] for e in errors if e["type"] == "extra_forbidden"}
    errors = [e for e in errors if not (e["type"] == "missing" and e["loc"][:-1] in unknown_in)]
    first = _one_problem(errors[0], source, cls, prefix)
    if len(errors) == 1 and not later:
        return first
    rest = "; ".join([*(str(_one_problem(e, source, cls, prefix, brief=True)) for e in errors[1:]),
                      *(str(m).removeprefix(f"{source}: ") for m in later)])
    together = SpecError(f"{first}; and {len(errors) + len(later) - 1} more: {rest}", path=first.path, source=source)
    together.apart = (first, *(_one_problem(e, source, cls, prefix) for e in errors[1:]), *later)  # a file's: a line each
    return together


def _one_problem(err: Mapping[str, Any], source: str, cls: type[BaseModel], prefix: tuple[str | int, ...],
                 brief: bool = False) -> SpecError:
    """The message for one pydantic error (its ``loc`` without union tags); ``brief``: without the
    source and the list of known keys, as :func:`_validation_error` gives the second and later."""
    loc = tuple(err["loc"])
    path = (*prefix, *loc)
    dotted = _dotted(path)
    at = "" if brief else f"{source}: "
    if err["type"] == "extra_forbidden":
        if path[-2:-1] == ("augment",) and (instead := augment_key_hint(str(loc[-1]))):
            return SpecError(f"{at}{dotted}: {instead}", path=path, source=source)
        if path[-2:-1] == ("train",) and (instead := KERAS_OPTIMIZER_NOT_OFFERED.get(str(loc[-1]))):
            return SpecError(f"{at}{dotted}: {instead}", path=path, source=source)
        known = _fields_at(cls, list(loc[:-1]))
        if len(loc) == 1 and (misplaced := _misplaced_key(cls, str(loc[0]), known, err.get("input"))):
            return SpecError(f"{at}{misplaced}", path=path, source=source)
        if brief:
            return SpecError(f"{dotted}: unknown key{key_hint(str(loc[-1]), known)}", path=path, source=source)
        where = f"{source}: {dotted.rsplit('.', 1)[0]}" if "." in dotted else source  # at the top: the source says where
        return unknown_key(loc[-1], known, where=where, path=path[:-1], source=source)
    if err["type"] == "missing":
        hint = (': where it saves, as Keras asks, e.g. filepath = "ckpt/e{epoch:02d}.safetensors" (in a file, relative '
                "to it)" if loc[-1] == "filepath" else "")  # ModelCheckpoint's (helper-143: its default wrote beside the shell)
        return SpecError(f"{at}{dotted}: required key is missing{hint}", path=path, source=source)
    msg = err["msg"].removeprefix("Value error, ").replace("Input should be ", "must be ", 1)  # the house's phrasing
    if err["type"] == "model_type":  # "a valid dictionary or instance of TrainConfig": a class the user never wrote
        msg = f"must be a table of settings ([{dotted}] or {dotted} = {{ ... }})"
    got = err.get("input")
    # a table's own check (swa.start_epoch after the last epoch) says the values it read: the whole table adds nothing
    table_check = err["type"] == "value_error" and isinstance(got, (dict, BaseModel))
    shown = ("" if "got " in msg or table_check else f" (got {show(got)})" if isinstance(got, (dict, list))
             else f" (got {clip(toml_repr(got), 60)})")
    hint = number_hint(got, whole=err["type"].startswith("int")) if isinstance(got, str) else ""
    return SpecError(f"{at}{dotted or 'top level'}: {msg}{shown}{f'; {hint}' if hint else ''}", path=path, source=source)


def _is_union_tag(p: str) -> bool:
    # pydantic puts the union member's name into the location (e.g. "float", "literal['test']")
    return p in {"float", "int", "str", "dict[str,any]", "list[any]"} or p.startswith(("literal[", "function-"))


def _misplaced_key(cls: type[BaseModel], key: str, known: Sequence[str], value: Any) -> str | None:
    """Why ``key``, unknown at the top of a config, is there, when that is clear: a quoted dotted
    key (``"train.lr" = 0.1``, which TOML reads as one name), or a key of one of its tables
    (``epochs = 3`` for ``train.epochs``) that is not a typo of a top-level key. None otherwise."""
    if "." in key or "[" in key:
        if "[" in key:  # a position in a preset's layers: no table to write out here
            return (f'"{key}": a dotted key in quotes is one name here; a variant, a [grid] and --set take it as a path: '
                    f"to set it for every variant, write it in a top-level [grid] with one value "
                    f"(\"{key}\" = [{clip(toml_repr(value), 40)}]), or write the layers out (model = {{ layers = [...] }})")
        return (f'"{key}": a dotted key in quotes is one name here; a variant, a [grid] and --set take it as a path, '
                f"but here write the tables out ({key.split('.')[0]} = {{ ... }}, or the dotted key unquoted)")
    homes = [table for table in known if key in _fields_at(cls, [table])]
    if not homes or did_you_mean(key, known):
        return None
    return f'unknown key "{key}": it is a key of {homes[0]} (write {homes[0]}.{key} = {clip(toml_repr(value), 40)})'


def _fields_at(cls: type[BaseModel], loc: list[Any]) -> list[str]:
    """The keys a nested section accepts, found by walking the field annotations along ``loc``."""
    current: Any = cls
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return []
        ann = current.model_fields[part].annotation
        models = [a for a in typing.get_args(ann) or (ann,) if isinstance(a, type) and issubclass(a, BaseModel)]
        current = models[0] if len(models) == 1 else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _dataset_mistake(dataset: Any, source: str) -> SpecError | None:
    """None for a registered name or the user's data (:func:`mnistlab.data.userdata.parse_user_dataset`:
    a path or a ``{csv|folder|npz|idx = ..., test = ...}`` table whose files exist); otherwise the
    SpecError that says what is wrong, at ``dataset`` (or the table's key at fault)."""
    from mnistlab.data.registry import _REGISTRY
    from mnistlab.data.userdata import UserDataError, parse_user_dataset

    if isinstance(dataset, str) and dataset in _REGISTRY:
        return None
    try:
        parse_user_dataset(dataset)
    except UserDataError as exc:
        path: tuple[str, ...] = ("dataset",) if exc.key is None else ("dataset", exc.key)
        return SpecError(f"{source}: dataset: {exc}", path=path, source=source)
    return None


def warn_if_min_lr_never_acts(where: str, min_lr: float, lr: float) -> None:
    """A SpecWarning where ReduceLROnPlateau's ``min_lr`` is not below the run's starting ``lr``:
    it lowers a rate only while that is above min_lr, as Keras's does, so it would never act
    (helper-161: accepted unsaid; helper-164: a callback object too)."""
    if min_lr >= lr:
        warnings.warn(f"{where}: ReduceLROnPlateau's min_lr = {min_lr:g} is not below the learning rate {lr:g}: it "
                      "lowers a rate only while that is above min_lr (as Keras's does), so it never acts", SpecWarning,
                      stacklevel=user_level())


def _check_mode(cb: Any, where: str, own_value: bool, *, path: tuple[str | int, ...], source: str) -> None:
    """A monitoring callback's ``mode`` for its monitor: SpecError for "auto" on ``lr`` (no direction;
    helper-155: it was minimised unsaid) or on ``own_value``, a value a callback of the user's own logs
    (Keras 3's EarlyStopping refuses "auto" on a metric it does not know too); a warning for the
    opposite of a known value's direction (helper-248: minimising val_accuracy kept the worst)."""
    from mnistlab.callbacks import resolve_mode

    if own_value and getattr(cb, "mode", "min") == "auto":
        raise SpecError(f'{where}.mode: "auto" cannot tell whether {cb.monitor}, a value no run logs (a callback '
                        'of yours may), is better high or low: give mode = "max" or "min"', path=path, source=source)
    try:
        resolve_mode(getattr(cb, "mode", "min"), cb.monitor)
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}", path=path, source=source) from None
    if (mode := getattr(cb, "mode", "auto")) in ("min", "max") and cb.monitor != "lr" and not own_value and mode != (
            natural := resolve_mode("auto", cb.monitor)):
        best = "the lowest accuracy" if mode == "min" else "the highest loss"
        warnings.warn(f'{where}: mode = "{mode}" on {cb.monitor} counts {best} as the best, as Keras\'s would: '
                      f'leave mode out ("auto") or give "{natural}"', SpecWarning, stacklevel=user_level())


def _check_callbacks(cfg: RunConfig, source: str, validation: bool) -> None:
    """Every value a callback watches (its monitor, the ``{keys}`` of a checkpoint's filepath) must be
    one a run logs, and a ``val_*`` value needs validation data: say so now, not after an epoch."""
    from mnistlab.callbacks import check_filepath, check_monitor, logged_keys

    adds_logs = False  # a callback of the user's own came before: it may log values of its own (Keras's logs[...] = ...)
    for i, cb in enumerate(cfg.callbacks):
        where = f"{source}: callbacks[{i}]"
        if isinstance(cb, PythonCallbackConfig):
            adds_logs = adds_logs or not cb.class_name.startswith("mnistlab.")
            continue
        if isinstance(cb, EarlyStoppingConfig) and cb.restore_best_weights and cfg.train.swa is not None:
            raise SpecError(f"{where}: EarlyStopping(restore_best_weights) would replace train.swa's average "
                            "with one epoch's weights: use one of them", path=("callbacks", i, "restore_best_weights"),
                            source=source)
        if isinstance(cb, ReduceLROnPlateauConfig) and cfg.train.swa is not None and cfg.train.swa.lr is not None:
            raise SpecError(f"{where}: ReduceLROnPlateau and train.swa.lr both set the learning rate (SWA sets "
                            "its lr again every epoch): drop one of them", path=("callbacks", i, "type"), source=source)
        if isinstance(cb, ReduceLROnPlateauConfig):
            warn_if_min_lr_never_acts(where, cb.min_lr, cfg.lr)
        if isinstance(cb, EarlyStoppingConfig) and cb.restore_best_weights and cfg.train.use_ema and not any(
                isinstance(c, SwapEMAWeightsConfig) and c.swap_on_epoch for c in cfg.callbacks[:i]):
            warnings.warn(ema_replaced(where), SpecWarning, stacklevel=user_level())
        if isinstance(cb, SwapEMAWeightsConfig):  # watches nothing; swaps the EMA the optimizer keeps
            if not cfg.train.use_ema:
                raise SpecError(f"{where}: SwapEMAWeights needs an optimizer EMA: set train.use_ema = true",
                                path=("callbacks", i, "type"), source=source)
            continue
        own_value = adds_logs and cb.monitor not in logged_keys()  # (helper-251: a value an earlier callback logs,
        try:                                                          # which Keras's callbacks watch too)
            if not own_value:
                check_monitor(cb.monitor, f"{where}.monitor")
        except SpecError as exc:
            raise SpecError(str(exc), path=("callbacks", i, "monitor"), source=source) from None
        _check_mode(cb, where, own_value, path=("callbacks", i, "mode"), source=source)
        watched = [("monitor", cb.monitor)]
        if isinstance(cb, ModelCheckpointConfig):
            try:
                keys = check_filepath(cb.filepath, f"{where}.filepath")
                _check_checkpoint_place(cb.filepath, f"{where}.filepath")
            except SpecError as exc:
                raise SpecError(str(exc), path=("callbacks", i, "filepath"), source=source) from None
            # the monitor of a save-every-epoch checkpoint is never read
            watched = watched[:cb.save_best_only] + [("filepath", k) for k in keys]
        for name, key in watched:
            if key.startswith("val_") and not validation and not (adds_logs and key not in logged_keys()):
                raise SpecError(f'{where}.{name}: "{key}" needs validation data, '
                                f'and data.validation is 0; set it (0.1, a count, or "test") or use "{key[4:]}"',
                                path=("callbacks", i, name), source=source)


def _check_checkpoint_place(filepath: str, who: str) -> None:
    """SpecError (one line, before anything trains) where a ModelCheckpoint ``filepath`` (checked
    by :func:`~mnistlab.callbacks.check_filepath`) cannot be written: inside a run store's records
    (a recorded run's weights would be replaced: :func:`mnistlab.store.store_part`), at a folder,
    or below a file that is not a folder (its save would fail after the first epoch)."""
    from mnistlab.callbacks import nearest_folder, sample_filepath
    from mnistlab.store import store_part

    sample = Path(sample_filepath(filepath))  # ("~": refused before)
    if (part := store_part(sample)) is not None:
        raise SpecError(f'{who}: "{filepath}" is inside the run store\'s records ({part}), which only mnistlab '
                        "writes (a recorded run's weights would be replaced): save elsewhere")
    if sample.is_dir():  # helper-147: a save failed the run after its first epoch ("Is a directory")
        raise SpecError(f'{who}: "{filepath}" is a folder: name a file in it, such as "{sample / "e{epoch}.safetensors"}"')
    if not (folder := nearest_folder(sample)).is_dir():  # a file, or a broken link
        raise SpecError(f'{who}: "{filepath}" is to go in {folder}, which is a file, not a folder')


def is_model_checkpoint(callback: Any) -> bool:
    """Whether ``callback``, a table as a file writes it, is a ModelCheckpoint: its ``type`` in any
    case, as the config reads it (helper-249: ``"modelcheckpoint"`` trained, but its path was not
    made relative to its file, nor moved aside by ``--quick``)."""
    return isinstance(callback, Mapping) and str(callback.get("type", "")).lower() == "modelcheckpoint"


def run_named(callbacks: Any, *, experiment: str, variant: str, seed: int) -> Any:
    """A config's callbacks (tables as written, or validated configs) with each ModelCheckpoint's
    ``{experiment}``, ``{variant}`` and ``{seed}`` filled for one run
    (:func:`~mnistlab.callbacks.named_filepath`); anything else as it is."""
    from mnistlab.callbacks import named_filepath

    if not isinstance(callbacks, (list, tuple)):
        return callbacks
    out = []
    for cb in callbacks:
        if (is_model_checkpoint(cb) or isinstance(cb, ModelCheckpointConfig)) and isinstance(
                path := (cb.get("filepath") if isinstance(cb, Mapping) else getattr(cb, "filepath", None)), str):
            named = named_filepath(path, experiment=experiment, variant=variant, seed=seed)
            cb = {**cb, "filepath": named} if isinstance(cb, Mapping) else cb.model_copy(update={"filepath": named})
        out.append(cb)
    return out


def checkpoints_beside(callbacks: Any, folder: str | os.PathLike) -> Any:
    """``callbacks`` as a config or experiment file writes them, each ModelCheckpoint's relative
    ``filepath`` made relative to that file's ``folder``, as its data and spec files are; a file
    in the current folder keeps its paths as written. Values of the wrong type pass through
    (validation reports those)."""
    if Path(folder) == Path(".") or not isinstance(callbacks, list):
        return callbacks
    out = []
    for cb in callbacks:
        path = cb.get("filepath") if is_model_checkpoint(cb) else None
        if isinstance(path, str) and path and not Path(path).expanduser().is_absolute():  # ("~/...": left as
            # written, for check_filepath to refuse; made "folder/~/..." it would make a folder named "~")
            cb = {**cb, "filepath": str(Path(folder) / path)}
        out.append(cb)
    return out


# Keys of the flat Python/CLI form (``lr=0.01``) and the section each belongs to.
_FLAT_SECTIONS = {
    **{k: "train" for k in TrainConfig.model_fields},
    **{k: "data" for k in DataConfig.model_fields},
    **{k: "evaluate" for k in EvaluateConfig.model_fields},  # train(tta={...}), --set tta=... (helper-128)
}


def config_hash(resolved: Mapping[str, Any], *, ignore: tuple[str, ...] = (), **extra: Any) -> str:
    """16 hex digits identifying a resolved config, leaving out the ``train`` fields in ``ignore``.

    ``extra`` (e.g. ``version=...``) is hashed beside the config. The two identities built on it
    are :func:`run_key` and :func:`checkpoint_key`.
    """
    payload = _hashed(resolved, ignore)
    if extra:
        payload = {"config": payload, **extra}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


# Settings added after 0.4.0's first runs, by section: at their defaults (any of the values given: a
# resolved initial_accumulator_value is 0.1 for adagrad, None for the others) they are left out of the
# hash, so that a store's finished cells keep their keys (a sweep resumed with this code does not train
# them again).
_LATER_DEFAULTS: Mapping[str, Mapping[str, tuple[Any, ...]]] = MappingProxyType({
    "train": {"use_ema": (False,), "ema_momentum": (0.99,), "ema_overwrite_frequency": (None,), "swa": (None,),
              "initial_accumulator_value": (None, 0.1), "class_weight": (None,)},
    "augment": {"shear_range": (0.0,), "vertical_flip": (False,)},
})
_EVALUATE_DEFAULT = EvaluateConfig().model_dump(mode="json")


def handwriting(dataset: Any) -> bool:
    """Whether ``dataset`` is a registered set of handwriting (MNIST's digits, EMNIST's letters,
    Kuzushiji), where a mirrored mark is another mark; not Fashion-MNIST's clothes, nor the user's data."""
    from mnistlab.data.registry import is_registered

    return isinstance(dataset, str) and is_registered(dataset) and "fashion" not in dataset


def mirrored_digits(dataset: Any, evaluate: Any) -> str | None:
    """The warning for ``evaluate`` (an :class:`EvaluateConfig` or its table as written) that sets
    ``tta = { flip = true }`` on a registered dataset of handwriting (MNIST's digits, EMNIST's letters,
    Kuzushiji): a mirrored 2 or b is another mark (helper-219: MNIST's TTA score fell 2.9 points on
    validation with it, unsaid); None where it does not."""
    tta = evaluate.get("tta") if isinstance(evaluate, Mapping) else getattr(evaluate, "tta", None)
    flip = tta.get("flip") is True if isinstance(tta, Mapping) else bool(getattr(tta, "flip", False))
    if not (flip and handwriting(dataset)):
        return None
    return (f"evaluate.tta.flip on {dataset}: a mirrored digit or letter is another mark, so a flipped view votes "
            "against the right class (it is for clothes); leave flip out")


def setting_doubts(dataset: Any, augment: Any, evaluate: Any) -> list[str]:
    """What a run's settings (its ``dataset``, ``augment`` and ``evaluate``, as :class:`RunConfig`
    holds them or as written) do that their writer likely did not mean: TTA's flip on handwriting
    (:func:`mirrored_digits`); a training flip on handwriting (helper-235: the test-time flip was
    warned of, the training one not); a rotation or shear under 1 degree (helper-235: Keras 3's
    ``RandomRotation(0.1)`` is 36 degrees, ``rotation_range = 0.1`` a tenth of one, unsaid)."""
    said = [m for m in [mirrored_digits(dataset, evaluate)] if m]

    def get(key: str) -> Any:
        return augment.get(key) if isinstance(augment, Mapping) else getattr(augment, key, None)

    if augment is None or augment is False:
        return said
    flips = [k for k in ("horizontal_flip", "vertical_flip") if get(k) is True]
    if flips and handwriting(dataset):
        said.append(f"augment.{flips[0]} on {dataset}: a mirrored digit or letter is another mark, so the model learns "
                    "it as the unmirrored one (the flip is for clothes); leave it out")
    if isinstance(v := get("rotation_range"), (int, float)) and 0 < v < 1:
        said.append(f"augment.rotation_range = {v:g} turns by at most {v:g} of a degree (degrees, as ImageDataGenerator "
                    f"takes it; Keras 3's RandomRotation({v:g}) is rotation_range = {360 * v:g})")
    if isinstance(v := get("shear_range"), (int, float)) and 0 < v < 1:  # (keras-team/keras#8868, early 2018)
        said.append(f"augment.shear_range = {v:g} shears by at most {v:g} of a degree (degrees, as ImageDataGenerator "
                    f"takes it since early 2018; tutorials older than that meant radians: {v:g} was about "
                    f"{math.degrees(v):.3g} degrees)")
    return said


def setting_doubts_warning(cfg: RunConfig) -> None:
    """:func:`setting_doubts` as SpecWarnings: said as a run starts, not as a recorded config is read
    again (review: every view of such runs said it); an experiment file says them as it is read
    (:func:`~mnistlab.experiments.model_warnings`), and its cells' runs then not again."""
    for message in setting_doubts(cfg.dataset, cfg.augment, cfg.evaluate):
        warnings.warn(message, SpecWarning, stacklevel=user_level())


def later_default(key: str) -> tuple[bool, Any]:
    """(True, the value) where the flattened config ``key`` (``train.use_ema``, ``evaluate.tta.flip``)
    is a setting added after runs were recorded without it, whose default a run that lacks it
    trained with; (False, None) for any other key. A view comparing such a run with a newer one
    counts the missing key as that default, so it names no change (review: tta.flip)."""
    if key == "evaluate.tta.flip":
        return True, False
    section, _, name = key.partition(".")
    values = _LATER_DEFAULTS.get(section, {}).get(name, ())
    return (True, values[0]) if values and "." not in name else (False, None)


def _at_later_default(section: str, key: str, value: Any) -> bool:
    return any(d == value and type(d) is type(value) for d in _LATER_DEFAULTS[section].get(key, ()))


def run_key(resolved: Mapping[str, Any], *, version: str | None = None) -> str:
    """The identity of a run, as the run store's ``config_hash`` column holds it (16 hex digits).

    Two runs share it when they train the same thing with the same code: the resolved config
    (:meth:`RunConfig.resolved`) less where and how fast it runs (``train.threads``,
    ``train.device``), plus the mnistlab ``version`` (default: this one); the user's own data by its
    content, not its path (:func:`mnistlab.data.userdata.data_identity`): an edited CSV is new data,
    a moved one is not. An experiment skips a cell whose key the store already holds as finished.
    """
    if version is None:
        version = __version__
    return config_hash(resolved, ignore=("threads", "device"), version=version)


def _hashed(resolved: Mapping[str, Any], ignore: tuple[str, ...]) -> dict[str, Any]:
    """The part of a resolved config that :func:`config_hash` hashes: the user's own data by content
    (registered datasets keep the keys they always had)."""
    from mnistlab.data.userdata import data_identity

    payload: dict[str, Any] = {**resolved, "train": {k: v for k, v in (resolved.get("train") or {}).items()
                                                      if k not in ignore and not _at_later_default("train", k, v)}}
    if isinstance(augment := resolved.get("augment"), Mapping):
        payload["augment"] = {k: v for k, v in augment.items() if not _at_later_default("augment", k, v)}
    if (identity := data_identity(resolved.get("dataset"))) is not None:
        payload["dataset"] = identity
    if isinstance(tta := (resolved.get("evaluate") or {}).get("tta"), Mapping) and tta.get("flip") is False:
        payload["evaluate"] = {**resolved["evaluate"], "tta": {k: v for k, v in tta.items() if k != "flip"}}
    if payload.get("evaluate") == _EVALUATE_DEFAULT:
        del payload["evaluate"]
    if isinstance(model := resolved.get("model"), Mapping):
        payload["model"] = without_layer_names(model)
    if isinstance(weights := resolved.get("weights"), Mapping):
        payload["weights"] = weights_identity(weights)
    return payload


def weights_identity(weights: Mapping[str, Any]) -> dict[str, Any]:
    """What a run's key holds of its ``weights``: the file's SHA-256, not its path (a moved file is the
    same start, an overwritten one is not), and ``skip_mismatch``; the table as it is where the file
    cannot be read now (the run itself then says why)."""
    from mnistlab.data.userdata import file_sha256

    try:
        return {"sha256": file_sha256(str(weights.get("file"))), "skip_mismatch": weights.get("skip_mismatch", False)}
    except (MnistlabError, OSError):
        return dict(weights)


def without_layer_names(table: Any) -> Any:
    """A resolved model without its layers' ``name`` and an Activation's ``keras_class`` (blocks'
    layers too): how the summary and figures call a layer, not what trains, so renaming one (or
    writing ReLU for Activation("relu")) keeps a run's key and its checkpoint. The model's own name
    stays, as it always was."""
    if isinstance(table, Mapping):
        return {k: [_layer_unnamed(x) for x in v] if k == "layers" and isinstance(v, list) else v
                for k, v in table.items()}
    return table


def _layer_unnamed(layer: Any) -> Any:
    """One layer table of :func:`without_layer_names`, its block's branch and shortcut layers too."""
    if not isinstance(layer, Mapping):
        return layer
    return {k: [_layer_unnamed(x) for x in v] if k in ("branch", "shortcut") and isinstance(v, list) else v
            for k, v in layer.items() if k not in ("name", "keras_class")}


_NOT_IN_CHECKPOINT_KEY = ("epochs", "threads")


def checkpoint_key(resolved: Mapping[str, Any]) -> str:
    """What a checkpoint must match for a run to resume from it (16 hex digits): the resolved
    config less ``train.epochs`` (a run may be extended) and ``train.threads``; no version."""
    return config_hash(resolved, ignore=_NOT_IN_CHECKPOINT_KEY)


def checkpoint_config(resolved: Mapping[str, Any]) -> str:
    """What :func:`checkpoint_key` hashes, as sorted JSON: a checkpoint keeps it, so that a resume
    refused for another config can name the settings that changed (:func:`config_changes`)."""
    return json.dumps(_hashed(resolved, _NOT_IN_CHECKPOINT_KEY), sort_keys=True)


def config_changes(before: Mapping[str, Any], now: Mapping[str, Any], *, most: int = 3) -> str:
    """The settings that differ between two configs, dotted, with both values: ``"train.lr was 0.001,
    now 0.01"``; at most ``most`` of them (then ``"and N more"``); ``""`` if none differ.
    Lists (a model's layers) are compared item by item, down to the first field that differs."""
    changes: list[str] = []

    def walk(a: Any, b: Any, where: str) -> None:
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            for k in sorted(set(a) | set(b), key=str):
                walk(a.get(k, _ABSENT), b.get(k, _ABSENT), f"{where}.{k}" if where else str(k))
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{where}[{i}]")
        elif a != b or type(a) is not type(b):
            changes.append(f"{where} was {_shown(a, where)}, now {_shown(b, where)}")

    walk(before, now, "")
    more = f", and {len(changes) - most} more" if len(changes) > most else ""
    return "; ".join(changes[:most]) + more


_ABSENT = object()


def _shown(value: Any, where: str = "") -> str:
    if value is _ABSENT:
        return "not set"
    if where == "data.subset" and value == 0 and not isinstance(value, bool):  # its resolved "not set" (helper-174:
        return "not set (every image)"  # a resume refused for "data.subset was 0")
    if isinstance(value, list):
        return f"{len(value)} items"
    if isinstance(value, str):  # clipped inside its quotes (helper-171: "'fac271...808..., now 'c23e...")
        return repr(value if len(value) <= 38 else value[:35] + "...")
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 40 else text[:37] + "..."


def model_beside(model: Any, folder: str | os.PathLike) -> Any:
    """A spec file named in a config or experiment file is read relative to that file's folder, and
    a file that is not there is said by that path (helper-259: one found relative to the current
    folder instead was taken unsaid, so the experiment file failed when run from another folder).
    One found only relative to the current folder is still read, with a SpecWarning saying to write
    it relative to the file. Other values (preset names, inline tables, absolute paths) pass
    through unchanged.
    """
    if isinstance(model, str) and model.lower().endswith((".toml", ".json", ".keras")) and not os.path.isabs(model):
        beside = Path(folder) / model
        if beside.is_file() or not Path(model).is_file() or Path(model).resolve() == beside.resolve():
            return str(beside)
        warnings.warn(f"model = {model!r} is read from the current folder: a path in a file is relative to the file "
                      f"(here {display_name(beside)}, which is not there), so the file fails when run from another folder; "
                      f"write {_relative_to(Path(model), Path(folder))!r}", SpecWarning, stacklevel=user_level())
    return model


def _relative_to(path: Path, folder: Path) -> str:
    """``path`` (relative to the current folder) as written relative to ``folder``, or absolute where it cannot be."""
    try:
        return os.path.relpath(path.resolve(), folder.resolve())
    except ValueError:  # (another drive, on Windows)
        return str(path.resolve())


def setting_path(key: str) -> str:
    """Where an override key lands in a run config: ``"lr"`` -> ``"train.lr"``, ``"model"`` -> ``"model"``."""
    return f"{_FLAT_SECTIONS[key]}.{key}" if key in _FLAT_SECTIONS else key


def _overridden(overrides: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """The settings ``overrides`` (as :func:`apply_overrides` takes them) set, as ``{"train.epochs":
    (the name it was given by, its value)}``; a setting given twice, the last."""
    found: dict[str, tuple[str, Any]] = {}
    for key, value in overrides.items():
        if "." in key:
            found[key] = (key, value)
        elif key in ("train", "data", "augment", "evaluate") and isinstance(value, Mapping):
            found.update({f"{key}.{k}": (f"{key}={{{k!r}: ...}}", v) for k, v in value.items()})
        elif key in _FLAT_SECTIONS:
            found[f"{_FLAT_SECTIONS[key]}.{key}"] = (key, value)
    return found


def _given_once(overrides: Mapping[str, Any], source: str) -> None:
    """SpecError where two of ``overrides`` set one setting to different values (``subset=300`` and
    ``data={"subset": 500}``: helper-228, the table won without a word)."""
    seen: dict[str, tuple[str, Any]] = {}
    for key, value in overrides.items():
        for setting, (name, v) in _overridden({key: value}).items():
            if setting in seen and seen[setting][1] != v:
                raise SpecError(f"{source}: {setting} is given twice, as {seen[setting][0]} ({seen[setting][1]!r}) and as "
                                f"{name} ({v!r}): give it once", path=tuple(setting.split(".")), source=source)
            seen[setting] = (name, v)


def apply_overrides(base: Mapping[str, Any], overrides: Mapping[str, Any], *, source: str = "<overrides>") -> dict[str, Any]:
    """Merge flat or dotted overrides into a raw config dict (not validated; parse afterwards).

    ``{"lr": 0.01, "validation": 0.1, "train.seed": 3, "augment": {...}}``: train/data field names
    go to their section; ``dataset``, ``model``, ``augment``, ``callbacks`` replace the top level;
    a whole ``train``/``data`` dict is merged key by key. Unknown names raise SpecError.
    """
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in base.items()}
    for section in ("train", "data", "augment"):
        value = out.get(section)
        if value is not None and not isinstance(value, Mapping) and (section, value) != ("augment", False):  # false: none
            raise SpecError(f"{source}: {section}: must be a table ([{section}]), got {type_name(out[section])}",
                            path=(section,), source=source)
    top = set(RunConfig.model_fields)
    _given_once(overrides, source)
    for key, value in overrides.items():
        if "." in key:
            section, _, name = key.partition(".")
            if section not in ("train", "data", "augment", "evaluate"):
                raise SpecError(f'{source}: unknown section "{section}" in "{key}"; use train., data., augment. '
                                'or evaluate.',
                                path=(section,), source=source)
            out.setdefault(section, {})
            out[section] = {**(out[section] or {}), name: value}
        elif key in ("train", "data") and isinstance(value, Mapping):
            out[key] = {**(out.get(key) or {}), **value}
        elif key in top:
            out[key] = value
        elif key in _FLAT_SECTIONS:
            section = _FLAT_SECTIONS[key]
            out[section] = {**(out.get(section) or {}), key: value}
        else:
            choices = list(top) + list(_FLAT_SECTIONS)
            raise SpecError(f'{source}: unknown setting "{key}"{did_you_mean(key, choices)}', path=(key,), source=source)
    return out


# ------------------------------------------------------------------------------------ layering
def build_run_config(file: str | os.PathLike | None = None, settings: Sequence[str] = (),
                     flags: Mapping[str, Any] | None = None, *, label: str = "command line") -> RunConfig:
    """The validated config of one run, built in layers, each overriding the ones before it:

    1. the defaults: :data:`RUN_DEFAULTS` (dataset, model) and each field's default in the schema;
    2. ``file``, a run config TOML (what ``mnistlab train --config`` reads), or JSON (``.json``: a
       recorded run's ``config.json``, so its config trains again, with the statistics a
       Normalization adapted then fixed, under its own run key); a spec file it names as its model
       is read relative to the file's folder;
    3. ``settings``, ``"KEY=VALUE"`` strings as ``--set`` takes them: a dotted TOML key
       (``train.schedule.type``; a bare train/data field name such as ``lr`` means ``train.lr``)
       and a TOML value (a bare word is a string: ``train.optimizer=sgd``); tables are created as
       needed, but a value is never replaced by a table;
    4. ``flags``, settings by name as :func:`apply_overrides` takes them (``{"lr": 0.01,
       "validation": 0.1, "model": "seed000-dense"}``); None values (a flag not given) are skipped.
       One exception: a ``model`` flag comes before settings inside the model
       (``model.layers[0].filters=16`` changes the flag's model, not the one it replaces).

    Raises :class:`SpecError` (one line) for an unreadable file or invalid TOML or JSON, a malformed
    setting, a setting that contradicts a flag (``--set train.lr`` with ``--lr``), and any invalid
    value. An error about a value the file set names the file and line (``"run.toml:5:
    train.epochs: ..."``); one about a value that a setting or flag set names ``label`` instead
    (``"command line: train.epochs: ..."``). The error's ``path`` is the bad key's path in the
    config and its ``source`` the file or ``label``.

    >>> cfg = build_run_config(settings=["train.optimizer=sgd"], flags={"epochs": 2, "lr": None})
    >>> cfg.dataset, cfg.train.epochs, cfg.lr
    ('fashion-mnist', 2, 0.01)
    """
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    raw: dict[str, Any] = dict(RUN_DEFAULTS)
    source, text = label, ""
    if file is not None:
        source, text = str(file), read_text_file(file)
        raw.update(_file_table(file, text, raw))
    if "model" in flags and any(len(k := _setting_key(s)) > 1 and k[0] == "model" for s in settings):
        raw["model"] = flags.pop("model")  # --set changes a key inside the --model's model
    flagged = {setting_path(k): k for k in flags}
    model_before = raw.get("model")  # what --set may change a layer of
    raw, set_paths = _apply_settings(raw, settings, flagged, label)
    given = [tuple(path.split(".")) for path in flagged] + set_paths
    try:
        return parse_run_config(apply_overrides(raw, flags, source=source), source=source)
    except SpecError as exc:
        bad = tuple(map(str, exc.path))  # a position is 1 there, "1" in a setting's path
        if any(bad[:len(p)] == p for p in given) or (  # a setting or a flag gave the bad value, not the file
                bad == ("model",) and any(p[:1] == ("model",) for p in given) and _resolves(model_before)):
            raise SpecError(f"{label}: {str(exc).removeprefix(f'{source}: ')}", path=exc.path, source=label) from None
        raise with_line(exc, source, text) from None


def _file_table(file: str | os.PathLike, text: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """A run config file's table (its ``text``) over ``defaults``, its paths (the spec file, the data,
    the checkpoints, the weights) made relative to the file's folder, as :func:`build_run_config` reads it."""
    table = _run_config_table(text, str(file), json_file=Path(file).suffix.lower() == ".json")
    raw, folder = {**defaults, **table}, Path(file).parent
    raw["model"] = model_beside(raw["model"], folder)
    if "callbacks" in table and not _recorded(file):  # its checkpoints' paths too (a recorded run's config.json:
        raw["callbacks"] = checkpoints_beside(raw["callbacks"], folder)  # as recorded)
    if "weights" in table:  # the file it starts from, too
        raw["weights"] = weights_beside(raw["weights"], folder)
    if "dataset" in table:  # its data paths too are relative to the file
        from mnistlab.data.userdata import carves_test_split, data_beside

        raw["dataset"] = data_beside(raw["dataset"], folder)
        held = raw.get("data") if isinstance(raw.get("data"), dict) else None  # a run recorded before
        if held is not None and "test_seed" not in held and _recorded(file) and carves_test_split(raw["dataset"]):
            raw["data"] = {**held, "test_seed": test_seed(table)}  # data.test_seed held out with its split seed
    return raw


def _apply_settings(raw: dict[str, Any], settings: Sequence[str], flagged: Mapping[str, str],
                    label: str) -> tuple[dict[str, Any], list[tuple[str, ...]]]:
    """Every ``--set`` in order (:func:`_apply_setting`): the config, and the key paths set.
    SpecError where one sets a value whole and another a key inside it (the same key twice: the
    last wins, as a flag given twice)."""
    given: list[tuple[str, ...]] = []
    slices_alone([".".join(k) for s in settings if (k := _setting_key(s))], label, "--set", ())  # (a slice
    for setting in settings:  # twice too: it would cut twice; a position after a slice would name another layer)
        raw, parts = _apply_setting(raw, setting, flagged, label)
        if inside := next((p for p in given if p != parts and (p[:len(parts)] == parts or parts[:len(p)] == p)), None):
            whole, inner = sorted((parts, inside), key=len)
            raise SpecError(f"--set {written_key(whole)} sets it whole and --set {written_key(inner)} a key inside "
                            "it: give one of them", path=inner, source=label)
        given.append(parts)
    return raw, given


def _recorded(file: str | os.PathLike) -> bool:
    """Whether ``file`` is a recorded run's ``config.json`` in a store (:func:`mnistlab.store.store_part`)."""
    from mnistlab.store import store_part

    return store_part(file) is not None


def _run_config_table(text: str, source: str, *, json_file: bool) -> dict[str, Any]:
    """The settings a run config file holds: TOML, or JSON (a run's recorded ``config.json``: that
    run's config trained again). SpecError for another kind of table: none, an empty one (a cut
    file would train the defaults), an experiment file's."""
    table = loads_json(text, source=source) if json_file else loads_toml(text, source=source)
    if not isinstance(table, dict):
        raise SpecError(f"{source}: a run config is a table of settings, got {show(table)}", source=source)
    if {"base", "variants", "grid", "search"} & set(table):
        from mnistlab.files import shell_word

        raise SpecError(f"{source}: is an experiment file ([base], [[variants]]), not a run config: run it with "
                        f"`mnistlab run {shell_word(source)}`", source=source)
    if is_model_table(table) and not {"model", "dataset"} & set(table):
        raise SpecError(f"{source}: is a model, not a run config: give it as --model {source} (or model = \"...\" in a "
                        "config's or an experiment's [base])", source=source)  # (helper-262: "layers: unknown key")
    if not table:  # an empty or truncated file would silently train the defaults
        raise SpecError(f"{source}: the file sets nothing (empty, or cut short?); a run config names at least "
                        "its dataset or model", source=source)
    return table


def _resolves(model: Any) -> bool:
    """Whether ``model`` (a preset name, spec file or table) is a valid model: one that fails
    only after a ``--set`` inside it was made invalid by that setting."""
    try:
        resolve_model(model)
    except (MnistlabError, OSError, RecursionError):
        return False
    return True


def _setting_value(text: str) -> Any:
    """A ``--set`` value: TOML (``0.01``, ``[16, 32]``, ``true``), Python's ``True``/``False``, else
    the plain word as a string (``cosine``, a path; ``nan`` too, never TOML's special float)."""
    if text.strip().lower().lstrip("+-") in ("nan", "inf"):
        return text.strip()
    if text.strip() in ("True", "False"):  # Python's spelling, as a Keras user writes it: TOML's true / false
        return text.strip() == "True"
    try:
        return toml_value(text)
    except ValueError:
        return text.strip()


def _json_table(text: str) -> bool:
    """Whether ``text`` is a JSON object or array (``{"dense": [8]}``), which --set hands on as text to
    the settings that read JSON (a model, a dataset table)."""
    try:
        return isinstance(json.loads(text), (dict, list))
    except (ValueError, RecursionError):  # (hostile nesting: [[[[...)
        return False


def _setting_key(setting: str) -> list[str]:
    """The key path of a ``--set KEY=VALUE`` (``"model".layers[0].units`` -> model, layers, 0, units);
    empty when it is malformed (:func:`_apply_setting` says so)."""
    return dotted_key(setting.partition("=")[0].strip()) or []


def optimizer_key(key: str) -> str:
    """The train key a Keras optimizer argument is in mnistlab (``learning_rate`` is ``lr``; a
    misspelt one, ``beta1``, its nearest train key, ``beta_1``: :func:`~mnistlab.errors.closest`);
    one with no near key as it is."""
    fields = list(TrainConfig.model_fields)
    return key if key in fields else closest(key, fields) or key


def _apply_setting(raw: dict[str, Any], setting: str, flagged: Mapping[str, str],
                   label: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``train.schedule.type=cosine`` set in a copy of ``raw``: returns it and the key path set.

    ``flagged`` maps the setting paths given by flags (``train.lr``) to their flag, which a setting
    of the same path would contradict.
    """
    _, eq, text = setting.partition("=")
    if "\n" in setting or "\r" in setting:  # one setting per --set; TOML would read the rest as more
        raise SpecError(f"--set: one KEY=VALUE per --set, on one line; got {setting!r}", source=label)
    parts = _setting_key(setting)  # dotted, with "quoted" parts allowed, as TOML writes keys
    if eq and not parts and not setting.partition("=")[0].isascii():  # train.épochs: no such key, not a bad form
        raise SpecError(f"--set: unknown key {clip(setting.partition('=')[0].strip(), 60)!r}: mnistlab's keys are ASCII "
                        "(e.g. train.epochs)", source=label)
    if not eq or not parts:
        raise SpecError(f"--set: expected KEY=VALUE (e.g. train.momentum=0.9), got {clip(setting, 80)!r}", source=label)
    if len(parts) == 1:
        if parts[0] not in RunConfig.model_fields and parts[0] not in _FLAT_SECTIONS:  # hinted among both
            top = ", ".join(RunConfig.model_fields)
            raise SpecError(f'{label}: unknown key "{parts[0]}"{key_hint(parts[0], [*RunConfig.model_fields, *_FLAT_SECTIONS])}; '
                            f"known keys: {top}, and train's and data's keys alone (lr, epochs, validation, ...)",
                            path=tuple(parts), source=label)
        parts = setting_path(parts[0]).split(".")  # lr=0.01 means train.lr, as the flags do
    path = ".".join(parts)
    if path in flagged:
        raise SpecError(f"--set {path} contradicts --{flagged[path].replace('_', '-')}: give one of them",
                        path=tuple(parts), source=label)
    if (inside := next((f for f in flagged if path.startswith(f + ".")), None)) is not None:  # the flag replaced it:
        flag = f"--{flagged[inside].replace('_', '-')}"  # the setting was lost without a word (helper-112)
        instead = (f"a name, not a table: write its settings as train keys (--set train.{optimizer_key(parts[-1])}="
                   f"{text.strip()})" if inside == "train.optimizer" else "which the flag sets whole: give one of them")
        raise SpecError(f"--set {path} goes inside {flag}'s value, {instead}", path=tuple(parts), source=label)
    value = _setting_value(text)
    if isinstance(value, str) and value[:1] in "{[" and value and not _json_table(value):  # a table or list TOML
        try:  # refused (a key twice, a value missing): said, not taken as a string that "must be a table" (helper-195);
            toml_value(text)  # JSON's is read where it is (a model given as JSON, helper-197)
        except ValueError as exc:  # (tomllib's place is in "v = VALUE": its column less 4)
            said = re.sub(r"\(at line 1, column (\d+)\)", lambda m: f"(at character {int(m[1]) - 4} of it)", str(exc))
            raise SpecError(f"--set {written_key(parts)}: not a TOML {'table' if value[0] == '{' else 'list'}: "
                            f"{said.replace('(at end of document)', '(at its end)')}", path=tuple(parts), source=label) from None
    out = copy.deepcopy(raw)
    if reaches_into_layers(out.get("model"), {path: value}):  # a preset's layer: the layers it stands for
        out["model"] = resolve_model(out["model"]).to_dict()
        if parts[1] not in out["model"]:
            raise SpecError(f'--set {written_key(parts)}: the model is a list of layers (a preset or spec file), '
                            f'which has no key "{parts[1]}": change a layer\'s key, as model.layers[0].units',
                            path=tuple(parts), source=label)
    try:
        if is_position(parts[-1]) and isinstance(value, dict) and value and "type" not in value:
            for key, item in value.items():  # a layer's keys, as a variant's table without a type changes them
                plain = set_at(out, [*parts, *key_path(str(key))], item)[:len(parts)]  # (with a type: the layer, whole)
        else:
            plain = set_at(out, parts, value)  # a table may be created, but never replace a value
    except ValueError as exc:
        raise SpecError(f"--set {written_key(parts)}: {exc}", path=tuple(parts), source=label) from None
    if is_slice(plain[-1]):
        check_slice_value(plain, value, f"--set {written_key(parts)}", tuple(parts), label)
    return out, plain
