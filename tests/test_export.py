"""mnistlab.export and `mnistlab export`: ONNX (round trip through onnxruntime), TorchScript and safetensors,
each verified on the whole MNIST test set, with metadata and a model card; bad paths are one line."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

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
    assert {p.key for p in onnx.load(str(out)).metadata_props} == set(meta) and meta["mnistlab.smoke_run"] == "false"
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


def test_a_smoke_runs_export_says_so_in_a_warning_and_its_metadata(data_dir, tmp_path) -> None:
    """helper-179: a --quick run's file (300 images, 1 epoch) exported as any other; only its card said so."""
    from mnistlab.errors import ReportWarning
    from mnistlab.run import train

    run = train(dataset="mnist", model="seed000-dense", epochs=1, subset=300, data_dir=data_dir, progress="none")
    with pytest.warns(ReportWarning, match="the size of a --quick smoke run"):
        export_model(run, tmp_path / "smoke.safetensors", verify=False)
    assert read_metadata(tmp_path / "smoke.safetensors")["mnistlab.smoke_run"] == "true"


def test_a_confident_committees_logits_stay_finite() -> None:
    """helper-179: the log of a mean softmax was -inf where every member's probability underflowed
    (a committee trained long), and -inf - -inf = NaN failed the export's own check in every format."""
    import torch

    from mnistlab.export import CommitteeModule

    torch.manual_seed(0)
    members = [torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3)) for _ in range(2)]
    for m, scale in zip(members, (400.0, 300.0)):
        with torch.no_grad():
            m[1].weight.mul_(scale)
    x = torch.randn(64, 1, 2, 2)
    logits = CommitteeModule(members)(x)
    mean = torch.stack([torch.softmax(m(x), dim=1) for m in members]).mean(0)
    assert (mean == 0).any()  # probabilities that underflow, where log(mean) was -inf
    assert torch.isfinite(logits).all()
    torch.testing.assert_close(torch.softmax(logits, dim=1), mean, atol=1e-6, rtol=0)


def test_a_run_and_a_committee_save_as_keras_models_do(mnist_models, tmp_path, test_set, capsys, monkeypatch):
    """helper-117: a Keras user reaches for model.save(path); a Run and a Committee have it (export_model)."""
    from mnistlab.errors import OutputError

    store = RunStore(mnist_models)
    run = load_trained(store, "use", variant="dense", pick="latest")
    check = run.save(tmp_path / "m.pt")
    assert check is not None and check.passed and check.fmt == "torchscript"
    images = test_set[0][:20]
    logits = torch.jit.load(str(tmp_path / "m.pt"))(torch.from_numpy(images.astype(np.float32) / 255)[:, None])
    np.testing.assert_allclose(torch.softmax(logits, 1).detach().numpy(), run.predict(images), atol=1e-5)
    committee = load_trained(store, "use", variant="committee")
    assert committee.save(tmp_path / "c.bin", "onnx", verify=False) is None and (tmp_path / "c.bin").stat().st_size > 0
    for name in ("m.keras", "m.weights.h5"):
        with pytest.raises(OutputError, match="mnistlab writes no Keras file"):
            run.save(tmp_path / name)
        assert not (tmp_path / name).exists()
    from mnistlab.errors import SpecError  # helper-119: an AttributeError, and the command's flags in Python

    with pytest.raises(SpecError, match=r"^export_model takes a Run or a Committee .* not str$"):
        export_model(run.run_id, tmp_path / "x.onnx")
    from mnistlab.card import model_card

    with pytest.raises(SpecError, match=r"^model_card takes a Run or a Committee .* not str$"):  # helper-120
        model_card(run.run_id)
    with pytest.raises(OutputError, match=r"cannot tell the format of .*x\.txt.* give fmt= \(onnx"):
        export_model(run, tmp_path / "x.txt")
    with pytest.raises(OutputError, match=r"give the file a name before its suffix \(model\.onnx\)"):
        export_model(run, tmp_path / ".onnx")
    code = main(["export", run.run_id, "-o", str(tmp_path / "x.txt"), "--store", str(mnist_models)])
    assert code == 2 and "give --format (onnx" in capsys.readouterr().err  # the command's words stay its flags
    monkeypatch.chdir(tmp_path)  # helper-179: `-o -` wrote files named "-" and "-.md" here
    assert main(["export", run.run_id, "-o", "-", "--store", str(mnist_models)]) == 2
    assert "-o -: an export is a file" in capsys.readouterr().err and not (tmp_path / "-").exists()


