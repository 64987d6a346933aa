"""A run's configuration: everything that determines one training run, hashed into its
key.

Explained in: book/05_experiments.ipynb and README.md ("Reproducing the paper's
experiments").
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import _checks
from ..data import DATASETS, NORMALIZATIONS, SHAPES, SPLITS, Dataset, load_dataset
from ..hardware import device as best_device
from ..model import ACTIVATIONS, GAIN_PRESETS, INIT_MODES, PlainMLP, WeightNormMLP
from ..tracking import TRACKABLE, TrackSpec

MODELS = ("weightnorm", "plain")
_TRACKING = TrackSpec()  # the tracking defaults, defined once in TrackSpec


def _check_device(name) -> None:
    """``"auto"``, ``"cpu"``, or a CUDA / MPS device that this machine has; else one
    error naming ``device``."""
    accepted = (
        "device must be 'auto' or a torch device of this machine ('cpu', 'cuda', "
        "'cuda:1', 'mps')"
    )
    if not isinstance(name, str):
        raise ValueError(f"{accepted}, got {name!r}")
    if name == "auto":
        return
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"{accepted}, got {name!r}") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (dev.index or 0) >= count:
            raise ValueError(
                f"{accepted}, got {name!r}: this machine has {count} CUDA device(s); "
                f"use 'auto' or 'cpu'"
            )
    elif dev.type == "mps":
        if not (
            getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
        ):
            raise ValueError(
                f"{accepted}, got {name!r}: MPS is not available here; use 'auto' or "
                f"'cpu'"
            )
    elif dev.type != "cpu":
        raise ValueError(f"{accepted}, got {name!r}")


def default_results_dir() -> Path:
    """``$WNLIB_RESULTS`` if set, else ``~/.cache/wnlib/results``: where runs go without
    an ``out``. The book passes its own folder (``wnlib.book.setup().results``; the
    command line: ``--out book/results``)."""
    if os.environ.get("WNLIB_RESULTS"):
        return Path(os.environ["WNLIB_RESULTS"]).expanduser()
    return Path("~/.cache/wnlib/results").expanduser()


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one training run; ``key`` hashes all of it.

    Model: ``model`` ("weightnorm" or "plain"), ``width`` (m), ``depth`` (L),
    ``activation``, ``init_scale`` (c), ``init_mode``, ``scale_output`` (whether ``V``
    follows the init scale), ``gains``. Data: ``dataset``, ``n_train``/``n_test`` (None:
    all), ``normalize``, ``data_seed``. SGD: ``epochs``, ``lr``, ``batch_size``,
    ``momentum``, ``weight_decay``, ``seed`` (init and batch order). Tracking
    (:attr:`tracking`, a :class:`wnlib.tracking.TrackSpec`, gives these fields' meaning
    and defaults): ``track`` (names from ``wnlib.tracking.TRACKABLE``) every
    ``track_every`` epochs (and always at the start and the end), ``eval_size``,
    ``hessian_inputs``, ``gbar_size``, ``curvature_size``. ``device`` "auto" picks the
    best device (recorded in the metadata).
    """

    dataset: str = "digits"
    n_train: int | None = None
    n_test: int | None = None
    normalize: str = "sphere"
    data_seed: int = 0
    model: str = "weightnorm"
    width: int = 64
    depth: int = 2
    activation: str = "tanh"
    init_scale: float = 0.5
    init_mode: str = "c/sqrt(m)"
    scale_output: bool = True
    gains: str = "fixed"
    epochs: int = 30
    lr: float = 0.05
    batch_size: int = 64
    momentum: float = 0.0
    weight_decay: float = 0.0
    seed: int = 0
    track: tuple = _TRACKING.track
    track_every: int = _TRACKING.every
    eval_size: int = _TRACKING.eval_size
    hessian_inputs: int = _TRACKING.hessian_inputs
    gbar_size: int | None = _TRACKING.gbar_size
    curvature_size: int = _TRACKING.curvature_size
    device: str = "auto"

    def __post_init__(self):
        _checks.choice("dataset", self.dataset, DATASETS)
        _checks.choice("model", self.model, MODELS)
        _checks.choice("activation", self.activation, tuple(ACTIVATIONS))
        _checks.choice("init_mode", self.init_mode, INIT_MODES)
        _checks.choice("gains", self.gains, GAIN_PRESETS)
        _checks.choice("normalize", self.normalize, NORMALIZATIONS)
        if not isinstance(self.scale_output, bool):
            raise TypeError(
                f"scale_output must be true or false, got {self.scale_output!r}"
            )
        _check_device(self.device)
        for name in ("seed", "data_seed"):
            _checks.seed(name, getattr(self, name))
        for name in ("width", "depth", "batch_size", "track_every"):
            _checks.positive_int(name, getattr(self, name))
        _checks.positive_int("epochs", self.epochs, allow_zero=True)
        for name, available in zip(("n_train", "n_test"), SPLITS[self.dataset]):
            n = getattr(self, name)
            if n is not None:
                _checks.positive_int(name, n)
                if available is not None and n > available:
                    raise ValueError(
                        f"{name} must be at most {available} (the {name[2:]} split of "
                        f"{self.dataset!r}) or None (all of it), got {n}"
                    )
        _checks.model_size(
            SHAPES[self.dataset][0], self.width, self.depth, SHAPES[self.dataset][1]
        )
        for name in ("lr", "init_scale"):
            object.__setattr__(
                self, name, _checks.positive_float(name, getattr(self, name))
            )
        for name in ("momentum", "weight_decay"):
            object.__setattr__(
                self,
                name,
                _checks.positive_float(name, getattr(self, name), allow_zero=True),
            )
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if isinstance(self.track, str) or not isinstance(self.track, (list, tuple)):
            raise TypeError(
                f"track must be a list of names from {', '.join(TRACKABLE)}, got "
                f"{self.track!r}"
            )
        object.__setattr__(self, "track", tuple(self.track))
        for name in self.track:
            _checks.choice("track", name, TRACKABLE)
        self.tracking  # checks eval_size, hessian_inputs, gbar_size, curvature_size

    @property
    def tracking(self) -> TrackSpec:
        """What the run tracks, and how often: its tracking fields as a
        :class:`wnlib.tracking.TrackSpec`."""
        return TrackSpec(
            track=self.track,
            every=self.track_every,
            eval_size=self.eval_size,
            hessian_inputs=self.hessian_inputs,
            curvature_size=self.curvature_size,
            gbar_size=self.gbar_size,
        )

    @property
    def key(self) -> str:
        """First 16 hex digits of the SHA-256 of the configuration as sorted JSON."""
        return hashlib.sha256(
            json.dumps(self.to_dict(), sort_keys=True).encode()
        ).hexdigest()[:16]

    def to_dict(self) -> dict:
        """Plain JSON-able dict (``track`` as a list); ``curvature_size`` only when it
        is not the default, so the keys of runs made before the field existed stay
        theirs."""
        d = dataclasses.asdict(self)
        d["track"] = list(self.track)
        if self.curvature_size == _TRACKING.curvature_size:
            del d["curvature_size"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        """Build from a dict; unknown fields raise an error listing the accepted
        ones."""
        fields = [f.name for f in dataclasses.fields(cls)]
        for name in d:
            _checks.choice("RunConfig field", name, fields)
        return cls(**d)

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)

    def torch_device(self) -> torch.device:
        """The device of the run: the best one here for ``device="auto"``."""
        return best_device() if self.device == "auto" else torch.device(self.device)

    def load_data(self, device=None) -> Dataset:
        """The run's data on ``device`` (default :meth:`torch_device`)."""
        return load_dataset(
            self.dataset,
            n_train=self.n_train,
            n_test=self.n_test,
            device=device if device is not None else self.torch_device(),
            normalize=self.normalize,
            seed=self.data_seed,
        )

    def build_model(self, d_in: int, d_out: int) -> torch.nn.Module:
        """The run's network, initialised from ``seed``."""
        cls = WeightNormMLP if self.model == "weightnorm" else PlainMLP
        return cls(
            d_in,
            self.width,
            self.depth,
            d_out,
            activation=self.activation,
            init_scale=self.init_scale,
            init_mode=self.init_mode,
            scale_output=self.scale_output,
            gains=self.gains,
            seed=self.seed,
        )
