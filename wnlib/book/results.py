"""What a chapter shows from the store: saved results of a named experiment, and the
line saying what made them.

Explained in: book/04_generalization.ipynb and book/05_experiments.ipynb. ``out`` is the
results folder: the chapters pass ``S.results`` (what :func:`wnlib.book.setup` found);
None means the same folder, ``$WNLIB_RESULTS`` if set, else ``results/`` in the working
directory (a chapter's: ``book/results``).
"""

from __future__ import annotations

import pandas as pd

from .. import _checks
from ..experiments import Store, configs, load_or_run
from .setup import PROFILES, results_dir


def stored_results(
    name: str, profile: str = "full", *, dataset: str | None = None, out=None
) -> tuple[pd.DataFrame, dict] | None:
    """The results of experiment ``name`` when every one of its runs is stored, else
    ``None``; never computes (a full-profile run takes GPU hours; the ``cpu``
    profile's, minutes)."""
    out = out if out is not None else results_dir()
    store = Store(out)
    if not all(store.is_done(c.key) for c in configs(name, profile, dataset=dataset)):
        return None
    return load_or_run(name, profile, dataset=dataset, out=out, progress=False)


def book_results(
    name: str, profile: str = "quick", *, out=None
) -> tuple[pd.DataFrame, dict]:
    """What a chapter shows: the ``full`` results of ``name`` when every full run is
    stored, else the ``quick`` ones (loaded, or computed: the quick profile is sized
    for a CPU). Never starts a full-profile run."""
    _checks.choice("profile", profile, PROFILES)
    out = out if out is not None else results_dir()
    full = stored_results(name, "full", out=out) if profile == "full" else None
    return (
        full
        if full is not None
        else load_or_run(name, "quick", out=out, progress=False)
    )


def produced_by(meta: dict) -> str:
    """One line for a figure caption: what produced the results of
    :func:`load_or_run`."""
    return (
        f"{meta['experiment']} ({meta['profile']} profile): {meta['n_runs']} runs on "
        f"{', '.join(meta['device'])}; wnlib {', '.join(meta['wnlib_version'])}, "
        f"{meta['wall_time_s']:.0f} s of computing "
        f"({meta.get('measure_time_s', 0.0):.0f} s of it measuring the tracked "
        f"quantities), {', '.join(meta['date'])}"
    )
