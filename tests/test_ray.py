"""The Ray backend: the local backend's numbers, one run per cell, dying workers, a killed driver,
bad addresses, epochs reaching the store, search trials pruned through the driver, per-cell
resources from the file, Ctrl-C after the last cell. One local Ray with 2 CPUs serves the whole
test session."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from test_experiments import TINY, write

from mnistlab.callbacks import Callback
from mnistlab.cli import main
from mnistlab.execute import CellTask, run_experiment, train_cells
from mnistlab.run import RunResult
from mnistlab.errors import MnistlabError, SpecError
from mnistlab.store import RunStore

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.xdist_group("ray")  # one Ray for the session: these tests share one xdist worker

from mnistlab.backends import RayRunner  # noqa: E402 - only with Ray installed


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """A local Ray with 2 CPUs, started once for the session (a new one, never a cluster another process left
    running on this machine: its num_cpus would be refused); its GCS address (for other drivers)."""
    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    # The test's own train functions travel to the workers by value (tests/ is not on their path).
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def _metrics(store: RunStore) -> list[tuple]:
    """Each run's cell and numbers, timings left out."""
    timeless = lambda h: [{k: v for k, v in e.items() if "second" not in k} for e in h]  # noqa: E731
    return sorted((r.variant, r.seed, r.config_hash, r.status, r.metrics["test_accuracy"], r.metrics["test_loss"],
                   str(timeless(r.history))) for r in store.runs())


def test_ray_gives_the_local_numbers_one_run_per_cell(tmp_path: Path, data_dir: Path, ray_address: str) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\nrepeats = 2\n[[variants]]\nname = "b"\n"train.lr" = 0.01\n')
    local, on_ray = RunStore(tmp_path / "local"), RunStore(tmp_path / "ray")
    run_experiment(p, local, data_dir=data_dir)
    res = run_experiment(p, on_ray, data_dir=data_dir, runner=RayRunner())
    assert [o.record.status for o in res.outcomes] == ["finished"] * 3 and not any(o.skipped for o in res.outcomes)
    assert _metrics(on_ray) == _metrics(local) and len(on_ray.runs()) == 3
    by_cell = {(r.variant, r.seed): r.run_id for r in local.runs()}
    for r in on_ray.runs():  # the weights and predictions came back from the workers intact
        np.testing.assert_array_equal(on_ray.load_predictions(r.run_id), local.load_predictions(by_cell[r.variant, r.seed]))
        assert on_ray.load_model(r.run_id) is not None
        # helper-115: the record says where it trained (the store's own pid column is the driver's)
        assert r.env["host"] == socket.gethostname() and r.env["pid"] not in (os.getpid(), r.pid)
        assert r.env["backend"] == "ray"  # helper-134: and on what
    assert {r.env["pid"] for r in local.runs()} == {os.getpid()}  # a local run: this process
    assert not any("backend" in r.env for r in local.runs())
    again = run_experiment(p, on_ray, data_dir=data_dir, runner=RayRunner())
    assert all(o.skipped for o in again.outcomes) and len(on_ray.runs()) == 3


def test_a_thread_count_set_in_the_file_holds_on_every_backend(tmp_path: Path, data_dir: Path, ray_address: str) -> None:
    # A conv model: its sums' order depends on the thread count, so only the same count gives the same digits.
    text = TINY.replace("{ dense = [8] }", "{ conv = [8], pool = [true], dense = [16] }") + "threads = 2\n"
    p = write(tmp_path, text + '[[variants]]\nname = "a"\nrepeats = 2\n')
    local, split, on_ray = RunStore(tmp_path / "local"), RunStore(tmp_path / "split"), RunStore(tmp_path / "ray")
    run_experiment(p, local, data_dir=data_dir)
    run_experiment(p, split, data_dir=data_dir, jobs=2)  # each worker's share would be 1 thread
    run_experiment(p, on_ray, data_dir=data_dir, runner=RayRunner(cpus_per_cell=1))
    for st in (local, split, on_ray):
        assert [r.env.get("threads") for r in st.runs()] == [2, 2], st.root
    assert _metrics(on_ray) == _metrics(local) == _metrics(split)


def _dying(marks: str, task: CellTask, indices: Sequence[int], callbacks: Sequence = (),
           checkpoint_dir: Path | None = None) -> list[RunResult | BaseException]:
    """Variant "dead": its worker dies every time; "flaky": dies the first time only."""
    variant = task.cells[0].variant
    mark = Path(marks) / f"{variant}.{time.monotonic_ns()}"
    mark.touch()  # one file per attempt
    if variant == "dead" or (variant == "flaky" and len(list(Path(marks).glob("flaky.*"))) == 1):
        os._exit(3)
    return train_cells(task, indices, callbacks=callbacks, checkpoint_dir=checkpoint_dir)


class _DieAtEpoch(Callback):
    """Ends the worker process (as an out-of-memory kill would) as epoch ``epoch`` (1-based) begins,
    after the callbacks before it in the list (the checkpoint mirror) have run."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        if epoch + 1 == self.epoch:
            os._exit(3)


def _dies_once_in_epoch_3(marks: str, task: CellTask, indices: Sequence[int], callbacks: Sequence = (),
                          checkpoint_dir: Path | None = None) -> list[RunResult | BaseException]:
    """The cell's first try: its worker dies as epoch 3 begins; the retry trains on."""
    first_try = not any(Path(marks).iterdir())
    (Path(marks) / f"try.{time.monotonic_ns()}").touch()
    killer = [_DieAtEpoch(3)] if first_try else []
    return train_cells(task, indices, callbacks=[*callbacks, *killer], checkpoint_dir=checkpoint_dir)


def _dies_in_epoch_3(marks: str, task: CellTask, indices: Sequence[int], callbacks: Sequence = (),
                     checkpoint_dir: Path | None = None) -> list[RunResult | BaseException]:
    """Every try's worker dies as epoch 3 begins: Ray's retry too, so the cell fails."""
    return train_cells(task, indices, callbacks=[*callbacks, _DieAtEpoch(3)], checkpoint_dir=checkpoint_dir)


