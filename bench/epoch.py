"""Benchmark 1: one SGD epoch on the paper's shape, three ways.

* ``wnlib``: ``wnlib.train(..., tracking=TrackSpec(track=()))`` on a ``WeightNormMLP`` (trained gains and biases,
  so the same parameters as the usual code below), data already on the device.
* ``usual``: what a user writes: a ``DataLoader(TensorDataset, shuffle=True)``,
  ``torch.nn.utils.parametrizations.weight_norm(nn.Linear(...), dim=0)`` layers, ``loss.item()`` logged each batch.
* ``limit``: the machine's limit for the same work: only the matrix products of one epoch (forward, weight
  gradient, and input gradient of every layer but the first, at every batch size of the epoch), nothing else.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm
from torch.utils.data import DataLoader, TensorDataset

import wnlib

from .report import row
from .timing import interleave, median
from .workloads import D_IN, D_OUT, paper_model, synthetic_mnist

NAME = "epoch"
LR = 1e-3


def usual_model(width: int, depth: int, device: torch.device) -> nn.Sequential:
    """The same network written the usual way: ``weight_norm(nn.Linear)`` + tanh, a plain output layer."""
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for l in range(depth):
        layers += [weight_norm(nn.Linear(D_IN if l == 0 else width, width), dim=0), nn.Tanh()]
    layers.append(nn.Linear(width, D_OUT, bias=False))
    return nn.Sequential(*layers).to(device)


def usual_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                device: torch.device) -> list[float]:
    """One epoch of the usual training loop; returns the per-batch losses it logged."""
    losses = []
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        loss = F.mse_loss(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def gemm_epoch(width: int, depth: int, n: int, batch_size: int, device: torch.device):
    """A function running exactly the matrix products of one epoch of training, into preallocated outputs."""
    dims = [D_IN] + [width] * depth + [D_OUT]
    weights = [torch.randn(o, i, device=device) for i, o in zip(dims[:-1], dims[1:])]
    sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    buffers = {}
    for b in set(sizes):
        acts = [torch.randn(b, d, device=device) for d in dims]  # inputs of each layer, then the output
        grads = [torch.randn(b, d, device=device) for d in dims]  # gradients w.r.t. the same
        buffers[b] = (acts, grads)
    weight_grads = [torch.empty_like(w) for w in weights]

    def run() -> None:
        for b in sizes:
            acts, grads = buffers[b]
            for l, w in enumerate(weights):  # forward: a_{l+1} = a_l W_l^T
                torch.mm(acts[l], w.t(), out=acts[l + 1])
            for l in reversed(range(len(weights))):  # backward: dW_l = dz_l^T a_l, da_l = dz_l W_l
                torch.mm(grads[l + 1].t(), acts[l], out=weight_grads[l])
                if l > 0:
                    torch.mm(grads[l + 1], weights[l], out=grads[l])

    return run


def run(device: torch.device, quick: bool = False) -> list:
    """Time one epoch of each case (interleaved); rows: seconds per case, wnlib/usual and wnlib/limit."""
    width, depth, batch_size = (256, 2, 512) if quick else (1024, 2, 512)
    n = 6000 if quick else 60000
    reps = 1 if quick else 3
    data = synthetic_mnist(n, 1000, device)
    model = paper_model(width, depth, device, gains="pytorch", bias=True)
    baseline = usual_model(width, depth, device)
    loader = DataLoader(TensorDataset(data.x_train.cpu(), data.y_train.cpu()), batch_size=batch_size, shuffle=True)
    optimizer = torch.optim.SGD(baseline.parameters(), lr=LR)
    cases = {
        "wnlib": lambda: wnlib.train(model, data, epochs=1, lr=LR, batch_size=batch_size,
                                     tracking=wnlib.TrackSpec(track=()), progress=False),
        "usual": lambda: usual_epoch(baseline, loader, optimizer, device),
        "limit": gemm_epoch(width, depth, n, batch_size, device),
    }
    times = {name: median(t) for name, t in interleave(cases, device, reps=reps)[0].items()}
    shape = f"n={n}, width={width}, depth={depth}, batch={batch_size}"
    rows = [row(NAME, f"{name} ({shape})", "seconds per epoch", t) for name, t in times.items()]
    rows.append(row(NAME, "wnlib / usual", "time ratio", times["wnlib"] / times["usual"], at_most=1.0))
    rows.append(row(NAME, "wnlib / limit", "time ratio", times["wnlib"] / times["limit"], at_most=1.1))
    rows.append(row(NAME, "usual / limit", "time ratio", times["usual"] / times["limit"]))
    return rows
