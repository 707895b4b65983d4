"""Data on a known curved 2-D sheet in R^3 with a known density, for checking the theory.

The sheet is a generalised cylinder: x = (s1, γ(s2)), where γ is a plane curve
parametrised by arc length whose curvature grows linearly along it (a piece of a
spiral). Both partial derivatives of x have unit length and are orthogonal, so the map
s -> x is an isometry of the plane onto a curved surface: areas on the sheet equal areas
in s, and the density of x with respect to area on the sheet is the density of s. The
source coordinates are independent and one is non-Gaussian (a two-component mixture), so
a factorized density can represent them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate, special

LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


@dataclass(frozen=True)
class Sheet:
    """The sheet's shape and its source density: s1 an equal mixture of N(±mode, spread²),
    s2 ~ N(0, width²); γ has curvature κ(t) = curvature + curvature_slope · t."""

    mode: float = 1.0
    spread: float = 0.375
    width: float = 1.0
    curvature: float = 0.6
    curvature_slope: float = 0.192
    grid_points: int = 40_001

    def _grid(self) -> tuple[np.ndarray, np.ndarray]:
        """The curve γ tabulated on a fine arc-length grid spanning ±8 widths."""
        t = np.linspace(-8 * self.width, 8 * self.width, self.grid_points)
        angle = self.curvature * t + 0.5 * self.curvature_slope * t**2
        tangent = np.stack([np.cos(angle), np.sin(angle)], axis=1)
        curve = integrate.cumulative_trapezoid(tangent, t, axis=0, initial=0.0)
        return t, curve - curve[self.grid_points // 2]

    def embed(self, s: np.ndarray) -> np.ndarray:
        """Points on the sheet, (n, 3), for source coordinates s (n, 2)."""
        t, curve = self._grid()
        if np.abs(s[:, 1]).max(initial=0.0) > t[-1]:
            raise ValueError(f"s2 must lie within ±{t[-1]:g}, the tabulated part of the curve.")
        return np.stack([s[:, 0], np.interp(s[:, 1], t, curve[:, 0]), np.interp(s[:, 1], t, curve[:, 1])],
                        axis=1)

    def source_log_density(self, s: np.ndarray) -> np.ndarray:
        """log p(s) of the source coordinates (n, 2), in nats; equal to the log density of x
        per unit area on the sheet, since the embedding preserves areas."""
        z_minus, z_plus = (s[:, 0] + self.mode) / self.spread, (s[:, 0] - self.mode) / self.spread
        log_first = special.logsumexp([-0.5 * z_minus**2, -0.5 * z_plus**2], axis=0) \
            - np.log(2 * self.spread) - LOG_SQRT_2PI
        log_second = -0.5 * (s[:, 1] / self.width) ** 2 - np.log(self.width) - LOG_SQRT_2PI
        return log_first + log_second

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """n points: (x (n, 3), their source coordinates s (n, 2), log density of x on the sheet (n,))."""
        rng = np.random.default_rng(seed)
        sign = rng.choice([-1.0, 1.0], size=n)
        s = np.stack([sign * self.mode + self.spread * rng.standard_normal(n),
                      self.width * rng.standard_normal(n)], axis=1)
        return self.embed(s), s, self.source_log_density(s)
