"""The model card: one Markdown page saying what a trained model is, how it did, and how to feed it.

Written beside every export and by ``mnistlab card MODEL``::

    text = model_card(load_trained(RunStore(), "seed000", variant="cnn"))
    Path("cnn.md").write_text(text)

It holds the model's layers and parameter count, the dataset and split, the training config, the
test accuracy (a committee's members too), per-class accuracy and the most-confused pairs (from
the run's stored test predictions), the training time and environment, the preprocessing a
caller must apply, and an export's verification when there is one. Every name that came from a
user (variants, experiments, class names) is escaped: it shows as text, never as Markdown or HTML.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from mnistlab.comparison import md, smoke_member
from mnistlab.config import optimizer_settings_said
from mnistlab.data.registry import is_registered
from mnistlab.data.userdata import dataset_label
from mnistlab.errors import MnistlabError, ReportWarning, user_level
from mnistlab.metrics import committee_probs, confusion_matrix, precision_recall_f1
from mnistlab.experiments import model_as_written, same_setting
from mnistlab.initial_weights import said as said_start
from mnistlab.summary import summarize
from mnistlab.plots import most_confused_pairs
from mnistlab.preprocessing import recipe_for
from mnistlab.run import Committee, Run, check_trained
from mnistlab.specs import ModelSpec

__all__ = ["model_card"]

def _table(heads: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    out = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    return out + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def _pct(x: Any) -> str:
    return "n/a" if not isinstance(x, (int, float)) else f"{100 * x:.2f}%"


def _num(x: Any, spec: str) -> str:
    return "n/a" if not isinstance(x, (int, float)) else format(x, spec)


def _members(model: Run | Committee) -> list[Run]:
    return model.members if isinstance(model, Committee) else [model]


def _who(run: Run) -> str:
    rec = run.record
    seed = rec.seed if rec is not None else (run.config.get("train") or {}).get("seed")
    where = (f" (experiment {md(run.experiment)}, variant {md(run.variant)}" + (f", seed {seed})" if seed is not None else ")")
             if run.experiment and run.variant else "")
    return f"`{run.run_id}`{where}" if run.run_id else f"not recorded{where}"


def _notes_lines(members: list[Run]) -> list[str]:
    """A line for each run of ``members`` with tags or a note (`mnistlab note`; helper-252: in no card), and a
    blank line after them; none without any."""
    noted = [(m.run_id, n) for m in members if (n := getattr(m, "notes", None))]
    lines = [f"Noted on `{rid}`: {md(n.said())}." for rid, n in noted]
    return [*lines, ""] if lines else []


def _model_section(spec: ModelSpec, recorded_params: int | None) -> list[str]:
    """The layer table of the recorded model; ``recorded_params`` is the run's Keras count of the model
    as written, which differs where a Normalization was adapted (its statistics became constants)."""
    s = summarize(spec)
    rows = [(md(f"{r.name} ({r.type})"), md(str(r.output_shape).replace("None", "batch")), f"{r.params:,}")
            for r in s.rows]
    note = ""
    if recorded_params is not None and recorded_params != s.total:
        note = (f" Keras counts {recorded_params:,} for the model as written: the Normalization it adapted "
                f"holds its mean, variance and count as {recorded_params - s.total:,} non-trainable weights, "
                "which the recorded model keeps as constants.")
    penalties = [f"Weight penalties, added to the loss it trained on: {md(', '.join(s.penalties))}.", ""] if s.penalties else []
    return ["## Model", "", f"{md(s.name)}: input {s.input_shape}, **{s.total:,} parameters** "
            f"({s.trainable:,} trainable), {s.flops:,} multiply-adds per image.{note}", "", *_table(
                ["layer (type)", "output shape", "params"], rows), "", *penalties]


def _data_section(run: Run, class_names: Sequence[str]) -> list[str]:
    cfg, m = run.config, run.metrics
    data = cfg.get("data", {})
    validation = m.get("validation", data.get("validation"))
    subset = f"the first {data['subset']:,} training images (data.subset)" if data.get("subset") else "all training images"
    dataset = run.dataset
    held_out = (run.result.env.get("data") or {}).get("test_held_out")  # absent in runs recorded before 2026-12-02
    if held_out:
        subset += f", less the test set: {held_out:.0%} of them, held out by class (test_fraction)"
    elif held_out is None and not is_registered(dataset) and not (isinstance(dataset, dict) and dataset.get("test")):
        # the user's data without a test file, in a run recorded before test_held_out was
        subset += ", less any test set held out from them (test_fraction: this run's record does not say)"
    return ["## Data", "", f"- dataset: **{md(dataset_label(dataset))}**, {subset}",
            f"- split: {m.get('train_size', 'n/a')} training, {m.get('val_size', 'n/a')} validation "
            f"({md(validation)}), {m.get('test_size', 'n/a')} test images"
            + (" (validation is the test set)" if m.get("validation_is_test") else ""),
            f"- classes ({len(class_names)}): " + ", ".join(md(n) for n in class_names), ""]


def _networks(members: Sequence[Run]) -> list[tuple[Run, int]]:
    """The distinct networks of ``members`` (by spec): each one's first member and how many have it."""
    found: dict[str, list[Run]] = {}
    for m in members:  # a Normalization's adapted statistics aside: the network as written
        found.setdefault(json.dumps(model_as_written(m.config["model"]), sort_keys=True), []).append(m)
    return [(group[0], len(group)) for group in found.values()]


