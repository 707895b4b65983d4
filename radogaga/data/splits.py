"""The paper's protocol split: a seeded random 50/50 split, training on normal rows only."""

from __future__ import annotations

import numpy as np


def paper_split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (train, test): a random half of the rows for training, of which
    only the normal ones (y == 0) are kept; the other half, all rows, for testing."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) < 2:
        raise ValueError(f"y must be a 1-D label array with at least 2 rows, got shape {y.shape}.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y must hold 0 (normal) and 1 (anomaly) only.")
    order = np.random.default_rng(seed).permutation(len(y))
    half = len(y) // 2
    train, test = np.sort(order[:half]), np.sort(order[half:])
    return train[y[train] == 0], test
