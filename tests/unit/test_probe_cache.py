"""The probe-result cache: a hit returns exactly what the probe computes; any changed input misses; a bad entry is
reported in one line and recomputed, never trusted."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from adapters._code_version import code_modules
from benchmark_tasks._spec import Item, ProbeConfig, TaskSpec
from benchmark_tasks.probe_cache import NotStorable, cached_probe, decode_result, encode_result, probe_key
from benchmark_tasks.result_store import ResultStore
from benchmark_tasks.runner import RunConfig, probe_spec, run_probe


def _task(**changes) -> TaskSpec:
    base = TaskSpec("cache-test", "cache test", "demo", "cough", "binary", "auroc", labels=("no", "yes"),
                    probe=ProbeConfig(epochs=4, batch_size=16))
    return dataclasses.replace(base, **changes)


def _data(n_subjects: int = 24, per: int = 2, d: int = 6, seed: int = 0):
    """Items [N] with labels per subject, splits by subject, and embeddings [N, d] with one informative column."""
    rng = np.random.default_rng(seed)
    items, rows = [], []
    for s in range(n_subjects):
        split = "train" if s < 14 else "val" if s < 18 else "test"
        for k in range(per):
            label = s % 2
            items.append(Item(f"/clips/{s}-{k}.wav", label, split, f"subj{s}"))
            rows.append(rng.standard_normal(d) + np.eye(d)[0] * 1.5 * label)
    return items, np.asarray(rows, dtype=np.float32)


def _cfg(tmp_path, **changes) -> RunConfig:
    return dataclasses.replace(RunConfig(tmp_path / "out", tmp_path / "emb", n_boot=20,
                                         probe_cache_dir=tmp_path / "probes"), **changes)


def _assert_same(a, b):
    """Equal in value and type, arrays bit for bit (NaN equal to NaN)."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


@pytest.mark.parametrize("probe", ["logreg", "opera"])
def test_a_hit_returns_exactly_the_computed_result(tmp_path, probe):
    items, emb = _data()
    task, cfg = _task(), _cfg(tmp_path, probe=probe, seeds=2)
    fresh, cached_fresh = run_probe(task, items, emb, dataclasses.replace(cfg, probe_cache_dir=None))
    first, cached_first = run_probe(task, items, emb, cfg)
    second, cached_second = run_probe(task, items, emb, cfg)
    assert (cached_fresh, cached_first, cached_second) == (False, False, True)
    _assert_same(first, fresh)
    _assert_same(second, fresh)
    assert {"scores", "mean", "std", "ci95", "_test_scores"} <= set(second)


def test_regression_results_are_cached_too(tmp_path):
    items, emb = _data()
    items = [dataclasses.replace(it, label=float(i % 7)) for i, it in enumerate(items)]
    task = _task(kind="regression", metric="mae", labels=(), seeds=1)
    first, _ = run_probe(task, items, emb, _cfg(tmp_path))
    second, hit = run_probe(task, items, emb, _cfg(tmp_path))
    assert hit
    _assert_same(second, first)


def _changed_inputs():
    """(what changed, task, items, embeddings, cfg changes) for each input a result depends on."""
    items, emb = _data()
    flip = [dataclasses.replace(it, label=1 - it.label) if i == 0 else it for i, it in enumerate(items)]
    moved = [dataclasses.replace(it, split="val") if i == 0 else it for i, it in enumerate(items)]
    regrouped = [dataclasses.replace(it, group="other") if i == 0 else it for i, it in enumerate(items)]
    nudged = emb.copy()
    nudged[0, 0] = np.nextafter(nudged[0, 0], np.float32(np.inf))
    return [("label", _task(), flip, emb, {}), ("split", _task(), moved, emb, {}),
            ("group", _task(), regrouped, emb, {}), ("embedding", _task(), items, nudged, {}),
            ("seeds", _task(), items, emb, {"seeds": 3}), ("bootstrap", _task(), items, emb, {"n_boot": 21}),
            ("probe", _task(), items, emb, {"probe": "opera"}),
            ("probe parameter", _task(probe=ProbeConfig(epochs=5, batch_size=16)), items, emb, {}),
            ("carved validation", _task(options={"validation": "carved"}), items, emb, {})]


def _key(task, items, emb, cfg) -> str:
    return probe_key(emb, [it.label for it in items], [it.split for it in items], [it.group for it in items],
                     probe_spec(task, cfg))


