"""Every listing command (`models`, `datasets`, `runs`, `compare`, and `run`'s final table) prints
plain aligned text when stdout is not a terminal, rich's box table on a terminal, and takes
`--format csv|json` with stable keys: all through the real CLI entry point, output captured."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import read_terminal

from mnistlab.cli import main
from mnistlab.comparison import COLUMNS
from mnistlab.datasets import list_datasets
from mnistlab.presets import list_presets
from mnistlab.store import RunStore


def _on_a_terminal(argv: list[str], raw: bool = False, **env: str) -> str:
    """What `mnistlab ARGV` writes on a terminal (a pty, its size unset: 0 x 0) with ``env``, colour
    codes out (``raw``: left in)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mnistlab", *argv], stdout=follower, stderr=subprocess.PIPE,
                            env={**os.environ, "TERM": "xterm", **env})
    os.close(follower)
    text = read_terminal(leader).decode("utf-8", "replace").replace("\r", "")
    text = text if raw else re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    return text


@pytest.mark.parametrize("columns", ["30", "40"])
def test_a_table_too_wide_for_the_terminal_even_cut_is_printed_whole_as_plain_lines(recorded, columns: str) -> None:
    """helper-162: `runs` at 30 columns cut a test accuracy to "7" and its variant column to no width."""
    store, ids = recorded
    text = _on_a_terminal(["runs", "--store", str(store)], COLUMNS=columns)
    accuracies = {f"{100 * r.metrics['test_accuracy']:.2f}%" for r in RunStore(store).runs() if r.status == "finished"}
    lines = text.splitlines()
    assert len(lines) == 1 + len(ids) and not BOX.search(text) and "…" not in text, text  # one line a run
    assert all(a in text for a in accuracies) and all(i in text for i in ids.values()) and "<script>" in text


@pytest.mark.parametrize("columns", ["60", "100"])
def test_names_in_a_terminal_table_are_never_split_nor_cropped(recorded, columns: str) -> None:
    """helper-176: `runs` split a variant's name ("seed000-d" / "ense"), one a user copies back
    into a command, and rich cropped the last column ("fashion-mnis", its border gone)."""
    store, ids = recorded
    text = _on_a_terminal(["runs", "--store", str(store)], COLUMNS=columns)
    assert "<script>alert(1)</script>" in text and "experiment" in text, text
    assert not BOX.search(text) or all(len(line) <= int(columns) for line in text.splitlines()), text  # (plain: wrapped)
    assert bool(BOX.search(text)) == (columns == "100"), text  # a table at 100 (the rich path), plain lines at 60


def test_a_dumb_terminal_gets_plain_lines_as_a_pipe_does_and_no_color_no_bold(recorded) -> None:
    """helper-176: with TERM=dumb (Emacs's shell, a console read aloud) box tables 80 cells wide
    whatever COLUMNS said, a train's progress redrawn with blank lines; NO_COLOR left bold headers."""
    store, ids = recorded
    text = _on_a_terminal(["runs", "--store", str(store)], raw=True, TERM="dumb", COLUMNS="160")
    assert not BOX.search(text) and ANSI not in text and len(text.splitlines()) == 1 + len(ids), text
    assert text.splitlines()[0].split()[:3] == ["run", "experiment", "variant"]
    boxed = _on_a_terminal(["runs", "--store", str(store)], raw=True, NO_COLOR="1", COLUMNS="160")
    assert BOX.search(boxed) and ANSI not in boxed, boxed  # a table, without bold
    assert ANSI in _on_a_terminal(["runs", "--store", str(store)], raw=True, COLUMNS="160")  # (its headers bold)


def test_a_dumb_terminal_leaves_out_whole_columns_as_a_narrow_terminal_does(recorded) -> None:
    """helper-181: a dumb terminal 60 columns wide got `runs` and `compare` 100 and more characters
    a line, each wrapped in two; now whole columns are left out (and named) as on any terminal,
    names never cut, while a pipe, whatever COLUMNS says, still gets every column."""
    store, ids = recorded
    text = _on_a_terminal(["runs", "--store", str(store)], TERM="dumb", COLUMNS="70")
    *lines, said = text.splitlines()
    assert said.startswith("left out for the terminal's width: ") and "started" in said, text
    assert len(lines) == 1 + len(ids) and all(len(line) <= 70 for line in lines), text
    assert all(i in text for i in ids.values()) and "<script>alert(1)</script>" in text
    piped = subprocess.run([sys.executable, "-m", "mnistlab", "runs", "--store", str(store)], capture_output=True,
                           text=True, env={**os.environ, "TERM": "dumb", "COLUMNS": "70"}, check=True).stdout
    assert "left out" not in piped and "started" in piped.splitlines()[0], piped
    compared = _on_a_terminal(["compare", "tiny", "--store", str(store)], TERM="dumb", COLUMNS="60").splitlines()
    table = compared[compared.index("tiny"):]
    said = next(line for line in table if line.startswith("left out for the terminal's width: "))
    assert table[1].split() == ["variant", "val", "acc", "test", "acc"], compared  # (a failed run's note is wide)
    assert said.split(": ")[1].startswith("params, epochs, train acc, test loss, train time, s/epoch"), said


def test_auto_progress_is_lines_on_a_dumb_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from mnistlab.callbacks import shown_mode

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("TERM", "xterm-256color")
    assert shown_mode("auto", Tty()) == "bar" and shown_mode("auto", io.StringIO()) == "lines"
    monkeypatch.setenv("TERM", "dumb")
    assert shown_mode("auto", Tty()) == "lines" and shown_mode("bar", Tty()) == "bar"


