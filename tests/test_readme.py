"""Every command-line example of the README, run as written (the shell lines themselves).

The setup and test commands are what CI runs (tests/test_repository.py), the papermill
example is run by tests/test_papermill.py. Here: the package's own commands and the
estimator example. CUDA is hidden from them, so the GPU commands must stop at once with a
one-line error that says what to do, on every machine; `--dry-run` must print the GPU plan
without a GPU."""

from __future__ import annotations

import os
import re
import subprocess

from chapters import ROOT
from radogaga import experiments


def readme_blocks(language: str, section: str) -> list[str]:
    """The fenced `language` blocks of the README between the heading `section` and the next heading of its level."""
    readme = (ROOT / "README.md").read_text()
    level = section.split(" ")[0]
    start = readme.index(section + "\n")
    end = readme.find("\n" + level + " ", start + len(section))
    part = readme[start:end if end != -1 else None]
    return re.findall(rf"```{language}\n(.+?)\n```", part, re.S)


def package_commands() -> list[str]:
    """Each `python -m radogaga` line of the README's bash blocks, its comment removed."""
    lines = [line.split("  #")[0].strip() for section in ("### With a CUDA GPU", "## Reproducing everything")
             for block in readme_blocks("bash", section) for line in block.splitlines()]
    return [line for line in lines if line.startswith(".venv/bin/python -m radogaga")]


def run_as_written(command: str, timeout: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_the_readme_names_the_package_commands():
    commands = package_commands()
    assert len(commands) >= 6, commands  # list, two run lines per section, reproduce and its dry run
    assert any(" list" in c for c in commands) and any("--dry-run" in c for c in commands)


def test_package_commands_as_written_without_a_gpu():
    for command in package_commands():
        done = run_as_written(command, timeout=300)
        if command.endswith(" list"):
            assert done.returncode == 0, done.stderr
            assert all(f"{name}:" in done.stdout for name in experiments.names()), done.stdout
        elif "--dry-run" in command:
            assert done.returncode == 0, done.stderr
            assert "estimated" in done.stdout and "GPU" in done.stdout, done.stdout
        else:  # a GPU run on a machine without one: refused before any work, in one line
            assert done.returncode == 2, (command, done.stdout, done.stderr)
            assert "Traceback" not in done.stderr, done.stderr
            assert done.stderr.strip().splitlines() == [
                "radogaga: error: device 'cuda' asked for, but no CUDA device is visible; use 'cpu' or 'auto'"], done.stderr


def test_estimator_example_as_written():
    """The README's Python lines print the AUROC of a 600-step detector on Thyroid."""
    (block,) = readme_blocks("python", "## The detectors outside the book")
    done = run_as_written(f".venv/bin/python - <<'EOF'\n{block}\nEOF", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    auroc = float(done.stdout.strip().splitlines()[-1])
    assert 0.8 < auroc <= 1.0, auroc  # measured 0.935 (seed 0, 600 steps: a quick run, not the paper's setting)
