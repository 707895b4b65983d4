"""The density-estimating autoencoder of the toy and anomaly experiments, M at a time.

Encoder and decoder MLPs plus DAGMM's estimation network and Gaussian mixture
(RaDOGAGA Sec. 3 and Eqs. 16-20). The estimation network reads z, or z with the relative
Euclidean reconstruction error and the cosine similarity of x and x̂ (the anomaly
setting); the decoder always reads z alone. Which cost is trained (DAGMM, RaDOGAGA with
h = d or h = log d) is a matter of per-model coefficients only.

The rate is the energy of the noisy latent z̃ = z + ε, the same ε ~ N(0, σ² I) that
gives x̆ = g(z̃), with the mixture fitted to z̃ — as the authors' image code takes the rate
of the noisy latent. With σ > 0 the mixture's covariances cannot shrink below the noise,
so the rate is bounded below and the cost has no degenerate minimum (a latent collapsing
to a point with a shrinking Gaussian, which drives a noise-free rate to minus infinity).
With σ = 0 (DAGMM) it is the energy of z itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from radogaga.infra.randomness import Randomness
from radogaga.objectives import CoefficientBuffers, Coefficients, CostTerms, squared_error, stacked_cost
from radogaga.models.gmm import (DEFAULT_JITTER, EstimationNet, MixtureAccumulator, inverse_diagonal_penalty, log_density,
                  mixture_statistics)
from radogaga.models.stacked import StackedMLP, model_generators

EPS = 1e-8


@dataclass(frozen=True)
class Architecture:
    """Widths and choices of the network; `encoder` lists the hidden widths then the latent size."""

    input_dim: int
    encoder: tuple[int, ...] = (60, 30, 10, 1)
    estimation_hidden: int = 10
    components: int = 4
    activation: str = "tanh"
    dropout: float = 0.5
    error_features: bool = True
    reduction: str = "sum"
    jitter: float = DEFAULT_JITTER
    mixture_dtype: str = "float32"  # "float64": the mixture's statistics and density in double precision

    @property
    def latent_dim(self) -> int:
        return self.encoder[-1]

    @property
    def feature_dim(self) -> int:
        """Width of the estimation network's input."""
        return self.latent_dim + (2 if self.error_features else 0)


