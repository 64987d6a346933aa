"""What the benchmarks train on: synthetic MNIST-shaped data and the paper's network, built the same way each time."""
from __future__ import annotations

import torch

import wnlib
from wnlib.data import Dataset

D_IN, D_OUT = 784, 10
"""MNIST's shape: 28 x 28 inputs, 10 classes (one-hot targets, square loss)."""


def synthetic_mnist(n_train: int, n_test: int, device: torch.device, seed: int = 0) -> Dataset:
    """Uniform [0, 1) pixels and random one-hot labels, the shape of MNIST (no download needed)."""
    gen = torch.Generator().manual_seed(seed)
    n = n_train + n_test
    x = torch.rand(n, D_IN, generator=gen)
    y = torch.nn.functional.one_hot(torch.randint(0, D_OUT, (n,), generator=gen), D_OUT).float()
    x, y = x.to(device), y.to(device)
    return Dataset(x[:n_train], y[:n_train], x[n_train:], y[n_train:], "synthetic-mnist", D_OUT)


def paper_model(width: int, depth: int, device: torch.device, **kwargs) -> wnlib.WeightNormMLP:
    """``WeightNormMLP(784, width, depth, 10)`` (seeded), on ``device``."""
    return wnlib.WeightNormMLP(D_IN, width, depth, D_OUT, seed=0, **kwargs).to(device)