def test_a_bf16_runs_export_says_the_file_computes_in_float32_and_what_it_scores(data_dir, tmp_path, test_set):
    """helper-119: a bf16 run's ONNX file (float32) scored 99.03% where its card said 99.02%, 3 answers
    differing from `predict`'s, and nothing said so. The check says the file's own accuracy and
    how many answers differ from the run's recorded ones."""
    from mnistlab.card import model_card
    from mnistlab.run import train

    run = train("mnist", "seed000-ex1", epochs=1, data_dir=data_dir, progress="none", subset=600, precision="bf16")
    check = run.save(tmp_path / "m.onnx", data_dir=data_dir)
    assert check is not None and check.passed and check.tested_in == "the run was tested in bf16"
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    images, labels = test_set
    got = session.run(["logits"], {"images": (images.astype(np.float32) / 255)[:, None]})[0].argmax(1)
    recorded = np.asarray(run.result.test_probs).argmax(1)
    n = len(recorded)  # subset 600: the run scored the first 100 test images; the file's figure is of those
    assert n == 100 and check.scored == n and check.accuracy == pytest.approx(float((got[:n] == labels[:n]).mean()))
    assert check.differ_from_run == int((got[:n] != recorded).sum())
    said = check.summary()
    assert (f"the file scores {check.accuracy:.2%} on the run's 100 test images (it computes in float32, where the "
            "run was tested in bf16: ") in said
    assert "## Export" in model_card(run, data_dir=data_dir, verification=check, exported="m.onnx")
    plain = train("mnist", "seed000-dense", epochs=1, data_dir=data_dir, progress="none", subset=120)
    check = plain.save(tmp_path / "p.onnx", data_dir=data_dir)
    assert check.tested_in is None and "float32" not in check.summary()
    assert f"the file scores {check.accuracy:.2%} on the run's 20 test images" in check.summary()  # subset 120


@pytest.mark.parametrize("suffix", ["onnx", "pt", "safetensors"])
def test_the_cards_code_runs_the_exported_file(mnist_models, tmp_path, test_set, monkeypatch, suffix):
    """helper-119: an error said the card beside an export shows how to run it; it did not."""
    import re

    model = load_trained(RunStore(mnist_models), "use", variant="dense", pick="latest")
    monkeypatch.chdir(tmp_path)
    assert main(["export", model.run_id, "-o", f"m.{suffix}", "--store", str(mnist_models)]) == 0
    card = Path(f"m.{suffix}.md").read_text()
    [code] = re.findall(r"```python\n(.*?)```", card, re.S)
    images = test_set[0][:30]
    scope = {"x": (images.astype(np.float32) / 255)[:, None]}
    exec(code, scope)  # noqa: S102 - the card's own lines, as a reader pastes them
    np.testing.assert_allclose(scope["probs"], model.predict(images), atol=1e-5)


def test_exporting_a_model_twice_writes_the_same_bytes(mnist_models, tmp_path):
    """helper-119: the safetensors header held its metadata in a different order each time, the ONNX
    file torch's version as mnistlab's, the .pt its temporary file's name (TorchScript still names
    a class traced again in one process anew: ___torch_mangle_N)."""
    import hashlib
    import zipfile

    from mnistlab import __version__

    model = load_trained(RunStore(mnist_models), "use", variant="committee")
    export_model(model, tmp_path / "m.pt", verify=False)
    assert {n.split("/")[0] for n in zipfile.ZipFile(tmp_path / "m.pt").namelist()} == {"archive"}
    for suffix in ("safetensors", "onnx"):
        digests = set()
        for name in ("a", "b", "c"):
            export_model(model, tmp_path / f"{name}.{suffix}", verify=False)
            digests.add(hashlib.sha256((tmp_path / f"{name}.{suffix}").read_bytes()).hexdigest())
        assert len(digests) == 1, suffix
    assert onnx.load(str(tmp_path / "a.onnx")).producer_version == __version__
    assert load_file(str(tmp_path / "a.safetensors")).keys() == export_module(model).state_dict().keys()
    assert read_metadata(tmp_path / "a.safetensors") == metadata_of(tmp_path / "b.safetensors")


