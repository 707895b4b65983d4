"""scikit-learn style anomaly detectors: RaDOGAGA and DAGMM.

`fit(X)` trains one density autoencoder on X (all rows taken as normal), then freezes
the Gaussian mixture of the whole training set. `score_samples` is the log density of a
row's features under that mixture (higher = more normal, as in scikit-learn);
`decision_function` subtracts the threshold that flags a `contamination` share of the
training rows; `predict` gives +1 (inlier) or -1 (outlier). A training that diverges (its
loss non-finite or rising, a mixture that cannot score the training rows) raises
`TrainingDiverged`, which names the learning rate, instead of returning a detector.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from radogaga.infra import checks
from radogaga.infra.checks import NonFiniteError
from radogaga.infra.device import one_cpu_thread, resolve_device
from radogaga.infra.randomness import Randomness
from radogaga.models.density import Architecture, DensityAutoencoder
from radogaga.objectives import Coefficients
from radogaga.train import TrainSettings, train


LOSS_ROSE = 0.05  # diverged: the last checked loss is above the untrained one by this share of max(1, |it|)


class TrainingDiverged(ValueError):
    """A detector's training diverged; the message names the learning rate to lower."""


class _DensityDetector(OutlierMixin, BaseEstimator):
    """What both detectors share; subclasses say which cost they train."""

    def _coefficients(self) -> Coefficients:
        raise NotImplementedError

    def _noise_std(self) -> float:
        return 0.0

    def _check_params(self) -> None:
        for name in ("steps", "batch_size", "components", "estimation_hidden"):
            checks.positive_int(name, getattr(self, name))
        checks.positive_float("learning_rate", self.learning_rate)
        if not 0 < self.contamination <= 0.5:
            raise ValueError(f"contamination={self.contamination!r} must be in (0, 0.5].")
        if not self.encoder or any(int(w) < 1 for w in self.encoder):
            raise ValueError(f"encoder={self.encoder!r} must list positive widths, the last being the latent size.")

    def fit(self, X, y=None):
        """Train on X (rows taken as normal; y is ignored) and set the threshold."""
        self._check_params()
        X = validate_data(self, X, dtype=np.float32)
        if len(X) < 2 * self.components:
            raise ValueError(f"fitting a {self.components}-component mixture needs at least {2 * self.components} "
                             f"rows (two per component); got n_samples = {len(X)}.")
        device = resolve_device(self.device)
        architecture = Architecture(input_dim=X.shape[1], encoder=tuple(int(w) for w in self.encoder),
                                    estimation_hidden=self.estimation_hidden, components=self.components,
                                    dropout=self.dropout, error_features=self.error_features)
        seed = int(np.random.RandomState(self.random_state).randint(2**31 - 1))
        self.model_ = DensityAutoencoder(architecture, [self._coefficients()], [self._noise_std()],
                                         [seed]).to(device)
        with one_cpu_thread(device):  # small models: a second intra-op thread only adds synchronisation
            return self._fit(X, device, seed)

    def _fit(self, X: np.ndarray, device: torch.device, seed: int):
        data = torch.tensor(X, device=device)  # a copy: X may be read-only
        rows = [np.arange(len(X))]
        settings = TrainSettings(steps=self.steps, batch_size=min(self.batch_size, len(X)),
                                 learning_rate=self.learning_rate, check_every=max(1, self.steps // 10),
                                 progress=self.verbose)
        start = self._loss_before_training(data, settings.batch_size, seed)
        try:
            self.train_log_ = train(self.model_, data, rows, [seed], settings)
        except NonFiniteError as error:
            raise self._diverged(f"its loss or parameters became non-finite ({error})") from error
        last = self.train_log_.losses[-1][0]
        if last > start + LOSS_ROSE * max(1.0, abs(start)):
            raise self._diverged(f"its loss rose from {start:.4g} before training to {last:.4g}")
        # Scoring runs in float64, so a row's score does not depend on the batch around it.
        self.model_ = self.model_.double().eval()
        try:
            self.mixture_ = self.model_.fit_mixture(data.double(), [torch.arange(len(X), device=device)])
            scores = self.score_samples(X)
        except (ValueError, RuntimeError) as error:
            raise self._diverged(f"its mixture cannot score the training rows ({str(error)[:200]})") from error
        if not np.isfinite(scores).all():
            raise self._diverged(f"{int((~np.isfinite(scores)).sum())} training rows score NaN or infinity")
        self.offset_ = float(np.quantile(scores, self.contamination))
        return self

    def _loss_before_training(self, data: torch.Tensor, batch_size: int, seed: int) -> float:
        """The loss of the untrained model on the first `batch_size` rows (what training must not exceed)."""
        with torch.no_grad():
            return float(self.model_.loss(data[None, :batch_size], Randomness([seed], data.device))[0])

    def _diverged(self, what: str) -> TrainingDiverged:
        return TrainingDiverged(f"{type(self).__name__} did not train: {what}. Lower learning_rate "
                                f"(now {self.learning_rate!r}) or the number of steps.")

    def score_samples(self, X) -> np.ndarray:
        """Log density of each row under the training-set mixture; higher is more normal."""
        check_is_fitted(self, "mixture_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        device = next(self.model_.parameters()).device
        with one_cpu_thread(device):
            return -self.model_.energy(torch.tensor(X, device=device), self.mixture_)[0].cpu().numpy()

    def decision_function(self, X) -> np.ndarray:
        """score_samples minus the threshold: negative for predicted outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X) -> np.ndarray:
        """+1 for inliers, -1 for outliers."""
        return np.where(self.decision_function(X) < 0, -1, 1)


class RaDOGAGADetector(_DensityDetector):
    """RaDOGAGA (Kato et al. 2019): rate -log P(z) + lambda1 h(D(x, x̂)) + lambda2 D(x̂, x̆),
    x̆ = g(z + ε), ε ~ N(0, noise_std² I). The defaults are a starting point, not tuned."""

    def __init__(self, *, lambda1=100.0, lambda2=1.0, noise_std=0.1, h="log", encoder=(12, 4, 1),
                 components=2, estimation_hidden=10, dropout=0.5, error_features=True, steps=2000,
                 batch_size=1024, learning_rate=1e-3, contamination=0.1, random_state=None,
                 device="auto", verbose=False):
        self.lambda1, self.lambda2, self.noise_std, self.h = lambda1, lambda2, noise_std, h
        self.encoder, self.components, self.estimation_hidden = encoder, components, estimation_hidden
        self.dropout, self.error_features, self.steps = dropout, error_features, steps
        self.batch_size, self.learning_rate, self.contamination = batch_size, learning_rate, contamination
        self.random_state, self.device, self.verbose = random_state, device, verbose

    def _coefficients(self) -> Coefficients:
        return Coefficients.radogaga(self.lambda1, self.lambda2, h=self.h)

    def _noise_std(self) -> float:
        if not self.noise_std >= 0:
            raise ValueError(f"noise_std={self.noise_std!r} must be >= 0.")
        return float(self.noise_std)


class DAGMMDetector(_DensityDetector):
    """DAGMM (Zong et al. 2018): ||x - x̂||² + lambda1 E(z) + lambda2 sum 1/Σ_jj."""

    def __init__(self, *, lambda1=0.1, lambda2=0.005, encoder=(12, 4, 1), components=2,
                 estimation_hidden=10, dropout=0.5, error_features=True, steps=2000, batch_size=1024,
                 learning_rate=1e-4, contamination=0.1, random_state=None, device="auto", verbose=False):
        self.lambda1, self.lambda2 = lambda1, lambda2
        self.encoder, self.components, self.estimation_hidden = encoder, components, estimation_hidden
        self.dropout, self.error_features, self.steps = dropout, error_features, steps
        self.batch_size, self.learning_rate, self.contamination = batch_size, learning_rate, contamination
        self.random_state, self.device, self.verbose = random_state, device, verbose

    def _coefficients(self) -> Coefficients:
        return Coefficients.dagmm(self.lambda1, self.lambda2)
