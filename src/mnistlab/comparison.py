"""Comparing variants: one row per variant, the mean over its runs with std and n, as text or a table.

The rows come from the run store: :func:`compare` reads an experiment's runs and committees, and
:class:`Comparison` turns runs into rows (and takes more runs as a sweep records them)::

    rows = compare(RunStore(), "seed001")             # every variant as it was last run
    print(format_rows(rows, "markdown"))              # csv, markdown or json text
    Console().print(rich_table(rows, title="seed001"))

A command's EXPERIMENT argument (a file, a recorded name or a run id) is read in one place,
:func:`resolve_experiment`, and :func:`compare_experiment` compares what it names, saying what
the store holds instead when there is nothing to compare::

    ref = resolve_experiment(store, "recipes/seed001.toml")   # or "seed001", or a run id
    rows = compare_experiment(store, ref, quick=True)         # the file's --quick cells

A row holds ``variant``, ``n`` (runs counted), ``test_acc`` (their mean) and ``test_acc_std``
(sample std, None for one run), the means of the other metrics, and for committee variants the
members' accuracy range and the committee accuracy (and, where the members shared their
validation images, the committee's validation accuracy: what to choose a committee on); see
:data:`COLUMNS`. A committee across variants (an experiment's ``[[committees]]``) gets a row after
theirs, with the same columns over its members' runs and a note naming its variants (or saying
why it is not scored). ``vs_best`` says whether
the variant's mean can be told apart from the best variant's by Welch's t-test (``"best"``,
``"within noise"``, ``"below"``; :func:`mark_vs_best`): a table marks the best ``best`` and the
variants within its noise ``~best``, so that a ranking of seed noise is not read as a result.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import shlex
import warnings
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.config import test_seed
from mnistlab.data.userdata import carves_test_split, recorded_digests
from mnistlab.errors import MnistlabError, NotRecorded, SpecError, StoreError, clip, did_you_mean, printable, user_level
from mnistlab.files import csv_text, display_name, shell_word
from mnistlab.experiments import (QUICK_SUBSET, Cell, Experiment, is_quick, load_experiment, same_setting, study_name,
                                  variant_setting)
from mnistlab.stats import holm, mean_sd, welch_test
from mnistlab.store import RESULT_STATUSES, CommitteeRecord, RunRecord, RunStore, run_id_like, store_flag

_FIRST_COLUMNS = ("variant", "n", "params", "epochs", "train_acc", "val_acc", "test_acc", "test_acc_std", "vs_best",
                  "vs_best_p", "test_balanced_acc", "tta_test_acc", "test_loss", "train_seconds", "seconds_per_epoch",
                  "member_acc_min", "member_acc_max", "committee_acc", "committee_val_acc", "failed", "note")
COMMITTEE_SPREAD = ("committee_acc_std", "committees")  # the committees' sd and count (a search has neither)
# columns added later go last: a reader by position keeps its columns
# run_ids: the runs a row's figures come from; tta_val_gain: what test-time augmentation adds on validation;
# committee_members: how many members voted in each committee (a failed one leaves it smaller);
# test_images, smoke, chosen_on_test: what the notes under a table say of its figures, for a program
# that reads csv or json (helper-154: only stderr said that an accuracy was of 50 test images)
# test_set: what its runs were scored on ("mnist (10,000 test images)"): rows of two datasets in one
# table tell a program so (helper-216: only a note on stderr did)
COLUMNS = _FIRST_COLUMNS + COMMITTEE_SPREAD + ("run_ids", "tta_val_gain", "committee_members", "test_images", "smoke",
                                               "chosen_on_test", "test_set", "settings", "tta_test_acc_std", "tta_n",
                                               "val_is_test")
# tta_test_acc_std, tta_n: the spread of a row's TTA test accuracies and how many runs have one (helper-235: a bare mean)
# val_is_test: its runs validated on the test set, so val_acc is a test figure (helper-258: unmarked in the table)
NOISE_P = 0.05  # Welch's p at or above which two variants' mean test accuracies are not told apart


@dataclass(frozen=True)
class ExperimentRef:
    """What an EXPERIMENT argument named: see :func:`resolve_experiment`."""

    name: str  # the experiment's recorded name (what the store files its runs under)
    given: str  # the argument as the user typed it
    file: Experiment | None = None  # the parsed experiment file, when a file was given
    run: RunRecord | None = None  # the run, when a run id (or unique prefix) was given
    flag: str = ""  # " --store X" where the store is not the default one (:func:`~mnistlab.store.store_flag`)
    _cells: dict[bool, list[Cell]] = field(default_factory=dict, repr=False, compare=False)  # by quick: made once
    #: the store it was resolved in: a file's variant that starts from another's runs has the keys of those runs' starts
    store: RunStore | None = field(default=None, repr=False, compare=False)

    def again(self, *, quick: bool = False) -> str:
        """The argument as a command to copy takes it: quoted for a shell, ``--quick`` with
        ``quick``, and ``--store`` where the store is not the default (helper-167: a hint without it
        waited forever on the default store, or said there was nothing)."""
        return f"{shlex.quote(self.given)}{' --quick' * quick}{self.flag}"

    def recorded_as(self, *, quick: bool = False) -> str:
        """The experiment name its runs are filed under: :attr:`name`, or with ``quick`` a search
        file's smoke study (``<name>-quick``, :func:`~mnistlab.experiments.study_name`)."""
        return study_name(self.name, quick and self.file is not None and self.file.search is not None)

    def cells(self, *, quick: bool = False) -> list[Cell] | None:
        """The file's current cells (its ``--quick`` cells with ``quick``), made once per ref; None
        without a file, and for a search (its trials are every run of its name)."""
        if self.file is None or self.file.search is not None:
            return None
        if quick not in self._cells:
            self._cells[quick] = self.file.cells(quick=quick, store=self.store)
        return self._cells[quick]

    def keys(self, *, quick: bool = False) -> dict[tuple[str, str], None] | None:
        """The cells of :meth:`cells` as (variant, cell key) pairs, in file order (a dict: ordered,
        and quick to ask), what a run is matched by (a renamed variant is a cell of its own:
        `mnistlab run` trains it again, and the file's view leaves the old name's runs out); None
        without a file or for a search."""
        cells = self.cells(quick=quick)
        return None if cells is None else dict.fromkeys((c.variant, c.key) for c in cells)


def looks_like_file(target: str) -> bool:
    """Whether an EXPERIMENT argument is written as a file (a ``.toml``, or a path with a folder in it)."""
    return target.endswith(".toml") or "/" in target or os.sep in target


def resolve_experiment(store: RunStore, target: str, *, run_ids: bool = True, quick: bool = False) -> ExperimentRef:
    """The one way every command reads its EXPERIMENT argument: a file, a recorded name, or a run id.

    In order: an experiment file (a path ending in .toml or holding a folder separator, or an
    existing file that is not a recorded name) stands for the name it records under; a recorded
    experiment name stands for itself; a run id or unique prefix (unless ``run_ids`` is False)
    stands for its run and that run's experiment. ``quick``: a search file whose ``--quick`` study is
    recorded stands for it (:meth:`ExperimentRef.recorded_as`), though its full-size search is not.

    Raises SpecError for an unreadable or invalid file, and StoreError naming the experiments
    the store holds (with their run counts) when nothing matches or a file's experiment has no runs.

    >>> resolve_experiment(RunStore(), "recipes/fast.toml").name   # doctest: +SKIP
    'fast'
    """
    return replace(_resolved(store, target, run_ids=run_ids, quick=quick), flag=store_flag(store.root), store=store)


DATA_SUFFIXES = (".csv", ".npz", ".gz", ".zip", ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm",
                 ".ppm")  # a dataset's or an image's file, never an experiment file


def _resolved(store: RunStore, target: str, *, run_ids: bool, quick: bool) -> ExperimentRef:
    """:func:`resolve_experiment`'s reading of ``target``, without the store's flag."""
    known = store.experiments()
    if looks_like_file(target) or (target not in known and Path(target).is_file()):
        if Path(target).suffix.lower() in DATA_SUFFIXES and target not in known:  # (helper-214: train.csv was read as
            raise SpecError(f"{target}: a data file, not an experiment, its file or a run: `mnistlab show-data "  # TOML)
                            f"{shell_word(target)}` draws its images; a run trained on it is named by its run id")
        try:
            exp = load_experiment(target)
        except SpecError as exc:  # a file that no longer loads (its data gone, a typo): its runs are still there by name
            if (name := _recorded_name(target)) not in known:
                raise
            said = SpecError(f"{exc}; the store has an experiment named {name!r}, as this file is: if its runs are "
                             "this file's, give that name to see each variant as it last ran", path=exc.path,
                             source=exc.source, line=exc.line)
            said.more = exc.more
            raise said from None
        if quick and exp.search is not None and study_name(exp.name, quick=True) in known:
            return ExperimentRef(exp.name, target, file=exp)
        if exp.name not in known:
            again = ExperimentRef(exp.name, target, flag=store_flag(store.root)).again(quick=quick)
            if exp.search is not None:  # a search file: `run` refuses it; its --quick trials are a study of their own
                if (smoke := study_name(exp.name, quick=True)) in known:  # not a sweep still to start: a name to give
                    raise StoreError(f"no trials recorded for search {exp.name!r} (from {target}): run `mnistlab "
                                     f"search {again}` first; the store has its --quick study: give {smoke} "
                                     "instead of the file (or add --quick, where the command takes it)")  # (helper-241)
                raise NotRecorded(f"no trials recorded for search {exp.name!r} (from {target}): "
                                  f"run `mnistlab search {again}` first; {_what_exists(store)}")
            raise NotRecorded(f"no runs recorded for experiment {exp.name!r} (from {target}): "
                              f"run `mnistlab run {again}` first; {_what_exists(store)}")
        return ExperimentRef(exp.name, target, file=exp)
    if target in known:
        if run_ids and (run := _run_it_starts(store, target)) is not None:  # helper-119: `show` read it as the run
            import warnings

            from mnistlab.errors import ReportWarning

            warnings.warn(f"{target!r} is experiment {target}'s name and the start of run {run}'s id: read as the "
                          f"experiment (give the run's whole id for the run)", ReportWarning, stacklevel=user_level())
        return ExperimentRef(target, target)
    if run_ids and re.fullmatch(r"[0-9a-fA-F]{1,64}", target):
        try:
            rec = store.get(target)
        except StoreError as exc:
            if "ambiguous" in str(exc):
                raise
        else:
            return ExperimentRef(rec.experiment, target, run=rec)
    what = "experiment file, experiment or run" if run_ids else "experiment file or experiment"
    raise NotRecorded(f"no {what} named {clip(target, 80)!r} in {store.root}"  # (helper-172: 5,000 characters echoed)
                      f"{did_you_mean(target, [*known, *_files_beside(target)])}; "
                      f"{_what_exists(store, target)}")


def _run_it_starts(store: RunStore, target: str) -> str | None:
    """The id of a run whose id starts with ``target`` (hex), or None (none, or not hex)."""
    if not re.fullmatch(r"[0-9a-fA-F]{1,64}", target):
        return None
    try:
        return store.get(target).run_id
    except StoreError as exc:  # ambiguous: several runs start so
        return f"{target}..." if "ambiguous" in str(exc) else None


def _files_beside(target: str) -> list[str]:
    """The experiment files (``*.toml``) in the folder ``target`` names one in, as it would be typed
    (``long.toml`` for ``long.tom``): what a mistyped file name may have meant."""
    folder = Path(target).parent
    try:
        found = sorted(p.name for p in folder.iterdir() if p.suffix == ".toml" and p.is_file())[:200]
    except OSError:
        return []
    return [name if str(folder) == "." else str(folder / name) for name in found]


def _recorded_name(path: str) -> str:
    """The name an experiment file records its runs under (its ``name``, else its file name's
    stem), read without validating the file; the stem when it cannot be read."""
    import tomllib

    from mnistlab.experiments import MAX_FILE_BYTES

    stem = Path(path).stem
    try:
        if not Path(path).is_file() or Path(path).stat().st_size > MAX_FILE_BYTES:  # a FIFO would block the read
            return stem
        name = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, RecursionError):
        return stem
    return name if isinstance(name, str) else stem


SAID_EXPERIMENTS = 12  # the experiments an error names at most (helper-196: 70 of them made a line of 1.5 KB)


def _what_exists(store: RunStore, given: str = "") -> str:
    """'experiments: a (3 runs), b (1 run)', or that the store is empty: at most :data:`SAID_EXPERIMENTS`,
    those whose names are closest to ``given`` (a mistyped name) first, then the rest in order."""
    counts = Counter(r.experiment for r in store.runs())
    if not counts:
        return "the store is empty"
    import difflib

    close = difflib.get_close_matches(given, list(counts), n=SAID_EXPERIMENTS, cutoff=0.6) if given else []
    names = [*close, *(e for e in sorted(counts) if e not in close)][:SAID_EXPERIMENTS]
    more = len(counts) - len(names)
    return "experiments: " + ", ".join(f"{e} ({counts[e]} run{'s' * (counts[e] != 1)})" for e in names) + (
        f" and {more} more (`mnistlab runs --format csv` lists every run)" if more > 0 else "")


def experiment_rows(store: RunStore) -> list[dict[str, Any]]:
    """One row per experiment the store holds (MLflow's experiments list; helper-196: at 70 of them
    only an error message named them), most recently active first: its name, runs, how many finished,
    how many have no result (failed or interrupted) or diverged, variants, the best test accuracy of
    a run (a single run's, not a variant's mean: `compare NAME` ranks those; of a search, its best
    trial's by the search's metric, the one `search-best` and `predict` take, not the trial the test
    set would pick: helper-207) on the test set of its latest run, that test set (``test_set``), when
    its last run started (epoch seconds) and the experiment file its last run came from (None if none
    recorded)."""
    from mnistlab.search import best_trial, is_search

    by: dict[str, list[RunRecord]] = {}
    for r in store.runs():
        by.setdefault(r.experiment, []).append(r)
    rows = []
    for name, runs in by.items():
        chosen = runs
        if is_search(runs):
            try:
                chosen = [best_trial(runs)]
            except SpecError:  # no trial complete yet
                chosen = []
        best, test_set = _best_on_latest_set(chosen, runs)
        files = [f for r in runs if isinstance(f := (r.env or {}).get("experiment_file"), str) and f]
        rows.append({"experiment": name, "runs": len(runs), "finished": sum(r.status == "finished" for r in runs),
                     "no_result": sum(r.status in ("failed", "interrupted") for r in runs),
                     "diverged": sum(r.status == "diverged" for r in runs), "variants": len({r.variant for r in runs}),
                     "best_run_acc": best, "last_started": max(r.created_at for r in runs),
                     "file": files[-1] if files else None, "test_set": test_set})  # (added later: last, review)
    return sorted(rows, key=lambda row: -row["last_started"])


