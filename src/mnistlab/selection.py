"""Choosing recorded runs by what they set and what they scored: `mnistlab runs --where lr=0.01`
(MLflow's ``search_runs(filter_string="params.lr = '0.01' and metrics.test_accuracy > 0.9")``)::

    mnistlab runs --where lr=0.01 --where "test_accuracy>0.9"
    mnistlab runs --where model=seed000-cnn --where "model.layers[0].filters=32"

A condition is ``KEY OP VALUE``, ``OP`` one of ``=`` (``==``), ``!=``, ``<``, ``<=``, ``>``, ``>=``.
``KEY`` is, in the order looked up: ``model`` (the model's name: a preset's, or ``(inline)``),
``dataset`` (as the tables name it), ``weights`` (the run or file a run started from), ``status``,
``seed``, ``experiment``, ``variant``, where it ran (``host``, ``device_name``, or any ``env.KEY``
of its environment: ``env.precision``, ``env.device``, ``env.torch``), a metric the run
recorded (``test_accuracy``, ``epochs_run``,
``train_seconds``...; a test score only of a run with a result, as the tables show it), else a
setting of its resolved config, dotted (``train.lr``, ``model.layers[0].filters``) or a train/data
field alone (``lr`` is ``train.lr``, as ``--set`` reads it); MLflow's ``params.lr`` and
``metrics.test_accuracy`` read as ``lr`` and ``test_accuracy``. ``VALUE`` is read as ``--set`` reads
one (TOML: ``0.01``, ``true``, ``"relu"``; a bare word is a string), then as the run's value is where
a string says one (``.01``, ``'0.01'``, ``False``, ``null``). Numbers compare as numbers
(``lr=0.001`` matches ``1e-3``); a number written with a decimal comma is refused (``lr=0,01``);
strings compare as written, case too (a word that matches only in another case is warned of).
``weights=none`` chooses the runs that started fresh. A run without the key matches no condition on
it. All conditions must hold.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mnistlab.errors import SpecError, clip, did_you_mean

if TYPE_CHECKING:
    from mnistlab.store import RunRecord

__all__ = ["Condition", "parse_condition", "selected", "sort_values"]

_OPS = ("!=", "<=", ">=", "==", "=", "<", ">")
_FIELDS = ("status", "seed", "experiment", "variant")
_ENV = ("host", "device_name")  # where it ran, by these names alone (helper-227: by machine); device and precision
# are train settings (``--where device=auto``): where a run ran on, ``env.device``, ``env.precision``
_MISSING = object()


@dataclass(frozen=True)
class Condition:
    """``key op value`` as written (``key`` as given, ``value`` read as TOML or a bare word)."""

    key: str
    op: str
    value: Any
    text: str

    def holds(self, found: Any) -> bool:
        """Whether a run whose value for ``key`` is ``found`` meets it (never where it has none). The
        value is read as the run's is where it can be (helper-205: ``lr='0.01'`` and ``use_ema=False``
        found nothing): a number written as a string, true/false in any case, null or none."""
        if found is _MISSING:
            return False
        value = _as(found, self.value)
        if _number(found) and _number(value):
            a, b = float(found), float(value)
            same = math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0) or a == b
            return {"=": same, "!=": not same, "<": a < b and not same, "<=": a <= b or same,
                    ">": a > b and not same, ">=": a >= b or same}[self.op]
        if self.op in ("=", "!="):
            return (found == value) == (self.op == "=")
        raise SpecError(f"--where {clip(self.text, 60)!r}: {self.op} compares numbers; {self.key} is {clip(repr(found), 40)} "
                        f"here, and the value {clip(repr(self.value), 40)}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as(found: Any, value: Any) -> Any:
    """``value`` (a condition's) as the type of ``found`` (a run's) where a string says one."""
    if not isinstance(value, str):
        return value
    word = value.strip().strip("'\"").strip()
    if _number(found):
        try:
            return float(word)
        except ValueError:
            return value
    if isinstance(found, bool) and word.lower() in ("true", "false", "yes", "no"):  # (yes/no: as the tables say one)
        return word.lower() in ("true", "yes")
    if found is None and word.lower() in ("null", "none"):
        return None
    return value


def parse_condition(text: str) -> Condition:
    """``KEY OP VALUE`` (see the module) as a :class:`Condition`; SpecError (one line) for text that is none."""
    m = re.fullmatch(r"\s*([A-Za-z_][\w.\[\]-]*)\s*(" + "|".join(re.escape(o) for o in _OPS) + r")\s*(.*?)\s*", text)
    if m is None or not m[3]:
        raise SpecError(f"--where {clip(text, 60)!r}: expected KEY=VALUE (or !=, <, <=, >, >=), e.g. lr=0.01 or "
                        "\"test_accuracy>0.9\"")
    if m[3][0] in "<>=!":  # (helper-205: lr=<0.01 found nothing)
        raise SpecError(f"--where {clip(text, 60)!r}: two operators; write {m[1]}<=VALUE, {m[1]}>=VALUE or {m[1]}!=VALUE")
    key = m[1]
    if key.startswith(("tags.", "tag.")) or key in ("tags", "tag"):  # MLflow's tags.X: a run's tags here
        raise SpecError(f"--where {clip(text, 60)!r}: a run's tags are chosen with --tag TAG")
    if key.startswith(("params.", "metrics.")):  # MLflow's params.lr, metrics.acc: the key alone here
        key = key.split(".", 1)[1]
    from mnistlab._toml import toml_value

    try:
        value = toml_value(m[3])
    except ValueError:
        value = m[3]  # a bare word: a string, as --set reads one
    if key.rsplit(".", 1)[-1] == "precision" and isinstance(value, str):  # Keras's and Lightning's names, as a
        from mnistlab.config import PRECISION_SYNONYMS  # config reads (and records) them (helper-254: none matched)

        value = PRECISION_SYNONYMS.get(value.strip().lower(), value)
    return Condition(key, "=" if m[2] == "==" else m[2], value, text)


def value_of(record: RunRecord, key: str) -> Any:
    """What ``record`` holds for a condition's ``key`` (see the module); a private marker where none."""
    from mnistlab.comparison import flatten_config
    from mnistlab.config import setting_path
    from mnistlab.data.userdata import dataset_label
    from mnistlab.initial_weights import weights_label

    config = record.config or {}
    if key == "model":
        model = config.get("model")
        return (model.get("name") or "(inline)") if isinstance(model, Mapping) else _MISSING
    if key == "dataset":
        return dataset_label(config["dataset"]) if config.get("dataset") else _MISSING
    if key == "weights":  # the variant it started from, a run, a file's name; None for none (weights=none)
        return weights_label(config.get("weights")) or None
    if key in _FIELDS:
        return getattr(record, key)
    if key == "quick":  # the size of a --quick smoke run, as `runs` marks it (helper-252: a column no condition named)
        from mnistlab.comparison import smoke_run

        return smoke_run(record)
    if key in _ENV or key.startswith("env."):
        value: Any = record.env or {}
        for part in key.removeprefix("env.").split("."):
            value = value.get(part, _MISSING) if isinstance(value, Mapping) else _MISSING
        return value
    if key in (record.metrics or {}):
        from mnistlab.store import RESULT_STATUSES

        if key.startswith("test_") and record.status not in RESULT_STATUSES:  # a stop's or failure's test score is
            return _MISSING  # no result, as the table shows none (helper-205)
        return record.metrics[key]
    flat = dict(flatten_config(config))
    dotted = re.sub(r"\[(-?\d+)\]", r".\1", key)
    for candidate in (dotted, setting_path(dotted)):
        if candidate in flat:
            return flat[candidate]
    if m := re.fullmatch(r"model\.layers\.(-\d+)\.(.+)", dotted):  # from the end: layers[-1]
        layers = config.get("model", {}).get("layers") if isinstance(config.get("model"), Mapping) else None
        if isinstance(layers, list) and len(layers) >= -int(m[1]):
            return flat.get(f"model.layers.{len(layers) + int(m[1])}.{m[2]}", _MISSING)
    return _MISSING


