"""The theory's quantities, measured on a network: loss, normalization terms, ``gbar``,
Hessian norms.

Explained in: book/01_weightnorm.ipynb (loss, ``rho_min``), book/02_hessian.ipynb
(predictor Hessian) and book/03_optimization.ipynb (``gbar``, loss Hessian).
:mod:`wnlib.tracking` records them along training.

Each public function checks its arguments once (the model's parameters finite,
``x``/``y`` finite tensors, the settings) and calls an unchecked core on the batch
``xb`` (:func:`as_batch`); wnlib's own callers that have checked already
(:mod:`wnlib.bounds`) call the ``*_unchecked`` cores.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from . import _checks
from .curvature import (
    HessianOperator,
    autograd_on,
    check_solver,
    parameters,
    spectral_norm_unchecked,
)
from .model import WNLinear


# ---- loss and evaluation -------------------------------------------------------------


def square_errors(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``||y_i - f(x_i)||^2`` per sample; a one-output model may return ``[n]`` and
    take targets ``[n]``."""
    out = out[:, None] if out.dim() == 1 else out
    y = y[:, None] if y.dim() == 1 else y
    if y.shape != out.shape:
        raise ValueError(
            f"y has shape {tuple(y.shape)} but the model outputs {tuple(out.shape)}"
        )
    return (out - y).pow(2).sum(dim=-1)


