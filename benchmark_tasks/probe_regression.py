"""OPERA's linear regression probe and its leave-one-subject-out (LOSO) loop (MMlung T13-T18, NoseMic T19).

Port of `linear_evaluation_mmlung` / `linear_evaluation_nosemic` (src/benchmark/linear_eval.py) and
`LinearHeadR` (src/model/models_eval.py), github evelyn0414/OPERA commit 3622310:

- Head `nn.Linear(D, 1)` (weight ~ N(0, 0.01), bias 0) predicts a standardised target: prediction =
  head(x) * std + mean with mean, std (ddof 0) of the training targets (after the validation split).
- Loss: MSE between prediction and target *in target units* + l2 * squared norm of weight and bias; Adam,
  clip, lr decay and batches as in benchmark_tasks/probe_linear.py.
- After each epoch: validation MAE over the whole validation set. The test split is scored with the weights of
  the first epoch with the lowest validation MAE (among epochs with (e + 1) % select_every == 0: MMlung 3).
  Early stopping (MMlung only: patience 5, min_delta 0.001): an epoch improves when val MAE < best - min_delta;
  training stops once `patience` epochs in a row have not improved (Lightning's EarlyStopping).
- LOSO: every subject is the test fold once; the rest is split at random (sklearn `train_test_split`,
  random_state 42, not subject-aware) into train and a `val_fraction` validation part (MMlung 0.11, NoseMic
  0.2). Per-fold MAE/MAPE, reported as mean ± std (ddof 0) over folds; one seed (OPERA: 0).
- OPERA's settings: 64 epochs, batch 64, l2 1e-1 for both MMlung and NoseMic; patience 5 and select_every 3
  for MMlung only. openSMILE features are standardised with the training fold's statistics
  (`standardize_features=True` here); other features are used as given.

Upstream defects not copied:
- `lr` is never passed to `LinearHeadR`, so the advertised MMlung lr 1e-1 never took effect: OPERA trained
  every regression probe at lr 1e-4. Use ProbeConfig(lr=1e-4) to reproduce it.
- OPERA's returned test MAPE is a fraction (its validation MAPE is in percent); MAPE here is always percent.
- Randomness comes from a private generator per fold (see probe_linear.py), not one global stream whose state
  depends on the previous folds.
"""

from __future__ import annotations

import numpy as np
import torch

from benchmark_tasks._spec import ProbeConfig
from benchmark_tasks.metrics import mae, mape, mean_std
from benchmark_tasks.probe_linear import (
    LossGrad,
    ProbeResult,
    as_features,
    check_config,
    init_head,
    selectable,
    single_thread,
    train_head,
)

OPERA_VAL_SPLIT_SEED = 42  # random_state of the validation split in OPERA's LOSO loops


def as_targets(y, n_rows: int, name: str) -> np.ndarray:
    """Validate regression targets: float[N] (or [N, 1]) finite -> float64 [N] (metrics use full precision)."""
    a = np.asarray(y, dtype=np.float64)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.shape != (n_rows,):
        raise ValueError(f"{name} must be 1-D with one target per embedding row ({n_rows}), got shape {a.shape}")
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} NaN/inf targets of {n_rows}")
    return a


def _mape_or_nan(y: np.ndarray, pred: np.ndarray) -> float:
    return mape(y, pred) if np.all(y != 0) and np.isfinite(pred).all() else float("nan")


def _mae_or_nan(y: np.ndarray, pred: np.ndarray) -> float:
    return mae(y, pred) if np.isfinite(pred).all() else float("nan")


