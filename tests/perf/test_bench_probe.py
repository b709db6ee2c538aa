"""Benchmark (not run in CI; `make bench`): OPERA's linear probe for 5 seeds on a T5-sized task (issue 12, item 3).

T5-sized random data: 2749 / 919 / 2507 items (train / val / test) x 768 dimensions, 2 classes, a weak linear
signal, ProbeConfig() (64 epochs, batch 64, lr 1e-4). Three ways to run the 5 seeds:

- ours, vectorised: `linear_probe_seeds`, all seeds as one batched head;
- (a) ours, per seed: `linear_probe` in a loop (the reference implementation, checked against OPERA's own heads);
- (b) a plain sequential loop, written here the way upstream trains (src/benchmark/linear_eval.py + LinearHead in
  src/model/models_eval.py, github evelyn0414/OPERA 3622310): per seed `torch.manual_seed(seed)`, `nn.Linear`
  with OPERA's N(0, 0.01) weight / zero bias init, a shuffled `DataLoader(TensorDataset)`, autograd on
  CE + l2 * sum of squared parameters, `clip_grad_norm_`, `torch.optim.Adam`, `ExponentialLR(0.97)`, and after
  every epoch the validation and test AUROC (scikit-learn) of the softmax outputs, keeping the first best
  validation epoch. It is generous to upstream: no Lightning, no DataLoader workers (OPERA uses 2), and it runs
  on one torch thread as ours does (on a busy 2-core machine two threads spin against each other: measured here
  25x slower wall time for this loop).

Why the plain loop's per-seed AUROCs differ from ours (issue 12 saw up to 0.0075 on seed 0; the figure
probe/t5_5seeds/plain_loop_test_auroc_gap gives this run's), and why that is not an error: its
initial weights are OPERA's (same global-RNG draws: nn.Linear's own init, then the N(0, 0.01) redraw), and so is
its first epoch's batch order, but OPERA's Lightning run also iterates a *shuffled validation DataLoader* after
every epoch, which takes two int64 draws from the global RNG (worker base seed, sampler seed). A plain loop that
scores validation on the whole tensor makes no such draws, so from the second epoch on its batch orders are
different ones: another, equally valid training run whose AUROC differs by the seed-to-seed spread of the probe.
(The earlier reference loop in test_bench_frontend.py differed more: nn.Linear's kaiming-uniform init instead of
N(0, 0.01) and torch.randperm orders.) The check: fed the batch orders our probe replays (`dataloader_order` then
`skip_dataloader_draws` per epoch), the same plain loop gives every seed the same best epoch and the same AUROCs up
to the order of at most two (nearly tied) item pairs (test_plain_loop_with_operas_batch_orders_equals_ours): the
differences are the batch orders, nothing else. Why pairs and not 1e-6: autograd and our closed-form gradients
round differently (weights one float32 ulp apart), which can swap or tie two validation items whose probabilities
lie within an ulp; at T5's size one pair weighs 1 / (P * N) = 4.7e-6 of the validation AUROC (measured: 0 to 1
pair per seed). On OPERA's 60-item fixture sets the same residue is <= 1.3e-7 (tests/unit/test_probe_vs_opera.py).

Times are reported, never asserted; the agreement is asserted.
"""

from __future__ import annotations

import time
from functools import cache

import numpy as np
import pytest
import torch
from _report import figure

N_TRAIN, N_VAL, N_TEST, DIM, SEEDS = 2749, 919, 2507, 768, (0, 1, 2, 3, 4)
AUROC_TOL = 1e-6   # ours vectorised vs ours per seed
T5_NOTE = "2749/919/2507 x 768, 2 classes, 5 seeds, 64 epochs, batch 64"


@cache
def _task() -> tuple[np.ndarray, ...]:
    """T5-sized random embeddings with a weak linear signal: (x_tr, y_tr, x_va, y_va, x_te, y_te)."""
    rng = np.random.default_rng(5)
    n = N_TRAIN + N_VAL + N_TEST
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    y = (x[:, :16].sum(axis=1) / 4 + 1.5 * rng.standard_normal(n) > 0).astype(np.int64)
    cuts = np.cumsum([0, N_TRAIN, N_VAL, N_TEST])
    return tuple(a[cuts[i]:cuts[i + 1]] for i in range(3) for a in (x, y))