@pytest.mark.parametrize("columns", ["30", "45"])
def test_a_comparison_too_wide_for_the_terminal_even_cut_is_printed_as_plain_lines(recorded, columns: str) -> None:
    """helper-163: at 50 columns a long variant name left rich room only to crop "58.00%" to "58."."""
    store, ids = recorded
    text = _on_a_terminal(["compare", "tiny", "--store", str(store)], COLUMNS=columns)
    runs = [r for r in RunStore(store).runs() if r.status == "finished"]
    assert not BOX.search(text) and "…" not in text and "<script>alert(1)</script>" in text, text
    assert all(f"{100 * r.metrics['test_accuracy']:.2f}%" in text for r in runs if r.variant != "cnn"), text
    wide = _on_a_terminal(["compare", "tiny", "--store", str(store)], COLUMNS="160")
    assert BOX.search(wide) and max(map(len, wide.splitlines())) <= 160


def test_the_python_apis_rich_table_on_a_narrow_console_prints_plain_lines(recorded) -> None:
    """helper-164: `Console(width=40).print(rich_table(rows))` (the Python API) still cropped the
    numbers the CLI prints whole (it chose the plain lines itself)."""
    from rich.console import Console

    from mnistlab.comparison import compare, rich_table

    store, _ = recorded
    rows = compare(RunStore(store), "tiny")
    for width, boxed in ((40, False), (160, True)):
        console = Console(width=width, file=io.StringIO(), color_system=None)
        console.print(rich_table(rows, title="tiny"))
        text = console.file.getvalue()
        assert bool(BOX.search(text)) == boxed and "…" not in text, text
        assert all(f"{100 * r['test_acc']:.2f}%" in text for r in rows if r.get("test_acc") is not None), text


def test_headers_break_only_between_words_and_a_path_folds(data_dir: Path) -> None:
    """helper-162: at 80 columns `datasets` broke its headers mid-word ("classe/s", "locat/ion")."""
    text = _on_a_terminal(["datasets", "--data-dir", str(data_dir)], COLUMNS="80")
    heads = next(line for line in text.splitlines() if "name" in line)
    assert BOX.search(text) and all(f" {h} " in heads for h in ("name", "classes", "train", "test", "location")), text
    assert "left out for the terminal's width: size, checked by, found by" in " ".join(text.split()) and "…" not in text


@pytest.mark.parametrize("columns", ["0", "-3", "wide"])
def test_a_columns_of_no_use_is_not_read(recorded, columns: str) -> None:
    """helper-162: COLUMNS=0 printed a table of no width (nothing) and exit 0: the terminal's own
    width is used (a pty of unset size: 80, as shutil says)."""
    store, ids = recorded
    text = _on_a_terminal(["runs", "--store", str(store)], COLUMNS=columns)
    assert BOX.search(text) and all(i in text for i in ids.values()), text
    assert max(map(len, text.splitlines())) <= 80


def _mnistlab_with(argv: list[str], shell: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`mnistlab ARGV` started by ``sh -c SHELL`` ("$@" in it: the command), with ``env``."""
    return subprocess.run(["sh", "-c", shell, "sh", sys.executable, "-m", "mnistlab", *argv], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120)


def test_closed_standard_streams_are_no_traceback_and_a_run_still_finishes(tmp_path: Path, data_dir: Path) -> None:
    """helper-162: `train >&-` (a cron job's, a daemon's) was a traceback and a failed run; `rm ID <&-`
    a traceback (no stdin to ask on)."""
    store = tmp_path / "runs"
    train = ["train", "--dataset", "mnist", "--model", "{ dense = [8] }", "--epochs", "1", "--subset", "120",
             "--data-dir", str(data_dir), "--store", str(store)]
    done = _mnistlab_with(train, 'exec "$@" >&- 2>&-')
    assert done.returncode == 0 and done.stdout == done.stderr == ""
    [rec] = RunStore(store).runs()
    assert rec.status == "finished"
    done = _mnistlab_with(["runs", "--store", str(store)], 'exec "$@" >&-')
    assert (done.returncode, done.stderr) == (0, "")
    done = _mnistlab_with(["predict", rec.run_id, "-", "--store", str(store)], 'exec "$@" <&-')
    assert done.returncode == 2 and "Traceback" not in done.stderr and "nothing was piped in" in done.stderr
    done = _mnistlab_with(["runs", "--store", str(store)], 'exec "$@" 2</dev/null')  # open, but for reading
    assert done.returncode == 0 and rec.run_id in done.stdout  # (helper-163: nothing printed, exit 1)


def test_a_name_the_locale_cannot_spell_is_escaped_not_an_error(tmp_path: Path) -> None:
    """helper-162: under a Latin-1 locale a variant named "密集" stopped the sweep that printed it, and
    every listing of its store ("UnicodeEncodeError")."""
    store = RunStore(tmp_path / "runs")
    run_id = store.start_run(experiment="e", variant="密集", seed=0, member=0, config={}, config_hash="k")
    store.finish_run(run_id, status="failed", history=[], metrics={}, env={}, message="x")
    done = _mnistlab_with(["runs", "--store", str(store.root)], 'exec "$@"', PYTHONIOENCODING="latin-1")
    assert done.returncode == 0 and "\\u5bc6\\u96c6" in done.stdout and run_id in done.stdout, done.stderr


def test_a_matplotlib_backend_the_user_set_for_elsewhere_does_not_fail_a_figure(recorded, tmp_path: Path,
                                                                                   monkeypatch) -> None:
    """helper-162: MPLBACKEND=qt5 (a name matplotlib does not know) failed every `plot` and `report`
    with matplotlib's error, naming no variable: the commands only write files."""
    store, ids = recorded
    out = tmp_path / "h.png"
    done = _mnistlab_with(["plot", "history", ids["cnn0"], "--store", str(store), "-o", str(out)], 'exec "$@"',
                          MPLBACKEND="qt5")
    assert done.returncode == 0 and out.read_bytes()[:4] == b"\x89PNG", done.stderr
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # a notebook's, kept after main()
    assert main(["runs", "--store", str(store)]) == 0 and os.environ["MPLBACKEND"].endswith("backend_inline")


def test_predict_from_stdin_on_a_terminal_says_nothing_was_piped_in(recorded) -> None:
    """helper-162: `predict RUN -` with the keyboard as stdin waited, silent, until killed."""
    store, ids = recorded
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "mnistlab", "predict", ids["cnn0"], "-", "--store", str(store)],
                              stdin=follower, capture_output=True, text=True, timeout=60)
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 2 and done.stderr.strip().endswith(
        "error: <stdin>: a terminal: nothing was piped in (mnistlab predict RUN - < image.png)"), done.stderr


