"""Runs that cannot store wrong numbers: each case a careful user hit with bad input, kills
and concurrent runs, as a test (small sizes; tolerances stated where numbers are compared)."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from radogaga import cli, data, experiments
from radogaga.estimators import RaDOGAGADetector
from radogaga.infra import checkpoints, files
from radogaga.infra.checks import NonFiniteError
from radogaga.store import results
from radogaga.train import TrainSettings, train

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "radogaga", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=ROOT, timeout=600)


# ---------------------------------------------------------------- 1. checkpoints belong to one run


def test_sensitivity_configs_that_differ_only_in_the_grid_never_share_a_checkpoint():
    one = experiments.config_for("anomaly_sensitivity", "quick", lambda1_factors=[0.1, 1, 10])
    other = experiments.config_for("anomaly_sensitivity", "quick", lambda1_factors=[0.3, 3, 30])
    code = {"fingerprint": "same"}
    assert experiments.checkpoint_dir("anomaly_sensitivity", dataclasses.asdict(one), code) != \
        experiments.checkpoint_dir("anomaly_sensitivity", dataclasses.asdict(other), code)
    # the same config under other code never shares one either
    assert experiments.checkpoint_dir("anomaly_sensitivity", dataclasses.asdict(one), code) != \
        experiments.checkpoint_dir("anomaly_sensitivity", dataclasses.asdict(one), {"fingerprint": "changed"})


class Regression(torch.nn.Module):
    """A tiny stacked objective; `blow_up` makes the last step's gradient infinite while the loss stays finite."""

    def __init__(self, seeds, blow_up_at=None):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.stack([torch.randn(3, 1, generator=torch.Generator().manual_seed(s))
                                                      for s in seeds]))
        self.labels = [f"model seed {s}" for s in seeds]
        self.blow_up_at, self.calls = blow_up_at, 0

    def loss(self, batch, randomness):
        self.calls += 1
        x, y = batch[..., :-1], batch[..., -1:]
        loss = ((torch.bmm(x, self.weight) - y) ** 2).mean(dim=(1, 2))
        if self.blow_up_at is not None and self.calls >= self.blow_up_at:
            loss = loss + torch.sqrt(self.weight[:1] - self.weight[:1].detach()).sum() * (torch.arange(len(loss)) == 0)
        return loss


def regression_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3))
    return torch.tensor(np.c_[x, x @ [1.0, -2.0, 0.5]], dtype=torch.float32)


def test_a_checkpoint_of_another_run_key_is_refused_and_names_what_differs(tmp_path):
    settings = TrainSettings(steps=20, batch_size=16, checkpoint_every=10, progress=False)
    rows = [np.arange(64)] * 2
    train(Regression([0, 1]), regression_data(), rows, [0, 1], settings, tmp_path / "c.pt",
          checkpoint_key={"config": {"lambda1_factors": [0.1, 1, 10]}})
    with pytest.raises(checkpoints.CheckpointMismatch, match="run.config.lambda1_factors"):
        train(Regression([0, 1]), regression_data(), rows, [0, 1], settings, tmp_path / "c.pt",
              checkpoint_key={"config": {"lambda1_factors": [0.3, 3, 30]}})


def test_a_finished_checkpoint_resumes_without_training_again(tmp_path):
    settings = TrainSettings(steps=20, batch_size=16, checkpoint_every=10, progress=False)
    rows = [np.arange(64)]
    first = Regression([0])
    train(first, regression_data(), rows, [0], settings, tmp_path / "c.pt")
    again = Regression([0])
    log = train(again, regression_data(), rows, [0], settings, tmp_path / "c.pt")
    assert again.calls == 0 and log.resumed_from == 20
    torch.testing.assert_close(again.weight, first.weight, rtol=0, atol=0)


