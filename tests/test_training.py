"""The training loop: rho_min monotonicity (chapter 3), determinism, tracking, optimizers, step-size rules."""

import functools

import numpy as np
import pytest
import torch

import wnlib
from wnlib import TrackSpec


@pytest.fixture(scope="module")
def digits():
    return wnlib.load_dataset("digits", n_train=256, n_test=64)


def test_sgd_norm_identity_and_monotone_rho_min(digits, float64):
    """||v_i(t+1)||^2 = ||v_i(t)||^2 + lr^2 ||grad_{v_i} L||^2 for plain GD (exact), so rho_min never decreases."""
    data = digits.to(dtype=torch.float64)
    model = wnlib.WeightNormMLP(64, 32, 2, 10, init_mode="c*sqrt(m)", init_scale=1.0, seed=0)
    lr = 0.5
    for _ in range(3):
        before = [r.clone() for r in wnlib.row_norms(model)]
        loss = wnlib.square_loss(model, data.x_train, data.y_train)
        grads = torch.autograd.grad(loss, [l.v for l in model.hidden] + [model.V])
        with torch.no_grad():
            for p, g in zip([l.v for l in model.hidden] + [model.V], grads):
                p.sub_(lr * g)
        for b, a, g in zip(before, wnlib.row_norms(model), grads):
            assert torch.allclose(a.pow(2), b.pow(2) + lr ** 2 * g.pow(2).sum(1), rtol=1e-10)
    history = wnlib.train(model, data, epochs=4, lr=lr, batch_size=32, tracking=TrackSpec(every_steps=2),
                          progress=False)
    rho = history.frame["rho_min"].to_numpy()
    assert (np.diff(rho) >= 0).all() and rho[-1] > rho[0]


def test_tracking_every_epochs_or_every_steps(digits):
    """``every`` counts epochs, ``every_steps`` optimizer steps: 256 samples in batches of 100 are 3 steps per
    epoch (the last batch has 56), so every 2 epochs over 3 epochs tracks steps 0, 6 and the last, 9."""
    assert wnlib.training.steps_per_epoch(256, 100) == 3 and wnlib.training.steps_per_epoch(256, 64) == 4

    def tracked(spec):
        model = wnlib.WeightNormMLP(64, 8, 1, 10, seed=0)
        return wnlib.train(model, digits, epochs=3, lr=0.1, batch_size=100, tracking=spec, progress=False).frame

    by_epochs = tracked(TrackSpec(("loss",), every=2))
    assert by_epochs["step"].tolist() == [0, 6, 9] and by_epochs["epoch"].tolist() == [0, 2, 3]
    assert tracked(TrackSpec(("loss",), every_steps=4))["step"].tolist() == [0, 4, 8, 9]
    same = tracked(TrackSpec(("loss",), every_steps=6))  # 2 epochs of 3 steps: the same rows, the same numbers
    columns = ["step", "epoch", "train_loss", "test_loss"]
    assert same[columns].equals(by_epochs[columns])


def test_on_epoch_end_state_has_the_resume_keys(digits):
    states = []
    model = wnlib.WeightNormMLP(64, 8, 1, 10, seed=0)
    wnlib.train(model, digits, epochs=2, lr=0.1, batch_size=128, tracking=TrackSpec(()), progress=False,
                on_epoch_end=states.append)
    assert [state["epoch"] for state in states] == [1, 2]
    assert set(states[0]) == set(wnlib.training.RESUME_KEYS)


def test_weight_decay_can_decrease_rho_min(digits):
    model = wnlib.WeightNormMLP(64, 32, 2, 10, init_mode="c*sqrt(m)", init_scale=1.0, seed=0)
    decay = functools.partial(torch.optim.SGD, weight_decay=0.5)
    history = wnlib.train(model, digits, epochs=2, lr=0.1, optimizer=decay, batch_size=32, progress=False)
    rho = history.frame["rho_min"].to_numpy()
    assert rho[-1] < rho[0]


def test_same_seed_same_history(digits):
    frames = []
    for _ in range(2):
        model = wnlib.WeightNormMLP(64, 16, 2, 10, seed=5)
        frames.append(wnlib.train(model, digits, epochs=2, lr=0.5, batch_size=64, seed=3, progress=False,
                                  tracking=TrackSpec(("loss", "accuracy", "rho_min", "gbar_sq", "hessian"))).frame)
    cols = [c for c in frames[0].columns if c not in wnlib.training.CLOCK_COLUMNS]
    assert frames[0][cols].equals(frames[1][cols])
    other = wnlib.train(wnlib.WeightNormMLP(64, 16, 2, 10, seed=5), digits, epochs=2, lr=0.5, batch_size=64,
                        seed=4, progress=False).frame
    assert not np.allclose(other["train_loss"].iloc[-1], frames[0]["train_loss"].iloc[-1], rtol=1e-9, atol=0)


