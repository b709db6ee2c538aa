"""Run OPERA's own src/benchmark/linear_eval.py, unedited, on a chosen Lightning accelerator; save its scores as JSON.

Runs inside OPERA's Python environment with the OPERA checkout as the working directory (plugin/opera/score.py
starts it as a subprocess), so it imports nothing from acula-zoo: only the standard library, and OPERA's own
dependencies through OPERA's code.

    cd OPERA && PYTHONPATH=. python /path/to/plugin/opera/upstream_run.py --accelerator cpu --result r.json -- \\
        --task coughvidcovid --pretrain az_gt --dim 384 --n_run 5

Why a wrapper: every linear_evaluation_* function of linear_eval.py (github evelyn0414/OPERA, commit 3622310)
builds `pl.Trainer(..., accelerator="gpu", devices=1, ...)` with `import pytorch_lightning as pl`. Before running
the file, `pytorch_lightning.Trainer` (and `lightning.pytorch.Trainer`, where installed) is replaced by a subclass
that sets `accelerator` to the requested one and passes every other argument on unchanged. The file itself then
runs as `__main__` with the given arguments (runpy.run_path): its own argument parsing, its own seed loop
(`np.random.seed(seed); torch.manual_seed(seed); torch.cuda.manual_seed(seed)` for seed in range(n_run)), its own
calls. Its module globals after the run hold the numbers it printed: `auc_scores` (one test AUROC per seed) or, for
`--LOOCV True` tasks, `maes` and `mapes` (one per left-out subject).

The JSON written to --result: {"auc_scores": [...]} or {"maes": [...], "mapes": [...]}, plus "accelerator",
"trainers" (how many Trainers were built) and "asked" (the accelerators linear_eval.py asked for).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import runpy
import sys

LINEAR_EVAL = os.path.join("src", "benchmark", "linear_eval.py")


def patch_trainer(accelerator: str, log: dict) -> list[str]:
    """Make every Lightning Trainer built from now on use `accelerator`; returns the patched module names."""
    patched = []
    for name in ("pytorch_lightning", "lightning.pytorch"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        base = module.Trainer

        class Trainer(base):
            def __init__(self, *args, **kwargs):
                log["asked"].append(str(kwargs.get("accelerator", "auto")))
                log["trainers"] += 1
                kwargs["accelerator"] = accelerator
                super().__init__(*args, **kwargs)

        Trainer.__name__ = Trainer.__qualname__ = "Trainer"
        module.Trainer = Trainer
        patched.append(name)
    return patched


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    p = argparse.ArgumentParser(prog="upstream_run.py", description=__doc__.splitlines()[0])
    p.add_argument("--accelerator", default="cpu", help="Lightning accelerator: cpu | gpu")
    p.add_argument("--result", required=True, help="JSON file to write the scores to")
    args = p.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    if not os.path.isfile(LINEAR_EVAL):
        print(f"{os.path.abspath(LINEAR_EVAL)}: not found; run from the OPERA checkout", file=sys.stderr)
        return 2
    log = {"accelerator": args.accelerator, "trainers": 0, "asked": []}
    log["patched"] = patch_trainer(args.accelerator, log)
    if not log["patched"]:
        print("neither pytorch_lightning nor lightning.pytorch is importable: use OPERA's environment "
              "(--upstream-python)", file=sys.stderr)
        return 2
    sys.path.insert(0, os.getcwd())
    sys.argv = [LINEAR_EVAL, *rest]
    result = runpy.run_path(LINEAR_EVAL, run_name="__main__")
    out = {k: [float(v) for v in result[k]] for k in ("auc_scores", "maes", "mapes") if k in result}
    if not out:
        print(f"{LINEAR_EVAL} ran but produced no auc_scores or maes (arguments {rest})", file=sys.stderr)
        return 2
    out.update(log)
    tmp = args.result + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(out, fh, indent=2)
    os.replace(tmp, args.result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
