"""The user's decoded data kept on disk for later processes (mnistlab.data.read_cache), read through
the real loader on real files this test writes. A "later process" is this one with its in-process
reads forgotten (userdata's _READS and _DIGESTS: what a new process starts without)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnistlab.data import read_cache, userdata
from mnistlab.datasets import load_dataset
from mnistlab.errors import DataError


def _digits(root: Path, per_class: int = 6, seed: int = 0) -> Path:
    """A class folder of distinct noisy 12x12 images (so that any mix-up shows), 3 classes."""
    rng = np.random.default_rng(seed)
    for name in ("a", "b", "c"):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(root / name / f"{i:02d}.png")
    return root


def _later_process() -> None:
    userdata._READS.clear()
    userdata._DIGESTS.clear()


def _entries() -> list[Path]:
    return sorted(p for p in read_cache.root().iterdir() if p.is_dir()) if read_cache.root().is_dir() else []


def _same(a, b) -> None:  # noqa: ANN001
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.info.class_names == b.info.class_names and a.checksums == b.checksums


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # this test's entries alone
    _later_process()


def test_a_later_process_reads_a_folder_as_kept_the_same_arrays_and_checksums(tmp_path: Path) -> None:
    root = _digits(tmp_path / "digits")
    first = load_dataset({"folder": str(root)}, image_shape=(10, 10), seed=3)
    (entry,) = _entries()
    kept = (entry / "entry.json").stat()
    os.utime(entry / "entry.json", (1, 1))  # used long ago
    _later_process()
    again = load_dataset({"folder": str(root)}, image_shape=(10, 10), seed=3)
    _same(first, again)
    used = (entry / "entry.json").stat()  # read from the entry: marked used now, not written again
    assert used.st_ino == kept.st_ino and used.st_mtime > 1e9
    assert first.train_images.shape[1:] == (10, 10)
    _later_process()
    other_size = load_dataset({"folder": str(root)}, image_shape=(8, 8), seed=3)  # another input size: another entry
    assert other_size.train_images.shape[1:] == (8, 8) and len(_entries()) == 2


def test_a_folder_and_its_one_subfolder_are_other_reads(tmp_path: Path) -> None:
    """Review finding (helper-104): the same files under another folder are other classes (an
    archive unpacked as digits/digits/0..9): the entry of one is never the other's."""
    _digits(tmp_path / "outer" / "train")
    with pytest.raises(DataError, match="one class"):  # the outer folder: its one class folder, "train"
        load_dataset({"folder": str(tmp_path / "outer")}, image_shape=(12, 12), seed=0)
    _later_process()
    inner = load_dataset({"folder": str(tmp_path / "outer" / "train")}, image_shape=(12, 12), seed=0)
    assert inner.info.class_names == ("a", "b", "c")


def test_an_image_replaced_by_one_of_the_same_size_is_read_again(tmp_path: Path) -> None:
    root = tmp_path / "bmp"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(4):
            pixels = np.full((8, 8), 40 * i + (name == "b"), dtype=np.uint8)
            pixels[3:5, 3:5] = 200  # a shape: images each one flat shade are refused
            Image.fromarray(pixels).save(root / name / f"{i}.bmp")
    load_dataset({"folder": str(root)}, image_shape=(8, 8), seed=0)
    img = root / "a" / "0.bmp"
    size, when = img.stat().st_size, img.stat().st_mtime_ns
    Image.fromarray(np.full((8, 8), 255, dtype=np.uint8)).save(img)  # same size (BMP), its time put back
    os.utime(img, ns=(when, when))
    assert img.stat().st_size == size
    _later_process()
    ds = load_dataset({"folder": str(root)}, image_shape=(8, 8), seed=0)
    every = np.concatenate([ds.train_images, ds.test_images])
    assert (every.reshape(len(every), -1).min(axis=1) == 255).sum() == 1  # the new pixels, not the kept ones


def test_an_edited_added_or_removed_image_is_read_from_the_files(tmp_path: Path) -> None:
    root = _digits(tmp_path / "digits")
    load_dataset({"folder": str(root)}, image_shape=(12, 12), seed=0)
    img = root / "b" / "03.png"
    Image.fromarray(np.zeros((12, 12), dtype=np.uint8)).save(img)  # edited: now all black
    _later_process()
    ds = load_dataset({"folder": str(root)}, image_shape=(12, 12), seed=0)
    every = np.concatenate([ds.train_images, ds.test_images]).reshape(18, -1)
    assert (every.max(axis=1) == 0).sum() == 1  # the edit, not the kept read
    (root / "c" / "00.png").unlink()
    _later_process()
    ds = load_dataset({"folder": str(root)}, image_shape=(12, 12), seed=0)
    assert len(ds.train_images) + len(ds.test_images) == 17
    _digits(tmp_path / "more", per_class=1, seed=9)
    os.replace(tmp_path / "more" / "a" / "00.png", root / "a" / "99.png")  # added
    _later_process()
    ds = load_dataset({"folder": str(root)}, image_shape=(12, 12), seed=0)
    assert len(ds.train_images) + len(ds.test_images) == 18


