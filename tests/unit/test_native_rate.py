"""Weight-free baselines at the recording's own sample rate (`native_rate`), checked against the libraries that
define the features: openSMILE's own Python API on the file's samples, and librosa's mel spectrogram."""

import json

import numpy as np
import opensmile
import pytest
import soundfile as sf
import torch

import evaluate
from adapters import build_encoder
from benchmark_tasks import Item
from benchmark_tasks.embeddings import cache_namespace, extract_embeddings
from benchmark_tasks.preprocess import Preprocess


def _heart_like(sr: int, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """Two 'beats' per second: 40 ms bursts of 60-300 Hz tones plus a little noise, float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    env = np.exp(-((t % 0.5) / 0.04) ** 2)
    wav = env * (0.5 * np.sin(2 * np.pi * 60 * t) + 0.3 * np.sin(2 * np.pi * (150 + 20 * seed) * t))
    return (wav + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def _write(path, sr, seed=0):
    sf.write(path, _heart_like(sr, seed=seed), sr, subtype="FLOAT")
    return Item(str(path), 0, "train", path.stem)


def test_opensmile_native_rate_equals_opensmile_on_the_files_own_samples(tmp_path):
    items = [_write(tmp_path / "a4k.wav", 4000, 0), _write(tmp_path / "b2k.wav", 2000, 1),
             _write(tmp_path / "c16k.wav", 16000, 2)]
    enc = build_encoder("opensmile-egemaps").with_native_rate(True)
    got = extract_embeddings(enc, items, tmp_path / "cache", progress=False).embeddings
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    for row, item in zip(got, items):
        wav, sr = sf.read(item.path, dtype="float32")
        np.testing.assert_allclose(row, smile.process_signal(wav, sr).to_numpy()[0], rtol=1e-5, atol=1e-5)
    # at 16 kHz (the default off the csv tasks) the 4 kHz file is upsampled first: a different feature vector
    upsampled = extract_embeddings(build_encoder("opensmile-egemaps"), items[:1], tmp_path / "cache",
                                   progress=False).embeddings[0]
    assert np.abs(upsampled - got[0]).max() > 1e-2


@pytest.mark.parametrize("sr", [4000, 8000, 44100])
def test_logmel_native_rate_matches_librosa_at_the_files_rate(tmp_path, sr):
    librosa = pytest.importorskip("librosa")
    wav = _heart_like(sr, seed=3)
    enc = build_encoder("logmel-stats").with_native_rate(True).at_rate(sr)
    n_fft, hop = round(400 * sr / 16000), round(160 * sr / 16000)     # 25 ms window, 10 ms hop at every rate
    mel = librosa.feature.melspectrogram(y=wav, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=64, fmin=50.0,
                                         fmax=8000.0, htk=False, norm="slaney", power=2.0, center=True,
                                         pad_mode="reflect")
    ref = np.log(mel + 1e-6)
    ours = enc.frames(torch.from_numpy(wav)[None])[0].numpy().T
    np.testing.assert_allclose(ours, ref, atol=2e-3, rtol=1e-3)
    empty = int((mel.max(axis=1) == 0).sum())                          # bands above Nyquist
    assert empty == int((enc.mel.mel_scale.fb.sum(0) == 0).sum()) and (empty > 0) == (sr < 16000)


def test_native_rate_is_in_the_identity_and_the_cache_key_but_off_leaves_both_unchanged():
    base = build_encoder("logmel-stats")
    native = base.with_native_rate(True)
    assert native.identity()["config"]["native_rate"] is True and "native_rate" not in base.identity()["config"]
    assert cache_namespace(native, Preprocess()) != cache_namespace(base, Preprocess())
    assert base.with_native_rate(False) is base
    assert native.with_native_rate(False).identity() == base.identity()
    learned = build_encoder("opera-gt", config="tiny")
    assert learned.with_native_rate(True) is learned and learned.decode_rate(4000) == 16000
    with pytest.raises(ValueError, match="16000 Hz only"):
        learned.at_rate(4000)


def _manifest(tmp_path, rates=(4000,)):
    rows = ["path,label,group,split"]
    for i in range(40):
        sr = rates[i % len(rates)]
        label = "murmur" if i % 2 else "normal"
        wav = _heart_like(sr, seed=i) + (0.2 * np.sin(2 * np.pi * 420 * np.arange(2 * sr) / sr) if i % 2 else 0)
        sf.write(tmp_path / f"h{i}.wav", wav.astype(np.float32), sr)
        rows.append(f"h{i}.wav,{label},p{i},{'test' if i >= 28 else 'train'}")
    (tmp_path / "heart.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "heart.csv"


def _run(tmp_path, manifest, *extra, tasks=None):
    out = tmp_path / "out"
    argv = ["--encoder", "logmel-stats,opera-gt", "--tiny", "--tasks", tasks or f"csv:{manifest}", "--out", str(out),
            "--cache-dir", str(tmp_path / "cache"), "--no-progress", *extra]
    assert evaluate.main(argv) == 0
    recs = [json.loads(p.read_text()) for p in (out / "records").glob("*.json")]
    return {r["encoder_label"].replace("-tiny", ""): r for r in recs}   # --tiny labels every encoder "-tiny"


def test_csv_tasks_default_to_native_rate_for_baselines_only_and_mixed_rates_work(tmp_path):
    recs = _run(tmp_path, _manifest(tmp_path, rates=(4000, 16000)))
    assert set(recs) == {"logmel-stats@native-rate", "opera-gt"}
    assert recs["logmel-stats@native-rate"]["encoder_config"]["native_rate"] is True
    assert "native_rate" not in recs["opera-gt"]["encoder_config"]
    assert recs["logmel-stats@native-rate"]["mean"] > 0.9          # the 420 Hz tone separates the classes


def test_native_rate_off_and_on_give_separate_records(tmp_path):
    manifest = _manifest(tmp_path)
    off = _run(tmp_path, manifest, "--native-rate", "off")
    assert "logmel-stats" in off and "native_rate" not in off["logmel-stats"]["encoder_config"]
    both = _run(tmp_path, manifest, "--native-rate", "on")
    assert {"logmel-stats", "logmel-stats@native-rate"} <= set(both)   # one record each, none overwritten


def test_demo_tasks_keep_16k_unless_asked(tmp_path):
    recs = _run(tmp_path, None, tasks="demo-murmur-easy")
    assert "logmel-stats" in recs and "native_rate" not in recs["logmel-stats"]["encoder_config"]
