"""Mini-batch SGD on the square loss, with the theory's quantities tracked along the trajectory.

Explained in: book/01_weightnorm.ipynb (training) and book/03_optimization.ipynb (what is tracked).

The data stays on the device; every epoch draws a seeded permutation and walks it in batches (no DataLoader).
Tracked at step 0 and every ``track_every`` steps (default: once per epoch), on a fixed evaluation subset:

=================  ==========================================================================================
``loss``           train/test square loss ``(1/n) sum_i ||y_i - f(x_i)||^2``
``accuracy``       train/test accuracy (classification data only)
``rho_min``        ``min_{l,i} ||v_i^(l)||`` overall and per layer
``gbar_sq``        ``||gbar_t||^2 = sum_c ||(1/n) sum_i grad f_c(theta_t; x_i)||^2``
``hessian``        ``max_i ||grad^2 f(theta_t; x_i)||_2`` over ``hessian_inputs`` training inputs
``loss_hessian``   top eigenvalue of ``grad^2 L(theta_t)`` (smoothness ``beta_t``) on ``curvature_size`` samples
=================  ==========================================================================================
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from . import _checks, curvature
from .data import Dataset
from .model import rho_min_per_layer

TRACKABLE = ("loss", "accuracy", "rho_min", "gbar_sq", "hessian", "loss_hessian")
DEFAULT_TRACK = ("loss", "accuracy", "rho_min", "gbar_sq")


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN/inf loss; ``.history`` keeps every row tracked before it."""

    def __init__(self, message: str, history: "History"):
        super().__init__(message)
        self.history = history


@dataclass
class History:
    """What ``train`` tracked: ``rows`` (one dict per tracked step), the ``config`` that produced them."""

    rows: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    @property
    def frame(self) -> pd.DataFrame:
        """One row per tracked step, one column per quantity."""
        return pd.DataFrame(self.rows)

    @property
    def last(self) -> dict:
        return self.rows[-1] if self.rows else {}

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"History({len(self.rows)} tracked steps, columns={list(self.frame.columns)})"


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 4096) -> tuple[float, float]:
    """Square loss and accuracy (NaN for one-output regression) of ``model`` on ``(x, y)``."""
    loss, correct = 0.0, 0
    for start in range(0, x.shape[0], batch_size):
        out = model(x[start:start + batch_size])
        yb = y[start:start + batch_size]
        loss += float((out - yb).pow(2).sum())
        if yb.shape[1] > 1:
            correct += int((out.argmax(1) == yb.argmax(1)).sum())
    n = x.shape[0]
    return loss / n, (correct / n if y.shape[1] > 1 else math.nan)


def _check_compatible(model: nn.Module, data: Dataset) -> None:
    d_in, d_out = getattr(model, "d_in", None), getattr(model, "d_out", None)
    if d_in is not None and d_in != data.d_in:
        raise ValueError(f"data {data.name!r} has d_in={data.d_in} features but the model has d_in={d_in}")
    if d_out is not None and d_out != data.d_out:
        raise ValueError(f"data {data.name!r} has d_out={data.d_out} targets but the model has d_out={d_out}")


def _track(model, data: Dataset, track, eval_size: int, hessian_inputs: int, curvature_size: int) -> dict:
    row = {}
    x_tr, y_tr = data.x_train[:eval_size], data.y_train[:eval_size]
    if "loss" in track or "accuracy" in track:
        for split, (x, y) in {"train": (x_tr, y_tr), "test": (data.x_test[:eval_size], data.y_test[:eval_size])}.items():
            loss, acc = evaluate(model, x, y)
            if "loss" in track:
                row[f"{split}_loss"] = loss
            if "accuracy" in track and data.num_classes:
                row[f"{split}_accuracy"] = acc
    if "rho_min" in track:
        per_layer = rho_min_per_layer(model)
        row["rho_min"] = min(per_layer)
        row.update({f"rho_min_{l + 1}": r for l, r in enumerate(per_layer)})
    if "gbar_sq" in track:
        row["gbar_sq"] = curvature.gbar_sq(model, x_tr)
    if "hessian" in track:
        row["hessian_norm"] = float(curvature.predictor_hessian_norm(model, x_tr[:hessian_inputs], tol=1e-4).max())
    if "loss_hessian" in track:
        row["loss_hessian_top"] = curvature.loss_hessian_norm(
            model, x_tr[:curvature_size], y_tr[:curvature_size], which="LA", tol=1e-4)
    return row


