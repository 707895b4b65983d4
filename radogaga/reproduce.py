"""Reproduce every experiment at one profile: a plan with estimates first, then each part
that is not stored yet, then the wall time. Stored parts are skipped, so a killed run
started again goes on where it stopped (and an experiment with training checkpoints
resumes inside the part it was on).

Estimates are an experiment's `GPU_MINUTES` (its paper profile on one H100-class GPU;
the basis is stated beside each value in its module), per part where it has parts.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from radogaga import experiments
from radogaga.infra.device import parse_device, resolve_device
from radogaga.store import results

# The book's order: theory, then the experiments of the paper's Sec. 4.
BOOK_ORDER = ("data_summary", "theory_isometry", "theory_pca", "theory_log", "toy", "toy_sensitivity",
              "anomaly", "anomaly_sensitivity", "latent")


@dataclass(frozen=True)
class Step:
    """One part of one experiment in the plan."""

    experiment: str
    config: Any
    label: str
    stored: bool
    estimate_minutes: float | None


def part_label(config: Any) -> str:
    """A short name of a part: its data sets (or variants) where the config has them, else empty."""
    return ", ".join(getattr(config, "datasets", ()) or getattr(config, "variants", ()))


def estimate_minutes(name: str, label: str, profile: str, device: torch.device) -> float | None:
    """The declared GPU estimate of one part at the paper profile; None where there is none."""
    declared = getattr(experiments.get(name), "GPU_MINUTES", None)
    if profile != "paper" or device.type != "cuda" or declared is None:
        return None
    return float(declared[label] if isinstance(declared, dict) else declared)  # a stand-in profile's own estimate


def reproduced_profile(name: str, profile: str) -> str:
    """The profile `reproduce` runs for `name`: the asked one, except where the paper's scale is
    beyond the book's runs and the experiment names a stand-in (`REPRODUCE_PROFILE`)."""
    return getattr(experiments.get(name), "REPRODUCE_PROFILE", profile) if profile == "paper" else profile


def plan(profile: str = "paper", device: str | torch.device = "auto", root: str | os.PathLike | None = None,
         only: Sequence[str] | None = None, present: bool = True, recompute: bool = False) -> list[Step]:
    """Every part of every experiment (or of `only`) at `profile`, in the book's order. With
    `present=False` the device need not be on this machine (a plan for one to rent); with
    `recompute` every part is to run, stored or not."""
    names = experiments.names()
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise ValueError(f"unknown experiment(s) {', '.join(unknown)}; valid experiments: {', '.join(names)}")
    chosen = [n for n in BOOK_ORDER if n in names] + [n for n in names if n not in BOOK_ORDER]
    chosen = [n for n in chosen if not only or n in only]
    torch_device = resolve_device(device) if present else parse_device(device)
    steps = []
    for name in chosen:
        chosen_profile = reproduced_profile(name, profile)
        for part in experiments.parts(name, experiments.config_for(name, chosen_profile)):
            label = part_label(part) or ("" if chosen_profile == profile else f"{chosen_profile} profile")
            stored = not recompute and results.load(name, dataclasses.asdict(part), root=root) is not None
            steps.append(Step(name, part, label, stored, estimate_minutes(name, label, profile, torch_device)))
    return steps


def describe(steps: Sequence[Step]) -> str:
    """The plan as text: one line per part, then the total estimate of what is to run."""
    lines = []
    for step in steps:
        what = f"{step.experiment}" + (f" [{step.label}]" if step.label else "")
        if step.stored:
            status = "stored, skipped"
        elif step.estimate_minutes is None:
            status = "to run, no estimate"
        else:
            status = f"to run, about {step.estimate_minutes:.1f} min"
        lines.append(f"  {what:<40} {status}")
    pending = [s for s in steps if not s.stored]
    known = sum(s.estimate_minutes or 0.0 for s in pending)
    missing = sum(s.estimate_minutes is None for s in pending)
    if pending and missing == len(pending):
        total = (f"{len(pending)} part(s) to run; estimates are given for a CUDA GPU only "
                 "(see the plan with --device cuda, which needs no GPU with --dry-run)")
    else:
        total = f"{len(pending)} part(s) to run, estimated {known:.0f} min on one H100-class GPU" + (
            f" plus {missing} part(s) without an estimate" if missing else "")
    return "\n".join([*lines, total])


def reproduce(profile: str = "paper", device: str | torch.device = "auto", root: str | os.PathLike | None = None,
              only: Sequence[str] | None = None, recompute: bool = False,
              report: Callable[[str], None] = print) -> list[results.Result]:
    """Run every part of the plan that is not stored (all of them with `recompute`)."""
    steps = plan(profile, device, root, only, recompute=recompute)
    report(describe(steps))
    start = time.perf_counter()
    done = []
    for name in dict.fromkeys(step.experiment for step in steps):
        pending = [step for step in steps if step.experiment == name and not step.stored]
        configs = [step.config for step in pending]
        if experiments.runs_parts_at_once(name, resolve_device(device), len(pending)):
            finished = experiments.run_parts_at_once(name, configs, device, root, recompute=recompute)
        else:
            finished = (experiments.run_config(name, config, device, root, recompute=recompute) for config in configs)
        for result in finished:
            label = next(s.label for s in pending if results.config_hash(dataclasses.asdict(s.config)) == result.key)
            report(f"{name}" + (f" [{label}]" if label else "") + f": {results.provenance_line(result)}")
            done.append(result)
    report(f"reproduce: {len(done)} part(s) computed in {time.perf_counter() - start:.0f} s")
    return done
