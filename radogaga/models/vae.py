"""The β-VAE baseline of Sec. 4.3: a Gaussian encoder head on the same convolutional network."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from radogaga.infra import checks
from radogaga.infra.checks import check_shape
from radogaga.models.conv import ConvDecoder, ConvFeatures


class GaussianHead(nn.Module):
    """Features (B, in_features) -> (mean, log_var), each (B, latent), from one dense layer."""

    def __init__(self, in_features: int, latent: int) -> None:
        super().__init__()
        self.latent = checks.positive_int("latent", latent)
        self.linear = nn.Linear(checks.positive_int("in_features", in_features), 2 * latent)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        check_shape("features", features, ("B", None), ("in_features", self.linear.in_features))
        mean, log_var = self.linear(features).chunk(2, dim=-1)
        return mean, log_var


def _check_like_mean(mean: Tensor, **others: Tensor) -> None:
    for name, tensor in others.items():
        if tensor.shape != mean.shape:
            raise ValueError(f"{name} must have the shape of mean, {tuple(mean.shape)}; got {tuple(tensor.shape)}")


def reparameterize(mean: Tensor, log_var: Tensor, noise: Tensor) -> Tensor:
    """z = mean + exp(log_var / 2) * noise, with the standard normal `noise` drawn by the caller."""
    _check_like_mean(mean, log_var=log_var, noise=noise)
    return mean + torch.exp(0.5 * log_var) * noise


def kl_to_standard_normal(mean: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(mean, diag exp(log_var)) || N(0, I)) in nats, summed over the last axis: (B, latent) -> (B,)."""
    _check_like_mean(mean, log_var=log_var)
    return 0.5 * (mean.square() + log_var.exp() - 1 - log_var).sum(dim=-1)


class ConvBetaVAE(nn.Module):
    """ConvAutoencoder's network with a GaussianHead in place of its last encoder layer.

    `encode` gives (mean, log_var), each (B, latent); `decode` maps (B, latent) to images
    with a linear output (no sigmoid).
    """

    def __init__(self, image_channels: int = 3, image_size: int = 64, filters: int = 64,
                 hidden: int = 8192, latent: int = 256) -> None:
        super().__init__()
        self.features = ConvFeatures(image_channels, image_size, filters, hidden)
        self.head = GaussianHead(hidden, latent)
        self.decoder = ConvDecoder(image_channels, image_size, filters, hidden, latent)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Images (B, C, S, S) -> (mean, log_var), each (B, latent)."""
        return self.head(self.features(x))

    def decode(self, z: Tensor) -> Tensor:
        """Latents (B, latent) -> reconstructions (B, C, S, S)."""
        return self.decoder(z)
