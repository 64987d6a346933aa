"""The paper's experiment and the sweeps the chapters use: configurations, cached resumable runs, sweeps.

Explained in: book/05_experiments.ipynb and README.md ("Reproducing the paper's experiments").

A run is a :class:`RunConfig` (frozen dataclass); its ``key`` is a hash of every field, and its results live in
a :class:`~wnlib.store.Store` under that key. :func:`run` loads a finished run, or resumes it from its last
checkpoint, or trains it from scratch. :func:`sweep` runs many configurations through any
``concurrent.futures.Executor``. :func:`load_or_run` is what the chapters call: the tidy table of one named
experiment, computing only the runs that are missing.

Every experiment has two profiles. ``full`` is the paper's protocol (theory-notes section 3.4): MNIST and
CIFAR-10, widths 512 and 1024, init scales 0.5 and 5, mini-batch SGD with batch 512 and learning rate 0.001,
square loss, one-hot targets. ``quick`` runs the same protocol on the offline ``digits`` data at reduced widths
with batch 64 and learning rate 0.05, so that it trains within CPU minutes (with lr 0.001 and 23 steps per
epoch nothing moves in a few epochs). Settings the paper does not fix (depth 2, tanh, 100 epochs in ``full``)
are this project's choices.
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import itertools
import json
import logging
import math
import os
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd
import torch

from . import _checks, curvature
from .data import DATASETS, load_dataset
from .hardware import describe as describe_hardware
from .model import ACTIVATIONS, GAIN_PRESETS, INIT_MODES, PlainMLP, WeightNormMLP
from .store import Store
from .training import TRACKABLE, NonFiniteLossError, _track, train

log = logging.getLogger("wnlib.experiments")

PROFILES = ("quick", "full")
MODELS = ("weightnorm", "plain")
TRAIN_SIZES = {"digits": 1437, "mnist": 60000, "cifar10": 50000}
SLEEP_ENV = "WNLIB_SLEEP_AFTER_CHECKPOINT"
"""Test hook: seconds to sleep after each checkpoint, so a test can kill a run between two checkpoints."""


def default_results_dir() -> Path:
    """``$WNLIB_RESULTS``, else the book's ``book/results`` (source checkout), else ``~/.cache/wnlib/results``."""
    if os.environ.get("WNLIB_RESULTS"):
        return Path(os.environ["WNLIB_RESULTS"]).expanduser()
    book = Path(__file__).resolve().parent.parent / "book"
    return book / "results" if book.is_dir() else Path("~/.cache/wnlib/results").expanduser()


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one training run; ``key`` hashes all of it.

    Model: ``model`` ("weightnorm" or "plain"), ``width`` (m), ``depth`` (L), ``activation``, ``init_scale`` (c),
    ``init_mode``, ``gains``. Data: ``dataset``, ``n_train``/``n_test`` (None: all), ``normalize``,
    ``data_seed``. SGD: ``epochs``, ``lr``, ``batch_size``, ``momentum``, ``weight_decay``, ``seed`` (init and
    batch order). Tracking: ``track`` (subset of ``wnlib.training.TRACKABLE``) every ``track_every`` epochs
    (and always at the start and the end), on ``eval_size`` samples, Hessian on ``hessian_inputs`` inputs.
    ``device`` "auto" picks the best device (recorded in the metadata).
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
    gains: str = "fixed"
    epochs: int = 30
    lr: float = 0.05
    batch_size: int = 64
    momentum: float = 0.0
    weight_decay: float = 0.0
    seed: int = 0
    track: tuple = ("loss", "accuracy", "rho_min", "gbar_sq")
    track_every: int = 1
    eval_size: int = 4096
    hessian_inputs: int = 4
    device: str = "auto"

    def __post_init__(self):
        _checks.choice("dataset", self.dataset, DATASETS)
        _checks.choice("model", self.model, MODELS)
        _checks.choice("activation", self.activation, tuple(ACTIVATIONS))
        _checks.choice("init_mode", self.init_mode, INIT_MODES)
        _checks.choice("gains", self.gains, GAIN_PRESETS)
        for name in ("width", "depth", "batch_size", "track_every", "eval_size", "hessian_inputs"):
            _checks.positive_int(name, getattr(self, name))
        _checks.positive_int("epochs", self.epochs, allow_zero=True)
        for name in ("n_train", "n_test"):
            if getattr(self, name) is not None:
                _checks.positive_int(name, getattr(self, name))
        for name in ("lr", "init_scale"):
            object.__setattr__(self, name, _checks.positive_float(name, getattr(self, name)))
        for name in ("momentum", "weight_decay"):
            object.__setattr__(self, name, _checks.positive_float(name, getattr(self, name), allow_zero=True))
        object.__setattr__(self, "track", tuple(self.track))
        for name in self.track:
            _checks.choice("track", name, TRACKABLE)

    @property
    def key(self) -> str:
        """First 16 hex digits of the SHA-256 of the configuration as sorted JSON."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        """Plain JSON-able dict (``track`` as a list)."""
        d = dataclasses.asdict(self)
        d["track"] = list(self.track)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        """Build from a dict; unknown fields raise an error listing the accepted ones."""
        fields = [f.name for f in dataclasses.fields(cls)]
        for name in d:
            _checks.choice("RunConfig field", name, fields)
        return cls(**d)

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)


# ---- one run ------------------------------------------------------------------------------------------------

def _device(config: RunConfig) -> torch.device:
    from .hardware import device as best_device

    return best_device() if config.device == "auto" else torch.device(config.device)


def _load_data(config: RunConfig, device):
    return load_dataset(config.dataset, n_train=config.n_train, n_test=config.n_test, device=device,
                        normalize=config.normalize, seed=config.data_seed)


def build_model(config: RunConfig, d_in: int, d_out: int) -> torch.nn.Module:
    """The network of ``config``, initialised from ``config.seed``."""
    cls = WeightNormMLP if config.model == "weightnorm" else PlainMLP
    return cls(d_in, config.width, config.depth, d_out, activation=config.activation,
               init_scale=config.init_scale, init_mode=config.init_mode, gains=config.gains, seed=config.seed)


def _metadata(config: RunConfig, device, wall_time: float, status: str, resumed_from_epoch: int) -> dict:
    from . import __version__

    return dict(config=config.to_dict(), status=status, wall_time_s=round(wall_time, 3),
                resumed_from_epoch=resumed_from_epoch,
                wnlib_version=__version__, torch_version=torch.__version__, device=describe_hardware(device),
                dataset=config.dataset, seed=config.seed,
                date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))


def run(config: RunConfig, store: Store | str | os.PathLike | None = None, *, checkpoint_every: int = 5,
        progress: bool = False) -> tuple[pd.DataFrame, dict]:
    """Results of one run: loaded if stored, else resumed from its checkpoint or trained, then stored.

    Returns ``(history, meta)``: one row per tracked step (``step``, ``epoch`` and the tracked quantities) and
    the metadata (config, versions, device, wall time, date, ``status`` "done" or "diverged"). A checkpoint
    (model, optimizer, batch-order generator, history so far) is written every ``checkpoint_every`` epochs.
    """
    store = store if isinstance(store, Store) else Store(store if store is not None else default_results_dir())
    checkpoint_every = _checks.positive_int("checkpoint_every", checkpoint_every)
    found = store.load(config.key)
    if found is not None:
        return found
    device = _device(config)
    data = _load_data(config, device)
    model = build_model(config, data.d_in, data.d_out).to(device)
    state = store.load_checkpoint(config.key)
    wall_before, resumed_from = 0.0, 0
    if state is not None:
        model.load_state_dict(state["model"])
        wall_before, resumed_from = state["wall_time_s"], state["train"]["epoch"]
        log.info("run %s: resuming from its checkpoint at epoch %d", config.key, resumed_from)
    sleep = float(os.environ.get(SLEEP_ENV, 0))
    started = time.perf_counter()

    def checkpoint(train_state: dict) -> None:
        epoch = train_state["epoch"]
        if epoch % checkpoint_every == 0 and epoch < config.epochs:
            wall = wall_before + time.perf_counter() - started
            store.save_checkpoint(config.key, dict(train=train_state, model=model.state_dict(), wall_time_s=wall))
            if sleep:
                time.sleep(sleep)

    steps_per_epoch = math.ceil(data.n_train / config.batch_size)
    status = "done"
    try:
        history = train(model, data, epochs=config.epochs, lr=config.lr, batch_size=config.batch_size,
                        momentum=config.momentum, weight_decay=config.weight_decay, seed=config.seed,
                        track_every=config.track_every * steps_per_epoch, track=config.track,
                        eval_size=config.eval_size, hessian_inputs=config.hessian_inputs, progress=progress,
                        resume=None if state is None else state["train"], on_epoch_end=checkpoint)
    except NonFiniteLossError as err:
        history, status = err.history, "diverged"
    # wall-clock columns would make two identical runs differ: the wall time goes to the metadata instead
    frame = history.frame.drop(columns=["time_s"], errors="ignore")
    meta = _metadata(config, device, wall_before + time.perf_counter() - started, status, resumed_from)
    store.save(config.key, frame, meta)
    return store.load(config.key)


def _run_in_worker(config: dict, root: str, checkpoint_every: int) -> str:
    """What an executor runs: plain arguments in, the run's key out (picklable for any executor)."""
    cfg = RunConfig.from_dict(config)
    run(cfg, Store(root), checkpoint_every=checkpoint_every)
    return cfg.key


