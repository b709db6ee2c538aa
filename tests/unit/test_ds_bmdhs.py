"""BMD-HS reader (C3 normal vs disease, C4-C7 one lesion each) on a tiny clone of the publisher's repository."""

import csv

import numpy as np
import pytest
import soundfile as sf

from benchmark_tasks import select_tasks
from benchmark_tasks._registry import DataContext
from benchmark_tasks.datasets._common import DatasetError
from benchmark_tasks.datasets.bmdhs import TASKS, read_bmdhs

C3, C_AS, C_AR, C_MR, C_MS = TASKS
SLOTS = [(p, s) for p in ("sup", "sit") for s in ("Mit", "Tri", "Pul", "Aor")]  # train.csv's recording_1..8 order
# patient number, (AS, AR, MR, MS, N)
PATIENTS = ([(1, (1, 1, 1, 1, 0)), (3, (1, 1, 0, 0, 0)), (8, (0, 0, 1, 1, 0)), (85, (0, 0, 1, 1, 0))]
            + [(10 + i, (1, 0, 0, 0, 0)) for i in range(3)] + [(20 + i, (0, 1, 0, 0, 0)) for i in range(3)]
            + [(30 + i, (0, 0, 1, 0, 0)) for i in range(3)] + [(40 + i, (0, 0, 0, 1, 0)) for i in range(3)]
            + [(89 + i, (0, 0, 0, 0, 1)) for i in range(5)])


def _cls(flags):
    lesions = [c for c, f in zip(("AS", "AR", "MR", "MS"), flags[:4]) if f]
    return "N" if not lesions else lesions[0] if len(lesions) == 1 else "MD"


def _names(num, flags):
    return [f"{_cls(flags)}_{num:03d}_{p}_{s}" for p, s in SLOTS]


def _write(path, header, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _make(tmp_path):
    root = tmp_path / "data" / "BMD-HS-Dataset"
    (root / "train").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for num, flags in PATIENTS:
        names = _names(num, flags)
        rows.append([f"patient_{num:03d}", *flags, *names])
        for name in names:
            # the publisher stores MD_085_sit_Tri as MD_085_sit_Tri6_06.wav
            disk = "MD_085_sit_Tri6_06" if name == "MD_085_sit_Tri" else name
            sf.write(root / "train" / f"{disk}.wav", 0.1 * rng.standard_normal(80), 4000)
    for p, s in SLOTS:  # MD_022 is on disk without a train.csv row: not used
        sf.write(root / "train" / f"MD_022_{p}_{s}.wav", np.zeros(80), 4000)
    _write(root / "train.csv", ["patient_id", "AS", "AR", "MR", "MS", "N"] + [f"recording_{k}" for k in range(1, 9)],
           rows)
    _write(root / "additional_metadata.csv", ["patient_id", "Age", "Gender", "Smoker", "Lives"],
           [[f"patient_{num:03d}", str(30 + num % 20), "MF"[num % 2], str(num % 2), "UR"[num % 2]]
            for num, _ in PATIENTS])
    return tmp_path / "data"


def test_labels_follow_the_patient_flags_on_all_eight_recordings(tmp_path):
    ctx = DataContext(data_root=_make(tmp_path))
    flags = {f"patient_{n:03d}": f for n, f in PATIENTS}
    for task, col in ((C_AS, 0), (C_AR, 1), (C_MR, 2), (C_MS, 3)):
        items = read_bmdhs(task, ctx)
        assert len(items) == 8 * len(PATIENTS)
        assert all(it.label == flags[it.group][col] for it in items)
    disease = read_bmdhs(C3, ctx)
    assert all(it.label == 1 - flags[it.group][4] for it in disease)
    assert C3.labels == ("normal", "valvular disease") and C_AS.labels == ("absent", "present")


def test_known_publisher_quirks(tmp_path):
    items = {it.uid: it for it in read_bmdhs(C3, DataContext(data_root=_make(tmp_path)))}
    assert items["MD_085_sit_Tri"].path.endswith("train/MD_085_sit_Tri6_06.wav")
    assert not any(uid.startswith("MD_022") for uid in items)


def test_split_is_patient_disjoint_seeded_and_shared(tmp_path):
    ctx = DataContext(data_root=_make(tmp_path))
    a, b = read_bmdhs(C3, ctx), read_bmdhs(C_MS, ctx)
    split_of = {}
    for it in a:
        assert split_of.setdefault(it.group, it.split) == it.split
    assert {it.split for it in a} == {"train", "val", "test"}
    assert [(it.uid, it.split) for it in a] == [(it.uid, it.split) for it in b]
    normals = {it.split for it in a if it.label == 0}
    assert normals == {"train", "val", "test"}  # stratified: the 5 normal patients reach every split


def test_metadata(tmp_path):
    items = {it.uid: it for it in read_bmdhs(C3, DataContext(data_root=_make(tmp_path)))}
    meta = items["MD_003_sit_Pul"].metadata
    assert meta["posture"] == "sitting" and meta["auscultation_site"] == "pulmonic area"
    assert meta["diagnosis"] == "aortic stenosis; aortic regurgitation"
    assert meta["AS"] == 1 and meta["MR"] == 0 and meta["Gender"] == "F" and meta["Smoker"] == "1"
    assert items["N_089_sup_Mit"].metadata["diagnosis"] == "normal"
    assert items["N_089_sup_Mit"].metadata["recording_slot"] == 1


def test_contradicting_flags_are_an_error(tmp_path):
    root = _make(tmp_path)
    path = root / "BMD-HS-Dataset" / "train.csv"
    path.write_text(path.read_text().replace("patient_089,0,0,0,0,1", "patient_089,1,0,0,0,1"))
    with pytest.raises(DatasetError, match="patient_089 has N = 1"):
        read_bmdhs(C3, DataContext(data_root=root))


@pytest.mark.parametrize("victim", ["train.csv", "additional_metadata.csv", "train/AS_010_sup_Aor.wav"])
def test_missing_files_are_named(tmp_path, victim):
    root = _make(tmp_path)
    (root / "BMD-HS-Dataset" / victim).unlink()
    with pytest.raises(DatasetError, match=victim.split("/")[-1]):
        read_bmdhs(C3, DataContext(data_root=root))


def test_missing_dataset_folder_names_the_repository(tmp_path):
    with pytest.raises(DatasetError, match="github.com/mHealthBuet/BMD-HS-Dataset"):
        read_bmdhs(C3, DataContext(data_root=tmp_path))


def test_tasks_are_in_the_cardiac_suite():
    ids = {t.id for t in select_tasks("cardiac")}
    assert {"C3", "C4", "C5", "C6", "C7"} <= ids
    assert [t.options["label_column"] for t in TASKS] == ["N", "AS", "AR", "MR", "MS"]
