"""`--tasks csv:manifest.csv`: the path for anyone's own recordings."""

import numpy as np
import pytest
import soundfile as sf

from benchmark_tasks import load_items, select_tasks
from benchmark_tasks._registry import DataContext
from benchmark_tasks.datasets.manifest import ManifestError
from benchmark_tasks.splits import group_stratified_split


def _write(tmp_path, text):
    p = tmp_path / "manifest.csv"
    p.write_text(text)
    return p


def test_manifest_with_splits_and_metadata(tmp_path):
    p = _write(tmp_path, "path,label,split,group,age,site\n"
                         "a.wav,covid,train,s1,40,trachea\nb.wav,healthy,test,s2,,\nc.wav,healthy,val,s3,22,x\n"
                         "d.wav,healthy,train,s4,31,x\n")
    (task,) = select_tasks(f"csv:{p}")
    assert task.kind == "binary" and task.labels == ("covid", "healthy") and task.split == "official"
    items = load_items(task, DataContext())
    assert [i.label for i in items] == [0, 1, 1, 1] and [i.split for i in items] == ["train", "test", "val", "train"]
    assert items[0].path == str(tmp_path / "a.wav") and items[0].metadata == {"age": "40", "site": "trachea"}


def test_manifest_without_split_gets_a_group_disjoint_stratified_split(tmp_path):
    rows = ["path,label,group"] + [f"f{i}.wav,{'yes' if i % 3 == 0 else 'no'},subj{i // 2}" for i in range(120)]
    p = _write(tmp_path, "\n".join(rows) + "\n")
    (task,) = select_tasks(f"csv:{p}")
    items = load_items(task, DataContext())
    by_group = {}
    for it in items:
        by_group.setdefault(it.group, set()).add(it.split)
    assert all(len(s) == 1 for s in by_group.values())
    for split, share in (("train", 0.6), ("val", 0.2), ("test", 0.2)):
        sel = [it for it in items if it.split == split]
        assert abs(len(sel) / len(items) - share) < 0.06
        assert {it.label for it in sel} == {0, 1}
    assert [i.split for i in load_items(task, DataContext())] == [i.split for i in items]


def test_numeric_many_valued_labels_make_a_regression_task(tmp_path):
    rows = ["path,label"] + [f"f{i}.wav,{12 + i * 0.5}" for i in range(30)]
    (task,) = select_tasks(f"csv:{_write(tmp_path, chr(10).join(rows))}")
    assert task.kind == "regression" and task.metric == "mae"


@pytest.mark.parametrize("text,match", [
    ("file,label\na.wav,1\n", "missing column"), ("path,label\n", "no rows"),
    ("path,label,split\na.wav,1,training\nb.wav,0,test\n", "not one of"), ("path,label\na.wav,1\nb.wav,1\n",
                                                                          "single value")])
def test_malformed_manifests_are_named(tmp_path, text, match):
    p = _write(tmp_path, text)
    with pytest.raises(ManifestError, match=match) as info:
        select_tasks(f"csv:{p}")
    assert str(p) in str(info.value)


def test_csv_end_to_end_with_real_audio(tmp_path):
    from adapters import build_encoder
    from benchmark_tasks.embeddings import extract_embeddings

    rng = np.random.default_rng(1)
    rows = ["path,label,group"]
    for i in range(20):
        sf.write(tmp_path / f"r{i}.flac", 0.1 * rng.standard_normal(8000), 8000)
        rows.append(f"r{i}.flac,{i % 2},g{i}")
    (task,) = select_tasks(f"csv:{_write(tmp_path, chr(10).join(rows))}")
    items = load_items(task, DataContext())
    res = extract_embeddings(build_encoder("logmel-stats"), items, tmp_path / "cache", progress=False)
    assert res.embeddings.shape == (20, 128)


def test_split_is_a_pure_function_of_seed():
    labels = [i % 2 for i in range(50)]
    groups = [i // 2 for i in range(50)]
    assert group_stratified_split(labels, groups, 3) == group_stratified_split(labels, groups, 3)
    assert group_stratified_split(labels, groups, 3) != group_stratified_split(labels, groups, 4)


def test_train_test_manifest_gets_a_group_disjoint_validation_carved_from_train(tmp_path):
    rows = ["path,label,split,group"] + [
        f"f{i}.wav,{i % 2},{'test' if i >= 80 else 'train'},g{i // 2}" for i in range(100)]
    (task,) = select_tasks(f"csv:{_write(tmp_path, chr(10).join(rows))}")
    items = load_items(task, DataContext())
    val = [it for it in items if it.split == "val"]
    assert 10 <= len(val) <= 22 and {it.label for it in val} == {0, 1}
    assert all(it.split == "test" for it in items[80:])
    groups = {}
    for it in items:
        groups.setdefault(it.group, set()).add(it.split)
    assert all(len(s) == 1 for s in groups.values())
