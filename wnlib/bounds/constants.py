"""Constants of the smooth activations and the checks every bound shares.

Explained in: book/A_proofs.md ("Activation constants"; checked on a grid in the tests).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .. import _checks
from ..model import ACTIVATIONS, SMOOTH_ACTIVATIONS, PlainMLP, WeightNormMLP

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
    _checks.finite_parameters(model, what)
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

