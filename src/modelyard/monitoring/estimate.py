"""Quality estimated before labels arrive, from the model's own probabilities (NannyML's CBPE).

With calibrated probabilities p (probability of the positive class), each row is an expected
share p of a positive: the expected confusion matrix sums p and 1 - p over predicted positives
and negatives, and accuracy, precision, recall and F1 follow; the expected ROC curve sorts rows by
p and accumulates p and 1 - p. For more than two classes only accuracy can be estimated from the
predicted class's probability alone (the mean calibrated confidence).

Calibration follows NannyML: fitted on labelled rows (the reference) of the same model version,
here isotonic (pool-adjacent-violators over ``BINS`` score bins, so it is fitted on aggregated
counts, never per row); with too few labelled rows the probabilities are taken as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BINS = 200  # score bins: calibration and the expected ROC curve work on these
MIN_LABELLED = 200  # fewer labelled rows of a version: its probabilities are used uncalibrated


@dataclass(frozen=True)
class Calibration:
    """A version's map from score bin to calibrated probability (None: uncalibrated)."""

    method: str  # "isotonic" or "none"
    labelled: int
    table: np.ndarray | None = None  # BINS values

    def apply(self, bins: np.ndarray, mean_score: np.ndarray) -> np.ndarray:
        if self.table is None:
            return mean_score
        return np.asarray(self.table[np.clip(bins, 0, BINS - 1)], dtype=np.float64)


def fit(bins: np.ndarray, hits: np.ndarray, counts: np.ndarray) -> Calibration:
    """Isotonic calibration from per-bin counts: ``hits`` of ``counts`` rows were positive/right."""
    labelled = int(counts.sum())
    total_hits = hits.sum()
    if labelled < MIN_LABELLED or total_hits == 0 or total_hits == labelled:
        return Calibration("none", labelled)
    n = np.bincount(bins, weights=counts, minlength=BINS)[:BINS]
    h = np.bincount(bins, weights=hits, minlength=BINS)[:BINS]
    used = np.flatnonzero(n > 0)
    fitted = _pava(h[used] / n[used], n[used])
    centers = (np.arange(BINS) + 0.5) / BINS
    table = np.interp(centers, (used + 0.5) / BINS, fitted)  # empty bins: between neighbours
    return Calibration("isotonic", labelled, table)


def _pava(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted isotonic (non-decreasing) fit by pool-adjacent-violators (over <= BINS points)."""
    values: list[float] = []
    weights: list[float] = []
    sizes: list[int] = []
    for yi, wi in zip(y.tolist(), w.tolist(), strict=True):
        values.append(yi)
        weights.append(wi)
        sizes.append(1)
        while len(values) > 1 and values[-2] > values[-1]:
            wsum = weights[-2] + weights[-1]
            merged = (values[-2] * weights[-2] + values[-1] * weights[-1]) / wsum
            size = sizes[-2] + sizes[-1]
            del values[-1], weights[-1], sizes[-1]
            values[-1], weights[-1], sizes[-1] = merged, wsum, size
    return np.repeat(values, sizes)


def binary(
    group: np.ndarray, positive: np.ndarray, count: np.ndarray, p: np.ndarray, groups: int
) -> dict[str, np.ndarray]:
    """Expected accuracy, precision, recall and F1 per group, from rows aggregated by
    (group, predicted positive?, score bin): ``count`` rows whose calibrated probability is ``p``."""
    e_pos = count * p
    e_neg = count * (1.0 - p)
    etp = np.bincount(group, weights=np.where(positive, e_pos, 0.0), minlength=groups)
    efp = np.bincount(group, weights=np.where(positive, e_neg, 0.0), minlength=groups)
    efn = np.bincount(group, weights=np.where(positive, 0.0, e_pos), minlength=groups)
    etn = np.bincount(group, weights=np.where(positive, 0.0, e_neg), minlength=groups)
    n = etp + efp + efn + etn
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "accuracy": np.where(n > 0, (etp + etn) / n, np.nan),
            "precision": np.where(n > 0, np.where(etp + efp > 0, etp / (etp + efp), 0.0), np.nan),
            "recall": np.where(n > 0, np.where(etp + efn > 0, etp / (etp + efn), 0.0), np.nan),
            "f1": np.where(
                n > 0,
                np.where(2 * etp + efp + efn > 0, 2 * etp / (2 * etp + efp + efn), 0.0),
                np.nan,
            ),
        }


def roc_auc(
    group: np.ndarray, bins: np.ndarray, count: np.ndarray, p: np.ndarray, groups: int
) -> np.ndarray:
    """Expected ROC AUC per group: rows sorted by score bin, each an expected p positive and
    1 - p negative; a pair in the same bin counts half (as a tie)."""
    e_pos = np.zeros((groups, BINS))
    e_neg = np.zeros((groups, BINS))
    np.add.at(e_pos, (group, bins), count * p)
    np.add.at(e_neg, (group, bins), count * (1.0 - p))
    neg_below = np.cumsum(e_neg, axis=1) - e_neg
    pairs = (e_pos * (neg_below + 0.5 * e_neg)).sum(axis=1)
    total = e_pos.sum(axis=1) * e_neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, pairs / total, np.nan)


def accuracy(group: np.ndarray, count: np.ndarray, p: np.ndarray, groups: int) -> np.ndarray:
    """Expected accuracy per group: the mean calibrated confidence of the predicted class."""
    n = np.bincount(group, weights=count, minlength=groups)
    right = np.bincount(group, weights=count * p, minlength=groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, right / n, np.nan)
