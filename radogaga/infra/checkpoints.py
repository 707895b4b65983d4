"""Training checkpoints: a checkpoint belongs to exactly one run, named by a key that
covers everything that changes training; it is written atomically (safe when two
processes write it at once), never holds non-finite parameters (the trainer checks before
saving), and a file that cannot be read is moved aside, named, so the run starts afresh."""

from __future__ import annotations

import json
import os
import pickle
import warnings
import zipfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from radogaga.infra.files import atomic_write


class CheckpointMismatch(ValueError):
    """A checkpoint holds the state of another run than the one asking for it."""


def save(path: str | os.PathLike, key: Mapping, state: Mapping[str, Any]) -> None:
    """Store `state` of the run `key` at `path` atomically; a failed write (a full disk) raises
    OSError and leaves the previous checkpoint."""
    try:
        with atomic_write(path, "wb") as handle:
            torch.save({"key": dict(key), **state}, handle)
    except RuntimeError as error:  # torch reports a failed write of its zip stream this way
        raise OSError(f"writing {path} failed ({error})") from error


def _differences(stored: Any, wanted: Mapping, prefix: str = "") -> list[str]:
    if not isinstance(stored, Mapping):
        return [prefix.rstrip(".") or "the whole key"]
    names = sorted(set(stored) | set(wanted))
    found = []
    for name in names:
        if isinstance(wanted.get(name), Mapping) and isinstance(stored.get(name), Mapping):
            found += _differences(stored[name], wanted[name], f"{prefix}{name}.")
        elif stored.get(name) != wanted.get(name):
            found.append(f"{prefix}{name}")
    return found


def load(path: str | os.PathLike, key: Mapping, device: torch.device | str = "cpu") -> dict | None:
    """The state saved at `path` for run `key`, or None when there is none (or it was
    unreadable: it is then moved aside under a name that says so, with a warning).
    A checkpoint of another run raises CheckpointMismatch naming what differs."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        document = torch.load(path, map_location=device, weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        aside = path.with_name(f"{path.name}.unreadable-{stamp}")
        os.replace(path, aside)
        warnings.warn(f"checkpoint {path} could not be read ({type(error).__name__}: {str(error)[:200]}); "
                      f"moved aside to {aside.name}, training starts from step 0.", stacklevel=2)
        return None
    stored = document.get("key") if isinstance(document, dict) else None
    if stored != dict(key):
        raise CheckpointMismatch(
            f"checkpoint {path} belongs to another run (it differs in: "
            f"{', '.join(_differences(stored, key)) or 'its format'}); it is never resumed. Delete it "
            "or give another checkpoint path.")
    return document


LEGS = "legs.json"  # the wall time of each earlier leg of an interrupted run, beside its checkpoints


def run_files(folder: str | os.PathLike) -> list[Path]:
    """Every file a run keeps in its checkpoint folder (checkpoints under any name, and its legs),
    without the temp files of an unfinished write or the unreadable checkpoints set aside:
    what must travel for the run to resume elsewhere."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.rglob("*")
                  if path.is_file() and not path.name.startswith(".") and ".unreadable-" not in path.name)


def past_legs(folder: str | os.PathLike | None) -> list[float]:
    """Wall times (s) of the earlier legs of the run whose checkpoints are in `folder`."""
    path = Path(folder) / LEGS if folder is not None else None
    if path is None or not path.is_file():
        return []
    try:
        legs = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return []
    return [float(leg) for leg in legs] if isinstance(legs, list) else []


def record_leg(folder: str | os.PathLike | None, seconds: float) -> None:
    """Add a leg's wall time to `folder`'s legs, where the leg left a checkpoint to resume from
    (a leg that saved nothing is repeated by the next one, so it does not count)."""
    if folder is None or not any(path.name != LEGS for path in run_files(folder)):
        return
    with atomic_write(Path(folder) / LEGS) as handle:
        json.dump([*past_legs(folder), float(seconds)], handle)
