"""The README's `wnlib` example runs as written."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no python example"
    namespace: dict = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert "rho_min" in out and "certified upper bounds" in out
    measured, bound = namespace["measured"], namespace["bound"]
    assert measured.shape == bound.shape == (2,)
    assert (bound >= measured * (1 - 1e-6)).all() and (measured > 0).all()
