"""Issue 12, item 8: every bad input to the core library gets one clear error, naming the argument, at the call
and before any work starts. One table: (id, the bad call, the exception, a fragment of its message). The next
bad input is one more row.

Each fragment is the message of the check that catches the input (not a generic one), so a row passes only
when that check fires, before any training or computation.
"""
import functools
import math

import pytest
import torch

import wnlib
import wnlib.experiments
from wnlib import bounds
from wnlib.curvature import HessianOperator
from wnlib.tracking import TrackSpec, check_track, measure


# ---- tiny fixtures (built lazily, once; CPU; no downloads) ----------------------------------------------------

@functools.lru_cache(maxsize=None)
def _teacher() -> wnlib.Dataset:
    return wnlib.load_dataset("teacher", n_train=32, n_test=16, device="cpu")


def data(**replace) -> wnlib.Dataset:
    """The teacher data (d_in=16, d_out=1), with some tensors replaced."""
    d = _teacher()
    parts = dict(x_train=d.x_train, y_train=d.y_train, x_test=d.x_test, y_test=d.y_test)
    parts.update(replace)
    return wnlib.Dataset(**parts, name="teacher", num_classes=None)


def poisoned(name: str, value=math.nan, row: int = 3) -> wnlib.Dataset:
    """The teacher data with one non-finite entry in tensor ``name``."""
    t = getattr(_teacher(), name).clone()
    t[row, 0] = value
    return data(**{name: t})


def model(**kw) -> wnlib.WeightNormMLP:
    return wnlib.WeightNormMLP(16, 8, 2, 1, **({"seed": 0} | kw))


def broken(param: str = "V", value=math.nan) -> wnlib.WeightNormMLP:
    """A model whose parameter/buffer ``param`` holds one non-finite entry."""
    m = model()
    with torch.no_grad():
        dict(list(m.named_parameters()) + list(m.named_buffers()))[param].view(-1)[0] = value
    return m


def x(n: int = 4) -> torch.Tensor:
    return _teacher().x_train[:n]


def y(n: int = 4) -> torch.Tensor:
    return _teacher().y_train[:n]


def with_nan(t: torch.Tensor, value=math.nan) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[1] = value
    return t


EMPTY = torch.empty(0, 16)


def train(m=None, d=None, **kw):
    kw = dict(epochs=1, lr=0.1, batch_size=16, progress=False) | kw
    return wnlib.train(model() if m is None else m, _teacher() if d is None else d, **kw)


def operator(m=None):
    m = model() if m is None else m
    return wnlib.quantities.predictor_operator(m, x(1)[0])


def infinite_operator():
    """A HessianOperator built directly on a parameter holding inf."""
    p = torch.tensor([1.0, math.inf], requires_grad=True)
    return HessianOperator(lambda: p.sum() ** 2, [p])


def overflowing_operator():
    """Finite parameters, but a function that overflows float32: an infinite Hessian."""
    p = torch.ones(3, requires_grad=True)
    return HessianOperator(lambda: (p * 1e20).pow(4).sum(), [p])


# ---- the table ---------------------------------------------------------------------------------------------