def _training_section(model: Run | Committee) -> list[str]:
    run = _members(model)[0]
    t = run.config.get("train", {})
    said = [k for k, _ in optimizer_settings_said(t.get, str(t.get("optimizer", "adam")))]  # the settings the optimizer
    # runs with (its switches when on)
    keys = ("optimizer", "lr", *said, "epochs", "batch_size", "label_smoothing", "precision", "schedule")
    rows = [(k, "true" if t[k] is True else md(json.dumps(t[k]) if isinstance(t[k], (dict, list)) else t[k]))
            for k in keys if k in t]
    used = _each([m.result.env.get("precision") for m in _members(model)])  # what "auto" became where each trained
    rows = [(k, f"{v} ({md(used)})" if k == "precision" and used and used != t.get(k) else v) for k, v in rows]
    seeds = [str(m.record.seed if m.record else m.config.get("train", {}).get("seed")) for m in _members(model)]
    rows.append(("seeds" if len(seeds) > 1 else "seed", ", ".join(seeds)))
    rows.append(("epochs run", md(run.metrics.get("epochs_run"))))
    rows.append(("initial weights", md(said_start(run.metrics.get("initial_weights"), name_only=True) or None)))
    aug = run.config.get("augment")
    if aug:
        rows.append(("augment", md(json.dumps(aug))))
    rows += [("callbacks", md(", ".join(_callback_text(c) for c in run.config.get("callbacks") or []) or None)),
             ("weights", md(run.result.env.get("weight_average"))),
             ("restored epoch", md(run.metrics.get("restored_epoch"))),
             ("test-time augmentation", md(json.dumps((run.config.get("evaluate") or {}).get("tta"))
                                           if (run.config.get("evaluate") or {}).get("tta") else None))]
    rows = [(k, v) for k, v in rows if v not in ("None", "")]
    full = json.dumps(run.config, indent=1, default=str)  # the model too: what a changed preset's layers hold
    differ = not all(same_setting({**m.config, "model": None}, {**run.config, "model": None})  # seeds aside,
                     and m.config.get("dataset") == run.config.get("dataset") for m in _members(model))  # same files
    note = ([f"The members were trained with different settings; this table is the first member's (run "
             f"`{run.run_id}`): `mnistlab show RUN` gives each one's.", ""] if differ else [])
    return ["## Training", "", *note, *_table(["setting", "value"], rows), "", "<details><summary>the full resolved config"
            "</summary>", "", "```json", full.replace("```", "` ` `"), "```", "", "</details>", ""]


def _callback_text(cb: dict[str, Any]) -> str:
    """``EarlyStopping(monitor=val_accuracy, restore_best_weights=True)``: a callback as a Keras user writes it."""
    args = ", ".join(f"{k}={v}" for k, v in cb.items() if k != "type")
    return f"{cb.get('type', '?')}({args})"


