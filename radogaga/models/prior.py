"""The factorized prior of Ballé et al. 2018 ("Variational image compression with a scale
hyperprior", ICLR, appendix 6.1), batched over M models.

Each latent channel c has its own learned monotone CDF, the sigmoid of a chain of K
elementwise-in-batch maps from R^1 to R^1 through R^{filters}:

    x <- softplus(H_k) x + b_k,   then, except after the last map,   x <- x + tanh(a_k) * tanh(x)

softplus keeps every matrix entry positive and tanh(a_k) lies in (-1, 1), so each map is
increasing and so is the CDF. Parameters carry leading (M, C) axes; z has shape (M, B, C).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from radogaga.infra import checks
from radogaga.infra.checks import check_shape
from radogaga.models.stacked import uniform_per_model_

LIKELIHOOD_FLOOR = 1e-9


def _unstack(x: Tensor) -> Tensor:
    """(M, C, 1, B) -> (M, B, C)."""
    return x.squeeze(2).transpose(1, 2)


class FactorizedPrior(nn.Module):
    """A learned monotone CDF c_mc per model m and channel c (Ballé et al. 2018, appendix 6.1).

    Initialised so that the chain is the linear map x / init_scale plus a bias: each matrix
    is constant with softplus'd entries 1 / (s * fan_out), s = init_scale ** (1 / K), gate
    factors 0, biases from U(-1/2, 1/2) drawn from the models' own generators.
    """

    def __init__(self, n_models: int, channels: int, filters: Sequence[int] = (3, 3, 3, 3),
                 init_scale: float = 10.0, generators: Sequence[torch.Generator] | None = None) -> None:
        super().__init__()
        self.n_models = checks.positive_int("n_models", n_models)
        self.channels = checks.positive_int("channels", channels)
        widths = [1, *(checks.positive_int(f"filters[{i}]", width) for i, width in enumerate(filters)), 1]
        scale = checks.positive_float("init_scale", init_scale) ** (1 / (len(widths) - 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            raw = math.log(math.expm1(1 / (scale * width_out)))
            self.matrices.append(nn.Parameter(torch.full((n_models, channels, width_out, width_in), raw)))
            bias = torch.empty(n_models, channels, width_out, 1)
            self.biases.append(nn.Parameter(uniform_per_model_(bias, -0.5, 0.5, generators)))
            if len(self.factors) < len(widths) - 2:
                self.factors.append(nn.Parameter(torch.zeros(n_models, channels, width_out, 1)))

    def _chain(self, z: Tensor, slope: bool) -> tuple[Tensor, Tensor | None]:
        """Logits of the CDF at z (M, B, C) and, if `slope`, their derivative d logits / dz."""
        check_shape("z", z, ("M", self.n_models), ("B", None), ("C", self.channels))
        x = z.transpose(1, 2).unsqueeze(2)
        derivative = torch.ones_like(x) if slope else None
        for index, (matrix, bias) in enumerate(zip(self.matrices, self.biases)):
            weight = F.softplus(matrix)
            x = torch.matmul(weight, x) + bias
            if derivative is not None:
                derivative = torch.matmul(weight, derivative)
            if index < len(self.factors):
                factor, gate = torch.tanh(self.factors[index]), torch.tanh(x)
                if derivative is not None:
                    derivative = derivative * (1 + factor * (1 - gate.square()))
                x = x + factor * gate
        return _unstack(x), None if derivative is None else _unstack(derivative)

    def logits_cdf(self, z: Tensor) -> Tensor:
        """The CDF before its sigmoid: c(z) = sigmoid(logits_cdf(z)), for z (M, B, C) -> (M, B, C)."""
        return self._chain(z, slope=False)[0]

    def likelihood(self, z: Tensor) -> Tensor:
        """c(z + 1/2) - c(z - 1/2) per channel: (M, B, C), a probability (not a density).

        At an integer z it is the probability of z's quantisation bin; at a noisy latent
        z = y + u, u ~ U(-1/2, 1/2), it is the density of z under the prior convolved with that
        uniform noise, the quantity of Ballé's entropy bottleneck. Both logits are
        flipped to the negative side before the sigmoids (the difference of two numbers near 1
        loses precision), and the result is floored at LIKELIHOOD_FLOOR = 1e-9 (no gradient
        below the floor).
        """
        lower, upper = self.logits_cdf(torch.cat([z - 0.5, z + 0.5], dim=1)).chunk(2, dim=1)
        flip = (lower + upper) > 0
        lower, upper = torch.where(flip, -lower, lower), torch.where(flip, -upper, upper)
        return (torch.sigmoid(upper) - torch.sigmoid(lower)).abs().clamp_min(LIKELIHOOD_FLOOR)

    def log_likelihood(self, z: Tensor) -> Tensor:
        """log of the bin probabilities summed over channels: (M, B), in nats (the rate is its negative)."""
        return self.likelihood(z).log().sum(dim=-1)

    def channel_log_density(self, z: Tensor) -> Tensor:
        """The continuous log density log c'(z_c) of each channel: (M, B, C), in nats.

        c' by the chain rule: sigmoid'(l) dl/dz with log sigmoid'(l) = log sigmoid(l) + log sigmoid(-l).
        """
        logits, slope = self._chain(z, slope=True)
        return F.logsigmoid(logits) + F.logsigmoid(-logits) + slope.log()

    def log_density(self, z: Tensor) -> Tensor:
        """The continuous log density sum_c log c'(z_c) of the whole latent: (M, B), in nats."""
        return self.channel_log_density(z).sum(dim=-1)
