"""Keras's ``load_model`` for the files mnistlab writes (helper-251, note 57): a saved ``.safetensors``
model comes back as a Run that predicts as the run did, from Python and through `mnistlab predict`."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.torch import save_file

import mnistlab
from mnistlab.cli import main as cli_main
from mnistlab.datasets import load_dataset
from mnistlab.errors import MnistlabError


@pytest.fixture(scope="module")
def saved(tmp_path_factory, data_dir):
    run = mnistlab.train("mnist", "seed000-cnn", epochs=1, subset=1200, data_dir=data_dir, progress="none")  # (bf16 on
    # a CPU that has it: the loaded model computes in the precision its run was tested in, review of session 58)
    path = tmp_path_factory.mktemp("saved") / "cnn.safetensors"
    run.save(path, verify=False)
    return run, path


def test_a_saved_model_loads_back_and_predicts_as_its_run_did(saved, data_dir):
    run, path = saved
    images = np.asarray(load_dataset("mnist", data_dir, download=False).test_images[:50])
    loaded = mnistlab.load_model(path)
    np.testing.assert_allclose(loaded.predict(images), run.predict(images), atol=1e-6)
    assert loaded.class_names == run.class_names and loaded.input_shape == (28, 28)
    assert "loaded from" in repr(loaded) and loaded.status == "finished"
    again = mnistlab.load_trained(path)  # a file alone, as Keras's load_model takes one
    np.testing.assert_allclose(again.predict(images[:5]), run.predict(images[:5]), atol=1e-6)


def test_predict_takes_a_saved_model_file(saved, tmp_path, capsys):
    from PIL import Image

    _, path = saved
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 12:16] = 255  # a "1"
    Image.fromarray(digit).save(tmp_path / "one.png")
    assert cli_main(["predict", str(path), str(tmp_path / "one.png"), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("file,") and "one.png" in out


@pytest.mark.parametrize("name, content, said", [
    ("gone.safetensors", None, "no such file"),
    ("picture.safetensors", b"\x89PNG\r\n", "not a model file mnistlab wrote"),
    ("bare.safetensors", "weights", "a safetensors file without mnistlab's metadata"),
    ("m.onnx", b"onnx", "an .onnx file runs in onnxruntime"),
])
def test_a_file_that_holds_no_model_of_mnistlabs_is_one_line(name, content, said, tmp_path):
    import torch

    path = tmp_path / name
    if content == "weights":
        save_file({"w": torch.zeros(2)}, str(path))
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(MnistlabError) as info:
        mnistlab.load_model(path)
    assert said in str(info.value) and "\n" not in str(info.value)


def test_predict_of_a_file_that_holds_no_model_exits_2(tmp_path, capsys):
    (tmp_path / "m.onnx").write_bytes(b"onnx")
    (tmp_path / "d.png").write_bytes(b"")
    assert cli_main(["predict", str(tmp_path / "m.onnx"), str(tmp_path / "d.png")]) == 2
    assert "an .onnx file runs in onnxruntime" in capsys.readouterr().err


def test_a_run_knows_its_experiment_and_variant_from_training_the_store_and_its_saved_file(data_dir, tmp_path):
    # note 58: a Run had no .variant, and a loaded file's run id was lost (its card said "not recorded")
    from mnistlab.card import model_card
    from mnistlab.run import Run

    store = tmp_path / "store"
    run = mnistlab.train("mnist", "seed000-dense", epochs=1, subset=600, data_dir=data_dir, progress="none",
                         store=store, experiment="lab1", variant="small-dense")
    assert (run.experiment, run.variant) == ("lab1", "small-dense") and run.run_id
    again = Run.from_store(store, run.run_id)
    assert (again.experiment, again.variant, again.run_id) == ("lab1", "small-dense", run.run_id)
    run.save(tmp_path / "m.safetensors", verify=False)
    loaded = mnistlab.load_model(tmp_path / "m.safetensors")
    assert (loaded.experiment, loaded.variant, loaded.run_id) == ("lab1", "small-dense", run.run_id)
    card = model_card(loaded, data_dir=data_dir)
    assert f"`{run.run_id}` (experiment lab1, variant small-dense" in card and "not recorded" not in card
    unrecorded = mnistlab.train("mnist", "seed000-dense", epochs=1, subset=300, data_dir=data_dir, progress="none")
    assert (unrecorded.experiment, unrecorded.variant, unrecorded.run_id) == (None, None, None)
    unrecorded.save(tmp_path / "u.safetensors", verify=False)
    assert mnistlab.load_model(tmp_path / "u.safetensors").run_id is None
