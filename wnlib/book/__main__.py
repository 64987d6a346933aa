"""``python -m wnlib.book execute book/*.ipynb`` re-executes notebooks in place (``make notebooks``), storing
outputs and widget state; ``python -m wnlib.book install-cells book/*.ipynb`` writes the repository URL of
``_config.yml`` into every chapter's Colab install cell (``make install-cells``). See :mod:`wnlib.book.notebooks`."""
from __future__ import annotations

from .notebooks import execute, install_cells, repository_url


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
