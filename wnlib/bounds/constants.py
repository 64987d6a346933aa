"""The constants the bounds use: of the smooth activations, of the normalization map,
and the rounding slack.

Explained in: book/A_proofs.md ("Activation constants", "The normalization map"; the
activation constants are checked on a grid in the tests).
"""

from __future__ import annotations

import math

_SQRT2 = math.sqrt(2.0)
_PDF_SQRT2 = math.exp(-1.0) / math.sqrt(
    2.0 * math.pi
)  # standard normal density at sqrt(2)
_CDF_SQRT2 = 0.5 * (1.0 + math.erf(1.0))  # standard normal cdf at sqrt(2)

ACTIVATION_CONSTANTS: dict[str, dict[str, float]] = {
    # beta1 = sup|phi'|, beta2 = sup|phi''|, phi0 = phi(0), odd = phi - phi(0) is an odd
    # function
    "tanh": {
        "beta1": 1.0,
        "beta2": 4.0 / (3.0 * math.sqrt(3.0)),
        "phi0": 0.0,
        "odd": True,
    },
    "sigmoid": {
        "beta1": 0.25,
        "beta2": 1.0 / (6.0 * math.sqrt(3.0)),
        "phi0": 0.5,
        "odd": True,
    },
    "softplus": {"beta1": 1.0, "beta2": 0.25, "phi0": math.log(2.0), "odd": False},
    "gelu": {
        "beta1": _CDF_SQRT2 + _SQRT2 * _PDF_SQRT2,
        "beta2": math.sqrt(2.0 / math.pi),
        "phi0": 0.0,
        "odd": False,
    },
}
"""``sup|phi'|`` (beta1), ``sup|phi''|`` (beta2), ``phi(0)`` and whether
``phi - phi(0)`` is odd, per smooth activation. GELU:
``beta1 = Phi(sqrt2) + sqrt2 * phi_N(sqrt2) ~ 1.1289`` (attained at ``z = sqrt2``, so
GELU is *not* 1-Lipschitz) and ``beta2 = 2 phi_N(0) = sqrt(2/pi) ~ 0.7979`` (attained
at ``z = 0``)."""

SAFETY = 1.0 + 1e-9
"""Relative slack multiplied into the certified bounds to absorb float64 rounding in
their evaluation."""

D2U = 2.0 / math.sqrt(3.0)
"""``||D^2 u(v)[h, h]|| <= (2/sqrt3) ||h||^2 / ||v||^2`` for the normalization map
``u(v) = v / ||v||`` (book/A_proofs.md, A.3)."""
