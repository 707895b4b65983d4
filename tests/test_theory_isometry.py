"""The pieces of the Appendix A chapter: the test manifold, the stacked β-VAE and the experiment."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radogaga.analysis.manifolds import Sheet
from radogaga.experiments import config_for, theory_isometry
from radogaga.infra.randomness import Randomness
from radogaga.models.stacked_vae import StackedBetaVAE
from radogaga.objectives import Coefficients
from radogaga.train import TrainSettings, train


def test_sheet_embedding_is_an_isometry():
    """Central differences of the embedding have Gram matrix I to 1e-4 (the curve is
    tabulated, so this also checks the table's resolution)."""
    sheet = Sheet()
    s = np.random.default_rng(0).normal(size=(300, 2)) * [1.0, 2.0]
    step = 1e-5
    columns = np.stack([(sheet.embed(s + step * e) - sheet.embed(s - step * e)) / (2 * step) for e in np.eye(2)], -1)
    gram = np.einsum("nia,nib->nab", columns, columns)
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(2), gram.shape), atol=1e-4)


def test_sheet_is_curved():
    """The sheet is not a plane: its points do not fit a 2-D affine subspace (third singular
    value of the centred points is more than a tenth of the second)."""
    x, _, _ = Sheet().sample(2_000, seed=0)
    singular = np.linalg.svd(x - x.mean(0), compute_uv=False)
    assert singular[2] > 0.1 * singular[1]


def test_sheet_density_is_normalised_and_matches_samples():
    """The source density integrates to 1 (trapezoid rule on a fine grid, to 1e-4), and the
    samples' log densities are the density at their source points."""
    sheet = Sheet()
    grid = np.linspace(-6, 6, 1201)
    s1, s2 = np.meshgrid(grid, grid, indexing="ij")
    density = np.exp(sheet.source_log_density(np.stack([s1.ravel(), s2.ravel()], 1))).reshape(s1.shape)
    assert np.trapezoid(np.trapezoid(density, grid, axis=1), grid) == pytest.approx(1.0, abs=1e-4)
    x, s, log_density = sheet.sample(100, seed=3)
    np.testing.assert_allclose(log_density, sheet.source_log_density(s))
    np.testing.assert_allclose(x[:, 0], s[:, 0])
    with pytest.raises(ValueError, match="s2 must lie within"):
        sheet.embed(np.array([[0.0, 100.0]]))


def test_stacked_beta_vae_loss_is_the_authors_cost():
    """KL + λ D(x, g(μ)) + λ D(g(μ), g(z)), z = μ + exp(log_var / 2) ε, per model with its own λ
    (float32, to 1e-5 relative)."""
    lams, seeds = [3.0, 50.0], [0, 1]
    model = StackedBetaVAE((3, 8, 2), [Coefficients.beta_vae(lam) for lam in lams], seeds)
    x = torch.randn(2, 16, 3, generator=torch.Generator().manual_seed(0))
    loss = model.loss(x, Randomness(seeds, torch.device("cpu")))
    noise = Randomness(seeds, torch.device("cpu")).normal((16, 2))
    with torch.no_grad():
        mean, log_var = model.encode(x)
        z = mean + torch.exp(0.5 * log_var) * noise
        kl = 0.5 * (mean**2 + log_var.exp() - 1 - log_var).sum(-1)
        x_mean = model.decoder(mean)
        expected = [kl[m].mean() + lam * (((x[m] - x_mean[m]) ** 2).sum(-1).mean()
                                          + ((x_mean[m] - model.decoder(z)[m]) ** 2).sum(-1).mean())
                    for m, lam in enumerate(lams)]
    torch.testing.assert_close(loss.detach(), torch.stack(expected), rtol=1e-5, atol=0)


