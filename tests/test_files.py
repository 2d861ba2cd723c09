"""Files written whole (mnistlab.files): a failed or interrupted write keeps the old file and leaves no temp file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

from mnistlab.errors import OutputError
from mnistlab.files import check_output_path, display_name, temporary_name, write_atomic

matplotlib.use("Agg")


def test_a_write_replaces_the_file_whole_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    out.write_text("old")
    assert write_atomic(out, lambda tmp: tmp.write_text("new")) == out
    assert out.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["r.html"]
    assert temporary_name(out).parent == tmp_path and temporary_name(out).name.startswith(".r.html.")
    assert temporary_name(out).suffix == ".html"  # np.save adds .npy, savefig picks the format by it
    long = tmp_path / ("x" * 250 + ".png")  # as long as a name may be: its temporary name fits too
    assert len(temporary_name(long).name) < 120 and temporary_name(long).suffix == ".png"


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt(), ValueError("bad")])
def test_a_write_that_fails_keeps_the_old_file_and_removes_its_temporary_file(tmp_path: Path,
                                                                             failure: BaseException) -> None:
    out = tmp_path / "weights.safetensors"
    out.write_bytes(b"the last good file")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_bytes(b"half a fi")
        raise failure

    with pytest.raises(type(failure)):
        write_atomic(out, half_then_fail)
    assert out.read_bytes() == b"the last good file" and [p.name for p in tmp_path.iterdir()] == [out.name]


def test_a_full_disk_is_an_oserror_and_the_old_file_stays(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full (Linux)")
    out = tmp_path / "report.html"
    out.write_text("kept")
    temporary_name(out).symlink_to("/dev/full")  # writing the temporary file fails as on a full disk (ENOSPC)
    with pytest.raises(OSError):
        write_atomic(out, lambda tmp: tmp.write_text("x" * 100_000))
    assert out.read_text() == "kept" and not os.path.lexists(temporary_name(out))


def test_a_process_killed_mid_write_never_leaves_half_a_file(tmp_path: Path) -> None:
    """A reader sees the old file or the new one: a write killed (SIGKILL, no cleanup) leaves the
    old file whole; only its hidden temporary file stays, which no reader opens."""
    out = tmp_path / "last.pt"
    out.write_bytes(b"old" * 1000)
    code = ("import sys, time; from pathlib import Path; from mnistlab.files import write_atomic\n"
            "def slow(tmp):\n    tmp.write_bytes(b'new'); print('writing', flush=True); time.sleep(60)\n"
            "write_atomic(Path(sys.argv[1]), slow)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert out.read_bytes() == b"old" * 1000  # the killed writer's file is hidden beside it, under its own name
    [left] = [p.name for p in tmp_path.iterdir() if p.name != "last.pt"]
    assert left.startswith(f".last.pt.{proc.pid}-") and left.endswith(".tmp.pt")


def test_an_output_path_is_checked_before_the_work(tmp_path: Path) -> None:
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "afile").write_text("x")
    for path, message in ((tmp_path / "folder.png", "it is a folder"),
                          (tmp_path / "missing" / "a.png", "folder .* does not exist"),
                          (tmp_path / "afile" / "a.png", "folder .*afile is a file, not a folder"),  # helper-111
                          ("/dev/null", "not a regular file"),
                          (tmp_path / ("a" * 300 + ".onnx"), "its name is 305 bytes, over the 255")):  # helper-119: rc 1
        with pytest.raises(OutputError, match=message):
            check_output_path(path)
    (tmp_path / "dangling.md").symlink_to(tmp_path / "gone.md")  # helper-119: found once the model was written
    with pytest.raises(OutputError, match=r"dangling\.md: a link to nothing \(what it points to, .*gone\.md, is gone\)"):
        check_output_path(tmp_path / "dangling.md")
    assert check_output_path(tmp_path / "new.png") == tmp_path / "new.png"
    assert display_name("bad\nname\x1b.png") == "bad\\nname\\x1b.png"


def test_a_figure_that_cannot_be_written_is_one_line_and_keeps_the_old_image(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from mnistlab.cli._common import save_figure

    out = tmp_path / "cm.png"
    fig = plt.figure(figsize=(1, 1))
    save_figure(fig, out)
    first = out.read_bytes()
    assert first.startswith(b"\x89PNG") and [p.name for p in tmp_path.iterdir()] == ["cm.png"]
    if Path("/dev/full").exists():
        temporary_name(out).symlink_to("/dev/full")
        with pytest.raises(OutputError, match=r"cannot write .*cm\.png: No space left on device"):
            save_figure(fig, out)
        assert out.read_bytes() == first
    plt.close(fig)


def test_writers_in_two_threads_never_share_a_temporary_file(tmp_path: Path) -> None:
    import threading

    out, names = tmp_path / "plan.json", []
    thread = threading.Thread(target=lambda: names.append(temporary_name(out)))
    thread.start()
    thread.join()
    assert names[0] != temporary_name(out) and names[0].parent == tmp_path


def test_a_link_is_written_through_and_every_file_gets_the_usual_mode(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    import torch

    real = tmp_path / "kept" / "w.safetensors"
    real.parent.mkdir()
    link = tmp_path / "w.safetensors"
    link.symlink_to(real)
    write_atomic(link, lambda tmp: save_file({"a": torch.zeros(3)}, str(tmp)))  # safetensors makes its file 0600
    assert link.is_symlink() and real.is_file() and not real.is_symlink()
    umask = os.umask(0)
    os.umask(umask)
    assert real.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in real.parent.iterdir()) == ["w.safetensors"]


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_a_file_written_again_keeps_its_mode(tmp_path: Path, mode: int) -> None:
    """helper-162: a report made private (chmod 600) was 0644 once written again."""
    out = tmp_path / "report.html"
    out.write_text("old")
    out.chmod(mode)
    write_atomic(out, lambda tmp: tmp.write_text("new"))
    assert out.read_text() == "new" and out.stat().st_mode & 0o777 == mode


def test_no_output_file_may_land_in_a_run_stores_records(tmp_path: Path) -> None:
    from mnistlab.store import RunStore, store_part

    root = tmp_path / "store"
    RunStore(root).close()
    (root / "runs" / "3fa9c01b2e").mkdir(parents=True)
    (tmp_path / "link").symlink_to(root / "runs")
    for inside in ("runs/3fa9c01b2e/weights.safetensors", "runs/3fa9c01b2e/new.onnx", "runs/x.png",
                   "runs.sqlite", "runs.sqlite-wal", "search.sqlite"):
        assert store_part(root / inside) is not None, inside
        with pytest.raises(OutputError, match="inside the run store's records"):
            check_output_path(root / inside)
    assert store_part(tmp_path / "link" / "3fa9c01b2e" / "w.safetensors") == str(root / "runs" / "3fa9c01b2e")
    assert store_part(root / "runs" / ".." / "report.html") is None  # the store's own folder: a report may go there
    (tmp_path / "w.safetensors").symlink_to(root / "runs" / "3fa9c01b2e" / "weights.safetensors")  # a link written
    assert store_part(tmp_path / "w.safetensors") == str(root / "runs" / "3fa9c01b2e")  # through (hostile-input review)
    with pytest.raises(OutputError, match="inside the run store's records"):
        check_output_path(tmp_path / "w.safetensors")
    (tmp_path / "w.safetensors").unlink()
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert store_part(tmp_path / "loop") is None  # a loop of links: nothing is written there anyway
    for outside in (root / "report.html", tmp_path / "runs" / "a" / "b.png", tmp_path / "w.safetensors"):
        assert store_part(outside) is None, outside
    import sqlite3

    sqlite3.connect(root / "runs" / "runs.sqlite").close()  # helper-156: a store an older version let be made in
    assert store_part(root / "runs" / "3fa9c01b2e" / "weights.safetensors") == str(root / "runs" / "3fa9c01b2e")  # the
    # records (--store s1/runs) hid the outer store: export -o and train --save-weights wrote over a run's weights


def test_no_new_store_is_made_inside_a_stores_records(tmp_path: Path) -> None:
    """helper-156: `--store s1/runs` made a store inside s1's run folders (which reindex --check then
    passed over); refused, naming the store to give instead. An existing store opens as before."""
    from mnistlab.errors import StoreError
    from mnistlab.store import RunStore

    root = tmp_path / "s1"
    RunStore(root).close()
    for inside in ("runs", "runs/new", "checkpoints", "sweeps/x"):
        with pytest.raises(StoreError, match=f"inside the records of the one at {root}: give that store's folder"):
            RunStore(root / inside)
        assert not (root / inside / "runs.sqlite").exists()
    RunStore(root).close()
    RunStore(tmp_path / "s1-beside").close()  # beside it: a store of its own


def test_train_and_export_refuse_to_write_over_a_recorded_run(recorded, tmp_path: Path, capsys) -> None:
    from mnistlab.cli import main

    store, ids = recorded
    weights = store / "runs" / ids["cnn0"] / "weights.safetensors"
    before = weights.read_bytes()
    assert main(["train", "--dataset", "mnist", "--model", "seed000-dense", "--epochs", "1", "--subset", "60",
                 "--store", str(tmp_path / "s"), "--save-weights", str(weights)]) == 2
    assert main(["export", ids["cnn0"], "--store", str(store), "-o", str(store / "runs" / ids["cnn0"] / "m.onnx")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all("inside the run store's records" in line for line in err), err
    assert weights.read_bytes() == before and not (store / "runs" / ids["cnn0"] / "m.onnx").exists()
    assert not (tmp_path / "s").exists()  # refused before training, before its store was made
    for folder in (store / "runs" / ids["cnn0"], store / "checkpoints" / "x"):  # checkpoints into its records
        assert main(["train", "--dataset", "mnist", "--model", "seed000-dense", "--epochs", "1", "--subset", "60",
                     "--store", str(tmp_path / "s"), "--checkpoint-dir", str(folder)]) == 2
        assert "inside the run store's records" in capsys.readouterr().err
    assert not (store / "runs" / ids["cnn0"] / "last.pt").exists() and not (store / "checkpoints" / "x").exists()


def test_a_report_that_cannot_be_written_is_one_line_naming_it_and_the_old_file_stays(recorded, tmp_path: Path,
                                                                                       capsys) -> None:
    from mnistlab.cli import main

    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full (Linux)")
    store, _ = recorded
    out = tmp_path / "r.html"
    out.write_text("kept")
    temporary_name(out).symlink_to("/dev/full")  # the disk is full when the report is written
    assert main(["report", "tiny", "--store", str(store), "-o", str(out)]) == 2
    err = capsys.readouterr().err  # (after the report's own warning of the store's failed run)
    assert err.endswith(f"\nerror: cannot write {out}: No space left on device\n"), err
    assert out.read_text() == "kept"


def test_weights_are_written_whole_on_the_cpu_or_said_in_one_line(tmp_path: Path) -> None:
    """files.save_weights, the one writer of weights (runs, ModelCheckpoint, --save-weights, export)."""
    import torch
    from safetensors import safe_open

    from mnistlab.files import save_weights

    grad = torch.ones(3, 4, requires_grad=True) * 2  # needs detaching; a transposed view is not contiguous
    path = save_weights({"w": grad, "t": torch.arange(6.0).view(2, 3).T}, tmp_path / "new" / "w.safetensors",
                        {"by": "mnistlab"})
    with safe_open(str(path), "pt") as f:
        assert f.metadata() == {"by": "mnistlab"} and torch.equal(f.get_tensor("t"), torch.arange(6.0).view(2, 3).T)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"file/w.safetensors: cannot write weights: ") as exc:
        save_weights({"w": grad}, tmp_path / "file" / "w.safetensors")  # a file where its folder should be
    assert "\n" not in str(exc.value) and not list(tmp_path.glob("file*/*"))


def test_signals_held_back_come_after_the_block_sigterm_first_and_the_handlers_are_put_back() -> None:
    import threading

    from mnistlab.execute import terminate_as_interrupt
    from mnistlab.files import stop_signals_held

    before = signal.getsignal(signal.SIGINT)
    with terminate_as_interrupt() as stop:
        term_handler = signal.getsignal(signal.SIGTERM)
        with pytest.raises(KeyboardInterrupt):
            with stop_signals_held():  # (to this thread: os.kill's may reach another thread, and come late)
                signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
                signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)
                done = sum(range(1000))  # Python code runs on: both are held back
        assert done == 499500 and stop.signum == signal.SIGTERM  # the one that says more (exit 143), not dropped
        assert signal.getsignal(signal.SIGTERM) is term_handler
    assert signal.getsignal(signal.SIGINT) is before


def test_a_read_only_mount_is_said_so_not_permission_denied(tmp_path: Path) -> None:
    """helper-162: `-o` onto a read-only mount said "permission denied". (A bind mount made read-only:
    only where this process may mount, as root in a container with the right.)"""
    import shutil

    source, mounted = tmp_path / "src", tmp_path / "ro"
    source.mkdir()
    mounted.mkdir()
    mount = shutil.which("mount")
    if mount is None or subprocess.run([mount, "--bind", str(source), str(mounted)], capture_output=True).returncode:
        pytest.skip("this process may not mount a folder (it needs root and the right to mount)")
    try:
        subprocess.run([mount, "-o", "remount,ro,bind", str(mounted)], check=True, capture_output=True)
        with pytest.raises(OutputError, match=r"^cannot write .*ro/h\.png: a read-only file system$"):
            check_output_path(mounted / "h.png")
    finally:
        subprocess.run(["umount", str(mounted)], capture_output=True)
    assert check_output_path(source / "h.png") == source / "h.png"


def test_a_killed_writers_temporary_file_is_dropped_once_old_and_its_process_gone(tmp_path) -> None:
    """helper-206: `kill -9` during a checkpoint write left a 2.9 MB temporary file no later run removed."""
    import os
    import subprocess
    import sys

    from mnistlab.files import drop_stale_temporaries, temporary_name

    target = tmp_path / "last.pt"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    old = tmp_path / f".last.pt.{pid}-1-abcd.tmp.pt"
    young = tmp_path / f".last.pt.{pid}-2-abcd.tmp.pt"
    mine = temporary_name(target)  # this process's, alive
    for f in (old, young, mine):
        f.write_bytes(b"x")
    for f in (old, mine):
        os.utime(f, (0, 0))
    assert drop_stale_temporaries(target) == 1
    assert not old.exists() and young.exists() and mine.exists()
