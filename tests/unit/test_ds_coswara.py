"""Coswara reader (T8/T9) on a tiny fixture in the Coswara-Data layout with OPERA's coswara_eval arrays."""

import csv
import json

import numpy as np
import pytest
import soundfile as sf
from sklearn.model_selection import train_test_split

from benchmark_tasks._registry import _READERS, DataContext
from benchmark_tasks.datasets._common import DatasetError
from benchmark_tasks.datasets.coswara import TASKS, read_coswara

T8, T9 = TASKS
COLUMNS = ["id", "a", "covid_status", "record_date", "ep", "g", "l_c", "l_l", "l_s", "rU", "asthma", "cough",
           "smoker", "test_status", "ht", "cold", "diabetes", "diarrhoea", "um", "ihd", "bd", "st", "fever", "ftg",
           "mp", "loss_of_smell", "cld", "pneumonia", "ctScan", "testType", "test_date", "vacc", "ctDate",
           "ctScore", "others_resp", "others_preexist"]
SMOKER_VALUES = ["y", "n", "True", "False", "n", "FALSE"]  # as they appear across Coswara releases
N = 30


def _pid(n):
    return f"Pid{n:02d}xQRMMM6UoyocajfgZAOB3"


def _make(tmp_path):
    root = tmp_path / "data" / "Coswara-Data"
    rows, names = [], []
    for n in range(N):
        date = "20200424" if n < 12 else "20210714"
        folder = root / "Extracted_data" / date / _pid(n)
        folder.mkdir(parents=True)
        sf.write(folder / "cough-shallow.wav", np.zeros(4410, np.float32), 44100)
        sf.write(folder / "cough-heavy.wav", np.zeros(4410, np.float32), 44100)
        if n % 3 == 0:
            (folder / "metadata.json").write_text(json.dumps({"id": _pid(n), "g": "x", "vacc": "y", "um": ""}))
        row = dict.fromkeys(COLUMNS, "")
        row.update(id=_pid(n), a=str(20 + n), covid_status="healthy", record_date=f"{date[:4]}-{date[4:6]}-01",
                   g="female" if n % 3 == 0 else "male", l_c="India", smoker=SMOKER_VALUES[n % 6],
                   cough="True" if n % 4 == 0 else "")
        rows.append(row)
        names.append(f"datasets/Coswara-Data/Extracted_data/{date}/{_pid(n)}/cough-shallow.wav")
    rows.append(dict.fromkeys(COLUMNS, "") | {"id": "NotInOperaList000000000000", "g": "male"})
    with open(root / "combined_data.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    ev = tmp_path / "opera" / "feature" / "coswara_eval"
    ev.mkdir(parents=True)
    labels = {"sex": [1 if n % 3 == 0 else 0 for n in range(N)],
              "smoker": [1 if SMOKER_VALUES[n % 6] in ("y", "True") else 0 for n in range(N)]}
    for label, y in labels.items():
        np.save(ev / f"cough_aligned_filenames_{label}_w_cough-shallow.npy", np.array(names))
        np.save(ev / f"cough_aligned_{label}_label_cough-shallow.npy", np.array(y, dtype=np.int64))
        np.save(ev / f"google_{label}_cough_split.npy", np.array(["test" if n >= 24 else "train" for n in range(N)]))
    return root, DataContext(data_root=tmp_path / "data", opera_root=tmp_path / "opera"), labels


def test_splits_are_hear_test_plus_operas_validation_draw(tmp_path):
    _, ctx, labels = _make(tmp_path)
    items = read_coswara(T9, ctx)
    split = {i.group: i.split for i in items}
    assert [split[_pid(n)] for n in range(24, N)] == ["test"] * 6
    assert sum(s == "val" for s in split.values()) == 5 and sum(s == "train" for s in split.values()) == 19
    # OPERA's call in linear_evaluation_coswara, on a feature matrix of the train items
    features = np.arange(N * 3, dtype=np.float32).reshape(N, 3)
    y = np.array(labels["sex"])
    _, x_val, _, _ = train_test_split(features[:24], y[:24], test_size=0.2, random_state=1337, stratify=y[:24])
    assert {_pid(int(row[0]) // 3) for row in x_val} == {g for g, s in split.items() if s == "val"}


def test_labels_from_combined_data_and_metadata(tmp_path):
    root, ctx, labels = _make(tmp_path)
    smoker = {i.group: i for i in read_coswara(T8, ctx)}
    assert [smoker[_pid(n)].label for n in range(N)] == labels["smoker"]
    first = smoker[_pid(0)]
    assert first.path == str(root / "Extracted_data/20200424" / _pid(0) / "cough-shallow.wav")
    assert first.uid == f"{_pid(0)}/cough-shallow.wav" and first.metadata["date_folder"] == "20200424"
    assert first.metadata["a"] == "20" and first.metadata["cough"] == "True" and first.metadata["ht"] is None
    assert first.metadata["g"] == "female"  # combined_data.csv wins over metadata.json
    assert first.metadata["vacc"] == "y" and first.metadata["um"] is None  # the json fills blanks of the csv
    assert smoker[_pid(1)].metadata["vacc"] is None  # no metadata.json in that folder
    sex = {i.group: i.label for i in read_coswara(T9, ctx)}
    assert [sex[_pid(n)] for n in range(N)] == labels["sex"]


def test_missing_inputs_are_named(tmp_path):
    with pytest.raises(DatasetError, match="github.com/iiscleap/Coswara-Data"):
        read_coswara(T8, DataContext(data_root=tmp_path))
    _, ctx, _ = _make(tmp_path)
    (tmp_path / "opera/feature/coswara_eval/google_smoker_cough_split.npy").unlink()
    with pytest.raises(DatasetError, match="google_smoker_cough_split.npy"):
        read_coswara(T8, ctx)


def test_disagreeing_labels_missing_ids_and_missing_audio_are_errors(tmp_path):
    root, ctx, labels = _make(tmp_path)
    (root / "Extracted_data/20210714" / _pid(20) / "cough-shallow.wav").unlink()
    with pytest.raises(DatasetError, match=f"1 listed recordings are missing.*{_pid(20)}.*extract_data.py"):
        read_coswara(T9, ctx)
    flipped = [1 - labels["sex"][0]] + labels["sex"][1:]
    np.save(tmp_path / "opera/feature/coswara_eval/cough_aligned_sex_label_cough-shallow.npy", np.array(flipped))
    with pytest.raises(DatasetError, match=f"differ from OPERA's: {_pid(0)} \\(g='female', OPERA label 0\\)"):
        read_coswara(T9, ctx)
    text = (root / "combined_data.csv").read_text().replace(_pid(5), "Renamed")
    (root / "combined_data.csv").write_text(text)
    with pytest.raises(DatasetError, match=f"not in .*combined_data.csv: {_pid(5)}"):
        read_coswara(T8, ctx)


def test_task_specs_follow_opera():
    assert [t.id for t in TASKS] == ["T8", "T9"] and _READERS["coswara"] is read_coswara
    assert T8.labels == ("non-smoker", "smoker") and T9.labels == ("male", "female")
    assert T8.options["opera_counts"] == {"train": 677, "val": 170, "test": 101}
    assert T9.options["opera_counts"] == {"train": 1475, "val": 369, "test": 652}
    for t in TASKS:
        assert t.probe.batch_size == 32 and t.probe.epochs == 64 and t.seeds == 5
        assert t.seconds_for("opera-ct") == 8.0 and t.seconds_for("opera-ce") == 2.0
        assert "subject-disjoint" in t.notes
