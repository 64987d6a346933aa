"""WNLinear against PyTorch's own weight_norm; scale invariance; the MLP's structure and init."""
import copy
import math
import pickle

import pytest
import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

import wnlib


@pytest.mark.parametrize("d_in,d_out,bias", [(3, 2, False), (7, 5, True), (16, 1, True), (1, 9, False)])
def test_wnlinear_equals_pytorch_weight_norm(d_in, d_out, bias, float64):
    torch.manual_seed(d_in * 10 + d_out)
    ours = wnlib.WNLinear(d_in, d_out, gain_init="norm", train_gain=True, bias=bias)
    ref = weight_norm(nn.Linear(d_in, d_out, bias=bias), dim=0)
    with torch.no_grad():
        ref.parametrizations.weight.original1.copy_(ours.v)          # direction v
        ref.parametrizations.weight.original0.copy_(ours.g[:, None])  # gain g (PyTorch starts it at ||v||)
        if bias:
            ref.bias.copy_(ours.bias)
    assert torch.allclose(ref.parametrizations.weight.original0.flatten(), ours.v.norm(dim=1))
    x = torch.randn(11, d_in)
    out_ours, out_ref = ours(x), ref(x)
    assert torch.allclose(out_ours, out_ref, rtol=1e-12, atol=1e-12)
    w = torch.randn_like(out_ours)
    (out_ours * w).sum().backward()
    (out_ref * w).sum().backward()
    assert torch.allclose(ours.v.grad, ref.parametrizations.weight.original1.grad, rtol=1e-10, atol=1e-12)
    assert torch.allclose(ours.g.grad, ref.parametrizations.weight.original0.grad.flatten(), rtol=1e-10, atol=1e-12)
    if bias:
        assert torch.allclose(ours.bias.grad, ref.bias.grad)


def test_wnlinear_fixed_gain_is_a_buffer():
    layer = wnlib.WNLinear(4, 3, gain=2.0)
    assert [n for n, _ in layer.named_parameters()] == ["v"]
    assert torch.equal(layer.g, torch.full((3,), 2.0))
    assert torch.allclose(layer.weight().norm(dim=1), torch.full((3,), 2.0))


def test_wnlinear_works_with_torch_func_copy_and_pickle():
    torch.manual_seed(0)
    layer = wnlib.WNLinear(5, 4, train_gain=True, gain_init="norm")
    x = torch.randn(3, 5)
    params = dict(layer.named_parameters())
    tangent = {k: torch.randn_like(v) for k, v in params.items()}
    f = lambda p: torch.func.functional_call(layer, p, (x,))  # noqa: E731
    out, jvp_out = torch.func.jvp(f, (params,), (tangent,))
    _, vjp_fn = torch.func.vjp(f, params)
    (cot,) = vjp_fn(torch.ones_like(out))
    batched = torch.func.vmap(lambda xi: torch.func.functional_call(layer, params, (xi,)))(x)
    assert torch.allclose(batched, out)
    # jvp against a finite difference
    eps = 1e-3
    fd = (f({k: v + eps * tangent[k] for k, v in params.items()}) - f({k: v - eps * tangent[k] for k, v in params.items()})) / (2 * eps)
    assert torch.allclose(jvp_out, fd, rtol=1e-3, atol=1e-4)
    # double backward
    g = torch.autograd.grad(layer(x).sum(), layer.v, create_graph=True)[0]
    (g.pow(2).sum()).backward()
    assert layer.v.grad is not None and torch.isfinite(layer.v.grad).all()
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert torch.equal(clone(x), layer(x))
    assert set(cot) == {"v", "g"}


def _mlp(**kw):
    args = dict(d_in=6, width=8, depth=3, d_out=2, seed=0)
    args.update(kw)
    return wnlib.WeightNormMLP(**args)


