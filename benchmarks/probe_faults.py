"""Probe the command line and the library as a new user would, with bad input and faults, and
count what happens. Each probe says what a good outcome is (a clear error, or a run that
goes on correctly) and is classed as one of:

* clear error    - it failed in one line (no traceback) with a non-zero exit status;
* correct        - it succeeded and its check held (a resumed result equals the uninterrupted one, ...);
* traceback      - a Python traceback reached the user;
* silent wrong   - it succeeded where it should have refused, or its result is wrong;
* data loss      - an interrupted run lost its progress or its result differs after the resume;
* other failure  - it failed where it should have succeeded (no traceback).

    python benchmarks/probe_faults.py            # RADOGAGA_DATA: the data copies; about 10 minutes on 2 cores
    python benchmarks/probe_faults.py --only kill

Exits 1 if any probe is a traceback, silent wrong or data loss.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from radogaga.revalidate import _same  # noqa: E402
from radogaga.store import results  # noqa: E402

TINY_TOY = {"seeds": [0], "steps": 60, "figure_points": 200, "jacobian_points": 100}
BAD = ("traceback", "silent wrong", "data loss")


@dataclass
class Outcome:
    status: int
    stdout: str
    stderr: str
    folder: Path


@dataclass
class Probe:
    """`args` of `python -m radogaga` (or a whole command when `command`); `expect` "error" or "ok";
    `check(outcome)` returns what is wrong with a success (None when right); `setup(folder)` runs first."""

    group: str
    name: str
    args: list[str]
    expect: str = "error"
    check: Callable[[Outcome], str | None] | None = None
    setup: Callable[[Path], None] | None = None
    env: dict = field(default_factory=dict)
    command: bool = False
    interrupt: int | None = None  # a signal sent once the run has saved a checkpoint
    lost_if_wrong: bool = False  # a wrong result after an interruption is data loss


def _sets(settings: dict) -> list[str]:
    return [item for key, value in settings.items() for item in ("--set", f"{key}={json.dumps(value)}")]


def _toy(*extra: str, **settings) -> list[str]:
    return ["run", "toy", "--out", "{folder}/results", *_sets({**TINY_TOY, **settings}), *extra]


def _one_result(outcome: Outcome, experiment: str = "toy") -> results.Result | None:
    files = sorted((outcome.folder / "results" / experiment).glob("*.json"))
    return results.read(files[0]) if len(files) == 1 else None


def _equals_reference(reference: dict) -> Callable[[Outcome], str | None]:
    def check(outcome: Outcome) -> str | None:
        stored = _one_result(outcome)
        if stored is None:
            return "no single stored result"
        return None if _same(stored.payload, reference["payload"]) else "the result differs from an uninterrupted run"
    return check


def _stdout_has(text: str) -> Callable[[Outcome], str | None]:
    return lambda outcome: None if text in outcome.stdout else f"the output lacks {text!r}"


def _store_tiny_toy(edit: Callable[[Path], None] | None = None) -> Callable[[Path], None]:
    """A setup: the tiny toy result stored in the probe's results (then `edit`ed)."""
    def setup(folder: Path) -> None:
        shutil.copytree(REFERENCE["folder"], folder / "results")
        if edit is not None:
            edit(next((folder / "results" / "toy").glob("*.json")))
    return setup


def _edit_number(path: Path) -> None:
    """Change the first number of the payload that is not a whole number, as a hand edit would."""
    document = json.loads(path.read_text())
    stack = [document["payload"]]
    while stack:
        item = stack.pop(0)
        children = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, value in children:
            if isinstance(value, float):
                item[key] = value + 0.01
                path.write_text(json.dumps(document))
                return
            stack.append(value)


def _unseal(path: Path) -> None:
    document = json.loads(path.read_text())
    del document["digest"]
    path.write_text(json.dumps(document))


def _unknown_commit(path: Path) -> None:
    document = json.loads(path.read_text())
    document["provenance"]["git_commit"] = "unknown"
    document["provenance"]["code"]["modules"] = {"an.older.module": "0"}
    path.write_text(json.dumps(document))


def _stale_temp(folder: Path) -> None:
    (folder / "results" / "toy").mkdir(parents=True)
    (folder / "results" / "toy" / ".x.json.999999999.abc.tmp").write_text("{")


