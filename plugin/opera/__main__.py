"""python -m plugin.opera export|score|list: acula-zoo features where OPERA's linear_eval.py reads them, and
OPERA's own scores of them as result records (plugin/opera/score.py)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from adapters._errors import UserError


class OperaCliError(UserError, ValueError):
    """A missing or contradictory command-line argument."""


def default_pretrain(encoder: str, tiny: bool, aligned: bool) -> str:
    """az_<encoder>[_tiny][_aligned] with '-' as '_' (OPERA appends the dimension: az_opera_gt384)."""
    return "az_" + encoder.replace("-", "_") + ("_tiny" if tiny else "") + ("_aligned" if aligned else "")


def _encoder_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--encoder", help="registered encoder name (optional with --aligned)")
    weights = sp.add_mutually_exclusive_group()
    weights.add_argument("--tiny", action="store_true", help="random-weight toy-width model of the same architecture")
    weights.add_argument("--weights", help="the base encoder's checkpoint (published format)")
    sp.add_argument("--aligned", type=Path, help="aligned-encoder directory from `python -m align`")
    sp.add_argument("--trust-checkpoint", action="store_true", help="allow checkpoints holding pickled objects")
    sp.add_argument("--pretrain", help="the new --pretrain name for OPERA (default az_<encoder>[_tiny][_aligned])")
    sp.add_argument("--data-root", type=Path, help="folder with one sub-folder per dataset")
    sp.add_argument("--opera-root", type=Path, default=os.environ.get("OPERA_ROOT"),
                    help="OPERA checkout (default $OPERA_ROOT); features go to its feature/ folder")
    sp.add_argument("--cache-dir", type=Path, help="embedding cache root (default $ACULA_ZOO_CACHE or "
                                                   "~/.cache/acula_zoo, shared with evaluate.py)")
    sp.add_argument("--batch-size", type=int, default=16)
    sp.add_argument("--device", default="cpu", help="cpu | cuda: the encoder's, and OPERA's Trainer's (score)")
    sp.add_argument("--no-progress", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m plugin.opera", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="embed tasks and write OPERA feature files")
    _encoder_args(ex)
    ex.add_argument("--task", required=True, help="task id(s) or a selector: T5 | T13,T14 | opera")
    sc = sub.add_parser("score", help="export, then score with OPERA's own linear_eval.py and write result records")
    _encoder_args(sc)
    sc.add_argument("--tasks", required=True, help="task id(s) or a selector: T5,T10 | opera")
    sc.add_argument("--out", type=Path, required=True, help="run folder: records/ (as evaluate.py --out), opera_logs/")
    sc.add_argument("--upstream-python", default=sys.executable,
                    help="OPERA's Python interpreter (with pytorch_lightning); default: this one")
    sc.add_argument("--seeds", type=int, default=5, help="linear_eval.py --n_run (seeds 0..N-1; default 5 as OPERA)")
    sub.add_parser("list", help="list the tasks OPERA evaluates, their feature files and linear_eval.py arguments")
    return p


def list_layouts() -> int:
    from plugin.opera.layouts import OPERA_LAYOUTS

    for task_id, lay in OPERA_LAYOUTS.items():
        path = f"feature/{lay.eval_dir}/{lay.feature_file}"
        print(f"{task_id:<4} {path:<68} linear_eval.py {lay.eval_args}")
    return 0


def _setup(args):
    """(encoder, its record label, pretrain name, DataContext) from the export/score arguments."""
    from benchmark_tasks import DataContext
    from benchmark_tasks._registry import default_cache_dir
    from plugin._build import build_host_encoder

    if args.opera_root is None:
        raise OperaCliError("--opera-root is required (or set OPERA_ROOT): the OPERA checkout to write features into")
    if not args.encoder and not args.aligned:
        raise OperaCliError("give --encoder NAME (and --weights W or --tiny), or --aligned DIR")
    encoder = build_host_encoder(args.encoder, weights=args.weights, config="tiny" if args.tiny else None,
                                 aligned=args.aligned, device=args.device, trust_checkpoint=args.trust_checkpoint)
    pretrain = args.pretrain or default_pretrain(encoder.spec.name, args.tiny, bool(args.aligned))
    tiny = args.tiny
    if args.aligned:   # the record label says which base the adapter was trained on, as evaluate.py's does
        from acula_zoo.evaluate import alignment_summary
        from align.aligned import read_align_config

        tiny = bool(read_align_config(args.aligned)["base"].get("tiny"))
        encoder.alignment = alignment_summary(args.aligned)   # what the adapter trained on: the leaderboard's ‡
    label = encoder.spec.name + ("-tiny" if tiny else "") + ("+aligned" if args.aligned else "")
    ctx = DataContext(data_root=args.data_root, opera_root=args.opera_root,
                      cache_dir=args.cache_dir or default_cache_dir())
    return encoder, label, pretrain, ctx


def _export_all(args, selector: str) -> list:
    from benchmark_tasks import select_tasks
    from plugin.opera.export import export_opera_features

    encoder, label, pretrain, ctx = _setup(args)
    done = []
    for task in select_tasks(selector):
        res = export_opera_features(encoder, task, args.opera_root / "feature", pretrain, ctx=ctx,
                                    batch_size=args.batch_size, progress=not args.no_progress)
        print(f"{task.id:<4} {res.rows} x {res.dim} -> {res.feature_path} ({res.computed} encoded, "
              f"{res.cached} cached" + (f", {len(res.placeholder_rows)} rows OPERA drops left as zeros"
                                        if res.placeholder_rows else "") + ")", flush=True)
        done.append((task, res))
    return encoder, label, pretrain, done


def export(args) -> int:
    *_, done = _export_all(args, args.task)
    print(f"\nevaluate with OPERA (from {args.opera_root}; linear_eval.py trains on a GPU):")
    for cmd in dict.fromkeys(res.command for _, res in done):
        print(f"  {cmd}")
    return 0


def score(args) -> int:
    from plugin.opera.score import UpstreamRun, accelerator_for, score_task

    if args.seeds < 1:
        raise OperaCliError(f"--seeds {args.seeds}: give at least 1")
    encoder, label, pretrain, done = _export_all(args, args.tasks)
    run = UpstreamRun(args.opera_root.resolve(), args.upstream_python, accelerator_for(args.device), args.seeds)
    for task, res in done:
        rec = score_task(encoder, label, task, res, run, args.out, pretrain)
        print(f"{task.id:<4} OPERA's linear_eval.py: {rec['metric']} {rec['mean']:.4f} ± {rec['std']:.4f} "
              f"({', '.join(f'{s:.4f}' for s in rec['scores'])}) -> {rec['record_path']}", flush=True)
    print(f"\nleaderboard: python evaluate.py --leaderboard {args.out}")
    return 0


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "list":
        return list_layouts()
    return score(args) if args.command == "score" else export(args)


def main(argv: list[str] | None = None) -> int:
    """The command line; a user error (a missing file, a failed OPERA run) ends as one stderr line, exit code 2."""
    from adapters._cli import run_cli

    return run_cli(_main, argv, prog="python -m plugin.opera")


if __name__ == "__main__":
    sys.exit(main())
