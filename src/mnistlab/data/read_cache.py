"""The user's data as decoded once, kept on disk for every later process.

A class folder of 60,000 PNGs takes ~20 s of one core to open, decode and resize, and a CSV of
60,000 rows ~3 s to parse; a sweep's every cell, and each `plot`, `report` or `card` of a run,
is a new process that would read it again. What :func:`mnistlab.data.userdata` reads is kept here,
beside the registered datasets' decoded copies (``$XDG_CACHE_HOME/mnistlab/decoded/own/``), and
memory-mapped by later reads (milliseconds, however many images).

An entry is keyed by what identifies the read: the reader and its options, the model's input size
the images were resized to, and each file's stamp (absolute path, size, mtime_ns, inode, ctime_ns:
an edited, replaced, added or removed file is another key, as for the in-process reads). It holds
the images, the labels and each file's SHA-256 (the run's key and provenance), so a later process
hashes nothing either. At most :data:`KEPT_BYTES` and :data:`KEPT_ENTRIES` are kept; the least
recently used go first. A damaged entry is read as none (the data is read from its files again);
a cache that cannot be written only costs speed. Deleting the folder is always safe.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.files import write_atomic

__all__ = ["KEPT_BYTES", "KEPT_ENTRIES", "entry_key", "load", "root", "save"]

VERSION = 1  # of what an entry holds and how the readers decode: raise it when either changes
KEPT_BYTES = 2 << 30  # the whole cache, in bytes (about 40 folders of 60,000 28x28 images)
KEPT_ENTRIES = 32
_ENTRY = "entry.json"  # written last: an entry without it is half-written, never read


def root() -> Path:
    """The folder of the entries: ``decoded/own`` in the user cache (:func:`mnistlab.datasets.cache_dir`)."""
    from mnistlab.datasets import cache_dir

    return cache_dir() / "decoded" / "own"


def entry_key(read: Sequence[Any]) -> str:
    """The entry's name for a read described by ``read`` (plain data: the reader, its options,
    the input size, the files' stamps): a SHA-256 of it, :data:`VERSION` and mnistlab's version,
    32 hex digits."""
    from mnistlab import __version__

    text = json.dumps([VERSION, __version__, list(read)], default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def load(key: str, count: int) -> tuple[np.ndarray, np.ndarray | None, list[str]] | None:
    """The entry ``key`` of a read of ``count`` files: (images uint8 (N, H, W), memory-mapped and
    read-only; labels (N,) or None; the files' SHA-256, one per file); None when there is none, or
    it is damaged or not whole (then read the files). Never raises."""
    folder = root() / key
    try:
        meta = json.loads((folder / _ENTRY).read_text(encoding="utf-8"))
        x = np.load(folder / "images.npy", mmap_mode="r", allow_pickle=False)
        raw = np.load(folder / "labels.npy", allow_pickle=False) if meta["labels"] else None
        digests = np.load(folder / "sha256.npy", allow_pickle=False).tolist()
        whole = (meta["key"] == key and x.dtype == np.uint8 and x.ndim == 3 and len(digests) == count
                 and (raw is None or raw.shape == (len(x),)) and all(isinstance(d, str) and len(d) == 64 for d in digests))
        if not whole:
            return None
        os.utime(folder / _ENTRY)  # used now: the last to be dropped
        return x, raw, digests
    except (OSError, ValueError, KeyError, TypeError, EOFError):  # none, or damaged: read the files
        return None


def save(key: str, x: np.ndarray, raw: np.ndarray | None, digests: Sequence[str]) -> None:
    """Keep a read as the entry ``key`` (see :func:`load`), then drop the least recently used
    entries past :data:`KEPT_BYTES` or :data:`KEPT_ENTRIES`. Labels numpy cannot save without
    pickling (mixed objects) are not kept, nor images of more than half :data:`KEPT_BYTES`, nor
    anything when the cache cannot be written."""
    if (raw is not None and raw.dtype == object) or x.nbytes > KEPT_BYTES // 2:
        return
    folder = root() / key
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / _ENTRY).unlink(missing_ok=True)
        arrays = {"images": np.ascontiguousarray(x), "sha256": np.array(list(digests), dtype="<U64"),
                  **({"labels": raw} if raw is not None else {})}
        for name, array in arrays.items():
            write_atomic(folder / f"{name}.npy", functools.partial(_save_array, array=array))
        meta = json.dumps({"key": key, "labels": raw is not None, "images": int(len(x))})
        write_atomic(folder / _ENTRY, lambda tmp: tmp.write_text(meta, encoding="utf-8"))
    except (OSError, ValueError):
        return  # a read-only or full cache only costs speed
    _drop_past_limits()


def _save_array(path: Path, array: np.ndarray) -> None:
    np.save(path, array, allow_pickle=False)


def _drop_past_limits() -> None:
    """Delete the least recently used entries (by their ``entry.json``'s time) while the cache
    holds more than :data:`KEPT_BYTES` or :data:`KEPT_ENTRIES`; half-written ones (no entry.json)
    older than an hour too (a process killed mid-write)."""
    entries = []
    try:
        for folder in root().iterdir():
            files = list(folder.iterdir()) if folder.is_dir() else []
            size = sum(f.stat().st_size for f in files)
            meta = folder / _ENTRY
            when = meta.stat().st_mtime if meta.exists() else None
            if when is None and max((f.stat().st_mtime for f in files), default=0) < time.time() - 3600:
                shutil.rmtree(folder, ignore_errors=True)
            elif when is not None:
                entries.append((when, size, folder))
    except OSError:  # another process dropped one meanwhile
        return
    entries.sort(reverse=True)  # the most recently used first
    kept = total = 0
    for _, size, folder in entries:
        kept, total = kept + 1, total + size
        if kept > KEPT_ENTRIES or total > KEPT_BYTES:
            shutil.rmtree(folder, ignore_errors=True)

