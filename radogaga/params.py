"""Checks for the chapters' papermill parameters: a bad value fails at once, naming the
parameter, the value and what would be valid. Each check returns the value."""

from __future__ import annotations

import math
import os
import re
import numbers
from collections.abc import Collection
from typing import Any


def _fail(name: str, value: Any, expected: str) -> ValueError:
    return ValueError(f"parameter {name!r} = {value!r} ({type(value).__name__}) is not valid: {expected}")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def choice(name: str, value: Any, choices: Collection) -> Any:
    """`value` if it is one of `choices`."""
    if value not in choices:
        raise _fail(name, value, f"choose one of {', '.join(map(repr, choices))}")
    return value


def positive_int(name: str, value: Any) -> int:
    """`value` as an int if it is an integer >= 1."""
    if not _is_int(value) or value < 1:
        raise _fail(name, value, "expected an integer >= 1")
    return int(value)


def positive_float(name: str, value: Any) -> float:
    """`value` as a float if it is a finite real number > 0."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise _fail(name, value, "expected a finite number > 0")
    return float(value)


def boolean(name: str, value: Any) -> bool:
    """`value` if it is True or False."""
    if not isinstance(value, bool):
        raise _fail(name, value, "expected True or False")
    return value


def int_list(name: str, value: Any, min_len: int = 1) -> list[int]:
    """`value` as a list if it is a list or tuple of at least `min_len` integers >= 0 (e.g. seeds)."""
    valid = isinstance(value, (list, tuple)) and len(value) >= min_len and all(
        _is_int(item) and item >= 0 for item in value
    )
    if not valid:
        raise _fail(name, value, f"expected a list of at least {min_len} integer(s) >= 0, e.g. [0, 1, 2]")
    return [int(item) for item in value]


def non_negative_int(name: str, value: Any) -> int:
    """`value` as an int if it is an integer >= 0 (e.g. a seed)."""
    if not _is_int(value) or value < 0:
        raise _fail(name, value, "expected an integer >= 0")
    return int(value)


def existing_dir(name: str, value: Any) -> str:
    """`value` if it names an existing folder."""
    if not isinstance(value, (str, os.PathLike)) or not os.path.isdir(value):
        raise _fail(name, value, "expected the path of an existing folder")
    return os.fspath(value)


def slug(name: str, value: Any) -> str:
    """`value` if it is a file-name-safe word: lowercase letters, digits, '-' and '_'."""
    if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value):
        raise _fail(name, value, "expected lowercase letters, digits, '-' and '_', e.g. 'data-seed7'")
    return value