def square_loss(model: Callable, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``L(theta) = (1/n) sum_i ||y_i - f(theta; x_i)||^2``, the paper's square loss
    (``model`` any callable)."""
    return square_errors(model(x), y).mean()


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 4096
) -> tuple[float, float]:
    """Square loss and accuracy (NaN for one-output regression) of ``model`` on
    ``(x, y)``."""
    batch_size = _checks.positive_int("batch_size", batch_size)
    check_inputs(x, y)
    loss, correct = 0.0, 0
    for start in range(0, x.shape[0], batch_size):
        out, yb = model(x[start : start + batch_size]), y[start : start + batch_size]
        loss += float(square_errors(out, yb).sum())
        if yb.dim() > 1 and yb.shape[1] > 1:
            correct += int((out.argmax(1) == yb.argmax(1)).sum())
    n = x.shape[0]
    return loss / n, (correct / n if y.dim() > 1 and y.shape[1] > 1 else math.nan)


# ---- normalization terms -------------------------------------------------------------


def row_norms(model: nn.Module) -> list[torch.Tensor]:
    """Normalization terms ``||v_i^(l)||`` per hidden layer, from the direction ``v``
    (never from ``g v/||v||``).

    For a :class:`~wnlib.PlainMLP` these are the row norms of the weights ``W^(l)``.
    """
    layers = getattr(model, "hidden", None)
    if layers is None:
        layers = [m for m in model.modules() if isinstance(m, WNLinear)]
    if not layers:
        raise TypeError(
            f"{type(model).__name__} has no weight-normalized layers (expected "
            f"WNLinear or .hidden)"
        )
    return [
        torch.linalg.vector_norm(layer.direction.detach(), dim=1) for layer in layers
    ]


def rho_min(model: nn.Module) -> float:
    """``rho_min = min_{l,i} ||v_i^(l)||``, the smallest normalization term of the
    network."""
    return min(float(r.min()) for r in row_norms(model))


def rho_min_per_layer(model: nn.Module) -> list[float]:
    """``min_i ||v_i^(l)||`` for each hidden layer ``l``."""
    return [float(r.min()) for r in row_norms(model)]


# ---- gradients and Hessians of f and of the loss -------------------------------------


def check_inputs(x: torch.Tensor, y: torch.Tensor | None = None) -> None:
    """``x`` (and ``y``) tensors with at least one row, finite, with as many rows as
    each other."""
    _checks.tensor("x", x, dim=(1, 2), nonempty=True)
    _checks.finite_tensor("x", x)
    if y is not None:
        _checks.tensor("y", y, dim=(1, 2), nonempty=True)
        n_x = 1 if x.dim() == 1 else x.shape[0]
        if y.shape[0] != n_x and not (x.dim() == 1 and y.dim() == 1):
            raise ValueError(
                f"x has {n_x} rows but y has {y.shape[0]}: give one target row per "
                f"input"
            )
        _checks.finite_tensor("y", y)


def as_batch(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None
) -> torch.Tensor:
    """``x`` as a batch ``[n, d]`` on the model's device and dtype (one input ``[d]``
    becomes ``[1, d]``).

    Checks first (:func:`check_inputs`, :func:`check_eval_mode`): raises on an empty
    batch and on NaN/inf in ``x`` (and in ``y``, given, with one target row per
    input), naming the argument."""
    check_inputs(x, y)
    check_eval_mode(model)
    return to_batch(model, x)


def to_batch(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """:func:`as_batch` without its checks, for an ``x`` the caller has checked."""
    x = x.unsqueeze(0) if x.dim() == 1 else x
    ref = parameters(model)[0]
    if (
        x.is_inference()
    ):  # made under torch.inference_mode(): a plain copy can enter an autograd graph
        with torch.inference_mode(False):
            x = x.clone()
    return x.to(device=ref.device, dtype=ref.dtype)


_RANDOM_IN_TRAINING = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm)


def check_eval_mode(model: nn.Module) -> None:
    """A model in training mode with Dropout or BatchNorm has no single Hessian (one
    random mask, running statistics updated by every forward pass): refuse, naming
    the module."""
    if model.training:
        for name, module in model.named_modules():
            if isinstance(module, _RANDOM_IN_TRAINING):
                raise ValueError(
                    f"model is in training mode and its module {name!r} "
                    f"({type(module).__name__}) "
                    "changes f from call to call: call model.eval() before measuring "
                    "curvature"
                )


def num_outputs(model: nn.Module, xb: torch.Tensor) -> int:
    """``k``, the number of outputs of ``model``: the width of ``f`` on the first input
    of the batch ``xb`` (a one-output model may return ``[n]``)."""
    with torch.no_grad():
        out = model(xb[:1])
    return 1 if out.dim() == 1 else out.shape[-1]


def _is_index(output, k: int) -> bool:
    return not isinstance(output, bool) and isinstance(output, int) and 0 <= output < k


def output_indices(model: nn.Module, xb: torch.Tensor, output: int | None) -> list[int]:
    """The output coordinates ``c`` to take, checked: all of them (``output=None``)
    or ``[output]``."""
    k = num_outputs(model, xb)
    if output is None:
        return list(range(k))
    if not _is_index(output, k):
        raise ValueError(
            f"output must be None (max over outputs) or an int in [0, {k - 1}], got "
            f"{output!r}"
        )
    return [output]


def _one_output(model: nn.Module, xb: torch.Tensor, output) -> int:
    """``output`` checked as one output coordinate ``c`` in ``[0, k)`` (an int;
    ``None`` is not one)."""
    k = num_outputs(model, xb)
    if not _is_index(output, k):
        raise ValueError(
            f"output must be an int in [0, {k - 1}] (one output coordinate), got "
            f"{output!r}"
        )
    return output


def _coordinate(out: torch.Tensor, c: int) -> torch.Tensor:
    return out[0] if out.dim() == 1 else out[0, c]


def gbar(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``gbar = (1/n) sum_i grad_theta f(theta; x_i)``, one row per output
    coordinate: shape ``[k, dim]``."""
    _checks.finite_parameters(model, "gbar")
    return gbar_unchecked(model, as_batch(model, x))


def gbar_unchecked(model: nn.Module, xb: torch.Tensor) -> torch.Tensor:
    """:func:`gbar` of the batch ``xb`` (model and batch checked by the caller)."""
    out = _gbar_buffer(model, xb)
    _gbar_into(model, xb, out)
    return out


def _gbar_buffer(model: nn.Module, xb: torch.Tensor, *lead: int) -> torch.Tensor:
    """An empty ``[*lead, k, dim]`` tensor for ``gbar`` rows: a normal tensor even
    inside a caller's ``inference_mode()``, so that gradients can be written into it."""
    k = num_outputs(model, xb)
    with torch.inference_mode(False):
        return torch.empty(
            *lead,
            k,
            sum(p.numel() for p in parameters(model)),
            dtype=xb.dtype,
            device=xb.device,
        )


