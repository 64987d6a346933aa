"""Datasets as device tensors: digits (offline default), MNIST, Fashion-MNIST, CIFAR-10,
a teacher regression.

Explained in: book/01_weightnorm.ipynb. Inputs are flattened; classification targets are
one-hot (square loss); ``normalize="sphere"`` scales every input to ``||x|| = sqrt(d)``
(book/01_weightnorm.ipynb, "Our reconstruction of the paper's network"). ``teacher``
needs torch only; the others need the ``data`` extra (scikit-learn, torchvision).
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import _checks, _extras
from .hardware import device as best_device

DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10", "teacher")
NORMALIZATIONS = ("sphere", "standardize", "none")
SPLITS = {
    "digits": (1437, 360),
    "mnist": (60000, 10000),
    "fashion-mnist": (60000, 10000),
    "cifar10": (50000, 10000),
    "teacher": (None, None),
}
"""Samples in the train and test splits of each dataset (``None``: any number,
generated)."""
SHAPES = {
    "digits": (64, 10),
    "mnist": (784, 10),
    "fashion-mnist": (784, 10),
    "cifar10": (3072, 10),
    "teacher": (16, 1),
}
"""``(d_in, d_out)`` of each dataset: inputs flattened, one-hot targets."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Where MNIST/CIFAR-10 live: ``root``, else ``$WNLIB_DATA``, else
    ``~/.cache/wnlib/data``."""
    if root is not None:
        return Path(root).expanduser()
    return Path(os.environ.get("WNLIB_DATA", "~/.cache/wnlib/data")).expanduser()


@dataclass
class Dataset:
    """Train and test tensors on one device. ``num_classes`` is ``None`` for
    regression."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    name: str
    num_classes: int | None

    def __post_init__(self):
        """Four 2-D tensors on one device: ``x``/``y`` of a split agree in rows, the
        splits agree in features and targets, and neither split is empty (checked
        here, so a bad one fails where it is made)."""
        splits = (("x_train", "y_train"), ("x_test", "y_test"))
        for x_name, y_name in splits:
            for what in (x_name, y_name):
                _checks.tensor(what, getattr(self, what), dim=(2,))
            x, y = getattr(self, x_name), getattr(self, y_name)
            if x.shape[0] != y.shape[0]:
                raise ValueError(
                    f"{x_name} has {x.shape[0]} rows but {y_name} has {y.shape[0]}: "
                    "give one target row per input"
                )
            if x.shape[0] == 0:
                raise ValueError(
                    f"{x_name} has 0 rows: a Dataset needs at least one training and "
                    f"one test sample"
                )
        for what, i in (("features", 1), ("targets", 1)):
            a, b = (
                ("x_train", "x_test") if what == "features" else ("y_train", "y_test")
            )
            if getattr(self, a).shape[i] != getattr(self, b).shape[i]:
                raise ValueError(
                    f"{a} has {getattr(self, a).shape[i]} {what} per row but {b} has "
                    f"{getattr(self, b).shape[i]}: train and test must have the same "
                    f"columns"
                )
        devices = {
            str(getattr(self, t).device)
            for t in ("x_train", "y_train", "x_test", "y_test")
        }
        if len(devices) > 1:
            raise ValueError(
                f"the tensors of a Dataset must be on one device, got {sorted(devices)}"
            )
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str, got {type(self.name).__name__}")
        if self.num_classes is not None:
            _checks.positive_int("num_classes", self.num_classes)

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
        return Dataset(
            move(self.x_train),
            move(self.y_train),
            move(self.x_test),
            move(self.y_test),
            self.name,
            self.num_classes,
        )

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, n_train={self.n_train}, n_test={self.n_test}, "
            f"d_in={self.d_in}, d_out={self.d_out}, device={self.device})"
        )


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
                raise ValueError(
                    "normalize='sphere' cannot scale an all-zero input; use "
                    "'standardize' or 'none'"
                )
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


