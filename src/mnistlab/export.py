"""Exporting a trained model (a run or a committee) to ONNX, TorchScript or safetensors, verified.

Every export is checked after it is written, on the whole test set of the model's dataset: the
file, loaded back by its own runtime (onnxruntime, ``torch.jit.load``, ``safetensors`` into a
rebuilt model), must give the same top-1 class as the PyTorch model at batch size 1 and at a
larger batch, and logits within ``|a - b| <= LOGIT_ATOL + LOGIT_RTOL * |b|``. A file that fails
is not left behind (:class:`~mnistlab.errors.ExportError`)::

    model = load_trained(RunStore(), "seed000", variant="cnn")
    check = export_model(model, "cnn.onnx")             # format from the suffix, or fmt="onnx"
    print(check.summary())                              # "10000 test images at batch 1 and 1000: ..."

The file takes float32 images (N, 1, 28, 28), pixels / 255, light on dark, in dataset form (see
:mod:`mnistlab.preprocessing`); its output is logits (N, classes) (a committee's: the log of its
members' mean probabilities, so softmax gives the committee's probabilities). The batch size is
dynamic. The preprocessing recipe, class names, dataset and run ids travel in the file's
metadata (:func:`read_metadata`). ONNX needs the optional extra: ``pip install 'mnistlab[onnx]'``
(onnx, onnxruntime, and onnxscript, which torch >= 2.9's default dynamo exporter uses).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mnistlab._version import __version__
from mnistlab.errors import (DataError, ExportError, MnistlabError, OutputError, ReportWarning, did_you_mean, in_python_words,
                             user_level)
from mnistlab.files import check_output_path, display_name, safetensors_metadata, save_weights, write_output
from mnistlab.preprocessing import recipe_for
from mnistlab.run import Committee, Run, check_trained

__all__ = ["FORMATS", "LOGIT_ATOL", "LOGIT_RTOL", "Verification", "export_model", "format_for", "load_model", "metadata",
           "read_metadata"]

FORMATS = ("onnx", "torchscript", "safetensors")
SUFFIXES = {".onnx": "onnx", ".pt": "torchscript", ".pth": "torchscript", ".torchscript": "torchscript",
            ".safetensors": "safetensors"}
# The stated tolerance on logits. Measured on seed000-dense and seed000-cnn (MNIST test set): the
# files' float32 logits differ from PyTorch's at batch 1000 by at most ~7e-6 (summation orders).
LOGIT_ATOL = 1e-4
LOGIT_RTOL = 1e-4
VERIFY_BATCH = 1000
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")  # Keras's model files: refused with a word on what to write instead
# What a safetensors file holds, in its metadata: the tensors are a torch state_dict's.
SAFETENSORS_LAYOUT = ("PyTorch state_dict of mnistlab.models.build_model(spec) (a committee: members.N. before each "
                      "of member N's keys, its spec the Nth of mnistlab.spec's list, or mnistlab.spec for each when "
                      "it is one): Conv2D weight (out, in, kh, kw) where Keras's kernel is (kh, kw, in, out), "
                      "DepthwiseConv2D weight and SeparableConv2D depthwise_weight (C * m, 1, kh, kw) where Keras's "
                      "depthwise kernel is (kh, kw, C, m), SeparableConv2D pointwise_weight (out, C * m, 1, 1) where "
                      "Keras's is (1, 1, C * m, out), Dense weight (out, in) where Keras's is (in, out), and a Flatten "
                      "flattens (C, H, W) where Keras flattens (H, W, C)")


@dataclass(frozen=True)
class Verification:
    """What checking an exported file found: ``images`` test images at each of ``batch_sizes``.

    ``mismatches``: images whose top-1 class differs where PyTorch's two best logits are further
    apart than the tolerance (a failure); ``ties``: differing top-1 within the tolerance (allowed).
    """

    fmt: str
    images: int
    batch_sizes: tuple[int, ...]
    max_logit_diff: float
    mismatches: int
    ties: int
    within_tolerance: bool
    #: the file's top-1 class of each test image (int64 (N,)), to hold against the run's recorded answers
    classes: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: whether each of the file's answers is right (bool (N,)); None without the test labels
    correct: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: how many test images the accuracy is of: those the run was scored on (a data.subset keeps the first)
    scored: int | None = None
    #: where the run was tested in another precision than the file computes in (float32), that said
    #: ("the run was tested in bf16", "its members were tested in bf16 and float32"), and how many of
    #: the run's recorded answers differ from the file's
    tested_in: str | None = None
    differ_from_run: int | None = None

    @property
    def passed(self) -> bool:
        return self.mismatches == 0 and self.within_tolerance

    @property
    def accuracy(self) -> float | None:
        """The file's top-1 accuracy on the first ``scored`` test images, the run's (None without labels)."""
        if self.correct is None or not len(self.correct):
            return None
        return float(self.correct[: self.scored].mean())

    def summary(self) -> str:
        """One line: what was compared and how closely; the file's test accuracy, and where the run
        was tested in bf16, that the file computes in float32 and how many answers differ."""
        sizes = " and ".join(str(b) for b in self.batch_sizes)
        verdict = "same top-1 class on every image" if self.mismatches == 0 else f"{self.mismatches} top-1 mismatches"
        ties = f" ({self.ties} near-ties within tolerance)" if self.ties else ""
        scored = ""
        if self.accuracy is not None:
            part = self.scored if self.scored is not None and self.scored < self.images else None
            scored = f"; the file scores {self.accuracy:.2%} on " + (f"the run's {part:,} test images" if part else "them")
        if self.tested_in is not None:  # the check above is against the float32 model the file holds
            n = self.differ_from_run
            scored += (f" (it computes in float32, where {self.tested_in}: "
                       + (f"{n} of the run's recorded answers differ from the file's)" if n is not None else
                          "its recorded answers may differ slightly)"))
        return (f"{self.fmt} verified on {self.images} test image{'s' * (self.images != 1)} at batch {sizes}: {verdict}{ties}, "
                f"logits within {self.max_logit_diff:.2g} (tolerance {LOGIT_ATOL:g} + {LOGIT_RTOL:g} x |logit|){scored}")


class CommitteeModule(nn.Module):
    """A committee as one module: the log of its members' mean softmax (softmax of it is the mean)."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # log(mean of the softmaxes) as a log-sum-exp of the members' log-softmaxes, less log M: finite
        # where a probability underflows to 0 (helper-179: -inf in a confident committee's logits, and
        # -inf - -inf = NaN failed every export's check)
        logs = torch.stack([torch.log_softmax(m(x), dim=1) for m in self.members])
        return torch.logsumexp(logs, dim=0) - math.log(len(self.members))


