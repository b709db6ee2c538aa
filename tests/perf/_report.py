"""The `make bench` report: every figure with the reference it was measured against in the same run.

Benchmarks call `figure(...)` once per measured figure; at the end of the pytest session `conftest.py` writes
bench/report.json and bench/report.md from the rows of this run (bench/rows.jsonl, started empty each session),
together with the machine: cores, torch threads, torch version, and the fp32 GEMM rate measured at start.

A row states what was measured (`ours`), against what (`reference`, `reference_name`), their ratio, the target as
text and whether it was met. Nothing here asserts a time: `met` is reported, never asserted.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(os.environ.get("ACULA_BENCH_DIR", ROOT / "bench"))
ROWS = BENCH_DIR / "rows.jsonl"


@dataclass
class Figure:
    """One measured figure.

    Attributes:
        name: short id, e.g. "extract/opera-ct/clips_per_s".
        ours: our measurement, in `unit`.
        unit: e.g. "s", "clips/s", "MB", "GFLOP/s", "x".
        reference: the reference measured in the same run (same unit), or None for an absolute figure.
        reference_name: what the reference is (e.g. "upstream-style per-clip pipeline, batch 1").
        ratio: the figure the target is about (e.g. reference_s / ours_s for a speed-up); None if not a ratio.
        target: the target as text, e.g. ">= 5x" or "<= 60% of full fine-tuning".
        met: whether the target is met (None when there is no target).
        note: anything needed to read the figure (threads, batch, size).
    """

    name: str
    ours: float
    unit: str
    reference: float | None = None
    reference_name: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)


def figure(name: str, ours: float, unit: str, *, reference: float | None = None, reference_name: str = "",
           ratio: float | None = None, target: str = "", met: bool | None = None, note: str = "", **extra) -> Figure:
    """Record one figure for this session's report (appends a row to bench/rows.jsonl) and print it."""
    row = Figure(name, float(ours), unit, None if reference is None else float(reference), reference_name,
                 None if ratio is None else float(ratio), target, met, note, extra)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    with open(ROWS, "a") as fh:
        fh.write(json.dumps(asdict(row)) + "\n")
    ref = f" vs {reference_name} {reference:.4g} {unit}" if reference is not None else ""
    rat = f" -> {ratio:.3g}" if ratio is not None else ""
    tgt = f" [target {target}: {'met' if met else 'MISSED'}]" if target else ""
    print(f"\n[bench] {name}: {ours:.4g} {unit}{ref}{rat}{tgt}", flush=True)
    return row


def gemm_gflops(threads: int, n: int = 1024, repeats: int = 8) -> float:
    """fp32 GEMM rate in GFLOP/s with `threads` torch threads: best of `repeats` n x n x n matmuls."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(old)
    return 2 * n ** 3 / best / 1e9


def machine() -> dict:
    """What the figures were measured on: cores, threads, versions, measured fp32 GEMM rate (1 thread and all)."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    flags = ""
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags"))
    except (OSError, StopIteration):
        pass
    return {"cpu": platform.processor() or platform.machine(), "cores_available": cores,
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version(),
            "avx512_bf16": "avx512_bf16" in flags, "amx_bf16": "amx_bf16" in flags,
            "gemm_gflops_1_thread": round(gemm_gflops(1), 1), "gemm_gflops_all_threads": round(gemm_gflops(cores), 1),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(OpenMP default)"),
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}


def read_rows() -> list[dict]:
    """This session's rows, in the order they were recorded."""
    if not ROWS.exists():
        return []
    return [json.loads(line) for line in ROWS.read_text().splitlines() if line.strip()]


def render_md(report: dict) -> str:
    """bench/report.md: the machine, then one table row per figure."""
    m = report["machine"]
    lines = ["# acula-zoo benchmark report", "",
             f"Machine: {m['cores_available']} cores, torch {m['torch']} ({m['torch_threads']} threads), "
             f"fp32 GEMM {m['gemm_gflops_1_thread']} GFLOP/s on 1 thread, {m['gemm_gflops_all_threads']} on all; "
             f"AVX-512 BF16 {'yes' if m['avx512_bf16'] else 'no'}, AMX {'yes' if m['amx_bf16'] else 'no'}; "
             f"OMP_WAIT_POLICY {m.get('omp_wait_policy')}; load average at start {m['load_average']}.", "",
             f"Targets met: {report['met']} of {report['with_target']}.", "",
             "| figure | ours | reference | ratio | target | met | note |", "|---|---|---|---|---|---|---|"]
    for r in report["figures"]:
        ref = f"{r['reference']:.4g} {r['unit']} ({r['reference_name']})" if r["reference"] is not None else ""
        ratio = f"{r['ratio']:.3g}" if r["ratio"] is not None else ""
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        lines.append(f"| {r['name']} | {r['ours']:.4g} {r['unit']} | {ref} | {ratio} | {r['target']} | {met} | "
                     f"{r['note']} |")
    return "\n".join(lines) + "\n"


def write_report(machine_info: dict, started: float) -> dict:
    """Write bench/report.json and bench/report.md from this session's rows; returns the report."""
    from adapters._io import write_json, write_text

    rows = read_rows()
    report = {"machine": machine_info, "wall_s": round(time.time() - started, 1), "figures": rows,
              "with_target": sum(r["met"] is not None for r in rows), "met": sum(bool(r["met"]) for r in rows)}
    write_json(BENCH_DIR / "report.json", report)
    write_text(BENCH_DIR / "report.md", render_md(report))
    return report
