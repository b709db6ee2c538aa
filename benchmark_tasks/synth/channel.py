"""Recording channel: device frequency response, background noise at a given SNR, mains hum, level.

Device bands are rough, illustrative responses (chest-piece acoustics, phone microphones), not measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft

from benchmark_tasks.synth._dsp import band, db_to_gain, rms


@dataclass(frozen=True)
class Device:
    """A recording device: pass band in Hz and the sample rate its files are written at."""

    name: str
    low_hz: float
    high_hz: float
    sample_rate: int


DEVICES = {d.name: d for d in (
    Device("Littmann 3200", 20.0, 1000.0, 8000),
    Device("Eko CORE", 20.0, 2000.0, 16000),
    Device("Thinklabs One", 20.0, 4000.0, 16000),
    Device("AKG C417L", 50.0, 7000.0, 16000),
    Device("smartphone", 150.0, 7000.0, 44100),
)}


def device_response(x: np.ndarray, sr: int, device: str, rng: np.random.Generator, strength: float = 0.0
                    ) -> np.ndarray:
    """Apply `device`'s pass band (Butterworth, order 2) to [S] at `sr` Hz.

    strength in [0, 1] adds a random fit/placement colouration: a tilt of up to +-6 dB/octave around 500 Hz
    times strength, and a narrowing of the pass band by up to `strength` octaves on either side.
    """
    d = DEVICES[device]
    low, high = d.low_hz, d.high_hz
    if strength > 0:
        low *= 2.0 ** (strength * rng.uniform(0.0, 1.0))
        high /= 2.0 ** (strength * rng.uniform(0.0, 1.0))
    y = band(x, sr, low, high)
    if strength > 0:
        tilt = strength * rng.uniform(-1.0, 1.0)  # +1: brighter, -1: duller (first-order shelf mix)
        y = y + tilt * (band(y, sr, 500.0, None, order=1) - band(y, sr, None, 500.0, order=1))
    return y


def colored_noise(n: int, rng: np.random.Generator, color: str = "white") -> np.ndarray:
    """[n] Gaussian noise with power spectrum 1/f^alpha (white 0, pink 1, brown 2), unit RMS."""
    alpha = {"white": 0.0, "pink": 1.0, "brown": 2.0}[color]
    if alpha == 0.0:
        x = rng.standard_normal(n)
    else:
        size = fft.next_fast_len(n, real=True)  # odd lengths (e.g. 1.17 s at 44.1 kHz) make the FFT slow
        spec = fft.rfft(rng.standard_normal(size))
        f = np.arange(len(spec), dtype=np.float64)
        f[0] = 1.0
        x = fft.irfft(spec / f ** (alpha / 2.0), size)[:n]
    return x / max(rms(x), 1e-12)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator, color: str = "pink") -> np.ndarray:
    """x plus noise whose RMS is `snr_db` dB below x's RMS."""
    return x + colored_noise(len(x), rng, color) * rms(x) / db_to_gain(snr_db)


def mains_hum(n: int, sr: int, level: float, rng: np.random.Generator) -> np.ndarray:
    """50 or 60 Hz hum with 3 odd harmonics, RMS `level`."""
    f = 50.0 if rng.random() < 0.5 else 60.0
    t = np.arange(n) / sr
    x = sum(np.sin(2 * np.pi * k * f * t + rng.uniform(0, 6.3)) / k for k in (1, 3, 5))
    return x * level / max(rms(x), 1e-12)


def set_level(x: np.ndarray, rms_dbfs: float, peak_max: float = 0.98) -> np.ndarray:
    """Scale [S] to `rms_dbfs` dB full scale RMS, then down further if needed so |peak| <= peak_max.

    Returns float32 in [-peak_max, peak_max].
    """
    y = x * db_to_gain(rms_dbfs) / max(rms(x), 1e-12)
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak > peak_max:
        y *= peak_max / peak
    return y.astype(np.float32)