@pytest.mark.parametrize("case", _changed_inputs(), ids=lambda c: c[0])
def test_any_changed_input_misses(tmp_path, case):
    _, task, items, emb, cfg_changes = case
    base_items, base_emb = _data()
    base = _key(_task(), base_items, base_emb, _cfg(tmp_path, seeds=2))
    assert _key(_task(), base_items, base_emb, _cfg(tmp_path, seeds=2)) == base   # the key is deterministic
    assert _key(task, items, emb, _cfg(tmp_path, **{"seeds": 2, **cfg_changes})) != base


def test_a_changed_label_is_refitted_not_read(tmp_path):
    items, emb = _data()
    run_probe(_task(), items, emb, _cfg(tmp_path))
    flipped = [dataclasses.replace(it, label=1 - it.label) if it.split == "test" else it for it in items]
    result, hit = run_probe(_task(), flipped, emb, _cfg(tmp_path))
    fresh, _ = run_probe(_task(), flipped, emb, _cfg(tmp_path, probe_cache_dir=None))
    assert not hit
    _assert_same(result, fresh)


def test_the_key_covers_the_probe_code():
    covered = code_modules("benchmark_tasks.runner", "benchmark_tasks.probe_cache")
    assert {"benchmark_tasks.probe_cv", "benchmark_tasks.probe_linear", "benchmark_tasks.probe_regression",
            "benchmark_tasks.metrics", "benchmark_tasks.runner", "benchmark_tasks.probe_cache"} <= set(covered)
    assert probe_spec(_task(), RunConfig("o", "c"))["code"]


def _entry(tmp_path) -> tuple:
    items, emb = _data()
    cfg = _cfg(tmp_path)
    run_probe(_task(), items, emb, cfg)
    (path,) = (tmp_path / "probes").rglob("*.res")
    return items, emb, cfg, path


def _truncate(p):
    p.write_bytes(p.read_bytes()[:-7])


def _flip_last_byte(p):
    raw = bytearray(p.read_bytes())
    raw[-3] ^= 0x01
    p.write_bytes(bytes(raw))


def _another_keys_entry(p):
    other = ResultStore(p.parent.parent).save("ab" + "0" * 62, b'{"format": "x"}')
    p.write_bytes(other.read_bytes())


@pytest.mark.parametrize("damage", [lambda p: p.write_bytes(b""), lambda p: p.write_bytes(b"garbage" * 20),
                                    _truncate, _flip_last_byte, _another_keys_entry],
                         ids=["empty", "garbage", "truncated", "changed payload", "another key"])
def test_a_corrupt_entry_is_reported_in_one_line_and_recomputed(tmp_path, capsys, damage):
    items, emb, cfg, path = _entry(tmp_path)
    good, _ = run_probe(_task(), items, emb, cfg)
    damage(path)
    capsys.readouterr()
    result, hit = run_probe(_task(), items, emb, cfg)
    err = capsys.readouterr().err.strip().splitlines()
    assert not hit
    assert len(err) == 1 and "corrupt" in err[0] and str(path) in err[0]
    _assert_same(result, good)
    again, hit = run_probe(_task(), items, emb, cfg)   # the recomputed result was stored over the bad entry
    assert hit and capsys.readouterr().err == ""
    _assert_same(again, good)


def test_a_payload_that_passes_the_checksum_but_does_not_decode_is_recomputed(tmp_path, capsys):
    store = ResultStore(tmp_path, "probe result")
    store.save("cd" + "1" * 62, b"not json")
    result, hit = cached_probe(tmp_path, "cd" + "1" * 62, lambda: {"mean": 0.5})
    assert (result, hit) == ({"mean": 0.5}, False)
    assert "corrupt" in capsys.readouterr().err


def test_no_cache_dir_always_computes(tmp_path):
    calls = []
    for _ in range(2):
        cached_probe(None, "ef" + "2" * 62, lambda: calls.append(1) or {"mean": 1.0})
    assert len(calls) == 2 and not list(tmp_path.iterdir())


def test_the_codec_keeps_values_and_types():
    value = {"f": 0.1 + 0.2, "np": np.float64(1 / 3), "f32": np.float32(0.7), "i": np.int64(-3), "n": None,
             "b": True, "nan": float("nan"), "t": (np.arange(6, dtype=np.int64), np.ones((2, 1, 2))),
             "l": [1, "x", [2.5]], "empty": np.zeros((0, 3), dtype=np.float32)}
    _assert_same(decode_result(encode_result(value)), value)
    with pytest.raises(NotStorable):
        encode_result({"o": np.array([object()], dtype=object)})
