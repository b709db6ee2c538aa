"""LoRA wiring: target checking, what is trainable, the adapted encoder starts at the base and leaves it intact."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from adapters import build_encoder
from align.lora import (
    LoRATargetError,
    apply_lora,
    check_targets,
    format_summary,
    has_lora,
    prepare_full_finetune,
    trainable_summary,
)


@pytest.fixture
def tiny_gt():
    torch.manual_seed(0)
    return build_encoder("opera-gt", config="tiny")


class _Convs(nn.Module):
    """A pointwise (1x1) and a 3x3 convolution, like OPERA-CE's efficientnet blocks."""

    def __init__(self):
        super().__init__()
        self.pw = nn.Conv2d(4, 8, kernel_size=1)
        self.dw = nn.Conv2d(8, 8, kernel_size=3, padding=1)

    def forward(self, x):
        return self.dw(self.pw(x))


def test_declared_targets_hit_only_encoder_linears(tiny_gt):
    found = check_targets(tiny_gt, tiny_gt.spec.lora_targets)
    assert found["attn.qkv"] == ["blocks.0.attn.qkv", "blocks.1.attn.qkv"]
    assert found["mlp.fc2"] == ["blocks.0.mlp.fc2", "blocks.1.mlp.fc2"]
    hits = [n for names in found.values() for n in names]
    assert not any(n.startswith("decoder") for n in hits)  # the decoder's window_attn/ffn are not targets


def test_unknown_target_is_an_error_with_close_names(tiny_gt):
    with pytest.raises(LoRATargetError, match=r"'attn\.qkvx' matches no module.*closest.*attn\.qkv"):
        check_targets(tiny_gt, ("attn.qkvx",))


def test_target_matching_a_non_linear_layer_is_an_error(tiny_gt):
    with pytest.raises(LoRATargetError, match=r"blocks\.0\.norm1 \(LayerNorm"):
        check_targets(tiny_gt, ("norm1",))
    with pytest.raises(LoRATargetError, match=r"patch_embed\.proj \(Conv2d kernel \(4, 4\)"):
        check_targets(tiny_gt, ("patch_embed.proj",))
    with pytest.raises(LoRATargetError, match="is empty"):
        check_targets(tiny_gt, ())


def test_only_pointwise_convolutions_are_accepted():
    model = _Convs()
    assert check_targets(model, ("pw",)) == {"pw": ["pw"]}
    with pytest.raises(LoRATargetError, match=r"dw \(Conv2d kernel \(3, 3\)\)"):
        check_targets(model, ("pw", "dw"))


def test_lora_trains_only_adapter_weights_and_starts_at_the_base(tiny_gt):
    wav = torch.randn(2, 20000, generator=torch.Generator().manual_seed(1)) * 0.1
    with torch.no_grad():
        before = tiny_gt.embed(wav)
    peft_model = apply_lora(tiny_gt, rank=4, alpha=8)
    assert peft_model.base_model.model is tiny_gt and has_lora(tiny_gt)
    trainable = [n for n, p in tiny_gt.named_parameters() if p.requires_grad]
    assert trainable and all("lora_A" in n or "lora_B" in n for n in trainable)
    # rank 4 on qkv (32->96), proj (32->32), fc1 (32->128), fc2 (128->32), two blocks
    expected = 2 * 4 * ((32 + 96) + (32 + 32) + (32 + 128) + (128 + 32))
    summary = trainable_summary(tiny_gt)
    assert summary["trainable"] == expected and 0 < summary["share"] < 0.2
    assert "trainable of" in format_summary(summary)
    with torch.no_grad():
        after = tiny_gt.embed(wav)
    torch.testing.assert_close(after, before, atol=1e-6, rtol=0)  # B = 0 at initialisation


def test_training_lora_leaves_base_weights_unchanged(tiny_gt):
    base = {k: v.clone() for k, v in tiny_gt.state_dict().items()}
    apply_lora(tiny_gt, rank=4, alpha=8)
    opt = torch.optim.AdamW([p for p in tiny_gt.parameters() if p.requires_grad], lr=1e-2)
    wav = torch.randn(2, 20000, generator=torch.Generator().manual_seed(2)) * 0.1
    for _ in range(2):
        tiny_gt.embed(wav).pow(2).sum().backward()
        opt.step()
        opt.zero_grad()
    state = tiny_gt.state_dict()
    for key, value in base.items():
        wrapped = key.replace(".weight", ".base_layer.weight").replace(".bias", ".base_layer.bias")
        now = state[key] if key in state else state[wrapped]
        assert torch.equal(now, value), key
    assert any(v.abs().sum() > 0 for k, v in state.items() if "lora_B" in k)  # the adapter did learn


def test_full_finetune_makes_everything_trainable(tiny_gt):
    tiny_gt.requires_grad_(False)
    prepare_full_finetune(tiny_gt)
    assert trainable_summary(tiny_gt)["share"] == 1.0


def _encoders_with_targets() -> list[str]:
    from adapters import get_encoder_class, list_encoders

    return [n for n in list_encoders() if get_encoder_class(n).spec.lora_targets]


@pytest.mark.parametrize("name", _encoders_with_targets())
def test_every_encoder_declares_valid_targets(name):
    enc = build_encoder(name, config="tiny")
    found = check_targets(enc, enc.spec.lora_targets)
    assert all(found.values())


def test_opera_ce_pointwise_convs_take_lora_without_changing_the_output():
    enc = build_encoder("opera-ce", config="tiny")
    wav = torch.randn(2, 32000, generator=torch.Generator().manual_seed(3)) * 0.1
    with torch.no_grad():
        before = enc.embed(wav)
    apply_lora(enc, rank=2, alpha=4)
    with torch.no_grad():
        after = enc.embed(wav)
    torch.testing.assert_close(after, before, atol=0, rtol=1e-5)  # (this tiny model's outputs are ~1e-6)
    with torch.no_grad():
        for n, p in enc.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.1)
        moved = enc.embed(wav)  # a real update runs through every adapted conv with matching shapes
    assert moved.shape == before.shape and not torch.allclose(moved, before, rtol=1e-2, atol=0)
