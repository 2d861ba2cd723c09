"""A model's Keras-style summary and the memory training it takes, from its spec alone: no
weights are built and torch is not loaded (`mnistlab models` and `mnistlab summary` answer at once).

    from mnistlab.presets import resolve_model
    from mnistlab.summary import format_summary, summarize
    print(format_summary(summarize(resolve_model("seed000-cnn"))))  # Layer (type) / Output Shape / Param #
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mnistlab import specs as S
from mnistlab.presets import changed_from_preset, resolve_model
from mnistlab.specs import ModelSpec

if TYPE_CHECKING:
    from mnistlab.config import RunConfig

__all__ = ["MemoryEstimate", "ModelSummary", "SummaryRow", "format_summary", "gigabytes", "recorded_memory", "run_memory",
           "summarize", "training_memory"]


def _resolve(obj: Any) -> ModelSpec:
    return resolve_model(obj)


# ---------------------------------------------------------------------------------------------
# Summary.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SummaryRow:
    """One line of the Keras-style summary table."""

    name: str                       # Keras layer name, e.g. "conv2d_1"
    type: str                       # e.g. "Conv2D"
    output_shape: tuple[Any, ...]   # with the batch axis as None, e.g. (None, 26, 26, 64)
    params: int                     # trainable + non-trainable
    trainable: int
    flops: int                      # multiply-adds per image
    connected_to: tuple[str, ...] = ()  # functional models: the layers it reads, e.g. ("conv2d", "add")


@dataclass(frozen=True)
class ModelSummary:
    """What `model.summary()` shows, plus forward multiply-adds (`flops`) per image."""

    name: str
    input_shape: tuple[int, int, int]
    rows: tuple[SummaryRow, ...]
    total: int
    trainable: int
    non_trainable: int
    flops: int                      # multiply-adds per image in Dense and Conv2D layers
    memory: MemoryEstimate | None = None  # training memory with adam at batch 32 (Keras's defaults)
    penalties: tuple[str, ...] = ()  # "dense kernel L2(l2=0.001)": S.weight_penalties
    changed: str | None = None      # what a model named after a preset sets otherwise: presets.changed_from_preset

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "changed_from_preset": self.changed, "input_shape": list(self.input_shape),
                "total": self.total,
                "trainable": self.trainable, "non_trainable": self.non_trainable, "flops": self.flops,
                "training_memory": None if self.memory is None else self.memory.to_dict(),
                "weight_penalties": list(self.penalties),
                "rows": [{"name": r.name, "type": r.type, "output_shape": list(r.output_shape),
                          "params": r.params, "flops": r.flops,
                          **({"connected_to": list(r.connected_to)} if r.connected_to else {})}
                         for r in self.rows]}

    def __str__(self) -> str:
        """The Keras-style table (:func:`format_summary`): ``print(summarize(spec))``."""
        return format_summary(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython and Jupyter show the table, not the dataclass's fields (helper-182: a wall of
        ``SummaryRow(...)``); ``repr()`` itself stays the dataclass's."""
        printer.text(str(self))


def summarize(spec: ModelSpec | Any) -> ModelSummary:
    """Keras's layer table for `spec` (shapes, parameter counts) without building any weights.

    Computed once per spec (specs are frozen, the summary too): a run, its CLI and its record
    all ask for it.
    """
    return _summarize(spec if isinstance(spec, ModelSpec) else _resolve(spec))


@functools.lru_cache(maxsize=128)
def _summarize(spec: ModelSpec) -> ModelSummary:
    # A spec with blocks is a Keras functional model: its summary starts with the InputLayer, lists
    # the layers in Keras's graph order and says what each is connected to; a plain one is a Sequential.
    nodes = S.keras_graph(spec)
    functional = S.is_functional(spec)
    order = S.keras_order(nodes) if functional else range(1, len(nodes))
    rows = []
    for i in order:
        node = nodes[i]
        trainable, frozen = node.params
        inputs = tuple(nodes[j].name for j in node.inputs) if functional else ()
        rows.append(SummaryRow(node.name, node.type, (None, *node.shape), trainable + frozen, trainable, node.macs,
                               inputs))
    trainable = sum(r.trainable for r in rows)
    total = sum(r.params for r in rows)
    return ModelSummary(spec.name or ("functional" if functional else "sequential"), spec.input_shape, tuple(rows),
                        total, trainable, total - trainable, sum(r.flops for r in rows), training_memory(spec),
                        S.weight_penalties(spec), changed_from_preset(spec.to_dict()))


