"""The command line: `python -m radogaga list` and `python -m radogaga run EXPERIMENT ...`.

Heavy imports (torch, the experiments) happen inside the commands, so `--help` is fast.
"""

from __future__ import annotations

import argparse
import json
import sys
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
    run.add_argument("--out", type=Path, default=None, help="results folder (default: the project's results/)")
    run.add_argument("--recompute", action="store_true", help="recompute even if a stored result exists")
    run.add_argument("--set", dest="settings", metavar="KEY=VALUE", type=_parse_setting, action="append",
                     default=[], help="override a config field; the value is read as JSON if it parses")
    reproduce = commands.add_parser(
        "reproduce", help="run every experiment (or --only some) at a profile, skipping what is stored")
    reproduce.add_argument("--profile", default="paper", help="config profile (default: paper)")
    reproduce.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    reproduce.add_argument("--out", type=Path, default=None, help="results folder (default: the project's results/)")
    reproduce.add_argument("--only", nargs="+", metavar="EXPERIMENT", help="run only these experiments")
    reproduce.add_argument("--recompute", action="store_true", help="recompute even what is stored")
    reproduce.add_argument("--dry-run", action="store_true", help="print the plan and its estimate only")
    return parser


def _list() -> int:
    from radogaga import experiments

    for name in experiments.names():
        print(f"{name}: profiles {', '.join(experiments.get(name).PROFILES)}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from radogaga import experiments, paths, results
    from radogaga.device import resolve_device

    overrides = dict(args.settings)
    try:
        experiments.config_for(args.experiment, args.profile, **overrides)
        device = resolve_device(args.device)
    except ValueError as error:
        print(f"radogaga: error: {error}", file=sys.stderr)
        return 2
    root = args.out if args.out is not None else paths.results_dir()
    try:
        for result in experiments.run_parts(args.experiment, args.profile, device, root, args.recompute,
                                            **overrides):
            print(results.provenance_line(result), flush=True)
            print(f"result: {results.path_for(args.experiment, result.config, root=root)}", flush=True)
    except results.ResultsError as error:
        print(f"radogaga: error: {error}", file=sys.stderr)
        return 1
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from radogaga import paths, reproduce, results

    root = args.out if args.out is not None else paths.results_dir()
    try:
        if args.dry_run:
            print(reproduce.describe(reproduce.plan(args.profile, args.device, root, args.only)))
        else:
            reproduce.reproduce(args.profile, args.device, root, args.only, args.recompute,
                                report=lambda line: print(line, flush=True))
    except (ValueError, results.ResultsError) as error:
        print(f"radogaga: error: {error}", file=sys.stderr)
        return 2 if isinstance(error, ValueError) else 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "list":
        return _list()
    return _run(args) if args.command == "run" else _reproduce(args)