def export_module(model: Run | Committee) -> nn.Module:
    """The plain float32 CPU module that is exported for ``model`` (eval mode)."""
    if isinstance(model, Committee):
        return CommitteeModule([m.model.float().cpu().eval() for m in model.members]).eval()
    return model.model.float().cpu().eval()


def metadata(model: Run | Committee) -> dict[str, str]:
    """The file's metadata (strings, some JSON): dataset, class names, preprocessing, input, output,
    runs, and the model spec (``mnistlab.spec``; for a committee of different networks, a
    ``[[committees]]`` one, a JSON list of the members' specs in member order)."""
    from mnistlab.data.userdata import data_setting

    dataset = model.dataset
    names = model.class_names
    members = model.members if isinstance(model, Committee) else [model]
    specs = [m.config["model"] for m in members]
    h, w = model.input_shape
    recipe = recipe_for(dataset, model.input_shape)
    polarity = "light on dark" if recipe.invert == "light-background" else "as the training images were"
    return {
        "mnistlab.version": __version__,
        # the user's own data as its kind and options: its paths (a home folder's name) stay on this machine
        "mnistlab.dataset": setting if isinstance(setting := data_setting(dataset), str) else json.dumps(_applies(setting)),
        "mnistlab.class_names": json.dumps(names),
        "mnistlab.preprocessing": json.dumps(recipe.to_dict()),
        "mnistlab.input": f"images: float32 (N, 1, {h}, {w}), pixels / 255 in [0, 1], {polarity}, in dataset form",
        "mnistlab.output": "logits: float32 (N, classes); softmax gives the class probabilities",
        "mnistlab.runs": json.dumps([m.run_id for m in members]),
        # the row it is in `compare` (load_model's run.experiment and .variant; a committee: its own row)
        "mnistlab.experiment": str(model.record.experiment if isinstance(model, Committee) and model.record
                                   else members[0].experiment or ""),
        "mnistlab.variant": str(model.record.variant if isinstance(model, Committee) and model.record
                                else members[0].variant or ""),
        "mnistlab.spec": json.dumps(specs[0] if all(x == specs[0] for x in specs) else specs),
        "mnistlab.committee": str(len(members)) if isinstance(model, Committee) else "0",
        "mnistlab.layer_names": json.dumps(_layer_names(specs[0])),
        # (helper-179: a smoke run's file read as any other; only its card said so)
        "mnistlab.smoke_run": "true" if _smoke(model) else "false",
        # what load_model needs to predict as the run did: the precision it was tested in (the file's
        # weights are float32 either way) and the border its training images had (the review of session 58)
        "mnistlab.tested_in": str(members[0].result.env.get("precision") or "float32"),
        "mnistlab.border": json.dumps((members[0].result.env.get("data") or {}).get("border")),
    }


