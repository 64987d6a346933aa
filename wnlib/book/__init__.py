"""The book's own helpers: execution profile and set-up, figures, live explorers,
saved-result display.

Explained in: book/00_introduction.ipynb ("How to read this book"). Not part of the core
library: it needs the ``book`` extra (plotly, ipywidgets, pandas),
``pip install "wnlib[book]"``.
"""

from .. import _extras

for _module in ("plotly", "ipywidgets", "pandas"):
    _extras.require(_module, "book", "wnlib.book")

from . import figures, results, widgets  # noqa: E402
from .setup import Setup, profile, seed_everything, setup  # noqa: E402

__all__ = [
    "Setup",
    "figures",
    "profile",
    "results",
    "seed_everything",
    "setup",
    "widgets",
]