def test_history_columns_and_tracked_values(digits):
    model = wnlib.WeightNormMLP(64, 16, 2, 10, seed=0)
    history = wnlib.train(model, digits, epochs=2, lr=0.5, batch_size=64, progress=False,
                          tracking=TrackSpec(wnlib.TRACKABLE, every_steps=2))
    frame = history.frame
    assert frame["step"].tolist() == [0, 2, 4, 6, 8]
    assert {"train_loss", "test_loss", "train_accuracy", "test_accuracy", "rho_min", "rho_min_1", "rho_min_2",
            "gbar_sq", "gbar_sq_se", "gbar_sq_n", "hessian_norm", "loss_hessian_top", "epoch", "time_s", "measure_s"} <= set(frame.columns)
    last = frame.iloc[-1]
    loss, acc = wnlib.evaluate(model, digits.x_train, digits.y_train)
    assert last["train_loss"] == pytest.approx(loss) and last["train_accuracy"] == pytest.approx(acc)
    assert last["rho_min"] == pytest.approx(wnlib.rho_min(model))
    assert last["gbar_sq"] == pytest.approx(wnlib.gbar_sq(model, digits.x_train), rel=1e-5)
    assert frame["train_loss"].iloc[-1] < frame["train_loss"].iloc[0]
    assert history.config["lr"] == 0.5 and history.config["dataset"] == "digits"


def test_heavy_ball_momentum_keeps_rho_min_non_decreasing(digits):
    """With momentum the update is no longer -lr*grad; heavy-ball momentum still keeps rho_min non-decreasing
    (chapter 3 proves <b_t, v_t> <= 0 for the momentum buffer b_t), which this checks on a trajectory."""
    model = wnlib.WeightNormMLP(64, 32, 1, 10, init_mode="c*sqrt(m)", init_scale=1.0, seed=0)
    heavy_ball = functools.partial(torch.optim.SGD, momentum=0.9)
    h = wnlib.train(model, digits, epochs=3, lr=0.5, optimizer=heavy_ball, batch_size=32, progress=False)
    rho = h.frame["rho_min"].to_numpy()
    assert "momentum=0.9" in h.config["optimizer"] and np.isfinite(rho).all()
    assert (np.diff(rho) >= 0).all() and rho[-1] > rho[0]


def test_regression_data_has_no_accuracy():
    data = wnlib.load_dataset("teacher", n_train=64, n_test=32)
    h = wnlib.train(wnlib.WeightNormMLP(16, 8, 1, 1), data, epochs=1, lr=0.1, batch_size=32, progress=False)
    assert "train_accuracy" not in h.frame.columns and "train_loss" in h.frame.columns


def _tiny_task(n=24, d=5, k=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, k, generator=g, dtype=torch.float64)
    return wnlib.Dataset(x, y, x[:4], y[:4], "tiny", None)


def test_full_batch_gd_with_a_step_rule_is_the_usual_loop():
    """``batch_size=None`` + ``step_size``: theta_{t+1} = theta_t - eta_t grad L(theta_t) on all the data, the
    usual hand-written PyTorch loop; the rule's value is recorded on the row of step t."""
    data = _tiny_task()
    ours = wnlib.WeightNormMLP(5, 6, 2, 1, seed=1, dtype=torch.float64)
    usual = wnlib.WeightNormMLP(5, 6, 2, 1, seed=1, dtype=torch.float64)
    rule = lambda model, x, y: 0.1 + 0.05 * float(wnlib.square_loss(model, x, y))  # noqa: E731
    h = wnlib.train(ours, data, epochs=4, batch_size=None, step_size=rule, tracking=TrackSpec(("loss",)),
                    progress=False)
    etas = []
    for _ in range(4):
        loss = wnlib.square_loss(usual, data.x_train, data.y_train)
        grads = torch.autograd.grad(loss, list(usual.parameters()))
        etas.append(0.1 + 0.05 * float(loss))
        with torch.no_grad():
            for p, g in zip(usual.parameters(), grads):
                p -= etas[-1] * g
    for a, b in zip(ours.parameters(), usual.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)
    assert h["step"].tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(h["step_size"][:4], etas, rtol=1e-12)
    assert np.isnan(h["step_size"][4])


def test_omega_over_beta_uses_the_top_eigenvalue_of_the_loss_hessian():
    data = _tiny_task()
    model = wnlib.WeightNormMLP(5, 4, 1, 1, seed=2, dtype=torch.float64)
    beta = float(torch.linalg.eigvalsh(wnlib.dense_hessian(model, data.x_train, y=data.y_train))[-1])
    h = wnlib.train(model, data, epochs=1, batch_size=None, step_size=wnlib.bounds.omega_over_beta(1.5),
                    tracking=TrackSpec(()), progress=False)
    assert h["step_size"][0] == pytest.approx(1.5 / beta, rel=1e-8)
    with pytest.raises(ValueError, match="omega must be in the open interval"):
        wnlib.bounds.omega_over_beta(2.0)


