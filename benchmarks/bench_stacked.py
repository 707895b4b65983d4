"""Stacked trainer against a plain one-model-at-a-time loop, on Table 1's largest model.

The model: the KDDCUP99 network of the paper configuration (121 inputs, the toy chapter's
encoder 64-32-16-3 and its mirror, the estimation network 5-10-4 on z, the relative error
and the cosine similarity; covariance jitter 1e-4), batch 1024, the RaDOGAGA cost. (a) trains
models one after another, each in its own plain eager loop (the way public DAGMM ports do);
(b) trains M of them stacked in `radogaga.train`: eager, and on CUDA also captured as a CUDA
graph, with and without the compiled loss (`torch.compile`). All run on the same device in
the same process; the script prints model-steps per second and the ratio to (a). Each
stacked rate is timed on a fresh stack after a short warm-up run of the same shapes, so it
excludes compiling and capturing; the warm-up's wall time is reported beside it. Inputs are
uniform random numbers: the speed does not depend on their values. `--kernels` also counts
the kernels of one eager step and their summed device time (torch.profiler).

    python benchmarks/bench_stacked.py --device cpu
    python benchmarks/bench_stacked.py --device cuda --models 80 --steps 300 --out bench.json
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
from radogaga.infra.randomness import Randomness
from radogaga.models.density import Architecture, DensityAutoencoder
from radogaga.objectives import Coefficients
from radogaga.store.results import provenance
from radogaga.train import TrainSettings, train

ARCHITECTURE = Architecture(input_dim=121, encoder=(64, 32, 16, 3), estimation_hidden=10, components=4,
                            jitter=1e-4)
BATCH = 1024


def build(n_models: int, device: torch.device) -> DensityAutoencoder:
    """A stack of n_models RaDOGAGA(d) models (seeds 0..n-1) of the benchmark network."""
    return DensityAutoencoder(ARCHITECTURE, [Coefficients.radogaga(10.0, 0.1)] * n_models, [0.05] * n_models,
                              list(range(n_models))).to(device)


def training_rows(n_models: int, n_data: int) -> list[np.ndarray]:
    return [np.random.default_rng(seed).choice(n_data, n_data // 2, replace=False) for seed in range(n_models)]


def stacked(n_models: int, steps: int, data: torch.Tensor, graph: str, compile: str) -> dict:
    """Train n_models stacked for `steps` steps after a 20-step warm-up run of the same shapes:
    model-steps per second, the warm-up's wall time, and whether the step was captured / compiled."""
    seeds, rows = list(range(n_models)), training_rows(n_models, len(data))
    settings = TrainSettings(steps=steps, batch_size=BATCH, learning_rate=1e-4, check_every=steps,
                             cuda_graph=graph, compile=compile, progress=False)
    warm_up = train(build(n_models, data.device), data, rows, seeds, dataclasses.replace(settings, steps=20))
    log = train(build(n_models, data.device), data, rows, seeds, settings)
    return {"model_steps_per_second": log.model_steps_per_second(n_models), "warm_up_s": warm_up.wall_time_s,
            "cuda_graph": log.cuda_graph, "compiled": log.compiled}


