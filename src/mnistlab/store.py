"""The run store: one SQLite database (WAL mode) plus one artifact folder per run.

Layout of a store folder (default ``./mnistlab-runs``; ``MNISTLAB_STORE`` or ``--store`` move it)::

    mnistlab-runs/
      runs.sqlite                 # tables: schema_version, runs, committees
      runs/<run_id>/config.json   # the resolved run config
                   record.json    # the run's row (experiment, variant, seed, status, env, ...)
                   progress.json  # the epochs so far, while it runs (history.json replaces it)
                   history.json   # per-epoch logs
                   metrics.json   # final metrics
                   weights.safetensors
                   predictions.npy  # test_probs, float32 (N_test, num_classes)
                   committee-<digest>.json  # in a committee's first member: its record
      checkpoints/<experiment digest>/<cell digest>/last.pt
                                  # a sweep cell's latest epoch while it trains (deleted once it
                                  # ends; an interrupted cell's stays, and the next sweep resumes it)

Use it from Python::

    store = RunStore()                      # or RunStore("path/to/store")
    for rec in store.runs(experiment="seed000", status="finished"):
        print(rec.run_id, rec.variant, rec.metrics["test_accuracy"])
    model = store.load_model("3fa9")         # any unique prefix of a run id

A run's row is written when it starts (status ``running``) and updated once when it ends
(``finished`` / ``diverged`` / ``interrupted`` / ``failed``); its artifacts are written (atomically)
before that final update, so a finished row always has its files. Several processes may write at
once (WAL, ``BEGIN IMMEDIATE`` and a busy timeout).

The folders are the lab notebook; the database is their index. Every row is also written to its
run's ``record.json`` (and every committee to a file), so a lost or damaged ``runs.sqlite`` is
rebuilt from the folders by :meth:`RunStore.reindex` (``mnistlab reindex``); a rebuilt ``running``
run whose process is gone is marked ``interrupted`` again.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import time
import uuid
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mnistlab.config import run_key
from mnistlab.errors import LostDatabase, NotRecorded, OutputError, StoreError, StoreWarning, first_line, printable, user_level
from mnistlab.files import (CHECKPOINT_FILE, pid_alive, safetensors_header, save_weights, shell_word, stop_signals_held,
                            write_atomic)

if TYPE_CHECKING:  # the models (and torch) are imported late, where a model is loaded
    from mnistlab.models import SequentialModel
    from mnistlab.notes import Notes

SCHEMA_VERSION = 6
DB_FILE = "runs.sqlite"
RECORD_FILE = "record.json"  # in each run folder: the run's row, from which `reindex` rebuilds the database
COMMITTEE_FILE = "committee-{}.json"  # in a committee's first member's folder (deleted with it)
PROGRESS_FILE = "progress.json"  # a running run's epochs so far, until its history.json is written
CHECKPOINT_DIR = "checkpoints"  # under the store root: the checkpoints of cells a sweep trains
#: the message of a run whose process ended without recording its end (kill -9, a crash): its
#: ``finished_at`` is when another process found it so, not when it stopped
ENDED = "the process running it ended"
#: the message of a ``running`` run a Ray driver sent that no worker has started yet (the cluster's
#: resources taken): `watch` and `show` say "queued" until its worker begins
QUEUED = "queued: sent to Ray, waiting for a worker"
STATUSES = ("running", "finished", "diverged", "interrupted", "failed")
RESULT_STATUSES = ("finished", "diverged")  # a run with a test accuracy: what comparisons count
FINAL_STATUSES = STATUSES[1:]
_JSON_COLUMNS = ("config", "history", "metrics", "env")


@dataclass
class RunRecord:
    """One recorded run (a row of the store). ``config`` is the resolved run config."""

    run_id: str
    experiment: str
    variant: str
    seed: int
    member: int
    config: dict[str, Any]
    config_hash: str
    status: str
    history: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0  # unix seconds
    finished_at: float | None = None
    message: str = ""
    repeat: int = 0  # which repeat (seed index) of the variant this run belongs to
    pid: int = 0
    host: str = ""

    @property
    def epochs(self) -> int:
        """The epochs it recorded (its history's length): what it trained, not what its config asked."""
        return len(self.history or [])

    @property
    def test_accuracy(self) -> float | None:
        """Its test accuracy (``metrics["test_accuracy"]``, 0-1), None where it has none (failed,
        still running). Read by the repr's names (helper-182: ``record.test_accuracy`` was no attribute)."""
        acc = (self.metrics or {}).get("test_accuracy")
        return float(acc) if isinstance(acc, (int, float)) and not isinstance(acc, bool) else None

    def __repr__(self) -> str:
        """One line a notebook shows (helper-157: the whole config, history and environment made
        `store.runs()` a wall of 3,000 characters a run): its id, where it belongs, how it ended;
        the fields themselves hold the rest."""
        acc = self.test_accuracy
        score = f", test_accuracy={acc:.4f}" if acc is not None else ""
        member = f", member={self.member}" if self.member else ""
        return (f"RunRecord(run_id={self.run_id!r}, experiment={self.experiment!r}, variant={self.variant!r}, "
                f"seed={self.seed}{member}, status={self.status!r}, epochs={self.epochs}{score})")


@dataclass
class CommitteeRecord:
    """The evaluation of one committee: the average of its members' test softmax outputs."""

    experiment: str
    variant: str
    repeat: int
    accuracy: float
    member_ids: list[str]
    member_accuracies: list[float]
    created_at: float
    val_accuracy: float | None = None  # the averaged outputs on the members' shared validation images, if any


# --------------------------------------------------------------------------------- schema
# Version 1 had no committees table and no pid/host/repeat columns; version 2 wrote two meanings
# into config_hash (see _migrate_2_to_3); version 3 kept one committee record per variant and repeat
# (see _migrate_3_to_4); version 4 had no committee validation accuracy. Each migration moves one step.
_SCHEMA_V1 = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, experiment TEXT NOT NULL, variant TEXT NOT NULL,
    seed INTEGER NOT NULL, member INTEGER NOT NULL, config TEXT NOT NULL, config_hash TEXT NOT NULL,
    status TEXT NOT NULL, history TEXT NOT NULL, metrics TEXT NOT NULL, env TEXT NOT NULL,
    created_at REAL NOT NULL, finished_at REAL, message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_experiment ON runs (experiment, variant);
CREATE INDEX runs_hash ON runs (config_hash);
"""


def _migrate_1_to_2(con: sqlite3.Connection) -> None:
    con.execute("ALTER TABLE runs ADD COLUMN repeat INTEGER NOT NULL DEFAULT 0")
    con.execute("ALTER TABLE runs ADD COLUMN pid INTEGER NOT NULL DEFAULT 0")
    con.execute("ALTER TABLE runs ADD COLUMN host TEXT NOT NULL DEFAULT ''")
    con.execute(
        "CREATE TABLE committees (experiment TEXT NOT NULL, variant TEXT NOT NULL, repeat INTEGER NOT NULL,"
        " accuracy REAL NOT NULL, member_ids TEXT NOT NULL, member_accuracies TEXT NOT NULL,"
        " created_at REAL NOT NULL, PRIMARY KEY (experiment, variant, repeat))"
    )


def _migrate_2_to_3(con: sqlite3.Connection) -> None:
    """``config_hash`` becomes :func:`mnistlab.config.run_key` for every row.

    Up to version 2, ``mnistlab train`` wrote the checkpoint's identity there (no epochs, threads or
    version) and experiments the run's (no threads or device; the version). Each row's hash is
    recomputed from its stored config with the mnistlab version it ran with (``env["mnistlab"]``), so
    an experiment's rows keep their hash and a train row gets the one it would get today. A row
    without a recorded version (it failed before it could write its env) keeps its hash.
    """
    rows = con.execute("SELECT run_id, config, env FROM runs").fetchall()
    for run_id, config_text, env_text in rows:
        try:
            config, env = json.loads(config_text), json.loads(env_text)
        except (TypeError, ValueError):  # damaged JSON: leave the row as it was
            continue
        version = env.get("mnistlab") if isinstance(env, dict) else None
        if not (isinstance(config, dict) and isinstance(config.get("train", {}), dict) and isinstance(version, str)):
            continue  # no version to hash with, or not a config run_key can read: keep the row's hash
        con.execute("UPDATE runs SET config_hash = ? WHERE run_id = ?", (run_key(config, version=version), run_id))


def _migrate_3_to_4(con: sqlite3.Connection) -> None:
    """A committee's record is keyed by its members too: a ``--quick`` smoke run of a committee (or
    a committee of a file's earlier version) is recorded beside the full one instead of replacing it."""
    con.execute(
        "CREATE TABLE committees_v4 (experiment TEXT NOT NULL, variant TEXT NOT NULL, repeat INTEGER NOT NULL,"
        " accuracy REAL NOT NULL, member_ids TEXT NOT NULL, member_accuracies TEXT NOT NULL,"
        " created_at REAL NOT NULL, PRIMARY KEY (experiment, variant, repeat, member_ids))"
    )
    con.execute("INSERT INTO committees_v4 SELECT * FROM committees")
    con.execute("DROP TABLE committees")
    con.execute("ALTER TABLE committees_v4 RENAME TO committees")


def _migrate_4_to_5(con: sqlite3.Connection) -> None:
    """A committee's validation accuracy (NULL where it was not measured): committees are chosen on it."""
    con.execute("ALTER TABLE committees ADD COLUMN val_accuracy REAL")


def _migrate_5_to_6(con: sqlite3.Connection) -> None:
    """Every run's row and every committee are also kept in files in the run folders
    (``RECORD_FILE``, ``COMMITTEE_FILE``), from which :meth:`RunStore.reindex` rebuilds a lost
    database. No table changes: :func:`_keep_files_of_rows` writes the files of what was recorded
    before, once this migration has committed (not while it holds the write lock)."""


def _keep_files_of_rows(con: sqlite3.Connection, root: Path) -> None:
    """Write ``RECORD_FILE`` (and ``PROGRESS_FILE`` for a run that never ended) and the committee
    files of the rows recorded before schema 6, from the rows as they are (a damaged JSON column
    is written as empty, not as the "failed" :func:`_record` reads it as). A row whose folder is
    gone, or cannot be written, is left as it is: the database still has it."""
    cols = [r[1] for r in con.execute("PRAGMA table_info(runs)")]
    for row in con.execute("SELECT * FROM runs").fetchall():
        d = dict(zip(cols, row))
        rec = RunRecord(**{k: d[k] for k in _RECORD_TYPES if k in d and k != "env"}, config={},
                        env=_json_or(d.get("env"), dict), history=_json_or(d.get("history"), list))
        folder = root / "runs" / rec.run_id
        try:
            if folder.is_dir() and not (folder / RECORD_FILE).exists():
                _keep_record(root, rec)
                if rec.history and not (folder / "history.json").exists():  # a run that never ended
                    _write_json(folder / PROGRESS_FILE, rec.history)
        except (OSError, TypeError):  # a folder that cannot be written, a row of the wrong types
            pass
    for row in con.execute("SELECT experiment, variant, repeat, accuracy, member_ids, member_accuracies, created_at,"
                           " val_accuracy FROM committees").fetchall():
        try:
            _keep_committee(root, CommitteeRecord(row[0], row[1], row[2], row[3], json.loads(row[4]),
                                                  json.loads(row[5]), row[6], row[7]))
        except (TypeError, ValueError):  # a damaged row: the database keeps it as it is
            pass


def _json_or(text: Any, kind: type) -> Any:
    """The JSON value of ``text`` if it is a ``kind``, else an empty ``kind``."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return kind()
    return value if isinstance(value, kind) else kind()


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _migrate_1_to_2, 2: _migrate_2_to_3,
                                                               3: _migrate_3_to_4, 4: _migrate_4_to_5,
                                                               5: _migrate_5_to_6}


def store_flag(root: Path) -> str:
    """`` --store ROOT`` (quoted for a shell) for a command the user is told to copy, where ROOT is
    not the store a command finds without it (:func:`~mnistlab.store.default_root`; helper-162:
    `mnistlab show ID`, as said after `train --store X`, found no such run); a name that is not
    UTF-8 in bash's ``$'...'`` (helper-163: 'bad\\xffdir' pasted named another folder)."""
    try:
        same = root.resolve() == default_root().resolve()
    except OSError:  # the current folder deleted meanwhile (helper-189: a sweep that recorded all ended in an error)
        same = root == default_root()
    return "" if same else f" --store {shell_word(root)}"


def default_root() -> Path:
    """The store folder: env ``MNISTLAB_STORE`` or ``./mnistlab-runs``."""
    return Path(os.environ.get("MNISTLAB_STORE") or "mnistlab-runs")


def store_held(root: str | os.PathLike | None = None) -> bool:
    """Whether a run store is at ``root`` (default :func:`default_root`): its database, or the run
    folders it is rebuilt from. False where opening it would make a new one."""
    folder = Path(root) if root is not None else default_root()
    return (folder / DB_FILE).exists() or (folder / "runs").is_dir()


def store_part(path: str | os.PathLike) -> str | None:
    """What of a run store writing the file ``path`` would replace or add to: "runs/3fa9c01b2e"
    (a run's folder), "checkpoints/..." or "sweeps/...", or its database ("runs.sqlite",
    "search.sqlite" and their journal files), each with the store's folder; None for a path
    outside every store's records (the store's own folder itself is not one: a report may go
    there). A run store is a folder holding runs.sqlite."""
    from mnistlab.search import STUDY_FILE  # late: it builds on this module

    target = Path(path).expanduser()
    try:
        places = [target.parent.resolve() / target.name]
        if target.is_symlink():  # a link written through: where it leads counts too
            places.append(target.resolve())
    except (OSError, RuntimeError):  # a loop of links (RuntimeError before Python 3.13): nothing can be written there
        return None
    for place in places:
        if (place.parent / DB_FILE).is_file() and place.name.startswith((DB_FILE, STUDY_FILE)):
            return f"{place}"  # the store's database, beside which it is written
        if (held := _records_holding(place)) is not None:
            outer, parts = held
            return f"{outer / parts[0] / parts[1]}"
    return None


def _records_holding(path: Path) -> tuple[Path, tuple[str, ...]] | None:
    """The innermost run store above the file ``path`` (absolute, its folder resolved) in whose
    records (``runs/``, ``checkpoints/``, ``sweeps/``) it lies, and ``path``'s parts below that
    store (two or more: ``("runs", "3fa9c01b2e", "weights.safetensors")``); None where it lies in
    none. Every store above counts: one made inside another's records (an older version's, a
    copy's) does not hide the outer one (helper-156)."""
    from mnistlab.live import PLAN_DIR  # late: both modules build on this one

    for outer in path.parents:
        if (outer / DB_FILE).is_file():
            parts = path.relative_to(outer).parts
            if len(parts) > 1 and parts[0] in ("runs", CHECKPOINT_DIR, PLAN_DIR):
                return outer, parts
    return None


def _new_store_inside(root: Path) -> Path | None:
    """The run store in whose records a new store at ``root`` would lie (:func:`_records_holding`
    of its database; a store made at ``root`` meanwhile, by another process, is none), or None."""
    try:
        db = root.expanduser().resolve() / DB_FILE
    except (OSError, RuntimeError):
        return None
    return held[0] if (held := _records_holding(db)) is not None else None


