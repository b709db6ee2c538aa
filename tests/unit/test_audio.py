"""The audio reader: good files in several formats, and every kind of bad file gives one clear error type."""

import numpy as np
import pytest
import soundfile as sf

from adapters import AudioReadError, fit_length, load_audio, read_audio


def _tone(sr, seconds=0.5, channels=1, f=440.0):
    t = np.arange(int(sr * seconds)) / sr
    x = 0.5 * np.sin(2 * np.pi * f * t)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


@pytest.mark.parametrize("fmt,subtype,suffix", [("WAV", "PCM_16", ".wav"), ("WAV", "FLOAT", ".wav"),
                                                ("FLAC", "PCM_16", ".flac"), ("OGG", "VORBIS", ".ogg")])
def test_reads_common_formats_as_float32_mono(tmp_path, fmt, subtype, suffix):
    path = tmp_path / f"x{suffix}"
    sf.write(path, _tone(16000), 16000, format=fmt, subtype=subtype)
    wav, sr = read_audio(path)
    assert sr == 16000 and wav.dtype == np.float32 and wav.ndim == 1
    assert np.abs(wav).max() <= 1.0
    if fmt != "OGG":  # lossy codec: compare only the lossless formats sample by sample
        assert np.abs(wav - _tone(16000)).max() < 1e-3


def test_stereo_is_averaged_to_mono(tmp_path):
    left = _tone(16000, f=300)
    right = np.zeros_like(left)
    sf.write(tmp_path / "s.wav", np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    wav, _ = read_audio(tmp_path / "s.wav")
    np.testing.assert_allclose(wav, (left / 2).astype(np.float32), atol=1e-6)


def test_resampling_keeps_a_tone_at_its_frequency(tmp_path):
    sf.write(tmp_path / "a.wav", _tone(44100, seconds=1.0, f=1000.0), 44100)
    wav = load_audio(tmp_path / "a.wav", 16000)
    assert abs(len(wav) - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(wav))
    peak_hz = np.argmax(spectrum) * 16000 / len(wav)
    assert abs(peak_hz - 1000.0) < 2.0


def test_float_files_out_of_range_are_clipped(tmp_path):
    sf.write(tmp_path / "loud.wav", np.full(1000, 3.0), 16000, subtype="FLOAT")
    wav, _ = read_audio(tmp_path / "loud.wav")
    assert wav.max() == 1.0


@pytest.mark.parametrize("case,reason", [
    ("missing", "does not exist"), ("zero_bytes", "empty"), ("text", "not readable as audio"),
    ("no_frames", "no samples"), ("nan", "NaN"), ("truncated", "not readable as audio")])
def test_bad_files_raise_audio_read_error_naming_file_and_reason(tmp_path, case, reason):
    path = tmp_path / f"{case}.wav"
    if case == "zero_bytes":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("this is not audio, it is a csv,,,\n" * 10)
    elif case == "no_frames":
        sf.write(path, np.zeros(0), 16000)
    elif case == "nan":
        x = np.full(800, np.nan)
        sf.write(path, x, 16000, subtype="FLOAT")
    elif case == "truncated":
        sf.write(path, _tone(16000), 16000)
        path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(AudioReadError) as info:
        read_audio(path)
    assert str(path) in str(info.value) and reason in str(info.value)


def test_length_policies():
    x = np.arange(1, 6, dtype=np.float32)
    np.testing.assert_array_equal(fit_length(x, "pad_zeros", 8), [1, 2, 3, 4, 5, 0, 0, 0])
    np.testing.assert_array_equal(fit_length(x, "pad_repeat", 8), [1, 2, 3, 4, 5, 1, 2, 3])
    np.testing.assert_array_equal(fit_length(x, "pad_zeros", 3), [1, 2, 3])
    np.testing.assert_array_equal(fit_length(x, "crop", 3), [1, 2, 3])
    np.testing.assert_array_equal(fit_length(x, "any", None, min_samples=7), [1, 2, 3, 4, 5, 1, 2])
    assert len(fit_length(x, "chunk", 2)) == 5
    with pytest.raises(ValueError):
        fit_length(x, "stretch", 4)