def test_stacked_beta_vae_models_train_as_if_alone():
    """Two β-VAEs trained stacked end with the same parameters as each trained alone (30 steps, 1e-5)."""
    x = torch.randn(300, 3, generator=torch.Generator().manual_seed(1))
    seeds, lams = [4, 5], [10.0, 100.0]
    settings = TrainSettings(steps=30, batch_size=32, learning_rate=1e-2, progress=False)
    stacked = StackedBetaVAE((3, 8, 2), [Coefficients.beta_vae(lam) for lam in lams], seeds)
    train(stacked, x, [np.arange(300)] * 2, seeds, settings)
    for m, (seed, lam) in enumerate(zip(seeds, lams)):
        alone = StackedBetaVAE((3, 8, 2), [Coefficients.beta_vae(lam)], [seed])
        train(alone, x, [np.arange(300)], [seed], settings)
        for (name, a), b in zip(stacked.named_parameters(), alone.parameters()):
            torch.testing.assert_close(a[m], b[0], rtol=0, atol=1e-5, msg=f"{name} of model {m}")


def test_experiment_config_is_checked():
    with pytest.raises(ValueError, match="main pair"):
        config_for("theory_isometry", "quick", main_lambda2=3.0)
    with pytest.raises(ValueError, match="one noise scale per"):
        config_for("theory_isometry", "quick", lambda2s=(1.0,))


def test_experiment_runs_and_reports_every_model():
    """A tiny run (40 steps) has the payload the chapter reads: one row per model and the
    per-point arrays of the first seed's main model and contrasts."""
    config = config_for("theory_isometry", "quick", lambda2s=(16.0, 64.0), noise_scales=(1.0, 1.0),
                        main_lambda2=64.0, n_train=512, n_eval=50, batch_size=64, phase_steps=(20, 20),
                        seeds=(0, 1))
    threads = torch.get_num_threads()
    payload = theory_isometry.run(config, torch.device("cpu"))
    assert torch.get_num_threads() == threads  # the one-thread setting is undone
    methods = [row["method"] for row in payload["models"]]
    assert methods == ["radogaga"] * 4 + ["autoencoder"] * 2 + ["beta_vae"] * 2
    assert payload["models"][1]["predicted"] == pytest.approx(1 / (2 * 64.0 / 12))
    assert set(payload["figure"]) == {"radogaga", "autoencoder", "beta_vae"}
    assert payload["figure"]["radogaga"]["squared_norms"].shape == (50, 2)
    assert payload["figure"]["radogaga"]["log_pz"].shape == (50,)
    assert payload["source"].shape == (50, 2) and payload["log_px"].shape == (50,)


# ---------------------------------------------------------------- the verdicts (synthetic payloads, no training)

from radogaga import verdicts  # noqa: E402

EVIDENCE = verdicts.Scale(True, "a synthetic test at the evidence scale", 4)
SWEEP = ((4.0, 0.5), (16.0, 1.0), (64.0, 1.0), (256.0, 1.0))  # predicted spreads ≈ 0.4 (limit), 1.7, 3.4, 6.8 bins


def _payload(ratio=(0.98, 0.99, 1.0, 1.01), cv=0.05, cosine=0.02, narrow_ratio=0.7, contrast_cv=0.3,
             offset_std=0.05, offset_error=0.01, sweep_ratio=None, methods=("radogaga", "autoencoder", "beta_vae")):
    """Four seeds; the main model (64, 1) gets `ratio` per seed, the other wide settings `sweep_ratio`
    (default: `ratio`), the narrow one `narrow_ratio`; seeds vary by ±1 % around the other values."""
    source = np.stack([np.linspace(-1.8, 1.8, 401), np.linspace(1.7, -1.7, 401)], axis=1)  # std ≈ 1.04, 0.98
    log_px = np.linspace(-4, -1, 401)
    rows = []
    for k, seed in enumerate(range(4)):
        wobble = 1 + 0.01 * (k - 1.5)
        for lambda2, s in SWEEP:
            predicted = 1 / (2 * lambda2 * s**2 / 12)
            r = ratio[k] if (lambda2, s) == (64.0, 1.0) else (narrow_ratio * wobble if lambda2 == 4.0 else
                                                               (sweep_ratio or ratio)[k])
            rows.append({"method": "radogaga", "lambda2": lambda2, "noise_scale": s, "seed": seed,
                         "predicted": predicted, "mean_squared_norm": r * predicted, "norm_cv": cv * wobble,
                         "median_abs_cosine": cosine * wobble,
                         "log_density_offset_std": offset_std * wobble * float(np.std(log_px)),
                         "log_density_offset_mean": np.log(predicted) + offset_error * wobble})
        for method in methods[1:]:
            rows.append({"method": method, "lambda2": 0.0, "noise_scale": 1.0, "seed": seed,
                         "norm_cv": contrast_cv * wobble, "median_abs_cosine": 0.05})
    rows = [r for r in rows if r["method"] in methods]
    return {"models": rows, "source": source, "log_px": log_px}


