"""Key paths into a config: how an override's key (``"model.layers[0].filters"``, ``"train.lr"``)
names a place in a nested table, and how a value is set there.

A key path is a tuple of parts: a table's key, a position in a list (``"0"``, ``"-1"``) or, at the
end, a slice (``"2:4"``: its items replaced by a list). `--set`, an experiment's variants and grids
and a search's parameters all write their keys so; one module says how, for the config
(:mod:`mnistlab.config`) and the experiment file (:mod:`mnistlab.experiments`) alike::

    tree = {"model": {"layers": [{"type": "Dense", "units": 8}]}}
    set_at(tree, key_path("model.layers[0].units"), 16)    # -> ("model", "layers", "0", "units")
    written_key(("model", "layers", "0", "units"))        # -> "model.layers[0].units"
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mnistlab._toml import POSITION_RE
from mnistlab.errors import SpecError, show

__all__ = ["check_slice_value", "is_position", "is_slice", "key_path", "reaches_into_layers", "set_at", "slice_bounds",
           "slices_alone", "written_key"]


def key_path(dotted: str) -> tuple[str, ...]:
    """The path an override's key names: ``"model.layers[0].filters"`` -> ``("model", "layers", "0",
    "filters")``. A position in a list is written ``[0]`` (or ``.0``); ``[-1]`` counts from the end
    and is made a plain position where the key is checked against the base (:func:`mnistlab.experiments.base_value`)."""
    return tuple(POSITION_RE.sub(r".\1", dotted).split("."))


def is_position(part: str) -> bool:
    """Whether a key part names a position in a list: at most 9 ASCII digits, perhaps after a minus."""
    return re.fullmatch(r"-?[0-9]{1,9}", part) is not None


def is_slice(part: str) -> bool:
    """Whether a key part names a slice of a list, as Python writes one without a step: ``2:4``,
    ``2:``, ``:-1`` (each bound at most 9 digits)."""
    return re.fullmatch(r"(-?[0-9]{1,9})?:(-?[0-9]{1,9})?", part) is not None


def slice_bounds(part: str, size: int) -> tuple[int, int]:
    """A slice part's (start, stop) in a list of ``size`` items, a negative bound counted from the
    end. Raises ValueError, saying why, for a bound outside the list or a stop before the start
    (Python would clip them and change something else than written)."""
    lo, hi = ((int(x) if x else default) for x, default in zip(part.split(":"), (0, size)))
    lo, hi = lo + size if lo < 0 else lo, hi + size if hi < 0 else hi
    if not 0 <= lo <= size or not 0 <= hi <= size:
        raise ValueError(f"[{part}] reaches past a list of {size} (bounds 0 to {size}, or negative from the end)")
    if hi < lo:
        raise ValueError(f"[{part}] stops before it starts")
    return lo, hi


def written_key(path: Sequence[str | int]) -> str:
    """A key path as a user writes it: ``("model", "layers", "0", "filters")`` -> ``model.layers[0].filters``."""
    out = ""
    for part in map(str, path):
        out += f"[{part}]" if (is_position(part) or is_slice(part)) and out else ("." if out else "") + part
    return out


def set_at(tree: dict[str, Any], parts: Sequence[str], value: Any) -> tuple[str, ...]:
    """Set ``value`` at the key path ``parts`` of ``tree``, in place; return the path as it was
    set: positions made plain (``-1``: the last's index) and a slice's bounds written out (``2:4``).

    A missing table is created (a list where the next part is a position or a slice: a list left
    at its default, as ``callbacks``), so is one where the tree holds None, or ``augment = false``
    (the config's "none"); a value is never replaced by a table. A position names an item of its
    list; a slice (:func:`is_slice`) ends the path, and its items are replaced by ``value``, a list.
    Raises ValueError, saying why in words for the key's owner to prefix: a position outside its
    list, a key inside a value that is neither a table nor a list, a slice not at the end, past
    the list's end or stopping before it starts (:func:`slice_bounds`), a slice given no list."""
    node: Any = tree
    plain: list[str] = []
    for i, part in enumerate(parts):
        here, last = written_key(parts[:i]), i == len(parts) - 1
        if isinstance(node, list) and is_slice(part) and last:
            if not isinstance(value, list):
                raise ValueError(f"a slice takes a list (of layers: [] removes them), got {show(value)}")
            try:
                lo, hi = slice_bounds(part, len(node))
            except ValueError as exc:
                raise ValueError(f"{here}{exc}") from None
            node[lo:hi] = value
            return (*plain, f"{lo}:{hi}")
        step: Any = part  # a key, or a position made plain
        if isinstance(node, list):
            if not (is_position(part) and -len(node) <= int(part) < len(node)):
                raise ValueError(f"{here} is a list of {len(node)}: give a position 0 to {len(node) - 1} (-1: the last)"
                                 if node else f"{here} is empty: it has no position {part} ({here}[0:0] puts items in)")
            step = int(part) % len(node)
        elif not isinstance(node, dict):
            raise ValueError(f"{here} is not a table")
        plain.append(str(step))
        if last:
            node[step] = value
            break
        child = node[step] if isinstance(node, list) else node.get(step)
        if child is None or (child is False and tuple(plain) == ("augment",)):
            child = [] if is_position(parts[i + 1]) or is_slice(parts[i + 1]) else {}
            node[step] = child
        elif isinstance(child, str) and str(step).endswith("_regularizer"):  # "l2": its table, so that ".l1" sets
            from mnistlab.specs import penalty_table  # a factor of it (depthwise_ and pointwise_ too)

            child = node[step] = penalty_table(child)
        elif isinstance(child, str) and tuple(plain) == ("train", "schedule"):  # "cosine": its table, so that
            child = node[step] = {"type": child.strip().lower()}  # ".min_lr" sets one of its settings (helper-253)
        node = child
    return tuple(plain)


def check_slice_value(path: tuple[str, ...], value: Any, label: str, at: tuple[str | int, ...], source: str) -> None:
    """SpecError (``label``: where it is written) unless ``value`` can replace the slice ``path``
    (its bounds plain, ``2:4``): a list, and not one that changes nothing (``[2:2] = []``)."""
    if not isinstance(value, list):
        raise SpecError(f"{label}: {written_key(path)} takes a list (of layers: [] removes them), got {show(value)}",
                        path=at, source=source)
    lo, _, hi = path[-1].partition(":")
    if lo == hi and not value:
        raise SpecError(f"{label}: {written_key(path)} = [] changes nothing: the slice is empty", path=at, source=source)


def slices_alone(keys: Iterable[str], source: str, where: str, at: tuple[str | int, ...]) -> None:
    """SpecError where ``keys`` (a variant's with its grids', a search's) replace a slice of a list
    and name another key in that list (or the slice twice): the slice moves the items after it, so
    a position beside it is ambiguous."""
    paths = [key_path(k) for k in keys]
    for i, path in enumerate(paths):
        if not is_slice(path[-1]):
            continue
        if other := next((p for j, p in enumerate(paths) if j != i and p[:len(path) - 1] == path[:-1]), None):
            raise SpecError(f'{source}: {where}: "{written_key(path)}" and "{written_key(other)}" both change '
                            f"{written_key(path[:-1])}: a slice moves the items after it, so a position beside it is "
                            "ambiguous; give the changed items in the slice's list", path=(*at, *other),
                            source=source)


def reaches_into_layers(model: Any, overrides: Mapping[str, Any]) -> bool:
    """Whether an override names a key inside a model the base gives by name or in a short form."""
    if isinstance(model, Mapping) and "layers" in model:
        return False
    inner = [key_path(k)[1:] for k in overrides if key_path(k)[0] == "model" and len(key_path(k)) > 1]
    return any(p[0] == "layers" or not isinstance(model, Mapping) for p in inner)
