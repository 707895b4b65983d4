"""Verdicts: each claim of the paper judged by a rule fixed before the run it judges.

A rule (`Rule`) states the claim and, in words, what the evidence must show. Each
experiment module owns its rules (`RULES`) and a pure `verdict(...)` that turns a stored
result's numbers into a `Verdict`: the outcome, the checks it rests on (measured value,
requirement, whether it holds), and the scale of the evidence. A claim is judged only on
evidence at the experiment's evidence scale (its paper profile, unless the module says
otherwise); a smaller run gets "not yet evaluated" and its checks are shown as a preview.
Method comparisons use the paired per-seed difference with a 95 % Student-t interval.

Every rule has an entry in the ledger `rules.json` beside this module: its version, the
time and commit it was fixed, and the reason for any change; a version fixed after the
results it judges had been seen says so (`after_evidence`). The ledger keeps two digests
of each current version: of the rule with every threshold and constant it reads, and of
the configs of its evidence profiles; a test fails when either changes without a new
version. A rule's thresholds are the numbers its outcome hinges on: `with_sensitivity`
judges the same evidence at 0.8 and 1.2 times them, so a reader sees where an outcome
turns on a hair. Each rule says whether its claim is the paper's or this book's own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from radogaga import experiments
from radogaga.store import results

OUTCOMES = ("reproduced", "partly reproduced", "not reproduced", "not yet evaluated")
SOURCES = ("paper", "book")
SENSITIVITY_FACTORS = (0.8, 1.2)
LEDGER = Path(__file__).with_name("rules.json")
LEVEL = 0.95
_ADMONITION = {"reproduced": "tip", "partly reproduced": "warning", "not reproduced": "danger",
               "not yet evaluated": "note"}


@dataclass(frozen=True)
class Rule:
    """A claim and the rule that judges it, fixed before the run it judges (or, where it was
    not, disclosed as such in the ledger). `experiment` names the experiment whose stored
    results are its evidence (None: the evidence is computed exactly when the chapter runs).
    `thresholds` are the numbers the outcome hinges on (the sensitivity scales them);
    `constants` the other values the rule reads (gates, domains), fixed; `source` says whose
    claim it is: the paper's, or this book's own."""

    key: str
    experiment: str | None
    claim: str
    text: str
    version: int = 1
    thresholds: Mapping[str, float] = field(default_factory=dict)
    constants: Mapping[str, Any] = field(default_factory=dict)
    source: str = "paper"

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source {self.source!r}; choose one of {SOURCES}")

    def threshold(self, name: str, factor: float = 1.0) -> float:
        """Threshold `name` times `factor` (1 for the rule as written)."""
        return float(self.thresholds[name]) * factor

    def digest(self) -> str:
        """A hash of the rule with every threshold and constant it reads: a change without a new
        ledger version is caught by the tests."""
        content = json.dumps([self.key, self.experiment, self.claim, self.text, self.version,
                              sorted(self.thresholds.items()), sorted((k, repr(v)) for k, v in self.constants.items()),
                              self.source])
        return hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]


def evidence_digest(rule: Rule) -> str:
    """A hash of what counts as the rule's evidence: the configs of its experiment's evidence
    profiles, part by part ("" for an exact computation)."""
    if rule.experiment is None:
        return ""
    module = experiments.get(rule.experiment)
    configs = [[profile, [dataclasses.asdict(part) for part in experiments.parts(rule.experiment,
                                                                               module.PROFILES[profile])]]
               for profile in experiments.evidence_profiles(rule.experiment)]
    return hashlib.sha256(json.dumps(configs, sort_keys=True, default=repr).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Check:
    """One condition of a rule: what is measured, its value, what the rule requires, whether it holds."""

    name: str
    measured: str
    required: str
    holds: bool


@dataclass(frozen=True)
class Scale:
    """How the evidence compares with the scale the rule asks for. `substitute` names evidence
    that stands in for the paper's (other data or a smaller scale), with the paper's beside it."""

    evidence: bool
    description: str
    seeds: int | None = None
    device: str = "this machine"
    substitute: str = ""


EXACT = Scale(True, "exact computation at build time (no training; scale does not apply)")


@dataclass(frozen=True)
class Verdict:
    """The outcome of one rule on one body of evidence; `sensitivity` holds the outcomes of
    the same evidence at other multiples of the rule's thresholds ((factor, outcome) pairs)."""

    rule: Rule
    outcome: str
    checks: tuple[Check, ...]
    scale: Scale
    summary: str
    sensitivity: tuple[tuple[float, str], ...] = ()

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r}; choose one of {OUTCOMES}")

    def headline(self) -> str:
        """The outcome, with the substitute it was judged on where it was not the paper's evidence."""
        if self.scale.substitute and self.outcome != "not yet evaluated":
            return f"{self.outcome} (on a substitute: {self.scale.substitute})"
        return self.outcome


