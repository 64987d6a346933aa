"""Plotly figures for the book: a renderer that works in the static HTML, one template,
and the few figure shapes the chapters share (slider over a precomputed grid, panels of
tracked quantities, certificate panels).

Explained in: book/00_introduction.ipynb (how the figures are made).

In the static book, plotly.js is served once per page from the book's own files
(``_static/plotly.min.js``, the copy inside the installed ``plotly`` package, put there
by ``book/_ext/wnbook.py``), so each figure is emitted as a small ``text/html`` snippet
(no inlined plotly.js, no CDN) next to the usual ``application/vnd.plotly.v1+json`` that
JupyterLab draws. The snippet is an HTML ``<figure>``: a short title, the plot (labelled
for screen readers), and a ``<figcaption>`` with the detail and the provenance (data,
profile, hardware) given to :func:`annotate_provenance`; on a phone its panels stack in
one column. Colab keeps its own renderer. The template :data:`TEMPLATE` is set once by
:func:`use_book_renderer` (called by ``wnlib.book.setup``).
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
import sys

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio

RENDERER = "wnlib_book"
TEMPLATE = "plotly_white+wnlib"


# Inline, once per figure (the page-level CSS belongs to book/_ext): the figure as a
# framed card that follows the theme's dark mode, its title and caption as HTML text
# that wraps instead of being cut.
_CSS = """<style>
figure.wnfig{margin:1.2em 0;padding:.6em .8em .5em;border:1px solid \
#d0d7de;border-radius:8px;background:#fff;
 color:#1f2328;max-width:100%;box-sizing:border-box}
figure.wnfig .wnfig-title{font-weight:600;font-size:1rem;line-height:1.35;margin:0 0 \
.2em;overflow-wrap:anywhere}
figure.wnfig \
figcaption{font-size:.85rem;line-height:1.45;color:#424a53;margin-top:.4em;overflow-wrap:anywhere}
figure.wnfig .wnfig-provenance{display:block;font-size:.8rem;color:#57606a}
html[data-theme=dark] \
figure.wnfig{background:#1c2128;color:#e6edf3;border-color:#444c56}
html[data-theme=dark] figure.wnfig figcaption,html[data-theme=dark] figure.wnfig \
.wnfig-provenance{color:#b6c0ca}
html[data-theme=dark] .wnfig .main-svg{background:transparent!important}
html[data-theme=dark] .wnfig .main-svg rect.bg{fill:transparent!important}
html[data-theme=dark] .wnfig :is(g[class$=tick],.annotation-text-g,.slider-container) \
text,
html[data-theme=dark] .wnfig \
:is(text.legendtext,text[class$=title]:not(.gtitle)){fill:#d8dee4!important}
html[data-theme=dark] .wnfig :is(.gridlayer,.zerolinelayer) \
path{stroke:#3d444d!important}
</style>"""  # noqa: E501

# Responsive panels: under 600 px, narrow side margins, and a figure with several panels
# stacks them in one column (each panel full width, its facet labels above it); on wider
# screens panels in one row keep 100 px between them and wrap into rows when narrower
# than 150 px; the top margin always fits the legend above them.
_FIT_JS = """<script>
window.wnfigFit = window.wnfigFit || function (gd) {
  var L0 = JSON.parse(JSON.stringify(gd.layout)), cells = [], seen = {};
  gd.data.forEach(function (t) {
    var x = t.xaxis || 'x', y = t.yaxis || 'y';
    if (!seen[x + y]) { seen[x + y] = 1; cells.push({x: 'xaxis' + x.slice(1), y: \
'yaxis' + y.slice(1)}); }
  });
  cells.forEach(function (c) {
    c.xd = (L0[c.x] || {}).domain || [0, 1]; c.yd = (L0[c.y] || {}).domain || [0, 1];
  });
  cells.sort(function (a, b) { return (b.yd[1] - a.yd[1]) || (a.xd[0] - b.xd[0]); });
  var distinct = function (k) { return new Set(cells.map(function (c) { return c[k]; \
})).size === cells.length; };
  var stackable = cells.length > 1 && distinct('x') && distinct('y');
  var top = Math.max.apply(null, cells.map(function (c) { return c.yd[1]; }));
  var oneRow = cells.every(function (c) { return c.yd[1] === cells[0].yd[1]; });
  function across(k) {  /* 100 px between panels: tick labels and y titles stay clear \
of the previous panel */
    var gap = k > 1 ? Math.min(0.3, 100 / gd._fullLayout._size.w) : 0, w = (1 - (k - \
1) * gap) / k;
    return function (j) { return [j * (w + gap), j * (w + gap) + w]; };
  }
  function rows(k) {  /* the panels in rows of k, each row 230 px high; the facet \
labels above each panel */
    var n = cells.length, R = Math.ceil(n / k), P = 230, G = 90, H = R * P + (R - 1) * \
G, col = across(k);
    var u = {'margin.l': 50, 'margin.r': 16}, notes = [], labels = cells.map(function \
() { return []; });
    (L0.annotations || []).forEach(function (a) {
      var side = Math.abs(a.textangle || 0) === 90, hit = false;
      var facet = (a.xref || 'paper') === 'paper' && (a.yref || 'paper') === 'paper' \
&& (side ? a.x > 0.9 : a.y >= top - 0.01);
      cells.forEach(function (c, i) {
        if (facet && (side ? a.y >= c.yd[0] && a.y <= c.yd[1] : a.x >= c.xd[0] && a.x \
<= c.xd[1])) {
          labels[i].push(a.text); hit = true;
        }
      });
      if (!hit) notes.push(a);
    });
    cells.forEach(function (c, i) {
      var t = 1 - Math.floor(i / k) * (P + G) / H, x = col(i % k);
      u[c.x + '.domain'] = x; u[c.y + '.domain'] = [t - P / H, t]; u[c.x + \
'.showticklabels'] = true;
      if (labels[i].length) notes.push({text: labels[i].join(' · '), xref: 'paper', \
yref: 'paper', x: x[0],
        xanchor: 'left', y: t, yanchor: 'bottom', showarrow: false, font: {size: 13}});
    });
    u.annotations = notes;
    u.height = H + gd._fullLayout.margin.t + gd._fullLayout.margin.b;
    return u;
  }
  function wide() {  /* the figure's own layout; panels in one row spaced as in \
across() */
    var m = L0.margin || {}, u = {'margin.l': m.l === undefined ? null : m.l, \
'margin.r': m.r === undefined ? null : m.r};
    if (!stackable) return u;
    u.annotations = L0.annotations || []; u.height = L0.height || null;
    var col = across(cells.length);
    cells.forEach(function (c, i) {
      u[c.x + '.domain'] = oneRow ? col(i) : c.xd; u[c.y + '.domain'] = c.yd;
      u[c.x + '.showticklabels'] = (L0[c.x] || {}).showticklabels === undefined ? null \
: L0[c.x].showticklabels;
    });
    if (oneRow) u.annotations = u.annotations.map(function (a) {
      var i = cells.findIndex(function (c) { return a.x >= c.xd[0] && a.x <= c.xd[1]; \
});
      return (a.xref || 'paper') === 'paper' && a.y >= top - 0.01 && i >= 0 ? \
Object.assign({}, a, {x: (col(i)[0] + col(i)[1]) / 2}) : a;
    });
    return u;
  }
  function room() {  /* top margin = legend + facet labels; the plot area keeps its \
height */
    var lg = gd.querySelector('g.legend'), fl = gd._fullLayout;
    var labelled = (fl.annotations || []).some(function (a) { return a.yref === \
'paper' && a.y >= 0.99; });
    var need = Math.ceil((lg ? lg.getBBox().height : 0) + (labelled ? 34 : 12));
    var step = Math.abs(need - fl.margin.t) > 2 ? Plotly.relayout(gd, {'margin.t': \
need, height: fl.height + need - fl.margin.t}) : null;
    return Promise.resolve(step).then(function () { gd.style.height = \
gd._fullLayout.height + 'px'; });
  }
  function fit() {  /* under 600 px one column; panels in one row wrap into rows when \
under 150 px wide */
    var W = gd.clientWidth, n = cells.length, most = Math.floor((W - 66 + 100) / 250), \
k = 0;
    if (stackable && W < 600) k = 1;
    else if (stackable && oneRow && most < n) k = Math.ceil(n / Math.ceil(n / \
Math.max(most, 1)));
    var u = k ? rows(k) : wide();
    if (!stackable && W < 600) { u['margin.l'] = 50; u['margin.r'] = 16; }
    Promise.resolve(Plotly.relayout(gd, u)).then(room);
  }
  fit();
  window.addEventListener('resize', function () { clearTimeout(gd._wnfigT); gd._wnfigT \
= setTimeout(fit, 200); });
};
</script>"""  # noqa: E501


def _plain(text: str) -> str:
    """``text`` without plotly's HTML tags, for screen readers."""
    return html.unescape(
        re.sub(r"<br\s*/?>", " ", re.sub(r"<(?!br)[^>]+>", "", text))
    ).strip()


class _BookRenderer(pio.base_renderers.MimetypeRenderer):
    """Both the plotly JSON (Jupyter) and an HTML ``<figure>`` that needs a page-level
    ``window.Plotly``.

    In the HTML the title, the caption and the provenance (see
    :func:`annotate_provenance`) are text around the plot, which wraps on any screen;
    the plot itself is an image with that text as its label. In the JSON the
    provenance is the title's subtitle."""

    def to_mimebundle(self, fig_dict):
        spec = json.dumps(fig_dict, sort_keys=True, default=str)
        div_id = (
            "wnfig-" + hashlib.sha1(spec.encode()).hexdigest()[:12]
        )  # stable ids: stable stored outputs
        fig = go.Figure(fig_dict)
        notes = _notes(fig)
        title = fig.layout.title.text or ""
        jupyter = go.Figure(fig)
        if notes.get("provenance"):
            jupyter.update_layout(title_subtitle_text=notes["provenance"])
        fig.update_layout(
            title=dict(
                text=title, font=dict(size=1, color="rgba(0,0,0,0)")
            ),  # kept, not drawn
            meta=None,
            margin_t=60,
            legend=dict(
                yref="container",
                y=1,
                yanchor="top",
                x=0,
                xanchor="left",
                orientation="h",
            ),
        )
        plot = fig.to_html(
            include_plotlyjs=False,
            full_html=False,
            div_id=div_id,
            auto_play=False,  # first step
            config={"displaylogo": False, "responsive": True},
            post_script="wnfigFit(document.getElementById('{plot_id}'))",
        )
        plot = re.sub(
            r'^<div style="height:[^;"]*;', '<div style="', plot.strip(), count=1
        )  # grows with the plot
        caption = "".join(
            f'<span class="wnfig-{k}">{notes[k]}</span>'
            for k in ("caption", "provenance")
            if notes.get(k)
        )
        label = html.escape(
            ". ".join(
                _plain(t)
                for t in (title, notes.get("caption", ""), notes.get("provenance", ""))
                if t
            ),
            quote=True,
        )
        snippet = (
            f'{_CSS}{_FIT_JS}<figure class="wnfig" id="{div_id}-figure">'
            + (f'<div class="wnfig-title">{title}</div>' if title else "")
            + (
                f'<div class="wnfig-plot" role="group" '
                f'aria-label="{label or "plot"}">{plot}</div>'
            )
            + (f"<figcaption>{caption}</figcaption>" if caption else "")
            + "</figure>"
        )
        return {
            "application/vnd.plotly.v1+json": jupyter.to_plotly_json(),
            "text/html": snippet,
        }


def _notes(fig: go.Figure) -> dict:
    meta = fig.layout.meta
    return dict(meta.get("wnlib", {})) if isinstance(meta, dict) else {}


def use_book_renderer() -> str:
    """Set the book's template, and :data:`RENDERER` as the default renderer (in
    Colab keep ``colab``)."""
    # the legend sits above the plot area, clear of facet titles; the title above the
    # legend
    pio.templates["wnlib"] = go.layout.Template(
        layout=dict(
            height=460,
            legend=dict(orientation="h", yanchor="bottom", y=1.1, x=0, title_text=""),
            margin=dict(t=130),
            title=dict(y=0.98, yanchor="top"),
        )
    )
    pio.templates.default = TEMPLATE
    if "google.colab" in sys.modules:
        pio.renderers.default = "colab"
    else:
        pio.renderers[RENDERER] = _BookRenderer()
        pio.renderers.default = RENDERER
    return pio.renderers.default


def annotate_provenance(
    fig: go.Figure, text: str, *, caption: str | None = None
) -> go.Figure:
    """Attach ``text`` (data, profile, hardware) and an optional ``caption`` (what the
    figure shows, beyond its short title) to ``fig``: the book prints them under the
    figure, so every figure says what produced it."""
    for name, value in (("text", text), ("caption", caption)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(
                f"annotate_provenance: {name} must be a non-empty string, got {value!r}"
            )
    notes = {
        **_notes(fig),
        "provenance": text,
        **({"caption": caption} if caption else {}),
    }
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    fig.update_layout(meta={**meta, "wnlib": notes})
    return fig


def relabel(fig: go.Figure, names: dict[str, str] | None = None) -> go.Figure:
    """Plotly express's labels as the book shows them: every facet title
    ``column=value`` becomes ``value``, and every trace (in each animation frame too)
    whose name is a key of ``names`` takes its value. Returns ``fig``."""
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    for trace in [*fig.data, *(t for frame in fig.frames for t in frame.data)]:
        if names and trace.name in names:
            trace.name = names[trace.name]
    return fig


def _range(values, log: bool, pad: float = 0.05) -> list[float]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)] if log else v[np.isfinite(v)]
    lo, hi = (np.log10(v.min()), np.log10(v.max())) if log else (v.min(), v.max())
    span = (hi - lo) or 1.0
    lo, hi = lo - pad * span, hi + pad * span
    return (
        [10**lo, 10**hi] if log else [lo, hi]
    )  # data units: plotly express takes the log itself


def slider_figure(
    frame: pd.DataFrame,
    *,
    x: str,
    y: list[str] | str,
    slider: str,
    title: str = "",
    log_x: bool = True,
    log_y: bool = True,
    labels: dict | None = None,
    provenance: str | None = None,
    caption: str | None = None,
) -> go.Figure:
    """Kernel-free exploration: one curve per column of ``y`` against ``x``, a slider
    over ``slider``.

    ``frame`` is a precomputed grid (e.g. width x init scale); plotly express turns each
    value of ``slider`` into an animation frame, and moving the slider redraws the
    curves in the browser, without a kernel. Axis ranges are fixed over all frames.
    """
    y = [y] if isinstance(y, str) else list(y)
    labels = {**{col: col for col in y}, **(labels or {})}
    part = frame.sort_values([slider, x])
    fig = px.line(
        part,
        x=x,
        y=y,
        animation_frame=slider,
        markers=True,
        log_x=log_x,
        log_y=log_y,
        title=title,
        labels={
            **labels,
            "value": ", ".join(labels[c] for c in y) if len(y) < 3 else "",
        },
        range_x=_range(part[x], log_x),
        range_y=_range(part[y].to_numpy().ravel(), log_y),
    )
    relabel(fig, labels)
    fig.layout.updatemenus = []  # a slider, no play button
    fig.update_layout(legend_title_text="")
    fig.layout.sliders[0].currentvalue.prefix = f"{labels.get(slider, slider)} = "
    fig.layout.sliders[0].pad.t = 50
    fig.update_layout(height=520, margin_b=140)  # room for the slider under the x axis
    if provenance:
        annotate_provenance(fig, provenance, caption=caption)
    return fig


def history_figure(
    frame: pd.DataFrame,
    columns: dict[str, str],
    *,
    x: str = "epoch",
    log_y=(),
    title: str = "",
    provenance: str | None = None,
    caption: str | None = None,
    color: str | None = None,
) -> go.Figure:
    """Side-by-side panels, one per ``columns`` entry (column -> panel title), against
    ``x``.

    ``frame`` may hold several runs told apart by the column ``color`` (default ``run``
    when present): one line each, the same colour in every panel. Each panel has its own
    y axis; those in ``log_y`` are logarithmic.
    """
    color = color or ("run" if "run" in frame else None)
    ids = [x] + ([color] if color else [])
    long = frame.melt(id_vars=ids, value_vars=list(columns), var_name="quantity")
    long["quantity"] = long.quantity.map(columns)
    fig = px.line(
        long,
        x=x,
        y="value",
        color=color,
        facet_col="quantity",
        markers=True,
        title=title,
        category_orders={"quantity": list(columns.values())},
        facet_col_spacing=0.09,
    )
    fig.update_yaxes(matches=None, showticklabels=True)
    relabel(fig)
    for i, (col, name) in enumerate(
        columns.items(), start=1
    ):  # every panel's y axis titled
        fig.update_yaxes(
            title_text=name, type="log" if col in log_y else "linear", col=i
        )
    _log_ticks(fig)
    fig.update_layout(height=420, legend_title_text="")
    if provenance:
        annotate_provenance(fig, provenance, caption=caption)
    return fig


def grid_history_figure(
    frame: pd.DataFrame,
    rows: dict[str, str],
    *,
    facet_col: str,
    col_order: list,
    title: str,
    x: str = "epoch",
    color: str = "run",
    log_y=(),
) -> go.Figure:
    """Panels in a grid against ``x``: one row per ``rows`` entry (column -> row title),
    one column per value of ``facet_col`` (in ``col_order``), one line per ``color``.
    Every panel has its own titled y axis; the rows in ``log_y`` are logarithmic."""
    long = frame.melt(id_vars=[x, color, facet_col], value_vars=list(rows))
    long["quantity"] = long.variable.map(rows)
    order = {"quantity": list(rows.values()), facet_col: list(col_order)}
    fig = px.line(
        long,
        x=x,
        y="value",
        color=color,
        facet_col=facet_col,
        facet_row="quantity",
        markers=True,
        category_orders=order,
        facet_col_spacing=0.16,
        title=title,
    )
    relabel(fig)
    fig.update_yaxes(matches=None, showticklabels=True)
    for row, col in enumerate(
        reversed(list(rows)), start=1
    ):  # plotly express: row 1 at the bottom
        fig.update_yaxes(
            title_text=rows[col], type="log" if col in log_y else "linear", row=row
        )
    fig.update_layout(legend_title_text="")
    return fig


def _log_ticks(fig: go.Figure) -> None:
    """A tick at every power of 2 on the logarithmic y axes, labelled in full."""
    fig.update_yaxes(dtick=math.log10(2), tickformat=".2~g", selector=dict(type="log"))


def shade_vacuous(fig: go.Figure, loss_bound: float, top: float, **where) -> go.Figure:
    """Grey band for values ``>= B``: a generalization bound there says nothing (the
    clipped gap never exceeds ``B``)."""
    fig.add_hrect(
        y0=loss_bound,
        y1=top,
        fillcolor="grey",
        opacity=0.15,
        line_width=0,
        layer="below",
        **where,
    )
    return fig


def certificate_figure(
    frames: dict[str, pd.DataFrame],
    title: str,
    provenance: str | None = None,
    caption: str | None = None,
) -> go.Figure:
    """Two panels per gradient-descent run (a table of
    :func:`wnlib.bounds.contraction_table`): the certificate ``alpha_hat_t`` against
    ``t``, and the observed loss factor ``L(t+1)/L(t)`` beside the factor
    ``1 - alpha_hat_t omega (2 - omega) / beta_t`` where ``alpha_hat_t > 0``. Every
    value is measured along the run: ``alpha_hat_t`` certifies the curvature at
    ``theta_t`` only (not RSC over a set), ``beta_t`` is measured at ``theta_t``, so
    the second factor is a yardstick, not a proved rate; the labels (legend and
    hover) say so. Explained in: book/03_optimization.ipynb."""
    long = pd.concat([fr.assign(run=name) for name, fr in frames.items()])
    panels = {
        # short: one legend line on a phone
        "alpha_hat": "α̂_t, measured (> 0: certified at θ_t)",
        "observed": "L(t+1)/L(t), observed",
        "predicted": "certificate's factor (measured α̂_t, β_t)",
    }
    melted = long.melt(
        id_vars=["step", "run"], value_vars=list(panels), var_name="quantity"
    )
    melted["panel"] = np.where(
        melted.quantity == "alpha_hat", "certificate α̂_t", "loss factor per step"
    )
    melted["quantity"] = melted.quantity.map(panels)
    fig = px.line(
        melted,
        x="step",
        y="value",
        color="run",
        line_dash="quantity",
        facet_col="panel",
        markers=True,
        title=title,
        labels={"step": "gradient-descent step t", "value": ""},
        facet_col_spacing=0.08,
    )
    fig.update_yaxes(matches=None, showticklabels=True)
    relabel(fig)
    fig.add_hline(y=0, line=dict(color="#999", width=1), col=1)
    fig.update_yaxes(range=[0, 1.1], col=2)
    fig.update_layout(height=460, legend=dict(font=dict(size=10)))
    if provenance:
        annotate_provenance(fig, provenance, caption=caption)
    return fig
