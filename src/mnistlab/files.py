"""The files mnistlab writes: checking an output path before any work starts, and writing a file whole.

Every file mnistlab writes for a user or a run goes through :func:`write_atomic`: a run's
artifacts, checkpoints, ModelCheckpoint's weights, reports, figures, exports, submission CSVs,
experiment and spec files, the dataset cache and sweep plans. (Downloads write their own
temporary file, checked before it is renamed into place; the SQLite databases keep their own
journal.) It writes a temporary file beside the target, flushes it to the disk and renames it
into place, so a reader never sees half a file, and a write that fails (a full disk) or is
interrupted (Ctrl-C) leaves the old file as it was and no temporary file behind::

    out = check_output_path("cm.png")                        # OutputError now, before the work
    write_atomic(out, lambda tmp: fig.savefig(tmp, dpi=100))  # then the file, whole or not at all

A write that a stop must not cut between two of its steps (a checkpoint and what the run then
says it holds, a store's transaction and its COMMIT) runs inside :func:`stop_signals_held`.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import glob
import json
import os
import re
import secrets
import shlex
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from mnistlab.errors import OutputError, printable

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}  # what stops a run as Ctrl-C does (execute.terminate_as_interrupt)


@contextlib.contextmanager
def stop_signals_held(*, drop: bool = False) -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back for the block: one that comes meanwhile is delivered, and stops
    the work, right after it. For a write a stop must not cut in two: a checkpoint and what the
    run says it holds, a store's transaction and its commit. ``drop``: for work that is stopping
    already (workers recording their runs), one that comes meanwhile is dropped, not delivered,
    and the first one is answered on stderr: the work is stopping (helper-167: a Ctrl-C pressed
    again cut a sweep's stop short: a traceback, runs said "training in another process").

    In the main thread (where Python runs every signal handler) the handlers are swapped for one
    that only notes the signal, since blocking it in this thread alone does not hold it back:
    the kernel hands a process's signal to any thread that does not block it (torch's worker
    threads), and Python then runs the handler in the main thread all the same. The signals are
    also blocked in this thread (POSIX), so that a process started inside the block (a pool's
    worker) begins with them blocked: a signal mask survives exec."""
    came: list[int] = []
    swapped: dict[int, Any] = {}
    masked = hasattr(signal, "pthread_sigmask")
    old_mask: Any = None
    try:  # the swaps inside: a stop between two of them still puts every handler back
        if threading.current_thread() is threading.main_thread():
            for sig in sorted(STOP_SIGNALS):
                if (handler := signal.getsignal(sig)) is not None:  # None: set outside Python, cannot be put back
                    swapped[sig] = handler  # first: a stop right after the swap still finds it to put back
                    signal.signal(sig, lambda signum, frame: _noted(came, signum, drop))
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS) if masked else None
        yield
    finally:
        if old_mask is not None and hasattr(signal, "sigtimedwait"):  # the kernel's pending ones, noted too
            while (info := signal.sigtimedwait(STOP_SIGNALS, 0)) is not None:
                came.append(info.si_signo)
        for signum, handler in swapped.items():
            signal.signal(signum, handler)
        if old_mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)  # one still pending (no sigtimedwait) comes now
        # ... and one noted meanwhile goes to its own handler: SIGTERM first, which says more (exit 143)
        for signum in [] if drop else sorted(set(came), key=lambda s: s != signal.SIGTERM):
            signal.raise_signal(signum)


def _noted(came: list[int], signum: int, drop: bool) -> None:
    """:func:`stop_signals_held`'s handler: note the signal; the first one dropped is answered."""
    if drop and not came:
        with contextlib.suppress(OSError):  # (os.write: the signal may have come inside a print to stderr)
            os.write(2, b"stopping: waiting for the workers to record their runs (a few seconds)\n")
    came.append(signum)


