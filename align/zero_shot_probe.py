"""The zero-shot probe: registered with benchmark_tasks.probes as "zero-shot" (no trained probe at all).

Each test clip's aligned embedding is compared (cosine, in the projection space) with one report-style prompt
per class embedded by the adapter's text teacher (align.zero_shot). Binary tasks score the similarity
difference; multi-class tasks the per-class similarities. Needs RunConfig.aligned_dir.
"""

from __future__ import annotations

import numpy as np

from benchmark_tasks import metrics
from benchmark_tasks.probes import register_probe
from benchmark_tasks.runner import TEST_SCORES, split_arrays


@register_probe("zero-shot")
def zero_shot_probe(task, items, emb, cfg) -> dict:
    """Zero-shot AUROC on the test split; ci95 over test items; per-item scores for paired comparisons."""
    from align.zero_shot import binary_score, zero_shot_scores

    if task.kind == "regression":
        raise ValueError(f"task {task.id}: zero-shot scoring needs classes; it is a regression task")
    if cfg.aligned_dir is None:
        raise ValueError("zero-shot scoring needs an aligned encoder directory (--aligned DIR)")
    xte, yte = split_arrays(items, emb, "test")
    sims = zero_shot_scores(cfg.aligned_dir, xte, task)
    # binary: the positive-class score is the similarity difference, placed in column 1 where auroc reads it
    cls_scores = np.stack([-binary_score(sims), binary_score(sims)], 1) if sims.shape[1] == 2 else sims
    value = float(metrics.auroc(yte, cls_scores))
    out = {"scores": [value], "mean": value, "std": 0.0, TEST_SCORES: (yte, cls_scores[:, None])}
    if cfg.n_boot:
        out["ci95"] = list(metrics.bootstrap_ci(metrics.auroc, yte, cls_scores, n_boot=cfg.n_boot, seed=0))
    return out
