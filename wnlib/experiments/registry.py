"""The experiments of the book and the paper: named sets of runs, each in three
profiles.

Explained in: book/05_experiments.ipynb and README.md ("Reproducing the paper's
experiments").

``full`` is the paper's protocol as quoted in the book's claims ledger: MNIST and
CIFAR-10, init scales 0.5 and 5, mini-batch SGD with batch 512 and learning rate 0.001,
square loss, widths 512 and 1024 (quoted for MNIST; used on CIFAR-10 too). ``cpu`` is
the same protocol with 8 epochs and the Hessian norm at one input, on Fashion-MNIST, so
that the 8 runs of ``paper`` take minutes on a 2-core CPU. ``quick`` runs the same
protocol on the offline ``digits`` data at reduced widths with batch 64 and learning
rate 0.05, so that it trains within CPU minutes (with lr 0.001 and 23 steps per epoch
nothing moves in a few epochs). Settings the paper's record does not fix (depth 2, tanh,
100 epochs in ``full``, one-hot targets, both readings ``c/sqrt(m)`` and ``c*sqrt(m)``
of the record's lost symbols, the widths on CIFAR-10, what is tracked) are this
project's choices. A profile runs exactly the dataset asked for; without one,
:func:`default_datasets`.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Callable

from .. import _checks
from ..data import DATASETS
from .config import MODELS, RunConfig

TRAIN_SIZES = {"digits": 1437, "mnist": 60000, "fashion-mnist": 60000, "cifar10": 50000}


@dataclass(frozen=True)
class Profile:
    """What every experiment starts from: ``base`` (the settings of every run; its
    dataset is replaced by the one run), ``datasets`` (run when none is asked for),
    ``small`` (the reduced grids of the quick profile) and ``changes`` (one line for
    ``--help`` and the README)."""

    name: str
    base: RunConfig
    datasets: tuple
    small: bool
    changes: str


_FULL = RunConfig(
    dataset="mnist", width=1024, depth=2, epochs=100, lr=0.001, batch_size=512
)
PROFILES = {
    p.name: p
    for p in [
        # digits has 1,437 training inputs: ||gbar||^2 on all of them, exactly
        Profile(
            "quick",
            RunConfig(
                dataset="digits",
                width=64,
                depth=2,
                epochs=30,
                lr=0.05,
                batch_size=64,
                gbar_size=None,
            ),
            ("digits",),
            True,
            "the protocol on the offline digits: widths 64 and 128 in paper, smaller "
            "grids, one seed, 30 epochs, batch 64, lr 0.05 (CPU minutes)",
        ),
        Profile(
            "cpu",
            _FULL.replace(dataset="fashion-mnist", epochs=8, hessian_inputs=1),
            ("fashion-mnist",),
            False,
            "the full protocol with 8 epochs instead of 100 and the Hessian norm at "
            "one input instead of 4 (paper: 8 runs in minutes on 2 CPU cores)",
        ),
        Profile(
            "full",
            _FULL,
            ("mnist", "cifar10"),
            False,
            "the paper's protocol: batch 512, lr 0.001, 100 epochs, widths 512 and "
            "1024 in paper, 3 seeds in the sweeps (GPU hours)",
        ),
    ]
}
"""The profiles, by name: the one table that ``--help``, the README and chapter 5
describe."""


def grid(base: RunConfig, **axes) -> list[RunConfig]:
    """The cartesian product of ``axes`` (field name -> list of values) applied to
    ``base``; more than ``WNLIB_MAX_RUNS`` runs (default 10,000) are refused before
    any is built."""
    names = list(axes)
    fields = [f.name for f in dataclasses.fields(RunConfig)]
    for name in names:
        _checks.choice("grid field", name, fields)
    _checks.run_count([len(v) for v in axes.values()])
    return [
        base.replace(**dict(zip(names, values)))
        for values in itertools.product(*axes.values())
    ]


def _paper(profile, base):
    every = dict(track=("loss", "accuracy", "rho_min", "gbar_sq", "hessian"))
    if profile.small:
        return grid(
            base.replace(track_every=5, hessian_inputs=1, **every),
            width=[64, 128],
            init_scale=[0.5, 5.0],
        )
    # both readings of the record's lost symbols: uniform bound c/sqrt(m) or c*sqrt(m)
    return grid(
        base.replace(**every),
        width=[512, 1024],
        init_scale=[0.5, 5.0],
        init_mode=["c/sqrt(m)", "c*sqrt(m)"],
    )


def _width(profile, base):
    final = base.replace(
        track=("loss", "accuracy", "rho_min", "hessian"), track_every=base.epochs
    )
    widths = (
        [16, 32, 64, 128, 256] if profile.small else [128, 256, 512, 1024, 2048, 4096]
    )
    return grid(final, width=widths, seed=[0] if profile.small else [0, 1, 2])


def _depth(profile, base):
    final = base.replace(
        track=("loss", "accuracy", "rho_min", "hessian"),
        track_every=base.epochs,
        init_scale=4.0,
    )
    depths = [1, 2, 3, 4, 6, 8] if profile.small else [1, 2, 3, 4, 6, 8, 12, 16]
    return grid(
        final,
        depth=depths,
        model=list(MODELS),
        seed=[0] if profile.small else [0, 1, 2],
    )


def _init_scale(profile, base):
    tracked = base.replace(
        track=("loss", "accuracy", "rho_min", "gbar_sq", "hessian"),
        track_every=5,
        hessian_inputs=1 if profile.small else base.hessian_inputs,
    )
    scales = [0.25, 0.5, 1.0, 2.0, 5.0, 10.0]
    return grid(tracked, init_scale=scales, seed=[0] if profile.small else [0, 1, 2])


def _sample_size(profile, base):
    """Same number of SGD steps for every ``n`` (epochs scale like ``n_max / n``),
    depths 1, 2, 4."""
    size = TRAIN_SIZES.get(base.dataset, 1437 if profile.small else 60000)
    ns = (
        [100, 200, 400, 800, 1437]
        if profile.small
        else [1000, 2000, 5000, 10000, 30000, 60000]
    )
    configs = []
    for n in [n for n in ns if n <= size]:
        epochs = max(1, round(base.epochs * min(ns[-1], size) / n))
        final = base.replace(
            n_train=n, epochs=epochs, track=("loss", "accuracy"), track_every=epochs
        )
        configs += grid(
            final, depth=[1, 2, 4], seed=[0] if profile.small else [0, 1, 2]
        )
    return configs


@dataclass(frozen=True)
class Experiment:
    """A named set of runs: ``build(profile, base)`` returns its configurations on
    ``base.dataset``. ``every_dataset``: without a dataset asked for, it runs on each
    of the profile's datasets (else the first)."""

    name: str
    description: str
    build: Callable[[Profile, RunConfig], list]
    every_dataset: bool = False


