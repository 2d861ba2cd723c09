"""`mnistlab reindex`: the run folders are the lab notebook, runs.sqlite their index, rebuilt from them."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import socket
import sqlite3
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from mnistlab.cli import main
from mnistlab.errors import NotRecorded, StoreError
from mnistlab.store import COMMITTEE_FILE, PROGRESS_FILE, RECORD_FILE, CommitteeRecord, RunStore, process_alive


def _add(store: RunStore, variant: str = "v", status: str = "finished", acc: float = 0.5, experiment: str = "exp") -> str:
    rid = store.start_run(experiment=experiment, variant=variant, seed=3, member=1, config={"dataset": "mnist"},
                          config_hash="h-" + variant, repeat=2, env={"device": "cpu"})
    if status != "running":
        store.finish_run(rid, status=status, history=[{"epoch": 1, "loss": 0.3}, {"epoch": 2, "loss": 0.2}],
                         metrics={"test_accuracy": acc, "test_size": 4}, env={"torch": torch.__version__},
                         message="why not" if status == "diverged" else "",
                         predictions=np.full((4, 10), 0.1, np.float32), weights={"w": torch.ones(2)})
    return rid


def _start_and_die(root: str) -> None:
    """A run whose process ended without finishing it (a kill, a power cut): two epochs recorded."""
    store = RunStore(root)
    rid = _add(store, "dead", status="running")
    store.record_progress(rid, [{"epoch": 1, "loss": 0.4}, {"epoch": 2, "loss": 0.35}])


def _lab(root: Path) -> dict[str, str]:
    """A store with a finished, a diverged, an interrupted and a killed run and one committee."""
    p = multiprocessing.get_context("spawn").Process(target=_start_and_die, args=(str(root),))
    p.start()
    p.join(60)
    store = RunStore(root)
    ids = {"a": _add(store, "a", acc=0.7), "b": _add(store, "b", acc=0.8), "nan": _add(store, "nan", "diverged")}
    ids["stop"] = _add(store, "stop", "interrupted")
    ids["dead"] = next(r.run_id for r in store.runs() if r.variant == "dead")
    store.save_committee(CommitteeRecord("exp", "pair", 0, 0.9, [ids["a"], ids["b"]], [0.7, 0.8], 12.5, 0.85))
    assert store.mark_stale() == 1  # the killed run, as `mnistlab runs` finds it
    store.close()
    return ids


def _everything(root: Path) -> tuple[list[dict], list[dict]]:
    store = RunStore(root, create=False)
    runs = [asdict(r) for r in store.runs()]
    committees = [asdict(c) for c in store.committees("exp")]
    store.close()
    return runs, committees


def _lose(root: Path) -> None:
    for f in root.glob("runs.sqlite*"):
        f.unlink()


def test_a_lost_database_is_rebuilt_from_the_run_folders_whole(tmp_path: Path, capsys) -> None:
    ids = _lab(tmp_path)
    before_runs, before_committees = _everything(tmp_path)
    dead = next(r for r in before_runs if r["run_id"] == ids["dead"])
    assert dead["status"] == "interrupted" and len(dead["history"]) == 2
    _lose(tmp_path)
    kept = tmp_path / "runs" / ids["dead"] / "record.json"  # marked there too; as a kill -9 leaves it where the
    kept.write_text(json.dumps({**json.loads(kept.read_text()), "status": "running", "message": ""}))  # db went first
    assert main(["runs", "--store", str(tmp_path)]) != 0
    assert "mnistlab reindex --store" in capsys.readouterr().err  # the refusal says the way back
    assert main(["reindex", "--store", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"added 5 runs and 1 committee record to {tmp_path / 'runs.sqlite'}",
                                "1 of the runs added had been running in a process that has ended: marked interrupted"]
    assert err == ""
    after_runs, after_committees = _everything(tmp_path)
    assert after_committees == before_committees
    for before, after in zip(before_runs, after_runs, strict=True):
        if before["run_id"] == ids["dead"]:  # marked again, now: only its end time differs
            assert after["finished_at"] >= before["finished_at"]
            after["finished_at"] = before["finished_at"]
        assert after == before
    store = RunStore(tmp_path)
    assert store.load_predictions(ids["a"]).shape == (4, 10)  # its files are found through the new index
    assert main(["compare", "exp", "--store", str(tmp_path), "--format", "csv"]) == 0
    assert "0.9" in capsys.readouterr().out  # the committee's score is back in the comparison
    assert main(["reindex", "--store", str(tmp_path)]) == 0  # a second time: nothing to add
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'runs.sqlite'} already lists every run folder"


@pytest.mark.parametrize("content", [b"garbage" * 300, b"SQLite format 3\x00" + b"\xff" * 900, b"half"])
def test_a_damaged_database_is_kept_aside_and_rebuilt(tmp_path: Path, content: bytes, capsys) -> None:
    ids = _lab(tmp_path)
    before = _everything(tmp_path)[0]
    _lose(tmp_path)
    (tmp_path / "runs.sqlite").write_bytes(content)
    assert main(["runs", "--store", str(tmp_path)]) != 0
    assert f"`mnistlab reindex --store {tmp_path}` rebuilds it" in capsys.readouterr().err  # the store given
    assert main(["reindex", "--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    aside = [f for f in tmp_path.iterdir() if f.name.startswith("runs.sqlite.damaged-")]
    assert len(aside) == 1 and aside[0].read_bytes() == content  # never deleted
    assert f"was damaged: kept aside as {aside[0].name}" in out
    assert [r["run_id"] for r in _everything(tmp_path)[0]] == [r["run_id"] for r in before]
    assert "added 5 runs and 1 committee record" in out and ids["a"] not in out


def test_a_truncated_database_is_rebuilt(tmp_path: Path, capsys) -> None:
    store = RunStore(tmp_path)
    ids = [_add(store, f"v{i}") for i in range(40)]
    store.close()
    db = tmp_path / "runs.sqlite"
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    assert main(["reindex", "--store", str(tmp_path)]) == 0
    assert "was damaged" in capsys.readouterr().out
    assert sorted(r.run_id for r in RunStore(tmp_path).runs()) == sorted(ids)


def test_an_intact_database_keeps_its_rows_and_gains_folders_copied_in(tmp_path: Path, capsys) -> None:
    here, there = RunStore(tmp_path / "here"), RunStore(tmp_path / "there")
    mine = _add(here, "mine", acc=0.6)
    theirs = [_add(there, "t1", experiment="other"), _add(there, "t2", experiment="other")]
    there.save_committee(CommitteeRecord("other", "c", 0, 0.75, theirs, [0.5, 0.5], 1.0))
    here.close()
    for rid in theirs:
        shutil.copytree(tmp_path / "there" / "runs" / rid, tmp_path / "here" / "runs" / rid)
    (tmp_path / "here" / "runs" / "notes").mkdir()  # another tool's folder: not a run, not a warning
    assert main(["reindex", "--store", str(tmp_path / "here")]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("added 2 runs and 1 committee record") and err == ""
    store = RunStore(tmp_path / "here")
    assert [r.run_id for r in store.runs()] == [mine, *theirs]
    assert store.get(mine).metrics["test_accuracy"] == 0.6
    assert [c.member_ids for c in store.committees("other")] == [theirs]


def _damage(folder: Path, how: str) -> None:
    record = folder / RECORD_FILE
    row = json.loads(record.read_text())
    if how == "no record":
        record.unlink()
    elif how == "not JSON":
        record.write_text('{"run_id": ')
    elif how == "not UTF-8":
        record.write_bytes(b"\xff\xfe{}" * 10)
    elif how == "a list":
        record.write_text("[1, 2]")
    elif how == "nested":
        record.write_text("[" * 100_000 + "]" * 100_000)
    elif how == "wrong type":
        record.write_text(json.dumps({**row, "seed": "three"}))
    elif how == "a bool":
        record.write_text(json.dumps({**row, "member": True}))
    elif how == "missing field":
        record.write_text(json.dumps({k: v for k, v in row.items() if k != "experiment"}))
    elif how == "another run's":
        record.write_text(json.dumps({**row, "run_id": "0123456789"}))
    elif how == "unknown status":
        record.write_text(json.dumps({**row, "status": "done"}))
    elif how == "no config":
        (folder / "config.json").unlink()
    elif how == "config a list":
        (folder / "config.json").write_text("[]")
    elif how == "history damaged":
        (folder / "history.json").write_text('[{"epoch"')
    elif how == "NaN time":
        record.write_text(json.dumps({**row, "created_at": float("nan")}))
    elif how == "time out of range":
        record.write_text(json.dumps({**row, "created_at": 1e20}))
    elif how == "huge pid":
        record.write_text(json.dumps({**row, "pid": 2**70}))
    elif how == "history of numbers":
        (folder / "history.json").write_text("[1, 2]")
    elif how == "accuracy a string":
        metrics = json.loads((folder / "metrics.json").read_text())
        (folder / "metrics.json").write_text(json.dumps({**metrics, "test_accuracy": "0.82"}))
    elif how == "train a list":
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "train": [1]}))
    elif how == "env.data a string":
        record.write_text(json.dumps({**row, "env": {**row["env"], "data": "x"}}))
    elif how == "a FIFO":
        record.unlink()
        os.mkfifo(record)
    elif how == "a folder":
        record.unlink()
        record.mkdir()
    else:
        raise AssertionError(how)


HOW = ["no record", "not JSON", "not UTF-8", "a list", "nested", "wrong type", "a bool", "missing field",
       "another run's", "unknown status", "no config", "config a list", "history damaged", "NaN time",
       "time out of range", "huge pid", "a FIFO", "a folder",
       # shapes no command reads (store attack, session 22: each broke its experiment's every view)
       "history of numbers", "accuracy a string", "train a list", "env.data a string"]


# a result whose history or metrics alone cannot be read is indexed from its other files (tests/test_store_damage.py)
SALVAGED = ("history damaged", "history of numbers", "accuracy a string")


@pytest.mark.parametrize("how", [h for h in HOW if h not in SALVAGED])
def test_a_folder_that_cannot_be_read_is_skipped_with_one_warning_and_the_rest_indexed(tmp_path: Path, how: str,
                                                                                       capsys) -> None:
    store = RunStore(tmp_path)
    bad, good = _add(store, "bad"), _add(store, "good")
    store.close()
    _damage(tmp_path / "runs" / bad, how)
    _lose(tmp_path)
    assert main(["reindex", "--store", str(tmp_path)]) == 1  # (helper-183: 0, as if every run were indexed)
    out, err = capsys.readouterr()
    warning, summary = err.splitlines()
    assert warning.startswith(f"warning: {tmp_path / 'runs' / bad} not indexed: ") and len(warning) < 300
    assert summary == "error: 1 run folder could not be read (the warnings above say why): the database lacks their runs"
    assert out.startswith("added 1 run and 0 committee records")
    assert [r.run_id for r in RunStore(tmp_path).runs()] == [good]
    assert (tmp_path / "runs" / bad).is_dir()  # skipped, never deleted
    assert main(["runs", "--store", str(tmp_path)]) == 0 and good in capsys.readouterr().out  # and readable


@pytest.mark.parametrize("how", SALVAGED)
def test_a_folder_whose_history_or_metrics_alone_cannot_be_read_is_indexed_from_its_other_files(
        tmp_path: Path, how: str, capsys) -> None:
    store = RunStore(tmp_path)
    bad, good = _add(store, "bad"), _add(store, "good")
    store.close()
    _damage(tmp_path / "runs" / bad, how)
    _lose(tmp_path)
    assert main(["reindex", "--store", str(tmp_path)]) == 1  # said: a folder not whole
    err = capsys.readouterr().err
    assert f"warning: {tmp_path / 'runs' / bad}: indexed without its " in err and "not indexed" not in err
    assert sorted(r.run_id for r in RunStore(tmp_path).runs()) == sorted([bad, good])
    assert RunStore(tmp_path).get(bad).status == ("failed" if how == "accuracy a string" else "finished")


def test_a_finished_run_whose_metrics_are_gone_comes_back_failed_saying_so(tmp_path: Path, capsys) -> None:
    store = RunStore(tmp_path)
    rid = _add(store)
    store.close()
    (tmp_path / "runs" / rid / "metrics.json").unlink()
    _lose(tmp_path)
    assert main(["reindex", "--store", str(tmp_path)]) == 1  # the rebuild, then its second pass: said once (review)
    err = capsys.readouterr().err
    assert err.count("indexed as failed: its metrics.json is missing") == 1 and "error: 1 folder not whole" in err
    rec = RunStore(tmp_path).get(rid)
    assert rec.status == "failed" and "recorded as finished, but its metrics.json was gone" in rec.message


def test_a_half_copied_run_is_said_and_taken_whole_by_the_next_reindex_and_no_clean_up_deletes_it(tmp_path: Path,
                                                                                                   capsys) -> None:
    """helper-227: a run folder copied in without its metrics.json was indexed as failed without a word;
    copied again whole, reindex said "already lists every run folder", and `rm --status failed` then
    deleted the whole result."""
    there, here = RunStore(tmp_path / "there"), RunStore(tmp_path / "here")
    rid, whole = _add(there, "t", acc=0.77), _add(there, "w", acc=0.5)
    here.close()
    for r in (rid, whole):
        shutil.copytree(tmp_path / "there" / "runs" / r, tmp_path / "here" / "runs" / r)
    (tmp_path / "here" / "runs" / rid / "metrics.json").unlink()  # the copy cut short
    (tmp_path / "here" / "runs" / whole / "weights.safetensors").write_bytes(b"\x08" + bytes(20))  # and another's weights
    store = ["--store", str(tmp_path / "here")]
    assert main(["reindex", *store]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("added 2 runs") and f"runs/{rid}: indexed as failed: its metrics.json is missing" in err
    assert f"runs/{whole}: finished, but its weights.safetensors" in err and err.splitlines()[-1].startswith("error: 2 ")
    assert main(["rm", "--status", "failed", "--yes", *store]) == 0 and "deleted 1 run" in capsys.readouterr().out
    _add(RunStore(tmp_path / "here"), "again")  # (the deleted one: a result whose copy stays cut short)
    shutil.copytree(tmp_path / "there" / "runs" / rid, tmp_path / "here" / "runs" / rid)
    (tmp_path / "here" / "runs" / rid / "metrics.json").unlink()
    assert main(["reindex", *store]) == 1
    for again in (["reindex"], ["reindex", "--check"]):  # still cut short: said again, and what to do (review)
        capsys.readouterr()
        assert main([*again, *store]) == 1
        said = capsys.readouterr()
        assert f"runs/{rid}: indexed as failed: its metrics.json is missing" in said.out + said.err, again
        assert f"runs/{whole}: finished, but its weights.safetensors" in said.out + said.err, again  # (helper-232: a
        # later reindex said nothing of it)
    shutil.copy(tmp_path / "there" / "runs" / whole / "weights.safetensors", tmp_path / "here" / "runs" / whole)
    shutil.copy(tmp_path / "there" / "runs" / rid / "metrics.json", tmp_path / "here" / "runs" / rid)  # the rest comes
    capsys.readouterr()
    assert main(["rm", "--status", "failed", "--yes", *store]) == 0  # not deleted: whole now
    assert "nothing deleted; 1 run left that a reindex marked failed" in capsys.readouterr().out
    assert main(["reindex", *store]) == 0
    assert "1 run brought up to date" in capsys.readouterr().out
    rec = RunStore(tmp_path / "here").get(rid)
    assert rec.status == "finished" and rec.metrics["test_accuracy"] == 0.77 and rec.message == ""
    assert main(["reindex", "--check", *store]) == 0


def test_a_run_copied_in_while_it_ran_on_another_machine_holds_no_cell(tmp_path: Path) -> None:
    """review: a folder copied from a machine where it was running was indexed as running on that
    host, assumed alive for good: `run` left its cell to it on every sweep."""
    there = RunStore(tmp_path / "there")
    rid = _add(there, "t", status="running")
    there.close()
    record = tmp_path / "there" / "runs" / rid / RECORD_FILE
    hour_ago = time.time() - 3600  # the machine it ran on stopped an hour ago (a copy keeps the files' times)
    record.write_text(json.dumps({**json.loads(record.read_text()), "host": "labserver", "created_at": hour_ago}))
    RunStore(tmp_path / "here").close()
    shutil.copytree(tmp_path / "there" / "runs" / rid, tmp_path / "here" / "runs" / rid)
    _age(tmp_path / "here" / "runs" / rid, hour_ago)
    done = RunStore.reindex(tmp_path / "here")
    rec = RunStore(tmp_path / "here").get(rid)
    assert (rec.status, rec.message, rec.host) == ("interrupted", "the process running it ended", "labserver")
    assert done.records == 0  # its record stays as that machine wrote it (review: "an older mnistlab's run" said)
    assert json.loads((tmp_path / "here" / "runs" / rid / RECORD_FILE).read_text())["status"] == "running"


def _age(folder: Path, when: float) -> None:
    for p in [*folder.iterdir(), folder]:
        os.utime(p, (when, when))


def test_a_database_lost_on_a_shared_disk_leaves_a_run_another_host_trains_running(tmp_path: Path, capsys) -> None:
    """Note 55: a database lost on a disk two machines share, rebuilt while one of them trained: that
    run came back interrupted (its cell free to train twice, its folder to `rm --status interrupted`).
    Helper-242: a reindex of a whole database must leave such a row alone, and progress as the
    workers write it (EpochProgress) decides."""
    from mnistlab.live import EpochProgress

    store = RunStore(tmp_path)
    rid = _add(store, "remote", status="running")
    progress = EpochProgress(store, rid)
    progress.on_epoch_begin(0)
    progress.on_epoch_end(0, {"loss": 0.4, "accuracy": 0.9})  # written at once, with the epoch's seconds
    assert "epoch_seconds" in json.loads((tmp_path / "runs" / rid / PROGRESS_FILE).read_text())[0]
    store.close()
    folder = tmp_path / "runs" / rid
    record = json.loads((folder / RECORD_FILE).read_text())
    started = time.time() - 45 * 60  # started 45 minutes ago on the other machine; its folder written just now
    (folder / RECORD_FILE).write_text(json.dumps({**record, "host": "labserver", "created_at": started}))
    with sqlite3.connect(tmp_path / "runs.sqlite") as con:
        con.execute("UPDATE runs SET host = 'labserver', created_at = ? WHERE run_id = ?", (started, rid))
    con.close()
    old = json.loads((folder / PROGRESS_FILE).read_text())
    (folder / PROGRESS_FILE).write_text(json.dumps([{k: v for k, v in e.items() if k != "epoch_seconds"} for e in old]))
    done = RunStore.reindex(tmp_path)  # a whole database: its row is left as it is
    assert (done.interrupted, done.updated, done.elsewhere) == (0, 0, 0) and RunStore(tmp_path).get(rid).status == "running"

    _lose(tmp_path)  # lost: rebuilt from the folder, written lately (its progress without epoch times, as before)
    assert main(["reindex", "--store", str(tmp_path)]) == 0
    assert ("1 run still running on another host (its folder written in the last 30 minutes): left running"
            in capsys.readouterr().out)
    assert (RunStore(tmp_path).get(rid).status, RunStore(tmp_path).get(rid).host) == ("running", "labserver")
    assert RunStore.reindex(tmp_path).elsewhere == 0  # a second reindex: nothing to say, still running

    hours = time.time() - 3 * 3600
    (folder / RECORD_FILE).write_text(json.dumps({**record, "host": "labserver", "created_at": hours}))
    _age(folder, time.time() - 2 * 3600)  # two hours quiet: that machine stopped
    _lose(tmp_path)
    assert main(["reindex", "--store", str(tmp_path)]) == 0
    assert "1 of the runs added had been running in a process that has ended" in capsys.readouterr().out
    rec = RunStore(tmp_path).get(rid)
    assert (rec.status, rec.message) == ("interrupted", "the process running it ended")
    assert json.loads((folder / RECORD_FILE).read_text())["status"] == "running"  # as that machine wrote it

    (folder / RECORD_FILE).write_text(json.dumps({**record, "host": "labserver", "created_at": time.time() - 60}))
    assert RunStore.reindex(tmp_path).elsewhere == 1  # written again (its run goes on): running once more
    assert RunStore(tmp_path).get(rid).status == "running"


def test_runs_where_no_reindex_looks_are_said_by_reindex_and_check(tmp_path: Path, capsys) -> None:
    """helper-227: runs copied one folder too deep (runs/runs/<id>, a whole store copied in) or a run
    folder renamed (<id>.bak) were left out, and `reindex --check` said every folder matched its row."""
    there, here = RunStore(tmp_path / "there"), RunStore(tmp_path / "here")
    rid = _add(there, "t")
    _add(here, "mine")
    here.close()
    shutil.copytree(tmp_path / "there" / "runs", tmp_path / "here" / "runs" / "runs")
    shutil.copytree(tmp_path / "there" / "runs" / rid, tmp_path / "here" / "runs" / f"{rid}.bak")
    shutil.copytree(tmp_path / "there", tmp_path / "here" / "there")
    (tmp_path / "here" / "runs" / "notes").mkdir()  # another tool's folder, holding no run: not said
    shutil.copytree(tmp_path / "here" / "runs", tmp_path / "here" / "backup" / "runs",  # a backup of runs it holds:
                    ignore=shutil.ignore_patterns("runs", "*.bak"))  # no stray (review: a false alarm, exit 1 for good)
    store = ["--store", str(tmp_path / "here")]
    for command in (["reindex"], ["reindex", "--check"]):
        assert main([*command, *store]) == 1
        out, err = capsys.readouterr()
        said = out + err
        assert f"runs/{rid}.bak: a run folder under another name" in said, command
        assert "runs/runs: holds 1 run folder one level too deep" in said
        assert "here/there: another store inside this one, with 1 run folder" in said and "notes" not in said
        assert "backup" not in said
    assert [r.variant for r in RunStore(tmp_path / "here").runs()] == ["mine"]


@pytest.mark.parametrize("content", ["{", "[]", '{"experiment": "exp"}',
                                     '{"experiment": "exp", "variant": "c", "repeat": 0, "accuracy": "high", '
                                     '"member_ids": ["a", "b"], "member_accuracies": [], "created_at": 0}'])
def test_a_damaged_committee_file_is_skipped_with_a_warning(tmp_path: Path, content: str, capsys) -> None:
    store = RunStore(tmp_path)
    a, b = _add(store, "a"), _add(store, "b")
    store.save_committee(CommitteeRecord("exp", "c", 0, 0.9, [a, b], [0.5, 0.5], 1.0))
    store.close()
    [kept] = (tmp_path / "runs" / a).glob(COMMITTEE_FILE.format("*"))
    kept.write_text(content)
    _lose(tmp_path)
    assert main(["reindex", "--store", str(tmp_path)]) == 0  # every run indexed (helper-186: exit 1, "lacks their runs")
    err = capsys.readouterr().err
    assert f"warning: {kept} not indexed: " in err and len(err.splitlines()) == 2
    assert err.splitlines()[1] == ("1 committee file could not be read (the warnings above say why): those committees "
                                   "are not listed until scored again")
    assert len(RunStore(tmp_path).runs()) == 2 and RunStore(tmp_path).committees("exp") == []


def test_a_committee_file_goes_with_a_deleted_member(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    a, b, c = _add(store, "a"), _add(store, "b"), _add(store, "c")
    store.save_committee(CommitteeRecord("exp", "ab", 0, 0.9, [a, b], [0.5, 0.5], 1.0))
    store.save_committee(CommitteeRecord("exp", "ac", 0, 0.8, [a, c], [0.5, 0.5], 1.0))
    assert len(list((tmp_path / "runs" / a).glob(COMMITTEE_FILE.format("*")))) == 2
    store.rm([b])  # the first member stays; the committee's file goes with its score
    assert len(list((tmp_path / "runs" / a).glob(COMMITTEE_FILE.format("*")))) == 1
    store.close()
    _lose(tmp_path)
    RunStore.reindex(tmp_path)
    assert [x.variant for x in RunStore(tmp_path).committees("exp")] == ["ac"]


def test_reindex_refuses_what_it_cannot_rebuild(tmp_path: Path, capsys) -> None:
    with pytest.raises(NotRecorded, match="no run folders to index"):
        RunStore.reindex(tmp_path / "nowhere")
    assert main(["reindex", "--store", str(tmp_path / "nowhere")]) != 0
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no run folders" in err
    assert not (tmp_path / "nowhere").exists()  # nothing made where a path was mistyped
    (tmp_path / "storefile").write_text("not a store")  # helper-123: "no storefile/runs folder"
    assert main(["reindex", "--store", str(tmp_path / "storefile")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'storefile'}: the run store must be a folder, but this is a file\n"
    store = RunStore(tmp_path / "new")
    _add(store)
    store.close()
    con = sqlite3.connect(tmp_path / "new" / "runs.sqlite")
    con.execute("UPDATE schema_version SET version = 99")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer mnistlab"):
        RunStore.reindex(tmp_path / "new")
    assert not list((tmp_path / "new").glob("*.damaged-*"))  # a newer store is not "damaged"
    (tmp_path / "link").mkdir()
    RunStore(tmp_path / "link").close()
    (tmp_path / "link" / "runs" / "0123456789").symlink_to(tmp_path / "new" / "runs")
    skipped = RunStore.reindex(tmp_path / "link").skipped  # a link into another store is not this store's run
    assert skipped == [("runs/0123456789", "a link: copy the run's folder into the store instead")]


def test_the_migration_writes_the_files_of_runs_recorded_before(tmp_path: Path) -> None:
    """A store from before schema 6 kept rows only in the database: opening it writes their files."""
    ids = _lab(tmp_path)
    before_runs, before_committees = _everything(tmp_path)
    for f in (tmp_path / "runs").glob("*/*.json"):
        if f.name in (RECORD_FILE, PROGRESS_FILE) or f.name.startswith("committee-"):
            f.unlink()
    con = sqlite3.connect(tmp_path / "runs.sqlite")
    con.execute("UPDATE schema_version SET version = 5")
    con.commit()
    con.close()
    RunStore(tmp_path).close()  # migrates
    assert (tmp_path / "runs" / ids["a"] / RECORD_FILE).is_file()
    _lose(tmp_path)
    RunStore.reindex(tmp_path)
    after_runs, after_committees = _everything(tmp_path)
    assert after_committees == before_committees
    assert [(r["run_id"], r["status"], r["history"]) for r in after_runs] == \
        [(r["run_id"], r["status"], r["history"]) for r in before_runs]


def test_progress_goes_to_the_folder_until_the_history_replaces_it(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    rid = _add(store, status="running")
    store.record_progress(rid, [{"epoch": 1, "loss": 0.5}])
    assert json.loads((tmp_path / "runs" / rid / PROGRESS_FILE).read_text()) == [{"epoch": 1, "loss": 0.5}]
    store.finish_run(rid, status="finished", history=[{"epoch": 1, "loss": 0.5}], metrics={}, env={})
    assert not (tmp_path / "runs" / rid / PROGRESS_FILE).exists()
    store.record_progress(rid, [{"epoch": 9}])  # a late message for an ended run changes nothing
    assert not (tmp_path / "runs" / rid / PROGRESS_FILE).exists()
    assert json.loads((tmp_path / "runs" / rid / RECORD_FILE).read_text())["status"] == "finished"
    assert os.stat(tmp_path / "runs" / rid / RECORD_FILE).st_size < 2000


def test_runs_that_ended_after_a_restored_backup_was_taken_are_brought_up_to_date(tmp_path: Path, capsys) -> None:
    """A backup of runs.sqlite copied back: it says running where the folder says how the run ended."""
    store = RunStore(tmp_path)
    live = _add(store, "live", status="running")
    store.close()
    backup = (tmp_path / "runs.sqlite").read_bytes()
    store = RunStore(tmp_path)
    store.finish_run(live, status="finished", history=[{"epoch": 1}], metrics={"test_accuracy": 0.75}, env={"a": 1},
                     predictions=np.full((4, 10), 0.1, np.float32), weights={"w": torch.ones(2)})
    store.close()
    _lose(tmp_path)
    (tmp_path / "runs.sqlite").write_bytes(backup)
    gone = multiprocessing.get_context("spawn").Process(target=int)
    gone.start()
    gone.join(60)
    with sqlite3.connect(tmp_path / "runs.sqlite") as con:  # the process that trained it has ended since
        con.execute("UPDATE runs SET pid = ?", (gone.pid,))
    con.close()
    assert RunStore(tmp_path).get(live).status == "running"  # as the backup has it; its process has ended
    assert main(["reindex", "--store", str(tmp_path)]) == 0
    assert "1 run brought up to date from its folder (the database still said running" in capsys.readouterr().out
    rec = RunStore(tmp_path).get(live)
    assert (rec.status, rec.metrics, rec.history, rec.env) == ("finished", {"test_accuracy": 0.75}, [{"epoch": 1}],
                                                              {"a": 1})


def test_a_run_ends_in_its_folder_even_when_the_database_is_damaged_by_then(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    rid = _add(store, status="running")
    store.close()
    _lose(tmp_path)
    (tmp_path / "runs.sqlite").write_bytes(b"garbage" * 300)
    store = RunStore.__new__(RunStore)  # the process that started the run, whose database then broke
    store.root, store.db_path, store.read_only = tmp_path, tmp_path / "runs.sqlite", False
    store._con = sqlite3.connect(tmp_path / "runs.sqlite", isolation_level=None)
    with pytest.raises(StoreError):
        store.finish_run(rid, status="finished", history=[{"epoch": 1}], metrics={"test_accuracy": 0.6}, env={},
                         predictions=np.full((4, 10), 0.1, np.float32), weights={"w": torch.ones(2)})
    folder = tmp_path / "runs" / rid  # the result is in the folder: the notebook, whatever its index
    assert {"history.json", "metrics.json", "predictions.npy", "weights.safetensors"} <= {f.name for f in folder.iterdir()}
    assert json.loads((folder / RECORD_FILE).read_text())["status"] == "finished"
    RunStore.reindex(tmp_path)
    assert RunStore(tmp_path).get(rid).metrics["test_accuracy"] == 0.6


def test_a_store_whose_last_commit_was_cut_short_is_recovered_not_called_damaged(tmp_path: Path) -> None:
    """A rollback-journal store (where WAL is not available) with a hot journal: opening it for
    writing rolls the journal back; it is not moved aside."""
    store = RunStore(tmp_path)
    ids = [_add(store, f"v{i}") for i in range(3)]
    store.close()
    con = sqlite3.connect(tmp_path / "runs.sqlite", isolation_level=None)
    con.execute("PRAGMA journal_mode = DELETE")
    con.close()
    db = tmp_path / "runs.sqlite"
    before = db.read_bytes()
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA cache_size = 1")
    con.execute("BEGIN IMMEDIATE")
    con.execute("UPDATE runs SET message = ?", ("x" * 5000,))  # spills: the journal is hot, the file half-written
    journal = (tmp_path / "runs.sqlite-journal").read_bytes()
    changed = db.read_bytes()
    con.execute("ROLLBACK")
    con.close()
    db.write_bytes(changed)  # as a crash left it: the changed pages, and the journal that undoes them
    (tmp_path / "runs.sqlite-journal").write_bytes(journal)
    assert db.read_bytes() != before or journal
    done = RunStore.reindex(tmp_path)
    assert done.kept_aside is None and not list(tmp_path.glob("*.damaged-*"))
    assert sorted(r.run_id for r in RunStore(tmp_path).runs()) == sorted(ids)
    assert all(r.message == "" for r in RunStore(tmp_path).runs())  # rolled back


def test_two_reindexes_of_one_damaged_database_keep_the_original(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    ids = [_add(store), _add(store, "w")]
    store.close()
    _lose(tmp_path)
    (tmp_path / "runs.sqlite").write_bytes(b"the original" * 100)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=RunStore.reindex, args=(tmp_path,)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    kept = [f.read_bytes() for f in tmp_path.glob("runs.sqlite.damaged-*") if not f.name.endswith(("-wal", "-shm"))]
    assert b"the original" * 100 in kept
    assert sorted(r.run_id for r in RunStore(tmp_path).runs()) == sorted(ids)


def _write_runs(root: str, n: int) -> None:
    store = RunStore(root)
    for i in range(n):
        _add(store, f"v{i}")


def test_reindex_beside_a_process_recording_runs_neither_fails_nor_warns_nor_doubles(tmp_path: Path) -> None:
    RunStore(tmp_path).close()
    writer = multiprocessing.get_context("spawn").Process(target=_write_runs, args=(str(tmp_path), 60))
    writer.start()
    seen = []
    while writer.is_alive() or not seen:
        seen.append(RunStore.reindex(tmp_path))  # a StoreError here fails the test
    writer.join()
    assert writer.exitcode == 0
    assert [done.skipped for done in seen if done.skipped] == []  # a run being started is not "cut short"
    assert [done.added for done in seen if done.added] == []  # the writer's own rows, never added twice
    assert len(RunStore(tmp_path).runs()) == 60


def test_check_reads_every_folder_and_changes_nothing(tmp_path: Path, capsys) -> None:
    _lab(tmp_path)  # a killed run among them: marked interrupted, its record still says running (no problem)
    argv = ["reindex", "--check", "--store", str(tmp_path)]
    assert main(argv) == 0
    assert capsys.readouterr().out == "5 runs checked: every folder matches its row\n"
    store = RunStore(tmp_path)
    a, b, c = (r.run_id for r in store.runs()[:3])
    (tmp_path / "runs" / a / RECORD_FILE).write_text("{")  # lost with the database, were it lost now
    shutil.rmtree(tmp_path / "runs" / b)
    record = json.loads((tmp_path / "runs" / c / RECORD_FILE).read_text())
    (tmp_path / "runs" / c / RECORD_FILE).write_text(json.dumps({**record, "variant": "other"}))
    other = RunStore(tmp_path / "other")
    copied = _add(other, "copied")
    shutil.copytree(tmp_path / "other" / "runs" / copied, tmp_path / "runs" / copied)
    shutil.rmtree(tmp_path / "other")  # (left inside, it would be another store in this one, said too)
    d = next(r.run_id for r in store.runs() if r.status in ("finished", "diverged") and r.run_id not in (a, b, c))
    (tmp_path / "runs" / d / "metrics.json").write_text('{"test_accuracy": 0.999, "test_size": 4}')  # a result edited
    (e,) = (r.run_id for r in store.runs() if r.run_id not in (a, b, c, d))
    (tmp_path / "runs" / e / "config.json").write_text('{"broken')  # a rebuild would leave it out
    before = (tmp_path / "runs.sqlite").read_bytes()
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert err == (f"error: 6 runs checked: 6 problems (above); `mnistlab reindex --store {tmp_path}` adds the folders "
                   "the database lacks and brings running rows and the records of ended runs up to date; the rest need "
                   "a look\n")
    said = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in out.splitlines()}
    assert said[str(tmp_path / "runs" / a)].startswith(f"{RECORD_FILE} cannot be read")
    assert said[str(tmp_path / "runs" / b)].startswith("no folder")
    assert said[str(tmp_path / "runs" / c)] == (f"its record and its row disagree on variant ('other' in {RECORD_FILE}, "
                                                f"{store.get(c).variant!r} in the database)")
    assert said[str(tmp_path / "runs" / copied)] == "not in the database: `mnistlab reindex` adds it"
    assert said[str(tmp_path / "runs" / d)] == ("its metrics.json and its row disagree on test_accuracy (0.999 in the "
                                                f"file, {store.get(d).metrics['test_accuracy']} in the database): one of "
                                                "them was edited; reindex does not choose between them")
    assert said[str(tmp_path / "runs" / e)].startswith("config.json cannot be read")
    assert said[str(tmp_path / "runs" / e)].endswith("(a rebuild of the database would leave this run out)")
    (tmp_path / "runs" / e / "config.json").write_text("{}")
    (tmp_path / "runs" / e / "history.json").write_text("[{")  # a rebuild reads it too
    assert main(argv) == 1
    said = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in capsys.readouterr().out.splitlines()}
    assert said[str(tmp_path / "runs" / e)].startswith("history.json cannot be read"), said
    assert (tmp_path / "runs.sqlite").read_bytes() == before and len(store.runs()) == 5  # changed nothing
    f = _add(store, "model gone")
    (tmp_path / "runs" / f / "weights.safetensors").unlink()  # a finished run without its model
    assert main(argv) == 1
    said = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in capsys.readouterr().out.splitlines()}
    assert said[str(tmp_path / "runs" / f)] == ("finished, but its weights.safetensors is gone: its model cannot "
                                                "predict, be exported or be drawn")
    g = _add(store, "model cut")  # helper-156: a cut (or replaced) weights file passed the check
    weights = tmp_path / "runs" / g / "weights.safetensors"
    whole = weights.read_bytes()
    weights.write_bytes(whole[: len(whole) - 10])
    assert main(argv) == 1
    said = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in capsys.readouterr().out.splitlines()}
    assert said[str(tmp_path / "runs" / g)] == (f"finished, but its weights.safetensors holds {len(whole) - 10:,} bytes "
                                                f"where its header says {len(whole):,} (cut short or replaced?): its "
                                                "model cannot predict, be exported or be drawn")
    weights.write_bytes(whole[:5])  # cut inside its header's length
    assert main(argv) == 1
    assert "weights.safetensors has no readable header (cut short, or not a safetensors file)" in capsys.readouterr().out


def test_a_lost_database_whose_log_was_left_behind_is_rebuilt_and_the_log_kept(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    ids = [_add(store), _add(store, "w")]
    store.close()
    (tmp_path / "runs.sqlite").unlink()
    (tmp_path / "runs.sqlite-wal").write_bytes(b"a log left by a killed process" * 50)
    done = RunStore.reindex(tmp_path)
    assert done.kept_aside is not None and (tmp_path / (done.kept_aside.name + "-wal")).is_file()
    assert sorted(r.run_id for r in RunStore(tmp_path).runs()) == sorted(ids)


def _ctrl_c(self: RunStore, skipped: list) -> int:
    """In place of RunStore._index_committees: the user's Ctrl-C, once the folders were indexed."""
    raise KeyboardInterrupt


