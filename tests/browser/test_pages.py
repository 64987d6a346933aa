"""The rendered book in headless Chromium: no JavaScript errors, figures drawn, static sliders move, explorers show a note.

Needs the built book (``make build``) and Chromium (``make browser`` installs Debian's package when missing).
"""
import functools
import http.server
import os
import threading
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(os.environ.get("BOOK_ROOT", Path(__file__).resolve().parents[2]))
HTML = ROOT / "_build" / "html"
KNOWN_HARMLESS = (
    "Got invalid theme mode",    # the theme logs this on a first visit with no stored light/dark choice
)


def _chapters() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part.get("chapters", [])]
    return files


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        pytest.fail(f"the book is not built: {HTML} is missing (run `make build` first)")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _open(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    # the machine is offline: requests leaving localhost (MathJax's CDN) fail by design, so block them
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url.split("/book/")[0])
               else route.abort())
    page.goto(url, wait_until="load")
    page.wait_for_timeout(1500)
    real = [e for e in errors if not any(k in e for k in KNOWN_HARMLESS)
            and "net::ERR_FAILED" not in e and "ERR_BLOCKED" not in e]
    return page, real


@pytest.mark.parametrize("chapter", _chapters())
def test_page_loads_without_errors_and_figures_draw(server, browser, chapter):
    page, errors = _open(browser, f"{server}/{chapter}.html")
    assert errors == [], f"JavaScript errors on {chapter}: {errors}"
    n_figs = page.evaluate("document.querySelectorAll('.plotly-graph-div').length")
    drawn = page.evaluate("""Array.from(document.querySelectorAll('.plotly-graph-div'))
        .filter(el => el._fullData && el._fullData.length > 0 && el.querySelector('.main-svg')).length""")
    assert drawn == n_figs, f"{chapter}: {n_figs - drawn} of {n_figs} plotly figures did not draw"
    if "\\(" in (HTML / f"{chapter}.html").read_text():  # math on the page: typeset by the book's own MathJax
        page.wait_for_selector("mjx-container", state="attached", timeout=15000)
    if (ROOT / f"{chapter}.ipynb").exists() and chapter.split("/")[-1][:2] in ("01", "02", "03", "04", "05"):
        assert n_figs >= 1, f"{chapter} has no figure"
    page.close()


@pytest.mark.parametrize("chapter", _chapters())
def test_static_sliders_change_the_plot(server, browser, chapter):
    page, _ = _open(browser, f"{server}/{chapter}.html")
    ids = page.evaluate("""Array.from(document.querySelectorAll('.plotly-graph-div'))
        .filter(el => el.layout && el.layout.sliders && el.layout.sliders.length).map(el => el.id)""")
    if not ids:
        pytest.skip(f"{chapter} has no slider figure")
    for fig_id in ids:
        # the plotted data itself, decoded (animation frames restyle x/y; step sliders toggle visibility)
        state = (f"JSON.stringify(document.getElementById('{fig_id}')._fullData"
                 ".map((t, i) => [t.visible, Array.from(t.x || []), Array.from(t.y || [])]))")
        before = page.evaluate(state)
        rail = page.locator(f"#{fig_id} .slider-rail-rect").first
        rail.scroll_into_view_if_needed()
        box = rail.bounding_box()
        at_end = page.evaluate(f"(s => s.active === s.steps.length - 1)(document.getElementById('{fig_id}')"
                               ".layout.sliders[0])")
        x = box["x"] + 2 if at_end else box["x"] + box["width"] - 2   # move to the other end
        page.mouse.click(x, box["y"] + box["height"] / 2)
        deadline = time.time() + 5  # an animation frame takes its transition time to land
        while page.evaluate(state) == before and time.time() < deadline:
            page.wait_for_timeout(200)
        assert page.evaluate(state) != before, f"moving the slider of {fig_id} on {chapter} changed nothing"
    page.close()


@pytest.mark.parametrize("chapter", _chapters())
def test_explorers_show_a_note_not_dead_controls(server, browser, chapter):
    """A live explorer needs a kernel: the static page shows its note, no ipywidgets control, no widget JS."""
    notebook = ROOT / f"{chapter}.ipynb"
    if not notebook.exists() or "explorer(" not in notebook.read_text():
        pytest.skip(f"{chapter} has no explorer")
    source = (HTML / f"{chapter}.html").read_text()
    assert "require.js" not in source and "embed-amd" not in source and "widget-state+json" not in source
    page, errors = _open(browser, f"{server}/{chapter}.html")
    assert page.locator(".wn-explorer-static").count() >= 1, f"{chapter}: the explorer's note is not shown"
    assert page.locator(".wn-explorer-static").first.is_visible()
    assert page.locator(".jupyter-widgets, .widget-slider, .widget-hslider, input[type=range]").count() == 0
    assert errors == []
    page.close()


def test_chapter_2_panels_read_as_log_log_have_log_axes(server, browser):
    """Chapter 2 reads slopes off its width figures: every panel of those has log x and log y axes with tick
    labels and a y-axis title (as rendered, from plotly's resolved layout), and every y axis of the chapter is
    logarithmic."""
    page, _ = _open(browser, f"{server}/book/02_hessian.html")
    figures = page.evaluate("""Array.from(document.querySelectorAll('.plotly-graph-div')).map(el => ({
        title: (el._fullLayout.title && el._fullLayout.title.text) || '',
        axes: Object.keys(el._fullLayout).filter(k => /^[xy]axis\\d*$/.test(k)).map(k => ({
            name: k, type: el._fullLayout[k].type, ticks: el._fullLayout[k].showticklabels,
            title: (el._fullLayout[k].title && el._fullLayout[k].title.text) || ''}))}))""")
    assert figures, "no figure on chapter 2"
    width_figures = [f for f in figures if "against width" in f["title"]]
    assert len(width_figures) >= 2
    for fig in figures:
        for axis in fig["axes"]:
            if axis["name"].startswith("y") or fig in width_figures:
                assert axis["type"] == "log", f"{fig['title']!r}: {axis['name']} is {axis['type']}"
                assert axis["ticks"], f"{fig['title']!r}: {axis['name']} has no tick labels"
            if axis["name"].startswith("y"):
                assert axis["title"], f"{fig['title']!r}: {axis['name']} has no title"
    page.close()