def _results_section(model: Run | Committee, labels: np.ndarray | None, class_names: Sequence[str],
                     why: str = "") -> list[str]:
    members = _members(model)
    out = ["## Results", ""]
    if isinstance(model, Committee):
        accs = ", ".join(_pct(m.test_accuracy) for m in members)
        out += [f"- committee of {len(members)} (their softmax outputs averaged): test accuracy "
                f"**{_pct(model.test_accuracy)}**", f"- members' test accuracy: {accs}"]
    else:
        out += [f"- test accuracy **{_pct(model.test_accuracy)}**, test loss {_num(model.test_loss, '.4f')}"]
    tta = members[0].metrics.get("tta_test_accuracy")
    if tta is not None and not isinstance(model, Committee):
        views = members[0].metrics.get("tta_views")
        out += [f"- with test-time augmentation ({views} view{'s' * (views != 1)} of each image averaged): "
                f"test accuracy {_pct(tta)}; `mnistlab predict` and an exported model give the plain predictions "
                "(no test-time augmentation)"]
    probs = committee_probs([np.asarray(m.result.test_probs) for m in members])
    if labels is None or not len(probs) or not np.isfinite(probs).all():
        return out + ["", f"(per-class accuracy: the test labels or predictions are not available{': ' * bool(why)}"
                          f"{md(why)})", ""]
    true = labels[: len(probs)]
    cm = confusion_matrix(true, probs.argmax(1), len(class_names))
    precision, recall, _ = precision_recall_f1(cm)

    def pct(x: float) -> str:
        return _pct(float(x)) if np.isfinite(x) else "n/a"

    out += [f"- on {len(true):,} test images", "", "Per-class accuracy (recall: of a class's images, how many were "
            "read as it) and precision (of the images read as a class, how many were it; `mnistlab errors` gives F1 and "
            "the confusion matrix):", "",
            *_table(["class", "accuracy (recall)", "precision", "images"],
                    [(md(n), pct(r), pct(p), int(cm[i].sum())) for i, (n, r, p) in enumerate(zip(class_names, recall,
                                                                                                   precision))]),
            "", "Most-confused pairs (true -> predicted):", ""]
    pairs = most_confused_pairs(cm, ties=True)
    out += [f"- {md(class_names[i])} -> {md(class_names[j])}: {n} image{'s' * (n != 1)}" for i, j, n in pairs] or ["- none"]
    return out + [""]


def _each(values: Sequence[Any]) -> str | None:
    """The one value the members share, or each value with how many members have it (``bf16 (2
    members), float32 (1 member)``: a committee whose networks "auto" trained differently); None for none."""
    counts = Counter(str(v) for v in values if v is not None)
    if len(counts) <= 1:
        return next(iter(counts), None)
    return ", ".join(f"{v} ({n} member{'s' * (n != 1)})" for v, n in counts.most_common())


def _environment_section(model: Run | Committee) -> list[str]:
    members = _members(model)
    seconds = sum(float(m.metrics.get("train_seconds") or 0) for m in members)
    keys = ("device", "device_name", "precision", "threads", "python", "torch", "numpy", "mnistlab", "platform",
            "git_commit", "git_dirty")
    rows = [(k, md(said)) for k in keys if (said := _each([m.result.env.get(k) for m in members])) is not None]
    epochs = [float(s) for m in members if isinstance(s := m.metrics.get("seconds_per_epoch"), (int, float))]
    per_epoch = ("n/a" if not epochs else f"{epochs[0]:.2f}" if max(epochs) - min(epochs) < 0.005
                 else f"{min(epochs):.2f} to {max(epochs):.2f}")
    return ["## Training time and environment", "", f"Training took {seconds:.1f} s"
            + (f" over {len(members)} members" if len(members) > 1 else "")
            + f" ({per_epoch} s per epoch).", "", *_table(["", ""], rows), ""]


