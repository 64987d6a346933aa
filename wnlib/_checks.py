"""Argument checks shared by every module: each error names the argument and what it accepts."""
from __future__ import annotations

import math
import numbers


def positive_int(name: str, value, *, allow_zero: bool = False) -> int:
    """Return ``value`` if it is an int > 0 (>= 0 with ``allow_zero``), else raise naming ``name``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok:
        raise TypeError(f"{name} must be an int {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be an int {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return int(value)


def positive_float(name: str, value, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a finite float > 0 (>= 0 with ``allow_zero``), else raise naming ``name``."""
    accepted = f"a finite number {'>= 0' if allow_zero else '> 0'}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {accepted}, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    return value


def choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing them."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return value