def selected(records: Sequence[RunRecord], conditions: Sequence[str]) -> list[RunRecord]:
    """Those of ``records`` that meet every condition of ``conditions`` (texts, see the module).
    SpecError for a condition that is no condition, or whose key no run of ``records`` has (with
    a did-you-mean over the keys they have)."""
    parsed = [parse_condition(text) for text in conditions]
    if not parsed:
        return list(records)
    found = [[value_of(r, c.key) for c in parsed] for r in records]  # (each looked up once)
    for i, c in enumerate(parsed):
        if records and all(values[i] is _MISSING for values in found):
            raise SpecError(f"--where {clip(c.text, 60)!r}: no run listed has {c.key}{did_you_mean(c.key, _keys(records))}")
        _not_a_number(c, [values[i] for values in found])
        _case_said(c, [values[i] for values in found])
    chosen = [r for r, values in zip(records, found) if all(c.holds(v) for c, v in zip(parsed, values))]
    if records:
        _env_said(parsed, records, [[values[i] for values in found] for i in range(len(parsed))])
    return chosen


def _env_said(conditions: Sequence[Condition], records: Sequence[RunRecord], found: Sequence[Sequence[Any]]) -> None:
    """A SpecWarning where more runs ran as a condition on a setting says than set it so: a run's
    environment records what the setting resolved to (``precision=bf16``: the config says ``auto``,
    ``env.precision`` what it ran with; helper-252 got "no runs", unsaid, helper-254 one run of 15),
    naming the condition that matches them. ``found``: each condition's value in each run."""
    import warnings

    from mnistlab.errors import SpecWarning, user_level

    for c, values in zip(conditions, found):
        name = c.key.rsplit(".", 1)[-1]
        if c.key.startswith("env.") or not any(name in (r.env or {}) for r in records):
            continue
        there = Condition(f"env.{name}", c.op, c.value, f"env.{name}{c.op}{c.value}")
        ran = sum(there.holds(v) for r in records if not isinstance(v := value_of(r, there.key), Mapping))
        if ran > (set_so := sum(c.holds(v) for v in values)):
            warnings.warn(f"--where {clip(c.text, 60)!r}: {set_so or 'no'} run{'s' * (set_so != 1)} set {c.key} so; {ran} "
                          f"ran so, as their environment records (what the setting resolved to): --where "
                          f"{clip(there.text, 60)!r}", SpecWarning, stacklevel=user_level())


