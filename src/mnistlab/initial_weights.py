"""Starting a run from trained weights: Keras's ``model.load_weights(file)`` before ``fit``.

Fine-tuning a recorded model on other data, or training it on with other settings, is one setting
of the run config (``weights``)::

    dataset = { folder = "my-digits" }
    model = "seed000-cnn"
    weights = "cnn.safetensors"          # `mnistlab export RUN -o cnn.safetensors`, or runs/<id>/weights.safetensors
    # [weights]                          # the table form:
    # file = "cnn.safetensors"
    # skip_mismatch = true               # a new output layer (other classes) keeps its fresh initialisation

The model is built from its spec and seed as always, then the file's weights load into it layer by
layer, as Keras assigns them: a layer loads whole where the file holds exactly its tensors, of the
same keys and shapes (:func:`match_weights`). Keys are the layers' Keras auto-names (``conv2d``,
``dense_1``: :func:`~mnistlab.models.keras_names`), so a layer's ``name =`` never changes them, and
two models share a layer's weights where they have the same layers before it. BatchNormalization's
moving mean and variance are weights here as in Keras, and load. A layer that does not fit is an
error that names it, unless ``skip_mismatch`` (Keras's ``load_weights(skip_mismatch=True)``), which
keeps that layer's fresh initialisation, whole, and warns.

A Normalization to adapt takes the mean and variance the source was adapted to (recorded in an
exported file's metadata, or in the run folder beside ``weights.safetensors``), as a Keras model
holds them after ``load_weights``: the layers after it were trained on inputs scaled so. Where the
file does not say them, the layer adapts to the new training images.

The run records the file by its absolute path and keys it by its SHA-256
(:func:`~mnistlab.config.weights_identity`); its metrics say what loaded (``initial_weights``).

In an experiment file a variant may start from the weights another variant of the file trains,
``weights = { variant = "pretrain" }`` (:class:`Start`): the two phases of fine-tuning in one file,
each run of the second started from the first's run of its seed once that has finished
(:meth:`~mnistlab.experiments.Experiment.cells`, :func:`~mnistlab.execute.run_experiment`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnistlab.errors import MnistlabError, SpecError, TrainingWarning, first_line, user_level
from mnistlab.files import display_name, safetensors_header
from mnistlab.specs import ModelSpec

__all__ = ["Fit", "Source", "load_weights", "match_weights", "read_source", "start_spec", "weight_mistakes"]

_WHERE = ("weights", "file")
GIVEN_KEY = "mnistlab.given"  # the metadata of a Run's weights saved for train(weights=run): how to name them


@dataclass(frozen=True)
class Source:
    """A weights file as read from its header: ``shapes`` (key -> shape) of its tensors, the model
    ``spec`` it was trained as (a dict; None where the file does not say it) and the ``runs`` it came
    from (run ids; empty where unknown)."""

    path: Path
    shapes: Mapping[str, tuple[int, ...]]
    spec: dict[str, Any] | None = None
    runs: tuple[str, ...] = ()
    said: str = field(default="", compare=False)  # how the file is named in messages
    held_in: str = field(default="the file", compare=False)  # where its tensors are, in messages ("its model")

    def describe(self) -> str:
        """``"cnn.safetensors (run 3fa9c01b2e)"``."""
        return self.said + (f" (run {', '.join(self.runs)})" if self.runs else "")


def read_source(weights: Mapping[str, Any] | Any) -> Source:
    """The weights file a run config's ``weights`` names (its table, or a
    :class:`~mnistlab.config.WeightsConfig`), read from its header alone.

    Raises SpecError (one line, ``path`` ``("weights", "file")``) for a file that is missing,
    unreadable, no safetensors file, or a committee's (its members' weights, one set per member)."""
    file = weights.get("file") if isinstance(weights, Mapping) else getattr(weights, "file", None)
    path = Path(str(file))
    said = display_name(path)
    try:
        size, header = safetensors_header(path)
        length = path.stat().st_size
    except FileNotFoundError:
        from mnistlab.store import run_id_like

        hint = (f"; a run's id is for `--weights {path.name}` on the command line: in a config, name the run's "
                f"weights file, runs/{path.name}/weights.safetensors in its store" if run_id_like(path.name) else "")
        raise SpecError(f"weights: {said}: no such file (`mnistlab export RUN -o FILE.safetensors` writes one){hint}",
                        path=_WHERE) from None
    except IsADirectoryError:
        raise SpecError(f"weights: {said} is a folder; name the .safetensors file in it", path=_WHERE) from None
    except OSError as exc:
        raise SpecError(f"weights: {said}: cannot read it: {exc.strerror or first_line(exc)}", path=_WHERE) from None
    except ValueError as exc:
        raise SpecError(f"weights: {said}: not a safetensors file ({first_line(exc)})", path=_WHERE) from None
    if not isinstance(header, dict):
        raise SpecError(f"weights: {said}: not a safetensors file (no header)", path=_WHERE)
    found = header.get("__metadata__")
    meta: dict[str, Any] = found if isinstance(found, dict) else {}
    tensors = {str(k): v for k, v in header.items() if k != "__metadata__"}
    if not all(isinstance(v, dict) and _ints(v.get("shape")) and _ints(v.get("data_offsets"), 2) for v in tensors.values()):
        raise SpecError(f"weights: {said}: not a safetensors file (a damaged header)", path=_WHERE)
    if (end := 8 + size + max((v["data_offsets"][1] for v in tensors.values()), default=0)) != length:
        raise SpecError(f"weights: {said}: damaged, {length:,} bytes where its header says {end:,} (cut short, or "
                        "bytes added): copy or export it again", path=_WHERE)
    shapes = {k: tuple(v["shape"]) for k, v in tensors.items()}
    if meta.get("mnistlab.committee", "0") not in ("0", "") or any(k.startswith("members.") for k in shapes):
        raise SpecError(f"weights: {said} is a committee's (one set of weights per member): start from one member's, "
                        "`mnistlab export MEMBER_RUN -o FILE.safetensors`", path=_WHERE)
    spec, runs = _provenance(path, meta)
    if meta.get(GIVEN_KEY):  # a Run in hand, saved in the cache: named as given, not by its cache file
        said = str(meta[GIVEN_KEY])
    return Source(path, shapes, spec, runs, said)


def _ints(value: Any, count: int | None = None) -> bool:
    """Whether ``value`` is a list of non-negative ints (of ``count`` of them)."""
    return (isinstance(value, list) and (count is None or len(value) == count)
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value))


def _provenance(path: Path, meta: Mapping[str, Any]) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    """The spec and run ids of a weights file: from an export's metadata, or from the run folder it
    lies in (``config.json`` beside ``weights.safetensors``)."""
    def parsed(text: Any) -> Any:
        try:
            return json.loads(text) if isinstance(text, str) else None
        except (ValueError, RecursionError):
            return None

    spec, runs = parsed(meta.get("mnistlab.spec")), parsed(meta.get("mnistlab.runs"))
    if spec is None and (run := run_of_weights(path)) and (path.parent / "config.json").is_file():
        config = parsed(_read(path.parent / "config.json"))
        spec = config.get("model") if isinstance(config, dict) else None
        runs = [run]
    good_runs = tuple(str(r) for r in runs) if isinstance(runs, list) else ()
    return (spec if isinstance(spec, dict) else None), good_runs


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeError):
        return None


@dataclass
class Fit:
    """How a file's weights meet a model's layers (:func:`match_weights`): the tensors ``loaded``, the layers
    (module names) that keep their fresh initialisation, each with why (``fresh``, in the model's
    order), and the ``statistics`` (mean, variance) a first Normalization to adapt takes from the
    file's model (None: none to take)."""

    loaded: list[str] = field(default_factory=list)
    fresh: dict[str, str] = field(default_factory=dict)
    statistics: tuple[Any, Any] | None = None

    @property
    def skipped(self) -> list[str]:
        """The model's layers that keep their fresh initialisation, in the model's order."""
        return list(self.fresh)


