"""Figures of recorded runs: fetch runs, stored predictions and weights from a run store, then draw.

The drawing is :mod:`mnistlab.plots` (plain data in, a matplotlib Figure out); this module only
finds what to draw. Nothing here trains anything::

    store = RunStore()
    figure_for("history", store, "seed000").savefig("history.png")          # every run of an experiment
    figure_for("feature-maps", store, "3f2a", images=[0, 23, 28], filter_index=1)  # a run id prefix
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mnistlab.comparison import (
    chosen_runs, compare_experiment, current_runs, never_run, nothing_to_compare, of_last_sweep, only_variants,
    resolve_experiment, rows_runs,
    scored_on_note, setting_labels, validated_on_test, variant_order,
)
from mnistlab.datasets import Dataset, run_dataset
from mnistlab.data.userdata import dataset_label
from mnistlab.errors import PlotError, ReportWarning, SpecError, StoreError, did_you_mean, user_level
from mnistlab.files import shell_word
from mnistlab.metrics import committee_probs, confusion_matrix, misclassified
from mnistlab.plots import (
    plot_accuracy_vs_params, plot_accuracy_vs_time, plot_comparison, plot_confusion_matrix, plot_feature_maps,
    plot_filters, plot_history, plot_image, plot_misclassified, plot_per_class_accuracy, plot_sample_grid, quiet_fonts,
)
from mnistlab.specs import ModelSpec
from mnistlab.store import RESULT_STATUSES, CommitteeRecord, RunRecord, RunStore, epochs_trained

FIGURE_KINDS = ("history", "compare", "params", "time", "samples", "image", "misclassified", "confusion",
                "per-class", "feature-maps", "filters", "optimization-history", "parallel-coordinates", "importance",
                "intermediate-values")
#: the figures of a search's trials (Optuna's plot_optimization_history, plot_parallel_coordinate,
#: plot_param_importances, plot_intermediate_values), as the report draws them
SEARCH_FIGURES = ("optimization-history", "parallel-coordinates", "importance", "intermediate-values")


def resolve_runs(store: RunStore, target: str, variant: str | None = None, *, quick: bool = False,
                 diverged: bool = False) -> list[RunRecord]:
    """The finished runs ``target`` names: an experiment file, an experiment name or a run id (or
    unique prefix), read as every command reads it (:func:`~mnistlab.comparison.resolve_experiment`);
    ``quick``: an experiment file's ``--quick`` smoke runs, as `compare --quick` reads them;
    ``diverged``: diverged runs too (a result, scored as their weights ended: what a figure diagnoses).

    An experiment's runs can be narrowed to one ``variant``; with a run id, ``variant`` must be the
    run's own. Raises StoreError when nothing matches, SpecError for ``quick`` without a file.
    """
    ref = resolve_experiment(store, target, quick=quick)
    if quick and ref.file is None:
        raise SpecError(f"--quick draws an experiment file's smoke runs: give the .toml file, not {target!r}")
    if ref.run is not None:
        runs = [ref.run]
    else:
        name = ref.recorded_as(quick=quick)
        everything = store.runs(experiment=name)
        results = RESULT_STATUSES if diverged else ("finished",)
        if not any(r.status in results for r in everything):
            statuses = sorted({r.status for r in everything})
            ended = set(statuses) <= {"diverged"}  # a rerun keeps a diverged run (failed ones train again): no "yet"
            raise StoreError(f"experiment {name!r} has no finished runs{'' if ended else ' yet'} (its runs are: "
                             f"{', '.join(statuses)})" + ("; a diverged run's weights are no model to use: "
                                                          "`mnistlab show RUN_ID` says how it blew up"
                                                          if statuses == ["diverged"] else ""))
        # as `compare` reads it (helper-129: of finished runs alone, a variant whose latest run was
        # interrupted drew an older setting's run, on another dataset, that compare leaves out)
        current = current_runs(everything if ref.file is not None else of_last_sweep(store, name, everything),
                               ref.keys(quick=quick))  # (by name, the cells its last sweep planned: as compare counts)
        runs = [r for r in current if r.status in results]
        if not runs:
            raise StoreError(nothing_to_compare(store, ref, quick=quick) if ref.file is not None or any(
                r.status == "running" for r in current) else _not_at_current_settings(name, None, current, diverged))
    if variant is not None and ref.run is not None and str(ref.run.variant) != variant:
        raise StoreError(f"run {ref.run.run_id} is of variant {str(ref.run.variant)!r}, not {variant!r}: give the "
                         "run id alone, or the experiment with --variant")
    if variant is not None:
        names = sorted({str(r.variant) for r in runs})
        if ref.run is None and not any(str(r.variant) == variant for r in runs) and (
                mine := [r for r in current if str(r.variant) == variant]):  # its runs failed, or still run
            raise StoreError(nothing_to_compare(store, ref, quick=quick) if any(r.status == "running" for r in mine)
                             else _not_at_current_settings(name, variant, mine, diverged))
        runs = [r for r in runs if str(r.variant) == variant]
        if not runs and (why := never_run(ref, variant, quick)):
            raise StoreError(why)
        if not runs:
            raise _no_variant(store, ref, variant, names, quick=quick, diverged=diverged)
    # Variants in the order they first ran (the experiment file's order), then by seed.
    first: dict[str, int] = {}
    for i, r in enumerate(runs):
        first.setdefault(str(r.variant), i)
    return sorted(runs, key=lambda r: (first[str(r.variant)], r.seed if r.seed is not None else 0, r.created_at))


def _no_variant(store: RunStore, ref: Any, variant: str, names: Sequence[str], *, quick: bool,
                diverged: bool) -> StoreError:
    """:func:`resolve_runs`' error for a ``variant`` none of whose runs (of ``names``' variants) is
    there: a grid entry's name, with the variants it stands for (helper-244: "has no scored run of
    variant 'cnn'" of a grid over datasets), else the variants and committees, with a did-you-mean."""
    from mnistlab.experiments import grid_family

    if family := grid_family(variant, names):
        shown = ", ".join(repr(n) for n in family)
        return StoreError(f"variant {variant!r} of {ref.name!r} is a grid of {len(family)} ({shown}): a figure of one "
                          f"model draws one of them, --variant {shell_word(family[0])}")
    across = sorted({c.variant for c in store.committees(ref.recorded_as(quick=quick))} - set(names)
                    | set(ref.file.committee_variants() if ref.file is not None else ()))
    return StoreError(f"experiment {ref.name!r} has no {'scored' if diverged else 'finished'} run of variant {variant!r}"
                      f"{did_you_mean(variant, [*names, *across])}; variants: {', '.join(names)}"
                      + (f"; committees: {', '.join(across)}" if across else ""))


def _not_at_current_settings(experiment: str, variant: str | None, current: Sequence[RunRecord],
                             diverged: bool) -> str:
    """Why an experiment (or its ``variant``) has nothing to draw though it has runs: those at its
    current settings (``current``, as `compare` reads them) did not finish; which did what, and the
    command that says how the latest ended."""
    said = ", ".join(f"{n} {status}" for status, n in Counter(r.status for r in current).items())
    latest = max(current, key=lambda r: r.created_at)
    who = f"variant {variant!r} of experiment {experiment!r}" if variant else f"experiment {experiment!r}"
    return (f"{who} has no {'scored' if diverged else 'finished'} run at its current settings (as `mnistlab "
            f"compare` shows them): {said}; `mnistlab show {latest.run_id}` says how its latest ended")


def _dataset_of(record: RunRecord, data_dir: str | os.PathLike | None = None) -> Dataset:
    if not (record.config or {}).get("dataset"):
        raise PlotError(f"run {record.run_id} records no dataset")
    return run_dataset(record.config, data_dir, record.env)  # the user's own data: resized and split as the run did


