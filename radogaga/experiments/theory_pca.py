"""Appendix B: with a factorized prior, RaDOGAGA's latent axes are the axes that minimise
the total correlation: the PCA axes for Gaussian data, the source axes for independent
non-Gaussian sources.

Three data cases, each a random rotation of independent sources with given variances:
"gaussian" (a spread spectrum: PCA is unique), "laplace_pairs" and "gaussian_pairs"
(variances in equal pairs: PCA is free to rotate inside each pair). Linear models
(one layer each way) of every case and seed train in one stack, in two phases: a weak
reconstruction weight first, under which the latent axes turn quickly, then the final
weight with a smaller learning rate, under which D(x, x̂) settles near its minimum as the
theory assumes. Every `trace_every` steps the run records how well the axes align.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.stats import ortho_group
from sklearn.decomposition import PCA

from radogaga import verdicts
from radogaga.analysis import alignment
from radogaga.infra import checks
from radogaga.infra.device import one_cpu_thread
from radogaga.models import FactorizedAutoencoder
from radogaga.models.factorized import UNIFORM_NOISE_VARIANCE
from radogaga.objectives import Coefficients
from radogaga.train import TrainSettings, train_in_segments

NAME = "theory_pca"
CASES = ("gaussian", "laplace_pairs", "gaussian_pairs")
SWEEP_ANGLES = np.linspace(0.0, 90.0, 37)
PLANE_POINTS = 1_000


@dataclass(frozen=True)
class Config:
    """Data, coefficients and the two training phases (rotate, then settle)."""

    seeds: tuple[int, ...] = (0, 1)
    spectrum: tuple[float, ...] = (16.0, 8.0, 4.0, 2.0, 1.0, 0.5)
    paired_spectrum: tuple[float, ...] = (16.0, 16.0, 4.0, 4.0, 1.0, 1.0)
    samples: int = 20_000
    lambda2: float = 10.0
    noise_scale: float = 1.0
    lambda1_rotate: float = 10.0
    lambda1: float = 100.0
    steps_rotate: int = 2_000
    steps_settle: int = 500
    learning_rate_rotate: float = 0.1
    learning_rate_settle: float = 0.01
    batch_size: int = 1_024
    trace_every: int = 100

    def __post_init__(self) -> None:
        checks.int_list("seeds", list(self.seeds))
        if len(self.spectrum) != len(self.paired_spectrum) or len(self.spectrum) < 2:
            raise ValueError(f"spectrum {self.spectrum} and paired_spectrum {self.paired_spectrum} must "
                             "have one common length of at least 2 (one architecture for the stack).")
        for name in ("lambda2", "noise_scale", "lambda1_rotate", "lambda1", "learning_rate_rotate",
                     "learning_rate_settle"):
            checks.positive_float(name, getattr(self, name))
        for index, variance in enumerate((*self.spectrum, *self.paired_spectrum)):
            checks.positive_float(f"variance {index} of the spectra", variance)
        for name in ("samples", "steps_rotate", "steps_settle", "batch_size", "trace_every"):
            checks.positive_int(name, getattr(self, name))
        for steps in ("steps_rotate", "steps_settle"):
            if getattr(self, steps) % self.trace_every:
                raise ValueError(f"{steps}={getattr(self, steps)} must be a multiple of "
                                 f"trace_every={self.trace_every}.")


# Estimate: 30,000 steps per stack, at the toy's measured 40,000 steps per 66 s.
GPU_MINUTES = 2.0

PROFILES = {
    "quick": Config(),
    "paper": Config(seeds=(0, 1, 2, 3, 4), samples=100_000, steps_rotate=20_000, steps_settle=10_000,
                    batch_size=4_096, trace_every=500),
}


def latent_scale(config: Config) -> float:
    """2 λ2 σ²: the factor from PCA variances to latent variances (σ² = noise_scale² / 12)."""
    return 2.0 * config.lambda2 * config.noise_scale**2 * UNIFORM_NOISE_VARIANCE


def make_data(case: str, spectrum: tuple[float, ...], samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Independent unit-variance sources (Gaussian or Laplace) scaled to variances `spectrum`,
    rotated by a random orthogonal matrix. Returns x (samples, D) and the source axes (D, D),
    one row per source: the directions in data space along which the sources vary."""
    checks.choice("case", case, CASES)
    rng = np.random.default_rng([seed, CASES.index(case)])
    dim = len(spectrum)
    mixing = ortho_group.rvs(dim, random_state=rng)
    if case.startswith("laplace"):
        sources = rng.laplace(scale=1 / math.sqrt(2), size=(samples, dim))
    else:
        sources = rng.standard_normal((samples, dim))
    return (sources * np.sqrt(spectrum)) @ mixing.T, mixing.T


