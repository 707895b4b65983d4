"""What the chapters show about results: which scale a number comes from, and a status
table of the results store.

Chapters call `chapter_result`: with profile "auto" a stored paper-scale result for the
exact paper config is used when the book's `results/` holds one; otherwise the quick
profile is computed (or reused from the user's scratch store), never written into
`results/`, which holds only runs made on purpose with `python -m radogaga run`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from html import escape as html_escape
from typing import Any, NamedTuple

import IPython.display
import numpy as np
import pandas as pd

from IPython.display import Markdown

from radogaga import experiments
from radogaga.infra import checks, paths
from radogaga.store import fingerprint, results

try:  # The book build fills the chapters' text with glued values through myst-nb.
    from myst_nb import glue
except ImportError:
    def glue(name: str, variable, display: bool = True) -> None:
        """Without myst-nb (Colab, plain Jupyter) there is no text to fill: show the value when asked to."""
        if display:
            IPython.display.display(variable)

PROFILE_CHOICES = ("auto", "quick", "paper")

pd.set_option("display.max_colwidth", None)  # tables in the book show their cells whole, never cut with '…'


def table_html(frame: pd.DataFrame) -> str:
    """A table's HTML with its index names on the column-header row, not on a row of their own."""
    names = list(frame.index.names)
    if frame.columns.nlevels > 1 or frame.columns.name is not None or not any(names):
        return frame.to_html(notebook=True)
    html = frame.to_html(notebook=True, index_names=False)
    head, rest = html.split("</thead>", 1)
    at = 0
    for name in names:  # the header row starts with one empty cell per index level
        at = head.index("<th></th>", at)
        cell = f"<th>{'' if name is None else html_escape(str(name))}</th>"
        head, at = head[:at] + cell + head[at + len("<th></th>"):], at + len(cell)
    return head + "</thead>" + rest


def formatted(frame: pd.DataFrame, spec: str) -> pd.DataFrame:
    """The table with every floating-point cell written by the format string `spec` (e.g. "{:.4f}")."""
    return frame.map(lambda value: spec.format(value) if isinstance(value, (float, np.floating)) else value)


def _index_names_on_the_header_row() -> None:
    shell = IPython.get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, table_html)


_index_names_on_the_header_row()


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


def is_evidence(result: results.Result) -> bool:
    """True when the result's profile is one its experiment's rules judge (`EVIDENCE_PROFILES`,
    by default the paper profile)."""
    return is_paper_scale(result) or profile_of(result) in experiments.evidence_profiles(result.experiment)


def profile_of(result: results.Result) -> str | None:
    """The named profile whose (part of a) config the result holds exactly, or None."""
    module = experiments.get(result.experiment)
    for profile, config in module.PROFILES.items():
        if result.key in {results.config_hash(dataclasses.asdict(c)) for c in experiments.parts(result.experiment,
                                                                                                   config)}:
            return profile
    return None


class ChapterParameters(NamedTuple):
    """A chapter's checked parameters: what `chapter_result` takes."""

    profile: str
    device: str
    recompute: bool
    figure_prefix: str
    overrides: dict


def chapter_parameters(name: str, namespace: Mapping, fields: Sequence[str] = ()) -> ChapterParameters:
    """The parameters of the chapter of experiment `name`, checked: `profile`, `device`,
    `recompute` and `figure_prefix` by their own rules, and each of `fields` (a parameter
    named like a field of the experiment's `Config`; None keeps the profile's value) through
    the `Config` of every profile the chapter may show, which names the field and the valid
    values when one is wrong. Lists may come as JSON text (papermill's `-p seeds '[1, 2]'`)."""
    module = experiments.get(name)
    profile = checks.choice("profile", namespace["profile"], ("auto", *module.PROFILES))
    device = checks.device("device", namespace["device"])
    recompute = checks.boolean("recompute", namespace["recompute"])
    figure_prefix = checks.slug("figure_prefix", namespace["figure_prefix"])
    overrides = {field: checks.list_from_text(namespace[field]) for field in fields if namespace[field] is not None}
    shown = getattr(module, "SHOWN_PROFILES", ("paper",))
    for candidate in ("quick", *shown) if profile == "auto" else (profile,):
        if candidate in module.PROFILES:
            experiments.config_for(name, candidate, **overrides)  # raises ValueError naming a bad field
    return ChapterParameters(profile, device, recompute, figure_prefix, overrides)


def chapter_result(name: str, profile: str = "auto", device: str = "auto", recompute: bool = False,
                   **overrides) -> results.Result:
    """The result a chapter shows. "auto": the first stored result among the experiment's
    `SHOWN_PROFILES` (default: the paper profile), else the quick profile, computed."""
    module = experiments.get(name)
    choices = ("auto", *module.PROFILES)
    if profile not in choices:
        raise ValueError(f"profile={profile!r}; choose one of {choices}.")
    if profile == "auto":
        for shown in getattr(module, "SHOWN_PROFILES", ("paper",)):
            config = dataclasses.asdict(experiments.config_for(name, shown, **overrides))
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


def run_command(name: str, profile: str = "paper", device: str | None = "cuda", **sets: Any) -> str:
    """The shell command that computes experiment `name` at `profile`, with `--set key=value` for each of `sets`."""
    options = "".join(f" --set '{key}={json.dumps(value)}'" for key, value in sets.items())
    return f"python -m radogaga run {name} --profile {profile}{f' --device {device}' if device else ''}{options}"


