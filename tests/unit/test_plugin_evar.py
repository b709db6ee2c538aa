"""plugin.evar: AR_AculaZoo behaves as an EVAR audio representation built from an EVAR-style cfg."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from adapters import build_encoder, fit_length, resample
from adapters._spec import EncoderSpec
from plugin.evar import AR_AculaZoo, fit_batch

YAML = Path(__file__).resolve().parents[2] / "plugin" / "evar" / "acula.yaml"


def _audio(b: int, seconds: float, rate: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, int(seconds * rate), generator=g) * 0.1).clamp(-1, 1)


def test_builds_from_namespace_and_dict_cfg_with_evar_shapes():
    torch.manual_seed(0)
    ar = AR_AculaZoo(types.SimpleNamespace(encoder="opera-gt", config="tiny", sample_rate=16000, feature_d=None))
    wav = _audio(3, 2.0, 16000)
    with torch.no_grad():
        frames, emb = ar.encode_frames(wav), ar(wav)
    assert emb.shape == (3, 32)  # tiny opera-gt width
    assert frames.shape[:2] == (3, 32) and frames.shape[2] > 1  # [B, D, T]
    assert ar.cfg.feature_d == 32 and ar.cfg["sample_rate"] == 16000
    with torch.no_grad():
        same = AR_AculaZoo({"encoder": "logmel-stats", "sample_rate": 16000})(wav)
    assert same.shape == (3, 128)


def test_forward_equals_the_encoders_embedding_and_is_deterministic():
    ar = AR_AculaZoo({"encoder": "logmel-stats", "sample_rate": 16000, "feature_d": 128}).eval()
    wav = _audio(2, 1.5, 16000, seed=1)
    with torch.no_grad():
        a, b = ar(wav), ar(wav)
        direct = build_encoder("logmel-stats").embed(wav)
    assert torch.equal(a, b)
    torch.testing.assert_close(a, direct, atol=1e-6, rtol=0)


def test_resamples_evar_rate_to_encoder_rate_like_adapters_resample():
    ar = AR_AculaZoo({"encoder": "logmel-stats", "sample_rate": 32000}).eval()
    wav = _audio(2, 1.0, 32000, seed=2)
    expected_input = np.stack([resample(w.numpy(), 32000, 16000) for w in wav])
    with torch.no_grad():
        got = ar(wav)
        expected = build_encoder("logmel-stats").embed(torch.from_numpy(expected_input))
    assert ar.to_encoder_input(wav).shape == (2, 16000)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("policy,length", [("pad_zeros", 300), ("pad_zeros", 900), ("pad_repeat", 250),
                                           ("pad_repeat", 1200), ("crop", 50), ("crop", 1000), ("any", 40),
                                           ("chunk", 2000)])
def test_batched_length_policy_matches_adapters_fit_length(policy, length):
    spec = EncoderSpec(name="x", sample_rate=1000, embed_dim=4, clip_seconds=None if policy in ("any", "chunk")
                       else 0.8, length_policy=policy, min_seconds=0.1)
    wav = _audio(3, length / 1000, 1000, seed=3)
    expected = np.stack([fit_length(w.numpy(), policy, spec.clip_samples, 100) for w in wav])
    np.testing.assert_array_equal(fit_batch(wav, spec).numpy(), expected)


def test_feature_d_that_disagrees_with_the_encoder_is_an_error_naming_the_field():
    with pytest.raises(ValueError, match="feature_d.*128"):
        AR_AculaZoo({"encoder": "logmel-stats", "sample_rate": 16000, "feature_d": 768})


def test_missing_sample_rate_and_unknown_encoder_are_clear_errors():
    with pytest.raises(ValueError, match="sample_rate"):
        AR_AculaZoo({"encoder": "logmel-stats"})
    with pytest.raises(KeyError, match="did you mean|Did you mean"):
        AR_AculaZoo({"encoder": "logmel-stat", "sample_rate": 16000})


def test_yaml_template_lists_every_field_the_wrapper_reads():
    yaml = pytest.importorskip("yaml")
    cfg = yaml.safe_load(YAML.read_text())
    assert cfg["audio_repr"] == "ar_acula.AR_AculaZoo"
    assert {"encoder", "weights", "config", "aligned", "trust_checkpoint", "feature_d", "sample_rate",
            "weight_file"} <= set(cfg)  # weight_file: finetune.py reads it (EVAR's --options sets listed keys only)
    ar = AR_AculaZoo({**cfg, "encoder": "logmel-stats", "feature_d": None})
    assert ar.cfg.feature_d == 128 and ar.cfg.batch_size == cfg["batch_size"]


@pytest.mark.skipif(importlib.util.find_spec("align.aligned") is None, reason="align.aligned not available")
def test_aligned_directory_gives_the_aligned_encoders_embeddings(tmp_path):
    from align.aligned import base_identity, build_aligned, build_base, save_aligned, save_base_weights
    from align.heads import ProjectionHead
    from align.lora import apply_lora

    torch.manual_seed(0)
    enc = build_encoder("opera-gt", config="tiny")
    info = {"base": {**base_identity(enc), "tiny": True, "random_init": True}, "teacher": {"path": "none"}}
    info["base"]["weights_sha256"] = save_base_weights(enc, tmp_path)
    peft_model = apply_lora(enc, rank=4, alpha=8)
    with torch.no_grad():
        for name, p in enc.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape) * 0.2)
    save_aligned(tmp_path, enc, peft_model, ProjectionHead(32, 16, 8, 0.2), ProjectionHead(384, 16, 8, 0.2), info)

    wav = _audio(2, 2.0, 16000, seed=4)
    ar = AR_AculaZoo({"encoder": "opera-gt", "config": "tiny", "aligned": str(tmp_path), "sample_rate": 16000})
    with torch.no_grad():
        got = ar.eval()(wav)
        expected = build_aligned(tmp_path).embed(wav)
        base = build_base(tmp_path).embed(wav)  # the same base without its adapter
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert ar.encoder.adapter_sha256 and not torch.allclose(got, base, atol=1e-3)
    with pytest.raises(ValueError, match="tiny"):
        AR_AculaZoo({"encoder": "opera-gt", "config": "official", "aligned": str(tmp_path), "sample_rate": 16000})


def _evar_padded_breath(sr: int = 16000) -> np.ndarray:
    """A 0.75 s breath-like burst zero-padded to 2 s at the end, as EVAR's dataset pads to unit_sec."""
    n = int(0.75 * sr)
    t = np.arange(n) / sr
    core = 0.3 * np.sin(np.pi * t / 0.75) ** 2 * np.sin(2 * np.pi * 430 * t)
    out = np.zeros(2 * sr, np.float32)
    out[:n] = core
    return out


