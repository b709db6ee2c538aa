"""BEATs: Audio Pre-Training with Acoustic Tokenizers (Chen et al., arXiv:2212.09058).

A port of github microsoft/unilm `beats/BEATs.py` (commit 158b811, the last change to BEATs.py, backbone.py
and modules.py); the transformer lives in `adapters/_beats_backbone.py`.

Pipeline, per clip, as upstream `BEATs.extract_features`:
    wav [S] float32 in [-1, 1], 16 kHz
    -> x 2^15 -> torchaudio.compliance.kaldi.fbank (128 mel bins, 25 ms window, 10 ms hop, kaldi defaults)
    -> (fbank - 15.41663) / (2 * 6.55582)                          [T_fbank, 128]
    -> Conv2d patch embedding (16 x 16, stride 16), LayerNorm, Linear 512 -> 768
    -> tokens [T_fbank // 16 * 8, 768], time-major (time patch, then its 8 frequency patches)
    -> conv positional embedding + 12 deep-norm transformer layers with gated relative position bias
`tokens(wav)` returns that [B, N, 768] output, equal to upstream `extract_features(wav)[0]`. `frames(wav)`
averages the 8 frequency patches of each time patch: [B, T_fbank // 16, 768], one frame per 160 ms.
`embed(wav)` is the mean over all tokens [B, 768], the pooling of upstream's fine-tuned head.

Long clips: self-attention over all tokens costs memory quadratic in length (260 GB for a 1 h clip), and
BEATs defines no protocol for long input, so `spec.max_seconds` is 30 s: `embed_windowed` / `embed_any_length`
(the benchmark's path) cut longer clips into consecutive 30 s segments and average their embeddings weighted by
length (adapters._base.AudioEncoder.embed_any_length). `embed`/`frames` themselves still take the whole input.

Padding: upstream takes an optional padding mask; an all-False mask (what its README passes) changes nothing,
so the unpadded equal-length batches this project feeds follow the `padding_mask=None` path exactly.
The shortest input that yields one 16-frame patch is 400 + 15 * 160 = 2800 samples (0.175 s); `prepare`
repeat-pads shorter clips to that length.

Weights: the `.pt` files linked from the upstream README (BEATs_iter3+ AS2M etc.) hold
`{"cfg": {...}, "model": state_dict}`; the cfg is the architecture and overrides the chosen config.
Some re-saved or fine-tuned `.pt` files store the cfg as an object (an `argparse.Namespace`, upstream's
`BEATsConfig`): its attributes are read as the cfg. Such files pickle a Python class, so they load only with
trust (`--trust-checkpoint`); without it the refusal names the class.
A `.safetensors` file is read too: same key names, the cfg as JSON under the metadata key "cfg", e.g.
`adapters._checkpoint.save_safetensors(state, path, metadata={"cfg": json.dumps(cfg)})`.
AudioSet fine-tuned checkpoints also hold a 527-class head (`predictor.weight`, `predictor.bias`): the
encoder loads from them and the head is ignored (`checkpoint_ignore`): this encoder returns features.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from adapters._base import AudioEncoder
from adapters._beats_backbone import ACTIVATIONS, BeatsTransformer
from adapters._checkpoint import torch_load
from adapters._errors import CheckpointError
from adapters._registry import register_encoder
from adapters._spec import EncoderSpec

FBANK_MEAN = 15.41663
FBANK_STD = 6.55582
NUM_MEL_BINS = 128
WAVEFORM_SCALE = 2 ** 15
FRAME_LENGTH_MS = 25.0
FRAME_SHIFT_MS = 10.0
SAMPLE_RATE = 16000

# Every field of upstream BEATsConfig, valued as in the cfg of BEATs_iter3+ (AS2M). Dropout, layer drop and
# the layer-wise gradient decay act only in training; `finetuned_model` and `predictor_*` describe the
# AudioSet head, which this encoder never builds.
OFFICIAL = {
    "input_patch_size": 16, "embed_dim": 512, "conv_bias": False,
    "encoder_layers": 12, "encoder_embed_dim": 768, "encoder_ffn_embed_dim": 3072,
    "encoder_attention_heads": 12, "activation_fn": "gelu", "layer_wise_gradient_decay_ratio": 0.6,
    "layer_norm_first": False, "deep_norm": True,
    "dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0, "encoder_layerdrop": 0.0,
    "dropout_input": 0.0,
    "conv_pos": 128, "conv_pos_groups": 16,
    "relative_position_embedding": True, "num_buckets": 320, "max_distance": 800, "gru_rel_pos": True,
    "finetuned_model": False, "predictor_dropout": 0.0, "predictor_class": 527,
}
# Upstream BEATsConfig defaults: what upstream builds for a field a checkpoint's cfg leaves out.
UPSTREAM_DEFAULTS = {
    **OFFICIAL, "input_patch_size": -1, "layer_wise_gradient_decay_ratio": 1.0, "deep_norm": False,
    "dropout": 0.1, "attention_dropout": 0.1, "relative_position_embedding": False, "max_distance": 1280,
    "gru_rel_pos": False, "predictor_dropout": 0.1,
}
# Same code path at toy size. The output width stays 768 so that the tiny model honours spec.embed_dim.
TINY = {**OFFICIAL, "embed_dim": 32, "encoder_layers": 2, "encoder_ffn_embed_dim": 64,
        "encoder_attention_heads": 4, "conv_pos": 16, "conv_pos_groups": 16, "num_buckets": 32,
        "max_distance": 64}


def beats_fbank(wav: Tensor) -> Tensor:
    """Upstream `BEATs.preprocess`: [B, S] float32 in [-1, 1], 16 kHz -> [B, T, 128] normalised log-mel.

    T = 1 + (S - 400) // 160 (kaldi `snip_edges`). Each clip goes through torchaudio's kaldi fbank on its
    own, exactly as upstream; the clips of a batch share one length.
    """
    import torchaudio.compliance.kaldi as kaldi

    feats = [kaldi.fbank(clip.unsqueeze(0) * WAVEFORM_SCALE, num_mel_bins=NUM_MEL_BINS,
                         sample_frequency=SAMPLE_RATE, frame_length=FRAME_LENGTH_MS,
                         frame_shift=FRAME_SHIFT_MS) for clip in wav]
    return (torch.stack(feats) - FBANK_MEAN) / (2 * FBANK_STD)


def _cfg_fields(cfg: object) -> dict | None:
    """A checkpoint's cfg as a dict: a dict as is, or the public attributes of an object that has any
    BEATsConfig field among them (argparse.Namespace, upstream BEATsConfig); None for anything else."""
    if isinstance(cfg, dict):
        return cfg
    if cfg is None or isinstance(cfg, (type, Tensor, nn.Module)):
        return None
    try:
        fields = {k: v for k, v in vars(cfg).items() if isinstance(k, str) and not k.startswith("_")}
    except TypeError:  # no __dict__
        return None
    return fields if set(fields) & set(OFFICIAL) else None


def _check_config(cfg: dict) -> None:
    """Reject configurations the port does not reproduce, naming the field and the fix."""
    unknown, missing = sorted(set(cfg) - set(OFFICIAL)), sorted(set(OFFICIAL) - set(cfg))
    if unknown or missing:
        raise ValueError(f"BEATs config: unknown fields {unknown}, missing fields {missing}; "
                         f"the fields are those of upstream BEATsConfig: {sorted(OFFICIAL)}")
    if cfg["activation_fn"] not in ACTIVATIONS:
        raise ValueError(f"BEATs config: activation_fn {cfg['activation_fn']!r} is not supported; "
                         f"use one of {sorted(ACTIVATIONS)} ('glu' checkpoints are not published)")
    if cfg["deep_norm"] and cfg["layer_norm_first"]:
        raise ValueError("BEATs config: deep_norm and layer_norm_first cannot both be true (as upstream)")
    if not 1 <= cfg["input_patch_size"] <= NUM_MEL_BINS:
        raise ValueError(f"BEATs config: input_patch_size {cfg['input_patch_size']} must be in "
                         f"1..{NUM_MEL_BINS}")


@register_encoder("beats")
class BEATs(AudioEncoder):
    """BEATs encoder. Input [B, S] float32 in [-1, 1] at 16 kHz, S >= 2800; see the module docstring."""

    spec = EncoderSpec(
        name="beats",
        sample_rate=16000,
        embed_dim=768,
        length_policy="any",
        min_seconds=0.175,
        # Attention and its gated relative position bias are [B, 12, N, N] with N = 50 tokens per second: one
        # 30 s pass (1496 tokens) holds ~0.1 GB per such tensor at B = 1; a 1 h clip (180k tokens) asks for 260 GB
        # for its [N, N] bucket table alone. BEATs has no long-input protocol (pretrained on 10 s AudioSet clips),
        # so longer clips are segmented.
        max_seconds=30.0,
        long_clips="segments",
        # sub-batch chosen by tests/perf/measure_sub_batch.py (2 threads, passive OpenMP wait, quiet 2-core AVX-512
        # machine, 2026-12-01):
        # sub-batch 4 is 1.07x the 16-clip pass (2: 1.04x, 8: 0.98x)
        sub_batch=4,
        lora_targets=("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj",
                      "fc1", "fc2"),
        paper="arXiv:2212.09058",
        repo="github microsoft/unilm beats/",
        commit="158b81152fff118ab45fb60bb076021716431153",
        license="MIT (microsoft/unilm code and released checkpoints)",
        weights="github microsoft/unilm beats/README.md: BEATs_iter3+ (AS2M) .pt (OneDrive links; "
                "also iter1-3, AS20K and AudioSet fine-tuned checkpoints)",
        params_published="90M",
        pretrained_on=("AudioSet-2M",),
    )
    configs = {"official": OFFICIAL, "tiny": TINY}
    checkpoint_ignore = ("predictor.",)

    def __init__(self, config: dict):
        super().__init__(config)
        cfg = self.config
        _check_config(cfg)
        patch = cfg["input_patch_size"]
        self.patch_embedding = nn.Conv2d(1, cfg["embed_dim"], kernel_size=patch, stride=patch,
                                         bias=cfg["conv_bias"])
        self.layer_norm = nn.LayerNorm(cfg["embed_dim"])
        self.post_extract_proj = (nn.Linear(cfg["embed_dim"], cfg["encoder_embed_dim"])
                                  if cfg["embed_dim"] != cfg["encoder_embed_dim"] else None)
        self.dropout_input = nn.Dropout(cfg["dropout_input"])
        self.encoder = BeatsTransformer(cfg)
        self.freq_patches = NUM_MEL_BINS // patch
        self.min_samples = 400 + (patch - 1) * 160  # fbank frames needed for one time patch

    def tokens(self, wav: Tensor) -> Tensor:
        """[B, S] float32 in [-1, 1], 16 kHz -> [B, T_patches * F_patches, D] (upstream extract_features)."""
        if wav.ndim != 2:
            raise ValueError(f"BEATs expects a [B, S] waveform batch, got shape {tuple(wav.shape)}")
        if wav.shape[1] < self.min_samples:
            raise ValueError(f"BEATs needs at least {self.min_samples} samples "
                             f"({self.min_samples / SAMPLE_RATE:.3f} s) per clip, got {wav.shape[1]}; "
                             f"pass clips through encoder.prepare() first")
        fbank = beats_fbank(wav.float()).unsqueeze(1)  # [B, 1, T_fbank, 128]
        x = self.patch_embedding(fbank)  # [B, E, T_patches, F_patches]
        x = self.layer_norm(x.flatten(2).transpose(1, 2))
        if self.post_extract_proj is not None:
            x = self.post_extract_proj(x)
        return self.encoder(self.dropout_input(x))

    def frames(self, wav: Tensor) -> Tensor:
        """[B, S] -> [B, T_patches, D]: tokens averaged over the frequency patches of each time patch."""
        x = self.tokens(wav)
        return x.view(x.shape[0], -1, self.freq_patches, x.shape[-1]).mean(dim=2)

    def embed(self, wav: Tensor) -> Tensor:
        """[B, S] -> [B, D]: mean over all tokens."""
        return self.tokens(wav).mean(dim=1)

    def frontend_params(self) -> dict:
        return {**super().frontend_params(), "fbank": "torchaudio.compliance.kaldi.fbank",
                "num_mel_bins": NUM_MEL_BINS, "frame_length_ms": FRAME_LENGTH_MS,
                "frame_shift_ms": FRAME_SHIFT_MS, "waveform_scale": WAVEFORM_SCALE,
                "fbank_mean": FBANK_MEAN, "fbank_std": FBANK_STD, "fbank_scale": "(x - mean) / (2 * std)"}

    @classmethod
    def read_checkpoint(cls, path: Path, trust: bool = False) -> tuple[dict, dict]:
        """Read an upstream `.pt` {"cfg", "model"} or a `.safetensors` (cfg as JSON in metadata "cfg").

        Returns (state dict with upstream key names, the complete cfg: the file's BEATsConfig fields, and
        upstream's BEATsConfig defaults for fields the file leaves out, as upstream would build it).
        """
        path = Path(path)
        raw = torch_load(path, trust=trust)
        if path.suffix == ".safetensors":
            meta = raw.pop("__metadata__", {})
            if "cfg" not in meta:
                raise CheckpointError(
                    f"{path}: safetensors metadata has no 'cfg' entry; write the BEATs cfg there as JSON: "
                    f"save_safetensors(state, path, metadata={{'cfg': json.dumps(cfg)}})")
            try:
                cfg, state = json.loads(meta["cfg"]), raw
            except json.JSONDecodeError as exc:
                raise CheckpointError(f"{path}: metadata 'cfg' is not valid JSON ({exc})") from exc
        else:
            cfg = _cfg_fields(raw.get("cfg")) if isinstance(raw, dict) else None
            if cfg is None or not isinstance(raw.get("model"), dict):
                found = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
                if isinstance(raw, dict) and "cfg" in raw and cfg is None:
                    found = f"{found} with cfg of type {type(raw['cfg']).__name__} and no BEATsConfig fields"
                raise CheckpointError(f"{path}: not a BEATs checkpoint; expected the published format "
                                      f"{{'cfg': dict, 'model': state_dict}} (cfg may also be an object whose "
                                      f"attributes are BEATsConfig fields, e.g. argparse.Namespace), found {found}")
            state = raw["model"]
        extra = sorted(set(cfg) - set(OFFICIAL))
        if extra:
            warnings.warn(f"{path}: cfg fields {extra} are not BEATsConfig fields; ignored", stacklevel=2)
        return dict(state), {**UPSTREAM_DEFAULTS, **{k: v for k, v in cfg.items() if k in OFFICIAL}}
