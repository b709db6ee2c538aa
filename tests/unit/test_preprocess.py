"""OPERA's task preprocessing: trim, then pad by repetition or with whole copies and zeros."""

import numpy as np

from benchmark_tasks import get_task
from benchmark_tasks.preprocess import Preprocess, preprocess_for


def test_repeat_and_zero_padding():
    x = np.array([1, 2, 3], np.float32)
    np.testing.assert_array_equal(Preprocess(pad_seconds=8).apply(x, 1), [1, 2, 3, 1, 2, 3, 1, 2])
    np.testing.assert_array_equal(Preprocess(pad_seconds=8, pad_mode="zeros").apply(x, 1),
                                  [1, 2, 3, 1, 2, 3, 0, 0])
    long = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(Preprocess(pad_seconds=8).apply(long, 1), long)


def test_trim_removes_leading_and_trailing_silence():
    sr = 16000
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32)
    padded = np.concatenate([np.zeros(sr, np.float32), tone, np.zeros(sr, np.float32)])
    out = Preprocess(trim_top_db=60).apply(padded, sr)
    assert sr <= len(out) < 1.2 * sr


def test_task_options_choose_the_preprocessing():
    ct = preprocess_for(get_task("T13"), "opera-ct")
    assert ct.pad_mode == "zeros" and ct.pad_seconds == 20 and ct.trim_top_db == 60
    assert preprocess_for(get_task("T13"), "opera-ce").pad_mode == "repeat"
    assert preprocess_for(get_task("demo-crackles-easy"), "opera-gt").trim_top_db is None