def format_summary(summary: ModelSummary, memory: MemoryEstimate | None = None) -> str:
    """The Keras 2 table: Layer (type) / Output Shape / Param # (and Connected to, for a functional
    model: one input per line), then the totals, the MACs and the training memory (``memory``,
    default ``summary.memory``: adam at batch 32)."""
    functional = any(r.connected_to for r in summary.rows)
    from rich.cells import cell_len

    first = max([34, *(cell_len(r.name) + len(r.type) + 5 for r in summary.rows)])  # Keras widens it too
    widths = (first, 26, 12, 26) if functional else (first, 26, 12)
    line = "_" * sum(widths)

    def row(*cols: str) -> str:  # padded by terminal cells: a CJK or emoji name takes two each (helper-184)
        return "".join(c + " " * (w - cell_len(c)) for c, w in zip(cols, widths)).rstrip()

    head = ("Output Shape", "Param #", "Connected to")[:len(widths) - 1]
    changed = f", changed: {summary.changed}" if summary.changed else ""  # (it is no longer the preset)
    out = [f'Model: "{summary.name}"{changed}', line, row(" Layer (type)", *head), "=" * sum(widths)]
    for i, r in enumerate(summary.rows):
        shape = "(" + ", ".join("None" if d is None else str(d) for d in r.output_shape) + ")"
        links = [f"{name}[0][0]" for name in r.connected_to] or [""]
        out.append(row(f" {r.name} ({r.type})", shape, str(r.params), links[0]))
        out += [row("", "", "", link) for link in links[1:]]
        out.append("" if i < len(summary.rows) - 1 else "=" * sum(widths))
    out += [f"Total params: {summary.total:,}", f"Trainable params: {summary.trainable:,}",
            f"Non-trainable params: {summary.non_trainable:,}", line,
            f"Forward multiply-adds per image: {summary.flops:,} ({_human(summary.flops)})"]
    if memory or summary.memory:
        out.append(f"Training memory: {(memory or summary.memory).describe()}")  # type: ignore[union-attr]
    if summary.penalties:  # Keras's summary has no word of them; they change the loss trained on
        out.append(f"Weight penalties (added to the loss): {', '.join(summary.penalties)}")
    return "\n".join(out)


def _human(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}MACs"
    return f"{n} MACs"


# ---------------------------------------------------------------------------------------------
# Training memory.
# ---------------------------------------------------------------------------------------------
# Optimizer state, in float32 copies of the weights, as torch (and Keras) keep it: adam, adamw,
# nadam: m and v (+ v_max with amsgrad); adamax: m and u; rmsprop: the mean square (+ a momentum buffer, + the mean
# gradient when centered); adagrad: the accumulator; sgd: a momentum buffer only with momentum.
# Names not listed (an optimizer added later) count 2, the most any listed one keeps by default.
_STATE_SLOTS = {"sgd": 0, "adam": 2, "adamw": 2, "nadam": 2, "adamax": 2, "adagrad": 1, "rmsprop": 1}  # (config.OPTIMIZERS)
# float32 maps kept for the backward pass per layer output, besides the output itself: max
# pooling's int64 indices (two float32s), dropout's one-byte mask; Flatten is a view and keeps
# nothing; the pre-activation too, for activations whose gradient needs their input (relu,
# sigmoid, tanh and softmax need only their output).
_SAVED_EXTRA = {"MaxPooling2D": 2.0, "Dropout": 0.25, "Flatten": -1.0}
_NEEDS_OUTPUT_ONLY = {"linear", "relu", "sigmoid", "tanh", "softmax"}


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a training run needs for its model (float32): see :func:`training_memory`."""

    params: int
    optimizer: str
    batch_size: int
    weights: int
    gradients: int
    optimizer_state: int
    activations: int

    @property
    def total(self) -> int:
        """Bytes in all: weights, gradients, optimizer state and the batch's activations."""
        return self.weights + self.gradients + self.optimizer_state + self.activations

    def describe(self) -> str:
        """One line: ``about 5.2 GB with adam at batch 32 (weights 1.27 GB, gradients ...)``."""
        return (f"about {_size(self.total)} with {self.optimizer} at batch {self.batch_size} (weights "
                f"{_size(self.weights)}, gradients {_size(self.gradients)}, optimizer state "
                f"{_size(self.optimizer_state)}, activations {_size(self.activations)})")

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "total": self.total}