BAD_INPUTS = [
    # seeds: strings, floats, bools, negatives, None, too large
    ("model-seed-str", lambda: model(seed="3"), TypeError, "seed must be an int >= 0 or None (the global random state), got '3'"),
    ("model-seed-float", lambda: wnlib.WeightNormMLP(16, 8, 2, 1, seed=1.5), TypeError, "seed must be an int >= 0 or None"),
    ("model-seed-bool", lambda: wnlib.WeightNormMLP(16, 8, 2, 1, seed=True), TypeError, "seed must be an int >= 0 or None"),
    ("model-seed-negative", lambda: wnlib.WeightNormMLP(16, 8, 2, 1, seed=-1), ValueError, "seed must be an int >= 0 or None"),
    ("model-seed-huge", lambda: wnlib.WeightNormMLP(16, 8, 2, 1, seed=2 ** 64), ValueError, "and < 2**63, got"),
    ("plain-seed-str", lambda: wnlib.PlainMLP(16, 8, 2, 1, seed="0"), TypeError, "seed must be an int >= 0 or None"),
    ("reset-seed-negative", lambda: model().reset_parameters(seed=-2), ValueError, "seed must be an int >= 0 or None"),
    ("train-seed-str", lambda: train(seed="0"), TypeError, "seed must be an int >= 0, got '0' (str)"),
    ("train-seed-none", lambda: train(seed=None), TypeError, "seed must be an int >= 0, got None"),
    ("train-seed-float", lambda: train(seed=2.0), TypeError, "seed must be an int >= 0, got 2.0 (float)"),
    ("train-seed-negative", lambda: train(seed=-1), ValueError, "seed must be an int >= 0 and < 2**63, got -1"),
    ("load-seed-negative", lambda: wnlib.load_dataset("teacher", n_train=8, n_test=8, seed=-1), ValueError, "seed must be an int >= 0 and < 2**63, got -1"),
    ("load-seed-none", lambda: wnlib.load_dataset("teacher", n_train=8, n_test=8, seed=None), TypeError, "seed must be an int >= 0, got None"),
    ("load-seed-str", lambda: wnlib.load_dataset("teacher", n_train=8, n_test=8, seed="1"), TypeError, "seed must be an int >= 0, got '1'"),
    ("load-seed-float", lambda: wnlib.load_dataset("teacher", n_train=8, n_test=8, seed=0.5), TypeError, "seed must be an int >= 0, got 0.5"),
    ("spectral-seed-negative", lambda: wnlib.spectral_norm(operator(), seed=-1), ValueError, "seed must be an int >= 0"),

    # dtypes: float64 data with a float32 model and the reverse, integer data, non-floating dtype arguments
    ("train-f64-data-f32-model", lambda: train(d=_teacher().to(dtype=torch.float64)), TypeError, "data.x_train has dtype torch.float64 but the model has torch.float32"),
    ("train-f32-data-f64-model", lambda: train(m=model(dtype=torch.float64)), TypeError, "data.x_train has dtype torch.float32 but the model has torch.float64"),
    ("train-f64-test-targets", lambda: train(d=data(y_test=_teacher().y_test.double())), TypeError, "data.y_test has dtype torch.float64 but the model has torch.float32"),
    ("train-int-targets", lambda: train(d=data(y_train=_teacher().y_train.round().long())), TypeError, "data.y_train has dtype torch.int64; it must be floating point"),
    ("train-int-inputs", lambda: train(d=data(x_train=_teacher().x_train.round().int())), TypeError, "data.x_train has dtype torch.int32; it must be floating point"),
    ("load-int-dtype", lambda: wnlib.load_dataset("teacher", n_train=8, n_test=8, dtype=torch.int64), TypeError, "dtype must be a floating-point torch.dtype"),
    ("model-int-dtype", lambda: model(dtype=torch.int32), TypeError, "dtype must be a floating-point torch.dtype"),

    # the tracking settings (one TrackSpec, checked when it is built): 0, negative, not an int, both intervals
    ("trackspec-hessian-inputs-0", lambda: TrackSpec(hessian_inputs=0, track=["hessian"]), ValueError, "hessian_inputs must be an int > 0, got 0"),
    ("trackspec-hessian-inputs-neg", lambda: TrackSpec(hessian_inputs=-1), ValueError, "hessian_inputs must be an int > 0, got -1"),
    ("trackspec-hessian-inputs-float", lambda: TrackSpec(hessian_inputs=2.5), TypeError, "hessian_inputs must be an int > 0, got 2.5"),
    ("trackspec-curvature-size-0", lambda: TrackSpec(curvature_size=0, track=["loss_hessian"]), ValueError, "curvature_size must be an int > 0, got 0"),
    ("trackspec-curvature-size-neg", lambda: TrackSpec(curvature_size=-5), ValueError, "curvature_size must be an int > 0, got -5"),
    ("trackspec-gbar-size-small", lambda: TrackSpec(["gbar_sq"], gbar_size=2), ValueError, "gbar_size must be None (the whole training set) or an int >= 3, got 2"),
    ("trackspec-gbar-size-float", lambda: TrackSpec(gbar_size=256.0), ValueError, "gbar_size must be None (the whole training set) or an int >= 3, got 256.0"),
    ("trackspec-eval-size-0", lambda: TrackSpec(eval_size=0), ValueError, "eval_size must be an int > 0, got 0"),
    ("trackspec-every-0", lambda: TrackSpec(every=0), ValueError, "every must be an int > 0, got 0"),
    ("trackspec-every-half", lambda: TrackSpec(every=0.5), TypeError, "every must be an int > 0, got 0.5"),
    ("trackspec-every-steps-0", lambda: TrackSpec(every_steps=0), ValueError, "every_steps must be an int > 0, got 0"),
    ("trackspec-every-and-every-steps", lambda: TrackSpec(every=2, every_steps=3), ValueError, "give every (epochs) or every_steps (steps), not both: got every=2, every_steps=3"),
    ("measure-spec-list", lambda: measure(model(), _teacher(), ["hessian"]), TypeError, "spec must be a wnlib.tracking.TrackSpec, e.g. TrackSpec(track=['loss']), got ['hessian']"),
    ("train-tracking-list", lambda: train(tracking=["loss"]), TypeError, "tracking must be a wnlib.TrackSpec, e.g. TrackSpec(track=['loss'], every=2), got ['loss']"),
    ("gbar-estimate-groups", lambda: wnlib.quantities.gbar_sq_estimate(model(), x(), groups=1), ValueError, "groups must be an int >= 2 and at most the number of inputs"),

    # NaN / inf in the data given to train (named: which tensor), in the model, in the inputs of the curvature routines
    ("train-nan-x-train", lambda: train(d=poisoned("x_train")), ValueError, "data.x_train holds 1 non-finite value (NaN or inf), the first at index (3, 0)"),
    ("train-inf-y-train", lambda: train(d=poisoned("y_train", math.inf)), ValueError, "data.y_train holds 1 non-finite value"),
    ("train-nan-x-test", lambda: train(d=poisoned("x_test")), ValueError, "data.x_test holds 1 non-finite value"),
    ("train-inf-y-test", lambda: train(d=poisoned("y_test", -math.inf)), ValueError, "data.y_test holds 1 non-finite value"),
    ("train-nan-V", lambda: train(m=broken("V")), ValueError, "model parameter 'V' holds 1 non-finite value (NaN or inf) before training"),
    ("train-inf-v", lambda: train(m=broken("hidden.0.v", math.inf)), ValueError, "model parameter 'hidden.0.v' holds 1 non-finite value"),
    ("train-nan-gain-buffer", lambda: train(m=broken("hidden.1.g")), ValueError, "model buffer 'hidden.1.g' holds 1 non-finite value"),
    ("hessian-norm-nan-V", lambda: wnlib.predictor_hessian_norm(broken("V"), x(2)), ValueError, "model parameter 'V' holds 1 non-finite value (NaN or inf) before predictor_hessian_norm"),
    ("loss-hessian-nan-V", lambda: wnlib.loss_hessian_norm(broken("V"), x(), y()), ValueError, "before loss_hessian_norm"),
    ("dense-hessian-nan-v", lambda: wnlib.dense_hessian(broken("hidden.1.v"), x(1)), ValueError, "model parameter 'hidden.1.v' holds 1 non-finite value (NaN or inf) before dense_hessian"),
    ("operator-nan-V", lambda: operator(broken("V")), ValueError, "model parameter 'V' holds 1 non-finite value (NaN or inf) before predictor_operator"),
    ("loss-operator-nan-v", lambda: wnlib.quantities.loss_operator(broken("hidden.0.v"), x(), y()), ValueError, "before loss_operator"),
    ("operator-inf-param", lambda: infinite_operator(), ValueError, "params[0] (shape (2,)) holds NaN or inf"),
    ("hessian-bound-nan-V", lambda: bounds.hessian_bound(broken("V"), x(2)), ValueError, "model parameter 'V' holds 1 non-finite value (NaN or inf) before hessian_bound"),
    ("hessian-floor-nan-v", lambda: bounds.hessian_floor(broken("hidden.0.v"), x(2)), ValueError, "before hessian_floor"),
    ("rsc-nan-V", lambda: bounds.rsc_certificate(broken("V"), x(), y(), 0.5, hessian="bound"), ValueError, "before rsc_certificate"),
    ("gbar-sq-nan-V", lambda: wnlib.gbar_sq(broken("V"), x()), ValueError, "model parameter 'V' holds 1 non-finite value (NaN or inf) before gbar"),
    ("generalization-nan-V", lambda: bounds.generalization_bound(broken("V"), n=100, delta=0.1), ValueError, "before generalization_bound"),
    ("gbar-sq-nan-x", lambda: wnlib.gbar_sq(model(), with_nan(x())), ValueError, "x holds 1 non-finite value (NaN or inf), the first at index (0, 1)"),
    ("gbar-inf-x", lambda: wnlib.gbar(model(), with_nan(x(), math.inf)), ValueError, "x holds 1 non-finite value"),
    ("hessian-norm-inf-x", lambda: wnlib.predictor_hessian_norm(model(), with_nan(x(2), math.inf)), ValueError, "x holds 1 non-finite value"),
    ("hessian-norm-nan-single-x", lambda: wnlib.predictor_hessian_norm(model(), with_nan(x(1)[0])), ValueError, "x holds 1 non-finite value (NaN or inf), the first at index 1"),
    ("loss-hessian-nan-y", lambda: wnlib.loss_hessian_norm(model(), x(), with_nan(y(), math.inf)), ValueError, "y holds 1 non-finite value"),
    ("hessian-bound-nan-x", lambda: bounds.hessian_bound(model(), with_nan(x(2))), ValueError, "x holds 1 non-finite value"),
    ("rsc-nan-x", lambda: bounds.rsc_certificate(model(), with_nan(x()), y(), 0.5), ValueError, "x holds 1 non-finite value"),
    ("rsc-nan-y", lambda: bounds.rsc_certificate(model(), x(), with_nan(y()), 0.5), ValueError, "y holds 1 non-finite value"),
    ("evaluate-nan-x", lambda: wnlib.evaluate(model(), with_nan(x()), y()), ValueError, "x holds 1 non-finite value"),
    ("gap-nan-x-test", lambda: bounds.generalization_gap(model(), x(), y(), with_nan(x()), y()), ValueError, "x_test holds 1 non-finite value"),
    ("dense-overflow", lambda: wnlib.spectral_norm(overflowing_operator(), method="dense"), FloatingPointError, "the Hessian has NaN or inf entries although its parameters are finite"),
    ("power-overflow", lambda: wnlib.spectral_norm(overflowing_operator(), method="power"), FloatingPointError, "the Hessian has NaN or inf entries although its parameters are finite"),

    # solver settings
    ("spectral-too-few-iterations", lambda: wnlib.spectral_norm(operator(), tol=1e-12, max_iter=3), ArithmeticError, "Lanczos did not reach tol=1e-12 in max_iter=3 products"),
    ("spectral-max-iter-0", lambda: wnlib.spectral_norm(operator(), max_iter=0), ValueError, "max_iter must be an int > 0, got 0"),
    ("spectral-power-max-iter-0", lambda: wnlib.spectral_norm(operator(), method="power", max_iter=0), ValueError, "max_iter must be an int > 0, got 0"),
    ("spectral-tol-negative", lambda: wnlib.spectral_norm(operator(), tol=-1e-6), ValueError, "tol must be a finite number >= 0, got -1e-06"),
    ("spectral-tol-nan", lambda: wnlib.spectral_norm(operator(), method="power", tol=math.nan), ValueError, "tol must be a finite number >= 0, got nan"),
    ("lanczos-max-iter-0", lambda: wnlib.lanczos(operator(), max_iter=0), ValueError, "max_iter must be an int > 0, got 0"),
    ("lanczos-seed-str", lambda: wnlib.lanczos(operator(), seed="0"), TypeError, "seed must be an int >= 0, got '0'"),
    ("lanczos-steps-int-vectors", lambda: wnlib.curvature.lanczos_steps(operator(), vectors=torch.int64), TypeError, "vectors must be a floating-point torch.dtype"),
    ("spectral-not-an-operator", lambda: wnlib.spectral_norm(torch.eye(3)), TypeError, "op must be a wnlib.HessianOperator or a symmetric operator with .to_scipy()"),
    ("hessian-norm-max-iter-0", lambda: wnlib.predictor_hessian_norm(model(), x(1), max_iter=0), ValueError, "max_iter must be an int > 0, got 0"),
    ("hessian-norm-max-iter-neg", lambda: wnlib.predictor_hessian_norm(model(), x(1), method="power", max_iter=-3), ValueError, "max_iter must be an int > 0, got -3"),
    ("hessian-norm-max-iter-float", lambda: wnlib.predictor_hessian_norm(model(), x(1), max_iter=10.0), TypeError, "max_iter must be an int > 0, got 10.0"),
    ("hessian-norm-tol-negative", lambda: wnlib.predictor_hessian_norm(model(), x(1), tol=-1e-3), ValueError, "tol must be a finite number >= 0"),
    ("loss-hessian-max-iter-neg", lambda: wnlib.loss_hessian_norm(model(), x(), y(), max_iter=-1), ValueError, "max_iter must be an int > 0, got -1"),
    ("loss-hessian-tol-nan", lambda: wnlib.loss_hessian_norm(model(), x(), y(), tol=math.nan), ValueError, "tol must be a finite number >= 0, got nan"),

    # empty inputs, mismatched rows; a Dataset that is empty or inconsistent
    ("gbar-empty", lambda: wnlib.gbar(model(), EMPTY), ValueError, "x is empty (shape (0, 16))"),
    ("gbar-sq-empty", lambda: wnlib.gbar_sq(model(), EMPTY), ValueError, "x is empty (shape (0, 16))"),
    ("rsc-empty", lambda: bounds.rsc_certificate(model(), EMPTY, torch.empty(0, 1), 0.5), ValueError, "x is empty (shape (0, 16))"),
    ("hessian-norm-empty", lambda: wnlib.predictor_hessian_norm(model(), EMPTY), ValueError, "x is empty"),
    ("hessian-bound-empty", lambda: bounds.hessian_bound(model(), EMPTY), ValueError, "x is empty"),
    ("evaluate-empty", lambda: wnlib.evaluate(model(), EMPTY, torch.empty(0, 1)), ValueError, "x is empty"),
    ("evaluate-batch-size-0", lambda: wnlib.evaluate(model(), x(), y(), batch_size=0), ValueError, "batch_size must be an int > 0, got 0"),
    ("evaluate-rows-differ", lambda: wnlib.evaluate(model(), x(4), y(3)), ValueError, "x has 4 rows but y has 3"),
    ("loss-hessian-rows-differ", lambda: wnlib.loss_hessian_norm(model(), x(4), y(2)), ValueError, "x has 4 rows but y has 2"),
    ("rsc-rows-differ", lambda: bounds.rsc_certificate(model(), x(4), y(3), 0.5), ValueError, "x has 4 rows but y has 3"),
    ("dataset-zero-train-rows", lambda: data(x_train=EMPTY, y_train=torch.empty(0, 1)), ValueError, "x_train has 0 rows: a Dataset needs at least one training and one test sample"),
    ("dataset-zero-test-rows", lambda: data(x_test=EMPTY, y_test=torch.empty(0, 1)), ValueError, "x_test has 0 rows"),
    ("dataset-rows-differ", lambda: data(y_train=_teacher().y_train[:31]), ValueError, "x_train has 32 rows but y_train has 31"),
    ("dataset-features-differ", lambda: data(x_test=_teacher().x_test[:, :8]), ValueError, "x_train has 16 features per row but x_test has 8"),
    ("dataset-targets-differ", lambda: data(y_test=torch.zeros(16, 2)), ValueError, "y_train has 1 targets per row but y_test has 2"),
    ("dataset-1d-targets", lambda: data(y_train=_teacher().y_train[:, 0]), ValueError, "y_train must be a 2-D tensor, got shape (32,)"),
    ("dataset-numpy", lambda: data(x_train=_teacher().x_train.numpy()), TypeError, "x_train must be a torch.Tensor, got ndarray"),
    ("dataset-num-classes-0", lambda: wnlib.Dataset(x(), y(), x(), y(), "t", 0), ValueError, "num_classes must be an int > 0, got 0"),

    # an optimizer that cannot be built as optimizer(params, lr=lr)
    ("train-optimizer-bad-option", lambda: train(optimizer=functools.partial(torch.optim.Adam, momentum=0.9)), TypeError, "optimizer is called as optimizer(params, lr=0.1) and failed"),
    ("train-optimizer-str", lambda: train(optimizer="sgd"), TypeError, "optimizer must be a torch.optim.Optimizer class or a callable (params, lr) -> optimizer"),

    # track given as a string (or a lone callable, or a number)
    ("trackspec-track-str", lambda: TrackSpec(track="loss"), TypeError, "track must be a list or tuple of names from 'loss', 'accuracy', 'rho_min', 'gbar_sq', 'hessian', 'loss_hessian' and/or callables q(model, data), got the string 'loss': write track=['loss']"),
    ("trackspec-track-str-hessian", lambda: TrackSpec("hessian"), TypeError, "got the string 'hessian'"),
    ("check-track-str", lambda: check_track("rho_min"), TypeError, "write track=['rho_min']"),
    ("trackspec-track-int", lambda: TrackSpec(track=5), TypeError, "track must be a list or tuple of names"),
    ("trackspec-track-lone-callable", lambda: TrackSpec(track=bounds.rsc_tracker(0.5)), TypeError, "track must be a list or tuple of names"),

    # extreme init_scale: the init overflows or underflows
    ("init-scale-1e300", lambda: model(init_scale=1e300), ValueError, "init_scale=1e+300 makes the hidden init bound"),
    ("init-scale-1e30", lambda: model(init_scale=1e30), ValueError, "makes row norms of hidden layer 1 overflow to inf"),
    ("init-scale-1e-300", lambda: model(init_scale=1e-300), ValueError, "makes row norms of hidden layer 1 underflow to 0"),
    ("init-scale-1e-30", lambda: model(init_scale=1e-30), ValueError, "init_scale=1e-30 (init bound"),
    ("init-scale-plain-1e300", lambda: wnlib.PlainMLP(16, 8, 2, 1, init_scale=1e300), ValueError, "init_scale=1e+300 makes the hidden init bound"),
    ("init-scale-float16", lambda: model(init_scale=1e5, dtype=torch.float16), ValueError, "overflow to inf (use a smaller init_scale) in torch.float16"),
    ("init-scale-tiny-c-sqrt-m", lambda: wnlib.WeightNormMLP(16, 8, 2, 1, init_scale=1e-40, init_mode="c*sqrt(m)", scale_output=False), ValueError, "underflow to 0"),
    ("wnlinear-gain-nan", lambda: wnlib.WNLinear(4, 3, gain=math.nan), ValueError, "gain must be a finite number, got nan"),

    # other arguments of the same families
    ("train-on-epoch-end", lambda: train(on_epoch_end="save"), TypeError, "on_epoch_end must be None or a callable"),
    ("train-resume-empty", lambda: train(resume={}), ValueError, "resume lacks epoch, step, optimizer, generator, loss_sum, rows"),
    ("train-resume-list", lambda: train(resume=[1]), TypeError, "resume must be None or the state dict"),
    ("load-download-str", lambda: wnlib.load_dataset("teacher", n_train=8, n_test=8, download="no"), ValueError, "download must be one of True, False"),
    ("load-device-bad", lambda: wnlib.load_dataset("teacher", n_train=8, n_test=8, device="gpu"), ValueError, "device must be None, 'cpu', 'cuda'"),
    ("load-root-int", lambda: wnlib.load_dataset("teacher", root=5), TypeError, "root must be None, a str or a path"),
    ("rsc-tracker-kappa-2", lambda: bounds.rsc_tracker(2.0), ValueError, "kappa must be in (0, 1] (a cosine), got 2.0"),
    ("rsc-tracker-kappa-0", lambda: bounds.rsc_tracker(0.0), ValueError, "kappa must be a finite number > 0, got 0.0"),
    ("hvp-empty-params", lambda: HessianOperator(lambda: torch.zeros(()), []), ValueError, "params is empty"),
    ("loglog-lengths", lambda: bounds.loglog_slope([1, 2, 4], [1, 2]), ValueError, "x and y must have the same length, got 3 and 2"),
    ("dense-hessian-output-3", lambda: wnlib.dense_hessian(model(), x(1), output=3), ValueError, "output must be an int in [0, 0] (one output coordinate), got 3"),
    ("predictor-operator-output-none", lambda: wnlib.quantities.predictor_operator(model(), x(1), output=None), ValueError, "output must be an int in [0, 0] (one output coordinate), got None"),
    ("generalization-gamma-str", lambda: bounds.generalization_bound(model(), n=100, delta=0.1, gamma="1"), TypeError, "gamma must be a finite number > 0, got '1'"),
    # sizes refused before anything is allocated (limits: WNLIB_MAX_PARAMS, WNLIB_MAX_DEPTH, WNLIB_MAX_DENSE_BYTES)
    ("model-width-1e9", lambda: wnlib.WeightNormMLP(64, 10 ** 9, 2, 10), ValueError, "width=1000000000 and depth=2 (d_in=64, d_out=10) give"),
    ("model-width-30000", lambda: wnlib.PlainMLP(784, 30000, 2, 10), ValueError, "more than max_params=100,000,000; set WNLIB_MAX_PARAMS to allow more"),
    ("model-depth-1e6", lambda: wnlib.WeightNormMLP(16, 1, 10 ** 6, 1), ValueError, "depth=1000000 gives 1000000 layers, more than max_depth=1,000"),
    ("runconfig-width-1e9", lambda: wnlib.experiments.RunConfig(width=10 ** 9), ValueError, "width=1000000000 and depth=2"),
    ("dense-38540", lambda: wnlib.predictor_hessian_norm(wnlib.WeightNormMLP(16, 188, 2, 1, seed=0), x(1), method="dense"), ValueError, "method='dense' on 38,540 parameters needs a 38,540 x 38,540 matrix of 5.94 GB"),
    ("dense-hessian-37888", lambda: wnlib.dense_hessian(wnlib.WeightNormMLP(16, 188, 2, 1, seed=0), x(1)), ValueError, "dense_hessian on 38,5"),
    ("grid-20-pow-7", lambda: wnlib.experiments.grid(wnlib.experiments.RunConfig(), **{f: list(range(1, 21)) for f in ("width", "depth", "seed", "data_seed", "epochs", "batch_size", "track_every")}), ValueError, "the grid has 1,280,000,000 runs (20 x 20 x 20 x 20 x 20 x 20 x 20), more than max_runs=10,000"),
    ("runconfig-seed-2-pow-64", lambda: wnlib.experiments.RunConfig(seed=2 ** 64), ValueError, "seed must be an int >= 0 and < 2**63"),
    ("runconfig-n-train-over-split", lambda: wnlib.experiments.RunConfig(dataset="digits", n_train=1438), ValueError, "n_train must be at most 1437 (the train split of 'digits') or None"),
    ("runconfig-n-test-over-split", lambda: wnlib.experiments.RunConfig(dataset="mnist", n_test=10001), ValueError, "n_test must be at most 10000"),
    ("runconfig-device-meta", lambda: wnlib.experiments.RunConfig(device="meta"), ValueError, "device must be 'auto' or a torch device of this machine"),
    ("store-key-parent", lambda: wnlib.experiments.Store("/nonexistent").run_dir("../../x"), ValueError, "key must be a plain name"),
    ("store-root-empty", lambda: wnlib.experiments.Store(""), ValueError, "out must be a non-empty folder path"),
    ("loglog-nonpositive", lambda: bounds.loglog_slope([0, 1, 2], [1, 2, 3]), ValueError, "x must be a 1-D sequence of at least 2 finite numbers > 0"),
]


