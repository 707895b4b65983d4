"""How the toy results move with λ2 and the noise σ (RaDOGAGA(log(d))), measured on our
generator's data with seeds not used for the reported runs, so that the settings chosen
for the reported runs are not picked on the data they are reported on."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from radogaga.experiments._methods import ModelSpec
from radogaga.experiments.toy import Config as ToyConfig, load, summarize, train_and_measure

NAME = "toy_sensitivity"


@dataclass(frozen=True)
class Config:
    """A grid of (λ2, noise std) for one method, seeds and training length."""

    method: str = "RaDOGAGA(log(d))"
    grid: tuple[tuple[float, float], ...] = tuple((l2, sd) for l2 in (10.0, 100.0, 1000.0)
                                                  for sd in (0.02, 0.05, 0.1))
    seeds: tuple[int, ...] = (100,)
    data_seed: int = 1
    steps: int = 2_000

    def toy_config(self) -> ToyConfig:
        return ToyConfig(source="generated", methods=(self.method,), seeds=self.seeds,
                         data_seed=self.data_seed, steps=self.steps, figure_points=400, jacobian_points=200)


# Measured: the paper profile took 74 s on an NVIDIA H200 (results/toy_sensitivity; 74 s again at commit 149bcf6,
# compiled, after two other stacks had compiled in the same session).
GPU_MINUTES = 1.2

PROFILES = {
    "quick": Config(grid=tuple((l2, sd) for l2 in (10.0, 100.0, 1000.0) for sd in (0.02, 0.1)), steps=1_000),
    "paper": Config(seeds=(100, 101, 102), steps=40_000),
}


def run(config: Config, device: torch.device, checkpoint_dir: Path | None = None) -> dict:
    """Every grid point × seed in one stack; per grid point mean and std over seeds."""
    toy_config = config.toy_config()
    specs = [ModelSpec(config.method, seed, l2, sd) for l2, sd in config.grid for seed in config.seeds]
    payload = train_and_measure(load(toy_config), specs, toy_config, device,
                                None if checkpoint_dir is None else Path(checkpoint_dir) / "train.pt",
                                {"experiment": NAME, "config": dataclasses.asdict(config)})
    for entry in payload["models"]:
        entry["setting"] = f"{entry['lambda2']:g}/{entry['noise_std']:g}"
        del entry["z_figure"], entry["log_p_z"]
    del payload["log_p_x"], payload["component"], payload["figure_points"]
    payload["summary"] = summarize(payload["models"], key="setting")
    marks = undefined_marks(payload["models"])
    return {**payload, "undefined": marks} if marks else payload


COLLAPSED = ("the model's latent collapsed: its density is the same at every point, so the proportionality "
             "measures are undefined")


def undefined_marks(models: list[dict]) -> dict[str, str]:
    """The payload's `undefined` marks: each collapsed model, and the summary of its grid point
    (a mean over seeds that include it; `defined_summary` leaves it out)."""
    marks = {}
    for index, entry in enumerate(models):
        if not math.isfinite(entry["one_minus_r2"]):
            marks[f"models[{index}]"] = COLLAPSED
            marks[f"summary.{entry['setting']}"] = "includes a collapsed model; see defined_summary"
    return marks


def collapsed(models: list[dict]) -> list[dict]:
    """The models whose latent collapsed: P_z came out the same at every point, so the
    proportionality measures (1 − R², correlations) are undefined (NaN) for them."""
    return [entry for entry in models if not math.isfinite(entry["one_minus_r2"])]


def defined_summary(payload: dict) -> dict:
    """Per grid point, mean and std over the seeds whose model did not collapse."""
    failed = {id(entry) for entry in collapsed(payload["models"])}
    return summarize([entry for entry in payload["models"] if id(entry) not in failed], key="setting")
