"""What every chapter does first: pick the execution profile, seed, threads, set the
plotly renderer, find the book's stored results, say what runs.

Explained in: book/00_introduction.ipynb (execution profiles). The profiles themselves
are defined once, in :mod:`wnlib.experiments.registry`; a chapter runs in ``quick`` or
``full``, and this module decides which one: ``$WNLIB_PROFILE`` if set, else ``full``
only when CUDA is present and the MNIST files are found, else ``quick``. ``$WNLIB_SEED``
(the chapter's base seed, default 0) and ``$WNLIB_THREADS`` (torch's CPU threads) rerun
a chapter as another machine or another draw would: every claim a chapter asserts must
hold under both (``make reproduce-check``). The stored results a chapter shows are in
``$WNLIB_RESULTS`` if set (the Colab install cell sets it), else in ``results/`` of the
working directory: Jupyter, Jupyter Book and nbval run a chapter in its folder,
``book/``, so that is ``book/results``.
"""

from __future__ import annotations

import faulthandler
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import _checks
from ..data import dataset_available
from ..hardware import describe, device
from .figures import use_book_renderer

PROFILES = ("quick", "full")
"""The profiles a chapter runs in, two of :data:`wnlib.experiments.PROFILES` (chapter 5
only loads the stored runs of ``cpu``)."""


def profile() -> str:
    """``$WNLIB_PROFILE`` if set (``quick`` or ``full``), else ``full`` with CUDA and
    MNIST present, else ``quick``."""
    chosen = os.environ.get("WNLIB_PROFILE")
    if chosen:
        return _checks.choice("WNLIB_PROFILE", chosen, PROFILES)
    return (
        "full" if torch.cuda.is_available() and dataset_available("mnist") else "quick"
    )


def results_dir() -> Path:
    """The book's results folder: ``$WNLIB_RESULTS`` if set, else ``results`` in the
    working directory (a chapter's, ``book/``), as an absolute path."""
    chosen = os.environ.get("WNLIB_RESULTS")
    return Path(chosen).expanduser().resolve() if chosen else Path.cwd() / "results"


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _env_int(name: str, default: int | None, minimum: int) -> int | None:
    """``$name`` as an integer >= ``minimum`` if set, else ``default``."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(
            f"${name} must be an integer >= {minimum}, got {raw!r}"
        ) from None
    if value < minimum:
        raise ValueError(f"${name} must be an integer >= {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class Setup:
    """What a chapter runs with; ``provenance`` is the line every figure carries.
    ``seed`` is the chapter's base seed: single draws use it, repeated draws use
    :meth:`seeds`. ``results``: the book's results folder (:func:`results_dir`),
    which the chapter passes to every load (``out=S.results``)."""

    profile: str
    dataset: str
    device: torch.device
    hardware: str
    seed: int = 0
    results: Path = field(default_factory=results_dir)

    def seeds(self, k: int) -> list[int]:
        """``k`` consecutive seeds from the chapter's base seed:
        ``seed, seed + 1, ..., seed + k - 1``."""
        return list(range(self.seed, self.seed + _checks.positive_int("k", k)))

    @property
    def provenance(self) -> str:
        return (
            f"data: {self.dataset} · profile: {self.profile} · hardware: "
            f"{self.hardware}"
        )

    def __str__(self) -> str:
        return f"profile={self.profile}  dataset={self.dataset}  device={self.hardware}"


def setup(
    *,
    quick_dataset: str = "digits",
    full_dataset: str = "mnist",
    seed: int | None = None,
    threads: int | None = None,
    verbose: bool = True,
) -> Setup:
    """Seed, set torch's CPU threads, use the book's plotly renderer, choose the
    profile, the dataset and the results folder (:func:`results_dir`); print what will
    produce the outputs.

    ``seed``: the base seed (default ``$WNLIB_SEED``, else 0). ``threads``: torch's CPU
    threads for the chapter (``$WNLIB_THREADS`` wins when set; ``None`` leaves
    torch's default)."""
    seed = _env_int("WNLIB_SEED", 0, 0) if seed is None else _checks.seed("seed", seed)
    threads = _env_int(
        "WNLIB_THREADS",
        None if threads is None else _checks.positive_int("threads", threads),
        1,
    )
    if threads is not None:
        torch.set_num_threads(threads)
    if os.environ.get(
        "WNLIB_FAULT_LOG"
    ):  # where a stuck kernel writes its threads' stacks on SIGABRT (reproduce check)
        faulthandler.enable(open(os.environ["WNLIB_FAULT_LOG"], "a"), all_threads=True)
    seed_everything(seed)
    use_book_renderer()
    prof = profile()
    dev = device()
    result = Setup(
        prof,
        full_dataset if prof == "full" else quick_dataset,
        dev,
        describe(dev),
        seed,
        results_dir(),
    )
    if verbose:
        print(result)
    return result
