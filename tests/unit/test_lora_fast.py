"""align.lora_fast computes what peft's own LoRA forward computes (output and every gradient), and saves the same
adapter: compared against peft 0.21's `lora.Linear.forward` on the tiny OPERA-GT."""

from __future__ import annotations

import copy

import pytest
import torch

from adapters import build_encoder
from align.lora import apply_lora
from align.lora_fast import FastLoraLinear


def _pair(dropout: float):
    """The same tiny OPERA-GT wrapped twice (peft forward, fast forward), with identical non-zero B matrices."""
    torch.manual_seed(0)
    enc = build_encoder("opera-gt", config="tiny")
    ref, fast = copy.deepcopy(enc), copy.deepcopy(enc)
    apply_lora(ref, rank=4, alpha=8, dropout=dropout, fast=False, recompute=False)
    apply_lora(fast, rank=4, alpha=8, dropout=dropout, fast=True, recompute=False)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for (n, p), (m, q) in zip(ref.named_parameters(), fast.named_parameters()):
            assert n == m
            if "lora_" in n:
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
                q.copy_(p)
    return ref, fast


def _grads(model, wav, train: bool, seed: int):
    model.eval()
    for name, module in model.named_modules():
        if "lora_dropout" in name.split("."):
            module.train(train)
    torch.manual_seed(seed)
    out = model.embed(wav)
    (out * torch.linspace(-1, 1, out.shape[-1])).pow(2).sum().backward()
    return out.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_fast_forward_and_gradients_equal_peft(dropout):
    ref, fast = _pair(dropout)
    assert any(isinstance(m, FastLoraLinear) for m in fast.modules())
    assert not any(isinstance(m, FastLoraLinear) for m in ref.modules())
    wav = 0.1 * torch.randn(2, 20000, generator=torch.Generator().manual_seed(2))
    out_ref, g_ref = _grads(ref, wav, train=dropout > 0, seed=3)
    out_fast, g_fast = _grads(fast, wav, train=dropout > 0, seed=3)
    assert out_ref.abs().max() > 0
    torch.testing.assert_close(out_fast, out_ref, atol=1e-5, rtol=1e-5)
    assert g_ref.keys() == g_fast.keys() and len(g_ref) == 2 * 4 * 2      # A and B of 4 targets in 2 blocks
    for n in g_ref:
        assert g_ref[n].abs().max() > 0, n
        torch.testing.assert_close(g_fast[n], g_ref[n], atol=1e-5, rtol=1e-4, msg=n)


def test_input_gradient_equals_peft():
    """dL/dx through a fast layer (the path every earlier block's gradient takes)."""
    ref, fast = _pair(0.0)
    layer_ref, layer_fast = ref.blocks[0].attn.qkv, fast.blocks[0].attn.qkv
    assert type(layer_fast) is FastLoraLinear
    x = torch.randn(3, 5, layer_ref.in_features, generator=torch.Generator().manual_seed(4))
    xs = [x.clone().requires_grad_(True) for _ in range(2)]
    for layer, xi in zip((layer_ref, layer_fast), xs):
        layer(xi).pow(2).sum().backward()
    torch.testing.assert_close(xs[1].grad, xs[0].grad, atol=1e-5, rtol=1e-5)


def test_only_the_input_is_saved_for_backward():
    """Besides parameters, our layer keeps only its input x for backward (peft's also keeps the rank-r hidden)."""
    ref, fast = _pair(0.0)
    x = torch.randn(2, 7, ref.blocks[0].attn.qkv.in_features, requires_grad=True)

    def saved_bytes(layer) -> int:
        params = {p.data_ptr() for p in layer.parameters()}
        sizes = []

        def pack(t):
            if t.data_ptr() not in params:
                sizes.append(t.untyped_storage().nbytes())
            return t
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            layer(x)
        return sum(sizes)
    assert saved_bytes(fast.blocks[0].attn.qkv) == x.numel() * 4
    assert saved_bytes(ref.blocks[0].attn.qkv) > x.numel() * 4


def test_fast_layers_save_the_same_adapter(tmp_path):
    """save_pretrained writes the same files and tensors; the saved adapter loads back with peft."""
    from peft import PeftModel
    from safetensors.torch import load_file

    torch.manual_seed(0)
    enc = build_encoder("opera-gt", config="tiny")
    a, b = copy.deepcopy(enc), copy.deepcopy(enc)
    pa, pb = apply_lora(a, rank=4, alpha=8, fast=False), apply_lora(b, rank=4, alpha=8, fast=True)
    pb.load_state_dict(pa.state_dict())
    pa.save_pretrained(str(tmp_path / "a"))
    pb.save_pretrained(str(tmp_path / "b"))
    sa, sb = load_file(tmp_path / "a" / "adapter_model.safetensors"), load_file(tmp_path / "b" /
                                                                               "adapter_model.safetensors")
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert (tmp_path / "a" / "adapter_config.json").read_text() == (tmp_path / "b" / "adapter_config.json").read_text()
    loaded = PeftModel.from_pretrained(copy.deepcopy(enc), str(tmp_path / "b"))
    assert set(loaded.state_dict()) == set(pb.state_dict())


def test_recomputed_blocks_give_the_same_gradients():
    """align.recompute (blocks recomputed in backward) changes neither the output nor any gradient."""
    from align.recompute import recompute_lora_blocks

    ref, fast = _pair(0.3)
    keys = set(fast.state_dict())
    assert recompute_lora_blocks(fast) == ["blocks.0", "blocks.1"] and set(fast.state_dict()) == keys
    assert recompute_lora_blocks(fast) == ["blocks.0", "blocks.1"]                  # idempotent
    assert type(fast.blocks[0]).__name__ == "RecomputedViTBlock" and type(fast.blocks[0]).__mro__[1].__name__ == \
        "ViTBlock"
    wav = 0.1 * torch.randn(2, 20000, generator=torch.Generator().manual_seed(5))
    out_ref, g_ref = _grads(ref, wav, train=True, seed=6)
    out_rec, g_rec = _grads(fast, wav, train=True, seed=6)
    torch.testing.assert_close(out_rec, out_ref, atol=1e-5, rtol=1e-5)
    for n in g_ref:
        torch.testing.assert_close(g_rec[n], g_ref[n], atol=1e-5, rtol=1e-4, msg=n)


def test_the_mfd_base_shares_frozen_weights_under_lora_and_stays_the_base():
    from align.run import frozen_copy

    torch.manual_seed(0)
    enc = build_encoder("opera-gt", config="tiny")
    owned, shared = frozen_copy(enc, share_weights=False), frozen_copy(enc, share_weights=True)
    apply_lora(enc, rank=4, alpha=8)
    with torch.no_grad():
        for n, p in enc.named_parameters():
            if "lora_B" in n:
                p.fill_(0.1)
    wav = torch.randn(2, 16000)
    ptrs = {p.data_ptr() for p in enc.parameters()}
    assert all(p.data_ptr() in ptrs and not p.requires_grad for p in shared.parameters())
    assert not any(p.data_ptr() in ptrs for p in owned.parameters())
    with torch.no_grad():
        assert torch.equal(shared.frames(wav), owned.frames(wav))
        assert not torch.allclose(enc.frames(wav), owned.frames(wav))
