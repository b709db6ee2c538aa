"""Benchmarks (not run in CI; `make bench`): speed reported as ratios against a named reference, one run each.

Each benchmark records its figures in the session report (tests/perf/_report.py: bench/report.json and
bench/report.md). Nothing here asserts a time:
the assertions check only that both sides computed the same thing.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from _report import figure


def _best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _report(name: str, ours: float, ref: float, ref_name: str, target: float | None = None, **extra) -> None:
    """One speed figure: the reference's time over ours (a speed-up), with its target when it has one."""
    speedup = ref / ours
    figure(name, ours, "s", reference=ref, reference_name=ref_name, ratio=speedup,
           target=f">= {target}x" if target else "", met=None if target is None else speedup >= target,
           note=f"{torch.get_num_threads()} torch threads", **extra)


def test_opera_logmel_vs_librosa_batch_of_32_clips():
    """OPERA front end for 32 x 8.18 s clips: our batched torch log-mel vs librosa clip by clip (OPERA's code path)."""
    librosa = pytest.importorskip("librosa")
    from adapters._opera_frontend import opera_logmel

    rng = np.random.default_rng(0)
    wav = (0.1 * rng.standard_normal((32, 130880))).astype(np.float32)

    def ref():
        out = []
        for clip in wav:
            m = librosa.feature.melspectrogram(y=clip, sr=16000, n_fft=1024, hop_length=512, n_mels=64, fmin=50,
                                               fmax=8000)
            db = librosa.power_to_db(m, ref=np.max)
            out.append((db - db.min()) / (db.max() - db.min()))
        return np.stack(out)

    def ours():
        with torch.inference_mode():
            return opera_logmel(torch.from_numpy(wav)).numpy()

    a, b = ours(), ref()
    assert np.abs(a - b.transpose(0, 2, 1)).max() < 1e-3
    _report("opera_logmel_32x8s", _best_of(ours), _best_of(ref), "librosa per clip")


def test_warm_cache_vs_cold_extraction(tmp_path):
    """Re-running an evaluation: reading the content-addressed cache vs embedding again (tiny OPERA-GT)."""
    import soundfile as sf

    from adapters import build_encoder
    from benchmark_tasks import Item
    from benchmark_tasks.embeddings import extract_embeddings

    rng = np.random.default_rng(0)
    items = []
    for i in range(64):
        p = tmp_path / f"{i}.wav"
        sf.write(p, 0.1 * rng.standard_normal(16000 * 5), 16000)
        items.append(Item(str(p), i % 2, "train", str(i)))
    enc = build_encoder("opera-gt", config="tiny")
    t0 = time.perf_counter()
    cold = extract_embeddings(enc, items, tmp_path / "c", progress=False)
    cold_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm = extract_embeddings(enc, items, tmp_path / "c", progress=False)
    warm_s = time.perf_counter() - t0
    np.testing.assert_array_equal(cold.embeddings, warm.embeddings)
    assert (cold.computed, warm.computed, warm.cached) == (64, 0, 64)
    _report("extract_64x5s_warm_vs_cold", warm_s, cold_s, "cold extraction (tiny opera-gt)", target=20)


def test_cli_listing_time():
    """`--list-encoders` and `--list-tasks` wall time vs a bare `python -c pass` start (the floor)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]

    def run(*args):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=root, check=True, capture_output=True)
        return time.perf_counter() - t0

    floor = min(run("-c", "pass") for _ in range(3))
    for flag in ("--list-encoders", "--list-tasks"):
        took = min(run("evaluate.py", flag) for _ in range(3))
        _report(f"cli{flag}", took, floor, "bare interpreter start", seconds=round(took, 3))


def test_warm_evaluate_rerun(tmp_path):
    """`python evaluate.py --encoder logmel-stats --tasks demo` run on one cache: a warm run (every embedding, probe
    result and leaderboard figure cached, a new out dir) end to end, wall time, best of two, target <= 3 s. The first
    run (demo data generated, every clip embedded, every probe fitted) is its reference. The note splits the warm
    run by the records' own timings: extraction (hashing the audio files, reading cache entries), probes (read from
    the probe cache: benchmark_tasks/probe_cache.py) and the rest (interpreter, imports, encoder build, leaderboard
    files), with `python -c "import torch"` timed between the warm runs (the floor of any run that builds an
    encoder); and gives a warm run with `--no-probe-cache` (probes fitted again: 8 cross-validated logistic
    regressions with bootstrap CIs). Where the rest goes: tests/perf/profile_warm_run.py."""
    import json
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "ACULA_ZOO_CACHE": str(tmp_path / "cache")}

    def run(out: str, *extra: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "evaluate.py", "--encoder", "logmel-stats", "--tasks", "demo", "--out",
                        str(tmp_path / out), "--no-progress", *extra], cwd=root, env=env, check=True,
                       capture_output=True)
        return time.perf_counter() - t0

    def records(out: str) -> list[dict]:
        return [json.loads(p.read_text()) for p in (tmp_path / out / "records").glob("*.json")]

    def torch_import() -> float:   # the floor of any run that builds an encoder, timed between the warm runs
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], cwd=root, env=env, check=True, capture_output=True)
        return time.perf_counter() - t0

    cold_s = run("cold")
    warm_runs = {"warm": run("warm"), "refit": run("refit", "--no-probe-cache")}
    floor_s = torch_import()
    warm_runs["warm2"] = run("warm2")
    floor_s = min(floor_s, torch_import())
    best = min(("warm", "warm2"), key=warm_runs.get)
    warm_s, warm, cold = warm_runs[best], records(best), records("cold")
    assert len(warm) == 8 and all(r["timings"]["computed"] == 0 and r["timings"]["probe_cached"] for r in warm)
    assert all(not r["timings"]["probe_cached"] for r in records("refit") + cold)
    for other in (cold, records("refit")):
        assert {r["task"]: (r["mean"], r["ci95"]) for r in warm} == {r["task"]: (r["mean"], r["ci95"]) for r in other}
    extract = sum(r["timings"]["extract_s"] for r in warm)
    probe = sum(r["timings"]["probe_s"] for r in warm)
    figure("evaluate/logmel-stats_demo_warm_rerun", warm_s, "s", reference=cold_s,
           reference_name="first run (demo generated, all clips embedded, all probes fitted)", ratio=cold_s / warm_s,
           target="<= 3 s", met=warm_s <= 3.0, warm_no_probe_cache_s=round(warm_runs["refit"], 2),
           torch_import_s=round(floor_s, 2),
           note=f"warm run (best of 2): extraction {extract:.1f} s, probes {probe:.1f} s (8 of 8 read from the "
                f"probe cache), rest {warm_s - extract - probe:.1f} s, of which `import torch` alone takes "
                f"{floor_s:.1f} s; with --no-probe-cache {warm_runs['refit']:.1f} s")
