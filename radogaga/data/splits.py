"""Protocol splits, training on normal rows only: a seeded random half of all rows for the
test set (`paper_split`, ours), or half of each class (`stratified_split`), which the
paper's own precision/recall ratios point to."""

from __future__ import annotations

import numpy as np


def _checked(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or len(y) < 2:
        raise ValueError(f"y must be a 1-D label array with at least 2 rows, got shape {y.shape}.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y must hold 0 (normal) and 1 (anomaly) only.")
    return y


def stratified_split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (train, test): of each class a seeded random half, rounded down, is the
    test set; the rest of the normal rows train. So every seed's test set holds the same
    number of anomalies and of normal rows."""
    y = _checked(y)
    rng = np.random.default_rng(seed)
    test, train = [], []
    for label in (0, 1):
        rows = rng.permutation(np.flatnonzero(y == label))
        test.append(rows[:len(rows) // 2])
        if label == 0:
            train.append(rows[len(rows) // 2:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def paper_split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (train, test): a random half of the rows for training, of which
    only the normal ones (y == 0) are kept; the other half, all rows, for testing."""
    y = _checked(y)
    order = np.random.default_rng(seed).permutation(len(y))
    half = len(y) // 2
    train, test = np.sort(order[:half]), np.sort(order[half:])
    return train[y[train] == 0], test
