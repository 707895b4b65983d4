"""The benchmark scripts still run (tiny sizes; their numbers are in benchmarks/RESULTS.md)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_stacked  # noqa: E402
import cuda_checks  # noqa: E402

from radogaga.store import fingerprint  # noqa: E402


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


def test_gpu_run_stores_the_parts_and_appends_its_log(data_root, tmp_path):
    for _ in range(2):  # the second call finds the part stored; both calls stay in the log
        done = gpu_run(tmp_path, 240, *TINY_ANOMALY)
        assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "out" / "results" / "anomaly").glob("*.json"))) == 1
    assert (tmp_path / "out" / "machine.txt").read_text().count("cpu cores") == 2
    log = (tmp_path / "out" / "log.txt").read_text()
    assert log.count("exit status 0") == 2 and "already stored" in log
    assert json.loads((tmp_path / "out" / "handback.json").read_text()) == []  # a finished run leaves no checkpoint


def test_gpu_run_stops_at_its_budget_and_explains_its_arguments(data_root, tmp_path):
    stopped = gpu_run(tmp_path, 1, *TINY_ANOMALY[:-2], "--set", "steps=100000")
    assert stopped.returncode == 124 and not (tmp_path / "out" / "results").exists()
    usage = gpu_run(tmp_path, 1)
    assert usage.returncode == 2 and "OUT BUDGET_S EXPERIMENT" in usage.stderr
    for budget in ("0", "abc", "-5", "1.5"):
        refused = gpu_run(tmp_path, budget, "toy")
        assert refused.returncode == 2 and f"BUDGET_S must be a whole number of seconds >= 1, got '{budget}'" \
            in refused.stderr
    (tmp_path / "a-file").write_text("")
    refused = subprocess.run(["bash", str(GPU_RUN), str(tmp_path / "a-file"), "60", "toy"], capture_output=True,
                             text=True, cwd=GPU_RUN.parent.parent)
    assert refused.returncode == 2 and "is not a folder" in refused.stderr
    unknown = gpu_run(tmp_path, 60, "nosuch")
    assert unknown.returncode == 2 and "unknown experiment 'nosuch'" in unknown.stderr


def test_gpu_run_refuses_pieces_from_other_code_and_pieces_cut_short(data_root, tmp_path):
    resume = tmp_path / "resume"
    resume.mkdir()
    (resume / "handback--000.part-000").write_bytes(b"x")
    entry = {"experiment": "toy", "folder": "0123456789abcdef-fedcba9876543210", "name": "train.pt", "bytes": 1,
             "sha256": hashlib.sha256(b"x").hexdigest(), "pieces": ["handback--000.part-000"]}
    (resume / "handback.json").write_text(json.dumps([entry]))
    refused = gpu_run(tmp_path, 60, "toy")
    assert refused.returncode == 2 and "a checkpoint of other code" in refused.stderr
    assert not (tmp_path / "cache" / "checkpoints").exists()
    ours = fingerprint.code_record("toy")["fingerprint"]
    (resume / "handback.json").write_text(json.dumps([{**entry, "folder": f"0123456789abcdef-{ours}", "bytes": 2}]))
    refused = gpu_run(tmp_path, 60, "toy")
    assert refused.returncode == 2 and "join to other bytes" in refused.stderr
