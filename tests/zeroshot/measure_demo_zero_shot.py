"""Measure why an aligned demo adapter's zero-shot AUROC is what it is (issue 9), per demo task.

    python tests/zeroshot/measure_demo_zero_shot.py ALIGNED_DIR [--cache-dir DIR]
    (from a worktree that is not the installed checkout: PYTHONPATH=. python tests/zeroshot/...)

Columns (test split unless named): zero-shot AUROC as `evaluate.py --zero-shot` scores it; the same clips scored
against the class centroids of the projected TRAINING reports (uses training labels: not zero-shot, a reference
for what the heads carry); the range and median over every wording of the prompts (align.zero_shot.
wording_sensitivity); the share of the projected clips' variance on one axis; teacher space, where the training
reports are scored against the prompts without any head; and the mean cosine between the projected prompts and
the projected training reports' mean direction (1.0 = the text head maps every text into one direction).
Audio embeddings come from the embedding cache (computed once, as evaluate.py does).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def main() -> None:
    from align.aligned import build_aligned, load_heads
    from align.reports import template_report
    from align.zero_shot import _teacher_for, binary_score, prompts_for, wording_sensitivity, zero_shot_scores
    from benchmark_tasks._registry import DataContext, load_items
    from benchmark_tasks.clinical import task_declaration
    from benchmark_tasks.demo import DEMO_TASKS
    from benchmark_tasks.embeddings import extract_embeddings
    from benchmark_tasks.metrics import auroc
    from benchmark_tasks.preprocess import preprocess_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("aligned", type=Path)
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "acula_zoo")
    args = parser.parse_args()
    ctx = DataContext(cache_dir=args.cache_dir)
    encoder = build_aligned(args.aligned).eval()
    audio_head, text_head = load_heads(args.aligned)
    teacher = _teacher_for(str(args.aligned))

    def binary(y, scores):
        return float(auroc(y, binary_score(scores)[:, None] * np.array([-1.0, 1.0])))

    print(f"{'task':20s} {'zero-shot':>9s} {'centroid':>8s} {'wordings min-med-max':>22s} {'axis':>5s} "
          f"{'teacher':>7s} {'cone':>6s}")
    rows = []
    with torch.no_grad():
        for task in DEMO_TASKS:
            items = load_items(task, ctx)
            ext = extract_embeddings(encoder, items, args.cache_dir / "embeddings",
                                     preprocess_for(task, encoder.spec.name), progress=False)
            ok, x = ext.ok_items, np.asarray(ext.embeddings, dtype=np.float32)
            y = np.array([i.label for i in ok])
            train, test = (np.array([i.split == s for i in ok]) for s in ("train", "test"))
            zs = binary(y[test], zero_shot_scores(args.aligned, x[test], task))
            reports = teacher.encode([template_report(i.metadata, task.modality, 0, declaration=task_declaration(task))
                                      for i, t in zip(ok, train) if t]).float()
            projected = F.normalize(text_head(reports), dim=-1)
            centroids = F.normalize(torch.stack([projected[torch.as_tensor(y[train] == c)].mean(0) for c in (0, 1)]),
                                    dim=-1)
            audio = F.normalize(audio_head(torch.as_tensor(x[test])), dim=-1)
            centroid = binary(y[test], (audio @ centroids.T).numpy())
            wording = wording_sensitivity(args.aligned, x[test], y[test], task)
            prompts = teacher.encode(prompts_for(task)).float()
            sims = (F.normalize(reports, dim=-1) @ F.normalize(prompts, dim=-1).T).numpy()
            in_teacher = binary(y[train], sims)
            cone = float((F.normalize(text_head(prompts), dim=-1) @ F.normalize(projected.mean(0), dim=0)).mean())
            rows.append((zs, centroid, wording["auroc_median"], in_teacher))
            print(f"{task.id:20s} {zs:9.3f} {centroid:8.3f} {wording['auroc_min']:8.3f}-{wording['auroc_median']:.3f}-"
                  f"{wording['auroc_max']:.3f} {wording['audio_axis_share']:5.2f} {in_teacher:7.3f} {cone:6.3f}",
                  flush=True)
    means = np.mean(rows, axis=0)
    print(f"{'mean':20s} {means[0]:9.3f} {means[1]:8.3f} {'median ' + format(means[2], '.3f'):>22s} {'':5s} "
          f"{means[3]:7.3f}")


if __name__ == "__main__":
    main()
