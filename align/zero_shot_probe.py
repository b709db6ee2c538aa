"""The zero-shot probe: registered with benchmark_tasks.probes as "zero-shot" (no trained probe at all).

Each test clip's aligned embedding is compared (cosine, in the projection space) with one report-style prompt
per class embedded by the adapter's text teacher (align.zero_shot). Binary tasks score the similarity
difference; multi-class tasks the per-class similarities. Needs RunConfig.aligned_dir.

The record also carries `zero_shot_wording` (align.zero_shot.wording_sensitivity): the AUROC range over every
wording of the prompts the template writer could produce. When that range spans 0.5 the zero-shot AUROC says
which synonym was chosen more than how well the adapter is aligned; a one-line warning says so, as it does when
the projected test clips lie on one axis (>= ONE_AXIS of their variance: they can only be ranked along it, and
the sign comes from how the text head places the two prompts on that line).
"""

from __future__ import annotations

import numpy as np

from benchmark_tasks import metrics
from benchmark_tasks.probes import register_probe
from benchmark_tasks.runner import TEST_SCORES, split_arrays

ONE_AXIS = 0.95


@register_probe("zero-shot")
def zero_shot_probe(task, items, emb, cfg) -> dict:
    """Zero-shot AUROC on the test split; ci95 over test items; per-item scores for paired comparisons."""
    from align.zero_shot import binary_score, wording_sensitivity, zero_shot_scores

    if task.kind == "regression":
        raise ValueError(f"task {task.id}: zero-shot scoring needs classes; it is a regression task")
    if cfg.aligned_dir is None:
        raise ValueError("zero-shot scoring needs an aligned encoder directory (--aligned DIR)")
    xte, yte = split_arrays(items, emb, "test")
    sims = zero_shot_scores(cfg.aligned_dir, xte, task)
    # binary: the positive-class score is the similarity difference, placed in column 1 where auroc reads it
    cls_scores = np.stack([-binary_score(sims), binary_score(sims)], 1) if sims.shape[1] == 2 else sims
    value = float(metrics.auroc(yte, cls_scores))
    wording = {k: round(v, 4) if isinstance(v, float) else v
               for k, v in wording_sensitivity(cfg.aligned_dir, xte, yte, task).items()}
    spans = wording["auroc_min"] < 0.5 < wording["auroc_max"]
    if spans or wording["audio_axis_share"] >= ONE_AXIS:
        print(f"warning: {task.id}: zero-shot AUROC {value:.3f}; over {wording['wordings']} wordings of the same "
              f"findings {wording['auroc_min']:.3f} to {wording['auroc_max']:.3f}, projected test clips "
              f"{wording['audio_axis_share']:.0%} on one axis: "
              f"{'the wording decides the direction' if spans else 'they can only be ranked along one line'}; the "
              f"number says little about the alignment (record: zero_shot_wording)", flush=True)
    out = {"scores": [value], "mean": value, "std": 0.0, "zero_shot_wording": wording,
           TEST_SCORES: (yte, cls_scores[:, None])}
    if cfg.n_boot:
        out["ci95"] = list(metrics.bootstrap_ci(metrics.auroc, yte, cls_scores, n_boot=cfg.n_boot, seed=0))
    return out