def run_predictions(store: RunStore, record: RunRecord, data_dir: str | os.PathLike | None = None
                    ) -> tuple[Dataset, np.ndarray, np.ndarray, np.ndarray]:
    """(dataset, test images, true labels, softmax outputs) for a recorded run's stored predictions.

    Runs trained on a subset predicted only the first test images; the labels are cut to match.
    """
    ds = _dataset_of(record, data_dir)
    probs = np.asarray(store.load_predictions(record.run_id))
    n = len(probs)
    if probs.ndim != 2 or n > len(ds.test_labels):
        raise PlotError(f"run {record.run_id}: stored predictions {probs.shape} do not fit the "
                        f"{len(ds.test_labels)} test images of {ds.info.name}")
    return ds, np.asarray(ds.test_images[:n]), np.asarray(ds.test_labels[:n]), probs


def with_predictions(who: str, images: np.ndarray, true: np.ndarray, probs: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str | None]:
    """The test images (N, H, W), labels (N,) and softmax outputs (N, classes) of those images that
    have a prediction, their test indices (N,), and a note saying how many were left out (None:
    none). A row of outputs
    that is not finite has none (a run whose weights went NaN was not tested and stored NaN rows;
    a test whose logits overflowed, NaN rows for those images): its argmax would read as class 0.
    PlotError when no row is left; ``who`` (a run, a committee) names it in both messages."""
    has = np.isfinite(probs).all(1)
    if not has.any():
        why = "a member was not tested" if who.startswith("the committee") else "it was not tested"
        raise PlotError(f"{who} has no test predictions ({why}: its weights were not finite); "
                        "`mnistlab show` says how it ended")
    note = None if has.all() else (f"{who}: {int((~has).sum())} of {len(has)} test images have no prediction "
                                   "(their outputs were not finite) and are left out of its figures")
    return images[has], true[has], probs[has], np.flatnonzero(has), note


def history_runs(records: Sequence[RunRecord]) -> list[tuple[str, list[dict], float | None, str]]:
    """(label, history, test accuracy, the validation curves' name) for each record, as
    `plot_history` takes them.

    Labels name the variant when records span several, and the seed (or the run id) otherwise.
    """
    many_variants = len({r.variant for r in records}) > 1
    one_run_each = len({r.variant for r in records}) == len(records)
    out = []
    for r in records:
        who = f"seed {r.seed}" if r.seed is not None else str(r.run_id)[:8]
        label = str(r.variant) if many_variants and one_run_each else f"{r.variant} {who}" if many_variants else who
        out.append((label + _unfinished_said(r), list(r.history or []), _test_line(r), _val_name(r)))
    return out


def seed_curves(records: Sequence[RunRecord]) -> list[Any]:
    """The curves of ``records`` one per variant, as :func:`~mnistlab.plots.plot_history` takes
    them: a variant's several runs (its seeds) as :class:`~mnistlab.plots.SeedCurves`, their mean
    in a band of +- one sd (helper-244: each seed's own curve, 27 legend entries, and no variant's
    colour its own), a variant's one run as :func:`history_runs` gives it; at most
    :data:`MAX_CURVES` variants (a ReportWarning says how many are left out)."""
    from mnistlab.plots import SeedCurves

    by_variant: dict[str, list[RunRecord]] = {}
    for r in records:
        by_variant.setdefault(str(r.variant), []).append(r)
    if len(by_variant) > MAX_CURVES:
        warnings.warn(f"the history plot draws the first {MAX_CURVES} variants: {len(by_variant) - MAX_CURVES} of "
                      f"{len(by_variant)} left out, past which the curves are unreadable (give --variant)", ReportWarning,
                      stacklevel=user_level())
    out: list[Any] = []
    for variant, runs in list(by_variant.items())[:MAX_CURVES]:
        if len(runs) == 1:
            out.append((variant + _unfinished_said(runs[0]), list(runs[0].history or []), _test_line(runs[0]),
                        _val_name(runs[0])))
            continue
        unfinished = sum(r.status != "finished" for r in runs)
        out.append(SeedCurves(variant + (f" ({unfinished} of {len(runs)} unfinished)" if unfinished else ""),
                              [list(r.history or []) for r in runs], [_test_line(r) for r in runs], _val_name(runs[0])))
    return out


def _val_name(r: RunRecord) -> str:
    """What a run's validation curves are: ``"val"``, or ``"val (test set)"`` where the test set
    validated it (helper-154: a slide of the curves lost the "optimistic" the tables say)."""
    return "val (test set)" if validated_on_test(r) else "val"


def _unfinished_said(r: RunRecord) -> str:
    """A curve's label's end for a run that did not finish: ``" (running: 4 of 6 epochs so far)"``
    (helper-123: its plot looked finished), ``" (interrupted after 33 of 200 epochs)"``, ``"
    (diverged after 3 of 10 epochs)"`` (helper-129: the legend read as a result); ``""`` for a finished run."""
    if r.status == "running":
        return f" (running: {epochs_trained(r)} so far)"
    return "" if r.status == "finished" else f" ({r.status} after {epochs_trained(r)})"


def _test_line(r: RunRecord) -> float | None:
    """The test accuracy a run's curves draw as a line: a finished run's (an interrupted run's is that
    of its weights at the stop, no result: `runs` and `compare` show none either)."""
    return (r.metrics or {}).get("test_accuracy") if r.status == "finished" else None


def _chosen_curves(records: Sequence[RunRecord]) -> list[tuple[str, list[dict], float | None, str]]:
    """:func:`history_runs` of chosen runs, each curve named by its setting as `mnistlab compare`
    names its row (:func:`~mnistlab.comparison.setting_labels`), and by its seed (or, for reruns
    of one seed, its run id) where several runs share that setting."""
    label_of = setting_labels(records)
    out = []
    for r in records:
        same = [o for o in records if label_of[o.run_id] == label_of[r.run_id]]
        who = "" if len(same) == 1 else f" seed {r.seed}" if len({o.seed for o in same}) == len(same) else f" {r.run_id}"
        out.append((label_of[r.run_id] + who + _unfinished_said(r), list(r.history or []), _test_line(r), _val_name(r)))
    return out


def one_per_variant(records: Sequence[RunRecord]) -> list[RunRecord]:
    """The first record of each variant, in order (a readable number of curves)."""
    seen: dict[str, RunRecord] = {}
    for r in records:
        seen.setdefault(str(r.variant), r)
    return list(seen.values())


MAX_CURVES = 10  # runs whose curves one history plot draws: past that it is unreadable


def readable_curves(records: Sequence[RunRecord]) -> list[RunRecord]:
    """The runs of ``records`` (in order) a history plot draws: all of them up to
    :data:`MAX_CURVES`; past that a search's best trials, else one run (the first, the lowest seed) per variant, or the first
    :data:`MAX_CURVES` of a single variant (a committee's members). Warns
    (:class:`~mnistlab.errors.ReportWarning`) naming how many runs are left out."""
    if len(records) <= MAX_CURVES:
        return list(records)
    from mnistlab.search import is_search, ranked_runs

    if is_search(records):  # a search's trials: its best ones, not its first ones
        kept = ranked_runs(records)[:MAX_CURVES]
        metric = (kept[0].metrics or {}).get("search_metric") if kept else None
        warnings.warn(f"the history plot draws the {len(kept)} best trials by {metric}: {len(records) - len(kept)} of "
                      f"{len(records)} runs left out, past which the curves are unreadable (give chosen run ids)",
                      ReportWarning, stacklevel=user_level())
        return kept
    kept = one_per_variant(records)
    if len(kept) == 1:
        kept, how = list(records[:MAX_CURVES]), f"the first {MAX_CURVES} runs of {kept[0].variant} by seed"
    elif len(kept) <= MAX_CURVES:
        how = "one run (the first seed) of each variant"
    else:
        kept, how = kept[:MAX_CURVES], f"one run (the first seed) of each of the first {MAX_CURVES} variants"
    warnings.warn(f"the history plot draws {how}: {len(records) - len(kept)} of {len(records)} runs left out, "
                  "past which the curves are unreadable (give --variant, or chosen run ids)", ReportWarning,
                  stacklevel=user_level())
    return kept


