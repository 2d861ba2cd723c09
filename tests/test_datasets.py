"""The dataset layer on real files, on small IDX files written here, and against a local HTTP server."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mnistlab import datasets
from mnistlab.datasets import (
    DatasetInfo,
    load_dataset,
    read_idx,
    validation_split,
    write_idx,
)
from mnistlab.errors import DataError

# --------------------------------------------------------------------------------------------
# Real files


def test_real_mnist_shapes_and_first_labels(data_dir: Path) -> None:
    ds = load_dataset("mnist", data_dir)
    assert ds.train_images.shape == (60000, 28, 28) and ds.train_images.dtype == np.uint8
    assert ds.test_images.shape == (10000, 28, 28)
    assert ds.train_labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert ds.test_labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(ds.train_labels).sum() == 60000
    assert ds.info.class_names[0] == "0"


def test_real_fashion_mnist(data_dir: Path) -> None:
    ds = load_dataset("fashion-mnist", data_dir)
    assert ds.train_images.shape == (60000, 28, 28)
    assert ds.test_labels.shape == (10000,)
    # Fashion-MNIST is balanced: 6000 training images per class.
    assert np.bincount(ds.train_labels).tolist() == [6000] * 10
    assert ds.info.class_names[9] == "Ankle boot"


def test_second_load_comes_from_decoded_cache(data_dir: Path) -> None:
    first = load_dataset("mnist", data_dir)
    second = load_dataset("mnist", data_dir)
    assert isinstance(second.train_images, np.memmap)
    np.testing.assert_array_equal(first.train_images[:100], second.train_images[:100])


def test_checksums_match_the_registry(data_dir: Path) -> None:
    info = datasets.get_info("fashion-mnist")
    raw = gzip.decompress((data_dir / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert hashlib.sha256(raw).hexdigest() == info.sha256["test_labels"]


def test_unknown_dataset_suggests_a_name() -> None:
    with pytest.raises(DataError, match='did you mean "fashion-mnist"'):
        datasets.get_info("fashion-mnst")


# --------------------------------------------------------------------------------------------
# IDX reading and corrupted files


def test_idx_round_trip(tmp_path: Path) -> None:
    for name in ("a.idx", "a.idx.gz"):
        array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
        write_idx(tmp_path / name, array)
        np.testing.assert_array_equal(read_idx(tmp_path / name), array)
    floats = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    write_idx(tmp_path / "f.idx", floats)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), floats)


def _valid_idx_bytes() -> bytes:
    import struct

    return struct.pack(">HBB", 0, 8, 3) + struct.pack(">3I", 2, 2, 2) + bytes(range(8))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "truncated"),
        (b"\x00\x00", "truncated"),
        (b"\x12\x34\x08\x03" + b"\x00" * 20, "bad magic"),
        (b"\x00\x00\x99\x01" + b"\x00" * 8, "bad magic"),
        (b"\x00\x00\x08\x07" + b"\x00" * 40, "bad magic"),
        (_valid_idx_bytes()[:-3], "truncated"),
        (_valid_idx_bytes()[:10], "truncated"),
        (_valid_idx_bytes() + b"xx", "unexpected bytes"),
        (b"\x00\x00\x08\x02\xff\xff\xff\xff\xff\xff\xff\xff", "refusing"),
    ],
    ids=["empty", "short", "magic", "type", "ndim", "short-data", "short-header", "trailing", "huge-dims"],
)
def test_bad_idx_is_a_one_line_error_naming_the_file(tmp_path: Path, payload: bytes, message: str) -> None:
    path = tmp_path / "bad-idx"
    path.write_bytes(payload)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_and_garbage_gzip(tmp_path: Path, data_dir: Path) -> None:
    good = (data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="truncated gzip"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "junk.gz").write_bytes(b"this is not gzip at all" * 10)
    with pytest.raises(DataError, match="corrupted gzip"):
        read_idx(tmp_path / "junk.gz")
    with pytest.raises(DataError, match="no such file"):
        read_idx(tmp_path / "missing.gz")
    with pytest.raises(DataError, match="folder"):
        read_idx(tmp_path)


def _copy_dataset(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for f in dst.iterdir():
        f.chmod(0o644)
    return dst


def test_corrupted_dataset_file_is_never_used(tmp_path: Path, data_dir: Path) -> None:
    root = tmp_path / "data"
    folder = _copy_dataset(data_dir / "mnist", root / "mnist")
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    values = read_idx(labels)
    values[0] = (values[0] + 1) % 10  # same structure, one label changed: only the checksum can tell
    write_idx(labels, values.astype(np.uint8))
    with pytest.raises(DataError, match="checksum mismatch") as info:
        load_dataset("mnist", root, download=False)
    assert "t10k-labels" in str(info.value)
    status = datasets.dataset_status("mnist", root)
    assert not status.verified and "checksum" in status.problem


def test_truncated_dataset_file(tmp_path: Path, data_dir: Path) -> None:
    root = tmp_path / "data"
    folder = _copy_dataset(data_dir / "fashion-mnist", root / "fashion-mnist")
    images = folder / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:100_000])
    with pytest.raises(DataError, match="train-images.*truncated"):
        load_dataset("fashion-mnist", root, download=False)


def test_cache_is_invalidated_when_the_source_changes(tmp_path: Path, data_dir: Path) -> None:
    root = tmp_path / "data"
    folder = _copy_dataset(data_dir / "mnist", root / "mnist")
    assert load_dataset("mnist", root).test_labels[0] == 7
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(b"garbage")  # a cached decode must not hide a damaged source
    with pytest.raises(DataError):
        load_dataset("mnist", root, download=False)


# --------------------------------------------------------------------------------------------
# A tiny registered dataset for search order and downloads


@pytest.fixture()
def tiny(tmp_path: Path) -> Iterator[tuple[DatasetInfo, Path]]:
    """A 3-class dataset of 12 train / 6 test images, registered for the test only."""
    rng = np.random.default_rng(0)
    src = tmp_path / "tiny-src"
    src.mkdir()
    arrays = {
        "train_images": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        "train_labels": np.arange(12, dtype=np.uint8) % 3,
        "test_images": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "test_labels": np.arange(6, dtype=np.uint8) % 3,
    }
    files = dict(datasets._CANONICAL_FILES)
    sha = {}
    for key, array in arrays.items():
        write_idx(src / (files[key] + ".gz"), array)
        sha[key] = hashlib.sha256(gzip.decompress((src / (files[key] + ".gz")).read_bytes())).hexdigest()
    info = DatasetInfo(name="tiny-test", class_names=("a", "b", "c"), train_size=12, test_size=6,
                       files=files, sha256=sha, system_dirs=(str(tmp_path / "system" / "tiny-test"),))
    datasets.register_dataset(info)
    yield info, src
    datasets._REGISTRY.pop("tiny-test", None)


def _place(src: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        shutil.copy(f, folder / f.name)


def test_search_order(tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info, src = tiny
    monkeypatch.delenv("MNISTLAB_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="files not found"):
        load_dataset("tiny-test", download=False)
    _place(src, Path(info.system_dirs[0]))
    assert "(system)" in load_dataset("tiny-test").source
    _place(src, datasets.cache_dir() / "tiny-test")
    assert "(cache)" in load_dataset("tiny-test").source
    _place(src, tmp_path / "env" / "tiny-test")
    monkeypatch.setenv("MNISTLAB_DATA_DIR", str(tmp_path / "env"))
    assert "(MNISTLAB_DATA_DIR)" in load_dataset("tiny-test").source
    _place(src, tmp_path / "explicit")  # the files directly in the folder also count
    loaded = load_dataset("tiny-test", tmp_path / "explicit")
    assert "(--data-dir)" in loaded.source and loaded.train_labels.tolist() == [0, 1, 2] * 4


class _Mirrors(http.server.BaseHTTPRequestHandler):
    """Serves the tiny dataset: /good/ as is, /missing/ 404, /corrupt/ flipped bytes, /drop/ half a file."""

    src: Path

    def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
        kind, _, name = self.path.strip("/").partition("/")
        path = self.src / name
        if kind == "missing" or not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        if kind == "corrupt":
            body = bytes(b ^ 0x5A for b in body)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "drop":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.close()  # the connection dies mid-file
            return
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def server(tiny) -> Iterator[str]:
    _, src = tiny
    handler = type("Handler", (_Mirrors,), {"src": src})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_skips_failing_mirrors(tiny, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MNISTLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "fresh-cache"))
    mirrors = f"{server}/missing/,{server}/corrupt/,{server}/drop/,{server}/good/"
    monkeypatch.setenv("MNISTLAB_MIRRORS", mirrors)
    ds = load_dataset("tiny-test")
    assert "(downloaded)" in ds.source
    assert ds.train_labels.tolist() == [0, 1, 2] * 4
    cached = datasets.cache_dir() / "tiny-test"
    assert sorted(p.name for p in cached.iterdir()) == sorted(f + ".gz" for f in tiny[0].files.values())
    # The next load finds the verified files in the cache and needs no server.
    monkeypatch.setenv("MNISTLAB_MIRRORS", f"{server}/missing/")
    assert "(cache)" in load_dataset("tiny-test").source


@pytest.mark.parametrize(("kind", "reason"), [("missing", "HTTP 404"), ("corrupt", "gzip"), ("drop", "")])
def test_each_download_failure_is_reported(tiny, server: str, kind: str, reason: str, tmp_path: Path) -> None:
    info, _ = tiny
    dest = tmp_path / "dest"
    with pytest.raises(DataError, match=f"could not download.*{kind}.*{reason}") as exc:
        datasets.download_dataset(info, dest, mirrors=[f"{server}/{kind}/"], timeout=5)
    assert "\n" not in str(exc.value)
    assert list(dest.iterdir()) == []  # no partial or unverified file left behind


def test_all_mirrors_failing_names_each(tiny, server: str, tmp_path: Path) -> None:
    info, _ = tiny
    with pytest.raises(DataError) as exc:
        datasets.download_dataset(info, tmp_path, mirrors=[f"{server}/missing/", "http://127.0.0.1:9/"], timeout=2)
    assert "HTTP 404" in str(exc.value) and "127.0.0.1:9" in str(exc.value)


# --------------------------------------------------------------------------------------------
# Splits


def test_split_is_deterministic_and_disjoint() -> None:
    labels = np.arange(600) % 10
    a = validation_split(labels, fraction=1 / 6, seed=3)
    b = validation_split(labels, fraction=1 / 6, seed=3)
    c = validation_split(labels, fraction=1 / 6, seed=4)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    train, val = a
    assert len(val) == 100 and len(train) == 500
    assert np.intersect1d(train, val).size == 0 and np.union1d(train, val).size == 600


def test_split_on_real_data_holds_out_a_sixth(data_dir: Path) -> None:
    labels = load_dataset("mnist", data_dir).train_labels
    train, val = validation_split(labels, fraction=1 / 6, seed=2)
    assert (len(train), len(val)) == (50000, 10000)


def test_stratified_split_keeps_class_shares() -> None:
    labels = np.repeat(np.arange(4), [400, 300, 200, 100])
    _, val = validation_split(labels, count=100, seed=0, stratify=True)
    assert np.bincount(labels[val]).tolist() == [40, 30, 20, 10]


@pytest.mark.parametrize("kwargs", [{"fraction": 0.0}, {"fraction": 1.0}, {"fraction": -0.2}, {"count": 0},
                                    {"count": 100}, {}, {"fraction": 0.1, "count": 3}])
def test_bad_split_arguments(kwargs) -> None:
    with pytest.raises(DataError):
        validation_split(np.zeros(100), **kwargs)


def test_dataset_info_is_frozen() -> None:
    info = datasets.get_info("mnist")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "x"  # type: ignore[misc]
