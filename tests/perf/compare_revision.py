"""Model time of one encoder in this working tree against a git revision, interleaved (a script, not a test).

Usage (from the repository root):

    python tests/perf/compare_revision.py --encoder opera-ct --base 40325f2 --batch 8 --threads 1 --rounds 3

The revision's tree is written to a temporary folder (`git archive`); each round runs one subprocess per side,
base first on even rounds and this tree first on odd ones, each importing `adapters` from its side's tree,
building the encoder at official size with random weights (`_official` of tests/perf/test_bench_extract.py),
embedding one `native_batch` of B clips once as a warm-up and then timing the model (front end excluded,
`_ModelClock`) best of two calls. Printed: the best
model seconds per side over all rounds, base / this tree as a speed-up, and the largest relative difference between
the two sides' embeddings (same weights, same clips). Rounds interleave so that load on a shared machine hits both
sides alike; still, read the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def worker(root: str, encoder: str, batch: int, threads: int, out: str) -> None:
    """In a fresh process: time `encoder` from the tree at `root`; print model seconds, save the embeddings."""
    import numpy as np
    import torch
    from profile_extract import _official, model_seconds, native_batch  # puts this tree first on sys.path

    sys.path.insert(0, root)          # ... so the encoder's code is imported after this, from `root`
    import adapters

    if Path(adapters.__file__).resolve().parents[1] != Path(root).resolve():
        raise RuntimeError(f"imported {adapters.__file__}, not the tree at {root}")
    torch.set_num_threads(threads)
    enc = _official(encoder)
    wav = native_batch(enc, batch)
    with torch.inference_mode():
        emb = enc.embed_windowed(wav, None).float().numpy()
    np.save(out, emb)
    print(model_seconds(enc, wav, 2))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--base", required=True, help="git revision to compare against (e.g. main)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.encoder, args.batch, args.threads, args.out)
        return {}
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        base_root = Path(tmp) / "base"
        base_root.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.base], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(base_root)], input=archive.stdout, check=True)
        roots = {"base": str(base_root), "this": str(ROOT)}
        best = {"base": float("inf"), "this": float("inf")}
        for r in range(args.rounds):
            for side in (("base", "this") if r % 2 == 0 else ("this", "base")):
                out = str(Path(tmp) / f"{side}.npy")
                run = subprocess.run([sys.executable, __file__, "--worker", roots[side], "--encoder", args.encoder,
                                      "--base", args.base, "--batch", str(args.batch), "--threads", str(args.threads),
                                      "--out", out], check=True, capture_output=True, text=True, cwd=roots[side])
                seconds = float(run.stdout.strip().splitlines()[-1])
                best[side] = min(best[side], seconds)
                print(f"round {r} {side}: model {seconds:.3f} s", flush=True)
        a, b = np.load(Path(tmp) / "base.npy"), np.load(Path(tmp) / "this.npy")
    rel = float((np.linalg.norm(a - b, axis=1) / np.linalg.norm(a, axis=1)).max())
    speedup = best["base"] / best["this"]
    print(f"{args.encoder} batch {args.batch}, {args.threads} thread(s): model {best['base']:.3f} s at {args.base} vs "
          f"{best['this']:.3f} s here (best of {args.rounds} rounds x 2) -> {speedup:.2f}x; embeddings max relative "
          f"difference {rel:.1e}")
    return {"base_s": best["base"], "this_s": best["this"], "speedup": speedup, "rel_diff": rel}


if __name__ == "__main__":
    main()
