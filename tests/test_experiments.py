"""Experiments: CLI, resume after kill -9, corrupted files, executors, stacked training, committed results."""
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

import torch

import wnlib
from wnlib import TrackSpec, experiments
from wnlib.data import load_dataset
from wnlib.experiments import cli, runner
from wnlib.experiments.cli import main, read_sweep_file
from wnlib.book.results import book_results, produced_by
from wnlib.experiments import EXPERIMENTS, RunConfig, run, sweep
from wnlib.experiments.store import CorruptFileWarning, Store

REPOSITORY = Path(__file__).resolve().parent.parent
BOOK_RESULTS = REPOSITORY / "book" / "results"
SLOW_CHECKPOINTS = Path(__file__).resolve().parent / "slow_checkpoints.py"  # the CLI, pausing after checkpoints
TINY = RunConfig(width=8, depth=1, epochs=4, n_train=200, momentum=0.9, track=("loss", "accuracy", "rho_min"))


def _slow_cli(*args, **kwargs):
    """``python -m wnlib ARGS`` that pauses a minute after every checkpoint (``tests/slow_checkpoints.py``)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(SLOW_CHECKPOINTS), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


# ---- command line ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["--help"], ["reproduce", "--help"]])
def test_help_lists_experiments_and_profiles(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert all(name in out for name in EXPERIMENTS) and "reproduce" in out
    assert "sweep" in out or argv[0] == "reproduce"
    for name, text in experiments.registry.describe_profiles().items():
        assert f"{name} {text}" in out
    lines = experiments.registry.describe_profiles()
    assert "8 epochs instead of 100" in lines["cpu"] and lines["cpu"].endswith("data: fashion-mnist")
    assert lines["full"].endswith("data: mnist and cifar10 (paper; the other experiments: mnist)")


@pytest.mark.parametrize("argv, names", [
    (["reproduce", "nope"], ["EXPERIMENT", "paper", "width"]),
    (["reproduce", "width", "--profile", "medium"], ["--profile", "quick", "cpu", "full"]),
    (["reproduce", "width", "--dataset", "imagenet"], ["--dataset", "digits", "mnist"]),
    (["reproduce", "width", "--workers", "0"], ["--workers", "int > 0"]),
    (["sweep", "/no/such/file.json"], ["CONFIG_FILE", "no such file"]),
    ([], ["reproduce", "sweep"]),
])
def test_argument_errors_name_the_argument(capsys, argv, names):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert all(name in err for name in names), err


def test_sweep_file_errors(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"base": {"widht": 8}}))
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", str(bad)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "CONFIG_FILE" in err and "'widht'" in err and "'width'" in err


def test_configs_follow_the_paper():
    full = experiments.configs("paper", "full")
    assert {c.dataset for c in full} == {"mnist", "cifar10"} and {c.width for c in full} == {512, 1024}
    assert {c.init_scale for c in full} == {0.5, 5.0}
    assert {(c.lr, c.batch_size, c.momentum) for c in full} == {(0.001, 512, 0.0)}
    assert "hessian" in full[0].track and "gbar_sq" in full[0].track
    for name in EXPERIMENTS:
        for profile in experiments.PROFILES:
            cs = experiments.configs(name, profile)
            assert cs and len({c.key for c in cs}) == len(cs)
    assert {c.dataset for c in experiments.configs("width", "quick", dataset="teacher")} == {"teacher"}
    with pytest.raises(ValueError, match="experiment must be one of"):
        experiments.configs("nope")
    with pytest.raises(ValueError, match="RunConfig field must be one of"):
        RunConfig.from_dict({"widht": 3})
    assert TINY.key == RunConfig.from_dict(TINY.to_dict()).key != TINY.replace(seed=1).key


def test_a_profile_runs_exactly_the_dataset_asked_for():
    """--dataset replaces the data and nothing else: full is the full protocol (100 epochs, the Hessian norm at 4
    inputs) on any dataset, cpu the same with 8 epochs and one input; without it, the profile's datasets."""
    for name in EXPERIMENTS:
        for profile in experiments.PROFILES:
            for dataset in ("digits", "mnist", "fashion-mnist", "cifar10"):
                cs = experiments.configs(name, profile, dataset=dataset)
                assert {c.dataset for c in cs} == {dataset}, (name, profile, dataset)
                if name == "n":  # the sample sizes depend on the size of the training set
                    continue
                on_mnist = experiments.configs(name, profile, dataset="mnist")
                assert [c.replace(dataset="mnist") for c in cs] == on_mnist
    assert {c.dataset for c in experiments.configs("paper", "full")} == {"mnist", "cifar10"}
    assert {c.dataset for c in experiments.configs("width", "full")} == {"mnist"}
    assert {c.dataset for c in experiments.configs("paper", "cpu")} == {"fashion-mnist"}
    full = experiments.configs("paper", "full", dataset="fashion-mnist")
    cpu = experiments.configs("paper", "cpu", dataset="fashion-mnist")
    assert {(c.epochs, c.hessian_inputs) for c in full} == {(100, 4)} and len(full) == 8
    assert {(c.epochs, c.hessian_inputs) for c in cpu} == {(8, 1)}
    assert [c.replace(epochs=8, hessian_inputs=1) for c in full] == cpu
    with pytest.raises(ValueError, match="dataset must be one of"):
        experiments.configs("paper", "full", dataset="imagenet")
    with pytest.raises(ValueError, match="profile must be one of 'quick', 'cpu', 'full'"):
        experiments.configs("paper", "gpu")


