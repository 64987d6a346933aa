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
