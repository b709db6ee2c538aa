"""The cross-validated probe for non-OPERA tasks: well-posed where OPERA's fixed protocol barely trains."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark_tasks._spec import ProbeConfig
from benchmark_tasks.metrics import auroc
from benchmark_tasks.probe_cv import cv_logreg_probe, cv_ridge_probe
from benchmark_tasks.probe_linear import linear_probe


def _own_data(seed=0, n_subjects=60, per=3, d=20, scale=300.0):
    """A small own-data task: 3 recordings per subject, label per subject, one informative direction hidden
    among features of large, uneven scales (as openSMILE functionals have)."""
    rng = np.random.default_rng(seed)
    y_subj = np.arange(n_subjects) % 2                      # every split holds both classes
    groups = np.repeat(np.arange(n_subjects), per)
    y = y_subj[groups]
    x = rng.standard_normal((len(y), d)) + 0.5 * rng.standard_normal((n_subjects, d))[groups]
    x[:, :3] += 1.0 * y[:, None]
    x *= scale * rng.uniform(0.01, 10, d)
    x += 1000.0
    split = np.where(groups < 36, "train", np.where(groups < 45, "val", "test"))
    return x, y, groups, split


def _independent_baseline(x, y, groups, split):
    """scikit-learn alone: StandardScaler + LogisticRegressionCV over GroupKFold on train+val, then test."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    fit = split != "test"
    cv = list(GroupKFold(n_splits=5).split(x[fit], y[fit], groups[fit]))
    model = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=np.logspace(-4, 3, 15), cv=cv,
                                                                 scoring="roc_auc", max_iter=5000))
    model.fit(x[fit], y[fit])
    return auroc(y[~fit], model.predict_proba(x[~fit]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_an_independent_sklearn_baseline_where_operas_protocol_fails(seed):
    x, y, groups, split = _own_data(seed)
    parts = {s: (x[split == s], y[split == s]) for s in ("train", "val", "test")}
    ours = cv_logreg_probe(*parts["train"], *parts["val"], *parts["test"], 2, groups[split == "train"])
    cv_only = cv_logreg_probe(*parts["train"], None, None, *parts["test"], 2, groups[split == "train"])
    baseline = _independent_baseline(x, y, groups, split)
    opera = linear_probe(*parts["train"], *parts["val"], *parts["test"], 2, ProbeConfig(), seed=0)
    assert abs(ours.test_score - baseline) < 0.06 and abs(cv_only.test_score - baseline) < 0.06
    assert ours.test_score > 0.75 and opera.test_score < ours.test_score - 0.1
    assert ours.history[-1]["selection"]["how"] == "val" and cv_only.history[-1]["selection"]["how"] == "cv"


def test_folds_never_split_a_subject_and_too_few_groups_are_named():
    from benchmark_tasks.probe_cv import _folds

    _, y, groups, split = _own_data()
    tr = split == "train"
    for a, b in _folds(y[tr], groups[tr], True):
        assert not set(groups[tr][a]) & set(groups[tr][b])
    with pytest.raises(ValueError, match="smallest class has 1 group"):
        _folds(np.array([0, 0, 1, 1]), np.array(["a", "b", "c", "c"]), True)


def test_deterministic_and_ridge_for_regression():
    x, y, groups, split = _own_data()
    target = 2.0 + 0.01 * x[:, 0] + np.random.default_rng(0).normal(0, 0.5, len(x))
    parts = {s: (x[split == s], target[split == s]) for s in ("train", "val", "test")}
    res = cv_ridge_probe(*parts["train"], None, None, *parts["test"], groups[split == "train"])
    spread = np.mean(np.abs(parts["test"][1] - parts["test"][1].mean()))
    assert res.metric == "mae" and res.test_score < 0.8 * spread and res.test_mape > 0
    again = cv_ridge_probe(*parts["train"], None, None, *parts["test"], groups[split == "train"])
    assert again.test_score == res.test_score