@pytest.mark.parametrize("call,exc,fragment", [row[1:] for row in BAD_INPUTS], ids=[row[0] for row in BAD_INPUTS])
def test_bad_input_is_rejected_with_a_clear_error(call, exc, fragment):
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value), f"wrong message: {info.value}"
    assert "\n" not in str(info.value)  # one line


def test_size_limits_are_overridable(monkeypatch):
    monkeypatch.setenv("WNLIB_MAX_PARAMS", "100")
    with pytest.raises(ValueError, match="more than max_params=100; set WNLIB_MAX_PARAMS"):
        model()
    monkeypatch.setenv("WNLIB_MAX_PARAMS", "1000000000")
    assert wnlib.WeightNormMLP(16, 8, 2, 1, seed=0) is not None
    monkeypatch.setenv("WNLIB_MAX_RUNS", "many")
    with pytest.raises(ValueError, match="environment variable WNLIB_MAX_RUNS must be an int > 0, got 'many'"):
        wnlib.experiments.grid(wnlib.experiments.RunConfig(), seed=[0, 1])


def test_table_ids_are_unique():
    ids = [row[0] for row in BAD_INPUTS]
    assert len(ids) == len(set(ids))


def test_bad_data_is_rejected_before_any_training_work():
    """NaN data stops train before step 0 is measured or the optimizer is built: on_epoch_end never runs."""
    seen = []
    with pytest.raises(ValueError, match="data.y_train holds"):
        train(d=poisoned("y_train"), on_epoch_end=seen.append, epochs=3)
    assert seen == []


