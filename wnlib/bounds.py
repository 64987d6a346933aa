"""Bounds: a certified Hessian bound, the RSC certificate, smoothness, contraction, and a generalization bound.

Explained in: book/A_proofs.md (complete proofs), book/02_hessian.ipynb, book/03_optimization.ipynb,
book/04_generalization.ipynb (figures).

Three kinds of numbers live here, and every function says which it returns (theory-notes, labels):

* **EXACT** -- :func:`hessian_bound` and :func:`generalization_bound` are inequalities the book proves itself
  (book/A_proofs.md); they hold for the network at hand, and may be loose.
* **MEASURED** -- :func:`smoothness`, :func:`rsc_certificate` (with ``hessian="lanczos"``), :func:`generalization_gap`.
* **PAPER** -- :func:`paper_scaling` gives the paper's informal shapes, with a constant *fitted to measurements*,
  never the paper's own constant (which we do not have).

Symbols: ``m`` width, ``L`` depth, ``k`` outputs, ``r_i^(l) = ||v_i^(l)||`` the normalization terms,
``rho_min = min r_i^(l)``, ``c`` init scale, ``g`` gains, ``U^(l)`` the unit-row directions, ``W^(l) = diag(g) U^(l)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from . import _checks, curvature
from .model import ACTIVATIONS, SMOOTH_ACTIVATIONS, PlainMLP, WeightNormMLP

# ---------------------------------------------------------------------------------------------------------------
# Activation constants (proved in book/A_proofs.md, "Activation constants"; checked on a grid in the tests)
# ---------------------------------------------------------------------------------------------------------------
_SQRT2 = math.sqrt(2.0)
_PDF_SQRT2 = math.exp(-1.0) / math.sqrt(2.0 * math.pi)          # standard normal density at sqrt(2)
_CDF_SQRT2 = 0.5 * (1.0 + math.erf(1.0))                         # standard normal cdf at sqrt(2)

ACTIVATION_CONSTANTS: dict[str, dict[str, float]] = {
    # beta1 = sup|phi'|, beta2 = sup|phi''|, phi0 = phi(0), odd = phi - phi(0) is an odd function
    "tanh": {"beta1": 1.0, "beta2": 4.0 / (3.0 * math.sqrt(3.0)), "phi0": 0.0, "odd": True},
    "sigmoid": {"beta1": 0.25, "beta2": 1.0 / (6.0 * math.sqrt(3.0)), "phi0": 0.5, "odd": True},
    "softplus": {"beta1": 1.0, "beta2": 0.25, "phi0": math.log(2.0), "odd": False},
    "gelu": {"beta1": _CDF_SQRT2 + _SQRT2 * _PDF_SQRT2, "beta2": math.sqrt(2.0 / math.pi), "phi0": 0.0,
             "odd": False},
}
"""``sup|phi'|`` (beta1), ``sup|phi''|`` (beta2), ``phi(0)`` and whether ``phi - phi(0)`` is odd, per smooth
activation. GELU: ``beta1 = Phi(sqrt2) + sqrt2 * phi_N(sqrt2) ~ 1.1289`` (attained at ``z = sqrt2``, so GELU is *not*
1-Lipschitz) and ``beta2 = 2 phi_N(0) = sqrt(2/pi) ~ 0.7979`` (attained at ``z = 0``)."""

SAFETY = 1.0 + 1e-9
"""Relative slack multiplied into the certified bounds to absorb float64 rounding in their evaluation."""

_D2U = 2.0 / math.sqrt(3.0)  # ||D^2 u(v)[h, h]|| <= (2/sqrt3) ||h||^2 / ||v||^2   (Lemma "normalization map")


def _check_model(model: nn.Module, what: str) -> WeightNormMLP:
    if isinstance(model, PlainMLP) or not isinstance(model, WeightNormMLP):
        raise TypeError(f"{what} accepts a wnlib.WeightNormMLP (the paper's WeightNorm network); got "
                        f"{type(model).__name__}. PlainMLP has no normalization terms and is outside this bound.")
    if model.activation not in SMOOTH_ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(map(repr, SMOOTH_ACTIVATIONS))} for {what} "
                         f"(bounded phi' and phi''); got {model.activation!r}. ReLU is outside the theory: "
                         "phi'' does not exist at 0.")
    return model


def _phi_derivs(name: str, z: torch.Tensor):
    """``phi(z), phi'(z), phi''(z)`` of the activation exactly as the model evaluates it (autograd, elementwise)."""
    with torch.enable_grad():
        z = z.detach().clone().requires_grad_(True)
        y = ACTIVATIONS[name](z)
        (d1,) = torch.autograd.grad(y.sum(), z, create_graph=True)
        (d2,) = torch.autograd.grad(d1.sum(), z, allow_unused=True)
    d2 = torch.zeros_like(z) if d2 is None else d2
    return y.detach(), d1.detach(), d2.detach()


