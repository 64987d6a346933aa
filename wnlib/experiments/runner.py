"""Running configurations: one cached, resumable run, and sweeps through any executor.

Explained in: book/05_experiments.ipynb and README.md ("Reproducing the paper's
experiments").

:func:`run` loads a finished run, or resumes it from its last checkpoint, or trains it
from scratch, then stores it. :func:`sweep` runs many configurations through any
``concurrent.futures.Executor``. Each run is read from disk at most once per call.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import logging
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from typing import Iterable

import pandas as pd
import torch

from .. import _checks, _extras
from .._version import __version__
from ..curvature import parameters
from ..data import Dataset, load_dataset
from ..hardware import describe as describe_hardware
from ..training import CLOCK_COLUMNS, RESUME_KEYS, NonFiniteLossError, train
from .config import RunConfig, default_results_dir
from .registry import EXPERIMENTS, configs
from .store import Store, StoreWriteError

log = logging.getLogger("wnlib.experiments")

CHECKPOINT_EVERY = 5
"""Epochs between two checkpoints of a run, unless ``checkpoint_every`` (or
``--checkpoint-every``) says otherwise."""


def _metadata(
    config: RunConfig,
    device,
    wall_time: float,
    status: str,
    resumed_from_epoch: int,
    measure_time: float,
) -> dict:
    """``wall_time_s``: the whole run; ``measure_time_s``: the part spent on tracked
    quantities (not training)."""
    return dict(
        config=config.to_dict(),
        status=status,
        wall_time_s=round(wall_time, 3),
        measure_time_s=round(measure_time, 3),
        torch_threads=THREADS_PER_RUN,
        resumed_from_epoch=resumed_from_epoch,
        wnlib_version=__version__,
        torch_version=torch.__version__,
        device=describe_hardware(device),
        dataset=config.dataset,
        seed=config.seed,
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )


def _store(store) -> Store:
    return (
        store
        if isinstance(store, Store)
        else Store(store if store is not None else default_results_dir())
    )


THREADS_PER_RUN = 1
"""Torch CPU threads of every run, whatever the process or ``--workers``: float sums
depend on the thread count, and a run key must mean one result (recorded as
``torch_threads`` in ``meta.json``). A sweep runs in parallel across runs instead."""


@contextlib.contextmanager
def _threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _resumable(state: dict, config: RunConfig, model: torch.nn.Module) -> str | None:
    """Why ``state`` cannot resume this run (``None`` if it can): it must be this run's
    own checkpoint, and its model, optimizer and generator states must fit the model."""
    if not isinstance(state, dict) or state.get("key") != config.key:
        found = state.get("key") if isinstance(state, dict) else None
        return f"it belongs to run {found!r}, not to run {config.key!r}"
    try:
        model.load_state_dict(state["model"])
        train_state = state["train"]
        missing = set(RESUME_KEYS) - set(train_state)
        if missing:
            return f"its training state lacks {sorted(missing)}"
        why = _optimizer_fits(train_state["optimizer"], parameters(model))
        if why is not None:
            return why
        torch.Generator().set_state(train_state["generator"])
        float(state["wall_time_s"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        return f"it does not fit the run ({type(err).__name__}: {err})"
    return _progress_fits(train_state, config)


def _optimizer_fits(saved: dict, params: list) -> str | None:
    """Why ``saved`` (an SGD ``state_dict``) cannot be the optimizer state of ``params``
    (``None`` if it can): one group naming each parameter once, and each momentum buffer
    a tensor of its parameter's shape. Read as data; no optimizer is built."""
    groups = saved["param_groups"]
    if not isinstance(groups, list) or len(groups) != 1:
        return "its optimizer state does not have exactly one parameter group"
    ids = list(groups[0]["params"])
    if len(ids) != len(params) or len(set(ids)) != len(ids):
        return (
            f"its optimizer state names parameters {ids!r}, the model has {len(params)}"
        )
    shapes = dict(zip(ids, (tuple(p.shape) for p in params)))
    for i, state in saved["state"].items():
        if i not in shapes:
            return (
                f"its optimizer state has a parameter {i!r} that its group does not "
                f"name"
            )
        buffer = state.get("momentum_buffer")
        if buffer is not None and (
            not isinstance(buffer, torch.Tensor) or tuple(buffer.shape) != shapes[i]
        ):
            found = (
                tuple(buffer.shape)
                if isinstance(buffer, torch.Tensor)
                else type(buffer).__name__
            )
            return f"a momentum buffer has shape {found}, its parameter {shapes[i]}"
    return None


