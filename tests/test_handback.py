"""A budget-stopped GPU run loses nothing: gpu_run.sh hands back every checkpoint file an
experiment writes (whatever its name) and the next call, on a fresh machine, resumes to
the result an uninterrupted run stores. The stop is the budget's: SIGTERM to the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from radogaga import cli, experiments
from radogaga.revalidate import TIMING_KEYS, _same
from radogaga.store import results

ROOT = Path(__file__).resolve().parent.parent
GPU_RUN = ROOT / "benchmarks" / "gpu_run.sh"

# Each experiment that checkpoints, at its quick profile made small; it saves every CHECKPOINT_EVERY steps, so that
# it is stopped in training.
CHECKPOINT_EVERY = "20"
CHECKPOINTING = {
    "anomaly": ['datasets=["arrhythmia"]', "seeds=[0]", "steps=60", "baselines=[]", 'methods=["RaDOGAGA(d)"]'],
    "anomaly_controls": ['variants=["batch-128"]', "seeds=[0]"],
    "anomaly_sensitivity": ['datasets=["arrhythmia"]', "lambda1_factors=[1.0]", "steps=60"],
    "latent": ["steps=40", "n_eval=20"],
    "theory_log": ["n_train=2000", "n_eval=512", "steps=400", "checks=3", "lambda1s=[1.5,3.0]", "floors=[0.1]",
                   "start_lambda1s=[1.5]", "start_seeds=[0]", "seeds=[0]", "start_steps=100"],
    "theory_pca": ["samples=2000", "steps_rotate=300", "steps_settle=100", "seeds=[0]", "batch_size=256"],
    "toy": ["steps=60", "seeds=[0]", "figure_points=300", "jacobian_points=100"],
    "toy_sensitivity": ["steps=60", "grid=[[10.0,0.05],[100.0,0.05]]"],
}


def _descendants(pid: int) -> list[int]:
    """The processes below `pid` (Linux /proc)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in children] + [d for c in children for d in _descendants(int(c))]


def _environment(tmp_path: Path, machine: str, resume: Path) -> dict:
    return {**os.environ, "PYTHON": sys.executable, "DEVICE": "cpu", "RADOGAGA_CACHE": str(tmp_path / machine),
            "RESUME_DIR": str(resume), "RADOGAGA_CHECKPOINT_EVERY": CHECKPOINT_EVERY}


def _arguments(experiment: str) -> list[str]:
    return [experiment, "--profile", "quick", *[a for s in CHECKPOINTING[experiment] for a in ("--set", s)]]


def _stop_at_first_checkpoint(tmp_path: Path, experiment: str) -> subprocess.CompletedProcess:
    """Leg 1 on machine A: stopped as the budget stops it (SIGTERM to the run) once it has saved a checkpoint."""
    env = _environment(tmp_path, "machine-a", tmp_path / "nothing")
    leg = subprocess.Popen(["bash", str(GPU_RUN), str(tmp_path / "out-a"), "600", *_arguments(experiment)],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    folder = tmp_path / "machine-a" / "checkpoints" / experiment
    deadline = time.monotonic() + 400
    while leg.poll() is None and time.monotonic() < deadline:
        if any(not p.name.startswith(".") for p in folder.rglob("*") if p.is_file()):
            for pid in _descendants(leg.pid):
                if "radogaga" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace") and \
                        "run" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                    os.kill(pid, signal.SIGTERM)
            break
        time.sleep(0.05)
    output, _ = leg.communicate(timeout=300)
    return subprocess.CompletedProcess(leg.args, leg.returncode, output, "")


@pytest.mark.parametrize("experiment", sorted(CHECKPOINTING))
def test_a_budget_stop_hands_back_every_checkpoint_and_resumes_to_the_uninterrupted_result(
        experiment, data_root, tmp_path, monkeypatch):
    stopped = _stop_at_first_checkpoint(tmp_path, experiment)
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stdout
    assert "interrupted (SIGTERM)" in stopped.stdout and "the same command resumes" in stopped.stdout
    assert not list((tmp_path / "out-a").glob("results/*/*.json")), "a stopped run stored a result"
    manifest = json.loads((tmp_path / "out-a" / "handback.json").read_text())
    names = {entry["name"] for entry in manifest}
    assert names - {"legs.json"}, f"nothing handed back: {stopped.stdout}"

    resumed = subprocess.run(["bash", str(GPU_RUN), str(tmp_path / "out-b"), "600", *_arguments(experiment)],
                             cwd=ROOT, env=_environment(tmp_path, "machine-b", tmp_path / "out-a"),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"restored {len(manifest)} handed-back checkpoint file(s)" in resumed.stdout

    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path / "machine-c"))  # uninterrupted, saving at the experiment's own
    config = experiments.config_for(experiment, "quick", **dict(cli._parse_setting(s) for s in CHECKPOINTING[experiment]))
    once = experiments.run_config(experiment, config, "cpu", root=tmp_path / "reference")
    (resumed_file,) = (tmp_path / "out-b" / "results" / experiment).glob("*.json")
    again = results.read(resumed_file)
    assert resumed_file.stem == once.key
    assert _same(again.payload, once.payload), f"the resumed result differs (timing entries {sorted(TIMING_KEYS)} aside)"
    if "legs.json" in names:  # a leg that had saved a checkpoint counts in the wall time
        legs = again.provenance["wall_time_legs_s"]
        assert len(legs) == 2 and again.provenance["wall_time_s"] == pytest.approx(sum(legs))
