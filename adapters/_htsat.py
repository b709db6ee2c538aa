"""The HTS-AT Swin backbone of OPERA-CT, as OPERA runs it for feature extraction.

A port of `src/model/htsat/htsat.py` in github evelyn0414/OPERA (commit 3622310), which is Ke Chen's HTS-AT
(arXiv:2202.00874, github RetroCirce/HTS-Audio-Transformer) built on the Swin Transformer (arXiv:2103.14030).
Module and buffer names equal upstream's, so a published state dict loads after stripping its prefix.

What OPERA's `HTSATWrapper` computes for a log-mel clip x [T, 64] in eval mode, and what `HTSATSwin` reproduces:
    bn0: BatchNorm over the 64 mel bins (running statistics)
    T <= 1024: bicubic stretch of the time axis to 1024 frames (align_corners=True), one "crop"
    T >  1024: 1024-frame crops starting at 0, 512, 1024, ... while start < T - 1025 (upstream's
               `range(0, T - 1024 - 1, 512)`; the tail after the last crop is not seen)
    each crop [1024, 64] -> folded into a 256 x 256 image: four 256-frame chunks stacked along frequency
    -> 4x4 patches (96-d), 4 Swin stages (depths 2,2,6,2; window 8; patch merging between stages), LayerNorm
    -> 8 x 8 token grid: row = (chunk, upper/lower half of the mel bins), column = 32-frame step in the chunk
    -> `latent_output` = mean of the 64 tokens (768-d); crops are averaged.
Upstream raises IndexError for T == 1025 (its crop range is empty); here such a clip gets the one crop at 0.
In training mode upstream draws one random crop of a long clip; here training sees the eval crops (deterministic).

Not ported, because OPERA's feature never reaches them: the torchlibrosa front end inside HTS-AT (OPERA feeds
log-mels computed outside), SpecAugment/mixup (training-time augmentation of the AudioSet recipe), and the
token-semantic classification head (`tscam_conv`, `head`). Stochastic depth (drop_path_rate 0.1) is kept: it
acts only in training mode, as upstream.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adapters._inference import run_in_groups

MASK_VALUE = -100.0  # upstream fills cross-window positions of the shifted-window mask with -100, not -inf
CROP_FRAMES = 1024   # the hard-coded crop length and hop of upstream's long-clip branch
CROP_HOP = 512


def window_partition(x: Tensor, w: int) -> Tensor:
    """[B, H, W, C] -> [B * H/w * W/w, w, w, C] non-overlapping windows, row-major."""
    b, h, wd, c = x.shape
    x = x.view(b, h // w, w, wd // w, w, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, w, w, c)


def window_order(resolution: int, window: int, shift: int) -> Tensor | None:
    """[r*r] long: the token (row-major index on the r x r grid) at each position of the shifted windows.

    Position j of the result is (window, row in window, column in window) after a cyclic shift of the grid by
    -shift, i.e. `window_partition(torch.roll(grid, (-shift, -shift)), window)` read as one index. Gathering the
    tokens [B, r*r, C] with it does the roll and the partition in one copy instead of three; gathering with its
    inverse undoes both. None when the window covers the whole unshifted grid (the order is the identity).
    """
    if window >= resolution and not shift:
        return None
    grid = torch.arange(resolution * resolution).view(1, resolution, resolution, 1)
    if shift:
        grid = torch.roll(grid, shifts=(-shift, -shift), dims=(1, 2))
    return window_partition(grid, window).reshape(-1)


def drop_path(x: Tensor, p: float, training: bool) -> Tensor:
    """Stochastic depth: zero whole samples with probability p (training only), rescale the rest."""
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = (keep + torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device)).floor_()
    return x / keep * mask


class InferenceCache:
    """One value kept while the key it was built from is unchanged, used only when autograd is off (inference):
    with gradients on, the value is rebuilt on every call so that it stays part of the graph."""

    def __init__(self):
        self.key, self.value = None, None

    def get(self, key, build):
        if torch.is_grad_enabled():
            self.key = self.value = None
            return build()
        if self.value is None or self.key != key:
            self.value, self.key = build(), key
        return self.value


def tensor_key(t: Tensor | None):
    """What identifies a tensor's current contents cheaply: storage, in-place version, device (None for None)."""
    return None if t is None else (t.data_ptr(), t._version, t.device)