@pytest.mark.parametrize("argv, datasets, epochs", [
    (["--profile", "full", "--dataset", "mnist"], {"mnist"}, {100}),
    (["--profile", "full", "--dataset", "fashion-mnist"], {"fashion-mnist"}, {100}),
    (["--profile", "full"], {"mnist", "cifar10"}, {100}),
    (["--profile", "cpu"], {"fashion-mnist"}, {8}),
    (["--profile", "cpu", "--dataset", "mnist"], {"mnist"}, {8}),
    ([], {"digits"}, {30}),
])
def test_the_command_line_runs_exactly_the_dataset_asked_for(tmp_path, monkeypatch, argv, datasets, epochs):
    ran = []

    def record(configs, **_):
        ran.extend(configs)
        return pd.DataFrame(), []

    monkeypatch.setattr(cli, "sweep", record)
    assert main(["reproduce", "paper", *argv, "--out", str(tmp_path)]) == 0
    assert {c.dataset for c in ran} == datasets and {c.epochs for c in ran} == epochs


def test_cpu_profile_is_the_stored_fashion_mnist_runs():
    """Chapter 5 finds every stored Fashion-MNIST run: the 8-epoch ones are the cpu profile's paper runs (same
    keys), the others those of the 100-epoch sweep file."""
    stored = {}
    for meta in BOOK_RESULTS.glob("runs/*/meta.json"):
        config = json.loads(meta.read_text())["config"]
        if config["dataset"] == "fashion-mnist":
            stored[meta.parent.name] = config["epochs"]
    cpu = {c.key for c in experiments.configs("paper", "cpu")}
    long, _ = read_sweep_file(REPOSITORY / "sweeps" / "fashion_mnist_100_epochs.json")
    assert cpu == {key for key, epochs in stored.items() if epochs == 8} and len(cpu) == 8
    assert {c.key for c in long} == {key for key, epochs in stored.items() if epochs == 100} and len(long) == 4
    from wnlib.book.results import stored_results
    assert stored_results("paper", "cpu", out=BOOK_RESULTS) is not None


# ---- data loaded once per process ------------------------------------------------------------------------

def test_a_sweep_loads_its_data_once_and_training_does_not_change_it(tmp_path, monkeypatch):
    loads = []

    def counting(*args, **kwargs):
        loads.append(args)
        return load_dataset(*args, **kwargs)

    monkeypatch.setattr(runner, "load_dataset", counting)
    runner._data.cache_clear()
    config = TINY.replace(epochs=2, weight_decay=1e-3, track=("loss", "accuracy", "rho_min", "gbar_sq", "hessian"),
                          hessian_inputs=1, device="cpu")
    same_data = [config.replace(seed=s, width=w) for s in (0, 1) for w in (8, 16)]
    sweep(same_data, out=tmp_path, max_workers=1, progress=False)
    assert len(loads) == 1
    cached = runner._data(config.dataset, config.n_train, config.n_test, config.normalize, config.data_seed, "cpu",
                          torch.float32)
    assert len(loads) == 1
    fresh = config.load_data("cpu")
    for split in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(cached, split), getattr(fresh, split)), split
    sweep([config.replace(n_train=100), config.replace(n_train=100, seed=3)], out=tmp_path, max_workers=1,
          progress=False)
    assert len(loads) == 2


