"""Extraction precision: bf16 runs the encoder under torch's own bfloat16 autocast, returns float32, has its own
cache entries, and fp32 keeps its cache key."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from adapters import build_encoder
from adapters._inference import embed_clips
from benchmark_tasks import Item
from benchmark_tasks.embeddings import cache_namespace, extract_embeddings
from benchmark_tasks.preprocess import Preprocess
from benchmark_tasks.runner import RunConfig


@pytest.fixture(scope="module")
def enc():
    return build_encoder("opera-gt", config="tiny")


def _clips():
    rng = np.random.default_rng(0)
    return [(0.1 * rng.standard_normal(16000 * 3)).astype(np.float32) for _ in range(3)]


def test_bf16_is_torch_autocast_and_returns_float32(enc):
    clips = _clips()
    fp32 = embed_clips(enc, clips)
    bf16 = embed_clips(enc, clips, precision="bf16")
    assert bf16.dtype == np.float32 and bf16.shape == fp32.shape
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        ref = enc.embed(torch.from_numpy(np.stack([enc.prepare(c) for c in clips]))).float().numpy()
    np.testing.assert_allclose(bf16, ref, rtol=1e-5, atol=1e-6)
    assert not np.array_equal(bf16, fp32)                                   # it did compute in bfloat16
    rel = np.linalg.norm(bf16 - fp32, axis=1) / np.linalg.norm(fp32, axis=1)
    assert rel.max() < 0.05                                                 # bfloat16 keeps ~3 significant digits


def test_unknown_precision_is_refused(enc, tmp_path):
    with pytest.raises(ValueError, match="'fp8' is not one of fp32, bf16"):
        embed_clips(enc, _clips(), precision="fp8")
    with pytest.raises(ValueError, match="fp8"):
        extract_embeddings(enc, [], tmp_path, precision="fp8", progress=False)


def test_bf16_has_its_own_cache_entries_and_fp32_keeps_its_key(enc, tmp_path):
    assert cache_namespace(enc, Preprocess(), "fp32") == cache_namespace(enc, Preprocess())
    assert cache_namespace(enc, Preprocess(), "bf16") != cache_namespace(enc, Preprocess())
    items = []
    for i, clip in enumerate(_clips()):
        sf.write(tmp_path / f"{i}.wav", clip, 16000)
        items.append(Item(str(tmp_path / f"{i}.wav"), i % 2, "train", str(i)))
    a = extract_embeddings(enc, items, tmp_path / "c", progress=False)
    b = extract_embeddings(enc, items, tmp_path / "c", progress=False, precision="bf16")
    assert (a.computed, b.computed, a.precision, b.precision) == (3, 3, "fp32", "bf16")
    again = extract_embeddings(enc, items, tmp_path / "c", progress=False, precision="bf16")
    assert again.cached == 3
    np.testing.assert_array_equal(again.embeddings, b.embeddings)
    assert not np.array_equal(a.embeddings, b.embeddings)
    assert RunConfig(tmp_path, tmp_path).precision == "fp32"
