"""Appendix A checked on trained models: does the decoder become a scaled orthonormal basis?

Data: points on a curved 2-D sheet in R^3 with a known density (radogaga.manifolds.Sheet).
One stacked run trains RaDOGAGA MLP autoencoders with a factorized prior over a sweep of
(λ2, noise scale) pairs, plus an ordinary autoencoder (reconstruction only); a second
stacked run trains a β-VAE of the same widths. Each model is trained once per seed.
At held-out points the payload records the decoder Jacobians' Gram matrices (squared
column norms, cosines, log-volume), the latent spread, and the learned latent density
against the known data density.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from radogaga import diagnostics
from radogaga.manifolds import Sheet
from radogaga.models import FactorizedAutoencoder
from radogaga.models.factorized import UNIFORM_NOISE_VARIANCE
from radogaga.models.stacked_vae import StackedBetaVAE
from radogaga.objectives import Coefficients, squared_error
from radogaga.device import one_cpu_thread
from radogaga.train import TrainSettings, train

NAME = "theory_isometry"
AXIS_STEP = 1e-2  # ε of the finite-difference ratios D(g(z), g(z + ε v)) / ε²
FIGURE_ARRAYS = ("squared_norms", "abs_cosine", "log_volume")  # kept per point for the figures
DECIMALS = 5  # per-point arrays are stored rounded: the figures need no more, the result stays small


@dataclass(frozen=True)
class Config:
    """The sweep is the pairs (lambda2s[i], noise_scales[i]); the main model is the pair
    (main_lambda2, main_noise_scale), which must be one of them. Training runs in phases
    of `phase_steps[k]` steps at `phase_learning_rates[k]` (a step-wise decay)."""

    lambda2s: tuple[float, ...] = (4.0, 4.0, 4.0, 16.0, 16.0, 16.0, 64.0, 64.0, 64.0, 256.0, 256.0)
    noise_scales: tuple[float, ...] = (0.5, 1.0, 2.0, 0.5, 1.0, 2.0, 0.5, 1.0, 2.0, 0.5, 1.0)
    main_lambda2: float = 64.0
    main_noise_scale: float = 1.0
    lambda1: float = 100.0
    beta_vae_lambda: float = 100.0
    widths: tuple[int, ...] = (3, 32, 32, 2)
    n_train: int = 16_384
    n_eval: int = 2_000
    batch_size: int = 256
    phase_steps: tuple[int, ...] = (3_500, 1_500)
    phase_learning_rates: tuple[float, ...] = (1e-2, 2e-3)
    seeds: tuple[int, ...] = (0,)
    data_seed: int = 0

    def __post_init__(self) -> None:
        if len(self.lambda2s) != len(self.noise_scales):
            raise ValueError(f"{len(self.lambda2s)} lambda2s and {len(self.noise_scales)} noise_scales: "
                             "the sweep needs one noise scale per λ2.")
        if (self.main_lambda2, self.main_noise_scale) not in set(zip(self.lambda2s, self.noise_scales)):
            raise ValueError(f"the main pair ({self.main_lambda2}, {self.main_noise_scale}) is not in the sweep "
                             f"{list(zip(self.lambda2s, self.noise_scales))}.")
        if len(self.phase_steps) != len(self.phase_learning_rates) or not self.phase_steps:
            raise ValueError("give one learning rate per training phase (and at least one phase).")
        if self.widths[0] != 3 or self.widths[-1] != 2:
            raise ValueError(f"widths must run from 3 (the sheet's ambient dimension) to 2 (its dimension); "
                             f"got {self.widths}.")
        if not self.seeds:
            raise ValueError("give at least one seed.")


# Estimate: two stacks of 50,000 steps, at the toy's measured 40,000 steps per 66 s.
GPU_MINUTES = 3.0

PROFILES = {
    "quick": Config(),
    "paper": Config(batch_size=1_024, phase_steps=(30_000, 20_000),
                    phase_learning_rates=(5e-3, 1e-3), seeds=(0, 1, 2, 3)),
}


def _train_in_phases(model: torch.nn.Module, x: torch.Tensor, seeds: list[int], config: Config) -> dict:
    """Train `model` through the config's phases (a fresh Adam each phase); final losses and wall time."""
    rows = [np.arange(len(x))] * len(seeds)
    losses, wall = [], 0.0
    for steps, rate in zip(config.phase_steps, config.phase_learning_rates):
        log = train(model, x, rows, seeds, TrainSettings(steps=steps, batch_size=config.batch_size,
                                                         learning_rate=rate, check_every=500, progress=False))
        losses, wall = log.losses[-1], wall + log.wall_time_s
    return {"final_loss": losses, "wall_time_s": wall}


def _decoder_statistics(decoder, z: torch.Tensor) -> dict:
    """Per point: squared column norms (n, d), |cosine| of the two columns (n,), log-volume
    ½ log det GᵀG (n,), and D(g(z), g(z + ε v)) / ε² along one random unit direction v (n,);
    per axis: the mean over points of D(g(z), g(z + ε e_j)) / ε² (d,)."""
    gram = diagnostics.gram(diagnostics.jacobians(decoder, z)).detach().double().cpu()
    squared = gram.diagonal(dim1=-2, dim2=-1)
    cosine = gram[:, 0, 1] / squared.prod(-1).sqrt()
    directions = torch.randn(z.shape, generator=torch.Generator().manual_seed(0), dtype=z.dtype)
    step = AXIS_STEP * (directions / directions.norm(dim=-1, keepdim=True)).to(z.device)
    with torch.no_grad():
        along = squared_error(decoder(z), decoder(z + step)) / AXIS_STEP**2
        ratios = diagnostics.axis_ratios(decoder, z, AXIS_STEP, squared_error)
    return {"squared_norms": squared.numpy(), "abs_cosine": cosine.abs().numpy(),
            "log_volume": 0.5 * torch.logdet(gram).numpy(), "direction_ratio": along.double().cpu().numpy(),
            "axis_ratios": ratios.cpu().numpy(), **diagnostics.orthonormality(gram)}