def sequential(n_models: int, steps: int, data: torch.Tensor) -> float:
    """Models one after another, each its own eager loop: model-steps per second."""
    start = time.perf_counter()
    for seed in range(n_models):
        model = DensityAutoencoder(ARCHITECTURE, [Coefficients.radogaga(10.0, 0.1)], [0.05], [seed]).to(data.device)
        rows = [np.random.default_rng(seed).choice(len(data), len(data) // 2, replace=False)]
        train(model, data, rows, [seed], TrainSettings(steps=steps, batch_size=BATCH, learning_rate=1e-4,
                                                        check_every=steps, cuda_graph="off", compile="off",
                                                        progress=False))
    if data.device.type == "cuda":
        torch.cuda.synchronize()
    return n_models * steps / (time.perf_counter() - start)


def kernel_census(n_models: int, data: torch.Tensor, compiled: bool, steps: int = 5) -> dict:
    """Kernels per eager stacked step (forward, backward, Adam) and their summed device time
    per step, from torch.profiler over `steps` steps after three warm-up steps."""
    from torch.profiler import ProfilerActivity, profile

    from radogaga.train import loss_function

    model = build(n_models, data.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    randomness = Randomness(list(range(n_models)), data.device, "shared")
    step_loss = loss_function(model, compiled)
    indices = torch.randint(0, len(data), (n_models, BATCH), device=data.device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        step_loss(data, indices, randomness).sum().backward()
        optimizer.step()

    for _ in range(3):
        step()
    cuda = data.device.type == "cuda"
    with profile(activities=[ProfilerActivity.CUDA] if cuda else [ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
        if cuda:
            torch.cuda.synchronize()
    if cuda:
        kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        busy_us = sum(e.device_time_total for e in kernels)
    else:
        kernels = [e for e in prof.events() if e.name.startswith("aten::") and not e.cpu_children]
        busy_us = sum(e.self_cpu_time_total for e in kernels)
    by_name: dict[str, float] = {}
    for event in kernels:
        total = event.device_time_total if cuda else event.self_cpu_time_total
        by_name[event.name[:80]] = by_name.get(event.name[:80], 0.0) + total / steps
    top = dict(sorted(by_name.items(), key=lambda item: -item[1])[:12])
    return {"kernels_per_step": len(kernels) / steps, "busy_ms_per_step": busy_us / steps / 1e3,
            "top_us_per_step": top}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--models", type=int, default=80, help="models in the stack (default 80, Table 1's)")
    parser.add_argument("--steps", type=int, default=200, help="steps per stacked run")
    parser.add_argument("--sequential-models", type=int, default=3, help="models timed one by one")
    parser.add_argument("--sequential-steps", type=int, default=200)
    parser.add_argument("--kernels", action="store_true", help="also count the kernels of one eager step")
    parser.add_argument("--out", help="also write the numbers as JSON here")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    data = torch.rand(50_000, ARCHITECTURE.input_dim, device=device)
    threads = torch.get_num_threads()
    baseline = sequential(args.sequential_models, args.sequential_steps, data)
    runs = {f"stacked M={args.models} (eager)": stacked(args.models, args.steps, data, "off", "off")}
    if device.type == "cuda":
        runs[f"stacked M={args.models} (CUDA graph)"] = stacked(args.models, args.steps, data, "on", "off")
        runs[f"stacked M={args.models} (CUDA graph, compiled loss)"] = stacked(args.models, args.steps, data, "on", "on")
    rows = {"sequential, one model at a time (eager)": baseline,
            **{name: run["model_steps_per_second"] for name, run in runs.items()}}
    info = provenance(device, 0.0)
    print(f"device: {info['device']}; torch {torch.__version__}; radogaga {__version__}; "
          f"{threads} CPU threads; Python {platform.python_version()}")
    print(f"{'run':<52}{'model-steps/s':>15}{'ratio':>8}{'warm-up s':>11}")
    for name, value in rows.items():
        warm = f"{runs[name]['warm_up_s']:>11.1f}" if name in runs else ""
        print(f"{name:<52}{value:>15,.0f}{value / baseline:>7.1f}x{warm}")
    report = {"device": info["device"], "torch": torch.__version__, "git_commit": info["git_commit"],
              "utc_time": info["utc_time"], "network": dataclasses.asdict(ARCHITECTURE), "batch": BATCH,
              "model_steps_per_second": rows, "ratio_to_sequential": {k: v / baseline for k, v in rows.items()},
              "stacked_runs": runs, "settings": {k: v for k, v in vars(args).items() if k != "out"}}
    if args.kernels:
        report["kernel_census"] = {kind: kernel_census(args.models, data, kind == "compiled")
                                   for kind in (("eager", "compiled") if device.type == "cuda" else ("eager",))}
        for kind, census in report["kernel_census"].items():
            print(f"{kind} step: {census['kernels_per_step']:.0f} kernels, {census['busy_ms_per_step']:.2f} ms busy")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(report, handle, indent=2)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
