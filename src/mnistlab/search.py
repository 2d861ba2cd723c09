"""Search: a ``[search]`` table turns an experiment into an Optuna study whose trials are runs in the store.

An experiment file with a search::

    [base]                                   # the run every trial starts from (needs a validation split)
    dataset = "mnist"
    model = { conv = [32], pool = [true], dense = [64] }
    data = { validation = 0.1 }
    train = { epochs = 5 }

    [search]
    "train.lr" = { log_uniform = [1e-4, 1e-1] }
    "train.batch_size" = { int = [32, 256], step = 32 }    # optional step (default 1) and log (default false)
    "model.dropout" = { uniform = [0.0, 0.5] }              # optional step
    "model.conv" = { choice = [[16], [32], [64]] }
    "train.optimizer" = { choice = ["adam", "sgd"] }
    "train.momentum" = { uniform = [0.0, 0.95], when = { "train.optimizer" = "sgd" } }   # asked where it holds
    metric = "val_accuracy"      # any logged key; default val_accuracy
    direction = "maximize"       # default: maximize, or minimize for a *loss metric
    trials = 20                  # default 20 (a grid: at most its size)
    sampler = "tpe"              # tpe (default) | random | grid (choices and stepped ranges; each point once, in order),
                                 # or a table with TPESampler's options: { type = "tpe", n_startup_trials = 5,
                                 # multivariate = true, group = true, constant_liar = true, n_ei_candidates = 24 }
    pruner = "median"            # median (default; none for a grid) | hyperband | successive_halving | none, or a table
                                 # with Optuna's options: { type = "median", n_startup_trials = 2 }
    seed = 0                     # the sampler's seed (default 0)
    timeout = 3600               # optional: seconds after which no trial is asked (Optuna's timeout)

:func:`parse_search` validates the table where the experiment file is read (every trial's value
at each end of its range is parsed as a run config), so bad input is a one-line SpecError before
anything trains. :func:`run_search` runs the study: each trial is a run in the store named
``trial-0007`` whose metrics hold ``trial``, ``trial_state`` (complete / pruned / failed),
``search_metric``, ``search_value`` and ``trial_params``. The study lives in Optuna's RDB storage,
``search.sqlite`` in the store folder, so a killed search resumes where it stopped: trials left
running by a dead driver are failed and asked again with the same parameters. The study records
its table's :func:`space_fingerprint`; a rerun whose ranges, choices, metric, direction, sampler or
seed changed is refused (a new experiment name starts a new study).

A trial's value is its last epoch's ``metric`` (the model the run keeps). Pruning: the monitored
metric is reported to Optuna at each epoch end and a trial the pruner stops ends there, its history
recorded (store status ``finished``, trial state ``pruned``).

Where trials train: this process, ``jobs`` spawned processes (:class:`LocalTrials`, which report
to the study's storage themselves), or Ray tasks (:class:`mnistlab.backends.RayTrials`: the driver
keeps the study and the store, and answers each epoch's pruning question for the worker). One
ask / train / tell loop, :func:`run_search`, drives all of them.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import itertools
import json
import logging
import math
import multiprocessing
import os
import re
import shutil
import socket
import sqlite3
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnistlab.callbacks import Callback, Logs, check_monitor
from mnistlab.errors import (CheckpointError, MnistlabError, SpecError, SpecWarning, StoreError, did_you_mean, first_line,
                             show, unknown_key, user_level)
from mnistlab.experiments import base_value
from mnistlab.keypaths import key_path, slices_alone, written_key
from mnistlab.files import stop_signals_held, write_atomic

if TYPE_CHECKING:
    from mnistlab.store import Removal

SETTINGS = ("metric", "direction", "trials", "sampler", "pruner", "seed", "timeout")
DISTRIBUTIONS = ("uniform", "log_uniform", "int", "choice")
# Optuna's words for them (suggest_categorical, suggest_float(log=True), its old distributions), each
# answered with mnistlab's: a user who knows Optuna writes these first
_OPTUNA_NAMES = {"categorical": ' (Optuna\'s suggest_categorical: write choice = [...])',
                 "float": " (Optuna's suggest_float: write uniform = [low, high], or log_uniform for log = true)",
                 "loguniform": ' (did you mean "log_uniform"?)', "integer": ' (did you mean "int"?)',
                 "discreteuniform": " (Optuna's discrete_uniform: write uniform = [low, high] with step = q)",
                 "intuniform": ' (did you mean "int"?)'}
# Keras Tuner's words (hp.Int/hp.Float's arguments, hp.Boolean, the tuner's settings), each answered
# with mnistlab's (helper-243: a Keras Tuner user wrote these and got no hint)
_KERAS_TUNER_DISTRIBUTIONS = {
    "minvalue": " (Keras Tuner's hp.Int/hp.Float(min_value, max_value): write int = [min, max] or uniform = [min, max])",
    "maxvalue": " (Keras Tuner's hp.Int/hp.Float(min_value, max_value): write int = [min, max] or uniform = [min, max])",
    "boolean": " (Keras Tuner's hp.Boolean: write choice = [true, false])",
    "values": " (Keras Tuner's hp.Choice(values): write choice = [...])",
    "fixed": " (Keras Tuner's hp.Fixed: set the value in [base], not in [search])"}
_KERAS_TUNER_KEYS = {  # a stray key beside a known distribution: {key: (hint for uniform, for int)}
    "sampling": (" (Keras Tuner's sampling = \"log\": write log_uniform = [low, high])",
                 " (Keras Tuner's sampling = \"log\": write log = true)"),
    "default": (" (Keras Tuner's default: Optuna's samplers take none; the base's value is what a plain run trains)",) * 2}
_KERAS_TUNER_SETTINGS = {
    "objective": 'Keras Tuner\'s objective is metric here: metric = "val_accuracy" (or "val_loss"; the direction '
                 "follows it)",
    "max_trials": "Keras Tuner's max_trials is trials here: trials = 20",
    "metrics": 'the figure to rank by is metric = "val_accuracy" (one, a string)',
    "executions_per_trial": "a trial trains one run: search on one seed, then train the best trial over seeds with "
                            "repeats (mnistlab search-best writes it), as a noise check of the winner",
    "overwrite": "to start a search afresh, delete its runs and study: mnistlab rm -e NAME"}
OPTIONS = {"uniform": ("step",), "log_uniform": (), "int": ("step", "log"), "choice": ()}
SAMPLERS = ("tpe", "random", "grid")
#: Each sampler's options a ``sampler = { type = ..., ... }`` table may set (Optuna's names): (lowest,
#: highest) of a whole number, (None, None) of a switch; Optuna's defaults where unset.
SAMPLER_OPTIONS: dict[str, dict[str, tuple[int | None, int | None]]] = {
    "tpe": {"n_startup_trials": (0, 10_000), "n_ei_candidates": (1, 10_000), "multivariate": (None, None),
            "group": (None, None), "constant_liar": (None, None)},
    "random": {}, "grid": {},
}
PRUNERS = ("median", "hyperband", "successive_halving", "none")
#: Each pruner's options a ``pruner = { type = ..., ... }`` table may set (Optuna's names; every one a
#: whole number of trials, epochs or a factor): (lowest, highest, mnistlab's default).
PRUNER_OPTIONS: dict[str, dict[str, tuple[int, int, int]]] = {
    "median": {"n_startup_trials": (0, 10_000, 4), "n_warmup_steps": (0, 10_000, 0), "interval_steps": (1, 10_000, 1)},
    "hyperband": {"min_resource": (1, 10_000, 1), "reduction_factor": (2, 100, 3)},
    "successive_halving": {"min_resource": (1, 10_000, 1), "reduction_factor": (2, 100, 3),
                           "min_early_stopping_rate": (0, 100, 0)},
    "none": {},
}
DIRECTIONS = ("maximize", "minimize")
STATES = ("complete", "pruned", "failed", "interrupted")  # a recorded trial's; interrupted: asked again, continuing
MAX_TRIALS = 10_000
DEFAULT_TRIALS = 20
STUDY_FILE = "search.sqlite"
STUDY_FILE_FIX = ("move it aside to start every search of this store afresh (their runs stay in the run store; "
                  "`mnistlab rm -e NAME` deletes a search's runs before it starts again)")
QUICK_TRIALS = 4
_FINGERPRINT = "mnistlab:space"  # study user attr: space_fingerprint of the [search] table that drew its trials
_BASE = "mnistlab:base"  # study user attr: base_setting of the [base] its trials trained on
_WRITTEN = "mnistlab:base-written"  # study user attr: written_setting, the [base] as its file wrote it
_KILLED = "mnistlab:killed"  # system attr of a trial failed because its driver died (it is asked again)
_CONTINUES = "continues_trial"  # user attr of a trial asked again: the stopped trial whose checkpoint it continues


# ------------------------------------------------------------------------------------ spec
@dataclass(frozen=True)
class Param:
    """One searched setting: a dotted config key and its distribution.

    ``kind``: uniform | log_uniform | int | choice. ``low``/``high`` bound the ranges (inclusive);
    ``step`` (uniform, int) and ``log`` (int) as Optuna's ``suggest_float`` / ``suggest_int`` take them;
    ``choices`` the values of a choice (any TOML value).
    """

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    written: str = field(default="", compare=False)  # the key as the file writes it (layers[-1]), for messages
    #: a conditional param's conditions: ((searched choice key, its values that ask this param), ...);
    #: a trial where one does not hold leaves the param unasked, the base's value (Optuna's define-by-run
    #: ``if``, Keras Tuner's ``conditional_scope``). Parsed with the keys as written; parse_search makes them the study's.
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def corners(self) -> list[Any]:
        """The values a config must accept for every trial to be valid: both ends, or every choice."""
        if self.kind == "choice":
            return list(self.choices)
        return [int(self.low), int(self.high)] if self.kind == "int" else [float(self.low), float(self.high)]

    def grid_values(self) -> list[Any]:
        """The values a grid search tries (choices and stepped ranges only)."""
        if self.kind == "choice":
            return list(self.choices)
        step = self.step or 1
        n = int(math.floor((self.high - self.low) / step + 1e-9)) + 1
        vals = [self.low + i * step for i in range(n)]
        return [int(v) for v in vals] if self.kind == "int" else [self.rounded(v) for v in vals]

    def rounded(self, value: float) -> float:
        """A stepped uniform value to the decimals of its low and step (``0.03560000000000001`` -> ``0.0356``)."""
        if self.step is None:
            return float(value)
        return round(float(value), max(_decimals(self.low), _decimals(self.step)))


@dataclass(frozen=True)
class SearchSpace:
    """A parsed ``[search]`` table (see the module docstring for each setting and its default)."""

    params: tuple[Param, ...]
    metric: str = "val_accuracy"
    direction: str = "maximize"
    trials: int = DEFAULT_TRIALS
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int = 0
    pruner_options: tuple[tuple[str, int], ...] = ()  # a pruner table's options ((name, value), ...)
    #: seconds after which a run of the search asks no new trial (those training finish; Optuna's
    #: ``optimize(timeout=...)``); the next run goes on. None: until ``trials``. Not part of the study.
    timeout: float | None = None
    #: a sampler table's options ((name, value), ...: :data:`SAMPLER_OPTIONS`), Optuna's keyword arguments
    sampler_options: tuple[tuple[str, Any], ...] = ()


# --------------------------------------------------------------------------------- parsing
def parse_search(table: Any, experiment: Mapping[str, Any], base: Mapping[str, Any], known: Mapping[str, Any],
                 source: str) -> SearchSpace:
    """Validate an experiment's ``[search]`` table; ``known`` is every key a variant may override.

    Raises SpecError (path ``("search", ...)``) for an unknown key or distribution, a range whose
    low is above its high, a log range touching 0, an empty choice, a grid over a continuous range,
    a search beside ``repeats``/``committee``/variants/a grid, a base without a validation split,
    or a trial value the run config refuses.
    """
    where = f"{source}: [search]"
    if not isinstance(table, Mapping):
        raise SpecError(f"{where}: must be a table, got {show(table)}", path=("search",), source=source)
    for other in ("repeats", "committee", "variants", "grid"):
        if other in experiment:
            raise SpecError(f"{source}: {other} cannot be used with [search]: a search trains one run per trial "
                            f"(train the best trial with repeats: `mnistlab search-best`)", path=(other,), source=source)
    settings = {k: v for k, v in table.items() if k in SETTINGS}
    params = [_param(key, spec, where, source, written) for key, written, spec in _param_items(table, known, where, source)]
    slices_alone([p.key for p in params], source, "[search]", ("search",))
    if twice := next((p.key for i, p in enumerate(params) if p.key in {q.key for q in params[:i]}), None):
        raise SpecError(f'{where}: "{written_key(key_path(twice))}" is searched twice (once by position from the '
                        "end?): give its distribution once", path=("search", *key_path(twice)), source=source)
    for p in params:  # "model.layers[1]" beside "model.layers[1].kernel_regularizer.l2", as a variant refuses it
        whole = key_path(p.key)
        if inner := next((q for q in params if len(key_path(q.key)) > len(whole)
                          and key_path(q.key)[:len(whole)] == whole), None):
            raise SpecError(f'{where}: "{p.written or p.key}" searches a value whole and "{inner.written or inner.key}" a '
                            "key inside it: a trial would set both; search the inside keys alone, or the whole value",
                            path=("search", *key_path(p.written or p.key)), source=source)
    if not params:
        raise SpecError(f"{where}: no setting to search: add one, e.g. \"train.lr\" = {{ log_uniform = [1e-4, 1e-1] }}",
                        path=("search",), source=source)
    params = _conditioned(params, where, source)
    space = _settings(settings, tuple(params), base, where, source)
    _check_trial_configs(space, base, source)
    _unasked_settings_said(space, where)
    for p in params:  # (once the table holds no mistake: a warning beside an error is noise)
        if p.kind == "choice" and len(p.choices) == 1:  # helper-151: every trial the same, "not trained twice"
            warnings.warn(SpecWarning(f'{where}: "{p.written or p.key}": a choice of one value is no search: every trial '
                                      f"takes {json.dumps(p.choices[0], default=str)} (set it in [base])"),
                          stacklevel=user_level())
    return space


def _conditioned(params: list[Param], where: str, source: str) -> list[Param]:
    """``params`` with each ``when`` key made the study's key of the searched choice it names, listed
    before it (a trial asks its params in order); SpecError for a key not searched before it, not a
    choice, or a value that is none of its choices."""
    out: list[Param] = []
    for p in params:
        conditions = []
        for written, values in p.when:
            at = ("search", *key_path(p.written or p.key), "when")
            ref = next((q for q in out if written in (q.key, q.written) or key_path(written) == key_path(q.written or q.key)),
                       None)
            if ref is None:
                if key_path(written) == key_path(p.written or p.key) or written in (p.key, p.written):
                    raise SpecError(f'{where}: "{p.written or p.key}": when names the key itself: a condition is on '
                                    "another searched choice, listed before it", path=at, source=source)
                later = any(written in (q.key, q.written) for q in params)
                raise SpecError(f'{where}: "{p.written or p.key}": when names "{written}", '
                                + ("searched after it: list it first (a trial asks its keys in order)" if later else
                                   "which is no searched key before it: when conditions on a choice the search makes"),
                                path=at, source=source)
            if ref.kind != "choice":
                raise SpecError(f'{where}: "{p.written or p.key}": when names "{written}", a {ref.kind} range: a condition '
                                "holds on a choice's values", path=at, source=source)
            held = [json.dumps(c, sort_keys=True, default=str) for c in ref.choices]
            if wrong := [v for v in values if json.dumps(v, sort_keys=True, default=str) not in held]:
                whole = json.dumps(list(values), sort_keys=True, default=str) in held  # [64] of [[64], [64, 64]]
                raise SpecError(f'{where}: "{p.written or p.key}": when "{written}" = {show(wrong[0])}, which is none of '
                                f"its choices ({', '.join(json.dumps(c, default=str) for c in ref.choices)})" + (
                                    f" (a list is read as the values that ask it: write the choice {json.dumps(list(values))}"
                                    f" inside a list, [{json.dumps(list(values))}])" if whole else ""),
                                path=at, source=source)
            conditions.append((ref.key, values))
        out.append(dataclasses.replace(p, when=tuple(conditions)))
    return out


def holds(p: Param, values: Mapping[str, Any]) -> bool:
    """Whether a trial whose searched ``values`` (the study's keys, as Optuna keeps them or decoded) are
    these asks ``p``: each of its ``when`` keys holds one of its values."""
    def same(a: Any, b: Any) -> bool:  # (a table's keys in any order, as _conditioned compares them)
        def canonical(v: Any) -> str:
            v = json.loads(v) if isinstance(v, str) and v[:1] in "[{" else v  # Optuna keeps a list or table as JSON text
            return json.dumps(v, sort_keys=True, default=str)
        return canonical(_encode(a)) == canonical(_encode(b))

    return all(key in values and any(same(values[key], v) for v in wanted) for key, wanted in p.when)


def _unasked_settings_said(space: SearchSpace, where: str) -> None:
    """Warn of an optimizer's setting searched in every trial where the optimizers searched beside
    it include one that ignores it (helper-260: adam's trials drew a momentum, trained alike, and
    its importance was drawn): naming the ``when`` that asks it of those that take it."""
    for p in space.params:
        if (found := _optimizer_takers(p, space)) is None:
            continue
        optimizer, takers = found
        if len(takers) < len(optimizer.choices):
            ignore = [str(o) for o in optimizer.choices if o not in takers]
            hint = (f'write when = {{ "train.optimizer" = {json.dumps(takers)} }} in its table' if takers else
                    "none of them takes it: leave it out")
            warnings.warn(SpecWarning(f'{where}: "{p.written or p.key}" is asked in every trial, and '
                                      f"{', '.join(ignore)} ignore{'s' * (len(ignore) == 1)} it (their trials differ in "
                                      f"it alone, and train alike): {hint}"), stacklevel=user_level())


def _param_items(table: Mapping[str, Any], known: Mapping[str, Any], where: str, source: str,
                 prefix: tuple[str, ...] = (), as_written: tuple[str, ...] = ()) -> Iterator[tuple[str, str, Any]]:
    """(dotted key, the key as the file writes it, distribution table) of every searched setting
    (``layers.6`` written ``layers[-1]``); ``train.lr`` written as a TOML dotted key arrives as
    nested tables, so tables are walked down to the distributions."""
    for key, value in table.items():
        if not prefix and key in SETTINGS:
            continue
        path, written = (*prefix, *key_path(str(key))), (*as_written, *key_path(str(key)))
        if not prefix and str(key).lower() in _KERAS_TUNER_SETTINGS:
            raise SpecError(f'{where}: unknown key "{key}": {_KERAS_TUNER_SETTINGS[str(key).lower()]}', path=("search", key),
                            source=source)
        if path[0] not in known:
            raise unknown_key(path[0], [*SETTINGS, *known], where=where, path=("search",), source=source,
                              listing="[search] takes its settings and the base's keys")
        at, path = base_value(known, path, source, "[search]", ("search",))
        is_dist = isinstance(value, Mapping) and (not isinstance(at, Mapping)
                                                  or bool(set(value) & {*DISTRIBUTIONS, "step", "log", "when"}))
        if isinstance(value, Mapping) and not is_dist:
            yield from _param_items(value, known, where, source, path, written)
        else:
            yield ".".join(path), written_key(written), value


def _param(key: str, spec: Any, where: str, source: str, written: str) -> Param:
    """One distribution table, checked (see :func:`parse_search`); ``written``: its key as the file
    writes it, which messages quote and whose line they give."""
    path = ("search", *key_path(written))
    label = f'{where}: "{written}"'
    if key == "dataset" or key.startswith("dataset."):  # trials on other data score on other validation images
        raise SpecError(f"{label}: a search ranks its trials on one dataset's validation images, so the dataset is "
                        "not a searched key: search each dataset in a file of its own (or compare datasets with "
                        "variants in a plain experiment)", path=path, source=source)
    if key == "train.seed":  # helper-151: accepted, it ranked seeds by their luck
        raise SpecError(f"{label}: a seed is no hyperparameter: a search over it picks the luckiest seed, whose "
                        "validation score does not carry over to other seeds; `mnistlab search-best` trains the best "
                        "trial with new seeds (repeats)", path=path, source=source)
    if key in ("data.validation", "data.split", "data.split_seed", "data.test_seed"):  # helper-132: "test" ranked first, 0 failed
        raise SpecError(f"{label}: a search ranks its trials on one validation split, the same images for each, so "
                        "the split is not a searched key: set it in [base] (e.g. data = { validation = 0.1 })",
                        path=path, source=source)
    if not isinstance(spec, Mapping):
        raise SpecError(f"{label}: must be a distribution table such as {{ uniform = [0.0, 0.5] }} or "
                        f"{{ choice = [16, 32] }}, got {show(spec)}", path=path, source=source)
    when = _when(spec.get("when"), label, path, source) if "when" in spec else ()
    spec = {k: v for k, v in spec.items() if k != "when"}
    kinds = [k for k in spec if k in DISTRIBUTIONS]
    for k in spec:
        if k not in DISTRIBUTIONS and k not in ("step", "log"):
            if len(kinds) == 1:  # the distribution is known: this is a stray key beside it
                tuner = _KERAS_TUNER_KEYS.get(str(k).lower())
                if str(k).lower() == "sampling" and str(spec[k]).lower() != "log":  # "linear": what uniform is already
                    tuner = (f" (Keras Tuner's sampling = {json.dumps(spec[k])}: {kinds[0]} samples evenly already; "
                             "drop it, or write log_uniform for a log scale)",) * 2
                hint = tuner[kinds[0] == "int"] if tuner else did_you_mean(str(k), [*OPTIONS[kinds[0]], *DISTRIBUTIONS, "when"])
                raise SpecError(f'{label}: unknown key "{k}" in the distribution{hint}; {_takes(kinds[0])}', path=path,
                                source=source)
            word = str(k).lower().replace("_", "")
            hint = _OPTUNA_NAMES.get(word) or _KERAS_TUNER_DISTRIBUTIONS.get(word) or did_you_mean(str(k), DISTRIBUTIONS)
            raise SpecError(f'{label}: unknown distribution "{k}"{hint}; known: {", ".join(DISTRIBUTIONS)}',
                            path=path, source=source)
    if len(kinds) != 1:
        raise SpecError(f"{label}: give exactly one distribution ({', '.join(DISTRIBUTIONS)}), got {len(kinds)}",
                        path=path, source=source)
    kind = kinds[0]
    for k in spec:
        if k in ("step", "log") and k not in OPTIONS[kind]:
            hint = (" (Optuna's suggest_float(..., log=True): write log_uniform = [low, high])"
                    if (k, kind) == ("log", "uniform") and spec[k] is True else
                    " (log_uniform is a log scale already)" if (k, kind) == ("log", "log_uniform") else "")
            raise SpecError(f'{label}: "{k}" does not apply to {kind}{hint}', path=path, source=source)
    values = spec[kind]
    if kind == "choice":
        if not isinstance(values, list) or not values:
            raise SpecError(f"{label}: choice must be a non-empty list of values, got {show(values)}", path=path, source=source)
        seen = [json.dumps(v, sort_keys=True, default=str) for v in values]  # 1 and 1.0 alike, as TOML writes them
        if len(set(seen)) < len(seen):  # helper-132: trials of one value, each "not trained twice"
            again = next(v for i, v in enumerate(values) if seen[i] in seen[:i])
            raise SpecError(f"{label}: choice lists {json.dumps(again, default=str)} more than once: each value once" + (
                " (one value is no search: set it in [base])" if len(set(seen)) == 1 else ""), path=path, source=source)
        return Param(key, kind, choices=tuple(values), written=written, when=when)
    return dataclasses.replace(_range(key, kind, values, spec, label, path, source), written=written, when=when)


def _when(value: Any, label: str, path: tuple[str, ...], source: str) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """A distribution's ``when`` table, ``{ "train.optimizer" = "sgd" }`` or a list of values
    (``["sgd", "rmsprop"]``): ((key as written, its values), ...); SpecError for another form."""
    if not isinstance(value, Mapping) or not value:
        raise SpecError(f'{label}: when must be a table of searched keys and the values that ask this one, as when = '
                        f'{{ "train.optimizer" = "sgd" }}, got {show(value)}', path=(*path, "when"), source=source)
    out = []
    for key, wanted in _flat_when(value):
        values = tuple(wanted) if isinstance(wanted, list) else (wanted,)
        if not values:
            raise SpecError(f'{label}: when: "{key}" = []: give the values that ask this one', path=(*path, "when"),
                            source=source)
        out.append((key, values))
    return tuple(out)


def _flat_when(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """A ``when`` table's (dotted key, value) pairs: ``train.optimizer`` written unquoted arrives nested."""
    for key, value in table.items():
        if isinstance(value, Mapping):
            yield from _flat_when(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _takes(kind: str) -> str:
    """What a distribution table of ``kind`` holds, for an error message."""
    if kind == "choice":
        return 'choice takes its list of values, { choice = [...] }, and when = { "KEY" = VALUE } (optional)'
    options = {"step": "step = S (optional)", "log": "log = true (optional)"}
    return (f"{kind} takes {kind} = [low, high]" + "".join(f", {options[o]}" for o in OPTIONS[kind])
            + ', when = { "KEY" = VALUE } (optional: asked only where a searched choice holds)')


def _range(key: str, kind: str, values: Any, spec: Mapping[str, Any], label: str, path: tuple[str, ...],
           source: str) -> Param:
    """A uniform / log_uniform / int range, checked."""
    num = (int,) if kind == "int" else (int, float)
    if not isinstance(values, list) or len(values) != 2 or not all(isinstance(v, num) and not isinstance(v, bool)
                                                                   for v in values):
        what = "whole numbers" if kind == "int" else "numbers"
        raise SpecError(f"{label}: {kind} must be [low, high], two {what}, got {show(values)}", path=path, source=source)
    if not all(math.isfinite(v) for v in values):
        raise SpecError(f"{label}: a range's ends must be finite numbers, got {show(values)}", path=path, source=source)
    low, high = values
    if low >= high:
        what = (f"is above its high ({high}): write it as [{high}, {low}]" if low > high else
                f"equals its high: the range is empty (to train every trial with {low}, set it in [base] "
                "and leave it out of [search])")
        raise SpecError(f"{label}: the range's low ({low}) {what}", path=path, source=source)
    log = kind == "log_uniform" or spec.get("log", False)
    if not isinstance(log, bool):
        raise SpecError(f"{label}: log must be true or false, got {show(log)}", path=path, source=source)
    if log and low <= 0:
        start = "1" if kind == "int" else "a small positive value such as 1e-5"
        raise SpecError(f"{label}: a log range must stay above 0, got [{low}, {high}]: start it at {start}",
                        path=path, source=source)
    step = spec.get("step")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, num) or not step > 0:
            raise SpecError(f"{label}: step must be a positive {'whole ' if kind == 'int' else ''}number, "
                            f"got {show(step)}", path=path, source=source)
        if log:
            raise SpecError(f"{label}: step and log cannot be combined (Optuna's rule)", path=path, source=source)
        _check_step(low, high, step, label, path, source)
    exact = int if kind == "int" else float  # a whole number kept whole: 2**63 - 1 is not rounded to 2**63
    return Param(key, kind, exact(low), exact(high), None if step is None else exact(step),
                 kind == "log_uniform" or bool(spec.get("log", False)))


def _decimals(x: float) -> int:
    """The decimals a number is written with: ``0.0005`` -> 4, ``0.25`` -> 2, ``32`` -> 0."""
    exponent = Decimal(repr(float(x))).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _check_step(low: float, high: float, step: float, label: str, path: tuple[str, ...], source: str) -> None:
    """A stepped range must end on a step (Optuna would otherwise move its high, with a warning)."""
    n = (high - low) / step
    if abs(n - round(n)) > 1e-6:
        top = round(low + math.floor(n + 1e-9) * step, max(_decimals(low), _decimals(step)))
        raise SpecError(f"{label}: the range [{low}, {high}] is not a whole number of steps of {step}: "
                        f"end it on a step, e.g. at {top:g}", path=path, source=source)


# Optuna's class names and Keras Tuner's tuners, as a sampler or a pruner is named here (helper-260)
_SAMPLER_WORDS = {
    "tpesampler": ' (Optuna\'s TPESampler is "tpe")', "randomsampler": ' (Optuna\'s RandomSampler is "random")',
    "gridsampler": ' (Optuna\'s GridSampler is "grid")', "randomsearch": ' (Keras Tuner\'s RandomSearch is "random")',
    "gridsearch": ' (Keras Tuner\'s GridSearch is "grid")',
    "bayesian": ' (Keras Tuner\'s BayesianOptimization: "tpe" is the model-based sampler here)',
    "bayesianoptimization": ' (Keras Tuner\'s BayesianOptimization: "tpe" is the model-based sampler here)',
    "hyperband": ' (Hyperband stops trials early, a pruner here: pruner = "hyperband", beside sampler "tpe" or "random")',
}
_PRUNER_WORDS = {
    "medianpruner": ' (Optuna\'s MedianPruner is "median")', "hyperbandpruner": ' (Optuna\'s HyperbandPruner is "hyperband")',
    "successivehalvingpruner": ' (Optuna\'s SuccessiveHalvingPruner is "successive_halving")',
    "noppruner": ' (Optuna\'s NopPruner is "none")', "asha": ' (asynchronous successive halving is "successive_halving")',
}
# Keras Tuner's Hyperband arguments in a pruner table (helper-260: max_epochs was said to be Lightning's)
_HYPERBAND_WORDS = {
    "max_epochs": "Keras Tuner's max_epochs is the base's train.epochs here (every trial's most epochs, the "
                  "pruner's max_resource)",
    "factor": "Keras Tuner's factor is reduction_factor here",
    "hyperband_iterations": "Keras Tuner's hyperband_iterations: a study's brackets repeat as trials go on; raise trials",
    "max_resource": "the pruner's max_resource is the base's train.epochs",
}


def _sampler(s: Mapping[str, Any], where: str, source: str) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """``[search]``'s ``sampler``: a name (:data:`SAMPLERS`), or a table of its ``type`` and Optuna's
    options for it (:data:`SAMPLER_OPTIONS`: TPESampler's ``n_startup_trials``, ``multivariate``,
    ``group``, ``constant_liar``; helper-260: a table was refused, said as a Python dict); (the name,
    the options set). SpecError otherwise."""
    value = s.get("sampler", "tpe")
    if not isinstance(value, Mapping):
        return _pick(s, "sampler", SAMPLERS, "tpe", where=where, source=source), ()
    options = dict(value)
    if "type" not in options:
        raise SpecError(f'{where}: sampler: a sampler table names its type: {{ type = "tpe", ... }} (one of '
                        f"{', '.join(SAMPLERS)})", path=("search", "sampler"), source=source)
    name = _pick({"sampler": options.pop("type")}, "sampler", SAMPLERS, "tpe", where=where, source=source)
    allowed = SAMPLER_OPTIONS[name]
    for key, v in options.items():
        if key == "seed":
            raise SpecError(f"{where}: sampler: seed is the search's own setting: seed = {show(v)} in [search]",
                            path=("search", "sampler", key), source=source)
        if key not in allowed:
            raise unknown_key(key, list(allowed), where=f"{where}: sampler ({name})", path=("search", "sampler"),
                              source=source, listing="its options")
        lo, hi = allowed[key]
        ok = isinstance(v, bool) if lo is None or hi is None else not isinstance(v, bool) and isinstance(v, int) and lo <= v <= hi
        if not ok:
            want = "true or false" if lo is None else f"a whole number in [{lo}, {hi}]"
            raise SpecError(f"{where}: sampler: {key}: must be {want}, got {show(v)}", path=("search", "sampler", key),
                            source=source)
    if options.get("group") and not options.get("multivariate"):  # Optuna's rule
        raise SpecError(f"{where}: sampler: group = true needs multivariate = true (Optuna's TPESampler)",
                        path=("search", "sampler", "group"), source=source)
    return name, tuple(sorted(options.items()))


def _pick(s: Mapping[str, Any], key: str, allowed: Sequence[str], default: str, *, where: str, source: str) -> str:
    """The setting ``key`` of the ``[search]`` table ``s``: one of ``allowed`` (``default`` where
    unset), else SpecError with a "did you mean" ("max": "maximize", as Keras Tuner's words go)."""
    v = s.get(key, default)
    if v not in allowed:
        near = next((a for a in allowed if isinstance(v, str) and len(v) >= 3 and a.startswith(v.lower())), None)
        word = str(v).lower().replace("_", "") if isinstance(v, str) else ""
        hint = f' (did you mean "{near}"?)' if near else (_SAMPLER_WORDS.get(word, "") if key == "sampler" else "") \
            or did_you_mean(str(v), allowed)
        raise SpecError(f'{where}: {key}: unknown {key} "{v}"{hint}; '
                        f"choose one of {', '.join(allowed)}", path=("search", key), source=source)
    return str(v)


def _settings(s: Mapping[str, Any], params: tuple[Param, ...], base: Mapping[str, Any], where: str,
              source: str) -> SearchSpace:
    """The search's settings (metric, direction, trials, sampler, pruner, seed), checked."""
    pick = functools.partial(_pick, s, where=where, source=source)

    metric = s.get("metric", "val_accuracy")
    if not isinstance(metric, str):
        raise SpecError(f"{where}: metric: must be a string, got {show(metric)}", path=("search", "metric"), source=source)
    if metric.startswith("test_"):
        raise SpecError(f'{where}: metric: a search may not choose by the test data ("{metric}"): score the trials '
                        f'on the validation split with "val_accuracy" (or "val_loss")', path=("search", "metric"),
                        source=source)
    try:
        check_monitor(metric, f"{where}: metric")
    except SpecError as exc:
        raise SpecError(str(exc), path=("search", "metric"), source=source) from None
    if not metric.startswith("val_"):  # a training figure (accuracy, loss) ranks overfitting, lr the largest rate
        instead = f"val_{metric}" if metric in ("accuracy", "loss") else "val_accuracy"
        raise SpecError(f'{where}: metric: "{metric}" is no validation figure: a search chooses on the validation '
                        f'split; use "{instead}"' + ('' if instead == "val_loss" else ' (or "val_loss")'),
                        path=("search", "metric"), source=source)
    direction = pick("direction", DIRECTIONS, "minimize" if "loss" in metric else "maximize")
    natural = "minimize" if "loss" in metric else "maximize" if "acc" in metric else direction
    if direction != natural:  # the study would rank the worst trials first
        raise SpecError(f'{where}: direction: "{direction}" with metric "{metric}" ranks the worst trials first ('
                        f'{"a loss" if natural == "minimize" else "an accuracy"} is {natural[:-1]}ed): drop direction, '
                        "it follows the metric", path=("search", "direction"), source=source)
    sampler, sampler_options = _sampler(s, where, source)
    # a grid's points are each trained whole (Keras Tuner's GridSearch; helper-260: the median pruner
    # stopped grid points, never scored again); another sampler's default: the median pruner
    pruner, pruner_options = _pruner(s.get("pruner", "none" if sampler == "grid" else "median"), where, source)
    trials, seed = s.get("trials", DEFAULT_TRIALS), s.get("seed", 0)
    for key, v, lo, hi in (("trials", trials, 1, MAX_TRIALS), ("seed", seed, 0, 2**31 - 1)):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise SpecError(f"{where}: {key}: must be a whole number in [{lo}, {hi}], got {show(v)}",
                            path=("search", key), source=source)
    if sampler == "grid":
        if conditional := next((p for p in params if p.when), None):
            raise SpecError(f'{where}: "{conditional.written or conditional.key}": when: a grid tries every combination '
                            'of its values; a conditional key needs sampler "tpe" or "random"',
                            path=("search", *key_path(conditional.written or conditional.key), "when"), source=source)
        for p in params:
            if p.kind in ("uniform", "log_uniform") and p.step is None:
                raise SpecError(f'{where}: "{written_key(key_path(p.key))}": the grid sampler needs a finite set of '
                                f"values, not a continuous {p.kind} range: use choice = [...], an int range, or a "
                                "uniform range with a step",
                                path=("search", *key_path(p.key)), source=source)
        trials = grid_trials(params, trials, f"{where}: trials" if "trials" in s else None)
    if not _has_validation(base):
        raise SpecError(f"{source}: a search needs a validation split to score its trials on: set data.validation "
                        f"in [base] (e.g. data = {{ validation = 0.1 }})", path=("base",), source=source)
    if (base.get("data") or {}).get("validation") == "test":  # helper-132: the winner chosen on the test set
        raise SpecError(f'{source}: [base]: data.validation = "test" scores the trials on the test set, so the search '
                        "would choose on it: hold out part of the training images instead (e.g. data = { validation "
                        "= 0.1 })", path=("base", "data", "validation"), source=source)
    if not any(p.key == "train.epochs" for p in params):  # (a searched epochs: each trial its own)
        _pruner_reach(pruner, dict(pruner_options), (base.get("train") or {}).get("epochs"), where)
    return SearchSpace(params, metric, direction, trials, sampler, pruner, seed, pruner_options,
                       _timeout(s.get("timeout"), where, source), sampler_options)


def _pruner_reach(pruner: str, options: Mapping[str, int], epochs: Any, where: str) -> None:
    """Warn where ``pruner`` can stop no trial of ``epochs`` epochs (helper-263: accepted silently): it
    judges the epoch ends before the last (Optuna's steps 0 .. epochs - 2), from its warm-up step or
    first rung on."""
    if pruner == "none" or isinstance(epochs, bool) or not isinstance(epochs, int):
        return
    default = {key: d for key, (_, _, d) in PRUNER_OPTIONS[pruner].items()} | dict(options)
    first = (default["n_warmup_steps"] if pruner == "median" else  # Optuna's first rung's step (steps from 0: epoch 1)
             default["min_resource"] * default["reduction_factor"] ** default.get("min_early_stopping_rate", 0))
    if first > epochs - 2:
        why = ("a trial of one epoch is judged at its end alone" if epochs < 2 else
               f"it judges from epoch {first + 1} on, and a trial's last epoch ({epochs}) is never judged")
        warnings.warn(SpecWarning(f"{where}: pruner {pruner} can stop no trial at train.epochs = {epochs}: {why} "
                                  '(write pruner = "none", or give more epochs or an earlier warm-up)'),
                      stacklevel=user_level())


def grid_size(params: Sequence[Param]) -> int:
    """How many points a grid search over ``params`` has: the product of their grid values' counts."""
    return math.prod(len(p.grid_values()) for p in params)


def grid_trials(params: Sequence[Param], trials: int, said: str | None) -> int:
    """The trials a grid search over ``params`` runs of ``trials`` asked: at most its points, each
    once; ``said`` (the setting that asked, ``--trials``) warns when it asked more (helper-260:
    ``--trials 12`` of a 6-point grid asked its points again). Its points' count for None."""
    size = grid_size(params)
    if trials > size and said is not None:
        warnings.warn(SpecWarning(f"{said} = {trials} but the grid has {size} points: the search runs {size} trials "
                                  "(each point once)"), stacklevel=user_level())
    return min(trials, size)


def _timeout(value: Any, where: str, source: str) -> float | None:
    """``[search]``'s ``timeout``: seconds, a finite number above 0; None where it has none."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf):
        raise SpecError(f"{where}: timeout: must be a number of seconds above 0, got {show(value)}",
                        path=("search", "timeout"), source=source)
    return None if value is None else float(value)


def _pruner(value: Any, where: str, source: str) -> tuple[str, tuple[tuple[str, int], ...]]:
    """A ``pruner`` setting: a name (:data:`PRUNERS`), or a table of its ``type`` and Optuna's
    options for it (:data:`PRUNER_OPTIONS`); (the name, the options set). SpecError otherwise."""
    options = dict(value) if isinstance(value, Mapping) else {}
    name = options.pop("type", None) if isinstance(value, Mapping) else value
    if isinstance(value, Mapping) and name is None:
        raise SpecError(f'{where}: pruner: a pruner table names its type: {{ type = "median", ... }} (one of '
                        f"{', '.join(PRUNERS)})", path=("search", "pruner"), source=source)
    if name not in PRUNERS:
        got = f'"{name}"' if isinstance(name, str) else show(name)
        how = 'a table of its type and options, as { type = "median", n_startup_trials = 2 }'
        word = _PRUNER_WORDS.get(str(name).lower().replace("_", ""), "") or did_you_mean(str(name), PRUNERS)
        raise SpecError(f'{where}: pruner: unknown pruner {got}{word}; choose one of '
                        f"{', '.join(PRUNERS)}, or {how}", path=("search", "pruner"), source=source)
    allowed = PRUNER_OPTIONS[str(name)]
    for key, v in options.items():
        if key in _HYPERBAND_WORDS and key not in allowed:
            raise SpecError(f'{where}: pruner ({name}): unknown key "{key}": {_HYPERBAND_WORDS[key]}; its options: '
                            f"{', '.join(allowed) or 'none'}", path=("search", "pruner", key), source=source)
        if key not in allowed:
            raise unknown_key(key, list(allowed), where=f"{where}: pruner ({name})", path=("search", "pruner"),
                              source=source, listing="its options")
        lo, hi, _ = allowed[key]
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise SpecError(f"{where}: pruner: {key}: must be a whole number in [{lo}, {hi}], got {show(v)}",
                            path=("search", "pruner", key), source=source)
    return str(name), tuple(options.items())


def _has_validation(base: Mapping[str, Any]) -> bool:
    val = (base.get("data") or {}).get("validation", 0) if isinstance(base.get("data"), Mapping) else 0
    return bool(val) and not isinstance(val, bool)


def _check_trial_configs(space: SearchSpace, base: Mapping[str, Any], source: str) -> None:
    """Every value at each end of each range (every choice) through the normal run config parsing."""
    from mnistlab.config import parse_run_config
    from mnistlab.experiments import apply_dotted

    for p in space.params:
        context = _asking(p, space)
        for value in p.corners():
            try:
                label = f'{source}: [search] "{p.written or written_key(key_path(p.key))}" = {show(value)}'
                parse_run_config(apply_dotted(base, {**context, p.key: value}), source=label)
            except SpecError as exc:  # apply_dotted's own (a slice given a number) does not name the file yet
                said = str(exc) if str(exc).startswith(f"{source}:") else f"{label}: {exc}"
                raise SpecError(said, path=("search", *key_path(p.written or p.key)), source=source) from None
    if len(space.params) < 2:
        return
    for end in (0, -1):  # all together, at their first and at their last values: keys that cannot go together
        values: dict[str, Any] = {}  # ("model.dense" beside "model.layers[2]..."), each asked where its when holds
        for p in space.params:
            if holds(p, values):
                values[p.key] = p.corners()[end]
        label = f"{source}: [search] " + ", ".join(f'"{p.written or p.key}" = {show(values[p.key])}' for p in space.params
                                                   if p.key in values)
        try:
            with warnings.catch_warnings():  # errors of keys together; each value's warnings are said above, once
                warnings.simplefilter("ignore", SpecWarning)  # (helper-263: "sgd ignores beta_1" of an end's pairing)
                parse_run_config(apply_dotted(base, values), source=label)
        except SpecError as exc:
            said = str(exc) if str(exc).startswith(f"{source}:") else f"{label}: {exc}"
            raise SpecError(f"{said} (these keys together: a trial sets them all)", path=("search",), source=source) from None


def _asking(p: Param, space: SearchSpace) -> dict[str, Any]:
    """The other searched values a trial that asks ``p`` holds, for checking ``p``'s values alone: its
    ``when`` keys at their first value that asks it, the conditional keys asked with them, and an
    optimizer's setting (momentum) beside a searched optimizer at the first optimizer that takes it
    (not the base's, which may ignore it)."""
    context = {key: wanted[0] for key, wanted in p.when}
    for q in space.params:  # the other conditional keys such a trial asks, at their first values (helper-263: nesterov
        if q is not p and q.when and holds(q, context):  # asked with sgd was checked with the base's momentum 0)
            context[q.key] = q.corners()[0]
    if (found := _optimizer_takers(p, space)) is not None and found[1]:
        context["train.optimizer"] = found[1][0]
    return context


def _optimizer_takers(p: Param, space: SearchSpace) -> tuple[Param, list[Any]] | None:
    """Where ``p`` is a train setting asked in every trial (no ``when``) beside a searched optimizer
    choice: that choice, and those of its optimizers that take the setting
    (:func:`~mnistlab.config.setting_applies`); None otherwise."""
    from mnistlab.config import setting_applies

    parts = key_path(p.key)
    optimizer = next((q for q in space.params if q.key == "train.optimizer" and q.kind == "choice"), None)
    if optimizer is None or p.when or len(parts) != 2 or parts[0] != "train" or parts[1] == "optimizer":
        return None
    return optimizer, [o for o in optimizer.choices if isinstance(o, str) and setting_applies(parts[1], o)]


# ---------------------------------------------------------------------------------- optuna
def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise MnistlabError("a search needs Optuna: pip install 'mnistlab[search]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _quiet_stops(storage: Any) -> None:
    """Put :class:`_StopDuringReset` on the logger ``storage``'s connection pool logs to (SQLAlchemy's
    per-class logger, ``sqlalchemy.pool.impl.QueuePool``: a filter on a parent logger would not
    see its records), once."""
    logger = getattr(getattr(getattr(storage, "engine", None), "pool", None), "logger", None)
    logger = getattr(logger, "logger", logger)  # an InstanceLogger (echo_pool) wraps a Logger
    if isinstance(logger, logging.Logger) and not any(isinstance(f, _StopDuringReset) for f in logger.filters):
        logger.addFilter(_StopDuringReset())


class _StopDuringReset(logging.Filter):
    """Ctrl-C or SIGTERM (raised as KeyboardInterrupt) landing while SQLAlchemy returns a connection
    to its pool, or while it reads rows, makes the pool log a traceback ("Exception during reset";
    "Error closing cursor", the close failing while the stop is handled); the stop itself is
    reported in one line. This drops only those records: the pool's other messages, for the caller's
    own SQLAlchemy engines too, log as they would without mnistlab."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        seen = 0
        while exc is not None and seen < 20:  # the error itself, or what it happened while handling
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                return False
            exc, seen = exc.__context__, seen + 1
        return True


def storage_url(store_root: str | os.PathLike) -> str:
    """The study's Optuna RDB storage: ``search.sqlite`` in the store folder."""
    return f"sqlite:///{Path(store_root).resolve() / STUDY_FILE}"


_STORAGES: dict[tuple[str, int], Any] = {}


def open_storage(store_root: str | os.PathLike) -> Any:
    """The Optuna RDB storage of :func:`storage_url`, one per process and file: SQLite in WAL mode
    with ``synchronous=NORMAL`` (as the run store; a third of the default's time per ask or tell
    here) and a 60 s busy timeout, so that ``--jobs`` workers writing at once wait rather than fail.
    Raises StoreError for an empty file (a lost one: Optuna would start a new storage in it)."""
    optuna = _optuna()
    path = Path(store_root).resolve() / STUDY_FILE
    if path.is_file() and path.stat().st_size == 0:  # Optuna would write a new, empty storage into it
        raise StoreError(f"{path}: empty, so its studies are lost (a truncated copy?): {STUDY_FILE_FIX}")
    key = (str(path), path.stat().st_ino if path.exists() else 0)
    if key not in _STORAGES:
        def connect() -> sqlite3.Connection:
            con = sqlite3.connect(path, timeout=60, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            return con

        storage = optuna.storages.RDBStorage(storage_url(store_root), engine_kwargs={"creator": connect})
        _quiet_stops(storage)
        key = (str(path), path.stat().st_ino)
        _STORAGES[key] = storage
    return _STORAGES[key]


def close_storage(store_root: str | os.PathLike) -> None:
    """Close this process's connections to the store's ``search.sqlite`` and fold its write-ahead
    log into the file (SQLite's ``wal_checkpoint(TRUNCATE)``), so that the file alone holds every
    study: a copy or backup of ``search.sqlite`` without its ``-wal`` is whole. The storage opens
    new connections when it is used again. Nothing is raised: a log another process still holds
    open is folded in when that process closes it."""
    path = Path(store_root).resolve() / STUDY_FILE
    for key, storage in list(_STORAGES.items()):
        if key[0] == str(path):
            storage.remove_session()
            storage.engine.dispose()
    if path.is_file():
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=5)) as con:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass


def make_sampler(space: SearchSpace, done: int = 0) -> Any:
    """The Optuna sampler ``space.sampler`` names, seeded with ``space.seed + done``.

    ``done``: the trials the study holds, those a stop killed left out (:func:`trials_drawn`). A
    sampler is made afresh for every trial asked (:func:`_ask`), so trial n draws from the seed
    ``seed + n`` and the trials before it, whether the search ran through or was stopped and
    resumed before it (one sampler kept along a run would draw differently after a resume, and
    one seeded afresh with ``seed`` would replay trial 0's draws).
    """
    optuna = _optuna()
    seed = space.seed + done
    if space.sampler in ("random", "grid"):  # grid: its points are queued by open_study (see there)
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():  # (Optuna's ExperimentalWarning of multivariate, group, constant_liar)
        warnings.simplefilter("ignore")
        return optuna.samplers.TPESampler(seed=seed, **dict(space.sampler_options))


def make_pruner(name: str, epochs: int, options: Sequence[tuple[str, int]] = ()) -> Any:
    """The Optuna pruner ``name`` names, its resource counted in epochs (1..``epochs``), with
    :data:`PRUNER_OPTIONS`' defaults and ``options`` over them (Optuna's keyword arguments)."""
    optuna = _optuna()
    kwargs = {key: default for key, (_, _, default) in PRUNER_OPTIONS.get(name, {}).items()} | dict(options)
    if name == "median":
        return optuna.pruners.MedianPruner(**kwargs)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(max_resource=max(1, epochs), **kwargs)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(**kwargs)
    return optuna.pruners.NopPruner()


def _encode(value: Any) -> Any:
    """Optuna's categorical values are scalars: a list or table choice travels as its JSON text."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(value)


def _decode(param: Param, value: Any) -> Any:
    if param.kind == "choice" or isinstance(value, str):
        for c in param.choices or param.grid_values():
            if _encode(c) == value:
                return copy.deepcopy(c)
    return int(value) if param.kind == "int" else param.rounded(value)


def distributions(space: SearchSpace) -> dict[str, Any]:
    """Each param as an Optuna distribution (for ``study.ask``)."""
    d = _optuna().distributions
    out: dict[str, Any] = {}
    for p in space.params:
        if p.kind == "choice":
            out[p.key] = d.CategoricalDistribution([_encode(c) for c in p.choices])
        elif p.kind == "int":
            out[p.key] = d.IntDistribution(int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
        elif space.sampler == "grid":  # a stepped uniform range: its grid's values
            out[p.key] = d.CategoricalDistribution(p.grid_values())
        else:
            out[p.key] = d.FloatDistribution(p.low, p.high, log=p.log, step=p.step)
    return out


def open_study(name: str, space: SearchSpace, store_root: str | os.PathLike, epochs: int,
               base: str | None = None, written: str | None = None) -> Any:
    """Create, or load to resume, the study ``name`` in the store's ``search.sqlite``; ``base``:
    the :func:`base_setting` its trials train on, ``written``: its :func:`written_setting` (None:
    not checked). Raises StoreError, one line,
    when that file is damaged or empty (a search never starts its studies afresh over a file it
    cannot read: their trials would be trained again); SpecError when a resumed study's [search]
    table or base changed (:func:`_check_fingerprint`)."""
    optuna = _optuna()
    with study_file_errors(store_root):
        study = optuna.create_study(storage=open_storage(store_root), study_name=name, direction=space.direction,
                                    sampler=make_sampler(space), pruner=make_pruner(space.pruner, epochs, space.pruner_options),
                                    load_if_exists=True)
    _check_fingerprint(study, name, space, base, written)
    if space.sampler == "grid":
        # Every grid point queued once, in file order (Optuna's GridSampler calls study.stop() when
        # the grid is used up, which only works inside study.optimize, not with ask and tell).
        for point in itertools.product(*[[_encode(v) for v in p.grid_values()] for p in space.params]):
            study.enqueue_trial(dict(zip([p.key for p in space.params], point)), skip_if_exists=True)
    return study


@contextmanager
def study_file_errors(store_root: str | os.PathLike) -> Iterator[None]:
    """Turns the errors of reading the store's ``search.sqlite`` (not an SQLite file, a damaged
    one, one without Optuna's tables, a copy that cannot be read) into one StoreError line that
    says what to do: the guard of opening a study (:func:`open_study`, :func:`has_study`).
    ``param_importances`` and ``delete_study`` say what they could not do in their own words."""
    path = Path(store_root) / STUDY_FILE
    try:
        yield
    except OSError as exc:  # e.g. another user's file: nothing to move aside
        raise StoreError(f"{path}: cannot read the store's search studies: {exc.strerror or exc}") from None
    except (sqlite3.DatabaseError, _sqlalchemy_errors()) as exc:
        if "locked" in str(exc):  # busy, not damaged: moving it aside would lose its studies
            raise StoreError(f"{path}: busy (another process holds it: {first_line(exc, 80)}): "
                             "try again when that process is done") from None
        raise StoreError(f"{path}: cannot be read as the store's search studies ({first_line(exc, 80)}): "
                         f"{STUDY_FILE_FIX}") from None
    except RuntimeError as exc:  # Optuna: the file was written by another version of Optuna's schema
        if "schema" not in str(exc):
            raise
        raise StoreError(f"{path}: {first_line(exc, 300)}") from None


def _sqlalchemy_errors() -> type[Exception]:
    """sqlalchemy's DatabaseError (Optuna's storage raises it for a file that is not an SQLite
    database, or a damaged one); imported late, as Optuna is."""
    from sqlalchemy.exc import DatabaseError

    return DatabaseError


def space_fingerprint(space: SearchSpace) -> str:
    """What a study's trials depend on, as JSON text: every param's distribution, the metric, the
    direction, the sampler and its seed (not ``trials`` or the pruner: those may change on a resume)."""
    def f(x: float | None) -> float | None:  # as recorded before int ranges kept whole ends (16.0): studies resume
        return None if x is None else float(x)

    params = [[p.key, p.kind, f(p.low), f(p.high), f(p.step), p.log, [_encode(c) for c in p.choices]]
              + ([[[k, [_encode(v) for v in vs]] for k, vs in p.when]] if p.when else []) for p in space.params]  # (a
    # plain key's as before: studies recorded then resume)
    sampler: Any = [space.sampler, dict(space.sampler_options)] if space.sampler_options else space.sampler
    return json.dumps({"params": params, "metric": space.metric, "direction": space.direction,
                       "sampler": sampler, "seed": space.seed}, sort_keys=True)  # (a plain name: as studies recorded it)


def study_settings(base: Mapping[str, Any], space: SearchSpace) -> tuple[str, str]:
    """What a study records of its [base] (``base``: :func:`trial_base`'s, as written):
    (:func:`base_setting`, :func:`written_setting`). Where the model is searched, its layers are
    those of the model with every searched key at its first value (a choice's first, a range's
    low): a change to the model's other keys shows in them, a default spelled out does not."""
    from mnistlab.config import parse_run_config
    from mnistlab.experiments import apply_dotted

    resolved = parse_run_config(base, check_model=False).resolved()
    model = None
    if any(p.key.startswith("model.") for p in space.params):
        first = {p.key: p.choices[0] if p.kind == "choice" else p.low for p in space.params}
        try:
            model = parse_run_config(apply_dotted(base, first), check_model=False).resolved()["model"]
        except MnistlabError:  # (each end was checked alone: a pair that cannot be built leaves the model out)
            model = None
    return base_setting(resolved, space, model), written_setting(base, space)


def base_setting(resolved: Mapping[str, Any], space: SearchSpace, model: Mapping[str, Any] | None = None) -> str:
    """What a study's trials share besides the searched keys, as JSON text: the base's resolved
    config flattened to dotted keys, less where and how fast it runs (``train.threads``,
    ``train.device``) and the keys a trial sets (the whole model where a trial sets a key of it,
    unless ``model`` gives it with those keys at fixed values: :func:`study_settings`);
    the user's own data by its kind and options
    (:func:`~mnistlab.data.userdata.data_setting`: a moved folder is the same base)."""
    config = {**resolved, **({} if model is None else {"model": model})}
    # a searched key of the model (model.dense, model.layers[0].filters) may change any of its layers
    return _setting_text(config, [("model" if p.key.startswith("model.") and model is None else p.key)
                                  for p in space.params])


def written_setting(base: Mapping[str, Any], space: SearchSpace) -> str:
    """The [base] as its file writes it (``base``: :func:`trial_base`'s, before any resolving),
    flattened to dotted keys like :func:`base_setting`, less where it runs and the searched keys
    (a searched key's own sub-keys too); the user's data by its kind and options. What tells a
    setting the user added or changed (an ``augment`` table, a searched model's other keys) from
    one that a newer mnistlab merely resolves (:func:`_check_fingerprint`)."""
    return _setting_text(base, [p.key for p in space.params])  # (a study's keys are dotted: model.layers.6.units)


def _setting_text(config: Mapping[str, Any], searched: Sequence[str]) -> str:
    """``config`` flattened to dotted keys (:func:`~mnistlab.comparison.flatten_config`) as JSON
    text, its dataset by :func:`~mnistlab.data.userdata.data_setting`, its weights by their SHA-256
    (:func:`~mnistlab.config.weights_identity`), less where it runs
    (``train.threads``, ``train.device``) and the ``searched`` keys with their sub-keys."""
    from mnistlab.comparison import flatten_config
    from mnistlab.config import weights_identity
    from mnistlab.data.userdata import data_setting

    config = {**config, "dataset": data_setting(config.get("dataset"))}
    if isinstance(weights := config.get("weights"), (str, Mapping)):  # by their SHA-256: an overwritten file is
        config["weights"] = weights_identity(weights if isinstance(weights, Mapping) else {"file": weights})  # another
    flat = {k: v for k, v in flatten_config(config)  # start, a moved one the same (helper-203: a study mixed them)
            if k not in ("train.threads", "train.device") and not any(k == s or k.startswith(f"{s}.") for s in searched)}
    return json.dumps(flat, sort_keys=True, default=str)


def _check_fingerprint(study: Any, name: str, space: SearchSpace, base: str | None = None,
                       written: str | None = None) -> None:
    """Record the search table's fingerprint, and the base's setting (:func:`base_setting`, and as
    written: :func:`written_setting`), with a new study; a resumed study whose table or base changed
    is refused (its old trials, from another space or trained on another setting, would rank beside
    the new ones). A base changed is a resolved key both records hold with another value; or, where
    the [base] as written changed too, a resolved key only one of them holds (an added ``augment``)
    or a written key of a searched model whose layers could not be resolved (:func:`study_settings`):
    a resolved key new to this version, with the base written as it was, is no change."""
    trials = study.get_trials(deepcopy=False)
    if trials and written is not None and (was := study.user_attrs.get(_WRITTEN)) is not None and was != written \
            and (moved := _written_changes(was, written, study.user_attrs.get(_BASE), base)):
        raise _changed("[base]", trials, name, moved)
    for attr, now, what in ((_FINGERPRINT, space_fingerprint(space), "the [search] table"), (_BASE, base, "[base]")):
        recorded = study.user_attrs.get(attr)
        if now is None:
            continue
        if recorded is None or not trials:  # a new study (or one recorded before the base was)
            if recorded != now:
                study.set_user_attr(attr, now)
            continue
        changed = changed_keys(recorded, now) if attr == _FINGERPRINT else _changed_settings(recorded, now)
        if recorded != now and (attr == _FINGERPRINT or changed):  # a base key new to this version is no change
            raise _changed(what, trials, name, changed, space=attr == _FINGERPRINT)
    if written is not None and (not trials or study.user_attrs.get(_WRITTEN) is None):
        if trials:  # helper-116: a study of an older version resumed without a word of what it cannot check
            warnings.warn(SpecWarning(f"study {name} was recorded before mnistlab kept its [base] as written: a "
                                      "table added to [base] before this run is not checked (from now on it is)"),
                          stacklevel=user_level())
        study.set_user_attr(_WRITTEN, written)


def _changed(what: str, trials: Sequence[Any], name: str, changed: Sequence[str], *, space: bool = False) -> SpecError:
    """The refusal of a resumed study whose [search] table (``space``) or [base] (``what``) changed,
    naming the keys that did."""
    listed = f" ({', '.join(changed[:5])}{' ...' * (len(changed) > 5)} changed)" if changed else ""
    why = "were drawn from another space" if space else "trained another setting"
    return SpecError(f"{what} changed since trial {trials[-1].number} of study {name}{listed}: its trials {why}; use "
                     f"a new experiment name (name = \"...\") to start a new study, or `mnistlab rm -e {name}` to "
                     "delete it", path=("search",) if space else ("base",))


def _written_changes(was: str, now: str, resolved_was: str | None, resolved_now: str | None) -> list[str]:
    """What :func:`_check_fingerprint` counts as a changed [base] of two :func:`written_setting`
    texts (and the :func:`base_setting` texts beside them), as the written keys: those behind a
    resolved key only one text holds, and those of a model the resolved texts leave out (a
    searched model's)."""
    try:
        a, b = json.loads(was), json.loads(now)
        ra, rb = json.loads(resolved_was or "{}"), json.loads(resolved_now or "{}")
    except ValueError:
        return []
    written = [k for k in dict.fromkeys([*a, *b]) if a.get(k, _MISSING) != b.get(k, _MISSING)]
    only_one = [k for k in dict.fromkeys([*ra, *rb]) if (k in ra) != (k in rb)]
    model = [k for k in written if k.startswith("model.") and not any(r.startswith("model.") for r in (*ra, *rb))]
    related = [w for w in written if any(k == w or k.startswith(f"{w}.") or w.startswith(f"{k}.") for k in only_one)]
    return list(dict.fromkeys(related + model))  # in the user's words: the written keys


_MISSING = object()


def _changed_settings(old: str, new: str) -> list[str]:
    """The dotted keys both :func:`base_setting` texts hold, with other values: a key only one holds
    is a setting one mnistlab version resolves and the other does not (a new option at its default)."""
    try:
        a, b = json.loads(old), json.loads(new)
    except ValueError:
        return []
    return [k for k in a if k in b and a[k] != b[k]]


def changed_keys(old: str, new: str) -> list[str]:
    """The keys of a [search] table (searched settings by their dotted key, then metric, direction,
    sampler, seed) whose :func:`space_fingerprint` differs between ``old`` and ``new``."""
    try:
        a, b = json.loads(old), json.loads(new)
        pa, pb = ({p[0]: p[1:] for p in x["params"]} for x in (a, b))
    except (ValueError, TypeError, KeyError, IndexError):
        return []
    keys = [k for k in dict.fromkeys([*pa, *pb]) if pa.get(k) != pb.get(k)]
    return keys + [k for k in ("metric", "direction", "sampler", "seed") if a.get(k) != b.get(k)]


def recover(study: Any, runs: Sequence[Any] = ()) -> list[int]:
    """Settle the trials a dead driver left running (this host: its pid is gone, or is this
    process's own, which has asked for none yet): one whose run is recorded complete, pruned or
    failed (the driver died between recording and telling) is told from ``runs`` (the study's runs
    in the store); the others, and those recorded ``interrupted`` (a Ctrl-C to the process group
    stops the workers and the driver before it tells), are failed and asked again with the same
    parameters, continuing from their checkpoints. Returns the numbers of those asked again.
    Called before this process asks for its first trial."""
    from mnistlab.store import process_holds

    optuna = _optuna()
    host, out = socket.gethostname(), []
    recorded = {r.metrics["trial"]: r for r in runs if "trial_state" in (r.metrics or {})}
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        pid, t_host = t.user_attrs.get("pid"), t.user_attrs.get("host", "")
        if t_host == host and isinstance(pid, int) and process_holds(pid, host, mine=False):
            continue  # (this process has asked for no trial yet: one with its pid is a gone process's)
        if t.number in recorded and recorded[t.number].metrics["trial_state"] != "interrupted":
            m = recorded[t.number].metrics
            state = {"complete": None, "pruned": optuna.trial.TrialState.PRUNED}.get(m["trial_state"],
                                                                                    optuna.trial.TrialState.FAIL)
            study.tell(t.number, m["search_value"] if state is None else None, state=state)
            continue
        # recorded interrupted (a Ctrl-C reached its worker before the driver told it), or not recorded:
        # a stopped trial, asked again as _tell asks one, continuing from its checkpoint
        study._storage.set_trial_system_attr(t._trial_id, _KILLED, True)
        study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
        _ask_again(study, t)
        out.append(t.number)
    return out


def counted_trials(study: Any) -> int:
    """Trials that count towards the search's total: complete, pruned, and failed for a reason of their own."""
    states = _optuna().trial.TrialState
    return sum(t.state in (states.COMPLETE, states.PRUNED) or (t.state == states.FAIL and not t.system_attrs.get(_KILLED))
               for t in study.get_trials(deepcopy=False))


# ----------------------------------------------------------------------------------- trials
class PruningCallback(Callback):
    """Reports ``metric`` to an Optuna trial at each epoch end and stops training when the pruner
    says so (Optuna's ``KerasPruningCallback`` contract: the intermediate value's step is the epoch)."""

    def __init__(self, trial: Any, metric: str) -> None:
        super().__init__()
        self.optuna_trial, self.metric = trial, metric
        self.pruned_at: int | None = None
        self.seconds = 0.0  # time spent talking to Optuna (its storage), for the overhead figure
        self._caught_up = False

    def _catch_up(self, epoch: int) -> None:
        """Report the epochs before ``epoch`` that a trial asked again for a stopped one took over with
        its checkpoint (the trainer's history holds them): the trial's curve whole, as the pruner and
        Optuna's plots read it (helper-207: a continued trial had its last epoch alone)."""
        if self._caught_up:
            return
        self._caught_up = True
        for step, entry in enumerate(getattr(getattr(self, "trainer", None), "history", [])[:epoch]):
            value = entry.get(self.metric) if isinstance(entry, Mapping) else None
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.optuna_trial.report(float(value), step=step)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._catch_up(epoch)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._catch_up(epoch)  # (a run resumed inside an epoch begins none)
        value = (logs or {}).get(self.metric)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return
        t0 = time.perf_counter()
        self.optuna_trial.report(float(value), step=epoch)
        # the last epoch is not pruned: the trial has trained in full and counts as complete
        last = (getattr(self, "params", None) or {}).get("epochs")
        prune = epoch + 1 != last and self.optuna_trial.should_prune()
        self.seconds += time.perf_counter() - t0
        if prune:
            self.pruned_at = epoch + 1
            self.trainer.stop_training = True


@dataclass(frozen=True)
class TrialTask:
    """What a worker needs to train one trial and record it (picklable)."""

    experiment: str
    study: str
    trial_id: int
    number: int
    config: dict[str, Any]
    params: dict[str, Any]
    metric: str
    pruner: str
    store_root: str
    data_dir: str | None = None
    threads: int = 0  # CPU threads of this worker (0: the config's); not recorded in the run's config
    log_params: tuple[str, ...] = ()  # the params searched on a log scale (recorded: the figures' axes follow them)
    pruner_options: tuple[tuple[str, int], ...] = ()  # the [search] pruner table's options
    continues: int | None = None  # the stopped trial this one is asked again for: it resumes from its checkpoint
    written: tuple[tuple[str, str], ...] = ()  # (key, the key as the file writes it) where they differ (layers[-1])
    #: seconds between the trial's checkpoints: ``MNISTLAB_CHECKPOINT_EVERY`` where the task is made
    #: (a Ray worker on another machine has not the driver's environment), as a sweep cell's
    checkpoint_every: float = field(default_factory=lambda: _checkpoint_every())


@dataclass
class TrialResult:
    """One trial's outcome: its run, its state (complete / pruned / failed) and its value."""

    number: int
    run_id: str
    state: str
    value: float | None
    status: str  # the run's store status
    message: str = ""
    seconds: float = 0.0  # wall time of the run (training and evaluation) in the worker
    overhead: float = 0.0  # the worker's Optuna bookkeeping: loading the study and trial, reporting at epoch ends
    continued: str = ""  # "continued trial 3 from epoch 5": where a trial asked again picked up a stopped one's training


def trial_configs(task: TrialTask) -> tuple[Any, Any]:
    """The trial's run config as recorded, and as this worker trains it (with its ``threads``);
    raises :class:`~mnistlab.errors.MnistlabError` for a combination of values the config refuses."""
    from mnistlab.config import parse_run_config, with_threads

    source = f"{task.experiment}: {trial_variant(task.number)}"
    cfg = parse_run_config(task.config, source=source, check_model=False)
    return cfg, parse_run_config(with_threads(task.config, task.threads), source=source, check_model=False)


TRIAL_PREFIX = "trial-"


def _merged_tables(base: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with a whole ``train`` or ``data`` table chosen (``"train" = { choice = [{...}, ...] }``)
    merged into the base's, key by key, as a variant's ``train`` table is (helper-246: the chosen table
    replaced ``[base.train]`` whole, and its trials trained 5 epochs, the default, not the base's 2)."""
    return {k: {**base[k], **v} if k in ("train", "data") and isinstance(v, Mapping) and isinstance(base.get(k), Mapping)
            else v for k, v in params.items()}


def trial_variant(number: int) -> str:
    """A trial's variant (run) name: ``trial-0007``."""
    return f"{TRIAL_PREFIX}{number:04d}"


def trial_recorder(store: Any, task: TrialTask, cfg: Any) -> Any:
    """The :class:`~mnistlab.run.Recorder` of a trial's run (marked running in ``store``)."""
    from mnistlab.run import Recorder

    return Recorder(store, experiment=task.experiment, variant=trial_variant(task.number), config=cfg.resolved(),
                    seed=cfg.train.seed)


def record_trial(recorder: Any, task: TrialTask, cfg: Any, result: Any, pruned_at: int | None, direction: str,
                 seconds: float = 0.0, overhead: float = 0.0) -> TrialResult:
    """Record a trained trial's run (its state, value and parameters in its metrics) wherever it
    trained, and return its :class:`TrialResult`. The value is :func:`trial_value`'s;
    ``pruned_at``: the epoch the pruner stopped it at, or None."""
    last = trial_value(result.history, result.metrics, task.metric)
    ok = result.status == "finished" and isinstance(last, (int, float)) and math.isfinite(last)
    value = float(last) if ok and last is not None else None
    state = (("pruned" if pruned_at is not None else "complete") if ok
             else "interrupted" if result.status == "interrupted" else "failed")  # interrupted: asked again
    result.config.setdefault("train", {})["threads"] = cfg.train.threads  # the user's, not this worker's share
    result.message = _in_search_words(result.message, task)
    result.metrics.update(trial_metrics(task, state, direction, value, pruned_at))
    problem = recorder.finish(result)
    return TrialResult(task.number, recorder.run_id, "failed" if problem else state, value,
                       "failed" if problem else result.status, problem or result.message, seconds, overhead,
                       _continued(task, result.metrics))


def trial_value(history: Sequence[Mapping[str, Any]], metrics: Mapping[str, Any], metric: str) -> Any:
    """The figure a trial is ranked by: ``metric`` of the weights its run ends with, those the test
    set scores and ``search-best`` trains again: the run's recorded ``val_loss``/``val_accuracy``
    (EarlyStopping's restored epoch, a weight average's final weights), else ``metric`` of the epoch
    EarlyStopping restored (``metrics["restored_epoch"]``, from 1), else of the last epoch; None
    without epochs. helper-243: a trial whose EarlyStopping restored epoch 3 was ranked by its last
    epoch's val_accuracy, a model it threw away (Keras Tuner ranks by the best epoch's)."""
    if metric in ("val_loss", "val_accuracy") and isinstance(metrics.get(metric), (int, float)):
        return metrics[metric]
    restored = metrics.get("restored_epoch")
    kept = history[restored - 1] if isinstance(restored, int) and 0 < restored <= len(history) else \
        history[-1] if history else {}
    return kept.get(metric)


def trial_metrics(task: TrialTask, state: str, direction: str, value: float | None = None,
                  pruned_at: int | None = None) -> dict[str, Any]:
    """What a trial's run records of its trial, in its metrics, whether it finished or raised: its
    number, ``state`` (one of :data:`STATES`), the searched metric, ``direction`` and the value, its
    parameters (with their log scales and names as the file writes them), the epoch the pruner
    stopped it at (None: not pruned) and the stopped trial it continues (None: a trial of its own).
    A failed trial's row in ``compare`` shows its parameters from them."""
    return dict(trial=task.number, trial_state=state, search_metric=task.metric, search_direction=direction,
                search_value=value, trial_params=task.params, trial_log_params=list(task.log_params),
                trial_param_names=dict(task.written), pruned_at_epoch=pruned_at, continues_trial=task.continues)


def _in_search_words(message: str | None, task: TrialTask) -> str | None:
    """A trial's run message as a search's user acts on it: a diverged run's ``try lr = 0.01 (--lr
    0.01)`` names a flag `mnistlab search` does not have; where the lr is searched, its range is
    what to lower."""
    if not message or "(--lr " not in message:
        return message
    message = re.sub(r" \(--lr [^)]*\)", "", message)
    return message + ("; train.lr is searched: lower its range's high" if "train.lr" in task.params else "")


def _continued(task: TrialTask, metrics: Mapping[str, Any]) -> str:
    """What a trial asked again for a stopped one took over: "continued trial 3 from epoch 5
    (batch 120)", "trained trial 3's epochs afresh" (no checkpoint was left), or "" (a trial of its own)."""
    if task.continues is None:
        return ""
    done, step = metrics.get("resumed_from_epoch") or 0, metrics.get("resumed_from_step") or 0
    if not (done or step):
        return f"trained trial {task.continues}'s parameters afresh: it left no checkpoint"
    return f"continued trial {task.continues} from epoch {done + 1}" + (f", batch {step + 1}" if step else "")


def run_trial(task: TrialTask) -> TrialResult:
    """Train one trial (any process with the store's disk), reporting to its Optuna trial at epoch
    ends, and record it. A Ctrl-C records the run interrupted and is raised again; its checkpoint
    stays for the trial asked again in its place (:func:`trial_checkpoint`)."""
    from mnistlab.execute import worker_training
    from mnistlab.store import RunStore

    t0 = time.perf_counter()
    optuna = _optuna()
    epochs = int(task.config.get("train", {}).get("epochs", 1))
    study = optuna.load_study(study_name=task.study, storage=open_storage(task.store_root),
                              sampler=optuna.samplers.RandomSampler(),
                              pruner=make_pruner(task.pruner, epochs, task.pruner_options))
    trial = optuna.Trial(study, task.trial_id)
    attach_s = time.perf_counter() - t0
    with RunStore(task.store_root) as store:
        try:
            cfg, run_cfg = trial_configs(task)
        except MnistlabError as exc:  # a combination of values the config refuses
            return TrialResult(task.number, "", "failed", None, "failed", str(exc))
        recorder = trial_recorder(store, task, cfg)
        pruning = PruningCallback(trial, task.metric)
        folder = trial_checkpoint(store, task)
        t1 = time.perf_counter()
        try:
            with worker_training():  # a --jobs worker told to stop (init_worker) raises KeyboardInterrupt here
                result = train_trial(task, run_cfg, [pruning], folder, resume=task.continues is not None,
                                     run_id=recorder.run_id)
        except BaseException as exc:
            stopped = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            status = recorder.fail(exc, metrics=trial_metrics(task, stopped, study.direction.name.lower()))
            if isinstance(exc, KeyboardInterrupt):
                raise
            return TrialResult(task.number, recorder.run_id, "failed", None, status, str(exc))
        with stop_signals_held():  # recorded, and its checkpoint settled, before a stop
            res = record_trial(recorder, task, cfg, result, pruning.pruned_at, study.direction.name.lower(),
                               time.perf_counter() - t1 - pruning.seconds, attach_s + pruning.seconds)
            if res.status != "interrupted":  # its result is recorded: nothing left to continue (no empty folder left)
                store.drop_checkpoint(task.experiment, *trial_cell(task))
        return res


def pool_trial(task: TrialTask) -> TrialResult:
    """:func:`run_trial` in a worker of :class:`LocalTrials`' pool (started by
    :func:`~mnistlab.execute.init_worker`): a worker told to stop (Ctrl-C, SIGTERM, its driver gone)
    records the trial it trains ``interrupted`` and takes no new one; either comes back as an
    ``interrupted`` result, which :func:`_tell` asks again."""
    from mnistlab.execute import worker_task

    with worker_task() as stopping:  # a worker whose driver is gone exits once this trial is recorded
        try:
            if not stopping:
                return run_trial(task)
        except KeyboardInterrupt:  # stopped before it trained (its run, if any, recorded interrupted)
            pass
        return TrialResult(task.number, "", "interrupted", None, "interrupted", "stopped before it trained")


def _checkpoint_every() -> float:
    from mnistlab.execute import checkpoint_every

    return checkpoint_every()


def trial_cell(task: TrialTask) -> tuple[str, str]:
    """The (variant, key) a trial's checkpoint is kept under: the trial it continues, else its own."""
    return trial_variant(task.number if task.continues is None else task.continues), "search trial"


def trial_checkpoint(store: Any, task: TrialTask) -> Path:
    """Where a trial keeps its checkpoint while it trains (in the store, as a sweep's cells do):
    the folder of the trial it continues (``task.continues``), else its own, so that a trial
    stopped by Ctrl-C or a dead driver is asked again and continues from its last checkpoint."""
    return store.checkpoint_dir(task.experiment, *trial_cell(task))


def train_trial(task: TrialTask, cfg: Any, callbacks: Sequence[Callback], folder: Path, *, resume: bool,
                run_id: str = "") -> Any:
    """:func:`~mnistlab.run.run_config` of a trial with ``callbacks`` (its pruning callback first),
    checkpointed in ``folder`` every ``task.checkpoint_every`` seconds, as a sweep's cells are, and
    with ``resume``, continuing from the checkpoint there (a trial asked again for a stopped one,
    or Ray's retry of a trial whose worker died); a checkpoint that cannot be read, or of other
    settings, is deleted with a warning and the trial trains from its first epoch. ``run_id``: the
    trial's recorded run, kept in its checkpoints (a trial asked again records the run it continued,
    ``metrics["resumed_from_run"]``, as a sweep's cell does). The result keeps the warnings said,
    that one too (:func:`~mnistlab.run.with_warnings_kept`)."""
    from mnistlab.run import with_warnings_kept

    return with_warnings_kept(lambda: _train_trial(task, cfg, callbacks, folder, resume=resume, run_id=run_id))


def _train_trial(task: TrialTask, cfg: Any, callbacks: Sequence[Callback], folder: Path, *, resume: bool,
                 run_id: str) -> Any:
    """:func:`train_trial`'s runs."""
    from mnistlab.run import run_config

    def run(resume: bool) -> Any:
        return run_config(cfg, data_dir=task.data_dir, progress="none", extra_callbacks=list(callbacks),
                          checkpoint_dir=folder, resume=resume, checkpoint_every=task.checkpoint_every,
                          run_id=run_id)
    if not resume:
        return run(False)
    try:
        return run(True)
    except CheckpointError as exc:
        warnings.warn(f"{exc}: it is deleted and trial {task.number} trains from its first epoch", SpecWarning,
                      stacklevel=user_level())
        shutil.rmtree(folder, ignore_errors=True)
        return run(False)


# ----------------------------------------------------------------------------------- driver
@dataclass
class SearchResult:
    """What :func:`run_search` did: the trials it ran (in the order they ended), the trials it asked
    again after a dead driver, and the seconds the driver spent in Optuna (ask, tell, recovery)."""

    study: str
    trials: list[TrialResult] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)
    driver_seconds: float = 0.0
    total: int = 0  # trials the search asks for
    timed_out: bool = False  # it stopped asking at the [search] table's timeout, short of total
    counted: int = 0  # the study's trials when it stopped (complete, pruned or failed: those ``total`` counts)
    setup_seconds: float = 0.0  # of driver_seconds: creating or loading the study and settling a dead driver's trials


def trial_base(base: Mapping[str, Any], quick: bool) -> dict[str, Any]:
    """The run config every trial starts from; ``quick``: a small subset and at most
    :data:`~mnistlab.experiments.QUICK_SEARCH_EPOCHS` epochs (two: a pruner sees a curve)."""
    from mnistlab.experiments import QUICK_SEARCH_EPOCHS, quick_config

    if not quick:
        return copy.deepcopy(dict(base))
    return quick_config(base, epochs=min(int((base.get("train") or {}).get("epochs", 5)), QUICK_SEARCH_EPOCHS))


def _ask(study: Any, space: SearchSpace, dists: Mapping[str, Any], name: str, base: Mapping[str, Any],
         store_root: str, data_dir: str | None, threads: int) -> TrialTask:
    from mnistlab.experiments import apply_dotted

    study.sampler = make_sampler(space, trials_drawn(study))  # trial n draws alike with or without a resume
    trial = study.ask({p.key: dists[p.key] for p in space.params if not p.when})
    for p in space.params:  # a conditional key, asked where its when holds (Optuna's define-by-run)
        if p.when and holds(p, trial.params):
            _suggest(trial, p.key, dists[p.key])
    trial.set_user_attr("pid", os.getpid())  # whose trial it is: a dead driver's are asked again (recover)
    trial.set_user_attr("host", socket.gethostname())
    params = {p.key: _decode(p, trial.params[p.key]) for p in space.params if p.key in trial.params}
    continues = trial.user_attrs.get(_CONTINUES)  # set where a stopped trial was queued again (_ask_again)
    return TrialTask(name, name, trial._trial_id, trial.number, apply_dotted(base, _merged_tables(base, params)), params,
                     space.metric,
                     space.pruner, store_root, data_dir, threads, tuple(p.key for p in space.params if p.log),
                     space.pruner_options, continues if isinstance(continues, int) else None,
                     tuple((p.key, p.written) for p in space.params if p.written and p.written != p.key))


def _suggest(trial: Any, name: str, dist: Any) -> Any:
    """``trial``'s value of ``name`` from the Optuna distribution ``dist``, by its public suggest call."""
    d = _optuna().distributions
    if isinstance(dist, d.CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, d.IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)


def _ask_again(study: Any, trial: Any) -> None:
    """Queue a stopped trial's parameters again (a stop or a dead driver failed it), naming the
    trial whose checkpoint the new one continues from: the first of the line, when it was itself
    asked again."""
    origin = trial.user_attrs.get(_CONTINUES)
    _retried(study.enqueue_trial, trial.params, user_attrs={_CONTINUES: origin if isinstance(origin, int) else trial.number},
             skip_if_exists=False)


def trials_drawn(study: Any) -> int:
    """The study's trials that have been asked, less those a stop killed (each is asked again under
    a new number with its parameters: :func:`_tell`, :func:`recover`), so that the count is the same
    with or without a stop. A waiting trial (queued: a killed one's, or a grid point) has drawn
    nothing yet: counted, the trial asked for it and the next would both draw from ``seed + n + 1``
    (a trial killed before Optuna gave it its parameters was asked again with none, and drew the
    next trial's values)."""
    waiting = _optuna().trial.TrialState.WAITING
    return sum(not t.system_attrs.get(_KILLED) and t.state != waiting for t in study.get_trials(deepcopy=False))


def same_trial(study: Any, store: Any, task: TrialTask) -> TrialResult | None:
    """A trial asked with the parameters of a complete trial of its study is not trained twice
    (its config and seed are the same: it would train to the same result, as a sweep's cell of the
    same config does): that trial's run is recorded again as this one's
    (:meth:`~mnistlab.store.RunStore.record_again`, ``env["same_run_as"]`` naming the run that
    trained) and its value returned, for :func:`_tell`. None where no complete trial has them (a
    pruned or failed one's parameters are trained again: a pruner's verdict depends on the trials
    around it), where that trial's run has another ``config_hash`` (:func:`~mnistlab.config.run_key`:
    the user's data edited since, another mnistlab version), or where its run's files are gone: the
    trial is then trained."""
    from mnistlab.config import run_key

    params = study._storage.get_trial(task.trial_id).params
    key = None
    for t in study.get_trials(deepcopy=False, states=(_optuna().trial.TrialState.COMPLETE,)):
        rid = t.user_attrs.get("run_id")
        if t.params != params or not isinstance(rid, str):
            continue
        try:
            key = key or run_key(trial_configs(task)[0].resolved())  # the data's content and mnistlab's version too
            source = store.get(rid)
            if source.metrics.get("trial_state") != "complete" or source.status != "finished" or source.config_hash != key:
                continue
            rec = store.record_again(source, variant=trial_variant(task.number), seed=source.seed, member=source.member,
                                     repeat=source.repeat, metrics={"trial": task.number, "trial_params": task.params,
                                                                    "continues_trial": None})  # (helper-137) its own
        except MnistlabError:  # its files gone (StoreError), or parameters the config refuses: trained, and said
            continue
        return TrialResult(task.number, rec.run_id, "complete", source.metrics.get("search_value"), rec.status,
                           f"the same parameters as trial {t.number}: its result, not trained twice")
    return None


def _tell(study: Any, task: TrialTask, res: TrialResult) -> None:
    """Record trial ``task``'s result ``res`` in the study, each write retried while SQLite says the
    file is locked (:func:`_retried`)."""
    states = _optuna().trial.TrialState
    if res.run_id:
        _retried(study._storage.set_trial_user_attr, task.trial_id, "run_id", res.run_id)
    if res.status == "interrupted":  # Ctrl-C: this trial is asked again by the next run
        _retried(study._storage.set_trial_system_attr, task.trial_id, _KILLED, True)
        _retried(study.tell, task.number, state=states.FAIL)
        _ask_again(study, _retried(study._storage.get_trial, task.trial_id))
    elif res.state == "complete":
        _retried(study.tell, task.number, res.value)
    else:
        _retried(study.tell, task.number, state=states.PRUNED if res.state == "pruned" else states.FAIL)


def _retried(write: Callable[..., Any], *args: Any, tries: int = 6, **kwargs: Any) -> Any:
    """``write(*args, **kwargs)``, a study storage's call, tried again (after 0.1, 0.2, 0.4 ... s)
    where SQLite answers "database is locked" at once, as it may when several ``--jobs`` workers
    and a stopping driver write together despite the busy timeout (a read transaction turned into
    a write: CI saw a traceback on SIGTERM); StoreError, one line, where it still is."""
    optuna = _optuna()
    for attempt in range(tries):
        try:
            return write(*args, **kwargs)
        except optuna.exceptions.StorageInternalError as exc:
            if "locked" not in str(exc.__cause__ or exc) or attempt == tries - 1:
                raise StoreError(f"{STUDY_FILE}: the study could not be written ({exc.__cause__ or exc})"[:300]) from None
            time.sleep(0.1 * 2 ** attempt)
    return None


class LocalTrials:
    """Trials trained on this machine: in this process (``jobs`` 1: each trial runs as it is
    submitted) or in ``jobs`` spawned processes splitting the cores. The interface
    :func:`run_search` drives (Ray's is :class:`mnistlab.backends.RayTrials`): ``slots``,
    ``threads``, ``len()`` (trials submitted and not yet handed back), ``submit``, ``wait`` and
    ``close``."""

    def __init__(self, jobs: int) -> None:
        self.slots = jobs
        self.threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else 0
        self.pool = None
        if jobs > 1:
            from mnistlab.execute import init_worker, quiet_resource_tracker

            quiet_resource_tracker()  # no "leaked semaphore" warning after a kill -9 of the driver
            # init_worker, as a sweep's workers: a stop handler, and a watch that stops the worker
            # once its driver is gone (kill -9), its trial recorded interrupted (asked again)
            self.pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=init_worker, initargs=(os.getpid(),))
        self.pending: dict[Future, TrialTask] = {}
        self.ready: list[tuple[TrialTask, TrialResult]] = []
        self.stopping = False  # stop() has told the workers to stop

    def __len__(self) -> int:
        return len(self.pending) + len(self.ready)

    def submit(self, task: TrialTask) -> None:
        """Start training ``task`` (inline: train it now)."""
        if self.pool is None:
            self.ready.append((task, run_trial(task)))
            return
        with stop_signals_held():  # a worker started here begins with them blocked, until init_worker's handler
            self.pending[self.pool.submit(pool_trial, task)] = task

    def wait(self) -> list[tuple[TrialTask, TrialResult]]:
        """The trials that ended (at least one, waiting for it), with their results."""
        if self.ready:
            out, self.ready = self.ready, []
            return out
        from mnistlab.execute import worker_result

        done, _ = wait(self.pending, return_when=FIRST_COMPLETED)
        return [(self.pending.pop(fut), worker_result(fut)) for fut in done]

    def stop(self) -> list[tuple[TrialTask, TrialResult]]:
        """Stop the trials still training (a Ctrl-C or SIGTERM to the driver, or one trial stopped by
        one): each worker records its run ``interrupted``. Returns every trial not yet handed back,
        with its result, as :meth:`wait` does; waits for the workers to record them."""
        out, self.ready = self.ready, []
        if self.pool is None or not self.pending:
            return out
        from mnistlab.errors import WorkerDied
        from mnistlab.execute import stop_workers, worker_result

        self.stopping = True
        with stop_signals_held(drop=True):  # stopping: a Ctrl-C more waits for the workers' records too
            stop_workers(self.pool)
            for fut, task in list(self.pending.items()):
                try:
                    res = worker_result(fut)
                except WorkerDied:  # killed: its run is settled by the next search (recover)
                    continue
                finally:
                    del self.pending[fut]
                out.append((task, res))
        return out

    def close(self) -> None:
        """Stop the pool: trials still training (a stop, an error in the driver) are stopped at once,
        as a sweep's cells are (:func:`~mnistlab.execute.stop_workers`), and their workers record
        them interrupted; the next search asks them again (:func:`recover`)."""
        if self.pool is None:
            return
        from mnistlab.execute import stop_workers

        with stop_signals_held(drop=self.stopping or bool(self.pending)):  # (stop() has taken the pending ones)
            if self.pending:
                stop_workers(self.pool)
            self.pool.shutdown(wait=True, cancel_futures=True)


def checked_base(exp: Any, data_dir: str | os.PathLike | None = None, *, files_here: bool = False,
                 quick: bool = False) -> Any:
    """The :class:`~mnistlab.config.RunConfig` every trial of search ``exp`` starts from
    (:func:`trial_base`), checked against its data (:func:`check_base_data`, which says what it
    raises): a search checks it before it makes its store."""
    from mnistlab.config import parse_run_config

    base_cfg = parse_run_config(trial_base(exp.base, quick), source=exp.source, check_model=False)
    check_base_data(exp, base_cfg, data_dir, files_here=files_here, quick=quick)
    return base_cfg


def check_base_data(exp: Any, base_cfg: Any, data_dir: str | os.PathLike | None = None, *, files_here: bool = False,
                    quick: bool = False, download: bool = True) -> None:
    """Check a search's ``[base]`` (``base_cfg``, its trials' :func:`trial_base`) against its data
    before any trial: a bad or missing data file, a class count, a validation split (a trial
    changes the model, not the data). Raises the first mistake at its line of ``exp``'s file, the
    others in its ``more``; ``quick``: the full-size base's mistakes too, as
    :func:`~mnistlab.execute.data_mistakes` says them. ``download=False``: a registered dataset whose
    files are not here is known by its registry entry (a dry run fetches nothing)."""
    from mnistlab.config import parse_run_config
    from mnistlab.errors import DataError, together
    from mnistlab.execute import mistake_line
    from mnistlab.run import run_data_mistakes

    def mistakes(config: Mapping[str, Any], here: bool = False) -> list[MnistlabError]:
        try:
            return run_data_mistakes(config, data_dir, files_here=here, download=download)
        except (DataError, SpecError) as exc:  # (a model that cannot be built: said at its line too)
            return [exc]

    found = [(m, "") for m in mistakes(base_cfg.resolved(), files_here)]
    if quick:  # a key at fault at both sizes in the full run's words (the user's values), one only there said so
        config = parse_run_config(trial_base(exp.base, False), source=exp.source, check_model=False).resolved()
        full = {getattr(m, "path", ()): m for m in mistakes(config)}
        found = [(full.pop(getattr(m, "path", ()), m), "") for m, _ in found]
        found += [(m, "; in the full run (--quick checks it too)") for m in full.values()]
    if not found:
        return
    said = []
    for mistake, tail in found:
        line = mistake_line(exp, "base", mistake)
        said.append(type(mistake)(f"{exp.source}{f':{line}' if line else ''}: {mistake}{tail}"))
        said[-1].line = line
    raise together(said, in_order=True)


@dataclass(frozen=True)
class SearchPlan:
    """What `mnistlab search` would do (:func:`plan_search`): its ``study``, the ``total`` trials it
    asks for, the trials the store's study holds by state (``complete``, ``pruned``, ``fail``,
    ``running``...) and how many of them count towards the total (:func:`counted_trials`)."""

    study: str
    total: int
    states: dict[str, int] = field(default_factory=dict)
    counted: int = 0

    @property
    def left(self) -> int:
        """The trials a search would still ask for."""
        return max(self.total - self.counted, 0)


def plan_search(exp: Any, store_root: str | os.PathLike | None, *, quick: bool = False,
                data_dir: str | os.PathLike | None = None, files_here: bool = False) -> SearchPlan:
    """`mnistlab search --dry-run`: the search ``exp`` checked as :func:`run_search` checks it before
    its first trial, nothing trained and nothing of the store written (the dataset's decoded cache may
    be, as ``run --dry-run`` writes it): its ``[base]`` against its data (a
    registered dataset's files found, not downloaded), and the store's study (at ``store_root``;
    None or none there: a new one), read from a copy of its file, against the file's ``[search]``
    table and base as a resume checks them. Raises what the search would: SpecError for a changed
    table or base, DataError for the data, StoreError for a study file that cannot be read."""
    from mnistlab.config import parse_run_config
    from mnistlab.experiments import study_name

    space = exp.search
    if space is None:
        raise SpecError(f"{exp.source}: has no [search] table: train its cells with `mnistlab run`")
    base = trial_base(exp.base, quick)
    base_cfg = parse_run_config(base, source=exp.source, check_model=False)
    check_base_data(exp, base_cfg, data_dir, files_here=files_here, quick=quick, download=False)
    name, total = study_name(exp.name, quick), min(space.trials, QUICK_TRIALS) if quick else space.trials
    root = None if store_root is None else Path(store_root)
    if root is None or not (root / STUDY_FILE).is_file():
        return SearchPlan(name, total)
    with study_file_errors(root), _readable_storage(root, copy=True) as storage:
        try:
            study = _optuna().load_study(study_name=name, storage=storage)
        except KeyError:  # no study of that name in the file
            return SearchPlan(name, total)
        _check_fingerprint(study, name, space, *study_settings(base, space))  # (its writes go to the copy)
        states = Counter(t.state.name.lower() for t in study.get_trials(deepcopy=False) if t.state.name != "WAITING")
        return SearchPlan(name, total, dict(states), counted_trials(study))


def param_said(p: Param) -> str:
    """A searched setting's distribution in words: ``log-uniform 0.0001 .. 0.3``, ``int 16 .. 128
    step 16``, ``choice of 3: [4], [8], [16]``."""
    when = "".join(f"{' when' if i == 0 else ','} {k} = {' | '.join(json.dumps(v) for v in vs)}"
                   for i, (k, vs) in enumerate(p.when))
    if p.kind == "choice":
        shown = ", ".join(json.dumps(c) for c in p.choices[:6]) + (", ..." if len(p.choices) > 6 else "")
        return f"choice of {len(p.choices)}: {shown}{when}"
    low, high = (int(p.low), int(p.high)) if p.kind == "int" else (p.low, p.high)
    kind = {"log_uniform": "log-uniform", "int": "int (log scale)" if p.log else "int"}.get(p.kind, p.kind)
    return f"{kind} {low:g} .. {high:g}" + (f" step {p.step:g}" if p.step else "") + when


# long: the ask / train / tell loop; its bookkeeping reads best in one place
def run_search(exp: Any, store: Any = None, *, jobs: int = 1, quick: bool = False,
               data_dir: str | os.PathLike | None = None,
               on_trial: Callable[[TrialResult], None] | None = None, runner: Any = None,
               on_start: Callable[[SearchResult], None] | None = None) -> SearchResult:
    """Run (or resume) the study of an experiment with a ``[search]`` table until it has ``trials``
    trials (complete, pruned or failed), each trained and recorded as a run in ``store``.

    ``jobs`` > 1 trains that many trials at once in spawned processes splitting the cores (the
    driver asks and tells; workers report epoch values through the study's storage). ``runner``
    (a :class:`mnistlab.backends.RayRunner`) trains each trial as a Ray task instead, as many at
    once as the cluster has room for: this process keeps the study and the store, and answers the
    workers' pruning questions (``jobs`` is then ignored). Ctrl-C records the interrupted runs and
    raises KeyboardInterrupt; the next call asks those trials again. ``on_start`` is called once
    the study is open (created, or resumed with the same table) and before the first trial.
    Raises SpecError when the experiment has no ``[search]``, ``jobs`` < 1, the study's table
    changed, or the study has trials whose runs were deleted from the store; DataError, before any
    trial, when the user's data file it trains on cannot be read.

    >>> result = run_search("recipes/lr-search.toml", quick=True)   # doctest: +SKIP
    """
    from mnistlab.execute import await_orphaned_workers
    from mnistlab.experiments import Experiment, load_experiment, study_name
    from mnistlab.live import end_plan, write_plan
    from mnistlab.store import RunStore

    if not isinstance(exp, Experiment):
        exp = load_experiment(exp)
    space = exp.search
    if space is None:
        raise SpecError(f"{exp.source}: has no [search] table: train its cells with `mnistlab run`")
    if jobs < 1:
        raise SpecError(f"--jobs must be at least 1, got {jobs}")
    _checkpoint_every()  # a bad MNISTLAB_CHECKPOINT_EVERY is said before the store is made (each trial reads it)
    base_cfg = checked_base(exp, data_dir, files_here=runner is None, quick=quick)  # ... and a data mistake
    st = store if isinstance(store, RunStore) else RunStore(store)
    name, base = study_name(exp.name, quick), trial_base(exp.base, quick)
    await_orphaned_workers(st, name)  # a driver killed just now: its workers are still recording their trials
    st.mark_stale()
    if (held := st.runs(experiment=name)) and not holds_search(st, name, held):
        raise SpecError(f'{exp.source}: name "{name}" is taken in {st.root} by {len(held)} run{"s" * (len(held) != 1)} '
                        "of an experiment (`mnistlab compare "
                        f'{name}`): its runs and these trials would mix; give this search a name of its own (name = "...")',
                        path=("name",))
    epochs = base_cfg.train.epochs
    t0 = time.perf_counter()
    study = open_study(name, space, st.root, epochs, *study_settings(base, space))
    total = min(space.trials, QUICK_TRIALS) if quick else space.trials
    runs = st.runs(experiment=name)
    if not runs and (told := sum(bool(t.user_attrs.get("run_id")) for t in study.get_trials(deepcopy=False))):
        raise SpecError(f"study {name} in {st.root / STUDY_FILE} has {told} trials but none of their runs is in the "
                        f"store (deleted?): `mnistlab rm -e {name}` deletes the study too, then search again")
    asked = [t for t in study.get_trials(deepcopy=False) if t.state.name != "WAITING"]  # (a grid's queued points)
    if (lost := sum(r.variant.startswith("trial-") for r in runs)) and not asked:
        raise SpecError(f"the store holds {lost} trial run{'s' * (lost != 1)} of search {name} that {st.root / STUDY_FILE} "
                        "does not know (the file was replaced, or copied without its -wal file): put the file back to "
                        f"resume the study, or `mnistlab rm -e {name}` deletes those runs, then search again")
    out = SearchResult(name, resumed=recover(study, runs), total=total)
    dists = distributions(space)
    dd = None if data_dir is None else str(data_dir)
    trials = LocalTrials(jobs) if runner is None else runner.trial_pool(study, st)
    write_plan(st.root, name, [], workers=trials.slots, trials=out.total)  # for `mnistlab watch`
    out.driver_seconds = out.setup_seconds = time.perf_counter() - t0
    if on_start is not None:
        on_start(out)
    ends = math.inf if space.timeout is None else time.monotonic() + space.timeout
    try:
        stopped = False
        try:
            while not stopped:
                while len(trials) < trials.slots and counted_trials(study) + len(trials) < out.total:
                    if time.monotonic() >= ends:  # Optuna's timeout: no new trial; those training finish
                        out.timed_out = True
                        break
                    t0 = time.perf_counter()
                    task = _ask(study, space, dists, name, base, str(st.root), dd, trials.threads)
                    same = same_trial(study, st, task)
                    out.driver_seconds += time.perf_counter() - t0
                    if same is not None:
                        _finish(study, task, same, out, on_trial)
                    else:
                        trials.submit(task)
                if not len(trials):
                    break
                for task, res in trials.wait():
                    _finish(study, task, res, out, on_trial)
                    stopped = stopped or res.status == "interrupted"  # a Ctrl-C reached that trial's worker
        except KeyboardInterrupt:  # (Ctrl-C, SIGTERM) to this driver
            stopped = True
        if stopped:  # the other trials in flight are stopped, told and said too, so each is asked again
            for task, res in trials.stop():
                _finish(study, task, res, out, on_trial)
            raise KeyboardInterrupt
        out.counted = counted_trials(study)
    finally:
        trials.close()
        end_plan(st.root, name)  # this process searches no more, though it may live on (a notebook)
        close_storage(st.root)  # search.sqlite alone holds the study (a copy of it without its -wal is whole)
    return out


def _finish(study: Any, task: TrialTask, res: TrialResult, out: SearchResult,
            on_trial: Callable[[TrialResult], None] | None) -> None:
    t0 = time.perf_counter()
    _tell(study, task, res)
    out.driver_seconds += time.perf_counter() - t0
    out.trials.append(res)
    if on_trial is not None:
        on_trial(res)


# ------------------------------------------------------------------------- reading the store
def is_search(runs: Sequence[Any]) -> bool:
    """Whether an experiment's runs are the trials of a search (their metrics carry ``trial``)."""
    return any("trial" in (r.metrics or {}) for r in runs)


def holds_search(store: Any, name: str, runs: Sequence[Any]) -> bool:
    """Whether ``name`` is a search's in ``store`` (a RunStore): its ``runs`` say so, or its
    study does (a search whose trials were all stopped before their first epoch, on Ray too,
    recorded runs without a trial in their metrics)."""
    if is_search(runs):
        return True
    if not (Path(store.root) / STUDY_FILE).is_file():
        return False
    try:
        return has_study(store.root, name)
    except StoreError:  # a damaged study file: said by the search that needs it, not by every run beside it
        return False


def trial_rows(runs: Sequence[Any]) -> list[dict[str, Any]]:
    """One dict per recorded trial (number, state, value, params, run id, metric, direction), by
    number. Each param is named as the file writes it (``model.layers[-1].units``, where the
    study's own key is ``model.layers.6.units``)."""
    out = []
    for r in runs:
        m = r.metrics or {}
        if "trial" not in m:
            continue
        names, logs = param_names(m), m.get("trial_log_params")
        line = m.get("continues_trial")  # the first trial of the line it continues, or its own number
        out.append({"trial": int(m["trial"]), "variant": r.variant, "state": m.get("trial_state"),
                    "line": line if isinstance(line, int) else int(m["trial"]),
                    "value": m.get("search_value"), "run_id": r.run_id, "params": _params_as_written(m),
                    "metric": m.get("search_metric"), "direction": m.get("search_direction", "maximize"),
                    "resumed": bool(m.get("resumed_from_epoch") or m.get("resumed_from_step")),  # (a checkpoint's)
                    "epochs": m.get("epochs_run"),  # None: a trial recorded before its log scales were
                    "log_params": None if logs is None else [names.get(k, k) for k in logs]})
    return sorted(out, key=lambda t: t["trial"])


def _params_as_written(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """A trial run's searched values, keyed as the file writes them (``trial_param_names``; runs
    recorded before it, and keys written as the study keeps them, by the study's key)."""
    names = param_names(metrics)
    return {names.get(k, k): v for k, v in (metrics.get("trial_params") or {}).items()}


def param_names(metrics: Mapping[str, Any]) -> dict[str, str]:
    """The study's key -> the key as the file writes it, of a trial run's params where they differ."""
    names = metrics.get("trial_param_names")
    return names if isinstance(names, dict) else {}


def _rank_key(direction: str) -> Callable[[Mapping[str, Any]], tuple[int, float]]:
    def key(t: Mapping[str, Any]) -> tuple[int, float]:
        v = t.get("value")
        if not isinstance(v, (int, float)):
            return (2, 0.0)
        return (0 if t.get("state") == "complete" else 1, -v if direction == "maximize" else v)
    return key


SHOWN_METRICS = ("val_accuracy",)  # search metrics the comparison table already has a column for (val acc)
TRIAL_FIELDS = ("trial", "trial_state", "search_metric", "search_value")  # a search's row fields (csv, json)


def rank_trials(rows: list[dict[str, Any]], runs: Sequence[Any]) -> list[dict[str, Any]]:
    """The comparison rows of a search, best trial first: complete trials by their value, then the
    pruned ones (a value from fewer epochs), then those without a value. Each row gains
    :data:`TRIAL_FIELDS` (the trial's number, state, the searched metric and its value; None but
    the metric for a run stopped before it recorded its trial) and a short ``note`` (``#1
    complete``; ``, val_loss 0.3120`` after it when no column shows the metric; ``, continued
    trial 2`` for a trial asked again for a stopped one; an interrupted trial, asked again under
    another number, has no rank, and no row once that one is recorded: helper-134, as a sweep shows
    a cell's latest run), and each searched param's value is a column named by its dotted key
    (``train.lr``)."""
    trials = {t["variant"]: t for t in trial_rows(runs)}
    if not trials:
        return rows
    direction, metric = next(iter(trials.values()))["direction"], next(iter(trials.values()))["metric"]
    key = _rank_key(direction)
    newest: dict[int, int] = {}
    for one in trials.values():
        newest[one["line"]] = max(newest.get(one["line"], one["trial"]), one["trial"])
    gone = {v for v, one in trials.items() if one["state"] == "interrupted" and newest[one["line"]] > one["trial"]}
    ranked = sorted((r for r in rows if r["variant"] not in gone), key=lambda r: key(trials.get(r["variant"], {})))
    keys = list(dict.fromkeys(k for t in trials.values() for k in t["params"]))
    i = 0
    for r in ranked:
        t = trials.get(r["variant"])
        for k in keys:  # one column per searched param, named by its dotted key
            r[k] = None if t is None else t["params"].get(k)
        if t is None:  # stopped before its first epoch recorded the trial: the fields, empty
            r.update(trial=None, trial_state=None, search_metric=metric, search_value=None)
            r["note"] = r.get("note") or "interrupted: asked again"
            continue
        r.update(trial=t["trial"], trial_state=t["state"], search_metric=t["metric"], search_value=t["value"])
        shown = t["metric"] in SHOWN_METRICS or not isinstance(t["value"], (int, float))
        if t["state"] == "interrupted":  # no outcome, so no rank: its trial is asked again under a new number
            r["note"] = "interrupted: asked again"
            continue
        if t["state"] == "failed":  # no value (Optuna's FAIL), so no rank; a diverged run's row says why
            said = str(r.get("note") or "").removeprefix("no result: 1 failed; ")  # compare's; "failed" says it
            r["note"] = "failed" + (f"; {said}" if said else "")
            continue
        i += 1
        r["note"] = f"#{i} {t['state']}" + ("" if shown else f", {t['metric']} {t['value']:.4f}") + (
            "" if t["line"] == t["trial"] else f", continued trial {t['line']}" if t["resumed"]
            else f", trial {t['line']}'s parameters trained afresh")  # (helper-151: "continued", with no checkpoint)
    return ranked


def ranked_runs(runs: Sequence[Any]) -> list[Any]:
    """The runs of a search's trials, best first, as :func:`rank_trials` ranks them (complete trials
    by their value, then pruned ones, then those without a value); other runs are left out."""
    trials = trial_rows(runs)
    if not trials:
        return []
    by_id = {r.run_id: r for r in runs}
    return [by_id[t["run_id"]] for t in sorted(trials, key=_rank_key(trials[0]["direction"]))]


def best_trial(runs: Sequence[Any]) -> Any:
    """The run of the best complete trial (by its value and the search's direction); SpecError if the
    runs are not a search's or none of its trials is complete."""
    if runs and not is_search(runs):
        raise SpecError("not a search: its runs are not the trials of a [search] table (see `mnistlab compare`)")
    ranked = ranked_runs(runs)  # complete trials with a value rank first, when there are any
    best = (ranked[0].metrics or {}) if ranked else {}
    if best.get("trial_state") != "complete" or not isinstance(best.get("search_value"), (int, float)):
        states = Counter((r.metrics or {}).get("trial_state") or r.status for r in runs)
        if not runs:
            raise SpecError("no complete trial recorded yet: run the search first (`mnistlab search FILE`)")
        said = ", ".join(f"{n} {state}" for state, n in states.items())
        raise SpecError(f"no trial is complete ({said}): `mnistlab compare` shows why; a search with other "
                        "settings (a lower learning rate, a narrower range) gives one")
    return ranked[0]


def best_experiment(runs: Sequence[Any], experiment: str, repeats: int = 3, chosen: Any = None) -> dict[str, Any]:
    """A plain experiment file (as data) training the best trial's config ``repeats`` times, on
    seeds after the trial's own: the trial won the search on its seed, so its score is an optimistic
    estimate of the setting (the winner's curse); fresh seeds measure the setting itself, and
    none of them trains the trial again. ``chosen``: a trial's run to write instead of the best
    (a runner-up, as Keras Tuner's ``get_best_hyperparameters(num_trials=3)`` gives them)."""
    rec = best_trial(runs) if chosen is None else chosen
    m = rec.metrics
    base = copy.deepcopy(rec.config)
    train = base.setdefault("train", {})
    first = int(train.get("seed") or 0) + 1
    train["seed"] = first
    seeds = f"seed {first}" if repeats == 1 else f"seeds {first}-{first + repeats - 1}"
    desc = (f"{'best ' * (chosen is None)}trial ({m['trial']}) of search {experiment}: {m['search_metric']} "
            f"{m['search_value']:.4f} "
            f"with {json.dumps(_params_as_written(m), sort_keys=True)}; trained on {seeds}, not the trial's own "
            f"{first - 1}: the best of a search is an optimistic score, fresh seeds measure the setting")
    name = f"{experiment}-best" if chosen is None else f"{experiment}-{trial_variant(int(m['trial']))}"
    return {"name": name, "description": desc, "repeats": repeats, "base": base}


def best_toml(runs: Sequence[Any], experiment: str, repeats: int = 3, chosen: Any = None) -> str:
    """:func:`best_experiment` as the text of a TOML experiment file."""
    from mnistlab._toml import dumps_toml

    notes = "".join(f"# {line}\n" for line in smoke_warning(runs, experiment))
    return (f"# written by `mnistlab search-best {experiment}`\n" + notes
            + dumps_toml(best_experiment(runs, experiment, repeats, chosen)))


def chance_warning(rec: Any) -> str | None:
    """A line where a trial's value (``rec``, a trial's run) is an accuracy near chance, at most 1.5
    times 1 / classes and 10 points above it (two classes: 60%, not 75%): the search found no
    setting that learns (helper-246: a winner at 0.15 of 10 classes was written unsaid); None otherwise."""
    from mnistlab.specs import ModelSpec

    m = rec.metrics or {}
    value, metric = m.get("search_value"), str(m.get("search_metric") or "")
    try:
        classes = ModelSpec.from_dict(rec.config["model"]).num_classes
    except (MnistlabError, KeyError, TypeError):
        return None
    if "acc" not in metric or not isinstance(value, (int, float)) or value > min(1.5 / classes, 1 / classes + 0.1):
        return None
    return (f"trial {m.get('trial')}'s {metric} {value:.4f} is near chance ({1 / classes:.0%} for {classes} classes): no "
            "trial learnt; widen or move the ranges (a lower learning rate, more epochs) before training it further")


def smoke_warning(runs: Sequence[Any], experiment: str) -> list[str]:
    """Lines saying that ``experiment`` is a ``--quick`` study (:func:`~mnistlab.experiments.study_name`), whose best
    trial, and so the file `search-best` writes, has a smoke run's size; none otherwise."""
    from mnistlab.experiments import QUICK_STUDY

    if not experiment.endswith(QUICK_STUDY):
        return []
    cfg = best_trial(runs).config
    subset, epochs = (cfg.get("data") or {}).get("subset"), (cfg.get("train") or {}).get("epochs")
    size = ", ".join([*([f"{subset} training images"] if subset else []), *([f"{epochs} epochs"] if epochs else [])])
    return [f"{experiment} is a --quick smoke study: this file keeps its trials' size ({size});",
            "raise data.subset and train.epochs to train it for real, or run the search without --quick"]


def write_best(runs: Sequence[Any], experiment: str, path: str | os.PathLike, repeats: int = 3,
               chosen: Any = None) -> Path:
    """Write :func:`best_toml` as a file at ``path`` (overwriting it); returns the path."""
    out = Path(path)
    text = best_toml(runs, experiment, repeats, chosen)
    try:
        write_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError as exc:
        raise MnistlabError(f"{out}: cannot write the experiment file: {exc.strerror or exc}") from None
    return out


def param_importances(store_root: str | os.PathLike, study: str) -> dict[str, float]:
    """Optuna's parameter importances (PED-ANOVA, Optuna's ``PedAnovaImportanceEvaluator``: Watanabe et al.
    2023) of a recorded study; {} with fewer than 2 complete trials.

    A store this process cannot write (a read-only mount, another user's files) is read from a
    temporary copy of its ``search.sqlite``: opening the study itself would write (WAL mode).
    Raises MnistlabError, one line, when the study cannot be read (a damaged or foreign file).
    """
    path = Path(store_root) / STUDY_FILE
    if not path.is_file():
        return {}
    optuna = _optuna()
    try:
        with _readable_storage(Path(store_root)) as storage:
            try:
                s = optuna.load_study(study_name=study, storage=storage)
            except KeyError:
                return {}
            complete = [t for t in s.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
            if len(complete) < 2:
                return {}
            # PED-ANOVA by name (helper-263: Optuna 5's default, where the figure said fANOVA; Optuna's fANOVA needs
            # scikit-learn): deterministic, and the same evaluator whichever Optuna >= 4 is installed
            with warnings.catch_warnings():  # (its ExperimentalWarning)
                warnings.simplefilter("ignore")
                evaluator = optuna.importance.PedAnovaImportanceEvaluator()
                found = optuna.importance.get_param_importances(s, evaluator=evaluator)
            return {str(k): float(v) for k, v in found.items()}
    except MnistlabError:
        raise
    except Exception as exc:  # sqlalchemy's and sqlite's errors, a copy that failed: any of them, one line
        raise MnistlabError(f"cannot read study {study} from {path}: {first_line(exc)}") from None


def store_writable(store_root: str | os.PathLike) -> bool:
    """Whether this process may write the store's study file (and the folder beside it), as
    :class:`~mnistlab.store.RunStore` decides it for ``runs.sqlite``."""
    root = Path(store_root)
    return os.access(root, os.W_OK) and os.access(root / STUDY_FILE, os.W_OK)


@contextmanager
def _readable_storage(store_root: Path, *, copy: bool = False) -> Iterator[Any]:
    """The study storage to read: the store's own (writable), else (or with ``copy``: nothing of the
    store written, a dry run's) a temporary copy of it."""
    if store_writable(store_root) and not copy:
        yield open_storage(store_root)
        return
    with tempfile.TemporaryDirectory(prefix="mnistlab-study-") as tmp:
        for suffix in ("", "-wal"):  # a WAL not yet checkpointed holds the newest trials
            src = store_root / f"{STUDY_FILE}{suffix}"
            if src.is_file():
                shutil.copyfile(src, Path(tmp) / src.name)
        storage = _optuna().storages.RDBStorage(storage_url(tmp), skip_table_creation=True)
        try:
            yield storage
        finally:
            storage.engine.dispose()


def refuse_deleting_trained(store: Any, name: str, runs: Sequence[Any]) -> None:
    """MnistlabError while a driver on this machine still trains experiment ``name`` (``runs``: its
    runs in ``store``), or a run of it trains here now: its runs and study would go from under it.
    What `rm -e` checks, its --dry-run too (the review of session 58: a preview said it would delete)."""
    from mnistlab.live import driver_alive, read_plan
    from mnistlab.store import trained_here_now

    live = trained_here_now(runs)
    plan = read_plan(store.root, name)
    driving = bool(plan and plan.get("host") == socket.gethostname() and plan.get("pid") != os.getpid()
                   and driver_alive(plan))
    if live or driving:  # the driver's pid where it lives (its workers stop with it: helper-124), else the run's
        pid = plan.get("pid") if driving and plan else live[0].pid
        raise MnistlabError(f"{name} is being trained now (process {pid} on this machine): stop it first, then delete "
                            "it; nothing deleted")


def may_hold_a_study(runs: Sequence[Any]) -> bool:
    """Whether an experiment of ``runs`` may have an Optuna study to delete with it: a search's (a trial
    stopped before it was recorded has only its variant's name), or a study whose runs are gone."""
    return bool(search_of_runs(runs) or any(r.variant.startswith(TRIAL_PREFIX) for r in runs) or not runs)


def delete_experiment(store: Any, name: str) -> tuple[Removal, bool]:
    """Delete every run of experiment ``name`` from ``store`` (a :class:`~mnistlab.store.RunStore`),
    its Optuna study when it is a search (so that searching again starts afresh) and its sweep
    plan (`mnistlab watch`); what `mnistlab rm -e` does. Returns (what was deleted: the runs' ids and
    how many sweep checkpoints, whether a study was deleted). The study goes first: when it cannot be deleted, no run is.

    Raises MnistlabError while a driver on this machine still trains the experiment (its runs and
    study would go from under it), or, for a search, when the study file cannot be read or written."""
    from mnistlab.live import remove_plan

    runs = store.runs(experiment=name)
    refuse_deleting_trained(store, name, runs)
    study = False  # a plain experiment has no study: the study file (or Optuna) is not needed
    if may_hold_a_study(runs):
        try:
            study = has_study(store.root, name) and delete_study(store.root, name)
        except MnistlabError as exc:  # the study file cannot be read, or Optuna is not installed
            raise StoreError(f"rm -e {name}: nothing deleted, as the search's study cannot be deleted first: "
                             f"{exc}") from None
    gone = store.rm(None, experiment=name)
    remove_plan(store.root, name)
    return gone, study


def delete_study(store_root: str | os.PathLike, study: str) -> bool:
    """Delete the Optuna study ``study`` from the store's ``search.sqlite`` (its trials, so that
    searching again starts afresh); False when there is no such study (or no file).
    Raises MnistlabError when the file cannot be opened or written."""
    if not (Path(store_root) / STUDY_FILE).is_file():
        return False
    optuna = _optuna()
    try:
        storage = open_storage(store_root)
        optuna.delete_study(study_name=study, storage=storage)
    except KeyError:
        return False
    except Exception as exc:  # sqlalchemy's errors, e.g. a read-only file
        raise MnistlabError(f"cannot delete study {study} from {Path(store_root) / STUDY_FILE}: {first_line(exc)}") from None
    close_storage(store_root)  # the deletion in the file itself: a copy without the -wal file holds it (helper-233:
    return True  # such a copy brought the deleted study back)


def has_study(store_root: str | os.PathLike, study: str) -> bool:
    """Whether the store's ``search.sqlite`` holds a study named ``study`` (False without the file).
    Raises StoreError, one line, when the file cannot be read (:func:`study_file_errors`)."""
    if not (Path(store_root) / STUDY_FILE).is_file():
        return False
    if _not_in_file(Path(store_root) / STUDY_FILE, study):  # (Optuna's storage costs 0.5 s to open: helper-196)
        return False
    with study_file_errors(store_root), _readable_storage(Path(store_root)) as storage:
        return any(s.study_name == study for s in storage.get_all_studies())


def _not_in_file(path: Path, study: str) -> bool:
    """Whether the study file at ``path`` plainly holds no study named ``study``: its ``studies`` table,
    read with sqlite3 alone, lacks the name. False where that cannot be told (the file damaged, another
    layout): Optuna's storage, opened then, says what is wrong."""
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as con:
            return con.execute("SELECT 1 FROM studies WHERE study_name = ?", (study,)).fetchone() is None
    except (sqlite3.Error, OSError, ValueError):
        return False


def search_of_runs(runs: Sequence[Any], store: Any = None) -> list[tuple[str, str]]:
    """(run id, experiment) of each run in ``runs`` that is a search's trial: its metrics say so, or
    (with ``store``, a RunStore) its experiment is a search's (a trial stopped before its first
    epoch recorded it: its study still holds the trial)."""
    searches: dict[str, bool] = {}

    def in_a_search(name: str) -> bool:
        if name not in searches:
            searches[name] = store is not None and holds_search(store, name, store.runs(experiment=name))
        return searches[name]
    return [(r.run_id, str(r.experiment)) for r in runs if "trial" in (r.metrics or {}) or in_a_search(str(r.experiment))]
