"""The `mnistlab` console script's first step, outside the package: loading it (torch and the
rest) takes a second or two, and a Ctrl-C in that time ends in one line and exit status 130, as
it does once the CLI runs (:func:`mnistlab.cli.main`), not in a traceback."""

from __future__ import annotations

import sys


def main() -> int:
    """Load the CLI and run it; 130 after "interrupted" when Ctrl-C comes first."""
    try:
        from mnistlab.cli import main as cli_main
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return cli_main()