def _spectrum(config: Config, case: str) -> tuple[float, ...]:
    return config.spectrum if case == "gaussian" else config.paired_spectrum


def _trace_point(model, x, pca_axes, source_axes) -> tuple[list[float], list[float], list[float]]:
    """Per model: smallest matched |cos| to the PCA axes and to the source axes; Gaussian TC of z."""
    directions = model.decoder.layers[0].weight.detach().double().cpu().numpy()
    with torch.no_grad():
        z = model.encoder(x).double().cpu().numpy()
    pca = [float(alignment.match_axes(d, p).cosines.min()) for d, p in zip(directions, pca_axes)]
    source = [float(alignment.match_axes(d, s).cosines.min()) for d, s in zip(directions, source_axes)]
    tc = [alignment.gaussian_total_correlation(np.cov(zm.T)) for zm in z]
    return pca, source, tc


def _entropy_sweep(x: np.ndarray, axes: np.ndarray, scale: float) -> np.ndarray:
    """Summed unit-bin entropies of the two latent coordinates along axes 0 and 1 turned by each
    of SWEEP_ANGLES inside their plane (latent units: projections times sqrt(2 λ2 σ²))."""
    centred = (x - x.mean(axis=0)) @ axes[:2].T * math.sqrt(scale)
    sweep = []
    for angle in np.radians(SWEEP_ANGLES):
        c, s = math.cos(angle), math.sin(angle)
        turned = centred @ np.array([[c, -s], [s, c]])
        sweep.append(sum(alignment.marginal_entropy(turned[:, j]) for j in range(2)))
    return np.array(sweep)


def run(config: Config, device: torch.device, checkpoint_dir: Path | None = None) -> dict:
    """Train the stack, then measure axes, variances, rates and entropies per model. With
    `checkpoint_dir`, a stopped run resumes there (each phase's checkpoint and the trace so far)."""
    with one_cpu_thread(device):
        if checkpoint_dir is not None:
            return _run(config, device, Path(checkpoint_dir))
        with tempfile.TemporaryDirectory() as folder:  # the phases still train as one run each
            return _run(config, device, Path(folder))