def check_kind(kind: str) -> None:
    """Raise PlotError (with a did-you-mean hint) unless `kind` is one of FIGURE_KINDS."""
    if kind not in FIGURE_KINDS:
        raise PlotError(f"unknown figure kind {kind!r}{did_you_mean(kind, FIGURE_KINDS)}; "
                        f"kinds: {', '.join(FIGURE_KINDS)}")


FEATURE_IMAGES = (0, 23, 28)  # feature-maps' test images by default: MNIST's 7, 5 and 0


def feature_images(labels: np.ndarray) -> tuple[int, ...]:
    """The test images feature-maps draws when none are asked for: :data:`FEATURE_IMAGES` where they
    are of three classes (MNIST's 7, 5 and 0), else the first test image of each of the first three
    classes met (helper-154: Fashion-MNIST's 0, 23 and 28 are three ankle boots)."""
    labels = np.asarray(labels)
    if len(labels) > max(FEATURE_IMAGES) and len({int(labels[i]) for i in FEATURE_IMAGES}) == len(FEATURE_IMAGES):
        return FEATURE_IMAGES
    first: dict[int, int] = {}
    for i, label in enumerate(labels[:10_000].tolist()):
        first.setdefault(int(label), i)
        if len(first) == len(FEATURE_IMAGES):
            break
    return tuple(first.values()) or (0,)


def _feature_rows(store: RunStore, record: RunRecord, ds: Dataset, images: Sequence[int]) -> list[str]:
    """Each feature-maps row's label: which test image and its class, and what the run predicted
    where it got it wrong ("test #23: Ankle boot,\npredicted Sandal"; helper-154: a wrong one was not
    said), from the run's stored predictions of the test images it scored."""
    names = ds.info.class_names
    try:
        probs = np.asarray(store.load_predictions(record.run_id))
    except (StoreError, OSError, ValueError):  # none stored (or unreadable): the classes alone
        probs = np.zeros((0, len(names)))
    if probs.ndim != 2 or len(probs) > len(ds.test_labels):  # not this dataset's (run_predictions' check)
        probs = np.zeros((0, len(names)))
    rows = []
    for i in map(int, images):
        true = int(ds.test_labels[i])
        said = i < len(probs) and probs.shape[1] == len(names) and bool(np.isfinite(probs[i]).all())  # (a NaN row:
        pred = int(probs[i].argmax()) if said else true  # no prediction, not class 0; review)
        rows.append(f"test #{i}: {names[true]}" + (f",\npredicted {names[pred]}" if pred != true else ""))  # (a
        # second line: one ran into the next row's, helper-158)
    return rows


MAX_FEATURE_IMAGES = 16  # test images a feature-maps figure takes (a row each)


def check_feature_images(images: Sequence[int]) -> None:
    """PlotError for more ``images`` than a feature-maps figure takes (:data:`MAX_FEATURE_IMAGES`):
    a row of maps per image, unreadable (and slow) past it; and for an image given twice (its row
    would be drawn twice: helper-147)."""
    if len(images) > MAX_FEATURE_IMAGES:
        raise PlotError(f"--images: at most {MAX_FEATURE_IMAGES} images, got {len(images)}")
    if twice := sorted({int(i) for i in images if list(images).count(i) > 1}):
        raise PlotError(f"--images: image {', '.join(map(str, twice))} is given twice; give each once")


def search_figure(kind: str, store: RunStore, experiment: str, records: Sequence[RunRecord]) -> Figure:
    """One of :data:`SEARCH_FIGURES` of the search ``experiment`` (``records``: its runs): the best
    value after each trial, a line per complete trial across its parameters, or Optuna's PED-ANOVA
    importances, each parameter named as the file and the tables write it (helper-207: the study's
    keys, ``model.layers.2.rate``). PlotError for an experiment that is no search, or a figure its
    trials cannot give (fewer than 2 complete trials for the importances)."""
    from mnistlab.plots import (plot_intermediate_values, plot_optimization_history, plot_param_importances,
                                plot_parallel_coordinates)
    from mnistlab.search import is_search, param_importances, param_names, trial_rows

    if not is_search(records):
        raise PlotError(f"{kind} draws a search's trials: {experiment} is not a search (`mnistlab search FILE` runs one)")
    trials = trial_rows(records)
    metric, direction = trials[0]["metric"] or "val_accuracy", trials[0]["direction"] or "maximize"
    if kind == "optimization-history":
        return plot_optimization_history(trials, metric, direction)
    if kind == "parallel-coordinates":
        return plot_parallel_coordinates(trials, metric)
    if kind == "intermediate-values":  # what the pruner judged: the metric at each epoch's end, from the runs' histories
        by_id = {r.run_id: r for r in records}
        return plot_intermediate_values([{**t, "values": [h.get(metric) for h in by_id[t["run_id"]].history]}
                                         for t in trials], metric)
    names = {k: v for r in records for k, v in param_names(r.metrics or {}).items()}  # as the tables write them
    complete = sum(t["state"] == "complete" for t in trials)
    return plot_param_importances({names.get(k, k): v for k, v in param_importances(store.root, experiment).items()},
                                  complete)


_TABLE_FIGURES = {"compare": plot_comparison, "params": plot_accuracy_vs_params, "time": plot_accuracy_vs_time}  # of rows


def _chosen_runs_figure(kind: str, store: RunStore, run_ids: list[str]) -> Figure:
    """``compare``, ``params`` or ``time`` over the rows :func:`~mnistlab.comparison.compare_runs`
    makes of chosen runs, or ``history`` of those runs; PlotError for a figure of one model or of
    a dataset."""
    from mnistlab.comparison import compare_runs

    if kind in _TABLE_FIGURES:
        return across_test_sets(_TABLE_FIGURES[kind](compare_runs(store, run_ids)), chosen_runs(store, run_ids))
    if kind == "history":
        return across_test_sets(plot_history(_chosen_curves(runs := chosen_runs(store, run_ids))), runs)
    raise PlotError(f"{kind} draws one model or dataset: give one run id or experiment, not {len(run_ids)}")


def across_test_sets(fig: Figure, runs: Sequence[RunRecord], *, warn: bool = True) -> Figure:
    """``fig``, a figure of test accuracies of ``runs``, said (a ReportWarning where ``warn``, and
    its title) to put on one axis the scores of different test sets (another dataset: `compare`'s
    note) when they were; its title also says when the runs are --quick smoke runs, or were scored
    on part of the test set (helper-140: a figure of one model said so, one of several did not;
    helper-146: the report's figures too, as a figure copied out of it is seen without its page)."""
    from mnistlab.comparison import smoke_run, scored_test_images

    if (note := scored_on_note(runs)) and warn:
        warnings.warn(note.replace("no row is marked best", "the figure does not rank them"), ReportWarning,
                      stacklevel=user_level())
    if note:
        subtitle(fig, "scored on different test sets: the accuracies do not compare")
    smoke = sum(smoke_run(r) for r in runs)
    if smoke:
        subtitle(fig, "--quick smoke runs: their figures are no result" if smoke == len(runs) else
                  f"{smoke} of {len(runs)} runs the size of a --quick smoke run")
    if (scored := scored_test_images([r for r in runs if r.status in RESULT_STATUSES])) is not None:  # a test line drawn
        subtitle(fig, f"test accuracy on part of the test set: {scored}")
    return fig


