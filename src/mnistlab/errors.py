"""User-facing errors.

Everything a user can get wrong (a config file, a dataset file, a run id, a flag) raises a
subclass of :class:`MnistlabError`. The CLI prints its message as one line and exits non-zero;
anything else that escapes is a bug in mnistlab, not in the user's input.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class MnistlabError(Exception):
    """An error caused by the user's input, reported as one line without a traceback."""

    exit_code = 2

    def __str__(self) -> str:
        # One line, always: multi-line messages would break the "one clear line" promise.
        return " ".join(str(super().__str__()).split())


class DataError(MnistlabError):
    """A dataset file is missing, truncated, corrupted or fails its checksum."""


class CheckpointError(MnistlabError):
    """A checkpoint cannot be read or belongs to a different run config."""


class SpecError(MnistlabError):
    """A model, training or experiment spec is invalid."""


class StoreError(MnistlabError):
    """The run store cannot be opened, or a run id does not exist."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean "x"?)' when a close match exists, else ''.

    >>> did_you_mean("reul", ["relu", "tanh"])
    ' (did you mean "relu"?)'
    """
    choices = [str(c) for c in choices]  # may be a generator: it is read twice below
    matches = difflib.get_close_matches(str(word).lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
    if not matches:
        return ""
    original = {c.lower(): c for c in choices}[matches[0]]
    return f' (did you mean "{original}"?)'


class PlotError(MnistlabError):
    """A figure cannot be drawn from the given data (empty history, bad filter index, ...)."""


class OutputError(MnistlabError):
    """An output path the command cannot write (wrong extension, missing folder)."""
