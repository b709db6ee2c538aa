"""The BEATs transformer: conv positional embedding, gated relative position bias, deep-norm post-LN layers.

A re-implementation of `TransformerEncoder`, `TransformerSentenceEncoderLayer` and `MultiheadAttention`
from github microsoft/unilm `beats/backbone.py` (commit 158b811), self-attention only, without fairseq's
incremental decoding. Module and parameter names equal upstream's, so published state dicts load key for key:

    pos_conv.0.{weight_g, weight_v, bias}   conv positional embedding (old-style weight norm over dim 2)
    layer_norm.{weight, bias}               after the positional embedding (post-LN) or at the end (pre-LN)
    layers.N.self_attn.{q,k,v,out}_proj     attention projections (nn.Linear)
    layers.N.self_attn.relative_attention_bias.weight   [num_buckets, heads]; one module shared by every layer
    layers.N.self_attn.{grep_linear, grep_a}             GRU-style gate of the relative position bias
    layers.N.{self_attn_layer_norm, fc1, fc2, final_layer_norm}

Tensors are [B, T, C] throughout (upstream computes in [T, B, C]; the results are the same).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ACTIVATIONS = {
    "gelu": lambda x: F.gelu(x.float()).type_as(x),
    "gelu_accurate": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "tanh": torch.tanh,
    "linear": lambda x: x,
}


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; multiplies the gradient by `scale` (upstream's layer-wise gradient decay)."""

    @staticmethod
    def forward(ctx, x: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return x.clone()

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad * ctx.scale, None


class WeightNormConv1d(nn.Module):
    """Conv1d whose weight is g * v / ||v||, the norm taken over every dim except the kernel axis (dim 2).

    Same parameters and names as `torch.nn.utils.weight_norm(conv, name="weight", dim=2)` (`weight_g`
    [1, 1, K], `weight_v` [C_out, C_in / groups, K], `bias`), written out so that the published keys do not
    depend on torch's deprecated helper.
    """

    def __init__(self, channels: int, kernel_size: int, groups: int):
        super().__init__()
        self.padding = kernel_size // 2
        self.groups = groups
        v = torch.randn(channels, channels // groups, kernel_size) * math.sqrt(4.0 / (kernel_size * channels))
        self.weight_v = nn.Parameter(v)
        self.weight_g = nn.Parameter(torch.linalg.vector_norm(v, dim=(0, 1), keepdim=True))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        """[B, C, T] -> [B, C, T + 1 - K % 2]."""
        v = self.weight_v
        weight = v * (self.weight_g / torch.linalg.vector_norm(v, dim=(0, 1), keepdim=True))
        return F.conv1d(x, weight, self.bias, padding=self.padding, groups=self.groups)


class TrimLast(nn.Module):
    """Drop the last time step when the kernel is even, so a 'same' conv keeps T (upstream `SamePad`)."""

    def __init__(self, kernel_size: int):
        super().__init__()
        self.remove = 1 if kernel_size % 2 == 0 else 0

    def forward(self, x: Tensor) -> Tensor:
        return x[:, :, :-self.remove] if self.remove else x


def relative_position_buckets(length: int, num_buckets: int, max_distance: int, device=None) -> Tensor:
    """[T, T] long bucket index of (key position - query position), T5-style, bidirectional.

    Half of the buckets per direction; within each, distances below half are exact and larger ones are
    log-spaced up to `max_distance` (upstream `_relative_positions_bucket`, same float32 arithmetic).
    """
    pos = torch.arange(length, dtype=torch.long, device=device)
    rel = pos[None, :] - pos[:, None]
    half = num_buckets // 2
    buckets = (rel > 0).to(torch.long) * half
    dist = rel.abs()
    max_exact = half // 2
    # clamp(min=1) only keeps log() finite where the exact branch is used anyway
    far = max_exact + (torch.log(dist.clamp(min=1).float() / max_exact) / math.log(max_distance / max_exact)
                       * (half - max_exact)).to(torch.long)
    far = far.clamp(max=half - 1)
    return buckets + torch.where(dist < max_exact, dist, far)


class BeatsSelfAttention(nn.Module):
    """Multi-head self-attention with an additive relative position bias, optionally gated per query."""

    def __init__(self, dim: int, heads: int, dropout: float, relative_bias: bool, num_buckets: int,
                 max_distance: int, gru_rel_pos: bool):
        super().__init__()
        if dim % heads:
            raise ValueError(f"BEATs config: encoder_embed_dim {dim} is not divisible by "
                             f"encoder_attention_heads {heads}")
        self.heads, self.head_dim, self.dropout = heads, dim // heads, dropout
        self.num_buckets, self.max_distance = num_buckets, max_distance
        if relative_bias:
            self.relative_attention_bias = nn.Embedding(num_buckets, heads)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        self.gru_rel_pos = gru_rel_pos
        if gru_rel_pos:
            self.grep_linear = nn.Linear(self.head_dim, 8)
            self.grep_a = nn.Parameter(torch.ones(1, heads, 1, 1))

    def position_bias(self, length: int) -> Tensor:
        """[H, T, T] float bias from this layer's bucket embedding."""
        buckets = relative_position_buckets(length, self.num_buckets, self.max_distance,
                                            self.relative_attention_bias.weight.device)
        return self.relative_attention_bias(buckets).permute(2, 0, 1)

    def forward(self, x: Tensor, position_bias: Tensor | None) -> Tensor:
        """x [B, T, C], position_bias [H, T, T] or None -> [B, T, C]."""
        b, t, c = x.shape
        q, k, v = (proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
                   for proj in (self.q_proj, self.k_proj, self.v_proj))
        bias = None
        if position_bias is not None:
            bias = position_bias.unsqueeze(0)
            if self.gru_rel_pos:
                # the gate sees the unscaled query of each head: [B, H, T, 8] -> two gates [B, H, T, 1]
                gate_a, gate_b = torch.sigmoid(
                    self.grep_linear(q).view(b, self.heads, t, 2, 4).sum(-1)).chunk(2, dim=-1)
                bias = (gate_a * (gate_b * self.grep_a - 1.0) + 2.0) * bias
            bias = bias.to(q.dtype)
        # upstream scales q by 1/32 and subtracts the row max before adding the bias: the same softmax in fp32
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias,
                                             dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(out.transpose(1, 2).reshape(b, t, c))


class BeatsLayer(nn.Module):
    """One transformer layer; post-LN with deep-norm residual scaling, or pre-LN (`layer_norm_first`)."""

    def __init__(self, cfg: dict, relative_bias: bool):
        super().__init__()
        dim = cfg["encoder_embed_dim"]
        self.self_attn = BeatsSelfAttention(dim, cfg["encoder_attention_heads"], cfg["attention_dropout"],
                                            relative_bias, cfg["num_buckets"], cfg["max_distance"],
                                            cfg["gru_rel_pos"])
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, cfg["encoder_ffn_embed_dim"])
        self.fc2 = nn.Linear(cfg["encoder_ffn_embed_dim"], dim)
        self.final_layer_norm = nn.LayerNorm(dim)
        self.activation = ACTIVATIONS[cfg["activation_fn"]]
        self.dropout, self.activation_dropout = cfg["dropout"], cfg["activation_dropout"]
        self.layer_norm_first = cfg["layer_norm_first"]
        self.residual_scale = (2 * cfg["encoder_layers"]) ** 0.25 if cfg["deep_norm"] else 1.0

    def _ffn(self, x: Tensor) -> Tensor:
        x = F.dropout(self.activation(self.fc1(x)), self.activation_dropout, self.training)
        return F.dropout(self.fc2(x), self.dropout, self.training)

    def forward(self, x: Tensor, position_bias: Tensor | None) -> Tensor:
        """[B, T, C] -> [B, T, C]."""
        if self.layer_norm_first:
            x = x + F.dropout(self.self_attn(self.self_attn_layer_norm(x), position_bias), self.dropout,
                              self.training)
            return x + self._ffn(self.final_layer_norm(x))
        attn = F.dropout(self.self_attn(x, position_bias), self.dropout, self.training)
        x = self.self_attn_layer_norm(x * self.residual_scale + attn)
        return self.final_layer_norm(x * self.residual_scale + self._ffn(x))


class BeatsTransformer(nn.Module):
    """Conv positional embedding + a stack of BeatsLayer. [B, T, C] -> [B, T, C]."""

    def __init__(self, cfg: dict):
        super().__init__()
        dim, n_layers = cfg["encoder_embed_dim"], cfg["encoder_layers"]
        self.pos_conv = nn.Sequential(WeightNormConv1d(dim, cfg["conv_pos"], cfg["conv_pos_groups"]),
                                      TrimLast(cfg["conv_pos"]), nn.GELU())
        self.relative_bias = bool(cfg["relative_position_embedding"])
        self.layers = nn.ModuleList(BeatsLayer(cfg, self.relative_bias) for _ in range(n_layers))
        if self.relative_bias:  # one table shared by all layers, registered under each layer's name
            for layer in self.layers[1:]:
                layer.self_attn.relative_attention_bias = self.layers[0].self_attn.relative_attention_bias
        self.layer_norm = nn.LayerNorm(dim)
        self.layer_norm_first = cfg["layer_norm_first"]
        self.dropout, self.layerdrop = cfg["dropout"], cfg["encoder_layerdrop"]
        self.grad_decay = float(cfg["layer_wise_gradient_decay_ratio"])
        self._init_weights(cfg)

    def _init_weights(self, cfg: dict) -> None:
        """Random initialisation in upstream's spirit (BERT normal(0.02), deep-norm Xavier gains)."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        if cfg["deep_norm"]:
            beta = (8 * cfg["encoder_layers"]) ** -0.25
            for layer in self.layers:
                a = layer.self_attn
                for lin, gain in ((a.q_proj, 1.0), (a.k_proj, 1.0), (a.v_proj, beta), (a.out_proj, beta),
                                  (layer.fc1, beta), (layer.fc2, beta)):
                    nn.init.xavier_normal_(lin.weight, gain=gain)

    def forward(self, x: Tensor) -> Tensor:
        """[B, T, C] patch features -> [B, T, C] contextual features."""
        x = x + self.pos_conv(x.transpose(1, 2)).transpose(1, 2)
        if not self.layer_norm_first:
            x = self.layer_norm(x)
        x = F.dropout(x, self.dropout, self.training)
        bias = self.layers[0].self_attn.position_bias(x.shape[1]) if self.relative_bias else None
        for layer in self.layers:
            if self.grad_decay != 1.0 and x.requires_grad:
                x = _ScaleGrad.apply(x, self.grad_decay)
            if self.training and self.layerdrop > 0 and float(torch.rand(())) < self.layerdrop:
                continue
            x = layer(x, bias)
        return self.layer_norm(x) if self.layer_norm_first else x
