"""OPERA's linear probe on frozen embeddings (classification), plus a fast scikit-learn look-alike.

Port of `linear_evaluation_*` in src/benchmark/linear_eval.py and `LinearHead` in src/model/models_eval.py
(github evelyn0414/OPERA, commit 3622310, run there with pytorch-lightning 2.2). The protocol:

- Features are used as given (no normalisation; OPERA standardises only openSMILE features, and only in the
  regression tasks). Head: one `nn.Linear(D, C)`, weight ~ N(0, 0.01), bias 0; C = 2 for binary tasks (softmax).
- Loss per batch: mean cross-entropy + l2 * (sum of squared weights + sum of squared biases), i.e. the
  squared L2 norm of every head parameter, bias included.
- Adam(lr, betas 0.9/0.999, eps 1e-8), shuffled mini-batches (last partial batch kept), gradient-norm
  clipping at `clip` (Lightning's gradient_clip_val), lr multiplied by `lr_decay` after every epoch.
- After every epoch the validation AUROC is computed; the test score is the test AUROC of the weights from the
  first epoch with the highest validation AUROC (Lightning's ModelCheckpoint keeps only strict improvements and
  `trainer.test` loads the best checkpoint). With `select_every` = k only epochs e with (e + 1) % k == 0 compete,
  as OPERA's `every_n_epochs` checkpoints do for KAUH (5) and SSBPR (3).
- OPERA's per-task settings: 64 epochs (KAUH 50, SSBPR 32); batch 32 (ICBHI, KAUH, Coswara, Respiratory@TR)
  or 64 (the rest); l2 1e-5. Five seeds 0-4, reported as mean ± std (ddof 0).

Deliberate differences from upstream:
- The `lr` argument of `linear_evaluation_*` never reaches `LinearHead` (it is only printed), so every
  classification probe upstream trains at LinearHead's default lr 1e-4; ProbeConfig.lr is used as given here.
- Randomness comes from a private `torch.Generator(seed)`, never the global RNG, so calling a probe changes no
  global state. linear_probe makes that generator replay, draw for draw, what OPERA's run takes from the global
  RNG after `torch.manual_seed(seed)`: nn.Linear's own init (then overwritten by weights_init's N(0, 0.01)), and
  per epoch the shuffled train DataLoader (worker base seed, RandomSampler seed, randperm from a generator seeded
  with it) and the shuffled validation DataLoader (its two seeds; Lightning's sanity check runs under
  isolate_rng and draws nothing). So on CPU a seed gives OPERA's result for that seed, to float rounding:
  tests/unit/test_probe_vs_opera.py checks this against upstream's own code (fixture in
  tests/fixtures/opera_probe). regression_probe keeps a plain randperm stream and is not seed-matched.
- A class missing from the validation or test split is an error (torchmetrics would quietly score it 0 or
  drop it from the macro average); NaN/inf features are an error (OPERA silently `nan_to_num`s VGGish).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from benchmark_tasks._spec import ProbeConfig
from benchmark_tasks.metrics import auroc

EpochHook = Callable[[int, float, float], bool]


@dataclass
class ProbeResult:
    """Outcome of one probe run (one seed, or one LOSO fold).

    Attributes:
        test_score: test metric at the selected epoch (AUROC in [0, 1], or MAE in target units; see `metric`).
        val_score: validation metric at the selected epoch.
        best_epoch: 0-based index of the selected epoch (-1 for logreg_probe, which has no epochs).
        test_scores: float64 [N_test, C] softmax probabilities, or [N_test] regression predictions in target
            units, from the selected epoch.
        history: one dict per epoch: epoch, lr, train_loss, and val_/test_ metrics (test values are recorded
            for inspection only; selection never looks at them). logreg_probe: one dict per C tried.
        metric: "auroc" or "mae", naming test_score and val_score.
        test_mape: regression only: test MAPE in percent at the selected epoch.
    """

    test_score: float
    val_score: float
    best_epoch: int
    test_scores: np.ndarray
    history: list[dict] = field(default_factory=list)
    metric: str = "auroc"
    test_mape: float | None = None


def as_features(x, name: str) -> np.ndarray:
    """Validate one split's embeddings: [N, D] finite floats -> float32 numpy array."""
    a = np.asarray(x, dtype=np.float32)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty [N, D] array of embeddings, got shape {a.shape}")
    bad = ~np.isfinite(a).all(axis=1)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} of {len(a)} rows with NaN/inf (first at row "
                         f"{int(np.flatnonzero(bad)[0])}); fix or drop those embeddings before probing")
    return a


