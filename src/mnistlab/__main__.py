"""`python -m mnistlab`: the same as the `mnistlab` command, Ctrl-C while it loads included (one
line, status 130: see the package's ``__init__`` and ``mnistlab_launch``)."""

import sys

if __name__ == "__main__":  # spawned worker processes import this module: never run the CLI there
    import mnistlab
    from mnistlab_launch import main

    if mnistlab._PRESSED:  # Ctrl-C while the package loaded
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(main())
