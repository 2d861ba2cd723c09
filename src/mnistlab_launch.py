"""The `mnistlab` console script's first step, outside the package: Ctrl-C is held back while a
module loads, so that a Ctrl-C while the CLI loads (click, numpy, pydantic: most of a second) or
while a command loads torch or matplotlib (seconds) ends in one line and exit status 130, as it
does once the command runs (:func:`mnistlab.cli.main`). Raised inside an import, it turned into
a traceback, into numpy's "Importing the numpy C-extensions failed", into torch's "Error calling
__set_name__ on 'cached_property'" (a half-loaded torch), or into a death by SIGINT (status -2)
after the command had said "interrupted" and returned 130."""

from __future__ import annotations

import builtins
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any


class _Hold:
    """Whether the main thread is inside an import, and whether Ctrl-C came meanwhile."""

    importing = False
    pressed = False


_MAIN_THREAD = threading.get_ident()


def main() -> int:
    """Run the CLI with Ctrl-C held back inside imports (noted, raised once the import is done);
    130 after "interrupted" when Ctrl-C came while the CLI loaded. A Ctrl-C after the command
    returned (while Python exits) is ignored: the command's status stands, not a death by SIGINT.
    Where SIGINT came ignored (`mnistlab run ... &` in a script), it stays ignored."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        builtins.__import__ = _held(builtins.__import__)  # import statements
        importlib.import_module = _held(importlib.import_module)  # and the loads torch's lazy names make (helper-131)
        signal.signal(signal.SIGINT, _ctrl_c)
    try:
        from mnistlab.cli import main as cli_main
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    try:
        return cli_main()
    except KeyboardInterrupt:  # a Ctrl-C pressed again as the command ended (helper-167: a death by SIGINT, and a
        print("interrupted", file=sys.stderr)  # traceback from multiprocessing's exit)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # done and recorded: a Ctrl-C while Python exits changes nothing


def _held(load: Callable[..., Any]) -> Callable[..., Any]:
    """``load`` (``__import__``, ``importlib.import_module``) with a Ctrl-C that comes while the main
    thread imports raised when the outermost import is done (or has failed: Ctrl-C wins), not
    inside the module it loads."""
    def held(*args: Any, **kwargs: Any) -> Any:
        if _Hold.importing or threading.get_ident() != _MAIN_THREAD:
            return load(*args, **kwargs)
        _Hold.importing = True
        try:
            return load(*args, **kwargs)
        finally:
            pressed, _Hold.pressed = _Hold.pressed, False  # taken before the hold ends: a Ctrl-C after it raises itself
            _Hold.importing = False
            if pressed:
                raise KeyboardInterrupt  # noqa: B012 - Ctrl-C outranks whatever the import raised

    return held


def _ctrl_c(signum: int, frame: object) -> None:
    """Python's own Ctrl-C (KeyboardInterrupt), held while an import runs, after a line break
    where standard error is a terminal: what the command says next starts on a line of its own,
    not after the ``^C`` the terminal echoed (click does the same before its "Aborted!"). Written
    with ``os.write``: the signal may have come in the middle of a ``print`` to the same stream."""
    if os.isatty(2):
        try:
            os.write(2, b"\n")
        except OSError:
            pass
    if _Hold.importing:
        _Hold.pressed = True
        return
    raise KeyboardInterrupt
