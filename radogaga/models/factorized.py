"""RaDOGAGA with a factorized prior (the paper's Sec. 4.3 set-up, and the model of the
Appendix A/B checks), M MLP autoencoders at a time.

As in the authors' code and Ballé's entropy bottleneck, one uniform draw
u ~ U(-1/2, 1/2) serves both terms: the rate is -log P(z + u) with P the prior convolved
with that noise (a bin probability, bounded, so the cost has no degenerate minimum), and
the noisy reconstruction is x̆ = g(z + s u). The noise scale s (1 by default, as the
authors) sets the noise variance σ² = s² / 12 of the distortion term, the σ² of the
theory's constant 1 / (2 λ2 σ²).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from radogaga.infra.randomness import Randomness
from radogaga.models.prior import FactorizedPrior
from radogaga.models.stacked import StackedMLP, model_generators
from radogaga.objectives import CoefficientBuffers, Coefficients, CostTerms, squared_error, stacked_cost

UNIFORM_NOISE_VARIANCE = 1.0 / 12.0


class FactorizedAutoencoder(nn.Module):
    """M autoencoders `widths[0] -> ... -> widths[-1]` (latent) with a learned factorized prior."""

    def __init__(self, widths: Sequence[int], coefficients: Sequence[Coefficients], seeds: Sequence[int],
                 activation: str = "tanh", reduction: str = "sum", labels: Sequence[str] | None = None,
                 noise_scale: Sequence[float] | None = None):
        super().__init__()
        n = len(seeds)
        scales = [1.0] * n if noise_scale is None else [float(s) for s in noise_scale]
        if len(coefficients) != n or len(scales) != n:
            raise ValueError(f"{n} seeds, {len(coefficients)} coefficient sets and {len(scales)} noise "
                             "scales: give one of each per model.")
        if any(not s > 0 for s in scales):
            raise ValueError(f"noise_scale must be > 0, got {scales}.")
        generators = model_generators(seeds)
        self.encoder = StackedMLP(n, widths, activation, generators)
        self.decoder = StackedMLP(n, widths[::-1], activation, generators)
        self.prior = FactorizedPrior(n, widths[-1], generators=generators)
        self.reduction = reduction
        self.costs = CoefficientBuffers(coefficients)
        self.register_buffer("noise_scale", torch.tensor(scales), persistent=False)
        self.labels = list(labels) if labels is not None else [f"seed {s}, {c}" for s, c in zip(seeds, coefficients)]

    def noise_variance(self) -> Tensor:
        """σ² of each model's decoder noise: (M,)."""
        return self.noise_scale**2 * UNIFORM_NOISE_VARIANCE

    def loss(self, x: Tensor, randomness: Randomness) -> Tensor:
        """The (M,) costs of a batch x (M, B, D), rate in nats."""
        z = self.encoder(x)
        u = randomness.uniform(z.shape[1:]) - 0.5
        x_hat = self.decoder(z)
        x_noisy = self.decoder(z + self.noise_scale[:, None, None] * u)
        terms = CostTerms(rate=-self.prior.log_likelihood(z + u),
                          reconstruction=squared_error(x, x_hat, reduction=self.reduction),
                          noise=squared_error(x_hat, x_noisy, reduction=self.reduction),
                          covariance=torch.zeros(x.shape[0], device=x.device, dtype=x.dtype))
        return stacked_cost(terms, self.costs.tensors())