def figure_for(kind: str, store: RunStore | str | os.PathLike[str], target: str | Sequence[str], **options: Any) -> Figure:
    """Draw figure `kind` (one of FIGURE_KINDS) for a run id, experiment name or file in `store`
    (a :class:`~mnistlab.store.RunStore` or its folder; or, for ``compare``, ``params``, ``time``
    and ``history``, a list of chosen run ids): the figure of :func:`draw`, which takes the same
    ``options`` and says which model it drew.

    >>> figure_for("history", RunStore(), "seed000").savefig("history.png")                   # doctest: +SKIP
    >>> figure_for("feature-maps", RunStore(), "3f2a", images=[0, 23, 28], filter_index=1)  # doctest: +SKIP
    """
    if not isinstance(store, RunStore):  # a folder, as compare() and load_trained() take (helper-237: an AttributeError)
        with RunStore(store, create=False) as opened:
            return draw(kind, opened, target, **options).figure
    return draw(kind, store, target, **options).figure


@dataclass(frozen=True)
class Drawing:
    """A figure of recorded runs (:func:`draw`) and, for a figure of one model, which model it drew:
    ``"run 3f2a9c01de (seed 1), the best of 2 runs of variant cnn by test accuracy, ..."`` or a
    committee's members (`mnistlab plot` says it beside the file); None for the figures of several
    runs or of the data."""

    figure: Figure
    drawn: str | None = None


# long: one branch a kind of figure, each a few lines; its choices read best in one place
def draw(kind: str, store: RunStore, target: str | Sequence[str], *, variant: str | Sequence[str] | None = None,
         data_dir: str | os.PathLike | None = None, index: int = 0, images: Sequence[int] | None = None,
         filter_index: int | None = 0, layers: int | None = 4, max_images: int = 25, rows: int = 5, cols: int = 5,
         split: str = "train", quick: bool = False, each_seed: bool = False, normalize: str | None = None) -> Drawing:
    """Draw figure `kind` (one of FIGURE_KINDS) for a run id, experiment name or file in `store`
    (or, for ``compare``, ``params``, ``time`` and ``history``, a list of chosen run ids), with
    which model it drew (:class:`Drawing`; the run is chosen once, so the words name the run drawn).

    ``history`` draws every current run of the experiment (or of ``variant``, or a committee's
    members), and ``compare``, ``params`` and ``time`` every variant's row; ``variant`` may name
    several for these four (the rows' best marks are then those of the variants drawn). Figures
    of one model (``misclassified``, ``confusion``, ``per-class``,
    ``feature-maps``, ``filters``) draw the run `mnistlab predict` would use (a run id, or the
    variant's best run; a committee's averaged outputs), so an experiment of several variants
    needs ``variant`` (StoreError naming them otherwise). ``feature-maps`` takes at most
    :data:`MAX_FEATURE_IMAGES` ``images`` (PlotError; None: :func:`feature_images`' choice of three
    test images of three classes). ``quick``: an experiment file's ``--quick``
    smoke runs (SpecError without a file). ``history`` of several variants draws each variant's
    runs as one curve, their mean in a band of +- one sd (:func:`seed_curves`), or with
    ``each_seed`` each run's; ``confusion`` in shares of each row, column or the whole with
    ``normalize`` (:func:`~mnistlab.plots.plot_confusion_matrix`); at most :data:`MAX_CURVES` curves, and warns
    (:class:`~mnistlab.errors.ReportWarning`) of those it leaves out.

    >>> draw("confusion", RunStore(), "seed000", variant="cnn").drawn   # doctest: +SKIP
    'run 3f2a9c01de (seed 1), the best of 2 runs of variant cnn by test accuracy, ...'
    """
    check_kind(kind)
    if not isinstance(target, str):  # chosen runs (several run ids): `compare ID1 ID2 ...`'s rows, or their curves
        return Drawing(_chosen_runs_figure(kind, store, list(target)))
    if kind in SEARCH_FIGURES:
        ref = resolve_experiment(store, target, quick=quick)
        return Drawing(search_figure(kind, store, ref.recorded_as(quick=quick), store.runs(experiment=ref.recorded_as(
            quick=quick))))
    variants = [] if variant is None else [variant] if isinstance(variant, str) else list(dict.fromkeys(variant))
    if kind in _TABLE_FIGURES:  # a run id: its experiment
        ref = resolve_experiment(store, target, quick=quick)
        table = compare_experiment(store, ref, quick=quick)
        table = only_variants(table, variants, ref.name, ref=ref, quick=quick) if variants else table
        return Drawing(across_test_sets(_TABLE_FIGURES[kind](table), rows_runs(store, ref.recorded_as(quick=quick), table)))
    if len(variants) > 1:
        if kind != "history":
            raise PlotError(f"{kind} draws one {'dataset' if kind in ('samples', 'image') else 'model'}: give one "
                            f"--variant, not {len(variants)}")
        curves = _in_table_order(store, target, [r for v in variants for r in _runs_or_members(store, target, v, quick)[0]],
                                 quick)
        return Drawing(across_test_sets(_curves_named(plot_history(_curves_of(curves, each_seed)), curves), curves))
    variant = variants[0] if variants else None
    if kind in ("history", "samples", "image"):
        records, committee = _runs_or_members(store, target, variant, quick)
        if kind == "history":  # (an experiment's runs may be on several datasets: `train`'s, helper-129)
            records = _in_table_order(store, target, records, quick)
            curves = _curves_of(records, each_seed or committee is not None)  # (a committee's members: each its own)
            return Drawing(across_test_sets(_curves_named(plot_history(curves), records, committee), records))
        ds = _dataset_of(records[0], data_dir)
        fig = _data_figure(kind, ds, split, index, rows, cols)
        subtitle(fig, f"{dataset_label((records[0].config or {}).get('dataset', ds.info.name))}, {split} set")
        return Drawing(fig)  # which dataset: an experiment may train on several (helper-114)
    if kind == "feature-maps" and images is not None:
        check_feature_images(images)
    record, averaged, drawn = _one_model(store, target, variant, kind, quick)
    if kind in ("misclassified", "confusion", "per-class"):
        fig = _predictions_figure(kind, store, record, averaged, data_dir, max_images, normalize)
        # a committee across variants by its name, not its first member's variant (helper-129)
        return Drawing(_named(fig, record, (variant or str(record.variant)) if averaged is not None else None), drawn)
    model = store.load_model(record.run_id)
    if (now := named_as_now(store, target, variant, record, quick)) is not None:  # the file's names, not the record's
        model.spec = ModelSpec.from_dict(now)
    try:
        if kind == "filters":
            return Drawing(_model_of_unfinished(_named(plot_filters(model), record), record), drawn)
        ds = _dataset_of(record, data_dir)
        images = feature_images(ds.test_labels) if images is None else images
        images = images[:1] if filter_index is None else images  # every filter: of one image
        for i in images:
            _check_index(i, len(ds.test_images), "test")
        row_labels = _feature_rows(store, record, ds, images)
        fig = plot_feature_maps(model, np.asarray(ds.test_images[list(images)]), filter_index, layers, labels=row_labels,
                                warn=False)  # (`plot --layers` is at most that many, its default 4 of any model)
    except PlotError as exc:  # whose model (helper-146: "the model has no convolution ..." named none)
        if not str(exc).startswith("the model "):
            raise
        raise PlotError(f"the model of variant {record.variant} (run {record.run_id}){str(exc).removeprefix('the model')}"
                        ) from None
    return Drawing(_model_of_unfinished(_named(fig, record), record), drawn)


