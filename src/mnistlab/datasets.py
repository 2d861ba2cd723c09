"""Datasets: the registry, IDX files, finding / downloading / verifying them, and splits.

A dataset is four canonical IDX files (train/test images and labels). They are looked for in
this order, and the first folder holding all four wins:

1. an explicit ``data_dir`` (or ``--data-dir``), else the ``MNISTLAB_DATA_DIR`` variable: a folder
   holding ``<dataset>/`` subfolders (or the four files themselves);
2. the user cache, ``$XDG_CACHE_HOME/mnistlab/<dataset>`` (default ``~/.cache/mnistlab``);
3. system folders, e.g. ``/usr/share/datasets/fashion-mnist`` from Debian's
   ``dataset-fashion-mnist`` package;
4. the dataset's mirrors, tried in turn; the download lands in the cache atomically.

Every file is checked before use (IDX magic, dimensions, length, SHA-256 of the uncompressed
bytes). The decoded arrays are then cached as ``.npy`` files and memory-mapped on later loads,
which take milliseconds instead of the second or so that decompressing and hashing takes.

    >>> ds = load_dataset("mnist")                          # doctest: +SKIP
    >>> ds.train_images.shape, ds.train_labels[:5].tolist()  # doctest: +SKIP
    ((60000, 28, 28), [5, 0, 4, 1, 9])
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import struct
import sys
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnistlab.errors import DataError, did_you_mean

SPLIT_FILES = ("train_images", "train_labels", "test_images", "test_labels")

# The largest uncompressed IDX file we accept: guards against a hostile file (or gzip bomb)
# claiming gigabytes. The biggest canonical file is 47 MB.
MAX_IDX_BYTES = 512 * 1024 * 1024

_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


@dataclass(frozen=True)
class DatasetInfo:
    """What mnistlab knows about a dataset before reading any file."""

    name: str
    class_names: tuple[str, ...]
    train_size: int
    test_size: int
    files: dict[str, str]  # split-file key -> canonical file name (without .gz)
    sha256: dict[str, str]  # split-file key -> SHA-256 of the uncompressed file
    mirrors: tuple[str, ...] = ()  # base URLs; the file name + ".gz" is appended
    image_shape: tuple[int, int] = (28, 28)
    description: str = ""
    system_dirs: tuple[str, ...] = ()

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class Dataset:
    """Decoded arrays of one dataset. Images are uint8 (N, H, W); labels int64 (N,).

    The arrays may be read-only memory maps: copy before writing into them.
    """

    info: DatasetInfo
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str = field(default="", compare=False)  # the folder the files came from


_CANONICAL_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_REGISTRY: dict[str, DatasetInfo] = {}


def register_dataset(info: DatasetInfo) -> DatasetInfo:
    """Add a dataset to the registry (name is the key users type)."""
    _REGISTRY[info.name] = info
    return info


register_dataset(
    DatasetInfo(
        name="mnist",
        description="handwritten digits 0-9 (LeCun et al.)",
        class_names=tuple(str(d) for d in range(10)),
        train_size=60_000,
        test_size=10_000,
        files=dict(_CANONICAL_FILES),
        sha256={
            "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        system_dirs=("/usr/share/datasets/mnist",),
    )
)

register_dataset(
    DatasetInfo(
        name="fashion-mnist",
        description="Zalando clothing images in 10 classes (Xiao et al.)",
        class_names=(
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
        ),
        train_size=60_000,
        test_size=10_000,
        files=dict(_CANONICAL_FILES),
        sha256={
            "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        ),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
    )
)


def list_datasets() -> list[DatasetInfo]:
    """Every registered dataset, in registration order."""
    return list(_REGISTRY.values())


def get_info(name: str) -> DatasetInfo:
    """The registry entry for ``name``; an unknown name raises DataError with a hint."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        known = ", ".join(_REGISTRY)
        raise DataError(f"unknown dataset {name!r}{did_you_mean(str(name), _REGISTRY)}; known: {known}") from None


