"""Measurements of a trained image model's latent space (the paper's Sec. 4.3): the variance
spectrum of the latents, the per-axis distance ratio, latent traversals, a random-direction
isometry check, and linear PCA as the reference the theory (Appendix B) points to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from radogaga.analysis.alignment import cumulative_share

Decoder = Callable[[Tensor], Tensor]


class Spectrum(NamedTuple):
    """Variances in descending order, the latent index of each, and the cumulative share."""

    variances: np.ndarray
    order: np.ndarray
    cumulative: np.ndarray


def variance_spectrum(latents: np.ndarray) -> Spectrum:
    """The variance of each column of `latents` (n, d) over the rows, sorted descending."""
    latents = np.asarray(latents, dtype=np.float64)
    if latents.ndim != 2 or latents.shape[0] < 2:
        raise ValueError(f"latents must be (n, d) with n >= 2 points; got shape {latents.shape}")
    variances = latents.var(axis=0)
    order = np.argsort(-variances, kind="stable")
    return Spectrum(variances[order], order, cumulative_share(variances))


def top_share(spectrum: Spectrum, k: int) -> float:
    """The share of the total variance held by the k largest variances."""
    if not 1 <= k <= len(spectrum.variances):
        raise ValueError(f"k={k} must lie between 1 and the number of latents, {len(spectrum.variances)}")
    return float(spectrum.cumulative[k - 1])


def coefficient_of_variation(values: np.ndarray) -> float:
    """Standard deviation over mean (population std): 0 for equal values."""
    values = np.asarray(values, dtype=np.float64)
    mean = values.mean()
    if not mean > 0:
        raise ValueError(f"the coefficient of variation needs a positive mean; got {mean}")
    return float(values.std() / mean)


def traversal(decode: Decoder, center: Tensor, axes: Sequence[int], scales: Sequence[float],
              offsets: Sequence[float]) -> Tensor:
    """Decodings of center + t · scale_j · e_j for each axis j and offset t: (axes, offsets, C, H, W).

    With `scales` the latents' standard deviations, offsets -2 .. 2 are the paper's Fig. 5.
    """
    if len(axes) != len(scales):
        raise ValueError(f"{len(axes)} axes and {len(scales)} scales: give one scale per axis")
    t = torch.as_tensor(offsets, dtype=center.dtype, device=center.device)
    rows = []
    for axis, scale in zip(axes, scales):
        z = center.expand(len(t), -1).clone()
        z[:, axis] += scale * t
        rows.append(decode(z))
    return torch.stack(rows)


class DirectionPairs(NamedTuple):
    """Unit vectors v and w (n, k) and their cosines vᵀw (n,)."""

    v: Tensor
    w: Tensor
    cosines: Tensor


def direction_pairs(n: int, dim: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> DirectionPairs:
    """n pairs of unit vectors in R^dim whose angle is uniform on [0, π]: v uniform on the
    sphere, w = cos θ v + sin θ u with u a unit vector orthogonal to v. Uniform angles spread
    vᵀw over [-1, 1]; independent random directions in many dimensions give vᵀw ≈ 0."""
    if dim < 2:
        raise ValueError(f"dim={dim}: pairs at an angle need at least 2 dimensions")
    v = torch.randn(n, dim, generator=generator, dtype=dtype)
    v = v / v.norm(dim=1, keepdim=True)
    u = torch.randn(n, dim, generator=generator, dtype=dtype)
    u = u - (u * v).sum(1, keepdim=True) * v
    u = u / u.norm(dim=1, keepdim=True)
    theta = torch.rand(n, 1, generator=generator, dtype=dtype) * torch.pi
    w = torch.cos(theta) * v + torch.sin(theta) * u
    return DirectionPairs(v, w, (v * w).sum(1))


def mean_inner_product(a: Tensor, b: Tensor) -> Tensor:
    """aᵀb / (number of values) per image: the inner product whose norm is the mean squared error."""
    return (a * b).flatten(1).mean(1)


def isometry_products(decode: Decoder, z: Tensor, pairs: DirectionPairs, delta: float,
                      axes: Sequence[int] | None = None) -> Tensor:
    """⟨g(z + δv) − g(z), g(z + δw) − g(z)⟩ / δ² per row (the inner product of `mean_inner_product`).

    z is (n, d); v and w live in the span of `axes` (all d axes if None). For a scaled
    isometry with constant c this equals c vᵀw up to O(δ).
    """
    index = list(range(z.shape[1])) if axes is None else list(axes)
    if pairs.v.shape != (z.shape[0], len(index)):
        raise ValueError(f"directions of shape {tuple(pairs.v.shape)} do not fit {z.shape[0]} points "
                         f"and {len(index)} axes")
    v, w = torch.zeros_like(z), torch.zeros_like(z)
    v[:, index], w[:, index] = pairs.v.to(z), pairs.w.to(z)
    base = decode(z)
    return mean_inner_product(decode(z + delta * v) - base, decode(z + delta * w) - base) / delta**2


def slope_through_origin(x: np.ndarray, y: np.ndarray) -> float:
    """The least-squares c of y ≈ c x."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float((x * y).sum() / (x * x).sum())


class PCA(NamedTuple):
    """Linear PCA of flattened images: the mean (D,), the axes as rows (k, D), their variances (k,)."""

    mean: np.ndarray
    axes: np.ndarray
    variances: np.ndarray

    def project(self, images: np.ndarray) -> np.ndarray:
        """Coefficients (n, k) of images (n, ...) on the axes."""
        return (images.reshape(len(images), -1) - self.mean) @ self.axes.T

    def reconstruct(self, images: np.ndarray, k: int) -> np.ndarray:
        """Images rebuilt from their first k coefficients, in the images' shape."""
        if not 1 <= k <= len(self.axes):
            raise ValueError(f"k={k} must lie between 1 and the number of axes, {len(self.axes)}")
        flat = self.mean + self.project(images)[:, :k] @ self.axes[:k]
        return flat.reshape(images.shape)


def fit_pca(images: np.ndarray) -> PCA:
    """PCA of images (n, ...) flattened: all min(n - 1, D) axes with non-zero variance, largest first."""
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    if len(flat) < 2:
        raise ValueError("PCA needs at least 2 images")
    mean = flat.mean(0)
    _, singular, axes = np.linalg.svd(flat - mean, full_matrices=False)
    keep = min(len(flat) - 1, flat.shape[1])
    return PCA(mean, axes[:keep], singular[:keep] ** 2 / (len(flat) - 1))


def keep_top(latents: Tensor, axes: Sequence[int]) -> Tensor:
    """Latents with every axis outside `axes` set to its mean over the rows."""
    kept = latents.mean(0, keepdim=True).expand_as(latents).clone()
    kept[:, list(axes)] = latents[:, list(axes)]
    return kept