_MNIST_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``dataset-fashion-mnist`` package puts the four gzipped IDX files
(``make data``)."""


def _failure(name: str, root: Path, download: bool, err: Exception) -> RuntimeError:
    if dataset_available(name, root=root):
        how = "is present but could not be read (a truncated or corrupted file?)"
    else:
        how = (
            "could not be downloaded"
            if download
            else "was not found and download=False"
        )
    return RuntimeError(
        f"dataset {name!r} {how}; looked under {root} (set root= or $WNLIB_DATA). "
        f"The {_OFFLINE_HINT}. Cause: {type(err).__name__}: {err}"
    )


def _checked(name: str, x: np.ndarray, labels, split: str):
    """Images and labels that agree in count, labels in 0..9; one-hot targets."""
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(x) != len(y):
        raise ValueError(
            f"the {split} split of {name!r} has {len(x)} images but {len(y)} labels"
        )
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise ValueError(
            f"the {split} split of {name!r} has labels outside 0..9 (min {y.min()}, "
            f"max {y.max()})"
        )
    return x.reshape(len(x), -1).astype(np.float32) / 255.0, _one_hot(y, 10)


def _unpack_system_fashion_mnist(raw: Path) -> None:
    """Copy the installed package's gzipped files into torchvision's ``raw/`` layout,
    uncompressed."""
    import gzip
    import shutil

    raw.mkdir(parents=True, exist_ok=True)
    for name in _MNIST_FILES:
        if not (raw / name).is_file():
            tmp = raw / f".{name}.tmp"
            with (
                gzip.open(SYSTEM_FASHION_MNIST / f"{name}.gz", "rb") as src,
                open(tmp, "wb") as dst,
            ):
                shutil.copyfileobj(src, dst)
            os.replace(tmp, raw / name)


def _mnist_family(name: str, root: Path, download: bool):
    """MNIST or Fashion-MNIST (same IDX files) through torchvision's reader;
    Fashion-MNIST comes from the installed Debian package when present (no network),
    else from torchvision's download."""
    torchvision = _extras.require("torchvision", "data", f"load_dataset({name!r})")
    raw = root / _MNIST_FOLDERS[name] / "raw"
    if (
        name == "fashion-mnist"
        and not dataset_available(name, root=root)
        and SYSTEM_FASHION_MNIST.is_dir()
    ):
        _unpack_system_fashion_mnist(raw)
    cls = (
        torchvision.datasets.MNIST
        if name == "mnist"
        else torchvision.datasets.FashionMNIST
    )
    try:
        splits = [
            cls(str(root), train=train, download=download) for train in (True, False)
        ]
        arrays = [
            _checked(name, np.asarray(s.data), s.targets, "train" if i == 0 else "test")
            for i, s in enumerate(splits)
        ]
    except Exception as err:  # torchvision raises RuntimeError / URLError / OSError
        raise _failure(name, root, download, err) from err
    return (*arrays[0], *arrays[1], 10)


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10 batches only: dicts, lists, strings and NumPy arrays; anything
    else (the ``os.system`` of a planted file) is refused before it can run."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"refused to load {module}.{name}: a CIFAR-10 batch holds only arrays, "
                "lists and strings"
            )
        return super().find_class(module, name)


def _cifar_batch(batch, name: str) -> tuple[np.ndarray, list[int]]:
    """``data`` and ``labels`` of one unpickled CIFAR-10 batch, checked (types, shapes,
    ranges) before anything is converted: ``data`` a uint8 array of rows of 3072
    pixels, ``labels`` one int in 0..9 per row."""
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise ValueError(
            f"{name}: a CIFAR-10 batch is a dict with 'data' and 'labels', got "
            f"{type(batch).__name__}"
        )
    data, labels = batch["data"], batch["labels"]
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3072
    ):
        shown = (
            f"{data.dtype} array of shape {data.shape}"
            if isinstance(data, np.ndarray)
            else type(data).__name__
        )
        raise ValueError(
            f"{name}: 'data' must be a uint8 array of shape (n, 3072) (pixels 0..255), "
            f"got {shown}"
        )
    if not isinstance(labels, list) or len(labels) != len(data):
        shown = (
            f"a list of {len(labels)}"
            if isinstance(labels, list)
            else type(labels).__name__
        )
        raise ValueError(
            f"{name}: 'labels' must be a list of {len(data)} ints (one per row of "
            f"'data'), got {shown}"
        )
    for i, label in enumerate(labels):
        if (
            isinstance(label, (bool, np.bool_))
            or not isinstance(label, (int, np.integer))
            or not 0 <= label <= 9
        ):
            raise ValueError(
                f"{name}: labels must be ints in 0..9, got {label!r} at index {i}"
            )
    return data, [int(label) for label in labels]


def _cifar10(root: Path, download: bool):
    """CIFAR-10's pickled batches, read with a restricted unpickler (no code runs from a
    data file); the download, when needed, goes through torchvision (which checks the
    published MD5 sums)."""
    folder = root / "cifar-10-batches-py"
    try:
        if not dataset_available("cifar10", root=root):
            if not download:
                raise FileNotFoundError(f"{folder} lacks {', '.join(_CIFAR_FILES)}")
            torchvision = _extras.require(
                "torchvision", "data", "load_dataset('cifar10')"
            )
            torchvision.datasets.CIFAR10(str(root), train=True, download=True)
        arrays = []
        for split, names in (("train", _CIFAR_FILES[:5]), ("test", _CIFAR_FILES[5:])):
            images, labels = [], []
            for name in names:
                with open(folder / name, "rb") as f:
                    batch = _BatchUnpickler(f, encoding="latin1").load()
                data, batch_labels = _cifar_batch(batch, name)
                images.append(data.reshape(-1, 3, 32, 32))
                labels += batch_labels
            x = np.concatenate(images).transpose(
                0, 2, 3, 1
            )  # HWC, as torchvision stores it
            arrays += _checked("cifar10", x, labels, split)
    except Exception as err:
        raise _failure("cifar10", root, download, err) from err
    return (*arrays, 10)


