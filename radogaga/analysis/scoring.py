"""From anomaly scores to decisions and measures. Higher score = more anomalous.

Two ways to set the threshold:

* the paper's (and DAGMM's): flag the highest-scoring share of the *test* rows, the share
  being the data set's known anomaly ratio — it uses knowledge of the test set;
  (DAGMM's public code flags the scores above the test scores' percentile instead, which
  can flag a row fewer or more; both are computed);
* leakage-free: the (1 − α) quantile of the *training* scores (normal rows only), which
  aims at a false-alarm rate α on normal data and uses no test label and no ratio.

AUROC and average precision need no threshold at all.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def _check_scores(name: str, scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or not len(scores):
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {scores.shape}.")
    bad = int((~np.isfinite(scores)).sum())
    if bad:
        raise ValueError(f"{name} has {bad} non-finite value(s) of {len(scores)}: the model's scores are "
                         "broken (a diverged training run or a singular mixture); check its training losses.")
    return scores


def flag_top(scores: np.ndarray, count: int) -> np.ndarray:
    """Flag exactly `count` rows, those with the highest scores (ties by row order)."""
    scores = _check_scores("scores", scores)
    if not 0 < count < len(scores):
        raise ValueError(f"count={count!r} must lie between 1 and the number of rows less one, {len(scores) - 1}.")
    flagged = np.zeros(len(scores), dtype=bool)
    flagged[np.argsort(-scores, kind="stable")[:count]] = True
    return flagged


def flag_top_share(scores: np.ndarray, share: float) -> np.ndarray:
    """Flag exactly round(share · n) rows, those with the highest scores (ties by row order)."""
    if not 0 < share < 1:
        raise ValueError(f"share={share!r} must be in (0, 1).")
    return flag_top(scores, round(share * len(np.asarray(scores))))


def training_threshold(train_scores: np.ndarray, false_alarm: float) -> float:
    """The (1 − false_alarm) quantile of the training scores of normal rows."""
    train_scores = _check_scores("train_scores", train_scores)
    if not 0 < false_alarm < 1:
        raise ValueError(f"false_alarm={false_alarm!r} must be in (0, 1).")
    return float(np.quantile(train_scores, 1 - false_alarm))


def classification(y: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of the anomaly class, the share flagged and the false-alarm
    rate (flagged normal rows over normal rows). Precision of an empty flag set is 0."""
    y, flagged = np.asarray(y, dtype=bool), np.asarray(flagged, dtype=bool)
    if y.shape != flagged.shape:
        raise ValueError(f"labels {y.shape} and flags {flagged.shape} differ in shape.")
    hits = int((y & flagged).sum())
    precision = hits / flagged.sum() if flagged.any() else 0.0
    recall = hits / y.sum() if y.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    normal = ~y
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1),
            "flagged_share": float(flagged.mean()),
            "false_alarm": float((flagged & normal).sum() / normal.sum()) if normal.any() else 0.0}


def evaluate(y_test: np.ndarray, test_scores: np.ndarray, train_scores: np.ndarray, share: float,
             false_alarm: float, flagged: int | None = None) -> dict:
    """Every measure of one model on one split: the paper's protocol (the top round(share · n)
    test rows, or exactly `flagged` rows when given), the leakage-free threshold, AUROC and
    average precision."""
    y_test = np.asarray(y_test)
    test_scores = _check_scores("test_scores", test_scores)
    if len(np.unique(y_test)) != 2:
        raise ValueError("the test rows must hold both normal rows and anomalies.")
    threshold = training_threshold(train_scores, false_alarm)
    percentile = float(np.percentile(test_scores, 100 * (1 - share)))
    paper = flag_top_share(test_scores, share) if flagged is None else flag_top(test_scores, flagged)
    return {"paper": classification(y_test, paper),
            # DAGMM's public code: flag the scores above the (100 − 100·share)-th percentile of the test scores
            "percentile": classification(y_test, test_scores > percentile),
            "train_threshold": classification(y_test, test_scores > threshold),
            "auroc": float(roc_auc_score(y_test, test_scores)),
            "average_precision": float(average_precision_score(y_test, test_scores))}
