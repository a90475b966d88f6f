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

__all__ = ["Split", "digits", "diabetes"]


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
