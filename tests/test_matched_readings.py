"""Reading a training path at matched training losses (book/04_generalization.ipynb), and the Rademacher
lower estimate in float64."""
import math

import numpy as np
import pytest
import torch

from wnlib import bounds


def test_gap_at_training_loss_averages_the_window_by_hand():
    loss = [1.0, 0.5, 0.31, 0.29, 0.2, 0.1, 0.05]
    gap = [0.0, 0.0, 1.0, 3.0, 2.0, 5.0, 7.0]
    means, counts = bounds.gap_at_training_loss(loss, gap, [0.3, 0.1, 0.001], window=1.25)
    # [0.24, 0.375] holds 0.31 and 0.29; [0.08, 0.125] holds 0.1; nothing near 0.001
    assert counts.tolist() == [2, 1, 0]
    assert means[:2].tolist() == [2.0, 5.0] and math.isnan(means[2])
    wide, n_wide = bounds.gap_at_training_loss(loss, gap, [0.3], window=2.0)   # [0.15, 0.6]: 0.5 .. 0.2
    assert n_wide.tolist() == [4] and wide[0] == pytest.approx((0 + 1 + 3 + 2) / 4)


@pytest.mark.parametrize("kwargs, message", [
    (dict(window=1.0), "window must be a factor > 1"),
    (dict(window=-2.0), "window"),
    (dict(levels=[0.0]), "levels"),
])
def test_gap_at_training_loss_refuses_bad_arguments(kwargs, message):
    args = dict(train_loss=[1.0, 0.5], gap=[0.1, 0.2], levels=[0.5])
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        bounds.gap_at_training_loss(args.pop("train_loss"), args.pop("gap"), args.pop("levels"), **args)


def test_gap_at_training_loss_refuses_paths_of_different_lengths():
    with pytest.raises(ValueError, match="one length"):
        bounds.gap_at_training_loss([1.0, 0.5], [0.1], [0.5])


def test_rademacher_estimate_runs_in_the_dtype_of_x_and_agrees_across_dtypes():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 6, generator=gen, dtype=torch.float64)
    sigma = 2.0 * torch.randint(2, (40,), generator=gen) - 1
    est64 = bounds.rademacher_lower_estimate(x, sigma, 8, [1.0, 4.0], steps=60, seed=3)
    est32 = bounds.rademacher_lower_estimate(x.float(), sigma, 8, [1.0, 4.0], steps=60, seed=3)
    # the same start (drawn in float64), the same ascent: float32 rounding only
    assert est64 == pytest.approx(est32, rel=1e-4)
    # a direct evaluation of the objective's upper bound: ||s|| <= sqrt(m) * max |alpha| <= sqrt(m), nu = 1
    assert 0 < est64 <= 1.0
    assert np.isfinite(est64)
