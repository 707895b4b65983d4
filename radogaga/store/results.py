"""The results store: one JSON file per experiment and config hash, with provenance.

A result lives at `<root>/<experiment>/<config hash>.json`. Loading checks that the
stored config is exactly the requested one, so a result computed for another config is
never returned, and that the file is sealed: it carries the sha256 `digest` of its config
and payload, so a number edited by hand is found. A result is stored only if every number
in it is finite or marked undefined with its reason (the payload's `undefined`: a path
such as "models[26]" and why). Writes are atomic: a killed run leaves the previous file
(or none), and its temp file is removed by the next write.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radogaga import __version__
from radogaga.infra import paths
from radogaga.infra.files import atomic_write, remove_stale_temps

FORMAT = 1
KEYS = ("format", "experiment", "config_hash", "config", "provenance", "payload")
_NAME = re.compile(r"[a-z0-9_-]+")
_ARRAY_KINDS = "biuf"  # bool, signed/unsigned int, float: the dtypes JSON can hold exactly


class ResultsError(RuntimeError):
    """A stored result file is unreadable or does not match what was asked for."""


class NonFiniteResult(ValueError):
    """A result to store holds NaN or infinity where no reason marks the number undefined."""


UNDEFINED = "undefined"  # payload key: {path: reason} for numbers that are undefined by nature


def _non_finite(value: Any, path: str = "") -> list[str]:
    """Paths (e.g. "models[3].slope") of the NaN and infinite numbers in an encoded payload."""
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return [f"{path}[{i}]" for i, item in enumerate(value["__ndarray__"])
                    if isinstance(item, float) and not np.isfinite(item)]
        return [found for key, item in value.items() for found in _non_finite(item, f"{path}.{key}" if path else key)]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in _non_finite(item, f"{path}[{i}]")]
    return [path] if isinstance(value, float) and not np.isfinite(value) else []


def check_finite(experiment: str, payload: Mapping) -> None:
    """Refuse an encoded payload with a non-finite number not under a path its `undefined` marks."""
    marks = payload.get(UNDEFINED, {})
    if not isinstance(marks, Mapping) or not all(isinstance(v, str) and v for v in marks.values()):
        raise TypeError(f"payload[{UNDEFINED!r}] must map paths to their reasons (non-empty strings)")
    bad = [path for path in _non_finite({k: v for k, v in payload.items() if k != UNDEFINED})
           if not any(path == mark or path.startswith((f"{mark}.", f"{mark}[")) for mark in marks)]
    if bad:
        shown = ", ".join(bad[:6]) + (f" and {len(bad) - 6} more" if len(bad) > 6 else "")
        raise NonFiniteResult(
            f"the {experiment} result holds NaN or infinity at {shown}, so it is not stored: the training "
            "diverged or a measure is undefined there. Lower learning_rate (or check the settings) and run again.")


def digest(document: Mapping) -> str:
    """The seal of a result document: sha256 of its config and (encoded) payload."""
    sealed = {"config": document["config"], "payload": document["payload"]}
    return hashlib.sha256(_canonical_json(sealed).encode("utf-8")).hexdigest()


@dataclass(frozen=True, eq=False)
class Result:
    """A stored result: experiment name, its config, the payload and its provenance.

    Compared by identity: payloads hold numpy arrays, which have no single truth value.
    """

    experiment: str
    config: dict
    payload: dict
    provenance: dict

    @property
    def key(self) -> str:
        """The config hash that names the result file."""
        return config_hash(self.config)


def _canonical_json(config: Mapping) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=True)


def config_hash(config: Mapping) -> str:
    """First 16 hex digits of the sha256 of the config's canonical JSON (tuples as lists)."""
    return hashlib.sha256(_canonical_json(config).encode("utf-8")).hexdigest()[:16]


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return torch.cuda.get_device_name(index)
    if device.type == "cpu":
        cpu = platform.processor() or platform.machine() or "unknown"
        return f"{cpu} CPU ({os.cpu_count()} cores)"
    return device.type


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10)
    return done.stdout.strip()


def code_state() -> tuple[str, bool | None]:
    """The commit of the code and whether tracked files other than stored results differ from
    it (a run that overwrites a stored result does not make its own code "modified"). Where the code runs
    from a copy (a remote GPU machine), `RADOGAGA_GIT_COMMIT` names the commit it was copied
    from and wins over any git metadata travelling with the copy, which may be older than
    its files; whether the files differ is then unknown (None), and the code fingerprint
    stored beside it says what ran. Without either: ("unknown", None)."""
    if os.environ.get("RADOGAGA_GIT_COMMIT"):
        return os.environ["RADOGAGA_GIT_COMMIT"], None
    root = paths.project_root()
    if root is None:
        return "unknown", None
    try:
        return _git(root, "rev-parse", "HEAD"), bool(_git(root, "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results"))
    except (OSError, subprocess.SubprocessError):
        return "unknown", None


