"""CirCor reader (C1 murmur per recording, C2 outcome) on a tiny fixture in the PhysioNet v1.0.3 layout."""

import csv

import numpy as np
import pytest
import soundfile as sf

from benchmark_tasks import select_tasks
from benchmark_tasks._registry import DataContext
from benchmark_tasks.datasets._common import DatasetError
from benchmark_tasks.datasets.circor import MURMUR, OUTCOME, TASKS, read_circor, recording_murmur

C1, C2 = TASKS
COLUMNS = ["Patient ID", "Recording locations:", "Age", "Sex", "Height", "Weight", "Pregnancy status", "Murmur",
           "Murmur locations", "Most audible location", "Systolic murmur timing", "Systolic murmur shape",
           "Systolic murmur grading", "Systolic murmur pitch", "Systolic murmur quality", "Diastolic murmur timing",
           "Diastolic murmur shape", "Diastolic murmur grading", "Diastolic murmur pitch",
           "Diastolic murmur quality", "Outcome", "Campaign", "Additional ID"]
# pid, recordings (location, suffix), Murmur, Murmur locations, Outcome
SPECIAL = [
    ("9979", [("AV", ""), ("PV", ""), ("TV", ""), ("MV", "")], "Present", "MV+TV", "Abnormal"),
    ("50782", [("AV", ""), ("MV", "_1"), ("MV", "_2")], "Present", "MV", "Abnormal"),  # a site recorded twice
    ("9983", [("AV", ""), ("PV", "")], "Unknown", "nan", "Abnormal"),
    ("2530", [("AV", ""), ("PV", ""), ("TV", ""), ("MV", ""), ("Phc", "")], "Absent", "nan", "Normal"),
]
FILLER = [(str(100 + i), [("AV", ""), ("MV", "")], MURMUR[i % 3], "AV" if i % 3 == 0 else "nan",
           OUTCOME[i % 2]) for i in range(14)]
PATIENTS = SPECIAL + FILLER


def _row(pid, recs, murmur, locs, outcome, age="Child"):
    row = dict.fromkeys(COLUMNS, "nan")
    row.update({"Patient ID": pid, "Recording locations:": "+".join(loc for loc, _ in recs), "Age": age,
                "Sex": "Female", "Height": "98.0", "Weight": "15.9", "Pregnancy status": "False",
                "Murmur": murmur, "Murmur locations": locs, "Outcome": outcome, "Campaign": "CC2015"})
    if murmur == "Present":
        row.update({"Most audible location": locs.split("+")[0], "Systolic murmur timing": "Holosystolic",
                    "Systolic murmur shape": "Diamond", "Systolic murmur grading": "III/VI",
                    "Systolic murmur pitch": "High", "Systolic murmur quality": "Harsh"})
    return row


