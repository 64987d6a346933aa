"""Bounds: a certified Hessian bound and floor, the RSC certificate, smoothness,
contraction, generalization.

Explained in: book/A_proofs.md (complete proofs), book/02_hessian.ipynb,
book/03_optimization.ipynb, book/04_generalization.ipynb (figures). Every function says
which kind of number it returns:

* **EXACT** -- :func:`hessian_bound`, :func:`hessian_floor` and
  :func:`generalization_bound` are inequalities the book proves itself; they hold for
  the network at hand, and may be loose.
* **MEASURED** -- :func:`smoothness`, :func:`rsc_certificate` (with
  ``hessian="lanczos"``), :func:`generalization_gap`.
* **PAPER** -- :func:`paper_scaling` gives the paper's informal shapes, with a constant
  *fitted to measurements*, never the paper's own constant (which we do not have).

Symbols: ``m`` width, ``L`` depth, ``k`` outputs, ``r_i^(l) = ||v_i^(l)||`` the
normalization terms, ``rho_min = min r_i^(l)``, ``c`` init scale, ``g`` gains, ``U^(l)``
the unit-row directions, ``W^(l) = diag(g) U^(l)``.
"""

from .constants import ACTIVATION_CONSTANTS, SAFETY
from .generalization import (
    GeneralizationBound,
    bound_vs_gap,
    gap_at_training_loss,
    generalization_bound,
    generalization_gap,
    norm_constraints,
    rademacher_lower_estimate,
)
from .hessian import HessianBoundTerms, hessian_bound, hessian_floor
from .optimization import (
    contraction_table,
    omega_over_beta,
    predicted_contraction,
    rsc_certificate,
    rsc_tracker,
    smoothness,
)
from .scaling import ScalingFit, loglog_slope, paper_scaling

__all__ = [
    "ACTIVATION_CONSTANTS",
    "SAFETY",
    "GeneralizationBound",
    "HessianBoundTerms",
    "ScalingFit",
    "bound_vs_gap",
    "contraction_table",
    "gap_at_training_loss",
    "generalization_bound",
    "generalization_gap",
    "hessian_bound",
    "hessian_floor",
    "loglog_slope",
    "norm_constraints",
    "omega_over_beta",
    "paper_scaling",
    "predicted_contraction",
    "rademacher_lower_estimate",
    "rsc_certificate",
    "rsc_tracker",
    "smoothness",
]
