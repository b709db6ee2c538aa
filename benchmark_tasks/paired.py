"""Paired comparisons of two encoders scored on the same test items (aligned vs base, control vs aligned).

Two records of one task carry per-item test scores in a sidecar `<record>.test_scores.npz` (keys, labels, and the
probe's class scores per seed, [N_test, seeds, C]). The difference of their seed-mean AUROCs gets a paired
percentile bootstrap: every resample draws the same test items for both encoders, so the item-to-item variation
that both share cancels (an unpaired CI would be far wider). Across tasks, each task's items are resampled on
their own and the per-task differences averaged, which is how a mean over tasks is formed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SUFFIX = ".test_scores.npz"


@dataclass(frozen=True)
class PairedDifference:
    """b − a on the same test items: point value, 95% bootstrap interval, items and tasks it covers."""

    diff: float
    lo: float
    hi: float
    n_items: int
    n_tasks: int

    def text(self) -> str:
        return f"{self.diff:+.3f} [{self.lo:+.3f}, {self.hi:+.3f}]"


def scores_path(record_path: str | Path) -> Path:
    path = Path(record_path)
    return path.with_name(path.name[: -len(".json")] + SUFFIX)


def write_test_scores(record_path: str | Path, keys: list[str], labels: np.ndarray, scores: np.ndarray) -> Path:
    """Write [N] keys and labels and [N, seeds, C] class scores beside a record (atomic); returns the path."""
    from adapters._io import atomic_path

    scores = np.asarray(scores, dtype=np.float32)
    if scores.ndim != 3 or scores.shape[0] != len(keys) or len(labels) != len(keys):
        raise ValueError(f"test scores must be [N, seeds, C] for N={len(keys)} keys, got {scores.shape}")
    path = scores_path(record_path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, keys=np.array(keys, dtype=str), labels=np.asarray(labels), scores=scores)
    return path


def read_test_scores(record: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keys [N], labels [N], scores [N, seeds, C]) of a record written by the runner."""
    path = scores_path(record["record_path"])
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no per-item test scores beside record {record['record_path']}; rerun "
                                "the evaluation (records written before per-item scores existed lack them)")
    with np.load(path) as z:
        return z["keys"], z["labels"], z["scores"]


def batch_seed_mean_auroc(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Seed-mean macro one-vs-rest AUROC of B resamples at once, as metrics.auroc computes each one.

    Args:
        labels: int [B, N] class indices per resample; scores: [B, N, seeds, C] class scores (C = 2: column 1).
    Returns:
        [B] float64; NaN where a class is missing from (or alone in) a resample.
    """
    from scipy.stats import rankdata

    b, n, n_seeds, n_classes = scores.shape
    classes = [1] if n_classes == 2 else range(n_classes)
    per_class = []
    for c in classes:
        pos = labels == c                                             # [B, N]
        n_pos = pos.sum(axis=1)
        n_neg = n - n_pos
        ranks = rankdata(scores[..., c], axis=1)                      # [B, N, seeds], ties averaged
        u = (ranks * pos[:, :, None]).sum(axis=1) - (n_pos * (n_pos + 1) / 2.0)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            auc = u / (n_pos * n_neg)[:, None]                        # [B, seeds]
        auc[(n_pos == 0) | (n_neg == 0)] = np.nan
        per_class.append(auc)
    return np.mean(per_class, axis=0).mean(axis=1)                    # macro over classes, then over seeds


def _seed_mean_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    from benchmark_tasks.metrics import auroc

    return float(np.mean([auroc(labels, scores[:, k]) for k in range(scores.shape[1])]))


def _aligned_pair(a: dict, b: dict):
    """Labels and both encoders' scores on the test items the two records share, in one order."""
    ka, ya, sa = read_test_scores(a)
    kb, yb, sb = read_test_scores(b)
    if a.get("split_fingerprint") != b.get("split_fingerprint"):
        raise ValueError(f"task {a['task']}: the two records were scored on different splits "
                         f"({a.get('split_fingerprint')} vs {b.get('split_fingerprint')})")
    index_b = {k: i for i, k in enumerate(kb)}
    shared = [i for i, k in enumerate(ka) if k in index_b]
    jb = [index_b[ka[i]] for i in shared]
    if not np.array_equal(ya[shared], yb[jb]):
        raise ValueError(f"task {a['task']}: the two records disagree on test labels")
    return ya[shared], sa[shared], sb[jb]


def paired_difference(pairs: list[tuple[dict, dict]], n_boot: int = 1000, seed: int = 0,
                      alpha: float = 0.05) -> PairedDifference:
    """Mean over tasks of AUROC(b) − AUROC(a) for (a, b) record pairs, with a paired bootstrap interval.

    A resample on which a task's AUROC is undefined (one class only) is redrawn for that task. The result does not
    depend on the order of `pairs`.
    """
    if not pairs:
        raise ValueError("paired_difference needs at least one (a, b) record pair")
    # tasks in a fixed order, so the CI does not depend on the order the caller lists them in (the CLI's run order
    # and the leaderboard's column order must print the same interval)
    pairs = sorted(pairs, key=lambda p: (str(p[0].get("task", "")), str(p[1].get("task", ""))))
    data = [_aligned_pair(a, b) for a, b in pairs]
    point = float(np.mean([_seed_mean_auroc(y, sb) - _seed_mean_auroc(y, sa) for y, sa, sb in data]))
    rng = np.random.default_rng(seed)
    draws = np.zeros((n_boot, len(data)))
    for t, (y, sa, sb) in enumerate(data):
        kept: list[np.ndarray] = []
        for _ in range(20):   # resamples missing a class are drawn again (batch by batch)
            idx = rng.integers(0, len(y), size=(n_boot, len(y)))
            diff = batch_seed_mean_auroc(y[idx], sb[idx]) - batch_seed_mean_auroc(y[idx], sa[idx])
            kept.extend(diff[np.isfinite(diff)])
            if len(kept) >= n_boot:
                break
        if len(kept) < n_boot:
            raise ValueError("paired bootstrap: too few resamples with every class; the test set is too small")
        draws[:, t] = kept[:n_boot]
    lo, hi = np.quantile(draws.mean(axis=1), [alpha / 2.0, 1.0 - alpha / 2.0])
    return PairedDifference(point, float(lo), float(hi), sum(len(d[0]) for d in data), len(data))
