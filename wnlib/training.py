"""The one training loop: (mini-batch) gradient methods on the square loss, the theory's
quantities tracked.

Explained in: book/01_weightnorm.ipynb (training) and book/03_optimization.ipynb
(gradient descent with step ``omega / beta_t``, other optimizers). The data stays on the
device; every epoch draws a seeded permutation and walks it in batches (no DataLoader);
``batch_size=None`` is full-batch gradient descent. What is tracked, and how often, is a
:class:`wnlib.tracking.TrackSpec`, measured by :func:`wnlib.tracking.measure`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from . import _checks, _extras
from .curvature import parameters
from .data import Dataset
from .quantities import square_loss
from .tracking import TrackSpec, measure


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN/inf loss; ``.history`` keeps every row tracked before
    it."""

    def __init__(self, message: str, history: "History"):
        super().__init__(message)
        self.history = history


CLOCK_COLUMNS = ("time_s", "measure_s")
"""Wall-clock columns of a history (seconds since the start; seconds this row spent
measuring): they differ between two otherwise identical runs."""


@dataclass
class History:
    """What :func:`train` tracked: ``rows`` (one dict per tracked step), the ``config``
    that produced them.

    ``history["rho_min"]`` is one column as a NumPy array (NaN where a row lacks it);
    ``history.frame`` the whole table as a pandas DataFrame (needs pandas:
    ``pip install "wnlib[experiments]"``).
    """

    rows: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    @property
    def frame(self):
        """One row per tracked step, one column per quantity (a pandas DataFrame)."""
        pd = _extras.require("pandas", "experiments", "History.frame")
        return pd.DataFrame(self.rows)

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys(name for row in self.rows for name in row))

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.columns:
            raise KeyError(
                f"no tracked column {name!r}; columns: {', '.join(self.columns)}"
            )
        return np.array([row.get(name, math.nan) for row in self.rows], dtype=float)

    @property
    def last(self) -> dict:
        return self.rows[-1] if self.rows else {}

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"History({len(self.rows)} tracked steps, columns={self.columns})"


def _check_compatible(model: nn.Module, data: Dataset) -> None:
    d_in, d_out = getattr(model, "d_in", None), getattr(model, "d_out", None)
    if d_in is not None and d_in != data.d_in:
        raise ValueError(
            f"data {data.name!r} has d_in={data.d_in} features but the model has "
            f"d_in={d_in}"
        )
    if d_out is not None and d_out != data.d_out:
        raise ValueError(
            f"data {data.name!r} has d_out={data.d_out} targets but the model has "
            f"d_out={d_out}"
        )


def _check_data(data: Dataset, dtype: torch.dtype) -> None:
    """Every tensor of ``data`` floating, in the model's dtype, and finite: checked
    once, before training."""
    for split in ("x_train", "y_train", "x_test", "y_test"):
        t = getattr(data, split)
        _checks.tensor(f"data.{split}", t, floating=True)
        if t.dtype != dtype:
            raise TypeError(
                f"data.{split} has dtype {t.dtype} but the model has {dtype}; convert "
                f"one of them: data.to(dtype={dtype}) or model.to({t.dtype})"
            )
        _checks.finite_tensor(f"data.{split}", t)