#: A checkpoint's file in its folder (the trainer's; named here, where the store and `rm` read it without
#: importing torch: helper-196, `rm ID` spent 1.2 s importing it for this name).
CHECKPOINT_FILE = "last.pt"


def shown_path(path: object) -> str:
    """A recorded (absolute) path as a message or table shows it: relative to the current folder when
    it lies inside it (``digits``, as the user typed it), else whole (another drive, a current folder
    deleted: whole too)."""
    text = str(path)
    if not os.path.isabs(text):
        return text
    try:
        rel = os.path.relpath(text)
    except (ValueError, OSError):  # another drive (Windows); the current folder deleted
        return text
    return text if rel == ".." or rel.startswith(".." + os.sep) else rel


def display_name(name: object) -> str:
    """A file name as text that prints anywhere: undecodable bytes and control characters escaped.

    >>> display_name("a\\nb.png")
    'a\\\\nb.png'
    """
    if not isinstance(name, (str, os.PathLike)):
        return printable(str(name))
    try:
        text = os.fsencode(name).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # characters the file system's encoding cannot spell (an ASCII or Latin-1
        text = str(os.fspath(name))  # locale's): text already, a name shown once more (helper-184: a traceback)
    return printable(text, marks=False)


def shell_word(path: str | os.PathLike) -> str:
    """``path`` as a word a shell reads back as it: quoted where it must be (``'versuch für 日本.toml'``;
    helper-184: hints said ``mnistlab run versuch für 日本.toml``, four words pasted), and a name that is
    not UTF-8 in bash's ``$'...'`` (helper-163: 'bad\\xffdir' pasted named another folder)."""
    shown = display_name(path)
    if shown == str(os.fspath(path)):  # (a name starting with "-" read as an option: helper-187)
        return shlex.quote(f"./{shown}" if shown.startswith("-") else shown)
    return "$'" + "".join(chr(b) if 32 <= b < 127 and b not in b"'\\" else f"\\x{b:02x}" for b in _raw(path)) + "'"


#: the environment variable holding the `mnistlab` command line a process runs, for the runs it records
COMMAND_VARIABLE = "MNISTLAB_COMMAND"


def command_line(args: Sequence[str]) -> str:
    """``mnistlab`` and ``args`` as one line a shell reads back (each argument quoted where it must be,
    a flag or value starting with "-" as it is): ``mnistlab run 'my lab.toml' --jobs 2``."""
    return " ".join(["mnistlab", *(shlex.quote(a) if a.startswith("-") else shell_word(a) for a in map(str, args))])


def command_env() -> dict[str, str]:
    """The `mnistlab` command line this process runs (:data:`COMMAND_VARIABLE`, set by the CLI) and its
    working folder, as a run's env records them (``command``, ``cwd``); {} outside the CLI (Python's
    train()), and no ``cwd`` where the folder is gone."""
    if not (command := os.environ.get(COMMAND_VARIABLE)):
        return {}
    try:
        return {"command": command, "cwd": os.getcwd()}
    except OSError:  # (a folder deleted under the process)
        return {"command": command}


_FORMULA_STARTS = ("=", "+", "-", "@")  # what a spreadsheet reads as the start of a formula (OWASP's CSV injection)


def csv_text(text: str) -> str:
    """A text as a CSV cell a person opens in a spreadsheet: control characters escaped (:func:`printable`)
    and one starting as a formula does (``=HYPERLINK(...)``, ``@SUM``, ``+cmd``) led by ``'``, which
    Excel, LibreOffice and Google Sheets read as "text follows" (OWASP's advice on CSV injection;
    helper-188: a class folder named ``=HYPERLINK(...)`` was a live link in `predict`'s CSV). A
    number's sign (``-0.5``, ``+1e-3``) is kept: a spreadsheet reads it as the number; so is a lone ``-``.

    >>> csv_text("=1+2"), csv_text("-0.5"), csv_text("cat")
    ("'=1+2", '-0.5', 'cat')
    """
    text = printable(text)
    if len(text) > 1 and text.startswith(_FORMULA_STARTS) and not _is_number(text):  # (a lone "-": a placeholder)
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _raw(path: str | os.PathLike) -> bytes:
    """The bytes of ``path`` (as the file system's encoding spells it; UTF-8 where it cannot)."""
    try:
        return os.fsencode(path)
    except UnicodeEncodeError:
        return str(os.fspath(path)).encode("utf-8", "backslashreplace")


