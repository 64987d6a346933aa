"""The live explorers driven from Python (no frontend): the figure shown always belongs to the sliders' final
values, a busy state shows while a setting is computed and is cleared after (also on an error), and the static
book gets a note instead of controls. Runs on ipywidgets 7.7 (Colab's) and 8."""
from pathlib import Path

import ipywidgets as W
import pytest
import yaml
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import display
from IPython.utils.capture import capture_output

from wnlib.book.figures import use_book_renderer
from wnlib.book.widgets import STATIC_NOTE, WIDGET_VIEW, depth_slider, explorer, width_slider

ROOT = Path(__file__).resolve().parents[1]
PLOTLY = "application/vnd.plotly.v1+json"


class Recorder:
    """``compute`` for an explorer: a plotly figure titled with its arguments; records the explorer's state
    at each call (busy or not) and the calls themselves."""

    def __init__(self, fail_at: dict | None = None):
        self.calls, self.seen, self.box, self.fail_at = [], [], None, fail_at

    def __call__(self, width, depth):
        import plotly.graph_objects as go

        self.calls.append({"width": width, "depth": depth})
        box = self.box
        if box is not None:
            self.seen.append(dict(disabled=[c.disabled for c in box.controls.values()], status=box.status.value,
                                  visibility=box.out.layout.visibility, busy="wn-explorer-busy" in box._dom_classes))
        if self.fail_at == {"width": width, "depth": depth}:
            raise ValueError(f"no result for width {width}")
        return go.Figure(layout_title_text=f"width {width}, depth {depth}")


def shown_title(box) -> str:
    (output,) = box.out.outputs
    return output["data"][PLOTLY]["layout"]["title"]["text"]


def make(compute):
    use_book_renderer()
    box = explorer(compute, {"width": width_slider(64, options=(16, 32, 64)), "depth": depth_slider(2)},
                   question="Which bar grows?")
    compute.box = box
    return box


def assert_idle(box):
    assert not any(c.disabled for c in box.controls.values())
    assert box.status.value == "" and box.out.layout.visibility == "visible"
    assert "wn-explorer-busy" not in box._dom_classes


def test_after_a_burst_of_moves_the_figure_is_the_one_of_the_final_values():
    compute = Recorder()
    box = make(compute)
    assert shown_title(box) == "width 64, depth 2"
    controls = box.controls
    for depth in (3, 4, 8):
        controls["depth"].value = depth
    controls["width"].value = 16
    assert shown_title(box) == "width 16, depth 8"
    assert_idle(box)
    # every computation ran busy: controls disabled, the values named, the old figure hidden
    assert len(compute.seen) == 4
    for seen, call in zip(compute.seen, compute.calls[1:]):
        assert seen["disabled"] == [True, True] and seen["busy"] and seen["visibility"] == "hidden"
        assert f"depth L = {call['depth']}" in seen["status"] and f"width m = {call['width']}" in seen["status"]


def test_a_kept_result_is_shown_at_once_without_a_busy_state():
    compute = Recorder()
    box = make(compute)
    box.controls["depth"].value = 3
    statuses = []
    box.status.observe(lambda change: statuses.append(change["new"]), names="value")
    box.controls["depth"].value = 2       # computed at the start: kept
    assert shown_title(box) == "width 64, depth 2"
    assert len(compute.calls) == 2 and statuses == []
    assert_idle(box)


def test_an_error_propagates_and_leaves_no_busy_state_and_no_stale_figure():
    compute = Recorder(fail_at={"width": 32, "depth": 2})
    box = make(compute)
    with pytest.raises(ValueError, match="width 32"):
        box.controls["width"].value = 32
    assert box.out.outputs == ()          # not the figure of width 64
    assert_idle(box)
    box.controls["width"].value = 16
    assert shown_title(box) == "width 16, depth 2"


def test_displayed_the_explorer_offers_the_widget_and_the_static_note():
    shell = InteractiveShell.instance()
    box = make(Recorder())
    with capture_output() as captured:
        display(box)
    (output,) = captured.outputs
    assert output.data["text/html"] == STATIC_NOTE
    assert output.data[WIDGET_VIEW]["model_id"] == box.model_id
    assert shell is InteractiveShell.instance()


def test_the_static_book_prefers_the_note_and_loads_no_widget_manager():
    render = pytest.importorskip("myst_nb.core.render")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert config.get("nb_ipywidgets_js") == {}, "the static pages must not load require.js / embed-amd.js"
    order = render.get_mime_priority("html", config.get("nb_mime_priority_overrides", []))
    assert WIDGET_VIEW not in order[:order.index("text/html")], order



def test_precompute_is_the_explorers_own_and_read_when_it_is_made(monkeypatch):
    monkeypatch.setenv("WNLIB_EXPLORER_PRECOMPUTE", "0")
    off = make(Recorder())
    monkeypatch.setenv("WNLIB_EXPLORER_PRECOMPUTE", "on")
    on = make(Recorder())
    assert (off.precompute, on.precompute) == (False, True)   # the environment of each one's making
    off.precompute = True
    assert on.precompute and off.precompute
    use_book_renderer()
    chosen = explorer(Recorder(), {"width": width_slider(64, options=(16, 32, 64))}, question="?", precompute=False)
    assert chosen.precompute is False
    for box in (off, on, chosen):
        box.close()


def test_bad_precompute_settings_name_what_is_accepted(monkeypatch):
    monkeypatch.setenv("WNLIB_EXPLORER_PRECOMPUTE", "maybe")
    with pytest.raises(ValueError, match=r"\$WNLIB_EXPLORER_PRECOMPUTE must be one of .*'maybe'"):
        make(Recorder())
    monkeypatch.delenv("WNLIB_EXPLORER_PRECOMPUTE")
    with pytest.raises(ValueError, match="precompute must be True or False"):
        explorer(Recorder(), {"width": width_slider(64, options=(16, 32, 64))}, question="?", precompute="yes")
    box = make(Recorder())
    with pytest.raises(ValueError, match="precompute must be True or False"):
        box.precompute = 1
    box.close()


@pytest.mark.parametrize("precompute", [True, False])
def test_in_a_kernel_an_idle_explorer_computes_its_neighbours_only_when_it_may(monkeypatch, precompute):
    """In IPython, once a cell has ended and the kernel stays idle, the explorer's own thread computes the
    one-step moves (then marks itself ready); with ``precompute=False`` nothing is computed until a move."""
    import time

    from wnlib.book import widgets

    shell = InteractiveShell.instance()
    monkeypatch.setattr(widgets, "IDLE_S", 0.1)
    compute = Recorder()
    use_book_renderer()
    box = explorer(compute, {"width": width_slider(32, options=(16, 32, 64)), "depth": depth_slider(2)},
                   question="?", precompute=precompute)
    try:
        shell.events.trigger("post_run_cell", None)   # the cell that made the explorer has ended
        expected = [{"width": w, "depth": d} for w, d in ((64, 2), (16, 2), (32, 3), (32, 1))]
        deadline = time.monotonic() + 30
        while precompute and "wn-explorer-ready" not in box._dom_classes and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        if precompute:
            assert "wn-explorer-ready" in box._dom_classes
            assert compute.calls[1:5] == expected   # nearest first, after the first figure
        else:
            assert compute.calls == [{"width": 32, "depth": 2}] and "wn-explorer-ready" not in box._dom_classes
    finally:
        box.close()
    box._worker.join(timeout=5)
    assert not box._worker.is_alive(), "closing the explorer stops its thread"
