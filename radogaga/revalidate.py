"""Is a stored result still what the current code computes? When its code fingerprint says
modules changed since it was stored, run the same small config (the experiment's quick
profile, every field given explicitly) with the code of the result's commit and with the
current code; if every part's payload is identical, the change did not touch what the
experiment computes, and the result's provenance records that check (`code_equivalence`).

    python -m radogaga revalidate toy        # needs the repository's git history
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from radogaga import experiments
from radogaga.infra import paths
from radogaga.store import fingerprint, results


# Payload entries that time the run or record its history (where a resumed model started) rather than compute its
# numbers: they may differ between two runs of the same code.
TIMING_KEYS = frozenset({"timings", "train_wall_time_s", "steps_per_s", "wall_time_s", "resumed_from_step"})


def _same(a: Any, b: Any) -> bool:
    """Exact equality of two payloads (arrays element by element, NaN equal to NaN), the
    entries named in TIMING_KEYS left out."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, dict) and isinstance(b, dict):
        kept = a.keys() - TIMING_KEYS
        return kept == b.keys() - TIMING_KEYS and all(_same(a[k], b[k]) for k in kept)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _run_quick(name: str, checkout: Path, out: Path, settings: dict) -> list[results.Result]:
    command = [sys.executable, "-m", "radogaga", "run", name, "--device", "cpu", "--out", str(out),
               *[item for key, value in settings.items() for item in ("--set", f"{key}={json.dumps(value)}")]]
    env = {**os.environ, "RADOGAGA_CACHE": str(out / "cache"), "PYTHONPATH": str(checkout)}
    done = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the quick run of {name} failed in {checkout}: {done.stderr.strip()[-500:]}")
    return [results.read(path, sealed=False) for path in sorted((out / name).glob("*.json"))]  # older code: unsealed


def _fields_at(name: str, checkout: Path) -> set[str]:
    """The config fields experiment `name` has in the code of `checkout`."""
    script = (f"import dataclasses, json; from radogaga import experiments; "
              f"print(json.dumps([f.name for f in dataclasses.fields(experiments.get({name!r}).Config)]))")
    done = subprocess.run([sys.executable, "-c", script], cwd=checkout, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(checkout)})
    if done.returncode != 0:
        raise RuntimeError(f"cannot read the config of {name} in {checkout}: {done.stderr.strip()[-500:]}")
    return set(json.loads(done.stdout))


def settings_for_older_code(settings: dict, known: set[str], defaults: dict) -> dict:
    """`settings` as older code whose config has the fields `known` takes them: a field added since
    is left out when it holds its default (the behaviour of the code before the field, as
    `results.add_config_field` assumes); one added since at another value cannot be run there."""
    added = {key: value for key, value in settings.items() if key not in known}
    not_default = sorted(key for key, value in added.items() if value != defaults.get(key, object()))
    if not_default:
        raise RuntimeError(f"the settings give {not_default} other than their defaults; the older code lacks them")
    return {key: value for key, value in settings.items() if key in known}


def quick_for(quick: dict, stored: dict) -> dict:
    """The quick profile narrowed to what a stored result covers: a list of names (variants,
    data sets) that holds the result's own becomes the result's, so the check runs only
    what the result's code knew."""
    return {key: (stored[key] if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value)
                  and isinstance(stored.get(key), list) and stored[key] and set(stored[key]) <= set(value)
                  else value)
            for key, value in quick.items()}


def comparison_commit(name: str, project: Path, provenance: dict, depth: int = 80) -> str:
    """The commit whose code a stored result is known to match: where an earlier check showed it
    equivalent, that code's commit (recorded, or else the newest of the last `depth` commits
    whose code has the recorded module hashes); otherwise the commit it was computed at. So the
    results of an experiment shown equivalent to one code need one run of the old code."""
    equivalence = provenance.get("code_equivalence") or {}
    if equivalence.get("commit"):
        return str(equivalence["commit"])
    wanted = sorted(equivalence.get("modules", {}).values())
    if wanted:
        listed = subprocess.run(["git", "rev-list", f"--max-count={depth}", "HEAD"], cwd=project,
                                capture_output=True, text=True)
        for commit in listed.stdout.split():
            if sorted(fingerprint.record_at_commit(name, commit, project)["modules"].values()) == wanted:
                return commit
    return str(provenance.get("git_commit", "unknown"))