def as_class_labels(y, n_rows: int, n_classes: int, name: str, need_all: bool) -> np.ndarray:
    """Validate one split's labels: int[N] in 0..n_classes-1; need_all: every class must occur."""
    a = np.asarray(y)
    if a.shape != (n_rows,):
        raise ValueError(f"{name} must be 1-D with one label per embedding row ({n_rows}), got shape {a.shape}")
    if a.dtype.kind not in "biuf" or not np.all(np.mod(a, 1) == 0) or a.min() < 0 or a.max() >= n_classes:
        raise ValueError(f"{name} must hold integer class indices 0..{n_classes - 1}")
    a = a.astype(np.int64)
    counts = np.bincount(a, minlength=n_classes)
    present = int((counts > 0).sum())
    if present < 2:
        raise ValueError(f"{name} holds a single class ({counts.tolist()} items per class): a probe needs "
                         "at least two classes")
    if need_all and present < n_classes:
        raise ValueError(f"{name} lacks class(es) {np.flatnonzero(counts == 0).tolist()} (items per class "
                         f"{counts.tolist()}): its AUROC is undefined; re-split so every class occurs")
    return a


def check_config(cfg: ProbeConfig) -> None:
    if cfg.epochs < 1 or cfg.batch_size < 1 or cfg.lr <= 0 or cfg.l2 < 0 or cfg.patience < 0:
        raise ValueError(f"invalid ProbeConfig {cfg}: need epochs >= 1, batch_size >= 1, lr > 0, l2 >= 0, "
                         "patience >= 0")
    if not 1 <= cfg.select_every <= cfg.epochs:
        raise ValueError(f"ProbeConfig.select_every={cfg.select_every} must lie in 1..epochs={cfg.epochs}")


def selectable(epoch: int, cfg: ProbeConfig) -> bool:
    """Whether OPERA's checkpoint callback would consider this 0-based epoch."""
    return (epoch + 1) % cfg.select_every == 0


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one intra-op thread: the probe's small matmuls only lose time to thread hand-offs (several
    times slower on a busy 2-core machine). The caller's thread count is restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class LinearHead:
    """OPERA's `nn.Linear(D, C)` head as plain tensors: out = x @ weight.T + bias.

    weight float32 [C, D] ~ N(0, 0.01) and bias [C] = 0 (OPERA's `weights_init`), drawn from `gen`.
    """

    def __init__(self, in_dim: int, out_dim: int, gen: torch.Generator):
        self.weight = torch.empty(out_dim, in_dim).normal_(0.0, 0.01, generator=gen)
        self.bias = torch.zeros(out_dim)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, x, self.weight.T)


def init_head(in_dim: int, out_dim: int, seed: int, opera_rng: bool = False) -> tuple[LinearHead, torch.Generator]:
    """A fresh head and the private generator (seeded with seed) that then draws the batch orders.

    opera_rng: first discard the draws of nn.Linear(in_dim, out_dim)'s own init (kaiming-uniform weight, uniform
    bias), which OPERA's LinearHead makes before weights_init redraws the weight, so that the weight equals
    OPERA's after torch.manual_seed(seed).
    """
    gen = torch.Generator().manual_seed(int(seed))
    if opera_rng:
        torch.empty(out_dim, in_dim).uniform_(generator=gen)
        torch.empty(out_dim).uniform_(generator=gen)
    return LinearHead(in_dim, out_dim, gen), gen


def _int64_draw(gen: torch.Generator) -> int:
    return int(torch.empty((), dtype=torch.int64).random_(generator=gen))


def randperm_order(gen: torch.Generator, n: int) -> torch.Tensor:
    """One epoch's batch order: randperm(n) straight from gen."""
    return torch.randperm(n, generator=gen)


