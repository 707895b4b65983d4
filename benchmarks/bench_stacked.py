"""Stacked trainer against a plain one-model-at-a-time loop, on the KDD-size model.

The model: a 121-60-30-10-1 autoencoder with the estimation network to K = 4 (input z,
relative error, cosine similarity), batch 1024, the RaDOGAGA cost. (a) trains models one
after another, each in its own plain eager loop (the way public DAGMM ports do); (b) trains
M of them stacked in `radogaga.train` (on CUDA: captured as a CUDA graph, plus the eager
stacked step for reference). Both run on the same device in the same process; the script
prints model-steps per second and the ratio to (a). Inputs are uniform random numbers:
the speed does not depend on their values.

    python benchmarks/bench_stacked.py --device cpu
    python benchmarks/bench_stacked.py --device cuda --out benchmarks/h100.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time

import numpy as np
import torch

from radogaga import __version__
from radogaga.infra.device import resolve_device
from radogaga.models.density import Architecture, DensityAutoencoder
from radogaga.objectives import Coefficients
from radogaga.store.results import provenance
from radogaga.train import TrainSettings, train

ARCHITECTURE = Architecture(input_dim=121, encoder=(60, 30, 10, 1), estimation_hidden=10, components=4)
BATCH = 1024


def model_steps_per_second(n_models: int, steps: int, data: torch.Tensor, graph: str) -> tuple[float, bool]:
    """Train n_models stacked for `steps` steps (after one short warm-up run): model-steps
    per second, and whether the step really ran as a CUDA graph."""
    seeds = list(range(n_models))
    rng = np.random.default_rng(0)
    rows = [rng.choice(len(data), len(data) // 2, replace=False) for _ in seeds]
    settings = TrainSettings(steps=steps, batch_size=BATCH, learning_rate=1e-4, check_every=steps,
                             cuda_graph=graph, progress=False)

    def build():
        coefficients = [Coefficients.radogaga(0.1, 1.0)] * n_models
        return DensityAutoencoder(ARCHITECTURE, coefficients, [0.1] * n_models, seeds).to(data.device)

    train(build(), data, rows, seeds, dataclasses.replace(settings, steps=min(steps, 20)))
    log = train(build(), data, rows, seeds, settings)
    return log.model_steps_per_second(n_models), log.cuda_graph


def sequential(n_models: int, steps: int, data: torch.Tensor) -> float:
    """Models one after another, each its own eager loop: model-steps per second."""
    start = time.perf_counter()
    for seed in range(n_models):
        model = DensityAutoencoder(ARCHITECTURE, [Coefficients.radogaga(0.1, 1.0)], [0.1], [seed]).to(data.device)
        rows = [np.random.default_rng(seed).choice(len(data), len(data) // 2, replace=False)]
        train(model, data, rows, [seed], TrainSettings(steps=steps, batch_size=BATCH, learning_rate=1e-4,
                                                        check_every=steps, cuda_graph="off", progress=False))
    if data.device.type == "cuda":
        torch.cuda.synchronize()
    return n_models * steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--models", type=int, default=60, help="models in the stack (default 60)")
    parser.add_argument("--steps", type=int, default=200, help="steps per stacked run")
    parser.add_argument("--sequential-models", type=int, default=3, help="models timed one by one")
    parser.add_argument("--sequential-steps", type=int, default=200)
    parser.add_argument("--out", help="also write the numbers as JSON here")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    data = torch.rand(50_000, ARCHITECTURE.input_dim, device=device)
    threads = torch.get_num_threads()
    baseline = sequential(args.sequential_models, args.sequential_steps, data)
    rows = {"sequential, one model at a time (eager)": baseline,
            f"stacked M={args.models} (eager)": model_steps_per_second(args.models, args.steps, data, "off")[0]}
    if device.type == "cuda":
        rate, captured = model_steps_per_second(args.models, args.steps, data, "on")
        rows[f"stacked M={args.models} (CUDA graph{'' if captured else ' FAILED: eager fallback'})"] = rate
    info = provenance(device, 0.0)
    print(f"device: {info['device']}; torch {torch.__version__}; radogaga {__version__}; "
          f"{threads} CPU threads; Python {platform.python_version()}")
    print(f"{'run':<45}{'model-steps/s':>15}{'ratio':>8}")
    for name, value in rows.items():
        print(f"{name:<45}{value:>15,.0f}{value / baseline:>7.1f}x")
    report = {"device": info["device"], "torch": torch.__version__, "git_commit": info["git_commit"],
              "utc_time": info["utc_time"], "model_steps_per_second": rows,
              "ratio_to_sequential": {k: v / baseline for k, v in rows.items()},
              "settings": {k: v for k, v in vars(args).items() if k != "out"}}
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(report, handle, indent=2)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
