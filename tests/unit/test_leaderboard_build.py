"""The leaderboard built from fixture records, checked cell by cell (markdown and csv).

The fixture: five rows (OPERA-CT official weights, tiny OPERA-GT base with a linear and a logreg probe, its
aligned version, BEATs) on T5, T7 (AUROC) and T13 (MAE). BEATs' T5 was scored on another split, so T5 has two
flagged columns. OPERA-CT's official weights were pretrained on T5's and T7's datasets (†), the tiny OPERA-GT
lists the same corpora but has no official weights (no †), the aligned row trained on T7 test items (‡), BEATs
skipped 3 files on T7. Base and aligned have per-item test scores on T5 only.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from benchmark_tasks.leaderboard import build, write_leaderboard
from benchmark_tasks.leaderboard_text import render_csv, render_markdown
from benchmark_tasks.paired import paired_difference, write_test_scores
from benchmark_tasks.records import load_records, write_record

W_CT, W_BEATS, ADAPTER = "c7" * 32, "be" * 32, "ad" * 32
DATASETS = {"T5": "coughvid", "T7": "icbhi", "T13": "mmlung"}


def record(task, label, mean, ci=None, *, encoder="opera-gt", weights=None, adapter=None, probe="linear", fp="fpA",
           metric="auroc", ident=None, **extra) -> dict:
    """A result record with the fields the leaderboard reads."""
    return {"schema": 1, "task": task, "task_version": 1, "encoder": encoder, "encoder_label": label,
            "identity_hash": ident or label.replace("+", "-"), "weights_sha256": weights, "adapter_sha256": adapter,
            "metric": metric, "protocol": {"probe": probe}, "split_fingerprint": fp, "scores": [mean],
            "mean": mean, "std": 0.01 if metric == "auroc" else 0.5, "ci95": list(ci) if ci else None,
            "dataset": DATASETS[task], "pretrained_on": [], "alignment": None, "n_errors": 0, "n_warnings": 0,
            "pipeline_version": "p1", "date": "2026-01-01T00:00:00+00:00", **extra}


def fixture_records() -> list[dict]:
    ct = {"encoder": "opera-ct", "weights": W_CT, "pretrained_on": ["ICBHI", "CoughVID", "UK COVID-19"]}
    gt = {"pretrained_on": ["ICBHI", "CoughVID"]}
    aligned = {"adapter": ADAPTER, "ident": "gt-aligned"}
    beats = {"encoder": "beats", "weights": W_BEATS, "pretrained_on": ["AudioSet-2M"]}
    return [
        record("T5", "opera-ct", 0.8, (0.75, 0.85), **ct),
        record("T7", "opera-ct", 0.85, (0.8, 0.9), **ct),
        record("T13", "opera-ct", 0.9, metric="mae", fp="fpM", **ct),
        record("T5", "opera-gt-tiny", 0.6, (0.55, 0.65), **gt),
        record("T7", "opera-gt-tiny", 0.7, (0.65, 0.75), **gt),
        record("T5", "opera-gt-tiny+aligned", 0.65, (0.6, 0.7), **aligned),
        record("T7", "opera-gt-tiny+aligned", 0.72, (0.67, 0.77), **aligned,
               alignment={"dir": "runs/align", "test_items_used": 0, "test_items_overlap": 4}),
        record("T5", "opera-gt-tiny", 0.58, (0.53, 0.63), probe="logreg", **gt),
        record("T7", "opera-gt-tiny", 0.69, (0.64, 0.74), probe="logreg", **gt),
        record("T5", "beats", 0.7, (0.65, 0.75), fp="fpB", **beats),
        record("T7", "beats", 0.75, (0.7, 0.8), n_errors=3, **beats),
    ]


def per_item_scores(signal: float, seed: int, n: int = 40):
    """keys, labels and [N, 2 seeds, 2 classes] scores with `signal` on the positive class."""
    rng = np.random.default_rng(seed)
    labels = np.array([0, 1] * (n // 2))
    pos = signal * labels[:, None] + rng.standard_normal((n, 2))
    return [f"item{i}" for i in range(n)], labels, np.stack([-pos, pos], axis=2)


@pytest.fixture
def records(tmp_path):
    for rec in fixture_records():
        path = write_record(tmp_path, rec)
        if rec["task"] == "T5" and rec["encoder_label"] in ("opera-gt-tiny", "opera-gt-tiny+aligned") \
                and rec["protocol"]["probe"] == "linear":
            signal = 0.5 if rec["adapter_sha256"] is None else 1.0
            write_test_scores(path, *per_item_scores(signal, seed=len(path.name)))
    order = [r["encoder_label"] + r["protocol"]["probe"] for r in fixture_records()]
    return sorted(load_records(tmp_path), key=lambda r: order.index(r["encoder_label"] + r["protocol"]["probe"]))


HEADER = ("| encoder | probe | weights | adapter | T5 v1 auroc ↑ · split fpA ⚠ | T5 v1 auroc ↑ · split fpB ⚠ "
          "| T7 v1 auroc ↑ · split fpA | T13 v1 mae ↓ · split fpM | mean AUROC (all its tasks) | AUROC tasks "
          "| mean AUROC (1 common task) | MRR (OPERA) |")

OURS = [
    "| opera-ct | linear | c7c7c7c7 | — | 0.800 ± 0.010 [0.750, 0.850]† | — | 0.850 ± 0.010 [0.800, 0.900]† "
    "| 0.900 ± 0.500 | 0.825 | 2/3 | 0.850 | 1.000 (1 task) |",
    "| opera-gt-tiny | linear | — | — | 0.600 ± 0.010 [0.550, 0.650] | — | 0.700 ± 0.010 [0.650, 0.750] | — "
    "| 0.650 | 2/3 | 0.700 | 0.250 (1 task) |",
    "| opera-gt-tiny+aligned | linear | — | adadadad | 0.650 ± 0.010 [0.600, 0.700] | — "
    "| 0.720 ± 0.010 [0.670, 0.770]‡ | — | 0.685 | 2/3 | 0.720 | 0.333 (1 task) |",
    "| opera-gt-tiny | logreg | — | — | 0.580 ± 0.010 [0.530, 0.630] | — | 0.690 ± 0.010 [0.640, 0.740] | — "
    "| 0.635 | 2/3 | 0.690 | — |",
    "| beats | linear | bebebebe | — | — | 0.700 ± 0.010 [0.650, 0.750] | 0.750 ± 0.010 [0.700, 0.800] (3 skipped) "
    "| — | 0.725 | 2/3 | 0.750 | 0.500 (1 task) |",
]

# OPERA's published means for T5, T7, T13 (calculate_rank.py lines 5, 7, 13); T5 fills both T5 columns but
# counts once. MRR over T5, T7 (higher better) and T13 (lower better), ranks with ties at the minimum:
# T5 ranks 7 6 4 1 2 3 5; T7 ranks 7 6 2 1 4 3 5; T13 ranks 7 5 4 3 6 1 2.
PUBLISHED = [
    "| Opensmile | published | — | — | 0.537 ± 0.011 | 0.537 ± 0.011 | 0.579 ± 0.043 | 0.985 ± 0.743 | 0.558 "
    "| 2/2 | 0.579 | 0.143 (3 tasks) |",
    "| VGGish | published | — | — | 0.538 ± 0.028 | 0.538 ± 0.028 | 0.605 ± 0.077 | 0.904 ± 0.568 | 0.572 "
    "| 2/2 | 0.605 | 0.178 (3 tasks) |",
    "| AudioMAE | published | — | — | 0.554 ± 0.004 | 0.554 ± 0.004 | 0.886 ± 0.017 | 0.900 ± 0.551 | 0.720 "
    "| 2/2 | 0.886 | 0.333 (3 tasks) |",
    "| CLAP | published | — | — | 0.599 ± 0.007 | 0.599 ± 0.007 | 0.933 ± 0.005 | 0.896 ± 0.542 | 0.766 "
    "| 2/2 | 0.933 | 0.778 (3 tasks) |",
    "| OPERA-CT | published | — | — | 0.578 ± 0.001 | 0.578 ± 0.001 | 0.855 ± 0.012 | 0.924 ± 0.583 | 0.716 "
    "| 2/2 | 0.855 | 0.306 (3 tasks) |",
    "| OPERA-CE | published | — | — | 0.566 ± 0.008 | 0.566 ± 0.008 | 0.872 ± 0.011 | 0.848 ± 0.607 | 0.719 "
    "| 2/2 | 0.872 | 0.556 (3 tasks) |",
    "| OPERA-GT | published | — | — | 0.552 ± 0.003 | 0.552 ± 0.003 | 0.741 ± 0.011 | 0.892 ± 0.618 | 0.647 "
    "| 2/2 | 0.741 | 0.300 (3 tasks) |",
]


def _table(md: str, after: str) -> list[str]:
    """The table lines (header, rule, rows) that follow the line `after`."""
    lines = md.splitlines()
    start = lines.index(after) + 2 if after else next(i for i, s in enumerate(lines) if s.startswith("| "))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start:end]


def test_markdown_rows_columns_means_and_marks_cell_by_cell(records):
    lb = build(records, n_boot=200)
    md = render_markdown(lb.board, lb.comparisons)
    ours = _table(md, "")
    assert ours[0] == HEADER and ours[1] == "|" + "---|" * 12
    assert ours[2:] == OURS
    title = ("## OPERA published (paper table; github.com/evelyn0414/OPERA @ 3622310, "
             "res_analysis/calculate_rank.py); not run here")
    theirs = _table(md, title)
    assert theirs[0] == HEADER and theirs[2:] == PUBLISHED
    for mark in ("- † the official weights were pretrained on this task's dataset",
                 "- ‡ the adapter was trained with test items", "- ⚠ this task was scored on more than one split",
                 "- (N skipped): N audio files of the task could not be read"):
        assert any(line.startswith(mark) for line in md.splitlines()), mark


def test_base_vs_aligned_table_with_paired_cis(records):
    lb = build(records, n_boot=200)
    md = render_markdown(lb.board, lb.comparisons)
    assert len(lb.comparisons) == 1   # the logreg base has no aligned row; BEATs and OPERA-CT no adapter
    title = "### opera-gt-tiny+aligned (adapter adadadad) − opera-gt-tiny, weights —, probe linear"
    by = {(r["task"], r["encoder_label"], r["protocol"]["probe"]): r for r in records}
    t5 = paired_difference([(by[("T5", "opera-gt-tiny", "linear")], by[("T5", "opera-gt-tiny+aligned", "linear")])],
                           n_boot=200)
    assert _table(md, title) == [
        "| task | base | aligned | aligned − base [paired 95% CI] |", "|---|---|---|---|",
        f"| T5 v1 @fpA | 0.600 | 0.650 | {t5.text()} |",
        "| T7 v1 | 0.700 | 0.720 | +0.020, CI n/a (no per-item scores) |",
        f"| mean AUROC (2 tasks) | 0.650 | 0.685 | {(t5.diff + 0.02) / 2:+.3f}, CI n/a (no per-item scores) |",
    ]
    assert t5.lo < t5.diff < t5.hi


def test_csv_is_one_line_per_result_with_full_keys(records):
    rows = list(csv.reader(io.StringIO(render_csv(build(records, n_boot=50).board))))
    assert rows[0] == ["group", "encoder_label", "encoder", "probe", "weights_sha256", "adapter_sha256",
                       "identity_hash", "task", "task_version", "metric", "split_fingerprint", "mean", "std",
                       "ci95_lo", "ci95_hi", "n_errors", "pretraining_overlap", "test_items", "source"]
    assert rows[1:12] == [
        ["ours", "opera-ct", "opera-ct", "linear", W_CT, "", "opera-ct", "T5", "1", "auroc", "fpA", "0.8", "0.01",
         "0.75", "0.85", "0", "true", "false", "T5__opera-ct__opera-ct__linear.json"],
        ["ours", "opera-ct", "opera-ct", "linear", W_CT, "", "opera-ct", "T7", "1", "auroc", "fpA", "0.85", "0.01",
         "0.8", "0.9", "0", "true", "false", "T7__opera-ct__opera-ct__linear.json"],
        ["ours", "opera-ct", "opera-ct", "linear", W_CT, "", "opera-ct", "T13", "1", "mae", "fpM", "0.9", "0.5",
         "", "", "0", "false", "false", "T13__opera-ct__opera-ct__linear.json"],
        ["ours", "opera-gt-tiny", "opera-gt", "linear", "", "", "opera-gt-tiny", "T5", "1", "auroc", "fpA", "0.6",
         "0.01", "0.55", "0.65", "0", "false", "false", "T5__opera-gt-tiny__opera-gt-tiny__linear.json"],
        ["ours", "opera-gt-tiny", "opera-gt", "linear", "", "", "opera-gt-tiny", "T7", "1", "auroc", "fpA", "0.7",
         "0.01", "0.65", "0.75", "0", "false", "false", "T7__opera-gt-tiny__opera-gt-tiny__linear.json"],
        ["ours", "opera-gt-tiny+aligned", "opera-gt", "linear", "", ADAPTER, "gt-aligned", "T5", "1", "auroc", "fpA",
         "0.65", "0.01", "0.6", "0.7", "0", "false", "false", "T5__opera-gt-tiny+aligned__gt-aligned__linear.json"],
        ["ours", "opera-gt-tiny+aligned", "opera-gt", "linear", "", ADAPTER, "gt-aligned", "T7", "1", "auroc", "fpA",
         "0.72", "0.01", "0.67", "0.77", "0", "false", "true", "T7__opera-gt-tiny+aligned__gt-aligned__linear.json"],
        ["ours", "opera-gt-tiny", "opera-gt", "logreg", "", "", "opera-gt-tiny", "T5", "1", "auroc", "fpA", "0.58",
         "0.01", "0.53", "0.63", "0", "false", "false", "T5__opera-gt-tiny__opera-gt-tiny__logreg.json"],
        ["ours", "opera-gt-tiny", "opera-gt", "logreg", "", "", "opera-gt-tiny", "T7", "1", "auroc", "fpA", "0.69",
         "0.01", "0.64", "0.74", "0", "false", "false", "T7__opera-gt-tiny__opera-gt-tiny__logreg.json"],
        ["ours", "beats", "beats", "linear", W_BEATS, "", "beats", "T5", "1", "auroc", "fpB", "0.7", "0.01", "0.65",
         "0.75", "0", "false", "false", "T5__beats__beats__linear.json"],
        ["ours", "beats", "beats", "linear", W_BEATS, "", "beats", "T7", "1", "auroc", "fpA", "0.75", "0.01", "0.7",
         "0.8", "3", "false", "false", "T7__beats__beats__linear.json"],
    ]
    source = "github.com/evelyn0414/OPERA @ 3622310, res_analysis/calculate_rank.py"
    assert rows[12:15] == [
        ["published", "Opensmile", "Opensmile", "published", "", "", "", "T5", "", "auroc", "", "0.537", "0.011", "",
         "", "0", "false", "false", source],
        ["published", "Opensmile", "Opensmile", "published", "", "", "", "T7", "", "auroc", "", "0.579", "0.043", "",
         "", "0", "false", "false", source],
        ["published", "Opensmile", "Opensmile", "published", "", "", "", "T13", "", "mae", "", "0.985", "0.743", "",
         "", "0", "false", "false", source],
    ]
    assert len(rows) == 1 + 11 + 7 * 3   # published: once per task, though T5 fills two columns


def test_write_leaderboard_writes_every_file(records, tmp_path):
    paths = write_leaderboard(tmp_path / "site", records, n_boot=50)
    assert sorted(paths) == ["csv", "heatmap", "html", "md", "png"]
    assert all(p.parent == tmp_path / "site" and p.stat().st_size > 0 for p in paths.values())
    assert paths["png"].read_bytes()[:4] == paths["heatmap"].read_bytes()[:4] == b"\x89PNG"
