"""The live explorers where readers use them: JupyterLab in headless Chromium, with a real kernel.

For every chapter with an explorer (a code cell calling ``explorer(``): a copy of the notebook is opened in a
JupyterLab started on 127.0.0.1 with a random token (``tools/lab.py``, shared with ``bench/explorers.py``),
all cells are run with JupyterLab's ``Run All Cells``, and then every control of the explorer is moved one
step with the keyboard (and back): each move must redraw the explorer's plotly figure with other data, the
move back must bring the first figure back, the explorer must not stay busy (disabled controls), and neither
the page nor any cell may show an error. The server is stopped at the end, also when a check fails. Needs no
built book; needs Chromium (``make browser``).
"""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tools/ is a folder of the repository, not installed

from tools.lab import Chapter, Lab, explorer_notebooks  # noqa: E402

NOTEBOOKS = explorer_notebooks()
RUN_TIMEOUT_S = 900    # Run All of one chapter: a minute or two on 2 shared cores, in the quick profile
MOVE_TIMEOUT_S = 300   # one move that is not precomputed yet: up to tens of seconds at the widest settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab():
    pytest.importorskip("jupyterlab")
    with Lab(NOTEBOOKS) as running:   # leaving the block stops the kernels and the server, also on a failure
        yield running


def test_the_chapters_with_explorers_are_found():
    names = [p.name for p in NOTEBOOKS]
    assert {"02_hessian.ipynb", "03_optimization.ipynb", "04_generalization.ipynb"} <= set(names), names


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_control_redraws_the_figure(lab, browser, notebook):
    chapter = Chapter(lab, browser, notebook.name)
    try:
        chapter.open()
        kernel_prefix = chapter.execute("import sys; print(sys.prefix)").strip()
        assert kernel_prefix == sys.prefix, f"the kernel runs in {kernel_prefix}, not in this environment"
        chapter.run_all(timeout=RUN_TIMEOUT_S)
        first = chapter.figure()
        controls = chapter.controls()
        assert controls, f"{notebook.name}: the explorer has no sliders"
        for i, control in enumerate(controls):
            step = 1 if control["index"] < control["last"] else -1
            _, moved = chapter.move(i, step, timeout=MOVE_TIMEOUT_S)
            now = chapter.controls()[i]
            assert now["value"] != control["value"], f"{control['label']}: the slider did not move"
            assert moved != first
            _, back = chapter.move(i, -step, timeout=MOVE_TIMEOUT_S)
            assert chapter.controls()[i]["value"] == control["value"]
            assert back == first, f"{notebook.name}: {control['label']} moved back to {control['value']} " \
                                  "does not show the first figure again"
            chapter.page.wait_for_function(  # the busy state (disabled controls, hidden figure) is cleared
                "!document.querySelector('.wn-explorer').classList.contains('wn-explorer-busy')", timeout=10000)
            assert chapter.page.locator(".wn-explorer .widget-slider input:disabled, "
                                        ".wn-explorer .widget-slider .noUi-target[disabled]").count() == 0
        assert chapter.errors() == [], f"{notebook.name}: errors in the page or the notebook"
    finally:
        chapter.close()
