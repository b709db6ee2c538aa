"""A well-posed linear probe for tasks that are not OPERA's: standardised features, regularisation chosen by
group-aware cross-validation, refit.

OPERA's protocol (benchmark_tasks/probe_linear.py) trains an unstandardised linear head for a fixed 64 epochs at
lr 1e-4. It was tuned for OPERA's own tasks and feature scales; on a small own-data task with features of other
scales (openSMILE, tiny encoders) it barely moves from its initialisation, and its scores say more about the
optimiser than about the features. This probe is what a careful analyst would run instead:

- features standardised with the training items' mean and standard deviation (a zero std counts as 1);
- classification: multinomial logistic regression (scikit-learn, lbfgs, deterministic); regression: ridge;
- the inverse regularisation C (or ridge alpha) from a log grid, chosen by k-fold cross-validation on the
  training items with folds that never split a group (a subject, a patient): StratifiedGroupKFold for classes,
  GroupKFold for regression; k = min(5, number of groups, smallest class's number of groups). When the task has
  a validation split, it is the (single) validation fold instead, as the task's author intended;
- ties go to the stronger regularisation; the chosen value is refit on all training items (plus the validation
  items when they chose it), then scored once on the test items.

Deterministic: a seed does not change the result, so records hold one score per task for this probe.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from benchmark_tasks.metrics import auroc, mae, mape
from benchmark_tasks.probe_linear import ProbeResult

C_GRID = tuple(float(c) for c in np.logspace(-4, 3, 15))        # logistic regression C
ALPHA_GRID = tuple(float(a) for a in np.logspace(-3, 4, 15))    # ridge alpha
MAX_FOLDS = 5


@dataclass(frozen=True)
class Selection:
    """How the regularisation was chosen: 'cv' with `folds` folds, or 'val'; the value and its mean score."""

    how: str
    folds: int
    value: float
    score: float


def _standardise(x_fit: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean, std = x_fit.mean(axis=0), x_fit.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return [(x - mean) / std for x in (x_fit, *others)]


def _folds(y: np.ndarray, groups: np.ndarray, classification: bool, seed: int = 0) -> list[tuple]:
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    n_groups = len(np.unique(groups))
    if classification:
        per_class = min(len(np.unique(groups[y == c])) for c in np.unique(y))
        k = min(MAX_FOLDS, n_groups, per_class)
        if k < 2:
            raise ValueError(f"cross-validation needs >= 2 groups of every class in train; the smallest class has "
                             f"{per_class} group(s): add a validation split or more training subjects")
        return list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(y, y, groups))
    k = min(MAX_FOLDS, n_groups)
    if k < 2:
        raise ValueError("cross-validation needs >= 2 training groups; add a validation split or more subjects")
    return list(GroupKFold(n_splits=k).split(y, y, groups))


def one_blas_thread(fn):
    """Run `fn` with BLAS on one thread (threadpoolctl, a scikit-learn dependency). These fits are small (hundreds
    of items): a second BLAS thread only adds hand-offs, and on a busy 2-core machine the threads spin against each
    other. The scores do not depend on it."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapper


def _logreg(c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=5000)


