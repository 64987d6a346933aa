"""Curvature as a linear operator: Hessian-vector products, spectral norms, dense Hessians for ground truth.

Explained in: book/02_hessian.ipynb (predictor Hessian) and book/03_optimization.ipynb (loss Hessian).

The predictor Hessian ``grad^2_theta f_c(theta; x)`` is indefinite and its largest-magnitude eigenvalues come
in near ``+/-`` pairs (the output-layer block is zero), so its spectral norm is found by Lanczos
(``scipy.sparse.linalg.eigsh``, largest magnitude) over matrix-free Hessian-vector products. Power iteration
is kept as the teaching version; the dense float64 Hessian is the ground truth for tiny networks.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from . import _checks

METHODS = ("lanczos", "power", "dense")


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
        self.shapes = [p.shape for p in self.params]
        self.sizes = [p.numel() for p in self.params]
        self.dim = sum(self.sizes)
        ref = self.params[0]
        self.dtype, self.device = ref.dtype, ref.device
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
        hv = torch.autograd.grad(self._flat_grad, self.params, grad_outputs=vec, retain_graph=True,
                                 allow_unused=True)
        return _flatten(hv, self.params)

    __matmul__ = matvec

    def to_scipy(self):
        """float64 ``LinearOperator`` for SciPy solvers."""
        from scipy.sparse.linalg import LinearOperator

        def mv(v):
            return self.matvec(torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64))).double().cpu().numpy()

        return LinearOperator((self.dim, self.dim), matvec=mv, rmatvec=mv, dtype=np.float64)

    def dense(self) -> torch.Tensor:
        """The full ``dim x dim`` Hessian, one column per product (tiny networks only)."""
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        cols = [self.matvec(eye[i]) for i in range(self.dim)]
        h = torch.stack(cols, dim=1)
        return (h + h.T) / 2


def hvp(model: nn.Module, fn: Callable[[], torch.Tensor], vec: torch.Tensor) -> torch.Tensor:
    """Hessian-vector product ``grad^2_theta fn() @ vec`` over the trainable parameters of ``model``."""
    return HessianOperator(fn, parameters(model)).matvec(vec)


def _as_batch(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    x = x.unsqueeze(0) if x.dim() == 1 else x
    ref = parameters(model)[0]
    return x.to(device=ref.device, dtype=ref.dtype)


def _output_indices(model: nn.Module, xb: torch.Tensor, output: int | None) -> list[int]:
    with torch.no_grad():
        k = model(xb[:1]).shape[-1]
    if output is None:
        return list(range(k))
    if isinstance(output, bool) or not isinstance(output, int) or not 0 <= output < k:
        raise ValueError(f"output must be None (max over outputs) or an int in [0, {k - 1}], got {output!r}")
    return [output]


def predictor_operator(model: nn.Module, x: torch.Tensor, output: int = 0) -> HessianOperator:
    """``grad^2_theta f_c(theta; x)`` for one input ``x`` and output coordinate ``c = output``."""
    xb = _as_batch(model, x)
    if xb.shape[0] != 1:
        raise ValueError(f"predictor_operator takes one input, got a batch of {xb.shape[0]}")
    return HessianOperator(lambda: model(xb)[0, output], parameters(model))


def square_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``L(theta) = (1/n) sum_i ||y_i - f(theta; x_i)||^2``, the paper's square loss."""
    out = model(x)
    y = y.reshape(out.shape) if y.dim() == 1 and out.shape[-1] == 1 else y
    if y.shape != out.shape:
        raise ValueError(f"y has shape {tuple(y.shape)} but the model outputs {tuple(out.shape)}")
    return (out - y).pow(2).sum(dim=-1).mean()


