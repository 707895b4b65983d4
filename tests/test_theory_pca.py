"""The Appendix B experiment: its data, its config checks, the shape of its payload (a short
run; the quick profile itself runs in the chapter) and its verdicts on synthetic payloads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radogaga import experiments, verdicts
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


# ---------------------------------------------------------------- the verdicts on synthetic payloads

EVIDENCE = verdicts.Scale(True, "paper scale", 5)
PREVIEW = verdicts.Scale(False, "below the evidence scale", 5)
SPECTRUM = np.array(theory_pca.Config().spectrum)
PAIRED = np.array(theory_pca.Config().paired_spectrum)
K = 5 / 3  # 2 λ2 σ² at λ2 = 10, σ² = 1/12


def turn(degrees: float, dim: int = 6) -> np.ndarray:
    """A rotation by `degrees` inside the plane of axes 0 and 1 (and of 2 and 3, and of 4 and 5)."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    rotation = np.eye(dim)
    for i in range(0, dim - 1, 2):
        rotation[i:i + 2, i:i + 2] = [[c, -s], [s, c]]
    return rotation


def synthetic_payload(gauss_turn=(0.5, 1.0, 1.5, 1.0, 0.5), variance_factor=(1.0, 1.01, 0.99, 1.02, 0.98),
                      laplace_turn=(0.5, 1.0, 0.5, 1.0, 0.5), pca_turn=(30.0, 25.0, 35.0, 20.0, 40.0)) -> dict:
    """Five seeds of each case, axes in the standard basis. Gaussian models: decoder columns turned by
    `gauss_turn` degrees from the PCA axes, latent variances `variance_factor` × k × PCA variance (the
    weakest component, below 1.5 bins, always 8 % high). Laplace models: columns turned by `laplace_turn`
    from the source axes, sample PCA axes turned by `pca_turn` from them."""
    cases, seeds, directions, pca_axes, source_axes, covariance, pca_variance = [], [], [], [], [], [], []
    for case in theory_pca.CASES:
        for seed in range(5):
            spectrum = SPECTRUM if case == "gaussian" else PAIRED
            cases.append(case)
            seeds.append(seed)
            source_axes.append(np.eye(6))
            pca_variance.append(spectrum * (1 + 0.001 * seed))
            if case == "gaussian":
                directions.append(turn(gauss_turn[seed]))
                pca_axes.append(np.eye(6))
                latent = K * pca_variance[-1] * variance_factor[seed]
                latent[-1] = K * pca_variance[-1][-1] * 1.08
            else:
                directions.append(turn(laplace_turn[seed]))
                pca_axes.append(turn(pca_turn[seed]))
                latent = K * pca_variance[-1]
            covariance.append(np.diag(latent))
    return {"cases": cases, "seeds": seeds, "latent_scale": K, "directions": np.stack(directions),
            "pca_axes": np.stack(pca_axes), "source_axes": np.stack(source_axes),
            "latent_covariance": np.stack(covariance), "pca_variance": np.stack(pca_variance)}


def test_pca_verdict_reproduced_on_pca_axes_and_proportional_variances():
    v = theory_pca.verdict(synthetic_payload(), EVIDENCE, "appendix-b-pca")
    assert v.outcome == "reproduced", v.checks
    assert [c.holds for c in v.checks[:4]] == [True] * 4
    # The weakest component (latent std 0.91 bins) is the known limit: shown, 8 % high, not judged.
    assert "known limit" in v.checks[4].name and v.checks[4].measured.startswith("0.080")


def test_pca_verdict_partly_reproduced_when_only_the_axes_hold():
    # Variances 20 % high on every component in the domain: (b) fails beyond the 10 % tolerance.
    v = theory_pca.verdict(synthetic_payload(variance_factor=(1.2, 1.21, 1.19, 1.2, 1.2)), EVIDENCE)
    assert v.outcome == "partly reproduced"
    assert v.checks[0].holds and not v.checks[1].holds


def test_pca_verdict_partly_reproduced_when_only_the_variances_hold():
    # Axes 12° off (beyond the 10° of rule (a)) but variances on the formula: (a) fails, (b) holds.
    v = theory_pca.verdict(synthetic_payload(gauss_turn=(12.0, 13.0, 12.5, 12.0, 13.5)), EVIDENCE)
    assert v.outcome == "partly reproduced"
    assert not v.checks[0].holds and v.checks[1].holds


def test_pca_verdict_not_reproduced_on_turned_axes_and_wrong_variances():
    v = theory_pca.verdict(synthetic_payload(gauss_turn=(30.0, 28.0, 32.0, 30.0, 29.0),
                                             variance_factor=(1.5, 1.5, 1.4, 1.6, 1.5)), EVIDENCE)
    assert v.outcome == "not reproduced"


def test_pca_verdict_needs_a_component_in_the_domain():
    payload = synthetic_payload()
    payload["latent_scale"] = 0.01  # every predicted latent std below 1.5 bins
    payload["latent_covariance"] = payload["latent_covariance"] * 0.01 / K
    v = theory_pca.verdict(payload, EVIDENCE)
    assert not v.checks[1].holds and "no component" in v.checks[1].measured


@pytest.mark.parametrize("key", list(theory_pca.RULES))
def test_verdict_is_not_yet_evaluated_below_the_evidence_scale(key):
    v = theory_pca.verdict(synthetic_payload(), PREVIEW, key)
    assert v.outcome == "not yet evaluated" and v.checks


def test_ica_verdict_reproduced_on_source_axes_away_from_sample_pca():
    v = theory_pca.verdict(synthetic_payload(), EVIDENCE, "appendix-b-ica")
    assert v.outcome == "reproduced", v.checks


def test_ica_verdict_partly_reproduced_when_sample_pca_is_on_the_sources_too():
    # The sample PCA axes happen to lie on the source axes: (a) holds, the paired difference does not.
    v = theory_pca.verdict(synthetic_payload(pca_turn=(0.5, 1.0, 0.5, 1.0, 0.5)), EVIDENCE, "appendix-b-ica")
    assert v.outcome == "partly reproduced" and v.checks[0].holds and not v.checks[1].holds


def test_ica_verdict_not_reproduced_when_the_axes_sit_on_the_sample_pca():
    turns = (30.0, 25.0, 35.0, 20.0, 40.0)
    v = theory_pca.verdict(synthetic_payload(laplace_turn=turns, pca_turn=turns), EVIDENCE, "appendix-b-ica")
    assert v.outcome == "not reproduced"


def test_verdict_rejects_an_unknown_rule():
    with pytest.raises(ValueError, match="key"):
        theory_pca.verdict(synthetic_payload(), EVIDENCE, "appendix-b")
