"""The shared timing helper: interleaved repetitions, device synchronisation, medians."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch


def sync(device: torch.device) -> None:
    """Wait for queued kernels on ``device`` (CUDA and MPS run asynchronously), so timers read real work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(fn: Callable[[], object], device: torch.device) -> tuple[float, object]:
    """Seconds taken by ``fn()`` (synchronised on ``device`` before and after) and what it returned."""
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - start, out


def interleave(cases: dict[str, Callable[[], object]], device: torch.device, *, reps: int,
               warmup: int = 1) -> tuple[dict[str, list[float]], dict[str, list]]:
    """Run the cases in turn (A, B, A, B, ...) ``warmup + reps`` times.

    Returns the measured seconds per case and what each measured call returned.
    Interleaving puts every case under the same background load, so the ratios of medians hold on a shared
    machine. Warm-up rounds (allocator, thread pools, autograd caches) are run but not recorded.
    """
    times: dict[str, list[float]] = {name: [] for name in cases}
    outputs: dict[str, list] = {name: [] for name in cases}
    for rep in range(warmup + reps):
        for name, fn in cases.items():
            seconds, out = timed(fn, device)
            if rep >= warmup:
                times[name].append(seconds)
                outputs[name].append(out)
    return times, outputs


def median(values) -> float:
    """Median of a non-empty sequence."""
    return float(statistics.median(values))
