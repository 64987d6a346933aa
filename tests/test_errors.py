"""Bad input: a ValueError/TypeError that names the argument and the accepted values; never a silent NaN."""
import math

import pytest
import torch

import wnlib

DIGITS = None


def digits():
    global DIGITS
    if DIGITS is None:
        DIGITS = wnlib.load_dataset("digits", n_train=64, n_test=32)
    return DIGITS


@pytest.mark.parametrize("kw,exc,words", [
    (dict(width=0), ValueError, ["width", "> 0"]),
    (dict(width=2.5), TypeError, ["width", "int"]),
    (dict(width=True), TypeError, ["width"]),
    (dict(depth=-1), ValueError, ["depth", "> 0"]),
    (dict(depth="3"), TypeError, ["depth"]),
    (dict(activation="swish"), ValueError, ["activation", "'tanh'", "'relu'"]),
    (dict(init_mode="xavier"), ValueError, ["init_mode", "'c/sqrt(m)'", "'c*sqrt(m)'"]),
    (dict(gains="learned"), ValueError, ["gains", "'fixed'", "'pytorch'"]),
    (dict(init_scale=0.0), ValueError, ["init_scale", "> 0"]),
    (dict(init_scale=-1.0), ValueError, ["init_scale"]),
    (dict(init_scale=math.inf), ValueError, ["init_scale", "finite"]),
    (dict(init_scale=math.nan), ValueError, ["init_scale", "finite"]),
])
def test_model_arguments(kw, exc, words):
    args = dict(d_in=4, width=8, depth=2, d_out=3)
    args.update(kw)
    for cls in (wnlib.WeightNormMLP, wnlib.PlainMLP):
        with pytest.raises(exc) as info:
            cls(**args)
        for w in words:
            assert w in str(info.value)


def test_unknown_dataset_and_normalization():
    with pytest.raises(ValueError, match="name must be one of 'digits', 'mnist', 'fashion-mnist', 'cifar10', 'teacher'"):
        wnlib.load_dataset("imagenet")
    with pytest.raises(ValueError, match="normalize must be one of"):
        wnlib.load_dataset("digits", normalize="whiten")
    with pytest.raises(ValueError, match="n_train=5000 but the split has only"):
        wnlib.load_dataset("digits", n_train=5000)
    with pytest.raises(ValueError, match="name must be one of"):
        wnlib.dataset_available("svhn")


@pytest.mark.parametrize("kw,words", [
    (dict(lr=0.0), ["lr", "> 0"]), (dict(lr=-1e-3), ["lr"]), (dict(lr=math.nan), ["lr", "finite"]),
    (dict(batch_size=0), ["batch_size", "> 0"]), (dict(epochs=-1), ["epochs", ">= 0"]),
    (dict(tracking=("loss", "sharpness")), ["tracking", "TrackSpec"]),
])
def test_train_arguments(kw, words):
    data = digits()
    model = wnlib.WeightNormMLP(64, 8, 1, 10)
    args = dict(epochs=1, progress=False)
    args.update(kw)
    with pytest.raises((ValueError, TypeError)) as info:
        wnlib.train(model, data, **args)
    for w in words:
        assert w in str(info.value)


def test_dimension_mismatch_between_data_and_model():
    data = digits()
    with pytest.raises(ValueError, match="d_in=64 features but the model has d_in=10"):
        wnlib.train(wnlib.WeightNormMLP(10, 8, 1, 10), data, epochs=1, progress=False)
    with pytest.raises(ValueError, match="d_out=10 targets but the model has d_out=3"):
        wnlib.train(wnlib.WeightNormMLP(64, 8, 1, 3), data, epochs=1, progress=False)
    with pytest.raises(ValueError, match="x has 5 features but the model expects d_in=64"):
        wnlib.WeightNormMLP(64, 8, 1, 3)(torch.randn(2, 5))
    with pytest.raises(TypeError, match="data must be a wnlib.Dataset"):
        wnlib.train(wnlib.WeightNormMLP(64, 8, 1, 10), (data.x_train, data.y_train), epochs=1)


def test_zero_row_gives_a_clear_error_not_nan():
    model = wnlib.WeightNormMLP(4, 6, 2, 1)
    with torch.no_grad():
        model.hidden[1].v[3].zero_()
    with pytest.raises(ValueError, match=r"v has zero rows \[3\]"):
        model(torch.randn(2, 4))
    with pytest.raises(ValueError, match="zero rows"):
        wnlib.rescale_rows(model, rho=1.0)


def test_curvature_arguments():
    model = wnlib.WeightNormMLP(4, 6, 1, 3)
    x = torch.randn(2, 4)
    with pytest.raises(ValueError, match="method must be one of 'lanczos', 'arpack', 'power', 'dense'"):
        wnlib.predictor_hessian_norm(model, x, method="exact")
    with pytest.raises(ValueError, match=r"output must be None \(max over outputs\) or an int in \[0, 2\]"):
        wnlib.predictor_hessian_norm(model, x, output=3)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        wnlib.predictor_hessian_norm(model, [[0.0] * 4])
    with pytest.raises(ValueError, match=r"y has shape \(2, 2\) but the model outputs \(2, 3\)"):
        wnlib.loss_hessian_norm(model, x, torch.zeros(2, 2))


def test_non_finite_loss_stops_with_history_kept():
    data = digits()
    model = wnlib.WeightNormMLP(64, 16, 1, 10, init_mode="c*sqrt(m)", init_scale=5.0, seed=0)
    with pytest.raises(wnlib.NonFiniteLossError, match="non-finite") as info:
        wnlib.train(model, data, epochs=5, lr=1e6, batch_size=16, tracking=wnlib.TrackSpec(every_steps=2),
                    progress=False)
    history = info.value.history
    assert len(history) >= 1 and history.rows[0]["step"] == 0
    assert math.isfinite(history.rows[0]["train_loss"])
