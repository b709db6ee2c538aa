"""Heart sounds: S1, S2 with an A2-P2 split, and systolic murmurs (REFERENCE.md §5, CirCor label set).

S1 (~122 ms) is two decaying sinusoids near 50 Hz (M1) and 150 Hz (T1); S2 (~94 ms) is an A2 chirp and a later,
softer P2 chirp, both with falling frequency, P2 split 15-60 ms after A2. A systolic murmur is band-passed noise
times an envelope over (part of) systole with CirCor's shapes (plateau, crescendo, decrescendo, diamond) and
timings (early-, mid-, late-, holosystolic); grade I-IV sets its RMS -20/-14/-8/-3 dB relative to S1's RMS
(a heuristic, not a calibrated Levine scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark_tasks.synth._dsp import add_at, band_noise, db_to_gain, raised_cosine_ramps, rms

S1_SECONDS = 0.122
S2_SECONDS = 0.094
GRADE_DB = {1: -20.0, 2: -14.0, 3: -8.0, 4: -3.0}
SHAPES = ("plateau", "crescendo", "decrescendo", "diamond")
# Fraction of the systolic interval (after S1's main components, up to A2) that each timing covers.
TIMINGS = {"holosystolic": (0.0, 1.0), "early-systolic": (0.0, 0.5), "mid-systolic": (0.2, 0.8),
           "late-systolic": (0.5, 1.0)}
PITCH_BANDS_HZ = {"low": (40.0, 160.0), "medium": (100.0, 400.0), "high": (200.0, 700.0)}
MURMUR_DELAY_S = 0.05  # murmurs start after the loud first 50 ms of S1


@dataclass(frozen=True)
class Murmur:
    """A systolic murmur: grade 1-4, shape in SHAPES, timing in TIMINGS, pitch in PITCH_BANDS_HZ."""

    grade: int
    shape: str
    timing: str
    pitch: str = "medium"

    def __post_init__(self) -> None:
        if self.grade not in GRADE_DB or self.shape not in SHAPES or self.timing not in TIMINGS \
                or self.pitch not in PITCH_BANDS_HZ:
            raise ValueError(f"invalid murmur {self}: grade 1-4, shape in {SHAPES}, timing in {tuple(TIMINGS)}, "
                             f"pitch in {tuple(PITCH_BANDS_HZ)}")


@dataclass
class HeartSound:
    """A rendered heart recording (before channel effects).

    wav: [n] float64 = S1/S2 track + murmur track; murmur: [n] the murmur alone (zeros when absent);
    s1_onsets, s2_onsets: onset times in s of every S1 and A2 (S2 may start before 0 or past the clip).
    """

    wav: np.ndarray
    murmur: np.ndarray
    s1_onsets: np.ndarray
    s2_onsets: np.ndarray


def murmur_envelope(u: np.ndarray, shape: str) -> np.ndarray:
    """Envelope over normalised murmur time u in [0, 1]: plateau 1, crescendo u, decrescendo 1-u, diamond."""
    if shape == "plateau":
        return np.ones_like(u)
    if shape == "crescendo":
        return u
    if shape == "decrescendo":
        return 1.0 - u
    if shape == "diamond":
        return 1.0 - np.abs(2.0 * u - 1.0)
    raise ValueError(f"murmur shape {shape!r} not in {SHAPES}")


def _decaying(sr: int, length_s: float, f_start: float, f_end: float, tau_s: float, attack_s: float,
              rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(length_s * sr)) / sr
    f = f_start + (f_end - f_start) * t / max(length_s, 1e-9)
    wave = np.sin(2 * np.pi * np.cumsum(f) / sr + rng.uniform(0, 2 * np.pi)) * np.exp(-t / tau_s)
    attack = np.minimum(t / attack_s, 1.0)
    return wave * (0.5 - 0.5 * np.cos(np.pi * attack)) * raised_cosine_ramps(len(t), int(0.01 * sr))


def s1_sound(sr: int, rng: np.random.Generator) -> np.ndarray:
    """First heart sound, ~122 ms at `sr` Hz: M1 (~50 Hz) then T1 (~150 Hz, 15-30 ms later). Peak 1."""
    length = S1_SECONDS * rng.uniform(0.9, 1.1)
    out = _decaying(sr, length, 50 * rng.uniform(0.85, 1.15), 45, 0.03, 0.008, rng)
    t1_delay = rng.uniform(0.015, 0.03)
    add_at(out, 0.7 * _decaying(sr, length - t1_delay, 150 * rng.uniform(0.85, 1.15), 120, 0.02, 0.005, rng),
           int(t1_delay * sr))
    return out / np.max(np.abs(out))


def s2_sound(sr: int, split_s: float, rng: np.random.Generator) -> np.ndarray:
    """Second heart sound at `sr` Hz: A2 chirp (~150 -> 60 Hz) and P2 (~120 -> 50 Hz) `split_s` later. Peak 1.

    Each chirp lasts max(94 ms - split, 40 ms), so the whole S2 is ~94 ms for usual splits.
    """
    length = max(S2_SECONDS - split_s, 0.04)
    a2 = _decaying(sr, length, 150 * rng.uniform(0.9, 1.1), 60, 0.02, 0.004, rng)
    p2 = 0.6 * _decaying(sr, length, 120 * rng.uniform(0.9, 1.1), 50, 0.02, 0.004, rng)
    out = np.zeros(int((length + split_s) * sr) + 1)
    add_at(out, a2, 0)
    add_at(out, p2, int(split_s * sr))
    return out / np.max(np.abs(out))


def heart_rate_bpm(age: float, rng: np.random.Generator) -> float:
    """A resting heart rate in beats/min: 70-130 for children (age < 12 years), 55-100 for adults."""
    return float(rng.uniform(70.0, 130.0) if age < 12 else rng.uniform(55.0, 100.0))


def heart_sound(n: int, sr: int, rng: np.random.Generator, rate_bpm: float, split_s: float = 0.03,
                murmur: Murmur | None = None) -> HeartSound:
    """Heart recording of `n` samples at `sr` Hz: S1 peak 1, cycles with +-3 % beat-to-beat variation.

    Args:
        rate_bpm: heart rate in beats/min.
        split_s: A2-P2 split in s (15-60 ms).
        murmur: a systolic murmur, or None.
    """
    out, mur = np.zeros(n), np.zeros(n)
    rr = 60.0 / rate_bpm
    t = -float(rng.uniform(0.0, rr))
    s1_on, s2_on = [], []
    low, high = PITCH_BANDS_HZ[murmur.pitch] if murmur else (0.0, 0.0)
    while t < n / sr:
        beat = rr * float(np.clip(1 + 0.03 * rng.standard_normal(), 0.9, 1.1))
        systole = 0.20 + 0.15 * beat  # S1 onset to A2 onset, s
        s1 = s1_sound(sr, rng)
        add_at(out, s1, int(round(t * sr)))
        add_at(out, 0.8 * s2_sound(sr, split_s * rng.uniform(0.9, 1.1), rng), int(round((t + systole) * sr)))
        s1_on.append(t)
        s2_on.append(t + systole)
        if murmur is not None:
            lo, hi = TIMINGS[murmur.timing]
            span = systole - MURMUR_DELAY_S
            start, length = t + MURMUR_DELAY_S + lo * span, (hi - lo) * span
            m = int(length * sr)
            u = np.linspace(0.0, 1.0, m)
            env = murmur_envelope(u, murmur.shape) * raised_cosine_ramps(m, int(0.005 * sr))
            noise = band_noise(m, sr, low, high, rng) * env
            level = rms(s1) * db_to_gain(GRADE_DB[murmur.grade]) / max(rms(noise), 1e-12)
            add_at(mur, noise * level, int(round(start * sr)))
        t += beat
    return HeartSound(out + mur, mur, np.array(s1_on), np.array(s2_on))
