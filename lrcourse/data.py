"""Datasets for the course, all offline.

:func:`digits` is scikit-learn's copy of the UCI handwritten digits (1,797
8x8 grey-scale images of the digits 0-9, shipped inside scikit-learn, so
nothing is downloaded), split into stratified train and validation sets and
standardized with the training set's statistics.

>>> split = digits()
>>> split.X_train.shape, split.X_val.shape, split.num_classes
((1347, 64), (450, 64), 10)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_float, integer

__all__ = ["Split", "digits"]


@dataclass(frozen=True)
class Split:
    """Features and labels of a train/validation split (float64 features, int64 labels)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    name: str = ""

    @property
    def num_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_val.max()) + 1)

    def __repr__(self) -> str:
        return (f"Split({self.name!r}: {len(self.y_train)} train, {len(self.y_val)} validation, "
                f"{self.num_features} features, {self.num_classes} classes)")


def digits(val_fraction: float = 0.25, seed: int = 0) -> Split:
    """The handwritten-digits dataset, split (stratified) and standardized.

    ``val_fraction`` of the 1,797 images go to the validation set; ``seed``
    fixes the split. Features are centred and scaled with the *training* mean
    and standard deviation (pixels that are constant in the training set are
    only centred), so no validation information leaks into training.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    val_fraction = as_float("val_fraction", val_fraction)
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    seed = integer("seed", seed, minimum=0)
    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(
        X.astype(np.float64), y.astype(np.int64), test_size=val_fraction, random_state=seed, stratify=y)
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std[std == 0] = 1.0
    return Split((X_train - mean) / std, y_train, (X_val - mean) / std, y_val, name="digits")
