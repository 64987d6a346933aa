"""Benchmark 3: what tracking the theory's quantities costs during training.

``wnlib.train`` with the default ``TrackSpec`` (loss and accuracy on ``eval_size=4096`` samples of each split,
``rho_min``, ``||gbar||^2`` estimated on ``gbar_size=256`` training inputs) against ``TrackSpec(track=())``, one epoch on
the paper's shape. A one-epoch run tracks twice (step 0 and the end of the epoch), so the cost of tracking every
epoch is half the difference: the row "one tracked step / untracked epoch" (goal: <= 0.15). Also: the same with
the exact ``||gbar||^2`` on 4,096 inputs (the previous default) and each quantity timed alone.
"""
from __future__ import annotations

import torch

import wnlib
from wnlib.quantities import gbar_sq, rho_min_per_layer
from wnlib.tracking import DEFAULT_TRACK, TrackSpec, gbar_sq_row

from .report import row
from .timing import interleave, median
from .workloads import paper_model, synthetic_mnist

NAME = "tracking"
EVAL_SIZE = TrackSpec().eval_size  # wnlib.train's default eval_size


def run(device: torch.device, quick: bool = False) -> list:
    """Rows: seconds per epoch untracked and tracked, the overhead, and each quantity's cost per tracked step."""
    width, depth, n = (256, 2, 6000) if quick else (1024, 2, 60000)
    reps = 1 if quick else 3
    data = synthetic_mnist(n, 10000, device)
    model = paper_model(width, depth, device)
    train = dict(epochs=1, lr=1e-3, batch_size=512, progress=False)
    nothing, exact_gbar = TrackSpec(track=()), TrackSpec(gbar_size=EVAL_SIZE)
    times, _ = interleave({"untracked": lambda: wnlib.train(model, data, tracking=nothing, **train),
                           "tracked": lambda: wnlib.train(model, data, **train),
                           "tracked, exact gbar": lambda: wnlib.train(model, data, tracking=exact_gbar, **train)},
                          device, reps=reps)
    untracked, tracked = median(times["untracked"]), median(times["tracked"])
    exact = median(times["tracked, exact gbar"])
    shape = f"n={n}, width={width}, depth={depth}, 1 epoch"
    rows = [row(NAME, f"untracked ({shape})", "seconds", untracked),
            row(NAME, f"tracked: {', '.join(DEFAULT_TRACK)} ({shape}; 2 tracked steps)", "seconds", tracked),
            row(NAME, "one tracked step / untracked epoch", "overhead", (tracked - untracked) / 2 / untracked,
                at_most=0.15),
            row(NAME, "one tracked step with exact ||gbar||^2 on 4,096 inputs / untracked epoch", "overhead",
                (exact - untracked) / 2 / untracked)]
    x_tr, y_tr = data.x_train[:EVAL_SIZE], data.y_train[:EVAL_SIZE]
    x_te, y_te = data.x_test[:EVAL_SIZE], data.y_test[:EVAL_SIZE]
    parts, _ = interleave({
        "loss + accuracy (train and test)": lambda: (wnlib.evaluate(model, x_tr, y_tr), wnlib.evaluate(model, x_te, y_te)),
        "rho_min": lambda: rho_min_per_layer(model),
        "gbar_sq, estimated on 256 inputs (3 parts)": lambda: gbar_sq_row(model, data.x_train, 256),
        "gbar_sq, exact on 4,096 inputs": lambda: gbar_sq(model, x_tr),
    }, device, reps=reps)
    for name, t in parts.items():
        rows.append(row(NAME, f"{name}, one tracked step", "share of an untracked epoch", median(t) / untracked))
    return rows