def test_opera_families_get_operas_task_preprocessing():
    from adapters._inference import embed_clips
    from benchmark_tasks.preprocess import host_preprocess

    wav = _evar_padded_breath()
    ar = AR_AculaZoo({"encoder": "opera-gt", "config": "tiny", "sample_rate": 16000}).eval()
    prep = host_preprocess("opera-gt")
    want = embed_clips(ar.encoder, [prep.apply(wav, 16000)], windowing=prep.windowing)[0]
    with torch.no_grad():
        got = ar(torch.from_numpy(wav)[None])[0].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)       # the number evaluate.py computes

    off = AR_AculaZoo({"encoder": "opera-gt", "config": "tiny", "sample_rate": 16000,
                       "opera_preprocess": False}).eval()
    with torch.no_grad():
        plain = off(torch.from_numpy(wav)[None])[0].numpy()
        direct = off.encoder.embed(fit_batch(torch.from_numpy(wav)[None], off.encoder.spec))[0].numpy()
    np.testing.assert_allclose(plain, direct, rtol=1e-6, atol=1e-7)   # EVAR's own protocol
    assert np.abs(plain - got).max() > 1e-3                          # the preprocessing does change the number


def test_opera_task_selects_that_tasks_preprocessing_and_other_encoders_are_untouched():
    from adapters._spec import Windowing

    ar = AR_AculaZoo({"encoder": "opera-gt", "config": "tiny", "sample_rate": 16000, "opera_task": "T13"})
    assert ar.prep.pad_seconds == 5.0 and ar.prep.windowing == Windowing("waveform", 5.0)
    assert AR_AculaZoo({"encoder": "logmel-stats", "sample_rate": 16000}).prep is None


def test_evars_zero_padding_to_unit_sec_changes_non_opera_embeddings():
    """EVAR's dataset (evar/data.py BaseRawAudioDataset.__getitem__ at 88ba772) zero-pads every clip shorter than
    the task's unit_sec at its end before AR_AculaZoo sees it. For encoders without OPERA's silence trim (here
    logmel-stats) the padded clip embeds differently from the clip evaluate.py embeds; a clip of exactly unit_sec
    is unaffected (test_forward_equals_the_encoders_embedding_and_is_deterministic)."""
    from adapters._inference import embed_clips

    wav = _evar_padded_breath()                 # 0.75 s of sound + 1.25 s of EVAR's zeros (unit_sec 2 s)
    clip = wav[: int(0.75 * 16000)]
    ar = AR_AculaZoo({"encoder": "logmel-stats", "sample_rate": 16000}).eval()
    with torch.no_grad():
        in_evar = ar(torch.from_numpy(wav)[None])[0].numpy()
        unpadded = ar(torch.from_numpy(clip)[None])[0].numpy()
    ours = embed_clips(ar.encoder, [clip])[0]
    np.testing.assert_allclose(unpadded, ours, rtol=1e-5, atol=1e-6)
    assert np.abs(in_evar - ours).max() > 1e-2 * np.abs(ours).max()