def test_a_cell_whose_worker_died_continues_from_its_checkpoint_on_the_retry(tmp_path: Path, data_dir: Path,
                                                                           ray_address: str) -> None:
    """Review finding: a Ray cell kept no checkpoint, so Ray's retry (and a sweep run again after
    its driver was killed) trained it from its first epoch. The worker's checkpoints reach the
    relay and the store; the retry continues from epoch 3 and ends on the uninterrupted digits."""
    from mnistlab.backends import _quiet_ray_messages, close, ray_runner

    p = write(tmp_path, TINY.replace("epochs = 1", "epochs = 4").replace("subset = 120", "subset = 600")
              + 'threads = 1\n[[variants]]\nname = "a"\n')
    whole = run_experiment(p, tmp_path / "whole", data_dir=data_dir, runner=RayRunner()).outcomes[0].record
    marks = tmp_path / "marks"
    marks.mkdir()
    runner = ray_runner()
    runner.quieted = _quiet_ray_messages()
    runner.train = functools.partial(_dies_once_in_epoch_3, str(marks))
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MNISTLAB_CHECKPOINT_EVERY", "0")  # the driver's setting (the workers have not its environment)
            res = run_experiment(p, tmp_path / "s", data_dir=data_dir, runner=runner)
    finally:
        close(runner)
    assert len(list(marks.iterdir())) == 2  # died once, retried once
    [record] = RunStore(tmp_path / "s").runs()
    assert res.outcomes[0].record.run_id == record.run_id and record.status == "finished"
    assert record.metrics["resumed_from_epoch"] == 2 and whole.metrics["resumed_from_epoch"] == 0
    assert [h["epoch"] for h in record.history] == [1, 2, 3, 4]
    assert record.metrics["test_accuracy"] == whole.metrics["test_accuracy"]  # as if it had never died
    assert record.metrics["test_loss"] == pytest.approx(whole.metrics["test_loss"], abs=1e-6)
    assert not list((tmp_path / "s").glob("checkpoints/*/*/*"))  # recorded: its checkpoint is gone
    # helper-134: a cell whose worker died twice was recorded failed with none of the epochs it posted
    runner = ray_runner()
    runner.quieted = _quiet_ray_messages()
    runner.train = functools.partial(_dies_in_epoch_3, str(marks))
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MNISTLAB_CHECKPOINT_EVERY", "0")
            run_experiment(p, tmp_path / "twice", data_dir=data_dir, runner=runner)
    finally:
        close(runner)
    [record] = RunStore(tmp_path / "twice").runs()
    assert record.status == "failed" and [h["epoch"] for h in record.history] == [1, 2], record.history
    assert record.metrics["checkpoint_epoch"] == 2  # and where the next run continues


def test_a_dying_worker_is_retried_once_then_its_cell_failed(tmp_path: Path, data_dir: Path, ray_address: str,
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    from mnistlab.backends import _quiet_ray_messages, close, ray_runner

    p = write(tmp_path, TINY + '[[variants]]\nname = "dead"\n[[variants]]\nname = "flaky"\n"train.lr" = 0.01\n')
    marks = tmp_path / "marks"
    marks.mkdir()
    runner = ray_runner()  # joins the session's Ray; a Ray of someone else's keeps its own messages, so
    runner.quieted = _quiet_ray_messages()  # ... as `mnistlab run`, which starts or joins Ray itself, does
    runner.train = functools.partial(_dying, str(marks))
    said = "warning: a Ray worker died while training a cell; Ray trains the cell again (once)"
    out = err = ""
    try:
        res = run_experiment(p, tmp_path / "s", data_dir=data_dir, runner=runner)
        deadline = time.monotonic() + 10  # Ray's error messages reach the driver a moment later
        while time.monotonic() < deadline and err.count(said) < 2:
            time.sleep(0.2)
            o, e = capfd.readouterr()
            out, err = out + o, err + e
    finally:
        close(runner)  # Ray's own printer back (the session's Ray stays up)
    assert err.count(said) == 2, (out, err)  # one death each before the retry; the second "dead" one: the cell fails
    assert "raylet" not in out + err and "A worker died" not in out + err and "\x1b[" not in out + err
    got = {o.cell.variant: o.record for o in res.outcomes}
    assert got["dead"].status == "failed" and "Ray worker died" in got["dead"].message
    assert "python-core-worker" not in got["dead"].message  # helper-134: Ray's words, naming logs it did not place
    assert got["flaky"].status == "finished"
    assert Counter(m.name.split(".")[0] for m in marks.iterdir()) == {"dead": 2, "flaky": 2}  # one retry each
    assert len(RunStore(tmp_path / "s").runs()) == 2  # one run per cell, retries included


def test_a_resumed_ray_cell_posts_its_earlier_epochs_first(tmp_path: Path, data_dir: Path, ray_address: str) -> None:
    """Review finding: a Ray cell resumed from a checkpoint posted only its new epochs (`watch`, and
    a stopped run's row, lost the first ones); it posts those it resumed with as its first epoch begins."""
    from mnistlab.backends import Relay, RelayProgress
    from mnistlab.config import parse_run_config
    from mnistlab.run import run_config

    raw = {"dataset": "mnist", "model": {"dense": [8]}, "data": {"subset": 120}, "train": {"epochs": 2, "batch_size": 60}}
    folder = tmp_path / "ck"
    run_config(parse_run_config(raw), data_dir=data_dir, progress="none", checkpoint_dir=folder, checkpoint_every=0)
    relay = ray.remote(num_cpus=0)(Relay).remote()
    raw["train"]["epochs"] = 4
    res = run_config(parse_run_config(raw), data_dir=data_dir, progress="none", checkpoint_dir=folder, resume=True,
                     checkpoint_every=0, extra_callbacks=[RelayProgress(relay, "r")])
    assert res.status == "finished" and res.metrics["resumed_from_epoch"] == 2
    posts: list = []
    deadline = time.monotonic() + 30
    while len(posts) < 3 and time.monotonic() < deadline:  # posted without waiting: they arrive in any order
        posts += [payload for run_id, kind, payload in ray.get(relay.take.remote()) if kind == "progress"]
        time.sleep(0.05)
    posts.sort(key=len)
    assert [[e["epoch"] for e in p] for p in posts] == [[1, 2], [1, 2, 3], [1, 2, 3, 4]]
    assert posts[-1][0]["loss"] == pytest.approx(res.history[0]["loss"]) and posts[-1][0]["epochs"] == 4


SLOW = """
name = "killme"
[base]
dataset = "mnist"
model = { dense = [64] }
[base.data]
subset = 2000
[base.train]
epochs = 4
batch_size = 32
[[variants]]
name = "r"
repeats = 4
"""


def test_a_killed_driver_loses_nothing_and_the_rerun_trains_only_the_rest(tmp_path: Path, data_dir: Path,
                                                                          ray_address: str) -> None:
    exp = write(tmp_path, SLOW)
    store_dir = tmp_path / "store"
    child = ("import runpy, sys; sys.argv = ['mnistlab'] + sys.argv[1:]; runpy.run_module('mnistlab', run_name='__main__')")
    proc = subprocess.Popen([sys.executable, "-c", child, "run", str(exp), "--store", str(store_dir), "--data-dir",
                             str(data_dir), "--backend", "ray", "--address", ray_address],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "MNISTLAB_CHECKPOINT_EVERY": "0"})  # at every epoch's end
    finished: list[str] = []
    training: list[Path] = []
    deadline = time.monotonic() + 120
    # until a cell has finished and another, still training, has a checkpoint in the store (a
    # finished cell's own goes a moment after its run is recorded: not that one)
    while time.monotonic() < deadline and proc.poll() is None and not (finished and training):
        time.sleep(0.1)
        if (store_dir / "runs.sqlite").exists():
            with RunStore(store_dir) as st:
                runs = st.runs()
                finished = [r.run_id for r in runs if r.status == "finished"]
                done = {st.checkpoint_dir(r.experiment, r.variant, r.config_hash) for r in runs if r.status == "finished"}
            training = [p for p in store_dir.glob("checkpoints/*/*/last.pt") if p.parent not in done]
    proc.send_signal(signal.SIGKILL)
    out = proc.communicate()
    assert finished, f"no cell finished before the driver was killed: {out}"
    with RunStore(store_dir) as st:
        before = {r.run_id for r in st.runs() if r.status == "finished"}
    assert 0 < len(before) < 4, "the sweep ended before the driver was killed: make SLOW slower"
    with RunStore(store_dir) as st:  # a finished cell's checkpoint goes a moment after its run is recorded
        ended = {st.checkpoint_dir(r.experiment, r.variant, r.config_hash) for r in st.runs() if r.run_id in before}
    saved = {path.parent: torch.load(path, weights_only=True)["epochs_done"]
             for path in store_dir.glob("checkpoints/*/*/last.pt") if path.parent not in ended}
    assert saved, out
    res = run_experiment(exp, store_dir, data_dir=data_dir, runner=RayRunner())
    assert sum(o.skipped for o in res.outcomes) == len(before)
    assert {o.record.run_id for o in res.outcomes if o.skipped} == before  # nothing recorded was lost
    st = RunStore(store_dir)
    done = [r for r in st.runs() if r.status == "finished"]
    assert len(done) == 4 and len({r.config_hash for r in done}) == 4  # one finished run per cell
    assert all(r.status in ("finished", "interrupted") for r in st.runs())  # the killed driver's claims expired
    # a cell the killed driver's worker had checkpointed went on from there, not from its first epoch
    resumed = {st.checkpoint_dir(r.experiment, r.variant, r.config_hash): r.metrics["resumed_from_epoch"]
               for r in done if r.run_id not in before}
    assert {folder: resumed.get(folder) for folder in saved} == saved, (saved, resumed)
    assert not list(store_dir.glob("checkpoints/*/*/*"))


