"""Synthetic body sounds with known ground truth (REFERENCE.md §5), numpy/scipy only.

breath (flow envelope x band-passed noise), adventitious (crackles, wheezes, friction fake crackles),
heart (S1, split S2, systolic murmurs), cough (wet/dry coughs, voiced sounds), channel (device, noise, level),
difficulty (easy/hard knobs), scenes (whole recordings), clinical + cohort (the demo's subjects and text).
Every random function takes a numpy Generator; times are in s (or ms where named), frequencies in Hz.
"""

from benchmark_tasks.synth.adventitious import crackle, crackle_track, friction_clicks, wheeze, wheeze_track
from benchmark_tasks.synth.breath import BreathCycle, breath_cycles, breath_sound, flow_envelope
from benchmark_tasks.synth.cough import cough_event, cough_train, voiced
from benchmark_tasks.synth.difficulty import EASY, HARD, Knobs, knobs_for
from benchmark_tasks.synth.heart import HeartSound, Murmur, heart_sound, s1_sound, s2_sound
from benchmark_tasks.synth.scenes import cough_recording, heart_recording, lung_recording

__all__ = ["EASY", "HARD", "BreathCycle", "HeartSound", "Knobs", "Murmur", "breath_cycles", "breath_sound",
           "cough_event", "cough_recording", "cough_train", "crackle", "crackle_track", "flow_envelope",
           "friction_clicks", "heart_recording", "heart_sound", "knobs_for", "lung_recording", "s1_sound",
           "s2_sound", "voiced", "wheeze", "wheeze_track"]
