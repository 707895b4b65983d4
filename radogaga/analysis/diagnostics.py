"""Measurements of a trained decoder that test the paper's theory (Sec. 3, Appendix A):
Jacobians by forward-mode autodiff, how close their columns are to a scaled orthonormal
basis, the constant the theory predicts, the per-axis distance ratio and the
proportionality of latent and data densities."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from scipy import stats
from torch import Tensor

from radogaga.models.stacked import StackedMLP


def member(mlp: StackedMLP, index: int) -> Callable[[Tensor], Tensor]:
    """Model `index` of a stacked MLP as a plain function of (..., in) -> (..., out)."""
    layers = [(layer.weight[index], layer.bias[index, 0]) for layer in mlp.layers]

    def forward(x: Tensor) -> Tensor:
        for depth, (weight, bias) in enumerate(layers):
            x = x @ weight + bias
            if depth < len(layers) - 1:
                x = mlp._act(x)
        return x

    return forward


def jacobians(decode: Callable[[Tensor], Tensor], z: Tensor) -> Tensor:
    """Decoder Jacobians dx/dz at each row of z (N, d): (N, D, d), by forward-mode autodiff."""
    return torch.func.vmap(torch.func.jacfwd(decode))(z)


def gram(jacobian: Tensor, metric: Tensor | None = None) -> Tensor:
    """G^T A G per point: (N, d, d); `metric` A is (N, D, D), or None for squared error (A = I)."""
    if metric is None:
        return jacobian.transpose(-1, -2) @ jacobian
    return jacobian.transpose(-1, -2) @ metric @ jacobian


def predicted_constant(lambda2: float, noise_variance: float, rate_unit: str = "nats",
                       distortion_mean_over: int = 1) -> float:
    """The squared column norm the theory predicts, 1 / (2 λ2 σ²), in the units used.

    A rate in bits turns λ2 into λ2 ln 2; a distortion averaged (not summed) over M
    dimensions turns it into λ2 / M (Appendix A; PAPER-NOTES section 2).
    """
    if rate_unit not in ("nats", "bits"):
        raise ValueError(f"rate_unit={rate_unit!r}; choose 'nats' or 'bits'.")
    effective = lambda2 * (math.log(2) if rate_unit == "bits" else 1.0) / distortion_mean_over
    return 1.0 / (2.0 * effective * noise_variance)


def orthonormality(gram_matrices: Tensor) -> dict[str, float]:
    """How close Gram matrices (N, d, d) are to c I: the mean squared column norm c, the
    coefficient of variation of the norms (over points and columns), and the off-diagonal
    cosines (largest and mean absolute)."""
    gram_matrices = gram_matrices.detach()
    squared = gram_matrices.diagonal(dim1=-2, dim2=-1)
    norms = squared.clamp_min(0).sqrt()
    cosines = gram_matrices / (norms.unsqueeze(-1) * norms.unsqueeze(-2))
    d = gram_matrices.shape[-1]
    off = cosines[:, ~torch.eye(d, dtype=torch.bool, device=cosines.device)].abs()
    return {
        "mean_squared_norm": float(squared.mean()),
        "squared_norm_per_axis": squared.mean(dim=0).tolist(),
        "norm_cv": float(squared.std() / squared.mean()),
        "max_abs_cosine": float(off.max()) if off.numel() else 0.0,
        "mean_abs_cosine": float(off.mean()) if off.numel() else 0.0,
    }


def axis_ratios(decode: Callable[[Tensor], Tensor], z: Tensor, epsilon: float,
                distortion: Callable[[Tensor, Tensor], Tensor], axes: Sequence[int] | None = None) -> Tensor:
    """Mean over points of D(g(z), g(z + ε e_j)) / ε² for each latent axis j in `axes`
    (all axes if None): (len(axes),)."""
    base = decode(z)
    ratios = []
    for j in range(z.shape[-1]) if axes is None else axes:
        step = torch.zeros_like(z)
        step[..., j] = epsilon
        ratios.append(distortion(base, decode(z + step)).mean() / epsilon**2)
    return torch.stack(ratios)


def density_proportionality(log_p_x: np.ndarray, log_p_z: np.ndarray) -> dict[str, float]:
    """How proportional two densities are over the same points, from their logs.

    The paper's Sec. 4.1 measure scales both densities to [0, 1] (min-max) and regresses
    P_z on P_x; it does not say which residual statistic it reports. We give 1 − R² of
    that fit (our reading: it matches the paper's magnitudes), the mean squared residual
    and its root, and the slope of log P_z on log P_x (1 when P_z ∝ P_x, whatever the
    scaling), with Pearson's r and Spearman's rank correlation.
    """
    log_p_x, log_p_z = np.asarray(log_p_x, dtype=float), np.asarray(log_p_z, dtype=float)
    p_x, p_z = np.exp(log_p_x - log_p_x.max()), np.exp(log_p_z - log_p_z.max())
    x = (p_x - p_x.min()) / (p_x.max() - p_x.min())
    y = (p_z - p_z.min()) / (p_z.max() - p_z.min())
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    log_slope, log_intercept = np.polyfit(log_p_x, log_p_z, 1)
    log_residual = log_p_z - (log_slope * log_p_x + log_intercept)
    return {"one_minus_r2": float(np.mean(residual**2) / np.var(y)),
            "mean_squared_residual": float(np.mean(residual**2)),
            "rms_residual": float(np.sqrt(np.mean(residual**2))), "slope": float(slope),
            "intercept": float(intercept), "log_slope": float(log_slope),
            "log_residual_std": float(np.std(log_residual)),
            "pearson": float(stats.pearsonr(x, y)[0]), "spearman": float(stats.spearmanr(log_p_x, log_p_z)[0])}
