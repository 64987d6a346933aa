"""Smoke test of the benchmarks at toy size: the table has the right columns (no timing is asserted)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench/ is a top-level package of the repository, not installed

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from bench import hvp  # noqa: E402
from bench.report import COLUMNS, Row, format_table  # noqa: E402
from bench.stacked import train_stacked  # noqa: E402
from wnlib.experiments import RunConfig, run  # noqa: E402

TINY = RunConfig(width=8, depth=1, epochs=4, n_train=200, track=("loss", "accuracy", "rho_min"))


def test_hvp_rows_at_toy_size():
    import torch

    rows = hvp.run(torch.device("cpu"), quick=True)
    assert rows and all(isinstance(r, Row) for r in rows)
    assert {r.metric for r in rows} == {"ms per gradient", "ms per HVP", "HVP / gradient", "forward-over-reverse HVP / gradient"}
    assert all(r.value > 0 for r in rows)
    assert all((r.met is None) == (r.target == "") for r in rows)
    header = format_table(rows).splitlines()[0]
    assert [c.strip() for c in header.strip("|").split("|")] == list(COLUMNS)


def test_cli_quick_only_hvp():
    out = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "hvp"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, check=True).stdout
    assert "| benchmark | case" in out and "HVP / gradient" in out


def test_stacked_training_matches_sequential(tmp_path):
    configs = [TINY.replace(seed=s, init_scale=c) for s, c in ((0, 0.5), (1, 5.0), (2, 1.0))]
    stacked = train_stacked(configs)
    for config, history in zip(configs, stacked):
        sequential, _ = run(config, tmp_path)
        pd.testing.assert_frame_equal(history, sequential, check_exact=False, check_dtype=False, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="'width'"):
        train_stacked([TINY, TINY.replace(width=9)])


def test_spectral_rows_at_toy_size_compare_three_tools_with_a_reference():
    """The curvature comparison runs end to end at its smallest size: wnlib, power iteration and curvlinops, each
    with an error against the float64 ARPACK reference; wnlib's error meets its 1e-6 goal."""
    import torch

    from bench import spectral

    rows = spectral.run(torch.device("cpu"), quick=True)
    errors = {}
    for r in rows:
        if r.metric == "relative error":
            errors.setdefault(r.case.split(":")[0], []).append(r.value)
    assert set(errors) == {"wnlib", "power", "curvlinops"} and len(errors["wnlib"]) == 2  # predictor, loss
    assert max(errors["wnlib"]) <= 1e-6 and max(errors["curvlinops"]) <= 1e-6
    assert {r.case.split(":")[0] for r in rows if r.metric == "time ratio"} == {"wnlib / power", "curvlinops / wnlib"}
