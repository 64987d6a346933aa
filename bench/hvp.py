"""Benchmark 2b: the cost of one Hessian-vector product against one gradient.

An HVP is one backward pass through the gradient's graph (``HessianOperator.matvec``, reverse-over-reverse, the
graph built once, as Lanczos uses it); a gradient is a forward and a backward pass. Two cases at the paper's shape:
the predictor Hessian of one input (what ``predictor_hessian_norm`` runs) and the loss Hessian on a batch
(``loss_hessian_norm``). The other way, forward-over-reverse (``torch.func.jvp`` of ``torch.func.grad``,
recomputing the gradient inside every product), is measured beside it, eager and under ``torch.compile`` (as
curvlinops' benchmarks compile their products; the compilation runs in the warm-up, untimed).
"""
from __future__ import annotations

import torch

from torch.func import functional_call, grad, jvp

from wnlib.curvature import parameters
from wnlib.quantities import loss_operator, predictor_operator, square_loss

from .report import row
from .timing import interleave, median
from .workloads import paper_model, synthetic_mnist

NAME = "hvp"


def run(device: torch.device, quick: bool = False) -> list:
    """Rows per case: milliseconds per gradient and per HVP, and their ratio (target: HVP <= 2 gradients)."""
    width, depth, batch = (64, 2, 32) if quick else (1024, 2, 256)
    reps = 3 if quick else 30
    model = paper_model(width, depth, device)
    params = parameters(model)
    data = synthetic_mnist(batch, 1, device)
    x, y = data.x_train, data.y_train
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    cases = {
        "predictor, 1 input": (predictor_operator(model, x[:1]), lambda m: m(x[:1])[0, 0]),
        f"loss, {batch} inputs": (loss_operator(model, x, y), lambda m: square_loss(m, x, y)),
    }
    rows = []
    for case, (op, fn) in cases.items():
        v = torch.randn(op.dim, device=device)
        primals = {n: p.detach() for n, p in zip(names, params)}
        tangents = {n: t.reshape(p.shape) for n, t, p in zip(names, torch.split(v, op.sizes), params)}
        scalar = lambda values: fn(lambda inp: functional_call(model, values, (inp,)))  # noqa: E731
        forward_over_reverse = lambda: jvp(grad(scalar), (primals,), (tangents,))[1]  # noqa: E731
        times, _ = interleave({"gradient": lambda: torch.autograd.grad(fn(model), params),
                               "hvp": lambda: op.matvec(v),
                               "forward-over-reverse": forward_over_reverse,
                               "compiled forward-over-reverse": torch.compile(forward_over_reverse)},
                              device, reps=reps, warmup=2)
        grad_t, hvp_t, fwd_t, compiled_t = (median(times[k]) for k in times)
        label = f"{case} (width={width}, depth={depth})"
        rows += [row(NAME, label, "ms per gradient", 1e3 * grad_t),
                 row(NAME, label, "ms per HVP", 1e3 * hvp_t),
                 row(NAME, label, "HVP / gradient", hvp_t / grad_t, at_most=2.0),
                 row(NAME, label, "forward-over-reverse HVP / gradient", fwd_t / grad_t),
                 row(NAME, label, "torch.compile forward-over-reverse HVP / gradient", compiled_t / grad_t)]
    return rows
