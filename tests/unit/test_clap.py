"""LAION-CLAP adapter: front end vs ClapFeatureExtractor, embeddings vs ClapModel.get_audio_features, checkpoints."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import ClapAudioConfig, ClapAudioModelWithProjection, ClapConfig, ClapFeatureExtractor, ClapModel

from adapters import CheckpointError, build_encoder
from adapters._clap_frontend import ClapLogMel, repeat_pad
from adapters.clap import LaionClap

SR = 48000


def extractor() -> ClapFeatureExtractor:
    """The upstream front end with laion/clap-htsat-unfused's settings (its defaults differ: fmin 0, 'fusion')."""
    return ClapFeatureExtractor(frequency_min=50, frequency_max=14000, truncation="rand_trunc", padding="repeatpad")


def clip(seconds: float, seed: int) -> np.ndarray:
    """[S] float32 at 48 kHz: noise whose first third is 60 dB quieter, so the dB range is wide."""
    rng = np.random.default_rng(seed)
    w = 0.1 * rng.standard_normal(max(1, int(round(seconds * SR))))
    w[: len(w) // 3] *= 1e-3
    return w.astype(np.float32)


def tiny_clap_config() -> ClapConfig:
    audio = dict(LaionClap.configs["tiny"])
    text = dict(vocab_size=99, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                max_position_embeddings=40)
    return ClapConfig(text_config=text, audio_config=audio, projection_dim=audio.pop("projection_dim"),
                      projection_hidden_act=audio.pop("projection_hidden_act"))


def randomise_init_constants(model) -> None:
    """transformers initialises the mel BatchNorm to identity and the relative-position tables to zero; make them
    random so that a skipped normalisation or a misplaced table shows in the embeddings."""
    bn = model.audio_model.audio_encoder.batch_norm
    with torch.no_grad():
        bn.running_mean.uniform_(-60.0, -20.0)
        bn.running_var.uniform_(50.0, 200.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.1, 0.1)
        for name, p in model.named_parameters():
            if name.endswith("relative_position_bias_table"):
                p.normal_(0.0, 0.5)


@pytest.fixture(scope="module")
def clap_dir(tmp_path_factory):
    """A tiny random ClapModel (text + audio towers) saved with save_pretrained; returns (dir, reference model)."""
    torch.manual_seed(0)
    ref = ClapModel(tiny_clap_config()).eval()
    randomise_init_constants(ref)
    folder = tmp_path_factory.mktemp("clap_full")
    ref.save_pretrained(folder)
    return folder, ref


@pytest.fixture(scope="module")
def encoder(clap_dir):
    return build_encoder("clap", weights=clap_dir[0], config="tiny")


def reference_embedding(ref: ClapModel, wav: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return ref.get_audio_features(**extractor()(wav, sampling_rate=SR, return_tensors="pt")).pooler_output


def ours(enc, wav: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return enc.embed(torch.from_numpy(enc.prepare(wav))[None])


@pytest.mark.parametrize("seconds", [1 / SR, 0.05, 3.0003, 7.0, 10.0])
def test_log_mel_matches_clap_feature_extractor(seconds):
    wav = clip(seconds, seed=1)
    want = extractor()(wav, sampling_rate=SR, return_tensors="np")["input_features"]
    got = ClapLogMel()(torch.from_numpy(wav)[None]).numpy()
    assert got.shape == want.shape == (1, 1, 1001, 64)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


def test_repeat_pad_tiles_whole_copies_then_zero_pads():
    six = torch.arange(1, 6 * 4 + 1, dtype=torch.float32)[None]  # 24 samples against a 40-sample target
    out = repeat_pad(six, 40)
    assert torch.equal(out[0, :24], six[0]) and torch.equal(out[0, 24:], torch.zeros(16))
    three = torch.ones(1, 12)
    assert torch.equal(repeat_pad(three, 40)[0], torch.cat([torch.ones(36), torch.zeros(4)]))
    assert torch.equal(repeat_pad(torch.zeros(2, 0), 40), torch.zeros(2, 40))
    assert torch.equal(repeat_pad(torch.arange(50.0)[None], 40)[0], torch.arange(40.0))


def test_embed_and_frames_equal_get_audio_features(clap_dir, encoder):
    _, ref = clap_dir
    wav = clip(3.0, seed=2)  # repeat-padded: three copies and 1 s of zeros
    with torch.no_grad():
        want = ref.get_audio_features(**extractor()(wav, sampling_rate=SR, return_tensors="pt"))
        x = torch.from_numpy(encoder.prepare(wav))[None]
        got, frames = encoder.embed(x), encoder.frames(x)
        pooled_then_projected = nn.functional.normalize(encoder.audio_projection(frames.mean(dim=1)), dim=-1)
    assert got.shape == (1, 512) and frames.shape == (1, 32, 768)
    torch.testing.assert_close(got, want.pooler_output, rtol=0, atol=1e-5)
    torch.testing.assert_close(got.norm(dim=-1), torch.ones(1))
    # frames: upstream's final token grid [B, C, F, T] averaged over F; their mean over T is the pooled output
    torch.testing.assert_close(frames, want.last_hidden_state.mean(dim=2).transpose(1, 2), rtol=0, atol=1e-5)
    torch.testing.assert_close(pooled_then_projected, got, rtol=0, atol=1e-5)


def test_reads_an_audio_only_directory(tmp_path):
    torch.manual_seed(5)
    audio_cfg = ClapAudioConfig(**LaionClap.configs["tiny"])
    ref = ClapAudioModelWithProjection(audio_cfg).eval()
    randomise_init_constants(ref)
    ref.save_pretrained(tmp_path)
    enc = build_encoder("clap", weights=tmp_path, config="tiny")
    wav = clip(2.5, seed=6)
    with torch.no_grad():
        want = ref(**extractor()(wav, sampling_rate=SR, return_tensors="pt")).audio_embeds
    torch.testing.assert_close(ours(enc, wav), nn.functional.normalize(want, dim=-1), rtol=0, atol=1e-5)


def test_text_tower_keys_are_read_and_left_unused(clap_dir):
    state, cfg = LaionClap.read_checkpoint(clap_dir[0])
    assert any(k.startswith("text_model.") for k in state) and "logit_scale_t" in state
    assert all(k.startswith(LaionClap.checkpoint_ignore) for k in state
               if not k.startswith(("audio_model.", "audio_projection.")))
    assert cfg["projection_dim"] == 512 and cfg["enable_fusion"] is False


def _edited_copy(src, dst, edit) -> None:
    shutil.copytree(src, dst)
    state = load_file(dst / "model.safetensors")
    edit(state)
    save_file(state, dst / "model.safetensors", metadata={"format": "pt"})


QUERY = "audio_model.audio_encoder.layers.1.blocks.0.attention.self.query.weight"


@pytest.mark.parametrize("edit, named", [
    (lambda s: s.pop(QUERY), QUERY),
    (lambda s: s.pop("audio_model.audio_encoder.batch_norm.running_var"), "batch_norm.running_var"),
    (lambda s: s.update({"audio_model.audio_encoder.extra.weight": torch.zeros(2)}), "audio_encoder.extra.weight"),
    (lambda s: s.update({QUERY: torch.zeros(3, 3)}), QUERY),
], ids=["missing", "missing-buffer", "unexpected", "reshaped"])
def test_checkpoint_mismatch_is_refused_naming_the_key(clap_dir, tmp_path, edit, named):
    _edited_copy(clap_dir[0], tmp_path / "edited", edit)
    with pytest.raises(CheckpointError, match=named.replace(".", r"\.")):
        build_encoder("clap", weights=tmp_path / "edited", config="tiny")


def test_fused_checkpoint_and_missing_config_are_refused(clap_dir, tmp_path):
    fused = tmp_path / "fused"
    shutil.copytree(clap_dir[0], fused)
    raw = json.loads((fused / "config.json").read_text())
    raw["audio_config"]["enable_fusion"] = True
    (fused / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="enable_fusion"):
        build_encoder("clap", weights=fused, config="tiny")
    (fused / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json"):
        build_encoder("clap", weights=fused, config="tiny")


def to_laion_format(ref: ClapModel) -> dict:
    """A transformers ClapModel written the way an original LAION-CLAP `630k-*.pt` stores it (inverse renames)."""
    renames = (("layernorm_before.", "norm1."), ("layernorm_after.", "norm2."),
               ("attention.output.dense.", "attn.proj."),  # before the MLP's "output.dense."
               ("attention.self.relative_position", "attn.relative_position"), ("intermediate.dense.", "mlp.fc1."),
               ("output.dense.", "mlp.fc2."), ("batch_norm.", "bn0."))
    sd, out = ref.state_dict(), {}
    for key, value in sd.items():
        if key.startswith("audio_model.audio_encoder."):
            rest = key[len("audio_model.audio_encoder."):]
            if ".attention.self.query." in rest:
                parts = [sd[key.replace(".query.", f".{n}.")] for n in ("query", "key", "value")]
                out["module.audio_branch." + rest.replace("attention.self.query.", "attn.qkv.")] = torch.cat(parts)
                continue
            if ".attention.self.key." in rest or ".attention.self.value." in rest:
                continue
            for new, old in renames:
                rest = rest.replace(new, old)
            out["module.audio_branch." + rest] = value
        elif key.startswith("audio_projection."):
            out["module." + key.replace("linear1.", "0.").replace("linear2.", "2.")] = value
    # tensors the original file has and the embedding does not use
    out["module.audio_branch.logmel_extractor.melW"] = torch.zeros(513, 64)
    out["module.audio_branch.head.weight"] = torch.zeros(527, 527)
    out["module.audio_branch.layers.0.blocks.1.attn_mask"] = torch.zeros(64, 64, 64)
    out["module.audio_transform.sequential.0.weight"] = torch.zeros(512, 512)
    out["module.text_branch.embeddings.word_embeddings.weight"] = torch.zeros(4, 4)
    out["module.logit_scale_a"] = torch.tensor(2.0)
    return {"epoch": 45, "state_dict": out}


def test_original_laion_checkpoint_is_renamed_and_sized_from_its_tensors(clap_dir, tmp_path):
    _, ref = clap_dir
    ckpt = to_laion_format(ref)
    torch.save(ckpt, tmp_path / "630k-test.pt")
    enc = build_encoder("clap", weights=tmp_path / "630k-test.pt", config="official")  # shapes pick the tiny size
    assert enc.config["depths"] == [1, 1, 1, 1] and enc.config["num_attention_heads"] == [1, 1, 2, 2]
    wav = clip(3.0, seed=12)
    torch.testing.assert_close(ours(enc, wav), reference_embedding(ref, wav), rtol=0, atol=1e-5)
    del ckpt["state_dict"]["module.audio_branch.layers.2.blocks.0.mlp.fc2.bias"]
    torch.save(ckpt, tmp_path / "630k-missing.pt")
    with pytest.raises(CheckpointError, match=r"layers\.2\.blocks\.0\.output\.dense\.bias"):
        build_encoder("clap", weights=tmp_path / "630k-missing.pt", config="tiny")
    ckpt["state_dict"]["module.audio_branch.patch_embed.fusion_model.local_att.0.weight"] = torch.zeros(1)
    torch.save(ckpt, tmp_path / "630k-fused.pt")
    with pytest.raises(CheckpointError, match="fused"):
        build_encoder("clap", weights=tmp_path / "630k-fused.pt", config="tiny")


def test_batch_equals_singles(encoder):
    wavs = [clip(5.0, seed) for seed in (7, 8, 9)]
    with torch.no_grad():
        batch = encoder.embed(torch.from_numpy(np.stack([encoder.prepare(w) for w in wavs])))
    singles = torch.cat([ours(encoder, w) for w in wavs])
    torch.testing.assert_close(batch, singles, rtol=0, atol=1e-5)


def test_very_short_and_very_long_clips_are_deterministic(encoder):
    short, long = clip(0.05, seed=10), clip(60.0, seed=11)
    assert torch.equal(ours(encoder, short), ours(encoder, short))
    # a long clip is cropped to its first 10 s, never at random: bit-identical to embedding that crop
    assert len(encoder.prepare(long)) == 480000
    assert torch.equal(ours(encoder, long), ours(encoder, long[:480000]))


def test_lora_targets_wrap_only_linear_layers():
    from peft import LoraConfig, inject_adapter_in_model

    model = LaionClap(LaionClap.configs["tiny"])
    inject_adapter_in_model(LoraConfig(r=2, target_modules=list(LaionClap.spec.lora_targets)), model)
    wrapped = {name: m for name, m in model.named_modules() if hasattr(m, "lora_A")}
    assert all(isinstance(m.base_layer, nn.Linear) for m in wrapped.values())
    assert all(name.startswith("audio_model.audio_encoder.layers.") for name in wrapped)
    n_blocks = sum(LaionClap.configs["tiny"]["depths"])
    assert len(wrapped) == 6 * n_blocks  # q, k, v, attention output, MLP in, MLP out in every Swin block


@pytest.mark.slow
def test_official_size_matches_transformers_pipeline(tmp_path):
    """Random official-size ClapModel through save_pretrained -> build_encoder vs the transformers pipeline."""
    torch.manual_seed(12)
    audio = dict(LaionClap.configs["official"])
    cfg = ClapConfig(audio_config=audio, projection_dim=audio.pop("projection_dim"),
                     projection_hidden_act=audio.pop("projection_hidden_act"))
    ref = ClapModel(cfg).eval()
    randomise_init_constants(ref)
    ref.save_pretrained(tmp_path)
    enc = build_encoder("clap", weights=tmp_path, config="official")
    n_audio = sum(p.numel() for p in enc.audio_model.parameters()) + sum(
        p.numel() for p in enc.audio_projection.parameters())
    assert n_audio == 28_190_872
    for seconds, seed in ((7.0, 13), (10.0, 14)):
        wav = clip(seconds, seed)
        got, want = ours(enc, wav), reference_embedding(ref, wav)
        assert float((got - want).abs().max() / want.abs().max()) <= 1e-4
