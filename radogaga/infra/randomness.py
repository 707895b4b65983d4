"""Every random draw a training step makes, from one place.

Two modes: `per_model` gives each stacked model its own generator, so model m's noise
depends only on its seed (a stack of M trains exactly like M separate runs); `shared`
draws the whole stack from one generator, the form a captured CUDA graph can replay.
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
        if mode == "per_model":
            self.generators = [torch.Generator(self.device).manual_seed(1_000_003 * s + 17) for s in seeds]
        else:
            self.generators = [torch.Generator(self.device).manual_seed(1_000_003 * seeds[0] + 17)] \
                if self.device.type == "cpu" else []
            if self.device.type == "cuda":
                torch.cuda.manual_seed(1_000_003 * seeds[0] + 17)

    def _draw(self, sampler, shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
        if self.mode == "per_model":
            return torch.stack([sampler(tuple(shape), generator=g, device=self.device, dtype=dtype)
                                for g in self.generators])
        generator = self.generators[0] if self.generators else None
        return sampler((self.n_models, *shape), generator=generator, device=self.device, dtype=dtype)

    def normal(self, shape: Sequence[int], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Standard normal draws of shape (M, *shape)."""
        return self._draw(torch.randn, shape, dtype)

    def uniform(self, shape: Sequence[int], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """U(0, 1) draws of shape (M, *shape)."""
        return self._draw(torch.rand, shape, dtype)

    def keep_mask(self, shape: Sequence[int], drop: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Dropout keep mask of shape (M, *shape): 0 with probability `drop`, else 1 (unscaled)."""
        return (self.uniform(shape, dtype) >= drop).to(dtype)

    def state(self) -> list[torch.Tensor]:
        """Generator states, for a checkpoint."""
        states = [g.get_state() for g in self.generators]
        if self.mode == "shared" and self.device.type == "cuda":
            states.append(torch.cuda.get_rng_state(self.device))
        return states

    def restore(self, states: list[torch.Tensor]) -> None:
        """Put the generators back to a checkpoint's states."""
        states = [state.cpu() for state in states]  # a checkpoint may be loaded onto the GPU
        for generator, state in zip(self.generators, states):
            generator.set_state(state)
        if self.mode == "shared" and self.device.type == "cuda":
            torch.cuda.set_rng_state(states[-1], self.device)
