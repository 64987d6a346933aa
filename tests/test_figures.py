"""The chapters' figure helpers: every panel's y axis is titled, and logarithmic exactly where asked."""
import pandas as pd

from wnlib.book.figures import _BookRenderer, grid_history_figure, history_figure, slider_figure

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
