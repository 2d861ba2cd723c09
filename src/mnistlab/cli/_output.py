"""How every listing command prints its rows: a table, CSV or JSON (`--format`).

A listing is a list of rows, each a dict with the same keys in the same order. ``--format json``
prints that list as JSON objects (the keys are the column names and never change) and
``--format csv`` the same through the csv module; both carry the raw values (numbers stay
numbers, a missing value is null / empty). ``--format table`` (the default) is for reading:
display strings, a rich table with box drawing on a terminal, and plain space-aligned text (no
box drawing, no colour) when stdout is a pipe or a file, so `mnistlab models | awk ...` works.
"""

from __future__ import annotations

import _thread
import csv
import errno
import io
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mnistlab.errors import printable
from mnistlab.files import PipeGuard, csv_text

if TYPE_CHECKING:
    from mnistlab.execute import StopSignal

FORMATS = ("table", "csv", "json")
F = TypeVar("F", bound=Callable[..., object])


def format_option(choices: Sequence[str] = FORMATS) -> Callable[[F], F]:
    """The `--format` option of a listing command (``table`` by default)."""
    others = " / ".join(c for c in choices if c not in ("table", "markdown", "latex"))
    pages = " / ".join(c for c in choices if c in ("markdown", "latex"))
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default="table", show_default=True,
                        help=f"table: aligned text for reading (box drawing only on a terminal); "
                             f"{others}: for scripts, one row (object) per line of the table (a CSV cell that "
                             "starts as a formula does, = + - or @ and not a number, gets a ' before it: a spreadsheet "
                             "shows it as text)" + (f"; {pages}: the table for a page or a paper (LaTeX: a booktabs "
                                                    "tabular, its notes % comments)" if pages else "") + ".")


@dataclass(frozen=True)
class Column:
    """One column: its key in the rows (and the CSV/JSON name), its table header, how a value shows."""

    key: str
    header: str
    show: Callable[[Any], str] = str
    right: bool = False  # right-aligned in the table (numbers)
    whole: bool = False  # never wrapped or cut short on a narrow terminal (ids and names people copy)
    drop: int = 0  # on a terminal too narrow for every column, left out in this order (1 first); 0: always shown
    fold: bool = False  # a value that may break anywhere on a narrow terminal (a path); else only between words


def to_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], fmt: str) -> str:
    """``rows`` as ``csv`` or ``json`` text (raw values), or ``table`` as plain aligned text."""
    keys = [c.key for c in columns]
    if fmt == "json":
        return json.dumps([{k: r.get(k) for k in keys} for r in rows], indent=1) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(keys)
        writer.writerows([[_csv_cell(r.get(k)) for k in keys] for r in rows])
        return buf.getvalue()
    cells = [[_shown(c, r.get(c.key)) for c in columns] for r in rows]
    from mnistlab.comparison import plain_table

    return plain_table([printable(c.header) for c in columns], cells, [c.right for c in columns])


def _csv_cell(value: Any) -> Any:
    """A raw value as a CSV cell: empty for None, ``true``/``false`` for a bool (as `compare` and JSON
    write them; helper-165: `runs` wrote Python's ``True``), a text's control characters escaped
    (``\\x1b``), as JSON escapes them: a class folder's name set a terminal's title, and in a pipe
    click dropped an escape code from the data (helper-174); one a spreadsheet would run as a formula
    led by ``'`` (:func:`~mnistlab.files.csv_text`); a list (a run's tags) as :func:`~mnistlab.notes.tags_said` joins them."""
    if isinstance(value, str):
        return csv_text(value)
    if isinstance(value, list):  # a run's tags: as the table shows them
        from mnistlab.notes import tags_said

        return csv_text(tags_said(list(map(str, value))))
    return "" if value is None else str(value).lower() if isinstance(value, bool) else value


def _shown(column: Column, value: Any) -> str:
    """A table cell: ``-`` for None, else the column's words with control characters escaped (a
    class name from a folder or a CSV, a store's variant: a terminal's escape codes, helper-172)."""
    return "-" if value is None else printable(column.show(value))


def is_terminal() -> bool:
    """Whether stdout is an interactive terminal that redraws in place (then tables get rich's box
    drawing, a sweep its live table): not a dumb one (:func:`~mnistlab.files.redraws`)."""
    from mnistlab.files import redraws

    return redraws(sys.stdout)


