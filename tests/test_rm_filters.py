"""`mnistlab rm --status/--older-than`: deleting the runs that match (MLflow's `gc --older-than`),
of the store or of an experiment; a real store, runs recorded through its own API."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnistlab.cli import main
from mnistlab.store import RunStore


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    st = RunStore(tmp_path / "store")
    for experiment, variant, status in (("a", "ok", "finished"), ("a", "bad", "failed"), ("a", "nan", "diverged"),
                                        ("b", "bad", "failed"), ("b", "ok", "finished")):
        rid = st.start_run(experiment=experiment, variant=variant, seed=0, member=0, config={"dataset": "mnist"},
                           config_hash=f"{experiment}{variant}")
        st.finish_run(rid, status=status, history=[{"epoch": 1, "loss": 0.3}], metrics={}, env={}, files=False)
    return st


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    got = capsys.readouterr()
    return code, got.out + got.err


def _left(st: RunStore) -> list[tuple[str, str]]:
    return sorted((r.experiment, r.variant) for r in st.runs())


def test_rm_deletes_the_runs_of_a_status_of_the_store_or_of_an_experiment(store: RunStore,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--store", str(store.root), "--yes"]
    code, out = _cli(capsys, "rm", "-s", "failed", "-e", "a", *where)
    assert code == 0 and "deleted 1 run (of a, status failed)" in out
    assert _left(store) == [("a", "nan"), ("a", "ok"), ("b", "bad"), ("b", "ok")]
    code, out = _cli(capsys, "rm", "-s", "failed,diverged", *where)
    assert code == 0 and "deleted 2 runs (status failed or diverged)" in out
    assert _left(store) == [("a", "ok"), ("b", "ok")]


def test_rm_older_than_deletes_what_started_before_then(store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--store", str(store.root), "--yes"]
    code, out = _cli(capsys, "rm", "--older-than", "1h", *where)
    assert code == 0 and "no runs match (started before 1h): nothing deleted" in out and len(store.runs()) == 5
    code, out = _cli(capsys, "rm", "--older-than", "2999-01-01", "-s", "finished", *where)
    assert code == 0 and "deleted 2 runs" in out and {r.status for r in store.runs()} == {"failed", "diverged"}


@pytest.mark.parametrize("args, said", [
    (["-s", "nope"], 'unknown status "nope"'),
    (["--older-than", "yesterday"], "--older-than: expected a date or time"),
    (["abc123", "-s", "failed"], "give run ids, or --experiment NAME / --status / --older-than to choose runs, not both"),
    ([], "give run ids, --experiment NAME, or --status / --older-than"),
    (["-s", "failed", "-e", "no-such-experiment"], "no-such-experiment"),
])
def test_rm_filters_refuse_mistakes_and_delete_nothing(args: list[str], said: str, store: RunStore,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(capsys, "rm", *args, "--store", str(store.root), "--yes")
    assert code == 2 and said in out and "Traceback" not in out and len(store.runs()) == 5