def test_a_rebuild_of_a_damaged_database_cut_short_leaves_it_in_place(tmp_path: Path, monkeypatch) -> None:
    """helper-156: Ctrl-C during the rebuild of a damaged database left none at all (the damaged one
    was moved aside first): it stays in place until the new one is whole, then goes aside."""
    ids = _lab(tmp_path)
    _lose(tmp_path)
    (tmp_path / "runs.sqlite").write_bytes(b"junk\n")
    with monkeypatch.context() as m:
        m.setattr(RunStore, "_index_committees", _ctrl_c)
        with pytest.raises(KeyboardInterrupt):
            RunStore.reindex(tmp_path)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["runs", "runs.sqlite"]  # as found: nothing aside, no half
    assert (tmp_path / "runs.sqlite").read_bytes() == b"junk\n"
    done = RunStore.reindex(tmp_path)
    assert sorted(done.added) == sorted(ids.values()) and done.kept_aside is not None
    assert done.kept_aside.read_bytes() == b"junk\n"


def test_a_rebuild_cut_short_leaves_the_store_as_lost_as_it_was_not_emptier(tmp_path: Path, monkeypatch) -> None:
    ids = _lab(tmp_path)
    _lose(tmp_path)
    with monkeypatch.context() as m:
        m.setattr(RunStore, "_index_committees", _ctrl_c)
        with pytest.raises(KeyboardInterrupt):
            RunStore.reindex(tmp_path)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["runs"]  # no new database, no half-built one left
    with pytest.raises(StoreError, match="reindex"):  # the lost-database guard still holds
        RunStore(tmp_path)
    gone = multiprocessing.get_context("spawn").Process(target=int)
    gone.start()
    gone.join(60)
    for suffix in ("", "-journal"):  # a killed rebuild's files (its process has ended)
        (tmp_path / f"runs.sqlite.rebuilding-{socket.gethostname()}-{gone.pid}-0123abcd{suffix}").write_bytes(b"half")
    elsewhere = tmp_path / "runs.sqlite.rebuilding-otherhost-1-0123abcd"  # another host's: not ours to judge
    elsewhere.write_bytes(b"half")
    done = RunStore.reindex(tmp_path)
    assert sorted(done.added) == sorted(ids.values()) and done.committees == 1
    assert sorted(f.name for f in tmp_path.iterdir() if not f.name.startswith("runs.sqlite-")) == [
        "runs", "runs.sqlite", elsewhere.name]


