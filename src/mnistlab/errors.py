"""User-facing errors and warnings, and the small helpers that word their messages.

Everything a user can get wrong (a config file, a dataset file, a run id, a flag) raises a
subclass of :class:`MnistlabError`. The CLI prints its message as one line and exits non-zero;
anything else that escapes is a bug in mnistlab, not in the user's input. A :class:`SpecError`
also carries where the bad value is (``path`` inside ``source``), so that a caller can point at
the file's line or tell a flag from a file without reading the message back.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import json
import os
import re
import sys
import types
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TextIO, TypeVar


class MnistlabError(Exception):
    """An error caused by the user's input, reported as one line without a traceback. ``more``
    holds the other mistakes found beside it where several things were checked independently
    (one per variant of an experiment file), each an error of its own; the CLI prints them too."""

    exit_code = 2
    more: tuple[MnistlabError, ...] = ()
    line: int | None = None  # the line of the file the message names, where one was found
    partial: Any = None  # what was right beside this mistake, where a caller can still check it (see SpecError)
    label = "error"  # what the CLI's line starts with ("error: ..."); "" for none (a stop the user asked for)

    def __str__(self) -> str:
        # One line, always: multi-line messages would break the "one clear line" promise; a control
        # character a file or flag brought (an escape code) shown, not obeyed (helper-132: a key
        # "l<ESC>[31mr" read "unknown key "lr"; known keys: ..., lr")
        return printable(" ".join(str(super().__str__()).split()))


# Format characters that are part of writing, not of a terminal's control: the zero-width non-joiner and
# joiner (Persian, Indic scripts, emoji sequences such as 👨‍👩‍👧) and the left-to-right and right-to-left
# marks. Bidirectional overrides and isolates (U+202A-E, U+2066-9) still are escaped: they reorder what
# a line shows ("Trojan Source"). helper-184: a Persian variant name was refused as "a control character".
WRITING_MARKS = frozenset("\u200c\u200d\u200e\u200f")


def is_printable(text: str) -> bool:
    """Whether ``text`` prints as it is: ``str.isprintable``, with :data:`WRITING_MARKS` allowed."""
    return all(c.isprintable() or c in WRITING_MARKS for c in text)


def printable(text: str, *, marks: bool = True) -> str:
    """``text`` with its control and format characters escaped (``a\\x07b``, ``\\x1b[31m``), so that a
    message shows them rather than a terminal obeying them (or click stripping an escape code); the
    :data:`WRITING_MARKS` of a script are kept, unless ``marks`` is False (a path: a stray invisible
    mark in it would read as the name of a file that exists, helper-186).

    >>> printable("l\\x1b[31mr")
    'l\\\\x1b[31mr'
    """
    kept = WRITING_MARKS if marks else frozenset()
    return "".join(c if c.isprintable() or c in kept else c.encode("unicode_escape").decode("ascii") for c in text)


E = TypeVar("E", bound=MnistlabError)


def in_file_order(line: int | None) -> tuple[bool, int]:
    """Sort key of mistakes by the line of their file, those without one last (a stable sort keeps
    those in the order they were found)."""
    return line is None, line or 0


def together(mistakes: Sequence[E], *, in_order: bool = False) -> E:
    """The one error that says ``mistakes`` (at least one): the first, the others in its ``more``
    (the CLI prints a line each); ``in_order``: sorted by their lines first (:func:`in_file_order`)."""
    first, *others = sorted(mistakes, key=lambda e: in_file_order(e.line)) if in_order else mistakes
    first.more = tuple(others)
    return first


class DataError(MnistlabError):
    """A dataset file is missing, truncated, corrupted or fails its checksum."""


class CheckpointError(MnistlabError):
    """A checkpoint cannot be read or belongs to a different run config."""


class SpecError(MnistlabError):
    """A model, training or experiment spec is invalid.

    ``str(exc)`` is the one line users see (``"exp.toml: [base]: train.lr: ..."``). ``path`` is
    where the bad value sits inside the data of ``source``: the keys and list indices from its top,
    as in ``("base", "train", "lr")`` or ``("variants", 1, "train", "lrr")``; ``()`` when the
    problem is not about one key. ``source`` is what the message names as the value's origin (a
    file, ``"command line"``, ``"train()"``), None when unknown. ``line`` is the 1-based line of
    ``path`` in that file once a caller has found it (:func:`mnistlab._toml.with_line`).
    ``partial``: what was right beside the mistake, where a caller can still check it (an
    experiment file's error: the :class:`~mnistlab.experiments.Experiment` of its right variants).

    >>> err = SpecError("run.toml: train.lr: must be > 0", path=("train", "lr"), source="run.toml")
    >>> err.path, str(err)
    (('train', 'lr'), 'run.toml: train.lr: must be > 0')
    """

    apart: tuple[SpecError, ...] = ()  # several problems said in one line: each on its own, with its path

    def __init__(self, message: str, *, path: Sequence[str | int] = (), source: str | None = None,
                 line: int | None = None) -> None:
        super().__init__(message)
        self.path: tuple[str | int, ...] = tuple(path)
        self.source = source
        self.line = line

    def within(self, *prefix: str | int, message: str | None = None, source: str | None = None) -> SpecError:
        """This error as seen from an enclosing table: ``prefix`` put before its path.

        ``message`` replaces the message (default: the same), ``source`` the source (default: the
        same). Used where a caller validates a part of its data and re-raises:
        ``raise exc.within("layers", 2, message=f"layers[2] (Dense): {exc}") from None``.
        """
        return SpecError(str(self) if message is None else message, path=(*prefix, *self.path),
                         source=self.source if source is None else source)


class StoreError(MnistlabError):
    """The run store cannot be opened, or a run id does not exist."""


class LostDatabase(StoreError):
    """The store's ``runs.sqlite`` is missing or empty while its run folders hold recorded runs:
    `mnistlab reindex` rebuilds it from them (a sweep does so itself, and goes on)."""


class NotRecorded(StoreError):
    """What was asked for is not in the run store, or there is no store yet: a sweep that has not
    started (what `mnistlab watch` waits for), unlike a damaged store or a wrong name's hint."""


class NoSuchMetric(KeyError):
    """A metric a run's history does not hold (``run.history["val_accuracy"]`` without validation
    data): a KeyError, as a dict's, whose message prints as written, not as the repr Python's
    KeyError gives (helper-182: ``KeyError: 'no metric \\'val_accuracy\\' in this history...'``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class SpecWarning(UserWarning):
    """A legal but probably unintended model spec (see `specs.spec_warnings`) or setting (a callback
    watching a metric the run does not log); the CLI shows it as one ``warning:`` line."""


class TrainingWarning(SpecWarning):
    """Of one run's training as it goes (its start from trained weights, its epochs, its checkpoint),
    not of a setting it shares with others: in a sweep, the line names the cell
    (:func:`mnistlab.execute.warnings_named`)."""


class DataWarning(SpecWarning):
    """Data that loads, with something left out the user should know of (a folder dataset's
    dot-folders such as ``.ipynb_checkpoints``); the CLI shows it as one ``warning:`` line."""


class ReportWarning(UserWarning):
    """Something the HTML report or a figure could not show (a figure, a failed run's result, a
    damaged artifact, test images without a prediction); the page says so too, and the CLI shows it
    as one ``warning:`` line."""


class StoreWarning(UserWarning):
    """Of the run store itself, said once as it opens: its database upgraded to this mnistlab's
    schema (older versions can no longer open it; the file as it was is kept aside)."""


class InvertedImageWarning(UserWarning):
    """Images given to a model look inverted (a bright border, where every image of its dataset is
    dark): the prediction is probably wrong. See :func:`mnistlab.evaluate.inverted_images`.
    ``indices``: which of the images given (0-based); ``listed``: the words of ``message`` that list
    them (``"index 1, 2"``), which :meth:`naming` replaces for a caller that knows their names."""

    def __init__(self, message: str, indices: Sequence[int] = (), listed: str = "") -> None:
        super().__init__(message)
        self.indices = tuple(int(i) for i in indices)
        self.listed = listed if listed and listed in message else ""

    def naming(self, names: Sequence[str]) -> str:
        """The one-line message with the images' ``names`` (``names[i]``: image ``i``'s file) where
        it lists their indices, the first five (helper-121: "index 1, 2, 3" of files with names)."""
        said = str(self.args[0]) if self.args else ""
        if self.listed and self.indices and all(i < len(names) for i in self.indices):
            shown = ", ".join(str(names[i]) for i in self.indices[:5]) + (", ..." if len(self.indices) > 5 else "")
            said = said.replace(self.listed, shown, 1)
        return printable(" ".join(said.split()))


class ResourceError(MnistlabError):
    """The machine lacks the memory a run needs: seen before training by the estimate
    (:func:`mnistlab.summary.training_memory`) or by a failed allocation while building or training.
    Unlike bad input it leaves a record: the run is recorded as ``failed`` with this message."""

    exit_code = 1


class WorkerDied(MnistlabError):
    """A ``--jobs`` worker process ended without a word (``kill -9``, the kernel's out-of-memory
    killer): the sweep or search stops; the runs its workers held are marked interrupted, and the
    next run of it trains them again. Exit status 1."""

    exit_code = 1

    def __init__(self) -> None:
        super().__init__("a worker process died (killed: by the system for lack of memory, or kill "
                         "-9?); the sweep stops here, its runs so far kept: run it again to train the rest "
                         "(fewer --jobs need less memory)")


class DamagedData(DataError):
    """`mnistlab datasets` found a dataset's files damaged (listed, each with its problem, before this
    one-line error); exit status 1, as for a check that failed."""

    exit_code = 1


class PartlyUnreadable(DataError):
    """Some inputs of a batch (``mnistlab predict``'s images) could not be read: each was listed, the
    others' results were written; exit status 1, as for a run that did not finish."""

    exit_code = 1


class StoreCheckFailed(StoreError):
    """`mnistlab reindex --check` found run folders that disagree with their rows (listed before
    this one-line error); exit status 1, the store unchanged."""

    exit_code = 1


class Declined(MnistlabError):
    """The user answered no to a question (`mnistlab rm`'s "delete ...? [y/N]"): nothing was done,
    said without "error:" (helper-123), exit status 1, as a declined ``apt`` or ``conda`` prompt."""

    exit_code = 1
    label = ""


class RunNotFinished(MnistlabError):
    """The run ended as diverged/interrupted/failed: its metrics are printed, the exit code says so."""

    exit_code = 1


# Keras's word (and tutorials' spellings of it) -> mnistlab's key for it, where they differ; said before
# a close match: "lrate" is nearer "evaluate" than "lr" by spelling alone
KERAS_SYNONYMS = {"learning_rate": "lr", "lrate": "lr", "learningrate": "lr", "learning-rate": "lr"}
# Keras's words for what mnistlab keeps elsewhere, or does always: where a Keras user will type them.
KERAS_ELSEWHERE = {
    "input_shape": "the input's shape is the model's: input_shape = [28, 28, 1] at its top level, not a layer's",
    "validation_split": 'Keras\'s validation_split is data.validation here, a fraction or a count; data.split = '
                        '"last" holds out the last images, as Keras does',
    "loss": "the loss is always Keras's sparse_categorical_crossentropy on the softmax output; "
            "train.label_smoothing smooths it; one-hot labels (to_categorical's, for categorical_crossentropy) are "
            "taken as they are in Python, train((x, y_onehot), model) and run.evaluate(x, y_onehot)",
    "learning_rate": "Keras 3's learning_rate is lr here, train.lr",
    "decay": "Keras 2's decay lowered the rate every step, lr / (1 + decay * step): a schedule does that here, "
             "train.schedule = { type = \"exponential\", ... } or \"step\"; weight_decay is another thing (the "
             "weights shrunk each step)",
    "metrics": "accuracy and loss, and their val_ twins with validation, are always recorded",
    "verbose": "progress is `mnistlab train --progress lines|bar|none`; `mnistlab run` shows each cell as it "
               "ends, a live table on a terminal; progress= in Python",
    "class_weight": "Keras's class_weight is train.class_weight here: class_weight = [1.0, 2.0, ...], a table by "
                    "class, or \"balanced\"",
    "sample_weight": "every image counts once in the loss: mnistlab has no per-image weights (Keras's fit("
                     "sample_weight=)); train.class_weight weighs each class, as Keras's class_weight",
    "steps_per_epoch": "an epoch is one pass over the training images: data.subset trains on fewer of them, "
                       "train.epochs sets the passes",
    "initial_epoch": "a stopped run continues from its checkpoint where it stopped (mnistlab train --resume, or "
                     "train(checkpoint_dir=..., resume=True)): no epoch number to give",
    "validation_freq": "validation is scored after every epoch: the history has a val_ value for each",
    "validation_steps": "validation scores all the held-out images after every epoch",
    "bias_initializer": "biases start at zeros, Keras's default bias_initializer; no other is offered: "
                        "kernel_initializer sets how the weights start",
}
# The same words given to :func:`mnistlab.run.train` (Keras's fit() and compile() arguments), where
# mnistlab's Python word differs from a file's; the others are said as KERAS_ELSEWHERE says them.
KERAS_ELSEWHERE_IN_PYTHON = {
    "verbose": 'mnistlab\'s is progress= (Keras\'s verbose=0 is progress="none", verbose=2 progress="lines", '
               'verbose=1 progress="bar")',
    "x": "mnistlab trains on a dataset, not fit's x and y: give the arrays as the dataset, train((x, y), model), "
         "or a name (\"mnist\"), a file or a folder",
    "validation_split": 'mnistlab\'s is validation={value!r}; Keras holds out the last images, which '
                        'validation={value!r}, split="last" does (the default holds out a seeded random draw)',
}
KERAS_ELSEWHERE_IN_PYTHON["y"] = KERAS_ELSEWHERE_IN_PYTHON["x"]
# PyTorch Lightning's Trainer words given to train() (helper-251: "unknown setting", nothing more)
LIGHTNING_ELSEWHERE = {
    "max_epochs": "Lightning's max_epochs is epochs= here, as Keras's fit takes it",
    "accelerator": 'Lightning\'s accelerator is device= here: "auto", "cpu", "cuda" (a GPU), "cuda:1" or "mps"',
    "devices": 'one run trains on one device= ("cuda:1"); a sweep\'s cells go to several GPUs or machines with '
               "`mnistlab run --backend ray`",
    "num_workers": "mnistlab holds the whole dataset in memory as uint8 and draws its batches itself: no loader "
                   "workers to give",
    "gradient_clip_val": "gradient clipping is not offered (nor Keras's clipnorm); a lower lr or a schedule "
                         "steadies a run that blows up",
    "accumulate_grad_batches": "not offered: batch_size= sets the batch each step trains on",
    "logger": "every run is recorded in the store (store=True), with its history, metrics, weights and "
              "environment: `mnistlab show RUN_ID`",
    "enable_progress_bar": 'progress= here: "bar", "lines" or "none"',
    "check_val_every_n_epoch": "validation is scored after every epoch",
    "limit_train_batches": "data.subset trains on fewer images: subset=6000",
    "max_steps": "a run trains whole epochs: epochs= sets them, data.subset the images each one passes over",
    "fast_dev_run": "--quick (`mnistlab run FILE --quick`) runs each cell on a few images for one epoch; here "
                    "subset=300, epochs=1",
    "strategy": "one run trains on one device; a sweep's cells spread over processes (`--jobs N`) or machines "
                "(`--backend ray`)",
    "deterministic": "a run on the CPU repeats exactly with its seed and train.threads fixed (the run records both)",
    "ckpt_path": 'checkpoint_dir= (with resume=True to continue), or weights= to start from a run or file',
}
KERAS_ELSEWHERE_IN_PYTHON["input_shape"] = ("the input's shape is the model's: model={\"input_shape\": [28, 28, 1], "
                                            "\"layers\": [...]} or ModelSpec(input_shape=...), not train()'s")


@contextlib.contextmanager
def in_python_words(words: Mapping[str, str]) -> Iterator[None]:
    """A MnistlabError raised inside, said in a Python caller's words: each command-line flag of
    ``words`` (``{"--pick latest": 'pick="latest"', "--variant": "variant="}``, longest first)
    replaced by its keyword, where the message named the flag its command takes."""
    try:
        yield
    except MnistlabError as exc:
        said = str(exc)
        for flag in sorted(words, key=len, reverse=True):
            said = re.sub(re.escape(flag) + r"(?![\w-])", words[flag].replace("\\", r"\\"), said)
        exc.args = (said, *exc.args[1:])
        raise


def user_level() -> int:
    """The ``stacklevel`` for ``warnings.warn`` called where this is called that points the warning
    at the line that called into mnistlab: the user's ``train(...)`` or ``run.predict(...)``, not
    the mnistlab line that found the problem, however deep (a validator that pydantic calls, a
    callback the trainer calls). Pandas's ``find_stack_level``, Python 3.12's
    ``skip_file_prefixes``, for 3.10 too; from the CLI (its launcher, ``mnistlab_launch.py``,
    counts as mnistlab's), a level past the stack: Python then names ``sys``, and the CLI shows
    its warnings as one line without a place."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame: types.FrameType | None = sys._getframe(1)  # the function calling warnings.warn: stacklevel 1
    level = outermost = 1
    while frame is not None:
        where = os.path.abspath(frame.f_code.co_filename)
        if where.startswith(package) or os.path.basename(where) == "mnistlab_launch.py":  # the CLI's launcher too
            outermost = level
        frame, level = frame.f_back, level + 1
    return outermost + 1


def number_hint(text: str, *, whole: bool = False) -> str:
    """How to write ``text``, a number written with commas, as a number: ``numbers take a decimal
    point: 0.001`` for a decimal comma (``0,001``, as German, French and many other locales write
    it; helper-184), ``whole numbers take no separator: 2000`` for a ``whole`` number with a
    separator (``2,000``: helper-187 was told 2.000); "" for anything else.

    >>> number_hint("1,5e-3")
    'numbers take a decimal point: 1.5e-3'
    """
    text = text.strip()
    if not re.fullmatch(r"[-+]?\d+(,\d+)+([eE][-+]?\d+)?", text):
        return ""
    if whole:
        return f"whole numbers take no separator: {text.replace(',', '')}"
    return f"numbers take a decimal point: {text.replace(',', '.')}" if text.count(",") == 1 else ""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean "x"?)' when a close match exists, or ``word`` is Keras's word for one
    of ``choices`` (:data:`KERAS_SYNONYMS`), else ''.

    >>> did_you_mean("reul", ["relu", "tanh"])
    ' (did you mean "relu"?)'
    >>> did_you_mean("learning_rate", ["epochs", "lr"])
    ' (did you mean "lr"?)'
    >>> did_you_mean("relu", ["relu", "tanh"])
    ''
    """
    match = closest(word, choices)  # (never itself: helper-146 read 'no run of "v" (did you mean "v"?)')
    if match is None or match == word:
        return ""
    return f' (did you mean "{match}"?{_look_alikes(str(word), match)})'


def _look_alikes(word: str, match: str) -> str:
    """``' its "ѕ" is U+0455 CYRILLIC SMALL LETTER DZE'`` where ``word`` differs from ``match`` only in
    letters that are not ASCII but look like it (helper-184: "ѕoftmax", "ReduceLROnPlateaυ" were
    told "did you mean softmax?", the two alike on screen), and fullwidth ones (a Japanese input
    method's "ＳＧＤ"); else ""."""
    if len(word) != len(match) or word.isascii():
        return ""
    odd = [c for c, m in zip(word, match) if c.lower() != m.lower()]
    if not odd or any(c.isascii() for c in odd) or not match.isascii():
        return ""
    if all(unicodedata.normalize("NFKC", c).isascii() for c in odd):
        return " its letters are fullwidth (an input method's), not ASCII"
    said = ", ".join(f'"{c}" is U+{ord(c):04X} {unicodedata.name(c, "?")}' for c in dict.fromkeys(odd))
    return f" its {said}, not the ASCII letter" + "s" * (len(set(odd)) > 1)


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The one of ``choices`` that ``word`` most likely means: the choice that is Keras's word for
    it (:data:`KERAS_SYNONYMS`: ``learning_rate`` is ``lr``), else the nearest in spelling
    (difflib, case ignored, cutoff 0.6), else None."""
    choices = [str(c) for c in choices]  # may be a generator: it is read twice below
    if KERAS_SYNONYMS.get(str(word).lower()) in choices:
        return KERAS_SYNONYMS[str(word).lower()]
    wide = unicodedata.normalize("NFKC", str(word)).lower()  # a fullwidth "ＳＧＤ" (an input method's) is "sgd"
    if wide != str(word).lower() and (same := [c for c in choices if c.lower() == wide]):
        return same[0]
    matches = difflib.get_close_matches(str(word).lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
    return {c.lower(): c for c in choices}[matches[0]] if matches else None


def key_hint(key: str, known: Iterable[str]) -> str:
    """The hint after an unknown config key: where mnistlab keeps what Keras (or PyTorch Lightning) names
    ``key`` (:data:`KERAS_ELSEWHERE`: ``' (Keras's validation_split is data.validation here, ...)'``), else
    :func:`did_you_mean`'s. For keys only: a name (a variant's, an experiment's) gets did_you_mean's."""
    known = [str(k) for k in known]
    last = str(key).rsplit(".", 1)[-1].lower()
    elsewhere = KERAS_ELSEWHERE.get(last) or LIGHTNING_ELSEWHERE.get(last)  # (helper-253: Lightning's in a file too)
    return f" ({elsewhere})" if elsewhere is not None and str(key) not in known else did_you_mean(str(key), known)


def first_line(exc: BaseException, n: int = 200) -> str:
    """An exception's first line (its type's name when it has no text), cut to ``n`` characters:
    what a one-line error says of a library's multi-line message (sqlalchemy's, Ray's)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:n]


