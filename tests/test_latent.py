"""The latent-variable chapter's pieces: the analysis functions on decoders with a known
answer, the two image objectives, and a tiny run of the experiment."""

from __future__ import annotations

import dataclasses

import math

import numpy as np
import pytest
import torch

from radogaga.analysis import diagnostics, latents
from radogaga.experiments import config_for, latent
from radogaga.infra.randomness import Randomness
from radogaga.models.image import ImageBetaVAE, ImageRaDOGAGA, mean_squared_error

TINY = dict(image_channels=1, image_size=16, filters=4, hidden=16, latent=6)


def _linear_decoder(columns: torch.Tensor, shape=(1, 4, 4)):
    """g(z) = columns @ z as images of `shape` (one column per latent)."""
    return lambda z: (z @ columns.T).reshape(len(z), *shape)


def test_variance_spectrum_is_sorted_with_its_order_and_share():
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(5_000, 4)) * [1.0, 3.0, 0.5, 2.0]
    spectrum = latents.variance_spectrum(samples)
    assert list(spectrum.order) == [1, 3, 0, 2]
    assert np.all(np.diff(spectrum.variances) <= 0)
    np.testing.assert_allclose(spectrum.variances, [9.0, 4.0, 1.0, 0.25], rtol=0.06)  # 5,000 draws
    assert latents.top_share(spectrum, 4) == pytest.approx(1.0)
    assert latents.top_share(spectrum, 1) == pytest.approx(spectrum.variances[0] / spectrum.variances.sum())
    with pytest.raises(ValueError, match="k=5"):
        latents.top_share(spectrum, 5)
    with pytest.raises(ValueError, match="n >= 2"):
        latents.variance_spectrum(np.zeros(3))


