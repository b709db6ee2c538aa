"""Measure each encoder's extraction throughput per forward-pass size, to choose `EncoderSpec.sub_batch` (a script).

Usage (from the repository root):

    python tests/perf/measure_sub_batch.py                      # all encoders, all available threads
    python tests/perf/measure_sub_batch.py --encoders clap opera-ct --threads 1 --rounds 3

Per encoder (official size, random weights; `profile_extract.native_batch` noise clips at the native length), one
user batch of BATCH clips is embedded with `adapters._inference.embed_in_sub_batches` at each sub-batch size of
SUB_BATCHES (front end + model, as `embed_clips` runs them). The sizes are interleaved within each round and the best
of `--rounds` rounds is kept, so a burst of load on the shared machine hits every size alike. Printed: clips/s per
size, each as a ratio to the whole batch in one pass, the best size, and the size the encoder's spec declares.

Choice rule: the fastest size; when it is within TIE of the whole-batch pass, no sub-batch (None) is declared.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]

import torch  # noqa: E402
from profile_extract import NATIVE_SECONDS, native_batch  # noqa: E402
from test_bench_extract import _official  # noqa: E402

BATCH = 16
SUB_BATCHES = (1, 2, 4, 8, 16)
TIE = 0.03   # a sub-batch must beat the whole batch by more than 3% to be declared


def throughput(encoder, wav: torch.Tensor, rounds: int) -> dict[int, float]:
    """{sub-batch size: best clips/s over `rounds` interleaved rounds} for one batch `wav` [BATCH, S]."""
    from adapters._inference import embed_in_sub_batches

    best = {s: 0.0 for s in SUB_BATCHES}
    with torch.inference_mode():
        embed_in_sub_batches(encoder, wav[:2], None, 1)            # warm-up
        for r in range(rounds):
            order = SUB_BATCHES if r % 2 == 0 else SUB_BATCHES[::-1]
            for size in order:
                t0 = time.perf_counter()
                embed_in_sub_batches(encoder, wav, None, size)
                best[size] = max(best[size], wav.shape[0] / (time.perf_counter() - t0))
    return best


def choose(rates: dict[int, float]) -> int | None:
    """The declared sub-batch for measured `rates`: the fastest size, None when it is within TIE of BATCH."""
    fastest = max(rates, key=rates.get)
    return None if fastest == BATCH or rates[fastest] <= rates[BATCH] * (1 + TIE) else fastest


def main(argv: list[str] | None = None) -> dict[str, dict[int, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoders", nargs="*", default=sorted(NATIVE_SECONDS), choices=sorted(NATIVE_SECONDS))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all available CPUs)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds, best kept (default 2)")
    args = parser.parse_args(argv)
    threads = args.threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    torch.set_num_threads(threads)
    print(f"clips/s of one {BATCH}-clip batch by forward-pass size; {threads} thread(s), best of {args.rounds} "
          f"interleaved rounds; ratio to sub-batch {BATCH} in brackets")
    print("| encoder | " + " | ".join(f"sub {s}" for s in SUB_BATCHES) + " | best | chosen | declared |")
    print("|---|" + "---|" * (len(SUB_BATCHES) + 3))
    results = {}
    for name in args.encoders:
        encoder = _official(name)
        rates = throughput(encoder, native_batch(encoder, BATCH), args.rounds)
        results[name] = rates
        cells = " | ".join(f"{rates[s]:.2f} ({rates[s] / rates[BATCH]:.2f})" for s in SUB_BATCHES)
        print(f"| {name} | {cells} | {max(rates, key=rates.get)} | {choose(rates)} | {encoder.spec.sub_batch} |",
              flush=True)
    return results


if __name__ == "__main__":
    main()
