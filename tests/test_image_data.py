"""Notebook 06's offline image tasks: the source (digits 0-4) and the few-shot target (digits 5-9)."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from lrcourse import data


def test_source_task_is_distorted_digits_0_to_4_split_60_20_20_stratified():
    split = data.digits_source(seed=0)
    _, y = load_digits(return_X_y=True)
    assert len(split.y_train) + len(split.y_val) + len(split.y_test) == int(np.sum(y < 5))
    assert (len(split.y_train), len(split.y_val), len(split.y_test)) == (540, 180, 181)
    assert split.X_train.dtype == np.float32 and split.image_shape == (1, 16, 16)
    assert split.classes == (0, 1, 2, 3, 4) and set(split.y_test) == {0, 1, 2, 3, 4}
    for part in (split.y_train, split.y_val, split.y_test):
        np.testing.assert_allclose(np.bincount(part) / len(part), np.bincount(y[y < 5]) / np.sum(y < 5), atol=0.02)
    assert np.array_equal(data.digits_source(seed=0).X_test, split.X_test)  # seeded
    bigger = data.digits_source(seed=0, copies=3)
    assert len(bigger.y_train) == 3 * 540 and np.array_equal(bigger.y_train, np.tile(split.y_train, 3))
    assert not np.array_equal(bigger.X_train[:540], bigger.X_train[540:1080])  # each copy distorted anew
    assert repr(split).startswith("ImageSplit('digits 0-4': 540 train")


def test_target_task_is_few_shot_distorted_digits_5_to_9_relabelled():
    target = data.digits_target(shots=5, val_shots=10, seed=1)
    assert np.array_equal(np.bincount(target.y_train), [5] * 5)
    assert np.array_equal(np.bincount(target.y_val), [10] * 5)
    _, y = load_digits(return_X_y=True)
    assert len(target.y_test) == int(np.sum(y >= 5)) - 75
    assert target.classes == (5, 6, 7, 8, 9) and target.num_classes == 5 and target.image_shape == (1, 16, 16)
    again = data.digits_target(shots=5, val_shots=10, seed=1)
    assert np.array_equal(again.X_train, target.X_train)
    assert not np.array_equal(data.digits_target(shots=5, val_shots=10, seed=2).X_train, target.X_train)


def test_distort_is_seeded_and_without_distortion_is_the_identity():
    X, _ = load_digits(return_X_y=True)
    clean = ((X[:20] - data.PIXEL_MEAN) / data.PIXEL_STD).astype(np.float32).reshape(-1, 1, 8, 8)
    same = data.distort(clean, size=8, rotation=0, shift=0, scale=0, noise=0)
    np.testing.assert_allclose(same, clean, atol=1e-5)
    a, b = data.distort(clean, seed=4), data.distort(clean, seed=4)
    assert np.array_equal(a, b) and a.shape == (20, 1, 16, 16)
    assert not np.array_equal(a, data.distort(clean, seed=5))
    # a rotated image keeps its background where no ink lands: the corners stay at the background level
    turned = data.distort(clean, size=16, rotation=45, shift=0, scale=0, noise=0)
    np.testing.assert_allclose(turned[:, 0, 0, 0], -data.PIXEL_MEAN / data.PIXEL_STD, atol=1e-5)
    with pytest.raises(ValueError, match=r"images must have shape \(N, 1, height, width\)"):
        data.distort(clean[:, 0])


def test_target_task_rejects_shots_that_leave_no_test_images():
    with pytest.raises(ValueError, match="shots \\+ val_shots must leave test images"):
        data.digits_target(shots=170, val_shots=10)
    with pytest.raises(ValueError, match="shots must be >= 1"):
        data.digits_target(shots=0)


# --------------------------------------------------------------------------- CIFAR-10, on archives the tests write

def _write_cifar(tmp_path, per_batch=4, payload=None):
    """A small archive in CIFAR-10's python format: 5 training batches, a test batch, batches.meta."""
    import hashlib
    import io
    import pickle
    import tarfile

    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batches[name] = {b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                         b"labels": [int(v) for v in rng.integers(0, 10, per_batch)], b"batch_label": name.encode()}
    if payload is not None:
        batches["data_batch_1"] = payload
    path = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, content in list(batches.items()) + [("batches.meta", {b"label_names": [b"airplane"]})]:
            raw = content if isinstance(content, bytes) else pickle.dumps(content, protocol=2)
            # name the array rebuilder as CIFAR's own files (NumPy 1, Python 2) do
            raw = raw.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))
    return path, hashlib.md5(path.read_bytes()).hexdigest(), batches


def test_cifar10_reads_a_verified_archive_in_cifars_layout(tmp_path):
    path, md5, batches = _write_cifar(tmp_path)
    split = data.cifar10(root=tmp_path, md5=md5, val_size=5, seed=0)
    assert (len(split.y_train), len(split.y_val), len(split.y_test)) == (15, 5, 4)
    assert split.image_shape == (3, 32, 32) and split.X_train.dtype == np.float32 and split.num_classes == 10
    train_all = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    # each row is the red plane, then green, then blue, 32x32 each, row-major
    first_test = batches["test_batch"][b"data"][0].reshape(3, 32, 32).astype(np.float32) / 255
    order = np.random.default_rng(0).permutation(20)
    train = np.sort(order[5:])
    mean = (train_all[train].reshape(-1, 3, 1024) / 255.0).mean(axis=(0, 2))
    std = (train_all[train].reshape(-1, 3, 1024) / 255.0).std(axis=(0, 2))
    np.testing.assert_allclose(split.X_test[0], (first_test - mean[:, None, None]) / std[:, None, None], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_array_equal(split.y_test, batches["test_batch"][b"labels"])
    np.testing.assert_allclose(split.X_train.mean(axis=(0, 2, 3)), 0, atol=1e-5)


def test_cifar10_refuses_a_damaged_archive_and_says_what_to_do(tmp_path):
    path, md5, _ = _write_cifar(tmp_path)
    with pytest.raises(RuntimeError, match="has MD5 .* expected c58f30108f718f92721af3b95e74349a"):
        data.cifar10(root=tmp_path)  # the published checksum: this small archive is not CIFAR-10
    with pytest.raises(FileNotFoundError, match="pass download=True"):
        data.cifar10(root=tmp_path / "empty")


def test_cifar10_downloads_then_verifies(tmp_path, monkeypatch):
    import shutil
    import urllib.request

    source, md5, _ = _write_cifar(tmp_path)
    calls = []

    def fake_urlretrieve(url, filename):
        calls.append(url)
        shutil.copy(source, filename)

    monkeypatch.setattr(urllib.request, "urlretrieve", fake_urlretrieve)
    root = tmp_path / "cache"
    split = data.cifar10(root=root, download=True, md5=md5, val_size=2)
    assert calls == [data.CIFAR10_URL] and (root / "cifar-10-python.tar.gz").exists() and len(split.y_test) == 4
    with pytest.raises(RuntimeError, match="does not have the published MD5"):
        data.cifar10(root=tmp_path / "other", download=True)  # published MD5: the fake download is refused
    assert not any((tmp_path / "other").iterdir())  # nothing half-downloaded is kept


def test_cifar10_batches_cannot_run_code(tmp_path):
    import os
    import pickle

    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path, md5, _ = _write_cifar(tmp_path, payload=pickle.dumps({b"data": Exploit()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="refusing posix.system|refusing os.system|refusing nt.system"):
        data.cifar10(root=tmp_path, md5=md5, val_size=2)
