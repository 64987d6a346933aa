"""``make pdf`` (tools/book_pdf.py): the built book printed by headless Chromium into one PDF, at least one page
per chapter, a bookmark per chapter, and each chapter's title in its text.

Needs the built book (``make build``) and Chromium (``make browser``)."""
import importlib.util
import re
import unicodedata

import pytest

from test_pages import HTML, ROOT, _chapters


def _book_pdf():
    spec = importlib.util.spec_from_file_location("book_pdf", ROOT / "tools" / "book_pdf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _h1(chapter: str) -> str:
    """The chapter's title as the built page shows it (its first h1, tags and the pilcrow link removed)."""
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", (HTML / f"{chapter}.html").read_text(), re.S).group(1)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>|#", "", h1)).strip()


def test_pdf_has_every_chapter(tmp_path):
    pypdf = pytest.importorskip("pypdf")
    pytest.importorskip("playwright.sync_api")
    book_pdf = _book_pdf()
    if not (HTML / "index.html").exists():
        pytest.fail(f"the book is not built: {HTML} is missing (run `make build` first)")
    out = book_pdf.build_pdf(HTML, tmp_path / "book.pdf")
    reader = pypdf.PdfReader(out)
    chapters = _chapters()
    assert book_pdf.toc_pages() == chapters
    assert len(reader.pages) >= len(chapters)
    outline = reader.outline
    assert len(outline) == len(chapters), f"{len(outline)} bookmarks for {len(chapters)} chapters"
    starts = [reader.get_destination_page_number(item) for item in outline] + [len(reader.pages)]
    assert starts == sorted(starts) and len(set(starts)) == len(starts), f"a chapter has no page: {starts}"
    def squash(text):  # PDF text breaks lines anywhere and sets ligatures (fi as one glyph)
        return re.sub(r"[^\w]+", "", unicodedata.normalize("NFKC", text)).lower()

    for chapter, start, end in zip(chapters, starts, starts[1:]):
        text = squash("".join(reader.pages[i].extract_text() for i in range(start, min(end, start + 2))))
        title = _h1(chapter)
        assert squash(title) in text, f"{chapter}: title {title!r} not on its first pages in the PDF"
    assert squash("Weight Normalization") in squash(reader.pages[0].extract_text())


def test_build_pdf_names_a_missing_book(tmp_path):
    with pytest.raises(FileNotFoundError, match="html="):
        _book_pdf().build_pdf(tmp_path, tmp_path / "book.pdf")