def _no_stale_temp(outcome: Outcome) -> str | None:
    return None if not list((outcome.folder / "results" / "toy").glob(".*.tmp")) else "the stale temp file stayed"


def _foreign_piece(folder: Path) -> None:
    (folder / "resume").mkdir()
    (folder / "resume" / "handback--000.part-000").write_bytes(b"x")
    (folder / "resume" / "handback.json").write_text(json.dumps([{
        "experiment": "toy", "folder": "0123456789abcdef-fedcba9876543210", "name": "train.pt", "bytes": 1,
        "sha256": "0", "pieces": ["handback--000.part-000"]}]))


def _file(folder: Path) -> None:
    (folder / "a-file").write_text("")


def _estimator(code: str) -> list[str]:
    """A library call that must raise a clear ValueError: printed in one line, exit 2."""
    return [sys.executable, "-c",
            "import sys, numpy as np\nfrom radogaga.estimators import DAGMMDetector, RaDOGAGADetector\n"
            "X = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)\n"
            f"try:\n    {code}\nexcept ValueError as error:\n    print('error:', error, file=sys.stderr); sys.exit(2)\n"]


def probes() -> list[Probe]:
    gpu_run = ["bash", str(ROOT / "benchmarks" / "gpu_run.sh")]
    found = [
        Probe("arguments", "unknown experiment", ["run", "nosuch"]),
        Probe("arguments", "unknown profile", ["run", "toy", "--profile", "nosuch"]),
        Probe("arguments", "unknown key", _toy(nosuch=1)),
        *[Probe("arguments", f"steps={value!r}", _toy(steps=value)) for value in (-1, 0, 1.5, "a", True)],
        *[Probe("arguments", f"seeds={value!r}", _toy(seeds=value))
          for value in ([], [1e20], [10**20], [-1], [0, 0], [2**32], "0")],
        *[Probe("arguments", f"learning_rate={value!r}", _toy(learning_rate=value)) for value in (0, -1, "nan")],
        Probe("arguments", "lambda2=-100", _toy(lambda2=-100)),
        Probe("arguments", "anomaly lambda1_d=-1", ["run", "anomaly", "--set", "lambda1_d=-1"]),
        Probe("arguments", "noise_std=-1", _toy(noise_std=-1)),
        *[Probe("arguments", f"methods={value!r}", _toy(methods=value))
          for value in ([], ["nosuch"], ["RaDOGAGA(d)", "RaDOGAGA(d)"])],
        *[Probe("arguments", f"batch_size={value!r}", _toy(batch_size=value)) for value in (0, 100_000_000)],
        Probe("arguments", "jacobian_points above figure_points", _toy(jacobian_points=5_000)),
        Probe("arguments", "data_seed=2**40", _toy(data_seed=2**40)),
        Probe("arguments", "anomaly unknown data set", ["run", "anomaly", "--set", 'datasets=["nosuch"]']),
        Probe("arguments", "anomaly repeated data set", ["run", "anomaly", "--set", 'datasets=["thyroid","thyroid"]']),
        Probe("arguments", "anomaly_controls unknown variant", ["run", "anomaly_controls", "--set",
                                                                'variants=["nosuch"]']),
        Probe("arguments", "workers on an experiment without them", _toy("--workers", "2")),
        Probe("arguments", "workers=0", ["run", "latent", "--workers", "0"]),
        Probe("arguments", "--device cuda without a GPU", _toy("--device", "cuda")),
        Probe("arguments", "--device tpu", _toy("--device", "tpu")),
        Probe("folders", "--out ''", ["run", "toy", "--out", ""]),
        Probe("folders", "--out a file", ["run", "toy", "--out", "{folder}/a-file"], setup=_file),
        Probe("folders", "--out unwritable", ["run", "toy", "--out", "/proc/radogaga-results"]),
        Probe("folders", "RADOGAGA_CACHE a file", _toy(), setup=_file, env={"RADOGAGA_CACHE": "{folder}/a-file"}),
        Probe("folders", "RADOGAGA_CHECKPOINT_EVERY=abc", _toy(), env={"RADOGAGA_CHECKPOINT_EVERY": "abc"}),
        Probe("folders", "no data offline", ["run", "anomaly", "--set", 'datasets=["thyroid"]'],
              env={"RADOGAGA_DATA": "{folder}", "RADOGAGA_CACHE": "{folder}/cache", "RADOGAGA_OFFLINE": "1"}),
        Probe("store", "an edited result", _toy(), setup=_store_tiny_toy(_edit_number)),
        Probe("store", "an unsealed result", _toy(), setup=_store_tiny_toy(_unseal)),
        Probe("store", "a corrupt result", _toy(),
              setup=_store_tiny_toy(lambda path: path.write_text("{not json"))),
        Probe("store", "a corrupt result, --recompute", _toy("--recompute"), "ok", _equals_reference(REFERENCE),
              setup=_store_tiny_toy(lambda path: path.write_text("{not json"))),
        Probe("store", "a stale temp file of a killed write", _toy(), "ok", _no_stale_temp, setup=_stale_temp),
        Probe("store", "revalidate an edited result", ["revalidate", "toy", "--out", "{folder}/results"], "ok",
              _stdout_has("not certified"), setup=_store_tiny_toy(_edit_number)),
        Probe("store", "revalidate an unknown commit", ["revalidate", "toy", "--out", "{folder}/results"], "ok",
              _stdout_has("not checked: its commit"), setup=_store_tiny_toy(_unknown_commit)),
        Probe("store", "revalidate a folder named as a result", ["revalidate", "toy", "--out", "{folder}/results"],
              "ok", _stdout_has("is a folder"),
              setup=lambda folder: (folder / "results" / "toy" / "0000000000000000.json").mkdir(parents=True)),
        Probe("store", "revalidate an unknown experiment", ["revalidate", "nosuch"]),
        Probe("store", "reproduce --dry-run --recompute", ["reproduce", "--dry-run", "--recompute", "--only", "toy",
                                                           "--out", "{folder}/results"], "ok",
              lambda o: None if "skipped" not in o.stdout else "it says a part is skipped",
              setup=_store_tiny_toy()),
        Probe("divergence", "toy learning_rate=1", _toy(learning_rate=1, steps=200)),
        Probe("divergence", "DAGMM learning_rate=1e6", _estimator("DAGMMDetector(steps=20, learning_rate=1e6).fit(X)"),
              command=True),
        Probe("divergence", "RaDOGAGA learning_rate=1e6",
              _estimator("RaDOGAGADetector(steps=20, learning_rate=1e6).fit(X)"), command=True),
        *[Probe("divergence", f"estimator {name}={value}", _estimator(f"DAGMMDetector({name}={value}).fit(X)"),
                command=True)
          for name, value in (("steps", 1.5), ("learning_rate", "float('nan')"), ("batch_size", 0),
                              ("contamination", 0.9))],
        Probe("gpu_run", "budget 0", [*gpu_run, "{folder}/out", "0", "toy"], command=True),
        Probe("gpu_run", "budget abc", [*gpu_run, "{folder}/out", "abc", "toy"], command=True),
        Probe("gpu_run", "OUT a file", [*gpu_run, "{folder}/a-file", "60", "toy"], command=True, setup=_file),
        Probe("gpu_run", "unknown experiment", [*gpu_run, "{folder}/out", "60", "nosuch"], command=True),
        Probe("gpu_run", "a piece from other code", [*gpu_run, "{folder}/out", "60", "toy"], command=True,
              setup=_foreign_piece, env={"RESUME_DIR": "{folder}/resume", "DEVICE": "cpu"}),
    ]
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        found.append(Probe("kill", f"{signal.Signals(signum).name} in training, then the same command", _toy(), "ok",
                           _equals_reference(REFERENCE), interrupt=signum, lost_if_wrong=True,
                           env={"RADOGAGA_CHECKPOINT_EVERY": "20"}))
    found.append(Probe("kill", "two runs of one config at once", _toy(), "ok", _equals_reference(REFERENCE)))
    return found