_RUN_ID = "[0-9a-f]{10}"  # a run id (new_run_id), and so the name of its folder under runs/
#: how a reindex's ``failed`` message ends where it found a result's metrics.json gone (a copy cut
#: short): a later reindex reads such a folder again, and takes its result once it is whole
METRICS_GONE = ", but its metrics.json was gone when the store was reindexed"


def cut_short(status: str, message: str | None) -> bool:
    """Whether a row of ``status`` and ``message`` is a result a reindex marked failed for its
    metrics.json gone (:data:`METRICS_GONE`): a copy cut short, whole again once the rest comes."""
    return status == "failed" and str(message or "").endswith(METRICS_GONE)


CUT_SHORT = ("indexed as failed: its metrics.json is missing (a copy cut short?): copy the folder whole, then reindex "
             "again, which takes its result")


def run_folders(runs: Path) -> list[Path]:
    """The entries of a store's ``runs/`` folder named like runs (folders, links or stray files
    alike; the callers tell them apart), in name order; none where there is no such folder."""
    try:
        return sorted(f for f in runs.iterdir() if re.fullmatch(_RUN_ID, f.name))
    except (FileNotFoundError, NotADirectoryError):
        return []


def new_run_id() -> str:
    """A short random id (10 hex digits); listings sort by ``created_at``, not by id."""
    return uuid.uuid4().hex[:10]


@dataclass(frozen=True)
class Removal:
    """What :meth:`RunStore.rm` deleted: the runs' ids, how many sweep cells lost their checkpoint,
    and the committees (by name, in order) whose scores went with a member (not with an experiment)."""

    run_ids: list[str]
    checkpoints: int = 0
    committees: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reindexed:
    """What :meth:`RunStore.reindex` did: the runs it added to the database (ids), how many
    committee records, the run folders and files it could not read (name, why), where it moved a
    damaged database (None: there was none), the runs the database lists whose folder is gone,
    how many runs it marked ``interrupted`` (their process had ended; on another host, their folder
    not written lately: :func:`_training_elsewhere`), and how many rows it brought up to date from
    their folders."""

    added: list[str]
    committees: int
    skipped: list[tuple[str, str]]
    kept_aside: Path | None
    without_folder: list[str]
    interrupted: int
    updated: int = 0  # rows of runs that had ended without the database hearing, now as their folders say
    records: int = 0  # record.json files that still said running of runs the database says ended, now as it says
    unread_committees: int = 0  # of ``skipped``, committee files (a committee is scored again from its members)
    #: runs added or brought up to date whose folder is not whole, as (folder, why): a result's
    #: metrics.json gone (indexed as failed until a reindex finds it whole), a finished run's weights
    #: or predictions gone or cut short (helper-227: a half-copied run, indexed without a word)
    incomplete: list[tuple[str, str]] = field(default_factory=list)
    strays: list[tuple[str, str]] = field(default_factory=list)  # :func:`stray_folders`: runs no reindex takes in
    #: runs added or brought up to date still ``running`` on another host (:func:`_training_elsewhere`:
    #: their folders written lately), left running
    elsewhere: int = 0