def with_sensitivity(judge: Callable[[float], Verdict], factors: Sequence[float] = SENSITIVITY_FACTORS) -> Verdict:
    """`judge(1.0)` (the rule as written) with the outcomes of `judge(f)` for each factor f
    attached: the same evidence judged at f times every threshold of the rule."""
    verdict = judge(1.0)
    return dataclasses.replace(verdict, sensitivity=tuple((f, judge(f).outcome) for f in factors))


def sensitivity_text(verdict: Verdict) -> str:
    """'at 0.8 × its thresholds: …; at 1.2 ×: …' ('' without thresholds or a sensitivity)."""
    if not verdict.sensitivity or not verdict.rule.thresholds:
        return ""
    return "; ".join(f"at {factor:g} × its thresholds: {outcome}" for factor, outcome in verdict.sensitivity)


@dataclass(frozen=True)
class Interval:
    """A mean with its two-sided Student-t confidence interval over n values."""

    mean: float
    low: float
    high: float
    n: int
    level: float = LEVEL

    def above(self, value: float = 0.0) -> bool:
        """True when the whole interval lies above `value`."""
        return self.low > value

    def below(self, value: float = 0.0) -> bool:
        """True when the whole interval lies below `value`."""
        return self.high < value

    def inside(self, low: float, high: float) -> bool:
        """True when the whole interval lies in [low, high]."""
        return low <= self.low and self.high <= high

    def shown_digits(self, digits: int) -> int:
        """`digits`, or more (at most 8) where an interval that excludes 0 would otherwise show a
        bound of 0 (a resolved effect smaller than the last digit)."""
        nearest = min(abs(self.low), abs(self.high))
        while digits < 8 and (self.above() or self.below()) and round(nearest, digits) == 0:
            digits += 1
        return digits

    def text(self, digits: int = 4, signed: bool = True, extend: bool = True) -> str:
        """'mean [low, high]' with `digits` decimals, more where `shown_digits` needs them
        (unless `extend` is False: a narrow table whose other column says what is resolved)."""
        sign = "+" if signed else ""
        digits = self.shown_digits(digits) if extend and math.isfinite(self.low) else digits
        if not math.isfinite(self.low):
            return f"{self.mean:{sign}.{digits}f} (n = {self.n}: no interval)"
        return f"{self.mean:{sign}.{digits}f} [{self.low:{sign}.{digits}f}, {self.high:{sign}.{digits}f}]"


def mean_interval(values: Iterable[float], level: float = LEVEL) -> Interval:
    """The mean of `values` with its Student-t interval (infinite for fewer than two values)."""
    array = np.asarray(list(values), dtype=float)
    if array.size == 0 or not np.isfinite(array).all():
        raise ValueError(f"an interval needs finite values, got {array.tolist()}")
    mean = float(array.mean())
    if array.size < 2:
        return Interval(mean, -math.inf, math.inf, int(array.size), level)
    half = float(stats.t.ppf(0.5 + level / 2, array.size - 1) * array.std(ddof=1) / math.sqrt(array.size))
    return Interval(mean, mean - half, mean + half, int(array.size), level)


