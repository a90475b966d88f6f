"""Datasets for the course, all offline.

:func:`digits` is scikit-learn's copy of the UCI handwritten digits (1,797
8x8 grey-scale images of the digits 0-9, shipped inside scikit-learn, so
nothing is downloaded), split into stratified train and validation sets and
standardized with the training set's statistics.

>>> split = digits()
>>> split.X_train.shape, split.X_val.shape, split.num_classes
((1347, 64), (450, 64), 10)

:func:`diabetes` is scikit-learn's diabetes regression data (442 patients,
10 features, disease progression after one year; also shipped offline).

>>> diabetes()
Split('diabetes': 331 train, 111 validation, 10 features, regression)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_float, integer
from .i18n import gettext_ as _

__all__ = ["Split", "digits", "diabetes", "ImageSplit", "digits_source", "digits_target", "PIXEL_MEAN", "PIXEL_STD",
           "cifar10", "CIFAR10_URL", "CIFAR10_MD5"]


@dataclass(frozen=True)
class Split:
    """Features and targets of a train/validation split (float64 features).

    ``task`` is ``"classification"`` (int64 class labels) or ``"regression"``
    (float64 targets).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    name: str = ""
    task: str = "classification"

    @property
    def num_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def num_classes(self) -> int:
        if self.task == "regression":
            raise ValueError(_("{name!r} is a regression split: it has no classes").format(name=self.name))
        return int(max(self.y_train.max(), self.y_val.max()) + 1)

    def __repr__(self) -> str:
        what = _("regression") if self.task == "regression" else _("{count} classes").format(count=self.num_classes)
        return _("Split({name}: {train} train, {val} validation, {features} features, {what})").format(
            name=repr(self.name), train=len(self.y_train), val=len(self.y_val), features=self.num_features, what=what)


def digits(val_fraction: float = 0.25, seed: int = 0) -> Split:
    """The handwritten-digits dataset, split (stratified) and standardized.

    ``val_fraction`` of the 1,797 images go to the validation set; ``seed``
    fixes the split. Features are centred and scaled with the *training* mean
    and standard deviation (pixels that are constant in the training set are
    only centred), so no validation information leaks into training.
    """
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = _split(X, y.astype(np.int64), val_fraction, seed, stratify=True)
    return Split(X_train, y_train, X_val, y_val, name="digits")


def diabetes(val_fraction: float = 0.25, seed: int = 0) -> Split:
    """The diabetes regression dataset (442 patients, 10 features), split and standardized.

    Features *and* the target are standardized with the training set's
    statistics, so a mean-squared error of 1.0 is what predicting the training
    mean gives, and ``1 - mse`` is close to the validation R².
    """
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X_train, X_val, y_train, y_val = _split(X, y.astype(np.float64), val_fraction, seed, stratify=False)
    mean, std = y_train.mean(), y_train.std()
    return Split(X_train, (y_train - mean) / std, X_val, (y_val - mean) / std, name="diabetes", task="regression")


def _split(X, y, val_fraction, seed, stratify: bool):
    """Train/validation split with features standardized by the training statistics."""
    from sklearn.model_selection import train_test_split

    val_fraction = as_float("val_fraction", val_fraction)
    if not 0 < val_fraction < 1:
        raise ValueError(_("val_fraction must be in (0, 1), got {val_fraction!r}").format(val_fraction=val_fraction))
    seed = integer("seed", seed, minimum=0)
    X_train, X_val, y_train, y_val = train_test_split(
        X.astype(np.float64), y, test_size=val_fraction, random_state=seed, stratify=y if stratify else None)
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std[std == 0] = 1.0
    return (X_train - mean) / std, (X_val - mean) / std, y_train, y_val


# --------------------------------------------------------------------------- images (notebook 06)

#: Mean and standard deviation of a digit pixel (0-16 grey levels) over the source task's training
#: images (digits 0-4, seed 0). Every image task uses them, as ImageNet models use ImageNet's.
PIXEL_MEAN = 4.8711
PIXEL_STD = 6.0433


