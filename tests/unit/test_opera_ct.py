"""OPERA-CT (adapters/opera_ct.py, adapters/_htsat.py): checkpoint format, crops, frames, LoRA targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from adapters import CheckpointError, build_encoder
from adapters._checkpoint import save_safetensors
from adapters.opera_ct import INPUT_SEC, OperaCT

SR = 16000
# Keys the published Cola checkpoint has beside the encoder (all ignored by opera-ct), with toy shapes.
UPSTREAM_EXTRAS = {
    "encoder.encoder.htsat.spectrogram_extractor.stft.conv_real.weight": (513, 1, 1024),
    "encoder.encoder.htsat.spectrogram_extractor.stft.conv_imag.weight": (513, 1, 1024),
    "encoder.encoder.htsat.logmel_extractor.melW": (513, 64),
    "encoder.encoder.htsat.tscam_conv.weight": (527, 768, 2, 3),
    "encoder.encoder.htsat.tscam_conv.bias": (527,),
    "encoder.encoder.htsat.head.weight": (527, 527),
    "encoder.encoder.htsat.head.bias": (527,),
    "g.weight": (512, 768), "g.bias": (512,), "layer_norm.weight": (512,), "layer_norm.bias": (512,),
    "linear.weight": (512, 512),
}


def _clip(seconds: float, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    n = int(round(seconds * SR))
    t = np.arange(n) / SR
    wav = 0.3 * np.sin(2 * np.pi * (300 + 200 * t) * t) + 0.05 * rng.standard_normal(n)
    return torch.from_numpy(wav.astype(np.float32))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model() -> OperaCT:
    """Tiny OPERA-CT with every weight and BatchNorm statistic randomised (so a mis-mapped key shows)."""
    torch.manual_seed(0)
    m = build_encoder("opera-ct", config="tiny")
    with torch.no_grad():
        for name, t in m.state_dict().items():
            if t.dtype.is_floating_point and not name.endswith("attn_mask"):
                t.add_(0.05 * torch.randn_like(t))
        m.htsat.bn0.running_var.uniform_(0.5, 2.0)
    return m


def _lightning(model: OperaCT, path, **hparams):
    """`model` saved the way OPERA's encoder-operaCT.ckpt is: a Lightning checkpoint of Cola(encoder='htsat')."""
    state = {"encoder.encoder." + k: v.clone() for k, v in model.state_dict().items()}
    state.update({k: torch.randn(shape) for k, shape in UPSTREAM_EXTRAS.items()})
    torch.save({"epoch": 249, "global_step": 1000, "pytorch-lightning_version": "1.9.0", "state_dict": state,
                "hyper_parameters": {"encoder": "htsat", "dim_fea": 1280, "dim_hidden": 1280, "dim_out": 512,
                                     **hparams}}, path)
    return path


def test_lightning_checkpoint_loads_with_identical_embeddings(model, tmp_path):
    path = _lightning(model, tmp_path / "encoder-operaCT.ckpt")
    loaded = build_encoder("opera-ct", weights=path, config="tiny")
    wav = _clip(2.0, 1)[None]
    with torch.inference_mode():
        assert torch.equal(loaded.embed(wav), model.embed(wav))
    assert loaded.weights_sha256 is not None
    from_dir = build_encoder("opera-ct", weights=tmp_path, config="tiny")   # a directory with the published name
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in from_dir.state_dict().items())


def test_safetensors_of_own_state_dict_loads(model, tmp_path):
    path = tmp_path / "ct.safetensors"
    save_safetensors(model.state_dict(), path)
    loaded = build_encoder("opera-ct", weights=path, config="tiny")
    wav = _clip(1.0, 2)[None]
    with torch.inference_mode():
        assert torch.equal(loaded.embed(wav), model.embed(wav))


@pytest.mark.parametrize("defect, key", [
    ("missing", "encoder.encoder.htsat.layers.1.blocks.1.attn.qkv.weight"),
    ("extra", "encoder.encoder.htsat.layers.0.blocks.0.attn.q_bias"),
    ("reshaped", "encoder.encoder.htsat.layers.0.blocks.1.attn_mask"),
    ("extra", "middle.weight"),
])
def test_checkpoint_defects_name_the_key(model, tmp_path, defect, key):
    path = _lightning(model, tmp_path / "bad.ckpt")
    ckpt = torch.load(path, weights_only=True)
    sd = ckpt["state_dict"]
    if defect == "missing":
        del sd[key]
    elif defect == "extra":
        sd[key] = torch.zeros(3)
    else:
        sd[key] = sd[key][:, :-1]
    torch.save(ckpt, path)
    title = {"missing": "missing", "extra": "unexpected", "reshaped": "wrong shape"}[defect]
    with pytest.raises(CheckpointError, match=f"{title}: .*{key.replace('encoder.encoder.', '')}"):
        build_encoder("opera-ct", weights=path, config="tiny")


