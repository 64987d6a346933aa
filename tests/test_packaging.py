"""Core vs extras: the core imports and runs with torch, numpy and scipy only; each extra's absence gives an
error naming it. A fresh interpreter sees the standard library, wnlib and only the core's distributions
(tests/sites.py), then ``pip install -e .`` in a new virtual environment."""
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from sites import make_site

ROOT = Path(__file__).resolve().parents[1]
CORE = ("torch", "numpy", "scipy")


@pytest.fixture(scope="module")
def core_site(tmp_path_factory) -> Path:
    """A fresh virtual environment whose only packages are the core's distributions (torch, numpy, scipy and
    what they need, linked in through a .pth file: no reinstall of gigabytes), then ``pip install -e .`` of this
    repository into it (``--no-deps``: that the core needs nothing else is checked from pyproject.toml
    and by running the README's example in this environment)."""
    tmp = tmp_path_factory.mktemp("core")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "core.pth").write_text(str(make_site(CORE, tmp / "site")))
    installed = subprocess.run([python, "-m", "pip", "install", "--no-deps", "-e",
                                str(ROOT)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    assert "Successfully installed wnlib" in installed.stdout, installed.stdout
    return venv


def _run_core_only(venv: Path, code: str) -> subprocess.CompletedProcess:
    """``code`` in the core-only environment (run from a temporary folder, not from the repository)."""
    return subprocess.run([str(venv / "bin" / "python"), "-c", textwrap.dedent(code)], cwd=venv,
                          capture_output=True, text=True, timeout=600)


def test_core_dependencies_are_torch_numpy_scipy():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {re.split(r"[<>=\[ ]", d)[0] for d in project["dependencies"]}
    assert core == {"torch", "numpy", "scipy"}
    assert {"data", "experiments", "book"} <= set(project["optional-dependencies"])


def test_the_core_site_lacks_the_extras(core_site):
    result = _run_core_only(core_site, "import importlib.util as u; print([m for m in ('pandas', 'plotly', "
                                       "'ipywidgets', 'sklearn', 'torchvision', 'tqdm') if u.find_spec(m)])")
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr[-2000:]


def test_readme_core_example_runs_without_extras(core_site):
    readme = (ROOT / "README.md").read_text()
    example = re.findall(r"```python\n(.*?)```", readme, flags=re.S)[0]
    result = _run_core_only(core_site, example)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "certified upper bounds" in result.stdout


def test_each_extra_is_named_when_missing(core_site):
    result = _run_core_only(core_site, """
        import wnlib
        for what, call in [("book", lambda: __import__("wnlib.book")),
                           ("experiments", lambda: __import__("wnlib.experiments")),
                           ("data", lambda: wnlib.load_dataset("digits")),
                           ("data", lambda: wnlib.load_dataset("mnist")),
                           ("experiments", lambda: wnlib.History(rows=[{"step": 0}]).frame)]:
            try:
                call()
            except ImportError as err:
                print(what, "->", err)
            else:
                print(what, "-> no error")
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 5, result.stdout
    for line in lines:
        extra = line.split(" ->")[0]
        assert f'pip install "wnlib[{extra}]"' in line, line


def test_version_is_defined_once():
    import wnlib

    assert 'version = {attr = "wnlib._version.__version__"}' in (ROOT / "pyproject.toml").read_text()
    assert re.fullmatch(r"\d+\.\d+\.\d+", wnlib.__version__)


def _imports() -> dict[str, set[str]]:
    """wnlib's own import graph: module -> the wnlib modules it imports (at any depth in its source)."""
    import ast

    graph = {}
    for path in (ROOT / "wnlib").rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            deps |= {t for t in targets if t.startswith("wnlib") and t != name}
        graph[name] = deps
    return {m: {d for d in deps if d in graph} for m, deps in graph.items()}


def test_import_graph_has_no_cycles_and_no_upward_arrows():
    """The core never imports experiments or book, experiments never imports book; no module imports itself
    back through others (a DAG, packages' __init__ re-exports aside)."""
    graph = _imports()
    layer = lambda m: 2 if m.startswith("wnlib.book") else 1 if m.startswith("wnlib.experiments") else 0  # noqa
    for module, deps in graph.items():
        if module.endswith("__main__"):  # entry points (python -m wnlib) sit on top of everything
            continue
        for dep in deps:
            if dep != "wnlib" and dep.count(".") >= 1:
                assert layer(dep) <= layer(module), f"{module} imports {dep}: an arrow up the layers"
    modules = {m: {d for d in deps if d not in ("wnlib",) and not d == m.rsplit(".", 1)[0]}
               for m, deps in graph.items() if not m.endswith("__main__")}
    state = {}

    def visit(m, path):
        if state.get(m) == "done":
            return
        assert state.get(m) != "open", "import cycle: " + " -> ".join(path + [m])
        state[m] = "open"
        for d in modules.get(m, ()):
            visit(d, path + [m])
        state[m] = "done"

    for m in modules:
        visit(m, [])


BUILD_TOOLING = ("nbclient", "nbformat", "nbconvert", "jupyter_client", "papermill", "playwright", "selenium",
                 "subprocess")


def test_the_installed_package_holds_no_build_tooling():
    """Executing notebooks, writing their install cells and driving browsers are this repository's tools
    (``tools/``), not something every installed copy ships: no module of the installed ``wnlib`` imports a
    notebook runner, a browser driver or ``subprocess``, names one in its source, or offers a command line for
    the book."""
    import ast

    import wnlib

    package = Path(wnlib.__file__).resolve().parent
    found = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            found += [f"{path.relative_to(package)} imports {n}" for n in names if n.split(".")[0] in BUILD_TOOLING]
        found += [f"{path.relative_to(package)} names {word}" for word in BUILD_TOOLING[:-1]
                  if re.search(rf"\b{word}\b", text)]
    assert not found, found
    assert not (package / "book" / "__main__.py").exists(), "python -m wnlib.book is build tooling: tools/"