def _descendants(pid: int) -> dict[int, str]:
    """The processes below ``pid`` (children, theirs, ...) by pid, with their command lines."""
    parents, lines = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                lines[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    out, frontier = {}, [pid]
    while frontier:
        here = frontier.pop()
        for child, parent in parents.items():
            if parent == here and child not in out:
                out[child] = lines.get(child, "")
                frontier.append(child)
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds Ray's processes in Linux's /proc")
def test_ray_dying_under_a_sweep_is_one_line_not_a_traceback(tmp_path: Path, data_dir: Path, ray_address: str) -> None:
    """helper-134: `ray stop` under a sweep on Ray was 67 lines of traceback (here the driver's own
    local Ray loses its relay actor: the same ActorDiedError)."""
    exp = write(tmp_path, SLOW.replace("epochs = 4", "epochs = 40"))
    store_dir = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-m", "mnistlab", "run", str(exp), "--store", str(store_dir), "--data-dir",
                             str(data_dir), "--backend", "ray"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "MNISTLAB_CHECKPOINT_EVERY": "0"})
    deadline, relay = time.monotonic() + 120, None
    while time.monotonic() < deadline and proc.poll() is None and relay is None:
        time.sleep(0.2)
        if (store_dir / "runs.sqlite").exists():
            with RunStore(store_dir) as st:
                if any(r.history for r in st.runs()):  # a cell is training on the driver's own Ray
                    relay = next((p for p, line in _descendants(proc.pid).items() if "Relay" in line), None)
    assert relay is not None, proc.communicate()
    os.kill(relay, signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert err.splitlines()[-1].startswith("error: the Ray cluster stopped working while this command used it ("), err
    assert "run the same command again" in err.splitlines()[-1]


def test_only_rays_outage_errors_are_said_to_be_an_outage() -> None:
    """helper-137: every error of Ray's, an exception raised inside a task among them (a bug, with
    its traceback to read), was said to be "the Ray cluster stopped working"."""
    from mnistlab.cli import _from_ray

    inside = ray.exceptions.RayTaskError("train_remote", "Traceback ...", TypeError("a bug")).as_instanceof_cause()
    assert not _from_ray(inside) and not _from_ray(TypeError("a bug"))
    assert _from_ray(ray.exceptions.ActorDiedError()) and _from_ray(ray.exceptions.NodeDiedError("node gone"))


def test_an_outage_of_a_forced_sweep_says_to_run_it_again_without_force() -> None:
    """helper-185: after `ray stop` under `run --force`, "run the same command again" would train every
    cell afresh, not go on from the checkpoints it said."""
    from mnistlab.cli import _ray_gone

    gone = ray.exceptions.NodeDiedError("node gone")
    assert "run the same command again once it is back" in _ray_gone(gone)
    assert "run the same command without --force again once it is back" in _ray_gone(gone, forced=True)


def test_a_worker_without_a_data_folder_takes_the_drivers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """helper-134: a cluster started from a shell without MNISTLAB_DATA_DIR failed every cell with
    "files not found", though the driver had it (and had checked its data)."""
    from mnistlab.backends import _data_from_driver, _driver_data

    monkeypatch.setenv("MNISTLAB_DATA_DIR", os.path.relpath(tmp_path))
    sent = _driver_data()
    assert sent == str(tmp_path)  # absolute: a worker's working folder is another
    monkeypatch.delenv("MNISTLAB_DATA_DIR")  # the worker's environment
    _data_from_driver(str(tmp_path / "absent"))  # a folder this machine lacks: nothing
    assert "MNISTLAB_DATA_DIR" not in os.environ
    _data_from_driver(sent)
    assert os.environ["MNISTLAB_DATA_DIR"] == sent
    monkeypatch.setenv("MNISTLAB_DATA_DIR", "/the/workers/own")
    _data_from_driver(sent)
    assert os.environ["MNISTLAB_DATA_DIR"] == "/the/workers/own"  # a worker's own stays


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again once the socket is


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word (a firewall, a hung server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


@pytest.fixture()
def grpc_lookalike() -> Iterator[int]:
    """A port that answers the HTTP/2 preface as a gRPC server does and then says nothing more
    (a Ray Client port given without ray://, or another gRPC service): it passes the quick probe."""
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    stop, held = threading.Event(), []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)
            try:
                conn.recv(100)
                conn.sendall(bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))  # an empty SETTINGS frame, then silence
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_grpc_server_that_is_not_ray_is_one_line_within_a_minute(tmp_path: Path, data_dir: Path,
                                                                     grpc_lookalike: int) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n')
    address = f"127.0.0.1:{grpc_lookalike}"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "mnistlab", "run", str(p), "--store", str(tmp_path / "s"),
                           "--data-dir", str(data_dir), "--backend", "ray", "--address", address],
                          capture_output=True, text=True, timeout=120)  # its own process: this one has joined a Ray
    assert proc.returncode == 2, proc.stderr
    assert time.monotonic() - t0 < 90  # Ray alone: 40 s per try, 20 tries
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and address in lines[0] and "ray://" in lines[0], proc.stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("address", ["closed", "ray://127.0.0.1:1", "nonsense", "silent"])
def test_an_address_that_does_not_answer_is_one_line_before_training(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], address: str, silent_port: int) -> None:
    ports = {"closed": _closed_port, "silent": lambda: silent_port}  # found here: the same test ids in every process
    address = f"127.0.0.1:{ports[address]()}" if address in ports else address
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n')
    t0 = time.monotonic()
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir), "--backend", "ray",
                 "--address", address]) == 2
    assert time.monotonic() - t0 < 8  # a silent listener: Ray alone would wait 2 minutes
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and address in err and "Traceback" not in err
    assert not (tmp_path / "s").exists()  # no store folder left behind by a backend that does not work


