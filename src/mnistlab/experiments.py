"""Experiments: one TOML file declares a sweep; every cell is trained and recorded in the store.

An experiment file::

    name = "lr-sweep"            # optional; default: the file name without .toml
    repeats = 3                  # seeds per variant (train.seed, +1, +2, ...); table shows mean +- std, n
    [base]                       # a run config, exactly as `mnistlab train --config` reads it
    dataset = "fashion-mnist"
    model = { conv = [64, 64], pool = [true, true], dense = [128] }
    [train]                      # (inside [base]: write it [base.train])
    epochs = 5

    [[variants]]                 # each overrides keys of the base; dotted keys reach inside
    name = "narrow"              # optional: derived from the overrides ("conv=16/16")
    model.conv = [16, 16]
    [[variants]]                 # a position reaches into a list: a layer of the model (of a preset too)
    "model.layers[-2].activation" = "tanh"
    [[variants]]
    "train.lr" = 0.01
    committee = 5                # 5 members; their averaged softmax outputs are evaluated too
    [[variants]]                 # fine-tuning: each run starts from the weights of the run of "narrow" of
    name = "tuned"               # its seed, trained first (mnistlab.initial_weights.Start)
    weights = { variant = "narrow" }

    [grid]                       # Cartesian product (with each variant, or alone)
    "train.lr" = [0.01, 0.001]
    "model.activation" = ["relu", "tanh"]     # names like "lr=0.01,act=tanh"

    [[committees]]               # a committee across variants: every run of theirs, softmax outputs averaged
    name = "mixed"               # its row in `mnistlab compare`, after the variants'
    variants = ["narrow", "train.lr=0.01"]

    [resources]                  # where the cells train (flags of `mnistlab run` / `search` override these)
    backend = "ray"              # local (default) | ray
    address = "auto"             # the Ray cluster (default: a local one); only with backend = "ray"
    cpus_per_cell = 2            # CPUs each cell's Ray task reserves (default 1; above 0)
    gpus_per_cell = 0.5          # GPUs each reserves (default 0; a fraction up to 1, or a whole number)

A variant may also hold its own ``grid`` table, and its own ``resources = { cpus = 4, gpus = 1 }``
(Ray only: that variant's cells reserve that much; a flag overrides it too). Paths in the file (spec files, the user's data) are
relative to the file's folder; a variant's ``dataset`` table replaces the base's whole. Everything
is validated by :func:`load_experiment` before anything trains; mistakes are one-line
:class:`SpecError` naming the file and key.

A *cell* is one training run (variant x repeat x committee member). It is a pure function of its
resolved config, keyed by a hash of that config and the mnistlab version (:func:`cell_key`).
Training the cells is :func:`mnistlab.execute.run_experiment`'s job; comparing the variants,
:func:`mnistlab.comparison.compare`'s.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import math
import os
import re
import unicodedata
import warnings
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnistlab._toml import loads_toml, read_text_file, with_line
from mnistlab.errors import (WRITING_MARKS, MnistlabError, SpecError, SpecWarning, clip, did_you_mean, is_printable, key_hint,
                             printable, show, together, toml_repr, unknown_key, user_level)
from mnistlab.initial_weights import Start, split_start
from mnistlab.keypaths import (check_slice_value, is_position, is_slice, key_path, reaches_into_layers, set_at,
                               slice_bounds, slices_alone, written_key)
from mnistlab.specs import BUILDER_KEYS, COMPACT_KEYS, is_model_table

if TYPE_CHECKING:
    from mnistlab.search import SearchSpace
    from mnistlab.store import RunStore

EXPERIMENT_KEYS = ("name", "description", "repeats", "committee", "base", "variants", "grid", "search", "resources",
                   "committees")
COMMITTEE_KEYS = ("name", "variants", "description")
MAX_COMMITTEES = 100
VARIANT_META_KEYS = ("name", "description", "repeats", "committee", "grid", "resources")
RESOURCE_KEYS = ("backend", "address", "cpus_per_cell", "gpus_per_cell")
VARIANT_RESOURCE_KEYS = ("cpus", "gpus")
MAX_REPEATS = 1000
MAX_COMMITTEE = 100
MAX_CELLS = 10_000
MAX_FILE_BYTES = 1 << 20
QUICK_SUBSET = 300  # --quick: train images (test images: a sixth of it)
QUICK_COMMITTEE = 2
# Short names for derived variant names ("act=tanh" rather than "activation=tanh").
ABBREVIATIONS = {"activation": "act", "kernel_initializer": "init", "optimizer": "opt", "batch_size": "batch",
                 "additional_convolutions": "extra_conv", "validation": "val", "label_smoothing": "smooth"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$")
NAME_RULE = "ASCII letters, digits, '_', '-' or '.', starting with a letter or digit, at most 80"


def is_valid_name(name: object) -> bool:
    """Whether ``name`` may name an experiment or a committee (:data:`NAME_RULE`): one that every
    command can take back by name and every file system can hold."""
    return isinstance(name, str) and bool(_NAME_RE.match(name))


# ------------------------------------------------------------------------------------ data
@dataclass(frozen=True)
class Cell:
    """One training run of an experiment: a pure function of ``config`` (the resolved run config)."""

    experiment: str
    variant: str
    repeat: int
    member: int
    seed: int
    config: dict[str, Any]  # resolved run config (threads/device as in the file)
    key: str  # hash of the config (minus execution details) and the mnistlab version
    cpus: float | None = None  # its variant's own `resources` (Ray), None: the experiment's
    gpus: float | None = None
    # each of config["callbacks"]'s Keras `verbose` (what it prints, left out of the resolved config
    # and so of the key): the cell's callbacks print what Keras's do under `mnistlab run` too
    verbose: tuple[int, ...] = ()
    # the experiment file's absolute path ("" for one not read from a file): recorded in the run's
    # env["experiment_file"], so that two files of one name are told apart (helper-193; not in the key)
    source: str = ""
    after: str = ""  # the variant whose trained weights it starts from (weights = { variant = ... }); "" none
    # its start has no finished run yet (in the store given to Experiment.cells, or none given): its
    # config has no weights and its key is a placeholder no run has; it trains after that run
    pending: bool = False


@dataclass(frozen=True)
class Resources:
    """An experiment's ``[resources]`` table: each None where the file says nothing (the default,
    or a flag, decides). ``cpus_per_cell`` above 0; ``gpus_per_cell`` at least 0, a fraction only
    up to 1 (Ray's rule); ``backend`` local or ray."""

    backend: str | None = None
    address: str | None = None
    cpus_per_cell: float | None = None
    gpus_per_cell: float | None = None


@dataclass
class Variant:
    """A named set of overrides of the base config, trained ``repeats`` times x ``committee`` members."""

    name: str
    overrides: dict[str, Any]  # dotted key -> value
    config: dict[str, Any]  # the raw (validated) run config dict
    repeats: int = 1
    committee: int = 1
    cpus: float | None = None  # its own `resources = { cpus = ..., gpus = ... }` (Ray)
    gpus: float | None = None
    description: str = ""  # the file's words for it (the report shows them)
    written: dict[str, tuple[str | int, ...]] = field(default_factory=dict)  # override key -> its table's path in the file
    start: Start | None = None  # weights = { variant = "..." }: its runs start from that variant's (``config`` has no weights)


@dataclass(frozen=True)
class VariantCommittee:
    """A ``[[committees]]`` table: every run of ``variants`` (all their repeats and members), their
    test softmax outputs averaged and scored once they have all finished (a heterogeneous committee,
    as An et al. 2020 build from networks with different kernels)."""

    name: str
    variants: tuple[str, ...]
    description: str = ""


@dataclass
class Experiment:
    """A parsed, validated experiment file. ``cells()`` lists every training run it asks for."""

    name: str
    source: str
    base: dict[str, Any]
    variants: list[Variant]
    description: str = ""
    search: SearchSpace | None = None  # a [search] table: trials come from mnistlab.search, not cells
    resources: Resources = Resources()  # the [resources] table
    committees: tuple[VariantCommittee, ...] = ()  # the [[committees]] tables

    @property
    def starts_from_runs(self) -> bool:
        """Whether a variant starts from another's runs (``weights = { variant = ... }``): its cells'
        keys then depend on the store (:meth:`cells`' ``store``)."""
        return any(v.start is not None for v in self.variants)

    def committee_variants(self) -> dict[str, tuple[str, ...]]:
        """The ``[[committees]]`` as name -> the variants it gathers (what a comparison shows)."""
        return {c.name: c.variants for c in self.committees}

    def written_at(self, variant: str, path: Sequence[str | int]) -> tuple[str | int, ...]:
        """Where in the file the value at ``path`` of ``variant``'s run config is set, as a key path
        for :func:`~mnistlab._toml.line_of`: ``("variants", 2, "dataset")`` for a variant's own
        key, ``("variants", 2, "grid", "dataset")`` or ``("grid", "dataset")`` for a grid's,
        ``("base", "dataset")`` for one it keeps from ``[base]``."""
        v = next((v for v in self.variants if v.name == variant), None)
        return (*_written_in(tuple(path), v.written if v else {}, ("base",)), *path)

    def cells(self, *, quick: bool = False, store: RunStore | None = None, planning: bool = False) -> list[Cell]:
        """Every cell: variant x repeat x member, in file order. ``quick`` shrinks each one.

        A variant that starts from another's weights (``weights = { variant = "pretrain" }``) starts
        each cell from that variant's run of the same repeat and member (of its one run, where it has
        one), once ``store`` holds it finished: the cell's config then names that run's
        ``weights.safetensors`` (its key the file's SHA-256, as ``--weights RUN``'s run's). Before
        (or without a store) the cell is :attr:`Cell.pending`, trained after that run
        (:func:`mnistlab.execute.run_experiment`). ``planning`` (`run --dry-run`): a start variant with
        no run of its own yet whose config another variant's finished run trained (`run` records that
        run again as its) starts the cell from that run, as `run` will (helper-234: the dry run said
        such cells waited on a run that "ended without finishing", then `run` trained them).

        Raises SpecError for a search (its trials are asked from Optuna: :func:`mnistlab.search.run_search`)."""
        if self.search is not None:
            raise SpecError(f"{self.source}: has a [search] table: run the search with `mnistlab search {self.source}` "
                            f"(in Python, mnistlab.search.run_search({self.source!r}))",
                            source=self.source)
        made: dict[tuple[str, int, int], Cell] = {}
        counts = {v.name: self._counts(v, quick) for v in self.variants}
        levels = start_levels(self.variants)
        for v in sorted(self.variants, key=lambda v: levels[v.name]):  # each after the one it starts from
            repeats, members = counts[v.name]
            for r in range(repeats):
                for m in range(members):
                    its = None
                    if v.start is not None and v.start.variant in counts:  # (a partial experiment's: its data checked)
                        its = made.get((v.start.variant, *_paired(r, m, counts[v.start.variant])))
                    made[(v.name, r, m)] = self._cell(v, r, m, quick, its, store, planning)
        return [made[(v.name, r, m)] for v in self.variants
                for r in range(counts[v.name][0]) for m in range(counts[v.name][1])]

    @staticmethod
    def start_cell(cell: Cell, cells: Sequence[Cell]) -> Cell | None:
        """The cell of ``cells`` (:meth:`cells`' list) whose run ``cell`` starts from: of variant
        ``cell.after``, its repeat and member (its only one, where that variant has one); None for a
        cell that starts as its config says."""
        theirs = [c for c in cells if c.variant == cell.after] if cell.after else []
        if not theirs:
            return None
        want = _paired(cell.repeat, cell.member, (max(c.repeat for c in theirs) + 1, max(c.member for c in theirs) + 1))
        return next((c for c in theirs if (c.repeat, c.member) == want), None)

    @staticmethod
    def _counts(v: Variant, quick: bool) -> tuple[int, int]:
        """A variant's (repeats, committee members), ``quick``'s fewer."""
        return (1, min(v.committee, QUICK_COMMITTEE)) if quick else (v.repeats, v.committee)

    def _cell(self, v: Variant, r: int, m: int, quick: bool, its: Cell | None, store: RunStore | None,  # noqa: PLR0913
              planning: bool = False) -> Cell:
        """The cell of variant ``v``'s repeat ``r``, member ``m``; ``its``: the cell whose run it starts
        from (:meth:`cells`), found finished in ``store`` or pending."""
        from mnistlab.config import parse_run_config, run_named

        members = self._counts(v, quick)[1]
        d = copy.deepcopy(quick_config(v.config) if quick else v.config)
        seed = int((d.get("train") or {}).get("seed", 0)) + r * members + m
        d.setdefault("train", {})["seed"] = seed
        if "callbacks" in d:  # a checkpoint's {variant} and {seed}: a file of its own for each run
            d["callbacks"] = run_named(d["callbacks"], experiment=self.name, variant=v.name, seed=seed)
        start = None if v.start is None else {"variant": v.start.variant, "skip_mismatch": v.start.skip_mismatch}
        run = (None if its is None or its.pending or store is None
               else store.find_finished(self.name, its.variant, its.key, whole=True))
        if run is None and planning and its is not None and not its.pending and store is not None:
            run = store.find_finished(self.name, None, its.key, whole=True)  # (the run `run` records again as its variant's)
        if start is not None and run is not None:
            assert store is not None
            file = store.artifact_dir(run.run_id, must_exist=False) / "weights.safetensors"
            d["weights"] = {"file": str(file), "skip_mismatch": start["skip_mismatch"], "variant": start["variant"]}
        src = f'{self.source}: variant "{v.name}"'
        with warnings.catch_warnings():  # said once as the file loaded (_SaidOnce); again here, they
            warnings.simplefilter("ignore", SpecWarning)  # came once per cell (helper-174: 8 lines)
            parsed = parse_run_config(d, source=src, check_model=False)
        resolved, said = parsed.resolved(), tuple(int(getattr(c, "verbose", 0)) for c in parsed.callbacks)
        pending = start is not None and run is None
        key = cell_key({**resolved, "weights": {**start, "after": its.key if its else ""}} if pending and start else resolved)
        return Cell(self.name, v.name, r, m, seed, resolved, key, v.cpus, v.gpus, said if any(said) else (),
                    self.file_path(), v.start.variant if v.start else "", pending)

    def file_path(self) -> str:
        """The absolute path of the file this experiment was read from; "" where it was not read from
        one (a table given in Python) or the file is gone."""
        try:
            path = Path(self.source)
            return str(path.resolve()) if path.is_file() else ""
        except (OSError, ValueError):  # (a deleted current folder, a name the system refuses)
            return ""


def _paired(repeat: int, member: int, theirs: tuple[int, int]) -> tuple[int, int]:
    """The (repeat, member) of the run a cell of ``repeat``, ``member`` starts from, of a variant of
    ``theirs`` (repeats, members): the same numbers, or 0 where that variant has one."""
    return (repeat if theirs[0] > 1 else 0, member if theirs[1] > 1 else 0)


def start_levels(variants: Sequence[Variant]) -> dict[str, int]:
    """Each of ``variants`` by when it trains: 0 for one that starts as its config says, 1 for one that
    starts from the weights of a level-0 variant's runs (``weights = { variant = ... }``), and so on;
    one that starts from a variant not among them (or in a circle, which :func:`_start_mistakes`
    refuses) at the level its chain reaches."""
    starts = {v.name: v.start.variant if v.start else None for v in variants}

    def level(name: str, seen: frozenset[str] = frozenset()) -> int:
        after = starts.get(name)
        return 0 if after is None or after not in starts or name in seen else 1 + level(after, seen | {name})

    return {name: level(name) for name in starts}


def shared_runs(cells: Iterable[tuple[str, str, int]], *, trials: bool = False) -> list[str]:
    """A line for each set of variants with cells of one config and seed, given as (variant, cell
    key, seed) triples (an experiment's cells, or the recorded runs a comparison shows): a
    committee variant beside the plain variant it repeats (seed 0 of both), a grid value equal to
    another variant's. Such a run trains once and is recorded under each
    (:func:`mnistlab.execute.cells_to_train`), so their rows share its numbers and are not
    independent samples (a Welch test between them means nothing). Empty when no two variants
    share a run. ``trials``: the variants are a search's trials, one of which was given another's
    result (:func:`mnistlab.search.same_trial`)."""
    by_key: dict[str, list[tuple[str, int]]] = {}
    for variant, key, seed in cells:
        by_key.setdefault(key, []).append((variant, seed))
    shared: dict[tuple[str, ...], list[int]] = {}
    for same in by_key.values():
        if len(names := tuple(dict.fromkeys(variant for variant, _ in same))) > 1:
            shared.setdefault(names, []).append(same[0][1])
    lines = []
    for names, seeds in shared.items():
        listed = ", ".join(f'"{n}"' for n in names[:-1]) + f' and "{names[-1]}"'
        if trials:
            lines.append(f"trials {listed} asked the same parameters: one run, recorded under each (trained once), so "
                         "their rows are not independent samples")
            continue
        lines.append(f"variants {listed} train the same config with seed{'s' * (len(seeds) > 1)} "
                     f"{', '.join(map(str, sorted(seeds)))}: a run of one seed is the same under each (trained once "
                     "and recorded under each, or trained again to the same numbers), so their rows are "
                     'not independent samples; another "train.seed" in one draws new runs')
    return lines


def cell_key(resolved: Mapping[str, Any]) -> str:
    """Identity of a cell: the run's identity, :func:`mnistlab.config.run_key` (its resolved config
    minus where and how fast it runs, plus the code version and, for the user's own data, its
    files' SHA-256: editing the data reruns the cell)."""
    from mnistlab.config import run_key

    return run_key(resolved)


def variant_setting(resolved: Mapping[str, Any]) -> str:
    """What the runs of one variant share: the resolved config less its seeds.

    Repeats and committee members differ only in ``train.seed`` (and the validation split that
    follows it, and the statistics a first Normalization adapted from that split's training
    images), so runs with the same setting are samples of the same variant. The user's own data
    counts by its kind and options (:func:`~mnistlab.data.userdata.data_setting`), not its paths or
    content: nothing is read, and whether two runs trained on the same data is
    :func:`~mnistlab.comparison.same_data`'s to tell, by the SHA-256 each recorded; so are the weights
    a run started from (their file's path is no setting).
    """
    from mnistlab.data.userdata import data_setting

    train = dict(resolved.get("train") or {})
    seed = train.pop("seed", None)
    data = dict(resolved.get("data") or {})
    if data.get("split_seed") == seed:
        data.pop("split_seed", None)
    setting = {**resolved, "train": train, "data": data}
    if "model" in setting:
        setting["model"] = model_as_written(setting["model"])
    if "dataset" in setting:  # the user's own data by its kind and options: no file is read
        setting["dataset"] = data_setting(setting["dataset"])
    if isinstance(weights := setting.get("weights"), Mapping):  # the weights started from: by their SHA-256, which
        setting["weights"] = {k: v for k, v in weights.items() if k != "file"}  # same_data tells (a renamed file is the same)
    return cell_key(setting)


def model_as_written(model: Any) -> Any:
    """A recorded model as its file wrote it: a first Normalization the run adapted (``adapted``)
    without the mean and variance it learned from that run's training images, which differ with
    the seed that split them."""
    layers = model.get("layers") if isinstance(model, Mapping) else None
    if not (isinstance(layers, list) and layers and isinstance(layers[0], Mapping) and layers[0].get("adapted") is True):
        return model
    first = {k: v for k, v in layers[0].items() if k != "adapted"}
    return {**model, "layers": [{**first, "mean": None, "variance": None}, *layers[1:]]}


def same_setting(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two resolved configs are runs of one variant setting (:func:`variant_setting`), also
    where a fixed ``data.split_seed`` happens to equal one run's ``train.seed``: a resolved config
    cannot tell that run's split seed from one that follows its seed, so :func:`variant_setting`
    alone would split such a variant's repeats (split seed 1, seeds 0 and 1) into two settings."""
    if variant_setting(a) == variant_setting(b):
        return True

    def loose(c: Mapping[str, Any]) -> tuple[str, Any, Any]:
        """(the setting less any split seed, the split seed when it is not the run's seed, the split seed)"""
        data, seed = dict(c.get("data") or {}), (c.get("train") or {}).get("seed")
        split = data.pop("split_seed", None)
        return variant_setting({**c, "data": data}), (None if split == seed else split), split

    (la, ta, sa), (lb, tb, sb) = loose(a), loose(b)
    return la == lb and ((ta is None and sa == tb) or (tb is None and sb == ta))


def quick_config(raw: Mapping[str, Any], epochs: int = 1) -> dict[str, Any]:
    """The same run, shrunk for smoke tests: a small data subset and ``epochs`` (one; a search's
    quick trials take two: SWA from epoch 1, a cosine's warm-up the same share of them as of the run's)."""
    d = copy.deepcopy(dict(raw))
    data = d.setdefault("data", {})
    data["subset"] = min(int(data.get("subset") or QUICK_SUBSET), QUICK_SUBSET)
    val = data.get("validation")
    if isinstance(val, int) and not isinstance(val, bool) and val > 0:
        data["validation"] = max(1, data["subset"] // 6)
    train = d.setdefault("train", {})
    full, train["epochs"] = train.get("epochs", 5), epochs
    if isinstance(train.get("swa"), dict) and "start_epoch" in train["swa"]:
        train["swa"]["start_epoch"] = 1  # SWA still runs, from the first epoch
    schedule = train.get("schedule")
    warmup = schedule.get("warmup_epochs") if isinstance(schedule, dict) else None
    if all(isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < x < math.inf for x in (warmup, full)):
        schedule["warmup_epochs"] = warmup / full * epochs  # (a warm-up must end before the last epoch: else refused)
    from mnistlab.config import is_model_checkpoint

    for cb in d.get("callbacks") or ():  # helper-245: a smoke run's saves replaced the full run's best.safetensors
        if isinstance(cb, dict) and is_model_checkpoint(cb) and isinstance(cb.get("filepath"), str):
            cb["filepath"] = quick_filepath(cb["filepath"])
    return d


def quick_filepath(filepath: str) -> str:
    """Where a ``--quick`` smoke run's ModelCheckpoint saves: ``filepath`` with ``.quick`` before
    its suffix (``best.safetensors`` -> ``best.quick.safetensors``), never over the full runs' files.

    >>> quick_filepath("ckpt/e{epoch:02d}.safetensors")
    'ckpt/e{epoch:02d}.quick.safetensors'
    """
    folder, sep, name = filepath.rpartition("/")
    stem, dot, suffix = name.rpartition(".")
    return f"{folder}{sep}{stem}.quick.{suffix}" if dot and stem else f"{filepath}.quick"


def quick_alike(full: Sequence[Cell], quick: Sequence[Cell]) -> list[list[str]]:
    """The variants that ``--quick`` makes alike (``full`` and ``quick``: an experiment's ``cells()``
    and ``cells(quick=True)``): variants whose full-size settings differ only in what
    :func:`quick_config` shrinks (an epochs grid, a data subset), so that their smoke runs train one
    setting. Variants alike at full size too (a committee's size, repeats, threads) are not counted.
    Groups of two or more variant names, in file order; empty when every smoke run is its own."""
    def alike(c: Cell) -> tuple[str, str]:  # variant_setting takes the user's own data by its kind: its files too
        return variant_setting(c.config), json.dumps(c.config.get("dataset"), sort_keys=True, default=str)

    setting = {c.variant: alike(c) for c in full}
    by_setting: dict[tuple[str, str], dict[tuple[str, str], str]] = {}  # quick setting -> {full setting: 1st variant}
    for c in quick:
        by_setting.setdefault(alike(c), {}).setdefault(setting[c.variant], c.variant)
    return [list(names.values()) for names in by_setting.values() if len(names) > 1]


def is_quick(resolved: Mapping[str, Any], *, epochs: int = 1) -> bool:
    """Whether a resolved config is the size of a ``--quick`` smoke run: :func:`quick_config` leaves
    its setting as it is (one epoch, at most :data:`QUICK_SUBSET` train images). Read from the
    config alone, so it holds for runs recorded before this function existed; a run of that size
    trained without ``--quick`` counts too (by name, a larger setting of its variant is preferred).
    The values :func:`quick_config` may change are compared (:data:`QUICK_SHRINKS`), as the setting's
    key compares them (JSON: 1 and 1.0 differ), without hashing the whole config (helper-196: a
    table of 4,000 runs asked this 8,500 times, 4 s). ``epochs``: of a ``search --quick`` trial's
    size (:data:`QUICK_SEARCH_EPOCHS`; :func:`mnistlab.comparison.smoke_run` tells its runs)."""
    shrunk = quick_config(resolved, epochs=epochs)
    return all(_typed(_at(shrunk, path)) == _typed(_at(resolved, path)) for path in QUICK_SHRINKS)


#: The epochs of a ``search --quick`` trial (at most; one where the search's base has one)
QUICK_SEARCH_EPOCHS = 2


#: Where :func:`quick_config` writes: its data subset and validation count, epochs, SWA's start, a warm-up.
QUICK_SHRINKS = (("data", "subset"), ("data", "validation"), ("train", "epochs"), ("train", "swa", "start_epoch"),
                 ("train", "schedule", "warmup_epochs"))
_MISSING = object()


def _at(config: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` in ``config``, or a marker where there is none."""
    value: Any = config
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _typed(value: Any) -> tuple[type, Any]:
    """``value`` with its type: 1, 1.0 and True tell apart, as in JSON."""
    return type(value), value


QUICK_STUDY = "-quick"  # the suffix of a --quick search's study (:func:`study_name`)


def study_name(experiment: str, quick: bool) -> str:
    """The name a search's trials are recorded under (its Optuna study and its runs' experiment):
    ``--quick`` smoke searches are a study of their own, ``<experiment>-quick``."""
    return f"{experiment}{QUICK_STUDY}" if quick else experiment


# ------------------------------------------------------------------------------- loading
def load_experiment(path: str | os.PathLike) -> Experiment:
    """Read and validate an experiment file; every problem is a one-line SpecError (the mistakes
    of other variants in its ``more``, and where they are variants' mistakes, the experiment of
    the right variants in its ``partial``, so that a caller can check their data too:
    :func:`mnistlab.execute.load_checked`)."""
    p = Path(path)
    try:
        text = read_text_file(p, what="an experiment file", max_bytes=MAX_FILE_BYTES)
        data = loads_toml(text, source=str(p))
    except SpecError as exc:
        if p.suffix.lower() in EXPORTED and p.exists():  # its own words first (helper-150: "not a text file (invalid
            raise SpecError(f"{p}: an exported model, not an experiment: `predict`, `export` and `card` take a run id, "
                            "an experiment or a .safetensors file mnistlab wrote; an .onnx file runs in onnxruntime, as "
                            "its .md file beside it shows", source=str(p)) from None  # UTF-8)" came before them)
        if hint := _not_an_experiment_file(p, str(exc)):
            raise SpecError(f"{exc}{hint}", source=str(p)) from None
        raise
    _models_beside(data, p.parent)
    _data_beside(data, p.parent)
    try:
        return parse_experiment(data, source=str(p), default_name=p.stem)
    except SpecError as exc:
        every = [with_line(e, str(p), text) if isinstance(e, SpecError) else e for e in (exc, *exc.more)]
        exc.more = ()  # each said once, in the one list below (with_line may give exc itself back)
        first = together(every, in_order=True)
        first.partial = exc.partial
        raise first from None


def recorded_name(path: str | os.PathLike) -> str | None:
    """The name an experiment file records its runs under (its ``name``, or the file's stem), read
    without validating anything else: for deleting the runs of a file that has since gained a
    mistake. None when the file is no readable TOML table, no experiment file (it has none of
    ``[base]``, ``[[variants]]``, ``[grid]`` or ``[search]``, or has a run config's ``dataset`` or
    ``model`` at its top: a `mnistlab train --config` file, whose stem would name another
    experiment's runs), or its name is not a valid one."""
    p = Path(path)
    try:
        data = loads_toml(read_text_file(p, what="an experiment file", max_bytes=MAX_FILE_BYTES), source=str(p))
    except SpecError:
        return None
    if (not isinstance(data, Mapping) or not any(k in data for k in ("base", "variants", "grid", "search"))
            or any(k in data for k in ("dataset", "model"))):
        return None
    name = data.get("name", p.stem)
    return name if is_valid_name(name) else None


EXPORTED = (".onnx", ".pt", ".pth", ".torchscript", ".safetensors")  # export.SUFFIXES: what it writes


def _a_model_file(p: Path) -> bool:
    """Whether the JSON file ``p`` holds a model (its layers, or a Keras model's JSON) rather than settings."""
    try:
        data = json.loads(p.read_text(encoding="utf-8")[:4_000_000])
    except (OSError, ValueError, RecursionError):
        return False
    return is_model_table(data)


def _not_an_experiment_file(p: Path, error: str) -> str:
    """What a file that cannot be read as an experiment (``error``) probably was: a name without
    its .toml (a recipe's), or another format's file; "" when there is no better guess."""
    if p.suffix.lower() == ".toml":
        return ""
    if not p.exists():
        for candidate in (p.with_name(p.name + ".toml"), Path("recipes") / f"{p.name}.toml"):
            if candidate.is_file():
                return f" (did you mean {candidate}?)"
        return " (an experiment file ends in .toml)"
    if p.suffix.lower() == ".json" and "invalid TOML" in error:
        if _a_model_file(p):  # (helper-262: pointed at train --config, which refused it in turn)
            return f' (it is a model: an experiment names it as model = "{p.name}" in [base]; `mnistlab train --model {p}`)'
        return f" (an experiment file is TOML; a run config in JSON trains with `mnistlab train --config {p}`)"
    return " (an experiment file is TOML)" if "invalid TOML" in error or "not a text file" in error else ""


def _models_beside(data: dict[str, Any], folder: Path) -> None:
    """Spec files named by `model` in [base] or a variant are relative to the experiment file."""
    from mnistlab.config import model_beside

    variants = data.get("variants")
    tables = [data.get("base"), *(variants if isinstance(variants, list) else [])]  # wrong types: parse_experiment says so
    for table in tables:
        if isinstance(table, dict) and "model" in table:
            table["model"] = model_beside(table["model"], folder)


def _data_beside(data: dict[str, Any], folder: Path) -> None:
    """Data paths in [base] are relative to the experiment file, as spec files are, and so are the
    ModelCheckpoint paths of [base]'s and the variants' callbacks. (A variant's or a grid's data
    paths are made so where its config is made, :func:`_expand_variant`: its name keeps them as
    written.)"""
    from mnistlab.config import checkpoints_beside, weights_beside
    from mnistlab.data.userdata import data_beside

    variants = data.get("variants")
    tables = [data.get("base"), *(variants if isinstance(variants, list) else [])]
    if isinstance(tables[0], dict) and "dataset" in tables[0]:
        tables[0]["dataset"] = data_beside(tables[0]["dataset"], folder)
    if isinstance(tables[0], dict) and "weights" in tables[0]:
        tables[0]["weights"] = weights_beside(tables[0]["weights"], folder)
    for table in tables:
        if isinstance(table, dict) and "callbacks" in table:
            table["callbacks"] = checkpoints_beside(table["callbacks"], folder)


def _paths_beside(overrides: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """A variant's (or a grid point's) ``overrides`` with the paths of its ``dataset`` and ``weights``
    made relative to the experiment file's ``folder``, as [base]'s are (:func:`_data_beside`; helper-166:
    they were named by the path from the current folder)."""
    from mnistlab.config import weights_beside
    from mnistlab.data.userdata import data_beside

    return {k: data_beside(v, folder) if k == "dataset" else
            weights_beside(v, folder) if k in ("weights", "weights.file") else v for k, v in overrides.items()}


def _base_mistake(exc: SpecError) -> SpecError:
    """A mistake of [base] as said: a missing dataset with why [base] needs one (helper-121: every
    variant set its own, and "required key is missing" was all it said)."""
    if tuple(exc.path) == ("dataset",) and "required key is missing" in str(exc):
        return SpecError(f"{exc}: [base] is a whole run config, so it names a dataset even where every variant "
                         'sets its own (which replaces it): write the one most variants use, say dataset = "mnist"',
                         path=exc.path, source=exc.source)
    return exc


class _SaidOnce:
    """The SpecWarnings of an experiment's runs, each said once: a grid's cells are whole run configs
    checked one by one, so a warning of [base]'s (a ``min_lr`` that never acts) came again for every
    cell, 13 lines for 6 cells (helper-169). :meth:`hearing` takes those of the run ``place`` names
    (``"file.toml: [base]"``, ``'file.toml: [base] as "lr=0.1"'``); :meth:`say` says each text once,
    at the first place that gave it, with how many more gave the same."""

    def __init__(self) -> None:
        self.heard: dict[str, list[str]] = {}  # the text after the place -> the places that gave it

    @contextlib.contextmanager
    def hearing(self, place: str, *, counted_as: str | None = None) -> Iterator[None]:
        """Take the block's SpecWarnings that name ``place``; ``counted_as``: the place they count
        as (a file without variants or grid: its one variant is its [base], said once)."""
        caught: list[warnings.WarningMessage] = []
        try:
            with warnings.catch_warnings(record=True) as log:
                warnings.simplefilter("always")
                caught = log
                yield
        finally:  # also where the run's config is wrong: its warnings are said beside its mistake
            for w in caught:
                text = str(w.message)
                if issubclass(w.category, SpecWarning) and text.startswith(place + ":"):
                    places = self.heard.setdefault(text[len(place):], [])
                    if (counted_as or place) not in places:  # (helper-175: "the same for 1 more" of [base] alone)
                        places.append(counted_as or place)
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    def say(self) -> None:
        for text, places in self.heard.items():
            more = f" (the same for {len(places) - 1} more of the file's variants)" if len(places) > 1 else ""
            warnings.warn(places[0] + text + more, SpecWarning, stacklevel=user_level())
        self.heard.clear()


def parse_experiment(d: Mapping[str, Any], *, source: str = "<experiment>", default_name: str = "experiment") -> Experiment:
    """Validate an experiment given as plain data (what the TOML file holds).

    Every problem is a one-line SpecError whose ``path`` is the bad key's path in ``d`` (``("base",
    "train", "lr")``, ``("variants", 1, "train", "lrr")``, ``("grid", "train", "lr")``) and whose
    ``source`` is ``source``, so :func:`load_experiment` can name the file's line. A SpecWarning
    its runs give alike is given once (:class:`_SaidOnce`).
    """
    warned = _SaidOnce()
    try:
        return _parse_experiment(d, source, default_name, warned)
    finally:
        warned.say()


def _parse_experiment(d: Mapping[str, Any], source: str, default_name: str, warned: _SaidOnce) -> Experiment:
    """:func:`parse_experiment`, the runs' warnings heard by ``warned``."""
    if not isinstance(d, Mapping):
        raise SpecError(f"{source}: top level: must be a table, got {show(d)}", source=source)
    for key in d:
        if key not in EXPERIMENT_KEYS:
            raise _base_key_at_top(key, source) or unknown_key(key, EXPERIMENT_KEYS, where=f"{source}: top level",
                                                                 source=source)
    name = d.get("name", default_name)
    if not is_valid_name(name) and "name" not in d:  # helper-184: "name: must be ..." of a name never written
        raise SpecError(f"{source}: the file sets no name, and its file name ({show(name)}) cannot be one: a name is "
                        f"{NAME_RULE}; add name = \"...\" at its top", path=(), source=source)
    if not is_valid_name(name):
        raise SpecError(f"{source}: name: must be {NAME_RULE} (got {show(name)})", path=("name",), source=source)
    base = _base_table(d, source)
    known, start = _parsed_base(base, source, warned)
    try:
        resources, mistakes = parse_resources(d.get("resources", {}), source), []
    except SpecError as exc:  # said with the variants' mistakes below (a search: at once)
        resources, mistakes = Resources(), [exc, *exc.more]
        if "search" in d:
            raise
    if "search" in d:  # a search has no variants: its trials come from Optuna (mnistlab.search)
        from mnistlab.search import parse_search

        _check_search_name(name, "name" in d, source)

        parse_committees(d.get("committees", []), None, source)  # refused: a search has no variants
        if start is not None:
            raise SpecError(f'{source}: [base]: weights.variant: a search has no variants to start from: name a '
                            f'.safetensors file (weights = "pretrain.safetensors")', path=("base", "weights", "variant"),
                            source=source)
        search = parse_search(d["search"], d, base, known, source)
        return Experiment(name, source, dict(base), [Variant("base", {}, dict(base))], _description(d, source),
                          search, resources)
    repeats = _count(d, "repeats", 1, MAX_REPEATS, source)
    committee = _count(d, "committee", 1, MAX_COMMITTEE, source)
    top_grid = _grid(d.get("grid", {}), known, source, "grid", ("grid",))
    raw_variants = d.get("variants", [{}])
    if not isinstance(raw_variants, list) or not all(isinstance(v, Mapping) for v in raw_variants):
        raise SpecError(f"{source}: variants: must be a list of tables ([[variants]]), got {show(raw_variants)}",
                        path=("variants",), source=source)
    if not raw_variants:
        raw_variants = [{}]
    variants, found = _variants(raw_variants, base, known, top_grid, source, repeats, committee,
                                implicit=not d.get("variants"), warned=warned)
    as_cells, said = _named_as_grid_cells(raw_variants, source, bool(top_grid))  # (said: their other mistakes)
    variants, twice = _named_once(variants, raw_variants, source, said=said)
    written = {str(rv["name"]) for rv in raw_variants if isinstance(rv.get("name"), str)}  # (a wrong one: said already)
    tables = found_tables if isinstance(found_tables := d.get("committees"), list) else []
    across = {str(t["name"]) for t in tables if isinstance(t, Mapping) and isinstance(t.get("name"), str)}
    mistakes += found + as_cells + twice + _start_mistakes(variants, source, written, across)
    if mistakes:  # with the variants that are right, for a check of their data beside these mistakes
        first = together(mistakes)
        first.partial = Experiment(name, source, dict(base), variants, resources=resources) if variants else None
        raise first
    return Experiment(name, source, dict(base), variants, _description(d, source), resources=resources,
                      committees=parse_committees(d.get("committees", []), variants, source))


def _start_mistakes(variants: Sequence[Variant], source: str, written: Collection[str] = (),
                    committees: Collection[str] = ()) -> list[SpecError]:
    """The mistakes of the variants that start from another's weights (``weights = { variant = ... }``):
    a name the file has not (a grid's, with its points), the variant itself, variants that start from
    each other in a circle, more repeats or members than the variant started from has (unless it
    has one), and a model its trained weights cannot start (:func:`~mnistlab.initial_weights.start_mistake`);
    one mistake per place in the file. A start naming a variant ``written`` in the file whose own table
    is wrong (so not among ``variants``) is left to that table's mistakes; one naming a [[committees]]
    table (of ``committees``) is told it names no variant."""
    by_name = {v.name: v for v in variants}
    out: dict[tuple[str | int, ...], SpecError] = {}
    for v in variants:
        if v.start is None:
            continue
        at = (*_written_in(("weights", "variant"), v.written, ("base",)), "weights", "variant")
        named = v.start.variant  # a variant whose own table is wrong (not a grid's points): its mistakes are said
        if named in written and named not in by_name and not any(n.startswith(f"{named},") for n in by_name):
            continue
        if at not in out and named in committees and named not in by_name:  # (helper-210: "did you mean b?")
            out[at] = SpecError(f'{source}: variant "{v.name}": weights.variant: "{named}" is a committee across '
                                "variants ([[committees]]), which trains nothing of its own: start from one of its "
                                "variants", path=at, source=source)
        if at not in out and (said := _start_mistake(v, by_name, source, written)):
            out[at] = SpecError(said, path=at, source=source)
    return list(out.values())


def _start_mistake(v: Variant, by_name: Mapping[str, Variant], source: str, written: Collection[str] = ()) -> str:
    """What is wrong with variant ``v``'s start (:func:`_start_mistakes`), in a line; "" for nothing."""
    from mnistlab.config import parse_run_config
    from mnistlab.initial_weights import start_mistake

    assert v.start is not None
    named, where = v.start.variant, f'{source}: variant "{v.name}": weights.variant'
    if named not in by_name:
        if points := [n for n in by_name if n.startswith(f"{named},")]:
            return (f'{where}: "{named}" is a grid of {len(points)} variants: name the one to start from '
                    f"({', '.join(repr(p) for p in points[:3])}{', ...' if len(points) > 3 else ''})")
        return f'{where}: no variant "{named}" in this file{did_you_mean(named, [*by_name, *written])}'
    if named == v.name:
        return (f'{where}: "{named}" starts from its own weights (set in [base]? give "{named}" weights = false, '
                "a fresh initialisation)")
    chain = [v.name, named]
    while (nxt := by_name[chain[-1]].start) is not None and nxt.variant in by_name and chain[-1] != v.name:
        if nxt.variant in chain[1:]:
            break
        chain.append(nxt.variant)
    if chain[-1] == v.name:
        return f"{where}: variants that start from each other in a circle ({' -> '.join(chain)}): one must start fresh"
    theirs = by_name[named]
    for what, mine, its in (("repeats", v.repeats, theirs.repeats), ("committee members", v.committee, theirs.committee)):
        if its != 1 and its < mine:
            return (f'{where}: {mine} {what} start from "{named}"\'s {its}: each starts from the run of the same number '
                    f'(or from the one run, where "{named}" has one): give "{named}" {mine} or 1')
    mistake = start_mistake(parse_run_config(v.config, check_model=False).model_spec(), v.start,
                            parse_run_config(theirs.config, check_model=False).model_spec())
    return f'{source}: variant "{v.name}": {mistake}' if mistake else ""


def _parsed_base(base: Mapping[str, Any], source: str, warned: _SaidOnce) -> tuple[dict[str, Any], Start | None]:
    """``[base]`` validated as a run config (``warned`` hearing its warnings): what a variant may
    override (:func:`_known_view`), and the variant its ``weights`` start from (None: none)."""
    from mnistlab.config import parse_run_config

    try:
        own, start = split_start(base, f"{source}: [base]")  # (another variant's weights: the variants' to check)
        with warned.hearing(f"{source}: [base]"):
            base_cfg = parse_run_config(own, source=f"{source}: [base]", check_callbacks=False)  # variants add validation
    except SpecError as exc:
        if exc.apart:  # [base]'s several mistakes: each at its own line
            raise together([e.within("base", source=source) for e in exc.apart]) from None
        raise _base_mistake(exc).within("base", source=source) from None
    known = _known_view(own, base_cfg)
    if start is not None:  # (a variant may set "weights.skip_mismatch", or weights = false)
        known["weights"] = {"skip_mismatch": False, **base["weights"]}
    return known, start


def _check_search_name(name: str, written: bool, source: str) -> None:
    """Refuse a search named ``<x>-quick`` (``written``: by its ``name``, else by its file's): `mnistlab
    search --quick` of a search named ``x`` records under that name (:func:`study_name`), so each
    would resume the other's study (helper-132)."""
    if name.endswith(QUICK_STUDY):
        given = "" if written else " (the file's name: write name = \"...\" to give another)"
        raise SpecError(f'{source}: name: a search named "{name}"{given} shares its study with `mnistlab search '
                        f'--quick` of a search named "{name.removesuffix(QUICK_STUDY)}" (--quick records under '
                        f'<name>{QUICK_STUDY}): name it otherwise', path=("name",), source=source)


def _named_as_grid_cells(raw_variants: list[Mapping[str, Any]], source: str,
                         top_grid: bool) -> tuple[list[SpecError], set[str]]:
    """A SpecError, at its ``name``, for each variant named as a cell of another's grid is
    (``"rates,lr=0.1"`` or ``"rates,big"`` beside a grid named ``"rates"``, whose cells are
    ``"rates,lr=..."``; every named variant is a grid with ``top_grid``, a top-level one):
    `compare --variant rates`, plots and reports take a grid's cells by that name, and took it among
    them (helper-161, helper-164); and those names."""
    grids = {rv["name"] for rv in raw_variants if isinstance(rv.get("name"), str) and (top_grid or rv.get("grid"))}
    out, names = [], set()
    for i, rv in enumerate(raw_variants):
        name = rv.get("name")
        if isinstance(name, str) and (grid := next((g for g in grids if g != name and name.startswith(f"{g},")),
                                                   None)):
            out.append(SpecError(f'{source}: variant "{name}": a name of the form of the grid "{grid}"\'s cells '
                                 f'("{grid},KEY=VALUE"), so `--variant {grid}` would take it among them: name it '
                                 "otherwise", source=source, path=("variants", i, "name")))
            names.add(name)
    return out, names


def _as_seen(name: str) -> str:
    """``name`` as it looks: composed (NFC), without the invisible :data:`~mnistlab.errors.WRITING_MARKS`."""
    return unicodedata.normalize("NFC", "".join(c for c in name if c not in WRITING_MARKS))


def _named_once(variants: list[Variant], raw_variants: list[Mapping[str, Any]], source: str, *,
                said: set[str] | None = None) -> tuple[list[Variant], list[SpecError]]:
    """The variants with a name of their own (the first of each name), and a SpecError for each
    name given twice, at the second table's ``name`` where it names it; none for the names in
    ``said`` (a mistake of theirs is said already)."""
    kept: dict[str, Variant] = {}
    twice: list[SpecError] = []
    said = set() if said is None else said
    seen: dict[str, str] = {}  # each name as it looks: the first name that looks so
    for v in variants:
        looks = seen.setdefault(_as_seen(v.name), v.name)
        if looks != v.name and v.name not in said:  # helper-186: "small" and "small" + a joiner, two rows alike
            said.add(v.name)
            named = [i for i, rv in enumerate(raw_variants) if rv.get("name") == v.name]
            twice.append(SpecError(f'{source}: variants "{printable(looks, marks=False)}" and "{printable(v.name, marks=False)}" '
                                   "look alike (they differ in invisible marks, or in composed and decomposed accents): "
                                   "give them names that differ to the eye", source=source,
                                   path=("variants", named[0], "name") if named else ()))
            continue
        if v.name not in kept:
            kept[v.name] = v
        elif v.name not in said:
            said.add(v.name)
            named = [i for i, rv in enumerate(raw_variants) if rv.get("name") == v.name]  # the second's line, if named
            if len(named) > 1:
                twice.append(SpecError(f'{source}: two variants are named "{v.name}"; give them distinct names',
                                       source=source, path=("variants", named[1], "name")))
                continue
            # derived from a grid's values (helper-143: 0.001 and 0.0010 print alike; no line was said): said at
            # the key whose values differ though they print alike (helper-145), else where the variant is written
            first = kept[v.name]
            key = next((k for k in v.written if repr(first.overrides.get(k)) != repr(v.overrides.get(k))), None)
            alike = (f" ({first.overrides[key]!r} and {v.overrides[key]!r} print alike)"
                     if key is not None and key in first.overrides else " (a grid gives one value twice)")
            key = key if key is not None else next(iter(v.written), None)  # (the same values: the grid's first key)
            at = (*v.written[key], key) if key is not None else ()
            twice.append(SpecError(f'{source}: two variants are named "{v.name}"{alike}: give them distinct names, or '
                                   "drop one", source=source, path=at))
    return list(kept.values()), twice


def _variants(raw_variants: list[Mapping[str, Any]], base: Mapping[str, Any], known: dict[str, Any],
              top_grid: list[tuple[str, list[Any]]], source: str, repeats: int, committee: int, *,
              implicit: bool = False, warned: _SaidOnce) -> tuple[list[Variant], list[SpecError]]:
    """The variants the ``[[variants]]`` tables expand to (their grids crossed with the top grid;
    ``implicit``: the file has none, and its one variant is named ``[base]`` in messages), and the
    mistakes of the tables that are wrong: each table is checked on its own, so one pass finds
    every bad one. SpecError at once when the runs exceed ``MAX_CELLS``."""
    variants: list[Variant] = []
    mistakes: list[SpecError] = []
    for i, rv in enumerate(raw_variants):
        name = rv.get("name")  # said as the run's messages and the data check say it; by position while it has none
        where = ("[base]" if implicit else f'variant "{clip(printable(name), 40)}"' if isinstance(name, str) and name
                 else f"variants[{i}]")
        try:
            variants += _expand_variant(rv, base, known, top_grid, source, where, ("base",) if implicit else ("variants", i),
                                        repeats, committee, warned)  # (implicit: its settings are [base]'s, helper-193)
        except SpecError as exc:
            for each in (exc, *(m for m in exc.more if isinstance(m, SpecError))):
                each = _grid_hint(each)
                if _mistake_key(each) not in {_mistake_key(m) for m in mistakes}:  # a bad top-level grid value
                    mistakes.append(each)  # is every variant's: said once
            exc.more = ()
        total = sum(v.repeats * v.committee for v in variants)
        if total > MAX_CELLS:
            too_many = SpecError(f"{source}: {total:,}+ runs requested; at most {MAX_CELLS:,} per experiment",
                                 source=source)
            too_many.more = tuple(mistakes)
            raise too_many
    return variants, mistakes


def _grid_hint(exc: SpecError) -> SpecError:
    """``exc``, a variant's setting that was given a list where one value goes, with where a list of
    values to try goes: the variant's grid (helper-228: ``"train.lr" = [0.001, 0.01]`` in a variant
    was only "must be a valid number (got array ...)")."""
    path = exc.path
    if not (len(path) > 2 and path[0] == "variants" and "(got array" in str(exc)):
        return exc
    key = ".".join(str(p) for p in path[2:])
    hinted = exc.within(message=f'{exc}; to train one run for each value, put the list in the variant\'s grid: '
                                f'grid = {{ "{key}" = [...] }} (in Python, "grid": {{"{key}": [...]}})')
    hinted.more = exc.more
    return hinted


def _mistake_key(exc: SpecError) -> tuple[Any, ...]:
    """What tells two mistakes apart: where in the file, for a top-level grid's value (every
    variant crosses it, each naming itself); else the message and where (two tables of one name
    may say one thing at two keys)."""
    return exc.path if exc.path[:1] == ("grid",) else (str(exc), exc.path)


def parse_committees(tables: Any, variants: list[Variant] | None, source: str) -> tuple[VariantCommittee, ...]:
    """Validate an experiment's ``[[committees]]`` (see :class:`VariantCommittee`): each has a
    ``name`` (the rules of an experiment's name, unlike any variant's or other committee's) and
    ``variants``, names of the file's variants (grid variants by their derived names), together at
    least 2 runs, all scored on one test set (the same ``dataset`` and ``data.subset``). Every
    problem is a one-line SpecError at the bad key's path (``("committees", 0, "variants", 1)``);
    ``variants`` None (a search: no variants) refuses any table."""
    if variants is None and tables != []:
        first: tuple[str | int, ...] = ("committees", 0) if isinstance(tables, list) else ("committees",)  # its line
        raise SpecError(f"{source}: committees: a [search] has no variants to gather: its best trials are "
                        "written out with `mnistlab search-best`", path=first, source=source)
    if not isinstance(tables, list) or not all(isinstance(t, Mapping) for t in tables):
        raise SpecError(f"{source}: committees: must be a list of tables ([[committees]]), got {show(tables)}",
                        path=("committees",), source=source)
    if len(tables) > MAX_COMMITTEES:
        raise SpecError(f"{source}: committees: at most {MAX_COMMITTEES}, got {len(tables)}", path=("committees",),
                        source=source)
    by_name = {v.name: v for v in variants or []}
    taken = set(by_name)
    out: list[VariantCommittee] = []
    for i, t in enumerate(tables):
        at: tuple[str | int, ...] = ("committees", i)
        where = f"{source}: committees[{i}]"
        for key in t:
            if key not in COMMITTEE_KEYS:
                raise unknown_key(key, COMMITTEE_KEYS, where=where, path=at, source=source)
        name = t.get("name")
        if name is None:
            raise SpecError(f"{where}: name is missing: the committee's row is shown under it", path=at, source=source)
        if not is_valid_name(name):
            raise SpecError(f"{where}: name: must be {NAME_RULE} (got {show(name)})", path=(*at, "name"), source=source)
        if name in taken:
            what = "a variant" if name in by_name else "another committee"
            raise SpecError(f'{where}: name: "{name}" is already {what}\'s name; the table shows both: choose another',
                            path=(*at, "name"), source=source)
        taken.add(name)
        names = _committee_variants(t.get("variants"), by_name, where, (*at, "variants"), source, tables)
        out.append(VariantCommittee(name, tuple(names), _description(t, source, where, at)))
    return tuple(out)


def _description(table: Mapping[str, Any], source: str, where: str | None = None, at: tuple[str | int, ...] = ()) -> str:
    """A table's ``description`` (empty when absent); SpecError when it is not a string. ``where``:
    how the error names the table (``source`` itself at the top level), ``at`` its path."""
    description = table.get("description", "")
    if not isinstance(description, str):
        raise SpecError(f"{where or source}: description: must be a string, got {show(description)}",
                        path=(*at, "description"), source=source)
    return description


def _committee_variants(names: Any, by_name: Mapping[str, Variant], where: str, at: tuple[str | int, ...],
                        source: str, tables: Sequence[Mapping[str, Any]]) -> list[str]:
    """A ``[[committees]]`` table's ``variants`` (at path ``at``), checked: see :func:`parse_committees`
    (``tables``: all of them, to say so when one names another)."""
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise SpecError(f"{where}: variants: must be a list of variant names, e.g. [\"a\", \"b\"], got "
                        f"{show(names)}", path=at, source=source)
    # a [[variants]] entry with a grid of its own stands for its variants, as in compare --variant; each
    # name keeps its place in the file's list (an error's line, helper-144)
    families = {n: [n] if n in by_name else grid_family(n, by_name) or [n] for n in names}
    placed = [(k, m) for k, n in enumerate(names) for m in families[n]]
    for n, family in families.items():  # (helper-234: a [grid] added later made one variant's committee span every
        if len(family) > 1:  # point of it)
            warnings.warn(f'{where}: variants: "{clip(n, 60)}" is a grid of {len(family)} variants '
                          f"({clip(', '.join(family), 120)}): the committee gathers the runs of all of them; name "
                          "one to gather its alone", SpecWarning, stacklevel=user_level())
    names = [m for _, m in placed]
    for i, (k, n) in enumerate(placed):
        if n not in by_name and any(t.get("name") == n for t in tables):
            raise SpecError(f'{where}: variants: "{clip(n, 60)}" is a committee: a committee gathers variants, not '
                            "committees; list its variants here", path=(*at, k), source=source)
        if n not in by_name:
            hint = did_you_mean(n, by_name) or f"; the variants: {clip(', '.join(by_name), 200)}"
            raise SpecError(f'{where}: variants: no variant is named "{clip(n, 60)}"{hint}', path=(*at, k),
                            source=source)
        if names.index(n) != i:
            raise SpecError(f'{where}: variants: "{clip(n, 60)}" is listed twice', path=(*at, k), source=source)
    chosen = [by_name[n] for n in names]
    if sum(v.repeats * v.committee for v in chosen) < 2:
        raise SpecError(f'{where}: variants: a committee needs at least 2 runs; "{clip(names[0], 60)}" trains one: '
                        "add a variant, or repeats or committee to it", path=at, source=source)
    test_sets = {_test_set(v.config): v.name for v in chosen}
    if len(test_sets) > 1:
        first, other = list(test_sets.values())[:2]
        raise SpecError(f'{where}: variants: "{clip(first, 40)}" and "{clip(other, 40)}" are scored on different test '
                        "sets (their dataset, data.subset or data.test_seed differ): a committee averages predictions of "
                        "the same images", path=at, source=source)
    return names


def _test_set(config: Mapping[str, Any]) -> str:
    """What fixes a variant's test images: its dataset and ``data.subset`` and, for the user's own
    data (which may carve its test split), ``data.test_seed`` too."""
    from mnistlab.data.registry import list_datasets

    data = config.get("data") or {}
    dataset = config.get("dataset")
    own = not (isinstance(dataset, str) and dataset in {d.name for d in list_datasets()})
    return repr((dataset, data.get("subset"), data.get("test_seed") or 0 if own else None))


def _base_table(d: Mapping[str, Any], source: str) -> Mapping[str, Any]:
    """The experiment's [base] table; refuses a missing or non-table one, and an experiment key
    (``repeats``, ``description``...) that TOML filed under [base] because it was written below
    the ``[base]`` line."""
    if not d:
        raise SpecError(f"{source}: the file holds no settings (empty, or comments only): an experiment is a [base] "
                        "run config and [[variants]] that "
                        "change it (recipes/quickstart.toml is one)", source=source)
    if "base" not in d:
        raise SpecError(f"{source}: [base] is missing: it holds the run config the variants change", source=source)
    base = d["base"]
    if not isinstance(base, Mapping):
        raise SpecError(f"{source}: base: must be a table ([base]), got {show(base)}", path=("base",), source=source)
    for key in base:
        if key in EXPERIMENT_KEYS and key not in ("base", "variants"):  # TOML files a key under the last [table]
            raise SpecError(f"{source}: [base]: {key} is an experiment setting, not a run setting: write it above "
                            "[base] (in TOML a key belongs to the last [table] line above it)",
                            path=("base", key), source=source)
    return base


def parse_resources(table: Any, source: str) -> Resources:
    """Validate an experiment's ``[resources]`` table (see the module docstring); every problem
    is a one-line SpecError at the bad key's path (``("resources", "gpus_per_cell")``)."""
    if not isinstance(table, Mapping):
        raise SpecError(f"{source}: resources: must be a table ([resources]), got {show(table)}",
                        path=("resources",), source=source)
    where = f"{source}: [resources]"
    problems = [unknown_key(key, RESOURCE_KEYS, where=where, path=("resources",), source=source)
                for key in table if key not in RESOURCE_KEYS]
    backend, address = table.get("backend"), table.get("address")
    if backend is not None and backend not in ("local", "ray"):
        problems.append(SpecError(f'{where}: backend: must be "local" or "ray", got {show(backend)}',
                                  path=("resources", "backend"), source=source))
    if address is not None and (not isinstance(address, str) or not address.strip()):
        problems.append(SpecError(f"{where}: address: must be auto, HOST:PORT or ray://HOST:PORT, got {show(address)}",
                                  path=("resources", "address"), source=source))
    elif address is not None and backend != "ray":
        problems.append(SpecError(f'{where}: address: only applies with backend = "ray"',
                                  path=("resources", "address"), source=source))
    amounts = []
    for key, what in (("cpus_per_cell", "CPUs"), ("gpus_per_cell", "GPUs")):
        try:
            amounts.append(_amount(table, key, what, where, ("resources",), source))
        except SpecError as exc:  # each mistake of the table said, not its first alone (helper-115)
            problems.append(exc)
    if problems:
        raise together(problems, in_order=True)
    return Resources(backend, address, *amounts)


def _amount(table: Mapping[str, Any], key: str, what: str, where: str, at: tuple[str | int, ...],
            source: str) -> float | None:
    """A CPU or GPU amount for a Ray task, or None when absent: CPUs above 0, GPUs at least 0 and,
    above 1, whole (Ray takes a fraction of one GPU, not of several)."""
    if key not in table:
        return None
    v = table[key]
    path = (*at, key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise SpecError(f"{where}: {key}: must be a number of {what}, got {show(v)}", path=path, source=source)
    if what == "CPUs" and v <= 0:
        raise SpecError(f"{where}: {key}: must be above 0, got {v}", path=path, source=source)
    if v < 0:
        raise SpecError(f"{where}: {key}: must be at least 0, got {v}", path=path, source=source)
    if what == "GPUs" and v > 1 and v != int(v):
        raise SpecError(f"{where}: {key}: a GPU fraction must be at most 1 (Ray shares one GPU, not several); "
                        f"got {v}: use a whole number above 1", path=path, source=source)
    return float(v)


def _variant_resources(rv: Mapping[str, Any], source: str, where: str,
                       at: tuple[str | int, ...]) -> tuple[float | None, float | None]:
    """A variant's own ``resources = { cpus = ..., gpus = ... }``: (cpus, gpus), each None if absent."""
    table = rv.get("resources", {})
    if not isinstance(table, Mapping):
        raise SpecError(f"{source}: {where}: resources: must be a table such as {{ cpus = 2 }}, got {show(table)}",
                        path=(*at, "resources"), source=source)
    for key in table:
        if key not in VARIANT_RESOURCE_KEYS:
            raise unknown_key(key, VARIANT_RESOURCE_KEYS, where=f"{source}: {where}: resources",
                              path=(*at, "resources"), source=source)
    label = f"{source}: {where}: resources"
    return (_amount(table, "cpus", "CPUs", label, (*at, "resources"), source),
            _amount(table, "gpus", "GPUs", label, (*at, "resources"), source))


def _not_too_many(top_grid: Sequence[tuple[str, list[Any]]], own_grid: Sequence[tuple[str, list[Any]]], runs: int,
                  source: str, where: str, at: tuple[str | int, ...]) -> None:
    """SpecError where a variant's grids (the file's ``[grid]``, its own) with ``runs`` runs a point
    (repeats x committee members) ask for more than :data:`MAX_CELLS`, said at the larger grid's line
    with its values' counts (helper-234: at the variant's line)."""
    axes = [vals for _, vals in [*top_grid, *own_grid]]
    size = math.prod(len(a) for a in axes) * runs
    if size <= MAX_CELLS:
        return
    top, own = (math.prod(len(v) for _, v in g) if g else 0 for g in (top_grid, own_grid))
    big = ("grid",) if top >= own and top else (*at, "grid") if own else at
    points = f"{' x '.join(str(len(a)) for a in axes)} grid values, x " if axes else ""
    raise SpecError(f"{source}: {where}: {size:,} runs requested ({points}{runs} run{'s' * (runs != 1)} each); at most "
                    f"{MAX_CELLS:,} per experiment", path=big, source=source)


def _expand_variant(rv: Mapping[str, Any], base: Mapping[str, Any], known: dict[str, Any],
                    top_grid: list[tuple[str, list[Any]]], source: str, where: str, at: tuple[str | int, ...],
                    repeats: int, committee: int, warned: _SaidOnce) -> list[Variant]:
    """The variants one ``[[variants]]`` table (at path ``at`` in the file) expands to with its grid, ``warned`` hearing.

    A bad merged config is reported at the key that set the bad value: the variant's own key, its
    grid's or the top grid's; the variant itself when the base's value only fails beside the
    variant's (a cross-field check).
    """
    from mnistlab.config import parse_run_config

    name, reps = _variant_name(rv, source, where, at), _count(rv, "repeats", repeats, MAX_REPEATS, source, where=where, at=at)
    members = _count(rv, "committee", committee, MAX_COMMITTEE, source, where=where, at=at)
    cpus, gpus = _variant_resources(rv, source, where, at)
    description = _description(rv, source, f"{source}: {where}", at)
    overrides, faults = _variant_overrides(rv, known, source, where, at)
    out: list[Variant] = []
    wrong: list[SpecError] = []  # the config's mistakes, over every point of the grid
    with _after(faults):  # a later mistake of the table is said with its keys at fault, not instead of them
        try:
            own_grid = _grid(rv.get("grid", {}), known, source, f"{where}'s grid", (*at, "grid"))
        except SpecError as exc:  # its grid's: the variant's own values are still checked, without it
            faults += [exc, *(m for m in exc.more if isinstance(m, SpecError))]
            exc.more, own_grid = (), []
        _one_setter(overrides, top_grid, own_grid, source, where, at)
        grid = top_grid + own_grid
        # Where each override was written: the variant, or the grid (the top one, or the variant's own).
        written_at: dict[str, tuple[str | int, ...]] = {k: at for k in overrides}
        tables = [("grid",)] * len(top_grid) + [(*at, "grid")] * len(own_grid)
        axes = [vals for _, vals in grid]
        _not_too_many(top_grid, own_grid, reps * members, source, where, at)  # before expanding: grids explode
        folder = Path(source).parent  # what the file's data paths are relative to
        for combo in itertools.product(*axes) if grid else [()]:
            ov = dict(overrides)
            grid_part = {k: val for (k, _), val in zip(grid, combo)}
            ov.update(grid_part)
            slices_alone(ov, source, where, at)
            derived = derive_name(grid_part if name else ov)  # data paths as written: the same from any folder
            vname = (f"{name},{derived}" if grid_part else name) if name else (derived or "base")
            raw = apply_dotted(base, _paths_beside(ov, folder))
            origin = {**written_at, **{k: table for (k, _), table in zip(grid, tables)}}
            try:
                place = f'{source}: {where}' + _as_point(grid_part, name, where, vname)
                raw, start = split_start(raw, place)  # another variant's weights: checked once every variant is known
                with warned.hearing(place, counted_as=f"{source}: [base]" if where == "[base]" and not grid_part else None):
                    parse_run_config(raw, source=place)
            except SpecError as exc:  # each of its mistakes at the key that set it, once for all its grid's points
                wrong += [m for e in exc.apart or (exc,) if (m := _placed(e, origin, at, base, ov, source)).path
                          not in {w.path for w in wrong}]
                continue
            out.append(Variant(vname, ov, raw, reps, members, cpus, gpus, description, origin, start))
        if wrong:
            raise together(wrong)
    if faults:
        raise together(faults)
    return out


def _as_point(grid_part: Mapping[str, Any], name: Any, where: str, vname: str) -> str:
    """What a variant's run is said as after its place (``' as "lr=0.1"'``): a grid's point, or a
    variant without a name; nothing for a named one or the file's one variant, its [base] (helper-193:
    '[base] as "base"', which also hid its line)."""
    return f' as "{vname}"' if grid_part or not (name or where == "[base]") else ""


def model_warnings(exp: Experiment) -> list[str]:
    """One line for each incoherent choice of the models of ``exp``'s variants
    (:func:`~mnistlab.specs.spec_warnings`, and TTA's flip on handwriting: :func:`~mnistlab.config.mirrored_digits`),
    at the first variant that makes it and how many more do
    (or of all of them, where each does):
    what `run` and `run --dry-run` say before anything trains (helper-193: Keras 3's ``"l1l2"``, which the
    resolved config writes as its zeros, was said by `summary` and `train`, never by `run`; a sigmoid
    output by `run` alone). Other commands reading the file say none (helper-194)."""
    from mnistlab.config import parse_run_config, setting_doubts
    from mnistlab.specs import spec_warnings

    heard: dict[str, list[str]] = {}
    for v in exp.variants:
        try:
            with warnings.catch_warnings():  # (said as the file was read)
                warnings.simplefilter("ignore")
                cfg = parse_run_config(v.config, source=exp.source, check_model=False)
                spec = cfg.model_spec()
        except MnistlabError:  # (its mistake is said where its run is checked)
            continue
        doubts = setting_doubts(cfg.dataset, cfg.augment, cfg.evaluate)  # (`run --dry-run` did not say them: note 54)
        for message in [*spec_warnings(spec), *doubts]:
            heard.setdefault(message, []).append(v.name)
    implicit = [v.name for v in exp.variants] == ["base"]
    every = len(exp.variants)  # a choice all of them make ([base]'s, mostly) is said of all, not of the first (note 50)
    return [f"{exp.source}: " + ("[base]" if implicit else f"each of its {every} variants" if len(names) == every > 1
                                 else f'variant "{names[0]}"') + f": {message}"
            + (f" (the same for {len(names) - 1} more of the file's variants)" if 1 < len(names) < every else "")
            for message, names in heard.items()]


@contextlib.contextmanager
def _after(found: Sequence[SpecError]) -> Iterator[None]:
    """Raise a SpecError of the block with the mistakes ``found`` before it (one table's, each said)."""
    try:
        yield
    except SpecError as exc:
        if not found:
            raise
        more, exc.more = exc.more, ()
        raise together([*found, exc, *(m for m in more if isinstance(m, SpecError))]) from None


def _placed(exc: SpecError, origin: Mapping[str, tuple[str | int, ...]], at: tuple[str | int, ...],
            base: Mapping[str, Any], overrides: Mapping[str, Any], source: str) -> SpecError:
    """A variant's config error ``exc`` at the key that set the bad value (:func:`_written_in`: the
    variant's own key, its grid's or the top grid's, ``at`` for the base's), with what the base kept."""
    path, table = tuple(exc.path), _written_in(exc.path, origin, at)
    if table == at and path[1:] and path[0] == "model" and (whole := _written_in(path[:1], origin, at)) != at:
        path, table = path[:1], whole  # an inline model's layer, changed by a [grid] key (layers[-2]): that key
    return SpecError(str(exc) + _kept_from_base(exc, base, overrides), path=(*table, *path), source=source)


def _variant_overrides(rv: Mapping[str, Any], known: dict[str, Any], source: str, where: str,
                       at: tuple[str | int, ...]) -> tuple[dict[str, Any], list[SpecError]]:
    """A ``[[variants]]`` table's overrides (at path ``at`` in the file) as dotted keys with plain
    positions (``model.layers.0.filters``), each checked against the base (``known``), and a
    SpecError for each key at fault on its own (one the base lacks, a slice's value that is no
    list, one written twice), so that the others are checked in the same pass; SpecError raised
    (after those) for a value set whole beside a key inside it, or ``augment = false`` beside an
    ``augment.`` key."""
    overrides: dict[str, Any] = {}
    faults: list[SpecError] = []
    _whole_or_inside({k: v for k, v in rv.items() if isinstance(k, str) and k not in (*VARIANT_META_KEYS, "augment")
                      and (not isinstance(v, Mapping) or "." in k or known.get(k, {}) is None)},  # (a table the base
                     source, where, at)  # leaves unset, as weights, is set whole: note 53) before a key is looked up
    for key, value in rv.items():
        if key in VARIANT_META_KEYS:
            continue
        if not isinstance(key, str):
            raise SpecError(f"{source}: {where}: keys must be strings", path=at, source=source)
        if key_path(key)[0] not in known:  # a typo of a variant setting or of a config section
            faults.append(_section_key(key, value, source, where, at) or unknown_key(
                key, [*VARIANT_META_KEYS, *known], where=f"{source}: {where}", path=at, source=source,
                near=key_path(key)[0]))
            continue
        try:
            flat = _flatten(key_path(key), value, known, source, where, at, faults)
        except SpecError as exc:  # this key's alone (one the base lacks, a slice's value): the others are checked
            faults.append(exc)
            continue
        for path, v in flat:
            if ".".join(path) in overrides:  # "layers[0]" and "layers[-7]": one key written twice
                faults.append(SpecError(f'{source}: {where}: "{written_key(path)}" is set twice (once by position from '
                                         "the end?): set it once", path=(*at, *key_path(key)), source=source))
            overrides[".".join(path)] = v
    with _after(faults):
        if overrides.get("augment") is False and (inside := [k for k in overrides if k.startswith("augment.")]):
            raise SpecError(f"{source}: {where}: augment = false and {inside[0]} contradict each other: give one of "
                            "them", path=(*at, "augment"), source=source)
        _whole_or_inside(overrides, source, where, at)
    return overrides, faults


def _whole_or_inside(overrides: Mapping[str, Any], source: str, where: str, at: tuple[str | int, ...]) -> None:
    """SpecError where a variant sets a value whole and also a key inside it (``model = "seed000-cnn"``
    beside ``"model.filters" = 16``): the second would be written into what the first replaced."""
    paths = {key: key_path(key) for key in overrides}
    for key, path in paths.items():
        if (inner := next((p for p in paths.values() if len(p) > len(path) and p[:len(path)] == path), None)):
            whole, inside, rest = written_key(path), written_key(inner), written_key(inner[len(path):])
            if isinstance(table := overrides[key], Mapping):  # (weights = { variant = ... } and "weights.x" beside)
                keys = ", ".join([*(f"{k} = ..." for k in table), f"{rest} = ..."])
                raise SpecError(f'{source}: {where}: sets {whole} whole ({whole} = {{ ... }}) and "{inside}" beside it: '
                                f"write {rest} inside that table ({whole} = {{ {keys} }})", path=(*at, *inner),
                                source=source)
            raise SpecError(f'{source}: {where}: sets {whole} whole and "{inside}" inside it: the key would change '
                            f"what the variant replaces; give one of them (a key inside [base]'s {whole} goes "
                            "without the whole)", path=(*at, *inner), source=source)


def _variant_name(rv: Mapping[str, Any], source: str, where: str, at: tuple[str | int, ...]) -> str | None:
    """A ``[[variants]]`` table's ``name`` (None: derived from what it sets); SpecError unless a
    printable, non-empty string of at most 120 characters."""
    name = rv.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise SpecError(f"{source}: {where}: name: must be a non-empty string, got {show(name)}",
                        path=(*at, "name"), source=source)
    if isinstance(name, str) and not is_printable(name):  # a control character prints as nothing, or moves the cursor
        raise SpecError(f"{source}: {where}: name: has a control or formatting character (got \"{printable(name)}\"; "
                        "a zero-width joiner or non-joiner, a left-to-right or right-to-left mark may be used)",
                        path=(*at, "name"), source=source)
    if isinstance(name, str) and len(name) > 120:
        raise SpecError(f"{source}: {where}: name: at most 120 characters, got {len(name)}", path=(*at, "name"),
                        source=source)
    return name


def _one_setter(overrides: Mapping[str, Any], top_grid: list[tuple[str, list[Any]]],
                own_grid: list[tuple[str, list[Any]]], source: str, where: str, at: tuple[str | int, ...]) -> None:
    """SpecError where a key of a variant (``overrides``, flattened) is also a grid's axis (its
    own grid's, or the top-level ``[grid]``'s, which every variant crosses): the grid's values
    would replace the variant's silently, so the file says one thing and trains another."""
    def written(key: str) -> tuple[str | int, ...]:  # where the file sets it (key_line reads "train.lr" = too)
        return (*at, *key_path(key))

    def clash(key: str, keys: Iterable[str]) -> str | None:  # the same key, or one inside the other (model, model.filters)
        return next((k for k in keys if k == key or k.startswith(key + ".") or key.startswith(k + ".")), None)

    def shown(key: str) -> str:  # as the user writes it: layers[0], not layers.0
        return written_key(key_path(key))

    own = [k for k, _ in own_grid]
    for key, _ in top_grid:
        if (mine := clash(key, overrides) or clash(key, own)) is not None:
            by = "it" if mine in overrides else "its grid"
            also = "" if mine == key else f' "{shown(key)}"'
            raise SpecError(f'{source}: {where}: "{shown(mine)}" is set by {by} and{also} by the top-level [grid], whose '
                            "values would replace it; set it in one place (a variant of its own, or this variant's "
                            "grid)", path=written(mine) if mine in overrides else (*at, "grid"), source=source)
    for key in own:
        if (mine := clash(key, overrides)) is not None:
            also = "" if mine == key else f' "{shown(key)}"'
            raise SpecError(f'{source}: {where}: "{shown(mine)}" is set by it and{also} by its grid, whose values would '
                            "replace it; set it in one place", path=written(mine), source=source)


def _kept_from_base(exc: SpecError, base: Mapping[str, Any], overrides: Mapping[str, Any]) -> str:
    """What a variant's model error adds when a key it names (quoted, as spec errors quote them) is
    the base model's, kept beside keys the variant changed: ``model = { conv = [8] }`` keeps the
    base's two ``pool`` flags, since a variant's table changes the keys it names, as dotted keys do
    (TOML cannot tell ``model.conv = [8]`` from it)."""
    model = base.get("model")
    if exc.path[:1] != ("model",) or not isinstance(model, Mapping) or not any(k.startswith("model.") for k in overrides):
        return ""
    kept = [k for k in model if f"model.{k}" not in overrides and "model" not in overrides and f"'{k}'" in str(exc)]
    if not kept:
        return ""
    keys = ", ".join(f'"model.{k}"' for k in kept)
    return (f" ({keys} {'is' if len(kept) == 1 else 'are'} [base]'s: model keys a variant or a grid sets change "
            f"those of the base model and leave the others; set {keys} where they are set)")


def _written_in(path: tuple[str | int, ...], origin: Mapping[str, tuple[str | int, ...]],
                default: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The table that set the value at config ``path``: that of the last override (in the order
    they are applied) whose dotted key leads to it; else the one table whose overrides lie inside
    it (a grid's key into a layer, for an error about the model); else ``default`` (the base's)."""
    found, path = default, tuple(map(str, path))  # a position: 0 in a config error's path, "0" in a key's
    inside: set[tuple[str | int, ...]] = set()  # the tables of overrides within the value at fault
    for dotted, table in origin.items():
        parts = key_path(dotted)
        if path[:len(parts)] == parts:
            found = table
        elif parts[:len(path)] == path:  # "model.layers.1...l2" for an error about the model as a whole
            inside.add(table)
    return found if found != default or len(inside) != 1 else inside.pop()


def _known_view(base: Mapping[str, Any], cfg: Any) -> dict[str, Any]:
    """What a variant may override: every config key with defaults filled in, the model's form keys."""
    from mnistlab.config import AugmentConfig
    from mnistlab.specs import with_every_key

    known = cfg.model_dump(mode="json")
    if known.get("augment") is None:
        known["augment"] = AugmentConfig().model_dump(mode="json")
    model = base.get("model")
    layers = with_every_key(cfg.model_spec().to_dict()["layers"])  # every layer's keys, Keras's defaults filled in
    if isinstance(model, Mapping) and "layers" not in model:
        keys = COMPACT_KEYS if ("conv" in model or "dense" in model and "filters" not in model) else BUILDER_KEYS
        known["model"] = {**{k: None for k in keys}, **dict(model), "layers": layers}
    else:  # a layer list, or a preset or spec file by name: its layers (apply_dotted writes them out)
        known["model"] = {"layers": layers, "input_shape": None, "name": None}
    return known


_RUN_SECTIONS = ("dataset", "model", "data", "train", "augment", "callbacks", "evaluate", "weights")


def _base_key_at_top(key: str, source: str) -> SpecError | None:
    """A run's setting written at an experiment file's top level, outside ``[base]`` (helper-262: "unknown
    key", the first one alone), said with where it goes; None for any other key."""
    from mnistlab.config import setting_path

    if key in ("data", "train", "augment", "evaluate"):
        how = f"a [base.{key}] table (or {key} = {{ ... }} below a [base] line)"
    elif key in _RUN_SECTIONS:
        how = f"the [base] table: a [base] line above {key} = ..."
    elif setting_path(key) != key:
        section = setting_path(key).split(".")[0]
        how = f"the [base.{section}] table: a [base.{section}] line above {key} = ..."
    else:
        return None
    return SpecError(f'{source}: top level: "{key}" is a setting of every run, so it goes in {how}', path=(key,),
                     source=source)


def _section_key(key: str, value: Any, source: str, where: str, at: tuple[str | int, ...]) -> SpecError | None:
    """A variant's key of a config section written alone (``lr = 0.01``, ``optimizer = "sgd"``), as a
    train() keyword takes it: said with its dotted key (helper-259: "unknown key", with no pointer to
    ``"train.lr"``); None for any other key."""
    from mnistlab.config import setting_path

    dotted = setting_path(key)
    if dotted == key or key_hint(key, ()):  # (a Keras word elsewhere says its own place)
        return None
    return SpecError(f'{source}: {where}: unknown key "{key}": a variant sets the {dotted.split(".")[0]} section\'s key '
                     f'by its dotted name, "{dotted}" = {toml_repr(value)}', path=(*at, key), source=source)


def _flatten(path: tuple[str, ...], value: Any, known: dict[str, Any], source: str,  # noqa: PLR0913
             where: str, table: tuple[str | int, ...], faults: list[SpecError] | None = None,
             ) -> list[tuple[tuple[str, ...], Any]]:
    """Split a (possibly nested) override into dotted paths the base has (positions made plain:
    ``layers[-1]`` -> ``layers.6``); error otherwise (with ``faults``, a key of a table at fault is
    added there and its siblings are kept). A table with a ``type`` at a position of a list
    (``"model.layers[2]" = { type = "Dropout", rate = 0.5 }``) replaces that layer whole; one without
    changes the keys it names."""
    at, path = base_value(known, path, source, where, table)
    # `model = {...}` in another written form (full layers, or builder vs compact) replaces the
    # model whole; otherwise its keys are overrides of the base model's keys.
    if path == ("dataset",):  # a table of the user's data replaces the base's whole: csv and folder never mix
        return [(path, value)]
    whole_model = path == ("model",) and isinstance(value, Mapping) and isinstance(at, Mapping) and (
        "layers" in value or (bool(set(value) - set(at)) and set(value) <= {*COMPACT_KEYS, *BUILDER_KEYS}))
    if value == {} and isinstance(at, Mapping) and (path == ("augment",) or is_position(path[-1])):  # meant as "none"?
        also = " (augment = false trains without augmentation)" if path == ("augment",) else ""
        raise SpecError(f"{source}: {where}: {written_key(path)} = {{}} changes nothing: a table merges into the "
                        f"base's{also}", path=(*table, *path), source=source)
    if path[-1] in ("kernel_regularizer", "bias_regularizer"):  # a penalty is one value, as in Keras: a table
        return [(path, value)]  # replaces the base's whole ({ l1 = ... } drops its l2), as in a [grid]; false: none
    if is_slice(path[-1]):  # items of a list replaced by others (none: removed)
        check_slice_value(path, value, f"{source}: {where}", (*table, *path), source)
        return [(path, value)]
    whole_layer = is_position(path[-1]) and isinstance(value, Mapping) and "type" in value
    if isinstance(value, Mapping) and isinstance(at, Mapping) and not whole_model and not whole_layer:
        out = []
        for k, v in value.items():  # each key's mistake in ``faults``, the others kept: checked in the same pass
            try:  # (helper-235: one mistake of an augment table said per run)
                out += _flatten(path + key_path(str(k)), v, known, source, where, table, faults)
            except SpecError as exc:
                if faults is None:
                    raise
                faults.append(exc)
        return out
    return [(path, value)]


def base_value(known: Any, path: tuple[str, ...], source: str, where: str,
               table: tuple[str | int, ...]) -> tuple[Any, tuple[str, ...]]:
    """The base's value at the override ``path`` (written in the file's ``table``), and the path
    with its positions made plain (``-1``: the list's last); SpecError when the base has no such key
    (for an ImageDataGenerator argument [augment] has none of, what to write instead, as [base] says)."""
    from mnistlab.config import KERAS_OPTIMIZER_NOT_OFFERED, augment_key_hint  # (config builds on this module)

    cur, plain, dotted = known, [], written_key(path)
    for i, part in enumerate(path):
        here = written_key(path[:i])
        if isinstance(cur, list) and is_position(part) and -len(cur) <= int(part) < len(cur):
            plain.append(str(int(part) % len(cur)))
            cur = cur[int(part)]
            continue
        if isinstance(cur, list) and is_slice(part) and i == len(path) - 1:  # layers[2:4] = [...]: replaced
            try:
                lo, hi = slice_bounds(part, len(cur))
            except ValueError as exc:
                raise SpecError(f'{source}: {where}: "{dotted}": {here}{exc}', path=(*table, *path),
                                source=source) from None
            plain.append(f"{lo}:{hi}")
            cur = cur[lo:hi]
            continue
        if isinstance(cur, list):
            last = f"0 to {len(cur) - 1}, or -1 for the last" if cur else "none: it is empty"
            what = (f"{part} is past its end" if is_position(part) else f"a slice ([{part}]) ends the key: it replaces "
                    "those items whole" if is_slice(part) else f'"{part}" is no position: write {here}[0]'
                    + (" (a slice is start:stop, without a step)" if ":" in part else ""))
            raise SpecError(f'{source}: {where}: "{dotted}": {here} is a list of {len(cur)} in the base (positions '
                            f"{last}); {what}", path=(*table, *path), source=source)
        if cur is None:  # a table the base leaves unset (train.schedule): a key inside it has nothing to change
            raise SpecError(f'{source}: {where}: "{dotted}": {here} is not set in the base: set it whole instead '
                            f'("{here}" = {{ ... }})', path=(*table, *path), source=source)
        if not isinstance(cur, Mapping):
            raise SpecError(f'{source}: {where}: "{dotted}": {here} is {show(cur)} in the base, not a table; '
                            f"replace it whole instead", path=(*table, *path), source=source)
        if part not in cur and path[:1] == ("model",) and i == 1 and set(cur) == {"layers", "input_shape", "name"}:
            raise SpecError(f'{source}: {where}: "{dotted}": the base\'s model is a list of layers (a preset, a spec '
                            f'file or [[layers]]), which has no key "{part}"{key_hint(part, list(cur))}: change a '
                            'layer\'s key, as "model.layers[0].units", or replace the model whole (model = { ... })',
                            path=(*table, *path), source=source)
        if part not in cur and path[:1] == ("augment",) and i == 1 and (instead := augment_key_hint(part)):
            raise SpecError(f'{source}: {where}: "{dotted}": {instead}',
                            path=(*table, *path), source=source)  # as [base] says it
        if part not in cur and path[:1] == ("train",) and i == 1 and (instead := KERAS_OPTIMIZER_NOT_OFFERED.get(part)):
            raise SpecError(f'{source}: {where}: "{dotted}": {instead}', path=(*table, *path), source=source)  # helper-145
        if part not in cur:
            choices = [str(k) for k in cur]
            layer = (f"; a key of another layer type (a variant that changes {here}.type sets the keys of the base's "
                     f'type): replace the layer whole, "{here}" = {{ type = ..., ... }}'  # (helper-257)
                     if "type" in cur and path[:1] == ("model",) else "")
            raise SpecError(f'{source}: {where}: "{dotted}": the base has no key "{part}"{key_hint(part, choices)}; '
                            f"known here: {', '.join(sorted(choices))}{layer}", path=(*table, *path), source=source)
        plain.append(part)
        cur = cur[part]
    return cur, tuple(plain)


def _grid(g: Any, known: dict[str, Any], source: str, where: str,
          table: tuple[str | int, ...]) -> list[tuple[str, list[Any]]]:
    """The axes of a grid table (at path ``table`` in the file): (dotted key, values) in file order."""
    if not isinstance(g, Mapping):
        raise SpecError(f"{source}: {where}: must be a table of lists, got {show(g)}", path=table, source=source)
    out: list[tuple[str, list[Any]]] = []
    for key, values in _flat_items(g):
        if not isinstance(values, list) or not values:
            raise SpecError(f'{source}: {where}: "{key}": must be a non-empty list of values, got {show(values)}',
                            path=(*table, *key_path(key)), source=source)
        plain = base_value(known, key_path(key), source, where, table)[1]
        for value in values if is_slice(plain[-1]) else ():
            check_slice_value(plain, value, f"{source}: {where}: each value of {written_key(plain)}",
                              (*table, *key_path(key)), source)
        if ".".join(plain) in (k for k, _ in out):
            raise SpecError(f'{source}: {where}: "{written_key(plain)}" is an axis twice (once by position from the '
                            "end?): give its values once", path=(*table, *key_path(key)), source=source)
        out.append((".".join(plain), values))
    return out


def _flat_items(g: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    # `[grid] train.lr = [...]` parses as nested tables; lists are the leaves.
    for k, v in g.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            yield from _flat_items(v, key + ".")
        else:
            yield key, v


def apply_dotted(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with each dotted-key override set (:func:`set_at`: missing tables are
    created; ``model.layers[0].filters`` names a position in a list, ``model.layers[2:4]`` a slice;
    each key is checked against the base beforehand, :func:`base_value`).

    A key into the model's layers where the base gives the model by name (a preset or a spec
    file) or in a short form (``conv = [...]``, the builder's ``filters``) writes the model out as
    the layer list it stands for first, so ``"model.layers.0.filters" = 16`` changes a preset's
    first layer. Raises SpecError where a key cannot be set (:func:`set_at` says why)."""
    out = copy.deepcopy(dict(base))
    if reaches_into_layers(out.get("model"), overrides):
        from mnistlab.presets import resolve_model

        out["model"] = resolve_model(out["model"]).to_dict()
    for dotted, value in overrides.items():
        parts = key_path(dotted)
        try:
            set_at(out, parts, copy.deepcopy(value))
        except ValueError as exc:
            raise SpecError(f'"{written_key(parts)}": {exc}', path=parts) from None
    return out


def grid_family(name: str, names: Iterable[str]) -> list[str]:
    """The variants a ``[[variants]]`` entry named ``name`` with a grid of its own expands into, of
    ``names`` (``pen,l2=0.001``, ``pen,l2=0.01``: the entry's name, a comma, :func:`derive_name`);
    empty when there are none."""
    return [n for n in names if n.startswith(f"{name},")]


def derive_name(overrides: Mapping[str, Any], *, qualified: bool = False) -> str:
    """A readable name from what a variant changes: ``{"train.lr": 0.01} -> "lr=0.01"``; a key
    into a list of tables by position (a config flattened for `mnistlab compare`) keeps the
    position: ``{"model.layers.2.filters": 16} -> "layers[2].filters=16"``. ``qualified`` (the
    names `compare` gives runs, not a grid's variant names, which runs are recorded under): a
    setting of a sub-table keeps its table's name, ``tta.rotation=8`` (helper-128: "rotation=8" read
    as augmentation's)."""
    shorts = [_short_key(k, qualified) for k in overrides]
    parts = []
    for (key, value), short in zip(overrides.items(), shorts):
        label = short if shorts.count(short) == 1 else key
        pixels = key.endswith("shift_range") and isinstance(value, float) and value >= 1 and value.is_integer()
        shown = _fmt_value(value)
        if is_slice(key_path(key)[-1]) and isinstance(value, list):  # layers removed (none), or put in: Dropout(0.5)
            shown = "/".join(_fmt_value(v) + (f"({','.join(_fmt_value(x) for k, x in v.items() if k != 'type')})"
                                              if isinstance(v, Mapping) and len(v) > 1 else "") for v in value) or "none"
        parts.append(f"{label}={value:.1f}" if pixels else f"{label}={shown}")  # 2.0 is not 2 there (Keras)
    return ",".join(parts)


def _short_key(key: str, qualified: bool = False) -> str:
    """``key``'s last part (abbreviated: ``ABBREVIATIONS``), or from the first list it goes into on:
    ``model.layers.2.activation`` -> ``layers[2].act``, ``model.layers.0.kernel_size.0`` ->
    ``layers[0].kernel_size[0]``; ``qualified``: a sub-table's setting with its table's name,
    ``evaluate.tta.rotation`` -> ``tta.rotation``."""
    parts = list(key_path(key))
    if not is_position(parts[-1]) and not is_slice(parts[-1]):
        parts[-1] = ABBREVIATIONS.get(parts[-1], parts[-1])
    first = next((i for i, p in enumerate(parts) if is_position(p) or is_slice(p)), None)
    if first is None and qualified and len(parts) > 2 and parts[0] in ("train", "evaluate", "data"):
        return f"{parts[-2]}.{parts[-1]}"  # train.swa.start_epoch, evaluate.tta.shift, train.schedule.type
    return parts[-1] if first is None or first == 0 else written_key(parts[first - 1:])  # from the first list on


def _fmt_value(v: Any) -> str:
    if v is None:  # a key one config lacks (a penalty the other sets), not Python's None
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "/".join(_fmt_value(x) for x in v) if all(not isinstance(x, (dict, list)) for x in v) else f"{len(v)}items"
    if isinstance(v, Mapping):  # a layer by its type; else its keys (a penalty's { l2 = 0.001 }: l2:0.001)
        return str(v.get("type") or v.get("name") or "/".join(f"{k}:{_fmt_value(x)}" for k, x in v.items()) or "custom")
    return str(v)


def _count(d: Mapping[str, Any], key: str, default: int, most: int, source: str, *, where: str = "",
           at: tuple[str | int, ...] = ()) -> int:
    """``d[key]`` (or ``default``), a whole number in [1, most]; ``d`` is the table ``where`` at ``at``."""
    v = d.get(key, default)
    label = f"{source}: {where}" if where else source
    if isinstance(v, bool) or not isinstance(v, int):
        hint = ("; a committee of other variants is a [[committees]] table: name = \"...\", variants = [...]"
                if key == "committee" and isinstance(v, list) else "")
        raise SpecError(f"{label}: {key}: must be a whole number, got {show(v)}{hint}", path=(*at, key), source=source)
    if not 1 <= v <= most:
        raise SpecError(f"{label}: {key}: must be between 1 and {most}, got {v}", path=(*at, key), source=source)
    return v


