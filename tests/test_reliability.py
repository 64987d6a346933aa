"""Issue-12 reliability of runs and sweeps: checkpoints belong to their run, one thread count per run, file modes
follow the umask, workers die with their parent, clear exits for divergence and unwritable stores, a dataset
that cannot be had fails once. Each test uses the failing input the issue reports."""
import io
import json
import math
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from wnlib.experiments import RunConfig, StoreWriteError, run, sweep
from wnlib.experiments.cli import EXIT_DIVERGED, EXIT_ERROR, main
from wnlib.experiments.runner import THREADS_PER_RUN
from wnlib.experiments.store import CorruptFileWarning, Store

TINY = RunConfig(width=8, depth=1, epochs=4, n_train=200, momentum=0.9, track=("loss", "rho_min"))


def _checkpoint_of(config, root, every=2):
    """Run ``config`` until its first checkpoint is written, then stop: the checkpoint's state."""
    store = Store(root)

    def save_then_stop(key, state, _save=store.save_checkpoint):
        _save(key, state)
        raise KeyboardInterrupt

    store.save_checkpoint = save_then_stop
    with pytest.raises(KeyboardInterrupt):
        run(config, store, checkpoint_every=every)
    return Store(root).load_checkpoint(config.key)


def test_a_checkpoint_copied_from_another_run_is_not_resumed(tmp_path):
    seed0, seed1 = TINY, TINY.replace(seed=1)
    _checkpoint_of(seed0, tmp_path)
    theirs = Store(tmp_path).run_dir(seed0.key) / "checkpoint.pt"
    mine = Store(tmp_path).run_dir(seed1.key) / "checkpoint.pt"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(theirs.read_bytes())
    with pytest.warns(CorruptFileWarning, match=f"checkpoint.pt: it belongs to run '{seed0.key}'"):
        result, meta = run(seed1, tmp_path)
    assert meta["resumed_from_epoch"] == 0
    pd.testing.assert_frame_equal(result, run(seed1, tmp_path / "ref")[0], check_exact=True)


@pytest.mark.parametrize("damage", ["missing keys", "wrong shapes"])
def test_a_checkpoint_with_valid_checksum_but_wrong_contents_is_removed(tmp_path, damage):
    state = _checkpoint_of(TINY, tmp_path)
    if damage == "missing keys":
        del state["train"]["generator"]
    else:
        state["model"]["V"] = torch.zeros(3, 3)
    Store(tmp_path).save_checkpoint(TINY.key, state)  # a valid checksum over the damaged contents
    with pytest.warns(CorruptFileWarning, match="checkpoint.pt"):
        result, meta = run(TINY, tmp_path)
    assert meta["resumed_from_epoch"] == 0 and not (Store(tmp_path).run_dir(TINY.key) / "checkpoint.pt").exists()
    pd.testing.assert_frame_equal(result, run(TINY, tmp_path / "ref")[0], check_exact=True)


def test_meta_json_that_is_a_directory_is_corruption(tmp_path):
    folder = Store(tmp_path).run_dir(TINY.key)
    (folder / "meta.json").mkdir(parents=True)
    with pytest.warns(CorruptFileWarning, match="meta.json"):
        result, meta = run(TINY, tmp_path)
    assert (folder / "meta.json").is_file() and meta["status"] == "done"


