"""The paper's image model (Sec. 4.3, official code): convolutions with GDN, then dense layers.

Encoder: conv 9x9/2 + GDN, conv 5x5/2 + GDN, conv 5x5/2 + GDN, conv 5x5/2 (`filters` each),
flatten (4x4x64 for a 64x64 image), dense `hidden` + softplus, dense `latent`. The decoder
mirrors it: dense `hidden` + softplus, dense back to the feature map, transposed convs
5x5/2 + IGDN (three times) and a 9x9/2 transposed conv to the image channels. Single
models (no model axis): the image experiments train one model at a time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from radogaga.infra import checks
from radogaga.infra.checks import check_shape

_DOWNSAMPLING = 16  # four stride-2 layers
_KERNELS = (9, 5, 5, 5)


def _inverse_softplus(value: float) -> float:
    return math.log(math.expm1(value))


def _feature_side(image_size: int) -> int:
    """Side of the smallest feature map for a square image of side `image_size` (a multiple of 16)."""
    if checks.positive_int("image_size", image_size) % _DOWNSAMPLING:
        raise ValueError(f"image_size must be a multiple of {_DOWNSAMPLING}; got {image_size}")
    return image_size // _DOWNSAMPLING


class GDN(nn.Module):
    """Generalized divisive normalization (Ballé, Laparra, Simoncelli 2016).

    y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2) at every pixel; with `inverse=True`
    (IGDN) the same root multiplies instead. beta = softplus(.) + 1e-6 and gamma = softplus(.)
    keep both non-negative; initially beta = 1 and gamma = 0.1 I (off-diagonal 1e-6, so
    that those entries still get a gradient).
    """

    BETA_MIN = 1e-6

    def __init__(self, channels: int, inverse: bool = False) -> None:
        super().__init__()
        self.channels = checks.positive_int("channels", channels)
        self.inverse = checks.boolean("inverse", inverse)
        self.beta_raw = nn.Parameter(torch.full((channels,), _inverse_softplus(1.0 - self.BETA_MIN)))
        gamma = torch.full((channels, channels), _inverse_softplus(1e-6))
        self.gamma_raw = nn.Parameter(gamma.fill_diagonal_(_inverse_softplus(0.1)))

    @property
    def beta(self) -> Tensor:
        return F.softplus(self.beta_raw) + self.BETA_MIN

    @property
    def gamma(self) -> Tensor:
        return F.softplus(self.gamma_raw)

    def forward(self, x: Tensor) -> Tensor:
        """(B, channels, H, W) -> same shape."""
        check_shape("x", x, ("B", None), ("channels", self.channels), ("H", None), ("W", None))
        gamma = self.gamma
        norm = F.conv2d(x.square(), gamma.view(*gamma.shape, 1, 1), self.beta)
        return x * (norm.sqrt() if self.inverse else norm.rsqrt())


class ConvFeatures(nn.Module):
    """Images (B, C, S, S) -> features (B, hidden): the conv/GDN stack, flatten, dense + softplus."""

    def __init__(self, image_channels: int, image_size: int, filters: int, hidden: int) -> None:
        super().__init__()
        self.image_channels = checks.positive_int("image_channels", image_channels)
        self.image_size = image_size
        side = _feature_side(image_size)
        filters, hidden = checks.positive_int("filters", filters), checks.positive_int("hidden", hidden)
        layers: list[nn.Module] = []
        for index, kernel in enumerate(_KERNELS):
            layers.append(nn.Conv2d(image_channels if index == 0 else filters, filters, kernel,
                                    stride=2, padding=kernel // 2))
            if index < len(_KERNELS) - 1:
                layers.append(GDN(filters))
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(filters * side * side, hidden), nn.Softplus())

    def forward(self, x: Tensor) -> Tensor:
        size = self.image_size
        check_shape("x", x, ("B", None), ("C", self.image_channels), ("H", size), ("W", size))
        return self.net(x)


class ConvDecoder(nn.Module):
    """Latents (B, latent) -> images (B, C, S, S), the mirror of ConvFeatures plus its last dense layer.

    The output is linear (no sigmoid): distortions compare it with images in [0, 1] directly.
    """

    def __init__(self, image_channels: int, image_size: int, filters: int, hidden: int, latent: int) -> None:
        super().__init__()
        self.latent = checks.positive_int("latent", latent)
        side = _feature_side(image_size)
        image_channels = checks.positive_int("image_channels", image_channels)
        filters, hidden = checks.positive_int("filters", filters), checks.positive_int("hidden", hidden)
        layers: list[nn.Module] = [
            nn.Linear(latent, hidden), nn.Softplus(),
            nn.Linear(hidden, filters * side * side), nn.Unflatten(1, (filters, side, side)),
        ]
        for index, kernel in enumerate(reversed(_KERNELS)):
            last = index == len(_KERNELS) - 1
            layers.append(nn.ConvTranspose2d(filters, image_channels if last else filters, kernel,
                                             stride=2, padding=kernel // 2, output_padding=1))
            if not last:
                layers.append(GDN(filters, inverse=True))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        check_shape("z", z, ("B", None), ("latent", self.latent))
        return self.net(z)


class ConvAutoencoder(nn.Module):
    """The paper's convolutional autoencoder: `encode` (B, C, S, S) -> (B, latent), `decode` back.

    Paper sizes by default (64x64 RGB, 64 filters, hidden 8192, latent 256); `image_size`
    must be a multiple of 16. The decoder's output is linear (no sigmoid).
    """

    def __init__(self, image_channels: int = 3, image_size: int = 64, filters: int = 64,
                 hidden: int = 8192, latent: int = 256) -> None:
        super().__init__()
        self.features = ConvFeatures(image_channels, image_size, filters, hidden)
        self.to_latent = nn.Linear(hidden, checks.positive_int("latent", latent))
        self.decoder = ConvDecoder(image_channels, image_size, filters, hidden, latent)

    def encode(self, x: Tensor) -> Tensor:
        """Images (B, C, S, S) -> latents (B, latent)."""
        return self.to_latent(self.features(x))

    def decode(self, z: Tensor) -> Tensor:
        """Latents (B, latent) -> reconstructions (B, C, S, S)."""
        return self.decoder(z)
