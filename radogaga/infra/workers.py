"""Worker processes that end with their parent: a killed run leaves no worker computing on."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

_PR_SET_PDEATHSIG = 1  # Linux prctl option: the signal a process gets when its parent ends


def _end_with_parent(parent: int) -> None:
    """In a worker: be sent SIGKILL when the parent process ends (Linux), or exit now if it already has."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _start_worker(parent: int, setup: Callable | None, setup_args: tuple) -> None:
    _end_with_parent(parent)
    if setup is not None:
        setup(*setup_args)


def process_pool(workers: int, setup: Callable | None = None, setup_args: tuple = ()) -> ProcessPoolExecutor:
    """A pool of `workers` fresh (spawned) processes, each ending when this process ends; each
    first calls `setup(*setup_args)` (e.g. to keep large data that every task reads, sent once)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(os.getpid(), setup, setup_args))
