"""The pages made from the sources: figure list, gallery, citation, results-store table."""

from __future__ import annotations

import dataclasses

import pytest

import radogaga
from radogaga import experiments
from radogaga.bookkit import book, citation, sphinx_ext
from radogaga.experiments import toy
from radogaga.store import results

from chapters import ROOT


def test_every_figure_of_every_chapter_is_found_with_a_unique_file_name():
    found = [f for chapter in book.notebook_chapters(ROOT) for f in book.figures(chapter)]
    declared = sum(chapter.read_text().count("mystnb:\n  figure:") for chapter in book.notebook_chapters(ROOT))
    assert len(found) == declared > 30
    assert len({f.stem for f in found}) == len(found) and len({f.label for f in found}) == len(found)
    assert all(f.caption and "\n" not in f.caption for f in found)


def test_a_figure_saved_under_another_name_is_refused(tmp_path):
    chapter = tmp_path / "x.md"
    chapter.write_text('figure_prefix = "x"\n```{code-cell} ipython3\n---\nmystnb:\n  figure:\n    name: fig-x\n'
                       "    caption: A figure.\n---\nfig.savefig('x.png')\n```\n")
    with pytest.raises(ValueError, match="fig-x.*not saved with plotting.savefig"):
        book.figures(chapter)


def test_gallery_lists_numbers_captions_and_three_files():
    text = sphinx_ext.gallery_markdown(ROOT)
    assert "{numref}`fig-toy-density`" in text and "{ref}`chap-anomaly`" in text
    for kind in ("pdf", "svg", "png"):
        assert f'href="../figures/toy-density.{kind}"' in text
    assert '<img src="../figures/toy-density.png"' in text


def test_citation_matches_the_package():
    record = citation.read(ROOT / "CITATION.cff")
    assert str(record["version"]) == radogaga.__version__
    entry = citation.bibtex(ROOT / "CITATION.cff")
    assert entry.startswith("@software{radogaga_reproduced_") and f"version = {{{radogaga.__version__}}}" in entry


def test_citation_without_required_fields_is_refused(tmp_path):
    (tmp_path / "CITATION.cff").write_text("cff-version: 1.2.0\ntitle: x\n")
    with pytest.raises(ValueError, match="lacks message, authors, version, date-released"):
        citation.read(tmp_path / "CITATION.cff")


def test_results_store_table(tmp_path):
    assert "No result is stored yet" in sphinx_ext.results_markdown(tmp_path)
    paper = dataclasses.asdict(experiments.config_for("toy", "paper"))
    results.save("toy", paper, {"models": []}, device="cpu", wall_time_s=12.3, root=tmp_path)
    table = sphinx_ext.results_markdown(tmp_path)
    row = next(line for line in table.splitlines() if line.startswith("| toy"))
    assert "| paper |" in row and "12 s" in row and f"| {len(toy.PROFILES['paper'].seeds)} |" in row
