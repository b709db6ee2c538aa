"""UK COVID-19 reader (T1/T2) on a tiny fixture in the Open Access Edition layout with OPERA's list files."""

import csv

import numpy as np
import pytest
import soundfile as sf

from benchmark_tasks._registry import _READERS, DataContext
from benchmark_tasks.datasets._common import DatasetError
from benchmark_tasks.datasets.ukcovid import TASKS, read_ukcovid

T1, T2 = TASKS
PEOPLE = [  # participant, covid_test_result, age, gender, in OPERA's lists as
    ("P01", "Positive", "45-54", "Female", "train"),
    ("P02", "Negative", "25-34", "Male", "train"),
    ("P03", "Negative", "", "", "val"),  # demographics withheld: blank cells
    ("P04", "Positive", "65-74", "Male", "test"),
    ("P05", "Negative", "18-24", "Female", "test"),
    ("P06", "", "35-44", "Male", None),  # no PCR result; not in OPERA's lists, so ignored
]


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _names(pid):
    return f"{pid}-12-exh.wav", f"{pid}-13-cough.wav", f"{pid}-14-3cough.wav"


def _make(tmp_path, audio_folder="audio"):
    root = tmp_path / "data" / "covidUK"
    (root / audio_folder).mkdir(parents=True)
    _write_csv(root / "participant_metadata.csv",
               ["participant_identifier", "age", "gender", "smoker_status", "covid_test_result",
                "covid_test_method", "symptom_cough_any", "respiratory_condition_asthma"],
               [[p, age, sex, "Never smoked", res, "PCR", "1" if res == "Positive" else "0", "0"]
                for p, res, age, sex, _ in PEOPLE])
    modal = ("exhalation", "cough", "three_cough")
    header = ["participant_identifier"] + [f"{m}_{c}" for m in modal for c in
                                           ("file_name", "size", "sample_rate", "channels", "length")]
    rows = []
    for p, *_ in PEOPLE:
        row = [p]
        for name in _names(p):
            row += [name, "3244", "16000", "1", "0.1"]
            sf.write(root / audio_folder / name, np.zeros(1600, np.float32), 16000)
        rows.append(row)
    _write_csv(root / "audio_metadata.csv", header, rows)
    lists = tmp_path / "opera" / "datasets" / "covidUK"
    lists.mkdir(parents=True)
    for col, modality in ((0, "exhalation"), (1, "cough")):
        for split, part in (("train", "training"), ("val", "val"), ("test", "testing")):
            names = [_names(p)[col] for p, *_, s in PEOPLE if s == split]
            np.save(lists / f"{modality}_{part}_files_downsample.npy", np.array(names))
    return root, DataContext(data_root=tmp_path / "data", opera_root=tmp_path / "opera")


def test_exhalation_labels_splits_groups_and_metadata(tmp_path):
    root, ctx = _make(tmp_path)
    items = read_ukcovid(T1, ctx)
    by_group = {i.group: i for i in items}
    assert sorted(by_group) == ["P01", "P02", "P03", "P04", "P05"]
    assert {g: (i.label, i.split) for g, i in by_group.items()} == {
        "P01": (1, "train"), "P02": (0, "train"), "P03": (0, "val"), "P04": (1, "test"), "P05": (0, "test")}
    first = by_group["P01"]
    assert first.path == str(root / "audio" / "P01-12-exh.wav") and first.uid == "P01-12-exh.wav"
    assert first.metadata["gender"] == "Female" and first.metadata["covid_test_method"] == "PCR"
    assert first.metadata["exhalation_sample_rate"] == "16000" and "cough_file_name" not in first.metadata
    assert by_group["P03"].metadata["age"] is None and by_group["P03"].metadata["gender"] is None


def test_cough_task_reads_the_cough_lists_and_files(tmp_path):
    _, ctx = _make(tmp_path)
    items = read_ukcovid(T2, ctx)
    assert sorted(i.uid for i in items) == [f"P0{n}-13-cough.wav" for n in range(1, 6)]
    assert all("cough_length" in i.metadata for i in items)


def test_opera_audio_selected_folder_is_accepted(tmp_path):
    root, ctx = _make(tmp_path, audio_folder="audio_selected")
    assert all("/audio_selected/" in i.path for i in read_ukcovid(T1, ctx))


def test_missing_opera_list_is_named(tmp_path):
    _, ctx = _make(tmp_path)
    (tmp_path / "opera/datasets/covidUK/exhalation_val_files_downsample.npy").unlink()
    with pytest.raises(DatasetError, match="exhalation_val_files_downsample.npy"):
        read_ukcovid(T1, ctx)
    with pytest.raises(DatasetError, match="--opera-root"):
        read_ukcovid(T1, DataContext(data_root=ctx.data_root))


def test_missing_dataset_folder_names_the_download(tmp_path):
    with pytest.raises(DatasetError, match="zenodo.org/records/10043978"):
        read_ukcovid(T1, DataContext(data_root=tmp_path, opera_root=tmp_path))


def test_listed_recording_without_pcr_result_is_an_error(tmp_path):
    root, ctx = _make(tmp_path)
    lists = tmp_path / "opera/datasets/covidUK"
    np.save(lists / "exhalation_testing_files_downsample.npy", np.array(["P04-12-exh.wav", "P06-12-exh.wav"]))
    with pytest.raises(DatasetError, match=r"P06-12-exh.wav \(P06: ''\)"):
        read_ukcovid(T1, ctx)


def test_listed_file_absent_from_metadata_or_disk_is_an_error(tmp_path):
    root, ctx = _make(tmp_path)
    (root / "audio" / "P02-13-cough.wav").unlink()
    with pytest.raises(DatasetError, match="1 listed cough recordings are missing.*P02-13-cough.wav"):
        read_ukcovid(T2, ctx)
    lists = tmp_path / "opera/datasets/covidUK"
    np.save(lists / "cough_val_files_downsample.npy", np.array(["P03-13-cough.wav", "X99-13-cough.wav"]))
    with pytest.raises(DatasetError, match="not in .*audio_metadata.csv.*X99-13-cough.wav"):
        read_ukcovid(T2, ctx)


def test_task_specs_follow_opera():
    assert [t.id for t in TASKS] == ["T1", "T2"] and _READERS["ukcovid"] is read_ukcovid
    assert (T1.modality, T2.modality) == ("breath", "cough")  # so `--tasks breath` selects the exhalation task
    for t in TASKS:
        assert t.labels == ("negative", "positive") and t.metric == "auroc" and t.seeds == 5
        assert t.seconds_for("opera-ct") == 2.0 and t.seconds_for("opera-ce") == 2.0
        assert t.seconds_for("opera-gt") == 8.18 and t.seconds_for("hear") == 2.0
        assert t.options["opera_counts"] == {"train": 1000, "val": 500, "test": 1000}
        assert t.probe.lr == 1e-4 and t.probe.l2 == 1e-5 and t.probe.epochs == 64