def test_a_multi_part_run_killed_after_its_first_part_resumes_to_the_uninterrupted_result(tmp_path):
    sets = ("--set", 'datasets=["thyroid","arrhythmia"]', "--set", "seeds=[0]", "--set", "steps=30",
            "--set", 'baselines=["PCA"]', "--set", "max_rows=400")
    env = {"RADOGAGA_CACHE": str(tmp_path / "cache")}
    process = subprocess.Popen([sys.executable, "-m", "radogaga", "run", "anomaly", *sets, "--out",
                                str(tmp_path / "killed")], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, **env}, cwd=ROOT)
    for line in process.stdout:
        if line.startswith("result:"):
            process.kill()  # SIGKILL right after the first part is stored
            break
    process.wait(timeout=60)
    assert len(list((tmp_path / "killed" / "anomaly").glob("*.json"))) == 1
    resumed = run_cli("run", "anomaly", *sets, "--out", str(tmp_path / "killed"), env=env)
    assert resumed.returncode == 0 and resumed.stdout.count("already stored") == 1
    clean = run_cli("run", "anomaly", *sets, "--out", str(tmp_path / "clean"), env=env)
    assert clean.returncode == 0
    for path in sorted((tmp_path / "clean" / "anomaly").glob("*.json")):
        a, b = results.read(path), results.read(tmp_path / "killed" / "anomaly" / path.name)
        f1 = lambda r: [m["paper"]["f1"] for m in r.payload["models"]]
        np.testing.assert_allclose(f1(a), f1(b), rtol=0, atol=1e-12)  # same seeds, same code: same numbers


# ---------------------------------------------------------------- 3. a failed save keeps the training


def anomaly_tiny(**extra):
    return experiments.config_for("anomaly", "quick", datasets=["thyroid"], seeds=[0], steps=20,
                                  baselines=[], max_rows=600, **extra)


def test_a_failed_save_keeps_the_checkpoint_and_the_rerun_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path / "cache"))
    config = anomaly_tiny()

    def broken_save(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(results, "save", broken_save)
    with pytest.raises(OSError, match="No space left"):
        experiments.run_config("anomaly", config, "cpu", tmp_path / "results")
    saved = list((tmp_path / "cache" / "checkpoints").rglob("train.pt"))
    assert len(saved) == 1  # the training is kept
    monkeypatch.undo()
    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path / "cache"))
    resumed = experiments.run_config("anomaly", config, "cpu", tmp_path / "results")
    assert resumed.payload["loss_steps"][-1] == 20
    assert not list((tmp_path / "cache" / "checkpoints").rglob("*.pt"))  # removed once the result is stored


