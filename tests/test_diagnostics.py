"""The decoder measurements on maps whose answers are known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from radogaga.analysis import diagnostics
from radogaga.models.stacked import StackedMLP, model_generators
from radogaga.objectives import squared_error


def scaled_rotation(scale=1.7, angle=0.3):
    c, s = math.cos(angle), math.sin(angle)
    return scale * torch.tensor([[c, -s], [s, c], [0.0, 0.0]], dtype=torch.float64)  # (D=3, d=2)


def test_linear_decoder_is_a_scaled_orthonormal_basis():
    W = scaled_rotation()
    z = torch.randn(50, 2, dtype=torch.float64)
    J = diagnostics.jacobians(lambda v: v @ W.T, z)
    torch.testing.assert_close(J, W.expand(50, 3, 2))
    summary = diagnostics.orthonormality(diagnostics.gram(J))
    assert summary["mean_squared_norm"] == pytest.approx(1.7**2, rel=1e-12)
    assert summary["norm_cv"] < 1e-12 and summary["max_abs_cosine"] < 1e-12


def test_sheared_decoder_is_measured_as_not_orthogonal():
    W = torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    J = diagnostics.jacobians(lambda v: v @ W.T, torch.zeros(4, 2, dtype=torch.float64))
    summary = diagnostics.orthonormality(diagnostics.gram(J))
    assert summary["max_abs_cosine"] == pytest.approx(1 / math.sqrt(2), rel=1e-12)
    assert summary["squared_norm_per_axis"] == pytest.approx([1.0, 2.0])


def test_predicted_constant_units():
    assert diagnostics.predicted_constant(2.0, 0.25) == pytest.approx(1.0)
    assert diagnostics.predicted_constant(2.0, 0.25, rate_unit="bits") == pytest.approx(1 / math.log(2))
    assert diagnostics.predicted_constant(2.0, 0.25, distortion_mean_over=8) == pytest.approx(8.0)
    with pytest.raises(ValueError, match="bits"):
        diagnostics.predicted_constant(1.0, 1.0, rate_unit="bans")


def test_axis_ratios_of_a_linear_map_are_its_squared_column_norms():
    W = torch.tensor([[2.0, 0.0], [0.0, 0.5], [1.0, 0.0]], dtype=torch.float64)
    z = torch.randn(30, 2, dtype=torch.float64)
    ratios = diagnostics.axis_ratios(lambda v: v @ W.T, z, 1e-3, squared_error)
    torch.testing.assert_close(ratios, (W**2).sum(dim=0))


def test_member_matches_the_stacked_forward():
    mlp = StackedMLP(3, (4, 5, 2), generators=model_generators([0, 1, 2]))
    x = torch.randn(3, 7, 4)
    for m in range(3):
        torch.testing.assert_close(diagnostics.member(mlp, m)(x[m]), mlp(x)[m])


def test_density_proportionality():
    rng = np.random.default_rng(0)
    log_p_x = np.log(rng.random(200))
    exact = diagnostics.density_proportionality(log_p_x, log_p_x + np.log(3.0))
    assert exact["mean_squared_residual"] < 1e-20 and exact["one_minus_r2"] < 1e-12
    assert exact["spearman"] == pytest.approx(1.0) and exact["log_slope"] == pytest.approx(1.0, abs=1e-9)
    # P_z = P_x^2 is monotone (Spearman 1) but not proportional: the log slope says so.
    squared = diagnostics.density_proportionality(log_p_x, 2 * log_p_x)
    assert squared["spearman"] == pytest.approx(1.0) and squared["log_slope"] == pytest.approx(2.0, abs=1e-9)
    assert squared["one_minus_r2"] > 0.01
    p_x = np.exp(log_p_x)
    noisy = diagnostics.density_proportionality(log_p_x, np.log(np.abs(p_x + 0.1 * rng.standard_normal(200)) + 1e-3))
    assert 1e-4 < noisy["mean_squared_residual"] < 1e-1 and noisy["spearman"] < 1.0