def gigabytes(n: float) -> str:
    """Bytes as GB (10^9) for messages: ``5.1``, ``0.0042``, ``502.3``."""
    v = n / 1e9
    return f"{v:,.1f}" if v >= 0.95 else f"{v:.2g}"


def _size(n: float) -> str:
    """Bytes in the unit that reads best: ``1.2 TB``, ``5.2 GB``, ``1.75 MB``, ``407 KB``, ``0 B``."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= 0.95 * size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def training_memory(spec: ModelSpec | Any, optimizer: str = "adam", batch_size: int = 32, *, momentum: float = 0.0,
                    amsgrad: bool = False, centered: bool = False) -> MemoryEstimate:
    """Estimate the memory training ``spec`` takes: float32 weights, the gradients and the optimizer's
    state of its trainable ones (:data:`_STATE_SLOTS` copies of them: a frozen layer's and
    BatchNormalization's moving statistics have none) and the activations that one
    batch keeps for the backward pass (each layer's output, plus what its backward needs).

    Checked against torch (tests/test_models.py): the weights and the state of every registered
    optimizer exactly, the activations within 25% of what autograd saves for every preset. The data
    set, torch itself and the test pass are not counted. Names as :mod:`mnistlab.optim`'s.
    """
    spec = spec if isinstance(spec, ModelSpec) else _resolve(spec)
    nodes = S.keras_graph(spec)[1:]  # every Keras layer, blocks expanded; the input is counted below
    params = sum(sum(node.params) for node in nodes)
    from mnistlab.config import setting_applies

    # a setting the optimizer ignores keeps no state (helper-174: adamax with amsgrad counted a third copy)
    slots = _STATE_SLOTS.get(optimizer.lower(), 2) + bool(momentum and setting_applies("momentum", optimizer))
    slots += bool(amsgrad and setting_applies("amsgrad", optimizer)) + bool(centered and setting_applies("centered",
                                                                                                       optimizer))
    per_image = float(math.prod(spec.input_shape))
    readers: dict[int, list[S.KerasNode]] = {}
    for node in nodes:
        for j in node.inputs:
            readers.setdefault(j, []).append(node)
    for i, node in enumerate(nodes, start=1):
        extra = _SAVED_EXTRA.get(node.type, 0.0) + (getattr(node.layer, "activation", "linear") not in _NEEDS_OUTPUT_ONLY)
        # A BatchNormalization's or an Add's output that only a relu-like Activation reads is not kept:
        # that Activation keeps its own output instead (ResNet's BN -> ReLU and Add -> ReLU).
        if node.type in ("BatchNormalization", "Add") and readers.get(i) and all(
                isinstance(r.layer, S.Activation) and r.layer.activation in _NEEDS_OUTPUT_ONLY for r in readers[i]):
            extra -= 1.0
        per_image += math.prod(node.shape) * (1.0 + extra)
    trained = sum(node.params[0] for node in nodes)  # gradients and optimizer state: trainable weights' alone
    return MemoryEstimate(params, optimizer.lower(), batch_size, 4 * params, 4 * trained, 4 * trained * slots,
                          int(4 * per_image * batch_size))


def recorded_memory(config: Mapping[str, Any], train_size: int | None = None) -> MemoryEstimate:
    """:func:`training_memory` of a recorded run's model with the optimizer and batch of its resolved
    ``config``, read as recorded, not parsed (a run whose data has gone since still has its
    summary); ``train_size``: its training images, where known (a batch holds at most them)."""
    t = config.get("train") or {}
    batch = int(t.get("batch_size") or 32)
    return training_memory(ModelSpec.from_dict(config["model"]), str(t.get("optimizer") or "adam"),
                           min(batch, max(train_size, 1)) if train_size else batch,
                           momentum=float(t.get("momentum") or 0.0), amsgrad=bool(t.get("amsgrad")),
                           centered=bool(t.get("centered")))


def run_memory(cfg: RunConfig, spec: ModelSpec, train_size: int) -> MemoryEstimate:
    """:func:`~mnistlab.summary.training_memory` of ``spec`` with the run's optimizer settings and batch
    (at most ``train_size`` images: a batch larger than the data set holds the data set)."""
    t = cfg.train
    return training_memory(spec, t.optimizer, min(t.batch_size, max(train_size, 1)), momentum=t.momentum,
                           amsgrad=getattr(t, "amsgrad", False), centered=getattr(t, "centered", False))


# --------------------------------------------------------------------------- a run's recipe in words


def optimizer_said(cfg: RunConfig, *, changed: bool = False) -> str:
    """The optimizer as the run uses it, what differs from its Keras defaults included: ``"sgd lr
    0.01 (momentum 0.9, nesterov), step schedule, label smoothing 0.1"``; ``changed``: only the
    settings whose values are not Keras's defaults (a resolved config holds every one)."""
    from mnistlab.config import keras_setting_default, optimizer_settings_said

    t = cfg.train
    knobs = [k if v is True else f"{k.replace('_', ' ')} {v:g}"
             for k, v in optimizer_settings_said(lambda k: getattr(t, k), t.optimizer)
             if not changed or v != keras_setting_default(k, t.optimizer)]
    text = f"{t.optimizer} lr {cfg.lr:g}" + (f" ({', '.join(knobs)})" if knobs else "")
    extras = [f"{t.schedule.type} schedule"] if t.schedule else []
    extras += [f"label smoothing {t.label_smoothing:g}"] if t.label_smoothing else []
    extras += [f"class weights {_weights_said(t.class_weight)}"] if t.class_weight is not None else []
    extras += [f"EMA {t.ema_momentum:g}"] if t.use_ema else []
    extras += [f"SWA from epoch {t.swa.start_epoch}"] if t.swa else []
    return ", ".join([text, *extras])


def _weights_said(weights: Any) -> str:
    """``train.class_weight`` in a line: ``balanced``, ``1, 2, 1, ...`` or ``Shirt 3``."""
    if isinstance(weights, dict):
        return ", ".join(f"{k} {v:g}" for k, v in weights.items())
    return str(weights) if isinstance(weights, str) else ", ".join(f"{w:g}" for w in weights)


def recipe_said(cfg: RunConfig) -> str:
    """A run's recipe on one line, as a dry run shows each variant's (helper-245: only counts, so a
    variant that inherited Adam's lr 1e-3 for SGD went unseen): the model and its parameter count,
    epochs and batch, the optimizer as :func:`optimizer_said` says it, the augmentation's settings
    that are not Keras's defaults, and the callbacks with their monitor and patience.

    ``"seed000-cnn 243,786 params; 5 epochs, batch 32, adam lr 0.001; augment rotation_range 10,
    zoom_range 0.1; EarlyStopping(val_loss, patience 2)"``"""
    from mnistlab.config import AugmentConfig

    spec = cfg.model_spec()
    t = cfg.train
    parts = [f"{spec.name + ' ' if spec.name else ''}{summarize(spec).total:,} params",
             f"{t.epochs} epoch{'s' * (t.epochs != 1)}, batch {t.batch_size}", optimizer_said(cfg, changed=True)]
    if cfg.augment is not None:
        plain = AugmentConfig()
        changed = [f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" if not isinstance(v, bool) else k
                   for k, v in cfg.augment.model_dump().items() if v != getattr(plain, k)]
        parts.append("augment " + (", ".join(changed) or "none"))
    for cb in cfg.callbacks or ():
        patience = getattr(cb, "patience", None)
        said = [str(getattr(cb, "monitor", "") or ""), "" if patience is None else f"patience {patience}"]
        parts.append(f"{cb.type}({', '.join(filter(None, said))})")
    return "; ".join(parts)
