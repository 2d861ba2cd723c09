"""mnistlab.export and `mnistlab export`: ONNX (round trip through onnxruntime), TorchScript and safetensors,
each verified on the whole MNIST test set, with metadata and a model card; bad paths are one line."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from safetensors.torch import load_file
import torch

from mnistlab.cli import main
from mnistlab.datasets import load_dataset
from mnistlab.export import LOGIT_ATOL, export_model, export_module, read_metadata, verify_file
from mnistlab.run import load_trained
from mnistlab.store import RunStore


@pytest.fixture(scope="module")
def test_set(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    ds = load_dataset("mnist", data_dir)
    return np.asarray(ds.test_images), np.asarray(ds.test_labels)


def test_onnx_round_trip_on_the_whole_test_set(mnist_models, tmp_path, capsys, test_set):
    out = tmp_path / "dense.onnx"
    code = main(["export", "use", "--variant", "dense", "-o", str(out), "--store", str(mnist_models)])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert "onnx verified on 10000 test images at batch 1 and 1000: same top-1 class on every image" in stdout
    # The file on its own, in onnxruntime: a dynamic batch, the test set's classes, the metadata.
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (given,) = session.get_inputs()
    assert given.name == "images" and isinstance(given.shape[0], str) and given.shape[1:] == [1, 28, 28]
    images, labels = test_set
    x = (images[:777].astype(np.float32) / 255)[:, None]
    logits = session.run(["logits"], {"images": x})[0]
    model = load_trained(RunStore(mnist_models), "use", variant="dense")
    probs = model.predict(images[:777])
    assert np.array_equal(logits.argmax(1), probs.argmax(1))
    np.testing.assert_allclose(torch.softmax(torch.from_numpy(logits), 1).numpy(), probs, atol=1e-5)
    assert (logits.argmax(1) == labels[:777]).mean() > 0.85
    meta = read_metadata(out)
    assert json.loads(meta["mnistlab.class_names"]) == [str(d) for d in range(10)]
    recipe = json.loads(meta["mnistlab.preprocessing"])
    assert recipe["dataset"] == "mnist" and recipe["fit"] == 20 and recipe["centre"] == "mass"
    assert json.loads(meta["mnistlab.runs"]) == [model.run_id] and meta["mnistlab.dataset"] == "mnist"
    assert {p.key for p in onnx.load(str(out)).metadata_props} == set(meta)
    card = Path(str(out) + ".md").read_text()
    assert "## Export" in card and "same top-1 class on every image" in card and "## Preprocessing" in card


@pytest.mark.parametrize("fmt", ["torchscript", "safetensors"])
def test_torchscript_and_safetensors_round_trips(mnist_models, tmp_path, fmt, test_set):
    model = load_trained(RunStore(mnist_models), "use", variant="dense", pick="latest")
    out = tmp_path / ("m.pt" if fmt == "torchscript" else "m.safetensors")
    check = export_model(model, out)
    assert check is not None and check.passed and check.fmt == fmt and check.images == 10_000
    assert check.batch_sizes == (1, 1000) and check.max_logit_diff <= LOGIT_ATOL
    meta = read_metadata(out)
    if fmt == "safetensors":  # new-user finding (helper-99): nothing said the tensors are in PyTorch's layout
        assert "Dense weight (out, in) where Keras's is (in, out)" in meta["mnistlab.layout"]
        weights = load_file(str(out))
        assert weights["dense.weight"].shape == (128, 784)  # seed000-dense's Dense(128) after Flatten: (out, in)
    assert json.loads(meta["mnistlab.runs"]) == [model.run_id]
    assert json.loads(meta["mnistlab.spec"]) == model.config["model"]
    assert not list(tmp_path.glob(".*.tmp*"))  # written through a temporary file, renamed into place


def test_a_committee_exports_as_the_log_of_its_mean_probabilities(mnist_models, tmp_path, test_set):
    committee = load_trained(RunStore(mnist_models), "use", variant="committee")
    check = export_model(committee, tmp_path / "committee.onnx")
    assert check is not None and check.passed
    session = onnxruntime.InferenceSession(str(tmp_path / "committee.onnx"), providers=["CPUExecutionProvider"])
    images = test_set[0][:50]
    logits = session.run(["logits"], {"images": (images.astype(np.float32) / 255)[:, None]})[0]
    np.testing.assert_allclose(np.exp(logits), committee.predict(images), atol=1e-5)
    assert read_metadata(tmp_path / "committee.onnx")["mnistlab.committee"] == "2"


def test_verification_fails_for_a_file_of_another_model(mnist_models, tmp_path, test_set):
    store = RunStore(mnist_models)
    runs = [r for r in store.runs(experiment="use") if r.variant == "dense"]
    first, second = (load_trained(store, r.run_id) for r in runs)
    assert export_model(first, tmp_path / "first.safetensors") is not None
    check = verify_file(tmp_path / "first.safetensors", "safetensors", export_module(second), "mnist",
                        images=test_set[0][:500], batch=100)
    assert not check.passed and check.mismatches > 0 and check.max_logit_diff > LOGIT_ATOL
    assert "top-1 mismatches" in check.summary()
    # fewer images than a batch: one batch of them, said so (new-user finding: "40 test images at batch 1 and 1000")
    check = verify_file(tmp_path / "first.safetensors", "safetensors", export_module(first), "mnist",
                        images=test_set[0][:40])
    assert check.passed and check.batch_sizes == (1, 40) and "on 40 test images at batch 1 and 40:" in check.summary()
    check = verify_file(tmp_path / "first.safetensors", "safetensors", export_module(first), "mnist",
                        images=test_set[0][:1])
    assert check.passed and check.batch_sizes == (1,) and "on 1 test image at batch 1:" in check.summary()


def test_bad_export_paths_are_one_line(mnist_models, tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    cases = [(tmp_path / "missing" / "m.onnx", "does not exist"), (tmp_path / "a-file" / "m.onnx", "is a file, not a folder"),
             (tmp_path, "it is a folder"), (tmp_path / "m.bin", "cannot tell the format"),
             (tmp_path / "[red]m[reverse]\n.bin", "cannot tell the format")]
    for path, words in cases:
        code = main(["export", "use", "--variant", "dense", "-o", str(path), "--store", str(mnist_models)])
        err = capsys.readouterr().err
        assert code != 0 and err.startswith("error: ") and err.count("\n") == 1 and words in err, (path, err)
    code = main(["export", "ffff0000", "-o", str(tmp_path / "m.onnx"), "--store", str(mnist_models)])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "no experiment file, experiment or run named 'ffff0000'" in err
    assert not list(tmp_path.glob("*.onnx*"))


def test_a_fifo_is_refused_not_replaced_and_hostile_names_print_as_text(mnist_models, tmp_path, capsys):
    """New-user findings (17): export replaced a FIFO with a regular file; a newline in the name
    broke the message in two."""
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    code = main(["export", "use", "--variant", "dense", "-o", str(fifo), "--no-verify", "--store", str(mnist_models)])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "not a regular file" in err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the FIFO
    hostile = tmp_path / "n\nl\x1b[31m.safetensors"
    code = main(["export", "use", "--variant", "dense", "-o", str(hostile), "--no-verify", "--no-card",
                 "--store", str(mnist_models)])
    out, err = capsys.readouterr()
    assert code == 0 and hostile.is_file()
    assert out.count("\n") == 1 and "\\n" in out and "\x1b" not in out + err and err.count("\n") == 1


def test_without_the_dataset_export_says_to_use_no_verify_which_writes_with_a_warning(mnist_models, tmp_path, capsys,
                                                                                        monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("MNISTLAB_DATA_DIR", str(tmp_path / "empty"))  # the test set is nowhere ...
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MNISTLAB_MIRRORS", "http://127.0.0.1:9/")  # ... and cannot be downloaded
    out = tmp_path / "m.safetensors"
    code = main(["export", "use", "--variant", "dense", "-o", str(out), "--store", str(mnist_models)])
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "cannot verify the export without its test set" in err and "--no-verify" in err and not out.exists()
    code = main(["export", "use", "--variant", "dense", "-o", str(out), "--no-verify", "--store", str(mnist_models)])
    stdout, err = capsys.readouterr()
    assert code == 0 and out.is_file() and f"wrote {out}" in stdout and "verified on" not in stdout
    # new-user finding (helper-102): it did not say which run it exported (only the card beside it did)
    run = load_trained(RunStore(mnist_models), "use", variant="dense")
    assert f"wrote {out} from run {run.run_id} (seed {run.config['train']['seed']})\n" in stdout
    assert err.strip() == f"warning: {out} is unverified (--no-verify): it was not compared with the PyTorch model " \
                          "on the test set"
    assert json.loads(read_metadata(out)["mnistlab.class_names"]) == [str(d) for d in range(10)]


def test_an_export_of_a_model_of_the_users_own_data_says_what_it_knows_and_no_path(tmp_path):
    """New-user finding: the metadata gave a Python dict with the data's absolute paths, MNIST's
    centring beside a "resize" recipe, and "light on dark" though the data's polarity is unknown."""
    from test_userdata import _folder

    from mnistlab.export import export_model, read_metadata
    from mnistlab.run import train

    data = _folder(tmp_path / "private-folder", {"zero": 6, "one": 6}, size=(8, 8))
    run = train({"folder": str(data), "test_fraction": 0.5}, {"dense": [4], "outputs": 2}, epochs=1, progress="none")
    export_model(run, tmp_path / "m.safetensors")
    meta = read_metadata(tmp_path / "m.safetensors")
    assert json.loads(meta["mnistlab.dataset"]) == {"own data": "folder", "test file": False, "test_fraction": 0.5}
    assert "private-folder" not in json.dumps(meta)
    recipe = json.loads(meta["mnistlab.preprocessing"])
    assert recipe["kind"] == "resize" and recipe["invert"] == "never" and not {"fit", "centre", "sharpen"} & set(recipe)
    assert "as the training images were" in meta["mnistlab.input"] and "light on dark" not in meta["mnistlab.input"]


