"""Datasets: the registry, finding / downloading / verifying files, loading them, and splits.

A registered dataset (:mod:`mnistlab.data.registry`: the MNIST family) is four files (train/test
images and labels: IDX, gzipped or not, or ``.npz``), or a zip holding them (EMNIST). They are
looked for in this order, and the first folder holding them all wins:

1. an explicit ``data_dir`` (or ``--data-dir``), else the ``MNISTLAB_DATA_DIR`` variable: a folder
   holding ``<dataset>/`` subfolders (or the files themselves);
2. the user cache, ``$XDG_CACHE_HOME/mnistlab/<dataset>`` (default ``~/.cache/mnistlab``);
3. system folders, e.g. ``/usr/share/datasets/fashion-mnist`` from Debian's
   ``dataset-fashion-mnist`` package;
4. the dataset's mirrors, tried in turn; the download lands in the cache atomically.

Every file is checked before use: its structure (IDX magic, dimensions, length; npz keys), and a
checksum where one is known: the SHA-256 of the decompressed payload, else the MD5 of the file as
published (:attr:`Dataset.verified` says which). The decoded arrays are then cached as ``.npy``
files and memory-mapped on later loads (milliseconds instead of a second or more).

The user's own data (a CSV, a folder per class, an ``.npz``, IDX files) loads through :func:`load_dataset` too,
given a path or a table (:mod:`mnistlab.data.userdata`).

    >>> ds = load_dataset("mnist")                          # doctest: +SKIP
    >>> ds.train_images.shape, ds.train_labels[:5].tolist()  # doctest: +SKIP
    ((60000, 28, 28), [5, 0, 4, 1, 9])
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import math
import os
import sys
import re
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.data.idx import (
    MAX_IDX_BYTES, describe_bytes, parse_idx, read_bytes, read_idx, read_limited, write_idx,
)
from mnistlab.data.userdata import npz_array, open_npz
from mnistlab.data.registry import (
    SPLIT_FILES,
    DatasetInfo,
    get_info,
    is_registered,
    list_datasets,
    register_dataset,
)
from mnistlab.errors import DataError
from mnistlab.files import console_style, data_dir_astray, redraws, write_atomic

__all__ = [
    "MAX_IDX_BYTES", "SPLIT_FILES", "Dataset", "DatasetInfo", "DatasetStatus", "cache_dir", "candidate_dirs",
    "dataset_status", "display_names", "download_dataset", "find_files", "get_info", "list_datasets", "load_dataset",
    "parse_idx", "read_idx", "register_dataset", "validation_split", "verify_file", "write_idx",
]


@dataclass(frozen=True)
class Dataset:
    """Decoded arrays of one dataset. Images are uint8 (N, H, W); labels int64 (N,) in 0..classes-1.

    The arrays may be memory maps of the decoded cache, copy-on-write: writing into them changes
    this process's copy only, and :func:`mnistlab.train` of a Dataset so edited trains on its arrays
    as they are now (an unedited one, by the name it was loaded as). ``verified`` says what
    was checked: ``"sha256"`` (the decompressed payload), ``"md5"`` (the files as published),
    ``"structure"`` (no checksum known: format, shapes and labels only). ``checksums`` names the
    exact data: file -> SHA-256 for the user's own files, the registry's payload checksums otherwise.
    ``test_held_out``: the share of the user's data held out as the test set (its ``test_fraction``)
    when the data brought none; 0 when it came with its test set.
    """

    info: DatasetInfo
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str = field(default="", compare=False)  # the folder the files came from
    verified: str = field(default="", compare=False)
    checksums: Mapping[str, str] = field(default_factory=dict, compare=False)
    test_held_out: float = field(default=0.0, compare=False)
    #: what :func:`load_dataset` was given (the name or table, the folder its files were found in, and
    #: the images it held then), for a run to train on it again by that name (``train(ds, ...)``);
    #: None for one made otherwise, or with other than the default image size, seed or order
    loaded_as: tuple[Any, str | None, int, int] | None = field(default=None, compare=False, repr=False)

    @property
    def class_names(self) -> list[str]:
        """The classes' names in label order, as Keras's ``image_dataset_from_directory`` gives them
        (``.info.class_names``: a folder's class folders, text labels, or the registry's)."""
        return list(self.info.class_names)

    def __repr__(self) -> str:
        """One line, as a notebook shows it: ``Dataset('mnist', train (60000, 28, 28) uint8,
        test (10000, 28, 28) uint8, 10 classes)`` (the dataclass's own repr printed the arrays)."""
        part = lambda x: f"{tuple(x.shape)} {x.dtype}"  # noqa: E731
        return (f"Dataset({self.info.name!r}, train {part(self.train_images)}, test {part(self.test_images)}, "
                f"{len(self.info.class_names)} classes)")


def verify_file(path: Path, expected_sha256: str | None) -> np.ndarray:
    """Read, parse and (when ``expected_sha256`` is given) checksum one IDX file; its array or DataError."""
    data = read_bytes(path)
    array = parse_idx(data, name=str(path))
    if expected_sha256:
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected_sha256:
            raise DataError(f"{path}: checksum mismatch (SHA-256 {digest[:12]}..., expected {expected_sha256[:12]}...)")
    return array


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file's bytes, read in 1 MiB chunks; DataError when unreadable."""
    h = hashlib.new(algorithm)
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return h.hexdigest()


def _check_md5(info: DatasetInfo, path: Path, published_name: str) -> bool:
    """Whether the published MD5 of ``published_name`` is known and ``path`` matches it (DataError if not)."""
    expected = info.md5.get(published_name)
    if not expected:
        return False
    _refuse_web_page(path, published_name)
    digest = file_digest(path, "md5")
    if digest != expected:
        raise DataError(f"{path}: MD5 {digest[:12]}... differs from the published file's ({expected[:12]}...; "
                        f"{info.checksum_source or 'registry'})")
    return True


def _refuse_web_page(path: Path, published_name: str) -> None:
    """DataError when ``path`` is an HTML page (a mirror's error page saved under the file's name):
    said as such, not as the checksum mismatch it would otherwise be."""
    if describe_bytes(_head(path)) == "an HTML page":
        what = "a zip archive" if published_name.endswith((".zip", ".npz")) else "IDX data"
        raise DataError(f"{path}: is an HTML page, not {what} (a web page saved in place of the file): "
                        "delete it and download the file again")


# --------------------------------------------------------------------------------------------
# Finding files


def cache_dir() -> Path:
    """The user cache folder, honouring XDG_CACHE_HOME."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mnistlab"


def candidate_dirs(info: DatasetInfo, data_dir: str | os.PathLike | None = None) -> list[tuple[Path, str]]:
    """The folders searched for ``info``'s files, in order, each with where it came from."""
    out: list[tuple[Path, str]] = []
    explicit = data_dir if data_dir is not None else os.environ.get("MNISTLAB_DATA_DIR") or None
    names = dict.fromkeys((info.dir_name, info.name))  # EMNIST's splits share emnist/, QMNIST's qmnist/
    if explicit:
        origin = "--data-dir" if data_dir is not None else "MNISTLAB_DATA_DIR"
        root = Path(explicit).expanduser()
        out += [(root / n, origin) for n in names] + [(root, origin)]
    out += [(cache_dir() / n, "cache") for n in names]
    out += [(Path(d), "system") for d in info.system_dirs]
    return out


@dataclass(frozen=True)
class Located:
    """Where a dataset's files are: ``paths`` by split-file key (or ``{"archive": zip}``),
    ``origin`` (``--data-dir``, ``cache``, ...) and ``layout`` (``files``, ``alt_files``, ``archive``)."""

    paths: dict[str, Path]
    origin: str
    layout: str

    @property
    def folder(self) -> Path:
        return next(iter(self.paths.values())).parent


def _file_in(folder: Path, filename: str, fmt: str) -> Path | None:
    names = (filename + ".gz", filename) if fmt == "idx" else (filename,)
    return next((folder / n for n in names if (folder / n).is_file()), None)


def _locate_in(info: DatasetInfo, folder: Path, origin: str) -> Located | None:
    """The dataset's files in ``folder``: the main layout, else the other format, else the archive."""
    layouts = [("files", info.files, info.format)]
    if info.alt_files:
        layouts.append(("alt_files", info.alt_files, "npz" if info.format == "idx" else "idx"))
    for layout, files, fmt in layouts:
        found = {key: _file_in(folder, files[key], fmt) for key in SPLIT_FILES}
        if all(found.values()):
            return Located({k: v for k, v in found.items() if v is not None}, origin, layout)
    if info.archive and (folder / info.archive).is_file():
        return Located({"archive": folder / info.archive}, origin, "archive")
    return None


def find_files(info: DatasetInfo, data_dir: str | os.PathLike | None = None) -> Located | None:
    """The first folder holding all of ``info``'s files (see the module docstring), or None."""
    for folder, origin in candidate_dirs(info, data_dir):
        located = _locate_in(info, folder, origin)
        if located is not None:
            return located
    return None


# --------------------------------------------------------------------------------------------
# Downloading

Progress = Callable[[str, int, int], None]  # (file name, bytes so far, total bytes or 0)


def download_dataset(
    info: DatasetInfo,
    dest: Path | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    timeout: float = 30.0,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Download ``info``'s files (:meth:`DatasetInfo.download_names`) into ``dest`` (default: the
    cache), trying mirrors in turn; returns {file name: path}.

    Each file is written to a temporary name, checked (not an HTML page, the published MD5 when
    known, a parseable payload with its SHA-256 when known), then renamed: a failed or interrupted
    download never leaves a file that looks complete. Raises DataError listing every mirror's
    failure when none works. ``MNISTLAB_MIRRORS`` (comma-separated base URLs) overrides the
    registry's mirrors.
    """
    dest = dest or cache_dir() / info.dir_name
    if mirrors is None:
        env = os.environ.get("MNISTLAB_MIRRORS")
        mirrors = [m.strip() for m in env.split(",") if m.strip()] if env else list(info.mirrors)
    if not mirrors:
        raise DataError(f"{info.name}: files not found and no download mirror is known")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {dest}: {exc.strerror or exc}") from None
    paths = {}
    for filename in info.download_names():
        final = dest / filename
        if final.is_file():
            try:
                check_download(info, final, filename)
                paths[filename] = final
                continue
            except DataError:
                pass  # a stale or damaged file in the cache: fetch it again
        paths[filename] = _download_one(info, filename, dest, mirrors, timeout, progress)
    return paths


def check_download(info: DatasetInfo, path: Path, filename: str) -> None:
    """DataError unless ``path`` (downloaded as ``filename``) is what ``info`` publishes under that name:
    never an HTML page, the published MD5 when known, then a payload that parses (and its SHA-256)."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    what = describe_bytes(head)
    expected = "a zip archive" if filename.endswith((".zip", ".npz")) else "gzip data" if filename.endswith(".gz") else None
    if expected and what != expected:
        raise DataError(f"{path}: is {what or 'unrecognised data (0x' + head[:4].hex() + ')'}, not {expected}")
    _check_md5(info, path, filename)
    if filename == info.archive:
        _read_archive(info, path)
        return
    key = next(k for k in SPLIT_FILES if filename in (info.files[k], info.files[k] + ".gz"))
    if filename.endswith(".npz"):
        _read_npz(path)
    else:
        verify_file(path, info.sha256.get(key))


def _download_one(info: DatasetInfo, filename: str, dest: Path, mirrors: Sequence[str], timeout: float,
                  progress: Progress | None) -> Path:
    failures = []
    for base in mirrors:
        url = base if base.endswith(filename) else base.rstrip("/") + "/" + filename
        fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part" + Path(filename).suffix, dir=dest)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                _fetch(url, out, timeout, lambda done, total: progress and progress(filename, done, total))
            check_download(info, tmp, filename)
            final = dest / filename
            os.replace(tmp, final)
            return final
        except DataError as exc:
            failures.append(f"{url}: {str(exc).replace(str(tmp), 'download')}")
        except urllib.error.HTTPError as exc:
            failures.append(f"{url}: HTTP {exc.code}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            failures.append(f"{url}: {reason}")
        finally:
            tmp.unlink(missing_ok=True)
    raise DataError(f"could not download {filename}: " + "; ".join(failures))


def _fetch(url: str, out: Any, timeout: float, report: Callable[[int, int], object]) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - URLs from the registry
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        while chunk := response.read(1 << 16):
            out.write(chunk)
            done += len(chunk)
            report(done, total)
        if total and done < total:
            raise OSError(f"connection closed after {done} of {total} bytes")


def _rich_progress() -> tuple[Progress, Callable[[], None]]:
    """A download progress callback drawing rich bars on stderr, and a function to close them."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress as Bars, TaskID, TextColumn, TransferSpeedColumn

    bars = Bars(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                console=Console(stderr=True, **console_style()), transient=True)
    tasks: dict[str, TaskID] = {}
    bars.start()

    def update(name: str, done: int, total: int) -> None:
        if name not in tasks:
            tasks[name] = bars.add_task(f"downloading {name}", total=total or None)
        bars.update(tasks[name], completed=done)

    return update, bars.stop


# --------------------------------------------------------------------------------------------
# Reading the formats


def _read_npz(path: Path, key: str = "arr_0") -> np.ndarray:
    """The array under ``key`` of an ``.npz`` (Kuzushiji's files hold one, ``arr_0``); DataError otherwise."""
    with open_npz(path) as npz:
        if key not in npz.files:
            raise DataError(f"{path}: no array {key!r} in this .npz (it has: {', '.join(npz.files) or 'nothing'})")
        return npz_array(npz, key, path)


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(512)
    except OSError:
        return b""


def _read_archive(info: DatasetInfo, path: Path) -> dict[str, np.ndarray]:
    """The four arrays of ``info`` from a zip of gzipped IDX files (EMNIST's ``gzip.zip``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            out = {}
            for key in SPLIT_FILES:
                member = info.archive_dir + info.files[key] + ".gz"
                if member not in names:
                    raise DataError(f"{path}: no {member} in this zip ({len(names)} members)")
                data = archive.read(member)
                out[key] = parse_idx(_gunzip(data, f"{path}:{member}"), name=f"{path}:{member}")
            return out
    except DataError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        what = describe_bytes(_head(path))
        raise DataError(f"{path}: not a readable zip" + (f": it is {what}" if what else f" ({exc})")) from None


def _gunzip(data: bytes, name: str) -> bytes:
    import gzip
    import zlib

    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as g:
            return read_limited(g, name)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{name}: corrupted gzip member ({exc})") from None


def _read_raw(info: DatasetInfo, located: Located) -> tuple[dict[str, np.ndarray], str]:
    """The four arrays as stored, and what was verified: ``sha256``, ``md5`` or ``structure``."""
    if located.layout == "archive":
        path = located.paths["archive"]
        md5 = _check_md5(info, path, info.archive)
        return _read_archive(info, path), "md5" if md5 else "structure"
    files = info.files if located.layout == "files" else info.alt_files
    arrays, checks = {}, set()
    for key in SPLIT_FILES:
        path = located.paths[key]
        if path.suffix == ".npz":
            checks.add("md5" if _check_md5(info, path, path.name) else "structure")
            arrays[key] = _read_npz(path)
            continue
        sha = info.sha256.get(key) if files is info.files else None
        if not sha and _check_md5(info, path, path.name):
            checks.add("md5")
        else:
            checks.add("sha256" if sha else "structure")
        arrays[key] = verify_file(path, sha)
    weakest = next(c for c in ("structure", "md5", "sha256") if c in checks)
    return arrays, weakest


def _finish(info: DatasetInfo, raw: dict[str, np.ndarray], where: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Stored arrays -> uint8 (N, H, W) images and int64 labels 0..classes-1, as ``info`` describes."""
    out = {}
    for key, array in raw.items():
        if key.endswith("labels"):
            if array.ndim == 2 and info.label_column is not None:
                array = array[:, info.label_column]
            if array.ndim != 1:
                raise DataError(f"{where[key]}: labels of shape {array.shape}, expected one label per image")
            array = array.astype(np.int64) - info.label_offset
        else:
            if array.dtype != np.uint8:
                raise DataError(f"{where[key]}: images of dtype {array.dtype}, expected uint8")
            if info.transpose and array.ndim == 3:
                array = np.ascontiguousarray(array.transpose(0, 2, 1))  # stored column by column
        out[key] = array
    if info.test_range is not None:
        start, stop = info.test_range
        out["test_images"], out["test_labels"] = out["test_images"][start:stop], out["test_labels"][start:stop]
    return out


# --------------------------------------------------------------------------------------------
# Loading


def load_dataset(name: str | os.PathLike[str] | Mapping[str, Any], data_dir: str | os.PathLike | None = None, *,
                 download: bool = True, image_shape: tuple[int, int] = (28, 28), seed: int = 0,
                 shuffle: bool | None = None) -> Dataset:
    """Find, verify and decode a registered dataset (see the module docstring for where files are
    looked for), or load the user's own data, what ``--dataset`` takes: a path (``.csv``, ``.npz``, a
    folder of class folders) or a table (``{"csv": ..., "test": ...}``, ``{"folder": ...}``,
    ``{"npz": ...}``, ``{"idx": ...}``; :func:`mnistlab.data.userdata.load_user_data`).

    A registered dataset's first load decodes and verifies (a second or more); later loads
    memory-map a decoded copy in the cache (milliseconds), copy-on-write: the arrays can be written
    to, as Keras's ``load_data()`` arrays (and ``torch.from_numpy`` takes them without a warning),
    and a change stays in this process's memory, never in the cache. The user's images come as uint8
    grayscale resized to ``image_shape`` (H, W), in a shuffled order with ``shuffle`` (``data.shuffle``;
    None: as training takes them, a folder of class folders shuffled, a CSV or an .npz not); a test
    split is carved with ``seed`` (a run's ``data.test_seed``, 0 unless set) when none is given. Raises DataError
    for an unknown name (with a did-you-mean), a missing, truncated, corrupted or mislabelled file,
    or a failed download.
    """
    if not is_registered(name):
        from mnistlab.data import userdata

        default = shuffle is None and tuple(image_shape) == (28, 28) and seed == 0  # (as a run reads it by default)
        if shuffle is None:  # helper-121: a folder's test split differed from the run's, training images in it
            shuffle = userdata.is_folder_dataset(name)
        own = userdata.load_user_data(userdata.parse_user_dataset(name), image_shape=image_shape, seed=seed,
                                      shuffle=shuffle)
        return dataclasses.replace(own, loaded_as=(name, None, len(own.train_labels), len(own.test_labels))) if (
            default) else own
    info = get_info(name)
    located = find_files(info, data_dir)
    if located is None:
        if not download:
            raise DataError(missing_message(info, data_dir))
        update, close = _rich_progress() if redraws(sys.stderr) else (None, lambda: None)
        dest = cache_dir() / info.dir_name
        try:
            download_dataset(info, dest, progress=update)
        except DataError as exc:  # offline, or every mirror failed: say where to put the files by hand
            raise DataError(f"{missing_message(info, data_dir)}; the download failed: {exc}") from None
        finally:
            close()
        located = _locate_in(info, dest, "downloaded")
        if located is None:  # pragma: no cover - download_dataset wrote every file
            raise DataError(f"{name}: downloaded files not found in {dest}")
    arrays, verified = _load_decoded(info, located)
    return Dataset(info, arrays["train_images"], arrays["train_labels"], arrays["test_images"], arrays["test_labels"],
                   source=f"{located.folder} ({located.origin})", verified=verified, checksums=dict(info.sha256),
                   loaded_as=(name, str(located.folder), len(arrays["train_labels"]), len(arrays["test_labels"])))


def missing_message(info: DatasetInfo, data_dir: str | os.PathLike | None = None) -> str:
    """One line for a dataset whose files are nowhere: the folders searched (:func:`candidate_dirs`),
    the file names expected there, and how to get them (the mirror to fetch them from, and the
    folder to put them in or the ``--data-dir`` / ``MNISTLAB_DATA_DIR`` that names another)."""
    where = ", ".join(str(d) for d, _ in candidate_dirs(info, data_dir))
    names = info.download_names()
    also = []
    if not info.archive:
        unzipped = [info.files[k] for k in SPLIT_FILES] if info.format == "idx" else []
        also += [f"the same without .gz ({', '.join(unzipped)})"] if unzipped else []
        also += [f"{', '.join(info.alt_files[k] for k in SPLIT_FILES)}"] if info.alt_files else []
    files = ", ".join(names) + (f" (or {'; or '.join(also)})" if also else "")
    mirror = info.mirrors[0] if info.mirrors else None
    get = (f"download them from {mirror.rstrip('/')}/ into {cache_dir() / info.dir_name}" if mirror
           else f"put them in {cache_dir() / info.dir_name}")
    astray = data_dir_astray(data_dir)  # helper-140: `mnistlab run` (it may name Ray workers' folder) said nothing of a typo
    return (f"{info.name}: files not found{f' ({astray})' if astray else ''}: looked in {where} for {files}; {get}, or "
            f"put them in a folder of your own and name it with --data-dir (data_dir= in Python) or MNISTLAB_DATA_DIR")



def _stamp(located: Located) -> dict[str, Any]:
    """What identifies the source files: a change of path, size or mtime invalidates the cache."""
    out: dict[str, Any] = {"layout": located.layout}
    for key, p in located.paths.items():
        st = p.stat()
        out[key] = [str(p.resolve()), st.st_size, st.st_mtime_ns]
    return out


def _load_decoded(info: DatasetInfo, located: Located) -> tuple[dict[str, np.ndarray], str]:
    folder = cache_dir() / "decoded" / info.name
    stamp_file = folder / "stamp.json"
    stamp = _stamp(located)
    try:
        saved = json.loads(stamp_file.read_text())
        if saved.get("stamp") == stamp:
            arrays = {key: np.load(folder / f"{key}.npy", mmap_mode="c", allow_pickle=False) for key in SPLIT_FILES}
            return arrays, str(saved.get("verified", "structure"))
    except (OSError, ValueError, AttributeError):
        pass  # no cache, or a damaged one: decode from the source files again
    raw, verified = _read_raw(info, located)
    where = {k: located.paths.get(k, located.paths.get("archive")) for k in SPLIT_FILES}
    arrays = _finish(info, raw, where)
    _check_shapes(info, arrays, where)
    try:
        save_arrays(folder, arrays, stamp_file, json.dumps({"stamp": stamp, "verified": verified}))
    except OSError:
        pass  # a read-only cache only costs speed
    return arrays, verified


def save_arrays(folder: Path, arrays: Mapping[str, np.ndarray], stamp: Path, text: str) -> None:
    """Write each of ``arrays`` as ``folder/<name>.npy`` (atomically, without pickling), then the
    file ``stamp`` holding ``text`` last, an older stamp removed first: a cache whose stamp is there
    is whole, so a half-written one is never trusted (the decoded caches' writer: this module's of
    the registered datasets, :mod:`mnistlab.data.read_cache`'s of the user's data). Raises OSError
    (a read-only or full disk) and ValueError (an array numpy cannot save without pickling)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    for name, array in arrays.items():
        write_atomic(folder / f"{name}.npy", functools.partial(_save_array, array=array))
    write_atomic(stamp, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _save_array(path: Path, array: np.ndarray) -> None:
    np.save(path, array, allow_pickle=False)


def _check_shapes(info: DatasetInfo, arrays: dict[str, np.ndarray], where: Mapping[str, Any]) -> None:
    h, w = info.image_shape
    expect = {
        "train_images": (info.train_size, h, w), "train_labels": (info.train_size,),
        "test_images": (info.test_size, h, w), "test_labels": (info.test_size,),
    }
    for key, shape in expect.items():
        if arrays[key].shape != shape:
            raise DataError(f"{where[key]}: shape {arrays[key].shape}, expected {shape}")
    for key in ("train_labels", "test_labels"):
        labels = arrays[key]
        if labels.size and (labels.min() < 0 or labels.max() >= info.num_classes):
            low, high = int(labels.min()) + info.label_offset, int(labels.max()) + info.label_offset
            raise DataError(f"{where[key]}: labels {low}..{high} outside "
                            f"{info.label_offset}..{info.num_classes - 1 + info.label_offset}")


@dataclass(frozen=True)
class DatasetStatus:
    """Where a dataset's files are, their total size, and whether they verified (for `mnistlab datasets`)."""

    info: DatasetInfo
    location: str | None  # the folder of its files
    verified: bool
    problem: str = ""
    size: int = 0  # bytes on disk of the files found
    check: str = ""  # sha256 | md5 | structure: what the verification could check
    found_by: str = ""  # --data-dir | MNISTLAB_DATA_DIR | cache ...: which place named that folder


def dataset_status(name: str, data_dir: str | os.PathLike | None = None) -> DatasetStatus:
    """Locate and verify a dataset without downloading it."""
    info = get_info(name)
    located = find_files(info, data_dir)
    if located is None:
        return DatasetStatus(info, None, False, "not found (downloads on first use)")
    where, by = str(located.folder), located.origin  # apart (helper-173: a script read "<path> (MNISTLAB_DATA_DIR)")
    size = sum(p.stat().st_size for p in located.paths.values())
    try:
        _, check = _load_decoded(info, located)
    except DataError as exc:
        return DatasetStatus(info, where, False, str(exc), size, found_by=by)
    return DatasetStatus(info, where, True, size=size, check=check, found_by=by)


def display_names(info: DatasetInfo, has_glyph: Callable[[str], bool] | None = None) -> tuple[str, ...]:
    """Class names for figures: the dataset's own script when the font draws every character
    (``has_glyph``, default: matplotlib's default font), else the romanised names."""
    if not info.romanized:
        return info.class_names
    check = has_glyph or _default_font_has
    return info.class_names if all(check(c) for name in info.class_names for c in name) else info.romanized


def _default_font_has(char: str) -> bool:
    from matplotlib import font_manager, ft2font

    font = ft2font.FT2Font(font_manager.findfont(font_manager.FontProperties()))
    return font.get_char_index(ord(char)) != 0


def run_dataset(config: dict[str, Any], data_dir: str | os.PathLike | None = None,
                env: Mapping[str, Any] | None = None) -> Dataset:
    """The :class:`Dataset` a recorded run (its resolved ``config``) trained on:
    a registered name, or the user's own data resized to the model's input and split with the
    run's test seed (:func:`~mnistlab.config.test_seed`), as :func:`~mnistlab.run.prepare_data` loaded
    it. MnistlabError when it cannot be loaded.

    ``env`` (the run's recorded environment) holds the SHA-256 of the user's files as the run read
    them. A file moved since is found where this process has seen the same content (an experiment
    file read now names its new place: :func:`~mnistlab.data.userdata.seen_at`); one gone, or
    changed since (its test split then is not the run's: the stored predictions would be scored
    against other labels), raises DataError saying which.
    """
    from mnistlab.config import data_shuffled, test_seed
    from mnistlab.data.userdata import relocated, same_folder_as_recorded, seen_at

    recorded = ((env or {}).get("data") or {}).get("checksums") or {}
    # The user's files, by absolute path (a registered dataset records its payloads by name, and its loader checks them)
    recorded = {p: d for p, d in recorded.items() if os.path.isabs(p)} if not is_registered(config.get("dataset")) else {}
    moved = {p: place for p, d in recorded.items()
             if not Path(p).exists() and (place := seen_at(d)) is not None and Path(place).exists()}
    for path in recorded:
        if not Path(path).exists() and path not in moved:
            raise DataError(f"{path}: the data this run trained on is gone (moved or deleted): put it back there, or "
                            "name the experiment file that says where it is now")
    if data_dir is None and not os.environ.get("MNISTLAB_DATA_DIR") and is_registered(config.get("dataset")) and (
            find_files(get_info(config["dataset"])) is None):  # where the run read them (helper-206: `card` downloaded)
        data_dir = recorded_folder(env, config["dataset"])
    shape = (config.get("model") or {}).get("input_shape") or (28, 28)
    ds = load_dataset(relocated(config.get("dataset") or "", moved), data_dir, image_shape=(int(shape[0]), int(shape[1])),
                  seed=test_seed(config), shuffle=data_shuffled(config))
    for path, digest in recorded.items():
        where = moved.get(path, path)
        if (now := ds.checksums.get(where)) is not None and now != digest and not same_folder_as_recorded(where, digest):
            raise DataError(f"{path}: changed since this run trained on it (SHA-256 {digest[:12]}... then, {now[:12]}... "
                            "now), so its test images or their classes may not be the run's: put the data back as the "
                            "run trained on it")
    return ds


def recorded_folder(env: Mapping[str, Any] | None, name: str) -> str | None:
    """The folder a run (its recorded ``env``) read the registered dataset ``name`` from
    (``env.data.source``: ``"/data/fashion-mnist (--data-dir)"``), where it still holds that
    dataset's files; None otherwise. What a view of the run reads where neither ``--data-dir`` nor
    ``MNISTLAB_DATA_DIR`` says a folder and the cache and system folders have none (the loader checks
    the files as a ``--data-dir``'s: their structure, and a checksum where the registry knows one)."""
    source = ((env or {}).get("data") or {}).get("source")
    if not isinstance(source, str) or not source:
        return None
    folder = Path(m[1] if (m := re.fullmatch(r"(.+) \([^()]*\)", source)) else source)
    try:
        return str(folder) if folder.is_absolute() and find_files(get_info(name), folder) is not None else None
    except (OSError, DataError):
        return None


# --------------------------------------------------------------------------------------------
# Splits


def validation_split(
    labels: np.ndarray,
    *,
    fraction: float | None = None,
    count: int | None = None,
    seed: int = 0,
    stratify: bool = False,
    last: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out part of a training set: returns sorted (train_idx, val_idx) int64 arrays.

    Give ``fraction`` (0 < f < 1; seed 002 holds out 1/6) or ``count``. The same labels and seed
    always give the same split. ``stratify`` keeps each class's share equal in both parts;
    ``last`` holds out the final images instead, as Keras's ``validation_split`` does.
    """
    n = len(labels)
    count = validation_count(n, fraction=fraction, count=count, last=last)
    if last:
        return np.arange(n - count, dtype=np.int64), np.arange(n - count, n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    if stratify:
        val_idx = _stratified_pick(np.asarray(labels), count, rng)
    else:
        val_idx = rng.permutation(n)[:count]
    mask = np.zeros(n, dtype=bool)
    mask[val_idx] = True
    return np.flatnonzero(~mask).astype(np.int64), np.flatnonzero(mask).astype(np.int64)


def validation_count(n: int, *, fraction: float | None = None, count: int | None = None, last: bool = False) -> int:
    """How many of ``n`` training images :func:`validation_split` holds out for ``fraction`` or
    ``count`` (give one); DataError unless that leaves at least one image on each side. A fraction
    rounds as Keras's ``validation_split`` does with ``last`` (training keeps ``floor(n * (1 - f))``),
    else to the nearest image."""
    if (fraction is None) == (count is None):
        raise DataError("validation split: give exactly one of fraction or count")
    if fraction is not None:
        if not 0.0 < float(fraction) < 1.0:
            raise DataError(f"validation fraction must be between 0 and 1 (exclusive), got {fraction}")
        # Keras's validation_split keeps floor(n * (1 - f)) for training and holds out the rest.
        count = n - math.floor(n * (1.0 - float(fraction))) if last else int(round(n * float(fraction)))
        if not 1 <= count <= n - 1:
            raise DataError(f"validation fraction {fraction} of {n} training images holds out {count}; "
                            f"a split needs at least 1 image on each side")
    assert count is not None
    if isinstance(count, bool) or not 1 <= int(count) <= n - 1:
        if n < 2:
            raise DataError(f"cannot hold out validation images from {n} training image(s)")
        raise DataError(f"validation count must be between 1 and {n - 1}, got {count}")
    return int(count)


def _stratified_pick(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    classes, sizes = np.unique(labels, return_counts=True)
    share = sizes * count / len(labels)
    take = np.floor(share).astype(int)
    # Largest remainders get the leftover places, so the total is exactly `count`.
    for i in np.argsort(-(share - take), kind="stable")[: count - take.sum()]:
        take[i] += 1
    picked = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    return np.concatenate(picked)