def train(model: nn.Module, data: Dataset, *, epochs: int, lr: float = 1e-3, batch_size: int = 512,
          momentum: float = 0.0, weight_decay: float = 0.0, seed: int = 0, track_every: int | None = None,
          track=DEFAULT_TRACK, eval_size: int = 4096, hessian_inputs: int = 4, curvature_size: int = 256,
          progress: bool = True, resume: dict | None = None, on_epoch_end=None) -> History:
    """Mini-batch SGD on ``L(theta) = (1/n) sum_i ||y_i - f(theta; x_i)||^2``; returns the tracked ``History``.

    ``theta_{t+1} = theta_t - lr * grad L_B(theta_t)`` (with ``momentum``/``weight_decay`` as in
    ``torch.optim.SGD``). Batches come from a permutation seeded by ``seed`` each epoch. ``track`` is a subset
    of ``TRACKABLE``; ``track_every`` counts steps (default: one epoch). A non-finite loss raises
    :class:`NonFiniteLossError` carrying the history so far.

    Checkpoint/resume: after every epoch ``on_epoch_end(state)`` (if given) receives ``state``, a dict of
    tensors and plain types (``epoch``, ``step``, ``optimizer``, ``generator``, ``loss_sum``, ``rows``) that
    ``torch.save`` can store; ``train(..., resume=state)`` on a model holding that epoch's weights continues
    exactly where it stopped (same batches, same momentum buffers).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a wnlib.Dataset (from wnlib.load_dataset), got {type(data).__name__}")
    epochs = _checks.positive_int("epochs", epochs, allow_zero=True)
    lr = _checks.positive_float("lr", lr)
    batch_size = _checks.positive_int("batch_size", batch_size)
    momentum = _checks.positive_float("momentum", momentum, allow_zero=True)
    weight_decay = _checks.positive_float("weight_decay", weight_decay, allow_zero=True)
    eval_size = _checks.positive_int("eval_size", eval_size)
    track = tuple(track)
    for name in track:
        _checks.choice("track", name, TRACKABLE)
    _check_compatible(model, data)
    params = curvature.parameters(model)
    if data.device != params[0].device:
        raise ValueError(f"data is on {data.device} but the model is on {params[0].device}; "
                         "load the data with device= or move the model with .to()")
    n = data.n_train
    steps_per_epoch = math.ceil(n / batch_size)
    track_every = steps_per_epoch if track_every is None else _checks.positive_int("track_every", track_every)
    config = dict(epochs=epochs, lr=lr, batch_size=batch_size, momentum=momentum, weight_decay=weight_decay,
                  seed=seed, track_every=track_every, track=list(track), dataset=data.name,
                  device=str(data.device))
    history = History(config=config)
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(int(seed))
    step, loss_sum, first_epoch = 0, torch.zeros((), device=data.device), 0
    if resume is not None:
        optimizer.load_state_dict(resume["optimizer"])
        gen.set_state(resume["generator"])
        history.rows = [dict(row) for row in resume["rows"]]
        step, loss_sum, first_epoch = resume["step"], resume["loss_sum"].to(data.device), resume["epoch"]
    start = time.perf_counter() - history.last.get("time_s", 0.0)

    def record(step: int, train_loss: torch.Tensor | None) -> None:
        if train_loss is not None and not bool(torch.isfinite(train_loss)):
            raise NonFiniteLossError(
                f"the training loss became non-finite ({float(train_loss)}) before step {step} (lr={lr}); lower lr or "
                f"check the data. The history up to step {history.last.get('step', 0)} is on .history", history)
        row = {"step": step, "epoch": step / steps_per_epoch}
        row.update(_track(model, data, track, eval_size, hessian_inputs, curvature_size))
        row["time_s"] = time.perf_counter() - start
        history.rows.append(row)

    if resume is None:
        record(0, None)
    total_steps = epochs * steps_per_epoch
    bar = tqdm(total=total_steps, initial=step, desc="SGD", unit="step", disable=not progress, leave=False)
    for epoch in range(first_epoch, epochs):
        perm = torch.randperm(n, generator=gen).to(data.device)
        for start_idx in range(0, n, batch_size):
            idx = perm[start_idx:start_idx + batch_size]
            try:
                loss = curvature.square_loss(model, data.x_train[idx], data.y_train[idx])
            except FloatingPointError as err:
                raise NonFiniteLossError(f"training diverged at step {step} (lr={lr}): {err}. The history up "
                                         f"to step {history.last['step']} is on .history", history) from err
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            # a NaN stays NaN in this running sum: one check per tracked step, no per-step sync
            loss_sum = loss_sum + loss.detach()
            step += 1
            if step % track_every == 0 or step == total_steps:
                model.train(False)
                record(step, loss_sum)
                model.train(True)
        bar.update(steps_per_epoch)
        if on_epoch_end is not None:
            on_epoch_end(dict(epoch=epoch + 1, step=step, optimizer=optimizer.state_dict(),
                              generator=gen.get_state(), loss_sum=loss_sum.detach().cpu(), rows=history.rows))
    bar.close()
    return history
