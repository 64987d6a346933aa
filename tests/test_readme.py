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


def test_readme_lists_the_profiles_as_the_help_does():
    """The README's list of profiles is the table the command line's --help prints, word for word."""
    from wnlib.experiments.registry import describe_profiles

    text = " ".join(README.read_text().split())
    for name, described in describe_profiles().items():
        assert f"- `{name}`: {described}" in text, name
