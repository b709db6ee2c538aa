"""Benchmark metrics as OPERA reports them (github evelyn0414/OPERA, commit 3622310).

- AUROC: OPERA uses `torchmetrics.AUROC(task="multiclass", num_classes=C)` on softmax outputs, i.e. the macro
  average of one-vs-rest AUROCs. For C = 2 the two one-vs-rest AUROCs are equal (p0 = 1 - p1), so the binary
  score is the AUROC of column 1. Computed here exactly (Mann-Whitney U, ties counted one half), which equals
  `sklearn.metrics.roc_auc_score` (binary, and multi_class="ovr", average="macro").
- MAE in target units.
- MAPE in percent. Caution when comparing with OPERA's printed numbers: OPERA's *validation* MAPE is in
  percent, but the test MAPE its LOSO loop collects (`test_MAPE` from `LinearHeadR.on_test_epoch_end`, which
  overrides the per-step value) is a fraction; checked by running it with pytorch-lightning 2.2. Divide ours
  by 100 to compare with OPERA's regression MAPE.
- mean ± std over seeds or folds: `np.mean`, `np.std` (ddof 0), as `linear_eval.py` prints them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _as_labels(y_true, n_rows: int | None = None) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(f"y_true must be 1-D class indices, got shape {y.shape}")
    if y.dtype.kind not in "biuf" or (y.size and not np.all(np.mod(y, 1) == 0)):
        raise ValueError("y_true must hold integer class indices 0..C-1")
    if n_rows is not None and len(y) != n_rows:
        raise ValueError(f"y_true has {len(y)} items but scores has {n_rows} rows")
    return y.astype(np.int64)


def _binary_auroc(positive: np.ndarray, score: np.ndarray) -> float:
    """AUROC of `score` for the boolean mask `positive` via the rank-sum (Mann-Whitney) statistic."""
    from scipy.stats import rankdata  # here, not at the top: a run whose probes are all cached never needs scipy

    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    ranks = rankdata(score)  # average ranks: a tie between a positive and a negative counts 1/2
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def auroc(y_true, scores) -> float:
    """Macro one-vs-rest AUROC, in [0, 1].

    Args:
        y_true: int[N] class indices in 0..C-1.
        scores: float[N, C] class scores (OPERA: softmax probabilities); for C = 2 only column 1 is used.
            A 1-D float[N] is taken as the positive-class score of a binary task.

    Raises:
        ValueError: when a class 0..C-1 has no item in y_true (its one-vs-rest AUROC is undefined), when a
            label lies outside 0..C-1, or when scores hold NaN/inf.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 1:
        s = np.stack([1.0 - s, s], axis=1)
    if s.ndim != 2 or s.shape[1] < 2:
        raise ValueError(f"scores must be [N, C] with C >= 2 (or [N] for binary), got shape {s.shape}")
    y = _as_labels(y_true, n_rows=len(s))
    n_classes = s.shape[1]
    if not np.isfinite(s).all():
        raise ValueError(f"scores hold NaN/inf in {int((~np.isfinite(s)).any(axis=1).sum())} rows")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y_true holds labels outside 0..{n_classes - 1}: {sorted(set(y.tolist()))}")
    counts = np.bincount(y, minlength=n_classes)
    missing = [c for c in range(n_classes) if counts[c] == 0 or counts[c] == len(y)]
    if missing:
        raise ValueError(
            f"AUROC is undefined: class(es) {missing} have no item (or are the only class) among the {len(y)} "
            f"labels (counts per class {counts.tolist()}); every class needs positives and negatives")
    if n_classes == 2:
        return _binary_auroc(y == 1, s[:, 1])
    return float(np.mean([_binary_auroc(y == c, s[:, c]) for c in range(n_classes)]))


def _as_pair(y, yhat) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y, dtype=np.float64).reshape(-1)
    b = np.asarray(yhat, dtype=np.float64).reshape(-1)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"y and yhat must be non-empty with equal length, got {a.size} and {b.size}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("y and yhat must be finite (found NaN/inf)")
    return a, b


def mae(y, yhat) -> float:
    """Mean absolute error, in the units of y. y, yhat: float[N] (any shape with N elements)."""
    a, b = _as_pair(y, yhat)
    return float(np.mean(np.abs(b - a)))


def mape(y, yhat) -> float:
    """Mean absolute percentage error in percent: 100 * mean(|yhat - y| / |y|). y must have no zeros."""
    a, b = _as_pair(y, yhat)
    if np.any(a == 0):
        raise ValueError(f"MAPE is undefined: y has {int((a == 0).sum())} zero target(s)")
    return float(100.0 * np.mean(np.abs((b - a) / a)))


def bootstrap_ci(metric_fn: Callable, y_true, scores, n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of `metric_fn(y_true, scores)` over test items.

    Items (rows) are resampled with replacement `n_boot` times with `np.random.default_rng(seed)`. A resample on
    which metric_fn raises ValueError (e.g. one lacking a class, for AUROC) is redrawn; at most 10 * n_boot
    draws are tried. Returns the (alpha/2, 1 - alpha/2) quantiles, e.g. a 95% interval for alpha = 0.05.
    """
    if n_boot < 1 or not 0.0 < alpha < 1.0:
        raise ValueError(f"need n_boot >= 1 and 0 < alpha < 1, got n_boot={n_boot}, alpha={alpha}")
    y = np.asarray(y_true)
    s = np.asarray(scores)
    if len(y) != len(s):
        raise ValueError(f"y_true has {len(y)} items but scores has {len(s)}")
    metric_fn(y, s)  # fail fast on inputs that are wrong as a whole, not only in some resamples
    rng = np.random.default_rng(seed)
    values: list[float] = []
    draws = 0
    while len(values) < n_boot:
        if draws >= 10 * n_boot:
            raise ValueError(f"bootstrap: only {len(values)} of {draws} resamples gave a defined metric; "
                             "the test set is too small or too unbalanced for a bootstrap interval")
        draws += 1
        idx = rng.integers(0, len(y), size=len(y))
        try:
            values.append(float(metric_fn(y[idx], s[idx])))
        except ValueError:
            continue
    lo, hi = np.quantile(values, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def mean_std(values) -> tuple[float, float]:
    """(mean, population std with ddof 0) of a non-empty sequence, as OPERA prints `np.mean ± np.std`."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size == 0:
        raise ValueError("mean_std needs at least one value")
    return float(v.mean()), float(v.std(ddof=0))
