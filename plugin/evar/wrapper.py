"""AR_AculaZoo: any acula-zoo encoder (base or aligned) behind EVAR's audio-representation interface.

EVAR (github nttcslab/eval-audio-repr, evar/ar_base.py) builds a model with `eval('evar.' + cfg.audio_repr)(cfg)`,
calls `precompute(device, train_loader)`, then `forward(batch_audio)` on batches of [B, unit_samples] float
waveforms at cfg.sample_rate (zero-padded or cropped to the task's unit_sec by EVAR's dataset), and reads
`cfg.feature_d` for its fine-tuning head. `encode_frames` is EVAR's per-frame template ([B, D, T]).

OPERA-family encoders (opera-ct, opera-ce, opera-gt) get OPERA's task preprocessing in `forward` by default
(benchmark_tasks.preprocess.host_preprocess: 60 dB silence trim, which also removes the zeros EVAR pads clips
with, then OPERA's front repeat padding, and an acula-zoo task's OPERA-GT windowing when `opera_task` names one),
so a clip scores the same embedding here as in `evaluate.py`. `opera_preprocess: False` turns it off (EVAR's own
protocol: the clip as EVAR cut it, through the encoder's length policy only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor, nn

from adapters._spec import EncoderSpec


class _AttrDict(dict):
    """A dict with attribute access (the part of EVAR's EasyDict the wrapper relies on)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    def __setattr__(self, name, value):
        self[name] = value


class StandInAudioRepr(nn.Module):
    """Local copy of EVAR's BaseAudioRepr interface, used when EVAR is not importable (tests, export scripts)."""

    def __init__(self, cfg, filename_mode: bool = False):
        super().__init__()
        self.cfg = _AttrDict(cfg)
        self.aug_fn = None
        self.filename_mode = filename_mode

    def precompute(self, device, data_loader) -> None:
        pass

    def set_augment_tf_feature_fn(self, aug_fn) -> None:
        self.aug_fn = aug_fn

    def augment_if_training(self, tf_feature):
        if self.aug_fn is None or not self.training:
            return tf_feature
        return self.aug_fn(tf_feature)


try:  # inside an EVAR checkout, be a real BaseAudioRepr (isinstance checks, EVAR's own cfg type)
    from evar.ar_base import BaseAudioRepr as _Base
except ImportError:  # EVAR is not installed: same interface, defined above
    _Base = StandInAudioRepr


def cfg_dict(cfg) -> dict:
    """EVAR's EasyDict, any Mapping, or an object with attributes (types.SimpleNamespace) -> a plain dict."""
    if isinstance(cfg, Mapping):
        return dict(cfg)
    if hasattr(cfg, "__dict__"):
        return dict(vars(cfg))
    raise TypeError(f"cfg must be a mapping (EVAR's EasyDict) or a namespace, not {type(cfg).__name__}")


def fit_batch(wav: Tensor, spec: EncoderSpec) -> Tensor:
    """adapters.fit_length for a [B, S] batch of equal-length clips, in torch (keeps gradients for fine-tuning).

    pad_zeros: crop or zero-pad to clip_samples; pad_repeat: tile to exactly clip_samples; other policies tile
    clips shorter than min_seconds up to it, then "crop" crops to clip_samples and "any"/"chunk" keep the rest.
    """
    n, s = spec.clip_samples, wav.shape[-1]
    if spec.length_policy == "pad_zeros":
        return nn.functional.pad(wav[..., :n], (0, max(0, n - s)))
    if spec.length_policy == "pad_repeat":
        return _repeat_to(wav, n)
    min_samples = int(round(spec.min_seconds * spec.sample_rate))
    if min_samples and s < min_samples:
        wav = _repeat_to(wav, min_samples)
    if spec.length_policy == "crop":
        return wav[..., :n]
    return wav


def _repeat_to(wav: Tensor, n: int) -> Tensor:
    if wav.shape[-1] == 0:
        return wav.new_zeros(*wav.shape[:-1], n)
    return wav.repeat(*([1] * (wav.dim() - 1)), math.ceil(n / wav.shape[-1]))[..., :n]


class AR_AculaZoo(_Base):  # noqa: N801 - EVAR's naming convention for audio representations
    """An acula-zoo encoder as an EVAR audio representation.

    cfg fields (plugin/evar/acula.yaml):
        encoder: registered acula-zoo name ("opera-gt"); may be empty when `aligned` is given.
        weights: the base encoder's checkpoint; empty for tiny or weight-free encoders. (EVAR's own
            `weight_file` is left alone: finetune.py --eval_only loads a fine-tuned task model from it.)
        config: "official" (the default when empty) or "tiny" (random weights, toy width), or a dict of overrides;
            with `aligned`, empty means the aligned directory's own configuration.
        aligned: an aligned-encoder directory from `python -m align` (LoRA or full fine-tune), or empty.
        trust_checkpoint: allow checkpoints holding pickled Python objects (default False).
        sample_rate: Hz of the audio EVAR feeds (its data folder: 16000, 22000, 32000, 44100 or 48000); resampled
            here to the encoder's rate with torchaudio's windowed sinc, as adapters.resample does.
        feature_d: D of `forward`; checked against the encoder, filled in when empty. finetune.py sizes its
            head from the yaml's value, so set it for fine-tuning.
        opera_preprocess: OPERA's task preprocessing for OPERA-family encoders (default True; False = EVAR's own
            protocol). Ignored for other encoders.
        opera_task: acula-zoo task id whose OPERA preprocessing to use ("T5": 2 s padding for CT/CE); empty =
            OPERA's defaults (8 s for CT/CE, 8.18 s windows for GT).
    Shapes: encode_frames [B, S] -> [B, D_frame, T]; forward [B, S] -> [B, D] (the encoder's clip embedding,
    `AudioEncoder.embed`, the one evaluate.py scores). Input float32 in [-1, 1] at cfg.sample_rate.
    EVAR's spectrogram augmentations (set_augment_tf_feature_fn) do not apply: the encoders take waveforms.
    """

    def __init__(self, cfg):
        import torchaudio.transforms as AT

        from plugin._build import build_host_encoder

        c = cfg_dict(cfg)
        super().__init__(c)
        if not c.get("sample_rate"):
            raise ValueError("cfg.sample_rate is missing: set it to the rate of EVAR's audio (e.g. 16000)")
        self.encoder = build_host_encoder(
            c.get("encoder") or None, weights=c.get("weights") or None, config=c.get("config") or None,
            aligned=c.get("aligned") or None, trust_checkpoint=bool(c.get("trust_checkpoint", False)))
        self.input_rate, rate = int(c["sample_rate"]), self.encoder.spec.sample_rate
        self.prep = None
        if c.get("opera_preprocess") not in (False, "false", "False", "0", 0):
            from benchmark_tasks.preprocess import host_preprocess

            self.prep = host_preprocess(self.encoder.spec.name, c.get("opera_task") or None)
        g = math.gcd(self.input_rate, rate)
        self.resampler = AT.Resample(self.input_rate // g, rate // g) if self.input_rate != rate else None
        dim = self._output_dim()
        if c.get("feature_d") not in (None, "", dim):
            raise ValueError(f"cfg.feature_d is {c['feature_d']} but {self.encoder.spec.name} "
                             f"({c.get('config') or 'official'}) returns {dim}-d embeddings; set feature_d: {dim} in "
                             f"the yaml (or leave it empty)")
        self.cfg["feature_d"] = dim

    def _output_dim(self) -> int:
        """D of `forward`, from one silent clip (tiny configs are narrower than spec.embed_dim)."""
        with torch.no_grad():
            return int(self.forward(torch.zeros(1, self.input_rate)).shape[-1])

    def to_encoder_input(self, batch_audio: Tensor) -> Tensor:
        """[B, S] at cfg.sample_rate -> [B, S'] float32 at the encoder's rate, after its length policy."""
        if batch_audio.dim() != 2:
            raise ValueError(f"AR_AculaZoo expects a [batch, samples] waveform batch, got {tuple(batch_audio.shape)}")
        wav = batch_audio.float()
        if self.resampler is not None:
            wav = self.resampler(wav)
        return fit_batch(wav, self.encoder.spec)

    def encode_frames(self, batch_audio: Tensor) -> Tensor:
        """[B, S] -> [B, D_frame, T] frame features (EVAR's layout: dimension before time)."""
        return self.encoder.frames(self.to_encoder_input(batch_audio)).transpose(1, 2)

    def forward(self, batch_audio: Tensor) -> Tensor:
        """[B, S] -> [B, D] clip embeddings (OPERA's preprocessing first, for OPERA families; see module doc)."""
        wav = self.to_encoder_input(batch_audio)
        if self.prep is None:
            return self.encoder.embed(wav)
        return self._embed_preprocessed(wav)

    def _embed_preprocessed(self, wav: Tensor) -> Tensor:
        """Each clip through self.prep (lengths then differ), embedded in groups of equal length. [B, S] -> [B, D].

        The preprocessing runs on the data only; gradients still reach the encoder's weights when fine-tuning."""
        sr = self.encoder.spec.sample_rate
        clips = [self.prep.apply(x, sr) for x in wav.detach().cpu().numpy()]
        rows: list[Tensor | None] = [None] * len(clips)
        for n in sorted({len(c) for c in clips}):
            idx = [i for i, c in enumerate(clips) if len(c) == n]
            batch = torch.from_numpy(np.stack([clips[i] for i in idx])).to(wav.device)
            out = self.encoder.embed_windowed(batch, self.prep.windowing)
            for row, i in enumerate(idx):
                rows[i] = out[row]
        return torch.stack(rows)
