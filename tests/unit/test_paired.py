"""Paired bootstrap differences between two encoders' per-item test scores (benchmark_tasks.paired)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark_tasks.metrics import auroc
from benchmark_tasks.paired import paired_difference, read_test_scores, write_test_scores


def _record(tmp_path, name, keys, labels, scores, fp="fp"):
    path = tmp_path / f"{name}.json"
    write_test_scores(path, keys, labels, scores)
    return {"task": "T", "record_path": str(path), "split_fingerprint": fp}


def _scores(labels, signal, seed, seeds=3):
    """[N, seeds, 2] class scores: noise plus `signal` on the positive class."""
    rng = np.random.default_rng(seed)
    pos = signal * labels[:, None] + rng.standard_normal((len(labels), seeds))
    return np.stack([-pos, pos], axis=2)


def test_round_trip_and_point_value_is_the_seed_mean_auroc_difference(tmp_path):
    y = np.array([0, 1] * 40)
    keys = [f"k{i}" for i in range(len(y))]
    sa, sb = _scores(y, 0.3, 0), _scores(y, 2.0, 1)
    a, b = _record(tmp_path, "a", keys, y, sa), _record(tmp_path, "b", keys, y, sb)
    k, lab, s = read_test_scores(b)
    assert list(k) == keys and np.array_equal(lab, y) and s.shape == (80, 3, 2)
    want = np.mean([auroc(y, sb[:, j]) for j in range(3)]) - np.mean([auroc(y, sa[:, j]) for j in range(3)])
    d = paired_difference([(a, b)], n_boot=300)
    assert d.diff == pytest.approx(want, abs=1e-6)
    assert 0 < d.lo < d.diff < d.hi and d.n_items == 80 and d.n_tasks == 1


def test_same_scores_give_zero_and_pairs_match_items_by_key(tmp_path):
    y = np.array([0, 1] * 20)
    s = _scores(y, 1.0, 3)
    keys = [f"k{i}" for i in range(40)]
    a = _record(tmp_path, "a", keys, y, s)
    order = np.arange(40)[::-1]                      # the other record lists the same items in another order
    b = _record(tmp_path, "b", [keys[i] for i in order], y[order], s[order])
    d = paired_difference([(a, b)], n_boot=200)
    assert (d.diff, d.lo, d.hi) == (0.0, 0.0, 0.0)


def test_paired_interval_is_narrower_than_unpaired(tmp_path):
    """Both encoders share the item difficulty; pairing cancels it."""
    rng = np.random.default_rng(5)
    y = np.array([0, 1] * 30)
    shared = rng.standard_normal((60, 1))
    sa = np.stack([-(y[:, None] + shared), y[:, None] + shared], 2)
    sb = np.stack([-(1.2 * y[:, None] + shared), 1.2 * y[:, None] + shared], 2)
    keys = [f"k{i}" for i in range(60)]
    a, b = _record(tmp_path, "a", keys, y, sa), _record(tmp_path, "b", keys, y, sb)
    paired = paired_difference([(a, b)], n_boot=400)
    ra = np.random.default_rng(0)
    unpaired = []
    for _ in range(400):
        i, j = ra.integers(0, 60, 60), ra.integers(0, 60, 60)
        if len(set(y[i])) == 2 and len(set(y[j])) == 2:
            unpaired.append(auroc(y[j], sb[j, 0]) - auroc(y[i], sa[i, 0]))
    lo, hi = np.quantile(unpaired, [0.025, 0.975])
    assert paired.hi - paired.lo < 0.5 * (hi - lo)


def test_different_splits_are_refused(tmp_path):
    y = np.array([0, 1] * 5)
    s = _scores(y, 1.0, 0)
    keys = [f"k{i}" for i in range(10)]
    with pytest.raises(ValueError, match="different splits"):
        paired_difference([(_record(tmp_path, "a", keys, y, s, "x"), _record(tmp_path, "b", keys, y, s, "y"))])


def test_missing_scores_file_names_the_record(tmp_path):
    with pytest.raises(FileNotFoundError, match="rerun the evaluation"):
        read_test_scores({"record_path": str(tmp_path / "old.json")})


def test_batched_auroc_equals_the_metric_item_by_item():
    from benchmark_tasks.paired import batch_seed_mean_auroc

    rng = np.random.default_rng(2)
    for n_classes in (2, 4):
        y = rng.integers(0, n_classes, (6, 30))
        y[:, :n_classes] = np.arange(n_classes)                     # every class present
        s = np.round(rng.random((6, 30, 3, n_classes)), 1)           # ties included
        got = batch_seed_mean_auroc(y, s)
        want = [np.mean([auroc(y[b], s[b, :, k]) for k in range(3)]) for b in range(6)]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert np.isnan(batch_seed_mean_auroc(np.zeros((1, 5), int), rng.random((1, 5, 1, 2))))[0]


def test_interval_does_not_depend_on_the_order_tasks_are_listed(tmp_path):
    """The CLI lists tasks in run order and the leaderboard in column order: both must print one interval."""
    pairs = []
    for t, signal in enumerate((0.5, 1.5, 0.2)):
        y = np.array([0, 1] * (15 + 5 * t))
        keys = [f"k{i}" for i in range(len(y))]
        a = _record(tmp_path, f"a{t}", keys, y, _scores(y, 0.8, 10 + t))
        b = _record(tmp_path, f"b{t}", keys, y, _scores(y, signal, 20 + t))
        a["task"] = b["task"] = f"task-{'xzy'[t]}"
        pairs.append((a, b))
    one = paired_difference(pairs, n_boot=300)
    other = paired_difference(pairs[::-1], n_boot=300)
    assert (one.diff, one.lo, one.hi) == pytest.approx((other.diff, other.lo, other.hi), abs=1e-12)