# --------------------------------------------------------------------------------------------
# IDX files


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzipped when the name ends in .gz) into a NumPy array.

    Raises DataError naming the file for anything wrong: missing, truncated gzip, bad magic,
    wrong length. The result is native-endian.
    """
    return parse_idx(_read_bytes(Path(path)), name=str(path))


def parse_idx(data: bytes, *, name: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file; see :func:`read_idx`."""
    if len(data) < 4:
        raise DataError(f"{name}: truncated: {len(data)} bytes, too short for an IDX header")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in _IDX_DTYPES or not 1 <= ndim <= 4:
        raise DataError(f"{name}: not an IDX file (bad magic number 0x{data[:4].hex()})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{name}: truncated: header needs {header} bytes, file has {len(data)}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(dims, dtype=np.float64)) * dtype.itemsize
    actual = len(data) - header
    if expected > MAX_IDX_BYTES:
        raise DataError(f"{name}: IDX header claims {expected} bytes of data (dimensions {dims}): refusing")
    if actual < expected:
        raise DataError(f"{name}: truncated: dimensions {dims} need {expected} data bytes, found {actual}")
    if actual > expected:
        raise DataError(f"{name}: {actual - expected} unexpected bytes after the data (dimensions {dims})")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))  # a writable, native-endian copy


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzipped when the name ends in .gz). Used by tests and tools."""
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise DataError(f"{path}: IDX cannot hold dtype {array.dtype}")
    code = codes[native]
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(_IDX_DTYPES[code], copy=False).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(payload)


def _read_bytes(path: Path) -> bytes:
    """The uncompressed bytes of ``path``; gzip problems become DataError naming the file."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read(MAX_IDX_BYTES + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_IDX_BYTES + 1)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a file") from None
    except EOFError:
        raise DataError(f"{path}: truncated gzip file (compressed stream ends early)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: corrupted gzip file ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_IDX_BYTES:
        raise DataError(f"{path}: larger than {MAX_IDX_BYTES} bytes uncompressed: refusing")
    return data


def verify_file(path: Path, expected_sha256: str) -> np.ndarray:
    """Read, parse and checksum one dataset file; return its array or raise DataError."""
    data = _read_bytes(path)
    array = parse_idx(data, name=str(path))
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sha256:
        raise DataError(f"{path}: checksum mismatch (SHA-256 {digest[:12]}..., expected {expected_sha256[:12]}...)")
    return array


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
    if explicit:
        origin = "--data-dir" if data_dir is not None else "MNISTLAB_DATA_DIR"
        root = Path(explicit).expanduser()
        out += [(root / info.name, origin), (root, origin)]
    out.append((cache_dir() / info.name, "cache"))
    out += [(Path(d), "system") for d in info.system_dirs]
    return out


def _file_in(folder: Path, filename: str) -> Path | None:
    for candidate in (folder / (filename + ".gz"), folder / filename):
        if candidate.is_file():
            return candidate
    return None


def find_files(info: DatasetInfo, data_dir: str | os.PathLike | None = None) -> tuple[dict[str, Path], str] | None:
    """The first folder holding all four files: ({key: path}, origin), or None."""
    for folder, origin in candidate_dirs(info, data_dir):
        found = {key: _file_in(folder, info.files[key]) for key in SPLIT_FILES}
        if all(found.values()):
            return {k: v for k, v in found.items() if v is not None}, origin
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
    """Download the four files into ``dest`` (default: the cache), trying mirrors in turn.

    Each file is written to a temporary name, verified, then renamed: a failed or interrupted
    download never leaves a file that looks complete. Raises DataError listing every mirror's
    failure when none works. ``MNISTLAB_MIRRORS`` (comma-separated base URLs) overrides the
    registry's mirrors.
    """
    dest = dest or cache_dir() / info.name
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
    for key in SPLIT_FILES:
        filename = info.files[key] + ".gz"
        final = dest / filename
        if final.is_file():
            try:
                verify_file(final, info.sha256[key])
                paths[key] = final
                continue
            except DataError:
                pass  # a stale or damaged file in the cache: fetch it again
        paths[key] = _download_one(filename, info.sha256[key], dest, mirrors, timeout, progress)
    return paths


def _download_one(
    filename: str, sha256: str, dest: Path, mirrors: Sequence[str], timeout: float, progress: Progress | None
) -> Path:
    failures = []
    for base in mirrors:
        url = base if base.endswith(filename) else base.rstrip("/") + "/" + filename
        fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part.gz", dir=dest)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                _fetch(url, out, timeout, lambda done, total: progress and progress(filename, done, total))
            verify_file(tmp, sha256)
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


def _fetch(url: str, out, timeout: float, report: Callable[[int, int], object]) -> None:
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
                console=Console(stderr=True), transient=True)
    tasks: dict[str, TaskID] = {}
    bars.start()

    def update(name: str, done: int, total: int) -> None:
        if name not in tasks:
            tasks[name] = bars.add_task(f"downloading {name}", total=total or None)
        bars.update(tasks[name], completed=done)

    return update, bars.stop


