"""A run's tags and note (`mnistlab note`, `runs --tag`, `show`): kept in its folder, never in what
trained; real runs in a real store, the CLI's own entry point."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from mnistlab.cli import main
from mnistlab.errors import SpecError, StoreWarning
from mnistlab.notes import NOTES_FILE, read_notes, write_notes
from mnistlab.run import train
from mnistlab.store import DB_FILE, RunStore


@pytest.fixture
def two(data_dir: Path, tmp_path: Path) -> tuple[RunStore, str, str]:
    store = RunStore(tmp_path / "store")
    ids = [train("mnist", "seed000-dense", 1, data_dir=data_dir, store=store, subset=300, progress="none", seed=s).run_id
           for s in (0, 1)]
    return store, str(ids[0]), str(ids[1])


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    got = capsys.readouterr()
    return code, got.out, got.err


def test_tags_and_a_note_are_kept_listed_and_shown(two: tuple[RunStore, str, str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    store, a, b = two
    where = ["--store", str(store.root)]
    key = store.get(a).config_hash
    code, out, _ = _cli(capsys, "note", a[:6], "-m", "lr too high\nsecond line  \n", "--tag", "bad", "--tag", "lr",
                        *where)
    assert code == 0 and "tags bad, lr" in out and "    second line" in out
    assert _cli(capsys, "note", a, b, "--tag", "sweep-1", *where)[0] == 0
    assert read_notes(store, a).tags == ("bad", "lr", "sweep-1") and read_notes(store, a).note == "lr too high\nsecond line"
    code, out, _ = _cli(capsys, "runs", "--tag", "sweep-1", "--tag", "bad", "--format", "json", *where)
    rows = json.loads(out)
    assert code == 0 and [r["run_id"] for r in rows] == [a] and rows[0]["note"].endswith("second line")
    code, out, _ = _cli(capsys, "runs", *where)
    assert "tags" in out.splitlines()[0] and "bad, lr, sweep-1" in out
    code, out, _ = _cli(capsys, "show", a, *where)
    assert "tags bad, lr, sweep-1\nnote:\n  lr too high\n  second line\n" in out
    assert json.loads(_cli(capsys, "show", b, "--format", "json", *where)[1])["tags"] == ["sweep-1"]
    assert store.get(a).config_hash == key  # a note is no part of what trained
    assert _cli(capsys, "note", a, "--untag", "lr", "-m", "", *where)[0] == 0
    assert read_notes(store, a) == read_notes(store, a).__class__("", ("bad", "sweep-1"))
    assert _cli(capsys, "note", a, "--clear", *where)[0] == 0
    assert not (store.artifact_dir(a) / NOTES_FILE).exists()
    code, out, _ = _cli(capsys, "note", a, *where)
    assert code == 0 and "no tags, no note" in out
    assert [r["run_id"] for r in json.loads(_cli(capsys, "runs", "--tag", "sweep-1", "--format", "json", *where)[1])] == [b]


@pytest.mark.parametrize("args, said", [
    (["--tag", ""], "got an empty one"),
    (["--tag", "a,b"], "no commas"),
    (["--tag", " best"], "without spaces around it"),
    (["--tag", "x" * 65], "at most 64 characters"),
    (["--tag", "bad\x1b[31m"], "no control characters"),
    (["-m", "note \x1b]0;title\x07"], "a note with a control character"),
    (["-m", "x" * 10_001], "a note of at most 10,000 characters"),
    (["--untag", "never"], "none of these runs has that tag"),
    (["--tag", "x", "--untag", "x"], "choose one"),
])
def test_bad_tags_and_notes_are_one_line_and_change_nothing(args: list[str], said: str, two: tuple[RunStore, str, str],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    store, a, b = two
    write_notes(store, b, note="kept", add=["keep"])
    code, _, err = _cli(capsys, "note", a, b, *args, "--store", str(store.root))
    assert code == 2 and said in err and err.count("\n") == 1
    assert read_notes(store, b).note == "kept" and read_notes(store, b).tags == ("keep",)
    assert not (store.artifact_dir(a) / NOTES_FILE).exists()


def test_a_typo_among_run_ids_changes_no_run(two: tuple[RunStore, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    store, a, b = two
    code, _, err = _cli(capsys, "note", a, "ffffffff", "--tag", "x", "--store", str(store.root))
    assert code == 2 and 'no run "ffffffff"' in err and not read_notes(store, a)
    write_notes(store, a, add=["best"])  # a second run refusing: the first is not changed either (helper-203)
    (store.artifact_dir(b) / NOTES_FILE).write_text("{damaged")
    code, _, err = _cli(capsys, "note", a, b, "--untag", "best", "--store", str(store.root))
    assert code == 2 and "mend it by hand" in err and read_notes(store, a).tags == ("best",)
    (store.artifact_dir(b) / NOTES_FILE).unlink()
    code, _, err = _cli(capsys, "note", a, b, "--untag", "best", "--store", str(store.root))  # of several: the runs
    assert code == 0 and not read_notes(store, a) and not read_notes(store, b)  # that carry it (helper-204)


def test_damaged_notes_read_as_none_with_a_warning_and_can_be_written_again(two: tuple[RunStore, str, str],
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    store, a, b = two
    (store.artifact_dir(a) / NOTES_FILE).write_bytes(b"\xff{not json")
    (store.artifact_dir(b) / NOTES_FILE).write_text('{"note": 3, "tags": "x"}')
    for run in (a, b):
        with pytest.warns(StoreWarning, match="read as none"):
            assert not read_notes(store, run)
    code, out, _ = _cli(capsys, "runs", "--store", str(store.root))
    assert code == 0 and a in out and b in out
    code, _, err = _cli(capsys, "note", a, "--tag", "fresh", "--store", str(store.root))  # not written over
    assert code == 2 and "mend it by hand, or `mnistlab note" in err and err.count("\n") == 1  # (helper-202: lost)
    assert (store.artifact_dir(a) / NOTES_FILE).read_bytes() == b"\xff{not json"
    assert write_notes(store, a, add=["fresh"], clear=True)[0].tags == ("fresh",)
    assert read_notes(store, a).tags == ("fresh",)
    assert (store.artifact_dir(a) / (NOTES_FILE + ".unreadable")).read_bytes() == b"\xff{not json"  # set aside


def test_notes_go_with_rm_and_stay_through_reindex(two: tuple[RunStore, str, str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    store, a, b = two
    write_notes(store, a, note="keep me", add=["best"])
    write_notes(store, b, add=["gone"])
    root = store.root
    store.close()
    (root / DB_FILE).unlink()
    assert _cli(capsys, "reindex", "--store", str(root))[0] == 0
    code, out, _ = _cli(capsys, "runs", "--tag", "best", "--format", "json", "--store", str(root))
    assert [r["note"] for r in json.loads(out)] == ["keep me"]
    assert _cli(capsys, "rm", b, "--yes", "--store", str(root))[0] == 0
    assert not (root / "runs" / b).exists()
    code, out, err = _cli(capsys, "runs", "--tag", "gone", "--store", str(root))
    assert code == 0 and "no runs tagged gone" in out + err


def test_write_notes_refuses_a_bad_tag_from_python(two: tuple[RunStore, str, str]) -> None:
    store, a, _ = two
    with pytest.raises(SpecError, match="no commas"):
        write_notes(store, a, add=["x,y"])


def test_tags_are_one_unicode_form_and_a_second_damaged_file_is_set_aside_too(two: tuple[RunStore, str, str],
                                                                             capsys: pytest.CaptureFixture[str]) -> None:
    store, a, _ = two
    write_notes(store, a, add=["cafe\u0301"])  # e and a combining accent: the same tag as the one character
    write_notes(store, a, add=["caf\u00e9"])
    assert read_notes(store, a).tags == ("caf\u00e9",)  # (helper-204: two cafes, and runs --tag found neither)
    code, out, _ = _cli(capsys, "runs", "--tag", "cafe\u0301", "--format", "json", "--store", str(store.root))
    assert [r["run_id"] for r in json.loads(out)] == [a]
    folder = store.artifact_dir(a)
    for text in ("{first", "{second"):
        (folder / NOTES_FILE).write_text(text)
        with pytest.warns(StoreWarning, match="set aside as notes.json.unreadable"):
            write_notes(store, a, clear=True, add=["fresh"])
    assert (folder / "notes.json.unreadable").read_text() == "{first"  # both kept (helper-204: overwritten)
    assert (folder / "notes.json.unreadable-2").read_text() == "{second"
    (folder / NOTES_FILE).write_text('{"tags": ["by-hand"]}')  # a hand-written file without a note: its tags read
    assert read_notes(store, a) == read_notes(store, a).__class__("", ("by-hand",))
    (folder / NOTES_FILE).write_text('{"tags": ["cafe\\u0301", "caf\\u00e9"]}')  # written before tags were NFC
    assert read_notes(store, a).tags == ("caf\u00e9",)  # one tag, found and taken away (helper-205)
    assert write_notes(store, a, remove=["caf\u00e9"])[0].tags == ()


def test_the_store_tags_and_notes_runs_from_python(two: tuple[RunStore, str, str]) -> None:
    store, a, b = two
    done = store.note([a[:6], b], "seed sweep", tags=["sweep"])  # (MLflow's client.set_tag, in a notebook)
    assert [n.tags for n in done] == [("sweep",), ("sweep",)] and store.notes(a).note == "seed sweep"
    assert store.note(a, untag=["sweep"])[0].tags == () and store.notes(b).tags == ("sweep",)
    with pytest.raises(SpecError, match="no commas"):
        store.note(a, tags=["x,y"])


def test_a_hand_written_tag_can_be_chosen_and_taken_away_and_other_keys_stay(two: tuple[RunStore, str, str],
                                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Note 52's leftover: a tag with a comma, written by hand in notes.json, could be neither chosen
    (`runs --tag`) nor taken away (`--untag`); the file's other keys were dropped when it was written."""
    store, a, _ = two
    (store.artifact_dir(a) / NOTES_FILE).write_text('{"tags": ["lr 0.01, tanh"], "reviewer": "kim", "note": ""}')
    code, out, _ = _cli(capsys, "runs", "--tag", "lr 0.01, tanh", "--format", "json", "--store", str(store.root))
    assert code == 0 and [r["run_id"] for r in json.loads(out)] == [a]
    assert _cli(capsys, "note", a, "--tag", "best", "--store", str(store.root))[0] == 0
    assert _cli(capsys, "note", a, "--untag", "lr 0.01, tanh", "--store", str(store.root))[0] == 0
    kept = json.loads((store.artifact_dir(a) / NOTES_FILE).read_text())
    assert kept == {"reviewer": "kim", "note": "", "tags": ["best"]}
    assert _cli(capsys, "note", a, "--clear", "--store", str(store.root))[0] == 0
    assert json.loads((store.artifact_dir(a) / NOTES_FILE).read_text()) == {"reviewer": "kim", "note": "", "tags": []}
    code, _, err = _cli(capsys, "note", a, "--tag", "a,b", "--store", str(store.root))  # a new one: still refused
    assert code == 2 and "a tag has no commas" in err


