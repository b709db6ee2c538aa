"""HeAR front end against a float64 numpy reference written here from the formulas (not from the module).

Reference: per-clip min-max to [-1, 1]; frames of 400 every 160 with the end zero-padded (tf.signal.stft
pad_end=True); periodic Hann; |rFFT_400|^2; TF-style HTK mel matrix 0-8000 Hz, 128 bands; PCEN with
alpha 0.8, s 0.04, delta 2, r 2, floor 1e-8, smoother started at the first frame; bilinear resize 200 -> 192
rows with half-pixel centres. Tolerances: the module runs in float32, so the image (values 0..~5) is compared
with atol 1e-4; the mel matrix (built in float64 by both) with atol 1e-6.
"""

import numpy as np
import pytest
import torch

from adapters._hear_frontend import HearFrontend, pcen, split_windows, tf_mel_matrix


def _np_mel_matrix(n_mels=128, n_bins=201, sr=16000, f_lo=0.0, f_hi=8000.0):
    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)

    bin_mel = mel(np.linspace(0.0, sr / 2, n_bins))
    edges = np.linspace(mel(f_lo), mel(f_hi), n_mels + 2)
    out = np.zeros((n_bins, n_mels))
    for m in range(n_mels):
        lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
        for k in range(1, n_bins):  # bin 0 (DC) stays zero, as in TF
            out[k, m] = max(0.0, min((bin_mel[k] - lo) / (c - lo), (hi - bin_mel[k]) / (hi - c)))
    return out


def _np_pcen(e, alpha=0.8, s=0.04, delta=2.0, r=2.0, floor=1e-8):
    m = np.empty_like(e)
    m[:, 0] = e[:, 0]
    for t in range(1, e.shape[1]):
        m[:, t] = s * e[:, t] + (1 - s) * m[:, t - 1]
    return (e / (floor + m) ** alpha + delta) ** (1 / r) - delta ** (1 / r)


def _np_resize_rows(img, out_rows):
    """Bilinear along axis 1 with half-pixel centres (TF2 tf.image.resize, antialias=False)."""
    in_rows = img.shape[1]
    src = np.maximum((np.arange(out_rows) + 0.5) * in_rows / out_rows - 0.5, 0.0)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, in_rows - 1)
    w = (src - lo)[None, :, None]
    return img[:, lo] * (1 - w) + img[:, hi] * w


def _np_image(wav):
    """[N, S<=32000] -> [N, 192, 128] float64 reference image."""
    x = np.zeros((wav.shape[0], 32000))
    x[:, : wav.shape[1]] = wav
    x = x - x.min(axis=1, keepdims=True)
    x = x / (x.max(axis=1, keepdims=True) + 1e-8) * 2 - 1
    x = np.pad(x, ((0, 0), (0, 199 * 160 + 400 - 32000)))
    frames = np.stack([x[:, i * 160: i * 160 + 400] for i in range(200)], axis=1)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    power = np.abs(np.fft.rfft(frames * hann, n=400, axis=-1)) ** 2
    return _np_resize_rows(_np_pcen(power @ _np_mel_matrix()), 192)


def _clips(n, samples=32000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 16000
    rows = [0.3 * np.sin(2 * np.pi * (300 + 500 * i) * t) * np.exp(-t) + 0.05 * rng.standard_normal(samples)
            + 0.1 * i for i in range(n)]
    return np.stack(rows).astype(np.float32)


def test_mel_matrix_matches_htk_tf_formula():
    ours = tf_mel_matrix().numpy()
    assert ours.shape == (201, 128)
    np.testing.assert_allclose(ours, _np_mel_matrix(), atol=1e-6)
    assert not ours[0].any(), "the DC bin must carry no weight"


def test_pcen_matches_formula():
    rng = np.random.default_rng(1)
    energy = rng.gamma(0.5, 2.0, size=(2, 50, 8))
    ours = pcen(torch.from_numpy(energy)).numpy()
    np.testing.assert_allclose(ours, _np_pcen(energy), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("samples", [32000, 20800])
def test_image_matches_numpy_reference(samples):
    wav = _clips(2, samples)
    ours = HearFrontend()(torch.from_numpy(wav)).numpy()
    assert ours.shape == (2, 1, 192, 128) and ours.dtype == np.float32
    np.testing.assert_allclose(ours[:, 0], _np_image(wav), atol=1e-4, rtol=0)


def test_time_is_height_and_mel_is_width():
    t = np.arange(32000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t) * (t < 1.0)).astype(np.float32)  # 1 kHz, first second only
    img = HearFrontend()(torch.from_numpy(tone)[None])[0, 0]
    band = int(img[:80].mean(0).argmax())
    centres = 700 * (10 ** (np.linspace(0, 2595 * np.log10(1 + 8000 / 700), 130)[1:-1] / 2595) - 1)
    assert abs(centres[band] - 1000) < 80, f"1 kHz tone peaks in band {band} ({centres[band]:.0f} Hz)"
    assert img[:80, band].mean() > 2 * img[120:, band].mean(), "tone energy must sit in the first half of the rows"


def test_each_clip_is_normalised_on_its_own():
    wav = torch.from_numpy(_clips(3))
    wav[2] *= 5.0  # a loud neighbour would change the others under upstream's batch-wide min-max
    fe = HearFrontend()
    batch = fe(wav)
    singles = torch.cat([fe(wav[i: i + 1]) for i in range(3)])
    torch.testing.assert_close(batch, singles, rtol=0, atol=1e-6)


def test_short_window_is_zero_padded_before_scaling():
    wav = torch.from_numpy(_clips(1, 800))  # 0.05 s
    padded = torch.nn.functional.pad(wav, (0, 32000 - 800))
    fe = HearFrontend()
    torch.testing.assert_close(fe(wav), fe(padded), rtol=0, atol=0)


def test_silence_gives_finite_image():
    assert torch.isfinite(HearFrontend()(torch.zeros(1, 32000))).all()


def test_frontend_refuses_windows_longer_than_2s():
    with pytest.raises(ValueError, match="split_windows"):
        HearFrontend()(torch.zeros(1, 32001))


@pytest.mark.parametrize("samples, windows", [(800, 1), (32000, 1), (60799, 1), (60800, 2), (960000, 33)])
def test_split_windows_follows_upstream_segmentation(samples, windows):
    wav = torch.arange(samples, dtype=torch.float32).repeat(2, 1)
    out = split_windows(wav)
    assert out.shape == (2, windows, min(samples, 32000))
    for k in range(windows):  # window k starts at 1.8 s * k
        assert out[1, k, 0].item() == 28800 * k