@pytest.mark.parametrize("damage", ["truncated images", "garbage entry", "other count", "no entry file",
                                    "wrong dtype", "an npz as images", "labels of a huge shape"])
def test_a_damaged_entry_is_read_as_none_and_replaced(tmp_path: Path, damage: str) -> None:
    root = _digits(tmp_path / "digits")
    first = load_dataset({"folder": str(root)}, image_shape=(12, 12), seed=1)
    (entry,) = _entries()
    if damage == "truncated images":
        data = (entry / "images.npy").read_bytes()
        (entry / "images.npy").write_bytes(data[: len(data) // 2])
    elif damage == "garbage entry":
        (entry / "entry.json").write_bytes(b"\x00\xffnot json")
    elif damage == "other count":
        np.save(entry / "sha256.npy", np.array(["0" * 64] * 3, dtype="<U64"))
    elif damage == "no entry file":
        (entry / "entry.json").unlink()
    elif damage == "wrong dtype":
        np.save(entry / "images.npy", np.zeros((18, 12, 12), dtype=np.float32))
    elif damage == "an npz as images":  # review finding (helper-104): np.load gave an NpzFile, and it escaped
        with open(entry / "images.npy", "wb") as f:
            np.savez(f, x=np.zeros(3))
    else:  # ... and a header asking for 10**10 labels, a MemoryError: the header's length kept (its padding)
        data = (entry / "labels.npy").read_bytes()
        end = data.index(b"\n")
        header = data[:end].replace(b"(18,)", b"(10000000000,)", 1)
        header = header[:-9] if header.endswith(b" " * 9) else header
        assert len(header) == end
        (entry / "labels.npy").write_bytes(header + data[end:])
    _later_process()
    again = load_dataset({"folder": str(root)}, image_shape=(12, 12), seed=1)
    _same(first, again)
    kept = (entry / "entry.json").stat().st_ino
    _later_process()
    _same(first, load_dataset({"folder": str(root)}, image_shape=(12, 12), seed=1))
    assert (entry / "entry.json").stat().st_ino == kept  # kept whole again: this read was a hit


def test_a_cache_that_cannot_be_written_only_costs_speed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file"))
    root = _digits(tmp_path / "digits")
    first = load_dataset({"folder": str(root)}, image_shape=(12, 12), seed=0)
    _later_process()
    _same(first, load_dataset({"folder": str(root)}, image_shape=(12, 12), seed=0))


def test_a_csv_is_kept_too_with_its_sha256(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    rows = ["label," + ",".join(f"p{i}" for i in range(16))]
    rows += [f"{i % 2}," + ",".join(map(str, rng.integers(0, 256, 16))) for i in range(20)]
    csv = tmp_path / "d.csv"
    csv.write_text("\n".join(rows) + "\n")
    first = load_dataset(str(csv), image_shape=(4, 4), seed=0)
    (entry,) = _entries()
    kept = (entry / "entry.json").stat().st_ino
    _later_process()
    again = load_dataset(str(csv), image_shape=(4, 4), seed=0)
    _same(first, again)
    assert (entry / "entry.json").stat().st_ino == kept  # read from the entry, not written again
    assert set(again.checksums.values()) == {userdata.file_sha256(csv)}


def test_the_least_recently_used_entries_go_past_the_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(read_cache, "KEPT_ENTRIES", 2)
    roots = [_digits(tmp_path / f"d{i}", seed=i) for i in range(3)]
    load_dataset({"folder": str(roots[0])}, image_shape=(12, 12), seed=0)
    (first,) = _entries()
    load_dataset({"folder": str(roots[1])}, image_shape=(12, 12), seed=0)
    (second,) = set(_entries()) - {first}
    os.utime(second / "entry.json", (1, 1))  # d1's read used longest ago, though kept after d0's
    load_dataset({"folder": str(roots[2])}, image_shape=(12, 12), seed=0)
    assert len(_entries()) == 2 and first in _entries() and second not in _entries()
