"""Zero-shot classification with an aligned encoder: no probe, only the text teacher and the projection heads.

Each class gets one report-style prompt (align.reports.class_prompts): one template, the same for every class
except the class's finding as a report states it (TaskSpec.class_findings: "no murmur" / "a murmur is present").
A clip's score for a class is the cosine similarity between its projected audio embedding and the projected
teacher embedding of that class's prompt. The audio embeddings must come from the aligned encoder (`embed`),
since the audio head was trained on them.

Scores that cannot rank anything are an error, not an AUROC of 0.5: two classes with the same prompt, or every
clip scoring every class the same (prompts the teacher cannot tell apart, e.g. cut off before the finding).

`wording_sensitivity` re-scores the same clips with every wording of the prompts the template writer could have
produced (align.reports.prompt_wordings) and measures how one-dimensional the projected audio is. A weakly
aligned adapter (the demo's tiny encoder: its projected test clips vary along one axis, and the text head maps
every report into one narrow cone) ranks the clips in one order or its reverse, and which one depends on where
the text head puts the two prompts on that line, e.g. on a synonym: its zero-shot AUROC is then x or 1 - x, not
a measurement of the alignment (measured: tests/zeroshot/measure_demo_zero_shot.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from adapters._errors import UserError
from align.reports import class_prompts, prompt_wordings


class ZeroShotTie(UserError, ValueError):
    """Zero-shot scores that cannot rank: identical class prompts, or every clip scoring all classes alike."""


def prompts_for(task, seed: int = 0) -> list[str]:
    """One prompt per class of `task`, in label order: its class_findings (the label names when it has none) in
    one template. Raises ZeroShotTie when two classes would get the same prompt."""
    if task.kind == "regression":
        raise ValueError(f"task {task.id}: zero-shot scoring needs class labels; it is a regression task")
    findings = task.class_findings or task.labels
    prompts = class_prompts(findings, task.modality, seed)
    if len(set(prompts)) != len(prompts):
        raise ZeroShotTie(f"task {task.id}: classes share a zero-shot prompt ({prompts}); give each label a "
                          f"distinct finding in TaskSpec.class_findings")
    return prompts


def _heads(aligned):
    if isinstance(aligned, (str, Path)):
        from align.aligned import load_heads

        return load_heads(aligned)
    audio_head, text_head = aligned
    return audio_head, text_head


@lru_cache(maxsize=4)
def _teacher_for(aligned: str):
    """The teacher named in an aligned directory's align_config.json (its checkpoint path, checked by sha256);
    kept for the next task scored with the same directory."""
    from align.aligned import read_align_config
    from align.teacher import TextTeacher

    info = read_align_config(aligned)["teacher"]
    # an adapter made on another machine records that machine's path; the sha256 check below still guards
    # against a different model when we fall back to the default teacher found here
    path = info["path"] if info.get("path") and Path(info["path"]).exists() else None
    teacher = TextTeacher.from_identity({**info, "path": path})   # same pooling, prefix, dtype as in training
    if teacher.identity()["sha256"] != info["sha256"]:
        raise ValueError(f"{aligned}: the teacher at {info['path']} is not the one the heads were trained with "
                         f"(sha256 differs); pass the right TextTeacher as teacher=")
    return teacher


@torch.no_grad()
def zero_shot_scores(aligned, audio_embeddings, task, teacher=None, seed: int = 0) -> np.ndarray:
    """Class scores by cosine similarity in the aligned space.

    Args:
        aligned: an aligned directory (heads and teacher read from it) or an (audio_head, text_head) pair.
        audio_embeddings: [N, D] float, the aligned encoder's clip embeddings (D = audio head input width).
        task: a TaskSpec with class labels (binary or multiclass).
        teacher: object with .encode(list[str]) -> [C, Dt]; default: the teacher recorded in the aligned directory.
        seed: prompt construction (see `prompts_for`).
    Returns:
        [N, C] float32 in [-1, 1], column c = similarity to class c's prompt. For a binary AUROC use
        `binary_score(scores)` (class 1 minus class 0) as the positive-class score; for a multiclass AUROC pass the
        rows (or their softmax) to benchmark_tasks.metrics.auroc as class scores.
    """
    audio_head, text_head = _heads(aligned)
    if teacher is None:
        if not isinstance(aligned, (str, Path)):
            raise ValueError("zero_shot_scores: pass teacher= when giving heads instead of an aligned directory")
        teacher = _teacher_for(str(aligned))
    audio = torch.as_tensor(np.asarray(audio_embeddings, dtype=np.float32))
    if audio.ndim != 2 or audio.shape[1] != audio_head.in_dim:
        raise ValueError(f"zero_shot_scores: audio_embeddings must be [N, {audio_head.in_dim}] (the aligned "
                         f"encoder's embed output), got {tuple(audio.shape)}")
    prompts = prompts_for(task, seed)
    text = teacher.encode(prompts).float()
    audio_head.eval()
    text_head.eval()
    device = next(audio_head.parameters()).device
    a = F.normalize(audio_head(audio.to(device)), dim=-1)
    t = F.normalize(text_head(text.to(device)), dim=-1)
    scores = (a @ t.T).cpu().numpy().astype(np.float32)
    check_not_tied(scores, task.id, prompts)
    return scores


def check_not_tied(scores: np.ndarray, task_id: str = "", prompts=()) -> None:
    """ZeroShotTie when every row of [N, C] `scores` is constant (all classes scored alike for every clip): any
    AUROC from such scores is 0.5 by construction, not a measurement."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 2 and scores.shape[0] and scores.shape[1] > 1:
        spread = scores.max(1) - scores.min(1)
        if np.all(spread <= 1e-6 * max(1.0, float(np.abs(scores).max()))):
            raise ZeroShotTie(f"task {task_id}: every clip scores all {scores.shape[1]} classes the same (largest "
                              f"spread {spread.max():.2g}); the teacher does not tell the class prompts apart "
                              f"{list(prompts)}. Check TaskSpec.class_findings and the teacher's max_length.")