def provenance(device: str | torch.device, wall_time_s: float, code: Mapping | None = None,
               legs: Sequence[float] = ()) -> dict:
    """Where and with what a result was computed (no hostnames, no filesystem paths); `code`
    is the fingerprint of the code that computed it (`radogaga.store.fingerprint.code_record`);
    `legs` the wall time of each leg of a run that was interrupted and resumed."""
    commit, dirty = code_state()
    return {
        "device": device_name(torch.device(device)),
        "torch_version": torch.__version__,
        "package_version": __version__,
        "python_version": platform.python_version(),
        "git_commit": commit,
        "git_dirty": dirty,
        "utc_time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_time_s": float(wall_time_s),
        **({"wall_time_legs_s": [float(leg) for leg in legs]} if len(legs) > 1 else {}),
        **({"code": dict(code)} if code is not None else {}),
    }


def _encode(value: Any) -> Any:
    """A JSON-ready copy of a payload: numpy arrays tagged with dtype and shape."""
    if isinstance(value, Mapping):
        bad = [key for key in value if not isinstance(key, str)]
        if bad:
            raise TypeError(f"payload keys must be strings, got {bad!r}")
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"cannot store a numpy array of dtype {value.dtype}; use bool, int or float")
        # float32 as its shortest decimal that reads back to the same float32 (half the text)
        items = ([float(str(v)) for v in value.ravel()] if value.dtype == np.float32 else value.ravel().tolist())
        return {"__ndarray__": items, "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in a result; use JSON types or numpy arrays")


def _decode(obj: dict) -> Any:
    """json object hook: turn tagged arrays back into numpy arrays."""
    if "__ndarray__" in obj:
        return np.array(obj["__ndarray__"], dtype=obj["dtype"]).reshape(obj["shape"])
    return obj


def _folder(experiment: str, root: str | os.PathLike | None) -> Path:
    if not isinstance(experiment, str) or not _NAME.fullmatch(experiment):
        raise ValueError(
            f"experiment name {experiment!r} is not allowed: use lowercase letters, digits, '_' and '-' only"
        )
    return Path(root if root is not None else paths.results_dir()) / experiment


def path_for(experiment: str, config: Mapping, *, root: str | os.PathLike | None = None) -> Path:
    """The file that holds (or would hold) the result of `experiment` at `config`."""
    return _folder(experiment, root) / f"{config_hash(config)}.json"


def save(
    experiment: str,
    config: Mapping,
    payload: Mapping,
    *,
    device: str | torch.device,
    wall_time_s: float,
    root: str | os.PathLike | None = None,
    code: Mapping | None = None,
    legs: Sequence[float] = (),
) -> Path:
    """Store a result atomically under `root/<experiment>/<config hash>.json`; returns the path.
    `wall_time_s` is the run's whole time; `legs` its parts when it was resumed."""
    path = path_for(experiment, config, root=root)
    if not isinstance(payload, Mapping):
        raise TypeError(f"payload must be a dict, got {type(payload).__name__}")
    encoded = json.loads(_canonical_json(_encode(payload)))  # as it will read back
    check_finite(experiment, encoded)
    document = {
        "format": FORMAT,
        "experiment": experiment,
        "config_hash": config_hash(config),
        "config": json.loads(_canonical_json(config)),
        "provenance": provenance(device, wall_time_s, code, legs),
        "payload": encoded,
    }
    write_document(path, document)
    return path


def write_document(path: Path, document: Mapping) -> None:
    """Seal a result document (its `digest`) and write it (JSON) to `path` atomically."""
    document = {**document, "digest": digest(document)}
    remove_stale_temps(path.parent)
    with atomic_write(path) as handle:
        json.dump(document, handle, allow_nan=True)
        handle.write("\n")


def _broken(path: Path, problem: str) -> ResultsError:
    return ResultsError(
        f"{path}: {problem}. Delete the file, or rerun with recompute=True (--recompute) to overwrite it."
    )


def _check(path: Path, document: Any) -> None:
    if not isinstance(document, dict):
        raise _broken(path, "is not a result file (top level is not a JSON object)")
    missing = [key for key in KEYS if key not in document]
    if missing:
        raise _broken(path, f"is not a result file (missing {', '.join(missing)})")
    if document["format"] != FORMAT:
        raise _broken(path, f"has format {document['format']!r}, this radogaga reads format {FORMAT}")
    if document["experiment"] != path.parent.name:
        raise _broken(path, f"holds experiment {document['experiment']!r} but lies in folder {path.parent.name!r}")
    if not all(isinstance(document[key], dict) for key in ("config", "provenance", "payload")):
        raise _broken(path, "has a config, provenance or payload that is not a JSON object")
    stored_hash = config_hash(document["config"])
    if not document["config_hash"] == path.stem == stored_hash:
        raise _broken(path, f"holds a config whose hash is {stored_hash}, but its name and config_hash say "
                            f"{path.stem} and {document['config_hash']} (edited by hand?)")


