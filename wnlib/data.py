"""Datasets as device tensors: digits (offline default), MNIST, CIFAR-10 and a teacher-network regression.

Explained in: book/01_weightnorm.ipynb. Inputs are flattened; classification targets are one-hot (square loss);
``normalize="sphere"`` scales every input to ``||x|| = sqrt(d)`` (book/01_weightnorm.ipynb, "The paper's
network"). ``teacher`` needs torch only; the others need the ``data`` extra (scikit-learn, torchvision).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import _checks, _extras
from .hardware import device as best_device

DATASETS = ("digits", "mnist", "cifar10", "teacher")
NORMALIZATIONS = ("sphere", "standardize", "none")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Where MNIST/CIFAR-10 live: ``root``, else ``$WNLIB_DATA``, else ``~/.cache/wnlib/data``."""
    if root is not None:
        return Path(root).expanduser()
    return Path(os.environ.get("WNLIB_DATA", "~/.cache/wnlib/data")).expanduser()


@dataclass
class Dataset:
    """Train and test tensors on one device. ``num_classes`` is ``None`` for regression."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    name: str
    num_classes: int | None

    @property
    def d_in(self) -> int:
        return self.x_train.shape[1]

    @property
    def d_out(self) -> int:
        return self.y_train.shape[1]

    @property
    def n_train(self) -> int:
        return self.x_train.shape[0]

    @property
    def n_test(self) -> int:
        return self.x_test.shape[0]

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    def to(self, device=None, dtype=None) -> "Dataset":
        """A copy on ``device`` and/or in floating ``dtype``."""
        move = lambda t: t.to(device=device, dtype=dtype)  # noqa: E731
        return Dataset(move(self.x_train), move(self.y_train), move(self.x_test), move(self.y_test),
                       self.name, self.num_classes)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, n_train={self.n_train}, n_test={self.n_test}, d_in={self.d_in}, "
                f"d_out={self.d_out}, device={self.device})")


def _one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k, dtype=np.float32)[labels]


def _subset(x: np.ndarray, y: np.ndarray, n: int | None, seed: int, what: str):
    """The first ``n`` of a seeded permutation (all of it when ``n`` is None)."""
    if n is None:
        return x, y
    n = _checks.positive_int(what, n)
    if n > len(x):
        raise ValueError(f"{what}={n} but the split has only {len(x)} samples")
    idx = np.random.default_rng(seed).permutation(len(x))[:n]
    return x[idx], y[idx]


def _normalize(x_train: np.ndarray, x_test: np.ndarray, how: str):
    if how == "standardize":
        mean, std = x_train.mean(0), x_train.std(0)
        std[std == 0] = 1.0
        return (x_train - mean) / std, (x_test - mean) / std
    if how == "sphere":
        d = x_train.shape[1]

        def sphere(x):
            norms = np.linalg.norm(x, axis=1, keepdims=True)
            if (norms == 0).any():
                raise ValueError("normalize='sphere' cannot scale an all-zero input; use 'standardize' or 'none'")
            return x * (np.sqrt(d) / norms)

        return sphere(x_train), sphere(x_test)
    return x_train, x_test


def _digits(**_):
    sk = _extras.require("sklearn.datasets", "data", "load_dataset('digits')")
    x, y = sk.load_digits(return_X_y=True)
    perm = np.random.default_rng(0).permutation(len(x))  # fixed 80/20 split
    x, y = x[perm].astype(np.float32), y[perm]
    cut = int(0.8 * len(x))
    return x[:cut], _one_hot(y[:cut], 10), x[cut:], _one_hot(y[cut:], 10), 10


_OFFLINE_HINT = "dataset 'digits' (bundled with scikit-learn) works offline"


def _torchvision(name: str, root: Path, download: bool):
    torchvision = _extras.require("torchvision", "data", f"load_dataset({name!r})")
    cls = torchvision.datasets.MNIST if name == "mnist" else _cifar10_class()
    try:
        splits = [cls(str(root), train=train, download=download) for train in (True, False)]
    except Exception as err:  # torchvision raises RuntimeError / URLError / OSError
        if dataset_available(name, root=root):
            how = "is present but could not be read (a truncated or corrupted file?)"
        else:
            how = "could not be downloaded" if download else "was not found and download=False"
        raise RuntimeError(
            f"dataset {name!r} {how}; looked under {root} (set root= or $WNLIB_DATA). "
            f"The {_OFFLINE_HINT}. Cause: {type(err).__name__}: {err}") from err
    arrays = []
    for split in splits:
        x = np.asarray(split.data, dtype=np.float32).reshape(len(split.data), -1) / 255.0
        y = np.asarray(split.targets, dtype=np.int64)
        arrays += [x, _one_hot(y, 10)]
    return (*arrays, 10)


def _cifar10_class():
    import torchvision

    base = torchvision.datasets.CIFAR10

    class CIFAR10(base):
        """torchvision's CIFAR-10 reader, checking that the files are present rather than their MD5 sums, so
        re-packed copies load too; a truncated or corrupted file still fails to unpickle."""

        train_list = [[name, None] for name, _ in base.train_list]
        test_list = [[name, None] for name, _ in base.test_list]
        meta = {**base.meta, "md5": None}

    return CIFAR10


def _teacher(n_train=None, n_test=None, seed=0, d_in=16, **_):
    """``y = f_teacher(x) + 0.1 * noise`` with ``f_teacher`` a random WeightNorm tanh network (width 64, depth 2)."""
    from .model import WeightNormMLP

    n_train = 1024 if n_train is None else n_train
    n_test = 1024 if n_test is None else n_test
    gen = torch.Generator().manual_seed(1000 + seed)
    x = torch.randn(n_train + n_test, d_in, generator=gen)
    teacher = WeightNormMLP(d_in, 64, 2, 1, init_mode="c*sqrt(m)", init_scale=1.0, seed=2000 + seed)
    with torch.no_grad():
        x = x * (d_in ** 0.5 / x.norm(dim=1, keepdim=True))
        y = teacher(x)
        y = y / y.std() + 0.1 * torch.randn(y.shape, generator=gen)
    x, y = x.numpy(), y.numpy()
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:], None


def load_dataset(name: str, *, root=None, n_train: int | None = None, n_test: int | None = None,
                 device=None, normalize: str = "sphere", download: bool = True, seed: int = 0,
                 dtype: torch.dtype = torch.float32) -> Dataset:
    """Load ``name`` in ``("digits", "mnist", "cifar10", "teacher")`` as flattened tensors on ``device``.

    ``n_train``/``n_test`` take a seeded random subset; ``normalize`` is ``"sphere"`` (``||x|| = sqrt(d)``),
    ``"standardize"`` (per feature, train statistics) or ``"none"``. MNIST/CIFAR-10 are read with torchvision
    from ``root`` (default ``$WNLIB_DATA`` or ``~/.cache/wnlib/data``).
    """
    _checks.choice("name", name, DATASETS)
    _checks.choice("normalize", normalize, NORMALIZATIONS)
    if name == "teacher":
        if n_train is not None:
            _checks.positive_int("n_train", n_train)
        if n_test is not None:
            _checks.positive_int("n_test", n_test)
        x_tr, y_tr, x_te, y_te, k = _teacher(n_train=n_train, n_test=n_test, seed=seed)
    else:
        if name == "digits":
            x_tr, y_tr, x_te, y_te, k = _digits()
        else:
            x_tr, y_tr, x_te, y_te, k = _torchvision(name, data_root(root), download)
        x_tr, y_tr = _subset(x_tr, y_tr, n_train, seed, "n_train")
        x_te, y_te = _subset(x_te, y_te, n_test, seed + 1, "n_test")
    x_tr, x_te = _normalize(x_tr, x_te, normalize)
    dev = torch.device(device) if device is not None else best_device()
    to = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=dtype).to(dev)  # noqa: E731
    return Dataset(to(x_tr), to(y_tr), to(x_te), to(y_te), name, k)


def dataset_available(name: str, *, root=None) -> bool:
    """Whether ``load_dataset(name, download=False)`` would find its files (digits and teacher: always)."""
    _checks.choice("name", name, DATASETS)
    if name in ("digits", "teacher"):
        return True
    base = data_root(root)
    if name == "mnist":
        raw = base / "MNIST" / "raw"
        files = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte")
        return all((raw / f).is_file() for f in files)
    folder = base / "cifar-10-batches-py"
    files = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    return all((folder / f).is_file() for f in files)
