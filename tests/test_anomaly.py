"""The anomaly experiment: thresholds and measures, baselines, the per-data-set parts and the run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from radogaga import cli, experiments
from radogaga.analysis import baselines, scoring
from radogaga.bookkit import chapter
from radogaga.data import paper_split
from radogaga.experiments import _methods, anomaly
from radogaga.models.density import Architecture, DensityAutoencoder
from radogaga.store import results


# --- thresholds and measures ------------------------------------------------------------

def test_flag_top_share_flags_exactly_the_highest_share():
    scores = np.random.default_rng(0).normal(size=1_001)
    flagged = scoring.flag_top_share(scores, 0.2)
    assert flagged.sum() == round(0.2 * 1_001)
    assert scores[flagged].min() > scores[~flagged].max()


def test_classification_by_hand():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    flagged = np.array([1, 1, 0, 1, 0, 0, 0, 0], dtype=bool)
    m = scoring.classification(y, flagged)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3) and m["false_alarm"] == pytest.approx(1 / 5)
    assert m["flagged_share"] == pytest.approx(3 / 8)
    assert scoring.classification(y, np.zeros(8, bool))["f1"] == 0.0


def test_training_threshold_holds_the_false_alarm_rate():
    """On normal rows from the training distribution the share above the threshold is α
    (within 0.01 for 20,000 rows: the binomial std is 0.0015)."""
    rng = np.random.default_rng(1)
    threshold = scoring.training_threshold(rng.normal(size=20_000), 0.05)
    assert np.mean(rng.normal(size=20_000) > threshold) == pytest.approx(0.05, abs=0.01)


def test_evaluate_perfect_and_random_scores():
    rng = np.random.default_rng(2)
    y = (rng.random(4_000) < 0.2).astype(int)
    perfect = scoring.evaluate(y, y + 0.01 * rng.random(4_000), rng.random(500) * 0.01, y.mean(), 0.05)
    assert perfect["auroc"] == 1.0 and perfect["average_precision"] == 1.0 and perfect["paper"]["f1"] == 1.0
    chance = scoring.evaluate(y, rng.random(4_000), rng.random(500), y.mean(), 0.05)
    assert chance["auroc"] == pytest.approx(0.5, abs=0.03)
    assert chance["paper"]["flagged_share"] == pytest.approx(y.mean(), abs=1 / 4_000)


def test_evaluate_refuses_non_finite_scores():
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="non-finite.*diverged"):
        scoring.evaluate(y, np.array([0.1, np.nan, 0.3, 0.4]), np.zeros(3), 0.5, 0.05)
    with pytest.raises(ValueError, match="both normal rows and anomalies"):
        scoring.evaluate(np.zeros(4), np.arange(4.0), np.zeros(3), 0.5, 0.05)


# --- baselines ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", baselines.NAMES)
def test_baselines_separate_far_outliers(name):
    """Normal rows on a noisy 2-D plane in 6-D, anomalies off it: AUROC above 0.95."""
    rng = np.random.default_rng(3)
    basis = np.linalg.qr(rng.normal(size=(6, 2)))[0]
    normal = rng.normal(size=(1_200, 2)) @ basis.T * 0.2 + 0.5 + 0.01 * rng.normal(size=(1_200, 6))
    outliers = rng.uniform(0, 1, size=(100, 6))
    rows = np.concatenate([normal[1_000:], outliers])
    scores = baselines.fit_and_score(name, normal[:1_000], rows, components=2, seed=0, max_rows=500)
    y = np.r_[np.zeros(200), np.ones(100)]
    assert scores.shape == (300,) and scoring.evaluate(y, scores, scores[:10], 1 / 3, 0.05)["auroc"] > 0.95


def test_unknown_baseline_is_named():
    with pytest.raises(ValueError, match="unknown baseline 'LOF'.*IsolationForest"):
        baselines.fit_and_score("LOF", np.zeros((5, 2)), np.zeros((5, 2)), components=1, seed=0, max_rows=10)


# --- the network side -----------------------------------------------------------------------

def test_reconstruction_error_is_the_squared_error_of_each_model():
    arch = Architecture(input_dim=5, encoder=(4, 2), components=2)
    stack = DensityAutoencoder(arch, [anomaly.coefficients(anomaly.ModelSpec("AE", 0), anomaly.PROFILES["quick"])] * 2, [0.0, 0.0], [0, 1])
    x = torch.rand(30, 5)
    with torch.no_grad():
        expected = ((x - stack.features(x.expand(2, -1, -1))[1]) ** 2).sum(-1)
    torch.testing.assert_close(stack.reconstruction_error(x, batch_size=7), expected)


def test_untrained_network_is_every_methods_starting_point():
    """The 'untrained network' baseline (a DAGMM stack at initialisation) has, seed for seed,
    the parameters each method starts training from."""
    config = anomaly.PROFILES["quick"]
    arch = anomaly.architecture("thyroid", 6, "dagmm")
    trained = anomaly._stack(arch, [anomaly.ModelSpec(m, 7) for m in (*anomaly.METHODS, anomaly.AUTOENCODER)], config)
    untrained = anomaly._stack(arch, [anomaly.ModelSpec("DAGMM", 7)], config)
    for name, value in untrained.state_dict().items():
        for m in range(len(trained.labels)):
            torch.testing.assert_close(trained.state_dict()[name][m], value[0])


def test_architectures_follow_dagmm_or_the_toy_network():
    assert anomaly.architecture("kddcup99", 121, "dagmm").encoder == (60, 30, 10, 1)
    assert anomaly.architecture("arrhythmia", 274, "dagmm").feature_dim == 4  # z (2) + two error features
    assert anomaly.architecture("thyroid", 6, "toy").encoder == anomaly.TOY_ENCODER


def test_training_steps_follow_dagmm_epochs():
    paper = anomaly.PROFILES["paper"]
    assert anomaly.training_steps("thyroid", 1_840, paper) == (35_938, 1_024)  # 20,000 epochs of 1,840 rows
    assert anomaly.training_steps("arrhythmia", 193, paper) == (10_000, 193)   # full batch
    assert anomaly.training_steps("thyroid", 1_840, dataclasses.replace(paper, steps=50)) == (50, 1_024)


# --- config, parts and the run ------------------------------------------------------------------

def test_config_errors_name_the_choices():
    with pytest.raises(ValueError, match="unknown datasets.*kddcup99"):
        experiments.config_for("anomaly", "quick", datasets=["mnist"])
    with pytest.raises(ValueError, match="unknown baselines"):
        experiments.config_for("anomaly", "quick", baselines=["LOF"])
    with pytest.raises(ValueError, match="network='big'"):
        experiments.config_for("anomaly", "quick", network="big")


def test_paper_profile_is_the_papers_protocol():
    paper = anomaly.PROFILES["paper"]
    assert paper.seeds == tuple(range(20)) and paper.datasets == ("kddcup99", "thyroid", "arrhythmia", "kddcup_rev")
    assert paper.max_rows == 0 and paper.steps == 0 and paper.learning_rate == 1e-4 and paper.batch_size == 1_024


def test_parts_are_one_per_data_set_and_run_takes_one():
    config = anomaly.PROFILES["quick"]
    assert [p.datasets for p in experiments.parts("anomaly", config)] == [(d,) for d in config.datasets]
    with pytest.raises(ValueError, match="one data set at a time"):
        anomaly.run(config, torch.device("cpu"))
    with pytest.raises(ValueError, match="has 4 parts"):
        experiments.run_experiment("anomaly", "quick", "cpu")


TINY = dict(datasets=("thyroid",), seeds=(0, 1), steps=30, baselines=(anomaly.UNTRAINED, anomaly.AUTOENCODER, "PCA"),
            batch_size=256, figure_rows=50)


def test_tiny_run_measures_every_model_under_both_thresholds(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path))
    config = experiments.config_for("anomaly", "quick", **TINY)
    payload = anomaly.run(config, torch.device("cpu"))
    expected = {(m, s) for m in (*anomaly.METHODS, *TINY["baselines"]) for s in (0, 1)}
    assert {(e["method"], e["seed"]) for e in payload["models"]} == expected
    y = anomaly.load("thyroid", 0).y
    n_test = len(paper_split(y, 0)[1])
    for entry in payload["models"]:
        assert entry["paper"]["flagged_share"] == round(y.mean() * n_test) / n_test  # every split has n_test rows
        for measure in ("precision", "recall", "f1", "false_alarm"):
            assert 0 <= entry["paper"][measure] <= 1 and 0 <= entry["train_threshold"][measure] <= 1
        assert 0 <= entry["auroc"] <= 1 and 0 < entry["average_precision"] <= 1
    assert np.isfinite(payload["losses"]).all() and payload["losses"].shape[1] == 4 * 2
    assert set(payload["figure"]) == {m for m, _ in expected} and len(payload["figure"]["PCA"]["normal"]) == 50
    assert not list(tmp_path.rglob("*.pt"))  # the training checkpoint is removed once the result exists


def test_baselines_fitted_during_training_give_the_same_scores(data_root, tmp_path, monkeypatch):
    # On a GPU the baselines fit in the background while the networks train; nothing else may change.
    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path))
    config = experiments.config_for("anomaly", "quick", **{**TINY, "baselines": ("PCA", "IsolationForest")})
    after = anomaly.run(config, torch.device("cpu"))
    assert anomaly.baselines_overlap_training(torch.device("cpu")) is False
    monkeypatch.setattr(anomaly, "baselines_overlap_training", lambda device: True)
    during = anomaly.run(config, torch.device("cpu"))
    assert [e["method"] for e in during["models"]] == [e["method"] for e in after["models"]]
    for a, b in zip(after["models"], during["models"]):
        assert (a["seed"], a["auroc"], a["paper"]["f1"]) == (b["seed"], b["auroc"], b["paper"]["f1"])
    assert not after["timings"]["baselines_overlapped_training"] and during["timings"]["baselines_overlapped_training"]
    assert during["timings"]["resumed_from_step"] == 0


def test_command_line_stores_one_result_per_data_set_and_resumes_by_part(data_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path / "cache"))
    settings = ["--set", "datasets=[\"thyroid\",\"arrhythmia\"]", "--set", "seeds=[0]", "--set", "steps=5",
                "--set", "baselines=[\"PCA\"]"]
    out = tmp_path / "results"
    printed_before = []  # lines printed when each part starts: a part is reported as soon as it is done
    real_run = anomaly.run
    monkeypatch.setattr(anomaly, "run", lambda config, device: printed_before.append(
        capsys.readouterr().out.count("wall time")) or real_run(config, device))
    assert cli.main(["run", "anomaly", "--device", "cpu", "--out", str(out), *settings]) == 0
    assert printed_before == [0, 1] and capsys.readouterr().out.count("wall time") == 1
    assert len(list(out.rglob("*.json"))) == 2
    # Killed after the first part: the rerun reuses it and computes only the missing one.
    next(p for p in out.rglob("*.json") if "arrhythmia" in p.read_text()).unlink()
    calls = []
    monkeypatch.setattr(anomaly, "run", lambda config, device: calls.append(config.datasets) or real_run(config, device))
    assert cli.main(["run", "anomaly", "--device", "cpu", "--out", str(out), *settings]) == 0
    assert calls == [("arrhythmia",)]


def test_a_stored_part_counts_as_paper_scale(tmp_path):
    part = experiments.parts("anomaly", anomaly.PROFILES["paper"])[1]
    path = results.save("anomaly", dataclasses.asdict(part), {"dataset": "thyroid"}, device="cpu", wall_time_s=1.0,
                        root=tmp_path)
    assert chapter.is_paper_scale(results.read(path))
    status = chapter.experiment_status(tmp_path)
    assert status.loc["anomaly", "shown"] == "paper (1 of 4 parts; the others at quick)"
    assert status.loc["toy", "shown"] == "quick (computed at build)"


def test_lambda1_rule_uses_the_training_rows_only_and_balances_the_terms():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 6)) * np.array([3.0, 2.0, 1.0, 0.2, 0.1, 0.1])
    rule = anomaly.lambda1_by_rule(x, latent=3)
    residual = np.sort(np.linalg.eigvalsh(np.cov(x.T, bias=True)))[:3].sum()  # the three smallest variances
    assert rule["distortion_pca"] == pytest.approx(residual, rel=1e-9)
    assert rule["RaDOGAGA(d)"] * rule["distortion_pca"] == pytest.approx(anomaly.LAMBDA1_BALANCE * 3, rel=1e-9)
    # h = log: the same effective weight λ1 / (D + floor) at D = D_pca
    assert rule["RaDOGAGA(log(d))"] / (rule["distortion_pca"] + anomaly.LOG_FLOOR) == \
        pytest.approx(rule["RaDOGAGA(d)"], rel=1e-9)


def test_paper_profile_sets_lambda1_per_seed_by_the_rule_and_zong_keeps_the_stored_config():
    assert anomaly.PROFILES["paper"].network == "toy" and anomaly.PROFILES["paper"].lambda1_d == 0
    # the zong profile is the config of the stored first paper-scale runs: its hash must not move (it was
    # 8f5740d0f0b892b7 until the config gained the pipeline fields; results.add_config_field moved the stored files)
    from radogaga.store import results
    zong_thyroid = dataclasses.replace(anomaly.PROFILES["zong"], datasets=("thyroid",))
    assert results.config_hash(dataclasses.asdict(zong_thyroid)) == "dd6bd59d1de971dc"
    config = dataclasses.replace(anomaly.PROFILES["paper"], datasets=("thyroid",), seeds=(0, 1))
    spec = anomaly.with_rule(anomaly.ModelSpec("RaDOGAGA(d)", 1), config,
                             {0: {"RaDOGAGA(d)": 5.0}, 1: {"RaDOGAGA(d)": 7.0}})
    assert anomaly.coefficients(spec, config).reconstruction == 7.0
    fixed = anomaly.with_rule(anomaly.ModelSpec("RaDOGAGA(d)", 1), anomaly.PROFILES["zong"], {1: {"RaDOGAGA(d)": 7.0}})
    assert anomaly.coefficients(fixed, anomaly.PROFILES["zong"]).reconstruction == anomaly.PROFILES["zong"].lambda1_d


def test_controls_change_their_base_profile_on_their_seeds():
    from radogaga.experiments import anomaly_controls as controls
    for name, variant in controls.VARIANTS.items():
        config = dataclasses.replace(controls.PROFILES["paper"], variants=(name,))
        reference = controls.reference(config)
        assert reference.datasets == (variant.dataset,) and reference.seeds == (variant.seeds or (0, 1, 2, 3, 4))
        assert reference.network == anomaly.PROFILES["paper"].network
        base = anomaly.PROFILES[variant.base]
        changed = {f for f in anomaly.PIPELINE_FIELDS if getattr(reference, f) != getattr(base, f)}
        assert changed <= set(variant.changes), name  # only the variant's own changes to its base pipeline
    x = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]], dtype=np.float32)
    z = controls.zscore(x)
    assert np.allclose(z[:, 0].mean(), 0) and np.allclose(z[:, 0].std(), 1) and np.all(z[:, 1] == 0)


def test_one_cost_per_method_for_every_density_experiment():
    """toy and anomaly share ModelSpec/coefficients (experiments/_methods.py): the same method
    and config give the same cost, λ1 scaled by the factor, and no noise outside RaDOGAGA."""
    config = anomaly.PROFILES["zong"]
    plain = _methods.coefficients(_methods.ModelSpec("RaDOGAGA(log(d))", 0), config)
    scaled = _methods.coefficients(_methods.ModelSpec("RaDOGAGA(log(d))", 0, lambda1_factor=3.0), config)
    assert scaled.reconstruction == pytest.approx(3.0 * plain.reconstruction)
    assert plain.reconstruction == config.lambda1_log and plain.noise == config.lambda2
    assert _methods.noise_std(_methods.ModelSpec("DAGMM", 0, noise_std=0.3), config) == 0.0
    assert _methods.noise_std(_methods.ModelSpec("RaDOGAGA(d)", 0), config) == config.noise_std
    assert _methods.coefficients(_methods.ModelSpec("AE", 0), config).rate == 0.0


def test_seed_summary_means_stds_and_older_results():
    rows = [{"method": "A", "x": 1.0, "y": 2.0}, {"method": "A", "x": 3.0}, {"method": "B", "x": 5.0, "y": 1.0}]
    summary = _methods.seed_summary(rows, "method", {"x": lambda r: r["x"], "y": lambda r: r["y"]})
    assert summary["A"] == {"x": {"mean": 2.0, "std": pytest.approx(2 ** 0.5)}}  # y: one row lacks it
    assert summary["B"] == {"x": {"mean": 5.0, "std": 0.0}, "y": {"mean": 1.0, "std": 0.0}}
