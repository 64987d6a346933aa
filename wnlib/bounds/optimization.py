"""Optimization: smoothness, the RSC certificate, gradient descent with step
``omega / beta_t``, contraction.

Explained in: book/03_optimization.ipynb and book/A_proofs.md (A.5, the pointwise RSC
certificate).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .. import _checks
from ..quantities import (
    as_batch,
    gbar_unchecked,
    loss_hessian_norm,
    loss_operator_unchecked,
    predictor_hessian_norm_unchecked,
    square_loss,
)
from .hessian import hessian_bound_unchecked
from .scope import check_model


def smoothness(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, method: str = "lanczos"
) -> float:
    """``beta = lambda_max(grad^2_theta L(theta))``, the top (algebraic) eigenvalue of
    the square-loss Hessian on ``(x, y)`` (MEASURED; Lanczos, or ``method="dense"`` for
    tiny nets).

    Explained in: book/03_optimization.ipynb."""
    return loss_hessian_norm(model, x, y, method=method, which="LA")


def rsc_certificate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    kappa: float,
    *,
    hessian: str = "lanczos",
) -> float:
    """``alpha_hat = 2 kappa^2 ||gbar||^2 - 2 sqrt(k) sqrt(L(theta)) max_{i,c} ||grad^2
    f_c(theta; x_i)||_2``.

    ``||gbar||^2 = sum_c ||(1/n) sum_i grad f_c(theta; x_i)||^2``
    (:func:`wnlib.gbar_sq`), ``k`` outputs, ``L`` the square loss
    ``(1/n) sum_i ||y_i - f(x_i)||^2``. Guarantee (appendix A.5, the pointwise RSC
    certificate): for every direction ``Delta`` with
    ``||Gbar Delta|| >= kappa ||Gbar||_F ||Delta||`` (``Gbar`` the ``k x p`` matrix with
    rows ``gbar_c``; for ``k = 1`` this is ``|cos(Delta, gbar)| >= kappa``),
    ``Delta^T grad^2 L(theta) Delta >= alpha_hat ||Delta||^2``. For ``k = 1`` it is the
    certificate of book/03_optimization.ipynb.

    ``hessian``: how ``max ||grad^2 f||`` is obtained -- ``"lanczos"`` (MEASURED),
    ``"dense"`` (exact, tiny nets), ``"bound"`` (:func:`hessian_bound`; then
    ``alpha_hat`` is a certified lower bound).

    Explained in: book/A_proofs.md (A.5, the pointwise RSC certificate),
    book/03_optimization.ipynb.
    """
    kappa, hessian = _check_settings(kappa, hessian)
    signal, penalty, _ = _certificate_terms(
        model, *_checked_batch(model, x, y, hessian), kappa, hessian
    )
    return signal - penalty


def _check_settings(kappa, hessian) -> tuple[float, str]:
    """``kappa`` (a cosine in ``(0, 1]``) and ``hessian`` of :func:`rsc_certificate`,
    checked."""
    kappa = _checks.positive_float("kappa", kappa)
    if kappa > 1:
        raise ValueError(f"kappa must be in (0, 1] (a cosine), got {kappa!r}")
    return kappa, _checks.choice("hessian", hessian, ("lanczos", "dense", "bound"))


def _checked_batch(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, hessian: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` as a batch for :func:`rsc_certificate`, after checking them and the
    model (with ``hessian="bound"``, that the Hessian bound covers it)."""
    xb = as_batch(model, x, y)
    if hessian == "bound":
        check_model(model, "rsc_certificate(hessian='bound')")
    else:
        _checks.finite_parameters(model, "rsc_certificate")
    return xb, y.to(xb)


def _certificate_terms(
    model: nn.Module, xb: torch.Tensor, yb: torch.Tensor, kappa: float, hessian: str
) -> tuple[float, float, torch.Tensor]:
    """``(2 kappa^2 ||gbar||^2, 2 sqrt(k) sqrt(L) max ||grad^2 f||, gbar)``: the two
    terms of ``alpha_hat`` and ``gbar`` itself (``[k, dim]``), computed once
    (arguments checked by the caller)."""
    with torch.no_grad():
        loss = float(square_loss(model, xb, yb))
    g = gbar_unchecked(model, xb)
    outputs = list(range(g.shape[0]))
    if hessian == "bound":
        hmax = float(hessian_bound_unchecked(model, xb, outputs, "exact")[0].max())
    else:
        hmax = float(
            predictor_hessian_norm_unchecked(model, xb, outputs, hessian).max()
        )
    k = len(outputs)
    return (
        2.0 * kappa**2 * float(g.pow(2).sum()),
        2.0 * math.sqrt(k) * math.sqrt(max(loss, 0.0)) * hmax,
        g,
    )