def window_attention_bias(table: Tensor, index: Tensor, mask: Tensor | None) -> Tensor:
    """Swin's relative position bias for one window, plus the shifted-window mask when given.

    Args:
        table: [(2w-1)^2, heads] learned bias table; index: [N, N] long, N = w*w (row, column offsets -> row).
        mask: [nW, N, N] additive mask or None.
    Returns:
        [1, heads, N, N] (no mask) or [nW, heads, N, N], contiguous.
    """
    n = index.shape[0]
    bias = table[index.reshape(-1)].view(n, n, -1).permute(2, 0, 1).unsqueeze(0)
    return (bias if mask is None else bias + mask[:, None].to(bias.dtype)).contiguous()


def fused_window_attention(q: Tensor, k: Tensor, v: Tensor, bias: Tensor, scale: float,
                           dropout_p: float = 0.0) -> Tensor:
    """softmax(q k^T * scale + bias) v over windows, by F.scaled_dot_product_attention. Returns [B*nW, N, heads*d].

    Args:
        q, k, v: [B*nW, heads, N, d] (windows clip-major: window i of the batch is window i % nW of its clip).
        bias: [1 or nW, heads, N, N] from `window_attention_bias`.
    The fused CPU kernel takes 4-D inputs only (a 5-D [B, nW, ...] view falls back to the unfused math path,
    several times slower), and window i % nW cannot be expressed with strides, so an [nW, ...] bias is tiled over
    the batch: one [B*nW, heads, N, N] tensor, the size of the attention scores the unfused path would build.
    """
    bw, heads, n, d = q.shape
    if bias.shape[0] > 1:
        bias = bias.repeat(bw // bias.shape[0], 1, 1, 1)
    x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), dropout_p=dropout_p, scale=scale)
    return x.transpose(1, 2).reshape(bw, n, heads * d)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside a w x w window with a learned relative position bias."""

    def __init__(self, dim: int, window: int, num_heads: int, qkv_bias: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, num_heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)   # [w*w, w*w, 2]
        self.register_buffer("relative_position_index", rel[..., 0] * (2 * window - 1) + rel[..., 1])
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self._bias = InferenceCache()

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        """x [B*nW, N, C] (N = w*w tokens of one window, windows clip-major), mask [nW, N, N] or None
        -> [B*nW, N, C]."""
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape(bw, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        bias = self._bias.get((tensor_key(self.relative_position_bias_table), tensor_key(mask)), lambda: (
            window_attention_bias(self.relative_position_bias_table, self.relative_position_index, mask)))
        return self.proj(fused_window_attention(qkv[0], qkv[1], qkv[2], bias, self.scale))


class Mlp(nn.Module):
    """fc1 -> GELU -> fc2."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SwinBlock(nn.Module):
    """Pre-norm (shifted-)window attention + MLP, each with a residual. Tokens [B, H*W, C] in, same out."""

    def __init__(self, dim: int, resolution: int, num_heads: int, window: int, shift: int, mlp_ratio: float,
                 drop_path_rate: float):
        super().__init__()
        self.resolution = resolution
        if resolution <= window:   # the window covers the whole grid: no partition, no shift (as upstream)
            window, shift = resolution, 0
        self.window, self.shift, self.drop_path_rate = window, shift, drop_path_rate
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.register_buffer("attn_mask", self._shift_mask() if shift else None)
        order = window_order(resolution, window, shift)
        self.register_buffer("token_order", order, persistent=False)
        self.register_buffer("token_restore", None if order is None else torch.argsort(order), persistent=False)

    def _shift_mask(self) -> Tensor:
        """[nW, w*w, w*w]: 0 within a region, MASK_VALUE across the regions that the cyclic shift glued together."""
        r, w, s = self.resolution, self.window, self.shift
        region = torch.zeros(1, r, r, 1)
        bands = (slice(0, -w), slice(-w, -s), slice(-s, None))
        for i, hs in enumerate(bands):
            for j, ws in enumerate(bands):
                region[:, hs, ws, :] = i * 3 + j
        ids = window_partition(region, w).view(-1, w * w)
        diff = ids[:, None, :] - ids[:, :, None]
        return diff.masked_fill(diff != 0, MASK_VALUE).masked_fill(diff == 0, 0.0)

    def forward(self, x: Tensor) -> Tensor:
        """[B, r*r, C] tokens (row-major grid) -> same. The cyclic shift + window partition, and their inverse, are
        one token gather each (`window_order`); upstream's roll / partition / reverse / roll compute the same."""
        b, n, c = x.shape
        h = self.norm1(x)
        if self.token_order is not None:
            h = h.index_select(1, self.token_order)
        h = self.attn(h.view(-1, self.window * self.window, c), self.attn_mask).view(b, n, c)
        if self.token_restore is not None:
            h = h.index_select(1, self.token_restore)
        x = x + drop_path(h, self.drop_path_rate, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop_path_rate, self.training)


