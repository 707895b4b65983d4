"""Classical anomaly detectors under the same protocol as the networks (higher = more anomalous).

Each is fitted on the normal training rows of a split and scores any rows. Settings are
scikit-learn's defaults except where stated; none is tuned on test data:

* PCA: reconstruction error from the principal components that keep 90 % of the
  training variance;
* IsolationForest: 100 trees of 256 rows (Liu et al. 2008's defaults);
* OneClassSVM: RBF kernel, gamma "scale", ν = 0.05, fitted on at most `max_rows` rows
  (its cost grows with the square of the rows);
* GaussianMixture: K full-covariance components with 1e-3 added to the diagonal
  (features lie in [0, 1] and the one-hot columns make the covariances singular), fitted
  by EM on at most `max_rows` rows.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.mixture import GaussianMixture
from sklearn.svm import OneClassSVM

PCA_VARIANCE = 0.9
OCSVM_NU = 0.05
GMM_REG_COVAR = 1e-3


def _pca(train: np.ndarray, components: int, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    pca = PCA(n_components=PCA_VARIANCE, svd_solver="full").fit(train)
    return lambda x: ((x - pca.inverse_transform(pca.transform(x))) ** 2).sum(axis=1)


def _isolation_forest(train: np.ndarray, components: int, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    forest = IsolationForest(random_state=seed).fit(train)
    return lambda x: -forest.score_samples(x)


def _one_class_svm(train: np.ndarray, components: int, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    svm = OneClassSVM(nu=OCSVM_NU, gamma="scale").fit(train)
    return lambda x: -svm.score_samples(x)


def _gaussian_mixture(train: np.ndarray, components: int, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    gmm = GaussianMixture(components, covariance_type="full", reg_covar=GMM_REG_COVAR, random_state=seed).fit(train)
    return lambda x: -gmm.score_samples(x)


FITTERS = {"PCA": _pca, "IsolationForest": _isolation_forest, "OneClassSVM": _one_class_svm,
           "GaussianMixture": _gaussian_mixture}
SUBSAMPLED = ("OneClassSVM", "GaussianMixture")
NAMES = tuple(FITTERS)


def fit_and_score(name: str, train: np.ndarray, rows: np.ndarray, *, components: int, seed: int,
                  max_rows: int) -> np.ndarray:
    """Fit baseline `name` on `train` (normal rows) and return the anomaly score of each of `rows`.

    OneClassSVM and GaussianMixture see a random `max_rows` of the training rows when there
    are more (drawn with `seed`)."""
    if name not in FITTERS:
        raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(NAMES)}.")
    if name in SUBSAMPLED and len(train) > max_rows:
        train = train[np.sort(np.random.default_rng(seed).choice(len(train), max_rows, replace=False))]
    score = FITTERS[name](np.asarray(train, dtype=np.float64), components, seed)
    return np.asarray(score(np.asarray(rows, dtype=np.float64)), dtype=np.float64)
