"""Verdicts: each claim of the paper judged by a rule fixed before the run it judges.

A rule (`Rule`) states the claim and, in words, what the evidence must show. Each
experiment module owns its rules (`RULES`) and a pure `verdict(...)` that turns a stored
result's numbers into a `Verdict`: the outcome, the checks it rests on (measured value,
requirement, whether it holds), and the scale of the evidence. A claim is judged only on
evidence at the experiment's evidence scale (its paper profile, unless the module says
otherwise); a smaller run gets "not yet evaluated" and its checks are shown as a preview.
Method comparisons use the paired per-seed difference with a 95 % Student-t interval.

Every rule has an entry in the ledger `rules.json` beside this module: its version, the
date and commit it was fixed, and the reason for any change; a test keeps the two in step.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from radogaga import experiments
from radogaga.store import results

OUTCOMES = ("reproduced", "partly reproduced", "not reproduced", "not yet evaluated")
LEDGER = Path(__file__).with_name("rules.json")
LEVEL = 0.95
_ADMONITION = {"reproduced": "tip", "partly reproduced": "warning", "not reproduced": "danger",
               "not yet evaluated": "note"}


@dataclass(frozen=True)
class Rule:
    """A claim of the paper and the rule that judges it, fixed before the run it judges.
    `experiment` names the experiment whose stored results are its evidence (None: the
    evidence is computed exactly when the chapter runs)."""

    key: str
    experiment: str | None
    claim: str
    text: str
    version: int = 1

    def digest(self) -> str:
        """A hash of the rule's content: a change without a new ledger entry is caught by the tests."""
        content = json.dumps([self.key, self.experiment, self.claim, self.text, self.version])
        return hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Check:
    """One condition of a rule: what is measured, its value, what the rule requires, whether it holds."""

    name: str
    measured: str
    required: str
    holds: bool


@dataclass(frozen=True)
class Scale:
    """How the evidence compares with the scale the rule asks for."""

    evidence: bool
    description: str
    seeds: int | None = None
    device: str = "this machine"


EXACT = Scale(True, "exact computation at build time (no training; scale does not apply)")


@dataclass(frozen=True)
class Verdict:
    """The outcome of one rule on one body of evidence."""

    rule: Rule
    outcome: str
    checks: tuple[Check, ...]
    scale: Scale
    summary: str

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r}; choose one of {OUTCOMES}")


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


def _fraction(value: float, reference: float) -> str:
    share = value / reference
    return f"{100 * share:.2g} %" if share < 0.995 else f"{share:.3g} ×"


def _differences_from_paper(experiment: str, config: dict) -> list[str]:
    """Where a config falls short of the paper profile, in fractions of the paper's."""
    module = experiments.get(experiment)
    candidates = experiments.parts(experiment, module.PROFILES["paper"])
    paper = next((dataclasses.asdict(c) for c in candidates if dataclasses.asdict(c).get("datasets") ==
                  config.get("datasets")), dataclasses.asdict(candidates[0]))
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


def scale_of(result: results.Result) -> Scale:
    """Whether `result` is evidence for its experiment's rules, and how far from it if not."""
    profile = _evidence_hashes(result.experiment).get(result.key)
    seeds = result.config.get("seeds")
    n_seeds = len(seeds) if isinstance(seeds, list) else None
    device = str(result.provenance.get("device", "unknown device"))
    if profile is not None:
        name = "paper scale" if profile == "paper" else f"the `{profile}` profile"
        return Scale(True, name, n_seeds, device)
    notes = _differences_from_paper(result.experiment, result.config)
    return Scale(False, "below the evidence scale" + (f": {'; '.join(notes)}" if notes else ""), n_seeds, device)


def combine_scales(scales: Sequence[Scale], labels: Sequence[str]) -> Scale:
    """One scale for evidence made of parts (e.g. data sets): evidence only if every part is."""
    described = "; ".join(f"{label}: {scale.description}" for label, scale in zip(labels, scales))
    seeds = sorted({s.seeds for s in scales if s.seeds is not None})
    devices = sorted({s.device for s in scales})
    return Scale(all(s.evidence for s in scales), described,
                 seeds[0] if len(seeds) == 1 else None, ", ".join(devices))


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