def _trainable(t) -> bool:
    return isinstance(t, nn.Parameter) and t.requires_grad


def _layer_data(model: WeightNormMLP):
    """Per hidden layer, float64: W = diag(g) U, r (row norms of v), g, bias, and which of g / bias are in theta."""
    layers = []
    for layer in model.hidden:
        v = layer.v.detach().double()
        r = torch.linalg.vector_norm(v, dim=1)
        if bool((r == 0).any()):
            raise ValueError("v has a zero row: the normalization term ||v_i|| must be > 0")
        g = layer.g.detach().double()
        b = None if layer.bias is None else layer.bias.detach().double()
        layers.append({"W": g[:, None] * v / r[:, None], "r": r, "g": g, "b": b,
                       "g_trained": _trainable(layer.g), "b_trained": b is not None and _trainable(layer.bias)})
    return layers


@dataclass
class HessianBoundTerms:
    """The pieces of :func:`hessian_bound` for one input and one output (see book/A_proofs.md, Theorem H).

    ``bound = (A + sqrt(A^2 + 4 B^2)) / 2`` with ``A = A1 + A2 + A3`` (hidden-hidden curvature) and
    ``B = xi_L / sqrt(m)`` (hidden-output cross term)."""

    A1: float
    A2: float
    A3: float
    B: float
    bound: float
    kappa_max: float  # the largest Jacobian-product norm ||K_{j,l}|| used