# --------------------------------------------------------------------------------------------
# Loading


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, *, download: bool = True) -> Dataset:
    """Find, verify and decode a dataset; see the module docstring for where files are looked for.

    The first load decodes and verifies (about a second); later loads memory-map a decoded copy
    in the cache (milliseconds). Raises DataError for a missing, truncated or corrupted file.
    """
    info = get_info(name)
    located = find_files(info, data_dir)
    if located is None:
        if not download:
            where = ", ".join(str(d) for d, _ in candidate_dirs(info, data_dir))
            raise DataError(f"{name}: files not found (looked in {where})")
        update, close = _rich_progress() if sys.stderr.isatty() else (None, lambda: None)
        try:
            paths = download_dataset(info, progress=update)
        finally:
            close()
        origin = "downloaded"
    else:
        paths, origin = located
    arrays = _load_decoded(info, paths)
    _check_shapes(info, arrays, paths)
    return Dataset(info=info, source=f"{paths['train_images'].parent} ({origin})", **arrays)


def _stamp(paths: dict[str, Path]) -> dict[str, list]:
    """What identifies the source files: a change of path, size or mtime invalidates the cache."""
    out = {}
    for key, p in paths.items():
        st = p.stat()
        out[key] = [str(p.resolve()), st.st_size, st.st_mtime_ns]
    return out


def _load_decoded(info: DatasetInfo, paths: dict[str, Path]) -> dict[str, np.ndarray]:
    folder = cache_dir() / "decoded" / info.name
    stamp_file = folder / "stamp.json"
    stamp = _stamp(paths)
    try:
        if json.loads(stamp_file.read_text()) == stamp:
            return {key: np.load(folder / f"{key}.npy", mmap_mode="r", allow_pickle=False) for key in SPLIT_FILES}
    except (OSError, ValueError):
        pass  # no cache, or a damaged one: decode from the source files again
    arrays = {key: verify_file(paths[key], info.sha256[key]) for key in SPLIT_FILES}
    arrays = {k: (v.astype(np.int64) if k.endswith("labels") else v) for k, v in arrays.items()}
    _write_cache(folder, stamp_file, stamp, arrays)
    return arrays


def _write_cache(folder: Path, stamp_file: Path, stamp: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write the decoded copy; the stamp goes last, so a half-written cache is never trusted."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stamp_file.unlink(missing_ok=True)
        for key, array in arrays.items():
            tmp = folder / f".{key}.{os.getpid()}.npy"
            np.save(tmp, array, allow_pickle=False)
            os.replace(tmp, folder / f"{key}.npy")
        tmp = folder / f".stamp.{os.getpid()}.json"
        tmp.write_text(json.dumps(stamp))
        os.replace(tmp, stamp_file)
    except OSError:
        pass  # a read-only cache only costs speed


def _check_shapes(info: DatasetInfo, arrays: dict[str, np.ndarray], paths: dict[str, Path]) -> None:
    h, w = info.image_shape
    expect = {
        "train_images": (info.train_size, h, w), "train_labels": (info.train_size,),
        "test_images": (info.test_size, h, w), "test_labels": (info.test_size,),
    }
    for key, shape in expect.items():
        if arrays[key].shape != shape:
            raise DataError(f"{paths[key]}: shape {arrays[key].shape}, expected {shape}")
    for key in ("train_labels", "test_labels"):
        labels = arrays[key]
        if labels.size and (labels.min() < 0 or labels.max() >= info.num_classes):
            raise DataError(f"{paths[key]}: labels outside 0..{info.num_classes - 1}")


@dataclass(frozen=True)
class DatasetStatus:
    """Where a dataset's files are and whether they verified (for `mnistlab datasets`)."""

    info: DatasetInfo
    location: str | None
    verified: bool
    problem: str = ""


def dataset_status(name: str, data_dir: str | os.PathLike | None = None) -> DatasetStatus:
    """Locate and verify a dataset without downloading it."""
    info = get_info(name)
    located = find_files(info, data_dir)
    if located is None:
        return DatasetStatus(info, None, False, "not found (downloads on first use)")
    paths, origin = located
    where = f"{paths['train_images'].parent} ({origin})"
    try:
        _check_shapes(info, _load_decoded(info, paths), paths)
    except DataError as exc:
        return DatasetStatus(info, where, False, str(exc))
    return DatasetStatus(info, where, True)


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
    count = int(count)
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


def _stratified_pick(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    classes, sizes = np.unique(labels, return_counts=True)
    share = sizes * count / len(labels)
    take = np.floor(share).astype(int)
    # Largest remainders get the leftover places, so the total is exactly `count`.
    for i in np.argsort(-(share - take), kind="stable")[: count - take.sum()]:
        take[i] += 1
    picked = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    return np.concatenate(picked)
