"""How long a full-profile run takes on a GPU: an estimate from stated assumptions, not a measurement.

Used by README.md ("Reproducing the paper's experiments") for its table of estimated GPU times:
``python -m bench.gpu_estimate`` prints it.
"""
from __future__ import annotations

import math

from wnlib.experiments import TRAIN_SIZES, RunConfig, configs

INPUT_SIZES = {"digits": 64, "mnist": 784, "cifar10": 3072, "teacher": 16}


def estimate_seconds(config: RunConfig, *, flops_per_s: float = 2e12, step_overhead_s: float = 1e-3,
                     hvp_s: float = 3e-3, hvps_per_solve: int = 60) -> float:
    """Rough wall time of ``config`` on a GPU, from stated assumptions (no GPU was available to measure it).

    Training: ``6 * P * n * epochs`` FLOPs (forward + backward, ``P`` parameters) at ``flops_per_s`` (default
    2 TFLOP/s, about a quarter of a Colab T4's fp32 peak), plus ``step_overhead_s`` per SGD step. Hessian
    tracking: per tracked point ``hessian_inputs * k`` Lanczos solves of ``hvps_per_solve`` Hessian-vector
    products (46 to 90 in solves measured on this project's CPU at widths 512 and 1024, tol 1e-4), each taking
    ``hvp_s`` (single-input HVPs are latency-bound). Evaluation passes are neglected.
    """
    d, k = INPUT_SIZES[config.dataset], 1 if config.dataset == "teacher" else 10
    n = config.n_train or TRAIN_SIZES.get(config.dataset, 1024)
    m, L = config.width, config.depth
    params = d * m + (L - 1) * m * m + m * k
    steps = config.epochs * math.ceil(n / config.batch_size)
    seconds = 6 * params * n * config.epochs / flops_per_s + steps * step_overhead_s
    if "hessian" in config.track:
        points = 1 + math.ceil(config.epochs / config.track_every)
        seconds += points * config.hessian_inputs * k * hvps_per_solve * hvp_s
    return seconds



if __name__ == "__main__":
    for name in ("paper", "width", "depth", "init_scale", "n"):
        full = configs(name, "full")
        print(f"{name:11s} {len(full):3d} runs   about {sum(estimate_seconds(c) for c in full) / 60:.0f} min")