def test_an_address_that_does_not_answer_is_named_where_it_was_given(tmp_path: Path, data_dir: Path,
                                                                      capsys: pytest.CaptureFixture[str],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """helper-134: a file's `address` that did not answer was said to be --address's, given nowhere."""
    address = f"127.0.0.1:{_closed_port()}"
    p = write(tmp_path, TINY + f'[resources]\nbackend = "ray"\naddress = "{address}"\n[[variants]]\nname = "a"\n')
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert f"the Ray cluster at {address} ([resources] address) does not answer" in err and "--address" not in err
    monkeypatch.setenv("RAY_ADDRESS", address)  # Ray's own variable: joined, and named
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n', "plain.toml")
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir), "--backend", "ray"]) == 2
    assert f"the Ray cluster at {address} (RAY_ADDRESS) does not answer" in capsys.readouterr().err


def test_a_cluster_refusing_the_drivers_token_is_said_so_not_called_silent() -> None:
    """helper-115: joining a cluster started with authentication, without its token, said "no Ray
    cluster answers there: give the head node's GCS port", though it answered: Ray 2.60's error
    names InvalidAuthToken (as helper-115 saw it calling ray.init itself) below its first line."""
    from mnistlab.backends import ray_init_error

    refused = RuntimeError("Failed to connect to GCS at address 192.0.2.2:6390 within 5 seconds.\n"
                           "GCS status: InvalidAuthToken: Authentication token is missing or incorrect")
    said = ray_init_error("192.0.2.2:6390", refused)
    assert said.startswith("could not start or reach Ray at 192.0.2.2:6390: the cluster answers but refuses this "
                           "driver's authentication token") and "GCS port" not in said and "\n" not in said
    silent = RuntimeError("Failed to connect to GCS at address 192.0.2.2:6390 within 5 seconds.")
    assert "no Ray cluster answers there" in ray_init_error("192.0.2.2:6390", silent)
    assert "RAY_AUTH_MODE=token" in said  # helper-134: RAY_AUTH_TOKEN alone did not join such a cluster


def test_a_silent_join_where_this_machine_holds_a_ray_token_mentions_the_token(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """helper-134: a cluster asking for a token fails a driver without one with Ray's plain "Failed to
    connect" (the reason only in Ray's log): where ~/.ray/auth_token exists, the line says so."""
    from mnistlab.backends import ray_init_error

    silent = RuntimeError("Failed to connect to GCS at address 127.0.0.1:6379 within 5 seconds.")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    assert "token" not in ray_init_error("127.0.0.1:6379", silent)
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("secret")
    said = ray_init_error("127.0.0.1:6379", silent)
    assert said.startswith("could not start or reach Ray at 127.0.0.1:6379: the cluster may ask for a token, which Ray "
                           "says only in its own log (this machine has ~/.ray/auth_token): set RAY_AUTH_MODE=token (the "
                           "token itself in RAY_AUTH_TOKEN or ~/.ray/auth_token, the cluster's); else no Ray cluster "
                           "answers there"), said  # the likelier cause first (helper-185)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # already set: another cause
    assert "token" not in ray_init_error("127.0.0.1:6379", silent)


def test_an_empty_address_is_refused(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n')
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir), "--backend", "ray",
                 "--address", ""]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        'error: --address "": expected auto, HOST:PORT or ray://HOST:PORT (leave it out for a local Ray)']


@pytest.mark.parametrize("address, says", [
    ("http://localhost:8265", "(the cluster's GCS port, 6379 by default, not the dashboard's)"),
    ("localhost:99999", "(a port 1 to 65535)"), ("localhost:0", "(a port 1 to 65535)"), ("nonsense", "(a port 1 to 65535)")])
def test_a_dashboard_url_or_a_port_out_of_range_is_a_format_error(tmp_path: Path, data_dir: Path, address: str,
                                                                   says: str, capsys: pytest.CaptureFixture[str]) -> None:
    """New-user finding: the dashboard's URL was read as host "http" ("Name or service not known"),
    and port 99999 was tried ("Connection refused")."""
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n')
    for dry in ([], ["--dry-run"]):  # (helper-241: a dry run let "nonsense" through)
        assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir), "--backend", "ray",
                     "--address", address, *dry]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f'error: --address "{address}": expected auto, HOST:PORT') and says in line, line
        assert not (tmp_path / "s").exists()


