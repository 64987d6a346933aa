"""Curvature as a linear operator: Hessian-vector products of any scalar function, and spectral norms.

Explained in: book/02_hessian.ipynb (predictor Hessian) and book/03_optimization.ipynb (loss Hessian). The
theory's Hessians (of ``f`` and of the square loss) are built from this machinery in :mod:`wnlib.quantities`.

Predictor Hessians are indefinite and their largest-magnitude eigenvalues come in near ``+/-`` pairs (the
output-layer block is zero), so spectral norms are found by Lanczos (``scipy.sparse.linalg.eigsh``) over
matrix-free Hessian-vector products. Power iteration is kept as the teaching version; the dense matrix is the
ground truth for tiny networks.
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable

import numpy as np
import torch
from torch import nn

from . import _checks

METHODS = ("lanczos", "power", "dense")


class _ScipyOperator:
    """A SciPy ``LinearOperator`` seen through the few attributes :func:`spectral_norm` uses."""

    def __init__(self, linop):
        self._linop, self.dim = linop, int(linop.shape[0])
        if linop.shape != (self.dim, self.dim):
            raise ValueError(f"op.to_scipy() must be square, got shape {linop.shape}")

    def to_scipy(self):
        return self._linop

    def dense(self) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self._linop @ np.eye(self.dim), dtype=np.float64))
_NON_FINITE_HESSIAN = ("the Hessian has NaN or inf entries although its parameters are finite: the function "
                       "overflows at this point (in float32, try the model in float64); no spectral norm")


def _one_blas_thread():
    """Limit SciPy's BLAS to one thread (``threadpoolctl`` when installed; else a no-op)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def parameters(model: nn.Module) -> list[torch.Tensor]:
    """``theta``: the trainable parameters of ``model``, in ``model.parameters()`` order."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(model).__name__} has no trainable parameters")
    return params


def _flatten(grads, params) -> torch.Tensor:
    """Concatenate per-parameter gradients into one vector; an unused parameter (``None``) gives zeros."""
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(grads, params)])


class HessianOperator:
    """``H = grad^2_theta fn()`` as a linear operator on flat vectors of length ``dim``.

    ``fn`` is a closure returning a scalar computed from ``params``. The gradient graph is built once; every
    product ``H v`` is one more backward pass through it (reverse-over-reverse), so ``H @ v`` costs about two
    gradients. ``to_scipy()`` gives a float64 ``scipy.sparse.linalg.LinearOperator``; ``dense()`` the matrix.
    """

    def __init__(self, fn: Callable[[], torch.Tensor], params: list[torch.Tensor]):
        self.params = list(params)
        if not self.params:
            raise ValueError("params is empty: a Hessian needs at least one parameter tensor")
        with torch.no_grad():
            finite = torch.stack([torch.isfinite(p).all().to(self.params[0].device) for p in self.params])
        if not bool(finite.all()):
            i = int((~finite).nonzero()[0, 0])
            raise ValueError(f"params[{i}] (shape {tuple(self.params[i].shape)}) holds NaN or inf: the Hessian of a "
                             "non-finite network is undefined; reinitialise the model or load finite weights")
        self.shapes = [p.shape for p in self.params]
        self.sizes = [p.numel() for p in self.params]
        self.dim = sum(self.sizes)
        ref = self.params[0]
        self.dtype, self.device = ref.dtype, ref.device
        with _autograd_on():  # also inside a caller's torch.no_grad() / inference_mode()
            value = fn()
            if value.numel() != 1:
                raise ValueError(f"fn must return a scalar, got a tensor of shape {tuple(value.shape)}")
            grads = torch.autograd.grad(value, self.params, create_graph=True, allow_unused=True)
            self._flat_grad = _flatten(grads, self.params)
        self.num_matvecs = 0

    @property
    def gradient(self) -> torch.Tensor:
        """``grad_theta fn`` as a flat vector (detached)."""
        return self._flat_grad.detach()

    def matvec(self, vec: torch.Tensor) -> torch.Tensor:
        """``H v`` for a flat vector ``v`` (any dtype/device; the result is on the operator's)."""
        vec = torch.as_tensor(vec).to(device=self.device, dtype=self.dtype).reshape(-1)
        if vec.numel() != self.dim:
            raise ValueError(f"vec has {vec.numel()} entries but theta has dim={self.dim}")
        self.num_matvecs += 1
        if not self._flat_grad.requires_grad:  # fn is linear in every parameter: H = 0
            return torch.zeros_like(vec)
        with _autograd_on():
            hv = torch.autograd.grad(self._flat_grad, self.params, grad_outputs=vec, retain_graph=True,
                                     allow_unused=True)
        return _flatten(hv, self.params)

    __matmul__ = matvec

    def to_scipy(self):
        """float64 ``LinearOperator`` for SciPy solvers."""
        from scipy.sparse.linalg import LinearOperator

        def mv(v):
            out = self.matvec(torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64))).double().cpu().numpy()
            if not np.all(np.isfinite(out)):  # free: the product is on the host already
                raise FloatingPointError(_NON_FINITE_HESSIAN)
            return out

        return LinearOperator((self.dim, self.dim), matvec=mv, rmatvec=mv, dtype=np.float64)

    def dense(self) -> torch.Tensor:
        """The full ``dim x dim`` Hessian, one column per product (tiny networks only)."""
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        cols = [self.matvec(eye[i]) for i in range(self.dim)]
        h = torch.stack(cols, dim=1)
        return (h + h.T) / 2


