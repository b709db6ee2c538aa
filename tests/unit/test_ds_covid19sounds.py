"""COVID-19 Sounds task-1 reader (T3/T4) on a tiny fixture in the task1 package layout."""

import numpy as np
import pytest
import soundfile as sf

from benchmark_tasks._registry import _READERS, DataContext
from benchmark_tasks.datasets._common import DatasetError
from benchmark_tasks.datasets.covid19sounds import TASKS, read_covid19sounds

T3, T4 = TASKS
HEADER = ("Uid;Age;Sex;Medhistory;Smoking;Language;Date;Folder Name;Symptoms;Covid-Tested;Hospitalized;"
          "Voice check;Voice filename;Cough filename;Breath filename;split;label")
WEB_UID = "2020-04-07-12_00_00_123456"


def _rows():
    """(Uid, folder, split, label, symptoms): 12 train rows, then val and test; U21 submitted twice."""
    rows = [(f"U{n:02d}", f"2020-05-{n:02d}-10_00_00_000000", "0", str(n % 2), "drycough" if n % 2 else "None")
            for n in range(12)]
    rows[5] = (WEB_UID, WEB_UID, "0", "1", "fever,drycough")  # a web submission: folder name == Uid
    rows += [("U13", "2020-06-01-09_00_00_000000", "1", "1", "sorethroat"),
             ("U20", "2020-06-02-09_00_00_000000", "1", "0", "None"),
             ("U21", "2020-06-03-09_00_00_000000", "2", "1", "shortbreath"),
             ("U21", "2020-06-05-09_00_00_000005", "2", "1", "shortbreath,drycough"),
             ("U22", "2020-06-04-09_00_00_000000", "2", "0", "")]
    return rows


def _make(tmp_path, rows=None):
    root = tmp_path / "covid19-sounds"
    lines = [HEADER]
    for uid, folder, split, label, symptoms in rows or _rows():
        user = "form-app-users" if uid.startswith("2020") else uid
        audio = root / "0426_EN_used_task1" / user / folder
        audio.mkdir(parents=True, exist_ok=True)
        names = [f"{kind}_{folder[-6:]}.wav" for kind in ("voice", "cough", "breath")]
        for name in names:
            sf.write(audio / name, np.zeros(800, np.float32), 16000)
        age = "" if uid == "U20" else "30-39"
        lines.append(f"{uid};{age};Female;None;never;en;2020-05-01;{folder};{symptoms};negative;no;v;"
                     f"{';'.join(names)};{split};{label}")
    (root / "data_0426_en_task1.csv").write_text("\n".join(lines) + "\n")
    return root, DataContext(data_root=tmp_path)


def test_every_fifth_training_row_is_kept_with_all_val_and_test(tmp_path):
    root, ctx = _make(tmp_path)
    items = read_covid19sounds(T3, ctx)
    train = [i for i in items if i.split == "train"]
    assert [i.group for i in train] == ["U00", WEB_UID, "U10"]  # training rows 1, 6, 11 in csv order
    assert [i.label for i in train] == [0, 1, 0]
    assert sorted((i.group, i.split, i.label) for i in items if i.split != "train") == [
        ("U13", "val", 1), ("U20", "val", 0), ("U21", "test", 1), ("U21", "test", 1), ("U22", "test", 0)]


def test_paths_follow_the_app_and_web_folders(tmp_path):
    root, ctx = _make(tmp_path)
    items = {i.group: i for i in read_covid19sounds(T3, ctx) if i.split == "train"}
    web = items[WEB_UID]
    assert web.path == str(root / "0426_EN_used_task1/form-app-users" / WEB_UID / "breath_123456.wav")
    assert items["U00"].path.endswith("0426_EN_used_task1/U00/2020-05-00-10_00_00_000000/breath_000000.wav")
    assert web.metadata["Symptoms"] == "fever,drycough" and web.metadata["Sex"] == "Female"


def test_cough_task_uses_the_cough_column_and_keeps_metadata(tmp_path):
    _, ctx = _make(tmp_path)
    items = read_covid19sounds(T4, ctx)
    assert all("/cough_" in i.path for i in items) and len(items) == 8
    by_group = {i.group: i for i in items}
    assert by_group["U20"].metadata["Age"] is None and by_group["U22"].metadata["Symptoms"] is None
    assert sorted(i.uid for i in items if i.group == "U21") == [
        "U21/2020-06-03-09_00_00_000000/cough_000000.wav", "U21/2020-06-05-09_00_00_000005/cough_000005.wav"]


def test_missing_csv_and_folder_are_named(tmp_path):
    with pytest.raises(DatasetError, match="covid-19-sounds.org"):
        read_covid19sounds(T3, DataContext(data_root=tmp_path))
    root, ctx = _make(tmp_path)
    (root / "data_0426_en_task1.csv").unlink()
    with pytest.raises(DatasetError, match="data_0426_en_task1.csv"):
        read_covid19sounds(T3, ctx)


def test_missing_audio_and_bad_rows_are_errors(tmp_path):
    root, ctx = _make(tmp_path)
    (root / "0426_EN_used_task1/U21/2020-06-03-09_00_00_000000/breath_000000.wav").unlink()
    with pytest.raises(DatasetError, match="1 breath recordings .* missing.*U21/"):
        read_covid19sounds(T3, ctx)
    rows = _rows()
    rows[13] = ("U20", "2020-06-02-09_00_00_000000", "1", "", "None")
    _, ctx = _make(tmp_path / "b", rows)
    with pytest.raises(DatasetError, match="line 15"):
        read_covid19sounds(T3, ctx)


def test_task_specs():
    assert [t.id for t in TASKS] == ["T3", "T4"] and _READERS["covid19sounds"] is read_covid19sounds
    for t in TASKS:
        assert t.labels == ("asymptomatic", "symptomatic") and t.group_by == "Uid"
        assert t.seconds_for("opera-ct") == 8.0 and t.seconds_for("opera-gt") == 8.18
        assert t.options["suite"] == "opera" and t.probe.batch_size == 64
