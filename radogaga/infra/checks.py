"""Checks of values: parameters (the chapters' papermill parameters, the models' constructor
arguments) and tensors (shapes, finiteness). A bad value fails at once, naming the
parameter, the value and what would be valid; each parameter check returns the value.
Lists may come as JSON text, which is what papermill's `-p name '[1, 2]'` passes. Every
NaN or infinity found anywhere is one error type, `NonFiniteError`."""

from __future__ import annotations

import math
import os
import json
import numbers
import re
from collections.abc import Collection
from typing import Any

import torch
from torch import Tensor


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


def list_from_text(value: Any) -> Any:
    """A list given as JSON text (papermill's `-p name '[1, 2]'`) as the list; else `value`."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def int_list(name: str, value: Any, min_len: int = 1) -> list[int]:
    """`value` as a list if it is a list or tuple (or its JSON text) of at least `min_len`
    distinct integers >= 0 (e.g. seeds)."""
    value = list_from_text(value)
    valid = isinstance(value, (list, tuple)) and len(value) >= min_len and all(
        _is_int(item) and item >= 0 for item in value
    ) and len(set(value)) == len(value)
    if not valid:
        raise _fail(name, value, f"expected a list of at least {min_len} distinct integer(s) >= 0, e.g. [0, 1, 2]")
    return [int(item) for item in value]


def float_list(name: str, value: Any) -> list[float]:
    """`value` as a list if it is a non-empty list (or its JSON text) of finite numbers > 0."""
    value = list_from_text(value)
    if not isinstance(value, (list, tuple)) or not value:
        raise _fail(name, value, "expected a non-empty list of numbers > 0, e.g. [0.5, 1.0]")
    return [positive_float(f"{name}[{i}]", item) for i, item in enumerate(value)]


def choice_list(name: str, value: Any, choices: Collection) -> list:
    """`value` as a list if it is a non-empty list (or its JSON text) of distinct `choices`."""
    value = list_from_text(value)
    if not isinstance(value, (list, tuple)) or not value or len(set(value)) != len(value):
        raise _fail(name, value, f"expected a non-empty list of distinct values from {', '.join(map(repr, choices))}")
    return [choice(f"{name}[{i}]", item, choices) for i, item in enumerate(value)]


def device(name: str, value: Any) -> str:
    """`value` if it names a device present here: "auto", "cpu", "cuda" or "cuda:N"."""
    from radogaga.infra.device import resolve_device
    if not isinstance(value, str):
        raise _fail(name, value, "expected 'auto', 'cpu', 'cuda' or 'cuda:N'")
    try:
        resolve_device(value)
    except ValueError as error:
        raise _fail(name, value, str(error)) from error
    return value


# What a notebook's namespace holds besides its parameters when the parameter check runs.
_NOTEBOOK_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open", "os", "subprocess", "sys"})


def no_unknown(namespace: dict, known: Collection[str]) -> None:
    """Fail when a chapter was given a parameter it does not have (papermill only warns)."""
    unknown = sorted(name for name, value in namespace.items()
                     if not name.startswith("_") and name not in known and name not in _NOTEBOOK_NAMES
                     and not callable(value) and type(value).__name__ != "module")
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(map(repr, unknown))}; this chapter's parameters are "
                         f"{', '.join(map(repr, known))}")


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

def check_shape(name: str, tensor: Tensor, *dims: tuple[str, int | None]) -> None:
    """Raise ValueError unless `tensor` has one axis per `(label, size)` pair, each of that size (None: any)."""
    expected = "(" + ", ".join(label if size is None else f"{label}={size}" for label, size in dims) + ")"
    if not isinstance(tensor, Tensor):
        raise ValueError(f"{name} must be a tensor of shape {expected}; got {type(tensor).__name__}")
    fits = tensor.dim() == len(dims) and all(
        size is None or tensor.shape[axis] == size for axis, (_, size) in enumerate(dims)
    )
    if not fits:
        raise ValueError(f"{name} must have shape {expected}; got {tuple(tensor.shape)}")


class NonFiniteError(FloatingPointError, ValueError):
    """A NaN or an infinity where a number must be finite; the message names what. For a
    stack of models, `model`, `label` and `step` say which model and when (else None)."""

    def __init__(self, message: str, model: int | None = None, label: str | None = None,
                 step: int | None = None) -> None:
        super().__init__(message)
        self.model, self.label, self.step = model, label, step


def check_finite(name: str, tensor: Tensor) -> None:
    """Raise NonFiniteError if `tensor` holds a NaN or an infinity (this synchronises the device)."""
    if not bool(torch.isfinite(tensor).all()):
        raise NonFiniteError(f"{name} holds non-finite values (NaN or infinity)")
