"""The tabular anomaly-detection sets: KDDCUP99, KDDCUP-Rev, Thyroid, Arrhythmia."""

from __future__ import annotations

import gzip
import zlib
from functools import lru_cache

import numpy as np
import pandas as pd
import scipy.io

from radogaga.data.dataset import Dataset, anomaly_meta, minmax_columns
from radogaga.data.fetch import DataError, locate
from radogaga.data.registry import ARRHYTHMIA, KDDCUP99, THYROID, DataFile

# kddcup.names: columns 1-3 and 6, 11, 20, 21 (0-based) are symbolic; 41 is the label.
KDD_SYMBOLIC = {
    1: "protocol_type", 2: "service", 3: "flag", 6: "land",
    11: "logged_in", 20: "is_host_login", 21: "is_guest_login",
}
KDD_LABEL_COLUMN = 41
KDD_NORMAL = "normal."
MINMAX = "per-feature min-max to [0, 1] (constant features -> 0)"


@lru_cache(maxsize=1)
def _kdd_table(path, digest: str) -> tuple[np.ndarray, np.ndarray]:
    """Unscaled features and the 'normal.' mask, parsed once per verified file."""
    frame = _read_kdd(path)
    features = _kdd_features(frame)
    features.flags.writeable = False
    return features, (frame[KDD_LABEL_COLUMN] == KDD_NORMAL).to_numpy()


def _read_kdd(path) -> pd.DataFrame:
    try:
        with gzip.open(path, "rt") as handle:
            frame = pd.read_csv(handle, header=None)
    except (OSError, EOFError, zlib.error, pd.errors.ParserError) as error:
        raise DataError(f"{path} could not be parsed as the KDD Cup 99 gzip CSV: {error}") from error
    if frame.shape[1] != KDD_LABEL_COLUMN + 1:
        raise DataError(f"{path} has {frame.shape[1]} columns, expected {KDD_LABEL_COLUMN + 1}.")
    return frame


def _kdd_features(frame: pd.DataFrame) -> np.ndarray:
    """One-hot of the seven symbolic columns (levels sorted) followed by the 34 continuous."""
    symbolic = [pd.get_dummies(frame[c].astype(str), dtype=np.float32) for c in KDD_SYMBOLIC]
    continuous = frame.drop(columns=[*KDD_SYMBOLIC, KDD_LABEL_COLUMN]).to_numpy(np.float64)
    return np.concatenate([*(s.to_numpy() for s in symbolic), continuous], axis=1)


def load_kddcup99(path=None) -> Dataset:
    """KDDCUP99 10 %: 494,021 x 121, label 1 = 'normal.' (the minority, as in DAGMM)."""
    file, digest = locate(KDDCUP99, path)
    features, is_normal = _kdd_table(file, digest)
    X = minmax_columns(features)
    y = is_normal.astype(np.int64)
    return Dataset(X, y, anomaly_meta(
        "kddcup99", X, y,
        preprocessing=f"one-hot of the 7 symbolic columns + 34 continuous; {MINMAX}; "
                      "'normal.' rows are the anomaly class",
        source_url=KDDCUP99.url, sha256=digest, credit=KDDCUP99.credit,
    ))


def load_kddcup_rev(path=None, seed: int = 0) -> Dataset:
    """KDDCUP-Rev: all 'normal.' rows plus attacks drawn (seeded) to a quarter of them;
    attacks are the anomalies."""
    file, digest = locate(KDDCUP99, path)
    features, is_normal = _kdd_table(file, digest)
    normal_rows = np.flatnonzero(is_normal)
    attack_rows = np.flatnonzero(~is_normal)
    drawn = np.random.default_rng(seed).choice(attack_rows, len(normal_rows) // 4, replace=False)
    rows = np.sort(np.concatenate([normal_rows, drawn]))
    X = minmax_columns(features[rows])
    y = (~is_normal[rows]).astype(np.int64)
    return Dataset(X, y, anomaly_meta(
        "kddcup_rev", X, y,
        preprocessing=f"KDDCUP99 features; all 'normal.' rows + attacks drawn with seed {seed} "
                      f"to 1/4 of them; {MINMAX} over these rows; attacks are the anomaly class",
        source_url=KDDCUP99.url, sha256=digest, credit=KDDCUP99.credit,
    ))


def _load_odds(name: str, spec: DataFile, path) -> Dataset:
    file, digest = locate(spec, path)
    try:
        contents = scipy.io.loadmat(file)
        X_raw, y_raw = contents["X"], contents["y"]
    except (ValueError, KeyError, OSError) as error:
        raise DataError(f"{file} is not an ODDS .mat file with arrays X and y: {error}") from error
    X = minmax_columns(np.asarray(X_raw, dtype=np.float64))
    y = np.asarray(y_raw).ravel().astype(np.int64)
    return Dataset(X, y, anomaly_meta(
        name, X, y, preprocessing=f"ODDS X; {MINMAX}; y = 1 for outliers",
        source_url=spec.url, sha256=digest, credit=spec.credit,
    ))


def load_thyroid(path=None) -> Dataset:
    """ODDS Thyroid: 3,772 x 6, 93 anomalies."""
    return _load_odds("thyroid", THYROID, path)


def load_arrhythmia(path=None) -> Dataset:
    """ODDS Arrhythmia: 452 x 274, 66 anomalies."""
    return _load_odds("arrhythmia", ARRHYTHMIA, path)
