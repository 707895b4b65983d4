"""The chapters as sources: paired with an output-free notebook, a Colab cell first, a
validated parameters cell, and a bad parameter stopping the chapter at once. (Each chapter
is executed once per test run, by the strict book build of conftest.py.)"""

from __future__ import annotations

import jupytext
import nbformat
import papermill
import pytest

from chapters import notebook_chapters

CHAPTERS = notebook_chapters()


def parameters_of(chapter) -> str:
    """The source of the chapter's cell tagged `parameters`."""
    return next(c.source for c in jupytext.read(chapter).cells if "parameters" in c.metadata.get("tags", []))


def test_chapters_are_paired_and_in_sync():
    """Each chapter has an output-free .ipynb for Colab with the same cells as its .md."""
    for chapter in CHAPTERS:
        paired = chapter.with_suffix(".ipynb")
        assert paired.exists(), f"{paired.name} is missing: run `jupytext --sync {chapter.name}`"
        notebook = nbformat.read(paired, as_version=4)
        source = jupytext.read(chapter)
        assert [c.source for c in notebook.cells] == [c.source for c in source.cells], (
            f"{paired.name} has drifted from {chapter.name}: run `jupytext --sync {chapter}`")
        assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), (
            f"{paired.name} holds outputs: it must stay output-free")


def test_no_code_cell_is_swallowed_by_a_stray_fence():
    """A stray ``` in the prose opens a literal block that runs to the next code cell's end: that cell
    then renders as text and never runs (it happened once to the anomaly chapter's zong section)."""
    for chapter in CHAPTERS:
        for cell in jupytext.read(chapter).cells:
            if cell.cell_type == "markdown":
                assert "{code-cell}" not in cell.source and not cell.source.lstrip().startswith("```\n"), (
                    f"{chapter.name}: a markdown cell holds a code fence ({cell.source[:80]!r}...): "
                    "remove the stray ``` before it")


def test_chapters_have_validated_parameters_and_colab_cell():
    for chapter in CHAPTERS:
        cells = [c for c in jupytext.read(chapter).cells if c.cell_type == "code"]
        assert "google.colab" in cells[0].source, f"{chapter.name}: first code cell must install in Colab"
        tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{chapter.name}: needs exactly one 'parameters' cell"
        assert "checks." in cells[cells.index(tagged[0]) + 1].source, (
            f"{chapter.name}: the cell after 'parameters' must validate them with radogaga.infra.checks")


def test_bad_parameter_fails_at_once_with_the_valid_range(tmp_path):
    chapter = next(path for path in CHAPTERS if path.stem == "data")
    with pytest.raises(papermill.PapermillExecutionError, match="toy_seed.*integer >= 0"):
        papermill.execute_notebook(jupytext.read(chapter), str(tmp_path / "bad.ipynb"),
                                   parameters={"toy_seed": -1}, cwd=str(chapter.parent),
                                   kernel_name="python3", progress_bar=False)
