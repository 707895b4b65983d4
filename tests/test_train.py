"""The stacked trainer: stacked equals one by one, resumes a killed run exactly,
is deterministic, and stops on a non-finite loss naming the model and step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radogaga.infra.checks import NonFiniteError
from radogaga.train import TrainSettings, train


class StackedRegression(torch.nn.Module):
    """A tiny stacked objective: per-model noisy linear regression with dropout."""

    def __init__(self, seeds, dim=5, fail_model=None, fail_after=None):
        super().__init__()
        weights = [torch.randn(dim, 1, generator=torch.Generator().manual_seed(s)) for s in seeds]
        self.weight = torch.nn.Parameter(torch.stack(weights))
        self.labels = [f"seed {s}" for s in seeds]
        self.fail_model, self.fail_after, self.calls = fail_model, fail_after, 0

    def loss(self, batch, randomness):
        self.calls += 1
        x, y = batch[..., :-1], batch[..., -1:]
        x = x * randomness.keep_mask(x.shape[1:], drop=0.2) / 0.8
        prediction = torch.bmm(x, self.weight) + 0.1 * randomness.normal(y.shape[1:])
        loss = ((prediction - y) ** 2).mean(dim=(1, 2))
        if self.fail_model is not None and self.calls > self.fail_after:
            loss = torch.where(torch.arange(len(loss)) == self.fail_model, torch.nan, loss)
        return loss


def regression_data(n=300, dim=5):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, dim))
    y = x @ rng.standard_normal(dim) + 0.1 * rng.standard_normal(n)
    return torch.tensor(np.c_[x, y], dtype=torch.float32)


SEEDS = [3, 11, 42]
ROWS = [np.arange(0, 200), np.arange(100, 300), np.arange(0, 300, 2)]
SETTINGS = TrainSettings(steps=60, batch_size=16, learning_rate=1e-2, check_every=10, progress=False)


def test_stacked_equals_one_by_one():
    data = regression_data()
    stacked = StackedRegression(SEEDS)
    train(stacked, data, ROWS, SEEDS, SETTINGS)
    for m, seed in enumerate(SEEDS):
        single = StackedRegression([seed])
        train(single, data, [ROWS[m]], [seed], SETTINGS)
        # Same seed, same batches, same noise: equal to float32 round-off (1e-6).
        torch.testing.assert_close(stacked.weight[m], single.weight[0], rtol=0, atol=1e-6)


def test_deterministic_for_a_seed():
    data = regression_data()
    a, b = StackedRegression(SEEDS), StackedRegression(SEEDS)
    x, y = data[:, :-1], data[:, -1:]
    before = ((x @ a.weight - y) ** 2).mean(dim=(1, 2))
    log_a = train(a, data, ROWS, SEEDS, SETTINGS)
    log_b = train(b, data, ROWS, SEEDS, SETTINGS)
    assert torch.equal(a.weight, b.weight) and log_a.losses == log_b.losses
    assert log_a.steps == list(range(10, 61, 10))
    after = ((x @ a.weight - y) ** 2).mean(dim=(1, 2))
    # Every model learns: full-data error falls by at least 40 % (measured 49-70 % in 60 steps).
    assert (after < 0.6 * before).all()


def test_killed_run_resumes_to_the_same_result(tmp_path):
    data = regression_data()
    settings = TrainSettings(steps=60, batch_size=16, learning_rate=1e-2, check_every=10,
                             checkpoint_every=20, progress=False)
    uninterrupted = StackedRegression(SEEDS)
    train(uninterrupted, data, ROWS, SEEDS, settings)

    class Killed(Exception):
        pass

    victim = StackedRegression(SEEDS)
    original = victim.loss

    def dies_at_step_47(batch, randomness):
        if victim.calls == 46:
            raise Killed
        return original(batch, randomness)

    victim.loss = dies_at_step_47
    checkpoint = tmp_path / "run.pt"
    with pytest.raises(Killed):
        train(victim, data, ROWS, SEEDS, settings, checkpoint=checkpoint)
    assert checkpoint.exists() and not list(tmp_path.glob(".*.tmp"))
    resumed = StackedRegression(SEEDS)  # a new process: fresh objects, same arguments
    log = train(resumed, data, ROWS, SEEDS, settings, checkpoint=checkpoint)
    assert log.resumed_from == 40
    torch.testing.assert_close(resumed.weight, uninterrupted.weight, rtol=0, atol=0)


def test_checkpoint_of_another_run_is_refused(tmp_path):
    data = regression_data()
    settings = TrainSettings(steps=20, batch_size=16, checkpoint_every=10, progress=False)
    train(StackedRegression(SEEDS), data, ROWS, SEEDS, settings, checkpoint=tmp_path / "c.pt")
    other = TrainSettings(steps=20, batch_size=8, checkpoint_every=10, progress=False)
    with pytest.raises(ValueError, match="another run"):
        train(StackedRegression(SEEDS), data, ROWS, SEEDS, other, checkpoint=tmp_path / "c.pt")


def test_non_finite_loss_names_model_seed_and_step():
    data = regression_data()
    objective = StackedRegression(SEEDS, fail_model=1, fail_after=23)
    with pytest.raises(NonFiniteError, match=r"(?s)model 1.*seed 11.*step 30"):
        train(objective, data, ROWS, SEEDS, SETTINGS)


@pytest.mark.parametrize("bad, message", [
    (dict(steps=0, batch_size=4), "steps"),
    (dict(steps=5, batch_size=4, cuda_graph="maybe"), "cuda_graph"),
    (dict(steps=5, batch_size=4, learning_rate=-1.0), "learning_rate"),
])
def test_bad_settings(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainSettings(**bad)


def test_mismatched_seeds_and_rows():
    with pytest.raises(ValueError, match="one of each per model"):
        train(StackedRegression(SEEDS), regression_data(), ROWS[:2], SEEDS, SETTINGS)


def test_graph_on_without_cuda_is_refused():
    with pytest.raises(ValueError, match="needs a CUDA device"):
        train(StackedRegression(SEEDS), regression_data(), ROWS, SEEDS,
              TrainSettings(steps=5, batch_size=4, cuda_graph="on", progress=False))


def test_cosine_schedule_warms_up_then_falls_to_its_floor():
    settings = TrainSettings(steps=101, batch_size=4, learning_rate=1e-3, lr_schedule="cosine", warmup_steps=10,
                             lr_floor=0.1, progress=False)
    rates = [settings.learning_rate_at(step) for step in range(101)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)  # linear warm-up
    assert rates[10] == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-4)  # cosine down to the floor
    assert all(a >= b for a, b in zip(rates[10:], rates[11:]))
    assert TrainSettings(steps=5, batch_size=1).learning_rate_at(3) == 1e-4  # constant: Adam untouched
    with pytest.raises(ValueError, match="apply to lr_schedule"):
        TrainSettings(steps=5, batch_size=1, warmup_steps=2)


def test_cosine_schedule_holds_its_floor_for_the_last_steps():
    held = TrainSettings(steps=131, batch_size=4, learning_rate=1e-3, lr_schedule="cosine", warmup_steps=10,
                         lr_floor=0.1, lr_hold_steps=30, progress=False)
    plain = TrainSettings(steps=101, batch_size=4, learning_rate=1e-3, lr_schedule="cosine", warmup_steps=10,
                          lr_floor=0.1, progress=False)
    # The first 101 steps follow the schedule without a hold; the last 30 stay at the floor.
    assert [held.learning_rate_at(s) for s in range(101)] == pytest.approx([plain.learning_rate_at(s) for s in range(101)])
    assert [held.learning_rate_at(s) for s in range(100, 131)] == pytest.approx([1e-4] * 31)
    with pytest.raises(ValueError, match="sum below steps"):
        TrainSettings(steps=40, batch_size=1, lr_schedule="cosine", warmup_steps=10, lr_hold_steps=30)
    with pytest.raises(ValueError, match="apply to lr_schedule"):
        TrainSettings(steps=40, batch_size=1, lr_hold_steps=3)
