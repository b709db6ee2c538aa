"""Extraction sharded across two processes under torchrun fills the same cache a single process would."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]


def test_two_ranks_share_the_work_and_rank0_writes_the_same_record(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["path,label,group"]
    for i in range(24):
        sf.write(tmp_path / f"a{i}.wav", 0.1 * rng.standard_normal(4000) * (1 + i % 2), 16000)
        rows.append(f"a{i}.wav,{i % 2},g{i}")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    common = ["--encoder", "logmel-stats", "--tasks", f"csv:{tmp_path / 'm.csv'}", "--seeds", "1",
              "--probe", "logreg", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
           str(ROOT / "evaluate.py"), *common, "--out", str(tmp_path / "ddp"), "--cache-dir", str(tmp_path / "c1")]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    entries = list((tmp_path / "c1" / "embeddings").rglob("*.emb"))
    assert len(entries) == 24
    records = list((tmp_path / "ddp" / "records").glob("*.json"))
    assert len(records) == 1
    single = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), *common, "--out", str(tmp_path / "one"),
                             "--cache-dir", str(tmp_path / "c2")], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    a = json.loads(records[0].read_text())
    b = json.loads(next((tmp_path / "one" / "records").glob("*.json")).read_text())
    assert a["scores"] == b["scores"] and a["split_fingerprint"] == b["split_fingerprint"]