def test_out_is_checked_before_any_computing(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    done = run_cli("run", "anomaly", "--out", str(a_file))
    assert done.returncode == 2 and "is a file, not a folder" in done.stderr and "Traceback" not in done.stderr
    done = run_cli("run", "anomaly", "--out", str(a_file / "below"))
    assert done.returncode == 2 and "cannot be written" in done.stderr


# ---------------------------------------------------------------- 4. concurrent writers


def _hammer(path: str, worker: int, count: int) -> int:
    failures = 0
    for i in range(count):
        try:
            checkpoints.save(path, {"run": 1}, {"step": i, "worker": worker, "weights": torch.full((200,), float(i))})
            state = checkpoints.load(path, {"run": 1})
            assert state is not None and state["weights"].shape == (200,)
        except Exception:  # counted: the test expects none
            failures += 1
    return failures


def test_two_processes_writing_one_checkpoint_never_tear_it(tmp_path):
    path = str(tmp_path / "shared.pt")
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        failures = pool.starmap(_hammer, [(path, 0, 60), (path, 1, 60)])
    assert failures == [0, 0]
    assert checkpoints.load(path, {"run": 1})["weights"].shape == (200,)
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_unreadable_checkpoint_is_named_and_set_aside(tmp_path):
    path = tmp_path / "torn.pt"
    path.write_bytes(b"PK\x03\x04 not a whole checkpoint")
    with pytest.warns(UserWarning, match=r"torn\.pt could not be read.*moved aside"):
        assert checkpoints.load(path, {"run": 1}) is None
    assert not path.exists() and len(list(tmp_path.glob("torn.pt.unreadable-*"))) == 1


# ---------------------------------------------------------------- 5. values from the command line


@pytest.mark.parametrize("setting, message", [
    ("steps=abc", "expected a whole number"), ("steps=1.5", "expected a whole number"),
    ('seeds="ab"', "expected a list"), ("seeds=[-1]", "expected a number >= 0"),
    ("learning_rate=-1", "learning rate must be > 0"), ("steps=0", "expected a number >= 1"),
    ("steps=-5", "expected a number >= 0"), ("steps=true", "expected a whole number"),
    ("seeds=[0,0]", "seeds must be distinct"), ("bogus=1", "unknown config key"),
])
def test_bad_values_are_one_line_errors(setting, message, capsys):
    assert cli.main(["run", "toy", "--set", setting]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_data_errors_and_divergence_are_one_line_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RADOGAGA_DATA", str(tmp_path / "none"))
    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RADOGAGA_OFFLINE", "1")
    assert cli.main(["run", "toy", "--out", str(tmp_path / "out")]) == 2
    assert "was not found" in capsys.readouterr().err

    def diverge(*args, **kwargs):
        raise NonFiniteError("Loss of model 1 (RaDOGAGA(d), seed 0) is nan at step 40.", 1, "x", 40)

    monkeypatch.setattr(experiments, "run_config", diverge)
    assert cli.main(["run", "toy", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "step 40" in err and err.count("\n") == 1


def test_a_stored_result_is_said_to_be_stored(tmp_path):
    args = ("run", "toy", "--set", "steps=5", "--set", "seeds=[0]", "--set", "jacobian_points=5",
            "--set", "figure_points=20", "--out", str(tmp_path))
    first, second = run_cli(*args), run_cli(*args)
    assert first.returncode == 0 and "already stored" not in first.stdout
    assert second.returncode == 0 and "already stored" in second.stdout and "--recompute" in second.stdout


# ---------------------------------------------------------------- 6. divergence after the last check


def test_parameters_that_diverge_after_the_last_loss_check_are_named_and_never_saved(tmp_path):
    settings = TrainSettings(steps=10, batch_size=16, check_every=100, checkpoint_every=10, progress=False)
    with pytest.raises(NonFiniteError, match=r"model 0 \(model seed 0\).*after step 10"):
        train(Regression([0, 1], blow_up_at=10), regression_data(), [np.arange(64)] * 2, [0, 1], settings,
              tmp_path / "c.pt")
    assert not (tmp_path / "c.pt").exists()


# ---------------------------------------------------------------- 7. smaller cases


def test_an_explicit_path_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(data.DataNotFoundError, match="does not exist"):
        data.load("thyroid", path=tmp_path / "missing.mat")


def test_an_unreadable_data_file_is_a_data_error(tmp_path, monkeypatch):
    from radogaga.data import fetch

    def denied(path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fetch, "sha256_of", denied)
    with pytest.raises(data.DataError, match="cannot be read"):
        data.load("thyroid")


def test_a_detector_refuses_too_few_rows():
    with pytest.raises(ValueError, match="n_samples = 2"):
        RaDOGAGADetector(steps=2).fit(np.zeros((2, 3)))


def test_sigterm_during_a_write_leaves_no_temp_file(tmp_path):
    previous = signal.signal(signal.SIGTERM, cli._stop)  # outside training: interrupted at once
    try:
        with pytest.raises(cli.Interrupted):
            with files.atomic_write(tmp_path / "result.json") as handle:
                handle.write("{")
                os.kill(os.getpid(), signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert list(tmp_path.iterdir()) == []


def test_chapter_parameters_take_lists_as_json_text_and_refuse_unknown_names():
    from radogaga.infra import checks
    assert checks.choice_list("datasets", '["thyroid"]', data.ANOMALY_SETS) == ["thyroid"]
    assert checks.int_list("seeds", "[3, 4]") == [3, 4]
    with pytest.raises(ValueError, match="distinct"):
        checks.int_list("seeds", "[3, 3]")
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) 'steps'"):
        checks.no_unknown({"profile": "quick", "steps": -5, "np": np}, ("profile",))
    absent = "cuda:99" if torch.cuda.is_available() else "cuda"  # a device this machine does not have
    with pytest.raises(ValueError, match="not valid"):
        checks.device("device", absent)
