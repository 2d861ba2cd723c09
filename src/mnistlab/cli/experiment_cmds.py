"""`mnistlab run / watch / runs / show / compare / rm / reindex`: experiments and the run store (parsing only)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import socket
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mnistlab.cli._common import (FiniteRange, IntRange, PathArg, backend_and_store, backend_options, check_backend_flags,
                                  data_dir_option, jobs_option, open_store, status_said, store_flag, store_option, trains_here)
from mnistlab.cli._output import (Column, closed_output_stops, emit, format_option, is_terminal, plain_width, rich_console,
                                  stopped_by)
from mnistlab.errors import MnistlabError, RunNotFinished, SpecError, StoreError, clip, printable, together
from mnistlab.files import display_name, shell_word, shown_path
from mnistlab.notes import tags_said

if TYPE_CHECKING:
    from mnistlab.execute import ExperimentResult, Runner, StopSignal
    from mnistlab.experiments import Cell, Experiment
    from mnistlab.store import Reindexed, RunRecord, RunStore

_STORE = store_option()
COMPARE_FORMATS = ("table", "csv", "json", "markdown", "latex")


def _rows_out(rows: list[dict], title: str, fmt: str, every: Sequence[dict] | None = None) -> None:
    """The comparison rows: rich's table on a terminal, plain aligned text in a pipe, or csv/json/markdown;
    the marks' legend of ``every`` row of the comparison where ``--limit`` cut it to ``rows`` (helper-219:
    with the best row cut, no legend at all; with one tested row left, no "Holm-adjusted")."""
    from mnistlab.comparison import best_legend, format_rows, plain_rows, rich_table, table_fits

    every = rows if every is None else every
    if fmt != "table":
        click.echo(format_rows(rows, fmt), nl=False)
        if fmt in ("markdown", "latex") and (legend := best_legend(every)):  # pasted into a page, the marks need
            click.echo(f"% {legend}" if fmt == "latex" else f"\n{legend.replace(' +- ', ' ± ')}")  # their key (LaTeX:
            # a comment; Markdown: ± as its table says it, helper-247)
        return
    if is_terminal() and table_fits(rows, (console := rich_console()).width):
        console.print(rich_table(rows, title=title))
    else:  # a pipe, a file, or a terminal too narrow for the table even cut (helper-163): the plain lines
        click.echo(plain_rows(rows, title, plain_width()), nl=False)
    if legend := best_legend(every):
        click.echo(legend)


class _Progress:
    """What `mnistlab run` shows while it works (the view itself is :mod:`mnistlab.live`).

    A sweep of several cells on a terminal: one table updated in place (done / running / left,
    leader, ETA, each running cell's epoch), with a line only for a cell that failed or diverged.
    A single cell, a pipe or a log file, or --format csv/json/markdown: one line per cell that
    ends. Then :meth:`finish` prints the comparison rows.
    """

    def __init__(self, title: str, fmt: str, root: Path, cells: int) -> None:
        from mnistlab.live import LiveTable, OutcomeLines

        self.title, self.fmt, self.cells = title, fmt, cells
        self.line = OutcomeLines(cells)
        self.table = None
        if fmt == "table" and is_terminal() and cells > 1:
            self.table = LiveTable(rich_console(), root, title)

    def __enter__(self) -> _Progress:
        if self.table is not None:
            self.table.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.table is not None:
            self.table.__exit__(*exc)

    wants_rows = False  # (its table reads the store; the rows of each cell would be a comparison each: helper-196)

    def __call__(self, outcome, rows) -> None:  # noqa: ANN001
        """run_experiment's ``on_cell``: the cell's line, or the live table poked."""
        rec = outcome.record
        line = self.line(outcome)
        if self.table is None:
            click.echo(line, err=self.fmt != "table")  # csv/json/markdown: stdout holds only the rows
            return
        if rec.status in ("failed", "diverged") and not outcome.skipped:
            self.table.live.console.print(line, markup=False, highlight=False)
        self.table.poke()

    def finish(self, rows: list[dict], records: Sequence[RunRecord] = (), shared: Sequence[str] = ()) -> None:
        """The comparison rows with `compare`'s notes of ``records`` (the sweep's runs, none of a
        stopped sweep): above them, which are the size of a smoke run, and under them, those scored
        on part of the test set or chosen on it, then ``shared`` (the variants that share runs,
        :func:`~mnistlab.experiments.shared_runs`); a --quick sweep's too, as `compare --quick` says
        them (helper-140, helper-146: the table, read last, did not say what its first line had)."""
        from mnistlab.comparison import scored_on_note, smoke_note, test_set_notes

        if rows:  # none: stopped before any cell had a run
            _say_smoke(smoke_note(records), self.fmt)
            _say_smoke(elsewhere := scored_on_note(records), self.fmt)  # as compare says it (helper-121)
            _rows_out(rows, self.title, self.fmt)
            _notes_out([*test_set_notes(records, part=elsewhere is None), *shared], self.fmt)


@click.command("run")
@click.argument("experiment", nargs=-1, required=True, type=PathArg(dir_okay=False))
@_STORE
@jobs_option("cells")
@click.option("--force", is_flag=True, help="Rerun cells already finished in the store.")
@click.option("--quick", is_flag=True, help="A small data subset, 1 epoch, 1 repeat, 2 committee members (smoke test).")
@click.option("--dry-run", is_flag=True, help="Check the file and its data as a run does before it trains, and say what "
              "would train; train nothing, write nothing.")
@data_dir_option(remote=True)
@click.option("--batch-members/--one-by-one", "batch_members", default=None,
              help="Train each committee's members together as one stacked model, or one by one "
                   "[default: stacked on a GPU, one by one on a CPU].")
@backend_options("cells")
@format_option(COMPARE_FORMATS)
def run_cmd(experiment: tuple[str, ...], store: str | None, jobs: int, force: bool, quick: bool, dry_run: bool,  # noqa: PLR0913
            data_dir: Path | None, batch_members: bool | None, backend: str | None, address: str | None,
            cpus_per_cell: float | None, gpus_per_cell: float | None, fmt: str) -> None:
    """Train every cell of an EXPERIMENT file not already finished, printing the comparison.
    Several files (a class's) are each checked first, then run one after the other.

    Exits with status 1, after recording every run and printing the table, when any cell failed
    or diverged. With --format csv/json/markdown the progress lines go to stderr. On a terminal a
    sweep of several cells shows one table updated in place (see `mnistlab watch`); elsewhere one
    line per finished cell. Ctrl-C or SIGTERM stops every worker within seconds, records their
    runs as interrupted and exits 130 (SIGINT) or 143 (SIGTERM), and so does a closed output
    (`mnistlab run FILE | head`: 141, SIGPIPE); run it again to finish: a cell
    stopped mid-way continues from its checkpoint (written every MNISTLAB_CHECKPOINT_EVERY seconds,
    default 60, at an epoch's end or inside one; 0: at every epoch's end only).
    With --backend ray each cell is a Ray task and only this process writes the store (see the
    README, "Running on Ray"); Ray missing or an address that does not answer exits 2 at once.
    The backend flags override the experiment file's [resources] table.
    """
    check_backend_flags(backend, address, data_dir)
    options: dict[str, Any] = dict(store=store, jobs=jobs, force=force, quick=quick, data_dir=data_dir,
                                   batch_members=batch_members, backend=backend, address=address,
                                   cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell, fmt=fmt)
    if len(experiment) > 1:
        _run_several(experiment, dry_run, options)
        return
    _run_one(experiment[0], dry_run=dry_run, **options)


def _run_several(files: Sequence[str], dry_run: bool, options: dict[str, Any]) -> None:
    """`run FILE FILE ...` (a class's files, helper-193): every file checked before any trains (its
    mistakes, and those of its data where no store is yet, each on a line naming the file; exit 2),
    then each run in turn, as `run FILE` runs it; exit 1 at the end where a cell of any failed.
    ``--dry-run``: each file's dry run, then every file's mistakes. One table a file: --format
    csv, json and markdown go with one file. ``options``: :func:`_run_one`'s."""
    from mnistlab.execute import check_data_before_store, load_checked

    if (fmt := options["fmt"]) != "table":
        raise SpecError(f"run: --format {fmt} goes with one experiment file; for several, run them, then "
                        f"`mnistlab compare FILE FILE ... --format {fmt}` puts their runs in one table")
    mistakes: dict[int, list[MnistlabError]] = {}
    named: dict[str, int] = {}  # experiment name -> the first file of it
    for at, path in enumerate(files):
        try:
            _said_before_torch(path)
            exp = load_checked(path, options["data_dir"], quick=options["quick"])
            todo = exp.cells(quick=options["quick"])
            if (first := named.setdefault(exp.name, at)) != at:  # (helper-197: the second's cells were the first's)
                if os.path.realpath(files[first]) == os.path.realpath(path):  # (by two paths too: helper-198)
                    raise SpecError(f"{path}: given twice: give each file once")
                own = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(path).stem).strip("-.") or "2"  # (a name's characters)
                raise SpecError(f'{path}: experiment "{exp.name}", as {files[first]} is: their runs would be taken for '
                                f"each other's; give each file a name of its own (name = "
                                f'"{exp.name}-{own}")')  # (one a file: helper-198's "-2" twice)
            if not dry_run:
                check_data_before_store(exp, todo, options["store"], options["data_dir"],
                                        files_here=trains_here(exp.resources, options["backend"]), quick=options["quick"])
        except MnistlabError as exc:
            mistakes[at] = [_of_file(e, path) for e in (exc, *exc.more)]
            exc.more = ()
    if dry_run:
        for at, path in enumerate(files):
            if at not in mistakes:
                _run_one(path, dry_run=True, **options)
    if mistakes:
        raise together([e for said in mistakes.values() for e in said])
    if dry_run:  # checked, nothing trained (helper-197: it went on to train every file)
        return
    unfinished = []
    for at, path in enumerate(files):
        try:
            _run_one(path, dry_run=False, **options)
        except RunNotFinished as exc:  # (recorded and its table printed: the next file goes on)
            unfinished.append(exc)
        except SystemExit:  # stopped (Ctrl-C, SIGTERM): what it said was of this file; the next ones are said too
            if rest := files[at + 1:]:  # (helper-198: "none left" while two files had not started)
                click.echo(f"not started: {', '.join(map(display_name, rest))}: the same command runs "
                           f"{'them' if len(rest) > 1 else 'it'}", err=True)
            raise
    if unfinished:
        raise together(unfinished)


def _of_file(error: MnistlabError, path: str) -> MnistlabError:
    """``error``, its message led by the file ``path`` where it does not name it already (a mistake
    among several files' must say whose it is)."""
    if path not in str(error):
        error.args = (f"{path}: {error}", *error.args[1:])
    return error


def _run_one(experiment: str, *, store: str | None, jobs: int, force: bool, quick: bool, dry_run: bool,  # noqa: PLR0913
             data_dir: Path | None, batch_members: bool | None, backend: str | None, address: str | None,
             cpus_per_cell: float | None, gpus_per_cell: float | None, fmt: str) -> None:
    """`mnistlab run EXPERIMENT` of one file (:func:`run_cmd`)."""
    _said_before_torch(experiment)
    from mnistlab.execute import check_data_before_store, checkpoint_every, load_checked, terminate_as_interrupt

    read = _digest(experiment)  # (the file as it was read: an edit while the sweep runs is said at its end)
    exp = load_checked(experiment, data_dir, quick=quick)
    todo = exp.cells(quick=quick)  # a bad experiment says so before Ray starts or the store is made ...
    checkpoint_every()  # ... and so does a bad MNISTLAB_CHECKPOINT_EVERY
    here = trains_here(exp.resources, backend)
    if dry_run:
        _dry_run(exp, todo, store, data_dir, fmt, files_here=here, quick=quick, force=force)
        return
    check_data_before_store(exp, todo, store, data_dir, files_here=here, quick=quick)  # ... a data mistake, before the store
    runner, st = backend_and_store(exp.resources, todo, store, read_only_ok=True, backend=backend, address=address,
                                   cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell, jobs=jobs,
                                   tasks=len(todo))
    if exp.starts_from_runs:  # a variant that starts from another's runs: their weights, where finished
        todo = exp.cells(quick=quick, store=st)
    cells = len(todo)
    with terminate_as_interrupt() as stop, closed_output_stops(stop):
        try:
            click.echo(f"experiment {exp.name}: {cells} run{'s' * (cells != 1)}, store {st.root}", err=fmt != "table")
            _say_before(exp, st, todo, quick=quick, force=force, err=fmt != "table")
        except KeyboardInterrupt:  # before the first cell
            _say_stopped(st, exp.name, int(stop.signum), [(c.variant, c.key) for c in todo], force)
        result, stopped = _sweep(exp, st, [(c.variant, c.key) for c in todo], stop, fmt, runner, jobs=jobs, force=force,
                                 quick=quick, data_dir=data_dir, batch_members=batch_members)
        if result.elsewhere:
            _say_elsewhere(exp.name, result.elsewhere)
        if result.unrecorded:
            n = len(result.unrecorded)
            click.echo(f"{n} cell{'s' * (n != 1)} share{'s' * (n == 1)} a run that has not ended finished here "
                       f"(another process trains it, or it failed): `mnistlab run {shell_word(experiment)}{store_flag(st.root)}` "
                       "again records "
                       f"{'them' if n != 1 else 'it'} once it has", err=True)
        _say_if_changed(experiment, read, store_flag(st.root))
        if stopped:
            now = exp.cells(quick=quick, store=st)  # (those that started from runs of this sweep: their keys now)
            _say_stopped(st, exp.name, stopped, [(c.variant, c.key) for c in now], force, worker=result.stopped_by_worker)
    _fail_on_bad_cells(result, exp.name, st.root)


