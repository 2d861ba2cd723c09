"""The run store: SQLite in WAL mode, schema versions and migration, concurrent writers, ids, rm."""

from __future__ import annotations

import json
import os
import multiprocessing
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import read_only_store

from mnistlab.cli import main
from mnistlab.errors import StoreError
from mnistlab.store import (_SCHEMA_V1, PROCESS_START_SLACK, SCHEMA_VERSION, CommitteeRecord, RunStore, process_alive,
                            trained_here_now)


def _add(store: RunStore, variant: str = "v", status: str = "finished", acc: float = 0.5) -> str:
    rid = store.start_run(experiment="exp", variant=variant, seed=0, member=0, config={"dataset": "mnist"},
                          config_hash="h-" + variant)
    if status != "running":
        store.finish_run(rid, status=status, history=[{"epoch": 1, "loss": 0.3}], metrics={"test_accuracy": acc},
                         env={"torch": torch.__version__}, predictions=np.full((4, 10), 0.1, np.float32))
    return rid


def test_a_store_whose_schema_version_is_gone_says_how_to_rebuild_it(tmp_path: Path) -> None:
    """helper-158: "the schema version is missing or damaged" said no way out, where the other
    damaged-database errors name `mnistlab reindex`."""
    root = tmp_path / "s"
    _add(RunStore(root))
    with sqlite3.connect(root / "runs.sqlite") as con:
        con.execute("DELETE FROM schema_version")
    with pytest.raises(StoreError, match=f"schema version is missing or damaged .*`mnistlab reindex --store {root}` "
                                         "rebuilds it"):
        RunStore(root)


def test_a_run_record_shows_as_one_line(tmp_path: Path) -> None:
    """helper-157: in a notebook, store.runs() showed each run's whole config, history and
    environment (3,301 characters a run)."""
    store = RunStore(tmp_path / "s")
    rid = _add(store, "v", acc=0.9)
    running = _add(store, "w", status="running")
    assert repr(store.get(rid)) == (f"RunRecord(run_id='{rid}', experiment='exp', variant='v', seed=0, "
                                    "status='finished', epochs=1, test_accuracy=0.9000)")
    assert repr(store.get(running)).endswith("status='running', epochs=0)")


def test_wal_mode_and_schema_version(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "s")
    assert store.schema_version == SCHEMA_VERSION
    con = sqlite3.connect(tmp_path / "s" / "runs.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_default_root_comes_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNISTLAB_STORE", str(tmp_path / "elsewhere"))
    assert RunStore().root == tmp_path / "elsewhere"
    assert (tmp_path / "elsewhere" / "runs.sqlite").is_file()


