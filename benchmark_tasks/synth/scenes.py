"""Whole recordings: a lung, heart or cough clip with its findings, hard negatives and recording channel.

Each function returns [duration_s * sr] float32 in [-1, 1] at `sr` Hz, fully determined by `rng`.
"""

from __future__ import annotations

import numpy as np

from benchmark_tasks.synth._dsp import add_at, band, db_to_gain, rms
from benchmark_tasks.synth.adventitious import crackle_track, friction_clicks, wheeze_f0, wheeze_track
from benchmark_tasks.synth.breath import breath_cycles, breath_rate_bpm, breath_sound, inspiration_mask
from benchmark_tasks.synth.channel import add_noise, device_response, mains_hum, set_level
from benchmark_tasks.synth.cough import cough_train, lowpass_rumble, voiced
from benchmark_tasks.synth.difficulty import Knobs
from benchmark_tasks.synth.heart import Murmur, heart_rate_bpm, heart_sound


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _channel(x: np.ndarray, sr: int, device: str, knobs: Knobs, rng: np.random.Generator) -> np.ndarray:
    """Device response, background noise at the knob SNR, optional mains hum, then the recording level."""
    y = device_response(x, sr, device, rng, knobs.channel_strength)
    y = add_noise(y, _uniform(rng, knobs.snr_db), rng, color=("pink", "brown", "white")[int(rng.integers(3))])
    if rng.random() < knobs.p_hum:
        y = y + mains_hum(len(y), sr, rms(y) * db_to_gain(rng.uniform(-20.0, -8.0)), rng)
    return set_level(y, _uniform(rng, knobs.rms_dbfs))


def _speech_bleed(n: int, sr: int, level: float, rng: np.random.Generator) -> np.ndarray:
    """2-6 voiced syllables (f0 100-250 Hz) muffled by the chest wall (low-passed at 600 Hz), RMS ~ `level`."""
    out = np.zeros(n)
    for _ in range(int(rng.integers(2, 7))):
        syllable = voiced(sr, rng.uniform(100.0, 250.0), rng.uniform(0.12, 0.3), rng)
        add_at(out, syllable, int(rng.uniform(0.0, n / sr - 0.3) * sr))
    out = band(out, sr, None, 600.0)
    active = out[np.abs(out) > 1e-9]
    return out * level / max(rms(active), 1e-12)


def lung_recording(sr: int, duration_s: float, rng: np.random.Generator, knobs: Knobs, crackles: str,
                   wheeze: bool, site: str, age: float, device: str) -> np.ndarray:
    """Lung auscultation clip: breath sound (+ crackles "none"|"fine"|"coarse") (+ wheezes) + hard negatives."""
    n = int(round(duration_s * sr))
    cycles = breath_cycles(duration_s, breath_rate_bpm(age, rng), rng)
    x = breath_sound(n, sr, cycles, rng, kind="bronchial" if site == "trachea" else "vesicular")
    ref = rms(x[inspiration_mask(n, sr, cycles)])  # events are levelled against inspiratory breath sound
    if crackles != "none":
        two_cd = knobs.fine_2cd_ms if crackles == "fine" else knobs.coarse_2cd_ms
        level = ref * db_to_gain(_uniform(rng, knobs.event_level_db))
        x = x + crackle_track(n, sr, cycles, crackles, knobs.crackles_per_breath, level, rng, two_cd_ms=two_cd)
    if wheeze:
        level = ref * db_to_gain(_uniform(rng, knobs.event_level_db))
        x = x + wheeze_track(n, sr, cycles, wheeze_f0(rng), knobs.wheeze_s, level, rng, knobs.wheeze_p_cycle)
    if rng.random() < knobs.p_friction:
        level = ref * db_to_gain(_uniform(rng, knobs.event_level_db))
        x = x + friction_clicks(n, sr, int(rng.integers(1, 4)), level, rng)
    if rng.random() < knobs.p_heart_bleed:
        heart = band(heart_sound(n, sr, rng, heart_rate_bpm(age, rng)).wav, sr, None, 250.0)
        x = x + heart * ref * db_to_gain(_uniform(rng, knobs.heart_bleed_db)) / max(rms(heart), 1e-12)
    if rng.random() < knobs.p_speech:
        x = x + _speech_bleed(n, sr, ref * db_to_gain(rng.uniform(-6.0, 0.0)), rng)
    return _channel(x, sr, device, knobs, rng)


def heart_recording(sr: int, duration_s: float, rng: np.random.Generator, knobs: Knobs, murmur: Murmur | None,
                    age: float, device: str) -> np.ndarray:
    """Heart auscultation clip: S1/S2 (+ a systolic murmur) + breath-sound bleed as a hard negative."""
    n = int(round(duration_s * sr))
    split = _uniform(rng, knobs.s2_split_s)
    x = heart_sound(n, sr, rng, heart_rate_bpm(age, rng), split_s=split, murmur=murmur).wav
    if rng.random() < knobs.p_breath_bleed:
        cycles = breath_cycles(duration_s, breath_rate_bpm(age, rng), rng)
        breath = breath_sound(n, sr, cycles, rng)
        x = x + breath * rms(x) * db_to_gain(_uniform(rng, knobs.breath_bleed_db)) / max(rms(breath), 1e-12)
    return _channel(x, sr, device, knobs, rng)


def cough_recording(sr: int, duration_s: float, rng: np.random.Generator, knobs: Knobs, wet: bool,
                    device: str) -> np.ndarray:
    """Cough clip: a 1-2 cough epoch (wet or dry) + low-frequency rumble as a hard negative."""
    n = int(round(duration_s * sr))
    x = cough_train(n, sr, wet, rng, contrast=_uniform(rng, knobs.cough_contrast))
    if rng.random() < knobs.p_rumble:
        x = x + lowpass_rumble(n, sr, rng) * rms(x) * db_to_gain(rng.uniform(-12.0, -3.0))
    return _channel(x, sr, device, knobs, rng)