def _model_of_unfinished(fig: Figure, record: RunRecord, *, predictions: bool = False) -> Figure:
    """``fig``, a figure of ``record``'s model (``predictions``: of its test predictions), saying in its
    title (and a ReportWarning) when the run did not finish (helper-226: feature maps of an
    interrupted run said nothing, where its test figures said it)."""
    if unfinished := unfinished_note(record):
        warnings.warn(f"run {record.run_id} " + (unfinished if predictions else f"{unfinished.split(':')[0]}: its weights "
                                                 "are those at the stop"), ReportWarning, stacklevel=user_level())
        subtitle(fig, f"run {unfinished.split(':')[0].removeprefix('was ')}: the weights at the stop")  # "ended diverged ..."
    return fig


def _curves_of(records: Sequence[RunRecord], each_seed: bool) -> list[Any]:
    """What a history plot of ``records`` draws: one curve per variant over its seeds
    (:func:`seed_curves`) where there are several variants, some of several runs, and not
    ``each_seed``; else each run's (:func:`readable_curves`)."""
    variants = {str(r.variant) for r in records}
    if not each_seed and 1 < len(variants) < len(records):
        return seed_curves(records)
    return history_runs(readable_curves(records))


def _in_table_order(store: RunStore, target: str, records: Sequence[RunRecord], quick: bool) -> list[RunRecord]:
    """``records`` (of ``target``'s experiment, in start order) with their variants in the order of
    its comparison's rows (:func:`~mnistlab.comparison.variant_order`; helper-142: `plot history`
    drew a variant recorded last, from its twin's run, last, and its first 10 variants were the
    first 10 recorded). A run id's own records stay as they are."""
    ref = resolve_experiment(store, target, quick=quick)
    if ref.run is not None:
        return list(records)
    order = {v: i for i, v in enumerate(variant_order(store, ref, quick=quick))}
    return sorted(records, key=lambda r: order.get(str(r.variant), len(order)))  # stable: within a variant, start order


def _curves_named(fig: Figure, records: Sequence[RunRecord], committee: str | None = None) -> Figure:
    """``fig``, the curves of ``records``, titled with what they are of, as a figure of one model is
    (:func:`_named`): their experiment, their variant when they share one (or the ``committee``
    across variants whose members they are), and their dataset(s) (helper-129: a history PNG named
    none of them)."""
    def listed(values: Sequence[str]) -> str:
        return ", ".join(dict.fromkeys(values))

    variants = listed([str(r.variant) for r in records])
    words = [listed([r.experiment for r in records])] + ([f"committee {committee}"] if committee else [variants] if len(
        {r.variant for r in records}) == 1 else [])
    subtitle(fig, ", ".join(words + [listed([dataset_label((r.config or {}).get("dataset", "?")) for r in records])]))
    return fig


def _named(fig: Figure, record: RunRecord, committee: str | None = None) -> Figure:
    """``fig``, a figure of one model, titled with what it is of: the PNG alone names its run (or
    ``committee``, by its name, ``record`` one of its members), variant, experiment and dataset, and a
    --quick smoke run as one (helper-114)."""
    from mnistlab.comparison import smoke_run

    who = f"committee {committee}" if committee else f"run {record.run_id}, {record.variant}"
    dataset = dataset_label((record.config or {}).get("dataset", "?"))
    subtitle(fig, f"{who}, {record.experiment}, {dataset}"
              + (", the size of a --quick smoke run" if smoke_run(record) else ""))
    return fig


def _predictions_figure(kind: str, store: RunStore, record: RunRecord, averaged: np.ndarray | None,
                        data_dir: str | os.PathLike | None, max_images: int, normalize: str | None = None) -> Figure:
    """``kind`` of the test predictions of ``record``'s run, or of a committee's ``averaged`` ones; a
    run that did not finish is said to (a ReportWarning, and the figure's title)."""
    ds, test_images, true, probs = run_predictions(store, record, data_dir)
    who = f"run {record.run_id}" if averaged is None else f"the committee of run {record.run_id}"
    fig = _prediction_figure(kind, who, ds, test_images, true, probs if averaged is None else averaged, max_images,
                             normalize)
    return fig if averaged is not None else _model_of_unfinished(fig, record, predictions=True)


def unfinished_note(record: RunRecord) -> str:
    """What a run's test figures are when it did not finish (``"was interrupted after 3 of 10
    epochs: its test predictions are those of the weights at the stop, not a result"``); '' for a
    finished run."""
    if record.status == "finished":
        return ""
    how = f"was {record.status}" if record.status in ("interrupted", "running") else f"ended {record.status}"
    return (f"{how} after {epochs_trained(record)}: its test predictions are those of the weights at the stop, "
            "not a result")


def subtitle(fig: Figure, words: str) -> None:
    """Add ``(words)`` to the figure's title: its suptitle where it has one, else its first axes' title
    (:func:`_fitted_title`); a grid of titled images without one gets ``words`` as its title. Wrapped
    to the figure's width (helper-121: a 3-class confusion matrix cut its title at both ends)."""
    import textwrap

    suptitle = getattr(fig, "_suptitle", None)  # Figure.get_suptitle() is matplotlib >= 3.8's
    title = suptitle.get_text() if suptitle is not None else ""
    wrapped = textwrap.fill(words, width=_title_width(fig), break_long_words=False)  # (10 pt: ~12 characters an inch)
    if title:  # the title wrapped too (helper-136: a 2-column feature-map grid cut its own at both ends)
        title = "\n".join(textwrap.fill(line, width=_title_width(fig), break_long_words=False) for line in title.splitlines())
        fig.suptitle(f"{title}\n({wrapped})", fontsize=10)
    elif sum(bool(ax.get_title()) for ax in fig.axes) > 1:  # a grid of images, each titled: the words over them all,
        fig.suptitle(wrapped, fontsize=10)  # the title itself (helper-121: a title of only a parenthesis)
    elif fig.axes:  # one plot (a colour bar beside it has no title)
        _fitted_title(fig, fig.axes[0], words)


def _title_width(fig: Figure) -> int:
    """The characters a line of ``fig``'s title words starts at: about 12 an inch, at least 24."""
    return max(24, int(fig.get_figwidth() * 12))


def _fitted_title(fig: Figure, ax: Any, words: str) -> None:
    """``(words)`` under ``ax``'s title, which is centred on the figure where its axes sits off to one
    side (a 3-class confusion matrix's), and wrapped narrower until it fits inside the figure: laid
    out once a try, to measure it (the layout without drawing: helper-196, a report's drawings twice
    over were a quarter of its time)."""
    import textwrap

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    head, text, start = ax.get_title(), " ".join(words.split()), _title_width(fig)
    narrowest = max(12, *(len(w) for w in text.split()))  # a path is one word: no line is narrower (helper-122)
    height = fig.get_figheight()
    canvas = FigureCanvasAgg(fig)  # (a file is then saved through its own format's canvas)
    for width in [*range(start, narrowest - 1, -4), start]:  # none fits: the first, as before
        said = "(" + textwrap.fill(text, width=width, break_long_words=False) + ")"
        ax.set_title(f"{head}\n{said}" if head else said)
        fig.set_figheight(height + 0.2 * said.count("\n"))  # the plot keeps its room under the added lines
        with quiet_fonts():  # measured as it is saved: no findfont lines from a stale font cache
            fig.draw_without_rendering()
        axes = ax.get_window_extent()
        ax.title.set_x((fig.bbox.width / 2 - axes.x0) / axes.width)  # over the figure's middle
        box = ax.title.get_window_extent(canvas.get_renderer())
        if box.x0 >= fig.bbox.x0 and box.x1 <= fig.bbox.x1:
            return


