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
    assert {r.metric for r in rows} == {"ms per gradient", "ms per HVP", "HVP / gradient", "forward-over-reverse HVP / gradient",
                                     "torch.compile forward-over-reverse HVP / gradient"}
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


@pytest.fixture(scope="module")
def spectral_rows():
    import torch

    from bench import spectral

    return spectral.run(torch.device("cpu"), quick=True)


def test_spectral_rows_at_toy_size_compare_three_tools_with_a_reference(spectral_rows):
    """The curvature comparison runs end to end at its smallest size: wnlib, power iteration and curvlinops, each
    with an error against the float64 ARPACK reference; wnlib's error meets its 1e-6 goal."""
    rows = spectral_rows
    errors = {}
    for r in rows:
        if r.metric == "relative error":
            errors.setdefault(r.case.split(":")[0], []).append(r.value)
    stops = {"power stop (tol 1e-3)", "wnlib tol=1e-3", "wnlib tol=1e-4 (tracking)"}  # read off the traces
    assert set(errors) == {"wnlib", "power", "curvlinops"} | stops and len(errors["wnlib"]) == 2  # predictor, loss
    assert max(errors["wnlib"]) <= 1e-6 and max(errors["curvlinops"]) <= 1e-6
    assert {r.case.split(":")[0] for r in rows if r.metric == "time ratio"} >= {"wnlib / power", "curvlinops / wnlib",
                                                                                "wnlib tol=1e-3 / power stop"}


def test_spectral_error_bookkeeping_recomputed_independently(spectral_rows):
    """The "HVPs to error eps" rows at toy size: each method re-run to the recorded step here gives exactly the
    recorded error |estimate - reference| / reference, the first step at or below eps (the step before is above it,
    or power iteration never gets there in 100 HVPs); each stop row is the method's own stopping rule."""
    import copy
    import math

    import torch

    from bench import spectral
    from wnlib import curvature
    from wnlib.quantities import square_loss

    rows = spectral_rows
    value = {(r.case, r.metric): r.value for r in rows}
    for kind in ("predictor", "loss"):
        model, x, y, make, _ = spectral._case(*spectral.SIZES[0], kind)
        label = next(r.case.split(": ", 1)[1] for r in rows if r.case.startswith(f"power: {kind}"))
        reference = curvature.spectral_norm(make(copy.deepcopy(model).double(), x.double(), y.double()), method="arpack", tol=1e-12)
        fn = (lambda: model(x)[0, 0]) if kind == "predictor" else (lambda: square_loss(model, x, y))
        params = curvature.parameters(model)
        power = [abs(r) for r in spectral.pyhessian_power_steps(fn, params, max_iter=spectral.POWER_MAX_ITER)]
        lanczos = {dtype: [s.value for s in curvature.lanczos_steps(make(model, x, y), vectors=dtype, max_iter=200)]
                   for dtype in (torch.float32, torch.float64)}
        for eps in spectral.EPS:
            estimates = {"power": power,
                         "wnlib": lanczos[torch.float32 if eps >= curvature.FLOAT32_VECTORS_TOL else torch.float64]}
            for name, values in estimates.items():
                errors = [abs(v - reference) / reference for v in values]
                hvps = value[(f"{name}: {label}", f"HVPs to error {eps:g}")]
                if math.isnan(hvps):
                    assert name == "power" and len(values) == spectral.POWER_MAX_ITER and min(errors) > eps
                    continue
                k = int(hvps)
                assert value[(f"{name}: {label}", f"error at HVPs to {eps:g}")] == pytest.approx(errors[k - 1], rel=1e-5)
                assert errors[k - 1] <= eps and all(e > eps for e in errors[:k - 1])
        assert spectral.pyhessian_power(fn, params)[1] == value[(f"power stop (tol 1e-3): {label}", "HVPs")]
        assert value[(f"power stop (tol 1e-3): {label}", "relative error")] == pytest.approx(
            abs(spectral.pyhessian_power(fn, params)[0] - reference) / reference, rel=1e-5)
        for tol, name in ((1e-3, "wnlib tol=1e-3"), (1e-4, "wnlib tol=1e-4 (tracking)")):
            result = curvature.lanczos(make(model, x, y), tol=tol)
            assert value[(f"{name}: {label}", "HVPs")] == result.matvecs
            assert value[(f"{name}: {label}", "relative error")] == pytest.approx(
                abs(result.value - reference) / reference, rel=1e-5)
    shares = [r for r in rows if r.metric == "share" and "to error" in r.case]
    assert len(shares) == len(spectral.EPS) and all(0 <= r.value <= 1 for r in shares)



def test_readme_goal_table_is_the_saved_run():
    """README's table of goal rows is ``python -m bench.report --goals`` of bench/results/latest.json, verbatim:
    the README cannot quote numbers from another run."""
    from bench.report import format_table, goal_rows, load

    rows, _ = load(ROOT / "bench" / "results" / "latest.json")
    table = format_table(goal_rows(rows))
    assert goal_rows(rows) and all(r.target for r in goal_rows(rows))
    assert table in (ROOT / "README.md").read_text(), "README's goal table differs from bench/results/latest.json"
