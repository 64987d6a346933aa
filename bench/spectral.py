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

Then each method step by step (``Trace``): power iteration (to its 100 HVPs) and wnlib's Lanczos (with the vectors
``lanczos`` picks for that tolerance: float32 from ``FLOAT32_VECTORS_TOL`` up, else float64), the relative error
against the reference after every HVP, and for each ``eps`` in ``EPS`` the HVPs and median seconds (since the start,
the operator or gradient graph built inside) to the first error ``<= eps``; also each method at its own stopping
rule read off the same traces: power iteration at tol 1e-3, wnlib at tol 1e-3 and at tracking's 1e-4.

Goals: wnlib's relative error <= 1e-6 in no more time than power iteration takes to its own answer; at least
2x faster than curvlinops + eigsh at equal or better accuracy; no slower than power iteration to each error in
``EPS``; at tol 1e-3 and at tracking's 1e-4, no slower than power iteration's own (tol 1e-3) stop.
"""
from __future__ import annotations

import copy
import time
from typing import Callable, Iterator

import numpy as np
import torch

from wnlib.curvature import FLOAT32_VECTORS_TOL, lanczos_steps, parameters, spectral_norm
from wnlib.quantities import loss_operator, predictor_operator, square_loss

from .report import row
from .timing import interleave, median

NAME = "spectral"
TOL = 1e-6
"""wnlib's tolerance in this benchmark: its error estimate is conservative; the measured errors are <= 1e-6."""
SIZES = [(64, 64, 2), (784, 256, 2), (784, 512, 3), (784, 1024, 2)]  # (d, width, depth)
LOSS_INPUTS = 256
POWER_TOL = 1e-3
"""PyHessian's default tolerance: power iteration stops when the Rayleigh quotient changes by less than this."""
POWER_MAX_ITER = 100
"""PyHessian's default maximum of power iterations (HVPs)."""
EPS = (1e-2, 1e-3, 1e-4, 1e-6)
"""The relative errors at which the HVPs and seconds each method needs are compared."""
TRACKING_TOL = 1e-4
"""The tolerance ``wnlib.tracking`` passes to the Hessian norms (``hessian``, ``loss_hessian``)."""


def pyhessian_power_steps(fn: Callable[[], torch.Tensor], params: list, *, max_iter: int = 100,
                          seed: int = 0) -> Iterator[float]:
    """PyHessian-style power iteration without its stop: the Rayleigh quotient after each HVP (the gradient
    graph built once with ``create_graph=True``, one double-backward HVP per step)."""
    grads = torch.autograd.grad(fn(), params, create_graph=True)
    gen = torch.Generator().manual_seed(seed)
    v = [torch.randn(p.shape, generator=gen).to(p) for p in params]
    norm = torch.sqrt(sum((t * t).sum() for t in v))
    v = [t / norm for t in v]
    for _ in range(max_iter):
        hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
        rayleigh = float(sum((a * b).sum() for a, b in zip(hv, v)))
        norm = torch.sqrt(sum((t * t).sum() for t in hv))
        v = [t / norm for t in hv]
        yield rayleigh


def pyhessian_power(fn: Callable[[], torch.Tensor], params: list, *, tol: float = POWER_TOL, max_iter: int = 100,
                    seed: int = 0) -> tuple[float, int]:
    """Top eigenvalue of ``grad^2 fn`` by PyHessian-style power iteration: ``(|Rayleigh quotient|, HVPs)``,
    stopped when the quotient changes by less than ``tol`` relatively."""
    eigenvalue = None
    for hvps, rayleigh in enumerate(pyhessian_power_steps(fn, params, max_iter=max_iter, seed=seed), start=1):
        if eigenvalue is not None and abs(rayleigh - eigenvalue) / (abs(eigenvalue) + 1e-6) < tol:
            return abs(rayleigh), hvps
        eigenvalue = rayleigh
    return abs(eigenvalue), hvps


