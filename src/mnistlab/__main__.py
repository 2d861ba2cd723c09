"""`python -m mnistlab`: the same as the `mnistlab` command."""

import sys

if __name__ == "__main__":  # spawned worker processes import this module: never run the CLI there
    from mnistlab.cli import main

    sys.exit(main())
