"""`mnistlab run / runs / show / compare / rm`, and a real sweep killed mid-way and resumed."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import read_only_store, read_terminal

from mnistlab.cli import main
from mnistlab.execute import await_orphaned_workers
from mnistlab.experiments import load_experiment
from mnistlab.run import Recorder
from mnistlab.live import read_plan
from mnistlab.store import RunStore, process_alive

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
    assert "best" not in out  # one variant of 2 runs (b's members) ranks nothing
    store = RunStore()  # MNISTLAB_STORE (set by conftest) is where `run` wrote
    ids = [r.run_id for r in store.runs()]
    assert len(ids) == 3

    assert main(["runs", "--experiment", "cli", "--status", "finished"]) == 0
    listed = capsys.readouterr().out
    assert all(i in listed for i in ids), listed
    assert main(["runs", "--status", "finshed"]) == 2
    assert 'did you mean "finished"' in capsys.readouterr().err
    assert main(["runs", "--status", "pruned"]) == 2  # a trial state, not a run's status: said where to look
    assert "a search's pruned trial is a finished run whose trial state is pruned" in capsys.readouterr().err
    # helper-123: `-s finished -s interrupted` listed the interrupted ones only
    stopped = store.start_run(experiment="cli", variant="x", seed=0, member=0, config={}, config_hash="x")
    store.finish_run(stopped, status="interrupted", history=[], metrics={}, env={})
    for given in (["-s", "finished", "-s", "interrupted"], ["-s", "finished,interrupted"]):
        assert main(["runs", *given, "--format", "csv"]) == 0
        assert sorted(line.split(",")[0] for line in capsys.readouterr().out.splitlines()[1:]) == sorted([*ids, stopped])
    assert main(["runs", "-s", "finished", "-s", "interupted"]) == 2
    assert 'unknown status "interupted" (did you mean "interrupted"?)' in capsys.readouterr().err
    assert main(["runs", "-s", "interrupted", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith(f"{stopped},")
    tested = store.start_run(experiment="cli", variant="y", seed=0, member=0, config={}, config_hash="y")
    store.finish_run(tested, status="interrupted", history=[], metrics={"test_accuracy": 0.201, "epochs_run": 0}, env={})
    assert main(["show", tested]) == 0  # helper-173: "result test accuracy 20.10%" of weights that never trained
    assert ("\nno result (interrupted: `runs` and `compare` count none); its weights as they stood when it stopped "
            "tested 20.10% on its test images, stopped in its first epoch\n") in capsys.readouterr().out  # (helper-174)
    store.rm([stopped, tested])

    assert main(["show", ids[0][:6]]) == 0
    shown = capsys.readouterr().out
    assert ids[0] in shown and "test_accuracy" in shown and "status finished" in shown
    assert "\nhistory (1 epoch)\n  epoch=1  " in shown  # the epochs under a heading of their own
    assert shown.splitlines()[1] == "dataset mnist"  # helper-129: only inside its config before
    rec = RunStore().get(ids[0])  # helper-146: "member 0" of no committee, the result in raw JSON alone
    assert shown.splitlines()[0].endswith(f"seed {rec.seed}") and "member" not in shown.splitlines()[0]
    assert (f"\nresult test accuracy {rec.metrics['test_accuracy']:.2%} on 20 of mnist's 10,000 test images, test loss "
            f"{rec.metrics['test_loss']:.4f}, 1 epoch trained in ") in shown
    assert main(["show", ids[0][:6], "--format", "json"]) == 0  # helper-114: for scripts, as `runs --format json`
    record = json.loads(capsys.readouterr().out)
    assert record["run_id"] == ids[0] and record["status"] == "finished" and len(record["history"]) == 1
    assert record["metrics"]["test_accuracy"] == RunStore(record["artifacts"].rsplit("/runs/", 1)[0]).get(ids[0]).metrics[
        "test_accuracy"] and record["config"]["dataset"] == "mnist" and record["smoke_run"] is True

    assert main(["compare", "cli", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["variant"] for r in rows] == ["a", "b"] and rows[1]["committee_acc"] is not None
    assert rows[1]["n"] == 2 and rows[0]["val_acc"] is not None
    assert main(["compare", str(exp_file), "--format", "markdown"]) == 0
    page = capsys.readouterr().out  # smoke-sized runs: said in the page, above the table
    assert page.startswith("Note: these are smoke runs") and page.splitlines()[2].startswith("| variant |")
    assert main(["compare", "cli", "--format", "csv"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["compare", "cil"]) == 2
    assert 'did you mean "cli"' in capsys.readouterr().err

    assert main(["rm", ids[0]]) == 0
    assert not (store.root / "runs" / ids[0]).exists()
    assert main(["rm", "--experiment", "cli"]) == 0
    assert store.runs() == []
    assert main(["rm"]) == 2


def test_the_table_says_what_best_and_near_best_mean(tmp_path: Path, data_dir: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "two.toml"
    p.write_text("repeats = 2\n" + EXP.replace("committee = 2\n", ""))
    assert main(["run", str(p), "--data-dir", str(data_dir), "--format", "table"]) == 0
    table = capsys.readouterr().out
    assert " best" in table and table.splitlines()[-1].startswith("best: the highest mean test accuracy of the variants "
                                                                    "with 2 runs or more")
    assert main(["compare", str(p), "--format", "csv"]) == 0
    assert "highest mean" not in capsys.readouterr().out  # a CSV stays a CSV


def test_runs_closing_table_has_compares_notes_of_smoke_sized_runs(exp_file: Path, tmp_path: Path, data_dir: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """helper-118: a sweep of smoke-sized runs (not --quick) closed on a table without the notes
    `compare` prints of it. helper-140, helper-146: a --quick sweep's table had none, where `compare
    --quick` says them (its first line's "a smoke test" is far above a long sweep's table)."""
    store = ["--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]
    assert main(["run", str(exp_file), *store, "--format", "csv"]) == 0
    err = capsys.readouterr().err
    assert main(["compare", str(exp_file), *store[:2], "--format", "csv"]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
    assert said and all(line in err.splitlines() for line in said), (said, err)
    assert "note: these are smoke runs" in err and "note: test accuracy here is on part of the test set" in err
    assert main(["run", str(exp_file), *store, "--quick", "--format", "csv"]) == 0
    err = capsys.readouterr().err
    assert main(["compare", str(exp_file), "--quick", *store[:2], "--format", "csv"]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
    assert said and all(line in err.splitlines() for line in said), (said, err)
    assert "note: these are smoke runs" in err and "note: test accuracy here is on part of the test set" in err


def test_runs_closing_table_says_when_its_runs_were_scored_on_different_test_sets(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """helper-121: `compare` said the runs were scored on 2 different test sets, `run`'s own table not."""
    p = tmp_path / "two.toml"
    p.write_text(EXP.replace("committee = 2\n", 'dataset = "fashion-mnist"\n'))
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir), "--format", "csv"]) == 0
    err = capsys.readouterr().err
    assert "note: these runs were scored on 2 different test sets (mnist (20 test images), fashion-mnist (20 test " \
           "images)): their test accuracies do not compare, so no row is marked best" in err, err
    assert "on part of the test set" not in err  # the test sets are said above: as compare leaves it out


def test_compare_variant_marks_no_best_among_rows_of_different_test_sets(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """helper-244: `compare --variant cnn --variant dense` of a grid over two datasets marked a best
    and a ~best among the MNIST rows (and "below" for Fashion-MNIST's in JSON) while its note said
    no row is marked best; the rows of one dataset are still marked among themselves."""
    p = tmp_path / "grid.toml"
    p.write_text(EXP.replace("committee = 2\n", "").replace('name = "cli"\n', 'name = "cli"\nrepeats = 2\n')
                 + '[grid]\ndataset = ["mnist", "fashion-mnist"]\n')
    store = str(tmp_path / "s")
    assert main(["run", str(p), "--store", store, "--data-dir", str(data_dir), "--format", "csv"]) == 0
    capsys.readouterr()
    assert main(["compare", str(p), "--store", store, "--variant", "a", "--variant", "b", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 4 and all(r["vs_best"] is None and r["vs_best_p"] is None for r in rows), rows
    assert main(["compare", str(p), "--store", store, "--variant", "a,dataset=mnist", "--variant", "b,dataset=mnist",
                 "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert sorted(str(r["vs_best"]) for r in json.loads(out)) in (["best", "within noise"], ["below", "best"])
    assert "different test sets" not in err


def test_a_quick_run_never_saves_over_the_full_runs_checkpoint(tmp_path: Path, data_dir: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """helper-245: `run --quick` after the full run replaced best.safetensors (the full run's best
    weights) with a 300-image smoke run's, unsaid."""
    p = tmp_path / "one.toml"
    p.write_text(EXP.split("[[variants]]")[0].replace("[base.data]", 'callbacks = [{ type = "modelcheckpoint", '
                                                        'filepath = "best.safetensors" }]\n[base.data]'))  # (any case)
    store = str(tmp_path / "s")
    assert main(["run", str(p), "--store", store, "--data-dir", str(data_dir), "--format", "csv"]) == 0
    full = (tmp_path / "best.safetensors").read_bytes()
    capsys.readouterr()
    assert main(["run", str(p), "--store", store, "--data-dir", str(data_dir), "--format", "csv", "--quick"]) == 0
    err = capsys.readouterr().err
    assert (tmp_path / "best.safetensors").read_bytes() == full
    assert (tmp_path / "best.quick.safetensors").stat().st_size > 0
    assert "--quick: ModelCheckpoint saves to " in err and "best.quick.safetensors, beside the full runs' files" in err


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
    assert main(["run", str(exp_file), "--jobs", "two"]) == 2  # new-user finding: "not a valid integer range"
    assert capsys.readouterr().err == "error: Invalid value for '--jobs' / '-j': 'two' is not a valid integer.\n"


def test_every_bad_variant_of_a_file_is_reported_at_once_one_line_each(tmp_path: Path, exp_file: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    bad = exp_file.read_text() + ('[[variants]]\nname = "c"\n"train.lrr" = 0.1\n[[variants]]\nname = "ok"\n'
                                  '[[variants]]\nname = "d"\n"train.epochs" = -3\n')
    exp_file.write_text(bad)
    lines = bad.splitlines()
    assert main(["run", str(exp_file), "--store", str(tmp_path / "store")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert [e.split(": ")[0] for e in err] == ["error", "error"]
    lrr, epochs = lines.index('"train.lrr" = 0.1') + 1, lines.index('"train.epochs" = -3') + 1
    assert err[0].startswith(f"error: {exp_file}:{lrr}: ") and '"lrr"' in err[0]
    assert err[1].startswith(f"error: {exp_file}:{epochs}: ") and "epochs" in err[1]
    assert not (tmp_path / "store").exists()  # found before anything trains
    many = exp_file.read_text() + "".join(f'[[variants]]\nname = "x{i}"\n"train.lr" = -1\n' for i in range(30))
    exp_file.write_text(many)
    assert main(["run", str(exp_file), "--store", str(tmp_path / "store")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 22 and err[-1] == "error: ... and 11 more mistakes like these"
    exp_file.write_text(EXP.replace("[[variants]]", '[grid]\n"train.epochs" = [1, 0]\n[[variants]]', 1))
    assert main(["run", str(exp_file), "--store", str(tmp_path / "store")]) == 2
    err = capsys.readouterr().err.splitlines()  # one bad value of the grid every variant crosses: said once
    assert len(err) == 1 and "epochs" in err[0], err


def test_rm_says_what_it_needs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    RunStore(tmp_path / "s")
    assert main(["rm", "--store", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err == ("error: rm: give run ids, --experiment NAME, or --status / --older-than / --tag / "
                                       "--where\n")
    assert main(["rm", "abc123", "-e", "x", "--store", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err == ("error: rm: give run ids, or --experiment NAME / --status / --older-than / --tag / "
                                       "--where to choose runs, not both\n")


def test_a_bad_checkpoint_interval_is_one_line_before_the_store_exists(tmp_path: Path, exp_file: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MNISTLAB_CHECKPOINT_EVERY", "every minute")
    assert main(["run", str(exp_file), "--store", str(tmp_path / "new")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "MNISTLAB_CHECKPOINT_EVERY" in err, (out, err)
    assert not (tmp_path / "new").exists()  # no header printed, no store made


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


def _start(exp: Path, store: Path, data_dir: Path, *flags: str, **env_vars: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **env_vars}
    return subprocess.Popen([sys.executable, "-m", "mnistlab", "run", str(exp), "--store", str(store),
                             "--data-dir", str(data_dir), *flags], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_first(proc: subprocess.Popen[bytes], db: Path) -> set[str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        done = _finished(db)
        if done:
            return done
        time.sleep(0.05)
    raise AssertionError(f"no run finished in time: {proc.communicate()}")


def test_two_drivers_on_one_store_split_the_cells(tmp_path: Path, data_dir: Path) -> None:
    """Two `mnistlab run` of one experiment at once (two terminals): each cell trains once."""
    exp = tmp_path / "sweep.toml"
    exp.write_text(SWEEP)
    store_dir = tmp_path / "store"
    RunStore(store_dir).close()  # the database exists before both start
    drivers = [_start(exp, store_dir, data_dir) for _ in range(2)]
    outputs = [d.communicate(timeout=300) for d in drivers]
    assert [d.returncode for d in drivers] == [0, 0], outputs
    runs = RunStore(store_dir).runs()
    assert len(runs) == 6 and {r.status for r in runs} == {"finished"}
    assert sorted(r.variant for r in runs) == [f"seed={i}" for i in range(6)]
    said = b"".join(out for out, _ in outputs)
    assert said.count(b"being trained by another process") + said.count(b"skipped (already finished)") >= 1


def _claim_and_hold(root: str, exp_file: str, ready: object, release: object) -> None:
    """Another driver: holds the first cell of ``exp_file`` as running until ``release`` is set."""
    from mnistlab.experiments import load_experiment

    cell = load_experiment(exp_file).cells()[0]
    RunStore(root).claim_run(experiment=cell.experiment, variant=cell.variant, seed=0, member=0, config=cell.config,
                             config_hash=cell.key)
    ready.set()
    release.wait(60)


def test_a_dry_run_says_which_runs_another_process_trains_now(tmp_path: Path, data_dir: Path, capsys) -> None:
    """helper-227: `run --dry-run` said "to train" of a cell another process held; `run` then left it."""
    import multiprocessing

    exp = tmp_path / "held.toml"
    exp.write_text(EXP.replace('committee = 2\n', ''))
    spawn = multiprocessing.get_context("spawn")
    ready, release = spawn.Event(), spawn.Event()
    other = spawn.Process(target=_claim_and_hold, args=(str(tmp_path / "s"), str(exp), ready, release))
    other.start()
    try:
        assert ready.wait(60)
        assert main(["run", str(exp), "--dry-run", "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]) == 0
        out, err = capsys.readouterr()
        assert (f"note: 1 run is being trained now by another process (pid {other.pid} on {socket.gethostname()}): "
                "`run` leaves it to it, and counts it nowhere below") in err, err
        assert "1 run to train:" in out  # of the 2 cells of variants a and b: b's alone (review: "2 runs to train")
    finally:
        release.set()
        other.join(60)


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
    if sig == signal.SIGINT:  # New-user finding (helper-108): stopped, `run --force` said to run "the same
        forced = _start(exp, store_dir, data_dir, "--force")  # command" again, which trains every cell again
        _wait_for_first(forced, store_dir / "runs.sqlite")
        deadline = time.monotonic() + 60
        while len(_finished(store_dir / "runs.sqlite")) == 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        forced.send_signal(signal.SIGINT)
        _, err = forced.communicate(timeout=60)
        assert forced.returncode == 130 and b"none left to train (every cell has a result: --force again trains " \
            b"them all again)" in err, err  # of the store's cells (helper-123): the forced ones' old results count


LONG_CELL = """
[base]
dataset = "mnist"
model = { dense = [64] }
[base.data]
subset = 6000
[base.train]
epochs = 40
batch_size = 32
threads = 1
[[variants]]
name = "long"
"""


@pytest.mark.long
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_cell_killed_mid_training_continues_from_its_checkpoint(tmp_path: Path, data_dir: Path,
                                                                   sig: signal.Signals) -> None:
    exp = tmp_path / "long.toml"
    exp.write_text(LONG_CELL)
    store_dir = tmp_path / "store"
    proc = _start(exp, store_dir, data_dir, MNISTLAB_CHECKPOINT_EVERY="0")
    deadline = time.monotonic() + 120
    while not list(store_dir.glob("checkpoints/*/*/last.pt")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # an epoch or so more
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    store = RunStore(store_dir)
    [stopped] = store.runs()
    assert _finished(store_dir / "runs.sqlite") == set(), "the cell should have been stopped mid-way"
    planned = subprocess.run([sys.executable, "-m", "mnistlab", "run", str(exp), "--store", str(store_dir), "--data-dir",
                              str(data_dir), "--dry-run", "--format", "json"], capture_output=True, text=True, timeout=120)
    assert [{k: v for k, v in r.items() if k != "recipe"} for r in json.loads(planned.stdout)] == [{
        "variant": "long", "finished": 0, "to_train": 1, "resumed": 1, "recorded_from_another": 0}], planned
    # (a resume said before it trains: helper-183)

    again = _start(exp, store_dir, data_dir)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    [resumed] = store.runs(status="finished")
    assert store.get(stopped.run_id).status == "interrupted"  # SIGKILL's run too, marked by the new driver
    assert resumed.metrics["resumed_from_epoch"] >= 1 and len(resumed.history) == 40
    assert f"resumed after epoch {resumed.metrics['resumed_from_epoch']}" in out.decode()
    assert not list(store_dir.glob("checkpoints/*/*/last.pt"))


def _ended(pid: int) -> bool:
    """Whether process ``pid`` of this host ended, as the store sees it (an unreaped zombie has)."""
    return not process_alive(pid, socket.gethostname())


def _two_training_workers(tmp_path: Path, data_dir: Path, stdout, stderr) -> tuple[subprocess.Popen, Path, list]:  # noqa: ANN001
    """`mnistlab run --jobs 2` of two 400-epoch cells, once both workers are training: (the
    driver, its store folder, the two running runs)."""
    exp = tmp_path / "long.toml"
    exp.write_text(LONG_CELL.replace("epochs = 40", "epochs = 400")  # long2: a seed of its own, else the two share a run
                   + '[[variants]]\nname = "long2"\n"train.seed" = 1\n')
    store_dir = tmp_path / "store"
    driver = subprocess.Popen([sys.executable, "-m", "mnistlab", "run", str(exp), "--store", str(store_dir),
                               "--data-dir", str(data_dir), "--jobs", "2"],
                              env={**os.environ, "OMP_NUM_THREADS": "1", "MNISTLAB_CHECKPOINT_EVERY": "0"},
                              stdout=stdout, stderr=stderr)
    deadline = time.monotonic() + 120
    runs: list = []
    while time.monotonic() < deadline:
        runs = RunStore(store_dir).runs() if (store_dir / "runs.sqlite").exists() else []
        if len(runs) == 2 and all(len(r.history) > 1 for r in runs):  # both workers are training
            break
        time.sleep(0.1)
    return driver, store_dir, runs


def test_ctrl_c_of_a_jobs_sweep_says_where_each_stopped_cell_continues(tmp_path: Path, data_dir: Path) -> None:
    """Ctrl-C of a --jobs 2 sweep: the cells its workers were training get their line too (their
    statuses never come back through the stopped pool), each saying where the next run continues."""
    driver, store_dir, _ = _two_training_workers(tmp_path, data_dir, subprocess.PIPE, subprocess.PIPE)
    driver.send_signal(signal.SIGINT)
    out, err = driver.communicate(timeout=60)
    assert driver.returncode == 130, err
    lines = [line for line in out.decode().splitlines() if "interrupted after" in line]
    records = [(r.variant, r.status, r.message, r.metrics) for r in RunStore(store_dir).runs()]
    assert len(lines) == 2 and all("(run it again to continue from epoch " in line for line in lines), (out, err, records)
    assert {line.split()[2] for line in lines} == {"long", "long2"}


def test_ctrl_c_pressed_again_and_again_stops_a_jobs_sweep_once(tmp_path: Path, data_dir: Path) -> None:
    """helper-167: an impatient Ctrl-C, five times in a second, cut the sweep's stop short: the
    driver died by SIGINT (not exit 130), multiprocessing's exit printed a traceback, and its own
    workers' runs were said "training in another process", one left running."""
    driver, store_dir, _ = _two_training_workers(tmp_path, data_dir, subprocess.PIPE, subprocess.PIPE)
    for _ in range(5):
        driver.send_signal(signal.SIGINT)
        time.sleep(0.2)
    out, err = driver.communicate(timeout=60)
    assert driver.returncode == 130 and b"Traceback" not in err and b"another process" not in out + err, (out, err)
    assert [r.status for r in RunStore(store_dir).runs()] == ["interrupted"] * 2


def _children(pid: int, named: str) -> list[int]:
    """The processes whose parent is ``pid`` and whose command line contains ``named`` (Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[-1].split()[1]) == pid and named.encode() in (
                    stat.parent / "cmdline").read_bytes():
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):  # ended meanwhile
            pass
    return found


def test_workers_stop_when_their_driver_is_killed(tmp_path: Path, data_dir: Path) -> None:
    """kill -9 of a --jobs driver: its workers record their cells interrupted and end (not train on for nobody)."""
    stderr = (tmp_path / "stderr.txt").open("wb")  # the driver's, which its resource tracker inherits
    driver, store_dir, runs = _two_training_workers(tmp_path, data_dir, subprocess.DEVNULL, stderr)
    trackers = _children(driver.pid, "resource_tracker")
    driver.kill()
    driver.wait(timeout=30)
    workers = {r.pid for r in runs}
    assert len(workers) == 2 and driver.pid not in workers
    # A sweep started right away (what `mnistlab run` does first) waits for them instead of taking
    # their cells for another driver's ...
    assert await_orphaned_workers(RunStore(store_dir), "long") <= 2  # (a worker may have recorded already)
    assert RunStore(store_dir).runs(status="running") == []  # recorded: the cells are free to claim
    assert await_orphaned_workers(RunStore(store_dir), "long") == 0  # ... and nothing is left to wait for
    deadline = time.monotonic() + 30  # the workers end right after recording
    while not all(_ended(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_ended(pid) for pid in workers), "a worker outlived its driver"
    assert len(trackers) == 1
    while not _ended(trackers[0]) and time.monotonic() < deadline:  # it cleans up once the workers are gone
        time.sleep(0.1)
    stderr.close()
    assert _ended(trackers[0]) and b"leaked semaphore" not in (tmp_path / "stderr.txt").read_bytes()
    runs = RunStore(store_dir).runs()
    assert [r.status for r in runs] == ["interrupted"] * 2  # recorded by the workers themselves
    assert all("because its driver process ended" in r.message for r in runs)
    assert all(0 < len(r.history) < 400 and r.metrics["checkpoint_epoch"] > 0 for r in runs)
    assert len(list(store_dir.glob("checkpoints/*/*/last.pt"))) == 2  # kept for the next run to continue


def test_workers_of_a_driver_killed_as_they_start_end_too(tmp_path: Path, data_dir: Path) -> None:
    """helper-167: a kill -9 of the driver while its --jobs workers were starting left each one
    watching init (its parent by then, taken for the driver) and training on for nobody, forever."""
    exp = tmp_path / "long.toml"
    exp.write_text(LONG_CELL + '[[variants]]\nname = "long2"\n"train.seed" = 1\n')
    driver = subprocess.Popen([sys.executable, "-m", "mnistlab", "run", str(exp), "--store", str(tmp_path / "s"),
                               "--data-dir", str(data_dir), "--jobs", "2"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 60
    while not (workers := _children(driver.pid, "spawn_main")) and time.monotonic() < deadline:
        time.sleep(0.01)
    driver.kill()  # as soon as a worker is there: before it has set up its watch on the driver
    driver.wait(timeout=30)
    deadline = time.monotonic() + 30
    while not all(_ended(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert workers and all(_ended(pid) for pid in workers), "a worker outlived its driver"


@pytest.mark.parametrize("args", [["runs"], ["show", "abc"], ["compare", "x"], ["rm", "abc"],
                                  ["plot", "history", "x", "-o", "h.png"], ["report", "x", "-o", "r.html"]])
def test_reading_commands_never_create_a_store(args, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    code = main([*args, "--store", str(tmp_path / "typo")])
    err = capsys.readouterr().err
    assert code == 2 and "no run store at" in err and err.count("\n") == 1
    assert not (tmp_path / "typo").exists()


# ------------------------------------------------ issue 14: exit status, one way to name an experiment
# "gpu": a CNN, trained with autograd's backward(), which fails below as a GPU's error would (variant "a",
# dense layers only, computes its gradients itself: accel/dense_step.py); a device this machine has not is
# found before anything trains (test_a_device_this_machine_has_not_is_found_before_anything_trains)
FAILING = EXP.replace('[[variants]]\nname = "b"', '[[variants]]\nname = "gpu"\nmodel = { conv = [2], dense = [4] }')


def test_run_exits_nonzero_after_recording_when_a_cell_failed(tmp_path: Path, data_dir: Path, capsys,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    def gpu_fault(*args: object, **kwargs: object) -> None:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(torch.Tensor, "backward", gpu_fault)
    exp = tmp_path / "fails.toml"
    exp.write_text(FAILING)
    assert main(["run", str(exp), "--data-dir", str(data_dir)]) == 1
    out, err = capsys.readouterr()
    # Everything recorded and the table printed first, then one line saying how many and why.
    assert sorted(r.status for r in RunStore().runs()) == ["failed", "failed", "finished"]  # gpu: a committee of 2
    assert "variant" in out and "gpu" in out and "(n=0)" in out
    err = "".join(line for line in err.splitlines(keepends=True) if not line.startswith("note: "))  # compare's notes
    assert err.startswith("error: 2 of 3 runs of cli failed (no result)") and err.count("\n") == 1, err


def test_run_exits_nonzero_when_a_cell_diverged(exp_file: Path, data_dir: Path, capsys) -> None:
    from mnistlab.experiments import load_experiment

    cell = load_experiment(exp_file).cells()[0]  # variant "a": a diverged run of it is final, so it is reused
    store = RunStore()
    rid = store.start_run(experiment="cli", variant=cell.variant, seed=cell.seed, member=0, config=cell.config,
                          config_hash=cell.key)
    store.finish_run(rid, status="diverged", history=[], metrics={}, env={}, message="loss became nan")
    assert main(["run", str(exp_file), "--data-dir", str(data_dir)]) == 1
    out, err = capsys.readouterr()
    assert f"{rid}  a  seed 0: skipped" in out and "committee" in out
    err = "".join(line for line in err.splitlines(keepends=True) if not line.startswith("note: "))  # compare's notes
    assert ("1 of 3 runs of cli diverged (scored as their weights ended: the table's note says so)" in err
            and err.count("\n") == 1), err  # helper-109: "did not finish", while the table counted it
    assert main(["run", str(exp_file), "--data-dir", str(data_dir), "--format", "json"]) == 1  # still diverged
    out, err = capsys.readouterr()
    assert [r["variant"] for r in json.loads(out)] == ["a", "b"] and "runs of cli diverged" in err


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, _session_cache: Path) -> tuple[Path, Path, str]:
    """`mnistlab run cli.toml` done once: (experiment file, store, the first run's id)."""
    folder = tmp_path_factory.mktemp("ran")
    exp, store = folder / "cli.toml", folder / "store"
    exp.write_text(EXP)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(_session_cache))
        assert main(["run", str(exp), "--store", str(store), "--data-dir", str(data_dir)]) == 0
    return exp, store, RunStore(store).runs()[0].run_id


def _experiment_commands(target: str, out: Path) -> dict[str, list[str]]:
    return {"report": ["report", target, "-o", str(out / "r.html")],
            "plot history": ["plot", "history", target, "-o", str(out / "h.png")],
            "plot compare": ["plot", "compare", target, "-o", str(out / "c.png")],
            "plot confusion": ["plot", "confusion", target, "--variant", "a", "-o", str(out / "m.png")],
            "compare": ["compare", target],
            "runs": ["runs", "--experiment", target]}


@pytest.mark.parametrize("form", ["file", "name", "run id"])
@pytest.mark.parametrize("command", list(_experiment_commands("x", Path())))
def test_every_command_takes_the_file_its_name_or_a_run_id(ran, tmp_path: Path, data_dir: Path, capsys,
                                                           command: str, form: str) -> None:
    exp, store, run_id = ran
    target = {"file": str(exp), "name": "cli", "run id": run_id[:7]}[form]
    argv = _experiment_commands(target, tmp_path)[command]
    code = main([*argv, "--store", str(store)] + (["--data-dir", str(data_dir)] if argv[0] == "plot" else []))
    out, err = capsys.readouterr()
    assert code == 0, err
    if command == "runs":
        assert all(r.run_id in out for r in RunStore(store).runs())
    if command == "compare":
        assert "a " in out and "b " in out and "(n=2)" in out


@pytest.mark.parametrize("command", list(_experiment_commands("x", Path())) + ["rm"])
def test_naming_nothing_is_one_line_listing_what_exists(ran, tmp_path: Path, capsys, command: str) -> None:
    _, store, _ = ran
    argv = _experiment_commands("cil", tmp_path).get(command, ["rm", "--experiment", "cil"])
    assert main([*argv, "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no experiment file" in err and "'cil'" in err, err
    assert 'did you mean "cli"' in err and "experiments: cli (3 runs)" in err, err
    missing = tmp_path / "missing.toml"
    assert main([*_experiment_commands(str(missing), tmp_path).get(command, ["rm", "-e", str(missing)]),
                 "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.toml" in err, err


def test_a_file_never_run_says_how_to_run_it(ran, tmp_path: Path, capsys) -> None:
    _, store, _ = ran
    other = tmp_path / "other.toml"
    other.write_text(EXP.replace('name = "cli"', 'name = "other"'))
    assert main(["report", str(other), "--store", str(store), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert f"no runs recorded for experiment 'other' (from {other}): run `mnistlab run {other} --store {store}` first" in err
    assert "experiments: cli (3 runs)" in err and err.count("\n") == 1


def test_rm_never_reads_a_run_id_as_its_whole_experiment(ran, capsys) -> None:
    _, store, run_id = ran
    assert main(["rm", "--experiment", run_id, "--store", str(store)]) == 2
    assert "no experiment file or experiment named" in capsys.readouterr().err
    assert len(RunStore(store).runs()) == 3


def test_rm_of_a_file_that_has_since_gained_a_mistake_deletes_what_its_name_recorded(tmp_path: Path, capsys) -> None:
    import numpy as np

    store = RunStore(tmp_path / "store")
    for variant in ("a", "b"):
        rid = store.start_run(experiment="cli", variant=variant, seed=0, member=0, config={"dataset": "mnist"},
                              config_hash="h-" + variant)
        store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.5}, env={},
                         predictions=np.full((4, 10), 0.1, np.float32))
    broken, other, garbled = tmp_path / "cli.toml", tmp_path / "other.toml", tmp_path / "garbled.toml"
    broken.write_text(EXP.replace('"train.lr" = 0.01', '"train.lrr" = 0.01'))  # a typo made after the runs
    other.write_text(EXP.replace('"train.lr" = 0.01', '"train.lrr" = 0.01').replace('name = "cli"', 'name = "other"'))
    garbled.write_text(EXP.replace("[base]", "[base"))
    run_config = tmp_path / "train.toml"  # a `mnistlab train --config` file: its stem names no experiment of its
    run_config.write_text('dataset = "mnist"\nmodel = "seed000-dense"\n[train]\nepochs = 1\n')
    rid = store.start_run(experiment="train", variant="v", seed=0, member=0, config={"dataset": "mnist"},
                          config_hash="h-t")
    store.finish_run(rid, status="finished", history=[], metrics={}, env={}, predictions=np.zeros((4, 10), np.float32))
    for nothing_to_delete in (other, garbled, run_config):  # no runs of its name, or no name to read: refused
        assert main(["rm", "-e", str(nothing_to_delete), "--store", str(store.root)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {nothing_to_delete}:") and err.count("\n") == 1
    assert len(store.runs()) == 3
    # helper-109: a file with a mistake deleted every run of its name, the guard below (another
    # file's runs of the same name) passed over: it cannot say which are its own, so it says so
    assert main(["rm", "-e", str(broken), "--store", str(store.root)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(store.runs()) == 3 and err.count("\n") == 1
    assert err.startswith(f"error: {broken}:16:") and "lrr" in err and err.endswith(
        "with this mistake the file cannot say which runs are its own, so none is deleted: mend it, or "
        "`mnistlab rm -e cli` (the name) deletes every run recorded under it\n")
    assert main(["rm", "-e", "cli", "--store", str(store.root)]) == 0
    assert [r.experiment for r in store.runs()] == ["train"]


def test_rm_e_of_a_file_never_deletes_another_file_s_runs_of_the_same_name(tmp_path: Path, data_dir: Path,
                                                                            capsys: pytest.CaptureFixture) -> None:
    """Students copy the teacher's file and keep its name: `rm -e alice/lab.toml` deleted Bob's runs
    too, without a word. A file now stands for its name only when every run under it is its own."""
    (tmp_path / "alice").mkdir()
    (tmp_path / "bob").mkdir()
    alice, bob = tmp_path / "alice" / "lab.toml", tmp_path / "bob" / "lab.toml"
    alice.write_text(EXP.replace('name = "cli"', 'name = "lab"').split("[[variants]]")[0] + '[[variants]]\nname = "alice-a"\n')
    bob.write_text(EXP.replace('name = "cli"', 'name = "lab"').split("[[variants]]")[0] + '[[variants]]\nname = "bob-b"\n')
    args = ["--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]
    for f in (alice, bob):
        assert main(["run", str(f), "--quick", *args]) == 0
        assert main(["run", str(f), *args]) == 0
    store = RunStore(tmp_path / "s")
    capsys.readouterr()
    assert main(["rm", "-e", str(alice), "--store", str(store.root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"also holds 1 run that is not {alice}'s" in err and "(bob-b (1 run))" in err
    assert "`mnistlab rm -e lab` (the name) deletes every run recorded under it" in err
    assert sorted(r.variant for r in store.runs()) == ["alice-a", "bob-b"]  # nothing deleted
    assert main(["rm", "-e", "lab", "--store", str(store.root)]) == 0  # the name: all of them, as asked
    assert store.runs() == []
    assert main(["run", str(alice), *args]) == 0
    assert main(["run", str(alice), "--quick", *args]) == 0  # its --quick cells are its own too
    alice.write_text(alice.read_text().replace("epochs = 1", "epochs = 2"))  # ... and its older settings
    assert main(["run", str(alice), *args]) == 0 and len(store.runs()) == 2
    assert main(["rm", "-e", str(alice), "--store", str(store.root)]) == 0 and store.runs() == []


@pytest.mark.parametrize("variant, fragment", [
    ('"data.validation" = 70000', 'data.validation = 70000: validation count must be between 1 and 119, got 70000 '
                                  '(data.subset = 120 of its 60,000 training images)'),
    ('"data.validation" = 120', "validation count must be between 1 and 119, got 120"),
    ('"data.validation" = 0.999', "validation fraction 0.999 of 120 training images holds out 120"),
    ('model = { layers = ["Flatten", { type = "Dense", units = 7, activation = "softmax" }] }',
     "the model has 7 outputs but mnist has 10 classes: fit the model to 10 classes: in a model table write "
     "outputs = 10"),
    # new-user finding (helper-99): a 32x32 model trained on 28x28 images failed in its test pass, a traceback
    ('model = { input_shape = [32, 32, 1], layers = [{ type = "Conv2D", filters = 4, kernel_size = 3 }, "Flatten", '
     '{ type = "Dense", units = 10 }] }',
     "the model takes 32x32x1 images (input_shape = [32, 32, 1]) but mnist's images are 28x28 with 1 channel "
     "(grayscale): set input_shape = [28, 28, 1] (a registered dataset is not resized"),
    ('model = { input_shape = [28, 28, 3], layers = ["Flatten", { type = "Dense", units = 10 }] }',
     "the model takes 28x28x3 images (input_shape = [28, 28, 3]) but every dataset is read as grayscale, one channel: "
     "set input_shape = [28, 28, 1]"),
])
def test_a_validation_split_or_outputs_that_cannot_fit_the_dataset_are_found_before_anything_trains(
        variant: str, fragment: str, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    """On a registered dataset too: its size and classes are known without reading it. They used to
    end as failed runs, recorded, the message naming neither the key nor the variant."""
    p = tmp_path / "e.toml"
    p.write_text(EXP.split("[[variants]]")[0] + '[[variants]]\nname = "fine"\n[[variants]]\nname = "bad"\n'
                 + variant + "\n")
    line = p.read_text().splitlines().index(variant) + 1  # the line that sets it
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'error: {p}:{line}: variant "bad": ') and fragment in err and err.count("\n") == 1, err
    assert not (tmp_path / "s" / "runs.sqlite").exists() or RunStore(tmp_path / "s").runs() == []  # nothing trained


def test_one_run_finds_every_mistake_of_a_file_in_its_order_the_file_s_and_the_data_s(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    """New-user finding (helper-99): a file's mistakes came out in stages, those found reading the
    file first, those that need the data (a validation split, the classes, the image size) only
    once the first were mended, and the latter without a line. One run says all of them, each at
    the line that sets it, in the file's order; a mistake every variant keeps from [base] at
    [base]'s line, once; nothing trains."""
    p = tmp_path / "e.toml"
    p.write_text(EXP.split("[[variants]]")[0] + "\n".join([
        '[[variants]]', 'name = "shape"', 'model = { input_shape = [32, 32, 1], dense = [8] }',
        '[[variants]]', 'name = "typo"', '"train.optimizer" = "adamm"',
        '[[variants]]', 'name = "split"', '"data.validation" = 500',
        '[[variants]]', 'name = "fine"', '"train.lr" = 0.01', '']))
    lines = p.read_text().splitlines()
    at = {key: lines.index(key) + 1 for key in ('model = { input_shape = [32, 32, 1], dense = [8] }',
                                                '"train.optimizer" = "adamm"', '"data.validation" = 500')}
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert [e.split(": ")[1] for e in err] == [f"{p}:{n}" for n in sorted(at.values())], err
    assert 'variant "shape": the model takes 32x32x1 images' in err[0]
    assert 'variant "typo": train.optimizer: got "adamm" (did you mean "adam"?)' in err[1]
    assert 'variant "split": data.validation = 500: validation count must be between 1 and 119' in err[2]
    assert not (tmp_path / "s" / "runs.sqlite").exists() or RunStore(tmp_path / "s").runs() == []  # nothing trained

    # [base]'s split too large for every variant: one line, at [base]'s key, naming them all
    p.write_text(EXP.replace("validation = 0.2", "validation = 500").replace('committee = 2', ''))
    line = p.read_text().splitlines().index("validation = 500") + 1
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f'error: {p}:{line}: variants "a", "b": data.validation = 500'), err


BIG = EXP.replace("subset = 120", "subset = 600")  # --quick shrinks it (to 300), so its cells differ


def test_compare_after_only_quick_runs_says_what_exists(tmp_path: Path, data_dir: Path, capsys) -> None:
    exp = tmp_path / "cli.toml"
    exp.write_text(BIG)
    assert main(["run", str(exp), "--quick", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "--quick: a smoke test (1 epoch, at most 300 training images), so its accuracies say nothing" in out, out
    assert "train alike" not in out  # a and b differ in lr: their smoke runs do too
    assert main(["run", str(exp), "--quick", "--data-dir", str(data_dir), "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    assert "--quick: a smoke test" in err and "smoke test" not in out  # the notice stays out of the CSV (its smoke column: true)
    for argv in (["compare", str(exp)], ["plot", "compare", str(exp), "-o", str(tmp_path / "c.png")],
                 ["plot", "history", str(exp), "-o", str(tmp_path / "h.png")],
                 ["report", str(exp), "-o", str(tmp_path / "r.html")],
                 ["plot", "confusion", str(exp), "--variant", "a", "-o", str(tmp_path / "m.png")]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert f"no full-size runs of {exp} (experiment 'cli') are recorded yet" in err, err
        # compare's command, whichever command was run (helper-144: predict, card and export take no --quick)
        assert f"it has 3 --quick runs: see them with `mnistlab compare {exp} --quick`" in err, err
        assert f"record them with `mnistlab run {exp}`" in err, err
    twin = tmp_path / "twin" / "cli.toml"  # another file named as this one, of other settings
    twin.parent.mkdir()
    twin.write_text(BIG.replace("batch_size = 60", "batch_size = 30"))
    assert main(["compare", str(twin), "--quick"]) == 2
    assert ("3 runs of other settings (an older version of the file or of its data, or another file of the same "
            "name): see them with `mnistlab compare cli`") in capsys.readouterr().err
    assert main(["compare", str(exp), "--quick", "--format", "json"]) == 0
    assert [r["n"] for r in json.loads(capsys.readouterr().out)] == [1, 2]
    assert main(["compare", "cli", "--quick"]) == 2  # --quick needs the file: it names the quick cells
    assert "give the .toml file" in capsys.readouterr().err
    # the listing marks smoke runs, there and in `show`; a full-size run is not marked
    assert main(["run", str(exp), "--data-dir", str(data_dir)]) == 0
    capsys.readouterr()
    assert main(["runs", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(r["quick"] for r in listed) == [False] * 3 + [True] * 3
    assert main(["runs"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[-2:] == ["quick", "dataset"] and sum(
        line.split()[-2:] == ["yes", "mnist"] for line in table[1:]) == 3  # helper-129: which data a run had
    assert sum(line.split()[-2:] == ["no", "mnist"] for line in table[1:]) == 3  # helper-173: a blank cell shifted
    assert len({len(line.split()) for line in table[1:]}) == 1  # awk's fields (a blank cell shifted them)
    assert {r["dataset"] for r in listed} == {"mnist"}
    smoke = next(r["run_id"] for r in listed if r["quick"])
    full = next(r["run_id"] for r in listed if not r["quick"])
    assert main(["show", smoke]) == 0 and "size of a --quick smoke run" in capsys.readouterr().out
    assert main(["show", full]) == 0 and "smoke" not in capsys.readouterr().out
    assert main(["card", smoke, "--data-dir", str(data_dir)]) == 0  # and so does the model card
    assert "**A smoke run:** the size of a `--quick` check" in capsys.readouterr().out
    assert main(["card", full, "--data-dir", str(data_dir)]) == 0 and "smoke" not in capsys.readouterr().out


def test_run_stacks_committee_members_when_asked(tmp_path: Path, data_dir: Path, capsys) -> None:
    exp = tmp_path / "stacked.toml"
    exp.write_text(EXP.replace("validation = 0.2", "validation = 0.2\nsplit_seed = 5"))
    assert main(["run", str(exp), "--data-dir", str(data_dir), "--batch-members"]) == 0
    runs = RunStore().runs(experiment="cli")
    assert sorted((r.variant, r.env.get("batched_members")) for r in runs) == [("a", None), ("b", 2), ("b", 2)]
    assert main(["run", str(exp), "--data-dir", str(data_dir), "--one-by-one", "--force"]) == 0
    latest = RunStore().runs(experiment="cli")[3:]
    assert [r.env.get("batched_members") for r in latest] == [None, None, None]
    capsys.readouterr()
    # asked for by name but refused (callbacks act on each member alone): one warning line says why
    stop = '\n[[base.callbacks]]\ntype = "EarlyStopping"\nmonitor = "val_loss"\n'
    exp.write_text(exp.read_text().replace("[[variants]]", stop + "[[variants]]", 1))
    assert main(["run", str(exp), "--data-dir", str(data_dir), "--batch-members"]) == 0
    err = capsys.readouterr().err
    assert 'warning: variant "b" (repeat 0): its 2 committee members train one by one: callbacks' in err


def test_quick_says_which_variants_it_makes_alike(tmp_path: Path, data_dir: Path, capsys) -> None:
    """An epochs grid under --quick (1 epoch each) trains one setting under several names: said
    once, naming them, and the variants that still differ are left out of it."""
    exp = tmp_path / "ep.toml"
    exp.write_text(EXP.split("[[variants]]")[0] + '[grid]\n"train.epochs" = [2, 3, 4]\n"train.lr" = [0.01, 0.1]\n')
    assert main(["run", str(exp), "--quick", "--data-dir", str(data_dir)]) == 0
    said = [line for line in capsys.readouterr().out.splitlines() if "train alike" in line]
    assert len(said) == 2, said
    assert said[0].startswith('--quick: variants "epochs=2,lr=0.01", "epochs=3,lr=0.01", "epochs=4,lr=0.01" differ '
                              "only in what --quick shrinks"), said
    assert "lr=0.1\"," in said[1] and "lr=0.01" not in said[1]
    assert read_plan(tmp_path / "mnistlab-runs", "cli")["quick"] is True  # `watch` says it is a smoke check
    assert main(["run", str(exp), "--data-dir", str(data_dir), "--format", "csv"]) == 0
    assert "train alike" not in "".join(capsys.readouterr())  # full size: every cell its own
    assert read_plan(tmp_path / "mnistlab-runs", "cli")["quick"] is False
    sizes = tmp_path / "sizes.toml"  # alike at full size too (a committee's size): not --quick's doing
    sizes.write_text(EXP.split("[[variants]]")[0] + '[[variants]]\nname = "c2"\ncommittee = 2\n'
                     '[[variants]]\nname = "c3"\ncommittee = 3\n')
    assert main(["run", str(sizes), "--quick", "--data-dir", str(data_dir)]) == 0
    assert "train alike" not in capsys.readouterr().out


def test_plots_and_reports_read_an_experiment_as_compare_does(exp_file: Path, data_dir: Path, tmp_path: Path,
                                                               capsys) -> None:
    """--quick smoke runs and older settings are not shown as the experiment's result by any command."""
    from mnistlab.errors import StoreError
    from mnistlab.experiments import load_experiment
    from mnistlab.views import resolve_runs

    exp_file.write_text(EXP.replace("subset = 120", "subset = 600"))  # --quick shrinks it: other cells
    assert main(["run", str(exp_file), "--data-dir", str(data_dir), "--quick"]) == 0
    with pytest.raises(StoreError, match=r"no full-size runs of .* --quick"):
        resolve_runs(RunStore(), str(exp_file))
    assert main(["plot", "history", str(exp_file), "-o", str(tmp_path / "h.png"), "--data-dir", str(data_dir)]) != 0
    assert "--quick" in capsys.readouterr().err
    assert main(["run", str(exp_file), "--data-dir", str(data_dir)]) == 0
    assert main(["run", str(exp_file), "--data-dir", str(data_dir), "--force"]) == 0  # every cell twice now
    full = {c.key for c in load_experiment(exp_file).cells()}
    for target in (str(exp_file), "cli"):
        runs = resolve_runs(RunStore(), target)
        assert len(runs) == 3 and {r.config_hash for r in runs} == full  # one per cell, the latest
    assert main(["report", str(exp_file), "-o", str(tmp_path / "r.html"), "--data-dir", str(data_dir)]) == 0
    capsys.readouterr()


def test_compare_of_a_file_says_which_cells_have_no_run(exp_file: Path, data_dir: Path, capsys) -> None:
    """A committee member deleted: its variant's row is short a run and its committee unscored; the
    note says so and how to fill it (in the table and the CSV), and the full variant has no note."""
    assert main(["run", str(exp_file), "--data-dir", str(data_dir)]) == 0
    member = next(r.run_id for r in RunStore().runs() if r.variant == "b")
    assert main(["rm", member]) == 0
    capsys.readouterr()
    assert main(["compare", str(exp_file), "--format", "json"]) == 0
    rows = {r["variant"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["b"]["n"] == 1 and rows["b"]["committee_acc"] is None
    assert rows["b"]["note"] == f"1 of its 2 runs not recorded: `mnistlab run {exp_file}` trains it"
    assert not rows["a"].get("note")
    assert main(["run", str(exp_file), "--data-dir", str(data_dir)]) == 0  # as the note says: filled, and scored
    capsys.readouterr()
    assert main(["compare", str(exp_file), "--format", "json"]) == 0
    rows = {r["variant"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["b"]["n"] == 2 and rows["b"]["committee_acc"] is not None and not rows["b"].get("note")


def _rm_on_a_terminal(args: list[str], answer: bytes) -> tuple[int, str]:
    """`mnistlab rm ARGS` with a terminal on stdin (and stderr), answering ``answer``: (exit status, what it wrote)."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mnistlab", "rm", *args], stdin=follower, stdout=follower,
                            stderr=follower)
    os.close(follower)
    said = read_terminal(leader, b"[y/N]", answer)
    return proc.wait(timeout=60), said.decode("utf-8", "replace")


def test_rm_asks_first_on_a_terminal_and_not_in_a_script(tmp_path: Path, data_dir: Path) -> None:
    """The lab notebook never loses a result by a slip: `rm -e lab1` deleted 45 runs without a word."""
    p = tmp_path / "cli.toml"
    p.write_text(EXP)
    store = tmp_path / "s"
    assert main(["run", str(p), "--store", str(store), "--data-dir", str(data_dir)]) == 0  # no terminal here: no question
    code, said = _rm_on_a_terminal(["-e", "cli", "--store", str(store)], b"n\n")
    assert code == 1 and "delete all 3 runs of cli (2 variants) with their files? [y/N]" in said
    assert said.rstrip().endswith("\nrm: nothing deleted") and len(RunStore(store).runs()) == 3  # not an error: a no
    code, said = _rm_on_a_terminal(["-e", "cli", "--store", str(store)], b"\x04")  # Ctrl-D: its own line too
    assert code == 1 and said.rstrip().endswith("\nrm: nothing deleted") and "[y/N]: rm:" not in said, said
    one = RunStore(store).runs()[0].run_id
    code, said = _rm_on_a_terminal([one, "--store", str(store)], b"y\n")
    assert code == 0 and f"delete 1 run ({one} cli/" in said and "deleted 1 run" in said
    assert len(RunStore(store).runs()) == 2
    code, said = _rm_on_a_terminal(["-e", "cli", "--yes", "--store", str(store)], b"")  # --yes: no question
    assert code == 0 and "[y/N]" not in said and RunStore(store).runs() == [], said


def test_run_of_a_finished_experiment_on_a_read_only_store_prints_its_table(
        exp_file: Path, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """helper-156: `mnistlab run` of an experiment its store held finished failed on a read-only disk
    ("cannot open"), where `compare` showed it; with a cell left to train it says so, training nothing."""
    root = tmp_path / "store"
    assert main(["run", str(exp_file), "--data-dir", str(data_dir), "--store", str(root)]) == 0
    table = capsys.readouterr().out.splitlines()[-4:]
    grown = tmp_path / "grown.toml"
    grown.write_text(EXP + '[[variants]]\nname = "c"\n"train.lr" = 0.1\n')
    before = sorted(p.name for p in (root / "runs").iterdir())
    with read_only_store(root, monkeypatch):
        assert main(["run", str(exp_file), "--data-dir", str(data_dir), "--store", str(root)]) == 0
        assert capsys.readouterr().out.splitlines()[-4:] == table
        assert main(["run", str(grown), "--data-dir", str(data_dir), "--store", str(root)]) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith(f"error: {root}: the store cannot be written") and "1 of 4 runs is still to train" in err
        assert main(["run", str(exp_file), "--force", "--data-dir", str(data_dir), "--store", str(root)]) == 2
        assert "every run is trained again (--force)" in capsys.readouterr().err
        assert main(["run", str(grown), "--dry-run", "--data-dir", str(data_dir), "--store", str(root)]) == 2
        assert "the store cannot be written" in capsys.readouterr().err  # as run would say (helper-165: exit 0)
        assert main(["run", str(exp_file), "--dry-run", "--data-dir", str(data_dir), "--store", str(root)]) == 0
    assert sorted(p.name for p in (root / "runs").iterdir()) == before


def test_a_dry_run_checks_what_a_run_checks_and_says_what_would_train(exp_file: Path, tmp_path: Path, data_dir: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """helper-161: no command checked a file without training (`run --quick` stood in, and trained);
    helper-163, -164, -165: it downloaded data, its hint dropped --store, it said "to train" of a
    cell `run` records from another variant's run, checked finished cells, no store path, and
    printed prose for --format json."""
    store = tmp_path / "s"
    args = ["run", str(exp_file), "--data-dir", str(data_dir), "--store", str(store)]
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"experiment cli: 3 runs, no store yet at {store} (--dry-run: checked, nothing trained)"
    assert [line.split() for line in out[2:4]] == [["a", "0", "1", "0", "0"], ["b", "0", "2", "0", "0"]]
    # each variant's recipe (helper-245: an SGD variant's inherited lr 1e-3 went unseen: counts alone)
    assert out[4].split(maxsplit=1) == ["a", "6,370 params; 1 epoch, batch 60; adam lr 0.001"], out[4]
    assert out[5].split(maxsplit=1) == ["b", "6,370 params; 1 epoch, batch 60; adam lr 0.01"], out[5]
    assert out[6] == f"3 runs to train: `mnistlab run {exp_file} --store {store} --data-dir {data_dir}` trains them"
    assert not store.exists()
    assert main(args) == 0
    capsys.readouterr()
    grown = tmp_path / "grown.toml"  # c: a new config; d: c's; z: a's config (a run of it is recorded: copied)
    grown.write_text(EXP + '[[variants]]\nname = "c"\n"train.lr" = 0.1\n[[variants]]\nname = "d"\n"train.lr" = 0.1\n'
                     '[[variants]]\nname = "z"\n')
    assert main(["run", str(grown), "--dry-run", "--format", "json", "--data-dir", str(data_dir),
                 "--store", str(store)]) == 0
    rows = json.loads(capsys.readouterr().out)
    plan = {r["variant"]: (r["finished"], r["to_train"], r["recorded_from_another"]) for r in rows}
    assert plan == {"a": (1, 0, 0), "b": (2, 0, 0), "c": (0, 1, 0), "d": (0, 0, 1), "z": (0, 0, 1)}
    assert {r["variant"]: r["recipe"].rsplit("; ", 1)[1] for r in rows} == {
        "a": "adam lr 0.001", "b": "adam lr 0.01", "c": "adam lr 0.1", "d": "adam lr 0.1", "z": "adam lr 0.001"}
    assert main(["run", str(grown), "--data-dir", str(data_dir), "--store", str(store)]) == 0  # as planned:
    assert "the same run as" in capsys.readouterr().out and len(RunStore(store).runs()) == 3 + 1 + 2  # c trained
    assert main([*args, "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"nothing to train: `mnistlab run {exp_file} --store {store} --data-dir {data_dir}` prints the table "
        f"(`mnistlab run {exp_file} --store {store} --data-dir {data_dir} --force` trains every run again)")
    assert main([*args, "--dry-run", "--force"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("--force` trains them")
    finished_gpu = tmp_path / "gpu.toml"  # a finished variant's device is not checked: run prints its table
    finished_gpu.write_text(EXP.replace('name = "a"', 'name = "a"\n"train.device" = "cuda:99"'))
    assert main(["run", str(finished_gpu), "--dry-run", "--data-dir", str(data_dir), "--store", str(store)]) == 0
    capsys.readouterr()
    kmnist = tmp_path / "k.toml"  # files not here: said, not downloaded
    kmnist.write_text(EXP.replace('dataset = "mnist"', 'dataset = "kmnist"'))
    (tmp_path / "empty").mkdir()
    assert main(["run", str(kmnist), "--dry-run", "--data-dir", str(tmp_path / "empty"), "--store", str(store)]) == 0
    out, err = capsys.readouterr()
    assert "note: kmnist's files are not here: a run downloads them first" in err and "3 runs to train" in out
    before = sorted(p.name for p in (store / "runs").iterdir())
    for bad, said in (('"data.validation" = 1.5', f"{grown}:"), ("", "inside the records of the one at")):
        grown.write_text(EXP + f'[[variants]]\nname = "e"\n"train.lr" = 0.2\n{bad}\n')
        where = store / "runs" if not bad else store
        assert main(["run", str(grown), "--dry-run", "--data-dir", str(data_dir), "--store", str(where)]) == 2
        assert said in capsys.readouterr().err
    assert sorted(p.name for p in (store / "runs").iterdir()) == before