def match_weights(spec: ModelSpec, source: Source, skip_mismatch: bool) -> Fit:
    """Which of ``source``'s weights load into the model ``spec`` builds (as written: a Normalization
    still to adapt), layer by layer as Keras's ``load_weights`` assigns them: a layer loads whole where
    the file holds exactly its tensors, of the same keys and shapes (a Dense without a bias does not
    meet one with: Keras counts a layer's variables); any other stays fresh whole (a bias that still
    fits is not taken alone). Layers of the file the model has not are passed over. Raises SpecError
    where a layer would stay fresh without ``skip_mismatch``, or where nothing of the file fits."""
    shapes, adapting = _model_shapes(json.dumps(spec.to_dict(), sort_keys=True))
    fit = Fit()
    norm, why, fit.statistics = _normalization(spec, source)
    if why:
        fit.fresh[norm] = why
    layers: dict[str, list[str]] = {}
    for key in shapes:
        layer = key.rsplit(".", 1)[0]
        if layer not in adapting:  # (a Normalization's statistics: its spec holds them, :func:`start_spec`)
            layers.setdefault(layer, []).append(key)
    theirs: dict[str, list[str]] = {}
    for key in source.shapes:
        theirs.setdefault(key.rsplit(".", 1)[0], []).append(key)
    for layer, keys in layers.items():
        problem = next((f"shaped {_shape(source.shapes[k])} in {source.held_in}, {_shape(shapes[k])} here"
                        for k in keys if k in source.shapes and source.shapes[k] != shapes[k]), None)
        if problem is None and set(keys) != set(theirs.get(layer, ())):  # Keras: a layer's variables, all of them
            problem = (f"not in {source.held_in}" if layer not in theirs else
                       f"holding {len(theirs[layer])} tensors in {source.held_in}, {len(keys)} here")
        if problem:
            fit.fresh[layer] = problem
        else:
            fit.loaded += keys
    _check(fit, source, skip_mismatch)
    return fit