def test_a_pid_no_process_can_have_is_refused_not_a_crash(tmp_path: Path, capsys) -> None:
    store = RunStore(tmp_path)
    rid = _add(store, status="running")
    store.record_progress(rid, [{"epoch": 1, "loss": 0.4}])  # past its start: a bad record is reported
    store.close()
    record = tmp_path / "runs" / rid / RECORD_FILE
    for pid in (2**31, 2**40, -5):
        record.write_text(json.dumps({**json.loads(record.read_text()), "pid": pid}))
        _lose(tmp_path)
        assert main(["reindex", "--store", str(tmp_path)]) != 0  # its one folder unread: no empty database made
        err = capsys.readouterr().err
        assert f"runs/{rid}" in err and "pid is not a process id" in err and "not rebuilt" in err
    assert process_alive(2**40, socket.gethostname()) is False  # a row that holds one (an older store) is no process


def test_a_run_that_ends_after_its_database_was_rebuilt_lands_in_the_new_one(tmp_path: Path) -> None:
    trainer = RunStore(tmp_path)  # the process training a run, its database open
    rid = _add(trainer, "live", status="running")
    trainer.record_progress(rid, [{"epoch": 1, "loss": 0.4}])
    _lose(tmp_path)  # lost while the run trains (it has an open handle on the unlinked file)
    assert RunStore.reindex(tmp_path).added == [rid]
    trainer.record_progress(rid, [{"epoch": 1, "loss": 0.4}, {"epoch": 2, "loss": 0.3}])
    trainer.finish_run(rid, status="finished", history=[{"epoch": 2, "loss": 0.3}], metrics={"test_accuracy": 0.9},
                       env={})
    trainer.close()
    rec = RunStore(tmp_path).get(rid)  # no second reindex needed
    assert (rec.status, rec.metrics) == ("finished", {"test_accuracy": 0.9})
    damaged = tmp_path / "runs.sqlite"
    trainer = RunStore(tmp_path)
    rid = _add(trainer, "live2", status="running")
    damaged.write_bytes(b"garbage" * 1000)  # damaged while a second run trains: moved aside, rebuilt
    assert RunStore.reindex(tmp_path).kept_aside is not None
    trainer.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.8}, env={})
    assert RunStore(tmp_path).get(rid).status == "finished"