def _bound_one(layers, name: str, x: torch.Tensor, Vcols: list, width: int, jacobians: str):
    """Theorem H for one input and every output column in ``Vcols`` (the Jacobian norms are shared)."""
    consts = ACTIVATION_CONSTANTS[name]
    L = len(layers)
    # forward pass: a_0 = x, z_l = W_l a_{l-1} + b_l, a_l = phi(z_l)
    a, d1, d2 = [x], [], []
    for lay in layers:
        z = lay["W"] @ a[-1] + (0.0 if lay["b"] is None else lay["b"])
        y, p1, p2 = _phi_derivs(name, z)
        a.append(y), d1.append(p1), d2.append(p2)
    # per-layer sensitivities: c_{l,i} = max(1[g trained], |g_i|/r_i), s_l = sqrt((max_i c_{l,i} ||a_{l-1}||)^2 + 1[b])
    c, s, lam = [], [], []
    for l, lay in enumerate(layers):
        ratio = lay["g"].abs() / lay["r"]
        ci = torch.clamp(ratio, min=1.0) if lay["g_trained"] else ratio
        c.append(ci)
        s.append(math.sqrt((float(ci.max()) * float(a[l].norm())) ** 2 + (1.0 if lay["b_trained"] else 0.0)))
        t = _D2U * lay["g"].abs() / lay["r"] ** 2
        lam.append((t + torch.sqrt(t ** 2 + 4.0 / lay["r"] ** 2)) / 2.0 if lay["g_trained"] else t)
    # Jacobian-product norms kappa[j][l] = ||K_{j,l}|| (dz_j/dz_l) and kappa_a[j][l] = ||D_j K_{j,l}|| (da_j/dz_l)
    kappa = [[0.0] * L for _ in range(L)]
    kappa_a = [[0.0] * L for _ in range(L)]
    if jacobians == "exact":
        for l in range(L):
            M = torch.eye(layers[l]["W"].shape[0], dtype=torch.float64)
            for j in range(l, L):
                if j == l:  # K_{l,l} = I
                    kappa[j][l], kappa_a[j][l] = 1.0, float(d1[j].abs().max())
                    continue
                M = layers[j]["W"] @ (d1[j - 1][:, None] * M)
                kappa[j][l] = float(torch.linalg.matrix_norm(M, 2))
                kappa_a[j][l] = float(torch.linalg.matrix_norm(d1[j][:, None] * M, 2))
    else:  # "product": ||K_{j,l}|| <= prod_{i=l+1}^{j} beta1 ||W_i||_2
        opn = [float(torch.linalg.matrix_norm(lay["W"], 2)) for lay in layers]
        for l in range(L):
            prod = 1.0
            for j in range(l, L):
                if j > l:
                    prod *= consts["beta1"] * opn[j]
                kappa[j][l] = prod
                kappa_a[j][l] = consts["beta1"] * prod
    zeta = [math.sqrt(sum((kappa[j][l] * s[l]) ** 2 for l in range(j + 1))) for j in range(L)]
    xi = [math.sqrt(sum((kappa_a[j][l] * s[l]) ** 2 for l in range(j + 1))) for j in range(L)]
    kmax = max(max(row) for row in kappa)
    results = []
    for Vc in Vcols:
        # backward vectors: b_L = V_c / sqrt(m), delta_l = phi'(z_l) * b_l, b_{l-1} = W_l^T delta_l
        bvec, delta = [None] * L, [None] * L
        bvec[L - 1] = Vc / math.sqrt(width)
        for l in range(L - 1, -1, -1):
            delta[l] = d1[l] * bvec[l]
            if l > 0:
                bvec[l - 1] = layers[l]["W"].T @ delta[l]
        A1 = sum(float((bvec[l] * d2[l]).abs().max()) * zeta[l] ** 2 for l in range(L))
        A2 = max(float(a[l].norm()) * float((delta[l].abs() * lam[l]).max()) for l in range(L))
        A3 = 2.0 * math.sqrt(sum((float((delta[l] * c[l]).norm()) * xi[l - 1]) ** 2 for l in range(1, L)))
        A = A1 + A2 + A3
        B = xi[L - 1] / math.sqrt(width)
        bound = SAFETY * (A + math.sqrt(A * A + 4.0 * B * B)) / 2.0
        results.append(HessianBoundTerms(A1=A1, A2=A2, A3=A3, B=B, bound=bound, kappa_max=kmax))
    return results


