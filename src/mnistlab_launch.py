"""The `mnistlab` console script's first step, outside the package: loading it (torch and the
rest) takes a second or two, and a Ctrl-C in that time ends in one line and exit status 130, as
it does once the CLI runs (:func:`mnistlab.cli.main`), not in a traceback (nor in numpy's
"Importing the numpy C-extensions failed", which an interrupt inside its import turns into)."""

from __future__ import annotations

import signal
import sys


def main(pressed: list[int] | None = None) -> int:
    """Load the CLI with Ctrl-C held back (noted, not raised inside an import), then run it; 130
    after "interrupted" when Ctrl-C came while it loaded (or was already noted in ``pressed``: the
    package's own hold under ``python -m mnistlab``). A Ctrl-C after the command returned (while
    Python exits) is ignored: the command's status stands, not a death by SIGINT."""
    pressed = [] if pressed is None else pressed
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        from mnistlab.cli import main as cli_main
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        print("interrupted", file=sys.stderr)
        return 130
    status = cli_main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # done and recorded: a Ctrl-C while Python exits changes nothing
    return status