def loss_operator(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> HessianOperator:
    """``grad^2_theta L(theta)`` of the square loss on ``(x, y)``."""
    xb = _as_batch(model, x)
    yb = y.to(device=xb.device, dtype=xb.dtype)
    return HessianOperator(lambda: square_loss(model, xb, yb), parameters(model))


def spectral_norm(op: HessianOperator, *, method: str = "lanczos", tol: float = 1e-10, max_iter: int = 1000,
                  which: str = "LM", seed: int = 0) -> float:
    """Largest ``|lambda|`` of a symmetric operator (``which="LA"``: largest algebraic ``lambda``).

    ``lanczos``: ARPACK (``eigsh``, both ends of the spectrum) to relative accuracy ``tol``; ``power``: power iteration on ``H``, reporting
    ``||H v_t||`` (which converges to ``|lambda|_max`` even when ``+/-lambda`` pairs tie), stopped when it
    changes by less than ``tol`` relatively; ``dense``: ``eigvalsh`` of the full matrix.
    """
    _checks.choice("method", method, METHODS)
    _checks.choice("which", which, ("LM", "LA"))
    if method == "power" and which == "LA":
        raise ValueError("method='power' finds the largest |lambda| only; use which='LM' or method='lanczos'")
    if method == "dense" or (method == "lanczos" and op.dim <= 24):
        eig = torch.linalg.eigvalsh(op.dense().double())
        return float(eig.abs().max() if which == "LM" else eig.max())
    rng = np.random.default_rng(seed)
    if method == "lanczos":
        from scipy.sparse.linalg import ArpackError, eigsh
        from threadpoolctl import threadpool_limits

        v0 = rng.standard_normal(op.dim)
        try:
            # ARPACK's vector work is memory-bound; SciPy's multithreaded BLAS there only competes with the
            # torch threads computing the HVPs (measured 5-10x slower on 2 cores: bench/spectral.py)
            with threadpool_limits(limits=1, user_api="blas"):
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
        if new == 0.0:
            return 0.0
        v = hv / new
        if abs(new - estimate) <= tol * new:
            return new
        estimate = new
    return estimate


def predictor_hessian_norm(model: nn.Module, x: torch.Tensor, *, output: int | None = None,
                           method: str = "lanczos", tol: float = 1e-8, max_iter: int = 1000) -> torch.Tensor:
    """``||grad^2_theta f(theta; x_i)||_2`` for every input ``x_i`` of the batch ``x`` (one value per input).

    ``output=c`` takes coordinate ``c`` of ``f``; ``None`` the max over the ``k`` outputs.
    """
    _checks.choice("method", method, METHODS)
    xb = _as_batch(model, x)
    outputs = _output_indices(model, xb, output)
    norms = [max(spectral_norm(predictor_operator(model, xi, c), method=method, tol=tol, max_iter=max_iter)
                 for c in outputs) for xi in xb]
    return torch.tensor(norms, dtype=torch.float64)


def loss_hessian_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, method: str = "lanczos",
                      which: str = "LM", tol: float = 1e-8, max_iter: int = 1000) -> float:
    """``||grad^2_theta L(theta)||_2`` of the square loss on ``(x, y)``; ``which="LA"`` gives the top
    eigenvalue, the smoothness ``beta`` along the trajectory."""
    return spectral_norm(loss_operator(model, x, y), method=method, which=which, tol=tol, max_iter=max_iter)


def dense_hessian(model: nn.Module, x: torch.Tensor, *, y: torch.Tensor | None = None,
                  output: int = 0) -> torch.Tensor:
    """The full Hessian, by ``torch.autograd.functional.hessian`` over the flattened ``theta`` (an independent
    route from the HVP operator): of ``f_output(theta; x)`` for one input, or of the square loss when ``y``
    is given. Run it on a float64 model for ground truth."""
    params = parameters(model)
    xb = _as_batch(model, x)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    shapes = [p.shape for p in params]
    flat = torch.cat([p.detach().reshape(-1) for p in params])

    def fn(theta):
        chunks = torch.split(theta, [s.numel() for s in shapes])
        values = {n: c.reshape(s) for n, c, s in zip(names, chunks, shapes)}
        call = lambda inp: torch.func.functional_call(model, values, (inp,))  # noqa: E731
        if y is not None:
            out = call(xb)
            return (out - y.to(out).reshape(out.shape)).pow(2).sum(-1).mean()
        if xb.shape[0] != 1:
            raise ValueError(f"dense_hessian of f takes one input, got a batch of {xb.shape[0]}")
        return call(xb)[0, output]

    return torch.autograd.functional.hessian(fn, flat)


def gbar(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``gbar = (1/n) sum_i grad_theta f(theta; x_i)``, one row per output coordinate: shape ``[k, dim]``."""
    params = parameters(model)
    xb = _as_batch(model, x)
    mean_out = model(xb).mean(dim=0)
    rows = []
    for c in range(mean_out.shape[0]):
        grads = torch.autograd.grad(mean_out[c], params, retain_graph=c + 1 < mean_out.shape[0], allow_unused=True)
        rows.append(_flatten(grads, params))
    return torch.stack(rows)


def gbar_sq(model: nn.Module, x: torch.Tensor) -> float:
    """``||gbar||^2 = sum_c ||(1/n) sum_i grad_theta f_c(theta; x_i)||^2`` (for one output: ``||gbar||^2``)."""
    return float(gbar(model, x).pow(2).sum())
