"""Our reconstruction of the paper's network: weight-normalized layers and the deep MLP
built from them.

Explained in: book/01_weightnorm.ipynb (the model, "Our reconstruction of the paper's
network") and book/02_hessian.ipynb (why the row norms matter). Input ``x`` in R^d,
width ``m``, depth ``L``, ``k`` outputs::

    alpha^(0) = x
    alpha^(l) = phi( diag(g^(l)) U^(l) alpha^(l-1) ),
        U^(l) rows = v_i^(l) / ||v_i^(l)||,  l = 1..L
    f(theta; x) = (1/sqrt(m)) V^T alpha^(L)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks

ACTIVATIONS = {
    "tanh": torch.tanh,
    "softplus": F.softplus,
    "gelu": F.gelu,
    "sigmoid": torch.sigmoid,
    "relu": F.relu,
}
"""Activations by name. ``relu`` is not smooth: it lies outside the paper's theorems."""

SMOOTH_ACTIVATIONS = ("tanh", "softplus", "gelu", "sigmoid")


def phi_derivs(
    name: str, z: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``phi(z), phi'(z), phi''(z)`` of the activation ``name`` exactly as the model
    evaluates it (autograd, elementwise; ``phi''`` is zero where autograd has no
    second derivative)."""
    with torch.enable_grad():
        z = z.detach().clone().requires_grad_(True)
        y = ACTIVATIONS[name](z)
        (d1,) = torch.autograd.grad(y.sum(), z, create_graph=True)
        (d2,) = torch.autograd.grad(d1.sum(), z, allow_unused=True)
    d2 = torch.zeros_like(z) if d2 is None else d2
    return y.detach(), d1.detach(), d2.detach()


INIT_MODES = ("c/sqrt(m)", "c*sqrt(m)")
GAIN_PRESETS = ("fixed", "pytorch")
OUTPUT_INIT_SCALE = 0.5
"""Init scale of the output layer ``V`` when it does not follow ``init_scale``
(``scale_output=False``)."""


def _is_transformed(t: torch.Tensor) -> bool:
    """True inside torch.func transforms (vmap, jvp, grad), where data-dependent
    checks are not allowed."""
    is_wrapped = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None)
    return bool(is_wrapped and is_wrapped(t))


def _inverse_row_norms(v: torch.Tensor) -> torch.Tensor:
    """``1/||v_i||`` for every row of ``v``, as ``(sum_j v_ij^2)^(-1/2)``; raises on a
    zero or non-finite row instead of returning NaN later.

    Written with a square, a sum and a power, whose derivatives are single elementwise
    products, so that Hessian-vector products through it are cheaper than through
    ``torch.linalg.vector_norm`` (bench/hvp.py)."""
    squares = (v * v).sum(dim=1)
    if not (_is_transformed(squares) or torch.compiler.is_compiling()):
        bad = (squares == 0) | ~torch.isfinite(squares)
        if bool(bad.any()):  # one check for both failures; the message tells them apart
            zero = torch.nonzero(squares == 0).flatten().tolist()
            if zero and bool((v[zero] == 0).all()):
                raise ValueError(
                    f"v has zero rows {zero[:10]}: the direction v_i/||v_i|| of a "
                    "weight-normalized neuron is undefined when ||v_i|| = 0; give "
                    "every row of v a nonzero norm"
                )
            rows = torch.nonzero(bad).flatten().tolist()
            raise FloatingPointError(
                f"rows {rows[:10]} of v have non-finite or zero norms in {v.dtype} "
                "(NaN, overflow to inf or underflow to 0): the parameters diverged or "
                "are outside this dtype's range"
            )
    return squares.pow(-0.5)


class WNLinear(nn.Module):
    """Weight-normalized linear layer: ``y = (g * v / ||v||_row) x (+ b)``.

    Parameters ``v`` [out, in] (the direction) and ``g`` [out] (the gain). The gain is a
    fixed buffer unless ``train_gain``; ``gain_init="norm"`` starts it at the row norms
    of ``v`` (what
    ``torch.nn.utils.parametrizations.weight_norm(nn.Linear(...), dim=0)`` does),
    otherwise at ``gain``. Written with plain tensor ops, so torch.func transforms,
    double backward, deepcopy and pickling work.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        gain: float = 1.0,
        train_gain: bool = False,
        gain_init: str | None = None,
        bias: bool = False,
    ):
        super().__init__()
        self.in_features = _checks.positive_int("in_features", in_features)
        self.out_features = _checks.positive_int("out_features", out_features)
        if gain_init is not None:
            _checks.choice("gain_init", gain_init, ("norm", None))
        gain = _checks.finite_float("gain", gain)
        bound = 1.0 / math.sqrt(in_features)  # nn.Linear's default init
        self.v = nn.Parameter(
            torch.empty(out_features, in_features).uniform_(-bound, bound)
        )
        g = torch.full((out_features,), float(gain))
        self.gain_init = gain_init
        if train_gain:
            self.g = nn.Parameter(g)
        else:
            self.register_buffer("g", g)
        self.bias = (
            nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
            if bias
            else None
        )
        self.reset_gain()

    @torch.no_grad()
    def reset_gain(self) -> None:
        """With ``gain_init="norm"``, set ``g`` to the current row norms of ``v``."""
        if self.gain_init == "norm":
            self.g.copy_(torch.linalg.vector_norm(self.v, dim=1))

    @property
    def direction(self) -> torch.Tensor:
        """The direction parameter ``v``, whose row norms are the normalization
        terms."""
        return self.v

    def weight(self) -> torch.Tensor:
        """The effective weight ``diag(g) U`` with ``U_i = v_i / ||v_i||``."""
        return self.g[:, None] * self.v * _inverse_row_norms(self.v)[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (g_i v_i/||v_i||) . x = (v_i . x) * g_i/||v_i||: scale the outputs instead of
        # forming the weight, the same function with less elementwise work on
        # weight-sized tensors (bench/: epoch, hvp)
        out = F.linear(x, self.v) * (self.g * _inverse_row_norms(self.v))
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        trained = isinstance(self.g, nn.Parameter)
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"train_gain={trained}, bias={self.bias is not None}"
        )


