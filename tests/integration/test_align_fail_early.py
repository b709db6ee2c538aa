"""`python -m align` decodes every recording before step 0: a corrupt wav stops it at once, or is skipped."""

from __future__ import annotations

import csv
import json

import pytest

from align.__main__ import main

COLUMNS = ("site", "device", "age", "sex", "crackles", "wheeze", "findings", "diagnosis", "symptoms")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    """Lung recordings of a small demo (train and val splits) as a csv manifest, plus one corrupt training wav."""
    from benchmark_tasks.demo import generate_demo, read_metadata

    root = tmp_path_factory.mktemp("fail-early")
    demo = generate_demo(root / "demo", seed=0, scale=0.1, progress=False)
    rows = [r for r in read_metadata(demo) if r["modality"] == "lung" and r["difficulty"] == "easy"
            and r["split"] != "test"]
    corrupt = root / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x03" * 40)
    path = root / "lungs.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "split", "group", *COLUMNS])
        for r in rows:
            writer.writerow([str(demo / r["path"]), int(r["crackles"] != "none"), r["split"], r["subject"],
                             *("" if r[c] is None else r[c] for c in COLUMNS)])
        writer.writerow([str(corrupt), 1, "train", "S9999", *("" for _ in COLUMNS)])
    return path, corrupt, root


def _args(manifest_path, out, root) -> list[str]:
    return ["--encoder", "opera-gt", "--tiny", "--tasks", f"csv:{manifest_path}", "--out", str(out),
            "--cache-dir", str(root / "cache"), "--steps", "2", "--batch-size", "4", "--grad-accum", "1",
            "--warmup-steps", "1", "--ssl", "none", "--loss", "infonce", "--no-progress"]


def test_corrupt_recording_stops_the_run_before_training(manifest, capsys):
    path, corrupt, root = manifest
    out = root / "fail"
    assert main(_args(path, out, root)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "1 alignment recording(s) cannot be decoded" in err and str(corrupt) in err
    assert "--on-error skip" in err and str(out / "errors.json") in err
    assert [e["path"] for e in json.loads((out / "errors.json").read_text())["errors"]] == [str(corrupt)]
    assert not (out / "report_quality.json").exists()   # stopped before reports, teacher and step 0


def test_skip_leaves_it_out_and_records_the_count(manifest, capsys):
    from align.aligned import trained_items
    from benchmark_tasks.embeddings import file_sha256

    path, corrupt, root = manifest
    out = root / "skip"
    assert main([*_args(path, out, root), "--on-error", "skip"]) == 0
    assert f"skipped 1 files (see {out / 'errors.json'})" in capsys.readouterr().out
    data = json.loads((out / "align_config.json").read_text())["data"]
    assert data["skipped_unreadable"] == 1 and data["items"] == len(trained_items(out))
    assert file_sha256(corrupt) not in trained_items(out)
