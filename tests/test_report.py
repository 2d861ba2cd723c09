"""report.py: the self-contained HTML report, its escaping, how it renders in headless Chromium, `mnistlab report`."""

from __future__ import annotations

import base64
import html.parser
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mnistlab import plots, report, views
from mnistlab.cli import main
from mnistlab.comparison import compare
from mnistlab.errors import ReportWarning
from mnistlab.execute import run_experiment
from mnistlab.store import RunStore

HOSTILE = "<script>alert(1)</script>"
EXPERIMENT = "tiny"  # the experiment of the `recorded` store (conftest.py)

ROWS = [
    dict(variant=HOSTILE, n=2, params=101_770, test_acc_mean=0.875, test_acc_std=0.004, train_seconds=14.0),
    dict(variant="cnn", n=2, params=243_786, test_acc_mean=0.903, test_acc_std=0.002, train_seconds=68.6),
    dict(variant="ex1", n=1, params=55_098, test_acc_mean=0.891, test_acc_std=None, train_seconds=30.0),
]


class _Collect(html.parser.HTMLParser):
    """Tags, attributes and script bodies of a page (stdlib parser: no extra dependency)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def _parse(text: str) -> _Collect:
    p = _Collect()
    p.feed(text)
    return p


def _hostile_report() -> str:
    history = [dict(epoch=1, loss=0.6, accuracy=0.8, val_loss=0.5, val_accuracy=0.82),
               dict(epoch=2, loss=0.4, accuracy=0.86, val_loss=0.45, val_accuracy=0.85)]
    comparison = [("test accuracy per variant", report.figure_data_uri(plots.plot_comparison(ROWS)))]
    section = report.VariantSection(
        name=HOSTILE,
        config={"model": HOSTILE, "note": '"><img src=x onerror=alert(2)>'},
        figures=[("training history", report.figure_data_uri(plots.plot_history([(HOSTILE, history, 0.87)])))],
        notes=[f"run {HOSTILE} failed"],
    )
    section.description = HOSTILE
    return report.render_report(f"exp {HOSTILE}", ROWS, comparison, [section], notes=[HOSTILE], description=HOSTILE)


def test_user_strings_are_escaped_everywhere():
    text = _hostile_report()
    page = _parse(text)
    assert len(page.scripts) == 1 and "alert" not in page.scripts[0]  # only our own script
    assert [t for t, _ in page.tags].count("script") == 1
    assert not any("onerror" in attrs for _, attrs in page.tags)
    assert sum(1 for t, _ in page.tags if t == "img") == 2  # the injected <img> is text, not a tag
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(2)&gt;" in text


def test_report_is_self_contained():
    text = _hostile_report()
    page = _parse(text)
    for tag, attrs in page.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("data:image/png;base64,", "#")), (tag, name, value[:40])
    outside_figures = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
    assert not re.search(r"https?:|ftp:|url\(|@import|src=\"//", outside_figures)
    # every embedded figure is a real PNG
    for _, attrs in page.tags:
        if "src" in attrs:
            data = base64.b64decode(attrs["src"].split(",", 1)[1])
            assert data[:8] == b"\x89PNG\r\n\x1a\n"


def test_table_has_every_row_with_sort_keys():
    page = _parse(report.render_table(ROWS))
    headers = [a for t, a in page.tags if t == "th" and a.get("scope") == "col"]
    assert len(headers) == 6
    rows = [a for t, a in page.tags if t == "th" and a.get("scope") == "row"]  # each row headed by its variant
    assert [a["data-sort"] for a in rows] == [r["variant"] for r in ROWS]  # (helper-176: a screen reader names rows)
    cells = [a["data-sort"] for t, a in page.tags if t in ("td", "th") and "data-sort" in a]
    assert len(cells) == 3 * 6
    assert cells[:6] == [HOSTILE, "2.0", "101770.0", "0.875", "0.004", "14.0"]
    assert "<caption>" in report.render_table(ROWS)
    assert cells[-2] == ""  # a missing std sorts first and shows a dash
    with_ids = [dict(r, run_ids=["3fa9c01b2e", "aa01"]) for r in ROWS]  # compare's rows name their runs...
    assert report.render_table(with_ids) == report.render_table(ROWS)  # ...which each section names: no column
    trials = [dict(ROWS[0], **{"train.lr": 0.00018255254802399022, "model.dense": [16], "trial": 3})]
    table = report.render_table(trials)  # a search's parameters, as the CLI shows them
    shown = re.findall(r"<td[^>]*>([^<]*)</td>", table)
    assert "0.0001826" in shown and "0.00018255254802399022" not in shown and "[16]" in shown and "3" in shown


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("headless Chromium is required for this test: apt-get install -y chromium")
    return path


def _browse(page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    """Open `page` in headless Chromium with the network off; returns its stdout and log."""
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=5000", *extra, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def check_in_browser(page: Path, tmp_path: Path, *, rows: int, images: int) -> Path:
    """Assert the page renders: table rows, every image decoded, no console errors; returns a screenshot."""
    result = _browse(page, tmp_path, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", result.stdout)
    assert body, result.stdout[:500]
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert attrs.get("ready") == "1", body.group(0)
    assert attrs["images"] == f"{images}/{images}"
    assert attrs["table-rows"] == str(rows)
    assert attrs["errors"] == "0"
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    shot = tmp_path / "report.png"
    result = _browse(page, tmp_path, f"--screenshot={shot}", "--window-size=1200,1600")
    assert result.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(shot) as im:  # not blank: the page drew something
        assert im.size == (1200, 1600) and len(np.unique(np.asarray(im.convert("L")))) > 10
    return shot


@pytest.mark.browser
def test_hostile_report_renders_in_chromium_without_running_script(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(_hostile_report(), encoding="utf-8")
    check_in_browser(page, tmp_path, rows=3, images=2)


@pytest.mark.browser
def test_browser_check_catches_a_broken_image_and_a_script_error(tmp_path):
    # The check itself can fail: a page with an undecodable image and a throwing script.
    text = _hostile_report().replace("</body>", '<img src="data:image/png;base64,AAAA"><script>null.x</script></body>')
    page = tmp_path / "bad.html"
    page.write_text(text, encoding="utf-8")
    with pytest.raises(AssertionError):
        check_in_browser(page, tmp_path, rows=3, images=3)
    result = _browse(page, tmp_path, "--dump-dom")
    assert 'data-images="2/3"' in result.stdout
    assert any("Uncaught" in line for line in result.stderr.splitlines())


def test_report_cli_rejects_bad_output(tmp_path, capsys):
    assert main(["report", "seed000", "-o", str(tmp_path / "r.pdf")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and ".html" in err and "\n" not in err
    assert main(["report", "seed000", "-o", str(tmp_path / "missing" / "r.html")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "d.html").mkdir()
    assert main(["report", "seed000", "-o", str(tmp_path / "d.html")]) == 2
    assert capsys.readouterr().err.strip().endswith(f"d.html': it is a folder; give a file in it ({tmp_path}/d.html/<name>.html)")
    (tmp_path / "d.png").mkdir()
    assert main(["plot", "history", "seed000", "-o", str(tmp_path / "d.png")]) == 2
    assert capsys.readouterr().err.strip().endswith("d.png/<name>.png)")
    # new-user finding: `-o out`, a folder, was told "the file name must end in .html"
    (tmp_path / "out").mkdir()
    for given in (str(tmp_path / "out"), str(tmp_path / "out") + "/"):
        assert main(["report", "seed000", "-o", given]) == 2
        assert capsys.readouterr().err.strip() == (f"error: cannot write {given!r}: it is a folder; give a file in it "
                                                   f"({tmp_path}/out/<name>.html)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.html", "d.png", "out"]  # and no .tmp left behind
    assert not list((tmp_path / "out").iterdir())


@pytest.mark.browser
def test_table_sorts_when_a_header_is_clicked(tmp_path):
    # A test-only script clicks "test acc" twice and records the first variant after each click.
    probe = """<script>window.addEventListener('load', function () {
      var th = Array.prototype.find.call(document.querySelectorAll('th'), function (h) { return h.textContent === 'test acc'; });
      var first = function () { return document.querySelector('#comparison tbody tr').cells[0].textContent; };
      th.click(); document.body.dataset.asc = first();
      th.click(); document.body.dataset.desc = first();
    });</script></body>"""
    page = tmp_path / "sort.html"
    page.write_text(_hostile_report().replace("</body>", probe), encoding="utf-8")
    dom = _browse(page, tmp_path, "--dump-dom").stdout
    assert 'data-asc="&lt;script&gt;alert(1)&lt;/script&gt;"' in dom  # 87.5% is the lowest
    assert 'data-desc="cnn"' in dom  # 90.3% the highest


# --------------------------------------------------------------- from a recorded store
def _report(recorded, data_dir, tmp_path, capsys) -> tuple[Path, str]:
    root, _ = recorded
    out = tmp_path / "report.html"
    assert main(["report", EXPERIMENT, "--store", str(root), "--data-dir", str(data_dir), "-o", str(out)]) == 0, \
        capsys.readouterr().err
    return out, out.read_text(encoding="utf-8")


def test_report_has_every_part_and_escapes_names(recorded, data_dir, tmp_path, capsys):
    out, text = _report(recorded, data_dir, tmp_path, capsys)
    assert text.count("<section") == 2  # cnn and the hostile variant; the failed one only in a note
    assert text.count("<img") == 3 + 2 * 3  # 3 comparison figures; history, confusion, misclassified each
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;b&gt;boom&lt;/b&gt;" in text and "<b>boom" not in text  # the failed run's message, escaped
    assert capsys.readouterr().err == ("warning: 1 run without a result (failed or stopped): the report's "
                                       "notes say why\n")  # on the terminal too, once for all of them
    assert text.count("<script>") == 1
    table = re.search(r'<table id="comparison".*?</table>', text, re.S).group(0)
    assert table.count("<tr>") == 1 + 3  # header + cnn, hostile, broken
    assert '"dataset": "fashion-mnist"' in text.replace("&quot;", '"')  # the config is shown
    assert "2 runs (seeds 0, 1) · dataset fashion-mnist · epochs 2" in text.replace("&#x27;", "'")
    assert "243,786 parameters" in text


def test_each_variants_figures_have_their_numbers_in_a_table_a_screen_reader_reads(recorded, data_dir, tmp_path, capsys):
    """helper-176: a figure's alt text only repeated its caption; a reader who cannot see the
    curves or the confusion matrix had no way to their numbers. Now each variant's history and
    confusion matrix have a table (folded), with row and column headers, whose numbers are the run's."""
    root, ids = recorded
    _, text = _report(recorded, data_dir, tmp_path, capsys)
    cnn = re.search(r'<section class="variant" id="variant-0"><h3>cnn</h3>.*?</section>', text, re.S).group(0)
    tables = re.findall(r"<details><summary>(the numbers .*?)</summary>(.*?)</details>", cnn, re.S)
    assert [s for s, _ in tables] == ["the numbers behind the training history of cnn", "the numbers behind the "
                                      "confusion matrix (rows: the true class; columns: the predicted) of cnn"]
    record = RunStore(root).get(ids["cnn1"])
    epoch = record.history[-1]
    row = re.search(r'<tr><th scope="row">seed 1, epoch 2</th>(.*?)</tr>', tables[0][1]).group(1)
    assert re.findall(r"<td>(.*?)</td>", row)[:4] == [f"{epoch[k]:.4f}" for k in ("loss", "accuracy", "val_loss",
                                                                                    "val_accuracy")]
    counts = [[int(v) for v in re.findall(r"<td>(\d+)</td>", r)] for r in re.findall(r"<tr>(.*?)</tr>", tables[1][1])[1:]]
    test_images = sum(map(sum, counts))
    assert len(counts) == 10 and all(len(r) == 10 for r in counts) and test_images > 0
    correct = sum(counts[i][i] for i in range(10)) / test_images  # the best run's, as the figure draws
    assert correct == pytest.approx(max(RunStore(root).get(i).metrics["test_accuracy"] for i in (ids["cnn0"], ids["cnn1"])))
    assert 'alt="cnn: confusion matrix (its numbers: a table after the figures)"' in text
    assert 'alt="cnn: misclassified test images' in text and "misclassified test images (true blue, predicted red; under " \
        "each: its test index and the predicted class&#x27;s probability) (its numbers" not in text