def _normalization(spec: ModelSpec, source: Source) -> tuple[str, str, tuple[Any, Any] | None]:
    """A first Normalization of ``spec`` against the file's model's: (its module name, why it does
    not fit ("" where it does), the statistics to take). As in Keras, an adapted layer holds weights
    (its mean, variance and count) and one given its mean and variance holds none: an adapted one
    meets an adapted one (and takes its statistics), one given them meets one given them or none."""
    from mnistlab import specs as S
    from mnistlab.models import keras_names

    first = spec.layers[0] if spec.layers else None
    if not isinstance(first, S.Normalization):
        return "", "", None
    name = keras_names(spec)[0]
    theirs: Any = None
    if source.spec is not None:
        try:
            theirs = ModelSpec.from_dict(source.spec).layers[0]
        except (MnistlabError, ValueError, TypeError, KeyError, IndexError):
            theirs = None
    adapted = isinstance(theirs, S.Normalization) and theirs.adapted
    if first.needs_adapt or first.adapted:  # (adapted: a recorded run's, trained again; helper-203: refused)
        if source.spec is None:  # a file that does not say its model: the layer adapts to the new images
            return name, "", None
        if adapted:
            return name, "", (theirs.mean, theirs.variance)
        return name, ("not in the file (its model gives its Normalization's mean and variance as constants, which are no "
                      "weights)" if isinstance(theirs, S.Normalization) else "not in the file"), None
    if adapted:
        return name, "given its mean and variance here (no weights), adapted in the file's model (weights)", None
    return name, "", None


