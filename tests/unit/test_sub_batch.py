"""EncoderSpec.sub_batch: embed_clips runs each batch in passes of the declared size, with the same embeddings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from adapters import build_encoder
from adapters._inference import embed_clips, embed_in_sub_batches, sub_batch_size
from adapters._spec import EncoderSpec

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _clips(n: int, seconds: float, rate: int) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [(0.1 * rng.standard_normal(int(seconds * rate))).astype(np.float32) for _ in range(n)]


def _with_sub_batch(encoder, size):
    encoder.spec = dataclasses.replace(type(encoder).spec, sub_batch=size)
    return encoder


@pytest.mark.parametrize("name", ["opera-ct", "clap", "opera-gt"])
def test_sub_batches_give_the_same_embeddings(name, monkeypatch):
    torch.manual_seed(0)
    enc = build_encoder(name, config="tiny").eval()
    clips = _clips(5, 3.0, enc.spec.sample_rate)
    whole = embed_clips(_with_sub_batch(enc, None), clips, batch_size=5)
    sizes = []
    original = enc.embed_windowed
    monkeypatch.setattr(enc, "embed_windowed", lambda wav, w: sizes.append(wav.shape[0]) or original(wav, w))
    parts = embed_clips(_with_sub_batch(enc, 2), clips, batch_size=5)
    assert sizes == [2, 2, 1]                                   # the batch of 5 ran as passes of 2, 2, 1
    rel = np.linalg.norm(parts - whole, axis=1) / np.linalg.norm(whole, axis=1)
    assert rel.max() < 1e-6, rel


def test_sub_batch_size_is_capped_by_the_batch_and_defaults_to_it():
    enc = build_encoder("opera-ct", config="tiny")
    assert sub_batch_size(_with_sub_batch(enc, None), 7) == 7
    assert sub_batch_size(_with_sub_batch(enc, 4), 7) == 4
    assert sub_batch_size(_with_sub_batch(enc, 16), 7) == 7


def test_explicit_sub_batch_overrides_the_spec():
    enc = _with_sub_batch(build_encoder("opera-ct", config="tiny").eval(), 1)
    wav = torch.from_numpy(np.stack(_clips(3, 1.0, 16000)))
    calls = []
    original = enc.embed_windowed
    enc.embed_windowed = lambda w, windowing: calls.append(w.shape[0]) or original(w, windowing)
    with torch.inference_mode():
        embed_in_sub_batches(enc, wav, None, sub_batch=3)
    assert calls == [3]


@pytest.mark.parametrize("bad", [0, -1, 2.0, "4"])
def test_spec_refuses_a_bad_sub_batch(bad):
    with pytest.raises(ValueError, match="sub_batch"):
        EncoderSpec(name="x", sample_rate=16000, embed_dim=4, sub_batch=bad)
