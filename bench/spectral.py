"""Benchmark 2: Hessian spectral norms, wnlib against the field's own tools, each against a float64 reference.

Side by side in one process, interleaved (A, B, C, A, B, C, ...), on the predictor Hessian
``grad^2_theta f_0(theta; x)`` of one input and on the square-loss Hessian of 256 inputs, at four sizes (width
64 on 64-dim inputs; widths 256, 512 (depth 3) and 1024 on 784-dim inputs):

* ``wnlib``: ``spectral_norm(op)`` (wnlib's Lanczos, both ends of the spectrum) at ``tol=TOL``, the operator
  built inside the timed call;
* ``power``: PyHessian-style power iteration: the gradient graph built once with ``create_graph=True``, one
  double-backward HVP per step, the Rayleigh quotient as the estimate, stopped when it changes by less than
  1e-3 relatively (at most 100 steps, PyHessian's defaults);
* ``curvlinops``: curvlinops' ``HessianLinearOperator`` and SciPy's ``eigsh(which="LM", k=1, tol=1e-6)``;
* the reference: ARPACK (``method="arpack"``, ``tol=1e-12``) on a float64 copy of the network.

Goals: wnlib's relative error <= 1e-6 in no more time than power iteration takes to its own answer, and at least
2x faster than curvlinops + eigsh at equal or better accuracy.
"""
from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import torch

from wnlib.curvature import parameters, spectral_norm
from wnlib.quantities import loss_operator, predictor_operator, square_loss

from .report import row
from .timing import interleave, median

NAME = "spectral"
TOL = 1e-6
"""wnlib's tolerance in this benchmark: its error estimate is conservative; the measured errors are <= 1e-6."""
SIZES = [(64, 64, 2), (784, 256, 2), (784, 512, 3), (784, 1024, 2)]  # (d, width, depth)
LOSS_INPUTS = 256


def pyhessian_power(fn: Callable[[], torch.Tensor], params: list, *, tol: float = 1e-3, max_iter: int = 100,
                    seed: int = 0) -> tuple[float, int]:
    """Top eigenvalue of ``grad^2 fn`` by PyHessian-style power iteration: ``(|Rayleigh quotient|, HVPs)``."""
    grads = torch.autograd.grad(fn(), params, create_graph=True)
    gen = torch.Generator().manual_seed(seed)
    v = [torch.randn(p.shape, generator=gen).to(p) for p in params]
    norm = torch.sqrt(sum((t * t).sum() for t in v))
    v = [t / norm for t in v]
    eigenvalue, hvps = None, 0
    for _ in range(max_iter):
        hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
        hvps += 1
        rayleigh = float(sum((a * b).sum() for a, b in zip(hv, v)))
        norm = torch.sqrt(sum((t * t).sum() for t in hv))
        v = [t / norm for t in hv]
        if eigenvalue is not None and abs(rayleigh - eigenvalue) / (abs(eigenvalue) + 1e-6) < tol:
            eigenvalue = rayleigh
            break
        eigenvalue = rayleigh
    return abs(eigenvalue), hvps


def _curvlinops(model, x, y, loss) -> tuple[float, int]:
    """curvlinops' Hessian operator + ``eigsh(which="LM", k=1)``: ``(|lambda|_max, matvecs)``."""
    from curvlinops import HessianLinearOperator
    from scipy.sparse.linalg import eigsh

    op = HessianLinearOperator(model, loss, parameters(model), [(x, y)], check_deterministic=False).to_scipy()
    counted = _Counted(op)
    v0 = np.random.default_rng(0).standard_normal(op.shape[0])
    value = eigsh(counted, k=1, which="LM", tol=1e-6, v0=v0, return_eigenvectors=False)[0]
    return abs(float(value)), counted.count


class _Counted:
    """A SciPy operator that counts its products."""

    def __init__(self, op):
        self.op, self.shape, self.dtype, self.count = op, op.shape, op.dtype, 0

    def matvec(self, v):
        self.count += 1
        return self.op @ v

    def __matmul__(self, v):
        return self.matvec(v)

    def dot(self, v):
        return self.matvec(v)


