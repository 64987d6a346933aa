"""What every chapter does first: pick the execution profile, seed, set the plotly renderer, say what runs.

Explained in: book/00_introduction.ipynb (execution profiles).

Profiles: ``quick`` (CPU-sized: digits or teacher data, small widths, minutes) and ``full`` (the paper's
settings on MNIST/CIFAR-10, for a GPU). Chosen by ``$WNLIB_PROFILE``; by default ``full`` only when CUDA is
present and the MNIST files are found, else ``quick``.

``python -m wnlib.book execute book/*.ipynb`` re-executes notebooks in place (outputs and widget state stored).
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch

from . import _checks
from .data import dataset_available
from .hardware import describe, device
from .plots import use_book_renderer

PROFILES = ("quick", "full")


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


def execute(paths: list[str], *, timeout: int = 1800) -> None:
    """Execute notebooks in place with nbclient, storing outputs and widget state (``make notebooks``)."""
    import nbformat
    from nbclient import NotebookClient

    for path in paths:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                                resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
        print(f"executing {path}", flush=True)
        client.execute()
        nbformat.write(nb, path)


def _main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m wnlib.book", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("execute", help="re-execute notebooks in place")
    ex.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    execute(args.paths)


if __name__ == "__main__":
    _main()