def _progress_fits(train_state: dict, config: RunConfig) -> str | None:
    """Why the epoch, step and rows of a checkpoint cannot be this run's (``None`` if
    they can)."""
    epoch, step, rows = train_state["epoch"], train_state["step"], train_state["rows"]
    if (
        isinstance(epoch, bool)
        or not isinstance(epoch, int)
        or not 1 <= epoch < config.epochs
    ):
        return (
            f"its epoch {epoch!r} is not in 1..{config.epochs - 1} (the run has "
            f"{config.epochs} epochs)"
        )
    if isinstance(step, bool) or not isinstance(step, int) or step < epoch:
        return f"its step {step!r} does not fit epoch {epoch}"
    if not isinstance(rows, list) or not rows:
        return "its tracked rows are not a non-empty list"
    last = -1
    for i, row in enumerate(rows):
        if not (
            isinstance(row, dict)
            and all(isinstance(k, str) for k in row)
            and all(
                isinstance(v, (int, float)) and not isinstance(v, bool)
                for v in row.values()
            )
        ):
            return f"its tracked row {i} is not a mapping of names to numbers"
        if (
            not isinstance(row.get("step"), int)
            or not last < row["step"] <= step
            or "epoch" not in row
        ):
            return (
                f"its tracked row {i} has step {row.get('step')!r}, not in increasing "
                f"order up to {step}"
            )
        last = row["step"]
    return None


def _result_fits(meta: dict, history: pd.DataFrame, config: RunConfig) -> str | None:
    """Why a stored result cannot be this run's (``None`` if it can): its configuration,
    and its status against its last tracked epoch (a finished run ends at the last
    epoch, a diverged one before it)."""
    if meta.get("config") != config.to_dict():
        return "its configuration is not this run's"
    status = meta.get("status")
    if status not in ("done", "diverged") or "epoch" not in history or history.empty:
        return f"its status {status!r} or its history is malformed"
    last = float(history["epoch"].iloc[-1])
    if (status == "done") != (last == config.epochs):
        return (
            f"its status {status!r} does not fit its last tracked epoch {last:g} of "
            f"{config.epochs}"
        )
    return None


