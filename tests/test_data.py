"""Loaders on files in torchvision's own on-disk formats (MNIST IDX, CIFAR-10 pickled batches), and digits."""
import pickle
import struct

import numpy as np
import pytest
import torch

import wnlib


def _write_idx(path, array):
    """IDX: magic (0, 0, dtype=0x08 ubyte, ndim), big-endian dims, raw bytes."""
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def _fake_mnist(root, n_train=30, n_test=12):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    sets = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(1, 256, size=(n, 28, 28))
        labels = np.arange(n) % 10
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        sets[prefix] = (images, labels)
    return sets


def _fake_cifar10(root, per_batch=6, n_test=8):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    batches = []
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = list(rng.integers(0, 10, size=n))
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": labels}, f)  # CIFAR-10's own keys
        batches.append((data, labels))
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    return batches


def test_mnist_loader_reads_idx_files(tmp_path):
    sets = _fake_mnist(tmp_path)
    assert wnlib.dataset_available("mnist", root=tmp_path)
    data = wnlib.load_dataset("mnist", root=tmp_path, download=False, normalize="none", device="cpu")
    assert data.x_train.shape == (30, 784) and data.x_test.shape == (12, 784)
    images, labels = sets["train"]
    np.testing.assert_allclose(data.x_train.numpy(), images.reshape(30, -1) / 255.0, rtol=1e-6)
    assert torch.equal(data.y_train.argmax(1), torch.as_tensor(labels))
    assert torch.equal(data.y_train.sum(1), torch.ones(30)) and data.num_classes == 10


def test_cifar10_loader_reads_pickled_batches(tmp_path):
    batches = _fake_cifar10(tmp_path)
    assert wnlib.dataset_available("cifar10", root=tmp_path)
    data = wnlib.load_dataset("cifar10", root=tmp_path, download=False, normalize="none")
    assert data.x_train.shape == (30, 3072) and data.x_test.shape == (8, 3072)
    # torchvision stores HWC; our flattening is HWC of the CHW-ordered bytes: compare to its own reshape
    first = batches[0][0][0].reshape(3, 32, 32).transpose(1, 2, 0).reshape(-1) / 255.0
    np.testing.assert_allclose(data.x_train[0].numpy(), first, rtol=1e-6)
    labels = sum((b[1] for b in batches[:5]), [])
    assert data.y_train.argmax(1).tolist() == labels


def test_sphere_normalization_and_subsets(tmp_path):
    _fake_mnist(tmp_path)
    data = wnlib.load_dataset("mnist", root=tmp_path, download=False, n_train=10, n_test=5)
    assert data.n_train == 10 and data.n_test == 5
    norms = data.x_train.norm(dim=1)
    assert torch.allclose(norms, torch.full_like(norms, 28.0))
    std = wnlib.load_dataset("digits", normalize="standardize")
    assert torch.allclose(std.x_train.mean(0), torch.zeros(64), atol=1e-5)


def test_missing_files_error_says_where_and_offers_digits(tmp_path):
    assert not wnlib.dataset_available("mnist", root=tmp_path)
    assert not wnlib.dataset_available("cifar10", root=tmp_path)
    for name in ("mnist", "cifar10"):
        with pytest.raises(RuntimeError) as info:
            wnlib.load_dataset(name, root=tmp_path, download=False)
        msg = str(info.value)
        assert str(tmp_path) in msg and "'digits'" in msg and "offline" in msg


def test_digits_offline():
    data = wnlib.load_dataset("digits")
    assert (data.n_train, data.n_test, data.d_in, data.d_out) == (1437, 360, 64, 10)
    assert data.num_classes == 10 and data.x_train.dtype == torch.float32
    assert torch.allclose(data.x_train.norm(dim=1), torch.full((1437,), 8.0))
    assert torch.equal(data.y_train.sum(1), torch.ones(1437))
    assert len(set(data.y_train.argmax(1).tolist())) == 10
    again = wnlib.load_dataset("digits")
    assert torch.equal(again.x_train, data.x_train)


def test_teacher_regression():
    data = wnlib.load_dataset("teacher", n_train=100, n_test=50)
    assert data.x_train.shape == (100, 16) and data.y_train.shape == (100, 1) and data.num_classes is None
    assert torch.allclose(data.x_train.norm(dim=1), torch.full((100,), 4.0))
    assert 0.5 < float(data.y_train.std()) < 2.0


def test_corrupted_file_is_reported_not_used(tmp_path):
    _fake_mnist(tmp_path)
    path = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.raises(RuntimeError, match="present but could not be read"):
        wnlib.load_dataset("mnist", root=tmp_path, download=False)