def power_stop(estimates: list[float], tol: float = POWER_TOL) -> int:
    """The HVPs after which :func:`pyhessian_power`'s rule stops on this sequence of Rayleigh quotients."""
    for k in range(1, len(estimates)):
        if abs(estimates[k] - estimates[k - 1]) / (abs(estimates[k - 1]) + 1e-6) < tol:
            return k + 1
    return len(estimates)


def relative_errors(estimates, reference: float) -> np.ndarray:
    """``| |estimate| - reference | / reference`` per step."""
    return np.abs(np.abs(np.asarray(estimates, dtype=np.float64)) - reference) / reference


def first_reach(errors: np.ndarray, eps: float) -> int | None:
    """The HVPs after which the error is first ``<= eps`` (``None``: never in this trace)."""
    hits = np.flatnonzero(errors <= eps)
    return int(hits[0]) + 1 if hits.size else None


class Trace:
    """One method run step by step: what it yields after each HVP and the seconds since its start (the operator
    or gradient graph built inside), until ``done(items, errors)``."""

    def __init__(self, start: Callable[[], Iterator], estimate: Callable, reference: float, done: Callable):
        self.start, self.estimate, self.reference, self.done = start, estimate, reference, done

    def __call__(self) -> tuple[list, list[float]]:
        begin = time.perf_counter()
        items, seconds, estimates = [], [], []
        for item in self.start():
            seconds.append(time.perf_counter() - begin)
            items.append(item)
            estimates.append(self.estimate(item))
            if self.done(items, relative_errors(estimates, self.reference)):
                break
        return items, seconds


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


def traces(model, x, y, make, fn, reference: float) -> dict[str, Trace]:
    """The step-by-step runs of one case: power iteration (to its 100 HVPs or an error <= min(EPS)), wnlib's
    Lanczos with the vectors ``lanczos`` uses from ``FLOAT32_VECTORS_TOL`` up (to error <= 1e-4 and its stop at
    ``TRACKING_TOL``), and with float64 vectors (to error <= 1e-6 and its stop at ``TOL``)."""
    power = Trace(lambda: pyhessian_power_steps(fn, parameters(model), max_iter=POWER_MAX_ITER), float, reference,
                  lambda items, errors: errors[-1] <= min(EPS))

    def lanczos(vectors, eps, tol):
        return Trace(lambda: lanczos_steps(make(model, x, y), vectors=vectors, max_iter=1000),
                     lambda step: step.value, reference,
                     lambda items, errors: (errors[-1] <= eps and items[-1].converged(tol)) or items[-1].beta == 0)

    return {"power trace": power, "wnlib trace": lanczos(parameters(model)[0].dtype, 1e-4, TRACKING_TOL),
            "wnlib float64 trace": lanczos(torch.float64, 1e-6, TOL)}


def _median_seconds(runs: list) -> list[float]:
    """Per step, the median over repetitions of the seconds since the start."""
    steps = min(len(seconds) for _, seconds in runs)
    return [median(seconds[k] for _, seconds in runs) for k in range(steps)]


def _reach_rows(label: str, runs: dict, reference: float) -> tuple[list, dict]:
    """Per eps in EPS: HVPs, median seconds and the error reached, for power iteration and wnlib; their ratio."""
    rows, ratios = [], {}
    for eps in EPS:
        found = {}
        for name, trace in (("power", "power trace"),
                            ("wnlib", "wnlib trace" if eps >= FLOAT32_VECTORS_TOL else "wnlib float64 trace")):
            items, _ = runs[trace][0]
            errors = relative_errors([float(i) if name == "power" else i.value for i in items], reference)
            hvps = first_reach(errors, eps)
            seconds = _median_seconds(runs[trace])
            found[name] = None if hvps is None or hvps > len(seconds) else seconds[hvps - 1]
            nan = float("nan")
            rows += [row(NAME, f"{name}: {label}", f"HVPs to error {eps:g}", nan if hvps is None else hvps),
                     row(NAME, f"{name}: {label}", f"seconds to error {eps:g}", nan if hvps is None else found[name]),
                     row(NAME, f"{name}: {label}", f"error at HVPs to {eps:g}", nan if hvps is None else errors[hvps - 1])]
        if found["power"] is not None and found["wnlib"] is not None:
            rows.append(row(NAME, f"wnlib / power to error {eps:g}: {label}", "time ratio",
                            found["wnlib"] / found["power"], at_most=1.0))
            ratios[eps] = rows[-1].met
        elif found["wnlib"] is not None:  # power iteration never gets there: wnlib is faster by default
            ratios[eps] = True
    return rows, ratios