def binary_score(scores: np.ndarray) -> np.ndarray:
    """[N, 2] zero-shot scores -> [N] positive-class score (similarity to class 1 minus class 0)."""
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[1] != 2:
        raise ValueError(f"binary_score: expected [N, 2] scores, got {scores.shape}")
    return scores[:, 1] - scores[:, 0]


def zero_shot_auroc(aligned, audio_embeddings, labels, task, teacher=None) -> float:
    """Macro AUROC of zero-shot scores (no probe, no training data) for items with class indices `labels` [N]:
    binary tasks score `binary_score`, multiclass tasks the raw similarity rows."""
    from benchmark_tasks.metrics import auroc

    scores = zero_shot_scores(aligned, audio_embeddings, task, teacher)
    return float(auroc(np.asarray(labels), binary_score(scores) if scores.shape[1] == 2 else scores))


@torch.no_grad()
def wording_sensitivity(aligned, audio_embeddings, labels, task, teacher=None) -> dict:
    """How much the zero-shot AUROC of these clips depends on the prompts' wording: scored with every prompt set
    of `align.reports.prompt_wordings` (same findings, the writer's synonyms; one recording name per set).

    Args: as `zero_shot_scores`, plus labels: int [N] class indices of the clips.
    Returns:
        {"wordings": number of prompt sets scored, "auroc_min", "auroc_median", "auroc_max", "share_above_half":
        fraction of prompt sets with AUROC > 0.5, "audio_axis_share": share of the variance of the clips'
        L2-normalised projections on their first principal axis (1.0 = the clips lie on one line)}.
    """
    from benchmark_tasks.metrics import auroc

    audio_head, text_head = _heads(aligned)
    if teacher is None:
        if not isinstance(aligned, (str, Path)):
            raise ValueError("wording_sensitivity: pass teacher= when giving heads instead of an aligned directory")
        teacher = _teacher_for(str(aligned))
    audio_head.eval()
    text_head.eval()
    device = next(audio_head.parameters()).device
    audio = torch.as_tensor(np.asarray(audio_embeddings, dtype=np.float32)).to(device)
    a = F.normalize(audio_head(audio), dim=-1)
    sets = prompt_wordings(task.class_findings or task.labels, task.modality)
    texts = sorted({p for prompts in sets for p in prompts})
    row = {p: i for i, p in enumerate(texts)}
    t = F.normalize(text_head(teacher.encode(texts).float().to(device)), dim=-1)   # [P, D]
    labels = np.asarray(labels)
    values = []
    for prompts in sets:
        scores = (a @ t[[row[p] for p in prompts]].T).cpu().numpy()
        values.append(float(auroc(labels, binary_score(scores) if scores.shape[1] == 2 else scores)))
    centred = a - a.mean(0, keepdim=True)
    spectrum = torch.linalg.svdvals(centred.double()) ** 2
    axis = float(spectrum[0] / spectrum.sum()) if float(spectrum.sum()) > 0 else 1.0
    return {"wordings": len(values), "auroc_min": min(values), "auroc_median": float(np.median(values)),
            "auroc_max": max(values), "share_above_half": float(np.mean(np.array(values) > 0.5)),
            "audio_axis_share": axis}
