"""wnlib: weight-normalized networks, their curvature and their bounds, for the book on
"Optimization and Generalization Guarantees for Weight Normalization" (TMLR 2025).

The core (this namespace) needs torch, numpy and scipy only. ``wnlib.experiments``
(runs, sweeps, the command line) needs the ``experiments`` extra, ``wnlib.book`` (the
chapters' figures and widgets) the ``book`` extra, and the digits/MNIST/CIFAR-10 loaders
the ``data`` extra.
"""

from . import bounds
from .curvature import HessianOperator, hvp, lanczos, spectral_norm
from .data import Dataset, dataset_available, load_dataset
from .hardware import describe as describe_hardware
from .hardware import device
from .model import (
    ACTIVATIONS,
    SMOOTH_ACTIVATIONS,
    PlainMLP,
    WeightNormMLP,
    WNLinear,
    rescale_rows,
)
from .quantities import (
    dense_hessian,
    evaluate,
    gbar,
    gbar_sq,
    gbar_sq_estimate,
    loss_hessian_norm,
    loss_operator,
    predictor_hessian_norm,
    predictor_operator,
    rho_min,
    rho_min_per_layer,
    row_norms,
    square_loss,
)
from .tracking import TRACKABLE, TrackSpec
from .training import History, NonFiniteLossError, train
from ._version import __version__

__all__ = [
    # model
    "ACTIVATIONS",
    "SMOOTH_ACTIVATIONS",
    "PlainMLP",
    "WNLinear",
    "WeightNormMLP",
    "rescale_rows",
    # data, hardware
    "Dataset",
    "dataset_available",
    "load_dataset",
    "describe_hardware",
    "device",
    # the theory's quantities
    "TRACKABLE",
    "dense_hessian",
    "evaluate",
    "gbar",
    "gbar_sq",
    "gbar_sq_estimate",
    "loss_hessian_norm",
    "loss_operator",
    "predictor_hessian_norm",
    "predictor_operator",
    "rho_min",
    "rho_min_per_layer",
    "row_norms",
    "square_loss",
    # curvature machinery
    "HessianOperator",
    "hvp",
    "lanczos",
    "spectral_norm",
    # training
    "History",
    "NonFiniteLossError",
    "TrackSpec",
    "train",
    # bounds (a subpackage), version
    "bounds",
    "__version__",
]