def _said_before_torch(experiment: str) -> None:
    """The experiment file's mistakes that need no data checked, raised before torch is imported (a
    missing file, broken TOML, an exported model given: helper-173, 6 s on a busy machine for "no
    such file"); a file whose other variants are right is left to :func:`~mnistlab.execute.load_checked`,
    which says their data mistakes beside. Its warnings are said there, once."""
    import warnings

    from mnistlab.experiments import load_experiment

    mistake = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            load_experiment(experiment)
        except SpecError as exc:
            mistake = exc if exc.partial is None else None
    if mistake is not None:  # its warnings said beside it, as load_checked would say them
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        raise mistake


def _fail_on_bad_cells(result: ExperimentResult, name: str, root: Path) -> None:
    """RunNotFinished (exit 1) where a cell of the sweep ``result`` failed, diverged or lost its worker, once every
    run is recorded and the table printed: how many of each (a diverged run has a result, its
    weights as they ended, in the table with a note: said apart), and where to look."""
    bad = Counter(o.record.status for o in result.outcomes if o.record.status in ("failed", "diverged"))
    if not bad and not result.died and not result.waiting:
        return
    total, said = len(result.outcomes) + len(result.died) + len(result.waiting), []
    if died := result.died:  # (helper-167: one killed worker ended the whole sweep)
        said.append(f"{len(died)} run{'s' * (len(died) != 1)} of {name} ({', '.join(r.run_id for r in died[:3])}"
                    f"{', ...' * (len(died) > 3)}) lost {'its' if len(died) == 1 else 'their'} worker process as "
                    f"{'it' if len(died) == 1 else 'they'} trained (killed: by the system for lack of memory, or kill -9?),"
                    " recorded interrupted: run the same command again to train "
                    f"{'it' if len(died) == 1 else 'them'} (fewer --jobs need less memory)")
    if bad["failed"]:
        said.append(f"{bad['failed']} of {total} runs of {name} failed (no result)")
    if bad["diverged"]:
        said.append(f"{bad['diverged']}{'' if said else f' of {total} runs of {name}'} diverged (scored as their "
                    "weights ended: the table's note says so)")
    for variant, after in dict.fromkeys((c.variant, c.after) for c in result.waiting):
        mine = [c for c in result.waiting if c.variant == variant]
        n, why = len(mine), Counter(result.waiting_on.get(c.key, "not trained") for c in mine)
        ended = ", ".join(f"{k} {s}" if n > 1 else s for s, k in why.items())
        said.append(f'{n} run{"s" * (n != 1)} of variant "{variant}" not trained: {"they start" if n != 1 else "it starts"} '
                    f'from the weights of variant "{after}"\'s run{"s" * (n != 1)} of the same seed, which did not '
                    f"finish ({ended}); a run that diverged or failed is not trained again as it is: change variant "
                    f'"{after}"\'s settings (its learning rate?), or --force trains every run again')
    flag = store_flag(root)  # (helper-163: without it, these named the default store)
    raise RunNotFinished(f"{'; '.join(said)}: see `mnistlab runs -e {name}{flag}` and `mnistlab show RUN_ID{flag}`")


def _sweep(exp: Experiment, st: RunStore, cells: list[tuple[str, str]], stop: StopSignal, fmt: str,
           runner: Runner | None, **options: Any) -> tuple[ExperimentResult, int]:
    """Run the sweep of ``cells`` (variant, config key) (``options``: :func:`~mnistlab.execute.run_experiment`'s),
    showing its progress, then its table; (the result, the signal that stopped it or 0). Stopped
    once the cells had ended (scoring committees, printing the table): says what the store holds
    of these cells and exits (:func:`_say_recorded`)."""
    from mnistlab.backends import close
    from mnistlab.execute import SweepInterrupted, run_experiment
    from mnistlab.experiments import shared_runs

    stopped = 0
    try:
        with _Progress(exp.name, fmt, st.root, len(cells)) as progress:
            try:
                here = exp if runner is not None else dataclasses.replace(  # (--backend local chose: said nothing)
                    exp, resources=dataclasses.replace(exp.resources, backend="local"))
                result = run_experiment(here, st, on_cell=progress, runner=runner, progress="none", **options)
                stopped = int(stop.signum) if stop.came else 0  # (a SIGTERM swallowed by a garbage collector's callback)
            except SweepInterrupted as exc:
                result, stopped = exc.result, int(stop.signum)
            finally:
                close(runner)
        quick = bool(options.get("quick"))
        now = exp.cells(quick=quick, store=st)  # (those that started from runs of this sweep: their keys now)
        cells = [(c.variant, c.key) for c in now]
        shared = [] if stopped else shared_runs((c.variant, c.key, c.seed) for c in now)
        progress.finish(result.rows, [] if stopped else [o.record for o in result.outcomes], shared)  # (as compare
        # says them under its table: said before the sweep too, they were far above a long one's table)
    except KeyboardInterrupt:  # after the cells: scoring committees, closing Ray, printing the table
        _say_recorded(st, exp.name, int(stop.signum), cells, bool(options.get("force")))
    return result, stopped


def _say_before(exp: Experiment, st: Any, todo: list[Cell], *, quick: bool, force: bool, err: bool) -> None:
    """What `mnistlab run` says before its first cell: what --quick makes alike, the variants that
    train again (their data or settings changed), the variants that share runs, and the
    checkpoint paths several runs write."""
    from mnistlab.execute import data_changed, other_files, settings_changed, shared_checkpoints
    from mnistlab.experiments import model_warnings, shared_runs

    if quick:
        _say_quick(exp.cells(), todo, err=err)
    for line in [*model_warnings(exp), *other_files(st, exp.name, exp.file_path())]:
        click.echo(f"warning: {line}", err=True)
    for line in [*data_changed(st, todo, force), *settings_changed(st, todo, force)]:
        click.echo(line, err=err)
    for line in shared_runs((c.variant, c.key, c.seed) for c in todo):  # as `compare` says them of these runs,
        click.echo(f"note: {line}", err=True)  # smoke runs too (helper-160: `run --quick` said nothing, compare did)
    for line in shared_checkpoints(todo):
        click.echo(f"warning: {line}", err=True)


def _digest(path: str) -> str | None:
    """The SHA-256 of the file at ``path``; None where it cannot be read (gone: a change too)."""
    from mnistlab.datasets import file_digest
    from mnistlab.errors import DataError

    try:
        return file_digest(Path(path))
    except DataError:
        return None


def _say_if_changed(path: str, read: str | None, flag: str = "") -> None:
    """A note where the experiment file at ``path`` is no longer what `run` read (its :func:`_digest`
    ``read``): helper-161 edited a variant while its sweep ran, and the table showed the old one
    unsaid. ``flag``: the store's (:func:`~mnistlab.cli._common.store_flag`), in the command to copy."""
    if not Path(path).exists():  # helper-167: a file deleted was said "changed", its rerun hint of no use
        click.echo(f"note: {path} was deleted while the sweep ran: the table is of the file as it was read at its "
                   "start", err=True)
    elif _digest(path) != read:
        click.echo(f"note: {path} changed while the sweep ran: the table is of the file as it was read at its start; "
                   f"`mnistlab run {shell_word(path)}{flag}` again trains what it asks for now", err=True)


# long: the plan's checks, then its table and the line that says what next, each a few lines
def _dry_run(exp: Experiment, cells: list[Cell], store: str | None, data_dir: Path | None, fmt: str, *,
             files_here: bool, quick: bool, force: bool) -> None:
    """`run --dry-run`: what `run` would do with each cell (:func:`~mnistlab.execute.plan_cells`),
    checked as `run` checks it before it trains: the store's path (:meth:`RunStore.check_root`),
    then the cells it would train against their data (:func:`~mnistlab.execute.check_data`: the
    user's data read, a registered dataset's files found, not downloaded), with `run`'s lines of
    what changed; then a row per variant (finished, to train, recorded from another's run) in
    ``fmt`` and what to run next. StoreError (exit 2) where `run` would fail on the store: cells to
    train in one that cannot be written. Nothing is trained or written (helper-161, helper-164)."""
    from mnistlab.data.registry import get_info, is_registered
    from mnistlab.datasets import find_files
    from mnistlab.execute import (check_data, data_changed, held_elsewhere, other_files, plan_cells, settings_changed,
                                  shared_checkpoints)
    from mnistlab.experiments import model_warnings
    from mnistlab.store import DB_FILE, RunStore, default_root

    root = Path(store) if store else default_root()
    RunStore.check_root(root)
    st = RunStore(root, create=False) if (root / DB_FILE).is_file() else None
    if st is not None and exp.starts_from_runs:  # a variant that starts from another's runs: those finished give
        cells = exp.cells(quick=quick, store=st, planning=True)  # its cells their keys (or will, recorded again)
    plan = plan_cells(st, cells, force)
    todo = [c for c, state, _ in plan if state == "train"]
    check_data(exp, todo, data_dir, files_here=files_here, quick=quick, download=False)  # (helper-163: it downloaded)
    for name in dict.fromkeys(d for c in todo if isinstance(d := c.config.get("dataset"), str)):  # (a table: own data)
        if files_here and is_registered(name) and find_files(get_info(name), data_dir) is None:
            click.echo(f"note: {name}'s files are not here: a run downloads them first", err=True)
    for line in model_warnings(exp):  # as `run` says them before training (helper-193)
        click.echo(f"warning: {line}", err=True)
    mine = (cells[0].experiment, cells[0].source) if cells else (exp.name, "")
    for line in [*(f"warning: {line}" for line in other_files(st, *mine)), *data_changed(st, todo, force),
                 *settings_changed(st, todo, force)] if st is not None else []:
        click.echo(line, err=True)
    for line in shared_checkpoints(todo):  # as `run` says it before training (helper-193: the dry run did not)
        click.echo(f"warning: {line}", err=True)
    held = held_elsewhere(st, todo) if st is not None else []  # (helper-227: said "to train"; `run` then left them)
    if held:
        who = ", ".join(dict.fromkeys(f"pid {r.pid} on {r.host}" for r in held))
        click.echo(f"note: {len(held)} run{'s' * (len(held) != 1)} {'is' if len(held) == 1 else 'are'} being trained "
                   f"now by another process ({who}): `run` leaves {'it' if len(held) == 1 else 'them'} to it, and counts "
                   f"{'it' if len(held) == 1 else 'them'} nowhere below", err=True)
    if todo and st is not None and st.read_only:
        raise StoreError(f"{root}: the store cannot be written (a read-only disk or folder, or another user's?), and "
                         f"{len(todo)} of {len(cells)} runs are to train for {exp.name}: give one that can be written "
                         "with --store")
    rows: dict[str, dict[str, Any]] = {}
    elsewhere = {(r.variant, r.config_hash) for r in held}
    waiting = _waiting(exp, plan)
    left = [*waiting, *(c for c, state, _ in plan if state == "train" and (c.variant, c.key) in elsewhere)]
    for c, state, _ in plan:
        row = rows.setdefault(c.variant, {"variant": c.variant, "finished": 0, "to_train": 0, "resumed": 0,
                                          "recorded_from_another": 0, "recipe": _recipe(c)})
        row["finished" if state == "finished" else "to_train" if state == "train" else "recorded_from_another"] += (
            not any(c is w for w in left))
        row["resumed"] += state == "train" and _checkpointed(st, c)
    todo = [c for c in todo if not any(c is w for w in left)]
    click.echo(f"experiment {exp.name}: {len(cells)} run{'s' * (len(cells) != 1)}, "
               f"{f'store {st.root}' if st is not None else f'no store yet at {root}'} (--dry-run: checked, nothing "
               "trained)", err=fmt != "table")
    table = fmt in ("table", "markdown", "latex")  # each recipe a line of its own under the table, not a column
    emit(list(rows.values()), _PLAN_COLUMNS[:-1] if table else _PLAN_COLUMNS, "table" if table else fmt)
    width = max(map(len, rows), default=0)
    for row in rows.values() if table else ():
        click.echo(f"  {printable(row['variant']):{width}}  {row['recipe'] or '(its settings are read when it starts)'}")
    again = (f"`mnistlab run {shell_word(exp.source)}{' --quick' * quick}{store_flag(root)}"
             f"{f' --data-dir {shell_word(data_dir)}' if data_dir else ''}{' --force' * force}`")
    n, starting = len(todo), sum(c.pending for c in todo)
    waits = (f" ({starting} of them start{'s' * (starting == 1)} from runs still to train: where those end with the "
             "weights of runs recorded before, theirs are found done instead)" if starting else "")  # (helper-208)
    click.echo(f"{n} run{'s' * (n != 1)} to train{waits}: {again} trains {'it' if n == 1 else 'them'}" if n else
               f"nothing to train: {again} prints the table ({again[:-1]} --force` trains every run again)",
               err=fmt != "table")
    for variant, after in dict.fromkeys((c.variant, c.after) for c in waiting):  # (review: said "to train", never was)
        k = sum(c.variant == variant for c in waiting)
        click.echo(f'variant "{variant}": {k} run{"s" * (k != 1)} not to train: {"they start" if k != 1 else "it starts"} '
                   f'from variant "{after}"\'s run{"s" * (k != 1)} of the same seed, which ended without finishing '
                   f'(diverged or failed): change "{after}"\'s settings, or --force', err=True)


