"""The whole line on the demo benchmark: audio -> encoder -> embeddings -> probe -> record -> leaderboard."""

import json

import pytest

import evaluate
from benchmark_tasks.paired import read_test_scores

REQUIRED = {"schema", "encoder", "encoder_label", "identity_hash", "weights_sha256", "adapter_sha256", "task",
            "task_version", "metric", "protocol", "split_fingerprint", "n_items", "scores", "mean", "std", "ci95",
            "versions", "git_revision", "date", "timings", "pipeline_version"}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cache = tmp_path_factory.mktemp("cache")
    argv = ["--encoder", "logmel-stats,opera-gt", "--tiny", "--tasks", "demo-crackles-easy,demo-murmur-easy",
            "--seeds", "2", "--out", str(out), "--cache-dir", str(cache), "--no-progress"]
    assert evaluate.main(argv) == 0
    return out, cache, argv


def test_records_are_complete_and_valid(demo_run):
    out, _, _ = demo_run
    files = sorted((out / "records").glob("*.json"))
    assert len(files) == 4
    for f in files:
        rec = json.loads(f.read_text())
        assert REQUIRED <= set(rec), REQUIRED - set(rec)
        assert rec["protocol"]["probe"] == "logreg" and len(rec["scores"]) == 1   # demo tasks' default probe
        assert rec["ci95"][0] <= rec["mean"] <= rec["ci95"][1] or abs(rec["ci95"][0] - rec["mean"]) < 0.1
        assert min(rec["n_items"].values()) > 0
        rec["record_path"] = str(f)
        keys, labels, scores = read_test_scores(rec)     # per-item test scores for paired comparisons
        assert len(keys) == rec["n_items"]["test"] and scores.shape[:2] == (len(keys), 1)


def test_easy_demo_task_is_learned_by_the_spectral_baseline(demo_run):
    out, _, _ = demo_run
    rec = json.loads(next((out / "records").glob("demo-crackles-easy__logmel-stats-tiny__*.json")).read_text())
    assert rec["mean"] > 0.75


def test_leaderboard_written_and_rerun_hits_the_cache(demo_run):
    out, _, argv = demo_run
    assert (out / "leaderboard.md").read_text().count("demo-") == 2
    assert (out / "leaderboard.png").exists() and (out / "config.json").exists()
    assert evaluate.main(argv) == 0
    for f in (out / "records").glob("*.json"):
        assert json.loads(f.read_text())["timings"]["computed"] == 0