def test_ray_not_installed_is_one_line_before_training(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError, as without Ray
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n')
    for command in ("run", "search"):
        target = p if command == "run" else write(tmp_path, RAY_SEARCH, "srch.toml")
        assert main([command, str(target), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir),
                     "--backend", "ray"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.splitlines() == ["error: --backend ray needs Ray, which is not installed: pip install 'mnistlab[ray]'"]
        assert not (tmp_path / "s").exists()
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--address", "auto"]) == 2  # --address without ray
    assert "--address needs --backend ray" in capsys.readouterr().err
    by_file = write(tmp_path, '[resources]\nbackend = "ray"\n' + TINY + '[[variants]]\nname = "a"\n', "file.toml")
    assert main(["run", str(by_file), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]) == 2
    assert capsys.readouterr().err.splitlines() == [  # helper-115: it blamed a flag the user never gave
        """error: [resources] backend = "ray" needs Ray, which is not installed: pip install 'mnistlab[ray]'"""]


# ------------------------------------------------------------------------------ search on Ray
RAY_SEARCH = """
name = "raysrch"
[base]
dataset = "mnist"
model = { dense = [16] }
[base.data]
subset = 240
validation = 0.25
[base.train]
epochs = 3
batch_size = 30
[search]
"train.lr" = { choice = [0.01, 0.011, 0.012, 0.013, 1e-7, 1.1e-7, 1.2e-7, 1.3e-7] }
sampler = "grid"
pruner = "median"
"""


def test_a_search_with_an_address_that_does_not_answer_leaves_no_store(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    p = write(tmp_path, RAY_SEARCH)
    assert main(["search", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir), "--backend", "ray",
                 "--address", address]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and address in err and "Traceback" not in err
    assert not (tmp_path / "s").exists()  # the backend is tried before the store is made


def test_a_search_on_ray_prunes_through_the_driver_and_records_the_local_table(tmp_path: Path, data_dir: Path,
                                                                               ray_address: str) -> None:
    from mnistlab.comparison import compare
    from mnistlab.search import run_search, trial_rows

    p = write(tmp_path, RAY_SEARCH)
    local, on_ray = RunStore(tmp_path / "local"), RunStore(tmp_path / "ray")
    run_search(p, local, data_dir=data_dir)
    res = run_search(p, on_ray, data_dir=data_dir, runner=RayRunner())
    assert len(res.trials) == 8
    got, want = trial_rows(on_ray.runs(experiment="raysrch")), trial_rows(local.runs(experiment="raysrch"))
    assert [(t["trial"], t["params"]) for t in got] == [(t["trial"], t["params"]) for t in want]
    states = [t["state"] for t in got]
    assert "pruned" in states[4:], states  # the lr=1e-7 trials: pruned on Ray too, by the driver's pruner
    for r in on_ray.runs(experiment="raysrch"):
        assert r.status == "finished" and len(r.history) == r.metrics["epochs_run"]
        if r.metrics["trial_state"] == "pruned":
            assert r.metrics["pruned_at_epoch"] == r.metrics["epochs_run"]
    # Which trials the median pruner stops depends on which had finished when they reported: Ray
    # trains two at once, and a worker that must first import torch starts seconds after a warm one
    # (under load, the warm one may finish four trials meanwhile). Trials that end alike: the local numbers.
    alike = [(a, b) for a, b in zip(got, want) if a["state"] == b["state"] == "complete"]
    assert len(alike) >= 3 and all(a["value"] == pytest.approx(b["value"]) for a, b in alike), (states, want)
    ray_rows, local_rows = compare(on_ray, "raysrch"), compare(local, "raysrch")
    assert [list(r) for r in ray_rows] == [list(r) for r in local_rows] and len(ray_rows) == 8
    ray_runs = {r.variant: r for r in on_ray.runs(experiment="raysrch")}
    for r in local.runs(experiment="raysrch"):  # every trial's record holds the keys it holds locally
        if ray_runs[r.variant].metrics["trial_state"] == r.metrics["trial_state"]:
            assert set(ray_runs[r.variant].metrics) == set(r.metrics)


def test_ctrl_c_to_a_search_on_ray_tells_each_trial_in_flight_and_asks_it_again(tmp_path: Path, data_dir: Path,
                                                                               ray_address: str) -> None:
    """Ctrl-C to the driver (a real SIGINT to the main thread) while both trials train on Ray: each
    is cancelled, recorded interrupted, said and told, and the next search asks both again."""
    import threading

    import optuna

    from mnistlab.search import run_search, storage_url

    text = RAY_SEARCH.replace("epochs = 3", "epochs = 400").replace('pruner = "median"', 'pruner = "none"')
    p = write(tmp_path, text.replace("[0.01, 0.011, 0.012, 0.013, 1e-7, 1.1e-7, 1.2e-7, 1.3e-7]", "[0.01, 0.02]"))
    st, said = RunStore(tmp_path / "s"), []

    returned = threading.Event()

    def stop_when_both_train() -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not returned.is_set():
            with contextlib.suppress(MnistlabError):  # the store not made yet, or busy
                if sum(r.status == "running" and bool(r.history) for r in RunStore(tmp_path / "s").runs()) == 2:
                    break
            time.sleep(0.05)
        if not returned.is_set():  # (after the search returned, it would end the test's process)
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    watcher = threading.Thread(target=stop_when_both_train)
    watcher.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_search(p, st, data_dir=data_dir, runner=RayRunner(cpus_per_cell=1), on_trial=said.append)
    finally:
        returned.set()
        watcher.join()
    assert sorted((t.number, t.state) for t in said) == [(0, "interrupted"), (1, "interrupted")]
    assert sorted(r.status for r in st.runs()) == ["interrupted", "interrupted"]
    study = optuna.load_study(study_name="raysrch", storage=storage_url(st.root))
    assert [t.state.name for t in study.trials] == ["FAIL", "FAIL", "WAITING", "WAITING"]  # told, and asked again


def test_a_stopped_search_trial_on_ray_continues_from_its_checkpoint(tmp_path: Path, data_dir: Path,
                                                                     ray_address: str) -> None:
    """A search trial on Ray kept no checkpoint (README, note 30): stopped, it was asked again and
    trained from its first epoch. Its worker's checkpoints now reach the store through the driver,
    as a cell's do; the trial asked again continues from there, and once recorded its checkpoint goes."""
    import threading

    from mnistlab.search import run_search

    text = (RAY_SEARCH.replace("epochs = 3", "epochs = 24").replace("batch_size = 30", "batch_size = 10")
            .replace("subset = 240", "subset = 1200").replace('pruner = "median"', 'pruner = "none"')
            .replace("[0.01, 0.011, 0.012, 0.013, 1e-7, 1.1e-7, 1.2e-7, 1.3e-7]", "[0.01, 0.02]"))
    p, st = write(tmp_path, text), RunStore(tmp_path / "s")

    returned = threading.Event()

    def stop_once_trained_two_epochs() -> None:
        # Both trials stopped after their second epoch, or (a busy machine starts Ray's second worker
        # late) one stopped so while the other had already finished: either way a stopped trial to resume.
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not returned.is_set():
            with contextlib.suppress(MnistlabError):
                runs = RunStore(tmp_path / "s").runs()
                kept = list((tmp_path / "s").glob("checkpoints/*/*/last.pt"))  # each worker's, through the driver
                going = sum(r.status == "running" and len(r.history) >= 2 for r in runs)
                if going and len(kept) >= going and going + sum(r.status == "finished" for r in runs) == 2:
                    break
            time.sleep(0.05)
        if not returned.is_set():  # a signal after the search returned would end the test's process, not the search
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    watcher = threading.Thread(target=stop_once_trained_two_epochs)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MNISTLAB_CHECKPOINT_EVERY", "0")  # the driver's setting: a checkpoint at each epoch's end
        watcher.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                run_search(p, st, data_dir=data_dir, runner=RayRunner(cpus_per_cell=1))
        finally:
            returned.set()
            watcher.join()
        stopped = {r.config_hash: r.status for r in st.runs()}  # (a trial asked again is another trial, its point the same)
        resumed = sorted(h for h, status in stopped.items() if status == "interrupted")
        assert len(stopped) == 2 and resumed and set(stopped.values()) <= {"interrupted", "finished"}, stopped
        assert len(list((tmp_path / "s").glob("checkpoints/*/*/last.pt"))) == len(resumed)  # each kept in the store
        said: list[Any] = []
        run_search(p, st, data_dir=data_dir, runner=RayRunner(cpus_per_cell=1), on_trial=said.append)
    again = {r.config_hash: r for r in st.runs() if r.status == "finished"}
    assert len(again) == 2 and [t.state for t in said] == ["complete"] * len(resumed)
    for point in resumed:
        run = again[point]
        assert run.metrics["resumed_from_epoch"] >= 1 and len(run.history) == 24, run.metrics  # continued, whole
    assert not list((tmp_path / "s").glob("checkpoints/*/*/last.pt"))  # recorded: their checkpoints are gone


def test_ray_cells_write_their_epochs_to_the_store_as_they_train(tmp_path: Path, data_dir: Path,
                                                                 ray_address: str) -> None:
    import threading

    # 12 epochs: the first is written at once and the rest take over a second, long enough for the
    # watcher to look in on a busy machine (4 epochs ended between two of its looks on a CI runner)
    exp = write(tmp_path, SLOW.replace("repeats = 4", "repeats = 1").replace("epochs = 4", "epochs = 12"))
    seen: list[list[dict]] = []
    stop = threading.Event()

    def look() -> None:  # what `mnistlab watch` reads: a running run's history
        with RunStore(tmp_path / "s") as st:
            while not stop.is_set():
                try:
                    seen.extend(r.history for r in st.runs() if r.status == "running" and r.history)
                except MnistlabError:  # busy: look again
                    pass
                time.sleep(0.02)

    (tmp_path / "s").mkdir()
    RunStore(tmp_path / "s").runs()  # the database exists before the watcher opens it
    watcher = threading.Thread(target=look)
    watcher.start()
    try:
        res = run_experiment(exp, tmp_path / "s", data_dir=data_dir, runner=RayRunner())
    finally:
        stop.set()
        watcher.join()
    assert res.outcomes[0].record.status == "finished"
    assert seen, "no epoch reached the store while the cell trained"
    assert all(h[-1]["epochs"] == 12 and h[-1]["epoch"] == len(h) for h in seen)
    assert min(len(h) for h in seen) < 12  # seen mid-run, not only as it ended


# --------------------------------------------------------------------------- per-cell resources
RESOURCES = TINY + '''[[variants]]
name = "a"
[[variants]]
name = "b"
resources = { cpus = 1 }
"train.lr" = 0.01
'''


def test_resources_from_the_file_and_a_variant_flags_override_both(tmp_path: Path, data_dir: Path,
                                                                   ray_address: str) -> None:
    from mnistlab.backends import runner_for
    from mnistlab.experiments import load_experiment

    p = write(tmp_path, '[resources]\nbackend = "ray"\ncpus_per_cell = 2\n' + RESOURCES)
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir)]) == 0  # Ray, from the file
    threads = {r.variant: r.env["threads"] for r in RunStore(tmp_path / "s").runs()}
    assert threads == {"a": 2, "b": 1}  # the file's 2 CPUs a cell, variant b's own 1
    exp = load_experiment(p)
    cells = {c.variant: c for c in exp.cells()}
    flagged = runner_for(exp.resources, cpus_per_cell=1.5, gpus_per_cell=0)
    assert flagged is not None and flagged.fixed == (True, True)
    assert flagged.cell_resources(cells["a"]) == flagged.cell_resources(cells["b"]) == (1.5, 0.0)  # the flag wins
    from_file = runner_for(exp.resources)
    assert from_file is not None and from_file.cell_resources(cells["a"]) == (2.0, 0.0)
    assert from_file.cell_resources(cells["b"]) == (1.0, 0.0)
    assert runner_for(exp.resources, backend="local") is None  # --backend local beats the file's ray
    with pytest.raises(SpecError, match="a GPU fraction must be at most 1"):
        runner_for(exp.resources, gpus_per_cell=1.5)


