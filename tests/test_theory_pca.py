"""The Appendix B experiment: its data, its config checks and the shape of its payload (a
short run; the quick profile itself runs in the chapter, with the theory's asserts)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radogaga import experiments
from radogaga.experiments import theory_pca


@pytest.mark.parametrize("case", theory_pca.CASES)
def test_make_data_has_the_asked_spectrum_on_orthonormal_source_axes(case):
    spectrum = (9.0, 4.0, 1.0)
    x, axes = theory_pca.make_data(case, spectrum, 100_000, seed=3)
    np.testing.assert_allclose(axes @ axes.T, np.eye(3), atol=1e-12)
    sources = x @ axes.T  # coordinates along the source axes
    np.testing.assert_allclose(sources.var(axis=0), spectrum, rtol=0.03)  # 3 %: sampling error of 1e5 draws
    np.testing.assert_allclose(np.corrcoef(sources.T), np.eye(3), atol=0.02)
    excess_kurtosis = (sources**4).mean(axis=0) / sources.var(axis=0) ** 2 - 3
    expected = 3.0 if case.startswith("laplace") else 0.0  # Laplace: 3, Gaussian: 0
    np.testing.assert_allclose(excess_kurtosis, expected, atol=0.3)


def test_make_data_is_reproducible_and_differs_by_case():
    a, _ = theory_pca.make_data("gaussian", (2.0, 1.0), 10, seed=0)
    b, _ = theory_pca.make_data("gaussian", (2.0, 1.0), 10, seed=0)
    c, _ = theory_pca.make_data("gaussian_pairs", (2.0, 1.0), 10, seed=0)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_latent_scale_is_two_lambda2_sigma_squared():
    config = theory_pca.Config(lambda2=3.0, noise_scale=2.0)
    assert theory_pca.latent_scale(config) == pytest.approx(2 * 3.0 * 4.0 / 12)


@pytest.mark.parametrize("change, message", [
    ({"paired_spectrum": (1.0, 1.0)}, "common length"),
    ({"spectrum": (1.0, -1.0, 1.0, 1.0, 1.0, 1.0)}, "variance 1"),
    ({"steps_settle": 150}, "multiple of trace_every"),
    ({"lambda2": 0.0}, "lambda2"),
])
def test_config_rejects_bad_values(change, message):
    with pytest.raises(ValueError, match=message):
        theory_pca.Config(**change)


def test_registered_with_both_profiles():
    assert "theory_pca" in experiments.names()
    assert set(theory_pca.PROFILES) >= {"quick", "paper"}


def test_short_run_payload():
    config = theory_pca.Config(seeds=(0,), spectrum=(4.0, 1.0, 0.5), paired_spectrum=(4.0, 4.0, 1.0),
                               samples=2_000, steps_rotate=20, steps_settle=10, batch_size=64, trace_every=10)
    payload = theory_pca.run(config, torch.device("cpu"))
    models, dim = len(theory_pca.CASES), 3
    assert payload["cases"] == list(theory_pca.CASES) and payload["seeds"] == [0, 0, 0]
    np.testing.assert_array_equal(payload["trace_steps"], [10, 20, 30])
    assert payload["trace_pca_cos"].shape == (3, models)
    assert payload["loss"].shape == (len(payload["loss_steps"]), models) and payload["loss_steps"][-1] == 30
    for key in ("directions", "pca_axes", "source_axes", "latent_covariance"):
        assert payload[key].shape == (models, dim, dim), key
    assert payload["sweep_entropy"].shape == (models, len(theory_pca.SWEEP_ANGLES))
    assert payload["plane_points"].shape == (models, theory_pca.PLANE_POINTS, 2)
    assert np.isfinite(payload["rate"]).all() and (payload["trace_pca_cos"] <= 1 + 1e-9).all()
