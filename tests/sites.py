"""Environments that hold only some installed distributions: a folder of symlinks to those distributions (and
everything they require), used as the whole ``sys.path`` of a fresh interpreter or virtual environment. Lets the
tests try "only torch, numpy and scipy" or "what Colab has" without installing gigabytes again."""
from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path


def closure(names) -> set[str]:
    """The distributions that ``pip install NAMES`` brings: ``names`` and their requirements, recursively."""
    seen, todo = set(), list(names)
    while todo:
        name = re.split(r"[<>=!~;\[ ]", todo.pop())[0].lower().replace("_", "-")
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        todo += [r for r in dist.requires or [] if "extra ==" not in r]
    return seen


def make_site(names, folder: Path) -> Path:
    """Symlink into ``folder`` every top-level entry (packages, modules, ``.dist-info``) of ``closure(names)``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in closure(names):
        dist = metadata.distribution(name)
        for top in {Path(f).parts[0] for f in dist.files or []}:
            source = Path(dist.locate_file(top))
            if top != ".." and source.exists() and not (folder / top).exists():
                (folder / top).symlink_to(source)
    return folder
