"""Every data set of the book by name: `names()`, `load(name, **options)`, `paper_split`.

Files are found at an explicit `path=`, then under `RADOGAGA_DATA`, then in the user
cache (downloaded from the public home on first use); every file's sha256 is checked.
"""

from __future__ import annotations

import inspect
from typing import Callable

from radogaga.data.dataset import Dataset, DatasetMeta
from radogaga.data.faces import load_celeba, load_olivetti
from radogaga.data.fetch import ChecksumError, DataError, DataNotFoundError
from radogaga.data.splits import paper_split, stratified_split
from radogaga.data.tabular import load_arrhythmia, load_kddcup99, load_kddcup_rev, load_thyroid
from radogaga.data.toy import load_toy, load_toy_official, toy_log_density

LOADERS: dict[str, Callable[..., Dataset]] = {
    "kddcup99": load_kddcup99,
    "kddcup_rev": load_kddcup_rev,
    "thyroid": load_thyroid,
    "arrhythmia": load_arrhythmia,
    "toy": load_toy,
    "toy_official": load_toy_official,
    "olivetti": load_olivetti,
    "celeba": load_celeba,
}
ANOMALY_SETS = ("kddcup99", "thyroid", "arrhythmia", "kddcup_rev")


def names() -> list[str]:
    """The names `load` accepts."""
    return list(LOADERS)


def load(name: str, **options) -> Dataset:
    """Load a data set by name; options go to its loader (e.g. `path=`, `seed=`)."""
    if name not in LOADERS:
        raise ValueError(f"Unknown data set {name!r}; choose one of: {', '.join(LOADERS)}.")
    loader = LOADERS[name]
    accepted = inspect.signature(loader).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"{name} does not take option(s) {unknown}; it takes {sorted(accepted) or 'none'}.")
    return loader(**options)


__all__ = [
    "ANOMALY_SETS", "ChecksumError", "DataError", "DataNotFoundError", "Dataset", "DatasetMeta",
    "load", "names", "paper_split", "stratified_split", "toy_log_density",
]
