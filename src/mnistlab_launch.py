"""The `mnistlab` console script's first step, outside the package: loading the CLI (click,
numpy, pydantic: most of a second) with Ctrl-C held, so that a Ctrl-C in that time ends in
one line and exit status 130, as it does once the CLI runs (:func:`mnistlab.cli.main`), not in a
traceback (nor in numpy's "Importing the numpy C-extensions failed", which an interrupt inside its
import turns into). torch loads later, inside the commands that need it, where a Ctrl-C is a
KeyboardInterrupt the CLI reports in one line too."""

from __future__ import annotations

import signal
import sys


def main() -> int:
    """Load the CLI with Ctrl-C held back (noted, not raised inside an import), then run it; 130
    after "interrupted" when Ctrl-C came while it loaded. A Ctrl-C after the command returned
    (while Python exits) is ignored: the command's status stands, not a death by SIGINT."""
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        from mnistlab.cli import main as cli_main
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        print("interrupted", file=sys.stderr)
        return 130
    if previous is signal.default_int_handler:  # not where SIGINT came ignored (`mnistlab run ... &` in a script)
        signal.signal(signal.SIGINT, _ctrl_c)
    status = cli_main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # done and recorded: a Ctrl-C while Python exits changes nothing
    return status


def _ctrl_c(signum: int, frame: object) -> None:
    """Python's own Ctrl-C (KeyboardInterrupt), after a line break where standard error is a
    terminal: what the command says next starts on a line of its own, not after the ``^C`` the
    terminal echoed (click does the same before its "Aborted!"). Written with ``os.write``: the
    signal may have come in the middle of a ``print`` to the same stream."""
    import os

    if os.isatty(2):
        try:
            os.write(2, b"\n")
        except OSError:
            pass
    raise KeyboardInterrupt
