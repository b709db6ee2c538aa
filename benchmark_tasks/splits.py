"""Seeded, group-disjoint splits (no subject in two splits), stratified by label where possible."""

from __future__ import annotations

import numpy as np


def group_stratified_split(labels, groups, seed: int = 0, fractions=(0.6, 0.2, 0.2),
                           stratify: bool = True) -> list[str]:
    """Assign each item to "train" / "val" / "test" so that every group lands in one split.

    Args:
        labels: [N] class labels (any hashable) or regression targets (then pass stratify=False).
        groups: [N] group ids (subjects); items of a group never straddle splits.
        seed: the split is a pure function of (labels, groups, seed).
        fractions: target share of items in train, val, test.
        stratify: balance each class's share across splits (greedy, largest groups first).
    Returns:
        [N] split names.
    """
    labels = np.asarray(labels, dtype=object)
    groups = np.asarray([str(g) for g in groups], dtype=object)
    rng = np.random.default_rng(seed)
    uniq = sorted(set(groups))
    rng.shuffle(uniq)
    names = ("train", "val", "test")
    classes = sorted(set(labels.tolist()), key=str) if stratify else [None]
    target = np.outer(np.asarray(fractions, float), [
        (labels == c).sum() if stratify else len(labels) for c in classes])  # [3, C] wanted item counts
    have = np.zeros_like(target)
    member = {g: np.flatnonzero(groups == g) for g in uniq}
    # largest groups first so they do not overshoot a small split at the end; ties keep the shuffled order
    order = sorted(uniq, key=lambda g: -len(member[g]))
    assign: dict[str, int] = {}
    for g in order:
        idx = member[g]
        counts = np.array([(labels[idx] == c).sum() if stratify else len(idx) for c in classes], float)
        deficit = [((target[s] - have[s]) * counts).sum() / max(counts.sum(), 1) for s in range(3)]
        s = int(np.argmax(deficit))
        assign[g] = s
        have[s] += counts
    return [names[assign[g]] for g in groups]
