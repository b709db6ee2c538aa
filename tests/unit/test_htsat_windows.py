"""The Swin block of adapters/_htsat.py against the textbook shifted-window computation (roll, partition, explicit
softmax with relative bias and mask, reverse, roll back), and its inference-only bias cache."""

from __future__ import annotations

import pytest
import torch

from adapters._htsat import SwinBlock, window_order, window_partition


def _reference_block(blk: SwinBlock, x: torch.Tensor) -> torch.Tensor:
    """Swin-T's block as upstream writes it: roll / window_partition / softmax(qk^T*scale + bias + mask) v / ..."""
    b, n, c = x.shape
    r, w, s = blk.resolution, blk.window, blk.shift
    attn = blk.attn
    heads = attn.num_heads
    h = blk.norm1(x).view(b, r, r, c)
    if s:
        h = torch.roll(h, shifts=(-s, -s), dims=(1, 2))
    win = window_partition(h, w).reshape(-1, w * w, c)
    bw, m, _ = win.shape
    q, k, v = attn.qkv(win).reshape(bw, m, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    scores = (q * attn.scale) @ k.transpose(-2, -1)
    bias = attn.relative_position_bias_table[attn.relative_position_index.view(-1)].view(m, m, -1).permute(2, 0, 1)
    scores = scores + bias[None]
    if blk.attn_mask is not None:
        nw = blk.attn_mask.shape[0]
        scores = (scores.view(bw // nw, nw, heads, m, m) + blk.attn_mask[None, :, None]).view(bw, heads, m, m)
    out = attn.proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(bw, m, c))
    out = out.view(b, r // w, r // w, w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(b, r, r, c)
    if s:
        out = torch.roll(out, shifts=(s, s), dims=(1, 2))
    x = x + out.reshape(b, n, c)
    return x + blk.mlp(blk.norm2(x))


def _block(shift: int, resolution: int = 8, window: int = 4) -> SwinBlock:
    torch.manual_seed(0)
    blk = SwinBlock(dim=16, resolution=resolution, num_heads=2, window=window, shift=shift, mlp_ratio=2.0,
                    drop_path_rate=0.0).eval()
    with torch.no_grad():
        for p in blk.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return blk


@pytest.mark.parametrize("shift,resolution", [(0, 8), (2, 8), (0, 4)])
def test_block_equals_the_shifted_window_reference(shift, resolution):
    blk = _block(shift, resolution)
    x = torch.randn(3, resolution * resolution, 16)
    with torch.inference_mode():
        torch.testing.assert_close(blk(x), _reference_block(blk, x), rtol=1e-5, atol=1e-5)


def test_window_order_is_roll_then_partition():
    grid = torch.arange(64).view(1, 8, 8, 1)
    expected = window_partition(torch.roll(grid, shifts=(-2, -2), dims=(1, 2)), 4).reshape(-1)
    assert torch.equal(window_order(8, 4, 2), expected)
    assert window_order(4, 4, 0) is None


def test_cached_bias_follows_in_place_weight_changes():
    blk = _block(2)
    x = torch.randn(2, 64, 16)
    with torch.inference_mode():
        before = blk(x)
    with torch.no_grad():
        blk.attn.relative_position_bias_table.mul_(3.0)     # e.g. load_state_dict copying new weights in
    with torch.inference_mode():
        after = blk(x)
        torch.testing.assert_close(after, _reference_block(blk, x), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(before, after)


def test_bias_table_gets_gradients_after_inference_calls():
    blk = _block(2)
    x = torch.randn(2, 64, 16)
    with torch.inference_mode():
        blk(x)                                               # fills the inference cache
    blk.train()
    blk(x).square().sum().backward()
    grad = blk.attn.relative_position_bias_table.grad
    assert grad is not None and grad.abs().sum() > 0