def missing_said(text: str, what: str = "file") -> str:
    """``no such {what}: PATH``, and what in the path as typed may be why (helper-177): spaces at its
    ends or a control character (a TOML ``"data\train.csv"`` holds a tab) shown quoted, a Windows
    path's backslashes, or a file of that name in another case beside it (``TRAIN.CSV``: names
    tell case apart here)."""
    return f"no such {what}: {path_as_typed(text)}{missing_hint(text)}"


def path_as_typed(text: str) -> str:
    """A path as a message shows it (:func:`display_name`), in quotes where spaces at its ends or a
    control character would not be seen otherwise."""
    shown = display_name(text)
    return f'"{shown}"' if text != text.strip() or shown != text else shown


def missing_hint(text: str) -> str:
    """`` (why)`` for a path that names nothing, where the path as typed says why (see
    :func:`missing_said`); "" otherwise."""
    if any(c in text for c in "\t\n\r\b\f"):  # a TOML "data\train.csv" or "data\new.csv" (helper-180)
        return " (a Windows path? write / between folders: in TOML a \\ in double quotes starts an escape, \\t a tab)"
    if "\\" in text:
        return " (a Windows path? write / between folders)"
    spaced = text != text.strip()  # (helper-181: shown in quotes only, unsaid)
    if (other := _in_another_case(Path(text.strip()))) is not None:
        return f" ({'a space at its start or end; ' * spaced}{display_name(other)} is there: names tell upper and lower " \
               "case apart)"
    return " (a space at its start or end: remove it)" if spaced else ""


def _in_another_case(path: Path) -> str | None:
    """The name of the one entry beside ``path`` (in its folder, if that can be listed) whose name
    differs from its name in case alone; None if none, or several."""
    try:
        names = [n for n in os.listdir(path.parent) if n.lower() == path.name.lower()]
    except (OSError, ValueError):
        return None
    return str(path.parent / names[0]) if len(names) == 1 and names[0] != path.name else None


def utf8_text(text: str) -> str:
    """``text`` as it can be written in UTF-8: a file name's undecodable bytes (the surrogate escapes
    Python reads them as) shown as ``\\xNN``, as :func:`display_name` shows them (helper-166: a
    report of a run on ``caf\\xe9.csv`` failed with a UnicodeEncodeError).

    >>> utf8_text("caf\\udce9.csv")
    'caf\\\\xe9.csv'
    """
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def not_utf8_said(raw: bytes, first_line: int = 1) -> str | None:
    """Where ``raw`` (a file's bytes from its line ``first_line``) is text in a legacy 8-bit
    encoding, not UTF-8: ``"line 3 is not UTF-8 (Windows-1252 or Latin-1 text?): save it as UTF-8"``
    (Notepad's "ANSI", Excel's plain "CSV"; helper-177: such a file was "not a text file"); None
    where its bytes are UTF-8, or no text (NUL bytes, or characters Windows-1252 does not print: an
    image, an .npz)."""
    raw = raw.removeprefix(b"\xef\xbb\xbf")  # (a BOM before the text: the lines count from after it)
    try:
        raw.decode("utf-8")
        return None
    except UnicodeDecodeError as exc:
        at = exc.start
    if b"\x00" in raw:
        return None
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:  # (the 5 bytes Windows-1252 leaves undefined)
        return None
    if sum(c.isprintable() or c in "\r\n\t" for c in text) < 0.99 * len(text):
        return None
    line = raw[:at].count(b"\n") + first_line
    return f"line {line} is not UTF-8 (Windows-1252 or Latin-1 text?): save it as UTF-8"