def percent_within(x: float, decimals: int) -> str:
    """A share ``x`` (0 to 1) in percent to ``decimals`` places that never rounds to a bound it is
    not at: ``">99.99%"`` from 1 less half the last place up (1.0 too: a float32 probability of 1 is
    no certainty), ``"<0.01%"`` above 0 below half the last place, else as formatted.

    >>> percent_within(0.9999895, 2), percent_within(0.00001, 2), percent_within(0.25, 1)
    ('>99.99%', '<0.01%', '25.0%')
    """
    half = 0.5 * 10.0 ** -(decimals + 2)
    if x >= 1 - half:
        return f">{100 - 10.0 ** -decimals:.{decimals}f}%"
    return f"<{10.0 ** -decimals:.{decimals}f}%" if 0 < x < half else f"{x:.{decimals}%}"


def clip(text: object, n: int = 40) -> str:
    """``text`` on one line (runs of whitespace become one space), cut to ``n`` characters with "...".

    >>> clip("a   very long name", 10)
    'a very ...'
    """
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


# TOML's names for its types (the TOML spec's words), as a config file's reader knows them; in
# this order, as bool is an int and datetime a date (numpy's scalars are found by their bases too)
_TOML_TYPES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "boolean"), (str, "string"), (int, "integer"), (float, "float"), ((list, tuple), "array"),
    (dict, "table"), (datetime.datetime, "date-time"), (datetime.date, "date"), (datetime.time, "time"))


