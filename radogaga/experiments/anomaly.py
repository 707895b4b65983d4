"""Anomaly detection (paper Sec. 4.2, Table 1): DAGMM, RaDOGAGA(d) and RaDOGAGA(log(d)) on
KDDCUP99, Thyroid, Arrhythmia and KDDCUP-Rev, with baselines, under the paper's protocol.

Per seed: a random 50/50 split, training on the normal rows of the training half, scores
= energy −log P(features) under the mixture of the whole training set. Every model of a
data set (methods × seeds, plus a plain autoencoder per seed) trains in one stack; each
model sees its own seed's split. A config may list several data sets: each is run and
stored on its own (`parts`), so a killed run resumes at the data set it was on, and
inside a data set from the last training checkpoint.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass

import joblib
import numpy as np
import torch

from .. import baselines, data, paths, results, scoring
from ..data import ANOMALY_SETS, paper_split
from ..device import one_cpu_thread
from ..models.density import Architecture, DensityAutoencoder
from ..objectives import Coefficients
from ..train import TrainSettings, train

NAME = "anomaly"
METHODS = ("DAGMM", "RaDOGAGA(d)", "RaDOGAGA(log(d))")
AUTOENCODER = "AE"              # the same network trained on reconstruction alone
UNTRAINED = "untrained network"  # the same network at initialisation, scored by its energy
BASELINES = (UNTRAINED, AUTOENCODER, *baselines.NAMES)
NETWORKS = ("dagmm", "toy")
CHECKPOINT_EVERY = 1_000


@dataclass(frozen=True)
class DataSettings:
    """The per-data-set network and training length of DAGMM (Zong et al. 2018, Sec. 4.3)."""

    encoder: tuple[int, ...]
    components: int
    epochs: int


DAGMM_SETTINGS = {
    "kddcup99": DataSettings((60, 30, 10, 1), 4, 200),
    "thyroid": DataSettings((12, 4, 1), 2, 20_000),
    "arrhythmia": DataSettings((10, 2), 2, 10_000),
    "kddcup_rev": DataSettings((60, 30, 10, 1), 2, 400),
}
TOY_ENCODER = (64, 32, 16, 3)  # the paper's toy network, which it says the anomaly networks follow


@dataclass(frozen=True)
class Config:
    """An anomaly run. Settings the paper does not give are our choices (see the chapter)."""

    datasets: tuple[str, ...] = ANOMALY_SETS
    methods: tuple[str, ...] = METHODS
    baselines: tuple[str, ...] = BASELINES
    seeds: tuple[int, ...] = tuple(range(20))
    network: str = "dagmm"
    steps: int = 0            # 0: DAGMM's epochs for the data set
    max_rows: int = 0         # 0: every row; else a random subsample (quick profile)
    batch_size: int = 1_024
    learning_rate: float = 1e-4
    dagmm_lambda1: float = 0.1
    dagmm_lambda2: float = 0.005
    lambda1_d: float = 1_000.0
    lambda1_log: float = 10.0
    lambda2: float = 100.0
    noise_std: float = 0.05
    false_alarm: float = 0.05
    baseline_rows: int = 20_000
    figure_rows: int = 2_000

    def __post_init__(self) -> None:
        for field, allowed in (("datasets", ANOMALY_SETS), ("methods", METHODS), ("baselines", BASELINES)):
            chosen = getattr(self, field)
            unknown = [value for value in chosen if value not in allowed]
            if unknown:
                raise ValueError(f"unknown {field} {unknown}; choose from {allowed}.")
        if not self.datasets or not self.seeds or not (self.methods or self.baselines):
            raise ValueError("give at least one data set, one seed and one method or baseline.")
        if self.network not in NETWORKS:
            raise ValueError(f"network={self.network!r}; choose one of {NETWORKS}.")
        if self.steps < 0 or self.max_rows < 0 or self.batch_size < 1:
            raise ValueError("steps and max_rows must be >= 0 and batch_size >= 1.")
        if not 0 < self.false_alarm < 1:
            raise ValueError(f"false_alarm={self.false_alarm!r} must be in (0, 1).")


PROFILES = {
    "quick": Config(seeds=(0, 1), steps=200, max_rows=10_000, batch_size=512, baseline_rows=2_000,
                    figure_rows=500),
    "paper": Config(),
}


def parts(config: Config) -> list[Config]:
    """One config per data set: each is trained, stored and resumed on its own."""
    return [dataclasses.replace(config, datasets=(name,)) for name in config.datasets]


def architecture(name: str, input_dim: int, network: str) -> Architecture:
    """The network of data set `name`: DAGMM's per-data-set widths, or the paper's toy widths."""
    settings = DAGMM_SETTINGS[name]
    encoder = settings.encoder if network == "dagmm" else TOY_ENCODER
    return Architecture(input_dim=input_dim, encoder=encoder, estimation_hidden=10,
                        components=settings.components, activation="tanh", dropout=0.5, error_features=True,
                        reduction="sum", jitter=1e-4)


def coefficients(method: str, config: Config) -> Coefficients:
    """The cost of one method under this config."""
    if method == "DAGMM":
        return Coefficients.dagmm(config.dagmm_lambda1, config.dagmm_lambda2)
    if method == "RaDOGAGA(d)":
        return Coefficients.radogaga(config.lambda1_d, config.lambda2, h="identity")
    if method == "RaDOGAGA(log(d))":
        return Coefficients.radogaga(config.lambda1_log, config.lambda2, h="log")
    return Coefficients(rate=0.0, reconstruction=1.0, noise=0.0)  # the plain autoencoder


def load(name: str, max_rows: int) -> data.Dataset:
    """Data set `name`, or a random `max_rows` of its rows (seed 0) when it has more."""
    dataset = data.load(name)
    if not max_rows or len(dataset.X) <= max_rows:
        return dataset
    keep = np.sort(np.random.default_rng(0).choice(len(dataset.X), max_rows, replace=False))
    return dataclasses.replace(dataset, X=dataset.X[keep], y=dataset.y[keep])


def training_steps(name: str, n_train: int, config: Config) -> tuple[int, int]:
    """(steps, batch size): DAGMM's epochs over `n_train` rows unless the config fixes steps."""
    batch = min(config.batch_size, n_train)
    steps = config.steps or math.ceil(DAGMM_SETTINGS[name].epochs * n_train / batch)
    return steps, batch


