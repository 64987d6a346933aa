"""The built pages' Colab launch buttons open this book's repository (``repository.url`` of ``_config.yml``):
a build made before a fork changed the URL, or a theme that builds the link otherwise, fails here. Needs the
built book (``make build``)."""
import os
import re
from pathlib import Path

import pytest

from tools.notebooks import repository_url  # the repository root is on sys.path: conftest.py

ROOT = Path(os.environ.get("BOOK_ROOT", Path(__file__).resolve().parents[2]))
HTML = ROOT / "_build" / "html"


def test_every_colab_launch_button_opens_the_repository_of_config_yml():
    if not (HTML / "index.html").exists():
        pytest.fail(f"the book is not built: {HTML} is missing (run `make build` first)")
    own = re.sub(r"^https://github\.com/|\.git$|/$", "", repository_url(ROOT / "_config.yml"))
    chapters = sorted((ROOT / "book").glob("0*.ipynb"))
    for notebook in chapters:
        page = (HTML / "book" / f"{notebook.stem}.html").read_text()
        links = set(re.findall(r"https://colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/[^\"']*", page))
        assert links == {own}, f"{notebook.stem}.html: Colab launch buttons open {links or 'nothing'}, not {own}"