# ---------------------------------------------------------------------------------- the store
class RunStore:
    """The run store at ``root`` (created on first use): by default ``$MNISTLAB_STORE``, else
    ``./mnistlab-runs`` (:func:`default_root`). See the module docstring for its layout."""

    _reindexing = False  # True only in _NewIndex: a new database may be made over recorded runs
    _db_name = DB_FILE  # the database's file name in ``root`` (_NewIndex builds one under another)
    _db_id: tuple[int, int] | None = None  # the (device, inode) of the file the connection opened

    def __init__(self, root: str | os.PathLike | None = None, *, create: bool = True) -> None:
        """Open the store at ``root``; ``create=False`` (for commands that only read) refuses to
        make a new, empty store where a mistyped path points."""
        self._ended_unsaid: set[str] = set()  # runs whose process ended, not yet written so (note_stale)
        self._said_unusable: set[str] = set()  # finished runs whose files are gone, said once (_no_result)
        self.root = Path(root) if root is not None else default_root()
        self.check_root(self.root, new_store=create)  # (a reading command makes no store, inside another or not)
        self.db_path = self.root / self._db_name
        if self.db_path.exists() and not self.db_path.is_file():
            raise StoreError(f"{self.db_path}: not a file (the run store's database)")
        self._refuse_lost_database()
        if not create and not self.db_path.is_file():
            raise NotRecorded(f"no run store at {self.root} (runs are recorded by `mnistlab run`, `train` and "
                             "`search`; --store or MNISTLAB_STORE point elsewhere)")
        # A reading command on a store it cannot write (a read-only disk or mount, another user's
        # files) opens it read-only: listing and comparing work; a write says the store is read-only.
        self.read_only = not create and not (os.access(self.root, os.W_OK) and os.access(self.db_path, os.W_OK))
        if not self.read_only:
            try:
                (self.root / "runs").mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{self.root}: cannot create the run store: {exc.strerror or exc}") from None
        self._con: sqlite3.Connection | None = None
        with self._errors("open"):
            self._open()

    @staticmethod
    def check_root(root: Path, *, new_store: bool = True) -> None:
        """StoreError where no run store can be at ``root``: a file; a link to a folder since removed
        (helper-162: "cannot create the run store: File exists"); with ``new_store``, a new store
        inside another's records (helper-156: `--store s1/runs` made one in s1's). Nothing is made
        (`run --dry-run` checks a path so)."""
        if root.exists() and not root.is_dir():
            raise StoreError(f"{root}: the run store must be a folder, but this is a file")
        if root.is_symlink() and not root.exists():
            raise StoreError(f"{root}: a link to a folder that is gone ({os.readlink(root)}): make that folder, or "
                             "give the store another path")
        if new_store and not (root / DB_FILE).exists() and (outer := _new_store_inside(root)):
            raise StoreError(f"{root}: a new run store here would be inside the records of the one at {outer}: give "
                             "that store's folder, or one outside it")

    def __repr__(self) -> str:
        """``RunStore('/abs/path/mnistlab-runs')``: where it is (counting its runs would read the database)."""
        return f"RunStore({str(self.root.resolve())!r}{', read-only' if self.read_only else ''})"

    # -- connection ------------------------------------------------------------------------

    def _refuse_lost_database(self, *, empty: bool = False) -> None:
        """StoreError when ``runs/`` holds recorded runs but the database is missing or empty
        (``empty``: known to hold no tables): a new, empty database there would hide them (and a
        rerun would train them again)."""
        wal = self.db_path.with_name(DB_FILE + "-wal")
        if self._reindexing:
            return
        empty = empty or not self.db_path.exists() or (self.db_path.is_file() and self.db_path.stat().st_size == 0
                                                       and not (wal.is_file() and wal.stat().st_size))
        if not empty:
            return
        folders = list(run_folders(self.root / "runs"))
        if not (kept := sum((f / "config.json").exists() for f in folders)):
            return
        fix = (f"restore it, or rebuild it from the run folders with `mnistlab reindex --store {shell_word(self.root)}`"
               if any((f / RECORD_FILE).exists() for f in folders) else f"none of its run folders holds a {RECORD_FILE} "
               "to rebuild it from (they were recorded before stores kept one, and the store was not opened since), "
               "so restore the database from a copy")  # (helper-217: a reindex that cannot help was advised)
        raise LostDatabase(f"{self.db_path}: empty or missing, but {self.root / 'runs'} holds {kept} recorded "
                           f"run(s): the database was lost (a truncated copy?); {fix}")

    @classmethod
    def to_record(cls, root: str | os.PathLike | None = None) -> RunStore:
        """The store at ``root`` for `mnistlab run` (default :func:`default_root`): made where none is;
        one there that cannot be written (a read-only disk, another user's files) opened read-only,
        as for a reading command, so that a finished experiment's table can still be shown."""
        folder = Path(root) if root is not None else default_root()
        return cls(folder, create=not (folder / DB_FILE).is_file())  # (one that can be written opens as create does)

    @classmethod
    def opened_for_a_sweep(cls, root: str | os.PathLike) -> RunStore:
        """The store at ``root`` for a sweep to record in; where its database was lost meanwhile
        (deleted, emptied) while its run folders hold the recorded runs, or damaged (a truncated
        copy: kept aside), rebuilt from them first (:meth:`reindex`), with a ReportWarning: the
        sweep goes on (helper-124: it stopped after the cell, its other cells untrained, until the
        user ran `mnistlab reindex`)."""
        import warnings

        from mnistlab.errors import ReportWarning, user_level

        try:
            return cls(root)
        except LostDatabase:
            cls.reindex(root)
            warnings.warn(f"{Path(root) / DB_FILE} was lost while the sweep ran: rebuilt from the run folders (as "
                          "`mnistlab reindex` does), and the sweep goes on", ReportWarning, stacklevel=user_level())
            return cls(root)
        except StoreError:  # helper-156: overwritten by a truncated copy (another store's), it stopped the sweep
            if database_state(Path(root) / DB_FILE) != "damaged":
                raise
            done = cls.reindex(root)
            aside = f"kept aside as {done.kept_aside.name}, " if done.kept_aside else ""  # (another reindex's, else)
            warnings.warn(f"{Path(root) / DB_FILE} was damaged while the sweep ran: {aside}rebuilt from the run "
                          "folders (as `mnistlab reindex` does), and the sweep goes on", ReportWarning,
                          stacklevel=user_level())
            return cls(root)

    def rebuilt_if_lost(self) -> str | None:
        """After a run's end was written: where this store's database was damaged or lost meanwhile
        (overwritten by a truncated copy, which may take the write unhurt, or deleted), rebuild it
        from the run folders (:meth:`reindex`, the damaged file kept aside) and say so, one line;
        None when it reads whole (SQLite's quick_check: milliseconds for thousands of runs). StoreError
        where it cannot be judged (locked, of a newer mnistlab)."""
        state = database_state(self.root / DB_FILE)  # (as reindex judges it: a crash's journal is no damage)
        if state == "ok":
            return None
        done = type(self).reindex(self.root)
        aside = f", the damaged file kept aside as {done.kept_aside.name}" if done.kept_aside else ""
        return (f"{self.root / DB_FILE} was {'lost' if state == 'missing' else 'damaged'} while the run trained: "
                f"rebuilt from the run folders (as `mnistlab reindex` does){aside}")

    def _open(self) -> None:
        if self.read_only:
            self._open_read_only()
            return
        con = sqlite3.connect(self.db_path, timeout=60, isolation_level=None)
        self._con = con
        self._db_id = _file_id(self.db_path)
        con.execute("PRAGMA busy_timeout = 60000")
        mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # e.g. a network file system: still correct, just slower
            con.execute("PRAGMA journal_mode = DELETE")
        con.execute("PRAGMA synchronous = NORMAL")
        self._refuse_foreign(con)
        aside = None
        if (older := self._older_schema(con)) is not None:
            aside = self._kept_before_upgrade(con, older)
        with self._write() as c:
            self._ensure_schema(c, upto=5)
        if self._version(con) == 5:  # the files of the rows recorded before (_migrate_5_to_6), outside the
            with self._errors("write the run folders' records"):  # write lock, and before the version says 6:
                _keep_files_of_rows(con, self.root)  # an open cut short writes the rest next time
            with self._write() as c:
                self._ensure_schema(c)
        if aside is not None:  # (said once it is done: an upgrade that failed said nothing of one)
            warnings.warn(f"{self.db_path}: upgraded from schema {older}, an older mnistlab's, to {SCHEMA_VERSION}: "
                          f"mnistlab versions before this one no longer open it (the file as it was is kept as "
                          f"{aside.name})", StoreWarning, stacklevel=user_level())

    def _refuse_foreign(self, con: sqlite3.Connection) -> None:
        """StoreError (the connection closed) for a database holding triggers or views, or a run whose
        id is not 10 hex digits: mnistlab makes none, and a crafted or copied store's would run with
        every write (helper-188: a trigger deleted the other runs' rows as a run was recorded) or name
        a folder outside ``runs/`` (an id ``../../x``)."""
        try:
            odd = [f"{kind} {name}" for kind, name in con.execute(
                "SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view')")]
        except sqlite3.DatabaseError:  # damaged: said as such where it is read
            return
        try:  # a run's id names its folder: one like "../../x" would reach outside runs/ (helper-188)
            odd += [f"a run id {printable(str(r))!r}" for (r,) in con.execute(
                "SELECT run_id FROM runs WHERE length(run_id) != 10 OR run_id GLOB '*[^0-9a-f]*' LIMIT 1")]
        except sqlite3.DatabaseError:  # no runs table yet: a new database
            pass
        if odd:
            self.close()
            raise StoreError(f"{self.db_path}: holds {', '.join(odd[:3])}{' ...' * (len(odd) > 3)}, which mnistlab never "
                             "makes (a crafted or edited database?): not opened; `mnistlab reindex` builds a clean one "
                             "from the run folders once this file is moved aside")

    def _older_schema(self, con: sqlite3.Connection) -> int | None:
        """The schema version of a database written by an older mnistlab (one this opening will
        upgrade), else None (current, new, or not a store: :meth:`_ensure_schema` says which)."""
        try:
            row = con.execute("SELECT version FROM schema_version").fetchone()
        except sqlite3.Error:  # no such table: a new database, or another program's
            return None
        return row[0] if row is not None and isinstance(row[0], int) and row[0] < SCHEMA_VERSION else None

    def _kept_before_upgrade(self, con: sqlite3.Connection, older: int) -> Path:
        """Before a database of schema ``older`` is upgraded: refuse (StoreError, the connection
        closed) while a process of this host still trains one of its runs (an older mnistlab's
        sweep, which the upgrade would stop at its next write: helper-183), else copy it aside,
        whole or not at all (``runs.sqlite.schemaN``, which that version still opens; a new name where
        an earlier upgrade's copy is there: helper-186), and return where."""
        if older >= 2:  # (schema 1 kept no pid)
            host = socket.gethostname()
            live = [(r, p) for r, p, t in _running_here(con) if p and p != os.getpid() and run_alive(r, p, host, t)]
            if live:
                self.close()
                raise StoreError(f"{self.db_path}: recorded by an older mnistlab (schema {older}) whose run {live[0][0]} "
                                 f"is training now (process {live[0][1]}): upgrading the store to this mnistlab's schema "
                                 f"({SCHEMA_VERSION}) would stop it; run this again once it has ended")
        aside = self.db_path.with_name(f"{self.db_path.name}.schema{older}")
        if aside.exists():
            aside = aside.with_name(f"{aside.name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}")
        part = aside.with_name(aside.name + ".part")
        try:
            with self._errors("keep a copy of the database before upgrading it"), closing(sqlite3.connect(part)) as copy:
                con.backup(copy)
            os.replace(part, aside)
        except OSError as exc:  # (a full disk, a folder that cannot be written)
            self._not_kept(part)
            raise StoreError(f"{self.db_path}: cannot keep a copy of it before upgrading it ({exc.strerror or exc}): "
                             "not upgraded") from None
        except BaseException:
            self._not_kept(part)
            raise
        return aside

    def _not_kept(self, part: Path) -> None:
        """A copy of the database that could not be made whole: removed, the connection closed."""
        with suppress(OSError):
            part.unlink()
        self.close()

    def _open_read_only(self) -> None:
        """SQLite's read-only mode; ``immutable`` where even that needs to write (a WAL store on a
        read-only disk, whose -shm file cannot be made). The schema must be current: a read-only
        store cannot be migrated."""
        self._db_id = _file_id(self.db_path)
        self._con = con = _connect_read_only(self.db_path.resolve())
        self._refuse_foreign(con)
        if self._version(con) != SCHEMA_VERSION:
            raise StoreError(f"{self.db_path}: the store is read-only and its schema ({self._version(con)}) is not "
                             f"this mnistlab's ({SCHEMA_VERSION}): open it once where it can be written")

    def _ensure_schema(self, con: sqlite3.Connection, upto: int = SCHEMA_VERSION) -> None:
        """Create or migrate the tables to version ``upto``."""
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "schema_version" not in tables:
            if tables:
                raise StoreError(f"{self.db_path}: an SQLite file, but not a mnistlab run store")
            self._refuse_lost_database(empty=True)  # no new database over recorded runs
            con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            for stmt in _SCHEMA_V1.strip().split(";"):
                if stmt.strip():
                    con.execute(stmt)
            con.execute("INSERT INTO schema_version VALUES (1)")
        version = self._version(con)
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.db_path}: written by a newer mnistlab (schema {version} > {SCHEMA_VERSION}); "
                             "upgrade mnistlab")
        while version < upto:
            MIGRATIONS[version](con)
            version += 1
            con.execute("UPDATE schema_version SET version = ?", (version,))

    def _version(self, con: sqlite3.Connection) -> int:
        row = con.execute("SELECT version FROM schema_version").fetchone()
        if row is None or not isinstance(row[0], int):
            raise StoreError(f"{self.db_path}: the schema version is missing or damaged (the file was damaged or "
                             f"replaced?): `mnistlab reindex --store {shell_word(self.root)}` rebuilds it from the run folders "
                             "(keeping this file aside)")  # (helper-158: no way out was said)
        return row[0]

    @property
    def schema_version(self) -> int:
        """The database's schema version (:data:`SCHEMA_VERSION` once opened: older ones are migrated)."""
        with self._errors("read"):
            return self._version(self._conn)

    @property
    def _conn(self) -> sqlite3.Connection:
        """The open connection, to the database now in place (:meth:`_follow_rebuild`): a sweep's
        driver reads what its workers record in a database `mnistlab reindex` rebuilt meanwhile."""
        if self._con is None:
            raise StoreError(f"{self.db_path}: the store is closed")
        self._follow_rebuild()
        return self._con  # (reopened by _follow_rebuild if replaced)

    def close(self) -> None:
        """Close the database connection (also done when the object is collected)."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _follow_rebuild(self) -> None:
        """Reopen the database when `mnistlab reindex` has put a new one in its place meanwhile: a
        process training a run then records the run's end in the store's index, not in the file
        the rebuild replaced (unlinked, or moved aside as damaged)."""
        if self._con is None or self._con.in_transaction:  # never from under a transaction (its own file to the end)
            return
        now = _file_id(self.db_path)
        if None not in (now, self._db_id) and now != self._db_id:
            self.close()
            self._open()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, whole or not at all. BEGIN IMMEDIATE takes the write lock up
        front, so two writers wait instead of failing (a Ctrl-C still stops the wait). From then
        on to the commit, Ctrl-C and SIGTERM are held back (:func:`~mnistlab.files.stop_signals_held`):
        a stop that came between the last statement and COMMIT would leave the transaction open,
        the lock held against every other process, and this connection's next write (the stopped
        run's own record) refused as "within a transaction". A stop while BEGIN waits, or before the
        signals are held, rolls the transaction back; one left open all the same is rolled back
        before the next write begins."""
        con = self._conn  # (the database now in place)
        if con.in_transaction:
            con.execute("ROLLBACK")
        try:
            con.execute("BEGIN IMMEDIATE")  # a Ctrl-C in the wait comes once it returns, and rolls it back below
            with stop_signals_held():
                yield con
                con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:  # stopped, the body failed, or COMMIT did (a full disk): nothing of it stays
                con.execute("ROLLBACK")
            raise

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as exc:
            msg = str(exc)
            if self.read_only and "readonly" in msg.replace("-", "").replace(" ", ""):
                msg = "the store is read-only here (its folder or runs.sqlite cannot be written)"
            elif "not a database" in msg or "malformed" in msg or "disk image" in msg:
                msg = ("not a mnistlab run store (the file is damaged or not SQLite): `mnistlab reindex --store "
                       f"{self.root}` rebuilds it from the run folders (keeping this file aside), or use another --store")
            elif "disk i/o error" in msg.lower() or "disk is full" in msg.lower():  # SQLite's words for a full disk
                msg += " (is the disk full? free some space on it and try again)"
            raise StoreError(f"{self.db_path}: cannot {what}: {msg if self.read_only else self._unwritable(msg)}"
                             ) from None  # (read-only, opened so: said above already)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.db_path}: cannot {what}: {self._unwritable(str(exc))}") from None

    def _unwritable(self, msg: str) -> str:
        """SQLite's ``msg``, with why where the store cannot be written here (helper-156: "unable to
        open database file" of a read-only mount said nothing of it)."""
        if any(w in msg for w in ("unable to open", "readonly", "read-only")) and not (
                os.access(self.root, os.W_OK) and (not self.db_path.exists() or os.access(self.db_path, os.W_OK))):
            return f"{msg} (the store's folder or runs.sqlite cannot be written here: a read-only disk or folder?)"
        return msg

    # -- writing -----------------------------------------------------------------------------
    def start_run(self, *, experiment: str, variant: str, seed: int, member: int, config: dict[str, Any],
                  config_hash: str, repeat: int = 0, env: dict[str, Any] | None = None) -> str:
        """Record a run as ``running`` and return its new id (its artifact folder exists)."""
        rec = _running(new_run_id(), experiment, variant, seed, member, config, config_hash, repeat, env)
        self._new_folder(rec)
        try:
            with self._errors("record the run"), self._write() as con:
                _insert(con, rec)
        except BaseException:  # no row: no folder either (helper-255: a full disk left one no command could see)
            shutil.rmtree(self.artifact_dir(rec.run_id, must_exist=False), ignore_errors=True)
            raise
        _keep_record(self.root, rec)
        return rec.run_id

    def _new_folder(self, rec: RunRecord) -> None:
        """The new run's folder with its config; StoreError (nothing left behind) where it cannot be
        written (helper-250: a bare "Permission denied", exit 1, and on a full disk half-made folders)."""
        folder = self.artifact_dir(rec.run_id, must_exist=False)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _write_json(folder / "config.json", rec.config)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            why = exc.strerror or str(exc)
            hint = (" (is the disk full? free some space on it and try again)" if exc.errno == errno.ENOSPC else
                    " (the store's runs folder cannot be written here: another user's, or a read-only disk?)")
            raise StoreError(f"{folder}: cannot start the run's folder: {why}{hint}") from None

    def claim_run(self, *, experiment: str, variant: str, seed: int, member: int, config: dict[str, Any],
                  config_hash: str, repeat: int = 0, done: tuple[str, ...] = (),
                  env: dict[str, Any] | None = None, whole: bool = False) -> tuple[str, bool]:
        """Start a run unless another holds its cell; returns ``(run_id, claimed)``; ``env``: what the
        new run's record holds of it while it runs (its experiment file); ``whole``: a finished run
        whose files are gone or damaged holds no cell (:meth:`find_finished`).

        In one write transaction (so two drivers on one store never both start a cell): if a run of
        this experiment, variant and config hash is ``running`` in a live process (:func:`run_alive`;
        another host: assumed alive) or has a status in ``done``, that run's id and
        False; else a new ``running`` run, as :meth:`start_run`, and True. A claim lasts as long as
        the process that made it: a killed driver's cells are free again.
        """
        made: list[str] = []  # the new run's id once its folder is made: gone again if the claim does not commit
        try:
            return self._claim(experiment, variant, seed, member, config, config_hash, repeat, done, env, whole, made)
        except BaseException:  # (helper-255: a full disk at the commit left a "running" folder a reindex took in)
            for run_id in made:
                shutil.rmtree(self.artifact_dir(run_id, must_exist=False), ignore_errors=True)
            raise

    def _claim(self, experiment: str, variant: str, seed: int, member: int, config: dict[str, Any], config_hash: str,
               repeat: int, done: tuple[str, ...], env: dict[str, Any] | None, whole: bool,
               made: list[str]) -> tuple[str, bool]:
        """:meth:`claim_run`'s transaction; ``made`` gets the id of a new run whose folder it made."""
        with self._errors("record the run"), self._write() as con:
            rows = con.execute("SELECT run_id, status, pid, host, created_at FROM runs WHERE experiment = ? AND variant = ?"
                               " AND config_hash = ? AND (status = 'running' OR status IN"
                               f" ({', '.join('?' * len(done)) or 'NULL'})) ORDER BY created_at DESC",
                               (experiment, variant, config_hash, *done)).fetchall()
            for run_id, status, pid, run_host, created in rows:
                if whole and status == "finished" and self._no_result(run_id):  # (helper-250: skipped as done)
                    continue
                if status != "running" or run_alive(run_id, pid, run_host, created):
                    return run_id, False
            rec = _running(new_run_id(), experiment, variant, seed, member, config, config_hash, repeat, env)
            _insert(con, rec)
            try:  # the folder before the commit: an `rm` (which waits for this lock) never finds the row alone
                made.append(rec.run_id)
                self._new_folder(rec)
                _keep_record(self.root, rec)
            except BaseException:
                shutil.rmtree(self.artifact_dir(rec.run_id, must_exist=False), ignore_errors=True)
                raise
        return rec.run_id, True

    def finish_run(self, run_id: str, *, status: str, history: list[dict[str, Any]], metrics: dict[str, Any],
                   env: dict[str, Any], message: str = "", weights: dict[str, Any] | None = None,
                   predictions: np.ndarray | None = None, config: dict[str, Any] | None = None,
                   files: bool = True) -> str | None:
        """Write a run's artifacts, then mark it ``status`` (one of the final statuses); with
        ``files=False``, only the database row (marking a run failed whose files were written).
        Raises StoreError for a run deleted meanwhile (its folder is gone: nothing is written).
        Returns None, or why its files could not be written (a full disk, naming the file): the run
        is then recorded ``failed``, its metrics kept in the database row, and that is its message.

        ``config`` replaces the recorded config with what the run resolved from its data (a
        Normalization's adapted mean and variance); the run keeps its ``config_hash``, the key of
        the config as it was written, so an experiment still finds it.
        """
        if status not in FINAL_STATUSES:
            raise StoreError(f'unknown final status "{status}"; expected one of {", ".join(FINAL_STATUSES)}')
        ended, problem = time.time(), None
        folder = self.artifact_dir(run_id, must_exist=False)
        if files and not folder.is_dir():  # not made again: a folder without its record would come back
            raise StoreError(f"run {run_id} was deleted while it ran (`mnistlab rm`, or its folder removed): "
                             "its result is not recorded")
        if files:
            problem = _write_artifacts(folder, history, metrics, weights, predictions, config)
            if problem:  # a full disk, say: the numbers still go into the database row below; only the
                # files are missing, and the status says so (figures that need weights will not work)
                status, message = "failed", f"metrics recorded, but the run's files could not be written: {problem}"
            self._keep_final_record(run_id, status=status, env=env, message=message, finished_at=ended)
        with self._errors("record the run"), self._write() as con:
            cur = con.execute(
                "UPDATE runs SET status = ?, history = ?, metrics = ?, env = ?, message = ?, finished_at = ?,"
                " config = COALESCE(?, config) WHERE run_id = ?",
                (status, _dumps(history), _dumps(metrics), _dumps(env), message, ended,
                 None if config is None else _dumps(config), run_id),
            )
            if cur.rowcount != 1:  # started while a rebuilt database was being built: its folder has its row
                try:
                    if not files:
                        raise StoreError("no files written")
                    kept = _folder_record(folder)  # its start, as the folder has it; its end, as given here
                    _insert_row(con, RunRecord(**{**kept.__dict__, "status": status, "history": history,
                                                  "metrics": metrics, "env": env, "message": message,
                                                  "finished_at": ended, "config": config or kept.config}))
                except StoreError:
                    raise StoreError(f'no run "{run_id}" in {self.root}') from None
        try:  # the ended run into the database file itself, not only its write-ahead log: a copy of
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # runs.sqlite made after a kill -9 has it
        except sqlite3.Error:  # readers hold the log: it is folded in later
            pass
        return problem

    def _keep_final_record(self, run_id: str, **final: Any) -> None:
        """Update the run's ``RECORD_FILE`` with how it ended (``final``: status, env, message,
        finished_at), from the file its start wrote, or the database's row for a run started
        before stores kept one. Best effort, after its artifacts: the database gets the same, and
        a run whose file still says running is rebuilt as interrupted."""
        try:
            try:
                rec = _folder_record(self.root / "runs" / run_id, row_only=True)
            except StoreError:
                rec = self.get(run_id)
            _keep_record(self.root, RunRecord(**{**rec.__dict__, **final}))
        except (OSError, StoreError):
            pass

    def record_again(self, source: RunRecord, *, variant: str, seed: int, member: int, repeat: int,
                     done: tuple[str, ...] = ("finished", "diverged"),
                     metrics: Mapping[str, Any] | None = None, env: Mapping[str, Any] | None = None) -> RunRecord:
        """Record ``source``, an ended run, again as a run of ``variant`` of its experiment: a cell of
        the same config and seed (the same ``config_hash``) would train to the same result, so it is
        not trained twice. The new run has the source's config, history, metrics and status; its
        files are the source's (hard links where the file system allows, else copies; a committee's
        record stays with its own members); ``env["same_run_as"]`` (the run that trained) and its
        message name the source; ``metrics`` replace those of the source's metrics they name (a
        search trial's number), and ``env`` those of its env (the experiment file and command that
        asked for this run; a None value drops the key). Deleting either run leaves the other whole.

        The cell is claimed as :meth:`claim_run` claims it: where it already has a run that is
        running in a live process or has a status in ``done`` (another `mnistlab run` on this
        store recorded it meanwhile), that run is returned and nothing is recorded. Raises
        StoreError, recording nothing, when the source's files cannot be read (its folder deleted);
        and when they cannot be copied (the new run is then recorded failed)."""
        src = self.artifact_dir(source.run_id)
        written = (RECORD_FILE, PROGRESS_FILE, "config.json", "history.json", "metrics.json")  # by the claim, finish_run
        try:
            files = [f for f in sorted(src.iterdir()) if f.is_file() and f.name not in written
                     and not f.name.startswith("committee-")]
        except OSError as exc:
            raise StoreError(f"run {source.run_id}'s files cannot be read: {exc.strerror or first_line(exc)}") from None
        run_id, claimed = self.claim_run(experiment=source.experiment, variant=variant, seed=seed, member=member,
                                         config=source.config, config_hash=source.config_hash, repeat=repeat, done=done)
        if not claimed:
            return self.get(run_id)
        trained = source.env.get("same_run_as", source.run_id)  # the run that trained, not a copy of it
        try:
            for f in files:
                _link_or_copy(f, self.artifact_dir(run_id) / f.name)
        except OSError as exc:
            why = f"could not copy run {source.run_id}'s files: {exc.strerror or first_line(exc)}"
            self.finish_run(run_id, status="failed", history=[], metrics={}, env={}, message=why, files=False)
            raise StoreError(f"run {run_id}: {why}") from None
        self.finish_run(run_id, status=source.status, history=source.history, metrics={**source.metrics, **(metrics or {})},
                        env={k: v for k, v in {**source.env, **(env or {}), "same_run_as": trained}.items()
                             if v is not None or k not in (env or {})},  # (a None of the source's own stays)
                        message=f'the same config and seed as run {trained}: its result, recorded again, not trained twice')
        return self.get(run_id)

    def record_progress(self, run_id: str, history: list[dict[str, Any]]) -> None:
        """Replace a ``running`` run's history with the epochs done so far (a small write every
        few seconds, read by the live view and `mnistlab watch`); a run no longer running is left alone."""
        with self._errors("record progress"), self._write() as con:
            cur = con.execute("UPDATE runs SET history = ? WHERE run_id = ? AND status = 'running'",
                              (_dumps(history), run_id))
        if cur.rowcount == 1:  # and in the folder, for `reindex` (history.json, once written, comes first)
            try:
                _write_json(self.root / "runs" / run_id / PROGRESS_FILE, history)
            except OSError:  # the database has it; a full disk stops the run at its next artifact
                pass

    def mark_queued(self, run_ids: Sequence[str], queued: bool = True) -> None:
        """Say that ``running`` runs a Ray driver sent wait for a worker (``queued``: their message
        becomes :data:`QUEUED`), or that their worker began (the message is cleared). A run no
        longer running is left alone."""
        with self._errors("update"), self._write() as con:
            con.executemany("UPDATE runs SET message = ? WHERE run_id = ? AND status = 'running'",
                            [(QUEUED if queued else "", rid) for rid in run_ids])

    def mark_stale(self) -> int:
        """Mark ``running`` rows of dead processes on this host as ``interrupted``, in the database and
        in each run's ``record.json`` (helper-123: a ``kill -9``'s run stayed "running" there, what a
        rebuild reads); returns how many. Where that cannot be written (a full disk: StoreError), this
        store's reads give them as interrupted all the same (:meth:`note_stale`)."""
        dead = self.note_stale()
        if dead:
            with self._errors("update"), self._write() as con:
                con.executemany("UPDATE runs SET status = 'interrupted', message = ?, finished_at = ? "
                                "WHERE run_id = ? AND status = 'running'", [(ENDED, time.time(), r) for r in dead])
            self._ended_unsaid.difference_update(dead)
            for rid in dead:
                with suppress(OSError, StoreError):  # its folder gone or unwritable: the row says it
                    _keep_record(self.root, self.get(rid))
        return len(dead)

    def note_stale(self) -> list[str]:
        """The ids of the ``running`` rows whose process of this host has ended (:func:`run_alive`),
        which this store's reads (:meth:`runs`, :meth:`get`, :meth:`find_finished`) give as
        ``interrupted`` from now on, written or not: a store that cannot be written (read-only, a full
        disk) shows no dead run as training (helper-189: "1 more run training now", a process long gone)."""
        host = socket.gethostname()
        with self._errors("read"):
            rows = _running_here(self._conn)
        dead = [r for r, p, t in rows if not run_alive(r, p, host, t)]
        self._ended_unsaid.update(dead)
        return dead

    def _as_known(self, rec: RunRecord) -> RunRecord:
        """``rec`` as :meth:`note_stale` knows it: a run whose process ended, ``interrupted``."""
        if rec.status == "running" and rec.run_id in self._ended_unsaid:
            return replace(rec, status="interrupted", message=ENDED)
        return rec

    @classmethod
    def reindex(cls, root: str | os.PathLike | None = None) -> Reindexed:
        """Rebuild the store's database from its run folders: the way back from a lost or damaged
        ``runs.sqlite``, and the way to index run folders copied in from another store.

        Every folder under ``runs/`` that the database lacks is added from its ``record.json``,
        ``config.json``, ``history.json`` and ``metrics.json``; committee records from their files.
        A new database, where the old one is damaged (SQLite cannot read it whole, or it is not a
        run store) or missing, is built under a temporary name and put in place only once whole;
        only then is a damaged one moved aside to ``runs.sqlite.damaged-<time>``, never deleted.
        So a rebuild cut short leaves the store as it found it; a second pass then takes in the
        runs that started or ended while it was built. An intact database keeps its rows and only
        gains the folders it lacks. Added runs that were ``running`` in a process that has ended are marked
        ``interrupted``. A result whose ``metrics.json`` is gone (a copy cut short) is indexed as
        ``failed`` and said (:attr:`Reindexed.incomplete`, with finished runs whose weights are gone or
        cut short); a later reindex that finds the folder whole takes its result. Folders that hold
        runs where no reindex looks are said too (:attr:`Reindexed.strays`). A folder that cannot be read (no
        ``record.json``: a run recorded before mnistlab kept one, or a folder cut short) is skipped
        and reported. Raises NotRecorded when there is no ``runs/`` folder, StoreError for a
        database of a newer mnistlab.
        """
        root = Path(root) if root is not None else default_root()
        if root.exists() and not root.is_dir():  # said as every other command says it (helper-123)
            raise StoreError(f"{root}: the run store must be a folder, but this is a file")
        if not (root / "runs").is_dir():
            raise NotRecorded(f"{root}: no run folders to index (no {root / 'runs'} folder)")
        db = Path(os.path.realpath(root / DB_FILE))  # a link's target (the database kept on another disk), its logs beside it
        state = database_state(db)  # a damaged one stays in place while the new one is built (helper-156: a
        built = _NewIndex.build(root, db, damaged=state == "damaged") if state in ("damaged", "missing") else None
        with cls(root) as store:  # Ctrl-C left no database) an intact database, or the new one (or another
            done = store._reindexed()  # reindex's); after a build: the runs that started or ended meanwhile
        if built is None:
            return done
        if state == "missing" and not built.added and not done.added and done.skipped:
            _unmade(db)  # an empty database would hide the runs it lost (helper-183: `runs` then said "no runs")
            n = len(done.skipped)
            raise StoreError(f"{root / DB_FILE}: not rebuilt: none of the {n} run folder{'s' * (n != 1)} can be read "
                             f"without it ({done.skipped[0][0]}: {done.skipped[0][1]}); it is still missing, and every "
                             "command says so (`mnistlab reindex --check` lists each folder; moved out of runs/, they "
                             "leave an empty store)")
        return Reindexed(built.added + done.added, built.committees + done.committees, done.skipped, built.kept_aside,
                         done.without_folder, built.interrupted + done.interrupted, built.updated + done.updated,
                         built.records + done.records, done.unread_committees,
                         list(dict.fromkeys([*built.incomplete, *done.incomplete])), done.strays,
                         built.elsewhere + done.elsewhere)  # (the second pass
        # reads the first one's rows: a folder said once, review)

    def _records_brought_up_to_date(self, ended: Sequence[str]) -> int:
        """Rewrite the ``record.json`` of runs ``ended`` (ids) whose row has ended while their record
        still says ``running``: an older mnistlab finished the run in the database only, after this
        one had written its record (helper-183: `reindex` left it, `--check` kept failing, and a
        database lost later made the finished run interrupted). How many were rewritten."""
        rewritten = 0
        for rid in ended:
            try:
                kept = json.loads((self.root / "runs" / rid / RECORD_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # none (a folder cut short), or unreadable: --check says so
            if isinstance(kept, dict) and kept.get("status") == "running":
                with suppress(OSError, StoreError):
                    _keep_record(self.root, self.get(rid))
                    rewritten += 1
        return rewritten

    def _reindexed(self) -> Reindexed:
        """Index this store's run folders and committee files into its database (:meth:`reindex`,
        whose result it returns, nothing kept aside: :meth:`_NewIndex.build` says where)."""
        added, updated, skipped, salvaged = self._index_folders()
        folders_skipped = len(skipped)
        committees = self._index_committees(skipped)
        with self._errors("read"):
            ids = [r[0] for r in self._conn.execute("SELECT run_id FROM runs ORDER BY created_at")]
            over = [r[0] for r in self._conn.execute("SELECT run_id FROM runs WHERE status != 'running'")]
            cut = [r[0] for r in self._conn.execute("SELECT run_id, message FROM runs WHERE status = 'failed'")
                   if cut_short("failed", r[1])]
            finished = [r[0] for r in self._conn.execute("SELECT run_id FROM runs WHERE status = 'finished'")]
        here = socket.gethostname()
        with self._errors("read"):  # runs of another host this store ended (in this pass or a rebuild's before it)
            copied = {r[0] for r in self._conn.execute("SELECT run_id FROM runs WHERE status = 'interrupted' AND "
                                                       "message = ? AND host != ?", (ENDED, here))}
        records = self._records_brought_up_to_date([i for i in over if i not in copied])  # (a run copied in while it
        # ran elsewhere: its record stays as that machine wrote it, the row says why it counts as ended)
        gone = [i for i in ids if not (self.root / "runs" / i).is_dir()]
        ended = sum(r.status == "running" and not run_alive(r.run_id, r.pid, r.host, r.created_at) for r in added)
        ended += sum(r.status == "interrupted" and r.message == ENDED and r.host != here for r in added)  # (their
        # folders quiet: _training_elsewhere)
        elsewhere = sum(r.status == "running" and r.host != here for r in [*added, *updated])
        self.mark_stale()
        missing = set(gone)  # (said as rows without a folder) every finished run's files read, not only those
        incomplete = [*salvaged, *((f"runs/{i}", CUT_SHORT) for i in cut if i not in missing),  # added now (helper-232: a second
                      *((f"runs/{i}", why) for i in finished  # reindex went quiet)
                        if i not in missing and (why := _not_whole(self.root / "runs" / i)))]
        known = set(ids)
        return Reindexed([r.run_id for r in added], committees, skipped, None, gone, ended, len(updated), records,
                         len(skipped) - folders_skipped, incomplete, stray_folders(self.root, known), elsewhere)

    def _index_folders(self) -> tuple[list[RunRecord], list[RunRecord], list[tuple[str, str]], list[tuple[str, str]]]:
        """Add the run folders the database lacks, and bring up to date the rows of runs whose
        folder says how they ended where the database still says ``running`` (or interrupted
        because the process was gone): a backup of the database restored, one lost while the run
        trained, or a run ending as the reindex reads it (its files come a moment before its row).
        The records added, how many rows were updated, the folders skipped with why, and those indexed
        from what they have (:func:`_salvaged`) with what they lack. One write transaction: a run that
        starts meanwhile is in the database already or waits for it."""
        folders = run_folders(self.root / "runs")
        added: list[RunRecord] = []
        updated: list[RunRecord] = []
        skipped: list[tuple[str, str]] = []
        salvaged: list[tuple[str, str]] = []
        here = socket.gethostname()
        with self._errors("rebuild the index"), self._write() as con:
            rows = {r[0]: (r[1], r[2]) for r in con.execute("SELECT run_id, status, message FROM runs")}
            _settle_hidden(self.root / "runs", rows)
            for folder in folders:
                row = rows.get(folder.name)
                if row is not None and not (row[0] == "running" or row == ("interrupted", ENDED) or cut_short(*row)):
                    continue  # indexed, and ended as the database knows (helper-227: a copy cut short, whole now)
                if folder.is_symlink() or not folder.is_dir():
                    if row is None and folder.is_symlink():
                        skipped.append((f"runs/{folder.name}", "a link: copy the run's folder into the store instead"))
                    continue
                try:
                    rec = _folder_record(folder)
                except StoreError as why:
                    if (kept := _salvaged(folder)) is None:
                        if row is None and not _starting(folder):
                            skipped.append((f"runs/{folder.name}", str(why)))
                        continue
                    rec, lacks = kept
                    salvaged.append((f"runs/{folder.name}", lacks))
                elsewhere = rec.status == "running" and rec.host != here
                if row is not None:  # a row another host's run keeps is left as it is (helper-242: a quiet epoch is
                    # no end), unless a rebuild misjudged it: its folder written lately again, it runs on
                    back = elsewhere and row == ("interrupted", ENDED) and _training_elsewhere(folder, rec)
                    if (rec.status in FINAL_STATUSES or back) and (rec.status, rec.message) != row:
                        _update(con, rec)
                        updated.append(rec)
                    continue
                if elsewhere and not _training_elsewhere(folder, rec):  # copied in while it ran, or its machine
                    rec = replace(rec, status="interrupted", message=ENDED)  # stopped (review: it held its cell for
                    # good); one written lately trains on a disk shared with this host: left running (note 55)
                if _insert(con, rec, skipped):
                    added.append(rec)
        return added, updated, skipped, salvaged

    def check(self) -> tuple[int, list[tuple[str, str]]]:
        """Read every run folder and compare it with its row, changing nothing: how many runs were
        checked, and the problems found as (run folder, what is wrong), e.g. a ``record.json``
        that could not be read (that run would be lost with the database), a folder the database
        lacks, a row whose folder is gone, runs where no reindex looks (:func:`stray_folders`), a
        row and record that disagree, or a result whose
        ``metrics.json`` and row differ (one of them edited). `mnistlab reindex --check`;
        :meth:`reindex` adds what the database lacks and brings running rows up to date. The count
        is of runs in the database or in a folder."""
        rows = {r.run_id: r for r in self.runs()}
        problems = []
        names = [f.name for f in run_folders(self.root / "runs")]
        for name in sorted(set(names) | set(rows)):
            folder, row = self.root / "runs" / name, rows.get(name)
            if row is not None and not folder.is_dir():
                hidden = any((self.root / "runs").glob(f".rm-{name}-*"))
                problems.append((f"runs/{name}", "its folder was hidden by an `mnistlab rm` cut short: `mnistlab reindex` "
                                 "puts it back" if hidden else
                                 "no folder: its files were removed (`mnistlab rm` deletes the row)"))
                continue
            try:
                rec = _folder_record(folder, row_only=True)
            except StoreError as why:
                if not (row is not None and row.status == "running" and _starting(folder)):
                    problems.append((f"runs/{name}", str(why)))
                continue
            if row is None:
                problems.append((f"runs/{name}", "not in the database: `mnistlab reindex` adds it"))
                continue
            if not (row.status == "running" and _starting(folder)):
                try:  # what a rebuild reads beside the record (config, history, metrics): else the run is left out
                    _with_files(rec, folder)
                except StoreError as why:  # (its row there: the run stands, from its other files; helper-255)
                    kept = _salvaged(folder)
                    said = (f"its row holds the run; a rebuild would index it {kept[0].status} without the file; "
                            "deleting the damaged file clears this (what it held is lost either way)" if kept
                            else _rebuild_would(None))
                    problems.append((f"runs/{name}", f"{why} ({said})"))
                    continue
            if cut_short(row.status, row.message):  # (review: said "record and row disagree on status")
                problems.append((f"runs/{name}", CUT_SHORT if not (folder / "metrics.json").is_file() else
                                 "indexed as failed for a metrics.json copied in since: `mnistlab reindex` takes its result"))
                continue
            differ = [k for k in ("experiment", "variant", "seed", "member", "repeat", "config_hash", "status")
                      if getattr(rec, k) != getattr(row, k)]
            if differ and not (differ == ["status"] and row.status == "interrupted" and rec.status == "running"):
                problems.append((f"runs/{name}", "its record and its row disagree on " + ", ".join(
                    f"{k} ({getattr(rec, k)!r} in {RECORD_FILE}, {getattr(row, k)!r} in the database)"[:120]
                    for k in differ)))
            elif row.status in RESULT_STATUSES and (edited := _metrics_differ(folder, row)):
                problems.append((f"runs/{name}", edited))
            elif row.status == "finished" and (short := _not_whole(folder)):
                problems.append((f"runs/{name}", short))
        return len(set(names) | set(rows)), problems + stray_folders(self.root, set(rows))

    @staticmethod
    def check_folders(root: str | os.PathLike) -> tuple[int, list[tuple[str, str]]]:
        """Read every run folder of the store at ``root`` as :meth:`reindex` would, without its
        database (lost or damaged: `mnistlab reindex --check` then says what a rebuild would
        take in): how many folders can be read, and the others as (run folder, why not)."""
        readable, problems = 0, []
        for folder in run_folders(Path(root) / "runs"):
            if folder.is_symlink():
                problems.append((f"runs/{folder.name}", "a link: a rebuild skips it (copy the run's folder in instead)"))
                continue
            if not folder.is_dir():  # a file named like a run: no run, as reindex sees it
                continue
            try:
                _folder_record(folder)
            except StoreError as why:
                if (kept := _salvaged(folder)) is not None:
                    problems.append((f"runs/{folder.name}", f"{why} ({_rebuild_would(kept)})"))
                    readable += 1
                elif not _starting(folder):
                    problems.append((f"runs/{folder.name}", str(why)))
                continue
            readable += 1
        return readable, problems + stray_folders(Path(root))

    def _index_committees(self, skipped: list[tuple[str, str]]) -> int:
        """Add the committee records whose files the run folders hold and whose members are all in
        the database; how many were new. Unreadable files go to ``skipped``."""
        with self._errors("read"):
            known = {r[0] for r in self._conn.execute("SELECT run_id FROM runs")}
            before = self._conn.execute("SELECT COUNT(*) FROM committees").fetchone()[0]
        recs = []
        for path in sorted((self.root / "runs").glob("*/" + COMMITTEE_FILE.format("*"))):
            try:
                rec = _committee_file(path)
            except StoreError as why:
                skipped.append((str(path.relative_to(self.root)), str(why)))
                continue
            if set(rec.member_ids) <= known:  # a member deleted since: the committee went with it
                recs.append(rec)
        with self._errors("rebuild the index"), self._write() as con:
            for rec in recs:
                _insert_committee(con, rec, replace=False)
            return int(con.execute("SELECT COUNT(*) FROM committees").fetchone()[0]) - int(before)

    def save_committee(self, rec: CommitteeRecord) -> None:
        """Record the evaluation of one committee (replacing an earlier one of the same members)."""
        with self._errors("record the committee"), self._write() as con:
            _insert_committee(con, rec, replace=True)
        _keep_committee(self.root, rec)

    def committees(self, experiment: str) -> list[CommitteeRecord]:
        """The committees recorded for ``experiment``."""
        with self._errors("read"):
            rows = self._conn.execute("SELECT experiment, variant, repeat, accuracy, member_ids, member_accuracies, "
                                      "created_at, val_accuracy FROM committees WHERE experiment = ? "
                                      "ORDER BY variant, repeat", (experiment,)).fetchall()
        return [CommitteeRecord(r[0], r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5]), r[6], r[7]) for r in rows]

    def rm(self, run_ids: list[str] | None = None, *, experiment: str | None = None) -> Removal:
        """Delete runs (by id or unique prefix, or every run of ``experiment``) and their artifacts;
        returns what was deleted (:class:`Removal`: the run ids and how many sweep checkpoints).

        A committee is derived from its members, so deleting any member deletes its committee row too.
        Deleting a sweep cell's latest run deletes the cell's checkpoint (:meth:`checkpoint_dir`):
        deleting the run a sweep stopped is asking for its cell to train afresh (an older run of the
        cell leaves it alone), and deleting an experiment leaves nothing to resume.

        Raises StoreError, deleting nothing, for a run that another process on this machine is
        training now (helper-123: it trained on to its end, then its result was dropped); one
        training on another host, which cannot be asked, is deleted, and its end is not recorded.
        """
        if run_ids:
            recs = [self.get(r) for r in run_ids]  # resolve all first: one typo deletes nothing
        elif experiment is not None:
            recs = self.runs(experiment=experiment)
        else:
            raise StoreError("rm: give run ids or an experiment")
        refuse_trained_now(recs)
        ids = list(dict.fromkeys(r.run_id for r in recs))  # one run named twice (by two prefixes) is one run
        whole = experiment is not None and not run_ids  # its checkpoints folder goes whole: no per-cell lookup
        latest = set() if whole else {r.run_id for r in recs if self._latest_of_cell(r)}
        derived: list[tuple[str, str, int, str]] = []
        hidden: list[tuple[Path, Path]] = []
        with self._unhide_on_error(hidden):  # put back too when the COMMIT fails (a full disk: helper-189)
            with self._errors("delete"), self._write() as con:  # the lock first: no folder hidden while waiting
                hidden += self._hide_folders(ids)  # for it (an rm killed there would leave its runs without them)
                con.executemany("DELETE FROM runs WHERE run_id = ?", [(i,) for i in ids])
                if whole:
                    con.execute("DELETE FROM committees WHERE experiment = ?", (experiment,))
                else:
                    gone = set(ids)
                    derived = [(e, v, r, members) for e, v, r, members in
                               con.execute("SELECT experiment, variant, repeat, member_ids FROM committees")
                               if gone & set(json.loads(members))]
                    con.executemany("DELETE FROM committees WHERE experiment = ? AND variant = ? AND repeat = ? "
                                    "AND member_ids = ?", derived)
        for e, v, r, members in derived:  # its file lives in its first member's folder, which may stay
            _committee_path(self.root, e, v, r, json.loads(members)).unlink(missing_ok=True)
        for _, gone_folder in hidden:
            if gone_folder.is_symlink():  # a folder linked in from elsewhere: the link goes, what it points at stays
                gone_folder.unlink()
            shutil.rmtree(gone_folder, ignore_errors=True)
        if whole and experiment is not None:
            cells = self._checkpoints(experiment)
            try:
                folders = sorted(cells.iterdir())
            except OSError:  # none, or a folder that cannot be read: nothing to count
                folders = []
            dropped = sum(self._drop_cell(cell) for cell in folders)
            shutil.rmtree(cells, ignore_errors=True)
        else:
            dropped = sum(self.drop_checkpoint(r.experiment, str(r.variant), r.config_hash)
                          for r in recs if r.run_id in latest)
        return Removal(ids, dropped, list(dict.fromkeys(str(v) for _, v, _, _ in derived)))

    def checkpoints_held(self, experiment: str) -> int:
        """How many sweep checkpoints :meth:`rm` of the whole ``experiment`` would delete, deleting nothing
        (`rm -e --dry-run`; helper-254: its preview left out the checkpoints the delete took). A run's
        own: :meth:`holds_checkpoint`."""
        try:
            return sum(self._cell_holds(cell) for cell in self._checkpoints(experiment, False).iterdir())
        except OSError:
            return 0

    def _hide_folders(self, ids: list[str]) -> list[tuple[Path, Path]]:
        """Rename the run folders of ``ids`` to hidden names (``runs/.rm-<id>-<random>``) before
        their rows go: a run still training then writes no result back into them, and a reindex
        never takes them back. (folder, hidden name) for each one moved; StoreError, with the
        ones moved put back, when one cannot be."""
        moved: list[tuple[Path, Path]] = []
        for i in ids:
            folder = self.root / "runs" / i
            hidden = folder.with_name(f".rm-{i}-{uuid.uuid4().hex[:8]}")
            try:
                os.rename(folder, hidden)  # a link is renamed itself, not what it points at
            except FileNotFoundError:
                continue
            except OSError as exc:
                self._unhide(moved)
                raise StoreError(f"{folder}: cannot delete it: {exc.strerror or exc}") from None
            moved.append((folder, hidden))
        return moved

    @staticmethod
    def _unhide(moved: list[tuple[Path, Path]]) -> None:
        for folder, hidden in moved:
            with suppress(OSError):
                os.rename(hidden, folder)

    @contextmanager
    def _unhide_on_error(self, moved: list[tuple[Path, Path]]) -> Iterator[None]:
        """Put the hidden folders back when deleting their rows fails (a locked database, a COMMIT on a
        full disk): nothing is deleted. ``moved`` may grow inside the block."""
        try:
            yield
        except BaseException:
            self._unhide(moved)
            raise

    def holds_checkpoint(self, rec: RunRecord) -> bool:
        """Whether deleting ``rec`` (:meth:`rm`) deletes a checkpoint too: it is its sweep cell's newest
        run and the cell's checkpoint is there (a stopped run the next sweep would continue)."""
        folder = self.checkpoint_dir(rec.experiment, str(rec.variant), rec.config_hash, own=False)
        return self._cell_holds(folder) and self._latest_of_cell(rec)

    def _latest_of_cell(self, rec: RunRecord) -> bool:
        """Whether ``rec`` is the newest run of its cell (experiment, variant, config hash)."""
        with self._errors("read"):
            newer = self._conn.execute("SELECT 1 FROM runs WHERE experiment = ? AND variant = ? AND config_hash = ? "
                                       "AND created_at > ? LIMIT 1",
                                       (rec.experiment, rec.variant, rec.config_hash, rec.created_at)).fetchone()
        return newer is None

    def _checkpoints(self, experiment: str, own: bool = True) -> Path:
        """The experiment's checkpoint folder; with ``own`` (to write or delete in it) a link there (a
        copied store's) is removed, never followed: `rm -e` deleted the folders of what it pointed at
        (helper-188)."""
        folder = self.root / CHECKPOINT_DIR / hashlib.sha256(experiment.encode()).hexdigest()[:16]
        return _unlinked(folder) if own else folder

    def drop_checkpoint(self, experiment: str, variant: str, key: str) -> bool:
        """Delete the cell's checkpoint folder (:meth:`checkpoint_dir`), and the experiment's folder
        once it is empty; nothing to delete is fine. True if a checkpoint was there (the next
        `mnistlab run` trains the cell afresh instead of continuing it)."""
        folder = self.checkpoint_dir(experiment, variant, key)
        dropped = self._drop_cell(folder)
        try:
            folder.parent.rmdir()
        except OSError:  # another cell's checkpoint is still there (or it is gone already)
            pass
        return dropped

    @staticmethod
    def _cell_holds(folder: Path) -> bool:
        """Whether the cell checkpoint folder ``folder`` holds a checkpoint file."""
        try:
            return (folder / CHECKPOINT_FILE).is_file()
        except OSError:  # a folder that cannot be read (is_file raises for it before Python 3.12)
            return False

    @classmethod
    def _drop_cell(cls, folder: Path) -> bool:
        """Delete one cell's checkpoint folder; whether it held a checkpoint file."""
        had = cls._cell_holds(folder)
        shutil.rmtree(folder, ignore_errors=True)
        return had and not os.path.lexists(folder)

    def checkpoint_dir(self, experiment: str, variant: str, key: str, *, own: bool = True) -> Path:
        """The folder where a sweep keeps the checkpoint of the cell (``experiment``, ``variant``,
        config ``key``) while it trains, so that an interrupted sweep resumes the cell at its last
        saved epoch (:func:`mnistlab.execute.execute_cell`); not created here. Names are hashed:
        any experiment or variant name makes a safe folder name. ``own``: the caller writes or
        deletes in it, and links there are removed first (:func:`_unlinked`); a reader (`run
        --dry-run`, `show`) passes False and changes nothing."""
        cell = hashlib.sha256(f"{variant}\0{key}".encode()).hexdigest()[:16]
        folder = self._checkpoints(experiment, own) / cell
        return _unlinked(folder) if own else folder

    # -- reading -----------------------------------------------------------------------------
    def get(self, run_id: str) -> RunRecord:
        """The run whose id is ``run_id`` or starts with it; StoreError if none or several match."""
        rid = str(run_id).strip()
        if not run_id_like(rid):
            hint = self._experiment_hint(rid) or ' (run ids are hex digits, e.g. "3fa9c01b2e")'
            raise StoreError(f'"{rid[:40]}" is not a run id{hint}')
        with self._errors("read"):  # a range of the primary key (LIKE scans the table: helper-196, compare of
            rows = self._conn.execute("SELECT * FROM runs WHERE run_id >= ? AND run_id < ? ORDER BY created_at "  # 4,000
                                      "LIMIT 6", (rid.lower(), rid.lower() + "g")).fetchall()  # ids took 40 s); then
            if not rows:  # ids written in capitals (a store from elsewhere), case-blind as before
                rows = self._conn.execute("SELECT * FROM runs WHERE run_id LIKE ? ORDER BY created_at LIMIT 6",
                                          (rid.lower() + "%",)).fetchall()
            cols = self._columns()
        if not rows:  # (an experiment may be named in hex digits: "2024")
            raise StoreError(f'no run "{rid}" in {self.root}{self._experiment_hint(rid) or " (see `mnistlab runs`)"}')
        if len(rows) > 1:
            shown = ", ".join(r[0] for r in rows[:5])
            raise StoreError(f'run id "{rid}" is ambiguous: it matches {shown}{"..." if len(rows) > 5 else ""}; type more of it')
        return self._as_known(_record(cols, rows[0]))

    def _experiment_hint(self, given: str) -> str:
        """What :meth:`get` adds when ``given`` is an experiment's name, not a run id (`show seed000`)."""
        return f": it names an experiment, whose runs `mnistlab runs -e {given}` lists" if given in self.experiments() else ""

    def variants_of(self, experiment: str) -> list[tuple[str, str, str | None]]:
        """Each run of ``experiment`` as (variant, config hash, the experiment file that recorded it or None),
        read from the rows alone: what a single run checks before it joins the experiment
        (:func:`mnistlab.run.Recorder.for_config`), without parsing every run's history and config."""
        with self._errors("read"):
            rows = self._conn.execute("SELECT variant, config_hash, env FROM runs WHERE experiment = ?",
                                      (experiment,)).fetchall()
        out = []
        for variant, key, env in rows:
            try:
                file = json.loads(env).get("experiment_file") if env else None
            except (ValueError, AttributeError):
                file = None
            out.append((str(variant), str(key), str(file) if file else None))
        return out

    def runs(self, experiment: str | None = None, status: str | Sequence[str] | None = None) -> list[RunRecord]:
        """Runs in the order they started, optionally only one experiment's and/or those of one
        status or of any of several (StoreError for an unknown one, with a did-you-mean)."""
        wanted = [status] if isinstance(status, str) else list(status) if status is not None else []  # []: any
        for word in wanted:
            if word not in STATUSES:
                from mnistlab.errors import did_you_mean

                pruned = ("; a search's pruned trial is a finished run whose trial state is pruned: `mnistlab "
                          "compare NAME` shows each trial's state" if str(word).lower() == "pruned" else "")
                raise StoreError(f'unknown status "{word}"{did_you_mean(str(word), STATUSES)}; choose from '
                                 f'{", ".join(STATUSES)}{pruned}')
        sql, args = "SELECT * FROM runs WHERE 1", list[str]()
        if experiment is not None:
            sql, args = sql + " AND experiment = ?", [*args, experiment]
        if wanted and not self._ended_unsaid:  # (else filtered below: a row saying running may be interrupted)
            sql, args = sql + f" AND status IN ({', '.join('?' * len(wanted))})", [*args, *wanted]
        with self._errors("read"):
            rows = self._conn.execute(sql + " ORDER BY created_at, rowid", args).fetchall()
            cols = self._columns()
        recs = [self._as_known(_record(cols, r)) for r in rows]
        return [r for r in recs if r.status in wanted] if wanted else recs

    def find_finished(self, experiment: str, variant: str | None, config_hash: str,
                      statuses: tuple[str, ...] = ("finished",), *, whole: bool = False) -> RunRecord | None:
        """The latest run of this experiment/variant (None: of any variant) with this config hash
        and one of ``statuses``; ``whole``: passing over a finished run whose files are gone or damaged
        (:meth:`unusable`; said once: a sweep trains its cell again)."""
        marks = ", ".join("?" * len(statuses))
        which = "variant = ?" if variant is not None else "? IS NULL"
        with self._errors("read"):
            rows = self._conn.execute(
                f"SELECT * FROM runs WHERE experiment = ? AND {which} AND config_hash = ? AND status IN ({marks})"
                " ORDER BY created_at DESC", (experiment, variant, config_hash, *statuses))
            cols = self._columns()
            for row in rows:  # the latest whose result is there (a finished run whose files are gone: its cell again)
                rec = _record(cols, row)
                if not (whole and rec.status == "finished" and self._no_result(rec.run_id)):
                    return self._as_known(rec)
        return None

    def _no_result(self, run_id: str) -> bool:
        """Whether finished run ``run_id``'s files are gone or damaged (:meth:`unusable`), said once per
        run to this store's user: its cell trains again, not skipped as done (helper-250)."""
        why = self._unusable(run_id)
        if why and run_id not in self._said_unusable:
            self._said_unusable.add(run_id)
            warnings.warn(f"run {run_id} is {why}: its cell trains again where a sweep asks for it (`mnistlab rm "
                          f"{run_id}` deletes its record)", StoreWarning, stacklevel=user_level())
        return why is not None

    def experiments(self) -> list[str]:
        """Names of the experiments with at least one run."""
        with self._errors("read"):
            return [r[0] for r in self._conn.execute("SELECT DISTINCT experiment FROM runs ORDER BY experiment")]

    def _columns(self) -> list[str]:
        return [r[1] for r in self._conn.execute("PRAGMA table_info(runs)")]

    def unusable(self, run_id: str) -> str | None:
        """Why a finished run's model cannot be used, as a line (its folder gone, its weights or
        predictions gone or cut short: a damaged or half-copied store); None where it can, and for a run
        of another status (helper-250: `show` said finished, `run` skipped its cell as done)."""
        rec = self.get(run_id)
        return self._unusable(rec.run_id) if rec.status == "finished" else None

    def files_gone(self, rec: RunRecord) -> bool:
        """Whether the finished run ``rec`` lacks its folder, weights or predictions (two stats: what
        `runs` marks; :meth:`unusable` also finds a weights file cut short). False for another status."""
        folder = self.root / "runs" / rec.run_id
        return rec.status == "finished" and not all((folder / f).is_file() for f in MODEL_FILES)

    def _unusable(self, run_id: str) -> str | None:
        """:meth:`unusable` of a finished run, by its whole id."""
        folder = self.artifact_dir(run_id, must_exist=False)
        if not folder.is_dir():
            return "finished, but its folder is gone: its model cannot predict, be exported or be drawn"
        return _not_whole(folder)

    def artifact_dir(self, run_id: str, *, must_exist: bool = True) -> Path:
        """The folder holding a run's files (resolves unique prefixes)."""
        if not must_exist:
            return self.root / "runs" / run_id
        return self.root / "runs" / self.get(run_id).run_id

    def load_predictions(self, run_id: str) -> np.ndarray:
        """The run's test-set softmax outputs, float32 (N_test, num_classes); all NaN for a run that
        was not tested (its weights went NaN, or Ctrl-C came during the test pass).

        Raises StoreError when the file is missing, unreadable, or not this run's table: not 2-D
        floats, a row count other than the recorded ``test_size``, a column count other than the
        model's output width, or, for a tested run, rows that are not probabilities (finite, each
        summing to 1 within ``SOFTMAX_TOLERANCE``): a damaged or replaced file."""
        rec = self.get(run_id)
        path = self.artifact_dir(rec.run_id, must_exist=False) / "predictions.npy"
        try:  # mapped, not read: a header claiming (10**9, 10) is refused by its shape (helper-172: 37 GiB asked for)
            probs = np.load(path, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            raise StoreError(_missing(rec, path, "predictions")) from None
        except (OSError, ValueError, EOFError) as exc:
            why = ("an array of Python objects" if "pickled" in str(exc) or "Python objects" in str(exc)  # (numpy: its
                   else first_line(exc))  # "allow_pickle=" advice, or that it cannot map them)
            raise StoreError(f"{path}: cannot read the predictions: {why}: the file was damaged or replaced") from None
        if isinstance(probs, np.lib.npyio.NpzFile):  # an .npz under the .npy's name
            probs.close()
            probs = None
        size = rec.metrics.get("test_size")  # the test images the run scored (where recorded)
        if (not isinstance(probs, np.ndarray) or probs.ndim != 2 or probs.dtype.kind != "f" or min(probs.shape) < 1
                or (isinstance(size, int) and len(probs) != size)):
            expected = f"({size}, classes)" if isinstance(size, int) else "(test images, classes)"
            raise StoreError(f"{path}: not the run's predictions (expected floats of shape {expected}, got "
                             f"{getattr(probs, 'dtype', 'an .npz')} {getattr(probs, 'shape', '')}): "
                             "the file was damaged or replaced")
        classes = _output_width(rec)
        if classes is not None and probs.shape[1] != classes:
            raise StoreError(f"{path}: not the run's predictions ({probs.shape[1]} columns, but the run's model "
                             f"outputs {classes} classes): the file was damaged or replaced")
        # a test whose loss was not finite (inf logits: their softmax rows are NaN) keeps those rows
        if _tested(rec) and not _probabilities(probs, nan_rows=rec.metrics.get("test_loss", 0) is None):
            raise StoreError(f"{path}: not the run's predictions (rows that are not softmax outputs: NaN, "
                             "negative, or not summing to 1), in a run that was tested: the file was damaged")
        return np.array(probs)  # read whole, in memory: the file may be replaced or deleted later

    def metric_of_runs(self, key: str) -> dict[str, Any]:
        """Run id -> ``metrics[key]`` of the runs whose metrics hold ``key``, in start order: the rows
        that mention it read alone, not every run whole (``show`` and ``rm`` of a run ask which runs
        started from its weights: 0.18 s a call in a store of 4,274 runs when they read them all)."""
        with self._errors("read"):
            rows = self._conn.execute("SELECT run_id, metrics FROM runs WHERE metrics LIKE ? ORDER BY created_at, rowid",
                                      (f'%"{key}"%',)).fetchall()
        out = {}
        for run_id, text in rows:
            try:
                metrics = json.loads(text)
            except (TypeError, ValueError):  # a damaged row: it reads as a failed run without metrics (_record)
                continue
            if isinstance(metrics, dict) and key in metrics:
                out[run_id] = metrics[key]
        return out

    def notes(self, run_id: str) -> Notes:
        """The tags and note of the run ``run_id`` (a unique prefix): :func:`mnistlab.notes.read_notes`."""
        from mnistlab.notes import read_notes

        return read_notes(self, self.get(run_id).run_id)

    def note(self, run_ids: str | Sequence[str], note: str | None = None, *, tags: Sequence[str] = (),
             untag: Sequence[str] = (), clear: bool = False) -> list[Notes]:
        """Tag runs or write a note on them, as `mnistlab note` does (MLflow's ``set_tag`` and run
        description): :func:`mnistlab.notes.write_notes` (``note`` replaces each run's note, ``tags``
        are added, ``untag`` taken away, ``clear`` drops them first); every run checked before any is
        written. SpecError for a bad tag or note, StoreError for an unknown run or a damaged notes file."""
        from mnistlab.notes import write_notes

        return write_notes(self, run_ids, note=note, add=tags, remove=untag, clear=clear)

    def load_model(self, run_id: str) -> SequentialModel:
        """The trained model (torch.nn.Module, eval mode) rebuilt from the stored spec and weights."""
        from safetensors import SafetensorError
        from safetensors.torch import load

        from mnistlab.models import build_model, weights_finite
        from mnistlab.specs import ModelSpec

        rec = self.get(run_id)
        path = self.artifact_dir(rec.run_id) / "weights.safetensors"
        if not path.is_file():
            raise StoreError(_missing(rec, path, "weights"))
        model = build_model(ModelSpec.from_dict(rec.config["model"]))
        try:
            # read by Python: an unreadable file says why (safetensors calls every failed open "No such file"),
            with open(path, "rb") as f:  # and a path that is not UTF-8 (helper-162: "bad\xffdir/...") is read too
                state = load(f.read())
            model.load_state_dict(state)
        except OSError as exc:
            raise StoreError(f"{path}: cannot load the weights: {exc.strerror or first_line(exc)}") from None
        except (SafetensorError, RuntimeError, ValueError) as exc:
            raise StoreError(f"{path}: cannot load the weights: {' '.join(str(exc).split())[:200]}") from None
        if _tested(rec) and not weights_finite(model):
            # a tested run had finite weights (untested otherwise, run._test): the file changed since
            raise StoreError(f"{path}: weights that are not finite (NaN or inf), in a run tested with finite ones: "
                             "the file was damaged")
        return model.eval()


# ---------------------------------------------------------------------------------- helpers
class _NewIndex(RunStore):
    """A database built from the run folders under a temporary name and then put in place whole
    (:meth:`RunStore.reindex` of a lost or damaged one): a rebuild cut short (Ctrl-C, a full disk)
    leaves no new, emptier ``runs.sqlite`` that would hide the recorded runs from the guard
    against a lost database."""

    _reindexing = True

    def __init__(self, root: Path) -> None:
        # the host and pid say whose it is (a killed rebuild's is removed by the next); the random
        # part keeps a reused pid (pid 1 in a container) from taking over a killed rebuild's file
        self._db_name = f"{DB_FILE}.rebuilding-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        super().__init__(root)

    @classmethod
    def build(cls, root: Path, db: Path, *, damaged: bool) -> Reindexed | None:
        """Build the index of ``root``'s run folders and make it the store's database ``db`` (the
        target of a linked ``runs.sqlite``), moving a ``damaged`` one there aside first, once the
        new one is whole; what was indexed (``kept_aside``: where the damaged one went), or None
        when another process put a database in place first (another reindex, or a store opened
        over an empty ``runs/``): then the caller indexes into that one."""
        host = socket.gethostname()
        for left in root.glob(f"{DB_FILE}.rebuilding-*"):  # a killed rebuild's files, from this host
            whose = re.fullmatch(rf"{re.escape(DB_FILE)}\.rebuilding-(.*)-(\d+)-[0-9a-f]{{8}}(-wal|-shm|-journal)?",
                                 left.name)
            if whose and whose[1] == host and not pid_alive(int(whose[2])):
                left.unlink(missing_ok=True)
        store = cls(root)
        new = staged = store.db_path
        try:
            with store:
                done = store._reindexed()
                store._conn.execute("PRAGMA journal_mode = DELETE")  # one self-contained file to move
            if new.parent.resolve() != db.parent.resolve():  # a linked database's folder: copied there first, so
                staged = db.with_name(f"{db.name}.rebuilding-{uuid.uuid4().hex[:8]}")  # that nothing can fail
                shutil.copyfile(new, staged)  # between moving a damaged one aside and putting this in (review)
            if damaged and database_state(db) == "damaged":  # (not another reindex's, put in place meanwhile)
                done = replace(done, kept_aside=_move_aside(db))
            return done if _install(staged, db) else None
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                new.with_name(new.name + suffix).unlink(missing_ok=True)
            staged.unlink(missing_ok=True)


def _install(new: Path, db: Path) -> bool:
    """Give the database file ``new`` the name ``db`` unless a database has it by then (a link
    fails where the name is taken; an empty file there is no database); whether it did. A ``db``
    in another folder (a linked database's target, maybe on another disk) gets a copy of ``new``
    made beside it first, then put in place the same way."""
    if new.parent.resolve() != db.parent.resolve():
        staged = db.with_name(f"{db.name}.rebuilding-{uuid.uuid4().hex[:8]}")
        try:
            shutil.copyfile(new, staged)
            return _install(staged, db)
        finally:
            staged.unlink(missing_ok=True)
    try:
        os.link(new, db)
    except FileExistsError:
        if db.stat().st_size:
            return False
        os.replace(new, db)
    except OSError:  # a file system without hard links
        if db.exists():
            return False
        os.replace(new, db)
    return True


def _safetensors_cut(path: Path) -> str | None:
    """Why the safetensors file at ``path`` is not whole, read from its own header (8 bytes of
    little-endian header length, the JSON header, then the tensors' bytes up to the last one's end
    offset: the format's layout), without loading a tensor; None when its size is what its header
    says."""
    try:
        size, header = safetensors_header(path)
        have = path.stat().st_size
    except (OSError, ValueError):  # unreadable, or its header no JSON (cut inside it)
        return "cannot be read (cut short, or not a safetensors file)"
    if not isinstance(header, dict):
        return "has no readable header (cut short, or not a safetensors file)"
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)
            and isinstance(v.get("data_offsets"), list) and len(v["data_offsets"]) == 2]
    want = 8 + size + max(ends, default=0)
    return None if have == want else f"holds {have:,} bytes where its header says {want:,} (cut short or replaced?)"