class _GivenOrders(torch.utils.data.Sampler):
    """batch_sampler replaying given per-epoch orders [E, N] in mini-batches of `batch_size` (last one partial)."""

    def __init__(self, orders: list[torch.Tensor], batch_size: int):
        self.orders, self.batch_size, self.epoch = orders, batch_size, 0

    def __iter__(self):
        order = self.orders[self.epoch]
        self.epoch += 1
        return iter(order.split(self.batch_size))

    def __len__(self) -> int:
        return -(-len(self.orders[0]) // self.batch_size)


def plain_probe(x_tr, y_tr, x_va, y_va, x_te, y_te, seed: int, orders: list[torch.Tensor] | None = None) -> dict:
    """One seed the plain way (module docstring). orders: per-epoch train orders to use instead of the shuffle.

    Returns {"best_epoch", "val", "test", "val_history", "init_weight"}."""
    from sklearn.metrics import roc_auc_score

    from benchmark_tasks._spec import ProbeConfig

    cfg = ProbeConfig()
    torch.manual_seed(seed)
    head = torch.nn.Linear(x_tr.shape[1], 2)
    torch.nn.init.normal_(head.weight, 0.0, 0.01)        # OPERA's weights_init
    torch.nn.init.zeros_(head.bias)
    init_weight = head.weight.detach().clone()
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, cfg.lr_decay)
    data = torch.utils.data.TensorDataset(torch.from_numpy(x_tr), torch.from_numpy(y_tr))
    if orders is None:
        loader = torch.utils.data.DataLoader(data, batch_size=cfg.batch_size, shuffle=True)
    else:
        loader = torch.utils.data.DataLoader(data, batch_sampler=_GivenOrders(orders, cfg.batch_size))
    t_va, t_te = torch.from_numpy(x_va), torch.from_numpy(x_te)
    best, history = {}, []
    for epoch in range(cfg.epochs):
        for xb, yb in loader:
            loss = torch.nn.functional.cross_entropy(head(xb), yb)
            loss = loss + cfg.l2 * sum(p.pow(2).sum() for p in head.parameters())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(head.parameters(), cfg.clip)
            opt.step()
        sched.step()
        with torch.no_grad():
            v = roc_auc_score(y_va, torch.softmax(head(t_va), dim=1)[:, 1].numpy())
            t = roc_auc_score(y_te, torch.softmax(head(t_te), dim=1)[:, 1].numpy())
        history.append(v)
        if not best or v > best["val"]:
            best = {"best_epoch": epoch, "val": v, "test": t}
    return {**best, "val_history": history, "init_weight": init_weight}


def _replayed_orders(seed: int) -> list[torch.Tensor]:
    """The per-epoch train orders linear_probe uses for `seed` (OPERA's global-RNG draws, validation pass included)."""
    from benchmark_tasks._spec import ProbeConfig
    from benchmark_tasks.probe_linear import dataloader_order, init_head, skip_dataloader_draws

    _, gen = init_head(DIM, 2, seed, opera_rng=True)
    orders = []
    for _ in range(ProbeConfig().epochs):
        orders.append(dataloader_order(gen, N_TRAIN))
        skip_dataloader_draws(gen)
    return orders


