"""Adventitious lung sounds: crackles, wheezes, and friction "fake crackles" (REFERENCE.md §5).

Crackle: c(t) = A e^(-t/tau) sin(2 pi phi(t)), a sharp initial deflection followed by a damped oscillation.
The phase is laid out so the first half-cycle lasts the initial deflection width (IDW) and the first two full
cycles last the two-cycle duration (2CD): fine crackles IDW 0.7 ms / 2CD 5 ms (initial frequency
1/(2 IDW) ~ 700 Hz), coarse IDW 1.5 ms / 2CD 10-15 ms (~ 330 Hz); every crackle lasts < 20 ms.
Fine crackles fall in mid-late inspiration, coarse ones in early inspiration, 1-15 per breath with heavy-tailed
(log-normal) intervals. Wheeze: sum_k r^(k-1) sin(2 pi k int f0), K = 1-4 harmonics, raised-cosine ramps,
mostly expiratory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark_tasks.synth._dsp import add_at, band, raised_cosine_ramps, rms
from benchmark_tasks.synth.breath import BreathCycle

MAX_CRACKLE_S = 0.019


@dataclass(frozen=True)
class CrackleShape:
    """Crackle waveform parameters in ms, plus where in inspiration (fraction of Ti) the crackles fall."""

    idw_ms: float
    two_cd_ms: float
    window: tuple[float, float]


CRACKLE_SHAPES = {
    "fine": CrackleShape(idw_ms=0.7, two_cd_ms=5.0, window=(0.4, 0.95)),
    "coarse": CrackleShape(idw_ms=1.5, two_cd_ms=12.5, window=(0.02, 0.45)),
}


def crackle(sr: int, idw_ms: float, two_cd_ms: float, rng: np.random.Generator, jitter: float = 0.1) -> np.ndarray:
    """One crackle waveform with peak |amplitude| 1, duration < 20 ms.

    Args:
        sr: sample rate in Hz.
        idw_ms: initial deflection width (first half-cycle) in ms.
        two_cd_ms: duration of the first two cycles in ms (> idw_ms).
        rng: random source for the polarity and a +-`jitter` relative spread of IDW and 2CD.
    Returns:
        [L] float64, L = min(1.8 * 2CD, 19 ms) * sr samples.
    """
    idw = idw_ms * 1e-3 * (1.0 + jitter * rng.uniform(-1, 1))
    two_cd = max(two_cd_ms * 1e-3 * (1.0 + jitter * rng.uniform(-1, 1)), 2.5 * idw)
    length = min(1.8 * two_cd, MAX_CRACKLE_S)
    t = np.arange(max(int(length * sr), 2)) / sr
    # Phase in cycles: half a cycle by IDW, two cycles by 2CD, then the late frequency continues.
    f_late = 1.5 / (two_cd - idw)
    phase = np.where(t < idw, 0.5 * t / idw, 0.5 + f_late * (t - idw))
    wave = np.exp(-t / (two_cd / 2.0)) * np.sin(2 * np.pi * phase)
    tail = max(int(0.001 * sr), 1)
    wave[-tail:] *= np.linspace(1.0, 0.0, tail)
    wave /= np.max(np.abs(wave))
    return wave * (1.0 if rng.random() < 0.5 else -1.0)


def heavy_tailed_times(count: int, start: float, end: float, rng: np.random.Generator) -> np.ndarray:
    """`count` sorted event times in [start, end] s whose gaps are log-normal (sigma 1): bursts and pauses."""
    gaps = rng.lognormal(0.0, 1.0, count + 1)
    return start + (end - start) * np.cumsum(gaps)[:-1] / gaps.sum()


def crackle_track(n: int, sr: int, cycles: list[BreathCycle], kind: str, per_breath: tuple[int, int],
                  rms_level: float, rng: np.random.Generator, two_cd_ms: float | None = None) -> np.ndarray:
    """Crackles of one kind placed in the inspirations of `cycles`.

    Args:
        n, sr: output length in samples and rate in Hz.
        kind: "fine" or "coarse" (see CRACKLE_SHAPES).
        per_breath: inclusive (min, max) number of crackles per inspiration.
        rms_level: median RMS of a crackle over its own duration (each varies log-normally by ~30 %).
        two_cd_ms: overrides the kind's 2CD (the difficulty knob moves fine/coarse towards each other).
    Returns:
        [n] float64.
    """
    shape = CRACKLE_SHAPES[kind]
    two_cd = shape.two_cd_ms if two_cd_ms is None else two_cd_ms
    out = np.zeros(n)
    for c in cycles:
        count = int(rng.integers(per_breath[0], per_breath[1] + 1))
        lo, hi = shape.window
        for t in heavy_tailed_times(count, c.start + lo * c.ti, c.start + hi * c.ti, rng):
            wave = crackle(sr, shape.idw_ms, two_cd, rng)
            wave *= rms_level * rng.lognormal(0.0, 0.3) / rms(wave)
            add_at(out, wave, int(round(t * sr)))
    return out


def friction_clicks(n: int, sr: int, bursts: int, rms_level: float, rng: np.random.Generator) -> np.ndarray:
    """Fake crackles from stethoscope/skin friction: bursts of 3-10 broadband 1-4 ms clicks at any phase.

    Unlike crackles they are not locked to inspiration and have no ringing. `rms_level` is the median RMS of a
    click over its own duration. Returns [n] float64.
    """
    out = np.zeros(n)
    duration = n / sr
    for _ in range(bursts):
        centre = rng.uniform(0.0, duration)
        for t in centre + np.cumsum(rng.exponential(0.03, int(rng.integers(3, 11)))):
            length = max(int(rng.uniform(0.001, 0.004) * sr), 4)
            click = rng.standard_normal(length) * np.exp(-np.arange(length) / (0.3 * length))
            click = band(click, sr, 300.0, None, order=1)
            click *= rms_level * rng.lognormal(0.0, 0.3) / max(rms(click), 1e-12)
            add_at(out, click, int(t * sr))
    return out


def wheeze(sr: int, f0_hz: float, duration_s: float, rng: np.random.Generator, n_harmonics: int | None = None,
           ratio: float | None = None, ramp_s: float | None = None, glide: float | None = None) -> np.ndarray:
    """One wheeze: harmonic tone sum_k r^(k-1) sin(2 pi k int f0 dt) with raised-cosine ramps, unit RMS.

    Args:
        sr: sample rate in Hz.
        f0_hz: mean fundamental in Hz (>= 100; ~150 Hz is a rhonchus).
        duration_s: length in s (>= 80 ms in practice).
        n_harmonics: K in 1-4 (drawn when None); harmonics at or above Nyquist are dropped.
        ratio: amplitude ratio r between successive harmonics, 0.1-0.5 (drawn when None).
        ramp_s: fade-in/out in s, 20-50 ms (drawn when None; at most a third of the wheeze).
        glide: relative linear f0 change over the wheeze, e.g. -0.1 = falls 10 % (drawn in +-0.1 when None).
    Returns:
        [duration_s * sr] float64.
    """
    k_max = int(rng.integers(1, 5)) if n_harmonics is None else n_harmonics
    r = float(rng.uniform(0.1, 0.5)) if ratio is None else ratio
    ramp = float(rng.uniform(0.02, 0.05)) if ramp_s is None else ramp_s
    g = float(rng.uniform(-0.1, 0.1)) if glide is None else glide
    n = max(int(duration_s * sr), 8)
    u = np.linspace(-0.5, 0.5, n)
    f0 = f0_hz * (1.0 + g * u)
    phase = 2 * np.pi * np.cumsum(f0) / sr + rng.uniform(0, 2 * np.pi)
    out = np.zeros(n)
    for k in range(1, k_max + 1):
        if k * f0_hz * 1.1 < sr / 2:
            out += r ** (k - 1) * np.sin(k * phase)
    out *= raised_cosine_ramps(n, int(min(ramp, duration_s / 3) * sr))
    return out / max(rms(out), 1e-12)


def wheeze_f0(rng: np.random.Generator) -> float:
    """A wheeze fundamental in Hz: 20 % rhonchi (120-200 Hz), else log-uniform 200-800 Hz (median 400 Hz)."""
    if rng.random() < 0.2:
        return float(rng.uniform(120.0, 200.0))
    return float(np.exp(rng.uniform(np.log(200.0), np.log(800.0))))


def wheeze_track(n: int, sr: int, cycles: list[BreathCycle], f0_hz: float, length_s: tuple[float, float],
                 rms_level: float, rng: np.random.Generator, p_cycle: float = 1.0,
                 p_expiratory: float = 0.8) -> np.ndarray:
    """Wheezes of one fundamental (+-5 % per wheeze) in some of the `cycles`; at least one lies in the clip.

    Args:
        length_s: (min, max) wheeze duration in s, clipped to the part of the phase inside the clip.
        rms_level: RMS amplitude of each wheeze over its own duration.
        p_cycle: probability that a given cycle wheezes.
        p_expiratory: probability that a wheeze sits in expiration rather than inspiration.
    Returns:
        [n] float64.
    """
    out = np.zeros(n)
    duration = n / sr
    # (start, end) of each phase clipped to the clip; phases shorter than 80 ms inside it are skipped.
    phases = []
    for c in cycles:
        exp_ = (max(c.expiration_start, 0.0), min(c.end, duration))
        insp = (max(c.start, 0.0), min(c.expiration_start, duration))
        phases.append([p for p in (exp_, insp) if p[1] - p[0] >= 0.08])
    picks = []
    for options in phases:
        if options and rng.random() < p_cycle:
            picks.append(options[0] if len(options) == 1 or rng.random() < p_expiratory else options[1])
    if not picks:
        usable = [o for o in phases if o]
        picks = [max((p for o in usable for p in o), key=lambda p: p[1] - p[0])]
    for start, end in picks:
        length = min(float(rng.uniform(*length_s)), 0.9 * (end - start))
        onset = start + rng.uniform(0.0, end - start - length)
        tone = wheeze(sr, f0_hz * rng.uniform(0.95, 1.05), length, rng) * rms_level
        add_at(out, tone, int(onset * sr))
    return out
