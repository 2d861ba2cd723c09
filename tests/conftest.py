"""Shared fixtures: the real dataset folder and an isolated environment for every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


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
    """Keep tests away from the user's cache and run store (each test gets its own store)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(_session_cache))
    monkeypatch.setenv("MNISTLAB_STORE", str(tmp_path / "mnistlab-runs"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
