"""What every chapter does first: pick the execution profile, seed, set the plotly renderer, say what runs.

Explained in: book/00_introduction.ipynb (execution profiles). The profiles themselves (``quick``, ``full``)
are defined once, in :mod:`wnlib.experiments.registry`; this module decides which one a chapter runs:
``$WNLIB_PROFILE`` if set, else ``full`` only when CUDA is present and the MNIST files are found, else ``quick``.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch

from .. import _checks
from ..data import dataset_available
from ..experiments import PROFILES
from ..hardware import describe, device
from .figures import use_book_renderer


def profile() -> str:
    """``$WNLIB_PROFILE`` if set (``quick`` or ``full``), else ``full`` with CUDA and MNIST present, else ``quick``."""
    chosen = os.environ.get("WNLIB_PROFILE")
    if chosen:
        return _checks.choice("WNLIB_PROFILE", chosen, PROFILES)
    return "full" if torch.cuda.is_available() and dataset_available("mnist") else "quick"


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass(frozen=True)
class Setup:
    """What a chapter runs with; ``provenance`` is the line every figure carries."""

    profile: str
    dataset: str
    device: torch.device
    hardware: str

    @property
    def provenance(self) -> str:
        return f"data: {self.dataset} · profile: {self.profile} · hardware: {self.hardware}"

    def __str__(self) -> str:
        return f"profile={self.profile}  dataset={self.dataset}  device={self.hardware}"


def setup(*, quick_dataset: str = "digits", full_dataset: str = "mnist", seed: int = 0,
          verbose: bool = True) -> Setup:
    """Seed, use the book's plotly renderer, choose the profile and dataset; print what will produce the outputs."""
    seed_everything(seed)
    use_book_renderer()
    prof = profile()
    dev = device()
    result = Setup(prof, full_dataset if prof == "full" else quick_dataset, dev, describe(dev))
    if verbose:
        print(result)
    return result