def test_other_opera_checkpoint_is_refused(model, tmp_path):
    path = _lightning(model, tmp_path / "encoder-operaCE.ckpt", encoder="efficientnet")
    with pytest.raises(CheckpointError, match="not an OPERA htsat checkpoint"):
        build_encoder("opera-ct", weights=path, config="tiny")


def test_batch_equals_singles(model):
    clips = torch.stack([_clip(2.0, s) for s in range(2)])
    with torch.inference_mode():
        batch = model.embed(clips)
        singles = torch.cat([model.embed(c[None]) for c in clips])
    torch.testing.assert_close(batch, singles, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("seconds, n_crops", [(0.05, 1), (60.0, 2)])
def test_very_short_and_very_long_clips(model, seconds, n_crops):
    wav = torch.from_numpy(model.prepare(_clip(seconds, 3).numpy()))[None]
    with torch.inference_mode():
        emb, fr = model.embed(wav), model.frames(wav)
    assert emb.shape == (1, 768) and torch.isfinite(emb).all()
    assert fr.shape == (1, n_crops * model.htsat.frames_per_crop, 768)
    torch.testing.assert_close(fr.mean(dim=1), emb, rtol=1e-5, atol=1e-5)


def test_long_clip_averages_1024_frame_crops_with_hop_512(model):
    """T = 2049 frames: upstream's range(0, T - 1025, 512) gives crops at 0 and 512; frames 1536.. are unseen."""
    torch.manual_seed(1)
    spec = torch.rand(1, 2049, 64)
    with torch.inference_mode():
        got = model.embed_from_logmel(spec)
        by_hand = (model.embed_from_logmel(spec[:, 0:1024]) + model.embed_from_logmel(spec[:, 512:1536])) / 2
        spec[:, 1536:] = 0.0
        tail_changed = model.embed_from_logmel(spec)
    torch.testing.assert_close(got, by_hand, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(tail_changed, got, rtol=0, atol=0)


def test_1025_frames_use_one_crop_at_zero(model):
    """Upstream's crop range is empty at T = 1025 (it raises IndexError); the port uses the crop at 0."""
    spec = torch.rand(1, 1025, 64)
    with torch.inference_mode():
        torch.testing.assert_close(model.embed_from_logmel(spec), model.embed_from_logmel(spec[:, :1024]),
                                   rtol=0, atol=0)


def test_short_clip_is_stretched_bicubically_to_1024_frames(model):
    spec = torch.rand(2, 100, 64)
    stretched = F.interpolate(spec[:, None], (1024, 64), mode="bicubic", align_corners=True)[:, 0]
    with torch.inference_mode():
        torch.testing.assert_close(model.embed_from_logmel(spec), model.embed_from_logmel(stretched),
                                   rtol=1e-6, atol=1e-6)


def test_token_frames_follow_time_order(model):
    """Grid row r holds time chunk r // (g / 4); frame t = chunk * g + column averages that chunk's rows."""
    h = model.htsat
    g, ratio = h.grid_out, h.freq_ratio
    rows, cols = torch.meshgrid(torch.arange(g), torch.arange(g), indexing="ij")
    tokens = torch.stack([rows.flatten(), cols.flatten()], dim=1).float()[None]      # [1, g*g, 2]
    fr = h.token_frames(tokens)[0]
    per_chunk = g // ratio
    chunk, col = torch.arange(ratio * g) // g, torch.arange(ratio * g) % g
    torch.testing.assert_close(fr[:, 0], chunk * per_chunk + (per_chunk - 1) / 2)
    torch.testing.assert_close(fr[:, 1], col.float())


def test_lora_targets_match_only_linear_layers(model):
    """peft's rule for a target string: the module name equals it or ends with '.' + it."""
    targets = model.spec.lora_targets
    hits = {t: [(n, m) for n, m in model.named_modules() if n == t or n.endswith("." + t)] for t in targets}
    n_blocks = sum(model.config["depths"])
    assert {t: len(v) for t, v in hits.items()} == {t: n_blocks for t in targets}
    assert all(type(m) is nn.Linear for found in hits.values() for _, m in found)


def test_spec_and_input_seconds():
    assert OperaCT.spec.embed_dim == 768 and OperaCT.spec.length_policy == "any"
    assert set(INPUT_SEC) == {f"T{i}" for i in range(1, 20)}
    assert INPUT_SEC["T5"] == 2.0 and INPUT_SEC["T19"] == 30.0


def test_frontend_params_cover_crops(model):
    p = model.frontend_params()
    assert p["crop_frames"] == 1024 and p["crop_hop_frames"] == 512 and p["opera_mel"]["hop_length"] == 512


@pytest.mark.slow
def test_official_size_parameter_count():
    m = OperaCT(OperaCT.configs["official"])
    # 31,325,143 in upstream EncoderHTSAT minus its unused torchlibrosa front end and AudioSet head
    assert sum(p.numel() for p in m.parameters()) == 27_534_488
    assert m.htsat.frames_per_crop == 32 and m.htsat.grid_out == 8
