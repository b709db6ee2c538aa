"""OPERA-CT: the contrastive HTS-AT transformer of OPERA (Zhang et al., NeurIPS 2024 D&B, arXiv:2406.16148).

Upstream: github evelyn0414/OPERA, commit 3622310 — `src/model/models_cola.py` (`Cola(encoder="htsat")`,
`EncoderHTSAT`), `src/model/htsat/htsat.py` (backbone, ported in `adapters/_htsat.py`) and
`src/benchmark/model_util.py::extract_opera_feature(pretrain="operaCT", dim=768)`, which is
`Cola.extract_feature(x, 768)` = the encoder output, before the contrastive projection head.

Pipeline, per clip:
    wav [S] float32 in [-1, 1], 16 kHz
    -> OPERA log-mel (adapters/_opera_frontend.py): [T, 64] in [0, 1], T = 1 + S // 512 (32 ms hop)
    -> HTS-AT (bn0, time stretched to 1024 frames or cut into 1024-frame crops with hop 512, Swin-T)
    -> embed: mean of the final 8 x 8 tokens of each crop, averaged over crops: [768]
`frames` is the token sequence before that pooling: per crop, 32 time steps (each the mean of the crop's two
frequency-half tokens of that step), crops concatenated in order -> [K * 32, 768]. A clip of <= 1024 frames
(<= 32.7 s) is one crop whose 32 steps span the whole clip (stretched); longer clips have K crops that overlap
by half, so their frames overlap in time. The mean of `frames` over time equals `embed`.

Long clips (spec.max_seconds = 32.768 s, one crop; long_clips "protocol"): OPERA's crops are the long-clip rule.
The log-mel of the whole clip is needed (OPERA scales it by the clip's own max and range), but its STFT runs in
blocks (`opera_logmel_blocked`), and the crops are cut and encoded `crops_per_pass` at a time
(`HTSATSwin.forward_crops`), so a 1 h clip holds its waveform, its [T, 64] log-mel (1/8 of the waveform) and
one group of crops, not 220 crops' activations.

Length: any clip of >= 1 sample works (`length_policy="any"`). OPERA pads each task's clips to a task-specific
`input_sec` before the model; that belongs to the benchmark's preprocessing: `INPUT_SEC` lists OPERA's values
(`--min_len_htsat` defaults of `src/benchmark/processing/*_processing.py`), and `ZERO_PAD_TASKS` the tasks
where OPERA pads CT's input with zeros (MMlung, `pad0=True`) instead of repeating the clip.

Weights: `encoder-operaCT.ckpt` (HF evelyn0414/OPERA) is a PyTorch Lightning checkpoint of the whole Cola model;
its `state_dict` keys `encoder.encoder.htsat.*` map to this module's `htsat.*` by a prefix strip. Keys it has
that OPERA-CT's feature never uses are ignored (`checkpoint_ignore`): HTS-AT's built-in torchlibrosa front end
(`spectrogram_extractor`, `logmel_extractor`: OPERA computes log-mels outside the model), its AudioSet
token-semantic head (`tscam_conv`, `head`), and Cola's contrastive projection head (`g`, `layer_norm`,
`linear`; `middle` is absent because dim_hidden collapses to 768). A `.safetensors` file written by
`adapters._checkpoint.save_safetensors(model.state_dict(), path)` loads too (this module's key names).

Parameters: 31.3M in upstream's EncoderHTSAT (the count behind the published "31M"), of which 27.5M are used by
the feature (the rest: tscam_conv 2.43M, torchlibrosa STFT kernels 1.05M, head 0.28M, mel filters 0.03M).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from adapters._base import AudioEncoder
from adapters._checkpoint import torch_load
from adapters._errors import CheckpointError
from adapters._htsat import CROP_FRAMES, CROP_HOP, HTSATSwin
from adapters._opera_frontend import (
    OPERA_MEL,
    _filterbank_tensor,
    _window_tensor,
    minmax_per_clip,
    opera_logmel,
    power_to_db_max,
)
from adapters._registry import register_encoder
from adapters._spec import EncoderSpec

# OPERA's per-task input length for OPERA-CT, in seconds (clips shorter than this are padded up to it).
INPUT_SEC = {
    "T1": 2.0, "T2": 2.0,                  # UK COVID-19 exhalation / cough (coviduk_processing.py)
    "T3": 8.0, "T4": 8.0,                  # COVID-19 Sounds breath / cough
    "T5": 2.0, "T6": 2.0,                  # CoughVID covid / sex
    "T7": 8.0,                             # ICBHI
    "T8": 8.0, "T9": 8.0,                  # Coswara smoker / sex (precomputed 8 s spectrograms)
    "T10": 8.0,                            # KAUH
    "T11": 8.0,                            # Respiratory@TR (copd_processing.py)
    "T12": 2.0,                            # SSBPR (input_sec 2 for every model)
    "T13": 20.0, "T14": 20.0, "T15": 20.0,  # MMlung deep breath (zero-padded, see ZERO_PAD_TASKS)
    "T16": 20.0, "T17": 20.0, "T18": 20.0,  # MMlung O-vowel
    "T19": 30.0,                           # NoseMic
}
# Tasks where OPERA pads OPERA-CT's input with zeros (`_zero_padding`: whole copies of the clip when it is
# shorter than half the target, then zeros) instead of repeating it.
ZERO_PAD_TASKS = ("T13", "T14", "T15", "T16", "T17", "T18")

_OFFICIAL = {"spec_size": 256, "patch_size": 4, "patch_stride": 4, "embed_dim": 96, "depths": [2, 2, 6, 2],
             "num_heads": [4, 8, 16, 32], "window_size": 8, "mlp_ratio": 4.0, "mel_bins": 64,
             "drop_path_rate": 0.1}
# Same code path at toy size. The output width (embed_dim * 8) stays 768 so that the tiny model honours
# spec.embed_dim; 8x8 patches and 4-token windows shrink the token grid (32x32 -> 4x4) instead. Three shifted-window
# stages keep the attention masks exercised; the last stage (4x4 grid = one window) has no shift, as officially.
_TINY = dict(_OFFICIAL, patch_size=8, patch_stride=8, depths=[2, 2, 2, 1], num_heads=[1, 2, 2, 4], window_size=4,
             mlp_ratio=0.5)

# Frames of OPERA log-mel whose STFT is computed at once by `opera_logmel_blocked` (131 s; 17 MB of complex STFT).
LOGMEL_BLOCK_FRAMES = 4096

# Prefix of the encoder's weights inside the Cola Lightning checkpoint, and what it becomes here.
_UPSTREAM_PREFIX = "encoder.encoder.htsat."
_OWN_PREFIX = "htsat."


def opera_logmel_blocked(wav: Tensor, block_frames: int | None = None) -> Tensor:
    """`opera_logmel(wav)` with the STFT computed `block_frames` (default LOGMEL_BLOCK_FRAMES) frames at a time.

    OPERA scales the log-mel of a whole clip by its own max (dB reference) and min-max range, so a long clip needs
    all its frames; but only the [B, 64, T] mel power (1/8 of the waveform's bytes) is kept, never the whole
    [B, 513, T] complex STFT (2x the waveform, plus its power). Each block's frames are cut from the waveform with
    the zero padding torch.stft(center=True) applies, so the frames are the same; clips of at most `block_frames`
    frames take `opera_logmel` itself.

    Args:
        wav: [B, S] float32 in [-1, 1] at 16 kHz.
    Returns:
        [B, T, 64] float32 in [0, 1], T = 1 + S // 512.
    """
    m = OPERA_MEL
    block_frames = block_frames or LOGMEL_BLOCK_FRAMES
    n, hop, half = wav.shape[1], m["hop_length"], m["n_fft"] // 2
    n_frames = 1 + n // hop
    if n_frames <= block_frames:
        return opera_logmel(wav)
    dev, dt = str(wav.device), wav.dtype
    window, fbank = _window_tensor(dev, dt), _filterbank_tensor(dev, dt)
    blocks = []
    for f0 in range(0, n_frames, block_frames):
        f1 = min(f0 + block_frames, n_frames)
        a, b = f0 * hop - half, (f1 - 1) * hop + half       # samples of frames f0 .. f1 - 1 (centred)
        seg = torch.nn.functional.pad(wav[:, max(a, 0):min(b, n)], (max(0, -a), max(0, b - n)))
        spec = torch.stft(seg, n_fft=m["n_fft"], hop_length=hop, window=window, center=False, return_complex=True)
        blocks.append(torch.matmul(fbank, spec.real.square() + spec.imag.square()))
    db = power_to_db_max(torch.cat(blocks, dim=2), m["db_amin"], m["db_top_db"])
    return minmax_per_clip(db).transpose(1, 2).contiguous()


def read_opera_lightning(path: Path, trust: bool, upstream_prefix: str, own_prefix: str, marker: str,
                         encoder_kind: str, file_hint: str) -> dict:
    """The state dict of an OPERA Cola Lightning checkpoint, or of a .safetensors with this project's names.

    Keys under `upstream_prefix` are renamed to start with `own_prefix`; all other keys are returned unchanged,
    so the strict check in `load_weights` reports any key that is neither the encoder's nor in
    `checkpoint_ignore`.

    Args:
        path: the .ckpt / .safetensors file, or a directory holding `file_hint`.
        marker: a key prefix every checkpoint of this encoder has (upstream names), e.g. "encoder.efficientnet.".
        encoder_kind: Cola's `encoder` hyperparameter for this family ("htsat" / "efficientnet").
    Raises:
        CheckpointError: unreadable file, no state dict, or a checkpoint of another OPERA encoder.
    """
    path = Path(path)
    if path.is_dir():
        if not (path / file_hint).is_file():
            raise CheckpointError(f"{path}: directory has no {file_hint}; pass the checkpoint file itself")
        path = path / file_hint
    obj = torch_load(path, trust=trust)
    if path.suffix == ".safetensors":
        return {k: v for k, v in obj.items() if k != "__metadata__"}
    if not isinstance(obj, dict) or not isinstance(obj.get("state_dict"), dict):
        raise CheckpointError(f"{path}: no 'state_dict' found; expected OPERA's Lightning checkpoint {file_hint}")
    hparams = obj.get("hyper_parameters")
    kind = hparams.get("encoder") if isinstance(hparams, dict) else None
    state = obj["state_dict"]
    if (kind is not None and kind != encoder_kind) or not any(k.startswith(marker) for k in state):
        sample = ", ".join(sorted(state)[:3])
        raise CheckpointError(f"{path}: not an OPERA {encoder_kind} checkpoint (hyper_parameters.encoder {kind!r}; "
                              f"no key starts with {marker!r}; first keys: {sample}). Expected {file_hint}.")
    return {(own_prefix + k[len(upstream_prefix):] if k.startswith(upstream_prefix) else k): v
            for k, v in state.items()}


@register_encoder("opera-ct")
class OperaCT(AudioEncoder):
    """OPERA-CT. frames: [B, S] 16 kHz -> [B, K*32, 768]; embed: [B, S] -> [B, 768] (OPERA's feature)."""

    spec = EncoderSpec(
        name="opera-ct",
        sample_rate=16000,
        embed_dim=768,
        frame_dim=768,
        clip_seconds=None,
        length_policy="any",
        min_seconds=0.0,
        # one 1024-frame crop (1024 x 32 ms); longer clips are cut into OPERA's 1024-frame crops at hop 512
        max_seconds=32.768,
        long_clips="protocol",
        # sub-batch chosen by tests/perf/measure_sub_batch.py (2 threads, passive OpenMP wait, quiet 2-core AVX-512
        # machine, 2026-12-01):
        # sub-batch 4 is 1.16x the 16-clip pass (2: 1.14x, 8: 1.06x); at 1 thread 1.18x
        sub_batch=4,
        lora_targets=("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"),
        paper="arXiv:2406.16148",
        repo="https://github.com/evelyn0414/OPERA",
        commit="3622310",
        license="MIT (code, github evelyn0414/OPERA); weights: see the HF evelyn0414/OPERA model card",
        weights="HF evelyn0414/OPERA encoder-operaCT.ckpt",
        params_published="~31M (31.3M in upstream EncoderHTSAT; 27.5M used by the 768-d feature)",
        pretrained_on=("COVID-19 Sounds (breath, cough)", "UK COVID-19 (exhalation, cough)", "CoughVID",
                       "ICBHI", "HF Lung"),
    )
    configs = {"official": _OFFICIAL, "tiny": _TINY}
    checkpoint_ignore = ("htsat.spectrogram_extractor.", "htsat.logmel_extractor.", "htsat.tscam_conv.",
                         "htsat.head.", "g.", "layer_norm.", "linear.")

    def __init__(self, config: dict):
        super().__init__(config)
        c = self.config
        self.htsat = HTSATSwin(
            spec_size=c["spec_size"], patch_size=c["patch_size"], patch_stride=c["patch_stride"],
            embed_dim=c["embed_dim"], depths=tuple(c["depths"]), num_heads=tuple(c["num_heads"]),
            window_size=c["window_size"], mlp_ratio=c["mlp_ratio"], mel_bins=c["mel_bins"],
            drop_path_rate=c["drop_path_rate"])

    # crops of a long clip encoded per forward pass (memory, not results: each crop is encoded on its own)
    crops_per_pass: int = 16

    @staticmethod
    def logmel(wav: Tensor) -> Tensor:
        """[B, S] float32 in [-1, 1], 16 kHz -> [B, T, 64] OPERA log-mel in [0, 1] (STFT in blocks)."""
        return opera_logmel_blocked(wav)

    def frames_from_logmel(self, spec: Tensor) -> Tensor:
        """[B, T, 64] OPERA log-mel -> [B, K * frames_per_crop, C] (see module docstring)."""
        frames = self.htsat.forward_crops(spec, self.htsat.token_frames, self.crops_per_pass)  # [B, K, 32, C]
        return frames.reshape(frames.shape[0], -1, frames.shape[-1])

    def embed_from_logmel(self, spec: Tensor) -> Tensor:
        """[B, T, 64] OPERA log-mel -> [B, C]: per-crop token mean (`latent_output`), averaged over crops."""
        return self.htsat.forward_crops(spec, lambda tokens: tokens.mean(dim=1), self.crops_per_pass).mean(dim=1)

    def frames(self, wav: Tensor) -> Tensor:
        """[B, S] float32 in [-1, 1], 16 kHz -> [B, K * 32, 768] (official config)."""
        return self.frames_from_logmel(self.logmel(wav))

    def embed(self, wav: Tensor) -> Tensor:
        """[B, S] float32 in [-1, 1], 16 kHz -> [B, 768]: OPERA-CT's feature (extract_feature(x, dim=768))."""
        return self.embed_from_logmel(self.logmel(wav))

    def frontend_params(self) -> dict:
        from adapters._opera_frontend import frontend_params

        return {**super().frontend_params(), **frontend_params(), "time_stretch": "bicubic_align_corners",
                "crop_frames": CROP_FRAMES, "crop_hop_frames": CROP_HOP}

    @classmethod
    def read_checkpoint(cls, path: Path, trust: bool = False) -> tuple[dict, dict]:
        """encoder-operaCT.ckpt (Lightning, `state_dict` with `encoder.encoder.htsat.*`) or our .safetensors."""
        state = read_opera_lightning(path, trust, _UPSTREAM_PREFIX, _OWN_PREFIX, _UPSTREAM_PREFIX, "htsat",
                                     "encoder-operaCT.ckpt")
        return state, {}
