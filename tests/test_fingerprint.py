"""The code fingerprint: what counts as a change of the code behind a result, and the
stored results' records (every one has a record of the current algorithm)."""

from __future__ import annotations

import numpy as np
import pytest

from radogaga import experiments
from radogaga.bookkit import chapter
from radogaga.store import fingerprint, results

EXPERIMENT = '''"""An experiment."""
from radogaga import helper

RULES = {"x": 1}


def run(config, device):
    """Docstring."""
    # a comment
    return helper.compute(config)


def verdict(payload, scale):
    return payload
'''
HELPER = '''def compute(config):
    return config * 2
'''


def reader(files: dict[str, str]):
    return lambda relative: files.get(relative)


def hashes(experiment: str = EXPERIMENT, helper: str = HELPER, helper_path: str = "radogaga/helper.py") -> dict:
    files = {"radogaga/experiments/demo.py": experiment, helper_path: helper}
    return fingerprint.module_hashes("demo", reader(files))


def test_the_closure_follows_imports_into_the_package():
    assert set(hashes()) == {"radogaga.experiments.demo", "radogaga.helper"}


@pytest.mark.parametrize("edit", [
    lambda s: s.replace('"""Docstring."""', '"""Another docstring."""'),
    lambda s: s.replace("# a comment", "# another comment"),
    lambda s: s.replace('RULES = {"x": 1}', 'RULES = {"x": 2}'),
    lambda s: s.replace("    return payload", "    return None"),
    lambda s: s.replace("\n\n\ndef run", "\n\n\n\ndef run"),
])
def test_what_does_not_compute_leaves_the_hash_alone(edit):
    assert hashes(edit(EXPERIMENT)) == hashes()


def test_a_change_in_computing_code_changes_its_module_hash():
    changed = hashes(helper=HELPER.replace("* 2", "* 3"))
    assert changed["radogaga.helper"] != hashes()["radogaga.helper"]
    assert changed["radogaga.experiments.demo"] == hashes()["radogaga.experiments.demo"]


def test_a_module_that_only_moved_is_not_a_change(monkeypatch):
    before = {"fingerprint": "x", "modules": hashes(), "algorithm": fingerprint.ALGORITHM}
    moved = hashes(EXPERIMENT.replace("from radogaga import helper", "from radogaga.analysis import helper"),
                   helper_path="radogaga/analysis/helper.py")
    assert set(moved) == {"radogaga.experiments.demo", "radogaga.analysis.helper"}
    monkeypatch.setattr(fingerprint, "module_hashes", lambda experiment, read=None: moved)
    assert fingerprint.changed_modules("demo", before) == []
    edited = dict(moved, **{"radogaga.analysis.helper": "different"})
    monkeypatch.setattr(fingerprint, "module_hashes", lambda experiment, read=None: edited)
    assert fingerprint.changed_modules("demo", before) == ["radogaga.analysis.helper", "radogaga.helper (removed)"]


def test_a_record_of_another_algorithm_counts_as_unknown():
    assert fingerprint.changed_modules("toy", {"modules": {}, "algorithm": fingerprint.ALGORITHM - 1}) is None
    assert fingerprint.changed_modules("toy", None) is None


def test_every_stored_result_has_a_record_of_the_current_algorithm():
    for name in experiments.names():
        for result in results.find(name):
            code = result.provenance.get("code")
            assert code and code.get("algorithm") == fingerprint.ALGORITHM, (name, result.key)
            assert fingerprint.changed_modules(name, code) is not None


def test_the_book_says_when_the_code_changed_since_a_result(tmp_path):
    config = {"names": ["thyroid"], "seed": 0}
    record = fingerprint.code_record("data_summary")
    fresh = results.read(results.save("data_summary", config, {"x": 1}, device="cpu", wall_time_s=1.0,
                                      root=tmp_path, code=record))
    assert chapter.code_notice(fresh) == ""
    old = dict(record, modules=dict(record["modules"], **{"radogaga.data.tabular": "0" * 12}))
    stale = results.read(results.save("data_summary", dict(config, seed=1), {"x": 1}, device="cpu",
                                      wall_time_s=1.0, root=tmp_path, code=old))
    notice = chapter.code_notice(stale)
    assert "has changed since this result was stored" in notice and "`radogaga.data.tabular`" in notice
    assert "Code changed since this result" in chapter.scale_notice(stale).data


def test_an_equivalence_shown_for_the_current_code_counts_as_no_change(monkeypatch):
    before = {"modules": {"radogaga.helper": "aaa"}, "algorithm": fingerprint.ALGORITHM}
    monkeypatch.setattr(fingerprint, "module_hashes", lambda experiment, read=None: {"radogaga.helper": "bbb"})
    assert fingerprint.changed_modules("demo", before) == ["radogaga.helper"]
    shown = {"modules": {"radogaga.helper": "bbb"}, "algorithm": fingerprint.ALGORITHM}
    assert fingerprint.changed_modules("demo", before, shown) == []
    older = {"modules": {"radogaga.helper": "ccc"}, "algorithm": fingerprint.ALGORITHM}
    assert fingerprint.changed_modules("demo", before, older) == ["radogaga.helper"]  # shown for other code


def test_payloads_are_compared_exactly():
    from radogaga.revalidate import _same
    a = {"x": np.array([1.0, np.nan]), "y": [1, 2.5, "s"], "z": float("nan")}
    assert _same(a, {"x": np.array([1.0, np.nan]), "y": [1, 2.5, "s"], "z": float("nan")})
    assert not _same(a, {"x": np.array([1.0, np.nan], dtype=np.float32), "y": [1, 2.5, "s"], "z": float("nan")})
    assert not _same(a, {"x": np.array([1.0 + 1e-15, np.nan]), "y": [1, 2.5, "s"], "z": float("nan")})
    assert not _same({"y": [1]}, {"y": [1.0]})
    # Wall times differ between any two runs; they are not what the experiment computes.
    timed = {"f1": 0.5, "timings": {"train_s": 2.36}, "models": {"m": {"train_wall_time_s": 1.0, "loss": 2.0}}}
    assert _same(timed, {"f1": 0.5, "timings": {"train_s": 2.41}, "models": {"m": {"train_wall_time_s": 3.0, "loss": 2.0}}})
    assert not _same(timed, {"f1": 0.5, "timings": {"train_s": 2.36}, "models": {"m": {"train_wall_time_s": 1.0, "loss": 2.5}}})
    # Where a resumed model started is the run's history, which older code did not record.
    assert _same({"m": {"loss": 2.0}}, {"m": {"loss": 2.0, "resumed_from_step": 12}})
    assert not _same({"m": {"loss": 2.0}}, {"m": {"loss": 2.0, "steps": 12}})  # any other new entry counts


def test_older_code_gets_the_settings_it_knows():
    from radogaga.revalidate import settings_for_older_code
    settings = {"steps": 300, "lr_hold_steps": 0}
    defaults = {"steps": 20_000, "lr_hold_steps": 0}
    # A field added since, at its default, is what the older code did without it: left out.
    assert settings_for_older_code(settings, {"steps"}, defaults) == {"steps": 300}
    assert settings_for_older_code(settings, {"steps", "lr_hold_steps"}, defaults) == settings
    with pytest.raises(RuntimeError, match="lr_hold_steps"):  # at another value the older code cannot run it
        settings_for_older_code({"steps": 300, "lr_hold_steps": 5}, {"steps"}, defaults)
