"""Alignment losses, the projection head and the masked-frame distillation term."""

from __future__ import annotations

import pytest
import torch

from align.heads import ProjectionHead
from align.losses import (
    AlignmentObjective,
    CKALoss,
    InfoNCELoss,
    MaskedFrameDistillation,
    SigLIPLoss,
    apply_time_mask,
    frame_mask_from_samples,
    make_time_mask,
)


def _orthogonal(d: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return q.float()


def test_cka_of_identical_batches_is_one():
    torch.manual_seed(0)
    x = torch.randn(16, 8)
    out = CKALoss()(x, x)
    assert out["cka"].item() == pytest.approx(1.0, abs=1e-5) and out["loss"].item() == pytest.approx(0, abs=1e-5)


def test_cka_invariant_to_rotation_scale_and_shift():
    torch.manual_seed(0)
    x = torch.randn(24, 8)
    y = 3.7 * x @ _orthogonal(8, 1) + 5.0
    assert CKALoss()(x, y)["cka"].item() == pytest.approx(1.0, abs=1e-5)
    # widths may differ: an isometric embedding into 12 dims keeps CKA at 1
    y12 = x @ _orthogonal(12, 2)[:8]
    assert CKALoss()(x, y12)["cka"].item() == pytest.approx(1.0, abs=1e-5)


def test_cka_of_independent_batches_is_small():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(256, 4, generator=g), torch.randn(256, 4, generator=g)
    assert CKALoss()(x, y)["cka"].item() < 0.1


def test_cka_hand_computed_3x2():
    # Xc = [[1,-2],[-2,1],[1,1]]/3, Yc = [[0,1],[1,0],[-1,-1]]: Xc^T Yc = -I (||.||^2 = 2),
    # ||Xc^T Xc||_F = sqrt(10)/3, ||Yc^T Yc||_F = sqrt(10)  ->  CKA = 2 / (10/3) = 0.6
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = torch.tensor([[1.0, 2.0], [2.0, 1.0], [0.0, 0.0]])
    assert CKALoss()(x, y)["cka"].item() == pytest.approx(0.6, abs=1e-6)


def test_upstream_feature_gram_variant_is_not_rotation_invariant():
    torch.manual_seed(0)
    x = torch.randn(24, 8)
    up = CKALoss(variant="acula-feature-gram")
    assert up(x, x)["cka"].item() == pytest.approx(1.0, abs=1e-5)
    assert up(x, x @ _orthogonal(8, 1))["cka"].item() < 0.99  # what the linear CKA above calls 1
    with pytest.raises(ValueError, match="width"):
        up(x, torch.randn(24, 6))


def test_cka_gradient_flows_and_rejects_bad_shapes():
    x = torch.randn(8, 5, requires_grad=True)
    CKALoss()(x, torch.randn(8, 3))["loss"].backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    with pytest.raises(ValueError, match="same B"):
        CKALoss()(torch.randn(8, 5), torch.randn(7, 5))


@pytest.mark.parametrize("loss_cls", [InfoNCELoss, SigLIPLoss])
def test_contrastive_loss_lower_for_matched_pairs(loss_cls):
    torch.manual_seed(0)
    audio = torch.randn(16, 32)
    text = audio + 0.1 * torch.randn(16, 32)
    loss = loss_cls()
    matched = loss(audio, text)["loss"]
    shuffled = loss(audio, text[torch.randperm(16)])["loss"]
    assert matched.item() < shuffled.item() - 1.0


def test_infonce_temperature_is_learnable_and_clamped():
    loss = InfoNCELoss(init_temperature=0.07)
    assert [n for n, _ in loss.named_parameters()] == ["log_temperature"]
    assert loss(torch.randn(4, 8), torch.randn(4, 8))["temperature"].item() == pytest.approx(0.07, rel=1e-5)
    audio, text = torch.randn(8, 16), torch.randn(8, 16)
    loss(audio, text)["loss"].backward()
    assert loss.log_temperature.grad is not None and loss.log_temperature.grad.abs() > 0
    with torch.no_grad():
        loss.log_temperature.fill_(-20.0)
    assert loss.temperature().item() == pytest.approx(0.01, rel=1e-5)
    assert list(InfoNCELoss(learnable=False).parameters()) == []


def test_siglip_has_learnable_scale_and_bias():
    loss = SigLIPLoss()
    assert sorted(n for n, _ in loss.named_parameters()) == ["bias", "log_t"]
    out = loss(torch.randn(4, 8), torch.randn(4, 8))
    assert out["t"].item() == pytest.approx(10.0) and out["b"].item() == pytest.approx(-10.0)


def test_projection_head_matches_upstream_layout():
    head = ProjectionHead(384)
    assert [type(m).__name__ for m in head.layers] == ["Linear", "ReLU", "Dropout", "Linear"]
    assert sorted(head.state_dict()) == ["layers.0.bias", "layers.0.weight", "layers.3.bias", "layers.3.weight"]
    assert head(torch.randn(3, 384)).shape == (3, 512) and head.layers[2].p == 0.2
    with pytest.raises(ValueError, match="in_dim=256"):
        head(torch.randn(3, 256))


def test_distillation_zero_when_equal_and_counts_only_masked_frames():
    torch.manual_seed(0)
    teacher = torch.randn(2, 10, 6)
    mask = torch.zeros(2, 10, dtype=torch.bool)
    mask[:, 3:6] = True
    for distance in ("cosine", "mse"):
        term = MaskedFrameDistillation(distance=distance)
        assert term(teacher.clone(), teacher, mask)["loss"].item() == pytest.approx(0.0, abs=1e-6)
        student = teacher.clone()
        student[~mask] = torch.randn(int((~mask).sum()), 6)  # change only the unmasked frames
        assert term(student, teacher, mask)["loss"].item() == pytest.approx(0.0, abs=1e-6)
        student[mask] = torch.randn(int(mask.sum()), 6)
        assert term(student, teacher, mask)["loss"].item() > 0.1


def test_distillation_gradient_reaches_student_only():
    student = torch.randn(1, 4, 3, requires_grad=True)
    teacher = torch.randn(1, 4, 3, requires_grad=True)
    mask = torch.tensor([[True, False, True, False]])
    MaskedFrameDistillation()(student, teacher, mask)["loss"].backward()
    assert teacher.grad is None
    assert student.grad[0, 1].abs().sum() == 0 and student.grad[0, 0].abs().sum() > 0


def test_time_mask_ratio_spans_and_frame_mapping():
    g = torch.Generator().manual_seed(0)
    mask = make_time_mask(4, 16000, mask_ratio=0.5, span_samples=1600, generator=g)  # 10 blocks of 0.1 s
    assert mask.shape == (4, 16000) and mask.dtype == torch.bool
    assert (mask.float().mean(1) == 0.5).all()
    blocks = mask.view(4, 10, 1600)
    assert (blocks.all(-1) | ~blocks.any(-1)).all()  # whole spans only
    assert not torch.equal(mask[0], mask[1])  # independent per clip
    frames = frame_mask_from_samples(mask, 50)  # 50 frames of 320 samples: 5 frames per block
    torch.testing.assert_close(frames, blocks.any(-1).repeat_interleave(5, dim=1))
    wav = torch.ones(4, 16000)
    assert (apply_time_mask(wav, mask)[mask] == 0).all() and (apply_time_mask(wav, mask)[~mask] == 1).all()
    term = MaskedFrameDistillation(mask_ratio=0.3, span_seconds=0.1)
    assert term.make_mask(wav, 16000, generator=g).float().mean().item() == pytest.approx(0.3)


def test_alignment_objective_combines_terms():
    torch.manual_seed(0)
    audio, text = torch.randn(8, 16, requires_grad=True), torch.randn(8, 16)
    obj = AlignmentObjective(InfoNCELoss(), lambda_align=2.0, ssl_loss=MaskedFrameDistillation(), lambda_ssl=0.5)
    student, teacher = torch.randn(8, 5, 4), torch.randn(8, 5, 4)
    mask = torch.ones(8, 5, dtype=torch.bool)
    out = obj(audio, text, ssl={"student_frames": student, "teacher_frames": teacher, "frame_mask": mask})
    torch.testing.assert_close(out["loss"], 2.0 * out["align"] + 0.5 * out["ssl"])
    assert {"align", "ssl", "loss", "align/temperature", "ssl/masked_fraction"} <= set(out)
    assert [n for n, _ in obj.named_parameters()] == ["align_loss.log_temperature"]
    out["loss"].backward()
    assert audio.grad is not None
    plain = AlignmentObjective(CKALoss())(audio, text)
    assert plain["ssl"].item() == 0 and plain["loss"].item() == pytest.approx(plain["align"].item())
    scalar = AlignmentObjective(CKALoss())(audio, text, ssl=torch.tensor(0.3))  # e.g. OPERA-GT's MAM loss
    assert scalar["loss"].item() == pytest.approx(plain["align"].item() + 0.3, abs=1e-6)
    with pytest.raises(ValueError, match="no ssl inputs"):
        obj(audio, text)
