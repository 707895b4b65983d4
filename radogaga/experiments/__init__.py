"""The experiment registry and the one way to run an experiment and store its result.

Each experiment is a module `radogaga/experiments/<name>.py` defining `NAME`, a frozen
dataclass config type, `PROFILES` (at least "quick" and "paper") and
`run(config, device) -> dict`, the JSON-able payload (numpy arrays allowed). Modules are
imported on first use, so the command line starts fast.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pkgutil
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import torch

from radogaga import fingerprint, results
from radogaga.device import resolve_device

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


def _like(current: Any, value: Any) -> Any:
    """An override in the type of the field's current value where JSON loses it (tuple, float)."""
    if isinstance(current, tuple) and isinstance(value, list):
        return tuple(value)
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def config_for(name: str, profile: str = "quick", **overrides: Any) -> Any:
    """The config of experiment `name` at `profile`, with fields replaced by `overrides`."""
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
    return dataclasses.replace(
        config, **{key: _like(getattr(config, key), value) for key, value in overrides.items()}
    )


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
) -> results.Result:
    """The stored result of `name` at `config`, or (if none, or `recompute`) a fresh one, stored."""
    module = get(name)
    torch_device = resolve_device(device)
    key = dataclasses.asdict(config)
    stored = None if recompute else results.load(name, key, root=root)
    if stored is not None:
        return stored
    code = fingerprint.code_record(name)  # the code as it is when the run starts
    start = time.perf_counter()
    payload = module.run(config, torch_device)
    wall_time_s = time.perf_counter() - start
    path = results.save(name, key, payload, device=torch_device, wall_time_s=wall_time_s, root=root,
                        code=code)
    return results.read(path)


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
