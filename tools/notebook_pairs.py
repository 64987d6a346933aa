"""Each chapter ``book/NAME.ipynb`` is paired with a text file ``book/text/NAME.md`` (MyST Markdown): the notebook
keeps the outputs (nbval and the book build read it), the text file holds the inputs alone and is what people edit
and review. The pairing is set once, in ``book/jupytext.toml`` (so ``jupytext --sync`` works on either file too).

    python tools/notebook_pairs.py sync --to text       # notebook -> text file: rewrite each text file (make pairs)
    python tools/notebook_pairs.py sync --to notebook   # text file -> notebook: its inputs, keeping the outputs
    python tools/notebook_pairs.py check                # exit 1, naming the first differing cell, if out of sync

Each command takes notebooks as arguments (default: every ``book/*.ipynb``). A pair is in sync when the cells
agree in number, type, source (up to blank lines at a cell's start or end, which the text format does not keep)
and tags. ``sync --to notebook`` leaves the outputs of edited cells as they were: re-execute the chapter
(``make notebooks``) before committing it. Explained in: README.md, "Editing a chapter".
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

import jupytext
import nbformat
from jupytext.combine import combine_inputs_with_outputs
from jupytext.config import load_jupytext_config
from jupytext.paired_paths import paired_paths

BOOK = Path(__file__).resolve().parents[1] / "book"


def _config(notebook: str | Path):
    """The jupytext configuration that applies to ``notebook`` (the jupytext.toml in or above its folder)."""
    notebook = Path(notebook)
    if notebook.suffix != ".ipynb":
        raise ValueError(f"notebook must be a .ipynb file, got {str(notebook)!r}")
    config = load_jupytext_config(str(notebook.resolve().parent))
    if config is None:
        raise FileNotFoundError(f"no jupytext.toml in or above {notebook.parent}: it sets the pairing "
                                "(book/jupytext.toml)")
    return config


def text_file(notebook: str | Path) -> tuple[Path, dict]:
    """The text file paired with ``notebook`` and its jupytext format."""
    pairs = paired_paths(str(notebook), "ipynb", _config(notebook).default_formats(str(notebook)))
    (path, fmt), = [(p, f) for p, f in pairs if f["extension"] != ".ipynb"]
    return Path(path), fmt


def to_text(notebook: str | Path) -> bool:
    """Notebook -> text file: write the notebook's inputs to its text file; True if the file changed."""
    text, fmt = text_file(notebook)
    new = jupytext.writes(nbformat.read(notebook, as_version=4), fmt=fmt, config=_config(notebook))
    if text.exists() and text.read_text(encoding="utf-8") == new:
        return False
    text.parent.mkdir(parents=True, exist_ok=True)
    text.write_text(new, encoding="utf-8")
    return True


def _lines(source: str) -> list[str]:
    """A cell's lines without blank lines at its ends (the text format does not keep them)."""
    return source.strip("\n").splitlines()


def _same_source(a: str, b: str) -> bool:
    return _lines(a) == _lines(b)


def to_notebook(notebook: str | Path) -> bool:
    """Text file -> notebook: the cells (types, sources, tags) become the text file's; the outputs, execution
    counts, cell ids and notebook metadata stay (jupytext matches the cells); a source that differs only in blank
    lines at its ends stays as it was. True if the notebook changed."""
    text, fmt = text_file(notebook)
    old = nbformat.read(notebook, as_version=4)
    new = combine_inputs_with_outputs(jupytext.read(text, fmt=fmt), copy.deepcopy(old), fmt=fmt)
    new.metadata = old.metadata
    sources = {cell.id: cell.source for cell in old.cells}
    for cell in new.cells:
        if cell.id in sources and _same_source(cell.source, sources[cell.id]):
            cell.source = sources[cell.id]
    if new == old:
        return False
    # the chapters' stored form (json.dumps with indent 1, unescaped UTF-8, sources as lists of lines): keys sorted
    Path(notebook).write_text(nbformat.writes(new) + "\n", encoding="utf-8")
    return True


def _describe(index: int, cell) -> str:
    first = next((line for line in cell.source.splitlines() if line.strip()), "")
    return f"cell {index + 1} ({cell.cell_type}, starting {first[:60]!r})"


def first_difference(notebook: str | Path) -> str | None:
    """None if ``notebook`` and its text file agree in cell types, sources and tags; otherwise a sentence naming
    both files and the first cell that differs."""
    text, fmt = text_file(notebook)
    if not text.exists():
        return f"{notebook}: its text file {text} is missing (make pairs writes it)"
    ours, theirs = nbformat.read(notebook, as_version=4).cells, jupytext.read(text, fmt=fmt).cells
    where = f"{notebook} and {text} differ at"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a.cell_type != b.cell_type:
            return f"{where} {_describe(i, a)}: a {a.cell_type} cell in the notebook, {b.cell_type} in the text"
        if not _same_source(a.source, b.source):
            x, y = _lines(a.source), _lines(b.source)
            line = next((j for j, pair in enumerate(zip(x, y)) if pair[0] != pair[1]), min(len(x), len(y)))
            return f"{where} {_describe(i, a)}: its source, from its line {line + 1}"
        if a.metadata.get("tags", []) != b.metadata.get("tags", []):
            return (f"{where} {_describe(i, a)}: tags {a.metadata.get('tags', [])} in the notebook, "
                    f"{b.metadata.get('tags', [])} in the text")
    if len(ours) != len(theirs):
        i = min(len(ours), len(theirs))
        extra = ("the notebook", ours) if len(ours) > len(theirs) else ("the text", theirs)
        return f"{where} {_describe(i, extra[1][i])}: only {extra[0]} has it ({len(ours)} cells against {len(theirs)})"
    return None


def orphans(book: Path = BOOK) -> list[Path]:
    """Text files whose notebook is gone (a renamed or removed chapter)."""
    paired = {text_file(nb)[0] for nb in book.glob("*.ipynb")}
    return sorted(p for p in (book / "text").glob("*.md") if p not in paired)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    sync = commands.add_parser("sync", help="write one file of each pair from the other (--to says which)")
    sync.add_argument("--to", required=True, choices=("text", "notebook"),
                      help="text: notebook -> text file; notebook: text file -> the notebook's inputs")
    check = commands.add_parser("check", help="exit 1 if a pair is out of sync, naming the first differing cell")
    for command in (sync, check):
        command.add_argument("notebooks", nargs="*", help="the .ipynb files (default: every book/*.ipynb)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted(os.path.relpath(p) for p in BOOK.glob("*.ipynb"))
    for notebook in notebooks:
        try:
            text_file(notebook)
        except (ValueError, FileNotFoundError) as error:
            parser.error(str(error))
    if args.command == "sync":
        write = to_text if args.to == "text" else to_notebook
        for notebook in notebooks:
            if write(notebook):
                print(f"wrote {text_file(notebook)[0] if args.to == 'text' else notebook}")
        return 0
    problems = [p for p in map(first_difference, notebooks) if p]
    problems += [f"{p}: no notebook {p.stem}.ipynb pairs with it (remove it)" for p in orphans()
                 if not args.notebooks]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("to fix: python tools/notebook_pairs.py sync --to text (the notebook is right) or --to notebook "
              "(the text file is right); README.md, 'Editing a chapter'", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
