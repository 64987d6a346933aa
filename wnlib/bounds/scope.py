"""Which networks the bounds cover: a :class:`wnlib.WeightNormMLP` with a smooth
activation and finite parameters.

Explained in: book/A_proofs.md (A.1, the setting of the proofs).
"""

from __future__ import annotations

from torch import nn

from .. import _checks
from ..model import SMOOTH_ACTIVATIONS, WeightNormMLP


def check_model(model: nn.Module, what: str) -> WeightNormMLP:
    """Return ``model`` if ``what`` (a bound's name, for the message) covers it, else
    raise saying why."""
    if not isinstance(model, WeightNormMLP):
        raise TypeError(
            f"{what} accepts a wnlib.WeightNormMLP (the paper's WeightNorm network); "
            f"got {type(model).__name__}. PlainMLP has no normalization terms and is "
            f"outside this bound."
        )
    if model.activation not in SMOOTH_ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {', '.join(map(repr, SMOOTH_ACTIVATIONS))} for "
            f"{what} (bounded phi' and phi''); got {model.activation!r}. ReLU is "
            "outside the theory: phi'' does not exist at 0."
        )
    _checks.finite_parameters(model, what)
    return model
