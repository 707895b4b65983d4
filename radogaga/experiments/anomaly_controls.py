"""Controlled runs for the gap between our Table 1 and the paper's: each a stated hypothesis,
one change to the paper configuration, 5 seeds (0-4, the first five of the headline runs)
at full length, compared per seed with the headline run of the same seeds.

A control changes only what its hypothesis names; the reference is the headline result of
the same profile (`anomaly`'s paper profile, or its quick profile for a quick control).
The threshold hypothesis needs no run: every anomaly result carries DAGMM's percentile
threshold beside the rounded share.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from radogaga.experiments import anomaly

NAME = "anomaly_controls"


@dataclass(frozen=True)
class Variant:
    """One hypothesis: the data set it is tested on and what it changes."""

    dataset: str
    hypothesis: str
    jitter: float = 1e-4
    dtype: str = "float32"
    scaling: str = "minmax"
    batch_size: int | None = None
    noise_std: float | None = None


VARIANTS = {
    "float64": Variant("thyroid", "float32 rounding limits the mixture (training in float64, jitter 1e-4)",
                       dtype="float64"),
    "float64-jitter-1e-6": Variant("thyroid", "the covariance jitter 1e-4 swamps the cosine feature's variance "
                                   "(float64, jitter 1e-6)", jitter=1e-6, dtype="float64"),
    "zscore": Variant("thyroid", "min-max scaling hides the anomalies' range (z-score scaling instead)",
                      scaling="zscore"),
    "sigma-0.01": Variant("thyroid", "the noise σ is not small against the latent spread (σ = 0.01 instead of "
                          "0.05)", noise_std=0.01),
    "batch-128": Variant("arrhythmia", "one batch of all training rows trains differently from DAGMM's batches "
                         "(batch 128)", batch_size=128),
}


@dataclass(frozen=True)
class Config:
    """Which controls, on which seeds, against which profile of `anomaly`."""

    variants: tuple[str, ...] = tuple(VARIANTS)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    base_profile: str = "paper"

    def __post_init__(self) -> None:
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown or not self.variants:
            raise ValueError(f"unknown variant(s) {unknown}; choose from {tuple(VARIANTS)}.")
        if self.base_profile not in ("paper", "quick"):
            raise ValueError(f"base_profile={self.base_profile!r}; choose 'paper' or 'quick'.")
        if not self.seeds:
            raise ValueError("give at least one seed.")


# Estimate: each control is a quarter of its data set's headline stack (15 of 80 models, 5 of 20 seeds).
GPU_MINUTES = {name: 0.5 for name in VARIANTS}

PROFILES = {
    "paper": Config(),
    "quick": Config(seeds=(0, 1), base_profile="quick"),
}


def parts(config: Config) -> list[Config]:
    """One stored result per control."""
    return [dataclasses.replace(config, variants=(name,)) for name in config.variants]


def reference(config: Config) -> anomaly.Config:
    """The anomaly config this control changes: the base profile on the control's data set and
    seeds, the three networks only."""
    variant = VARIANTS[config.variants[0]]
    return dataclasses.replace(anomaly.PROFILES[config.base_profile], datasets=(variant.dataset,),
                               seeds=config.seeds, baselines=())


def zscore(x: np.ndarray) -> np.ndarray:
    """Each column centred and divided by its standard deviation (constant columns stay 0)."""
    std = x.std(axis=0)
    return ((x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)).astype(x.dtype)


def run(config: Config, device: torch.device, checkpoint_dir: Path | None = None) -> dict:
    """The control's one change applied to its reference config, trained and scored."""
    if len(config.variants) != 1:
        raise ValueError(f"run takes one control at a time, got {config.variants}; split with `parts`.")
    variant = VARIANTS[config.variants[0]]
    changed = reference(config)
    if variant.batch_size is not None:
        changed = dataclasses.replace(changed, batch_size=variant.batch_size)
    if variant.noise_std is not None:
        changed = dataclasses.replace(changed, noise_std=variant.noise_std)
    dataset = anomaly.load(variant.dataset, changed.max_rows)
    if variant.scaling == "zscore":
        dataset = dataclasses.replace(dataset, X=zscore(dataset.X))
    arch = dataclasses.replace(anomaly.architecture(variant.dataset, dataset.X.shape[1], changed.network),
                               jitter=variant.jitter)
    dtype = {"float32": torch.float32, "float64": torch.float64}[variant.dtype]
    payload = anomaly.evaluate(changed, dataset, arch, device, checkpoint_dir, dtype)
    return {**payload, "variant": config.variants[0], "hypothesis": variant.hypothesis}
