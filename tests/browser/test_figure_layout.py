"""The book's figures on a desktop (1280 px) and a phone (390 px): no title, caption, axis title or legend entry
cut; the legend above the panels, not on them; y-axis titles clear of the next panel; panels wide enough to
read; every figure a ``<figure>`` with a caption that says what produced it and a text alternative; slider
figures that stay at their first step.

Needs the built book (``make build``) and Chromium, like test_pages.py (whose server fixture it reuses).
"""
import pytest

from test_pages import HTML, _chapters, server  # noqa: F401  (server: a fixture)

VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}
MIN_PANEL_PX = {"desktop": 140, "phone": 200}   # narrower, a panel's curves and ticks cannot be read

# every problem of every figure on the page, as text (an empty list: all good)
PROBLEMS = """minPanel => {
  const out = [], inside = (r, box, tol = 1) => r.left >= box.left - tol && r.right <= box.right + tol
      && r.top >= box.top - tol && r.bottom <= box.bottom + tol;
  const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const content = document.querySelector('main, article, body').getBoundingClientRect();
  document.querySelectorAll('.plotly-graph-div').forEach(gd => {
    if (gd.closest('.jupyter-widgets')) return;   // an explorer's live plot: the explorers' own tests
    const fig = gd.closest('figure.wnfig'), id = gd.id;
    if (!fig) { out.push(`${id}: not inside a <figure class="wnfig">`); return; }
    const box = fig.getBoundingClientRect();
    if (box.right > Math.min(window.innerWidth, content.right) + 1) out.push(`${id}: figure wider than the page`);
    const cap = fig.querySelector('figcaption'), prov = fig.querySelector('figcaption .wnfig-provenance');
    if (!cap || !prov || !prov.textContent.trim()) out.push(`${id}: no caption with provenance`);
    const plot = fig.querySelector('.wnfig-plot[role=group]');
    if (!plot || !(plot.getAttribute('aria-label') || '').trim()) out.push(`${id}: no text alternative`);
    fig.querySelectorAll('.wnfig-title, figcaption, figcaption span').forEach(el => {
      if (el.scrollWidth > el.clientWidth + 1 || !inside(el.getBoundingClientRect(), box))
        out.push(`${id}: '${el.textContent.slice(0, 40)}' is cut`);
    });
    const title = fig.querySelector('.wnfig-title');
    if (title && title.getBoundingClientRect().bottom > gd.getBoundingClientRect().top + 1)
      out.push(`${id}: the title overlaps the plot (and its toolbar)`);
    const svg = gd.querySelector('.main-svg').getBoundingClientRect(), fl = gd._fullLayout;
    gd.querySelectorAll('.main-svg text').forEach(t => {
      const r = t.getBoundingClientRect();
      if (t.closest('.hoverlayer') || t.classList.contains('gtitle') || !t.textContent.trim() || !r.width) return;
      if (!inside(r, svg)) out.push(`${id}: canvas text '${t.textContent}' is cut`);
    });
    const areas = Object.keys(fl).filter(k => /^xaxis\\d*$/.test(k)).map(k => {
      const x = fl[k], y = fl[x.anchor.replace('y', 'yaxis')];
      return {name: k, length: x._length, left: svg.left + x._offset, right: svg.left + x._offset + x._length,
              top: svg.top + y._offset, bottom: svg.top + y._offset + y._length};
    });
    const legend = gd.querySelector('g.legend');
    if (legend && areas.some(a => overlap(legend.getBoundingClientRect(), a)))
      out.push(`${id}: the legend covers a panel`);
    gd.querySelectorAll('text[class^=y][class$=title]').forEach(t => {
      const r = t.getBoundingClientRect();
      if (t.textContent.trim() && areas.some(a => overlap(r, a))) out.push(`${id}: y title '${t.textContent}' on a panel`);
    });
    areas.filter(a => a.length < minPanel).forEach(a => out.push(`${id}: ${a.name} only ${Math.round(a.length)} px wide`));
  });
  return out;
}"""


def _figure_pages() -> list[str]:
    pages = [(c, HTML / f"{c}.html") for c in _chapters()]
    return [c for c, page in pages if page.exists() and "plotly-graph-div" in page.read_text()]


def _load(browser, url, size):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    local = url.split("/book/")[0]
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(local) else route.abort())
    page.goto(url, wait_until="load")
    page.wait_for_timeout(2000)   # figures draw, then fit their panels and legend to the width
    return page


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("chapter", _figure_pages())
def test_figures_fit_and_say_what_produced_them(server, browser, chapter, viewport):  # noqa: F811
    page = _load(browser, f"{server}/{chapter}.html", VIEWPORTS[viewport])
    assert page.locator("figure.wnfig").count() >= 1
    problems = page.evaluate(PROBLEMS, MIN_PANEL_PX[viewport])
    page.close()
    assert problems == [], f"{chapter} at {viewport} width:\n" + "\n".join(problems)


def test_the_page_list_finds_the_figures():
    assert len(_figure_pages()) >= 5, "the chapters with figures are missing from the built book"


@pytest.mark.parametrize("chapter", _figure_pages())
def test_slider_figures_stay_at_their_first_step(server, browser, chapter):  # noqa: F811
    page = _load(browser, f"{server}/{chapter}.html", VIEWPORTS["phone"])
    state = """Array.from(document.querySelectorAll('.plotly-graph-div'))
        .filter(el => el.layout.sliders && el.layout.sliders.length)
        .map(el => [el.layout.sliders[0].active || 0, JSON.stringify(el._fullData.map(t => Array.from(t.y || [])))])"""
    first = page.evaluate(state)
    if not first:
        page.close()
        pytest.skip(f"{chapter} has no slider figure")
    page.wait_for_timeout(2500)
    assert all(active == 0 for active, _ in first), "a slider figure opened past its first step"
    assert page.evaluate(state) == first, "a slider figure plays on load"
    page.close()
