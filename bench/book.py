"""Benchmark 4: how long each chapter of the book takes to execute in the quick profile.

Every ``book/*.ipynb`` present at run time is executed with nbclient (kernel ``python3``,
``WNLIB_PROFILE=quick``) on an in-memory copy: the notebook files are not modified.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from .report import Row, row

NAME = "book"
BOOK = Path(__file__).resolve().parent.parent / "book"
TARGET_S = 600.0  # the whole book under 10 minutes


def execute(path: Path, timeout: int = 1200) -> float:
    """Seconds to execute the notebook at ``path`` (raises on a failing cell); the file is not written."""
    from tools.notebooks import run_notebook

    start = time.perf_counter()
    run_notebook(path, timeout=timeout)
    return time.perf_counter() - start


def run(device: torch.device, quick: bool = False) -> list:
    """One row per notebook (seconds; a failing one is marked), then the total against the 10-minute target."""
    paths = sorted(BOOK.glob("*.ipynb"))[:1 if quick else None]
    if not paths:
        return [Row(NAME, "no notebooks in book/ yet", "seconds", float("nan"))]
    old = os.environ.get("WNLIB_PROFILE")
    os.environ["WNLIB_PROFILE"] = "quick"  # inherited by the kernels
    rows, total, failed = [], 0.0, False
    try:
        for path in paths:
            start = time.perf_counter()
            try:
                seconds = execute(path)
                rows.append(row(NAME, path.name, "seconds (quick profile)", seconds))
            except Exception as err:  # a chapter still being written: report it, time the rest
                seconds, failed = time.perf_counter() - start, True
                rows.append(Row(NAME, f"{path.name} (failed: {type(err).__name__})", "seconds until failure",
                                seconds, "runs", False))
            total += seconds
    finally:
        if old is None:
            os.environ.pop("WNLIB_PROFILE")
        else:
            os.environ["WNLIB_PROFILE"] = old
    case = f"whole book ({len(paths)} notebooks{', some failed' if failed else ''})"
    rows.append(row(NAME, case, "seconds (quick profile)", total, at_most=TARGET_S))
    return rows