def paired_interval(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> Interval:
    """The mean per-seed difference a − b (the two lists in the same seed order) with its t interval."""
    if len(a) != len(b):
        raise ValueError(f"paired values need one per seed on both sides, got {len(a)} and {len(b)}")
    return mean_interval(np.asarray(a, dtype=float) - np.asarray(b, dtype=float), level)


def paired_p_value(a: Sequence[float], b: Sequence[float], alternative: str = "greater") -> float:
    """One-sided p-value of the paired t-test of a − b ("greater": H1 mean > 0; "less": < 0)."""
    differences = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if differences.size < 2 or not np.isfinite(differences).all():
        raise ValueError(f"a paired test needs two or more finite differences, got {differences.tolist()}")
    if np.all(differences == differences[0]):  # no spread: the test is decided by the sign alone
        return 0.0 if (differences[0] > 0) == (alternative == "greater") and differences[0] != 0 else 1.0
    return float(stats.ttest_1samp(differences, 0.0, alternative=alternative).pvalue)


def holm(p_values: Mapping[Any, float], alpha: float) -> dict[Any, bool]:
    """Holm's step-down correction: which hypotheses are rejected at family-wise level `alpha`."""
    order = sorted(p_values, key=lambda key: p_values[key])
    rejected, open_ = {}, True
    for rank, key in enumerate(order):
        open_ = open_ and p_values[key] <= alpha / (len(order) - rank)
        rejected[key] = open_
    return rejected


def outcome(full: bool, partial: bool) -> str:
    """The outcome of a rule with a full and a partial condition."""
    return "reproduced" if full else "partly reproduced" if partial else "not reproduced"


def decide(rule: Rule, checks: Sequence[Check], at_evidence: str, scale: Scale, summary: str) -> Verdict:
    """The verdict: `at_evidence` (an outcome) where the scale is evidence, else "not yet evaluated"."""
    return Verdict(rule, at_evidence if scale.evidence else "not yet evaluated", tuple(checks), scale, summary)


# ---------------------------------------------------------------- scale of a stored result


def _evidence_hashes(experiment: str) -> dict[str, str]:
    module = experiments.get(experiment)
    found = {}
    for profile in experiments.evidence_profiles(experiment):
        for part in experiments.parts(experiment, module.PROFILES[profile]):
            found[results.config_hash(dataclasses.asdict(part))] = profile
    return found


def _profile_hashes(experiment: str) -> dict[str, str]:
    module = experiments.get(experiment)
    return {results.config_hash(dataclasses.asdict(part)): profile for profile, config in module.PROFILES.items()
            for part in experiments.parts(experiment, config)}


def _fraction(value: float, reference: float) -> str:
    share = value / reference
    return f"{100 * share:.2g} %" if share < 0.995 else f"{share:.3g} ×"


def _differences_from_paper(experiment: str, config: Mapping) -> list[str]:
    """Where a config falls short of the paper profile, in fractions of the paper's."""
    module = experiments.get(experiment)
    candidates = experiments.parts(experiment, module.PROFILES["paper"])
    as_stored = [json.loads(json.dumps(dataclasses.asdict(c))) for c in candidates]  # tuples as lists, as stored
    config = json.loads(json.dumps(dict(config)))
    paper = next((c for c in as_stored if c.get("datasets") == config.get("datasets")), as_stored[0])
    notes = []
    for name, value in config.items():
        reference = paper.get(name)
        if reference == value or reference is None:
            continue
        if name.endswith("seeds") and isinstance(value, list):
            notes.append(f"{name.replace('_', ' ')} {len(value)} of the paper profile's {len(reference)}")
        elif "steps" in name or name in ("samples", "max_rows", "image_size", "batch_size"):
            total = sum(value) if isinstance(value, list) else value
            reference_total = sum(reference) if isinstance(reference, list) else reference
            if isinstance(total, (int, float)) and isinstance(reference_total, (int, float)) and reference_total:
                notes.append(f"{name.replace('_', ' ')} {total:,} ({_fraction(total, reference_total)} of the "
                             f"paper profile's {reference_total:,})")
            elif total:
                full = "its full length" if "steps" in name else "all"
                notes.append(f"{name.replace('_', ' ')} {total:,} (paper profile: {reference_total or full})")
    return notes


def config_numbers(config: Mapping) -> str:
    """A config's scale in words: its seeds and training steps (e.g. '5 seeds × 40,000 steps')."""
    seeds = config.get("seeds")
    counted = [f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}"] if isinstance(seeds, (list, tuple)) else []
    steps = []
    for name, value in config.items():
        words = name.split("_")
        if "steps" not in words or {"traversal", "warmup", "hold"} & set(words):
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values) or not sum(values):
            continue
        kind = " ".join(w for w in words if w != "steps")
        steps.append(" + ".join(f"{v:,}" for v in values) + (f" {kind} steps" if kind else " steps"))
    return " × ".join(counted + ([", ".join(steps)] if steps else []))


