"""Benchmark 2: the predictor-Hessian spectral norm ``||grad^2_theta f_c(theta; x)||_2``, two ways.

* ``lanczos``: what ``wnlib.predictor_hessian_norm(model, x[:1], output=0, method="lanczos")`` runs
  (``predictor_operator`` + ``spectral_norm`` at its default ``tol=1e-8``), read through the operator so its
  Hessian-vector products can be counted.
* ``power``: PyHessian-style power iteration: the gradient graph built once with ``create_graph=True``,
  one double-backward HVP per step, the Rayleigh quotient ``v^T H v`` as the estimate, stopped when it changes
  by less than 1e-3 relatively (at most 100 steps, PyHessian's defaults).

* ``lanczos, tol 1e-3``: the same at the tolerance power iteration stops at (not the library default).

All are compared with a reference: Lanczos at ``tol=1e-12`` on a float64 copy of the network. The predictor
Hessian's largest eigenvalues come in near ``+/-`` pairs, so the Rayleigh quotient of power iteration can
settle on a value between them: its error is reported as measured.
"""
from __future__ import annotations

import copy

import torch

from wnlib.curvature import parameters, spectral_norm
from wnlib.quantities import predictor_operator

from .report import row
from .timing import interleave, median
from .workloads import D_IN, paper_model

NAME = "spectral"


def pyhessian_power(model: torch.nn.Module, x: torch.Tensor, output: int = 0, *, tol: float = 1e-3,
                    max_iter: int = 100, seed: int = 0) -> tuple[float, int]:
    """Top eigenvalue by PyHessian-style power iteration; returns ``(|Rayleigh quotient|, number of HVPs)``."""
    params = parameters(model)
    grads = torch.autograd.grad(model(x)[0, output], params, create_graph=True)
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


def lanczos(model: torch.nn.Module, x: torch.Tensor, output: int = 0, *, tol: float = 1e-8,
            seed: int = 0) -> tuple[float, int]:
    """wnlib's Lanczos spectral norm; returns ``(value, number of HVPs)``."""
    op = predictor_operator(model, x, output)
    value = spectral_norm(op, method="lanczos", tol=tol, seed=seed)
    return value, op.num_matvecs


def run(device: torch.device, quick: bool = False) -> list:
    """Interleave both methods over a few random starts; rows: seconds, HVPs and relative error (medians)."""
    width, depth = (64, 2) if quick else (512, 2)
    seeds = range(2 if quick else 5)
    model = paper_model(width, depth, device)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, D_IN, generator=gen)
    x = (x * D_IN ** 0.5 / x.norm()).to(device)  # ||x|| = sqrt(d), as with normalize="sphere"
    reference, _ = lanczos(copy.deepcopy(model).double(), x.double(), tol=1e-12)
    names = ("lanczos", "power", "lanczos, tol 1e-3")
    results = {name: [] for name in names}
    times = {name: [] for name in names}
    for seed in seeds:
        cases = {"lanczos": lambda: lanczos(model, x, seed=seed), "power": lambda: pyhessian_power(model, x, seed=seed),
                 "lanczos, tol 1e-3": lambda: lanczos(model, x, tol=1e-3, seed=seed)}
        seconds, outputs = interleave(cases, device, reps=1, warmup=1 if seed == 0 else 0)
        for name in cases:
            times[name] += seconds[name]
            results[name] += outputs[name]
    case = f"width={width}, depth={depth}, d={D_IN}, one input, output 0"
    rows = [row(NAME, f"reference (float64 Lanczos, tol 1e-12; {case})", "||H||_2", reference)]
    summary = {}
    for name in names:
        err = median(abs(value - reference) / reference for value, _ in results[name])
        summary[name] = (median(times[name]), median(h for _, h in results[name]), err)
        rows += [row(NAME, name, "seconds", summary[name][0]),
                 row(NAME, name, "HVPs", summary[name][1]),
                 row(NAME, name, "relative error", err)]
    seconds_per_hvp = summary["power"][0] / summary["power"][1]  # power iteration is HVPs and little else
    rows.append(row(NAME, "lanczos", "seconds outside HVPs (ARPACK)",
                    summary["lanczos"][0] - summary["lanczos"][1] * seconds_per_hvp))
    rows.append(row(NAME, "power / lanczos", "time ratio", summary["power"][0] / summary["lanczos"][0], at_least=3))
    rows.append(row(NAME, "lanczos / power", "error ratio",
                    summary["lanczos"][2] / max(summary["power"][2], 1e-300), at_most=0.1))
    return rows