def sort_values(records: Sequence[RunRecord], key: str, columns: Sequence[str] = ()) -> list[Any]:
    """Each of ``records``' value of ``key`` (as a condition names it: a setting, a metric, ``env.KEY``) to
    order them by, None where a run has none; SpecError where none has it, naming the table's own
    ``columns`` to sort by, with a did-you-mean."""
    values = [value_of(r, key) for r in records]
    if records and all(v is _MISSING for v in values):
        raise SpecError(f"--sort: no run listed has {clip(key, 40)!r}; sort by {', '.join(columns)}, or a setting or "
                        f"metric of the runs (lr, test_loss){did_you_mean(key, [*columns, *_keys(records)])}")
    return [None if v is _MISSING or isinstance(v, Mapping) else v for v in values]


def _not_a_number(c: Condition, values: Sequence[Any]) -> None:
    """SpecError where ``c`` gives a number written with a decimal comma for a key every run holds a
    number of (helper-205's ``lr=0,01`` matched nothing, silently); another word may be a value of
    the key no run has (``validation=test``), and matches none."""
    numbers = [v for v in values if v is not _MISSING and v is not None]
    word = str(c.value).strip()
    if not numbers or not all(_number(v) for v in numbers) or not re.fullmatch(
            r"[+-]?\d*,\d+(e[+-]?\d+)?", word, flags=re.IGNORECASE):
        return
    raise SpecError(f"--where {clip(c.text, 60)!r}: {c.key} is a number in every run listed (such as "
                    f"{numbers[0]!r}), and {clip(word, 30)!r} is none: a decimal comma? write {word.replace(',', '.')}")


def _case_said(c: Condition, values: Sequence[Any]) -> None:
    """A SpecWarning where ``c`` (``=``, a word) matches no run as written and some in another case
    (``optimizer=ADAM`` of runs with "adam"): values compare as written, as MLflow's ``=`` does."""
    if c.op != "=" or not isinstance(c.value, str) or any(v == c.value for v in values):
        return
    alike = sorted({v for v in values if isinstance(v, str) and v.casefold() == c.value.casefold()})
    if alike:
        import warnings

        from mnistlab.errors import SpecWarning, user_level

        n = sum(v in alike for v in values)
        warnings.warn(SpecWarning(f"--where {clip(c.text, 60)!r}: no run has {c.key} = {c.value!r}, and {n} "
                                  f"{'has' if n == 1 else 'have'} {' or '.join(map(repr, alike))}: values compare as "
                                  "written, case too"), stacklevel=user_level())


def _keys(records: Sequence[RunRecord]) -> list[str]:
    """The keys a condition may name for ``records`` (a few runs' worth: those a did-you-mean picks from)."""
    from mnistlab.comparison import flatten_config

    keys = {"model", "dataset", "weights", *_FIELDS, *_ENV}
    for r in records[:50]:
        keys.update(r.metrics or {})
        keys.update(f"env.{k}" for k, v in (r.env or {}).items() if not isinstance(v, Mapping))
        for key, _ in flatten_config(r.config or {}):
            keys.add(re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", key))  # as the condition writes it: model.layers[2].units
            keys.add(key.rsplit(".", 1)[-1])
    return sorted(keys)