def run(
    config: RunConfig,
    store: Store | str | os.PathLike | None = None,
    *,
    checkpoint_every: int = CHECKPOINT_EVERY,
    progress: bool = False,
) -> tuple[pd.DataFrame, dict]:
    """Results of one run: loaded if stored, else resumed from its checkpoint or
    trained, then stored.

    Returns ``(history, meta)``: one row per tracked step (``step``, ``epoch`` and the
    tracked quantities) and the metadata (config, versions, device, torch threads, wall
    time, date, ``status`` "done" or "diverged"). A checkpoint (the run's key, model,
    optimizer, batch-order generator, history so far) is written every
    ``checkpoint_every`` epochs; one that is not this run's own, or does not fit it, is
    reported, removed and the run starts over. Every run uses :data:`THREADS_PER_RUN`
    torch threads.
    """
    store = _store(store)
    checkpoint_every = _checks.positive_int("checkpoint_every", checkpoint_every)
    found = stored_result(store, config)
    if found is not None:
        return found
    device = config.torch_device()
    store.clean_temporaries(config.key)
    data = _data(
        config.dataset,
        config.n_train,
        config.n_test,
        config.normalize,
        config.data_seed,
        str(device),
        torch.float32,
    )
    model = config.build_model(data.d_in, data.d_out).to(device)
    state = store.load_checkpoint(config.key)
    if state is not None:
        why = _resumable(state, config, model)
        if why is not None:
            store.discard_checkpoint(config.key, why)
            state = None
            model = config.build_model(data.d_in, data.d_out).to(device)
    wall_before, resumed_from = 0.0, 0
    if state is not None:
        wall_before, resumed_from = (
            float(state["wall_time_s"]),
            int(state["train"]["epoch"]),
        )
        log.info(
            "run %s: resuming from its checkpoint at epoch %d", config.key, resumed_from
        )
    started = time.perf_counter()

    def checkpoint(train_state: dict) -> None:
        epoch = train_state["epoch"]
        if epoch % checkpoint_every == 0 and epoch < config.epochs:
            wall = wall_before + time.perf_counter() - started
            store.save_checkpoint(
                config.key,
                dict(
                    key=config.key,
                    train=train_state,
                    model=model.state_dict(),
                    wall_time_s=wall,
                ),
            )

    sgd = functools.partial(
        torch.optim.SGD, momentum=config.momentum, weight_decay=config.weight_decay
    )
    status = "done"
    with _threads(THREADS_PER_RUN):
        try:
            history = train(
                model,
                data,
                epochs=config.epochs,
                lr=config.lr,
                batch_size=config.batch_size,
                optimizer=sgd,
                seed=config.seed,
                tracking=config.tracking,
                progress=progress,
                resume=None if state is None else state["train"],
                on_epoch_end=checkpoint,
            )
        except NonFiniteLossError as err:
            history, status = err.history, "diverged"
    # wall-clock columns would make two identical runs differ: the wall time goes to the
    # metadata instead
    table = history.frame
    frame = table.drop(columns=list(CLOCK_COLUMNS), errors="ignore")
    measuring = float(table["measure_s"].sum()) if "measure_s" in table else 0.0
    meta = _metadata(
        config,
        device,
        wall_before + time.perf_counter() - started,
        status,
        resumed_from,
        measuring,
    )
    return store.save(config.key, frame, meta)


@functools.lru_cache(maxsize=1)
def _data(
    name: str,
    n_train,
    n_test,
    normalize: str,
    data_seed: int,
    device: str,
    dtype: torch.dtype,
) -> Dataset:
    """The data of a run, loaded once per process while consecutive runs share it
    (everything that determines the tensors is the cache key; the last one is kept).
    Training only reads it: it must not be changed."""
    return load_dataset(
        name,
        n_train=n_train,
        n_test=n_test,
        device=device,
        normalize=normalize,
        seed=data_seed,
        dtype=dtype,
    )


def _run_in_worker(
    config: dict, root: str, checkpoint_every: int
) -> tuple[pd.DataFrame, dict]:
    """What an executor runs: plain arguments in, the run's ``(history, meta)`` out
    (picklable for any executor)."""
    return run(
        RunConfig.from_dict(config), Store(root), checkpoint_every=checkpoint_every
    )


def _worker_init(parent: int) -> None:
    """In each worker process of the default pool: exit as soon as the parent process is
    gone (a parent killed with -9 cannot shut its pool down)."""

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="wnlib-parent-watch", daemon=True).start()


