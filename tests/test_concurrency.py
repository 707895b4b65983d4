"""What lets runs train at once and fast on a GPU, checked on the CPU: a run's draws and
batches depend on its seeds alone (static draws refilled outside a captured step equal the
eager draws; batches drawn on the device walk every row once an epoch), the compiled loss
trains like the plain one, runs set up one at a time, and parts trained at once in threads
give the results of parts trained one after another."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
import torch

from radogaga import experiments, train as trainer
from radogaga.infra.batches import DeviceBatches
from radogaga.infra.randomness import Randomness
from radogaga.models.density import Architecture, DensityAutoencoder
from radogaga.objectives import Coefficients
from radogaga.train import TrainingStopped, TrainSettings, train


def test_static_draws_refilled_before_a_replay_equal_the_eager_draws():
    eager, static = Randomness([5, 6], torch.device("cpu"), "shared"), Randomness([5, 6], torch.device("cpu"), "shared")
    for randomness in (eager, static):  # a first (warm-up) step, eager in both
        randomness.begin_step()
        randomness.normal((4, 3))
        randomness.keep_mask((4, 2), 0.5)
    static.make_static()
    for _ in range(3):  # each later step: the static one refills its buffers, then the step reads them
        eager.begin_step()
        expected = (eager.normal((4, 3)), eager.keep_mask((4, 2), 0.5))
        static.refill()
        static.begin_step()
        got = (static.normal((4, 3)), static.keep_mask((4, 2), 0.5))
        for a, b in zip(expected, got):
            assert torch.equal(a, b)
    with pytest.raises(RuntimeError, match="did not ask for"):
        static.begin_step()
        static.normal((5, 3))


def test_device_batches_cover_every_row_once_an_epoch_and_depend_on_their_seed_alone():
    rows = [np.arange(10, 40), np.arange(0, 7)]
    together = DeviceBatches(rows, 8, [3, 4], torch.device("cpu"))
    alone = DeviceBatches(rows[:1], 8, [3], torch.device("cpu"))
    first = together.next(15)  # 120 rows a model: 4 epochs of model 0, 17 of model 1 and a part
    assert first.shape == (15, 2, 8)
    assert torch.equal(first[:, 0], alone.next(15)[:, 0])
    model0 = first[:, 0].flatten()
    for epoch in range(4):
        assert sorted(model0[30 * epoch:30 * (epoch + 1)].tolist()) == list(range(10, 40))
    assert set(first[:, 1].flatten().tolist()) == set(range(7))
    saved = together.state()
    expected = together.next(5)
    resumed = DeviceBatches(rows, 8, [3, 4], torch.device("cpu"))
    resumed.restore(saved)
    assert torch.equal(resumed.next(5), expected)


ARCHITECTURE = Architecture(input_dim=10, encoder=(8, 4, 2), estimation_hidden=6, components=2, jitter=1e-4)
COSTS = [Coefficients.dagmm(), Coefficients.radogaga(10.0, 0.1), Coefficients.radogaga(1.0, 0.1, h="log")]
DATA = torch.rand(300, 10, generator=torch.Generator().manual_seed(0))
ROWS = [np.arange(0, 200), np.arange(100, 300), np.arange(0, 300, 2)]


def trained(compile: str, steps: int = 40) -> tuple[DensityAutoencoder, trainer.TrainLog]:
    model = DensityAutoencoder(ARCHITECTURE, COSTS, [0.0, 0.05, 0.05], [0, 1, 2])
    log = train(model, DATA, ROWS, [0, 1, 2], TrainSettings(steps=steps, batch_size=32, learning_rate=1e-3,
                                                             check_every=1, compile=compile, progress=False))
    return model, log


def test_compiled_loss_trains_like_the_plain_one():
    plain, plain_log = trained("off")
    compiled, compiled_log = trained("on")
    assert compiled_log.compiled and not plain_log.compiled
    # The same draws and batches; only the compiler's fused arithmetic differs: every step's losses agree to
    # 1e-4 relative (measured 2e-5 here, 8e-5 on an H200 over 200 steps) and the parameters to 1e-2 absolute
    # (Adam turns a round-off in a near-zero gradient into a step of up to the learning rate, 1e-3).
    torch.testing.assert_close(torch.tensor(compiled_log.losses), torch.tensor(plain_log.losses), rtol=1e-4, atol=1e-5)
    for a, b in zip(compiled.parameters(), plain.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-2)


def test_a_compiler_failure_falls_back_to_the_plain_loss_with_a_warning(monkeypatch):
    plain, plain_log = trained("off", steps=10)

    def broken(function, **options):
        def fails(*args):
            raise RuntimeError("no compiler here")
        return fails

    monkeypatch.setattr(torch, "compile", broken)
    with pytest.warns(UserWarning, match="compile of the loss failed.*no compiler here"):
        fallen, log = trained("on", steps=10)
    assert not log.compiled and log.losses == plain_log.losses  # the same random state: the plain run exactly
    assert all(torch.equal(a, b) for a, b in zip(fallen.parameters(), plain.parameters()))


def test_compile_on_needs_an_objective_that_splits_its_loss():
    class Whole(torch.nn.Module):
        labels = ["one"]

        def loss(self, x, randomness):
            return x.sum(dim=(1, 2))

    with pytest.raises(ValueError, match="random_draws and loss_given"):
        train(Whole(), DATA, ROWS[:1], [0], TrainSettings(steps=2, batch_size=4, compile="on", progress=False))


def test_a_stop_request_ends_training_at_the_next_chunk():
    trainer.request_stop()
    try:
        with pytest.raises(TrainingStopped, match="stopped at step 0 of 40"):
            trained("off")
    finally:
        trainer.request_stop(False)


def test_runs_set_up_one_at_a_time():
    """Two compiling runs in threads: the second waits until the first has set up."""
    before = trainer.setups_done()
    inside = []
    original = trainer._first_compiled_step

    def recorded(*args):
        inside.append(("start", threading.get_ident()))
        result = original(*args)
        inside.append(("end", threading.get_ident()))
        return result

    trainer._first_compiled_step = recorded
    try:
        threads = [threading.Thread(target=trained, args=("on", 5)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        trainer._first_compiled_step = original
    assert [kind for kind, _ in inside] == ["start", "end", "start", "end"]
    assert inside[0][1] == inside[1][1] and inside[2][1] == inside[3][1]
    assert trainer.setups_done() == before + 2


def test_parts_at_once_equal_parts_one_after_another(data_root, tmp_path):
    config = experiments.config_for("anomaly", "quick", datasets=["thyroid", "arrhythmia"], seeds=[0], steps=30,
                                    baselines=["PCA"])
    parts = experiments.parts("anomaly", config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        at_once = {r.key: r for r in experiments.run_parts_at_once("anomaly", parts, "cpu", tmp_path / "a")}
        one_by_one = {r.key: r for r in (experiments.run_config("anomaly", p, "cpu", tmp_path / "b") for p in parts)}
    assert at_once.keys() == one_by_one.keys() and len(at_once) == 2
    for key, result in at_once.items():
        ours = [m["auroc"] for m in result.payload["models"]]
        theirs = [m["auroc"] for m in one_by_one[key].payload["models"]]
        # Each part has its own generators: the same numbers up to the thread count of float reductions.
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_a_failed_part_does_not_stop_the_others(data_root, tmp_path, monkeypatch):
    config = experiments.config_for("anomaly", "quick", datasets=["thyroid", "arrhythmia"], seeds=[0], steps=20,
                                    baselines=["PCA"])
    original = experiments.run_config

    def fails_on_thyroid(name, part, *args, **kwargs):
        if part.datasets == ("thyroid",):
            raise ValueError("thyroid broke")
        return original(name, part, *args, **kwargs)

    monkeypatch.setattr(experiments, "run_config", fails_on_thyroid)
    done = []
    with pytest.raises(ValueError, match="thyroid broke"):
        for result in experiments.run_parts_at_once("anomaly", experiments.parts("anomaly", config), "cpu", tmp_path):
            done.append(result.payload["dataset"])
    assert done == ["arrhythmia"]
