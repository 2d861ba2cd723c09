"""The user's data as decoded once, kept on disk for every later process.

A class folder of 60,000 PNGs takes ~20 s of one core to open, decode and resize, and a CSV of
60,000 rows ~3 s to parse; a sweep's every cell, and each `plot`, `report` or `card` of a run,
is a new process that would read it again. What :func:`mnistlab.data.userdata` reads is kept here,
beside the registered datasets' decoded copies (``$XDG_CACHE_HOME/mnistlab/decoded/own/``), and
memory-mapped by later reads (milliseconds, however many images).

An entry is keyed by what identifies the read: the path read, the reader and its options, the
model's input size the images were resized to, what decodes (mnistlab's readers, Pillow's
version), and each file's stamp (absolute path, size, mtime_ns, inode, ctime_ns:
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


__all__ = ["KEPT_BYTES", "KEPT_ENTRIES", "entry_key", "load", "root", "save"]

VERSION = 1  # of what an entry holds and how the readers decode: raise it when either changes
KEPT_BYTES = 2 << 30  # the whole cache, in bytes (about 40 folders of 60,000 28x28 images and their labels)
KEPT_ENTRIES = 32
_ENTRY = "entry.json"  # written last: an entry without it is half-written, never read


def root() -> Path:
    """The folder of the entries: ``decoded/own`` in the user cache (:func:`mnistlab.datasets.cache_dir`)."""
    from mnistlab.datasets import cache_dir

    return cache_dir() / "decoded" / "own"


def entry_key(read: Sequence[Any]) -> str:
    """The entry's name for a read described by ``read`` (plain data: the path read, the reader,
    its options, the input size, the files' stamps): a SHA-256 of it and of what decodes
    (:func:`_decoders`), 32 hex digits."""
    text = json.dumps([_decoders(), list(read)], default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@functools.cache
def _decoders() -> list[str]:
    """What the decoded images depend on besides the files: :data:`VERSION`, mnistlab's and Pillow's
    versions, and the SHA-256 of the readers' own source (userdata, preprocess), so that a changed
    reader, in a release or a checkout, decodes the files again."""
    import importlib

    import PIL

    from mnistlab import __version__

    sources = hashlib.sha256()
    for name in ("mnistlab.data.userdata", "mnistlab.preprocessing"):
        try:
            sources.update(Path(str(importlib.import_module(name).__file__)).read_bytes())
        except OSError:  # a zipped install: its version stands for it
            pass
    return [str(VERSION), __version__, PIL.__version__, sources.hexdigest()]


def load(key: str, count: int) -> tuple[np.ndarray, np.ndarray | None, list[str]] | None:
    """The entry ``key`` of a read of ``count`` files: (images uint8 (N, H, W), memory-mapped and
    read-only; labels (N,) or None; the files' SHA-256, one per file); None when there is none, or
    it is damaged or not whole (then read the files). Never raises."""
    try:
        folder = root() / key
        meta = json.loads((folder / _ENTRY).read_text(encoding="utf-8"))
        x = np.load(folder / "images.npy", mmap_mode="c", allow_pickle=False)
        digests = np.load(folder / "sha256.npy", mmap_mode="r", allow_pickle=False)
        if not (meta["key"] == key and isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim == 3
                and isinstance(digests, np.ndarray) and digests.dtype == np.dtype("S64") and digests.shape == (count,)
                and (not meta["labels"] or (folder / "labels.npy").stat().st_size <= 1024 * len(x) + 4096)):
            return None  # (a file name has at most 255 characters, 4 bytes each: larger labels are no save's)
        raw = np.load(folder / "labels.npy", allow_pickle=False) if meta["labels"] else None
        if raw is not None and (not isinstance(raw, np.ndarray) or raw.shape != (len(x),)):
            return None
        sums = [d.decode("ascii") for d in digests.tolist()]
    except Exception:  # noqa: BLE001 - none, or damaged in any way: read the files (a cache never stops a read)
        return None
    try:
        os.utime(folder / _ENTRY)  # used now: the last to be dropped
    except OSError:  # another user's cache, read-only: still a hit
        pass
    return x, raw, sums


def save(key: str, x: np.ndarray, raw: np.ndarray | None, digests: Sequence[str]) -> None:
    """Keep a read as the entry ``key`` (see :func:`load`), then drop the least recently used
    entries past :data:`KEPT_BYTES` or :data:`KEPT_ENTRIES`. Labels numpy cannot save without
    pickling (mixed objects) are not kept, nor images of more than half :data:`KEPT_BYTES`, nor
    anything when the cache cannot be written."""
    from mnistlab.datasets import save_arrays  # (datasets reads the user's data through this module)

    if (raw is not None and raw.dtype == object) or x.nbytes > KEPT_BYTES // 2:
        return
    try:
        folder = root() / key
        arrays = {"images": np.ascontiguousarray(x), "sha256": np.array([d.encode("ascii") for d in digests], dtype="S64"),
                  **({"labels": raw} if raw is not None else {})}
        meta = json.dumps({"key": key, "labels": raw is not None, "images": int(len(x))})
        save_arrays(folder, arrays, folder / _ENTRY, meta)
    except (OSError, ValueError):
        return  # a read-only or full cache only costs speed
    _drop_past_limits()


def _drop_past_limits() -> None:
    """Delete the least recently used entries (by their ``entry.json``'s time) while the cache
    holds more than :data:`KEPT_BYTES` or :data:`KEPT_ENTRIES`; half-written ones (no entry.json)
    older than an hour too (a process killed mid-write)."""
    entries = []
    try:
        folders = list(root().iterdir())
    except OSError:
        return
    for folder in folders:
        try:
            files = list(folder.iterdir())
            size = sum(f.stat().st_size for f in files)
            meta = folder / _ENTRY
            if meta.exists():
                entries.append((meta.stat().st_mtime, size, folder))
            elif max([folder.stat().st_mtime, *(f.stat().st_mtime for f in files)]) < time.time() - 3600:
                shutil.rmtree(folder, ignore_errors=True)  # half-written an hour ago: its writer was killed
        except OSError:  # dropped or renamed by another process meanwhile: the next look sees it
            continue
    entries.sort(reverse=True)  # the most recently used first
    kept = total = 0
    for _, size, folder in entries:
        kept, total = kept + 1, total + size
        if kept > KEPT_ENTRIES or total > KEPT_BYTES:
            shutil.rmtree(folder, ignore_errors=True)

