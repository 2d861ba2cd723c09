"""Shared fixtures: the real dataset folder, an isolated environment for every test, a recorded store."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from mnistlab.config import parse_run_config, run_key
from mnistlab.store import RunStore
from mnistlab.run import run_config

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
if os.environ.get("MNISTLAB_DATA_DIR"):  # tests chdir: a relative folder would name another one there
    os.environ["MNISTLAB_DATA_DIR"] = str(Path(os.environ["MNISTLAB_DATA_DIR"]).resolve())

# A suite started in the background by a non-interactive shell (`bash .ci/run &`) inherits SIGINT
# ignored, and so would every mnistlab process the Ctrl-C tests start: Python installs its
# KeyboardInterrupt handler only where SIGINT is not ignored. Handling it here gives each child the
# default disposition again, as a terminal's foreground job has.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked ``long`` first, the rest in file order. scripts/test.sh runs the suite in
    two pytest-xdist processes, which take the tests in this order (the Ray tests, one group, before
    all): a long test taken last would leave one process working alone at the end (longest first
    keeps both busy to the end). Run alone, only the order changes."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)  # stable: file order within each part


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding the canonical `mnist/` and `fashion-mnist/` IDX files.

    MNISTLAB_DATA_DIR wins (CI sets it); otherwise the `../shared/datasets` beside the checkout.
    """
    path = Path(os.environ.get("MNISTLAB_DATA_DIR") or SHARED_DATASETS).resolve()  # tests chdir
    if not (path / "mnist").is_dir():
        pytest.fail(f"real datasets not found at {path}: set MNISTLAB_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One decoded-dataset cache for the whole session: tests stay fast and never touch ~/.cache.
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _isolated_home(_session_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests away from the user's cache and run store (each test gets its own store), and off
    the network: a dataset missing from the folder a test gives is not downloaded (nothing listens
    at port 9), so it fails at once instead of waiting on a mirror the CI machine cannot reach."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(_session_cache))
    monkeypatch.setenv("MNISTLAB_MIRRORS", "http://127.0.0.1:9/")
    monkeypatch.setenv("MNISTLAB_STORE", str(tmp_path / "mnistlab-runs"))
    monkeypatch.setenv("MPLBACKEND", "Agg")


def _record(store: RunStore, experiment: str, variant: str, model: str, seed: int, data_dir: Path) -> str:
    cfg = parse_run_config({"dataset": "fashion-mnist", "model": model,
                            "data": {"subset": 600, "validation": 0.2}, "train": {"epochs": 2, "seed": seed}})
    result = run_config(cfg, data_dir=data_dir, progress="none")
    assert result.status == "finished", result.message
    run_id = store.start_run(experiment=experiment, variant=variant, seed=seed, member=0, config=result.config,
                             config_hash=run_key(result.config), repeat=seed)
    store.finish_run(run_id, status=result.status, history=result.history, metrics=result.metrics, env=result.env,
                     weights=result.model.state_dict(), predictions=result.test_probs)
    return run_id


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, dict[str, str]]:
    """A store with experiment "tiny": cnn x2 seeds, a dense variant named "<script>alert(1)</script>",
    one failed run. Returns (store root, run ids); test_views.py and test_report.py read it, never write."""
    experiment, hostile = "tiny", "<script>alert(1)</script>"
    root = tmp_path_factory.mktemp("store")
    store = RunStore(root)
    ids = {"cnn0": _record(store, experiment, "cnn", "seed000-cnn", 0, data_dir),
           "cnn1": _record(store, experiment, "cnn", "seed000-cnn", 1, data_dir),
           "dense": _record(store, experiment, hostile, "seed000-dense", 0, data_dir)}
    failed = store.start_run(experiment=experiment, variant="broken", seed=0, member=0, config={"dataset": "mnist"},
                             config_hash="x")
    store.finish_run(failed, status="failed", history=[], metrics={}, env={}, message="<b>boom</b>")
    ids["failed"] = failed
    return root, ids


@pytest.fixture
def truncated_store_head(tmp_path: Path) -> bytes:
    """The first 5,000 bytes of another store's runs.sqlite (30 runs): what `head -c 5000 other.sqlite
    > runs.sqlite` writes over a store's database, a file SQLite opens and cannot read (helper-156)."""
    import sqlite3

    other = RunStore(tmp_path / "other")
    for i in range(30):
        other.start_run(experiment="x", variant=f"v{i}", seed=0, member=0, config={"c": "x" * 200}, config_hash=f"k{i}")
    other.close()
    with sqlite3.connect(other.root / "runs.sqlite") as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return (other.root / "runs.sqlite").read_bytes()[:5000]


@pytest.fixture
def two_threads():
    """torch on two threads for the test (per-thread work splits need two, even on one core), then as before."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


USE_TOML = """
name = "use"
[base]
dataset = "mnist"
model = "seed000-dense"
[base.data]
subset = 12000
[base.train]
epochs = 2
batch_size = 64
[[variants]]
name = "dense"
repeats = 2
[[variants]]
name = "committee"
committee = 2
"""


@pytest.fixture(scope="session")
def mnist_models(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A store with experiment "use" on MNIST (a 12,000-image subset, 2 epochs of seed000-dense):
    variant "dense" trained twice (seeds 0, 1) and variant "committee" (2 members, scored).
    For predict, export and card tests (test_predict_cli.py, test_export.py); read, never written."""
    from mnistlab.execute import run_experiment

    root = tmp_path_factory.mktemp("use-store")
    (root / "use.toml").write_text(USE_TOML)
    result = run_experiment(root / "use.toml", RunStore(root / "store"), data_dir=data_dir)
    assert all(r.status == "finished" for r in RunStore(root / "store").runs()), result
    return root / "store"


def read_terminal(leader: int, prompt: bytes = b"", answer: bytes = b"") -> bytes:
    """Everything a child writes on the terminal whose leader end is ``leader`` (a ``pty.openpty()``
    pair whose follower end the caller has closed), until it closes it; ``answer`` is typed once
    ``prompt`` has been written. Closes ``leader``."""
    said, answered = b"", not prompt
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        said += chunk
        if not answered and prompt in said:
            os.write(leader, answer)
            answered = True
    os.close(leader)
    return said


@contextmanager
def read_only_store(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """While inside, the store at ``root`` as on a read-only mount: neither its folder nor its files
    can be written (root ignores file modes, so the OS's answer to ``os.access`` is what the test
    sets; SQLite then opens the database read-only for real). Its modes come back after."""
    for p in [root, *root.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if mode & os.W_OK and str(p).startswith(str(root))
                        else real_access(p, mode, **kw))
    try:
        yield
    finally:
        for p in [root, *root.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        monkeypatch.setattr(os, "access", real_access)