def plain_width() -> int | None:
    """The width (cells) plain lines are fitted to: a terminal's that cannot redraw (``TERM=dumb``:
    Emacs's shell, a screen reader's console), so a table leaves out whole columns as on any terminal
    (helper-181: 125 characters at 40 columns); None for a pipe or a file, which get every column."""
    import shutil

    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError):
        return None
    if not tty or is_terminal():
        return None
    return _columns() or shutil.get_terminal_size().columns  # (rich takes any dumb terminal as 80 wide)


def _columns() -> int | None:
    """``COLUMNS`` as a width above 0, None where it is unset or of no use ("0", "wide", "²": a digit
    that is no number, which int() refuses; helper-186: a ValueError)."""
    try:
        width = int(os.environ.get("COLUMNS", "").strip())
    except ValueError:
        return None
    return width if width > 0 else None


def usable_streams() -> None:
    """Standard streams every command can use, set up before it runs. One that was closed (``<&-``,
    ``>&-``: a daemon's, a cron job's) reads or writes /dev/null: nothing to read, output dropped
    (helper-162: a traceback, and `train` recorded a failed run). stdout and stderr write a character
    their encoding cannot spell (a non-UTF-8 locale; a variant named "café" under Latin-1 is fine,
    "密集" is not) as a ``\\uXXXX`` escape (helper-162: an error stopped a sweep, and every listing of
    a store holding such a name, under that locale). One open but not for writing (``2</dev/null``)
    writes to /dev/null too (helper-163: nothing printed, exit 1)."""
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None or (mode == "w" and not _writable(getattr(sys, name))):
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115 - the process's stream
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="backslashreplace")


def _writable(stream: Any) -> bool:
    """Whether ``stream``'s file descriptor takes writes (an empty write: EBADF where it was opened
    for reading, or closed); True for a stream without one (a test's capture, a notebook's)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return True
    try:
        os.write(fd, b"")
    except OSError as exc:  # (a full disk's ENOSPC, /dev/full's, is said when the output is written)
        return exc.errno != errno.EBADF
    return True


def rich_console() -> Any:
    """A rich Console on stdout (only used on a terminal, see :func:`is_terminal`), as wide as the
    terminal; a ``COLUMNS`` of no use (0, not a number: helper-162, a table of no width and exit 0)
    is not read. With ``NO_COLOR`` set, no styles at all (:func:`~mnistlab.files.console_style`)."""
    import shutil

    from rich.console import Console

    from mnistlab.files import console_style

    plain = console_style()
    columns = os.environ.get("COLUMNS", "").strip()
    if not columns or _columns() is not None and columns.isascii():  # (rich reads an ASCII number itself)
        return Console(**plain)
    try:
        width = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 0
    except (OSError, ValueError):
        width = 0
    return Console(width=width or shutil.get_terminal_size().columns, **plain)


def emit(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], fmt: str, *, title: str | None = None,
         empty: str | None = None) -> None:
    """Print a listing in format ``fmt``; ``title`` heads the table, ``empty`` replaces an empty table."""
    if fmt != "table":
        click.echo(to_text(rows, columns, fmt), nl=False)
        return
    if not rows and empty is not None:  # in a pipe a word, not a row (helper-173: `runs -s running | wc -l` gave 1)
        click.echo(empty, err=not is_terminal())
        return
    if not is_terminal():
        click.echo((f"{title}\n" if title else "") + _plain_fitted(rows, columns, plain_width()), nl=False)
        return
    from rich.table import Table
    from rich.text import Text

    from mnistlab.comparison import columns_that_fit

    console = rich_console()
    least = {c.key: _least_width(c, rows) for c in columns}
    order = sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: columns[i].drop)
    shown = [columns[i] for i in columns_that_fit([least[c.key] + 3 for c in columns], order, console.width)]
    if sum(least[c.key] + 3 for c in shown) + 1 > console.width:  # helper-162: at 30 columns a run's test accuracy
        click.echo((f"{title}\n" if title else "") + to_text(rows, columns, "table"), nl=False)  # was cut to "7":
        return  # the plain lines, which the terminal wraps, cut nothing
    left_out = [c.header for c in columns if c not in shown]
    # Text, not str: a "[" in a name or message is shown as typed, never read as rich markup.
    table = Table(title=None if title is None else Text(title), caption=Text(
        f"left out for the terminal's width: {', '.join(left_out)} (--format csv shows every column)") if left_out else None)
    for c in shown:
        table.add_column(printable(c.header), justify="right" if c.right else "left", no_wrap=c.whole or c.right,
                         min_width=least[c.key], overflow="fold")  # folded, never "…"
    for r in rows:
        table.add_row(*(Text(_shown(c, r.get(c.key))) for c in shown))
    console.print(table)


def _plain_fitted(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], width: int | None) -> str:
    """:func:`to_text`'s plain table, with whole columns left out in their ``drop`` order until its
    lines fit ``width`` cells (None: every column), and a last line naming them."""
    from mnistlab.comparison import plain_columns_that_fit

    if not width:
        return to_text(rows, columns, "table")
    order = sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: columns[i].drop)
    kept = plain_columns_that_fit([printable(c.header) for c in columns],
                                  [[_shown(c, r.get(c.key)) for c in columns] for r in rows], order, width)
    left_out = [c.header for i, c in enumerate(columns) if i not in kept]
    return to_text(rows, [columns[i] for i in kept], "table") + (
        f"left out for the terminal's width: {', '.join(left_out)} (--format csv shows every column)\n" if left_out else "")


def _least_width(column: Column, rows: Sequence[Mapping[str, Any]]) -> int:
    """The fewest terminal cells ``column`` takes in :func:`emit`'s table: its widest value where it
    is never wrapped (``whole``, numbers), else its longest word, of its header too (helper-162: at
    80 columns `datasets` broke "classes" into "classe/s"); a ``fold`` column's values break anywhere."""
    from rich.cells import cell_len

    values = [_shown(column, r.get(column.key)) for r in rows]
    if column.whole or column.right:
        return max(cell_len(v) for v in [column.header, *values])
    words = column.header.split() + ([] if column.fold else [w for v in values for w in v.split()])
    return max(cell_len(w) for w in words or [""])


