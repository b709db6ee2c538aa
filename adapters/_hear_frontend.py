"""HeAR's front end in torch: 2 s window -> PCEN mel image [1, 192, 128] that the ViT reads.

Reproduces `preprocess_audio` of github google-health/hear `python/data_processing/audio_utils.py`
(commit 3cba3ba, 2025-04-21; read from the fork audiumhealth/hear), which in turn ports the TensorFlow
ops the model was trained with, step by step:

1. zero-pad the window to 32000 samples (2 s at 16 kHz), then min-max scale it to [-1, 1]
   (`x - min`, `/ (max + 1e-8)`, `* 2 - 1`). Upstream takes min and max over the whole batch tensor, which
   makes a clip's embedding depend on the other clips in its batch; here they are taken per window.
2. STFT like `tf.signal.stft(pad_end=True)`: no centering, the end zero-padded so that ceil(S / 160) frames fit
   -> 200 frames of 400 samples, hop 160, periodic Hann window, 400-point rFFT -> 201 bins; power |X|^2.
3. mel like `tf.signal.linear_to_mel_weight_matrix`: 128 triangular bands, HTK mel 2595 log10(1 + f / 700),
   0-8000 Hz, band edges evenly spaced in mel, the DC bin zeroed, no area normalisation.
4. PCEN (Wang et al. 2017) with fixed alpha 0.8, smoothing 0.04, delta 2, root 2, floor 1e-8; the smoother
   starts from the first frame: M_0 = E_0, M_t = 0.04 E_t + 0.96 M_{t-1};
   out = (E / (1e-8 + M)^0.8 + 2)^(1/2) - 2^(1/2).
5. image [1, T=200 frames, 128 mels] resized to [1, 192, 128] with bilinear interpolation, half-pixel centres, no
   antialiasing (= `tf.image.resize(..., "bilinear")` = `F.interpolate(align_corners=False, antialias=False)`).
   Height is time, width is mel frequency (low -> high).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SAMPLE_RATE = 16000
WINDOW_SAMPLES = 32000
FRAME_LENGTH = 400
FRAME_STEP = 160
FFT_LENGTH = 400
NUM_MEL_BINS = 128
LOWER_EDGE_HZ = 0.0
UPPER_EDGE_HZ = 8000.0
PCEN_ALPHA = 0.8
PCEN_SMOOTH = 0.04
PCEN_DELTA = 2.0
PCEN_ROOT = 2.0
PCEN_FLOOR = 1e-8
MINMAX_EPS = 1e-8
IMAGE_SIZE = (192, 128)
WINDOW_HOP = 28800  # 10 % overlap between 2 s windows, as upstream's notebooks segment long recordings


def hertz_to_mel(hz: Tensor) -> Tensor:
    """HTK mel scale: 2595 log10(1 + f / 700)."""
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def tf_mel_matrix(num_mel_bins: int = NUM_MEL_BINS, num_spectrogram_bins: int = FFT_LENGTH // 2 + 1,
                  sample_rate: int = SAMPLE_RATE, lower_edge_hz: float = LOWER_EDGE_HZ,
                  upper_edge_hz: float = UPPER_EDGE_HZ) -> Tensor:
    """The mel weights `tf.signal.linear_to_mel_weight_matrix` builds, computed in float64.

    Returns:
        [num_spectrogram_bins, num_mel_bins] float32, weights in [0, 1]; row 0 (DC) is all zeros.
    """
    freqs = torch.linspace(0.0, sample_rate / 2.0, num_spectrogram_bins, dtype=torch.float64)[1:]
    bins_mel = hertz_to_mel(freqs).unsqueeze(1)
    edges = torch.linspace(float(hertz_to_mel(torch.tensor(lower_edge_hz, dtype=torch.float64))),
                           float(hertz_to_mel(torch.tensor(upper_edge_hz, dtype=torch.float64))),
                           num_mel_bins + 2, dtype=torch.float64)
    lower, center, upper = edges[:-2].unsqueeze(0), edges[1:-1].unsqueeze(0), edges[2:].unsqueeze(0)
    rising = (bins_mel - lower) / (center - lower)
    falling = (upper - bins_mel) / (upper - center)
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    return F.pad(weights, (0, 0, 1, 0)).to(torch.float32)


def minmax_per_clip(wav: Tensor) -> Tensor:
    """[N, S] -> [N, S] with each row scaled to [-1, 1] by its own min and max (a constant row becomes -1)."""
    shifted = wav - wav.amin(dim=-1, keepdim=True)
    return shifted / (shifted.amax(dim=-1, keepdim=True) + MINMAX_EPS) * 2.0 - 1.0


def frame_pad_end(wav: Tensor, frame_length: int = FRAME_LENGTH, frame_step: int = FRAME_STEP) -> Tensor:
    """[N, S] -> [N, ceil(S / step), frame_length] frames, zero-padding the end as tf.signal.frame(pad_end=True)."""
    n_frames = -(-wav.shape[-1] // frame_step)
    needed = max(0, (n_frames - 1) * frame_step + frame_length - wav.shape[-1])
    return F.pad(wav, (0, needed)).unfold(-1, frame_length, frame_step)


def pcen(energy: Tensor) -> Tensor:
    """Per-channel energy normalisation with HeAR's fixed parameters.

    Args:
        energy: [N, T, C] non-negative mel energies.
    Returns:
        [N, T, C] float, same dtype.
    """
    smoothed = [energy[:, 0]]
    for t in range(1, energy.shape[1]):
        smoothed.append(PCEN_SMOOTH * energy[:, t] + (1.0 - PCEN_SMOOTH) * smoothed[-1])
    smoother = torch.stack(smoothed, dim=1)
    inv_root = 1.0 / PCEN_ROOT
    return (energy / (PCEN_FLOOR + smoother) ** PCEN_ALPHA + PCEN_DELTA) ** inv_root - PCEN_DELTA ** inv_root


def split_windows(wav: Tensor) -> Tensor:
    """Cut clips into the 2 s windows HeAR embeds, the way upstream's notebooks do.

    Args:
        wav: [B, S] float32 at 16 kHz.
    Returns:
        [B, 1, S] when S <= 32000 (the front end zero-pads it); otherwise [B, W, 32000] with
        W = floor((S - 32000) / 28800) + 1 windows starting every 1.8 s. Samples after the last whole window
        (under 1.8 s) are not used, as in `train_data_efficient_classifier.ipynb`.
    """
    if wav.shape[-1] <= WINDOW_SAMPLES:
        return wav.unsqueeze(1)
    return wav.unfold(-1, WINDOW_SAMPLES, WINDOW_HOP)


def window_count(n_samples: int) -> int:
    """W, the number of windows `split_windows` cuts from a clip of `n_samples`."""
    return 1 if n_samples <= WINDOW_SAMPLES else 1 + (n_samples - WINDOW_SAMPLES) // WINDOW_HOP


def window_rows(wav: Tensor, rows: range) -> Tensor:
    """Some of the windows of `split_windows(wav)` without building the others.

    Args:
        wav: [B, S] float32 at 16 kHz.
        rows: flat window indices r = b * W + w (W = window_count(S)), clip-major like split_windows.
    Returns:
        [len(rows), min(S, 32000)], equal to split_windows(wav).reshape(B * W, -1)[rows].
    """
    if wav.shape[-1] <= WINDOW_SAMPLES:
        return wav[rows.start:rows.stop:rows.step]
    w = window_count(wav.shape[-1])
    return torch.stack([wav[r // w, (r % w) * WINDOW_HOP:(r % w) * WINDOW_HOP + WINDOW_SAMPLES] for r in rows])


class HearFrontend(nn.Module):
    """2 s windows -> the ViT's input image.

    Input: [N, S] float32 waveforms at 16 kHz, S <= 32000 (shorter windows are zero-padded at the end).
    Output: [N, 1, 192, 128] float32 PCEN mel images (height = time, width = mel band).
    The window and mel matrix are non-persistent buffers: they follow `.to(device)` but are not weights.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.hann_window(FRAME_LENGTH, periodic=True), persistent=False)
        self.register_buffer("mel_matrix", tf_mel_matrix(), persistent=False)

    def mel_pcen(self, wav: Tensor) -> Tensor:
        """[N, 32000] -> [N, 200, 128] PCEN mel spectrogram (before the resize)."""
        frames = frame_pad_end(minmax_per_clip(wav.float())) * self.window
        power = torch.fft.rfft(frames, n=FFT_LENGTH, dim=-1).abs().square()
        return pcen(power @ self.mel_matrix)

    def forward(self, wav: Tensor) -> Tensor:
        if wav.ndim != 2 or wav.shape[-1] > WINDOW_SAMPLES:
            raise ValueError(f"HearFrontend expects [N, S<={WINDOW_SAMPLES}] windows, got {tuple(wav.shape)}; "
                             f"split longer clips with split_windows first")
        wav = F.pad(wav, (0, WINDOW_SAMPLES - wav.shape[-1]))
        image = self.mel_pcen(wav).unsqueeze(1)
        return F.interpolate(image, size=IMAGE_SIZE, mode="bilinear", align_corners=False, antialias=False)

    @staticmethod
    def params() -> dict:
        """Every constant above that changes the image (for cache keys)."""
        return {"window_samples": WINDOW_SAMPLES, "window_hop": WINDOW_HOP, "minmax": "per 2 s window",
                "frame_length": FRAME_LENGTH, "frame_step": FRAME_STEP, "fft_length": FFT_LENGTH,
                "stft_padding": "pad_end", "window": "hann periodic", "mel_bins": NUM_MEL_BINS,
                "mel_hz": [LOWER_EDGE_HZ, UPPER_EDGE_HZ], "mel_scale": "htk, tf matrix",
                "pcen": [PCEN_ALPHA, PCEN_SMOOTH, PCEN_DELTA, PCEN_ROOT, PCEN_FLOOR],
                "image_size": list(IMAGE_SIZE), "resize": "bilinear half-pixel, no antialias"}
