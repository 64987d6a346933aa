"""The certified Hessian bound (appendix A.4, "Certified predictor-Hessian bound") and
the last-layer floor (chapter 2).

Explained in: book/A_proofs.md (A.4, the certified predictor-Hessian bound),
book/02_hessian.ipynb ("A floor that the width cannot remove"). Symbols: ``m`` width,
``L`` depth, ``k`` outputs, ``r_i^(l) = ||v_i^(l)||`` the normalization terms,
``rho_min = min r_i^(l)``, ``c`` init scale, ``g`` gains, ``U^(l)`` the unit-row
directions, ``W^(l) = diag(g) U^(l)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .. import _checks
from ..model import WeightNormMLP, phi_derivs
from ..quantities import as_batch, output_indices
from .constants import ACTIVATION_CONSTANTS, D2U, SAFETY
from .scope import check_model


def _trainable(t) -> bool:
    return isinstance(t, nn.Parameter) and t.requires_grad


def _layer_data(model: WeightNormMLP):
    """Per hidden layer, float64: W = diag(g) U, r (row norms of v), g, bias, and
    which of g / bias are in theta."""
    layers = []
    for layer in model.hidden:
        v = layer.v.detach().double()
        r = torch.linalg.vector_norm(v, dim=1)
        if bool((r == 0).any()):
            raise ValueError(
                "v has a zero row: the normalization term ||v_i|| must be > 0"
            )
        g = layer.g.detach().double()
        b = None if layer.bias is None else layer.bias.detach().double()
        layers.append(
            {
                "W": g[:, None] * v / r[:, None],
                "r": r,
                "g": g,
                "b": b,
                "g_trained": _trainable(layer.g),
                "b_trained": b is not None and _trainable(layer.bias),
            }
        )
    return layers


@dataclass
class HessianBoundTerms:
    """The pieces of :func:`hessian_bound` for one input and one output (see
    book/A_proofs.md, A.4).

    ``bound = (A + sqrt(A^2 + 4 B^2)) / 2`` with ``A = A1 + A2 + A3`` (hidden-hidden
    curvature) and ``B = xi_L / sqrt(m)`` (hidden-output cross term)."""

    A1: float
    A2: float
    A3: float
    B: float
    bound: float
    kappa_max: float  # the largest Jacobian-product norm ||K_{j,l}|| used


def _bound_one(
    layers, name: str, x: torch.Tensor, Vcols: list, width: int, jacobians: str
):
    """The bound of appendix A.4 for one input and every output column in ``Vcols``
    (the Jacobian norms are shared)."""
    consts = ACTIVATION_CONSTANTS[name]
    L = len(layers)
    # forward pass: a_0 = x, z_l = W_l a_{l-1} + b_l, a_l = phi(z_l)
    a, d1, d2 = [x], [], []
    for lay in layers:
        z = lay["W"] @ a[-1] + (0.0 if lay["b"] is None else lay["b"])
        y, p1, p2 = phi_derivs(name, z)
        a.append(y), d1.append(p1), d2.append(p2)
    # per-layer sensitivities: c_{l,i} = max(1[g trained], |g_i|/r_i), s_l = sqrt((max_i
    # c_{l,i} ||a_{l-1}||)^2 + 1[b])
    c, s, lam = [], [], []
    for l, lay in enumerate(layers):
        ratio = lay["g"].abs() / lay["r"]
        ci = torch.clamp(ratio, min=1.0) if lay["g_trained"] else ratio
        c.append(ci)
        s.append(
            math.sqrt(
                (float(ci.max()) * float(a[l].norm())) ** 2
                + (1.0 if lay["b_trained"] else 0.0)
            )
        )
        t = D2U * lay["g"].abs() / lay["r"] ** 2
        lam.append(
            (t + torch.sqrt(t**2 + 4.0 / lay["r"] ** 2)) / 2.0
            if lay["g_trained"]
            else t
        )
    # Jacobian-product norms kappa[j][l] = ||K_{j,l}|| (dz_j/dz_l) and kappa_a[j][l] =
    # ||D_j K_{j,l}|| (da_j/dz_l)
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
    zeta = [
        math.sqrt(sum((kappa[j][l] * s[l]) ** 2 for l in range(j + 1)))
        for j in range(L)
    ]
    xi = [
        math.sqrt(sum((kappa_a[j][l] * s[l]) ** 2 for l in range(j + 1)))
        for j in range(L)
    ]
    kmax = max(max(row) for row in kappa)
    results = []
    for Vc in Vcols:
        # backward vectors: b_L = V_c / sqrt(m), delta_l = phi'(z_l) * b_l, b_{l-1} =
        # W_l^T delta_l
        bvec, delta = [None] * L, [None] * L
        bvec[L - 1] = Vc / math.sqrt(width)
        for l in range(L - 1, -1, -1):
            delta[l] = d1[l] * bvec[l]
            if l > 0:
                bvec[l - 1] = layers[l]["W"].T @ delta[l]
        A1 = sum(float((bvec[l] * d2[l]).abs().max()) * zeta[l] ** 2 for l in range(L))
        A2 = max(
            float(a[l].norm()) * float((delta[l].abs() * lam[l]).max())
            for l in range(L)
        )
        A3 = 2.0 * math.sqrt(
            sum((float((delta[l] * c[l]).norm()) * xi[l - 1]) ** 2 for l in range(1, L))
        )
        A = A1 + A2 + A3
        B = xi[L - 1] / math.sqrt(width)
        bound = SAFETY * (A + math.sqrt(A * A + 4.0 * B * B)) / 2.0
        results.append(
            HessianBoundTerms(A1=A1, A2=A2, A3=A3, B=B, bound=bound, kappa_max=kmax)
        )
    return results


@torch.no_grad()
def hessian_bound(
    model: nn.Module,
    x: torch.Tensor,
    *,
    output: int | None = None,
    jacobians: str = "exact",
    return_terms: bool = False,
):
    """Certified upper bound on ``||grad^2_theta f_c(theta; x_i)||_2`` for every input
    ``x_i`` (EXACT).

    One value per input of the batch ``x``; ``output=c`` takes coordinate ``c``,
    ``None`` the max over the ``k`` outputs (as :func:`wnlib.predictor_hessian_norm`).
    ``theta`` is every trainable parameter: the directions ``v^(l)``, ``V``, and with
    ``gains="pytorch"`` the gains ``g^(l)`` (and biases, if any). Formula (the certified
    predictor-Hessian bound ``thm-hessian``, section A.4 of book/A_proofs.md), in the
    appendix's symbols, at the current ``theta`` and ``x``::

        bound = (A + sqrt(A^2 + 4 B^2)) / 2,    B = xi_L / sqrt(m),    A = A1 + A2 + A3
        A1 = sum_l ||chi_l * phi''(z_l)||_inf zeta_l^2
        A2 = max_l ||alpha^(l-1)|| max_i |delta_{l,i}| lambda_{l,i},
            lambda_{l,i} = (2/sqrt3)|g_i|/r_i^2 (fixed gains)
        A3 = 2 sqrt( sum_{l>=2} (||delta_l * tau_l|| xi_{l-1})^2 ),
            tau_{l,i} = |g_i| / r_i (fixed gains)
        zeta_j = sqrt(sum_{l<=j} Gamma_{j,l}^2 s_l^2),
            xi_j = sqrt(sum_{l<=j} Gamma'_{j,l}^2 s_l^2),
        s_l = max_i tau_{l,i} ||alpha^(l-1)||,
            K_{j,l} = dz_j/dz_l = W_j D_{j-1} ... W_{l+1} D_l

    where ``chi_l = df_c/dalpha^(l)`` and ``delta_l = df_c/dz_l`` are the backpropagated
    vectors (``chi_L = V_c / sqrt(m)``; ``b_l`` is reserved for the bias),
    ``D_l = diag(phi'(z_l))``, and ``Gamma_{j,l} >= ||K_{j,l}||_2``,
    ``Gamma'_{j,l} >= ||D_j K_{j,l}||_2``. With trainable gains
    ``tau_{l,i} = max(1, |g_i|/r_i)`` and ``lambda_{l,i}`` is the top eigenvalue of
    ``[[0, 1/r], [1/r, (2/sqrt3)|g|/r^2]]``; a trainable bias adds 1 inside ``s_l^2``.

    ``jacobians="exact"`` uses the exact operator norms ``Gamma_{j,l} = ||K_{j,l}||_2``
    at this input (certified; measured to stay O(1)-O(sqrt L) in the networks of the
    book, so the bound grows polynomially -- about ``L^2`` -- in depth there);
    ``jacobians="product"`` replaces the Jacobian norms, and only them, by the
    input-free products ``prod_i beta1 ||diag(g) U^(i)||_2`` (every other term still
    uses the activations and backpropagated vectors at ``x``), which are exponential in
    depth whenever ``beta1 max|g| ||U||_2 > 1`` (for a square layer with random unit
    rows ``||U||_2 ~ 2``).

    Normalization terms: every term carries ``1/r`` (B) or ``1/r^2`` (A), so the bound
    decreases as the rows grow; with fixed gains, rescaling every row by ``t`` divides A
    by ``t^2`` and B by ``t``. Along SGD only these ``1/r`` factors are monotone: V, the
    activations and the Jacobians move, so a value at ``theta_0`` is no bound at
    ``theta_t``. Width: the bound is a worst case over directions and has no factor that
    decays with ``m`` at fixed row norms; ``||alpha^(l)||`` grows like ``sqrt(m)``,
    which the ``1/sqrt(m)`` output scaling balances, so at fixed ``rho_min`` and fixed
    ``||V_c||`` it is roughly width-independent (a heuristic, not a theorem), and it
    grows like ``sqrt(m)`` if the rows are fixed while the entries of ``V`` are O(1).
    With fixed gains and no biases, scaling every hidden row and ``V`` by ``t`` divides
    the bound by exactly ``t``; ``init_mode="c*sqrt(m)"`` draws every weight, ``V``
    included (entries of order ``sqrt(m)``), ``m`` times larger than ``"c/sqrt(m)"``
    with the same seed, so its bound is exactly ``1/m`` times that network's. Cost per
    input: ``L(L-1)`` dense ``m x m`` SVDs (use ``jacobians="product"`` or a few inputs
    for large ``m``). A relative slack ``SAFETY = 1 + 1e-9`` absorbs float64 rounding.
    ``return_terms=True`` also returns the :class:`HessianBoundTerms` (list per input,
    per output).

    Explained in: book/A_proofs.md (section A.4, ``thm-hessian``).
    """
    model = check_model(model, "hessian_bound")
    _checks.choice("jacobians", jacobians, ("exact", "product"))
    xb = as_batch(model, x)
    values, terms = hessian_bound_unchecked(
        model, xb, output_indices(model, xb, output), jacobians
    )
    return (values, terms) if return_terms else values


@torch.no_grad()
def hessian_bound_unchecked(
    model: WeightNormMLP, xb: torch.Tensor, outputs: list[int], jacobians: str
) -> tuple[torch.Tensor, list[list[HessianBoundTerms]]]:
    """:func:`hessian_bound` of the batch ``xb``, max over the coordinates ``outputs``
    (all arguments checked by the caller), with its :class:`HessianBoundTerms` per
    input and output."""
    layers = _layer_data(model)
    V = model.V.detach().double()
    values, terms = [], []
    for xi in xb.detach().double():
        per = _bound_one(
            layers,
            model.activation,
            xi,
            [V[:, cc] for cc in outputs],
            model.width,
            jacobians,
        )
        values.append(max(t.bound for t in per))
        terms.append(per)
    return torch.tensor(values, dtype=torch.float64), terms


@torch.no_grad()
def hessian_floor(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Lower bound on ``||grad^2_theta f_c(theta; x)||_2`` for every input of ``x`` and
    every output ``c`` (EXACT; the last-layer floor of book/02_hessian.ipynb)::

        floor = max_i |phi'(z_i^(L))| |g_i| ||P_i alpha^(L-1)|| / (r_i sqrt(m)),
            P_i = I - u_i u_i^T

    Proof: the Hessian's column at the output weight ``V_ic`` is zero in the ``V`` block
    and equals
    ``d^2 f_c / dV_ic dv_i^(L) = phi'(z_i) g_i P_i alpha^(L-1) / (r_i sqrt(m))`` in the
    ``v_i^(L)`` block, so its norm is at least the norm of that block, and
    ``||H|| >= ||H e||`` for every unit ``e``. The floor does not decay with the width
    at fixed row norms once ``||alpha^(L-1)||`` grows like ``sqrt(m)``.
    """
    model = check_model(model, "hessian_floor")
    a = as_batch(model, x).detach().double()
    layers = _layer_data(model)
    for layer in layers:
        z = a @ layer["W"].T + (0.0 if layer["b"] is None else layer["b"])
        if layer is layers[-1]:
            break
        a = phi_derivs(model.activation, z)[0]
    last = layers[-1]
    u = model.hidden[-1].v.detach().double() / last["r"][:, None]
    ua = a @ u.T
    pa = (
        (a.pow(2).sum(-1, keepdim=True) - ua**2).clamp(min=0).sqrt()
    )  # ||P_i alpha^(L-1)||
    dphi = phi_derivs(model.activation, z)[1].abs()
    return (
        (dphi * last["g"].abs() * pa / (last["r"] * math.sqrt(model.width)))
        .max(dim=-1)
        .values
    )
