"""The OPERA log-mel front end and silence trimming reproduce librosa (the library upstream OPERA calls)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adapters._opera_frontend import (
    frontend_params,
    minmax_per_clip,
    opera_logmel,
    repeat_pad_front,
    slaney_mel_filterbank,
    trim_indices,
    trim_silence,
)

librosa = pytest.importorskip("librosa")

SR = 16000


def librosa_opera_features(y: np.ndarray) -> np.ndarray:
    """Upstream OPERA `pre_process_audio_mel_t(y, f_max=8000)` written with librosa: [T, 64] in [0, 1]."""
    S = librosa.feature.melspectrogram(y=y, sr=SR, n_mels=64, fmin=50, fmax=8000, n_fft=1024, hop_length=512,
                                       pad_mode="constant")
    S = librosa.power_to_db(S, ref=np.max)
    if S.max() != S.min():
        S = (S - S.min()) / (S.max() - S.min())
    return S.T


def _signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = lambda n: np.arange(n) / SR  # noqa: E731
    return {
        "noise_1s": 0.3 * rng.standard_normal(SR),
        "noise_8.18s": 0.1 * rng.standard_normal(130880),
        "tone_440_3.1s": 0.5 * np.sin(2 * np.pi * 440 * t(49600)),
        "tone_3k_0.7s": 0.05 * np.sin(2 * np.pi * 3000 * t(11213)),
        "chirp_2.5s": 0.8 * np.sin(2 * np.pi * (100 + 1500 * t(40000)) * t(40000)),
        "quiet_noise_0.2s": 1e-4 * rng.standard_normal(3333),
        "burst_in_silence": np.concatenate([np.zeros(8000), 0.5 * rng.standard_normal(4000), np.zeros(9000)]),
        "short_300": 0.2 * rng.standard_normal(300),
    }


@pytest.mark.filterwarnings("ignore:n_fft=1024 is too large")
@pytest.mark.parametrize("name", list(_signals()))
def test_logmel_matches_librosa(name):
    y = _signals()[name].astype(np.float32)
    ref = librosa_opera_features(y)
    ours = opera_logmel(torch.from_numpy(y)[None])[0].numpy()
    assert ours.shape == ref.shape == (1 + len(y) // 512, 64)
    assert ours.dtype == np.float32
    assert np.abs(ours - ref).max() <= 1e-4, name
    assert ours.min() == 0.0 and ours.max() == 1.0


def test_filterbank_matches_librosa_slaney():
    ref = librosa.filters.mel(sr=SR, n_fft=1024, n_mels=64, fmin=50, fmax=8000, htk=False, norm="slaney")
    np.testing.assert_allclose(slaney_mel_filterbank(SR, 1024, 64, 50.0, 8000.0), ref, rtol=1e-6, atol=1e-9)


def test_batch_equals_items_and_each_clip_is_scaled_alone():
    rng = np.random.default_rng(1)
    loud = 0.9 * rng.standard_normal(20000).astype(np.float32)
    quiet = 0.001 * rng.standard_normal(20000).astype(np.float32)
    batch = opera_logmel(torch.from_numpy(np.stack([loud, quiet])))
    for i, y in enumerate((loud, quiet)):
        single = opera_logmel(torch.from_numpy(y)[None])[0]
        torch.testing.assert_close(batch[i], single, atol=1e-6, rtol=0)
        assert batch[i].max() == 1.0 and batch[i].min() == 0.0


def test_silent_clip_gives_zeros_not_nan():
    # a silent clip has a constant spectrogram; upstream returns its dB values (all 0 dB), i.e. zeros
    out = opera_logmel(torch.zeros(2, 5000))
    assert torch.equal(out, torch.zeros_like(out))
    assert torch.equal(minmax_per_clip(torch.full((3, 4, 5), 7.0)), torch.zeros(3, 4, 5))


def test_bad_input_shapes_are_rejected():
    with pytest.raises(ValueError, match=r"\[B, S\]"):
        opera_logmel(torch.zeros(16000))
    with pytest.raises(ValueError, match="0 samples"):
        opera_logmel(torch.zeros(2, 0))


def _trim_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2)
    sig = lambda n, a: a * rng.standard_normal(n)  # noqa: E731
    return {
        "silence_around": np.concatenate([np.zeros(12345), sig(20000, 0.3), np.zeros(7777)]),
        "quiet_floor": np.concatenate([sig(9000, 1e-5), sig(30000, 0.5), sig(5000, 1e-5)]),
        "fade": np.linspace(0, 1, 40000) ** 6 * np.sin(np.arange(40000) * 0.1),
        "all_loud": sig(17000, 0.5),
        "all_zero": np.zeros(5000),
        "tiny": sig(500, 0.2),
        "two_events": np.concatenate([np.zeros(3000), sig(800, 1.0), np.zeros(30000), sig(900, 0.01),
                                      np.zeros(2000)]),
    }


@pytest.mark.parametrize("name", list(_trim_cases()))
def test_trim_matches_librosa(name):
    y = _trim_cases()[name].astype(np.float32)
    ref_y, ref_idx = librosa.effects.trim(y, top_db=60, frame_length=1600, hop_length=800)
    assert trim_indices(y) == tuple(int(i) for i in ref_idx)
    np.testing.assert_array_equal(trim_silence(y), ref_y)


def test_repeat_pad_front_matches_upstream_rule():
    x = torch.arange(1, 6, dtype=torch.float32)[None]      # clip 1..5 padded to 12
    out = repeat_pad_front(x, 12)
    # front filled with the clip repeated backwards from its end, clip itself last
    assert out.tolist() == [[4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5]]
    assert torch.equal(repeat_pad_front(x, 5), x)
    with pytest.raises(ValueError):
        repeat_pad_front(x, 4)


def test_frontend_params_name_every_setting():
    p = frontend_params()
    assert p["opera_mel"]["n_mels"] == 64 and p["opera_mel"]["f_max"] == 8000.0
    assert p["opera_mel"]["pad_mode"] == "constant" and p["opera_trim"]["frame_length"] == 1600