def test_record_round_trip_and_status(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    rid = _add(store, status="running")
    assert store.get(rid).status == "running"
    assert (store.artifact_dir(rid) / "config.json").is_file()
    store.finish_run(rid, status="diverged", history=[{"loss": float("nan")}], metrics={"params": 3}, env={},
                     message="loss is nan")
    rec = store.get(rid)
    assert (rec.status, rec.message, rec.metrics, rec.finished_at is not None) == ("diverged", "loss is nan", {"params": 3}, True)
    assert np.isnan(rec.history[0]["loss"])
    with pytest.raises(StoreError, match="unknown final status"):
        store.finish_run(rid, status="done", history=[], metrics={}, env={})
    with pytest.raises(StoreError, match='did you mean "finished"'):
        store.runs(status="finshed")


def test_migrates_a_version_1_store(tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "runs.sqlite")
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for stmt in _SCHEMA_V1.split(";"):
        if stmt.strip():
            con.execute(stmt)
    con.execute("INSERT INTO schema_version VALUES (1)")
    con.execute("INSERT INTO runs VALUES ('abcdef0123', 'old', 'v', 3, 0, '{}', 'h', 'finished', '[]',"
                " '{\"test_accuracy\": 0.9}', '{}', 1.0, 2.0, '')")
    con.commit()
    con.close()
    store = RunStore(tmp_path)
    assert store.schema_version == SCHEMA_VERSION
    rec = store.get("abcdef")
    assert (rec.experiment, rec.seed, rec.repeat, rec.metrics["test_accuracy"]) == ("old", 3, 0, 0.9)
    assert store.committees("old") == []  # the table added by the migration exists


# The version 2 schema, written out here (not taken from store.py) so the test keeps a real old store.
_SCHEMA_V2 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, experiment TEXT NOT NULL, variant TEXT NOT NULL,
    seed INTEGER NOT NULL, member INTEGER NOT NULL, config TEXT NOT NULL, config_hash TEXT NOT NULL,
    status TEXT NOT NULL, history TEXT NOT NULL, metrics TEXT NOT NULL, env TEXT NOT NULL,
    created_at REAL NOT NULL, finished_at REAL, message TEXT NOT NULL DEFAULT '',
    repeat INTEGER NOT NULL DEFAULT 0, pid INTEGER NOT NULL DEFAULT 0, host TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_experiment ON runs (experiment, variant);
CREATE INDEX runs_hash ON runs (config_hash);
CREATE TABLE committees (experiment TEXT NOT NULL, variant TEXT NOT NULL, repeat INTEGER NOT NULL,
    accuracy REAL NOT NULL, member_ids TEXT NOT NULL, member_accuracies TEXT NOT NULL,
    created_at REAL NOT NULL, PRIMARY KEY (experiment, variant, repeat));
INSERT INTO schema_version VALUES (2);
"""


def test_migrates_a_version_2_store_to_one_meaning_of_config_hash(tmp_path: Path) -> None:
    import json

    from mnistlab.config import checkpoint_key, parse_run_config, run_key

    config = parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"epochs": 2}}).resolved()
    sweep_hash = run_key(config, version="0.2.0")  # what an experiment cell wrote
    train_hash = checkpoint_key(config)  # what `mnistlab train` wrote: another meaning in the same column
    rows = [
        ("aaaa000001", "train", "seed000-dense", train_hash, {"mnistlab": "0.1.0", "torch": "2.0"}, json.dumps(config)),
        ("bbbb000002", "sweep", "base", sweep_hash, {"mnistlab": "0.2.0"}, json.dumps(config)),
        ("cccc000003", "train", "seed000-dense", "failed-early", {}, json.dumps(config)),  # no env: no version
        ("dddd000004", "train", "odd", "damaged", {"mnistlab": "0.2.0"}, "{not json"),
    ]
    con = sqlite3.connect(tmp_path / "runs.sqlite")
    con.executescript(_SCHEMA_V2)
    for run_id, experiment, variant, config_hash, env, config_text in rows:
        con.execute("INSERT INTO runs VALUES (?, ?, ?, 0, 0, ?, ?, 'finished', '[]', '{}', ?, 1.0, 2.0, '', 0, 0, '')",
                    (run_id, experiment, variant, config_text, config_hash, json.dumps(env)))
    con.commit()
    con.close()
    store = RunStore(tmp_path)
    assert store.schema_version == SCHEMA_VERSION == 6
    hashes = dict(sqlite3.connect(tmp_path / "runs.sqlite").execute("SELECT run_id, config_hash FROM runs"))
    assert hashes == {"aaaa000001": run_key(config, version="0.1.0"), "bbbb000002": sweep_hash,
                      "cccc000003": "failed-early", "dddd000004": "damaged"}
    assert store.find_finished("train", "seed000-dense", run_key(config, version="0.1.0")).run_id == "aaaa000001"
    assert store.get("bbbb").config == config  # the rows themselves are untouched


def test_migrates_a_version_3_store_to_committees_keyed_by_their_members(tmp_path: Path) -> None:
    from mnistlab.store import CommitteeRecord

    con = sqlite3.connect(tmp_path / "runs.sqlite")
    con.executescript(_SCHEMA_V2.replace("VALUES (2)", "VALUES (3)"))  # version 3 changed no table
    con.execute("INSERT INTO committees VALUES ('e', 'team', 0, 0.97, '[\"a\", \"b\", \"c\"]', '[0.9, 0.9, 0.9]', 5.0)")
    con.commit()
    con.close()
    store = RunStore(tmp_path)
    assert store.schema_version == SCHEMA_VERSION
    (kept,) = store.committees("e")
    assert (kept.variant, kept.accuracy, kept.member_ids) == ("team", 0.97, ["a", "b", "c"])
    # a smoke committee of its first two members is recorded beside it, not over it; the same members replace
    store.save_committee(CommitteeRecord("e", "team", 0, 0.5, ["a", "b"], [0.9, 0.9], 6.0))
    store.save_committee(CommitteeRecord("e", "team", 0, 0.98, ["a", "b", "c"], [0.9, 0.9, 0.9], 7.0))
    assert sorted((c.accuracy, len(c.member_ids)) for c in store.committees("e")) == [(0.5, 2), (0.98, 3)]
    assert kept.val_accuracy is None  # not measured before version 5
    store.save_committee(CommitteeRecord("e", "team", 0, 0.98, ["a", "b", "c"], [0.9] * 3, 8.0, val_accuracy=0.99))
    assert [c.val_accuracy for c in store.committees("e") if len(c.member_ids) == 3] == [0.99]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    RunStore(tmp_path).close()
    con = sqlite3.connect(tmp_path / "runs.sqlite")
    con.execute("UPDATE schema_version SET version = 99")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer mnistlab"):
        RunStore(tmp_path)


@pytest.mark.parametrize("content", [b"garbage" * 200, b"SQLite format 3\x00" + b"\xff" * 500, bytes(range(256)) * 8])
def test_corrupted_database_file(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "runs.sqlite").write_bytes(content)
    with pytest.raises(StoreError) as err:
        RunStore(tmp_path)
    assert "\n" not in str(err.value) and "runs.sqlite" in str(err.value)


def test_truncated_database_file(tmp_path: Path) -> None:
    good = RunStore(tmp_path / "a")
    for _ in range(30):
        _add(good)
    good.close()
    data = (tmp_path / "a" / "runs.sqlite").read_bytes()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "runs.sqlite").write_bytes(data[: len(data) // 3])
    # A truncated file either fails to open or fails when read: both as StoreError.
    with pytest.raises(StoreError):
        RunStore(tmp_path / "b").runs()


@pytest.mark.parametrize("loss", ["emptied", "deleted"])
def test_a_lost_database_is_never_started_afresh_over_recorded_runs(tmp_path: Path, loss: str, capsys) -> None:
    store = RunStore(tmp_path / "s")
    ids = [_add(store), _add(store, "w")]
    store.close()
    db = tmp_path / "s" / "runs.sqlite"
    for side in (tmp_path / "s").glob("runs.sqlite-*"):
        side.unlink()
    db.write_bytes(b"") if loss == "emptied" else db.unlink()
    with pytest.raises(StoreError, match=r"empty or missing, but .* holds 2 recorded run\(s\)") as err:
        RunStore(tmp_path / "s")
    assert "\n" not in str(err.value)
    for args in (["runs"], ["compare", "exp"]):
        assert main([*args, "--store", str(tmp_path / "s")]) != 0
        out, errs = capsys.readouterr()
        assert "holds 2 recorded run(s)" in errs and len(errs.strip().splitlines()) == 1 and "no runs" not in out
    assert all((tmp_path / "s" / "runs" / i / "config.json").is_file() for i in ids)  # the runs' files are untouched
    assert db.exists() == (loss == "emptied")  # a refusal makes no database either
    assert RunStore(tmp_path / "new").runs() == []  # a new store starts empty, as ever
    for i in ids:  # helper-217: folders of before record.json were kept: reindex cannot help, so it is not advised
        (tmp_path / "s" / "runs" / i / "record.json").rename(tmp_path / f"{i}.json")
    with pytest.raises(StoreError, match=r"holds 2 recorded run\(s\): .*none of its run folders holds a record\.json to "
                                         r"rebuild it from .* so restore the database from a copy") as err:
        RunStore(tmp_path / "s")
    assert "reindex" not in str(err.value)
    for i in ids:
        (tmp_path / f"{i}.json").rename(tmp_path / "s" / "runs" / i / "record.json")
    (tmp_path / "other" / "runs" / "notes").mkdir(parents=True)  # another tool's folder is no recorded run
    (tmp_path / "other" / "runs" / "notes" / "config.json").write_text("{}")
    assert RunStore(tmp_path / "other").runs() == []
    if loss == "emptied":  # a database with no tables at all (whatever its size) over recorded runs: refused too
        con = sqlite3.connect(db)
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("CREATE TABLE t (x)")
        con.execute("DROP TABLE t")
        con.close()
        assert db.stat().st_size > 0
        with pytest.raises(StoreError, match="holds 2 recorded run"):
            RunStore(tmp_path / "s")


def test_a_damaged_row_reads_as_failed_and_can_be_removed_while_the_store_works(tmp_path: Path, capsys) -> None:
    store = RunStore(tmp_path)
    bad, good = _add(store), _add(store, "w", acc=0.7)
    store.close()
    con = sqlite3.connect(tmp_path / "runs.sqlite")
    con.execute("UPDATE runs SET history = '{bad' WHERE run_id = ?", (bad,))
    con.commit()
    con.close()
    store = RunStore(tmp_path)
    runs = {r.run_id: r for r in store.runs()}
    assert runs[good].status == "finished" and runs[good].metrics["test_accuracy"] == 0.7
    assert runs[bad].status == "failed" and "its history is unreadable" in runs[bad].message and runs[bad].history == []
    store.close()
    con = sqlite3.connect(tmp_path / "runs.sqlite")
    con.execute("UPDATE runs SET config = 'null' WHERE run_id = ?", (bad,))  # JSON, of the wrong type
    con.commit()
    con.close()
    store = RunStore(tmp_path)
    assert store.get(bad).config == {} and store.get(bad).status == "failed"
    assert main(["compare", "exp", "--store", str(tmp_path), "--format", "csv"]) == 0  # the good run's row stands
    damaged, kept = capsys.readouterr().out.splitlines()[1:]  # and the damaged run's variant says so
    assert kept.startswith("w,1,") and damaged.startswith("v,0,") and f"`mnistlab show {bad}` says why" in damaged
    assert main(["rm", bad, bad[:6], "--store", str(tmp_path)]) == 0  # named twice: one run
    assert "deleted 1 run" in capsys.readouterr().out
    assert [r.run_id for r in store.runs()] == [good]


def test_weights_that_went_non_finite_after_the_test_are_refused_as_damage(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    from mnistlab.models import build_model, weights_finite
    from mnistlab.specs import compact_spec

    store = RunStore(tmp_path)
    spec = compact_spec([], None, [8])
    rid = store.start_run(experiment="e", variant="v", seed=1, member=0, config={"model": spec.to_dict()}, config_hash="h")
    nan = {k: torch.full_like(v, float("nan")) for k, v in build_model(spec, seed=1).state_dict().items()}
    store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": None}, env={}, weights=nan,
                     predictions=np.zeros((2, 10), np.float32))  # recorded untested: its weights went NaN
    assert not weights_finite(store.load_model(rid))  # it loads, for a look at what went wrong
    rid = store.start_run(experiment="e", variant="v", seed=2, member=0, config={"model": spec.to_dict()}, config_hash="h2")
    store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.9}, env={},
                     weights=build_model(spec, seed=1).state_dict(), predictions=np.zeros((2, 10), np.float32))
    path = store.artifact_dir(rid) / "weights.safetensors"
    save_file({k: torch.full_like(v, float("nan")) for k, v in load_file(str(path)).items()}, str(path))
    with pytest.raises(StoreError, match="weights that are not finite .* in a run tested with finite ones: the file was"):
        store.load_model(rid)


def test_foreign_sqlite_file_and_file_as_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    con = sqlite3.connect(tmp_path / "runs.sqlite")
    con.execute("CREATE TABLE other (x)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not a mnistlab run store"):
        RunStore(tmp_path)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(StoreError, match="must be a folder"):
        RunStore(tmp_path / "afile")
    from mnistlab.cli import main

    said = f"error: {tmp_path / 'afile'}: the run store must be a folder, but this is a file\n"
    for argv in (["runs", "--store", str(tmp_path / "afile")], ["compare", "x", "--store", str(tmp_path / "afile")]):
        assert main(argv) == 2  # helper-114: --store said click's "Directory ... is a file.", $MNISTLAB_STORE this
        assert capsys.readouterr().err == said
    (tmp_path / "d" / "runs.sqlite").mkdir(parents=True)
    for create in (True, False):  # not "no run store": the database is a folder
        with pytest.raises(StoreError, match=r"runs.sqlite: not a file \(the run store's database\)"):
            RunStore(tmp_path / "d", create=create)


def test_unknown_bad_and_ambiguous_ids(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    ids = [_add(store) for _ in range(17)]  # 17 ids over 16 hex digits: two share a first digit
    assert store.get(ids[0][:8]).run_id == ids[0]
    first, count = Counter(i[0] for i in ids).most_common(1)[0]
    assert count >= 2
    with pytest.raises(StoreError, match="ambiguous"):
        store.get(first)
    with pytest.raises(StoreError, match="no run"):
        store.get("0" * 10 if not any(i.startswith("0" * 10) for i in ids) else "f" * 10)
    for bad in ["", "zz", "../etc", "a" * 100, "1%", "a'; DROP TABLE runs; --"]:
        with pytest.raises(StoreError):
            store.get(bad)
    assert len(store.runs()) == 17


def test_rm_deletes_rows_and_artifacts(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    a, b = _add(store, "a"), _add(store, "b")
    folder = store.artifact_dir(a)
    assert (folder / "predictions.npy").is_file()
    with pytest.raises(StoreError):
        store.rm([a, "nothex"])  # one bad id: nothing is deleted
    with pytest.raises(StoreError, match=r'^"exp" is not a run id: it names an experiment, whose runs `mnistlab runs -e exp`'):
        store.get("exp")  # `show exp`: the hint names the command that lists an experiment's runs
    rid = store.start_run(experiment="2024", variant="v", seed=0, member=0, config={}, config_hash="y")
    with pytest.raises(StoreError, match=r'^no run "2024" in .*: it names an experiment, whose runs `mnistlab runs -e 2024`'):
        store.get("2024")  # a name made of hex digits reads as a run id prefix first
    store.rm([rid])
    assert len(store.runs()) == 2
    assert store.rm([a[:6]]).run_ids == [a]
    assert not folder.exists() and [r.run_id for r in store.runs()] == [b]
    assert store.rm(experiment="exp").run_ids == [b] and store.runs() == []


_RM_ON_A_FULL_DISK = """
import resource, sys
from mnistlab.errors import StoreError
from mnistlab.store import RunStore

store = RunStore(sys.argv[1])
store.runs()  # opened: from here no file may grow past a byte (as a full disk), so the COMMIT fails
resource.setrlimit(resource.RLIMIT_FSIZE, (1, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    store.rm([sys.argv[2]])
    print("deleted")
except StoreError as exc:
    print("refused:", exc)
"""


def test_an_rm_whose_commit_fails_puts_the_runs_folder_back(tmp_path: Path) -> None:
    """helper-189: `rm` on a full disk hid the run's folder (runs/.rm-ID-...), then its COMMIT failed
    after the folder was to be put back: exit 2, "nothing deleted", but the run's files were gone from
    where every command looks for them. A file size limit (RLIMIT_FSIZE, a full disk's EFBIG) in a
    process of its own."""
    store = RunStore(tmp_path)
    rid = _add(store, "a")
    store.close()
    done = subprocess.run([sys.executable, "-c", _RM_ON_A_FULL_DISK, str(tmp_path), rid], capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.startswith("refused: ") and "cannot delete" in done.stdout, (done.stdout, done.stderr[-2000:])
    assert (tmp_path / "runs" / rid / "predictions.npy").is_file() and not list((tmp_path / "runs").glob(".rm-*"))
    assert [r.run_id for r in RunStore(tmp_path).runs()] == [rid]


def test_rm_of_a_member_deletes_its_committee_only(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    a1, a2, b1, b2 = _add(store, "a"), _add(store, "a"), _add(store, "b"), _add(store, "b")
    for variant, members in (("a", [a1, a2]), ("b", [b1, b2])):
        store.save_committee(CommitteeRecord("exp", variant, 0, 0.9, members, [0.8, 0.85], 0.0))
    store.rm([a2])
    assert [(c.variant, c.member_ids) for c in store.committees("exp")] == [("b", [b1, b2])]
    assert {r.run_id for r in store.runs()} == {a1, b1, b2}


def test_predictions_and_model_round_trip(tmp_path: Path) -> None:
    from mnistlab.models import build_model
    from mnistlab.specs import compact_spec

    store = RunStore(tmp_path)
    spec = compact_spec([], None, [8])
    model = build_model(spec, seed=1).eval()
    probs = np.random.default_rng(0).random((5, 10)).astype(np.float32)
    rid = store.start_run(experiment="e", variant="v", seed=1, member=0, config={"model": spec.to_dict()}, config_hash="h")
    store.finish_run(rid, status="finished", history=[], metrics={"test_size": 5}, env={}, weights=model.state_dict(),
                     predictions=probs)
    np.testing.assert_array_equal(store.load_predictions(rid), probs)
    path = store.artifact_dir(rid) / "predictions.npy"
    for replaced in (np.zeros(3), np.zeros((5, 10), np.int64), np.zeros((0, 10), np.float32),  # damaged or replaced
                     np.zeros((4, 10), np.float32)):  # another run's: 4 test images where this one scored 5
        np.save(path, replaced)
        with pytest.raises(StoreError, match=r"predictions.npy: not the run's predictions \(expected floats of shape"):
            store.load_predictions(rid)
    np.save(path, np.full((5, 12), 1 / 12, np.float32))  # 12 columns from a 10-class model
    with pytest.raises(StoreError, match=r"not the run's predictions \(12 columns, but the run's model outputs 10 "):
        store.load_predictions(rid)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(StoreError, match="predictions.npy: cannot read the predictions"):
        store.load_predictions(rid)
    np.save(path, probs)  # helper-172: a header claiming 10**9 rows asked numpy for 37 GiB (a traceback)
    header = path.read_bytes().replace(b"(5, 10)", b"(1000000000, 10)".ljust(7))
    path.write_bytes(header)
    with pytest.raises(StoreError, match=r"predictions.npy: cannot read the predictions: .*damaged or replaced"):
        store.load_predictions(rid)
    np.save(path, np.array([{"a": 1}] * 5, dtype=object), allow_pickle=True)  # numpy's advice was "allow_pickle="
    with pytest.raises(StoreError, match=r"cannot read the predictions: an array of Python objects: the file was "):
        store.load_predictions(rid)
    np.save(path, probs)
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(store.load_model(rid)(x), model(x))
    (store.artifact_dir(rid) / "weights.safetensors").write_bytes(b"\x00" * 50)
    with pytest.raises(StoreError, match="cannot load the weights"):
        store.load_model(rid)


def test_a_tested_run_s_predictions_must_be_softmax_rows(tmp_path: Path) -> None:
    from mnistlab.specs import compact_spec

    store = RunStore(tmp_path)
    config = {"model": compact_spec([], None, [8]).to_dict()}
    softmax = torch.softmax(torch.randn(6, 10), 1).numpy()
    untested = np.full((6, 10), np.nan, np.float32)  # the placeholder of a run that was not tested
    ids = {}
    for seed, acc, probs in ((1, 0.5, softmax), (2, None, untested)):
        ids[acc] = store.start_run(experiment="e", variant="v", seed=seed, member=0, config=config, config_hash=str(seed))
        store.finish_run(ids[acc], status="finished", history=[], metrics={"test_accuracy": acc, "test_size": 6},
                         env={}, predictions=probs)
        np.testing.assert_array_equal(store.load_predictions(ids[acc]), probs)
    path = store.artifact_dir(ids[0.5]) / "predictions.npy"
    negative = softmax.copy()
    negative[0, :2] = [-0.5, negative[0, 1] + 0.5 + negative[0, 0]]  # still sums to 1
    for damaged in (untested, np.where(np.eye(6, 10) > 0, np.nan, softmax), softmax * 2, np.zeros((6, 10)), negative):
        np.save(path, damaged.astype(np.float32))
        with pytest.raises(StoreError, match=r"not the run's predictions \(rows that are not softmax outputs"):
            store.load_predictions(ids[0.5])
    np.save(path, (softmax + 1e-4 / 10).astype(np.float16))  # within the tolerance, in another float type
    assert store.load_predictions(ids[0.5]).shape == (6, 10)
    inf_logits = softmax.copy()
    inf_logits[2] = np.nan  # a test pass whose logits were inf in one row: the loss was not finite
    rid = store.start_run(experiment="e", variant="v", seed=3, member=0, config=config, config_hash="3")
    store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.5, "test_loss": None,
                                                                   "test_size": 6}, env={}, predictions=inf_logits)
    np.testing.assert_array_equal(store.load_predictions(rid), inf_logits)
    inf_logits[3, 0] = np.nan  # but a row NaN in part is no softmax output
    np.save(store.artifact_dir(rid) / "predictions.npy", inf_logits)
    with pytest.raises(StoreError, match="rows that are not softmax outputs"):
        store.load_predictions(rid)
    rec = store.get(ids[None])  # a damaged config: the width is not checked, the rest still is
    with sqlite3.connect(tmp_path / "runs.sqlite") as con:
        con.execute("UPDATE runs SET config = ? WHERE run_id = ?", ('{"model": {"layers": 3}}', rec.run_id))
    assert np.isnan(store.load_predictions(rec.run_id)).all()


def _writer(root: str, tag: str) -> None:
    store = RunStore(root)
    for _ in range(15):
        _add(store, tag)


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), t)) for t in ("p1", "p2")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    runs = RunStore(tmp_path).runs(status="finished")
    assert Counter(r.variant for r in runs) == {"p1": 15, "p2": 15}


def test_a_stop_during_a_write_comes_after_its_commit(tmp_path: Path) -> None:
    """Ctrl-C while a run's progress is being written: the write is committed whole, then the stop
    comes (not a transaction cut before its COMMIT, holding the lock and refusing the run's record)."""
    store = RunStore(tmp_path)
    rid = _add(store, status="running")

    def stop_inside(statement: str) -> None:  # SQLite calls this as each statement starts
        if statement.startswith("UPDATE runs SET history"):
            os.kill(os.getpid(), signal.SIGINT)
    store._conn.set_trace_callback(stop_inside)
    with pytest.raises(KeyboardInterrupt):
        store.record_progress(rid, [{"epoch": 1, "loss": 0.4}])
    store._conn.set_trace_callback(None)
    assert RunStore(tmp_path).get(rid).history == [{"epoch": 1, "loss": 0.4}]  # committed: another connection sees it
    store.finish_run(rid, status="interrupted", history=[{"epoch": 1, "loss": 0.4}], metrics={"checkpoint_epoch": 1}, env={})
    assert RunStore(tmp_path).get(rid).metrics == {"checkpoint_epoch": 1}


def test_a_write_left_open_does_not_refuse_the_next(tmp_path: Path) -> None:
    """A transaction an interrupted write left open (begun, never committed) is rolled back by the
    next write on that connection: the run's record is not refused "within a transaction", and the
    lock it held is released for other processes."""
    store = RunStore(tmp_path)
    rid = _add(store, status="running")
    store._conn.execute("BEGIN IMMEDIATE")  # what a stop between a write's last statement and its COMMIT leaves
    store._conn.execute("UPDATE runs SET history = '[]' WHERE run_id = ?", (rid,))
    store.finish_run(rid, status="interrupted", history=[{"epoch": 1, "loss": 0.4}], metrics={"checkpoint_epoch": 1},
                     env={})
    other = RunStore(tmp_path)
    assert (other.get(rid).status, other.get(rid).metrics) == ("interrupted", {"checkpoint_epoch": 1})
    _add(other, "after")  # the lock is free
    assert [r.variant for r in RunStore(tmp_path).runs(status="finished")] == ["after"]


def test_a_running_row_with_this_process_s_pid_that_it_did_not_start_is_a_dead_one_s(tmp_path: Path) -> None:
    """A container started again gives its programs the same small pids: a row left running by the
    killed one, with the pid this process has now, does not hold its cell for ever."""
    p = multiprocessing.get_context("spawn").Process(target=_start_and_die, args=(str(tmp_path),))
    p.start()
    p.join(60)
    store = RunStore(tmp_path)
    (left,) = store.runs(status="running")
    with sqlite3.connect(tmp_path / "runs.sqlite") as con:  # what the killed process had: this one's pid
        con.execute("UPDATE runs SET pid = ? WHERE run_id = ?", (os.getpid(), left.run_id))
    run_id, claimed = store.claim_run(experiment="exp", variant="dead", seed=0, member=0, config={"dataset": "mnist"},
                                      config_hash="h-dead")
    assert claimed and run_id != left.run_id  # the cell is free: trained again
    again, claimed = store.claim_run(experiment="exp", variant="dead", seed=0, member=0, config={"dataset": "mnist"},
                                     config_hash="h-dead")
    assert (again, claimed) == (run_id, False)  # ... and this process's own claim holds it
    assert store.mark_stale() == 1 and store.get(left.run_id).status == "interrupted"
    assert store.get(run_id).status == "running"


def _start_and_die(root: str) -> None:
    store = RunStore(root)
    store.record_progress(_add(store, "dead", status="running"), [{"epoch": 1, "loss": 0.4}, {"epoch": 2, "loss": 0.3}])


def test_runs_of_dead_processes_become_interrupted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = multiprocessing.get_context("spawn").Process(target=_start_and_die, args=(str(tmp_path),))
    p.start()
    p.join(60)
    store = RunStore(tmp_path)
    mine = _add(store, "alive", status="running")
    assert store.mark_stale() == 1
    assert {r.variant: r.status for r in store.runs()} == {"dead": "interrupted", "alive": "running"}
    assert store.get(mine).status == "running"
    dead = next(r.run_id for r in store.runs() if r.variant == "dead")
    kept = json.loads((tmp_path / "runs" / dead / "record.json").read_text())  # helper-123: "running" there
    assert (kept["status"], kept["message"]) == ("interrupted", store.get(dead).message)
    assert main(["show", dead, "--store", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "status interrupted: the process running it ended" in shown and "after it started (its own end was " \
        "not recorded)" in shown and ", took" not in shown
    assert main(["runs", "--store", str(tmp_path), "--format", "csv"]) == 0
    listed = {row.split(",")[2]: row.split(",") for row in capsys.readouterr().out.splitlines()}
    assert listed["dead"][7] == "2" and listed["alive"][7] == ""  # the epochs it recorded before it died
    early = store.start_run(experiment="exp", variant="early", seed=0, member=0, config={}, config_hash="h-early")
    store.finish_run(early, status="interrupted", history=[], metrics={}, env={})  # a kill -9's, marked: no metrics
    assert main(["runs", "--store", str(tmp_path), "--format", "csv"]) == 0
    assert next(line for line in capsys.readouterr().out.splitlines() if line.startswith(early)).split(",")[7] == "0"


def test_metrics_survive_when_the_run_files_cannot_be_written(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    rid = _add(store, status="running")
    (store.artifact_dir(rid) / "predictions.npy").mkdir()  # the file cannot replace a folder
    store.finish_run(rid, status="finished", history=[{"epoch": 1}], metrics={"test_accuracy": 0.9}, env={},
                     predictions=np.zeros((2, 10), np.float32))
    rec = store.get(rid)
    assert rec.status == "failed" and "could not be written" in rec.message
    assert rec.metrics == {"test_accuracy": 0.9} and rec.history == [{"epoch": 1}]


def test_finishing_a_run_can_record_what_it_resolved_from_its_data(tmp_path: Path) -> None:
    """A Normalization adapted during the run: its values replace the written config; the key stays."""
    store = RunStore(tmp_path)
    kept = _add(store)
    written = {"dataset": "mnist", "model": {"layers": [{"type": "Normalization"}]}}
    rid = store.start_run(experiment="exp", variant="n", seed=0, member=0, config=written, config_hash="key")
    adapted = {"dataset": "mnist", "model": {"layers": [{"type": "Normalization", "mean": 0.13, "variance": 0.09}]}}
    store.finish_run(rid, status="finished", history=[], metrics={}, env={}, config=adapted)
    rec = store.get(rid)
    assert rec.config == adapted and rec.config_hash == "key"
    assert json.loads((store.artifact_dir(rid) / "config.json").read_text()) == adapted
    assert store.find_finished("exp", "n", "key").run_id == rid
    assert store.get(kept).config == {"dataset": "mnist"}  # without config=, the written one stays


def _claim(store: RunStore, done: tuple[str, ...] = ("finished", "diverged")) -> tuple[str, bool]:
    return store.claim_run(experiment="e", variant="v", seed=0, member=0, config={"a": 1}, config_hash="k", done=done)


def _claim_and_die(root: str) -> None:
    _claim(RunStore(root))


def test_a_cell_is_claimed_once_while_its_process_lives(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    first, claimed = _claim(store)
    assert claimed and store.get(first).status == "running" and store.get(first).pid == os.getpid()
    assert _claim(store) == (first, False)  # running in a live process: held
    store.finish_run(first, status="finished", history=[], metrics={}, env={})
    assert _claim(store) == (first, False)  # finished: done
    again, claimed = _claim(store, done=())  # --force: finished runs do not hold the cell
    assert claimed and again != first and store.get(again).status == "running"


def test_a_claim_ends_with_the_process_that_made_it(tmp_path: Path) -> None:
    p = multiprocessing.get_context("spawn").Process(target=_claim_and_die, args=(str(tmp_path),))
    p.start()
    p.join(60)
    store = RunStore(tmp_path)
    [dead] = store.runs()
    assert dead.status == "running" and dead.pid == p.pid
    run_id, claimed = _claim(store)
    assert claimed and run_id != dead.run_id
    # A run on another host (a store on a shared disk) holds its cell: its process cannot be checked.
    with sqlite3.connect(store.db_path) as con:
        con.execute("UPDATE runs SET host = 'elsewhere', pid = 1 WHERE run_id = ?", (run_id,))
    assert _claim(store) == (run_id, False)


def test_a_store_that_cannot_be_written_is_read_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from mnistlab.cli import main

    root = tmp_path / "store"
    with RunStore(root) as store:
        _add(store, "v", acc=0.9)
    with read_only_store(root, monkeypatch):
        ro = RunStore(root, create=False)
        assert ro.read_only and [r.variant for r in ro.runs()] == ["v"]
        with pytest.raises(StoreError, match="the store is read-only here"):
            _add(ro, "w", acc=0.8)
        assert main(["runs", "--store", str(root)]) == 0 and main(["compare", "exp", "--store", str(root)]) == 0
        assert "v" in capsys.readouterr().out
        said = ro._unwritable("unable to open database file")  # what SQLite says of a write there (helper-156:
        assert said.endswith("(the store's folder or runs.sqlite cannot be written here: a read-only disk or folder?)")
    # (no word of why, before)
    assert RunStore(root)._unwritable("unable to open database file") == "unable to open database file"  # writable


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_an_ended_process_nobody_reaped_is_not_alive() -> None:
    """A zombie (ended, not yet waited for, as a killed driver's workers stay where the container's
    init does not reap) holds no cell: its running runs are stale."""
    here = socket.gethostname()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert process_alive(child.pid, here)
    finally:
        child.kill()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not process_alive(child.pid, here)  # a zombie now: its pid still exists
    child.wait()
    assert not process_alive(child.pid, here) and process_alive(child.pid, "another-host")


def test_a_run_another_process_trains_now_is_not_deleted(tmp_path: Path, capsys) -> None:
    """helper-123: `mnistlab rm` of a sweep's running run said "deleted"; the worker trained on to
    its end, then dropped its result, and the cell resumed from the checkpoint rm said was gone."""
    from mnistlab.cli import main

    store = RunStore(tmp_path)
    done = _add(store, "a")
    trainer = subprocess.Popen([sys.executable, "-c", "import sys, time; from mnistlab.store import RunStore; "
                                f"s = RunStore({str(tmp_path)!r}); print(s.start_run(experiment='exp', variant='b', "
                                "seed=0, member=0, config={}, config_hash='h'), flush=True); time.sleep(60)"],
                               stdout=subprocess.PIPE, text=True)
    try:
        running = trainer.stdout.readline().strip()
        with pytest.raises(StoreError, match=f"^run {running} is being trained now \\(process {trainer.pid} on this "
                                             "machine\\): stop it first .*; nothing deleted$"):
            store.rm([done, running])
        assert main(["rm", running[:6], "--store", str(tmp_path), "--yes"]) == 2
        assert capsys.readouterr().err.startswith(f"error: run {running} is being trained now")
        assert {r.run_id for r in store.runs()} == {done, running}  # nothing deleted, the finished run neither
    finally:
        trainer.kill()
        trainer.wait()
    assert store.rm([running]).run_ids == [running]  # its process has ended: a stale run, deleted


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_pid_reused_by_a_process_started_after_the_run_holds_nothing(tmp_path: Path) -> None:
    """helper-127: a running row whose pid a later process had taken (a reboot, a container started
    again) could be neither deleted nor marked interrupted: `rm` said to stop that process."""
    store = RunStore(tmp_path)
    stale = _add(store, "stale", status="running")
    time.sleep(PROCESS_START_SLACK + 1.5)  # the process below starts well after the run did
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with sqlite3.connect(tmp_path / "runs.sqlite") as con:  # the row as the dead trainer left it, its pid now other's
            con.execute("UPDATE runs SET pid = ? WHERE run_id = ?", (other.pid, stale))
        assert process_alive(other.pid, socket.gethostname())  # the pid lives ...
        assert trained_here_now([store.get(stale)]) == []  # ... but not as this run's trainer
        assert store.mark_stale() == 1 and store.get(stale).status == "interrupted"
        assert store.rm([stale]).run_ids == [stale]
    finally:
        other.kill()
        other.wait()


def test_a_missing_artifact_says_whether_the_run_finished_or_its_file_was_removed(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "s")
    done, running = _add(store, "a"), _add(store, "b", status="running")
    assert store.load_predictions(done[:6]).shape == (4, 10)  # a unique prefix reads too
    (store.artifact_dir(done) / "predictions.npy").unlink()
    with pytest.raises(StoreError, match=f"run {done} finished, but its predictions file is missing .*predictions.npy"):
        store.load_predictions(done[:6])
    with pytest.raises(StoreError, match=f"run {done} finished, but its weights file is missing"):
        store.load_model(done)
    with pytest.raises(StoreError, match=f"run {running}: no predictions stored \\(the run is running; only a finished"):
        store.load_predictions(running)
    with pytest.raises(StoreError, match="no run"):
        store.load_predictions("ffffffffff")


def test_an_ended_run_is_in_the_database_file_itself_while_the_store_is_still_open(tmp_path: Path) -> None:
    """A driver killed with kill -9 leaves its connection's write-ahead log behind: a copy of
    runs.sqlite without its -wal file lost the runs that had finished (store attack, session 22)."""
    import shutil

    store = RunStore(tmp_path / "s")
    rid = _add(store)  # the store stays open, as a driver's does until it is killed
    (tmp_path / "copy").mkdir()
    shutil.copy(tmp_path / "s" / "runs.sqlite", tmp_path / "copy" / "runs.sqlite")  # the file alone
    with sqlite3.connect(tmp_path / "copy" / "runs.sqlite") as con:
        assert con.execute("SELECT status FROM runs WHERE run_id = ?", (rid,)).fetchall() == [("finished",)]


def test_a_run_stopped_from_outside_keeps_the_epochs_it_posted(tmp_path: Path) -> None:
    """New-user finding: a Ray cell stopped by Ctrl-C was recorded "interrupted after 0 of 8 epochs",
    its history wiped, though it had posted 4 epochs (the driver records it, the worker cancelled).
    A failure keeps them too (helper-134: a cell whose Ray worker died twice showed 0 of its 11
    epochs); they are no result (a failed run is in no comparison), but they say how far it got."""
    from mnistlab.run import Recorder

    store = RunStore(tmp_path)
    epochs = [{"epoch": 1, "epochs": 8, "loss": 0.5}, {"epoch": 2, "epochs": 8, "loss": 0.4}]
    stopped = Recorder(store, experiment="e", variant="v", config={"train": {"epochs": 8}}, seed=0)
    store.record_progress(stopped.run_id, epochs)
    assert stopped.fail(KeyboardInterrupt()) == "interrupted"
    for seen in (store, RunStore(tmp_path)):
        rec = seen.get(stopped.run_id)
        assert rec.status == "interrupted" and rec.history == epochs
    assert json.loads((tmp_path / "runs" / stopped.run_id / "history.json").read_text()) == epochs
    broken = Recorder(store, experiment="e", variant="v", config={"train": {"epochs": 8}}, seed=1)
    store.record_progress(broken.run_id, epochs)
    assert broken.fail(RuntimeError("boom")) == "failed" and store.get(broken.run_id).history == epochs


def test_a_result_file_a_full_disk_refuses_is_named_in_the_failed_runs_message(tmp_path: Path) -> None:
    """helper-156: a run failed by a full disk said "No space left on device", naming no file."""
    from mnistlab.files import temporary_name

    store = RunStore(tmp_path / "runs")
    run_id = store.start_run(experiment="e", variant="v", seed=0, member=0, config={}, config_hash="k")
    metrics = store.artifact_dir(run_id) / "metrics.json"
    temporary_name(metrics).symlink_to("/dev/full")  # its write fails as on a full disk (ENOSPC)
    said = store.finish_run(run_id, status="finished", history=[{"loss": 1.0}], metrics={"test_accuracy": 0.5}, env={})
    assert said == f"{metrics}: No space left on device"
    rec = store.get(run_id)
    assert rec.status == "failed" and rec.message.endswith(said) and rec.metrics == {"test_accuracy": 0.5}
    other = store.start_run(experiment="e", variant="v", seed=1, member=0, config={}, config_hash="k2")
    assert store.finish_run(other, status="finished", history=[], metrics={}, env={}) is None


def test_a_store_path_that_links_to_nothing_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """helper-162: `train --store dangle` (a link to a folder since removed) said "cannot create the
    run store: File exists"."""
    link = tmp_path / "dangle"
    link.symlink_to(tmp_path / "gone")
    for create in (True, False):
        with pytest.raises(StoreError, match=r"dangle: a link to a folder that is gone \(.*gone\): make that folder"):
            RunStore(link, create=create)
    assert main(["runs", "--store", str(link)]) == 2 and "a link to a folder that is gone" in capsys.readouterr().err
    (tmp_path / "gone").mkdir()
    assert RunStore(link).runs() == []  # made where the link points


def test_upgrading_an_older_store_is_said_keeps_the_old_file_and_waits_for_its_running_sweep(tmp_path: Path) -> None:
    """helper-183: opening a store an older mnistlab wrote upgraded it silently, for good, even for
    `runs`: that version could no longer open it, and its sweep running at the time was stopped at
    its next write ("written by a newer mnistlab"). Now a live run of this host's holds the upgrade
    off (one line), and the upgrade says itself and keeps the database as it was beside it."""
    import warnings
    from contextlib import closing

    from mnistlab.errors import StoreWarning

    store = RunStore(tmp_path)
    done = store.start_run(experiment="e", variant="v", seed=0, member=0, config={"dataset": "mnist"}, config_hash="h")
    store.finish_run(done, status="finished", history=[], metrics={"test_accuracy": 0.9}, env={})
    running = store.start_run(experiment="e", variant="w", seed=0, member=0, config={"dataset": "mnist"}, config_hash="k")
    store.close()
    sweep = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # the older version's process
    con = sqlite3.connect(tmp_path / "runs.sqlite")
    con.execute("UPDATE schema_version SET version = 5")
    con.execute("UPDATE runs SET pid = ?, created_at = ? WHERE run_id = ?", (sweep.pid, time.time() + 1, running))
    con.commit()
    con.close()
    try:
        with pytest.raises(StoreError, match=rf"older mnistlab \(schema 5\) whose run {running} is training now "
                                             rf"\(process {sweep.pid}\).*run this again once it has ended") as caught:
            RunStore(tmp_path)
        assert "\n" not in str(caught.value)
        with closing(sqlite3.connect(tmp_path / "runs.sqlite")) as con:  # (an assert's temporaries kept it open)
            assert con.execute("SELECT version FROM schema_version").fetchone() == (5,)
    finally:
        sweep.kill()
        sweep.wait()
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        with RunStore(tmp_path) as upgraded:
            assert upgraded.schema_version == SCHEMA_VERSION
    (upgrade,) = [str(w.message) for w in said if issubclass(w.category, StoreWarning)]
    assert "upgraded from schema 5, an older mnistlab's, to 6" in upgrade and "kept as runs.sqlite.schema5" in upgrade
    with closing(sqlite3.connect(tmp_path / "runs.sqlite.schema5")) as kept:
        assert kept.execute("SELECT version FROM schema_version").fetchone() == (5,)
        assert sorted(r for (r,) in kept.execute("SELECT run_id FROM runs")) == sorted([done, running])
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        RunStore(tmp_path).close()  # current now: nothing to say
    assert not [w for w in again if issubclass(w.category, StoreWarning)]
    # the README's way back (the copy over runs.sqlite), a run recorded by the older version, and this one again:
    # that run is in the new copy, which the warning names; the first copy is as it was (helper-186: kept as the copy)
    for f in tmp_path.glob("runs.sqlite-*"):
        f.unlink()
    shutil.copy(tmp_path / "runs.sqlite.schema5", tmp_path / "runs.sqlite")
    con = sqlite3.connect(tmp_path / "runs.sqlite")
    con.execute("INSERT INTO runs SELECT 'cccccccccc', experiment, 'later', seed, member, config, config_hash, status, "
                f"history, metrics, env, created_at, finished_at, message, repeat, pid, host FROM runs WHERE run_id = '{done}'")
    con.commit()
    con.close()
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        RunStore(tmp_path).close()
    (upgrade,) = [str(w.message) for w in said if issubclass(w.category, StoreWarning)]
    newer = upgrade.split("kept as ")[1].rstrip(")")
    assert newer.startswith("runs.sqlite.schema5-") and not list(tmp_path.glob("*.part")), upgrade
    for copy, holds in ((newer, True), ("runs.sqlite.schema5", False)):
        with closing(sqlite3.connect(tmp_path / copy)) as kept:
            assert ("cccccccccc" in {r for (r,) in kept.execute("SELECT run_id FROM runs")}) == holds, copy


def test_a_records_repr_names_what_it_has(tmp_path: Path) -> None:
    """helper-182: the repr said `epochs=1, test_accuracy=0.8900`, and `record.epochs` or
    `record.test_accuracy` raised AttributeError: each name in it reads back."""
    import re

    store = RunStore(tmp_path)
    rid = store.start_run(experiment="e", variant="v", seed=0, member=0, config={"dataset": "mnist"}, config_hash="h")
    assert (store.get(rid).epochs, store.get(rid).test_accuracy) == (0, None)
    store.finish_run(rid, status="finished", history=[{"epoch": 1}, {"epoch": 2}], metrics={"test_accuracy": 0.89}, env={})
    rec = store.get(rid)
    for name, value in re.findall(r"(\w+)=([^,)]+)", repr(rec)):
        assert str(getattr(rec, name)) == value.strip("'") or f"{getattr(rec, name):.4f}" == value, name
    assert (rec.epochs, rec.test_accuracy) == (2, 0.89)
