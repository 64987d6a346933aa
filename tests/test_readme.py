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
    assert "rho_min" in out and "certified upper bound" in out
    model, x = namespace["model"], namespace["x"]
    import wnlib

    assert (wnlib.bounds.hessian_bound(model, x) >= wnlib.predictor_hessian_norm(model, x) * (1 - 1e-6)).all()