def test_axis_ratios_of_a_linear_decoder_are_its_squared_column_norms():
    """D = mean squared error: D(g(z), g(z + ε e_j)) / ε² = ‖G_j‖² / 16 exactly (to 1e-10)."""
    columns = torch.randn(16, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    decode = _linear_decoder(columns)
    z = torch.randn(7, 5, dtype=torch.float64)
    ratios = diagnostics.axis_ratios(decode, z, 0.3, mean_squared_error, axes=[4, 0])
    expected = columns.square().sum(0)[[4, 0]] / 16
    torch.testing.assert_close(ratios, expected, rtol=1e-10, atol=0)


def test_isometry_products_of_a_scaled_isometry_fall_on_the_line():
    """A decoder with orthogonal columns of squared mean norm c: products = c vᵀw (to 1e-9),
    correlation 1 and slope c; a stretched decoder breaks both."""
    q, _ = torch.linalg.qr(torch.randn(16, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64))
    c = 0.7
    decode = _linear_decoder(q * math.sqrt(16 * c))
    z = torch.randn(50, 5, dtype=torch.float64)
    pairs = latents.direction_pairs(50, 3, torch.Generator().manual_seed(3))
    torch.testing.assert_close(pairs.v.norm(dim=1), torch.ones(50, dtype=torch.float64))
    torch.testing.assert_close(pairs.w.norm(dim=1), torch.ones(50, dtype=torch.float64))
    assert pairs.cosines.min() < -0.5 and pairs.cosines.max() > 0.5  # angles spread over [0, π]
    embedded = _linear_decoder(torch.cat([q * math.sqrt(16 * c), torch.zeros(16, 2, dtype=torch.float64)], 1))
    products = latents.isometry_products(embedded, z, pairs, 0.01, axes=[0, 1, 2])
    torch.testing.assert_close(products, c * pairs.cosines, rtol=0, atol=1e-9)
    cosines, values = pairs.cosines.numpy(), products.numpy()
    assert np.corrcoef(cosines, values)[0, 1] == pytest.approx(1.0, abs=1e-12)
    assert latents.slope_through_origin(cosines, values) == pytest.approx(c, rel=1e-9)
    stretched = latents.isometry_products(_linear_decoder(q * torch.tensor([1.0, 3.0, 0.2],
                                                  dtype=torch.float64)), z[:, :3], pairs, 0.01)
    assert np.corrcoef(cosines, stretched.numpy())[0, 1] < 0.95
    with pytest.raises(ValueError, match="do not fit"):
        latents.isometry_products(decode, z, pairs, 0.01)


def test_traversal_moves_one_axis_by_its_scale():
    decode = lambda z: z[:, :, None, None].expand(-1, -1, 2, 2)  # noqa: E731 (images of the latent itself)
    center = torch.tensor([1.0, -1.0, 0.5])
    images = latents.traversal(decode, center, axes=[2, 0], scales=[0.5, 2.0], offsets=[-2.0, 0.0, 2.0])
    assert images.shape == (2, 3, 3, 2, 2)
    torch.testing.assert_close(images[0, :, 2, 0, 0], torch.tensor([-0.5, 0.5, 1.5]))
    torch.testing.assert_close(images[1, :, 0, 0, 0], torch.tensor([-3.0, 1.0, 5.0]))
    torch.testing.assert_close(images[:, :, 1, 0, 0], torch.full((2, 3), -1.0))  # untouched axis
    with pytest.raises(ValueError, match="one scale per axis"):
        latents.traversal(decode, center, axes=[0], scales=[1.0, 2.0], offsets=[0.0])


def test_pca_recovers_a_known_spectrum_and_rebuilds_exactly_at_full_rank():
    rng = np.random.default_rng(4)
    axes, _ = np.linalg.qr(rng.normal(size=(12, 3)))
    images = (rng.normal(size=(4_000, 3)) * [3.0, 1.0, 0.3]) @ axes.T + 0.5
    pca = latents.fit_pca(images.reshape(-1, 1, 3, 4))
    np.testing.assert_allclose(pca.variances[:3], [9.0, 1.0, 0.09], rtol=0.06)  # 4,000 draws
    assert pca.variances[3:].max() < 1e-20
    np.testing.assert_allclose(np.abs(pca.axes[:3] @ axes), np.eye(3), atol=0.02)
    sample = images[:5].reshape(-1, 1, 3, 4)
    np.testing.assert_allclose(pca.reconstruct(sample, 3), sample, atol=1e-10)
    with pytest.raises(ValueError, match="k=0"):
        pca.reconstruct(sample, 0)


def test_keep_top_holds_other_latents_at_their_mean():
    z = torch.arange(12.0).reshape(4, 3)
    kept = latents.keep_top(z, [1])
    torch.testing.assert_close(kept[:, 1], z[:, 1])
    torch.testing.assert_close(kept[:, [0, 2]], z[:, [0, 2]].mean(0).expand(4, 2))


def test_coefficient_of_variation():
    assert latents.coefficient_of_variation(np.array([2.0, 2.0, 2.0])) == 0.0
    assert latents.coefficient_of_variation(np.array([1.0, 3.0])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="positive mean"):
        latents.coefficient_of_variation(np.array([0.0, 0.0]))


def test_image_radogaga_cost_in_the_authors_units():
    """rate in bits per pixel + λ1 log(MSE + 0.001) + λ2 MSE(x̂, x̆), recomputed by hand (1e-5)."""
    model = ImageRaDOGAGA(TINY, lambda1=0.2, lambda2=0.3, distortion="mse", seed=0)
    x = torch.rand(1, 5, 1, 16, 16, generator=torch.Generator().manual_seed(5))
    loss = model.loss(x, Randomness([0], torch.device("cpu")))
    u = Randomness([0], torch.device("cpu")).uniform((5, 6))[0] - 0.5
    with torch.no_grad():
        z = model.latents(x[0])
        x_hat, x_noisy = model.decode(z), model.decode(z + u)
        bits = -model.prior.log_likelihood((z + u)[None])[0] / math.log(2)
        expected = (bits.mean() / 256 + 0.2 * torch.log(((x[0] - x_hat) ** 2).mean() + 1e-3)
                    + 0.3 * ((x_hat - x_noisy) ** 2).mean())
    torch.testing.assert_close(loss.detach(), expected[None], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="unknown distortion"):
        ImageRaDOGAGA(TINY, 0.1, 0.1, "l1", seed=0)
    with pytest.raises(ValueError, match="M=1"):
        model.loss(x.expand(2, -1, -1, -1, -1), Randomness([0, 1], torch.device("cpu")))


def test_image_beta_vae_uses_its_mean_as_latent_and_trains_finite():
    model = ImageBetaVAE(TINY, lam=100.0, distortion="ssim")
    x = torch.rand(1, 4, 1, 16, 16, generator=torch.Generator().manual_seed(6))
    loss = model.loss(x, Randomness([0], torch.device("cpu")))
    assert loss.shape == (1,) and torch.isfinite(loss).all()
    torch.testing.assert_close(model.latents(x[0]), model.network.encode(x[0])[0])


def test_predicted_constant_for_the_image_units():
    """Rate in bits per pixel, D a mean: 1 / (2 λ2 ln 2 σ² H W) with σ² = 1/12."""
    assert latent.predicted_constant(0.1, 64) == pytest.approx(12 / (2 * 0.1 * math.log(2) * 64 * 64))


def test_lambda2_rule_puts_the_kth_predicted_latent_at_the_noise_variance():
    """At the rule's λ2 the k-th PCA variance over M c̄(λ2) is σ² = 1/12 (to 1e-12), and the rule
    is C / (2 ln 2 var_k) in closed form; a k beyond the spectrum is refused."""
    variances = np.array([4.0, 1.0, 0.25])
    for k, channels, side in ((1, 1, 32), (3, 3, 64)):
        lam = latent.lambda2_for_wide_latents(variances, k, side, channels)
        predicted_variance = variances[k - 1] / (channels * side**2 * latent.predicted_constant(lam, side))
        assert predicted_variance == pytest.approx(1 / 12, rel=1e-12)
        assert lam == pytest.approx(channels / (2 * math.log(2) * variances[k - 1]), rel=1e-12)
    with pytest.raises(ValueError, match="k=4"):
        latent.lambda2_for_wide_latents(variances, 4, 32)


def test_converged_profile_uses_the_lambda2_rule_on_its_training_images(data_root):
    """The olivetti-converged λ2 is the rule's value (k = share_dims) on its own training images,
    rounded to two digits (within 2 %), and λ1 keeps the authors' ratio to λ2 for both distortions."""
    config, authors = latent.PROFILES["olivetti-converged"], latent.Config()
    images, _ = latent.load_images(config)
    train_rows, _ = latent.split(len(images), config.n_eval, config.data_seed)
    variances = latents.fit_pca(images[train_rows]).variances
    rule = latent.lambda2_for_wide_latents(variances, config.share_dims, config.image_size)
    for distortion in latent.DISTORTIONS:
        lambda1, lambda2 = getattr(config, f"radogaga_{distortion}_lambdas")
        authors_lambda1, authors_lambda2 = getattr(authors, f"radogaga_{distortion}_lambdas")
        assert lambda2 == pytest.approx(rule, rel=0.02)
        assert lambda1 / lambda2 == pytest.approx(authors_lambda1 / authors_lambda2, rel=1e-12)


def test_config_is_checked():
    with pytest.raises(ValueError, match="data"):
        config_for("latent", "quick", data="mnist")
    with pytest.raises(ValueError, match="main_epsilon"):
        config_for("latent", "quick", main_epsilon=0.5)
    with pytest.raises(ValueError, match="must divide"):
        config_for("latent", "quick", image_size=48)
    with pytest.raises(ValueError, match="n_eval"):
        latent.split(10, 10, seed=0)


def test_experiment_runs_at_a_tiny_config():
    """20 steps on 16 x 16 faces: every model reports sorted variances, finite ratios of the
    nine top latents at each ε, traversal images and the PCA reference."""
    config = config_for("latent", "quick", image_size=16, filters=4, hidden=16, latent=12, steps=20,
                        batch_size=8, n_eval=20, isometry_pairs=2, n_examples=2)
    threads = torch.get_num_threads()
    payload = latent.run(config, torch.device("cpu"))
    assert torch.get_num_threads() == threads
    assert set(payload["models"]) == set(latent.MODELS)
    assert payload["n_train"] + payload["n_eval"] == 400
    for name, model in payload["models"].items():
        assert np.all(np.diff(model["variances"]) <= 0), name
        assert model["ratios_mse"].shape == model["ratios_ssim"].shape == (3, 9)
        assert np.isfinite(model["ratios_mse"]).all() and np.isfinite(model["ratios_ssim"]).all()
        assert model["traversals"].shape == (9, 7, 1, 16, 16) and model["traversals"].dtype == np.uint8
        assert model["isometry_products"].shape == (40,)
        assert 0 < model["top_share"] <= 1 and 0 < model["eval"]["ssim"] < 1
    assert payload["models"]["radogaga_mse"]["predicted"] == pytest.approx(latent.predicted_constant(0.1, 16))
    assert payload["pca"]["variances"].shape == (256,) and payload["originals"].shape == (2, 1, 16, 16)


def test_loss_drop_measures_the_last_tenth_against_the_tenth_before():
    falling = [[100.0 - step] for step in range(100)]  # 10 checks per tenth, one model
    before, last = 100 - np.mean(range(80, 90)), 100 - np.mean(range(90, 100))  # 15.5 and 5.5
    assert latent.loss_drop(falling) == pytest.approx((before - last) / before)
    assert latent.loss_drop([[2.0]] * 40) == 0.0
    with pytest.raises(ValueError, match="too few"):
        latent.loss_drop([[1.0]])


def test_loss_curve_stores_block_means_of_every_step():
    steps = list(range(1, 1001))
    losses = [[float(step)] for step in steps]  # loss = step number, every step recorded
    curve_steps, curve = latent.loss_curve(losses, steps)
    assert len(curve) == latent.CURVE_POINTS == 200 and curve_steps[0] == 5 and curve_steps[-1] == 1000
    assert curve[0] == pytest.approx(3.0) and curve[-1] == pytest.approx(998.0)  # means of 1..5 and 996..1000
    short_steps, short = latent.loss_curve(losses[:7], steps[:7])  # fewer checks than points: kept as they are
    assert short_steps == steps[:7] and short == [float(s) for s in steps[:7]]
    uneven_steps, uneven = latent.loss_curve(losses[:401], steps[:401])  # blocks of 3, the last one shorter
    assert uneven_steps[-1] == 401 and uneven[-1] == pytest.approx(400.5) and len(uneven) == 134


def test_training_set_adds_mirror_copies_of_training_rows_only():
    images = np.arange(5 * 1 * 2 * 3, dtype=np.float32).reshape(5, 1, 2, 3)
    train_rows = np.array([0, 2, 3])
    same, rows = latent.training_set(images, train_rows, mirror=False)
    assert same is images and rows is train_rows
    pooled, rows = latent.training_set(images, train_rows, mirror=True)
    assert pooled.shape == (8, 1, 2, 3) and rows.tolist() == [0, 2, 3, 5, 6, 7]
    np.testing.assert_array_equal(pooled[:5], images)  # the loaded images keep their rows
    np.testing.assert_array_equal(pooled[5:], images[train_rows][..., ::-1])  # left-right mirrors, in order
    assert not any(np.array_equal(pooled[row], images[held_out][..., ::-1]) for row in rows for held_out in (1, 4))


def test_every_step_of_training_is_a_loss_check():
    assert latent.PROFILES["olivetti-converged"].train_settings().check_every == latent.LOSS_EVERY == 1


def test_seeds_train_every_model_and_keep_numbers_per_seed(data_root):
    config = dataclasses.replace(latent.PROFILES["quick"], steps=20, seeds=(0, 1), n_eval=40, n_examples=2,
                                 lr_schedule="cosine", warmup_steps=5, lr_floor=0.1)
    payload = latent.run(config, torch.device("cpu"))
    assert payload["seeds"] == [0, 1] and len(payload["per_seed"]) == 2
    for models in payload["per_seed"]:
        assert set(models) == set(latent.MODELS)
        for m in models.values():
            assert "traversals" not in m and np.isfinite(m["eval"]["psnr"]) and np.isfinite(m["loss_drop_last_tenth"])
    first, second = (payload["per_seed"][i]["radogaga_mse"]["final_loss"] for i in (0, 1))
    assert first != second  # another seed, other weights
    assert payload["models"]["radogaga_mse"]["final_loss"] == first  # the figures' models are the first seed's


def test_worker_processes_give_the_numbers_of_one_process(data_root):
    config = dataclasses.replace(latent.PROFILES["quick"], image_size=16, filters=4, hidden=16, latent=16, steps=12,
                                 n_eval=40, n_examples=2, seeds=(0,), epsilons=(0.1,), main_epsilon=0.1)
    serial = latent.run(config, torch.device("cpu"))
    parallel = latent.run(config, torch.device("cpu"), workers=2)
    for name in latent.MODELS:
        ours, theirs = serial["models"][name], parallel["models"][name]
        assert ours["losses"] == theirs["losses"]  # the same training, step for step
        for key in ("variances", "ratios_mse", "ratios_ssim", "traversals", "examples"):
            np.testing.assert_array_equal(ours[key], theirs[key])
        assert ours["eval"] == theirs["eval"]
    with pytest.raises(ValueError, match="'workers' = 0"):
        latent.run(config, torch.device("cpu"), workers=0)
    with pytest.raises(ValueError, match="applies to the CPU"):
        latent.run(config, torch.device("cuda"), workers=2)  # refused before any device is touched


def test_a_killed_run_resumes_from_its_checkpoints_to_the_same_numbers(data_root, tmp_path, monkeypatch):
    config = dataclasses.replace(latent.PROFILES["quick"], image_size=16, filters=4, hidden=16, latent=16, steps=12,
                                 n_eval=40, n_examples=2, seeds=(0,), epsilons=(0.1,), main_epsilon=0.1)
    uninterrupted = latent.run(config, torch.device("cpu"))

    class Killed(Exception):
        pass

    original = latent.measure
    calls = []

    def dies_measuring_the_third(*args, **kwargs):  # two models trained and measured, the third trained
        calls.append(1)
        if len(calls) == 3:
            raise Killed
        return original(*args, **kwargs)

    monkeypatch.setattr(latent, "measure", dies_measuring_the_third)
    with pytest.raises(Killed):
        latent.run(config, torch.device("cpu"), checkpoint_dir=tmp_path)
    assert len(list(tmp_path.glob("seed-0-*.pt"))) == 3
    monkeypatch.setattr(latent, "measure", original)
    resumed = latent.run(config, torch.device("cpu"), checkpoint_dir=tmp_path)
    for name in latent.MODELS:
        ours, theirs = resumed["models"][name], uninterrupted["models"][name]
        assert ours["losses"] == theirs["losses"]
        np.testing.assert_array_equal(ours["variances"], theirs["variances"])
        assert ours["eval"] == theirs["eval"]
    # The three models trained before the kill resume at their last step; the fourth trains from the start.
    assert [resumed["models"][name]["resumed_from_step"] for name in latent.MODELS] == [12, 12, 12, 0]
