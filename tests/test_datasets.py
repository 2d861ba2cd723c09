"""The dataset layer on real files, on small IDX files written here, and against a local HTTP server."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mnistlab import datasets
from mnistlab.data.idx import idx_bytes
from mnistlab.data.registry import _REGISTRY, CANONICAL_FILES
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
    # helper-228: read-only arrays, where Keras's load_data() gives arrays one can write to (and torch's
    # from_numpy warned): copy-on-write, a change in this process's memory only, never in the cache
    kept = int(second.train_images[0, 14, 14])
    second.train_images[0, 14, 14] = 255 - kept
    assert second.train_images.flags.writeable and int(second.train_images[0, 14, 14]) == 255 - kept
    assert int(load_dataset("mnist", data_dir).train_images[0, 14, 14]) == kept
    # ... and an edited Dataset trains as it is now, not as the files are (review: its name was taken)
    from mnistlab.data.arrays import given_dataset

    assert given_dataset(first, None)[0] == "mnist"  # unedited: by its name, its files' checksums recorded
    assert given_dataset(second, None)[0] is second


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


def test_a_gzip_is_read_no_further_than_its_idx_header_says(tmp_path: Path) -> None:
    """A gzip bomb (zeros, or a small IDX file padded with megabytes) is refused after its first
    bytes: these streams are cut short at the end, and reading them whole would say "truncated"."""
    import gzip

    def cut_gzip(name: str, payload: bytes) -> Path:
        packed = gzip.compress(payload, compresslevel=1)
        (tmp_path / name).write_bytes(packed[: len(packed) - 64])  # its last blocks and trailer lost
        return tmp_path / name

    zeros = cut_gzip("zeros.gz", bytes(32 * 2**20))
    padded = cut_gzip("padded.gz", _valid_idx_bytes() + bytes(32 * 2**20))
    with pytest.raises(DataError, match="bad magic"):
        read_idx(zeros)
    with pytest.raises(DataError, match="unexpected bytes after the data"):
        read_idx(padded)


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
    files = dict(CANONICAL_FILES)
    sha = {}
    for key, array in arrays.items():
        write_idx(src / (files[key] + ".gz"), array)
        sha[key] = hashlib.sha256(gzip.decompress((src / (files[key] + ".gz")).read_bytes())).hexdigest()
    info = DatasetInfo(name="tiny-test", class_names=("a", "b", "c"), train_size=12, test_size=6,
                       files=files, sha256=sha, system_dirs=(str(tmp_path / "system" / "tiny-test"),))
    datasets.register_dataset(info)
    yield info, src
    _REGISTRY.pop("tiny-test", None)


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
        if kind == "html":  # what a moved file's old address answers with: 200 and a web page
            body = b"<!DOCTYPE html>\n<html><head><title>Moved</title></head><body>The page moved.</body></html>\n"
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
    yield from _serve(src)


def _serve(src: Path) -> Iterator[str]:
    """A local HTTP server for the files in ``src`` (see :class:`_Mirrors`); yields its base URL."""
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


# --------------------------------------------------------------------------------------------
# Every IDX type code, and files that are something else


def _glyph_l(h: int = 28, w: int = 28) -> np.ndarray:
    """An asymmetric glyph, an "L": a bar down the left side and one along the bottom."""
    img = np.zeros((h, w), np.uint8)
    img[3:24, 5:8] = 255
    img[21:24, 5:20] = 255
    return img


def _is_l(img: np.ndarray) -> bool:
    img = np.asarray(img)
    return bool(img[10, 6] > 128 and img[22, 15] > 128 and img[6, 15] < 64 and img[10, 22] < 64)


@pytest.mark.parametrize(("dtype", "code"), [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B), (np.int32, 0x0C),
                                             (np.float32, 0x0D), (np.float64, 0x0E)])
def test_every_idx_type_code_round_trips_big_endian(tmp_path: Path, dtype, code: int) -> None:
    array = (np.arange(24).reshape(2, 3, 4) * (3 if np.dtype(dtype).kind in "iuf" else 1) - 5).astype(dtype)
    if np.dtype(dtype).kind == "u":
        array = np.arange(24, dtype=dtype).reshape(2, 3, 4)
    write_idx(tmp_path / "a.idx", array)
    raw = (tmp_path / "a.idx").read_bytes()
    assert raw[:4] == bytes([0, 0, code, 3]) and raw[4:16] == bytes([0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4])
    # The values are big-endian: the second value's bytes as the file stores them.
    assert raw[16 + np.dtype(dtype).itemsize: 16 + 2 * np.dtype(dtype).itemsize] == \
        array.reshape(-1)[1:2].astype(np.dtype(dtype).newbyteorder(">")).tobytes()
    back = read_idx(tmp_path / "a.idx")
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_qmnist_style_int32_labels_with_eight_columns(tmp_path: Path) -> None:
    labels = np.array([[7, 4, 2301, 0, 7, 123456, 0, 0], [2, 4, 2301, 1, 2, 123457, 0, 0]], dtype=np.int32)
    write_idx(tmp_path / "qmnist-test-labels-idx2-int.gz", labels)
    raw = gzip.decompress((tmp_path / "qmnist-test-labels-idx2-int.gz").read_bytes())
    assert raw[:4] == b"\x00\x00\x0c\x02"
    np.testing.assert_array_equal(read_idx(tmp_path / "qmnist-test-labels-idx2-int.gz"), labels)


@pytest.mark.parametrize(("name", "payload", "message"), [
    ("labels-idx1-ubyte", gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07", mtime=0), "is gzip data but its name lacks .gz"),
    ("labels-idx1-ubyte.gz", b"\x00\x00\x08\x01\x00\x00\x00\x01\x07", "uncompressed IDX file, not gzip data: rename"),
    ("labels-idx1-ubyte.gz", b"<!DOCTYPE html><html><body>Moved</body></html>", "is an HTML page, not gzip data"),
    ("labels-idx1-ubyte", b"\n  <html><head></head><body>404</body></html>", "it is an HTML page"),
    ("labels-idx1-ubyte", b"\x01\x08\x00\x00\x01\x00\x00\x00\x07", "byte-swapped (little-endian) header"),
    ("labels-idx1-ubyte", b"PK\x03\x04" + b"\x00" * 30, "it is a zip archive"),
])
def test_a_file_that_is_something_else_says_what_it_is(tmp_path: Path, name: str, payload: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(payload)
    with pytest.raises(DataError, match=re.escape(message)) as exc:
        read_idx(path)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)


# --------------------------------------------------------------------------------------------
# The family in the registry


def test_the_family_is_registered_with_sizes_classes_and_sourced_checksums() -> None:
    expect = {"mnist": (10, 60_000, 10_000), "fashion-mnist": (10, 60_000, 10_000), "kmnist": (10, 60_000, 10_000),
              "emnist-balanced": (47, 112_800, 18_800), "emnist-byclass": (62, 697_932, 116_323),
              "emnist-bymerge": (47, 697_932, 116_323), "emnist-digits": (10, 240_000, 40_000),
              "emnist-letters": (26, 124_800, 20_800), "emnist-mnist": (10, 60_000, 10_000),
              "qmnist": (10, 60_000, 60_000), "qmnist-test50k": (10, 60_000, 50_000),
              "kuzushiji-49": (49, 232_365, 38_547)}
    for name, (classes, train, test) in expect.items():
        info = datasets.get_info(name)
        assert (info.num_classes, info.train_size, info.test_size) == (classes, train, test), name
        assert info.mirrors and info.checksum_source, name
        assert info.sha256 or info.md5, name  # some checksum, and its source named
        assert all(len(v) == 64 for v in info.sha256.values()) and all(len(v) == 32 for v in info.md5.values())
        assert len(set(info.class_names)) == info.num_classes
        if info.romanized:
            assert len(info.romanized) == info.num_classes
    assert datasets.get_info("emnist-letters").label_offset == 1
    assert all(datasets.get_info(f"emnist-{s}").transpose for s in ("balanced", "letters", "digits"))
    assert datasets.get_info("qmnist-test50k").test_range == (10_000, 60_000)
    assert datasets.get_info("kuzushiji-49").metric == "balanced_accuracy"
    assert datasets.get_info("emnist-balanced").class_names[36:] == tuple("abdefghnqrt")


def test_kuzushiji_labels_fall_back_to_romanised_names() -> None:
    info = datasets.get_info("kuzushiji-49")
    assert datasets.display_names(info, has_glyph=lambda c: True)[0] == "あ"
    assert datasets.display_names(info, has_glyph=lambda c: c.isascii())[:3] == ("a", "i", "u")
    assert datasets.display_names(datasets.get_info("mnist")) == tuple("0123456789")


@pytest.fixture()
def registered() -> Iterator[list[str]]:
    """Names registered by a test, removed afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        _REGISTRY.pop(name, None)