REFERENCE: dict = {}


def _filled(items: list[str], folder: Path) -> list[str]:
    return [item.replace("{folder}", str(folder)) for item in items]


def _run(probe: Probe, folder: Path) -> tuple[Outcome, str | None]:
    """Run one probe; returns its outcome and, for an interrupted one, how its first leg ended."""
    env = {**os.environ, "RADOGAGA_CACHE": str(folder / "cache"), "PYTHONPATH": str(ROOT), "PYTHON": sys.executable,
           **{key: value.replace("{folder}", str(folder)) for key, value in probe.env.items()}}
    command = _filled(probe.args, folder) if probe.command else \
        [sys.executable, "-m", "radogaga", *_filled(probe.args, folder)]
    first_leg = None
    if probe.interrupt is not None:
        leg = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while leg.poll() is None and time.monotonic() < deadline and \
                not list((folder / "cache" / "checkpoints").glob("*/*/train.pt")):
            time.sleep(0.02)
        leg.send_signal(probe.interrupt)
        _, stderr = leg.communicate(timeout=300)
        first_leg = ("traceback" if "Traceback" in stderr else
                     "resumable" if list((folder / "cache" / "checkpoints").glob("*/*/train.pt")) else "lost")
    elif probe.name == "two runs of one config at once":
        other = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True)
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        _, other_stderr = other.communicate(timeout=600)
        return Outcome(done.returncode or other.returncode, done.stdout, done.stderr + other_stderr, folder), None
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return Outcome(done.returncode, done.stdout, done.stderr, folder), first_leg