def _timed(fn):
    """(fn(), wall seconds, CPU seconds of this process). Everything here runs on one thread, so on a machine
    shared with other jobs the CPU seconds estimate what the wall time would be on an idle one."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


@cache
def _ours() -> dict:
    """Our two runs of the 5 seeds, timed: vectorised and per seed."""
    from benchmark_tasks._spec import ProbeConfig
    from benchmark_tasks.probe_linear import linear_probe, linear_probe_seeds

    data, cfg = _task(), ProbeConfig()
    vec, vec_s, vec_cpu = _timed(lambda: linear_probe_seeds(*data, 2, cfg, SEEDS))
    per, per_s, per_cpu = _timed(lambda: [linear_probe(*data, 2, cfg, s) for s in SEEDS])
    return {"vectorised": vec, "vectorised_s": vec_s, "vectorised_cpu": vec_cpu, "per_seed": per, "per_seed_s": per_s,
            "per_seed_cpu": per_cpu}


def test_vectorised_probe_vs_per_seed_and_plain_loops():
    """5 seeds on T5's size: vectorised vs (a) our per-seed loop and (b) the plain loop; results per seed equal (a)."""
    from benchmark_tasks.probe_linear import single_thread

    ours = _ours()
    for vec, per in zip(ours["vectorised"], ours["per_seed"]):
        assert vec.best_epoch == per.best_epoch
        assert abs(vec.val_score - per.val_score) <= AUROC_TOL and abs(vec.test_score - per.test_score) <= AUROC_TOL
        np.testing.assert_allclose(vec.test_scores, per.test_scores, rtol=0, atol=1e-5)
    assert len({r.best_epoch for r in ours["per_seed"]}) > 1   # selection is not trivial on this task

    with single_thread():
        plain, plain_s, plain_cpu = _timed(lambda: [plain_probe(*_task(), s) for s in SEEDS])
    vec_s, per_s = ours["vectorised_s"], ours["per_seed_s"]
    vec_cpu, per_cpu = ours["vectorised_cpu"], ours["per_seed_cpu"]
    cpu = f"all on 1 torch thread; CPU seconds {vec_cpu:.1f} / {{ref:.1f}} -> {{ratio:.3g}}x"
    figure("probe/t5_5seeds/seconds", vec_s, "s", note=f"linear_probe_seeds, {T5_NOTE}; CPU {vec_cpu:.1f} s",
           cpu_s=vec_cpu)
    figure("probe/t5_5seeds/vectorised_vs_plain_loop", vec_s, "s", reference=plain_s,
           reference_name="plain loop: nn.Linear + autograd + Adam + DataLoader, seed by seed", ratio=plain_s / vec_s,
           target=">= 5x", met=plain_s / vec_s >= 5,
           note=f"{T5_NOTE}; " + cpu.format(ref=plain_cpu, ratio=plain_cpu / vec_cpu), cpu_s=vec_cpu,
           reference_cpu_s=plain_cpu)
    figure("probe/t5_5seeds/vectorised_vs_per_seed", vec_s, "s", reference=per_s,
           reference_name="linear_probe seed by seed (closed-form gradients)", ratio=per_s / vec_s,
           note=f"{T5_NOTE}; " + cpu.format(ref=per_cpu, ratio=per_cpu / vec_cpu), cpu_s=vec_cpu,
           reference_cpu_s=per_cpu)
    gaps = [abs(p["test"] - r.test_score) for p, r in zip(plain, ours["per_seed"])]
    figure("probe/t5_5seeds/plain_loop_test_auroc_gap", max(gaps), "AUROC",
           note="max over seeds of |plain loop - ours| test AUROC: its batch orders differ from epoch 2 on "
                "(no validation-DataLoader draws; see module docstring); per seed "
                + ", ".join(f"{g:.4f}" for g in gaps))


@pytest.mark.parametrize("seed", SEEDS)
def test_plain_loop_with_operas_batch_orders_equals_ours(seed):
    """The plain loop fed the batch orders our probe replays: same init, same best epoch, AUROCs within two item
    pairs (module docstring)."""
    from benchmark_tasks.probe_linear import init_head, single_thread

    with single_thread():
        plain = plain_probe(*_task(), seed, orders=_replayed_orders(seed))
    ours = _ours()["per_seed"][seed]
    torch.testing.assert_close(plain["init_weight"], init_head(DIM, 2, seed, opera_rng=True)[0].weight, rtol=0, atol=0)
    y_va, y_te = _task()[3], _task()[5]
    pair_va = 1 / float(np.sum(y_va == 1) * np.sum(y_va == 0))   # one (positive, negative) pair's AUROC weight
    pair_te = 1 / float(np.sum(y_te == 1) * np.sum(y_te == 0))
    gap_val = float(np.max(np.abs(np.array(plain["val_history"]) - [h["val_auroc"] for h in ours.history])))
    gap_test = abs(plain["test"] - ours.test_score)
    pairs = max(gap_val / pair_va, gap_test / pair_te)
    figure(f"probe/t5/plain_loop_our_orders_gap/seed{seed}", pairs, "item pairs", target="<= 2 item pairs",
           met=pairs <= 2 + 1e-6, note=f"max |plain loop fed our batch orders - ours| over per-epoch val AUROC "
                                       f"({gap_val:.2g}) and test AUROC ({gap_test:.2g}), in item pairs (val pair "
                                       f"{pair_va:.2g}); best epochs {plain['best_epoch']} / {ours.best_epoch}")
    assert plain["best_epoch"] == ours.best_epoch
    assert pairs <= 2 + 1e-6
