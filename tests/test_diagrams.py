"""The book's SVG diagrams: they exist, parse as XML, carry a title and a description, and are exactly what
``tools/diagrams.py`` writes (so the committed files cannot drift from the script)."""
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "book" / "figures"
SCRIPT = ROOT / "tools" / "diagrams.py"
NAMES = ["normalization_sphere.svg", "rsc_cone.svg", "dependency_map.svg"]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("name", NAMES)
def test_diagram_is_well_formed_and_accessible(name):
    path = FIGURES / name
    assert path.is_file(), f"{path} is missing: run python tools/diagrams.py"
    root = ET.parse(path).getroot()
    assert root.tag == SVG + "svg"
    assert root.get("width") and root.get("height") and root.get("viewBox")
    title, desc = root.find(SVG + "title"), root.find(SVG + "desc")
    assert title is not None and title.text and title.text.strip()
    assert desc is not None and desc.text and len(desc.text.strip()) > 40
    assert root.get("font-family") == "sans-serif"
    assert root.findall(f".//{SVG}text"), "labels must be real text"


def test_rerunning_the_script_gives_identical_bytes(tmp_path):
    subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], check=True, capture_output=True)
    for name in NAMES:
        assert (tmp_path / name).read_bytes() == (FIGURES / name).read_bytes(), (
            f"book/figures/{name} differs from what tools/diagrams.py writes: rerun the script")


def test_dependency_map_names_the_results_added_to_the_ascii_map():
    text = (FIGURES / "dependency_map.svg").read_text(encoding="utf-8")
    for label in ("ch3-prop-contraction", "ch2-prop-readings", "thm-hessian", "thm-generalization"):
        assert label in text
    assert 'stroke-dasharray' in text  # measured results have a dashed border
