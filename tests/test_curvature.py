"""Hessian spectral norms against the dense float64 Hessian (an independent autograd route)."""
import itertools

import numpy as np
import pytest
import torch

import wnlib
from wnlib import curvature, quantities, tracking
from wnlib.curvature import spectral_norm

CASES = [  # depth, width, activation, init_mode, gains, init_scale
    (1, 5, "tanh", "c/sqrt(m)", "fixed", 0.5),
    (2, 4, "softplus", "c*sqrt(m)", "pytorch", 0.5),
    (3, 3, "gelu", "c/sqrt(m)", "pytorch", 5.0),
    (2, 6, "sigmoid", "c*sqrt(m)", "fixed", 5.0),
    (4, 3, "tanh", "c*sqrt(m)", "pytorch", 1.0),
    (3, 4, "relu", "c/sqrt(m)", "fixed", 0.5),
]


def _model(depth, width, activation, init_mode, gains, scale, seed=0, d_in=3, d_out=2):
    return wnlib.WeightNormMLP(d_in, width, depth, d_out, activation=activation, init_mode=init_mode,
                               gains=gains, init_scale=scale, seed=seed)


def _dense_norm(h):
    return float(torch.linalg.matrix_norm(h, 2))


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c)))
def test_predictor_hessian_norm_matches_dense(case, float64):
    model = _model(*case)
    x = torch.randn(3, 3, generator=torch.Generator().manual_seed(1))
    dense = [max(_dense_norm(wnlib.dense_hessian(model, xi, output=c)) for c in range(2)) for xi in x]
    lanczos = wnlib.predictor_hessian_norm(model, x, method="lanczos", tol=1e-12)
    assert lanczos.shape == (3,)
    np.testing.assert_allclose(lanczos.numpy(), dense, rtol=1e-6)
    power = wnlib.predictor_hessian_norm(model, x, method="power", tol=1e-12, max_iter=20000)
    np.testing.assert_allclose(power.numpy(), dense, rtol=1e-3)
    single = wnlib.predictor_hessian_norm(model, x[0], output=1, method="lanczos", tol=1e-12)
    assert single.item() == pytest.approx(_dense_norm(wnlib.dense_hessian(model, x[0], output=1)), rel=1e-6)


def test_lanczos_on_a_larger_net_matches_dense(float64):
    """Above the size where Lanczos falls back to dense: ARPACK itself is checked (dim = 8*12+12*12+12*2)."""
    model = _model(2, 12, "tanh", "c*sqrt(m)", "fixed", 1.0, d_in=8)
    x = torch.randn(8)
    op = quantities.predictor_operator(model, x, output=0)
    assert op.dim == 8 * 12 + 12 * 12 + 12 * 2
    dense = _dense_norm(wnlib.dense_hessian(model, x, output=0))
    assert wnlib.spectral_norm(op, method="lanczos", tol=1e-12) == pytest.approx(dense, rel=1e-6)
    # the output-layer block of a predictor Hessian is zero, and eigenvalues come in near +/- pairs
    h = wnlib.dense_hessian(model, x, output=0)
    assert torch.count_nonzero(h[:24, :24]) == 0  # V comes first in theta


def test_hvp_operator_against_dense(float64):
    model = _model(2, 4, "softplus", "c/sqrt(m)", "pytorch", 0.5)
    x, y = torch.randn(5, 3), torch.randn(5, 2)
    h = wnlib.dense_hessian(model, x, y=y)
    op = quantities.loss_operator(model, x, y)
    vec = torch.randn(op.dim)
    assert torch.allclose(op @ vec, h @ vec, rtol=1e-10, atol=1e-12)
    assert torch.allclose(wnlib.hvp(model, lambda: wnlib.square_loss(model, x, y), vec), h @ vec, atol=1e-12)
    assert torch.allclose(op.dense(), h, atol=1e-12)


