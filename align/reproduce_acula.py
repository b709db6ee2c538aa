"""`make reproduce-acula`: AcuLa's recipe end to end, then base vs aligned on every AcuLa task.

    python -m align.reproduce_acula --data-root /data --opera-root ~/OPERA --weights encoder-operaGT.ckpt \\
        --teacher /models/medgemma-4b-pt --device cuda [--out runs/reproduce-acula]
    python -m align.reproduce_acula --dry-run [--out DIR]      # tiny models, demo data, CPU, < 1 min

Steps, each printed as the command line it runs (in this process):
    1. python -m align --recipe acula --weights W --teacher T --tasks opera,cardiac ... --out OUT/align --resume
       (align/recipes.py; OPERA-GT fully fine-tuned against MedGemma-4b-pt in bf16, 50 epochs of the training
       splits of every task; an interrupted run resumes, a finished one is reused)
    2. python evaluate.py --encoder opera-gt --weights W --tasks opera,cardiac ... --out OUT/eval        (base)
    3. python evaluate.py --encoder opera-gt --weights W --aligned OUT/align --tasks opera,cardiac ...  (aligned)
    4. the per-task table aligned - base with paired bootstrap 95% CIs (AUROC tasks; the regression tasks T13-T19
       are in the leaderboard OUT/eval/leaderboard.md) -> OUT/comparison.md
The tasks are AcuLa's: OPERA's respiratory suite (T1-T19, `opera`) and the cardiac suite C1-C13 (`cardiac`).

--dry-run runs the same four steps with a tiny random OPERA-GT (--tiny), a tiny random Gemma 3 teacher in
MedGemma-4b's multimodal layout (align.tiny_teacher; bf16 as the recipe says), two demo tasks (one lung, one
heart), 0.1 epoch in batches of 8 (2 optimizer steps) and the logistic-regression probe with one seed.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

ACULA_TASKS = "opera,cardiac"
DRY_TASKS = "demo-wheeze-easy,demo-murmur-easy"
# tiny, fast and still the recipe otherwise (full fine-tuning, cka + mam, bf16 mean-pooled teacher)
# 0.1 epoch: the recipe's epochs -> steps conversion at work (2 steps of the demo tasks' 138 training items)
DRY_ALIGN = ["--tiny", "--epochs", "0.1", "--batch-size", "8", "--grad-accum", "1", "--warmup-steps", "1",
             "--head-hidden", "32", "--head-out", "16", "--checkpoint-every", "0"]
DRY_EVAL = ["--tiny", "--probe", "logreg", "--seeds", "1"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m align.reproduce_acula", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", help="folder with one sub-folder per dataset (python evaluate.py --check-data)")
    p.add_argument("--opera-root", help="OPERA checkout with its split files (default: $OPERA_ROOT)")
    p.add_argument("--weights", help="OPERA-GT checkpoint (encoder-operaGT.ckpt)")
    p.add_argument("--teacher", help="google/medgemma-4b-pt: its local directory or the hub name when it is in the "
                                     "local Hugging Face cache (`hf download google/medgemma-4b-pt`)")
    p.add_argument("--tasks", default=ACULA_TASKS, help=f"aligned and scored tasks (default: {ACULA_TASKS})")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when there is one; cpu for --dry-run)")
    p.add_argument("--out", type=Path, default=Path("runs/reproduce-acula"), help="output folder")
    p.add_argument("--cache-dir", help="data, embedding and report caches (default $ACULA_ZOO_CACHE or "
                                       "~/.cache/acula_zoo)")
    p.add_argument("--dry-run", action="store_true", help="tiny models, demo data, a few steps (see above)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def commands(args: argparse.Namespace) -> tuple[list[str], list[str], list[str]]:
    """argv of `python -m align` and of the two `python evaluate.py` calls (base, aligned)."""
    out = Path(args.out)
    shared = []
    for flag, value in (("--data-root", args.data_root), ("--opera-root", args.opera_root),
                        ("--cache-dir", args.cache_dir), ("--device", args.device)):
        if value:
            shared += [flag, str(value)]
    if args.no_progress:
        shared.append("--no-progress")
    tasks = DRY_TASKS if args.dry_run else args.tasks
    encoder = ["--encoder", "opera-gt"]
    if args.dry_run:
        align = ["--recipe", "acula", "--teacher", str(out / "teacher"), *DRY_ALIGN]
        scoring = [*encoder, *DRY_EVAL]
    else:
        align = ["--recipe", "acula", "--weights", args.weights, "--teacher", args.teacher]
        scoring = [*encoder, "--weights", args.weights]
    align += ["--tasks", tasks, "--out", str(out / "align"), "--resume", *shared]
    base = [*scoring, "--tasks", tasks, "--out", str(out / "eval"), *shared]
    return align, base, [*base, "--aligned", str(out / "align")]


def _check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if args.dry_run:
        return
    missing = [flag for flag, value in (("--weights (WEIGHTS=)", args.weights), ("--teacher (TEACHER=)", args.teacher),
                                        ("--data-root (DATA_ROOT=)", args.data_root)) if not value]
    if missing:
        parser.error(f"missing {', '.join(missing)}; the teacher is google/medgemma-4b-pt, never downloaded here: "
                     f"`hf download google/medgemma-4b-pt` (after accepting its terms), then pass its directory or "
                     f"the hub name. Or DRY_RUN=1 / --dry-run for the tiny CPU check")


def _run(label: str, prog: str, argv: list[str], fn) -> None:
    print(f"\n== {label}: {prog} {shlex.join(argv)}", flush=True)
    code = fn(argv)
    if code:
        raise SystemExit(f"reproduce-acula: {label} failed (exit {code})")


def main(argv: list[str] | None = None) -> int:
    import evaluate
    from align.__main__ import main as align_main
    from align.tiny_teacher import save_tiny_teacher
    from benchmark_tasks.records import load_records

    parser = build_parser()
    args = parser.parse_args(argv)
    _check(args, parser)
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() and not args.dry_run else "cpu"
    t0 = time.perf_counter()
    align, base, aligned = commands(args)
    if args.dry_run and not (args.out / "teacher" / "config.json").is_file():
        save_tiny_teacher(args.out / "teacher", "gemma3")
    _run("1/4 align (recipe acula)", "python -m align", align, align_main)
    _run("2/4 score the base encoder", "python evaluate.py", base, evaluate.main)
    _run("3/4 score the aligned encoder", "python evaluate.py", aligned, evaluate.main)
    label = "opera-gt" + ("-tiny" if args.dry_run else "")
    records = [r for r in load_records(args.out / "eval") if r["encoder_label"] in (label, label + "+aligned")]
    table = evaluate.render_comparison(records, label, label + "+aligned")
    (args.out / "comparison.md").write_text(f"# AcuLa recipe: base vs aligned ({label})\n\n```\n{table}\n```\n")
    print(f"\n== 4/4 base vs aligned\n{table}\ncomparison: {args.out / 'comparison.md'}; leaderboard: "
          f"{args.out / 'eval' / 'leaderboard.md'} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