def test_a_store_open_before_a_rebuild_reads_the_new_database(tmp_path: Path) -> None:
    """helper-123: `reindex` while a sweep ran stopped the sweep with `no run "1f28ecec39"`: its
    driver read the unlinked database, its worker recorded in the new one."""
    driver, worker = RunStore(tmp_path), RunStore(tmp_path)  # two processes' connections
    rid = _add(worker, "live", status="running")
    assert driver.get(rid).status == "running"
    _lose(tmp_path)
    RunStore.reindex(tmp_path)
    late = _add(worker, "next", status="running")  # a cell claimed in the rebuilt database
    worker.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.9}, env={})
    assert (driver.get(rid).status, driver.get(late).status) == ("finished", "running")
    assert {r.run_id for r in driver.runs()} == {rid, late}


def test_a_run_ending_as_the_reindex_reads_it_is_brought_up_to_date_saying_so_plainly(tmp_path: Path, capsys) -> None:
    """Its files come a moment before its row: a reindex in that moment takes the end from the
    folder, and says so without claiming the database was lost; the run's own update follows."""
    store = RunStore(tmp_path)
    rid = _add(store, "live", status="running")
    folder = tmp_path / "runs" / rid
    from mnistlab.files import save_weights

    save_weights({"w": torch.ones(2)}, folder / "weights.safetensors")  # the run's end, as finish_run writes it first
    np.save(folder / "predictions.npy", np.full((4, 10), 0.1, np.float32))
    (folder / "metrics.json").write_text('{"test_accuracy": 0.9}')
    (folder / RECORD_FILE).write_text(json.dumps({**json.loads((folder / RECORD_FILE).read_text()),
                                                  "status": "finished", "finished_at": 1.8e9}))
    assert main(["reindex", "--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 run brought up to date from its folder" in out and "lost" not in out.split("(")[0]
    assert RunStore(tmp_path).get(rid).status == "finished"
    store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.9}, env={})
    assert RunStore(tmp_path).get(rid).metrics == {"test_accuracy": 0.9}


