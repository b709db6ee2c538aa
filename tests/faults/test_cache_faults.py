"""Fault suite: corrupt embedding-cache entries are detected, named and recomputed, never silently used."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from adapters import build_encoder
from benchmark_tasks import Item
from benchmark_tasks.cache_entry import encode_entry
from benchmark_tasks.embeddings import cache_namespace, extract_embeddings
from benchmark_tasks.preprocess import Preprocess


@pytest.fixture
def setup(tmp_path):
    rng = np.random.default_rng(0)
    items = []
    for i in range(4):
        p = tmp_path / f"clip{i}.wav"
        sf.write(p, 0.1 * rng.standard_normal(8000 + 800 * i), 16000)
        items.append(Item(path=str(p), label=i % 2, split="train", group=f"s{i}"))
    enc = build_encoder("logmel-stats")
    cache = tmp_path / "cache"
    first = extract_embeddings(enc, items, cache, progress=False)
    entries = sorted((cache / cache_namespace(enc, Preprocess())).rglob("*.emb"))
    assert len(entries) == 4
    return enc, items, cache, first, entries


def _corrupt(kind: str, entry, other):
    raw = entry.read_bytes()
    if kind == "truncated":
        entry.write_bytes(raw[: len(raw) - 37])
    elif kind == "zero-bytes":
        entry.write_bytes(b"")
    elif kind == "garbage":
        entry.write_bytes(b"\x93NUMPY garbage that is not an entry" * 3)
    elif kind == "header-garbage":
        entry.write_bytes(raw[:12] + b"{not json" + raw[21:])
    elif kind == "values-altered":   # a well-formed entry whose values were changed (checksum of the old ones)
        body = bytearray(raw)
        body[-4:] = np.float32(0.123).tobytes()
        entry.write_bytes(bytes(body))
    elif kind == "copied-from-another-file":
        entry.write_bytes(other.read_bytes())
    elif kind == "valid-array-other-key":   # a valid entry written for another key: bound to its key, refused
        entry.write_bytes(encode_entry("other-namespace", "0" * 64, np.zeros(128, np.float32)))
    else:
        raise ValueError(kind)


KINDS = ["truncated", "zero-bytes", "garbage", "header-garbage", "values-altered", "copied-from-another-file",
         "valid-array-other-key"]


@pytest.mark.parametrize("kind", KINDS)
def test_corrupt_entry_is_named_and_recomputed(setup, kind, capsys):
    enc, items, cache, first, entries = setup
    _corrupt(kind, entries[1], entries[2])
    again = extract_embeddings(enc, items, cache, progress=False)
    np.testing.assert_array_equal(again.embeddings, first.embeddings)      # the exact recovered output
    assert again.computed == 1 and again.cached == 3
    assert [r["entry"] for r in again.repaired] == [str(entries[1])]
    assert str(entries[1]) in capsys.readouterr().err
    third = extract_embeddings(enc, items, cache, progress=False)          # repaired on disk
    assert third.computed == 0 and not third.repaired