def _in_history(project: Path, commit: str) -> bool:
    """Whether `commit` names a commit of the repository at `project`."""
    done = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=project, capture_output=True)
    return commit not in ("", "unknown") and done.returncode == 0


def _matching_key(config: dict, keys: set[str]) -> str:
    """A config as text, reduced to `keys` (the fields an older code had), to pair a part's results."""
    return json.dumps({key: config[key] for key in sorted(keys) if key in config}, sort_keys=True, default=str)


def revalidate(name: str, root: Path | None = None) -> list[str]:
    """Check every stored result of `name` whose code changed since it was stored; returns
    one line per result saying what was found (and records an equivalence that was shown).
    The quick profile runs once with this code and once per commit the results were made at."""
    root = Path(root or paths.results_dir())
    project = paths.project_root()
    if project is None:
        raise ValueError("revalidation needs the source checkout with its git history")
    quick = {key: value for key, value in dataclasses.asdict(experiments.get(name).PROFILES["quick"]).items()}
    now = fingerprint.code_record(name)
    lines = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        runs: dict[str, list[results.Result] | RuntimeError] = {}  # quick results by commit ("" now) and settings

        def quick_run(commit: str, settings: dict) -> list[results.Result]:
            key = f"{commit}:{json.dumps(settings, sort_keys=True, default=str)}"
            if key not in runs:
                try:
                    runs[key] = _run_quick_at(name, project, scratch / str(len(runs)), commit, settings)
                except RuntimeError as error:
                    runs[key] = error
            if isinstance(runs[key], RuntimeError):
                raise runs[key]
            return runs[key]

        for path in sorted((root / name).glob("*.json")):
            try:
                stored = results.read(path)
            except results.ResultsError as error:
                lines.append(f"{path.name}: not certified ({error})")
                continue
            changed = fingerprint.changed_modules(name, stored.provenance.get("code"))
            if changed == []:
                lines.append(f"{path.name}: code unchanged since it was stored")
                continue
            commit = comparison_commit(name, project, stored.provenance)
            if not _in_history(project, commit):
                lines.append(f"{path.name}: not checked: its commit {commit!r} is not in this repository's history "
                             "(fetch that commit, or recompute the result with --recompute)")
                continue
            settings = quick_for(quick, stored.config)
            try:
                old, new = quick_run(commit, settings), quick_run("", settings)
            except RuntimeError as error:
                lines.append(f"{path.name}: not shown equivalent ({error})")
                continue
            keys = set(old[0].config) if old else set()
            pairs = {_matching_key(r.config, keys): r for r in old}
            equal = len(old) == len(new) and all(
                _matching_key(r.config, keys) in pairs and _same(pairs[_matching_key(r.config, keys)].payload, r.payload)
                for r in new)
            if not equal:
                lines.append(f"{path.name}: the quick profile differs between commit {commit[:7]} and this code: "
                             "recompute the result")
                continue
            document = results.read_document(path)
            head, dirty = results.code_state()
            document["provenance"]["code_equivalence"] = {
                **now, **({"commit": head} if dirty is False else {}),
                "verified": f"the quick profile gives identical payloads with the code of commit {commit[:7]} "
                            f"and with this code ({datetime.now(timezone.utc):%Y-%m-%d})"}
            results.write_document(path, document)
            lines.append(f"{path.name}: equivalent (the quick profile is identical); recorded")
    return lines


def _run_quick_at(name: str, project: Path, scratch: Path, commit: str, quick: dict) -> list[results.Result]:
    """The quick profile's results with the code of `commit` (checked out for the run), or with
    this code when `commit` is ""; the old results use the key of the config as the old code had it."""
    if not commit:
        return _run_quick(name, project, scratch / "results", quick)
    checkout = scratch / "checkout"
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(checkout), commit], cwd=project,
                   check=True, capture_output=True)
    try:
        defaults = {f.name: f.default for f in dataclasses.fields(experiments.get(name).Config)}
        settings = settings_for_older_code(quick, _fields_at(name, checkout), defaults)
        return _run_quick(name, checkout, scratch / "results", settings)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(checkout)], cwd=project, capture_output=True)
