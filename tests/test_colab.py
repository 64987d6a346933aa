"""Colab, tried as a user would: a chapter's own install cell, pointed at a local clone of this repository (the
URL of ``_config.yml`` swapped for the clone's path), in a fresh virtual environment that holds only what Colab
already has; then the notebook runs unchanged. Also: the URL lives in one place (``_config.yml``)."""
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from sites import make_site

from wnlib.book.notebooks import INSTALL_CELL, is_install_cell, repository_url

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("0*.ipynb"))
COLAB_HAS = ("torch", "torchvision", "numpy", "scipy", "pandas", "plotly", "ipywidgets", "scikit-learn", "tqdm",
             "ipykernel", "nbformat")  # Colab runs Jupyter: ipykernel and nbformat are there too


def test_every_install_cell_uses_the_url_of_config_yml():
    expected = INSTALL_CELL.format(url=repository_url(ROOT / "_config.yml")).rstrip("\n")
    for path in CHAPTERS:
        cells = [c for c in json.loads(path.read_text())["cells"] if is_install_cell(c)]
        assert len(cells) == 1, f"{path.name}: one Colab install cell expected"
        assert "".join(cells[0]["source"]) == expected, \
            f"{path.name}: install cell differs from _config.yml's repository.url; run `make install-cells`"
        assert {"skip-execution", "nbval-skip"} <= set(cells[0]["metadata"].get("tags", []))


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

    nb = nbformat.read(ROOT / "book" / "01_weightnorm.ipynb", as_version=4)
    cell = next(c for c in nb.cells if is_install_cell(c))
    cell.source = cell.source.replace(f"git+{repository_url(ROOT / '_config.yml')}", f"git+file://{clone}")
    assert f"git+file://{clone}" in cell.source
    index = nb.cells.index(cell)
    nb.cells.insert(index, nbformat.v4.new_code_cell(  # what Colab's runtime has loaded before any cell runs
        "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')"))
    nb.cells.append(nbformat.v4.new_code_cell("import wnlib\nprint(wnlib.__file__)"))
    NotebookClient(nb, kernel_name="colab", timeout=900, resources={"metadata": {"path": str(tmp_path)}},
                   skip_cells_with_tag="colab-ignores-tags").execute()  # Colab runs every cell

    where = "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()
    assert where.startswith(purelib) and str(ROOT) not in where, where
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
