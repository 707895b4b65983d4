"""Every random draw a training step makes, from one place.

Two modes: `per_model` gives each stacked model its own generator, so model m's noise
depends only on its seed (a stack of M trains exactly like M separate runs); `shared`
draws the whole stack from one generator of its own, the form a captured CUDA graph can
replay. A captured step reads its draws from static buffers (`make_static`) that
`refill` draws anew, outside the graph, before each replay, in the order and shapes the
step asked for; so a step draws the same numbers eagerly or replayed, and a run's draws
depend on its seed alone, not on other runs sharing the device or the process.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

MODES = ("per_model", "shared")


class Randomness:
    """Noise, uniform draws and dropout masks with a leading model dimension."""

    def __init__(self, seeds: Sequence[int], device: torch.device, mode: str = "per_model"):
        if mode not in MODES:
            raise ValueError(f"randomness mode {mode!r} is not known; choose one of {MODES}.")
        self.n_models, self.device, self.mode = len(seeds), torch.device(device), mode
        chosen = seeds if mode == "per_model" else seeds[:1]
        self.generators = [torch.Generator(self.device).manual_seed(1_000_003 * s + 17) for s in chosen]
        self._asked: list[tuple[str, tuple[int, ...], torch.dtype]] = []  # the draws of the last step
        self._static: list[torch.Tensor] | None = None
        self._kinds: list[str] = []
        self._next = 0

    def _draw(self, kind: str, shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
        full = (self.n_models, *shape)
        if self._static is not None:
            if self._next >= len(self._static) or self._static[self._next].shape != full:
                raise RuntimeError(f"a captured step asked for a {kind} draw of shape {full} that its warm-up "
                                   "steps did not ask for; a step must draw the same shapes every time.")
            self._next += 1
            return self._static[self._next - 1]
        self._asked.append((kind, full, dtype))
        sampler = torch.randn if kind == "normal" else torch.rand
        if self.mode == "per_model":
            return torch.stack([sampler(tuple(shape), generator=g, device=self.device, dtype=dtype)
                                for g in self.generators])
        return sampler(full, generator=self.generators[0], device=self.device, dtype=dtype)

    def normal(self, shape: Sequence[int], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Standard normal draws of shape (M, *shape)."""
        return self._draw("normal", shape, dtype)

    def uniform(self, shape: Sequence[int], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """U(0, 1) draws of shape (M, *shape)."""
        return self._draw("uniform", shape, dtype)

    def keep_mask(self, shape: Sequence[int], drop: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Dropout keep mask of shape (M, *shape): 0 with probability `drop`, else 1 (unscaled)."""
        return (self.uniform(shape, dtype) >= drop).to(dtype)

    def begin_step(self) -> None:
        """Mark the start of a step: forget the draws asked for so far; a static step starts
        handing out its buffers from the first."""
        self._asked, self._next = [], 0

    def make_static(self) -> None:
        """From now on, hand out buffers shaped like the last step's draws (shared mode only):
        the draws a captured step reads. `refill` gives them new values."""
        if self.mode != "shared":
            raise ValueError("static draws need the shared mode (one generator for the stack).")
        self._static = [torch.empty(shape, dtype=dtype, device=self.device) for _, shape, dtype in self._asked]
        self._kinds = [kind for kind, _, _ in self._asked]
        self._next = 0

    def release_static(self) -> None:
        """Draw afresh at every call again (after a failed capture)."""
        self._static, self._next = None, 0

    def refill(self) -> None:
        """Draw the static buffers anew, in the order the step asks for them (before a replay)."""
        generator = self.generators[0]
        for kind, buffer in zip(self._kinds, self._static or []):
            if kind == "normal":
                buffer.normal_(generator=generator)
            else:
                buffer.uniform_(generator=generator)
        self._next = 0

    def state(self) -> list[torch.Tensor]:
        """Generator states, for a checkpoint."""
        return [g.get_state() for g in self.generators]

    def restore(self, states: list[torch.Tensor]) -> None:
        """Put the generators back to a checkpoint's states."""
        if len(states) != len(self.generators):
            raise ValueError(f"a checkpoint with {len(states)} generator states for {len(self.generators)} "
                             "generators: it belongs to another run.")
        for generator, state in zip(self.generators, states):
            generator.set_state(state.cpu())  # a checkpoint may be loaded onto the GPU