def code_notice(result: results.Result) -> str:
    """A sentence when the code that computes `result` has changed since it was stored, else ''."""
    if fingerprint.code_record(result.experiment) is None:
        return ""  # not an experiment of the package (a test double): nothing to compare
    changed = fingerprint.changed_modules(result.experiment, result.provenance.get("code"),
                                          result.provenance.get("code_equivalence"))
    if changed is None:
        return (f"The stored result of `{result.experiment}` carries no record of the code that made it, so this "
                "page cannot tell whether the code has changed since.")
    if not changed:
        return ""
    return (f"The code that computes `{result.experiment}` has changed since this result was stored "
            f"(modules {', '.join(f'`{m}`' for m in changed)}); its numbers are those of the older code. "
            f"To check whether the change matters: `python -m radogaga revalidate {result.experiment}`; to "
            f"refresh: `python -m radogaga run {result.experiment} --profile {profile_of(result) or 'quick'} "
            "--recompute`.")


def scale_words(result: results.Result) -> str:
    """'paper scale' where the paper gives the scale, else the profile with its numbers."""
    from radogaga import verdicts

    profile = profile_of(result)
    if profile in (None, "quick"):
        return "the quick profile"
    description, substitute = verdicts.scale_label(result.experiment, profile, result.config)
    return description + (f" ({substitute})" if substitute else "")


def scale_notice(result: results.Result, *more: results.Result, labels: list[str] | None = None) -> Markdown:
    """An admonition saying whether the chapter shows paper-scale numbers, and from where;
    with several results (e.g. one per data set, named by `labels`), one line each; and a
    second admonition when the code has changed since a stored result was made."""
    shown = [result, *more]
    stale = list(dict.fromkeys(notice for notice in map(code_notice, shown) if notice))
    stale_block = ("\n\n:::{admonition} Code changed since this result\n:class: warning\n" + "\n\n".join(stale)
                   + "\n:::") if stale else ""
    if len(shown) == 1:
        line = results.provenance_line(result)
        words = scale_words(result)
        if is_paper_scale(result) or words.startswith("paper scale"):
            title = "Paper scale" if words.startswith("paper scale") else \
                "The paper profile, at a scale this book defines"
            kind = "paper-profile result" if is_paper_scale(result) else "result"
            return Markdown(f":::{{admonition}} {title}\n:class: note\nThe numbers below are the stored "
                            f"{kind} ({words}): {line}.\n:::" + stale_block)
        if is_evidence(result):
            return Markdown(
                f":::{{admonition}} Below the paper's scale, evidence for the verdicts\n:class: note\nNo paper-scale "
                f"result is stored for this configuration, so this page shows {words} ({line}). The verdicts' rules "
                f"name this profile as their evidence, so they judge it below. To compute the paper scale: "
                f"`{run_command(result.experiment)}`, then rebuild.\n:::" + stale_block)
        return Markdown(
            f":::{{admonition}} Below the paper's scale\n:class: warning\nNo paper-scale result is stored for "
            f"this configuration, so this page shows {words} ({line}). Its numbers show the method "
            f"working, not the paper's scale, and its verdicts read *not yet evaluated*. To compute the paper "
            f"scale: `{run_command(result.experiment)}`, then rebuild.\n:::" + stale_block)
    labels = labels or [str(i + 1) for i in range(len(shown))]
    if len(labels) != len(shown):
        raise ValueError(f"{len(labels)} labels for {len(shown)} results.")
    words = [scale_words(r) for r in shown]
    lines = [f"- **{label}**: {w}, {results.provenance_line(r)}" for label, w, r in zip(labels, words, shown)]
    at_scale = [w.startswith("paper scale") for w in words]
    below = [label for label, ok, r in zip(labels, at_scale, shown) if not ok and not is_paper_scale(r)]
    judged = [label for label, r in zip(labels, shown) if label in below and is_evidence(r)]
    if not below:
        title, kind = ("Paper scale" if all(at_scale) else "The paper profile, at a scale this book defines"), "note"
    else:
        title, kind = "Scale of each part", "warning"
    advice = "" if not below else (
        f"\n\nNumbers below the paper's scale ({', '.join(below)}) show the method working, not the paper's scale"
        + (f"; the verdicts still judge {', '.join(judged)}, whose profile their rules name as evidence"
           if judged else ", and are not judged by the verdicts")
        + f". To compute the paper scale: `{run_command(result.experiment)}`, then rebuild.")
    return Markdown(f":::{{admonition}} {title}\n:class: {kind}\n" + "\n".join(lines) + advice + "\n:::"
                    + stale_block)


def experiment_status(root: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per registered experiment: the first of its shown profiles (`SHOWN_PROFILES`,
    default the paper profile) with a stored part, on what and when; "quick" when none has."""
    rows = []
    for name in experiments.names():
        module = experiments.get(name)
        shown, found = "quick (computed at build)", []
        for profile in getattr(module, "SHOWN_PROFILES", ("paper",)):
            parts = experiments.parts(name, module.PROFILES[profile])
            stored = [r for r in (results.load(name, dataclasses.asdict(c), root=root) for c in parts) if r]
            if stored:
                shown, found = profile, stored
                if len(stored) < len(parts):
                    shown += f" ({len(stored)} of {len(parts)} parts; the others at quick)"
                break
        rows.append({
            "experiment": name,
            "shown": shown,
            "device": ", ".join(sorted({str(r.provenance.get("device", "?")) for r in found})) or "—",
            "computed (UTC)": ", ".join(sorted({str(r.provenance.get("utc_time", "?"))[:10] for r in found})) or "—",
        })
    return pd.DataFrame(rows).set_index("experiment").rename_axis(None)