def _outcome(payload, key="appendix-a-isometry", scale=EVIDENCE):
    return theory_isometry.verdict(payload, scale, key).outcome


def test_isometry_verdict_reaches_every_outcome():
    """Tolerance 10 %: ratio intervals within [0.9, 1.1], CV and median |cos| intervals below 0.1."""
    assert _outcome(_payload()) == "reproduced"
    assert _outcome(_payload(cv=0.2)) == "partly reproduced"                         # shape fails, constant holds
    assert _outcome(_payload(ratio=(0.8, 0.81, 0.82, 0.8))) == "partly reproduced"   # constant fails, shape holds
    assert _outcome(_payload(ratio=(0.8, 0.81, 0.82, 0.8), cosine=0.3)) == "not reproduced"
    assert _outcome(_payload(contrast_cv=0.05)) == "partly reproduced"               # contrasts as isometric
    assert _outcome(_payload(methods=("radogaga", "autoencoder"))) == "partly reproduced"  # no β-VAE
    assert _outcome(_payload(sweep_ratio=(0.85, 0.86, 0.85, 0.86))) == "partly reproduced"  # sweep misses
    assert _outcome(_payload(), scale=verdicts.Scale(False, "quick", 1)) == "not yet evaluated"
    assert _outcome({"models": [], "source": np.zeros((3, 2)), "log_px": np.zeros(3)}) == "not reproduced"


def test_isometry_verdict_keeps_the_narrow_settings_as_a_limit_check():
    """The narrow setting (predicted spread about 0.4 bins) is outside the claim: shown, never deciding."""
    for narrow in (0.7, 1.0):
        verdict = theory_isometry.verdict(_payload(narrow_ratio=narrow), EVIDENCE)
        limit = [c for c in verdict.checks if c.name.startswith("limit")]
        assert len(limit) == 1 and "λ2 = 4, s = 0.5" in limit[0].name and limit[0].holds == (narrow < 1)
        assert verdict.outcome == "reproduced"
    domain = [c for c in theory_isometry.verdict(_payload(), EVIDENCE).checks if c.name.startswith("sweep")]
    assert len(domain) == 3  # the three wide settings, the main one included


def test_density_verdict_reaches_every_outcome():
    """Offset std / std log P_x interval below 0.1; mean offset − prediction interval within ±0.1 nats."""
    key = "appendix-a-density"
    assert _outcome(_payload(), key) == "reproduced"
    assert _outcome(_payload(offset_std=0.2), key) == "partly reproduced"
    assert _outcome(_payload(offset_error=0.3), key) == "partly reproduced"
    assert _outcome(_payload(offset_std=0.2, offset_error=-0.3), key) == "not reproduced"
    assert _outcome(_payload(), key, verdicts.Scale(False, "quick", 1)) == "not yet evaluated"
    with pytest.raises(ValueError, match="no rule"):
        _outcome(_payload(), "appendix-a-other")


def test_verdict_uses_the_configured_main_pair():
    """With config naming (256, 1) as the main model, its ratio decides the constant."""
    payload = _payload(sweep_ratio=(0.5, 0.5, 0.5, 0.5))
    config = {"main_lambda2": 256.0, "main_noise_scale": 1.0}
    verdict = theory_isometry.verdict(payload, EVIDENCE, config=config)
    assert verdict.checks[0].name.startswith("main (λ2 = 256, s = 1)") and not verdict.checks[0].holds