_PLAN_COLUMNS = (Column("variant", "variant", whole=True), Column("finished", "finished", right=True),
                 Column("to_train", "to train", right=True),
                 Column("resumed", "of them resumed", right=True),  # (helper-183: a resume was not said)
                 Column("recorded_from_another", "recorded from another's run", right=True),
                 Column("recipe", "recipe"))  # (helper-245: the dry run showed counts alone)


def _recipe(cell: Cell) -> str | None:
    """:func:`~mnistlab.summary.recipe_said` of a cell's config; None where it cannot be
    read (a variant starting from runs not yet trained: its start is said above)."""
    from mnistlab.summary import recipe_said
    from mnistlab.config import parse_run_config

    try:
        return recipe_said(parse_run_config(cell.config, source=cell.variant))
    except MnistlabError:
        return None


def _waiting(exp: Experiment, plan: Sequence[tuple[Cell, str, Any]]) -> list[Cell]:
    """The cells of ``plan`` (:func:`~mnistlab.execute.plan_cells`) that `run` would not train: they
    start from a run (``weights = { variant = ... }``) that has ended without finishing (diverged or
    failed), which `run` does not train again."""
    states = {(c.variant, c.key): state for c, state, _ in plan}
    cells = [c for c, _, _ in plan]
    waiting: dict[tuple[str, int, int], Cell] = {}
    for _ in range(len(cells)):  # (a chain a -> b -> c waits whole on a's: each pass reaches one step further)
        more = {(c.variant, c.repeat, c.member): c for c in cells if c.pending and (start := exp.start_cell(c, cells))
                and ((start.variant, start.repeat, start.member) in waiting
                     or (not start.pending and states.get((start.variant, start.key)) not in ("train", "repeat")))}
        if more.keys() <= waiting.keys():
            break
        waiting.update(more)
    return list(waiting.values())


def _checkpointed(st: Any, cell: Any) -> bool:
    """Whether the sweep's checkpoint of ``cell`` is there: `run` goes on from its epoch, not afresh."""
    from mnistlab.trainer import CHECKPOINT_FILE

    return st is not None and (st.checkpoint_dir(cell.experiment, cell.variant, cell.key, own=False) / CHECKPOINT_FILE).is_file()


def _say_stopped(st: RunStore, name: str, signum: int, cells: list[tuple[str, str]], force: bool, *,
                 worker: bool = False) -> None:
    """One line on stderr of what the store holds of this sweep's ``cells`` (``(variant, key)``), then
    exit 128 + the signal's number (130 Ctrl-C, 143 SIGTERM, 141 a closed output). helper-123: it
    counted only this process's cells ("0 runs finished" above a table of another's), and said
    "train only the rest" where none was left. ``worker``: a worker process was told to stop (a
    signal sent to it alone), not this one: said so, exit 1 (helper-167: "interrupted by SIGINT")."""
    from mnistlab.live import sweep_status

    status = sweep_status(st, name, cells)
    elsewhere = f", {len(status.running)} training in another process" if status.running else ""
    left = (f"{status.left} left: {_again(force)} to train them (one stopped in training goes on from its last "
            "checkpoint, if it reached one)" if status.left else "none left to train"
            + (" (every cell has a result: --force again trains them all again)" if force else ""))
    why = ("stopped because a worker process was told to stop (a signal sent to it alone, not to this command)"
           if worker else stopped_by(signum))
    click.echo(f"{why}: {status.done} of {status.total} runs of {name} finished and recorded, "
               f"{status.failed} failed, the running ones here recorded as interrupted{elsewhere}; {left}", err=True)
    raise SystemExit(1 if worker else 128 + signum)


def _again(force: bool) -> str:
    """How a stopped sweep is finished: its command again, without --force (which trains every cell again)."""
    return "run the same command again without --force" if force else "run the same command again"


def _say_recorded(st: RunStore, name: str, signum: int, cells: list[tuple[str, str]], force: bool) -> None:
    """Stopped once the cells had ended: say what the store holds of this sweep's ``cells`` (not of
    the last plan written: a sweep with nothing to train writes none), then exit 128 + the signal's number."""
    from mnistlab.live import sweep_status

    status = sweep_status(st, name, cells)
    left = f"{status.left} left: {_again(force)} to train them" if status.left else "none left"
    click.echo(f"{stopped_by(signum)} after the cells: {status.done} of {status.total} runs "
               f"of {name} finished and recorded, {status.failed} failed, {left}; `mnistlab compare {name}` "
               "shows the table", err=True)
    raise SystemExit(128 + signum)


@click.command("watch")
@click.argument("experiment")
@_STORE
@click.option("--interval", type=FiniteRange(0.1, 3600), default=2.0, show_default=True,
              help="Seconds between two looks at the store.")
@click.option("--wait/--no-wait", default=None,
              help="Wait for a sweep that has not started yet (the default when EXPERIMENT is a file), or for the next "
                   "run of one that has ended (`run --force` started after `watch`).")
def watch_cmd(experiment: str, store: str | None, interval: float, wait: bool | None) -> None:
    """Follow a sweep that `mnistlab run` works through elsewhere (another terminal, a batch job),
    from the store alone: cells done / running / left, the leader, ETA and each running cell's
    epoch. EXPERIMENT is its file, its name or one of its run ids.

    On a terminal one table updates in place; in a pipe or a log, one line whenever the counts
    change. Exits when no cell is running and none is left (or the sweep's driver has ended);
    Ctrl-C, or a closed output (`| head -1`), stops watching (status 0) and leaves the sweep
    alone. A sweep not started yet (no store, or no run of it) is waited for when EXPERIMENT is
    a file or with --wait (Ctrl-C then exits 130); a name with --no-wait (the default for a
    name) is an error at once. A sweep that has ended is shown and left, unless --wait is given
    or EXPERIMENT is a file with cells its last sweep did not have (edited since): then its next
    `mnistlab run` is waited for.
    """
    st, name, waited = _await_sweep(store, experiment, Path(experiment).is_file() if wait is None else wait, interval)
    if not waited:  # (helper-242: one that waited for the sweep to start then waited for another)
        _await_next_sweep(st, name, experiment, wait, interval)
    from mnistlab.execute import StopSignal  # (torch: after a mistake is said, helper-173)
    from mnistlab.live import watch

    try:
        with closed_output_stops(StopSignal()):  # `watch ... | head -1`: stops once head has its line
            status = watch(st, name, rich_console(), interval=interval, live=is_terminal())
    except KeyboardInterrupt:
        return
    n = status.left
    if n and not status.planned:  # helper-146: `mnistlab train` runs said "the sweep's driver ... run it again"
        click.echo(f"{n} run{'s' * (n != 1)} of {name} ended without a result and no sweep is planned to train "
                   f"{'them' if n != 1 else 'it'} (`mnistlab train` runs): `mnistlab runs -e {name}` lists the runs, "
                   "`mnistlab show RUN_ID` says how each ended", err=True)
    elif n and not status.driver_alive:
        what = ("search", "trial") if status.search else ("sweep", "cell")
        click.echo(f"the {what[0]}'s driver has ended with {n} {what[1]}{'s' * (n != 1)} left: run it again to finish "
                   f"{'them' if n != 1 else 'it'}", err=True)


def _await_sweep(store: str | None, target: str, wait: bool, interval: float) -> tuple[RunStore, str, bool]:
    """The store, the experiment name ``target`` stands for, and whether it waited; with ``wait``,
    waiting (one line said once) until the store and a run or plan of it exist. Ctrl-C while
    waiting exits 130."""
    import warnings

    from mnistlab.errors import NotRecorded, StoreError
    from mnistlab.experiments import load_experiment

    if target.endswith(".toml") or Path(target).is_file():  # a missing or broken file is said now, not waited
        with warnings.catch_warnings():  # on without a store (helper-174); its warnings are said as it is read
            warnings.simplefilter("ignore")
            load_experiment(target)
    said = False
    while True:
        try:
            st = open_store(store)
            return st, _watched_name(st, target), said
        except NotRecorded as exc:  # not started yet; any other StoreError (a damaged store, a hint) is said at once
            if not wait:
                raise StoreError(f"{exc} (--wait waits for it to start)") from None
        if not said:
            click.echo(f"waiting for {target} to start... (Ctrl-C stops)", err=True)
            said = True
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            raise SystemExit(130) from None


def _await_next_sweep(st: RunStore, name: str, target: str, wait: bool | None, interval: float) -> None:
    """Where ``name``'s sweep has ended and ``wait`` is True (or None for a file with cells the
    sweep's plan lacks), wait (one line said once) until another `mnistlab run` of it starts: a new
    plan, or a running run. Helper-234 (note 55): `watch FILE` started before `run --force` showed
    the old sweep done and exited. Ctrl-C while waiting exits 130."""
    from mnistlab.live import read_plan, sweep_status

    if wait is False or not sweep_status(st, name).over:
        return
    plan = read_plan(st.root, name)
    if wait is None and not _cells_not_planned(st, name, target, plan):
        if Path(target).is_file():
            click.echo(f"{name}'s last sweep has ended (--wait waits for its next `mnistlab run`)", err=True)
        return
    started = plan.get("started") if plan else None
    click.echo(f"{name}'s last sweep has ended: waiting for its next `mnistlab run`... (Ctrl-C stops)", err=True)
    try:
        while True:
            time.sleep(interval)
            plan = read_plan(st.root, name)
            if (plan is not None and plan.get("started") != started) or not sweep_status(st, name).over:
                return
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def _cells_not_planned(st: RunStore, name: str, target: str, plan: Mapping[str, Any] | None) -> bool:
    """Whether experiment file ``target`` (of experiment ``name``) has a cell that ``plan`` (its
    last sweep's) lacks and the store has no result of: the file was edited since that sweep. False
    for a name, a search, or a file that cannot be read as it stands."""
    from mnistlab.execute import DONE_STATUSES
    from mnistlab.experiments import load_experiment

    if plan is None or not Path(target).is_file():
        return False
    try:
        import warnings

        with warnings.catch_warnings():  # (said once as it was read)
            warnings.simplefilter("ignore")
            exp = load_experiment(target)
            cells = exp.cells(quick=bool(plan.get("quick")), store=st, planning=True)
    except MnistlabError:
        return False
    if exp.name != name:
        return False
    known = {tuple(c) for c in plan.get("cells") or ()}
    return any((c.variant, c.key) not in known and not c.pending  # (a pending cell's key is not yet its own)
               and st.find_finished(name, c.variant, c.key, DONE_STATUSES, whole=True) is None for c in cells)