@torch.no_grad()
def hessian_bound(model: nn.Module, x: torch.Tensor, *, output: int | None = None, jacobians: str = "exact",
                  return_terms: bool = False):
    """Certified upper bound on ``||grad^2_theta f_c(theta; x_i)||_2`` for every input ``x_i`` (EXACT).

    One value per input of the batch ``x``; ``output=c`` takes coordinate ``c``, ``None`` the max over the ``k``
    outputs (as :func:`wnlib.predictor_hessian_norm`). ``theta`` is every trainable parameter: the directions
    ``v^(l)``, ``V``, and with ``gains="pytorch"`` the gains ``g^(l)`` (and biases, if any). Formula (Theorem H
    of book/A_proofs.md), in the book's symbols, at the current ``theta`` and ``x``::

        bound = (A + sqrt(A^2 + 4 B^2)) / 2,    B = xi_L / sqrt(m),    A = A1 + A2 + A3
        A1 = sum_l ||b_l * phi''(z_l)||_inf zeta_l^2
        A2 = max_l ||alpha^(l-1)|| max_i |delta_{l,i}| lambda_{l,i},   lambda = (2/sqrt3) |g_i| / r_i^2 (fixed gains)
        A3 = 2 sqrt( sum_{l>=2} (||delta_l * c_l|| xi_{l-1})^2 ),     c_{l,i} = |g_i| / r_i (fixed gains)
        zeta_j = sqrt(sum_{l<=j} ||K_{j,l}||^2 s_l^2),  xi_j = sqrt(sum_{l<=j} ||D_j K_{j,l}||^2 s_l^2),
        s_l = max_i c_{l,i} ||alpha^(l-1)||,   K_{j,l} = dz_j/dz_l = W_j D_{j-1} ... W_{l+1} D_l

    where ``b_l = df_c/dalpha^(l)`` and ``delta_l = df_c/dz_l`` (backpropagated vectors) and ``D_l = diag(phi'(z_l))``.
    With trainable gains ``c_{l,i} = max(1, |g_i|/r_i)`` and ``lambda`` is the top eigenvalue of
    ``[[0, 1/r], [1/r, (2/sqrt3)|g|/r^2]]``; a trainable bias adds 1 inside ``s_l^2``.

    ``jacobians="exact"`` uses the exact operator norms ``||K_{j,l}||_2`` at this input (certified, and they stay
    O(1)-O(sqrt L) in the networks of the book, so the bound grows polynomially -- about ``L^2`` -- in depth);
    ``jacobians="product"`` replaces them by ``prod_i beta1 ||diag(g) U^(i)||_2``, input-free but exponential in
    depth whenever ``beta1 max|g| ||U||_2 > 1`` (for random unit rows ``||U||_2 ~ 2``).

    Normalization terms: every term carries ``1/r`` (B) or ``1/r^2`` (A), so the bound decreases as the rows
    grow; with fixed gains, rescaling every row by ``t`` divides A by ``t^2`` and B by ``t``. Width: the bound is
    a worst case over directions and does **not** decay with ``m`` at fixed ``rho_min``; ``||alpha^(l)||`` grows like
    ``sqrt(m)``, which the ``1/sqrt(m)`` output scaling cancels, so at fixed ``rho_min`` and fixed ``||V_c||`` it is
    roughly width-independent (it grows with ``m`` if ``V`` entries are O(1), e.g. ``init_mode="c*sqrt(m)"``).
    Cost per input: ``L(L-1)`` dense ``m x m`` SVDs (about 0.1 s per input at ``m = 256, L = 3`` on a laptop CPU; use
    ``jacobians="product"`` or a few inputs for ``m >= 1024``). A relative slack ``SAFETY = 1 + 1e-9`` absorbs
    float64 rounding. ``return_terms=True`` also returns the
    :class:`HessianBoundTerms` (list per input, per output).

    Explained in: book/A_proofs.md (Theorem H).
    """
    model = _check_model(model, "hessian_bound")
    _checks.choice("jacobians", jacobians, ("exact", "product"))
    xb = curvature._as_batch(model, x).detach().double()
    outputs = curvature._output_indices(model, xb.to(next(model.parameters()).dtype), output)
    layers = _layer_data(model)
    V = model.V.detach().double()
    values, terms = [], []
    for xi in xb:
        per = _bound_one(layers, model.activation, xi, [V[:, cc] for cc in outputs], model.width, jacobians)
        values.append(max(t.bound for t in per))
        terms.append(per)
    out = torch.tensor(values, dtype=torch.float64)
    return (out, terms) if return_terms else out


# ---------------------------------------------------------------------------------------------------------------
# Optimization: smoothness, RSC certificate, predicted contraction
# ---------------------------------------------------------------------------------------------------------------
def smoothness(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, method: str = "lanczos") -> float:
    """``beta = lambda_max(grad^2_theta L(theta))``, the top (algebraic) eigenvalue of the square-loss Hessian on
    ``(x, y)`` (MEASURED; Lanczos, or ``method="dense"`` for tiny nets).

    Explained in: book/03_optimization.ipynb."""
    return curvature.loss_hessian_norm(model, x, y, method=method, which="LA")


