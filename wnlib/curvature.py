"""Curvature as a linear operator: Hessian-vector products of any scalar function, and
spectral norms.

Explained in: book/02_hessian.ipynb (predictor Hessian) and book/03_optimization.ipynb
(loss Hessian). The theory's Hessians (of ``f`` and of the square loss) are built from
this machinery in :mod:`wnlib.quantities`.

Predictor Hessians are indefinite and their largest-magnitude eigenvalues come in near
``+/-`` pairs (the output-layer block is zero), so spectral norms are found by
:func:`lanczos`, run in torch where the model runs (CPU or GPU), over matrix-free
Hessian-vector products; it stops only when *both* ends of the spectrum have converged.
SciPy's ARPACK (``method="arpack"``) is the reference it is tested against; power
iteration is kept as the teaching version; the dense matrix is the ground truth for tiny
networks.
"""

from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterator, NamedTuple

import numpy as np
import scipy.linalg
import torch
from torch import nn

from . import _checks

METHODS = ("lanczos", "arpack", "power", "dense")


class _ScipyOperator:
    """A SciPy ``LinearOperator`` seen through the few attributes
    :func:`spectral_norm` uses."""

    def __init__(self, linop):
        self._linop, self.dim = linop, int(linop.shape[0])
        if linop.shape != (self.dim, self.dim):
            raise ValueError(f"op.to_scipy() must be square, got shape {linop.shape}")
        self.dtype, self.device = torch.float64, torch.device("cpu")

    def matvec(self, vec: torch.Tensor) -> torch.Tensor:
        out = self._linop @ vec.detach().cpu().double().numpy()
        return torch.from_numpy(np.asarray(out, dtype=np.float64).reshape(-1))

    def to_scipy(self):
        return self._linop

    def dense(self) -> torch.Tensor:
        _checks.dense_size(self.dim, 8)
        return torch.from_numpy(
            np.asarray(self._linop @ np.eye(self.dim), dtype=np.float64)
        )


_NON_FINITE_HESSIAN = (
    "the Hessian has NaN or inf entries although its parameters are finite: the "
    "function overflows at this point (in float32, try the model in float64); no "
    "spectral norm"
)


def _one_blas_thread():
    """Limit SciPy's BLAS to one thread (``threadpoolctl`` when installed; else a
    no-op)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def parameters(model: nn.Module) -> list[torch.Tensor]:
    """``theta``: the trainable parameters of ``model``, in ``model.parameters()``
    order."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(model).__name__} has no trainable parameters")
    return params


def _flatten(grads, params) -> torch.Tensor:
    """Concatenate per-parameter gradients into one vector; an unused parameter
    (``None``) gives zeros."""
    return torch.cat(
        [
            (torch.zeros_like(p) if g is None else g).reshape(-1)
            for g, p in zip(grads, params)
        ]
    )


