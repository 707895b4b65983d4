"""The record every loader returns: arrays plus a provenance line for the chapters."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class DatasetMeta:
    """What a data set is and where it came from."""

    name: str
    shape: tuple[int, ...]
    n_anomalies: int | None
    anomaly_ratio: float | None
    label_meaning: str
    preprocessing: str
    source_url: str
    sha256: str
    credit: str

    def provenance_line(self) -> str:
        """One line for a chapter: name, shape, anomaly share, checksum and credit."""
        shape = " x ".join(f"{n:,}" for n in self.shape)
        ratio = "" if self.anomaly_ratio is None else (
            f", {self.n_anomalies:,} anomalies ({100 * self.anomaly_ratio:.2f} %)"
        )
        digest = f"sha256 {self.sha256[:12]}..." if self.sha256 else "no checksum"
        return f"{self.name}: {shape}{ratio}; {self.preprocessing}; {digest}; {self.credit}"


@dataclass(frozen=True)
class Dataset:
    """Inputs `X` (float32), labels `y` (None where unlabelled), extra arrays and meta.

    `extras` holds the arrays a set has beyond X and y, e.g. the toy data's true
    density and 3-D source point per row (`density`, `source`) and its 16 x 3 map (`lift`).
    """

    X: np.ndarray
    y: np.ndarray | None
    meta: DatasetMeta
    extras: dict[str, np.ndarray] = field(default_factory=dict)


def anomaly_meta(name: str, X: np.ndarray, y: np.ndarray, **fields) -> DatasetMeta:
    """Meta for a labelled anomaly-detection set (y = 1 marks an anomaly)."""
    n_anomalies = int(y.sum())
    return DatasetMeta(
        name=name,
        shape=tuple(X.shape),
        n_anomalies=n_anomalies,
        anomaly_ratio=n_anomalies / len(y),
        label_meaning="1 = anomaly",
        **fields,
    )


def minmax_columns(X: np.ndarray) -> np.ndarray:
    """Scale each column to [0, 1]; a constant column becomes 0."""
    low, high = X.min(axis=0), X.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return ((X - low) / span).astype(np.float32)