def _limit_threads(threads: int) -> None:
    torch.set_num_threads(threads)


class _Inline(Executor):
    """Runs each task in the calling process when it is submitted (one worker: no process to start)."""

    def submit(self, fn, *args, **kwargs):
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(err)
        return future


def tidy(results: Iterable[tuple[RunConfig, pd.DataFrame]]) -> pd.DataFrame:
    """One table for many runs: each run's history with its configuration fields (and ``key``) as columns."""
    frames = []
    for config, history in results:
        columns = {k: (",".join(v) if isinstance(v, list) else v) for k, v in config.to_dict().items()}
        frames.append(history.assign(**columns, key=config.key))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def sweep(configs: Iterable[RunConfig], *, executor: Executor | None = None,
          out: str | os.PathLike | None = None, checkpoint_every: int = 5, max_workers: int | None = None,
          progress: bool = True) -> tuple[pd.DataFrame, list[dict]]:
    """Run every configuration not stored yet, through ``executor``; return ``(tidy table, metadata list)``.

    ``executor`` is any ``concurrent.futures.Executor`` (Dask, Ray or submitit executors work unchanged: each
    task is the top-level function ``_run_in_worker(config_dict, out_dir, checkpoint_every)``). By default a
    local process pool (``spawn`` context, ``max_workers`` processes sharing the cores). Finished runs are
    loaded, unfinished ones resume from their checkpoints. A tqdm bar counts runs.
    With one worker (``max_workers=1``, or a machine with fewer than 4 cores) the runs go one after the
    other in this process, which saves starting a process (and importing torch) for nothing.
    """
    configs = list(dict.fromkeys(configs))  # drop duplicates, keep order
    for c in configs:
        if not isinstance(c, RunConfig):
            raise TypeError(f"configs must contain wnlib.experiments.RunConfig objects, got {type(c).__name__}")
    store = Store(out if out is not None else default_results_dir())
    todo = [c for c in configs if store.load(c.key) is None]  # corrupted results are reported here, then rerun
    from tqdm.auto import tqdm

    bar = tqdm(total=len(configs), initial=len(configs) - len(todo), desc="runs", unit="run", disable=not progress)
    cores = os.cpu_count() or 1
    workers = max_workers or max(1, min(len(todo), cores // 2))
    own = executor is None and len(todo) > 0 and workers > 1
    if own:
        import multiprocessing

        executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_limit_threads, initargs=(max(1, cores // workers),))
    elif executor is None:
        executor = _Inline()
    try:
        futures = [executor.submit(_run_in_worker, c.to_dict(), str(store.root), checkpoint_every) for c in todo]
        for future in as_completed(futures):
            future.result()
            bar.update(1)
    finally:
        bar.close()
        if own:
            executor.shutdown(cancel_futures=True)
    # every run is stored now: this loads them (and would recompute one corrupted since)
    results = [(c, *run(c, store, checkpoint_every=checkpoint_every)) for c in configs]
    return tidy((c, h) for c, h, _ in results), [m for _, _, m in results]


# ---- the experiments ----------------------------------------------------------------------------------------

def grid(base: RunConfig, **axes) -> list[RunConfig]:
    """The cartesian product of ``axes`` (field name -> list of values) applied to ``base``."""
    names = list(axes)
    fields = [f.name for f in dataclasses.fields(RunConfig)]
    for name in names:
        _checks.choice("grid field", name, fields)
    return [base.replace(**dict(zip(names, values))) for values in itertools.product(*axes.values())]


def _base(profile: str) -> RunConfig:
    if profile == "quick":
        return RunConfig(dataset="digits", width=64, depth=2, epochs=30, lr=0.05, batch_size=64)
    return RunConfig(dataset="mnist", width=1024, depth=2, epochs=100, lr=0.001, batch_size=512)


def _paper(profile, base):
    every = dict(track=("loss", "accuracy", "rho_min", "gbar_sq", "hessian"))
    if profile == "quick":
        return grid(base.replace(track_every=5, hessian_inputs=1, **every), width=[64, 128], init_scale=[0.5, 5.0])
    datasets = [base.dataset] if base.dataset != "mnist" else ["mnist", "cifar10"]
    return grid(base.replace(**every), dataset=datasets, width=[512, 1024], init_scale=[0.5, 5.0])


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
    return EXPERIMENTS[name].build(profile, base)


def load_or_run(name: str, profile: str = "quick", *, dataset: str | None = None, out=None,
                executor: Executor | None = None, progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Load experiment ``name`` if stored, else compute the missing runs: ``(tidy table, metadata)``.

    The metadata says what produced the table: experiment, profile, number of runs, wnlib/torch versions,
    devices, dates, total wall time, and ``runs`` (every run's own metadata).
    """
    frame, metas = sweep(configs(name, profile, dataset=dataset), executor=executor, out=out, progress=progress)
    summary = dict(experiment=name, profile=profile, description=EXPERIMENTS[name].description, n_runs=len(metas),
                   wnlib_version=sorted({m["wnlib_version"] for m in metas}),
                   torch_version=sorted({m["torch_version"] for m in metas}),
                   device=sorted({m["device"] for m in metas}), date=sorted({m["date"][:10] for m in metas}),
                   wall_time_s=round(sum(m["wall_time_s"] for m in metas), 1),
                   diverged=sum(m["status"] == "diverged" for m in metas), runs=metas)
    return frame, summary


def book_results(name: str, profile: str = "quick", *, out=None) -> tuple[pd.DataFrame, dict]:
    """What a chapter shows: the ``full`` results of ``name`` when every full run is stored, else the ``quick``
    ones (loaded, or computed in CPU minutes). Never starts a full-profile run: those take GPU hours."""
    _checks.choice("profile", profile, PROFILES)
    store = Store(out if out is not None else default_results_dir())
    if profile == "full" and all(store.is_done(c.key) for c in configs(name, "full")):
        return load_or_run(name, "full", out=out, progress=False)
    return load_or_run(name, "quick", out=out, progress=False)


def produced_by(meta: dict) -> str:
    """One line for a figure caption: what produced the results of :func:`load_or_run`."""
    return (f"{meta['experiment']} ({meta['profile']} profile): {meta['n_runs']} runs on "
            f"{', '.join(meta['device'])}; wnlib {', '.join(meta['wnlib_version'])}, "
            f"{meta['wall_time_s']:.0f} s of training, {', '.join(meta['date'])}")


# ---- how long a run takes (an estimate, not a measurement) ------------------------------------------------

INPUT_SIZES = {"digits": 64, "mnist": 784, "cifar10": 3072, "teacher": 16}


def estimate_seconds(config: RunConfig, *, flops_per_s: float = 2e12, step_overhead_s: float = 1e-3,
                     hvp_s: float = 3e-3, hvps_per_solve: int = 60) -> float:
    """Rough wall time of ``config`` on a GPU, from stated assumptions (no GPU was available to measure it).

    Training: ``6 * P * n * epochs`` FLOPs (forward + backward, ``P`` parameters) at ``flops_per_s`` (default
    2 TFLOP/s, about a quarter of a Colab T4's fp32 peak), plus ``step_overhead_s`` per SGD step. Hessian
    tracking: per tracked point ``hessian_inputs * k`` Lanczos solves of ``hvps_per_solve`` Hessian-vector
    products (46 to 90 in solves measured on this project's CPU at widths 512 and 1024, tol 1e-4), each taking
    ``hvp_s`` (single-input HVPs are latency-bound). Evaluation passes are neglected.
    """
    d, k = INPUT_SIZES[config.dataset], 1 if config.dataset == "teacher" else 10
    n = config.n_train or TRAIN_SIZES.get(config.dataset, 1024)
    m, L = config.width, config.depth
    params = d * m + (L - 1) * m * m + m * k
    steps = config.epochs * math.ceil(n / config.batch_size)
    seconds = 6 * params * n * config.epochs / flops_per_s + steps * step_overhead_s
    if "hessian" in config.track:
        points = 1 + math.ceil(config.epochs / config.track_every)
        seconds += points * config.hessian_inputs * k * hvps_per_solve * hvp_s
    return seconds


# ---- many small runs at once with torch.func ----------------------------------------------------------------

def train_stacked(configs: list[RunConfig], *, progress: bool = False) -> list[pd.DataFrame]:
    """Train several runs that share an architecture at once: stacked parameters, ``vmap`` over the models.

    The runs may differ in ``seed`` (init and batch order), ``init_scale`` and ``lr``; everything else must be
    equal, with plain SGD (``momentum = weight_decay = 0``). Each model takes the same steps
    ``theta <- theta - lr * grad L_B(theta)`` on the same batches as :func:`run` would, so the histories
    agree with sequential training up to float rounding. Nothing is stored; returns one history per config.

    Measured on this project's 2-core CPU (one thread, 8 models, digits, 10 epochs of 23 steps, against
    sequential ``train``): 2.8x faster at width 16, 2.3x at width 64, no gain at width 256 (0.93x), where
    each model's matrix products already fill the core.
    """
    configs = list(configs)
    if not configs:
        raise ValueError("configs must contain at least one RunConfig")
    may_differ = {"seed", "init_scale", "lr"}
    first = configs[0].to_dict()
    for c in configs[1:]:
        for name, value in c.to_dict().items():
            if name not in may_differ and value != first[name]:
                raise ValueError(f"train_stacked: every config must share {name!r} (only {sorted(may_differ)} "
                                 f"may differ); got {first[name]!r} and {value!r}")
    cfg = configs[0]
    if cfg.momentum or cfg.weight_decay:
        raise ValueError("train_stacked supports plain SGD only: momentum and weight_decay must be 0")
    from torch.func import functional_call, grad, stack_module_state, vmap

    device = _device(cfg)
    data = _load_data(cfg, device)
    models = [build_model(c, data.d_in, data.d_out).to(device) for c in configs]
    params, buffers = stack_module_state(models)
    base = models[0]
    lrs = torch.tensor([c.lr for c in configs], device=device)
    gens = [torch.Generator().manual_seed(c.seed) for c in configs]

    def loss(p, b, x, y):
        return curvature.square_loss(lambda inp: functional_call(base, (p, b), (inp,)), x, y)

    step_grads = vmap(grad(loss))
    n, bs = data.n_train, cfg.batch_size
    steps_per_epoch = math.ceil(n / bs)
    every, total = cfg.track_every * steps_per_epoch, cfg.epochs * steps_per_epoch
    histories = [[] for _ in configs]

    def record(step):
        with torch.no_grad():
            for i, model in enumerate(models):
                model.load_state_dict({**{k: v[i] for k, v in params.items()}, **{k: v[i] for k, v in buffers.items()}})
                row = {"step": step, "epoch": step / steps_per_epoch}
                row.update(_track(model, data, cfg.track, cfg.eval_size, cfg.hessian_inputs, 256))
                histories[i].append(row)

    record(0)
    step = 0
    from tqdm.auto import tqdm

    for _ in tqdm(range(cfg.epochs), desc="stacked SGD", disable=not progress, leave=False):
        perms = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device)
        for start in range(0, n, bs):
            idx = perms[:, start:start + bs]
            grads = step_grads(params, buffers, data.x_train[idx], data.y_train[idx])
            with torch.no_grad():
                for k, g in grads.items():
                    params[k] = params[k] - lrs.view(-1, *[1] * (g.dim() - 1)) * g
            step += 1
            if step % every == 0 or step == total:
                record(step)
    return [pd.DataFrame(rows) for rows in histories]
