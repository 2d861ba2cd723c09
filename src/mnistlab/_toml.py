"""TOML reading and writing that works on Python 3.10 (tomli) and 3.11+ (tomllib)."""

from __future__ import annotations

import bisect
import json
import os
import re
import sys
import unicodedata
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

import tomli_w

from mnistlab.errors import SpecError, clip, plain_number
from mnistlab.files import not_utf8_said

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


def loads_toml(text: str, *, source: str = "<string>") -> dict[str, Any]:
    """Parse TOML text; a syntax error becomes a one-line SpecError naming the source and line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"at line (\d+)", str(exc))  # (Python 3.11's error has no lineno attribute)
        lines = text.splitlines()
        line = lines[int(at.group(1)) - 1] if at and 0 < int(at.group(1)) <= len(lines) else ""
        hint = (f' (a key with a position is quoted: "{m.group(1)}" = ...)'
                if (m := re.match(r"\s*([A-Za-z0-9_.\-]+\[[^\]=]*\][^=\s]*)\s*=", line)) else
                _typeset(line) or _not_toml(text, str(exc), line) or _python_words(str(exc), line) or _twice(text, str(exc)))
        said = re.sub(r"Cannot declare \(([^)]*)\) twice",  # ('variants',): a Python tuple, said as TOML's [variants]
                      lambda m: "Cannot declare [" + ".".join(re.findall(r"'([^']*)'", m.group(1))) + "] twice", str(exc))
        raise SpecError(f"{source}: invalid TOML: {said}{hint}", source=source) from None
    except RecursionError:  # hostile nesting such as a = [[[[...: tomllib recurses per level
        raise SpecError(f"{source}: invalid TOML: nested too deeply", source=source) from None


# what a word processor or a mail program puts in for TOML's own characters (helper-177: "Invalid value")
_TYPESET = {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'", "\u2019": "'", "\u00a0": "a space",
            "\u2002": "a space", "\u2003": "a space", "\u2009": "a space", "\u202f": "a space", "\u2013": "-",
            "\u2212": "-"}


def _not_toml(text: str, error: str, line: str) -> str:
    """What a TOML syntax error may mean, said after it (helper-193, a class's files): a Jupyter
    notebook saved as .toml, lines ended by a lone CR (an old Mac editor's), a string
    whose closing quote is missing; "" otherwise."""
    if text.lstrip().startswith("{") and '"nbformat"' in text:
        return " (it is a Jupyter notebook, JSON; a file of settings is TOML, as recipes/quickstart.toml is)"
    if "\r" in text and "\n" not in text:
        return " (its lines end in a lone CR, an old Mac editor's: save it with LF or CRLF line ends)"
    if "Illegal character '\\n'" in error and line.count('"') % 2 == 1:
        return " (a string without its closing quote)"
    return ""


def _python_words(error: str, line: str) -> str:
    """What a value TOML refused means where it is written as Python or Keras code writes it
    (helper-259, a class's files): a tuple ``(3, 3)``, ``True``/``False``, ``None``, a bare word
    (``relu``), a number without its leading 0 (``.01``), ``key: value``; "" otherwise."""
    col = re.search(r"column (\d+)", error)
    rest = line[int(col.group(1)) - 1:].lstrip() if col else ""
    if "Invalid value" in error and rest:
        if rest.startswith("("):
            return " (a Python tuple: TOML writes a list in brackets, as [3, 3])"
        if call := re.match(r"([A-Za-z_][A-Za-z0-9_]*)\(", rest):  # EarlyStopping(patience=2): Keras's Python
            return (f' (a Python call: TOML writes a layer or callback as a table, {{ type = "{clip(call.group(1), 30)}", '
                    "... }, each argument a key = value)")
        if word := re.match(r"[A-Za-z_][A-Za-z0-9_\-]*", rest):
            w = word.group(0)
            if w in ("True", "False"):
                return f" (Python's {w}: TOML writes {w.lower()})"
            if w in ("None", "null", "nil"):
                return " (TOML has no None or null: leave the key out for its default)"
            return f' (a word is quoted in TOML: "{clip(w, 30)}")'
        if re.match(r"[-+]?\.\d", rest):
            return " (a TOML number starts with a digit: 0.01, not .01)"
    if "Expected '=' after a key" in error and rest.startswith(":"):
        return " (TOML writes key = value, not key: value)"
    if "Invalid initial character for a key part" in error and rest.startswith("}"):
        return " (an inline table { ... } takes no comma after its last key)"
    if "Unclosed inline table" in error:  # the line ends there (a table over lines), or a comma is missing
        if not rest or rest.startswith("#"):
            return " (an inline table { ... } stays on one line: for more lines, a [base.train]-style table of its own)"
        return " (an inline table's keys are separated by commas: { epochs = 1, lr = 0.1 })"
    return ""


def _twice(text: str, error: str) -> str:
    """Where a TOML file gives a key twice in one table (tomllib says only "Cannot overwrite a value", at
    the second's line or at the end of the document: helper-259) or declares a table twice: `` (the key "epochs" is given
    twice in [base.train], at lines 9 and 12)``; "" where no such key is found."""
    if declared := re.search(r"Cannot declare \(([^)]*)\) twice", error):
        name = ".".join(re.findall(r"'([^']*)'", declared.group(1)))
        if name in ("variants", "committees", "base.callbacks"):
            return f" (a list of tables, one per entry, is written with two brackets: [[{name}]])"
        return f" (a table is declared once: put the keys of both [{clip(name, 40)}] together)"
    if "Cannot overwrite a value" not in error:
        return ""
    at = re.search(r"at line (\d+)", error)  # tomllib's line of the second (at the end of the document: none)
    table, seen, quote = "", dict[str, int](), ""
    for n, raw in enumerate(text.splitlines(), 1):
        if quote:  # inside a multi-line string: no keys there (the review of session 59)
            quote = "" if raw.count(quote) % 2 else quote
            continue
        if head := re.match(r"\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$", raw):
            table, seen = head.group(2), {}  # (each [[x]] a new table too)
        elif key := re.match(r"""\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.\-]+)\s*=""", raw):
            name = key.group(1).strip("\"'")
            if name in seen and (at is None or int(at.group(1)) == n):
                where = f" in [{table}]" if table else ""
                return f' (the key "{clip(name, 40)}" is given twice{where}, at lines {seen[name]} and {n})'
            seen[name] = n
        quote = next((q for q in ('"""', "'''") if raw.count(q) % 2), "")  # a multi-line string opened here
    return ""


def _typeset(line: str) -> str:
    """`` (its “ is a typographic quote: write ")`` where the line TOML refused holds a character a
    word processor puts in for one TOML reads (curly quotes, a no-break space, a dash); "" otherwise."""
    for at, c in enumerate(line):
        if c in _TYPESET and not _in_a_string(line, at):
            name = unicodedata.name(c, "character").lower() if _TYPESET[c] == "a space" else c
            return f" (its {name} (U+{ord(c):04X}) is typeset, as a word processor or mail writes it: write {_TYPESET[c]})"
    return ""


def _in_a_string(line: str, at: int) -> bool:
    """Whether position ``at`` of a TOML line lies inside a straight-quoted string (or a comment)."""
    quote = None
    for c in line[:at]:
        if quote is None and c == "#":
            return True
        if c in "\"'" and (quote is None or quote == c):
            quote = None if quote == c else c
    return quote is not None


def loads_json(text: str, *, source: str = "<string>") -> Any:
    """``text`` parsed as JSON (a model spec, or a run's recorded ``config.json``). Raises SpecError,
    one line: where the JSON is invalid (line and column), whether the file ends there, or a key
    given twice in one object (which TOML refuses too)."""
    def no_twice(pairs: list[tuple[str, Any]]) -> dict[str, Any]:  # as TOML refuses a key given twice
        out = dict(pairs)
        if len(out) < len(pairs):
            counts: dict[str, int] = {}
            for k, _ in pairs:
                counts[k] = counts.get(k, 0) + 1
            twice = next(k for k, n in counts.items() if n > 1)
            raise SpecError(f'{source}: invalid JSON: the key "{clip(twice, 40)}" is given twice in one object',
                            source=source)
        return out

    try:
        return json.loads(text, object_pairs_hook=no_twice)
    except json.JSONDecodeError as exc:
        cut = " (the file ends there: cut short?)" if exc.pos >= len(text.rstrip()) else ""
        raise SpecError(f"{source}: invalid JSON: {exc.msg.removesuffix(' at')} at line {exc.lineno} column "
                        f"{exc.colno}{cut}", source=source) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer with thousands of digits
        raise SpecError(f"{source}: invalid JSON: {clip(exc, 80)}", source=source) from None


def toml_value(text: str) -> Any:
    """``text`` read as the one TOML value written after ``key =`` on a line: ``2`` an int, ``2.0``
    a float, ``[0.9, 1.2]`` a list, ``true``, ``"a"``. ValueError when it is none: not TOML
    (tomllib's TOMLDecodeError is one), nested too deeply, or more than one line."""
    if "\n" in text or "\r" in text:
        raise ValueError("one value, on one line")
    try:
        return tomllib.loads(f"v = {text.strip()}")["v"]
    except RecursionError:  # hostile nesting: [[[[...
        raise ValueError("nested too deeply") from None


def plain_data(obj: Any) -> Any:
    """``obj`` with every NumPy scalar in it (``np.int64(10)``, ``np.float32(0.5)``, ``np.bool_``)
    as the Python value it holds, through nested tables, lists and tuples: what a Python caller
    computed with NumPy is the number a file writes (helper-125: "units must be an integer, got
    integer 10"), as Keras takes it. Other values as they are."""
    if isinstance(obj, Mapping):
        return {k: plain_data(v) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a namedtuple takes its fields one by one
        return type(obj)(*(plain_data(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain_data(v) for v in obj)
    return plain_number(obj)


def inline_value(value: Any, what: str, example: str, *, arrays: bool = False) -> Any:
    """``value`` as given, or, where it is text starting with ``{`` (or ``[`` with ``arrays``), the
    value it writes inline, read as JSON (Keras's ``model.to_json()`` too) or else as a TOML inline
    table or array, as a config file writes it. SpecError, one line naming ``what`` and showing the
    ``example``, for neither. What `--model` and `--dataset` take, and ``train(model=...)``."""
    if isinstance(value, str):
        value = value.lstrip("\ufeff")  # a byte-order mark a file's text began with (helper-126)
    if not (isinstance(value, str) and value.lstrip().startswith(("{", "[") if arrays else "{")):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError) as exc:
        as_json = exc
    if '":' in value:  # written as JSON (a Keras model's to_json()): JSON's reader says what is wrong
        raise SpecError(f"the {what} is written as JSON but does not read as JSON: {clip(as_json, 120)}") from None
    try:
        return toml_value(value)
    except (ValueError, RecursionError) as exc:
        raise SpecError(f"the {what} looks written inline but is neither JSON nor a TOML inline table "
                        f"({clip(exc, 80)}): write it as '{example}'") from None


def read_text_file(path: str | os.PathLike, *, what: str = "a config file", max_bytes: int = 4 << 20) -> str:
    """The text of a user's file, or a one-line SpecError saying what is wrong with it.

    Refuses what would hang or flood a reader: FIFOs and devices, files over ``max_bytes``,
    binary content (invalid UTF-8 or NUL bytes), UTF-16 text. A UTF-8 byte-order mark is read past.
    """
    p = Path(path)
    try:
        if p.exists() and not p.is_dir() and not p.is_file():
            raise SpecError(f"{p}: not a regular file", source=str(p))  # a FIFO named *.toml would block forever
        size = p.stat().st_size
        if size > max_bytes:
            raise SpecError(f"{p}: too large for {what} ({size:,} bytes; at most {max_bytes:,})", source=str(p))
        raw = p.read_bytes()
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise SpecError(f"{p}: a UTF-16 text file: save it as UTF-8", source=str(p))
        text = raw.decode("utf-8-sig")  # a byte-order mark (Windows Notepad's UTF-8) is no part of the text
    except FileNotFoundError:
        raise SpecError(f"{p}: no such file", source=str(p)) from None
    except IsADirectoryError:
        raise SpecError(f"{p}: is a folder, not a file", source=str(p)) from None
    except UnicodeDecodeError:
        raise SpecError(f"{p}: {not_utf8_said(raw) or 'not a text file (invalid UTF-8)'}", source=str(p)) from None
    except OSError as exc:
        raise SpecError(f"{p}: cannot read: {exc.strerror or exc}", source=str(p)) from None
    except ValueError:  # e.g. an embedded NUL byte in the path itself
        raise SpecError(f"{ascii(str(p))[:80]}: not a valid file path") from None
    if "\x00" in text:
        raise SpecError(f"{p}: not a text file (contains NUL bytes)", source=str(p))
    return text


def load_toml(path: str | os.PathLike, *, what: str = "a config file") -> dict[str, Any]:
    """Read a TOML file; a missing, unreadable or malformed file raises SpecError."""
    return loads_toml(read_text_file(path, what=what), source=str(path))


def dumps_toml(data: dict[str, Any]) -> str:
    """Serialise plain data to TOML (None values are dropped, as TOML has no null), an array of
    plain values on one line where it fits (``input_shape = [28, 28, 1]``, not one number a line
    as tomli_w writes every array)."""
    text = tomli_w.dumps(_drop_none(data))
    short = _SCALAR_ARRAY.sub(_one_line, text)
    return short if short == text or tomllib.loads(short) == tomllib.loads(text) else text  # the same data, or as it was


# tomli_w's array of plain values: "key = [" then one indented value a line, each with a comma, then "]".
_SCALAR_ARRAY = re.compile(r"= \[\n((?:    [^\n\[\]{}]*,\n)+)\]$", re.M)


def _one_line(match: re.Match[str]) -> str:
    values = [line.strip().removesuffix(",") for line in match.group(1).splitlines()]
    joined = f"= [{', '.join(values)}]"
    return joined if len(joined) <= 100 else match.group(0)


def _drop_none(value: Any) -> Any:
    """``value`` without its None values, nor the tables that held only None values (``evaluate =
    { tta = null }``: an empty ``[evaluate]`` says nothing either; a table written empty stays)."""
    if isinstance(value, dict):
        kept = {k: _drop_none(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in kept.items() if not (isinstance(v, dict) and not v and value[k])}
    if isinstance(value, (list, tuple)):
        return [_drop_none(v) for v in value]
    return value


# Both patterns are anchored and have no overlapping quantifiers: a hostile 1 MB line stays linear.
_HEADER = re.compile(r"^\s*(\[\[?)([^\]\n]*)\]\]?\s*(#.*)?$")
_KEY = re.compile(r'^\s*((?:"[^"\n]*"|\'[^\'\n]*\'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:"[^"\n]*"|\'[^\'\n]*\'|[A-Za-z0-9_\-]+))*)\s*=')


# A position or a slice written in brackets in a key (layers[0], layers[2:4]; layers[x] too, refused
# where the key is looked up): the one reading of brackets, for overrides, --set and line lookups.
POSITION_RE = re.compile(r'\[([^\]."]*)\]')


def _key_parts(dotted: str) -> list[str]:
    """``a."b.c".d`` -> ["a", "b", "c", "d"]: quoted dotted keys count as paths too (experiment
    overrides), a position as a part of its own (``"layers[0].filters"`` -> ["layers", "0", "filters"])."""
    parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([A-Za-z0-9_\-]+)', dotted)
    return [p for quoted, literal, bare in parts
            for p in POSITION_RE.sub(r".\1", quoted or literal or bare).split(".")]


def dotted_key(key: str) -> list[str] | None:
    """The parts of one TOML key (``train.lr``, ``"data".stratify``), None if ``key`` is not one."""
    m = _KEY.match(POSITION_RE.sub(r'."\1"', key) + " =")  # model.layers[0]: a position, as overrides write it
    return _key_parts(m.group(1)) if m else None


def key_line(text: str, path: list[str | int], *, exact: bool = False) -> int | None:
    """The 1-based line where the key at ``path`` is set (``["variants", 2, "train", "lr"]``).

    A light line scanner, not a parser: it follows ``[table]`` and ``[[array]]`` headers and
    ``key = value`` lines, and skips the inside of multi-line strings. When the key itself is not
    written in the file, the line of the first key written inside it is returned (a variant's
    ``"model.layers[2].kernel_size"`` for an error about ``model.layers[2]``), else that of the
    closest enclosing table (None with ``exact``), or a key beside it when that shares more of the
    path; inside an inline array or table written over several lines, the line of the element or
    key itself. None when not even a table around it is found. Used to point error messages at a
    line. A part of ``path`` that is a dotted key written in quotes (``"model.layers[-1].units"``,
    one name to TOML) is its parts, as the file's line is read.
    """
    path = [q for p in path for q in (_key_parts(f'"{p}"') if isinstance(p, str) and ("." in p or "[" in p) else [p])]
    counts: dict[tuple[str, ...], int] = {}
    table: list[str | int] = []
    best: tuple[float, int] | None = None  # (matched length, line)
    in_string = False
    for number, line in enumerate(text.splitlines(), start=1):
        quotes = line.count('"""') + line.count("'''")
        starts_inside, in_string = in_string, in_string != (quotes % 2 == 1)
        if starts_inside:
            continue
        if m := _HEADER.match(line):
            names = _indexed(list(_key_parts(m.group(2))), counts, array=m.group(1) == "[[")
            table, full = names, names
        elif m := _KEY.match(line):
            full = [*table, *_key_parts(m.group(1))]
        else:
            continue
        written, wanted = list(map(str, full)), list(map(str, path))
        # the key itself or a table around it; else a key inside it ("model.layers[2].kernel_size" = 20
        # for an error about model.layers[2]): closer than any table around, not the key itself
        n = (len(full) if _same(written, wanted[:len(full)]) else len(path) - 0.5 if _same(written[:len(path)], wanted)
             else -1)
        if n < 0:  # a key beside the one wanted ("model.layers[1].pool_size" = 20, whose change the error at
            # layers[2] is about): closer than a table around the part they share, not that table itself, where
            # they share an element of an array (variants[0]), not only a table (another variant's key)
            shared = next((i for i, (a, b) in enumerate(zip(written, wanted)) if not _same([a], [b])),
                          min(len(written), len(wanted)))
            n = shared - 0.75 if any(p.isdigit() for p in wanted[:shared]) else -1
        if n >= 0 and (best is None or n > best[0]):
            best = (n, number)
    if best is None or (exact and best[0] < len(path)):
        return None
    if isinstance(best[0], int) and 0 < best[0] < len(path) and _KEY.match(text.splitlines()[best[1] - 1]):
        # the key of an inline array or table around it (not a [table] header: its value is not on its line)
        return _inline_line(text, best[1], [str(p) for p in path[best[0]:]]) or best[1]
    return best[1]


def _indexed(names: list[str], counts: dict[tuple[str, ...], int], *, array: bool) -> list[str | int]:
    """A table header's path with the position of each array of tables it is inside: ``[variants.train]``
    is ``variants, 2, train`` in the third ``[[variants]]``, and ``[[variants.model.layers]]`` the next
    layer of that variant's model (helper-222: its errors were said at ``[variants.model]``'s line).
    ``counts`` holds each array's elements so far, keyed by its path with positions; ``array``: the
    header is ``[[...]]``, one more element of its array."""
    out: list[str | int] = []
    for i, name in enumerate(names):
        out.append(name)
        key = tuple(map(str, out))
        if i < len(names) - 1 and key in counts:  # inside the latest element of an array of tables
            out.append(counts[key] - 1)
    if array:
        key = tuple(map(str, out))
        counts[key] = counts.get(key, 0) + 1
        out.append(counts[key] - 1)
    return out


def _same(written: list[str], wanted: list[str]) -> bool:
    """Whether a key as written is the path wanted, a position from the end (``layers[-1]``, as an
    override writes it) standing for any position (the error's path counts from the start)."""
    return len(written) == len(wanted) and all(
        w == x or (w.startswith("-") and w[1:].isdigit() and x.isdigit()) for w, x in zip(written, wanted))


_INLINE_KEY = re.compile(r'\s*("[^"\n]*"|\'[^\'\n]*\'|[A-Za-z0-9_\-]+)\s*')
_INLINE_SEP = re.compile(r"\s*[=:]")  # after an inline table's key: = in TOML, : in JSON
_INLINE_SCALAR = re.compile(r"[^,\]}#\n]*")  # a number, a date, true: up to what ends it


def _inline_line(text: str, line: int, path: list[str]) -> int | None:
    """The line of ``path`` inside the inline value set on ``line`` (``layers = [`` and one layer a
    line below it: ``path`` ``["2", "activation"]`` is the third element's ``activation``), or
    None when the value is not found there. A scanner of TOML's inline arrays and tables, with
    strings and comments skipped; it follows ``path`` as far as the file writes it."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    return _value_line(text, text.index("=", starts[line - 1]) + 1, path, starts)


def json_line(text: str, path: Sequence[str | int]) -> int | None:
    """The 1-based line where the value at ``path`` (``["layers", 2, "units"]``) starts in a JSON
    document, as far as it follows ``path``; None when not even its first key is found."""
    return _value_line(text, 0, [str(p) for p in path], [0] + [m.end() for m in re.finditer("\n", text)])


def _value_line(text: str, pos: int, path: list[str], starts: list[int]) -> int | None:
    """The line of ``path`` inside the value that starts at ``pos`` (see :func:`_inline_line`): TOML's
    inline arrays and tables, or JSON (a key followed by ``:``, not ``=``)."""
    found: list[int] = []

    def skip(i: int) -> int:  # whitespace, newlines and comments
        while i < len(text):
            if text[i] in " \t\r\n":
                i += 1
            elif text[i] == "#":
                i = end if (end := text.find("\n", i)) >= 0 else len(text)
            else:
                break
        return i

    def value(i: int, rest: list[str] | None) -> int:
        i = skip(i)
        if rest is not None:
            found.append(bisect.bisect_right(starts, i))
        if i >= len(text):
            return i
        if text[i] in "\"'":
            quote = text[i:i + 3] if text[i:i + 3] in ('"""', "\'\'\'") else text[i]
            j = i + len(quote)
            while j < len(text) and not text.startswith(quote, j):
                j += 2 if text[j] == "\\" and quote[0] == '"' else 1
            return j + len(quote)
        if text[i] in "[{":
            close, k, i = "]" if text[i] == "[" else "}", 0, i + 1
            while (i := skip(i)) < len(text) and text[i] != close:
                if text[i] == ",":
                    i += 1
                    continue
                name = None
                if close == "}" and (m := _INLINE_KEY.match(text, i)):
                    name, i = _key_parts(m.group(1)), m.end()
                    while text.startswith(".", i) and (m := _INLINE_KEY.match(text, i + 1)):
                        name, i = name + _key_parts(m.group(1)), m.end()
                    i = m.end() if (m := _INLINE_SEP.match(text, i)) else len(text)
                here = rest is not None and (name == rest[:len(name)] if name else rest[:1] == [str(k)])
                i = value(i, rest[len(name) if name else 1:] if here and rest else None)
                k += 1
            return i + 1
        m = _INLINE_SCALAR.match(text, i)
        return m.end() if m else i + 1

    try:
        value(pos, path)
    except (ValueError, IndexError, RecursionError):
        return None
    return found[-1] if len(found) > 1 else None


def with_line(exc: SpecError, source: str, text: str) -> SpecError:
    """``exc`` with the line of its key path in ``text``, the file ``source`` holds:
    ``"f.toml: x: ..."`` becomes ``"f.toml:9: x: ..."`` (and ``.line`` is 9).

    The line is the one where ``exc.path`` is written, or else that of the closest enclosing table
    (:func:`key_line`; in a ``.json`` file, :func:`json_line`). ``exc`` comes back unchanged when it
    is about another source, has no path, does not start with ``"source: "``, or its path is not
    found. Never raises: it only decorates an error that is already being reported.
    """
    message = str(exc)
    if exc.source != source or not exc.path or not message.startswith(f"{source}: "):
        return exc
    line = line_of(text, exc.path, json=source.lower().endswith(".json"))
    if line is None:
        return exc
    return SpecError(f"{source}:{line}: {message[len(source) + 2:]}", path=exc.path, source=source, line=line)


def line_of(text: str, path: Sequence[str | int], *, json: bool = False) -> int | None:
    """The 1-based line of ``text`` (TOML, or JSON with ``json``) where the key ``path`` is written,
    or that of its closest enclosing table (:func:`key_line`, :func:`json_line`); None when not
    found. Never raises: a line number decorates an error already being reported."""
    try:
        return json_line(text, list(path)) if json else key_line(text, list(path))
    except Exception:  # noqa: BLE001 - a line number is a nicety; the error itself must get out
        return None