def _gbar_into(model: nn.Module, xb: torch.Tensor, out: torch.Tensor) -> None:
    """Write ``gbar`` of the batch ``xb`` into ``out`` [k, dim]: one forward pass,
    one backward pass per output."""
    params = parameters(model)
    with autograd_on():  # also inside a caller's torch.no_grad() / inference_mode()
        mean_out = model(xb).mean(dim=0).reshape(-1)
        for c in range(mean_out.shape[0]):
            grads = torch.autograd.grad(
                mean_out[c],
                params,
                retain_graph=c + 1 < mean_out.shape[0],
                allow_unused=True,
            )
            start = 0
            for g, p in zip(grads, params):
                block = out[c, start : start + p.numel()]
                block.zero_() if g is None else block.copy_(g.reshape(-1))
                start += p.numel()


def gbar_sq(model: nn.Module, x: torch.Tensor) -> float:
    """``||gbar||^2 = sum_c ||(1/n) sum_i grad_theta f_c(theta; x_i)||^2`` (for one
    output: ``||gbar||^2``)."""
    return float(gbar(model, x).pow(2).sum())


def gbar_sq_estimate(
    model: nn.Module, x: torch.Tensor, *, groups: int = 4
) -> tuple[float, float]:
    """Estimate of ``||gbar||^2`` over the population the inputs ``x`` were drawn from,
    and its standard error.

    ``x`` is cut into ``groups`` equal parts ``B_1..B_G`` with means
    ``g_a = gbar(B_a)``. The estimate is the mean of ``<g_a, g_b>`` over pairs
    ``a != b``: parts are disjoint, so it has none of the ``||grad f(x_i)||^2``
    self-terms that bias ``||gbar(x)||^2`` upwards by ``tr Cov / |x|`` (unbiased for a
    random sample; it may be negative when ``||gbar||^2`` is below its noise). The
    standard error is the jackknife over the parts. Costs what :func:`gbar` on ``x``
    costs, plus one forward and ``k`` backward passes per part.
    """
    groups = _checks.positive_int("groups", groups)
    xb = as_batch(model, x)
    if groups < 2 or xb.shape[0] < groups:
        raise ValueError(
            f"groups must be an int >= 2 and at most the number of inputs "
            f"({xb.shape[0]}), got {groups}"
        )
    _checks.finite_parameters(model, "gbar_sq_estimate")
    size = xb.shape[0] // groups
    means = _gbar_buffer(model, xb, groups)
    for a in range(groups):
        _gbar_into(model, xb[a * size : (a + 1) * size], means[a])
    flat = means.reshape(groups, -1)
    gram = (flat @ flat.T).double().cpu()
    pairs = gram.sum() - gram.diagonal().sum()  # sum of <g_a, g_b> over a != b
    estimate = float(pairs) / (groups * (groups - 1))
    if groups == 2:  # one pair: no jackknife
        return estimate, math.nan
    # leaving part a out removes its row and column of cross-products
    leave_one_out = [
        float(pairs - 2 * gram[a].sum() + 2 * gram[a, a])
        / ((groups - 1) * (groups - 2))
        for a in range(groups)
    ]
    mean = sum(leave_one_out) / groups
    se = math.sqrt((groups - 1) / groups * sum((v - mean) ** 2 for v in leave_one_out))
    return estimate, se


def predictor_operator(
    model: nn.Module, x: torch.Tensor, output: int = 0
) -> HessianOperator:
    """``grad^2_theta f_c(theta; x)`` for one input ``x`` and output coordinate
    ``c = output``."""
    xb = as_batch(model, x)
    if xb.shape[0] != 1:
        raise ValueError(
            f"predictor_operator takes one input, got a batch of {xb.shape[0]}"
        )
    output = _one_output(model, xb, output)
    _checks.finite_parameters(model, "predictor_operator")
    return _predictor_operator(model, xb, output)


def _predictor_operator(model: nn.Module, xb: torch.Tensor, c: int) -> HessianOperator:
    """:func:`predictor_operator` at the one input ``xb`` ``[1, d]`` (checked by the
    caller)."""
    return HessianOperator(
        lambda: _coordinate(model(xb), c), parameters(model), check_finite=False
    )


def loss_operator(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss: Callable = square_loss
) -> HessianOperator:
    """``grad^2_theta L(theta)`` of ``loss(model, x, y)`` (default the square loss)
    on ``(x, y)``."""
    xb = as_batch(model, x, y)
    _checks.finite_parameters(model, "loss_operator")
    return loss_operator_unchecked(
        model, xb, y.to(device=xb.device, dtype=xb.dtype), loss
    )