RESUME_KEYS = ("epoch", "step", "optimizer", "generator", "loss_sum", "rows")
"""The keys of the training state that ``on_epoch_end`` receives and ``resume`` takes
back."""


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimizer steps in one epoch: ``ceil(n_train / batch_size)`` (the last batch
    may be smaller)."""
    return math.ceil(n_train / batch_size)


def _check_resume(resume) -> None:
    if resume is None:
        return
    if not isinstance(resume, dict):
        raise TypeError(
            f"resume must be None or the state dict that on_epoch_end received, got "
            f"{type(resume).__name__}"
        )
    missing = [k for k in RESUME_KEYS if k not in resume]
    if missing:
        raise ValueError(
            f"resume lacks {', '.join(missing)}: pass the state dict that on_epoch_end "
            f"received (keys {', '.join(RESUME_KEYS)})"
        )


def _optimizer(optimizer, params, lr: float) -> torch.optim.Optimizer:
    """``optimizer(params, lr=lr)``: a ``torch.optim`` class, or one with options bound,
    e.g. ``functools.partial(torch.optim.SGD, momentum=0.9)``."""
    if not callable(optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer class or a callable (params, "
            f"lr) -> optimizer such as functools.partial(torch.optim.SGD, "
            f"momentum=0.9), got {optimizer!r}"
        )
    try:
        made = optimizer(params, lr=lr)
    except TypeError as err:
        raise TypeError(
            f"optimizer is called as optimizer(params, lr={lr}) and failed: {err}"
        ) from None
    if not isinstance(made, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer(params, lr=...) must return a torch.optim.Optimizer, got "
            f"{type(made).__name__}"
        )
    return made


def train(
    model: nn.Module,
    data: Dataset,
    *,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int | None = 512,
    optimizer=torch.optim.SGD,
    step_size: Callable | None = None,
    seed: int = 0,
    tracking: TrackSpec = TrackSpec(),
    progress: bool = True,
    resume: dict | None = None,
    on_epoch_end=None,
) -> History:
    """Minimise ``L(theta) = (1/n) sum_i ||y_i - f(theta; x_i)||^2`` on ``data``; return
    the tracked ``History``.

    Default: mini-batch SGD ``theta_{t+1} = theta_t - lr * grad L_B(theta_t)``.
    ``optimizer`` is built as ``optimizer(params, lr=lr)``: any ``torch.optim`` class,
    or one with its options bound, e.g.
    ``functools.partial(torch.optim.SGD, momentum=0.9, weight_decay=0.01)``.
    ``step_size``: a rule ``(model, x_B, y_B) -> eta_t`` evaluated at ``theta_t`` before
    each step (e.g. :func:`wnlib.bounds.omega_over_beta` for gradient descent with step
    ``omega / beta_t``); the value used is recorded as ``step_size`` in the row of step
    ``t``. ``batch_size=None``: full batch.

    ``tracking`` (a :class:`wnlib.tracking.TrackSpec`) says what is measured
    (:func:`wnlib.tracking.measure`) at step 0, every ``tracking.every`` epochs (or
    ``tracking.every_steps`` steps) and at the last step. A non-finite loss raises
    :class:`NonFiniteLossError` carrying the history so far.

    Checkpoint/resume: after every epoch ``on_epoch_end(state)`` (if given) receives
    ``state``, a dict of tensors and plain types (``epoch``, ``step``, ``optimizer``,
    ``generator``, ``loss_sum``, ``rows``) that ``torch.save`` can store;
    ``train(..., resume=state)`` on a model holding that epoch's weights continues
    exactly where it stopped (same batches, same optimizer state).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(data, Dataset):
        raise TypeError(
            f"data must be a wnlib.Dataset (from wnlib.load_dataset), got "
            f"{type(data).__name__}"
        )
    epochs = _checks.positive_int("epochs", epochs, allow_zero=True)
    lr = _checks.positive_float("lr", lr)
    n = data.n_train
    batch_size = (
        n if batch_size is None else _checks.positive_int("batch_size", batch_size)
    )
    seed = _checks.seed("seed", seed)
    if step_size is not None and not callable(step_size):
        raise TypeError(
            f"step_size must be None or a rule (model, x, y) -> float, got "
            f"{step_size!r}"
        )
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise TypeError(
            f"on_epoch_end must be None or a callable state -> None, got "
            f"{on_epoch_end!r}"
        )
    _check_resume(resume)
    if not isinstance(tracking, TrackSpec):
        raise TypeError(
            f"tracking must be a wnlib.TrackSpec, e.g. TrackSpec(track=['loss'], "
            f"every=2), got {tracking!r}"
        )
    _check_compatible(model, data)
    params = parameters(model)
    if data.device != params[0].device:
        raise ValueError(
            f"data is on {data.device} but the model is on {params[0].device}; "
            "load the data with device= or move the model with .to()"
        )
    _check_data(data, params[0].dtype)
    _checks.finite_parameters(model, "training")
    per_epoch = steps_per_epoch(n, batch_size)
    track_every = tracking.steps_between(per_epoch)
    config = dict(
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        optimizer=getattr(optimizer, "__name__", repr(optimizer)),
        track_every_steps=track_every,
        track=[getattr(q, "__name__", q) for q in tracking.track],
        dataset=data.name,
        device=str(data.device),
    )
    history = History(config=config)
    opt = _optimizer(optimizer, params, lr)
    gen = torch.Generator().manual_seed(seed)
    step, loss_sum, first_epoch = 0, torch.zeros((), device=data.device), 0
    if resume is not None:
        opt.load_state_dict(resume["optimizer"])
        gen.set_state(resume["generator"])
        history.rows = [dict(row) for row in resume["rows"]]
        step, loss_sum, first_epoch = (
            resume["step"],
            resume["loss_sum"].to(data.device),
            resume["epoch"],
        )
    start = time.perf_counter() - history.last.get("time_s", 0.0)

    def record(step: int, train_loss: torch.Tensor | None) -> None:
        if train_loss is not None and not bool(torch.isfinite(train_loss)):
            raise NonFiniteLossError(
                f"the training loss became non-finite ({float(train_loss)}) before "
                f"step {step} (lr={lr}); lower lr or check the data. The history up to "
                f"step {history.last.get('step', 0)} is on .history",
                history,
            )
        row = {"step": step, "epoch": step / per_epoch}
        was_training = model.training
        model.train(False)
        measuring = time.perf_counter()
        try:
            row.update(measure(model, data, tracking))
        except (
            FloatingPointError
        ) as err:  # e.g. row norms overflowed: a divergence found while measuring
            raise NonFiniteLossError(
                f"training diverged before step {step} (lr={lr}): {err}. The history "
                f"up to step {history.last.get('step', 0)} is on .history",
                history,
            ) from err
        model.train(was_training)
        row["time_s"] = time.perf_counter() - start
        row["measure_s"] = time.perf_counter() - measuring
        history.rows.append(row)

    def diverged(err: Exception) -> NonFiniteLossError:
        return NonFiniteLossError(
            f"training diverged at step {step} (lr={lr}): {err}. The history up to "
            f"step {history.last['step']} is on .history",
            history,
        )

    if resume is None:
        record(0, None)
    total_steps = epochs * per_epoch
    bar = _extras.progress_bar(total_steps, step, "train", enabled=progress)
    for epoch in range(first_epoch, epochs):
        perm = torch.randperm(n, generator=gen).to(data.device)
        for start_idx in range(0, n, batch_size):
            idx = perm[start_idx : start_idx + batch_size]
            xb, yb = data.x_train[idx], data.y_train[idx]
            try:
                loss = square_loss(model, xb, yb)
            except FloatingPointError as err:
                raise diverged(err) from err
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if step_size is not None:
                eta = float(step_size(model, xb, yb))
                if not math.isfinite(eta) or eta <= 0:
                    raise diverged(ValueError(f"the step-size rule returned {eta}"))
                for group in opt.param_groups:
                    group["lr"] = eta
                if history.last.get("step") == step:
                    history.last["step_size"] = eta
            opt.step()
            # a NaN stays NaN in this running sum: one check per tracked step, no
            # per-step sync
            loss_sum = loss_sum + loss.detach()
            step += 1
            if step % track_every == 0 or step == total_steps:
                record(step, loss_sum)
        bar.update(per_epoch)
        if on_epoch_end is not None:
            on_epoch_end(
                dict(
                    epoch=epoch + 1,
                    step=step,
                    optimizer=opt.state_dict(),
                    generator=gen.get_state(),
                    loss_sum=loss_sum.detach().cpu(),
                    rows=history.rows,
                )
            )
    bar.close()
    return history