def _called(run: Run) -> str:
    """What a card calls a run's network: the model's name, or its variant's for a model written
    inline (which has no name); where a variant changed a preset's layers, both (``tanh
    (seed000-cnn)``): it is no longer the preset; where a run of the preset's own name did (`train
    --set model...`), what changed (``seed000-dense, changed: layers[1].act=tanh``)."""
    from mnistlab.presets import changed_from_preset

    model, variant = run.config["model"].get("name"), _variant(run)
    if changed := changed_from_preset(run.config["model"]):
        return f"{md(variant)} ({md(model)})" if variant and variant != model else f"{md(model)}, changed: {md(changed)}"
    return md(model or variant or "model")


def _variant(run: Run) -> str | None:
    """The variant a run was recorded as, naming a model written inline (which has no name)."""
    record = getattr(run, "record", None)
    return str(record.variant) if record is not None else None


def _preprocessing_section(model: Run | Committee) -> list[str]:
    from mnistlab.data.borders import trained_background

    recipe = recipe_for(model.dataset, model.input_shape)
    h, w = model.input_shape
    background = trained_background((_members(model)[0].result.env.get("data") or {}).get("border"))  # own data's
    polarity = ("light on a dark background" if recipe.invert == "light-background" else
                f"{'dark' if background == 'light' else 'light'} on a {background} background, as its training "
                "images are" if background else "drawn as its training images are")  # (helper-121: which, unsaid)
    if recipe.kind == "resize":
        polarity += f", resized to {w}x{h} whatever their aspect ratio"
    return ["## Preprocessing a caller must apply", "",
            f"The model takes float32 images shaped (N, 1, {h}, {w}), pixels / 255, {polarity}, "
            f"made as the images of {md(dataset_label(model.dataset))} were (recipe \"{md(recipe.kind)}\"; "
            "`mnistlab predict` and `mnistlab.preprocess(image, dataset)` apply it):", "",
            *[f"{i}. {md(step)}" for i, step in enumerate(recipe.steps, 1)], "",
            "Its output is logits; softmax gives the class probabilities.", ""]


def _loading_section(exported: str, model: Run | Committee) -> list[str]:
    """How to run the exported file ``exported`` without mnistlab (with it for safetensors): lines of
    Python from ``x``, float32 numpy (N, 1, H, W) pixels / 255, to ``probs``, float (N, classes)."""
    from mnistlab.export import format_for

    try:
        fmt = format_for(exported)
    except MnistlabError:  # a name no format claims (model.bin, written with --format): its metadata says
        return []
    if fmt == "safetensors" and isinstance(model, Committee):  # its members' weights under members.N.
        return ["A committee's safetensors file holds each member's weights under `members.N.` (its spec the "
                "Nth of `mnistlab.spec`'s list, or that spec for each): load each member so, and average their "
                "softmax outputs.", ""]
    name = json.dumps(exported)
    code = {
        "onnx": ["import numpy, onnxruntime", f"session = onnxruntime.InferenceSession({name})",
                 'logits = session.run(["logits"], {"images": x})[0]'],
        "torchscript": ["import numpy, torch", f"model = torch.jit.load({name}).eval()",
                        "logits = model(torch.from_numpy(x)).detach().numpy()"],
        "safetensors": ["import json, numpy, torch, mnistlab", "from mnistlab.export import read_metadata",
                        "from safetensors.torch import load_file",
                        f'spec = mnistlab.ModelSpec.from_dict(json.loads(read_metadata({name})["mnistlab.spec"]))',
                        f"model = mnistlab.build_model(spec); model.load_state_dict(load_file({name})); model.eval()",
                        "logits = model(torch.from_numpy(x)).detach().numpy()"],
    }[fmt]
    h, w = model.input_shape
    return [f"Running it (`x`: float32 (N, 1, {h}, {w}), pixels / 255, preprocessed as the section above says):",
            "", "```python", *code, "e = numpy.exp(logits - logits.max(axis=1, keepdims=True))",
            "probs = e / e.sum(axis=1, keepdims=True)  # the class probabilities", "```", ""]