def _smoke(model: Run | Committee) -> bool:
    """Whether ``model`` (a member of it) has the size of a ``--quick`` smoke run (:func:`~mnistlab.comparison.smoke_member`)."""
    from mnistlab.comparison import smoke_member

    members = model.members if isinstance(model, Committee) else [model]
    return any(smoke_member(m) for m in members)


def _layer_names(spec: dict[str, Any]) -> dict[str, str]:
    """The weights' module names (each part of a key: ``conv2d_1`` in ``conv2d_1.weight``) -> the
    layers' names in the summary, where they differ: a layer's ``name=`` keeps the module's
    auto-name (helper-136: the exported keys contradicted the summary's names, unsaid)."""
    from mnistlab.specs import ModelSpec, keras_graph

    return {node.module: node.name for node in keras_graph(ModelSpec.from_dict(spec)) if node.module != node.name}


def _applies(setting: dict[str, Any]) -> dict[str, Any]:
    """The user's data setting (:func:`~mnistlab.data.userdata.data_setting`) less the options that
    did nothing: ``label`` but for a CSV, ``test_fraction`` where a test file was given."""
    return {k: v for k, v in setting.items() if not (k == "label" and setting.get("own data") != "csv"
                                                     or k == "test_fraction" and setting.get("test file"))}


def format_for(path: str | os.PathLike, fmt: str | None = None) -> str:
    """``fmt`` checked, or the format the file name's suffix says; OutputError when neither says one,
    and when they disagree (``--format onnx -o m.pt``: a file named for another format misleads
    whoever loads it). A suffix no format claims (``model.bin``) takes any ``fmt``."""
    suffix = Path(path).suffix.lower()
    if fmt is not None:
        if fmt not in FORMATS:
            raise OutputError(f"unknown export format {fmt!r}{did_you_mean(fmt, FORMATS)}; formats: {', '.join(FORMATS)}")
        if suffix in SUFFIXES and SUFFIXES[suffix] != fmt:
            wanted = ", ".join(s for s, f in SUFFIXES.items() if f == fmt)
            raise OutputError(f"--format {fmt} but the name {str(path)!r} ends in {suffix}, the suffix of "
                              f"{SUFFIXES[suffix]}: end it in {wanted}, or leave out --format to write {SUFFIXES[suffix]}")
        return fmt
    if suffix in KERAS_SUFFIXES or str(path).lower().endswith(".weights.h5"):
        raise OutputError(f"{str(path)!r}: mnistlab writes no Keras file ({', '.join(KERAS_SUFFIXES)}); write ONNX "
                          "(.onnx: onnxruntime, or onnx2tf/onnx2keras for TensorFlow), TorchScript (.pt) or safetensors "
                          "(.safetensors, in PyTorch's weight layout: README, \"Using a trained model\")")
    if Path(path).name.lower() in SUFFIXES:  # -o out/.onnx: a hidden file with no suffix, to Python
        raise OutputError(f"{str(path)!r}: give the file a name before its suffix (model{Path(path).name})")
    if suffix not in SUFFIXES:
        raise OutputError(f"cannot tell the format of {str(path)!r} from its suffix: give --format "
                          f"({', '.join(FORMATS)}) or end the name in {', '.join(SUFFIXES)}")
    return SUFFIXES[suffix]


