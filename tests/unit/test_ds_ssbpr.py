"""SSBPR reader (T12) on a tiny fixture in the female/male/<folder>/A-B-C.wav layout."""

from collections import Counter

import numpy as np
import pytest
import soundfile as sf
from sklearn.model_selection import train_test_split

from benchmark_tasks._registry import DataContext
from benchmark_tasks.datasets._common import DatasetError
from benchmark_tasks.datasets.ssbpr import TASKS, read_ssbpr

(T12,) = TASKS
SUBJECTS = {"female": ["0601-02", "0603-11"], "male": ["0512-07"]}


def _make(tmp_path):
    root = tmp_path / "data" / "SSBPR"
    for sex, subjects in SUBJECTS.items():
        for subject in subjects:
            folder = root / sex / subject
            folder.mkdir(parents=True)
            for position in range(6):  # 5 = prone, dropped
                for k in range(3):
                    sf.write(folder / f"{subject}{k}-{position}.wav", np.zeros(200, np.float32), 4000)
    return root, DataContext(data_root=tmp_path / "data")


def test_positions_subjects_and_opera_split(tmp_path):
    root, ctx = _make(tmp_path)
    items = read_ssbpr(T12, ctx)
    assert len(items) == 3 * 5 * 3 and {i.label for i in items} == {0, 1, 2, 3, 4}  # prone dropped
    assert [i.uid for i in items] == sorted(i.uid for i in items)
    item = next(i for i in items if i.uid == "male/0512-07/0512-071-3.wav")
    assert item.path == str(root / "male" / "0512-07" / "0512-071-3.wav") and item.label == 3
    assert item.group == "0512-071" and item.metadata == {
        "subject": "0512-071", "sex": "M", "folder": "0512-07", "position_code": 3, "body_position": "left-side lying"}
    assert Counter(i.split for i in items) == {"train": 27, "val": 9, "test": 9}
    for split in ("train", "val", "test"):
        assert {i.label for i in items if i.split == split} == {0, 1, 2, 3, 4}
    labels = [i.label for i in items]
    rest, test = train_test_split(np.arange(len(items)), test_size=0.2, random_state=42, stratify=labels)
    assert {items[k].uid for k in test} == {i.uid for i in items if i.split == "test"}
    assert [i.split for i in read_ssbpr(T12, ctx)] == [i.split for i in items]


def test_bad_names_and_missing_folders_are_named(tmp_path):
    root, ctx = _make(tmp_path)
    sf.write(root / "female" / "0601-02" / "0601-02x-supine.wav", np.zeros(200, np.float32), 4000)
    with pytest.raises(DatasetError, match="0601-02x-supine.wav"):
        read_ssbpr(T12, ctx)
    (root / "female").rename(root / "women")
    with pytest.raises(DatasetError, match="female"):
        read_ssbpr(T12, ctx)
    with pytest.raises(DatasetError, match="xiaoli1996/SSBPR"):
        read_ssbpr(T12, DataContext(data_root=tmp_path / "none"))


def test_task_spec_matches_opera():
    assert T12.labels[0] == "supine" and len(T12.labels) == 5 and T12.kind == "multiclass"
    assert (T12.probe.epochs, T12.probe.batch_size, T12.probe.select_every) == (32, 64, 3)
    assert T12.seconds_for("opera-ct") == 2.0 and "not per sleeper" in T12.notes
