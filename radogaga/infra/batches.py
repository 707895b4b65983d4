"""Mini-batches for a stack of models, each drawing from its own training rows.

Model m walks through its own row list in epochs, each a fresh permutation from its own
seeded generator, so its batches do not depend on the other models in the stack.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


class StackedBatches:
    """Row indices of shape (M, batch) for each step, model by model in epochs."""

    def __init__(self, rows: Sequence[np.ndarray], batch_size: int, seeds: Sequence[int]):
        if len(rows) != len(seeds):
            raise ValueError(f"got {len(rows)} row lists for {len(seeds)} seeds; give one per model.")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be at least 1.")
        small = [i for i, r in enumerate(rows) if len(r) < 1]
        if small:
            raise ValueError(f"model(s) {small} have no training rows.")
        self.rows = [np.asarray(r, dtype=np.int64) for r in rows]
        self.batch_size = batch_size
        self.generators = [np.random.default_rng(s) for s in seeds]
        self.orders = [np.empty(0, np.int64) for _ in rows]

    def _take(self, m: int) -> np.ndarray:
        taken = []
        needed = self.batch_size
        while needed:
            if not len(self.orders[m]):
                self.orders[m] = self.rows[m][self.generators[m].permutation(len(self.rows[m]))]
            part, self.orders[m] = self.orders[m][:needed], self.orders[m][needed:]
            taken.append(part)
            needed -= len(part)
        return np.concatenate(taken)

    def next(self, steps: int = 1) -> np.ndarray:
        """Indices for the next `steps` steps: shape (steps, M, batch)."""
        return np.stack([np.stack([self._take(m) for m in range(len(self.rows))]) for _ in range(steps)])

    def state(self) -> dict:
        """Generator states and unfinished epochs, for a checkpoint."""
        return {"generators": [g.bit_generator.state for g in self.generators],
                "orders": [o.copy() for o in self.orders]}

    def restore(self, state: dict) -> None:
        """Continue from a checkpoint's state."""
        for generator, saved in zip(self.generators, state["generators"]):
            generator.bit_generator.state = saved
        self.orders = [np.asarray(o, dtype=np.int64) for o in state["orders"]]


class DeviceBatches:
    """`StackedBatches` drawn on the device (what a captured CUDA-graph step uses): model m
    walks through its own rows in epochs, each a fresh `torch.randperm` from its own
    generator on the device, so its batches depend on its seed alone; no index is made on
    the CPU, and nothing waits for the device. (Other random numbers than the NumPy
    generators of `StackedBatches`: the same kind of batches, not the same batches.)"""

    def __init__(self, rows: Sequence[np.ndarray], batch_size: int, seeds: Sequence[int], device: torch.device):
        StackedBatches(rows, batch_size, seeds)  # the same checks
        self.device, self.batch_size = torch.device(device), batch_size
        self.rows = [torch.as_tensor(np.asarray(r, dtype=np.int64), device=self.device) for r in rows]
        self.generators = [torch.Generator(self.device).manual_seed(2_000_029 * s + 5) for s in seeds]
        self.orders = [r[:0] for r in self.rows]

    def _take(self, m: int, count: int) -> torch.Tensor:
        taken, needed = [], count
        while needed:
            if not len(self.orders[m]):
                order = torch.randperm(len(self.rows[m]), generator=self.generators[m], device=self.device)
                self.orders[m] = self.rows[m][order]
            part, self.orders[m] = self.orders[m][:needed], self.orders[m][needed:]
            taken.append(part)
            needed -= len(part)
        return torch.cat(taken)

    def next(self, steps: int = 1) -> torch.Tensor:
        """Indices for the next `steps` steps on the device: shape (steps, M, batch)."""
        indices = torch.empty((steps, len(self.rows), self.batch_size), dtype=torch.long, device=self.device)
        for m in range(len(self.rows)):
            indices[:, m, :] = self._take(m, steps * self.batch_size).view(steps, self.batch_size)
        return indices

    def state(self) -> dict:
        """Generator states and unfinished epochs, for a checkpoint."""
        return {"generators": [g.get_state() for g in self.generators], "orders": [o.cpu() for o in self.orders]}

    def restore(self, state: dict) -> None:
        """Continue from a checkpoint's state."""
        for generator, saved in zip(self.generators, state["generators"]):
            generator.set_state(saved.cpu())
        self.orders = [torch.as_tensor(o, device=self.device) for o in state["orders"]]
