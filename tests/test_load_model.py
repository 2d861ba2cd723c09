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