def test_a_run_deleted_while_it_trains_does_not_come_back_as_a_folder(tmp_path: Path, capsys) -> None:
    store = RunStore(tmp_path)
    rid = _add(store, "doomed", status="running")
    keep = _add(store, "kept")
    assert main(["rm", rid, "--store", str(tmp_path)]) == 0
    store.record_progress(rid, [{"epoch": 1, "loss": 0.4}])  # the training process goes on, unaware
    with pytest.raises(StoreError, match="deleted while it ran"):
        store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.9}, env={},
                         predictions=np.full((4, 10), 0.1, np.float32), weights={"w": torch.ones(2)})
    assert sorted(f.name for f in (tmp_path / "runs").iterdir()) == [keep]
    capsys.readouterr()
    assert main(["reindex", "--check", "--store", str(tmp_path)]) == 0
    assert main(["reindex", "--store", str(tmp_path)]) == 0
    assert capsys.readouterr().err == ""


def test_rm_of_a_run_whose_folder_is_a_link_removes_the_link_not_what_it_points_at(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "store")
    rid = _add(store)
    elsewhere = tmp_path / "big-disk" / rid  # the user moved the folder to another disk and linked it back
    elsewhere.parent.mkdir()
    shutil.move(tmp_path / "store" / "runs" / rid, elsewhere)
    (tmp_path / "store" / "runs" / rid).symlink_to(elsewhere)
    assert store.load_predictions(rid).shape == (4, 10)
    assert main(["rm", rid, "--store", str(tmp_path / "store")]) == 0
    assert list((tmp_path / "store" / "runs").iterdir()) == []
    assert (elsewhere / RECORD_FILE).is_file()  # outside the store: not mnistlab's to delete
    assert RunStore(tmp_path / "store").check() == (0, [])


