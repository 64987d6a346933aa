"""The paper's experiment and the book's sweeps: run configurations, cached resumable
runs, the registry of experiments and profiles, the results store, and the command line
(``python -m wnlib``).

Explained in: book/05_experiments.ipynb and README.md ("Reproducing the paper's
experiments"). Needs the ``experiments`` extra (pandas, tqdm):
``pip install "wnlib[experiments]"``.
"""

from .. import _extras

_extras.require("pandas", "experiments", "wnlib.experiments")

from .config import MODELS, RunConfig, default_results_dir  # noqa: E402
from .registry import (
    EXPERIMENTS,
    PROFILES,
    TRAIN_SIZES,
    Experiment,
    Profile,
    configs,  # noqa: E402
    default_datasets,
    grid,
)
from .runner import load_or_run, run, sweep, tidy  # noqa: E402
from .store import CorruptFileWarning, Store, StoreWriteError  # noqa: E402

__all__ = [
    "EXPERIMENTS",
    "MODELS",
    "PROFILES",
    "TRAIN_SIZES",
    "CorruptFileWarning",
    "Experiment",
    "Profile",
    "RunConfig",
    "Store",
    "StoreWriteError",
    "configs",
    "default_datasets",
    "default_results_dir",
    "grid",
    "load_or_run",
    "run",
    "sweep",
    "tidy",
]
