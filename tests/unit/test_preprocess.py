"""OPERA's task preprocessing: trim, then pad as upstream's `_duplicate_padding` / `_zero_padding` do.

The rules are checked against upstream's outputs in test_opera_golden_frontend.py; here, the small cases that
show each rule's shape (clip placement, exact-multiple targets, the half-target threshold).
"""

import numpy as np
import pytest

from adapters._spec import Windowing
from benchmark_tasks import get_task
from benchmark_tasks.preprocess import Preprocess, host_preprocess, pad_front_repeat, pad_zeros_opera, preprocess_for


def test_repeat_padding_puts_the_clip_last_and_fills_the_front_from_its_end():
    x = np.array([1, 2, 3], np.float32)
    np.testing.assert_array_equal(Preprocess(pad_seconds=8).apply(x, 1), [2, 3, 1, 2, 3, 1, 2, 3])
    np.testing.assert_array_equal(pad_front_repeat(np.arange(1, 6, dtype=np.float32), 12),
                                  [4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5])
    long = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(Preprocess(pad_seconds=8).apply(long, 1), long)   # longer: used whole


def test_zero_padding_follows_upstreams_strict_loop_and_half_threshold():
    x = np.array([1, 2, 3], np.float32)
    np.testing.assert_array_equal(Preprocess(pad_seconds=8, pad_mode="zeros").apply(x, 1),
                                  [1, 2, 3, 1, 2, 3, 0, 0])
    # target an exact multiple of the clip: upstream copies while a copy ends *before* the target -> 3 of 4
    np.testing.assert_array_equal(pad_zeros_opera(np.ones(2, np.float32), 8), [1, 1, 1, 1, 1, 1, 0, 0])
    # clip of at least half the target: one copy, zeros after
    np.testing.assert_array_equal(pad_zeros_opera(np.array([5, 6], np.float32), 4), [5, 6, 0, 0])
    np.testing.assert_array_equal(pad_zeros_opera(np.array([5, 6, 7], np.float32), 5), [5, 6, 7, 0, 0])


def test_target_length_is_truncated_like_upstream():
    x = np.ones(100, np.float32)
    assert len(Preprocess(pad_seconds=8.18).apply(x, 16000)) == int(8.18 * 16000) == 130880
    assert len(Preprocess(pad_seconds=0.00999).apply(np.ones(100, np.float32), 16000)) == 159


def test_trim_removes_leading_and_trailing_silence():
    sr = 16000
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32)
    padded = np.concatenate([np.zeros(sr, np.float32), tone, np.zeros(sr, np.float32)])
    out = Preprocess(trim_top_db=60).apply(padded, sr)
    assert sr <= len(out) < 1.2 * sr


def test_unknown_pad_mode_is_refused():
    with pytest.raises(ValueError, match="pad_mode"):
        Preprocess(pad_mode="reflect")


def test_task_options_choose_the_preprocessing():
    ct = preprocess_for(get_task("T13"), "opera-ct")
    assert ct.pad_mode == "zeros" and ct.pad_seconds == 20 and ct.trim_top_db == 60
    assert preprocess_for(get_task("T13"), "opera-ce").pad_mode == "repeat"
    assert preprocess_for(get_task("demo-crackles-easy"), "opera-gt").trim_top_db is None


@pytest.mark.parametrize("task,windowing", [
    ("T13", Windowing("waveform", 5.0)), ("T18", Windowing("waveform", 5.0)),
    ("T19", Windowing("waveform", 8.0)), ("T12", Windowing("spectrogram")),
    ("T8", Windowing("spectrogram")), ("T9", Windowing("spectrogram")),
    ("T5", None), ("T7", None), ("T10", None), ("T11", None), ("T1", None)])
def test_opera_gt_windowing_per_task_as_upstream_used_it(task, windowing):
    prep = preprocess_for(get_task(task), "opera-gt")
    assert prep.windowing == windowing
    assert preprocess_for(get_task(task), "opera-ct").windowing is None


def test_host_preprocess_defaults():
    assert host_preprocess("opera-ct") == Preprocess(60.0, 8.0, "repeat")
    assert host_preprocess("opera-gt").pad_seconds == 8.18
    assert host_preprocess("beats") is None
    assert host_preprocess("opera-gt", "T13").windowing == Windowing("waveform", 5.0)
