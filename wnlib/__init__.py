"""wnlib: weight-normalized networks, their curvature and their bounds, for the book on
"Optimization and Generalization Guarantees for Weight Normalization" (TMLR 2025)."""
from .bounds import (ACTIVATION_CONSTANTS, generalization_bound, generalization_gap, hessian_bound, paper_scaling,
                     predicted_contraction, rsc_certificate, smoothness)
from .curvature import (HessianOperator, dense_hessian, gbar, gbar_sq, hvp, loss_hessian_norm,
                        predictor_hessian_norm, spectral_norm, square_loss)
from .data import Dataset, dataset_available, load_dataset
from .experiments import RunConfig, load_or_run, sweep
from .hardware import describe as describe_hardware
from .hardware import device
from .model import (ACTIVATIONS, SMOOTH_ACTIVATIONS, PlainMLP, WeightNormMLP, WNLinear, rescale_rows, rho_min,
                    rho_min_per_layer, row_norms)
from .training import History, NonFiniteLossError, evaluate, train

__version__ = "0.1.0"

__all__ = [
    # model
    "ACTIVATIONS", "SMOOTH_ACTIVATIONS", "PlainMLP", "WNLinear", "WeightNormMLP", "rescale_rows", "rho_min",
    "rho_min_per_layer", "row_norms",
    # data, hardware
    "Dataset", "dataset_available", "load_dataset", "describe_hardware", "device",
    # training
    "History", "NonFiniteLossError", "evaluate", "train",
    # curvature
    "HessianOperator", "dense_hessian", "gbar", "gbar_sq", "hvp", "loss_hessian_norm", "predictor_hessian_norm",
    "spectral_norm", "square_loss",
    # bounds
    "ACTIVATION_CONSTANTS", "generalization_bound", "generalization_gap", "hessian_bound", "paper_scaling",
    "predicted_contraction", "rsc_certificate", "smoothness",
    # experiments
    "RunConfig", "load_or_run", "sweep",
]
