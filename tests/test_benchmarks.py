"""The benchmark scripts still run (tiny sizes; their numbers are in benchmarks/RESULTS.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_stacked  # noqa: E402
import cuda_checks  # noqa: E402


def test_bench_stacked_runs_and_reports_a_ratio(tmp_path):
    report = bench_stacked.main(["--device", "cpu", "--models", "2", "--steps", "4",
                                 "--sequential-models", "1", "--sequential-steps", "4",
                                 "--out", str(tmp_path / "bench.json")])
    ratios = report["ratio_to_sequential"]
    assert ratios["sequential, one model at a time (eager)"] == 1.0
    assert all(value > 0 for value in report["model_steps_per_second"].values())
    assert (tmp_path / "bench.json").exists()


def test_trainer_checks_hold_on_cpu():
    report = cuda_checks.main(["--device", "cpu", "--steps", "20"])
    assert report["same_seed_same_parameters"] and report["resumed_from_step"] == 10
    assert report["resumed_max_abs_difference"] == 0.0


GPU_RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_run.sh"
TINY_ANOMALY = ["anomaly", "--profile", "quick", "--set", 'datasets=["thyroid"]', "--set", "seeds=[0]",
                "--set", "steps=30", "--set", 'baselines=["PCA"]']


def gpu_run(tmp_path, budget, *arguments, **environment):
    env = {**os.environ, "PYTHON": sys.executable, "DEVICE": "cpu", "RADOGAGA_CACHE": str(tmp_path / "cache"),
           "RESUME_DIR": str(tmp_path / "resume"), **environment}
    return subprocess.run(["bash", str(GPU_RUN), str(tmp_path / "out"), str(budget), *arguments],
                          cwd=GPU_RUN.parent.parent, env=env, capture_output=True, text=True, timeout=300)


def test_gpu_run_stores_the_parts_and_joins_handed_back_checkpoints(data_root, tmp_path):
    # Pieces of a checkpoint handed back by an earlier call are joined where the command line resumes from.
    (tmp_path / "resume").mkdir()
    (tmp_path / "resume" / "checkpoint--abc-def.pt.part-aa").write_bytes(b"first ")
    (tmp_path / "resume" / "checkpoint--abc-def.pt.part-ab").write_bytes(b"second")
    done = gpu_run(tmp_path, 240, *TINY_ANOMALY)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cache" / "checkpoints" / "anomaly" / "abc-def" / "train.pt").read_bytes() == b"first second"
    assert len(list((tmp_path / "out" / "results" / "anomaly").glob("*.json"))) == 1
    assert "cpu cores" in (tmp_path / "out" / "machine.txt").read_text()
    assert "exit status 0" in (tmp_path / "out" / "log.txt").read_text()


def test_gpu_run_stops_at_its_budget_and_explains_its_arguments(data_root, tmp_path):
    stopped = gpu_run(tmp_path, 1, *TINY_ANOMALY[:-2], "--set", "steps=100000")
    assert stopped.returncode == 124 and not (tmp_path / "out" / "results").exists()
    usage = gpu_run(tmp_path, 1)
    assert usage.returncode == 2 and "OUT BUDGET_S EXPERIMENT" in usage.stderr
