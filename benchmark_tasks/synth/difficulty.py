"""The difficulty knobs of REFERENCE.md §5 as two presets, "easy" and "hard".

Each range is (low, high), drawn uniformly per recording. Easy sits at the easy end of every knob; hard spans
from mid-way to the hard end, so hard tasks are genuinely harder yet keep signal above chance. Hard negatives
(friction fake crackles, heart-sound and speech bleed in lung recordings, breath bleed in heart recordings,
low-frequency rumble under coughs) are added to recordings of BOTH classes, so their presence carries no label.

Deviation from REFERENCE.md: its event-to-background scale "+12 -> -6 dB" is used shifted by +6 dB
(easy 12-18 dB, hard 0-9 dB), with the level defined as each event's RMS over its own duration against the
inspiratory breath RMS. At -6 dB on that definition a 5-10 ms crackle peaks below the breath noise and
crackle detection was at chance for every feature tried; hard must stay above chance.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Knobs:
    """Synthesis settings of one difficulty level. Levels in dB, durations in s, probabilities in [0, 1].

    event_level_db: RMS of each crackle / wheeze over its own duration, relative to the RMS of the breath
        sound during inspiration.
    crackles_per_breath: inclusive range of crackles per inspiration.
    wheeze_s: wheeze duration range; wheeze_p_cycle: chance that a breath wheezes (at least one does).
    fine_2cd_ms, coarse_2cd_ms: two-cycle durations of fine and coarse crackles.
    murmur_grades: grades (1-4) drawn for murmurs; s2_split_s: A2-P2 split range.
    snr_db: signal to background-noise ratio; channel_strength: 0-1 device colouration (see channel.py).
    p_friction: chance of friction fake crackles (1-3 bursts) in a lung recording.
    p_heart_bleed / heart_bleed_db: heart sounds under lung recordings, RMS relative to the breath sound.
    p_speech: chance of speech bleed (voiced syllables) under a lung recording.
    p_breath_bleed / breath_bleed_db: breath sound under heart recordings, RMS relative to the heart sound.
    cough_contrast: 0-1 strength of the wet-cough cues; p_rumble: chance of low-frequency rumble under a cough.
    p_hum: chance of mains hum; rms_dbfs: recording level range (dB full scale).
    """

    name: str
    event_level_db: tuple[float, float]
    crackles_per_breath: tuple[int, int]
    wheeze_s: tuple[float, float]
    wheeze_p_cycle: float
    fine_2cd_ms: float
    coarse_2cd_ms: float
    murmur_grades: tuple[int, ...]
    s2_split_s: tuple[float, float]
    snr_db: tuple[float, float]
    channel_strength: float
    p_friction: float
    p_heart_bleed: float
    heart_bleed_db: tuple[float, float]
    p_speech: float
    p_breath_bleed: float
    breath_bleed_db: tuple[float, float]
    cough_contrast: tuple[float, float]
    p_rumble: float
    p_hum: float
    rms_dbfs: tuple[float, float]


EASY = Knobs(
    name="easy", event_level_db=(12.0, 18.0), crackles_per_breath=(6, 10), wheeze_s=(0.4, 0.6),
    wheeze_p_cycle=1.0, fine_2cd_ms=5.0, coarse_2cd_ms=15.0, murmur_grades=(3, 4), s2_split_s=(0.04, 0.06),
    snr_db=(25.0, 35.0), channel_strength=0.0, p_friction=0.0, p_heart_bleed=0.1, heart_bleed_db=(-25.0, -15.0),
    p_speech=0.0, p_breath_bleed=0.0, breath_bleed_db=(-25.0, -20.0), cough_contrast=(0.9, 1.0), p_rumble=0.0,
    p_hum=0.0, rms_dbfs=(-26.0, -20.0),
)

HARD = Knobs(
    name="hard", event_level_db=(0.0, 9.0), crackles_per_breath=(1, 4), wheeze_s=(0.08, 0.25),
    wheeze_p_cycle=0.5, fine_2cd_ms=8.0, coarse_2cd_ms=11.0, murmur_grades=(1, 2), s2_split_s=(0.015, 0.03),
    snr_db=(0.0, 15.0), channel_strength=0.7, p_friction=0.5, p_heart_bleed=0.6, heart_bleed_db=(-6.0, 3.0),
    p_speech=0.3, p_breath_bleed=0.6, breath_bleed_db=(-16.0, -6.0), cough_contrast=(0.3, 0.6), p_rumble=0.5,
    p_hum=0.3, rms_dbfs=(-40.0, -12.0),
)

DIFFICULTIES = {"easy": EASY, "hard": HARD}


def knobs_for(difficulty: str) -> Knobs:
    """The preset for "easy" or "hard"; any other name is an error naming the valid ones."""
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty {difficulty!r} is not one of {sorted(DIFFICULTIES)}")
    return DIFFICULTIES[difficulty]
