"""The results store: atomic writes, checksums, corrupted files reported and discarded."""
import argparse

import pandas as pd
import pytest
import torch

from wnlib.experiments.store import CorruptFileWarning, Store, atomic_write


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "f.bin"
    atomic_write(path, b"one")
    atomic_write(path, b"two")
    assert path.read_bytes() == b"two"
    assert [p.name for p in path.parent.iterdir()] == ["f.bin"]


def test_save_load_roundtrip_is_exact(tmp_path):
    store = Store(tmp_path)
    frame = pd.DataFrame({"step": [0, 10], "loss": [1 / 3, float("nan")], "x": [1e-300, 2.0 ** 0.5]})
    store.save("k", frame, {"seed": 0})
    loaded, meta = store.load("k")
    pd.testing.assert_frame_equal(loaded, frame, check_exact=True)
    assert meta["seed"] == 0 and meta["key"] == "k" and len(meta["history_sha256"]) == 64
    assert store.load("missing") is None


@pytest.mark.parametrize("damage", ["truncate", "edit", "meta"])
def test_corrupted_result_is_reported_and_discarded(tmp_path, damage):
    store = Store(tmp_path)
    store.save("k", pd.DataFrame({"loss": [0.5, 0.25, 0.125]}), {})
    folder = store.run_dir("k")
    if damage == "truncate":
        data = (folder / "history.csv").read_bytes()
        (folder / "history.csv").write_bytes(data[: len(data) // 2])
    elif damage == "edit":
        (folder / "history.csv").write_text("loss\n0.5\n0.25\n0.126\n")
    else:
        (folder / "meta.json").write_text('{"history_sha256": ')
    with pytest.warns(CorruptFileWarning, match=r"discarding .*(history\.csv|meta\.json)"):
        assert store.load("k") is None
    assert not store.is_done("k")


def test_checkpoint_roundtrip_and_corruption(tmp_path):
    store = Store(tmp_path)
    state = {"model": {"w": torch.arange(6.0)}, "generator": torch.Generator().get_state(), "rows": [{"a": 1.5}]}
    store.save_checkpoint("k", state)
    back = store.load_checkpoint("k")
    assert torch.equal(back["model"]["w"], state["model"]["w"]) and back["rows"] == [{"a": 1.5}]
    path = store.run_dir("k") / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.warns(CorruptFileWarning, match="checkpoint.pt"):
        assert store.load_checkpoint("k") is None
    assert not path.exists()


def test_checkpoint_refuses_arbitrary_objects(tmp_path):
    """A checkpoint holding a non-tensor object is unreadable with weights_only=True: reported, not run."""
    store = Store(tmp_path)
    store.save_checkpoint("k", {"obj": argparse.Namespace(a=1)})
    with pytest.warns(CorruptFileWarning, match="unreadable checkpoint"):
        assert store.load_checkpoint("k") is None
