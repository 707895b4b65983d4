"""The anomaly pipeline options that test Table 1's gap: the paper's split and threshold
reproduce its precision/recall ratios, the authors' standardisation uses each seed's
training rows only, their log(MSE + 0.001) is our log with a floor scaled by the input
width, the mixture in double precision, and the controls built on them (the headline's
steps, the untrained network, the λ1 scan)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from radogaga import data, experiments
from radogaga.analysis import scoring
from radogaga.data import paper_split, stratified_split
from radogaga.experiments import anomaly, anomaly_controls
from radogaga.infra.randomness import Randomness
from radogaga.models.density import Architecture, DensityAutoencoder
from radogaga.objectives import Coefficients, CostTerms, stacked_cost


def test_the_stratified_split_puts_half_of_each_class_in_the_test_set():
    y = np.r_[np.zeros(101, int), np.ones(9, int)]
    for seed in (0, 1, 2):
        train, test = stratified_split(y, seed)
        assert (y[test] == 1).sum() == 4 and (y[test] == 0).sum() == 50  # halves rounded down
        assert (y[train] == 0).all() and len(train) == 51 and not set(train) & set(test)
    assert not np.array_equal(stratified_split(y, 0)[1], stratified_split(y, 1)[1])


@pytest.mark.parametrize("name", anomaly.ANOMALY_SETS)
def test_the_stratified_protocol_gives_the_papers_precision_over_recall(data_root, name):
    # With a fixed number of test anomalies and of flagged rows, precision / recall is the same for every
    # scoring: anomalies in the test set over flagged rows. The paper's Table 1 reports DAGMM's precision and
    # recall to four digits, so its ratio is known to about 1e-3.
    y = data.load(name).y.astype(int)
    config = dataclasses.replace(anomaly.PROFILES["paper"], datasets=(name,), protocol="stratified", seeds=(0, 1))
    precision, recall, f1 = anomaly.PAPER_TABLE1[(name, "DAGMM")][0]
    for seed, (train, test) in anomaly.splits(config, y).items():
        scores = np.random.default_rng(seed).random(len(test)) + 0.5 * y[test]  # some anomalies flagged
        measured = scoring.evaluate(y[test], scores, scores[:10], float(y.mean()), 0.05,
                                    anomaly.flagged(config, name, len(test)))["paper"]
        assert measured["precision"] / measured["recall"] == pytest.approx(precision / recall, abs=1e-3)
    assert anomaly.flagged(anomaly.PROFILES["paper"], name, 100) is None  # ours: round(ratio × test rows)


def test_the_authors_standardisation_uses_each_seeds_training_rows():
    rng = np.random.default_rng(0)
    x = rng.random((40, 3)).astype(np.float32)
    y = np.r_[np.zeros(36, int), np.ones(4, int)]
    by_seed = {seed: paper_split(y, seed) for seed in (3, 4)}
    stacked, y_stacked, shifted = anomaly.seed_scaled(x, y, by_seed, "minmax+zscore")
    assert stacked.shape == (80, 3) and np.array_equal(y_stacked, np.r_[y, y])
    for index, seed in enumerate((3, 4)):
        train, test = shifted[seed]
        assert np.array_equal(train - 40 * index, by_seed[seed][0])
        np.testing.assert_allclose(stacked[train].mean(axis=0), 0, atol=1e-6)  # standardised on its training rows
        np.testing.assert_allclose(stacked[train].std(axis=0), 1, atol=1e-5)
        moved = x.copy()
        moved[test - 40 * index] += 100  # test rows do not enter the statistics
        again = anomaly.seed_scaled(moved, y, by_seed, "minmax+zscore")[0]
        np.testing.assert_allclose(again[train], stacked[train], rtol=0, atol=1e-6)
    assert anomaly.seed_scaled(x, y, by_seed, "minmax")[0] is x


def test_log_of_the_mean_error_is_our_log_with_a_floor_scaled_by_the_width():
    config = dataclasses.replace(anomaly.PROFILES["paper"], log_distortion="mean")
    assert anomaly.log_floor(config, 6) == pytest.approx(0.006) and anomaly.log_floor(anomaly.PROFILES["paper"], 6) == 0.001
    summed = torch.tensor([[0.3, 0.5, 0.1]])  # summed squared errors of a batch, one model, 6 features
    terms = CostTerms(rate=torch.zeros(1, 3), reconstruction=summed, noise=torch.zeros(1, 3), covariance=torch.zeros(1))
    ours = stacked_cost(terms, [Coefficients.radogaga(1.0, 0.0, h="log", log_floor=0.006)])
    authors = math.log(float(summed.mean()) / 6 + 0.001)  # log(MSE + 0.001), the mean over batch and features
    assert float(ours) == pytest.approx(authors + math.log(6), rel=1e-6)  # the same up to the constant log D
    x = np.random.default_rng(1).random((200, 6))
    plain, per_feature = anomaly.lambda1_by_rule(x, 3), anomaly.lambda1_by_rule(x, 3, 0.006)
    assert plain["RaDOGAGA(d)"] == per_feature["RaDOGAGA(d)"]
    # the same effective weight λ1 / (D + floor) at D = D_pca
    assert per_feature["RaDOGAGA(log(d))"] / (plain["distortion_pca"] + 0.006) == pytest.approx(plain["RaDOGAGA(d)"])


def test_a_mixture_in_double_precision_trains_like_float32_and_holds_a_small_jitter():
    seeds = [0, 1]
    x = torch.rand(2, 64, 6, generator=torch.Generator().manual_seed(0))
    costs = [Coefficients.dagmm(0.1, 1e-4), Coefficients.radogaga(10.0, 0.1)]
    losses = {}
    for dtype, jitter in (("float32", 1e-4), ("float64", 1e-4), ("float64", 1e-6)):
        arch = Architecture(input_dim=6, encoder=(4, 2), components=2, jitter=jitter, mixture_dtype=dtype)
        model = DensityAutoencoder(arch, costs, [0.0, 0.05], seeds)
        losses[dtype, jitter] = model.loss(x, Randomness(seeds, torch.device("cpu")))
        assert losses[dtype, jitter].dtype == torch.float32 and torch.isfinite(losses[dtype, jitter]).all()
    torch.testing.assert_close(losses["float64", 1e-4], losses["float32", 1e-4], rtol=1e-4, atol=1e-4)


def test_the_tnakae_profile_is_the_paper_configuration_in_the_authors_pipeline():
    tnakae, paper = anomaly.PROFILES["tnakae"], anomaly.PROFILES["paper"]
    assert (tnakae.scaling, tnakae.log_distortion, tnakae.mixture_dtype, tnakae.jitter, tnakae.dagmm_lambda2) == \
        ("minmax+zscore", "mean", "float64", 1e-6, 1e-4)
    differ = {f.name for f in dataclasses.fields(paper) if getattr(paper, f.name) != getattr(tnakae, f.name)}
    assert differ <= set(anomaly.PIPELINE_FIELDS)  # same seeds, steps, network, methods and baselines
    assert anomaly.SHOWN_PROFILES[0] == "tnakae" and set(anomaly.EVIDENCE_PROFILES) == {"tnakae", "paper"}
    with pytest.raises(ValueError, match="protocol"):
        experiments.config_for("anomaly", "quick", protocol="stratify")


def test_the_controls_change_their_base_profile_and_train_the_headlines_steps(data_root):
    def reference(name, profile="paper"):
        return anomaly_controls.reference(dataclasses.replace(anomaly_controls.PROFILES[profile], variants=(name,)))

    old = reference("float64-jitter-1e-6")  # the first controls keep what they ran with
    assert old.jitter == 1e-6 and old.scaling == "minmax" and old.seeds == (0, 1, 2, 3, 4) and old.baselines == ()
    stratified = reference("tnakae-stratified")
    assert stratified.protocol == "stratified" and stratified.scaling == "minmax+zscore" and stratified.seeds == tuple(range(20))
    assert stratified.baselines == (anomaly.UNTRAINED,) and reference("tnakae-stratified", "quick").seeds == (0, 1)
    assert reference("tnakae-minmax").scaling == "minmax" and reference("tnakae-minmax").jitter == 1e-6
    y = data.load("thyroid").y.astype(int)
    config = dataclasses.replace(anomaly_controls.PROFILES["paper"], variants=("tnakae-minmax",))
    assert anomaly_controls.headline_steps(config, y) == 35_684  # the Thyroid headline's steps (20 seeds)


def test_the_lambda1_scan_names_each_factor(data_root, tmp_path):
    config = dataclasses.replace(anomaly_controls.PROFILES["quick"], variants=("lambda1-scan",))
    payload = anomaly_controls.run(dataclasses.replace(config, seeds=(0,)), torch.device("cpu"))
    assert {m["method"] for m in payload["models"]} == {"DAGMM", "RaDOGAGA(d)", "RaDOGAGA(d) × λ1 0.01",
                                                        "RaDOGAGA(d) × λ1 0.1", anomaly.UNTRAINED}
    assert payload["lambda1_factors"] == [0.01, 0.1, 1.0] and payload["steps"] == 200