def test_runs_that_end_or_start_while_the_new_index_is_built_are_in_it(tmp_path: Path, monkeypatch) -> None:
    trainer = RunStore(tmp_path)  # a sweep driver training runs one after another, its database open
    ending = _add(trainer, "ending", status="running")
    _lose(tmp_path)
    from mnistlab import store as store_module

    built = store_module._NewIndex._reindexed
    late: list[str] = []

    def meanwhile(self: RunStore) -> store_module.Reindexed:  # the driver goes on as it builds
        done = built(self)
        trainer.finish_run(ending, status="finished", history=[], metrics={"test_accuracy": 0.7}, env={})
        late.append(_add(trainer, "late", status="running"))
        return done

    monkeypatch.setattr(store_module._NewIndex, "_reindexed", meanwhile)
    done = RunStore.reindex(tmp_path)
    assert sorted(done.added) == sorted([ending, *late]) and done.updated == 1
    assert RunStore(tmp_path).get(ending).status == "finished"
    trainer.finish_run(late[0], status="finished", history=[], metrics={"test_accuracy": 0.8}, env={})
    assert RunStore(tmp_path).get(late[0]).metrics == {"test_accuracy": 0.8}


def test_a_row_of_another_host_that_its_folder_says_ended_is_brought_up_to_date(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    rid = _add(store, "remote", status="running")
    store.close()
    with sqlite3.connect(tmp_path / "runs.sqlite") as con:  # trained on another machine sharing the store
        con.execute("UPDATE runs SET host = 'elsewhere'")
    con.close()
    folder = tmp_path / "runs" / rid
    (folder / "metrics.json").write_text('{"test_accuracy": 0.6}')
    (folder / RECORD_FILE).write_text(json.dumps({**json.loads((folder / RECORD_FILE).read_text()),
                                                  "status": "finished", "finished_at": 1.8e9}))
    assert RunStore.reindex(tmp_path).updated == 1
    assert RunStore(tmp_path).get(rid).status == "finished"


def test_a_lost_database_kept_behind_a_link_is_rebuilt_where_the_link_points(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "store")
    rid = _add(store)
    store.close()
    (tmp_path / "fast-disk").mkdir()
    db = tmp_path / "store" / "runs.sqlite"
    _lose(tmp_path / "store")
    db.symlink_to(tmp_path / "fast-disk" / "runs.sqlite")  # the database on another disk, lost there
    assert RunStore.reindex(tmp_path / "store").added == [rid]
    assert db.is_symlink() and (tmp_path / "fast-disk" / "runs.sqlite").is_file()
    assert RunStore(tmp_path / "store").get(rid).status == "finished"


def test_check_of_a_lost_or_damaged_database_says_what_a_rebuild_would_take_in(tmp_path: Path, capsys) -> None:
    ids = _lab(tmp_path)
    (tmp_path / "runs" / ids["b"] / RECORD_FILE).write_text("[1]")  # this one a rebuild would skip
    _lose(tmp_path)
    argv = ["reindex", "--check", "--store", str(tmp_path)]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == f"{tmp_path / 'runs' / ids['b']}: {RECORD_FILE} holds a list, not a JSON object\n"
    assert err == (f"error: {tmp_path / 'runs.sqlite'} is missing: `mnistlab reindex --store {tmp_path}` rebuilds it "
                   "from 4 run folders; 1 with a problem (above)\n")
    assert sorted(f.name for f in tmp_path.iterdir()) == ["runs"]  # changed nothing
    (tmp_path / "runs.sqlite").write_bytes(b"garbage" * 500)
    assert main(argv) == 1
    assert f"{tmp_path / 'runs.sqlite'} is damaged: " in capsys.readouterr().err
    assert (tmp_path / "runs.sqlite").read_bytes() == b"garbage" * 500 and not list(tmp_path.glob("*.damaged-*"))


def test_an_rm_cut_short_is_settled_by_reindex_and_named_by_check(tmp_path: Path, capsys) -> None:
    store = RunStore(tmp_path)
    kept, gone = _add(store, "kept"), _add(store, "gone")
    runs = tmp_path / "runs"
    os.rename(runs / kept, runs / f".rm-{kept}-0123abcd")  # hidden, then killed before its row went
    os.rename(runs / gone, runs / f".rm-{gone}-4567cdef")  # hidden and its row deleted, killed before the files went
    with sqlite3.connect(tmp_path / "runs.sqlite") as con:
        con.execute("DELETE FROM runs WHERE run_id = ?", (gone,))
    con.close()
    assert main(["reindex", "--check", "--store", str(tmp_path)]) == 1
    assert "hidden by an `mnistlab rm` cut short: `mnistlab reindex` puts it back" in capsys.readouterr().out
    assert RunStore.reindex(tmp_path).added == []  # neither comes back as a new run
    assert sorted(f.name for f in runs.iterdir()) == [kept]
    assert RunStore(tmp_path).check() == (1, [])


def test_a_run_inserted_from_its_folder_at_its_end_has_the_end_it_was_given(tmp_path: Path, monkeypatch) -> None:
    store = RunStore(tmp_path)
    rid = _add(store, "late", status="running")
    with sqlite3.connect(tmp_path / "runs.sqlite") as con:  # its row never reached this database
        con.execute("DELETE FROM runs WHERE run_id = ?", (rid,))
    con.close()
    monkeypatch.setattr(RunStore, "_keep_final_record", lambda self, run_id, **final: None)  # its record.json could
    store.finish_run(rid, status="finished", history=[{"epoch": 1}], metrics={"test_accuracy": 0.9},  # not be updated
                     env={"a": 1})
    rec = RunStore(tmp_path).get(rid)
    assert (rec.status, rec.metrics, rec.env, rec.history) == ("finished", {"test_accuracy": 0.9}, {"a": 1},
                                                               [{"epoch": 1}])


def test_a_linked_database_whose_log_survived_it_is_rebuilt_whole(tmp_path: Path) -> None:
    (tmp_path / "disk").mkdir()
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "runs.sqlite").symlink_to(tmp_path / "disk" / "runs.sqlite")
    store = RunStore(tmp_path / "store")
    ids = [_add(store, f"v{i}") for i in range(4)]
    store.close()
    (tmp_path / "disk" / "runs.sqlite-wal").write_bytes(b"\0" * 4096)  # a log the lost file left beside it
    (tmp_path / "disk" / "runs.sqlite").unlink()
    done = RunStore.reindex(tmp_path / "store")
    assert done.kept_aside is not None and done.kept_aside.parent == tmp_path / "disk"  # kept aside on its disk
    assert sorted(done.added) == sorted(ids)
    assert (tmp_path / "store" / "runs.sqlite").is_symlink()  # the database is still kept on the other disk
    con = sqlite3.connect(tmp_path / "disk" / "runs.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


def test_check_of_a_read_only_store_reads_it(tmp_path: Path, monkeypatch, capsys) -> None:
    store = RunStore(tmp_path)
    _add(store)
    store.close()
    for f in [tmp_path, *tmp_path.rglob("*")]:  # a read-only mount, as test_store's read-only test makes it
        f.chmod(0o555 if f.is_dir() else 0o444)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if mode & os.W_OK and str(p).startswith(str(tmp_path))
                        else real_access(p, mode, **kw))
    try:
        assert main(["reindex", "--check", "--store", str(tmp_path)]) == 0
        assert "1 run checked: every folder matches its row" in capsys.readouterr().out
    finally:
        for f in [tmp_path, *tmp_path.rglob("*")]:
            f.chmod(0o755 if f.is_dir() else 0o644)


