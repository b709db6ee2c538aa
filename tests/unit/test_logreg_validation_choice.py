"""The logreg probe on csv tasks: a validation split we carved (the manifest has no `val` rows) joins train and
the regularisation is chosen by group-aware CV; a validation split the manifest gives is used as given."""

import numpy as np
import soundfile as sf

from benchmark_tasks import DataContext, load_items
from benchmark_tasks.datasets.manifest import manifest_task
from benchmark_tasks.probe_cv import cv_logreg_probe
from benchmark_tasks.runner import probe_splits


def _manifest(tmp_path, with_val: bool):
    rows = ["path,label,group,split"]
    for i in range(48):
        sf.write(tmp_path / f"f{i}.wav", np.full(800, 0.01 * (i + 1), np.float32), 8000)
        split = "test" if i >= 36 else ("val" if with_val and i >= 28 else "train")
        rows.append(f"f{i}.wav,{'b' if i % 2 else 'a'},p{i // 2},{split}")
    path = tmp_path / ("with_val.csv" if with_val else "no_val.csv")
    path.write_text("\n".join(rows) + "\n")
    return manifest_task(path)


def test_carved_validation_joins_train_and_cv_picks_the_regularisation(tmp_path):
    task = _manifest(tmp_path, with_val=False)
    items = load_items(task, DataContext(cache_dir=tmp_path))
    assert not task.validation_given and sum(it.split == "val" for it in items) > 0   # carved for OPERA's probe
    emb = np.random.default_rng(0).standard_normal((len(items), 4))
    (xtr, ytr), (xva, _), (xte, yte), groups = probe_splits(task, items, emb, pool_carved_validation=True)
    assert len(xtr) == 36 and len(xva) == 0 and len(xte) == 12 and len(groups) == 36
    (otr, _), (ova, _), _, _ = probe_splits(task, items, emb, pool_carved_validation=False)   # OPERA's probe
    assert len(ova) > 0 and len(otr) + len(ova) == 36
    res = cv_logreg_probe(xtr, ytr, xva, np.array([]), xte, yte, 2, groups)
    assert res.history[-1]["selection"]["how"] == "cv" and res.history[-1]["selection"]["folds"] >= 2


def test_given_validation_is_used_as_given(tmp_path):
    task = _manifest(tmp_path, with_val=True)
    items = load_items(task, DataContext(cache_dir=tmp_path))
    emb = np.random.default_rng(0).standard_normal((len(items), 4))
    (xtr, ytr), (xva, yva), (xte, yte), groups = probe_splits(task, items, emb, pool_carved_validation=True)
    assert task.validation_given and (len(xtr), len(xva), len(xte)) == (28, 8, 12)
    res = cv_logreg_probe(xtr, ytr, xva, yva, xte, yte, 2, groups)
    assert res.history[-1]["selection"]["how"] == "val"
