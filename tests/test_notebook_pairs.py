"""Every chapter has its text file (book/text/NAME.md) and the two agree (tools/notebook_pairs.py); the check
fails, naming the cell, when one side of a pair changes; syncing works in both directions and keeps outputs."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import notebook_pairs as pairs  # noqa: E402

CHAPTER = "00_introduction"   # the smallest chapter, for the copies


def test_every_chapter_has_its_pair_and_they_agree():
    chapters = sorted((ROOT / "book").glob("0*.ipynb"))
    assert len(chapters) >= 6
    for notebook in sorted((ROOT / "book").glob("*.ipynb")):
        assert pairs.text_file(notebook)[0] == ROOT / "book" / "text" / f"{notebook.stem}.md"
        assert pairs.first_difference(notebook) is None, pairs.first_difference(notebook)
    assert pairs.orphans() == []


@pytest.fixture
def pair(tmp_path) -> tuple[Path, Path]:
    """A copy of one chapter's pair, with the pairing configuration, in a folder of its own."""
    book = tmp_path / "book"
    (book / "text").mkdir(parents=True)
    shutil.copy(ROOT / "book" / "jupytext.toml", book)
    shutil.copy(ROOT / "book" / f"{CHAPTER}.ipynb", book)
    shutil.copy(ROOT / "book" / "text" / f"{CHAPTER}.md", book / "text")
    return book / f"{CHAPTER}.ipynb", book / "text" / f"{CHAPTER}.md"


def _code_cells(notebook: Path) -> list[int]:
    return [i for i, c in enumerate(json.loads(notebook.read_text())["cells"]) if c["cell_type"] == "code"]


def test_a_pair_in_sync_passes(pair):
    notebook, _ = pair
    assert pairs.first_difference(notebook) is None
    assert pairs.main(["check", str(notebook)]) == 0


def test_a_changed_line_in_the_text_is_named(pair, capsys):
    notebook, text = pair
    last = _code_cells(notebook)[-1]
    source = json.loads(notebook.read_text())["cells"][last]["source"]
    line = source[1].rstrip("\n")      # the cell's second line, unique in the chapter
    assert text.read_text().count(line) == 1
    text.write_text(text.read_text().replace(line, line + "  # edited"))
    problem = pairs.first_difference(notebook)
    assert problem == (f"{notebook} and {text} differ at cell {last + 1} (code, starting {source[0].strip()[:60]!r}): "
                       "its source, from its line 2")
    assert pairs.main(["check", str(notebook)]) == 1
    assert f"cell {last + 1} (code" in capsys.readouterr().err


def test_a_changed_cell_in_the_notebook_is_named(pair):
    notebook, _ = pair
    stored = json.loads(notebook.read_text())
    first = _code_cells(notebook)[0]
    tags = stored["cells"][first]["metadata"].get("tags", [])
    nb = json.loads(notebook.read_text())
    nb["cells"][first]["metadata"]["tags"] = ["remove-input"]
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    problem = pairs.first_difference(notebook)
    assert f"cell {first + 1} (code" in problem
    assert problem.endswith(f"tags ['remove-input'] in the notebook, {tags} in the text")
    del stored["cells"][-1]
    notebook.write_text(json.dumps(stored, indent=1, ensure_ascii=False) + "\n")
    n = len(stored["cells"])
    assert pairs.first_difference(notebook).endswith(f"only the text has it ({n} cells against {n + 1})")
    assert f"differ at cell {n + 1} (" in pairs.first_difference(notebook)


def test_a_missing_text_file_is_named(pair):
    notebook, text = pair
    text.unlink()
    assert pairs.first_difference(notebook) == f"{notebook}: its text file {text} is missing (make pairs writes it)"


def test_sync_to_text_is_deterministic_and_idempotent(pair):
    notebook, text = pair
    committed = text.read_bytes()
    text.unlink()
    assert pairs.to_text(notebook) is True
    assert text.read_bytes() == committed
    assert pairs.to_text(notebook) is False and text.read_bytes() == committed


def test_sync_to_notebook_changes_the_inputs_and_keeps_the_outputs(pair):
    notebook, text = pair
    before = notebook.read_bytes()
    assert pairs.to_notebook(notebook) is False and notebook.read_bytes() == before   # in sync: untouched
    old = json.loads(before)["cells"]
    last = _code_cells(notebook)[-1]
    line = old[last]["source"][1].rstrip("\n")
    text.write_text(text.read_text().replace(line, line + "  # edited"))
    assert pairs.to_notebook(notebook) is True
    new = json.loads(notebook.read_text())["cells"]
    assert len(new) == len(old)
    assert "".join(new[last]["source"]) == "".join(old[last]["source"]).replace(line, line + "  # edited")
    assert new[last]["outputs"] == old[last]["outputs"] and new[last]["id"] == old[last]["id"]
    assert [c for i, c in enumerate(new) if i != last] == [c for i, c in enumerate(old) if i != last]
    assert pairs.first_difference(notebook) is None


@pytest.mark.parametrize("edited", ["text", "notebook"])
def test_jupytext_sync_works_on_either_file(pair, edited):
    """``jupytext --sync`` on the edited file of a pair (the newer one) carries the edit to the other."""
    notebook, text = pair
    if edited == "text":
        text.write_text(text.read_text().replace("# Weight Normalization, interactively", "# Edited title"))
    else:
        nb = json.loads(notebook.read_text())
        nb["cells"][0]["source"][0] = "# Edited title\n"
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    changed = text if edited == "text" else notebook
    os.utime(changed, (changed.stat().st_mtime + 10,) * 2)
    result = subprocess.run([sys.executable, "-m", "jupytext", "--sync", str(changed)], capture_output=True,
                            text=True, cwd=notebook.parent)
    assert result.returncode == 0, result.stderr
    assert json.loads(notebook.read_text())["cells"][0]["source"][0] == "# Edited title\n"
    assert "\n# Edited title\n" in text.read_text()
    assert pairs.first_difference(notebook) is None


def test_arguments_must_be_notebooks(pair):
    _, text = pair
    with pytest.raises(ValueError, match=r"notebook must be a \.ipynb file, got '.*00_introduction\.md'"):
        pairs.first_difference(text)
