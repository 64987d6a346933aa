"""Sphinx extension for the book: serve plotly.js once per page from the book's own files (no CDN).

The figures in the notebooks carry two representations (see wnlib.plots): ``text/html``, a snippet that calls
``window.Plotly``, which the HTML pages show; and ``application/vnd.plotly.v1+json`` for JupyterLab, which
Sphinx has no renderer for. This extension loads the plotly.js that ships inside the installed ``plotly``
package, before require.js, so it binds a global; and it silences myst-nb's notice about the JSON twin (only
that one: any other unknown output type still fails the build).
"""
import logging
import shutil
from pathlib import Path

import plotly

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PLOTLY_MIME = "application/vnd.plotly.v1+json"


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


def setup(app):
    for handler in logging.getLogger("sphinx").handlers:
        handler.filters.insert(0, _PlotlyJsonTwin())  # before Sphinx counts it as a warning
    app.add_js_file("plotly.min.js", priority=100)  # before require.js (myst-nb's widgets) defines `define`
    app.connect("build-finished", _copy_plotly)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
