"""Coughs and voiced sounds (REFERENCE.md §5).

A cough is an explosive broadband burst (5-20 ms attack, exponential decay), a noisy intermediate phase
(100-300 ms) shaped by vocal-tract resonances, and an optional voiced phase (glottal pulses, f0 100-400 Hz,
through formant filters). A "wet" cough has a longer intermediate phase and extra energy below 300 Hz
(secretion rattle: low-passed noise in irregular bubbles). `contrast` in [0, 1] scales how far wet departs
from dry; the difficulty knob lowers it.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from benchmark_tasks.synth._dsp import add_at, band_noise, raised_cosine_ramps, rms

# (centre Hz, bandwidth Hz) of F1-F3 for a few open vocal-tract shapes.
VOWEL_FORMANTS = (((700, 130), (1220, 70), (2600, 160)), ((500, 100), (1000, 80), (2450, 150)),
                  ((300, 70), (2300, 100), (3000, 170)), ((600, 100), (1700, 100), (2500, 150)))


def formant_filter(x: np.ndarray, sr: int, formants) -> np.ndarray:
    """Cascade of two-pole resonators [(centre Hz, bandwidth Hz), ...]; those above 0.45 sr are skipped."""
    sections = []
    for f, bw in formants:
        if f >= 0.45 * sr:
            continue
        r = np.exp(-np.pi * bw / sr)
        a1, a2 = -2 * r * np.cos(2 * np.pi * f / sr), r * r
        sections.append([1.0 - r, 0.0, 0.0, 1.0, a1, a2])
    return signal.sosfilt(np.array(sections), x) if sections else x


def voiced(sr: int, f0_hz: float, duration_s: float, rng: np.random.Generator, formants=None) -> np.ndarray:
    """A voiced segment: glottal pulse train at f0 (+-3 % jitter), through formants, ramps, unit RMS.

    Args:
        sr: rate in Hz; f0_hz: fundamental in Hz (100-400); duration_s: length in s.
        formants: ((Hz, bandwidth Hz), ...); one of VOWEL_FORMANTS when None.
    Returns:
        [duration_s * sr] float64.
    """
    n = max(int(duration_s * sr), 16)
    f0 = f0_hz * (1 + 0.03 * rng.standard_normal(n // max(int(sr / f0_hz), 1) + 2))
    pulses = np.zeros(n)
    idx = np.cumsum(np.round(sr / f0)).astype(int)
    pulses[idx[idx < n]] = 1.0
    glottal = signal.lfilter([1.0], [1.0, -0.95], pulses)  # -6 dB/oct source tilt
    shape = formants or VOWEL_FORMANTS[int(rng.integers(len(VOWEL_FORMANTS)))]
    out = formant_filter(glottal, sr, shape) * raised_cosine_ramps(n, int(0.015 * sr))
    return out / max(rms(out), 1e-12)


def _rattle(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Secretion rattle: 60-300 Hz noise gated into irregular 15-60 ms bubbles, unit RMS."""
    gate = np.zeros(n)
    t = rng.uniform(0, 0.02)
    while t < n / sr:
        length = int(rng.uniform(0.015, 0.06) * sr)
        add_at(gate, np.hanning(max(length, 3)) * rng.uniform(0.4, 1.0), int(t * sr))
        t += rng.uniform(0.015, 0.05)
    out = band_noise(n, sr, 60.0, 300.0, rng) * gate
    return out / max(rms(out), 1e-12)


def cough_event(sr: int, wet: bool, rng: np.random.Generator, contrast: float = 1.0,
                p_voiced: float = 0.5) -> np.ndarray:
    """One cough at `sr` Hz, peak 1.

    Args:
        wet: wet (productive) or dry cough.
        contrast: 0-1; how strongly the wet cues (longer middle phase, rattle < 300 Hz) are expressed.
        p_voiced: probability of a final voiced phase.
    Returns:
        [L] float64, L ~ 0.15-0.7 s.
    """
    attack, decay = rng.uniform(0.005, 0.02), rng.uniform(0.015, 0.03)
    burst_len = attack + 4 * decay
    middle = rng.uniform(0.1, 0.25) * (1.0 + (0.8 * contrast if wet else 0.0))
    voiced_len = rng.uniform(0.05, 0.15) if rng.random() < p_voiced else 0.0
    n = int((burst_len + middle + voiced_len) * sr)
    t = np.arange(n) / sr

    env = np.where(t < attack, 0.5 - 0.5 * np.cos(np.pi * t / attack), np.exp(-(t - attack) / decay))
    burst = band_noise(n, sr, 100.0, None, rng, order=1) * env
    tract = VOWEL_FORMANTS[int(rng.integers(len(VOWEL_FORMANTS)))]
    mid_n = int(middle * sr)
    mid_env = np.linspace(0.5, 0.1, mid_n) * raised_cosine_ramps(mid_n, int(0.02 * sr))
    mid = formant_filter(band_noise(mid_n, sr, 150.0, None, rng, order=1), sr, tract)
    mid = mid / max(rms(mid), 1e-12) * mid_env
    if wet:
        mid = mid + _rattle(mid_n, sr, rng) * mid_env * 1.5 * contrast
    out = burst
    start = int(attack * sr) + int(2 * decay * sr)
    add_at(out, mid, start)
    if voiced_len:
        f0 = rng.uniform(100.0, 400.0)
        add_at(out, 0.3 * voiced(sr, f0, voiced_len, rng, tract), start + mid_n - int(0.02 * sr))
    return out / np.max(np.abs(out))


def cough_train(n: int, sr: int, wet: bool, rng: np.random.Generator, contrast: float = 1.0) -> np.ndarray:
    """A 1-2 cough epoch filling a clip of `n` samples at `sr` Hz (peak 1), starting 50-200 ms in."""
    out = np.zeros(n)
    t = rng.uniform(0.05, 0.2)
    for i in range(int(rng.integers(1, 3))):
        cough = cough_event(sr, wet, rng, contrast) * (1.0 if i == 0 else rng.uniform(0.5, 0.9))
        if i and t * sr + 0.5 * len(cough) > n:
            break
        add_at(out, cough, int(t * sr))
        t += len(cough) / sr + rng.uniform(0.1, 0.3)
    return out / np.max(np.abs(out))


def lowpass_rumble(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Room/handling rumble below ~250 Hz (a hard negative for wet coughs), unit RMS, slowly modulated."""
    x = band_noise(n, sr, 30.0, 250.0, rng)
    mod = 1.0 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.5, 3.0) * np.arange(n) / sr + rng.uniform(0, 6.3))
    out = x * mod
    return out / max(rms(out), 1e-12)