@dataclass(frozen=True)
class ImageSplit:
    """Images ``(N, channels, height, width)`` as float32 and labels ``0 .. num_classes - 1`` as int64,
    in train, validation and test parts. ``classes`` names the original label of each class."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str = ""
    classes: tuple = ()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple:
        return tuple(self.X_train.shape[1:])

    def __repr__(self) -> str:
        return _("ImageSplit({name}: {train} train, {val} validation, {test} test images of shape {shape}, "
                 "{classes} classes)").format(name=repr(self.name), train=len(self.y_train), val=len(self.y_val),
                                              test=len(self.y_test), shape=self.image_shape, classes=self.num_classes)


def _digit_images(digits_wanted: tuple) -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 digit images of the given digits, normalised, as (N, 1, 8, 8) float32; labels 0..k-1."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, digits_wanted)
    images = ((X[keep] - PIXEL_MEAN) / PIXEL_STD).astype(np.float32).reshape(-1, 1, 8, 8)
    labels = np.searchsorted(np.array(digits_wanted), y[keep]).astype(np.int64)
    return images, labels


#: Background (a 0 grey level) after normalisation: what a distorted image is padded with.
_BACKGROUND = -PIXEL_MEAN / PIXEL_STD


def distort(images: np.ndarray, seed: int = 0, size: int = 16, rotation: float = 20.0, shift: float = 0.15,
            scale: float = 0.1, noise: float = 0.3) -> np.ndarray:
    """Random affine distortions of normalised 8x8 digits, resampled to ``size`` x ``size``, plus noise.

    Each image is rotated by up to ``rotation`` degrees, scaled by up to
    ``scale`` (a fraction), shifted by up to ``shift`` (a fraction of the
    image), resampled bilinearly (``torch.nn.functional.grid_sample``),
    padded with the background, and gets Gaussian noise of standard
    deviation ``noise``. Seeded: the same ``seed`` gives the same images.
    This is what makes notebook 06's tasks need *features*: recognising a
    digit whatever its pose takes more than a few examples to learn.
    """
    import math

    import torch
    from torch.nn import functional as F

    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(_("images must have shape (N, 1, height, width), got {shape}").format(shape=tuple(x.shape)))
    size = integer("size", size, minimum=1)
    g = torch.Generator().manual_seed(integer("seed", seed, minimum=0))
    n = x.shape[0]

    def uniform(bound: float):
        return (torch.rand(n, generator=g) * 2 - 1) * bound

    angle, zoom = uniform(rotation * math.pi / 180), 1 + uniform(scale)
    tx, ty = uniform(shift), uniform(shift)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, [n, 1, size, size], align_corners=False)
    out = F.grid_sample(x - _BACKGROUND, grid, align_corners=False, padding_mode="zeros") + _BACKGROUND
    return (out + noise * torch.randn(out.shape, generator=g)).numpy()


def _distorted_split(images, labels, parts: dict, seed: int, name: str, classes: tuple, copies: int = 1):
    """An ImageSplit of distorted copies of ``images[parts[...]]``; each part gets its own seed."""
    def take(key: str, offset: int, n_copies: int = 1):
        idx = np.tile(parts[key], n_copies)
        return distort(images[idx], seed=seed * 10 + offset), labels[idx]

    X_train, y_train = take("train", 1, copies)
    X_val, y_val = take("val", 2)
    X_test, y_test = take("test", 3)
    return ImageSplit(X_train, y_train, X_val, y_val, X_test, y_test, name, classes)


def digits_source(seed: int = 0, copies: int = 1) -> ImageSplit:
    """The source task of notebook 06: the digits 0-4, distorted (:func:`distort`), as 16x16 images.

    The images are split 60/20/20 % into train, validation and test
    (stratified, seeded); ``copies`` distorted versions of each training
    image make a larger training set. The shipped pretrained CNN was trained
    on this task (``scripts/pretrain_digits.py``).

    >>> digits_source()
    ImageSplit('digits 0-4': 540 train, 180 validation, 181 test images of shape (1, 16, 16), 5 classes)
    """
    from sklearn.model_selection import train_test_split

    seed = integer("seed", seed, minimum=0)
    copies = integer("copies", copies, minimum=1)
    images, labels = _digit_images((0, 1, 2, 3, 4))
    index = np.arange(len(labels))
    train, rest = train_test_split(index, test_size=0.4, random_state=seed, stratify=labels)
    val, test = train_test_split(rest, test_size=0.5, random_state=seed, stratify=labels[rest])
    parts = {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}
    return _distorted_split(images, labels, parts, seed, "digits 0-4", (0, 1, 2, 3, 4), copies)


def digits_target(shots: int = 10, val_shots: int = 10, seed: int = 0) -> ImageSplit:
    """The few-shot target task of notebook 06: the digits 5-9, relabelled 0-4, distorted as the source.

    ``shots`` training and ``val_shots`` validation images per class, drawn
    with ``seed``; every other image of 5-9 is the test set (about 800), so
    test accuracies are precise even when training is few-shot.

    >>> digits_target()
    ImageSplit('digits 5-9, 10-shot': 50 train, 50 validation, 796 test images of shape (1, 16, 16), 5 classes)
    """
    shots = integer("shots", shots, minimum=1)
    val_shots = integer("val_shots", val_shots, minimum=1)
    seed = integer("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    images, labels = _digit_images((5, 6, 7, 8, 9))
    parts: dict = {"train": [], "val": [], "test": []}
    for c in range(5):
        idx = rng.permutation(np.flatnonzero(labels == c))
        if len(idx) <= shots + val_shots:
            raise ValueError(_("shots + val_shots must leave test images: class {c} has {n_idx} images, got "
                               "shots={shots}, val_shots={val_shots}").format(
                c=c + 5, n_idx=len(idx), shots=shots, val_shots=val_shots))
        parts["train"].append(idx[:shots])
        parts["val"].append(idx[shots:shots + val_shots])
        parts["test"].append(idx[shots + val_shots:])
    parts = {k: np.sort(np.concatenate(v)) for k, v in parts.items()}
    # other seeds than the source's (1000 + seed): no image shares its distortion with a source image
    return _distorted_split(images, labels, parts, 1000 + seed, f"digits 5-9, {shots}-shot", (5, 6, 7, 8, 9))


# --------------------------------------------------------------------------- CIFAR-10 (online machines)

#: The CIFAR-10 archive (python version) and its published MD5 (Krizhevsky, 2009).
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
_CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _md5(path) -> str:
    import hashlib

    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _restricted_unpickler():
    import pickle

    # CIFAR's files were written by Python 2 with NumPy 1 ("numpy.core"); NumPy 2 keeps the function in
    # "numpy._core". _codecs.encode is how Python 3's protocol-2 pickles store bytes: harmless.
    allowed = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"), ("_codecs", "encode")}

    class CifarUnpickler(pickle.Unpickler):
        """Loads CIFAR's batch files and nothing else: only NumPy arrays may be rebuilt."""

        def find_class(self, module: str, name: str):
            if (module, name) not in allowed:
                raise pickle.UnpicklingError(f"CIFAR batch files hold only arrays and lists; refusing {module}.{name}")
            if module == "numpy.core.multiarray" and hasattr(np, "_core"):
                module = "numpy._core.multiarray"
            return super().find_class(module, name)

    return CifarUnpickler


