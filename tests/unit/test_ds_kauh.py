"""KAUH reader (T10, T10-patient) on a tiny fixture in the publisher's naming with OPERA's split arrays."""

import numpy as np
import pytest
import soundfile as sf
from sklearn.model_selection import train_test_split

from benchmark_tasks._registry import DataContext
from benchmark_tasks.datasets._common import DatasetError
from benchmark_tasks.datasets.kauh import TASKS, opera_class, read_kauh

T10, T10P = TASKS
# patient number -> name fields after "<F>P<n>_" (publisher's spelling, incl. trailing spaces / odd codes)
PATIENTS = {
    30: "N,N,P R M,18,F", 31: "N,N,P L M,27,F", 32: "N,N,A R L,30,M", 48: "N,N,P L U,31,M", 49: "N,N,P R M,21,M",
    1: "Asthma,I E W,P L L,70,M", 2: "Asthma,E W,P L L R,52,F", 27: "asthma,E W,P R M,53,F",
    20: "Asthma and lung fibrosis,C,A R M,90,M", 57: "COPD,E W,P R L ,42,M",
    5: "Heart Failure + COPD,I C E W,P L R ,71,M",
}
NOT_LISTED = {25: "copd,E W,P L L,76,M", 11: "Heart Failure,C,P L L,53,M"}  # OPERA's rule drops these
PATIENT_TEST = {31, 49, 2, 57}  # train_test.npy (patient-level)


def _name(filt, n, fields):
    return f"{filt}P{n}_{fields}.wav"


def _make(tmp_path, folder="AudioFiles"):
    audio = tmp_path / "data" / "KAUH" / folder
    audio.mkdir(parents=True)
    listed = [_name(f, n, fields) for n, fields in PATIENTS.items() for f in "BDE"]
    for name in listed + [_name(f, n, fields) for n, fields in NOT_LISTED.items() for f in "BDE"]:
        sf.write(audio / name, np.zeros(400, np.float32), 4000)
    np.random.default_rng(0).shuffle(listed)
    cycle = ("train", "train", "val", "train", "test", "train")
    per_recording = [cycle[k % len(cycle)] for k in range(len(listed))]
    per_patient = ["test" if int(n.split("_")[0][2:]) in PATIENT_TEST else "train" for n in listed]
    feat = tmp_path / "opera" / "feature" / "kauh_eval"
    feat.mkdir(parents=True)
    np.save(feat / "sound_dir_loc_subset.npy", np.array([f"datasets/KAUH/AudioFiles/{n}" for n in listed]))
    np.save(feat / "train_test_split.npy", np.array(per_recording))
    np.save(feat / "train_test.npy", np.array(per_patient))
    return audio, listed, per_recording, DataContext(data_root=tmp_path / "data", opera_root=tmp_path / "opera")


def test_labels_splits_and_opera_validation(tmp_path):
    audio, listed, per_recording, ctx = _make(tmp_path)
    items = read_kauh(T10, ctx)
    assert [i.uid for i in items] == listed  # OPERA's order, its 33 recordings only
    by_uid = {i.uid: i for i in items}
    assert by_uid[_name("B", 30, PATIENTS[30])].label == 0
    assert all(by_uid[_name("D", n, PATIENTS[n])].label == 1 for n in (1, 27, 20, 57, 5))
    # OPERA treats every entry that is not "train" as test, then holds out 10% of train (seed 1337)
    assert [i.uid for i in items if i.split == "test"] == [n for n, s in zip(listed, per_recording) if s != "train"]
    train = [n for n, s in zip(listed, per_recording) if s == "train"]
    _, val = train_test_split(train, test_size=0.1, random_state=1337, stratify=[by_uid[n].label for n in train])
    assert {i.uid for i in items if i.split == "val"} == set(val)
    assert {i.group for i in items if i.metadata["patient"] == "P57"} == {"P57"}
    assert sum(i.group == "P57" for i in items) == 3  # one patient, three filter modes
    assert items[0].path == str(audio / listed[0])


def test_patient_level_variant_keeps_patients_out_of_test(tmp_path):
    _, _, _, ctx = _make(tmp_path)
    items = read_kauh(T10P, ctx)
    test_groups = {i.group for i in items if i.split == "test"}
    assert test_groups == {f"P{n}" for n in PATIENT_TEST}
    assert not test_groups & {i.group for i in items if i.split != "test"}
    assert T10P.options["suite"] != "opera" and T10P.options["trim_top_db"] == 60.0


def test_metadata_from_file_names(tmp_path):
    _, _, _, ctx = _make(tmp_path, folder="Audio Files")  # the folder name as the zip may carry it
    by_uid = {i.uid: i.metadata for i in read_kauh(T10, ctx)}
    assert by_uid[_name("E", 1, PATIENTS[1])] == {
        "patient": "P1", "filter_mode_code": "E", "filter_mode": "extended", "diagnosis": "Asthma",
        "diagnosis_class": "asthma", "sound_type_code": "I E W", "sound_type": "inspiratory expiratory wheezes",
        "location_code": "P L L", "location": "posterior left lower", "age": 70.0, "sex": "M",
        "opera_split": by_uid[_name("E", 1, PATIENTS[1])]["opera_split"]}
    odd = by_uid[_name("B", 2, PATIENTS[2])]
    assert odd["location_code"] == "P L L R" and odd["location"] is None and odd["sex"] == "F"
    assert by_uid[_name("D", 57, PATIENTS[57])]["location"] == "posterior right lower"  # trailing space
    assert by_uid[_name("B", 5, PATIENTS[5])]["diagnosis_class"] == "COPD"


def test_opera_label_rule():
    assert opera_class("N") == "healthy" and opera_class("copd") is None and opera_class("BRON") is None
    assert opera_class("Heart Failure + COPD") == "COPD" and opera_class("Asthma and lung fibrosis") == "asthma"


def test_missing_files_and_folders_are_named(tmp_path):
    audio, listed, _, ctx = _make(tmp_path)
    (audio / listed[4]).unlink()
    with pytest.raises(DatasetError, match="missing from"):
        read_kauh(T10, ctx)
    (ctx.opera_root / "feature" / "kauh_eval" / "train_test_split.npy").unlink()
    with pytest.raises(DatasetError, match="kauh_eval/train_test_split.npy"):
        read_kauh(T10, ctx)
    with pytest.raises(DatasetError, match="jwyy9np4gv"):
        read_kauh(T10, DataContext(data_root=tmp_path / "none", opera_root=ctx.opera_root))
    (audio.parent / "AudioFiles").rename(audio.parent / "wavs")
    with pytest.raises(DatasetError, match="no audio folder"):
        read_kauh(T10, ctx)


def test_task_spec_matches_opera():
    assert T10.labels == ("healthy", "obstructive") and T10.options["suite"] == "opera"
    assert T10.options["opera_counts"] == {"train": 145, "val": 17, "test": 72}
    assert (T10.probe.epochs, T10.probe.batch_size, T10.probe.select_every) == (50, 32, 5)
    assert "49 of 78 patients" in T10.notes
