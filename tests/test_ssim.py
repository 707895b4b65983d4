"""The SSIM appendix's measurements against the explicit A(x) of `objectives` and against
pytorch_msssim, on a 24 x 24 face crop (a 576 x 576 Hessian, cheap in float64)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from radogaga import data
from radogaga.analysis import ssim as sa
from radogaga.objectives import gaussian_window, one_minus_ssim, ssim_quadratic_matrix

SIDE = 24


@pytest.fixture(scope="module")
def face(data_root) -> torch.Tensor:
    """A 24 x 24 crop (eyes and nose) of the first Olivetti face, (1, 1, 24, 24) float64."""
    X = data.load("olivetti").X
    return torch.tensor(X[:1, :, 20:20 + SIDE, 20:20 + SIDE], dtype=torch.float64)


@pytest.fixture(scope="module")
def matrix(face) -> torch.Tensor:
    return ssim_quadratic_matrix(face)


def test_default_window_is_pytorch_msssims_and_sums_to_one_only_in_float32():
    library = sys.modules["pytorch_msssim.ssim"]._fspecial_gauss_1d(11, 1.5).flatten()
    assert torch.equal(sa.pytorch_msssim_window(torch.float32), library)
    assert 1e-9 < abs(sa.pytorch_msssim_window().sum().item() - 1) < 1e-6
    assert abs(gaussian_window().sum().item() - 1) < 1e-15


def test_windowed_one_minus_ssim_matches_the_library_default(face):
    other = face.flip(-1)
    default = one_minus_ssim(face, other)[0]
    assert sa.windowed_one_minus_ssim(face, other).item() == default.item()
    assert sa.windowed_one_minus_ssim(face, other, sa.pytorch_msssim_window()).item() == default.item()
    assert sa.windowed_one_minus_ssim(face, face, gaussian_window()).abs().item() < 1e-15


def test_hessian_is_twice_the_matrix_and_the_float32_window_explains_the_residual(face, matrix):
    exact = sa.ssim_hessian(face, gaussian_window())
    assert sa.relative_frobenius(exact / 2, matrix) < 1e-10  # measured ~4e-14
    measured = sa.relative_frobenius(sa.ssim_hessian(face) / 2, matrix)  # pytorch_msssim's own window
    predicted = sa.window_sum_residual(face, sa.pytorch_msssim_window())
    assert 1e-6 < measured < 1e-3
    assert 0.5 < measured / predicted < 2, (measured, predicted)  # measured ratio ~0.9


def test_local_statistics_at_one_position(face):
    stats = sa.local_statistics(face)
    assert stats.mean.shape == (SIDE - 10, SIDE - 10) and stats.positions == (SIDE - 10) ** 2
    g = gaussian_window()
    w = torch.outer(g, g)
    patch = face[0, 0, 3:14, 7:18]
    mean = (w * patch).sum()
    variance = (w * (patch - mean).square()).sum()
    torch.testing.assert_close(stats.mean[3, 7], mean, rtol=1e-12, atol=0)
    torch.testing.assert_close(stats.variance[3, 7], variance, rtol=1e-9, atol=0)
    torch.testing.assert_close(stats.contrast_weight[3, 7], 1 / (2 * variance + 0.03 ** 2), rtol=1e-9, atol=0)


def test_closed_forms_of_diagonal_trace_and_ceiling(face, matrix):
    diagonal = sa.quadratic_diagonal(face)
    assert diagonal.shape == (SIDE, SIDE)
    assert sa.relative_frobenius(diagonal.flatten(), matrix.diagonal()) < 1e-12
    stats = sa.local_statistics(face)
    assert sa.trace(stats) == pytest.approx(matrix.trace().item(), rel=1e-12)
    eigenvalues = torch.linalg.eigvalsh(matrix)
    assert eigenvalues.max().item() <= sa.eigenvalue_ceiling(stats)
    assert eigenvalues.min().item() > 0
    # The leading part a_sigma / P is most of the diagonal at window centres.
    centre = diagonal[5:-5, 5:-5]
    ratio = centre / sa.contrast_diagonal(stats)
    assert 0.5 < ratio.median().item() < 1.5


def test_remainder_is_third_order(face):
    other = torch.tensor(data.load("olivetti").X[10:11, :, 20:20 + SIDE, 20:20 + SIDE], dtype=torch.float64)
    rms = np.array([1e-3, 1e-4, 1e-5])
    errors = sa.remainder(face, other - face, rms, gaussian_window())
    slopes = np.diff(np.log(errors)) / np.diff(np.log(rms))
    assert np.all(np.abs(slopes - 1) < 0.1), slopes  # relative error ~ |delta|: a cubic remainder


def test_multichannel_images_are_refused():
    with pytest.raises(ValueError, match="single-channel"):
        sa.local_statistics(torch.rand(1, 3, 16, 16))


def _ssim_measures(residual: float = 2e-5, slope: float = 1.0) -> dict:
    """Synthetic measures for three faces: the first face's library residual and remainder slope are set."""
    return {"faces": [0, 100, 200], "library_residual": [residual, 1e-5, 3e-5], "remainder_slope": [slope, 0.99, 1.02]}


def test_verdict_reaches_every_outcome():
    """The rule's tolerances: library residual ≤ 1e-3, |slope − 1| ≤ 0.1 on every face."""
    from radogaga import verdicts
    assert sa.verdict(_ssim_measures()).outcome == "reproduced"
    assert sa.verdict(_ssim_measures(residual=1e-3, slope=1.09)).outcome == "reproduced"  # at or near the edges
    assert sa.verdict(_ssim_measures(residual=2e-3)).outcome == "partly reproduced"  # the library misses
    assert sa.verdict(_ssim_measures(slope=1.5)).outcome == "partly reproduced"      # second-order remainder
    assert sa.verdict(_ssim_measures(residual=2e-3, slope=2.0)).outcome == "not reproduced"
    below = verdicts.Scale(False, "a test below the evidence scale")
    assert sa.verdict(_ssim_measures(), below).outcome == "not yet evaluated"
    v = sa.verdict(_ssim_measures(slope=0.85))
    assert [c.holds for c in v.checks] == [True] * 3 + [False, True, True]
    assert v.rule is sa.RULES["appendix-c-ssim"] and v.rule.experiment is None and v.scale == verdicts.EXACT


def test_verdict_needs_one_value_per_face():
    with pytest.raises(ValueError, match="one library residual and one remainder slope per face"):
        sa.verdict({"faces": [0, 1], "library_residual": [1e-5], "remainder_slope": [1.0, 1.0]})