def _read_batch(archive, name: str) -> tuple[np.ndarray, np.ndarray]:
    member = archive.extractfile(f"cifar-10-batches-py/{name}")
    if member is None:
        raise ValueError(_("the archive has no cifar-10-batches-py/{name}: is it CIFAR-10's python version?").format(
            name=name))
    batch = _restricted_unpickler()(member, encoding="bytes").load()
    images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)  # rows are R, G, B planes
    return images, np.asarray(batch[b"labels"], dtype=np.int64)


def cifar10(root: str | None = None, download: bool = False, val_size: int = 5000, seed: int = 0,
            md5: str = CIFAR10_MD5, url: str = CIFAR10_URL) -> ImageSplit:
    """CIFAR-10 (60,000 32x32 colour images, 10 classes) from its published archive, checksum verified.

    The archive ``cifar-10-python.tar.gz`` is looked for in ``root``
    (default ``~/.cache/lrcourse``). With ``download=True`` a missing archive
    is downloaded there first (online machines only). Its MD5 must equal
    ``md5`` (the published one) before anything is read, and the batch files
    are read straight from the archive with an unpickler that rebuilds only
    NumPy arrays, so a tampered file cannot run code. ``val_size`` training
    images (seeded) become the validation set; the 10,000 test images are the
    test set. Images are float32 ``(N, 3, 32, 32)``, normalised per channel
    with the training images' mean and standard deviation.
    """
    import tarfile
    from pathlib import Path

    folder = Path(root).expanduser() if root is not None else Path.home() / ".cache" / "lrcourse"
    val_size = integer("val_size", val_size, minimum=1)
    rng = np.random.default_rng(integer("seed", seed, minimum=0))
    path = folder / "cifar-10-python.tar.gz"
    if not path.exists():
        if not download:
            raise FileNotFoundError(_("{path} is missing: pass download=True on a machine with internet access, or "
                                      "copy the archive from {url} there").format(
                path=path, url=url))
        import urllib.request

        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        try:
            urllib.request.urlretrieve(url, partial)
        except Exception as err:
            partial.unlink(missing_ok=True)
            raise RuntimeError(_("could not download {url} ({type}: {err})").format(
                url=url, type=type(err).__name__, err=err)) from err
        if _md5(partial) != md5:
            partial.unlink()
            raise RuntimeError(_("the download from {url} does not have the published MD5 {md5}; nothing "
                                 "was kept").format(
                url=url, md5=md5))
        partial.rename(path)
    found = _md5(path)
    if found != md5:
        raise RuntimeError(_("{path} has MD5 {found}, expected {md5}: the archive is damaged or not CIFAR-10's. "
                             "Delete it and download it again.").format(
            path=path, found=found, md5=md5))
    with tarfile.open(path, "r:gz") as archive:
        parts = [_read_batch(archive, f"data_batch_{i}") for i in range(1, 6)]
        X_test_u8, y_test = _read_batch(archive, "test_batch")
    X_all = np.concatenate([p[0] for p in parts])
    y_all = np.concatenate([p[1] for p in parts])
    if val_size >= len(y_all):
        raise ValueError(_("val_size must be smaller than the {n_y_all} training images, got {val_size}").format(
            n_y_all=len(y_all), val_size=val_size))
    order = rng.permutation(len(y_all))
    val, train = np.sort(order[:val_size]), np.sort(order[val_size:])
    pixels = X_all[train].astype(np.float32) / 255.0
    mean = pixels.mean(axis=(0, 2, 3), keepdims=True)
    std = pixels.std(axis=(0, 2, 3), keepdims=True)

    def norm(images: np.ndarray) -> np.ndarray:
        return ((images.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)

    return ImageSplit(norm(X_all[train]), y_all[train], norm(X_all[val]), y_all[val], norm(X_test_u8), y_test,
                      "CIFAR-10", _CIFAR_CLASSES)