def test_report_drawn_one_figure_at_a_time_is_the_same_page(recorded, data_dir, tmp_path, capsys, monkeypatch):
    out, text = _report(recorded, data_dir, tmp_path, capsys)  # the default: every core
    root, _ = recorded
    monkeypatch.setattr(report, "FIGURE_BATCH", 1)  # drawn section by section as they are made, as a long report is
    assert _report(recorded, data_dir, tmp_path, capsys)[1] == text
    serial = tmp_path / "serial.html"
    assert main(["report", EXPERIMENT, "--store", str(root), "--data-dir", str(data_dir), "-o", str(serial),
                 "-j", "1"]) == 0
    assert serial.read_text(encoding="utf-8") == text
    capsys.readouterr()
    for bad in ("0", "-2", "two", ""):
        assert main(["report", EXPERIMENT, "--store", str(root), "-o", str(tmp_path / "bad.html"), "-j", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "--jobs" in err and "\n" not in err, err
    assert not (tmp_path / "bad.html").exists()


def test_report_says_how_its_runs_were_made(recorded, data_dir, tmp_path, capsys):
    """New-user finding: a report handed to a colleague named no command, no versions, no dates
    and no run ids (the store records them all)."""
    import html as _html

    root, ids = recorded
    _, text = _report(recorded, data_dir, tmp_path, capsys)
    made = re.search(r'<ul class="provenance">(.*?)</ul>', text, re.S)
    assert made is not None
    lines = [_html.unescape(li) for li in re.findall(r"<li>(.*?)</li>", made.group(1))]
    runs = [r for r in RunStore(root).runs(experiment=EXPERIMENT) if r.status != "running"]
    assert lines[0].startswith(f"recorded as experiment {EXPERIMENT!r}; its experiment file is not named here")
    assert re.fullmatch(rf"{len(runs)} runs started \d{{4}}-\d\d-\d\d \d\d:\d\d UTC( to .*)?", lines[1]), lines[1]
    env = runs[0].env
    assert lines[2] == f"mnistlab {env['mnistlab']}; torch {env['torch']}; python {env['python']}; numpy {env['numpy']}"
    assert lines[3].startswith(f"device {env['device']} {env['device_name']}; precision ")
    held: dict[str, list[str]] = {}  # helper-154: which variant trained at which precision, where they differ
    for r in runs:
        if "precision" in r.env and r.variant not in held.setdefault(r.env["precision"], []):
            held[r.env["precision"]].append(r.variant)
    said = lines[3].split("; precision ")[1].split("; CPU threads")[0]
    assert said == (next(iter(held)) if len(held) == 1 else "; ".join(f"{p} ({', '.join(v)})" for p, v in held.items()))
    cnn = [r for r in runs if r.run_id == ids["cnn0"]][0]
    assert f"runs {cnn.run_id} (seed {cnn.seed})," in _html.unescape(text)  # each variant names its runs


@pytest.mark.browser
def test_report_renders_in_chromium(recorded, data_dir, tmp_path, capsys):
    out, _ = _report(recorded, data_dir, tmp_path, capsys)
    shot = check_in_browser(out, tmp_path, rows=3, images=9)
    assert shot.stat().st_size > 10_000


def test_report_unknown_experiment_is_one_line(recorded, tmp_path, capsys):
    root, _ = recorded
    out = tmp_path / "r.html"
    assert main(["report", "tiyn", "--store", str(root), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'did you mean "tiny"' in err
    assert not out.exists()


@pytest.mark.long
@pytest.mark.browser
def test_seed000_recipe_report_shows_all_parts_in_chromium(data_dir, tmp_path, capsys):
    """Done-when of issue 6: the seed 000 recipe (quick) -> report -> Chromium shows every part."""
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "seed000.toml"
    store = RunStore(tmp_path / "store")
    run_experiment(recipe, store, quick=True, data_dir=data_dir)
    variants = {r.variant for r in store.runs("seed000", status="finished")}
    assert len(variants) == 9, [(r.variant, r.status, r.message) for r in store.runs()]
    out = tmp_path / "seed000.html"
    assert main(["report", "seed000", "--store", str(store.root), "--data-dir", str(data_dir), "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.count("<section") == 9 and all(f">{v}</h3>" in text for v in variants)
    assert text.count("<summary>config of ") == 9 and all(f"<summary>config of {v}</summary>" in text for v in variants)
    # 3 comparison figures + per variant: history, confusion matrix, misclassified grid
    shot = check_in_browser(out, tmp_path, rows=9, images=3 + 9 * 3)
    (tmp_path / "keep").mkdir()
    shot.replace(tmp_path / "keep" / "seed000-report.png")


@pytest.mark.long
def test_report_follows_compare_committees_get_sections_and_smoke_runs_stay_out(data_dir, tmp_path):
    from test_experiments import TINY, write

    p = write(tmp_path, 'description = "Two teams, <b>one</b> table"\n' + TINY.replace("epochs = 1", "epochs = 2")
              + '[[variants]]\nname = "team"\ndescription = "a committee of two"\ncommittee = 2\n'
              '[[variants]]\nname = "solo"\n"train.lr" = 0.01\n[[committees]]\nname = "all"\nvariants = ["team", "solo"]\n'
              'description = "everything averaged"\n')
    store = RunStore(tmp_path / "s")
    rows = {r["variant"]: r for r in run_experiment(p, store, data_dir=data_dir).rows}
    run_experiment(p, store, data_dir=data_dir, quick=True)  # smoke runs: in neither the table nor a section
    for target in (str(p), "exp", store.runs()[-1].run_id):  # a run id stands for its experiment
        text = html.unescape(report.build_report(store, target, data_dir=data_dir))
        assert text.count("<section") == 3 and ">all</h3>" in text, target
        assert text.count("epochs 1") == 0 and "2 runs (seeds 0, 1)" in text
        said = r"errors of the committee of \d runs \(([^;]+); averaged outputs\): (\d+) of"
        whose, errors = zip(*[(w, int(e)) for w, e in re.findall(said, text)])
        assert whose == ("seeds 0, 1", "team seed 0, team seed 1, solo seed 0")  # not "seeds 0, 1, 0" (helper-129)
        n = len(store.load_predictions(store.runs()[0].run_id))
        assert list(errors) == [round((1 - rows["team"]["committee_acc"]) * n), round((1 - rows["all"]["committee_acc"]) * n)]
        assert text.count("<summary>config of ") == 2  # a committee across variants has no one config
        assert f"3 runs: team (seeds 0, 1), solo (seed 0) · committee test accuracy {rows['all']['committee_acc']:.2%}" in text
        assert "no committee figures" not in text
        # the file's words: the experiment's under the title, each variant's and committee's in its section
        described = ('<p class="description">Two teams, <b>one</b> table</p>', '>team</h3>\n<p class="description">a '
                     'committee of two</p>', '>all</h3>\n<p class="description">everything averaged</p>')
        assert all((d in text) == (target == str(p)) for d in described), target  # a name or run id: not recorded
    fig = views.figure_for("confusion", store, "exp", variant="all", data_dir=data_dir)
    assert "(committee all, exp, " in fig.axes[0].get_title(), fig.axes[0].get_title()  # not its first member's
    fig = views.figure_for("history", store, "exp", variant="all")  # its members' curves, under its name (helper-130)
    assert fig._suptitle.get_text().startswith("exp, committee all, "), fig._suptitle.get_text()


def test_report_of_a_committee_variant_with_repeats_names_the_committee_its_figures_draw(data_dir, tmp_path):
    from test_experiments import TINY, write

    p = write(tmp_path, TINY + '[[variants]]\nname = "team"\ncommittee = 3\nrepeats = 2\n')
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir)
    comms = store.committees("exp")
    assert len(comms) == 2
    best = max(comms, key=lambda c: c.accuracy)
    seeds = sorted(store.get(m).seed for m in best.member_ids)
    assert seeds in ([0, 1, 2], [3, 4, 5])
    text = html.unescape(report.build_report(store, str(p), data_dir=data_dir))
    assert "6 runs (seeds 0-5)" in text
    accs = [100 * c.accuracy for c in comms]  # helper-146: with the caveat and the spread the runs' note has
    assert ("the confusion matrix and misclassified images below draw the best of 2 committees of 3 of variant team by "
            "test accuracy, an optimistic figure as the test set chose it: their mean is "
            f"{np.mean(accs):.2f}% +- {np.std(accs, ddof=1):.2f} (n=2)") in text
    assert f"errors of the committee of 3 runs (seeds {seeds[0]}-{seeds[-1]}; averaged outputs): " \
           f"{round((1 - best.accuracy) * len(store.load_predictions(best.member_ids[0])))} of" in text


def test_report_of_a_variant_with_repeats_draws_its_best_run_as_plot_and_card_do(data_dir, tmp_path, capsys):
    """New-user finding (helper-99): the report drew a variant's first run (seed 0), `plot` and
    `card` its best by test accuracy; it draws the same run now, and says how it was chosen."""
    from test_experiments import TINY, write

    p = write(tmp_path, TINY + '[[variants]]\nname = "again"\nrepeats = 3\n"train.seed" = 1\n')  # seed 1: 0 of 20 right
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir, progress="none")
    runs = store.runs(experiment="exp")
    best = max(runs, key=lambda r: (r.metrics["test_accuracy"], r.created_at))
    first = min(runs, key=lambda r: r.seed)
    assert first.metrics["test_accuracy"] < best.metrics["test_accuracy"]  # what the report drew before
    assert views.trained_runs(store, str(p))[0] == [best.run_id]  # what plot and card draw
    text = html.unescape(report.build_report(store, str(p), data_dir=data_dir))
    assert f"errors of run {best.run_id} (seed {best.seed}): " in text
    assert ("the confusion matrix and misclassified images below draw the best of 3 runs of variant again by test "
            "accuracy, an optimistic figure") in text
    # new-user finding (helper-102): `plot` wrote the file without saying which run it drew
    assert main(["plot", "confusion", str(p), "--store", str(store.root), "--data-dir", str(data_dir),
                 "-o", str(tmp_path / "cm.png")]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"wrote {tmp_path / 'cm.png'}: run {best.run_id} (seed {best.seed}), the best of 3 runs of "
                          "variant again by test accuracy, an optimistic figure as the test set chose it: their mean is ")


def test_report_and_plot_quick_draw_the_smoke_committee_not_the_full_size_one(data_dir, tmp_path, capsys):
    """With --quick, a committee's section and figures are of its smoke committee (2 members), also
    when the full-size committee (3 members) is recorded, and also when it is not."""
    from test_experiments import TINY, write

    p = write(tmp_path, TINY.replace("epochs = 1", "epochs = 2") + '[[variants]]\nname = "c"\ncommittee = 3\n')
    store = RunStore(tmp_path / "s")
    out, png = tmp_path / "r.html", tmp_path / "cm.png"
    args = ["--store", str(store.root), "--data-dir", str(data_dir)]
    assert main(["run", str(p), "--quick", *args]) == 0
    assert main(["report", str(p), "--quick", *args, "-o", str(out)]) == 0  # no full-size runs yet
    text = html.unescape(out.read_text(encoding="utf-8"))
    assert "no committee figures" not in text and "errors of the committee of 2 runs (seeds 0, 1; " in text
    assert main(["plot", "confusion", str(p), "--quick", "--variant", "c", *args, "-o", str(png)]) == 0
    assert main(["run", str(p), *args]) == 0  # now the full-size committee too
    capsys.readouterr()
    assert main(["report", str(p), "--quick", *args, "-o", str(out)]) == 0
    text = html.unescape(out.read_text(encoding="utf-8"))
    assert "errors of the committee of 2 runs (seeds 0, 1; " in text and "committee of 3 runs" not in text
    assert main(["report", str(p), *args, "-o", str(out)]) == 0
    assert "errors of the committee of 3 runs" in html.unescape(out.read_text(encoding="utf-8"))
    assert main(["plot", "history", "exp", "--quick", *args, "-o", str(png)]) == 2  # a name has no --quick cells
    assert "--quick draws an experiment file's smoke runs: give the .toml file" in capsys.readouterr().err
    ids = [r.run_id for r in store.runs()][:2]  # chosen runs have no --quick cells either
    assert main(["plot", "history", *ids, "--quick", *args, "-o", str(png)]) == 2
    err = capsys.readouterr().err
    assert err == "error: --quick draws an experiment file's smoke runs, not chosen run ids\n"


def test_report_quick_shows_a_files_smoke_runs_and_refuses_without_a_file(data_dir, tmp_path, capsys):
    from test_experiments import TINY, write

    p = write(tmp_path, TINY.replace("epochs = 1", "epochs = 2") + '[[variants]]\nname = "a"\n')
    store = RunStore(tmp_path / "s")
    out = tmp_path / "r.html"
    args = ["--store", str(store.root), "--data-dir", str(data_dir), "-o", str(out)]
    assert main(["run", str(p), "--quick", "--store", str(store.root), "--data-dir", str(data_dir)]) == 0
    capsys.readouterr()
    assert main(["report", str(p), *args]) == 2  # no full-size runs: the error compare gives, no page
    err = capsys.readouterr().err
    assert err.startswith("error: no full-size runs of") and "--quick" in err and not out.exists()
    assert main(["report", str(p), "--quick", *args]) == 0
    text = html.unescape(out.read_text(encoding="utf-8"))
    assert text.count("<section") == 1 and "1 run (seed 0) · dataset mnist · epochs 1" in text
    assert text.index('<p class="note">These are smoke runs, the size of a --quick check') < text.index("<h2>Comparison</h2>")
    # helper-146: its figures, copied out of the page, said neither whose nor that they were smoke runs
    from mnistlab import report
    from mnistlab.comparison import compare_experiment, resolve_experiment

    (run,) = store.runs()
    section = report.VariantSection(name="a", config=None, facts=[])
    assert report._prediction_figures(store, section, run, report.DataPlace(data_dir))
    rows = compare_experiment(store, resolve_experiment(store, str(p), quick=True), quick=True)
    figures = [*section.figures, *report._comparison_figures(rows, [], [run]), ("history", report._history_figure([run]))]
    for caption, fig in figures:
        said = " ".join([fig._suptitle.get_text() if fig._suptitle else "", *(ax.get_title() for ax in fig.axes)])
        assert "--quick smoke runs" in said and "part of the test set: 20 of mnist's 10,000" in " ".join(said.split()), caption
        if caption == "confusion matrix" or caption.startswith("misclassified test images (true blue, predicted red"):
            assert f"run {run.run_id} (seed 0): 20 test images, accuracy" in said, (caption, said)
    capsys.readouterr()
    assert main(["report", "exp", "--quick", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--quick compares an experiment file's smoke runs" in err


def test_a_report_made_without_the_data_says_so_once_and_leaves_this_machines_paths_out(recorded, tmp_path, capsys):
    """New-user finding: without the dataset the report printed a 1,000-character warning per
    variant, tried to read the data again for each, and wrote the folders it looked in (this
    machine's) into the page meant for a colleague."""
    root, _ = recorded
    empty = tmp_path / "nodata"
    empty.mkdir()
    out = tmp_path / "r.html"
    assert main(["report", EXPERIMENT, "--store", str(root), "--data-dir", str(empty), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "misclassified" in line]
    assert len(said) == 1 and said[0].startswith("warning: no confusion matrices or misclassified images of "
                                                 "fashion-mnist: ") and str(empty) in said[0]  # the reason, here
    text = out.read_text(encoding="utf-8")
    assert str(empty) not in text and str(Path.home()) not in text
    assert text.count("no confusion matrices or misclassified images of fashion-mnist runs in this report") == 1
    assert text.count("<img") == 3 + 2  # the comparison's 3 figures and each variant's history


def test_a_diverged_variant_has_its_section_and_the_page_explains_its_marks(data_dir, tmp_path, capsys):
    """helper-114: a variant whose runs diverged (a result: scored as its weights ended, counted in
    the table) had no section, though its curves are what diagnose the blow-up, and the warning
    called it a run "without a result"; the table's marks had no key, and its alt texts repeated."""
    from test_experiments import TINY, write

    p = write(tmp_path, TINY + '[[variants]]\nname = "ok"\nrepeats = 2\n[[variants]]\nname = "boom"\n'
              'repeats = 2\n"train.lr" = 100.0\n')
    store = RunStore(tmp_path / "s")
    run_experiment(p, store, data_dir=data_dir)
    assert [r.status for r in store.runs() if r.variant == "boom"] == ["diverged", "diverged"]
    out = tmp_path / "r.html"
    assert main(["report", str(p), "--store", str(store.root), "--data-dir", str(data_dir), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: 2 runs diverged (scored as their weights ended): the report's notes say why" in err
    assert "without a result" not in err
    text = html.unescape(out.read_text(encoding="utf-8"))
    assert text.count("<section") == 2 and ">boom</h3>" in text
    assert text.count("<img") == 3 + 2 * 3  # the comparison's 3; history, confusion, misclassified of each
    assert 'alt="boom: training history (its numbers: a table after the figures)"' in text
    assert 'alt="ok: confusion matrix (its numbers: a table after the figures)"' in text
    assert '<div class="wide"><table id="comparison"' in text  # a wide table scrolls inside the page
    legend = re.search(r'<p class="legend">(.*?)</p>', text).group(1)
    table = re.search(r'<table id="comparison".*?</table>', text).group(0)
    mark = next(m for m in ("within noise", "below") if f">{m}<" in table)  # the table's word, explained by its key
    assert legend.startswith("best: the highest mean test accuracy") and f"; {mark}: " in legend and "~best" not in legend
    tags = [a for tag, a in _parse(table).tags if tag == "th" and a.get("scope") == "col"]  # (a data table's: no sorting)
    assert tags and all(a.get("tabindex") == "0" and a.get("aria-sort") == "none" for a in tags)  # keyboard sorting


def test_a_report_without_its_data_says_nothing_of_figures_it_could_not_draw(recorded, tmp_path):
    """helper-114: "the confusion matrix and misclassified images below draw the best of 2 runs"
    stood above nothing, when the dataset could not be read."""
    root, _ = recorded
    (tmp_path / "nodata").mkdir()
    with pytest.warns(ReportWarning) as said:  # (its failed run, and the data it cannot read)
        text = report.build_report(RunStore(root), EXPERIMENT, data_dir=tmp_path / "nodata")
    assert any("no confusion matrices or misclassified images of fashion-mnist" in str(w.message) for w in said)
    assert "no confusion matrices or misclassified images of fashion-mnist runs" in text
    assert "images below draw" not in text


def test_provenance_quotes_the_file_as_a_shell_reads_it_and_counts_one_run(recorded) -> None:
    """helper-129: the report's command read `mnistlab run exp/we ird/h"ost<i>le's.toml` (not a
    command to paste) and "1 runs started"."""
    import shlex

    root, ids = recorded
    one = [RunStore(root).get(ids["cnn0"])]
    name = """exp/we ird/h"ost<i>le's.toml"""
    lines = report.provenance(one, "hostile", name, "run")
    assert shlex.split(lines[0].split(" (the runs")[0]) == ["command:", "mnistlab", "run", name]
    lines = report.provenance(one, "hostile", name, "run", store="my runs")  # helper-130: it recorded there
    assert shlex.split(lines[0].split(" (the runs")[0]) == ["command:", "mnistlab", "run", name, "--store", "my runs"]
    assert lines[1].startswith("1 run started ")


def test_provenance_names_the_code_and_data_and_the_runs_whose_threads_changed(recorded) -> None:
    """helper-171: the report's "How these runs were made" said "CPU threads 2" of runs that changed
    their count, and named neither the commit (nor that its source was edited) nor the data's digests."""
    import dataclasses

    root, ids = recorded
    run = RunStore(root).get(ids["cnn0"])
    data = {**run.env["data"], "checksums": {"train_images": "ab" * 32, "test_images": "cd" * 32}}
    edited = dataclasses.replace(run, env={**run.env, "git_commit": "f" * 40, "git_dirty": True, "data": data,
                                           "thread_changes": [[16, 1]]})
    clean = dataclasses.replace(run, env={**run.env, "git_commit": "f" * 40, "git_dirty": False, "data": data,
                                          "thread_changes": []})
    lines = report.provenance([edited, clean], "tiny", "tiny.toml", "run")
    assert any(line.endswith("(1 of the runs changed their thread count, to follow the machine's load or as they "
                             "resumed: `train.threads` fixes it; a rerun of those adds its sums in another order, and "
                             "its accuracy may differ by a few tenths)") for line in lines), lines
    assert f"mnistlab source: git commit {'f' * 12} with uncommitted changes to its source (the commit alone does not give " \
           "it back)" in lines
    assert f"data, SHA-256 of its files: {data['name']}: test_images {'cd' * 6}, train_images {'ab' * 6}" in lines
    lines = report.provenance([clean], "tiny", "tiny.toml", "run")
    assert f"mnistlab source: git commit {'f' * 12}" in lines and not any("changed their thread" in x for x in lines)
    own = dataclasses.replace(clean, config={**clean.config, "dataset": {"npz": "/home/me/mine.npz"}},
                              env={**clean.env, "data": {"name": "mine.npz", "checksums": {"/home/me/mine.npz": "ef" * 32}}})
    lines = report.provenance([own], "tiny", "tiny.toml", "run")  # the user's own file: by its role, not this machine's
    assert f"data, SHA-256 of its files: mine.npz: training data {'ef' * 6}" in lines, lines  # path (helper-175)
    assert not any("/home/me" in line for line in lines)


def test_a_report_of_several_experiments_puts_their_rows_in_one_table(data_dir, tmp_path, capsys):
    """helper-193's teacher: `report` took one experiment, so a class's files made a page each (`compare`
    could put their runs in one table only by run ids). Now every file's rows in one table, then its sections."""
    from test_experiments import TINY, write

    alice = write(tmp_path, 'name = "lab-alice"\n' + TINY + '[[variants]]\nname = "dense"\n', "alice.toml")
    bob = write(tmp_path, 'name = "lab-bob"\n' + TINY + '[[variants]]\nname = "dense"\n"train.lr" = 0.01\n'
                '[[variants]]\nname = "team"\ncommittee = 2\n', "bob.toml")
    store = RunStore(tmp_path / "s")
    for p in (alice, bob):
        run_experiment(p, store, data_dir=data_dir, progress="none")
    alice_run = store.runs(experiment="lab-alice")[0].run_id  # a run id stands for its experiment, as alone (helper-197)
    text = html.unescape(report.build_report(store, [alice_run, str(bob)], data_dir=data_dir))
    assert "<h1>Experiments lab-alice, lab-bob</h1>" in text
    table = text[text.index("<h2>Comparison</h2>"):text.index("<h2>How these runs were made</h2>")]
    names = re.findall(r"<tr><t[hd][^>]*>([^<]+)</t[hd]>", table)
    assert names[1:] == ["lab-alice/dense", "lab-bob/dense", "lab-bob/team"], names  # (under its head, "variant")
    sections = re.findall(r'<section class="variant" id="variant-\d+"><h3>([^<]+)</h3>', text)
    assert sections == names[1:]  # each variant's section, the committee's figures its own
    assert "errors of the committee of 2 runs" in text
    assert text.count("lab-bob: command: mnistlab run") == 1 and "lab-alice: recorded as experiment" in text
    unrun = write(tmp_path, 'name = "lab-carol"\n' + TINY + '[[variants]]\nname = "dense"\n', "carol.toml")
    with pytest.warns(ReportWarning, match="^left out of the report: no runs recorded for experiment 'lab-carol'"):
        twice = html.unescape(report.build_report(store, ["lab-alice", str(alice), "lab-bob", str(unrun)],
                                                  data_dir=data_dir))  # (helper-198: a student's file not run yet
    assert "Left out: no runs recorded for experiment 'lab-carol'" in twice  # kept the class's page from being written)
    assert "Experiments lab-alice, lab-bob" in twice and f"lab-alice: Given 2 times (lab-alice, {alice}), shown once" in twice
    for argv, says in ((["lab-alice", "lab-nosuch"], "no experiment file, experiment or run named 'lab-nosuch'"),
                       (["lab-alice", "lab-bob", "--quick"], "--quick goes with one experiment file, not with several")):
        assert main(["report", *argv, "--store", str(store.root), "-o", str(tmp_path / "r.html")]) == 2
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err
    assert not (tmp_path / "r.html").exists()
    text = html.unescape(report.build_report(store, "lab-bob", data_dir=data_dir, top=1))  # helper-196: 120 variants,
    best = max(compare(store, "lab-bob"), key=lambda r: max(r["test_acc"] or 0, r["committee_acc"] or 0))  # 18 MB
    assert re.findall(r'<section class="variant" id="variant-\d+"><h3>([^<]+)</h3>', text) == [best["variant"]]
    assert "Sections for the 1 best of the 2 rows by test accuracy (--top 1); the table holds every row" in text


@pytest.mark.parametrize(("argv", "said"), [
    (["report", EXPERIMENT, "--top", "0"], "Invalid value for '--top': 0 is not in the range x>=1"),
    (["report", EXPERIMENT, "--top", "many"], "Invalid value for '--top': 'many' is not a valid integer"),
    (["compare", EXPERIMENT, "-n", "0"], "Invalid value for '--limit' / '-n': 0 is not in the range x>=1"),
    (["compare", EXPERIMENT, "--sort", "-"], "--sort: unknown key '-'"),
    (["experiments", "-n", "-3"], "Invalid value for '--limit' / '-n': -3 is not in the range x>=1"),
])
def test_the_new_listing_flags_refuse_bad_values_in_one_line(argv, said, recorded, tmp_path, capsys) -> None:
    """report --top, compare --limit/--sort and experiments --limit (session 51): wrong values, one line, exit 2,
    no file written."""
    root, _ = recorded
    assert main([*argv, "--store", str(root), *(["-o", str(tmp_path / "r.html")] if argv[0] == "report" else [])]) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "r.html").exists()


def test_a_reports_top_rows_and_its_several_experiments_keep_test_sets_apart(data_dir, tmp_path):
    """helper-216: `report --top 1` of an experiment with an MNIST and a Fashion-MNIST variant drew the
    MNIST one alone, ranked over the other though the page said they do not compare; a report of an
    MNIST and a Fashion-MNIST experiment said nothing of it, where `compare a b` does."""
    from test_experiments import TINY, write

    mixed = write(tmp_path, 'name = "mixed"\n' + TINY + '[[variants]]\nname = "digits"\n[[variants]]\nname = "clothes"\n'
                  'dataset = "fashion-mnist"\n[[variants]]\nname = "digits-lr"\n"train.lr" = 0.01\n', "mixed.toml")
    store = RunStore(tmp_path / "s")
    run_experiment(mixed, store, data_dir=data_dir, progress="none")
    text = html.unescape(report.build_report(store, "mixed", data_dir=data_dir, top=1))
    drawn = re.findall(r'<section class="variant" id="variant-\d+"><h3>([^<]+)</h3>', text)
    digits = max((r for r in compare(store, "mixed") if r["variant"] != "clothes"), key=lambda r: r["test_acc"])
    assert sorted(drawn) == sorted(["clothes", digits["variant"]])  # the best of each test set
    assert "Sections for the 1 best of the 3 rows by test accuracy of each of the 2 test sets (--top 1)" in text
    fashion = write(tmp_path, 'name = "clothes"\n' + TINY.replace('"mnist"', '"fashion-mnist"')
                    + '[[variants]]\nname = "dense"\n', "clothes.toml")
    digits_only = write(tmp_path, 'name = "digits"\n' + TINY + '[[variants]]\nname = "dense"\n', "digits.toml")
    for p in (fashion, digits_only):
        run_experiment(p, store, data_dir=data_dir, progress="none")
    both = html.unescape(report.build_report(store, ["digits", "clothes"], data_dir=data_dir))
    assert "These runs were scored on 2 different test sets (mnist (20 test images), fashion-mnist (20 test " in both


def test_a_rows_settings_show_as_a_file_writes_them_not_as_a_python_dict() -> None:
    """helper-235/236: the report's settings column read {'augment.cval': None, 'evaluate.tta.flip': False}."""
    from mnistlab.report import render_table

    page = render_table([{"variant": "flip", "settings": {"train.lr": 0.01, "augment.cval": None,
                                                          "evaluate.tta.flip": False, "augment.fill_mode": "nearest"}},
                         {"variant": "none", "settings": {}}])
    assert "train.lr = 0.01, evaluate.tta.flip = false, augment.fill_mode = &quot;nearest&quot;" in page
    assert "None" not in page and "False" not in page and "{" not in page.split("<tbody>")[-1]
    off = render_table([{"variant": "noaug", "settings": {"augment.rotation_range": None, "augment.zoom_range": None}},
                        {"variant": "rot", "settings": {"augment.rotation_range": 10.0, "augment.zoom_range": 0.0}}])
    assert ">augment = false<" in off  # (helper-238: the variant without augmentation read "–")
    tta = render_table([{"variant": "t", "test_acc": 0.9, "tta_test_acc": 0.95, "tta_test_acc_std": 0.0495, "tta_n": 2}])
    assert "TTA ± sd (points)" in tta and ">4.95<" in tta and "tta_n" not in tta and "tta_test_acc_std" not in tta
