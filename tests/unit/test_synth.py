"""Synthetic body sounds: waveform facts of REFERENCE.md §5 that the demo's ground truth depends on."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark_tasks.synth import adventitious, breath, channel, cough, heart, scenes
from benchmark_tasks.synth.difficulty import EASY, HARD, knobs_for


def _zero_crossings(x: np.ndarray) -> np.ndarray:
    """Sample indices where the sign changes (after the onset sample)."""
    s = np.sign(x[1:])
    return np.nonzero(s[1:] * s[:-1] < 0)[0] + 2


@pytest.mark.parametrize("kind", ["fine", "coarse"])
def test_crackle_lasts_under_20_ms_with_peak_one(kind):
    shape = adventitious.CRACKLE_SHAPES[kind]
    for seed in range(30):
        for sr in (8000, 16000, 44100):
            c = adventitious.crackle(sr, shape.idw_ms, shape.two_cd_ms, np.random.default_rng(seed))
            assert len(c) / sr < 0.020
            assert np.isfinite(c).all() and np.max(np.abs(c)) == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["fine", "coarse"])
def test_crackle_initial_deflection_and_two_cycle_duration(kind):
    sr = 44100
    shape = adventitious.CRACKLE_SHAPES[kind]
    c = adventitious.crackle(sr, shape.idw_ms, shape.two_cd_ms, np.random.default_rng(0), jitter=0.0)
    zc = _zero_crossings(c) / sr * 1e3  # ms
    assert zc[0] == pytest.approx(shape.idw_ms, abs=0.05)  # first half-cycle = IDW
    assert zc[3] == pytest.approx(shape.two_cd_ms, abs=0.05)  # two full cycles = 2CD
    assert abs(c[: int(zc[0] * sr / 1e3)]).max() == pytest.approx(1.0)  # the initial deflection is the largest


def test_crackles_fall_in_their_part_of_inspiration():
    sr, n = 16000, 16000 * 5
    rng = np.random.default_rng(3)
    cycles = breath.breath_cycles(5.0, 15.0, rng)
    for kind in ("fine", "coarse"):
        track = adventitious.crackle_track(n, sr, cycles, kind, (6, 10), 1.0, rng)
        lo, hi = adventitious.CRACKLE_SHAPES[kind].window
        t = np.nonzero(track)[0] / sr
        assert len(t) > 0
        inside = np.zeros(len(t), bool)
        for c in cycles:
            inside |= (t >= c.start + lo * c.ti - 1e-3) & (t <= c.start + hi * c.ti + 0.02)
        assert inside.all()


def test_wheeze_dominant_frequency_is_f0():
    sr = 16000
    for f0 in (150.0, 400.0, 700.0):
        w = adventitious.wheeze(sr, f0, 0.5, np.random.default_rng(1), n_harmonics=3, ratio=0.4, glide=0.0)
        spec = np.abs(np.fft.rfft(w))
        peak = np.fft.rfftfreq(len(w), 1 / sr)[np.argmax(spec)]
        assert peak == pytest.approx(f0, rel=0.02)
        assert np.sqrt(np.mean(w**2)) == pytest.approx(1.0)
        assert abs(w[0]) < 1e-3 and abs(w[-1]) < 1e-2  # raised-cosine ramps, no clicks


def test_wheezes_are_mostly_expiratory():
    sr, n = 8000, 8000 * 5
    expiratory = total = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        cycles = breath.breath_cycles(5.0, 15.0, rng)
        track = adventitious.wheeze_track(n, sr, cycles, 400.0, (0.2, 0.3), 1.0, rng)
        q = breath.flow_envelope(n, sr, cycles)
        on = np.abs(track) > 0
        expiratory += int((on & (q < 0)).sum())
        total += int(on.sum())
    assert total > 0 and expiratory / total > 0.6


def test_breath_cycles_keep_ie_ratio_and_cover_the_clip():
    rng = np.random.default_rng(0)
    cycles = breath.breath_cycles(5.0, 15.0, rng, ie_ratio=2.0)
    assert cycles[0].start <= 0.0 and cycles[-1].end >= 5.0
    assert all(c.te / c.ti == pytest.approx(2.0) for c in cycles)
    assert any(c.start >= 0 and c.expiration_start <= 5.0 for c in cycles)  # one whole inspiration inside
    long = breath.breath_cycles(30.0, 15.0, rng)
    q = breath.flow_envelope(16000 * 30, 16000, long)
    for c in long[1:-1]:
        seg = q[int(c.start * 16000): int(c.end * 16000)]
        assert seg.max() == pytest.approx(1.0, abs=1e-3) and seg.min() < 0
        assert abs(seg.sum()) / np.abs(seg).sum() < 0.01  # inspired volume = expired volume


@pytest.mark.parametrize("timing", sorted(heart.TIMINGS))
def test_murmur_only_in_systole(timing):
    sr, n = 4000, 4000 * 5
    m = heart.Murmur(grade=3, shape="plateau", timing=timing)
    hs = heart.heart_sound(n, sr, np.random.default_rng(2), 75.0, murmur=m)
    t = np.nonzero(hs.murmur)[0] / sr
    assert len(t) > 0
    systole = np.zeros(len(t), bool)
    for s1, s2 in zip(hs.s1_onsets, hs.s2_onsets):
        systole |= (t >= s1) & (t <= s2)
    assert systole.all()
    assert not heart.heart_sound(n, sr, np.random.default_rng(2), 75.0).murmur.any()


def test_murmur_shapes_and_grades():
    u = np.linspace(0, 1, 101)
    assert np.all(np.diff(heart.murmur_envelope(u, "crescendo")) > 0)
    assert np.all(np.diff(heart.murmur_envelope(u, "decrescendo")) < 0)
    assert np.argmax(heart.murmur_envelope(u, "diamond")) == 50
    assert np.ptp(heart.murmur_envelope(u, "plateau")) == 0
    levels = []
    for grade in (1, 2, 3, 4):
        hs = heart.heart_sound(8000 * 4, 8000, np.random.default_rng(0), 70.0,
                               murmur=heart.Murmur(grade, "plateau", "holosystolic"))
        levels.append(20 * np.log10(np.sqrt(np.mean(hs.murmur[hs.murmur != 0] ** 2))))
    assert np.all(np.diff(levels) > 3)  # each grade is several dB louder
    with pytest.raises(ValueError, match="shape"):
        heart.Murmur(2, "triangle", "holosystolic")


def test_wet_coughs_are_longer_and_carry_more_low_frequency_energy():
    sr = 16000

    def stats(wet):
        low, length = [], []
        for seed in range(20):
            c = cough.cough_event(sr, wet, np.random.default_rng(seed), p_voiced=0.0)
            spec = np.abs(np.fft.rfft(c)) ** 2
            f = np.fft.rfftfreq(len(c), 1 / sr)
            low.append(spec[f < 300].sum() / spec.sum())
            length.append(len(c) / sr)
        return np.mean(low), np.mean(length)

    (low_wet, len_wet), (low_dry, len_dry) = stats(True), stats(False)
    assert low_wet > 1.5 * low_dry and len_wet > len_dry


def test_colored_noise_has_unit_rms_and_falling_spectrum():
    rng = np.random.default_rng(0)
    for color in ("white", "pink", "brown"):
        x = channel.colored_noise(44101, rng, color)
        assert np.sqrt(np.mean(x**2)) == pytest.approx(1.0)
    spec = np.abs(np.fft.rfft(channel.colored_noise(32000, rng, "pink"))) ** 2
    assert spec[100:1000].mean() > 5 * spec[10000:16000].mean()


@pytest.mark.parametrize("knobs", [EASY, HARD], ids=["easy", "hard"])
@pytest.mark.parametrize("sr", [8000, 16000, 44100])
def test_scenes_are_finite_float32_within_unit_range(knobs, sr):
    rng = np.random.default_rng(sr)
    clips = [
        scenes.lung_recording(sr, 2.0, rng, knobs, "fine", True, "trachea", 8, "Littmann 3200"),
        scenes.lung_recording(sr, 2.0, rng, knobs, "coarse", False, "lateral left", 60, "AKG C417L"),
        scenes.heart_recording(sr, 2.0, rng, knobs, heart.Murmur(knobs.murmur_grades[0], "diamond", "mid-systolic"),
                               50, "Eko CORE"),
        scenes.cough_recording(sr, 1.3, rng, knobs, True, "smartphone"),
    ]
    for clip, seconds in zip(clips, (2.0, 2.0, 2.0, 1.3)):
        assert clip.dtype == np.float32 and len(clip) == round(seconds * sr)
        assert np.isfinite(clip).all() and np.max(np.abs(clip)) <= 1.0 and np.max(np.abs(clip)) > 0.01


def test_scenes_are_deterministic_in_the_generator():
    a = scenes.lung_recording(16000, 1.0, np.random.default_rng(5), HARD, "fine", True, "trachea", 40, "Eko CORE")
    b = scenes.lung_recording(16000, 1.0, np.random.default_rng(5), HARD, "fine", True, "trachea", 40, "Eko CORE")
    c = scenes.lung_recording(16000, 1.0, np.random.default_rng(6), HARD, "fine", True, "trachea", 40, "Eko CORE")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_unknown_difficulty_is_an_error_naming_the_choices():
    with pytest.raises(ValueError, match="easy"):
        knobs_for("medium")
