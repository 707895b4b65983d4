"""The β-VAE baseline as M stacked MLPs, with the trainer's `loss(x, randomness) -> (M,)` interface.

The encoder MLP `widths[0] -> ... -> 2 · latent` gives the posterior mean μ and
log-variance; z = μ + exp(log_var / 2) ε. The cost is the authors' β-VAE (objectives.
Coefficients.beta_vae): KL(q(z|x) ‖ N(0, I)) + λ D(x, g(μ)) + λ D(g(μ), g(z)), rate in nats.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from radogaga.infra.randomness import Randomness
from radogaga.models.stacked import StackedMLP, model_generators
from radogaga.models.vae import kl_to_standard_normal, reparameterize
from radogaga.objectives import CoefficientBuffers, Coefficients, CostTerms, squared_error, stacked_cost


class StackedBetaVAE(nn.Module):
    """M β-VAEs `widths[0] -> ... -> widths[-1]` (latent), one coefficient set per model."""

    def __init__(self, widths: Sequence[int], coefficients: Sequence[Coefficients], seeds: Sequence[int],
                 activation: str = "tanh", reduction: str = "sum", labels: Sequence[str] | None = None):
        super().__init__()
        n = len(seeds)
        if len(coefficients) != n:
            raise ValueError(f"{n} seeds and {len(coefficients)} coefficient sets: give one of each per model.")
        generators = model_generators(seeds)
        self.latent = widths[-1]
        self.encoder = StackedMLP(n, (*widths[:-1], 2 * self.latent), activation, generators)
        self.decoder = StackedMLP(n, widths[::-1], activation, generators)
        self.reduction = reduction
        self.costs = CoefficientBuffers(coefficients)
        self.labels = list(labels) if labels is not None else [f"seed {s}, {c}" for s, c in zip(seeds, coefficients)]

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean and log-variance, each (M, B, latent), for x (M, B, D)."""
        mean, log_var = self.encoder(x).chunk(2, dim=-1)
        return mean, log_var

    def loss(self, x: Tensor, randomness: Randomness) -> Tensor:
        """The (M,) costs of a batch x (M, B, D), rate (KL) in nats."""
        mean, log_var = self.encode(x)
        z = reparameterize(mean, log_var, randomness.normal(mean.shape[1:], dtype=mean.dtype))
        x_mean = self.decoder(mean)
        terms = CostTerms(rate=kl_to_standard_normal(mean, log_var),
                          reconstruction=squared_error(x, x_mean, reduction=self.reduction),
                          noise=squared_error(x_mean, self.decoder(z), reduction=self.reduction),
                          covariance=torch.zeros(x.shape[0], device=x.device, dtype=x.dtype))
        return stacked_cost(terms, self.costs.tensors())
