"""plugin.hear: every registered encoder as a HEAR 2021 API module.

The output checks are hearvalidator's own rules (github hearbenchmark/hear-validator 8c2cb84,
hearvalidator/validate.py: sample rates, int sizes, float32, ndim, batch and size match, timestamp spacing within
1 ms of its mean, last timestamp not after the audio), on its own input (uniform noise in [-1, 1] of 1.07 s, the
shortest length it tries); hearvalidator itself needs tensorflow, so `make hear-validate` runs it in a side venv.
Frame times are compared with what the front ends we did not write say: openSMILE's frame index, torchaudio's
Kaldi fbank and MelSpectrogram.
"""

from __future__ import annotations

import importlib
import itertools
import warnings

import numpy as np
import pytest
import torch

from adapters import build_encoder, list_encoders
from adapters._registry import get_encoder_class

ACCEPTABLE_SAMPLE_RATE = [16000, 22050, 32000, 44100, 48000]   # hearvalidator ValidateModel.ACCEPTABLE_SAMPLE_RATE
ENCODERS = list_encoders()
WINDOW_HOP_MS = 1000.0  # 2 windows in 1.07 s keep the windowed encoders' tests short (make hear-validate: 50 ms)


def hear_module(name: str):
    return importlib.import_module("plugin.hear." + name.replace("-", "_"))


def load(name: str, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return hear_module(name).load_model("", **{"hop_ms": WINDOW_HOP_MS, **kw})


def noise(n_sounds: int, seconds: float, sr: int, seed: int = 0) -> torch.Tensor:
    """hearvalidator's test audio: torch.rand * 2 - 1, (n_sounds, int(seconds * sr))."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n_sounds, int(seconds * sr)), generator=g) * 2 - 1


def assert_same(got: torch.Tensor, want: torch.Tensor, rel: float = 1e-5) -> None:
    """Equal within `rel` of the reference's largest magnitude (tiny random models give embeddings near 1e-6)."""
    torch.testing.assert_close(got, want, rtol=rel, atol=rel * float(want.abs().max()))


def test_a_module_per_registered_encoder():
    from plugin.hear import encoder_modules

    assert encoder_modules() == {n.replace("-", "_"): n for n in ENCODERS}
    for name in ENCODERS:
        mod = hear_module(name)
        assert mod.ENCODER == name
        assert callable(mod.load_model) and callable(mod.get_scene_embeddings)
        assert callable(mod.get_timestamp_embeddings)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("plugin.hear.no_such_encoder")


@pytest.mark.parametrize("name", ENCODERS)
def test_hearvalidator_rules(name):
    model = load(name)
    mod = hear_module(name)
    assert model.sample_rate in ACCEPTABLE_SAMPLE_RATE and model.sample_rate == get_encoder_class(name).spec.sample_rate
    assert isinstance(model.scene_embedding_size, int) and isinstance(model.timestamp_embedding_size, int)
    seconds = 1.07
    audio = noise(2, seconds, model.sample_rate)

    emb, ts = mod.get_timestamp_embeddings(audio, model)
    assert emb.dtype == torch.float32
    assert emb.ndim == 3 and ts.ndim == 2 and emb.shape[0] == 2 and emb.shape[:2] == ts.shape
    assert emb.shape[2] == model.timestamp_embedding_size
    t = ts.numpy()
    assert (t == t[:1]).all()                                      # the same times for every sound
    if t.shape[1] > 1:
        diff = np.diff(t)
        assert (diff > 0).all()                                    # monotonic
        assert np.max(np.abs(diff - diff.mean())) <= 1.0           # regular within 1 ms
    # within the audio, in ms (hearvalidator only warns when the first timestamp is later than one spacing: the
    # first openSMILE ComParE frame, 60 ms long, is centred at 30 ms)
    assert 0 <= t.min() and t.max() <= 1000 * seconds
    assert np.isfinite(emb.numpy()).all()

    scene = mod.get_scene_embeddings(audio, model)
    assert scene.dtype == torch.float32 and scene.shape == (2, model.scene_embedding_size)

    # batch independence: a sound alone gives what it gives within the batch
    assert_same(mod.get_scene_embeddings(audio[1:], model), scene[1:])
    alone, ts_alone = mod.get_timestamp_embeddings(audio[1:], model)
    assert_same(alone, emb[1:])
    torch.testing.assert_close(ts_alone, ts[1:])


def test_opensmile_timestamps_are_opensmile_frame_centres():
    import opensmile

    for (name, feature_set), seconds in itertools.product(
            (("opensmile-egemaps", "eGeMAPSv02"), ("opensmile-compare", "ComParE_2016")), (1.07, 1.98)):
        model = load(name)
        audio = noise(1, seconds, 16000, seed=3)
        emb, ts = hear_module(name).get_timestamp_embeddings(audio, model)
        smile = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, feature_set),
                                feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
        index = smile.process_signal(audio[0].numpy(), 16000).index
        start = index.get_level_values("start").total_seconds().to_numpy() * 1000
        end = index.get_level_values("end").total_seconds().to_numpy() * 1000
        if name == "opensmile-compare":   # its last row repeats the start of the one before: not a frame of its own
            assert start[-1] == start[-2]
            start = start[:-1]
        assert emb.shape[1] == len(start)
        # openSMILE's frames: start every 10 ms, its first frame's length (its last ends are cut at the audio's end)
        np.testing.assert_allclose(ts[0].numpy(), start + (end[0] - start[0]) / 2, atol=1e-3)


