"""benchmark_tasks.probe: OPERA's linear-probe protocol on synthetic embeddings."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchmark_tasks.metrics import auroc, mae, mape
from benchmark_tasks.probe import ProbeConfig, linear_probe, logreg_probe, loso_regression, regression_probe
from benchmark_tasks.probe_linear import cross_entropy_grad, init_head, single_thread, train_head
from benchmark_tasks.probe_regression import standardised_mse_grad

FAST = ProbeConfig(epochs=16, batch_size=32, lr=1e-2)


def _blobs(n: int, dim: int, n_classes: int, seed: int, sep: float = 4.0, label_seed: int | None = None):
    """Gaussian blobs: class c centred at sep * e_c. label_seed: labels drawn independently of the features."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    x = rng.normal(size=(n, dim)).astype(np.float32)
    x[np.arange(n), y] += sep
    if label_seed is not None:
        y = np.random.default_rng(label_seed).permutation(y)
    return x, y


def _splits(n_classes=2, dim=24, seed=0, **kw):
    return [_blobs(n, dim, n_classes, seed + i, **kw) for i, n in enumerate((200, 100, 200))]


def _reference_training(w0, b0, gen, x, y, loss_fn, cfg):
    """OPERA's loop written the Lightning way: autograd, torch.optim.Adam, clip_grad_norm_, lr decay."""
    head = torch.nn.Linear(w0.shape[1], w0.shape[0])
    with torch.no_grad():
        head.weight.copy_(w0)
        head.bias.copy_(b0)
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr)
    for _ in range(cfg.epochs):
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            loss = loss_fn(head(x[idx]), y[idx]) + cfg.l2 * sum(p.pow(2).sum() for p in head.parameters())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(head.parameters(), cfg.clip)
            opt.step()
        for group in opt.param_groups:
            group["lr"] *= cfg.lr_decay
    return head.weight.detach(), head.bias.detach()


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_training_loop_equals_autograd_adam_clip_reference(task):
    torch.manual_seed(0)
    x = 3 * torch.randn(50, 12)
    cfg = ProbeConfig(lr=3e-2, l2=0.05, lr_decay=0.8, clip=0.2, epochs=4, batch_size=16)  # clip active, 50 % 16 != 0
    if task == "classification":
        y = torch.randint(0, 3, (50,))
        out_dim, grad_fn, loss_fn = 3, cross_entropy_grad, F.cross_entropy
    else:
        y = x[:, 0] * 2 + 5 + 0.1 * torch.randn(50)
        mean, std = float(y.mean()), float(y.std(unbiased=False))
        out_dim, grad_fn = 1, standardised_mse_grad(mean, std)

        def loss_fn(out, target):
            return F.mse_loss(out[:, 0] * std + mean, target)

    head, gen = init_head(12, out_dim, seed=7)
    _, ref_gen = init_head(12, out_dim, seed=7)
    with single_thread():
        w_ref, b_ref = _reference_training(head.weight.clone(), head.bias.clone(), ref_gen, x, y, loss_fn, cfg)
        train_head(head, gen, x, y, grad_fn, cfg, lambda *args: False)
    assert torch.allclose(head.weight, w_ref, atol=1e-6, rtol=1e-5)
    assert torch.allclose(head.bias, b_ref, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(w_ref, init_head(12, out_dim, seed=7)[0].weight, atol=1e-3)  # it did train


def test_separable_data_reaches_auroc_near_one():
    for n_classes in (2, 4):
        result = linear_probe(*[a for s in _splits(n_classes) for a in s], n_classes, FAST, seed=0)
        assert result.test_score > 0.98
        assert result.test_scores.shape == (200, n_classes)
        np.testing.assert_allclose(result.test_scores.sum(axis=1), 1.0, atol=1e-5)


def test_ties_in_validation_auroc_keep_the_first_epoch():
    result = linear_probe(*[a for s in _splits(2, sep=8.0) for a in s], 2, FAST, seed=0)
    val = [h["val_auroc"] for h in result.history]
    assert val.count(max(val)) > 1  # AUROC 1.0 at several epochs
    assert result.best_epoch == val.index(max(val))  # Lightning's ModelCheckpoint keeps strict improvements only


def test_random_labels_give_auroc_near_half():
    splits = [_blobs(n, 32, 2, seed=i, label_seed=100 + i) for i, n in enumerate((400, 200, 1000))]
    result = linear_probe(*[a for s in splits for a in s], 2, FAST, seed=0)
    assert abs(result.test_score - 0.5) < 0.08  # 1000 test items: sd of a chance AUROC ~0.018


def test_test_score_comes_from_the_best_validation_epoch():
    # Few noisy training items in many dimensions and a high lr: validation AUROC peaks early, then falls.
    x_tr, y_tr = _blobs(40, 200, 2, seed=1, sep=0.6)
    x_va, y_va = _blobs(200, 200, 2, seed=2, sep=0.6)
    x_te, y_te = _blobs(200, 200, 2, seed=3, sep=0.6)
    cfg = ProbeConfig(lr=0.05, epochs=30, batch_size=8)
    result = linear_probe(x_tr, y_tr, x_va, y_va, x_te, y_te, 2, cfg, seed=0)
    val = [h["val_auroc"] for h in result.history]
    assert len(result.history) == 30
    assert result.best_epoch == int(np.argmax(val)) < 29  # first maximum, and not simply the last epoch
    assert result.val_score == max(val)
    assert result.test_score == result.history[result.best_epoch]["test_auroc"]
    assert result.test_score != result.history[-1]["test_auroc"]
    assert result.test_score == pytest.approx(auroc(y_te, result.test_scores), abs=1e-12)
    assert [h["lr"] for h in result.history[:3]] == pytest.approx([0.05, 0.05 * 0.97, 0.05 * 0.97**2])

    every4 = linear_probe(x_tr, y_tr, x_va, y_va, x_te, y_te, 2, dataclasses.replace(cfg, select_every=4), 0)
    assert every4.best_epoch % 4 == 3
    assert every4.val_score == max(val[3::4])


def test_l2_penalty_shrinks_the_weights():
    x, y = (torch.from_numpy(a) for a in _blobs(200, 16, 2, seed=0))
    norms = {}
    for l2 in (0.0, 1.0):
        head, gen = init_head(16, 2, seed=0)
        with single_thread():
            train_head(head, gen, x, y, cross_entropy_grad, ProbeConfig(lr=1e-2, l2=l2, epochs=30), lambda *a: 0)
        norms[l2] = float(head.weight.norm())
    assert norms[1.0] < 0.5 * norms[0.0]


def test_same_seed_same_result_other_seed_other_result():
    args = [a for s in _splits(2, sep=1.0) for a in s]
    a, b = linear_probe(*args, 2, FAST, seed=3), linear_probe(*args, 2, FAST, seed=3)
    np.testing.assert_array_equal(a.test_scores, b.test_scores)
    assert a.history == b.history
    c = linear_probe(*args, 2, FAST, seed=4)
    assert not np.array_equal(a.test_scores, c.test_scores)


def test_probe_leaves_global_torch_state_alone():
    rng_before, threads_before = torch.random.get_rng_state(), torch.get_num_threads()
    linear_probe(*[a for s in _splits(2) for a in s], 2, dataclasses.replace(FAST, epochs=2), seed=0)
    assert torch.equal(torch.random.get_rng_state(), rng_before)
    assert torch.get_num_threads() == threads_before


def test_nan_rows_single_class_and_missing_class_are_clear_errors():
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = _splits(3)
    bad = x_tr.copy()
    bad[[5, 9], 0] = np.nan
    bad[11, 3] = np.inf
    with pytest.raises(ValueError, match=r"x_train has 3 of 200 rows with NaN/inf \(first at row 5\)"):
        linear_probe(bad, y_tr, x_va, y_va, x_te, y_te, 3, FAST, seed=0)
    with pytest.raises(ValueError, match="y_train holds a single class"):
        linear_probe(x_tr, np.zeros_like(y_tr), x_va, y_va, x_te, y_te, 3, FAST, seed=0)
    with pytest.raises(ValueError, match=r"y_test lacks class\(es\) \[2\]"):
        linear_probe(x_tr, y_tr, x_va, y_va, x_te, np.where(y_te == 2, 0, y_te), 3, FAST, seed=0)
    with pytest.raises(ValueError, match="differ in width"):
        linear_probe(x_tr, y_tr, x_va[:, :5], y_va, x_te, y_te, 3, FAST, seed=0)


def test_logreg_probe_separates_blobs():
    result = logreg_probe(*[a for s in _splits(3) for a in s], 3, ProbeConfig(), seed=0)
    assert result.test_score > 0.98 and result.test_scores.shape == (200, 3)
    assert result.val_score == max(h["val_auroc"] for h in result.history)


def _linear_target(n, dim, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    y = x @ np.linspace(-1, 1, dim) + 10 + 0.05 * rng.normal(size=n)
    return x, y


def test_regression_recovers_a_linear_target():
    splits = [_linear_target(n, 8, seed) for seed, n in enumerate((300, 60, 100))]
    cfg = ProbeConfig(lr=3e-2, l2=0.0, epochs=64, batch_size=32)
    result = regression_probe(*[a for s in splits for a in s], cfg, seed=0)
    y_te = splits[2][1]
    assert result.metric == "mae" and result.test_scores.shape == (100,)
    assert result.test_score < 0.1 * np.std(y_te)
    assert result.test_score == pytest.approx(mae(y_te, result.test_scores), rel=1e-9)
    assert result.test_mape == pytest.approx(mape(y_te, result.test_scores), rel=1e-9)


def test_regression_early_stopping_follows_lightning_semantics():
    splits = [_linear_target(n, 8, seed) for seed, n in enumerate((100, 30, 30))]
    args = [a for s in splits for a in s]
    learning = ProbeConfig(lr=3e-2, epochs=20, patience=3)
    assert len(regression_probe(*args, learning, seed=0).history) > 4  # val MAE keeps improving
    # Epoch 0 improves on +inf; no later epoch improves by min_delta: stop after `patience` more epochs.
    result = regression_probe(*args, dataclasses.replace(learning, min_delta=1e3), seed=0)
    assert len(result.history) == 4
    assert result.best_epoch == int(np.argmin([h["val_mae"] for h in result.history]))


def test_loso_one_fold_per_subject_with_opera_validation_split():
    x, y = _linear_target(60, 6, seed=0)
    groups = np.repeat([f"s{i}" for i in range(6)], 10)
    cfg = ProbeConfig(lr=3e-2, l2=0.0, epochs=24, batch_size=16, val_fraction=0.2)
    out = loso_regression(x, y, groups, cfg, seed=0)
    assert out["n_folds"] == 6 and [f["group"] for f in out["folds"]] == [f"s{i}" for i in range(6)]
    assert all((f["n_train"], f["n_val"], f["n_test"]) == (40, 10, 10) for f in out["folds"])
    assert out["mae_mean"] == pytest.approx(np.mean([f["mae"] for f in out["folds"]]))
    assert out["mae_std"] == pytest.approx(np.std([f["mae"] for f in out["folds"]], ddof=0))
    assert np.isfinite(out["predictions"]).all()
    assert out["pooled_mae"] == pytest.approx(mae(y, out["predictions"]))
    assert out["pooled_mae"] < 0.2 * np.std(y)
    assert loso_regression(x, y, groups, cfg, seed=0)["mae_mean"] == out["mae_mean"]


def test_loso_mmlung_shape_one_recording_per_subject():
    x, y = _linear_target(40, 4, seed=1)
    cfg = ProbeConfig(lr=1e-2, l2=0.1, epochs=12, val_fraction=0.11, patience=5, min_delta=1e-3, select_every=3)
    out = loso_regression(x, y, np.arange(40), cfg, seed=0, standardize_features=True)
    assert out["n_folds"] == 40
    assert {(f["n_train"], f["n_val"], f["n_test"]) for f in out["folds"]} == {(34, 5, 1)}  # OPERA: 39 * 0.11 -> 5
    assert all(f["best_epoch"] % 3 == 2 for f in out["folds"])


def test_regression_input_errors():
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = [_linear_target(n, 4, s) for s, n in enumerate((30, 10, 10))]
    with pytest.raises(ValueError, match="constant"):
        regression_probe(x_tr, np.full(30, 2.0), x_va, y_va, x_te, y_te, FAST, seed=0)
    bad = x_te.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="x_test has 1 of 10 rows"):
        regression_probe(x_tr, y_tr, x_va, y_va, bad, y_te, FAST, seed=0)
    with pytest.raises(ValueError, match="at least two subjects"):
        loso_regression(x_tr, y_tr, np.zeros(30), FAST, seed=0)


def test_loso_folds_only_over_listed_subjects_and_others_always_train():
    from benchmark_tasks._spec import ProbeConfig
    from benchmark_tasks.probe import loso_regression

    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 4))
    y = x @ np.array([1.0, -2.0, 0.5, 0.0]) + 10
    groups = np.repeat(np.arange(6), 10)
    res = loso_regression(x, y, groups, ProbeConfig(epochs=5), 0, fold_groups=[1, 4])
    assert [f["group"] for f in res["folds"]] == [1, 4]
    assert all(f["n_train"] + f["n_val"] == 50 for f in res["folds"])
    assert np.isfinite(res["pooled_mae"]) and np.isnan(res["predictions"][groups == 0]).all()