def predicted_contraction(alpha: float, beta: float, omega: float) -> float:
    """``1 - alpha * omega * (2 - omega) / beta``: the per-step loss factor predicted
    for gradient descent with step ``omega / beta`` under RSC (``alpha``) and smoothness
    (``beta``), ``omega in (0, 2)``.

    Explained in: book/03_optimization.ipynb."""
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, (int, float, np.floating))
        or not math.isfinite(alpha)
    ):
        raise TypeError(f"alpha must be a finite number, got {alpha!r}")
    beta = _checks.positive_float("beta", beta)
    omega = _checks.positive_float("omega", omega)
    if not 0.0 < omega < 2.0:
        raise ValueError(f"omega must be in the open interval (0, 2), got {omega!r}")
    return 1.0 - float(alpha) * omega * (2.0 - omega) / beta


def omega_over_beta(omega: float = 1.0, *, method: str = "lanczos"):
    """Step-size rule for :func:`wnlib.train`: ``eta_t = omega / beta_t`` with
    ``beta_t`` the :func:`smoothness` of the batch loss at ``theta_t``,
    ``omega in (0, 2)``. With ``batch_size=None`` this is the gradient descent of the
    optimization theorem.

    Explained in: book/03_optimization.ipynb."""
    omega = _checks.positive_float("omega", omega)
    if not omega < 2.0:
        raise ValueError(f"omega must be in the open interval (0, 2), got {omega!r}")

    def rule(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
        return omega / smoothness(model, x, y, method=method)

    return rule


def rsc_tracker(kappa: float, *, hessian: str = "bound", verify: bool = False):
    """A quantity for ``wnlib.TrackSpec(track=...)``: ``alpha_hat``
    (:func:`rsc_certificate` on the training set) and its Hessian term
    ``2 kappa^2 ||gbar||^2 - alpha_hat``.

    ``verify=True`` also records
    ``rsc_margin = min_Delta (Delta^T grad^2 L Delta - alpha_hat)`` over two unit
    directions in the cone: ``gbar/||gbar||`` and one at cosine exactly ``kappa`` (a
    random orthogonal part); the certificate promises ``rsc_margin >= 0`` (up to
    rounding). Scalar-output models.

    Explained in: book/03_optimization.ipynb."""
    kappa, hessian = _check_settings(kappa, hessian)
    calls = [0]

    def rsc(model: nn.Module, data) -> dict:
        xb, yb = _checked_batch(model, data.x_train, data.y_train, hessian)
        signal, penalty, gbar_rows = _certificate_terms(model, xb, yb, kappa, hessian)
        alpha = signal - penalty
        row = dict(alpha_hat=alpha, hessian_term=penalty)
        if verify:
            g = gbar_rows[0]
            g = g / g.norm()
            u = torch.randn(
                g.numel(),
                generator=torch.Generator().manual_seed(calls[0]),
                dtype=g.dtype,
            )
            u = u.to(g.device) - (u.to(g.device) @ g) * g
            op = loss_operator_unchecked(model, xb, yb)
            deltas = (g, kappa * g + math.sqrt(1 - kappa**2) * u / u.norm())
            row["rsc_margin"] = min(
                float(d @ op.matvec(d)) / float(d @ d) - alpha for d in deltas
            )
        calls[0] += 1
        return row

    return rsc


def contraction_table(frame, omega: float):
    """Add to a history of :func:`wnlib.train` with :func:`omega_over_beta` and
    :func:`rsc_tracker`: ``beta`` (``omega / step_size``), ``predicted``
    (:func:`predicted_contraction`, where ``alpha_hat > 0``) and ``observed``
    (``L(t+1) / L(t)``, from ``train_loss``). Returns a new pandas DataFrame.

    Explained in: book/03_optimization.ipynb."""
    out = frame.copy()
    out["beta"] = omega / out.step_size
    out["predicted"] = [
        predicted_contraction(a, b, omega) if a > 0 and b > 0 else np.nan
        for a, b in zip(out.alpha_hat, out.beta.fillna(-1.0))
    ]
    out["observed"] = out.train_loss.shift(-1) / out.train_loss
    return out