def start_spec(spec: ModelSpec, fit: Fit) -> ModelSpec:
    """``spec`` with a first Normalization to adapt given the mean and variance the file's model was
    adapted to (:attr:`Fit.statistics`; Keras's layer holds them after ``load_weights``); ``spec``
    itself where there are none to take (the run adapts to its own images)."""
    from mnistlab import specs as S

    first = spec.layers[0] if spec.layers else None
    if fit.statistics is None or not isinstance(first, S.Normalization):
        return spec
    mean, variance = fit.statistics
    layer = dataclasses.replace(first, mean=mean, variance=variance, adapted=True)
    return dataclasses.replace(spec, layers=(layer, *spec.layers[1:]))


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _mismatch(fit: Fit, source: Source) -> str:
    """The one line that names the first layers that do not fit."""
    parts = [f"{layer} {why}" for layer, why in list(fit.fresh.items())[:3]]
    more = len(fit.fresh) - len(parts)
    return (f"weights: {source.describe()}: these weights do not fit this model: {'; '.join(parts)}"
            + (f" (and {more} more layer{'s' * (more != 1)})" if more > 0 else "")
            + "; set weights.skip_mismatch = true (--skip-mismatch, or skip_mismatch=True in Python) to keep those "
            "layers' fresh initialisation (Keras's load_weights(skip_mismatch=True)), or start from a model with the "
            "same layers")


def _check(fit: Fit, source: Source, skip_mismatch: bool) -> None:
    """SpecError where the file does not fit the model (unless ``skip_mismatch``) or where nothing of it fits."""
    if not fit.loaded:  # (Keras warns and trains on, fresh: a deliberate difference, it is the wrong file)
        parts = "; ".join(f"{layer} {why}" for layer, why in list(fit.fresh.items())[:3])
        raise SpecError(f"weights: {source.describe()}: no layer of this model fits them ({parts}; {source.held_in} holds "
                        f"{', '.join(list(source.shapes)[:4]) or 'nothing'}...): is it the model you meant?", path=_WHERE)
    if fit.fresh and not skip_mismatch:
        raise SpecError(_mismatch(fit, source), path=_WHERE)


def weight_mistakes(config: Mapping[str, Any]) -> list[MnistlabError]:
    """The SpecError of a resolved run ``config``'s ``weights`` that cannot start its model, found before
    anything trains (a list: empty where it has none, or none is wrong): the file unreadable, a
    committee's, or not fitting the model's layers (without ``skip_mismatch``)."""
    weights = config.get("weights")
    if not isinstance(weights, Mapping):
        return []
    try:
        match_weights(ModelSpec.from_dict(config["model"]), read_source(weights), bool(weights.get("skip_mismatch")))
    except SpecError as exc:
        return [exc]
    return []


@functools.lru_cache(maxsize=32)
def _model_shapes(spec: str) -> tuple[dict[str, tuple[int, ...]], tuple[str, ...]]:
    """The state dict's shapes of the model a spec (JSON) builds, and its Normalization layers: built
    once per spec, not once per cell of a sweep (a wide ResNet takes a tenth of a second)."""
    from mnistlab.models import Normalization, build_model

    with warnings.catch_warnings():  # the spec's own warnings are the run's to say, once
        warnings.simplefilter("ignore")
        model = build_model(ModelSpec.from_dict(json.loads(spec)), seed=0)
    norms = tuple(sorted(name for name, m in model.named_modules() if isinstance(m, Normalization)))
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}, norms


