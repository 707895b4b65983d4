"""The experiment registry and the one way to run an experiment and store its result.

Each experiment is a module `radogaga/experiments/<name>.py` defining `NAME`, a frozen
dataclass config type, `PROFILES` (at least "quick" and "paper") and
`run(config, device) -> dict`, the JSON-able payload (numpy arrays allowed). Modules are
imported on first use, so the command line starts fast.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import os
import pkgutil
import queue
import shutil
import threading
import time
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from radogaga.infra import checkpoints as checkpoint_files
from radogaga.infra import paths
from radogaga.infra.device import one_cpu_thread, resolve_device
from radogaga.store import fingerprint, results

# Every module of this package is an experiment: adding a file registers it.
MODULES: tuple[str, ...] = tuple(sorted(
    info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")))


def names() -> list[str]:
    """The registered experiment names."""
    return list(MODULES)


def get(name: str) -> ModuleType:
    """The module of experiment `name`."""
    if name not in MODULES:
        raise ValueError(f"unknown experiment {name!r}; valid experiments: {', '.join(MODULES)}")
    return importlib.import_module(f"{__name__}.{name}")


def evidence_profiles(name: str) -> tuple[str, ...]:
    """The profiles whose results count as evidence for experiment `name`'s rules."""
    return tuple(getattr(get(name), "EVIDENCE_PROFILES", ("paper",)))


