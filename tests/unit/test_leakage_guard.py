"""The patient-level leakage guard: test subjects of the same dataset, --guard manifests, unreadable guard tasks."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import soundfile as sf

import align.data as data_mod
import align.guard as guard_mod
from align.config import AlignConfig, add_arguments, config_from_args
from align.data import collect_for, collect_items
from align.guard import LeakageGuardError, dataset_key, group_keys, guard_manifests
from benchmark_tasks._registry import DataContext
from benchmark_tasks._spec import Item, TaskSpec


def _task(task_id: str, dataset: str) -> TaskSpec:
    return TaskSpec(id=task_id, name=task_id, dataset=dataset, modality="lung", kind="binary", metric="auroc",
                    labels=("absent", "present"))


def _wav(path, freq: float) -> str:
    t = np.arange(8000) / 16000
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 16000)
    return str(path)


@pytest.fixture
def world(tmp_path, monkeypatch):
    """Dataset "lungs": X1 (aligned), X2 (its test split holds another recording of patient P1), X3 (unreadable);
    dataset "other": Y (test subject P2, an id that means someone else there), Z (unreadable)."""
    w = {n: _wav(tmp_path / f"{n}.wav", 100 + 40 * i) for i, n in enumerate(["r1", "r2", "r3", "r5", "t1", "y1"])}
    items = {
        "X1": [Item(w["r1"], 1, "train", "P1"), Item(w["r2"], 0, "train", "P2"), Item(w["r3"], 1, "train", "P3"),
               Item(w["r5"], 0, "val", "P5")],
        "X2": [Item(w["t1"], 1, "test", "P1"), Item(w["r3"], 1, "train", "P3")],
        "Y": [Item(w["y1"], 1, "test", "P2")],
    }
    tasks = {"X1": _task("X1", "lungs"), "X2": _task("X2", "lungs"), "X3": _task("X3", "lungs"),
             "Y": _task("Y", "other"), "Z": _task("Z", "other")}

    def fake_load(task, ctx):
        if task.id not in items:
            raise FileNotFoundError(f"DATA_ROOT/{task.id}: split file not found; pass --opera-root")
        return items[task.id]

    monkeypatch.setattr(data_mod, "load_items", fake_load)
    monkeypatch.setattr(guard_mod, "load_items", fake_load)
    monkeypatch.setattr(guard_mod, "all_tasks", lambda: list(tasks.values()))
    return tasks, w, DataContext(cache_dir=tmp_path)


def test_another_recording_of_a_test_patient_is_excluded(world):
    tasks, w, ctx = world
    data = collect_items([tasks["X1"]], ctx, "opera-gt", allow_unguarded=True)
    assert [i.path for i in data.train] == [w["r2"], w["r3"]]   # r2: P2 is a test subject of ANOTHER dataset only
    (ex,) = data.excluded
    assert ex["path"] == w["r1"] and ex["match"] == "group" and "'P1' of lungs" in ex["reason"] and "X2" in ex["reason"]
    s = data.summary()
    assert s["excluded_by_group"] == 1 and s["excluded_test_items"] == 1
    assert s["leakage_guard_required"] == ["X1", "X2", "X3"]


def test_unreadable_guard_task_stops_the_run(world):
    tasks, _, ctx = world
    with pytest.raises(LeakageGuardError, match=r"X3.*--allow-unguarded") as err:
        collect_items([tasks["X1"]], ctx, "opera-gt")
    assert "\n" not in str(err.value) and "Z" not in str(err.value).split(";")[0]   # Z is another dataset


def test_allow_unguarded_aligns_and_records_the_unguarded_tasks(world):
    tasks, _, ctx = world
    s = collect_items([tasks["X1"]], ctx, "opera-gt", allow_unguarded=True).summary()
    assert s["allow_unguarded"] is True
    assert s["unguarded_tasks"] == {"X3": "DATA_ROOT/X3: split file not found; pass --opera-root"}
    assert s["leakage_guard_unavailable"] == {"DATA_ROOT/Z: split file not found; pass --opera-root": ["Z"]}


def test_allow_test_items_keeps_test_subjects_and_counts_them(world):
    tasks, w, ctx = world
    data = collect_items([tasks["X1"]], ctx, "opera-gt", allow_test_items=True, allow_unguarded=True)
    assert w["r1"] in {i.path for i in data.train} and data.test_items_used == 1


def _manifest(path, rows) -> str:
    path.write_text("path,label,split,group\n" + "".join(",".join(r) + "\n" for r in rows))
    return str(path)


def test_guard_manifest_test_subjects_are_excluded(tmp_path):
    for i, name in enumerate("abcdefgh"):
        _wav(tmp_path / f"{name}.wav", 150 + 30 * i)
    align_csv = _manifest(tmp_path / "align.csv", [
        ("a.wav", "1", "train", "P1"), ("b.wav", "0", "train", "P2"), ("d.wav", "0", "val", "P4"),
        ("c.wav", "1", "train", "item2"), ("e.wav", "1", "test", "P9")])
    guard_csv = _manifest(tmp_path / "held_out.csv", [
        ("f.wav", "1", "test", "P1"), ("g.wav", "0", "train", "P2"), ("h.wav", "1", "test", "")])
    cfg = AlignConfig(tasks=f"csv:{align_csv}", guard=f"csv:{guard_csv}", cache_dir=str(tmp_path / "cache"))
    data = collect_for(cfg)
    kept = {i.path.rsplit("/", 1)[1] for i in data.train}
    # a: P1 is a test subject of the guard manifest; b: P2 is only in its train split; c: its group "item2" is
    # real, while the guard's row 2 has none (the reader's stand-in name "item2" must not match it)
    assert kept == {"b.wav", "c.wav"}
    assert data.summary()["guard_manifests"] == [str((tmp_path / "held_out.csv").resolve())]
    assert "csv-held_out" in data.index.checked


def test_group_keys_and_dataset_keys():
    demo = TaskSpec(id="d", name="d", dataset="demo", modality="lung", kind="binary", metric="auroc",
                    labels=("a", "b"), options={"scale": 0.1})
    assert dataset_key(demo) == "demo:scale=0.1"
    csv = TaskSpec(id="c", name="c", dataset="csv", modality="custom", kind="binary", metric="auroc",
                   labels=("a", "b"))
    items = [Item("x", 0, "test", "item0"), Item("y", 0, "test", "P7"), Item("z", 0, "test", "")]
    assert group_keys(csv, items) == [None, ("csv", "P7"), None]


def test_guard_value_must_be_csv_manifests(tmp_path):
    with pytest.raises(LeakageGuardError, match="is not csv:PATH"):
        guard_manifests(str(tmp_path / "held_out.csv"))
    assert guard_manifests(None) == [] and guard_manifests("") == []


def test_guard_flags_reach_the_config():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cfg = config_from_args(parser.parse_args(["--guard", "csv:a.csv,csv:b.csv", "--allow-unguarded",
                                              "--on-error", "skip"]))
    assert (cfg.guard, cfg.allow_unguarded, cfg.on_error) == ("csv:a.csv,csv:b.csv", True, "skip")
    assert AlignConfig().on_error == "fail" and AlignConfig().allow_unguarded is False
