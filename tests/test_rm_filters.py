"""`mnistlab rm --status/--older-than`: deleting the runs that match (MLflow's `gc --older-than`),
of the store or of an experiment; a real store, runs recorded through its own API."""

from __future__ import annotations

import json
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
    assert code == 0 and "no runs match (started before 20" in out and "nothing deleted" in out and len(store.runs()) == 5
    code, out = _cli(capsys, "rm", "--older-than", "2999-01-01", "-s", "finished", *where)
    assert code == 0 and "deleted 2 runs" in out and {r.status for r in store.runs()} == {"failed", "diverged"}


@pytest.mark.parametrize("args, said", [
    (["-s", "nope"], 'unknown status "nope"'),
    (["--older-than", "yesterday"], "--older-than: expected a date or time"),
    (["abc123", "-s", "failed"], "give run ids, or --experiment NAME / --status / --older-than / --tag / --where to choose "
                                 "runs, not both"),
    ([], "give run ids, --experiment NAME, or --status / --older-than / --tag / --where"),
    (["-s", "failed", "-e", "no-such-experiment"], "no-such-experiment"),
    (["--older-than", "1M"], "spans are in s, m (minutes), h, d, w; a month is 30d"),  # (helper-204: 1M was a minute)
    (["--older-than", "1y"], "a month is 30d"),
    (["--dry-run"], "give run ids, --experiment NAME, or --status / --older-than / --tag / --where"),
    (["--older-than", "99999999999999999999d"], "reaches back further than 100 years"),  # (helper-205: a traceback)
    (["--older-than", "0001-01-01"], "out of the range of dates"),
    (["--keep-tag", "keep", "abc123"], "--keep-tag goes with --status / --older-than / --tag / --where"),
])
def test_rm_filters_refuse_mistakes_and_delete_nothing(args: list[str], said: str, store: RunStore,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(capsys, "rm", *args, "--store", str(store.root), "--yes")
    assert code == 2 and said in out and "Traceback" not in out and len(store.runs()) == 5


def test_rm_dry_run_of_run_ids_or_an_experiment_says_what_would_go_and_deletes_nothing(
        store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    """helper-252: `rm RUN --dry-run` and `rm -e NAME --dry-run` were refused: a script could not preview a delete."""
    first = store.runs()[0]
    code, out = _cli(capsys, "rm", first.run_id, "--dry-run", "--store", str(store.root))
    assert code == 0 and f"would delete 1 run ({first.run_id} {first.experiment}/" in out and "nothing deleted" in out
    code, out = _cli(capsys, "rm", "-e", first.experiment, "--dry-run", "--store", str(store.root))
    assert code == 0 and "would delete all " in out and f"of {first.experiment}" in out
    assert len(store.runs()) == 5


def test_rm_dry_run_lists_what_would_go_and_keep_tag_spares_runs(store: RunStore,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from mnistlab.notes import write_notes

    failed = [r.run_id for r in store.runs(status="failed")]
    write_notes(store, failed[0], add=["keep"])
    where = ["--store", str(store.root)]
    code, out = _cli(capsys, "rm", "-s", "failed", "--dry-run", *where)
    assert code == 0 and "would delete 2 runs (status failed):" in out and all(r in out for r in failed)
    assert "tags keep" in out and len(store.runs()) == 5  # (helper-204: no way to see what would go)
    code, out = _cli(capsys, "runs", "-s", "failed", "--older-than", "2999-01-01", "--format", "json", *where)
    assert sorted(r["run_id"] for r in json.loads(out)) == sorted(failed)  # what rm --older-than would choose
    code, out = _cli(capsys, "rm", "-s", "failed", "--keep-tag", "keep", "--yes", *where)
    assert code == 0 and "deleted 1 run (status failed); 1 run tagged keep left" in out
    assert [r.run_id for r in store.runs(status="failed")] == [failed[0]]


def test_rm_tag_and_where_delete_the_runs_runs_lists_so(store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    # note 58's leftover (an MLflow user, helper-252): `runs --tag/--where` chose runs, `rm` could not
    flags = ["--store", str(store.root), "--yes"]
    ids = {(r.experiment, r.variant): r.run_id for r in store.runs()}
    store.note([ids["a", "bad"], ids["b", "ok"]], tags=["junk"])
    store.note(ids["b", "ok"], tags=["keep"])
    code, out = _cli(capsys, "rm", "--tag", "junk", "--keep-tag", "keep", "--dry-run", *flags)
    assert code == 0 and "would delete 1 run (tagged junk); 1 run tagged keep left:" in out and ids["a", "bad"] in out
    assert len(store.runs()) == 5
    code, out = _cli(capsys, "rm", "-e", "a", "--where", "status=diverged", *flags)
    assert code == 0 and "deleted 1 run (of a, where status=diverged)" in out
    code, out = _cli(capsys, "rm", "--tag", "junk", *flags)
    assert code == 0 and "deleted 2 runs (tagged junk)" in out
    assert _left(store) == [("a", "ok"), ("b", "bad")]
    for bad, said in ((["--where", "lr=="], "--where"), (["--tag", "junk", ids["a", "ok"]], "not both")):
        code, out = _cli(capsys, "rm", *bad, *flags)
        assert code == 2 and said in out and out.count("\n") == 1 and "Traceback" not in out
    assert _left(store) == [("a", "ok"), ("b", "bad")]