def classify(probe: Probe, outcome: Outcome, first_leg: str | None) -> tuple[str, str]:
    """The probe's class and a short reason."""
    if "Traceback" in outcome.stderr or first_leg == "traceback":
        return "traceback", outcome.stderr.strip().splitlines()[-1] if outcome.stderr.strip() else "first leg"
    if first_leg == "lost":
        return "data loss", "the interrupted run kept no checkpoint"
    if probe.expect == "error":
        if outcome.status == 0:
            return "silent wrong", "succeeded where it should have refused"
        lines = [line for line in outcome.stderr.strip().splitlines() if line.strip()]
        message = next((line for line in lines if "error" in line.lower() or line.startswith("gpu_run.sh:")),
                       lines[-1] if lines else "")
        return "clear error", message[:160]
    if outcome.status != 0:
        return "other failure", (outcome.stderr.strip().splitlines() or ["no message"])[-1][:160]
    wrong = probe.check(outcome) if probe.check else None
    if wrong:
        return ("data loss" if probe.lost_if_wrong else "silent wrong"), wrong
    return "correct", "as expected"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only the probes of this group (arguments, folders, store, "
                                       "divergence, gpu_run, kill)")
    args = parser.parse_args(argv)
    if not os.environ.get("RADOGAGA_DATA"):
        parser.error("set RADOGAGA_DATA to the folder of data copies (see the README, 'Data')")
    with tempfile.TemporaryDirectory(prefix="radogaga-probes-") as scratch:
        scratch = Path(scratch)
        reference = subprocess.run([sys.executable, "-m", "radogaga", *_filled(_toy(), scratch / "reference")],
                                   cwd=ROOT, capture_output=True, text=True,
                                   env={**os.environ, "RADOGAGA_CACHE": str(scratch / "reference-cache")})
        if reference.returncode != 0:
            print(reference.stderr, file=sys.stderr)
            return 2
        REFERENCE["folder"] = scratch / "reference" / "results"
        REFERENCE["payload"] = results.find("toy", root=REFERENCE["folder"])[0].payload
        chosen = [p for p in probes() if not args.only or p.group == args.only]
        counts: collections.Counter = collections.Counter()
        for index, probe in enumerate(chosen):
            folder = scratch / f"probe-{index}"
            folder.mkdir()
            if probe.setup is not None:
                probe.setup(folder)
            outcome, first_leg = _run(probe, folder)
            kind, reason = classify(probe, outcome, first_leg)
            counts[kind] += 1
            print(f"{kind:<14} {probe.group:<11} {probe.name:<48} {reason}", flush=True)
    print(f"\n{len(chosen)} probes: " + ", ".join(f"{counts[kind]} {kind}" for kind in
                                                 ("clear error", "correct", "other failure", *BAD)))
    return 1 if any(counts[kind] for kind in BAD) else 0


if __name__ == "__main__":
    sys.exit(main())
