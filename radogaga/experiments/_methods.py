"""What the density experiments share (toy, toy_sensitivity, anomaly and its sensitivity and
controls): one model of a stack (`ModelSpec`), its cost (`coefficients`) and latent noise
(`noise_std`), and the mean and standard deviation over seeds (`seed_summary`). Not an
experiment: the registry skips modules whose name starts with an underscore."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from radogaga.objectives import Coefficients

RADOGAGA_H = {"RaDOGAGA(d)": "identity", "RaDOGAGA(log(d))": "log"}  # method -> h of the cost
LAMBDA1_FIELDS = {"RaDOGAGA(d)": "lambda1_d", "RaDOGAGA(log(d))": "lambda1_log"}  # method -> config field


@dataclass(frozen=True)
class ModelSpec:
    """One model of a stack: its method and seed; λ2 and the noise σ of a RaDOGAGA model
    (None: the config's); its λ1 (None: the config's for the method) times `lambda1_factor`."""

    method: str
    seed: int
    lambda2: float | None = None
    noise_std: float | None = None
    lambda1_factor: float = 1.0
    lambda1: float | None = None

    def label(self) -> str:
        """The model's name in messages and stored results (e.g. "RaDOGAGA(d), seed 3")."""
        changed = self.lambda1_factor != 1.0 or self.noise_std is not None
        return f"{self.method}, seed {self.seed}" + (
            f", lambda1 x{self.lambda1_factor:g}, noise std {self.noise_std}" if changed else "")


def coefficients(spec: ModelSpec, config: Any, log_floor: float = 1e-3) -> Coefficients:
    """The cost of one model: DAGMM's, RaDOGAGA's with its h (h = log with `log_floor`), or
    (any other method) the plain autoencoder's. `config` gives dagmm_lambda1/2, lambda1_d,
    lambda1_log and lambda2."""
    if spec.method == "DAGMM":
        return Coefficients.dagmm(config.dagmm_lambda1, config.dagmm_lambda2)
    if spec.method in RADOGAGA_H:
        base = spec.lambda1 if spec.lambda1 is not None else getattr(config, LAMBDA1_FIELDS[spec.method])
        lambda2 = config.lambda2 if spec.lambda2 is None else spec.lambda2
        return Coefficients.radogaga(base * spec.lambda1_factor, lambda2, h=RADOGAGA_H[spec.method],
                                     log_floor=log_floor)
    return Coefficients(rate=0.0, reconstruction=1.0, noise=0.0)


def noise_std(spec: ModelSpec, config: Any) -> float:
    """The latent noise σ of one model: RaDOGAGA's (the spec's, else the config's), none for the others."""
    if spec.method not in RADOGAGA_H:
        return 0.0
    return config.noise_std if spec.noise_std is None else spec.noise_std


def seed_summary(rows: Sequence[dict], key: str,
                 measures: Mapping[str, Callable[[dict], float]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per group of `rows` (by `str(row[key])`, in order of appearance), the mean and sample
    standard deviation (0 for one seed) of each measure, as {"mean": ..., "std": ...}. A
    measure that some row of the group lacks (KeyError: an older result) is left out."""
    summary = {}
    for group in dict.fromkeys(str(row[key]) for row in rows):
        members = [row for row in rows if str(row[key]) == group]
        summary[group] = {}
        for name, value in measures.items():
            try:
                values = [float(value(row)) for row in members]
            except KeyError:
                continue
            summary[group][name] = {"mean": float(np.mean(values)),
                                    "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}
    return summary
