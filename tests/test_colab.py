"""Colab, tried as a user would: a chapter's own install cell, pointed at a local clone of this repository (the
URL of ``_config.yml`` swapped for the clone's path), in a fresh virtual environment that holds only what Colab
already has; then the notebook runs unchanged and shows the stored results it shows on the page. Also: the URL
lives in one place (``_config.yml``), every copy of it must agree, and the install cell is harmless elsewhere."""
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from sites import make_site

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tools/ is a folder of the repository, not installed
from tools.notebooks import INSTALL_CELL, INSTALL_CELL_TAGS, is_install_cell, repository_url  # noqa: E402

CHAPTERS = sorted((ROOT / "book").glob("0*.ipynb"))
COLAB_HAS = ("torch", "torchvision", "numpy", "scipy", "pandas", "plotly", "ipywidgets", "scikit-learn", "tqdm",
             "ipykernel", "nbformat")  # Colab runs Jupyter: ipykernel and nbformat are there too
COLAB_IPYWIDGETS = "7.7.1"  # what Colab has long shipped; installing wnlib[book] must not upgrade it
REPOSITORY_LINK = re.compile(r"(?:github\.com|colab\.research\.google\.com/github)/([\w.-]+/[\w.-]+?)(?:\.git)?(?=[/\s\"'`)\]>]|$)")


def install_cell(path: Path) -> dict:
    cells = [c for c in json.loads(path.read_text())["cells"] if is_install_cell(c)]
    assert len(cells) == 1, f"{path.name}: one Colab install cell expected, found {len(cells)}"
    return cells[0]


def test_every_install_cell_uses_the_url_of_config_yml():
    expected = INSTALL_CELL.format(url=repository_url(ROOT / "_config.yml")).rstrip("\n")
    for path in CHAPTERS:
        cell = install_cell(path)
        assert "".join(cell["source"]) == expected, \
            f"{path.name}: install cell differs from _config.yml's repository.url; run `make install-cells`"
        assert cell["metadata"].get("tags", []) == INSTALL_CELL_TAGS, \
            f"{path.name}: the install cell runs everywhere (no skip-execution / nbval-skip); run `make install-cells`"


def test_every_link_to_the_repository_is_the_one_of_config_yml():
    """A fork sets ``repository.url`` once; any other copy of a repository link (README, CITATION.cff, the
    chapters' text) that still names another repository fails here, with where it is."""
    own = re.sub(r"^https://github\.com/|\.git$|/$", "", repository_url(ROOT / "_config.yml"))
    cited = set(REPOSITORY_LINK.findall((ROOT / "book" / "references.bib").read_text()))  # other projects
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    wrong = []
    for name in tracked:
        path = ROOT / name
        if name.startswith(("_vendor/", "book/results/")) or path.suffix not in (".md", ".ipynb", ".cff", ".yml",
                                                                                   ".toml", ".py", ".txt", ".cfg"):
            continue
        for found in REPOSITORY_LINK.findall(path.read_text(errors="replace")):
            if found != own and found not in cited:
                wrong.append(f"{name}: {found}")
    assert own.count("/") == 1, f"_config.yml's repository.url is not a GitHub repository: {own}"
    assert not wrong, f"links to a repository other than _config.yml's ({own}): {wrong}"


def test_the_install_cell_is_plain_python_and_does_nothing_off_colab(monkeypatch):
    """No IPython magics (nbclient, nbconvert and plain Python can run it) and, without ``google.colab``, no
    clone, no install, no environment change."""
    source = "".join(install_cell(CHAPTERS[0])["source"])
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("WNLIB_RESULTS", raising=False)
    exec(compile(source, "install cell", "exec"), {})
    assert calls == [] and "WNLIB_RESULTS" not in __import__("os").environ


def test_the_book_extra_keeps_colabs_ipywidgets():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (spec,) = [Requirement(r) for r in extras["book"] if Requirement(r).name == "ipywidgets"]
    assert spec.specifier.contains(COLAB_IPYWIDGETS), f"wnlib[book] would upgrade Colab's ipywidgets: {spec}"


def test_requirements_txt_asks_what_pyproject_asks():
    """A package named in both ``requirements.txt`` and pyproject.toml (core or an extra) has one range."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [Requirement(r) for r in project["dependencies"]]
    declared += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    ranges = {r.name: r.specifier for r in declared if r.name != "wnlib"}
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    pinned = {r.name: r.specifier for r in map(Requirement, filter(None, lines))}
    differ = {name: (str(pinned[name]), str(ranges[name])) for name in pinned.keys() & ranges.keys()
              if pinned[name] != ranges[name]}
    assert pinned.keys() & ranges.keys() >= {"ipywidgets", "plotly", "torch"}
    assert not differ, f"requirements.txt vs pyproject.toml: {differ}"


@pytest.mark.slow
def test_a_chapter_runs_unchanged_in_a_colab_like_environment(tmp_path, monkeypatch):
    from nbclient import NotebookClient

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)  # what is committed
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)  # Colab's is recent
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "colab-preinstalled.pth").write_text(str(make_site(COLAB_HAS, tmp_path / "colab-site")))
    kernels = tmp_path / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "colab-like", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))

    nb = nbformat.read(ROOT / "book" / "05_experiments.ipynb", as_version=4)   # shows stored results
    cell = next(c for c in nb.cells if is_install_cell(c))   # equal to INSTALL_CELL (the test above)
    cell.source = INSTALL_CELL.format(url=f"file://{clone}")
    index = nb.cells.index(cell)
    nb.cells.insert(index, nbformat.v4.new_code_cell(  # what Colab's runtime has loaded before any cell runs
        "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')"))
    nb.cells.append(nbformat.v4.new_code_cell("import wnlib\nprint(wnlib.__file__)"))
    monkeypatch.delenv("WNLIB_RESULTS", raising=False)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    NotebookClient(nb, kernel_name="colab", timeout=900, resources={"metadata": {"path": str(tmp_path)}},
                   skip_cells_with_tag="colab-ignores-tags").execute()  # Colab runs every cell

    where = "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()
    assert where.startswith(purelib) and str(ROOT) not in where, where
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    shown = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "not stored yet" not in shown, "chapter 5 did not find the stored Fashion-MNIST results"
    assert "paper (cpu profile)" in shown   # the Fashion-MNIST section's line, as on the page
