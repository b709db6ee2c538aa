"""Small signal helpers shared by the synthesisers: cached Butterworth filters, ramps, level arithmetic."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal


@lru_cache(maxsize=256)
def _sos(order: int, low_hz: float | None, high_hz: float | None, sr: int) -> np.ndarray:
    nyq = sr / 2.0
    low = low_hz if low_hz and low_hz > 0 else None
    high = high_hz if high_hz and high_hz < 0.95 * nyq else None
    if low and high:
        return signal.butter(order, [low, high], btype="bandpass", fs=sr, output="sos")
    if low:
        return signal.butter(order, low, btype="highpass", fs=sr, output="sos")
    if high:
        return signal.butter(order, high, btype="lowpass", fs=sr, output="sos")
    return np.empty((0, 6))


def band(x: np.ndarray, sr: int, low_hz: float | None, high_hz: float | None, order: int = 2) -> np.ndarray:
    """Butterworth band-pass (or high/low-pass when one edge is None or beyond 0.95 Nyquist), causal.

    Args:
        x: [S] float signal at `sr` Hz.
        low_hz, high_hz: -3 dB edges in Hz.
        order: filter order per edge (2 gives 12 dB/octave skirts).
    Returns:
        [S] float64.
    """
    sos = _sos(order, None if low_hz is None else float(low_hz), None if high_hz is None else float(high_hz),
               int(sr))
    if len(sos) == 0:
        return np.asarray(x, dtype=np.float64)
    return signal.sosfilt(sos, x)


def band_noise(n: int, sr: int, low_hz: float | None, high_hz: float | None, rng: np.random.Generator,
               order: int = 2) -> np.ndarray:
    """[n] band-passed Gaussian noise at `sr` Hz scaled to unit RMS."""
    # 50 ms of warm-up so the filter transient is cut off.
    warm = int(0.05 * sr)
    x = band(rng.standard_normal(n + warm), sr, low_hz, high_hz, order)[warm:]
    return x / max(rms(x), 1e-12)


def rms(x: np.ndarray) -> float:
    """Root mean square of a signal (0.0 for an empty one)."""
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def db_to_gain(db: float) -> float:
    """Amplitude ratio for a level in dB (20 log10)."""
    return float(10.0 ** (db / 20.0))


def raised_cosine_ramps(n: int, ramp: int) -> np.ndarray:
    """[n] window of ones with raised-cosine fade-in and fade-out of `ramp` samples each."""
    w = np.ones(n)
    ramp = int(min(ramp, n // 2))
    if ramp > 0:
        r = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        w[:ramp] = r
        w[n - ramp:] = r[::-1]
    return w


def add_at(out: np.ndarray, event: np.ndarray, start: int) -> None:
    """Add `event` into `out` from sample `start` on, clipping whatever falls outside `out` (in place)."""
    a, b = max(start, 0), min(start + len(event), len(out))
    if b > a:
        out[a:b] += event[a - start: b - start]
