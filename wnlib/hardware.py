"""Which device runs the work, and a one-line description of it for every figure and
result."""

from __future__ import annotations

import os
import platform

import torch


def device() -> torch.device:
    """The best device here: ``cuda``, then ``mps``, then ``cpu``."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe(dev=None) -> str:
    """E.g. ``"cpu (x86_64, 2 cores), torch 2.14.1"`` or
    ``"cuda (NVIDIA H100 80GB HBM3), torch 2.14.1"``."""
    dev = torch.device(dev) if dev is not None else device()
    if dev.type == "cuda":
        what = torch.cuda.get_device_name(dev)
    else:
        what = f"{platform.machine()}, {os.cpu_count()} cores"
    return f"{dev.type} ({what}), torch {torch.__version__.split('+')[0]}"