def export_model(model: Run | Committee, path: str | os.PathLike, fmt: str | None = None, *,
                 data_dir: str | os.PathLike | None = None, verify: bool = True) -> Verification | None:
    """Write ``model`` to ``path`` as ``fmt`` (default: from the suffix) and verify it (see the module docstring).

    Returns the :class:`Verification` (None with ``verify=False``). Raises OutputError for a path
    that cannot be written, ExportError when the export fails or the file disagrees with PyTorch
    (the file is then removed), and MnistlabError when the ONNX extra is missing.
    """
    check_trained(model, "export_model")
    with in_python_words({"--format": "fmt=", "--no-verify": "verify=False"}):  # the command's flags: keywords here
        return write_export(model, path, fmt, data_dir=data_dir, verify=verify)


def write_export(model: Run | Committee, path: str | os.PathLike, fmt: str | None = None, *,
                 data_dir: str | os.PathLike | None = None, verify: bool = True) -> Verification | None:
    """:func:`export_model` for `mnistlab export`: its errors name the command's flags (``--format``)."""
    out = check_output_path(path)
    fmt = format_for(path, fmt)
    module, meta = export_module(model), metadata(model)
    checks: list[Verification | None] = []
    if meta["mnistlab.smoke_run"] == "true":
        warnings.warn("the model has the size of a --quick smoke run (1 or 2 epochs, at most 300 training images): a check "
                      "that the steps work, not a model to use; its file says so (mnistlab.smoke_run)", ReportWarning,
                      stacklevel=user_level())

    def write_and_verify(tmp: Path) -> None:  # the file replaces `out` only once it has passed
        with _quiet():
            try:
                WRITERS[fmt](module, tmp, meta, model.input_shape)
            except OutputError as exc:  # said of the file asked for, not of its temporary name (helper-189)
                raise OutputError(str(exc).replace(display_name(tmp), display_name(out))) from None
            check = (verify_file(tmp, fmt, module, model.dataset, data_dir, config=getattr(model, "config", None),
                                 env=getattr(model, "env", None)) if verify else None)
        if check is not None and not check.passed:
            raise ExportError(f"the {fmt} export of {path} disagrees with the PyTorch model: {check.summary()}")
        checks.append(check)

    write_output(out, write_and_verify)
    return _against_the_run(checks[0], model)


def _against_the_run(check: Verification | None, model: Run | Committee) -> Verification | None:
    """``check`` as the run's figures read: the file's accuracy on the test images the run was
    scored on (the first ``test_size``: a data.subset scores part of the set), and where the run
    was tested in another precision than the file's float32 (bf16), which, and how many of its
    recorded answers differ from the file's."""
    if check is None:
        return None
    members = model.members if isinstance(model, Committee) else [model]
    recorded = [np.asarray(m.result.test_probs) for m in members]
    n = len(recorded[0]) if all(len(r) == len(recorded[0]) > 0 for r in recorded) else 0
    if not 0 < n <= check.images:
        return check
    check = dataclasses.replace(check, scored=n)
    tested = sorted({str(m.result.env.get("precision") or "float32") for m in members})
    if tested == ["float32"]:
        return check
    from mnistlab.metrics import committee_probs

    differ = None if check.classes is None else int((check.classes[:n] != committee_probs(recorded).argmax(1)).sum())
    said = (f"the run was tested in {tested[0]}" if len(members) == 1 else
            f"its members were tested in {' and '.join(tested)}")
    return dataclasses.replace(check, tested_in=said, differ_from_run=differ)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters' warnings and log lines (deprecations, torchvision absent) kept off the user's screen."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "onnxscript", "torch")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _example(shape: tuple[int, int]) -> torch.Tensor:
    return torch.rand(2, 1, *shape, generator=torch.Generator().manual_seed(0))  # 2: a batch of 1 would be fixed


