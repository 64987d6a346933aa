"""Benchmark 3: what tracking the theory's quantities costs during training.

``wnlib.train`` with the default ``track`` (loss, accuracy, ``rho_min``, ``||gbar||^2`` on ``eval_size=4096``
samples, at step 0 and once per epoch) against ``track=()``, one epoch on the paper's shape; also the same
tracking on ``eval_size=512`` samples, which measures what a smaller evaluation subset would cost. To say where
the time goes, each tracked quantity is also timed alone, as one tracked step computes it.
"""
from __future__ import annotations

import torch

import wnlib
from wnlib.quantities import DEFAULT_TRACK, gbar_sq, rho_min_per_layer

from .report import row
from .timing import interleave, median
from .workloads import paper_model, synthetic_mnist

NAME = "tracking"
EVAL_SIZE = 4096  # wnlib.train's default eval_size


def run(device: torch.device, quick: bool = False) -> list:
    """Rows: seconds per epoch untracked and tracked, the overhead, and each quantity's cost per tracked step."""
    width, depth, n = (256, 2, 6000) if quick else (1024, 2, 60000)
    reps = 1 if quick else 3
    data = synthetic_mnist(n, 10000, device)
    model = paper_model(width, depth, device)
    train = dict(epochs=1, lr=1e-3, batch_size=512, progress=False)
    times, _ = interleave({"untracked": lambda: wnlib.train(model, data, track=(), **train),
                           "tracked": lambda: wnlib.train(model, data, **train),
                           "tracked, eval_size=512": lambda: wnlib.train(model, data, eval_size=512, **train)},
                          device, reps=reps)
    untracked, tracked = median(times["untracked"]), median(times["tracked"])
    small = median(times["tracked, eval_size=512"])
    shape = f"n={n}, width={width}, depth={depth}, 1 epoch"
    rows = [row(NAME, f"untracked ({shape})", "seconds", untracked),
            row(NAME, f"tracked: {', '.join(DEFAULT_TRACK)} ({shape})", "seconds", tracked),
            row(NAME, "tracked / untracked - 1", "overhead", tracked / untracked - 1, at_most=0.15),
            row(NAME, "tracked with eval_size=512 / untracked - 1", "overhead", small / untracked - 1)]
    x_tr, y_tr = data.x_train[:EVAL_SIZE], data.y_train[:EVAL_SIZE]
    x_te, y_te = data.x_test[:EVAL_SIZE], data.y_test[:EVAL_SIZE]
    parts, _ = interleave({
        "loss + accuracy (train and test)": lambda: (wnlib.evaluate(model, x_tr, y_tr), wnlib.evaluate(model, x_te, y_te)),
        "rho_min": lambda: rho_min_per_layer(model),
        "gbar_sq": lambda: gbar_sq(model, x_tr),
    }, device, reps=reps)
    for name, t in parts.items():
        rows.append(row(NAME, f"{name}, one tracked step", "share of an untracked epoch", median(t) / untracked))
    return rows