def test_a_dry_run_of_the_users_own_data_written_as_a_table(tmp_path: Path, data_dir: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """helper-166: `dataset = { npz = "..." }` made `run --dry-run` a traceback (unhashable dict)."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "own.npz", x_train=rng.integers(0, 256, (120, 28, 28), np.uint8), y_train=np.arange(120) % 10,
             x_test=rng.integers(0, 256, (30, 28, 28), np.uint8), y_test=np.arange(30) % 10)
    own = tmp_path / "own.toml"
    own.write_text(EXP.replace('dataset = "mnist"', 'dataset = { npz = "own.npz" }'))
    assert main(["run", str(own), "--dry-run", "--format", "json", "--store", str(tmp_path / "s")]) == 0
    plan = {r["variant"]: r["to_train"] for r in json.loads(capsys.readouterr().out)}
    assert plan == {"a": 1, "b": 2} and not (tmp_path / "s").exists()


def test_compare_s_hints_carry_the_store_they_were_given(exp_file: Path, tmp_path: Path, data_dir: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """helper-167: `compare FILE --store X`'s hints (`mnistlab watch FILE`, `mnistlab run FILE`)
    dropped --store: followed, they waited on the default store forever, or found nothing."""
    store = tmp_path / "my store"
    assert main(["run", str(exp_file), "--data-dir", str(data_dir), "--store", str(store)]) == 0
    capsys.readouterr()
    flag = f"--store '{store}'"
    other = tmp_path / "other.toml"
    other.write_text(EXP.replace('name = "cli"', 'name = "other"'))
    assert main(["compare", str(other), "--store", str(store)]) == 2
    assert f"run `mnistlab run {other} {flag}` first" in capsys.readouterr().err
    assert main(["compare", str(other), "--quick", "--store", str(store)]) == 2
    assert f"run `mnistlab run {other} --quick {flag}` first" in capsys.readouterr().err  # helper-169: --quick lost
    exp_file.write_text(exp_file.read_text() + '[[variants]]\nname = "c"\n"train.lr" = 0.5\n')
    assert main(["compare", str(exp_file), "--store", str(store)]) == 0
    assert f"`mnistlab run {exp_file} {flag}` trains it" in "".join(capsys.readouterr())


def test_a_file_edited_while_its_sweep_runs_is_said_under_the_table(tmp_path: Path, data_dir: Path, capsys,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """helper-161: a variant changed while its sweep ran; the table showed the old one unsaid. (The
    edit is made as the first cell's line is printed, while the other cells are still to train.)"""
    from mnistlab.cli import experiment_cmds

    exp = tmp_path / "edited.toml"
    exp.write_text(EXP)
    said = experiment_cmds._Progress.__call__

    def edit_after_the_first_cell(self, outcome, rows):  # noqa: ANN001
        exp.write_text(EXP.replace('"train.lr" = 0.01', '"train.lr" = 0.02'))
        said(self, outcome, rows)

    monkeypatch.setattr(experiment_cmds._Progress, "__call__", edit_after_the_first_cell)
    assert main(["run", str(exp), "--data-dir", str(data_dir), "--store", str(tmp_path / "s")]) == 0
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"note: {exp} changed while the sweep ran: the table is of the file as it was read at its start; "
        f"`mnistlab run {exp} --store {tmp_path / 's'}` again trains what it asks for now")
    assert main(["run", str(exp), "--data-dir", str(data_dir), "--store", str(tmp_path / "s")]) == 0
    assert "changed while the sweep ran" not in capsys.readouterr().err  # unchanged during this one
    monkeypatch.setattr(experiment_cmds._Progress, "__call__", lambda self, outcome, rows: exp.unlink(missing_ok=True))
    assert main(["run", str(exp), "--data-dir", str(data_dir), "--store", str(tmp_path / "s"), "--force"]) == 0
    assert capsys.readouterr().err.strip().splitlines()[-1] == (  # helper-167: said "changed", and to run it again
        f"note: {exp} was deleted while the sweep ran: the table is of the file as it was read at its start")


@pytest.mark.parametrize(("setting", "said"), [
    ('"train.device" = "cuda:99"', 'device "cuda:99" was asked for, but '),
    ('"data.subset" = 100000', "data.subset = 100,000 is more than mnist's 60,000 training images (a typo?): leave "
                               "data.subset out to train on all of them")], ids=["device", "subset"])
def test_a_setting_the_machine_or_data_cannot_meet_is_found_before_anything_trains(
        setting: str, said: str, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """helper-161: a variant's `train.device = "cuda"` on a machine without CUDA failed its cell after
    the others had trained (cuda:99: no machine here has 100 GPUs, with or without CUDA);
    `data.subset = 100000` (for 10000) warned mid-sweep, after the other cells trained, then trained
    on all 60,000 images and scored the whole test set, so no row of the table was marked best."""
    bad = tmp_path / "bad.toml"
    bad.write_text(EXP + f'[[variants]]\nname = "bad"\n{setting}\n')
    line = EXP.count("\n") + 3
    for quick in ([], ["--quick"]):
        assert main(["run", str(bad), *quick, "--data-dir", str(data_dir), "--store", str(tmp_path / "s")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f'error: {bad}:{line}: variant "bad": {said}'), err
        assert not (tmp_path / "s").exists()


def test_train_refuses_a_device_the_machine_has_not_and_a_subset_of_every_image_is_no_mistake(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same checks from `train`'s flags; `data.subset` of exactly the training set's size is not a typo."""
    assert main(["train", "--dataset", "mnist", "--model", "{ dense = [8] }", "--device", "cuda:99", "--subset", "60",
                 "--data-dir", str(data_dir), "--store", str(tmp_path / "t")]) == 2
    assert 'device "cuda:99" was asked for' in capsys.readouterr().err and not (tmp_path / "t").exists()
    every = tmp_path / "all.toml"
    every.write_text(EXP + '[[variants]]\nname = "all"\n"data.subset" = 60000\n')
    assert main(["run", str(every), "--dry-run", "--data-dir", str(data_dir), "--store", str(tmp_path / "s")]) == 0


def test_watch_of_a_missing_or_broken_file_says_so_at_once_without_a_store(tmp_path: Path, monkeypatch,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """helper-174: with no store yet, `watch broken.toml` waited forever ("waiting for broken.toml to
    start...") and `watch typo.toml` said "no run store" instead of the file's own mistake."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.toml").write_text("[base\n")
    assert main(["watch", "broken.toml"]) == 2
    assert "broken.toml: invalid TOML" in capsys.readouterr().err
    assert main(["watch", "typo.toml"]) == 2
    assert capsys.readouterr().err == "error: typo.toml: no such file\n"


def test_two_files_of_one_name_and_one_variant_name_are_told_apart(tmp_path: Path, data_dir: Path,
                                                                   capsys: pytest.CaptureFixture,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """helper-193: two students kept the template's name and its variant "dense", with other settings:
    `rm -e bob.toml` deleted Alice's run too (by variant name, "any settings"), and Bob's `run` said his
    variant's "settings changed since run <Alice's>". Each run records its file: told apart."""
    lab = EXP.replace('name = "cli"', 'name = "lab"').split("[[variants]]")[0]
    alice, bob = tmp_path / "alice.toml", tmp_path / "bob.toml"
    alice.write_text(lab + '[[variants]]\nname = "dense"\n')
    bob.write_text(lab + '[[variants]]\nname = "dense"\n"train.lr" = 0.05\n')
    args = ["--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]
    assert main(["run", str(alice), *args]) == 0
    capsys.readouterr()
    assert main(["runs", *args[:2]]) == 0  # the runs of one file: no column for it
    assert capsys.readouterr().out.splitlines()[0].split()[-1] == "dataset"
    assert main(["run", str(bob), "--dry-run", *args]) == 0
    err = capsys.readouterr().err
    assert f'warning: experiment "lab": 1 run here was recorded from another file, {alice}' in err, err
    assert "settings changed" not in err
    import socket

    with monkeypatch.context() as elsewhere:  # helper-227: a run made on another machine names that machine's file,
        elsewhere.setattr(socket, "gethostname", lambda: "laptop")  # not another one here (its runs copied in)
        assert main(["run", str(bob), "--dry-run", *args]) == 0
        assert "recorded from another file" not in capsys.readouterr().err
    assert main(["run", str(bob), *args]) == 0
    store = RunStore(tmp_path / "s")
    assert {r.env["experiment_file"] for r in store.runs()} == {str(alice), str(bob)}
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)  # `runs` shows each run's file where they came from several (helper-193)
    assert main(["runs", "--store", "s"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-1] == "file" and [line.split()[-1] for line in lines[1:]] == ["alice.toml", "bob.toml"]
    assert main(["runs", "--store", "s", "--format", "json"]) == 0
    assert [r["file"] for r in json.loads(capsys.readouterr().out)] == [str(alice), str(bob)]
    assert main(["rm", "-e", str(bob), "--yes", *args[:2]]) == 2  # Alice's run is not Bob's to delete
    assert f"also holds 1 run that is not {bob}'s (dense (1 run))" in capsys.readouterr().err
    assert len(store.runs()) == 2


def test_several_experiments_are_listed_and_deleted_together(tmp_path: Path, data_dir: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    """helper-196: `rm -e a -e b --yes` deleted b's runs alone (said "deleted 36 runs", naming nothing);
    `runs -e a -e b` listed b's. Every name is read first: an unknown one deletes nothing."""
    lab = EXP.split("[[variants]]")[0] + '[[variants]]\nname = "dense"\n'
    for who in ("a", "b", "c"):
        (tmp_path / f"{who}.toml").write_text(lab.replace('name = "cli"', f'name = "lab-{who}"'))
        assert main(["run", str(tmp_path / f"{who}.toml"), "--store", str(tmp_path / "s"), "--data-dir",
                     str(data_dir)]) == 0
    store = RunStore(tmp_path / "s")
    capsys.readouterr()
    assert main(["experiments", "--store", str(store.root), "--format", "json"]) == 0  # MLflow's list of experiments
    listed = json.loads(capsys.readouterr().out)
    assert [e["experiment"] for e in listed] == ["lab-c", "lab-b", "lab-a"]  # the last active first
    run = store.runs(experiment="lab-a")[0]
    assert listed[2] == {"experiment": "lab-a", "runs": 1, "finished": 1, "no_result": 0, "diverged": 0, "variants": 1,
                         "best_run_acc": run.metrics["test_accuracy"], "last_started": listed[2]["last_started"],
                         "file": str(tmp_path / "a.toml"), "test_set": "mnist (20 test images)"}
    assert main(["experiments", "--store", str(store.root)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].split()[:3] == ["experiment", "runs", "finished"]
    assert err.startswith("note: best run is one run's test accuracy, the highest of its experiment's: an optimistic")
    assert main(["experiments", "--store", str(store.root), "--format", "json", "--sort", "experiment", "-n", "2"]) == 0
    assert [e["experiment"] for e in json.loads(capsys.readouterr().out)] == ["lab-a", "lab-b"]
    assert main(["experiments", "--store", str(store.root), "--sort", "best"]) == 2
    assert capsys.readouterr().err.startswith("error: --sort: unknown key 'best'")
    assert main(["runs", "--store", str(store.root), "-e", "lab-a", "-e", str(tmp_path / "c.toml"), "--format", "json"]) == 0
    assert [r["experiment"] for r in json.loads(capsys.readouterr().out)] == ["lab-a", "lab-c"]
    assert main(["rm", "-e", "lab-a", "-e", "lab-typo", "--store", str(store.root), "--yes"]) == 2
    assert len(store.runs()) == 3  # nothing deleted: the second name is unknown
    capsys.readouterr()
    assert main(["rm", "-e", "lab-a", "-e", "lab-b", "--store", str(store.root), "--yes"]) == 0
    assert capsys.readouterr().out == "deleted 1 run of lab-a\ndeleted 1 run of lab-b\n"  # (asked once: helper-198)
    assert [r.experiment for r in store.runs()] == ["lab-c"]


def test_an_experiments_best_run_is_of_one_test_set(tmp_path: Path, data_dir: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    """Note 53: an experiment run on MNIST and then on Fashion-MNIST listed its best MNIST run's score as
    its best, over the Fashion-MNIST ones it does not compare with. The best is of its latest run's test
    set, which the row names, with how many others its runs were scored on."""
    lab = (EXP.split("[[variants]]")[0] + '[[variants]]\nname = "dense"\n').replace("subset = 120", "subset = 600")
    lab = lab.replace("epochs = 1", "epochs = 2")  # (larger than a --quick run, which follows)
    (tmp_path / "lab.toml").write_text(lab)
    args = ["--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]
    assert main(["run", str(tmp_path / "lab.toml"), *args]) == 0
    (tmp_path / "lab.toml").write_text(lab.replace('dataset = "mnist"', 'dataset = "fashion-mnist"'))
    assert main(["run", str(tmp_path / "lab.toml"), *args]) == 0
    runs = sorted(RunStore(tmp_path / "s").runs(), key=lambda r: r.created_at)
    assert [r.config["dataset"] for r in runs] == ["mnist", "fashion-mnist"]
    capsys.readouterr()
    assert main(["experiments", "--store", str(tmp_path / "s"), "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["best_run_acc"] == runs[1].metrics["test_accuracy"]
    assert row["test_set"] == "fashion-mnist (100 test images) +1 more test set"
    assert main(["experiments", "--store", str(tmp_path / "s")]) == 0
    assert "+1 more test set" in capsys.readouterr().out
    assert main(["run", str(tmp_path / "lab.toml"), "--quick", *args]) == 0  # review: a smoke run after it was
    capsys.readouterr()  # the best, its test set the experiment's
    assert main(["experiments", "--store", str(tmp_path / "s"), "--format", "json"]) == 0
    [again] = json.loads(capsys.readouterr().out)
    assert len(RunStore(tmp_path / "s").runs()) == 3  # (the smoke run was recorded)
    assert again["best_run_acc"] == row["best_run_acc"] and again["test_set"] == row["test_set"]  # (nor counted)


def test_a_stop_between_files_names_those_not_started(tmp_path: Path, data_dir: Path) -> None:
    """helper-198: Ctrl-C during the second of three files said "none left" of it, nothing of the third."""
    lab = EXP.split("[[variants]]")[0] + '[[variants]]\nname = "dense"\n'
    paths = []
    for who, epochs in (("a", 1), ("b", 200), ("c", 1)):  # (b: minutes of training, unless stopped)
        paths.append(tmp_path / f"{who}.toml")
        text = lab.replace('name = "cli"', f'name = "lab-{who}"').replace("epochs = 1", f"epochs = {epochs}")
        paths[-1].write_text(text.replace("subset = 120", "subset = 6000") if who == "b" else text)
    proc = subprocess.Popen([sys.executable, "-m", "mnistlab", "run", *map(str, paths), "--store", str(tmp_path / "s"),
                             "--data-dir", str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # b's first line: it trains now
        if line.startswith("experiment lab-b"):
            time.sleep(1)
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert err.rstrip().endswith(f"not started: {paths[2]}: the same command runs it"), err
    assert {r.experiment for r in RunStore(tmp_path / "s").runs()} == {"lab-a", "lab-b"}


def test_a_running_run_holds_its_experiment_file(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    """Note 50: a sweep's run recorded its file only once it ended, so while Alice's sweep ran, Bob's
    `run --dry-run` of his copy of the template (name and variant alike) did not say they shared a name."""
    lab = EXP.replace('name = "cli"', 'name = "lab"').split("[[variants]]")[0]
    alice, bob = tmp_path / "alice.toml", tmp_path / "bob.toml"
    alice.write_text(lab + '[[variants]]\nname = "dense"\n')
    bob.write_text(lab + '[[variants]]\nname = "dense"\n"train.lr" = 0.05\n')
    store = RunStore(tmp_path / "s")
    cell = load_experiment(alice).cells()[0]  # Alice's sweep claims its cell, as run_cells does, and trains
    recorder, run_id = Recorder.claim(store, experiment="lab", variant=cell.variant, config=cell.config,
                                      seed=cell.seed, source=cell.source)
    assert recorder is not None and store.get(run_id).status == "running"
    assert store.get(run_id).env == {"experiment_file": str(alice)}
    assert main(["run", str(bob), "--dry-run", "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]) == 0
    assert f'warning: experiment "lab": 1 run here was recorded from another file, {alice}' in capsys.readouterr().err


def test_a_files_model_warnings_are_said_by_the_dry_run_and_once_by_run(tmp_path: Path, data_dir: Path,
                                                                        capsys: pytest.CaptureFixture) -> None:
    """helper-193: Keras 3's "l1l2" (it penalises nothing) was said by `summary` and `train`, never by
    `run`; a sigmoid output and a ModelCheckpoint path two runs write were said by `run` but not by
    `run --dry-run`. And a variant moved from adam to sgd said "beta_1: 0.9 -> unset, beta_2: ..., ...",
    its optimizer and rate cut off."""
    path = tmp_path / "w.toml"
    path.write_text('name = "w"\n[base]\ndataset = "mnist"\ndata = { subset = 120, validation = 20 }\n'
                    'train = { epochs = 1 }\nmodel = { layers = [{ type = "Flatten" }, { type = "Dense", units = 8, '
                    'kernel_regularizer = "l1l2" }, { type = "Dense", units = 10, activation = "sigmoid" }] }\n'
                    'callbacks = [{ type = "ModelCheckpoint", filepath = "ck/b.safetensors" }]\n'
                    '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n"train.lr" = 0.01\n')
    args = ["--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]
    assert main(["run", str(path), "--dry-run", *args]) == 0
    err = capsys.readouterr().err
    assert "kernel_regularizer penalises nothing" in err and "output activation 'sigmoid'" in err, err
    assert f"{path}: each of its 2 variants: layers[1] (Dense): kernel_regularizer penalises" in err, err  # [base]'s:
    assert "the same for" not in err  # said of all, not of variant "a" and "1 more" (note 50)
    assert 'ModelCheckpoint filepath "' in err and "is written by 2 runs" in err
    assert main(["run", str(path), *args]) == 0
    err = capsys.readouterr().err
    assert err.count("penalises nothing") == 1 and err.count("output activation 'sigmoid'") == 1, err
    path.write_text(path.read_text().replace('"train.lr" = 0.01', '"train.lr" = 0.05\n"train.optimizer" = "sgd"'))
    assert main(["run", str(path), "--dry-run", *args]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if 'variant "b": its settings changed' in line]
    assert said and "(train.lr: 0.01 -> 0.05, train.optimizer: \"adam\" -> \"sgd\", train.beta_1: " in said[0], said
    path.write_text(path.read_text().replace('"train.optimizer" = "sgd"', '"train.optimizer" = "sgd"\n'
                                             '"train.schedule" = { type = "cosine" }'))
    assert main(["run", str(path), "--dry-run", *args]) == 0  # a schedule added beside: said before the defaults
    said = [line for line in capsys.readouterr().err.splitlines() if 'variant "b": its settings changed' in line]
    assert said and "train.optimizer: \"adam\" -> \"sgd\", train.schedule." in said[0], said


def test_a_mistake_of_a_file_without_variants_is_said_at_its_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """helper-193: EarlyStopping watching val_accuracy without validation data was said without its line,
    'es.toml: [base] as "base": callbacks[0].monitor: ...' (val_acc, in the same place, had its line)."""
    path = tmp_path / "es.toml"
    path.write_text('name = "es"\n[base]\ndataset = "mnist"\nmodel = "seed000-dense"\ndata = { subset = 300 }\n'
                    'callbacks = [{ type = "EarlyStopping", monitor = "val_accuracy" }]\n')
    assert main(["run", str(path), "--dry-run", "--store", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err.startswith(f'error: {path}:6: [base]: callbacks[0].monitor: "val_accuracy" needs '
                                              "validation data")


def test_run_of_several_files_checks_every_one_then_runs_each(tmp_path: Path, data_dir: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    """helper-193: `run a.toml b.toml` (a teacher's class) said click's bare "Got unexpected extra argument".
    Every file is checked first (a mistake in the last trains nothing), then each runs as `run FILE` does."""
    lab = EXP.split("[[variants]]")[0] + '[[variants]]\nname = "dense"\n'
    files = [tmp_path / f"{who}.toml" for who in ("alice", "bob", "carol")]
    for path in files:
        path.write_text(lab.replace('name = "cli"', f'name = "lab-{path.stem}"'))
    files[2].write_text(files[2].read_text().replace("epochs = 1", "epochs = -1"))
    args = [*map(str, files), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]
    assert main(["run", *args]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"error: {files[2]}:") and "epochs" in err and err.count("\n") == 1, err
    assert not (tmp_path / "s").exists()  # nothing trained, no store made
    assert main(["run", "--dry-run", *args]) == 2  # each good file's dry run, then the mistakes
    out, err = capsys.readouterr()
    assert "experiment lab-alice: 1 run" in out and "experiment lab-bob: 1 run" in out and f"{files[2]}:" in err
    assert main(["run", *args[:2], *args[3:], "--format", "csv"]) == 2
    assert "--format csv goes with one experiment file" in capsys.readouterr().err
    assert main(["run", "--dry-run", *args[:2], *args[3:]]) == 0  # helper-197: checked, then trained them all
    assert "lab-bob: 1 run" in capsys.readouterr().out and not (tmp_path / "s").exists()
    copy = tmp_path / "copy.toml"  # the same name (a template's, kept), or the same file twice (by two paths too)
    copy.write_text(files[0].read_text())
    again = tmp_path / "." / "alice.toml"
    assert main(["run", str(files[0]), str(copy), str(again), *args[3:]]) == 2
    assert capsys.readouterr().err == (f'error: {copy}: experiment "lab-alice", as {files[0]} is: their runs would be '
                                       "taken for each other's; give each file a name of its own (name = "
                                       '"lab-alice-copy")\n'  # (a name of the file's: helper-198, "-2" for each)
                                       f"error: {again}: given twice: give each file once\n")
    cell = load_experiment(files[0]).cells()[0]  # Alice's cell diverged before: bob's still runs, then exit 1
    store = RunStore(tmp_path / "s")
    rid = store.start_run(experiment="lab-alice", variant="dense", seed=cell.seed, member=0, config=cell.config,
                          config_hash=cell.key)
    store.finish_run(rid, status="diverged", history=[], metrics={}, env={}, message="loss became nan")
    assert main(["run", *args[:2], *args[3:]]) == 1
    out, err = capsys.readouterr()
    assert out.index("experiment lab-alice: 1 run") < out.index("experiment lab-bob: 1 run"), out  # in the order given
    assert {r.experiment: r.status for r in store.runs()} == {"lab-alice": "diverged", "lab-bob": "finished"}
    assert err.splitlines()[-1].startswith("error: 1 of 1 runs of lab-alice diverged"), err
    assert main(["run", "--dry-run", "a.toml", "b.toml"]) == 2
    assert capsys.readouterr().err == "error: a.toml: no such file\nerror: b.toml: no such file\n"


def test_a_moved_experiment_file_keeps_its_runs_as_its_own(tmp_path: Path, data_dir: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    """helper-194: the file's recorded path compared as a string made its own runs "another file's" once
    it was moved (a clone elsewhere, a renamed folder): run warned, and rm -e refused."""
    old = tmp_path / "old" / "exp.toml"
    old.parent.mkdir()
    old.write_text(EXP.replace('name = "cli"', 'name = "moved"').split("[[variants]]")[0] + '[[variants]]\nname = "d"\n')
    args = ["--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]
    assert main(["run", str(old), *args]) == 0
    new = tmp_path / "new.toml"
    old.rename(new)
    capsys.readouterr()
    assert main(["run", str(new), "--dry-run", *args]) == 0
    assert "another file" not in capsys.readouterr().err
    assert main(["rm", "-e", str(new), "--yes", *args[:2]]) == 0
    assert RunStore(tmp_path / "s").runs() == []


def test_runs_are_sorted_limited_and_taken_since_a_time(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """helper-196: at 4,000 runs `runs` printed them all, oldest first, with no way to ask for the best
    ten or the last day's (--limit, --sort, --since: "No such option")."""
    store = RunStore(tmp_path / "s")
    accs = {"a": 0.7, "b": 0.9, "c": None, "d": 0.8}
    for variant, acc in accs.items():
        rid = store.start_run(experiment="e", variant=variant, seed=0, member=0, config={}, config_hash=variant)
        store.finish_run(rid, status="finished" if acc else "failed", history=[],
                         metrics={"test_accuracy": acc} if acc else {}, env={}, message="" if acc else "boom")
        time.sleep(0.01)

    def listed(*flags: str) -> list[str]:
        assert main(["runs", "--store", str(store.root), "--format", "json", *flags]) == 0
        return [r["variant"] for r in json.loads(capsys.readouterr().out)]

    assert listed() == ["a", "b", "c", "d"]  # oldest first, as before
    assert listed("--sort", "-test_accuracy") == ["b", "d", "a", "c"]  # the best first; no result last
    assert listed("--sort", "test_accuracy", "-n", "2") == ["a", "d"]
    assert listed("--sort", "-started", "--limit", "3") == ["d", "c", "b"]
    assert listed("--since", "1h") == ["a", "b", "c", "d"] and listed("--since", "2099-01-01") == []
    assert listed("--since", "2000-01-01T00:00") == ["a", "b", "c", "d"]
    for flags, said in ((["--sort", "acc"], "error: --sort: no run listed has 'acc'; sort by started, test_accuracy"),
                        (["--since", "yesterday"], "error: --since: expected a date or time (2026-12-01"),
                        (["-n", "0"], "0 is not in the range x>=1")):
        assert main(["runs", "--store", str(store.root), *flags]) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1, err


def test_a_class_weight_naming_no_class_is_said_before_anything_trains(tmp_path: Path, data_dir: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """helper-248: `{ "shirt" = 3.0 }` (lower case) passed the dry run and each run failed at its start."""
    p = tmp_path / "cw.toml"
    p.write_text(EXP.split("[[variants]]")[0].replace('dataset = "mnist"', 'dataset = "fashion-mnist"')
                 + '[[variants]]\nname = "typo"\n"train.class_weight" = { "shirt" = 3.0 }\n'
                 + '[[variants]]\nname = "ten"\n"train.class_weight" = [1.0, 2.0]\n'
                 + '[[variants]]\nname = "ok"\n"train.class_weight" = { "Shirt" = 3.0, "9" = 2.0 }\n')
    store = tmp_path / "s"
    assert main(["run", str(p), "--dry-run", "--store", str(store), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f'error: {p}:') and 'variant "typo": train.class_weight: \'shirt\' is no class of the data ' \
        '(did you mean "Shirt"?)' in err[0]
    assert 'variant "ten": train.class_weight: 2 weights for 10 classes' in err[1] and len(err) == 2
    assert not store.exists()