def dataloader_order(gen: torch.Generator, n: int) -> torch.Tensor:
    """One epoch's batch order as iterating `DataLoader(..., shuffle=True)` draws it from the global RNG: the
    iterator's worker base seed (one int64), the RandomSampler's seed (one int64), then randperm(n) from a fresh
    generator seeded with the latter."""
    _int64_draw(gen)
    return torch.randperm(n, generator=torch.Generator().manual_seed(_int64_draw(gen)))


def skip_dataloader_draws(gen: torch.Generator) -> None:
    """The two int64 draws one pass over a shuffled DataLoader takes (its batch order is not needed)."""
    _int64_draw(gen)
    _int64_draw(gen)


class Adam:
    """The update of `torch.optim.Adam(params, lr)` with its defaults (betas 0.9/0.999, eps 1e-8, no weight
    decay), op for op, for tensors whose gradients are computed explicitly (autograd and the optimizer object
    cost ~4x the arithmetic at this size). tests/unit/test_probe.py checks it against torch.optim.Adam."""

    def __init__(self, params: list[torch.Tensor], beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.params = params
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        self.beta1, self.beta2, self.eps, self.steps = beta1, beta2, eps, 0

    def step(self, grads: list[torch.Tensor], lr: float) -> None:
        self.steps += 1
        step_size = lr / (1 - self.beta1 ** self.steps)
        bias_correction2_sqrt = (1 - self.beta2 ** self.steps) ** 0.5
        for p, g, m, v in zip(self.params, grads, self.exp_avg, self.exp_avg_sq):
            m.lerp_(g, 1 - self.beta1)
            v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
            p.addcdiv_(m, (v.sqrt() / bias_correction2_sqrt).add_(self.eps), value=-step_size)


LossGrad = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def cross_entropy_grad(out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy of logits out [B, C] for int64 labels y [B], and its gradient d loss / d out."""
    log_p = torch.log_softmax(out, dim=1)
    rows = torch.arange(len(y))
    grad = log_p.exp()
    grad[rows, y] -= 1.0
    return -log_p[rows, y].mean(), grad / len(y)


def train_head(head: LinearHead, gen: torch.Generator, x: torch.Tensor, y: torch.Tensor, loss_grad: LossGrad,
               cfg: ProbeConfig, on_epoch_end: EpochHook,
               epoch_order: Callable[[torch.Generator, int], torch.Tensor] = randperm_order) -> None:
    """OPERA's training loop (Lightning semantics), on explicit gradients.

    Per batch: loss = data loss + l2 * (||W||^2 + ||b||^2); gradients clipped to total L2 norm cfg.clip the way
    `torch.nn.utils.clip_grad_norm_` does (scale min(1, clip / (norm + 1e-6))); one Adam step. Per epoch: a
    fresh permutation epoch_order(gen, N) (the last partial batch kept), then on_epoch_end(epoch, lr_used,
    mean_train_loss), which returns True to stop, then lr *= cfg.lr_decay.
    x: float32 [N, D]; y: targets as loss_grad(outputs [B, C], targets [B]) expects them.
    """
    w, b = head.weight, head.bias
    adam = Adam([w, b])
    lr, n = cfg.lr, len(x)
    for epoch in range(cfg.epochs):
        order = epoch_order(gen, n)
        total = 0.0
        for start in range(0, n, cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            xb = x[idx]
            data_loss, g_out = loss_grad(head(xb), y[idx])
            total += (float(data_loss) + cfg.l2 * float(w.pow(2).sum() + b.pow(2).sum())) * len(idx)
            g_w = torch.addmm(w, g_out.T, xb, beta=2.0 * cfg.l2)  # d/dW [CE + l2 ||W||^2] = g^T x + 2 l2 W
            g_b = g_out.sum(dim=0).add_(b, alpha=2.0 * cfg.l2)
            if cfg.clip > 0:
                total_norm = torch.stack([g_w.norm(), g_b.norm()]).norm()
                scale = torch.clamp(cfg.clip / (total_norm + 1e-6), max=1.0)
                g_w.mul_(scale)
                g_b.mul_(scale)
            adam.step([g_w, g_b], lr)
        if on_epoch_end(epoch, lr, total / n):
            return
        lr *= cfg.lr_decay


def _probabilities(head: LinearHead, x: torch.Tensor) -> np.ndarray:
    return torch.softmax(head(x), dim=1).numpy().astype(np.float64)


def _auroc_or_nan(y: np.ndarray, probs: np.ndarray) -> float:
    return auroc(y, probs) if np.isfinite(probs).all() else float("nan")


def _check_splits(x_train, y_train, x_val, y_val, x_test, y_test, n_classes: int):
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    xs = [as_features(x, name) for x, name in ((x_train, "x_train"), (x_val, "x_val"), (x_test, "x_test"))]
    dims = {x.shape[1] for x in xs}
    if len(dims) != 1:
        raise ValueError(f"train/val/test embeddings differ in width: {[x.shape[1] for x in xs]}")
    ys = [as_class_labels(y, len(x), n_classes, name, need_all=name != "y_train")
          for y, x, name in ((y_train, xs[0], "y_train"), (y_val, xs[1], "y_val"), (y_test, xs[2], "y_test"))]
    return xs, ys


def linear_probe(x_train, y_train, x_val, y_val, x_test, y_test, n_classes: int, cfg: ProbeConfig,
                 seed: int) -> ProbeResult:
    """Train OPERA's linear head on frozen embeddings and score the test split at the best validation epoch.

    Args:
        x_*: float [N_split, D] embeddings (numpy or CPU torch); any D, finite.
        y_*: int [N_split] class indices in 0..n_classes-1. Train needs >= 2 classes; val and test need all.
        n_classes: C (2 for binary tasks).
        cfg: protocol hyperparameters (module docstring).
        seed: seeds the initial weights and the batch orders as torch.manual_seed(seed) seeds OPERA's run (module
            docstring); same inputs + seed give an identical result.

    Returns:
        ProbeResult with macro one-vs-rest AUROCs and the test softmax probabilities [N_test, C].
    """
    check_config(cfg)
    (xtr, xva, xte), (ytr, yva, yte) = _check_splits(x_train, y_train, x_val, y_val, x_test, y_test, n_classes)
    head, gen = init_head(xtr.shape[1], n_classes, seed, opera_rng=True)
    t_va, t_te = torch.from_numpy(xva), torch.from_numpy(xte)
    history: list[dict] = []
    best: dict = {}

    def on_epoch_end(epoch: int, lr: float, train_loss: float) -> bool:
        skip_dataloader_draws(gen)  # OPERA's validation DataLoader is shuffled too
        p_va, p_te = _probabilities(head, t_va), _probabilities(head, t_te)
        v, t = _auroc_or_nan(yva, p_va), _auroc_or_nan(yte, p_te)
        history.append({"epoch": epoch, "lr": lr, "train_loss": train_loss, "val_auroc": v, "test_auroc": t})
        if selectable(epoch, cfg) and v == v and (not best or v > best["val"]):  # v == v: not NaN
            best.update(epoch=epoch, val=v, test=t, probs=p_te)
        return False

    with single_thread():
        train_head(head, gen, torch.from_numpy(xtr), torch.from_numpy(ytr), cross_entropy_grad, cfg,
                   on_epoch_end, epoch_order=dataloader_order)
    if not best:
        raise RuntimeError("linear_probe: validation AUROC was NaN at every selectable epoch (training "
                           f"diverged); lower ProbeConfig.lr (now {cfg.lr})")
    return ProbeResult(test_score=best["test"], val_score=best["val"], best_epoch=best["epoch"],
                       test_scores=best["probs"], history=history)


def _baddbmm(inp: torch.Tensor, a: torch.Tensor, b: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """beta * inp + a @ b per seed (a [S, M, K], b [S, K, N], inp broadcastable to [S, M, N]), with the same
    floating-point result as torch.addmm on each seed's matrices.

    PyTorch's CPU bmm (aten/src/ATen/native/LinearAlgebra.cpp, bmm_out_or_baddbmm_) multiplies with its own loop
    when K * M * N < 400 and with the BLAS gemm that addmm uses otherwise; below that size this calls addmm per
    seed, so that the batched probe rounds exactly as linear_probe does (a different rounding could flip the order
    of two nearly tied validation scores and with it an epoch's AUROC).
    """
    if a.shape[1] * a.shape[2] * b.shape[2] >= 400:
        return torch.baddbmm(inp, a, b, beta=beta)
    inp = inp.expand(a.shape[0], a.shape[1], b.shape[2])
    return torch.stack([torch.addmm(i, x, y, beta=beta) for i, x, y in zip(inp, a, b)])


def _seed_probabilities(weight: torch.Tensor, bias: torch.Tensor, x: torch.Tensor) -> np.ndarray:
    """Softmax outputs of every seed's head: weight [S, C, D], bias [S, C], x [N, D] -> float64 [S, N, C]."""
    logits = _baddbmm(bias[:, None, :], x.expand(len(weight), *x.shape), weight.transpose(1, 2))
    return torch.softmax(logits, dim=2).numpy().astype(np.float64)


def linear_probe_seeds(x_train, y_train, x_val, y_val, x_test, y_test, n_classes: int, cfg: ProbeConfig,
                       seeds) -> list[ProbeResult]:
    """linear_probe for several seeds at once: one batched head, the results of linear_probe seed by seed.

    Every seed keeps what linear_probe gives it: its own generator replaying OPERA's draws (init_head with
    opera_rng, dataloader_order per epoch, skip_dataloader_draws for the validation pass), its own Adam moments,
    its own gradient clipping and its own best-epoch selection. What is shared is the arithmetic: weights
    [S, C, D], each step gathers the seeds' mini-batches [S, B, D] (n is shared, so every seed's batch has the
    same size B, the last partial one included) and runs one batched matmul forward and one backward; Adam's
    update is elementwise. Each seed's numbers are rounded as in linear_probe (_baddbmm), so on CPU the results
    equal linear_probe's (tests/unit/test_probe_seeds.py); S seeds cost about one seed's Python overhead.

    Args:
        x_*, y_*, n_classes, cfg: as linear_probe.
        seeds: the seeds (ints), e.g. range(5).

    Returns:
        One ProbeResult per seed, in the order of `seeds`, as linear_probe(..., seed) returns it.
    """
    check_config(cfg)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("linear_probe_seeds needs at least one seed")
    (xtr, xva, xte), (ytr, yva, yte) = _check_splits(x_train, y_train, x_val, y_val, x_test, y_test, n_classes)
    heads, gens = zip(*(init_head(xtr.shape[1], n_classes, s, opera_rng=True) for s in seeds))
    w = torch.stack([h.weight for h in heads])                 # [S, C, D]
    b = torch.stack([h.bias for h in heads])                   # [S, C]
    x, y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    t_va, t_te = torch.from_numpy(xva), torch.from_numpy(xte)
    n_seeds, n = len(seeds), len(xtr)
    minus_one = torch.full((n_seeds, min(cfg.batch_size, n), 1), -1.0)
    histories: list[list[dict]] = [[] for _ in seeds]
    best: list[dict] = [{} for _ in seeds]
    adam = Adam([w, b])
    lr = cfg.lr
    with single_thread():
        for epoch in range(cfg.epochs):
            order = torch.stack([dataloader_order(g, n) for g in gens])          # [S, N]
            total = torch.zeros(n_seeds, dtype=torch.float64)
            for start in range(0, n, cfg.batch_size):
                idx = order[:, start:start + cfg.batch_size]                    # [S, B]
                n_b = idx.shape[1]
                flat = idx.reshape(-1)                                          # index_select: 3x x[idx]
                xb = x.index_select(0, flat).view(n_seeds, n_b, -1)             # [S, B, D]
                yb = y.index_select(0, flat).view(n_seeds, n_b, 1)              # [S, B, 1]
                log_p = torch.log_softmax(_baddbmm(b[:, None, :], xb, w.transpose(1, 2)), dim=2)
                data_loss = -log_p.gather(2, yb)[..., 0].mean(dim=1)
                g_out = log_p.exp().scatter_add_(2, yb, minus_one[:, :n_b])     # p - onehot(y), as in linear_probe
                g_out /= n_b
                penalty = w.pow(2).sum(dim=(1, 2)) + b.pow(2).sum(dim=1)
                total += (data_loss.double() + cfg.l2 * penalty.double()) * n_b
                g_w = _baddbmm(w, g_out.transpose(1, 2), xb, beta=2.0 * cfg.l2)
                g_b = g_out.sum(dim=1).add_(b, alpha=2.0 * cfg.l2)
                if cfg.clip > 0:
                    norm = torch.stack([g_w.flatten(1).norm(dim=1), g_b.norm(dim=1)], dim=1).norm(dim=1)
                    scale = torch.clamp(cfg.clip / (norm + 1e-6), max=1.0)
                    g_w.mul_(scale[:, None, None])
                    g_b.mul_(scale[:, None])
                adam.step([g_w, g_b], lr)
            p_va, p_te = _seed_probabilities(w, b, t_va), _seed_probabilities(w, b, t_te)
            for k, gen in enumerate(gens):
                skip_dataloader_draws(gen)  # OPERA's validation DataLoader is shuffled too
                v, t = _auroc_or_nan(yva, p_va[k]), _auroc_or_nan(yte, p_te[k])
                histories[k].append({"epoch": epoch, "lr": lr, "train_loss": float(total[k]) / n,
                                     "val_auroc": v, "test_auroc": t})
                if selectable(epoch, cfg) and v == v and (not best[k] or v > best[k]["val"]):  # v == v: not NaN
                    best[k].update(epoch=epoch, val=v, test=t, probs=p_te[k])
            lr *= cfg.lr_decay
    failed = [s for s, bk in zip(seeds, best) if not bk]
    if failed:
        raise RuntimeError(f"linear_probe_seeds: validation AUROC was NaN at every selectable epoch for seed(s) "
                           f"{failed} (training diverged); lower ProbeConfig.lr (now {cfg.lr})")
    return [ProbeResult(test_score=bk["test"], val_score=bk["val"], best_epoch=bk["epoch"], test_scores=bk["probs"],
                        history=h) for bk, h in zip(best, histories)]


LOGREG_C_GRID = tuple(10.0 ** k for k in range(-4, 3))


def logreg_probe(x_train, y_train, x_val, y_val, x_test, y_test, n_classes: int, cfg: ProbeConfig,
                 seed: int) -> ProbeResult:
    """Quick-look alternative to linear_probe (not OPERA's protocol): standardise with train statistics, fit
    scikit-learn LogisticRegression (lbfgs) for C in 1e-4..1e2, keep the C with the best validation AUROC.

    Same arguments and checks as linear_probe; cfg is not used and lbfgs is deterministic, so seed does not
    change the result. best_epoch is -1; history has one dict per C.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    (xtr, xva, xte), (ytr, yva, yte) = _check_splits(x_train, y_train, x_val, y_val, x_test, y_test, n_classes)
    scaler = StandardScaler().fit(xtr)
    xtr, xva, xte = (scaler.transform(x) for x in (xtr, xva, xte))
    history: list[dict] = []
    best: dict = {}
    for c in LOGREG_C_GRID:
        model = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(xtr, ytr)
        p_va, p_te = _full_proba(model, xva, n_classes), _full_proba(model, xte, n_classes)
        v, t = auroc(yva, p_va), auroc(yte, p_te)
        history.append({"C": c, "val_auroc": v, "test_auroc": t})
        if not best or v > best["val"]:
            best.update(val=v, test=t, probs=p_te)
    return ProbeResult(test_score=best["test"], val_score=best["val"], best_epoch=-1,
                       test_scores=best["probs"], history=history)


def _full_proba(model, x: np.ndarray, n_classes: int) -> np.ndarray:
    """predict_proba widened to all n_classes columns (a class absent from train gets probability 0)."""
    out = np.zeros((len(x), n_classes))
    out[:, model.classes_] = model.predict_proba(x)
    return out
