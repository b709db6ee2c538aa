"""linear_probe_seeds (all seeds as one batched head) against linear_probe seed by seed and against upstream OPERA.

The per-seed linear_probe is the reference: it reproduces OPERA's own heads seed by seed
(tests/unit/test_probe_vs_opera.py). The batched probe must give every seed the same best epoch, the same
validation AUROC at every epoch, the same test AUROC (each within 1e-6) and the same test probabilities (1e-5),
whatever other seeds run beside it. The data are noisy blobs, so validation AUROC moves from epoch to epoch and
the best epochs differ between seeds (checked, so that agreement is not agreement on a trivial answer).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from benchmark_tasks._spec import ProbeConfig
from benchmark_tasks.probe_linear import linear_probe, linear_probe_seeds

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "opera_probe"
AUROC_TOL, PROB_TOL = 1e-6, 1e-5
CFG = ProbeConfig(epochs=12, batch_size=32, lr=2e-2)


def _blobs(n: int, dim: int, n_classes: int, seed: int, sep: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    x = rng.normal(size=(n, dim)).astype(np.float32)
    x[np.arange(n), y] += sep
    return x, y


def _splits(n_classes: int, n_train: int, dim: int = 24, sep: float = 0.5) -> list[np.ndarray]:
    parts = [_blobs(n, dim, n_classes, i, sep) for i, n in enumerate((n_train, 120, 150))]
    return [a for part in parts for a in part]


def _assert_same(batched, single) -> None:
    assert batched.best_epoch == single.best_epoch
    assert abs(batched.val_score - single.val_score) <= AUROC_TOL
    assert abs(batched.test_score - single.test_score) <= AUROC_TOL
    np.testing.assert_allclose(batched.test_scores, single.test_scores, rtol=0, atol=PROB_TOL)
    for key in ("val_auroc", "test_auroc"):
        np.testing.assert_allclose([h[key] for h in batched.history], [h[key] for h in single.history], rtol=0,
                                   atol=AUROC_TOL)
    np.testing.assert_allclose([h["train_loss"] for h in batched.history],
                               [h["train_loss"] for h in single.history], rtol=1e-6)
    assert [h["lr"] for h in batched.history] == [h["lr"] for h in single.history]


# n_train 161 with batch 32 leaves a last batch of one row: 24 * 1 * C < 400, the per-seed addmm branch of _baddbmm
@pytest.mark.parametrize(("n_classes", "n_train", "select_every"), [(2, 150, 1), (4, 161, 1), (2, 161, 3)])
def test_batched_seeds_equal_per_seed_probe(n_classes, n_train, select_every):
    args = _splits(n_classes, n_train)
    cfg = dataclasses.replace(CFG, select_every=select_every)
    seeds = (0, 1, 2, 3, 4)
    batched = linear_probe_seeds(*args, n_classes, cfg, seeds)
    singles = [linear_probe(*args, n_classes, cfg, s) for s in seeds]
    for b, s in zip(batched, singles):
        _assert_same(b, s)
    epochs = [s.best_epoch for s in singles]
    assert len(set(epochs)) > 1 and all((e + 1) % select_every == 0 for e in epochs)
    assert len({round(s.test_score, 9) for s in singles}) > 1


def test_a_seed_does_not_depend_on_the_others():
    args = _splits(2, 150)
    alone = linear_probe_seeds(*args, 2, CFG, [7])[0]
    among = linear_probe_seeds(*args, 2, CFG, [3, 7, 11])[1]
    _assert_same(among, alone)
    _assert_same(alone, linear_probe(*args, 2, CFG, 7))


def test_upstream_fixture_all_seeds_at_once():
    """OPERA's own per-seed results (tests/fixtures/opera_probe; see test_probe_vs_opera.py) from one batched run."""
    expected = json.loads((FIXTURE / "expected.json").read_text())
    with np.load(FIXTURE / "expected_heads.npz") as z:
        heads = {k: z[k] for k in z.files}
    for task, spec in expected["tasks"].items():
        pc = spec["probe_config"]
        cfg = ProbeConfig(lr=pc["lr"], l2=pc["l2"], lr_decay=pc["lr_decay"], clip=pc["clip"], epochs=pc["epochs"],
                          batch_size=pc["batch_size"], select_every=pc["select_every"])
        with np.load(FIXTURE / f"{task}.npz") as z:
            d = {k: z[k] for k in z.files}
        seeds = sorted(int(s) for s in spec["seeds"])
        results = linear_probe_seeds(d["x_train"], d["y_train"], d["x_val"], d["y_val"], d["x_test"], d["y_test"],
                                     spec["n_classes"], cfg, seeds)
        for seed, res in zip(seeds, results):
            want = spec["seeds"][str(seed)]
            assert res.best_epoch == want["best_epoch"], (task, seed)
            np.testing.assert_allclose([h["val_auroc"] for h in res.history], want["val_auroc_per_epoch"], rtol=0,
                                       atol=AUROC_TOL)
            assert abs(res.test_score - want["test_auroc"]) <= AUROC_TOL
            np.testing.assert_allclose(res.test_scores, heads[f"{task}_seed{seed}_test_probs"], rtol=0, atol=AUROC_TOL)


def test_no_seeds_and_bad_inputs_are_errors():
    args = _splits(2, 150)
    with pytest.raises(ValueError, match="at least one seed"):
        linear_probe_seeds(*args, 2, CFG, [])
    bad = args[0].copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="x_train has 1 of 150 rows with NaN/inf"):
        linear_probe_seeds(bad, *args[1:], 2, CFG, [0])
