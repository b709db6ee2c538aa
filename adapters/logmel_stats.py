"""Log-mel statistics baseline (weight-free): per-band mean and standard deviation of a 64-band log-mel.

A floor for the leaderboard: what a linear probe gets from the long-term spectrum alone, with no learned
encoder. Front end: 16 kHz, 25 ms Hann window (n_fft 400), 10 ms hop, 64 Slaney-scale mel bands 50-8000 Hz,
log(mel + 1e-6).
"""

from __future__ import annotations

import torch
from torch import Tensor

from adapters._base import AudioEncoder
from adapters._registry import register_encoder
from adapters._spec import EncoderSpec


@register_encoder("logmel-stats")
class LogMelStats(AudioEncoder):
    spec = EncoderSpec(
        name="logmel-stats", sample_rate=16000, embed_dim=128, frame_dim=64, length_policy="any",
        min_seconds=0.05, requires_weights=False, paper="baseline (no paper)", repo="acula-zoo",
        license="Apache-2.0", weights="none (weight-free)", params_published="0")
    configs = {"official": {"n_mels": 64, "n_fft": 400, "hop": 160, "f_min": 50.0, "f_max": 8000.0},
               "tiny": {"n_mels": 64, "n_fft": 400, "hop": 160, "f_min": 50.0, "f_max": 8000.0}}

    def __init__(self, config: dict):
        super().__init__(config)
        import torchaudio

        c = self.config
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=self.spec.sample_rate, n_fft=c["n_fft"], hop_length=c["hop"], f_min=c["f_min"],
            f_max=c["f_max"], n_mels=c["n_mels"], norm="slaney", mel_scale="slaney", center=True)

    def frames(self, wav: Tensor) -> Tensor:
        """[B, S] float32 in [-1, 1], 16 kHz -> [B, T, 64] log-mel (natural log), 10 ms hop."""
        return torch.log(self.mel(wav) + 1e-6).transpose(1, 2)

    def embed(self, wav: Tensor) -> Tensor:
        """[B, S] -> [B, 128]: per-band mean then per-band std (population) over time."""
        f = self.frames(wav)
        return torch.cat([f.mean(dim=1), f.std(dim=1, unbiased=False)], dim=1)

    def frontend_params(self) -> dict:
        return {**super().frontend_params(), **self.config}
