"""``python -m wnlib``: the command line of :mod:`wnlib.experiments` (see
``python -m wnlib --help``)."""

import sys

from .experiments.cli import main

if __name__ == "__main__":
    sys.exit(main())
