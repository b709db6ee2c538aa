"""RespiratoryDatabase@TR reader (T11) on a tiny fixture with Labels.xlsx and OPERA's split arrays."""

import numpy as np
import openpyxl
import pytest
import soundfile as sf

from benchmark_tasks._registry import DataContext
from benchmark_tasks.datasets._common import DatasetError
from benchmark_tasks.datasets.resp_tr import TASKS, read_resp_tr

(T11,) = TASKS
PATIENTS = {"H002": ("COPD4", "train"), "H016": ("COPD0", "train"), "H017": ("COPD1", "val"),
            "H018": ("COPD2", "test"), "H026": ("COPD3", "train")}
CHANNELS = [f"{side}{k}" for side in "LR" for k in range(1, 7)]


def _labels_xlsx(path, rows):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sayfa1"  # the publisher's sheet name (Turkish "Page1")
    sheet.append(["Patient ID", "Diagnosis", None])
    for row in rows:
        sheet.append(list(row))
    book.create_sheet("Sayfa2")
    book.save(path)


def _make(tmp_path):
    root = tmp_path / "data" / "copd"
    audio = root / "RespiratoryDatabase@TR"
    audio.mkdir(parents=True)
    names = [f"{p}_{c}.wav" for p in PATIENTS for c in CHANNELS]
    for name in names:
        sf.write(audio / name, np.zeros(400, np.float32), 4000)
    _labels_xlsx(root / "Labels.xlsx", [(p, dx) for p, (dx, _) in PATIENTS.items()])
    np.random.default_rng(1).shuffle(names)
    feat = tmp_path / "opera" / "feature" / "copd_eval"
    feat.mkdir(parents=True)
    np.save(feat / "sound_dir_loc.npy", np.array([f"datasets/copd/RespiratoryDatabase@TR/{n}" for n in names]))
    np.save(feat / "train_test_split.npy", np.array([PATIENTS[n[:4]][1] for n in names]))
    return root, names, DataContext(data_root=tmp_path / "data", opera_root=tmp_path / "opera")


def test_severity_labels_patient_splits_and_metadata(tmp_path):
    root, names, ctx = _make(tmp_path)
    items = read_resp_tr(T11, ctx)
    assert [i.uid + ".wav" for i in items] == names and len(items) == 60
    for item in items:
        dx, split = PATIENTS[item.group]
        assert item.label == int(dx[-1]) and item.split == split
    first = next(i for i in items if i.uid == "H018_R3")
    assert first.path == str(root / "RespiratoryDatabase@TR" / "H018_R3.wav")
    assert first.metadata == {"patient": "H018", "channel": "R3", "side": "right", "diagnosis": "COPD2",
                              "copd_severity": 2}
    assert sum(i.group == "H002" for i in items) == 12


def test_opera_labels_csv_is_used_when_the_xlsx_is_absent(tmp_path):
    root, _, ctx = _make(tmp_path)
    (root / "Labels.xlsx").unlink()
    copy = ctx.opera_root / "datasets" / "copd"
    copy.mkdir(parents=True)
    lines = ["Patient ID,Diagnosis,"] + [f"{p},{dx}," for p, (dx, _) in PATIENTS.items()]
    (copy / "Labels.csv").write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())  # BOM + CRLF as shipped
    assert sorted({(i.group, i.label) for i in read_resp_tr(T11, ctx)}) == [
        ("H002", 4), ("H016", 0), ("H017", 1), ("H018", 2), ("H026", 3)]
    (copy / "Labels.csv").unlink()
    with pytest.raises(DatasetError, match="Labels.xlsx"):
        read_resp_tr(T11, ctx)


def test_unlabelled_patient_and_missing_files_are_named(tmp_path):
    root, names, ctx = _make(tmp_path)
    _labels_xlsx(root / "Labels.xlsx", [(p, dx) for p, (dx, _) in PATIENTS.items() if p != "H026"])
    with pytest.raises(DatasetError, match="H026"):
        read_resp_tr(T11, ctx)
    (root / "RespiratoryDatabase@TR" / names[0]).unlink()
    with pytest.raises(DatasetError, match=names[0]):
        read_resp_tr(T11, ctx)
    (ctx.opera_root / "feature" / "copd_eval" / "train_test_split.npy").unlink()
    with pytest.raises(DatasetError, match="copd_eval/train_test_split.npy"):
        read_resp_tr(T11, ctx)
    with pytest.raises(DatasetError, match="p9z4h98s6j"):
        read_resp_tr(T11, DataContext(data_root=tmp_path / "none", opera_root=ctx.opera_root))


def test_task_spec_matches_opera():
    assert T11.labels == ("COPD0", "COPD1", "COPD2", "COPD3", "COPD4") and T11.kind == "multiclass"
    assert T11.options["opera_counts"] == {"train": 312, "val": 84, "test": 108}
    assert (T11.probe.epochs, T11.probe.batch_size, T11.probe.lr, T11.probe.l2) == (64, 32, 1e-4, 1e-5)
