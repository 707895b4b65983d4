"""A budget-stopped GPU run loses nothing: every checkpoint file an experiment writes
(whatever its name) is handed back, and the next call, on a fresh machine, resumes to the
result an uninterrupted run stores. Every checkpointing experiment is stopped in training as
the budget's SIGTERM stops it (`train.request_stop`) and handed back in process; gpu_run.sh
itself is run end to end on one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from radogaga import cli, experiments, handback, train
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


def _stop_at_first_checkpoint(folder: Path, done: threading.Event) -> None:
    """What a budget's SIGTERM does to a run in training (`train.request_stop`), once `folder` holds a checkpoint."""
    while not done.is_set():
        if any(not p.name.startswith(".") for p in folder.rglob("*") if p.is_file()):
            train.request_stop()
            return
        time.sleep(0.01)


@pytest.mark.parametrize("experiment", sorted(CHECKPOINTING))
def test_a_budget_stop_hands_back_every_checkpoint_and_resumes_to_the_uninterrupted_result(
        experiment, data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("RADOGAGA_CHECKPOINT_EVERY", CHECKPOINT_EVERY)
    config = experiments.config_for(experiment, "quick", **dict(cli._parse_setting(s) for s in CHECKPOINTING[experiment]))
    # Machine A: stopped in training as the budget stops it; its checkpoint files are handed back.
    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path / "machine-a"))
    done = threading.Event()
    watcher = threading.Thread(target=_stop_at_first_checkpoint,
                               args=(tmp_path / "machine-a" / "checkpoints" / experiment, done))
    watcher.start()
    try:
        with pytest.raises(train.TrainingStopped):
            experiments.run_config(experiment, config, "cpu", root=tmp_path / "out-a")
    finally:
        done.set()
        watcher.join()
        train.request_stop(False)
    manifest = handback.pack(tmp_path / "machine-a", experiment, tmp_path / "handed-back")
    assert {entry["name"] for entry in manifest} - {"legs.json"}, "nothing handed back"
    # Machine B, a fresh cache: the pieces restored, the run resumes.
    restored = handback.unpack(tmp_path / "handed-back", tmp_path / "machine-b", experiment)
    assert len(restored) == len(manifest)
    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path / "machine-b"))
    again = experiments.run_config(experiment, config, "cpu", root=tmp_path / "out-b")
    # Machine C: the same config uninterrupted.
    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path / "machine-c"))
    once = experiments.run_config(experiment, config, "cpu", root=tmp_path / "reference")
    assert _same(again.payload, once.payload), f"the resumed result differs (timing entries {sorted(TIMING_KEYS)} aside)"
    legs = again.provenance["wall_time_legs_s"]
    assert len(legs) == 2 and again.provenance["wall_time_s"] == pytest.approx(sum(legs))


def _descendants(pid: int) -> list[int]:
    """The processes below `pid` (Linux /proc)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in children] + [d for c in children for d in _descendants(int(c))]


def test_gpu_run_stopped_by_its_budget_hands_back_and_the_next_call_resumes(data_root, tmp_path):
    """The script end to end: SIGTERM (what the budget's timeout sends) once a checkpoint exists,
    the pieces in OUT, a second call on a fresh cache that restores them and finishes."""
    # 300 steps, saved every 20: the stop comes in training however slowly the poll below sees the first save
    arguments = ["toy", "--profile", "quick", "--set", "steps=300",
                 *[a for s in CHECKPOINTING["toy"] if not s.startswith("steps=") for a in ("--set", s)]]
    environment = {**os.environ, "PYTHON": sys.executable, "DEVICE": "cpu", "RADOGAGA_CHECKPOINT_EVERY": CHECKPOINT_EVERY}
    leg = subprocess.Popen(["bash", str(GPU_RUN), str(tmp_path / "out-a"), "600", *arguments], cwd=ROOT,
                           env={**environment, "RADOGAGA_CACHE": str(tmp_path / "machine-a"),
                                "RESUME_DIR": str(tmp_path / "nothing")},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    folder = tmp_path / "machine-a" / "checkpoints" / "toy"
    deadline = time.monotonic() + 300
    while leg.poll() is None and time.monotonic() < deadline and not list(folder.glob("*/train.pt")):
        time.sleep(0.02)
    # Signal the run itself, as the budget's timeout does; not timeout as well, which would pass a second SIGTERM on
    # (and a second signal interrupts a run at once, by design)
    for pid in _descendants(leg.pid):
        argv = Path(f"/proc/{pid}/cmdline").read_text(errors="replace").split("\0")
        if Path(argv[0]).name != "timeout" and " -m radogaga run " in " " + " ".join(argv):
            os.kill(pid, signal.SIGTERM)
    output, _ = leg.communicate(timeout=300)
    assert leg.returncode == 128 + signal.SIGTERM, output
    assert "interrupted (SIGTERM) at step" in output and "the same command resumes" in output
    assert not list((tmp_path / "out-a").glob("results/*/*.json")), "a stopped run stored a result"
    names = {entry["name"] for entry in json.loads((tmp_path / "out-a" / "handback.json").read_text())}
    assert {"train.pt", "legs.json"} <= names
    resumed = subprocess.run(["bash", str(GPU_RUN), str(tmp_path / "out-b"), "600", *arguments], cwd=ROOT,
                             env={**environment, "RADOGAGA_CACHE": str(tmp_path / "machine-b"),
                                  "RESUME_DIR": str(tmp_path / "out-a")},
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"restored {len(names)} handed-back checkpoint file(s)" in resumed.stdout
    (stored,) = results.find("toy", root=tmp_path / "out-b" / "results")
    assert len(stored.provenance["wall_time_legs_s"]) == 2
