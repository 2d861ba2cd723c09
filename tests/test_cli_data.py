"""`mnistlab datasets` and `mnistlab show-data`, through the real CLI entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from mnistlab.cli import main


def test_datasets_lists_both_verified(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "mnist" in out and "fashion-mnist" in out
    assert out.count("verified") == 2


def test_datasets_reports_a_corrupted_file(tmp_path: Path, data_dir: Path, capsys) -> None:
    shutil.copytree(data_dir / "mnist", tmp_path / "mnist")
    labels = tmp_path / "mnist" / "train-labels-idx1-ubyte.gz"
    labels.chmod(0o644)
    labels.write_bytes(labels.read_bytes()[:-50])
    assert main(["datasets", "--data-dir", str(tmp_path)]) == 1  # helper-173: a check that failed exited 0
    out, err = capsys.readouterr()
    assert "truncated" in out and err == ("error: 1 dataset damaged (mnist): its problem says why; delete its files to "
                                          "have them downloaded again, or fix --data-dir\n")
    assert main(["datasets", "--data-dir", str(tmp_path), "--format", "json"]) == 1
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["mnist"]["status"] == "damaged" and "truncated" in rows["mnist"]["problem"]
    assert rows["mnist"]["location"] == str(tmp_path / "mnist") and rows["mnist"]["found_by"] == "--data-dir"
    assert rows["fashion-mnist"]["status"] == "not found" and rows["fashion-mnist"]["problem"] is None


def test_show_data_saves_grid_and_raw_image(tmp_path: Path, data_dir: Path, capsys) -> None:
    out = tmp_path / "grid.png"
    code = main(["show-data", "fashion-mnist", "--data-dir", str(data_dir), "-o", str(out), "--index", "3"])
    assert code == 0, capsys.readouterr().err
    single = tmp_path / "grid-image-3.png"
    assert Image.open(out).size[0] > 300 and Image.open(single).size[0] > 200
    odd = tmp_path / "new\nline.png"  # helper-129: "wrote .../new" and "line.png" on two lines
    assert main(["show-data", "mnist", "--data-dir", str(data_dir), "-o", str(odd)]) == 0
    said = capsys.readouterr().out
    assert said.count("\n") == said.count("wrote ") and "new\\nline.png" in said, said


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show-data", "fashon-mnist"], 'did you mean "fashion-mnist"'),
        (["show-data", "mnist", "-o", "grid.txt"], ".png"),
        (["show-data", "mnist", "--index", "60000"], "past the last image"),
        (["show-data", "mnist", "--index", "-1"], "--index"),
        (["show-data", "mnist", "--rows", "0"], "--rows"),
        (["show-data", "mnist", "--split", "validation"], "--split"),
        (["show-data"], "DATASET"),
        (["datasets", "--frobnicate"], "No such option"),
        (["datasets", "--data-dir", "no-such-folder"], "'no-such-folder' does not exist"),
        (["run", "x.toml", "--data-dir", "no-such-folder"], "'no-such-folder' does not exist"),
        (["watch", "x", "--interval", "nan"], "--interval': 'nan' is not a finite number"),
    ],
)
def test_bad_input_is_one_line(args, message, data_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    code = main([*args, "--data-dir", str(data_dir)] if args[0] == "show-data" and len(args) > 1 else args)
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_show_data_into_missing_folder_is_one_line(data_dir: Path, tmp_path: Path, capsys) -> None:
    code = main(["show-data", "mnist", "--data-dir", str(data_dir), "-o", str(tmp_path / "no" / "such" / "g.png")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "cannot write" in err and "does not exist" in err and len(err.splitlines()) == 1


def test_show_data_into_an_unwritable_file_is_one_line_exit_2(data_dir: Path, capsys) -> None:
    # /proc exists but takes no new files (even as root): the check passes, the write itself fails
    code = main(["show-data", "mnist", "--data-dir", str(data_dir), "-o", "/proc/mnistlab-grid.png"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: cannot write") and len(err.splitlines()) == 1


def test_console_script_runs_as_a_process(data_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    (broken / "mnist").mkdir(parents=True)
    for f in (data_dir / "mnist").iterdir():
        (broken / "mnist" / f.name).write_bytes(b"\x1f\x8b garbage")
    proc = subprocess.run(
        [sys.executable, "-m", "mnistlab", "show-data", "mnist", "--data-dir", str(broken), "-o", str(tmp_path / "g.png")],
        capture_output=True, text=True, timeout=120, env={"MNISTLAB_MIRRORS": "http://127.0.0.1:9/", "PATH": "/usr/bin:/bin",
                                                          "XDG_CACHE_HOME": str(tmp_path / "c")},
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_spec_warnings_are_one_warning_line(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "sig.toml"
    spec.write_text('[[layers]]\ntype = "Flatten"\n[[layers]]\ntype = "Dense"\nunits = 10\nactivation = "sigmoid"\n')
    assert main(["summary", str(spec)]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("warning: layers[1] (Dense)") and "pre-sigmoid logits" in err[0]


def test_data_dir_must_exist_here_unless_the_cells_train_through_ray_client(tmp_path: Path) -> None:
    import click

    from mnistlab.cli._common import check_backend_flags

    missing = tmp_path / "not-here"
    for address in (None, "auto", "10.0.0.5:6379"):  # the workers read this machine's paths (or the head node's)
        with pytest.raises(click.BadParameter, match="does not exist"):
            check_backend_flags(None, address, missing)
    check_backend_flags("ray", "ray://head:10001", missing)  # a path on the workers, which this machine may lack
    check_backend_flags(None, None, tmp_path)
    check_backend_flags(None, None, None)


def test_a_data_dir_variable_naming_no_folder_is_a_warning_line(tmp_path: Path, data_dir: Path, monkeypatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MNISTLAB_DATA_DIR", str(tmp_path / "typo"))
    assert main(["datasets"]) == 0
    err = capsys.readouterr().err
    assert err == f"warning: MNISTLAB_DATA_DIR is {str(tmp_path / 'typo')!r}, which is no folder: it is searched in vain\n"
    assert main(["datasets", "--data-dir", str(data_dir)]) == 0  # --data-dir wins: the variable is not read
    monkeypatch.setenv("MNISTLAB_DATA_DIR", str(data_dir))
    assert main(["datasets"]) == 0
    assert capsys.readouterr().err == ""


def test_show_data_draws_an_unlabelled_csv_by_its_rows(tmp_path: Path, capsys, monkeypatch) -> None:
    """helper-214: `show-data test.csv` (a competition's unlabelled images) was refused: "a file without
    labels can only be predicted". Its images are drawn, each titled by its row (a submission's ImageId)."""
    import numpy as np

    from mnistlab.cli.data_cmds import _unlabelled_csv

    monkeypatch.chdir(tmp_path)
    images = np.zeros((3, 28, 28), np.uint8)
    for i in range(3):
        images[i, 5 + i: 20, 10] = 255
    rows = [",".join(f"pixel{j}" for j in range(784))] + [",".join(map(str, im.ravel())) for im in images]
    (tmp_path / "test.csv").write_text("\n".join(rows) + "\n")
    assert np.array_equal(_unlabelled_csv("test.csv"), images)
    (tmp_path / "train.csv").write_text("label," + rows[0] + "\n" + "\n".join("7," + r for r in rows[1:]) + "\n")
    assert _unlabelled_csv("train.csv") is None and _unlabelled_csv({"csv": "train.csv", "test": "test.csv"}) is None
    (tmp_path / "class.csv").write_text("class," + rows[0] + "\n" + "\n".join("7," + r for r in rows[1:]) + "\n")
    assert _unlabelled_csv("class.csv") is None  # review: a label of another name is a label, which load says
    assert main(["show-data", "test.csv", "-o", "grid.png", "--index", "2"]) == 0, capsys.readouterr().err
    assert Image.open("grid.png").size[0] > 300 and (tmp_path / "grid-image-2.png").is_file()
    assert main(["show-data", "test.csv", "--index", "3"]) == 2  # past its last row: one line
    assert "3 is past the last image (2)" in capsys.readouterr().err