def test_a_variant_asking_more_than_the_cluster_has_is_one_line_before_training(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], ray_address: str) -> None:
    p = write(tmp_path, RESOURCES.replace("cpus = 1", "cpus = 64"))
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir), "--backend", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == ['error: variant "b" asks for 64 CPUs and 0 GPUs per cell; the Ray cluster has 2 CPUs '
                                "and 0 GPUs"], err
    assert not (tmp_path / "s").exists()  # refused before the store was made


def test_a_search_whose_trials_ask_more_than_the_cluster_has_is_one_line_before_the_store(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], ray_address: str) -> None:
    p = write(tmp_path, RAY_SEARCH)
    assert main(["search", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir), "--backend", "ray",
                 "--cpus-per-cell", "64"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == ['error: variant "raysrch (each trial)" asks for 64 CPUs and 0 GPUs per cell; '
                                "the Ray cluster has 2 CPUs and 0 GPUs"], err
    assert not (tmp_path / "s").exists()


def test_ctrl_c_while_ray_shuts_down_after_the_last_cell_says_what_was_recorded(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        ray_address: str) -> None:
    """A driver that started its own Ray shuts it down after the last cell (seconds): a Ctrl-C then
    used to print a bare "interrupted". Here Ray's own start and stop are replaced (the session's Ray
    serves the cells) by a stop that is interrupted, as by Ctrl-C."""
    def interrupted_shutdown(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # so the driver "starts" (and later stops) Ray
    monkeypatch.setattr(ray, "init", lambda *args, **kwargs: None)
    monkeypatch.setattr(ray, "shutdown", interrupted_shutdown)
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n"train.lr" = 0.01\n')
    with pytest.raises(SystemExit) as stopped:
        main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir), "--backend", "ray"])
    err = capsys.readouterr().err.strip()
    assert stopped.value.code == 130
    assert err.splitlines()[-1] == ("interrupted by SIGINT after the cells: 2 of 2 runs of exp finished and recorded, "
                                    "0 failed, none left; `mnistlab compare exp` shows the table"), err
    assert [r.status for r in RunStore(tmp_path / "s").runs()] == ["finished", "finished"]


