"""`mnistlab run / runs / show / compare / rm`, and a real sweep killed mid-way and resumed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnistlab.cli import main
from mnistlab.store import RunStore

EXP = """
name = "cli"
[base]
dataset = "mnist"
model = { dense = [8] }
[base.data]
subset = 120
validation = 0.2
[base.train]
epochs = 1
batch_size = 60
[[variants]]
name = "a"
[[variants]]
name = "b"
"train.lr" = 0.01
committee = 2
"""


@pytest.fixture()
def exp_file(tmp_path: Path) -> Path:
    p = tmp_path / "cli.toml"
    p.write_text(EXP)
    return p


def test_run_runs_show_compare_rm(exp_file: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(exp_file), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "cli" in out and "committee" in out and out.count("finished") >= 3
    store = RunStore()  # MNISTLAB_STORE (set by conftest) is where `run` wrote
    ids = [r.run_id for r in store.runs()]
    assert len(ids) == 3

    assert main(["runs", "--experiment", "cli", "--status", "finished"]) == 0
    listed = capsys.readouterr().out
    assert all(i in listed for i in ids), listed
    assert main(["runs", "--status", "finshed"]) == 2
    assert 'did you mean "finished"' in capsys.readouterr().err

    assert main(["show", ids[0][:6]]) == 0
    shown = capsys.readouterr().out
    assert ids[0] in shown and "test_accuracy" in shown and "status finished" in shown

    assert main(["compare", "cli", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["variant"] for r in rows] == ["a", "b"] and rows[1]["committee_acc"] is not None
    assert rows[1]["n"] == 2 and rows[0]["val_acc"] is not None
    assert main(["compare", str(exp_file), "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("| variant |")
    assert main(["compare", "cli", "--format", "csv"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["compare", "cil"]) == 2
    assert 'did you mean "cli"' in capsys.readouterr().err

    assert main(["rm", ids[0]]) == 0
    assert not (store.root / "runs" / ids[0]).exists()
    assert main(["rm", "--experiment", "cli"]) == 0
    assert store.runs() == []
    assert main(["rm"]) == 2


def test_bad_inputs_are_one_line_errors(tmp_path: Path, exp_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "runs.sqlite").write_bytes(b"\x89garbage" * 100)
    for argv in (["runs", "--store", str(tmp_path / "store")],
                 ["run", str(exp_file), "--store", str(tmp_path / "store")],
                 ["show", "nothex!"], ["show", "abc"], ["run", str(tmp_path / "none.toml")],
                 ["run", str(exp_file), "--jobs", "0"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error:") and err.count("\n") == 1, (argv, err)
    assert RunStore(tmp_path / "fresh").runs() == []


# --------------------------------------------------------------------- kill and resume
SWEEP = """
name = "kill"
[base]
dataset = "mnist"
model = { conv = [8], dense = [32] }
[base.data]
subset = 1500
[base.train]
epochs = 1
[grid]
"train.seed" = [0, 1, 2, 3, 4, 5]
"""


def _finished(db: Path) -> set[str]:
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return {r[0] for r in con.execute("SELECT run_id FROM runs WHERE status = 'finished'")}
        finally:
            con.close()
    except sqlite3.Error:  # not created yet
        return set()


def _start(exp: Path, store: Path, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "mnistlab", "run", str(exp), "--store", str(store),
                             "--data-dir", str(data_dir)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_first(proc: subprocess.Popen[bytes], db: Path) -> set[str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        done = _finished(db)
        if done:
            return done
        time.sleep(0.05)
    raise AssertionError(f"no run finished in time: {proc.communicate()}")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_killed_sweep_loses_nothing_and_resumes(tmp_path: Path, data_dir: Path, sig: signal.Signals) -> None:
    exp = tmp_path / "kill.toml"
    exp.write_text(SWEEP)
    store_dir = tmp_path / "store"
    proc = _start(exp, store_dir, data_dir)
    _wait_for_first(proc, store_dir / "runs.sqlite")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    before = _finished(store_dir / "runs.sqlite")
    assert 1 <= len(before) < 6, "the sweep should have been stopped mid-way"
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and b"interrupted" in err and b"Traceback" not in err
    store = RunStore(store_dir)
    for rid in before:  # finished runs are complete: predictions and weights on disk
        assert (store.artifact_dir(rid) / "predictions.npy").is_file()
        assert (store.artifact_dir(rid) / "weights.safetensors").is_file()

    again = _start(exp, store_dir, data_dir)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    finished = store.runs(status="finished")
    assert len(finished) == 6 and {r.variant for r in finished} == {f"seed={i}" for i in range(6)}
    assert before <= {r.run_id for r in finished}  # the old runs were kept, not redone
    assert out.decode().count("skipped (already finished)") == len(before)
    assert store.runs(status="running") == []  # the killed run is marked interrupted, not left running


@pytest.mark.parametrize("args", [["runs"], ["show", "abc"], ["compare", "x"], ["rm", "abc"],
                                  ["plot", "history", "x", "-o", "h.png"], ["report", "x", "-o", "r.html"]])
def test_reading_commands_never_create_a_store(args, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    code = main([*args, "--store", str(tmp_path / "typo")])
    err = capsys.readouterr().err
    assert code == 2 and "no run store at" in err and err.count("\n") == 1
    assert not (tmp_path / "typo").exists()
