"""Plotly figures for the book: a renderer that works in the static HTML, slider figures, provenance notes.

Explained in: book/00_introduction.ipynb (how the figures are made).

In the static book, plotly.js is served once per page from the book's own files (``_vendor/plotly.min.js``),
so each figure is emitted as a small ``text/html`` snippet (no inlined plotly.js, no CDN) next to the usual
``application/vnd.plotly.v1+json`` that JupyterLab draws. Colab keeps its own renderer.
"""
from __future__ import annotations

import hashlib
import json
import sys

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

RENDERER = "wnlib_book"


class _BookRenderer(pio.base_renderers.MimetypeRenderer):
    """Both the plotly JSON (Jupyter) and an HTML snippet that needs a page-level ``window.Plotly``."""

    def to_mimebundle(self, fig_dict):
        fig = go.Figure(fig_dict)
        spec = json.dumps(fig_dict, sort_keys=True, default=str)
        div_id = "wnfig-" + hashlib.sha1(spec.encode()).hexdigest()[:12]  # stable ids: stable stored outputs
        html = fig.to_html(include_plotlyjs=False, full_html=False, div_id=div_id,
                           config={"displaylogo": False, "responsive": True})
        return {"application/vnd.plotly.v1+json": fig.to_plotly_json(), "text/html": html}


def use_book_renderer() -> str:
    """Make :data:`RENDERER` the default plotly renderer (in Colab keep ``colab``); return the one in use."""
    if "google.colab" in sys.modules:
        pio.renderers.default = "colab"
    else:
        pio.renderers[RENDERER] = _BookRenderer()
        pio.renderers.default = RENDERER
    return pio.renderers.default


def annotate_provenance(fig: go.Figure, text: str) -> go.Figure:
    """Write ``text`` (data, profile, hardware) under the plot area, so every figure says what produced it."""
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0, y=-0.22, showarrow=False,
                       xanchor="left", yanchor="top", font=dict(size=10, color="#666"))
    fig.update_layout(margin=dict(b=110))
    return fig


def slider_figure(frame: pd.DataFrame, *, x: str, y: list[str] | str, slider: str, title: str = "",
                  log_x: bool = True, log_y: bool = True, labels: dict | None = None,
                  provenance: str | None = None) -> go.Figure:
    """Kernel-free exploration: one curve per column of ``y`` against ``x``, a plotly slider over ``slider``.

    ``frame`` is a precomputed grid (e.g. width x init scale). Moving the slider restyles the figure in the
    browser, so a reader of the static HTML can explore without a kernel.
    """
    y = [y] if isinstance(y, str) else list(y)
    labels = labels or {}
    values = sorted(frame[slider].unique())
    fig = go.Figure()
    for i, value in enumerate(values):
        part = frame[frame[slider] == value].sort_values(x)
        for col in y:
            fig.add_trace(go.Scatter(x=part[x], y=part[col], mode="lines+markers", name=labels.get(col, col),
                                     visible=(i == 0), legendgroup=col,
                                     hovertemplate=f"{labels.get(x, x)}=%{{x}}<br>{labels.get(col, col)}=%{{y:.4g}}"))
    steps = []
    for i, value in enumerate(values):
        visible = np.repeat(np.arange(len(values)) == i, len(y)).tolist()
        steps.append(dict(method="update", label=f"{value:g}" if isinstance(value, (int, float)) else str(value),
                          args=[{"visible": visible}]))
    fig.update_layout(
        title=title, sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix=f"{labels.get(slider, slider)} = "),
                                   pad=dict(t=50))],
        xaxis=dict(title=labels.get(x, x), type="log" if log_x else "linear"),
        yaxis=dict(title=", ".join(labels.get(c, c) for c in y) if len(y) < 3 else "", type="log" if log_y else "linear"),
        template="plotly_white", height=480)
    if provenance:
        annotate_provenance(fig, provenance)
    return fig


def loglog_slope(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (e.g. about -0.5 for ``y ~ x^{-1/2}``)."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    return float(np.polyfit(lx, ly, 1)[0])


def history_figure(frame: pd.DataFrame, columns: dict[str, str], *, x: str = "epoch", log_y=(),
                   title: str = "", provenance: str | None = None) -> go.Figure:
    """Side-by-side panels, one per ``columns`` entry (column -> panel title), against ``x``.

    ``frame`` may hold several runs told apart by a ``run`` column (one line each, shared colours).
    """
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(columns), subplot_titles=list(columns.values()),
                        horizontal_spacing=0.08)
    runs = list(frame.groupby("run", sort=False)) if "run" in frame else [("", frame)]
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for r, (run, part) in enumerate(runs):
        for c, col in enumerate(columns, start=1):
            fig.add_trace(go.Scatter(x=part[x], y=part[col], mode="lines+markers", name=str(run) or col,
                                     legendgroup=str(run), showlegend=bool(run) and c == 1,
                                     line=dict(color=palette[r % len(palette)])), row=1, col=c)
            fig.update_xaxes(title_text=x, row=1, col=c)
            if col in log_y:
                fig.update_yaxes(type="log", row=1, col=c)
    fig.update_layout(title=title, template="plotly_white", height=380,
                      legend=dict(orientation="h", y=1.18, x=0))
    if provenance:
        annotate_provenance(fig, provenance)
    return fig