def rsc_certificate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, kappa: float, *,
                    hessian: str = "lanczos") -> float:
    """``alpha_hat = 2 kappa^2 ||gbar||^2 - 2 sqrt(k) sqrt(L(theta)) max_{i,c} ||grad^2 f_c(theta; x_i)||_2``.

    ``||gbar||^2 = sum_c ||(1/n) sum_i grad f_c(theta; x_i)||^2`` (:func:`wnlib.gbar_sq`), ``k`` outputs, ``L`` the
    square loss ``(1/n) sum_i ||y_i - f(x_i)||^2``. Guarantee (Proposition R of book/A_proofs.md): for every
    direction ``Delta`` with ``||Gbar Delta|| >= kappa ||Gbar||_F ||Delta||`` (``Gbar`` the ``k x p`` matrix with rows
    ``gbar_c``; for ``k = 1`` this is ``|cos(Delta, gbar)| >= kappa``),
    ``Delta^T grad^2 L(theta) Delta >= alpha_hat ||Delta||^2``. For ``k = 1`` it is theory-notes section 4.5.

    ``hessian``: how ``max ||grad^2 f||`` is obtained -- ``"lanczos"`` (MEASURED), ``"dense"`` (exact, tiny nets),
    ``"bound"`` (:func:`hessian_bound`; then ``alpha_hat`` is a certified lower bound).

    Explained in: book/A_proofs.md (Proposition R), book/03_optimization.ipynb.
    """
    kappa = _checks.positive_float("kappa", kappa)
    if kappa > 1:
        raise ValueError(f"kappa must be in (0, 1] (a cosine), got {kappa!r}")
    _checks.choice("hessian", hessian, ("lanczos", "dense", "bound"))
    xb = curvature._as_batch(model, x)
    yb = y.to(xb)
    with torch.no_grad():
        loss = float(curvature.square_loss(model, xb, yb))
        k = model(xb[:1]).shape[-1]
    g2 = curvature.gbar_sq(model, xb)
    if hessian == "bound":
        hmax = float(hessian_bound(model, xb).max())
    else:
        hmax = float(curvature.predictor_hessian_norm(model, xb, method=hessian).max())
    return 2.0 * kappa ** 2 * g2 - 2.0 * math.sqrt(k) * math.sqrt(max(loss, 0.0)) * hmax