@pytest.mark.parametrize("name", ["m.keras", "m.h5", "m.weights.h5", "M.HDF5"])
def test_a_keras_file_name_says_what_can_be_written_instead(mnist_models, tmp_path, capsys, name):
    """New-user finding (helper-99): `-o m.keras` said only that the format could not be told."""
    assert main(["export", "use", "--variant", "dense", "-o", str(tmp_path / name), "--store", str(mnist_models)]) == 2
    err = capsys.readouterr().err
    assert "mnistlab writes no Keras file (.keras, .h5, .hdf5); write ONNX" in err and err.count("\n") == 1, err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("fmt, name", [("onnx", "m.pt"), ("torchscript", "m.onnx"), ("safetensors", "m.pth")])
def test_a_format_that_contradicts_the_suffix_is_one_line(mnist_models, tmp_path, capsys, fmt, name):
    code = main(["export", "use", "--variant", "dense", "--format", fmt, "-o", str(tmp_path / name),
                 "--store", str(mnist_models)])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and f"--format {fmt} but the name" in err
    assert not list(tmp_path.iterdir())


def test_every_format_is_written_with_the_usual_file_mode(mnist_models, tmp_path, test_set):
    import os

    model = load_trained(RunStore(mnist_models), "use", variant="dense", pick="latest")
    (tmp_path / "reference").write_text("x")  # what any new file here gets
    expected = (tmp_path / "reference").stat().st_mode & 0o777
    for name in ("m.safetensors", "m.pt", "m.onnx"):
        export_model(model, tmp_path / name, verify=False)
        assert (tmp_path / name).stat().st_mode & 0o777 == expected, (name, oct(os.stat(tmp_path / name).st_mode))
    export_model(model, tmp_path / "m.bin", "safetensors", verify=False)  # a suffix no format claims: --format says
    assert read_metadata(tmp_path / "m.bin", "safetensors")["mnistlab.dataset"] == "mnist"
