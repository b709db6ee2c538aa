"""Normal breath sounds: band-passed noise shaped by a respiratory flow envelope (REFERENCE.md §5).

Flow over one cycle is q(t) = Qmax sin(pi t / Ti) during inspiration and a negative half-sine of the same
volume during expiration (so Qmax_exp = Qmax Ti / Te). Sound amplitude follows |q|^p with p in 1.7-2, which
also makes vesicular expiration faint, as it is at the chest wall. Vesicular sound is noise band-passed to
200-600 Hz (falling above); bronchial (tracheal) sound is 75-1600 Hz with an expiration as loud as inspiration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark_tasks.synth._dsp import band_noise, db_to_gain

BREATH_BANDS_HZ = {"vesicular": (200.0, 600.0), "bronchial": (75.0, 1600.0)}
# Extra expiratory gain (dB) on top of the |q|^p law: bronchial expiration is as loud as inspiration.
EXPIRATION_GAIN_DB = {"vesicular": 0.0, "bronchial": 8.0}


@dataclass(frozen=True)
class BreathCycle:
    """One respiratory cycle; times in seconds from the start of the recording (start may be < 0)."""

    start: float
    ti: float
    te: float

    @property
    def expiration_start(self) -> float:
        return self.start + self.ti

    @property
    def end(self) -> float:
        return self.start + self.ti + self.te


def breath_rate_bpm(age: float, rng: np.random.Generator) -> float:
    """A resting breathing rate in breaths/min: 12-20 for adults, 20-40 for children (age < 12 years)."""
    return float(rng.uniform(20.0, 40.0) if age < 12 else rng.uniform(12.0, 20.0))


def breath_cycles(duration_s: float, rate_bpm: float, rng: np.random.Generator, ie_ratio: float | None = None,
                  jitter: float = 0.08) -> list[BreathCycle]:
    """Respiratory cycles covering [0, duration_s], starting at a random phase.

    The phase is drawn so that at least one whole inspiration lies inside the recording when it is long enough
    (duration_s >= Ti), so a finding placed in inspiration is never cut off entirely.

    Args:
        duration_s: recording length in s.
        rate_bpm: breaths per minute.
        rng: random source.
        ie_ratio: expiration/inspiration duration ratio (I:E = 1:ie_ratio); drawn from 1.5-2 when None.
        jitter: relative standard deviation of the cycle period (each period stays within +-30 %).
    """
    period = 60.0 / rate_bpm
    ie = float(rng.uniform(1.5, 2.0)) if ie_ratio is None else float(ie_ratio)
    periods = period * np.clip(1.0 + jitter * rng.standard_normal(int(duration_s / (0.7 * period)) + 3), 0.7, 1.3)
    first = float(rng.uniform(0.0, np.clip(duration_s - periods[1] / (1.0 + ie), 0.0, periods[0])))
    t = first - float(periods[0])
    cycles = []
    for p in periods:
        if t >= duration_s:
            break
        ti = float(p) / (1.0 + ie)
        cycles.append(BreathCycle(t, ti, float(p) - ti))
        t += float(p)
    return cycles


def flow_envelope(n: int, sr: int, cycles: list[BreathCycle]) -> np.ndarray:
    """Signed flow q(t) [n] in units of the inspiratory peak flow: + inspiration, - expiration."""
    t = np.arange(n) / sr
    q = np.zeros(n)
    for c in cycles:
        insp = (t >= c.start) & (t < c.expiration_start)
        q[insp] = np.sin(np.pi * (t[insp] - c.start) / c.ti)
        exp_ = (t >= c.expiration_start) & (t < c.end)
        q[exp_] = -(c.ti / c.te) * np.sin(np.pi * (t[exp_] - c.expiration_start) / c.te)
    return q


def inspiration_mask(n: int, sr: int, cycles: list[BreathCycle]) -> np.ndarray:
    """[n] bool, True during inspiration."""
    return flow_envelope(n, sr, cycles) > 0


def breath_sound(n: int, sr: int, cycles: list[BreathCycle], rng: np.random.Generator,
                 kind: str = "vesicular", exponent: float | None = None) -> np.ndarray:
    """Normal breath sound [n] at `sr` Hz, peak envelope 1 (inspiration), before any channel effects.

    Args:
        kind: "vesicular" (chest wall, 200-600 Hz) or "bronchial" (trachea, 75-1600 Hz).
        exponent: p of amplitude ~ |q|^p; drawn from 1.7-2.0 when None.
    """
    if kind not in BREATH_BANDS_HZ:
        raise ValueError(f"breath kind {kind!r} not in {sorted(BREATH_BANDS_HZ)}")
    p = float(rng.uniform(1.7, 2.0)) if exponent is None else exponent
    q = flow_envelope(n, sr, cycles)
    env = np.abs(q) ** p
    env[q < 0] *= db_to_gain(EXPIRATION_GAIN_DB[kind])
    low, high = BREATH_BANDS_HZ[kind]
    return band_noise(n, sr, low, high, rng) * env
