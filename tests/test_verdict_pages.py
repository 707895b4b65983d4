"""A failing claim reads "not reproduced" on the page and the chapter still runs: a toy
result whose RaDOGAGA densities are not proportional (P_z ∝ P_x^0.5) is put in a results
store as the paper profile's (shown) and the fresh-seeds profile's (the rule's evidence),
and the toy chapter is executed against it."""

from __future__ import annotations

import dataclasses

import jupytext
import nbformat
import numpy as np
import papermill
import pytest

from chapters import ROOT
from radogaga import experiments
from radogaga.analysis import diagnostics
from radogaga.experiments import toy
from radogaga.store import results


def failing_paper_result(root) -> None:
    """The quick result's per-point densities, bent so that no RaDOGAGA model is proportional,
    stored as if it were the paper profile's and the fresh-seeds profile's."""
    quick = experiments.run_experiment("toy", "quick", "cpu", root=root / "scratch")
    payload = quick.payload
    log_p_x = np.asarray(payload["log_p_x"], dtype=np.float64)
    rng = np.random.default_rng(0)
    for entry in payload["models"]:
        if entry["method"] != "DAGMM":
            bent = 0.5 * log_p_x + 0.3 * rng.standard_normal(log_p_x.shape)
            entry["log_p_z"] = np.round(bent, 4).astype(np.float32)
            entry.update(diagnostics.density_proportionality(log_p_x, entry["log_p_z"]))
    payload["summary"] = toy.summarize(payload["models"], key="method")
    for profile in ("paper", "fresh-seeds"):
        results.save("toy", dataclasses.asdict(toy.PROFILES[profile]), payload, device="cpu", wall_time_s=1.0,
                     root=root / "results")


@pytest.mark.book
def test_a_failing_claim_reads_not_reproduced(tmp_path, monkeypatch):
    failing_paper_result(tmp_path)
    monkeypatch.setenv("RADOGAGA_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RADOGAGA_FIGURES", str(tmp_path / "figures"))
    chapter = ROOT / "book" / "toy.md"
    out = tmp_path / "toy.ipynb"
    papermill.execute_notebook(jupytext.read(chapter), str(out), parameters={"profile": "auto"},
                               cwd=str(chapter.parent), kernel_name="python3", progress_bar=False)
    texts = [str(output.get("data", {}).get("text/markdown", "")) + str(output.get("data", {}).get("text/plain", ""))
             for cell in nbformat.read(out, as_version=4).cells if cell.cell_type == "code"
             for output in cell.get("outputs", [])]
    shown = "\n".join(texts)
    assert "The paper profile, at a scale this book defines" in shown  # the fabricated result was the one shown
    assert "Verdict: not reproduced" in shown, shown[-2000:]
