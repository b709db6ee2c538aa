"""Alignment data: the test-split leakage guard, shared recordings, reports, and fixed-length training clips."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

import align.data as data_mod
import align.guard as guard_mod
from align.config import AlignConfig
from align.data import ClipDataset, build_test_index, collect_items, write_reports
from benchmark_tasks._registry import DataContext
from benchmark_tasks._spec import Item, TaskSpec
from benchmark_tasks.preprocess import Preprocess


def _task(task_id: str, modality: str = "lung") -> TaskSpec:
    return TaskSpec(id=task_id, name=task_id, dataset=f"ds-{task_id}", modality=modality, kind="binary",
                    metric="auroc", labels=("absent", "present"))


def _wav(path, seconds: float, sr: int = 16000, freq: float = 440.0):
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr)
    return str(path)


@pytest.fixture
def world(tmp_path, monkeypatch):
    """Task A (train/val/test) and task B whose test split holds A's train clip a0 and a renamed copy of a1."""
    a = [_wav(tmp_path / f"a{i}.wav", 0.5, freq=200 + 50 * i) for i in range(5)]
    copy = tmp_path / "copy_of_a1.wav"
    shutil.copy(a[1], copy)
    md = {"crackles": "fine", "subject": "S1"}
    items = {
        "A": [Item(a[0], 1, "train", "g0", md), Item(a[1], 1, "train", "g1", md), Item(a[2], 0, "train", "g2", {}),
              Item(a[3], 0, "val", "g3", {}), Item(a[4], 0, "test", "g4", {})],
        "B": [Item(a[0], 1, "test", "g0", {}), Item(str(copy), 1, "test", "g1", {}),
              Item(a[2], 0, "train", "g2", {"wheeze": "yes", "crackles": "none"}),
              Item(a[3], 0, "train", "g3", {})],
        "C": [],
    }
    tasks = {k: _task(k) for k in items}

    def fake_load(task, ctx):
        if task.id == "C":
            raise FileNotFoundError("no --data-root given; put the dataset in DATA_ROOT/c")
        return items[task.id]

    monkeypatch.setattr(data_mod, "load_items", fake_load)
    monkeypatch.setattr(guard_mod, "load_items", fake_load)
    monkeypatch.setattr(guard_mod, "all_tasks", lambda: list(tasks.values()))
    return tasks, a, tmp_path


def test_items_in_any_test_split_are_excluded_by_path_and_content(world):
    tasks, a, tmp = world
    data = collect_items([tasks["A"]], DataContext(cache_dir=tmp), "opera-gt")
    paths = [i.path for i in data.train]
    assert a[0] not in paths  # same path as B's test item
    assert a[1] not in paths  # same bytes as B's test item under another name
    assert a[4] not in paths  # A's own test item is never a training item
    assert {e["reason"] for e in data.excluded} == {"in the test split of B"}
    assert data.index.unavailable == {"no --data-root given; put the dataset in DATA_ROOT/c": ["C"]}
    s = data.summary()
    assert s["allow_test_items"] is False and s["excluded_test_items"] == 2 and s["items"] == 1


def test_allow_test_items_keeps_them_and_says_so(world):
    tasks, a, tmp = world
    data = collect_items([tasks["A"]], DataContext(cache_dir=tmp), "opera-gt", allow_test_items=True)
    assert {a[0], a[1]} <= {i.path for i in data.train}
    assert data.test_items_used == 2 and data.summary()["allow_test_items"] is True


def test_shared_recordings_become_one_item_with_merged_metadata(world):
    tasks, a, tmp = world
    data = collect_items([tasks["A"], tasks["B"]], DataContext(cache_dir=tmp), "opera-gt")
    by_path = {i.path: i for i in data.train}
    assert set(by_path) == {a[2], a[3]}  # a3 is A's val but B's train: it trains, and leaves the val set
    assert by_path[a[2]].task_ids == ("A", "B")
    assert by_path[a[2]].metadata == {"wheeze": "yes", "crackles": "none"}
    assert data.val == []


def test_val_split_is_held_out(world):
    tasks, a, tmp = world
    data = collect_items([tasks["A"]], DataContext(cache_dir=tmp), "opera-gt")
    assert [i.path for i in data.val] == [a[3]] and all(i.split == "val" for i in data.val)
    none = collect_items([tasks["A"]], DataContext(cache_dir=tmp), "opera-gt", val_split=None)
    assert none.val == []


def test_no_items_left_is_a_clear_error(world):
    tasks, _, tmp = world
    with pytest.raises(ValueError, match="no alignment items"):
        collect_items([tasks["A"]], DataContext(cache_dir=tmp), "opera-gt", splits=("nosuchsplit",))


def test_test_index_lists_test_files_of_readable_tasks(world):
    tasks, a, tmp = world
    index = build_test_index(DataContext(cache_dir=tmp))
    assert index.checked == ["A", "B"] and index.tasks_of(a[0], "") == {"B"}
    assert index.tasks_of(a[4], "") == {"A"}


def test_template_reports_state_the_metadata(world):
    tasks, a, tmp = world
    data = collect_items([tasks["A"]], DataContext(cache_dir=tmp), "opera-gt", allow_test_items=True)
    items = write_reports(data.train)
    report = {i.path: i.report for i in items}[a[0]]
    assert "fine crackles" in report and "S1" not in report
    assert [i.report for i in write_reports(data.train)] == [i.report for i in items]  # deterministic


def test_config_refuses_test_split_without_override():
    with pytest.raises(ValueError, match="allow-test-items"):
        AlignConfig(splits="train,test")
    assert AlignConfig(splits="train,test", allow_test_items=True).split_list() == ("train", "test")


def _dataset(paths, tmp, **kw):
    items = [data_mod.AlignItem(p, str(i), "lung", "train", ("A",), {}, Preprocess()) for i, p in enumerate(paths)]
    return ClipDataset(items, 16000, lambda w: w, **kw)


def test_clips_are_resampled_and_fitted_to_the_training_length(tmp_path):
    short = _wav(tmp_path / "short.wav", 0.25, sr=8000)  # 2000 samples at 8 kHz -> 4000 at 16 kHz
    long = _wav(tmp_path / "long.wav", 2.0)
    ds = _dataset([short, long], tmp_path, train_samples=16000, crop="random", seed=3)
    wav0, i0 = ds[0]
    assert wav0.shape == (16000,) and i0 == 0
    np.testing.assert_allclose(wav0[4000:8000].numpy(), wav0[:4000].numpy())  # tiled from the start
    first = ds[1][0]
    assert torch_equal(first, ds[1][0])  # same epoch -> same crop
    ds.set_epoch(1)
    assert not torch_equal(first, ds[1][0])  # a new epoch draws a new offset
    start = _dataset([short, long], tmp_path, train_samples=16000, crop="start")[1][0]
    np.testing.assert_allclose(start.numpy(), sf.read(long, dtype="float32")[0][:16000], atol=1e-6)


def torch_equal(a, b) -> bool:
    return bool((a == b).all())