class HessianOperator:
    """``H = grad^2_theta fn()`` as a linear operator on flat vectors of length ``dim``.

    ``fn`` is a closure returning a scalar computed from ``params``. The gradient graph
    is built once; every product ``H v`` is one more backward pass through it
    (reverse-over-reverse), so ``H @ v`` costs about two gradients. ``to_scipy()`` gives
    a float64 ``scipy.sparse.linalg.LinearOperator``; ``dense()`` the matrix.
    ``check_finite=False`` skips the NaN/inf check of ``params`` (for callers that have
    checked them already).
    """

    def __init__(
        self,
        fn: Callable[[], torch.Tensor],
        params: list[torch.Tensor],
        *,
        check_finite: bool = True,
    ):
        self.params = list(params)
        if not self.params:
            raise ValueError(
                "params is empty: a Hessian needs at least one parameter tensor"
            )
        if check_finite:
            _check_finite(self.params)
        self.shapes = [p.shape for p in self.params]
        self.sizes = [p.numel() for p in self.params]
        self.dim = sum(self.sizes)
        ref = self.params[0]
        self.dtype, self.device = ref.dtype, ref.device
        with autograd_on():  # also inside a caller's torch.no_grad() / inference_mode()
            value = fn()
            if value.numel() != 1:
                raise ValueError(
                    f"fn must return a scalar, got a tensor of shape "
                    f"{tuple(value.shape)}"
                )
            grads = torch.autograd.grad(
                value, self.params, create_graph=True, allow_unused=True
            )
            self._flat_grad = _flatten(grads, self.params)
        self.num_matvecs = 0

    def matvec(self, vec: torch.Tensor) -> torch.Tensor:
        """``H v`` for a flat vector ``v`` (any dtype/device; the result is on the
        operator's)."""
        vec = torch.as_tensor(vec).to(device=self.device, dtype=self.dtype).reshape(-1)
        if vec.numel() != self.dim:
            raise ValueError(
                f"vec has {vec.numel()} entries but theta has dim={self.dim}"
            )
        self.num_matvecs += 1
        if not self._flat_grad.requires_grad:  # fn is linear in every parameter: H = 0
            return torch.zeros_like(vec)
        with autograd_on():
            hv = torch.autograd.grad(
                self._flat_grad,
                self.params,
                grad_outputs=vec,
                retain_graph=True,
                allow_unused=True,
            )
        return _flatten(hv, self.params)

    __matmul__ = matvec

    def to_scipy(self):
        """float64 ``LinearOperator`` for SciPy solvers."""
        from scipy.sparse.linalg import LinearOperator

        def mv(v):
            out = (
                self.matvec(torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64)))
                .double()
                .cpu()
                .numpy()
            )
            if not np.all(np.isfinite(out)):  # free: the product is on the host already
                raise FloatingPointError(_NON_FINITE_HESSIAN)
            return out

        return LinearOperator(
            (self.dim, self.dim), matvec=mv, rmatvec=mv, dtype=np.float64
        )

    def dense(self) -> torch.Tensor:
        """The full ``dim x dim`` Hessian, one column per product (tiny networks only;
        refused over ``WNLIB_MAX_DENSE_BYTES``)."""
        _checks.dense_size(self.dim, self.dtype.itemsize)
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        cols = [self.matvec(eye[i]) for i in range(self.dim)]
        h = torch.stack(cols, dim=1)
        return (h + h.T) / 2


def _check_finite(params: list[torch.Tensor]) -> None:
    """Raise naming the first of ``params`` that holds NaN or inf (one device sync
    for all of them)."""
    with torch.no_grad():
        finite = torch.stack(
            [torch.isfinite(p).all().to(params[0].device) for p in params]
        )
    if not bool(finite.all()):
        i = int((~finite).nonzero()[0, 0])
        raise ValueError(
            f"params[{i}] (shape {tuple(params[i].shape)}) holds NaN or inf: the "
            "Hessian of a non-finite network is undefined; reinitialise the model or "
            "load finite weights"
        )


