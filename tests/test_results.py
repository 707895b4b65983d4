"""The results store: round trips, provenance, config matching, corruption and atomic writes."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest

from radogaga.infra import paths
from radogaga.store import results

CONFIG = {"lr": 1e-3, "seeds": (0, 1), "method": "radogaga"}


def _save(root: Path, config=CONFIG, payload=None) -> Path:
    return results.save("toy", config, payload or {"auc": 0.9}, device="cpu", wall_time_s=1.5, root=root)


def test_round_trip_keeps_scalars_dicts_and_arrays(tmp_path):
    payload = {
        "auc": 0.93,
        "n": np.int64(7),
        "ok": np.bool_(True),
        "nested": {"name": "x", "values": [1, 2.5, None], "deep": {"nan": float("nan"), "inf": float("inf")}},
        "weights": np.array([[1.5, np.nan], [np.inf, -np.inf]], dtype=np.float32),
        "undefined": {"nested.deep": "non-finite by construction", "weights": "non-finite by construction"},
        "counts": np.arange(6, dtype=np.int16).reshape(2, 3),
        "empty": np.zeros((0, 3)),
        "scalar_array": np.array(2.0),
    }
    path = _save(tmp_path, payload=payload)
    assert path == tmp_path / "toy" / f"{results.config_hash(CONFIG)}.json"
    result = results.load("toy", CONFIG, root=tmp_path)
    got = result.payload
    assert got["auc"] == 0.93 and got["n"] == 7 and got["ok"] is True
    assert got["nested"]["name"] == "x" and got["nested"]["values"] == [1, 2.5, None]
    assert np.isnan(got["nested"]["deep"]["nan"]) and got["nested"]["deep"]["inf"] == float("inf")
    assert got["weights"].dtype == np.float32
    np.testing.assert_array_equal(got["weights"], payload["weights"])
    assert got["counts"].dtype == np.int16 and got["counts"].shape == (2, 3)
    np.testing.assert_array_equal(got["counts"], payload["counts"])
    assert got["empty"].shape == (0, 3) and got["scalar_array"].shape == ()
    assert result.experiment == "toy" and result.key == results.config_hash(CONFIG)
    assert result.config == {"lr": 1e-3, "seeds": [0, 1], "method": "radogaga"}


def test_file_layout(tmp_path):
    document = json.loads(_save(tmp_path).read_text())
    assert set(document) == {"format", "experiment", "config_hash", "config", "provenance", "payload", "digest"}
    assert document["digest"] == results.digest(document)
    assert document["format"] == 1 and document["config_hash"] == results.config_hash(CONFIG)


def test_config_hash_is_canonical():
    assert results.config_hash({"a": 1, "b": (1, 2)}) == results.config_hash({"b": [1, 2], "a": 1})
    assert results.config_hash({"a": 1}) != results.config_hash({"a": 2})
    assert len(results.config_hash(CONFIG)) == 16


def test_payload_that_cannot_round_trip_is_refused(tmp_path):
    with pytest.raises(TypeError, match="keys must be strings"):
        _save(tmp_path, payload={1: "x"})
    with pytest.raises(TypeError, match="dtype"):
        _save(tmp_path, payload={"a": np.array(["x"], dtype=object)})
    with pytest.raises(TypeError, match="set"):
        _save(tmp_path, payload={"a": {1, 2}})
    assert not (tmp_path / "toy").exists() or not list((tmp_path / "toy").iterdir())


def test_provenance_has_its_keys_and_no_host_or_path():
    info = results.provenance("cpu", 12.5)
    assert set(info) == {"device", "torch_version", "package_version", "python_version",
                         "git_commit", "git_dirty", "utc_time", "wall_time_s"}
    assert "CPU" in info["device"] and info["utc_time"].endswith("Z") and info["wall_time_s"] == 12.5
    strings = [value for value in info.values() if isinstance(value, str)]
    assert not any("/" in value or "\\" in value for value in strings)
    assert socket.gethostname() not in strings


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_provenance_reads_the_git_commit_and_dirty_state(tmp_path, monkeypatch):
    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                              check=True, capture_output=True, text=True).stdout.strip()

    monkeypatch.delenv("RADOGAGA_GIT_COMMIT", raising=False)
    git("init", "-q")
    (tmp_path / "file.txt").write_text("a")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "stored.json").write_text("{}")
    git("add", "file.txt", "results")
    git("commit", "-q", "-m", "first")
    monkeypatch.setattr(paths, "project_root", lambda: tmp_path)
    clean = results.provenance("cpu", 0.0)
    assert clean["git_commit"] == git("rev-parse", "HEAD") and clean["git_dirty"] is False
    # A run that overwrites a stored result leaves its code unmodified.
    (tmp_path / "results" / "stored.json").write_text('{"new": 1}')
    assert results.provenance("cpu", 0.0)["git_dirty"] is False
    (tmp_path / "file.txt").write_text("b")
    assert results.provenance("cpu", 0.0)["git_dirty"] is True
    # A copy on a GPU machine may carry git metadata older than its files: the named commit wins.
    monkeypatch.setenv("RADOGAGA_GIT_COMMIT", "0123abc")
    copied = results.provenance("cpu", 0.0)
    assert copied["git_commit"] == "0123abc" and copied["git_dirty"] is None


def test_provenance_without_a_checkout(monkeypatch):
    monkeypatch.delenv("RADOGAGA_GIT_COMMIT", raising=False)
    monkeypatch.setattr(paths, "project_root", lambda: None)
    info = results.provenance("cpu", 0.0)
    assert info["git_commit"] == "unknown" and info["git_dirty"] is None


def test_another_config_is_never_returned(tmp_path):
    _save(tmp_path)
    assert results.load("toy", {**CONFIG, "lr": 2e-3}, root=tmp_path) is None
    assert results.load("other", CONFIG, root=tmp_path) is None


def test_a_hash_collision_is_an_error_not_a_wrong_result(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "config_hash", lambda config: "0" * 16)
    _save(tmp_path)
    with pytest.raises(results.ResultsError, match="another config"):
        results.load("toy", {**CONFIG, "lr": 2e-3}, root=tmp_path)


def test_hand_edited_config_is_an_error(tmp_path):
    path = _save(tmp_path)
    document = json.loads(path.read_text())
    document["config"]["lr"] = 0.5
    path.write_text(json.dumps(document))
    with pytest.raises(results.ResultsError, match="hash") as error:
        results.load("toy", CONFIG, root=tmp_path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("corrupt", [
    lambda text: text[: len(text) // 2],
    lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "payload"}),
    lambda text: json.dumps({**json.loads(text), "format": 99}),
    lambda text: "[]",
])
def test_corrupt_file_is_an_error_naming_it(tmp_path, corrupt):
    path = _save(tmp_path)
    path.write_text(corrupt(path.read_text()))
    with pytest.raises(results.ResultsError) as error:
        results.load("toy", CONFIG, root=tmp_path)
    assert str(path) in str(error.value) and "recompute" in str(error.value)


def test_write_is_atomic(tmp_path, monkeypatch):
    path = _save(tmp_path)
    before = path.read_bytes()

    def fail_midway(document, handle, **kwargs):
        handle.write('{"format": 1, "partial')
        raise RuntimeError("killed")

    monkeypatch.setattr(results.json, "dump", fail_midway)
    with pytest.raises(RuntimeError, match="killed"):
        _save(tmp_path, payload={"auc": 0.1})
    with pytest.raises(RuntimeError, match="killed"):
        _save(tmp_path, config={"other": 1})
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_failed_rename_leaves_no_temp_file(tmp_path, monkeypatch):
    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(results.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        _save(tmp_path)
    assert list((tmp_path / "toy").iterdir()) == []


@pytest.mark.parametrize("name", ["Toy", "a b", "../up", "", "toy.json"])
def test_bad_experiment_name(tmp_path, name):
    with pytest.raises(ValueError, match="lowercase letters, digits"):
        results.save(name, CONFIG, {}, device="cpu", wall_time_s=0.0, root=tmp_path)
    with pytest.raises(ValueError, match="lowercase letters, digits"):
        results.load(name, CONFIG, root=tmp_path)


def test_find_lists_results_and_refuses_corrupt_files(tmp_path):
    assert results.find("toy", root=tmp_path) == []
    _save(tmp_path)
    second = _save(tmp_path, config={"other": 1})
    assert sorted(r.key for r in results.find("toy", root=tmp_path)) == sorted(
        [results.config_hash(CONFIG), results.config_hash({"other": 1})])
    second.write_text("{")
    with pytest.raises(results.ResultsError, match=second.name):
        results.find("toy", root=tmp_path)


def test_default_root_is_results_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RADOGAGA_RESULTS", str(tmp_path))
    results.save("toy", CONFIG, {"a": 1}, device="cpu", wall_time_s=0.0)
    assert results.load("toy", CONFIG).payload == {"a": 1}
    assert os.path.exists(tmp_path / "toy")


def test_provenance_line():
    result = results.Result("toy", {}, {}, {
        "device": "NVIDIA H100 80GB HBM3", "torch_version": "2.13.0", "package_version": "0.1.0",
        "python_version": "3.11.7", "git_commit": "abc1234def", "git_dirty": False,
        "utc_time": "2026-11-26T18:00:05Z", "wall_time_s": 123.44,
    })
    assert results.provenance_line(result) == (
        "computed on NVIDIA H100 80GB HBM3 with torch 2.13.0, radogaga 0.1.0, commit abc1234, "
        "2026-11-26 18:00 UTC, wall time 123.4 s"
    )


def test_add_config_field_keeps_older_results_reachable(tmp_path):
    old = _save(tmp_path, payload={"auc": np.array([0.5, 0.75])})
    before = json.loads(old.read_text())
    widened = {**CONFIG, "mirror": False}
    assert results.load("toy", widened, root=tmp_path) is None  # the new field changes the hash
    moved = results.add_config_field("toy", "mirror", False, root=tmp_path)
    assert moved == [results.path_for("toy", widened, root=tmp_path)] and not old.exists()
    found = results.load("toy", widened, root=tmp_path)
    np.testing.assert_array_equal(found.payload["auc"], [0.5, 0.75])
    assert found.provenance == before["provenance"]
    assert results.add_config_field("toy", "mirror", False, root=tmp_path) == []  # already there: no change
    _save(tmp_path)  # an older copy of the same config: migrating it would overwrite the moved one
    with pytest.raises(results.ResultsError, match="exists"):
        results.add_config_field("toy", "mirror", False, root=tmp_path)


def test_every_stored_result_is_found_by_its_experiments_current_config():
    """A config that gained a field changes every hash: the stored results must be migrated
    (`results.add_config_field`) so that the book still finds them."""
    from radogaga import experiments
    stored = [path for path in paths.results_dir().glob("*/*.json")]
    assert stored, "the repository's results folder is empty"
    for path in stored:
        result = results.read(path)
        config = experiments.config_for(result.experiment, "quick", **result.config)
        found = results.load(result.experiment, dataclasses.asdict(config))
        assert found is not None and found.key == path.stem, path.name