def load_weights(model: Any, source: Source, fit: Fit) -> dict[str, Any]:
    """Load ``source``'s weights into ``model`` (built from the spec :func:`match_weights` was given, its
    Normalization adapted or given its statistics by :func:`start_spec`), in place, as ``fit`` says:
    Keras's ``model.load_weights(file, skip_mismatch=...)``. Each tensor is copied in the model's
    dtype and device. One SpecWarning names the layers left fresh, as Keras warns of them.

    Returns what a run's metrics record as ``initial_weights``: ``{"file", "sha256", "runs", "loaded"
    (tensors), "skipped" (layers)}``. Raises SpecError for a file that cannot be read now or holds
    weights that are not finite (NaN or inf)."""
    import torch
    from safetensors.torch import load

    from mnistlab.data.userdata import file_sha256

    try:
        tensors = load(source.path.read_bytes())  # (bytes: a path that is not UTF-8 loads too)
    except Exception as exc:  # OSError, or safetensors' own error for a damaged file
        raise SpecError(f"weights: {source.said}: cannot load it: {first_line(exc)}", path=_WHERE) from None
    wanted = {k: tensors[k] for k in fit.loaded}
    if bad := next((k for k, v in wanted.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())), None):
        raise SpecError(f"weights: {source.describe()}: {bad} holds values that are not finite (NaN or inf): "
                        "a run that diverged?", path=_WHERE)
    state = model.state_dict()
    with torch.no_grad():
        for key, tensor in wanted.items():
            state[key].copy_(tensor)
    if fit.fresh:
        said = "; ".join(f"{layer} ({why})" for layer, why in fit.fresh.items())
        one = len(fit.fresh) == 1
        warnings.warn(f"weights: {len(fit.fresh)} layer{'' if one else 's'} of {len(fit.fresh) + len(_layers(fit))} "
                      f"keep{'s its' if one else ' their'} fresh initialisation (skip_mismatch): {said}", TrainingWarning,
                      stacklevel=user_level())  # (of this run's start: a sweep's line names its cell, note 53)
    return {"file": str(source.path), "sha256": file_sha256(source.path), "runs": list(source.runs),
            "loaded": len(fit.loaded), "skipped": fit.skipped}


def _layers(fit: Fit) -> set[str]:
    """The layers ``fit`` loads."""
    return {key.rsplit(".", 1)[0] for key in fit.loaded}


def said(recorded: Mapping[str, Any] | None, *, name_only: bool = False) -> str:
    """A run's start in words, for `show`: ``"run 3fa9c01b2e's (/path/weights.safetensors); fresh:
    dense_1"`` (the layers ``skip_mismatch`` left at their fresh initialisation); "" for a run that
    started fresh. ``name_only``: the file by its name, its folders (a home folder's name) left out,
    as a model card shared with an export says it."""
    if not isinstance(recorded, Mapping) or not recorded.get("file"):
        return ""
    runs = [str(r) for r in recorded.get("runs") or []]
    file = Path(str(recorded["file"])).name if name_only else display_name(Path(str(recorded["file"])))
    head = f"run {', '.join(runs)}'s ({file})" if runs else file
    skipped = [str(s) for s in recorded.get("skipped") or []]
    return head + (f"; fresh: {', '.join(skipped)}" if skipped else "")


def run_of_weights(path: str | Path) -> str | None:
    """The run id whose own weights ``path`` names (a store's ``runs/<id>/weights.safetensors``), or
    None for another file: the one place that tells a run's weights file by its path."""
    from mnistlab.store import run_id_like

    path = Path(path)
    folder = path.parent
    return folder.name if path.name == "weights.safetensors" and folder.parent.name == "runs" and run_id_like(
        folder.name) else None


def weights_label(weights: Any) -> str:
    """A recorded config's ``weights`` as a table row names it: the variant of its experiment whose
    runs it started from (``pretrain``: each seed's run its own file), ``run 3fa9c01b2e`` for a run's
    own ``runs/<id>/weights.safetensors``, else the file's name; ``""`` for none."""
    if isinstance(weights, Mapping) and isinstance(variant := weights.get("variant"), str) and variant:
        return variant
    file = weights.get("file") if isinstance(weights, Mapping) else weights
    if not isinstance(file, str) or not file:
        return ""
    return f"run {run}" if (run := run_of_weights(file)) else Path(file).name


def weights_file(given: str, store: Any) -> str:
    """What ``given`` names as the weights to start from, as a path: itself where it is a file here or
    has a suffix (validation says what is wrong with it), else a finished run's id in ``store`` (a
    :class:`~mnistlab.store.RunStore`, opened when asked: a callable returning one) made its weights
    file (:func:`run_weights`). SpecError for an empty value or a name that is neither."""
    from mnistlab.store import run_id_like

    if not given.strip():
        raise SpecError("--weights: give a .safetensors file, or a finished run's id (`mnistlab runs` lists them)")
    if Path(given).exists() or Path(given).suffix:
        return given
    if not run_id_like(given.strip()):
        raise SpecError(f"--weights {given!r}: neither a file here nor a run id (hex digits: `mnistlab runs` lists "
                        "them); the weights are a .safetensors file, or a finished run's")
    return str(run_weights(store() if callable(store) else store, given.strip()))