@pytest.mark.parametrize("call", [
    lambda: wnlib.WeightNormMLP(16, 8, 2, 1, seed=None),     # None: the global random state
    lambda: wnlib.WeightNormMLP(16, 8, 2, 1, seed=0),
    lambda: train(optimizer=functools.partial(torch.optim.SGD, momentum=0.0), seed=0, epochs=0),
    lambda: train(optimizer=functools.partial(torch.optim.SGD, momentum=0.9), tracking=TrackSpec(["loss"]), epochs=0),
    lambda: train(tracking=TrackSpec(()), epochs=0),
    lambda: TrackSpec(every_steps=1, gbar_size=None),
    lambda: wnlib.spectral_norm(operator(), tol=0.0),
    lambda: wnlib.spectral_norm(operator(), method="arpack", tol=0.0, max_iter=5),
])
def test_valid_edge_values_still_work(call):
    call()


@pytest.mark.parametrize("call,what", [
    (lambda: wnlib.predictor_hessian_norm(wnlib.WeightNormMLP(16, 8, 2, 2, seed=0), x(3)), "predictor_hessian_norm"),
    (lambda: wnlib.loss_hessian_norm(model(), x(), y(), which="LA"), "loss_hessian_norm"),
    (lambda: wnlib.gbar_sq(model(), x()), "gbar"),
    (lambda: wnlib.dense_hessian(model(), x(1)), "dense_hessian"),
    (lambda: bounds.rsc_certificate(model(), x(), y(), 0.5), "rsc_certificate"),
    (lambda: bounds.rsc_certificate(model(), x(), y(), 0.5, hessian="bound"), "rsc_certificate(hessian='bound')"),
    (lambda: bounds.generalization_bound(model(), n=100, delta=0.1), "generalization_bound"),
    (lambda: bounds.hessian_bound(wnlib.WeightNormMLP(16, 8, 2, 2, seed=0), x(3)), "hessian_bound"),
])
def test_model_is_checked_once_at_the_entry_point(monkeypatch, call, what):
    """Issue 22: the parameters are checked for NaN/inf once per public call (one device sync), by the function
    the user called, never again by the functions it calls (operators, solvers, other public functions)."""
    from wnlib import _checks, curvature

    seen = []
    check, check_params = _checks.finite_parameters, curvature._check_finite
    monkeypatch.setattr(_checks, "finite_parameters", lambda m, w: seen.append(w) or check(m, w))
    monkeypatch.setattr(curvature, "_check_finite", lambda p: seen.append("HessianOperator") or check_params(p))
    call()
    assert seen == [what]


def test_hessian_operator_built_directly_checks_its_parameters_once(monkeypatch):
    from wnlib import curvature

    seen = []
    check_params = curvature._check_finite
    monkeypatch.setattr(curvature, "_check_finite", lambda p: seen.append(len(p)) or check_params(p))
    V = model().V
    wnlib.spectral_norm(HessianOperator(lambda: (V ** 4).sum(), [V]), method="power")
    assert seen == [1]