def checkpoint_path(config: Config) -> os.PathLike:
    """Where training of this config saves its state, so a killed run resumes."""
    return paths.cache_dir() / "checkpoints" / NAME / f"{results.config_hash(dataclasses.asdict(config))}.pt"


def run(config: Config, device: torch.device) -> dict:
    """Train and evaluate every method and baseline of the config's one data set."""
    if len(config.datasets) != 1:
        raise ValueError(f"run takes one data set at a time, got {config.datasets}; split the config with "
                         "`parts` (the command line does).")
    name = config.datasets[0]
    dataset = load(name, config.max_rows)
    x_all, y = dataset.X, dataset.y.astype(int)
    splits = {seed: paper_split(y, seed) for seed in config.seeds}
    share = float(y.mean())
    arch = architecture(name, x_all.shape[1], config.network)
    networks = [*config.methods, *([AUTOENCODER] if AUTOENCODER in config.baselines else [])]
    specs = [(method, seed) for method in networks for seed in config.seeds]
    steps, batch = training_steps(name, min(len(train_rows) for train_rows, _ in splits.values()), config)
    scores, log, timings = {}, None, {}
    with one_cpu_thread(device):
        x = torch.as_tensor(x_all, device=device)
        if UNTRAINED in config.baselines:
            scores |= _network_scores(_stack(arch, [("DAGMM", s) for s in config.seeds], config), x, splits,
                                      [(UNTRAINED, s) for s in config.seeds])
        if specs:
            stack = _stack(arch, specs, config).to(device)
            start = time.perf_counter()
            log = train(stack, x, [splits[seed][0] for _, seed in specs], [seed for _, seed in specs],
                        TrainSettings(steps=steps, batch_size=batch, learning_rate=config.learning_rate,
                                      check_every=max(1, steps // 50), checkpoint_every=CHECKPOINT_EVERY,
                                      progress=False),
                        checkpoint=checkpoint_path(config))
            timings["train_s"] = time.perf_counter() - start
            start = time.perf_counter()
            scores |= _network_scores(stack, x, splits, specs)
            timings["network_scores_s"] = time.perf_counter() - start
    start = time.perf_counter()
    scores |= _baseline_scores(config, x_all, splits, arch.components)
    timings["baselines_s"] = time.perf_counter() - start
    models = [{"method": method, "seed": seed,
               **scoring.evaluate(y[splits[seed][1]], test, train_scores, share, config.false_alarm)}
              for (method, seed), (train_scores, test) in scores.items()]
    first = config.seeds[0]
    figure = {method: _figure_sample(y[splits[first][1]], scores[(method, first)][1], config.figure_rows)
              for method in dict.fromkeys(m for m, _ in scores)}
    checkpoint_path(config).unlink(missing_ok=True)
    return {"dataset": name, "data_provenance": dataset.meta.provenance_line(), "rows": len(y),
            "anomaly_ratio": share, "n_train": [len(splits[s][0]) for s in config.seeds],
            "encoder": list(arch.encoder), "components": arch.components, "steps": steps, "batch_size": batch,
            "epochs": steps * batch / np.mean([len(splits[s][0]) for s in config.seeds]),
            "models": models, "figure": figure, "timings": timings,
            "labels": [f"{m}, seed {s}" for m, s in specs],
            "loss_steps": log.steps if log else [], "losses": np.array(log.losses if log else [], np.float32)}


def _stack(arch: Architecture, specs: list[tuple[str, int]], config: Config) -> DensityAutoencoder:
    return DensityAutoencoder(arch, [coefficients(method, config) for method, _ in specs],
                              [config.noise_std if method.startswith("RaDOGAGA") else 0.0 for method, _ in specs],
                              [seed for _, seed in specs], labels=[f"{m}, seed {s}" for m, s in specs])


def _network_scores(stack: DensityAutoencoder, x: torch.Tensor, splits: dict, specs: list[tuple[str, int]]) -> dict:
    """(train, test) scores of each model: reconstruction error for the plain autoencoder,
    else the energy under the mixture of its whole training set (float64, no dropout)."""
    stack = stack.to(x.device).double().eval()
    x64 = x.double()
    train_rows = [torch.as_tensor(splits[seed][0], device=x.device) for _, seed in specs]
    per_row = stack.energy(x64, stack.fit_mixture(x64, train_rows)).cpu().numpy()
    if any(method == AUTOENCODER for method, _ in specs):
        errors = stack.reconstruction_error(x64).cpu().numpy()
        per_row = np.where([[method == AUTOENCODER] for method, _ in specs], errors, per_row)
    return {spec: (per_row[m, splits[spec[1]][0]], per_row[m, splits[spec[1]][1]]) for m, spec in enumerate(specs)}


def _baseline_scores(config: Config, x_all: np.ndarray, splits: dict, components: int) -> dict:
    """(train, test) scores of each classical baseline and seed, the fits spread over the CPU's cores."""
    tasks = [(name, seed) for name in config.baselines if name in baselines.NAMES for seed in config.seeds]
    jobs = max(1, min(len(tasks), os.cpu_count() or 1))
    done = joblib.Parallel(n_jobs=jobs)(
        joblib.delayed(_one_baseline)(name, x_all, *splits[seed], components=components, seed=seed,
                                      max_rows=config.baseline_rows) for name, seed in tasks)
    return dict(zip(tasks, done))


def _one_baseline(name: str, x_all: np.ndarray, train_rows: np.ndarray, test_rows: np.ndarray, *,
                  components: int, seed: int, max_rows: int) -> tuple[np.ndarray, np.ndarray]:
    scored = baselines.fit_and_score(name, x_all[train_rows], x_all[np.concatenate([train_rows, test_rows])],
                                     components=components, seed=seed, max_rows=max_rows)
    return scored[:len(train_rows)], scored[len(train_rows):]


def _figure_sample(y: np.ndarray, scores: np.ndarray, rows: int) -> dict[str, np.ndarray]:
    """At most `rows` test scores of each class (seed 0 draw), for the score histograms."""
    rng = np.random.default_rng(0)
    sample = {}
    for label, key in ((0, "normal"), (1, "anomaly")):
        values = scores[y == label]
        if len(values) > rows:
            values = values[rng.choice(len(values), rows, replace=False)]
        sample[key] = values.astype(np.float32)
    return sample