def _summary(stats: dict, latent: torch.Tensor, reconstruction: float) -> dict:
    """Scalar statistics of one model (arrays dropped)."""
    cosine = stats["abs_cosine"]
    return {
        **{key: stats[key] for key in ("mean_squared_norm", "squared_norm_per_axis", "norm_cv")},
        "median_abs_cosine": float(np.median(cosine)),
        "q90_abs_cosine": float(np.quantile(cosine, 0.9)),
        "log_volume_std": float(stats["log_volume"].std()),
        "log_volume_mean": float(stats["log_volume"].mean()),
        "direction_ratio_mean": float(stats["direction_ratio"].mean()),
        "direction_ratio_cv": float(stats["direction_ratio"].std() / stats["direction_ratio"].mean()),
        "axis_ratios": stats["axis_ratios"].tolist(),
        "latent_std": latent.std(dim=0).tolist(),
        "reconstruction": reconstruction,
    }


def run(config: Config, device: torch.device) -> dict:
    """Train both stacks, then measure every model's decoder and latent density at held-out points."""
    with one_cpu_thread(device):
        return _run(config, device)


def _run(config: Config, device: torch.device) -> dict:
    """The body of `run`: data, the two stacked trainings, then the measurements per model."""
    sheet = Sheet()
    x_train, _, _ = sheet.sample(config.n_train, config.data_seed)
    x_eval, s_eval, log_px = sheet.sample(config.n_eval, config.data_seed + 1)
    data = torch.tensor(x_train, dtype=torch.float32, device=device)
    points = torch.tensor(x_eval, dtype=torch.float32, device=device)

    pairs = list(zip(config.lambda2s, config.noise_scales))
    models = [("radogaga", lambda2, scale, seed) for seed in config.seeds for lambda2, scale in pairs]
    models += [("autoencoder", 0.0, 1.0, seed) for seed in config.seeds]
    coefficients = [Coefficients.radogaga(config.lambda1, lambda2) if kind == "radogaga"
                    else Coefficients(rate=0.0, reconstruction=1.0, noise=0.0) for kind, lambda2, _, _ in models]
    seeds = [seed for *_, seed in models]
    labels = [f"{kind} λ2={lambda2:g} s={scale:g} seed {seed}" for kind, lambda2, scale, seed in models]
    autoencoders = FactorizedAutoencoder(config.widths, coefficients, seeds, labels=labels,
                                         noise_scale=[scale for _, _, scale, _ in models]).to(device)
    vae_seeds = list(config.seeds)
    vaes = StackedBetaVAE(config.widths, [Coefficients.beta_vae(config.beta_vae_lambda)] * len(vae_seeds),
                          vae_seeds).to(device)
    training = {"autoencoders": _train_in_phases(autoencoders, data, seeds, config),
                "beta_vae": _train_in_phases(vaes, data, vae_seeds, config)}

    with torch.no_grad():
        z = autoencoders.encoder(points.expand(len(models), -1, -1))
        reconstruction = squared_error(autoencoders.decoder(z), points).mean(-1).tolist()
        log_pz = autoencoders.prior.log_density(z).double().cpu().numpy()
        mean, _ = vaes.encode(points.expand(len(vae_seeds), -1, -1))
        vae_reconstruction = squared_error(vaes.decoder(mean), points).mean(-1).tolist()

    rows, figure_arrays = [], {}
    for m, (kind, lambda2, scale, seed) in enumerate(models):
        stats = _decoder_statistics(diagnostics.member(autoencoders.decoder, m), z[m])
        row = {"method": kind, "lambda2": lambda2, "noise_scale": scale, "seed": seed,
               **_summary(stats, z[m].cpu(), reconstruction[m])}
        if kind == "radogaga":
            row["predicted"] = diagnostics.predicted_constant(lambda2, scale**2 * UNIFORM_NOISE_VARIANCE)
            density = diagnostics.density_proportionality(log_px, log_pz[m])
            offset = log_pz[m] - log_px
            row.update(density_spearman=density["spearman"], density_residual=density["mean_squared_residual"],
                       log_density_offset_mean=float(offset.mean()), log_density_offset_std=float(offset.std()))
        rows.append(row)
        first_seed = seed == config.seeds[0]
        if first_seed and (kind == "autoencoder" or (lambda2, scale) == (config.main_lambda2, config.main_noise_scale)):
            figure_arrays[kind] = {key: stats[key].round(DECIMALS) for key in FIGURE_ARRAYS}
            if kind == "radogaga":
                figure_arrays[kind]["log_pz"] = log_pz[m].round(DECIMALS)
    for m, seed in enumerate(vae_seeds):
        stats = _decoder_statistics(diagnostics.member(vaes.decoder, m), mean[m])
        rows.append({"method": "beta_vae", "lambda2": 0.0, "noise_scale": 0.0, "seed": seed,
                     **_summary(stats, mean[m].cpu(), vae_reconstruction[m])})
        if m == 0:
            figure_arrays["beta_vae"] = {key: stats[key].round(DECIMALS) for key in FIGURE_ARRAYS}
    return {"models": rows, "figure": figure_arrays, "source": s_eval.round(DECIMALS),
            "log_px": log_px.round(DECIMALS), "training": training}
