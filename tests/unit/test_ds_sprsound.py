"""SPRSound reader (C12 record class, C13 normal vs adventitious) on tiny clones of both repository layouts."""

import json

import numpy as np
import pytest
import soundfile as sf

from benchmark_tasks import select_tasks
from benchmark_tasks._registry import DataContext
from benchmark_tasks.datasets._common import DatasetError
from benchmark_tasks.datasets.sprsound import TASKS, read_sprsound

RECORD, ADVENTITIOUS = TASKS
CLASSES = ("Normal", "CAS", "DAS", "CAS & DAS", "Poor Quality")
LAYOUTS = {
    "BioCAS2022": ("BioCAS2022/train2022_wav", "BioCAS2022/train2022_json", "BioCAS2022/test2022_wav",
                   "BioCAS2022/test2022_json/inter_test_json", "BioCAS2022/test2022_json/intra_test_json"),
    "Classification": ("Classification/train_classification_wav", "Classification/train_classification_json",
                       "Classification/valid_classification_wav/2022",
                       "Classification/valid_classification_json/2022/inter_test_json",
                       "Classification/valid_classification_json/2022/intra_test_json"),
}
TRAIN_PATIENTS = [str(41000000 + i) for i in range(15)]
TEST_PATIENTS = [str(65000000 + i) for i in range(4)]


def _name(patient, k, number):
    return f"{patient}_{3.4 + k:.1f}_{k % 2}_p{k % 4 + 1}_{number}"


def _write(root, wav_dir, json_dir, name, label, key="record_annotation", wav=True):
    (root / json_dir).mkdir(parents=True, exist_ok=True)
    (root / wav_dir).mkdir(parents=True, exist_ok=True)
    events = [{"start": "284", "end": "1327", "type": "Fine Crackle" if "DAS" in label else "Normal"},
              {"start": "1678", "end": "2768", "type": "Wheeze" if "CAS" in label else "Normal"}]
    (root / json_dir / f"{name}.json").write_text(json.dumps({key: label, "event_annotation": events}))
    if wav:
        sf.write(root / wav_dir / f"{name}.wav", 0.1 * np.random.default_rng(len(name)).standard_normal(80), 8000)