def _write_onnx(module: nn.Module, path: Path, meta: dict[str, str], shape: tuple[int, int]) -> None:
    onnx = _onnx_modules()[0]
    try:
        torch.onnx.export(module, (_example(shape),), str(path), input_names=["images"], output_names=["logits"],
                          dynamic_shapes=({0: torch.export.Dim("batch")},), dynamo=True, external_data=False,
                          verbose=False)
    except OSError:
        raise
    except Exception as exc:  # the exporter's own failures (an operator it cannot translate...)
        raise ExportError(f"the ONNX exporter failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}") from None
    proto = onnx.load(str(path))
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name, proto.producer_version = "mnistlab", __version__  # not torch's version beside our name
    onnx.save(proto, str(path))


def _write_torchscript(module: nn.Module, path: Path, meta: dict[str, str], shape: tuple[int, int]) -> None:
    # torch.jit.trace is deprecated from torch 2.10 in favour of torch.export, but TorchScript files are
    # still what libtorch (C++) and older mobile runtimes load; the warning is silenced in _quiet.
    traced = torch.jit.trace(module, _example(shape))
    buffer = io.BytesIO()  # saved to a path, the archive's folder is named after it: the temporary file's name
    torch.jit.save(traced, buffer, _extra_files={"mnistlab.json": json.dumps(meta)})
    path.write_bytes(buffer.getvalue())


def _write_safetensors(module: nn.Module, path: Path, meta: dict[str, str], shape: tuple[int, int]) -> None:
    save_weights(module.state_dict(), path, {**meta, "mnistlab.layout": SAFETENSORS_LAYOUT})


WRITERS: dict[str, Callable[[nn.Module, Path, dict[str, str], tuple[int, int]], None]] = {
    "onnx": _write_onnx, "torchscript": _write_torchscript, "safetensors": _write_safetensors}


def _onnx_modules() -> tuple[Any, Any]:
    try:
        import onnx
        import onnxruntime
        import onnxscript  # noqa: F401  (torch's dynamo exporter needs it)
    except ImportError as exc:
        raise ExportError(f"ONNX export needs the onnx extra ({exc.name} is missing): pip install 'mnistlab[onnx]'") from None
    return onnx, onnxruntime


def read_metadata(path: str | os.PathLike, fmt: str | None = None) -> dict[str, str]:
    """The mnistlab metadata of an exported file (see :func:`metadata`), read back by the format's own library
    (safetensors: from its header, :func:`~mnistlab.files.safetensors_metadata`)."""
    fmt, path = format_for(path, fmt), os.fspath(path)
    if fmt == "onnx":
        return {p.key: p.value for p in _onnx_modules()[0].load(path).metadata_props}
    if fmt == "torchscript":
        extra = {"mnistlab.json": ""}
        with _quiet():  # torch.jit.load's deprecation warning
            torch.jit.load(io.BytesIO(Path(path).read_bytes()), _extra_files=extra)  # (a path not UTF-8 too)
        return json.loads(extra["mnistlab.json"])
    return safetensors_metadata(path)