def first_evaluated(rule: Rule, root=None) -> str:
    """When `rule` was first evaluated on evidence: the time of the earliest stored evidence
    result made after the rule was fixed (or a note when there is only older evidence)."""
    if rule.experiment is None:
        return "at every build (exact computation)"
    entry = ledger_entry(rule) or {}
    fixed = entry.get("fixed", "")
    hashes = _evidence_hashes(rule.experiment)
    times = sorted(str(r.provenance.get("utc_time", "")) for r in results.find(rule.experiment, root=root)
                   if r.key in hashes)
    after = [t for t in times if t[:10] >= fixed]
    if after:
        return after[0][:10]
    if times:
        return f"not yet (its evidence, from {times[0][:10]}, predates the rule)"
    return "not yet (no evidence stored)"


# ---------------------------------------------------------------- showing a verdict


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(verdict: Verdict) -> str:
    """The verdict as a MyST admonition: claim, rule, checks, evidence."""
    rule = verdict.rule
    entry = ledger_entry(rule)
    fixed = f"fixed {entry['fixed']}, version {rule.version}" if entry else f"version {rule.version}"
    lines = [f":::{{admonition}} Verdict: {verdict.outcome}", f":class: {_ADMONITION[verdict.outcome]}",
             f"**Claim.** {rule.claim}", "", f"**Rule** ({fixed}). {rule.text}", ""]
    if verdict.outcome == "not yet evaluated":
        lines += ["The evidence shown is below the scale the rule asks for, so the claim is not judged; "
                  "the checks below are a preview of the rule on these numbers.", ""]
    if verdict.checks:
        lines += ["| check | measured | rule | holds |", "|---|---|---|---|"]
        lines += [f"| {_cell(c.name)} | {_cell(c.measured)} | {_cell(c.required)} | {'yes' if c.holds else 'no'} |"
                  for c in verdict.checks]
        lines.append("")
    seeds = f", {verdict.scale.seeds} seeds" if verdict.scale.seeds else ""
    lines += [f"**Evidence.** {verdict.scale.description}{seeds}, on {verdict.scale.device}.", ":::"]
    return "\n".join(lines)


def show(verdict: Verdict):
    """The verdict for a notebook cell (rendered as MyST by the book)."""
    from IPython.display import Markdown
    return Markdown(markdown(verdict))


def glue_verdict(prefix: str, verdict: Verdict) -> None:
    """Glue the verdict's parts for the report's table: `<prefix>_claim`, `_verdict`,
    `_verdict_reason`, `_scale`, `_seeds`, `_device`."""
    from radogaga.bookkit.chapter import glue
    seeds = str(verdict.scale.seeds) if verdict.scale.seeds else "—"
    for name, value in (("claim", verdict.rule.claim), ("verdict", verdict.outcome),
                        ("verdict_reason", verdict.summary), ("scale", verdict.scale.description),
                        ("seeds", seeds), ("device", verdict.scale.device)):
        glue(f"{prefix}_{name}", value, display=False)


def ledger_problems() -> list[str]:
    """What is wrong between the rules in the code and the ledger (empty when they agree):
    a rule without an entry for its version, an entry whose digest differs (a rule changed
    without a new version), an entry without a date or commit."""
    entries = ledger()
    problems = []
    for rule in all_rules():
        entry = ledger_entry(rule)
        if entry is None:
            problems.append(f"rule {rule.key!r} version {rule.version} has no entry in {LEDGER.name}")
        elif entry.get("digest") != rule.digest():
            problems.append(f"rule {rule.key!r} version {rule.version} differs from its ledger entry: a changed "
                            "rule needs a new version and an entry with the reason")
    for entry in entries:
        if not str(entry.get("fixed", "")) or not str(entry.get("commit", "")) or not entry.get("reason"):
            problems.append(f"ledger entry {entry.get('key')!r} v{entry.get('version')} lacks a date, commit or reason")
    return problems
