"""The DAGMM Gaussian mixture on the latent space, batched over M models.

Zong et al. 2018 (DAGMM), used by RaDOGAGA Eqs. 16-20: an estimation network gives soft
memberships gamma = softmax(MLN(z)); the mixture weights, means and covariances follow
from gamma in closed form; the density is sum_k phi_k N(z; mu_k, Sigma_k). At test time
the statistics are those of the whole training set (MixtureAccumulator), never of the
last mini-batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from radogaga.infra import checks
from radogaga.infra.checks import check_finite, check_shape
from radogaga.models.stacked import StackedLinear, activation_by_name

DEFAULT_JITTER = 1e-6
_LOG_2PI = math.log(2 * math.pi)

Mixture = tuple[Tensor, Tensor, Tensor]


def _check_memberships(gamma: Tensor, z: Tensor, expected: tuple[int | None, int | None, int | None]) -> None:
    """gamma (M, B, K) and z (M, B, d) for one batch; `expected` fixes (M, K, d) where not None."""
    n_models, n_components, dim = expected
    check_shape("gamma", gamma, ("M", n_models), ("B", None), ("K", n_components))
    check_shape("z", z, ("M", gamma.shape[0]), ("B", gamma.shape[1]), ("d", dim))


def mixture_statistics(gamma: Tensor, z: Tensor) -> Mixture:
    """Mixture weights (M, K), means (M, K, d) and covariances (M, K, d, d) of one batch.

    phi_k = mean_i gamma_ik, mu_k = sum_i gamma_ik z_i / sum_i gamma_ik and
    Sigma_k = sum_i gamma_ik (z_i - mu_k)(z_i - mu_k)^T / sum_i gamma_ik (DAGMM Eqs. 5-6;
    RaDOGAGA Eq. 17), from memberships gamma (M, B, K) and latents z (M, B, d).
    Differentiable in both.
    """
    _check_memberships(gamma, z, (None, None, None))
    total = gamma.sum(dim=1)
    weights = total / gamma.shape[1]
    means = torch.einsum("mbk,mbd->mkd", gamma, z) / total.unsqueeze(-1)
    centred = z.unsqueeze(2) - means.unsqueeze(1)
    covariances = torch.einsum("mbki,mbkj->mkij", gamma.unsqueeze(-1) * centred, centred)
    return weights, means, covariances / total[..., None, None]


class MixtureAccumulator:
    """The mixture statistics of a whole data set, from batches streamed through `add`.

    Keeps float64 sums of gamma, gamma z and gamma z z^T (detached: this is the frozen
    training-set mixture used for scoring) and returns Sigma = E_gamma[z z^T] - mu mu^T,
    cast to the dtype of the first batch.
    """

    def __init__(self) -> None:
        self._sums: list[Tensor] | None = None
        self._count = 0
        self._dtype = torch.get_default_dtype()

    def add(self, gamma: Tensor, z: Tensor) -> None:
        """Add a batch: memberships gamma (M, B, K) and latents z (M, B, d)."""
        expected = (None, None, None) if self._sums is None else tuple(self._sums[1].shape)
        _check_memberships(gamma, z, expected)
        weight, value = gamma.detach().double(), z.detach().double()
        sums = [
            weight.sum(dim=1),
            torch.einsum("mbk,mbd->mkd", weight, value),
            torch.einsum("mbki,mbj->mkij", weight.unsqueeze(-1) * value.unsqueeze(2), value),
        ]
        if self._sums is None:
            self._sums, self._dtype = sums, z.dtype
        else:
            self._sums = [old + new for old, new in zip(self._sums, sums)]
        self._count += gamma.shape[1]

    def statistics(self) -> Mixture:
        """Weights (M, K), means (M, K, d), covariances (M, K, d, d) over all batches added."""
        if self._sums is None:
            raise ValueError("no batches added yet: call add(gamma, z) first")
        total, first, second = self._sums
        means = first / total.unsqueeze(-1)
        covariances = second / total[..., None, None] - means.unsqueeze(-1) * means.unsqueeze(-2)
        return tuple(t.to(self._dtype) for t in (total / self._count, means, covariances))


def log_density(z: Tensor, weights: Tensor, means: Tensor, covariances: Tensor,
                jitter: float = DEFAULT_JITTER, validate: bool = True) -> Tensor:
    """log sum_k phi_k N(z; mu_k, Sigma_k + jitter I) for z (M, N, d) -> (M, N), in nats.

    Cholesky factors (`cholesky_ex`, which does not synchronise the device), a triangular
    solve for the Mahalanobis term, the log-determinant from the factor's diagonal and
    `logsumexp` over components: no determinant, no exp-then-log. `validate` checks that
    every input is finite and every covariance positive definite, raising ValueError
    otherwise; it synchronises the device, so pass False inside a captured CUDA graph.
    """
    check_shape("weights", weights, ("M", None), ("K", None))
    n_models, n_components = weights.shape
    check_shape("means", means, ("M", n_models), ("K", n_components), ("d", None))
    dim = means.shape[-1]
    check_shape("covariances", covariances, ("M", n_models), ("K", n_components), ("d", dim), ("d", dim))
    check_shape("z", z, ("M", n_models), ("N", None), ("d", dim))
    if validate:
        for name, tensor in (("z", z), ("weights", weights), ("means", means), ("covariances", covariances)):
            check_finite(name, tensor)
    eye = torch.eye(dim, dtype=covariances.dtype, device=covariances.device)
    chol, info = torch.linalg.cholesky_ex(covariances + jitter * eye)
    if validate and bool((info != 0).any()):
        failed = (info != 0).nonzero().tolist()
        raise ValueError(f"covariances (+ jitter {jitter:g} I) not positive definite at [model, component] {failed}")
    centred = (z.unsqueeze(1) - means.unsqueeze(2)).transpose(-1, -2)
    whitened = torch.linalg.solve_triangular(chol, centred, upper=False)
    log_det = 2 * chol.diagonal(dim1=-2, dim2=-1).log().sum(dim=-1)
    log_normal = -0.5 * (whitened.square().sum(dim=-2) + (dim * _LOG_2PI + log_det).unsqueeze(-1))
    return torch.logsumexp(weights.log().unsqueeze(-1) + log_normal, dim=1)


def inverse_diagonal_penalty(covariances: Tensor, jitter: float = DEFAULT_JITTER) -> Tensor:
    """DAGMM's singularity penalty sum_k sum_j 1 / (Sigma_k,jj + jitter), one per model: (M,)."""
    check_shape("covariances", covariances, ("M", None), ("K", None), ("d", None), ("d", covariances.shape[-1]))
    return (covariances.diagonal(dim1=-2, dim2=-1) + jitter).reciprocal().sum(dim=(-2, -1))