@contextlib.contextmanager
def _autograd_on():
    """Gradients recorded whatever the caller's mode (``torch.no_grad``, ``torch.inference_mode``)."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def hvp(model: nn.Module, fn: Callable[[], torch.Tensor], vec: torch.Tensor) -> torch.Tensor:
    """Hessian-vector product ``grad^2_theta fn() @ vec`` over the trainable parameters of ``model``."""
    return HessianOperator(fn, parameters(model)).matvec(vec)


def spectral_norm(op, *, method: str = "lanczos", tol: float = 1e-10, max_iter: int = 1000,
                  which: str = "LM", seed: int = 0) -> float:
    """Largest ``|lambda|`` of a symmetric operator (``which="LA"``: largest algebraic ``lambda``).

    ``op``: a :class:`HessianOperator`, or any symmetric operator with ``.to_scipy()`` returning a SciPy
    ``LinearOperator`` (e.g. curvlinops' Hessian, GGN or KFAC operators; ``method="lanczos"`` then).

    ``lanczos``: ARPACK (``eigsh``, both ends of the spectrum) to relative accuracy ``tol``; ``power``: power iteration on ``H``, reporting
    ``||H v_t||`` (which converges to ``|lambda|_max`` even when ``+/-lambda`` pairs tie), stopped when it
    changes by less than ``tol`` relatively; ``dense``: ``eigvalsh`` of the full matrix.
    """
    _checks.choice("method", method, METHODS)
    _checks.choice("which", which, ("LM", "LA"))
    _checks.positive_float("tol", tol, allow_zero=True)
    _checks.positive_int("max_iter", max_iter)
    seed = _checks.seed("seed", seed)
    if not isinstance(op, HessianOperator):
        if not callable(getattr(op, "to_scipy", None)):
            raise TypeError("op must be a wnlib.HessianOperator or a symmetric operator with .to_scipy() (e.g. a "
                            f"curvlinops operator), got {type(op).__name__}")
        if method != "lanczos":
            raise ValueError(f"method must be 'lanczos' for a {type(op).__name__} (power and dense need a "
                             f"wnlib.HessianOperator), got {method!r}")
        op = _ScipyOperator(op.to_scipy())
    if method == "power" and which == "LA":
        raise ValueError("method='power' finds the largest |lambda| only; use which='LM' or method='lanczos'")
    if method == "dense" or (method == "lanczos" and op.dim <= 24):
        dense = op.dense().double()
        if not bool(torch.isfinite(dense).all()):
            raise FloatingPointError(_NON_FINITE_HESSIAN)
        eig = torch.linalg.eigvalsh(dense)
        return float(eig.abs().max() if which == "LM" else eig.max())
    rng = np.random.default_rng(seed)
    if method == "lanczos":
        from scipy.sparse.linalg import ArpackError, eigsh

        v0 = rng.standard_normal(op.dim)
        try:
            # ARPACK's vector work is memory-bound; SciPy's multithreaded BLAS there only competes with the
            # torch threads computing the HVPs (measured 5-10x slower on 2 cores: bench/spectral.py)
            with _one_blas_thread():
                # both ends of the spectrum ("BE") converge fast even when +lambda and -lambda nearly tie in
                # magnitude, where ARPACK's "LM" can stall; ||H|| = max(|lambda_min|, |lambda_max|)
                vals = eigsh(op.to_scipy(), k=2 if which == "LM" else 1, which="BE" if which == "LM" else "LA",
                             tol=tol, maxiter=max_iter, v0=v0, ncv=min(op.dim - 1, 24),
                             return_eigenvectors=False)
        except ArpackError:
            # ARPACK stops when the Krylov space is exhausted (a Hessian of rank < ncv, e.g. ReLU nets):
            # the dense route is exact there
            if op.dim > 4096:
                raise
            return spectral_norm(op, method="dense", which=which)
        return float(np.abs(vals).max() if which == "LM" else vals.max())
    v = torch.from_numpy(rng.standard_normal(op.dim)).to(device=op.device, dtype=op.dtype)
    v = v / v.norm()
    estimate = 0.0
    for _ in range(max_iter):
        hv = op.matvec(v)
        new = float(hv.norm())
        if not math.isfinite(new):
            raise FloatingPointError(_NON_FINITE_HESSIAN)
        if new == 0.0:
            return 0.0
        v = hv / new
        if abs(new - estimate) <= tol * new:
            return new
        estimate = new
    return estimate