def test_a_current_folder_deleted_under_the_shell_is_one_line(tmp_path: Path) -> None:
    """helper-162: torch's MKL died in it ("oneMKL FATAL ERROR: Cannot load"), `runs` said "no run store"."""
    gone = tmp_path / "gone"
    gone.mkdir()
    done = _mnistlab_with(["runs"], f'cd "{gone}" && rmdir "{gone}" && exec "$@"')
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().endswith("error: the current folder no longer exists (deleted while the shell was in "
                                        "it?): cd to one that does, then run the command again"), done.stderr


BOX = re.compile("[\u2500-\u257f]")  # box drawing: rich's table borders
ANSI = "\x1b["

# command (without --format) -> the stable keys of its CSV header and JSON objects
LISTINGS = {
    "models": ["name", "params", "source", "description"],
    "datasets": ["name", "classes", "train", "test", "location", "size", "status", "check", "found_by", "problem"],
    "runs": ["run_id", "experiment", "variant", "seed", "member", "status", "test_accuracy", "epochs", "started",
             "quick", "dataset", "file", "tags", "note", "optimizer", "lr", "batch_size", "train_accuracy",
             "val_accuracy", "test_loss", "train_seconds", "tta_test_accuracy", "tta_val_gain", "files_gone"],
    "compare": list(COLUMNS),
    "experiments": ["experiment", "runs", "finished", "no_result", "diverged", "variants", "best_run_acc",
                    "last_started", "file", "test_set"],
}


def _argv(command: str, store: Path, data_dir: Path) -> list[str]:
    return {"models": ["models"], "datasets": ["datasets", "--data-dir", str(data_dir)],
            "runs": ["runs", "--store", str(store)], "compare": ["compare", "tiny", "--store", str(store)],
            "experiments": ["experiments", "--store", str(store)]}[command]


def _expected_rows(command: str, ids: dict[str, str]) -> int:
    # tiny: runs cnn0, cnn1, dense, failed; variants cnn, <script>, broken
    return {"models": len(list_presets()), "datasets": len(list_datasets()), "runs": len(ids), "compare": 3,
            "experiments": 1}[command]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def _gutters(lines: list[str]) -> int:
    """How many runs of two or more character positions are blank on every line (the column gaps)."""
    width = max(map(len, lines))
    padded = [line.ljust(width) for line in lines]
    blank = "".join(" " if all(p[i] == " " for p in padded) else "x" for i in range(width))
    return len(re.findall(r" {2,}", blank.rstrip()))


@pytest.mark.parametrize("command", list(LISTINGS))
def test_piped_table_is_plain_aligned_text(command: str, recorded, data_dir: Path, capsys) -> None:
    store, ids = recorded
    out = _run(_argv(command, store, data_dir), capsys)
    assert not BOX.search(out) and ANSI not in out, out
    lines = out.splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.split()[0] in ("name", "run", "variant", "experiment"))
    header, rows = lines[header_at], lines[header_at + 1:]
    assert len(rows) == _expected_rows(command, ids), out
    columns = re.split(r" {2,}", header.strip())
    assert len(columns) >= 4, header
    # Aligned: the gaps between the columns line up on every line (left- or right-aligned cells).
    assert _gutters([header, *rows]) == len(columns) - 1, out


@pytest.mark.parametrize("command", list(LISTINGS))
def test_csv_has_stable_header_and_one_line_per_row(command: str, recorded, data_dir: Path, capsys) -> None:
    store, ids = recorded
    out = _run([*_argv(command, store, data_dir), "--format", "csv"], capsys)
    reader = csv.DictReader(io.StringIO(out))
    rows = list(reader)
    assert reader.fieldnames == LISTINGS[command]
    assert len(rows) == _expected_rows(command, ids)
    assert not BOX.search(out) and ANSI not in out
    assert not {"True", "False"} & {v for r in rows for v in r.values()}  # true/false, as JSON (helper-165)


@pytest.mark.parametrize("command", list(LISTINGS))
def test_json_is_a_list_of_objects_with_stable_keys(command: str, recorded, data_dir: Path, capsys) -> None:
    store, ids = recorded
    text = _run([*_argv(command, store, data_dir), "--format", "json"], capsys)
    rows = json.loads(text)
    assert isinstance(rows, list) and len(rows) == _expected_rows(command, ids)
    assert text.endswith("]\n")  # a line of its own, as every format ends (a shell prompt after it)
    assert all(list(r) == LISTINGS[command] for r in rows)


def test_json_and_csv_carry_raw_values(recorded, data_dir: Path, capsys) -> None:
    store, ids = recorded
    models = json.loads(_run(["models", "--format", "json"], capsys))
    assert {m["name"]: m["params"] for m in models} == {p.name: p.expected_params for p in list_presets()}
    runs = {r["run_id"]: r for r in json.loads(_run(["runs", "--store", str(store), "--format", "json"], capsys))}
    assert set(runs) == set(ids.values())
    assert isinstance(runs[ids["cnn0"]]["test_accuracy"], float) and runs[ids["failed"]]["test_accuracy"] is None
    assert runs[ids["failed"]]["status"] == "failed"
    data = json.loads(_run(["datasets", "--data-dir", str(data_dir), "--format", "json"], capsys))
    assert [(d["name"], d["train"], d["status"], d["check"]) for d in data[:2]] == [
        ("mnist", 60000, "verified", "sha256"), ("fashion-mnist", 60000, "verified", "sha256")]
    assert data[2]["name"] == "kmnist" and data[2]["location"] is None and data[2]["size"] is None