def _stop_rows(label: str, runs: dict, reference: float) -> tuple[list, list]:
    """Each method at its own stopping rule, read off the traces: power iteration at tol 1e-3; wnlib at the same
    tol 1e-3 and at tracking's 1e-4; wnlib's time ratio to power iteration's (wrong) stop."""
    items, _ = runs["power trace"][0]
    estimates = [float(i) for i in items]
    stops = {"power stop (tol 1e-3)": ("power trace", power_stop(estimates), relative_errors(estimates, reference))}
    steps, _ = runs["wnlib trace"][0]
    errors = relative_errors([s.value for s in steps], reference)
    for tol, name in ((POWER_TOL, "wnlib tol=1e-3"), (TRACKING_TOL, "wnlib tol=1e-4 (tracking)")):
        stops[name] = ("wnlib trace", next(s.matvecs for s in steps if s.converged(tol)), errors)
    rows, seconds = [], {}
    for name, (trace, hvps, errs) in stops.items():
        seconds[name] = _median_seconds(runs[trace])[hvps - 1]
        rows += [row(NAME, f"{name}: {label}", "HVPs", hvps), row(NAME, f"{name}: {label}", "seconds", seconds[name]),
                 row(NAME, f"{name}: {label}", "relative error", errs[hvps - 1])]
    met = []
    for name in ("wnlib tol=1e-3", "wnlib tol=1e-4 (tracking)"):
        rows.append(row(NAME, f"{name} / power stop: {label}", "time ratio",
                        seconds[name] / seconds["power stop (tol 1e-3)"], at_most=1.0))
        met.append(rows[-1].met)
    return rows, met


def run(device: torch.device, quick: bool = False) -> list:
    """Rows per case: seconds, HVPs and relative error of each method; the goal ratios; HVPs and seconds to
    each relative error in EPS for power iteration and wnlib; each at its own stop."""
    sizes = SIZES[:1] if quick else SIZES
    rows, met = [], {"time": [], "curvlinops": [], "error": [], "stop 1e-3": [], "stop 1e-4": []}
    met.update({eps: [] for eps in EPS})
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
                     "curvlinops": lambda: _curvlinops(model, x, y, loss),
                     **traces(model, x, y, make, fn, reference)}
            times, outputs = interleave(cases, device, reps=1 if quick or width >= 1024 else 3)
            label = (f"{kind} Hessian ({'1 input' if kind == 'predictor' else f'{LOSS_INPUTS} inputs'}; "
                     f"d={d}, width={width}, depth={depth})")
            summary = {}
            for name in ("wnlib", "power", "curvlinops"):
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
            reach, ratios = _reach_rows(label, outputs, reference)
            stop, stop_met = _stop_rows(label, outputs, reference)
            rows += reach + stop
            for eps in EPS:
                if eps in ratios:
                    met[eps].append(ratios[eps])
            met["stop 1e-3"].append(stop_met[0])
            met["stop 1e-4"].append(stop_met[1])
    for goal, label in (("error", "wnlib relative error <= 1e-6"), ("time", "wnlib no slower than power iteration"),
                        ("curvlinops", "wnlib >= 2x faster than curvlinops + eigsh"),
                        *((eps, f"wnlib no slower than power iteration to error {eps:g}") for eps in EPS),
                        ("stop 1e-3", "wnlib at tol=1e-3 no slower than power iteration's own stop"),
                        ("stop 1e-4", "wnlib at tol=1e-4 (tracking) no slower than power iteration's own stop")):
        if not met[goal]:
            continue
        rows.append(row(NAME, f"{label}: cases met", "share", sum(met[goal]) / len(met[goal]), at_least=1.0))
    return rows
