"""Notebook 06's offline image tasks: the source (digits 0-4) and the few-shot target (digits 5-9)."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from lrcourse import data


def test_source_task_is_digits_0_to_4_split_60_20_20_stratified_and_normalised():
    split = data.digits_source(seed=0)
    X, y = load_digits(return_X_y=True)
    assert len(split.y_train) + len(split.y_val) + len(split.y_test) == int(np.sum(y < 5))
    assert (len(split.y_train), len(split.y_val), len(split.y_test)) == (540, 180, 181)
    assert split.X_train.dtype == np.float32 and split.X_train.shape[1:] == (1, 8, 8)
    assert split.classes == (0, 1, 2, 3, 4) and set(split.y_test) == {0, 1, 2, 3, 4}
    for part in (split.y_train, split.y_val, split.y_test):
        np.testing.assert_allclose(np.bincount(part) / len(part), np.bincount(y[y < 5]) / np.sum(y < 5), atol=0.02)
    # the shared pixel statistics are the source training set's
    raw = split.X_train * data.PIXEL_STD + data.PIXEL_MEAN
    assert abs(raw.mean() - data.PIXEL_MEAN) < 1e-3 and abs(raw.std() - data.PIXEL_STD) < 1e-3
    assert repr(split).startswith("ImageSplit('digits 0-4': 540 train")


def test_target_task_is_few_shot_digits_5_to_9_relabelled():
    target = data.digits_target(shots=5, val_shots=10, seed=1)
    assert np.array_equal(np.bincount(target.y_train), [5] * 5)
    assert np.array_equal(np.bincount(target.y_val), [10] * 5)
    _, y = load_digits(return_X_y=True)
    assert len(target.y_test) == int(np.sum(y >= 5)) - 75
    assert target.classes == (5, 6, 7, 8, 9) and target.num_classes == 5
    again = data.digits_target(shots=5, val_shots=10, seed=1)
    assert np.array_equal(again.X_train, target.X_train)
    assert not np.array_equal(data.digits_target(shots=5, val_shots=10, seed=2).X_train, target.X_train)
    source_rows = {x.tobytes() for x in data.digits_source().X_train}
    assert not source_rows & {x.tobytes() for x in target.X_test}  # other digits: no image in common


def test_target_task_rejects_shots_that_leave_no_test_images():
    with pytest.raises(ValueError, match="shots \\+ val_shots must leave test images"):
        data.digits_target(shots=170, val_shots=10)
    with pytest.raises(ValueError, match="shots must be >= 1"):
        data.digits_target(shots=0)