def _best_on_latest_set(chosen: Sequence[RunRecord], runs: Sequence[RunRecord]) -> tuple[float | None, str | None]:
    """The best test accuracy among ``chosen`` (finished runs with one, else diverged ones; full-size
    ones, where there are some) on the test set of the latest of ``runs`` with a score (of a full-size
    run, where there is one), and that test set's label (None where no run recorded one), with how
    many other test sets the experiment's runs were scored on ("mnist (10,000 test images) +1 more
    test set"): an experiment run on two datasets has no best run across them (note 53: the best
    MNIST score stood over the Fashion-MNIST ones)."""
    sets = test_sets(runs)  # (a record without its test set's size counts beside any: made before it was kept)
    full = [r for r in runs if r.run_id in sets and not smoke_run(r)] or [r for r in runs if r.run_id in sets]
    key, label = sets[max(full, key=lambda r: r.created_at).run_id] if full else ("", None)  # (review: a --quick run
    # after a sweep made its smoke score the experiment's best)
    scored = [r for r in chosen if r.status in ("finished", "diverged") and sets.get(r.run_id, (key,))[0] == key]
    if any(r.status == "finished" for r in scored):  # (a diverged run is no best run beside a finished one: helper-215)
        scored = [r for r in scored if r.status == "finished"]
    scored = [r for r in scored if not smoke_run(r)] or scored  # (nor a smoke run beside a full-size one)
    accs = [a for r in scored if isinstance(a := (r.metrics or {}).get("test_accuracy"), float)]
    counted = {r.run_id for r in full} if full else set(sets)  # (a --quick run's smaller test set is no other: review)
    others = len({k for rid, (k, _) in sets.items() if rid in counted} - {key})
    return max(accs, default=None), label and label + (f" +{others} more test set{'s' * (others != 1)}" if others else "")


def compare_experiment(store: RunStore, ref: ExperimentRef, *, quick: bool = False) -> list[dict[str, Any]]:
    """:func:`compare` for a resolved argument: a file's current cells (its ``--quick`` cells with
    ``quick``), else each variant of the experiment as it was last run.

    Raises StoreError saying what the store does hold, and how to show it, when there is nothing
    to compare (say, a file with only ``--quick`` runs recorded).
    """
    if quick and ref.file is None:
        raise SpecError(f"--quick compares an experiment file's smoke runs: give the .toml file, not {ref.given!r}")
    committees = None if ref.file is None else ref.file.committee_variants()
    rows = compare(store, ref.recorded_as(quick=quick), keys=ref.keys(quick=quick), committees=committees, notes=False)
    if not rows:
        raise StoreError(nothing_to_compare(store, ref, quick))
    if (cells := ref.cells(quick=quick)) is not None:
        _note_unrecorded(rows, store, ref, cells, quick)
    running = running_now(store, ref, quick=quick)
    for row in rows:  # its n grows when they end
        if n := running.get(str(row.get("variant")), 0):
            row["note"] = "; ".join(filter(None, [row.get("note"), f"{n} more run{'s' * (n != 1)} training now"]))
    return rows


def running_now(store: RunStore, ref: ExperimentRef, *, quick: bool = False) -> Counter[str]:
    """How many runs of each variant of ``ref`` are training now (``running``: a live process;
    :meth:`~mnistlab.store.RunStore.mark_stale` ends the others), for a file of its current cells."""
    keys = ref.keys(quick=quick)
    return Counter(r.variant for r in store.runs(experiment=ref.recorded_as(quick=quick))
                   if r.status == "running" and (keys is None or (r.variant, r.config_hash) in keys))


def _note_unrecorded(rows: list[dict[str, Any]], store: RunStore, ref: ExperimentRef, cells: Sequence[Cell],
                     quick: bool) -> None:
    """Add to each row of a file's variant the ``cells`` with no run recorded (deleted by `mnistlab
    rm`, or never trained; while a sweep runs, perhaps queued): its n and its committee are then
    short, and the note says how to fill them."""
    runs = store.runs(experiment=ref.name)
    have = {(r.variant, r.config_hash) for r in runs}
    total = Counter(c.variant for c in cells)
    missing = Counter(c.variant for c in cells if (c.variant, c.key) not in have)
    again = f"`mnistlab run {ref.again(quick=quick)}` trains {{}}"
    if any(r.status == "running" for r in runs):  # a sweep is on its way: perhaps queued, not missing
        again = f"the sweep training now may reach {{0}}, else `mnistlab run {ref.again(quick=quick)}` trains {{0}}"
    for row in rows:
        if k := missing.get(str(row.get("variant")), 0):
            said = f"{k} of its {total[row['variant']]} runs not recorded: " + again.format("it" if k == 1 else "them")
            row["note"] = "; ".join(filter(None, [row.get("note"), said]))


def untrained_notes(ref: ExperimentRef, rows: Sequence[Mapping[str, Any]], *, quick: bool = False,
                    running: Mapping[str, int] | None = None) -> list[str]:
    """A line for each variant of ``ref``'s file (its ``--quick`` cells with ``quick``) that ``rows``
    leave out: one training now (``running``: :func:`running_now`), or one none of whose current
    cells has a run recorded (never trained, or its settings or its own data changed since: a new
    cell key; while a sweep runs, perhaps queued), with the command that follows or trains it.
    Empty without a file, and for a search."""
    cells = ref.cells(quick=quick)
    if cells is None:
        return []
    running = running or {}
    shown, again = {str(row.get("variant")) for row in rows}, ref.again(quick=quick)
    missing = dict.fromkeys(c.variant for c in cells if c.variant not in shown)
    lines = [f'variant "{name}" is training now ({running[name]} run{"s" * (running[name] != 1)}): '
             f"`mnistlab watch {again}` follows it" for name in missing if running.get(name)]
    if running:  # perhaps queued
        return lines + [f'variant "{name}" has no run of its current cells yet: the sweep training now may reach it '
                        f"(`mnistlab watch {again}` follows it), else `mnistlab run {again}` trains it"
                        for name in missing if not running.get(name)]
    after = {c.variant: c.after for c in cells if c.pending}  # (review: "trains it" of one whose start diverged)
    return [f'variant "{name}" has no run of its current cells (never trained, or its settings or data changed '
            f"since): `mnistlab run {again}` trains it" if name not in after else
            f'variant "{name}" has no run yet: it starts from the runs of variant "{after[name]}", none of which has '
            f"finished (`mnistlab run {again} --dry-run` says why)" for name in missing]


def notes_below(store: RunStore, ref: ExperimentRef, rows: Sequence[Mapping[str, Any]], *,
                quick: bool = False, variants: Collection[str] = ()) -> list[str]:
    """The notes under a comparison of ``ref`` (its ``rows``), in `compare` and in the report: by
    name, how many runs of other settings it leaves out (:func:`left_out`); for a file, each
    variant with no run of its current cells (:func:`untrained_notes`); and the variants that share
    runs (:func:`~mnistlab.experiments.shared_runs`: their rows are not independent samples), by
    the file's cells or, by name, the shown runs' keys. ``variants`` (`--variant`, each of which
    has a row: :func:`only_variants`): the notes of those alone."""
    from mnistlab.experiments import shared_runs

    def shown(variant: Any) -> bool:
        return not variants or str(variant) in variants

    notes = []
    named = store.runs(experiment=ref.name) if ref.file is None else []  # (read once, for both notes by name)
    if ref.file is None and (hidden := left_out(named, store=store)):
        notes.append(f"{hidden} run{'s' * (hidden != 1)} of other settings not shown (an older version of a variant "
                     f"or of its data, a repeat or member its file no longer asks for, `mnistlab train` runs of one model "
                     f"with other flags, or --quick smoke runs): "
                     f"`mnistlab runs -e {ref.name}{ref.flag}` lists every run, `mnistlab compare RUN_ID RUN_ID ...` compares "
                     "chosen ones")
    gone: list[str] = []
    if ref.file is None and (gone := not_in_last_sweep(store, ref.name, [str(row.get("variant")) for row in rows
                                                                         if shown(row.get("variant"))], named)):
        single = {r.variant for r in named if not (r.env or {}).get("experiment_file")}  # `train` runs, no file's
        said = [v for v in gone if v in single]
        if said:  # (helper-254: a `train --experiment NAME` run's row was "renamed or removed since?")
            notes.append(f"row{'s' * (len(said) != 1)} {', '.join(repr(v) for v in said[:4])}: `mnistlab train` run"
                         f"{'s' * (len(said) != 1)} recorded under {ref.name}, beside its file's sweep")
        gone = [v for v in gone if v not in single]
    if gone:
        listed = ", ".join(f'"{v}"' for v in gone[:4]) + (f" and {len(gone) - 4} more" if len(gone) > 4 else "")
        notes.append(f"variant{'s' * (len(gone) != 1)} {listed} {'is' if len(gone) == 1 else 'are'} not in the last "
                     f"sweep of {ref.name}'s file (renamed or removed since?): `mnistlab compare FILE` shows the file's "
                     f"variants alone; `mnistlab runs -e {ref.name}{ref.flag}` lists their runs, and `mnistlab rm RUN_ID ...` "
                     "deletes them")
    if (cells := ref.cells(quick=quick)) is not None:  # a file: what its cells will share, trained or not
        # (--quick's too, as `compare NAME` says them of the same runs: helper-140)
        shared = shared_runs((c.variant, c.key, c.seed) for c in cells if shown(c.variant))
    else:  # by name: what the shown runs with a result share (a trial stopped and asked again shares nothing)
        from mnistlab.search import is_search

        results = [r for r in shown_runs(store, ref) if r.status in RESULT_STATUSES and shown(r.variant)]
        shared = shared_runs(((r.variant, r.config_hash, r.seed) for r in results), trials=is_search(results))
    running = running_now(store, ref, quick=quick)
    untrained = [] if variants else untrained_notes(ref, rows, quick=quick, running=running)
    rowless = {v: n for v, n in running.items() if shown(v) and v not in {str(row.get("variant")) for row in rows}}
    if ref.cells(quick=quick) is None and (k := sum(rowless.values())):  # by name, or a search's trials
        names = ", ".join(f'"{v}"' for v in rowless)
        untrained.append(f"{k} run{'s' * (k != 1)} of {names} training now, not in the table yet: "
                         f"`mnistlab watch {ref.again()}` follows {'them' if k != 1 else 'it'}")
    scored = rows_runs(store, ref.recorded_as(quick=quick), [row for row in rows if shown(row.get("variant"))])
    notes += _rows_runs_notes(ref, named, scored)
    return (notes + untrained + shared + [n for n in [scored_on_note(scored), precision_note(scored)] if n]
            + test_set_notes(scored))


def _rows_runs_notes(ref: ExperimentRef, named: Sequence[RunRecord], scored: Sequence[RunRecord]) -> list[str]:
    """By name (``named``: the experiment's runs), the notes on the runs a table shows (``scored``):
    reruns of a shown cell it does not count, and runs of several experiment files under one name."""
    notes = []
    counted = {r.run_id for r in scored}
    shown_cells = {(r.variant, r.config_hash) for r in scored}
    again = sum(r.status in RESULT_STATUSES and (r.variant, r.config_hash) in shown_cells and r.run_id not in counted
                for r in named)
    if again:  # helper-258: `train` twice on one seed counted once, unsaid (chosen run ids say it)
        notes.append(f"{again} rerun{'s' * (again != 1)} of a shown run's setting and seed not counted (a cell counts "
                     f"its latest result once: `train` again, `run --force`): `mnistlab runs -e {ref.name}{ref.flag}` "
                     "lists every run")
    shown = {r.variant for r in scored}  # (helper-262: a file's runs its twin's replaced in a row were not counted)
    files = [] if ref.file is not None else files_of([r for r in named if r.variant in shown])
    if len(files) > 1:  # helper-259: two students' files of one name; `run` warned, the table did not
        notes.append(f"these rows' variants have runs of {len(files)} experiment files recorded under the name {ref.name} ("
                     + ", ".join(display_name(f) for f in files[:3]) + " ..." * (len(files) > 3)
                     + "): `mnistlab compare FILE` shows one file's alone; give each file a name of its own (name = \"...\")")
    return notes


def files_of(runs: Sequence[Any]) -> list[str]:
    """The experiment files ``runs`` were recorded from (``env["experiment_file"]``) that are still there,
    each once, in order: runs of `mnistlab train` (no file) add none, nor do paths gone since (a folder moved,
    or another machine's, as :func:`~mnistlab.execute.from_other_file` reads them: the review of session 59)."""
    named = dict.fromkeys(str(f) for r in runs if (f := (getattr(r, "env", None) or {}).get("experiment_file")))
    return [f for f in named if os.path.isfile(f)]


def precision_note(runs: Sequence[Any]) -> str | None:
    """One line where ``runs`` trained in different precisions (``env["precision"]``: with
    ``train.precision = "auto"`` a CNN trains in bf16 where that pays and a dense model in float32),
    naming which variants trained in which; None where they all share one (helper-244: a paper's
    dense-vs-CNN table compared float32 with bf16 unsaid, only the report said it)."""
    by: dict[str, dict[str, None]] = {}  # each precision's variants, in order, once each
    for r in runs:
        if isinstance(p := (getattr(r, "env", None) or {}).get("precision"), str):
            by.setdefault(p, {})[str(r.variant)] = None
    if len(by) < 2:
        return None
    said = "; ".join(f"{p}: {clip(', '.join(v), 80)}" for p, v in by.items())
    return (f"these runs trained in {len(by)} precisions ({said}: train.precision = \"auto\" picks bf16 where it "
            'pays): set train.precision = "float32" in [base] to compare them in one')


