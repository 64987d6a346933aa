"""Generalization: the uniform-convergence bound of the appendix (A.6) beside the
measured gap.

Explained in: book/A_proofs.md (A.6) and book/04_generalization.ipynb.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .. import _checks
from ..quantities import check_eval_mode, square_errors, to_batch
from ..model import ACTIVATIONS
from .constants import ACTIVATION_CONSTANTS
from .scope import check_model


@dataclass
class GeneralizationBound:
    """Result of :func:`generalization_bound`: ``value`` bounds
    ``E[loss] - (1/n) sum loss`` (clipped at ``B``) with probability
    ``>= 1 - delta``; ``vacuous`` when ``value >= B`` (no information: the gap never
    exceeds B)."""

    value: float
    vacuous: bool
    loss_bound: float
    rademacher: (
        float  # bound on R_n(F_1), the Rademacher complexity of one output coordinate
    )
    complexity_term: float  # 2 * Lip * k-factor * R_n(F_1)
    confidence_term: float  # B sqrt(log(1/delta) / (2n))
    log_rademacher: float
    constraints: dict = field(default_factory=dict)


def norm_constraints(model: nn.Module) -> dict:
    """The norm constraints the network at hand satisfies (the class F of appendix A.6):

    ``gamma_1 = max_i |g_i^(1)|`` (first layer, unit rows in l2),
    ``gamma_l = max_i |g_i^(l)| ||u_i^(l)||_1`` for ``l >= 2`` (``u = v/||v||``; for the
    book's uniform init ``||u||_1`` is about ``(sqrt3/2) sqrt(m)``, so these grow
    with width), ``nu = max_c ||V_c||_2``."""
    return _norm_constraints(check_model(model, "norm_constraints"))


def _norm_constraints(model: nn.Module) -> dict:
    """:func:`norm_constraints` of a model the caller has checked."""
    gam = []
    for l, layer in enumerate(model.hidden):
        v = layer.v.detach().double()
        u = v / torch.linalg.vector_norm(v, dim=1, keepdim=True)
        g = layer.g.detach().double().abs()
        gam.append(float(g.max()) if l == 0 else float((g * u.abs().sum(dim=1)).max()))
    nu = float(torch.linalg.vector_norm(model.V.detach().double(), dim=0).max())
    return {"gamma": gam, "nu": nu}


def generalization_bound(
    model: nn.Module,
    n: int,
    delta: float,
    *,
    loss_bound: float = 1.0,
    input_norm: float | None = None,
    gamma=None,
    nu: float | None = None,
) -> GeneralizationBound:
    """Uniform-convergence bound for the clipped square loss over the WeightNorm class
    (EXACT, appendix A.6).

    With probability ``>= 1 - delta`` over ``n`` i.i.d. samples, every ``f`` in the
    class ``F = {depth L, activation phi, |g^(1)_i| <= gamma_1, |g_i^(l)| ||u_i^(l)||_1
    <= gamma_l (l >= 2), ||V_c|| <= nu, ||x|| <=
    X}`` (no biases; any width) satisfies, for the loss ``min(||y - f(x)||^2, B)``::

        E loss - (1/n) sum_i loss_i  <=  2 * Lip_k * nu * t_L / sqrt(n)  +
            B sqrt(log(1/delta) / (2n))
        t_0 = X,   t_l = |phi(0)| + c_phi * beta1 * gamma_l * t_{l-1}
        Lip_1 = 2 sqrt(B),   Lip_k = 2 sqrt(2) sqrt(B) k
            (k > 1, by the vector-contraction inequality)

    ``c_phi = 1`` when ``phi - phi(0)`` is odd (tanh, sigmoid), ``2`` otherwise
    (softplus, GELU): a proof artefact that makes the bound exponential in depth for
    those two. ``t_L`` is computed in log space. The bound does not contain the width
    ``m``: at equal ``gamma``, ``nu`` it is the same for every width (the norms
    themselves grow with ``m``; see :func:`norm_constraints`). It is vacuous
    (``value >= B``) for every network of the book with realistic ``n``; the paper
    (informal) states ``O(sqrt(L/n))`` under its own constants.

    ``gamma``, ``nu`` default to the model's current values (:func:`norm_constraints`);
    ``input_norm`` ``X`` defaults to ``sqrt(d)`` (inputs on the sphere).

    Explained in: book/A_proofs.md (A.6), book/04_generalization.ipynb.
    """
    model = check_model(model, "generalization_bound")
    if any(layer.bias is not None for layer in model.hidden):
        raise ValueError(
            "generalization_bound covers networks without biases (bias=False); got "
            "bias=True"
        )
    n = _checks.positive_int("n", n)
    delta = _checks.positive_float("delta", delta)
    if not delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    B = _checks.positive_float("loss_bound", loss_bound)
    X = (
        math.sqrt(model.d_in)
        if input_norm is None
        else _checks.positive_float("input_norm", input_norm)
    )
    measured = _norm_constraints(model)
    if gamma is None:
        gamma = measured["gamma"]
    gamma = (
        list(gamma)
        if isinstance(gamma, (list, tuple, np.ndarray))
        else [gamma] * model.depth
    )
    if len(gamma) != model.depth:
        raise ValueError(
            f"gamma must have one entry per hidden layer (depth={model.depth}), got "
            f"{len(gamma)}"
        )
    gamma = [_checks.positive_float("gamma", gv) for gv in gamma]
    nu = measured["nu"] if nu is None else _checks.positive_float("nu", nu)
    const = ACTIVATION_CONSTANTS[model.activation]
    c_phi = 1.0 if const["odd"] else 2.0
    log_phi0 = math.log(abs(const["phi0"])) if const["phi0"] != 0 else -math.inf
    log_t = math.log(X)
    for gv in gamma:
        log_t = float(
            np.logaddexp(log_phi0, math.log(c_phi * const["beta1"] * gv) + log_t)
        )
    k = model.d_out
    lip = 2.0 * math.sqrt(B) * (1.0 if k == 1 else math.sqrt(2.0) * k)
    log_rad = math.log(nu) + log_t - 0.5 * math.log(n)
    log_complexity = math.log(2.0 * lip) + log_rad
    confidence = B * math.sqrt(math.log(1.0 / delta) / (2.0 * n))
    complexity = math.exp(log_complexity) if log_complexity < 700 else math.inf
    value = complexity + confidence
    return GeneralizationBound(
        value=value,
        vacuous=bool(value >= B),
        loss_bound=B,
        rademacher=math.exp(log_rad) if log_rad < 700 else math.inf,
        complexity_term=complexity,
        confidence_term=confidence,
        log_rademacher=log_rad,
        constraints={"gamma": gamma, "nu": nu, "X": X, "c_phi": c_phi, "k": k},
    )


@torch.no_grad()
def generalization_gap(
    model: nn.Module,
    x_train,
    y_train,
    x_test,
    y_test,
    *,
    loss_bound: float | None = None,
):
    """MEASURED: ``test loss - train loss`` of the square loss (clipped at
    ``loss_bound`` when given, to compare with :func:`generalization_bound`). Returns
    ``(gap, train_loss, test_loss)``.

    Explained in: book/04_generalization.ipynb."""
    for name, t in (("x_train", x_train), ("x_test", x_test)):
        _checks.tensor(name, t, dim=(2,), nonempty=True)
    for (nx, x), (ny, y) in (
        (("x_train", x_train), ("y_train", y_train)),
        (("x_test", x_test), ("y_test", y_test)),
    ):
        _checks.tensor(ny, y, dim=(1, 2))
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"{nx} has {x.shape[0]} rows but {ny} has {y.shape[0]}")
        _checks.finite_tensor(nx, x)
        _checks.finite_tensor(ny, y)
    if loss_bound is not None:
        loss_bound = _checks.positive_float("loss_bound", loss_bound)
    check_eval_mode(model)

    def loss(x, y):
        xb = to_batch(model, x)
        per = square_errors(model(xb), y.to(xb))
        if loss_bound is not None:
            per = per.clamp(max=loss_bound)
        return float(per.mean())

    tr, te = loss(x_train, y_train), loss(x_test, y_test)
    return te - tr, tr, te


def bound_vs_gap(model: nn.Module, data, *, delta: float, loss_bound: float) -> dict:
    """For a trained ``model`` on ``data`` (a :class:`wnlib.Dataset`): the measured gap
    (clipped at ``B``) beside the certified :func:`generalization_bound` at the
    network's own norms, in one dict (``train_loss``, ``test_loss``, ``gap``, ``bound``,
    ``ratio`` = bound / gap, ``vacuous``, ``gamma_last``, ``nu``).

    Explained in: book/04_generalization.ipynb."""
    gap, train_loss, test_loss = generalization_gap(
        model,
        data.x_train,
        data.y_train,
        data.x_test,
        data.y_test,
        loss_bound=loss_bound,
    )
    gb = generalization_bound(model, n=data.n_train, delta=delta, loss_bound=loss_bound)
    return dict(
        train_loss=train_loss,
        test_loss=test_loss,
        gap=gap,
        bound=gb.value,
        ratio=gb.value / gap,
        vacuous=gb.vacuous,
        gamma_last=gb.constraints["gamma"][-1],
        nu=gb.constraints["nu"],
    )


def rademacher_lower_estimate(
    x: torch.Tensor,
    sigma: torch.Tensor,
    width: int,
    gamma,
    *,
    nu: float = 1.0,
    activation: str = "tanh",
    steps: int = 300,
    lr: float = 0.05,
    seed: int = 0,
) -> float:
    """MEASURED lower estimate of the empirical Rademacher complexity of the class of
    appendix A.6 for one sign vector: ``sup_f (1/n) sum_i sigma_i f(x_i)`` over networks
    of width ``width`` and depth ``len(gamma)``, approached from below by ``steps`` Adam
    steps (any network found is in the class, so the value is a lower bound on the
    supremum; averaged over sign draws it estimates ``R_n`` from below).

    The class: first-layer rows with ``||w||_2 <= gamma_1``, later rows with
    ``||w||_1 <= gamma_l``, output ``f = V^T alpha^(L) / sqrt(m)`` with ``||V|| <= nu``,
    whose best choice gives ``nu ||s|| / sqrt(m)``,
    ``s = (1/n) sum_i sigma_i alpha^(L)(x_i)``. The ascent runs in the dtype of ``x``
    (float64 for results that must not depend on the machine) from a start drawn in
    float64. Explained in: book/04_generalization.ipynb.
    """
    gamma = [_checks.positive_float("gamma", g) for g in gamma]
    phi = ACTIVATIONS[_checks.choice("activation", activation, tuple(ACTIVATIONS))]
    gen = torch.Generator().manual_seed(_checks.seed("seed", seed))
    draw = lambda *shape: torch.randn(*shape, generator=gen, dtype=torch.float64).to(
        x.dtype
    )  # noqa: E731
    sigma = sigma.to(x.dtype)
    free = [draw(width, x.shape[1]).requires_grad_()]
    free += [draw(width, width).requires_grad_() for _ in gamma[1:]]
    opt = torch.optim.Adam(free, lr=lr)
    for _ in range(_checks.positive_int("steps", steps)):
        a = x
        for l, (w, g) in enumerate(zip(free, gamma)):
            norm = (
                w.norm(dim=1, keepdim=True) if l == 0 else w.abs().sum(1, keepdim=True)
            )
            a = phi(
                a @ (g * w / norm.clamp(min=1)).T
            )  # rows scaled into the constraint set
        value = nu * (sigma @ a / len(sigma)).norm() / width**0.5
        opt.zero_grad()
        (-value).backward()
        opt.step()
    return value.item()


def gap_at_training_loss(
    train_loss, gap, levels, *, window: float = 1.25
) -> tuple[np.ndarray, np.ndarray]:
    """Read a training path at matched training losses: for each ``level``, the mean of
    ``gap`` over the steps whose training loss lies in
    ``[level / window, level * window]``, and how many steps that is.

    Returns ``(means, counts)``, one entry per level; ``mean`` is NaN where no step
    falls in the window (the path never came near that level). A window of a factor 1.25
    both ways averages over the oscillation of gradient descent at a large step instead
    of resting on one step. Explained in: book/04_generalization.ipynb.
    """
    train_loss = np.asarray(train_loss, dtype=float)
    gap = np.asarray(gap, dtype=float)
    if train_loss.shape != gap.shape or train_loss.ndim != 1:
        raise ValueError(
            f"train_loss and gap must be 1-d of one length, got shapes "
            f"{train_loss.shape} and {gap.shape}"
        )
    window = _checks.positive_float("window", window)
    if window <= 1:
        raise ValueError(
            f"window must be a factor > 1 (the band is [level / window, level * "
            f"window]), got {window}"
        )
    levels = [_checks.positive_float("levels", lv) for lv in np.atleast_1d(levels)]
    means, counts = [], []
    for level in levels:
        rows = (train_loss >= level / window) & (train_loss <= level * window)
        counts.append(int(rows.sum()))
        means.append(float(gap[rows].mean()) if rows.any() else math.nan)
    return np.array(means), np.array(counts)
