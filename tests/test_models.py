"""Unit tests of radogaga.models: batched MLPs, the DAGMM mixture, the factorized prior,
GDN, the convolutional autoencoder and the β-VAE head. Tolerances are stated in each check."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from radogaga.models import (
    GDN,
    LIKELIHOOD_FLOOR,
    ConvAutoencoder,
    ConvBetaVAE,
    EstimationNet,
    FactorizedPrior,
    MixtureAccumulator,
    StackedLinear,
    StackedMLP,
    activation_by_name,
    inverse_diagonal_penalty,
    kl_to_standard_normal,
    log_density,
    mixture_statistics,
    model_generators,
    reparameterize,
)

TINY_IMAGE = dict(image_channels=3, image_size=32, filters=8, hidden=32, latent=16)


def _random_mixture(rng: np.random.Generator, n_models: int, n_components: int, dim: int):
    """Random mixture parameters as float64 tensors: weights (M, K), means (M, K, d), SPD covariances."""
    weights = rng.dirichlet(np.ones(n_components), size=n_models)
    means = rng.normal(scale=2.0, size=(n_models, n_components, dim))
    factors = rng.normal(size=(n_models, n_components, dim, dim))
    covariances = factors @ factors.transpose(0, 1, 3, 2) + 0.5 * np.eye(dim)
    return tuple(torch.from_numpy(a) for a in (weights, means, covariances))


def _assert_all_gradients_nonzero(module: torch.nn.Module, per_model: bool = False) -> None:
    for name, parameter in module.named_parameters():
        assert parameter.grad is not None, f"{name} got no gradient"
        slices = parameter.grad if per_model else parameter.grad.unsqueeze(0)
        for index, grad in enumerate(slices):
            assert grad.abs().sum() > 0, f"{name} (model {index}) got an all-zero gradient"


# ---- stacked models ------------------------------------------------------------------


def test_stacked_linear_matches_a_loop_over_models():
    layer = StackedLinear(3, 4, 6).double()
    x = torch.randn(3, 5, 4, dtype=torch.float64)
    out = layer(x)
    for m in range(3):
        expected = x[m] @ layer.weight[m] + layer.bias[m]
        torch.testing.assert_close(out[m], expected, rtol=0, atol=1e-12, msg="float64, atol 1e-12")


@pytest.mark.parametrize("activation", ["tanh", "relu", "softplus", "sigmoid", "identity"])
def test_stacked_mlp_matches_a_loop_over_models(activation):
    mlp = StackedMLP(3, [4, 7, 5, 2], activation).double()
    act = activation_by_name(activation)
    x = torch.randn(3, 6, 4, dtype=torch.float64)
    out = mlp(x)
    assert out.shape == (3, 6, 2)
    for m in range(3):
        h = x[m]
        for index, layer in enumerate(mlp.layers):
            h = h @ layer.weight[m] + layer.bias[m]
            h = act(h) if index < len(mlp.layers) - 1 else h
        torch.testing.assert_close(out[m], h, rtol=0, atol=1e-12, msg="float64, atol 1e-12")


@pytest.mark.parametrize("position", [0, 2, 3])
def test_initial_weights_depend_only_on_the_seed(position):
    widths, seed = [16, 64, 3], 7
    seeds = [11, 12, 13, 14]
    seeds[position] = seed
    alone = StackedMLP(1, widths, generators=model_generators([seed]))
    stacked = StackedMLP(4, widths, generators=model_generators(seeds))
    for (name, single), (_, many) in zip(alone.named_parameters(), stacked.named_parameters()):
        assert torch.equal(single[0], many[position]), f"{name}: must be bit-identical"
    prior_alone = FactorizedPrior(1, 3, generators=model_generators([seed]))
    prior_stacked = FactorizedPrior(4, 3, generators=model_generators(seeds))
    for single, many in zip(prior_alone.parameters(), prior_stacked.parameters()):
        assert torch.equal(single[0], many[position]), "prior: must be bit-identical"


def test_linear_initialisation_bounds():
    layer = StackedLinear(2, 25, 400, generators=model_generators([0, 1]))
    bound = 1 / 25**0.5
    for tensor in (layer.weight, layer.bias):
        assert tensor.abs().max() <= bound and tensor.abs().max() > 0.9 * bound, "U(-1/sqrt(in), 1/sqrt(in))"
    assert not torch.equal(layer.weight[0], layer.weight[1]), "different seeds, different weights"


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: StackedMLP(2, [3]), "at least an input and an output"),
        (lambda: StackedMLP(2, [3, 0, 1]), "widths\\[1\\]"),
        (lambda: StackedMLP(0, [3, 1]), "n_models"),
        (lambda: StackedMLP(2, [3, 1], activation="gelu"), "'tanh', 'relu', 'softplus', 'sigmoid', 'identity'"),
        (lambda: StackedLinear(3, 2, 2, generators=model_generators([0, 1])), "one generator per model \\(3\\)"),
        (lambda: model_generators([0, -1]), "seeds\\[1\\]"),
        (lambda: EstimationNet(2, 3, 10, 4, dropout=1.0), "dropout"),
    ],
)
def test_bad_construction_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_stacked_linear_rejects_wrong_input_shape():
    layer = StackedLinear(2, 4, 3)
    with pytest.raises(ValueError, match=r"x must have shape \(M=2, B, in=4\); got \(2, 5, 3\)"):
        layer(torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match=r"got \(3, 5, 4\)"):
        layer(torch.randn(3, 5, 4))


# ---- Gaussian mixture ----------------------------------------------------------------


@pytest.mark.parametrize("n_models, n_components, dim", [(1, 1, 1), (2, 3, 2), (3, 4, 5)])
def test_log_density_matches_scipy(n_models, n_components, dim):
    rng = np.random.default_rng(n_models * 100 + n_components * 10 + dim)
    weights, means, covariances = _random_mixture(rng, n_models, n_components, dim)
    z = torch.from_numpy(rng.normal(scale=3.0, size=(n_models, 50, dim)))
    jitter = 1e-6
    ours = log_density(z, weights, means, covariances, jitter=jitter).numpy()
    for m in range(n_models):
        per_component = [
            np.log(weights[m, k].item())
            + multivariate_normal(means[m, k].numpy(), covariances[m, k].numpy() + jitter * np.eye(dim)).logpdf(
                z[m].numpy()).reshape(-1)
            for k in range(n_components)
        ]
        expected = logsumexp(np.stack(per_component), axis=0)
        np.testing.assert_allclose(ours[m], expected, rtol=0, atol=1e-5, err_msg="float64, atol 1e-5")


def test_mixture_statistics_equal_streamed_statistics():
    generator = torch.Generator().manual_seed(0)
    gamma = torch.softmax(torch.randn(3, 200, 4, generator=generator, dtype=torch.float64), dim=-1)
    z = torch.randn(3, 200, 5, generator=generator, dtype=torch.float64) * 2 + 1
    accumulator = MixtureAccumulator()
    for start in range(0, 200, 64):
        accumulator.add(gamma[:, start:start + 64], z[:, start:start + 64])
    for whole, streamed in zip(mixture_statistics(gamma, z), accumulator.statistics()):
        torch.testing.assert_close(streamed, whole, rtol=0, atol=1e-6, msg="float64, atol 1e-6")
    weights, means, covariances = mixture_statistics(gamma, z)
    assert weights.shape == (3, 4) and means.shape == (3, 4, 5) and covariances.shape == (3, 4, 5, 5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, dtype=torch.float64), msg="weights sum to 1 (float64 default)")
    torch.testing.assert_close(covariances, covariances.transpose(-1, -2), msg="covariances symmetric (float64 default)")


def test_mixture_accumulator_errors():
    accumulator = MixtureAccumulator()
    with pytest.raises(ValueError, match="no batches added"):
        accumulator.statistics()
    accumulator.add(torch.full((2, 5, 3), 1 / 3), torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match=r"z must have shape \(M=2, B=6, d=4\)"):
        accumulator.add(torch.full((2, 6, 3), 1 / 3), torch.randn(2, 6, 2))


def test_every_parameter_trains_through_the_mixture_energy():
    n_models, generators = 2, model_generators([0, 1])
    encoder = StackedMLP(n_models, [6, 8, 3], generators=generators)
    estimator = EstimationNet(n_models, 3, hidden=10, n_components=4, generators=generators)
    x = torch.randn(n_models, 64, 6)
    keep_mask = torch.bernoulli(torch.full((n_models, 64, 10), 0.5))
    z = encoder(x)
    weights, means, covariances = mixture_statistics(estimator(z, keep_mask), z)
    energy = -log_density(z, weights, means, covariances).mean(dim=1)
    (energy + 0.005 * inverse_diagonal_penalty(covariances)).sum().backward()
    _assert_all_gradients_nonzero(encoder, per_model=True)
    _assert_all_gradients_nonzero(estimator, per_model=True)


def test_estimation_net_memberships_and_dropout_mask():
    net = EstimationNet(2, 3, hidden=10, n_components=4, dropout=0.5)
    features = torch.randn(2, 7, 3)
    gamma = net(features)
    assert gamma.shape == (2, 7, 4)
    torch.testing.assert_close(gamma.sum(-1), torch.ones(2, 7), msg="rows sum to 1 (float32 default tol)")
    dropped = net(features, keep_mask=torch.zeros(2, 7, 10))
    expected = torch.softmax(net.output_layer.bias, dim=-1).expand(2, 7, 4)
    torch.testing.assert_close(dropped, expected, msg="all hidden units dropped: memberships from the bias only")
    kept = net(features, keep_mask=torch.ones(2, 7, 10))
    hidden = torch.tanh(net.hidden_layer(features)) * 2
    torch.testing.assert_close(kept, torch.softmax(net.output_layer(hidden), -1), msg="kept units scaled 1/(1-p)")
    with pytest.raises(ValueError, match=r"keep_mask must have shape \(M=2, B=7, hidden=10\)"):
        net(features, keep_mask=torch.ones(2, 7, 9))


def test_inverse_diagonal_penalty():
    covariances = torch.diag_embed(torch.tensor([[[1.0, 2.0], [4.0, 0.5]]]))
    expected = torch.tensor([1 / 1 + 1 / 2 + 1 / 4 + 1 / 0.5])
    torch.testing.assert_close(inverse_diagonal_penalty(covariances, jitter=0.0), expected, msg="exact (1e-6)")


def test_gmm_bad_inputs():
    rng = np.random.default_rng(0)
    weights, means, covariances = _random_mixture(rng, 2, 3, 3)
    z = torch.randn(2, 10, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"z must have shape \(M=2, N, d=3\); got \(2, 10, 4\)"):
        log_density(torch.randn(2, 10, 4, dtype=torch.float64), weights, means, covariances)
    with pytest.raises(ValueError, match=r"covariances must have shape \(M=2, K=3, d=3, d=3\)"):
        log_density(z, weights, means, covariances[..., :2])
    with pytest.raises(ValueError, match=r"z must have shape \(M=2, B=10, d\); got \(2, 9, 3\)"):
        mixture_statistics(torch.full((2, 10, 3), 1 / 3), torch.randn(2, 9, 3))
    with pytest.raises(ValueError, match=r"gamma must have shape \(M, B, K\); got \(10, 3\)"):
        mixture_statistics(torch.full((10, 3), 1 / 3), torch.randn(10, 3))
    z[1, 4, 0] = float("nan")
    with pytest.raises(ValueError, match="z holds non-finite"):
        log_density(z, weights, means, covariances)
    with pytest.raises(ValueError, match="not positive definite"):
        log_density(z.nan_to_num(), weights, means, -covariances)


# ---- factorized prior ----------------------------------------------------------------


def _trained_prior() -> FactorizedPrior:
    """A float64 prior after a few Adam steps on random latents with uniform noise."""
    prior = FactorizedPrior(2, 3, generators=model_generators([0, 1])).double()
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(prior.parameters(), lr=0.05)
    for _ in range(30):
        z = 3 * torch.randn(2, 128, 3, generator=generator, dtype=torch.float64)
        z = z + torch.rand(z.shape, generator=generator, dtype=torch.float64) - 0.5
        optimizer.zero_grad()
        (-prior.log_likelihood(z).mean()).backward()
        optimizer.step()
    return prior


@pytest.fixture(params=["initial", "trained"])
def prior(request) -> FactorizedPrior:
    if request.param == "initial":
        return FactorizedPrior(2, 3, generators=model_generators([0, 1])).double()
    return _trained_prior()


def _grid(prior: FactorizedPrior, low: float, high: float, step: float) -> torch.Tensor:
    """Points (M, N, C): the same 1-D grid for every model and channel."""
    points = torch.arange(low, high + step / 2, step, dtype=torch.float64)
    return points[None, :, None].expand(prior.n_models, -1, prior.channels).contiguous()


def test_prior_cdf_is_monotone(prior):
    with torch.no_grad():
        logits = prior.logits_cdf(_grid(prior, -60, 60, 0.01))
    assert (logits.diff(dim=1) > 0).all(), "logits of the CDF strictly increase on a 0.01 grid (float64)"


def test_prior_training_lowers_the_rate():
    fresh, trained = FactorizedPrior(2, 3, generators=model_generators([0, 1])).double(), _trained_prior()
    z = 3 * torch.randn(2, 512, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        assert trained.log_likelihood(z).mean() > fresh.log_likelihood(z).mean(), "fit raises the likelihood"


def test_prior_bin_probabilities_sum_to_one(prior):
    with torch.no_grad():
        bins = prior.likelihood(_grid(prior, -200, 200, 1.0))
        total = bins.sum(dim=1)
        naive_lower = torch.sigmoid(prior.logits_cdf(_grid(prior, -200.5, 199.5, 1.0)))
        naive = torch.sigmoid(prior.logits_cdf(_grid(prior, -199.5, 200.5, 1.0))) - naive_lower
    torch.testing.assert_close(total, torch.ones_like(total), rtol=0, atol=1e-4, msg="sum over -200..200, atol 1e-4")
    torch.testing.assert_close(bins, naive.clamp_min(LIKELIHOOD_FLOOR), rtol=1e-9, atol=1e-12,
                               msg="sign trick equals the plain difference where both are accurate (float64)")
    assert prior.log_likelihood(_grid(prior, -3, 3, 1.0)).shape == (2, 7)


def test_prior_likelihood_is_floored():
    prior = FactorizedPrior(1, 2).double()
    far = torch.full((1, 1, 2), 1e4, dtype=torch.float64)
    assert torch.equal(prior.likelihood(far), torch.full_like(far, LIKELIHOOD_FLOOR)), "floored at 1e-9"


def test_prior_density_integrates_to_one(prior):
    grid = _grid(prior, -300, 300, 0.005)
    with torch.no_grad():
        density = prior.channel_log_density(grid).exp()
        total = prior.log_density(grid)
    torch.testing.assert_close(total, density.log().sum(-1), msg="log_density sums the channels (float64 default)")
    integral = torch.trapezoid(density, grid[0, :, 0], dim=1)
    torch.testing.assert_close(integral, torch.ones_like(integral), rtol=0, atol=1e-3,
                               msg="trapezoid on [-300, 300], step 0.005: atol 1e-3")


def test_prior_density_is_the_derivative_of_the_cdf(prior):
    z, step = _grid(prior, -20, 20, 0.1), 1e-5
    with torch.no_grad():
        upper, lower = (torch.sigmoid(prior.logits_cdf(z + shift)) for shift in (step, -step))
        finite_difference = (upper - lower) / (2 * step)
        density = prior.channel_log_density(z).exp()
    torch.testing.assert_close(density, finite_difference, rtol=1e-6, atol=1e-9,
                               msg="central difference, step 1e-5, float64: rtol 1e-6, atol 1e-9")


def test_prior_rejects_wrong_channels():
    with pytest.raises(ValueError, match=r"z must have shape \(M=2, B, C=3\); got \(2, 5, 4\)"):
        FactorizedPrior(2, 3).log_density(torch.randn(2, 5, 4))


# ---- GDN, convolutional autoencoder, β-VAE -------------------------------------------


@pytest.mark.parametrize("inverse", [False, True])
def test_gdn_equals_its_formula(inverse):
    gdn = GDN(3, inverse=inverse).double()
    with torch.no_grad():
        gdn.beta_raw.normal_()
        gdn.gamma_raw.normal_()
    x = torch.randn(2, 3, 2, 2, dtype=torch.float64)
    beta, gamma = gdn.beta, gdn.gamma
    assert (beta > 0).all() and (gamma >= 0).all(), "reparameterised beta > 0, gamma >= 0"
    root = torch.sqrt(beta[None, :, None, None] + torch.einsum("ij,bjhw->bihw", gamma, x**2))
    expected = x * root if inverse else x / root
    torch.testing.assert_close(gdn(x), expected, rtol=0, atol=1e-12, msg="float64, atol 1e-12")


def test_gdn_initial_parameters():
    gdn = GDN(4)
    torch.testing.assert_close(gdn.beta, torch.ones(4), msg="beta = 1 (float32 default tol)")
    torch.testing.assert_close(gdn.gamma, 0.1 * torch.eye(4), rtol=0, atol=1e-5, msg="gamma = 0.1 I (atol 1e-5)")


def test_conv_autoencoder_round_trip_and_gradients():
    model = ConvAutoencoder(**TINY_IMAGE)
    x = torch.rand(2, 3, 32, 32)
    z = model.encode(x)
    x_hat = model.decode(z)
    assert z.shape == (2, 16) and x_hat.shape == (2, 3, 32, 32)
    (x_hat - x).square().mean().backward()
    _assert_all_gradients_nonzero(model)


def test_conv_beta_vae_round_trip_and_gradients():
    model = ConvBetaVAE(**TINY_IMAGE)
    x = torch.rand(2, 3, 32, 32)
    mean, log_var = model.encode(x)
    assert mean.shape == log_var.shape == (2, 16)
    z = reparameterize(mean, log_var, torch.randn(2, 16))
    x_hat = model.decode(z)
    assert x_hat.shape == (2, 3, 32, 32)
    ((x_hat - x).square().mean() + kl_to_standard_normal(mean, log_var).mean()).backward()
    _assert_all_gradients_nonzero(model)


def test_conv_models_reject_bad_sizes():
    with pytest.raises(ValueError, match="multiple of 16"):
        ConvAutoencoder(**{**TINY_IMAGE, "image_size": 30})
    model = ConvAutoencoder(**TINY_IMAGE)
    with pytest.raises(ValueError, match=r"x must have shape \(B, C=3, H=32, W=32\); got \(2, 3, 64, 64\)"):
        model.encode(torch.rand(2, 3, 64, 64))
    with pytest.raises(ValueError, match=r"z must have shape \(B, latent=16\)"):
        model.decode(torch.rand(2, 15))


def test_reparameterize_and_kl():
    mean, log_var, noise = torch.randn(5, 4), torch.randn(5, 4), torch.randn(5, 4)
    torch.testing.assert_close(reparameterize(mean, log_var, noise), mean + (0.5 * log_var).exp() * noise)
    posterior = torch.distributions.Normal(mean, (0.5 * log_var).exp())
    standard = torch.distributions.Normal(torch.zeros(5, 4), torch.ones(5, 4))
    expected = torch.distributions.kl_divergence(posterior, standard).sum(-1)
    torch.testing.assert_close(kl_to_standard_normal(mean, log_var), expected, msg="float32 default tol")
    with pytest.raises(ValueError, match=r"noise must have the shape of mean, \(5, 4\); got \(5, 3\)"):
        reparameterize(mean, log_var, torch.randn(5, 3))
