"""WCAG 2 A/AA checks (axe-core, bundled in the pip package axe-playwright-python) on every page of the built
book, in the light theme; in the dark theme the one rule that the theme changes (colour contrast). Fails on any
violation and lists them by page and rule id.

Needs the built book (``make build``) and Chromium (``make browser``)."""
import pytest

from test_pages import _chapters, server  # noqa: F401  (the fixture serves _build/html)

WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PAGES = _chapters() + ["genindex", "search", "prf-prf"]


def _violations(browser, url: str, theme: str, run_only: dict) -> dict[str, list[str]]:
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.add_init_script(f"localStorage.setItem('mode', '{theme}'); localStorage.setItem('theme', '{theme}');")
    origin = "/".join(url.split("/")[:3])  # offline: only the local server
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(origin) else route.abort())
    page.goto(url, wait_until="load")
    page.wait_for_timeout(1500)  # figures drawn, widgets rendered, math typeset
    assert page.evaluate("document.documentElement.dataset.theme") == theme
    results = axe.run(page, options={"runOnly": run_only, "resultTypes": ["violations"]})
    page.close()
    return {v["id"]: [" ".join(map(str, n["target"])) for n in v["nodes"]]
            for v in results.response["violations"]}


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_wcag_violations(server, browser, name, theme):  # noqa: F811
    run_only = ({"type": "tag", "values": WCAG} if theme == "light" else {"type": "rule", "values": ["color-contrast"]})
    found = _violations(browser, f"{server}/{name}.html", theme, run_only)
    report = "; ".join(f"{rule} ({len(nodes)}): {', '.join(nodes[:4])}" for rule, nodes in sorted(found.items()))
    assert not found, f"{name} [{theme}]: axe WCAG 2 AA violations: {report}"
