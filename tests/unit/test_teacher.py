"""TextTeacher: pooling over real tokens (mean, last, cls), dtypes, prefixes, Gemma 3 (multimodal and text-only),
the on-disk cache, release, the offline MiniLM default."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch

from align.teacher import TextTeacher, pool
from align.tiny_teacher import save_tiny_teacher

SHORT = "no crackles are heard."
LONG = "a 63-year-old male with coarse crackles, expiratory wheezes and a productive cough " * 6


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """Random-weight tiny BERT (encoder), Llama (decoder), Gemma 3 text-only and Gemma 3 multimodal (MedGemma's
    layout) checkpoints, 32 wide, sharing MiniLM's tokenizer."""
    root = tmp_path_factory.mktemp("teachers")
    return {arch: save_tiny_teacher(root / arch, arch) for arch in ("bert", "llama", "gemma3_text", "gemma3")}


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


def test_identity_names_weights_dtype_pooling_and_prefix(tiny_models):
    ident = TextTeacher(tiny_models["llama"]).identity()
    assert ident["path"] == str(tiny_models["llama"]) and len(ident["sha256"]) == 64
    assert ident["pooling"] == "mean" and "attention-mask" in ident["pooling_rule"] and ident["max_length"] == 256
    assert ident["dtype"] == "float32" and ident["prefix"] == ""
    other = TextTeacher(tiny_models["llama"], dtype="bf16", pooling="last", prefix="Report: ").identity()
    assert (other["dtype"], other["pooling"], other["prefix"]) == ("bfloat16", "last", "Report: ")
    again = TextTeacher.from_identity(other)  # what zero-shot scoring rebuilds from align_config.json
    assert (again.dtype, again.pooling, again.prefix, again.max_length) == ("bfloat16", "last", "Report: ", 256)
    assert TextTeacher.from_identity({**ident, "pooling": "mean of last_hidden_state over attention-mask tokens"}
                                     ).pooling == "mean"  # entries written before pooling modes existed


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


