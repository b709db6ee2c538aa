"""python -m plugin.opera export|list: write acula-zoo features where OPERA's linear_eval.py reads them."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def default_pretrain(encoder: str, tiny: bool, aligned: bool) -> str:
    """az_<encoder>[_tiny][_aligned] with '-' as '_' (OPERA appends the dimension: az_opera_gt384)."""
    return "az_" + encoder.replace("-", "_") + ("_tiny" if tiny else "") + ("_aligned" if aligned else "")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m plugin.opera", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="embed tasks and write OPERA feature files")
    ex.add_argument("--encoder", help="registered encoder name (optional with --aligned)")
    weights = ex.add_mutually_exclusive_group()
    weights.add_argument("--tiny", action="store_true", help="random-weight toy-width model of the same architecture")
    weights.add_argument("--weights", help="the base encoder's checkpoint (published format)")
    ex.add_argument("--aligned", type=Path, help="aligned-encoder directory from `python -m align`")
    ex.add_argument("--trust-checkpoint", action="store_true", help="allow checkpoints holding pickled objects")
    ex.add_argument("--task", required=True, help="task id(s) or a selector: T5 | T13,T14 | opera")
    ex.add_argument("--pretrain", help="the new --pretrain name for OPERA (default az_<encoder>[_tiny][_aligned])")
    ex.add_argument("--data-root", type=Path, help="folder with one sub-folder per dataset")
    ex.add_argument("--opera-root", type=Path, default=os.environ.get("OPERA_ROOT"),
                    help="OPERA checkout (default $OPERA_ROOT); features go to its feature/ folder")
    ex.add_argument("--cache-dir", type=Path, help="embedding cache root (default $ACULA_ZOO_CACHE or "
                                                   "~/.cache/acula_zoo, shared with evaluate.py)")
    ex.add_argument("--batch-size", type=int, default=16)
    ex.add_argument("--device", default="cpu")
    ex.add_argument("--no-progress", action="store_true")
    sub.add_parser("list", help="list the tasks OPERA evaluates, their feature files and linear_eval.py arguments")
    return p


def list_layouts() -> int:
    from plugin.opera.layouts import OPERA_LAYOUTS

    for task_id, lay in OPERA_LAYOUTS.items():
        path = f"feature/{lay.eval_dir}/{lay.feature_file}"
        print(f"{task_id:<4} {path:<68} linear_eval.py {lay.eval_args}")
    return 0


def export(args) -> int:
    from benchmark_tasks import DataContext, select_tasks
    from benchmark_tasks._registry import default_cache_dir
    from plugin._build import build_host_encoder
    from plugin.opera.export import export_opera_features

    if args.opera_root is None:
        raise SystemExit("--opera-root is required (or set OPERA_ROOT): the OPERA checkout to write features into")
    if not args.encoder and not args.aligned:
        raise SystemExit("give --encoder NAME (and --weights W or --tiny), or --aligned DIR")
    encoder = build_host_encoder(args.encoder, weights=args.weights, config="tiny" if args.tiny else None,
                                 aligned=args.aligned, device=args.device, trust_checkpoint=args.trust_checkpoint)
    pretrain = args.pretrain or default_pretrain(encoder.spec.name, args.tiny, bool(args.aligned))
    cache_root = args.cache_dir or default_cache_dir()
    ctx = DataContext(data_root=args.data_root, opera_root=args.opera_root, cache_dir=cache_root)
    commands = []
    for task in select_tasks(args.task):
        res = export_opera_features(encoder, task, args.opera_root / "feature", pretrain, ctx=ctx,
                                    batch_size=args.batch_size, progress=not args.no_progress)
        print(f"{task.id:<4} {res.rows} x {res.dim} -> {res.feature_path} ({res.computed} encoded, "
              f"{res.cached} cached" + (f", {len(res.placeholder_rows)} rows OPERA drops left as zeros"
                                        if res.placeholder_rows else "") + ")", flush=True)
        commands.append(res.command)
    print(f"\nevaluate with OPERA (from {args.opera_root}; linear_eval.py trains on a GPU):")
    for cmd in dict.fromkeys(commands):
        print(f"  {cmd}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "list":
        return list_layouts()
    return export(args)


if __name__ == "__main__":
    sys.exit(main())
