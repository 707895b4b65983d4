"""Find a data file (explicit path, `RADOGAGA_DATA`, user cache), download it if
allowed, and verify its sha256 before anything reads it."""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
from pathlib import Path

from radogaga.data.registry import DataFile
from radogaga.infra.files import atomic_write
from radogaga.infra.paths import cache_dir

DATA_VARIABLE = "RADOGAGA_DATA"
OFFLINE_VARIABLE = "RADOGAGA_OFFLINE"


class DataError(RuntimeError):
    """A data set cannot be provided; the message says what to do."""


class DataNotFoundError(DataError, FileNotFoundError):
    """The file is not on disk and could not be downloaded."""


class ChecksumError(DataError):
    """A file's sha256 does not match the registry: it is never used."""


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, spec: DataFile) -> str:
    """Return the file's sha256 if it is one the registry knows, else raise ChecksumError."""
    found = sha256_of(path)
    if found not in spec.sha256:
        raise ChecksumError(
            f"{path} has sha256 {found}, expected {' or '.join(spec.sha256)}. The file is "
            f"truncated, corrupt or a different version, so it was not used. Delete it and "
            f"download it again from {spec.url}."
        )
    return found


def candidates(spec: DataFile, path: str | os.PathLike | None = None) -> list[Path]:
    """Where the file is looked for, in order."""
    if path is not None:  # an explicit place is the only place: never fall back silently
        given = Path(path).expanduser()
        return [given / spec.relpath if given.is_dir() else given]
    places = []
    if os.environ.get(DATA_VARIABLE):
        places.append(Path(os.environ[DATA_VARIABLE]).expanduser() / spec.relpath)
    places.append(cache_dir() / spec.relpath)
    return places


def locate(spec: DataFile, path: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Path and verified sha256 of the file; downloads into the cache if it is nowhere."""
    places = candidates(spec, path)
    for place in places:
        if place.is_file():
            try:
                return place, verify(place, spec)
            except PermissionError as error:
                raise DataError(f"{place} exists but cannot be read (permission denied); make it readable "
                                f"or point {DATA_VARIABLE} at a readable copy.") from error
    if path is not None:
        raise DataNotFoundError(f"{places[0]} does not exist (given as path={path!r}); give the path of the "
                                f"file or of a folder holding {spec.relpath}.")
    target = places[-1]
    download(spec, target)
    return target, verify(target, spec)


def download(spec: DataFile, target: Path) -> None:
    """Download into `target` atomically, trying each public home; checks sha256 first."""
    offline = os.environ.get(OFFLINE_VARIABLE, "") not in ("", "0")
    failures = []
    for url in () if offline else spec.urls:
        try:
            with atomic_write(target, "wb", check=lambda tmp: verify(tmp, spec)) as out, \
                    urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, out)
            return
        except (OSError, ChecksumError) as error:
            failures.append(f"{url}: {error}")
    reason = "downloads are switched off (RADOGAGA_OFFLINE)" if offline else "; ".join(failures)
    raise DataNotFoundError(
        f"Data file {spec.relpath!r} was not found and could not be downloaded ({reason}). "
        f"Download it from {spec.url} (sha256 {spec.sha256[0]}) and either set "
        f"{DATA_VARIABLE} to the folder that holds {spec.relpath}, or put it at {target}."
    )