def scale_label(experiment: str, profile: str, config: Mapping) -> tuple[str, str]:
    """(description, substitute) of evidence from `profile`: "paper scale" only where the
    paper gives the scale (the module's `PAPER_GIVES_SCALE`): the paper profile, or another
    profile with the paper profile's seeds, steps and rows (another configuration at the
    same scale, named); else "book-defined scale" with its numbers. A profile the module
    names in `SUBSTITUTES` is a substitute for the paper's evidence and is described by it."""
    module = experiments.get(experiment)
    substitutes = getattr(module, "SUBSTITUTES", {})
    if profile in substitutes:
        return f"the {profile} profile, a substitute", substitutes[profile](config)
    if getattr(module, "PAPER_GIVES_SCALE", False):
        if profile == "paper":
            return "paper scale", ""
        if not _differences_from_paper(experiment, config):
            return f"paper scale, the {profile} profile", ""
    numbers = getattr(module, "scale_numbers", config_numbers)(config)
    detail = f" ({numbers})" if numbers else ""
    name = "" if profile == "paper" else f", the {profile} profile"
    return f"book-defined scale{name}{detail}", ""


def scale_of(result: results.Result) -> Scale:
    """Whether `result` is evidence for its experiment's rules, and how far from it if not."""
    profile = _evidence_hashes(result.experiment).get(result.key)
    seeds = result.config.get("seeds")
    n_seeds = len(seeds) if isinstance(seeds, list) else None
    device = str(result.provenance.get("device", "unknown device"))
    if profile is not None:
        description, substitute = scale_label(result.experiment, profile, result.config)
        return Scale(True, description, n_seeds, device, substitute)
    named = _profile_hashes(result.experiment).get(result.key)
    if named not in (None, "quick"):
        description, _ = scale_label(result.experiment, named, result.config)
        evidence = ", ".join(experiments.evidence_profiles(result.experiment))
        return Scale(False, f"{description}, not the evidence the rules name (the {evidence} profile)", n_seeds,
                     device)
    notes = _differences_from_paper(result.experiment, result.config)
    return Scale(False, "below the evidence scale" + (f": {'; '.join(notes)}" if notes else ""), n_seeds, device)


def combine_scales(scales: Sequence[Scale], labels: Sequence[str]) -> Scale:
    """One scale for evidence made of parts (e.g. data sets): evidence only if every part is."""
    described = "; ".join(f"{label}: {scale.description}" for label, scale in zip(labels, scales))
    seeds = sorted({s.seeds for s in scales if s.seeds is not None})
    devices = sorted({s.device for s in scales})
    substitutes = "; ".join(dict.fromkeys(s.substitute for s in scales if s.substitute))
    return Scale(all(s.evidence for s in scales), described,
                 seeds[0] if len(seeds) == 1 else None, ", ".join(devices), substitutes)


