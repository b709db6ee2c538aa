"""CoughVID reader (T5/T6) on a tiny fixture in the public_dataset layout with OPERA's pickled uuid lists."""

import csv
import os
import pickle

import numpy as np
import pytest
import soundfile as sf

from adapters._audio import read_audio
from benchmark_tasks._registry import _READERS, DataContext
from benchmark_tasks.datasets._common import DatasetError
from benchmark_tasks.datasets.coughvid import TASKS, load_uuid_list, read_coughvid

T5, T6 = TASKS
EXPERT = [f"{f}_{n}" for n in (1, 2) for f in ("quality", "cough_type", "dyspnea", "wheezing", "stridor", "choking",
                                                "congestion", "nothing", "diagnosis", "severity")]
EXPERT += ["quality_3", "dyspnea_3", "wheezing_3", "stridor_3", "choking_3", "congestion_3", "nothing_3",
           "cough_type_3", "diagnosis_3", "severity_3"]
HEADER = ["uuid", "datetime", "cough_detected", "latitude", "longitude", "age", "gender", "respiratory_condition",
          "fever_muscle_pain", "status"] + EXPERT


def _uuid(n):
    return f"{n:08d}-7f3a-42aa-ac13-834aaa2b6b9{n % 10}"


# n, status, gender, list, audio kind ("webm-wav" = wav/<uuid>.wav, "ogg-wav" = OPERA's truncated name, "ogg")
RECORDINGS = [(1, "healthy", "male", "train", "webm-wav"), (2, "COVID-19", "female", "train", "ogg-wav"),
              (3, "symptomatic", "female", "val", "webm-wav"), (4, "healthy", "", "val", "webm-wav"),
              (5, "COVID-19", "other", "test", "webm-wav"), (6, "healthy", "female", "test", "ogg"),
              (7, "healthy", "male", None, "webm-wav"), (8, "COVID-19", "male", "covid-test-only", "webm-wav")]
LISTS = {"train": "coughvid__train_uuids.npy", "val": "coughvid__val_uuids.npy",
         "test": "coughvid_gender_test_uuids.npy", "covid-test-only": "coughvid_covid_test_uuids.npy"}


def _make(tmp_path, metadata_at_root=False):
    root = tmp_path / "data" / "coughvid"
    (root / "public_dataset").mkdir(parents=True)
    (root / "wav").mkdir()
    rows = []
    for n, status, gender, _, kind in RECORDINGS:
        uuid = _uuid(n)
        expert = ["good", "dry"] + [""] * (len(EXPERT) - 2) if n == 2 else [""] * len(EXPERT)
        rows.append([uuid, "2020-04-13T21:30:59+00:00", "0.96", "31.3", "34.8", str(20 + n) if n != 4 else "",
                     gender, "False", "True" if n == 2 else "False", status] + expert)
        tone = np.sin(np.linspace(0, 60, 4800)).astype(np.float32) * 0.1
        if kind == "webm-wav":
            sf.write(root / "wav" / f"{uuid}.wav", tone, 48000)
        elif kind == "ogg-wav":
            sf.write(root / "wav" / f"{uuid[:-1]}.wav", tone, 48000)
        else:
            sf.write(root / "public_dataset" / f"{uuid}.ogg", tone, 48000, format="OGG", subtype="VORBIS")
    meta = root / ("metadata_compiled.csv" if metadata_at_root else "public_dataset/metadata_compiled.csv")
    with open(meta, "w", newline="") as fh:
        csv.writer(fh).writerows([HEADER] + rows)
    lists = tmp_path / "opera" / "datasets" / "coughvid"
    lists.mkdir(parents=True)
    for key, name in LISTS.items():
        np.save(lists / name, np.array([_uuid(n) for n, *_, s, _ in RECORDINGS if s == key], dtype=object))
    return root, DataContext(data_root=tmp_path / "data", opera_root=tmp_path / "opera")