def _typed(name: str, value: Any, hint: Any) -> Any:
    """`value` as the field's type `hint`, strictly: no bool for a number, no float for an int,
    no string for a number; lists for tuples (JSON has no tuple); ints are >= 0 and floats finite."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} = {value!r} is not valid: expected a list")
        items = list(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_typed(f"{name}[{i}]", item, args[0]) for i, item in enumerate(items))
        if len(items) != len(args):
            raise ValueError(f"{name} = {value!r} is not valid: expected a list of {len(args)} values")
        return tuple(_typed(f"{name}[{i}]", item, arg) for i, (item, arg) in enumerate(zip(items, args)))
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} = {value!r} is not valid: expected true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} = {value!r} is not valid: expected a whole number (e.g. 3)")
        if value < 0:
            raise ValueError(f"{name} = {value!r} is not valid: expected a number >= 0")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} = {value!r} is not valid: expected a finite number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} = {value!r} is not valid: expected a string")
        return value
    return value


MAX_SEED = 2**32 - 1  # what numpy's and torch's generators take


def _check_common(config: Any) -> None:
    """Checks every config gets: seeds distinct and within 0..2³²−1, lists of names without
    repeats, λ coefficients >= 0, learning rates > 0, batch sizes >= 1 (the trainer refuses one
    above the data's rows)."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if field.name.endswith(("seeds", "seed")):
            seeds = value if isinstance(value, tuple) else (value,)
            if any(isinstance(seed, int) and not 0 <= seed <= MAX_SEED for seed in seeds):
                raise ValueError(f"{field.name} = {value!r} is not valid: a seed must be a whole number from 0 to "
                                 f"{MAX_SEED}")
        if field.name.endswith("seeds") and len(set(value)) != len(value):
            raise ValueError(f"{field.name} = {list(value)} is not valid: the seeds must be distinct")
        if isinstance(value, tuple) and value and all(isinstance(item, str) for item in value) \
                and len(set(value)) != len(value):
            repeated = sorted({item for item in value if value.count(item) > 1})
            raise ValueError(f"{field.name} = {list(value)} is not valid: {', '.join(repeated)} appear(s) twice; "
                             "list each once")
        if field.name.startswith("lambda") and any(
                isinstance(item, float) and item < 0 for item in (value if isinstance(value, tuple) else (value,))):
            raise ValueError(f"{field.name} = {value!r} is not valid: a λ coefficient must be >= 0")
        if "learning_rate" in field.name:
            rates = value if isinstance(value, tuple) else (value,)
            if any(rate <= 0 for rate in rates):
                raise ValueError(f"{field.name} = {value!r} is not valid: a learning rate must be > 0")
        if field.name == "batch_size" and value < 1:
            raise ValueError(f"batch_size = {value!r} is not valid: expected a number >= 1")


def config_for(name: str, profile: str = "quick", **overrides: Any) -> Any:
    """The config of experiment `name` at `profile`, with fields replaced by `overrides`
    (checked strictly against each field's type; a bad value raises ValueError naming it)."""
    module = get(name)
    if profile not in module.PROFILES:
        raise ValueError(f"unknown profile {profile!r} for experiment {name!r}; "
                         f"valid profiles: {', '.join(module.PROFILES)}")
    config = module.PROFILES[profile]
    fields = [field.name for field in dataclasses.fields(config)]
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(f"unknown config key(s) {', '.join(unknown)} for experiment {name!r}; "
                         f"valid keys: {', '.join(fields)}")
    hints = typing.get_type_hints(type(config))
    typed = {key: _typed(key, value, hints.get(key)) for key, value in overrides.items()}
    try:
        config = dataclasses.replace(config, **typed)
    except TypeError as error:
        raise ValueError(f"config of {name!r} is not valid: {error}") from error
    _check_common(config)
    return config


def parts(name: str, config: Any) -> list[Any]:
    """The configs `config` is run and stored as: one per data set for an experiment whose
    module defines `parts` (so a long run resumes by part), else the config itself."""
    split = getattr(get(name), "parts", None)
    return split(config) if split is not None else [config]


def run_config(
    name: str,
    config: Any,
    device: str | torch.device = "auto",
    root: str | os.PathLike | None = None,
    recompute: bool = False,
    workers: int = 1,
) -> results.Result:
    """The stored result of `name` at `config`, or (if none, or `recompute`) a fresh one, stored;
    `workers` CPU processes share its models where the experiment allows it (`check_workers`)."""
    module = get(name)
    torch_device = resolve_device(device)
    check_workers(name, workers, torch_device)
    key = dataclasses.asdict(config)
    stored = None if recompute else results.load(name, key, root=root)
    if stored is not None:
        return stored
    code = fingerprint.code_record(name)  # the code as it is when the run starts
    options: dict[str, Any] = {"workers": workers} if workers > 1 else {}
    checkpoints = None
    if "checkpoint_dir" in inspect.signature(module.run).parameters:
        # Training checkpoints of exactly this config and code; removed only once the result is stored.
        checkpoints = options["checkpoint_dir"] = checkpoint_dir(name, key, code)
    legs = checkpoint_files.past_legs(checkpoints)
    start = time.perf_counter()
    try:
        with one_cpu_thread(torch_device):  # the book's models are small: a second thread costs more than it gives
            payload = module.run(config, torch_device, **options)
    except BaseException:
        checkpoint_files.record_leg(checkpoints, time.perf_counter() - start)
        raise
    legs.append(time.perf_counter() - start)
    path = results.save(name, key, payload, device=torch_device, wall_time_s=sum(legs), root=root,
                        code=code, legs=legs)
    if checkpoints is not None:
        shutil.rmtree(checkpoints, ignore_errors=True)
    return results.read(path)


def check_workers(name: str, workers: int, device: torch.device) -> None:
    """Refuse a number of worker processes that experiment `name` cannot use on `device`."""
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers={workers!r} must be a whole number of at least 1")
    if workers > 1 and "workers" not in inspect.signature(get(name).run).parameters:
        parallel = [other for other in MODULES if "workers" in inspect.signature(get(other).run).parameters]
        raise ValueError(f"experiment {name!r} trains in one process (its stacked trainer uses the device); "
                         f"workers apply to: {', '.join(parallel)}")
    if workers > 1 and device.type != "cpu":
        raise ValueError(f"workers={workers} applies to the CPU, not {device}; leave workers at 1")


def checkpoint_dir(name: str, config: dict, code: dict | None) -> Path:
    """Where a run of `name` at `config` with this code keeps its training checkpoints."""
    fingerprint_text = code["fingerprint"] if code else "unrecorded-code"
    return paths.cache_dir() / "checkpoints" / name / f"{results.config_hash(config)}-{fingerprint_text}"


def runs_parts_at_once(name: str, device: torch.device, n_parts: int) -> bool:
    """Whether `run_parts_at_once` applies: several parts of an experiment that allows it
    (`CONCURRENT_PARTS`) on a CUDA device."""
    return n_parts > 1 and torch.device(device).type == "cuda" and getattr(get(name), "CONCURRENT_PARTS", False)


def run_parts_at_once(
    name: str,
    configs: Sequence[Any],
    device: str | torch.device,
    root: str | os.PathLike | None = None,
    recompute: bool = False,
) -> Iterator[results.Result]:
    """Run the parts `configs` of `name` at once, each in its own thread (and, on a GPU, its
    own CUDA stream), yielding each result as it is stored. The parts start in the order of
    the module's `GPU_MINUTES` (longest first), each once the one before has set up its
    training step (compiled and captured it; see `train.setups_done`), so the longest part
    is never kept waiting. A failed part does not stop the others; its error is raised once
    they end. Ctrl-C or SIGTERM asks every part to stop at its next chunk of steps (the
    checkpoints stay, so the same command resumes)."""
    from radogaga import train

    torch_device = resolve_device(device)
    estimates = getattr(get(name), "GPU_MINUTES", {})
    order = sorted(configs, key=lambda c: -float(estimates.get(", ".join(getattr(c, "datasets", ())), 0.0))
                   if isinstance(estimates, dict) else 0.0)
    finished: queue.Queue = queue.Queue()

    def work(config: Any) -> None:
        try:
            if torch_device.type == "cuda":
                with torch.cuda.stream(torch.cuda.Stream(torch_device)):
                    finished.put((config, run_config(name, config, torch_device, root, recompute), None))
            else:
                finished.put((config, run_config(name, config, torch_device, root, recompute), None))
        except BaseException as error:  # noqa: BLE001 - handed to the main thread, which raises it
            finished.put((config, None, error))

    train.request_stop(False)
    threads: list[threading.Thread] = []
    errors: list[BaseException] = []
    pending = list(order)
    try:
        while pending or any(t.is_alive() for t in threads) or not finished.empty():
            if pending and (not threads or not threads[-1].is_alive() or train.setups_done() > started_at):
                started_at = train.setups_done()
                threads.append(threading.Thread(target=work, args=(pending.pop(0),), daemon=True,
                                                name=f"{name}-part-{len(threads)}"))
                threads[-1].start()
            try:
                _, result, error = finished.get(timeout=0.2)
            except queue.Empty:
                continue
            if error is not None:
                errors.append(error)
            else:
                yield result
    except BaseException:
        train.request_stop()
        for thread in threads:  # a part in training stops within a chunk of steps; one scoring is left behind
            thread.join(timeout=60)
        raise
    if errors:
        raise errors[0]


def run_parts(
    name: str,
    profile: str = "quick",
    device: str | torch.device = "auto",
    root: str | os.PathLike | None = None,
    recompute: bool = False,
    **overrides: Any,
) -> Iterator[results.Result]:
    """Every part of `name` at `profile` with `overrides`, each stored or reused on its own,
    yielded as soon as it is done (the config and device are checked before the first)."""
    config = config_for(name, profile, **overrides)
    resolve_device(device)
    return (run_config(name, part, device, root, recompute) for part in parts(name, config))


def run_experiment(
    name: str,
    profile: str = "quick",
    device: str | torch.device = "auto",
    root: str | os.PathLike | None = None,
    recompute: bool = False,
    **overrides: Any,
) -> results.Result:
    """The stored result of `name` at this config, or (if none, or `recompute`) a fresh one, stored.
    The config must be a single part (e.g. one data set); `run_parts` runs several."""
    config = config_for(name, profile, **overrides)
    split = parts(name, config)
    if len(split) != 1:
        raise ValueError(f"this config of {name!r} has {len(split)} parts; run them with run_parts "
                         "(the command line does) or choose one (e.g. one data set).")
    return run_config(name, config, device, root, recompute)
