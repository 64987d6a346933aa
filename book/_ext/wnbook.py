"""Sphinx extension for the book: serve plotly.js once per page from the book's own files (no CDN), and show the
version of wnlib (defined once, in wnlib/_version.py) and the licenses in every page's footer; load each
script once per page.

The figures in the notebooks carry two representations (see wnlib.plots): ``text/html``, a snippet that calls
``window.Plotly``, which the HTML pages show; and ``application/vnd.plotly.v1+json`` for JupyterLab, which
Sphinx has no renderer for. This extension loads the plotly.js that ships inside the installed ``plotly``
package, before require.js, so it binds a global; and it silences myst-nb's notice about the JSON twin (only
that one: any other unknown output type still fails the build).
"""
import importlib.util
import logging
import shutil
from pathlib import Path

import plotly

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


def _copy_plotly(app, exception):
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "plotly.min.js"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PLOTLY_JS, target)


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
    app.add_js_file("plotly.min.js", priority=100)  # before require.js (myst-nb's widgets) defines `define`
    app.connect("build-finished", _copy_plotly)
    app.connect("config-inited", _footer)
    app.connect("html-page-context", _one_copy_of_each_script, priority=900)  # after the others added theirs
    return {"parallel_read_safe": True, "parallel_write_safe": True}