def _tested(rec: RunRecord) -> bool:
    """Whether the run was tested (a test accuracy recorded): then its weights were finite and its
    stored predictions are softmax outputs (``run._test`` records an untested run's as NaN)."""
    return isinstance(rec.metrics.get("test_accuracy"), (int, float))


SOFTMAX_TOLERANCE = 1e-3  # |row sum - 1| a stored float32 softmax row stays within (it is ~1e-6)


def _probabilities(probs: np.ndarray, *, nan_rows: bool = False) -> bool:
    """Whether every row of ``probs`` (N, classes) is a probability vector: finite, >= 0, summing to
    1 within ``SOFTMAX_TOLERANCE``; with ``nan_rows``, rows that are all NaN pass too."""
    rows = probs[~np.isnan(probs).all(1)] if nan_rows else probs
    return bool(np.isfinite(rows).all() and (rows >= 0).all()
                and np.abs(rows.sum(1, dtype=np.float64) - 1).max(initial=0) <= SOFTMAX_TOLERANCE)


def _output_width(rec: RunRecord) -> int | None:
    """The number of classes the run's model outputs, or None when its stored config cannot say
    (damaged, or from a run that recorded no model)."""
    from mnistlab.specs import ModelSpec

    try:
        return ModelSpec.from_dict(rec.config["model"]).num_classes
    except Exception:  # noqa: BLE001 - any damage to the config only means: cannot check the width
        return None


