"""The rendered book in headless Chromium: no JavaScript errors, figures drawn, static sliders move, explorers show a note.

Needs the built book (``make build``) and Chromium (``make browser`` installs Debian's package when missing).
"""
import importlib.util
import os
import re
import time
from pathlib import Path

import pytest
import yaml

from tools.book_pdf import serve  # noqa: E402  (the repository root is on sys.path: conftest.py)

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
    httpd, base = serve(HTML)
    yield base
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


def _pages() -> list[str]:
    return _chapters() + ["genindex"]


@pytest.mark.parametrize("chapter", _chapters())
def test_plotly_js_only_on_pages_with_a_figure_and_deferred(chapter):
    """plotly.js (4.8 MB) must not hold up the first paint: it is absent from pages without a figure, and
    deferred where there is one; then every figure snippet waits for DOMContentLoaded (it runs after)."""
    source = (HTML / f"{chapter}.html").read_text()
    tags = [line for line in source.splitlines() if "plotly.min.js" in line and "<script" in line]
    if 'class="plotly-graph-div"' not in source and "Plotly.newPlot" not in source:
        assert tags == [], f"{chapter} has no figure but loads plotly.js"
        return
    assert len(tags) == 1 and "defer" in tags[0], f"{chapter}: plotly.js is not loaded once, deferred: {tags}"
    head = source.split("</head>")[0]
    assert "plotly.min.js" in head
    # plotly's snippet as a page script (inside a widget's JSON state its quotes are escaped: not counted)
    direct = len(re.findall(r'<script>\s*window\.PLOTLYENV[^<]*?getElementById\("', source))
    assert direct == 0, f"{chapter}: {direct} figure snippets run before plotly.js"


def test_plotly_js_is_served_hidden_from_require_js(browser):
    """The served plotly.js is wrapped so that a UMD bundle binds its global even where require.js's ``define``
    exists (widget pages load require.js before the deferred plotly.js runs)."""
    spec = importlib.util.spec_from_file_location("wnbook", ROOT / "book" / "_ext" / "wnbook.py")
    wnbook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wnbook)
    amd_proof = wnbook.amd_proof
    umd = ("(function (root, factory) { if (typeof define === 'function' && define.amd) define([], factory);"
           " else root.FakePlotly = factory(); })(self, function () { return {ok: 1}; });")
    page = browser.new_page()
    page.evaluate("window.define = function () { window.amdCalls = (window.amdCalls || 0) + 1; };"
                  "window.define.amd = {};")
    page.evaluate(umd)  # unwrapped: registers with the AMD loader, no global
    assert page.evaluate("[typeof window.FakePlotly, window.amdCalls]") == ["undefined", 1]
    page.evaluate(amd_proof(umd))
    assert page.evaluate("[window.FakePlotly && window.FakePlotly.ok, window.amdCalls]") == [1, 1]
    served = (HTML / "_static" / "plotly.min.js").read_text()
    assert served.startswith("(function (define) {") and "window.Plotly" in served
    page.close()


def _overflowing_code(page, selector: str) -> list[str]:
    return page.evaluate(f"""Array.from(document.querySelectorAll('{selector}'))
        .filter(el => el.checkVisibility() && el.scrollWidth > el.clientWidth + 1)
        .map(el => el.textContent.split('\\n').reduce((a, b) => a.length >= b.length ? a : b).slice(0, 80))""")


CODE = ".cell_input .highlight pre, div[class*=\"highlight-\"]:not(.output) > .highlight > pre"


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("chapter", [c for c in _chapters() if (ROOT / f"{c}.ipynb").exists()])
def test_code_cells_wrap_instead_of_scrolling(server, browser, chapter, width):
    """Long code lines wrap (no code cell scrolls sideways) at a desktop and a phone width; a wrapped line
    continues indented, and copying a cell gives back its source unchanged."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{server}/{chapter}.html", wait_until="load")
    assert page.locator(".cell_input pre").count() >= 1
    assert _overflowing_code(page, CODE) == [], f"{chapter} at {width}px: code cells scroll sideways"
    same = page.evaluate("""Array.from(document.querySelectorAll('.cell_input pre'))
        .filter(el => el.checkVisibility()).every(el => el.innerText.replace(/\\n+$/, '') === el.textContent.replace(/\\n+$/, ''))""")
    assert same, f"{chapter}: a cell's text as copied differs from its source"
    # a line that wraps: its second row starts further right than its first
    hanging = page.evaluate("""(() => {
        for (const line of document.querySelectorAll('.cell_input .wn-line')) {
            const range = document.createRange(); range.selectNodeContents(line);
            const rows = Array.from(range.getClientRects()).filter(r => r.width > 0);
            const tops = [...new Set(rows.map(r => Math.round(r.top)))];
            if (tops.length > 1) {
                const first = Math.min(...rows.filter(r => Math.round(r.top) === tops[0]).map(r => r.left));
                const second = Math.min(...rows.filter(r => Math.round(r.top) === tops[1]).map(r => r.left));
                return [first, second];
            }
        }
        return null; })()""")
    if hanging is not None:
        assert hanging[1] > hanging[0], f"{chapter}: a wrapped line continues at its own start {hanging}"
    page.close()


@pytest.mark.parametrize("chapter", _chapters())
def test_printed_page_cuts_no_code_or_output(server, browser, chapter):
    """With the print styles (A4 width), no code cell, output or code block is wider than the page."""
    page = browser.new_page(viewport={"width": 700, "height": 1000})
    page.emulate_media(media="print")
    page.goto(f"{server}/{chapter}.html", wait_until="load")
    selector = "pre, .cell_output, .output"
    wide = _overflowing_code(page, selector)
    assert wide == [], f"{chapter} printed: {len(wide)} blocks are cut at the margin: {wide[:3]}"
    page.close()


def test_index_lists_the_key_terms_and_every_page_links_to_it(server, browser):
    """genindex.html is not empty: it lists the key terms, each a link to an existing page, and every page's
    footer links to it."""
    page = browser.new_page()
    page.goto(f"{server}/genindex.html", wait_until="load")
    entries = page.evaluate("""Array.from(document.querySelectorAll('.genindextable a'))
        .map(a => [a.textContent.trim(), a.getAttribute('href')])""")
    terms = " ".join(t for t, _ in entries)
    for term in ("restricted strong convexity", "Rademacher complexity", "Hessian bound", "spectral norm"):
        assert term in terms, f"the index has no entry {term!r}"
    for _, href in entries:
        target = (HTML / href.split("#")[0]).resolve()
        assert target.exists(), f"index entry points to a missing page: {href}"
        if "#" in href:
            assert f'id="{href.split("#")[1]}"' in target.read_text(), f"index entry points to a missing anchor: {href}"
    for chapter in _chapters():
        page.goto(f"{server}/{chapter}.html", wait_until="load")
        link = page.locator("footer a", has_text="Index")
        assert link.count() >= 1, f"{chapter}: no link to the index in the footer"
        assert link.first.get_attribute("href").endswith("genindex.html")
    page.close()
