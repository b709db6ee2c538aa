"""Zero-shot scoring: cosine similarity between projected audio and projected class prompts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from align.heads import ProjectionHead
from align.zero_shot import binary_score, prompts_for, zero_shot_auroc, zero_shot_scores
from benchmark_tasks._spec import TaskSpec

TASK = TaskSpec(id="t-crackles", name="crackles", dataset="d", modality="lung", kind="binary", metric="auroc",
                labels=("absent", "present"), options={"label_column": "crackles"})


class _LookupTeacher:
    """A teacher whose embedding of each prompt is a fixed orthogonal direction (one per class)."""

    def __init__(self, prompts: list[str], dim: int = 8):
        self.rows = {p: torch.eye(dim)[i] * 3.0 for i, p in enumerate(prompts)}
        self.dim = dim

    def encode(self, texts):
        return torch.stack([self.rows[t] for t in texts])


def _shared_heads(dim: int = 8):
    """Identical audio and text heads: an audio embedding equal to a prompt's embedding projects onto it."""
    torch.manual_seed(0)
    audio = ProjectionHead(dim, 16, 6, dropout=0.5)
    text = ProjectionHead(dim, 16, 6, dropout=0.5)
    text.load_state_dict(audio.state_dict())
    return audio, text


def test_prompts_follow_the_label_field():
    absent, present = prompts_for(TASK)
    assert "crackles" in absent.lower() and ("absent" in absent or "no crackles" in absent.lower())
    assert "crackles" in present.lower() and "absent" not in present and "no crackles" not in present.lower()


def test_known_answer_each_clip_scores_highest_for_its_class():
    prompts = prompts_for(TASK)
    teacher = _LookupTeacher(prompts)
    class_rows = teacher.encode(prompts)
    g = torch.Generator().manual_seed(1)
    labels = np.array([0, 1, 1, 0, 1])
    audio = class_rows[labels] + 0.01 * torch.randn(5, 8, generator=g)
    scores = zero_shot_scores(_shared_heads(), audio.numpy(), TASK, teacher)
    assert scores.shape == (5, 2) and scores.dtype == np.float32
    assert (scores.argmax(1) == labels).all()
    np.testing.assert_allclose(scores[np.arange(5), labels], 1.0, atol=1e-3)  # (near) the prompt itself
    assert np.all(scores <= 1.0 + 1e-6) and np.all(scores >= -1.0 - 1e-6)
    # eval mode: dropout (p = 0.5) off, so scoring twice gives the same answer
    np.testing.assert_array_equal(scores, zero_shot_scores(_shared_heads(), audio.numpy(), TASK, teacher))
    assert (binary_score(scores) > 0).tolist() == labels.astype(bool).tolist()
    assert zero_shot_auroc(_shared_heads(), audio.numpy(), labels, TASK, teacher) == 1.0
    assert zero_shot_auroc(_shared_heads(), audio.numpy(), 1 - labels, TASK, teacher) == 0.0


def test_wrong_inputs_are_clear_errors():
    prompts = prompts_for(TASK)
    heads = _shared_heads()
    with pytest.raises(ValueError, match=r"\[N, 8\]"):
        zero_shot_scores(heads, np.zeros((3, 5)), TASK, _LookupTeacher(prompts))
    with pytest.raises(ValueError, match="pass teacher="):
        zero_shot_scores(heads, np.zeros((3, 8)), TASK)
    regression = TaskSpec(id="r", name="r", dataset="d", modality="breath", kind="regression", metric="mae")
    with pytest.raises(ValueError, match="regression"):
        prompts_for(regression)
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        binary_score(np.zeros((3, 3)))
