"""The HTML report: one self-contained file per experiment, readable offline in any browser.

Everything is inside the file: figures as base64 PNG `data:` URIs, the CSS, and a few lines of JS
that make the comparison table sortable. Every user-controlled string (experiment, variant and
run names, config values, messages) goes through `html.escape`, so a variant called
`<script>alert(1)</script>` shows as text.

>>> from mnistlab.store import RunStore
>>> write_report(RunStore(), "seed000", "report.html")  # doctest: +SKIP

`render_report` is the pure half (plain data in, HTML out); `build_report` fetches from a store.
"""

from __future__ import annotations

import base64
import html
import json
import os
import shlex
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mnistlab import plots, views
from mnistlab.comparison import (best_legend, compare_experiment, compare_runs, looks_like_file, notes_below,
                                 resolve_experiment, rows_runs, scored_on_note, shown_runs, smoke_note, test_sets)
from mnistlab.data.userdata import dataset_label, recorded_digests
from mnistlab.errors import DataError, MnistlabError, PlotError, ReportWarning, SpecError, toml_repr, user_level
from mnistlab.metrics import confusion_matrix, misclassified
from mnistlab.notes import read_notes
from mnistlab.files import utf8_text, write_output
from mnistlab.search import is_search
from mnistlab.store import RESULT_STATUSES, RunRecord, RunStore, default_root

# Comparison columns in reading order, with how to show them; unknown keys follow, shown as-is.
# row keys the table leaves out: each section names its runs; the notes under it say the rest
NOT_SHOWN = frozenset({"run_ids", "committee_members", "test_images", "smoke", "chosen_on_test", "tta_n", "val_is_test"})
COLUMNS: dict[str, tuple[str, str]] = {
    "variant": ("variant", "text"), "n": ("n", "int"), "params": ("params", "int"), "epochs": ("epochs", "num"),
    "train_acc": ("train acc", "pct"), "val_acc": ("val acc", "pct"), "test_acc_mean": ("test acc", "pct"),
    "test_acc": ("test acc", "pct"), "test_acc_std": ("± sd (points)", "sd"),
    "test_balanced_acc": ("balanced acc", "pct"), "tta_val_gain": ("TTA gain (val)", "pts"),
    "tta_test_acc": ("test acc (TTA)", "pct"),  # after the gain on validation, as the CLI table
    "tta_test_acc_std": ("TTA ± sd (points)", "sd"),  # (helper-238: a raw key, its sd a fraction; n: the table's)
    "vs_best": ("vs best (Welch)", "text"), "vs_best_p": ("p (Holm)", "num"),
    "test_loss": ("test loss", "num"),
    "train_seconds": ("train s", "num"), "seconds_per_epoch": ("s / epoch", "num"),
    "member_acc_min": ("member acc min", "pct"), "member_acc_max": ("member acc max", "pct"),
    "committee_acc": ("committee acc", "pct"), "committee_acc_std": ("committee ± sd (points)", "sd"),
    "committees": ("committees", "int"), "committee_val_acc": ("committee val acc", "pct"),
    "failed": ("failed", "int"), "test_set": ("scored on", "text"),
    # a search's trial fields (mnistlab.search.TRIAL_FIELDS), in words
    "trial": ("trial", "int"), "trial_state": ("trial state", "text"), "search_metric": ("search metric", "text"),
    "search_value": ("its value", "num"),
}