def load_model(path: str | os.PathLike) -> Run:
    """Keras's ``keras.models.load_model`` for a model file mnistlab wrote as safetensors
    (``run.save("m.safetensors")``, ``mnistlab export RUN -o m.safetensors``): the network rebuilt
    from the spec in its metadata with its weights, as a :class:`~mnistlab.run.Run` that predicts
    (its dataset's preprocessing and class names come with it), evaluates and summarises as the run
    did. The file holds no history, metrics or environment (the run store does: ``load_trained(store,
    RUN_ID)``); its ``status`` is "finished" and its ``message`` names the file. ExportError, one line,
    for a file that is missing, not safetensors, not mnistlab's, a committee's (one network of
    several: ``load_trained(store, EXPERIMENT)`` gives the committee), or an ``.onnx`` / ``.pt`` file
    (they run in onnxruntime and ``torch.jit.load``).

        >>> run = load_model("cnn.safetensors")            # doctest: +SKIP
        >>> run.predict("my_digit.png").argmax(axis=1)     # doctest: +SKIP
    """
    try:
        return _loaded_model(Path(path))
    except ExportError as exc:  # a file that is no model of mnistlab's: a mistake in the input (exit 2), not a
        exc.exit_code = 2  # failed export's verification (helper-257: exit 1)
        raise


def _loaded_model(p: Path) -> Run:
    """:func:`load_model` of ``p``."""
    from safetensors.torch import load

    from mnistlab.models import build_model
    from mnistlab.run import RunResult
    from mnistlab.specs import ModelSpec

    if p.suffix.lower() in (".onnx", ".pt"):
        raise ExportError(f"{display_name(p)}: load_model reads the .safetensors files mnistlab writes; an .onnx file "
                          "runs in onnxruntime and a .pt one in torch.jit.load, as the .md file beside it shows")
    try:
        meta = safetensors_metadata(p)
        weights = load(p.read_bytes())  # (a path that is not UTF-8 too)
    except FileNotFoundError:
        raise ExportError(f"{display_name(p)}: no such file") from None
    except (OSError, ValueError, RuntimeError) as exc:
        raise ExportError(f"{display_name(p)}: not a model file mnistlab wrote ({str(exc).splitlines()[0][:100]})") from None
    if "mnistlab.spec" not in meta:
        raise ExportError(f"{display_name(p)}: a safetensors file without mnistlab's metadata (its model's layers): "
                          "not one `mnistlab export` or run.save wrote; weights alone start a run with weights=")
    if meta.get("mnistlab.committee", "0") != "0":
        raise ExportError(f"{display_name(p)}: a committee's file ({meta['mnistlab.committee']} networks): load_model reads "
                          "one run's; load_trained(store, EXPERIMENT) gives the committee")
    try:
        spec = ModelSpec.from_dict(json.loads(meta["mnistlab.spec"]))
        written = meta.get("mnistlab.dataset", "")
        dataset = json.loads(written) if written.startswith("{") else written
        names = json.loads(meta.get("mnistlab.class_names", "[]"))
        model = build_model(spec, seed=0)
        model.load_state_dict(weights)
    except (MnistlabError, ValueError, RuntimeError, TypeError) as exc:
        raise ExportError(f"{display_name(p)}: its metadata and weights do not make its model ({str(exc).splitlines()[0][:120]})"
                          ) from None
    config = {"dataset": dataset, "model": spec.to_dict()}
    env: dict[str, Any] = {"data": {"class_names": names}, "precision": meta.get("mnistlab.tested_in", "float32")}
    try:
        if (border := json.loads(meta.get("mnistlab.border", "null"))) is not None:
            env["data"]["border"] = border
    except ValueError:
        pass  # (a file written before the border was: predict judges polarity without it)
    result = RunResult(config, "finished", [], {}, env, np.empty((0, len(names)), np.float32), model.eval(),
                       f"loaded from {display_name(p)}")
    run = Run(result, _written_run_id(meta))  # the run it was trained as (note 58: its card said "not recorded")
    run.experiment, run.variant = meta.get("mnistlab.experiment") or None, meta.get("mnistlab.variant") or None
    return run


def _written_run_id(meta: dict[str, str]) -> str | None:
    """The id of the one run a model file's metadata names (``mnistlab.runs``), or None."""
    try:
        runs = json.loads(meta.get("mnistlab.runs", "[]"))
    except ValueError:
        return None
    return runs[0] if isinstance(runs, list) and len(runs) == 1 and isinstance(runs[0], str) and runs[0] else None


