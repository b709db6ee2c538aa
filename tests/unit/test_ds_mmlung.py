"""MMlung reader (T13-T18) on a tiny fixture with OPERA's All_path.xlsx."""

import numpy as np
import openpyxl
import pytest
import soundfile as sf

from benchmark_tasks._registry import DataContext
from benchmark_tasks.datasets._common import DatasetError
from benchmark_tasks.datasets.mmlung import TASKS, read_mmlung

BY_ID = {t.id: t for t in TASKS}
# subject -> FVC (l), FEV1 (l), FEV1/FVC; rows sorted by Spirometry_file as strings, as extract_mmlung.py does
SUBJECTS = {"1": (3.91, 3.12, 0.798), "10": (4.62, 3.55, 0.768), "2": (2.85, 2.51, 0.881), "3": (5.02, 4.1, 0.817)}
PHONE = "Trimmed Data from phone"


def _write_table(path, rows):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([None, "Spirometry_file", "Deep_Breath_file", "O_Single_file", "FVC", "FEV1", "FEV1/FVC"])
    for row in rows:
        sheet.append(row)
    book.save(path)


def _rows():
    return [[k, f"./spirometry_ground_truth/{s}_spirometry.xls", f"./{PHONE}/9_3_deepbreath/{s}_deepbreaths.wav",
             f"./{PHONE}/5_2_O_single/{s}_vowelo.wav", *SUBJECTS[s]] for k, s in enumerate(SUBJECTS)]


def _make(tmp_path, phone_folder=PHONE):
    root = tmp_path / "data" / "mmlung"
    for sub, suffix in (("9_3_deepbreath", "deepbreaths"), ("5_2_O_single", "vowelo")):
        (root / phone_folder / sub).mkdir(parents=True)
        for s in SUBJECTS:
            sf.write(root / phone_folder / sub / f"{s}_{suffix}.wav", np.zeros(400, np.float32), 4000)
    (root / "spirometry_ground_truth").mkdir()
    _write_table(root / "All_path.xlsx", _rows())
    return root, DataContext(data_root=tmp_path / "data")


def test_breath_fvc_items_follow_the_table(tmp_path):
    root, ctx = _make(tmp_path)
    items = read_mmlung(BY_ID["T13"], ctx)
    assert [i.group for i in items] == ["1", "10", "2", "3"]  # table order: OPERA's validation draw uses it
    assert [i.label for i in items] == [v[0] for v in SUBJECTS.values()]
    assert all(i.split == "test" and isinstance(i.label, float) for i in items)
    first = items[0]
    assert first.path == str(root / PHONE / "9_3_deepbreath" / "1_deepbreaths.wav")
    assert first.uid == f"{PHONE}/9_3_deepbreath/1_deepbreaths.wav"
    assert first.metadata == {"subject": "1", "task": "deep breath",
                              "spirometry_file": "./spirometry_ground_truth/1_spirometry.xls",
                              "FVC": 3.91, "FEV1": 3.12, "FEV1/FVC": 0.798}


def test_vowel_ratio_and_underscored_folder(tmp_path):
    root, ctx = _make(tmp_path, phone_folder="Trimmed_Data_from_phone")
    items = read_mmlung(BY_ID["T18"], ctx)
    assert [i.label for i in items] == [v[2] for v in SUBJECTS.values()]
    assert items[1].path == str(root / "Trimmed_Data_from_phone" / "5_2_O_single" / "10_vowelo.wav")
    assert items[1].metadata["task"] == "sustained O vowel"


def test_incomplete_rows_and_missing_table_are_named(tmp_path):
    root, ctx = _make(tmp_path)
    (root / PHONE / "5_2_O_single" / "2_vowelo.wav").unlink()
    read_mmlung(BY_ID["T14"], ctx)  # breath tasks do not need the vowel recording
    with pytest.raises(DatasetError, match="subject 2"):
        read_mmlung(BY_ID["T17"], ctx)
    rows = _rows()
    rows[3][5] = None  # no FEV1 for subject 3
    _write_table(root / "All_path.xlsx", rows)
    with pytest.raises(DatasetError, match="subject 3"):
        read_mmlung(BY_ID["T14"], ctx)
    (root / "All_path.xlsx").unlink()
    with pytest.raises(DatasetError, match="extract_mmlung.py"):
        read_mmlung(BY_ID["T13"], ctx)
    with pytest.raises(DatasetError, match="mtm1g19@soton.ac.uk"):
        read_mmlung(BY_ID["T13"], DataContext(data_root=tmp_path / "none"))


def test_task_specs_match_opera():
    assert [(t.id, t.name, t.options["target"]) for t in TASKS] == [
        ("T13", "mmlung-breath-fvc", "FVC"), ("T14", "mmlung-breath-fev1", "FEV1"),
        ("T15", "mmlung-breath-fev1-fvc", "FEV1/FVC"), ("T16", "mmlung-vowel-fvc", "FVC"),
        ("T17", "mmlung-vowel-fev1", "FEV1"), ("T18", "mmlung-vowel-fev1-fvc", "FEV1/FVC")]
    for t in TASKS:
        assert (t.kind, t.metric, t.split, t.seeds) == ("regression", "mae", "loso", 1)
        p = t.probe
        assert (p.lr, p.l2, p.patience, p.min_delta, p.select_every, p.val_fraction) == (1e-4, 0.1, 5, 0.001, 3, 0.11)
        assert t.seconds_for("opera-ct") == 20.0 and t.seconds_for("opera-ce") == 1.0
        assert t.options["pad_mode"] == {"opera-ct": "zeros"}