# ---- tracking settings: one TrackSpec, the same keys -----------------------------------------------------

def test_every_stored_run_keeps_its_key():
    """Each committed run folder is named by the key of the configuration in its meta.json: adding
    ``curvature_size`` (left out of to_dict() at its default) changed no key."""
    folders = sorted((BOOK_RESULTS / "runs").iterdir())
    assert len(folders) >= 50
    for folder in folders:
        stored = json.loads((folder / "meta.json").read_text())["config"]
        config = RunConfig.from_dict(stored)
        assert config.to_dict() == stored and config.key == folder.name


def test_run_config_tracking_fields_are_a_track_spec():
    assert RunConfig().tracking == TrackSpec()  # one set of defaults
    assert RunConfig().key == "aa7ed296a5ae2cc2"  # the default run's key before curvature_size existed
    assert TINY.tracking == TrackSpec(("loss", "accuracy", "rho_min"), every=1)
    assert TINY.replace(track_every=3).tracking.every == 3
    assert "curvature_size" not in RunConfig().to_dict()
    changed = TINY.replace(curvature_size=8)
    assert changed.to_dict()["curvature_size"] == 8 and changed.key != TINY.key
    assert RunConfig.from_dict(changed.to_dict()) == changed
    with pytest.raises(ValueError, match="curvature_size must be an int > 0, got 0"):
        RunConfig(curvature_size=0)
    with pytest.raises(ValueError, match="track_every must be an int > 0, got 0"):
        RunConfig(track_every=0)
    with pytest.raises(ValueError, match="gbar_size must be None"):
        RunConfig(gbar_size=1)


def test_curvature_size_from_a_sweep_file_reaches_measure(tmp_path):
    """A sweep file sets ``curvature_size``; the run's step-0 ``loss_hessian_top`` is then the top eigenvalue of
    the loss Hessian on the first 8 training samples, computed here directly, not on the default 256."""
    base = {**TINY.replace(epochs=1, track=("loss_hessian",)).to_dict(), "curvature_size": 8}
    spec = tmp_path / "sweep.json"
    spec.write_text(json.dumps({"base": base}))
    (config,), _ = read_sweep_file(spec)
    assert config.tracking.curvature_size == 8
    frame, meta = run(config, tmp_path / "out")
    assert meta["config"]["curvature_size"] == 8
    data = config.load_data("cpu")
    model = config.build_model(data.d_in, data.d_out)  # the run's network at step 0
    on_8 = wnlib.loss_hessian_norm(model, data.x_train[:8], data.y_train[:8], which="LA", tol=1e-4)
    on_200 = wnlib.loss_hessian_norm(model, data.x_train, data.y_train, which="LA", tol=1e-4)
    assert frame["loss_hessian_top"].iloc[0] == pytest.approx(on_8, rel=1e-3)
    assert abs(on_8 - on_200) > 0.05 * on_200


# ---- resume, corruption, executors -----------------------------------------------------------------------

def test_resume_after_kill_gives_identical_results(tmp_path):
    """kill -9 the CLI (and its worker) between two checkpoints, rerun it, compare with an uninterrupted run."""
    config = TINY.replace(epochs=5)
    spec = tmp_path / "sweep.json"
    spec.write_text(json.dumps({"base": config.to_dict(), "checkpoint_every": 1}))
    out = tmp_path / "killed"
    checkpoint = Store(out).run_dir(config.key) / "checkpoint.pt"
    proc = _slow_cli("sweep", str(spec), "--out", str(out), start_new_session=True)
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert checkpoint.exists() and not Store(out).is_done(config.key)

    assert main(["sweep", str(spec), "--out", str(out)]) == 0  # the same command, rerun (in this process)
    resumed, meta = Store(out).load(config.key)
    assert meta["resumed_from_epoch"] >= 1 and not checkpoint.exists()
    uninterrupted, meta_ref = run(config, tmp_path / "ref")
    pd.testing.assert_frame_equal(resumed, uninterrupted, check_exact=True)
    assert meta["history_sha256"] == meta_ref["history_sha256"]


def test_corrupted_result_is_reported_and_recomputed(tmp_path):
    first, _ = run(TINY, tmp_path)
    path = Store(tmp_path).run_dir(TINY.key) / "history.csv"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.warns(CorruptFileWarning, match="history.csv"):
        again, _ = run(TINY, tmp_path)
    pd.testing.assert_frame_equal(again, first, check_exact=True)