def predicted_contraction(alpha: float, beta: float, omega: float) -> float:
    """``1 - alpha * omega * (2 - omega) / beta``: the per-step loss factor predicted for gradient descent with
    step ``omega / beta`` under RSC (``alpha``) and smoothness (``beta``), ``omega in (0, 2)``.

    Explained in: book/03_optimization.ipynb."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)) or not math.isfinite(alpha):
        raise TypeError(f"alpha must be a finite number, got {alpha!r}")
    beta = _checks.positive_float("beta", beta)
    omega = _checks.positive_float("omega", omega)
    if not 0.0 < omega < 2.0:
        raise ValueError(f"omega must be in the open interval (0, 2), got {omega!r}")
    return 1.0 - float(alpha) * omega * (2.0 - omega) / beta


# ---------------------------------------------------------------------------------------------------------------
# Generalization
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class GeneralizationBound:
    """Result of :func:`generalization_bound`: ``value`` bounds ``E[loss] - (1/n) sum loss`` (clipped at ``B``)
    with probability ``>= 1 - delta``; ``vacuous`` when ``value >= B`` (no information: the gap never exceeds B)."""

    value: float
    vacuous: bool
    loss_bound: float
    rademacher: float          # bound on R_n(F_1), the Rademacher complexity of one output coordinate
    complexity_term: float     # 2 * Lip * k-factor * R_n(F_1)
    confidence_term: float     # B sqrt(log(1/delta) / (2n))
    log_rademacher: float
    constraints: dict = field(default_factory=dict)


def norm_constraints(model: nn.Module) -> dict:
    """The norm constraints the network at hand satisfies (the class F of Theorem G):

    ``gamma_1 = max_i |g_i^(1)|`` (first layer, unit rows in l2), ``gamma_l = max_i |g_i^(l)| ||u_i^(l)||_1`` for
    ``l >= 2`` (``u = v/||v||``; for random directions ``||u||_1 ~ sqrt(2m/pi)``, so these grow with width),
    ``nu = max_c ||V_c||_2``."""
    model = _check_model(model, "norm_constraints")
    gam = []
    for l, layer in enumerate(model.hidden):
        v = layer.v.detach().double()
        u = v / torch.linalg.vector_norm(v, dim=1, keepdim=True)
        g = layer.g.detach().double().abs()
        gam.append(float(g.max()) if l == 0 else float((g * u.abs().sum(dim=1)).max()))
    nu = float(torch.linalg.vector_norm(model.V.detach().double(), dim=0).max())
    return {"gamma": gam, "nu": nu}


def generalization_bound(model: nn.Module, n: int, delta: float, *, loss_bound: float = 1.0,
                         input_norm: float | None = None, gamma=None, nu: float | None = None
                         ) -> GeneralizationBound:
    """Uniform-convergence bound for the clipped square loss over the WeightNorm class (EXACT, Theorem G).

    With probability ``>= 1 - delta`` over ``n`` i.i.d. samples, every ``f`` in the class
    ``F = {depth L, activation phi, |g^(1)_i| <= gamma_1, |g_i^(l)| ||u_i^(l)||_1 <= gamma_l (l >= 2),
    ||V_c|| <= nu, ||x|| <= X}`` (no biases; any width) satisfies, for the loss ``min(||y - f(x)||^2, B)``::

        E loss - (1/n) sum_i loss_i  <=  2 * Lip_k * nu * t_L / sqrt(n)  +  B sqrt(log(1/delta) / (2n))
        t_0 = X,   t_l = |phi(0)| + c_phi * beta1 * gamma_l * t_{l-1}
        Lip_1 = 2 sqrt(B),   Lip_k = 2 sqrt(2) sqrt(B) k  (k > 1, by the vector-contraction inequality)

    ``c_phi = 1`` when ``phi - phi(0)`` is odd (tanh, sigmoid), ``2`` otherwise (softplus, GELU): a proof artefact
    that makes the bound exponential in depth for those two. ``t_L`` is computed in log space. The bound does
    not contain the width ``m``: at equal ``gamma``, ``nu`` it is the same for every width (the norms themselves
    grow with ``m``; see :func:`norm_constraints`). It is vacuous (``value >= B``) for every network of the book
    with realistic ``n``; the paper (informal) states ``O(sqrt(L/n))`` under its own constants.

    ``gamma``, ``nu`` default to the model's current values (:func:`norm_constraints`); ``input_norm`` ``X``
    defaults to ``sqrt(d)`` (inputs on the sphere).

    Explained in: book/A_proofs.md (Theorem G), book/04_generalization.ipynb.
    """
    model = _check_model(model, "generalization_bound")
    if any(layer.bias is not None for layer in model.hidden):
        raise ValueError("generalization_bound covers networks without biases (bias=False); got bias=True")
    n = _checks.positive_int("n", n)
    delta = _checks.positive_float("delta", delta)
    if not delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    B = _checks.positive_float("loss_bound", loss_bound)
    X = math.sqrt(model.d_in) if input_norm is None else _checks.positive_float("input_norm", input_norm)
    measured = norm_constraints(model)
    if gamma is None:
        gamma = measured["gamma"]
    gamma = [float(gv) for gv in (gamma if isinstance(gamma, (list, tuple, np.ndarray)) else [gamma] * model.depth)]
    if len(gamma) != model.depth:
        raise ValueError(f"gamma must have one entry per hidden layer (depth={model.depth}), got {len(gamma)}")
    for gv in gamma:
        _checks.positive_float("gamma", gv)
    nu = measured["nu"] if nu is None else _checks.positive_float("nu", nu)
    const = ACTIVATION_CONSTANTS[model.activation]
    c_phi = 1.0 if const["odd"] else 2.0
    log_phi0 = math.log(abs(const["phi0"])) if const["phi0"] != 0 else -math.inf
    log_t = math.log(X)
    for gv in gamma:
        log_t = float(np.logaddexp(log_phi0, math.log(c_phi * const["beta1"] * gv) + log_t))
    k = model.d_out
    lip = 2.0 * math.sqrt(B) * (1.0 if k == 1 else math.sqrt(2.0) * k)
    log_rad = math.log(nu) + log_t - 0.5 * math.log(n)
    log_complexity = math.log(2.0 * lip) + log_rad
    confidence = B * math.sqrt(math.log(1.0 / delta) / (2.0 * n))
    complexity = math.exp(log_complexity) if log_complexity < 700 else math.inf
    value = complexity + confidence
    return GeneralizationBound(value=value, vacuous=bool(value >= B), loss_bound=B,
                               rademacher=math.exp(log_rad) if log_rad < 700 else math.inf,
                               complexity_term=complexity, confidence_term=confidence, log_rademacher=log_rad,
                               constraints={"gamma": gamma, "nu": nu, "X": X, "c_phi": c_phi, "k": k})


@torch.no_grad()
def generalization_gap(model: nn.Module, x_train, y_train, x_test, y_test, *, loss_bound: float | None = None):
    """MEASURED: ``test loss - train loss`` of the square loss (clipped at ``loss_bound`` when given, to compare
    with :func:`generalization_bound`). Returns ``(gap, train_loss, test_loss)``.

    Explained in: book/04_generalization.ipynb."""
    def loss(x, y):
        ref = curvature.parameters(model)[0]
        x = x.to(ref)
        out = model(x)
        per = (out - y.to(out).reshape(out.shape)).pow(2).sum(-1)
        if loss_bound is not None:
            per = per.clamp(max=_checks.positive_float("loss_bound", loss_bound))
        return float(per.mean())
    tr, te = loss(x_train, y_train), loss(x_test, y_test)
    return te - tr, tr, te


# ---------------------------------------------------------------------------------------------------------------
# The paper's informal shapes, with a fitted constant
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class ScalingFit:
    """``values = constant * shape``; ``label`` says the constant was fitted (never the paper's)."""

    values: np.ndarray
    shape: np.ndarray
    constant: float
    label: str


def paper_scaling(kind: str, *, width=None, depth=None, rho_min=None, n=None, measured=None) -> ScalingFit:
    """The paper's informal shapes (PAPER), for overlays: ``kind="hessian"``: ``C * L^3 / (sqrt(m) * rho_min)``;
    ``kind="generalization"``: ``C * sqrt(L / n)``. Arguments broadcast (numpy).

    With ``measured`` (same shape), ``C`` is fitted by least squares in log space,
    ``log C = mean(log measured - log shape)``, and labelled "fitted constant, not the paper's"; without it
    ``C = 1`` ("shape only"). The paper's own constants are not available to us.

    Explained in: book/02_hessian.ipynb, book/04_generalization.ipynb.
    """
    _checks.choice("kind", kind, ("hessian", "generalization"))
    needed = {"hessian": {"width": width, "depth": depth, "rho_min": rho_min},
              "generalization": {"depth": depth, "n": n}}[kind]
    for name, val in needed.items():
        if val is None:
            raise ValueError(f"paper_scaling(kind={kind!r}) needs {name}")
        arr = np.asarray(val, dtype=float)
        if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise ValueError(f"{name} must be finite and > 0, got {val!r}")
    if kind == "hessian":
        shape = np.asarray(depth, float) ** 3 / (np.sqrt(np.asarray(width, float)) * np.asarray(rho_min, float))
        form = "C L^3 / (sqrt(m) rho_min)"
    else:
        shape = np.sqrt(np.asarray(depth, float) / np.asarray(n, float))
        form = "C sqrt(L / n)"
    if measured is None:
        return ScalingFit(values=shape, shape=shape, constant=1.0, label=f"paper shape {form}, C = 1 (shape only)")
    meas = np.asarray(measured, dtype=float)
    if meas.shape != np.broadcast_shapes(meas.shape, shape.shape) or np.any(~np.isfinite(meas)) or np.any(meas <= 0):
        raise ValueError("measured must be finite, > 0, and broadcast with the shape arguments")
    shape = np.broadcast_to(shape, meas.shape)
    const = float(np.exp(np.mean(np.log(meas) - np.log(shape))))
    return ScalingFit(values=const * shape, shape=shape, constant=const,
                      label=f"paper shape {form}, C = {const:.3g} fitted constant, not the paper's")