def model_card(model: Run | Committee, *, data_dir: str | os.PathLike | None = None,
               verification: Any = None, exported: str | None = None, warn: bool = False) -> str:
    """The Markdown card of ``model`` (a :class:`~mnistlab.run.Run` or :class:`~mnistlab.run.Committee`).

    The test labels come from the dataset (``data_dir``); when it cannot be loaded the card says
    so instead of the per-class table (with ``warn``, a ReportWarning too: `mnistlab card`), and a
    ``data_dir`` given that does not hold it raises its DataError (helper-241: the card took the
    error in, status 0). ``exported`` (an export's file name) adds the export section, with
    ``verification`` (its :class:`~mnistlab.export.Verification`; None: written unverified).
    """
    from mnistlab.datasets import run_dataset

    check_trained(model, "model_card")
    members = _members(model)
    try:
        ds = run_dataset(getattr(model, "config", None) or {"dataset": model.dataset}, data_dir,
                         getattr(model, "env", None))
        labels, names, why = np.asarray(ds.test_labels), list(ds.info.class_names), ""
    except MnistlabError as exc:  # the data is gone or changed: the names recorded in the run still say what each class is
        if data_dir is not None:  # a folder named for it: a mistake to say, not a card without its table
            raise
        labels, names, why = None, model.class_names, str(exc)
        if warn:
            warnings.warn(f"no per-class table in the card: {exc}", ReportWarning, stacklevel=user_level())
    networks = _networks(members)  # one (first member, how many) per distinct network, in member order
    name = " + ".join(_called(m) for m, _ in networks)
    said = "" if "committee" in name.lower() else " committee"  # a variant named "committee": not said twice
    title = name + (f"{said} of {len(members)}" if len(members) > 1 else "")
    record = model.record if isinstance(model, Committee) else None
    across = record is not None and record.variant and all(  # a committee across variants: its own name first,
        getattr(getattr(m, "record", None), "variant", None) != record.variant for m in members)  # one network too
    if record is not None and across:
        title = f"{md(str(record.variant))}, the committee of {len(members)} ({name})"
    out = [f"# Model card: {title} on {md(dataset_label(model.dataset))}", "",
           "Run" + ("s" if len(members) > 1 else "") + ": " + ", ".join(_who(m) for m in members) + ".", ""]
    out += _notes_lines(members)
    if model.chosen:  # picked among several runs or committees: how, and what the others say
        out += [f"Chosen as {md(model.chosen)}.", ""]
    if all(smoke_member(m) for m in members):  # its accuracy says nothing of what the recipe reaches
        out += ["**A smoke run:** the size of a `--quick` check (1 or 2 epochs, at most 300 training images); its "
                "accuracy says nothing of the recipe's.", ""]
    for k, (first, count) in enumerate(networks):
        recorded = first.record.metrics.get("params") if first.record is not None else None
        section = _model_section(ModelSpec.from_dict(first.config["model"]), recorded if isinstance(recorded, int) else None)
        if len(networks) > 1:  # a committee of different networks ([[committees]]): each one's table
            variant = md(first.record.variant) if first.record is not None else "?"
            section[0] = f"## Model {k + 1} of {len(networks)}: variant {variant} ({count} member{'s' * (count > 1)})"
        out += section
    if len(members) > 1:  # what an exported committee holds: every member's network
        sizes = [(count, summarize(ModelSpec.from_dict(first.config["model"])).total) for first, count in networks]
        parts = " + ".join(f"{count} x {total:,}" for count, total in sizes)
        out += [f"The committee holds **{sum(c * t for c, t in sizes):,} parameters** in all ({parts}).", ""]
    out += _data_section(members[0], names) + _training_section(model) + _results_section(model, labels, names, why)
    out += _environment_section(model) + _preprocessing_section(model)
    if exported is not None:  # unverified (--no-verify) too: a card beside an export says which it is
        said = verification.summary() if verification is not None else (
            "not verified: written without comparing it with the PyTorch model on the test set (--no-verify)")
        out += ["## Export", "", f"- file: {md(exported)}", f"- {md(said)}", "",
                *_loading_section(exported, model)]
    return "\n".join(out).rstrip("\n") + "\n"  # a text file ends in one newline
