"""Argument checks shared by every module: each error names the argument and what it
accepts."""

from __future__ import annotations

import math
import os
import numbers

SEED_LIMIT = 2**63
"""Seeds are ints in ``[0, 2**63)``: what ``torch.Generator.manual_seed`` and NumPy both
take, with room for the offsets the loaders add."""


def positive_int(name: str, value, *, allow_zero: bool = False) -> int:
    """Return ``value`` if it is an int > 0 (>= 0 with ``allow_zero``), else raise
    naming ``name``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok:
        raise TypeError(
            f"{name} must be an int {'>= 0' if allow_zero else '> 0'}, got {value!r}"
        )
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(
            f"{name} must be an int {'>= 0' if allow_zero else '> 0'}, got {value!r}"
        )
    return int(value)


def positive_float(name: str, value, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a finite float > 0 (>= 0 with ``allow_zero``), else raise
    naming ``name``."""
    accepted = f"a finite number {'>= 0' if allow_zero else '> 0'}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {accepted}, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    return value


def finite_float(name: str, value) -> float:
    """Return ``value`` as a finite float (any sign), else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a finite number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def interval(name: str, value, low: float, high: float, *, closed: str = "[)") -> float:
    """Return ``value`` as a float in the interval from ``low`` to ``high`` (``closed``:
    ``"[)"``, ``"[]"``, ``"()"`` or ``"(]"``), else raise naming ``name`` and the
    interval."""
    shown = f"{closed[0]}{low:g}, {high:g}{closed[1]}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in {shown}, got {value!r}")
    v = float(value)
    above = v >= low if closed[0] == "[" else v > low
    below = v <= high if closed[1] == "]" else v < high
    if not (math.isfinite(v) and above and below):
        raise ValueError(f"{name} must be a number in {shown}, got {value!r}")
    return v


def seed(name: str, value, *, allow_none: bool = False):
    """Return ``value`` as an int seed in ``[0, 2**63)`` (or ``None`` with
    ``allow_none``), else raise.

    Strings, floats (even ``3.0``), bools and negative ints are refused: each would
    otherwise be truncated, parsed or wrapped into some other seed without a word."""
    accepted = "an int >= 0" + (
        " or None (the global random state)" if allow_none else ""
    )
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be {accepted}, got {value!r} ({type(value).__name__})"
        )
    if not 0 <= value < SEED_LIMIT:
        raise ValueError(f"{name} must be {accepted} and < 2**63, got {value!r}")
    return int(value)


def choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing them."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return value


def floating_dtype(name: str, value):
    """Return ``value`` if it is a floating-point ``torch.dtype`` (or ``None``), else
    raise naming ``name``."""
    import torch

    if value is None:
        return None
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise TypeError(
            f"{name} must be a floating-point torch.dtype (torch.float32, "
            f"torch.float64, ...) or None, got {value!r}"
        )
    return value


def tensor(
    name: str,
    value,
    *,
    dim: tuple | None = None,
    nonempty: bool = False,
    floating: bool = False,
):
    """Check that ``value`` is a ``torch.Tensor`` (of a dimension in ``dim``, with at
    least one row when ``nonempty``, of a floating dtype when ``floating``); raise
    naming ``name`` otherwise."""
    import torch

    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if dim is not None and value.dim() not in dim:
        shown = " or ".join(f"{d}-D" for d in dim)
        raise ValueError(
            f"{name} must be a {shown} tensor, got shape {tuple(value.shape)}"
        )
    if nonempty and (value.dim() == 0 or value.shape[0] == 0 or value.numel() == 0):
        raise ValueError(
            f"{name} is empty (shape {tuple(value.shape)}): give at least one row"
        )
    if floating and not value.is_floating_point():
        raise TypeError(
            f"{name} has dtype {value.dtype}; it must be floating point (torch.float32 "
            f"or torch.float64): convert it with .to(torch.float32)"
        )
    return value


def finite_tensor(name: str, value):
    """Raise naming ``name`` if the tensor ``value`` holds NaN or inf (one device
    sync; integer tensors pass)."""
    import torch

    tensor(name, value)
    if not (value.is_floating_point() or value.is_complex()) or value.numel() == 0:
        return value
    finite = torch.isfinite(value)
    if not bool(finite.all()):
        bad = (~finite).nonzero()
        count = bad.shape[0]
        first = tuple(bad[0].tolist())
        where = first[0] if len(first) == 1 else first
        raise ValueError(
            f"{name} holds {count} non-finite value{'s' if count > 1 else ''} (NaN or "
            f"inf), the first at index {where}; give finite values"
        )
    return value


def finite_parameters(model, what: str) -> None:
    """Raise naming the first parameter (or buffer) of ``model`` that holds NaN or inf
    (one device sync for all of them), before ``what`` starts computing with it."""
    import torch

    named = [(f"parameter {n!r}", t) for n, t in model.named_parameters()]
    named += [(f"buffer {n!r}", t) for n, t in model.named_buffers()]
    named = [(n, t) for n, t in named if t.is_floating_point() or t.is_complex()]
    if not named:
        return
    with torch.no_grad():
        ok = torch.stack(
            [torch.isfinite(t).all().to(named[0][1].device) for _, t in named]
        )
    if bool(ok.all()):
        return
    name, t = named[int((~ok).nonzero()[0, 0])]
    count = int((~torch.isfinite(t.detach())).sum())
    raise ValueError(
        f"model {name} holds {count} non-finite value{'s' if count > 1 else ''} (NaN "
        f"or inf) before {what} starts; the model diverged or was set by hand: "
        "reinitialise it or load finite weights"
    )


LIMITS = {
    "max_params": ("WNLIB_MAX_PARAMS", 10**8),
    "max_depth": ("WNLIB_MAX_DEPTH", 1000),
    "max_dense_bytes": ("WNLIB_MAX_DENSE_BYTES", 2**30),
    "max_runs": ("WNLIB_MAX_RUNS", 10_000),
}
"""Size limits checked before anything is allocated or started: limit -> (environment
variable, default). A model of more than 10^8 parameters (0.4 GB in float32, several
times that while training) or 1000 layers, a dense Hessian of more than 1 GiB, a
sweep of more than 10,000 runs are refused unless the variable allows more."""


def limit(name: str) -> int:
    """The limit ``name`` of :data:`LIMITS`: its environment variable if set (an int
    > 0), else its default."""
    env, default = LIMITS[name]
    text = os.environ.get(env)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"environment variable {env} must be an int > 0, got {text!r}")
    return value


def _over(what: str, name: str) -> str:
    return (
        f"{what}, more than {name}={limit(name):,}; set {LIMITS[name][0]} to allow more"
    )


def model_size(d_in: int, width: int, depth: int, d_out: int) -> int:
    """The number of weights of an MLP (``d_in -> width x depth -> d_out``), refused
    naming ``width`` or ``depth`` when over :func:`limit` ``max_depth`` /
    ``max_params``, before anything is allocated."""
    if depth > limit("max_depth"):
        raise ValueError(
            f"depth={depth} " + _over(f"gives {depth} layers", "max_depth")
        )
    n = d_in * width + (depth - 1) * width * width + width * d_out
    if n > limit("max_params"):
        raise ValueError(
            f"width={width} and depth={depth} (d_in={d_in}, d_out={d_out}) "
            + _over(
                f"give {n:,} weights ({4 * n / 1e9:.3g} GB in float32)", "max_params"
            )
        )
    return n


def dense_size(n: int, itemsize: int, what: str = "method='dense'") -> None:
    """Refuse an ``n x n`` dense matrix of ``itemsize``-byte entries over the
    ``max_dense_bytes`` limit."""
    size = n * n * itemsize
    if size > limit("max_dense_bytes"):
        raise ValueError(
            f"{what} on {n:,} parameters needs a {n:,} x {n:,} matrix of "
            f"{size / 1e9:.3g} GB, "
            + _over("", "max_dense_bytes").lstrip(", ")
            + "; use method='lanczos'"
        )


def run_count(counts, what: str = "the grid") -> int:
    """The product of ``counts`` (values per axis), refused over the ``max_runs``
    limit before any run is built."""
    total = math.prod(counts)
    if total > limit("max_runs"):
        raise ValueError(
            f"{what} has {total:,} runs ({' x '.join(map(str, counts))}), "
            + _over("", "max_runs").lstrip(", ")
        )
    return total
