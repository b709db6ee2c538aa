"""extract_embeddings with its decode stage in a background thread (benchmark_tasks.prefetch) gives exactly what the
same stages run one after the other give: embeddings bit for bit and every ExtractionResult field, for mixed
good/unreadable/warned files, partly cached sets, several sample rates and native-rate grouping; failures in the
decode stage surface in the caller and leave only whole cache entries."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import soundfile as sf

import benchmark_tasks.embeddings as embeddings
from adapters import build_encoder
from benchmark_tasks import Item
from benchmark_tasks.embeddings import ExtractionFailed, extract_embeddings
from benchmark_tasks.prefetch import InOrder
from benchmark_tasks.preprocess import Preprocess


def _noise(path, seconds, sr, seed):
    sf.write(path, 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * sr)), sr)
    return path


def _mixed_items(root):
    """Good clips at 16/44.1/8 kHz of several lengths, a silent file, a truncated wav, and three unreadable files."""
    root.mkdir(exist_ok=True)
    paths = [_noise(root / f"g{i}.wav", 0.5 + 0.25 * (i % 3), (16000, 44100, 8000)[i % 3], i) for i in range(7)]
    sf.write(root / "zero.wav", np.zeros(8000), 16000)
    cut = _noise(root / "cut.wav", 1.0, 16000, 99)
    cut.write_bytes(cut.read_bytes()[: 44 + 2 * 9000])
    (root / "empty.wav").write_bytes(b"")
    (root / "text.wav").write_text("not audio")
    paths[3:3] = [root / "zero.wav", root / "missing.wav", cut, root / "empty.wav"]
    paths.append(root / "text.wav")
    return [Item(path=str(p), label=i % 2, split="train", group=f"s{i}") for i, p in enumerate(paths)]


def _fields(res, cache):
    """Every ExtractionResult field, cache paths made relative so that two cache folders compare equal."""
    repaired = [{**r, "entry": r["entry"].replace(str(cache), "CACHE")} for r in res.repaired]
    return ([it.path for it in res.ok_items], res.errors, res.computed, res.cached, res.warnings, repaired,
            res.precision, res.embeddings.dtype, res.embeddings.shape)


def _both_ways(monkeypatch, tmp_path, run):
    """run(cache_dir) once with the prefetch thread and once in order; returns both results and caches."""
    threaded = run(tmp_path / "threaded")
    with monkeypatch.context() as m:
        m.setattr(embeddings, "Prefetch", InOrder)
        in_order = run(tmp_path / "in_order")
    return threaded, in_order


@pytest.mark.parametrize("encoder,prep", [("logmel-stats", Preprocess()),
                                          ("opera-ce", Preprocess(trim_top_db=60, pad_seconds=1.5))])
def test_threaded_pipeline_equals_the_in_order_one(monkeypatch, tmp_path, encoder, prep):
    enc = build_encoder(encoder, config="tiny") if encoder != "logmel-stats" else build_encoder(encoder)
    items = _mixed_items(tmp_path / "audio")
    some = [items[i] for i in (0, 2, 5)]

    def run(cache):
        extract_embeddings(enc, some, cache, prep=prep, progress=False)               # partly cached
        entry = next(cache.rglob("*.emb"))
        entry.write_bytes(entry.read_bytes()[:10])                                     # and one entry corrupt
        return extract_embeddings(enc, items, cache, prep=prep, batch_size=3, on_error="skip", progress=False)

    threaded, in_order = _both_ways(monkeypatch, tmp_path, run)
    assert _fields(threaded, tmp_path / "threaded") == _fields(in_order, tmp_path / "in_order")
    np.testing.assert_array_equal(threaded.embeddings, in_order.embeddings)
    assert threaded.cached == 2 and len(threaded.repaired) == 1 and len(threaded.errors) == 3
    assert {w["warning"].split(":")[0] for w in threaded.warnings} == {"all samples are zero (a silent file)",
                                                                       "truncated wav"}


def test_native_rate_groups_are_the_same_with_the_thread(monkeypatch, tmp_path):
    enc = build_encoder("logmel-stats").with_native_rate(True)
    items = _mixed_items(tmp_path / "audio")
    threaded, in_order = _both_ways(monkeypatch, tmp_path, lambda cache: extract_embeddings(
        enc, items, cache, batch_size=4, on_error="skip", progress=False))
    assert _fields(threaded, tmp_path / "threaded") == _fields(in_order, tmp_path / "in_order")
    np.testing.assert_array_equal(threaded.embeddings, in_order.embeddings)


def test_unreadable_files_fail_the_run_with_the_same_list(monkeypatch, tmp_path):
    enc = build_encoder("logmel-stats")
    items = _mixed_items(tmp_path / "audio")
    raised = []

    def run(cache):
        with pytest.raises(ExtractionFailed) as info:
            extract_embeddings(enc, items, cache, batch_size=2, progress=False)
        raised.append((info.value.errors, str(info.value)))
        return extract_embeddings(enc, items, cache, batch_size=2, on_error="skip", progress=False)

    _both_ways(monkeypatch, tmp_path, run)
    assert raised[0] == raised[1] and len(raised[0][0]) == 3


@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_a_failure_in_the_decode_thread_surfaces_and_leaves_whole_entries(monkeypatch, tmp_path, failure):
    enc = build_encoder("logmel-stats")
    items = [Item(str(_noise(tmp_path / f"c{i}.wav", 0.5, 16000, i)), i % 2, "train", f"s{i}") for i in range(8)]
    inner = embeddings.read_audio

    def breaks_on_the_fifth_file(path):
        if str(path) == items[4].path:
            raise failure("decoder crashed")
        return inner(path)

    with monkeypatch.context() as m:
        m.setattr(embeddings, "read_audio", breaks_on_the_fifth_file)
        with pytest.raises(failure, match="decoder crashed"):
            extract_embeddings(enc, items, tmp_path / "cache", batch_size=2, progress=False)
    assert not [t for t in threading.enumerate() if t.name == "acula-prefetch"]
    assert not list((tmp_path / "cache").rglob("*.tmp"))
    assert len(list((tmp_path / "cache").rglob("*.emb"))) == 4     # the two batches before the failing one
    res = extract_embeddings(enc, items, tmp_path / "cache", batch_size=2, progress=False)
    assert res.cached == 4 and res.computed == 4
