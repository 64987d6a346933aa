"""What :func:`wnlib.train` records at every tracked step: the quantities named in a
:class:`TrackSpec`, measured by :func:`measure`.

Explained in: book/05_experiments.ipynb ("Tracked along training"). The names ``track``
accepts are :data:`TRACKABLE`:

=================  =====================================================================
``loss``           train/test square loss ``(1/n) sum_i ||y_i - f(x_i)||^2``
``accuracy``       train/test accuracy (classification data only)
``rho_min``        ``min_{l,i} ||v_i^(l)||`` overall and per layer
``gbar_sq``        ``||gbar_t||^2 = sum_c ||(1/n) sum_i grad f_c(theta_t; x_i)||^2``
                   over the training set: exact up to ``gbar_size`` inputs, else
                   estimated on a fixed random subsample of ``gbar_size`` inputs
                   (:func:`wnlib.quantities.gbar_sq_estimate`; columns ``gbar_sq_se``,
                   ``gbar_sq_n``)
``hessian``        ``max_i ||grad^2 f(theta_t; x_i)||_2`` over ``hessian_inputs``
                   training inputs
``loss_hessian``   top eigenvalue of ``grad^2 L(theta_t)`` (smoothness ``beta_t``) on
                   ``curvature_size`` samples
=================  =====================================================================

A callable ``q(model, data) -> dict`` in ``track`` adds its own columns (e.g.
:func:`wnlib.bounds.rsc_tracker`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import _checks
from .quantities import (
    evaluate,
    gbar_sq,
    gbar_sq_estimate,
    loss_hessian_norm,
    predictor_hessian_norm,
    rho_min_per_layer,
)

TRACKABLE = ("loss", "accuracy", "rho_min", "gbar_sq", "hessian", "loss_hessian")
DEFAULT_TRACK = ("loss", "accuracy", "rho_min", "gbar_sq")

GBAR_GROUPS = 3
"""Parts of the ``gbar_size`` subsample whose pairwise products give the
``||gbar||^2`` estimate and its SE."""


def check_gbar_size(gbar_size) -> int | None:
    """``gbar_size``: ``None`` (the whole training set) or an int ``>= GBAR_GROUPS``."""
    if gbar_size is None:
        return None
    if (
        isinstance(gbar_size, bool)
        or not isinstance(gbar_size, int)
        or gbar_size < GBAR_GROUPS
    ):
        raise ValueError(
            f"gbar_size must be None (the whole training set) or an int >= "
            f"{GBAR_GROUPS}, got {gbar_size!r}"
        )
    return gbar_size


def check_track(track) -> tuple:
    """``track`` as a tuple, each entry one of :data:`TRACKABLE` or a callable
    ``q(model, data) -> dict``.

    A single string is refused (``track="loss"`` would be read as one name by some
    callers and as the letters ``l, o, s, s`` by others): write ``track=["loss"]``."""
    accepted = (
        f"a list or tuple of names from {', '.join(map(repr, TRACKABLE))} and/or "
        f"callables q(model, data)"
    )
    if isinstance(track, (str, bytes)):
        raise TypeError(
            f"track must be {accepted}, got the string {track!r}: write "
            f"track=[{track!r}]"
        )
    if callable(track) or not hasattr(track, "__iter__"):
        raise TypeError(f"track must be {accepted}, got {track!r}")
    track = tuple(track)
    for name in track:
        if not callable(name):
            _checks.choice("track", name, TRACKABLE)
    return track


@dataclass(frozen=True)
class TrackSpec:
    """What is tracked along training, how often, and on how many samples: one object,
    checked once.

    ``track``: names from :data:`TRACKABLE` and/or callables ``q(model, data) -> dict``.
    ``every``: epochs between two tracked rows (rows are also taken at step 0 and at the
    last step); ``every_steps``, if set, counts optimizer steps instead, for tracking
    within an epoch (``every_steps=1``: every step). ``eval_size``: losses and
    accuracies on the first ``eval_size`` samples of each split. ``hessian_inputs``:
    ``max_i ||grad^2 f(x_i)||`` over that many training inputs. ``curvature_size``: the
    loss Hessian on that many training samples. ``gbar_size``: ``||gbar||^2`` exact up
    to that many training inputs and estimated on a subsample of that size above
    (``None``: always exact).

    Explained in: book/05_experiments.ipynb ("Tracked along training").
    """

    track: tuple = DEFAULT_TRACK
    every: int = 1
    every_steps: int | None = None
    eval_size: int = 4096
    hessian_inputs: int = 4
    curvature_size: int = 256
    gbar_size: int | None = 256

    def __post_init__(self):
        object.__setattr__(self, "track", check_track(self.track))
        for name in ("every", "eval_size", "hessian_inputs", "curvature_size"):
            object.__setattr__(
                self, name, _checks.positive_int(name, getattr(self, name))
            )
        if self.every_steps is not None:
            object.__setattr__(
                self,
                "every_steps",
                _checks.positive_int("every_steps", self.every_steps),
            )
            if self.every != 1:
                raise ValueError(
                    f"give every (epochs) or every_steps (steps), not both: got "
                    f"every={self.every!r}, every_steps={self.every_steps!r}"
                )
        check_gbar_size(self.gbar_size)

    def steps_between(self, steps_per_epoch: int) -> int:
        """Optimizer steps between two tracked rows: ``every_steps``, else
        ``every * steps_per_epoch``."""
        return (
            self.every_steps
            if self.every_steps is not None
            else self.every * steps_per_epoch
        )


def measure(model: nn.Module, data, spec: TrackSpec = TrackSpec()) -> dict:
    """One row of the quantities named in ``spec.track`` (see the module docstring) for
    ``model`` on ``data``.

    Evaluated on the first ``spec.eval_size`` samples of each split (a fixed subset);
    callables in ``spec.track`` are called as ``q(model, data)`` and their dict merged
    into the row.
    """
    if not isinstance(spec, TrackSpec):
        raise TypeError(
            f"spec must be a wnlib.tracking.TrackSpec, e.g. TrackSpec(track=['loss']), "
            f"got {spec!r}"
        )
    track, eval_size = spec.track, spec.eval_size
    row = {}
    x_tr, y_tr = data.x_train[:eval_size], data.y_train[:eval_size]
    if "loss" in track or "accuracy" in track:
        for split, (x, y) in {
            "train": (x_tr, y_tr),
            "test": (data.x_test[:eval_size], data.y_test[:eval_size]),
        }.items():
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
        row.update(gbar_sq_row(model, data.x_train, spec.gbar_size))
    if "hessian" in track:
        row["hessian_norm"] = float(
            predictor_hessian_norm(model, x_tr[: spec.hessian_inputs], tol=1e-4).max()
        )
    if "loss_hessian" in track:
        row["loss_hessian_top"] = loss_hessian_norm(
            model,
            x_tr[: spec.curvature_size],
            y_tr[: spec.curvature_size],
            which="LA",
            tol=1e-4,
        )
    for quantity in track:
        if callable(quantity):
            row.update(quantity(model, data))
    return row


def gbar_sq_row(model: nn.Module, x_train: torch.Tensor, gbar_size: int | None) -> dict:
    """``gbar_sq`` with its standard error and the number of inputs it was computed
    on."""
    n = x_train.shape[0]
    if gbar_size is None or n <= gbar_size:
        return dict(gbar_sq=gbar_sq(model, x_train), gbar_sq_se=0.0, gbar_sq_n=n)
    # the same subsample at every tracked step: changes along training are not sampling
    # noise
    chosen = torch.randperm(n, generator=torch.Generator().manual_seed(0))[
        :gbar_size
    ].to(x_train.device)
    estimate, se = gbar_sq_estimate(model, x_train[chosen], groups=GBAR_GROUPS)
    return dict(gbar_sq=estimate, gbar_sq_se=se, gbar_sq_n=gbar_size)
