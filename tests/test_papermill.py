"""A chapter re-run with new parameters through papermill, by the README's own shell command
as written: another data set, other seeds and another network give figures under a new
name, the stored results are not touched, and nothing is written into the repository."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess

import pytest

from chapters import ROOT


def _digest(folder) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.relative_to(folder).as_posix().encode() + p.read_bytes() for p in files)).hexdigest()


def readme_block(heading: str) -> str:
    """The first bash block after the README heading `heading`."""
    readme = (ROOT / "README.md").read_text()
    return re.search(r"```bash\n(.+?)\n```", readme[readme.index(heading):], re.S).group(1)


@pytest.mark.book
def test_readme_papermill_example_as_written(tmp_path):
    figures = tmp_path / "figures"
    env = {**os.environ, "RADOGAGA_FIGURES": str(figures), "RADOGAGA_CACHE": str(tmp_path / "cache"),
           "TMPDIR": str(tmp_path)}
    stored_before = _digest(ROOT / "results")
    untracked_before = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                                      capture_output=True, text=True).stdout
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", readme_block("## Running one chapter")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    made = sorted(p.name for p in figures.iterdir())
    assert made == sorted(f"anomaly-thyroid-zong-{name}.{kind}" for name in ("scores", "f1", "sensitivity")
                          for kind in ("pdf", "svg", "png"))
    assert (tmp_path / "anomaly-thyroid.ipynb").exists()
    assert _digest(ROOT / "results") == stored_before
    assert subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                          capture_output=True, text=True).stdout == untracked_before


@pytest.mark.book
def test_an_unknown_chapter_parameter_stops_the_chapter(tmp_path):
    env = {**os.environ, "RADOGAGA_CACHE": str(tmp_path / "cache"), "TMPDIR": str(tmp_path)}
    command = (".venv/bin/jupytext --to ipynb -o - book/toy.md | .venv/bin/papermill - "
               f"{tmp_path}/toy.ipynb --cwd book -p profile quick -p steps -5")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode != 0 and "unknown parameter(s) 'steps'" in done.stderr + done.stdout