class EstimationNet(nn.Module):
    """DAGMM's estimation network for M models: features (M, B, in) -> memberships (M, B, K).

    StackedLinear -> activation -> dropout -> StackedLinear -> softmax over the K components
    (RaDOGAGA Eq. 16). Dropout takes its Bernoulli keep mask from the caller, so the trainer
    owns every random draw.
    """

    def __init__(self, n_models: int, in_features: int, hidden: int, n_components: int,
                 activation: str = "tanh", dropout: float = 0.5,
                 generators: Sequence[torch.Generator] | None = None) -> None:
        super().__init__()
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a probability in [0, 1); got {dropout!r}")
        self.hidden = checks.positive_int("hidden", hidden)
        self.n_components = checks.positive_int("n_components", n_components)
        self.dropout = float(dropout)
        self._act = activation_by_name(activation)
        self.hidden_layer = StackedLinear(n_models, in_features, hidden, generators)
        self.output_layer = StackedLinear(n_models, hidden, n_components, generators)
        self.n_models = self.hidden_layer.n_models

    def forward(self, features: Tensor, keep_mask: Tensor | None = None) -> Tensor:
        """Memberships gamma (M, B, K); rows sum to 1.

        keep_mask: (M, B, hidden) of 0/1 (Bernoulli(1 - dropout)) applied to the hidden
        layer with scale 1 / (1 - dropout); None (evaluation) applies no dropout.
        """
        hidden = self._act(self.hidden_layer(features))
        if keep_mask is not None:
            check_shape("keep_mask", keep_mask, ("M", self.n_models), ("B", features.shape[1]), ("hidden", self.hidden))
            hidden = hidden * keep_mask.to(hidden.dtype) / (1.0 - self.dropout)
        return torch.softmax(self.output_layer(hidden), dim=-1)