def _teacher(n_train=None, n_test=None, seed=0, d_in=16, **_):
    """``y = f_teacher(x) + 0.1 * noise`` with ``f_teacher`` a random WeightNorm tanh
    network (width 64, depth 2)."""
    from .model import WeightNormMLP

    n_train = 1024 if n_train is None else n_train
    n_test = 1024 if n_test is None else n_test
    gen = torch.Generator().manual_seed(1000 + seed)
    x = torch.randn(n_train + n_test, d_in, generator=gen)
    teacher = WeightNormMLP(
        d_in, 64, 2, 1, init_mode="c*sqrt(m)", init_scale=1.0, seed=2000 + seed
    )
    with torch.no_grad():
        x = x * (d_in**0.5 / x.norm(dim=1, keepdim=True))
        y = teacher(x)
        y = y / y.std() + 0.1 * torch.randn(y.shape, generator=gen)
    x, y = x.numpy(), y.numpy()
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:], None


def _check_load_arguments(
    *, root, n_train, n_test, device, download, seed, dtype
) -> None:
    """The arguments of :func:`load_dataset`, checked before any file is read."""
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(
            f"root must be None, a str or a path, got {type(root).__name__}"
        )
    for what, n in (("n_train", n_train), ("n_test", n_test)):
        if n is not None:
            _checks.positive_int(what, n)
    _checks.choice("download", download, (True, False))
    _checks.seed("seed", seed)
    if dtype is None:
        raise TypeError(
            "dtype must be a floating-point torch.dtype (torch.float32, torch.float64, "
            "...), got None"
        )
    _checks.floating_dtype("dtype", dtype)
    if device is not None:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(
                f"device must be None, 'cpu', 'cuda', 'cuda:N', 'mps' or a "
                f"torch.device, got {device!r} ({err})"
            ) from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} but CUDA is not available here; use device=None "
                "(the best available) or 'cpu'"
            )


def load_dataset(
    name: str,
    *,
    root=None,
    n_train: int | None = None,
    n_test: int | None = None,
    device=None,
    normalize: str = "sphere",
    download: bool = True,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> Dataset:
    """Load ``name`` (one of :data:`DATASETS`) as flattened tensors on ``device``.

    ``n_train``/``n_test`` take a seeded random subset; ``normalize`` is ``"sphere"``
    (``||x|| = sqrt(d)``), ``"standardize"`` (per feature, train statistics) or
    ``"none"``. MNIST, Fashion-MNIST and CIFAR-10 are read from ``root`` (default
    ``$WNLIB_DATA`` or ``~/.cache/wnlib/data``) in torchvision's layout, and downloaded
    by torchvision when missing and ``download``; Fashion-MNIST is taken from Debian's
    ``dataset-fashion-mnist`` package when it is installed (``make data``), with no
    network. CIFAR-10 batches are unpickled with a restricted unpickler: a planted file
    cannot run code.
    """
    _checks.choice("name", name, DATASETS)
    _checks.choice("normalize", normalize, NORMALIZATIONS)
    _check_load_arguments(
        root=root,
        n_train=n_train,
        n_test=n_test,
        device=device,
        download=download,
        seed=seed,
        dtype=dtype,
    )
    if name == "teacher":
        if n_train is not None:
            _checks.positive_int("n_train", n_train)
        if n_test is not None:
            _checks.positive_int("n_test", n_test)
        x_tr, y_tr, x_te, y_te, k = _teacher(n_train=n_train, n_test=n_test, seed=seed)
    else:
        if name == "digits":
            x_tr, y_tr, x_te, y_te, k = _digits()
        elif name == "cifar10":
            x_tr, y_tr, x_te, y_te, k = _cifar10(data_root(root), download)
        else:
            x_tr, y_tr, x_te, y_te, k = _mnist_family(name, data_root(root), download)
        x_tr, y_tr = _subset(x_tr, y_tr, n_train, seed, "n_train")
        x_te, y_te = _subset(x_te, y_te, n_test, seed + 1, "n_test")
    x_tr, x_te = _normalize(x_tr, x_te, normalize)
    dev = torch.device(device) if device is not None else best_device()
    to = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=dtype).to(dev)  # noqa: E731
    return Dataset(to(x_tr), to(y_tr), to(x_te), to(y_te), name, k)


def dataset_available(name: str, *, root=None) -> bool:
    """Whether ``load_dataset(name, download=False)`` would find its files (digits
    and teacher: always)."""
    _checks.choice("name", name, DATASETS)
    if name in ("digits", "teacher"):
        return True
    base = data_root(root)
    if name in _MNIST_FOLDERS:
        return all(
            (base / _MNIST_FOLDERS[name] / "raw" / f).is_file() for f in _MNIST_FILES
        )
    return all((base / "cifar-10-batches-py" / f).is_file() for f in _CIFAR_FILES)
