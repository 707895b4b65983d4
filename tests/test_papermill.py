"""A chapter re-run with new parameters through papermill (as the README shows): another
data set, other seeds and another network give figures under a new name, and the stored
results are not touched."""

from __future__ import annotations

import hashlib

import jupytext
import papermill
import pytest

from chapters import ROOT


def _digest(folder) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.relative_to(folder).as_posix().encode() + p.read_bytes() for p in files)).hexdigest()


@pytest.mark.book
def test_anomaly_chapter_with_new_parameters(tmp_path, monkeypatch):
    figures = tmp_path / "figures"
    monkeypatch.setenv("RADOGAGA_FIGURES", str(figures))
    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path / "cache"))
    stored_before = _digest(ROOT / "results")
    papermill.execute_notebook(
        jupytext.read(ROOT / "book" / "anomaly.md"), str(tmp_path / "out.ipynb"),
        parameters={"profile": "quick", "datasets": ["thyroid"], "seeds": [3, 4], "network": "toy",
                    "figure_prefix": "anomaly-thyroid-toy"},
        cwd=str(ROOT / "book"), kernel_name="python3", progress_bar=False)
    made = sorted(p.name for p in figures.iterdir())
    assert made == sorted(f"anomaly-thyroid-toy-{name}.{kind}" for name in ("scores", "f1", "sensitivity")
                          for kind in ("pdf", "svg", "png"))
    assert _digest(ROOT / "results") == stored_before
