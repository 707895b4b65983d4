"""The experiment registry, the command line, device names and chapter parameters."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from radogaga import cli, experiments
from radogaga.infra import checks
from radogaga.infra.device import resolve_device
from radogaga.store import results

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class FakeConfig:
    steps: int = 3
    scale: float = 1.0
    seeds: tuple[int, ...] = (0,)


@pytest.fixture
def fake(monkeypatch):
    """A tiny experiment `fake` registered beside the real ones; `calls` counts its runs."""
    module = types.ModuleType("radogaga.experiments.fake")
    module.NAME = "fake"
    module.PROFILES = {"quick": FakeConfig(), "paper": FakeConfig(steps=100)}
    module.calls = []

    def run(config, device):
        module.calls.append((config, device))
        return {"total": config.steps * config.scale, "curve": np.linspace(0, 1, config.steps)}

    module.run = run
    monkeypatch.setattr(experiments, "MODULES", (*experiments.MODULES, "fake"))
    monkeypatch.setitem(sys.modules, "radogaga.experiments.fake", module)
    return module


def _python_m(*args, env=None):
    return subprocess.run([sys.executable, "-m", "radogaga", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=60)


# --- registry -------------------------------------------------------------------------

def test_registered_experiments_follow_the_protocol():
    for name in experiments.names():
        module = experiments.get(name)
        assert module.NAME == name
        assert {"quick", "paper"} <= set(module.PROFILES)
        for config in module.PROFILES.values():
            assert dataclasses.is_dataclass(config) and type(config).__dataclass_params__.frozen
        assert callable(module.run)


def test_unknown_experiment_lists_the_names():
    with pytest.raises(ValueError, match="data_summary"):
        experiments.get("nope")


def test_config_for_profiles_and_overrides(fake):
    assert experiments.config_for("fake", "paper").steps == 100
    config = experiments.config_for("fake", "quick", steps=5, scale=2, seeds=[1, 2])
    assert config == FakeConfig(steps=5, scale=2.0, seeds=(1, 2))
    assert isinstance(config.scale, float) and isinstance(config.seeds, tuple)
    with pytest.raises(ValueError, match="valid profiles: quick, paper"):
        experiments.config_for("fake", "huge")
    with pytest.raises(ValueError, match="valid keys: steps, scale, seeds"):
        experiments.config_for("fake", "quick", step=5)


def test_run_experiment_stores_then_reuses(tmp_path, fake):
    first = experiments.run_experiment("fake", root=tmp_path, device="cpu")
    assert len(fake.calls) == 1 and fake.calls[0][1] == torch.device("cpu")
    assert first.payload["total"] == 3.0 and first.payload["curve"].shape == (3,)
    assert first.config == {"steps": 3, "scale": 1.0, "seeds": [0]}
    again = experiments.run_experiment("fake", root=tmp_path, device="cpu")
    assert len(fake.calls) == 1 and again.provenance == first.provenance
    fresh = experiments.run_experiment("fake", root=tmp_path, device="cpu", recompute=True)
    assert len(fake.calls) == 2 and fresh.key == first.key
    experiments.run_experiment("fake", root=tmp_path, device="cpu", steps=4)
    assert len(fake.calls) == 3
    assert len(results.find("fake", root=tmp_path)) == 2


def test_profile_name_is_not_part_of_the_key(tmp_path, fake):
    fake.PROFILES["same"] = FakeConfig()
    experiments.run_experiment("fake", "quick", root=tmp_path, device="cpu")
    experiments.run_experiment("fake", "same", root=tmp_path, device="cpu")
    assert len(fake.calls) == 1


def test_run_experiment_checks_the_device_first(tmp_path, fake):
    with pytest.raises(ValueError, match="valid choices"):
        experiments.run_experiment("fake", root=tmp_path, device="tpu")
    assert fake.calls == []


def test_data_summary_on_generated_toy_data(tmp_path):
    result = experiments.run_experiment("data_summary", root=tmp_path, device="cpu", names=["toy"])
    toy = result.payload["sets"]["toy"]
    assert toy["shape"] == [10_000, 16] and toy["n_nonfinite"] == 0
    assert 0.0 <= toy["min"] <= toy["mean"] <= toy["max"] <= 1.0
    with pytest.raises(ValueError, match="valid names"):
        experiments.config_for("data_summary", names=["nope"])


# --- command line ---------------------------------------------------------------------

def test_help_and_unknown_experiment_via_python_m(tmp_path):
    assert _python_m("--help").returncode == 0
    done = _python_m("run", "nope", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "data_summary" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args, message", [
    (["--profile", "huge"], "valid profiles"),
    (["--set", "nosuch=1"], "valid keys"),
    (["--device", "tpu"], "valid choices"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, fake, args, message):
    assert cli.main(["run", "fake", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert fake.calls == []


def test_cuda_without_a_gpu_exits_2(tmp_path, capsys, fake, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cli.main(["run", "fake", "--out", str(tmp_path), "--device", "cuda"]) == 2
    assert "no CUDA device is visible" in capsys.readouterr().err


def test_run_stores_and_reports(tmp_path, capsys, fake):
    argv = ["run", "fake", "--out", str(tmp_path), "--device", "cpu", "--set", "steps=7", "--set", "seeds=[4, 5]"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    config = {"steps": 7, "scale": 1.0, "seeds": [4, 5]}
    assert "computed on" in out and str(results.path_for("fake", config, root=tmp_path)) in out
    assert cli.main([*argv, "--recompute"]) == 0
    assert len(fake.calls) == 2 and fake.calls[0][0] == FakeConfig(steps=7, seeds=(4, 5))


def test_corrupt_stored_result_exits_1(tmp_path, capsys, fake):
    path = results.path_for("fake", dataclasses.asdict(FakeConfig()), root=tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{")
    assert cli.main(["run", "fake", "--out", str(tmp_path), "--device", "cpu"]) == 1
    assert str(path) in capsys.readouterr().err


def test_list(capsys, fake):
    assert cli.main(["list"]) == 0
    assert "fake: profiles quick, paper" in capsys.readouterr().out


def test_set_value_parsing():
    assert cli._parse_setting("names=[\"toy\"]") == ("names", ["toy"])
    assert cli._parse_setting("method=radogaga") == ("method", "radogaga")
    assert cli._parse_setting("x=a=b") == ("x", "a=b")


# --- devices --------------------------------------------------------------------------

def test_resolve_device_without_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device() == torch.device("cpu") and resolve_device("cpu") == torch.device("cpu")
    for name in ("cuda", "cuda:0"):
        with pytest.raises(ValueError, match="no CUDA device is visible; use 'cpu' or 'auto'"):
            resolve_device(name)
    for name in ("gpu", "CUDA", "cuda:x", "", "cpu:0"):
        with pytest.raises(ValueError, match="'auto', 'cpu', 'cuda', 'cuda:N'"):
            resolve_device(name)


def test_resolve_device_with_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="only 1 CUDA device"):
        resolve_device("cuda:1")


# --- chapter parameters ---------------------------------------------------------------

def test_params_accept_good_values():
    assert checks.choice("profile", "quick", ("quick", "paper")) == "quick"
    assert checks.positive_int("epochs", np.int64(3)) == 3
    assert checks.positive_float("lr", 1) == 1.0
    assert checks.boolean("recompute", False) is False
    assert checks.int_list("seeds", (0, 1, 2)) == [0, 1, 2]
    assert checks.int_list("seeds", [], min_len=0) == []


@pytest.mark.parametrize("check, value, message", [
    (lambda v: checks.choice("profile", v, ("quick", "paper")), "fast", "'quick', 'paper'"),
    (lambda v: checks.positive_int("epochs", v), 0, ">= 1"),
    (lambda v: checks.positive_int("epochs", v), 2.0, ">= 1"),
    (lambda v: checks.positive_int("epochs", v), True, ">= 1"),
    (lambda v: checks.positive_float("lr", v), float("nan"), "> 0"),
    (lambda v: checks.positive_float("lr", v), -1e-3, "> 0"),
    (lambda v: checks.boolean("recompute", v), "yes", "True or False"),
    (lambda v: checks.int_list("seeds", v), [], "at least 1"),
    (lambda v: checks.int_list("seeds", v), [0, -1], "integer(s) >= 0"),
    (lambda v: checks.int_list("seeds", v), "0,1", "e.g. [0, 1, 2]"),
])
def test_params_reject_bad_values(check, value, message):
    with pytest.raises(ValueError, match="parameter '") as error:
        check(value)
    assert message in str(error.value) and repr(value) in str(error.value)


def test_workers_are_refused_where_the_experiment_cannot_use_them(tmp_path, capsys):
    assert cli.main(["run", "toy", "--workers", "2", "--device", "cpu", "--out", str(tmp_path)]) == 2
    assert "trains in one process" in capsys.readouterr().err
    assert cli.main(["run", "latent", "--workers", "0", "--device", "cpu", "--out", str(tmp_path)]) == 2
    assert "at least 1" in capsys.readouterr().err
