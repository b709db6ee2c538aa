"""OPERA's own scorer as a cross-check: export features, run OPERA's linear_eval.py on them, write result records.

    python -m plugin.opera score --opera-root OPERA --tasks T5,T10 --encoder opera-gt --weights gt.ckpt \\
        --data-root DATA --out runs/gt [--aligned DIR] [--device cpu|cuda] [--upstream-python OPERA_ENV/bin/python]

Per task: (a) plugin.opera.export writes the feature file OPERA reads (OPERA's row order, the task's OPERA
preprocessing, the embedding cache evaluate.py fills); (b) OPERA's src/benchmark/linear_eval.py (github
evelyn0414/OPERA, commit 3622310) runs unedited in OPERA's Python, from the OPERA checkout, through
plugin/opera/upstream_run.py, which only replaces the Lightning Trainer's hard-coded accelerator="gpu" with the
device asked for; (c) its per-seed test AUROCs (`auc_scores`; MAEs/MAPEs per left-out subject for the --LOOCV
tasks T13-T19) become one result record in benchmark_tasks/records.py's format, with `scored_by: "opera"` and
probe "opera-upstream". Its leaderboard row key (label, weights, adapter, probe) differs from evaluate.py's by the
probe, so `evaluate.py --leaderboard OUT` shows OPERA's number as its own row beside ours, in the same column
(same task version and split fingerprint) except T8/T9.

T8/T9: linear_eval.py's __main__ does not forward --mapgoogle, so OPERA probes a stratified random 80/20 split
(train_test_split(..., test_size=0.2, random_state=1337, stratify=labels), then 20% of train as validation) rather
than HeAR's split the acula-zoo task uses; the record's split fingerprint is that of OPERA's split, so its column
is a separate one (flagged) and never averaged with ours. OPERA's run also writes its checkpoints into the
checkout's cks/ folder, as it always does.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from adapters._errors import UserError
from benchmark_tasks._spec import TaskSpec, split_fingerprint
from plugin.opera.export import OperaExport
from plugin.opera.layouts import OPERA_LAYOUTS

UPSTREAM_RUN = Path(__file__).resolve().parent / "upstream_run.py"
PROBE = "opera-upstream"
PROBE_DESCRIPTION = ("OPERA's own src/benchmark/linear_eval.py (github evelyn0414/OPERA 3622310), unedited, in "
                     "OPERA's Python environment, on features exported by plugin.opera (Trainer accelerator set "
                     "to the run's device)")
RANDOM_SPLIT_TASKS = ("T8", "T9")   # linear_eval.py drops --mapgoogle: a random split (see module doc)
OPERA_SPLIT_SEED, OPERA_TEST_FRACTION, OPERA_VAL_FRACTION = 1337, 0.2, 0.2


class OperaScoreError(UserError, RuntimeError):
    """OPERA's linear_eval.py failed or gave no score; the message names its log file."""


@dataclass(frozen=True)
class UpstreamRun:
    """How OPERA's scorer is run.

    opera_root: the OPERA checkout (its feature/ folder receives the exports; linear_eval.py runs from it).
    python: OPERA's Python interpreter (with pytorch_lightning and OPERA's dependencies).
    accelerator: Lightning accelerator, "cpu" or "gpu".
    n_run: seeds (linear_eval.py --n_run; seeds 0..n_run-1 as upstream). Ignored by the --LOOCV tasks.
    timeout_s: per task.
    """

    opera_root: Path
    python: str = sys.executable
    accelerator: str = "cpu"
    n_run: int = 5
    timeout_s: float = 6 * 3600


def accelerator_for(device: str) -> str:
    """acula-zoo's --device (cpu, cuda, cuda:0) -> Lightning's accelerator name."""
    return "gpu" if str(device).startswith("cuda") else "cpu"


def upstream_args(task_id: str, pretrain: str, dim: int, n_run: int) -> list[str]:
    """linear_eval.py's arguments for a task: OPERA's task selection, the exported feature name, the seed count."""
    return [*shlex.split(OPERA_LAYOUTS[task_id].eval_args), "--pretrain", pretrain, "--dim", str(dim),
            "--n_run", str(n_run)]


