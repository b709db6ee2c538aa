"""Zero-shot scoring: cosine similarity between projected audio and projected class prompts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from align.heads import ProjectionHead
from align.reports import template_report
from align.zero_shot import ZeroShotTie, binary_score, check_not_tied, prompts_for, zero_shot_auroc, zero_shot_scores
from benchmark_tasks import all_tasks
from benchmark_tasks._spec import TaskSpec

TASK = TaskSpec(id="t-crackles", name="crackles", dataset="d", modality="lung", kind="binary", metric="auroc",
                labels=("absent", "present"), class_findings=("no crackles are heard", "crackles are heard"))


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


def test_prompts_are_one_template_with_the_class_finding():
    absent, present = prompts_for(TASK)
    assert absent == "Lung sound recording. No crackles are heard." and present.endswith(" Crackles are heard.")
    assert absent.split(". ")[0] == present.split(". ")[0]  # identical except the finding
    # without class_findings the label names are the findings (distinct, if not informative)
    bare = TaskSpec(id="b", name="b", dataset="d", modality="heart", kind="binary", metric="auroc",
                    labels=("absent", "present"))
    first, second = prompts_for(bare)
    assert first.endswith("recording. Absent.") and second == first.replace("Absent", "Present")


@pytest.mark.parametrize("task", [t for t in all_tasks() if t.kind != "regression"], ids=lambda t: t.id)
def test_every_registered_task_gets_distinct_prompts_from_its_findings(task):
    """Every classification task (demo included) declares one finding per label; no two classes share a prompt
    (the label_column mix-up gave T5 and C3-C7 one prompt for every class, and an AUROC of exactly 0.5)."""
    assert len(task.class_findings) == len(task.labels), task.id
    prompts = prompts_for(task)
    assert len(set(prompts)) == len(prompts) == len(task.labels)
    heads = {p.split(". ", 1)[0] for p in prompts}
    assert len(heads) == 1  # one template: only the finding changes
    assert all(p.endswith(f[1:] + ".") for p, f in zip(prompts, task.class_findings))


def test_demo_findings_are_what_reports_say():
    """A demo report states its label's class finding (the template writer's own phrase)."""
    task = next(t for t in all_tasks() if t.id == "demo-wetcough-easy")
    for label, cough in enumerate(("dry", "wet")):
        texts = {template_report({"subject": "S-1", "cough_type": cough}, "cough", s).lower() for s in range(6)}
        assert any(task.class_findings[label] in t for t in texts)


def test_a_task_whose_classes_share_a_prompt_is_refused():
    with pytest.raises(ValueError, match="one distinct finding per label"):
        TaskSpec(id="x", name="x", dataset="d", modality="lung", kind="binary", metric="auroc",
                 labels=("a", "b"), class_findings=("same", "same"))
    with pytest.raises(ZeroShotTie, match="share a zero-shot prompt"):
        prompts_for(TaskSpec(id="y", name="y", dataset="d", modality="lung", kind="binary", metric="auroc",
                             labels=("a", "A")))  # both read "... recording. A."


class _ConstantTeacher:
    """A teacher that embeds every prompt alike (e.g. one that truncates them before the finding)."""

    def encode(self, texts):
        return torch.ones(len(texts), 8)


def test_scores_tied_across_all_classes_are_an_error_not_an_auroc_of_one_half():
    audio = torch.randn(6, 8, generator=torch.Generator().manual_seed(0)).numpy()
    with pytest.raises(ZeroShotTie, match="every clip scores all 2 classes the same"):
        zero_shot_scores(_shared_heads(), audio, TASK, _ConstantTeacher())
    with pytest.raises(ZeroShotTie):
        zero_shot_auroc(_shared_heads(), audio, np.array([0, 1, 0, 1, 0, 1]), TASK, _ConstantTeacher())
    check_not_tied(np.array([[0.2, 0.2], [0.1, 0.3]]))  # one clip that ranks is enough


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