COMPRESSED = ((b"\x1f\x8b", "gzip", "gzip -dc"), (b"PK\x03\x04", "zip", "unzip"), (b"BZh", "bzip2", "bzip2 -dc"),
              (b"\xfd7zXZ\x00", "xz", "xz -dc"))  # (magic bytes, format, the command that writes it unpacked)


def compressed_said(path: str | os.PathLike) -> str:
    """``"gzip-compressed: unpack it first: gzip -dc train.csv.gz > train.csv"`` for a file that
    starts as a compressed one does (pandas reads a .csv.gz as it is: helper-214 got a different
    wrong answer from each command), else ''; '' too for a file that cannot be read, and for a zip
    of numpy arrays (an ``.npz``)."""
    try:
        with open(path, "rb") as f:
            start = f.read(6)
    except OSError:
        return ""
    for magic, kind, tool in COMPRESSED:
        if not start.startswith(magic) or (kind == "zip" and zip_holds(path, ".npy")):  # (an .npz: a zip of arrays)
            continue
        if kind == "zip":  # (its members are files of their own: -p would join them into one, review)
            return f"zip-compressed: unpack it first (unzip {shell_word(path)}) and give what it holds"
        name = os.fspath(path)
        if re.search(r"\.(tar\.gz|tgz|tar\.bz2|tar\.xz)$", name, flags=re.IGNORECASE):  # (helper-224)
            return f"a tar archive: unpack it first (tar -xf {shell_word(path)}) and give what it holds"
        bare = re.sub(r"\.(gz|bz2|xz)$", "", name, flags=re.IGNORECASE)
        out = bare if bare != name else f"{Path(name).stem}-unpacked{Path(name).suffix}"
        return f"{kind}-compressed: unpack it first: {tool} {shell_word(path)} > {shell_word(out)}"
    return ""


def zip_holds(path: str | os.PathLike, suffix: str) -> bool:
    """Whether the zip ``path`` holds a file whose name ends in ``suffix`` (any case), read from its
    index alone: ``.npy`` for an ``.npz`` under another name, ``.csv`` for a competition's download;
    False for a file that is no zip or cannot be read."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return any(n.lower().endswith(suffix.lower()) for n in z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def data_dir_astray(data_dir: str | os.PathLike | None = None) -> str | None:
    """``"MNISTLAB_DATA_DIR is '/dta', which is no folder"`` where the folder named to search for
    datasets first (``data_dir``, else the ``MNISTLAB_DATA_DIR`` variable) does not exist; None
    where it does, or none is named. (Light: the CLI asks it while parsing its flags.)"""
    named = data_dir if data_dir is not None else os.environ.get("MNISTLAB_DATA_DIR") or None
    if named is None or Path(named).expanduser().is_dir():
        return None
    return f"{'--data-dir' if data_dir is not None else 'MNISTLAB_DATA_DIR'} is {str(named)!r}, which is no folder"


def check_output_path(path: str | os.PathLike) -> Path:
    """``path`` as a regular file this process can create or replace; OutputError (one line) otherwise
    (a folder, a missing folder, no permission, a device / FIFO / socket, which writing through a
    temporary file and a rename would replace, or a run store's records: :func:`refuse_store_path`)."""
    out, shown = Path(path), display_name(path)
    parent = out.parent if str(out.parent) else Path(".")
    if len(os.fsencode(out.name)) > (most := _name_max(parent)):  # before any look at it: that raises
        raise OutputError(f"cannot write {shown}: its name is {len(os.fsencode(out.name))} bytes, over the {most} "
                          "this file system takes")
    if out.is_dir():
        raise OutputError(f"cannot write {shown}: it is a folder")
    if out.exists() and not out.is_file():  # a FIFO or a device: replacing it would destroy it
        raise OutputError(f"cannot write {shown}: it is not a regular file (a device, FIFO or socket)")
    if not parent.is_dir():
        what = "is a file, not a folder" if parent.exists() else "does not exist"
        raise OutputError(f"cannot write {shown}: folder {display_name(parent)} {what}")
    if not os.access(parent, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        try:  # helper-162: a read-only mount was said "permission denied"
            read_only = bool(os.statvfs(parent).f_flag & os.ST_RDONLY)
        except (OSError, AttributeError):  # (no statvfs: Windows)
            read_only = False
        raise OutputError(f"cannot write {shown}: {'a read-only file system' if read_only else 'permission denied'}")
    refuse_store_path(out)
    if out.is_symlink() and not out.exists():  # found only once the work is done (helper-119)
        raise OutputError(f"cannot write {shown}: a link to nothing (what it points to, "
                          f"{display_name(os.readlink(out))}, is gone)")
    _probe(parent, shown)
    return out


def _probe(folder: Path, shown: str) -> None:
    """OutputError unless a file can be made in ``folder`` (an empty one, made and removed at once):
    the permission bits say yes to root where the file system says no (helper-133: ``--show
    /sys/x.png`` failed after the predictions were printed), as a read-only mount does. (A full
    disk may still take an empty file: that is said when the output is written.)"""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".mnistlab-probe-")
    except OSError as exc:
        raise OutputError(f"cannot write {shown}: {exc.strerror or exc}") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)