def _missing(rec: RunRecord, path: Path, what: str) -> str:
    """Why a run has no ``what`` file: it did not finish, or it did and the file is gone."""
    if rec.status != "finished":
        return f"run {rec.run_id}: no {what} stored (the run is {rec.status}; only a finished run has them)"
    return f"run {rec.run_id} finished, but its {what} file is missing ({path}): removed from the store's folder"


def _record(cols: list[str], row: tuple[Any, ...]) -> RunRecord:
    d = dict(zip(cols, row))
    for c in _JSON_COLUMNS:
        kind = list if c == "history" else dict
        try:
            d[c] = json.loads(d[c])
            if not isinstance(d[c], kind):
                raise ValueError(f"a {type(d[c]).__name__}")
        except (TypeError, ValueError):  # a row edited by hand, or damaged: that run reads as failed, the store works
            d[c] = kind()
            d["status"] = "failed"
            d["message"] = (f"damaged in the store's database (its {c} is unreadable): remove it with "
                            f"`mnistlab rm {d.get('run_id')}`, or restore the database")
    known = set(RunRecord.__dataclass_fields__)
    return RunRecord(**{k: v for k, v in d.items() if k in known})


def _dumps(obj: Any) -> str:
    # NaN/inf (a diverged run) are legal in Python's JSON dialect and read back as floats.
    return json.dumps(obj, default=_json_default)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "tolist") and callable(o.tolist):  # a tensor or array a callback put into the logs
        return o.tolist()
    raise TypeError(f"cannot store {type(o).__name__} as JSON")


