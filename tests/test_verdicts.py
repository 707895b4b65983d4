"""Verdicts: the interval arithmetic, the ledger of rules, and each experiment's rule
reaching every outcome on synthetic evidence (no training)."""

from __future__ import annotations

import dataclasses
import re

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
        assert re.fullmatch(r"[0-9a-f]{7,40}", entry["commit"]), entry


def test_a_changed_rule_without_a_new_version_is_caught(monkeypatch):
    changed = dataclasses.replace(toy.RULES["toy"], text=toy.RULES["toy"].text + " And more.")
    monkeypatch.setitem(toy.RULES, "toy", changed)
    assert any("differs from its ledger entry" in p for p in verdicts.ledger_problems())


def test_markdown_shows_claim_rule_checks_and_evidence():
    check = verdicts.Check("a | b", "1.0", "≤ 2", True)
    text = verdicts.markdown(verdicts.Verdict(toy.RULES["toy"], "not yet evaluated", (check,), PREVIEW, "s"))
    assert text.startswith(":::{admonition} Verdict: not yet evaluated") and "preview" in text
    assert "a \\| b" in text and "| yes |" in text and toy.RULES["toy"].claim in text
    assert "fixed 2026-11-28" in text


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


def test_toy_rule_needs_dagmm_not_proportional():
    proportional_dagmm = {**GOOD_SLOPES, "DAGMM": 1.0}
    fits = {**GOOD_FITS, "DAGMM": 0.04}
    assert toy.verdict(toy_payload(proportional_dagmm, fits), EVIDENCE).outcome == "partly reproduced"


# ---------------------------------------------------------------- anomaly


def anomaly_payload(gaps: dict[str, float], dagmm: float = 0.45, seeds=range(20)) -> dict:
    rng = np.random.default_rng(1)
    models = []
    for seed in seeds:
        base = dagmm + 0.05 * rng.standard_normal()
        models.append({"method": "DAGMM", "seed": seed, "paper": {"f1": base}})
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
                beta_vae_ssim: float | None = None) -> dict:
    models = {}
    for name in latent.MODELS:
        kind, distortion = name.rsplit("_", 1)
        is_rdg = kind == "radogaga"
        cv = cv_radogaga if is_rdg else cv_radogaga - cv_gap
        model_ssim = ssim if is_rdg or beta_vae_ssim is None else beta_vae_ssim
        models[name] = {"eval": {"ssim": model_ssim}, "loss_drop_last_tenth": drop, "top_share": 0.5 + (share_gap if is_rdg else 0) + 0.01 * rng.random(),
                        f"ratio_cv_{distortion}": cv + 0.01 * rng.random()}
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


def test_latent_paper_profile_is_the_papers_scale():
    paper = latent.PROFILES["paper"]
    assert paper.data == "celeba" and paper.celeba_images == 202_599 and paper.steps == 500_000
    assert latent.PROFILES["authors-network"].data == "olivetti"


# ---------------------------------------------------------------- scale of stored results


def test_scale_of_stored_results(tmp_path):
    quick = dataclasses.asdict(toy.PROFILES["quick"])
    paper = dataclasses.asdict(toy.PROFILES["paper"])
    for config in (quick, paper):
        results.save("toy", config, {"x": 1}, device="cpu", wall_time_s=1.0, root=tmp_path)
    below = verdicts.scale_of(results.load("toy", quick, root=tmp_path))
    at = verdicts.scale_of(results.load("toy", paper, root=tmp_path))
    assert at.evidence and at.description == "paper scale" and at.seeds == 5
    assert not below.evidence and "seeds 2 of the paper profile's 5" in below.description
    assert "steps 2,000 (5 % of the paper profile's 40,000)" in below.description


def test_first_evaluated_reports_evidence_that_predates_the_rule(tmp_path):
    rule = toy.RULES["toy"]
    assert verdicts.first_evaluated(rule, root=tmp_path).startswith("not yet (no evidence")
    path = results.save("toy", dataclasses.asdict(toy.PROFILES["paper"]), {"x": 1}, device="cpu",
                        wall_time_s=1.0, root=tmp_path)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", verdicts.first_evaluated(rule, root=tmp_path))
    text = path.read_text().replace(results.read(path).provenance["utc_time"], "2026-11-26T00:00:00Z")
    path.write_text(text)
    assert "predates the rule" in verdicts.first_evaluated(rule, root=tmp_path)


def test_every_experiment_with_rules_has_a_paper_profile():
    for name in experiments.names():
        module = experiments.get(name)
        for profile in experiments.evidence_profiles(name):
            assert profile in module.PROFILES, (name, profile)