def metadata_of(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return dict(f.metadata())


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
    card = Path(str(out) + ".md").read_text()  # helper-119: the card beside it did not say it was unverified
    assert "## Export" in card and "- not verified: written without comparing it with the PyTorch model" in card
    assert main(["export", "use", "--variant", "dense", "-o", str(out), "--no-verify", "--store", str(mnist_models)]) == 0
    stdout = capsys.readouterr().out  # helper-150: a verified file replaced by an unverified one, silently
    assert f"wrote {out} from run {run.run_id} (seed {run.config['train']['seed']}) (it replaced the file there)\n" in stdout
    assert f"wrote {out}.md (it replaced the file there)\n" in stdout  # its card too (helper-152)


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


@pytest.mark.parametrize("suffix", ["onnx", "pt", "safetensors"])
def test_a_folder_whose_name_is_not_utf8_holds_a_store_and_its_exports(mnist_models, tmp_path, suffix, capsys):
    """helper-162: a store, or an export, in a folder named b"bad\\xffdir" (Linux allows any bytes)
    could not load its weights, and `export` there was a traceback (safetensors, onnxruntime and
    torch.jit take a path as UTF-8 text)."""
    import shutil

    odd = tmp_path / os.fsdecode(b"bad\xffdir")
    shutil.copytree(mnist_models, odd / "store")
    model = load_trained(RunStore(odd / "store"), "use", variant="dense", pick="latest")
    assert model.run_id
    out = odd / f"m.{suffix}"
    assert main(["export", "use", "--variant", "dense", "-o", str(out), "--store", str(odd / "store")]) == 0
    said = capsys.readouterr().out
    assert "verified on 10000 test images" in said and "bad\\xffdir" in said
    [run_id] = json.loads(read_metadata(out)["mnistlab.runs"])
    assert run_id in {r.run_id for r in RunStore(odd / "store").runs() if r.variant == "dense"}


_WITH_SMALL_FILES = """
import resource, sys
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))  # ulimit -f 4
from mnistlab.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _exported_with_small_files(tmp_path: Path, data_dir: Path, model: dict, out: Path) -> Any:
    """`mnistlab export` of a fresh run of ``model`` to ``out`` (unverified) in a process whose files
    may not grow past 4 KB (:data:`_WITH_SMALL_FILES`): its CompletedProcess."""
    import sqlite3
    import subprocess
    import sys

    from mnistlab.run import train

    run = train("mnist", model, 1, data_dir=data_dir, progress="none", subset=120, store=tmp_path / "s")
    held = sqlite3.connect(tmp_path / "s" / "runs.sqlite")  # its -shm made here, not under the limit
    held.execute("SELECT COUNT(*) FROM runs").fetchall()
    try:
        return subprocess.run([sys.executable, "-c", _WITH_SMALL_FILES, "export", run.run_id, "--store",
                               str(tmp_path / "s"), "-o", str(out), "--no-verify"], capture_output=True, text=True,
                              timeout=300)
    finally:
        held.close()


def test_an_export_whose_card_cannot_be_written_stands_with_status_1(tmp_path: Path, data_dir: Path) -> None:
    """helper-189: the disk filled between the model file and its card: the verified file stayed, and
    the status was 2, which says nothing was done. A model file of 3 KB, a card of 5 KB, and a file
    size limit of 4 KB between them (a process of its own)."""
    gap = {"input_shape": [28, 28, 1], "layers": [{"type": "GlobalAveragePooling2D"},
                                                   {"type": "Dense", "units": 10, "activation": "softmax"}]}
    out = tmp_path / "g.safetensors"
    done = _exported_with_small_files(tmp_path, data_dir, gap, out)
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stderr.splitlines()[-1] == (f"error: {out} stands, but its card was not written: cannot write "
                                            f"{out}.md: File too large")
    assert load_file(out) and not Path(f"{out}.md").exists()


def test_an_export_that_cannot_be_written_names_the_file_asked_for(tmp_path: Path, data_dir: Path) -> None:
    """helper-189: a .safetensors export on a full disk named its hidden temporary file
    (.m.safetensors.1783-...tmp.safetensors), not the file asked for. A 31 KB model under a file
    size limit of 4 KB (a process of its own)."""
    out = tmp_path / "m.safetensors"
    done = _exported_with_small_files(tmp_path, data_dir, {"dense": [], "outputs": 10}, out)
    assert done.returncode == 2 and done.stderr.splitlines()[-1].startswith(f"error: {out}: cannot write weights: "), \
        done.stderr[-2000:]
    assert not list(tmp_path.glob(".m.safetensors*")) and not out.exists()


def test_every_activation_exports_to_onnx_and_computes_there_what_torch_does(tmp_path: Path) -> None:
    # MobileNet's relu6 and hard_silu, mish, exponential (a module of mnistlab's own): each translated
    # by the ONNX exporter and run by onnxruntime to the model's outputs.
    from mnistlab.export import _write_onnx
    from mnistlab.models import build_model
    from mnistlab.specs import ACTIVATIONS, Activation, Dense, Flatten, ModelSpec
    hidden = [n for n in ACTIVATIONS if n not in ("softmax", "linear")]
    layers = [Flatten(), Dense(12)] + [Activation(n) for n in hidden] + [Dense(10, activation="softmax")]
    module = build_model(ModelSpec(layers=tuple(layers), input_shape=(6, 6, 1)), seed=0).eval()
    _write_onnx(module, tmp_path / "a.onnx", {}, (6, 6))
    x = torch.rand(5, 1, 6, 6, generator=torch.Generator().manual_seed(1)) * 4 - 2
    got = onnxruntime.InferenceSession(str(tmp_path / "a.onnx")).run(None, {"images": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, module(x).numpy(), atol=1e-5, rtol=1e-5)
