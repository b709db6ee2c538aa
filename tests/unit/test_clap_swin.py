"""adapters/_clap_swin.py: the fused forward of transformers' CLAP Swin blocks computes what transformers' does."""

from __future__ import annotations

import pytest
import torch

from adapters._clap_swin import FusedClapAudioLayer
from adapters.clap import _TINY, LaionClap


@pytest.fixture(scope="module")
def clap():
    """Tiny CLAP with two blocks per stage, so that the shifted (masked) blocks exist; weights randomised."""
    torch.manual_seed(0)
    enc = LaionClap(dict(_TINY, depths=[2, 2, 2, 2])).eval()
    with torch.no_grad():
        for p in enc.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return enc


def _layers(enc):
    return [m for m in enc.modules() if isinstance(m, FusedClapAudioLayer)]


def test_every_swin_block_is_fused(clap):
    from transformers.models.clap.modeling_clap import ClapAudioLayer

    blocks = [m for m in clap.modules() if isinstance(m, ClapAudioLayer)]
    assert blocks and all(type(m) is FusedClapAudioLayer for m in blocks)
    assert any(m.shift_size for m in blocks)                       # the shifted (masked) path is exercised


@pytest.mark.parametrize("grad", [False, True])
def test_fused_block_equals_transformers_block(clap, grad):
    from transformers.models.clap.modeling_clap import ClapAudioLayer

    layer = next(m for m in _layers(clap) if m.shift_size)
    res = layer.input_resolution
    x = torch.randn(2, res[0] * res[1], layer.layernorm_before.normalized_shape[0])
    with torch.set_grad_enabled(grad):
        fused = layer(x, res)[0]
        reference = ClapAudioLayer.forward(layer, x, res)[0]
    torch.testing.assert_close(fused, reference, rtol=1e-5, atol=1e-5)


def test_fused_encoder_equals_unfused_encoder(clap):
    from transformers.models.clap.modeling_clap import ClapAudioLayer

    wav = 0.1 * torch.randn(2, 48000 * 3)
    with torch.inference_mode():
        fused = clap.embed(wav)
    layers = _layers(clap)
    try:
        for m in layers:
            m.__class__ = ClapAudioLayer
        with torch.inference_mode():
            reference = clap.embed(wav)
    finally:
        for m in layers:
            m.__class__ = FusedClapAudioLayer
    torch.testing.assert_close(fused, reference, rtol=1e-5, atol=1e-6)
