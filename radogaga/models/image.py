"""The two image models of Sec. 4.3 as trainer objectives: RaDOGAGA (the convolutional
autoencoder with a factorized prior) and the β-VAE on the same network.

The trainer hands a batch of shape (M, B, C, H, W); these are single models, so M = 1.
Units follow the authors' image code: distortions are means over the C·H·W values of an
image, and RaDOGAGA's rate is in bits per pixel (bits / (H·W)); the β-VAE's KL stays in
nats, summed over latents, as in their `vae.py`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from radogaga.infra.checks import check_shape
from radogaga.infra.randomness import Randomness
from radogaga.models.conv import ConvAutoencoder
from radogaga.models.factorized import UNIFORM_NOISE_VARIANCE
from radogaga.models.prior import FactorizedPrior
from radogaga.models.stacked import model_generators
from radogaga.models.vae import ConvBetaVAE, kl_to_standard_normal, reparameterize
from radogaga.objectives import (
    CoefficientBuffers,
    Coefficients,
    CostTerms,
    distortion as distortion_by_name,
    squared_error,
    stacked_cost,
)


def mean_squared_error(a: Tensor, b: Tensor) -> Tensor:
    """Per image mean of (a - b)² over (C, H, W): images (..., C, H, W) -> (...)."""
    return squared_error(a, b, event_dims=3, reduction="mean")


def ssim_form(a: Tensor, b: Tensor) -> Tensor:
    """The SSIM quadratic form (b - a)ᵀ A(a) (b - a) per image (paper, Appendix C)."""
    return distortion_by_name("ssim_quadratic", a, b)


DISTORTIONS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"mse": mean_squared_error, "ssim": ssim_form}


def _distortion(name: str) -> Callable[[Tensor, Tensor], Tensor]:
    if name not in DISTORTIONS:
        raise ValueError(f"unknown distortion {name!r}; choose one of {', '.join(DISTORTIONS)}")
    return DISTORTIONS[name]


def _one_model(x: Tensor, image_shape: tuple[int, int, int]) -> Tensor:
    """The (B, C, H, W) images of a trainer batch (1, B, C, H, W)."""
    check_shape("x", x, ("M", 1), ("B", None), *zip(("C", "H", "W"), image_shape))
    return x[0]


class _ImageObjective(nn.Module):
    """What both models share: a label, the image shape, the network, and their coefficients."""

    network: ConvAutoencoder | ConvBetaVAE

    def __init__(self, coefficients: Coefficients, label: str, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.labels = [label]
        self.image_shape = image_shape
        self.costs = CoefficientBuffers([coefficients])

    def decode(self, z: Tensor) -> Tensor:
        """Latents (B, latent) -> images (B, C, H, W)."""
        return self.network.decode(z)

    def _cost(self, rate: Tensor, reconstruction: Tensor, noise: Tensor) -> Tensor:
        zero = torch.zeros(1, device=rate.device, dtype=rate.dtype)
        terms = CostTerms(rate=rate[None], reconstruction=reconstruction[None], noise=noise[None], covariance=zero)
        return stacked_cost(terms, self.costs.tensors())


class ImageRaDOGAGA(_ImageObjective):
    """RaDOGAGA on images: −log2 P(z + u) / (H·W) + λ1 log(MSE(x, x̂) + 0.001) + λ2 D(x̂, x̆).

    u ~ U(-1/2, 1/2) is the one noise draw of Ballé's entropy bottleneck (σ² = 1/12),
    x̆ = g(z + u); D is "mse" or "ssim" (the SSIM quadratic form), while the first term stays
    the log of the mean squared error, as in the authors' `rdae.py`. `network` holds the
    ConvAutoencoder keyword arguments; the prior is seeded by `seed`.
    """

    noise_variance = UNIFORM_NOISE_VARIANCE

    def __init__(self, network: dict, lambda1: float, lambda2: float, distortion: str, seed: int,
                 label: str = "RaDOGAGA") -> None:
        autoencoder = ConvAutoencoder(**network)
        shape = (autoencoder.features.image_channels, autoencoder.features.image_size,
                 autoencoder.features.image_size)
        self.pixels = shape[1] * shape[2]
        coefficients = Coefficients(rate=1 / (self.pixels * math.log(2)), reconstruction=lambda1, noise=lambda2,
                                    h="log")
        super().__init__(coefficients, label, shape)
        self.network = autoencoder
        self.prior = FactorizedPrior(1, autoencoder.to_latent.out_features, generators=model_generators([seed]))
        self.noise_distortion = _distortion(distortion)

    def latents(self, images: Tensor) -> Tensor:
        """The latent z = f(x) of images (B, C, H, W): (B, latent)."""
        return self.network.encode(images)

    def loss(self, x: Tensor, randomness: Randomness) -> Tensor:
        """The (1,) cost of a batch x (1, B, C, H, W)."""
        images = _one_model(x, self.image_shape)
        z = self.network.encode(images)
        u = randomness.uniform(z.shape, dtype=z.dtype)[0] - 0.5
        x_hat, x_noisy = self.network.decode(torch.cat([z, z + u])).chunk(2)
        rate = -self.prior.log_likelihood((z + u)[None])[0]
        return self._cost(rate, mean_squared_error(images, x_hat), self.noise_distortion(x_hat, x_noisy))


class ImageBetaVAE(_ImageObjective):
    """The authors' β-VAE on the same network: KL + λ D(x, g(μ)) + λ D(g(μ), g(z)),
    z = μ + exp(log_var / 2) ε, with D "mse" or "ssim" in both terms (their `vae.py`)."""

    def __init__(self, network: dict, lam: float, distortion: str, label: str = "β-VAE") -> None:
        vae = ConvBetaVAE(**network)
        shape = (vae.features.image_channels, vae.features.image_size, vae.features.image_size)
        super().__init__(Coefficients.beta_vae(lam), label, shape)
        self.network = vae
        self.distortion = _distortion(distortion)

    def latents(self, images: Tensor) -> Tensor:
        """The posterior mean μ of images (B, C, H, W): (B, latent)."""
        return self.network.encode(images)[0]

    def loss(self, x: Tensor, randomness: Randomness) -> Tensor:
        """The (1,) cost of a batch x (1, B, C, H, W)."""
        images = _one_model(x, self.image_shape)
        mean, log_var = self.network.encode(images)
        z = reparameterize(mean, log_var, randomness.normal(mean.shape, dtype=mean.dtype)[0])
        x_mean, x_sampled = self.network.decode(torch.cat([mean, z])).chunk(2)
        return self._cost(kl_to_standard_normal(mean, log_var), self.distortion(images, x_mean),
                          self.distortion(x_mean, x_sampled))
