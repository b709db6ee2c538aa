"""ZCHSound reader (C8-C11: clean/noisy x normal-vs-CHD/five diagnoses) on a tiny fixture of the unpacked zip."""

import numpy as np
import pytest
import soundfile as sf

from benchmark_tasks import select_tasks
from benchmark_tasks._registry import DataContext
from benchmark_tasks.datasets._common import DatasetError
from benchmark_tasks.datasets.zchsound import TASKS, read_zchsound

CLEAN_CHD, CLEAN_DX, NOISY_CHD, NOISY_DX = TASKS
CODES = ("NORMAL", "ASD", "PDA", "PFO", "VSD")
CLEAN = [(f"ZCH{i:04d}.wav", CODES[i % 5] if i % 3 else "NORMAL") for i in range(1, 31)]
CLEAN += [("ZCH0545.wav", "ASD"), ("ZCH0802.wav", "VSD"), ("ZCH0090.wav", "NORMAL"), ("ZCH0171.wav", "NORMAL")]
NOISY = [(f"ZCH{i:04d}.wav", CODES[i % 5]) for i in range(942, 962)]


def _make(tmp_path, clean_folder="clean Heartsound Data"):
    root = tmp_path / "data" / "ZCHSound"
    rng = np.random.default_rng(0)
    for folder, csv_name, rows in ((clean_folder, "Clean Heartsound Data Details.csv", CLEAN),
                                   ("Noise Heartsound Data Details", "Noise Heartsound Data Details.csv", NOISY)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        lines = ["fileName;gender;age(days);diagnosis "]  # stray header whitespace, as in some exports
        for k, (name, code) in enumerate(rows):
            lines.append(f"{name};{'MF'[k % 2]};{'' if k == 3 else 365 * (k % 9) + 2};{code}")
            sf.write(root / folder / name, 0.1 * rng.standard_normal(100), 2000)
        (root / csv_name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "data"


def test_binary_and_five_class_labels(tmp_path):
    ctx = DataContext(data_root=_make(tmp_path))
    code = dict(CLEAN)
    chd, dx = read_zchsound(CLEAN_CHD, ctx), read_zchsound(CLEAN_DX, ctx)
    assert len(chd) == len(dx) == len(CLEAN)
    assert all(it.label == int(code[it.uid + ".wav"] != "NORMAL") for it in chd)
    assert all(CLEAN_DX.labels[it.label] == code[it.uid + ".wav"] for it in dx)
    assert CLEAN_DX.labels == CODES and CLEAN_CHD.labels == ("normal", "CHD")
    assert [(it.uid, it.split) for it in chd] == [(it.uid, it.split) for it in dx]


def test_noisy_tasks_read_only_the_noisy_set(tmp_path):
    items = read_zchsound(NOISY_DX, DataContext(data_root=_make(tmp_path)))
    assert sorted(it.uid for it in items) == sorted(n[:-4] for n, _ in NOISY)
    assert {it.metadata["subset"] for it in items} == {"noisy"}
    assert all("Noise Heartsound Data Details" in it.path for it in items)


def test_split_is_seeded_and_keeps_duplicate_recordings_together(tmp_path):
    ctx = DataContext(data_root=_make(tmp_path))
    items = {it.uid: it for it in read_zchsound(CLEAN_DX, ctx)}
    assert items["ZCH0802"].group == items["ZCH0545"].group == "ZCH0545"
    assert items["ZCH0802"].split == items["ZCH0545"].split
    assert items["ZCH0171"].split == items["ZCH0090"].split
    assert {it.split for it in items.values()} == {"train", "val", "test"}
    assert [it.split for it in read_zchsound(CLEAN_DX, ctx)] == [it.split for it in items.values()]


def test_metadata_spells_out_the_diagnosis(tmp_path):
    items = {it.uid: it for it in read_zchsound(CLEAN_DX, DataContext(data_root=_make(tmp_path)))}
    meta = items["ZCH0545"].metadata
    assert meta["diagnosis"] == "Atrial septal defect" and meta["diagnosis_code"] == "ASD"
    assert meta["gender"] in ("M", "F") and meta["age(days)"] is not None and meta["subset"] == "clean"
    assert items["ZCH0004"].metadata["age(days)"] is None and items["ZCH0004"].metadata["age_years"] is None
    assert items["ZCH0003"].metadata["age_years"] == round((365 * 2 + 2) / 365.25, 2)


def test_files_are_found_in_any_folder(tmp_path):
    items = read_zchsound(CLEAN_CHD, DataContext(data_root=_make(tmp_path, clean_folder="by_class/mixed")))
    assert len(items) == len(CLEAN) and all("by_class/mixed" in it.path for it in items)


def test_missing_csv_and_missing_wav_are_named(tmp_path):
    root = _make(tmp_path)
    (root / "ZCHSound" / "clean Heartsound Data" / "ZCH0007.wav").unlink()
    with pytest.raises(DatasetError, match="ZCH0007.wav"):
        read_zchsound(CLEAN_CHD, DataContext(data_root=root))
    (root / "ZCHSound" / "Noise Heartsound Data Details.csv").unlink()
    with pytest.raises(DatasetError, match="Noise Heartsound Data Details.csv"):
        read_zchsound(NOISY_CHD, DataContext(data_root=root))


def test_unknown_diagnosis_and_duplicate_files_are_errors(tmp_path):
    root = _make(tmp_path)
    csv_path = root / "ZCHSound" / "Noise Heartsound Data Details.csv"
    csv_path.write_text(csv_path.read_text().replace(";ASD\n", ";ASDX\n", 1))
    with pytest.raises(DatasetError, match="ASDX"):
        read_zchsound(NOISY_CHD, DataContext(data_root=root))
    sf.write(root / "ZCHSound" / "ZCH0001.wav", np.zeros(10), 2000)  # a second copy at the top level
    with pytest.raises(DatasetError, match="more than once: ZCH0001.wav"):
        read_zchsound(CLEAN_CHD, DataContext(data_root=root))


def test_missing_dataset_folder_names_the_download(tmp_path):
    with pytest.raises(DatasetError, match="zchsound.ncrcch.org.cn"):
        read_zchsound(CLEAN_CHD, DataContext(data_root=tmp_path))


def test_tasks_are_in_the_cardiac_suite():
    ids = {t.id for t in select_tasks("cardiac")}
    assert {"C8", "C9", "C10", "C11"} <= ids