def loss_operator_unchecked(
    model: nn.Module, xb: torch.Tensor, yb: torch.Tensor, loss: Callable = square_loss
) -> HessianOperator:
    """:func:`loss_operator` on the batch ``(xb, yb)`` (model and batch checked by
    the caller)."""
    return HessianOperator(
        lambda: loss(model, xb, yb), parameters(model), check_finite=False
    )


def predictor_hessian_norm(
    model: nn.Module,
    x: torch.Tensor,
    *,
    output: int | None = None,
    method: str = "lanczos",
    tol: float = 1e-8,
    max_iter: int = 1000,
) -> torch.Tensor:
    """``||grad^2_theta f(theta; x_i)||_2`` for every input ``x_i`` of the batch ``x``
    (one value per input).

    ``output=c`` takes coordinate ``c`` of ``f``; ``None`` the max over the ``k``
    outputs.
    """
    check_solver(method, "LM", tol, max_iter)
    xb = as_batch(model, x)
    _checks.finite_parameters(model, "predictor_hessian_norm")
    return predictor_hessian_norm_unchecked(
        model, xb, output_indices(model, xb, output), method, tol, max_iter
    )


def predictor_hessian_norm_unchecked(
    model: nn.Module,
    xb: torch.Tensor,
    outputs: list[int],
    method: str,
    tol: float = 1e-8,
    max_iter: int = 1000,
) -> torch.Tensor:
    """:func:`predictor_hessian_norm` of the batch ``xb``, max over the coordinates
    ``outputs`` (all arguments checked by the caller)."""
    norms = [
        max(
            spectral_norm_unchecked(
                _predictor_operator(model, xi[None], c), method, "LM", tol, max_iter, 0
            )
            for c in outputs
        )
        for xi in xb
    ]
    return torch.tensor(norms, dtype=torch.float64)


def loss_hessian_norm(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    loss: Callable = square_loss,
    method: str = "lanczos",
    which: str = "LM",
    tol: float = 1e-8,
    max_iter: int = 1000,
) -> float:
    """``||grad^2_theta L(theta)||_2`` of ``loss`` (default the square loss) on
    ``(x, y)``; ``which="LA"`` gives the top eigenvalue, the smoothness ``beta``
    along the trajectory."""
    check_solver(method, which, tol, max_iter)
    _checks.finite_parameters(model, "loss_hessian_norm")
    xb = as_batch(model, x, y)
    op = loss_operator_unchecked(
        model, xb, y.to(device=xb.device, dtype=xb.dtype), loss
    )
    return spectral_norm_unchecked(op, method, which, tol, max_iter, 0)


def dense_hessian(
    model: nn.Module, x: torch.Tensor, *, y: torch.Tensor | None = None, output: int = 0
) -> torch.Tensor:
    """The full Hessian, by ``torch.autograd.functional.hessian`` over the flattened
    ``theta`` (an independent route from the HVP operator): of ``f_output(theta; x)``
    for one input, or of the square loss when ``y`` is given. Run it on a float64
    model for ground truth."""
    params = parameters(model)
    _checks.finite_parameters(model, "dense_hessian")
    xb = as_batch(model, x, y)
    if y is None:
        output = _one_output(model, xb, output)
        if xb.shape[0] != 1:
            raise ValueError(
                f"dense_hessian of f takes one input, got a batch of {xb.shape[0]}"
            )
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    shapes = [p.shape for p in params]
    _checks.dense_size(
        sum(p.numel() for p in params), params[0].dtype.itemsize, "dense_hessian"
    )
    flat = torch.cat([p.detach().reshape(-1) for p in params])

    def fn(theta):
        chunks = torch.split(theta, [s.numel() for s in shapes])
        values = {n: c.reshape(s) for n, c, s in zip(names, chunks, shapes)}
        call = lambda inp: torch.func.functional_call(model, values, (inp,))  # noqa: E731
        if y is not None:
            return square_loss(call, xb, y.to(xb))
        return _coordinate(call(xb), output)

    return torch.autograd.functional.hessian(fn, flat)