def _train(config: Config, data: torch.Tensor, rows: list[np.ndarray], seeds: list[int], labels: list[str],
           measure: Callable[[FactorizedAutoencoder], tuple], folder: Path
           ) -> tuple[FactorizedAutoencoder, list, list, list]:
    """Both phases; `measure(model)` runs every `trace_every` steps. Returns the model, the loss
    log (steps, per-model losses) and the trace: (step, measured) per measurement."""
    phases = [(config.lambda1_rotate, config.learning_rate_rotate, config.steps_rotate),
              (config.lambda1, config.learning_rate_settle, config.steps_settle)]
    loss_steps, losses, trace, state, done = [], [], [], None, 0
    for index, (lambda1, learning_rate, steps) in enumerate(phases):
        model = FactorizedAutoencoder(
            (data.shape[-1],) * 2, [Coefficients.radogaga(lambda1, config.lambda2)] * len(seeds), seeds,
            activation="identity", reduction="sum", labels=labels,
            noise_scale=[config.noise_scale] * len(seeds)).to(data.device)
        if state is not None:
            model.load_state_dict(state)
        settings = TrainSettings(steps=config.trace_every, batch_size=config.batch_size,
                                 learning_rate=learning_rate, check_every=max(1, config.trace_every // 10),
                                 progress=False)
        stops = range(config.trace_every, steps + 1, config.trace_every)
        log, measured = train_in_segments(model, data, rows, seeds, settings, stops, lambda stop: measure(model),
                                          checkpoint=folder / f"phase-{index}.pt")
        trace += [(done + stop, values) for stop, values in zip(stops, measured)]
        loss_steps += [done + step for step in log.steps]
        losses += log.losses
        state, done = model.state_dict(), done + steps
    return model, loss_steps, losses, trace


def _run(config: Config, device: torch.device, folder: Path) -> dict:
    models = [(case, seed) for case in CASES for seed in config.seeds]
    dim, n = len(config.spectrum), config.samples
    drawn = [make_data(case, _spectrum(config, case), n, seed) for case, seed in models]
    xs = np.stack([x for x, _ in drawn])
    source_axes = np.stack([axes for _, axes in drawn])
    pcas = [PCA(n_components=dim).fit(x) for x in xs]
    pca_axes = np.stack([p.components_ for p in pcas])
    data = torch.tensor(xs.reshape(-1, dim), dtype=torch.float32, device=device)
    stacked = data.view(len(models), n, dim)

    model, loss_steps, losses, measured = _train(
        config, data, [np.arange(m * n, (m + 1) * n) for m in range(len(models))],
        [1_000 * CASES.index(case) + seed for case, seed in models],
        [f"{case}, seed {seed}" for case, seed in models],
        lambda model: _trace_point(model, stacked, pca_axes, source_axes), folder)
    trace = {"steps": [step for step, _ in measured]}
    for position, key in enumerate(("pca", "source", "tc")):
        trace[key] = [values[position] for _, values in measured]

    scale = latent_scale(config)
    directions = model.decoder.layers[0].weight.detach().double().cpu().numpy()
    encoder = model.encoder.layers[0].weight.detach().double().cpu().numpy()
    with torch.no_grad():
        z = model.encoder(stacked)
        noise = torch.rand(z.shape, generator=torch.Generator().manual_seed(0)).to(device) - 0.5
        rate = -model.prior.log_likelihood(z + noise).mean(-1)
        reconstruction = (model.decoder(z) - stacked).square().sum(-1).mean(-1)
    z = z.double().cpu().numpy()
    matches = [alignment.match_axes(d, s) for d, s in zip(directions, source_axes)]
    plane_rng = np.random.default_rng(0)
    plane = [((x - x.mean(axis=0)) @ axes[:2].T)[plane_rng.choice(n, PLANE_POINTS, replace=False)]
             for x, axes in zip(xs, source_axes)]
    return {
        "cases": [case for case, _ in models],
        "seeds": [seed for _, seed in models],
        "latent_scale": scale,
        "loss_steps": np.array(loss_steps),
        "loss": np.array(losses),
        "trace_steps": np.array(trace["steps"]),
        "trace_pca_cos": np.array(trace["pca"]),
        "trace_source_cos": np.array(trace["source"]),
        "trace_tc": np.array(trace["tc"]),
        "source_axes": source_axes,
        "pca_variance": np.stack([p.explained_variance_ for p in pcas]),
        "pca_axes": pca_axes,
        "data_tc": np.array([alignment.gaussian_total_correlation(np.cov(x.T)) for x in xs]),
        "directions": directions,
        "column_sq_norm": (directions**2).sum(-1),
        "encoder_log_det": np.array([np.linalg.slogdet(e)[1] for e in encoder]),
        "latent_covariance": np.stack([np.cov(zm.T) for zm in z]),
        "rate": rate.cpu().numpy(),
        "reconstruction": reconstruction.cpu().numpy(),
        "sweep_angles": SWEEP_ANGLES,
        "sweep_entropy": np.stack([_entropy_sweep(x, axes, scale) for x, axes in zip(xs, source_axes)]),
        "model_angles": np.array([[alignment.plane_angle(directions[m][np.flatnonzero(match.order == j)[0]],
                                                         *source_axes[m][:2]) for j in range(2)]
                                  for m, match in enumerate(matches)]),
        "plane_points": np.stack(plane),
    }


# ---------------------------------------------------------------- verdicts

RULE_MIN_STD_BINS = 1.5  # the claim's domain for the variances: predicted latent std of at least 1.5 bins

RULES = {
    "appendix-b-pca": verdicts.Rule(
        key="appendix-b-pca", experiment=NAME,
        claim="With a factorized prior at the isometric optimum, the latent axes are the PCA axes and the latent "
              "variances are the PCA variances times 2λ2σ², so the energy concentrates as in PCA (continuous PCA, "
              "Appendix B).",
        text="Evidence: the paper profile (5 seeds, 100,000 points per data set, 20,000 + 10,000 steps) of linear "
             "models on the Gaussian data (six sources of variances 16, 8, 4, 2, 1, 0.5, randomly rotated; "
             "k = 2λ2σ² = 5/3). Per seed: (a) axes: the smallest |cos| between a latent axis (decoder column) and "
             "its PCA axis, matched by the Hungarian assignment, over all axes; (b) variances: the largest "
             "|var(z_i) / (k γ_i) − 1|, latent and PCA variances γ_i paired by rank, over the components whose "
             "predicted latent std √(k γ_i) is at least 1.5 bins (the claim's domain: noise small against the "
             "spread). The paper's formula is judged, not the chapter's refined one; components below 1.5 bins are "
             "shown as the known limit (the bin adds about 1/12 to their variance) and not judged; (c) energy: the "
             "largest gap between the cumulative variance shares of the latents and of PCA; (d) the total "
             "correlation of the latents (Gaussian formula on their covariance). Each holds when the 95 % t-interval "
             "over seeds lies: (a) above cos 10° = 0.985; (b) below 0.10 (in the domain the bin adds at most "
             "1/12 ÷ 2.25 = 3.7 %); (c) below 0.05 (what a ±10 % spread of the variances can move a cumulative "
             "share); (d) below 0.01 nats (a 10° turn between two PCA axes of variance ratio 2 costs 0.007). "
             "Reproduced: all four hold; partly reproduced: (a) or (b) holds; not reproduced otherwise.",
        # an axis within 10° of its reference; the largest variance miss; the cumulative-share gap; total correlation
        thresholds={"axis_degrees": 10.0, "variance_miss": 0.10, "share_gap": 0.05, "max_total_correlation": 0.01},
        constants={"min_std_bins": RULE_MIN_STD_BINS}),
    "appendix-b-ica": verdicts.Rule(
        key="appendix-b-ica", experiment=NAME,
        claim="For independent non-Gaussian sources mixed by a rotation, the same cost turns the latent axes to the "
              "source axes (the independent components), also where PCA leaves them undetermined (this book's "
              "consequence of Appendix B's argument; the paper states no such result).",
        text="Evidence: the paper profile (as for the continuous-PCA rule) on the Laplace-pairs data: six "
             "independent Laplace sources with variances in equal pairs (16, 16, 4, 4, 1, 1), randomly rotated, so "
             "the sample PCA axes are an arbitrary turn of the source axes inside each pair. Per seed, over all six "
             "axes (the weakest pair included): (a) the smallest |cos| between a latent axis and its matched source "
             "axis; (b) the same against the sample PCA axes of the data. Holds: (a) when the 95 % t-interval over "
             "seeds lies above cos 10° = 0.985; (b) when the interval of the paired per-seed difference "
             "(a) − (b) lies above 0 (the axes follow the sources, not the sample PCA). Reproduced: both hold; "
             "partly reproduced: one holds; not reproduced otherwise. The Gaussian-pairs data, for which the "
             "theory predicts no preferred axes in a pair, are a control shown in the chapter and not judged.",
        thresholds={"axis_degrees": 10.0}, source="book"),
}


def _rule_models(payload: dict, case: str) -> list[int]:
    """Indices of the models of `case`, in seed order."""
    return sorted((m for m, c in enumerate(payload["cases"]) if c == case), key=lambda m: payload["seeds"][m])


def _rule_worst_cos(payload: dict, m: int, reference: str) -> float:
    return float(alignment.match_axes(np.asarray(payload["directions"][m]),
                                      np.asarray(payload[reference][m])).cosines.min())


def _rule_variances(payload: dict, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Model m's latent variance over k × PCA variance, paired by rank, and whether each component is in
    the claim's domain (predicted latent std at least RULE_MIN_STD_BINS)."""
    k = float(payload["latent_scale"])
    latent = np.sort(np.diag(np.asarray(payload["latent_covariance"][m])))[::-1]
    pca = np.sort(np.asarray(payload["pca_variance"][m], dtype=float))[::-1]
    return latent / (k * pca), np.sqrt(k * pca) >= RULE_MIN_STD_BINS


def _axis_cos(rule: verdicts.Rule, factor: float) -> float:
    """The |cos| an axis must exceed: that of the rule's angle (times `factor`)."""
    return math.cos(math.radians(rule.threshold("axis_degrees", factor)))


def _rule_pca(payload: dict, scale: verdicts.Scale, factor: float) -> verdicts.Verdict:
    rule = RULES["appendix-b-pca"]
    axis_cos, degrees = _axis_cos(rule, factor), rule.threshold("axis_degrees", factor)
    miss, gap_max, tc_max = (rule.threshold(name, factor) for name in ("variance_miss", "share_gap",
                                                                        "max_total_correlation"))
    models = _rule_models(payload, "gaussian")
    axes = verdicts.mean_interval(_rule_worst_cos(payload, m, "pca_axes") for m in models)
    ratios = [_rule_variances(payload, m) for m in models]
    domain = ratios[0][1]
    inside = [np.abs(r[d] - 1).max() if d.any() else math.inf for r, d in ratios]
    outside = [np.abs(r[~d] - 1).max() for r, d in ratios if (~d).any()]
    shares = [np.abs(alignment.cumulative_share(np.diag(payload["latent_covariance"][m]))
                     - alignment.cumulative_share(payload["pca_variance"][m])).max() for m in models]
    tc = verdicts.mean_interval(alignment.gaussian_total_correlation(payload["latent_covariance"][m])
                                for m in models)
    share = verdicts.mean_interval(shares)
    rule_checks = [verdicts.Check("(a) axes: smallest matched |cos| to the PCA axes", axes.text(4, signed=False),
                             f"interval above {axis_cos:.3f} ({degrees:g}°)", axes.above(axis_cos))]
    if all(math.isfinite(v) for v in inside):
        variance = verdicts.mean_interval(inside)
        rule_checks.append(verdicts.Check(
            f"(b) variances: largest |var(z) / (2λ2σ² γ) − 1|, {int(domain.sum())} components ≥ "
            f"{RULE_MIN_STD_BINS} bins", variance.text(3, signed=False), f"interval below {miss:g}",
            variance.below(miss)))
        variances_hold = variance.below(miss)
    else:
        rule_checks.append(verdicts.Check("(b) variances", f"no component with a latent std of {RULE_MIN_STD_BINS} "
                                     "bins or more", f"interval below {miss:g}", False))
        variances_hold = False
    rule_checks += [verdicts.Check("(c) energy: largest gap of the cumulative share to PCA's",
                              share.text(4, signed=False), f"interval below {gap_max:g}",
                              share.below(gap_max)),
               verdicts.Check("(d) total correlation of the latents (nats)", tc.text(4, signed=False),
                              f"interval below {tc_max:g}", tc.below(tc_max))]
    if outside:
        limit = verdicts.mean_interval(outside)
        rule_checks.append(verdicts.Check(
            f"known limit, not judged: the same miss on the {int((~domain).sum())} components below "
            f"{RULE_MIN_STD_BINS} bins", limit.text(3, signed=False),
            f"not judged (the bin adds ≈ 1/12); holds: interval below {miss:g}",
            limit.below(miss)))
    full = all(c.holds for c in rule_checks[:4])
    summary = (f"on Gaussian data the smallest matched |cos| to the PCA axes is {axes.mean:.4f} (mean over "
               f"{axes.n} seeds); latent variances miss 2λ2σ² × PCA variance by at most "
               f"{100 * max(inside):.1f} % on components of latent std ≥ {RULE_MIN_STD_BINS} bins"
               + (f" ({100 * max(outside):.1f} % below)" if outside else "")
               + f"; cumulative share within {max(shares):.4f} of PCA's; latent total correlation "
               f"{tc.mean:.1e} nats")
    return verdicts.decide(rule, rule_checks, verdicts.outcome(full, rule_checks[0].holds or variances_hold), scale, summary)


def _rule_ica(payload: dict, scale: verdicts.Scale, factor: float) -> verdicts.Verdict:
    rule = RULES["appendix-b-ica"]
    axis_cos, degrees = _axis_cos(rule, factor), rule.threshold("axis_degrees", factor)
    models = _rule_models(payload, "laplace_pairs")
    source = [_rule_worst_cos(payload, m, "source_axes") for m in models]
    pca = [_rule_worst_cos(payload, m, "pca_axes") for m in models]
    on_source = verdicts.mean_interval(source)
    gap = verdicts.paired_interval(source, pca)
    rule_checks = [verdicts.Check("(a) smallest matched |cos| to the source axes", on_source.text(4, signed=False),
                             f"interval above {axis_cos:.3f} ({degrees:g}°)", on_source.above(axis_cos)),
              verdicts.Check("(b) |cos| to source axes − |cos| to sample PCA axes (paired)", gap.text(4),
                             "interval above 0", gap.above())]
    summary = (f"on Laplace pairs the smallest matched |cos| is {on_source.mean:.4f} to the source axes and "
               f"{np.mean(pca):.4f} to the sample PCA axes (mean over {on_source.n} seeds)")
    return verdicts.decide(rule, rule_checks, verdicts.outcome(all(c.holds for c in rule_checks),
                                                          any(c.holds for c in rule_checks)), scale, summary)


def verdict(payload: dict, scale: verdicts.Scale, key: str = "appendix-b-pca", factor: float = 1.0) -> verdicts.Verdict:
    """Rule `key` ("appendix-b-pca": continuous PCA on Gaussian data; "appendix-b-ica": source axes on
    Laplace pairs) on a result's payload, at `factor` times its thresholds."""
    checks.choice("key", key, tuple(RULES))
    return (_rule_pca if key == "appendix-b-pca" else _rule_ica)(payload, scale, factor)
