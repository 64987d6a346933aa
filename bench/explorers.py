"""Benchmark 5: seconds from a move of an explorer's control to its redrawn figure, in JupyterLab.

The harness of ``tests/browser/test_live_explorers.py`` (``tools/lab.py``): JupyterLab on loopback with
copies of the chapters that have an explorer, ``WNLIB_PROFILE=quick``, headless Chromium; each chapter is run
with ``Run All Cells``, then every slider of its explorer is moved with the arrow keys. A move is timed from
the key press to the explorer's plotly figure drawn with other data (kernel, comm, plotly.js all included).

- ``computed on the move``: the server starts with ``WNLIB_EXPLORER_PRECOMPUTE=0`` (no background work), and
  each control goes one step to each side (and back): the figure is computed when the control moves.
- ``precomputed``: then the explorer's ``precompute = True`` in the kernel (:data:`ENABLE`); each control walks
  up to two steps to the side with more room (the lower side on a tie), each move made once the explorer is ready
  (``wn-explorer-ready``: every one-step move is computed), as a reader who looks at a figure for a moment
  before the next move; ``seconds until ready`` is that wait after the previous move.

The goal, under 1 s per move on this CPU in the quick profile, is checked on the precomputed moves.
"""
from __future__ import annotations

import statistics
import time

import torch

from tools.lab import CHROMIUM_ARGS, Chapter, Lab, chromium, explorer_notebooks
from .report import Row, row

NAME = "explorers"
TARGET_S = 1.0
READY_TIMEOUT_S = 300.0
MOVE_TIMEOUT_S = 600.0
RUN_TIMEOUT_S = 1200.0
ENABLE = """def _wn_enable(outputs):
    from wnlib.book.widgets import Explorer
    boxes = [box for box in outputs if isinstance(box, Explorer)]   # the explorer cells' results
    assert boxes, "no explorer in the kernel's output history"
    for box in boxes:
        box.precompute = True
_wn_enable(Out.values())
del _wn_enable
"""


def _skip(reason: str) -> list[Row]:
    return [Row(NAME, f"skipped: {reason}", "seconds per move", float("nan"))]


def measure(chapter: Chapter, *, steps: int = 2) -> list[Row]:
    """The rows of one chapter whose notebook ran and whose explorer is drawn, precompute off in the kernel."""
    stem = chapter.name.removesuffix(".ipynb")
    chapter.figure()
    controls = chapter.controls()
    computed: dict[int, list[float]] = {i: [] for i in range(len(controls))}
    for i, c in enumerate(controls):
        for step in (1, -1):
            if 0 <= c["index"] + step <= c["last"]:
                computed[i].append(chapter.move(i, step, timeout=MOVE_TIMEOUT_S)[0])
                chapter.move(i, -step, timeout=MOVE_TIMEOUT_S)   # back: a kept result
    out = chapter.execute(ENABLE)
    if out.strip():
        raise RuntimeError(f"enabling the precomputation failed: {out}")
    rows = []
    for i, c in enumerate(controls):
        room = {-1: c["index"], 1: c["last"] - c["index"]}
        step = -1 if room[-1] >= room[1] else 1
        n = min(steps, room[step])
        moves, waits, late = [], [], 0
        for _ in range(n):
            start = time.monotonic()
            late += not chapter.wait_ready(READY_TIMEOUT_S)
            waits.append(time.monotonic() - start)
            moves.append(chapter.move(i, step, timeout=MOVE_TIMEOUT_S)[0])
        for _ in range(n):
            chapter.move(i, -step, timeout=MOVE_TIMEOUT_S)
        case = f"{stem} / {c['label']}"
        if computed[i]:
            rows.append(row(NAME, case, f"seconds per move, computed on the move (median of {len(computed[i])})",
                            statistics.median(computed[i])))
        if moves:
            note = f", {late} not ready after {READY_TIMEOUT_S:.0f} s" if late else ""
            rows.append(row(NAME, case, f"seconds per move, precomputed (median of {len(moves)}{note})",
                            statistics.median(moves), at_most=TARGET_S))
            rows.append(row(NAME, case, "seconds until ready after a move (median)", statistics.median(waits)))
    errors = chapter.errors()
    if errors:
        rows.append(Row(NAME, f"{stem}: errors in the page or the notebook: {errors[:3]}", "errors",
                        float(len(errors)), "0", False))
    return rows


def run(device: torch.device, quick: bool = False) -> list[Row]:
    """Rows per explorer control (see the module docstring); ``quick``: the first chapter, one step per walk."""
    try:
        import jupyterlab  # noqa: F401
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        return _skip(f"{err.name} is not installed")
    exe = chromium()
    if exe is None:
        return _skip("no Chromium (make chromium)")
    notebooks = explorer_notebooks()[:1 if quick else None]
    if not notebooks:
        return _skip("no chapter with an explorer")
    rows = []
    with Lab(notebooks, env={"WNLIB_EXPLORER_PRECOMPUTE": "0"}) as lab, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            for path in notebooks:
                chapter = Chapter(lab, browser, path.name)
                start = time.monotonic()
                try:
                    chapter.open()
                    chapter.run_all(timeout=RUN_TIMEOUT_S)
                    rows += measure(chapter, steps=1 if quick else 2)
                except Exception as err:  # a chapter being edited: report it, measure the others
                    rows.append(Row(NAME, f"{path.stem} (failed: {type(err).__name__}: {str(err)[:120]})",
                                    "seconds until failure", time.monotonic() - start, "runs", False))
                finally:
                    chapter.close()
        finally:
            browser.close()
    return rows