# -- decoder LMs: Gemma 3 (MedGemma's layout), dtypes, pooling modes, prefix, release ----------------------------
def test_gemma3_multimodal_checkpoint_loads_its_text_model_only(tiny_models):
    from transformers import AutoModel, Gemma3TextModel

    teacher = TextTeacher(tiny_models["gemma3"], max_length=128)
    assert teacher.config.model_type == "gemma3" and teacher.dim == 32
    emb = teacher.encode([SHORT, LONG])
    assert emb.shape == (2, 32) and torch.isfinite(emb).all()
    assert isinstance(teacher.model, Gemma3TextModel)
    assert not any("vision" in name for name, _ in teacher.model.named_modules())
    # the same numbers as the whole multimodal model fed text only (its forward wants no pixel values then)
    full = AutoModel.from_pretrained(str(tiny_models["gemma3"])).eval()
    enc = teacher.tokenizer([SHORT], return_tensors="pt")
    with torch.no_grad():
        ref = full(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state.mean(1)
    torch.testing.assert_close(emb[0], ref[0], atol=1e-5, rtol=1e-5)


def test_gemma3_text_checkpoint(tiny_models):
    from transformers import Gemma3TextModel

    teacher = TextTeacher(tiny_models["gemma3_text"], max_length=128)
    assert teacher.config.model_type == "gemma3_text"
    alone, batched = teacher.encode([SHORT]), teacher.encode([LONG, SHORT])
    assert isinstance(teacher.model, Gemma3TextModel) and batched.shape == (2, 32)
    torch.testing.assert_close(batched[1], alone[0], atol=1e-5, rtol=1e-5)


# bf16 weights against fp32 (pooling in fp32 both times), measured on these tiny random models: relative L2 error
# of an embedding <= 1.0% and cosine >= 0.99995; the test allows 3% and 0.999.
@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_bf16_runs_end_to_end_close_to_fp32(tiny_models, arch):
    texts = [SHORT, LONG, "grade 3 holosystolic murmur at the apex"]
    ref = TextTeacher(tiny_models[arch], max_length=128).encode(texts)
    half = TextTeacher(tiny_models[arch], max_length=128, dtype="bf16")
    emb = half.encode(texts)
    assert half.model.dtype == torch.bfloat16 and emb.dtype == torch.float32 and torch.isfinite(emb).all()
    rel = (emb - ref).norm(dim=1) / ref.norm(dim=1)
    assert rel.max() < 0.03, rel
    assert torch.nn.functional.cosine_similarity(emb, ref).min() > 0.999


def test_pool_picks_the_documented_tokens_for_left_and_right_padding():
    hidden = torch.randn(2, 5, 3)
    hidden[0, 3:] = float("nan")  # padding may hold anything
    right = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    torch.testing.assert_close(pool(hidden, right, "last"), torch.stack([hidden[0, 2], hidden[1, 4]]))
    torch.testing.assert_close(pool(hidden, right, "cls"), torch.stack([hidden[0, 0], hidden[1, 0]]))
    torch.testing.assert_close(pool(hidden, right, "mean"), torch.stack([hidden[0, :3].mean(0), hidden[1].mean(0)]))
    hidden = torch.randn(2, 5, 3)
    hidden[0, :2] = float("nan")
    left = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    torch.testing.assert_close(pool(hidden, left, "last"), torch.stack([hidden[0, 4], hidden[1, 4]]))
    torch.testing.assert_close(pool(hidden, left, "cls"), torch.stack([hidden[0, 2], hidden[1, 0]]))
    torch.testing.assert_close(pool(hidden, left, "mean"), torch.stack([hidden[0, 2:].mean(0), hidden[1].mean(0)]))
    assert pool(hidden.bfloat16(), left, "mean").dtype == torch.float32


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_last_token_pooling_with_left_and_right_padding(tiny_models, arch):
    """'last' = the state at a text's last real token: the same alone (no padding) as in a batch padded on
    either side, and equal to the state at the last position of the unpadded text computed by hand."""
    right = TextTeacher(tiny_models[arch], max_length=128, pooling="last")
    left = TextTeacher(tiny_models[arch], max_length=128, pooling="last", padding_side="left")
    by_right, by_left = right.encode([SHORT, LONG]), left.encode([SHORT, LONG])
    enc = left.tokenizer([SHORT, LONG], padding=True, return_tensors="pt")
    assert enc["attention_mask"][0, 0] == 0 and enc["attention_mask"][0, -1] == 1  # really padded on the left
    ids = right.tokenizer([SHORT], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        manual = right.model(input_ids=ids).last_hidden_state[0, -1]
    torch.testing.assert_close(by_right[0], manual, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(by_left[0], manual, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(by_left, by_right, atol=1e-5, rtol=1e-5)
    assert (by_right[0] - right.encode([SHORT, LONG]).mean(0)).abs().max() > 1e-4


def test_cls_pooling_is_the_first_token(tiny_models):
    teacher = TextTeacher(tiny_models["bert"], max_length=128, pooling="cls")
    emb = teacher.encode([SHORT, LONG])
    enc = teacher.tokenizer([SHORT], return_tensors="pt")  # alone: no padding
    with torch.no_grad():
        manual = teacher.model(**enc).last_hidden_state[0, 0]
    torch.testing.assert_close(emb[0], manual, atol=1e-5, rtol=1e-5)


def test_prefix_changes_the_embedding_and_the_cache_key(tiny_models, tmp_path):
    plain = TextTeacher(tiny_models["gemma3"], max_length=128, cache_dir=tmp_path)
    prefixed = TextTeacher(tiny_models["gemma3"], max_length=128, cache_dir=tmp_path,
                           prefix="Represent this clinical report: ")
    assert plain._cache_path(SHORT) != prefixed._cache_path(SHORT)
    assert (plain.encode([SHORT]) - prefixed.encode([SHORT])).abs().max() > 1e-4
    # the prefix is put in front of the text: the same as encoding the joined text without a prefix
    joined = TextTeacher(tiny_models["gemma3"], max_length=128).encode(["Represent this clinical report: " + SHORT])
    torch.testing.assert_close(prefixed.encode([SHORT]), joined, atol=1e-5, rtol=1e-5)


def test_cache_key_covers_dtype_pooling_prefix_and_max_length(tiny_models, tmp_path):
    base = dict(cache_dir=tmp_path, max_length=128)
    keys = {TextTeacher(tiny_models["llama"], **{**base, **kw})._cache_path(SHORT)
            for kw in ({}, {"dtype": "bf16"}, {"pooling": "last"}, {"prefix": "Report: "}, {"max_length": 64},
                       {"batch_size": 3})}
    assert len(keys) == 5  # batch size does not change an embedding: no key of its own


def test_bf16_cache_hit_does_no_forward_pass(tiny_models, tmp_path, monkeypatch):
    first = TextTeacher(tiny_models["gemma3"], cache_dir=tmp_path, dtype="bf16")
    expected = first.encode([SHORT, LONG])
    second = TextTeacher(tiny_models["gemma3"], cache_dir=tmp_path, dtype="bf16")
    monkeypatch.setattr(second, "_forward", lambda texts: pytest.fail(f"forward pass for {texts}"))
    torch.testing.assert_close(second.encode([LONG, SHORT]), expected[[1, 0]], atol=0, rtol=0)
    assert second.model is None


def test_release_frees_the_model(tiny_models):
    teacher = TextTeacher(tiny_models["gemma3"], dtype="bf16")
    before = teacher.encode([SHORT])
    ref = weakref.ref(teacher.model)
    ident = teacher.identity()
    teacher.release()
    gc.collect()
    assert teacher.model is None and teacher.tokenizer is None and ref() is None
    assert teacher.identity() == ident and teacher.dim == 32  # still describes itself
    torch.testing.assert_close(teacher.encode([SHORT]), before)  # and reloads on demand