def _name_max(folder: Path) -> int:
    """The longest file name (in bytes) ``folder``'s file system takes: 255 where it does not say."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows), or no such setting
        return 255


def refuse_store_path(path: str | os.PathLike) -> None:
    """OutputError (one line) when writing ``path`` would replace or add to a run store's records
    (a run's folder, a checkpoint, its database: :func:`mnistlab.store.store_part`), which
    mnistlab alone writes: a recorded result is never overwritten by an output file."""
    from mnistlab.store import store_part

    if (part := store_part(path)) is not None:
        raise OutputError(f"cannot write {display_name(path)}: it is inside the run store's records ({part}), "
                          "which only mnistlab writes: write it elsewhere")


def redraws(stream: Any) -> bool:
    """Whether ``stream`` is a terminal that redraws in place (a progress bar, a live table, box
    drawing): a tty whose ``TERM`` is not ``dumb``. A dumb terminal (Emacs's shell, a console read
    aloud or in braille) gets what a pipe gets, plain lines (helper-176: box tables 80 cells wide
    whatever COLUMNS said, and a sweep's lines held back until it ended)."""
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed
        return False
    return tty and os.environ.get("TERM", "").strip() != "dumb"


def console_style() -> dict[str, Any]:
    """What every rich Console of mnistlab is made with (tables, bars, the live table): with
    ``NO_COLOR`` set (not empty), no styles at all. no-color.org asks only for no colour, but bold
    was the one escape code left (helper-176), in one place for all of them (helper-180)."""
    return {"color_system": None} if os.environ.get("NO_COLOR") else {}


class PipeGuard:
    """A text stream (``sys.stdout``, ``sys.stderr``) whose reader may go away (``| head``): the
    first write or flush to find it gone points the stream's file descriptor at the null device,
    so that nothing written later fails (the interpreter's last flush included), then calls
    ``on_close`` if one is set (:func:`mnistlab.cli._output.closed_output_stops` stops the work
    there). A sweep's worker processes write through one too, so that a warning into a closed
    pipe never fails the cell they train."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.on_close: Callable[[], None] | None = None

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._close()
            return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._close()

    def __getattr__(self, name: str) -> Any:  # encoding, errors, fileno, isatty ...: the stream's own
        return getattr(self._stream, name)

    def _close(self) -> None:
        try:
            fd = self._stream.fileno()
        except (OSError, ValueError):  # no descriptor of its own (an in-memory stream): nothing to point
            fd = None
        if fd is not None:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, fd)
            finally:
                os.close(null)
        if self.on_close is not None:
            self.on_close()


_PROCESS_TAG = secrets.token_hex(3)  # with the pid: writers on two hosts sharing a folder differ too


def temporary_name(path: Path) -> Path:
    """Where :func:`write_atomic` writes ``path`` first, in this thread: a hidden file beside it,
    named by the host's process, the thread and a random tag of the process (two writers of one
    file, on one host or on two sharing a folder, never share a temporary file), ending in
    ``path``'s suffix (writers that pick a format by the suffix, or add one, such as ``np.save``,
    keep it). A long name is shortened, so the temporary name fits where ``path`` fits."""
    return path.with_name(f".{_temporary_stem(path)}.{os.getpid()}-{threading.get_native_id()}-{_PROCESS_TAG}"
                          f".tmp{path.suffix}")


def _temporary_stem(path: Path) -> str:
    """The part of ``path``'s name its temporary names begin with (:func:`temporary_name`)."""
    return path.name if len(path.name) <= 64 else path.name[:48]


