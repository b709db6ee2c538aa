"""A faster forward for the Swin blocks of transformers' CLAP audio tower (`ClapAudioLayer`), same function.

transformers' block (5.2x, `modeling_clap.ClapAudioLayer`) rebuilds the shifted-window mask and gathers the
relative position bias from its table in every forward pass, computes attention with explicit matmuls + softmax
(the relative bias and the mask added as separate [B*nW, heads, N, N] passes), and shifts / partitions / reverses
the token grid with two rolls and two permute-copies. `FusedClapAudioLayer` computes the same block with:

* the cyclic shift + window partition, and their inverse, as one token gather each (`_htsat.window_order`);
* bias + mask built once per block while inference runs (`_htsat.InferenceCache`), rebuilt when the bias table
  changes or gradients are on;
* F.scaled_dot_product_attention (`_htsat.fused_window_attention`).

Blocks whose grid is not a multiple of the window (transformers pads those) and calls that ask for attention
weights take transformers' own forward. Module and parameter names are unchanged, so checkpoints load as before.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from transformers.models.clap.modeling_clap import ClapAudioLayer

from adapters._htsat import InferenceCache, fused_window_attention, tensor_key, window_attention_bias, window_order


class FusedClapAudioLayer(ClapAudioLayer):
    """`ClapAudioLayer` with the fused forward described in the module docstring."""

    def _window_tables(self, height: int, width: int, hidden: Tensor):
        """(token order [H*W] or None, its inverse or None, shift mask [nW, N, N] or None) for this grid."""
        key = (height, width, self.window_size, self.shift_size, hidden.device, hidden.dtype)
        cached = getattr(self, "_tables", None)
        if cached is None or cached[0] != key:
            if height != width:
                raise ValueError(f"fused CLAP block expects a square token grid, got {height} x {width}")
            # ordinary tensors even when first built under inference_mode: index_select saves its index for
            # backward, which an inference tensor cannot be
            with torch.inference_mode(False), torch.no_grad():
                order = window_order(height, self.window_size, self.shift_size)
                order = None if order is None else order.to(hidden.device)
                restore = None if order is None else order.argsort()
                mask = self.get_attn_mask(height, width, dtype=hidden.dtype, device=hidden.device)
            self._tables = cached = (key, (order, restore, mask))
        return cached[1]

    def forward(self, hidden_states: Tensor, input_dimensions: tuple[int, int], output_attentions: bool | None = False,
                always_partition: bool | None = False) -> tuple[Tensor]:
        """[B, H*W, C] tokens -> ([B, H*W, C],), as `ClapAudioLayer.forward`."""
        if not always_partition:
            self.set_shift_and_window_size(input_dimensions)
        height, width = input_dimensions
        w = self.window_size
        if output_attentions or height % w or width % w or height != width:
            return super().forward(hidden_states, input_dimensions, output_attentions, always_partition)
        b, n, c = hidden_states.shape
        order, restore, mask = self._window_tables(height, width, hidden_states)
        x = self.layernorm_before(hidden_states)
        if order is not None:
            x = x.index_select(1, order)
        x = self._attention(x.view(-1, w * w, c), mask).view(b, n, c)
        if restore is not None:
            x = x.index_select(1, restore)
        hidden_states = hidden_states + self.drop_path(x)
        return (hidden_states + self.output(self.intermediate(self.layernorm_after(hidden_states))),)

    def _attention(self, windows: Tensor, mask: Tensor | None) -> Tensor:
        """[B*nW, N, C] window tokens -> [B*nW, N, C]: transformers' ClapAudioAttention, fused."""
        attn = self.attention.self
        bw, n, c = windows.shape
        heads, d = attn.num_attention_heads, attn.attention_head_size
        q, k, v = (proj(windows).view(bw, n, heads, d).transpose(1, 2) for proj in (attn.query, attn.key, attn.value))
        table = attn.relative_position_bias_table
        cache = attn.__dict__.setdefault("_fused_bias", InferenceCache())
        bias = cache.get((tensor_key(table), tensor_key(mask)),
                         lambda: window_attention_bias(table, attn.relative_position_index, mask))
        dropout = attn.dropout.p if self.training else 0.0
        return self.attention.output(fused_window_attention(q, k, v, bias, d ** -0.5, dropout), windows)


def fuse_clap_swin_blocks(model: nn.Module) -> nn.Module:
    """Give every `ClapAudioLayer` inside `model` the fused forward (in place; parameters untouched). Returns model."""
    for module in model.modules():
        if type(module) is ClapAudioLayer:
            module.__class__ = FusedClapAudioLayer
    return model
