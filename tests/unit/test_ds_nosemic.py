"""NoseMic reader (T19) on a tiny fixture in the audio/<subject>_<x>_<y>_<rate>.wav layout."""

import numpy as np
import pytest
import soundfile as sf

from benchmark_tasks._registry import DataContext
from benchmark_tasks.datasets._common import DatasetError
from benchmark_tasks.datasets.nosemic import TASKS, read_nosemic

(T19,) = TASKS
NAMES = ["4_a_1_14.wav", "4_b_2_22.5.wav", "10_a_1_18.wav", "21_b_3_30.wav", "5_a_1_12.wav", "2_a_1_16.wav"]


def _make(tmp_path):
    audio = tmp_path / "data" / "nosemic" / "audio"
    audio.mkdir(parents=True)
    for name in NAMES:
        sf.write(audio / name, np.zeros(400, np.float32), 4000)
    (audio / "notes.txt").write_text("not audio")
    return audio, DataContext(data_root=tmp_path / "data")


def test_rates_subjects_and_fold_membership(tmp_path):
    audio, ctx = _make(tmp_path)
    items = read_nosemic(T19, ctx)
    assert [i.uid for i in items] == sorted(NAMES)  # OPERA's sorted(os.listdir) order
    by_uid = {i.uid: i for i in items}
    assert by_uid["4_b_2_22.5.wav"].label == 22.5 and by_uid["4_b_2_22.5.wav"].group == "4"
    assert by_uid["4_b_2_22.5.wav"].metadata == {"subject": "4", "name_field_2": "b", "name_field_3": "2",
                                                 "respiratory_rate_bpm": 22.5}
    assert by_uid["4_a_1_14.wav"].path == str(audio / "4_a_1_14.wav")
    # subject 2 is not one of OPERA's 16 test folds: it only ever trains
    assert {u: i.split for u, i in by_uid.items() if i.split == "train"} == {"2_a_1_16.wav": "train"}
    assert all(isinstance(i.label, float) for i in items)


def test_bad_names_and_missing_folder_are_named(tmp_path):
    audio, ctx = _make(tmp_path)
    sf.write(audio / "7_a_1_fast.wav", np.zeros(400, np.float32), 4000)
    with pytest.raises(DatasetError, match="7_a_1_fast.wav"):
        read_nosemic(T19, ctx)
    (audio / "7_a_1_fast.wav").unlink()
    sf.write(audio / "7_a_18.wav", np.zeros(400, np.float32), 4000)
    with pytest.raises(DatasetError, match="7_a_18.wav"):
        read_nosemic(T19, ctx)
    audio.rename(audio.parent / "wav")
    with pytest.raises(DatasetError, match="drive.google.com"):
        read_nosemic(T19, ctx)


def test_task_spec_matches_opera():
    assert (T19.kind, T19.metric, T19.split, T19.seeds) == ("regression", "mae", "loso", 1)
    assert (T19.probe.lr, T19.probe.l2, T19.probe.patience, T19.probe.val_fraction) == (1e-4, 0.1, 0, 0.2)
    assert T19.seconds_for("opera-ct") == 30.0 and len(T19.options["loso_subjects"]) == 16
