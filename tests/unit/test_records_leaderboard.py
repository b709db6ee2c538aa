"""Result records and the leaderboard built from them."""

import json

import pytest

from benchmark_tasks import Item, TaskSpec, split_fingerprint
from benchmark_tasks.leaderboard import mean_auroc, render_markdown, write_leaderboard
from benchmark_tasks.records import load_records, record_filename, write_record


def _rec(task, label, mean, fp="abc", metric="auroc"):
    return {"schema": 1, "task": task, "task_version": 1, "encoder": label, "encoder_label": label,
            "identity_hash": "0123456789abcdef", "metric": metric, "mean": mean, "std": 0.01,
            "ci95": [mean - 0.05, mean + 0.05], "split_fingerprint": fp, "date": "2026-11-23",
            "protocol": {"probe": "linear"}}


def test_split_fingerprint_depends_on_membership_split_and_label_not_order():
    a = [Item("a.wav", 0, "train", "s1"), Item("b.wav", 1, "test", "s2")]
    assert split_fingerprint(a) == split_fingerprint(a[::-1])
    assert split_fingerprint(a) != split_fingerprint([a[0], Item("b.wav", 1, "val", "s2")])
    assert split_fingerprint(a) != split_fingerprint([a[0], Item("b.wav", 0, "test", "s2")])


def test_records_round_trip_and_unrelated_json_is_ignored(tmp_path):
    write_record(tmp_path, _rec("T1", "enc-a", 0.7))
    (tmp_path / "records" / "notes.json").write_text(json.dumps({"hello": 1}))
    recs = load_records(tmp_path)
    assert len(recs) == 1 and recs[0]["mean"] == 0.7
    assert record_filename(recs[0]) == "T1__enc-a__0123456789abcdef__linear.json"


def test_mean_auroc_uses_only_tasks_every_encoder_has():
    recs = [_rec("T1", "a", 0.6), _rec("T1", "b", 0.8), _rec("T2", "a", 0.9), _rec("T13", "a", 0.9, metric="mae")]
    assert mean_auroc(recs) == pytest.approx({"a": 0.6, "b": 0.8})


def test_markdown_flags_results_computed_on_different_splits(tmp_path):
    recs = [_rec("T1", "a", 0.6, fp="x"), _rec("T1", "b", 0.8, fp="y"), _rec("T2", "a", 0.7, fp="z")]
    md = render_markdown(recs)
    assert "T1 v1 (splits differ!)" in md and "T2 v1 |" in md and "0.600 ± 0.010 [0.550, 0.650]" in md
    assert "| T2 v1 | auroc ↑ | 0.700 ± 0.010 [0.650, 0.750] | — |" in md
    paths = write_leaderboard(tmp_path, recs)
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"


def test_task_spec_rejects_bad_definitions():
    with pytest.raises(ValueError, match="kind"):
        TaskSpec(id="x", name="x", dataset="d", modality="lung", kind="ordinal", metric="auroc", labels=("a", "b"))
    with pytest.raises(ValueError, match="two labels"):
        TaskSpec(id="x", name="x", dataset="d", modality="lung", kind="binary", metric="auroc", labels=("a",))


def test_pretraining_overlap_and_test_item_alignment_are_flagged():
    a = {**_rec("T5", "opera-ct", 0.6), "dataset": "coughvid", "pretrained_on": ["ICBHI", "CoughVID", "UK COVID-19"]}
    b = {**_rec("T1", "opera-ct", 0.6), "dataset": "ukcovid", "pretrained_on": ["UK COVID-19"]}
    c = {**_rec("T7", "beats", 0.7), "dataset": "icbhi", "pretrained_on": ["AudioSet-2M"]}
    d = {**_rec("T7", "gt+aligned", 0.8), "dataset": "icbhi", "pretrained_on": [],
         "alignment": {"allow_test_items": True, "test_items_used": 12}}
    md = render_markdown([a, b, c, d])
    assert md.count("†") == 3  # two cells and the footnote
    assert "0.700 ± 0.010 [0.650, 0.750] |" in md and "0.800 ± 0.010 [0.750, 0.850]‡" in md
    assert "not comparable" in md
