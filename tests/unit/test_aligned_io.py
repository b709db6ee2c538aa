"""The aligned-encoder directory: save/load round trip, merged == unmerged, identity, and clear errors."""

from __future__ import annotations

import json

import pytest
import torch

from adapters import build_encoder
from align.aligned import (
    AlignedError,
    base_identity,
    build_aligned,
    build_base,
    load_aligned,
    load_heads,
    resolve_aligned_dir,
    save_aligned,
    save_base_weights,
    trained_items,
)
from align.heads import ProjectionHead
from align.lora import apply_lora

WAV = torch.randn(3, 24000, generator=torch.Generator().manual_seed(5)) * 0.1


def _fresh_base():
    return build_encoder("opera-gt", config="tiny")  # random weights from build_encoder's fixed init seed


def _write(out, full: bool = False):
    """An aligned directory whose adapter is a random (non-zero) LoRA update; returns the trained encoder."""
    enc = _fresh_base()
    info = {"base": {**base_identity(enc), "tiny": True, "random_init": True}, "teacher": {"path": "none"}}
    info["base"]["base_weights_sha256"] = save_base_weights(enc, out)
    peft_model = None
    if full:
        with torch.no_grad():
            enc.blocks[0].mlp.fc1.weight.add_(0.05)
    else:
        peft_model = apply_lora(enc, rank=4, alpha=8)
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for name, p in enc.named_parameters():
                if "lora_B" in name:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    heads = ProjectionHead(32, 16, 8, 0.2), ProjectionHead(384, 16, 8, 0.2)
    save_aligned(out, enc, peft_model, *heads, info)
    return enc.eval(), heads


@pytest.fixture
def aligned(tmp_path):
    out = tmp_path / "aligned"
    enc, heads = _write(out)
    with torch.no_grad():
        expected = enc.embed(WAV)
    return out, expected, heads


def test_round_trip_gives_identical_embeddings(aligned):
    out, expected, _ = aligned
    loaded = load_aligned(_fresh_base(), out)
    with torch.no_grad():
        assert torch.equal(loaded.embed(WAV), expected)
    assert loaded.frames(WAV).shape[:2] == (3, 64) and loaded.spec.name == "opera-gt"
    assert len(loaded.prepare(WAV[0].numpy())) == 24000