def test_set_notes(runs: Sequence[Any], *, part: bool = True) -> list[str]:
    """The notes said under every table of test scores (compare's, a sweep's, train's own line):
    :func:`part_of_test_set` (unless ``part`` is False: a --quick table, or test sets said to differ
    already) and :func:`chosen_on_test_note`, those that apply to ``runs``."""
    return [n for n in (part_of_test_set(runs) if part else None, chosen_on_test_note(runs)) if n]


def validated_on_test(run: Any) -> bool:
    """Whether ``run`` (a record or result: ``config``, ``metrics``) validated on its test set:
    ``data.validation = "test"``, or Keras's ``validation_data=(x_test, y_test)`` given
    (``metrics["validation_is_test"]``); as recorded, ``metrics["validation"]``. Its val_* figures
    are then test figures."""
    config, metrics = getattr(run, "config", None) or {}, getattr(run, "metrics", None) or {}
    return ((config.get("data") or {}).get("validation") == "test" or metrics.get("validation") == "test"
            or metrics.get("validation_is_test") is True)


def chosen_on_test_note(runs: Sequence[Any]) -> str | None:
    """A note naming the variants of ``runs`` (records or results: ``config``, ``metrics``,
    ``variant``) that validate on the test set (``data.validation = "test"``, or given Keras's
    ``validation_data=(x_test, y_test)``: ``metrics["validation_is_test"]``) while a callback
    watches a ``val_*`` value (EarlyStopping, ReduceLROnPlateau, ModelCheckpoint(save_best_only)):
    the test set then chose their epoch or learning rate, so their test accuracy is optimistic.
    None when no run does."""
    names: list[str] = []
    for r in runs:
        config = getattr(r, "config", None) or {}
        watched = [str(cb.get("type")) for cb in config.get("callbacks") or () if isinstance(cb, Mapping)
                   and str(cb.get("monitor", "val_loss")).startswith("val_")
                   and (cb.get("type") != "ModelCheckpoint" or cb.get("save_best_only"))
                   and cb.get("type") in ("EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint")]
        if validated_on_test(r) and watched:
            variant = getattr(r, "variant", None)
            who = f'"{variant}"' if variant else "this run"
            name = f'{who} ({", ".join(dict.fromkeys(watched))})'
            if name not in names:
                names.append(name)
    if not names:
        return None
    return (f"{', '.join(names[:4])}{' ...' * (len(names) > 4)} validate{'s' * (len(names) == 1)} on the test set "
            '(data.validation = "test", or validation_data of its images) with callbacks watching it: the test set '
            "chose the epoch or the learning rate, so the test accuracy is optimistic; hold out validation images "
            "(data.validation = 0.1) for a fair figure")


def rows_runs(store: RunStore, experiment: str, rows: Sequence[Mapping[str, Any]]) -> list[RunRecord]:
    """The runs of ``experiment`` whose figures ``rows`` show (their ``run_ids``), in start order."""
    ids = {i for row in rows for i in row.get("run_ids") or ()}
    return [r for r in store.runs(experiment=experiment) if r.run_id in ids]


def scored_part(dataset: Any, metrics: Mapping[str, Any]) -> tuple[int, int] | None:
    """(test images scored, the whole test set's) of a run of ``dataset`` whose ``metrics`` say it
    scored part of its test set (a ``data.subset``); None when it scored the whole, or cannot tell.
    The whole set's size is the one the run recorded (``test_set_size``: the user's own data too)
    or, for runs recorded before it was, a registered dataset's."""
    from mnistlab.data.registry import get_info, is_registered

    size, whole = metrics.get("test_size"), metrics.get("test_set_size")
    if not isinstance(whole, int) and is_registered(dataset):
        whole = get_info(dataset).test_size
    if isinstance(size, int) and isinstance(whole, int) and size < whole and dataset is not None:
        return size, whole
    return None


def part_of_test_set(runs: Iterable[Any]) -> str | None:
    """A note when runs (each a :class:`~mnistlab.store.RunRecord` or a
    :class:`~mnistlab.run.RunResult`: its ``config`` and ``metrics``) were scored on part of their
    test set (a ``data.subset`` keeps its first ``subset // 6`` test images), naming how many: a
    reader takes a test accuracy for the whole set's otherwise (:func:`scored_part`). None when
    every run scored its whole test set."""
    if (said := scored_test_images(runs)) is None:
        return None
    return (f"test accuracy here is on part of the test set ({said}, the first of them: data.subset "
            "keeps subset // 6), so it is not the figure a full-size run reports on the whole set")


def scored_test_images(runs: Iterable[Any]) -> str | None:
    """How many test images runs scored where some scored part of their test set
    (``"50 of fashion-mnist's 10,000 test images"``; :func:`part_of_test_set`), else None."""
    from mnistlab.data.registry import is_registered
    from mnistlab.data.userdata import dataset_label

    parts: dict[str, list[int]] = {}  # "of mnist's 10,000 test images" -> the sizes scored
    for r in runs:
        dataset = (r.config or {}).get("dataset")
        if dataset is not None and (scored := scored_part(dataset, r.metrics or {})) is not None:
            size, whole = scored
            of = (f"of {dataset}'s {whole:,} test images" if is_registered(dataset)
                  else f"of the {whole:,} test images of {dataset_label(dataset)}")
            if size not in (sizes := parts.setdefault(of, [])):
                sizes.append(size)
    if not parts:
        return None
    return "; ".join(f"{' and '.join(f'{n:,}' for n in sorted(sizes, reverse=True))} {of}" for of, sizes in parts.items())


def nothing_to_compare(store: RunStore, ref: ExperimentRef, quick: bool) -> str:
    """Why an experiment argument names no runs to show, what the store holds of it, and the
    command that shows them (`mnistlab compare`, whichever command was run: predict, card and
    export take no --quick; helper-144) or records them: one line."""
    runs = store.runs(experiment=ref.name)
    running = sum(r.status == "running" for r in runs)
    them = f"`mnistlab watch {{}}` follows {'them' if running != 1 else 'it'}"
    if ref.file is None:
        return (f"nothing to compare for experiment {ref.name!r} yet: its {running} run{'s' * (running != 1)} "
                f"{'are' if running != 1 else 'is'} still running; {them.format(ref.again())}")
    kind, other_kind = ("--quick", "full-size") if quick else ("full-size", "--quick")
    other_keys: Collection[tuple[str, str]] = ref.keys(quick=not quick) or {}
    other = sum((r.variant, r.config_hash) in other_keys and r.status != "running" for r in runs)
    rest = sum((r.variant, r.config_hash) not in other_keys and r.status != "running" for r in runs)
    parts = [f"no {kind} runs of {ref.given} (experiment {ref.name!r}) are recorded yet"]
    if other:
        parts.append(f"it has {other} {other_kind} run{'s' * (other != 1)}: see them with "
                     f"`mnistlab compare {ref.again(quick=not quick)}`")
    if rest:
        parts.append(f"{rest} run{'s' * (rest != 1)} of other settings (an older version of the file or of its "
                     f"data, or another file of the same name): see them with `mnistlab compare {ref.name}{ref.flag}`")
    if running:  # a sweep training them now: a second `run` would only wait for its cells
        parts.append(f"{running} still running: {them.format(ref.again())}")
    else:
        parts.append(f"record them with `mnistlab run {ref.again(quick=quick)}`")
    return "; ".join(parts)


class ComparisonRows(list[dict[str, Any]]):
    """:func:`compare`'s rows (a list of dicts, as before), which a notebook shows as the table:
    Jupyter renders :meth:`_repr_markdown_` (the ``--format markdown`` table and its marks' key),
    IPython's terminal :meth:`_repr_pretty_` (the plain table `compare` prints in a pipe). helper-182:
    a wall of 29-key dicts. Both end with :attr:`notes`, the notes `mnistlab compare` prints under
    the same table, read as the rows were (helper-211: a notebook showed scores of two test sets side
    by side, unsaid; helper-213: read later, they could speak of another store's runs). A slice or a
    sorted copy is a plain list."""

    def __init__(self, rows: Iterable[dict[str, Any]] = (), *, notes: Sequence[str] = ()) -> None:
        super().__init__(rows)
        self.notes = list(notes)

    def _repr_markdown_(self) -> str:
        legend = best_legend(self)
        return (format_rows(self, "markdown") + (f"\n{legend}\n" if legend else "")
                + "".join(f"\nNote: {note}\n" for note in self.notes))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text((plain_rows(self).rstrip("\n") if self else "[]")
                     + "".join(f"\nnote: {note}" for note in self.notes))


def table_notes(store: RunStore, target: str, rows: Sequence[dict[str, Any]], *, quick: bool = False) -> list[str]:
    """The notes `mnistlab compare TARGET` prints under ``rows`` (:func:`notes_below`; TARGET an
    experiment's name or file), for a notebook's table; [] where they cannot be read (the rows are
    still shown: a display never fails on its notes)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (a file read again: its warnings were said as it was read)
            return notes_below(store, resolve_experiment(store, target, run_ids=False, quick=quick), rows, quick=quick)
    except Exception:  # noqa: BLE001  # (a damaged store, a file changed since: the table alone)
        return []


def chosen_notes(store: RunStore, run_ids: Sequence[str]) -> list[str]:
    """The notes `mnistlab compare ID ID ...` prints about chosen runs (smoke runs, other test sets, a
    part of the test set), for a notebook's table (helper-213: 77% beside 65% with no word)."""
    ended = as_rows_name([r for r in chosen_runs(store, run_ids) if r.status != "running"])
    elsewhere = scored_on_note(ended)
    return [n for n in (smoke_note(ended), elsewhere) if n] + test_set_notes(ended, part=elsewhere is None)


def compare(store: RunStore | str | os.PathLike[str], experiment: str | os.PathLike[str] | Sequence[str], *,
            keys: Collection[tuple[str, str]] | None = None,
            committees: Mapping[str, Sequence[str]] | None = None, notes: bool = True) -> ComparisonRows:
    """One row per variant: means over its finished runs (repeats and members), std and n; a
    :class:`ComparisonRows`, the list a notebook shows as the table.

    ``store``: a :class:`~mnistlab.store.RunStore` or its folder. ``experiment``: its name (or its
    file's path), or a list of run ids to compare those runs (:func:`compare_runs`, as ``mnistlab
    compare ID ID``).
    StoreError, one line, for a folder with no store, an unknown experiment or run id.

    ``keys`` limits the rows to runs of those cells, (variant, cell key) pairs (the current
    experiment file's: :meth:`ExperimentRef.keys`); without,
    :func:`current_runs` chooses. One run of each cell counts (:func:`counts_over`). Committee
    variants also get the members' accuracy range and the committee accuracy (mean over repeats).
    ``committees`` (the file's ``[[committees]]``: name -> variants) shows exactly those
    committees across variants, each over the counted runs of its variants; without it, each
    recorded one's latest evaluation whose members all count. The rows follow ``keys``' order (a
    file's), else the order of the experiment's last planned sweep (its file's, :func:`~mnistlab.live.read_plan`),
    then where each other variant first ran (any of its runs, a smoke or failed one too).
    ``notes``: the rows carry the notes `mnistlab compare` prints under them (:attr:`ComparisonRows.notes`,
    read now; a caller that prints its own passes False: a second read of the store).
    """
    if not isinstance(store, RunStore):  # helper-157: a folder failed deep inside ("'str' object has no ...")
        with RunStore(store, create=False) as opened:
            return compare(opened, experiment, keys=keys, committees=committees, notes=notes)
    if isinstance(experiment, os.PathLike):  # an experiment file's path: its name (review: a TypeError)
        experiment = resolve_experiment(store, os.fspath(experiment)).name
    if experiment is None or isinstance(experiment, (bytes, int, float)):  # (helper-237: a bare TypeError)
        raise StoreError(f"compare: give an experiment (its name or file) or a list of run ids, got {experiment!r}")
    if not isinstance(experiment, str):  # run ids (a list: a StoreError "type 'list' is not supported" said
        ids = [str(i) for i in experiment]  # the store was damaged)
        if not ids:  # (helper-237: "the 0 chosen runs are still running")
            raise StoreError("compare: no run ids given: give one or more, or an experiment's name or file")
        return ComparisonRows(compare_runs(store, ids), notes=chosen_notes(store, ids) if notes else ())
    runs = store.runs(experiment=experiment)
    if not runs and experiment not in store.experiments():
        raise StoreError(f'no runs of experiment "{experiment}" in {store.root}'
                         f'{did_you_mean(experiment, store.experiments())}; {_what_exists(store, experiment)}')  # (helper-182)
    runs = [r for r in runs if r.status != "running"]
    first_ran, gone = None, []
    if keys is None:
        first_ran = planned_order(store, experiment, runs)
        runs = current_runs(of_last_sweep(store, experiment, runs))
        gone = not_in_last_sweep(store, experiment, [str(r.variant) for r in runs], runs)  # shown, unmarked
    rows = Comparison(runs, store.committees(experiment), keys=keys, defined=committees, order=first_ran,
                      unranked=gone).rows()
    from mnistlab.search import is_search, rank_trials  # late: search imports experiments, as this module does

    table = ComparisonRows(rank_trials(rows, runs) if is_search(runs) else rows)
    if notes and keys is None:  # (by name, as its rows; a file's keys: its caller knows the file)
        table.notes = table_notes(store, experiment, table)
    return table