def started_from(store: Any, run_ids: set[str]) -> list[str]:
    """The runs of ``store``, other than ``run_ids``, that started from the weights of one of ``run_ids``
    (their own ``runs/<id>/weights.safetensors``): what deleting those runs leaves without its file."""
    return [run_id for run_id, started in store.metric_of_runs("initial_weights").items()
            if run_id not in run_ids and isinstance(started, Mapping) and isinstance(file := started.get("file"), str)
            and run_of_weights(file) in run_ids]


def given_weights(overrides: Mapping[str, Any], *, source: str, store: Any = None) -> dict[str, Any]:
    """``overrides`` of :func:`mnistlab.train` (or :func:`mnistlab.lr_find`) with their weights as a
    config names them: ``weights=`` a trained :class:`~mnistlab.run.Run` (Keras's
    ``new.set_weights(old.get_weights())``; in a table too, ``{"file": run, "skip_mismatch": True}``)
    made a file, its model saved once, by content, in the cache
    (``~/.cache/mnistlab/weights/<digest>.safetensors``, its spec and run id in the file's metadata);
    ``skip_mismatch=True`` beside ``weights=`` (Keras's ``load_weights(skip_mismatch=True)``) put in
    its table; a run id (no file here) that run's weights file in ``store`` (``train(store=)``'s: a
    RunStore, its folder, or None/True/False for the default one). Other values pass through
    (validation says what is wrong with them). SpecError for a committee (start from one member), a run
    without a model, or ``skip_mismatch`` without weights; StoreError for a run id the store has not."""
    from mnistlab.run import Committee, Run
    from mnistlab.store import RunStore, run_id_like

    out = dict(overrides)
    skip = out.pop("skip_mismatch", None)
    weights = out.get("weights")
    table = dict(weights) if isinstance(weights, Mapping) else None
    given = table.get("file") if table is not None else weights
    if isinstance(given, Committee):
        raise SpecError(f"{source}: weights= takes one trained run, not a committee: start from one member "
                        "(committee.members[0])", path=("weights",), source=source)
    if isinstance(given, str) and not Path(given).exists() and not Path(given).suffix and run_id_like(given):
        folder = store if isinstance(store, (str, os.PathLike)) else None
        given = weights_file(given, lambda: store if isinstance(store, RunStore) else RunStore(folder, create=False))
    if isinstance(given, Run):
        if given.model is None:
            raise SpecError(f"{source}: weights=: this run has no trained model ({given.status})", path=("weights",),
                            source=source)
        given = str(_saved(given))
    if skip is not None:
        if weights is None or weights is False:
            raise SpecError(f"{source}: skip_mismatch= goes with weights= (the run or file the model starts from)",
                            path=("skip_mismatch",), source=source)
        table = {**(table or {}), "skip_mismatch": skip}
    if table is not None:
        out["weights"] = {**table, "file": given}
    elif weights is not None:
        out["weights"] = given
    return out


def _saved(run: Any) -> Path:
    """``run``'s model weights in the cache, named by their content (written once)."""
    import hashlib

    from mnistlab.datasets import cache_dir
    from mnistlab.files import save_weights

    state = {k: v.detach().cpu().contiguous() for k, v in run.model.state_dict().items()}
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].float() if state[key].is_floating_point() else state[key]
        digest.update(f"{key}:{state[key].dtype}:{tuple(state[key].shape)};".encode() + tensor.numpy().tobytes())
    path = cache_dir() / "weights" / f"{digest.hexdigest()[:20]}.safetensors"
    if not path.is_file():
        save_weights(state, path, {"mnistlab.spec": json.dumps(run.config.get("model")),
                                   "mnistlab.runs": json.dumps([run.run_id] if run.run_id else []),
                                   "mnistlab.committee": "0", GIVEN_KEY: "the run given as weights=run"})
    return path


