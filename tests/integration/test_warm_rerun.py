"""A warm re-run of `evaluate.py` on one cache: probes and figures read from the cache give the records and files a
cold run writes; `--no-probe-cache` fits the probes again to the same scores."""

from __future__ import annotations

import json

import evaluate

# what legitimately differs between two runs of the same evaluation
VOLATILE = {"date", "timings", "record_path", "error_report"}


def _run(tmp_path, out: str, *extra: str) -> dict[str, dict]:
    argv = ["--encoder", "logmel-stats", "--tasks", "demo-crackles-easy,demo-murmur-hard", "--out",
            str(tmp_path / out), "--cache-dir", str(tmp_path / "cache"), "--no-progress", *extra]
    assert evaluate.main(argv) == 0
    return {p.name: json.loads(p.read_text()) for p in (tmp_path / out / "records").glob("*.json")}


def _stable(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in VOLATILE}


def test_warm_rerun_reads_probes_and_figures_and_writes_the_same_results(tmp_path):
    cold = _run(tmp_path, "cold")
    warm = _run(tmp_path, "warm")
    refit = _run(tmp_path, "refit", "--no-probe-cache")
    assert len(cold) == 2 and cold.keys() == warm.keys() == refit.keys()
    for name in cold:
        assert [r[name]["timings"]["probe_cached"] for r in (cold, warm, refit)] == [False, True, False]
        assert warm[name]["timings"]["computed"] == 0
        assert _stable(warm[name]) == _stable(cold[name]) == _stable(refit[name]), name
        scores = name.replace(".json", ".test_scores.npz")
        assert (tmp_path / "warm" / "records" / scores).read_bytes() == \
               (tmp_path / "cold" / "records" / scores).read_bytes()
    for f in ("leaderboard.png", "leaderboard.md", "leaderboard.html", "leaderboard.csv"):
        assert (tmp_path / "warm" / f).read_bytes() == (tmp_path / "cold" / f).read_bytes(), f
    for kept in ("probes", "figures"):
        assert list((tmp_path / "cache" / kept).rglob("*.res")), kept