def drop_stale_temporaries(path: Path, older_than: float = 3600.0) -> int:
    """Delete the temporary files :func:`write_atomic` left beside ``path`` when its writer was killed
    (``kill -9`` in the middle of a write: helper-206 found a 2.9 MB ``.last.pt.<pid>-...tmp.pt``
    that no later run took away), those older than ``older_than`` seconds whose process is gone on
    this host (a folder shared with another host keeps a writer's file there while it is young).
    Returns how many went; a file that cannot be read or deleted is left."""
    stem = _temporary_stem(path)
    gone, now = 0, time.time()
    try:
        found = list(path.parent.glob(f".{glob.escape(stem)}.*.tmp{glob.escape(path.suffix)}"))
    except OSError:
        return 0
    for tmp in found:
        parts = tmp.name[len(stem) + 2:].split("-")  # pid, thread, the process's tag + .tmp<suffix>
        pid = parts[0] if len(parts) == 3 and parts[2].endswith(f".tmp{path.suffix}") else ""
        try:
            if not pid.isdigit() or now - tmp.stat().st_mtime < older_than or pid_alive(int(pid)):
                continue
            tmp.unlink()
            gone += 1
        except OSError:
            continue
    return gone


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` lives on this host: one of another user's counts as alive, one that
    ended but was not reaped yet (a zombie) does not, nor a pid no process can have (0, or past a C
    int's range). The one check of a pid: the store's runs, Ray's cell folders, a killed writer's
    temporary files."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # a pid past a C int's range is no process
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has ended but was not reaped yet (Linux: state Z or X in /proc; a killed
    driver's worker stays one where the container's init does not reap orphans)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def write_atomic(path: str | os.PathLike, write: Callable[[Path], object], *, through: bool = True) -> Path:
    """Write ``path`` whole: ``write(tmp)`` writes a temporary file beside it (:func:`temporary_name`),
    which is flushed to the disk (fsync: whole after a power cut too), given the mode of the file it
    replaces (helper-162: a report made private with chmod 600 was readable by all once written
    again), else the mode a new file gets here (0666 less the umask; some writers, safetensors,
    make theirs 0600), and renamed over ``path`` in one step. A ``path`` that is a symbolic link
    is written through (``through``: its target is replaced, the link stays), else replaced by the
    file: a store's own files never follow a link a copied store may hold (helper-188: a sweep's plan
    linked to a file elsewhere overwrote it). Returns ``path`` as a Path.

    Whatever ``write`` raises (OSError for a full disk, KeyboardInterrupt, a writer's own error)
    propagates, with the temporary file removed and ``path`` as it was before.
    """
    out = Path(path)
    target = Path(os.path.realpath(out)) if through and out.is_symlink() else out
    tmp = temporary_name(target)
    try:
        write(tmp)
        _flush_to_disk(tmp)
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except OSError:  # no file there yet
            mode = new_file_mode()
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return out


def write_output(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """:func:`write_atomic` for an output the user asked for: an OSError (a full disk, a folder that
    refuses new files) becomes one OutputError line naming ``path``; ``path`` stays as it was."""
    try:
        return write_atomic(path, write)
    except OSError as exc:
        raise OutputError(f"cannot write {display_name(path)}: {exc.strerror or exc}") from None


def safetensors_header(path: str | os.PathLike) -> tuple[int, Any]:
    """The header of the safetensors file at ``path`` as the format lays it out: its length (8 bytes
    of little-endian integer) and its JSON, parsed (None where the length is none a header has:
    not a safetensors file). Read by Python, so a path that is not UTF-8 reads too. OSError where
    the file cannot be read, ValueError where the JSON is cut short or damaged."""
    with open(path, "rb") as f:
        head = f.read(8)
        size = int.from_bytes(head, "little") if len(head) == 8 else -1
        try:
            return size, json.loads(f.read(size)) if 0 < size <= 100_000_000 else None
        except RecursionError:  # JSON nested deeper than Python's stack (helper-188: a traceback)
            raise ValueError("its header is nested too deeply to be a safetensors header") from None


def safetensors_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The ``__metadata__`` of the safetensors file at ``path`` (str -> str; {} where it has none),
    from its header (:func:`safetensors_header`): safetensors' own ``safe_open`` refuses a path that
    is not UTF-8 (helper-162: an export into "bad\\xffdir" was a traceback). OSError where it cannot
    be read, ValueError where it is no safetensors file."""
    _, header = safetensors_header(path)
    if header is None:
        raise ValueError(f"{display_name(path)}: not a safetensors file (no header)")
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}


def _sort_metadata(path: Path) -> None:
    """Put the metadata in the header of the safetensors file at ``path`` in key order, in place:
    safetensors writes them in a hash map's order, which changes from one save to the next, so the
    same weights made different files. The header keeps its length (the same JSON, reordered); where
    it would not, the file is left as it is."""
    with open(path, "r+b") as f:
        size = int.from_bytes(f.read(8), "little")
        raw = f.read(size)
        header = json.loads(raw)
        if "__metadata__" not in header:
            return
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        if len(text) <= size and not raw[len(text):].strip(b" "):  # the same length: the JSON reordered
            f.seek(8)
            f.write(text + b" " * (size - len(text)))


def save_weights(state: Mapping[str, Any], path: str | os.PathLike, metadata: Mapping[str, str] | None = None, *,
                 through: bool = True) -> Path:
    """Write a state dict (name -> tensor, any device) as a safetensors file, whole
    (:func:`write_atomic`, ``through`` a link or not): each tensor detached, on the CPU and contiguous, as safetensors stores
    them; ``metadata`` in its header. The file's folder is made. OutputError (one line) when the
    file cannot be written (a full disk, no permission), from an OSError or safetensors' own error."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}

    def write(tmp: Path) -> None:
        save_file(tensors, str(tmp), metadata=dict(metadata or {}) or None)
        _sort_metadata(tmp)

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_atomic(path, write, through=through)
    except Exception as exc:  # OSError, or safetensors' own error type for the same I/O failures
        detail = getattr(exc, "strerror", None) or " ".join(str(exc).split())
        raise OutputError(f"{display_name(path)}: cannot write weights: {detail}") from None


def _flush_to_disk(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # EINVAL: a file system that cannot sync (nothing to wait for)
            raise
    finally:
        os.close(fd)


@functools.cache
def new_file_mode() -> int:
    """The mode a new file gets here: 0666 less the process's umask (read once, the first time:
    reading it means setting it, which is not safe while other threads create files)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask
