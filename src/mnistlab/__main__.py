"""`python -m mnistlab`: the same as the `mnistlab` command, Ctrl-C while it loads included (one
line, status 130: see ``mnistlab_launch``)."""

import sys

if __name__ == "__main__":  # spawned worker processes import this module: never run the CLI there
    from mnistlab_launch import main

    sys.exit(main())