def _proba(model, x: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((len(x), n_classes))
    out[:, model.classes_] = model.predict_proba(x)
    return out


def _cv_score(fit_score, x, y, folds) -> float:
    scores = []
    for tr, va in folds:
        xa, xb = _standardise(x[tr], x[va])
        scores.append(fit_score(xa, y[tr], xb, y[va]))
    return float(np.mean(scores))


def _choose(grid, fit_score, x_tr, y_tr, g_tr, x_va, y_va, classification: bool, higher_is_better: bool):
    """The grid value with the best validation score (ties: the first, i.e. the stronger regularisation)."""
    if x_va is not None and len(x_va):
        xa, xb = _standardise(x_tr, x_va)
        scores = [fit_score(xa, y_tr, xb, y_va, v) for v in grid]
        how, folds = "val", 1
    else:
        folds_ = _folds(y_tr, g_tr, classification)
        scores = [_cv_score(lambda a, b, c, d, v=v: fit_score(a, b, c, d, v), x_tr, y_tr, folds_) for v in grid]
        how, folds = "cv", len(folds_)
    order = np.asarray(scores) if higher_is_better else -np.asarray(scores)
    best = int(np.argmax(order))           # argmax returns the first of equal maxima
    return Selection(how, folds, grid[best], scores[best]), scores


@one_blas_thread
def cv_logreg_probe(x_train, y_train, x_val, y_val, x_test, y_test, n_classes: int, groups_train) -> ProbeResult:
    """Standardised logistic regression, C by group-aware CV on train (or the validation split), refit.

    Args:
        x_*: [N_split, D] features; y_*: int class indices in 0..n_classes-1; x_val may be empty (then CV).
        groups_train: [N_train] subject ids of the training items (folds never split one).
    Returns:
        ProbeResult: test AUROC (macro one-vs-rest), the selection score as val_score, test probabilities
        [N_test, C]; history holds one dict per C with its selection score, and the Selection.
    """
    x_tr, x_te = np.asarray(x_train, np.float64), np.asarray(x_test, np.float64)
    y_tr, y_te = np.asarray(y_train), np.asarray(y_test)
    x_va = np.asarray(x_val, np.float64) if x_val is not None and len(x_val) else None
    y_va = np.asarray(y_val) if x_va is not None else None
    g_tr = np.asarray(groups_train)

    def fit_score(xa, ya, xb, yb, c):
        return auroc(yb, _proba(_logreg(c).fit(xa, ya), xb, n_classes))

    sel, scores = _choose(C_GRID, fit_score, x_tr, y_tr, g_tr, x_va, y_va, True, True)
    x_fit, y_fit = (np.concatenate([x_tr, x_va]), np.concatenate([y_tr, y_va])) if sel.how == "val" else (x_tr, y_tr)
    xa, xb = _standardise(x_fit, x_te)
    probs = _proba(_logreg(sel.value).fit(xa, y_fit), xb, n_classes)
    history = [{"C": c, f"{sel.how}_auroc": s} for c, s in zip(C_GRID, scores)]
    history.append({"selection": sel.__dict__})
    return ProbeResult(test_score=auroc(y_te, probs), val_score=sel.score, best_epoch=-1, test_scores=probs,
                       history=history)


@one_blas_thread
def cv_ridge_probe(x_train, y_train, x_val, y_val, x_test, y_test, groups_train) -> ProbeResult:
    """Standardised ridge regression, alpha by group-aware CV on train (or the validation split), refit.

    y in target units; selection by MAE. Returns test MAE (and MAPE where targets are non-zero).
    """
    from sklearn.linear_model import Ridge

    x_tr, x_te = np.asarray(x_train, np.float64), np.asarray(x_test, np.float64)
    y_tr, y_te = np.asarray(y_train, np.float64), np.asarray(y_test, np.float64)
    x_va = np.asarray(x_val, np.float64) if x_val is not None and len(x_val) else None
    y_va = np.asarray(y_val, np.float64) if x_va is not None else None

    def fit_score(xa, ya, xb, yb, a):
        return mae(yb, Ridge(alpha=a).fit(xa, ya).predict(xb))

    sel, scores = _choose(ALPHA_GRID, fit_score, x_tr, y_tr, np.asarray(groups_train), x_va, y_va, False, False)
    x_fit, y_fit = (np.concatenate([x_tr, x_va]), np.concatenate([y_tr, y_va])) if sel.how == "val" else (x_tr, y_tr)
    xa, xb = _standardise(x_fit, x_te)
    pred = Ridge(alpha=sel.value).fit(xa, y_fit).predict(xb)
    history = [{"alpha": a, f"{sel.how}_mae": s} for a, s in zip(ALPHA_GRID, scores)]
    history.append({"selection": sel.__dict__})
    return ProbeResult(test_score=mae(y_te, pred), val_score=sel.score, best_epoch=-1, test_scores=pred,
                       history=history, metric="mae",
                       test_mape=mape(y_te, pred) if np.all(y_te != 0) else float("nan"))