class _PlainLinear(nn.Module):
    """Un-normalized layer ``y = W x (+ b)``, the comparison point for WNLinear."""

    def __init__(self, in_features: int, out_features: int, *, bias: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    @property
    def direction(self) -> torch.Tensor:
        """The rows whose norms the book tracks: the weight ``W`` itself."""
        return self.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class MLP(nn.Module):
    """The deep network of book/01_weightnorm.ipynb,
    ``f(x) = (1/sqrt(m)) V^T alpha^(L)``, with the hidden layers its subclass builds:
    :class:`WeightNormMLP` (the paper's) or :class:`PlainMLP` (no normalization).

    ``depth`` hidden layers of ``width`` neurons, activation ``phi``, a linear output
    layer ``V`` (m x k) that is not normalized. Every weight is drawn i.i.d. uniform on
    ``[-b, b]`` with ``b = c/sqrt(m)`` (``init_mode="c/sqrt(m)"``) or ``b = c*sqrt(m)``
    (``"c*sqrt(m)"``), ``c = init_scale``.

    What the init scale moves: with ``scale_output=True`` (our reading of the record's
    i.i.d. uniform init of the weights, which does not say whether ``V`` follows the
    scale) every layer, ``V`` included, is drawn at ``c``, so ``f`` at init is
    multiplied by ``c``. With ``scale_output=False`` only the hidden rows follow ``c``;
    ``V`` is drawn at :data:`OUTPUT_INIT_SCALE`, so with fixed gains ``f`` does not
    depend on ``c`` and only the normalization terms move (book/02_hessian.ipynb).
    ``seed`` makes the initialisation independent of the global random state;
    ``dtype``/``device`` place it. ``gains`` is checked here and used by
    :class:`WeightNormMLP` only.
    """

    normalized: bool
    """Whether the hidden layers are weight-normalized (set by each subclass)."""

    def __init__(
        self,
        d_in: int,
        width: int,
        depth: int,
        d_out: int,
        *,
        activation: str = "tanh",
        init_scale: float = 0.5,
        init_mode: str = "c/sqrt(m)",
        scale_output: bool = True,
        gains: str = "fixed",
        bias: bool = False,
        seed: int | None = None,
        dtype=None,
        device=None,
    ):
        super().__init__()
        self.d_in = _checks.positive_int("d_in", d_in)
        self.width = _checks.positive_int("width", width)
        self.depth = _checks.positive_int("depth", depth)
        self.d_out = _checks.positive_int("d_out", d_out)
        _checks.model_size(
            self.d_in, self.width, self.depth, self.d_out
        )  # before allocating
        self.activation = _checks.choice("activation", activation, tuple(ACTIVATIONS))
        self.init_scale = _checks.positive_float("init_scale", init_scale)
        self.init_mode = _checks.choice("init_mode", init_mode, INIT_MODES)
        self.gains = _checks.choice("gains", gains, GAIN_PRESETS)
        self.scale_output = _checks.choice("scale_output", scale_output, (True, False))
        seed = _checks.seed("seed", seed, allow_none=True)
        _checks.floating_dtype("dtype", dtype)
        self.phi = ACTIVATIONS[activation]
        self.hidden = nn.ModuleList(
            self._layer(d_in if l == 0 else width, width, bias) for l in range(depth)
        )
        self.V = nn.Parameter(torch.empty(width, d_out))
        self.reset_parameters(seed)
        if dtype is not None or device is not None:
            self.to(device=device, dtype=dtype)
            if dtype is not None:
                self._check_init()

    def _layer(self, d_in: int, d_out: int, bias: bool) -> nn.Module:
        """One hidden layer ``d_in -> d_out`` (built by each subclass)."""
        raise NotImplementedError(
            f"{type(self).__name__} must define _layer: use WeightNormMLP or PlainMLP"
        )

    def _reset_gains(self) -> None:
        """Set the gains to their preset after the weights are drawn (a network
        without gains has nothing to do)."""

    def _bound(self, c: float) -> float:
        m = self.width
        return c / math.sqrt(m) if self.init_mode == "c/sqrt(m)" else c * math.sqrt(m)

    @property
    def init_bound(self) -> float:
        """Half-width ``b`` of the uniform initialisation of the hidden rows."""
        return self._bound(self.init_scale)

    @property
    def output_bound(self) -> float:
        """Half-width of the uniform initialisation of ``V`` (``init_bound`` when
        ``scale_output``)."""
        return self._bound(self.init_scale if self.scale_output else OUTPUT_INIT_SCALE)

    @torch.no_grad()
    def reset_parameters(self, seed: int | None = None) -> None:
        """Draw every weight (and bias) i.i.d. uniform on ``[-b, b]``; gains follow
        their preset."""
        seed = _checks.seed("seed", seed, allow_none=True)
        gen = None if seed is None else torch.Generator().manual_seed(seed)
        big = (
            torch.finfo(torch.get_default_dtype()).max / 2
        )  # uniform_ draws lo + (hi - lo) u
        for what, b in (("hidden", self.init_bound), ("output", self.output_bound)):
            if not b < big:
                raise ValueError(
                    f"init_scale={self.init_scale!r} makes the {what} init bound b = "
                    f"{b:.3g} overflow {torch.get_default_dtype()} (the weights are "
                    f"drawn in the default dtype, up to {big:.3g}): use a smaller "
                    f"init_scale"
                )
        for p in self.parameters():
            b = self.output_bound if p is self.V else self.init_bound
            p.copy_(torch.empty(p.shape).uniform_(-b, b, generator=gen))
        self._reset_gains()
        self._check_init()

    @torch.no_grad()
    def _check_init(self) -> None:
        """Raise naming ``init_scale`` when the drawn rows overflow to inf or
        underflow to zero norm."""
        for l, layer in enumerate(self.hidden):
            v = layer.direction
            norms = torch.linalg.vector_norm(v, dim=1)
            for bad, cause in (
                ((norms == 0).any(), "underflow to 0 (use a larger init_scale)"),
                (
                    (~torch.isfinite(norms)).any(),
                    "overflow to inf (use a smaller init_scale)",
                ),
            ):
                if bool(bad):
                    raise ValueError(
                        f"init_scale={self.init_scale!r} (init bound b = "
                        f"{self.init_bound:.3g}, {self.init_mode}, width {self.width}) "
                        f"makes row norms of hidden layer {l + 1} {cause} in {v.dtype}"
                    )
        V = self.V
        if not bool(torch.isfinite(V).all()):
            raise ValueError(
                f"init_scale={self.init_scale!r} makes the output layer V overflow to "
                f"inf in {V.dtype} (bound {self.output_bound:.3g}); use a smaller "
                f"init_scale"
            )
        if self.output_bound > 0 and not bool((V != 0).any()):
            raise ValueError(
                f"init_scale={self.init_scale!r} makes the output layer V underflow to "
                f"0 in {V.dtype} (bound {self.output_bound:.3g}); use a larger "
                f"init_scale"
            )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Last hidden representation ``alpha^(L)``."""
        if x.shape[-1] != self.d_in:
            raise ValueError(
                f"x has {x.shape[-1]} features but the model expects d_in={self.d_in}"
            )
        a = x
        for layer in self.hidden:
            a = self.phi(layer(a))
        return a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x) @ self.V / math.sqrt(self.width)

    def extra_repr(self) -> str:
        return (
            f"d_in={self.d_in}, width={self.width}, depth={self.depth}, "
            f"d_out={self.d_out}, activation={self.activation!r}, "
            f"init_scale={self.init_scale}, init_mode={self.init_mode!r}, "
            f"scale_output={self.scale_output}, gains={self.gains!r}"
        )


class WeightNormMLP(MLP):
    """Deep WeightNorm network of book/01_weightnorm.ipynb: the :class:`MLP` with
    weight-normalized hidden layers (:class:`WNLinear`),
    ``alpha^(l) = phi(diag(g^(l)) U^(l) alpha^(l-1))``.

    ``gains="fixed"``: ``g = 1`` and not trained (``f`` is invariant to the scale of
    each row); ``gains="pytorch"``: ``g`` trained, initialised to the row norms
    (PyTorch's ``weight_norm``).
    """

    normalized = True

    def _layer(self, d_in: int, d_out: int, bias: bool) -> nn.Module:
        pytorch = self.gains == "pytorch"
        return WNLinear(
            d_in,
            d_out,
            train_gain=pytorch,
            gain_init="norm" if pytorch else None,
            bias=bias,
        )

    def _reset_gains(self) -> None:
        for layer in self.hidden:
            if layer.gain_init is None:
                layer.g.fill_(1.0)
            layer.reset_gain()


class PlainMLP(MLP):
    """The same network without normalization: ``alpha^(l) = phi(W^(l) alpha^(l-1))``,
    same init.

    Accepts the same arguments as :class:`WeightNormMLP`; ``gains`` has no effect (there
    are none).
    """

    normalized = False

    def _layer(self, d_in: int, d_out: int, bias: bool) -> nn.Module:
        return _PlainLinear(d_in, d_out, bias=bias)


@torch.no_grad()
def rescale_rows(
    model: nn.Module, rho: float | None = None, *, factor: float | None = None
) -> nn.Module:
    """Rescale every hidden row ``v_i`` in place: to norm ``rho`` or by ``factor``.

    With fixed gains the function ``f`` is unchanged (scale invariance); only the
    normalization terms move.
    """
    if (rho is None) == (factor is None):
        raise ValueError(
            "give exactly one of rho (a target row norm) or factor (a multiplier)"
        )
    target = _checks.positive_float(
        "rho" if rho is not None else "factor", rho if rho is not None else factor
    )
    for layer in model.hidden:
        v = layer.direction
        if rho is not None:
            v.mul_(target * _inverse_row_norms(v)[:, None])
        else:
            v.mul_(target)
    return model
