"""Profile one encoder's extraction forward at official size (a script, not a test; issue 12 item 7).

Usage (from the repository root):

    python tests/perf/profile_extract.py --encoder opera-ct --batch 8
    python tests/perf/profile_extract.py --encoder clap --batch 8 --threads 1 --top 25
    git archive 40325f2 | tar -x -C /tmp/old && python tests/perf/profile_extract.py --encoder clap --code /tmp/old

The encoder is built at its official size with random weights (as tests/perf/test_bench_extract.py builds it) and
fed one batch of B noise clips at its native length (NATIVE_SECONDS, at the encoder's sample rate). For each thread
count (1 and all available CPUs, or the `--threads` given) the batch runs as `embed_clips` runs it (passes of the
encoder's declared `spec.sub_batch`), and the script prints:

* the top entries of torch.profiler's table sorted by self CPU time (one profiled call after a warm-up call);
* the model's FLOPs over that batch (torch.utils.flop_counter.FlopCounterMode, front end included: it is a few
  per cent of the FLOPs at most) and the achieved GFLOP/s = FLOPs / seconds inside the model's modules (best of
  `--repeats` unprofiled calls, front end excluded as in test_bench_extract's `_ModelClock`);
* that rate as a share of the fp32 1024^3 GEMM rate measured just before at the same thread count
  (tests/perf/_report.py `gemm_gflops`): the "share of the GEMM bound" of issue 12 (target >= 0.70).

Timings on a shared machine are noisy; compare shares printed by one run, not across runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _report import gemm_gflops  # noqa: E402
from test_bench_extract import _ModelClock, _official  # noqa: E402

# Seconds of one clip at which each encoder is normally run (its training length / OPERA's usual input_sec).
NATIVE_SECONDS = {"hear": 2.0, "beats": 10.0, "clap": 10.0, "opera-ct": 8.0, "opera-gt": 8.18, "opera-ce": 8.0}


def embed_in_sub_batches(encoder, wav: torch.Tensor) -> torch.Tensor:
    """What `adapters._inference.embed_clips` runs for one batch: passes of the encoder's `spec.sub_batch` (one
    pass with code older than sub-batching)."""
    try:
        from adapters._inference import embed_in_sub_batches as run
    except ImportError:
        return encoder.embed_windowed(wav, None)
    return run(encoder, wav)


def native_batch(encoder, batch: int, seed: int = 0) -> torch.Tensor:
    """[batch, S] noise clips (std 0.1) of the encoder's native length after its `prepare`."""
    rng = np.random.default_rng(seed)
    n = int(round(NATIVE_SECONDS[encoder.spec.name] * encoder.spec.sample_rate))
    clips = [encoder.prepare((0.1 * rng.standard_normal(n)).astype(np.float32)) for _ in range(batch)]
    return torch.from_numpy(np.stack(clips))


def model_seconds(encoder, wav: torch.Tensor, repeats: int) -> float:
    """Best of `repeats` calls of seconds spent inside the model's modules (front end excluded) for `wav`."""
    best = float("inf")
    for _ in range(repeats):
        clock = _ModelClock(encoder)
        try:
            with torch.inference_mode():
                embed_in_sub_batches(encoder, wav)
        finally:
            clock.close()
        best = min(best, clock.seconds)
    return best


def flop_counter():
    """torch.utils.flop_counter.FlopCounterMode that also counts fused attention on CPU.

    torch (2.11) has FLOP formulas for the CUDA fused-attention kernels but none for
    `aten._scaled_dot_product_flash_attention_for_cpu`, the kernel F.scaled_dot_product_attention runs on CPU, so a
    plain FlopCounterMode counts 0 FLOPs for it while still counting attention computed with explicit matmuls. The
    same formula as for the CUDA kernels is registered for it here (2 * b * h * s_q * s_k * (d_q + d_v)).
    """
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_flash_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    return FlopCounterMode(display=False,
                           custom_mapping={torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: cpu_flash_flops})


def forward_flops(encoder, wav: torch.Tensor) -> int:
    """FLOPs of one `embed_windowed` call over `wav` (matmuls, convolutions, attention)."""
    with torch.inference_mode(), flop_counter() as counter:
        embed_in_sub_batches(encoder, wav)
    return counter.get_total_flops()


def profile_table(encoder, wav: torch.Tensor, top: int) -> str:
    """torch.profiler table of one `embed_windowed` call, `top` rows by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:
        embed_in_sub_batches(encoder, wav)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top)


def report(name: str, batch: int, threads: int, top: int, repeats: int) -> dict:
    """Profile `name` at `threads` threads; print the table and the GEMM share; return the figures."""
    torch.set_num_threads(threads)
    encoder = _official(name)
    wav = native_batch(encoder, batch)
    with torch.inference_mode():
        embed_in_sub_batches(encoder, wav)                     # warm-up: kernels, caches, lazily built buffers
    gemm = gemm_gflops(threads)
    flops = forward_flops(encoder, wav)
    t0 = time.perf_counter()
    seconds = model_seconds(encoder, wav, repeats)
    wall = time.perf_counter() - t0
    achieved = flops / seconds / 1e9
    import adapters

    passes = getattr(encoder.spec, "sub_batch", None) or batch
    print(f"\n=== {name}: batch {batch} x {NATIVE_SECONDS[name]:g} s in passes of {min(passes, batch)}, "
          f"{threads} thread(s), code {Path(adapters.__file__).parents[1]} ===")
    print(profile_table(encoder, wav, top))
    print(f"{name} threads={threads} batch={batch}: {flops / 1e9:.1f} GFLOP per batch, model {seconds:.3f} s "
          f"(best of {repeats}, {wall:.1f} s wall) -> {achieved:.1f} GFLOP/s; fp32 GEMM {gemm:.1f} GFLOP/s; "
          f"share {achieved / gemm:.2f}", flush=True)
    return {"encoder": name, "threads": threads, "batch": batch, "gflop": flops / 1e9, "model_s": seconds,
            "gflops": achieved, "gemm_gflops": gemm, "share": achieved / gemm}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", required=True, choices=sorted(NATIVE_SECONDS))
    parser.add_argument("--batch", type=int, default=8, help="clips in the profiled batch (default 8)")
    parser.add_argument("--threads", type=int, nargs="*", default=None,
                        help="thread counts to profile (default: 1 and all available CPUs)")
    parser.add_argument("--top", type=int, default=15, help="rows of the profiler table (default 15)")
    parser.add_argument("--repeats", type=int, default=2, help="timed calls for the GFLOP/s figure (best of)")
    parser.add_argument("--code", default=None,
                        help="import the encoders from this checkout instead (e.g. a `git archive` of an older "
                             "revision, for before/after figures from the same script)")
    args = parser.parse_args(argv)
    if args.code:
        sys.path.insert(0, str(Path(args.code).resolve()))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = args.threads or sorted({1, cores})
    return [report(args.encoder, args.batch, t, args.top, args.repeats) for t in threads]


if __name__ == "__main__":
    main()
