"""The book as one PDF (``make pdf``): every page of the built HTML book, in table-of-contents order, printed by
headless Chromium (the one ``make chromium`` installs) with the book's print styles, then merged with pypdf, one
bookmark per page. Offline: the pages are served from ``_build/html`` on 127.0.0.1 and any other request is
blocked.

    python tools/book_pdf.py [--html _build/html] [--out _build/pdf/book.pdf]
"""
from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
FIGURES_DRAWN = """() => Array.from(document.querySelectorAll('.plotly-graph-div'))
    .every(el => el.querySelector('.main-svg'))"""


def toc_pages(toc: Path = ROOT / "_toc.yml") -> list[str]:
    """The book's pages (paths without suffix), in the order of ``_toc.yml``."""
    data = yaml.safe_load(toc.read_text())
    pages = [data["root"]]
    for part in data.get("parts", []):
        pages += [chapter["file"] for chapter in part.get("chapters", [])]
    return pages


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def print_page(browser, base: str, name: str, target: Path) -> str:
    """Print page ``name`` of the book served at ``base`` to ``target`` once its figures are drawn and its math
    is typeset; return its title."""
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else route.abort())
    page.goto(f"{base}/{name}.html", wait_until="load")
    page.wait_for_function(FIGURES_DRAWN, timeout=60_000)
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")  # math typeset
    page.emulate_media(media="print")
    page.pdf(path=str(target), format="A4", print_background=True,
             margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"})
    title = page.title().split(" — ")[0].strip()
    page.close()
    return title


def build_pdf(html: Path, out: Path, chromium: str | None = None) -> Path:
    """Print every page of the book at ``html`` and merge them into ``out``."""
    from playwright.sync_api import sync_playwright
    from pypdf import PdfWriter

    if not (html / "index.html").exists():
        raise FileNotFoundError(f"html={html}: no built book there (run `make build` first)")
    chromium = chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise FileNotFoundError("no Chromium on the PATH: `make chromium` installs Debian's package")
    httpd, base = serve(html)
    writer = PdfWriter()
    try:
        with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            for i, name in enumerate(toc_pages()):
                part = Path(tmp) / f"{i:02d}.pdf"
                title = print_page(browser, base, name, part)
                start = len(writer.pages)
                writer.append(str(part))
                writer.add_outline_item(title=title, page_number=start)
                print(f"{name}: {len(writer.pages) - start} pages ({title})", file=sys.stderr)
            browser.close()
    finally:
        httpd.shutdown()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:
        writer.write(f)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf" / "book.pdf")
    args = parser.parse_args(argv)
    print(build_pdf(args.html, args.out))


if __name__ == "__main__":
    main()
