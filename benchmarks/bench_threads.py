"""The CPU thread policy: the book's small models trained with one intra-op thread against
torch's default (one per core), in the same run, on two workloads: the README's estimator
example (one Thyroid model, 600 steps) and a toy-chapter stack (15 models, batch 1,000).
Prints seconds per step and the ratio default / one thread (above 1: one thread is faster).

    python benchmarks/bench_threads.py            # needs RADOGAGA_DATA for Thyroid and the toy data
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from radogaga import data
from radogaga.experiments import toy
from radogaga.experiments._methods import ModelSpec, coefficients, noise_std
from radogaga.models.density import Architecture, DensityAutoencoder
from radogaga.objectives import Coefficients
from radogaga.train import TrainSettings, train


def estimator_workload(steps: int) -> tuple[DensityAutoencoder, torch.Tensor, list, TrainSettings]:
    thyroid = data.load("thyroid")
    train_rows, _ = data.paper_split(thyroid.y, seed=0)
    x = torch.as_tensor(thyroid.X[train_rows])
    model = DensityAutoencoder(Architecture(input_dim=x.shape[1], encoder=(12, 4, 1), components=2),
                               [Coefficients.radogaga(10.0, 100.0, h="log")], [0.05], [0])
    return model, x, [np.arange(len(x))], TrainSettings(steps=steps, batch_size=1024, progress=False)


def toy_workload(steps: int) -> tuple[DensityAutoencoder, torch.Tensor, list, TrainSettings]:
    config = toy.PROFILES["paper"]
    x = torch.as_tensor(toy.load(config).X)
    specs = [ModelSpec(m, s, config.lambda2, config.noise_std) for m in config.methods for s in config.seeds]
    model = DensityAutoencoder(toy.ARCHITECTURE, [coefficients(s, config) for s in specs],
                               [noise_std(s, config) for s in specs], [s.seed for s in specs])
    return model, x, [np.arange(len(x))] * len(specs), TrainSettings(steps=steps, batch_size=1000,
                                                                      learning_rate=1e-3, progress=False)


def seconds_per_step(make, steps: int, threads: int) -> float:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model, x, rows, settings = make(steps)
        start = time.perf_counter()
        train(model, x, rows, list(range(len(rows))), settings)
        return (time.perf_counter() - start) / steps
    finally:
        torch.set_num_threads(previous)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    default = os.cpu_count() or 1
    for name, make in (("estimator (README)", estimator_workload), ("toy stack, 15 models", toy_workload)):
        one = seconds_per_step(make, args.steps, 1)
        many = seconds_per_step(make, args.steps, default)
        print(f"{name}: 1 thread {one * 1e3:.2f} ms/step, {default} threads {many * 1e3:.2f} ms/step, "
              f"ratio {many / one:.2f}")


if __name__ == "__main__":
    main()