def test_one_thread_count_per_run_whatever_the_process(tmp_path):
    """The default process (2 threads here) and a --workers 2 pool give byte-identical results under one key."""
    configs = [TINY.replace(width=64, n_train=400, seed=s, track=("loss", "rho_min", "gbar_sq")) for s in (0, 1)]
    torch.set_num_threads(2)
    inline, metas = sweep(configs, out=tmp_path / "inline", max_workers=1, progress=False)
    assert torch.get_num_threads() == 2 and {m["torch_threads"] for m in metas} == {THREADS_PER_RUN}
    pool, _ = sweep(configs, out=tmp_path / "pool", max_workers=2, progress=False)
    pd.testing.assert_frame_equal(inline, pool, check_exact=True)
    for c in configs:
        assert (Store(tmp_path / "inline").run_dir(c.key) / "history.csv").read_bytes() == \
            (Store(tmp_path / "pool").run_dir(c.key) / "history.csv").read_bytes()


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_result_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        run(TINY.replace(epochs=1), tmp_path)
    finally:
        os.umask(old)
    for name in ("history.csv", "meta.json"):
        assert stat.S_IMODE((Store(tmp_path).run_dir(TINY.replace(epochs=1).key) / name).stat().st_mode) == mode


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_when_their_parent_is_killed(tmp_path):
    spec = tmp_path / "sweep.json"
    spec.write_text(json.dumps({"base": TINY.to_dict(), "grid": {"seed": [0, 1]}, "checkpoint_every": 1}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    slow = Path(__file__).resolve().parent / "slow_checkpoints.py"   # pauses a minute after every checkpoint
    parent = subprocess.Popen([sys.executable, str(slow), "sweep", str(spec), "--out", str(tmp_path / "o"),
                               "--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, workers = time.time() + 120, []
    while time.time() < deadline and len(list((tmp_path / "o").rglob("checkpoint.pt"))) < 2:
        time.sleep(0.2)
    workers = [p for p in _children(parent.pid) if "python" in open(f"/proc/{p}/cmdline").read()]
    assert len(workers) >= 2, "the pool's workers were not found"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 20
    while time.time() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.2)
    survivors = [p for p in workers if _alive(p)]
    for p in survivors:
        os.kill(p, signal.SIGKILL)
    assert not survivors, f"workers {survivors} outlived their parent"


def test_a_diverged_run_is_reported_in_the_summary_and_exit_status(tmp_path, capsys):
    spec = tmp_path / "sweep.json"
    spec.write_text(json.dumps({"base": {**TINY.to_dict(), "lr": 1e6, "init_mode": "c*sqrt(m)", "init_scale": 5.0}}))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o")]) == EXIT_DIVERGED
    captured = capsys.readouterr()
    assert "1 runs (1 diverged)" in captured.out and "diverged" in captured.err


@pytest.mark.parametrize("where", ["a file", "below a file", "read-only"])
def test_an_unwritable_out_stops_before_the_first_run(tmp_path, capsys, where):
    if where == "read-only" and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    target = {"a file": tmp_path / "f", "below a file": tmp_path / "f" / "sub", "read-only": tmp_path / "ro"}[where]
    (tmp_path / "f").write_text("not a folder")
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o500)
    spec = tmp_path / "sweep.json"
    spec.write_text(json.dumps({"base": TINY.to_dict()}))
    assert main(["sweep", str(spec), "--out", str(target)]) == EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0] and str(target) in err[0]


def test_a_full_disk_stops_the_sweep_with_one_error_naming_the_folder(tmp_path, monkeypatch):
    started = []
    real_save = Store.save

    def full(self, key, history, meta):
        started.append(key)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Store, "save", full)
    configs = [TINY.replace(epochs=1, seed=s) for s in range(3)]
    with pytest.raises(StoreWriteError, match=f"cannot write results under {tmp_path}: No space left"):
        sweep(configs, out=tmp_path, max_workers=1, progress=False)
    assert len(started) == 1, "the sweep went on training after the store failed"
    monkeypatch.setattr(Store, "save", real_save)