@pytest.mark.parametrize("case", CASES[:4], ids=lambda c: "-".join(map(str, c)))
def test_loss_hessian_norm_and_top_eigenvalue(case, float64):
    model = _model(*case)
    x, y = torch.randn(6, 3), torch.randn(6, 2)
    eig = torch.linalg.eigvalsh(wnlib.dense_hessian(model, x, y=y))
    assert wnlib.loss_hessian_norm(model, x, y, tol=1e-12) == pytest.approx(float(eig.abs().max()), rel=1e-6)
    assert wnlib.loss_hessian_norm(model, x, y, which="LA", tol=1e-12) == pytest.approx(float(eig.max()), rel=1e-6)


def test_loss_hessian_decomposition(float64):
    """grad^2 L = (2/n) sum J_i^T J_i - (2/n) sum_i sum_c r_ic grad^2 f_c(x_i), r = y - f (chapter 3)."""
    model = _model(2, 3, "tanh", "c*sqrt(m)", "fixed", 1.0)
    x, y = torch.randn(4, 3), torch.randn(4, 2)
    n = x.shape[0]
    h = wnlib.dense_hessian(model, x, y=y)
    params = curvature.parameters(model)
    gn = torch.zeros_like(h)
    res = torch.zeros_like(h)
    with torch.no_grad():
        r = y - model(x)
    for i, c in itertools.product(range(n), range(2)):
        j = torch.cat([g.reshape(-1) for g in torch.autograd.grad(model(x[i:i + 1])[0, c], params)])
        gn += torch.outer(j, j)
        res += r[i, c] * wnlib.dense_hessian(model, x[i], output=c)
    assert torch.allclose(h, 2 / n * gn - 2 / n * res, atol=1e-10)


def test_gbar_is_mean_gradient(float64):
    model = _model(2, 4, "gelu", "c/sqrt(m)", "fixed", 0.5)
    x = torch.randn(7, 3)
    params = curvature.parameters(model)
    expected = []
    for c in range(2):
        grads = [torch.cat([g.reshape(-1) for g in torch.autograd.grad(model(xi[None])[0, c], params)]) for xi in x]
        expected.append(torch.stack(grads).mean(0))
    assert torch.allclose(wnlib.gbar(model, x), torch.stack(expected), atol=1e-12)
    assert wnlib.gbar_sq(model, x) == pytest.approx(float(torch.stack(expected).pow(2).sum()), rel=1e-10)


def test_float32_model_is_close_to_float64():
    torch.manual_seed(0)
    model = _model(2, 16, "tanh", "c*sqrt(m)", "fixed", 0.5)
    x = torch.randn(2, 3)
    lo = wnlib.predictor_hessian_norm(model, x)
    hi = wnlib.predictor_hessian_norm(model.double(), x.double(), tol=1e-12)
    np.testing.assert_allclose(lo.numpy(), hi.numpy(), rtol=1e-4)