def _write_json(path: Path, obj: Any) -> None:
    write_atomic(path, lambda p: p.write_text(json.dumps(obj, indent=1, default=_json_default), encoding="utf-8"),
                 through=False)


def _write_artifacts(folder: Path, history: list[dict[str, Any]], metrics: dict[str, Any],
                     weights: dict[str, Any] | None, predictions: np.ndarray | None,
                     config: dict[str, Any] | None) -> str | None:
    """Write a run's result files into ``folder`` (each whole; it exists: a folder removed meanwhile,
    its run deleted, is not made again); None, or why they could not be, naming the file (a full
    disk: "runs/3fa9/metrics.json: No space left on device")."""
    writes: list[tuple[Path, Callable[[Path], object]]] = [
        *([] if config is None else [(folder / "config.json", lambda p: _write_json(p, config))]),
        (folder / "history.json", lambda p: _write_json(p, history)),
        (folder / PROGRESS_FILE, lambda p: p.unlink(missing_ok=True)),
        (folder / "metrics.json", lambda p: _write_json(p, metrics)),
        *([] if predictions is None else [(folder / "predictions.npy", lambda p: write_atomic(
            p, lambda tmp: np.save(tmp, np.asarray(predictions, np.float32)), through=False))]),
        *([] if weights is None else [(folder / "weights.safetensors", lambda p: save_weights(weights, p, through=False))]),
    ]
    for path, write in writes:
        try:
            write(path)
        except OutputError as exc:  # the weights (a full disk), said in one line with their file
            return str(exc)
        except OSError as exc:
            return f"{path}: {exc.strerror or ' '.join(str(exc).split())}"
    return None


