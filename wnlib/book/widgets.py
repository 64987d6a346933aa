"""Live explorers for the chapters: ipywidgets controls that recompute through wnlib and redraw a plotly figure.

Explained in: book/00_introduction.ipynb (reading the book). Each explorer comes with a question that tells the
reader what to look for. Python callbacks need a kernel (Jupyter, Colab); the static pages pair every explorer
with a kernel-free slider figure (:func:`wnlib.book.figures.slider_figure`).
"""
from __future__ import annotations

from typing import Callable

import ipywidgets as W
from IPython.display import display

WIDTHS = (16, 32, 64, 128, 256, 512, 1024)
INIT_SCALES = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
DEPTHS = (1, 2, 3, 4, 6, 8)


def width_slider(value: int = 128, options=WIDTHS) -> W.SelectionSlider:
    """Width ``m`` on a doubling grid."""
    return W.SelectionSlider(options=list(options), value=value, description="width m", continuous_update=False)


def init_scale_slider(value: float = 0.5, options=INIT_SCALES) -> W.SelectionSlider:
    """Init scale ``c`` on a log grid (the paper uses 0.5 and 5)."""
    return W.SelectionSlider(options=list(options), value=value, description="init scale c",
                             continuous_update=False)


def depth_slider(value: int = 2, options=DEPTHS) -> W.SelectionSlider:
    """Depth ``L``."""
    return W.SelectionSlider(options=list(options), value=value, description="depth L", continuous_update=False)


def explorer(compute: Callable, controls: dict[str, W.ValueWidget], *, question: str) -> W.VBox:
    """A question, the ``controls`` and an output area showing ``compute(**values)`` (a plotly figure).

    Every change of a control recomputes and redraws the figure in the same place.
    """
    out = W.Output()

    def redraw(_=None):
        values = {name: control.value for name, control in controls.items()}
        with out:
            out.clear_output(wait=True)
            display(compute(**values))

    for control in controls.values():
        control.observe(redraw, names="value")
    header = W.HTML(f"<p><b>Question.</b> {question}</p>"
                    "<p style='color:#666;font-size:90%'>(Live: needs a running kernel, e.g. on Colab. In the "
                    "static page use the slider figure next to this one.)</p>")
    box = W.VBox([header, W.HBox(list(controls.values())), out])
    redraw()
    return box