@contextlib.contextmanager
def autograd_on():
    """Gradients recorded whatever the caller's mode (``torch.no_grad``,
    ``torch.inference_mode``)."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def hvp(
    model: nn.Module, fn: Callable[[], torch.Tensor], vec: torch.Tensor
) -> torch.Tensor:
    """Hessian-vector product ``grad^2_theta fn() @ vec`` over the trainable
    parameters of ``model``."""
    return HessianOperator(fn, parameters(model)).matvec(vec)


FLOAT32_VECTORS_TOL = 1e-5
"""From this ``tol`` up, :func:`lanczos` keeps its vectors in the operator's dtype
(float32 for float32 models)."""


class LanczosResult(NamedTuple):
    """What :func:`lanczos` found: the eigenvalue asked for and the products ``H v``
    it took."""

    value: float
    matvecs: int


class LanczosStep(NamedTuple):
    """One step of :func:`lanczos_steps`: the products so far, the estimate, its
    error bound, ``max|theta|``."""

    matvecs: int
    value: float
    bound: float
    scale: float
    beta: float

    def converged(self, tol: float) -> bool:
        """:func:`lanczos`'s stopping rule: error bound ``<= tol * max|theta|``, or
        an invariant subspace."""
        return (
            self.scale == 0.0
            or self.bound <= tol * self.scale
            or self.beta <= 1e-14 * self.scale
        )


def lanczos_steps(
    op,
    *,
    which: str = "LM",
    vectors: torch.dtype = torch.float64,
    seed: int = 0,
    max_iter: int = 1000,
) -> Iterator[LanczosStep]:
    """The Lanczos recurrence of :func:`lanczos`, one :class:`LanczosStep` per product
    ``H q``, never stopping by itself (at most ``min(max_iter, op.dim)`` steps; it ends
    early on an invariant subspace, ``beta = 0``).

    ``vectors``: the dtype of the Lanczos vectors. ``value`` is the largest ``|theta|``
    (``"LM"``) or largest ``theta`` (``"LA"``) of ``T_k``; ``bound`` is the absolute
    error bound of the slower converged end.
    """
    _checks.choice("which", which, ("LM", "LA"))
    _checks.floating_dtype("vectors", vectors)
    return _lanczos_steps(
        op,
        which,
        vectors,
        _checks.seed("seed", seed),
        _checks.positive_int("max_iter", max_iter),
    )


def _lanczos_steps(
    op, which: str, vectors: torch.dtype, seed: int, max_iter: int
) -> Iterator[LanczosStep]:
    """The generator behind :func:`lanczos_steps` (arguments checked by the caller)."""
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(op.dim, generator=gen, dtype=torch.float64).to(
        device=op.device, dtype=vectors
    )
    q /= q.norm()
    q_prev, beta = torch.zeros_like(q), 0.0
    alphas, betas = [], []
    for k in range(1, min(max_iter, op.dim) + 1):
        w = op.matvec(q).to(vectors)
        # torch.dot, as every stored run was computed: another reduction order changes
        # the last bits
        alpha = float(torch.dot(w, q))
        w.sub_(q, alpha=alpha).sub_(
            q_prev, alpha=beta
        )  # in place: the vectors are as long as theta
        beta = float(w.norm())
        if not (
            math.isfinite(alpha) and math.isfinite(beta)
        ):  # a NaN or inf in H q reaches both
            raise FloatingPointError(_NON_FINITE_HESSIAN)
        alphas.append(alpha)
        theta, last = _ritz(alphas, betas)
        value = float(max(-theta[0], theta[-1]) if which == "LM" else theta[-1])
        ends = (0, len(theta) - 1) if which == "LM" else (len(theta) - 1,)
        bound = max(_ritz_error(theta, beta * abs(last[j]), j) for j in ends)
        yield LanczosStep(k, value, bound, float(np.abs(theta).max()), beta)
        if beta == 0.0:
            return
        betas.append(beta)
        q_prev, q = q, w.div_(beta)


def _ritz(alphas: list, betas: list) -> tuple[np.ndarray, np.ndarray]:
    """Ritz values of ``T_k`` (ascending) and the last component of each eigenvector."""
    theta, s = scipy.linalg.eigh_tridiagonal(np.array(alphas), np.array(betas))
    return theta, s[-1]


def lanczos(
    op, *, which: str = "LM", tol: float = 1e-8, max_iter: int = 1000, seed: int = 0
) -> LanczosResult:
    """Largest ``|lambda|`` (``which="LM"``) or largest ``lambda`` (``"LA"``) of a
    symmetric operator by Lanczos.

    The three-term recurrence
    ``beta_{j+1} q_{j+1} = H q_j - alpha_j q_j - beta_j q_{j-1}`` runs on ``op``'s
    device with float64 Lanczos vectors (the products ``H q`` may be float32) and a
    float64 tridiagonal ``T_k``, without re-orthogonalization: the extreme Ritz values
    keep their accuracy and lost orthogonality only repeats converged ones, so the
    largest ``|theta|`` is unaffected (measured: the same errors with and without). For
    ``tol >= 1e-5`` the vectors are in the operator's dtype instead (float32 vectors
    stall near a relative error of 3e-6 at the paper's width). A Ritz value ``theta`` of
    ``T_k`` with residual ``r = beta_{k+1} |s_k|`` and gap ``delta`` to the next Ritz
    value is within ``min(r, r^2/delta)`` of an eigenvalue; an end of the spectrum has
    converged when that is ``<= tol * max|theta|``. ``"LM"`` waits for *both* ends (the
    guard for ``+/-`` pairs: the end that converges first need not be the larger one);
    ``"LA"`` for the top end. One product per step, three vectors of memory.
    """
    _, which, tol, max_iter, seed = check_solver("lanczos", which, tol, max_iter, seed)
    return _lanczos(op, which, tol, max_iter, seed)


def _lanczos(op, which: str, tol: float, max_iter: int, seed: int) -> LanczosResult:
    """:func:`lanczos` with its arguments checked by the caller."""
    tol = max(tol, 4 * np.finfo(np.float64).eps)  # tol=0: to float64 machine precision
    vectors = torch.float64 if tol < FLOAT32_VECTORS_TOL else op.dtype
    step = None
    for step in _lanczos_steps(op, which, vectors, seed, max_iter):
        if step.converged(tol):
            return LanczosResult(step.value, step.matvecs)
    if (
        step.matvecs == op.dim
    ):  # the Krylov space is the whole space: T_k holds the spectrum
        return LanczosResult(step.value, step.matvecs)
    raise ArithmeticError(
        f"Lanczos did not reach tol={tol:g} in max_iter={max_iter} products (estimate "
        f"{step.value:.8g}, relative error bound {step.bound / step.scale:.1e}): raise "
        f"max_iter or tol"
    )


def _ritz_error(theta: np.ndarray, residual: float, j: int) -> float:
    """``min(r, r^2 / gap)``: how far Ritz value ``theta[j]`` with residual ``r`` can
    be from an eigenvalue."""
    gaps = np.abs(np.delete(theta, j) - theta[j])
    if (
        not gaps.size or gaps.min() == 0
    ):  # no second Ritz value yet, or a repeated one: the residual alone
        return residual
    return min(residual, residual**2 / float(gaps.min()))


def spectral_norm(
    op,
    *,
    method: str = "lanczos",
    tol: float = 1e-10,
    max_iter: int = 1000,
    which: str = "LM",
    seed: int = 0,
) -> float:
    """Largest ``|lambda|`` of a symmetric operator (``which="LA"``: largest algebraic
    ``lambda``).

    ``op``: a :class:`HessianOperator`, or any symmetric operator with ``.to_scipy()``
    returning a SciPy ``LinearOperator`` (e.g. curvlinops' Hessian, GGN or KFAC
    operators; ``lanczos`` or ``arpack`` then).

    ``lanczos``: :func:`lanczos`, relative error estimate ``<= tol``, both ends of the
    spectrum converged; ``arpack``: SciPy's ``eigsh`` (ARPACK, both ends, residual
    ``<= tol``), the reference; ``power``: power iteration on ``H``, reporting
    ``||H v_t||`` (which converges to ``|lambda|_max`` even when ``+/-lambda`` pairs
    tie), stopped when it changes by less than ``tol`` relatively; ``dense``:
    ``eigvalsh`` of the matrix.
    """
    method, which, tol, max_iter, seed = check_solver(
        method, which, tol, max_iter, seed
    )
    if not isinstance(op, HessianOperator):
        if not callable(getattr(op, "to_scipy", None)):
            raise TypeError(
                "op must be a wnlib.HessianOperator or a symmetric operator with "
                f".to_scipy() (e.g. a curvlinops operator), got {type(op).__name__}"
            )
        if method not in ("lanczos", "arpack"):
            raise ValueError(
                f"method must be 'lanczos' or 'arpack' for a {type(op).__name__} "
                f"(power and dense need a wnlib.HessianOperator), got {method!r}"
            )
        op = _ScipyOperator(op.to_scipy())
    return spectral_norm_unchecked(op, method, which, tol, max_iter, seed)


def check_solver(
    method, which, tol, max_iter, seed=0
) -> tuple[str, str, float, int, int]:
    """The settings of :func:`spectral_norm`, checked (each error names its argument
    and what it accepts)."""
    checked = (
        _checks.choice("method", method, METHODS),
        _checks.choice("which", which, ("LM", "LA")),
        _checks.positive_float("tol", tol, allow_zero=True),
        _checks.positive_int("max_iter", max_iter),
        _checks.seed("seed", seed),
    )
    if method == "power" and which == "LA":
        raise ValueError(
            "method='power' finds the largest |lambda| only; use which='LM' or "
            "method='lanczos'"
        )
    return checked


def spectral_norm_unchecked(
    op, method: str, which: str, tol: float, max_iter: int, seed: int
) -> float:
    """:func:`spectral_norm` of a :class:`HessianOperator` (or the SciPy wrapper) whose
    settings the caller has checked (:func:`check_solver`): wnlib's own measurements
    call this once per operator."""
    if method == "dense" or (method in ("lanczos", "arpack") and op.dim <= 24):
        return _dense_norm(op, which)
    if method == "lanczos":
        return _lanczos(op, which, tol, max_iter, seed).value
    if method == "arpack":
        return _arpack(op, which=which, tol=tol, max_iter=max_iter, seed=seed)
    return _power(op, tol=tol, max_iter=max_iter, seed=seed)


def _arpack(op, *, which: str, tol: float, max_iter: int, seed: int) -> float:
    """SciPy's ``eigsh`` on ``op.to_scipy()``: both ends of the spectrum (``"BE"``,
    ``k=2``) for ``"LM"``."""
    from scipy.sparse.linalg import ArpackError, eigsh

    v0 = np.random.default_rng(seed).standard_normal(op.dim)
    try:
        # ARPACK's vector work is memory-bound; SciPy's multithreaded BLAS there only
        # competes with the torch threads computing the HVPs (bench/spectral.py measures
        # both)
        with _one_blas_thread():
            vals = eigsh(
                op.to_scipy(),
                k=2 if which == "LM" else 1,
                which="BE" if which == "LM" else "LA",
                tol=tol,
                maxiter=max_iter,
                v0=v0,
                ncv=min(op.dim - 1, 24),
                return_eigenvectors=False,
            )
    except ArpackError:
        # ARPACK stops when the Krylov space is exhausted (a Hessian of rank < ncv, e.g.
        # ReLU nets): the dense route is exact there
        if op.dim > 4096:
            raise
        return _dense_norm(op, which)
    return float(np.abs(vals).max() if which == "LM" else vals.max())


def _dense_norm(op, which: str) -> float:
    """``eigvalsh`` of the full matrix (tiny operators): largest ``|lambda|`` or
    largest ``lambda``."""
    dense = op.dense().double()
    if not bool(torch.isfinite(dense).all()):
        raise FloatingPointError(_NON_FINITE_HESSIAN)
    eig = torch.linalg.eigvalsh(dense)
    return float(eig.abs().max() if which == "LM" else eig.max())


def _power(op, *, tol: float, max_iter: int, seed: int) -> float:
    """Power iteration: ``v <- H v / ||H v||``, returning ``||H v||`` once it changes
    by ``<= tol`` relatively."""
    rng = np.random.default_rng(seed)
    v = torch.from_numpy(rng.standard_normal(op.dim)).to(
        device=op.device, dtype=op.dtype
    )
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