def tidy(results: Iterable[tuple[RunConfig, pd.DataFrame]]) -> pd.DataFrame:
    """One table for many runs: each run's history with its configuration fields (and
    ``key``) as columns."""
    frames = []
    for config, history in results:
        columns = {
            k: (",".join(v) if isinstance(v, list) else v)
            for k, v in config.to_dict().items()
        }
        frames.append(history.assign(**columns, key=config.key))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def sweep(
    configs: Iterable[RunConfig],
    *,
    executor: Executor | None = None,
    out: str | os.PathLike | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    max_workers: int | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, list[dict]]:
    """Run every configuration not stored yet, through ``executor``; return
    ``(tidy table, metadata list)``.

    ``executor`` is any ``concurrent.futures.Executor`` (Dask, Ray or submitit executors
    work unchanged: each task is the top-level function
    ``_run_in_worker(config_dict, out_dir, checkpoint_every)``). By default a local
    process pool (``spawn`` context, ``max_workers`` processes sharing the cores).
    Finished runs are loaded, unfinished ones resume from their checkpoints. A tqdm bar
    counts runs. With one worker (``max_workers=1``, or a machine with fewer than 4
    cores) the runs go one after the other in this process, which saves starting a
    process (and importing torch) for nothing.
    """
    configs = list(dict.fromkeys(configs))  # drop duplicates, keep order
    for c in configs:
        if not isinstance(c, RunConfig):
            raise TypeError(
                f"configs must contain wnlib.experiments.RunConfig objects, got "
                f"{type(c).__name__}"
            )
    store = _store(out)
    results = {
        c.key: stored_result(store, c) for c in configs
    }  # a corrupted result is reported here, then rerun
    todo = [c for c in configs if results[c.key] is None]
    if todo:
        store.check_writable()  # before any run: one clear error naming the folder
    _fetch_datasets(todo)
    bar = _extras.progress_bar(
        len(configs), len(configs) - len(todo), "runs", enabled=progress, unit="run"
    )
    workers = max_workers or max(1, min(len(todo), (os.cpu_count() or 1) // 2))
    own = executor is None and len(todo) > 0 and workers > 1
    if own:
        import multiprocessing

        executor = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )
    try:
        if (
            executor is None
        ):  # one after the other in this process; stop at the first failure
            for c in todo:
                results[c.key] = _stored(
                    store, lambda c=c: run(c, store, checkpoint_every=checkpoint_every)
                )
                bar.update(1)
        else:
            futures = {
                executor.submit(
                    _run_in_worker, c.to_dict(), str(store.root), checkpoint_every
                ): c
                for c in todo
            }
            try:
                for future in as_completed(futures):
                    results[futures[future].key] = _stored(store, future.result)
                    bar.update(1)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    finally:
        bar.close()
        if own:
            executor.shutdown(cancel_futures=True)
    return tidy((c, results[c.key][0]) for c in configs), [
        results[c.key][1] for c in configs
    ]


def stored_result(store: Store, config: RunConfig) -> tuple[pd.DataFrame, dict] | None:
    """The stored ``(history, meta)`` of ``config`` if it is there and is this run's,
    else ``None`` (a result that is not this run's is reported and removed)."""
    found = store.load(config.key)
    if found is not None:
        why = _result_fits(found[1], found[0], config)
        if why is None:
            return found
        store.discard(config.key, why)
    return None


def _stored(store: Store, result):
    """``result()``, with a failure to write the store turned into one error naming
    its folder."""
    try:
        return result()
    except StoreWriteError:
        raise
    except OSError as err:
        raise StoreWriteError(
            f"cannot write results under {store.root}: {err.strerror or err}; the "
            "sweep stopped (finished runs are kept; rerun to continue)"
        ) from err


def _fetch_datasets(configs: list[RunConfig]) -> None:
    """Load (downloading if needed) each dataset of ``configs`` once, here, so that one
    that cannot be had fails once instead of once per run."""
    from ..data import dataset_available, load_dataset

    for name in sorted({c.dataset for c in configs}):
        if not dataset_available(name):
            load_dataset(name, device="cpu")


def load_or_run(
    name: str,
    profile: str = "quick",
    *,
    dataset: str | None = None,
    out=None,
    executor: Executor | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, dict]:
    """Load experiment ``name`` if stored, else compute the missing runs:
    ``(tidy table, metadata)``.

    The metadata says what produced the table: experiment, profile, number of runs,
    wnlib/torch versions, devices, dates, total wall time and the part of it spent
    measuring, and ``runs`` (every run's own metadata).
    """
    frame, metas = sweep(
        configs(name, profile, dataset=dataset),
        executor=executor,
        out=out,
        progress=progress,
    )
    summary = dict(
        experiment=name,
        profile=profile,
        description=EXPERIMENTS[name].description,
        n_runs=len(metas),
        wnlib_version=sorted({m["wnlib_version"] for m in metas}),
        torch_version=sorted({m["torch_version"] for m in metas}),
        device=sorted({m["device"] for m in metas}),
        date=sorted({m["date"][:10] for m in metas}),
        wall_time_s=round(sum(m["wall_time_s"] for m in metas), 1),
        measure_time_s=round(sum(m.get("measure_time_s", 0.0) for m in metas), 1),
        diverged=sum(m["status"] == "diverged" for m in metas),
        runs=metas,
    )
    return frame, summary
