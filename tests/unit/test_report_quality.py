"""Reports that cannot teach stop alignment before step 0; the shuffled-report control; report quality summary."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from align.__main__ import main
from align.controls import shuffle_reports
from align.data import AlignItem
from align.report_quality import DegenerateReports, check_teachable, summarize_reports
from benchmark_tasks.preprocess import Preprocess


def _quality(reports, metadata=None, emb=None):
    metadata = metadata if metadata is not None else [{"age": i} for i in range(len(reports))]
    emb = emb if emb is not None else np.eye(len(reports))
    return summarize_reports(reports, metadata, emb)


def test_identical_reports_without_metadata_name_the_cause():
    q = _quality(["This is a custom recording."] * 6, [{}] * 6, np.ones((6, 4)))
    assert q.n_distinct_reports == 1 and q.n_distinct_embeddings == 1 and q.top_report_share == 1.0
    with pytest.raises(DegenerateReports, match="no item carries any metadata"):
        check_teachable(q, "template")


def test_one_dominant_report_is_refused_and_llm_is_named():
    reports = ["I'm sorry, I cannot help."] * 8 + ["Crackles at the left base.", "Wheeze on expiration."]
    with pytest.raises(DegenerateReports, match="one report covers 80%.*LLM endpoint"):
        check_teachable(_quality(reports), "llm")


def test_varied_reports_pass_and_are_summarised():
    reports = [f"A {a}-year-old with {f}." for a, f in zip(range(30, 36), ["crackles", "wheeze"] * 3)]
    meta = [{"age": 30 + i, "finding": "crackles" if i % 2 == 0 else "wheeze", "smoker": None} for i in range(6)]
    q = _quality(reports, meta)
    check_teachable(q, "template")
    assert q.n_distinct_reports == 6 and q.field_coverage == {"Age": 1.0, "Findings": 1.0}
    assert q.mean_words == pytest.approx(4.0) and len(q.examples) == 3 and "6 distinct texts" in q.describe()


def test_shuffled_control_keeps_the_reports_and_breaks_the_pairing():
    items = [AlignItem(f"{i}.wav", str(i), "lung", "train", ("T",), {"age": i}, Preprocess(), f"report {i}")
             for i in range(20)]
    shuffled = shuffle_reports(items, seed=0)
    assert sorted(i.report for i in shuffled) == sorted(i.report for i in items)
    assert sum(a.report != b.report for a, b in zip(items, shuffled)) >= 15
    assert [i.path for i in shuffled] == [i.path for i in items]
    assert shuffle_reports(items, seed=0) == shuffled and shuffle_reports(items, seed=1) != shuffled


def _manifest(root, with_metadata: bool):
    """16 one-second clips with a csv manifest (train/val/test), optionally with clinical columns."""
    rng = np.random.default_rng(0)
    rows = ["path,label,split,group" + (",age,diagnosis" if with_metadata else "")]
    for i in range(16):
        sf.write(root / f"c{i}.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
        split = "train" if i < 10 else "val" if i < 13 else "test"
        row = f"c{i}.wav,{i % 2},{split},p{i}"
        if with_metadata:
            row += f",{40 + 3 * i},{'asthma' if i % 2 else 'healthy'}"
        rows.append(row)
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root / "manifest.csv"


ARGS = ["--encoder", "opera-gt", "--tiny", "--steps", "2", "--batch-size", "4", "--grad-accum", "1",
        "--warmup-steps", "1", "--checkpoint-every", "0", "--no-progress", "--ssl", "none", "--train-seconds", "1"]


def test_manifest_without_metadata_stops_alignment_with_one_line(tmp_path, capsys):
    manifest = _manifest(tmp_path, with_metadata=False)
    out = tmp_path / "out"
    code = main(ARGS + ["--tasks", f"csv:{manifest}", "--out", str(out), "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert code == 2 and "Traceback" not in err
    assert last.startswith("python -m align: error: reports cannot teach") and "no item carries any metadata" in last
    assert not (out / "align_config.json").exists()


def test_manifest_with_metadata_trains_and_records_report_quality(tmp_path):
    manifest = _manifest(tmp_path, with_metadata=True)
    out = tmp_path / "out"
    assert main(ARGS + ["--tasks", f"csv:{manifest}", "--out", str(out), "--cache-dir", str(tmp_path / "c")]) == 0
    quality = json.loads((out / "report_quality.json").read_text())
    assert quality["n_items"] == 10 and quality["n_distinct_reports"] >= 2
    assert json.loads((out / "align_config.json").read_text())["reports"]["quality"] == quality


def test_id_columns_reach_the_reports_of_a_manifest(tmp_path):
    """--id-columns: a column the name rules do not catch is never written into a report."""
    from align.config import AlignConfig
    from align.data import collect_for, write_reports

    manifest = _manifest(tmp_path, with_metadata=True)
    text = manifest.read_text().splitlines()
    rows = [text[0] + ",record_code"] + [f"{r},RC-{i:04d}" for i, r in enumerate(text[1:])]
    manifest.write_text("\n".join(rows) + "\n")
    for id_columns, shown in ((None, True), ("record_code", False)):
        cfg = AlignConfig(encoder="opera-gt", tiny=True, tasks=f"csv:{manifest}", id_columns=id_columns,
                          cache_dir=str(tmp_path / "c"))
        items = write_reports(collect_for(cfg).train)
        assert any("RC-0" in i.report for i in items) is shown
        assert all("asthma" in i.report or "healthy" in i.report for i in items)
