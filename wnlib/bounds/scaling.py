"""The paper's informal shapes (third-party summary level; the ``1/sqrt(m)`` of the
Hessian shape is our reconstruction), with a constant fitted to measurements.

Explained in: book/02_hessian.ipynb and book/04_generalization.ipynb.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _checks


@dataclass
class ScalingFit:
    """``values = constant * shape``; ``label`` says the constant was fitted (never
    the paper's)."""

    values: np.ndarray
    shape: np.ndarray
    constant: float
    label: str


def paper_scaling(
    kind: str, *, width=None, depth=None, rho_min=None, n=None, measured=None
) -> ScalingFit:
    """The paper's informal shapes (PAPER), for overlays: ``kind="hessian"``:
    ``C * L^3 / (sqrt(m) * rho_min)``; ``kind="generalization"``: ``C * sqrt(L / n)``.
    Arguments broadcast (numpy).

    With ``measured`` (same shape), ``C`` is fitted by least squares in log space,
    ``log C = mean(log measured - log shape)``, and labelled "fitted constant, not the
    paper's"; without it ``C = 1`` ("shape only"). The paper's own constants are not
    available to us.

    Explained in: book/02_hessian.ipynb, book/04_generalization.ipynb.
    """
    _checks.choice("kind", kind, ("hessian", "generalization"))
    needed = {
        "hessian": {"width": width, "depth": depth, "rho_min": rho_min},
        "generalization": {"depth": depth, "n": n},
    }[kind]
    for name, val in needed.items():
        if val is None:
            raise ValueError(f"paper_scaling(kind={kind!r}) needs {name}")
        arr = np.asarray(val, dtype=float)
        if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise ValueError(f"{name} must be finite and > 0, got {val!r}")
    if kind == "hessian":
        shape = np.asarray(depth, float) ** 3 / (
            np.sqrt(np.asarray(width, float)) * np.asarray(rho_min, float)
        )
        form = "C L^3 / (sqrt(m) rho_min)"
    else:
        shape = np.sqrt(np.asarray(depth, float) / np.asarray(n, float))
        form = "C sqrt(L / n)"
    if measured is None:
        return ScalingFit(
            values=shape,
            shape=shape,
            constant=1.0,
            label=f"paper shape {form}, C = 1 (shape only)",
        )
    meas = np.asarray(measured, dtype=float)
    if (
        meas.shape != np.broadcast_shapes(meas.shape, shape.shape)
        or np.any(~np.isfinite(meas))
        or np.any(meas <= 0)
    ):
        raise ValueError(
            "measured must be finite, > 0, and broadcast with the shape arguments"
        )
    shape = np.broadcast_to(shape, meas.shape)
    const = float(np.exp(np.mean(np.log(meas) - np.log(shape))))
    return ScalingFit(
        values=const * shape,
        shape=shape,
        constant=const,
        label=f"paper shape {form}, C = {const:.3g} fitted constant, not the paper's",
    )


def loglog_slope(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (e.g. about -0.5 for
    ``y ~ x^{-1/2}``).

    Explained in: book/02_hessian.ipynb (width and depth laws)."""
    for name, val in (("x", x), ("y", y)):
        arr = np.asarray(val, dtype=float)
        if (
            arr.ndim != 1
            or arr.size < 2
            or not np.all(np.isfinite(arr))
            or np.any(arr <= 0)
        ):
            raise ValueError(
                f"{name} must be a 1-D sequence of at least 2 finite numbers > 0 (its "
                f"log is taken), got {val!r}"
            )
    if len(x) != len(y):
        raise ValueError(
            f"x and y must have the same length, got {len(x)} and {len(y)}"
        )
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    return float(np.polyfit(lx, ly, 1)[0])