def test_logmel_timestamps_follow_an_impulse():
    """An impulse in silence lights up the log-mel frame whose timestamp is nearest to it (torchaudio's STFT)."""
    model = load("logmel-stats")
    audio = torch.zeros(1, 16000)
    for at_ms in (0.0, 312.5, 640.0, 1000.0 - 1 / 16):
        audio.zero_()
        audio[0, int(round(at_ms * 16))] = 1.0
        emb, ts = hear_module("logmel-stats").get_timestamp_embeddings(audio, model)
        loudest = int(emb[0].sum(dim=1).argmax())
        assert abs(float(ts[0, loudest]) - at_ms) <= 5.0


def test_beats_timestamps_are_fbank_patch_centres():
    """BEATs time patches group input_patch_size Kaldi fbank frames (torchaudio's frame count, snip_edges)."""
    import torchaudio

    model = load("beats")
    patch = model.encoder.config["input_patch_size"]
    for seconds in (1.07, 2.74):
        audio = noise(1, seconds, 16000, seed=5)
        emb, ts = hear_module("beats").get_timestamp_embeddings(audio, model)
        fbank = torchaudio.compliance.kaldi.fbank(audio * 2**15, num_mel_bins=128, sample_frequency=16000,
                                                  frame_length=25.0, frame_shift=10.0)
        n = fbank.shape[0] // patch
        assert emb.shape[1] == n
        # Kaldi frame k (snip_edges) spans samples [160 k, 160 k + 400): centre 10 k + 12.5 ms
        centres = 10.0 * np.arange(fbank.shape[0]) + 12.5
        np.testing.assert_allclose(ts[0].numpy(), centres[: n * patch].reshape(n, patch).mean(axis=1), atol=1e-4)


def test_windows_timestamps_embed_the_audio_around_them():
    """HeAR (2 s windows): the embedding at t is the clip embedding of the audio within 1 s of t."""
    from adapters._inference import embed_clips

    model = load("hear", hop_ms=500.0)
    audio = noise(1, 2.5, 16000, seed=7)
    emb, ts = hear_module("hear").get_timestamp_embeddings(audio, model)
    np.testing.assert_array_equal(ts[0].numpy(), [0, 500, 1000, 1500, 2000, 2500])
    clip = audio[0].numpy()
    want = embed_clips(model.encoder, [clip[max(0, int(t * 16) - 16000): int(t * 16) + 16000] for t in ts[0]])
    np.testing.assert_allclose(emb[0].numpy(), want, atol=1e-5, rtol=1e-5)


def test_opera_preprocess_trims_leading_silence():
    """OPERA's 60 dB trim (frames of 1600 every 800 samples) removes 8000 leading zeros: the scene embedding is
    the clip's own; without the preprocessing it is not."""
    clip = noise(1, 1.6, 16000, seed=9)            # 25600 samples: a whole number of 800-sample hops
    padded = torch.cat([torch.zeros(1, 8000), clip], dim=1)
    mod = hear_module("opera-ce")
    on, off = load("opera-ce"), load("opera-ce", opera_preprocess=False, window_seconds=8.0)
    assert_same(mod.get_scene_embeddings(padded, on), mod.get_scene_embeddings(clip, on))
    a, b = mod.get_scene_embeddings(padded, off), mod.get_scene_embeddings(clip, off)
    assert (a - b).norm() > 1e-2 * b.norm()


def test_load_model_rules(tmp_path):
    from adapters._checkpoint import save_safetensors
    from plugin.hear._module import HearModuleError

    mod = hear_module("beats")
    with pytest.warns(UserWarning, match="tiny random-weight"):
        tiny = mod.load_model()
    assert tiny.encoder.config == build_encoder("beats", config="tiny").config
    with pytest.raises(HearModuleError, match="official config needs its weights"):
        mod.load_model("", config="official")
    with pytest.raises(HearModuleError, match="no such checkpoint"):
        mod.load_model(str(tmp_path / "missing.pt"))
    with pytest.raises(HearModuleError, match="no regular frame grid"):
        hear_module("clap").load_model("", config="tiny", timestamps="frames")
    # a checkpoint path (the converted safetensors format) loads those weights with their config
    import json

    path = tmp_path / "beats-tiny.safetensors"
    save_safetensors(tiny.encoder.state_dict(), path, {"encoder": "beats", "cfg": json.dumps(tiny.encoder.config)})
    loaded = mod.load_model(str(path))
    assert loaded.encoder.weights_sha256 is not None
    audio = noise(1, 1.0, 16000)
    assert_same(mod.get_scene_embeddings(audio, loaded), mod.get_scene_embeddings(audio, tiny))
    # weight-free encoders need no checkpoint: "" is their official model, without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert hear_module("logmel-stats").load_model().encoder.config == build_encoder("logmel-stats").config
