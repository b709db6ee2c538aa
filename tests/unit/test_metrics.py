"""benchmark_tasks.metrics: agreement with scikit-learn, errors, bootstrap and mean ± std conventions."""

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error, roc_auc_score

from benchmark_tasks.metrics import auroc, bootstrap_ci, mae, mape, mean_std


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("seed", range(5))
def test_binary_auroc_matches_sklearn_including_ties(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=300)
    p1 = np.round(rng.random(300) * 0.5 + 0.3 * y, 1)  # rounded: many tied scores across classes
    scores = np.stack([1 - p1, p1], axis=1)
    assert auroc(y, scores) == pytest.approx(roc_auc_score(y, p1), abs=1e-12)
    assert auroc(y, p1) == pytest.approx(roc_auc_score(y, p1), abs=1e-12)  # 1-D = positive-class score


@pytest.mark.parametrize("n_classes", [3, 5])
def test_multiclass_auroc_matches_sklearn_ovr_macro(n_classes):
    rng = np.random.default_rng(n_classes)
    y = rng.integers(0, n_classes, size=400)
    probs = _softmax(rng.normal(size=(400, n_classes)) + 0.8 * np.eye(n_classes)[y])
    expected = roc_auc_score(y, probs, multi_class="ovr", average="macro")
    assert auroc(y, probs) == pytest.approx(expected, abs=1e-12)


def test_auroc_perfect_and_reversed():
    y = np.array([0, 0, 1, 1])
    assert auroc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert auroc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0


def test_auroc_missing_class_is_a_clear_error():
    probs = _softmax(np.random.default_rng(0).normal(size=(6, 3)))
    with pytest.raises(ValueError, match=r"class\(es\) \[2\]"):
        auroc(np.array([0, 1, 0, 1, 0, 1]), probs)
    with pytest.raises(ValueError, match="undefined"):
        auroc(np.zeros(4, dtype=int), np.full(4, 0.5))


def test_auroc_rejects_bad_labels_and_scores():
    probs = _softmax(np.random.default_rng(0).normal(size=(4, 2)))
    with pytest.raises(ValueError, match="outside"):
        auroc(np.array([0, 1, 2, 1]), probs)
    with pytest.raises(ValueError, match="3 items but scores has 4"):
        auroc(np.array([0, 1, 1]), probs)
    bad = probs.copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        auroc(np.array([0, 1, 0, 1]), bad)


@pytest.mark.parametrize("seed", range(3))
def test_mae_and_mape_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.uniform(0.5, 5.0, size=200) * rng.choice([-1, 1], size=200)
    yhat = y + rng.normal(scale=0.7, size=200)
    assert mae(y, yhat) == pytest.approx(mean_absolute_error(y, yhat), rel=1e-12)
    assert mape(y, yhat) == pytest.approx(100 * mean_absolute_percentage_error(y, yhat), rel=1e-12)


def test_mape_is_percent_and_rejects_zero_targets():
    assert mape([2.0, 4.0], [3.0, 3.0]) == pytest.approx(37.5)
    with pytest.raises(ValueError, match="1 zero target"):
        mape([0.0, 1.0], [0.5, 1.0])
    with pytest.raises(ValueError, match="equal length"):
        mae([1.0, 2.0], [1.0])


def test_bootstrap_ci_brackets_estimate_is_seeded_and_shrinks_with_n():
    rng = np.random.default_rng(0)

    def interval(n, seed=0):
        y = rng.normal(size=n)
        yhat = y + rng.normal(size=n)
        return mae(y, yhat), bootstrap_ci(mae, y, yhat, n_boot=400, seed=seed), (y, yhat)

    est, (lo, hi), (y, yhat) = interval(100)
    assert lo < est < hi
    assert bootstrap_ci(mae, y, yhat, n_boot=400, seed=0) == (lo, hi)
    assert bootstrap_ci(mae, y, yhat, n_boot=400, seed=1) != (lo, hi)
    _, (lo_big, hi_big), _ = interval(1600)
    assert 2.5 < (hi - lo) / (hi_big - lo_big) < 6.5  # width ~ 1/sqrt(n): 16x the items, ~4x narrower


def test_bootstrap_ci_redraws_resamples_lacking_a_class():
    rng = np.random.default_rng(1)
    y = np.zeros(30, dtype=int)
    y[:2] = 1  # 2 positives in 30: ~13% of resamples draw none and must be redrawn, not crash
    scores = rng.random(30) + 0.5 * y
    lo, hi = bootstrap_ci(auroc, y, scores, n_boot=300, seed=0)
    assert 0.0 <= lo <= auroc(y, scores) <= hi <= 1.0
    with pytest.raises(ValueError, match="undefined"):  # a test set that lacks a class fails at once
        bootstrap_ci(auroc, np.zeros(10, dtype=int), rng.random(10))


def test_mean_std_uses_population_std_like_opera():
    m, s = mean_std([0.70, 0.72, 0.74, 0.76])
    assert m == pytest.approx(0.73)
    assert s == pytest.approx(np.std([0.70, 0.72, 0.74, 0.76], ddof=0))
    assert s != pytest.approx(np.std([0.70, 0.72, 0.74, 0.76], ddof=1))
    assert mean_std([0.5]) == (0.5, 0.0)
    with pytest.raises(ValueError):
        mean_std([])
