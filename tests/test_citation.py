"""The scholarly apparatus: the bibliography is cited, the citation file and the licenses agree with the package,
and the book's footer shows the version defined in wnlib/_version.py."""
import importlib.util
import re
import tomllib
from pathlib import Path

import yaml

import wnlib

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def _bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,\s]+),", (BOOK / "references.bib").read_text(), flags=re.M))


def _cited_keys() -> set[str]:
    text = "\n".join(p.read_text() for p in [*BOOK.glob("*.ipynb"), *BOOK.glob("*.md")])
    cited = set()
    for group in re.findall(r"\{cite(?::[pt])?\}`([^`]+)`", text):
        cited |= {k.strip() for k in group.split(",")}
    return cited


def test_every_bibliography_entry_is_cited_and_every_citation_has_an_entry():
    keys, cited = _bib_keys(), _cited_keys()
    assert len(keys) >= 15
    assert keys - cited == set(), f"entries never cited: {sorted(keys - cited)}"
    assert cited - keys == set(), f"citations without an entry: {sorted(cited - keys)}"


def test_every_chapter_cites_its_sources():
    for chapter in sorted(BOOK.glob("0*.ipynb")):
        assert re.search(r"\{cite(?::[pt])?\}`", chapter.read_text()), f"{chapter.name} cites nothing"


def test_citation_file_matches_the_package():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert cff["version"] == wnlib.__version__
    assert set(cff["license"]) == {"MIT", "CC-BY-4.0"}
    paper = cff["references"][0]
    assert paper["title"] == "Optimization and Generalization Guarantees for Weight Normalization"
    assert "2409.08935" in paper["identifiers"][0]["value"]


def test_licenses_cover_code_and_text():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    text = (ROOT / "LICENSE-TEXT").read_text()
    assert "Creative Commons Attribution 4.0 International" in text and "Section 8" in text


def test_book_footer_shows_the_package_version():
    spec = importlib.util.spec_from_file_location("wnbook", BOOK / "_ext" / "wnbook.py")
    wnbook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wnbook)
    assert wnbook.wnlib_version() == wnlib.__version__

    class Config:
        html_theme_options = {"repository_url": "https://example.org/repo"}
    config = Config()
    wnbook._footer(None, config)
    footer = config.html_theme_options["extra_footer"]
    assert f"wnlib {wnlib.__version__}" in footer and "CC BY 4.0" in footer
    assert config.version == wnlib.__version__