def test_covid_task_labels_splits_and_audio_resolution(tmp_path):
    root, ctx = _make(tmp_path)
    items = {i.uid: i for i in read_coughvid(T5, ctx)}
    assert {u[:8]: (i.label, i.split) for u, i in items.items()} == {
        "00000001": (0, "train"), "00000002": (1, "train"), "00000004": (0, "val"),
        "00000005": (1, "test"), "00000006": (0, "test")}  # symptomatic dropped; covid-test-only list unused
    assert items[_uuid(1)].path == str(root / "wav" / f"{_uuid(1)}.wav")
    assert items[_uuid(2)].path == str(root / "wav" / f"{_uuid(2)[:-1]}.wav")  # OPERA's .ogg conversion name
    assert items[_uuid(6)].path == str(root / "public_dataset" / f"{_uuid(6)}.ogg")
    wav, sr = read_audio(items[_uuid(6)].path)  # the project's reader decodes the Ogg as is
    assert sr == 48000 and abs(len(wav) - 4800) < 100
    assert all(i.group == i.uid for i in items.values())


def test_metadata_keeps_every_column_with_none_for_blanks(tmp_path):
    _, ctx = _make(tmp_path)
    items = {i.uid: i.metadata for i in read_coughvid(T5, ctx)}
    second = items[_uuid(2)]
    assert set(second) == set(HEADER) and second["cough_detected"] == "0.96"
    assert second["quality_1"] == "good" and second["cough_type_1"] == "dry" and second["diagnosis_1"] is None
    assert second["fever_muscle_pain"] == "True" and items[_uuid(4)]["age"] is None


def test_sex_task_drops_other_and_blank_gender(tmp_path):
    _, ctx = _make(tmp_path / "a", metadata_at_root=True)  # OPERA keeps its copy of the csv here
    items = {i.uid[:8]: (i.label, i.split) for i in read_coughvid(T6, ctx)}
    assert items == {"00000001": (0, "train"), "00000002": (1, "train"), "00000003": (1, "val"),
                     "00000006": (1, "test")}


def test_missing_inputs_are_named(tmp_path):
    with pytest.raises(DatasetError, match="zenodo.org/records/4048312"):
        read_coughvid(T5, DataContext(data_root=tmp_path))
    root, ctx = _make(tmp_path)
    (tmp_path / "opera/datasets/coughvid/coughvid__val_uuids.npy").unlink()
    with pytest.raises(DatasetError, match="coughvid__val_uuids.npy"):
        read_coughvid(T5, ctx)


def test_listed_uuid_without_metadata_or_audio_is_an_error(tmp_path):
    root, ctx = _make(tmp_path)
    (root / "wav" / f"{_uuid(5)}.wav").unlink()
    (root / "public_dataset" / f"{_uuid(5)}.webm").write_bytes(b"\x1aE\xdf\xa3")  # webm needs conversion
    with pytest.raises(DatasetError, match=f"1 listed CoughVID recordings have no audio.*{_uuid(5)}.*ffmpeg"):
        read_coughvid(T5, ctx)
    np.save(tmp_path / "opera/datasets/coughvid/coughvid__val_uuids.npy",
            np.array([_uuid(3), "ffffffff-0000-0000-0000-000000000000"], dtype=object))
    with pytest.raises(DatasetError, match="not in .*metadata_compiled.csv: ffffffff-"):
        read_coughvid(T5, ctx)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_uuid_lists_load_without_executing_pickled_code(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.array(["a", "b"], dtype=object))
    assert load_uuid_list(good) == ["a", "b"]
    plain = tmp_path / "plain.npy"
    np.save(plain, np.array(["c"]))
    assert load_uuid_list(plain) == ["c"]
    evil = tmp_path / "evil.npy"
    with open(evil, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "|O", "fortran_order": False, "shape": (1,)})
        pickle.dump(_Evil(), fh)
    with pytest.raises(DatasetError, match="refusing to load .*system"):
        load_uuid_list(evil)


def test_task_specs_follow_opera():
    assert [t.id for t in TASKS] == ["T5", "T6"] and _READERS["coughvid"] is read_coughvid
    assert T5.labels == ("healthy", "COVID-19") and T6.labels == ("male", "female")
    assert T5.options["opera_counts"] == {"train": 2749, "val": 919, "test": 2507}
    assert T6.options["opera_counts"] == {"train": 3218, "val": 1090, "test": 2955}
    for t in TASKS:
        assert t.seconds_for("opera-ct") == 2.0 and t.seconds_for("opera-ce") == 2.0
        assert t.seconds_for("opera-gt") == 8.18 and t.probe.batch_size == 64 and t.seeds == 5