def _check_seal(path: Path, document: dict) -> None:
    if "digest" not in document:
        raise ResultsError(f"{path}: has no digest (it was stored before results were sealed); seal the stored "
                           f"results once with `python -m radogaga.migrations {path.parent.parent}`.")
    if document["digest"] != digest(document):
        raise _broken(path, "was changed after it was stored: its config or payload no longer matches its digest "
                            "(a number edited by hand?)")


def read_document(path: str | os.PathLike) -> dict:
    """A result file's JSON as stored (arrays still tagged), checked but not its seal."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except IsADirectoryError as error:
        raise _broken(path, "is a folder, not a result file") from error
    except (ValueError, TypeError, UnicodeDecodeError) as error:
        raise _broken(path, f"is not valid result JSON ({error})") from error
    _check(path, document)
    return document


def _decoded(value: Any) -> Any:
    if isinstance(value, dict):
        return _decode({key: _decoded(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_decoded(item) for item in value]
    return value


def read(path: str | os.PathLike, sealed: bool = True) -> Result:
    """Read and check one result file, its seal included (`sealed=False`: a file that older code
    wrote without one); ResultsError if it is corrupt, inconsistent or changed since it was stored."""
    path = Path(path)
    document = read_document(path)
    if sealed or "digest" in document:
        _check_seal(path, document)
    return Result(document["experiment"], document["config"], _decoded(document["payload"]), document["provenance"])


def seal(path: str | os.PathLike) -> bool:
    """Give a stored result written before sealing its digest (the migration); True if it had none.
    A file that has one is checked instead (ResultsError if it fails)."""
    path = Path(path)
    document = read_document(path)
    if "digest" in document:
        _check_seal(path, document)
        return False
    write_document(path, document)
    return True


def load(experiment: str, config: Mapping, *, root: str | os.PathLike | None = None) -> Result | None:
    """The stored result of `experiment` for exactly `config`, or None if there is none."""
    path = path_for(experiment, config, root=root)
    if not path.exists():
        return None
    result = read(path)
    if _canonical_json(result.config) != _canonical_json(config):
        raise _broken(path, f"holds the result of another config than the requested {dict(config)}")
    return result


def find(experiment: str, *, root: str | os.PathLike | None = None) -> list[Result]:
    """All stored results of `experiment`, in file-name order."""
    folder = _folder(experiment, root)
    return [read(path) for path in sorted(folder.glob("*.json"))]


def add_config_field(experiment: str, field: str, value: Any, *, root: str | os.PathLike | None = None) -> list[Path]:
    """Keep the stored results of `experiment` reachable after its config gained `field`: each
    result whose config lacks it gets `field = value` (the behaviour of the code before the field
    existed) and moves, atomically, to the file of its new config hash. Payload and provenance are
    kept as stored. Returns the new paths; results that already have the field are left alone."""
    moved = []
    for path in sorted(_folder(experiment, root).glob("*.json")):
        document = read_document(path)  # refuse a corrupt file before touching it
        if "digest" in document:
            _check_seal(path, document)
        if field in document["config"]:
            continue
        document["config"][field] = value
        moved.append(move_to_config_hash(path, document))
    return moved


def move_to_config_hash(path: Path, document: dict) -> Path:
    """Store a result `document` whose config a migration changed at the file of its new config
    hash (sealed anew) and remove `path`; refuse when another result already has that config."""
    document["config_hash"] = config_hash(document["config"])
    target = path.with_name(f"{document['config_hash']}.json")
    if target.exists():
        raise ResultsError(f"{path}: with its migrated config it is the result in {target.name}, which exists; "
                           "keep one of the two files and run the migration again.")
    write_document(target, document)
    path.unlink()
    return target


def provenance_line(result: Result) -> str:
    """One human line for a chapter: device, versions, commit, time and wall time."""
    info = result.provenance
    commit = str(info.get("git_commit", "unknown"))
    commit = commit if commit == "unknown" else commit[:7] + (" (modified)" if info.get("git_dirty") else "")
    try:
        when = datetime.fromisoformat(info["utc_time"]).strftime("%Y-%m-%d %H:%M UTC")
    except (KeyError, TypeError, ValueError):
        when = "unknown time"
    wall = info.get("wall_time_s")
    wall_text = f"{wall:.1f} s" if isinstance(wall, (int, float)) else "unknown"
    return (
        f"computed on {info.get('device', 'unknown device')} with torch {info.get('torch_version', '?')}, "
        f"radogaga {info.get('package_version', '?')}, commit {commit}, {when}, wall time {wall_text}"
    )
