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


# Payload entries that time the run rather than compute its numbers: never equal between two runs.
TIMING_KEYS = frozenset({"timings", "train_wall_time_s", "steps_per_s", "wall_time_s"})


def _same(a: Any, b: Any) -> bool:
    """Exact equality of two payloads (arrays element by element, NaN equal to NaN), the
    entries named in TIMING_KEYS left out."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a if k not in TIMING_KEYS)
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
    return results.find(name, root=out)


def revalidate(name: str, root: Path | None = None) -> list[str]:
    """Check every stored result of `name` whose code changed since it was stored; returns
    one line per result saying what was found (and records an equivalence that was shown)."""
    root = Path(root or paths.results_dir())
    project = paths.project_root()
    if project is None:
        raise ValueError("revalidation needs the source checkout with its git history")
    quick = {key: value for key, value in dataclasses.asdict(experiments.get(name).PROFILES["quick"]).items()}
    now = fingerprint.code_record(name)
    lines = []
    for path in sorted((root / name).glob("*.json")):
        stored = results.read(path)
        changed = fingerprint.changed_modules(name, stored.provenance.get("code"))
        if changed == []:
            lines.append(f"{path.name}: code unchanged since it was stored")
            continue
        commit = stored.provenance["git_commit"]
        with tempfile.TemporaryDirectory() as scratch:
            scratch = Path(scratch)
            subprocess.run(["git", "worktree", "add", "--detach", "-q", str(scratch / "old"), commit], cwd=project,
                           check=True, capture_output=True)
            try:
                try:
                    old = _run_quick(name, scratch / "old", scratch / "old-results", quick)
                except RuntimeError as error:
                    lines.append(f"{path.name}: not shown equivalent ({error})")
                    continue
                new = _run_quick(name, project, scratch / "new-results", quick)
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(scratch / "old")], cwd=project,
                               capture_output=True)
        pairs = {r.key: r for r in old}
        equal = len(old) == len(new) and all(r.key in pairs and _same(pairs[r.key].payload, r.payload) for r in new)
        if not equal:
            lines.append(f"{path.name}: the quick profile differs between commit {commit[:7]} and this code: "
                         "recompute the result")
            continue
        document = json.loads(path.read_text(encoding="utf-8"))
        document["provenance"]["code_equivalence"] = {
            **now, "verified": f"the quick profile gives identical payloads with the code of commit {commit[:7]} "
                               f"and with this code ({datetime.now(timezone.utc):%Y-%m-%d})"}
        results.write_document(path, document)
        lines.append(f"{path.name}: equivalent (the quick profile is identical); recorded")
    return lines