def _make(tmp_path, layout="BioCAS2022", summary=True):
    root = tmp_path / "data" / "SPRSound"
    train_wav, train_json, test_wav, inter_json, intra_json = LAYOUTS[layout]
    number = 0
    for i, patient in enumerate(TRAIN_PATIENTS):
        for k in range(3):
            number += 1
            _write(root, train_wav, train_json, _name(patient, k, number), CLASSES[(i + k) % 5],
                   key="recording_annotation" if number == 2 else "record_annotation")
    for i, patient in enumerate(TEST_PATIENTS):
        for k in range(2):
            number += 1
            _write(root, test_wav, inter_json, _name(patient, k, number), CLASSES[(i + k) % 4])
    number += 1  # intra-subject test: a training patient, never used
    _write(root, test_wav, intra_json, _name(TRAIN_PATIENTS[0], 0, number), "Normal")
    if summary:
        (root / "Patient Summary").mkdir()
        rows = [",patient_num,disease,age,gender"] + [f"{k},{p},Asthma,3.4,M"
                                                      for k, p in enumerate(TRAIN_PATIENTS + TEST_PATIENTS)]
        (root / "Patient Summary" / "SPRSound_patient_summary.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "data"


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_official_split_with_a_patient_disjoint_val(tmp_path, layout):
    items = read_sprsound(RECORD, DataContext(data_root=_make(tmp_path, layout)))
    by_split = {s: {it.group for it in items if it.split == s} for s in ("train", "val", "test")}
    assert by_split["test"] == set(TEST_PATIENTS)
    assert by_split["val"] and not by_split["val"] & by_split["train"]
    assert by_split["train"] | by_split["val"] == set(TRAIN_PATIENTS)
    assert len(by_split["val"]) == 3  # 20% of 15 patients
    assert all(it.metadata["subset"] == "inter_test" for it in items if it.split == "test")


def test_poor_quality_dropped_and_intra_subject_test_unused(tmp_path):
    items = read_sprsound(RECORD, DataContext(data_root=_make(tmp_path)))
    n_train = sum(CLASSES[(i + k) % 5] != "Poor Quality" for i in range(15) for k in range(3))
    assert len(items) == n_train + 2 * len(TEST_PATIENTS)
    assert not any(it.metadata["record_annotation"] == "Poor Quality" for it in items)
    assert not any("intra" in it.path for it in items)


def test_labels_for_both_tasks(tmp_path):
    ctx = DataContext(data_root=_make(tmp_path))
    record, binary = read_sprsound(RECORD, ctx), read_sprsound(ADVENTITIOUS, ctx)
    assert [it.uid for it in record] == [it.uid for it in binary]
    assert [it.split for it in record] == [it.split for it in binary]
    for r, b in zip(record, binary):
        assert RECORD.labels[r.label] == r.metadata["record_annotation"]
        assert b.label == int(r.metadata["record_annotation"] != "Normal")
    assert RECORD.labels == ("Normal", "CAS", "DAS", "CAS & DAS")
    assert any(r.uid.endswith("_2") for r in record)  # the json spelled "recording_annotation" was read


def test_metadata_from_name_json_and_patient_summary(tmp_path):
    items = read_sprsound(RECORD, DataContext(data_root=_make(tmp_path)))
    meta = next(it.metadata for it in items if it.metadata["record_annotation"] == "CAS & DAS")
    assert meta["location"] in ("left posterior", "left lateral", "right posterior", "right lateral")
    assert meta["sex"] in ("male", "female") and isinstance(meta["age"], float)
    assert meta["event_annotation"][0] == {"start_ms": 284, "end_ms": 1327, "type": "Fine Crackle"}
    assert meta["event_types"] == ["Fine Crackle", "Wheeze"] and meta["disease"] == "Asthma"
    no_summary = read_sprsound(RECORD, DataContext(data_root=_make(tmp_path / "b", summary=False)))
    assert {it.metadata["disease"] for it in no_summary} == {None}


def test_split_is_seeded(tmp_path):
    ctx = DataContext(data_root=_make(tmp_path))
    assert [it.split for it in read_sprsound(RECORD, ctx)] == [it.split for it in read_sprsound(RECORD, ctx)]


def test_missing_wav_and_bad_labels_are_named(tmp_path):
    root = _make(tmp_path)
    base = root / "SPRSound"
    _write(base, LAYOUTS["BioCAS2022"][0], LAYOUTS["BioCAS2022"][1], "41000001_3.4_0_p1_999", "Normal", wav=False)
    with pytest.raises(DatasetError, match="41000001_3.4_0_p1_999.wav"):
        read_sprsound(RECORD, DataContext(data_root=root))
    (base / LAYOUTS["BioCAS2022"][1] / "41000001_3.4_0_p1_999.json").unlink()
    _write(base, LAYOUTS["BioCAS2022"][0], LAYOUTS["BioCAS2022"][1], "41000001_3.4_0_p1_998", "Crackles")
    with pytest.raises(DatasetError, match="41000001_3.4_0_p1_998.json: record_annotation 'Crackles'"):
        read_sprsound(RECORD, DataContext(data_root=root))


def test_missing_folders_are_named(tmp_path):
    with pytest.raises(DatasetError, match="github.com/SJTU-YONGFU-RESEARCH-GRP/SPRSound"):
        read_sprsound(RECORD, DataContext(data_root=tmp_path))
    (tmp_path / "SPRSound").mkdir()
    with pytest.raises(DatasetError, match="train2022_json"):
        read_sprsound(RECORD, DataContext(data_root=tmp_path))


def test_a_test_patient_seen_in_training_is_an_error(tmp_path):
    root = _make(tmp_path)
    _write(root / "SPRSound", LAYOUTS["BioCAS2022"][2], LAYOUTS["BioCAS2022"][3],
           _name(TRAIN_PATIENTS[1], 0, 5000), "Normal")
    with pytest.raises(DatasetError, match="unseen patients"):
        read_sprsound(RECORD, DataContext(data_root=root))


def test_tasks_are_in_the_cardiac_suite():
    tasks = {t.id: t for t in select_tasks("cardiac")}
    assert tasks["C12"].kind == "multiclass" and tasks["C13"].kind == "binary"
    assert tasks["C12"].modality == "lung" and tasks["C12"].options["suite"] == "cardiac"