EXPERIMENTS = {
    e.name: e
    for e in [
        Experiment(
            "paper",
            "the paper's experiment: init scale 0.5 vs 5 at two widths; loss, "
            "accuracy, rho_min, ||gbar_t||^2 and Hessian norm over training",
            _paper,
            every_dataset=True,
        ),
        Experiment(
            "width",
            "width sweep: loss, accuracy, rho_min and Hessian norm at init and after "
            "training",
            _width,
        ),
        Experiment(
            "depth",
            "depth sweep, WeightNorm vs un-normalized at init scale 4: Hessian norm "
            "and loss",
            _depth,
        ),
        Experiment(
            "init_scale",
            "init-scale sweep: rho_min(t), ||gbar_t||^2 and Hessian norm over training",
            _init_scale,
        ),
        Experiment(
            "n",
            "sample-size sweep at equal SGD steps, depths 1/2/4: train/test loss and "
            "accuracy",
            _sample_size,
        ),
    ]
}


def default_datasets(name: str, profile: str) -> tuple:
    """The datasets experiment ``name`` runs on in ``profile`` when none is asked for:
    the profile's datasets (``paper``) or the first of them (the other experiments)."""
    _checks.choice("experiment", name, tuple(EXPERIMENTS))
    datasets = PROFILES[_checks.choice("profile", profile, tuple(PROFILES))].datasets
    return datasets if EXPERIMENTS[name].every_dataset else datasets[:1]


def configs(
    name: str, profile: str = "quick", *, dataset: str | None = None
) -> list[RunConfig]:
    """The configurations of experiment ``name`` in ``profile``, on ``dataset`` only
    (default: :func:`default_datasets`); the profile's settings are the same whatever
    the dataset."""
    datasets = default_datasets(name, profile)
    if dataset is not None:
        datasets = (_checks.choice("dataset", dataset, DATASETS),)
    p = PROFILES[profile]
    return [
        c
        for d in datasets
        for c in EXPERIMENTS[name].build(p, p.base.replace(dataset=d))
    ]


def describe_profiles() -> dict[str, str]:
    """Each profile's name -> what it changes and the data it runs without
    ``--dataset``: the text of ``--help`` and of the README's list of profiles (a
    test keeps them equal)."""
    every = ", ".join(e.name for e in EXPERIMENTS.values() if e.every_dataset)
    described = {}
    for p in PROFILES.values():
        data = (
            p.datasets[0]
            if len(p.datasets) == 1
            else (
                f"{' and '.join(p.datasets)} ({every}; the other experiments: "
                f"{p.datasets[0]})"
            )
        )
        described[p.name] = f"{p.changes}; data: {data}"
    return described