class DensityAutoencoder(nn.Module):
    """M autoencoders with a GMM latent density; `loss` gives their (M,) costs."""

    def __init__(self, architecture: Architecture, coefficients: Sequence[Coefficients],
                 noise_std: Sequence[float], seeds: Sequence[int], labels: Sequence[str] | None = None):
        super().__init__()
        n = len(seeds)
        if not len(coefficients) == len(noise_std) == n:
            raise ValueError(f"{n} seeds, {len(coefficients)} coefficient sets, {len(noise_std)} noise "
                             "levels: give one of each per model.")
        if any(not s >= 0 for s in noise_std):
            raise ValueError(f"noise_std must be >= 0, got {list(noise_std)}.")
        a = architecture
        generators = model_generators(seeds)
        self.architecture = a
        self.encoder = StackedMLP(n, (a.input_dim, *a.encoder), a.activation, generators)
        self.decoder = StackedMLP(n, (*a.encoder[::-1], a.input_dim), a.activation, generators)
        self.estimation = EstimationNet(n, a.feature_dim, a.estimation_hidden, a.components,
                                        a.activation, a.dropout, generators)
        self.coefficients = list(coefficients)
        self.costs = CoefficientBuffers(self.coefficients)
        self.register_buffer("noise_std", torch.tensor(list(noise_std), dtype=torch.float32), persistent=False)
        self.labels = list(labels) if labels is not None else [
            f"seed {s}, {c}, noise std {sd:g}" for s, c, sd in zip(seeds, coefficients, noise_std)]

    def features(self, x: Tensor, noise: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Latent z, reconstruction x̂ and the estimation network's input (built on z + noise
        when noise is given), for x (M, B, D)."""
        z = self.encoder(x)
        x_hat = self.decoder(z)
        latent = z if noise is None else z + noise
        if not self.architecture.error_features:
            return z, x_hat, latent
        relative = (x - x_hat).norm(dim=-1, keepdim=True) / (x.norm(dim=-1, keepdim=True) + EPS)
        cosine = nn.functional.cosine_similarity(x, x_hat, dim=-1, eps=EPS).unsqueeze(-1)
        return z, x_hat, torch.cat([latent, relative, cosine], dim=-1)

    def random_draws(self, batch: int, randomness: Randomness) -> tuple[Tensor, ...]:
        """The draws of one step for a batch of `batch` rows: the latent noise ε ~ N(0, σ² I)
        (M, B, latent) and, with dropout, the estimation network's keep mask (M, B, hidden)."""
        a = self.architecture
        noise = randomness.normal((batch, a.latent_dim)) * self.noise_std[:, None, None]
        if not a.dropout:
            return (noise,)
        return noise, randomness.keep_mask((batch, a.estimation_hidden), a.dropout)

    def loss_given(self, x: Tensor, noise: Tensor, keep: Tensor | None = None) -> Tensor:
        """The (M,) costs of a batch x (M, B, D) with the step's draws (`random_draws`)."""
        a = self.architecture
        z, x_hat, features = self.features(x, noise)
        gamma = self.estimation(features, keep)
        if a.mixture_dtype == "float64":
            gamma, features = gamma.double(), features.double()
        weights, means, covariances = mixture_statistics(gamma, features)
        energy = -log_density(features, weights, means, covariances, jitter=a.jitter, validate=False).to(x.dtype)
        x_noisy = self.decoder(z + noise)
        reduction = self.architecture.reduction
        terms = CostTerms(rate=energy,
                          reconstruction=squared_error(x, x_hat, reduction=reduction),
                          noise=squared_error(x_hat, x_noisy, reduction=reduction),
                          covariance=inverse_diagonal_penalty(covariances, jitter=a.jitter).to(x.dtype))
        return stacked_cost(terms, self.costs.tensors())

    def loss(self, x: Tensor, randomness: Randomness) -> Tensor:
        """The (M,) costs of a batch x (M, B, D): each model with its own coefficients."""
        return self.loss_given(x, *self.random_draws(x.shape[1], randomness))

    @torch.no_grad()
    def fit_mixture(self, data: Tensor, rows: Sequence[Tensor], batch_size: int = 8192):
        """The frozen mixture of each model's whole training set (no dropout): weights,
        means, covariances with a leading model dimension."""
        accumulator = MixtureAccumulator()
        longest = max(len(r) for r in rows)
        for start in range(0, longest, batch_size):
            parts = [r[start:start + batch_size] for r in rows]
            if any(len(p) == 0 for p in parts):
                parts = [p if len(p) else r[:1] for p, r in zip(parts, rows)]
            width = max(len(p) for p in parts)
            batch = torch.stack([data[torch.cat([p, p[:1].expand(width - len(p))])] for p in parts])
            mask = torch.stack([torch.arange(width, device=data.device) < len(p) for p in parts])
            mask &= torch.tensor([start < len(r) for r in rows], device=data.device)[:, None]
            _, _, features = self.features(batch)
            gamma = self.estimation(features) * mask[..., None]
            accumulator.add(gamma, features)
        weights, means, covariances = accumulator.statistics()
        # Padded rows carry zero membership, so each model's weights are its own totals
        # over the rows it really has.
        return weights / weights.sum(dim=-1, keepdim=True), means, covariances

    def _per_row(self, x: Tensor, measure, batch_size: int) -> Tensor:
        """`measure` of every model on x (N, D), taken in chunks of rows: (M, N)."""
        parts = [measure(x[start:start + batch_size].expand(len(self.labels), -1, -1))
                 for start in range(0, len(x), batch_size)]
        return torch.cat(parts, dim=1)

    @torch.no_grad()
    def energy(self, x: Tensor, mixture, batch_size: int = 8192) -> Tensor:
        """Sample energy -log P(features) under each model's frozen mixture: x (N, D) -> (M, N)."""
        jitter = self.architecture.jitter
        return self._per_row(x, lambda chunk: -log_density(self.features(chunk)[2], *mixture, jitter=jitter),
                             batch_size)

    @torch.no_grad()
    def reconstruction_error(self, x: Tensor, batch_size: int = 8192) -> Tensor:
        """D(x, x̂) of each row under each model: x (N, D) -> (M, N)."""
        reduction = self.architecture.reduction
        return self._per_row(x, lambda chunk: squared_error(chunk, self.features(chunk)[1], reduction=reduction),
                             batch_size)