def _watched_name(st: RunStore, target: str) -> str:
    """The experiment name EXPERIMENT stands for; a sweep that has a plan but no run yet counts."""
    from mnistlab.comparison import resolve_experiment
    from mnistlab.errors import StoreError
    from mnistlab.experiments import load_experiment
    from mnistlab.live import read_plan

    try:
        return resolve_experiment(st, target).name
    except StoreError:
        name = load_experiment(target).name if target.endswith(".toml") else target
        if read_plan(st.root, name) is not None:
            return name
        raise


RUN_COLUMNS = (Column("run_id", "run", whole=True), Column("experiment", "experiment", drop=6, whole=True),
               Column("variant", "variant", whole=True), Column("seed", "seed", right=True, drop=5),
               Column("member", "member", right=True, drop=2), Column("status", "status", whole=True),
               Column("test_accuracy", "test acc", lambda a: f"{100 * a:.2f}%", right=True, whole=True),
               Column("epochs", "epochs", right=True, drop=3),
               Column("started", "started", lambda t: t[:16].replace("T", " "), drop=1),
               Column("quick", "quick", lambda q: "yes" if q else "no", drop=4),
               Column("dataset", "dataset", drop=2, whole=True),  # (each added last: readers by position)
               Column("file", "file", shown_path, drop=7, fold=True),  # its experiment file (table: runs of several)
               Column("tags", "tags", tags_said, drop=8),  # (table: where a run listed has some)
               Column("note", "note", drop=9),
               # csv and json only (helper-252: a tracking user's params and metrics beside each run)
               *(Column(key, key) for key in ("optimizer", "lr", "batch_size", "train_accuracy", "val_accuracy",
                                             "test_loss", "train_seconds", "tta_test_accuracy", "tta_val_gain")),
               # a finished run whose weights or predictions are gone (table: where a listed run's are)
               Column("files_gone", "files", lambda g: "gone" if g else "", drop=10))
_RUN_TABLE_LEFT_OUT = ("note", "optimizer", "lr", "batch_size", "train_accuracy", "val_accuracy", "test_loss",
                       "train_seconds", "tta_test_accuracy", "tta_val_gain")
# (names whole, never split: a name is copied back into a command; helper-176: "seed000-d" / "ense")


RUN_SORTS = ("started", "test_accuracy", "epochs", "experiment", "variant", "status", "seed")


@click.command("runs")
@_STORE
@click.option("--experiment", "-e", "experiments", multiple=True,
              help="Only this experiment's runs: an experiment file, its name, or one of its run ids; repeat it for "
                   "several.")
@click.option("--status", "-s", multiple=True,
              help="Only runs with this status (running, finished, diverged, interrupted, failed); repeat it, or give "
                   "several with commas, "
                   "for any of them.")
@click.option("--since", metavar="WHEN", help="Only runs started since then: a date or time (2026-12-01, 2026-12-01T14:00, "
              "local time) or a span before now (30m, 12h, 7d).")
@click.option("--older-than", "older_than", metavar="WHEN",
              help="Only runs started before then (as `rm --older-than` chooses them): a date or a span before now.")
@click.option("--sort", "sort_key", metavar="KEY", default="started", show_default=True,
              help=f"Order by {', '.join(RUN_SORTS)}, or any setting or metric --where names (lr, test_loss, "
                   "model.layers[0].filters); -KEY for the largest first (-test_accuracy: the best first).")
@click.option("--limit", "-n", type=IntRange(min=1), help="At most this many runs, the first of the order.")
@click.option("--tag", "-t", "tags", multiple=True, help="Only runs tagged so (`mnistlab note RUN --tag TAG`); repeat "
              "it for runs that carry every one.")
@click.option("--where", "-w", "where", multiple=True, metavar="KEY=VALUE",
              help="Only runs whose setting or metric is so: lr=0.01, model=seed000-cnn, host=labserver, "
                   "\"test_accuracy>0.9\" (=, !=, <, <=, >, >=); repeat it for runs that meet every one.")
@format_option()
def runs_cmd(store: str | None, experiments: tuple[str, ...], status: tuple[str, ...], since: str | None,
             older_than: str | None, sort_key: str, limit: int | None, tags: tuple[str, ...], where: tuple[str, ...],
             fmt: str) -> None:
    """List recorded runs, oldest first (see --sort); "quick" marks the size of a --quick smoke run
    (1 epoch, at most 300 training images; a search --quick trial: 2 epochs), which comparisons by
    name leave out beside full-size runs; "file" the experiment file a run came from (in the table
    where the runs listed came from several).

    \b
    mnistlab runs --sort -test_accuracy -n 10       # the 10 best runs
    mnistlab runs --since 2d -s failed               # what failed in the last two days
    mnistlab runs --where lr=0.01 --where "test_accuracy>0.9"
    """
    from mnistlab.notes import read_notes, tagged
    from mnistlab.selection import parse_condition, selected, sort_values

    order, descending = _run_sort(sort_key)
    for text in where:  # (a mistake said before the store is read)
        parse_condition(text)
    after = _since(since) if since is not None else None
    before = _since(older_than, "--older-than") if older_than is not None else None
    st = open_store(store)
    _, _, recs = _chosen_runs(st, experiments, status, after, before)
    chosen = selected(tagged(st, recs, tags), where)
    rows = [{**_run_row(r, read_notes(st, r.run_id)), "files_gone": st.files_gone(r)} for r in chosen]
    if order not in RUN_SORTS:  # a setting or metric, as --where names it (helper-252: --sort lr was refused)
        for row, value in zip(rows, sort_values(chosen, order, RUN_SORTS)):
            row["_sort"] = value
        order = "_sort"
    rows = _ordered(sorted(rows, key=lambda row: row["_created"]), "_created" if order == "started" else order,
                    descending)[:limit]  # (ties: in start order)
    several, noted = len({row["file"] for row in rows}) > 1, any(row["tags"] for row in rows)
    gone = sum(row["files_gone"] for row in rows)
    columns = [c for c in RUN_COLUMNS if fmt != "table" or c.key not in _RUN_TABLE_LEFT_OUT and (c.key != "file" or several)
               and (c.key != "tags" or noted) and (c.key != "files_gone" or gone)]  # (a note, lines of text: in json
    emit(rows, columns, fmt, empty="no runs" + (f" tagged {', '.join(tags)}" if tags else ""))  # and csv, and `show`)
    if gone:  # (note 58: listed as finished, unmarked, where `show` and a sweep said it)
        whose = "its" if gone == 1 else "their"
        click.echo(f"warning: {gone} finished run{'s' * (gone != 1)} listed lack{'s' * (gone == 1)} {whose} weights or "
                   "predictions (files gone): `mnistlab reindex --check` checks every run", err=True)


def _chosen_runs(st: RunStore, experiments: Sequence[str], status: Sequence[str], after: float | None = None,
                 before: float | None = None) -> tuple[list[str | None], list[str] | None, list[RunRecord]]:
    """The runs `runs` lists and `rm --status/--older-than` deletes: of the ``experiments`` (names,
    files or run ids; none: the whole store; -e a -e b: both, helper-196), of any of the ``status``
    words (each may hold several, with commas), started at ``after`` or later and before ``before``
    (epoch seconds). Returns (the experiment names, [None] for the store; the statuses, None for any;
    the runs, in start order)."""
    from mnistlab.comparison import resolve_experiment

    names: list[str | None] = [*dict.fromkeys(resolve_experiment(st, e).name for e in experiments)] or [None]
    statuses = [w.strip() for given in status for w in given.split(",")] or None  # -s a -s b, -s a,b
    recs = [r for name in names for r in st.runs(experiment=name, status=statuses)
            if (after is None or r.created_at >= after) and (before is None or r.created_at < before)]
    return names, statuses, recs


def _run_row(r: RunRecord, notes: Any) -> dict[str, Any]:
    """One run as `runs` lists it, with its :class:`~mnistlab.notes.Notes` (``_created``: its start in
    epoch seconds, to sort by; not shown)."""
    from mnistlab.comparison import smoke_run
    from mnistlab.data.userdata import dataset_label
    from mnistlab.store import RESULT_STATUSES

    acc = r.metrics.get("test_accuracy") if r.status in RESULT_STATUSES else None  # a stop's or a failure's
    # weights were tested (train, predict) but they are no result, as compare counts none
    return {"run_id": r.run_id, "experiment": r.experiment, "variant": r.variant, "seed": r.seed,
            "member": r.member, "status": r.status, "test_accuracy": acc if isinstance(acc, float) else None,
            # an ended run's epochs, 0 before its first whichever way it was stopped (helper-124: - or 0)
            "epochs": None if r.status == "running" and not r.history else r.metrics.get("epochs_run", len(r.history)),
            # RFC 3339, local time with its offset "+01:00" (helper-165: "+0100" no parser of 3.10 read)
            "started": _local_time(r.created_at),
            "quick": smoke_run(r),  # runs of one model on two datasets read alike without (helper-129)
            "dataset": dataset_label(r.config["dataset"]) if (r.config or {}).get("dataset") else None,
            "file": (r.env or {}).get("experiment_file") or None,  # (a class's files: helper-193)
            "tags": list(notes.tags), "note": notes.note, "_created": r.created_at,
            **{k: (r.config.get("train") or {}).get(k) for k in ("optimizer", "lr", "batch_size")},
            **{k: r.metrics.get(k) if r.status in RESULT_STATUSES or "test_" not in k else None  # (tta_test_ too)
               for k in ("train_accuracy", "val_accuracy", "test_loss", "train_seconds",
                         "tta_test_accuracy", "tta_val_gain")}}  # (helper-258: --where took them, csv had none)


def _run_sort(given: str, keys: Sequence[str] = RUN_SORTS) -> tuple[str, bool]:
    """``--sort``'s key (one of ``keys``) and whether it is descending (``-KEY``); SpecError naming the
    keys otherwise."""
    from mnistlab.errors import did_you_mean

    key = given.strip().lstrip("-")
    if keys is RUN_SORTS and key not in keys and re.fullmatch(r"[A-Za-z_][\w.\[\]-]*", key) and key != "test_acc":
        return key, given.strip().startswith("-")  # a setting or metric: checked against the runs (sort_values)
    for one, other in (("test_accuracy", "test_acc"), ("test_acc", "test_accuracy")):  # runs' name and compare's
        if key == one and one not in keys and other in keys:  # (helper-241: each refused the other's)
            key = other
    if key.startswith("settings.") and len(key) > len("settings.") and keys is COMPARE_SORTS:  # a row's setting
        return key, given.strip().startswith("-")  # (helper-230: `--sort settings.train.lr` was refused)
    if key not in keys:
        raise SpecError(f"--sort: unknown key {clip(given, 40)!r}{did_you_mean(key, keys)}; choose from "
                        f"{', '.join(keys)} (-KEY: the largest first)")
    return key, given.strip().startswith("-")


