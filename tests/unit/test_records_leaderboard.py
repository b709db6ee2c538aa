"""Result records and the leaderboard built from them."""

import json

import pytest

from benchmark_tasks import Item, TaskSpec, split_fingerprint
from benchmark_tasks.leaderboard import build, render_markdown, write_leaderboard
from benchmark_tasks.leaderboard_stats import common_columns, mean_all, mean_common
from benchmark_tasks.leaderboard_table import pretraining_overlap, used_test_items
from benchmark_tasks.records import load_records, record_filename, write_record


def _rec(task, label, mean, fp="abc", metric="auroc", probe="linear", **extra):
    return {"schema": 1, "task": task, "task_version": 1, "encoder": label, "encoder_label": label,
            "identity_hash": "0123456789abcdef", "weights_sha256": None, "adapter_sha256": None, "metric": metric,
            "mean": mean, "std": 0.01, "ci95": [mean - 0.05, mean + 0.05], "split_fingerprint": fp,
            "date": "2026-11-23", "protocol": {"probe": probe}, **extra}


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


def test_means_over_all_tasks_with_coverage_and_over_common_tasks():
    recs = [_rec("T1", "a", 0.6), _rec("T1", "b", 0.8), _rec("T2", "a", 0.9), _rec("T13", "a", 3.0, metric="mae")]
    board = build(recs).board
    a, b = board.rows
    common = common_columns(board.rows, board.columns)
    assert [c.task for c in common] == ["T1"]
    assert (mean_all(a, board.columns).value, mean_all(a, board.columns).n, mean_all(a, board.columns).of) == \
        (pytest.approx(0.75), 2, 2)
    assert (mean_all(b, board.columns).value, mean_all(b, board.columns).n) == (pytest.approx(0.8), 1)
    assert mean_common(a, common).value == pytest.approx(0.6) and mean_common(b, common).value == pytest.approx(0.8)


def test_different_splits_get_their_own_flagged_columns_and_are_never_averaged(tmp_path):
    recs = [_rec("T1", "a", 0.6, fp="x"), _rec("T1", "b", 0.8, fp="y"), _rec("T2", "a", 0.7, fp="z")]
    md = render_markdown(recs)
    header = md.splitlines()[4]
    assert "| T1 v1 auroc ↑ · split x ⚠ | T1 v1 auroc ↑ · split y ⚠ | T2 v1 auroc ↑ · split z |" in header
    assert "| a | linear | — | — | 0.600 ± 0.010 [0.550, 0.650] | — | 0.700 ± 0.010 [0.650, 0.750] | 0.650 | 2/3 |" \
        in md
    assert "| b | linear | — | — | — | 0.800 ± 0.010 [0.750, 0.850] | — | 0.800 | 1/3 | — |" in md
    assert "mean AUROC (0 common tasks)" in md
    paths = write_leaderboard(tmp_path, recs)
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"


def test_task_spec_rejects_bad_definitions():
    with pytest.raises(ValueError, match="kind"):
        TaskSpec(id="x", name="x", dataset="d", modality="lung", kind="ordinal", metric="auroc", labels=("a", "b"))
    with pytest.raises(ValueError, match="two labels"):
        TaskSpec(id="x", name="x", dataset="d", modality="lung", kind="binary", metric="auroc", labels=("a",))


def test_pretraining_overlap_only_for_official_weights_and_test_item_alignment_is_flagged():
    official = {"weights_sha256": "f" * 64, "pretrained_on": ["ICBHI", "CoughVID", "UK COVID-19"]}
    a = _rec("T5", "opera-ct", 0.6, dataset="coughvid", **official)
    b = _rec("T1", "opera-ct", 0.6, dataset="ukcovid", **official)
    c = _rec("T5", "opera-ct-tiny", 0.6, dataset="coughvid", pretrained_on=["CoughVID"])   # random weights
    d = _rec("T7", "beats", 0.7, dataset="icbhi", weights_sha256="e" * 64, pretrained_on=["AudioSet-2M"])
    assert [pretraining_overlap(r) for r in (a, b, c, d)] == [True, True, False, False]
    used = _rec("T7", "gt+aligned", 0.8, adapter_sha256="a" * 64, alignment={"test_items_used": 12})
    overlap = _rec("T7", "gt+aligned", 0.8, alignment={"test_items_used": 0, "test_items_overlap": 3})
    clean = _rec("T7", "gt+aligned", 0.8, alignment={"allow_test_items": False, "test_items_used": 0,
                                                       "test_items_overlap": 0})
    assert [used_test_items(r) for r in (used, overlap, clean, d)] == [True, True, False, False]
    md = render_markdown([a, b, c, d, used])
    assert "| 0.600 ± 0.010 [0.550, 0.650]† |" in md and "0.800 ± 0.010 [0.750, 0.850]‡" in md
    assert md.count("†") == 3 and "not comparable" in md   # two cells and the footnote
