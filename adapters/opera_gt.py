"""OPERA-GT: the generative (masked-autoencoder) respiratory foundation model of OPERA.

Paper: Zhang et al., "Towards Open Respiratory Acoustic Foundation Models: Pretraining and Benchmarking",
NeurIPS 2024 Datasets & Benchmarks, arXiv:2406.16148. Code: github evelyn0414/OPERA, commit 3622310
(`src/model/models_mae.py` `mae_vit_small`, `src/benchmark/model_util.py` `extract_opera_feature`,
`src/util.py` `get_split_signal_librosa` / `split_pad_sample`). Weights: HF evelyn0414/OPERA `encoder-operaGT.ckpt`.

Model: a ViT-S encoder (patch 4 x 4 over a [256 frames, 64 mels] log-mel chunk -> 64 x 16 = 1024 tokens, dim 384,
12 blocks, 6 heads, fixed sin-cos positions, CLS token) and the pretraining decoder (dim 256, 16 window-attention
blocks, see adapters._mae_vit.WindowDecoderBlock). Both are held so that every key of the published checkpoint
is used: the decoder serves `masked_reconstruction_loss` (OPERA-GT's training objective, which AcuLa keeps as
its self-supervised term).

How a clip [S] becomes an embedding (upstream `extract_opera_feature(pretrain="operaGT", input_sec=8.18)`):
  1. chunks of L = int(8.18 * 16000) = 130880 samples (256 mel frames). A clip of S <= L samples is one chunk,
     padded in front by repetition (`_opera_frontend.repeat_pad_front`). A longer clip gives the full windows
     at hop L/2 (1 + (S - L) // (L/2) of them) plus, always, its tail from sample (that count) * L/2 on, padded
     in front the same way (upstream fills the front with the clip's last samples, which is the same thing).
  2. each chunk -> OPERA log-mel [256, 64] scaled to [0, 1] per chunk (`_opera_frontend.opera_logmel`).
  3. encoder without masking; mean of the last block's 1024 patch tokens (CLS excluded), then the final
     LayerNorm -> [384] per chunk (`forward_feature`).
  4. the clip embedding is the mean over its chunks.
Memory: the chunks of a clip are cut, turned into log-mels and encoded `chunks_per_pass` (16) at a time, so a
1 h recording (880 chunks) needs the waveform, one group's activations and its [880, 384] chunk features
(spec.max_seconds = 8.18, one chunk; long_clips "protocol": the windows above are the long-clip rule).
Per task, upstream changed the windows (`embed_windowed` with an adapters._spec.Windowing declared on the task):
5 s windows on MMlung and 8 s on NoseMic (shorter inputs use the first rows of the position table, as upstream
slices it), and on SSBPR and Coswara one spectrogram of the whole padded clip cut into 256-frame pieces without
overlap, pieces under 16 frames skipped (`spectrogram_pieces`).
Any clip of >= 1 sample works, so spec.min_seconds is 0 (short clips are padded as upstream does, inside the
model). Upstream also trims silence (librosa.effects.trim, top_db 60, frame 1600, hop 800)
before chunking; that is `_opera_frontend.trim_silence`, applied by the data pipeline, not by `embed`, because it
changes each clip's length.

`frames(wav)` -> [B, 64 * K, 384]: for each of the K chunks above, the last block's patch tokens averaged over the
16 frequency patches of each time step, then the final LayerNorm: one frame per 4 mel frames (128 ms), chunks
concatenated in order (chunks overlap by half, so frames of overlapping chunks repeat that audio). `embed` is not
the mean of `frames`: upstream normalises after averaging all 1024 tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor, nn

from adapters._base import AudioEncoder
from adapters._checkpoint import read_safetensors, torch_load
from adapters._errors import CheckpointError
from adapters._inference import run_in_groups
from adapters._mae_vit import (
    PatchEmbed,
    ViTBlock,
    WindowDecoderBlock,
    opera_pos_embed,
    patchify,
    random_masking,
    xavier_linear_init,
)
from adapters._opera_frontend import OPERA_MEL, opera_logmel, repeat_pad_front
from adapters._opera_frontend import frontend_params as opera_frontend_params
from adapters._registry import register_encoder
from adapters._spec import EncoderSpec, Windowing
from adapters.opera_ct import opera_logmel_blocked

CHUNK_SAMPLES = int(8.18 * 16000)   # 130880 samples -> 1 + 130880 // 512 = 256 mel frames
CHUNK_FRAMES = 1 + CHUNK_SAMPLES // OPERA_MEL["hop_length"]
MIN_PIECE_FRAMES = 16               # extract_opera_feature skips inputs under 16 frames (patch-conv size guard)

# upstream key infix -> this module's (decoder blocks only; see WindowDecoderBlock)
_DECODER_RENAMES = ((".attn.", ".window_attn."), (".mlp.", ".ffn."))


@register_encoder("opera-gt")
class OperaGT(AudioEncoder):
    """OPERA-GT encoder + decoder. Input [B, S] float32 in [-1, 1] at 16 kHz."""

    spec = EncoderSpec(
        name="opera-gt",
        sample_rate=16000,
        embed_dim=384,
        clip_seconds=8.18,
        length_policy="chunk",
        min_seconds=0.0,
        max_seconds=8.18,            # one 256-frame window; longer clips are windowed as upstream does
        long_clips="protocol",
        # sub-batch chosen by tests/perf/measure_sub_batch.py (2 threads, passive OpenMP wait, quiet 2-core AVX-512
        # machine, 2026-12-01):
        # sub-batch 4 is 1.15x the 16-clip pass (2: 1.15x, 8: 1.11x); at 1 thread sub-batch 2 is 1.21x
        sub_batch=4,
        lora_targets=("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"),
        paper="arXiv:2406.16148",
        repo="https://github.com/evelyn0414/OPERA",
        commit="3622310",
        license="MIT (code); weights published without a separate licence",
        weights="HF evelyn0414/OPERA encoder-operaGT.ckpt",
        params_published="21M (encoder)",
        pretrained_on=("COVID-19 Sounds", "UK COVID-19", "CoughVID", "ICBHI", "HF Lung"),
    )
    configs: ClassVar[dict[str, dict]] = {
        "official": {"patch": 4, "embed_dim": 384, "depth": 12, "heads": 6, "mlp_ratio": 4.0,
                     "decoder_dim": 256, "decoder_depth": 16, "decoder_heads": 16, "decoder_grid": [32, 8],
                     "decoder_window": [4, 4], "decoder_shift": [2, 0], "chunks_per_pass": 16},
        "tiny": {"patch": 4, "embed_dim": 32, "depth": 2, "heads": 2, "mlp_ratio": 4.0,
                 "decoder_dim": 32, "decoder_depth": 2, "decoder_heads": 2, "decoder_grid": [8, 4],
                 "decoder_window": [4, 4], "decoder_shift": [2, 0], "chunks_per_pass": 16},
    }

    @property
    def out_dim(self) -> int:
        """384 at official size; the tiny config's width otherwise."""
        return int(self.config["embed_dim"])

    def __init__(self, config: dict | None = None):
        super().__init__(config)
        c = self.config
        p, dim = c["patch"], c["embed_dim"]
        self.grid = (CHUNK_FRAMES // p, OPERA_MEL["n_mels"] // p)       # (64 time, 16 freq) patches
        # encoder (upstream names)
        self.patch_embed = PatchEmbed(p, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.register_buffer("pos_embed", opera_pos_embed(dim, *self.grid)[None])
        self.blocks = nn.ModuleList(ViTBlock(dim, c["heads"], c["mlp_ratio"]) for _ in range(c["depth"]))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        # decoder (upstream names; inside the blocks see WindowDecoderBlock)
        ddim = c["decoder_dim"]
        self.decoder_embed = nn.Linear(dim, ddim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, ddim))
        self.register_buffer("decoder_pos_embed", opera_pos_embed(ddim, *self.grid)[None])
        self.decoder_blocks = nn.ModuleList(
            WindowDecoderBlock(ddim, c["decoder_heads"], tuple(c["decoder_grid"]), tuple(c["decoder_window"]),
                               (0, 0) if i % 2 == 0 else tuple(c["decoder_shift"]), c["mlp_ratio"])
            for i in range(c["decoder_depth"]))
        self.decoder_norm = nn.LayerNorm(ddim, eps=1e-6)
        self.decoder_pred = nn.Linear(ddim, p * p)
        self._init_random()

    def _init_random(self) -> None:
        """MAE's initialisation (used for random-weight models; loading weights overwrites it)."""
        w = self.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        self.apply(xavier_linear_init)

    # -- chunking and spectrograms ---------------------------------------------------------------------------
    @staticmethod
    def chunk(wav: Tensor, length: int = CHUNK_SAMPLES) -> Tensor:
        """[B, S] -> [B, K, length] windows as upstream `split_pad_sample` makes them (see module docstring)."""
        if wav.ndim != 2 or wav.shape[1] == 0:
            raise ValueError(f"opera-gt expects a [B, S] waveform with S >= 1, got shape {tuple(wav.shape)}")
        n = wav.shape[1]
        if n <= length:
            return repeat_pad_front(wav, length)[:, None]
        hop = length // 2
        n_full = 1 + (n - length) // hop
        full = wav.unfold(1, length, hop)[:, :n_full]
        # the tail is at least hop samples long, so padding it from its own end equals upstream's padding
        # from the end of the whole clip
        tail = repeat_pad_front(wav[:, n_full * hop:], length)
        return torch.cat([full, tail[:, None]], dim=1)

    @staticmethod
    def window_count(n_samples: int, length: int = CHUNK_SAMPLES) -> int:
        """K, the number of windows `chunk` cuts from a clip of `n_samples`."""
        return 1 if n_samples <= length else 2 + (n_samples - length) // (length // 2)

    @staticmethod
    def chunk_rows(wav: Tensor, rows: range, length: int = CHUNK_SAMPLES) -> Tensor:
        """Some of the windows of `chunk(wav, length)` without building the others.

        Args:
            wav: [B, S] waveform, S >= 1.
            rows: flat window indices r = b * K + k (K = window_count(S, length)), clip-major like `chunk`.
        Returns:
            [len(rows), length], equal to chunk(wav, length).reshape(B * K, length)[rows].
        """
        n = wav.shape[1]
        if n <= length:
            return repeat_pad_front(wav[rows.start:rows.stop:rows.step], length)
        hop = length // 2
        n_full = 1 + (n - length) // hop
        out = []
        for r in rows:
            b, k = divmod(r, n_full + 1)
            out.append(wav[b, k * hop:k * hop + length] if k < n_full
                       else repeat_pad_front(wav[b, n_full * hop:], length))
        return torch.stack(out)

    def chunk_spectrograms(self, wav: Tensor, length: int = CHUNK_SAMPLES) -> Tensor:
        """[B, S] -> [B, K, 1 + length // 512, 64] log-mel windows in [0, 1], each scaled on its own.

        All windows at once (K grows with the clip): for inspection and training on short clips; `embed`,
        `embed_windowed` and `frames` build the windows group by group instead (`_per_chunk`)."""
        chunks = self.chunk(wav, length)
        b, k, _ = chunks.shape
        spec = opera_logmel(chunks.reshape(b * k, -1))
        return spec.reshape(b, k, *spec.shape[1:])

    @staticmethod
    def spectrogram_pieces(wav: Tensor) -> list[Tensor]:
        """[B, S] -> upstream's `from_spec` input: the clip's one log-mel [B, T, 64] (min-max over the whole clip)
        cut into 256-frame pieces without overlap, pieces under 16 frames dropped (all kept when none is longer).
        The STFT runs in blocks of frames (`opera_logmel_blocked`), so a long clip never holds its whole STFT.
        """
        spec = opera_logmel_blocked(wav)
        pieces = [spec[:, i:i + CHUNK_FRAMES] for i in range(0, spec.shape[1], CHUNK_FRAMES)]
        kept = [p for p in pieces if p.shape[1] >= MIN_PIECE_FRAMES]
        return kept or pieces

    # -- encoder ---------------------------------------------------------------------------------------------
    def encode_tokens(self, spec: Tensor) -> Tensor:
        """[N, T, 64] spectrograms (T <= 256) -> [N, (T // 4) * 16, D] last-block patch tokens (before the final
        norm, no CLS). Shorter inputs take the first positions of the 256-frame table, as upstream slices it."""
        x = self.patch_embed(spec)
        x = x + self.pos_embed[:, 1:x.shape[1] + 1]
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)
        for block in self.blocks:
            x = block(x)
        return x[:, 1:]

    def forward_feature(self, spec: Tensor) -> Tensor:
        """Upstream `forward_feature`: [N, T, 64] -> [N, D] = norm(mean of patch tokens)."""
        return self.norm(self.encode_tokens(spec).mean(dim=1))

    def _batched(self, flat: Tensor, fn) -> Tensor:
        """`fn` over [N, ...] at most `chunks_per_pass` rows at a time."""
        step = max(1, int(self.config["chunks_per_pass"]))
        return run_in_groups(flat.shape[0], step, lambda rows: fn(flat[rows.start:rows.stop]))

    def _per_chunk(self, wav: Tensor, fn, length: int = CHUNK_SAMPLES) -> Tensor:
        """Run `fn` on the [N, T, 64] window spectrograms of `wav` -> [B, K, ...].

        The B * K windows (clip-major, as `chunk` orders them) go through `fn` in groups of `chunks_per_pass`; each
        group's windows are cut and turned into log-mels just before it runs, so memory beyond the waveform is one
        group's spectrograms and activations plus the per-window outputs, whatever the clip length.
        """
        wav = wav.to(self.device)
        b, k = wav.shape[0], self.window_count(wav.shape[1], length)
        step = max(1, int(self.config["chunks_per_pass"]))
        out = run_in_groups(b * k, step, lambda rows: fn(opera_logmel(self.chunk_rows(wav, rows, length))))
        return out.reshape(b, k, *out.shape[1:])

    def embed(self, wav: Tensor) -> Tensor:
        """[B, S] float32 in [-1, 1], 16 kHz -> [B, 384]: mean over 8.18 s windows of `forward_feature`."""
        return self._per_chunk(wav, self.forward_feature).mean(dim=1)

    def embed_windowed(self, wav: Tensor, windowing: Windowing | None) -> Tensor:
        """`embed` with a task's windowing (module docstring): waveform windows of any length, or upstream's
        spectrogram pieces (`from_spec`). [B, S] -> [B, 384]."""
        if windowing is None:
            return self.embed(wav)
        if windowing.domain == "waveform":
            length = windowing.samples(OPERA_MEL["sample_rate"])
            if 1 + length // OPERA_MEL["hop_length"] > CHUNK_FRAMES:
                raise ValueError(f"opera-gt windows are at most 8.18 s (256 frames); got {windowing.seconds} s")
            return self._per_chunk(wav, self.forward_feature, length).mean(dim=1)
        pieces = self.spectrogram_pieces(wav.to(self.device))
        full = [p for p in pieces if p.shape[1] == CHUNK_FRAMES]
        rest = [self._batched(p, self.forward_feature) for p in pieces[len(full):]]
        if full:  # the 256-frame pieces of all clips in groups of chunks_per_pass, clip-major
            b, n = full[0].shape[0], len(full)
            first = self._batched(torch.stack(full, dim=1).flatten(0, 1), self.forward_feature)
            rest = list(first.view(b, n, -1).unbind(dim=1)) + rest
        return torch.stack(rest, dim=1).mean(dim=1)

    def frames(self, wav: Tensor) -> Tensor:
        """[B, S] -> [B, 64 * K, 384]: per chunk, LayerNorm of the time-step means of the patch tokens."""
        n_time, n_freq = self.grid

        def time_frames(spec: Tensor) -> Tensor:
            tokens = self.encode_tokens(spec)
            return self.norm(tokens.reshape(tokens.shape[0], n_time, n_freq, -1).mean(dim=2))

        out = self._per_chunk(wav, time_frames)
        return out.reshape(out.shape[0], -1, out.shape[-1])

    # -- pretraining objective -------------------------------------------------------------------------------
    def decode(self, latent: Tensor, restore: Tensor) -> Tensor:
        """[N, 1 + L_keep, D] encoder output (CLS first) -> [N, L, p*p] predicted pixel patches."""
        x = self.decoder_embed(latent)
        n, n_kept, d = x.shape
        n_tokens = restore.shape[1]
        x_ = torch.cat([x[:, 1:], self.mask_token.expand(n, n_tokens + 1 - n_kept, -1)], dim=1)
        x_ = torch.gather(x_, 1, restore[:, :, None].expand(-1, -1, d))
        x = torch.cat([x[:, :1], x_], dim=1) + self.decoder_pos_embed[:, :n_tokens + 1]
        x = x[:, 1:]                            # the window decoder works without the CLS token
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))

    def masked_reconstruction_loss(self, wav: Tensor, mask_ratio: float = 0.7,
                                   generator: torch.Generator | None = None) -> Tensor:
        """OPERA-GT's training loss: MSE of the reconstructed log-mel pixels on the masked patches.

        Upstream (`MaskedAutoencoderViTMD.forward`, pretraining with mask_ratio 0.7, mask_2d False, norm_pix_loss
        False): a random 70% of the 4x4 patches is dropped per sample, the encoder sees the rest (+ CLS, then the
        final norm), the decoder predicts every patch, and the loss is the squared error averaged over the pixels
        of each patch and then over the masked patches of the whole batch. The input here is the chunks of
        `embed` ([256, 64] each, scaled per chunk); upstream pretrained on per-recording spectrograms cropped or
        zero-padded to 64-256 frames.

        Args:
            wav: [B, S] float32 in [-1, 1], 16 kHz.
            mask_ratio: fraction of patches masked, in [0, 1).
            generator: torch.Generator for the mask (on the model's device). The decoder's position-bias MLP
                keeps upstream's dropout 0.1, which draws from torch's global RNG in training mode.
        Returns:
            scalar tensor (differentiable w.r.t. encoder and decoder).
        """
        if not 0.0 <= mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
        spec = self.chunk_spectrograms(wav.to(self.device))
        spec = spec.reshape(-1, *spec.shape[2:])
        x = self.patch_embed(spec) + self.pos_embed[:, 1:]
        kept, mask, restore = random_masking(x, mask_ratio, generator)
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(kept.shape[0], -1, -1)
        latent = torch.cat([cls, kept], dim=1)
        for block in self.blocks:
            latent = block(latent)
        pred = self.decode(self.norm(latent), restore)
        per_patch = (pred - patchify(spec, self.config["patch"])).square().mean(dim=-1)
        return (per_patch * mask).sum() / mask.sum()

    # -- weights -----------------------------------------------------------------------------------------------
    def frontend_params(self) -> dict:
        return {**super().frontend_params(), **opera_frontend_params(), "chunk_samples": CHUNK_SAMPLES,
                "chunk_hop": CHUNK_SAMPLES // 2, "chunk_pad": "repeat_front", "pooling": "mean_tokens_then_norm"}

    @classmethod
    def read_checkpoint(cls, path: Path, trust: bool = False) -> tuple[dict, dict]:
        """Read `encoder-operaGT.ckpt` (a PyTorch Lightning checkpoint) or a .safetensors of this module.

        The Lightning file holds {"state_dict": {...}, "epoch", "global_step", "pytorch-lightning_version",
        "loops", "callbacks", "optimizer_states", "lr_schedulers"}; the MAE is itself the LightningModule, so its
        state_dict keys carry no prefix ("blocks.0.attn.qkv.weight", "decoder_blocks.0.attn.tau", ...). Decoder
        block keys are renamed to this module's names (`attn.` -> `window_attn.`, `mlp.` -> `ffn.`).
        Only the "state_dict" entry is used. weights_only loading works as long as the other entries are plain
        containers, strings and numbers (true for Lightning 2.x files); otherwise CheckpointError explains
        --trust-checkpoint.
        """
        path = Path(path)
        if path.suffix == ".safetensors":
            state = read_safetensors(path)
            state.pop("__metadata__", None)
            return _to_module_names(state), {}
        obj = torch_load(path, trust=trust)
        if not isinstance(obj, dict):
            raise CheckpointError(f"{path}: expected a Lightning checkpoint dict with a 'state_dict' entry, got "
                                  f"{type(obj).__name__}")
        state = obj.get("state_dict", obj)
        if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
            raise CheckpointError(f"{path}: field 'state_dict' is not a mapping of tensors; is this an OPERA-GT "
                                  f"checkpoint (encoder-operaGT.ckpt)?")
        return _to_module_names(state), {}


def _to_module_names(state: dict) -> dict:
    """Rename upstream decoder-block keys to this module's; other keys are already the same."""
    out = {}
    for key, value in state.items():
        if key.startswith("decoder_blocks."):
            for old, new in _DECODER_RENAMES:
                key = key.replace(old, new, 1)
        out[key] = value
    return out