def test_a_planted_cifar10_payload_does_not_run(tmp_path):
    """A file named data_batch_1 whose pickle calls os.system: refused by the restricted unpickler, never run."""
    _fake_cifar10(tmp_path)
    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {marker}",))

    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "wb") as f:
        pickle.dump({"data": Payload(), "labels": [0]}, f)
    with pytest.raises(RuntimeError, match="refused to load posix.system|refused to load os.system"):
        wnlib.load_dataset("cifar10", root=tmp_path, download=False)
    assert not marker.exists()


def test_images_and_labels_must_agree(tmp_path):
    _fake_mnist(tmp_path)
    _write_idx(tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte", np.arange(29) % 10)  # 30 images
    with pytest.raises(RuntimeError, match="train split of 'mnist' has 30 images but 29 labels"):
        wnlib.load_dataset("mnist", root=tmp_path, download=False)
    cifar = tmp_path / "c"
    _fake_cifar10(cifar)
    with open(cifar / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({"data": np.zeros((3, 3072), np.uint8), "labels": [0, 12, 1]}, f)
    with pytest.raises(RuntimeError, match="test_batch: labels must be ints in 0..9, got 12 at index 1"):
        wnlib.load_dataset("cifar10", root=cifar, download=False)


def test_fashion_mnist_from_the_system_package_layout(tmp_path, monkeypatch):
    """Gzipped IDX files where Debian's package puts them are unpacked into torchvision's raw/ layout."""
    import gzip

    system = tmp_path / "system"
    system.mkdir()
    sets = _fake_mnist(tmp_path / "made")
    for f in (tmp_path / "made" / "MNIST" / "raw").iterdir():
        (system / f"{f.name}.gz").write_bytes(gzip.compress(f.read_bytes()))
    monkeypatch.setattr(wnlib.data, "SYSTEM_FASHION_MNIST", system)
    root = tmp_path / "data"
    assert not wnlib.dataset_available("fashion-mnist", root=root)
    data = wnlib.load_dataset("fashion-mnist", root=root, download=False, normalize="none")
    assert wnlib.dataset_available("fashion-mnist", root=root)
    assert (root / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").is_file()
    np.testing.assert_allclose(data.x_train.numpy(), sets["train"][0].reshape(30, -1) / 255.0, rtol=1e-6)
    assert data.name == "fashion-mnist" and data.n_test == 12
    monkeypatch.setattr(wnlib.data, "SYSTEM_FASHION_MNIST", tmp_path / "absent")
    with pytest.raises(RuntimeError, match="'fashion-mnist' was not found and download=False"):
        wnlib.load_dataset("fashion-mnist", root=tmp_path / "empty", download=False)


@pytest.mark.skipif(not wnlib.data.SYSTEM_FASHION_MNIST.is_dir(), reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist_when_installed(tmp_path):
    data = wnlib.load_dataset("fashion-mnist", root=tmp_path, download=False, device="cpu")
    assert (data.n_train, data.n_test, data.d_in) == (60000, 10000, 784)
    assert data.y_train.sum(0).tolist() == [6000.0] * 10      # Fashion-MNIST is balanced


def _shared_nested_lists(depth=30):
    """A few hundred bytes of pickle that would expand to 2**depth numbers: one list referenced twice per level."""
    item = [0] * 8
    for _ in range(depth):
        item = [item, item]
    return item


@pytest.mark.parametrize("batch, fragment", [
    ({"data": _shared_nested_lists(), "labels": [0]}, "'data' must be a uint8 array of shape (n, 3072) (pixels 0..255), got list"),
    ({"data": np.full((6, 3072), 300, dtype=np.int16), "labels": [0] * 6}, "got int16 array of shape (6, 3072)"),
    ({"data": np.zeros((6, 3072), dtype=np.uint8), "labels": [0, 1, 2, 1.7, 0, 0]}, "labels must be ints in 0..9, got 1.7 at index 3"),
    ({"data": np.zeros((6, 3072), dtype=np.uint8), "labels": _shared_nested_lists()}, "'labels' must be a list of 6 ints"),
    ({"data": np.zeros((6, 100), dtype=np.uint8), "labels": [0] * 6}, "got uint8 array of shape (6, 100)"),
])
def test_a_malformed_cifar10_batch_is_refused_before_it_is_converted(tmp_path, batch, fragment):
    import time

    _fake_cifar10(tmp_path)
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_2", "wb") as f:
        pickle.dump(batch, f)
    started = time.perf_counter()
    with pytest.raises(RuntimeError, match="could not be read") as info:
        wnlib.load_dataset("cifar10", root=tmp_path, download=False)
    assert "data_batch_2: " in str(info.value) and fragment in str(info.value)
    assert time.perf_counter() - started < 10