def test_mnistlab_search_backend_ray_from_the_command_line(tmp_path: Path, data_dir: Path,
                                                           capsys: pytest.CaptureFixture[str], ray_address: str) -> None:
    text = (RAY_SEARCH.replace("epochs = 3", "epochs = 1").replace('sampler = "grid"', 'sampler = "grid"\ntrials = 2')
            + '[resources]\ncpus_per_cell = 1\n')
    p = write(tmp_path, text)
    assert main(["search", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir), "--backend", "ray"]) == 0
    out = capsys.readouterr().out
    assert "trial-0000" in out and "trial-0001" in out and "(#1 complete)" in out
    runs = RunStore(tmp_path / "s").runs(experiment="raysrch")
    assert len(runs) == 2 and all(r.status == "finished" and r.env["threads"] == 1 for r in runs)
    assert main(["search", str(p), "--store", str(tmp_path / "s"), "--backend", "local", "--address", "auto"]) == 2
    assert "--address needs --backend ray" in capsys.readouterr().err


def _hold(release: str, mark: str) -> None:
    """Another job: holds its CPUs until ``release`` exists (60 s at most)."""
    Path(mark).touch()
    deadline = time.monotonic() + 60
    while not Path(release).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@contextlib.contextmanager
def another_job_holding_the_cluster(tmp_path: Path, look: Any = None) -> Iterator[RayRunner]:
    """A Ray job holds both CPUs until the yielded runner has said that it waits (then ``look()``,
    when given, is called, the job ends, and the runner's tasks start)."""
    import threading

    mark, release = tmp_path / "holding", tmp_path / "release"
    holder = ray.remote(num_cpus=2)(_hold).remote(str(release), str(mark))
    deadline = time.monotonic() + 30
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mark.exists()
    runner = RayRunner()
    runner.wait_say_seconds = 0.5  # 10 s by default

    def release_once_said() -> None:  # (or after a minute: a runner that never says it fails its test, not hangs)
        until = time.monotonic() + 60
        while not runner._said_waiting and not release.exists() and time.monotonic() < until:
            time.sleep(0.05)
        try:
            if look is not None and runner._said_waiting:
                look()
        finally:
            release.touch()

    threading.Thread(target=release_once_said, daemon=True).start()
    try:
        yield runner
    finally:
        release.touch()
        ray.get(holder)


def test_a_cell_waiting_for_resources_taken_by_others_says_so(tmp_path: Path, data_dir: Path, ray_address: str,
                                                              capfd: pytest.CaptureFixture[str]) -> None:
    from mnistlab.live import progress_said, summary, sweep_status

    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n')
    seen: list[str] = []

    def look() -> None:  # what `mnistlab watch` and `mnistlab show` say of the cell while it waits (note 40)
        with RunStore(tmp_path / "s") as st:
            seen.extend([summary(sweep_status(st, "exp")), progress_said(st.runs()[0], time.time())])

    with another_job_holding_the_cluster(tmp_path, look) as runner:
        res = run_experiment(p, tmp_path / "s", data_dir=data_dir, runner=runner)
    assert [o.record.status for o in res.outcomes] == ["finished"]  # it trained once the other job ended
    err = capfd.readouterr().err
    assert err.count("warning: waiting for Ray resources") == 1, err
    assert "warning: waiting for Ray resources: 1 CPU per cell, the cluster has 0 CPUs free (other jobs" in err, err
    assert seen[0].startswith("exp: 0/1 done, 0 running, 1 queued, 0 left"), seen
    assert seen[1].startswith("progress none yet: 0:0") and "waiting for a Ray worker" in seen[1], seen
    assert res.outcomes[0].record.message == ""


def test_a_cell_asking_for_the_whole_cluster_held_by_another_job_is_said_to_wait(
        tmp_path: Path, data_dir: Path, ray_address: str, capfd: pytest.CaptureFixture[str]) -> None:
    """helper-115: cells of 2 CPUs each, another job holding the 2-CPU cluster: never said (the
    busy CPUs were taken for this sweep's own queued task, "still starting"). A task unstarted past
    ``starting_seconds`` (30 s; 1 here) is queued: its CPUs are not the busy ones."""
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n')
    with another_job_holding_the_cluster(tmp_path) as runner:
        runner.cpus_per_cell, runner.starting_seconds = 2.0, 1.0
        res = run_experiment(p, tmp_path / "s", data_dir=data_dir, runner=runner)
    assert [o.record.status for o in res.outcomes] == ["finished"]
    assert "warning: waiting for Ray resources: 2 CPUs per cell, the cluster has 0 CPUs free" in capfd.readouterr().err


def test_a_search_trial_waiting_for_resources_taken_by_others_says_so(tmp_path: Path, data_dir: Path,
                                                                       ray_address: str,
                                                                       capfd: pytest.CaptureFixture[str]) -> None:
    from mnistlab.search import run_search

    p = write(tmp_path, RAY_SEARCH.replace("epochs = 3", "epochs = 1").replace('sampler = "grid"',
                                                                              'sampler = "grid"\ntrials = 1'))
    queued: list[bool] = []

    def look() -> None:
        from mnistlab.live import running_cell

        with RunStore(tmp_path / "s") as st:
            queued.extend(running_cell(r, time.time()).queued for r in st.runs(status="running"))

    with another_job_holding_the_cluster(tmp_path, look) as runner:
        res = run_search(p, tmp_path / "s", data_dir=data_dir, runner=runner)
    assert [t.state for t in res.trials] == ["complete"]
    assert capfd.readouterr().err.count("warning: waiting for Ray resources: 1 CPU per cell") == 1
    assert queued == [True]


