"""BEATs encoder (adapters/beats.py): front end, published checkpoint format, strict keys, shapes, LoRA targets."""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
import pytest
import torch
import torchaudio.compliance.kaldi as kaldi
from torch import nn

from adapters import CheckpointError, build_encoder
from adapters._beats_backbone import WeightNormConv1d, relative_position_buckets
from adapters._checkpoint import save_safetensors
from adapters.beats import OFFICIAL, TINY, BEATs, beats_fbank

SR = 16000


def _wav(batch: int, seconds: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (0.3 * torch.randn(batch, int(seconds * SR), generator=g)).clamp(-1, 1)


def _random_tiny(cfg: dict | None = None) -> BEATs:
    """A tiny BEATs whose every parameter is moved off its init (so LayerNorms, biases and gates matter)."""
    torch.manual_seed(0)
    model = BEATs(dict(cfg or TINY)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def _save_pt(model: BEATs, path, cfg: dict | None = None, extra: dict | None = None) -> None:
    """Write the format upstream publishes: {"cfg": BEATsConfig fields, "model": state dict}."""
    state = {**model.state_dict(), **(extra or {})}
    torch.save({"cfg": dict(cfg or model.config), "model": state}, path)


@pytest.fixture(scope="module")
def tiny():
    return _random_tiny()


def test_fbank_equals_direct_kaldi_call_per_clip():
    wav = _wav(3, 0.7)
    got = beats_fbank(wav)
    for i in range(3):
        ref = kaldi.fbank(wav[i:i + 1] * 32768, num_mel_bins=128, sample_frequency=16000, frame_length=25,
                          frame_shift=10)
        torch.testing.assert_close(got[i], (ref - 15.41663) / (2 * 6.55582), rtol=0, atol=0)
    assert got.shape == (3, 1 + (wav.shape[1] - 400) // 160, 128)


def test_official_pt_round_trip_gives_identical_embeddings(tiny, tmp_path):
    path = tmp_path / "beats_tiny.pt"
    _save_pt(tiny, path)
    loaded = build_encoder("beats", weights=path, config="tiny")
    wav = _wav(2, 1.0)
    with torch.inference_mode():
        assert torch.equal(loaded.embed(wav), tiny.embed(wav))
    assert loaded.weights_sha256 and not loaded.training


def test_checkpoint_cfg_decides_the_architecture(tmp_path):
    cfg = {**TINY, "encoder_layers": 3}
    path = tmp_path / "three_layers.pt"
    _save_pt(_random_tiny(cfg), path)
    model = build_encoder("beats", weights=path, config="tiny")
    assert len(model.encoder.layers) == 3
    assert model.encoder.layers[0].residual_scale == pytest.approx(6 ** 0.25)  # deep-norm alpha = (2N)^(1/4)


def test_cfg_fields_missing_from_file_take_upstream_defaults(tiny, tmp_path):
    cfg = {k: v for k, v in tiny.config.items() if k != "max_distance"}
    path = tmp_path / "old_cfg.pt"
    _save_pt(tiny, path, cfg=cfg)
    _, file_cfg = BEATs.read_checkpoint(path)
    assert file_cfg["max_distance"] == 1280  # upstream BEATsConfig default, not the chosen config's value


@pytest.mark.parametrize("edit, named", [
    (lambda s: s.pop("encoder.layers.1.fc2.bias"), "encoder.layers.1.fc2.bias"),
    (lambda s: s.__setitem__("encoder.extra.weight", torch.zeros(3)), "encoder.extra.weight"),
    (lambda s: s.__setitem__("encoder.pos_conv.0.weight_g", torch.zeros(1, 1, 3)), "encoder.pos_conv.0.weight_g"),
])
def test_mismatched_keys_raise_checkpoint_error_naming_the_key(tiny, tmp_path, edit, named):
    state = tiny.state_dict()
    edit(state)
    path = tmp_path / "bad.pt"
    torch.save({"cfg": tiny.config, "model": state}, path)
    with pytest.raises(CheckpointError, match=named.replace(".", r"\.")):
        build_encoder("beats", weights=path, config="tiny")


def test_finetuned_checkpoint_head_is_ignored(tiny, tmp_path):
    path = tmp_path / "finetuned.pt"
    head = {"predictor.weight": torch.randn(527, 768), "predictor.bias": torch.randn(527)}
    _save_pt(tiny, path, cfg={**tiny.config, "finetuned_model": True}, extra=head)
    model = build_encoder("beats", weights=path, config="tiny")
    wav = _wav(1, 0.5)
    with torch.inference_mode():
        assert torch.equal(model.embed(wav), tiny.embed(wav))


def test_file_that_is_not_a_beats_checkpoint_is_refused(tiny, tmp_path):
    path = tmp_path / "bare_state.pt"
    torch.save(tiny.state_dict(), path)
    with pytest.raises(CheckpointError, match="'cfg': dict, 'model': state_dict"):
        build_encoder("beats", weights=path, config="tiny")


def test_namespace_cfg_loads_with_trust_and_is_refused_without(tiny, tmp_path):
    """Re-saved / fine-tuned checkpoints may pickle the cfg as an argparse.Namespace instead of a dict."""
    dict_path, ns_path = tmp_path / "dict_cfg.pt", tmp_path / "namespace_cfg.pt"
    _save_pt(tiny, dict_path)
    torch.save({"cfg": argparse.Namespace(**tiny.config), "model": tiny.state_dict()}, ns_path)
    assert BEATs.read_checkpoint(ns_path, trust=True)[1] == BEATs.read_checkpoint(dict_path)[1]
    from_dict = build_encoder("beats", weights=dict_path, config="official")
    from_ns = build_encoder("beats", weights=ns_path, config="official", trust_checkpoint=True)
    wav = _wav(2, 1.0)
    with torch.inference_mode():
        assert torch.equal(from_ns.embed(wav), from_dict.embed(wav))
    with pytest.raises(CheckpointError, match=r"\(argparse\.Namespace\).*--trust-checkpoint") as info:
        build_encoder("beats", weights=ns_path, config="tiny")
    assert "\x1b" not in str(info.value) and "\n" not in str(info.value)


def test_cfg_object_without_beats_fields_is_refused(tiny, tmp_path):
    path = tmp_path / "odd_cfg.pt"
    torch.save({"cfg": argparse.Namespace(lr=0.1), "model": tiny.state_dict()}, path)
    with pytest.raises(CheckpointError, match="not a BEATs checkpoint.*Namespace and no BEATsConfig fields"):
        build_encoder("beats", weights=path, config="tiny", trust_checkpoint=True)


def test_safetensors_with_cfg_metadata_loads(tiny, tmp_path):
    path = tmp_path / "beats.safetensors"
    save_safetensors(tiny.state_dict(), path, metadata={"cfg": json.dumps(tiny.config)})
    model = build_encoder("beats", weights=path, config="official")  # the file's cfg wins
    wav = _wav(1, 0.5)
    with torch.inference_mode():
        assert torch.equal(model.embed(wav), tiny.embed(wav))
    save_safetensors(tiny.state_dict(), tmp_path / "nocfg.safetensors")
    with pytest.raises(CheckpointError, match="metadata has no 'cfg'"):
        build_encoder("beats", weights=tmp_path / "nocfg.safetensors", config="tiny")


def test_batch_equals_singles_and_frames_pool_frequency_patches(tiny):
    wav = _wav(3, 1.0, seed=3)
    with torch.inference_mode():
        tokens = tiny.tokens(wav)
        frames = tiny.frames(wav)
        batch = tiny.embed(wav)
        singles = torch.cat([tiny.embed(wav[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(batch, singles, rtol=1e-5, atol=1e-5)
    assert tokens.shape == (3, 6 * 8, 768) and frames.shape == (3, 6, 768)  # 98 fbank frames -> 6 time patches
    torch.testing.assert_close(frames[:, 2], tokens[:, 16:24].mean(dim=1))
    torch.testing.assert_close(frames.mean(dim=1), batch, rtol=1e-5, atol=1e-6)


def test_very_short_clip_is_padded_to_one_patch_and_shorter_input_is_refused(tiny):
    clip = np.random.default_rng(0).uniform(-0.5, 0.5, int(0.05 * SR)).astype(np.float32)
    prepared = tiny.prepare(clip)
    assert len(prepared) == 2800 == tiny.min_samples
    with torch.inference_mode():
        assert tiny.frames(torch.from_numpy(prepared)[None]).shape == (1, 1, 768)
        with pytest.raises(ValueError, match="at least 2800 samples"):
            tiny.frames(torch.from_numpy(clip)[None])


def test_sixty_second_clip(tiny):
    with torch.inference_mode():
        frames = tiny.frames(_wav(1, 60.0))
    assert frames.shape == (1, (1 + (60 * SR - 400) // 160) // 16, 768)
    assert torch.isfinite(frames).all()


def test_lora_targets_match_only_linear_layers(tiny):
    # peft's rule for a list of targets: the module name equals a target or ends with "." + target
    names = dict(tiny.named_modules())
    for target in BEATs.spec.lora_targets:
        hits = [n for n in names if n == target or n.endswith("." + target)]
        assert len(hits) == TINY["encoder_layers"], (target, hits)
        assert all(type(names[n]) is nn.Linear for n in hits), (target, hits)


def test_relative_position_buckets_follow_upstream_t5_scheme():
    b = relative_position_buckets(1200, num_buckets=320, max_distance=800)
    # keys after the query use buckets 160..319; 80 exact distances, then log-spaced up to 800
    assert b[0, 0] == 0 and b[0, 1] == 161 and b[1, 0] == 1 and b[79, 0] == 79
    assert b[80, 0] == 80 and b[800, 0] == 159 and b[1199, 0] == 159 and b[0, 1199] == 319
    assert b[440, 0] == 80 + int(np.log(440 / 80) / np.log(10) * 80)


def test_weight_norm_conv_matches_torch_weight_norm_keys_and_output():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ref = nn.utils.weight_norm(nn.Conv1d(32, 32, 8, padding=4, groups=4), name="weight", dim=2)
    ours = WeightNormConv1d(32, 8, 4)
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 32, 50)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-6, atol=1e-6)


def test_layer_wise_gradient_decay_scales_gradients_of_earlier_modules():
    model = _random_tiny({**TINY, "layer_wise_gradient_decay_ratio": 0.5})
    wav = _wav(1, 0.2)
    grads = []
    for ratio in (0.5, 1.0):  # the config's ratio, then the decay switched off on the same weights
        model.encoder.grad_decay = ratio
        model.zero_grad()
        model.embed(wav).square().sum().backward()
        grads.append(model.patch_embedding.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1] * 0.5 ** TINY["encoder_layers"])


def test_unsupported_activation_is_refused():
    with pytest.raises(ValueError, match="activation_fn 'glu'"):
        BEATs({**TINY, "activation_fn": "glu"})


@pytest.mark.slow
def test_official_size_parameter_count():
    model = BEATs(dict(OFFICIAL))
    n = sum(p.numel() for p in model.parameters())
    assert n == 90_311_792  # published: ~90M; equals upstream BEATs(BEATsConfig(iter3+ AS2M cfg))
    assert len(model.state_dict()) == 250