def test_a_claim_whose_folder_cannot_be_written_leaves_no_row(tmp_path: Path, monkeypatch) -> None:
    """The folder and its record are made before the claim commits (so an `rm` never finds the row
    alone): a full disk there leaves neither a row nor a folder."""
    from mnistlab import store as store_module

    store = RunStore(tmp_path)

    def full_disk(root: Path, rec: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module, "_keep_record", full_disk)
    with pytest.raises(OSError):
        store.claim_run(experiment="exp", variant="v", seed=0, member=0, config={"dataset": "mnist"}, config_hash="h")
    assert store.runs() == [] and list((tmp_path / "runs").iterdir()) == []


def test_the_commands_a_message_says_to_run_quote_a_path_a_shell_would_split(tmp_path: Path, capsys, data_dir,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """helper-184: `mnistlab reindex --store /w/store2 é` and `mnistlab run versuch für 日本 ✓.toml`,
    pasted, were two and four words: each path a hint names is one word to a shell."""
    import shlex

    root = tmp_path / "store ü 2"
    _lab(root)
    _lose(root)
    assert main(["runs", "--store", str(root)]) != 0
    hint = capsys.readouterr().err.split("`")[1]
    assert shlex.split(hint) == ["mnistlab", "reindex", "--store", str(root)], hint
    experiment = tmp_path / "versuch für 日本 ✓.toml"
    experiment.write_text('name = "x"\n[base]\ndataset = "mnist"\n')
    assert main(["train", "--config", str(experiment), "--data-dir", str(data_dir), "--store", str(root)]) == 2
    hint = capsys.readouterr().err.split("`")[1]
    assert shlex.split(hint) == ["mnistlab", "run", str(experiment)], hint
    monkeypatch.chdir(tmp_path)  # helper-187: "mnistlab run -dash.toml", pasted, read -d as an option
    (tmp_path / "-dash.toml").write_text(experiment.read_text())
    assert main(["train", "--config", "-dash.toml", "--data-dir", str(data_dir), "--store", str(root)]) == 2
    assert shlex.split(capsys.readouterr().err.split("`")[1]) == ["mnistlab", "run", "./-dash.toml"]


def test_a_record_left_running_by_a_run_its_row_says_ended_is_brought_up_to_date(tmp_path: Path, capsys) -> None:
    """helper-183: a store upgraded while an older mnistlab trained in it got that run's record.json
    ("running"); the older process then finished the run in the database only. `reindex --check`
    failed on it, `reindex` said "already lists every run folder" and left it, and a database lost
    later made the finished run interrupted."""
    store = RunStore(tmp_path)
    rid = _add(store, "a", acc=0.7)
    store.close()
    record = tmp_path / "runs" / rid / RECORD_FILE
    record.write_text(json.dumps({**json.loads(record.read_text()), "status": "running"}))
    assert main(["reindex", "--check", "--store", str(tmp_path)]) == 1
    capsys.readouterr()
    assert main(["reindex", "--store", str(tmp_path)]) == 0
    assert "1 record.json file brought up to date from the database (it says that run ended" in capsys.readouterr().out
    assert json.loads(record.read_text())["status"] == "finished"
    assert main(["reindex", "--check", "--store", str(tmp_path)]) == 0
    _lose(tmp_path)
    RunStore.reindex(tmp_path)
    assert RunStore(tmp_path).get(rid).status == "finished"  # not "interrupted"


def test_a_rebuild_that_can_read_no_folder_makes_no_empty_database_and_fails(tmp_path: Path, capsys) -> None:
    """helper-183: a store whose runs were recorded before stores kept record.json, its database
    lost: `reindex` skipped every folder, exited 0 and left an empty database, after which `runs`
    said "no runs" where it had said the database was lost."""
    ids = _lab(tmp_path)
    for rid in ids.values():
        (tmp_path / "runs" / rid / RECORD_FILE).unlink()
    _lose(tmp_path)
    assert main(["reindex", "--store", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert f"not rebuilt: none of the {len(ids)} run folders can be read without it (runs/" in err, err
    assert ": no record.json: its row was only in the database" in err and err.count("\n") == 1, err
    assert not list(tmp_path.glob("runs.sqlite*"))
    assert main(["runs", "--store", str(tmp_path)]) != 0  # still said lost, its runs not hidden; a reindex that
    assert "so restore the database from a copy" in capsys.readouterr().err  # cannot help is not advised (helper-217)
    (tmp_path / "runs" / "0123456789").mkdir()  # one folder cut short beside runs that can be read: exit 1, said
    _lab(tmp_path / "other")
    for folder in (tmp_path / "other" / "runs").iterdir():
        shutil.copytree(folder, tmp_path / "runs" / folder.name)
    assert main(["reindex", "--store", str(tmp_path)]) == 1
    assert f"{len(ids)} run folders could not be read (the warnings above say why): the database lacks their runs" in \
        capsys.readouterr().err  # (the old ones: the folder cut short is a run starting, not said)