def test_corrupted_checkpoint_is_reported_and_recomputed(tmp_path):
    store = Store(tmp_path)
    stop = RuntimeError("stop after the first checkpoint")

    def save_then_stop(key, state, _save=store.save_checkpoint):
        _save(key, state)
        raise stop

    store.save_checkpoint = save_then_stop
    with pytest.raises(RuntimeError, match="stop after"):
        run(TINY, store, checkpoint_every=2)
    path = Store(tmp_path).run_dir(TINY.key) / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(CorruptFileWarning, match="checkpoint.pt"):
        again, meta = run(TINY, tmp_path)
    assert meta["resumed_from_epoch"] == 0
    pd.testing.assert_frame_equal(again, run(TINY, tmp_path / "ref")[0], check_exact=True)


class NoCompute(Executor):
    """An executor that fails if anything is submitted: proves results were loaded, not computed."""

    def submit(self, fn, *args, **kwargs):
        raise AssertionError(f"unexpected computation: {args[0] if args else fn}")


def test_sweep_with_a_thread_pool_then_loads(tmp_path):
    configs = [TINY.replace(seed=s) for s in (0, 1)]
    with ThreadPoolExecutor(2) as pool:
        frame, metas = sweep(configs, executor=pool, out=tmp_path, progress=False)
    assert set(frame["key"]) == {c.key for c in configs} and len(metas) == 2
    assert set(frame["seed"]) == {0, 1} and {"train_loss", "rho_min", "width"} <= set(frame.columns)
    again, _ = sweep(configs, executor=NoCompute(), out=tmp_path, progress=False)
    pd.testing.assert_frame_equal(again, frame, check_exact=True)


def test_committed_quick_results_load_without_computing():
    """The book's results under book/results match the quick experiment definitions (nothing to recompute)."""
    for name in EXPERIMENTS:
        frame, meta = experiments.load_or_run(name, "quick", executor=NoCompute(), progress=False, out=BOOK_RESULTS)
        assert len(frame) and meta["n_runs"] == len(experiments.configs(name, "quick"))
        assert name in produced_by(meta)


def test_default_process_pool(tmp_path):
    """The default executor with two workers: spawned processes, results equal to an in-process run."""
    configs = [TINY.replace(epochs=2, seed=s) for s in (0, 1)]
    frame, _ = sweep(configs, out=tmp_path / "pool", max_workers=2, progress=False)
    inline, _ = sweep(configs, out=tmp_path / "inline", max_workers=1, progress=False)
    pd.testing.assert_frame_equal(frame, inline, check_exact=True)


def test_book_results_never_starts_a_full_run():
    """With no full-profile results stored, a chapter in the full profile shows the committed quick results."""
    table, meta = book_results("width", "full", out=Path(__file__).resolve().parents[1] / "book" / "results")
    assert meta["profile"] == "quick" and len(table) > 0
    for profile in ("gpu", "cpu"):  # the cpu profile is the command line's, not a chapter's
        with pytest.raises(ValueError, match="profile must be one of 'quick', 'full'"):
            book_results("width", profile)


def test_the_library_never_looks_for_the_book_and_the_book_passes_its_folder(monkeypatch, tmp_path):
    """The library's default is ``$WNLIB_RESULTS``, else ``~/.cache/wnlib/results``, even inside a checkout; the
    book's folder is what ``setup()`` returns: ``$WNLIB_RESULTS``, else ``results/`` in the working directory
    (``book/``, where Jupyter, Jupyter Book and nbval run a chapter)."""
    from wnlib.book import setup
    from wnlib.experiments import default_results_dir

    monkeypatch.delenv("WNLIB_RESULTS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(BOOK_RESULTS.parents[1])   # the repository root
    assert default_results_dir() == tmp_path / "home" / ".cache" / "wnlib" / "results"
    monkeypatch.chdir(BOOK_RESULTS.parent)       # book/, as a chapter runs
    assert default_results_dir() == tmp_path / "home" / ".cache" / "wnlib" / "results"
    assert setup(verbose=False).results == BOOK_RESULTS
    table, meta = book_results("width", "quick", out=setup(verbose=False).results)
    assert meta["profile"] == "quick" and len(table) > 0
    monkeypatch.setenv("WNLIB_RESULTS", str(tmp_path / "elsewhere"))
    assert default_results_dir() == setup(verbose=False).results == tmp_path / "elsewhere"