def test_a_real_pipe_gets_plain_text_and_a_terminal_gets_the_box_table() -> None:
    env = {**os.environ, "COLUMNS": "200"}
    piped = subprocess.run([sys.executable, "-m", "mnistlab", "models"], capture_output=True, text=True, env=env)
    assert piped.returncode == 0 and "seed000-cnn" in piped.stdout and not BOX.search(piped.stdout)
    # The fields of a piped line split on runs of two spaces: what `awk -F '  +'` would read.
    line = next(x for x in piped.stdout.splitlines() if x.startswith("seed000-cnn "))
    assert re.split(r" {2,}", line)[:3] == ["seed000-cnn", "243,786", "seed 000"]

    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mnistlab", "models"], stdout=follower, stderr=subprocess.PIPE,
                            env={**env, "TERM": "xterm"})
    os.close(follower)
    on_terminal = read_terminal(leader).decode("utf-8", "replace")
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    assert BOX.search(on_terminal) and "seed000-cnn" in on_terminal


def test_empty_listing_says_so_in_every_format(tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    RunStore(store)  # an empty store
    assert main(["runs", "--store", str(store)]) == 0  # in a pipe, the word on stderr: no line to count
    assert capsys.readouterr() == ("", "no runs\n")  # (helper-173: `runs -s running | wc -l` gave 1)
    assert json.loads(_run(["runs", "--store", str(store), "--format", "json"], capsys)) == []
    assert _run(["runs", "--store", str(store), "--format", "csv"], capsys) == ",".join(LISTINGS["runs"]) + "\n"


def test_plain_table_lines_up_wide_characters_by_terminal_cells() -> None:
    from rich.cells import cell_len

    from mnistlab.comparison import plain_table

    text = plain_table(["variant", "acc"], [["幅の広い名前", "91.2%"], ["plain", "90.1%"], ["café🙂", "89.0%"]],
                       [False, True])
    lines = text.splitlines()
    # every row's right-aligned column ends in the same terminal cell: the wide names were padded by width
    assert len({cell_len(line) for line in lines}) == 1, lines
    assert lines[1].startswith("幅の広い名前  ")


def test_the_comparison_table_never_cuts_a_variant_name_on_a_narrow_terminal() -> None:
    from rich.console import Console


    from mnistlab.comparison import rich_table

    names = ["lr=0.001,dropout=0.25,filters=64", "lr=0.0001,dropout=0.25,filters=64"]
    rows = [{"variant": n, "n": 3, "params": 1_386_506, "epochs": 5, "train_acc": 0.9, "test_acc": 0.91,
             "test_acc_std": 0.002, "test_loss": 0.25, "train_seconds": 100.0, "seconds_per_epoch": 20.0} for n in names]
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(rich_table(rows, title="narrow"))
    text = console.export_text()
    assert all(n in text for n in names), text


@pytest.mark.parametrize("width", [70, 100])
def test_the_comparison_table_never_splits_a_variant_name_at_its_spaces(width: int) -> None:
    """helper-184: "klein – größe 日本" was printed as "klein – größe" / "日本" at 100 columns, the
    README saying names are never split; its notes (a failed run's) still wrap after it."""
    from rich.console import Console

    from mnistlab.comparison import rich_table

    names = ["klein – größe 日本", "groß – breit 日本語"]
    rows = [{"variant": n, "n": 3, "params": 1_386_506, "epochs": 5, "train_acc": 0.9, "test_acc": 0.91,
             "test_acc_std": 0.002, "test_loss": 0.25, "train_seconds": 100.0, "seconds_per_epoch": 20.0} for n in names]
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(rich_table(rows, title="names"))
    text = console.export_text()
    assert all(n in text for n in names), text


def test_the_column_of_marks_beside_test_accuracy_has_a_heading() -> None:
    """helper-176: the column of "best" / "~best" marks was headed by nothing, read aloud as a blank."""
    from rich.console import Console

    from mnistlab.comparison import rich_table

    rows = [{"variant": v, "n": 3, "params": 10, "epochs": 5, "test_acc": a, "test_acc_std": 0.01, "vs_best": mark}
            for v, a, mark in (("a", 0.91, "best"), ("b", 0.905, "within noise"))]
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(rich_table(rows, title="marks"))
    head = next(line for line in console.export_text().splitlines() if "test acc" in line)
    assert re.search(r"test acc\s*\S\s*vs best", head), head


@pytest.mark.parametrize("width", [120, 80, 60, 45])
def test_a_narrow_terminal_leaves_out_whole_columns_and_says_which(width: int) -> None:
    from rich.console import Console

    from rich.cells import cell_len

    from mnistlab.comparison import rich_table

    rows = [{"variant": f"trial-000{i}", "note": f"#{i + 1} trial {i} complete, val_accuracy 0.9{i}",
             "train.lr": 0.0001826 * (i + 1), "train.batch_size": 128, "model.dense": [128], "n": 1,
             "params": 693_962, "epochs": 5, "train_acc": 0.93, "val_acc": 0.91, "test_acc": 0.9,
             "test_loss": 0.25, "train_seconds": 100.0, "seconds_per_epoch": 20.0} for i in range(3)]
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(rich_table(rows, title="search"))  # fitted to the console it is printed on
    text = console.export_text()
    assert "…" not in text, text                                            # nothing shortened
    assert max(cell_len(line) for line in text.splitlines()) <= width, text  # nothing past the edge
    assert all(f"trial-000{i}" in text for i in range(3)) and "90.00%" in text and "91.00%" in text
    if width <= 80:
        said = " ".join(text.split())
        assert "left out for the terminal's width: " in said and "s/epoch (--format markdown" in said, text


def test_the_best_marks_stay_when_a_narrow_terminal_leaves_columns_out() -> None:
    """helper-114: at 60 columns the unnamed best/~best column was the first to go (taken for a
    search's key), its blank name in the caption's list, while the legend under it explained marks
    no longer shown."""
    from rich.console import Console

    from mnistlab.comparison import mark_vs_best, rich_table

    rows = mark_vs_best([{"variant": v, "n": 3, "params": 43_706, "epochs": 2, "train_acc": 0.9, "test_acc": acc,
                          "test_acc_std": 0.004, "test_accs": [acc - 0.004, acc, acc + 0.004], "test_loss": 0.3,
                          "train_seconds": 2.0, "seconds_per_epoch": 1.0} for v, acc in (("small", 0.86), ("wide", 0.889))])
    console = Console(width=60, record=True, file=io.StringIO())
    console.print(rich_table(rows, title="lab"))
    text = console.export_text()
    said = " ".join(text.split())
    assert "best" in text and "left out for the terminal's width: " in said and ", ," not in said, text


def test_runs_on_a_narrow_terminal_leaves_out_whole_columns_and_says_which(recorded) -> None:
    """helper-114: `mnistlab runs` at 60 columns squeezed every column to "…" (a test accuracy of
    "8…") and took two lines a run."""
    store, ids = recorded
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mnistlab", "runs", "--store", str(store)], stdout=follower,
                            stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "70", "TERM": "xterm"})
    os.close(follower)
    text = re.sub(r"\x1b\[[0-9;]*m", "", read_terminal(leader).decode("utf-8", "replace")).replace("\r", "")
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    assert "…" not in text and all(len(line) <= 70 for line in text.splitlines()), text
    assert all(i in text for i in ids.values()) and "<script>alert(1)</script>" in text  # ids and names whole, never "…"
    assert "left out for the terminal's width: " in " ".join(text.split()) and "%" in text


