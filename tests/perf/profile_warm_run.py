"""Profile a no-op warm re-run of evaluate.py: where its start-up time goes (cProfile and `python -X importtime`).

    python tests/perf/profile_warm_run.py [--encoder logmel-stats] [--tasks demo] [--top 25] [--cache DIR]
                                          [--reference-root OTHER_CHECKOUT]

Runs once to fill the cache (already warm when --cache holds one), then times plain warm runs interleaved with a
bare interpreter start, `import torch` (the floor any run that builds an encoder pays) and, with
--reference-root, the same warm run from another checkout (e.g. the main branch, on its own cache), one warm run
under cProfile (top entries by cumulative time) and one under -X importtime (slowest imports, inclusive), each
into a new out folder. Prints only; the benchmark figure is tests/perf/test_bench_frontend.py's.
"""

from __future__ import annotations

import argparse
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def evaluate_argv(args, out: Path) -> list[str]:
    return ["evaluate.py", "--encoder", args.encoder, "--tasks", args.tasks, "--out", str(out), "--no-progress"]


def run(python_flags: list[str], argv: list[str], env: dict, cwd: Path = ROOT) -> tuple[float, str]:
    """(wall seconds, stderr) of `python FLAGS ARGV` in `cwd` (default: this repository's root)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, *python_flags, *argv], cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if done.returncode:
        sys.exit(f"failed ({done.returncode}): {' '.join(argv)}\n{done.stderr[-2000:]}")
    return took, done.stderr


def slowest_imports(stderr: str, top: int) -> list[tuple[int, str]]:
    """(inclusive microseconds, module) of the `top` slowest top-level imports in -X importtime output."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if cumulative.strip().isdigit() and not name.startswith("  "):   # nested imports are indented further
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:top]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--encoder", default="logmel-stats")
    p.add_argument("--tasks", default="demo")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--repeats", type=int, default=3, help="plain warm runs timed (the best is printed)")
    p.add_argument("--cache", type=Path, help="ACULA_ZOO_CACHE to use (default: a new temporary folder)")
    p.add_argument("--reference-root", type=Path, help="another checkout whose warm run is timed alongside")
    args = p.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="acula-warm-"))
    cache = args.cache or work / "cache"
    env = {**os.environ, "ACULA_ZOO_CACHE": str(cache)}
    fill_s, _ = run([], evaluate_argv(args, work / "fill"), env)
    print(f"fill run ({cache}; cold unless --cache held a filled one): {fill_s:.2f} s")
    ref = args.reference_root.resolve() if args.reference_root else None
    ref_env = {**env, "ACULA_ZOO_CACHE": str(work / "reference-cache")}
    if ref:
        print(f"reference fill run ({ref}): {run([], evaluate_argv(args, work / 'ref-fill'), ref_env, ref)[0]:.2f} s")
    warm, ref_warm, floor = [], [], {"python -c pass": [], "python -c 'import torch'": []}
    for i in range(args.repeats):   # interleaved, so that the machine's load touches all alike
        warm.append(run([], evaluate_argv(args, work / f"warm{i}"), env)[0])
        if ref:
            ref_warm.append(run([], evaluate_argv(args, work / f"ref-warm{i}"), ref_env, ref)[0])
        floor["python -c pass"].append(run(["-c", "pass"], [], env)[0])
        floor["python -c 'import torch'"].append(run(["-c", "import torch"], [], env)[0])
    print(f"warm runs: {', '.join(f'{s:.2f}' for s in warm)} s (best {min(warm):.2f} s)")
    if ref:
        print(f"reference warm runs ({ref}): {', '.join(f'{s:.2f}' for s in ref_warm)} s (best "
              f"{min(ref_warm):.2f} s): ratio reference / ours {min(ref_warm) / min(warm):.2f}x")
    for what, times in floor.items():   # the encoder and the embedding cache's reader import torch
        print(f"{what}: best {min(times):.2f} s")

    profile = work / "warm.prof"
    run(["-m", "cProfile", "-o", str(profile)], evaluate_argv(args, work / "profiled"), env)
    print(f"\n== cProfile of one warm run, top {args.top} by cumulative time ==")
    pstats.Stats(str(profile)).sort_stats("cumulative").print_stats(args.top)

    _, stderr = run(["-X", "importtime"], evaluate_argv(args, work / "imports"), env)
    print(f"== -X importtime of one warm run: the {args.top} slowest top-level imports (inclusive) ==")
    for micro, name in slowest_imports(stderr, args.top):
        print(f"{micro / 1e6:8.3f} s  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
