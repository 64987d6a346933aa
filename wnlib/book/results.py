"""What a chapter shows from the store: saved results of a named experiment, and the line saying what made them.

Explained in: book/04_generalization.ipynb and book/05_experiments.ipynb.
"""
from __future__ import annotations

import pandas as pd

from .. import _checks
from ..experiments import PROFILES, Store, configs, default_results_dir, load_or_run


def book_results(name: str, profile: str = "quick", *, out=None) -> tuple[pd.DataFrame, dict]:
    """What a chapter shows: the ``full`` results of ``name`` when every full run is stored, else the ``quick``
    ones (loaded, or computed in CPU minutes). Never starts a full-profile run: those take GPU hours."""
    _checks.choice("profile", profile, PROFILES)
    store = Store(out if out is not None else default_results_dir())
    if profile == "full" and all(store.is_done(c.key) for c in configs(name, "full")):
        return load_or_run(name, "full", out=out, progress=False)
    return load_or_run(name, "quick", out=out, progress=False)


def produced_by(meta: dict) -> str:
    """One line for a figure caption: what produced the results of :func:`load_or_run`."""
    return (f"{meta['experiment']} ({meta['profile']} profile): {meta['n_runs']} runs on "
            f"{', '.join(meta['device'])}; wnlib {', '.join(meta['wnlib_version'])}, "
            f"{meta['wall_time_s']:.0f} s of training, {', '.join(meta['date'])}")