def _ordered(rows: Sequence[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    """``rows`` by ``row[key]`` (stable: ties keep their order), or by a setting of theirs
    (``settings.train.lr``: ``row["settings"]["train.lr"]``), those without a value (a failed run's
    accuracy, a committee's setting) last whichever the direction; values of several kinds by their text."""
    def value(row: Mapping[str, Any]) -> Any:
        if key.startswith("settings."):
            return (row.get("settings") or {}).get(key.removeprefix("settings."))
        return row.get(key)

    have = [row for row in rows if value(row) is not None]
    try:
        known = sorted(have, key=value, reverse=descending)
    except TypeError:  # (a setting that is a number in one row and a name in another)
        known = sorted(have, key=lambda row: str(value(row)), reverse=descending)
    return known + [row for row in rows if value(row) is None]


def _since(given: str, flag: str = "--since") -> float:
    """``--since``'s time in epoch seconds: a span before now (``30m``, ``12h``, ``7d``, ``2w``, ``90s``)
    or an ISO date or time in local time (``2026-12-01``, ``2026-12-01T14:00``); SpecError otherwise
    (``1M``, ``1y``: no months or years, which ``M`` would read as minutes)."""
    text = given.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?\s*(M|mo|mon|months?|y|years?)", text):  # (helper-204: 1M read as a minute)
        raise SpecError(f"{flag}: {clip(given, 20)!r}: spans are in s, m (minutes), h, d, w; a month is 30d")
    if m := re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", text.lower()):
        span = float(m[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m[2]]
        if not span < 100 * 365.25 * 86400:  # (helper-205: 99999999d, a traceback)
            raise SpecError(f"{flag}: {clip(given, 30)!r} reaches back further than 100 years")
        return time.time() - span
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SpecError(f"{flag}: expected a date or time (2026-12-01, 2026-12-01T14:00) or a span before now "
                        f"(30m, 12h, 7d), got {clip(given, 40)!r}") from None
    try:
        return (when if when.tzinfo else when.astimezone()).timestamp()
    except (ValueError, OverflowError, OSError):  # a date this machine's clock cannot hold (0001-01-01)
        raise SpecError(f"{flag}: {clip(given, 30)!r} is out of the range of dates this machine holds") from None


@click.command("show")
@click.argument("run_id")
@_STORE
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: for reading; json: the whole record as one object, for scripts.")
def show_cmd(run_id: str, store: str | None, fmt: str) -> None:
    """Show one run: status, metrics, environment, history and config (any unique id prefix)."""
    from mnistlab.comparison import seconds, smoke_run
    from mnistlab.notes import read_notes
    from mnistlab.store import ENDED

    st = open_store(store)
    r = st.get(run_id)
    if fmt == "json":
        click.echo(json.dumps(_shown_record(st, r), indent=1, sort_keys=True, default=str))
        return
    member = r.member or any(r.run_id in c.member_ids for c in st.committees(r.experiment))  # (its committees
    click.echo(f"run {r.run_id}  experiment {printable(r.experiment)}  variant {printable(r.variant)}  seed {r.seed}"
               + (f"  member {r.member}" if member else ""))  # only: helper-146, "member 0" of a run of none)
    if (r.config or {}).get("dataset"):  # helper-129: only inside its config
        from mnistlab.data.userdata import dataset_label

        click.echo(f"dataset {dataset_label(r.config['dataset'])}")
    if said := model_said(r):
        click.echo(said)
    tail, rest = status_said(r.status, r.message)  # "interrupted by Ctrl-C ...": the word once
    if (trained := r.env.get("same_run_as")) and not _recorded(st, str(trained)):  # helper-109: a trail to nothing
        rest += f" (run {trained} since deleted; this run holds its files and figures)"
    click.echo(f"status {r.status}{printable(tail)}" + (f": {printable(rest)}" if rest else ""))  # (a copied-in store's
    # text may hold a terminal's escape codes: helper-172)
    smoke = ("size of a --quick smoke run (1 epoch, at most 300 training images): comparisons by name leave it out "
             "where its variant has a full-size run") if smoke_run(r) else None
    for said in (_started_said(st, r), _started_from_it(st, r), _resumed_said(st, r), smoke, trial_said(r), result_said(r),
                 _optimistic(r), *warnings_said(r), *notes_said(read_notes(st, r.run_id))):  # its warnings, the user's words
        if said:
            click.echo(said)
    took = ""
    if trained:  # helper-146: a shared run's record "took 0.0 s": it was copied, trained once as the other
        took = f", recorded from run {trained}, which trained it"
    elif r.finished_at:
        secs = r.finished_at - r.created_at
        took = (f", found ended {seconds(secs)} s after it started (its own end was not recorded)" if r.message == ENDED
                else f", took {seconds(secs)} s")  # (as the table says times: "0.0 s" read shorter than its training)
    click.echo(f"started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(r.created_at))}{took}")
    if isinstance(command := (r.env or {}).get("command"), str):  # how to make it again (note 58: not kept)
        cwd = (r.env or {}).get("cwd")
        click.echo(f"command {printable(command)}" + (f"  (in {printable(str(cwd))})" if cwd else ""))
    if r.status == "running":
        from mnistlab.live import progress_said

        click.echo(progress_said(r, time.time()))
    click.echo(f"artifacts {st.artifact_dir(r.run_id)}")
    if damaged := st.unusable(r.run_id):  # (helper-250: a run whose folder was gone read as whole)
        click.echo(f"warning: run {r.run_id} is {damaged} (`mnistlab reindex --check` checks every run)", err=True)
    click.echo("metrics " + json.dumps(r.metrics, indent=1, sort_keys=True))
    click.echo("env " + json.dumps(r.env, indent=1, sort_keys=True))
    click.echo(f"history ({len(r.history)} epoch{'s' * (len(r.history) != 1)})")
    for h in r.history:
        click.echo("  " + "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in h.items()
                                    if k != "epochs"))  # a running run's planned epochs: its progress line says them
    click.echo("config " + json.dumps(r.config, indent=1, sort_keys=True))


def model_said(r: RunRecord) -> str | None:
    """`show`'s line of a run's network: ``model seed000-cnn, changed: layers[0].filters=16, 215,658
    params`` (a variant's ``"model.layers[0].filters"`` keeps the preset's name, which alone said the
    preset); None for a record without a model."""
    from mnistlab.presets import changed_from_preset

    model = (r.config or {}).get("model")
    if not isinstance(model, dict):
        return None
    said = [f"model {model.get('name') or '(written inline)'}"]
    if changed := changed_from_preset(model):
        said.append(f"changed: {changed}")
    if isinstance(params := (r.metrics or {}).get("params"), int):
        said.append(f"{params:,} params" + _trainable_said(model))
    return ", ".join(said)


def _trainable_said(model: dict[str, Any]) -> str:
    """``" (52,618 trainable)"`` for a model with frozen layers (``trainable = false``), as Keras's
    summary says it (helper-208: `show` gave the total alone); "" for one without, or one that
    cannot be built now."""
    if '"trainable": false' not in json.dumps(model):
        return ""
    from mnistlab.specs import ModelSpec
    from mnistlab.summary import summarize

    try:
        return f" ({summarize(ModelSpec.from_dict(model)).trainable:,} trainable)"
    except (MnistlabError, ValueError, TypeError, KeyError):
        return ""


def _started_said(st: RunStore, r: RunRecord) -> str | None:
    """`show`'s line of the weights a run started from (:func:`~mnistlab.initial_weights.said`):
    ``initial weights run 3fa9c01b2e's (/path/weights.safetensors)``, ``(that run deleted since)``
    where the run is gone from ``st`` (helper-210); None for a fresh start."""
    from mnistlab.initial_weights import said

    started = (r.metrics or {}).get("initial_weights")
    if not (text := said(started)):
        return None
    runs = [str(i) for i in (started.get("runs") or [])] if isinstance(started, dict) else []
    return f"initial weights {printable(text)}" + (" (that run deleted since)" if any(_gone(st, i) for i in runs) else "")


def _gone(st: RunStore, run_id: str) -> bool:
    """Whether ``st`` no longer holds the run ``run_id`` (a whole id a record names)."""
    try:
        return st.get(run_id).run_id != run_id
    except MnistlabError:
        return True


def _started_from_it(st: RunStore, r: RunRecord) -> str | None:
    """`show`'s line of the runs that started from this run's weights (the trail the other way):
    ``its weights started runs 7b1e02c4d9, 81be22a0c3``; None where none did."""
    from mnistlab.initial_weights import started_from

    if not (after := started_from(st, {r.run_id})):
        return None
    return f"its weights started run{'s' * (len(after) != 1)} {', '.join(after[:8])}" + (" ..." if len(after) > 8 else "")


def _shown_record(st: RunStore, r: RunRecord) -> dict[str, Any]:
    """`show --format json`'s object: the record as stored, with where its files are, whether it is
    smoke-sized, its tags and note, and where a running run stands (as the text says it, helper-124)."""
    from mnistlab.comparison import smoke_run
    from mnistlab.notes import read_notes

    notes = read_notes(st, r.run_id)
    record = {**dataclasses.asdict(r), "artifacts": str(st.artifact_dir(r.run_id)), "smoke_run": smoke_run(r),
              "tags": list(notes.tags), "note": notes.note}
    if r.status == "running":
        from mnistlab.live import running_cell

        cell = running_cell(r, time.time())
        record["progress"] = {"epoch": cell.epoch, "epochs": cell.epochs, "seconds": round(cell.seconds, 3),
                              "queued": cell.queued}
    return record


def notes_said(notes: Any) -> list[str]:
    """`show`'s lines of a run's :class:`~mnistlab.notes.Notes`: ``tags best, baseline``, then ``note``
    and each line of it indented; none for a run without."""
    lines = [f"tags {printable(tags_said(notes.tags))}"] if notes.tags else []
    if notes.note:
        lines += ["note:", *(f"  {printable(line)}" for line in notes.note.split("\n"))]
    return lines


def _resumed_said(st: RunStore, r: RunRecord) -> str | None:
    """`show`'s line of the run whose checkpoint ``r`` continued (helper-171: a resumed run named
    none): ``resumed from the checkpoint of run ID after epoch 2[, batch 9]``, ``(deleted since)``
    where ``st`` no longer holds that run (helper-206); None for a fresh run."""
    if not (before := r.metrics.get("resumed_from_run")):
        return None
    step = r.metrics.get("resumed_from_step")
    return (f"resumed from the checkpoint of run {before} after epoch {r.metrics.get('resumed_from_epoch', 0)}"
            + (f", batch {step}" if step else "") + (" (that run deleted since)" if _gone(st, str(before)) else ""))


def warnings_said(r: RunRecord) -> list[str]:
    """`show`'s lines of the warnings a run gave while it ran (``metrics["warnings"]``, kept by
    :func:`~mnistlab.run.run_config`): ``warnings while it ran (2):`` then each indented; none for a
    run that gave none (or recorded before they were kept)."""
    kept = (r.metrics or {}).get("warnings")
    if not isinstance(kept, list) or not kept:
        return []
    return [f"warnings while it ran ({len(kept)}):"] + [f"  {printable(str(w))}" for w in kept]


def trial_said(r: RunRecord) -> str | None:
    """`show`'s line of a search trial's part in its study (helper-260: a pruned trial read as any finished run):
    ``search trial 4 of study lr-search: pruned after epoch 2 by its val_loss 1.0175``; None for a run of no search."""
    m = r.metrics or {}
    if not isinstance(trial := m.get("trial"), int) or not (state := m.get("trial_state")):
        return None
    value, metric = m.get("search_value"), m.get("search_metric") or "its metric"
    scored = f"{metric} {value:.4g}" if isinstance(value, (int, float)) else str(metric)
    if state == "pruned":
        at = m.get("pruned_at_epoch")
        return (f"search trial {trial} of study {printable(r.experiment)}: pruned"
                + (f" after epoch {at}" if isinstance(at, int) else "") + f" (by its {scored}): not trained whole, so "
                "its test accuracy is not a trial's result; `compare` ranks it after the complete trials")
    return f"search trial {trial} of study {printable(r.experiment)}: {printable(str(state))}, {scored}"


def _optimistic(r: RunRecord) -> str | None:
    """`show`'s note where the test set chose a run's epoch or rate (helper-258: said by `compare` alone)."""
    from mnistlab.comparison import chosen_on_test_note

    return f"note: {note}" if (note := chosen_on_test_note([r])) else None


def result_said(r: RunRecord) -> str | None:
    """`show`'s line of a run's result, in words (helper-146: only raw metrics JSON said it): ``result
    test accuracy 90.20% on 500 of mnist's 10,000 test images, test loss 0.3613, 2 epochs trained
    in 0.07 s``; None for a run without a test accuracy. An interrupted or failed run's test accuracy
    is of its weights as they stood when it stopped (`train` tests them), not a result: said so, as
    `runs` and `compare` count none (helper-173: "result ... 0 epochs trained")."""
    from mnistlab.comparison import scored_test_images, seconds
    from mnistlab.store import RESULT_STATUSES

    m = r.metrics or {}
    acc = m.get("test_accuracy")
    if not isinstance(acc, (int, float)):
        return None
    size = m.get("test_size")
    on = scored_test_images([r]) or (f"its {size:,} test images" if isinstance(size, int) else "its test images")
    said = [f"result test accuracy {acc:.2%} on {on}" if r.status in RESULT_STATUSES else
            f"no result ({r.status}: `runs` and `compare` count none); its weights as they stood when it stopped "
            f"tested {acc:.2%} on {on}"]
    if isinstance(loss := m.get("test_loss"), (int, float)):
        said.append(f"test loss {loss:.4f}")
    epochs, secs = m.get("epochs_run"), m.get("train_seconds")
    if isinstance(epochs, int):  # (no time where none was counted: helper-174, "0 epochs ... in 0.00 s")
        timed = f" in {seconds(secs)} s" if isinstance(secs, (int, float)) and secs > 0 else ""
        said.append(f"{epochs} epoch{'s' * (epochs != 1)} trained{timed}" if r.status in RESULT_STATUSES else
                    "stopped in its first epoch" if epochs == 0 else
                    f"{epochs} complete epoch{'s' * (epochs != 1)} before it stopped{timed}")  # (and part of one)
    return ", ".join(said)


def _recorded(st: RunStore, run_id: str) -> bool:
    """Whether ``st`` holds run ``run_id`` (a whole id)."""
    from mnistlab.errors import StoreError

    try:
        return st.get(run_id).run_id == run_id
    except StoreError:
        return False


@click.command("compare")
@click.argument("experiment", nargs=-1, required=True)
@_STORE
@format_option(COMPARE_FORMATS)
@click.option("--quick", is_flag=True, help="With a .toml file: compare its --quick smoke runs instead.")
@click.option("--variant", "variants", multiple=True,
              help="Only this variant's row (repeatable): the best mark is then among those shown.")
@click.option("--sort", "sort_key", metavar="KEY",
              help="Order the rows by a column (its csv name: test_acc, params, train_seconds, ...) or a setting "
                   "their variants set differently (settings.train.lr); -KEY for the largest first (-test_acc: the "
                   "best first). The marks stay those of every row.")
@click.option("--limit", "-n", type=IntRange(min=1), help="At most this many rows, the first of the order.")
def compare_cmd(experiment: tuple[str, ...], store: str | None, fmt: str, quick: bool, variants: tuple[str, ...],
                sort_key: str | None, limit: int | None) -> None:
    """Compare the variants of an EXPERIMENT side by side (a .toml file, its name, or a run id),
    or chosen runs: several run ids or experiments, from any experiments.

    By name (or one run id, standing for its experiment): each variant as it was last run. By
    .toml file: exactly the runs of its current cells. By several run ids: those runs, one row
    per setting (runs that differ only in their seeds together), named by what their configs set
    differently where needed. Several experiments (names or files, among run ids or not): the runs
    each one's own table shows, in one table, rows named experiment/variant.
    """
    from mnistlab.comparison import (
        as_rows_name,
        chosen_runs,
        compare_experiment,
        compare_runs,
        notes_below,
        only_variants,
        resolve_experiment,
        shown_runs,
        smoke_note,
        scored_on_note,
        test_set_notes,
    )
    from mnistlab.experiments import shared_runs
    from mnistlab.store import RESULT_STATUSES

    order = _run_sort(sort_key, COMPARE_SORTS) if sort_key else None  # (before the store is read: a typo costs nothing)
    st = open_store(store)
    if len(experiment) > 1:
        if quick or variants:
            which = "--quick goes with one experiment file" if quick else "--variant goes with one experiment"
            raise MnistlabError(f"compare: {which}, not with several experiments or run ids")
        chosen = chosen_runs(st, experiment)  # (once: a file left out is said once)
        rows = compare_runs(st, [r.run_id for r in chosen])
        ended = as_rows_name([r for r in chosen if r.status != "running"])  # (notes name rows)
        _say_smoke(smoke_note(ended), fmt)
        _say_smoke(elsewhere := scored_on_note(ended), fmt)
        _rows_out(shown := _chosen_rows(rows, order, limit), "chosen runs", fmt, rows)
        trained = {r.env.get("same_run_as") for r in ended} - {None}  # one run recorded under two variants (not
        shared = shared_runs((r.variant, r.env.get("same_run_as") or r.run_id, r.seed) for r in ended  # two runs of one
                             if r.status in RESULT_STATUSES and (r.run_id in trained or r.env.get("same_run_as")))  # config)
        _notes_out([*test_set_notes(ended, part=elsewhere is None), *shared, *_not_shown(rows, shown)], fmt)  # (other
        return  # test sets: said above; one run recorded under two variants: their rows are one sample, helper-147)
    ref = resolve_experiment(st, experiment[0], quick=quick)
    rows = compare_experiment(st, ref, quick=quick)
    if variants:
        rows = only_variants(rows, variants, ref.name, ref=ref, quick=quick)
        variants = tuple(str(r["variant"]) for r in rows)  # a grid's entry stood for its variants: theirs are the notes
    _say_smoke(smoke_note(shown_runs(st, ref, quick=quick)), fmt)
    _rows_out(shown := _chosen_rows(rows, order, limit), ref.recorded_as(quick=quick), fmt, rows)
    _notes_out([*_run_not_in(ref, rows), *notes_below(st, ref, rows, quick=quick, variants=variants),
                *_not_shown(rows, shown)], fmt)


def _run_not_in(ref: Any, rows: Sequence[dict[str, Any]]) -> list[str]:
    """The note for one run id, which stands for its experiment, where that experiment's table does
    not show the run (helper-252: `compare RUN_ID` showed another run's numbers, unsaid)."""
    run = ref.run
    if run is None or any(run.run_id in (row.get("run_ids") or ()) for row in rows):
        return []
    return [f"run {run.run_id} stands for its experiment {ref.name} here, and its table does not show it (another "
            f"setting of variant {run.variant}, an older one, or a --quick run): `mnistlab show {run.run_id}` shows it, "
            f"`mnistlab compare {run.run_id} RUN_ID ...` puts it beside chosen runs"]


# the columns `compare --sort` orders by: the numbers, and the variant's name
COMPARE_SORTS = ("variant", "n", "params", "epochs", "train_acc", "val_acc", "test_acc", "test_acc_std", "vs_best_p",
                 "test_balanced_acc", "tta_test_acc", "test_loss", "train_seconds", "seconds_per_epoch", "member_acc_min",
                 "member_acc_max", "committee_acc", "committee_acc_std", "committee_val_acc", "committees", "failed",
                 # (helper-258: TTA's gain on validation, where it is to be chosen, was refused)
                 "tta_val_gain", "tta_test_acc_std", "tta_n", "test_images")


def _chosen_rows(rows: list[dict[str, Any]], order: tuple[str, bool] | None, limit: int | None) -> list[dict[str, Any]]:
    """`compare`'s rows in ``--sort``'s order (a column and whether descending; None: the table's own),
    the first ``--limit`` of them (helper-196: a 500-variant table in file order). SpecError for a
    ``settings.KEY`` no row's variant sets differently, naming those that do."""
    if order and order[0].startswith("settings."):
        told = list(dict.fromkeys(k for row in rows for k in (row.get("settings") or {})))
        if order[0].removeprefix("settings.") not in told:
            from mnistlab.errors import did_you_mean

            name = order[0].removeprefix("settings.")
            raise SpecError(f"--sort: no row's variant sets {clip(name, 40)} differently{did_you_mean(name, told)}; "
                            + (f"the settings here: {', '.join('settings.' + k for k in told[:8])}" if told else
                               "the rows set nothing differently"))
    return (_ordered(rows, *order) if order else rows)[:limit]


def _not_shown(rows: Sequence[dict[str, Any]], shown: Sequence[dict[str, Any]]) -> list[str]:
    """The note under a table that ``--limit`` cut: how many rows it left out, and how many of those
    Welch's test cannot tell from the best (helper-215: "the 3 best rows" hid 7 as good, unsaid)."""
    n = len(rows) - len(shown)
    seen = {id(t) for t in shown}
    near = sum(r.get("vs_best") in ("best", "within noise") for r in rows if id(r) not in seen)
    return [f"{n} more row{'s' * (n != 1)} not shown (--limit)" + (
        f", {near} of them within noise of the best" if near else "")] if n else []


def _notes_out(notes: Sequence[str], fmt: str) -> None:
    """The notes below a comparison (what its figures cannot show: a part of the test set, runs
    left out): ``note:`` lines on stderr, beside a table a terminal shows or csv/json rows a program
    reads; in a Markdown page, below its table, where a reader of the page sees them."""
    for line in notes:
        _note(line, fmt, above=False)


def _note(line: str, fmt: str, *, above: bool) -> None:
    """One note of a comparison: ``note:`` on stderr, or in a Markdown page a paragraph of its own,
    ``above`` its table or below it."""
    if fmt == "latex":  # (a comment in the .tex file it is saved to: the table's caveats beside it)
        click.echo(f"% note: {printable(' '.join(line.split()))}")
    elif fmt != "markdown":
        click.echo(f"note: {line}", err=True)
    else:  # HTML in a variant's name stays text in the page (helper-158), its `commands` code
        from mnistlab.comparison import no_html

        click.echo(f"Note: {no_html(line)}\n" if above else f"\nNote: {no_html(line)}")


def _say_elsewhere(name: str, elsewhere: Sequence[RunRecord]) -> None:
    """What `run` says of the cells another process still trains (left out of its table): their
    processes, and for a run of another host (which cannot be checked from here) how to free it."""
    here = socket.gethostname()
    pids = ", ".join(sorted({str(r.pid) + ("" if r.host == here else f" on host {r.host}") for r in elsewhere}))
    away = [r.run_id for r in elsewhere if r.host != here]
    gone = (f"; a host that is gone (its process cannot be checked from here) holds its cells until "
            f"`mnistlab rm {' '.join(away[:3])}{' ...' * (len(away) > 3)}` frees them" if away else "")
    n = len(elsewhere)
    click.echo(f"{n} cell{'s' * (n != 1)} still running in another process (pid {pids}): the table "
               f"leaves them out; `mnistlab watch {name}` follows them{gone}", err=True)


def _say_smoke(note: str | None, fmt: str = "table") -> None:
    """Put :func:`~mnistlab.comparison.smoke_note` (or another note the table needs read first)
    above a comparison: on stderr (a csv stays a csv), but in a Markdown page, above its table."""
    if note:
        _note(note, fmt, above=True)


def _say_quick(full: list[Cell], quick: list[Cell], err: bool) -> None:
    """What `run --quick` prints first: that it is a smoke test, and which variants it makes alike."""
    from mnistlab.config import is_model_checkpoint
    from mnistlab.experiments import QUICK_SUBSET, quick_alike

    click.echo(f"--quick: a smoke test (1 epoch, at most {QUICK_SUBSET} training images), so its accuracies say "
               "nothing of the recipe's (a run without --quick trains its own cells)", err=err)
    for names in quick_alike(full, quick):
        shown = ", ".join(f'"{n}"' for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        click.echo(f"--quick: variants {shown} differ only in what --quick shrinks (epochs, data subset), "
                   "so their smoke runs train alike", err=err)
    saves = dict.fromkeys(cb["filepath"] for c in quick for cb in c.config.get("callbacks") or ()
                          if is_model_checkpoint(cb))
    if saves:  # (helper-245: a smoke run's saves replaced the full run's best weights, unsaid)
        shown = ", ".join(display_name(os.path.relpath(p)) for p in list(saves)[:3]) + (" ..." if len(saves) > 3 else "")
        click.echo(f"--quick: ModelCheckpoint saves to {shown}, beside the full runs' files, never over them", err=err)


@click.command("rm")
@click.argument("run_ids", nargs=-1)
@_STORE
@click.option("--experiment", "-e", "experiments", multiple=True,
              help="Delete every run of this experiment (an experiment file or its name); repeat it for several.")
@click.option("--status", "-s", multiple=True,
              help="Delete only the runs of this status (failed, diverged, interrupted, finished, running; repeat it, "
                   "or commas), "
                   "of the store or of the experiments -e names.")
@click.option("--older-than", "older_than", metavar="WHEN",
              help="Delete only the runs started before then: a span before now (30d, 12h) or a date (2026-11-01).")
@click.option("--tag", "-t", "tags", multiple=True, metavar="TAG",
              help="Delete only the runs tagged so (`mnistlab note RUN --tag bad`), as `runs --tag` lists them; repeatable.")
@click.option("--where", "-w", "where", multiple=True, metavar="KEY=VALUE",
              help='Delete only the runs whose setting or metric matches, as `runs --where` lists them ("test_accuracy<0.5", '
                   "lr=0.1); repeatable (all must hold).")
@click.option("--keep-tag", "keep", multiple=True, metavar="TAG",
              help="With --status / --older-than / --tag / --where: leave the runs tagged so (`mnistlab note RUN --tag "
                   "TAG`); repeatable.")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted (the runs that match, the runs or experiments "
              "named); delete nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask first (it asks only on a terminal).")
def rm_cmd(run_ids: tuple[str, ...], store: str | None, experiments: tuple[str, ...], status: tuple[str, ...],
           older_than: str | None, tags: tuple[str, ...], where: tuple[str, ...], keep: tuple[str, ...], dry_run: bool,
           yes: bool) -> None:
    """Delete runs (ids or unique prefixes) or a whole experiment, with their artifacts; with
    --status, --older-than, --tag or --where, the runs that match (MLflow's `gc --older-than`, and
    its search_runs filter), of the whole store or of the experiments -e names: `mnistlab rm -s
    failed,interrupted --older-than 7d`, `mnistlab rm --tag bad`, `mnistlab rm -e lab1 --where "test_accuracy<0.2"`.

    On a terminal it says what it will delete and asks first (--yes does not ask); in a script
    (no terminal on stdin) it does not ask.

    Deleting a stopped sweep cell's latest run, or its experiment, also deletes the cell's
    checkpoint (the output says so: "deleted 1 run; 1 checkpoint deleted too ..."): the next
    `mnistlab run` trains it afresh instead of continuing it.
    A search (`mnistlab search`) is deleted whole with -e: its runs and its Optuna study, so that
    searching again starts afresh. One trial's run is not deleted alone (its study would keep the
    trial, and the search would never ask it again).
    """
    from mnistlab.search import delete_experiment

    filtered = bool(status or older_than is not None or tags or where)
    _check_rm_choice(run_ids, experiments, filtered, keep, where)
    st = open_store(store)
    if filtered:
        _rm_matching(st, experiments, status, older_than, keep, yes, dry_run, with_tags=tags, where=where)
        return
    if experiments:  # every name checked before anything is deleted (helper-196: a second -e replaced the first)
        names = list(dict.fromkeys(_rm_name(st, e) for e in experiments))
        said = []
        for name in names:
            runs = st.runs(experiment=name)
            variants = len({r.variant for r in runs})
            said.append(f"{len(runs)} run{'s' * (len(runs) != 1)} of {name} ({variants} variant{'s' * (variants != 1)})")
        if dry_run:  # (helper-252: a script could not preview a delete)
            from mnistlab.search import has_study, may_hold_a_study, refuse_deleting_trained

            studies = []
            for name in names:  # refused as the delete would be (the review of session 58: a preview said it would)
                runs = st.runs(experiment=name)
                refuse_deleting_trained(st, name, runs)
                studies += [name] if may_hold_a_study(runs) and has_study(st.root, name) else []
            held = sum(st.checkpoints_held(name) for name in names)
            click.echo(f"would delete all {' and '.join(said)} with their files"
                       + (f" and the Optuna stud{'ies' if len(studies) > 1 else 'y'} {', '.join(studies)}" if studies else "")
                       + _checkpoints_gone(held, would=True) + " (--dry-run: nothing deleted)")
            return
        _confirm(yes, f"delete all {' and '.join(said)} with their files?")  # one question (helper-198: a second
        for name in names:  # "no" said "nothing deleted" after the first's were)
            gone, study = delete_experiment(st, name)
            click.echo(f"deleted {len(gone.run_ids)} run{'s' * (len(gone.run_ids) != 1)} of {name}"
                       + (f" and the Optuna study {name} (searching again starts afresh)" if study else "")
                       + _checkpoints_gone(gone.checkpoints))
        return
    _rm_ids(st, run_ids, yes, dry_run)


def _rm_ids(st: RunStore, run_ids: tuple[str, ...], yes: bool, dry_run: bool = False) -> None:
    """`rm RUN...`: those runs, every id read first, none a search's trial or a run trained now; asked once."""
    from mnistlab.initial_weights import started_from
    from mnistlab.search import search_of_runs
    from mnistlab.store import refuse_trained_now

    recs = [st.get(r) for r in run_ids]
    if trials := search_of_runs(recs, st):
        rid, name = trials[0]
        raise MnistlabError(f"rm: run {rid} is a trial of search {name}: its study would keep the trial; delete "
                            f"the whole search (its runs and study) with `mnistlab rm -e {name}`")
    named = list({r.run_id: r for r in recs}.values())
    refuse_trained_now(named)  # said before the question (helper-127: asked, then refused)
    if started := started_from(st, {r.run_id for r in named}):  # (helper-200: deleted without a word)
        click.echo(f"note: run{'s' * (len(started) != 1)} {', '.join(started[:5])}{' ...' if len(started) > 5 else ''} "
                   "started from the weights of what is deleted: their records keep those weights' SHA-256, but "
                   "training them again needs the file (`mnistlab export RUN -o FILE.safetensors` keeps a copy)", err=True)
    listed = (f"{len(named)} run{'s' * (len(named) != 1)} ("
              + ", ".join(f"{r.run_id} {r.experiment}/{r.variant} seed {r.seed}" for r in named[:3])
              + (", ..." if len(named) > 3 else "") + ") with their files")
    if dry_run:
        held = sum(st.holds_checkpoint(r) for r in named)
        click.echo(f"would delete {listed}{_checkpoints_gone(held, would=True)} (--dry-run: nothing deleted)")
        return
    _confirm(yes, f"delete {listed}?")
    gone = st.rm(list(run_ids))
    many = len(gone.committees) != 1
    score = "their scores are" if many else "its score is"
    scores = (f"; committee{'s' * many} {', '.join(gone.committees)} lost a member, so {score} deleted too "
              "(`mnistlab run` scores a committee again once its runs are all there)" if gone.committees else "")
    click.echo(f"deleted {len(gone.run_ids)} run{'s' * (len(gone.run_ids) != 1)}" + _checkpoints_gone(gone.checkpoints)
               + scores)


def _confirm(yes: bool, question: str) -> None:
    """Ask ``question`` on a terminal unless ``yes``; Declined ("rm: nothing deleted", exit 1) on any
    answer but yes. Without a terminal on stdin (a script, a pipe) it does not ask: scripts say what they mean."""
    if yes or not sys.stdin.isatty():
        return
    try:
        sure = click.confirm(question, default=False, err=True)
    except click.Abort:  # Ctrl-D, or Ctrl-C at the question: the answer's line ended, as Enter ends it (helper-124)
        click.echo("", err=True)
        sure = False
    if not sure:
        from mnistlab.errors import Declined

        raise Declined("rm: nothing deleted")


def _check_without_database(root: Path, state: str) -> None:
    """`reindex --check` of a store whose database is ``state`` (missing or damaged): which run
    folders a rebuild would take in; StoreCheckFailed (exit 1) always, the database being lost."""
    from mnistlab.errors import StoreCheckFailed
    from mnistlab.store import DB_FILE, RunStore

    readable, problems = RunStore.check_folders(root)
    _echo_problems(root, problems)
    raise StoreCheckFailed(f"{root / DB_FILE} is {state}: `mnistlab reindex --store {shell_word(root)}` rebuilds it from "
                           f"{readable} run folder{'s' * (readable != 1)}"
                           + (f"; {len(problems)} with a problem (above)" if problems else ""))


def _check_with_database(root: Path, store: str | None) -> None:
    """`reindex --check` of a store whose database opens: each folder against its row; StoreCheckFailed
    (exit 1) when any disagree."""
    from mnistlab.errors import StoreCheckFailed

    checked, problems = open_store(store).check()
    _echo_problems(root, problems)
    said = f"{checked} run{'s' * (checked != 1)} checked"
    if problems:
        raise StoreCheckFailed(f"{said}: {len(problems)} problem{'s' * (len(problems) != 1)} (above); "
                               f"`mnistlab reindex --store {shell_word(root)}` adds the folders the database lacks and "
                               "brings running rows and the records of ended runs up to date; the rest need a look")
    click.echo(f"{said}: every folder matches its row")


def _echo_problems(root: Path, problems: list[tuple[str, str]]) -> None:
    """One line per (file or folder under ``root``, what is wrong with it), as `reindex --check` prints them."""
    for name, why in problems:
        click.echo(f"{root / name}: {why}")


def _checkpoints_gone(n: int, *, would: bool = False) -> str:
    """What `rm` adds when it deleted (``would``: --dry-run, would delete) sweep checkpoints (empty when none)."""
    if n <= 0:
        return ""
    return (f"; {n} checkpoint{'s' * (n != 1)} {'would be ' if would else ''}deleted too (the next `mnistlab run` "
            f"{'would train' if would else 'trains'} {'that cell' if n == 1 else 'those cells'} afresh)")


def _check_rm_choice(run_ids: tuple[str, ...], experiments: tuple[str, ...], filtered: bool, keep: tuple[str, ...],
                     where: tuple[str, ...]) -> None:
    """`rm`'s ways of choosing runs, checked before the store is read: ids, or -e and filters; MnistlabError otherwise."""
    from mnistlab.selection import parse_condition

    if keep and not filtered:
        raise MnistlabError("rm: --keep-tag goes with --status / --older-than / --tag / --where (the runs that match); "
                            "`mnistlab rm RUN...` and `rm -e` say what they delete and ask first")
    if run_ids and (experiments or filtered):
        raise MnistlabError("rm: give run ids, or --experiment NAME / --status / --older-than / --tag / --where to choose "
                            "runs, not both")
    if not (run_ids or experiments or filtered):
        raise MnistlabError("rm: give run ids, --experiment NAME, or --status / --older-than / --tag / --where")
    for text in where:
        parse_condition(text)


# long: which runs match, which are spared and why, said once before the one question
def _rm_matching(st: RunStore, experiments: tuple[str, ...], status: tuple[str, ...], older_than: str | None,
                 keep: tuple[str, ...], yes: bool, dry_run: bool, *, with_tags: tuple[str, ...] = (),
                 where: tuple[str, ...] = ()) -> None:
    """`rm --status/--older-than/--tag/--where`: the runs of the store (or of the ``experiments``) that match
    (``with_tags`` and ``where`` as `runs` takes them), less
    those tagged with a ``keep`` tag, those a process trains now (refused, as `rm RUN` refuses them)
    and a search's trials (a search is deleted whole, `rm -e SEARCH`); listed and asked once, then
    deleted together (``dry_run``: listed, nothing deleted)."""
    from mnistlab.notes import read_notes, tag_named, tagged
    from mnistlab.search import search_of_runs
    from mnistlab.selection import selected
    from mnistlab.store import cut_short, trained_here_now

    before = _since(older_than, "--older-than") if older_than is not None else None
    kept_tags = {tag_named(t) for t in keep}
    names, statuses, recs = _chosen_runs(st, experiments, status, before=before)
    recs = selected(tagged(st, recs, with_tags), where)  # (helper-252, note 58: `runs` filtered so, `rm` did not)
    tags = {r.run_id: read_notes(st, r.run_id).tags for r in recs}
    trials = {rid for rid, _ in search_of_runs(recs, st)}
    live = {r.run_id for r in trained_here_now(recs)}  # (helper-205: one run in training refused the whole clean-up)
    whole = {r.run_id for r in recs if status and cut_short(r.status, r.message)  # (helper-227: failed for a copy cut
             and (st.root / "runs" / r.run_id / "metrics.json").is_file()}  # short, whole now: --status failed deleted it)
    spared = [r for r in recs if r.run_id in trials or r.run_id in live | whole or kept_tags & set(tags[r.run_id])]
    recs = [r for r in recs if r not in spared]
    parts = ([f"of {', '.join(n for n in names if n)}"] if names != [None] else []) + (
        [f"status {' or '.join(statuses)}"] if statuses else []) + (
        [f"started before {_local_time(before)[:19].replace('T', ' ')}"] if before is not None else []) + (
        [f"tagged {' and '.join(map(printable, with_tags))}"] if with_tags else []) + [f"where {printable(w)}" for w in where]
    said = f" ({', '.join(parts)})"
    n_trials, n_live = sum(r.run_id in trials for r in spared), sum(r.run_id in live for r in spared)
    n_whole = sum(r.run_id in whole for r in spared)
    n_kept = len(spared) - n_trials - n_live - n_whole
    left = ((f"; {n_trials} search trial{'s' * (n_trials != 1)} left (`mnistlab rm -e SEARCH` deletes a search whole)"
             if n_trials else "")
            + (f"; {n_live} run{'s' * (n_live != 1)} being trained now left" if n_live else "")
            + (f"; {n_whole} run{'s' * (n_whole != 1)} left that a reindex marked failed for a metrics.json since copied "
               "in (`mnistlab reindex` takes the result)" if n_whole else "")
            + (f"; {n_kept} run{'s' * (n_kept != 1)} tagged {' or '.join(sorted(kept_tags))} left" if n_kept else ""))
    if not recs:
        click.echo(f"no runs match{said}: nothing deleted{left}")
        return
    listed = [f"  {r.run_id}  {printable(r.experiment)}/{printable(r.variant)}  seed {r.seed}  {r.status}  "
              f"{_local_time(r.created_at)[:16].replace('T', ' ')}" + (f"  tags {', '.join(map(printable, tags[r.run_id]))}"
                                                                       if tags[r.run_id] else "") for r in recs]
    if dry_run:  # (helper-206: the checkpoints that go too said only after a real rm)
        held = [r.run_id for r in recs if st.holds_checkpoint(r)]
        also = (f"; with {'its' if len(held) == 1 else 'their'} checkpoint{'s' * (len(held) != 1)} too, "
                f"{', '.join(held[:5])}{' ...' if len(held) > 5 else ''} (the next run trains "
                f"{'it' if len(held) == 1 else 'them'} afresh)" if held else "")
        click.echo(f"would delete {len(recs)} run{'s' * (len(recs) != 1)}{said}{left}{also}:")
        click.echo("\n".join(listed))
        return
    if not yes and sys.stdin.isatty():  # what the question is about, before it is asked (helper-204: a count alone)
        click.echo("\n".join(listed[:20] + ([f"  ... and {len(listed) - 20} more"] if len(listed) > 20 else [])), err=True)
    _confirm(yes, f"delete {len(recs)} run{'s' * (len(recs) != 1)}{said} with their files{left}?")
    gone = st.rm([r.run_id for r in recs])
    click.echo(f"deleted {len(gone.run_ids)} run{'s' * (len(gone.run_ids) != 1)}{said}"
               + _checkpoints_gone(gone.checkpoints) + left)


def _rm_name(st: RunStore, experiment: str) -> str:
    """The experiment name ``rm -e`` deletes: a file or a recorded name (a run id never stands for
    its whole experiment here: deleting is not the place to guess), or a search's study whose runs
    are gone already. A file stands for its name only when every run recorded under it is of one
    of the file's variants (:func:`~mnistlab.comparison.not_the_files`); else MnistlabError, naming
    the others. A file with a mistake (made after its runs) cannot say which are its variants:
    SpecError, naming the name that deletes every run recorded under it."""
    from mnistlab.comparison import not_the_files, resolve_experiment
    from mnistlab.errors import SpecError, StoreError
    from mnistlab.experiments import recorded_name

    try:
        ref = resolve_experiment(st, experiment, run_ids=False)
    except SpecError as mistake:  # a file with a mistake: which runs are its own, it cannot say (helper-109)
        name = recorded_name(experiment)
        if name is None or not (name in st.experiments() or _has_study(st, name)):
            raise
        raise SpecError(f"{' '.join(str(mistake).split())}; with this mistake the file cannot say which runs are its "
                        f"own, so none is deleted: mend it, or `mnistlab rm -e {name}` (the name) deletes every run "
                        "recorded under it") from None
    except StoreError as unknown:
        if not experiment.endswith(".toml") and _has_study(st, experiment):
            return experiment
        raise unknown from None
    if others := not_the_files(st, ref):  # never another file's runs for this file's
        variants = Counter(str(r.variant) for r in others)
        named = ", ".join(f"{v} ({n} run{'s' * (n != 1)})" for v, n in sorted(variants.items())[:5])
        are = "are" if len(others) != 1 else "is"
        raise MnistlabError(f"rm: experiment {ref.name!r} also holds {len(others)} run{'s' * (len(others) != 1)} "
                            f"that {are} not {experiment}'s ({named}{', ...' * (len(variants) > 5)}): another "
                            f"file's of the same name, or variants since removed or renamed; `mnistlab rm -e "
                            f"{ref.name}` (the name) deletes every run recorded under it, `mnistlab rm RUN_ID ...` "
                            "chosen ones")
    return ref.name


def _has_study(st: RunStore, name: str) -> bool:
    """Whether the store holds an Optuna study ``name`` (False for an unreadable study file, or no Optuna)."""
    from mnistlab.search import has_study

    try:
        return has_study(st.root, name)
    except MnistlabError:
        return False


def _say_ended(done: Reindexed) -> None:
    """What `reindex` says of the runs whose end it learned (or did not) from their folders."""
    from mnistlab.store import ELSEWHERE_QUIET_S

    if done.interrupted:
        click.echo(f"{done.interrupted} of the runs added had been running in a process that has ended: "
                   "marked interrupted")
    if done.elsewhere:
        many = done.elsewhere != 1
        click.echo(f"{done.elsewhere} run{'s' * many} still running on another host ({'their folders' if many else 'its folder'} "
                   f"written in the last {ELSEWHERE_QUIET_S / 60:.0f} minutes): left running, as that host's "
                   f"process counts; `mnistlab rm RUN_ID` frees {'their cells' if many else 'its cell'} if that host "
                   "is gone")
    if done.updated:
        many = done.updated != 1
        click.echo(f"{done.updated} run{'s' * many} brought up to date from {'their' if many else 'its'} folder"
                   f"{'s' * many} (the database still said running, or failed for a folder copied in cut short, and the "
                   "folder now says how the run ended: a backup restored, a database lost while training, a run ending "
                   "as the reindex ran, or the rest of a copy come in)")
    if done.without_folder:
        n = len(done.without_folder)
        click.echo(f"note: {n} run{'s' * (n != 1)} in the database {'have' if n != 1 else 'has'} no folder (its "
                   f"files were removed): {', '.join(done.without_folder[:5])}{'...' if n > 5 else ''}", err=True)
    if done.records:
        many = done.records != 1
        click.echo(f"{done.records} record.json file{'s' * many} brought up to date from the database (it says "
                   f"{'those runs' if many else 'that run'} ended, the record{'s' * many} still said running: an older "
                   "mnistlab's run, ended after the store was upgraded)")


@click.command("reindex")
@_STORE
@click.option("--check", is_flag=True, help="Only compare every run folder with its row, changing nothing; "
              "exit status 1 if any disagree.")
def reindex_cmd(store: str | None, check: bool) -> None:
    """Rebuild the store's database (runs.sqlite) from its run folders.

    For a lost or damaged database (a damaged one is kept aside as runs.sqlite.damaged-<time>,
    never deleted), or to index run folders copied in from another store. An intact database
    keeps its rows and gains the folders it lacks. Folders that cannot be read are skipped with a
    warning each. --check reads every folder and says what would be lost with the database.
    """
    from mnistlab.errors import StoreCheckFailed
    from mnistlab.store import DB_FILE, RunStore, database_state, default_root, run_folders

    root = Path(store) if store is not None else default_root()
    if check and (root / "runs").is_dir() and (state := database_state(root / DB_FILE, write=False)) != "ok" and (
            state == "damaged" or run_folders(root / "runs")):
        _check_without_database(root, state)  # lost over recorded runs (an empty store is only new)
    if check:
        _check_with_database(root, store)
        return
    done = RunStore.reindex(store)
    if done.kept_aside is not None:
        click.echo(f"{root / DB_FILE} was damaged: kept aside as {done.kept_aside.name}, and a new one built")
    for name, why in done.skipped:
        click.echo(f"warning: {root / name} not indexed: {why}", err=True)
    added, skipped = len(done.added), len(done.skipped)
    click.echo(f"added {added} run{'s' * (added != 1)} and {done.committees} committee record"
               f"{'s' * (done.committees != 1)} to {root / DB_FILE}" if added or done.committees or skipped else
               f"{root / DB_FILE} already lists every run folder")
    _say_ended(done)
    if committee_files := done.unread_committees:  # (a committee is scored again from its members: no run lost)
        click.echo(f"{committee_files} committee file{'s' * (committee_files != 1)} could not be read (the warnings "
                   "above say why): those committees are not listed until scored again", err=True)
    for name, why in [*done.incomplete, *done.strays]:  # (helper-227: a half-copied run, runs one folder too deep)
        click.echo(f"warning: {root / name}: {why}", err=True)
    if folders := skipped - committee_files:  # exit status 1 (helper-183: 0, as if every run were indexed)
        raise StoreCheckFailed(f"{folders} run folder{'s' * (folders != 1)} could not be read (the warnings above say "
                               "why): the database lacks their runs")
    if done.incomplete or done.strays:
        n = len(done.incomplete) + len(done.strays)
        raise StoreCheckFailed(f"{n} folder{'s' * (n != 1)} not whole or not where a reindex looks (the warnings above "
                               "say which and what to do)")


def _local_time(seconds: float) -> str:
    """``seconds`` since the epoch as RFC 3339 local time with its offset (``2026-12-07T04:00:00+01:00``);
    in UTC (``+00:00``) where the time zone's offset is one Python cannot hold (helper-189: TZ=UTC-24,
    which glibc takes, failed `runs` whole)."""
    try:
        return dt.datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat(timespec="seconds")


EXPERIMENT_COLUMNS = (Column("experiment", "experiment", whole=True), Column("runs", "runs", right=True),
                      Column("finished", "finished", right=True, drop=3), Column("no_result", "no result", right=True, drop=4),
                      Column("diverged", "diverged", right=True, drop=5), Column("variants", "variants", right=True, drop=2),
                      Column("best_run_acc", "best run", lambda a: f"{100 * a:.2f}%", right=True, whole=True),
                      Column("last_started", "last started", lambda t: t[:16].replace("T", " "), drop=1),
                      Column("file", "file", shown_path, drop=6, fold=True),
                      Column("test_set", "scored on", drop=7, fold=True))  # (added later: last, for scripts by position)


EXPERIMENT_SORTS = ("last_started", "experiment", "runs", "finished", "no_result", "diverged", "variants", "best_run_acc")


@click.command("experiments")
@_STORE
@click.option("--sort", "sort_key", metavar="KEY", default="-last_started", show_default=True,
              help=f"Order by {', '.join(EXPERIMENT_SORTS)}; -KEY for the largest first.")
@click.option("--limit", "-n", type=IntRange(min=1), help="At most this many experiments, the first of the order.")
@format_option()
def experiments_cmd(store: str | None, sort_key: str, limit: int | None, fmt: str) -> None:
    """List the store's experiments, most recently active first: runs (finished, without a result,
    diverged), variants, the best test accuracy of a single run (of a search, its best trial's by its
    metric; `compare NAME` ranks the variants' means) on the test set its latest run was scored on,
    that test set, when the last run started, and the experiment file it came from."""
    from mnistlab.comparison import experiment_rows

    order = _run_sort(sort_key, EXPERIMENT_SORTS)  # (before the store is read: a typo costs nothing)
    rows = _ordered(experiment_rows(open_store(store)), *order)[:limit]  # (by the time itself, then as `runs` says it:
    emit([{**r, "last_started": _local_time(r["last_started"])} for r in rows], EXPERIMENT_COLUMNS, fmt,  # RFC 3339)
         empty="no experiments")
    if fmt == "table" and any(r.get("best_run_acc") is not None for r in rows):  # (helper-258: read as a result)
        click.echo("note: best run is one run's test accuracy, the highest of its experiment's: an optimistic figure, "
                   "as the test set chose it; `mnistlab compare NAME` gives each variant's mean +- sd (n)", err=True)


@click.command("note")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN...")
@click.option("--message", "-m", metavar="TEXT", help='The run\'s note: replaces the one it had ("" drops it).')
@click.option("--tag", "-t", "add", multiple=True, help="Add this tag (a short label: best, baseline); repeatable.")
@click.option("--untag", "remove", multiple=True, help="Take this tag away; repeatable.")
@click.option("--clear", is_flag=True, help="Drop the run's note and tags first.")
@_STORE
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: each run's id, tags and note, for scripts.")
def note_cmd(run_ids: tuple[str, ...], message: str | None, add: tuple[str, ...], remove: tuple[str, ...], clear: bool,
             store: str | None, fmt: str) -> None:
    """Tag a run, or write a note on it (the lab notebook's margin); without -m, --tag, --untag or
    --clear, say its tags and note. They live in the run's folder, change no run key, and `mnistlab
    runs --tag` lists the runs tagged so (MLflow's run tags and description).

    \b
    mnistlab note 3fa9c01b2e -m "lr too high: diverged at epoch 3" --tag bad
    mnistlab note 3fa9c01b2e 7b1e02c4d9 --tag best
    mnistlab runs --tag best
    """
    from mnistlab.notes import read_notes, write_notes

    st = open_store(store)
    recs = list({r.run_id: r for r in (st.get(given) for given in run_ids)}.values())  # every id read first
    if message is not None or add or remove or clear:  # (every run checked before any is written)
        done = list(zip(recs, write_notes(st, [r.run_id for r in recs], note=message, add=add, remove=remove,
                                          clear=clear)))
    else:
        done = [(r, read_notes(st, r.run_id)) for r in recs]
    if fmt == "json":
        click.echo(json.dumps([{"run_id": r.run_id, "tags": list(n.tags), "note": n.note} for r, n in done], indent=1))
        return
    for r, n in done:
        click.echo(f"run {r.run_id}" + ("" if n else ": no tags, no note"))
        for line in notes_said(n):
            click.echo(f"  {line}")


COMMANDS: list[click.Command] = [run_cmd, watch_cmd, runs_cmd, experiments_cmd, show_cmd, compare_cmd, rm_cmd,
                                 reindex_cmd, note_cmd]
