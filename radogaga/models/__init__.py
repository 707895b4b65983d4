"""The networks of the book: batched MLPs, the DAGMM mixture, the factorized prior, the
convolutional autoencoder with GDN, and the β-VAE head."""

from radogaga.models.conv import GDN, ConvAutoencoder, ConvDecoder, ConvFeatures
from radogaga.models.density import Architecture, DensityAutoencoder
from radogaga.models.factorized import FactorizedAutoencoder
from radogaga.models.gmm import (
    DEFAULT_JITTER,
    EstimationNet,
    MixtureAccumulator,
    inverse_diagonal_penalty,
    log_density,
    mixture_statistics,
)
from radogaga.models.prior import LIKELIHOOD_FLOOR, FactorizedPrior
from radogaga.models.stacked import (
    ACTIVATIONS,
    StackedLinear,
    StackedMLP,
    activation_by_name,
    model_generators,
    uniform_per_model_,
)
from radogaga.models.vae import ConvBetaVAE, GaussianHead, kl_to_standard_normal, reparameterize

__all__ = [
    "ACTIVATIONS", "DEFAULT_JITTER", "LIKELIHOOD_FLOOR", "Architecture", "DensityAutoencoder",
    "FactorizedAutoencoder",
    "ConvAutoencoder", "ConvBetaVAE", "ConvDecoder", "ConvFeatures", "EstimationNet", "FactorizedPrior",
    "GDN", "GaussianHead", "MixtureAccumulator", "StackedLinear", "StackedMLP",
    "activation_by_name", "inverse_diagonal_penalty", "kl_to_standard_normal", "log_density",
    "mixture_statistics", "model_generators", "reparameterize", "uniform_per_model_",
]
