"""wnlib.bounds against ground truth: dense float64 Hessians, hand-derived closed forms, exact constants."""
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wnlib
from wnlib import bounds
from wnlib.model import phi_derivs
from wnlib.bounds import (ACTIVATION_CONSTANTS, generalization_bound, hessian_bound, paper_scaling,
                          predicted_contraction, rsc_certificate, smoothness)


def make(d_in=3, width=4, depth=2, d_out=1, **kw):
    model = wnlib.WeightNormMLP(d_in, width, depth, d_out, **kw)
    return model.double()


def dense_norm(model, x, c=0):
    return float(torch.linalg.matrix_norm(wnlib.dense_hessian(model, x, output=c), 2))


def sgd_steps(model, steps, seed, lr=0.05):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(8, model.d_in, generator=gen, dtype=torch.float64)
    y = torch.randn(8, model.d_out, generator=gen, dtype=torch.float64)
    params = wnlib.curvature.parameters(model)
    for _ in range(steps):
        loss = wnlib.square_loss(model, x, y)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(lr * g.clamp(-10, 10))


# ------------------------------------------------------------------ the certified Hessian bound (property test)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(depth=st.integers(1, 4), width=st.integers(2, 16), act=st.sampled_from(wnlib.SMOOTH_ACTIVATIONS),
       init_mode=st.sampled_from(["c/sqrt(m)", "c*sqrt(m)"]), gains=st.sampled_from(["fixed", "pytorch"]),
       rho=st.sampled_from([None, 1e-3, 1e3, "per-row"]), bias=st.booleans(), steps=st.sampled_from([0, 0, 3]),
       d_out=st.integers(1, 2), scale=st.sampled_from([0.5, 5.0]), seed=st.integers(0, 10_000))