@dataclass
class VariantSection:
    """One variant's part of the report: its config, figures (caption, and a PNG data URI or the
    Figure still to draw: :func:`build_report` draws them a batch at a time) and notes."""

    name: str
    config: Mapping[str, Any] | None
    figures: list[tuple[str, Figure | str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    description: str = ""  # the experiment file's words for it
    tables: list[DataTable] = field(default_factory=list)  # the numbers its figures draw, for those who cannot see them


@dataclass
class DataTable:
    """The numbers behind a figure, shown as a table under the section's figures (folded): a
    screen reader's user reads what the picture shows (helper-176: alt text alone said its name).
    ``heads``: the column headings; ``rows``: text cells, the first of each heading its row."""

    caption: str
    heads: list[str]
    rows: list[list[str]]
    figure: str = ""  # the caption of the figure it is behind (whose alt text then points to it)

    def html(self, of: str) -> str:
        """The table inside a ``<details>`` whose summary names it and its variant ``of``."""
        head = "".join(f'<th scope="col">{_esc(h)}</th>' for h in self.heads)
        body = "".join("<tr>" + "".join(f'<th scope="row">{_esc(c)}</th>' if i == 0 else f"<td>{_esc(c)}</td>"
                                        for i, c in enumerate(row)) + "</tr>" for row in self.rows)
        return (f"<details><summary>{_esc(self.caption)} of {_esc(of)}</summary><div class=\"wide\"><table class=\"data\">"
                f"<caption>{_esc(self.caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
                "</div></details>")


# the values a run records each epoch, as a history table's columns name them
_EPOCH_COLUMNS = (("loss", "loss"), ("accuracy", "accuracy"), ("val_loss", "val loss"), ("val_accuracy", "val accuracy"),
                  ("lr", "learning rate"))


def history_table(records: Sequence[RunRecord], figure: str = "training history") -> DataTable:
    """The per-epoch values :func:`_history_figure` draws of ``records`` (one row per run and epoch;
    the columns a run logged), to 4 decimals, the rate to 4 significant digits."""
    drawn = views.one_per_variant(records) if len(records) > 10 else records
    keys = [(k, h) for k, h in _EPOCH_COLUMNS if any(k in e for r in drawn for e in r.history or [])]
    rows = []
    for (label, history, _, _) in views.history_runs(drawn):
        for n, e in enumerate(history, 1):
            rows.append([f"{label}, epoch {e.get('epoch', n)}",
                         *("–" if e.get(k) is None else f"{e[k]:.4g}" if k == "lr" else f"{e[k]:.4f}" for k, _ in keys)])
    return DataTable("the numbers behind the training history", ["run, epoch", *(h for _, h in keys)], rows, figure)


def confusion_table(cm: np.ndarray, class_names: Sequence[str]) -> DataTable:
    """A confusion matrix's counts: ``cm`` int (classes, classes), rows the true class, columns the predicted."""
    return DataTable("the numbers behind the confusion matrix (rows: the true class; columns: the predicted)",
                     ["true \\ predicted", *map(str, class_names)],
                     [[str(name), *(str(int(v)) for v in row)] for name, row in zip(class_names, cm)], "confusion matrix")


def figure_data_uri(fig: Figure, dpi: int = 80) -> str:
    """A figure as a `data:image/png;base64,...` URI (embedded, so the report needs no other file)."""
    return _png_uri(plots.png_bytes(fig, dpi))


def _png_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def draw_figures(*lists: list[tuple[str, Figure | str]], jobs: int | None = None) -> None:
    """Replace every Figure in these (caption, figure) lists by its PNG data URI, in place, drawing
    them all at once (:func:`mnistlab.plots.render_pngs`, up to ``jobs`` processes)."""
    at = [(pairs, i) for pairs in lists for i, (_, shown) in enumerate(pairs) if isinstance(shown, Figure)]
    pngs = plots.render_pngs([pairs[i][1] for pairs, i in at], jobs=jobs)  # type: ignore[misc]
    for (pairs, i), png in zip(at, pngs):
        pairs[i] = (pairs[i][0], _png_uri(png))


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _cell(value: Any, how: str) -> tuple[str, str]:
    """(sort key, shown text) for one table cell."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "", "–"
    if isinstance(value, Mapping):  # a row's settings: as a file writes them (helper-236: a Python dict's repr)
        off = [k for k in value if k.startswith("augment.")]
        said = ", ".join([*(["augment = false"] if off and all(value[k] is None for k in off) else []),  # (helper-238)
                          *(f"{k} = {toml_repr(v)}" for k, v in value.items() if v is not None)])
        return said, said or "–"
    if how == "text" or not isinstance(value, (int, float, np.number)):
        return str(value), str(value)
    v = float(value)
    if how == "auto":  # a search's parameter (train.lr): a float to 4 significant digits, as the CLI table
        how = "num" if isinstance(value, (float, np.floating)) else "text"
    shown = {"pct": f"{v:.2%}", "pts": f"{100 * v:+.2f} pts", "sd": f"{100 * v:.2f}", "int": f"{int(v):,}",
             "num": f"{v:.4g}"}.get(how, str(value))  # (sd: in points, as the CLI's +- 2.02; helper-215)
    return repr(v), shown


def render_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The comparison rows as a sortable HTML table (click a header; numbers sort as numbers)."""
    keys = [k for k in COLUMNS if any(k in r for r in rows)]
    keys += [k for r in rows for k in r if k not in keys and k not in COLUMNS and k not in NOT_SHOWN]
    # Columns empty in every row (no committees, say) only add noise.
    keys = [k for k in dict.fromkeys(keys) if k == "variant" or any(r.get(k) is not None for r in rows)]
    head = "".join(f'<th data-col="{i}" title="sort" tabindex="0" scope="col" aria-sort="none">'
                   f'{_esc(COLUMNS.get(k, (k,))[0])}</th>' for i, k in enumerate(keys))
    body = []
    for r in rows:
        cells = []
        for k in keys:  # the variant's cell heads its row (helper-176: a screen reader names the row by it)
            sort, shown = _cell(r.get(k), COLUMNS.get(k, (k, "auto"))[1])
            tag, scope = ("th", ' scope="row"') if k == "variant" else ("td", "")
            cells.append(f'<{tag}{scope} data-sort="{_esc(sort)}">{_esc(shown)}</{tag}>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    legend = best_legend(rows, words=True)  # the marks' key, as compare prints it under its table
    return (f'<div class="wide"><table id="comparison" class="sortable"><caption>The variants side by side (a '
            f'header sorts by its column)</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>'
            + (f'<p class="legend">{_esc(legend)}</p>' if legend else ""))


def _figure_html(caption: str, shown: Figure | str, of: str = "", numbers: bool = False) -> str:
    """A figure and its caption; ``of``: the variant it belongs to, named in its alt text (a screen
    reader hears "boom: confusion matrix", not the tenth "confusion matrix"); ``numbers``: its
    numbers are in a :class:`DataTable` of the section, which the alt text says."""
    uri = shown if isinstance(shown, str) else figure_data_uri(shown)
    alt = (f"{of}: {caption}" if of else caption) + (" (its numbers: a table after the figures)" if numbers else "")
    return f'<figure><img src="{_esc(uri)}" alt="{_esc(alt)}"><figcaption>{_esc(caption)}</figcaption></figure>'


def render_report(experiment: str, rows: Sequence[Mapping[str, Any]],
                  comparison_figures: Sequence[tuple[str, Figure | str]],
                  sections: Sequence[VariantSection], notes: Sequence[str] = (), description: str = "",
                  provenance: Sequence[str] = (), several: bool = False) -> str:
    """The whole report as one HTML string, from plain data (figures as data URIs, or Figures that
    are drawn here one by one: :func:`draw_figures` draws many at once first);
    ``description``: the experiment file's, under the title; ``provenance``: how the runs were
    made (:func:`provenance`), a list under the comparison; ``several``: ``experiment`` names
    several experiments ("a, b"), the title says "Experiments"."""
    parts = [f"<h1>Experiment{'s' * several} {_esc(experiment)}</h1>"]
    if description:
        parts.append(f'<p class="description">{_esc(description)}</p>')
    parts += [f'<p class="note">{_esc(n)}</p>' for n in notes]
    parts.append("<h2>Comparison</h2>")
    parts.append(render_table(rows) if rows else '<p class="note">No finished runs to compare.</p>')
    parts.append('<div class="figures">' + "".join(_figure_html(c, u) for c, u in comparison_figures) + "</div>")
    if provenance:
        parts.append('<h2>How these runs were made</h2><ul class="provenance">'
                     + "".join(f"<li>{_esc(line)}</li>" for line in provenance) + "</ul>")
    toc = "".join(f'<li><a href="#variant-{i}">{_esc(s.name)}</a></li>' for i, s in enumerate(sections))
    parts.append(f"<h2>Variants</h2><ul>{toc}</ul>")
    for i, s in enumerate(sections):
        # ids are positional: a variant name never ends up inside an attribute it could break out of.
        parts.append(f'<section class="variant" id="variant-{i}"><h3>{_esc(s.name)}</h3>')
        if s.description:
            parts.append(f'<p class="description">{_esc(s.description)}</p>')
        if s.facts:
            parts.append('<p class="facts">' + " · ".join(_esc(f) for f in s.facts) + "</p>")
        parts += [f'<p class="note">{_esc(n)}</p>' for n in s.notes]
        if s.config is not None:
            config = json.dumps(s.config, indent=2, sort_keys=True, default=str)
            parts.append(f"<details><summary>config of {_esc(s.name)}</summary><pre>{_esc(config)}</pre></details>")
        parts.append('<div class="figures">' + "".join(
            _figure_html(c, u, s.name, any(t.figure == c for t in s.tables)) for c, u in s.figures) + "</div>"
                     + "".join(t.html(s.name) for t in s.tables) + "</section>")
    return _PAGE.format(title=_esc(f"mnistlab report: {experiment}"), css=_CSS, body="\n".join(parts), js=_JS)


def provenance(records: Sequence[RunRecord], experiment: str, given: str, file: str | None,
               quick: bool = False, store: str | None = None) -> list[str]:
    """What a reader needs to make the shown runs again, from their records: the command (``file``:
    "run" or "search", the experiment file as it was ``given``, with ``--store`` where ``store`` is
    given: a store other than the default; None, by name: that its file is not known), when they
    ran, and the versions, devices, precisions and threads they recorded (each set of values once)."""
    import datetime as dt

    if file:
        where = f" --store {shlex.quote(store)}" if store else ""  # helper-130: as given, it recorded elsewhere
        lines = [f"command: mnistlab {file} {shlex.quote(given)}{' --quick' * quick}{where} (the runs are recorded as experiment "
                 f"{experiment!r}; each variant's config below is what its runs trained, seeds aside)"]
    else:
        lines = [f"recorded as experiment {experiment!r}; its experiment file is not named here (give the file "
                 "to `mnistlab report` for its command and descriptions); each variant's config below is what "
                 "its runs trained, seeds aside"]
    starts = sorted(r.created_at for r in records if r.created_at)
    if starts:
        day = [dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") for t in (starts[0], starts[-1])]
        lines.append(f"{len(records)} run{'s' * (len(records) != 1)} started {day[0]}"
                     + (f" to {day[1]}" if day[1] != day[0] else ""))

    def values(*keys: str) -> str:
        seen = dict.fromkeys(" ".join(str((r.env or {}).get(k)) for k in keys if (r.env or {}).get(k) is not None)
                             for r in records)
        return ", ".join(v for v in seen if v) or "not recorded"
    lines.append(f"mnistlab {values('mnistlab')}; torch {values('torch')}; python {values('python')}; "
                 f"numpy {values('numpy')}")
    def by_variant(key: str) -> str:  # helper-154: "precision float32, bf16" said not whose: a speed comparison
        held: dict[str, list[str]] = {}  # across precisions read as one
        for r in records:
            if (v := (r.env or {}).get(key)) is not None and str(r.variant) not in held.setdefault(str(v), []):
                held[str(v)].append(str(r.variant))
        if len(held) < 2:
            return next(iter(held), "not recorded")
        return "; ".join(f"{v} ({', '.join(names[:4])}{' ...' * (len(names) > 4)})" for v, names in held.items())
    changed = sum(bool((r.env or {}).get("thread_changes")) for r in records)
    lines.append(f"device {values('device', 'device_name')}; precision {by_variant('precision')}; "
                 f"CPU threads {by_variant('threads')}" + (
                     f" ({changed} of the runs changed their thread count, to follow the machine's load or as they "
                     "resumed: `train.threads` fixes it; a rerun of those adds its sums in another order, and its "
                     "accuracy may differ by a few tenths)" if changed else ""))
    return lines + _source_lines(records)


def _source_lines(records: Sequence[RunRecord]) -> list[str]:
    """The report's lines of the code and data its runs trained on (helper-171: the page named
    neither, which `show` and `card` give): mnistlab's git commit, said where its source had
    uncommitted changes, and each dataset's files by the first 12 hex digits of their SHA-256."""
    lines = []
    commits: dict[str, bool] = {}
    for r in records:
        if isinstance(commit := (r.env or {}).get("git_commit"), str):
            commits[commit] = commits.get(commit, False) or bool((r.env or {}).get("git_dirty"))
    if commits:
        lines.append("mnistlab source: git commit " + ", ".join(
            c[:12] + (" with uncommitted changes to its source (the commit alone does not give it back)" if dirty else "")
            for c, dirty in commits.items()))
    data: dict[str, str] = {}
    for r in records:
        d = (r.env or {}).get("data") or {}
        if isinstance(d, dict) and isinstance(sums := d.get("checksums"), dict) and sums:
            own = [(role, v) for role, v in zip(("training data", "test file"),
                                                recorded_digests(r.config or {}, r.env) or ()) if isinstance(v, str)]
            named = own if any(os.path.isabs(k) for k in sums) else sorted(sums.items())  # the user's files by role:
            data.setdefault(str(d.get("name", "data")) + ": " + ", ".join(  # no path of this machine's (helper-175)
                f"{k} {str(v)[:12]}" for k, v in named), "")
    if data:
        lines.append("data, SHA-256 of its files: " + "; ".join(data))
    return lines


def _facts(records: Sequence[RunRecord]) -> list[str]:
    """The few settings and results a reader looks for first, from the recorded config and metrics."""
    cfg, train = records[0].config or {}, (records[0].config or {}).get("train") or {}
    facts = [f"{len(records)} run{'s' if len(records) != 1 else ''} ({views.members_said(records)})"]
    dataset = cfg.get("dataset")  # the user's own data by its files, not as a Python dict (helper-111)
    facts += [f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"  # a searched lr: 0.01288, not 0.012881482725481003
              for k, v in (("dataset", dataset if dataset is None else dataset_label(dataset)),
                           ("epochs", train.get("epochs")), ("batch", train.get("batch_size")),
                           ("optimizer", train.get("optimizer")), ("lr", train.get("lr"))) if v is not None]
    params = (records[0].metrics or {}).get("params")
    if params is not None:
        facts.append(f"{int(params):,} parameters")
    accs = [r.metrics.get("test_accuracy") for r in records if (r.metrics or {}).get("test_accuracy") is not None]
    if accs:
        facts.append("test accuracy " + ", ".join(f"{a:.2%}" for a in accs))
    facts.append("runs " + ", ".join(f"{r.run_id} (seed {r.seed})" for r in records))  # `mnistlab show ID`
    return facts


def _variant_section(store: RunStore, target: str, name: str, records: Sequence[RunRecord],
                     data_dir: DataPlace, committees: int = 0, quick: bool = False) -> VariantSection:
    """A variant's section: facts, config, its runs' curves and, from its stored test predictions,
    the confusion matrix and most confident mistakes: of the committee's averaged outputs when the
    variant is a scored committee (the best of ``committees``, the scored ones the table counts),
    else of its best run by test accuracy, as `mnistlab plot` and `card` draw by default (a note
    says so, with the runs' mean). ``quick``: ``target`` is a file whose ``--quick`` runs are shown."""
    section = VariantSection(name=name, config=_seeds_aside(records[0].config), facts=_facts(records))
    section.notes += [f"run {r.run_id} (seed {r.seed}): {n.said()}" for r in records if (n := read_notes(store, r.run_id))]
    section.figures.append(("training history", _history_figure(records)))
    section.tables.append(history_table(records))
    committee = None
    if any(r.member > 0 for r in records):  # a committee variant (a single run's needs no lookup)
        try:
            committee = views.committee_predictions(store, target, name, quick)
        except MnistlabError as exc:  # a committee a member of which did not finish: its best run instead
            _trouble(section.notes, f"{name}: no committee figures: {exc}")
    if committee is not None:
        at = len(section.notes)
        if _prediction_figures(store, section, committee, data_dir) and committees > 1:  # the table's count
            ids = [m.run_id for m in committee[0]]  # how it was chosen, of what (helper-146: no caveat, as runs have)
            among = views.variant_committees(store, target, name, quick)  # those the table counts
            chosen = next((c for c in among if list(c.member_ids) == ids), None)
            said = (views.committee_pick_note(chosen, among) if chosen is not None else None) or (
                f"the best of its {committees} committees by test accuracy")
            section.notes.insert(at, f"the confusion matrix and misclassified images below draw {said}")
        return section
    at = len(section.notes)
    if _prediction_figures(store, section, views.picked_run(records), data_dir) and (how := views.picked_note(records)):
        section.notes.insert(at, f"the confusion matrix and misclassified images below draw {how}")
    return section


def _committee_section(store: RunStore, target: str, row: Mapping[str, Any],
                       data_dir: DataPlace, quick: bool = False) -> VariantSection | None:
    """The section of a committee across variants (``[[committees]]``): its members' facts and
    curves, and the figures of their averaged outputs; None when it was not scored."""
    try:
        committee = views.committee_predictions(store, target, str(row["variant"]), quick)
    except MnistlabError:
        return None  # not scored on the current runs: the table's row says why
    if committee is None:
        return None
    members = committee[0]
    by_variant: dict[str, list[RunRecord]] = {}
    for r in members:
        by_variant.setdefault(str(r.variant), []).append(r)
    facts = [f"{len(members)} runs: " + ", ".join(f"{v} ({views.members_said(rs)})" for v, rs in by_variant.items()),
             f"committee test accuracy {row['committee_acc']:.2%}"]
    if row.get("committee_val_acc") is not None:
        facts.append(f"committee validation accuracy {row['committee_val_acc']:.2%}")
    section = VariantSection(name=str(row["variant"]), config=None, facts=facts,
                             notes=["each member's settings: its variant's section"])
    section.figures.append(("training history of the members", _history_figure(members)))
    section.tables.append(history_table(members, "training history of the members"))
    _prediction_figures(store, section, committee, data_dir)
    return section


def _history_figure(records: Sequence[RunRecord]) -> Figure:
    many = len(records) > 10  # past ten curves a plot is unreadable: then one run per variant, as `plot history`
    drawn = views.one_per_variant(records) if many else records
    return views.across_test_sets(plots.plot_history(views.history_runs(drawn)), drawn, warn=False)  # (said on the page)


@dataclass
class DataPlace:
    """Where a report reads the datasets its figures need (``--data-dir``), and the datasets it
    found it cannot read there: each said once, not once per variant."""

    dir: str | os.PathLike | None
    missing: set[str] = field(default_factory=set)


def _prediction_figures(store: RunStore, section: VariantSection,
                        source: RunRecord | tuple[list[RunRecord], np.ndarray], data_dir: DataPlace) -> bool:
    """Add the confusion matrix and the misclassified images of one run (a record) or of a
    committee (its members' records and averaged outputs) to ``section``, or a note saying why not;
    True when they were added. A dataset that cannot be read is said once (the full reason on the terminal; on the page, which
    goes to others, without this machine's paths), and not tried again for later variants."""
    first = source if isinstance(source, RunRecord) else source[0][0]
    dataset = dataset_label((first.config or {}).get("dataset", "?"))
    if dataset in data_dir.missing:
        return False
    try:
        ds, images, true, probs = views.run_predictions(store, first, data_dir.dir)
    except DataError as exc:
        data_dir.missing.add(dataset)
        warnings.warn(f"no confusion matrices or misclassified images of {dataset}: {exc}", ReportWarning,
                      stacklevel=user_level())
        section.notes.append(f"no confusion matrices or misclassified images of {dataset} runs in this report: its "
                             "data could not be read where the report was made (`mnistlab report --data-dir` names "
                             "the folder holding it)")
        return False
    except (MnistlabError, OSError) as exc:
        _trouble(section.notes, f"no confusion matrix or misclassified images for run {first.run_id}: {exc}")
        return False
    if isinstance(source, RunRecord):
        who = f"run {first.run_id} (seed {first.seed})"
    else:
        probs, who = source[1], f"the committee of {len(source[0])} runs ({views.members_said(source[0])}; averaged outputs)"
    try:
        images, true, probs, kept, note = views.with_predictions(who, images, true, probs)
    except MnistlabError as exc:
        _trouble(section.notes, f"no confusion matrix or misclassified images: {exc}")
        return False
    if note:
        _trouble(section.notes, note)
    pred = probs.argmax(1)
    cm = confusion_matrix(true, pred, ds.info.num_classes)
    section.notes.append(f"errors of {who}: {int((true != pred).sum()):,} of {len(true):,} "
                         "test images misclassified; most confused: " + ", ".join(
                             f"{ds.info.class_names[t]} as {ds.info.class_names[p]} ({c})"
                             for t, p, c in plots.most_confused_pairs(cm, 3)))
    wrong = misclassified(probs, true)  # the most confident mistakes first
    figures = (("confusion matrix", plots.plot_confusion_matrix(cm, ds.info.class_names)),
               ("misclassified test images (true blue, predicted red; under each: its test index and the predicted "
                "class's probability)",
                plots.plot_misclassified(images[wrong], true[wrong], pred[wrong], ds.info.class_names, 25,
                                         confidence=probs.max(1)[wrong], index=kept[wrong])))
    members = [first] if isinstance(source, RunRecord) else source[0]
    for caption, fig in figures:  # whose, on how many images, how sized: a figure copied out of the page says it
        views.subtitle(fig, f"{who}: {len(true):,} test images, accuracy {float((pred == true).mean()):.2%}")
        section.figures.append((caption, views.across_test_sets(fig, members, warn=False)))
    section.tables.append(confusion_table(cm, ds.info.class_names))
    return True


def _seeds_aside(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """A variant's config as its section shows it, what all its runs trained: where they started from
    another variant's runs (``weights.variant``), that variant, not the first seed's run's file
    (helper-208: seed 0's pretrain file read as every seed's start)."""
    weights = (config or {}).get("weights")
    if not isinstance(weights, dict) or not weights.get("variant"):
        return config
    start = {"variant": weights["variant"], "skip_mismatch": weights.get("skip_mismatch", False)}
    return {**(config or {}), "weights": start}


def _trouble(notes: list[str], text: str) -> None:
    """A note on the page for something the report could not show, also given as a
    :class:`~mnistlab.errors.ReportWarning` (the CLI's ``warning:`` line: not only inside the page)."""
    notes.append(text)
    warnings.warn(text, ReportWarning, stacklevel=user_level())


def search_figures(store: RunStore, experiment: str, records: Sequence[RunRecord],
                   notes: list[str]) -> list[tuple[str, Figure | str]]:
    """A search's figures (optimisation history, parallel coordinates, parameter importance) as
    (caption, Figure); a figure that cannot be drawn adds a line to ``notes`` instead."""
    out: list[tuple[str, Figure | str]] = []
    for caption, kind in (("optimisation history", "optimization-history"), ("parallel coordinates", "parallel-coordinates"),
                          ("parameter importance", "importance"), ("intermediate values", "intermediate-values")):
        try:
            out.append((caption, views.search_figure(kind, store, experiment, records)))
        except MnistlabError as exc:  # PlotError, or Optuna missing for the importances
            _trouble(notes, f"{caption}: {exc}")
    return out


FIGURE_BATCH = 24  # figures held undrawn at most, while sections are made (a search's trials are many)


def _drawn_as_made(sections: Iterable[VariantSection], jobs: int | None) -> list[VariantSection]:
    """The sections, their figures drawn (:func:`draw_figures`) a batch at a time as they are made,
    so that a report of hundreds of variants never holds hundreds of Figures (megabytes each); the
    last, short batch is left to the caller, to draw with the comparison's figures."""
    out: list[VariantSection] = []
    pending = 0
    for section in sections:
        out.append(section)
        pending += sum(isinstance(shown, Figure) for _, shown in section.figures)
        if pending >= FIGURE_BATCH:
            draw_figures(*(s.figures for s in out), jobs=jobs)
            pending = 0
    return out


def _comparison_figures(rows: Sequence[Mapping[str, Any]], notes: list[str],
                        runs: Sequence[RunRecord]) -> list[tuple[str, Figure | str]]:
    """The figures of the comparison table's rows (of ``runs``: their titles say when these are
    smoke runs or scored on part of the test set, as `mnistlab plot` says it); one that cannot be
    drawn is a note instead."""
    figures: list[tuple[str, Figure | str]] = []
    for caption, draw in (("test accuracy per variant", plots.plot_comparison),
                          ("accuracy vs parameters", plots.plot_accuracy_vs_params),
                          ("accuracy vs training time", plots.plot_accuracy_vs_time)):
        try:
            figures.append((caption, views.across_test_sets(draw(rows), runs, warn=False)))
        except PlotError as exc:
            _trouble(notes, f"{caption}: {exc}")
    return figures


def build_report(store: RunStore, experiment: str | Sequence[str], *, data_dir: str | os.PathLike | None = None,
                 quick: bool = False, jobs: int | None = None, top: int | None = None) -> str:
    """Collect an experiment's runs from `store` and render the report (no training happens).

    ``experiment`` is read as `mnistlab compare` reads it (an experiment file: its current cells and
    committees; a name: each variant as last run at full size; a run id: its experiment), and the
    report shows what that comparison shows: one section per variant, then one per committee across
    variants. Several experiments (names, files or run ids, a class's, helper-193) make one page: one table
    of every experiment's rows, named ``experiment/variant`` as `compare a b` names them, then each
    experiment's sections. ``quick`` (with one experiment file): its ``--quick`` smoke runs, as
    `compare --quick`. ``jobs``: figures drawn at once (:func:`draw_figures`; default, every core this
    process may use). ``top``: sections for that many of the best rows only (each experiment's; the
    table holds them all); an experiment given twice is shown once. Raises StoreError for an unknown
    experiment (naming those the store holds), or when there is nothing to compare (the error `compare`
    gives: say, a file with only ``--quick`` runs, or ``quick`` without them); SpecError for an invalid
    file (:func:`~mnistlab.comparison.resolve_experiment`) or ``quick`` without a file or with several.
    What the page cannot show (a figure, a damaged artifact, runs without a result) is a note in it and a
    :class:`~mnistlab.errors.ReportWarning` (under warnings-as-errors, the first one stops the report).
    """
    if not isinstance(experiment, str) and len(experiment) > 1:
        return _several_report(store, list(experiment), data_dir, quick, jobs, top)
    part = _experiment_part(store, experiment if isinstance(experiment, str) else experiment[0], data_dir, quick, jobs,
                            top)
    figures = _comparison_figures(part.rows, part.notes, rows_runs(store, part.name, part.rows))
    if is_search(part.records):
        figures += search_figures(store, part.name, part.records, part.notes)
    draw_figures(figures, *(s.figures for s in part.sections), jobs=jobs)  # the comparison's and the last sections' at once
    return render_report(part.name, part.rows, figures, part.sections, part.notes, part.description, part.made)


@dataclass
class _Part:
    """One experiment's part of a report (:func:`_experiment_part`): its comparison rows, notes,
    sections (their figures drawn but for the last batch), and what the page says of it."""

    name: str  # as recorded
    records: list[RunRecord]  # every run of it
    current: list[RunRecord]  # those its comparison shows
    rows: list[dict[str, Any]]
    notes: list[str]
    sections: list[VariantSection]
    description: str  # its file's
    made: list[str]  # :func:`provenance`


def _experiment_part(store: RunStore, experiment: str, data_dir: str | os.PathLike | None, quick: bool,
                     jobs: int | None, top: int | None = None) -> _Part:
    """What :func:`build_report` shows of ``experiment`` (read as `compare` reads it: a run id
    stands for its experiment), less its comparison's figures; sections of the ``top`` best rows
    only (:func:`_best_rows`), where given."""
    ref = resolve_experiment(store, experiment, quick=quick)
    name = ref.recorded_as(quick=quick)  # a search file's --quick trials are a study of their own
    current = shown_runs(store, ref, quick=quick)
    rows = compare_experiment(store, ref, quick=quick)  # the error compare gives when there is nothing to show
    notes = [f"run {r.run_id} ({r.variant}, seed {r.seed}) {r.status}" + (f": {r.message}" if r.message else "")
             for r in current if r.status != "finished"]
    if notes:  # one warning line for them all: a search's diverged trials are many, and normal
        warnings.warn(_unfinished_text(current) + ": the report's notes say why", ReportWarning, stacklevel=user_level())
    if smoke := smoke_note(current):  # first, where a reader looks: these numbers are no result
        notes.insert(0, smoke[0].upper() + smoke[1:])
    notes += [line[0].upper() + line[1:] for line in notes_below(store, ref, rows, quick=quick)]
    # Sections follow the comparison table's order (the experiment file's), runs by seed within.
    sectioned = _best_rows(rows, top, notes, current)
    by_variant: dict[str, list[RunRecord]] = {str(row["variant"]): [] for row in sectioned if "variant" in row}
    for r in sorted(current, key=lambda r: (r.seed if r.seed is not None else 0, r.created_at)):
        if r.status in RESULT_STATUSES and (top is None or str(r.variant) in by_variant):  # a diverged run's
            by_variant.setdefault(str(r.variant), []).append(r)  # curves and confusion are what diagnose it
    # a run id stands for its whole experiment here; a search's --quick study for its file
    target = name if ref.run is not None or name != ref.name else experiment
    quick_cells = quick and target == experiment  # the file's --quick cells (a search's smoke study is a name of its own)
    scored = {str(row["variant"]): int(row.get("committees") or 0) for row in rows if "variant" in row}
    place = DataPlace(data_dir)
    sections = (_variant_section(store, target, name, runs, place, scored.get(name, 0), quick_cells)
                for name, runs in by_variant.items() if runs)
    across = (_committee_section(store, target, row, place, quick_cells) for row in sectioned
              if not by_variant.get(str(row["variant"])) and row.get("committee_acc") is not None)
    shown = _drawn_as_made((s for part in (sections, across) for s in part if s is not None), jobs)
    if (file := ref.file) is not None:  # the file's words (a name or run id has none: runs do not record them)
        said = {v.name: v.description for v in file.variants} | {c.name: c.description for c in file.committees}
        for s in shown:
            s.description = said.get(s.name, "")
    command = None if ref.file is None else "search" if ref.file.search is not None else "run"
    other = None if Path(store.root).resolve() == default_root().resolve() else str(store.root)
    made = provenance([r for r in current if r.status != "running"], name, ref.given, command, quick, other)
    return _Part(name, store.runs(experiment=name), current, rows, notes, shown,
                 file.description if file is not None else "", made)


def _best_rows(rows: Sequence[dict[str, Any]], top: int | None, notes: list[str],
               runs: Sequence[RunRecord] = ()) -> list[dict[str, Any]]:
    """The rows a report gives sections: every one, or the ``top`` best by test accuracy (a committee
    row by its committee's), a note saying so (helper-196: 120 variants made 18 MB of HTML, 131 s);
    where ``runs`` (the rows' runs) were scored on different test sets, the ``top`` best of each, as
    their accuracies do not compare (helper-216: an MNIST row was chosen over a Fashion-MNIST one)."""
    if top is None or len(rows) <= top:
        return list(rows)
    def score(row: Mapping[str, Any]) -> float:
        return max((v for v in (row.get("test_acc"), row.get("committee_acc")) if isinstance(v, (int, float))),
                   default=-1.0)
    sets = {run_id: key for run_id, (key, _) in test_sets(runs).items()}
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(next((sets[i] for i in r.get("run_ids") or () if i in sets), ""), []).append(r)
    best = {id(r) for group in groups.values() for r in sorted(group, key=score, reverse=True)[:top]}
    each = f" of each of the {len(groups)} test sets" if len(groups) > 1 else ""
    notes.append(f"Sections for the {top} best of the {len(rows)} rows by test accuracy{each} (--top {top}); the "
                 "table holds every row")
    return [r for r in rows if id(r) in best]


def _several_report(store: RunStore, experiments: list[str], data_dir: str | os.PathLike | None, quick: bool,
                    jobs: int | None, top: int | None = None) -> str:
    """:func:`build_report` of several experiments (names, files, run ids): one table of their rows, as
    `compare a b` shows them (:func:`~mnistlab.comparison.compare_runs`), then each one's sections,
    named ``experiment/variant``; each one's notes and provenance, led by its name."""
    if quick:
        raise SpecError("report: --quick goes with one experiment file, not with several")
    named: dict[str, list[str]] = {}  # each read before a figure is drawn (a run id: its experiment); one given
    left: list[MnistlabError] = []  # twice (two files of one name) shown once, as `compare a b` shows it (helper-198)
    for e in experiments:
        try:
            named.setdefault(resolve_experiment(store, e).name, []).append(e)
        except MnistlabError as exc:  # a class's file not run yet, or broken: left out, said (as compare does)
            if not looks_like_file(e):
                raise
            left.append(exc)
    if not named:
        raise left[0]
    parts = []
    for given in named.values():
        parts.append(part := _experiment_part(store, given[0], data_dir, False, jobs, top))
        draw_figures(*(s.figures for s in part.sections), jobs=jobs)  # (a class's 30 files: never all held as Figures)
        if len(given) > 1:
            part.notes.insert(0, f"Given {len(given)} times ({', '.join(given)}), shown once")
    rows = compare_runs(store, [r.run_id for p in parts for r in p.current if r.status != "running"])
    notes = [f"Left out: {mistake}" for mistake in left] + [f"{p.name}: {n}" for p in parts for n in p.notes]
    if (apart := scored_on_note([r for p in parts for r in p.current])) and len(parts) > 1:  # (helper-216: as
        notes.insert(0, apart[0].upper() + apart[1:])  # `compare a b` says it; one part's own notes say its own)
    for mistake in left:
        warnings.warn(f"left out of the report: {mistake}", ReportWarning, stacklevel=user_level())
    figures = _comparison_figures(rows, notes, [r for p in parts for r in p.current])
    sections = []
    for p in parts:
        for s in p.sections:
            s.name = f"{p.name}/{s.name}"
            sections.append(s)
    draw_figures(figures, jobs=jobs)
    return render_report(", ".join(named), rows, figures, sections, notes,
                         provenance=[f"{p.name}: {line}" for p in parts for line in p.made], several=True)


def _unfinished_text(runs: Sequence[RunRecord]) -> str:
    """``"1 run without a result (failed or stopped) and 2 diverged (scored as their weights
    ended)"``: the runs of ``runs`` that did not finish, as the report's warning counts them."""
    diverged = sum(r.status == "diverged" for r in runs)
    lost = sum(r.status not in ("finished", "diverged") for r in runs)
    said = [f"{lost} run{'s' * (lost != 1)} without a result (failed or stopped)"] if lost else []
    if diverged:
        said.append(f"{diverged}{'' if lost else ' run' + 's' * (diverged != 1)} diverged (scored as "
                    f"{'its' if diverged == 1 else 'their'} weights ended)")
    return " and ".join(said)


def write_report(store: RunStore, experiment: str | Sequence[str], path: str | os.PathLike, *,
                 data_dir: str | os.PathLike | None = None, quick: bool = False, jobs: int | None = None,
                 top: int | None = None) -> Path:
    """Build the report (:func:`build_report`) and write it to `path` (written whole at the end: no
    half-written file). OutputError, one line naming ``path``, when it cannot be written (a full
    disk, a folder that refuses new files)."""
    text = build_report(store, experiment, data_dir=data_dir, quick=quick, jobs=jobs, top=top)
    return write_output(path, lambda tmp: tmp.write_text(utf8_text(text), encoding="utf-8"))  # whole or none


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style></head>
<body><main>
{body}
</main><script>{js}</script>
</body></html>
"""

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 14px; }
.wide { overflow-x: auto; } .legend { font-size: 13px; color: #555; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f0f0f0; } tbody th { font-weight: normal; }
table.sortable thead th { cursor: pointer; user-select: none; } details { margin: 0.5em 0; font-size: 14px; }
caption { text-align: left; font-size: 13px; color: #555; margin-bottom: 0.3em; }
th.asc::after { content: " \\25B2"; } th.desc::after { content: " \\25BC"; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #555; }
pre { background: #f7f7f7; padding: 0.5em; overflow-x: auto; font-size: 12px; }
section.variant { border-top: 2px solid #ddd; margin-top: 2em; }
.note { color: #8a5a00; font-size: 14px; }
.facts { font-size: 14px; }
.description { font-style: italic; }
"""

# Sorting plus a self-check the browser test reads back: data-images = "<decoded>/<total>" and
# data-errors counts uncaught script errors. No user data is ever placed inside this script.
_JS = """
(function () {
  var errors = 0;
  window.addEventListener('error', function () { errors += 1; document.body.dataset.errors = String(errors); });
  document.body.dataset.errors = '0';
  document.querySelectorAll('table.sortable thead th').forEach(function (th) {
    th.addEventListener('click', function () {
      var table = th.closest('table'), body = table.tBodies[0], col = Number(th.dataset.col);
      var asc = !th.classList.contains('asc');
      table.querySelectorAll('thead th').forEach(function (h) {
        h.classList.remove('asc', 'desc'); h.setAttribute('aria-sort', 'none');
      });
      th.classList.add(asc ? 'asc' : 'desc');
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (r) { return r.cells[col].dataset.sort; };
      var numeric = rows.every(function (r) { return key(r) === '' || !isNaN(parseFloat(key(r))); });
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var c = numeric ? (parseFloat(x || '-Infinity') - parseFloat(y || '-Infinity')) : x.localeCompare(y);
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
    th.addEventListener('keydown', function (e) {  // the keyboard sorts as a click does
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); th.click(); }
    });
  });
  window.addEventListener('load', function () {
    var imgs = Array.prototype.slice.call(document.images);
    var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
    var table = document.getElementById('comparison');
    document.body.dataset.images = ok + '/' + imgs.length;
    document.body.dataset.tableRows = String(table ? table.tBodies[0].rows.length : 0);
    document.body.dataset.ready = '1';
  });
})();
"""