def test_merged_and_unmerged_adapters_agree(aligned):
    out, expected, _ = aligned
    merged = load_aligned(_fresh_base(), out, merge=True)
    assert not any("lora" in n for n, _ in merged.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(merged.embed(WAV), expected, atol=1e-5, rtol=1e-5)
    assert merged.adapter_sha256 == load_aligned(_fresh_base(), out).adapter_sha256


def test_adapter_changes_identity_and_embeddings(aligned):
    out, expected, _ = aligned
    base = _fresh_base()
    with torch.no_grad():
        base_emb = base.embed(WAV)
    loaded = load_aligned(_fresh_base(), out)
    assert loaded.adapter_sha256 and len(loaded.adapter_sha256) == 64
    assert loaded.identity()["adapter_sha256"] == loaded.adapter_sha256
    assert loaded.identity_hash() != base.identity_hash()
    assert (base_emb - expected).abs().max() > 1e-3  # the adapter is not a no-op


def test_loading_leaves_base_weights_unchanged(aligned):
    out, _, _ = aligned
    base_state = {k: v.clone() for k, v in _fresh_base().state_dict().items()}
    state = load_aligned(_fresh_base(), out).state_dict()
    for key, value in base_state.items():
        wrapped = key.replace(".weight", ".base_layer.weight").replace(".bias", ".base_layer.bias")
        assert torch.equal(state.get(key, state.get(wrapped)), value), key


def test_build_from_the_directory_alone(aligned):
    out, expected, heads = aligned
    with torch.no_grad():
        assert torch.equal(build_aligned(out).embed(WAV), expected)
        assert torch.equal(build_base(out).embed(WAV), _fresh_base().embed(WAV))
    assert build_base(out).identity() == _fresh_base().identity()  # the plain tiny model: caches are shared
    audio_head, text_head = load_heads(out)
    for saved, loaded in zip(heads, (audio_head, text_head)):
        for a, b in zip(saved.state_dict().values(), loaded.state_dict().values()):
            assert torch.equal(a, b)
    assert not audio_head.training


def test_base_weights_file_is_used_when_the_random_init_changed(aligned):
    out, expected, _ = aligned
    path = out / "align_config.json"
    info = json.loads(path.read_text())
    info["base"]["state_sha256"] = "0" * 64  # as if build_encoder's random init had changed since training
    path.write_text(json.dumps(info))
    base = build_base(out)
    assert base.weights_path == str(out / "base_weights.safetensors")
    with pytest.raises(AlignedError, match="base weights differ"):
        load_aligned(base, out)  # the recorded state no longer matches anything: refused, not silently used


def test_full_finetune_directory_round_trip(tmp_path):
    enc, _ = _write(tmp_path / "full", full=True)
    loaded = load_aligned(_fresh_base(), tmp_path / "full")
    with torch.no_grad():
        assert torch.equal(loaded.embed(WAV), enc.embed(WAV))
    assert json.loads((tmp_path / "full" / "align_config.json").read_text())["kind"] == "full"


def test_missing_directory_or_file_is_a_clear_error(aligned, tmp_path):
    out, _, _ = aligned
    with pytest.raises(AlignedError, match="directory not found"):
        load_aligned(_fresh_base(), tmp_path / "nowhere")
    (out / "adapter_model.safetensors").unlink()
    with pytest.raises(AlignedError, match="adapter_model.safetensors: missing"):
        load_aligned(_fresh_base(), out)
    (out / "align_config.json").unlink()
    with pytest.raises(AlignedError, match="align_config.json: missing"):
        load_aligned(_fresh_base(), out)


def _edit_base(out, **changes):
    path = out / "align_config.json"
    info = json.loads(path.read_text())
    info["base"].update(changes)
    path.write_text(json.dumps(info))


def test_mismatched_base_names_what_differs(aligned):
    out, _, _ = aligned
    other = _fresh_base()
    with torch.no_grad():
        other.blocks[1].attn.proj.weight.mul_(1.01)  # same architecture, other weights
    with pytest.raises(AlignedError, match="base weights differ"):
        load_aligned(other, out)
    config = json.loads((out / "align_config.json").read_text())["base"]["config"]
    _edit_base(out, config={**config, "depth": 3})
    with pytest.raises(AlignedError, match=r"config differs in \['depth'\]"):
        load_aligned(_fresh_base(), out)
    _edit_base(out, encoder="opera-ct")
    with pytest.raises(AlignedError, match="trained on encoder 'opera-ct', not 'opera-gt'"):
        load_aligned(_fresh_base(), out)


def test_an_encoder_cannot_take_two_adapters(aligned):
    out, _, _ = aligned
    once = load_aligned(_fresh_base(), out)
    with pytest.raises(AlignedError, match="already carries an adapter"):
        load_aligned(once, out)


def test_default_directory():
    assert str(resolve_aligned_dir(None, "opera-gt", tiny=True)) == "runs/align/opera-gt-tiny"
    assert str(resolve_aligned_dir("runs/x/y", "opera-gt")) == "runs/x/y"   # ORG/NAME is a Hub id (test_model_card)


def test_trained_items_are_written_beside_the_adapter(tmp_path):
    enc = _fresh_base()
    info = {"base": {**base_identity(enc), "tiny": True, "random_init": True}, "teacher": {"path": "none"}}
    heads = ProjectionHead(32, 16, 8, 0.0), ProjectionHead(384, 16, 8, 0.0)
    shas = ["b" * 64, "a" * 64, "b" * 64]
    save_aligned(tmp_path, enc, apply_lora(enc, rank=2, alpha=4), *heads, info, trained_sha256=shas)
    assert (tmp_path / "trained_items.txt").read_text() == "a" * 64 + "\n" + "b" * 64 + "\n"
    entry = json.loads((tmp_path / "align_config.json").read_text())["trained_items"]
    assert entry["file"] == "trained_items.txt" and entry["count"] == 2 and len(entry["sha256"]) == 64
    assert trained_items(tmp_path) == {"a" * 64, "b" * 64}
    (tmp_path / "trained_items.txt").write_text("a" * 64 + "\n")
    with pytest.raises(AlignedError, match="trained_items.txt: sha256 differs"):
        trained_items(tmp_path)


def test_adapter_without_trained_items_is_not_checked(aligned):
    out, _, _ = aligned
    assert trained_items(out) is None