def run_id_like(given: str) -> bool:
    """Whether ``given`` can be a run id or a prefix of one: hex digits (either case), at most 64 of them."""
    text = str(given).strip().lower()
    return 0 < len(text) <= 64 and all(c in "0123456789abcdef" for c in text)


def _running(run_id: str, experiment: str, variant: str, seed: int, member: int, config: dict[str, Any],
             config_hash: str, repeat: int, env: dict[str, Any] | None) -> RunRecord:
    """The record of a run that starts now, in this process on this host."""
    _STARTED_HERE.add(run_id)
    return RunRecord(run_id, experiment, variant, int(seed), int(member), config, config_hash, "running",
                     env=env or {}, created_at=time.time(), repeat=int(repeat), pid=os.getpid(),
                     host=socket.gethostname())


def _insert(con: sqlite3.Connection, rec: RunRecord, skipped: list[tuple[str, str]] | None = None) -> bool:
    """Add ``rec`` as a row of the runs table; with ``skipped`` (reindexing), a row SQLite refuses
    is added there, with why, and False returned."""
    try:
        _insert_row(con, rec)
    except (sqlite3.Error, OverflowError, TypeError) as exc:
        if skipped is None:
            raise
        skipped.append((f"runs/{rec.run_id}", f"its record cannot go into the database: {first_line(exc)[:120]}"))
        return False
    return True


def _update(con: sqlite3.Connection, rec: RunRecord) -> None:
    """Replace the row of ``rec``'s run with how its folder says it ended (reindexing)."""
    con.execute("UPDATE runs SET status = ?, message = ?, env = ?, finished_at = ?, history = ?, metrics = ?, config = ?"
                " WHERE run_id = ?", (rec.status, rec.message, _dumps(rec.env), rec.finished_at, _dumps(rec.history),
                                      _dumps(rec.metrics), _dumps(rec.config), rec.run_id))


#: how long a run of another host may go without a sign of life in its folder and still count as
#: training there (:func:`_training_elsewhere`), at least; three of its slowest epochs where longer
ELSEWHERE_QUIET_S = 1800.0


def _training_elsewhere(folder: Path, rec: RunRecord, now: float | None = None) -> bool:
    """Whether ``rec``, a ``running`` run of another host (which cannot be asked), may still be
    training there: its folder written lately (its progress file or record: modified in the last
    :data:`ELSEWHERE_QUIET_S` seconds, or three of its slowest epochs) and its own clock agreeing
    (where its progress times its epochs: its start plus their seconds as recent; progress written
    before it did has no such clock). A database lost on a disk two machines share while one
    trains (note 55: a rebuild made that run interrupted, its cell free to train twice and its
    folder to `rm --status interrupted`); a folder copied in from a machine whose run died has an
    old record (a copy keeps its times, or its epochs end long before now)."""
    now = time.time() if now is None else now
    epochs = [float(h["epoch_seconds"]) for h in rec.history or () if isinstance(h.get("epoch_seconds"), (int, float))]
    quiet = max(ELSEWHERE_QUIET_S, 3 * max(epochs, default=0.0))
    try:
        written = max(p.stat().st_mtime for p in (folder, folder / RECORD_FILE, folder / PROGRESS_FILE) if p.exists())
    except (OSError, ValueError):
        return False
    return now - written < quiet and (not epochs or now - (rec.created_at + sum(epochs)) < quiet)


def _starting(folder: Path) -> bool:
    """Whether ``folder`` is a run being started now: made in the last minute, and holding no
    result yet (its config, or the temporary file it is being written to; its row and record are
    a moment away)."""
    try:
        return (time.time() - folder.stat().st_mtime < 60
                and not {f.name for f in folder.iterdir()} & {"history.json", "metrics.json", PROGRESS_FILE})
    except OSError:
        return False


def _insert_row(con: sqlite3.Connection, rec: RunRecord) -> None:
    con.execute(
        "INSERT INTO runs (run_id, experiment, variant, seed, member, config, config_hash, status, history,"
        " metrics, env, created_at, finished_at, message, repeat, pid, host)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (rec.run_id, rec.experiment, rec.variant, rec.seed, rec.member, _dumps(rec.config), rec.config_hash,
         rec.status, _dumps(rec.history), _dumps(rec.metrics), _dumps(rec.env), rec.created_at, rec.finished_at,
         rec.message, rec.repeat, rec.pid, rec.host),
    )


def _insert_committee(con: sqlite3.Connection, rec: CommitteeRecord, *, replace: bool) -> None:
    """Add ``rec`` to the committees table (``replace``: over an earlier record of the same members;
    else an existing one is kept)."""
    con.execute(f"INSERT OR {'REPLACE' if replace else 'IGNORE'} INTO committees (experiment, variant, repeat, "
                "accuracy, member_ids, member_accuracies, created_at, val_accuracy) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (rec.experiment, rec.variant, rec.repeat, rec.accuracy, json.dumps(rec.member_ids),
                 json.dumps(rec.member_accuracies), rec.created_at, rec.val_accuracy))


# ----------------------------------------------------------- the files the database indexes
_RECORD_TYPES: dict[str, tuple[type, ...]] = {  # RECORD_FILE's fields: a run's row but its config, history, metrics
    "run_id": (str,), "experiment": (str,), "variant": (str,), "seed": (int,), "member": (int,), "repeat": (int,),
    "config_hash": (str,), "status": (str,), "message": (str,), "env": (dict,), "created_at": (int, float),
    "finished_at": (int, float, type(None)), "pid": (int,), "host": (str,)}


