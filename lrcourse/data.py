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

__all__ = ["Split", "digits", "diabetes", "ImageSplit", "digits_source", "digits_target", "PIXEL_MEAN", "PIXEL_STD"]


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
            raise ValueError(f"{self.name!r} is a regression split: it has no classes")
        return int(max(self.y_train.max(), self.y_val.max()) + 1)

    def __repr__(self) -> str:
        what = "regression" if self.task == "regression" else f"{self.num_classes} classes"
        return (f"Split({self.name!r}: {len(self.y_train)} train, {len(self.y_val)} validation, "
                f"{self.num_features} features, {what})")


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
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
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
        return (f"ImageSplit({self.name!r}: {len(self.y_train)} train, {len(self.y_val)} validation, "
                f"{len(self.y_test)} test images of shape {self.image_shape}, {self.num_classes} classes)")


def _digit_images(digits_wanted: tuple) -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 digit images of the given digits, normalised, as (N, 1, 8, 8) float32; labels 0..k-1."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, digits_wanted)
    images = ((X[keep] - PIXEL_MEAN) / PIXEL_STD).astype(np.float32).reshape(-1, 1, 8, 8)
    labels = np.searchsorted(np.array(digits_wanted), y[keep]).astype(np.int64)
    return images, labels


def digits_source(seed: int = 0) -> ImageSplit:
    """The source task of notebook 06: the digits 0-4 as 8x8 images, 60/20/20 % train/validation/test.

    The split is stratified and seeded. This is the task the shipped
    pretrained CNN was trained on (``scripts/pretrain_digits.py``).

    >>> digits_source()
    ImageSplit('digits 0-4': 540 train, 180 validation, 181 test images of shape (1, 8, 8), 5 classes)
    """
    from sklearn.model_selection import train_test_split

    seed = integer("seed", seed, minimum=0)
    images, labels = _digit_images((0, 1, 2, 3, 4))
    X_train, X_rest, y_train, y_rest = train_test_split(images, labels, test_size=0.4, random_state=seed,
                                                        stratify=labels)
    X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest, test_size=0.5, random_state=seed,
                                                    stratify=y_rest)
    return ImageSplit(X_train, y_train, X_val, y_val, X_test, y_test, "digits 0-4", (0, 1, 2, 3, 4))


def digits_target(shots: int = 10, val_shots: int = 10, seed: int = 0) -> ImageSplit:
    """The few-shot target task of notebook 06: the digits 5-9, relabelled 0-4.

    ``shots`` training and ``val_shots`` validation images per class, drawn
    with ``seed``; every other image of 5-9 is the test set (about 800), so
    test accuracies are precise even when training is few-shot.

    >>> digits_target()
    ImageSplit('digits 5-9, 10-shot': 50 train, 50 validation, 796 test images of shape (1, 8, 8), 5 classes)
    """
    shots = integer("shots", shots, minimum=1)
    val_shots = integer("val_shots", val_shots, minimum=1)
    rng = np.random.default_rng(integer("seed", seed, minimum=0))
    images, labels = _digit_images((5, 6, 7, 8, 9))
    parts: dict = {"train": [], "val": [], "test": []}
    for c in range(5):
        idx = rng.permutation(np.flatnonzero(labels == c))
        if len(idx) <= shots + val_shots:
            raise ValueError(f"shots + val_shots must leave test images: class {c + 5} has {len(idx)} images, "
                             f"got shots={shots}, val_shots={val_shots}")
        parts["train"].append(idx[:shots])
        parts["val"].append(idx[shots:shots + val_shots])
        parts["test"].append(idx[shots + val_shots:])
    train, val, test = (np.sort(np.concatenate(parts[k])) for k in ("train", "val", "test"))
    return ImageSplit(images[train], labels[train], images[val], labels[val], images[test], labels[test],
                      f"digits 5-9, {shots}-shot", (5, 6, 7, 8, 9))