def _loaded(path: Path, fmt: str, module: nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    """The exported file loaded back by its runtime, as a function float32 (N, 1, H, W) -> logits."""
    if fmt == "onnx":
        session = _onnx_modules()[1].InferenceSession(  # the file's bytes: a path that is not UTF-8 too
            Path(path).read_bytes(), providers=["CPUExecutionProvider"])
        return lambda x: session.run(["logits"], {"images": x})[0]
    if fmt == "torchscript":
        scripted = torch.jit.load(io.BytesIO(Path(path).read_bytes()))
        run: Callable[[torch.Tensor], torch.Tensor] = scripted
    else:
        from safetensors.torch import load

        from mnistlab.models import build_model
        from mnistlab.specs import ModelSpec

        meta = read_metadata(path, "safetensors")
        written, members = json.loads(meta["mnistlab.spec"]), int(meta["mnistlab.committee"])
        specs = [ModelSpec.from_dict(d) for d in (written if isinstance(written, list) else [written] * max(members, 1))]
        rebuilt = CommitteeModule([build_model(sp) for sp in specs]) if members else build_model(specs[0])
        rebuilt.load_state_dict(load(path.read_bytes()))  # (a path that is not UTF-8 too)
        run = rebuilt.eval()

    def forward(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return run(torch.from_numpy(x)).numpy()
    return forward


def verify_file(path: Path, fmt: str, module: nn.Module, dataset: Any,
                data_dir: str | os.PathLike | None = None, *, images: np.ndarray | None = None,
                batch: int = VERIFY_BATCH, config: dict[str, Any] | None = None,
                env: dict[str, Any] | None = None) -> Verification:
    """Compare the file at ``path`` with ``module`` on ``images`` (uint8 (N, H, W); default: the whole
    test set of ``dataset``, or of the run whose resolved ``config`` is given: the user's own data
    too, checked against the run's recorded ``env``) at batch 1 and at ``batch``: see :class:`Verification`."""
    labels = None
    if images is None:
        from mnistlab.datasets import run_dataset

        try:
            ds = run_dataset(config or {"dataset": dataset}, data_dir, env)
        except MnistlabError as exc:
            raise DataError(f"cannot verify the export without its test set: {exc}; give --no-verify "
                            "to write it unverified") from None
        images, labels = np.asarray(ds.test_images), np.asarray(ds.test_labels)
    x = (images.astype(np.float32) / 255.0)[:, None]
    with torch.inference_mode():
        ref = np.concatenate([module(torch.from_numpy(x[i: i + batch])).numpy() for i in range(0, len(x), batch)])
    forward = _loaded(path, fmt, module)
    worst, mismatches, ties, within = 0.0, 0, 0, True
    threads = torch.get_num_threads()
    sizes = tuple(dict.fromkeys((1, max(1, min(batch, len(x))))))  # 40 test images are one batch of 40, and said so
    for size in sizes:
        torch.set_num_threads(1 if size == 1 else threads)  # one image: threads only add their overhead
        try:
            got = np.concatenate([forward(x[i: i + size]) for i in range(0, len(x), size)])
        finally:
            torch.set_num_threads(threads)
        diff = np.abs(got - ref)
        worst = max(worst, float(diff.max()) if diff.size else 0.0)
        bad = np.flatnonzero(got.argmax(1) != ref.argmax(1))
        top2 = np.sort(ref[bad], axis=1)[:, -2:] if len(bad) else np.zeros((0, 2))
        near = (top2[:, 1] - top2[:, 0]) <= 2 * (LOGIT_ATOL + LOGIT_RTOL * np.abs(top2[:, 1]))
        mismatches, ties = mismatches + int((~near).sum()), ties + int(near.sum())
        within = within and bool(np.all(diff <= LOGIT_ATOL + LOGIT_RTOL * np.abs(ref)))
        if not within:
            break
    classes = got.argmax(1)  # at the larger batch: as the file is most often run
    correct = classes == labels if labels is not None and len(labels) == len(classes) > 0 else None
    return Verification(fmt, len(x), sizes, worst, mismatches, ties, within, classes, correct, len(x))
