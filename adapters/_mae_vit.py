"""Building blocks of OPERA-GT's masked autoencoder: ViT encoder block, OPERA's window-attention decoder block,
the fixed sin-cos position table, patchify and random masking.

Written against upstream OPERA (github evelyn0414/OPERA, commit 3622310): `src/model/models_mae.py`
(`MaskedAutoencoderViTMD`, `mae_vit_small`), `src/model/mae_utils/pos_embed.py` and
`src/model/mae_utils/swin_transformer.py` (the AudioMAE "timm patch" that OPERA copies over
`timm/models/swin_transformer.py`; OPERA's version differs from AudioMAE's, see `WindowDecoderBlock`).
The encoder block equals timm's `vision_transformer.Block` (pre-norm, fused qkv with bias, exact GELU).

Shapes: a spectrogram chunk is [N, T, F] (time frames x mel bins); a p x p patch grid gives T/p * F/p tokens in
time-major order (token i = t * F/p + f), [N, L, D].
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


# -- position table ----------------------------------------------------------------------------------------
def sincos_1d(dim: int, positions: np.ndarray) -> np.ndarray:
    """[M] positions -> [M, dim] (sin of dim/2 frequencies, then cos), frequencies 1 / 10000^(2k/dim).

    Computed in float32 like upstream, so a freshly built table equals upstream's bit for bit.
    """
    omega = np.arange(dim // 2, dtype=np.float32) / np.float32(dim / 2.0)
    omega = (np.float32(1.0) / np.float32(10000.0) ** omega).astype(np.float32)
    angles = positions.reshape(-1, 1).astype(np.float32) * omega[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def opera_pos_embed(dim: int, n_time: int, n_freq: int) -> Tensor:
    """OPERA-GT's fixed 2-D sin-cos table, [1 + n_time * n_freq, dim] float32, row 0 (CLS) all zeros.

    Upstream builds the grid as (n_freq rows, n_time columns) (`PatchEmbed_org.patch_hw` is (F/p, T/p)) while the
    tokens come out time-major, so token i gets the coordinates (i mod n_time, i div n_time) rather than its own
    (t, f). The weights were trained with this table; it is reproduced as is.
    """
    if dim % 4:
        raise ValueError(f"sin-cos position embedding needs embed_dim divisible by 4, got {dim}")
    i = np.arange(n_time * n_freq)
    table = np.concatenate([sincos_1d(dim // 2, i % n_time), sincos_1d(dim // 2, i // n_time)], axis=1)
    table = np.concatenate([np.zeros((1, dim)), table], axis=0)
    return torch.from_numpy(table).float()


# -- patches -----------------------------------------------------------------------------------------------
class PatchEmbed(nn.Module):
    """Non-overlapping p x p patches of a [N, T, F] spectrogram -> [N, (T/p) * (F/p), D] (a strided conv)."""

    def __init__(self, patch: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(1, dim, kernel_size=patch, stride=patch)

    def forward(self, spec: Tensor) -> Tensor:
        return self.proj(spec.unsqueeze(1)).flatten(2).transpose(1, 2)


def patchify(spec: Tensor, patch: int) -> Tensor:
    """[N, T, F] -> [N, (T/p) * (F/p), p * p] pixel patches in the token order of PatchEmbed (row-major inside)."""
    n, t, f = spec.shape
    x = spec.reshape(n, t // patch, patch, f // patch, patch)
    return x.permute(0, 1, 3, 2, 4).reshape(n, (t // patch) * (f // patch), patch * patch)


def random_masking(x: Tensor, mask_ratio: float, generator: torch.Generator | None = None):
    """MAE's per-sample random masking: keep int(L * (1 - mask_ratio)) tokens chosen by uniform noise.

    Args:
        x: [N, L, D] tokens.
    Returns:
        kept [N, L_keep, D], mask [N, L] float (1 = masked), restore [N, L] long (un-shuffling indices).
    """
    n, length, d = x.shape
    n_keep = int(length * (1 - mask_ratio))
    noise = torch.rand(n, length, device=x.device, generator=generator)
    shuffle = torch.argsort(noise, dim=1)
    restore = torch.argsort(shuffle, dim=1)
    kept = torch.gather(x, 1, shuffle[:, :n_keep, None].expand(-1, -1, d))
    mask = torch.ones(n, length, device=x.device)
    mask[:, :n_keep] = 0
    return kept, torch.gather(mask, 1, restore), restore


# -- encoder block -----------------------------------------------------------------------------------------
class SelfAttention(nn.Module):
    """Multi-head self-attention with a fused qkv projection (timm's `Attention`, qkv_bias=True)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"embed dim {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        n, length, d = x.shape
        q, k, v = self.qkv(x).reshape(n, length, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(n, length, d))


class FeedForward(nn.Module):
    """fc1 -> activation -> fc2 (timm's `Mlp`, dropout 0 unless given)."""

    def __init__(self, dim: int, hidden: int, out: int | None = None, act: type[nn.Module] = nn.GELU,
                 dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = act()
        self.drop1 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, out or dim)
        self.drop2 = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop2(self.fc2(self.drop1(self.act(self.fc1(x)))))


class ViTBlock(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)). [N, L, D] -> [N, L, D]."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, eps: float = 1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = FeedForward(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


