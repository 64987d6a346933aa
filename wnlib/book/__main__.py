"""``python -m wnlib.book execute book/*.ipynb``: re-execute notebooks in place (``make notebooks``), storing
outputs and widget state."""
from __future__ import annotations

import os


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
    args = parser.parse_args(argv)
    execute(args.paths)


if __name__ == "__main__":
    _main()
