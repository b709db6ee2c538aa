"""Benchmark (not run in CI; `make bench`): what bf16 extraction changes in the scores (issue 12, item 2).

`python evaluate.py --encoder E --tiny --tasks demo --precision fp32|bf16` on one cache (the demo data generated
once, each precision its own embeddings), the demo tasks' default probe: per task the test AUROC under bf16 minus
under fp32. Reported: the largest |difference| and the mean difference over the 8 tasks, per encoder. The relative
embedding difference per encoder at official size is in test_bench_extract.py (`bf16_speedup` rows). Nothing is
asserted but that both runs scored the same tasks and that bf16 embeddings were computed apart from fp32's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _report import figure

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("encoder", ["opera-gt", "beats"])
def test_bf16_auroc_change_on_demo(encoder, tmp_path):
    env = {**os.environ, "ACULA_ZOO_CACHE": str(tmp_path / "cache")}

    def scores(precision: str) -> dict[str, dict]:
        out = tmp_path / precision
        run = subprocess.run([sys.executable, "evaluate.py", "--encoder", encoder, "--tiny", "--tasks", "demo",
                              "--precision", precision, "--out", str(out), "--no-progress"], cwd=ROOT, env=env,
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-3000:]
        return {r["task"]: r for r in (json.loads(p.read_text()) for p in (out / "records").glob("*.json"))}

    fp32, bf16 = scores("fp32"), scores("bf16")
    assert sorted(fp32) == sorted(bf16) and len(fp32) == 8
    # the demo tasks share recordings, so a later task reads what an earlier one embedded: count over the run
    assert sum(r["timings"]["computed"] for r in bf16.values()) > 0      # not read from the fp32 entries
    assert {r["precision"] for r in bf16.values()} == {"bf16"}
    diff = {t: bf16[t]["mean"] - fp32[t]["mean"] for t in sorted(fp32)}
    worst = max(abs(d) for d in diff.values())
    figure(f"bf16/{encoder}-tiny/demo_auroc_change", worst, "AUROC",
           note=f"max |AUROC bf16 - fp32| over the 8 demo tasks (default probe); mean difference "
                f"{np.mean(list(diff.values())):+.4f}; per task "
                + ", ".join(f"{t.removeprefix('demo-')} {d:+.3f}" for t, d in diff.items()),
           mean_change=float(np.mean(list(diff.values()))))