def test_curvature_inside_no_grad_and_inference_mode():
    """Calls made inside torch.no_grad() or torch.inference_mode() give the same values as outside."""
    model = wnlib.WeightNormMLP(5, 6, 2, 2, seed=0, dtype=torch.float64)
    x = torch.randn(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.randn(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ref = (wnlib.predictor_hessian_norm(model, x[:1]), wnlib.loss_hessian_norm(model, x, y), wnlib.gbar_sq(model, x))
    for mode in (torch.no_grad, torch.inference_mode):
        with mode():
            xm, ym = x.clone(), y.clone()
            got = (wnlib.predictor_hessian_norm(model, xm[:1]), wnlib.loss_hessian_norm(model, xm, ym),
                   wnlib.gbar_sq(model, xm))
        torch.testing.assert_close(got[0], ref[0])
        assert got[1] == pytest.approx(ref[1], rel=1e-10) and got[2] == pytest.approx(ref[2], rel=1e-12)


def test_dropout_or_batchnorm_in_training_mode_is_refused():
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x = torch.randn(2, 4)
    with pytest.raises(ValueError, match=r"module '1' \(Dropout\).*model.eval\(\)"):
        wnlib.predictor_hessian_norm(net, x)
    net.eval()
    assert wnlib.predictor_hessian_norm(net, x).shape == (2,)


def test_spectral_norm_of_any_operator_with_to_scipy():
    """A foreign symmetric operator (as curvlinops' operators are): anything with .to_scipy()."""
    from scipy.sparse.linalg import aslinearoperator

    rng = np.random.default_rng(0)
    a = rng.standard_normal((60, 60))
    sym = a + a.T

    class Foreign:
        def to_scipy(self):
            return aslinearoperator(sym)

    assert spectral_norm(Foreign()) == pytest.approx(float(np.abs(np.linalg.eigvalsh(sym)).max()), rel=1e-8)
    assert spectral_norm(Foreign(), which="LA") == pytest.approx(float(np.linalg.eigvalsh(sym).max()), rel=1e-8)
    with pytest.raises(ValueError, match="method must be 'lanczos' or 'arpack' for a Foreign"):
        spectral_norm(Foreign(), method="power")
    with pytest.raises(TypeError, match="op must be a wnlib.HessianOperator or a symmetric operator"):
        spectral_norm(object())


@pytest.mark.parametrize("kind, which", [("predictor", "LM"), ("loss", "LM"), ("loss", "LA")])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lanczos_matches_dense_float64_on_a_few_hundred_parameters(kind, which, dtype):
    """wnlib's own Lanczos against eigvalsh of the dense Hessian (float64 model: ``dense_hessian``, an independent
    autograd route; float32 model: its own matrix, column by column) and ARPACK against the same."""
    model = _model(2, 16, "tanh", "c*sqrt(m)", "pytorch", 2.0, d_in=10, d_out=3)
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(12, 10, generator=gen), torch.randn(12, 3, generator=gen)
    m64 = _model(2, 16, "tanh", "c*sqrt(m)", "pytorch", 2.0, d_in=10, d_out=3).double()
    if kind == "predictor":
        op = quantities.predictor_operator(model.to(dtype), x[0].to(dtype), output=1)
        dense = wnlib.dense_hessian(m64, x[0].double(), output=1)
    else:
        op = quantities.loss_operator(model.to(dtype), x.to(dtype), y.to(dtype))
        dense = wnlib.dense_hessian(m64, x.double(), y=y.double())
    if dtype == torch.float32:  # float32 rounding moves the Hessian itself by ~1e-6: compare with its own matrix
        assert torch.allclose(op.dense().double(), dense, rtol=1e-4, atol=1e-4)
        dense = op.dense().double()
    eig = torch.linalg.eigvalsh(dense)
    exact = float(eig.abs().max() if which == "LM" else eig.max())
    op.num_matvecs = 0
    result = curvature.lanczos(op, which=which, tol=1e-10)
    rtol = 1e-6 if dtype == torch.float32 else 1e-10
    assert result.value == pytest.approx(exact, rel=rtol)
    assert result.matvecs == op.num_matvecs < op.dim  # matrix-free: fewer products than the dense matrix needs
    arpack = spectral_norm(op, method="arpack", which=which, tol=1e-12)
    assert arpack == pytest.approx(exact, rel=rtol)
    loose = curvature.lanczos(op, which=which, tol=1e-4)  # vectors in the model's dtype from tol 1e-5 up
    assert loose.value == pytest.approx(exact, rel=1e-4) and loose.matvecs <= result.matvecs


def test_lanczos_waits_for_both_ends_of_the_spectrum():
    """A +/- pair where the top end converges first (isolated +1) and the larger |lambda| = 1.001 sits at the bottom
    end inside a cluster: stopping at the first converged end would answer 1.0."""
    from scipy.sparse.linalg import aslinearoperator

    bottom = -np.linspace(0.95, 1.001, 400)
    rest = np.linspace(-0.5, 0.5, 400)
    spectrum = np.concatenate([[1.0], rest, bottom])
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.standard_normal((spectrum.size, spectrum.size)))
    matrix = (basis * spectrum) @ basis.T

    class Foreign:
        def to_scipy(self):
            return aslinearoperator(matrix)

    assert spectral_norm(Foreign(), tol=1e-10) == pytest.approx(1.001, rel=1e-8)
    assert spectral_norm(Foreign(), which="LA", tol=1e-10) == pytest.approx(1.0, rel=1e-8)


def test_lanczos_raises_when_max_iter_is_too_small_and_is_exact_on_an_invariant_subspace():
    op = quantities.predictor_operator(_model(2, 12, "tanh", "c*sqrt(m)", "fixed", 1.0, d_in=8), torch.randn(8))
    with pytest.raises(ArithmeticError, match="did not reach tol=1e-12 in max_iter=4 products"):
        curvature.lanczos(op, tol=1e-12, max_iter=4)
    from scipy.sparse.linalg import aslinearoperator

    class LowRank:  # rank 2: the Krylov space closes after 2 products and T_2 holds both eigenvalues
        u = np.linalg.qr(np.random.default_rng(1).standard_normal((300, 2)))[0]

        def to_scipy(self):
            return aslinearoperator((self.u * np.array([3.0, -5.0])) @ self.u.T)

    assert spectral_norm(LowRank()) == pytest.approx(5.0, rel=1e-12)


def test_gbar_sq_estimate_is_unbiased_where_the_plug_in_is_not(float64):
    """Population of 20,000 inputs with ||gbar||^2 computed exactly; 150 random subsamples of 256: the estimate's
    mean is within 3 standard errors of the truth, the plug-in ||gbar(subsample)||^2 is biased far above it, and
    the reported SE is the spread of the estimates within a factor 2."""
    model = wnlib.WeightNormMLP(20, 16, 2, 3, seed=0)
    gen = torch.Generator().manual_seed(0)
    population = torch.randn(20000, 20, generator=gen)
    exact = wnlib.gbar_sq(model, population)
    samples = [population[torch.randperm(20000, generator=gen)[:256]] for _ in range(150)]
    results = [quantities.gbar_sq_estimate(model, s, groups=3) for s in samples]
    estimates, ses = np.array([e for e, _ in results]), np.array([s for _, s in results])
    spread = estimates.std(ddof=1)
    assert abs(estimates.mean() - exact) < 3 * spread / np.sqrt(len(estimates))
    plug_in = np.mean([wnlib.gbar_sq(model, s) for s in samples])
    assert plug_in - exact > 10 * spread / np.sqrt(len(estimates))
    assert 0.5 < np.median(ses) / spread < 2.0


def test_measure_gbar_exact_up_to_gbar_size_then_estimated():
    digits = wnlib.load_dataset("digits", n_train=1000, n_test=64)
    model = wnlib.WeightNormMLP(64, 16, 2, 10, seed=0)
    exact = tracking.measure(model, digits, tracking.TrackSpec(["gbar_sq"], gbar_size=None))
    assert exact["gbar_sq"] == pytest.approx(wnlib.gbar_sq(model, digits.x_train), rel=1e-6)
    assert (exact["gbar_sq_se"], exact["gbar_sq_n"]) == (0.0, digits.n_train)
    assert tracking.measure(model, digits, tracking.TrackSpec(["gbar_sq"], gbar_size=digits.n_train)) == exact
    sampled = tracking.measure(model, digits, tracking.TrackSpec(["gbar_sq"], gbar_size=400))
    assert sampled["gbar_sq_n"] == 400 and sampled["gbar_sq_se"] > 0
    assert abs(sampled["gbar_sq"] - exact["gbar_sq"]) < 4 * sampled["gbar_sq_se"]
    assert tracking.measure(model, digits, tracking.TrackSpec(["gbar_sq"], gbar_size=400)) == sampled  # the same subsample each time
