"""Comparing learned latent axes with reference axes (PCA, independent sources), and the
entropy bookkeeping of Appendix B: total correlation, marginal entropies and energy
compaction."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment


class AxisMatch(NamedTuple):
    """`reference[order[i]]` is the axis matched to direction i; `cosines[i]` its |cosine|."""

    order: np.ndarray
    cosines: np.ndarray


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row of `vectors` (k, D) divided by its Euclidean norm."""
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def abs_cosines(directions: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """|cosine| between every row of `directions` (k, D) and every row of `reference` (r, D): (k, r)."""
    return np.abs(unit_rows(directions) @ unit_rows(reference).T)


def match_axes(directions: np.ndarray, reference: np.ndarray) -> AxisMatch:
    """Pair each direction with a distinct reference axis so that the summed |cosine| is
    largest (the Hungarian assignment); signs are ignored, as an axis has no orientation."""
    cosines = abs_cosines(directions, reference)
    rows, columns = linear_sum_assignment(cosines, maximize=True)
    order = columns[np.argsort(rows)]
    return AxisMatch(order, cosines[np.arange(len(order)), order])


def gaussian_total_correlation(covariance: np.ndarray) -> float:
    """Total correlation of a Gaussian with this covariance, in nats:
    sum_i ½ log Σ_ii − ½ log det Σ (zero exactly when Σ is diagonal)."""
    covariance = np.asarray(covariance, dtype=np.float64)
    _, log_det = np.linalg.slogdet(covariance)
    return float(0.5 * (np.log(np.diag(covariance)).sum() - log_det))


def cumulative_share(variances: np.ndarray) -> np.ndarray:
    """Share of the total variance held by the k largest components, k = 1 .. len."""
    ordered = np.sort(np.asarray(variances, dtype=np.float64))[::-1]
    return np.cumsum(ordered) / ordered.sum()


def marginal_entropy(values: np.ndarray, bin_width: float = 1.0) -> float:
    """Plug-in entropy in nats of `values` (n,) quantised to bins of `bin_width`.

    With unit bins this is the rate of an integer-quantised latent, and approximates the
    differential entropy h(z + u), u ~ U(-1/2, 1/2), that the factorized prior pays.
    """
    bins = np.floor(np.asarray(values) / bin_width).astype(np.int64)
    counts = np.bincount(bins - bins.min())
    p = counts[counts > 0] / len(bins)
    return float(-(p * np.log(p)).sum())


def plane_angle(direction: np.ndarray, first: np.ndarray, second: np.ndarray) -> float:
    """Angle in degrees, in [0, 90), of `direction` projected on the plane of the orthonormal
    axes `first` and `second`, measured from `first`; an axis and its perpendicular in the
    plane give the same angle (a basis of the plane is defined up to swaps and signs)."""
    return float(np.degrees(np.arctan2(direction @ second, direction @ first)) % 90.0)