def run_weights(store: Any, run_id: str) -> Path:
    """The ``weights.safetensors`` of the recorded run ``run_id`` (a unique prefix) in ``store`` (a
    :class:`~mnistlab.store.RunStore`): what `mnistlab train --weights RUN` starts from. StoreError
    for an unknown id, a run that did not finish, or one whose weights file is gone."""
    from mnistlab.errors import StoreError

    rec = store.get(run_id)
    if rec.status != "finished":
        raise StoreError(f"run {rec.run_id} is {rec.status}: only a finished run's weights start another run")
    path = store.artifact_dir(rec.run_id) / "weights.safetensors"
    if not path.is_file():
        raise StoreError(f"run {rec.run_id} has no weights file ({display_name(path)}): `mnistlab reindex --check` "
                         "says more")
    return path


# ------------------------------------------------------------------------------------- another variant's weights
@dataclass(frozen=True)
class Start:
    """An experiment variant that starts from the weights another variant of the file trains:
    ``weights = { variant = "pretrain", skip_mismatch = true }``. Each of its runs starts from the run
    of ``variant`` of the same repeat and member (of the only one, where ``variant`` has one), once
    that run has finished: Keras's ``new.load_weights(...)`` of the model the notebook's first
    ``fit`` trained, the two phases of fine-tuning in one file."""

    variant: str
    skip_mismatch: bool = False


START_KEYS = ("variant", "skip_mismatch")


def split_start(config: Mapping[str, Any], where: str) -> tuple[dict[str, Any], Start | None]:
    """A run config of an experiment (a variant's, or ``[base]``) without a ``weights`` table that
    names a ``variant``, and that :class:`Start`; the config as it is (and None) for any other.
    ``where`` leads the messages. SpecError (one line, its ``path`` the key at fault) for a table
    with a ``file`` too, another key, or a ``variant`` or ``skip_mismatch`` of the wrong type."""
    from mnistlab.errors import show, unknown_key

    weights = config.get("weights")
    if isinstance(weights, Mapping) and "variant" not in weights and "file" not in weights and (
            extra := next((k for k in weights if k not in START_KEYS), None)):  # (helper-208: "varient" said
        raise unknown_key(extra, ("file", *START_KEYS), where=f"{where}: weights", path=("weights",))  # file alone)
    if not isinstance(weights, Mapping) or "variant" not in weights:
        return dict(config), None
    if "file" in weights:
        raise SpecError(f"{where}: weights: a file or a variant to start from, not both (the variant's weights are its "
                        "trained run's)", path=("weights",))
    if extra := next((k for k in weights if k not in START_KEYS), None):
        raise unknown_key(extra, START_KEYS, where=f"{where}: weights", path=("weights",))
    name, skip = weights["variant"], weights.get("skip_mismatch", False)
    if not isinstance(name, str) or not name.strip():
        raise SpecError(f"{where}: weights.variant: must name a variant of this file, got {show(name)}",
                        path=("weights", "variant"))
    if not isinstance(skip, bool):
        raise SpecError(f"{where}: weights.skip_mismatch: must be true or false, got {show(skip)}",
                        path=("weights", "skip_mismatch"))
    return {k: v for k, v in config.items() if k != "weights"}, Start(name, skip)


def start_mistake(spec: ModelSpec, start: Start, theirs: ModelSpec) -> SpecError | None:
    """Why the model ``spec`` cannot start from the weights of the variant ``start`` names, whose model
    is ``theirs`` (its layers as they will be trained; a Normalization to adapt left to the run, which
    sees the trained run's statistics), found as the file is read; None where it can."""
    shapes, _ = _model_shapes(json.dumps(theirs.to_dict(), sort_keys=True))
    source = Source(Path(start.variant), shapes, None, (), f'variant "{start.variant}"', "its model")
    try:
        match_weights(spec, source, start.skip_mismatch)
    except SpecError as exc:
        return exc
    return None