def test_hessian_bound_never_below_dense_hessian(depth, width, act, init_mode, gains, rho, bias, steps, d_out,
                                                 scale, seed):
    if depth >= 3:  # keep the dense Hessian small enough for the time budget
        width = min(width, 10)
    model = make(3, width, depth, d_out, activation=act, init_mode=init_mode, gains=gains, bias=bias,
                 init_scale=scale, seed=seed)
    if rho == "per-row":
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for layer in model.hidden:
                layer.v.mul_(10.0 ** (torch.rand(layer.v.shape[0], 1, generator=gen, dtype=torch.float64) * 6 - 3))
    elif rho is not None:
        wnlib.rescale_rows(model, rho=rho)
    sgd_steps(model, steps, seed)
    x = torch.randn(1, 3, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    x = x / x.norm() * math.sqrt(3)
    c = seed % d_out
    exact = dense_norm(model, x[0], c)
    b = float(hessian_bound(model, x, output=c)[0])
    assert math.isfinite(b)
    assert b >= exact, (b, exact)
    assert float(hessian_bound(model, x)[0]) >= b  # max over outputs


# ------------------------------------------------------------------ closed form: one hidden layer, one neuron
def one_neuron_hessian(v, g, V, x, act, train_gain):
    """Hand-derived Hessian of f = V phi(g u^T x), u = v/||v||, parameters ordered (v, [g], V)."""
    _, d1, d2 = phi_derivs(act, (g * v / v.norm()) @ x)
    r = v.norm()
    u = v / r
    P = torch.eye(len(v), dtype=v.dtype) - torch.outer(u, u)
    ux, Px = u @ x, P @ x
    hess_ux = -(ux * P + torch.outer(Px, u) + torch.outer(u, Px)) / r ** 2  # Hessian of u(v)^T x
    Hvv = V * (d2 * g ** 2 * torch.outer(Px, Px) / r ** 2 + d1 * g * hess_ux)
    HvV = (d1 * g * Px / r)[:, None]
    if not train_gain:
        top = torch.cat([Hvv, HvV], 1)
        bottom = torch.cat([HvV.T, torch.zeros(1, 1, dtype=v.dtype)], 1)
        return torch.cat([top, bottom], 0)
    Hgg = V * d2 * ux ** 2
    Hgv = V * (d2 * g * ux * Px / r + d1 * Px / r)
    HgV = d1 * ux
    p = len(v)
    H = torch.zeros(p + 2, p + 2, dtype=v.dtype)
    H[:p, :p] = Hvv
    H[:p, p] = H[p, :p] = Hgv
    H[:p, p + 1] = H[p + 1, :p] = HvV[:, 0]
    H[p, p] = Hgg
    H[p, p + 1] = H[p + 1, p] = HgV
    return H


@pytest.mark.parametrize("act", wnlib.SMOOTH_ACTIVATIONS)
@pytest.mark.parametrize("gains", ["fixed", "pytorch"])
@pytest.mark.parametrize("rho", [0.05, 1.0, 20.0])
def test_one_neuron_closed_form(act, gains, rho):
    model = make(2, 1, 1, 1, activation=act, gains=gains, init_scale=2.0, seed=3)
    wnlib.rescale_rows(model, rho=rho)
    x = torch.tensor([1.0, -0.4], dtype=torch.float64)
    layer = model.hidden[0]
    H = one_neuron_hessian(layer.v.detach()[0], layer.g.detach()[0], model.V.detach()[0, 0], x, act,
                           gains == "pytorch")
    dense = wnlib.dense_hessian(model, x)
    order = [len(H) - 1] + list(range(len(H) - 1))  # model.parameters(): V first, then v (and g)
    H = H[order][:, order]
    torch.testing.assert_close(H, dense, rtol=1e-9, atol=1e-12)
    exact = float(torch.linalg.matrix_norm(H, 2))
    b = float(hessian_bound(model, x[None])[0])
    assert exact <= b <= 50 * exact  # certified, and not absurdly loose on the smallest network


def test_one_neuron_fixed_gain_bound_by_hand():
    """Width 1, depth 1, fixed gain: the terms of the appendix A.4 bound reduce to a formula checkable by hand."""
    model = make(2, 1, 1, 1, activation="tanh", seed=0)
    x = torch.tensor([[0.6, 0.8]], dtype=torch.float64)
    v, V = model.hidden[0].v.detach()[0], float(model.V.detach()[0, 0])
    r, z = float(v.norm()), float((v / v.norm()) @ x[0])
    p1, p2 = 1 - math.tanh(z) ** 2, -2 * math.tanh(z) * (1 - math.tanh(z) ** 2)
    s = 1.0 / r  # ||x|| = 1, g = 1
    A = abs(V * p2) * s ** 2 + abs(V * p1) * (2 / math.sqrt(3)) / r ** 2
    B = p1 * s
    expected = (A + math.sqrt(A * A + 4 * B * B)) / 2
    assert float(hessian_bound(model, x)[0]) == pytest.approx(expected, rel=1e-8)


def test_hessian_bound_terms_by_hand_at_depth_two():
    """Every field of HessianBoundTerms (return_terms=True) against the formulas of appendix A.4, recomputed here
    with matrices and tanh's closed-form derivatives, for a depth-2 network with fixed gains and two outputs."""
    model = make(3, 5, 2, 2, activation="tanh", seed=2)
    wnlib.rescale_rows(model, factor=1.7)  # row norms away from 1, so that the 1/r and 1/r^2 factors show
    x = torch.randn(2, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    values, terms = hessian_bound(model, x, return_terms=True)
    W = [layer.v.detach() / layer.v.detach().norm(dim=1, keepdim=True) for layer in model.hidden]  # g = 1
    tau = [1 / layer.v.detach().norm(dim=1) for layer in model.hidden]                           # |g| / r
    lam = [(2 / math.sqrt(3)) * t ** 2 for t in tau]                                             # (2/sqrt3)|g|/r^2
    V, m = model.V.detach(), 5
    op = lambda M: float(torch.linalg.matrix_norm(M, 2))  # noqa: E731
    for i, xi in enumerate(x):
        z1 = W[0] @ xi
        a1 = torch.tanh(z1)
        z2 = W[1] @ a1
        p1 = [1 - torch.tanh(z) ** 2 for z in (z1, z2)]
        p2 = [-2 * torch.tanh(z) * (1 - torch.tanh(z) ** 2) for z in (z1, z2)]
        s = [float(tau[0].max()) * float(xi.norm()), float(tau[1].max()) * float(a1.norm())]
        K21 = W[1] @ torch.diag(p1[0])                                   # dz_2/dz_1
        zeta = [s[0], math.hypot(op(K21) * s[0], s[1])]
        xi_ = [float(p1[0].abs().max()) * s[0], math.hypot(op(torch.diag(p1[1]) @ K21) * s[0],
                                                             float(p1[1].abs().max()) * s[1])]
        assert len(terms[i]) == 2
        for c, t in enumerate(terms[i]):
            chi2 = V[:, c] / math.sqrt(m)
            delta2 = p1[1] * chi2
            chi1 = W[1].T @ delta2
            delta1 = p1[0] * chi1
            A1 = float((chi1 * p2[0]).abs().max()) * zeta[0] ** 2 + float((chi2 * p2[1]).abs().max()) * zeta[1] ** 2
            A2 = max(float(xi.norm()) * float((delta1.abs() * lam[0]).max()),
                     float(a1.norm()) * float((delta2.abs() * lam[1]).max()))
            A3 = 2 * float((delta2 * tau[1]).norm()) * xi_[0]
            B = xi_[1] / math.sqrt(m)
            A = A1 + A2 + A3
            assert (t.A1, t.A2, t.A3, t.B) == pytest.approx((A1, A2, A3, B), rel=1e-10)
            assert t.kappa_max == pytest.approx(max(1.0, op(K21)), rel=1e-10)
            assert t.bound == pytest.approx((A + math.sqrt(A * A + 4 * B * B)) / 2, rel=1e-8)
        assert float(values[i]) == max(t.bound for t in terms[i])
        assert float(hessian_bound(model, x[i:i + 1], output=1)[0]) == terms[i][1].bound


# ------------------------------------------------------------------ shape of the bound
def test_bound_decreases_in_normalization_terms():
    model = make(4, 8, 3, 2, activation="gelu", seed=1)
    x = torch.randn(3, 4, dtype=torch.float64)
    prev = None
    for rho in [0.01, 0.1, 1.0, 10.0, 100.0]:
        wnlib.rescale_rows(model, rho=rho)
        b = hessian_bound(model, x)
        if prev is not None:
            assert bool((b < prev).all())
        prev = b
    # large rho: B / rho dominates -> 1/rho; small rho: A / rho^2 -> 1/rho^2
    wnlib.rescale_rows(model, rho=1e-3)
    b_small = hessian_bound(model, x)
    wnlib.rescale_rows(model, rho=2e-3)
    assert torch.allclose(hessian_bound(model, x), b_small / 4, rtol=1e-3)


def test_bound_polynomial_in_depth_product_version_exponential():
    x = torch.full((1, 4), 1.0, dtype=torch.float64)
    exact, product = [], []
    depths = [1, 2, 4, 8, 12]
    for L in depths:
        model = make(4, 24, L, 1, activation="tanh", seed=0)
        wnlib.rescale_rows(model, rho=1.0)
        exact.append(float(hessian_bound(model, x)[0]))
        product.append(float(hessian_bound(model, x, jacobians="product")[0]))
    for L, b in zip(depths, exact):
        assert b <= exact[0] * 4 * L ** 3  # O(L^3) at fixed width and rho
    slope = np.polyfit(np.log(depths[2:]), np.log(exact[2:]), 1)[0]
    assert slope < 3.0
    assert product[-1] / product[0] > 2.0 ** 10  # the product-of-norms version blows up exponentially
    assert all(p >= e * (1 - 1e-9) for p, e in zip(product, exact))


def test_relu_and_plain_rejected():
    with pytest.raises(ValueError, match="relu"):
        hessian_bound(make(activation="relu"), torch.ones(1, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="WeightNormMLP"):
        hessian_bound(wnlib.PlainMLP(3, 4, 2, 1).double(), torch.ones(1, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="jacobians"):
        hessian_bound(make(), torch.ones(1, 3, dtype=torch.float64), jacobians="fast")


def test_bound_on_float32_model_matches_float64():
    model = wnlib.WeightNormMLP(3, 6, 2, 2, seed=4)
    x = torch.randn(2, 3)
    b32 = hessian_bound(model, x)
    b64 = hessian_bound(model.double(), x.double())
    assert torch.allclose(b32, b64, rtol=1e-5)


@pytest.mark.parametrize("act", wnlib.SMOOTH_ACTIVATIONS)
def test_activation_constants(act):
    z = torch.linspace(-30, 30, 600_001, dtype=torch.float64)
    _, d1, d2 = phi_derivs(act, z)
    const = ACTIVATION_CONSTANTS[act]
    assert float(d1.abs().max()) <= const["beta1"] * (1 + 1e-12)
    assert float(d1.abs().max()) >= const["beta1"] * (1 - 1e-6)  # attained: the constant is the sup
    assert float(d2.abs().max()) <= const["beta2"] * (1 + 1e-12)
    assert float(d2.abs().max()) >= const["beta2"] * (1 - 1e-6)
    phi = wnlib.model.ACTIVATIONS[act]
    assert float(phi(torch.zeros(1, dtype=torch.float64))) == pytest.approx(const["phi0"])
    centred = phi(z) - const["phi0"]
    assert torch.allclose(centred, -centred.flip(0), atol=1e-12) == const["odd"]


def test_gelu_constants_closed_form():
    assert ACTIVATION_CONSTANTS["gelu"]["beta1"] == pytest.approx(1.1289, abs=1e-4)
    assert ACTIVATION_CONSTANTS["gelu"]["beta2"] == pytest.approx(0.7979, abs=1e-4)


# ------------------------------------------------------------------ optimization quantities
def cosines(G, D):
    return (G @ D.T).norm(dim=0) / (G.norm() * D.norm(dim=1))


@pytest.mark.parametrize("d_out,noise", [(1, 1e-3), (1, 1.0), (3, 1e-3), (3, 1.0)])
def test_rsc_certificate_against_dense_loss_hessian(d_out, noise):
    model = make(3, 5, 2, d_out, activation="tanh", init_scale=2.0, seed=7)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        y = model(x) + noise * torch.randn(6, d_out, generator=gen, dtype=torch.float64)
    H = wnlib.dense_hessian(model, x, y=y)
    G = wnlib.gbar(model, x).detach()
    top = torch.linalg.svd(G).Vh[0]
    D = top[None] + 0.2 * torch.randn(400, G.shape[1], generator=gen, dtype=torch.float64) / math.sqrt(G.shape[1])
    cos = cosines(G, D)
    kappa = float(cos.min())
    alpha = rsc_certificate(model, x, y, kappa, hessian="dense")
    quad = torch.einsum("ni,ij,nj->n", D, H, D) / D.pow(2).sum(1)
    assert bool((quad >= alpha - 1e-10).all())
    if noise < 0.01:
        assert alpha > 0  # the certificate bites: small residuals, directions aligned with gbar
        assert float(quad.min()) < 20 * alpha  # and is not vacuous
    certified = rsc_certificate(model, x, y, kappa, hessian="bound")
    assert certified <= alpha + 1e-12


def test_smoothness_and_contraction():
    model = make(3, 4, 2, 1, activation="softplus", seed=2)
    x = torch.randn(5, 3, dtype=torch.float64)
    y = torch.randn(5, 1, dtype=torch.float64)
    beta = smoothness(model, x, y)
    eig = torch.linalg.eigvalsh(wnlib.dense_hessian(model, x, y=y))
    assert beta == pytest.approx(float(eig.max()), rel=1e-6)
    assert predicted_contraction(1.0, 4.0, 1.0) == pytest.approx(0.75)
    assert predicted_contraction(0.5, 2.0, 0.5) == pytest.approx(1 - 0.5 * 0.5 * 1.5 / 2.0)
    for bad in [0.0, 2.0, -1.0, 3.0]:
        with pytest.raises(ValueError, match="omega"):
            predicted_contraction(1.0, 1.0, bad)
    with pytest.raises(ValueError, match="beta"):
        predicted_contraction(1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="kappa"):
        rsc_certificate(model, x, y, 1.5)


# ------------------------------------------------------------------ generalization bound
def closed_form_bound(activation, gamma, nu, X, n, delta, k, B=1.0):
    """The bound of the docstring of generalization_bound (appendix A.6), computed here independently: the
    activation constants are written out by hand, not read from the library's table, and t_l in plain floats."""
    phi0, beta1, c_phi = {"tanh": (0.0, 1.0, 1.0), "softplus": (math.log(2.0), 1.0, 2.0)}[activation]
    t = X
    for g in gamma:
        t = abs(phi0) + c_phi * beta1 * g * t
    lip = 2 * math.sqrt(B) * (1.0 if k == 1 else math.sqrt(2.0) * k)
    return 2 * lip * nu * t / math.sqrt(n) + B * math.sqrt(math.log(1 / delta) / (2 * n))


@pytest.mark.parametrize("activation", ["tanh", "softplus"])
@pytest.mark.parametrize("d_out", [1, 3])
def test_generalization_bound_matches_closed_form_at_every_width(activation, d_out):
    n, delta, gamma, nu = 1000, 0.05, [1.0, 0.8, 0.8], 2.0
    expected = closed_form_bound(activation, gamma, nu, math.sqrt(5), n, delta, d_out)
    for width in [2, 16, 128, 1024]:  # at fixed constraints: the closed form has no m in it
        model = wnlib.WeightNormMLP(5, width, 3, d_out, activation=activation, seed=width)
        res = generalization_bound(model, n, delta, gamma=gamma, nu=nu)
        assert res.value == pytest.approx(expected, rel=1e-12), width
    # ... and it does respond to the constraints it is stated in: nu linearly, each gamma_l through t_L
    base = generalization_bound(model, n, delta, gamma=gamma, nu=nu)
    assert generalization_bound(model, n, delta, gamma=gamma, nu=2 * nu).complexity_term == pytest.approx(
        2 * base.complexity_term, rel=1e-12)
    for layer in range(3):
        wider = list(gamma)
        wider[layer] *= 1.5
        res = generalization_bound(model, n, delta, gamma=wider, nu=nu)
        assert res.value == pytest.approx(closed_form_bound(activation, wider, nu, math.sqrt(5), n, delta, d_out),
                                          rel=1e-12)
        assert res.value > base.value


def test_generalization_bound_at_a_networks_own_constraints_grows_with_width():
    """Measured on real networks: the default constraints are the network's own norms (recomputed here from the
    parameters), and those grow with the width, so the bound at them does too (the point of appendix A.6)."""
    values = []
    for width in [16, 1024]:
        model = wnlib.WeightNormMLP(5, width, 3, 1, activation="tanh", seed=0).double()
        res = generalization_bound(model, 1000, 0.05)
        with torch.no_grad():
            unit = [layer.v / layer.v.norm(dim=1, keepdim=True) for layer in model.hidden]
            gains = [layer.g.abs() for layer in model.hidden]
            gamma = [float(gains[0].max())] + [float((g * u.abs().sum(dim=1)).max())
                                               for g, u in zip(gains[1:], unit[1:])]
            nu = float(model.V.norm(dim=0).max())
        assert res.constraints["gamma"] == pytest.approx(gamma, rel=1e-12)
        assert res.constraints["nu"] == pytest.approx(nu, rel=1e-12)
        assert res.value == pytest.approx(closed_form_bound("tanh", gamma, nu, math.sqrt(5), 1000, 0.05, 1),
                                          rel=1e-12)
        values.append((gamma[1], res.value))
    # the l1 norms of unit rows grow like sqrt(m) (said in the docstring of norm_constraints): 64x the width
    assert values[1][0] > 4 * values[0][0]
    assert values[1][1] > values[0][1]


def test_generalization_bound_by_hand_and_shape():
    model = wnlib.WeightNormMLP(4, 8, 1, 1, activation="sigmoid", seed=0)
    res = generalization_bound(model, 400, 0.1, loss_bound=1.0, gamma=[2.0], nu=3.0)
    t1 = 0.5 + 1.0 * 0.25 * 2.0 * 2.0  # |phi(0)| + c beta1 gamma X, X = sqrt(4)
    expected = 2 * 2 * 3.0 * t1 / math.sqrt(400) + math.sqrt(math.log(10) / 800)
    assert res.value == pytest.approx(expected, rel=1e-12)
    assert res.vacuous == (expected >= 1.0)
    # decreasing in n, never overflows with depth, vacuous flag for a deep net
    deep = wnlib.WeightNormMLP(4, 4, 200, 1, activation="gelu", seed=0)
    big = generalization_bound(deep, 100, 0.05, gamma=3.0, nu=1.0)
    assert big.vacuous and math.isfinite(big.log_rademacher)
    assert generalization_bound(model, 10_000, 0.1).value < generalization_bound(model, 100, 0.1).value
    with pytest.raises(ValueError, match="delta"):
        generalization_bound(model, 10, 1.5)
    with pytest.raises(ValueError, match="gamma"):
        generalization_bound(model, 10, 0.1, gamma=[1.0, 1.0])


def test_generalization_gap_helper():
    model = wnlib.WeightNormMLP(3, 4, 1, 1, seed=0).double()
    x = torch.randn(10, 3, dtype=torch.float64)
    y = torch.zeros(10, 1, dtype=torch.float64)
    gap, tr, te = wnlib.bounds.generalization_gap(model, x[:5], y[:5], x[5:], y[5:])
    assert gap == pytest.approx(te - tr)
    assert tr == pytest.approx(float(wnlib.square_loss(model, x[:5], y[:5]).detach()))


# ------------------------------------------------------------------ paper shapes
def test_paper_scaling_fits_constant_and_labels_it():
    widths = np.array([64, 256, 1024])
    fit = paper_scaling("hessian", width=widths, depth=3, rho_min=0.5, measured=7.0 * 27 / (np.sqrt(widths) * 0.5))
    assert fit.constant == pytest.approx(7.0)
    assert "fitted constant, not the paper's" in fit.label
    gen = paper_scaling("generalization", depth=[1, 4], n=100)
    assert np.allclose(gen.values, [0.1, 0.2]) and gen.constant == 1.0
    with pytest.raises(ValueError, match="rho_min"):
        paper_scaling("hessian", width=4, depth=2)
    with pytest.raises(ValueError, match="kind"):
        paper_scaling("loss", depth=2, n=3)


# ------------------------------------------------------------------ the last-layer floor (chapter 2)
@pytest.mark.parametrize("act, depth, gains, bias, d_out", [
    ("tanh", 1, "fixed", False, 1), ("tanh", 3, "fixed", False, 2), ("softplus", 2, "pytorch", False, 1),
    ("gelu", 2, "fixed", True, 3), ("sigmoid", 3, "pytorch", True, 1)])
def test_hessian_floor_is_the_norm_of_the_V_columns_v_block(act, depth, gains, bias, d_out):
    """floor = max_i ||d^2 f_c / dV_ic dv_i^(L)|| read off the dense float64 Hessian, for every output c; it is
    below ||grad^2 f_c||_2."""
    model = make(4, 6, depth, d_out, activation=act, gains=gains, bias=bias, init_scale=2.0, seed=1)
    sgd_steps(model, 2, seed=0)
    x = torch.randn(2, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    floor = bounds.hessian_floor(model, x)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    sizes = [p.numel() for p in wnlib.curvature.parameters(model)]
    offset = dict(zip(names, np.cumsum([0] + sizes[:-1])))
    v_last, d_prev = f"hidden.{depth - 1}.v", model.hidden[-1].in_features
    for j, xj in enumerate(x):
        for c in range(d_out):
            H = wnlib.dense_hessian(model, xj, output=c)
            blocks = [H[offset[v_last] + i * d_prev: offset[v_last] + (i + 1) * d_prev, offset["V"] + i * d_out + c]
                      for i in range(model.width)]
            assert float(floor[j]) == pytest.approx(max(float(b.norm()) for b in blocks), rel=1e-10)
            assert float(floor[j]) <= float(torch.linalg.matrix_norm(H, 2)) * (1 + 1e-12)


def test_hessian_floor_does_not_decay_with_width_at_fixed_row_norms():
    """With every row at norm 1 the floor settles at a width-independent level (the chapter-2 finding)."""
    x = wnlib.load_dataset("teacher", n_train=2, n_test=1).x_train.double()
    floors = []
    for m in (64, 256, 1024):
        net = wnlib.rescale_rows(make(16, m, 2, 1, seed=0), rho=1.0)
        floors.append(float(bounds.hessian_floor(net, x).mean()))
    assert max(floors) / min(floors) < 1.5 and min(floors) > 0.05


def test_rademacher_lower_estimate_stays_below_the_certified_bound():
    """Sign fitting finds a network of the class, so its value is <= sup = R_n(F_1) <= the certified bound."""
    x = torch.randn(40, 6, generator=torch.Generator().manual_seed(0))
    x = x * (6 ** 0.5 / x.norm(dim=1, keepdim=True))
    sigma = 2.0 * torch.randint(2, (40,), generator=torch.Generator().manual_seed(1)) - 1
    net = wnlib.WeightNormMLP(6, 8, 2, 1, seed=0)
    for gamma in ([1.0, 2.0], [1.0, 8.0]):
        bound = generalization_bound(net, n=40, delta=0.05, gamma=gamma, nu=1.0).rademacher
        est = bounds.rademacher_lower_estimate(x, sigma, 8, gamma, steps=100)
        assert 0 < est <= bound
        assert est == bounds.rademacher_lower_estimate(x, sigma, 8, gamma, steps=100)   # seeded
    small = bounds.rademacher_lower_estimate(x, sigma, 8, [1.0, 2.0], steps=100)
    assert small < bounds.rademacher_lower_estimate(x, sigma, 8, [1.0, 8.0], steps=100)   # a larger class