def test_a_hand_written_tag_with_a_comma_reads_as_one(two: tuple[RunStore, str, str],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Note 53's leftover: the hand-written tag "lr 0.01, tanh" read as two tags in `runs`' tags column,
    its CSV and `show`/`note`: such a tag is quoted, as JSON writes it; plain ones are not."""
    store, a, _ = two
    (store.artifact_dir(a) / NOTES_FILE).write_text('{"tags": ["best", "lr 0.01, tanh", "say \\"hi\\""]}')
    said = 'best, "lr 0.01, tanh", "say \\"hi\\""'
    code, out, _ = _cli(capsys, "runs", "--store", str(store.root))
    assert code == 0 and said in out
    code, out, _ = _cli(capsys, "runs", "--format", "csv", "--store", str(store.root))
    assert code == 0 and [row["tags"] for row in csv.DictReader(io.StringIO(out)) if row["run_id"] == a] == [said]
    code, out, _ = _cli(capsys, "note", a, "--store", str(store.root))
    assert code == 0 and f"tags {said}" in out
    code, out, _ = _cli(capsys, "runs", "--format", "json", "--store", str(store.root))
    assert [r["tags"] for r in json.loads(out) if r["run_id"] == a] == [["best", "lr 0.01, tanh", 'say "hi"']]


def test_the_report_says_each_runs_tags_and_note_escaped(two: tuple[RunStore, str, str], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    # note 58: tags and notes were in `show` and the card, not in the HTML report
    store, a, b = two
    where = ["--store", str(store.root)]
    assert _cli(capsys, "note", a, "-m", "lr too high\n<script>x</script>", "--tag", "bad", *where)[0] == 0
    code, _, err = _cli(capsys, "report", "train", "-o", str(tmp_path / "r.html"), "-j", "1", *where)
    assert code == 0, err
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert f"run {a} (seed 0): tags bad; note: lr too high / &lt;script&gt;x&lt;/script&gt;" in page
    assert f"run {b} (seed 1): tags" not in page and "<script>x" not in page


def test_a_note_on_a_run_whose_folder_is_gone_says_so_and_writes_nothing(two: tuple[RunStore, str, str],
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    store, a, b = two
    shutil.rmtree(store.root / "runs" / a)  # removed by hand (helper-265: a low-level "No such file or directory")
    code, _, err = _cli(capsys, "note", a, b, "--tag", "x", "--store", str(store.root))
    assert code == 2 and err == (f"error: run {a}'s folder is gone (removed by hand?), so it holds no notes: "
                                 f"`mnistlab rm {a}` deletes its record\n")
    assert not read_notes(store, b)  # every run checked before any is written