def _link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` a hard link to ``src`` (no space taken), or a copy where links are refused."""
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _keep_record(root: Path, rec: RunRecord) -> None:
    """Write ``rec``'s row to its folder's ``RECORD_FILE`` (its config, history and metrics have
    files of their own). Raises OSError as any artifact does."""
    _write_json(root / "runs" / rec.run_id / RECORD_FILE, {k: getattr(rec, k) for k in _RECORD_TYPES})


def _committee_path(root: Path, experiment: str, variant: str, repeat: int, member_ids: list[str]) -> Path:
    """Where a committee's record is kept: its first member's folder, named by all it is keyed by."""
    key = json.dumps([experiment, variant, repeat, member_ids])
    return root / "runs" / member_ids[0] / COMMITTEE_FILE.format(hashlib.sha256(key.encode()).hexdigest()[:12])


def _keep_committee(root: Path, rec: CommitteeRecord) -> None:
    """Write a committee's record beside its first member (deleted with it). Not being able to is
    no error: the database holds the record, and `mnistlab run` scores a committee again."""
    try:
        if rec.member_ids and (root / "runs" / rec.member_ids[0]).is_dir():
            _write_json(_committee_path(root, rec.experiment, rec.variant, rec.repeat, rec.member_ids), rec.__dict__)
    except OSError:
        pass


_MOST_JSON = 256 * 2**20  # bytes: a run's JSON files are kilobytes (a long history, a few megabytes)


def _read_json(path: Path, kind: type, *, optional: bool = False) -> Any:
    """The JSON value of type ``kind`` (dict or list) in ``path``; ``kind()`` for a missing
    ``optional`` file; else StoreError saying what is wrong with it."""
    try:
        if path.exists() and not path.is_file():  # a FIFO would block the read, a device never end it
            raise StoreError(f"{path.name} is not a file")
        if path.stat().st_size > _MOST_JSON:
            raise StoreError(f"{path.name} is {path.stat().st_size:,} bytes: not a file mnistlab wrote")
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if optional:
            return kind()
        raise StoreError(f"no {path.name}") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise StoreError(f"{path.name} cannot be read: {first_line(exc)[:120]}") from None
    if not isinstance(value, kind):
        raise StoreError(f"{path.name} holds a {type(value).__name__}, not a JSON {'list' if kind is list else 'object'}")
    return value


_INT64 = 2**63  # SQLite's INTEGER range: a larger number in a record.json cannot go into its row
_PID_LIMIT = 2**31  # process ids are C ints (pid_t); os.kill refuses a larger one
_LATEST = 4e9  # unix seconds (year 2096): a later (or non-finite) time in a record.json is damage


def _checked_row(row: dict[str, Any], folder: Path) -> None:
    """StoreError unless ``row`` (a ``RECORD_FILE``'s object) is the row of the run in ``folder``,
    with every field of its type and in range (whole numbers SQLite holds, a pid a process can
    have, times after 1970 and before ``_LATEST``, a known status)."""
    for key, kinds in _RECORD_TYPES.items():
        value = row.get(key)
        if not isinstance(value, kinds) or isinstance(value, bool):
            raise StoreError(f"{RECORD_FILE}: {key} is missing or not a {kinds[0].__name__}")
        if isinstance(value, int) and not -_INT64 <= value < _INT64:
            raise StoreError(f"{RECORD_FILE}: {key} is out of range ({str(value)[:24]})")
        if key == "pid" and isinstance(value, int) and not 0 <= value < _PID_LIMIT:
            raise StoreError(f"{RECORD_FILE}: pid is not a process id ({str(value)[:24]})")
        if key in ("created_at", "finished_at") and isinstance(value, (int, float)) and not 0 < value < _LATEST:
            raise StoreError(f"{RECORD_FILE}: {key} is not a time ({str(value)[:24]})")
    if row["run_id"] != folder.name:
        raise StoreError(f"{RECORD_FILE} is run {row['run_id'][:16]}'s, but its folder is {folder.name}")
    if row["status"] not in STATUSES:
        raise StoreError(f'{RECORD_FILE}: unknown status "{row["status"][:20]}"')


MODEL_FILES = ("weights.safetensors", "predictions.npy")  # what a finished run's model is used from


def _not_whole(folder: Path) -> str | None:
    """What a finished run's ``folder`` lacks for its model to be used (its weights or predictions
    gone, its weights file cut short: helper-156), as a line; None where it is whole."""
    gone = [f for f in MODEL_FILES if not (folder / f).is_file()]
    if gone:
        return (f"finished, but its {' and '.join(gone)} {'is' if len(gone) == 1 else 'are'} gone: its model cannot "
                "predict, be exported or be drawn")
    if cut := _safetensors_cut(folder / "weights.safetensors"):
        return f"finished, but its weights.safetensors {cut}: its model cannot predict, be exported or be drawn"
    return None


def stray_folders(root: Path, known: Collection[str] = ()) -> list[tuple[str, str]]:
    """Folders of the store at ``root`` that hold runs no reindex takes in, as (folder, what to do):
    a run folder renamed (``runs/1c6a197cac.bak``), run folders one level too deep (``runs/runs/<id>``,
    a whole store copied into this one), of runs not among ``known`` (the database's ids: a backup
    of runs it holds is no stray). Said by `reindex` and `reindex --check` (helper-227: eight
    copied results were left out without a word)."""
    def unknown(folders: list[Path]) -> list[Path]:
        return [f for f in folders if f.name not in known]

    found: list[tuple[str, str]] = []
    runs = root / "runs"
    try:
        entries = sorted(e for e in runs.iterdir() if not re.fullmatch(_RUN_ID, e.name) and not e.name.startswith("."))
        inside = sorted(e for e in root.iterdir() if e.is_dir() and e.name != "runs" and not e.name.startswith("."))
    except OSError:
        return found
    for entry in entries:
        if not entry.is_dir() or entry.is_symlink():
            continue
        if (entry / RECORD_FILE).is_file() and _record_id(entry) not in known:
            found.append((f"runs/{entry.name}", "a run folder under another name: no reindex takes it in; give it its "
                          "run's id as name (its record.json says which), or move it out of runs/"))
        elif deeper := unknown(run_folders(entry)) or unknown(run_folders(entry / "runs")):
            found.append((f"runs/{entry.name}", f"holds {len(deeper)} run folder{'s' * (len(deeper) != 1)} one level "
                          "too deep: no reindex takes them in; move them up into runs/"))
    for entry in inside:
        if deeper := unknown(run_folders(entry / "runs")):
            found.append((entry.name, f"another store inside this one, with {len(deeper)} run folder"
                          f"{'s' * (len(deeper) != 1)}: no reindex takes them in; copy its runs/<id> folders into runs/"))
    return found


def _record_id(folder: Path) -> str | None:
    """The run id a folder's ``record.json`` names (None where it cannot be read)."""
    try:
        row = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return row.get("run_id") if isinstance(row, dict) and isinstance(row.get("run_id"), str) else None


def _folder_record(folder: Path, *, row_only: bool = False) -> RunRecord:
    """The run recorded in ``folder``: its ``RECORD_FILE`` and ``config.json``, with
    ``history.json`` (or, for a run that never ended, ``PROGRESS_FILE``) and ``metrics.json``
    where the run wrote them (``row_only``: the record alone). StoreError says why not.
    A run recorded as finished whose metrics file is gone comes back ``failed``, saying so."""
    if not (folder / RECORD_FILE).exists():
        raise StoreError(f"no {RECORD_FILE}: its row was only in the database (a run recorded before stores kept "
                         "one, in a store not opened since), or the folder was cut short")
    row = _read_json(folder / RECORD_FILE, dict)
    _checked_row(row, folder)
    rec = RunRecord(**{k: row[k] for k in _RECORD_TYPES}, config={})
    return rec if row_only else _with_files(rec, folder)


def _with_files(rec: RunRecord, folder: Path) -> RunRecord:
    """``rec`` (a record read by :func:`_folder_record` with ``row_only``) with the rest of
    ``folder``'s files read in: a new record; StoreError says why not."""
    rec = replace(rec, config=_read_json(folder / "config.json", dict),
                  history=_read_json(folder / ("history.json" if (folder / "history.json").exists() else PROGRESS_FILE),
                                     list, optional=True),
                  metrics=_read_json(folder / "metrics.json", dict, optional=True))
    _checked_shapes(rec)
    if rec.status in RESULT_STATUSES and not (folder / "metrics.json").is_file():
        rec.message = f"recorded as {rec.status}{METRICS_GONE}"
        rec.status = "failed"
    return rec


def _rebuild_would(kept: tuple[RunRecord, str] | None) -> str:
    """What a rebuild of the database does with a run folder whose files cannot all be read
    (``kept``: :func:`_salvaged` of it)."""
    if kept is None:
        return "a rebuild of the database would leave this run out"
    return f"a rebuild of the database would index it {kept[0].status}, from its other files"


def _salvaged(folder: Path) -> tuple[RunRecord, str] | None:
    """The run in ``folder`` where only its history or metrics cannot be read, indexed from what it
    has, and a line saying what it lacks; None where its
    record or config cannot be read either (helper-250: one damaged history.json dropped a finished
    run, its weights and predictions whole, from every listing). A result without its metrics is
    indexed ``failed``, saying so, as one whose metrics file is gone."""
    try:
        rec = _folder_record(folder, row_only=True)
        rec = replace(rec, config=_read_json(folder / "config.json", dict))
        _checked_shapes(rec)
    except StoreError:
        return None
    lacks: dict[str, StoreError] = {}  # file -> why it cannot be read
    for name, kind, field_name in (("history.json" if (folder / "history.json").exists() else PROGRESS_FILE, list,
                                    "history"), ("metrics.json", dict, "metrics")):
        try:
            trial = replace(rec, **{field_name: _read_json(folder / name, kind, optional=True)})
            _checked_shapes(trial)
            rec = trial
        except StoreError as exc:
            lacks[name] = exc
    if not lacks:
        return None  # (what failed was no file of these: nothing to salvage)
    if rec.status in RESULT_STATUSES and not rec.metrics:
        rec = replace(rec, status="failed", message=f"recorded as {rec.status}; its metrics.json could not be read")
    elif not rec.message:  # what `show` then says of it (helper-255: "history (0 epochs)", unsaid why)
        rec = replace(rec, message=f"indexed without its {' and '.join(lacks)}, which could not be read")
    said = " and ".join(f"{name} ({exc})" for name, exc in lacks.items())
    return rec, f"indexed without its {said}: its other files are whole"


_NUMBER_METRICS = ("accuracy", "loss", "seconds", "_size", "_epoch", "_step")  # by their ends (not trial_params)
_NUMBER_KEYS = ("params", "flops", "epochs_run")
_TABLE_SECTIONS = ("data", "train", "evaluate")


def _checked_shapes(rec: RunRecord) -> None:
    """StoreError unless a run's files hold what mnistlab writes, in the shapes every command reads:
    a history of epoch tables, metrics whose accuracies, losses, times and counts are numbers (or
    null), config sections that are tables, an environment whose ``data`` is a table. A file
    edited by hand into another shape would break every view of its experiment."""
    def number(v: Any) -> bool:
        return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))

    if not all(isinstance(e, dict) and number(e.get("epoch", 0)) for e in rec.history):
        raise StoreError("history.json: an epoch that is not a table of its figures")
    if bad := next((k for k, v in rec.metrics.items() if (k.endswith(_NUMBER_METRICS) or k in _NUMBER_KEYS)
                    and not number(v)), None):
        raise StoreError(f"metrics.json: {bad[:40]} is not a number")
    if bad := next((k for k in _TABLE_SECTIONS if not isinstance(rec.config.get(k, {}), dict)), None):
        raise StoreError(f"config.json: {bad} is not a table")
    if not isinstance(rec.config.get("callbacks", []), list) or not isinstance(rec.env.get("data", {}), dict):
        raise StoreError("config.json's callbacks are not a list, or record.json's env.data is not a table")


def _committee_file(path: Path) -> CommitteeRecord:
    """The committee record kept in ``path``; StoreError says why it cannot be read."""
    row = _read_json(path, dict)
    try:
        rec = CommitteeRecord(**row)
    except TypeError:
        raise StoreError(f"{path.name} is not a committee record (its fields: {', '.join(sorted(row))[:80]})") from None
    ids, accs = rec.member_ids, rec.member_accuracies
    if not (isinstance(rec.experiment, str) and isinstance(rec.variant, str) and isinstance(rec.repeat, int)
            and isinstance(rec.accuracy, (int, float)) and isinstance(rec.created_at, (int, float))
            and isinstance(ids, list) and len(ids) >= 2 and all(isinstance(i, str) for i in ids)
            and isinstance(accs, list) and all(isinstance(a, (int, float)) for a in accs)
            and (rec.val_accuracy is None or isinstance(rec.val_accuracy, (int, float)))):
        raise StoreError(f"{path.name}: a committee record with fields of the wrong type")
    return rec


def _settle_hidden(runs: Path, rows: Mapping[str, Any]) -> None:
    """Finish what an `rm` cut short left (``runs/.rm-<id>-<random>`` folders): a folder whose run
    still has its row (the deletion rolled back) goes back in place; one whose row is gone is
    deleted. Called inside a write transaction, so no `rm` is between its two steps."""
    for hidden in runs.glob(".rm-*"):
        whose = re.fullmatch(rf"\.rm-({_RUN_ID})-[0-9a-f]{{8}}", hidden.name)
        if whose is None:
            continue
        with suppress(OSError):
            if whose[1] in rows and not os.path.lexists(runs / whose[1]):
                os.rename(hidden, runs / whose[1])
            elif whose[1] not in rows and hidden.is_symlink():
                hidden.unlink()
            elif whose[1] not in rows:
                shutil.rmtree(hidden)


def _metrics_differ(folder: Path, row: RunRecord) -> str:
    """Why the result in ``folder``'s ``metrics.json`` is not ``row``'s (both are written from one
    dict when the run ends, so a difference is an edit or damage); "" when they agree."""
    try:
        kept = _read_json(folder / "metrics.json", dict)
    except StoreError as why:
        return f"{why}: the run's result is in the database alone"
    if _dumps(kept) == _dumps(row.metrics):
        return ""
    keys = [k for k in sorted(set(kept) | set(row.metrics)) if _dumps(kept.get(k)) != _dumps(row.metrics.get(k))]
    return ("its metrics.json and its row disagree on " + ", ".join(
        f"{k} ({_dumps(kept.get(k))[:20]} in the file, {_dumps(row.metrics.get(k))[:20]} in the database)"
        for k in keys[:3]) + ": one of them was edited; reindex does not choose between them")


def _file_id(path: Path) -> tuple[int, int] | None:
    """The (device, inode) of the file at ``path``, which a rename over it changes; None when
    there is none (a database lost)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def database_state(db: Path, *, write: bool = True) -> str:
    """``"missing"`` (no database, or an empty file), ``"ok"`` (a run store SQLite reads whole) or
    ``"damaged"`` (anything else: truncated, not SQLite, another program's database). ``db`` may
    be a link: its target is judged, with the logs SQLite keeps beside the target. Opened for
    writing, as a store is: a crash's journal or log is applied first, not taken for damage
    (``write=False``, for a check that changes nothing: read-only, on a store that cannot be
    written too). Raises StoreError for a store of a newer mnistlab, one in use (locked) or that
    cannot be opened, or a folder where the file should be."""
    db = Path(os.path.realpath(db))
    if db.exists() and not db.is_file():
        raise StoreError(f"{db}: not a file (the run store's database)")
    logs = [db.with_name(db.name + s) for s in ("-wal", "-journal")]
    if not db.exists() or db.stat().st_size == 0:  # a log without its database is damaged: kept aside too
        return "damaged" if any(f.is_file() and f.stat().st_size for f in logs) else "missing"
    try:
        con = _connect_to_check(db, write)
        try:
            whole = con.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            version = con.execute("SELECT version FROM schema_version").fetchone()
        finally:
            con.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            raise StoreError(f"{db}: cannot open it to check it ({exc}): try again when no other mnistlab uses the "
                             "store") from None
        if "readonly" in str(exc):  # helper-123: not a "locked" one
            raise StoreError(f"{db}: cannot open it to check it ({exc}): the store cannot be written here (a "
                             "read-only disk, folder or file?); rebuild it where it can be") from None
        if any(w in str(exc) for w in ("unable to open", "disk I/O")):
            ro = "" if os.access(db.parent, os.W_OK) else ": its folder cannot be written here (a read-only disk or folder?)"
            raise StoreError(f"{db}: cannot open it to check it ({exc}){ro}") from None
        return "damaged"  # e.g. "no such table: schema_version": another program's database
    except sqlite3.DatabaseError:
        return "damaged"
    if not whole or version is None or not isinstance(version[0], int):
        return "damaged"
    if version[0] > SCHEMA_VERSION:
        raise StoreError(f"{db}: written by a newer mnistlab (schema {version[0]} > {SCHEMA_VERSION}); upgrade mnistlab")
    return "ok"


def _connect_to_check(db: Path, write: bool) -> sqlite3.Connection:
    """A connection to check ``db`` with: read-write, or read-only (:func:`_connect_read_only`)."""
    if write:
        return sqlite3.connect(f"{db.as_uri()}?mode=rw", uri=True, timeout=60, isolation_level=None)
    return _connect_read_only(db)


def _connect_read_only(db: Path) -> sqlite3.Connection:
    """SQLite's read-only mode on ``db`` (an absolute path); ``immutable`` where even that needs to
    write (a WAL store on a read-only disk, whose -shm file cannot be made)."""
    uri = db.as_uri()
    try:
        con = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=60, isolation_level=None)
        con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return con
    except sqlite3.OperationalError:
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None)


def _move_aside(db: Path) -> Path:
    """Rename a damaged database (and its -wal, -shm and -journal files) to
    ``<name>.damaged-<time>-<pid>``, a name no other process uses; the new name."""
    aside = db.with_name(f"{db.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    for suffix in ("-wal", "-shm", "-journal", ""):
        side = db.with_name(db.name + suffix)
        if side.exists():
            os.replace(side, aside.with_name(aside.name + suffix))
    return aside


def _unlinked(path: Path) -> Path:
    """``path``, a folder the store makes itself, with a symbolic link found there removed (the link,
    not what it points at): the store's own folders are never links, and one a copied store brings
    must not send a write or a delete elsewhere."""
    if path.is_symlink():
        with suppress(OSError):  # gone meanwhile, or a read-only store's (nothing is written in it then)
            path.unlink()
    return path


def _unmade(db: Path) -> None:
    """Remove the database ``db`` just made, and its logs (a rebuild that indexed nothing)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with suppress(FileNotFoundError):
            db.with_name(db.name + suffix).unlink()


def process_alive(pid: int, host: str) -> bool:
    """Whether the process ``pid`` on ``host`` (a running run's, or a sweep driver's) still lives:
    on this host, whether the pid exists; on another (which cannot be asked), assumed so."""
    return host != socket.gethostname() or pid_alive(pid)


# The runs this process started (:func:`_running`): a ``running`` row with this process's pid that
# is not among them was left by another process that had the same pid on this host (a container
# started again, whose programs get the same small pids) and that has ended.
_STARTED_HERE: set[str] = set()


def process_holds(pid: int, host: str, mine: bool) -> bool:
    """Whether the process ``pid`` on ``host`` still holds what it recorded (a running run, a
    sweep's plan, a search trial): :func:`process_alive`, except that this process's own pid holds
    only what this process recorded itself (``mine``); else it was an earlier process's that had the
    same pid on this host (a container started again, whose programs get the same small pids),
    which has ended."""
    if host == socket.gethostname() and pid == os.getpid():
        return mine
    return process_alive(pid, host)


def epochs_trained(record: Any) -> str:
    """How far a run trained, in words: ``"3 of 10 epochs"`` (its history against its config's
    ``train.epochs``), or ``"3 epochs"`` when the config names none. ``record``: a
    :class:`RunRecord`, or a :class:`~mnistlab.run.RunResult` (anything with ``history`` and ``config``)."""
    planned = int(((record.config or {}).get("train") or {}).get("epochs") or 0)
    return f"{len(record.history or [])}" + (f" of {planned}" if planned else "") + " epochs"


def _running_here(con: sqlite3.Connection) -> list[tuple[str, int, float]]:
    """``(run_id, pid, created_at)`` of the runs ``con`` holds as ``running`` on this host: those whose
    process this host can ask about (:func:`run_alive`)."""
    return con.execute("SELECT run_id, pid, created_at FROM runs WHERE status = 'running' AND host = ?",
                       (socket.gethostname(),)).fetchall()


def run_alive(run_id: str, pid: int, host: str, since: float) -> bool:
    """Whether the process training the ``running`` run ``run_id`` (recorded with ``pid`` on
    ``host``, the run started at ``since``, epoch seconds) still lives (:func:`process_holds`: this
    process's own pid, if it started the run). A process of that pid on this host that started
    after the run did is another's, the pid reused since (a reboot, a container started again):
    helper-127, such a run could be neither deleted nor marked interrupted. Where the start of a
    process cannot be read (no ``/proc``), a live pid holds the run."""
    if not process_holds(pid, host, run_id in _STARTED_HERE):
        return False
    if host != socket.gethostname() or pid == os.getpid():  # another host cannot be asked; this process knows its own
        return True
    started = _process_start(pid)
    return started is None or started <= since + PROCESS_START_SLACK


def trained_by_others(recs: Sequence[RunRecord], *, here_only: bool = False) -> list[RunRecord]:
    """The runs of ``recs`` that another live process trains now (:func:`run_alive`, its start checked
    against theirs; one on another host cannot be asked and counts as alive, as a claim counts it);
    ``here_only``: of this machine alone."""
    here = socket.gethostname()
    return [r for r in recs if r.status == "running" and (r.host == here or not here_only)
            and (r.pid, r.host) != (os.getpid(), here) and run_alive(r.run_id, r.pid, r.host, r.created_at)]


def trained_here_now(recs: Sequence[RunRecord]) -> list[RunRecord]:
    """The runs of ``recs`` that another live process of this machine trains now
    (:func:`trained_by_others`): what `rm` refuses to delete from under it."""
    return trained_by_others(recs, here_only=True)


def refuse_trained_now(recs: Sequence[RunRecord]) -> None:
    """StoreError, one line, when another live process of this machine trains one of ``recs`` now
    (:func:`trained_here_now`): what `rm` says before deleting anything, or asking to."""
    if live := trained_here_now(recs):
        raise StoreError(f"run {live[0].run_id} is being trained now (process {live[0].pid} on this machine): "
                         "stop it first (Ctrl-C its `mnistlab run` or `train`), then delete it; nothing deleted")


PROCESS_START_SLACK = 2.0  # seconds: /proc's boot time is whole seconds, and a run starts after its process


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds; Linux's /proc: its start in clock ticks after
    boot, field 22 of its stat, plus the boot time), or None where that cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # fields[0] is field 3 (the state)
    except (OSError, ValueError, IndexError, StopIteration):
        return None


