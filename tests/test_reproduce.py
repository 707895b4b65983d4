"""`python -m radogaga reproduce`: the plan, its estimates, skipping what is stored, resuming."""

from __future__ import annotations

import dataclasses
import sys
import types

import pytest
import torch

from radogaga import cli, experiments, reproduce


@dataclasses.dataclass(frozen=True)
class PartsConfig:
    datasets: tuple[str, ...] = ("a", "b")
    steps: int = 1


@pytest.fixture
def fake(monkeypatch):
    """Two fake experiments beside the real ones: `whole` (one part) and `split` (one part per data set)."""
    calls = []
    for name, parts in (("whole", False), ("split", True)):
        module = types.ModuleType(f"radogaga.experiments.{name}")
        module.NAME = name
        module.PROFILES = {"quick": PartsConfig(steps=1), "paper": PartsConfig(steps=100)}
        module.GPU_MINUTES = {"a": 2.0, "b": 3.5} if parts else 1.5
        module.run = lambda config, device, name=name: calls.append((name, config.datasets)) or {"ok": 1}
        if parts:
            module.parts = lambda config: [dataclasses.replace(config, datasets=(d,)) for d in config.datasets]
        monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(experiments, "MODULES", ("whole", "split"))
    return calls


def test_plan_lists_every_part_with_its_estimate(fake, tmp_path):
    steps = reproduce.plan("paper", "cpu", tmp_path)
    assert [(s.experiment, s.label) for s in steps] == [("whole", "a, b"), ("split", "a"), ("split", "b")]
    assert all(s.estimate_minutes is None for s in steps)  # estimates are for a GPU
    gpu = torch.device("cuda")
    assert reproduce.estimate_minutes("split", "b", "paper", gpu) == 3.5
    assert reproduce.estimate_minutes("whole", "a, b", "paper", gpu) == 1.5
    assert reproduce.estimate_minutes("whole", "a, b", "quick", gpu) is None
    text = reproduce.describe([dataclasses.replace(s, estimate_minutes=2.0) for s in steps])
    assert "3 part(s) to run, estimated 6 min" in text


def test_reproduce_runs_what_is_missing_then_nothing(fake, tmp_path):
    lines = []
    done = reproduce.reproduce("paper", "cpu", tmp_path, report=lines.append)
    assert len(done) == 3 and fake == [("whole", ("a", "b")), ("split", ("a",)), ("split", ("b",))]
    assert "3 part(s) to run" in lines[0] and lines[-1].startswith("reproduce: 3 part(s) computed in")
    assert any("split [b]: computed on" in line for line in lines)
    # A killed run restarted: only the missing part runs.
    next(p for p in (tmp_path / "split").glob("*.json") if '"b"' in p.read_text()).unlink()
    fake.clear()
    reproduce.reproduce("paper", "cpu", tmp_path, report=lines.append)
    assert fake == [("split", ("b",))]


def test_command_line_dry_run_and_errors(fake, tmp_path, capsys):
    assert cli.main(["reproduce", "--dry-run", "--device", "cpu", "--out", str(tmp_path), "--only", "split"]) == 0
    out = capsys.readouterr().out
    assert "split [a]" in out and "whole" not in out and not fake
    assert cli.main(["reproduce", "--device", "cpu", "--out", str(tmp_path), "--only", "nope"]) == 2
    assert "unknown experiment(s) nope" in capsys.readouterr().err


def test_every_real_experiment_states_a_gpu_estimate_for_each_part():
    for name in experiments.names():
        module = experiments.get(name)
        profile = reproduce.reproduced_profile(name, "paper")
        labels = [reproduce.part_label(p) for p in experiments.parts(name, module.PROFILES[profile])]
        declared = module.GPU_MINUTES
        estimates = [declared[label] for label in labels] if isinstance(declared, dict) else [declared]
        assert all(0 < e <= 10 for e in estimates), (name, estimates)  # each part fits one 10-minute GPU run


def test_the_gpu_plan_can_be_seen_without_a_gpu(capsys):
    assert cli.main(["reproduce", "--dry-run", "--device", "cuda"]) == 0
    out = capsys.readouterr().out
    assert "on one H100-class GPU" in out and "no estimate" not in out
    assert cli.main(["reproduce", "--dry-run", "--device", "gpu"]) == 2