def _make(tmp_path, inner=""):
    root = tmp_path / "data" / "circor" / inner
    folder = root / "training_data"
    folder.mkdir(parents=True)
    rows = [_row(*p) for p in PATIENTS]
    rows[0]["Age"] = "Infant"  # the csv disagrees with the patient file on Age: the patient file wins
    with open(root / "training_data.csv", "w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    rng = np.random.default_rng(0)
    for pid, recs, murmur, locs, outcome in PATIENTS:
        lines = [f"{pid} {len(recs)} 4000"]
        for loc, suffix in recs:
            rec = f"{pid}_{loc}{suffix}"
            tsv = "" if rec == "50782_MV_1" else f" {rec}.tsv"  # the real data has one line without a .tsv
            lines.append(f"{loc} {rec}.hea {rec}.wav{tsv}")
            sf.write(folder / f"{rec}.wav", 0.1 * rng.standard_normal(200), 4000)
        meta = _row(pid, recs, murmur, locs, outcome)
        lines += [f"#{k}: {meta[k]}" for k in COLUMNS[2:]]
        (folder / f"{pid}.txt").write_text("\n".join(lines) + "\n")
    return tmp_path / "data"


def _by_uid(items):
    return {it.uid: it for it in items}


def test_murmur_is_present_only_at_the_annotated_sites(tmp_path):
    items = _by_uid(read_circor(C1, DataContext(data_root=_make(tmp_path))))
    label = {uid: MURMUR[it.label] for uid, it in items.items()}
    assert [label[f"9979_{s}"] for s in ("AV", "PV", "TV", "MV")] == ["Absent", "Absent", "Present", "Present"]
    assert label["50782_MV_1"] == label["50782_MV_2"] == "Present" and label["50782_AV"] == "Absent"
    assert label["9983_AV"] == label["9983_PV"] == "Unknown"
    assert {label[f"2530_{s}"] for s in ("AV", "PV", "TV", "MV", "Phc")} == {"Absent"}
    assert recording_murmur("Present", None, "AV") == "Absent"


def test_outcome_is_the_patients_on_every_recording(tmp_path):
    items = read_circor(C2, DataContext(data_root=_make(tmp_path)))
    assert len(items) == sum(len(p[1]) for p in PATIENTS)
    outcome = {p[0]: p[4] for p in PATIENTS}
    assert all(OUTCOME[it.label] == outcome[it.group] for it in items)
    assert C2.labels == ("Normal", "Abnormal") and C1.labels == ("Present", "Unknown", "Absent")


def test_split_is_patient_disjoint_seeded_and_shared_by_both_tasks(tmp_path):
    ctx = DataContext(data_root=_make(tmp_path))
    c1, c2 = read_circor(C1, ctx), read_circor(C2, ctx)
    split_of = {}
    for it in c1:
        assert split_of.setdefault(it.group, it.split) == it.split
    assert {it.split for it in c1} == {"train", "val", "test"}
    assert [(it.uid, it.split) for it in c1] == [(it.uid, it.split) for it in c2]
    assert [it.split for it in read_circor(C1, ctx)] == [it.split for it in c1]


def test_metadata_keeps_every_csv_column_and_the_recording_site(tmp_path):
    items = _by_uid(read_circor(C1, DataContext(data_root=_make(tmp_path))))
    meta = items["9979_TV"].metadata
    assert set(COLUMNS) <= set(meta)
    assert meta["recording_location"] == "TV" and meta["murmur_at_location"] == "Present"
    assert meta["Systolic murmur grading"] == "III/VI" and meta["Diastolic murmur timing"] is None  # "nan"
    assert meta["Age"] == "Child"  # patient file overrides the csv's "Infant"
    assert items["50782_MV_1"].metadata["segmentation_file"] is None
    assert items["2530_Phc"].path.endswith("training_data/2530_Phc.wav")


def test_the_zip_top_folder_is_accepted(tmp_path):
    root = _make(tmp_path, inner="the-circor-digiscope-phonocardiogram-dataset-1.0.3")
    assert len(read_circor(C2, DataContext(data_root=root))) == sum(len(p[1]) for p in PATIENTS)


def test_missing_dataset_folder_names_the_download(tmp_path):
    with pytest.raises(DatasetError, match="physionet.org/content/circor-heart-sound"):
        read_circor(C1, DataContext(data_root=tmp_path))


@pytest.mark.parametrize("victim,match", [("training_data.csv", "training_data.csv"),
                                          ("training_data/9983.txt", "9983.txt"),
                                          ("training_data/50782_MV_2.wav", "50782_MV_2.wav")])
def test_missing_files_are_named(tmp_path, victim, match):
    root = _make(tmp_path)
    (root / "circor" / victim).unlink()
    with pytest.raises(DatasetError, match=match):
        read_circor(C1, DataContext(data_root=root))


def test_a_murmur_outside_the_challenge_values_is_an_error(tmp_path):
    root = _make(tmp_path)
    path = root / "circor" / "training_data" / "2530.txt"
    path.write_text(path.read_text().replace("#Murmur: Absent", "#Murmur: Maybe"))
    with pytest.raises(DatasetError, match="2530.txt: Murmur is 'Maybe'"):
        read_circor(C1, DataContext(data_root=root))


def test_cardiac_suite_lists_the_circor_tasks():
    tasks = {t.id: t for t in select_tasks("cardiac")}
    assert {"C1", "C2"} <= set(tasks)
    assert tasks["C1"].kind == "multiclass" and tasks["C2"].kind == "binary"
    assert tasks["C1"].input_seconds == {"default": 8.0} and tasks["C1"].seeds == 5
