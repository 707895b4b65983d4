"""Rate-distortion of a Gaussian source and its transform coding (the background of the
paper's cost, Eq. 4): reverse water-filling, the Karhunen-Loeve basis, and an
entropy-coded uniform scalar quantiser with its additive-uniform-noise relaxation.

Conventions: rates in nats, distortions are squared errors summed over channels (the
mean over samples of the sum over channels), variances are the eigenvalues of the source
covariance.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def _variances(variances: np.ndarray) -> np.ndarray:
    lam = np.asarray(variances, dtype=float)
    if lam.ndim != 1 or lam.size == 0 or not np.all(lam > 0):
        raise ValueError("variances must be a non-empty 1-D array of positive numbers")
    return lam


def karhunen_loeve(covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and the orthonormal eigenvectors (columns) of a covariance."""
    eigenvalues, eigenvectors = np.linalg.eigh(np.asarray(covariance, dtype=float))
    order = np.argsort(eigenvalues)[::-1]
    return eigenvalues[order], eigenvectors[:, order]


def water_level(variances: np.ndarray, distortion: float) -> float:
    """The level θ with Σ_i min(θ, λ_i) = D, for a total distortion 0 < D <= Σ_i λ_i."""
    lam = np.sort(_variances(variances))
    if not 0 < distortion <= lam.sum() * (1 + 1e-12):
        raise ValueError(f"distortion={distortion!r} must lie in (0, sum of variances = {lam.sum()!r}]")
    n = lam.size
    below = np.concatenate([[0.0], np.cumsum(lam)[:-1]])  # Σ of the k smallest, k = 0..n-1
    levels = (distortion - below) / (n - np.arange(n))     # θ if exactly the k smallest are off
    lower = np.concatenate([[0.0], lam[:-1]])
    valid = (levels >= lower * (1 - 1e-12)) & (levels <= lam * (1 + 1e-12))
    return float(levels[np.argmax(valid)])


def reverse_water_filling(variances: np.ndarray, distortion: float) -> np.ndarray:
    """The optimal per-channel distortions D_i = min(θ, λ_i) for a total distortion D."""
    lam = _variances(variances)
    return np.minimum(water_level(lam, distortion), lam)


def gaussian_rate(variances: np.ndarray, distortions: np.ndarray) -> np.ndarray:
    """Per-channel rates max(0, ½ log(λ_i / D_i)) in nats of Gaussian channels."""
    lam = _variances(variances)
    return np.maximum(0.0, 0.5 * np.log(lam / np.asarray(distortions, dtype=float)))


def rate_distortion(variances: np.ndarray, distortion: float) -> float:
    """R(D) in nats of independent Gaussian channels with these variances (0 for D >= Σ λ_i)."""
    lam = _variances(variances)
    if distortion >= lam.sum():
        return 0.0
    return float(gaussian_rate(lam, reverse_water_filling(lam, distortion)).sum())


def water_level_for_rate(variances: np.ndarray, rate: float) -> float:
    """The level θ with Σ_i max(0, ½ log(λ_i / θ)) = R, for a total rate R >= 0 in nats."""
    lam = np.sort(_variances(variances))[::-1]
    if rate < 0:
        raise ValueError(f"rate={rate!r} must be >= 0")
    k = np.arange(1, lam.size + 1)
    levels = np.exp((np.cumsum(np.log(lam)) - 2 * rate) / k)  # θ if exactly the k largest are on
    lower = np.concatenate([lam[1:], [0.0]])
    valid = (levels <= lam * (1 + 1e-12)) & (levels >= lower * (1 - 1e-12))
    return float(levels[np.argmax(valid)])


def distortion_rate(variances: np.ndarray, rate: float) -> float:
    """D(R): the smallest total distortion reachable at a total rate R in nats."""
    lam = _variances(variances)
    return float(np.minimum(water_level_for_rate(lam, rate), lam).sum())


def empirical_entropy(symbols: np.ndarray) -> np.ndarray:
    """Plug-in entropy in nats of each column of an integer array (n_samples, channels)."""
    symbols = np.asarray(symbols)
    entropies = []
    for column in symbols.T:
        counts = np.bincount(column - column.min())
        p = counts[counts > 0] / column.size
        entropies.append(-(p * np.log(p)).sum())
    return np.array(entropies)


def scalar_quantise(coefficients: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Uniform mid-tread quantiser: integer symbols round(y / Δ) and reconstructions Δ·symbol."""
    symbols = np.rint(np.asarray(coefficients) / step).astype(np.int64)
    return symbols, symbols * step


def scalar_code(coefficients: np.ndarray, step: float) -> dict[str, np.ndarray | float]:
    """Code transform coefficients (n_samples, n) with one quantiser step for every channel
    and an ideal entropy coder per channel.

    Returns the total rate (Σ of the channels' entropies, nats), the total distortion (mean
    over samples of the summed squared error; an orthonormal transform keeps it the same in
    the data domain), and both per channel.
    """
    coefficients = np.asarray(coefficients)
    symbols, reconstruction = scalar_quantise(coefficients, step)
    channel_rate = empirical_entropy(symbols)
    channel_distortion = ((coefficients - reconstruction) ** 2).mean(axis=0)
    return {"rate": float(channel_rate.sum()), "distortion": float(channel_distortion.sum()),
            "channel_rate": channel_rate, "channel_distortion": channel_distortion}


def uniform_noise_rate(coefficients: np.ndarray, std: np.ndarray, step: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Per-channel code length in nats of the additive-noise relaxation of the quantiser:
    the mean of -log P(ỹ) with ỹ = y + u, u ~ U(-Δ/2, Δ/2), and P(ỹ) the probability that
    a zero-mean Gaussian of standard deviation `std` falls in [ỹ - Δ/2, ỹ + Δ/2] (the
    likelihood the factorized prior gives to z + u)."""
    noisy = np.asarray(coefficients) + rng.uniform(-step / 2, step / 2, size=np.shape(coefficients))
    # Mirror into the lower tail so the difference of two CDFs keeps its precision.
    upper = -np.abs(noisy) + step / 2
    lower = -np.abs(noisy) - step / 2
    log_upper, log_lower = special.log_ndtr(upper / std), special.log_ndtr(lower / std)
    log_mass = log_upper + np.log1p(-np.exp(log_lower - log_upper))
    return -log_mass.mean(axis=0)