@contextmanager
def _guarded(on_close: Callable[[], None] | None) -> Iterator[None]:
    """stdout and stderr guarded with ``on_close`` while inside; nests (the innermost's holds)."""
    installed = not isinstance(sys.stdout, PipeGuard) or not isinstance(sys.stderr, PipeGuard)
    if installed:
        old = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = PipeGuard(old[0]), PipeGuard(old[1])
    guards: list[PipeGuard] = [sys.stdout, sys.stderr]  # type: ignore[list-item]
    before = [g.on_close for g in guards]
    for g in guards:
        g.on_close = on_close
    try:
        yield
    finally:
        for g, was in zip(guards, before):
            g.on_close = was
        if installed:
            sys.stdout, sys.stderr = old


def closed_output_stops(stop: StopSignal) -> AbstractContextManager[None]:
    """While inside, a closed output (stdout or stderr: ``| head`` has had its lines, ``2>&1 | head``,
    ``less`` was quit) stops the work as SIGPIPE stops a Unix tool, but the way Ctrl-C does here:
    KeyboardInterrupt is raised in the main thread (where the write failed, or at once from another
    thread), so the running runs are recorded as interrupted and the finished ones stay, and
    ``stop.signum`` becomes SIGPIPE, for exit status 141. It is raised once: later output to either
    stream goes nowhere, silently. While ``stop.defer`` is set (an epoch is ending, and the
    training loop takes the stop before the next one: :class:`~mnistlab.callbacks.StopBetweenEpochs`),
    it sets ``stop.pending`` to SIGPIPE instead: the epoch whose line found the output closed is kept.

    Without it, Python (which ignores SIGPIPE and raises BrokenPipeError instead) and click end
    the command with a silent exit 1 wherever the write failed, a run in training left unrecorded."""

    fired = False

    def output_closed() -> None:
        nonlocal fired
        if fired:  # the other stream of the same pipe (`2>&1 | head`), met while the stop is under way
            return
        fired = True
        if stop.defer:  # taken where the training loop can take it whole (a Ctrl-C before then is a Ctrl-C)
            stop.pending = signal.SIGPIPE
            return
        stop.signum = signal.SIGPIPE
        if threading.current_thread() is threading.main_thread():
            raise KeyboardInterrupt
        _thread.interrupt_main()  # as SIGINT does: KeyboardInterrupt in the main thread

    return _guarded(output_closed)


def closed_output_ignored() -> AbstractContextManager[None]:
    """While inside, output to a closed stdout or stderr goes nowhere and the work goes on: what a
    command prints while it records a result it must not lose, and every command's last words
    (:func:`mnistlab.cli.main` runs each command inside it)."""
    return _guarded(None)


def stopped_by(signum: int) -> str:
    """How a stopped command's last line names what stopped it (``signum``: SIGINT, SIGTERM or SIGPIPE)."""
    if signum == signal.SIGPIPE:
        return "stopped because its output was closed (SIGPIPE: the reader of `mnistlab ... | head` has gone)"
    return f"interrupted by {signal.Signals(signum).name}"