def test_fixed_gains_make_f_invariant_to_row_scale(float64):
    model = _mlp(activation="softplus")
    x = torch.randn(5, 6)
    before = model(x).detach()
    with torch.no_grad():
        for layer in model.hidden:
            layer.v.mul_(torch.rand(layer.v.shape[0], 1) * 10 + 0.01)  # a different factor for each row
    assert torch.allclose(model(x), before, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("activation", wnlib.SMOOTH_ACTIVATIONS)
def test_gradient_is_orthogonal_to_each_row(activation, float64):
    """<grad_{v_i} f, v_i> = 0 for every row (chapter 1, scale invariance), for f and for the loss."""
    model = _mlp(activation=activation, init_mode="c*sqrt(m)")
    x, y = torch.randn(7, 6), torch.randn(7, 2)
    for scalar in (model(x)[:, 1].sum(), wnlib.square_loss(model, x, y)):
        grads = torch.autograd.grad(scalar, [l.v for l in model.hidden])
        for layer, grad in zip(model.hidden, grads):
            inner = (grad * layer.v).sum(dim=1)
            scale = grad.norm(dim=1) * layer.v.norm(dim=1)
            assert (inner.abs() <= 1e-12 * scale + 1e-15).all()
            assert grad.norm() > 0


def test_rescaling_rows_divides_gradient_and_hessian_blocks(float64):
    """Rows scaled by c: f unchanged, hidden gradient / c, hidden-hidden Hessian / c^2 (chapter 2, the normalization map)."""
    model = _mlp(depth=1, width=3, d_in=2, d_out=1)
    x = torch.randn(2)
    h0 = wnlib.dense_hessian(model, x)
    assert [n for n, _ in model.named_parameters()] == ["V", "hidden.0.v"]  # theta = (V, v): V's block first
    k = model.V.numel()
    g0 = torch.autograd.grad(model(x[None])[0, 0], model.hidden[0].v)[0]
    wnlib.rescale_rows(model, factor=4.0)
    h1 = wnlib.dense_hessian(model, x)
    g1 = torch.autograd.grad(model(x[None])[0, 0], model.hidden[0].v)[0]
    assert torch.allclose(g1, g0 / 4)
    assert torch.allclose(h1[k:, k:], h0[k:, k:] / 16)  # hidden-hidden block / c^2
    assert torch.allclose(h1[:k, k:], h0[:k, k:] / 4)   # output-hidden block / c
    assert torch.count_nonzero(h0[:k, :k]) == 0         # f is linear in V


def test_init_bounds_and_gain_presets():
    for mode, bound in (("c/sqrt(m)", 0.5 / 8), ("c*sqrt(m)", 0.5 * 8)):
        model = _mlp(width=64, init_mode=mode, init_scale=0.5, gains="pytorch")
        assert model.init_bound == pytest.approx(bound)
        for p in (model.hidden[1].v, model.V):
            assert p.abs().max() <= bound and p.abs().max() > 0.9 * bound
        for layer in model.hidden:  # pytorch preset: trainable gains at the row norms, f depends on the scale
            assert isinstance(layer.g, nn.Parameter)
            assert torch.allclose(layer.g, layer.v.norm(dim=1))
    fixed = _mlp(gains="fixed")
    assert all(torch.equal(l.g, torch.ones(8)) for l in fixed.hidden)
    assert not any("g" in n for n, _ in fixed.named_parameters())


def test_forward_formula_by_hand(float64):
    model = _mlp(depth=2, activation="tanh")
    x = torch.randn(4, 6)
    a = x
    for layer in model.hidden:
        u = layer.v / layer.v.norm(dim=1, keepdim=True)
        a = torch.tanh(a @ u.T)
    assert torch.allclose(model(x), a @ model.V / math.sqrt(8))


def test_same_seed_same_init_and_plain_mlp():
    a, b = _mlp(seed=3), _mlp(seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    plain = wnlib.PlainMLP(6, 8, 3, 2, seed=3)
    assert [n for n, _ in plain.named_parameters()] == ["V", "hidden.0.weight", "hidden.1.weight", "hidden.2.weight"]
    x = torch.randn(3, 6)
    a_ = x
    for layer in plain.hidden:
        a_ = torch.tanh(a_ @ layer.weight.T)
    assert torch.allclose(plain(x), a_ @ plain.V / math.sqrt(8))


def test_plain_and_weightnorm_mlps_are_siblings_with_the_same_draws():
    """PlainMLP is not a WeightNormMLP (the bounds refuse it by type alone); both are an MLP, and with one seed
    they draw the same numbers: W^(l) of the plain network is v^(l) of the weight-normalized one."""
    from wnlib.model import MLP

    wn, plain = wnlib.WeightNormMLP(6, 8, 3, 2, seed=3), wnlib.PlainMLP(6, 8, 3, 2, seed=3)
    assert isinstance(wn, MLP) and isinstance(plain, MLP)
    assert not isinstance(plain, wnlib.WeightNormMLP) and not isinstance(wn, wnlib.PlainMLP)
    assert (wn.normalized, plain.normalized) == (True, False)
    assert torch.equal(wn.V, plain.V)
    assert all(torch.equal(a.v, b.weight) and a.direction is a.v and b.direction is b.weight
               for a, b in zip(wn.hidden, plain.hidden))
    with pytest.raises(NotImplementedError, match="use WeightNormMLP or PlainMLP"):
        MLP(6, 8, 3, 2)


def test_row_norms_and_rho_min_come_from_v():
    model = _mlp(gains="pytorch")
    with torch.no_grad():
        model.hidden[1].v[2].mul_(0.01)
        model.hidden[1].g.fill_(7.0)  # the effective weight's row norms are g, not the normalization terms
    norms = wnlib.row_norms(model)
    assert len(norms) == 3
    assert torch.allclose(norms[1], model.hidden[1].v.norm(dim=1))
    assert wnlib.rho_min(model) == pytest.approx(float(model.hidden[1].v[2].norm()))
    assert wnlib.rho_min_per_layer(model)[1] == pytest.approx(wnlib.rho_min(model))
    wnlib.rescale_rows(model, rho=2.5)
    assert all(torch.allclose(r, torch.full_like(r, 2.5)) for r in wnlib.row_norms(model))


def test_scale_output_decides_whether_V_follows_the_init_scale(float64):
    """scale_output=True: every layer at c, so with fixed gains f(c) = (c / c0) f(c0) exactly (alpha is invariant
    to the row scale, V is proportional to c). scale_output=False: V stays at 0.5, f does not depend on c."""
    x = torch.randn(6, 7, generator=torch.Generator().manual_seed(0))
    nets = {(c, s): wnlib.WeightNormMLP(7, 16, 2, 3, init_scale=c, scale_output=s, seed=4)
            for c in (0.5, 5.0) for s in (True, False)}
    torch.testing.assert_close(nets[5.0, True](x), 10 * nets[0.5, True](x), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(nets[5.0, False](x), nets[0.5, False](x), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(nets[5.0, False].V, nets[0.5, True].V)
    assert wnlib.rho_min(nets[5.0, False]) == pytest.approx(10 * wnlib.rho_min(nets[0.5, False]), rel=1e-12)
    assert nets[5.0, False].output_bound == nets[0.5, True].init_bound
    assert "scale_output=False" in repr(nets[5.0, False])
    with pytest.raises(ValueError, match="scale_output must be one of True, False"):
        wnlib.WeightNormMLP(7, 16, 2, 3, scale_output="yes")


def test_dtype_and_device_at_construction():
    net = wnlib.WeightNormMLP(3, 4, 1, 1, seed=0, dtype=torch.float64, device="cpu")
    assert all(p.dtype == torch.float64 for p in net.parameters())
    ref = wnlib.WeightNormMLP(3, 4, 1, 1, seed=0).double()
    torch.testing.assert_close(net.V, ref.V, rtol=0, atol=0)


def test_square_loss_of_a_model_returning_one_value_per_input():
    """A model with outputs [N] and targets [N]: the mean of squared errors, not N times it."""
    x, y = torch.randn(10, 3), torch.randn(10)
    net = torch.nn.Linear(3, 1)
    flat = lambda inp: net(inp)[:, 0]  # noqa: E731
    expected = ((net(x)[:, 0] - y) ** 2).mean()
    torch.testing.assert_close(wnlib.square_loss(flat, x, y), expected)
    torch.testing.assert_close(wnlib.square_loss(net, x, y), expected)
    with pytest.raises(ValueError, match="y has shape"):
        wnlib.square_loss(net, x, torch.randn(10, 2))
