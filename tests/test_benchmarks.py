"""The benchmark scripts still run (tiny sizes; their numbers are in benchmarks/RESULTS.md)."""

from __future__ import annotations

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
