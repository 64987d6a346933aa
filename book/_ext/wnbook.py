"""Sphinx extension for the book: serve plotly.js from the book's own files (no CDN) on the pages that have a
figure, without blocking the first paint; show the version of wnlib (defined once, in wnlib/_version.py) and the
licenses in every page's footer; load each script once per page; one span per source line in code blocks (so
the page CSS can wrap long lines with a hanging indent); a link to the index in the footer.

The figures in the notebooks carry two representations (see wnlib.book.figures): ``text/html``, a snippet that calls
``window.Plotly``, which the HTML pages show; and ``application/vnd.plotly.v1+json`` for JupyterLab, which
Sphinx has no renderer for. This extension loads the plotly.js that ships inside the installed ``plotly``
package with ``defer`` and runs the pages' figure snippets once it has run (at DOMContentLoaded); and it
silences myst-nb's notice about the JSON twin (only that one: any other unknown output type still fails the
build).
"""
import html
import importlib.util
import logging
import re
from pathlib import Path

import plotly
from pygments.formatters import HtmlFormatter

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
VERSION_FILE = Path(__file__).resolve().parents[2] / "wnlib" / "_version.py"


def wnlib_version() -> str:
    """The version string of wnlib/_version.py, read without importing wnlib (and torch)."""
    spec = importlib.util.spec_from_file_location("_wnlib_version", VERSION_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.__version__


class _PlotlyJsonTwin(logging.Filter):
    """Drop 'skipping unknown output mime type: application/vnd.plotly.v1+json' (its text/html twin renders)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.WARNING and PLOTLY_MIME in record.getMessage()
                    and "unknown output mime type" in record.getMessage())


# plotly's inline snippet (``to_html(include_plotlyjs=False)``) as it stands in a page's HTML; the same snippet
# inside a widget's JSON state has escaped quotes and does not match
FIGURE_SNIPPET = re.compile(r'<script>(\s*window\.PLOTLYENV=window\.PLOTLYENV \|\| \{\};.*?)</script>', re.S)


def amd_proof(js: str) -> str:
    """``js`` run with ``define`` hidden: a UMD bundle (plotly.js 2.x) then binds its global instead of
    registering with require.js (the widget pages load require.js before the deferred plotly.js runs)."""
    return f"(function (define) {{\n{js}\n}})();\n"


def _copy_plotly(app, exception):
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "plotly.min.js"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(amd_proof(PLOTLY_JS.read_text(encoding="utf-8")), encoding="utf-8")


def after_plotly(body: str) -> str:
    """Each figure snippet of ``body`` wrapped to run at DOMContentLoaded, after the deferred plotly.js."""
    return FIGURE_SNIPPET.sub(
        lambda m: f'<script>document.addEventListener("DOMContentLoaded", function () {{{m.group(1)}}});</script>',
        body)


def _plotly_where_needed(app, pagename, templatename, context, doctree):
    """plotly.js (4.8 MB) only on pages with a figure, deferred: it no longer delays the first paint."""
    body = context.get("body", "")
    if "Plotly.newPlot" in body:
        app.add_js_file("plotly.min.js", priority=100, loading_method="defer")
        context["body"] = after_plotly(body)


class LineSpans(HtmlFormatter):
    """Pygments' HTML with each source line in ``<span class="wn-line" style="--indent: N">`` (N: its leading
    spaces), so CSS can wrap a long line and indent its continuation under the line's own indentation."""

    def wrap(self, source):
        def lines():
            for is_line, text in source:
                if is_line:
                    plain = html.unescape(re.sub(r"<[^>]+>", "", text))
                    indent = len(plain) - len(plain.lstrip(" "))
                    text = f'<span class="wn-line" style="--indent: {indent}">{text}</span>'
                yield is_line, text
        return super().wrap(lines())


def _line_spans(app):
    if app.builder.format == "html":
        app.builder.highlighter.formatter = LineSpans


def _page_fixes(app, pagename, templatename, context, doctree):
    """A link to the index in every footer; bibliography entries as list items: docutils marks them with the
    deprecated ARIA role ``doc-biblioentry`` inside a ``role="list"`` (axe: aria-deprecated-role and
    aria-required-children)."""
    if "body" in context:
        context["body"] = context["body"].replace('role="doc-biblioentry"', 'role="listitem"')
    if "pathto" in context and pagename != "genindex":
        footer = context.get("theme_extra_footer", "")
        context["theme_extra_footer"] = footer + f'<p><a href="{context["pathto"]("genindex")}">Index</a></p>'


def _footer(app, config):
    """Every page's footer names the version of wnlib the book was built with, and the licenses."""
    version = wnlib_version()
    config.version = config.release = version
    repo = (config.html_theme_options or {}).get("repository_url", "").rstrip("/")
    licence = f'<a href="{repo}/blob/main/LICENSE">licenses</a>' if repo else "licenses: LICENSE"
    config.html_theme_options = dict(config.html_theme_options or {}, extra_footer=(
        f'<p class="wnbook-version">Built with wnlib {version}. Code: MIT; text and figures: CC BY 4.0 '
        f'({licence}). To cite the book: CITATION.cff in the repository.</p>'))


def _one_copy_of_each_script(app, pagename, templatename, context, doctree):
    """Jupyter Book always loads sphinx-thebe (the book does not use Thebe), and its inline configuration
    ``const THEBE_JS_URL = ...`` reached every page twice: a SyntaxError in the browser. Keep the first copy of
    every script, inline ones compared by their body (an empty file name and None count as the same)."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", None) or "",  # the two copies differ only in None vs ""
               tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    for handler in logging.getLogger("sphinx").handlers:
        handler.filters.insert(0, _PlotlyJsonTwin())  # before Sphinx counts it as a warning
    app.connect("builder-inited", _line_spans)
    app.connect("html-page-context", _plotly_where_needed)
    app.connect("html-page-context", _page_fixes)
    app.connect("build-finished", _copy_plotly)
    app.connect("config-inited", _footer)
    app.connect("html-page-context", _one_copy_of_each_script, priority=900)  # after the others added theirs
    return {"parallel_read_safe": True, "parallel_write_safe": True}
