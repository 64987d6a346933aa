"""The chapters' figure helpers: every panel's y axis is titled, and logarithmic exactly where asked."""
import re

import pandas as pd
import pytest

from wnlib.book.figures import (_BookRenderer, annotate_provenance, grid_history_figure, history_figure, relabel,
                                slider_figure)

FRAME = pd.DataFrame({"epoch": [0, 1, 0, 1], "run": ["a", "a", "b", "b"], "mode": ["x", "x", "y", "y"],
                      "loss": [1.0, 0.5, 2.0, 1.5], "hess": [4.0, 2.0, 0.4, 0.2]})


def _axes(fig):
    return {name: fig.layout[name] for name in fig.layout if name.startswith("yaxis")}


def test_history_figure_titles_every_panel_and_logs_only_the_asked_ones():
    fig = history_figure(FRAME, {"loss": "training loss", "hess": "Hessian norm"}, log_y=("hess",))
    axes = sorted(_axes(fig).values(), key=lambda a: a.title.text)
    assert [(a.title.text, a.type) for a in axes] == [("Hessian norm", "log"), ("training loss", "linear")]
    assert axes[0].dtick is not None  # log axes: a tick at every power of 2


def test_grid_history_figure_one_row_per_quantity_one_column_per_facet():
    fig = grid_history_figure(FRAME, {"loss": "training loss", "hess": "Hessian norm"}, facet_col="mode",
                              col_order=["x", "y"], title="t", log_y=("hess",))
    axes = list(_axes(fig).values())
    assert len(axes) == 4  # 2 quantities x 2 modes
    assert sorted((a.title.text, a.type) for a in axes) == [("Hessian norm", "log")] * 2 + [("training loss", "linear")] * 2
    assert {t.name for t in fig.data} == {"a", "b"}


def test_slider_figures_do_not_play_on_load():
    grid = pd.DataFrame({"width": [8, 16, 8, 16], "c": [0.5, 0.5, 5.0, 5.0], "measured": [1.0, 0.5, 0.1, 0.05]})
    fig = slider_figure(grid, x="width", y="measured", slider="c")
    bundle = _BookRenderer().to_mimebundle(fig.to_dict())
    assert len(bundle["application/vnd.plotly.v1+json"]["frames"]) == 2   # the slider's two steps
    html = bundle["text/html"]
    assert "Plotly.newPlot" in html and "Plotly.animate" not in html      # drawn at its first step, not played


def _figure_html(fig):
    from html.parser import HTMLParser

    class Parts(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.text, self.attrs = [], {}, {}

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            key = attrs.get("class", tag).split()[0] if tag in ("div", "span", "figure", "figcaption") else tag
            self.stack.append(key)
            self.attrs.setdefault(key, attrs)

        def handle_endtag(self, tag):
            self.stack.pop()

        def handle_data(self, data):
            for key in self.stack:
                self.text[key] = self.text.get(key, "") + data

    bundle = _BookRenderer().to_mimebundle(fig.to_dict())
    parts = Parts()
    parts.feed(bundle["text/html"])
    return bundle, parts


def test_figures_are_html_figures_with_title_caption_provenance_and_a_text_alternative():
    fig = history_figure(FRAME, {"loss": "training loss"}, title="Short title", caption="width 8, depth 2",
                         provenance="data: digits · profile: quick")
    bundle, parts = _figure_html(fig)
    assert parts.text["wnfig-title"] == "Short title"
    assert parts.text["wnfig-caption"] == "width 8, depth 2"
    assert parts.text["wnfig-provenance"] == "data: digits · profile: quick"
    assert parts.text["figcaption"] == "width 8, depth 2data: digits · profile: quick"  # both under the plot
    plot = parts.attrs["wnfig-plot"]
    assert plot["role"] == "group"   # a labelled group: "img" may not hold the plot's buttons and slider (axe: nested-interactive)
    assert plot["aria-label"] == "Short title. width 8, depth 2. data: digits · profile: quick"
    html = bundle["text/html"]
    assert html.index("wnfig-title") < html.index("Plotly.newPlot") < html.index("<figcaption>")
    jupyter = bundle["application/vnd.plotly.v1+json"]["layout"]   # JupyterLab: provenance under the title
    assert jupyter["title"]["text"] == "Short title"
    assert jupyter["title"]["subtitle"]["text"] == "data: digits · profile: quick"


def test_the_html_plot_draws_no_title_nor_provenance_inside_the_canvas():
    fig = history_figure(FRAME, {"loss": "training loss"}, title="Short title", provenance="data: digits")
    html = _BookRenderer().to_mimebundle(fig.to_dict())["text/html"]
    start = html.index("Plotly.newPlot")
    layout = html[start:]
    assert '"rgba(0,0,0,0)"' in layout and '"size":1' in layout   # the title stays in the layout, not drawn
    assert "subtitle" not in layout and '"meta"' not in layout


def test_figure_ids_are_stable_and_differ_between_figures():
    ids = [_BookRenderer().to_mimebundle(history_figure(FRAME, {c: c}, provenance="p").to_dict())["text/html"]
           for c in ("loss", "loss", "hess")]
    found = [re.search(r'id="(wnfig-[0-9a-f]{12})"', h).group(1) for h in ids]
    assert found[0] == found[1] != found[2]


def test_plotly_labels_render_their_markup_in_the_text_alternative():
    fig = history_figure(FRAME, {"loss": "loss"}, title="‖∇²<sub>θ</sub> f‖₂ against width",
                         provenance="data: a &amp; b")
    _, parts = _figure_html(fig)
    assert parts.attrs["wnfig-plot"]["aria-label"] == "‖∇²θ f‖₂ against width. data: a & b"


def test_annotate_provenance_rejects_empty_or_non_text():
    fig = history_figure(FRAME, {"loss": "loss"})
    with pytest.raises(ValueError, match="text"):
        annotate_provenance(fig, "  ")
    with pytest.raises(ValueError, match="caption"):
        annotate_provenance(fig, "data: digits", caption=3)
    annotate_provenance(fig, "data: digits", caption="first")
    annotate_provenance(fig, "data: digits, again")              # a later call keeps the caption
    assert fig.layout.meta["wnlib"] == {"provenance": "data: digits, again", "caption": "first"}


def test_relabel_keeps_the_value_of_facet_titles_and_renames_traces_in_every_frame():
    import plotly.express as px

    long = FRAME.melt(id_vars=["epoch", "run", "mode"], value_vars=["loss", "hess"])
    faceted = px.line(long, x="epoch", y="value", color="variable", facet_col="mode")
    assert [a.text for a in faceted.layout.annotations] == ["mode=x", "mode=y"]
    relabel(faceted, {"loss": "training loss"})
    assert [a.text for a in faceted.layout.annotations] == ["x", "y"]
    assert {t.name for t in faceted.data} == {"training loss", "hess"}

    animated = px.line(FRAME, x="epoch", y=["loss", "hess"], animation_frame="run")
    relabel(animated, {"loss": "L", "hess": "H"})
    names = [t.name for t in animated.data] + [t.name for f in animated.frames for t in f.data]
    assert names == ["L", "H"] * 3
