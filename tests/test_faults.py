"""Faults end in one line and lose nothing: Ctrl-C, a full disk, edited or unsealed results,
non-finite results, diverging estimators, out-of-range sizes, unwritable folders, temp files
of a killed write, workers of a killed run, unknown commits. (A budget stop on a GPU machine
is tests/test_handback.py.)"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from radogaga import cli, experiments, migrations, revalidate
from radogaga.estimators import DAGMMDetector, RaDOGAGADetector, TrainingDiverged
from radogaga.experiments import toy_sensitivity
from radogaga.infra import checkpoints
from radogaga.store import fingerprint, results

ROOT = Path(__file__).resolve().parents[1]
TINY_TOY = {"seeds": [0], "steps": 60, "figure_points": 200, "jacobian_points": 100}
ROWS = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)


def _quick_config(name: str) -> dict:
    return dataclasses.asdict(experiments.get(name).PROFILES["quick"])


def _command(*args: str, cache: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "radogaga", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "RADOGAGA_CACHE": str(cache), "RADOGAGA_CHECKPOINT_EVERY": "20"})


# --- Ctrl-C and wall time -------------------------------------------------------------------

def test_ctrl_c_ends_in_one_line_with_exit_130_and_the_same_command_resumes_summing_its_legs(data_root, tmp_path):
    args = ("run", "toy", "--out", str(tmp_path / "out"), *[item for key, value in {**TINY_TOY, "steps": 300}.items()
                                                           for item in ("--set", f"{key}={json.dumps(value)}")])
    first = _command(*args, cache=tmp_path / "cache")  # saving every 20 steps (RADOGAGA_CHECKPOINT_EVERY)
    folder = tmp_path / "cache" / "checkpoints" / "toy"
    deadline = time.monotonic() + 300
    while first.poll() is None and not list(folder.glob("*/train.pt")) and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 130, stderr
    assert stderr.strip().count("\n") == 0 and "Traceback" not in stderr
    assert "interrupted (SIGINT) at step" in stderr and "the same command resumes" in stderr
    second = _command(*args, cache=tmp_path / "cache")
    _, stderr = second.communicate(timeout=300)
    assert second.returncode == 0, stderr
    (stored,) = results.find("toy", root=tmp_path / "out")
    legs = stored.provenance["wall_time_legs_s"]
    assert len(legs) == 2 and all(leg > 0 for leg in legs)
    assert stored.provenance["wall_time_s"] == pytest.approx(sum(legs), rel=1e-12)


# --- a full disk --------------------------------------------------------------------------

def test_a_full_disk_at_checkpoint_time_skips_the_checkpoint_and_the_run_goes_on(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path / "cache"))
    reference = experiments.run_experiment("toy", root=tmp_path / "a", **TINY_TOY)
    monkeypatch.setattr(checkpoints.torch, "save", full)
    with pytest.warns(UserWarning, match="not saved .*No space left on device.*training goes on"):
        again = experiments.run_experiment("toy", root=tmp_path / "b", recompute=True, **TINY_TOY)
    assert revalidate._same(again.payload, reference.payload)


def test_a_full_disk_at_the_final_write_is_one_line_naming_the_path(tmp_path, capsys, monkeypatch):
    def full(path, document):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(results, "write_document", full)
    status = cli.main(["run", "toy", "--out", str(tmp_path), *[item for key, value in TINY_TOY.items()
                                                               for item in ("--set", f"{key}={json.dumps(value)}")]])
    message = capsys.readouterr().err
    assert status == 2 and message.count("\n") == 1
    assert "No space left on device" in message and str(tmp_path / "toy") in message


# --- sealed results -------------------------------------------------------------------------

def _stored(tmp_path: Path) -> Path:
    return results.save("toy", {"a": 1}, {"slope": 0.9, "curve": np.arange(3.0)}, device="cpu", wall_time_s=1.0,
                        root=tmp_path)


def test_an_edited_payload_number_is_refused_naming_the_file(tmp_path):
    path = _stored(tmp_path)
    assert results.read(path).payload["slope"] == 0.9
    path.write_text(path.read_text().replace("0.9", "0.95"))
    with pytest.raises(results.ResultsError, match=f"{path.name}.*changed after it was stored"):
        results.load("toy", {"a": 1}, root=tmp_path)


def test_revalidate_refuses_to_certify_an_edited_file(tmp_path):
    config = _quick_config("data_summary")
    path = results.save("data_summary", config, {"n": 1.0}, device="cpu", wall_time_s=1.0, root=tmp_path,
                        code={"fingerprint": "0", "modules": {"gone": "0"}, "algorithm": fingerprint.ALGORITHM})
    path.write_text(path.read_text().replace('"n": 1.0', '"n": 2.0'))
    (line,) = revalidate.revalidate("data_summary", tmp_path)
    assert "not certified" in line and "changed after it was stored" in line
    assert "code_equivalence" not in path.read_text()


def test_revalidate_says_why_it_cannot_check_an_unknown_commit_or_a_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RADOGAGA_GIT_COMMIT", "unknown")  # stored by code outside any checkout
    config = _quick_config("data_summary")
    results.save("data_summary", config, {"n": 1.0}, device="cpu", wall_time_s=1.0, root=tmp_path,
                 code={"fingerprint": "0", "modules": {"gone": "0"}, "algorithm": fingerprint.ALGORITHM})
    (tmp_path / "data_summary" / "0000000000000000.json").mkdir()
    lines = revalidate.revalidate("data_summary", tmp_path)
    assert any("0000000000000000.json: not certified" in line and "is a folder" in line for line in lines)
    assert any("not checked: its commit" in line and "history" in line for line in lines), lines


def test_unsealed_results_are_refused_until_migrated_and_the_migration_keeps_them_reachable(tmp_path):
    path = _stored(tmp_path)
    document = json.loads(path.read_text())
    del document["digest"]
    path.write_text(json.dumps(document))
    with pytest.raises(results.ResultsError, match="no digest.*radogaga.migrations"):
        results.read(path)
    assert migrations.migrate(tmp_path)["sealed"] == 1
    assert results.load("toy", {"a": 1}, root=tmp_path).payload["slope"] == 0.9
    assert migrations.migrate(tmp_path)["sealed"] == 0  # safe to repeat


def test_the_migration_gives_a_capped_toy_config_the_jacobian_points_it_used(tmp_path):
    config = {**_quick_config("toy"), "jacobian_points": 2_000, "figure_points": 1_500}
    old = results.path_for("toy", config, root=tmp_path)
    old.parent.mkdir(parents=True)
    document = {"format": 1, "experiment": "toy", "config_hash": old.stem, "config": config,
                "provenance": {}, "payload": {"x": 1.0}}
    old.write_text(json.dumps(document))
    assert migrations.migrate(tmp_path)["toy jacobian_points set to the points used"] == 1
    moved = results.load("toy", {**config, "jacobian_points": 1_500}, root=tmp_path)
    assert moved.payload == {"x": 1.0} and not old.exists()
    with pytest.raises(ValueError, match="jacobian_points = 2000 .* at most figure_points = 1500"):
        experiments.config_for("toy", "quick", jacobian_points=2_000, figure_points=1_500)


# --- non-finite results and diverging estimators --------------------------------------------

def test_a_result_with_nan_is_not_stored_unless_marked_undefined_with_a_reason(tmp_path):
    with pytest.raises(results.NonFiniteResult, match=r"models\[1\]\.slope.*learning_rate"):
        results.save("toy", {"a": 1}, {"models": [{"slope": 1.0}, {"slope": float("nan")}]}, device="cpu",
                     wall_time_s=1.0, root=tmp_path)
    assert not (tmp_path / "toy").exists() or not list((tmp_path / "toy").glob("*.json"))
    marked = {"models": [{"slope": 1.0}, {"slope": float("nan")}], "undefined": {"models[1]": "collapsed"}}
    stored = results.read(results.save("toy", {"a": 1}, marked, device="cpu", wall_time_s=1.0, root=tmp_path))
    assert np.isnan(stored.payload["models"][1]["slope"])


def test_toy_sensitivity_marks_a_collapsed_model_and_its_grid_point():
    models = [{"one_minus_r2": 0.1, "setting": "10/0.1"}, {"one_minus_r2": float("nan"), "setting": "1000/0.1"}]
    assert toy_sensitivity.undefined_marks(models) == {"models[1]": toy_sensitivity.COLLAPSED,
                                                       "summary.1000/0.1": "includes a collapsed model; see "
                                                                           "defined_summary"}


def test_a_diverged_toy_run_exits_2_in_one_line_naming_the_learning_rate(tmp_path, capsys):
    status = cli.main(["run", "toy", "--out", str(tmp_path), "--set", "steps=200", "--set", "seeds=[0]",
                       "--set", "learning_rate=1", "--set", "figure_points=200", "--set", "jacobian_points=100"])
    message = capsys.readouterr().err
    assert status == 2 and "NaN or infinity" in message and "learning_rate" in message
    assert not list(tmp_path.rglob("*.json"))


@pytest.mark.parametrize("detector", [DAGMMDetector, RaDOGAGADetector])
def test_a_diverging_estimator_raises_naming_the_learning_rate(detector):
    with pytest.raises(TrainingDiverged, match=r"did not train: .*Lower learning_rate \(now 1000000.0\)"):
        detector(steps=20, learning_rate=1e6, random_state=0).fit(ROWS)


@pytest.mark.parametrize("name, value", [("steps", 1.5), ("learning_rate", float("nan")), ("batch_size", 0)])
def test_estimator_parameters_are_checked_by_their_own_name(name, value):
    with pytest.raises(ValueError, match=f"parameter '{name}'"):
        DAGMMDetector(**{name: value}).fit(ROWS)


def test_a_trained_estimator_still_fits_and_predicts():
    detector = DAGMMDetector(steps=200, random_state=0).fit(ROWS)
    assert set(np.unique(detector.predict(ROWS))) <= {-1, 1} and np.isfinite(detector.score_samples(ROWS)).all()


# --- sizes, names and folders ---------------------------------------------------------------

@pytest.mark.parametrize("overrides, message", [
    ({"seeds": [2**32]}, "a seed must be a whole number from 0 to 4294967295"),
    ({"data_seed": 2**40}, "data_seed = 1099511627776 is not valid"),
    ({"methods": ["RaDOGAGA(d)", "RaDOGAGA(d)"]}, r"RaDOGAGA\(d\) appear\(s\) twice"),
])
def test_config_sizes_and_names_are_checked_by_their_key(overrides, message):
    with pytest.raises(ValueError, match=message):
        experiments.config_for("toy", "quick", **overrides)


def test_a_batch_larger_than_the_data_is_refused_before_any_memory_is_taken(tmp_path):
    with pytest.raises(ValueError, match="batch_size = 100000000 is larger than the training set"):
        experiments.run_experiment("toy", root=tmp_path, batch_size=100_000_000, **TINY_TOY)


@pytest.mark.parametrize("args, message", [
    (["run", "toy", "--out", ""], "an empty folder name"),
    (["reproduce", "--dry-run", "--out", " "], "an empty folder name"),
])
def test_an_empty_out_is_refused(args, message, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(args)
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_an_unwritable_cache_is_found_before_training(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path / "file"))
    status = cli.main(["run", "toy", "--out", str(tmp_path / "out")])
    message = capsys.readouterr().err
    assert status == 2 and "RADOGAGA_CACHE" in message and "is a file" in message and message.count("\n") == 1


# --- temp files and workers -------------------------------------------------------------------

def test_temp_files_of_a_killed_write_are_removed_by_the_next_and_ignored_by_git(tmp_path):
    folder = tmp_path / "toy"
    folder.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = folder / f".x.json.{dead.stdout.strip()}.abc123.tmp"
    alive = folder / f".y.json.{os.getpid()}.def456.tmp"
    stale.write_text("{")
    alive.write_text("{")
    _stored(tmp_path)
    assert not stale.exists() and alive.exists()
    ignored = subprocess.run(["git", "check-ignore", "-q", f"results/toy/{stale.name}"], cwd=ROOT)
    assert ignored.returncode == 0


def _sleep_forever(_: int) -> None:
    time.sleep(600)


def test_workers_end_with_their_parent(tmp_path):
    script = ("import sys, time; sys.path.insert(0, %r); from tests.test_faults import _sleep_forever; "
              "from radogaga.infra.workers import process_pool\n"
              "if __name__ == '__main__':\n"
              "    pool = process_pool(2); [pool.submit(_sleep_forever, i) for i in range(2)]; time.sleep(600)\n"
              % str(ROOT))
    (tmp_path / "parent.py").write_text(script)
    parent = subprocess.Popen([sys.executable, str(tmp_path / "parent.py")], cwd=ROOT)
    deadline = time.monotonic() + 60
    children: list[int] = []
    while len(children) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        children = _workers_of(parent.pid)
    assert len(children) >= 2, "the pool's workers did not start"
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in children), "a worker outlived its killed parent"


def _workers_of(pid: int) -> list[int]:
    try:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return [c for c in children if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text(errors="replace")]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"
