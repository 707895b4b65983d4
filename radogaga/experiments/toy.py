"""The toy density experiment (paper Sec. 4.1): DAGMM, RaDOGAGA(d) and RaDOGAGA(log(d))
on a 3-component Gaussian mixture lifted to 16-D, whose true density is known.

All models (methods × seeds) train in one stack on every point. Each model's latent
density P_z is the density of its frozen Gaussian mixture at the point's latent; the
paper's measure scales P_z and the true P_x to [0, 1] and reports the residual of a
linear fit. The decoder Jacobians are measured against the isometry constant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import data, diagnostics
from ..models.density import Architecture, DensityAutoencoder
from ..objectives import Coefficients
from ..train import TrainSettings, train

NAME = "toy"
METHODS = ("DAGMM", "RaDOGAGA(d)", "RaDOGAGA(log(d))")
SOURCES = {"official": "toy_official", "generated": "toy"}
ARCHITECTURE = Architecture(input_dim=16, encoder=(64, 32, 16, 3), estimation_hidden=10, components=3,
                            activation="tanh", dropout=0.5, error_features=False, reduction="sum",
                            jitter=1e-4)  # DAGMM's near-singular covariances broke float32 Cholesky at 1e-6


@dataclass(frozen=True)
class Config:
    """One toy run. Settings the paper does not give are our choices (see the chapter)."""

    source: str = "official"
    methods: tuple[str, ...] = METHODS
    seeds: tuple[int, ...] = (0, 1)
    data_seed: int = 0
    steps: int = 2_000
    batch_size: int = 1_000
    learning_rate: float = 1e-3
    dagmm_lambda1: float = 0.1
    dagmm_lambda2: float = 0.005
    lambda1_d: float = 1_000.0
    lambda1_log: float = 10.0
    lambda2: float = 100.0
    noise_std: float = 0.05
    jacobian_points: int = 400
    figure_points: int = 1_500

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source={self.source!r}; choose one of {tuple(SOURCES)}.")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ValueError(f"unknown method(s) {unknown}; choose from {METHODS}.")
        if not self.seeds:
            raise ValueError("seeds must list at least one seed.")


# Measured: the paper profile took 66 s on an NVIDIA H200 (results/toy).
GPU_MINUTES = 1.1

PROFILES = {
    "quick": Config(),
    "paper": Config(seeds=(0, 1, 2, 3, 4), steps=40_000, jacobian_points=2_000),
}


@dataclass(frozen=True)
class ModelSpec:
    """One model of a stack: its method, seed and noise settings."""

    method: str
    seed: int
    lambda2: float
    noise_std: float


def coefficients(spec: ModelSpec, config: Config) -> Coefficients:
    """The cost of one model under this config."""
    if spec.method == "DAGMM":
        return Coefficients.dagmm(config.dagmm_lambda1, config.dagmm_lambda2)
    if spec.method == "RaDOGAGA(d)":
        return Coefficients.radogaga(config.lambda1_d, spec.lambda2, h="identity")
    return Coefficients.radogaga(config.lambda1_log, spec.lambda2, h="log")


def load(config: Config) -> data.Dataset:
    """The toy data the config names."""
    options = {"seed": config.data_seed} if config.source == "generated" else {}
    return data.load(SOURCES[config.source], **options)


def train_and_measure(dataset: data.Dataset, specs: list[ModelSpec], config: Config,
                      device: torch.device) -> dict:
    """Train the models of `specs` in one stack on every point and measure each."""
    x = torch.as_tensor(dataset.X, device=device)
    p_x = dataset.extras["density"]
    seeds = [spec.seed for spec in specs]
    stack = DensityAutoencoder(
        ARCHITECTURE, [coefficients(spec, config) for spec in specs],
        [0.0 if spec.method == "DAGMM" else spec.noise_std for spec in specs], seeds,
        labels=[f"{s.method}, seed {s.seed}, lambda2 {s.lambda2:g}, noise std {s.noise_std:g}" for s in specs],
    ).to(device)
    log = train(stack, x, [np.arange(len(x))] * len(specs), seeds,
                TrainSettings(steps=config.steps, batch_size=config.batch_size,
                              learning_rate=config.learning_rate, check_every=max(1, config.steps // 20),
                              progress=False))
    stack = stack.double().eval()
    x64 = x.double()
    mixture = stack.fit_mixture(x64, [torch.arange(len(x), device=device)] * len(specs))
    log_p_z = -stack.energy(x64, mixture).cpu().numpy()
    picks = np.random.default_rng(0).choice(len(x), config.figure_points, replace=False)
    with torch.no_grad():
        stacked_x = x64.expand(len(specs), -1, -1)
        z_all, x_hat, _ = stack.features(stacked_x)
        reconstruction = ((stacked_x - x_hat) ** 2).sum(-1).mean(-1).cpu().numpy()
    z_jacobian = z_all[:, picks[:config.jacobian_points]]
    per_model = []
    for m, spec in enumerate(specs):
        grams = diagnostics.gram(diagnostics.jacobians(diagnostics.member(stack.decoder, m), z_jacobian[m]))
        entry = {"method": spec.method, "seed": spec.seed, "lambda2": spec.lambda2, "noise_std": spec.noise_std,
                 **diagnostics.density_proportionality(p_x, np.exp(log_p_z[m])),
                 "isometry": diagnostics.orthonormality(grams),
                 "reconstruction": float(reconstruction[m]),
                 "log_p_z_figure": log_p_z[m, picks].astype(np.float32),
                 "z_figure": z_all[m, picks].cpu().numpy().astype(np.float32)}
        if spec.method != "DAGMM":
            entry["predicted_constant"] = diagnostics.predicted_constant(spec.lambda2, spec.noise_std**2)
        per_model.append(entry)
    return {"models": per_model, "p_x_figure": p_x[picks], "component_figure": dataset.y[picks],
            "loss_steps": log.steps, "losses": np.array(log.losses, dtype=np.float32)}


def run(config: Config, device: torch.device) -> dict:
    """Every method × seed at the config's λ2 and noise; per-method mean and std over seeds."""
    specs = [ModelSpec(method, seed, config.lambda2, config.noise_std)
             for method in config.methods for seed in config.seeds]
    payload = train_and_measure(load(config), specs, config, device)
    payload["summary"] = summarize(payload["models"], key="method")
    return payload


MEASURES = ("mean_squared_residual", "spearman", "reconstruction")
ISOMETRY_MEASURES = ("norm_cv", "max_abs_cosine", "mean_squared_norm")


def summarize(per_model: list[dict], key: str) -> dict:
    """Mean and sample standard deviation over seeds of each measure, grouped by `key`."""
    summary = {}
    for group in dict.fromkeys(str(entry[key]) for entry in per_model):
        rows = [e for e in per_model if str(e[key]) == group]
        values = {name: [e[name] for e in rows] for name in MEASURES}
        values |= {name: [e["isometry"][name] for e in rows] for name in ISOMETRY_MEASURES}
        summary[group] = {name: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0}
                          for name, v in values.items()}
    return summary
