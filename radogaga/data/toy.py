"""The paper's toy data (Sec. 4.1): a 3-component Gaussian mixture in 3-D lifted to
16-D by an orthonormal map, from our generator or from the authors' `toy.csv`."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.linalg import orthogonal_procrustes
from scipy.special import logsumexp

from radogaga.data.dataset import Dataset, DatasetMeta
from radogaga.data.fetch import DataError, locate
from radogaga.data.registry import TOY_OFFICIAL

TOY_MEANS = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [10.0, 10.0, 10.0]])
TOY_VARIANCES = np.array([1.0, 2.0, 4.0])
TOY_INPUT_DIM = 16
SCALES = ("global_minmax", "none")


def toy_log_density(source: np.ndarray) -> np.ndarray:
    """Log of the true mixture density of 3-D source points (weights 1/3, covariances v_k I)."""
    squared = ((source[:, None, :] - TOY_MEANS[None]) ** 2).sum(-1)
    dim = source.shape[1]
    log_parts = -0.5 * squared / TOY_VARIANCES - 0.5 * dim * np.log(2 * np.pi * TOY_VARIANCES)
    return logsumexp(log_parts, axis=1) - np.log(len(TOY_VARIANCES))


def align_to_recipe(points: np.ndarray, component: np.ndarray) -> np.ndarray:
    """Move 3-D points by the rigid motion (rotation, reflection, shift) that best maps
    their component means onto the recipe's means."""
    centres = np.stack([points[component == k].mean(axis=0) for k in range(len(TOY_MEANS))])
    shift_from, shift_to = centres.mean(axis=0), TOY_MEANS.mean(axis=0)
    rotation, _ = orthogonal_procrustes(centres - shift_from, TOY_MEANS - shift_to)
    return (points - shift_from) @ rotation + shift_to


def _scale(x: np.ndarray, scale: str) -> tuple[np.ndarray, str]:
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r} is not known; choose one of {SCALES}.")
    if scale == "none":
        return x.astype(np.float32), "no scaling"
    low, high = x.min(), x.max()
    return ((x - low) / (high - low)).astype(np.float32), "global min-max to [0, 1] (one min, one max)"


def _toy_meta(name: str, X: np.ndarray, preprocessing: str, **fields) -> DatasetMeta:
    return DatasetMeta(name=name, shape=tuple(X.shape), n_anomalies=None, anomaly_ratio=None,
                       label_meaning="mixture component (0, 1, 2)", preprocessing=preprocessing,
                       **fields)


def load_toy(n: int = 10_000, seed: int = 0, scale: str = "global_minmax") -> Dataset:
    """Generate the toy data with the paper's recipe; `density` is the true density of
    the 3-D source point, `source` the source point itself."""
    if n < 3:
        raise ValueError(f"n={n} is too small: the toy data needs at least 3 points.")
    rng = np.random.default_rng(seed)
    component = np.arange(n) % 3
    rng.shuffle(component)
    source = TOY_MEANS[component] + rng.standard_normal((n, 3)) * np.sqrt(TOY_VARIANCES[component])[:, None]
    lift, _ = np.linalg.qr(rng.uniform(-0.5, 0.5, (TOY_INPUT_DIM, 3)))
    X, scaling = _scale(source @ lift.T, scale)
    return Dataset(X, component.astype(np.int64), _toy_meta(
        "toy", X, f"generated with seed {seed}: x = U s, U (16 x 3) orthonormal; {scaling}",
        source_url="generated (paper Sec. 4.1 recipe)", sha256="", credit="radogaga generator",
    ), extras={"density": np.exp(toy_log_density(source)), "source": source, "lift": lift})


def load_toy_official(path=None, scale: str = "global_minmax") -> Dataset:
    """The authors' released toy.csv (10,000 x 18: 16 inputs, true density, label).

    `source` holds the 3-D source points recovered from x: coordinates in its 3-D row
    space (found by SVD), moved rigidly so the component means sit on the recipe's."""
    file, digest = locate(TOY_OFFICIAL, path)
    try:
        table = pd.read_csv(file, header=None).to_numpy(np.float64)
    except (ValueError, pd.errors.ParserError) as error:
        raise DataError(f"{file} could not be parsed as the toy CSV: {error}") from error
    if table.ndim != 2 or table.shape[1] != TOY_INPUT_DIM + 2:
        raise DataError(f"{file} has shape {table.shape}, expected (N, {TOY_INPUT_DIM + 2}).")
    raw = table[:, :TOY_INPUT_DIM]
    _, _, rows = np.linalg.svd(raw, full_matrices=False)
    X, scaling = _scale(raw, scale)
    component = table[:, -1].astype(np.int64)
    return Dataset(X, component, _toy_meta(
        "toy_official", X, f"authors' toy.csv columns 1-16; {scaling}",
        source_url=TOY_OFFICIAL.url, sha256=digest, credit=TOY_OFFICIAL.credit,
    ), extras={"density": table[:, TOY_INPUT_DIM], "source": align_to_recipe(raw @ rows[:3].T, component)})