def _prediction_figure(kind: str, who: str, ds: Dataset, test_images: np.ndarray, true: np.ndarray,
                       probs: np.ndarray, max_images: int, normalize: str | None = None) -> Figure:
    """The misclassified images, confusion matrix or per-class accuracy of test softmax outputs
    ``probs`` (of ``who``: a run or a committee, for the messages)."""
    names = ds.info.class_names
    test_images, true, probs, kept, note = with_predictions(who, test_images, true, probs)
    if note:
        warnings.warn(note, ReportWarning, stacklevel=user_level())
    pred = probs.argmax(1)
    if kind == "misclassified":
        wrong = misclassified(probs, true)  # the most confident mistakes first
        fig = plot_misclassified(test_images[wrong], true[wrong], pred[wrong], names, max_images,
                                 confidence=probs.max(1)[wrong], index=kept[wrong])  # (test indices, review)
        shown = min(max_images, len(wrong))  # helper-129: 25 images, of how many, in what order
        said = (f"the {shown} most confident of its {len(wrong):,} errors" if shown < len(wrong) else
                f"its {len(wrong):,} error{'s' * (len(wrong) != 1)}, the most confident first") if len(wrong) else ""
        under = "; under each: its test index and the predicted class's probability" if len(wrong) else ""
        subtitle(fig, f"{said}{' in ' if said else 'none in '}{len(true):,} test images{under}")
        return fig
    cm = confusion_matrix(true, pred, len(names))
    fig = plot_confusion_matrix(cm, names, normalize=normalize) if kind == "confusion" else plot_per_class_accuracy(cm,
                                                                                                              names)
    subtitle(fig, f"{len(true):,} test images, accuracy {float((pred == true).mean()):.2%}")  # helper-129: n and acc
    return fig


def _data_figure(kind: str, ds: Dataset, split: str, index: int, rows: int, cols: int) -> Figure:
    """``samples`` (a grid of ``split``'s images) or ``image`` (``split``'s image ``index``) of ``ds``."""
    if split not in ("train", "test"):
        raise PlotError(f"split must be train or test, got {split!r}")
    imgs, labels = (ds.train_images, ds.train_labels) if split == "train" else (ds.test_images, ds.test_labels)
    if kind == "samples":
        return plot_sample_grid(imgs, labels, ds.info.class_names, rows, cols)
    _check_index(index, len(imgs), split)
    return plot_image(imgs[index], f"{split} image {index}: {ds.info.class_names[int(labels[index])]}")


def _one_model(store: RunStore, target: str, variant: str | None, kind: str,
               quick: bool = False) -> tuple[RunRecord, np.ndarray | None, str]:
    """The run a figure of one model draws, chosen as `predict`, `export` and `card` choose it
    (:func:`trained_runs`: a run id, or a variant's best run), with None and how it was chosen
    (``"run 3f2a9c01de (seed 1), the best of 2 runs ..."``); for a committee, its first member's
    record, the members' averaged test outputs and ``"the committee c of 5 runs ..."``. PlotError
    for a committee's ``feature-maps`` or ``filters`` (one model's), StoreError as trained_runs."""
    ids, committee = trained_runs(store, target, variant=variant, quick=quick, diverged=True)
    if committee is None:
        record = store.get(ids[0])
        how = pick_note(store, target, record, variant=variant, quick=quick, diverged=True)
        trial = f"{record.variant}, " if "trial" in (record.metrics or {}) else ""  # (a search's: which trial)
        return record, None, f"run {record.run_id} ({trial}seed {record.seed})" + (f", {how}" if how else "")
    if kind in ("feature-maps", "filters"):
        raise PlotError(f"{committee.variant!r} is a committee of {len(ids)} models and {kind} show one: give one "
                        f"member's run id ({', '.join(ids[:4])}{', ...' * (len(ids) > 4)})")
    first = store.get(ids[0])  # a committee variant's repeats: the one drawn said, as the report says it
    alike = variant_committees(store, target, str(first.variant), quick) if first.variant == committee.variant else []
    best = f", {how}" if (how := committee_pick_note(committee, alike)) else ""  # (helper-146, helper-147)
    return (first, _averaged(store, ids), f"the committee {committee.variant} of {len(ids)} runs "
            f"({members_said([store.get(m) for m in ids])}; their averaged outputs){best}")  # which (helper-129)


def members_said(records: Sequence[RunRecord]) -> str:
    """The runs' seeds in their order: ``seed 3``, ``seeds 0, 1``, or ``seeds 10-14`` for three or
    more consecutive ones; runs of several variants (a committee across them) each with its
    variant's name, ``dense seed 0, cnn seed 0`` (helper-129: "seeds 0, 0")."""
    if len({str(r.variant) for r in records}) > 1:
        return ", ".join(f"{r.variant} seed {r.seed}" for r in records)
    seeds = [int(r.seed) for r in records]
    span = len(seeds) > 2 and seeds == list(range(seeds[0], seeds[0] + len(seeds)))
    return f"seed{'s' * (len(seeds) > 1)} " + (f"{seeds[0]}-{seeds[-1]}" if span else ", ".join(map(str, seeds)))


def _averaged(store: RunStore, ids: Sequence[str]) -> np.ndarray:
    return committee_probs([np.asarray(store.load_predictions(m)) for m in ids])


def named_as_now(store: RunStore, target: str, variant: str | None, record: RunRecord,
                 quick: bool = False) -> dict[str, Any] | None:
    """The model of ``record``'s cell as ``target``'s experiment file writes it now (``variant``, else
    the run's own), where it differs from the recorded one: only in its layers' names, as the run key
    leaves names out (helper-136: a renamed layer's figures and card showed the names it was trained
    under). None where ``target`` is no file, or the file has no such cell."""
    ref = resolve_experiment(store, target, quick=quick)
    want = variant or str(record.variant)
    recorded = (record.config or {}).get("model")
    for cell in ref.cells(quick=quick) or ():
        if cell.variant == want and cell.key == record.config_hash:
            model = cell.config.get("model")
            if not isinstance(model, dict) or not isinstance(recorded, dict):
                return None
            named = _names_from(recorded, model)  # the names alone: what training learned stays (helper-179:
            return named if named != recorded else None  # the file's Normalization, mean null, replaced the adapted one)
    return None


def _names_from(recorded: Any, written: Any) -> Any:
    """``recorded`` (a model spec as its run recorded it: a Normalization's adapted statistics
    in it) with the ``name`` fields ``written`` (the file's spec now) gives each of its tables, at
    any depth (a block's branch and shortcut too), and none where ``written`` names none (a name
    taken out since); where the two are not alike in shape, ``recorded``."""
    if isinstance(recorded, dict) and isinstance(written, dict):
        out = {k: _names_from(v, written.get(k)) for k, v in recorded.items() if k != "name"}
        if "name" in written:
            out["name"] = written["name"]
        return out
    if isinstance(recorded, list) and isinstance(written, list) and len(recorded) == len(written):
        return [_names_from(r, w) for r, w in zip(recorded, written)]
    return recorded


def _runs_or_members(store: RunStore, target: str, variant: str | None,
                     quick: bool = False) -> tuple[list[RunRecord], str | None]:
    """:func:`resolve_runs`, or, where ``variant`` names a committee across variants (``[[committees]]``),
    its members' records (their curves; a member's model for the figures of one model), or, where it
    names a ``[[variants]]`` entry with a grid of its own, the runs of every variant it expands into;
    with the committee's name in the second case, else None (the branch taken, for a figure's title:
    helper-131, it was guessed from the runs' variant names)."""
    try:
        return resolve_runs(store, target, variant, quick=quick, diverged=True), None  # a diverged run's: its diagnosis
    except StoreError as exc:
        no_such_variant = exc
    if variant is None:
        raise no_such_variant
    try:
        ids, committee = trained_runs(store, target, variant=variant, quick=quick)
    except StoreError:
        committee = None
    if committee is not None:
        return [store.get(m) for m in ids], variant
    from mnistlab.experiments import grid_family  # a [[variants]] entry with a grid of its own: its variants' runs

    ref = resolve_experiment(store, target, quick=quick)
    family = grid_family(variant, dict.fromkeys(r.variant for r in store.runs(experiment=ref.recorded_as(quick=quick))))
    if not family:
        raise no_such_variant
    return [r for name in family for r in resolve_runs(store, target, name, quick=quick, diverged=True)], None


