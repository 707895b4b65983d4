"""Turn a device name from a chapter parameter or the command line into a torch.device."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import re

import torch

CHOICES = ("auto", "cpu", "cuda", "cuda:N")
_CUDA = re.compile(r"cuda(?::(\d+))?")


def parse_device(name: str | torch.device) -> torch.device:
    """The device a name stands for, without asking whether it is present ("auto" is this
    machine's choice): for planning a run on a machine one does not have yet."""
    text = str(name)
    if text == "auto":
        return resolve_device("auto")
    if text != "cpu" and _CUDA.fullmatch(text) is None:
        raise ValueError(f"unknown device {text!r}; valid choices: {', '.join(map(repr, CHOICES))}")
    return torch.device(text)


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """The device for a name: "auto" (cuda if a GPU is visible, else cpu), "cpu", "cuda" or "cuda:N"."""
    text = str(name)
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    match = _CUDA.fullmatch(text)
    if match is None:
        raise ValueError(f"unknown device {text!r}; valid choices: {', '.join(map(repr, CHOICES))}")
    if not torch.cuda.is_available():
        raise ValueError(f"device {text!r} asked for, but no CUDA device is visible; use 'cpu' or 'auto'")
    count = torch.cuda.device_count()
    if match[1] is not None and int(match[1]) >= count:
        raise ValueError(f"device {text!r} asked for, but only {count} CUDA device(s) are visible "
                         f"(cuda:0 to cuda:{count - 1})")
    return torch.device(text)


@contextlib.contextmanager
def one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run with one intra-op thread on a CPU device, then restore the previous setting.

    The book's models are tiny: a second thread costs more in synchronisation than it saves,
    and on a machine whose cores are shared it made a step 15-19 times slower."""
    previous = torch.get_num_threads()
    if torch.device(device).type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
