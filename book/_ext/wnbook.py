"""Sphinx extension for the book: serve plotly.js once per page from the book's own files (no CDN).

The figures in the notebooks are HTML snippets that call ``window.Plotly`` (see wnlib.plots). This loads the
plotly.js that ships inside the installed ``plotly`` package, before require.js, so it binds a global.
"""
import shutil
from pathlib import Path

import plotly

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _copy_plotly(app, exception):
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "plotly.min.js"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PLOTLY_JS, target)


def setup(app):
    app.add_js_file("plotly.min.js", priority=100)  # before require.js (myst-nb's widgets) defines `define`
    app.connect("build-finished", _copy_plotly)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