def _register(registered: list[str], base: str, name: str, **changes) -> DatasetInfo:
    info = dataclasses.replace(datasets.get_info(base), name=name, **{"folder": "", **changes})
    registered.append(name)
    return datasets.register_dataset(info)


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _emnist_zip(path: Path, split: str, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]) -> None:
    """EMNIST's layout: gzip/emnist-<split>-<train|test>-<images|labels>-idx?-ubyte.gz, images transposed."""
    import io
    import zipfile

    def gz(array: np.ndarray) -> bytes:
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb") as g:
            g.write(idx_bytes(array))
        return buf.getvalue()

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("gzip/emnist-balanced-mapping.txt", "0 48\n")
        for part, (x, y) in (("train", train), ("test", test)):
            z.writestr(f"gzip/emnist-{split}-{part}-images-idx3-ubyte.gz", gz(np.ascontiguousarray(x.transpose(0, 2, 1))))
            z.writestr(f"gzip/emnist-{split}-{part}-labels-idx1-ubyte.gz", gz(y))


def test_emnist_zip_downloads_loads_the_right_way_round_with_letters_from_zero(
        tmp_path: Path, registered: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MNISTLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    src = tmp_path / "src"
    src.mkdir()
    x = np.stack([_glyph_l()] * 6)
    labels = np.array([1, 2, 3, 24, 25, 26], np.uint8)  # letters run 1-26 in the files
    _emnist_zip(src / "gzip.zip", "letters", (x, labels), (x[:3], labels[:3]))
    info = _register(registered, "emnist-letters", "tiny-emnist", train_size=6, test_size=3,
                     md5={"gzip.zip": _md5(src / "gzip.zip")})
    (serve := _serve(src))
    base = next(serve)
    try:
        # The old address answers 200 with a web page: caught, named, never parsed; the next mirror works.
        monkeypatch.setenv("MNISTLAB_MIRRORS", f"{base}/html/,{base}/good/")
        ds = load_dataset("tiny-emnist")
    finally:
        next(serve, None)
    assert "(downloaded)" in ds.source and ds.verified == "md5"
    assert ds.train_labels.tolist() == [0, 1, 2, 23, 24, 25] and ds.info.class_names[0] == "Aa"
    assert all(_is_l(img) for img in ds.train_images) and ds.test_images.shape == (3, 28, 28)
    with pytest.raises(DataError, match="is an HTML page, not a zip archive"):
        gen = _serve(src)
        url = next(gen)
        try:
            datasets.download_dataset(info, tmp_path / "again", mirrors=[f"{url}/html/"], timeout=5)
        finally:
            next(gen, None)


def test_emnist_zip_with_a_wrong_md5_or_member_is_refused(tmp_path: Path, registered: list[str]) -> None:
    folder = tmp_path / "data" / "tiny-emnist2"
    folder.mkdir(parents=True)
    x, y = np.stack([_glyph_l()] * 2), np.array([1, 2], np.uint8)
    _emnist_zip(folder / "gzip.zip", "digits", (x, y), (x, y))  # the wrong split's members
    _register(registered, "emnist-letters", "tiny-emnist2", train_size=2, test_size=2, md5={})
    with pytest.raises(DataError, match="no gzip/emnist-letters-train-images-idx3-ubyte.gz in this zip"):
        load_dataset("tiny-emnist2", tmp_path / "data", download=False)
    _register(registered, "emnist-digits", "tiny-emnist3", train_size=2, test_size=2, md5={"gzip.zip": "0" * 32})
    (tmp_path / "data" / "tiny-emnist3").mkdir()
    shutil.copy(folder / "gzip.zip", tmp_path / "data" / "tiny-emnist3" / "gzip.zip")
    with pytest.raises(DataError, match="MD5 .* differs from the published file"):
        load_dataset("tiny-emnist3", tmp_path / "data", download=False)


def test_qmnist_labels_take_the_class_column_and_test50k_skips_mnists_ten_thousand(
        tmp_path: Path, registered: list[str]) -> None:
    folder = tmp_path / "data" / "qm"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = datasets.get_info("qmnist").files
    full = np.zeros((6, 8), np.int32)
    full[:, 0] = [3, 1, 4, 1, 5, 9]
    full[:, 2] = rng.integers(0, 4000, 6)  # writer ids: not labels
    images = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    for part in ("train", "test"):
        write_idx(folder / (names[f"{part}_images"] + ".gz"), images)
        write_idx(folder / (names[f"{part}_labels"] + ".gz"), full)
    _register(registered, "qmnist", "tiny-qmnist", train_size=6, test_size=6, md5={}, folder="qm")
    _register(registered, "qmnist-test50k", "tiny-qmnist-rest", train_size=6, test_size=4, md5={}, test_range=(2, 6),
              folder="qm")
    ds = load_dataset("tiny-qmnist", tmp_path / "data")
    assert ds.train_labels.tolist() == [3, 1, 4, 1, 5, 9] and ds.verified == "structure"
    rest = load_dataset("tiny-qmnist-rest", tmp_path / "data")
    assert rest.test_labels.tolist() == [4, 1, 5, 9]
    np.testing.assert_array_equal(rest.test_images, images[2:])


def test_kuzushiji49_npz_download_and_balanced_accuracy(tmp_path: Path, registered: list[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    src = tmp_path / "src"
    src.mkdir()
    info0 = datasets.get_info("kuzushiji-49")
    x = np.stack([_glyph_l()] * 5)
    arrays = {"train_images": x, "train_labels": np.array([0, 0, 0, 48, 7], np.uint8),
              "test_images": x[:2], "test_labels": np.array([48, 0], np.uint8)}
    for key, array in arrays.items():
        np.savez_compressed(src / info0.files[key], arr_0=array)
    md5 = {info0.files[k]: _md5(src / info0.files[k]) for k in arrays}
    info = _register(registered, "kuzushiji-49", "tiny-k49", train_size=5, test_size=2, md5=md5)
    gen = _serve(src)
    url = next(gen)
    try:
        datasets.download_dataset(info, tmp_path / "data" / "tiny-k49", mirrors=[f"{url}/good/"], timeout=5)
    finally:
        next(gen, None)
    ds = load_dataset("tiny-k49", tmp_path / "data")
    assert ds.verified == "md5" and ds.train_labels.tolist() == [0, 0, 0, 48, 7] and _is_l(ds.test_images[0])
    assert ds.info.metric == "balanced_accuracy"
    np.savez_compressed(tmp_path / "data" / "tiny-k49" / info0.files["test_labels"], labels=arrays["test_labels"])
    info2 = _register(registered, "kuzushiji-49", "tiny-k49b", train_size=5, test_size=2, md5={}, folder="tiny-k49")
    with pytest.raises(DataError, match="no array 'arr_0' in this .npz .it has: labels"):
        load_dataset(info2.name, tmp_path / "data")


def test_balanced_accuracy_is_the_mean_class_recall() -> None:
    import torch

    from mnistlab.run import Split, dataset_metrics

    y = torch.tensor([0, 0, 0, 0, 1, 2])
    data = Split(y.to(torch.uint8), y, None, None, y.to(torch.uint8), y, False, 3, metric="balanced_accuracy")
    probs = np.eye(3, dtype=np.float32)[[0, 0, 0, 0, 0, 2]]  # class 1 missed: plain accuracy 5/6
    assert dataset_metrics(data, probs) == {"metric": "balanced_accuracy", "test_balanced_accuracy": pytest.approx(2 / 3)}
    data.metric = "accuracy"
    assert dataset_metrics(data, probs) == {}


def test_kmnist_loads_from_its_npz_files_too(tmp_path: Path, registered: list[str]) -> None:
    info0 = datasets.get_info("kmnist")
    folder = tmp_path / "data" / "tiny-kmnist"
    folder.mkdir(parents=True)
    x = np.stack([_glyph_l()] * 3)
    for key, array in {"train_images": x, "train_labels": np.array([0, 5, 9], np.uint8),
                       "test_images": x[:1], "test_labels": np.array([9], np.uint8)}.items():
        np.savez(folder / info0.alt_files[key], arr_0=array)
    _register(registered, "kmnist", "tiny-kmnist", train_size=3, test_size=1)
    ds = load_dataset("tiny-kmnist", tmp_path / "data")
    assert ds.train_labels.tolist() == [0, 5, 9] and _is_l(ds.train_images[1])
    assert ds.info.romanized[9] == "wo" and ds.info.class_names[9] == "を"


def test_kmnist_idx_checked_against_the_published_md5(tmp_path: Path, registered: list[str]) -> None:
    folder = tmp_path / "data" / "tiny-kmnist-idx"
    folder.mkdir(parents=True)
    x = np.stack([_glyph_l()] * 2)
    for key, array in {"train_images": x, "train_labels": np.array([1, 2], np.uint8),
                       "test_images": x, "test_labels": np.array([3, 4], np.uint8)}.items():
        write_idx(folder / (CANONICAL_FILES[key] + ".gz"), array)
    md5 = {p.name: _md5(p) for p in folder.iterdir()}
    _register(registered, "kmnist", "tiny-kmnist-idx", train_size=2, test_size=2, md5=md5)
    assert load_dataset("tiny-kmnist-idx", tmp_path / "data").verified == "md5"
    status = datasets.dataset_status("tiny-kmnist-idx", tmp_path / "data")
    assert status.verified and status.check == "md5" and status.size == sum(p.stat().st_size for p in folder.iterdir())
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.array([3, 5], np.uint8))  # same structure, one label changed
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: MD5 .* differs"):
        load_dataset("tiny-kmnist-idx", tmp_path / "data")


def test_show_data_on_a_kuzushiji_style_dataset(tmp_path: Path, registered: list[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from mnistlab.cli import main

    info0 = datasets.get_info("kmnist")
    folder = tmp_path / "data" / "tiny-kmnist-show"
    folder.mkdir(parents=True)
    x = np.stack([_glyph_l()] * 4)
    for key, array in {"train_images": x, "train_labels": np.array([0, 3, 9, 9], np.uint8),
                       "test_images": x[:1], "test_labels": np.array([9], np.uint8)}.items():
        np.savez(folder / info0.alt_files[key], arr_0=array)
    _register(registered, "kmnist", "tiny-kmnist-show", train_size=4, test_size=1)
    monkeypatch.chdir(tmp_path)
    assert main(["show-data", "tiny-kmnist-show", "--data-dir", str(tmp_path / "data"), "--rows", "2", "--cols", "2",
                 "--index", "2"]) == 0
    assert (tmp_path / "tiny-kmnist-show-samples.png").is_file()
    assert (tmp_path / "tiny-kmnist-show-samples-image-2.png").is_file()


# --------------------------------------------------------------------------------------------
# A fresh user's findings (issue 19)


def test_missing_files_offline_say_where_which_files_and_how_to_get_them(tiny, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    info, _ = tiny
    monkeypatch.delenv("MNISTLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MNISTLAB_MIRRORS", "http://127.0.0.1:9/")  # nothing listens there: offline
    with pytest.raises(DataError) as exc:
        load_dataset("tiny-test", tmp_path / "mine")
    text = str(exc.value)
    assert "\n" not in text and "the download failed" in text and "127.0.0.1:9" in text
    for folder in (tmp_path / "mine" / "tiny-test", tmp_path / "cache" / "mnistlab" / "tiny-test", info.system_dirs[0]):
        assert str(folder) in text  # every folder it looked in
    assert all(name + ".gz" in text for name in info.files.values())  # the files expected there
    assert "--data-dir" in text and "MNISTLAB_DATA_DIR" in text  # and how to point at them
    with pytest.raises(DataError, match=r"files not found \(--data-dir is '.*mine', which is no folder\): looked in .* "
                                        r"for train-images-idx3-ubyte\.gz"):
        load_dataset("tiny-test", tmp_path / "mine", download=False)
    (tmp_path / "mine").mkdir()  # a folder, empty: not said to be none
    with pytest.raises(DataError, match=r"files not found: looked in .* for train-images-idx3-ubyte\.gz"):
        load_dataset("tiny-test", tmp_path / "mine", download=False)
    # helper-140: a mistyped MNISTLAB_DATA_DIR is said where `mnistlab run` (no warning of it: it may be
    # the Ray workers' folder) fails to find the files
    monkeypatch.setenv("MNISTLAB_DATA_DIR", str(tmp_path / "mnie"))
    with pytest.raises(DataError, match=r"files not found \(MNISTLAB_DATA_DIR is '.*mnie', which is no folder\): "):
        load_dataset("tiny-test", download=False)


def test_an_html_page_saved_as_a_dataset_file_is_named_as_such_not_an_md5_mismatch(
        tiny, tmp_path: Path, registered: list[str]) -> None:
    info, src = tiny
    md5 = {f + ".gz": _md5(src / (f + ".gz")) for f in info.files.values()}
    _register(registered, "tiny-test", "tiny-md5", sha256={}, md5=md5, system_dirs=())
    folder = tmp_path / "data" / "tiny-md5"
    _place(src, folder)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"<!DOCTYPE html>\n<html><body>Moved</body></html>\n")
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: is an HTML page, not IDX data") as exc:
        load_dataset("tiny-md5", tmp_path / "data", download=False)
    assert "MD5" not in str(exc.value)


def test_a_subset_larger_than_the_training_set_warns_and_trains_on_all(data_dir) -> None:
    from mnistlab.config import parse_run_config
    from mnistlab.errors import DataWarning
    from mnistlab.run import prepare_data

    cfg = parse_run_config({"dataset": "mnist", "model": "seed000-dense", "data": {"subset": 99_999_999_999}})
    with pytest.warns(DataWarning, match=r"data.subset = 99,999,999,999 is more than the 60,000 training images"):
        data = prepare_data(cfg, data_dir)
    assert len(data.train_y) == 60_000


def test_a_recorded_runs_dataset_is_read_where_the_run_read_it(data_dir, tmp_path, monkeypatch) -> None:
    """helper-206: `card RUN` without --data-dir or MNISTLAB_DATA_DIR tried a download (its per-class
    section a page of mirror errors), though the run recorded the folder it read the files from."""
    from mnistlab.datasets import run_dataset
    from mnistlab.run import train
    from mnistlab.store import RunStore

    store = RunStore(tmp_path / "store")
    run = train("mnist", "seed000-dense", 1, data_dir=data_dir, store=store, subset=600, progress="none")
    record = store.get(run.run_id)
    monkeypatch.delenv("MNISTLAB_DATA_DIR", raising=False)
    ds = run_dataset(record.config, None, record.env)
    assert len(ds.test_labels) == 10_000 and str(data_dir) in ds.source
    env = {**record.env, "data": {**record.env["data"], "source": str(tmp_path / "gone") + " (--data-dir)"}}
    with pytest.raises(DataError):  # a folder gone: the search as before (no mirror here)
        run_dataset(record.config, None, env)