def test_a_dataset_that_cannot_be_had_fails_once(tmp_path, monkeypatch):
    import wnlib.data

    calls = []
    real = wnlib.data._mnist_family

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(wnlib.data, "_mnist_family", counting)
    monkeypatch.setenv("WNLIB_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setattr("torchvision.datasets.MNIST.mirrors", ["http://127.0.0.1:9/"])
    configs = [TINY.replace(dataset="mnist", seed=s, n_train=None) for s in range(3)]
    with pytest.raises(RuntimeError, match="'mnist' could not be downloaded"):
        sweep(configs, out=tmp_path / "o", max_workers=1, progress=False)
    assert len(calls) == 1 and not (tmp_path / "o" / "runs").exists()


def test_a_planted_payload_in_a_checkpoint_does_not_run(tmp_path):
    """A checkpoint whose pickle would call os.system, with a valid checksum header: refused by
    ``torch.load(weights_only=True)``, reported, removed; the run starts over."""
    from wnlib.experiments.store import sha256

    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    buffer = io.BytesIO()
    torch.save({"key": TINY.key, "train": Payload()}, buffer)
    path = Store(tmp_path).run_dir(TINY.key) / "checkpoint.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(sha256(buffer.getvalue()).encode() + b"\n" + buffer.getvalue())
    with pytest.warns(CorruptFileWarning, match="unreadable checkpoint"):
        _, meta = run(TINY, tmp_path)
    assert not marker.exists() and meta["resumed_from_epoch"] == 0


BAD_SWEEPS = [  # (id, sweep file contents, fragment of the one-line error)
    ("grid value not a list", {"base": {}, "grid": {"width": 8}}, "grid value of 'width' must be a non-empty list"),
    ("empty grid list", {"grid": {"width": []}}, "grid value of 'width' must be a non-empty list"),
    ("runs as an object", {"runs": {"width": 8}}, "'runs' must be a list"),
    ("base as a list", {"base": [1, 2]}, "'base' must be a table/object"),
    ("checkpoint_every 0", {"base": {}, "checkpoint_every": 0}, "'checkpoint_every' must be an int > 0"),
    ("checkpoint_every negative", {"base": {}, "checkpoint_every": -3}, "'checkpoint_every' must be an int > 0"),
    ("checkpoint_every a string", {"base": {}, "checkpoint_every": "5"}, "'checkpoint_every' must be an int > 0"),
    ("out not a string", {"base": {}, "out": 3}, "'out' must be a string"),
    ("width a string", {"base": {"width": "8"}}, "width must be an int > 0"),
    ("seed a string", {"base": {"seed": "a"}}, "seed must be an int >= 0"),
    ("seed negative", {"base": {"seed": -1}}, "seed must be an int >= 0"),
    ("seed a float", {"base": {"seed": 1.5}}, "seed must be an int >= 0"),
    ("data_seed None", {"base": {"data_seed": None}}, "data_seed must be an int >= 0"),
    ("lr a string", {"base": {"lr": "fast"}}, "lr must be a finite number > 0"),
    ("momentum 1", {"base": {"momentum": 1.0}}, "momentum must be in [0, 1)"),
    ("track a string", {"base": {"track": "loss"}}, "track must be a list of names"),
    ("track unknown", {"base": {"track": ["los"]}}, "track must be one of"),
    ("scale_output a number", {"base": {"scale_output": 1}}, "scale_output must be true or false"),
    ("device unknown", {"base": {"device": "gpu0"}}, "device must be 'auto' or a torch device"),
    ("normalize unknown", {"base": {"normalize": "l2"}}, "normalize must be one of"),
    ("dataset unknown", {"base": {"dataset": "imagenet"}}, "dataset must be one of"),
    ("field misspelt", {"base": {"widht": 8}}, "RunConfig field must be one of"),
    ("n_train over the split", {"base": {"n_train": 5000}}, "n_train must be at most 1437 (the train split of 'digits')"),
    ("seed 2**64", {"base": {"seed": 2 ** 64}}, "seed must be an int >= 0 and < 2**63"),
    ("device meta", {"base": {"device": "meta"}}, "device must be 'auto' or a torch device of this machine"),
    ("width 10**9", {"base": {"width": 10 ** 9}}, "width=1000000000 and depth=2"),
    ("depth 10**6", {"base": {"depth": 10 ** 6}}, "depth=1000000 gives 1000000 layers, more than max_depth=1,000"),
    ("grid 20**7", {"grid": {f: list(range(1, 21)) for f in ("width", "depth", "seed", "data_seed", "epochs",
                                                              "batch_size", "track_every")}},
     "the grid has 1,280,000,000 runs"),
    ("out empty", {"base": {}, "out": ""}, "out must be a non-empty folder path"),
]
if not torch.cuda.is_available():
    BAD_SWEEPS.append(("device cuda without CUDA", {"base": {"device": "cuda"}}, "this machine has 0 CUDA device(s)"))


@pytest.mark.parametrize("spec, fragment", [b[1:] for b in BAD_SWEEPS], ids=[b[0] for b in BAD_SWEEPS])
def test_bad_sweep_files_are_rejected_in_one_line_before_any_run(tmp_path, capsys, spec, fragment):
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", str(path), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "CONFIG_FILE" in err and fragment in err, err
    assert not (tmp_path / "o").exists()


# ---- round 3: a hostile user's store, paths and exits ----------------------------------------------------------

def _finished(config, root):
    run(config, root)
    return Store(root).run_dir(config.key)


def test_a_finished_run_copied_under_another_key_is_not_served(tmp_path):
    seed0, seed1 = TINY.replace(epochs=1), TINY.replace(epochs=1, seed=1)
    theirs = _finished(seed1, tmp_path)
    mine = Store(tmp_path).run_dir(seed0.key)
    mine.mkdir(parents=True)
    for name in ("history.csv", "meta.json"):
        (mine / name).write_bytes((theirs / name).read_bytes())
    with pytest.warns(CorruptFileWarning, match=f"result of run '{seed1.key}', stored under key '{seed0.key}'"):
        result, meta = run(seed0, tmp_path)
    assert meta["seed"] == 0 and meta["key"] == seed0.key
    pd.testing.assert_frame_equal(result, run(seed0, tmp_path / "ref")[0], check_exact=True)


@pytest.mark.parametrize("legacy", [False, True], ids=["with meta checksum", "written before meta_sha256"])
def test_a_status_edited_in_meta_json_is_damage(tmp_path, legacy):
    folder = _finished(TINY.replace(epochs=1), tmp_path)
    meta = json.loads((folder / "meta.json").read_text())
    meta["status"] = "diverged"
    if legacy:
        del meta["meta_sha256"]
    (folder / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
    match = "does not fit its last tracked epoch" if legacy else "meta.json: checksum mismatch"
    with pytest.warns(CorruptFileWarning, match=match):
        _, meta = run(TINY.replace(epochs=1), tmp_path)
    assert meta["status"] == "done"


@pytest.mark.parametrize("damage, why", [
    ("epoch 10**6", "its epoch 1000000 is not in 1..3"),
    ("rows not mappings", "its tracked row 0 is not a mapping of names to numbers"),
    ("rows out of order", "its tracked row 1 has step 0"),
    ("rows empty", "its tracked rows are not a non-empty list"),
])
def test_a_checkpoint_with_impossible_progress_is_not_resumed(tmp_path, damage, why):
    state = _checkpoint_of(TINY, tmp_path)
    rows = state["train"]["rows"]
    if damage == "epoch 10**6":
        state["train"]["epoch"] = 10 ** 6
    elif damage == "rows not mappings":
        state["train"]["rows"] = [1, 2]
    elif damage == "rows out of order":
        state["train"]["rows"] = [rows[0], dict(rows[0])]
    else:
        state["train"]["rows"] = []
    Store(tmp_path).save_checkpoint(TINY.key, state)
    for _ in range(2):  # and not on every rerun either
        with pytest.warns(CorruptFileWarning, match=why):
            result, meta = run(TINY, tmp_path)
        assert meta["resumed_from_epoch"] == 0
        Store(tmp_path).save_checkpoint(TINY.key, state)
        (Store(tmp_path).run_dir(TINY.key) / "meta.json").unlink()
    pd.testing.assert_frame_equal(result, run(TINY, tmp_path / "ref")[0], check_exact=True)


@pytest.mark.parametrize("damage, why", [
    ("buffer shape", r"a momentum buffer has shape \(2, 2\), its parameter"),
    ("one parameter fewer", "its optimizer state names parameters"),
    ("two groups", "not have exactly one parameter group"),
    ("unknown parameter", "a parameter 99 that its group does not name"),
])
def test_a_checkpoint_whose_optimizer_state_does_not_fit_is_not_resumed(tmp_path, monkeypatch, damage, why):
    """The optimizer state is checked as data against the model's parameters: no optimizer is built for it."""
    from wnlib.experiments.runner import _resumable

    state = _checkpoint_of(TINY, tmp_path)
    monkeypatch.setattr(torch.optim, "SGD", None)  # the check must not build one
    assert _resumable(state, TINY, TINY.build_model(64, 10)) is None
    saved = state["train"]["optimizer"]
    if damage == "buffer shape":
        saved["state"][0]["momentum_buffer"] = torch.zeros(2, 2)
    elif damage == "one parameter fewer":
        saved["param_groups"][0]["params"] = saved["param_groups"][0]["params"][:-1]
    elif damage == "two groups":
        saved["param_groups"].append(dict(saved["param_groups"][0]))
    else:
        saved["state"][99] = saved["state"][0]
    assert _resumable(state, TINY, TINY.build_model(64, 10)) is not None
    monkeypatch.undo()
    Store(tmp_path).save_checkpoint(TINY.key, state)
    with pytest.warns(CorruptFileWarning, match=why):
        result, meta = run(TINY, tmp_path)
    assert meta["resumed_from_epoch"] == 0
    pd.testing.assert_frame_equal(result, run(TINY, tmp_path / "ref")[0], check_exact=True)


@pytest.mark.parametrize("link", ["run folder", "runs folder"])
def test_a_symlinked_run_folder_is_refused_and_nothing_outside_is_touched(tmp_path, link):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "history.csv").write_text("precious")
    (outside / "checkpoint.pt").write_text("precious")
    store = Store(tmp_path / "store")
    if link == "run folder":
        store.run_dir(TINY.key).parent.mkdir(parents=True)
        store.run_dir(TINY.key).symlink_to(outside)
    else:
        store.root.mkdir()
        (store.root / "runs").symlink_to(outside)
    with pytest.raises(OSError, match="is a symbolic link"):
        run(TINY, store)
    assert sorted(p.name for p in outside.iterdir()) == ["checkpoint.pt", "history.csv"]
    assert {p.read_text() for p in outside.iterdir()} == {"precious"}


@pytest.mark.parametrize("name, kind", [("meta.json", "/dev/zero"), ("meta.json", "fifo"),
                                        ("checkpoint.pt", "/dev/zero"), ("history.csv", "fifo")])
def test_special_files_in_a_run_folder_are_damage_not_a_hang(tmp_path, name, kind):
    config = TINY.replace(epochs=1)
    folder = _finished(config, tmp_path) if name == "history.csv" else Store(tmp_path).run_dir(config.key)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(folder / name)
    else:
        (folder / name).symlink_to(kind)
    started = time.perf_counter()
    with pytest.warns(CorruptFileWarning, match="not a regular file|symbolic link"):
        _, meta = run(config, tmp_path)
    assert meta["status"] == "done" and time.perf_counter() - started < 60
    assert os.path.exists("/dev/zero") and (folder / "meta.json").is_file()


@pytest.mark.parametrize("key", ["../../x", "ABSOLUTE", "", ".", "..", "a/b", ".hidden", 3])
def test_keys_that_are_not_plain_names_are_refused(tmp_path, key):
    absolute = tmp_path / "absolute-key"          # outside the store, and fresh in every run
    key = str(absolute) if key == "ABSOLUTE" else key
    store = Store(tmp_path / "store")
    with pytest.raises(ValueError, match="key must be a plain name"):
        store.save(key, pd.DataFrame({"loss": [1.0]}), {})
    for call in (store.load, store.load_checkpoint, store.is_done):
        with pytest.raises(ValueError, match="key must be a plain name"):
            call(key)
    assert not (tmp_path / "x").exists() and not absolute.exists()


def test_tilde_in_out_is_the_home_folder_and_an_empty_out_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "sweep.json"
    spec.write_text(json.dumps({"base": TINY.replace(epochs=1).to_dict(), "out": "~/wn"}))
    assert main(["sweep", str(spec)]) == 0
    assert main(["sweep", str(spec), "--out", "~/x"]) == 0
    for folder in ("wn", "x"):
        assert Store(tmp_path / "home" / folder).is_done(TINY.replace(epochs=1).key)
    assert not (tmp_path / "~").exists()
    with pytest.raises(SystemExit) as info:
        main(["sweep", str(spec), "--out", ""])
    assert info.value.code == 2 and "argument --out: out must be a non-empty folder path" in capsys.readouterr().err
    with pytest.raises(ValueError, match="out must be a non-empty folder path"):
        sweep([TINY], out="")


def _read_only(monkeypatch):
    """Every write to the filesystem fails as on read-only media (EROFS), whoever runs the test (root too)."""
    import errno

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    real_open = os.open

    def open_read_only(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            refuse()
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_read_only)
    for name in ("unlink", "remove", "mkdir", "rmdir", "replace", "rename"):
        monkeypatch.setattr(os, name, refuse)


def test_finished_results_can_be_read_from_read_only_media(tmp_path, monkeypatch, capsys):
    configs = [TINY.replace(epochs=1, seed=s) for s in (0, 1)]
    expected, _ = sweep(configs, out=tmp_path, max_workers=1, progress=False)
    spec = tmp_path / "sweep.json"
    spec.write_text(json.dumps({"base": configs[0].to_dict(), "grid": {"seed": [0, 1]}}))
    listing = sorted(str(p) for p in tmp_path.rglob("*"))
    _read_only(monkeypatch)
    assert main(["sweep", str(spec), "--out", str(tmp_path)]) == 0
    frame, _ = sweep(configs, out=tmp_path, max_workers=1, progress=False)
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    assert run(configs[0], tmp_path)[1]["key"] == configs[0].key
    monkeypatch.undo()
    assert sorted(str(p) for p in tmp_path.rglob("*")) == listing
    assert "2 runs (0 diverged)" in capsys.readouterr().out


def test_leftover_temporary_files_are_cleaned(tmp_path):
    config = TINY.replace(epochs=1)
    folder = Store(tmp_path).run_dir(config.key)
    folder.mkdir(parents=True)
    for name in (".history.csv.abc.tmp", ".checkpoint.pt.def.tmp"):
        (folder / name).write_text("left by kill -9")
    run(config, tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["history.csv", "meta.json"]
    (folder / ".meta.json.ghi.tmp").write_text("left by kill -9")
    run(config, tmp_path)  # a rerun that only loads cleans too
    assert sorted(p.name for p in folder.iterdir()) == ["history.csv", "meta.json"]


def test_a_divergence_found_while_measuring_is_stored_and_the_sweep_goes_on(tmp_path, monkeypatch, capsys):
    """The row-norm check raising FloatingPointError during evaluation (lr 200, init scale 5, c*sqrt(m)) ends
    like any divergence: exit 3, the finite history so far stored, the next run still runs."""
    import wnlib.training

    real, calls = wnlib.training.measure, []

    def overflowing(model, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise FloatingPointError("rows [0] of v have non-finite or zero norms in torch.float32")
        return real(model, *args, **kwargs)

    monkeypatch.setattr(wnlib.training, "measure", overflowing)
    base = {**TINY.to_dict(), "lr": 200.0, "init_scale": 5.0, "init_mode": "c*sqrt(m)"}
    spec = tmp_path / "sweep.json"
    spec.write_text(json.dumps({"base": base, "grid": {"seed": [0, 1]}}))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--workers", "1"]) == EXIT_DIVERGED
    metas = [Store(tmp_path / "o").load(RunConfig.from_dict({**base, "seed": s}).key)[1] for s in (0, 1)]
    assert metas[0]["status"] == "diverged" and metas[1] is not None  # the second run ran (and diverged too)
    history, _ = Store(tmp_path / "o").load(metas[0]["key"])
    assert len(history) == 1 and history.drop(columns=["step", "epoch"]).map(math.isfinite).all().all()
    assert "2 runs (2 diverged)" in capsys.readouterr().out


def test_ctrl_c_exits_130_in_one_line_and_the_run_resumes(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "sweep.json"
    spec.write_text(json.dumps({"base": TINY.to_dict(), "checkpoint_every": 2}))
    real = Store.save_checkpoint

    def save_then_interrupt(self, key, state):
        real(self, key, state)
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "save_checkpoint", save_then_interrupt)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--workers", "1"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err.strip().splitlines()[-1] and "Traceback" not in err
    monkeypatch.setattr(Store, "save_checkpoint", real)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--workers", "1"]) == 0
    assert Store(tmp_path / "o").load(TINY.key)[1]["resumed_from_epoch"] == 2


@pytest.mark.parametrize("make, fragment", [
    (lambda p: (p / "deep.json").write_text("[" * 100_000 + "]" * 100_000) and p / "deep.json",
     "nested too deeply to be a sweep file"),
    (lambda p: (p / "s.yaml").write_text("base: {}\n") and p / "s.yaml",
     "a sweep file must be JSON (*.json) or TOML (*.toml), got '.yaml'"),
    (lambda p: (p / "d.json").mkdir() or p / "d.json", "is a folder, not a sweep file"),
    (lambda p: p / "missing.json", "no such file"),
    (lambda p: os.mkfifo(p / "f.json") or p / "f.json", "is not a regular file"),
    (lambda p: (p / "bad.json").write_text("{base: 1}") and p / "bad.json", "not valid JSON"),
])
def test_unreadable_sweep_files_give_one_line(tmp_path, capsys, make, fragment):
    path = make(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["sweep", str(path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and "CONFIG_FILE" in err[-1] and fragment in err[-1], err
    assert "Traceback" not in "".join(err) and not (tmp_path / "o").exists()


def test_an_error_inside_a_run_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("wnlib.experiments.runner.train", lambda *a, **k: (_ for _ in ()).throw(
        RuntimeError("CUDA out of memory.\nTried to allocate 4 GiB")))
    spec = tmp_path / "sweep.json"
    spec.write_text(json.dumps({"base": TINY.to_dict()}))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--workers", "1"]) == EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "python -m wnlib: error: CUDA out of memory. Tried to allocate 4 GiB"
