"""Fault suite, csv manifests: leaks, contradictions and escapes are refused with the rows named, or allowed by
an explicit flag that the record carries; task names never collide."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from benchmark_tasks import load_items, select_tasks
from benchmark_tasks._registry import DataContext, TaskNameClash
from benchmark_tasks.datasets.manifest_checks import ManifestError, ManifestPolicy

ROOT = Path(__file__).resolve().parents[2]


def _clips(folder: Path, n: int = 12) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sf.write(folder / f"c{i}.wav", (0.05 * (i + 1) * np.sin(np.arange(8000) * (0.01 + 0.003 * i))), 16000)


def _manifest(folder: Path, rows: list[str], name: str = "m.csv") -> Path:
    path = folder / name
    path.write_text("path,label,split,group\n" + "\n".join(rows) + "\n")
    return path


def _base_rows() -> list[str]:
    splits = ["train"] * 6 + ["val"] * 3 + ["test"] * 3
    return [f"c{i}.wav,{'yes' if i % 2 else 'no'},{s},p{i}" for i, s in enumerate(splits)]


def _read(path: Path, **policy):
    (task,) = select_tasks(f"csv:{path}", manifest_policy=ManifestPolicy(**policy))
    return load_items(task, DataContext())


@pytest.mark.parametrize("edit, needle", [
    (lambda rows: rows + ["c1.wav,yes,train,p1"], r"c1\.wav is listed 2 times \(lines 3, 14\)"),
    (lambda rows: rows + ["c10.wav,no,train,p10"], r"c10\.wav is in test and train \(lines 12, 14\)"),
    (lambda rows: rows + ["c2.wav,yes,train,p2"], r"c2\.wav has two labels \(lines 4, 14: no, yes\)"),
    (lambda rows: rows + ["copy_of_c11.wav,yes,train,p99"], r"same audio is in training and test"),
    (lambda rows: rows + ["c0b.wav,no,train,p11"], r"group 'p11' is in training \(lines 14\) and test"),
])
def test_leaking_or_contradicting_rows_are_refused_with_the_lines(tmp_path, edit, needle):
    _clips(tmp_path)
    shutil.copy(tmp_path / "c11.wav", tmp_path / "copy_of_c11.wav")
    shutil.copy(tmp_path / "c0.wav", tmp_path / "c0b.wav")
    path = _manifest(tmp_path, edit(_base_rows()))
    with pytest.raises(ManifestError, match=needle) as info:
        _read(path)
    assert str(path) in str(info.value) and "--allow-manifest-overlap" in str(info.value)
    assert len(_read(path, allow_overlap=True)) == 13            # allowed explicitly: used as given


def test_label_only_in_test_names_the_label_the_manifest_and_the_counts(tmp_path):
    import evaluate

    _clips(tmp_path)
    path = _manifest(tmp_path, _base_rows()[:9] + ["c9.wav,maybe,test,p9", "c10.wav,maybe,test,p10"])
    assert len(_read(path)) == 11            # readable (a manifest used only to guard alignment may be test-only)
    with pytest.raises(ManifestError, match=r"m\.csv: label 'maybe' has no training rows \(train 0, val 0, test 2\)"):
        evaluate.main(["--encoder", "logmel-stats", "--tasks", f"csv:{path}", "--no-progress", "--out",
                       str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c")])


def test_paths_outside_the_manifest_folder_are_refused_unless_allowed(tmp_path):
    _clips(tmp_path / "data")
    rows = _base_rows()
    rows[0] = "../outside.wav,no,train,p0"
    sf.write(tmp_path / "outside.wav", np.zeros(800) + 0.1, 16000)
    path = _manifest(tmp_path / "data", rows)
    with pytest.raises(ManifestError, match=r"1 path\(s\) lead outside the manifest's folder .*\.\./outside\.wav"):
        _read(path)
    assert _read(path, allow_outside_root=True)[0].path == str((tmp_path / "outside.wav").resolve())


def test_two_manifest_csv_files_get_their_folders_names_and_a_clash_is_an_error(tmp_path):
    for name in ("heart", "cough"):
        _clips(tmp_path / name)
        _manifest(tmp_path / name, _base_rows(), name="manifest.csv")
    heart, cough = tmp_path / "heart" / "manifest.csv", tmp_path / "cough" / "manifest.csv"
    assert [t.id for t in select_tasks(f"csv:{heart},csv:{cough}")] == ["csv-heart", "csv-cough"]
    assert [t.id for t in select_tasks(f"csv:{heart}#name=valves")] == ["csv-valves"]
    with pytest.raises(TaskNameClash, match="name one with csv:PATH#name=NAME"):
        select_tasks(f"csv:{heart}#name=x,csv:{cough}#name=x")


def test_evars_metadata_csv_is_read_as_is(tmp_path):
    _clips(tmp_path)
    splits = ["train"] * 6 + ["valid"] * 3 + ["test"] * 3
    (tmp_path / "evar.csv").write_text("file_name,label,split\n" + "\n".join(
        f"c{i}.wav,{'yes' if i % 2 else 'no'},{s}" for i, s in enumerate(splits)) + "\n")
    items = _read(tmp_path / "evar.csv")
    assert [i.split for i in items] == ["train"] * 6 + ["val"] * 3 + ["test"] * 3


def test_allowed_overlap_is_recorded_and_refusal_is_one_line(tmp_path):
    _clips(tmp_path)
    path = _manifest(tmp_path, _base_rows() + ["c10.wav,no,train,p10"])
    common = [sys.executable, "evaluate.py", "--encoder", "logmel-stats", "--tasks", f"csv:{path}", "--probe",
              "logreg", "--seeds", "1", "--no-progress", "--cache-dir", str(tmp_path / "c")]
    refused = subprocess.run(common + ["--out", str(tmp_path / "a")], cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
    assert refused.returncode == 2 and "c10.wav is in test and train" in refused.stderr.strip().splitlines()[-1]
    allowed = subprocess.run(common + ["--out", str(tmp_path / "b"), "--allow-manifest-overlap"], cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    import json

    record = json.loads(next((tmp_path / "b" / "records").glob("*.json")).read_text())
    assert record["data_flags"] == ["allow_overlap"]