def test_a_sweep_whose_own_workers_are_starting_is_not_said_to_wait(tmp_path: Path, data_dir: Path, ray_address: str,
                                                                    capfd: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\nrepeats = 2\n')
    runner = RayRunner()
    runner.wait_say_seconds = 0.0  # every poll while a worker imports torch would say it, were the CPUs not its own
    res = run_experiment(p, tmp_path / "s", data_dir=data_dir, runner=runner)
    assert [o.record.status for o in res.outcomes] == ["finished"] * 2
    assert "waiting for Ray resources" not in capfd.readouterr().err


def test_jobs_on_ray_warn_that_ray_decides(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str],
                                           ray_address: str) -> None:
    p = write(tmp_path, TINY + '[[variants]]\nname = "a"\n')
    assert main(["run", str(p), "--store", str(tmp_path / "s"), "--data-dir", str(data_dir), "--backend", "ray",
                 "-j", "2"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warned == ["warning: -j 2 applies to the local backend: on Ray the cells' resources decide how many train "
                      "at once (see --cpus-per-cell)"]


def test_jobs_on_ray_for_a_search_speak_of_trials(ray_address: str) -> None:
    """helper-115: `search --backend ray -j 2` warned that "the cells' resources" decide."""
    from mnistlab.backends import close, runner_for
    from mnistlab.errors import SpecWarning
    from mnistlab.experiments import Resources

    with pytest.warns(SpecWarning, match=r"-j 2 applies to the local backend: on Ray the trials' resources decide"):
        runner = runner_for(Resources(), backend="ray", jobs=2, unit="trials")
    close(runner)


_TWO_NODES = """
import sys
from ray.cluster_utils import Cluster
import ray
from mnistlab.backends import runner_for
from mnistlab.errors import SpecError
from mnistlab.experiments import load_experiment

cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
cluster.add_node(num_cpus=1)
cluster.wait_for_nodes()
ray.init(address=cluster.address, log_to_driver=False)
exp = load_experiment(sys.argv[1])
runner = runner_for(exp.resources, backend="ray", address=cluster.address)
try:
    runner.check_fits(exp.cells())
    print("fits")
except SpecError as exc:
    print(exc)
finally:
    ray.shutdown()
    cluster.shutdown()
"""


def test_a_cell_larger_than_every_node_is_refused_though_the_cluster_has_enough_in_all(tmp_path: Path) -> None:
    """helper-185: two nodes of 1 CPU took a cell of 2 CPUs (the cluster's sum), whose task then
    waited forever without a word: a task runs on one node. A real two-node Ray, in a process of its
    own (this session's Ray is one node)."""
    p = write(tmp_path, RESOURCES.replace("resources = { cpus = 1 }", "resources = { cpus = 2 }"))
    done = subprocess.run([sys.executable, "-c", _TWO_NODES, str(p)], capture_output=True, text=True, timeout=240)
    said = done.stdout.strip().splitlines()
    assert said and said[-1] == ('variant "b" asks for 2 CPUs and 0 GPUs per cell; no node of the Ray cluster has that '
                                 "many (its largest: 1 CPU and 0 GPUs; 2 nodes, 2 CPUs and 0 GPUs in all), and a cell's "
                                 "task runs on one node"), (done.stdout, done.stderr[-2000:])


def test_runs_trained_by_another_mnistlab_on_the_workers_are_said_once(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """helper-185: a cluster started from another environment imported its own mnistlab (another
    commit, edited); its runs were recorded under this driver's keys, and nothing was said."""
    from mnistlab.backends import RayRunner
    from mnistlab.run import environment

    store = RunStore(tmp_path)
    mine = environment(torch.device("cpu"))
    ids = []
    for version in (mine["mnistlab"], "9.9.9", "9.9.8"):
        rid = store.start_run(experiment="e", variant=version, seed=0, member=0, config={}, config_hash=version)
        store.finish_run(rid, status="finished", history=[], metrics={}, env={**mine, "mnistlab": version})
        ids.append(rid)
    runner = RayRunner()
    records = [store.get(i) for i in ids]
    assert runner.say_other_code(records[:1]) is False and capsys.readouterr().err == ""  # the same code: nothing
    assert runner.say_other_code(records) is True
    err = capsys.readouterr().err
    assert err.startswith("warning: the Ray workers run another mnistlab (version 9.9.9, commit ") and err.count("\n") == 1
    assert runner.say_other_code(records[2:]) is False and capsys.readouterr().err == ""  # once


def test_a_workers_warnings_are_said_by_the_driver_naming_the_stores_checkpoint(tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """helper-185: a cell whose checkpoint in the store was damaged said so on the local backend; on
    Ray only `mnistlab show` had it, naming the worker's temporary copy (/tmp/mnistlab-ray-cell-321)."""
    from mnistlab.backends import say_worker_warnings
    from mnistlab.errors import said_afresh

    said_afresh()
    store = RunStore(tmp_path / "s")
    rid = store.start_run(experiment="e", variant="v", seed=0, member=0, config={}, config_hash="h")
    copy = "/tmp/mnistlab-ray-cell-321/last.pt: not a readable mnistlab checkpoint (truncated?): trained afresh"
    store.finish_run(rid, status="finished", history=[], metrics={"warnings": [copy]}, env={})
    folder = tmp_path / "s" / "checkpoints" / "ab12" / "cd34"
    say_worker_warnings([store.get(rid)], folder)
    assert capsys.readouterr().err == (f"warning: {folder}/last.pt: not a readable mnistlab checkpoint (truncated?): "
                                       "trained afresh\n")
    say_worker_warnings([store.get(rid)], folder)  # said once, as every warning line of a command
    assert capsys.readouterr().err == ""


_GROWS = """
import json, sys, threading, time
from pathlib import Path
from ray.cluster_utils import Cluster
import ray
from mnistlab.backends import RayRunner, close
from mnistlab.execute import run_experiment, train_cells

marks = Path(sys.argv[2])


def slow(task, indices, callbacks=(), checkpoint_dir=None):  # each cell holds its node for 6 s, noted
    start = time.time()
    time.sleep(6)
    out = train_cells(task, indices, callbacks=callbacks, checkpoint_dir=checkpoint_dir)
    (marks / task.cells[indices[0]].variant).write_text(json.dumps([start, time.time()]))
    return out


cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
ray.init(address=cluster.address, log_to_driver=False)
runner = RayRunner(train=slow)
statuses = []
sweep = threading.Thread(target=lambda: statuses.extend(o.record.status for o in run_experiment(
    sys.argv[1], sys.argv[3], data_dir=sys.argv[4], runner=runner, progress="none").outcomes))
try:
    sweep.start()
    time.sleep(3)
    cluster.add_node(num_cpus=1)  # a node joins as the first cell trains (Ray adds nodes from the main thread)
    sweep.join()
    print(json.dumps(statuses))
finally:
    close(runner)
    ray.shutdown()
    cluster.shutdown()
"""


def test_a_node_that_joins_mid_sweep_takes_cells(tmp_path: Path, data_dir: Path) -> None:
    """helper-185: the cells in flight were fixed at the start from the cluster's room, so a node
    added mid-sweep stayed idle. A real Ray cluster of one 1-CPU node in a process of its own, a
    second node added 3 s into a sweep of three cells of 6 s and more: two cells train at once."""
    p = write(tmp_path, TINY + "".join(f'[[variants]]\nname = "{v}"\n"train.lr" = 0.0{i + 1}\n'
                                        for i, v in enumerate("abc")))
    marks = tmp_path / "marks"
    marks.mkdir()
    done = subprocess.run([sys.executable, "-c", _GROWS, str(p), str(marks), str(tmp_path / "s"), str(data_dir)],
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.strip().splitlines()[-1:] == ['["finished", "finished", "finished"]'], done.stderr[-3000:]
    spans = sorted(json.loads(f.read_text()) for f in marks.iterdir())
    overlaps = [a[1] > b[0] for a, b in zip(spans, spans[1:])]
    assert any(overlaps), spans  # one after another on the first node alone
