"""``tools/reproduce_check.py``: a cell that raises fails the check at once; a kernel that hangs is stopped at the
timeout with the stacks of its threads (kernel included) in the report, and leaves no process behind."""
import importlib.util
import json
import os
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("reproduce_check", ROOT / "tools" / "reproduce_check.py")
reproduce_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reproduce_check)


def notebook(tmp_path, *cells: str) -> str:
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                     "source": source} for source in cells],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "chapter.ipynb"
    path.write_text(json.dumps(nb))
    return str(path)


def env() -> dict:
    return dict(os.environ, PYTHONFAULTHANDLER="1", PYTHONPATH=str(ROOT))


def test_a_failing_assert_fails_the_run(tmp_path):
    ok, tail = reproduce_check._run(notebook(tmp_path, "assert 1 + 1 == 3, 'the claim flipped'"), env(), 120)
    assert not ok and "the claim flipped" in tail


def test_a_hanging_cell_is_stopped_and_shows_where_the_kernel_stood(tmp_path):
    path = notebook(tmp_path, "from wnlib.book.setup import setup\nS = setup(verbose=False)",
                    "import time\n\n\ndef stuck_here():\n    time.sleep(600)\n\n\nstuck_here()")
    before = {p.pid for p in psutil.process_iter()}
    ok, tail = reproduce_check._run(path, env(), 60)
    assert not ok and tail.startswith("timed out after 60 s")
    assert "in stuck_here" in tail                       # the kernel's own stack, from $WNLIB_FAULT_LOG
    left = [p for p in psutil.process_iter(["cmdline"]) if p.pid not in before and
            any("ipykernel" in part for part in (p.info["cmdline"] or []))]
    assert not left, f"kernel left running: {left}"
