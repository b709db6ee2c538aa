"""HeAR encoder: the published transformers directory loads exactly, bad directories are refused by key,
embeddings do not depend on the batch, short and long clips, LoRA targets. Tiny random-weight ViTs only,
except the slow official-size check."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from adapters import CheckpointError, build_encoder, get_encoder_class
from adapters.hear import _vit_config


def _save_vit(directory, config_name="tiny", seed=0):
    """A random ViTModel of HeAR's architecture, written with save_pretrained (the published format)."""
    from transformers import ViTModel

    torch.manual_seed(seed)
    vit = ViTModel(_vit_config(get_encoder_class("hear").configs[config_name])).eval()
    vit.save_pretrained(directory)
    return vit


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hear_tiny")
    vit = _save_vit(directory)
    return directory, vit


@pytest.fixture(scope="module")
def tiny_encoder(tiny_dir):
    return build_encoder("hear", weights=tiny_dir[0], config="tiny")


def _wav(n, samples=32000, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / 16000
    rows = [0.2 * torch.sin(2 * torch.pi * (200 + 400 * i) * t) + 0.05 * torch.randn(samples, generator=g)
            for i in range(n)]
    return torch.stack(rows)


def test_published_directory_gives_identical_embeddings(tiny_dir, tiny_encoder):
    directory, vit = tiny_dir
    keys = load_file(directory / "model.safetensors").keys()
    assert "encoder.layer.0.attention.attention.query.weight" in keys, "fixture must be in the 4.x key layout"
    wav = _wav(3)
    with torch.inference_mode():
        ours = tiny_encoder.embed(wav)
        direct = vit(pixel_values=tiny_encoder.frontend(wav)).pooler_output
    assert ours.shape == (3, 512)
    torch.testing.assert_close(ours, direct, rtol=0, atol=1e-6)
    assert tiny_encoder.weights_sha256 and tiny_encoder.config["hidden_size"] == 32


def _corrupt(src, dst, edit):
    shutil.copytree(src, dst)
    state = load_file(src / "model.safetensors")
    edit(state)
    save_file(state, dst / "model.safetensors", metadata={"format": "pt"})
    return dst


@pytest.mark.parametrize("edit, named", [
    (lambda s: s.pop("encoder.layer.1.output.dense.bias"), r"missing: layers\.1\.mlp\.fc2\.bias"),
    (lambda s: s.__setitem__("encoder.layer.0.extra.weight", torch.zeros(4)),
     r"unexpected: layers\.0\.extra\.weight"),
    (lambda s: s.__setitem__("pooler.dense.weight", torch.zeros(256, 32)),
     r"wrong shape: pooler\.dense\.weight: checkpoint \(256, 32\) vs model \(512, 32\)"),
], ids=["missing", "unexpected", "reshaped"])
def test_mismatched_weights_are_refused_by_name(tiny_dir, tmp_path, edit, named):
    bad = _corrupt(tiny_dir[0], tmp_path / "bad", edit)
    with pytest.raises(CheckpointError, match=named):
        build_encoder("hear", weights=bad, config="tiny")


def test_config_the_front_end_cannot_feed_is_refused(tiny_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_dir[0], bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["image_size"] = 224
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"config\.json: image_size is \[224, 224\]"):
        get_encoder_class("hear").read_checkpoint(bad)


def test_directory_without_config_is_refused(tiny_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(tiny_dir[0] / "model.safetensors", bad)
    with pytest.raises(CheckpointError, match="config.json"):
        build_encoder("hear", weights=bad, config="tiny")


def test_embedding_does_not_depend_on_the_batch(tiny_encoder):
    wav = _wav(4, seed=1)
    wav[1] *= 4.0  # loud and offset neighbours shift a batch-wide min-max
    wav[3] += 0.3
    with torch.inference_mode():
        batch = tiny_encoder.embed(wav)
        singles = torch.cat([tiny_encoder.embed(wav[i: i + 1]) for i in range(4)])
    torch.testing.assert_close(batch, singles, rtol=0, atol=1e-5)


def test_short_clip_is_zero_padded_to_2s(tiny_encoder):
    short = _wav(1, samples=800, seed=2)  # 0.05 s
    assert len(tiny_encoder.prepare(short[0].numpy())) == 800, "the length policy must not repeat-pad"
    with torch.inference_mode():
        a = tiny_encoder.embed(short)
        b = tiny_encoder.embed(torch.nn.functional.pad(short, (0, 32000 - 800)))
    assert a.shape == (1, 512) and torch.isfinite(a).all()
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_long_clip_is_the_mean_of_its_2s_windows(tiny_encoder):
    wav = _wav(1, samples=60 * 16000, seed=3)
    assert len(tiny_encoder.prepare(wav[0].numpy())) == 60 * 16000, "the length policy must keep the whole clip"
    with torch.inference_mode():
        frames = tiny_encoder.frames(wav)
        emb = tiny_encoder.embed(wav)
        window_5 = tiny_encoder.embed(wav[:, 5 * 28800: 5 * 28800 + 32000])
    assert frames.shape == (1, 33, 512) and torch.isfinite(emb).all()
    torch.testing.assert_close(emb, frames.mean(dim=1), rtol=0, atol=1e-6)
    torch.testing.assert_close(frames[:, 5], window_5, rtol=0, atol=1e-5)


def test_lora_targets_hit_every_attention_and_mlp_linear_only(tiny_encoder):
    from peft import LoraConfig, inject_adapter_in_model

    targets = tiny_encoder.spec.lora_targets
    layers = tiny_encoder.config["num_hidden_layers"]
    hits = [(n, m) for n, m in tiny_encoder.named_modules() if any(n.endswith("." + t) for t in targets)]
    assert len(hits) == 6 * layers and all(type(m) is nn.Linear for _, m in hits), hits
    model = build_encoder("hear", config="tiny")
    inject_adapter_in_model(LoraConfig(r=2, target_modules=list(targets)), model)
    wrapped = [n for n, _ in model.named_modules() if n.endswith(".lora_A")]
    assert len(wrapped) == 6 * layers
    with torch.inference_mode():
        assert model.embed(_wav(1)).shape == (1, 512)


def test_official_without_weights_points_to_the_gated_repo():
    with pytest.raises(ValueError, match="google/hear-pytorch"):
        build_encoder("hear")


@pytest.mark.slow
def test_official_size_loads_and_matches_vit(tmp_path):
    vit = _save_vit(tmp_path, config_name="official")
    enc = build_encoder("hear", weights=tmp_path)
    n_params = sum(p.numel() for p in enc.parameters())
    assert 302e6 < n_params < 304e6, n_params
    wav = _wav(2, seed=4)
    with torch.inference_mode():
        ours = enc.embed(wav)
        direct = vit(pixel_values=enc.frontend(wav)).pooler_output
    scale = float(direct.abs().max())
    assert float((ours - direct).abs().max()) <= 1e-5 * scale
    assert np.isfinite(ours.numpy()).all()
