"""Log-mel statistics baseline (weight-free): per-band mean and standard deviation of a 64-band log-mel.

A floor for the leaderboard: what a linear probe gets from the long-term spectrum alone, with no learned
encoder. Front end: 16 kHz, 25 ms Hann window (n_fft 400), 10 ms hop, 64 Slaney-scale mel bands 50-8000 Hz,
log(mel + 1e-6).

Native rate (`with_native_rate(True)`, the default on csv tasks): the same front end at the file's own rate,
with the window and hop kept at 25 ms and 10 ms (n_fft and hop scaled by rate / 16000) and the band edges kept in Hz,
so a band means the same frequencies at every rate; bands above a file's Nyquist frequency hold no energy and
read log(1e-6) (e.g. 28 of 64 bands at 4 kHz).

Long clips: the STFT holds ~3 KB per 10 ms frame (2x the waveform and more), so `spec.max_seconds` is 120 s; longer
clips are cut into 120 s segments (AudioEncoder.embed_any_length) and their statistics pooled
(`combine_segments`): the length-weighted mean of the means, and the std from the pooled second moment, i.e.
the statistics of all frames together (up to the frames at segment edges).
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
        min_seconds=0.05,
        max_seconds=120.0,  # the [201, T] complex STFT is ~0.3 MB per second: 0.04 GB per 120 s pass, ~1 GB per hour
        long_clips="segments", requires_weights=False, paper="baseline (no paper)", repo="acula-zoo",
        license="Apache-2.0", weights="none (weight-free)", params_published="0")
    configs = {"official": {"n_mels": 64, "n_fft": 400, "hop": 160, "f_min": 50.0, "f_max": 8000.0},
               "tiny": {"n_mels": 64, "n_fft": 400, "hop": 160, "f_min": 50.0, "f_max": 8000.0}}
    supports_native_rate = True
    REFERENCE_RATE = 16000   # n_fft and hop in the config are in samples at this rate

    def __init__(self, config: dict):
        super().__init__(config)
        import warnings

        import torchaudio

        c, sr = self.config, self.spec.sample_rate
        scale = sr / self.REFERENCE_RATE
        with warnings.catch_warnings():   # bands above a low rate's Nyquist frequency are empty on purpose
            warnings.filterwarnings("ignore", message=".*filterbank.*all zero.*")
            self.mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=sr, n_fft=max(2, round(c["n_fft"] * scale)), hop_length=max(1, round(c["hop"] * scale)),
                f_min=c["f_min"], f_max=c["f_max"], n_mels=c["n_mels"], norm="slaney", mel_scale="slaney",
                center=True)

    def frames(self, wav: Tensor) -> Tensor:
        """[B, S] float32 in [-1, 1] at spec.sample_rate -> [B, T, 64] log-mel (natural log), 10 ms hop."""
        return torch.log(self.mel(wav) + 1e-6).transpose(1, 2)

    def embed(self, wav: Tensor) -> Tensor:
        """[B, S] -> [B, 128]: per-band mean then per-band std (population) over time."""
        f = self.frames(wav)
        return torch.cat([f.mean(dim=1), f.std(dim=1, unbiased=False)], dim=1)

    def combine_segments(self, parts: Tensor, lengths: Tensor) -> Tensor:
        """Pooled statistics: [B, K, 128] per-segment (mean, std) and [K] lengths -> [B, 128] (mean, std) of all
        frames, computed in float64 (var = E[x^2] - mean^2 with E[x^2] = sum_k w_k (std_k^2 + mean_k^2))."""
        w = (lengths / lengths.sum()).to(device=parts.device)[None, :, None]
        n = self.config["n_mels"]
        mean, std = parts[..., :n].double(), parts[..., n:].double()
        pooled_mean = (mean * w).sum(dim=1)
        second = ((std.square() + mean.square()) * w).sum(dim=1)
        pooled_std = (second - pooled_mean.square()).clamp(min=0.0).sqrt()
        return torch.cat([pooled_mean, pooled_std], dim=1).to(parts.dtype)

    def frontend_params(self) -> dict:
        return {**super().frontend_params(), **self.config}
