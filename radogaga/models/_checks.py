"""Shape and value checks shared by the models: a wrong input fails with the shape it should have."""

from __future__ import annotations

import torch
from torch import Tensor


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


def check_finite(name: str, tensor: Tensor) -> None:
    """Raise ValueError if `tensor` holds a NaN or an infinity (this synchronises the device)."""
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} holds non-finite values (NaN or infinity)")
