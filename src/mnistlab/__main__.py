"""`python -m mnistlab`: the same as the `mnistlab` command, Ctrl-C while it loads included (one
line, status 130: see the package's ``__init__`` and ``mnistlab_launch``)."""

import sys

if __name__ == "__main__":  # spawned worker processes import this module: never run the CLI there
    import mnistlab
    from mnistlab_launch import main

    sys.exit(main(mnistlab._PRESSED))  # a Ctrl-C while the package loaded ends there, as while the CLI loads