# -- decoder block -----------------------------------------------------------------------------------------
def window_partition(x: Tensor, window: tuple[int, int]) -> Tensor:
    """[B, H, W, C] -> [B * H/wh * W/ww, wh, ww, C]."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // window[0], window[0], w // window[1], window[1], c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window[0], window[1], c)


def window_merge(windows: Tensor, window: tuple[int, int], grid: tuple[int, int]) -> Tensor:
    """Inverse of window_partition: [B * nW, wh, ww, C] -> [B, H, W, C]."""
    h, w = grid
    b = windows.shape[0] * window[0] * window[1] // (h * w)
    x = windows.reshape(b, h // window[0], w // window[1], window[0], window[1], -1)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, -1)


def shifted_window_mask(grid: tuple[int, int], window: tuple[int, int], shift: tuple[int, int]) -> Tensor:
    """Additive attention mask [nW, wh*ww, wh*ww]: -100 between positions that the cyclic shift made neighbours.

    Along an axis with shift s > 0 the grid splits into [0, n-w), [n-w, n-s), [n-s, n). Along an axis with s = 0
    upstream's slices (`-0` is 0 in Python) leave one region, which is reproduced here.
    """
    def regions(n: int, w: int, s: int) -> Tensor:
        r = torch.zeros(n)
        if s > 0:
            r[n - w:n - s] = 1
            r[n - s:] = 2
        return r

    ids = regions(grid[0], window[0], shift[0])[:, None] * 3 + regions(grid[1], window[1], shift[1])[None, :]
    win = window_partition(ids[None, :, :, None], window).reshape(-1, window[0] * window[1])
    diff = win[:, None, :] - win[:, :, None]
    return torch.where(diff != 0, torch.tensor(-100.0), torch.tensor(0.0))


class WindowCosineAttention(nn.Module):
    """Swin-V2 window attention: cosine similarity / learned temperature `tau` + log-spaced continuous position
    bias from a 2-layer `meta_mlp` (ReLU, dropout 0.1 in training, as upstream).

    Input [Bw, n, C] windows of n = wh*ww positions; mask [nW, n, n] or None.
    """

    def __init__(self, dim: int, heads: int, window: tuple[int, int], meta_hidden: int = 384):
        super().__init__()
        if dim % heads:
            raise ValueError(f"decoder dim {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.window = window
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.meta_mlp = FeedForward(2, meta_hidden, out=heads, act=nn.ReLU, dropout=0.1)
        self.tau = nn.Parameter(torch.ones(heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window[0]), torch.arange(window[1]), indexing="ij"))
        rel = (coords.flatten(1)[:, :, None] - coords.flatten(1)[:, None, :]).permute(1, 2, 0).reshape(-1, 2)
        rel = rel.float()
        self.register_buffer("relative_log", torch.sign(rel) * torch.log1p(rel.abs()), persistent=False)

    def position_bias(self) -> Tensor:
        n = self.window[0] * self.window[1]
        return self.meta_mlp(self.relative_log).transpose(0, 1).reshape(1, self.heads, n, n)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        bw, n, c = x.shape
        q, k, v = self.qkv(x).reshape(bw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        denom = q.norm(dim=-1, keepdim=True) @ k.norm(dim=-1, keepdim=True).transpose(-2, -1)
        attn = (q @ k.transpose(-2, -1)) / denom.clamp(min=1e-6)
        attn = attn / self.tau.clamp(min=0.01).reshape(1, self.heads, 1, 1) + self.position_bias()
        if mask is not None:
            n_win = mask.shape[0]
            attn = attn.reshape(bw // n_win, n_win, self.heads, n, n) + mask[None, :, None]
            attn = attn.reshape(bw, self.heads, n, n)
        out = attn.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(bw, n, c))


class WindowDecoderBlock(nn.Module):
    """OPERA-GT's decoder block: post-norm Swin-V2 block, x + norm1(window_attn(x)), x + norm2(ffn(x)).

    OPERA's block reads the [B, L, C] token tensor as a [B, H, W, L] "image" (`x.view(B, H, W, L)` in upstream
    `_shifted_window_attn`, which needs H * W == C; `grid` = (32, 8) for C = 256), shifts and partitions that,
    and regroups the windows as [-1, wh*ww, C] rows. Attention therefore runs over groups of memory-contiguous
    slices rather than spatial windows of patches. The weights were trained with exactly this data flow, so it
    is reproduced as is.

    Upstream names the two branches `attn` and `mlp`; here they are `window_attn` and `ffn` so that LoRA suffixes
    `attn.qkv`, `mlp.fc1`, ... select only encoder layers (OperaGT.read_checkpoint renames the keys).
    """

    def __init__(self, dim: int, heads: int, grid: tuple[int, int], window: tuple[int, int],
                 shift: tuple[int, int], mlp_ratio: float = 4.0, eps: float = 1e-6):
        super().__init__()
        if grid[0] * grid[1] != dim:
            raise ValueError(f"decoder grid {grid} must multiply to the decoder dim {dim} "
                             f"(upstream views [B, L, C] tokens as [B, H, W, L])")
        window = tuple(min(g, w) for g, w in zip(grid, window))
        shift = tuple(0 if g <= w else s for g, w, s in zip(grid, window, shift))
        if any(g % w for g, w in zip(grid, window)):
            raise ValueError(f"decoder grid {grid} is not divisible by the window {window}")
        self.grid, self.window, self.shift = tuple(grid), window, shift
        self.window_attn = WindowCosineAttention(dim, heads, window)
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.ffn = FeedForward(dim, int(dim * mlp_ratio))
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        mask = shifted_window_mask(self.grid, window, shift) if any(shift) else None
        self.register_buffer("attn_mask", mask, persistent=False)

    def _window_attention(self, x: Tensor) -> Tensor:
        b, length, c = x.shape
        h, w = self.grid
        sh, sw = self.shift
        img = x.reshape(b, h, w, length)
        if sh or sw:
            img = torch.roll(img, shifts=(-sh, -sw), dims=(1, 2))
        windows = window_partition(img, self.window).reshape(-1, self.window[0] * self.window[1], c)
        windows = self.window_attn(windows, self.attn_mask)
        img = window_merge(windows.reshape(-1, self.window[0], self.window[1], c), self.window, self.grid)
        if sh or sw:
            img = torch.roll(img, shifts=(sh, sw), dims=(1, 2))
        return img.reshape(b, length, c)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.norm1(self._window_attention(x))
        return x + self.norm2(self.ffn(x))


def count_parameters(module: nn.Module) -> int:
    """Number of parameter values (not buffers) of `module`."""
    return sum(p.numel() for p in module.parameters())


def xavier_linear_init(module: nn.Module) -> None:
    """MAE's initialisation: xavier-uniform Linear weights, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)

