"""Score one encoder on one task: items -> embeddings -> probe over seeds -> result record."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from adapters._code_version import code_version
from benchmark_tasks._registry import DataContext, load_items
from benchmark_tasks._spec import TaskSpec, split_fingerprint
from benchmark_tasks.embeddings import ExtractionFailed, extract_embeddings, pipeline_version, write_error_report
from benchmark_tasks.paired import write_test_scores
from benchmark_tasks.preprocess import preprocess_for
from benchmark_tasks.probe_cache import cached_probe, probe_key
from benchmark_tasks.probes import get_probe


@dataclass(frozen=True)
class RunConfig:
    """How to evaluate.

    seeds: probe seeds (None = the task's own count: OPERA uses 5 for classification, 1 for regression).
    probe: "default" (each task's own: TaskSpec.default_probe), "opera" (OPERA's protocol; "linear" is its old
        name), "logreg" (standardised logistic/ridge regression, regularisation by group-aware CV, refit:
        benchmark_tasks/probe_cv.py) or "zero-shot" (no probe: cosine similarity to one report-style prompt per
        class in an aligned encoder's space; needs `aligned_dir`).
    n_boot: bootstrap resamples for the 95% CI over test items (0 = no CI).
    native_rate: "auto" (each task's own: TaskSpec.native_rate_default, on for csv tasks), "on" or "off": whether
        weight-free baselines (openSMILE, log-mel statistics) compute features at each file's own sample rate;
        learned encoders always run at their trained rate.
    precision: the encoder's compute precision, "fp32" or "bf16" (bfloat16 autocast; its own cache entries).
    probe_cache_dir: where OPERA's and the logreg probe's results are cached by content
        (benchmark_tasks/probe_cache.py); None: every probe is fitted.
    """

    out_dir: Path
    cache_dir: Path
    seeds: int | None = None
    probe: str = "default"
    batch_size: int = 16
    on_error: str = "fail"
    n_boot: int = 500
    progress: bool = True
    aligned_dir: Path | None = None
    native_rate: str = "auto"
    precision: str = "fp32"
    probe_cache_dir: Path | None = None


NATIVE_RATE_MODES = ("auto", "on", "off")
NATIVE_RATE_SUFFIX = "@native-rate"


def at_task_rate(encoder, encoder_label: str, task: TaskSpec, mode: str = "auto"):
    """(encoder, label) to score `task` with: a weight-free baseline switched to the files' own sample rate when
    `mode` ("auto": the task's default) asks for it, its label marked NATIVE_RATE_SUFFIX so its records never share a
    leaderboard row with the 16 kHz ones; any other encoder unchanged."""
    if mode not in NATIVE_RATE_MODES:
        raise ValueError(f"native_rate must be one of {NATIVE_RATE_MODES}, got {mode!r}")
    on = task.native_rate_default if mode == "auto" else mode == "on"
    chosen = encoder.with_native_rate(on)
    if chosen.native_rate and not encoder_label.endswith(NATIVE_RATE_SUFFIX):
        encoder_label += NATIVE_RATE_SUFFIX
    return chosen, encoder_label


PROBE_DESCRIPTIONS = {
    "opera": "OPERA's linear probe (unstandardised features, Adam 1e-4, fixed epochs, best validation epoch; "
             "src/benchmark/linear_eval.py at 3622310)",
    "logreg": "standardised logistic regression (ridge for regression), regularisation by group-aware k-fold CV "
              "on train or by the validation split, refit (benchmark_tasks/probe_cv.py)",
    "zero-shot": "no probe: similarity to one report-style prompt per class in the aligned space",
}
TEST_SCORES = "_test_scores"   # (labels [N], scores [N, seeds, C]): written beside the record, not into it


def split_arrays(items, emb, split):
    idx = [i for i, it in enumerate(items) if it.split == split]
    return emb[idx], np.array([items[i].label for i in idx])


PROBE_ALIASES = {"linear": "opera"}   # the name OPERA's protocol had before probes were named for what they are


def resolve_probe(requested: str, task: TaskSpec) -> str:
    """The probe a task is scored with: "default" -> the task's own (TaskSpec.default_probe); "linear" -> "opera"."""
    name = PROBE_ALIASES.get(requested, requested)
    return task.default_probe if name == "default" else name


def _train_groups(items) -> np.ndarray:
    return np.array([it.group for it in items if it.split == "train"])


def probe_splits(task: TaskSpec, items, emb, pool_carved_validation: bool):
    """(x, y) of train, val, test and the train groups a probe is fitted with. With `pool_carved_validation` (the
    logreg probe) a validation split we carved (TaskSpec.validation_given is False) joins train and val is empty, so
    the regularisation is chosen by group-aware k-fold CV over all training groups rather than on one small
    carve-out; OPERA's probe keeps it to pick its epoch."""
    if task.validation_given or not pool_carved_validation:
        return (*(split_arrays(items, emb, s) for s in ("train", "val", "test")), _train_groups(items))
    fit = [i for i, it in enumerate(items) if it.split in ("train", "val")]
    return ((emb[fit], np.array([items[i].label for i in fit])), (emb[:0], np.array([])),
            split_arrays(items, emb, "test"), np.array([items[i].group for i in fit]))


def _classification(task: TaskSpec, items, emb, cfg: RunConfig) -> dict:
    from benchmark_tasks import metrics, probe
    from benchmark_tasks.probe_cv import cv_logreg_probe

    opera = resolve_probe(cfg.probe, task) == "opera"
    (xtr, ytr), (xva, yva), (xte, yte), groups = probe_splits(task, items, emb, pool_carved_validation=not opera)
    if opera:
        n_seeds = cfg.seeds or task.seeds
        # all seeds as one batched head: per seed the result linear_probe gives (tests/unit/test_probe_seeds.py)
        results = probe.linear_probe_seeds(xtr, ytr, xva, yva, xte, yte, len(task.labels), task.probe,
                                           range(n_seeds))
    else:   # deterministic: one run (seeds would repeat it)
        results = [cv_logreg_probe(xtr, ytr, xva, yva, xte, yte, len(task.labels), groups)]
    scores = [float(r.test_score) for r in results]
    mean, std = metrics.mean_std(scores)
    stacked = np.stack([np.asarray(r.test_scores) for r in results], axis=1)  # [N_test, seeds, C]
    out = {"scores": scores, "mean": mean, "std": std, "best_epochs": [r.best_epoch for r in results],
           "val_scores": [float(r.val_score) for r in results], TEST_SCORES: (yte, stacked)}
    if cfg.n_boot:

        def seed_mean_auroc(y, s):
            return float(np.mean([metrics.auroc(y, s[:, k]) for k in range(s.shape[1])]))

        out["ci95"] = list(metrics.bootstrap_ci(seed_mean_auroc, yte, stacked, n_boot=cfg.n_boot, seed=0))
    return out


def _regression(task: TaskSpec, items, emb, cfg: RunConfig) -> dict:
    from benchmark_tasks import metrics, probe

    if task.split == "loso" and resolve_probe(cfg.probe, task) == "opera":
        y = np.array([float(it.label) for it in items])
        groups = np.array([it.group for it in items])
        held_out = sorted({it.group for it in items if it.split == "test"})  # subjects marked "train" never fold
        res = probe.loso_regression(emb, y, groups, task.probe, 0, fold_groups=held_out or None)
        res.pop("predictions", None)  # per-item predictions stay out of the record (size; they are recomputable)
        return {**res, "scores": [f["mae"] for f in res["folds"]], "mean": res["mae_mean"],
                "std": res["mae_std"]}
    opera = resolve_probe(cfg.probe, task) == "opera"
    (xtr, ytr), (xva, yva), (xte, yte), groups = probe_splits(task, items, emb, pool_carved_validation=not opera)
    if opera:
        results = [probe.regression_probe(xtr, ytr.astype(float), xva, yva.astype(float), xte, yte.astype(float),
                                          task.probe, seed) for seed in range(cfg.seeds or task.seeds)]
    else:
        from benchmark_tasks.probe_cv import cv_ridge_probe

        results = [cv_ridge_probe(xtr, ytr.astype(float), xva, yva.astype(float), xte, yte.astype(float), groups)]
    maes = [float(r.test_score) for r in results]
    mean, std = metrics.mean_std(maes)
    mapes = [float(r.test_mape) for r in results]
    return {"scores": maes, "mean": mean, "std": std, "mape": metrics.mean_std(mapes)}


def probe_spec(task: TaskSpec, cfg: RunConfig) -> dict:
    """What, besides the items and embeddings, decides the result of this module's probes on `task` (part of the
    probe cache key): the probe and its hyper-parameters, seeds, bootstrap resamples, how the splits are pooled,
    the code of this module and of every probe module it imports, and the torch thread count."""
    import torch

    return {"probe": resolve_probe(cfg.probe, task), "kind": task.kind, "n_labels": len(task.labels),
            "split": task.split, "validation_given": task.validation_given, "probe_config": asdict(task.probe),
            "seeds": cfg.seeds or task.seeds, "n_boot": cfg.n_boot, "torch_threads": torch.get_num_threads(),
            "code": code_version(__name__, "benchmark_tasks.probe_cache")}


def run_probe(task: TaskSpec, items, emb: np.ndarray, cfg: RunConfig) -> tuple[dict, bool]:
    """(the probe's result dict, whether it was read from the probe cache) for `items` [N] and `emb` [N, D]."""
    if resolve_probe(cfg.probe, task) not in ("opera", "logreg"):
        return get_probe(cfg.probe)(task, items, emb, cfg), False   # another package's (zero-shot: align)
    fn = _regression if task.kind == "regression" else _classification
    if cfg.probe_cache_dir is None:
        return fn(task, items, emb, cfg), False
    key = probe_key(emb, [it.label for it in items], [it.split for it in items], [it.group for it in items],
                    probe_spec(task, cfg))
    return cached_probe(cfg.probe_cache_dir, key, lambda: fn(task, items, emb, cfg))


def evaluate_task(encoder, encoder_label: str, task: TaskSpec, ctx: DataContext, cfg: RunConfig,
                  extract_only: bool = False) -> dict | None:
    """Run the whole line for one (encoder, task) and write its record; returns the record.

    extract_only: fill the embedding cache and return None (non-zero ranks under torchrun).
    """
    from benchmark_tasks.records import new_record, write_record

    t0 = time.perf_counter()
    encoder, encoder_label = at_task_rate(encoder, encoder_label, task, cfg.native_rate)
    items = load_items(task, ctx)
    if task.dataset == "csv" and task.kind != "regression":   # a manifest read only to guard may be test-only
        from benchmark_tasks.datasets.manifest_checks import check_label_coverage

        check_label_coverage(Path(task.options["manifest"]), [task.labels[it.label] for it in items],
                             [it.split for it in items])
    prep = preprocess_for(task, encoder.spec.name)
    report = Path(cfg.out_dir) / "errors" / f"{task.id}__{encoder_label}.json"
    try:
        ext = extract_embeddings(encoder, items, cfg.cache_dir, prep, cfg.batch_size, cfg.on_error,
                                 cfg.progress, desc=f"{encoder_label} · {task.id}", precision=cfg.precision)
    except ExtractionFailed as exc:
        write_error_report(report, exc.errors)
        raise
    if extract_only:
        return None
    write_error_report(report, ext.errors, ext.warnings, ext.repaired)
    t1 = time.perf_counter()
    ok = ext.ok_items
    n_items = {s: sum(it.split == s for it in ok) for s in ("train", "val", "test")}
    used = resolve_probe(cfg.probe, task)
    protocol = {"probe": used, "probe_description": PROBE_DESCRIPTIONS.get(used, used),
                "seeds": (cfg.seeds or task.seeds) if used == "opera" else 1, **task.probe.__dict__,
                "preprocess": prep.params()}
    rec = new_record(encoder, encoder_label, task, protocol, split_fingerprint(ok), n_items)
    rec["pipeline_version"] = pipeline_version(encoder)
    rec["precision"] = ext.precision
    scores, probe_cached = run_probe(task, ok, ext.embeddings, cfg)
    per_item = scores.pop(TEST_SCORES, None)
    rec.update(scores)
    rec["n_errors"] = len(ext.errors)
    rec["data_flags"] = [f for f in ("allow_overlap", "allow_outside_root") if task.options.get(f)]
    rec["n_warnings"] = len(ext.warnings)
    rec["error_report"] = str(report)
    rec["timings"] = {"extract_s": round(t1 - t0, 3), "probe_s": round(time.perf_counter() - t1, 3),
                      "computed": ext.computed, "cached": ext.cached, "probe_cached": probe_cached}
    rec["record_path"] = str(write_record(cfg.out_dir, rec))
    if per_item is not None:   # for paired comparisons between encoders (benchmark_tasks.paired)
        write_test_scores(rec["record_path"], [it.key for it in ok if it.split == "test"], *per_item)
    return rec