def standardised_mse_grad(mean: float, std: float) -> LossGrad:
    """LossGrad for LinearHeadR: MSE between out [B, 1] * std + mean and targets [B] (target units), and its
    gradient d loss / d out [B, 1]."""

    def mse_grad(out: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        err = out[:, 0] * std + mean - target
        return err.pow(2).mean(), (err * (2.0 * std / len(err)))[:, None]

    return mse_grad


def regression_probe(x_train, y_train, x_val, y_val, x_test, y_test, cfg: ProbeConfig, seed: int) -> ProbeResult:
    """Train OPERA's linear regression head; score the test split at the lowest-validation-MAE epoch.

    Args:
        x_*: float [N_split, D] embeddings, finite. y_*: float [N_split] targets in their own units.
        cfg: lr, l2, lr_decay, clip, epochs, batch_size, patience/min_delta (early stopping), select_every.
        seed: seeds initial weights and batch order.

    Returns:
        ProbeResult with metric "mae": test_score = test MAE (target units), val_score = best validation MAE,
        test_mape in percent (NaN if a test target is 0), test_scores = float64 [N_test] predictions.
    """
    check_config(cfg)
    xs = [as_features(x, name) for x, name in ((x_train, "x_train"), (x_val, "x_val"), (x_test, "x_test"))]
    if len({x.shape[1] for x in xs}) != 1:
        raise ValueError(f"train/val/test embeddings differ in width: {[x.shape[1] for x in xs]}")
    ytr, yva, yte = (as_targets(y, len(x), name) for y, x, name in
                     ((y_train, xs[0], "y_train"), (y_val, xs[1], "y_val"), (y_test, xs[2], "y_test")))
    mean, std = float(np.mean(ytr)), float(np.std(ytr))
    if std == 0:
        raise ValueError(f"y_train is constant ({mean}); a regression probe needs varying targets")

    head, gen = init_head(xs[0].shape[1], 1, seed)
    t_va, t_te = torch.from_numpy(xs[1]), torch.from_numpy(xs[2])

    def predict(x: torch.Tensor) -> torch.Tensor:
        return head(x)[:, 0] * std + mean

    history: list[dict] = []
    best: dict = {}
    stop = {"best": float("inf"), "wait": 0}

    def on_epoch_end(epoch: int, lr: float, train_loss: float) -> bool:
        p_va, p_te = predict(t_va).numpy().astype(np.float64), predict(t_te).numpy().astype(np.float64)
        v, t = _mae_or_nan(yva, p_va), _mae_or_nan(yte, p_te)
        row = {"epoch": epoch, "lr": lr, "train_loss": train_loss, "val_mae": v,
               "val_mape": _mape_or_nan(yva, p_va), "test_mae": t, "test_mape": _mape_or_nan(yte, p_te)}
        history.append(row)
        if selectable(epoch, cfg) and v == v and (not best or v < best["val"]):  # v == v: not NaN
            best.update(epoch=epoch, val=v, test=t, mape=row["test_mape"], preds=p_te)
        if cfg.patience <= 0:
            return False
        if not np.isfinite(v):
            return True
        if v < stop["best"] - cfg.min_delta:
            stop.update(best=v, wait=0)
            return False
        stop["wait"] += 1
        return stop["wait"] >= cfg.patience

    with single_thread():
        train_head(head, gen, torch.from_numpy(xs[0]), torch.from_numpy(ytr.astype(np.float32)),
                   standardised_mse_grad(mean, std),
                   cfg, on_epoch_end)
    if not best:
        raise RuntimeError("regression_probe: no selectable epoch had a finite validation MAE (training "
                           f"diverged, or early stopping came before epoch {cfg.select_every}); check the "
                           "features and ProbeConfig.lr/select_every")
    return ProbeResult(test_score=best["test"], val_score=best["val"], best_epoch=best["epoch"],
                       test_scores=best["preds"], history=history, metric="mae", test_mape=best["mape"])


def loso_regression(x, y, groups, cfg: ProbeConfig, seed: int, standardize_features: bool = False,
                    fold_groups=None) -> dict:
    """Leave-one-subject-out regression probe, OPERA's MMlung / NoseMic protocol.

    Args:
        x: float [N, D] embeddings; y: float [N] targets; groups: [N] subject ids (one fold per distinct id,
            folds in sorted id order).
        cfg: probe settings; cfg.val_fraction of each training fold (random, seed 42) is the validation set.
        seed: fold k's probe uses a seed derived from (seed, k).
        standardize_features: z-score features with each training fold's mean/std (OPERA: openSMILE only).
        fold_groups: the subjects to hold out, one fold each (default: every subject). Subjects not listed are
            always in training (NoseMic: subjects outside OPERA's 16).

    Returns:
        {"folds": [{"group", "n_train", "n_val", "n_test", "mae", "mape", "best_epoch", "epochs_run"}],
         "n_folds", "mae_mean", "mae_std", "mape_mean", "mape_std" (over folds, ddof 0),
         "pooled_mae", "pooled_mape" (over all held-out items), "predictions": float64 [N] in input order}.
        MAE in target units, MAPE in percent.
    """
    from sklearn.model_selection import train_test_split

    xa = as_features(x, "x")
    ya = as_targets(y, len(xa), "y")
    ga = np.asarray(groups)
    if ga.shape != (len(xa),):
        raise ValueError(f"groups must be 1-D with one subject id per row ({len(xa)}), got shape {ga.shape}")
    subjects = np.unique(ga) if fold_groups is None else np.array(sorted(set(fold_groups)))
    if len(np.unique(ga)) < 2:
        raise ValueError(f"LOSO needs at least two subjects, got {len(subjects)}")
    if not 0.0 < cfg.val_fraction < 1.0:
        raise ValueError(f"ProbeConfig.val_fraction must lie in (0, 1), got {cfg.val_fraction}")

    predictions = np.full(len(xa), np.nan)
    folds = []
    for k, subject in enumerate(subjects):
        test = np.flatnonzero(ga == subject)
        train_all = np.flatnonzero(ga != subject)
        try:
            train, val = train_test_split(train_all, test_size=cfg.val_fraction, random_state=OPERA_VAL_SPLIT_SEED)
        except ValueError as err:
            raise ValueError(f"LOSO fold for subject {subject!r}: cannot hold out val_fraction="
                             f"{cfg.val_fraction} of {len(train_all)} training items ({err})") from err
        xf = xa
        if standardize_features:
            fit = xa[train_all].astype(np.float64)  # sklearn StandardScaler: ddof 0, scale 1 if constant
            mu, sd = fit.mean(axis=0), fit.std(axis=0)
            xf = (xa - mu) / np.where(sd > 0, sd, 1.0)
        fold_seed = int(np.random.SeedSequence([int(seed), k]).generate_state(1)[0])
        res = regression_probe(xf[train], ya[train], xf[val], ya[val], xf[test], ya[test], cfg, fold_seed)
        predictions[test] = res.test_scores
        folds.append({"group": subject.item() if hasattr(subject, "item") else subject,
                      "n_train": len(train), "n_val": len(val), "n_test": len(test),
                      "mae": res.test_score, "mape": res.test_mape, "best_epoch": res.best_epoch,
                      "epochs_run": len(res.history)})

    held = ~np.isnan(predictions)
    mae_mean, mae_std = mean_std([f["mae"] for f in folds])
    mape_mean, mape_std = mean_std([f["mape"] for f in folds])
    return {"folds": folds, "n_folds": len(folds), "mae_mean": mae_mean, "mae_std": mae_std,
            "mape_mean": mape_mean, "mape_std": mape_std, "pooled_mae": mae(ya[held], predictions[held]),
            "pooled_mape": _mape_or_nan(ya[held], predictions[held]), "predictions": predictions}