def _case(d: int, width: int, depth: int, kind: str):
    """The model, its float64 copy, the data and the operator factories of one case."""
    import wnlib

    model = wnlib.WeightNormMLP(d, width, depth, 10, seed=0)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(LOSS_INPUTS, d, generator=gen)
    y = torch.nn.functional.one_hot(torch.arange(LOSS_INPUTS) % 10, 10).float()
    if kind == "predictor":
        x, y = x[:1], y[:1]
        make = lambda m, xx, yy: predictor_operator(m, xx, 0)  # noqa: E731
    else:
        make = lambda m, xx, yy: loss_operator(m, xx, yy)  # noqa: E731
    return model, x, y, make, _Loss(kind)


class _Loss(torch.nn.Module):
    """The scalar whose Hessian is taken, as curvlinops wants it: ``loss(output, target)`` with a ``reduction``
    (one batch holding all the data: curvlinops' normalisation factor is 1)."""

    reduction = "mean"

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def forward(self, out, target):
        return out[0, 0] if self.kind == "predictor" else (out - target).pow(2).sum(dim=1).mean()


def run(device: torch.device, quick: bool = False) -> list:
    """Rows per case: seconds, HVPs and relative error of each method; the two goal ratios."""
    sizes = SIZES[:1] if quick else SIZES
    rows, met = [], {"time": [], "curvlinops": [], "error": []}
    for d, width, depth in sizes:
        for kind in ("predictor", "loss"):
            model, x, y, make, loss = _case(d, width, depth, kind)
            model = model.to(device)
            x, y = x.to(device), y.to(device)
            m64 = copy.deepcopy(model).double()
            reference = spectral_norm(make(m64, x.double(), y.double()), method="arpack", tol=1e-12)
            fn = (lambda: model(x)[0, 0]) if kind == "predictor" else (lambda: square_loss(model, x, y))

            def wnlib_norm():
                op = make(model, x, y)
                return spectral_norm(op, tol=TOL), op.num_matvecs

            cases = {"wnlib": wnlib_norm, "power": lambda: pyhessian_power(fn, parameters(model)),
                     "curvlinops": lambda: _curvlinops(model, x, y, loss)}
            times, outputs = interleave(cases, device, reps=1 if quick or width >= 1024 else 3)
            label = (f"{kind} Hessian ({'1 input' if kind == 'predictor' else f'{LOSS_INPUTS} inputs'}; "
                     f"d={d}, width={width}, depth={depth})")
            summary = {}
            for name in cases:
                seconds = median(times[name])
                error = median(abs(value - reference) / reference for value, _ in outputs[name])
                summary[name] = seconds, error
                rows += [row(NAME, f"{name}: {label}", "seconds", seconds),
                         row(NAME, f"{name}: {label}", "HVPs", median(h for _, h in outputs[name])),
                         row(NAME, f"{name}: {label}", "relative error", error,
                             at_most=1e-6 if name == "wnlib" else None)]
            rows += [row(NAME, f"wnlib / power: {label}", "time ratio", summary["wnlib"][0] / summary["power"][0],
                         at_most=1.0),
                     row(NAME, f"curvlinops / wnlib: {label}", "time ratio",
                         summary["curvlinops"][0] / summary["wnlib"][0], at_least=2.0)]
            met["time"].append(rows[-2].met)
            met["curvlinops"].append(rows[-1].met)
            met["error"].append(summary["wnlib"][1] <= 1e-6)
    for goal, label in (("error", "wnlib relative error <= 1e-6"), ("time", "wnlib no slower than power iteration"),
                        ("curvlinops", "wnlib >= 2x faster than curvlinops + eigsh")):
        rows.append(row(NAME, f"{label}: cases met", "share", sum(met[goal]) / len(met[goal]), at_least=1.0))
    return rows
