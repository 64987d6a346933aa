"""The book's notebooks as files: executing them (``make notebooks``, ``make reproduce-check``, the ``book``
benchmark) and writing the repository URL of ``_config.yml`` (``repository.url``, the one place it is set) into
every chapter's Colab install cell (``make install-cells``; ``make book`` runs it). Build tooling of this
repository, not part of ``wnlib``:

    python tools/notebooks.py execute book/01_weightnorm.ipynb      # re-execute in place, storing outputs
    python tools/notebooks.py install-cells book/0*.ipynb           # write _config.yml's URL into install cells
"""
from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

INSTALL_CELL = """# On Colab: fetch the book's repository (wnlib, and the stored results the chapters show) and install wnlib from it,
# keeping Colab's own torch, plotly and ipywidgets. Anywhere else this cell does nothing: run the chapters in a
# checkout set up with `make setup` (README). The URL is set once, in _config.yml (`make install-cells` copies it).
import os, subprocess, sys
if "google.colab" in sys.modules:
    BOOK_REPOSITORY = "{url}"
    CLONE = os.path.abspath("wnlib-book")
    if not os.path.isdir(CLONE):
        subprocess.run(["git", "clone", "-q", "--depth", "1", BOOK_REPOSITORY, CLONE], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", CLONE + "[book]"], check=True)
    os.environ["WNLIB_RESULTS"] = os.path.join(CLONE, "book", "results")
"""
INSTALL_CELL_TAGS = ["hide-cell"]   # not skip-execution / nbval-skip: it runs everywhere (and does nothing off Colab)


def repository_url(config: str | os.PathLike = "_config.yml") -> str:
    """``repository.url`` of the book's ``_config.yml``."""
    match = re.search(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*(\S+)", Path(config).read_text(), re.M)
    if match is None:
        raise ValueError(f"{config} has no repository.url")
    return match.group(1).strip("'\"")


def is_install_cell(cell: dict) -> bool:
    """A chapter's Colab install cell (this version's or an older one)."""
    source = "".join(cell["source"])
    return cell["cell_type"] == "code" and "google.colab" in source and "pip" in source and "install" in source


def install_cells(paths: list[str], url: str) -> list[str]:
    """Write ``INSTALL_CELL`` with ``url`` (and ``INSTALL_CELL_TAGS``) into each notebook's install cell; return
    the notebooks changed."""
    changed = []
    for path in paths:
        nb = json.loads(Path(path).read_text())
        cells = [c for c in nb["cells"] if is_install_cell(c)]
        if len(cells) != 1:
            raise ValueError(f"{path}: expected one Colab install cell, found {len(cells)}")
        text = INSTALL_CELL.format(url=url).rstrip("\n")
        if "".join(cells[0]["source"]) != text or cells[0]["metadata"].get("tags") != INSTALL_CELL_TAGS:
            cells[0]["source"] = text.splitlines(keepends=True)
            cells[0]["metadata"]["tags"] = list(INSTALL_CELL_TAGS)
            Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            changed.append(path)
    return changed


def run_notebook(path: str | os.PathLike, *, timeout: int = 1800):
    """Execute the notebook at ``path`` with nbclient (kernel ``python3``, in the notebook's folder) and return it;
    the file is not written. Raises on a failing cell. No widget state is stored: the explorers need a kernel,
    and a stored state would draw controls that move without redrawing anything (static pages, a reopened
    notebook)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)   # an older run's widget state
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=False,
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
    client.execute()
    return nb


def execute(paths: list[str], *, timeout: int = 1800) -> None:
    """Execute notebooks in place, storing their outputs (``make notebooks``)."""
    import nbformat

    for path in paths:
        print(f"executing {path}", flush=True)
        nbformat.write(run_notebook(path, timeout=timeout), path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python tools/notebooks.py", description="execute the book's notebooks in "
                                     "place, or write the repository URL into their Colab install cells")
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("execute", help="re-execute notebooks in place, storing their outputs")
    ex.add_argument("paths", nargs="+")
    ic = sub.add_parser("install-cells", help="write _config.yml's repository.url into the Colab install cells")
    ic.add_argument("paths", nargs="+")
    ic.add_argument("--config", default="_config.yml")
    args = parser.parse_args(argv)
    if args.command == "execute":
        execute(args.paths)
    else:
        for path in install_cells(args.paths, repository_url(args.config)):
            print(f"updated the install cell of {path}")


if __name__ == "__main__":
    main()
