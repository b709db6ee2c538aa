"""Embedding extraction: content-addressed cache, warm runs do no encoder work, killed runs resume, bad files."""

import numpy as np
import pytest
import soundfile as sf

from adapters import build_encoder
from benchmark_tasks import Item
from benchmark_tasks.embeddings import ExtractionFailed, cache_namespace, extract_embeddings
from benchmark_tasks.preprocess import Preprocess


def _items(tmp_path, n=6, sr=16000, equal_lengths=False):
    rng = np.random.default_rng(0)
    items = []
    for i in range(n):
        p = tmp_path / f"clip{i}.wav"
        sf.write(p, 0.1 * rng.standard_normal(int(sr * (0.5 + (0 if equal_lengths else 0.1 * i)))), sr)
        items.append(Item(path=str(p), label=i % 2, split="train", group=f"s{i}"))
    return items


class _Counting:
    """Wraps an encoder's embed to count the clips it encodes."""

    def __init__(self, enc):
        self.n = 0
        inner = enc.embed

        def counted(wav):
            self.n += wav.shape[0]
            return inner(wav)

        enc.embed = counted


def test_warm_cache_does_no_encoder_work(tmp_path):
    enc = build_encoder("logmel-stats")
    items = _items(tmp_path)
    cold = extract_embeddings(enc, items, tmp_path / "cache", progress=False)
    counter = _Counting(enc)
    warm = extract_embeddings(enc, items, tmp_path / "cache", progress=False)
    assert counter.n == 0 and warm.cached == len(items) and warm.computed == 0
    np.testing.assert_array_equal(cold.embeddings, warm.embeddings)


def test_killed_run_resumes_without_recomputing_finished_items(tmp_path):
    enc = build_encoder("logmel-stats")
    items = _items(tmp_path, equal_lengths=True)  # one forward pass per batch of 2
    inner = enc.embed
    calls = {"n": 0}

    def dies_on_second_batch(wav):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # what a killed run looks like from inside
        return inner(wav)

    enc.embed = dies_on_second_batch
    with pytest.raises(KeyboardInterrupt):
        extract_embeddings(enc, items, tmp_path / "cache", batch_size=2, progress=False)
    enc.embed = inner
    counter = _Counting(enc)
    res = extract_embeddings(enc, items, tmp_path / "cache", batch_size=2, progress=False)
    assert counter.n == len(items) - 2 and res.cached == 2
    leftovers = list((tmp_path / "cache").rglob("*.tmp"))
    assert not leftovers


def test_cache_key_follows_content_not_names(tmp_path):
    enc = build_encoder("logmel-stats")
    items = _items(tmp_path, n=2)
    extract_embeddings(enc, items, tmp_path / "cache", progress=False)
    renamed = tmp_path / "renamed.wav"
    renamed.write_bytes((tmp_path / "clip0.wav").read_bytes())
    counter = _Counting(enc)
    extract_embeddings(enc, [Item(str(renamed), 0, "train", "s0")], tmp_path / "cache", progress=False)
    assert counter.n == 0
    sf.write(tmp_path / "clip0.wav", np.zeros(8000), 16000)  # same name, new content
    extract_embeddings(enc, items[:1], tmp_path / "cache", progress=False)
    assert counter.n == 1


def test_namespace_changes_with_preprocessing_and_config():
    a = build_encoder("logmel-stats")
    b = build_encoder("logmel-stats", config={"hop": 320})
    assert cache_namespace(a, Preprocess()) != cache_namespace(b, Preprocess())
    assert cache_namespace(a, Preprocess()) != cache_namespace(a, Preprocess(pad_seconds=2.0))


def test_bad_files_fail_with_all_of_them_listed_or_are_skipped(tmp_path):
    enc = build_encoder("logmel-stats")
    items = _items(tmp_path, n=3)
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "junk.wav").write_text("not audio")
    bad = [Item(str(tmp_path / "empty.wav"), 0, "train", "x"), Item(str(tmp_path / "junk.wav"), 1, "test", "y"),
           Item(str(tmp_path / "gone.wav"), 1, "test", "z")]
    with pytest.raises(ExtractionFailed) as info:
        extract_embeddings(enc, items + bad, tmp_path / "cache", progress=False)
    assert len(info.value.errors) == 3
    res = extract_embeddings(enc, items + bad, tmp_path / "cache", on_error="skip", progress=False)
    assert len(res.ok_items) == 3 and len(res.errors) == 3 and res.embeddings.shape == (3, 128)
    assert {e["path"] for e in res.errors} == {b.path for b in bad}