def _settings_told(rows: Sequence[dict[str, Any]], runs: Sequence[RunRecord]) -> None:
    """Give each row of a run's ``settings``: the settings its variants set differently (dotted,
    ``{"train.lr": 0.01}``), from its first run's config, as MLflow's ``params.*`` columns
    (``pandas.json_normalize(rows)`` makes them ``settings.train.lr``; helper-228: lr was to be
    parsed out of variant names). Seeds, threads and device aside; ``{}`` where every row sets the same."""
    by_id = {r.run_id: r for r in runs}
    flat = {i: _told_config(rec.config) for i, row in enumerate(rows)
            if (ids := row.get("run_ids")) and (rec := by_id.get(ids[0])) is not None and rec.config}
    differ = [k for k in _differing_keys(flat) if any(setting_value(c, k) is not None for c in flat.values())]
    if any(k.startswith("model.") for k in differ) and len({repr(c.get("model")) for c in flat.values()}) > 1:
        differ = [k for k in differ if not k.startswith("model.")] + ["model"]  # other models: their names, not
        # every layer's settings (review: some 40 keys, most of them null)
    for i, row in enumerate(rows):
        row["settings"] = {k: setting_value(flat[i], k) for k in differ} if i in flat else {}


def _told_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A run's ``config`` flattened as :func:`_settings_told` tells it: its model's layers without
    their names (no part of what trains), its model also by name (``model``: a preset's or the
    file's, ``(inline)``), its starting weights as a table names them (not another machine's path)."""
    from mnistlab.config import without_layer_names
    from mnistlab.initial_weights import weights_label

    model = config.get("model")
    flat = dict(flatten_config({**config, "model": without_layer_names(model), "weights": None}))
    flat = {k: v for k, v in flat.items() if not k.startswith("weights.") and k != "model.name"}
    flat["model"] = (model.get("name") or "(inline)") if isinstance(model, Mapping) else model
    flat["weights"] = weights_label(config.get("weights")) or None
    return _callbacks_as_one(flat, config)  # (helper-254: "callbacks": null beside null callbacks.N.* keys)


def _callbacks_as_one(flat: dict[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """A flattened ``config`` (:func:`flatten_config`) with its callbacks as one value in Keras's words
    (:func:`callbacks_said`), not a key for each of their settings."""
    flat = {k: v for k, v in flat.items() if not k.startswith("callbacks.")}
    flat["callbacks"] = callbacks_said(config.get("callbacks") or [])
    return flat


def planned_order(store: RunStore, experiment: str, runs: Iterable[RunRecord]) -> list[str]:
    """The variants of ``experiment`` (its ``runs``, in start order) in the order its rows follow by
    name: the file's order as its last sweep planned it (:func:`~mnistlab.live.read_plan`;
    helper-140: a cell recorded again from its twin's run came last), then each other variant
    where it first ran, smoke runs among them (a variant shown by its --quick run alone stays in
    its place, not first since its run is the oldest shown)."""
    from mnistlab.live import read_plan  # late: live imports this module

    plan = read_plan(store.root, experiment)
    return list(dict.fromkeys([*(str(v) for v, _ in (plan or {}).get("cells", ())), *(str(r.variant) for r in runs)]))


def not_in_last_sweep(store: RunStore, experiment: str, variants: Sequence[str],
                      runs: Sequence[RunRecord]) -> list[str]:
    """Those of ``variants`` (rows of ``experiment`` compared by name, whose ``runs`` these are) that
    the last sweep of its file (:func:`~mnistlab.live.read_plan`) did not plan: a variant renamed or
    removed since, whose runs the store still holds (helper-151: a renamed variant's old rows ranked
    beside the new ones, unsaid); [] without a plan of cells (none recorded, or a search's)."""
    from mnistlab.live import read_plan

    plan = read_plan(store.root, experiment)
    planned = {str(v) for v, _ in (plan or {}).get("cells", ())}
    if not planned:
        return []
    ran = {r.variant for r in runs}  # (a [[committees]] row runs nothing of its own:
    return [v for v in dict.fromkeys(variants) if v not in planned and v in ran]  # helper-153, it was named)


def of_last_sweep(store: RunStore, experiment: str, runs: Sequence[RunRecord]) -> list[RunRecord]:
    """``runs`` (of ``experiment``, compared by name) less those of a variant the last sweep of its
    file planned (:func:`~mnistlab.live.read_plan`) whose cell that sweep did not plan: a repeat or
    member the file no longer asks for (note 55: after ``repeats`` went from 3 to 2, `compare NAME`
    still counted n=3 where `compare FILE` counted 2). Variants the plan does not name keep every
    run (:func:`not_in_last_sweep` says them); without a plan of full-size cells (none, a search's, or
    a ``--quick`` smoke check's: its cells are not the file's), all."""
    from mnistlab.live import read_plan

    plan = read_plan(store.root, experiment)
    if plan is not None and plan.get("quick"):
        return list(runs)
    cells = {(str(v), str(k)) for v, k in (plan or {}).get("cells", ())}
    planned = {v for v, _ in cells}
    small = {r.variant for r in runs if (r.variant, r.config_hash) in cells and smoke_run(r)}  # a file of smoke size
    return [r for r in runs if r.variant not in planned or (r.variant, r.config_hash) in cells
            or (smoke_run(r) and r.variant not in small)]  # (a --quick run: another size, which current_runs weighs)


def variant_order(store: RunStore, ref: ExperimentRef, *, quick: bool = False) -> list[str]:
    """``ref``'s variants in the order of its comparison's rows: a file's (its ``--quick`` cells'
    with ``quick``), else :func:`planned_order` (figures of several runs draw them so, helper-142)."""
    if (cells := ref.cells(quick=quick)) is not None:
        return list(dict.fromkeys(str(c.variant) for c in cells))
    return planned_order(store, ref.recorded_as(quick=quick), store.runs(experiment=ref.recorded_as(quick=quick)))


def compare_runs(store: RunStore, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Comparison rows of chosen runs (ids or unique prefixes; an experiment, by its name or file, for
    the runs its own comparison shows: :func:`chosen_runs`), from any experiments: one row per
    setting, the runs that differ only in their seeds counted together (mean, sd, n and the
    Welch marker, as :func:`compare`), and the committees recorded over chosen runs only. The rows
    follow the order their runs are given in (a row where its first run is named).

    A row is named by its variant; by ``experiment/variant`` when the runs come from several
    experiments; and where two rows would share a name (`mnistlab train` runs of one model with
    another ``lr``, say), by what their configs set differently: ``seed000-cnn (lr=0.01)``.
    One run of each setting and seed counts, as in :func:`compare` (a rerun of a seed is no new
    sample: the latest with a result, :func:`counts_over`); one named twice counts once. Runs still
    running, and reruns not counted, are left out with a :class:`~mnistlab.errors.ReportWarning`.
    Raises StoreError for an unknown or ambiguous id (nothing is shown then), and when every
    chosen run is still running.
    """
    from dataclasses import replace

    recs = chosen_runs(store, run_ids)
    ended = [r for r in recs if r.status != "running"]
    if not ended:
        raise StoreError(f"nothing to compare: the {len(recs)} chosen run{'s' * (len(recs) != 1)} "
                         f"{'are' if len(recs) != 1 else 'is'} still running")
    if len(ended) < len(recs):
        import warnings

        from mnistlab.errors import ReportWarning

        warnings.warn(f"still running, so not compared: {', '.join(r.run_id for r in recs if r.status == 'running')}",
                      ReportWarning, stacklevel=user_level())
    label_of = setting_labels(ended)
    chosen = set(label_of)
    comms = [replace(c, variant=label_of[c.member_ids[0]]) for e in sorted({r.experiment for r in ended})
             for c in store.committees(e) if c.member_ids and set(c.member_ids) <= chosen]
    # one run per setting and seed counts, as in `compare EXPERIMENT`: a rerun of a seed is not another sample
    labelled = [replace(r, variant=label_of[r.run_id], config_hash=r.config_hash or r.run_id) for r in ended]
    named_order = [str(r.variant) for r in labelled]  # rows as their runs are named (helper-142: as `plot history`)
    labelled.sort(key=lambda r: r.created_at)  # what Comparison takes: start order
    rows = Comparison(labelled, comms, order=named_order).rows()  # (on other test images: no row is "best" of them)
    _say_reruns(labelled, {i for row in rows for i in row.get("run_ids") or ()})
    return rows


def _say_reruns(runs: Sequence[RunRecord], counted: set[str]) -> None:
    """A :class:`~mnistlab.errors.ReportWarning` naming the chosen runs left out as reruns of a
    setting and seed another chosen run holds (the one counted: :func:`counts_over`)."""
    held = {(r.variant, r.config_hash): r.run_id for r in runs if r.run_id in counted}
    left = [r for r in runs if r.run_id not in counted and (r.variant, r.config_hash) in held]  # (not a failed one's)
    if not left:
        return
    import warnings

    from mnistlab.errors import ReportWarning

    by_id = {r.run_id: r for r in runs}

    def acc(run_id: str) -> str:
        value = (by_id[run_id].metrics or {}).get("test_accuracy") if run_id in by_id else None
        return f" {100 * value:.2f}%" if isinstance(value, (int, float)) else ""

    said = "; ".join(f"{r.run_id}{acc(r.run_id)} (seed {r.seed}: {held[(r.variant, r.config_hash)]}"
                     f"{acc(held[(r.variant, r.config_hash)])} counted)" for r in left[:4])
    differ = any(acc(r.run_id) != acc(held[(r.variant, r.config_hash)]) for r in left)
    warnings.warn(f"{len(left)} chosen run{'s' * (len(left) != 1)} not counted: the same setting and seed as "
                  f"another chosen run, so not another sample (the latest with a result counts, as in compare "
                  f"EXPERIMENT): {said}{' ...' if len(left) > 4 else ''}" + (
                      "; their scores differ: another thread count or machine adds sums in another order (`mnistlab "
                      "show RUN_ID` gives each run's env.threads and thread_changes)" if differ else ""),
                  ReportWarning, stacklevel=user_level())


def test_sets(runs: Sequence[RunRecord]) -> dict[str, tuple[str, str]]:
    """Each run's test set, by run id: ``(key, label)``, equal keys for runs scored on the same images
    (a registered dataset and the seed of a held-out part, or the user's data by its recorded digests),
    the label as a user reads it (``mnist (10,000 test images)``). Runs without a score (stopped,
    failed, or no recorded ``test_size``) are left out."""
    found: dict[str, tuple[str, str]] = {}
    carves: dict[str, bool] = {}  # each dataset's answer for records made before data.test_seed, asked once
    for r in runs:
        size = (r.metrics or {}).get("test_size")
        if size is None or getattr(r, "status", "finished") not in RESULT_STATUSES:  # a stopped run shows no score
            continue
        dataset = (r.config or {}).get("dataset")
        seed = _held_out_with(r.config or {}, carves)
        if isinstance(dataset, Mapping):  # the user's own data: its test file, or the part held out of its data
            test = dataset.get("test")
            name = Path(str(test or next((v for v in dataset.values() if isinstance(v, str)), "own data"))).name
            digests = recorded_digests(r.config or {}, r.env) or (None, None)
            identity: Any = ("test file", digests[1] or name) if test else (
                "held out", digests[0] or name, dataset.get("test_fraction"), seed)
        else:  # a registered dataset (or a path to the user's data: by its path, and the seed of a held-out part)
            name, identity = str(dataset), (str(dataset), seed)
        held_with = f" held out with seed {seed}" if seed is not None else ""
        found[r.run_id] = (json.dumps([identity, size], default=str), f"{name} ({size:,} test images{held_with})")
    keys_of: dict[str, set[str]] = {}
    for key, label in found.values():
        keys_of.setdefault(label, set()).add(key)
    return {run_id: (key, label if len(keys_of[label]) == 1 else  # one label, other images (two folders' test.csv):
                     f"{label[:-1]}, #{hashlib.sha256(key.encode()).hexdigest()[:6]})")  # told apart (helper-249)
            for run_id, (key, label) in found.items()}


def scored_on_note(runs: Sequence[RunRecord]) -> str | None:
    """One line when ``runs`` were scored on different test sets (another dataset, other data
    files, or another number of test images: a ``data.subset``), naming them: their test accuracies
    do not compare, and :func:`compare_runs` marks no row best. None when they share one (runs that
    recorded no test set are left out of the count)."""
    sets: dict[str, str] = {}
    for key, label in test_sets(runs).values():
        sets.setdefault(key, label)  # (the first run's label: own data moved since is named as first read)
    if len(sets) < 2:
        return None
    named = ", ".join(list(dict.fromkeys(sets.values()))[:4]) + (" ..." if len(sets) > 4 else "")
    return (f"these runs were scored on {len(sets)} different test sets ({named}): their test accuracies do not "
            "compare, so no row is marked best")


def _held_out_with(config: Mapping[str, Any], carves: dict[str, bool]) -> int | None:
    """The seed that held a run's test images out of the user's data: its recorded ``data.test_seed``;
    for a record made before it was kept, its split seed where its data (still readable) holds no test
    split of its own (each seed then held out its own: helper-191, -194), else None, as for data with
    a test file or registered (helper-192: a moved .npz with x_test was said to differ)."""
    if (config.get("data") or {}).get("test_seed") is not None:
        return test_seed(config)
    key = json.dumps(config.get("dataset"), default=str)
    if key not in carves:  # (a record made before data.test_seed: its data, read once)
        carves[key] = carves_test_split(config.get("dataset"), unreadable=False)
    return test_seed(config) if carves[key] else None  # (its split seed, as config.test_seed reads such a record)


def chosen_runs(store: RunStore, run_ids: Sequence[str]) -> list[RunRecord]:
    """The runs of ``run_ids`` (ids or unique prefixes), in the order given, each once however
    many prefixes name it. An experiment among them (its recorded name, or its file) stands for the
    runs its own comparison shows (:func:`shown_runs`: a class's experiments in one table, helper-193).
    StoreError for an unknown or ambiguous id, and for an experiment with no run that ended. Among
    several, an experiment *file* with no run to show or a mistake (a student's not yet run, or
    broken) is left out with a ReportWarning, as long as something else is shown (helper-198: one
    such file kept a class's table from being shown at all)."""
    import warnings

    from mnistlab.errors import ReportWarning

    known = store.experiments()
    picked: list[RunRecord] = []
    left: list[MnistlabError] = []
    named: dict[str, str] = {}  # experiment -> the argument that named it first
    for given in run_ids:
        if given not in known and not looks_like_file(given) and run_id_like(given):
            picked.append(store.get(given))
            continue
        try:
            ref = resolve_experiment(store, given, run_ids=False)  # (a name unknown: what the store holds, helper-198)
            if not (runs := shown_runs(store, ref)):
                raise StoreError(f'compare: experiment "{ref.name}" has no run that ended to compare')
        except (StoreError, SpecError) as exc:
            if len(run_ids) < 2 or not looks_like_file(given):
                raise
            left.append(exc)
            continue
        if (first := named.setdefault(ref.name, given)) != given:  # two files of one name (helper-199: unsaid)
            warnings.warn(f'{first} and {given} are both experiment "{ref.name}": its runs are shown once',
                          ReportWarning, stacklevel=user_level())
        picked.extend(runs)
    if left and not picked:
        raise left[0]
    for mistake in left:
        warnings.warn(f"left out of the table: {mistake}", ReportWarning, stacklevel=user_level())
    return list({r.run_id: r for r in picked}.values())


def as_rows_name(records: Sequence[RunRecord]) -> list[RunRecord]:
    """``records``, each with its row's name (:func:`setting_labels`) for its variant: the notes
    above and below a table of chosen runs name what the rows do (``e2/base``, not ``base``)."""
    from dataclasses import replace

    label_of = setting_labels(records)
    return [replace(r, variant=label_of[r.run_id]) for r in records]


def setting_labels(records: Sequence[RunRecord]) -> dict[str, str]:
    """Each run's row name among ``records`` (run id -> name), the runs that differ only in their
    seeds, on the same data (:func:`same_data`), sharing one: the variant (``experiment/variant`` when they come from several
    experiments), and where settings share a variant, what their configs set differently:
    ``seed000-cnn (lr=0.01)``. The same whatever the order of ``records`` (runs are taken in the
    order they started)."""
    groups: dict[tuple[str, str, int], list[RunRecord]] = {}
    setting: dict[str, str] = {}  # each run's, worked out once when asked (helper-196: 4,000 runs, 3.5 s)

    def of(r: RunRecord) -> str:
        if r.run_id not in setting:
            setting[r.run_id] = variant_setting(r.config)
        return setting[r.run_id]

    def alike(a: RunRecord, b: RunRecord) -> bool:  # same_setting, its common case without hashing configs again
        return of(a) == of(b) or same_setting(a.config, b.config)
    for r in sorted(records, key=lambda r: (r.created_at, r.run_id)):  # one group per setting (same_setting:
        key = next((k for k, g in groups.items() if k[:2] == (r.experiment, r.variant)  # also where a fixed
                    and alike(g[0], r) and all(same_data(x, r) for x in g)),  # split seed = one
                   (r.experiment, r.variant, len(groups)))  # seed; and on data of the same SHA-256)
        groups.setdefault(key, []).append(r)
    labels = _group_labels(groups, several=len({r.experiment for r in records}) > 1)
    return {r.run_id: labels[key] for key, members in groups.items() for r in members}


def _group_labels(groups: Mapping[tuple[str, str, int], Sequence[RunRecord]], *, several: bool) -> dict[Any, str]:
    """Each group's row name: its variant (``experiment/variant`` with ``several`` experiments),
    and where groups share one, what their configs set differently (:func:`_telling_keys`), with
    the first run's id where that does not tell them apart (values that print alike, say):
    ``seed000-cnn (lr=0.01, run 3fa9c1d2e4)``, a run `mnistlab show` finds; ``,...`` ends the
    names where more keys differ than they show (``(lr=0.01,opt=sgd,...)``)."""
    from mnistlab.experiments import derive_name

    names = {key: f"{key[0]}/{key[1]}" if several else key[1] for key in groups}
    out = dict(names)
    for name in set(names.values()):
        keys = [k for k in groups if names[k] == name]
        if len(keys) < 2:
            continue
        flat = {k: _flat_setting(groups[k][0].config, [groups[j][0].config for j in keys]) for k in keys}
        differ = _telling_keys(flat)
        more = ",..." if set(_differing_keys(flat)) - set(differ) else ""  # `mnistlab show` has the rest
        said = {k: derive_name({d: flat[k].get(d) for d in differ}, qualified=True) + (more if differ else "")
                for k in keys}
        shown = Counter(said.values())  # rows are grouped by name: two settings never share one
        for k in keys:
            if shown[said[k]] > 1:  # what it does say, and a run `mnistlab show` finds
                out[k] = f"{name} ({said[k] + ', ' if said[k] else ''}run {groups[k][0].run_id})"
            else:
                out[k] = f"{name} ({said[k]})"
    return out


def _flat_setting(config: Mapping[str, Any], others: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A run's config flattened (:func:`flatten_config`) to be told apart from ``others`` (the
    configs of the groups that share its variant): where they train on different data, the
    dataset is one key, named as messages name it (``dataset=digits.csv``), not its table's
    leaves (``dataset.csv=/home/.../digits.csv,shuffle=none``)."""
    from mnistlab.data.userdata import dataset_label

    from mnistlab.initial_weights import weights_label

    flat = dict(flatten_config(config))
    labels = {dataset_label(c.get("dataset") or "") for c in others}
    if len(labels) > 1:
        flat = {k: v for k, v in flat.items() if k != "dataset" and not k.startswith("dataset.")}
        flat["dataset"] = dataset_label(config.get("dataset") or "")
    if "weights.file" in flat:  # the run or file it started from, not a path (helper-200: a row named by a store's path)
        flat["weights.file"] = weights_label(config.get("weights"))
    return _callbacks_as_one(flat, config)  # (helper-251: each leaf was one, "callbacks[0].class_name=none")


def callbacks_said(callbacks: Sequence[Mapping[str, Any]]) -> str:
    """A run's recorded callbacks as Keras's calls, their settings other than the defaults:
    ``EarlyStopping(patience=2)+HalveLR(factor=0.01)`` (a callback object of the user's own by its
    class's name and its recorded settings); ``none`` without any."""
    from mnistlab.config import CALLBACKS

    said = []
    for cb in callbacks:
        kind = str(cb.get("type"))
        if kind == "Python":
            name, settings = str(cb.get("class_name")).rsplit(".", 1)[-1], dict(cb.get("settings") or {})
        else:
            fields = CALLBACKS[kind].model_fields if kind in CALLBACKS else {}
            name = kind
            settings = {k: v for k, v in cb.items() if k != "type" and not (k in fields and fields[k].default == v)}
        said.append(f"{name}({', '.join(f'{k}={v!r}' for k, v in settings.items())})")
    return "+".join(said) or "none"


NOT_SETTINGS = ("train.seed", "data.split_seed", "train.threads", "train.device")  # samples' or speed's


def _telling_keys(flat: Mapping[Any, Mapping[str, Any]], most: int = 3, separate: int = 5) -> list[str]:
    """The config keys that name the flattened configs ``flat`` apart: first, one at a time, the
    key that splits the most configs still alike (at most ``separate``, until all differ); then
    other differing keys up to ``most`` in all (``lr=0.01`` says more beside ``opt=sgd``). None
    of seeds, threads or device. Among equals, keys every config sets come first, then keys set to
    something (a rotation of 10, not a fill value of 0), then by name."""
    configs = list(flat.values())
    differ = _differing_keys(flat)

    def rank(d: str) -> tuple[bool, bool, str]:
        values = [c.get(d) for c in configs]
        return any(v is None for v in values), not any(values), d

    def told(ks: list[str]) -> int:
        return len({tuple(repr(c.get(d)) for d in ks) for c in configs})

    differ.sort(key=rank)
    chosen: list[str] = []
    while len(chosen) < separate and told(chosen) < len(configs):
        gain = [d for d in differ if d not in chosen and told([*chosen, d]) > told(chosen)]
        if not gain:
            break
        chosen.append(max(gain, key=lambda d: (told([*chosen, d]), -differ.index(d))))
    chosen += [d for d in differ if d not in chosen][:max(0, most - len(chosen))]
    return sorted(chosen, key=differ.index)


def _differing_keys(flat: Mapping[Any, Mapping[str, Any]]) -> list[str]:
    """The keys whose values differ among the flattened configs ``flat`` (a key one lacks differs),
    by name; none of seeds, threads or device."""
    configs = list(flat.values())
    return [d for d in sorted({d for c in configs for d in c}) if d not in NOT_SETTINGS
            and len({repr(setting_value(c, d)) for c in configs}) > 1]


def setting_value(flat: Mapping[str, Any], key: str) -> Any:
    """The value of ``key`` in the flattened config ``flat``; for a setting added later that ``flat``
    (a run recorded before it) lacks, the default it trained with (:func:`~mnistlab.config.later_default`);
    else None."""
    from mnistlab.config import later_default

    if key not in flat and (later := later_default(key))[0]:
        return later[1]
    return flat.get(key)


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    """(dotted key, value) for each leaf of a config; a list of tables (a model's layers) by
    position: ``model.layers.2.filters``; other lists are leaves."""
    for key, value in config.items():
        if isinstance(value, Mapping):
            yield from flatten_config(value, f"{prefix}{key}.")
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                yield from flatten_config(item, f"{prefix}{key}.{i}.")
        else:
            yield f"{prefix}{key}", value


def current_runs(runs: Sequence[RunRecord], keys: Collection[tuple[str, str]] | None = None) -> list[RunRecord]:
    """What a command that reads an experiment shows of its runs (given in start order): with
    ``keys`` (an experiment file's cells, (variant, cell key) pairs), the runs of those cells;
    without, each variant as it was last run at full size (runs of an older version of the file
    have another setting and are left out, as are runs on another version of the user's own data,
    :func:`same_data`, ``--quick`` smoke runs, :func:`~mnistlab.experiments.is_quick`, and damaged
    rows, which read as failed runs without a config, unless a variant has nothing else). Of
    several runs of one cell (a ``--force`` rerun) the one that counts (:func:`counts_over`: the
    latest with a result, else the latest)."""
    if keys is not None:
        runs = [r for r in runs if (r.variant, r.config_hash) in keys]
    else:
        readable = [r for r in runs if r.config]  # a damaged row (no config) names no setting...
        newest = {r.variant: r for r in readable}  # start order: each variant's last run...
        newest.update({r.variant: r for r in readable if not is_quick(r.config)})  # ...at full size, if any
        # its data: that of the newest of its runs that recorded some (one killed before reading it says nothing)
        same = {r.run_id: same_setting(r.config, newest[r.variant].config) for r in readable}
        data = {r.variant: r for r in readable if same[r.run_id] and (recorded_digests(r.config, r.env) is not None
                                                                       or "initial_weights" in (r.metrics or {}))}
        # ...but a variant with nothing else keeps its damaged rows: a row of failed runs, not no row
        runs = [r for r in runs if (same[r.run_id] and (r.variant not in data or same_data(r, data[r.variant]))
                                    if r.config else r.variant not in newest)]
    counted: dict[tuple[str, str], RunRecord] = {}
    for r in runs:
        cell = (r.variant, r.config_hash)
        if cell not in counted or counts_over(r, counted[cell]):
            counted[cell] = r
    return [r for r in runs if counted[(r.variant, r.config_hash)] is r]


def same_data(a: RunRecord, b: RunRecord) -> bool:
    """Whether two runs trained on the same data and started from the same weights, by the SHA-256
    each recorded of them: the data's each file in its role (:func:`~mnistlab.data.userdata.recorded_digests`:
    path-free, so a moved folder is the same data, an edited one or a training and test file swapped
    is not), the weights file's (``metrics["initial_weights"]``: an overwritten file is another start,
    helper-200). True where either recorded none (a run that failed before its data was read, or one
    recorded before checksums were)."""
    first, second = (recorded_digests(r.config or {}, r.env) for r in (a, b))
    starts = [((r.metrics or {}).get("initial_weights") or {}).get("sha256") for r in (a, b)]
    after = [((r.config or {}).get("weights") or {}).get("variant") for r in (a, b)]  # (an experiment's start: each
    same_start = None in starts or starts[0] == starts[1] or (after[0] is not None and after[0] == after[1])  # seed's
    return (first is None or second is None or first == second) and same_start  # own run: helper-208, n=1 by name


def not_the_files(store: RunStore, ref: ExperimentRef) -> list[RunRecord]:
    """The runs recorded under a file's experiment name of variants the file does not have (another
    file's of the same ``name``, or variants since removed or renamed), and those recorded from
    another file (:func:`~mnistlab.execute.from_other_file`: a class's copies of one template share
    variant names too, helper-193): what deleting the experiment by this file would take beyond its
    own runs, whatever their settings or mnistlab version. Empty without a file, and for a search
    file (its trials are every run of its name)."""
    from mnistlab.execute import from_other_file

    cells = ref.cells()  # (its --quick cells are of the same variants)
    if cells is None:
        return []
    mine, source = {c.variant for c in cells}, cells[0].source if cells else ""
    return [r for r in store.runs(experiment=ref.name)
            if r.variant not in mine or from_other_file(r, source, elsewhere=True)]


def smoke_run(run: RunRecord) -> bool:
    """Whether ``run`` has the size of a ``--quick`` smoke run (:func:`~mnistlab.experiments.is_quick`),
    or is a trial of a ``search --quick`` study (``<name>-quick``, its trials two epochs long: helper-207,
    their runs said "quick: no" and their export no smoke run); False for a config that cannot say
    (damaged, or no run config at all)."""
    from mnistlab.experiments import QUICK_SEARCH_EPOCHS, QUICK_STUDY

    try:
        return bool(run.config) and (is_quick(run.config) or (
            str(run.experiment).endswith(QUICK_STUDY) and "trial" in (run.metrics or {})
            and is_quick(run.config, epochs=QUICK_SEARCH_EPOCHS)))
    except Exception:  # noqa: BLE001 - a damaged config is no smoke run; `show` says what is wrong with it
        return False


def smoke_member(member: Any) -> bool:
    """:func:`smoke_run` of a loaded :class:`~mnistlab.run.Run` (a committee's member): of its record
    where it has one (a ``search --quick`` trial's too), else of its config."""
    record = getattr(member, "record", None)
    if record is not None:
        return smoke_run(record)
    return bool(member.config) and is_quick(member.config)


def shown_runs(store: RunStore, ref: ExperimentRef, *, quick: bool = False) -> list[RunRecord]:
    """The runs whose numbers `compare` and the report show for ``ref`` (``quick``: its file's
    ``--quick`` cells): :func:`current_runs` of its ended runs, in start order."""
    ended = [r for r in store.runs(experiment=ref.recorded_as(quick=quick)) if r.status != "running"]
    if ref.file is None:  # by name: as `compare NAME` counts them
        ended = of_last_sweep(store, ref.recorded_as(quick=quick), ended)
    return current_runs(ended, ref.keys(quick=quick))


def smoke_note(runs: Sequence[RunRecord]) -> str | None:
    """One line for the top of a table of ``runs`` when any is the size of a ``--quick`` smoke run
    (:func:`smoke_run`): which variants, and that their numbers say nothing of a full-size run's;
    None when no run is. Chosen runs come named as their rows (:func:`as_rows_name`: a variant's
    smoke run beside its full-size one is ``a (epochs=1)``)."""
    small = [r for r in runs if smoke_run(r)]
    smoke = list(dict.fromkeys(r.variant for r in small))
    if not small:
        return None
    named = ", ".join(smoke[:5]) + (f" and {len(smoke) - 5} more" if len(smoke) > 5 else "")
    epochs = sorted({int(((r.config or {}).get("train") or {}).get("epochs") or 1) for r in small})
    said = " or ".join(map(str, epochs)) + f" epoch{'s' * (epochs != [1])}"  # (a search --quick's trials: 2, helper-233)
    size = f"the size of a --quick check ({said}, at most {QUICK_SUBSET} training images)"
    theirs = f"{size}: their accuracies say nothing of a full-size run's"
    if len(small) == len(runs):
        return f"these are smoke runs, {theirs}"
    return f"the runs of {named} are smoke runs, {theirs}"


def left_out(runs: Sequence[RunRecord], *, results_only: bool = False, store: RunStore | None = None) -> int:
    """How many ended runs of an experiment (``runs``, in start order) :func:`current_runs` leaves
    out by name, as another setting of their variant: an older version of it, or ``--quick`` smoke
    runs beside full-size ones (reruns of a shown cell are not counted: their cell is shown), and
    with ``store``, a cell its last sweep no longer planned (:func:`of_last_sweep`);
    ``results_only``: of those, the ones with a result (a model to use: finished or diverged)."""
    ended = [r for r in runs if r.status != "running"]
    kept = of_last_sweep(store, ended[0].experiment, ended) if store is not None and ended else ended
    shown = {(r.variant, r.config_hash) for r in current_runs(kept)}
    return sum((r.variant, r.config_hash) not in shown for r in ended
               if r.config and (not results_only or r.status in RESULT_STATUSES))  # not damaged rows


def counts_over(run: RunRecord, held: RunRecord) -> bool:
    """Whether ``run`` counts for its cell in place of ``held`` (another run of the same cell): a
    run with a result (finished or diverged) over one without, so that a rerun (``--force``) that
    fails or is interrupted never hides a result already recorded; else the later one."""
    return (run.status in RESULT_STATUSES, run.created_at) >= (held.status in RESULT_STATUSES, held.created_at)


class Comparison:
    """Comparison rows from runs given in start order; :meth:`add` counts one more run.

    One run of each cell (variant and cell key) counts, the latest with a result
    (:func:`counts_over`); with ``keys``, only runs of those cells ((variant, cell key) pairs).
    :func:`~mnistlab.execute.run_experiment` builds one from a single read of the store and adds
    each run as its cell finishes, so a sweep of N cells does not re-read every run N times; an
    added run recomputes only its own variant's row.
    """

    def __init__(self, runs: Iterable[RunRecord], committees: Iterable[CommitteeRecord], *,
                 keys: Collection[tuple[str, str]] | None = None,
                 defined: Mapping[str, Sequence[str]] | None = None, order: Sequence[str] | None = None,
                 unranked: Collection[str] = ()) -> None:
        self.keys = None if keys is None else frozenset(keys)
        # variants shown but not marked against the best: by name, those gone from the file's last sweep
        # (renamed or removed: :func:`not_in_last_sweep`), whose runs a renamed one's row counts again
        # (helper-234: in the Holm family, a row flipped from "below" to "~best")
        self.unranked = frozenset(unranked)
        # An ordered ``keys`` (a file's cells, in order) orders the rows: file order, whichever ran first;
        # else ``order`` (variant names) where given
        ordered = keys is not None and not isinstance(keys, (set, frozenset))
        self._order = {v: i for i, v in enumerate(dict.fromkeys(v for v, _ in keys))} if ordered and keys else {}
        if not self._order and order:
            self._order = {v: i for i, v in enumerate(dict.fromkeys(order))}
        self.defined = defined  # the file's committees across variants (name -> variants), when known
        # variant -> cell key -> (when the cell's first counted run started, its latest run). Rows,
        # and the runs within a row, follow those first starts: the order the store lists runs in.
        self._cells: dict[str, dict[str, tuple[tuple[float, int], RunRecord]]] = {}
        self._first: dict[str, tuple[float, int]] = {}  # variant -> its first counted run's start
        self._seen = 0  # breaks ties between equal start times: the order the runs came in
        self._committees: dict[str, list[CommitteeRecord]] = {}
        for c in committees:
            self._committees.setdefault(c.variant, []).append(c)
        for r in runs:
            self._count(r)
        self._rows = {v: self._row(v) for v in self._cells}

    def add(self, record: RunRecord) -> list[dict[str, Any]]:
        """Count a newly recorded run (:meth:`count`) and return the rows (see :meth:`rows`)."""
        self.count(record)
        return self.rows()

    def count(self, record: RunRecord) -> None:
        """Count a newly recorded run: its variant's row is worked out again; the rows, with their
        marks against the best, when :meth:`rows` is read."""
        if self._count(record):
            self._rows[record.variant] = self._row(record.variant)

    def rows(self) -> list[dict[str, Any]]:
        """One row (a fresh dict) per variant, in the order of ``keys`` where they are ordered (a
        file's cells), else of ``order``, else in the order the variants' first counted runs started,
        each marked against the best variant (:func:`mark_vs_best`); then one per committee across
        variants (``[[committees]]``) whose members all count here, unmarked (its runs are the
        variants' own), by name."""
        order = sorted(self._rows, key=lambda v: (self._order.get(v, len(self._order)), self._first[v]))
        variants = [dict(self._rows[v]) for v in order]
        counted = self._counted()
        for row in variants:
            row.update(vs_best=None, vs_best_p=None)
        if scored_on_note(list(counted.values())) is None:  # (accuracies on other test images: none is best of them)
            mark_vs_best([row for row in variants if row["variant"] not in self.unranked])
        _settings_told(variants, list(counted.values()))
        return variants + [{**row, "settings": {}} for row in self._variant_committee_rows(counted)]  # (its variants'
        # own rows say theirs)

    def _counted(self) -> dict[str, RunRecord]:
        """The runs that count, by id: one of each cell (:func:`counts_over`)."""
        return {r.run_id: r for cells in self._cells.values() for _, r in cells.values()}

    def _variant_committee_rows(self, counted: Mapping[str, RunRecord]) -> list[dict[str, Any]]:
        rows = []
        for name, comms in self._committees.items():
            if name in self._cells or (self.defined is not None and name not in self.defined):
                continue  # a variant's own committees, or a table the file no longer has
            if self.defined is not None:  # exactly the counted runs of the variants the file names
                want = {r.run_id for v in self.defined[name] for _, r in self._cells.get(v, {}).values()}
                comms = [c for c in comms if set(c.member_ids) == want]
            complete = sorted((c for c in comms if all(m in counted for m in c.member_ids)), key=lambda c: c.created_at)
            if not complete:  # members rerun or gone, or not scored yet
                continue
            recs = [counted[m] for m in complete[-1].member_ids]
            row = _row(name, recs, complete[-1:])
            accs = [a for a in (_num(r.metrics.get("test_accuracy")) for r in recs) if a is not None]
            sizes = {r.metrics.get("params") for r in recs}
            row.update(member_acc_min=min(accs) if accs else None, member_acc_max=max(accs) if accs else None,
                       params=row["params"] if len(sizes) == 1 else None,  # one size, or the members differ
                       note=ACROSS_NOTE + " + ".join(dict.fromkeys(r.variant for r in recs)))
            rows.append(row)
        return rows + self._unscored_committee_rows(rows)

    def _unscored_committee_rows(self, scored: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A row for each of the file's committees across variants that has runs but no score (a
        member failed or diverged, or has not run yet), saying so, instead of no row at all."""
        done = {r["variant"] for r in scored}
        rows = []
        for name, variants in (self.defined or {}).items():
            recs = [r for v in variants for _, r in sorted(self._cells.get(v, {}).values(), key=lambda cell: cell[0])]
            if name in done or len(recs) < 2:  # one run (a --quick smoke run of repeats) is no committee
                continue
            ok = sum(r.status == "finished" for r in recs)
            missing = [v for v in variants if v not in self._cells]
            why = (f"{ok} of {len(recs)} runs finished" if ok < len(recs)
                   else f"{', '.join(missing)} has no run" if missing else "yet")
            row = _row(name, recs, [])
            row["note"] = f"{ACROSS_NOTE}{' + '.join(variants)}: not scored{'' if why == 'yet' else ','} {why}"
            rows.append(row)
        return rows

    def _count(self, r: RunRecord) -> bool:
        """Take ``r`` into its cell, where the run that counts is chosen by :func:`counts_over`;
        False if ``r`` does not count at all."""
        if r.status == "running" or (self.keys is not None and (r.variant, r.config_hash) not in self.keys):
            return False
        self._seen += 1
        started = (r.created_at, self._seen)
        cells = self._cells.setdefault(r.variant, {})
        first, held = cells.get(r.config_hash, (started, r))
        # An older run added late (parallel jobs finish out of order) still places its cell.
        cells[r.config_hash] = (min(first, started), r if counts_over(r, held) else held)
        self._first[r.variant] = min(self._first.get(r.variant, started), started)
        return True

    def _row(self, variant: str) -> dict[str, Any]:
        recs = [r for _, r in sorted(self._cells[variant].values(), key=lambda cell: cell[0])]
        return _row(variant, recs, counted_committees(self._committees.get(variant, []), recs))


def counted_committees(comms: Iterable[CommitteeRecord], runs: Sequence[RunRecord]) -> list[CommitteeRecord]:
    """For each repeat, the committee of the counted ``runs``: of the records whose members all
    count, the one with the most members, then the latest (a ``--quick`` smoke committee of the
    same first members, or one a rerun replaced, is recorded beside it). A record whose members were
    scored on different test sets counts not at all (helper-217: mnistlab before 2026-12-02 held each
    member's test images of one's own data out with that member's seed, and still averaged them into
    a committee score, 50.62% beside members of 67.50% and 69.38%)."""
    ids = {r.run_id for r in runs}
    sets = test_sets(runs)
    best: dict[int, CommitteeRecord] = {}
    for c in comms:
        if all(m in ids for m in c.member_ids) and on_one_test_set(c, sets):
            held = best.get(c.repeat)
            if held is None or (len(c.member_ids), c.created_at) > (len(held.member_ids), held.created_at):
                best[c.repeat] = c
    return [best[r] for r in sorted(best)]


def on_one_test_set(committee: CommitteeRecord, sets: Mapping[str, tuple[str, str]]) -> bool:
    """Whether ``committee``'s members were scored on one test set, by :func:`test_sets`' ``sets`` of
    their runs (a member without one counts beside any)."""
    return len({sets[m][0] for m in committee.member_ids if m in sets}) <= 1


def _row(variant: str, recs: list[RunRecord], comms: list[CommitteeRecord]) -> dict[str, Any]:
    ok = [r for r in recs if r.status in RESULT_STATUSES]
    accs = [a for a in (_num(r.metrics.get("test_accuracy")) for r in ok) if a is not None]

    def mean(key: str) -> float | None:
        vals = [x for x in (_num(r.metrics.get(key)) for r in ok) if x is not None]
        return float(np.mean(vals)) if vals else None

    is_committee = any(r.member > 0 for r in recs)
    blown = sum(r.status == "diverged" and ("too high" in r.message or "penalty too strong" in r.message)
                for r in recs)  # NaN or blow_up's loss (trainer.divergence_hint, PENALTY_HINT)
    penalty = any(r.status == "diverged" and "weight penalty" in r.message for r in recs)  # trainer.PENALTY_HINT
    return {
        "variant": variant,
        "n": len(accs),
        "params": int(ok[0].metrics["params"]) if ok and "params" in ok[0].metrics else None,
        "epochs": _whole(mean("epochs_run")),  # 30, not 30.0, unless early stopping made runs differ
        "train_acc": mean("train_accuracy"),
        "val_acc": mean("val_accuracy"),
        "val_is_test": any(validated_on_test(r) for r in ok) if ok else False,
        "test_acc": mean_sd(accs)[0] if accs else None,  # (equal scores: their value and sd 0, exactly)
        "test_acc_std": mean_sd(accs)[1] if accs else None,
        "vs_best": None,  # set across rows by mark_vs_best
        "vs_best_p": None,
        "test_balanced_acc": mean("test_balanced_accuracy"),  # the metric Kuzushiji-49 is judged by
        "tta_test_acc": mean_sd(tta)[0] if (tta := [a for a in (_num(r.metrics.get("tta_test_accuracy")) for r in ok)
                                                   if a is not None]) else None,  # with [evaluate] tta: shifted views
        "test_loss": mean("test_loss"),
        "train_seconds": mean("train_seconds"),
        "seconds_per_epoch": mean("seconds_per_epoch"),
        "member_acc_min": min(accs) if is_committee and accs else None,
        "member_acc_max": max(accs) if is_committee and accs else None,
        "committee_acc": mean_sd([c.accuracy for c in comms])[0] if comms else None,  # mean over repeats
        # what a committee is chosen on (when its members shared their validation images)
        "committee_val_acc": (float(np.mean([c.val_accuracy for c in comms]))
                              if comms and all(c.val_accuracy is not None for c in comms) else None),
        "failed": sum(r.status == "failed" for r in recs),  # (an interrupted run is not: the note says it)
        "note": _row_note(recs, ok, blown, penalty),
        "committee_acc_std": mean_sd([c.accuracy for c in comms])[1] if comms else None,
        "committees": len(comms) if comms else None,  # scored committees, one per repeat
        "run_ids": [r.run_id for r in ok],  # the runs its figures come from (`mnistlab show ID`)
        "tta_val_gain": mean("tta_val_gain"),  # what [evaluate] tta adds on validation: where to choose it
        "committee_members": [len(c.member_ids) for c in comms] if comms else None,  # each one's voters
        "test_images": sizes.pop() if len(sizes := {r.metrics.get("test_size") for r in ok}) == 1 else None,  # each
        "smoke": any(smoke_run(r) for r in ok) if ok else None,  # run's; --quick's size (smoke_note)
        "chosen_on_test": chosen_on_test_note(ok) is not None if ok else None,  # optimistic (chosen_on_test_note)
        "test_set": "; ".join(dict.fromkeys(label for _, label in test_sets(ok).values())) or None,  # (helper-216)
        "tta_test_acc_std": mean_sd(tta)[1] if tta else None,
        "tta_n": len(tta) if tta else None,
    }


# The note that opens a committee-across-variants row ([[committees]]): such a row is never marked
# best, its runs being its variants' own (Comparison.rows)
ACROSS_NOTE = "committee of "


def never_run(ref: ExperimentRef, variant: str, quick: bool = False) -> str | None:
    """Where ``variant`` is one of ``ref``'s experiment file's variants, that it has no run of this
    size (``quick``: --quick smoke runs) yet and the command that records one (helper-146: `plot
    --quick --variant v` of a variant trained full-size only said "did you mean "v"?"); else None."""
    if ref.file is None or variant not in {v.name for v in ref.file.variants}:
        return None
    return (f"variant {variant!r} of {ref.given} has no {'--quick smoke run' if quick else 'run at its current settings'} "
            f"yet: `mnistlab run {ref.again(quick=quick)}` records one")


def only_variants(rows: list[dict[str, Any]], variants: Sequence[str], experiment: str, *,
                  ref: ExperimentRef | None = None, quick: bool = False) -> list[dict[str, Any]]:
    """The rows of ``variants`` (``--variant``, repeatable), in the table's order, their ``best``
    marks taken again among them (:func:`mark_vs_best`: the best of those compared). Raises
    StoreError for a name no row has: a variant of ``ref``'s file not run at this size (``quick``)
    yet (:func:`never_run`), or else with a "did you mean" and the names there are."""
    from mnistlab.experiments import grid_family

    names = [str(r["variant"]) for r in rows]
    wanted = set()
    for v in variants:  # a [[variants]] entry with a grid of its own stands for every variant it expands into
        if not (found := [v] if v in names else grid_family(v, names)) and ref is not None and (
                why := never_run(ref, v, quick)):
            raise StoreError(why)
        if not found:
            listed = ", ".join(f'"{n}"' for n in names)  # quoted: a grid's names hold commas
            raise StoreError(f'experiment "{experiment}" has no row "{v}" to compare{did_you_mean(v, names)} (a variant '
                             f"with no run shows none); rows: {listed}")
        wanted.update(found)
    kept = [r for r in rows if str(r["variant"]) in wanted]
    mark_vs_best([r for r in kept if not str(r.get("note") or "").startswith(ACROSS_NOTE)])  # as rows() marks
    return kept


def mark_vs_best(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Set each row's ``vs_best`` and ``vs_best_p``: can its mean test accuracy be told apart from
    the best variant's? Welch's t-test on the rows' means, sds and n (:func:`mnistlab.stats.welch_test`),
    its p-values Holm-adjusted for the rows tested against the best (:func:`mnistlab.stats.holm`;
    helper-215: uncorrected, 10 variants of one setting made half of such tables call one "below"):
    ``"best"`` for the variant with the highest mean (of equal means, the one with the most runs),
    ``"within noise"`` where the adjusted p >= :data:`NOISE_P` or no test can be made (its runs and
    best's each agree exactly, of different means: ``vs_best_p`` None), ``"below"`` where it is less, None
    where a row has fewer than 2 runs (no sd). Rows scored on different test sets (their
    ``test_set``: another dataset, another subset) are not marked at all: their accuracies do not
    compare (helper-244: ``compare --variant`` of a grid over datasets marked them). Returns ``rows``.
    """
    scored = [r for r in rows if r.get("test_acc") is not None and r.get("test_acc_std") is not None]
    for r in rows:
        r.update(vs_best=None, vs_best_p=None)
    sets = {str(r["test_set"]) for r in scored if r.get("test_set")}
    if len(scored) < 2 or len(sets) > 1 or any("; " in s for s in sets):  # ("; ": a row's runs on several sets)
        return rows
    best = max(scored, key=lambda r: (round(r["test_acc"], 12), r["n"]))  # (a float's residue breaks no tie)
    best["vs_best"] = "best"
    others = [r for r in scored if r is not best]
    raw = [welch_test(best["test_acc"], best["test_acc_std"], best["n"], r["test_acc"], r["test_acc_std"], r["n"]).p
           for r in others]
    tested = [r for r, p in zip(others, raw) if not math.isnan(p)]
    for r, p in zip(tested, holm([p for p in raw if not math.isnan(p)])):
        r["vs_best"], r["vs_best_p"] = ("within noise" if p >= NOISE_P else "below"), p
    asked = {id(r) for r in tested}
    for r in others:
        if id(r) not in asked:  # its runs and best's each agree exactly: no spread, no test (vs_best_p None)
            r["vs_best"] = "within noise"
    return rows


def _whole(x: float | None) -> float | int | None:
    """``x`` as an int when it is a whole number (a mean of equal epoch counts), else as it is."""
    return int(x) if x is not None and x.is_integer() else x


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _csv_value(key: str, value: Any) -> Any:
    if key == "run_ids":  # ids are hex: space-separated reads (and splits) more plainly than JSON in a cell
        return " ".join(value)
    value = _tidy(value)
    value = json.dumps(value) if isinstance(value, (list, dict, bool)) else value  # false, as beside {"a": 1}
    return csv_text(value) if isinstance(value, str) else value  # a name's escape codes as \x1b, a formula as text (helper-188)


def _tidy(value: Any) -> Any:
    """``value`` with each float to 12 significant digits: a mean's binary noise (``0.8847499999999999``)
    gone from CSV and JSON, the value itself kept (test accuracies have at most 5 digits, times 4)."""
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.12g}")
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in value.items()}
    return value


# the characters that change Markdown's meaning mid-line; an "_" only at a word's edge: inside one
# (max_pooling2d) CommonMark never reads it as emphasis, and "max\_pooling2d" read badly as plain text (helper-176)
_MD_SPECIAL = re.compile(r"([\\`*\[\]|]|(?<![^\W_])_|_(?![^\W_]))")


def md(text: object) -> str:
    """``text`` as literal Markdown text on one line (a table's cell, a card's line): HTML's ``& < >``
    as entities, the characters that start emphasis, code, links or table cells backslashed, and
    control characters escaped (a class folder's name may hold a terminal's escape codes, helper-172).

    >>> md("<b>*x*</b>")
    '&lt;b&gt;\\\\*x\\\\*&lt;/b&gt;'
    >>> md("max_pooling2d _i_")
    'max_pooling2d \\\\_i\\\\_'
    """
    return _MD_SPECIAL.sub(r"\\\1", no_html(printable(" ".join(str(text).split()))))


def no_html(text: str) -> str:
    """``text`` with HTML's ``& < >`` as entities, so that a page shows it as text (a variant named
    ``<img onerror=...>``, helper-154, -158), its Markdown left as it is."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def format_rows(rows: Sequence[Mapping[str, Any]], fmt: str = "csv") -> str:
    """The comparison rows as ``csv``, ``markdown`` or ``json`` text (``table``: see rich_table)."""
    if fmt == "json":
        ordered = [{**{k: r[k] for k in COLUMNS if k in r}, **{k: v for k, v in r.items() if k not in COLUMNS}}
                   for r in rows]  # the CSV's column order (each added later last), whatever order a row was built in
        return json.dumps([_tidy(r) for r in ordered], indent=1) + "\n"  # text ends in a newline, as csv and markdown do
    if fmt == "csv":
        buf = io.StringIO()
        fields = [*COLUMNS, *search_columns(rows)]
        if any("trial" in r for r in rows):  # a search: each trial's number, state and searched metric
            from mnistlab.search import TRIAL_FIELDS

            fields = [f for f in fields if f not in (*COMMITTEE_SPREAD, "run_ids", "committee_members")]  # a trial is one run
            at = fields.index("note") + 1
            fields[at:at] = TRIAL_FIELDS
        w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if r.get(k) is None else _csv_value(k, r.get(k)) for k in fields})
        return buf.getvalue()
    if fmt == "markdown":
        heads, cells = display_cells(rows)
        cells = [[c.replace(" +- ", " ± ") for c in row] for row in cells]  # (a page's text: helper-244, "+-")
        lines = ["| " + " | ".join(map(md, heads)) + " |", "|" + "---|" * len(heads)]  # one line a cell, its
        lines += ["| " + " | ".join(map(md, c)) + " |" for c in cells]  # pipes (helper-129), HTML and Markdown
        # escaped as the card escapes them (helper-154: a variant <img onerror=...> was live HTML in a page)
        return "\n".join(lines) + "\n"
    if fmt == "latex":
        return latex_table(*display_cells(rows))
    raise SpecError(f'unknown format "{fmt}"{did_you_mean(fmt, ["table", "csv", "markdown", "latex", "json"])}')


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
                "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex(text: object) -> str:
    r"""``text`` as literal LaTeX text on one line: its special characters escaped, a ``+-`` as
    ``$\pm$``, control characters escaped (:func:`~mnistlab.files.printable`).

    >>> print(tex("cnn_dropout 91.59% +- 3.97 (n=3) ~best"))
    cnn\_dropout 91.59\% $\pm$ 3.97 (n=3) $\sim$best
    """
    plain = printable(" ".join(str(text).split()))
    return "".join(_TEX_SPECIAL.get(c, c) for c in plain).replace(" +- ", r" $\pm$ ").replace(
        r"\textasciitilde{}best", r"$\sim$best")  # (a mark, as a paper writes it: helper-247)


def latex_table(heads: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    """A comparison's table as a LaTeX ``tabular`` in booktabs' rules (``\\usepackage{booktabs}``),
    the first column left-aligned, the others right, each cell :func:`tex`; what a paper's
    ``\\input{table.tex}`` takes (helper-244: only Markdown, CSV and JSON)."""
    lines = [r"% mnistlab compare: needs \usepackage{booktabs}", r"\begin{tabular}{l" + "r" * (len(heads) - 1) + "}",
             r"\toprule", " & ".join(tex(h) for h in heads) + r" \\", r"\midrule"]
    lines += [" & ".join(tex(c) for c in row) + r" \\" for row in cells]
    return "\n".join([*lines, r"\bottomrule", r"\end{tabular}"]) + "\n"


def search_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The columns a search's rows add: one per searched param, named by its dotted key (``train.lr``;
    a top-level one, ``augment`` or ``model``, by its name)."""
    from mnistlab.search import TRIAL_FIELDS

    return list(dict.fromkeys(k for r in rows for k in r if k not in COLUMNS and k not in TRIAL_FIELDS))


def _searched_cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, (list, dict, bool)) else str(value)  # false, as JSON writes it


def display_cells(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """(headers, rows of display strings): accuracies in %, mean +- std (n), committee columns only
    when relevant. The first column (variant) reads left-aligned, the others right-aligned."""
    committee = any(r.get("committee_acc") is not None or r.get("member_acc_min") is not None for r in rows)
    committee_val = any(r.get("committee_val_acc") is not None for r in rows)
    val = any(r.get("val_acc") is not None for r in rows)
    balanced = any(r.get("test_balanced_acc") is not None for r in rows)  # a dataset judged by balanced accuracy
    tta = any(r.get("tta_test_acc") is not None for r in rows)
    tta_val = any(r.get("tta_val_gain") is not None for r in rows)
    searched = search_columns(rows)
    heads = (["variant", *searched, "params", "epochs", "train acc"] + ["val acc"] * val + ["test acc"]
             + ["balanced acc"] * balanced + ["TTA gain (val)"] * tta_val + ["test acc (TTA)"] * tta
             + ["test loss", "train time", "s/epoch"]
             + ["members"] * committee + ["committee val"] * committee_val + ["committee"] * committee)
    marked = any(r.get("vs_best") in ("best", "within noise") for r in rows)  # marks of one width: the
    out = []  # right-aligned figures stay in line
    for r in rows:
        pct = (lambda x: "-" if x is None else f"{100 * x:.2f}%")
        test = _spread(pct(r.get("test_acc")), r.get("test_acc_std"), r.get("n", 0), always_n=True)
        test += {"best": "  best", "within noise": " ~best"}.get(r.get("vs_best") or "", " " * 6 * marked)
        note = f" ({r['note']})" if r.get("note") else ""  # e.g. diverged: the learning rate is probably too high
        cells = [printable(str(r["variant"]) + note), *(_searched_cell(r.get(k)) for k in searched),  # (a store's
                 # text may hold a terminal's escape codes: helper-172)
                 "-" if r.get("params") is None else f"{r['params']:,}",
                 "-" if r.get("epochs") is None else f"{round(r['epochs'], 2):g}", pct(r.get("train_acc"))]  # (a mean: 1.67)
        cells += [pct(r.get("val_acc")) + (" (test)" if r.get("val_is_test") and r.get("val_acc") is not None else "")] * val
        gain = r.get("tta_val_gain")
        cells += [test] + [pct(r.get("test_balanced_acc"))] * balanced
        tta_cell = (_spread(pct(r.get("tta_test_acc")), r.get("tta_test_acc_std"), r.get("tta_n") or 0, always_n=True)
                    if r.get("tta_test_acc") is not None else "-")
        cells += ["-" if gain is None else f"{100 * gain:+.2f} pts"] * tta_val + [tta_cell] * tta
        cells += ["-" if r.get("test_loss") is None else f"{r['test_loss']:.4f}",
                  "-" if r.get("train_seconds") is None else f"{seconds(r['train_seconds'])} s",
                  "-" if r.get("seconds_per_epoch") is None else seconds(r["seconds_per_epoch"])]
        if committee:
            lo, hi = r.get("member_acc_min"), r.get("member_acc_max")
            cells += ["-" if lo is None else f"{pct(lo)}-{pct(hi)}"]
            comm = _spread(pct(r.get("committee_acc")), r.get("committee_acc_std"), r.get("committees") or 0)
            cells += [pct(r.get("committee_val_acc"))] * committee_val + [comm]
        out.append(cells)
    return heads, out


def seconds(value: float) -> str:
    """A table's seconds, in one style for its time columns (helper-146: "0.00878 s" beside "0.01";
    ``.3g`` wrote 1,230 s as "1.23e+03"): 2 decimals under 10, 1 under 100, else whole.

    >>> [seconds(v) for v in (0.004, 0.00878, 0.0701, 1.4, 9.996, 12.34, 99.96, 1234.5)]
    ['<0.01', '0.01', '0.07', '1.40', '10.0', '12.3', '100', '1,234']
    """
    v = float(value)
    if abs(v) < 0.005:  # (not "0.00" for a time it took; a clock's step back is none)
        return "<0.01" if v > 0 else "0.00"
    return f"{v:.2f}" if abs(round(v, 2)) < 10 else f"{v:.1f}" if abs(round(v, 1)) < 100 else f"{v:,.0f}"


def best_legend(rows: Sequence[Mapping[str, Any]], *, words: bool = False) -> str | None:
    """What the ``best`` and ``~best`` marks of ``rows`` mean, one line; None when no row has one.
    ``words``: of a table that shows ``vs_best`` as it is (``within noise``, ``below``: the report's)."""
    marks = {r.get("vs_best") for r in rows}
    if "best" not in marks:
        return None
    tested = sum(r.get("vs_best") in ("within noise", "below") and r.get("vs_best_p") is not None for r in rows)  # (a row
    # without a p is no member of the Holm family: the review of session 59)
    near = (f"; {'within noise' if words else '~best'}: Welch's t-test cannot tell its mean from best's "
            f"(p >= {NOISE_P:g}{', Holm-adjusted' * (tested > 1)}), so their order may be seed noise"
            if "within noise" in marks else "")
    best_n = next((r.get("n") for r in rows if r.get("vs_best") == "best"), None)
    why = []  # (helper-261: two parentheticals back to back read as a run-on)
    if near and any(r.get("vs_best") == "within noise" and r.get("vs_best_p") is None for r in rows):
        why.append("a row without a p: its runs and best's each agree exactly, as runs scored on a few hundred test "
                   "images often do, and a spread of 0 is no test")
    if near and any(r.get("vs_best") == "within noise" and 2 in (r.get("n"), best_n) for r in rows):
        why.append("or too few runs to tell: 2 runs a row leave the test almost no power, 1 degree of freedom where "
                   "a row's runs agree; repeats = 3 or more tell more")
    near += f" ({'; '.join(why)})" if why else ""
    who = "below: differs" if words else "unmarked ones with 2 runs or more differ"
    below = (f"; {who} from best by Welch's test (p < {NOISE_P:g}, "
             + (f"Holm-adjusted for the {tested} rows tested against the best; " if tested > 1 else "")
             + "the best is chosen by the same runs, so with few runs a hint, not a proof)" if "below" in marks else "")
    across = [str(r.get("note") or "").startswith(ACROSS_NOTE) for r in rows]
    committees = ("; a committee row is tested by its members' mean" if any(
        r.get("committee_acc") is not None and not a for r, a in zip(rows, across)) else "")
    committees += "; a committee across variants is not ranked (its runs are its variants')" if any(across) else ""
    return ("best: the highest mean test accuracy of the variants with 2 runs or more (mean +- sample sd in points, "
            "n - 1 in its denominator)" + near + below + committees)


def _row_note(recs: Sequence[RunRecord], ok: Sequence[RunRecord], blown: int, penalty: bool) -> str | None:
    """A row's note: its runs that diverged (``blown``: by a learning rate, or a weight penalty too
    strong) and those interrupted, where some have a result (helper-123: a row of n=1 of two cells
    said nothing of the interrupted one, and counted it as failed), or why none has one."""
    if recs and not ok:
        return _no_result(recs)
    said = [f"{blown} diverged: the learning rate{' or the weight penalty' * penalty} is probably too high"] * bool(blown)
    if stopped := sum(r.status == "interrupted" for r in recs):  # (a failed one is in the failed column)
        said.append(f"{stopped} interrupted, no result yet: run it again to train it on")  # short: in the variant column
    return "; ".join(said) or None


def _no_result(recs: Sequence[RunRecord]) -> str:
    """A row's note when none of its runs has a result: how many failed or were stopped, and the
    command that says why (a damaged record reads as failed, its message saying how to remove it)."""
    counts = Counter(r.status for r in recs)
    return (f"no result: {', '.join(f'{n} {status}' for status, n in counts.items())}; "
            f"`mnistlab show {recs[-1].run_id}` says why")


def _spread(mean: str, std: float | None, n: int, *, always_n: bool = False) -> str:
    """``99.64% +- 0.03 (n=12)``: a shown mean, its std in points when there is one, and n (always,
    or only above 1)."""
    return mean + (f" +- {100 * std:.2f}" if std is not None else "") + (f" (n={n})" if always_n or n > 1 else "")


def _split_at_dots(head: str, column: Sequence[str]) -> str:
    """A searched key's header ("train.batch_size") on a line per dotted part when it is wider than
    its values, so a narrow column of numbers does not take the width of its key."""
    from rich.cells import cell_len

    widest = max((cell_len(c) for c in column), default=0)
    return head.replace(".", ".\n") if cell_len(head) > widest else head


# Columns a narrow terminal leaves out first (then the next): what a ranking is read by stays.
_DROP_FIRST = ("s/epoch", "train time", "epochs", "test loss", "params", "train acc", "members",
               "test acc (TTA)", "TTA gain (val)", "balanced acc")


def rich_table(rows: Sequence[Mapping[str, Any]], title: str | None = None, width: int | None = None) -> Any:
    """The comparison rows as a rich renderable (what `mnistlab run` and `mnistlab compare` print on
    a terminal): a Table fitted, when printed, to ``width`` or else to the console's width.

    The width (terminal cells) leaves out whole columns, in the order of
    ``_DROP_FIRST`` and then a search's keys, until the rest fit, and the caption names them; a variant name is never cut
    (a note after it, such as a search trial's rank, wraps) and no number is shortened to "...".
    Where even that does not fit (:func:`table_fits`), the :func:`plain_rows` lines, which a terminal
    wraps (helper-164: a narrow console cropped the numbers).
    """
    from rich.text import Text

    class Fitted:
        def __rich_console__(self, console: Any, options: Any) -> Any:
            room = width or options.max_width
            yield _fitted_table(rows, title, room) if table_fits(rows, room) else Text(plain_rows(rows, title).rstrip("\n"))

    return Fitted()


def plain_rows(rows: Sequence[Mapping[str, Any]], title: str | None = None, width: int | None = None) -> str:
    """The comparison rows as :func:`plain_table` lines (the variant left-aligned, numbers right),
    after a line of ``title``: what a pipe, a file or a terminal too narrow for :func:`rich_table` gets.
    With ``width`` (a terminal that cannot redraw, ``TERM=dumb``: its cells), whole columns are left
    out as :func:`rich_table` leaves them until the lines fit, and a last line names them."""
    heads, cells = display_cells(rows)
    keep = plain_columns_that_fit(heads, cells, _drop_order(heads), width) if width else list(range(len(heads)))
    text = plain_table([heads[i] for i in keep], [[c[i] for i in keep] for c in cells], [i != 0 for i in keep])
    if left_out := [h for i, h in enumerate(heads) if i not in keep]:
        text += f"left out for the terminal's width: {', '.join(left_out)} (--format markdown shows every column)\n"
    return (f"{title}\n" if title else "") + text


def plain_columns_that_fit(heads: Sequence[str], cells: Sequence[Sequence[str]], dropped_first: Sequence[int],
                           width: int) -> list[int]:
    """The columns :func:`plain_table`'s lines keep (indices into ``heads``) to fit ``width`` cells,
    whole ones left out in the order ``dropped_first`` (:func:`columns_that_fit`)."""
    from rich.cells import cell_len

    wide = [max([cell_len(h), *(cell_len(c[i]) for c in cells)]) + 2 for i, h in enumerate(heads)]
    return columns_that_fit(wide, dropped_first, width + 3)  # (a line is their sum less the last gap)


def _drop_order(heads: Sequence[str]) -> list[int]:
    """The columns (indices into ``heads``) a narrow terminal leaves out, first to last: ``_DROP_FIRST``,
    then a search's keys, the last searched first (`mnistlab show` has them); the variant, the
    validation and test accuracies and the committee's are never left out."""
    searched = [h for h in heads[1:] if h and h not in _DROP_FIRST  # ("": the best/~best marks' column, kept)
                and not h.startswith(("val ", "test acc", "committee", "vs best"))]
    return [i for name in [*_DROP_FIRST, *reversed(searched)] for i, h in enumerate(heads) if h == name]


def plain_table(heads: Sequence[str], cells: Sequence[Sequence[str]], right: Sequence[bool] | None = None) -> str:
    """Columns padded with spaces and separated by two: no box drawing, no colour, one row a line.

    Widths are terminal cells (rich's ``cell_len``), not characters: a CJK character or an emoji
    takes two, so columns after a wide name still line up.
    """
    from rich.cells import cell_len

    right = list(right) if right is not None else [False] * len(heads)
    widths = [max([cell_len(h), *(cell_len(row[i]) for row in cells)]) for i, h in enumerate(heads)]

    def pad(value: str, width: int, to_right: bool) -> str:
        gap = " " * (width - cell_len(value))
        return gap + value if to_right else value + gap

    def line(values: Sequence[str]) -> str:
        return "  ".join(pad(v, w, r) for v, w, r in zip(values, widths, right)).rstrip()

    return "\n".join([line(heads), *(line(row) for row in cells)]) + "\n"


def columns_that_fit(widths: Sequence[int], dropped_first: Sequence[int], room: int) -> list[int]:
    """The columns a terminal table keeps (indices into ``widths``: each column's widest cell with
    its padding and border) when whole ones are left out, in the order ``dropped_first``, until
    the rest fit in ``room`` cells (or none is left to drop): never every cell cut to "…"."""
    keep = list(range(len(widths)))
    for i in dropped_first:
        if sum(widths[k] for k in keep) + 1 <= room:
            break
        keep = [k for k in keep if k != i]
    return keep


def _layout(rows: Sequence[Mapping[str, Any]], width: int) -> tuple[list[str], list[list[str]], list[int], list[int], int]:
    """How :func:`rich_table` lays ``rows`` out in ``width`` cells: its headers and cells (the marks
    in a column of their own), each column's widest cell with its padding (``wanted``), the columns
    kept (whole ones left out, :func:`columns_that_fit`) and the variant column's longest word."""
    from rich.cells import cell_len

    heads, cells = display_cells(rows)
    if any(r.get("vs_best") in ("best", "within noise") for r in rows):  # the marks in a column of their own: rich
        at = heads.index("test acc") + 1  # strips a right-aligned cell's trailing spaces, which align them in text
        heads.insert(at, "vs best")  # (helper-176: a heading, not none)
        cells = [[*c[:at - 1], c[at - 1][:-6].rstrip(), c[at - 1][-6:].strip(), *c[at:]] for c in cells]
    heads = [_split_at_dots(h, [c[i] for c in cells]) if "." in h and i else h for i, h in enumerate(heads)]
    wanted = [max([*map(cell_len, h.splitlines()), *(cell_len(c[i]) for c in cells)]) + 3 for i, h in enumerate(heads)]
    longest_word = max(cell_len(w) for text in [heads[0], *(c[0] for c in cells)] for w in text.split() or [""])
    # ... but a name is never split (helper-184: "klein – größe" / "日本"): as wide as the longest, a name
    # starting its cell stays whole on its first line, the notes after it wrapping
    longest_word = max([longest_word, *(cell_len(printable(str(r["variant"]))) for r in rows)])
    wanted[0] = longest_word + 3  # the variant column wraps its notes at spaces, down to its longest word or name
    keep = columns_that_fit(wanted, _drop_order(heads), width)
    return heads, cells, wanted, keep, longest_word


def table_fits(rows: Sequence[Mapping[str, Any]], width: int) -> bool:
    """Whether :func:`rich_table`'s table of ``rows`` fits ``width`` terminal cells once whole columns
    are left out: each kept one whole, the variant column as wide as its longest word (its notes
    wrap). Where not, a terminal gets the plain lines, which it wraps, nothing cut (helper-163: at 50
    columns a variant "depth,dense=64/64/64/64/64/64/64" left rich room to crop "58.00%" to "58.")."""
    _, _, wanted, keep, _ = _layout(rows, width)
    return sum(wanted[i] for i in keep) + 1 <= width


def _fitted_table(rows: Sequence[Mapping[str, Any]], title: str | None, width: int) -> Any:
    from rich.table import Table
    from rich.text import Text

    heads, cells, wanted, keep, longest_word = _layout(rows, width)
    left_out = [h for i, h in enumerate(heads) if i not in keep]
    caption = f"left out for the terminal's width: {', '.join(left_out)} (--format markdown shows every column)"
    table = Table(title=None if title is None else Text(title),  # Text: a "[" in a name is not markup
                  caption=caption if left_out else None)
    fits = sum(wanted[i] for i in keep) + 1 <= width  # else the numbers wrap at spaces too
    for i in keep:
        table.add_column(heads[i], justify="left" if i == 0 else "right", no_wrap=i != 0 and fits,
                         min_width=longest_word if i == 0 else None)
    for c in cells:
        table.add_row(*(Text(c[i]) for i in keep))
    return table