class PatchMerging(nn.Module):
    """2x2 neighbouring tokens -> concat (4C) -> LayerNorm -> Linear to 2C. [B, H*W, C] -> [B, H*W/4, 2C]."""

    def __init__(self, dim: int, resolution: int):
        super().__init__()
        self.resolution = resolution
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: Tensor) -> Tensor:
        b, _, c = x.shape
        x = x.view(b, self.resolution, self.resolution, c)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x.view(b, -1, 4 * c)))


class SwinStage(nn.Module):
    """`depth` blocks alternating plain and shifted windows, then an optional PatchMerging."""

    def __init__(self, dim: int, resolution: int, depth: int, num_heads: int, window: int, mlp_ratio: float,
                 drop_path_rates: list[float], downsample: bool):
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinBlock(dim, resolution, num_heads, window, 0 if i % 2 == 0 else window // 2, mlp_ratio,
                      drop_path_rates[i]) for i in range(depth))
        self.downsample = PatchMerging(dim, resolution) if downsample else None

    def forward(self, x: Tensor) -> Tensor:
        for blk in self.blocks:
            x = blk(x)
        return self.downsample(x) if self.downsample is not None else x


class PatchEmbed(nn.Module):
    """[B, 1, S, S] image -> Conv2d(patch, stride) -> [B, (S/stride)^2, D] tokens (row-major) -> LayerNorm."""

    def __init__(self, patch_size: int, patch_stride: int, embed_dim: int):
        super().__init__()
        pad = (patch_size - patch_stride) // 2
        self.proj = nn.Conv2d(1, embed_dim, kernel_size=patch_size, stride=patch_stride, padding=pad)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.proj(x).flatten(2).transpose(1, 2))


