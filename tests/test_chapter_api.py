"""Chapters' view of the results store: paper scale is recognised after a JSON round trip,
quick results go to the scratch store, never into results/."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import pandas as pd
import pytest

from radogaga import experiments
from radogaga.bookkit import chapter
from radogaga.store import results


@dataclass(frozen=True)
class Config:
    seeds: tuple[int, ...] = (0,)
    steps: int = 1
    pipeline: str = "ours"


class FakeExperiment:
    NAME = "fake"
    PROFILES = {"quick": Config(), "paper": Config(seeds=(0, 1, 2), steps=100)}
    calls = 0

    @classmethod
    def run(cls, config, device):
        cls.calls += 1
        return {"steps": config.steps}


@pytest.fixture
def fake(monkeypatch, tmp_path):
    monkeypatch.setattr(experiments, "MODULES", ("fake",))
    monkeypatch.setattr(experiments, "get", lambda name: FakeExperiment)
    monkeypatch.setenv("RADOGAGA_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path / "cache"))
    FakeExperiment.calls = 0
    return tmp_path


def test_auto_uses_stored_paper_scale(fake):
    results.save("fake", dataclasses.asdict(FakeExperiment.PROFILES["paper"]), {"steps": 100},
                 device="cpu", wall_time_s=1.0)
    result = chapter.chapter_result("fake", "auto", "cpu")
    assert result.payload["steps"] == 100 and chapter.is_paper_scale(result)  # tuples came back as lists
    # The fake experiment does not say the paper gives its scale: its paper profile is the book's own scale.
    notice = chapter.scale_notice(result).data
    assert "at a scale this book defines" in notice and "(3 seeds × 100 steps)" in notice
    assert FakeExperiment.calls == 0
    FakeExperiment.PAPER_GIVES_SCALE = True
    try:
        assert "Paper scale" in chapter.scale_notice(result).data
    finally:
        del FakeExperiment.PAPER_GIVES_SCALE


def test_auto_without_paper_result_computes_quick_outside_results(fake):
    result = chapter.chapter_result("fake", "auto", "cpu")
    assert result.payload["steps"] == 1 and not chapter.is_paper_scale(result)
    assert "Below the paper's scale" in chapter.scale_notice(result).data
    assert not (fake / "results").exists()  # the repository's store is never written by a chapter
    assert list((fake / "cache" / "results").rglob("*.json"))


def test_bad_profile_lists_choices(fake):
    with pytest.raises(ValueError, match="auto.*quick.*paper"):
        chapter.chapter_result("fake", "full", "cpu")


def test_scale_notice_of_several_parts_names_each(fake):
    paper = results.read(results.save("fake", dataclasses.asdict(FakeExperiment.PROFILES["paper"]), {"steps": 100},
                                      device="cpu", wall_time_s=1.0))
    quick = chapter.chapter_result("fake", "quick", "cpu")
    text = chapter.scale_notice(paper, quick, labels=["A", "B"]).data
    assert "**A**: book-defined scale (3 seeds × 100 steps)" in text and "**B**: the quick profile" in text
    assert ":class: warning" in text
    assert "python -m radogaga run fake --profile paper" in text
    assert ":class: note" in chapter.scale_notice(paper, paper, labels=["A", "B"]).data
    assert "Numbers below the paper's scale (B) show" in text and "are not judged by the verdicts" in text
    with pytest.raises(ValueError, match="1 labels for 2 results"):
        chapter.scale_notice(paper, quick, labels=["A"])


def test_scale_notice_names_another_profile_at_the_paper_s_scale(fake, monkeypatch):
    """A profile with the paper profile's seeds and steps but another configuration is at the paper's scale
    (where the paper gives it), named by its profile; a part below it that the rules judge says so."""
    monkeypatch.setattr(FakeExperiment, "PAPER_GIVES_SCALE", True, raising=False)
    monkeypatch.setattr(FakeExperiment, "EVIDENCE_PROFILES", ("authors", "paper", "short"), raising=False)
    monkeypatch.setitem(FakeExperiment.PROFILES, "authors", Config(seeds=(0, 1, 2), steps=100, pipeline="theirs"))
    monkeypatch.setitem(FakeExperiment.PROFILES, "short", Config(seeds=(0,), steps=100))
    stored = {name: results.read(results.save("fake", dataclasses.asdict(FakeExperiment.PROFILES[name]),
                                              {"steps": 100}, device="cpu", wall_time_s=1.0))
              for name in ("paper", "authors", "short")}
    assert chapter.scale_words(stored["authors"]) == "paper scale, the authors profile"
    both = chapter.scale_notice(stored["paper"], stored["authors"], labels=["A", "B"]).data
    assert "Paper scale" in both and ":class: note" in both and "below" not in both
    assert "Paper scale" in chapter.scale_notice(stored["authors"]).data
    mixed = chapter.scale_notice(stored["authors"], stored["short"], labels=["A", "B"]).data
    assert ":class: warning" in mixed and "**B**: book-defined scale, the short profile" in mixed
    assert "below the paper's scale (B)" in mixed and "the verdicts still judge B" in mixed


def test_index_names_sit_on_the_column_header_row():
    frame = pd.DataFrame({"data set": ["a", "a"], "method": ["x", "y"], "F1": [0.5, 0.25]})
    two_levels = chapter.table_html(frame.set_index(["data set", "method"]))
    header = two_levels.split("<thead>")[1].split("</thead>")[0]
    assert header.count("<tr") == 1, header  # one header row, not a second row of index names
    assert re.findall(r"<th>([^<]*)</th>", header) == ["data set", "method", "F1"]
    plain = chapter.table_html(frame)  # nothing to move: pandas' own rendering
    assert plain == frame.to_html(notebook=True)


def test_formatted_writes_floats_only():
    frame = pd.DataFrame({"name": ["a"], "count": [3], "score": [0.123456]})
    assert chapter.formatted(frame, "{:.2f}").iloc[0].tolist() == ["a", 3, "0.12"]


def test_chapter_parameters_are_checked_through_the_experiments_config():
    common = {"profile": "auto", "device": "cpu", "recompute": False, "figure_prefix": "toy"}
    fields = ("source", "seeds", "methods")
    checked = chapter.chapter_parameters("toy", {**common, "source": "official", "seeds": "[3, 4]", "methods": None},
                                         fields)
    assert checked.overrides == {"source": "official", "seeds": [3, 4]}  # JSON text decoded, None left out
    for bad, message in ((("seeds", "[-1]"), "seeds"), (("methods", '["x"]'), "unknown method"),
                         (("source", "zz"), "source"), (("seeds", '"ab"'), "seeds")):
        namespace = {**common, "source": "official", "seeds": None, "methods": None, bad[0]: bad[1]}
        with pytest.raises(ValueError, match=message):
            chapter.chapter_parameters("toy", namespace, fields)
    with pytest.raises(ValueError, match="profile"):
        chapter.chapter_parameters("toy", {**common, "profile": "huge", "source": "official", "seeds": None,
                                           "methods": None}, fields)


def test_scale_notice_of_an_evidence_profile_says_the_verdicts_judge_it(fake, monkeypatch):
    quick = chapter.chapter_result("fake", "quick", "cpu")
    assert "its verdicts read *not yet evaluated*" in chapter.scale_notice(quick).data
    monkeypatch.setattr(FakeExperiment, "EVIDENCE_PROFILES", ("paper", "quick"), raising=False)
    text = chapter.scale_notice(quick).data
    assert "evidence for the verdicts" in text and "not yet evaluated" not in text
    assert chapter.is_evidence(quick) and not chapter.is_paper_scale(quick)