def committee_predictions(store: RunStore, target: str, variant: str,
                          quick: bool = False) -> tuple[list[RunRecord], np.ndarray] | None:
    """(the members' records, their averaged test softmax outputs, float (N, classes)) when
    ``variant`` of ``target`` is a scored committee (:func:`trained_runs`: a committee
    variant, or a ``[[committees]]`` name), else None (a single run's variant); ``quick``: of an
    experiment file's ``--quick`` smoke runs. Reads the members' stored predictions, not their
    weights. StoreError as :func:`trained_runs`."""
    ids, committee = trained_runs(store, target, variant=variant, quick=quick)
    if committee is None:
        return None
    return [store.get(m) for m in ids], _averaged(store, ids)


def _check_index(i: int, n: int, split: str) -> None:
    if not 0 <= int(i) < n:
        raise PlotError(f"image index {i} out of range: the {split} set has {n} images (0..{n - 1})")


# --------------------------------------------------------------------------- one trained model
# "best": by test accuracy (an optimistic figure: the test set chose it); "best-val": by validation
# accuracy (chosen without the test set, helper-128); "latest": by start time
PICKS = ("best", "best-val", "latest")


def _committee_across(store: RunStore, ref: Any, target: str, name: str,
                      records: Sequence[CommitteeRecord], quick: bool = False) -> CommitteeRecord:
    """The committee across variants ``name`` as `mnistlab compare` shows it: its latest evaluation
    over the current runs (``target``'s file's cells for the variants it names, or each variant as
    last run); StoreError when no evaluation covers them."""
    current = resolve_runs(store, target, quick=quick)
    wanted = ref.file.committee_variants().get(name) if ref.file is not None else None
    if ref.file is not None and wanted is None:
        raise StoreError(f"{ref.given} has no committee named {name!r} (its [[committees]]: "
                         f"{', '.join(ref.file.committee_variants()) or 'none'}); a record of an older version of "
                         "the file is read by the experiment's name")
    if wanted is not None:
        ids = {r.run_id for r in current if r.variant in wanted}
        usable = [c for c in records if set(c.member_ids) == ids]
    else:
        ids = {r.run_id for r in current}
        usable = [c for c in records if set(c.member_ids) <= ids]
    if not usable:
        raise StoreError(f"committee {name!r} of {ref.name!r} was not scored on the current runs of its variants "
                         "(a member has not finished, or the file changed since): run the experiment again")
    return max(usable, key=lambda c: c.created_at)


def _search_pick(runs: Sequence[RunRecord], pick: str) -> RunRecord:
    """The trial of a search's ``runs`` a model is taken from: its best by its own metric (on
    validation data), or with ``pick`` "latest" the complete trial that ended last (helper-207: the
    search said "choose one with --variant"; not a pruned one, trained in part)."""
    from mnistlab.search import best_trial

    complete = [r for r in runs if r.status == "finished" and (r.metrics or {}).get("trial_state") == "complete"]
    if pick == "latest" and complete:
        return max(complete, key=lambda r: r.finished_at or r.created_at)
    return best_trial(runs)


def pick_note(store: RunStore, target: str, chosen: RunRecord | None, *, variant: str | None = None,
              pick: str = "best", quick: bool = False, diverged: bool = False) -> str | None:
    """How :func:`trained_runs` chose ``chosen`` among several runs (a model card says it): the
    best trial of a search by its own metric, or the best (by test accuracy: an optimistic figure,
    with the variant's mean and sd beside it) or latest of a variant's runs (:func:`picked_note`;
    ``quick``: among a file's ``--quick`` runs), or that it is the variant's only one; with how many
    runs of the variant's other settings were not among them (helper-133: `predict train --pick best`
    answered with a 84% run, silent on the 95% one of other flags). None for a run given by id."""
    from mnistlab.comparison import left_out, smoke_run
    from mnistlab.search import is_search

    if chosen is None or resolve_experiment(store, target, quick=quick).run is not None:
        return None
    runs = resolve_runs(store, target, variant, quick=quick, diverged=diverged)
    if variant is None and is_search(runs):
        complete = sum((r.metrics or {}).get("trial_state") == "complete" for r in runs)
        if pick == "latest":
            return f"the latest to end of {complete} complete trials of search {chosen.experiment}"
        return (f"the best of {complete} complete trials of search {chosen.experiment} by its metric, "
                f"{chosen.metrics.get('search_metric')} (on validation data)")
    note = picked_note([r for r in runs if r.variant == chosen.variant], pick) or (
        f"the only {'scored' if diverged else 'finished'} run of variant {chosen.variant} at its current settings")
    smoke = smoke_run(chosen)  # of its size: a --quick view leaves the full-size runs out, and they it
    mine = [r for r in store.runs(experiment=chosen.experiment)
            if r.variant == chosen.variant and r.config and smoke_run(r) == smoke]
    if hidden := left_out(mine, results_only=True, store=store):
        note += (f"; {hidden} run{'s' * (hidden != 1)} of its other settings not among them (`mnistlab runs -e "
                 f"{chosen.experiment}` lists them; give a run id to use one)")
    return note


def picked_note(runs: Sequence[RunRecord], pick: str = "best") -> str | None:
    """How :func:`picked_run` chose among one variant's ``runs``, with their test accuracies'
    mean, sd and n ("the best of 3 runs of variant a by test accuracy, an optimistic figure as the
    test set chose it: their mean is ..."); None for fewer than 2 runs with a result (finished or diverged)."""
    accs = [float(r.metrics["test_accuracy"]) for r in runs if r.status in RESULT_STATUSES
            and isinstance((r.metrics or {}).get("test_accuracy"), (int, float))]
    if len(accs) < 2:
        return None
    variant = runs[0].variant
    spread = _spread(accs)
    if pick == "latest":
        return f"the latest of {len(accs)} runs of variant {variant} (their test accuracy: {spread})"
    if pick == "best-val":
        return (f"the best of {len(accs)} runs of variant {variant} by validation accuracy, chosen without the test "
                f"set (their test accuracy: {spread})")
    return (f"the best of {len(accs)} runs of variant {variant} by test accuracy, an optimistic figure as the "
            f"test set chose it: their mean is {spread}")


def _spread(accs: Sequence[float]) -> str:
    """Two or more accuracies (fractions) as ``97.81% +- 0.09 (n=3)``: the mean and the sample sd
    (:func:`mnistlab.stats.mean_sd`) in percent."""
    from mnistlab.stats import mean_sd

    mean, sd = mean_sd(accs)
    return f"{100 * mean:.2f}% +- {100 * (sd or 0.0):.2f} (n={len(accs)})"


def variant_committees(store: RunStore, target: str, variant: str, quick: bool = False) -> list[CommitteeRecord]:
    """The scored committees of committee variant ``variant`` of ``target`` that its table row
    counts (:func:`~mnistlab.comparison.counted_committees`): one per repeat, of its current runs at
    this size (``quick``: its --quick smoke runs'), neither an older setting's nor the other size's
    (helper-146, helper-148: each view counted them its own way). StoreError as :func:`resolve_runs`."""
    from mnistlab.comparison import counted_committees

    runs = resolve_runs(store, target, variant, quick=quick, diverged=True)
    name = runs[0].experiment if runs else variant
    return counted_committees([c for c in store.committees(name) if c.variant == variant], runs)