class HTSATSwin(nn.Module):
    """HTS-AT's Swin encoder over OPERA log-mels.

    Args:
        spec_size: side of the square image (256); the time axis is stretched to spec_size * freq_ratio frames,
            freq_ratio = spec_size // mel_bins (4).
        patch_size, patch_stride: patch embedding kernel and stride (4, 4).
        embed_dim: width of stage 1 (96); stage i has embed_dim * 2**i; output width embed_dim * 2**(L-1).
        depths, num_heads: blocks and attention heads per stage ((2, 2, 6, 2), (4, 8, 16, 32)).
        window_size: attention window side in tokens (8). mlp_ratio: MLP hidden / width (4).
        mel_bins: 64. drop_path_rate: stochastic depth at the last block (0.1, training only).
    """

    def __init__(self, spec_size: int = 256, patch_size: int = 4, patch_stride: int = 4, embed_dim: int = 96,
                 depths=(2, 2, 6, 2), num_heads=(4, 8, 16, 32), window_size: int = 8, mlp_ratio: float = 4.0,
                 mel_bins: int = 64, drop_path_rate: float = 0.1):
        super().__init__()
        if spec_size % mel_bins or len(depths) != len(num_heads):
            raise ValueError(f"HTS-AT config: spec_size {spec_size} must be a multiple of mel_bins {mel_bins}, "
                             f"and depths {depths} / num_heads {num_heads} must have one entry per stage")
        self.spec_size, self.mel_bins = spec_size, mel_bins
        self.freq_ratio = spec_size // mel_bins
        self.bn0 = nn.BatchNorm2d(mel_bins)
        self.patch_embed = PatchEmbed(patch_size, patch_stride, embed_dim)
        grid = spec_size // patch_stride
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.layers = nn.ModuleList()
        for i, (depth, heads) in enumerate(zip(depths, num_heads)):
            self.layers.append(SwinStage(
                embed_dim * 2 ** i, grid // 2 ** i, depth, heads, window_size, mlp_ratio,
                rates[sum(depths[:i]):sum(depths[:i + 1])], downsample=i < len(depths) - 1))
        self.num_features = embed_dim * 2 ** (len(depths) - 1)
        self.grid_out = grid // 2 ** (len(depths) - 1)
        if self.grid_out % self.freq_ratio:
            raise ValueError(f"HTS-AT config: the final {self.grid_out}x{self.grid_out} token grid must split into "
                             f"{self.freq_ratio} time chunks; change patch_stride or the number of stages")
        self.norm = nn.LayerNorm(self.num_features)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    @property
    def crop_frames(self) -> int:
        """Frames of one crop, spec_size * freq_ratio (1024)."""
        return self.spec_size * self.freq_ratio

    @property
    def frames_per_crop(self) -> int:
        """Time steps of one crop's token grid: freq_ratio chunks x grid_out columns (32)."""
        return self.freq_ratio * self.grid_out

    def crop_starts(self, n_frames: int) -> list[int] | None:
        """Start frames of the crops of a clip with `n_frames` log-mel frames; None = one stretched crop."""
        if n_frames <= self.crop_frames:
            return None
        return list(range(0, n_frames - self.crop_frames - 1, CROP_HOP)) or [0]

    def crops(self, spec: Tensor) -> Tensor:
        """[B, T, F] log-mel (after bn0) -> [B, K, crop_frames, F]: the crops upstream feeds the Swin."""
        starts = self.crop_starts(spec.shape[1])
        if starts is None:
            if spec.shape[1] < self.crop_frames:
                spec = F.interpolate(spec[:, None], (self.crop_frames, spec.shape[2]), mode="bicubic",
                                     align_corners=True)[:, 0]
            return spec[:, None]
        return torch.stack([spec[:, s:s + self.crop_frames] for s in starts], dim=1)

    def to_image(self, crop: Tensor) -> Tensor:
        """[N, crop_frames, F] -> [N, 1, spec_size, spec_size]: time chunks stacked along frequency."""
        n, r = crop.shape[0], self.freq_ratio
        x = crop.transpose(1, 2).reshape(n, self.mel_bins, r, self.spec_size)    # [N, F, chunk, t]
        return x.permute(0, 2, 1, 3).reshape(n, 1, r * self.mel_bins, self.spec_size)

    def image_tokens(self, image: Tensor) -> Tensor:
        """[N, 1, S, S] -> [N, g*g, C] final tokens after LayerNorm, row-major over the g x g grid."""
        x = self.patch_embed(image)
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)

    def token_frames(self, tokens: Tensor) -> Tensor:
        """[N, g*g, C] -> [N, freq_ratio * g, C]: the tokens of each time step averaged over their frequency rows.

        Row r of the g x g grid holds chunk r // (g / freq_ratio); column c is the step inside the chunk, so time
        step = chunk * g + c, the order HTS-AT's token-semantic head uses.
        """
        n, _, c = tokens.shape
        g, r = self.grid_out, self.freq_ratio
        x = tokens.view(n, r, g // r, g, c).mean(dim=2)    # [N, chunk, column, C]
        return x.reshape(n, r * g, c)

    def forward_crops(self, spec: Tensor, reduce=None, crops_per_pass: int = 16) -> Tensor:
        """[B, T, 64] log-mel in [0, 1] -> [B, K, g*g, C] final tokens of each of the clip's K crops, or
        [B, K, ...] = reduce(tokens [n, g*g, C]) per crop when `reduce` is given.

        bn0 sees the whole clip (as upstream: in training mode its batch statistics span every frame). A clip of
        one crop runs as one batch of B; the B * K crops of longer clips (clip-major) are cut, imaged and encoded
        at most `crops_per_pass` at a time, so memory beyond the log-mel is one group's activations plus the
        per-crop outputs, whatever the clip length.
        """
        b = spec.shape[0]
        x = self.bn0(spec.transpose(1, 2).unsqueeze(-1)).squeeze(-1).transpose(1, 2)
        starts = self.crop_starts(x.shape[1])

        def run(crops: Tensor) -> Tensor:
            tokens = self.image_tokens(self.to_image(crops))
            return tokens if reduce is None else reduce(tokens)

        if starts is None:
            out = run(self.crops(x).flatten(0, 1))
            return out.view(b, 1, *out.shape[1:])
        k, step = len(starts), max(1, int(crops_per_pass))
        out = run_in_groups(b * k, step, lambda rows: run(torch.stack(
            [x[r // k, starts[r % k]:starts[r % k] + self.crop_frames] for r in rows])))
        return out.view(b, k, *out.shape[1:])
