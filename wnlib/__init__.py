"""wnlib: weight-normalized networks, their curvature and their bounds, for the book on
"Optimization and Generalization Guarantees for Weight Normalization" (TMLR 2025)."""
from .curvature import (HessianOperator, dense_hessian, gbar, gbar_sq, hvp, loss_hessian_norm,
                        predictor_hessian_norm, spectral_norm, square_loss)
from .data import Dataset, dataset_available, load_dataset
from .hardware import describe as describe_hardware
from .hardware import device
from .model import (ACTIVATIONS, SMOOTH_ACTIVATIONS, PlainMLP, WeightNormMLP, WNLinear, rescale_rows, rho_min,
                    rho_min_per_layer, row_norms)
from .training import History, NonFiniteLossError, evaluate, train

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS", "SMOOTH_ACTIVATIONS", "Dataset", "HessianOperator", "History", "NonFiniteLossError",
    "PlainMLP", "WNLinear", "WeightNormMLP", "dataset_available", "dense_hessian", "describe_hardware",
    "device", "evaluate", "gbar", "gbar_sq", "hvp", "load_dataset", "loss_hessian_norm",
    "predictor_hessian_norm", "rescale_rows", "rho_min", "rho_min_per_layer", "row_norms", "spectral_norm",
    "square_loss", "train",
]

from .experiments import RunConfig, load_or_run, sweep  # noqa: E402

__all__ += ["RunConfig", "load_or_run", "sweep"]
from .bounds import (ACTIVATION_CONSTANTS, generalization_bound, generalization_gap, hessian_bound,  # noqa: E402
                     paper_scaling, predicted_contraction, rsc_certificate, smoothness)
__all__ += ["ACTIVATION_CONSTANTS", "generalization_bound", "generalization_gap", "hessian_bound", "paper_scaling",
            "predicted_contraction", "rsc_certificate", "smoothness"]
