"""The IDX file format (LeCun's MNIST files and their family), read and written.

An IDX file is a 4-byte magic number ``00 00 TT NN`` (``TT`` the type code, ``NN`` the number of
dimensions), ``NN`` big-endian uint32 dimensions, then the values, big-endian, row-major. The type
codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64. QMNIST's labels
are the one int32 (0x0C) file of the family: 8 columns per image.

When a file is not what its name promises, the error says in one line what it is instead:
gzip data without ``.gz``, raw IDX named ``.gz``, an HTML page (a mirror's error page), a zip
archive, or an IDX header written little-endian.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path
from typing import Protocol

import numpy as np

from mnistlab.errors import DataError

# The largest uncompressed IDX file we accept: guards against a hostile file (or gzip bomb)
# claiming gigabytes. The biggest canonical file (EMNIST byclass train images) is 547 MB.
MAX_IDX_BYTES = 768 * 1024 * 1024

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


class _Reader(Protocol):
    """A buffered binary stream: an open file, a GzipFile."""

    def read(self, size: int = -1, /) -> bytes: ...

    def peek(self, n: int, /) -> bytes: ...


def describe_bytes(head: bytes) -> str | None:
    """What the first bytes of a file say it is, for error messages: ``"gzip data"``,
    ``"a zip archive"``, ``"an HTML page"``, ``"an uncompressed IDX file"``, ``"an IDX file with a
    byte-swapped (little-endian) header"``, or None when they say nothing recognisable."""
    if head.startswith(GZIP_MAGIC):
        return "gzip data"
    if head.startswith(ZIP_MAGIC):
        return "a zip archive"
    text = head[:512].lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")) or b"<html" in text:
        return "an HTML page"
    if len(head) >= 4 and head[:2] == b"\0\0" and head[2] in IDX_DTYPES and 1 <= head[3] <= 4:
        return "an uncompressed IDX file"
    if len(head) >= 4 and head[2:4] == b"\0\0" and head[1] in IDX_DTYPES and 1 <= head[0] <= 4:
        return "an IDX file with a byte-swapped (little-endian) header"
    return None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzipped when the name ends in .gz) into a native-endian NumPy array.

    Shape: the file's dimensions; dtype: its type code's (uint8, int8, int16, int32, float32,
    float64). Raises DataError naming the file for anything wrong: missing, truncated gzip, bad
    magic, wrong length, or a file that is something else (see :func:`describe_bytes`).
    """
    return parse_idx(read_bytes(Path(path)), name=str(path))


def parse_idx(data: bytes, *, name: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file; see :func:`read_idx`."""
    if len(data) < 4:
        raise DataError(f"{name}: truncated: {len(data)} bytes, too short for an IDX header")
    header = _header_size(data[:4])
    if header is None:
        what = describe_bytes(data[:512])
        if what and what != "an uncompressed IDX file":
            raise DataError(f"{name}: not a (big-endian) IDX file: it is {what} (magic 0x{data[:4].hex()})")
        raise DataError(f"{name}: not an IDX file (bad magic number 0x{data[:4].hex()})")
    if len(data) < header:
        raise DataError(f"{name}: truncated: header needs {header} bytes, file has {len(data)}")
    expected = _claimed_size(data[:header], name, MAX_IDX_BYTES) - header
    dims = struct.unpack(f">{data[3]}I", data[4:header])
    dtype = IDX_DTYPES[data[2]]
    actual = len(data) - header
    if actual < expected:
        raise DataError(f"{name}: truncated: dimensions {dims} need {expected} data bytes, found {actual}")
    if actual > expected:
        raise DataError(f"{name}: unexpected bytes after the data (dimensions {dims} need {expected} bytes)")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))  # a writable, native-endian copy


def idx_bytes(array: np.ndarray) -> bytes:
    """The uncompressed IDX bytes of ``array`` (a dtype with an IDX type code; DataError otherwise)."""
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise DataError(f"IDX cannot hold dtype {array.dtype}")
    code = codes[native]
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(IDX_DTYPES[code], copy=False).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzipped when the name ends in .gz). Used by tests and tools."""
    try:
        payload = idx_bytes(array)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(payload)


def read_bytes(path: Path, limit: int = MAX_IDX_BYTES) -> bytes:
    """The uncompressed bytes of ``path`` (gunzipped when named ``.gz``); DataError naming the file
    for a missing, unreadable or damaged file, and for a file whose content contradicts its name.

    Reads no further than an IDX header says the file holds (see :func:`read_limited`): a gzip bomb
    or a file of something else is refused after its first bytes, not after ``limit`` of them.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(512)
            gz = path.suffix == ".gz"
            _check_compression(path, head, gz)
            f.seek(0)
            if gz:
                with gzip.open(f, "rb") as g:
                    data = read_limited(g, str(path), limit)
            else:
                data = read_limited(f, str(path), limit)
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
    return data


def read_limited(stream: _Reader, name: str, limit: int = MAX_IDX_BYTES) -> bytes:
    """The bytes of ``stream``, read no further than its IDX header says it holds, plus one byte
    (so that :func:`parse_idx` sees a file longer than its dimensions). A stream whose first bytes
    are no IDX header is read for 512 bytes, enough for parse_idx to say what it is. The header is
    peeked, not read: the data then come in one read, as fast as reading the whole stream.

    Raises DataError naming ``name`` when the header claims more than ``limit`` bytes.
    """
    head = stream.peek(4 + 4 * 4)[:4 + 4 * 4]  # a buffered stream's first bytes, left unread
    header = _header_size(head)
    if header is not None and len(head) >= header:
        return stream.read(_claimed_size(head, name, limit) + 1)
    if header is None and len(head) >= 4:
        return stream.read(512)
    head = stream.read(4)  # a buffer that held less than the header (a tiny chunk): read it as it comes
    if (header := _header_size(head)) is None:
        return head + stream.read(512 - len(head))
    head += stream.read(header - 4)
    return head if len(head) < header else head + stream.read(_claimed_size(head, name, limit) - header + 1)


def _header_size(head: bytes) -> int | None:
    """The length of the IDX header ``head`` begins with (its magic number read: ``00 00 TT NN``),
    None where its first 4 bytes are no IDX magic number."""
    if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in IDX_DTYPES or not 1 <= head[3] <= 4:
        return None
    return 4 + 4 * head[3]


def _claimed_size(head: bytes, name: str, limit: int) -> int:
    """The bytes the IDX file whose whole header is ``head`` claims to hold, header included;
    DataError naming ``name`` when its data claim more than ``limit`` bytes."""
    dims = struct.unpack(f">{head[3]}I", head[4:4 + 4 * head[3]])
    expected = int(np.prod(dims, dtype=np.float64)) * IDX_DTYPES[head[2]].itemsize
    if expected > limit:
        raise DataError(f"{name}: IDX header claims {expected} bytes of data (dimensions {dims}): refusing")
    return 4 + 4 * head[3] + expected


def _check_compression(path: Path, head: bytes, gz: bool) -> None:
    """Refuse, in one line, a file whose first bytes contradict its name."""
    what = describe_bytes(head)
    if gz and not head.startswith(GZIP_MAGIC):
        if what == "an uncompressed IDX file":
            raise DataError(f"{path}: is {what}, not gzip data: rename it without .gz")
        if what is not None:
            raise DataError(f"{path}: is {what}, not gzip data")
        raise DataError(f"{path}: corrupted gzip file (not gzip data: starts with 0x{head[:4].hex()})")
    if not gz and what == "gzip data":
        raise DataError(f"{path}: is gzip data but its name lacks .gz: rename it to {path.name}.gz")
