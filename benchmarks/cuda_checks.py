"""Checks of the trainer that need a CUDA device: the captured step trains, a seed gives
the same result twice, a killed captured run resumes from its checkpoint, the compiled loss
trains like the plain one (same draws; losses within float32 round-off), and a run trained
at the same time as another one, in its own thread and stream, ends exactly as it does alone.

    python benchmarks/cuda_checks.py --device cuda --out cuda_checks.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import torch

from radogaga.infra.device import resolve_device
from radogaga.models.density import Architecture, DensityAutoencoder
from radogaga.objectives import Coefficients
from radogaga.store.results import provenance
from radogaga.train import TrainSettings, train

SEEDS = [0, 1, 2]
ARCHITECTURE = Architecture(input_dim=121, encoder=(60, 30, 10, 1), components=4)
METHODS = [Coefficients.dagmm(), Coefficients.radogaga(0.1, 1.0), Coefficients.radogaga(0.1, 1.0, h="log")]


def run(data, graph: str, steps: int, checkpoint=None, checkpoint_every=0, compile="off", seeds=SEEDS):
    model = DensityAutoencoder(ARCHITECTURE, METHODS, [0.1] * 3, seeds).to(data.device)
    rows = [np.random.default_rng(s).choice(len(data), len(data) // 2, replace=False) for s in seeds]
    log = train(model, data, rows, seeds, TrainSettings(steps=steps, batch_size=1024, learning_rate=1e-3,
                                                         check_every=50, checkpoint_every=checkpoint_every,
                                                         cuda_graph=graph, compile=compile, progress=False),
                checkpoint=checkpoint)
    return model, log


def at_once(data, graph: str, steps: int) -> torch.Tensor:
    """Two runs trained at once, each in its own thread (and CUDA stream): the first run's parameters."""
    models = {}

    def work(seeds):
        stream = torch.cuda.Stream(data.device) if data.device.type == "cuda" else None
        with torch.cuda.stream(stream) if stream is not None else _no_stream():
            models[seeds[0]] = run(data, graph, steps, seeds=seeds)[0]

    threads = [threading.Thread(target=work, args=(seeds,)) for seeds in (SEEDS, [7, 8, 9])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return flat(models[SEEDS[0]])


class _no_stream:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def relative_difference(a: list[list[float]], b: list[list[float]]) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


def flat(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    data = torch.rand(20_000, 121, generator=torch.Generator().manual_seed(0)).to(device)
    graph = "on" if device.type == "cuda" else "off"
    first, log_first = run(data, graph, args.steps)
    second, _ = run(data, graph, args.steps)
    eager, log_eager = run(data, "off", args.steps)
    compiled, log_compiled = run(data, graph, args.steps, compile="auto")  # compiled under a CUDA graph only
    concurrent = at_once(data, graph, args.steps)
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / "run.pt"
        run(data, graph, args.steps // 2, checkpoint=checkpoint, checkpoint_every=args.steps // 2)
        resumed, log_resumed = run(data, graph, args.steps, checkpoint=checkpoint, checkpoint_every=args.steps // 2)
    report = {
        "device": provenance(device, 0.0)["device"],
        "captured_as_cuda_graph": log_first.cuda_graph,
        "same_seed_same_parameters": bool(torch.equal(flat(first), flat(second))),
        "resumed_from_step": log_resumed.resumed_from,
        "resumed_max_abs_difference": float((flat(resumed) - flat(first)).abs().max()),
        "compiled": log_compiled.compiled,
        "compiled_vs_plain_max_relative_loss_difference": relative_difference(log_compiled.losses, log_first.losses),
        "compiled_vs_plain_max_abs_parameter_difference": float((flat(compiled) - flat(first)).abs().max()),
        "at_once_equals_alone": bool(torch.equal(concurrent, flat(first))),
        "losses_first_check": log_first.losses[0],
        "losses_last_check_graph": log_first.losses[-1],
        "losses_last_check_eager": log_eager.losses[-1],
    }
    print(json.dumps(report, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
