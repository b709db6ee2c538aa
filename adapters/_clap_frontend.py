"""CLAP (LAION) front end: repeat-pad to 10 s and the log-mel spectrogram, in torch and batched.

Reproduces `transformers.ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad", frequency_min=50,
frequency_max=14000)` — the settings of HF `laion/clap-htsat-unfused` and of the original LAION-CLAP unfused
models (github LAION-AI/CLAP, `HTSAT-tiny` audio config: fmin 50, fmax 14000, 64 mels, window 1024, hop 480) —
for clips of at most 10 s:

1. repeat-pad: a clip of S < N samples (N = 480000) is tiled floor(N / S) times, then zero-padded to N. (This is
   neither plain repetition nor plain zero-padding: a 6 s clip becomes 6 s of audio and 4 s of silence.)
2. |STFT|^2: periodic Hann window of 1024, hop 480, centred frames with reflect padding -> 1001 frames.
3. Slaney-scale, Slaney-normalised mel filter bank (64 bands, 50-14000 Hz), floored at 1e-10.
4. 10 * log10 (reference 1.0, no top_db clipping): -100 dB for silence.

The extractor crops clips longer than 10 s at a random offset; here they are cropped to their first 10 s, so the
result is deterministic (the first-10-s crop is one of the crops upstream may draw).
The STFT and mel product run in float64 like the extractor's numpy code; the output is float32.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

SAMPLE_RATE = 48000
CLIP_SAMPLES = 480000  # 10 s at 48 kHz
N_FFT = 1024
HOP_LENGTH = 480
N_MELS = 64
F_MIN = 50.0
F_MAX = 14000.0
MEL_FLOOR = 1e-10


def repeat_pad(wav: Tensor, n_samples: int = CLIP_SAMPLES) -> Tensor:
    """ClapFeatureExtractor's "repeatpad", with a deterministic crop for long clips.

    Args:
        wav: [B, S] float waveform.
        n_samples: target length N.
    Returns:
        [B, N]: the first N samples when S >= N; otherwise the clip tiled floor(N / S) times and zero-padded to
        N; all zeros when S == 0.
    """
    n_in = wav.shape[-1]
    if n_in >= n_samples:
        return wav[..., :n_samples]
    if n_in == 0:
        return wav.new_zeros(*wav.shape[:-1], n_samples)
    tiled = wav.repeat(1, n_samples // n_in)
    return nn.functional.pad(tiled, (0, n_samples - tiled.shape[-1]))


def slaney_mel_filters() -> np.ndarray:
    """[513, 64] float64: the extractor's `mel_filters_slaney` (transformers' mel_filter_bank, the same call)."""
    from transformers.audio_utils import mel_filter_bank

    return mel_filter_bank(num_frequency_bins=N_FFT // 2 + 1, num_mel_filters=N_MELS, min_frequency=F_MIN,
                           max_frequency=F_MAX, sampling_rate=SAMPLE_RATE, norm="slaney", mel_scale="slaney")


class ClapLogMel(nn.Module):
    """[B, S] float32 in [-1, 1] at 48 kHz -> [B, 1, 1001, 64] float32 log-mel in dB (>= -100).

    Holds its window and filter bank as non-persistent buffers: they are constants, not checkpoint weights.
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("window", torch.hann_window(N_FFT, periodic=True, dtype=torch.float64),
                             persistent=False)
        self.register_buffer("mel_filters", torch.from_numpy(slaney_mel_filters()), persistent=False)

    def forward(self, wav: Tensor) -> Tensor:
        if wav.dim() != 2:
            raise ValueError(f"ClapLogMel expects a [B, S] waveform, got shape {tuple(wav.shape)}")
        x = repeat_pad(wav.to(torch.float64))
        spec = torch.stft(x, n_fft=N_FFT, hop_length=HOP_LENGTH, win_length=N_FFT, window=self.window,
                          center=True, pad_mode="reflect", onesided=True, return_complex=True)
        power = spec.real.square() + spec.imag.square()  # [B, 513, frames]
        mel = torch.matmul(self.mel_filters.T, power).clamp_min(MEL_FLOOR)  # [B, 64, frames]
        log_mel = 10.0 * torch.log10(mel)
        return log_mel.transpose(1, 2).unsqueeze(1).to(torch.float32)

    @staticmethod
    def params() -> dict:
        """Every front-end constant that changes the features (part of the embedding cache key)."""
        return {"padding": "repeatpad (tile floor(N/S) times, then zeros)", "long_clips": "first 10 s",
                "n_fft": N_FFT, "hop_length": HOP_LENGTH, "window": "hann(periodic)", "n_mels": N_MELS,
                "f_min": F_MIN, "f_max": F_MAX, "mel": "slaney scale, slaney norm", "log": "10*log10, floor 1e-10"}