# ---------------------------------------------------------------- the ledger of rules


def all_rules() -> list[Rule]:
    """Every rule of the book: each experiment module's `RULES`, then the exact computations'."""
    from radogaga.analysis import ssim  # Appendix C: evidence computed exactly in the chapter
    found = []
    for name in experiments.names():
        found += list(getattr(experiments.get(name), "RULES", {}).values())
    return found + list(ssim.RULES.values())


def ledger() -> list[dict]:
    """The ledger's entries: one per rule version (key, version, digest, fixed date and commit, reason)."""
    return json.loads(LEDGER.read_text(encoding="utf-8"))


def ledger_entry(rule: Rule) -> dict | None:
    """The ledger's entry for this version of `rule`, or None."""
    return next((e for e in ledger() if e["key"] == rule.key and e["version"] == rule.version), None)


def _utc(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _is_ancestor(older: str, newer: str) -> bool | None:
    """Whether commit `older` is `newer` or one of its ancestors (None: git cannot tell here)."""
    try:
        done = subprocess.run(["git", "merge-base", "--is-ancestor", older, newer], cwd=LEDGER.parent,
                              capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return {0: True, 1: False}.get(done.returncode)


def run_started(result: results.Result) -> datetime | None:
    """When the run of a stored result started: its store time minus its wall time."""
    end = _utc(result.provenance.get("utc_time", ""))
    wall = result.provenance.get("wall_time_s")
    if end is None:
        return None
    return end - timedelta(seconds=float(wall)) if isinstance(wall, (int, float)) else end


def made_after(entry: Mapping, result: results.Result) -> bool | None:
    """Whether the run of `result` started after the rule version of ledger `entry` was fixed:
    by commit ancestry where git knows both commits (the rule's commit is in the history of
    the code that made the result), else by time (the run's start after the fixing time).
    None when neither can tell."""
    commit = str(result.provenance.get("git_commit", ""))
    if entry.get("commit") and commit not in ("", "unknown", "None"):
        ancestry = _is_ancestor(str(entry["commit"]), commit)
        if ancestry is not None:
            return ancestry
    fixed, started = _utc(entry.get("fixed_utc", "")), run_started(result)
    if fixed is None or started is None:
        return None
    return started > fixed


def first_evaluated(rule: Rule, root=None) -> str:
    """When `rule` was first evaluated on evidence: the start of the earliest stored evidence
    run made after the rule was fixed (`made_after`), or a note when all of it is older."""
    if rule.experiment is None:
        return "at every build (exact computation)"
    entry = ledger_entry(rule) or {}
    hashes = _evidence_hashes(rule.experiment)
    evidence = [r for r in results.find(rule.experiment, root=root) if r.key in hashes]
    after = sorted(filter(None, (run_started(r) for r in evidence if made_after(entry, r))))
    if after:
        return after[0].strftime("%Y-%m-%d %H:%M UTC")
    if evidence:
        oldest = min(filter(None, (run_started(r) for r in evidence)), default=None)
        when = oldest.strftime("%Y-%m-%d %H:%M UTC") if oldest else "an unknown time"
        return f"not yet (its evidence, from {when}, predates the rule)"
    return "not yet (no evidence stored)"


# ---------------------------------------------------------------- showing a verdict


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(verdict: Verdict) -> str:
    """The verdict as a MyST admonition: claim, rule, checks, sensitivity, evidence."""
    rule = verdict.rule
    entry = ledger_entry(rule)
    fixed = f"fixed {entry['fixed']}, version {rule.version}" if entry else f"version {rule.version}"
    if entry and entry.get("after_evidence"):
        fixed += ", written after the evidence it judges had been seen (see the ledger)"
    whose = "" if rule.source == "paper" else "*This book's own claim, not the paper's.* "
    lines = [f":::{{admonition}} Verdict: {verdict.headline()}", f":class: {_ADMONITION[verdict.outcome]}",
             f"{whose}**Claim.** {rule.claim}", "", f"**Rule** ({fixed}). {rule.text}", ""]
    if verdict.outcome == "not yet evaluated":
        lines += ["The evidence shown is below the scale the rule asks for, so the claim is not judged; "
                  "the checks below are a preview of the rule on these numbers.", ""]
    if verdict.checks:
        lines += ["| check | measured | rule | holds |", "|---|---|---|---|"]
        lines += [f"| {_cell(c.name)} | {_cell(c.measured)} | {_cell(c.required)} | {'yes' if c.holds else 'no'} |"
                  for c in verdict.checks]
        lines.append("")
    if sensitivity_text(verdict):
        named = ", ".join(f"{name} {value:g}" for name, value in rule.thresholds.items())
        lines += [f"**Sensitivity.** The same evidence {sensitivity_text(verdict)} (thresholds: {named}).", ""]
    seeds = f", {verdict.scale.seeds} seeds" if verdict.scale.seeds else ""
    substitute = f" A substitute for the paper's evidence: {verdict.scale.substitute}." if verdict.scale.substitute else ""
    lines += [f"**Evidence.** {verdict.scale.description}{seeds}, on {verdict.scale.device}.{substitute}", ":::"]
    return "\n".join(lines)


def show(verdict: Verdict):
    """The verdict for a notebook cell (rendered as MyST by the book)."""
    from IPython.display import Markdown
    return Markdown(markdown(verdict))


def glue_verdict(prefix: str, verdict: Verdict) -> None:
    """Glue the verdict's parts for the report's table: `<prefix>_claim`, `_verdict` (with its
    substitute, if any), `_verdict_reason`, `_scale`, `_seeds`, `_device`, `_sensitivity`."""
    from radogaga.bookkit.chapter import glue
    seeds = str(verdict.scale.seeds) if verdict.scale.seeds else "—"
    sensitivity = " / ".join(outcome for _, outcome in verdict.sensitivity) if verdict.rule.thresholds else "—"
    for name, value in (("claim", verdict.rule.claim), ("verdict", verdict.headline()),
                        ("verdict_reason", verdict.summary), ("scale", verdict.scale.description),
                        ("seeds", seeds), ("device", verdict.scale.device), ("sensitivity", sensitivity or "—")):
        glue(f"{prefix}_{name}", value, display=False)


def ledger_problems() -> list[str]:
    """What is wrong between the rules in the code and the ledger (empty when they agree):
    a rule without an entry for its version, an entry whose digest of the rule (thresholds
    and constants included) or of its evidence profiles differs (a changed rule or evidence
    needs a new version), an entry without a time, commit or reason."""
    entries = ledger()
    problems = []
    for rule in all_rules():
        entry = ledger_entry(rule)
        if entry is None:
            problems.append(f"rule {rule.key!r} version {rule.version} has no entry in {LEDGER.name}")
            continue
        if entry.get("rule_digest") != rule.digest():
            problems.append(f"rule {rule.key!r} version {rule.version} differs from its ledger entry (its text, "
                            "thresholds or constants): a changed rule needs a new version and an entry with the reason")
        if entry.get("evidence_digest") != evidence_digest(rule):
            problems.append(f"the evidence profiles of rule {rule.key!r} version {rule.version} differ from its ledger "
                            "entry: a changed evidence definition needs a new version and an entry with the reason")
    for entry in entries:
        if not _utc(entry.get("fixed_utc", "")) or not str(entry.get("commit", "")) or not entry.get("reason"):
            problems.append(f"ledger entry {entry.get('key')!r} v{entry.get('version')} lacks a time, commit or reason")
    return problems