def test_any_torch_optimizer_same_as_the_usual_loop(digits):
    """``optimizer=torch.optim.Adam``: the same trajectory as the usual loop over the same seeded batches."""
    data = digits.to(dtype=torch.float64)
    ours = wnlib.WeightNormMLP(64, 8, 2, 10, seed=0, dtype=torch.float64)
    usual = wnlib.WeightNormMLP(64, 8, 2, 10, seed=0, dtype=torch.float64)
    wnlib.train(ours, data, epochs=2, lr=1e-2, batch_size=64, optimizer=torch.optim.Adam, seed=7,
                tracking=TrackSpec(()), progress=False)
    opt, gen = torch.optim.Adam(usual.parameters(), lr=1e-2), torch.Generator().manual_seed(7)
    for _ in range(2):
        for idx in torch.randperm(data.n_train, generator=gen).split(64):
            opt.zero_grad()
            ((usual(data.x_train[idx]) - data.y_train[idx]) ** 2).sum(1).mean().backward()
            opt.step()
    for a, b in zip(ours.parameters(), usual.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_optimizer_factories_and_errors(digits):
    model = wnlib.WeightNormMLP(64, 8, 1, 10, seed=0)
    nesterov = functools.partial(torch.optim.SGD, momentum=0.9, nesterov=True)
    h = wnlib.train(model, digits, epochs=1, lr=0.1, batch_size=64, optimizer=nesterov,
                    tracking=TrackSpec(("loss",)), progress=False)
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert "nesterov=True" in h.config["optimizer"]
    adam_momentum = functools.partial(torch.optim.Adam, momentum=0.9)
    with pytest.raises(TypeError, match=r"optimizer is called as optimizer\(params, lr=0.001\) and failed.*momentum"):
        wnlib.train(model, digits, epochs=1, optimizer=adam_momentum, progress=False)
    with pytest.raises(TypeError, match=r"optimizer\(params, lr=...\) must return a torch.optim.Optimizer"):
        wnlib.train(model, digits, epochs=1, optimizer=lambda params, lr: None, progress=False)
    with pytest.raises(TypeError, match="got an unexpected keyword argument 'momentum'"):
        wnlib.train(model, digits, epochs=1, momentum=0.9, progress=False)  # options go with the optimizer
    with pytest.raises(TypeError, match="optimizer must be"):
        wnlib.train(model, digits, epochs=1, optimizer="adam", progress=False)
    with pytest.raises(TypeError, match="step_size must be None or a rule"):
        wnlib.train(model, digits, epochs=1, step_size=0.1, progress=False)
    with pytest.raises(ValueError, match="track must be one of"):
        TrackSpec(("los",))
    with pytest.raises(TypeError, match="tracking must be a wnlib.TrackSpec"):
        wnlib.train(model, digits, epochs=1, tracking=("loss",), progress=False)


def test_custom_tracked_quantity_and_history_columns(digits):
    model = wnlib.WeightNormMLP(64, 8, 1, 10, seed=0)
    mean_v = lambda model, data: {"mean_V": float(model.V.mean())}  # noqa: E731
    h = wnlib.train(model, digits, epochs=2, lr=0.5, batch_size=128, tracking=TrackSpec(("rho_min", mean_v)),
                    progress=False)
    assert h["mean_V"][-1] == pytest.approx(float(model.V.mean()))
    assert h["rho_min"].shape == (3,) and "mean_V" in h.columns
    with pytest.raises(KeyError, match="no tracked column 'rho'.*rho_min"):
        h["rho"]


def test_rsc_tracker_certificate_holds_along_gradient_descent():
    """The certified alpha_hat (Hessian bound inside) never exceeds the curvature along the cone's directions."""
    data = _tiny_task(n=16, d=4)
    model = wnlib.rescale_rows(wnlib.WeightNormMLP(4, 5, 2, 1, seed=3, dtype=torch.float64), factor=100.0)
    h = wnlib.train(model, data, epochs=4, batch_size=None, step_size=wnlib.bounds.omega_over_beta(1.0),
                    tracking=TrackSpec(("loss", wnlib.bounds.rsc_tracker(0.8, verify=True))), progress=False)
    assert (h["rsc_margin"] >= -1e-10).all()
    table = wnlib.bounds.contraction_table(h.frame, 1.0)
    np.testing.assert_allclose(table.beta[:4], 1.0 / table.step_size[:4])
    observed = table.train_loss.shift(-1) / table.train_loss
    np.testing.assert_allclose(table.observed, observed)
