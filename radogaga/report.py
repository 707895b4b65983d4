"""What the chapters show about results: which scale a number comes from, and a status
table of the results store.

Chapters call `chapter_result`: with profile "auto" a stored paper-scale result for the
exact paper config is used when the book's `results/` holds one; otherwise the quick
profile is computed (or reused from the user's scratch store), never written into
`results/`, which holds only runs made on purpose with `python -m radogaga run`.
"""

from __future__ import annotations

import dataclasses
import os

import IPython.display
import pandas as pd
from IPython.display import Markdown

from . import experiments, paths, results

try:  # The book build fills the chapters' text with glued values through myst-nb.
    from myst_nb import glue
except ImportError:
    def glue(name: str, variable, display: bool = True) -> None:
        """Without myst-nb (Colab, plain Jupyter) there is no text to fill: show the value when asked to."""
        if display:
            IPython.display.display(variable)

PROFILE_CHOICES = ("auto", "quick", "paper")


def scratch_dir():
    """Where chapters keep results they computed themselves: the user cache, one folder per
    commit, so a result computed by other code is never shown."""
    commit, _ = results.code_state()
    return paths.cache_dir() / "results" / commit


def paper_parts(name: str) -> list:
    """The configs of experiment `name`'s paper profile, one per stored part."""
    return experiments.parts(name, experiments.get(name).PROFILES["paper"])


def is_paper_scale(result: results.Result) -> bool:
    """True when the result's config is exactly (a part of) its experiment's paper profile."""
    # Compared by hash: JSON turned the config's tuples into lists.
    return result.key in {results.config_hash(dataclasses.asdict(c)) for c in paper_parts(result.experiment)}


def chapter_result(name: str, profile: str = "auto", device: str = "auto", recompute: bool = False,
                   **overrides) -> results.Result:
    """The result a chapter shows: stored paper scale if there is one ("auto"), else computed."""
    if profile not in PROFILE_CHOICES:
        raise ValueError(f"profile={profile!r}; choose one of {PROFILE_CHOICES}.")
    if profile == "auto":
        config = dataclasses.asdict(experiments.config_for(name, "paper", **overrides))
        stored = None if recompute else results.load(name, config)
        if stored is not None:
            return stored
        profile = "quick"
    config = dataclasses.asdict(experiments.config_for(name, profile, **overrides))
    stored = None if recompute else results.load(name, config)
    if stored is not None:
        return stored
    _, dirty = results.code_state()  # uncommitted code: never reuse what it computed before
    return experiments.run_experiment(name, profile, device, root=scratch_dir(),
                                      recompute=recompute or bool(dirty), **overrides)


def _run_command(name: str) -> str:
    return f"`python -m radogaga run {name} --profile paper --device cuda`"


def scale_notice(result: results.Result, *more: results.Result, labels: list[str] | None = None) -> Markdown:
    """An admonition saying whether the chapter shows paper-scale numbers, and from where;
    with several results (e.g. one per data set, named by `labels`), one line each."""
    shown = [result, *more]
    if len(shown) == 1:
        line = results.provenance_line(result)
        if is_paper_scale(result):
            return Markdown(f":::{{admonition}} Paper scale\n:class: note\nThe numbers below are the stored "
                            f"paper-profile result: {line}.\n:::")
        return Markdown(
            f":::{{admonition}} Quick profile\n:class: warning\nNo paper-scale result is stored for this "
            f"configuration, so this page shows the `quick` profile ({line}). Its numbers show the method "
            f"working, not the paper's scale. To compute the paper scale: {_run_command(result.experiment)}, "
            "then rebuild.\n:::")
    labels = labels or [str(i + 1) for i in range(len(shown))]
    if len(labels) != len(shown):
        raise ValueError(f"{len(labels)} labels for {len(shown)} results.")
    paper = [is_paper_scale(r) for r in shown]
    lines = [f"- **{label}**: {'paper scale' if at_paper else '`quick` profile'}, {results.provenance_line(r)}"
             for label, r, at_paper in zip(labels, shown, paper)]
    title, kind = ("Paper scale", "note") if all(paper) else ("Scale of each part", "warning")
    advice = "" if all(paper) else (
        "\n\nQuick-profile numbers show the method working, not the paper's scale. To compute the paper "
        f"scale: {_run_command(result.experiment)}, then rebuild.")
    return Markdown(f":::{{admonition}} {title}\n:class: {kind}\n" + "\n".join(lines) + advice + "\n:::")


def experiment_status(root: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per registered experiment: is a paper-scale result stored, and from where."""
    rows = []
    for name in experiments.names():
        stored = [results.load(name, dataclasses.asdict(c), root=root) for c in paper_parts(name)]
        found = [r for r in stored if r is not None]
        rows.append({
            "experiment": name,
            "paper scale stored": "yes" if len(found) == len(stored) else
                                  f"{len(found)} of {len(stored)} parts" if found else "no",
            "provenance": "; ".join(results.provenance_line(r) for r in found) if found else
                          "the book build computes the quick profile",
        })
    return pd.DataFrame(rows).set_index("experiment")
