"""Benchmark 2b: the cost of one Hessian-vector product against one gradient.

An HVP is one backward pass through the gradient's graph (``HessianOperator.matvec``, the graph built once,
as Lanczos uses it); a gradient is a forward and a backward pass. Two cases: the predictor Hessian of one
input (what ``predictor_hessian_norm`` runs) and the loss Hessian on a batch (``loss_hessian_norm``).
"""
from __future__ import annotations

import torch

from wnlib.curvature import parameters
from wnlib.quantities import loss_operator, predictor_operator, square_loss

from .report import row
from .timing import interleave, median
from .workloads import paper_model, synthetic_mnist

NAME = "hvp"


def run(device: torch.device, quick: bool = False) -> list:
    """Rows per case: milliseconds per gradient and per HVP, and their ratio (target: HVP <= 2 gradients)."""
    width, depth, batch = (64, 2, 32) if quick else (512, 2, 256)
    reps = 3 if quick else 30
    model = paper_model(width, depth, device)
    params = parameters(model)
    data = synthetic_mnist(batch, 1, device)
    x, y = data.x_train, data.y_train
    cases = {
        "predictor, 1 input": (predictor_operator(model, x[:1]), lambda: model(x[:1])[0, 0]),
        f"loss, {batch} inputs": (loss_operator(model, x, y), lambda: square_loss(model, x, y)),
    }
    rows = []
    for case, (op, fn) in cases.items():
        v = torch.randn(op.dim, device=device)
        times, _ = interleave({"gradient": lambda: torch.autograd.grad(fn(), params), "hvp": lambda: op.matvec(v)},
                           device, reps=reps, warmup=2)
        grad_t, hvp_t = median(times["gradient"]), median(times["hvp"])
        label = f"{case} (width={width}, depth={depth})"
        rows += [row(NAME, label, "ms per gradient", 1e3 * grad_t),
                 row(NAME, label, "ms per HVP", 1e3 * hvp_t),
                 row(NAME, label, "HVP / gradient", hvp_t / grad_t, at_most=2.0)]
    return rows
