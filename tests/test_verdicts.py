"""Verdicts: the interval arithmetic, the ledger of rules, and each experiment's rule
reaching every outcome on synthetic evidence (no training)."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from radogaga import experiments, verdicts
from radogaga.experiments import anomaly, latent, toy
from radogaga.store import results

EVIDENCE = verdicts.Scale(True, "paper scale", 5, "test")
PREVIEW = verdicts.Scale(False, "below the evidence scale", 2, "test")


def test_mean_interval_is_the_student_t_interval():
    values = [0.1, 0.4, 0.35, 0.2, 0.3]
    interval = verdicts.mean_interval(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert interval.low == pytest.approx(low, abs=1e-12) and interval.high == pytest.approx(high, abs=1e-12)
    assert interval.above(0) and not interval.below(0.3) and interval.inside(0, 1)


def test_one_value_has_no_interval_and_decides_nothing():
    interval = verdicts.mean_interval([0.5])
    assert not interval.above(0) and not interval.below(1) and not interval.inside(0, 1)
    assert "no interval" in interval.text()


def test_a_resolved_effect_is_never_printed_as_zero():
    tiny = verdicts.Interval(-0.00021, -0.00034, -0.00008, 5)  # excludes 0, bounds below the 3rd decimal
    assert tiny.shown_digits(3) == 4 and tiny.text(3) == "-0.0002 [-0.0003, -0.0001]"
    holds_zero = verdicts.Interval(0.0001, -0.0002, 0.0004, 5)
    assert holds_zero.text(3) == "+0.000 [-0.000, +0.000]"  # nothing resolved: the usual digits
    assert verdicts.Interval(0.1, 0.05, 0.15, 5).text(3) == "+0.100 [+0.050, +0.150]"


def test_paired_interval_uses_per_seed_differences():
    a, b = [0.50, 0.61, 0.44, 0.58], [0.49, 0.60, 0.43, 0.57]  # a is 0.01 above b on every seed
    paired = verdicts.paired_interval(a, b)
    assert paired.mean == pytest.approx(0.01) and paired.above(0)
    assert not verdicts.mean_interval(np.subtract(a, 0) - 0.5).above(0)  # unpaired spread hides it
    with pytest.raises(ValueError, match="one per seed"):
        verdicts.paired_interval([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        verdicts.mean_interval([1.0, float("nan")])


def test_below_the_evidence_scale_is_not_yet_evaluated():
    rule = toy.RULES["toy"]
    assert verdicts.decide(rule, [], "reproduced", PREVIEW, "").outcome == "not yet evaluated"
    assert verdicts.decide(rule, [], "not reproduced", EVIDENCE, "").outcome == "not reproduced"
    with pytest.raises(ValueError, match="outcome"):
        verdicts.Verdict(rule, "mostly", (), EVIDENCE, "")


def test_every_rule_is_in_the_ledger_with_date_and_commit():
    assert verdicts.ledger_problems() == []
    keys = [rule.key for rule in verdicts.all_rules()]
    assert len(keys) == len(set(keys)), keys
    for entry in verdicts.ledger():
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["fixed"]), entry
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", entry["fixed_utc"]), entry
        assert entry["fixed_utc"].startswith(entry["fixed"]), entry
        assert re.fullmatch(r"[0-9a-f]{7,40}", entry["commit"]), entry


def test_a_changed_rule_without_a_new_version_is_caught(monkeypatch):
    changed = dataclasses.replace(toy.RULES["toy"], text=toy.RULES["toy"].text + " And more.")
    monkeypatch.setitem(toy.RULES, "toy", changed)
    assert any("differs from its ledger entry" in p for p in verdicts.ledger_problems())


def test_a_changed_threshold_or_constant_without_a_new_version_is_caught(monkeypatch):
    rule = anomaly.RULES["anomaly-margin"]
    monkeypatch.setitem(anomaly.RULES, "anomaly-margin", dataclasses.replace(rule, thresholds={"alpha": 0.1}))
    assert any("'anomaly-margin' version 4 differs" in p for p in verdicts.ledger_problems())
    monkeypatch.setitem(anomaly.RULES, "anomaly-margin", dataclasses.replace(
        rule, constants={**rule.constants, "validity_level": 0.9}))
    assert any("'anomaly-margin' version 4 differs" in p for p in verdicts.ledger_problems())


def test_a_changed_evidence_profile_without_a_new_version_is_caught(monkeypatch):
    assert verdicts.ledger_problems() == []
    longer = dataclasses.replace(toy.PROFILES["fresh-seeds"], steps=50_000)
    monkeypatch.setitem(toy.PROFILES, "fresh-seeds", longer)
    assert any("evidence profiles of rule 'toy'" in p for p in verdicts.ledger_problems())
    monkeypatch.setattr(latent, "EVIDENCE_PROFILES", ("paper",))  # a profile dropped from the evidence
    assert any("evidence profiles of rule 'latent-isometry'" in p for p in verdicts.ledger_problems())


def test_holm_corrects_for_the_number_of_comparisons():
    p_values = {"a": 0.01, "b": 0.02, "c": 0.04}
    # Holm: 0.01 <= 0.05/3, 0.02 <= 0.05/2, 0.04 <= 0.05/1: all rejected; uncorrected 0.02 and 0.04 pass too
    assert verdicts.holm(p_values, 0.05) == {"a": True, "b": True, "c": True}
    # a step that fails stops the rest, however small their own p-value is against alpha alone
    assert verdicts.holm({"a": 0.02, "b": 0.03, "c": 0.04}, 0.05) == {"a": False, "b": False, "c": False}
    assert verdicts.holm({"a": 0.001, "b": 0.06, "c": 0.001}, 0.05) == {"a": True, "b": False, "c": True}
    assert verdicts.paired_p_value([1.0, 2.0, 3.0], [0.5, 1.6, 2.4]) < 0.01
    assert verdicts.paired_p_value([1.0, 2.0, 3.0], [0.5, 1.5, 2.5]) == 0.0  # the same gap everywhere
    assert verdicts.paired_p_value([1.0, 2.0, 3.0], [1.5, 2.5, 3.5]) == 1.0


def test_markdown_shows_claim_rule_checks_and_evidence():
    check = verdicts.Check("a | b", "1.0", "≤ 2", True)
    text = verdicts.markdown(verdicts.Verdict(toy.RULES["toy"], "not yet evaluated", (check,), PREVIEW, "s"))
    assert text.startswith(":::{admonition} Verdict: not yet evaluated") and "preview" in text
    assert "a \\| b" in text and "| yes |" in text and toy.RULES["toy"].claim in text
    assert re.search(rf"fixed \d{{4}}-\d{{2}}-\d{{2}}, version {toy.RULES['toy'].version}", text)


# ---------------------------------------------------------------- toy


def toy_payload(slopes: dict[str, float], fits: dict[str, float], seeds=(0, 1, 2, 3, 4)) -> dict:
    """Per-model numbers with a small seed-to-seed spread around the given means."""
    rng = np.random.default_rng(0)
    models = [{"method": m, "seed": s, "log_slope": slopes[m] + 0.005 * rng.standard_normal(),
               "one_minus_r2": max(fits[m] + 0.0005 * rng.standard_normal(), 0.0)}
              for m in slopes for s in seeds]
    return {"models": models}


GOOD_SLOPES = {"DAGMM": 0.4, "RaDOGAGA(d)": 1.0, "RaDOGAGA(log(d))": 1.0}
GOOD_FITS = {"DAGMM": 0.5, "RaDOGAGA(d)": 0.010, "RaDOGAGA(log(d))": 0.003}


def test_toy_rule_reaches_every_outcome():
    assert toy.verdict(toy_payload(GOOD_SLOPES, GOOD_FITS), EVIDENCE).outcome == "reproduced"
    # h = log no better than h = d: only part of the claim
    swapped = {**GOOD_FITS, "RaDOGAGA(log(d))": 0.020}
    assert toy.verdict(toy_payload(GOOD_SLOPES, swapped), EVIDENCE).outcome == "partly reproduced"
    # monotone but not proportional (slope 2), which Spearman alone would have passed
    bent = {**GOOD_SLOPES, "RaDOGAGA(d)": 2.0, "RaDOGAGA(log(d))": 2.0}
    assert toy.verdict(toy_payload(bent, GOOD_FITS), EVIDENCE).outcome == "not reproduced"
    assert toy.verdict(toy_payload(GOOD_SLOPES, GOOD_FITS), PREVIEW).outcome == "not yet evaluated"
    only_two = {"models": [e for e in toy_payload(GOOD_SLOPES, GOOD_FITS)["models"] if e["method"] != "DAGMM"]}
    assert toy.verdict(only_two, EVIDENCE).outcome == "not reproduced"


def test_sensitivity_shows_an_outcome_that_hinges_on_its_threshold():
    # RaDOGAGA(d)'s slope interval is about [0.887, 0.899]: outside [0.9, 1.1], inside 1.2 × its half-width
    hair = {**GOOD_SLOPES, "RaDOGAGA(d)": 0.893}
    judged = verdicts.with_sensitivity(lambda f: toy.verdict(toy_payload(hair, GOOD_FITS), EVIDENCE, f))
    assert judged.outcome == "partly reproduced"
    assert dict(judged.sensitivity) == {0.8: "partly reproduced", 1.2: "reproduced"}
    assert "at 1.2 × its thresholds: reproduced" in verdicts.markdown(judged)
    steady = verdicts.with_sensitivity(lambda f: toy.verdict(toy_payload(GOOD_SLOPES, GOOD_FITS), EVIDENCE, f))
    assert {outcome for _, outcome in steady.sensitivity} == {"reproduced"}


def test_toy_rule_needs_dagmm_not_proportional():
    proportional_dagmm = {**GOOD_SLOPES, "DAGMM": 1.0}
    fits = {**GOOD_FITS, "DAGMM": 0.04}
    assert toy.verdict(toy_payload(proportional_dagmm, fits), EVIDENCE).outcome == "partly reproduced"


# ---------------------------------------------------------------- anomaly


def anomaly_payload(gaps: dict[str, float], dagmm: float = 0.45, seeds=range(20), untrained_gap: float = 0.1) -> dict:
    """F1 per seed: DAGMM around `dagmm`, the untrained network `untrained_gap` below it, each
    other method `gaps[method]` above DAGMM (small per-seed noise)."""
    rng = np.random.default_rng(1)
    models = []
    for seed in seeds:
        base = dagmm + 0.05 * rng.standard_normal()
        models.append({"method": "DAGMM", "seed": seed, "paper": {"f1": base}})
        models.append({"method": anomaly.UNTRAINED, "seed": seed,
                       "paper": {"f1": base - untrained_gap + 0.01 * rng.standard_normal()}})
        for method, gap in gaps.items():
            models.append({"method": method, "seed": seed, "paper": {"f1": base + gap + 0.01 * rng.standard_normal()}})
    return {"models": models}


def test_anomaly_margin_reaches_every_outcome():
    both = anomaly_payload({"RaDOGAGA(d)": 0.15, "RaDOGAGA(log(d))": 0.17})
    one = anomaly_payload({"RaDOGAGA(d)": 0.0, "RaDOGAGA(log(d))": 0.17})
    none = anomaly_payload({"RaDOGAGA(d)": 0.0, "RaDOGAGA(log(d))": -0.01})
    all_four = {name: (both, EVIDENCE) for name in anomaly.ANOMALY_SETS}
    assert anomaly.verdict("anomaly-margin", all_four).outcome == "reproduced"
    assert anomaly.verdict("anomaly-margin", {"thyroid": (both, EVIDENCE)}).outcome == "partly reproduced"
    assert anomaly.verdict("anomaly-margin", {"thyroid": (one, EVIDENCE)}).outcome == "partly reproduced"
    assert anomaly.verdict("anomaly-margin", {n: (none, EVIDENCE) for n in anomaly.ANOMALY_SETS}).outcome == \
        "not reproduced"
    assert anomaly.verdict("anomaly-margin", {"thyroid": (both, PREVIEW)}).outcome == "not yet evaluated"
    # a data set below the evidence scale does not count: the evaluated one decides
    mixed = {"thyroid": (none, EVIDENCE), "kddcup99": (both, PREVIEW)}
    assert anomaly.verdict("anomaly-margin", mixed).outcome == "not reproduced"


def test_anomaly_margin_counts_a_data_set_only_where_dagmm_is_a_valid_baseline():
    both = anomaly_payload({"RaDOGAGA(d)": 0.15, "RaDOGAGA(log(d))": 0.17})
    invalid = anomaly_payload({"RaDOGAGA(d)": 0.15, "RaDOGAGA(log(d))": 0.17}, untrained_gap=0.0)
    none = anomaly_payload({"RaDOGAGA(d)": 0.0, "RaDOGAGA(log(d))": -0.01})
    evidence = {"thyroid": (invalid, EVIDENCE), "kddcup99": (none, EVIDENCE)}
    assert anomaly.margin_by_dataset(evidence)["thyroid"] == anomaly.BASELINE_INVALID
    # the win over an invalid DAGMM is not counted: only KDDCUP99, where neither variant wins, decides
    judged = anomaly.verdict("anomaly-margin", evidence)
    assert judged.outcome == "not reproduced" and "thyroid: baseline invalid here" in judged.summary
    assert anomaly.verdict("anomaly-margin", {"thyroid": (invalid, EVIDENCE)}).outcome == "not yet evaluated"
    # with one invalid data set the claim cannot be reproduced in full, however clear the other wins
    three_and_invalid = {n: (both, EVIDENCE) for n in anomaly.ANOMALY_SETS} | {"thyroid": (invalid, EVIDENCE)}
    assert anomaly.verdict("anomaly-margin", three_and_invalid).outcome == "partly reproduced"


def test_anomaly_margin_corrects_for_multiple_comparisons():
    # A small win of RaDOGAGA(d) (one-sided p = 0.017) holds among 2 comparisons (Holm: 0.05 / 2 = 0.025) but
    # not among 6 (0.05 / 6 = 0.008), where the other variants and data sets show no win.
    faint = anomaly_payload({"RaDOGAGA(d)": 0.0, "RaDOGAGA(log(d))": 0.0})
    rng = np.random.default_rng(5)
    for entry in faint["models"]:
        if entry["method"] == "RaDOGAGA(d)":
            entry["paper"]["f1"] += 0.008 + 0.012 * rng.standard_normal()
    p = verdicts.paired_p_value(*[[e["paper"]["f1"] for e in faint["models"] if e["method"] == m]
                                  for m in ("RaDOGAGA(d)", "DAGMM")])
    assert 0.05 / 6 < p < 0.05 / 2, p
    assert anomaly.verdict("anomaly-margin", {"thyroid": (faint, EVIDENCE)}).outcome == "partly reproduced"
    none = anomaly_payload({"RaDOGAGA(d)": 0.0, "RaDOGAGA(log(d))": -0.01})
    family = {"thyroid": (faint, EVIDENCE), "kddcup99": (none, EVIDENCE), "arrhythmia": (none, EVIDENCE)}
    assert anomaly.margin_by_dataset(family)["thyroid"] == "not reproduced"
    assert anomaly.verdict("anomaly-margin", family).outcome == "not reproduced"


def test_anomaly_level_reaches_every_outcome():
    paper = {n: {m: anomaly.PAPER_TABLE1[(n, m)][0][2] for m in ("DAGMM", "RaDOGAGA(d)", "RaDOGAGA(log(d))")}
             for n in anomaly.ANOMALY_SETS}

    def at(name, offset_d, offset_log):
        return anomaly_payload({"RaDOGAGA(d)": paper[name]["RaDOGAGA(d)"] + offset_d - 0.45,
                                "RaDOGAGA(log(d))": paper[name]["RaDOGAGA(log(d))"] + offset_log - 0.45}, 0.45)

    assert anomaly.verdict("anomaly-level", {n: (at(n, 0, 0), EVIDENCE) for n in anomaly.ANOMALY_SETS}).outcome \
        == "reproduced"
    assert anomaly.verdict("anomaly-level", {"thyroid": (at("thyroid", -0.2, 0), EVIDENCE)}).outcome == \
        "partly reproduced"
    assert anomaly.verdict("anomaly-level", {"thyroid": (at("thyroid", -0.2, -0.2), EVIDENCE)}).outcome == \
        "not reproduced"
    assert anomaly.verdict("anomaly-level", {}).outcome == "not yet evaluated"


# ---------------------------------------------------------------- latent


def latent_seed(share_gap: float, cv_radogaga: float, cv_gap: float, ssim: float, rng, drop: float = 0.001,
                beta_vae_ssim: float | None = None, constant: float = 1.0) -> dict:
    """One seed's four models; `constant` is RaDOGAGA's mean D-ratio at ε = 0.1 over the predicted one."""
    models = {}
    for name in latent.MODELS:
        kind, distortion = name.rsplit("_", 1)
        is_rdg = kind == "radogaga"
        cv = cv_radogaga if is_rdg else cv_radogaga - cv_gap
        model_ssim = ssim if is_rdg or beta_vae_ssim is None else beta_vae_ssim
        models[name] = {"eval": {"ssim": model_ssim}, "loss_drop_last_tenth": drop, "top_share": 0.5 + (share_gap if is_rdg else 0) + 0.01 * rng.random(),
                        f"ratio_cv_{distortion}": cv + 0.01 * rng.random(),
                        f"ratios_{distortion}": [[0.5] * 9, [constant * 0.02] * 9, [2.0] * 9], "predicted": 0.02}
    return models


def test_latent_rules_reach_every_outcome():
    rng = np.random.default_rng(2)
    good = [latent_seed(0.2, 0.1, -0.5, 0.9, rng) for _ in range(3)]
    flat = [latent_seed(-0.2, 0.5, 0.3, 0.9, rng) for _ in range(3)]
    for key in latent.RULES:
        assert latent.verdict(key, good, EVIDENCE).outcome == "reproduced", key
        assert latent.verdict(key, flat, EVIDENCE).outcome == "not reproduced", key
        assert latent.verdict(key, good, PREVIEW).outcome == "not yet evaluated", key
        unconverged = [latent_seed(0.2, 0.1, -0.5, 0.5, rng) for _ in range(3)]
        assert latent.verdict(key, unconverged, EVIDENCE).outcome == "not yet evaluated", key
        assert latent.verdict(key, good[:2], EVIDENCE).outcome == "not yet evaluated", key
        still_falling = [latent_seed(0.2, 0.1, -0.5, 0.9, rng, drop=0.05) for _ in range(3)]
        assert latent.verdict(key, still_falling, EVIDENCE).outcome == "not yet evaluated", key
        # the SSIM gate is on RaDOGAGA's reconstruction; a blurrier β-VAE (its β is the authors') still counts
        blurry_baseline = [latent_seed(0.2, 0.1, -0.5, 0.81, rng, beta_vae_ssim=0.6) for _ in range(3)]
        assert latent.verdict(key, blurry_baseline, EVIDENCE).outcome == "reproduced", key
        just_below = [latent_seed(0.2, 0.1, -0.5, 0.79, rng, beta_vae_ssim=0.95) for _ in range(3)]
        assert latent.verdict(key, just_below, EVIDENCE).outcome == "not yet evaluated", key
    # one distortion only
    mixed = []
    for seed in good:
        seed = {name: dict(m) for name, m in seed.items()}
        seed["radogaga_ssim"]["top_share"] = seed["beta_vae_ssim"]["top_share"] - 0.1
        seed["radogaga_ssim"]["ratio_cv_ssim"] = seed["beta_vae_ssim"]["ratio_cv_ssim"] + 0.3
        mixed.append(seed)
    assert latent.verdict("latent-concentration", mixed, EVIDENCE).outcome == "partly reproduced"
    assert latent.verdict("latent-isometry", mixed, EVIDENCE).outcome == "partly reproduced"


def test_latent_isometry_needs_the_predicted_constant_and_names_its_substitute():
    rng = np.random.default_rng(3)
    off_scale = [latent_seed(0.2, 0.1, -0.5, 0.9, rng, constant=0.11) for _ in range(3)]
    judged = latent.verdict("latent-isometry", off_scale, EVIDENCE)
    assert judged.outcome == "partly reproduced"  # the shape holds, the constant is 0.11 of the prediction
    failed = [c for c in judged.checks if "constant" in c.name and not c.holds]
    assert len(failed) == 2 and failed[0].measured == "0.11"
    assert latent.verdict("latent-concentration", off_scale, EVIDENCE).outcome == "reproduced"  # no constant in it
    substitute = dataclasses.replace(EVIDENCE, substitute="320 Olivetti faces; paper: CelebA")
    shown = latent.verdict("latent-isometry", off_scale, substitute)
    assert shown.headline() == "partly reproduced (on a substitute: 320 Olivetti faces; paper: CelebA)"
    assert "A substitute for the paper's evidence: 320 Olivetti faces" in verdicts.markdown(shown)
    # the reconstruction of the two models of a pair is shown and said to be unmatched
    blurry = [latent_seed(0.2, 0.1, -0.5, 0.85, rng, beta_vae_ssim=0.7) for _ in range(3)]
    assert "reconstruction not matched" in latent.verdict("latent-isometry", blurry, EVIDENCE).summary


def test_latent_paper_profile_is_the_papers_scale():
    paper = latent.PROFILES["paper"]
    assert paper.data == "celeba" and paper.celeba_images == 202_599 and paper.steps == 500_000
    assert len(paper.seeds) >= latent.RULE_MIN_SEEDS  # a paper-scale run can count as evidence
    assert latent.PROFILES["authors-network"].data == "olivetti"


# ---------------------------------------------------------------- scale of stored results


def test_scale_of_stored_results(tmp_path):
    quick = dataclasses.asdict(toy.PROFILES["quick"])
    paper = dataclasses.asdict(toy.PROFILES["paper"])
    fresh = dataclasses.asdict(toy.PROFILES["fresh-seeds"])
    for config in (quick, paper, fresh):
        results.save("toy", config, {"x": 1}, device="cpu", wall_time_s=1.0, root=tmp_path)
    below = verdicts.scale_of(results.load("toy", quick, root=tmp_path))
    shown = verdicts.scale_of(results.load("toy", paper, root=tmp_path))
    at = verdicts.scale_of(results.load("toy", fresh, root=tmp_path))
    # The paper gives no scale for the toy experiment: the book's own, with its numbers.
    assert at.evidence and at.seeds == 5
    assert at.description == "book-defined scale, the fresh-seeds profile (5 seeds × 40,000 steps)"
    assert not shown.evidence and "not the evidence the rules name (the fresh-seeds profile)" in shown.description
    assert not below.evidence and "seeds 2 of the paper profile's 5" in below.description
    assert "steps 2,000 (5 % of the paper profile's 40,000)" in below.description
    anomaly_paper = dataclasses.asdict(anomaly.parts(anomaly.PROFILES["paper"])[0])
    results.save("anomaly", anomaly_paper, {"x": 1}, device="cpu", wall_time_s=1.0, root=tmp_path)
    assert verdicts.scale_of(results.load("anomaly", anomaly_paper, root=tmp_path)).description == "paper scale"
    # Another configuration at the paper's seeds, steps and rows is at the paper's scale, named by its profile;
    # one with fewer seeds is not.
    for profile, expected in (("tnakae", "paper scale, the tnakae profile"),
                              ("full-length-5-seeds", "book-defined scale, the full-length-5-seeds profile (5 seeds")):
        part = dataclasses.asdict(anomaly.parts(anomaly.PROFILES[profile])[1])
        results.save("anomaly", part, {"x": 1}, device="cpu", wall_time_s=1.0, root=tmp_path)
        assert verdicts.scale_of(results.load("anomaly", part, root=tmp_path)).description.startswith(expected)


def test_first_evaluated_by_commit_ancestry_then_by_the_run_s_start(tmp_path, monkeypatch):
    rule = toy.RULES["toy"]
    entry = verdicts.ledger_entry(rule)
    assert verdicts.first_evaluated(rule, root=tmp_path).startswith("not yet (no evidence")
    path = results.save("toy", dataclasses.asdict(toy.PROFILES["fresh-seeds"]), {"x": 1}, device="cpu",
                        wall_time_s=600.0, root=tmp_path)

    def stored_as(commit: str, utc_time: str) -> None:
        document = json.loads(path.read_text())
        document["provenance"].update(git_commit=commit, utc_time=utc_time)
        path.write_text(json.dumps(document))

    fixed = datetime.fromisoformat(entry["fixed_utc"].replace("Z", "+00:00"))
    same_day_earlier = (fixed - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (fixed + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # No commit git can place: the run's start decides, also within the day the rule was fixed.
    stored_as("unknown", same_day_earlier)
    assert same_day_earlier[:10] == entry["fixed_utc"][:10] or fixed.hour < 1
    assert "predates the rule" in verdicts.first_evaluated(rule, root=tmp_path)
    stored_as("unknown", later)
    started = fixed + timedelta(hours=2) - timedelta(seconds=600)  # the store time less the wall time
    assert verdicts.first_evaluated(rule, root=tmp_path) == started.strftime("%Y-%m-%d %H:%M UTC")
    # A run of code that holds the rule's commit was made after it, whatever its clock said.
    stored_as(entry["commit"], same_day_earlier)
    assert not verdicts.first_evaluated(rule, root=tmp_path).startswith("not yet")
    # A run of code from before the rule's commit predates it, even with a later time.
    monkeypatch.setattr(verdicts, "_is_ancestor", lambda older, newer: False)
    stored_as("0000000", later)
    assert "predates the rule" in verdicts.first_evaluated(rule, root=tmp_path)


def test_every_experiment_with_rules_has_a_paper_profile():
    for name in experiments.names():
        module = experiments.get(name)
        for profile in experiments.evidence_profiles(name):
            assert profile in module.PROFILES, (name, profile)
