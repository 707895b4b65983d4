"""The command line: `python -m radogaga list` and `python -m radogaga run EXPERIMENT ...`.

Heavy imports (torch, the experiments) happen inside the commands, so `--help` is fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any


def _parse_setting(text: str) -> tuple[str, Any]:
    """`key=value` with the value read as JSON where it parses, else kept as a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--set expects key=value, got {text!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def _folder_argument(text: str) -> Path:
    """A folder given on the command line: not empty (which would mean the working folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty folder name; give a folder, e.g. --out results")
    return Path(text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m radogaga`."""
    parser = argparse.ArgumentParser(
        prog="python -m radogaga", description="Run the book's experiments and store their results."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the experiments and their profiles")
    run = commands.add_parser("run", help="run an experiment at a profile and store its result")
    run.add_argument("experiment", metavar="EXPERIMENT", help="experiment name (see `list`)")
    run.add_argument("--profile", default="quick", help="config profile, e.g. quick or paper (default: quick)")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    run.add_argument("--out", type=_folder_argument, default=None,
                     help="results folder (default: the project's results/)")
    run.add_argument("--recompute", action="store_true", help="recompute even if a stored result exists")
    run.add_argument("--parts-at-once", choices=("auto", "yes", "no"), default="auto",
                     help="train an experiment's parts (anomaly's data sets) at once, each in its own thread: "
                          "auto (on a GPU, for an experiment that allows it), yes or no (one after another)")
    run.add_argument("--workers", type=int, default=1,
                     help="CPU processes that share the models of an experiment that allows it (latent); default 1")
    run.add_argument("--set", dest="settings", metavar="KEY=VALUE", type=_parse_setting, action="append",
                     default=[], help="override a config field; the value is read as JSON if it parses")
    revalidate = commands.add_parser(
        "revalidate", help="check whether stored results whose code changed are still what the code computes")
    revalidate.add_argument("experiment", metavar="EXPERIMENT", help="experiment name (see `list`)")
    revalidate.add_argument("--out", type=_folder_argument, default=None,
                            help="results folder (default: the project's results/)")
    reproduce = commands.add_parser(
        "reproduce", help="run every experiment (or --only some) at a profile, skipping what is stored")
    reproduce.add_argument("--profile", default="paper", help="config profile (default: paper)")
    reproduce.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    reproduce.add_argument("--out", type=_folder_argument, default=None,
                           help="results folder (default: the project's results/)")
    reproduce.add_argument("--only", nargs="+", metavar="EXPERIMENT", help="run only these experiments")
    reproduce.add_argument("--recompute", action="store_true", help="recompute even what is stored")
    reproduce.add_argument("--dry-run", action="store_true", help="print the plan and its estimate only")
    return parser


def _list() -> int:
    from radogaga import experiments

    for name in experiments.names():
        print(f"{name}: profiles {', '.join(experiments.get(name).PROFILES)}")
    return 0


def _error(message: object, status: int = 2) -> int:
    print(f"radogaga: error: {message}", file=sys.stderr)
    return status


def writable_folder(root: Path, what: str = "--out", holds: str = "the results") -> Path:
    """`root` if it is (or can be made) a folder this process can write; else ValueError naming
    it as `what`. Checked before any computing, so a bad folder never costs a run."""
    if root.exists() and not root.is_dir():
        raise ValueError(f"{what} {root} is a file, not a folder; give a folder for {holds}")
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as error:
        raise ValueError(f"{what} {root} cannot be written ({error.strerror or error}); give a writable folder") \
            from error
    return root


def _user_errors() -> tuple[type[BaseException], ...]:
    """The errors that are the user's input or environment, reported in one line (exit 2)."""
    from radogaga.infra.checkpoints import CheckpointMismatch
    from radogaga.data import DataError
    from radogaga.infra.checks import NonFiniteError
    return ValueError, DataError, NonFiniteError, CheckpointMismatch, OSError


def _run(args: argparse.Namespace) -> int:
    from radogaga import experiments
    from radogaga.infra import paths
    from radogaga.store import results
    from radogaga.infra.device import resolve_device

    overrides = dict(args.settings)
    try:
        config = experiments.config_for(args.experiment, args.profile, **overrides)
        device = resolve_device(args.device)
        experiments.check_workers(args.experiment, args.workers, device)
        root = writable_folder(args.out if args.out is not None else paths.results_dir())
        # the checkpoint cache too: else an unwritable one is found only at the first save
        writable_folder(paths.cache_dir(), "the checkpoint cache (RADOGAGA_CACHE)", "checkpoints")
    except ValueError as error:
        return _error(error)
    try:
        pending = []
        for part in experiments.parts(args.experiment, config):
            stored = None if args.recompute else results.load(args.experiment, dataclasses.asdict(part), root=root)
            if stored is None:
                pending.append(part)
            else:
                _report_result(stored, root, stored=True)
        at_once = (len(pending) > 1 if args.parts_at_once == "yes" else
                   args.parts_at_once == "auto" and experiments.runs_parts_at_once(args.experiment, device, len(pending)))
        if at_once:
            print(f"training {len(pending)} parts at once on {device}", flush=True)
            done = experiments.run_parts_at_once(args.experiment, pending, device, root, args.recompute)
        else:
            done = (experiments.run_config(args.experiment, part, device, root, args.recompute, workers=args.workers)
                    for part in pending)
        for result in done:
            _report_result(result, root, stored=False)
    except results.ResultsError as error:
        return _error(error, 1)
    except _user_errors() as error:
        return _error(error)
    return 0


def _report_result(result: Any, root: Path, stored: bool) -> None:
    from radogaga.store import results

    print(results.provenance_line(result), flush=True)
    print(f"result: {results.path_for(result.experiment, result.config, root=root)}", flush=True)
    if stored:
        print("  (already stored, so it was loaded, not computed; add --recompute to compute it again)", flush=True)


def _reproduce(args: argparse.Namespace) -> int:
    from radogaga import reproduce
    from radogaga.infra import paths
    from radogaga.store import results

    try:
        root = writable_folder(args.out if args.out is not None else paths.results_dir())
        if args.dry_run:
            print(reproduce.describe(reproduce.plan(args.profile, args.device, root, args.only, present=False,
                                                         recompute=args.recompute)))
        else:
            reproduce.reproduce(args.profile, args.device, root, args.only, args.recompute,
                                report=lambda line: print(line, flush=True))
    except results.ResultsError as error:
        return _error(error, 1)
    except _user_errors() as error:
        return _error(error)
    return 0


def _revalidate(args: argparse.Namespace) -> int:
    from radogaga import experiments
    from radogaga.revalidate import revalidate

    try:
        experiments.get(args.experiment)
        for line in revalidate(args.experiment, args.out):
            print(line, flush=True)
    except (ValueError, RuntimeError) as error:
        return _error(error)
    return 0


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM outside training (training stops itself: `train.TrainingStopped`)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_SIGNALLED: list[int] = []


def _stop(signum: int, frame: Any) -> None:
    """Ctrl-C or SIGTERM: a training loop is asked to stop at its next chunk of steps (it saves
    its checkpoint first); anything else, or a second signal, is interrupted at once. Cleanup
    handlers run either way, so no half-written file stays."""
    from radogaga import train

    _SIGNALLED.append(signum)
    if train.training_now() and not train.stop_requested():
        train.request_stop()
        return
    raise Interrupted(signum)


def _interrupted(error: BaseException) -> int:
    """One line for a stopped run, and the status of the signal that stopped it (130 for Ctrl-C)."""
    signum = _SIGNALLED[0] if _SIGNALLED else signal.SIGINT
    where = (f"at step {error.step} of {error.steps} (checkpoint saved)" if getattr(error, "steps", 0)
             else "before its training reached a checkpoint" if not isinstance(error, Interrupted) else "")
    print(f"radogaga: interrupted ({signal.Signals(signum).name}) {where}".rstrip()
          + "; the same command resumes from the last checkpoint.", file=sys.stderr)
    return 128 + signum


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    from radogaga.train import TrainingStopped  # after parsing: --help stays fast

    _SIGNALLED.clear()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        if args.command == "list":
            return _list()
        if args.command == "revalidate":
            return _revalidate(args)
        return _run(args) if args.command == "run" else _reproduce(args)
    except (TrainingStopped, Interrupted, KeyboardInterrupt) as error:
        return _interrupted(error)
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