def type_name(value: object) -> str:
    """The TOML name of ``value``'s type (``string``, ``integer``, ``array``, ``table``, ``null``
    for JSON's null), as an error message names what it got; Python's name for anything else."""
    value = plain_number(value)
    if value is None:
        return "null"
    return next((name for kind, name in _TOML_TYPES if isinstance(value, kind)), type(value).__name__)


def plain_number(value: object) -> object:
    """A numpy scalar as the Python number it holds (np.int64(3) -> 3; np.float32(0.01) -> its exact
    value 0.009999999776482582, as runs recorded it before: a run's config, and so its identity,
    stays what it was for the same input (helper-127)); anything else as it is."""
    item = getattr(value, "item", None)
    return item() if type(value).__module__ == "numpy" and callable(item) and getattr(value, "ndim", 1) == 0 else value


def show(value: object, n: int = 40) -> str:
    """A value as error messages quote it: its TOML type (:func:`type_name`) and, clipped, the value
    as a TOML file writes it (:func:`toml_repr`), not Python's spelling (``True``, ``'a'``, ``None``).

    >>> show([1, True, "a"])
    'array [1, true, "a"]'
    """
    return "null" if value is None else f"{type_name(value)} {clip(toml_repr(value), n)}"


def toml_repr(value: object) -> str:
    """``value`` written as in a TOML file: ``true``, ``"text"``, ``[1, 2.5]``, ``{ a = 1 }``
    (``null`` for JSON's null, which TOML lacks; anything else as its repr).

    >>> toml_repr({"type": "Dense", "units": [8, True]})
    '{ type = "Dense", units = [8, true] }'
    """
    value = plain_number(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, float):  # numpy's float64 too, written as a float
        return repr(float(value))
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_repr(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_toml_key(k)} = {toml_repr(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    return repr(value)


def _toml_key(key: object) -> str:
    """A table's key as TOML writes it: bare (``units``, ``kernel_size``) where it may be, else quoted."""
    bare = isinstance(key, str) and key.isascii() and key != "" and key.replace("_", "").replace("-", "").isalnum()
    return str(key) if bare else json.dumps(str(key), ensure_ascii=False)


def unknown_key(key: object, known: Sequence[str], *, where: str, path: Sequence[str | int] = (),
                source: str | None = None, near: str | None = None, quote: str = '"',
                listing: str = "known keys", clip_at: int | None = None) -> SpecError:
    """The error for a key that a table does not accept, with a "did you mean" hint and the keys it does.

    Gives ``'<where>: unknown key "<key>" (did you mean "x"?); <listing>: a, b'`` with ``path``
    (the table's path) extended by the key's dotted parts (a quoted ``"train.lr"`` key of an
    experiment variant is the path train, lr, as the file's tables are). ``near`` is the word the
    hint is matched on (default: the key itself; a Keras word gets :func:`key_hint`'s); ``quote``
    the quote around the key; ``clip_at`` shortens a long key in the message. The caller raises it.

    >>> str(unknown_key("lrr", ["lr", "epochs"], where="run.toml: train"))
    'run.toml: train: unknown key "lrr" (did you mean "lr"?); known keys: lr, epochs'
    """
    shown = str(key) if clip_at is None else clip(key, clip_at)
    hint = key_hint(str(key) if near is None else near, known)
    listed = ", ".join(known) or "no other keys"
    return SpecError(f"{where}: unknown key {quote}{shown}{quote}{hint}; {listing}: {listed}",
                     path=(*path, *str(key).split(".")), source=source)


class PlotError(MnistlabError):
    """A figure cannot be drawn from the given data (empty history, bad filter index, ...)."""


class OutputError(MnistlabError):
    """An output path the command cannot write (wrong extension, missing folder)."""


class PartlyWritten(OutputError):
    """A command wrote one of its outputs, and another beside it failed (an export's card on a disk
    that filled meanwhile): what was written stands, so the status is 1, done in part (helper-189:
    2, "nothing done", beside a verified model file)."""

    exit_code = 1


class ExportError(MnistlabError):
    """An exported model failed its verification: the file disagrees with the PyTorch model it came from
    (or the export itself failed). The file is not left behind."""

    exit_code = 1


_python_showwarning = warnings.showwarning


# the advice show_warning has printed in this process (this command: see said_afresh), by where and what
_SAID: set[tuple[str | None, str]] = set()


_PLACE = re.compile(r'^warning: (?:.*?: )?(\[base\]|variant "(?:[^"\\]|\\.)*"): (.*)$', re.S)


def _placed(said: str) -> tuple[str | None, str]:
    """(where in an experiment a warning is about, ``[base]`` or ``variant "v"``, or None; what it
    says): a config is checked as the file loads and again as its run starts, under the file's
    name then the experiment's, and [base]'s warning was said again for each variant (helper-130:
    three times); said once, under the first place."""
    placed = _PLACE.match(said)
    return (placed[1], placed[2]) if placed else (None, said)


def said_afresh() -> None:
    """Let :func:`show_warning` say again what it has said: a new command starts (`mnistlab.cli.main`)."""
    _SAID.clear()


def _missing_glyph(text: str) -> bool:
    """Whether a warning is matplotlib's "Glyph 26085 (...) missing from font(s) DejaVu Sans.", one a
    character of a name in a figure: said once in a line of ours, not once a character with a source path."""
    return text.startswith("Glyph ") and "missing from font" in text


def show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: TextIO | None = None, line: str | None = None) -> None:
    """A ``warnings.showwarning`` for the CLI and its sweep workers: a :class:`SpecWarning` is advice
    to the user, one ``warning:`` line on stderr, not a Python source location, and so is a
    :class:`ReportWarning`, each said once per process (a config is validated again for each cell
    of a sweep); others as Python shows them."""
    glyph = _missing_glyph(str(message))
    if glyph or issubclass(category, (SpecWarning, ReportWarning, StoreWarning)):
        said = ("warning: the figures' font lacks characters of some names (CJK, emoji): they are drawn as boxes"
                if glyph else f"warning: {printable(' '.join(str(message).split()))}")
        where, core = _placed(said)
        if ("[base]", core) not in _SAID and (where, core) not in _SAID:
            _SAID.add((where, core))
            print(said, file=sys.stderr, flush=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


# a run's record keeps at most this many of the warnings said while it ran, each this many characters at most
KEPT_WARNINGS, KEPT_WARNING_CHARS = 20, 400


@contextlib.contextmanager
def warnings_kept() -> Iterator[list[str]]:
    """The warnings shown while the block runs, one line of words each, in the order they were said,
    each once (at most :data:`KEPT_WARNINGS`, each clipped to :data:`KEPT_WARNING_CHARS`): a run's
    record keeps them (``metrics["warnings"]``; helper-171: a resumed schedule reshaped, another
    thread count, data left out were said on the screen and nowhere after). Each is still shown as
    before (the ``warnings.showwarning`` in place is called); only :class:`UserWarning` and its kinds
    are kept (a library's DeprecationWarning is no news of the run). A warning the filters ignore is
    not kept; one Python says once per place is said, and kept, once per block (the block starts
    afresh, as ``catch_warnings`` does: helper-180, a sweep's second cell in a worker kept none of
    the first's). Blocks nest (an outer one keeps what an inner one keeps); ``showwarning`` is one
    for the process, so two threads must not run blocks at once."""
    kept: list[str] = []

    def keep(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        said = printable(" ".join(str(message).split()))
        if len(said) > KEPT_WARNING_CHARS:
            said = said[:KEPT_WARNING_CHARS - 3] + "..."
        if issubclass(category, UserWarning) and said not in kept and len(kept) < KEPT_WARNINGS:
            kept.append(said)
        shown(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():  # the filters kept, the "once per place" registries started afresh
        shown = warnings.showwarning
        warnings.showwarning = keep  # (catch_warnings puts the one before back)
        yield kept
