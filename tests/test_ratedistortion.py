"""Reverse water-filling and transform coding against cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from radogaga.analysis import ratedistortion as rd


def test_water_level_two_channels():
    # λ = (4, 1): both channels on below D = 2, then θ = D - 1 with the weak channel off.
    assert rd.water_level([4.0, 1.0], 1.5) == pytest.approx(0.75, rel=1e-12)
    assert rd.water_level([4.0, 1.0], 3.0) == pytest.approx(2.0, rel=1e-12)
    assert rd.reverse_water_filling([4.0, 1.0], 3.0) == pytest.approx([2.0, 1.0], rel=1e-12)
    assert rd.rate_distortion([4.0, 1.0], 3.0) == pytest.approx(0.5 * math.log(2.0), rel=1e-12)


def test_rate_distortion_limits_and_inverse():
    lam = np.array([3.0, 1.2, 0.5, 0.1])
    small = 0.2  # below n·min(λ): every channel on, θ = D / n
    assert rd.rate_distortion(lam, small) == pytest.approx(0.5 * np.log(lam / (small / 4)).sum(), rel=1e-12)
    assert rd.rate_distortion(lam, lam.sum()) == 0.0
    assert rd.rate_distortion(lam, 10.0) == 0.0
    for distortion in np.linspace(0.05, lam.sum() * 0.99, 17):
        rate = rd.rate_distortion(lam, distortion)
        assert rd.distortion_rate(lam, rate) == pytest.approx(distortion, rel=1e-10)
    with pytest.raises(ValueError, match="distortion"):
        rd.water_level(lam, 0.0)
    with pytest.raises(ValueError, match="positive"):
        rd.water_level([1.0, -1.0], 0.5)


def test_water_filling_is_the_constrained_minimum():
    lam = np.sort(np.random.default_rng(3).uniform(0.05, 3.0, 6))[::-1]
    for distortion in (0.1, 1.0, 4.0):
        result = optimize.minimize(
            lambda d: 0.5 * np.log(lam / d).sum(), distortion * lam / lam.sum(), jac=lambda d: -0.5 / d,
            method="SLSQP", bounds=[(1e-12, v) for v in lam],
            constraints=[{"type": "eq", "fun": lambda d: d.sum() - distortion}],
            options={"ftol": 1e-14, "maxiter": 500})
        # Tolerance: 1e-6 of the total distortion per channel (SLSQP stops near 1e-8).
        np.testing.assert_allclose(result.x, rd.reverse_water_filling(lam, distortion), atol=1e-6 * distortion)


def test_empirical_entropy_and_quantiser():
    symbols = np.tile(np.arange(4), 25)[:, None]
    assert rd.empirical_entropy(symbols) == pytest.approx([math.log(4)], rel=1e-12)
    y = np.random.default_rng(0).normal(size=(1000, 2))
    symbols, reconstruction = rd.scalar_quantise(y, 0.3)
    assert np.abs(y - reconstruction).max() <= 0.15 + 1e-12
    assert symbols.dtype == np.int64


def test_high_rate_transform_coding():
    """Fine steps: noise Δ²/12 per channel, rate h(y) - log Δ, same numbers in any orthonormal
    basis for a white source, and the relaxed (noisy) rate equals the discrete entropy."""
    rng = np.random.default_rng(1)
    n, step = 4, 0.05
    x = rng.normal(size=(100_000, n))
    basis = stats.special_ortho_group.rvs(n, random_state=2)
    for b in (np.eye(n), basis):
        coded = rd.scalar_code(x @ b, step)
        # Monte Carlo error of the mean squared error is about 0.2 %: tolerance 2 %.
        assert coded["channel_distortion"] == pytest.approx(np.full(n, step**2 / 12), rel=0.02)
        gaussian_entropy = 0.5 * math.log(2 * math.pi * math.e)
        assert coded["channel_rate"] == pytest.approx(np.full(n, gaussian_entropy - math.log(step)), abs=0.02)
        relaxed = rd.uniform_noise_rate(x @ b, np.ones(n), step, rng)
        assert relaxed == pytest.approx(coded["channel_rate"], abs=0.02)
