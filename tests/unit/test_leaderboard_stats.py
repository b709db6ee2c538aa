"""OPERA's mean reciprocal rank, the published table, and the row/column rules of the leaderboard grid."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark_tasks import published as pub
from benchmark_tasks.leaderboard_stats import mean_all, mean_reciprocal_rank, ranks, ranks_by_probe
from benchmark_tasks.leaderboard_table import Column, build_board, published_rows

# What OPERA's res_analysis/calculate_rank.py (3622310) prints for compute_all, compute_group1 (T1–T12) and
# compute_group2 (T13–T19), models in pub.MODELS order (run with scipy 1.17).
UPSTREAM_MRR_ALL = [0.2912, 0.2289, 0.2489, 0.3435, 0.5632, 0.4412, 0.5298]
UPSTREAM_MRR_CLASSIFICATION = [0.2190, 0.1714, 0.2058, 0.4319, 0.6944, 0.4153, 0.4569]
UPSTREAM_MRR_REGRESSION = [0.4150, 0.3276, 0.3228, 0.1918, 0.3381, 0.4857, 0.6548]


def _published_values(tasks):
    return np.array([[pub.published(t, m).mean for m in pub.MODELS] for t in tasks])


@pytest.mark.parametrize("tasks, want", [(pub.TASKS, UPSTREAM_MRR_ALL), (pub.TASKS[:12], UPSTREAM_MRR_CLASSIFICATION),
                                         (pub.TASKS[12:], UPSTREAM_MRR_REGRESSION)])
def test_mrr_reproduces_calculate_rank_on_the_published_table(tasks, want):
    mrr = mean_reciprocal_rank(_published_values(tasks), [pub.metric_of(t) == "auroc" for t in tasks])
    assert np.round(mrr, 4).tolist() == want


def test_mrr_ties_share_the_best_rank_values_are_ranked_at_3_decimals_and_mae_is_lower_better():
    # task 1 (AUROC): 0.7001 and 0.7004 print as 0.700, a tie at rank 1; 0.65 is rank 3 (rankdata "min": 1 1 3)
    # task 2 (MAE): 2.0 < 2.5 < 3.0 -> ranks 1 2 3
    mrr = mean_reciprocal_rank(np.array([[0.7001, 0.7004, 0.65], [2.5, 3.0, 2.0]]), [True, False])
    assert mrr.tolist() == pytest.approx([(1 + 1 / 2) / 2, (1 + 1 / 3) / 2, (1 / 3 + 1) / 2])


def _rec(task, label, mean, probe="linear", fp="fp", metric="auroc", **extra):
    return {"task": task, "task_version": 1, "encoder": "enc", "encoder_label": label, "identity_hash": "h",
            "metric": metric, "mean": mean, "std": 0.0, "split_fingerprint": fp, "protocol": {"probe": probe},
            "weights_sha256": None, "adapter_sha256": None, **extra}


def test_rows_are_keyed_by_label_weights_adapter_and_probe():
    recs = [_rec("T1", "gt", 0.6), _rec("T1", "gt", 0.62, probe="logreg"), _rec("T1", "gt", 0.64, probe="zero-shot"),
            _rec("T1", "gt+aligned", 0.7, adapter_sha256="a" * 64),
            _rec("T1", "gt+aligned", 0.71, adapter_sha256="b" * 64), _rec("T1", "gt", 0.66, weights_sha256="w" * 64)]
    board = build_board(recs)
    assert [(r.key.label, r.key.probe, r.key.adapter_sha256, r.key.weights_sha256) for r in board.rows] == [
        ("gt", "linear", None, None), ("gt", "logreg", None, None), ("gt", "zero-shot", None, None),
        ("gt+aligned", "linear", "a" * 64, None), ("gt+aligned", "linear", "b" * 64, None),
        ("gt", "linear", None, "w" * 64)]
    assert [next(iter(r.cells.values())).mean for r in board.rows] == [0.6, 0.62, 0.64, 0.7, 0.71, 0.66]


def test_a_second_record_for_one_cell_keeps_the_newer_and_is_reported():
    old = _rec("T1", "gt", 0.6, date="2026-01-01", record_path="old.json")
    new = _rec("T1", "gt", 0.7, date="2026-02-01", record_path="new.json")
    board = build_board([new, old])
    assert next(iter(board.rows[0].cells.values())).mean == 0.7 and board.superseded == ["old.json"]


def test_a_row_with_one_task_on_two_splits_gets_no_mean():
    board = build_board([_rec("T1", "gt", 0.6, fp="x"), _rec("T1", "gt", 0.8, fp="y"), _rec("T2", "gt", 0.7)])
    assert [c.flagged for c in board.columns] == [True, True, False]
    m = mean_all(board.rows[0], board.columns)
    assert m.value is None and m.note == "n/a (a task on two splits)" and (m.n, m.of) == (3, 3)


def test_ranks_are_formed_per_probe_over_the_tasks_every_ranked_row_has():
    recs = [_rec("T1", "a", 0.6), _rec("T1", "b", 0.8), _rec("T2", "a", 0.9), _rec("T2", "b", 0.7),
            _rec("T3", "a", 0.9), _rec("T1", "a", 0.99, probe="logreg")]
    board = build_board(recs)
    got = ranks_by_probe(board.rows, board.columns)
    assert sorted(got) == [0, 1]   # the lone logreg row has nothing to be ranked against
    assert (got[0].mrr, got[0].n_tasks, got[0].n_rows) == (0.75, 2, 2) and got[1].mrr == 0.75


def test_published_rows_cover_only_shown_opera_tasks_with_the_same_metric():
    cols = [Column("T7", "1", "auroc", "fp"), Column("T19", "1", "mae", "fp"), Column("C3", "1", "auroc", "fp"),
            Column("demo-x", "1", "auroc", "fp")]
    rows = published_rows(cols)
    assert [r.key.label for r in rows] == list(pub.MODELS) and all(r.published for r in rows)
    assert [(c.task, cell.mean, cell.std) for c, cell in rows[6].cells.items()] == [("T7", 0.741, 0.011),
                                                                                    ("T19", 2.416, 0.885)]
    assert published_rows([Column("demo-x", "1", "auroc", "fp")]) == []
    assert published_rows([Column("T7", "1", "mae", "fp")]) == []   # not the published metric: not comparable
    mrr = ranks(rows, cols)
    assert mrr[6].n_tasks == 2 and mrr[6].mrr == pytest.approx((1 / 5 + 1) / 2)   # OPERA-GT: T7 rank 5, T19 rank 1


def test_published_table_is_opera_s_and_cites_its_source():
    assert pub.SOURCE_COMMIT.startswith("3622310") and pub.SOURCE_FILE == "res_analysis/calculate_rank.py"
    assert pub.TASKS == tuple(f"T{k}" for k in range(1, 20)) and len(pub.MODELS) == 7
    assert [pub.published("T1", m).mean for m in pub.MODELS] == [0.550, 0.580, 0.549, 0.565, 0.586, 0.551, 0.605]
    assert [pub.published("T19", m).mean for m in pub.MODELS] == [2.714, 2.605, 2.641, 2.650, 2.636, 2.525, 2.416]
    assert [pub.metric_of(t) for t in ("T12", "T13")] == ["auroc", "mae"]
