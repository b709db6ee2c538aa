"""`--check-data`: found and missing datasets, counts per split next to OPERA's, unreadable files listed."""

import numpy as np
import soundfile as sf

import evaluate
from benchmark_tasks import DataContext, get_task, select_tasks
from benchmark_tasks.check_data import check_task, render


def test_counts_and_bad_files_are_reported(tmp_path):
    sf.write(tmp_path / "ok.wav", np.zeros(800), 8000)
    (tmp_path / "bad.wav").write_text("no audio here")
    (tmp_path / "m.csv").write_text("path,label,split\nok.wav,a,train\nbad.wav,b,test\ngone.wav,b,val\n")
    (task,) = select_tasks(f"csv:{tmp_path / 'm.csv'}")
    check = check_task(task, DataContext())
    assert check.found and check.counts == {"train": 1, "val": 1, "test": 1}
    reasons = dict(check.unreadable)
    assert reasons[str(tmp_path / "gone.wav")] == "missing"
    assert reasons[str(tmp_path / "bad.wav")].startswith("unreadable")
    assert "2 bad" in render([check])


def test_missing_dataset_names_folder_and_download(tmp_path, capsys):
    check = check_task(get_task("T5"), DataContext(data_root=tmp_path))
    assert not check.found and "coughvid" in check.problem and "zenodo" in check.problem
    assert evaluate.main(["--check-data", "--tasks", "T5", "--data-root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "[missing] T5" in out and "0 of 1 tasks have their data" in out