@pytest.mark.parametrize("how", ["console script", "python -m"])
def test_ctrl_c_while_the_command_loads_is_one_line_not_a_traceback(how: str) -> None:
    """A Ctrl-C while the command loads is one line: mnistlab_launch holds it while a module loads
    (the CLI, torch: the test below) and raises it after, a KeyboardInterrupt the CLI reports (a
    terminal's "^C" line ended by the launcher's SIGINT handler: not here, where stderr is a
    pipe). New-user finding: `python -m mnistlab`
    (the package loaded torch before its __main__) gave a traceback, 17 times in 17 between 0.3
    and 1.9 s."""
    import signal
    import time

    command = [str(Path(sys.executable).with_name("mnistlab"))] if how == "console script" else [
        sys.executable, "-m", "mnistlab"]
    # train loads torch (seconds; `models` no longer does, and may be done by 0.5 s)
    proc = subprocess.Popen([*command, "train", "--dataset", "mnist", "--subset", "60", "--epochs", "1", "--no-record"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    time.sleep(0.5)  # past the interpreter's start: in the launcher's hold or in the command's torch import (the test below)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, err) == (130, "interrupted\n"), err[-400:]  # no empty line first (helper-108)


def test_after_ctrl_c_on_a_terminal_the_command_speaks_on_a_line_of_its_own(data_dir: Path) -> None:
    """The terminal echoes Ctrl-C as "^C" where the cursor is; what `train` said next (its test
    metrics, "run interrupted ...") followed it on the same line: "^Ctest_accuracy: ..."
    (helper-96). A line break comes first now, as click's before its "Aborted!"."""
    command = [str(Path(sys.executable).with_name("mnistlab")), "train", "--dataset", "mnist", "--subset", "3000",
               "--epochs", "50", "--progress", "lines", "--no-record", "--data-dir", str(data_dir)]
    pid, leader = pty.fork()  # the child's controlling terminal: Ctrl-C typed there signals it
    if pid == 0:
        os.execv(command[0], command)
    said = b""
    while b"Epoch 2/50" not in said:
        chunk = os.read(leader, 65536)
        assert chunk, said
        said += chunk
    os.write(leader, b"\x03")  # Ctrl-C, typed: the terminal echoes "^C" and sends SIGINT
    said += read_terminal(leader)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 130
    text = said.decode(errors="replace")
    assert "^C" in text and "run interrupted" in text, text[-1000:]
    assert re.search(r"\^C[^\r\n]", text) is None, text[-1000:]  # "^C" ends its line


def test_mnistlab_alone_prints_its_help_whole(capsys) -> None:
    """`mnistlab` with no command: the help as `--help` prints it, line by line (new-user finding:
    it came as one 1,500-character "error:" line), and click's status 2 for a usage mistake."""
    from mnistlab.cli import main

    assert main([]) == 2
    out, err = capsys.readouterr()
    assert main(["--help"]) == 0
    assert out == "" and err == capsys.readouterr().out and "error:" not in err
    assert err.startswith("Usage: mnistlab [OPTIONS] COMMAND [ARGS]...\n") and "\nCommands:\n" in err


def test_ctrl_c_while_a_command_imports_the_library_is_one_line(monkeypatch, capsys) -> None:
    """The commands import the library (and torch) when they run: a Ctrl-C in that import is the
    same one line and status 130 (here for certain: the import of mnistlab.summary is interrupted)."""
    import importlib.abc

    from mnistlab.cli import main

    class Interrupted(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "mnistlab.summary":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "mnistlab.summary", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Interrupted(), *sys.meta_path])
    assert main(["models"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


# ------------------------------------------------------------- a closed output (`mnistlab ... | head`)
def _closed_pipe() -> io.TextIOWrapper:
    """A text stream whose reader has gone: the write end of a pipe whose read end is closed."""
    read, write = os.pipe()
    os.close(read)
    return io.TextIOWrapper(os.fdopen(write, "wb"), encoding="utf-8", line_buffering=True)


def test_a_closed_stdout_stops_the_work_once_as_sigpipe_and_later_output_goes_nowhere(monkeypatch) -> None:
    from mnistlab.cli._output import closed_output_ignored, closed_output_stops
    from mnistlab.execute import StopSignal

    stream = _closed_pipe()
    monkeypatch.setattr(sys, "stdout", stream)
    stop = StopSignal()
    with pytest.raises(KeyboardInterrupt), closed_output_stops(stop):
        print("the first line nobody reads")
    assert stop.signum == 13 and sys.stdout is stream  # SIGPIPE; the stream itself is back
    print("later lines go nowhere, and raise nothing")
    with closed_output_stops(stop), closed_output_ignored():  # recording: never stopped
        print("more", flush=True)
    stream.close()  # the last flush raises nothing either

    stream = _closed_pipe()
    monkeypatch.setattr(sys, "stdout", stream)
    with closed_output_ignored():
        print("nobody reads this, and the work goes on")
    stream.close()

    stream = _closed_pipe()  # while an epoch ends, the stop is asked for and taken before the next epoch
    monkeypatch.setattr(sys, "stdout", stream)
    deferred = StopSignal()
    deferred.defer = True
    with closed_output_stops(deferred):
        print("an epoch's line")
        print("and a second line")
    assert deferred.pending == 13 and deferred.signum == 2  # SIGPIPE once it is taken; a Ctrl-C before is a Ctrl-C
    stream.close()


def _read_until(proc: subprocess.Popen[bytes], start: bytes) -> list[bytes]:
    """The lines of ``proc``'s stdout up to the first that starts with ``start``; then stdout is closed."""
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if line.startswith(start):
            break
    proc.stdout.close()  # the reader goes away, as `head` does once it has its lines
    return lines


PIPED = """
name = "piped"
[base]
dataset = "mnist"
model = "seed000-dense"
data = { subset = 600 }
train = { epochs = 1 }
[[variants]]
name = "a"
[[variants]]
name = "b"
train = { lr = 0.01 }
[[variants]]
name = "c"
train = { lr = 0.002 }
"""


@pytest.mark.long
def test_run_into_a_closed_pipe_stops_the_sweep_records_it_and_exits_141(tmp_path: Path, data_dir: Path) -> None:
    exp, store = tmp_path / "piped.toml", tmp_path / "store"
    exp.write_text(PIPED)
    cmd = [sys.executable, "-m", "mnistlab", "run", str(exp), "--store", str(store), "--data-dir", str(data_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _read_until(proc, b"experiment piped")  # `| head -1`
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 141, err
    assert err.decode().count("\n") == 1 and "its output was closed (SIGPIPE" in err.decode()
    assert len(RunStore(store).runs(experiment="piped")) < 3
    for fmt in ("table", "csv"):  # `2>&1 | head -1`; with csv the progress is on stderr
        other = [*cmd[:cmd.index("--store") + 1], str(tmp_path / fmt), *cmd[cmd.index("--store") + 2:]]
        into_head = subprocess.Popen([*other, "--format", fmt], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        _read_until(into_head, b"experiment piped")
        assert into_head.wait(timeout=300) == 141, fmt  # the stop's own line into the closed pipe changes nothing
        assert len(RunStore(tmp_path / fmt).runs(experiment="piped")) < 3
    runs = RunStore(store).runs(experiment="piped")
    assert len(runs) < 3 and {r.status for r in runs} <= {"finished", "interrupted"}  # none left "running"
    again = subprocess.run(cmd, capture_output=True, timeout=300)  # the same command trains only the rest
    assert again.returncode == 0, again.stderr
    assert sorted(r.variant for r in RunStore(store).runs(experiment="piped") if r.status == "finished") == ["a", "b", "c"]


def test_a_closed_pipe_after_the_cells_counts_this_sweep_s_cells_not_the_last_plan_s(tmp_path: Path,
                                                                                     data_dir: Path) -> None:
    """New-user finding (helper-102): `run FILE | head -1` with every cell done said "after the
    cells: 2 of 2 runs" of the --quick sweep run last (the last plan written; this sweep, with
    nothing to train, writes none), not this sweep's 4."""
    exp, store = tmp_path / "piped.toml", tmp_path / "store"
    exp.write_text(PIPED.split("[[variants]]")[0].replace("subset = 600", "subset = 120")
                   .replace('name = "piped"\n', 'name = "piped"\nrepeats = 2\n')
                   + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\ntrain = { lr = 0.01 }\n')
    cmd = [sys.executable, "-m", "mnistlab", "run", str(exp), "--store", str(store), "--data-dir", str(data_dir)]
    for args in ([], ["--quick"]):  # the full sweep (4 cells), then its smoke check (2): the last plan is the latter's
        assert subprocess.run([*cmd, *args], capture_output=True, timeout=300).returncode == 0
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _read_until(proc, b"experiment piped")  # `| head -1`: the table below finds no reader
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 141, err
    assert "after the cells: 4 of 4 runs of piped finished and recorded, 0 failed, none left" in err.decode(), err


@pytest.mark.parametrize("closed", ["before the first line", "after the first epoch"])
def test_train_into_a_closed_pipe_records_an_interrupted_run_and_exits_141(tmp_path: Path, data_dir: Path,
                                                                          closed: str) -> None:
    store = tmp_path / "store"
    cmd = [sys.executable, "-m", "mnistlab", "train", "--dataset", "mnist", "--model", "seed000-dense", "--subset",
           "20000", "--epochs", "5", "--store", str(store), "--data-dir", str(data_dir)]
    if closed == "before the first line":  # a reader gone before anything is written
        read, write = os.pipe()
        os.close(read)
        proc = subprocess.Popen(cmd, stdout=write, stderr=subprocess.PIPE)
        os.close(write)
        said = "before training began"
    else:  # `2>&1 | head`: the one line said on stderr finds no reader either, and the status stays
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        _read_until(proc, b"Epoch 1/5")
        assert proc.wait(timeout=300) == 141
        [run] = RunStore(store).runs()
        assert run.status == "interrupted" and "because its output was closed (SIGPIPE)" in run.message
        # the epoch whose line found the reader gone is kept: the stop is taken at the next epoch's start
        assert 2 <= len(run.history) < 5 and f"after {len(run.history)} complete epochs" in run.message
        return
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 141, err
    line = err.decode().strip()
    assert line.startswith("error: run interrupted because its output was closed (SIGPIPE)") and said in line, line
    [run] = RunStore(store).runs()
    assert run.status == "interrupted" and run.message == line.removeprefix("error: run ")  # the record says why too


def test_train_whose_reader_goes_after_the_last_epoch_still_records_the_finished_run(tmp_path: Path,
                                                                                     data_dir: Path) -> None:
    store, weights = tmp_path / "store", tmp_path / "w.safetensors"
    cmd = [sys.executable, "-m", "mnistlab", "train", "--dataset", "mnist", "--model", "seed000-dense", "--epochs",
           "1", "--store", str(store), "--data-dir", str(data_dir), "--save-weights", str(weights)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = _read_until(proc, b"Epoch 1/1")  # closed while the test set is scored: its lines find no reader
    _, err = proc.communicate(timeout=300)
    assert lines[-1].startswith(b"Epoch 1/1") and proc.returncode == 0, err
    [run] = RunStore(store).runs()
    assert run.status == "finished" and weights.is_file()


def test_search_into_a_closed_pipe_stops_and_exits_141(tmp_path: Path, data_dir: Path) -> None:
    search = tmp_path / "s.toml"
    search.write_text('name = "s"\n[base]\ndataset = "mnist"\nmodel = { dense = [8] }\n'
                      'data = { subset = 600, validation = 0.2 }\ntrain = { epochs = 1 }\n'
                      '[search]\n"train.lr" = { log_uniform = [1e-3, 1e-1] }\ntrials = 4\nseed = 0\n')
    cmd = [sys.executable, "-m", "mnistlab", "search", str(search), "--store", str(tmp_path / "store"),
           "--data-dir", str(data_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _read_until(proc, b"search s")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 141 and "its output was closed (SIGPIPE" in err.decode(), err
    trials = RunStore(tmp_path / "store").runs(experiment="s")
    assert len(trials) < 4 and {r.status for r in trials} <= {"finished", "interrupted"}


def test_output_into_a_full_disk_is_the_systems_words_in_one_line(tmp_path: Path) -> None:
    """/dev/full: every write fails with ENOSPC, as a full disk does."""
    RunStore(tmp_path / "s")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "mnistlab", "runs", "--store", str(tmp_path / "s"), "--format", "csv"],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert (proc.returncode, proc.stderr) == (1, "error: No space left on device\n")


@pytest.mark.parametrize("status, message, said", [
    ("interrupted", "interrupted by Ctrl-C or a stop signal after 2 complete epochs",
     (" by Ctrl-C or a stop signal after 2 complete epochs", "")),
    ("interrupted", "interrupted because its output was closed (SIGPIPE)", (" because its output was closed (SIGPIPE)", "")),
    ("interrupted", "interrupted before it finished", (" before it finished", "")),  # not "interrupted: interrupted ..."
    ("diverged", "the learning rate is probably too high", ("", "the learning rate is probably too high")),
    ("failed", "failed to read x.csv", ("", "failed to read x.csv")),  # the word, then no "by"/"because": as written
    ("failed", None, ("", "")),
])
def test_a_status_and_its_message_say_the_status_word_once(status: str, message: str | None, said: tuple[str, str]) -> None:
    """train's error, show's status line and search's trial line share this: "interrupted by
    Ctrl-C ..." reads on from the word, never "interrupted: interrupted by ..."."""
    from mnistlab.cli._common import status_said

    assert status_said(status, message) == said


def test_a_ctrl_c_inside_an_import_is_raised_once_the_module_has_loaded(tmp_path: Path) -> None:
    """CI failure (session 39): a Ctrl-C that came while `train` loaded torch was raised inside
    torch's own import (in a dataclass it was building): the command said "interrupted" and
    returned 130, and Python then died by SIGINT (status -2), 3 times in 40; once torch, half
    loaded, raised "Error calling __set_name__ on 'cached_property'" (status 1). The console
    script holds a Ctrl-C while the main thread imports and raises it when the import is done,
    and a failing import interrupted meanwhile is a Ctrl-C too."""
    (tmp_path / "slow_module.py").write_text(
        "import dataclasses, os, signal\n"
        "os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, in the middle of this import\n"
        "@dataclasses.dataclass\nclass Loaded:\n    whole: bool = True\n")
    (tmp_path / "broken_module.py").write_text(
        "import os, signal\nos.kill(os.getpid(), signal.SIGINT)\nraise ImportError('no')\n")
    (tmp_path / "lazy_module.py").write_text((tmp_path / "slow_module.py").read_text())  # loaded by import_module
    script = (  # the launcher's main() does these two, then loads the CLI and runs it
        "import builtins, importlib, signal, sys\n"
        "import mnistlab_launch as launch\n"
        "builtins.__import__ = launch._held(builtins.__import__)\n"
        "importlib.import_module = launch._held(importlib.import_module)\n"
        "signal.signal(signal.SIGINT, launch._ctrl_c)\n"
        "for name in ('slow_module', 'broken_module', 'lazy_module'):\n"
        "    try:\n"
        "        importlib.import_module(name) if name == 'lazy_module' else __import__(name)\n"
        "    except KeyboardInterrupt:\n"
        "        print(name, 'interrupted after', name in sys.modules and sys.modules[name].Loaded().whole)\n"
        "sys.exit(130)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])})
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        130, "slow_module interrupted after True\nbroken_module interrupted after False\nlazy_module interrupted after "
             "True\n", "")  # helper-131: torch's lazy names load by import_module


def test_a_runs_start_is_rfc3339_with_its_offset(recorded, capsys, monkeypatch) -> None:
    """helper-165: "2026-12-06T14:08:51+0000" (no colon) failed Python 3.10's fromisoformat and jq."""
    import datetime as dt

    store, ids = recorded
    monkeypatch.setenv("TZ", "America/New_York")
    assert main(["runs", "--store", str(store), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    created = {r.run_id: r.created_at for r in RunStore(store).runs()}
    for row in rows:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", row["started"]), row["started"]
        assert abs(dt.datetime.fromisoformat(row["started"]).timestamp() - created[row["run_id"]]) < 1


def test_a_tables_cells_and_headers_escape_a_terminals_control_codes(capsys) -> None:
    """helper-172: a class folder named with ESC ] 0 ; ... BEL set the terminal's title through
    `predict`'s table (and `card`); a copied-in store's variant did so through `runs` and `compare`."""
    from mnistlab.cli._output import Column, emit
    from mnistlab.comparison import display_cells, md

    title = "A\x1b]0;PWNED\x07"
    emit([{"class": title, "p": 0.5}], [Column("class", "class"), Column("p", f"p {title}")], "table")
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "A\\x1b]0;PWNED\\x07" in out
    emit([{"class": title + "\x1b[31mred", "p": 0.5}], [Column("class", "class"), Column("p", "p")], "csv")
    out = capsys.readouterr().out  # helper-174: raw there, and in a pipe click dropped "\x1b[31m" from the data
    assert out.splitlines()[1] == "A\\x1b]0;PWNED\\x07\\x1b[31mred,0.5", out
    _, cells = display_cells([{"variant": title, "n": 0}])
    assert cells[0][0] == "A\\x1b]0;PWNED\\x07"
    assert "\x1b" not in md(title) and "\x07" not in md(title)


@pytest.mark.parametrize("exc, said", [
    (MemoryError("Unable to allocate 618. MiB for an array with shape (9000, 9000) and data type float64"), True),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried "
                  "to allocate 3355443200 bytes."), True),
    (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), True),
    (RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x3 and 5x2)"), False),  # a bug: its traceback
])
def test_running_out_of_memory_is_told_apart_from_a_bug(exc: BaseException, said: bool) -> None:
    """helper-172: a run out of memory (recorded failed) then printed a traceback from a second
    allocation; the CLI says such an error in one line (exit 1) and lets any other RuntimeError through."""
    from mnistlab.cli import _out_of_memory, _said

    assert _out_of_memory(exc) is said
    assert _said(MemoryError()) == "MemoryError"  # (helper-175: "out of memory (MemoryError: ): ...")


@pytest.mark.parametrize("command", [["runs", "-e"], ["compare"], ["rm", "-e"], ["show"]])
def test_a_name_too_long_for_the_system_is_not_echoed_whole(command: list[str], tmp_path: Path, capsys) -> None:
    """helper-172: `runs -e` of 5,000 characters echoed them all in its "File name too long" line."""
    RunStore(tmp_path / "store")
    assert main([*command, "x" * 5000, "--store", str(tmp_path / "store")]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and len(err) < 400, err


@pytest.mark.parametrize(("columns", "drawn"), [("40", False), ("100", True)])
def test_a_narrow_terminal_keeps_the_progress_figures_and_drops_the_bar(monkeypatch: pytest.MonkeyPatch, columns: str,
                                                                       drawn: bool) -> None:
    """helper-176: at 40 columns the bar left "184…" of the step count and "0:00:…" of the time left."""
    from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn

    from mnistlab.callbacks import _LiveBar

    monkeypatch.setenv("COLUMNS", columns)
    bar = _LiveBar(io.StringIO())
    bar.start("Epoch 1/1", 10)
    kinds = [type(c) for c in bar.bar.columns]
    bar.close()
    assert MofNCompleteColumn in kinds and TimeRemainingColumn in kinds and (BarColumn in kinds) == drawn


def test_runs_under_a_time_zone_python_cannot_hold_lists_in_utc(tmp_path: Path) -> None:
    """helper-189: TZ=UTC-24 (glibc takes it: a 24-hour offset) failed `runs` whole with "offset must be
    a timedelta strictly between ..."; its dates are given in UTC there."""
    from mnistlab.store import RunStore

    store = RunStore(tmp_path)
    rid = store.start_run(experiment="e", variant="v", seed=0, member=0, config={}, config_hash="h")
    store.finish_run(rid, status="finished", history=[], metrics={}, env={})
    store.close()
    done = subprocess.run([sys.executable, "-m", "mnistlab", "runs", "--format", "json", "--store", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "TZ": "UTC-24"})
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)
    assert row["run_id"] == rid and row["started"].endswith("+00:00"), row


def test_too_many_open_files_says_what_to_raise() -> None:
    """helper-189: under `ulimit -n 12` a sweep of --jobs 2 ended in a bare "error: Too many open files"."""
    import errno

    from mnistlab.cli import _said

    said = _said(OSError(errno.EMFILE, "Too many open files", "/s/runs/a/config.json"))
    assert said == ("/s/runs/a/config.json: Too many open files (this process may open too few files: raise the limit, "
                    "`ulimit -n 4096`, or give fewer --jobs)")
    assert _said(OSError(errno.ENOSPC, "No space left on device", "/s/x")) == "/s/x: No space left on device"
