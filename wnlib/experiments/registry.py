"""The experiments of the book and the paper: named sets of runs, each in two profiles.

Explained in: book/05_experiments.ipynb and README.md ("Reproducing the paper's experiments").

``full`` is the paper's protocol as quoted in the book's claims ledger: MNIST and CIFAR-10, init scales 0.5 and 5,
mini-batch SGD with batch 512 and learning rate 0.001, square loss, widths 512 and 1024 (quoted for MNIST; used on
CIFAR-10 too). ``quick`` runs the same protocol on the offline ``digits`` data at reduced widths with batch 64
and learning rate 0.05, so that it trains within CPU minutes (with lr 0.001 and 23 steps per epoch nothing moves
in a few epochs). Settings the paper's record does not fix (depth 2, tanh, 100 epochs in ``full``, one-hot targets,
both readings ``c/sqrt(m)`` and ``c*sqrt(m)`` of the record's lost symbols, the widths on CIFAR-10, what is
tracked) are this project's choices.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Callable

from .. import _checks
from ..data import DATASETS
from .config import MODELS, RunConfig

PROFILES = ("quick", "full")
TRAIN_SIZES = {"digits": 1437, "mnist": 60000, "fashion-mnist": 60000, "cifar10": 50000}
CPU_SIZED = {"fashion-mnist": dict(epochs=8, hessian_inputs=1)}
"""``full``-profile settings for datasets this project runs on a 2-core CPU (no GPU): the paper's protocol with
fewer epochs and the Hessian norm tracked at one input, so that the 8 runs of ``paper`` take minutes
(book/05_experiments.ipynb says so beside the results)."""


def grid(base: RunConfig, **axes) -> list[RunConfig]:
    """The cartesian product of ``axes`` (field name -> list of values) applied to ``base``; more than
    ``WNLIB_MAX_RUNS`` runs (default 10,000) are refused before any is built."""
    names = list(axes)
    fields = [f.name for f in dataclasses.fields(RunConfig)]
    for name in names:
        _checks.choice("grid field", name, fields)
    _checks.run_count([len(v) for v in axes.values()])
    return [base.replace(**dict(zip(names, values))) for values in itertools.product(*axes.values())]


def _base(profile: str) -> RunConfig:
    if profile == "quick":
        # digits has 1,437 training inputs: ||gbar||^2 on all of them, exactly
        return RunConfig(dataset="digits", width=64, depth=2, epochs=30, lr=0.05, batch_size=64, gbar_size=None)
    return RunConfig(dataset="mnist", width=1024, depth=2, epochs=100, lr=0.001, batch_size=512)


def _paper(profile, base):
    every = dict(track=("loss", "accuracy", "rho_min", "gbar_sq", "hessian"))
    if profile == "quick":
        return grid(base.replace(track_every=5, hessian_inputs=1, **every), width=[64, 128], init_scale=[0.5, 5.0])
    datasets = [base.dataset] if base.dataset != "mnist" else ["mnist", "cifar10"]
    # both readings of the record's lost symbols: uniform bound c/sqrt(m) or c*sqrt(m)
    return grid(base.replace(**every), dataset=datasets, width=[512, 1024], init_scale=[0.5, 5.0],
                init_mode=["c/sqrt(m)", "c*sqrt(m)"])


def _width(profile, base):
    final = base.replace(track=("loss", "accuracy", "rho_min", "hessian"), track_every=base.epochs)
    widths = [16, 32, 64, 128, 256] if profile == "quick" else [128, 256, 512, 1024, 2048, 4096]
    return grid(final, width=widths, seed=[0] if profile == "quick" else [0, 1, 2])


def _depth(profile, base):
    final = base.replace(track=("loss", "accuracy", "rho_min", "hessian"), track_every=base.epochs, init_scale=4.0)
    depths = [1, 2, 3, 4, 6, 8] if profile == "quick" else [1, 2, 3, 4, 6, 8, 12, 16]
    return grid(final, depth=depths, model=list(MODELS), seed=[0] if profile == "quick" else [0, 1, 2])


def _init_scale(profile, base):
    tracked = base.replace(track=("loss", "accuracy", "rho_min", "gbar_sq", "hessian"),
                           track_every=5, hessian_inputs=1 if profile == "quick" else 4)
    scales = [0.25, 0.5, 1.0, 2.0, 5.0, 10.0]
    return grid(tracked, init_scale=scales, seed=[0] if profile == "quick" else [0, 1, 2])


def _sample_size(profile, base):
    """Same number of SGD steps for every ``n`` (epochs scale like ``n_max / n``), depths 1, 2, 4."""
    size = TRAIN_SIZES.get(base.dataset, 1437 if profile == "quick" else 60000)
    ns = [100, 200, 400, 800, 1437] if profile == "quick" else [1000, 2000, 5000, 10000, 30000, 60000]
    configs = []
    for n in [n for n in ns if n <= size]:
        epochs = max(1, round(base.epochs * min(ns[-1], size) / n))
        final = base.replace(n_train=n, epochs=epochs, track=("loss", "accuracy"), track_every=epochs)
        configs += grid(final, depth=[1, 2, 4], seed=[0] if profile == "quick" else [0, 1, 2])
    return configs


@dataclass(frozen=True)
class Experiment:
    """A named set of runs: ``build(profile, base)`` returns its configurations."""

    name: str
    description: str
    build: Callable[[str, RunConfig], list]


EXPERIMENTS = {e.name: e for e in [
    Experiment("paper", "the paper's experiment: init scale 0.5 vs 5 at two widths; loss, accuracy, rho_min, "
                        "||gbar_t||^2 and Hessian norm over training", _paper),
    Experiment("width", "width sweep: loss, accuracy, rho_min and Hessian norm at init and after training",
               _width),
    Experiment("depth", "depth sweep, WeightNorm vs un-normalized at init scale 4: Hessian norm and loss",
               _depth),
    Experiment("init_scale", "init-scale sweep: rho_min(t), ||gbar_t||^2 and Hessian norm over training",
               _init_scale),
    Experiment("n", "sample-size sweep at equal SGD steps, depths 1/2/4: train/test loss and accuracy",
               _sample_size),
]}


def configs(name: str, profile: str = "quick", *, dataset: str | None = None) -> list[RunConfig]:
    """The configurations of experiment ``name`` in ``profile``; ``dataset`` replaces the profile's dataset."""
    _checks.choice("experiment", name, tuple(EXPERIMENTS))
    _checks.choice("profile", profile, PROFILES)
    base = _base(profile)
    if dataset is not None:
        base = base.replace(dataset=_checks.choice("dataset", dataset, DATASETS))
    if profile == "full":
        base = base.replace(**CPU_SIZED.get(base.dataset, {}))
    return EXPERIMENTS[name].build(profile, base)

