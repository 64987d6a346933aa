"""The book's tooling. ``python -m wnlib.book execute book/*.ipynb`` re-executes notebooks in place (``make
notebooks``), storing outputs and widget state; ``python -m wnlib.book install-cells book/*.ipynb`` writes the
repository URL of ``_config.yml`` (``repository.url``, the one place it is set) into every chapter's Colab
install cell (``make install-cells``; ``make book`` runs it)."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

INSTALL_CELL = """# On Colab: install wnlib and the book's helpers (skipped by the book build and nbval).
# The URL is set once, in _config.yml (repository.url): `make install-cells` copies it.
import sys
if "google.colab" in sys.modules:
    %pip install -q "wnlib[book] @ git+{url}"
"""


def repository_url(config: str | os.PathLike = "_config.yml") -> str:
    """``repository.url`` of the book's ``_config.yml``."""
    match = re.search(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*(\S+)", Path(config).read_text(), re.M)
    if match is None:
        raise ValueError(f"{config} has no repository.url")
    return match.group(1).strip("'\"")


def is_install_cell(cell: dict) -> bool:
    return cell["cell_type"] == "code" and "google.colab" in "".join(cell["source"]) and \
        "%pip install" in "".join(cell["source"])


def install_cells(paths: list[str], url: str) -> list[str]:
    """Write ``INSTALL_CELL`` with ``url`` into each notebook's install cell; return the notebooks changed."""
    changed = []
    for path in paths:
        nb = json.loads(Path(path).read_text())
        cells = [c for c in nb["cells"] if is_install_cell(c)]
        if len(cells) != 1:
            raise ValueError(f"{path}: expected one Colab install cell, found {len(cells)}")
        text = INSTALL_CELL.format(url=url).rstrip("\n")
        if "".join(cells[0]["source"]) != text:
            cells[0]["source"] = text.splitlines(keepends=True)
            Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            changed.append(path)
    return changed


def execute(paths: list[str], *, timeout: int = 1800) -> None:
    """Execute notebooks in place with nbclient, storing outputs and widget state (``make notebooks``)."""
    import nbformat
    from nbclient import NotebookClient

    for path in paths:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                                resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
        print(f"executing {path}", flush=True)
        client.execute()
        nbformat.write(nb, path)


def _main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m wnlib.book", description="re-execute notebooks in place")
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("execute", help="re-execute notebooks in place")
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
    _main()
