"""The book's notebooks as files: executing them (``make notebooks``, the ``book`` benchmark) and writing the
repository URL of ``_config.yml`` (``repository.url``, the one place it is set) into every chapter's Colab install
cell (``make install-cells``; ``make book`` runs it). The command line is ``python -m wnlib.book``."""
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


def run_notebook(path: str | os.PathLike, *, timeout: int = 1800):
    """Execute the notebook at ``path`` with nbclient (kernel ``python3``, in the notebook's folder, widget state
    stored) and return it; the file is not written. Raises on a failing cell."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
    client.execute()
    return nb


def execute(paths: list[str], *, timeout: int = 1800) -> None:
    """Execute notebooks in place, storing outputs and widget state (``make notebooks``)."""
    import nbformat

    for path in paths:
        print(f"executing {path}", flush=True)
        nbformat.write(run_notebook(path, timeout=timeout), path)