def committee_pick_note(chosen: CommitteeRecord, among: Sequence[CommitteeRecord], pick: str = "best") -> str | None:
    """How :func:`trained_runs` chose the committee ``chosen`` among its variant's committees
    ``among`` (:func:`variant_committees`), with their test accuracies' mean, sd and n, as
    :func:`picked_note` says it of runs; None where it is the only one."""
    accs = [float(c.accuracy) for c in among]
    if len(accs) < 2:
        return None
    spread = _spread(accs)
    of = f"{len(accs)} committees of {len(chosen.member_ids)} of variant {chosen.variant}"
    if pick == "latest":
        return f"the latest of {of} (their test accuracy: {spread})"
    if pick == "best-val":
        return f"the best of {of} by validation accuracy, chosen without the test set (their test accuracy: {spread})"
    return f"the best of {of} by test accuracy, an optimistic figure as the test set chose it: their mean is {spread}"


def trained_runs(store: RunStore, target: str, *, variant: str | None = None, pick: str = "best", quick: bool = False,
                 diverged: bool = False) -> tuple[list[str], CommitteeRecord | None]:
    """Which recorded runs ``target`` names as one trained model: ([run id], None) for a single
    run, or (the members' run ids, their committee's record) for a committee; nothing is loaded.

    ``target`` is read as every command reads it (:func:`~mnistlab.comparison.resolve_experiment`):
    a run id (or unique prefix) is that run; an experiment file or name, narrowed to one
    ``variant`` when it has several (:func:`resolve_runs`), is that variant's
    ``pick``: its "best" finished run by test accuracy, "best-val" by validation accuracy, or its "latest" (a search without
    ``variant``: its best complete trial by the search's own metric, for "best"); a committee variant is its
    best (or latest) scored committee of the most members, and ``variant`` may also name a
    committee across variants (an experiment's ``[[committees]]``: its latest evaluation over the
    current runs, whatever ``pick``). ``quick``: of an experiment file's ``--quick`` smoke runs
    (:func:`resolve_runs`; ``diverged``: a diverged run too, for figures). Raises StoreError when
    nothing usable matches (or "best-val" among runs validated on the test set), SpecError for a ``pick``
    other than "best" with a run id (one run: nothing to pick from).
    """
    from mnistlab.search import is_search

    if pick not in PICKS:
        raise SpecError(f"pick must be one of {', '.join(PICKS)}, got {pick!r}")
    ref = resolve_experiment(store, target, quick=quick)
    name = ref.recorded_as(quick=quick)
    if ref.run is None and variant is not None:  # a committee across variants ([[committees]]) by its name
        across = [c for c in store.committees(name) if c.variant == variant]
        in_file = ref.file is not None and variant in ref.file.committee_variants()
        if (across or in_file) and all(r.variant != variant for r in store.runs(experiment=name)):
            whole = _committee_across(store, ref, target, variant, across, quick)
            return list(whole.member_ids), whole
    runs = resolve_runs(store, target, variant, quick=quick, diverged=diverged)  # a run id: that run (its --variant agreeing)
    if ref.run is not None:
        if pick != "best":  # a run id names one run: nothing to pick from (said, not ignored)
            raise SpecError(f"--pick {pick} picks among an experiment's runs, and {target} is run {ref.run.run_id}: "
                            f"give its experiment ({ref.run.experiment}) instead, or leave --pick out")
        return [ref.run.run_id], None
    variants = list(dict.fromkeys(str(r.variant) for r in runs))
    if len(variants) > 1 and variant is None and is_search(runs):  # a search: one of its trials
        return [_search_pick(runs, pick).run_id], None
    if len(variants) > 1:
        named = sorted({c.variant for c in store.committees(name)} - set(variants))  # [[committees]]
        raise StoreError(f"experiment {name!r} has {len(variants)} variants: choose one with --variant; "
                         f"variants: {', '.join(variants)}" + (f"; committees: {', '.join(named)}" if named else ""))
    committees = _scored_committees(store, name, variants[0], runs, ref.name)
    if pick == "best-val":
        _refuse_test_as_validation(runs)
    if committees:  # the whole committee, not a --quick smoke committee of its first members
        if pick == "best-val" and any(c.val_accuracy is None for c in committees):
            raise StoreError(f"--pick best-val chooses on validation, and variant {variants[0]}'s committees were "
                             "not scored on any (their members held out no shared validation images): --pick best "
                             "or latest")
        best = max(committees, key=lambda c: (len(c.member_ids), c.accuracy if pick == "best" else c.val_accuracy
                                              if pick == "best-val" else c.created_at))
        return list(best.member_ids), best
    if any(r.member > 0 for r in runs):
        raise StoreError(f"variant {variants[0]!r} of {ref.name!r} is a committee that was never scored whole "
                         "(a member did not finish): give one member's run id instead")
    return [picked_run(runs, pick).run_id], None


def _scored_committees(store: RunStore, name: str, variant: str, runs: Sequence[RunRecord],
                       said: str) -> list[CommitteeRecord]:
    """The committee records of ``variant`` of experiment ``name`` whose members are all among
    ``runs`` and were scored on one test set; StoreError where every such record's members were
    scored on different ones (helper-217: an old store's committee of the user's own data, each
    member's test images held out with its own seed, 50.62% beside members of 67.50% and 69.38%)."""
    from mnistlab.comparison import on_one_test_set, test_sets

    ids = {r.run_id for r in runs}
    recorded = [c for c in store.committees(name) if c.variant == variant and set(c.member_ids) <= ids]
    sets = test_sets(runs)
    kept = [c for c in recorded if on_one_test_set(c, sets)]
    if recorded and not kept:
        raise StoreError(f"variant {variant!r} of {said!r}: its committee's members were scored on different "
                         "test sets (held out with each member's seed, as mnistlab did before 2026-12-02), so it is "
                         "no model to score as one: give one member's run id, or train the variant again")
    return kept


def _refuse_test_as_validation(runs: Sequence[RunRecord]) -> None:
    """StoreError where ``runs`` validated on the test set (``data.validation = "test"``, seed 003's
    way, or validation_data that was it): choosing on it is choosing on the test set (helper-131:
    --pick best-val called that "chosen without the test set")."""
    if any(validated_on_test(r) for r in runs):
        raise StoreError(f"--pick best-val chooses on validation, and the runs of variant {runs[0].variant!r} validated "
                         "on the test set (data.validation = \"test\"): that is choosing on the test set, as the "
                         "default pick, by test accuracy, does and says")


def picked_run(runs: Sequence[RunRecord], pick: str = "best") -> RunRecord:
    """The run ``pick`` chooses among one variant's ``runs`` (not empty): the "best" by test
    accuracy or the "best-val" by validation accuracy (the latest of equals; runs without one
    last), or the "latest" by start time. StoreError for "best-val" among runs of which none
    recorded a validation accuracy."""
    def acc(r: RunRecord, key: str) -> float:
        value = (r.metrics or {}).get(key)
        return float(value) if isinstance(value, (int, float)) else -1.0

    if pick == "latest":
        return max(runs, key=lambda r: r.created_at)
    key = "val_accuracy" if pick == "best-val" else "test_accuracy"
    if key == "val_accuracy" and all(acc(r, key) < 0 for r in runs):
        raise StoreError(f"--pick best-val chooses on validation, and the runs of variant {runs[0].variant!r} held out "
                         "no validation images (data.validation): --pick best or latest")
    return max(runs, key=lambda r: (acc(r, key), r.created_at))
