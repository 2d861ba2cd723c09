"""TOML reading and writing that works on Python 3.10 (tomli) and 3.11+ (tomllib)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import tomli_w

from mnistlab.errors import SpecError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


def loads_toml(text: str, *, source: str = "<string>") -> dict[str, Any]:
    """Parse TOML text; a syntax error becomes a one-line SpecError naming the source and line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: invalid TOML: {exc}") from None
    except RecursionError:  # hostile nesting such as a = [[[[...: tomllib recurses per level
        raise SpecError(f"{source}: invalid TOML: nested too deeply") from None


def read_text_file(path: str | os.PathLike, *, what: str = "a config file", max_bytes: int = 4 << 20) -> str:
    """The text of a user's file, or a one-line SpecError saying what is wrong with it.

    Refuses what would hang or flood a reader: FIFOs and devices, files over ``max_bytes``,
    binary content (invalid UTF-8 or NUL bytes).
    """
    p = Path(path)
    try:
        if p.exists() and not p.is_dir() and not p.is_file():
            raise SpecError(f"{p}: not a regular file")  # a FIFO named *.toml would block forever
        size = p.stat().st_size
        if size > max_bytes:
            raise SpecError(f"{p}: too large for {what} ({size:,} bytes)")
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SpecError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise SpecError(f"{p}: is a folder, not a file") from None
    except UnicodeDecodeError:
        raise SpecError(f"{p}: not a text file (invalid UTF-8)") from None
    except OSError as exc:
        raise SpecError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except ValueError:  # e.g. an embedded NUL byte in the path itself
        raise SpecError(f"{ascii(str(p))[:80]}: not a valid file path") from None
    if "\x00" in text:
        raise SpecError(f"{p}: not a text file (contains NUL bytes)")
    return text


def load_toml(path: str | os.PathLike, *, what: str = "a config file") -> dict[str, Any]:
    """Read a TOML file; a missing, unreadable or malformed file raises SpecError."""
    return loads_toml(read_text_file(path, what=what), source=str(path))


def dumps_toml(data: dict[str, Any]) -> str:
    """Serialise plain data to TOML (None values are dropped, as TOML has no null)."""
    return tomli_w.dumps(_drop_none(data))


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_drop_none(v) for v in value]
    return value