def run_upstream(run: UpstreamRun, args: list[str], log_path: Path) -> dict:
    """Run linear_eval.py with `args` through upstream_run.py; its stdout/stderr go to log_path. Returns its JSON."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    result_path = log_path.with_suffix(".result.json")
    result_path.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(run.opera_root),
                                                                    os.environ.get("PYTHONPATH")]))}
    cmd = [run.python, str(UPSTREAM_RUN), "--accelerator", run.accelerator, "--result", str(result_path.resolve()),
           "--", *args]
    with open(log_path, "w") as log:
        log.write("$ " + shlex.join(cmd) + "\n")
        log.flush()
        try:
            proc = subprocess.run(cmd, cwd=run.opera_root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=run.timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise OperaScoreError(f"{log_path}: OPERA's linear_eval.py ran past {run.timeout_s:.0f} s") from exc
        except OSError as exc:
            raise OperaScoreError(f"{run.python}: cannot start OPERA's Python ({exc.strerror}); pass "
                                  f"--upstream-python OPERA_ENV/bin/python") from exc
    if proc.returncode != 0 or not result_path.is_file():
        lines = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
        raise OperaScoreError(f"{log_path}: OPERA's linear_eval.py failed (exit {proc.returncode}): "
                              f"{lines[-1] if lines else 'no output'}; see the log")
    return json.loads(result_path.read_text())


def upstream_scores(task: TaskSpec, result: dict) -> dict:
    """The record's score fields from upstream_run.py's JSON: per-seed AUROCs, or per-subject MAEs (+ MAPE)."""
    from benchmark_tasks.metrics import mean_std

    if task.kind == "regression":
        if not result.get("maes"):
            raise OperaScoreError(f"{task.id}: OPERA returned no MAEs (got {sorted(result)})")
        mean, std = mean_std(result["maes"])
        return {"scores": result["maes"], "mean": mean, "std": std, "mape": list(mean_std(result["mapes"]))}
    if not result.get("auc_scores"):
        raise OperaScoreError(f"{task.id}: OPERA returned no AUROC (got {sorted(result)})")
    mean, std = mean_std(result["auc_scores"])
    return {"scores": result["auc_scores"], "mean": mean, "std": std}


def opera_split_items(task: TaskSpec, exp: OperaExport, eval_dir: Path) -> list:
    """The task's items with the split OPERA's linear_eval.py probes them on.

    Equal to the task's own split except T8/T9, where OPERA draws a stratified random one (module doc); the
    two sklearn calls below repeat linear_evaluation_coswara's (map_google False) on row indices, which gives
    the same partition as on its feature rows.
    """
    items = [it for it in exp.row_items if it is not None]
    if task.id not in RANDOM_SPLIT_TASKS:
        return items
    from sklearn.model_selection import train_test_split

    labels = np.load(eval_dir / OPERA_LAYOUTS[task.id].label_file, allow_pickle=False)
    idx = np.arange(len(labels))
    train, test = train_test_split(idx, test_size=OPERA_TEST_FRACTION, random_state=OPERA_SPLIT_SEED,
                                   stratify=labels)
    train, val = train_test_split(train, test_size=OPERA_VAL_FRACTION, random_state=OPERA_SPLIT_SEED,
                                  stratify=labels[train])
    split = {**dict.fromkeys(train.tolist(), "train"), **dict.fromkeys(val.tolist(), "val"),
             **dict.fromkeys(test.tolist(), "test")}
    return [replace(it, split=split[r]) for r, it in enumerate(exp.row_items) if it is not None]


def opera_record(encoder, label: str, task: TaskSpec, exp: OperaExport, run: UpstreamRun, result: dict,
                 args: list[str], log_path: Path, seconds: float) -> dict:
    """A benchmark_tasks.records result record for OPERA's own score of an exported feature file."""
    from benchmark_tasks.embeddings import pipeline_version
    from benchmark_tasks.records import new_record

    side = json.loads(exp.sidecar_path.read_text())
    items = opera_split_items(task, exp, exp.feature_path.parent)
    n_items = {s: sum(it.split == s for it in items) for s in ("train", "val", "test")}
    protocol = {"probe": PROBE, "probe_description": PROBE_DESCRIPTION,
                "seeds": 1 if task.kind == "regression" else run.n_run,
                "opera_command": "PYTHONPATH=. python src/benchmark/linear_eval.py " + shlex.join(args),
                "accelerator": run.accelerator, "asked_accelerator": sorted(set(result.get("asked", []))),
                "upstream_python": run.python, "opera_root": str(run.opera_root),
                "split": "OPERA's random 80/20 (--mapgoogle not forwarded)" if task.id in RANDOM_SPLIT_TASKS
                else "the task's split", "preprocess": side["preprocess"]}
    rec = new_record(encoder, label, task, protocol, split_fingerprint(items), n_items)
    rec["scored_by"] = "opera"
    rec["pipeline_version"] = pipeline_version(encoder)
    rec.update(upstream_scores(task, result))
    rec["feature_file"] = str(exp.feature_path)
    rec["feature_sha256"] = side["feature_sha256"]
    rec["opera_log"] = str(log_path)
    rec["n_errors"] = 0
    rec["timings"] = {"opera_s": round(seconds, 3), "computed": exp.computed, "cached": exp.cached}
    return rec


def score_task(encoder, label: str, task: TaskSpec, exp: OperaExport, run: UpstreamRun, out_dir: Path,
               pretrain: str) -> dict:
    """Run OPERA's scorer on one exported task and write its record under out_dir/records/; returns the record."""
    from benchmark_tasks.records import write_record

    args = upstream_args(task.id, pretrain, exp.dim, run.n_run)
    log_path = Path(out_dir) / "opera_logs" / f"{task.id}__{label.replace('/', '_')}.log"
    t0 = time.perf_counter()
    result = run_upstream(run, args, log_path)
    rec = opera_record(encoder, label, task, exp, run, result, args, log_path, time.perf_counter() - t0)
    rec["record_path"] = str(write_record(out_dir, rec))
    return rec
