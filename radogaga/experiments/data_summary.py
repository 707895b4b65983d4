"""Every data set of the book at a glance: shape, anomaly ratio, value range, mean, checksum."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import torch

from radogaga import data

NAME = "data_summary"
ALL_SETS = ("kddcup99", "kddcup_rev", "thyroid", "arrhythmia", "toy", "toy_official", "olivetti")


@dataclass(frozen=True)
class Config:
    """Which sets to summarise; `seed` goes to the loaders that draw at random (toy, kddcup_rev)."""

    names: tuple[str, ...] = ALL_SETS
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [name for name in self.names if name not in data.names()]
        if unknown:
            raise ValueError(f"unknown data set(s) {', '.join(map(repr, unknown))}; "
                             f"valid names: {', '.join(data.names())}")


GPU_MINUTES = 0.2  # loads and summarises the data sets; no training

PROFILES = {"quick": Config(), "paper": Config()}


def _load(name: str, seed: int) -> data.Dataset:
    """Load a set, passing `seed` only to the loaders that take one."""
    takes_seed = "seed" in inspect.signature(data.LOADERS[name]).parameters
    return data.load(name, **({"seed": seed} if takes_seed else {}))


def summarize(dataset: data.Dataset) -> dict:
    """Shape, anomaly count and ratio, overall min/max/mean, non-finite count and checksum of one set."""
    X, meta = dataset.X, dataset.meta
    return {
        "shape": list(X.shape),
        "n_anomalies": meta.n_anomalies,
        "anomaly_ratio": meta.anomaly_ratio,
        "min": float(X.min()),
        "max": float(X.max()),
        "mean": float(X.mean(dtype=np.float64)),
        "n_nonfinite": int(X.size - np.isfinite(X).sum()),
        "preprocessing": meta.preprocessing,
        "sha256": meta.sha256,
    }


def run(config: Config, device: torch.device) -> dict:
    """A summary per data set (the device is not used: nothing here is computed on it)."""
    return {"sets": {name: summarize(_load(name, config.seed)) for name in config.names}}
