"""Starting a run from trained weights (``weights``: Keras's load_weights) and frozen layers
(``trainable = false``): real runs on the real MNIST files, real stores, the CLI's own entry point.
Keras's numbers are recorded by bench/keras_frozen.py in tests/data/keras_frozen.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from mnistlab.cli import main
from mnistlab.config import parse_run_config, run_key
from mnistlab.errors import SpecError, SpecWarning
from mnistlab.models import BatchNorm1d, build_model, freeze
from mnistlab.run import run_data_mistakes, train
from mnistlab.specs import ModelSpec
from mnistlab.store import RunStore
from mnistlab.summary import summarize

KERAS = json.loads((Path(__file__).parent / "data" / "keras_frozen.json").read_text())
CONV = [{"type": "Conv2D", "filters": 8, "kernel_size": 3, "activation": "relu"}, {"type": "BatchNormalization"},
        {"type": "MaxPooling2D"}, {"type": "Flatten"}, {"type": "Dense", "units": 10, "activation": "softmax"}]
FROZEN = [dict(layer, trainable=False) if i < 2 else layer for i, layer in enumerate(CONV)]
SMALL = {"subset": 600, "progress": "none"}


@pytest.fixture
def base(data_dir: Path, tmp_path: Path) -> tuple[RunStore, str, Path]:
    """A recorded conv run on MNIST: (its store, run id, weights file)."""
    store = RunStore(tmp_path / "store")
    run = train("mnist", {"layers": CONV}, 1, data_dir=data_dir, store=store, experiment="base", **SMALL)
    assert run.run_id is not None
    return store, run.run_id, store.artifact_dir(run.run_id) / "weights.safetensors"


def test_keras_counts_a_frozen_layers_weights_as_non_trainable() -> None:
    for frozen, layers in (("frozen", FROZEN), ("trainable", CONV)):
        summary = summarize(ModelSpec.from_dict({"input_shape": [28, 28, 1], "layers": layers}))
        assert (summary.total, summary.trainable, summary.non_trainable) == tuple(
            KERAS["counts"][frozen][k] for k in ("total", "trainable", "non_trainable"))


def test_a_frozen_batch_normalization_normalises_with_its_moving_statistics_in_training_as_keras() -> None:
    recorded = KERAS["batchnorm"]
    bn = BatchNorm1d(192, eps=1e-3, momentum=0.1)
    with torch.no_grad():  # Keras's (H, W, C) flatten order is the images' own here: a plain (N, 192) vector
        bn.running_mean.copy_(torch.tensor(recorded["moving_mean"]))
        bn.running_var.copy_(torch.tensor(recorded["moving_variance"]))
    freeze(bn)
    x = torch.tensor(np.asarray(KERAS["images"], dtype=np.uint8)[:4].reshape(4, -1), dtype=torch.float32) / 255
    out = bn.train()(x)
    assert recorded["unchanged"]
    np.testing.assert_allclose(out.detach().numpy(), np.asarray(recorded["output"]), atol=1e-5)
    assert torch.equal(bn.running_mean, torch.tensor(recorded["moving_mean"]))  # not moved by the batch
    assert not any(p.requires_grad for p in bn.parameters())


def test_a_run_starts_from_the_weights_of_a_recorded_run(base: tuple[RunStore, str, Path], data_dir: Path) -> None:
    store, run_id, file = base
    before = store.load_predictions(run_id)
    # sgd at a rate too small to move anything: the test scores are the base run's own, so its weights loaded
    same = train("mnist", {"layers": CONV}, 1, data_dir=data_dir, store=store, weights=str(file), optimizer="sgd",
                 lr=1e-12, **SMALL)
    assert same.metrics["initial_weights"]["runs"] == [run_id] and same.metrics["initial_weights"]["skipped"] == []
    fresh = train("mnist", {"layers": CONV}, 1, data_dir=data_dir, store=store, optimizer="sgd", lr=1e-12, **SMALL)
    moved, unlike = (float(np.abs(store.load_predictions(r.run_id) - before).max()) for r in (same, fresh))
    assert moved < unlike / 10, (moved, unlike)  # (BN's moving statistics still move a little)
    assert "initial_weights" not in fresh.metrics and "weights" not in fresh.config  # a fresh run's key as before


def test_the_run_key_holds_the_weights_by_content_not_by_path(base: tuple[RunStore, str, Path], tmp_path: Path) -> None:
    _, _, file = base
    moved = tmp_path / "elsewhere" / "moved.safetensors"
    moved.parent.mkdir()
    shutil.copy(file, moved)

    def key(weights: object) -> str:
        cfg = {"dataset": "mnist", "model": {"layers": CONV}, **({"weights": weights} if weights is not None else {})}
        return run_key(parse_run_config(cfg).resolved())

    assert key(str(file)) == key(str(moved)) != key(None)
    assert key({"file": str(file), "skip_mismatch": True}) != key(str(file))
    state = load_file(moved)
    state["dense.bias"] = state["dense.bias"] + 1.0
    save_file(state, str(moved))
    assert key(str(moved)) != key(str(file))  # an overwritten file is another start


def test_weights_that_do_not_fit_are_found_before_anything_trains(base: tuple[RunStore, str, Path],
                                                                  data_dir: Path) -> None:
    _, _, file = base
    deeper = [*CONV[:4], {"type": "Dense", "units": 32, "activation": "relu"}, CONV[4]]  # a hidden layer more
    resolved = parse_run_config({"dataset": "mnist", "model": {"layers": deeper}, "weights": str(file)}).resolved()
    mistakes = run_data_mistakes(resolved, data_dir, files_here=True)
    assert len(mistakes) == 1 and mistakes[0].path == ("weights", "file")
    said = str(mistakes[0])
    assert "dense shaped (10, 1352) in the file, (32, 1352) here; dense_1 not in the file" in said
    assert "skip_mismatch = true" in said and "\n" not in said
    other = [dict(CONV[0], filters=4), *CONV[1:]]  # every layer after it shaped otherwise: nothing would load
    resolved = parse_run_config({"dataset": "mnist", "model": {"layers": other}, "weights": str(file)}).resolved()
    said = str(run_data_mistakes(resolved, data_dir, files_here=True)[0])
    assert "no layer of this model fits them (conv2d shaped (8, 1, 3, 3) in the file, (4, 1, 3, 3) here;" in said


def test_skip_mismatch_keeps_a_new_output_layer_fresh_and_warns(base: tuple[RunStore, str, Path], data_dir: Path,
                                                                tmp_path: Path) -> None:
    _, _, file = base
    rng = np.random.default_rng(0)  # three classes of the user's own: a new head, as Keras's transfer learning
    images, labels = rng.integers(0, 256, (90, 28, 28), dtype=np.uint8), np.repeat(np.arange(3), 30)
    np.savez(tmp_path / "three.npz", x_train=images, y_train=labels)
    head = [*FROZEN[:-1], dict(FROZEN[-1], units=3)]
    with pytest.raises(SpecError, match=r"dense shaped \(10, 1352\) in the file, \(3, 1352\) here"):
        train(str(tmp_path / "three.npz"), {"layers": head}, 1, weights=str(file), progress="none")
    with pytest.warns(SpecWarning, match=r"1 layer of 3 keeps its fresh initialisation \(skip_mismatch\): dense \("):
        run = train(str(tmp_path / "three.npz"), {"layers": head}, 1, progress="none",
                    weights={"file": str(file), "skip_mismatch": True})
    assert run.metrics["initial_weights"]["skipped"] == ["dense"]
    base_state, state = load_file(file), run.model.state_dict()
    for key in ("conv2d.weight", "conv2d.bias", "batch_normalization.running_mean", "batch_normalization.weight"):
        assert torch.equal(state[key], base_state[key]), key  # loaded, then frozen: trained on, unchanged


def test_frozen_layers_do_not_train_and_the_optimizer_never_holds_them(base: tuple[RunStore, str, Path],
                                                                        data_dir: Path) -> None:
    _, _, file = base
    run = train("fashion-mnist", {"layers": FROZEN}, 1, data_dir=data_dir, weights=str(file), weight_decay=0.1,
                optimizer="adamw", **SMALL)
    base_state, state = load_file(file), run.model.state_dict()
    assert all(torch.equal(state[k], base_state[k]) for k in base_state if k.startswith(("conv2d", "batch_norm")))
    assert not torch.equal(state["dense.weight"], base_state["dense.weight"])
    assert run.config["model"]["layers"][0]["trainable"] is False and "trainable" not in run.config["model"]["layers"][4]


def test_frozen_layer_mistakes_are_one_line() -> None:
    every = [dict(layer, trainable=False) for layer in CONV]
    with pytest.raises(SpecError, match="every layer with weights has trainable = false"):
        ModelSpec.from_dict({"layers": every})
    with pytest.raises(SpecError, match="trainable must be true or false"):
        ModelSpec.from_dict({"layers": [dict(CONV[0], trainable="no"), *CONV[1:]]})
    branch = {"type": "Residual", "branch": [{"type": "Conv2D", "filters": 1, "kernel_size": 3, "padding": "same",
                                               "trainable": False}]}
    with pytest.raises(SpecError, match="trainable is set on the Residual as a whole"):
        ModelSpec.from_dict({"layers": [branch, "Flatten", {"type": "Dense", "units": 10}]})
    with pytest.raises(SpecError, match=r"train.swa recomputes every BatchNormalization.*layers\[1\] freezes one"):
        parse_run_config({"dataset": "mnist", "model": {"layers": FROZEN}, "train": {"swa": {"start_epoch": 1}}})
    frozen_residual = ModelSpec.from_dict({"layers": [dict(branch, trainable=True, branch=[
        {k: v for k, v in branch["branch"][0].items() if k != "trainable"}]) | {"trainable": False}, *CONV[:2],
        "Flatten", {"type": "Dense", "units": 10}]})
    model = build_model(frozen_residual, seed=0)
    assert not any(p.requires_grad for p in model[0].parameters()) and model[-1].weight.requires_grad


def test_a_normalization_takes_the_statistics_its_weights_were_trained_with(data_dir: Path, tmp_path: Path) -> None:
    layers = [{"type": "Normalization"}, *CONV]
    store = RunStore(tmp_path / "store")
    mnist = train("mnist", {"layers": layers}, 1, data_dir=data_dir, store=store, **SMALL)
    fashion = train("fashion-mnist", {"layers": layers}, 1, data_dir=data_dir, **SMALL)
    assert mnist.config["model"]["layers"][0]["mean"] != fashion.config["model"]["layers"][0]["mean"]
    tuned = train("fashion-mnist", {"layers": layers}, 1, data_dir=data_dir, **SMALL,
                  weights=str(store.artifact_dir(mnist.run_id) / "weights.safetensors"))
    assert tuned.config["model"]["layers"][0]["mean"] == mnist.config["model"]["layers"][0]["mean"]  # as Keras's
    # load_weights leaves the layer: the features after it were learnt on inputs scaled so


def test_weights_of_a_run_in_memory_and_of_a_committee(data_dir: Path) -> None:
    from mnistlab.run import Committee

    run = train("mnist", "seed000-dense", 1, data_dir=data_dir, **SMALL)
    tuned = train("mnist", "seed000-dense", 1, data_dir=data_dir, weights=run, **SMALL)
    assert Path(tuned.config["weights"]["file"]).parent.name == "weights" and tuned.metrics["initial_weights"]["loaded"] == 4
    with pytest.raises(SpecError, match="not a committee: start from one member"):
        train("mnist", "seed000-dense", 1, data_dir=data_dir, weights=Committee([run, tuned]), **SMALL)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def test_cli_weights_from_a_run_id_or_a_file(base: tuple[RunStore, str, Path], data_dir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    store, run_id, _ = base
    args = ["train", "--dataset", "fashion-mnist", "--model", json.dumps({"layers": FROZEN}), "--subset", "600",
            "--epochs", "1", "--progress", "none", "--data-dir", str(data_dir), "--store", str(store.root)]
    assert main([*args, "--weights", run_id[:6]]) == 0
    tuned = store.runs(experiment="train")[-1]
    assert tuned.metrics["initial_weights"]["runs"] == [run_id]
    assert main(["show", tuned.run_id, "--store", str(store.root)]) == 0
    assert f"initial weights run {run_id}'s (" in capsys.readouterr().out
    assert main(["show", run_id, "--store", str(store.root)]) == 0  # the trail the other way
    assert f"its weights started run {tuned.run_id}\n" in capsys.readouterr().out


@pytest.mark.parametrize("given, said", [
    ("missing.safetensors", "missing.safetensors: no such file"),
    ("folder.safetensors", "is a folder"),
    ("garbage.safetensors", "not a safetensors file"),
    ("cut.safetensors", "not a safetensors file"),
    ("nan.safetensors", "dense.weight holds values that are not finite"),
    ("keras.weights.h5", "is a Keras file, which mnistlab does not read"),
    ("weights.txt", "the weights are a .safetensors file"),
    ("ffffff", 'no run "ffffff"'),
    ("", "--weights: give a .safetensors file"),
])
def test_cli_refuses_bad_weights_in_one_line_and_records_nothing(given: str, said: str, base: tuple[RunStore, str, Path],
                                                                 data_dir: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    store, _, file = base
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.safetensors").mkdir()
    (tmp_path / "garbage.safetensors").write_bytes(b"\xff" * 64)
    (tmp_path / "cut.safetensors").write_bytes(file.read_bytes()[:40])
    state = load_file(file)
    state["dense.weight"][0, 0] = float("nan")
    save_file(state, str(tmp_path / "nan.safetensors"))
    before = len(store.runs())
    code, err = _cli(capsys, "train", "--dataset", "mnist", "--model", json.dumps({"layers": CONV}), "--subset", "600",
                     "--epochs", "1", "--progress", "none", "--data-dir", str(data_dir), "--store", str(store.root),
                     "--weights", given)
    assert code == 2 and said in err and err.count("\n") == 1 and "Traceback" not in err
    assert len(store.runs()) == before  # found before anything trained or was recorded


def test_a_committee_export_is_refused(base: tuple[RunStore, str, Path], tmp_path: Path) -> None:
    _, _, file = base
    state = {f"members.{i}.{k}": v for i in range(2) for k, v in load_file(file).items()}
    save_file(state, str(tmp_path / "committee.safetensors"), metadata={"mnistlab.committee": "2"})
    with pytest.raises(SpecError, match="is a committee's"):
        train("mnist", {"layers": CONV}, 1, weights=str(tmp_path / "committee.safetensors"), **SMALL)


def test_an_experiment_file_names_its_weights_relative_to_itself(base: tuple[RunStore, str, Path], data_dir: Path,
                                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, run_id, file = base
    folder = tmp_path / "lab"
    folder.mkdir()
    shutil.copy(file, folder / "base.safetensors")
    (folder / "frozen.json").write_text(json.dumps({"layers": FROZEN}))
    (folder / "tune.toml").write_text(
        'name = "tune"\n[base]\ndataset = "fashion-mnist"\nweights = "base.safetensors"\nmodel = "frozen.json"\n'
        "[base.train]\nepochs = 1\n[base.data]\nsubset = 600\n"
        '[[variants]]\nname = "fresh"\nweights = false\n[[variants]]\nname = "tuned"\n')
    monkeypatch.chdir(tmp_path)  # elsewhere than the file
    assert main(["run", str(folder / "tune.toml"), "--data-dir", str(data_dir), "--store", str(store.root)]) == 0
    runs = {r.variant: r for r in store.runs(experiment="tune")}
    assert runs["tuned"].config["weights"]["file"] == str((folder / "base.safetensors").resolve())
    assert runs["tuned"].metrics["initial_weights"]["sha256"] and "initial_weights" not in runs["fresh"].metrics


def test_lr_find_starts_from_weights_too(base: tuple[RunStore, str, Path], data_dir: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    store, run_id, _ = base
    args = ["lr-find", "--dataset", "fashion-mnist", "--model", json.dumps({"layers": CONV}), "--subset", "600",
            "--steps", "20", "--data-dir", str(data_dir), "--store", str(store.root), "--format", "json"]
    assert main([*args, "--weights", run_id]) == 0
    tuned = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    fresh = json.loads(capsys.readouterr().out)
    assert tuned["losses"][0] != fresh["losses"][0]  # the first batch's loss is the loaded model's
    code, err = _cli(capsys, *args, "--skip-mismatch")
    assert code == 2 and "--skip-mismatch goes with --weights" in err


def test_a_layer_that_does_not_fit_stays_fresh_whole_as_keras_assigns_a_layer(base: tuple[RunStore, str, Path],
                                                                             data_dir: Path) -> None:
    from mnistlab.initial_weights import match_weights, read_source

    _, _, file = base
    source = read_source({"file": str(file)})
    no_bias = ModelSpec.from_dict({"layers": [dict(CONV[0], use_bias=False), *CONV[1:]]})  # its kernel would fit
    fit = match_weights(no_bias, source, True)
    assert fit.skipped == ["conv2d"] and fit.fresh["conv2d"] == "holding 2 tensors in the file, 1 here"  # as Keras
    assert "conv2d.weight" not in fit.loaded  # counts a layer's variables: 1 expected, 2 received
    inserted = ModelSpec.from_dict({"layers": [CONV[0], {"type": "Conv2D", "filters": 8, "kernel_size": 1}, *CONV[1:]]})
    fit = match_weights(inserted, source, True)  # conv2d_1 (8, 8, 1, 1): not in the file, fresh whole
    assert fit.skipped == ["conv2d_1"] and {k.split(".")[0] for k in fit.loaded} == {"conv2d", "batch_normalization",
                                                                                      "dense"}
    five = ModelSpec.from_dict({"layers": [dict(CONV[0], kernel_size=5), *CONV[1:]]})  # its bias (8,) still fits
    fit = match_weights(five, source, True)
    assert fit.skipped == ["conv2d", "dense"] and "conv2d.bias" not in fit.loaded  # (helper-201: it was taken alone)
    wider_bn = ModelSpec.from_dict({"layers": [*CONV[:4], {"type": "Dense", "units": 16}, CONV[4]]})
    fit = match_weights(wider_bn, source, True)  # dense (16, 1352): its bias (16,) is not the file's (10,) either
    assert fit.skipped == ["dense", "dense_1"] and not any(k.startswith("dense") for k in fit.loaded)


def test_a_normalization_given_its_statistics_does_not_meet_an_adapted_one(data_dir: Path, tmp_path: Path) -> None:
    from mnistlab.initial_weights import match_weights, read_source

    store = RunStore(tmp_path / "store")
    adapted = train("mnist", {"layers": [{"type": "Normalization"}, *CONV]}, 1, data_dir=data_dir, store=store, **SMALL)
    given = train("mnist", {"layers": [{"type": "Normalization", "mean": 0.5, "variance": 0.25}, *CONV]}, 1,
                  data_dir=data_dir, store=store, **SMALL)

    def fit(run: object, first: dict, skip: bool = False) -> object:
        weights = {"file": str(store.artifact_dir(run.run_id) / "weights.safetensors")}  # type: ignore[attr-defined]
        return match_weights(ModelSpec.from_dict({"layers": [first, *CONV]}), read_source(weights), skip)

    with pytest.raises(SpecError, match="normalization given its mean and variance here"):
        fit(adapted, {"type": "Normalization", "mean": 0.3, "variance": 0.04})
    with pytest.raises(SpecError, match="normalization not in the file .its model gives its Normalization's mean"):
        fit(given, {"type": "Normalization"})
    assert fit(given, {"type": "Normalization"}, True).statistics is None  # skip_mismatch: adapts to the new images
    assert fit(given, {"type": "Normalization", "mean": 0.1, "variance": 0.2}).skipped == []  # no weights either side


def test_a_frozen_layers_weight_penalty_is_no_part_of_the_loss_as_keras() -> None:
    from mnistlab.models import regularization_loss

    layers = [dict(CONV[0], kernel_regularizer={"l2": 0.01}), *CONV[1:4], dict(CONV[4], kernel_regularizer={"l2": 0.01})]
    spec = ModelSpec.from_dict({"layers": layers})
    frozen = ModelSpec.from_dict({"layers": [dict(layers[0], trainable=False), *layers[1:]]})
    model, frozen_model = build_model(spec, seed=0), build_model(frozen, seed=0)
    dense_only = 0.01 * float(model.dense.weight.square().sum())
    conv_and_dense = dense_only + 0.01 * float(model.conv2d.weight.square().sum())
    assert float(regularization_loss(model)) == pytest.approx(conv_and_dense, rel=1e-6)
    assert float(regularization_loss(frozen_model)) == pytest.approx(dense_only, rel=1e-6)


def test_runs_from_an_overwritten_file_are_not_pooled_as_repeats(base: tuple[RunStore, str, Path], data_dir: Path,
                                                                 tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, _, file = base
    start = tmp_path / "start.safetensors"
    shutil.copy(file, start)
    first = train("fashion-mnist", {"layers": FROZEN}, 1, data_dir=data_dir, store=store, weights=str(start), **SMALL)
    state = load_file(start)
    state["conv2d.weight"] = state["conv2d.weight"] * 2.0
    save_file(state, str(start))  # the same path, other weights (helper-200: one row, "n=2")
    second = train("fashion-mnist", {"layers": FROZEN}, 1, data_dir=data_dir, store=store, weights=str(start), **SMALL)
    assert first.config == second.config and first.run_id != second.run_id
    assert main(["compare", str(first.run_id), str(second.run_id), "--format", "json", "--store", str(store.root)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and all(row["n"] == 1 for row in rows)
    assert main(["compare", "train", "--format", "json", "--store", str(store.root)]) == 0
    rows = json.loads(capsys.readouterr().out)  # by name: the variant as it was last run, on the file as it is now
    assert [row["run_ids"] for row in rows] == [[second.run_id]]


def test_a_file_cut_short_is_found_before_anything_trains(base: tuple[RunStore, str, Path], data_dir: Path,
                                                          tmp_path: Path) -> None:
    _, _, file = base
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(file.read_bytes()[:-100])  # its header whole, its last tensor's bytes not (helper-200)
    resolved = parse_run_config({"dataset": "mnist", "model": {"layers": CONV}, "weights": str(cut)}).resolved()
    said = str(run_data_mistakes(resolved, data_dir, files_here=True)[0])
    assert "damaged, " in said and "(cut short, or bytes added)" in said and "\n" not in said


def test_python_skip_mismatch_beside_a_run_in_hand(data_dir: Path, tmp_path: Path) -> None:
    run = train("mnist", {"layers": CONV}, 1, data_dir=data_dir, **SMALL)
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "three.npz", x_train=rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
             y_train=np.repeat(np.arange(3), 20))
    head = {"layers": [*FROZEN[:-1], dict(FROZEN[-1], units=3)]}
    with pytest.raises(SpecError, match=r"weights: the run given as weights=run: these weights do not fit.*skip_mismatch=True"):
        train(str(tmp_path / "three.npz"), head, 1, weights=run, progress="none")
    with pytest.warns(SpecWarning, match="fresh initialisation"):
        flat = train(str(tmp_path / "three.npz"), head, 1, weights=run, skip_mismatch=True, progress="none")
    with pytest.warns(SpecWarning, match="fresh initialisation"):
        table = train(str(tmp_path / "three.npz"), head, 1, weights={"file": run, "skip_mismatch": True}, progress="none")
    assert flat.metrics["initial_weights"]["skipped"] == table.metrics["initial_weights"]["skipped"] == ["dense"]
    with pytest.raises(SpecError, match="skip_mismatch= goes with weights="):
        train("mnist", {"layers": CONV}, 1, data_dir=data_dir, skip_mismatch=True, **SMALL)


def test_cli_says_where_the_weights_come_from_and_rm_warns_of_the_runs_started_from_them(
        base: tuple[RunStore, str, Path], data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    store, run_id, _ = base
    where = ["--data-dir", str(data_dir), "--store", str(store.root)]
    args = ["train", "--dataset", "fashion-mnist", "--model", json.dumps({"layers": FROZEN}), "--subset", "600",
            "--epochs", "1", "--progress", "none", *where]
    assert main([*args, "--weights", run_id]) == 0
    assert f"Starting from the weights of {store.artifact_dir(run_id) / 'weights.safetensors'} (run {run_id})" in \
        capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    for given, said in (("", "--weights: give a .safetensors file"), ("my-experiment", "neither a file here nor a run id")):
        code, err = _cli(capsys, *args, "--weights", given)
        assert code == 2 and said in err
    (tmp_path / "tune.toml").write_text(f'name = "tune"\n[base]\ndataset = "mnist"\nmodel = "seed000-cnn"\n'
                                        f'weights = "{run_id}"\n')
    code, err = _cli(capsys, "run", str(tmp_path / "tune.toml"), *where)
    assert code == 2 and f"in a config, name the run's weights file, runs/{run_id}/weights.safetensors in its store" in err
    tuned = store.runs(experiment="train")[-1].run_id
    code, err = _cli(capsys, "rm", run_id, "--yes", "--store", str(store.root))
    assert code == 0 and f"note: run {tuned} started from the weights of what is deleted" in err


def test_the_trainers_optimizer_holds_the_trainable_weights_alone_and_memory_counts_so() -> None:
    from mnistlab.summary import training_memory
    from mnistlab.trainer import Trainer

    frozen, plain = (ModelSpec.from_dict({"layers": layers}) for layers in (FROZEN, CONV))
    trainer = Trainer(build_model(frozen, seed=0), optimizer="adamw")  # (helper-203: a test of the weights alone
    held = [p for group in trainer.optimizer.param_groups for p in group["params"]]  # could not fail: optimizers skip
    assert sum(p.numel() for p in held) == summarize(frozen).trainable == 13530  # weights without a gradient)
    assert all(p.requires_grad for p in held)
    free, fixed = training_memory(plain), training_memory(frozen)
    assert fixed.weights == free.weights and fixed.gradients == 4 * 13530 < free.gradients
    assert fixed.optimizer_state == 2 * fixed.gradients < free.optimizer_state  # adam: two slots a trainable weight


def test_a_recorded_run_with_an_adapted_normalization_trains_again_from_its_config(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = RunStore(tmp_path / "store")
    layers = [{"type": "Normalization"}, *CONV]
    base_run = train("mnist", {"layers": layers}, 1, data_dir=data_dir, store=store, **SMALL)
    tuned = train("fashion-mnist", {"layers": layers}, 1, data_dir=data_dir, store=store, weights=str(base_run.run_id),
                  **SMALL)  # (a run id in Python, found in the store given)
    assert tuned.metrics["initial_weights"]["runs"] == [base_run.run_id]
    config = store.artifact_dir(str(tuned.run_id)) / "config.json"  # (helper-203: "normalization given its mean ...")
    assert main(["train", "--config", str(config), "--progress", "none", "--data-dir", str(data_dir),
                 "--store", str(store.root)]) == 0
    again = store.runs()[-1]
    assert again.metrics["initial_weights"]["sha256"] == tuned.metrics["initial_weights"]["sha256"]
    assert again.config["model"]["layers"][0]["mean"] == base_run.config["model"]["layers"][0]["mean"]


def test_skip_mismatch_goes_on_a_bases_weights_given_as_a_path(base: tuple[RunStore, str, Path], data_dir: Path,
                                                                 tmp_path: Path) -> None:
    store, _, file = base
    shutil.copy(file, tmp_path / "base.safetensors")
    (tmp_path / "head.toml").write_text(
        f'name = "head"\n[base]\ndataset = "mnist"\nweights = "base.safetensors"\nmodel = {{ layers = {_toml(CONV)} }}\n'
        "[base.train]\nepochs = 1\n[base.data]\nsubset = 600\n"
        '[[variants]]\nname = "same"\n'  # the same model: loads whole
        '[[variants]]\nname = "head"\n"model.layers[-1].use_bias" = false\n"weights.skip_mismatch" = true\n')
    assert main(["run", str(tmp_path / "head.toml"), "--data-dir", str(data_dir), "--store", str(store.root)]) == 0
    runs = {r.variant: r for r in store.runs(experiment="head")}
    assert runs["head"].config["weights"]["skip_mismatch"] is True and runs["same"].config["weights"]["skip_mismatch"] is False
    assert runs["head"].metrics["initial_weights"]["skipped"] == ["dense"]  # its kernel fits, its bias is gone: fresh whole


def _toml(layers: list) -> str:
    """Layer tables as a TOML inline array."""
    def value(v: object) -> str:
        return json.dumps(v) if not isinstance(v, bool) else str(v).lower()
    return "[" + ", ".join("{ " + ", ".join(f"{k} = {value(v)}" for k, v in layer.items()) + " }" for layer in layers) + "]"


def test_a_search_keys_its_weights_by_content(base: tuple[RunStore, str, Path], tmp_path: Path) -> None:
    from mnistlab.search import _setting_text

    _, _, file = base
    moved = tmp_path / "moved.safetensors"
    shutil.copy(file, moved)
    config = {"dataset": "mnist", "model": "seed000-cnn"}
    here, there = (_setting_text({**config, "weights": {"file": str(p)}}, []) for p in (file, moved))
    assert here == there  # a moved file: the same study
    state = load_file(moved)
    state["dense.bias"] = state["dense.bias"] + 1.0
    save_file(state, str(moved))
    assert _setting_text({**config, "weights": str(moved)}, []) != here  # helper-203: an overwritten one is not


def test_the_runs_started_from_a_run_are_read_from_the_rows_that_mention_it(tmp_path: Path) -> None:
    import sqlite3

    from mnistlab.initial_weights import started_from

    store = RunStore(tmp_path / "store")
    ids = []
    for i in range(3):
        rid = store.start_run(experiment="e", variant=f"v{i}", seed=0, member=0, config={"dataset": "mnist"},
                              config_hash=f"h{i}")
        base = store.artifact_dir(ids[0]) / "weights.safetensors" if ids else None
        store.finish_run(rid, status="finished", history=[], env={}, files=False,
                         metrics={"initial_weights": {"file": str(base)}} if base else {"test_accuracy": 0.5})
        ids.append(rid)
    assert started_from(store, {ids[0]}) == ids[1:] and store.metric_of_runs("test_accuracy") == {ids[0]: 0.5}
    with sqlite3.connect(store.db_path) as con:  # a row damaged by hand: passed over, as runs() reads it as failed
        con.execute("UPDATE runs SET metrics = '{\"initial_weights\": ' WHERE run_id = ?", (ids[2],))
    assert started_from(store, {ids[0]}) == [ids[1]]
