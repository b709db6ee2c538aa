"""Alignment under torchrun: two CPU processes (gloo) follow the single-process loss curve.

Both runs see the same global batches (DistributedSampler over one seeded permutation); the two processes
all-gather the projections so the batch-level CKA is computed on the whole batch, draw the masked-frame masks
for the global batch, and weight their mfd terms by their share of masked frames: with head and LoRA dropout
off, the curves agree up to float rounding.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf

SCRIPT = textwrap.dedent('''
    import json, sys
    from benchmark_tasks import _registry
    from benchmark_tasks._spec import Item, TaskSpec
    from align.config import AlignConfig
    from align.train import train

    manifest, out, cache = sys.argv[1:4]
    task = TaskSpec(id="ddp-align-wheeze", name="ddp", dataset="ddp-align", modality="lung", kind="binary",
                    metric="auroc", labels=("absent", "present"))
    items = [Item(**row) for row in json.load(open(manifest))]
    _registry._discover()
    _registry._TASKS[task.id] = task
    _registry._READERS[task.dataset] = lambda t, ctx: items
    train(AlignConfig(encoder="opera-gt", tiny=True, tasks=task.id, out=out, cache_dir=cache, steps=3,
                      batch_size=4, grad_accum=2, lr=1e-3, warmup_steps=1, head_dropout=0.0, lora_dropout=0.0,
                      head_hidden=32, head_out=16, checkpoint_every=0, val_split="", progress=False))
''')


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp_align")
    rows = []
    for i in range(10):
        rng = np.random.default_rng(i)
        t = np.arange(16000) / 16000
        wav = rng.normal(0, 0.05, 16000) + (0.2 * np.sin(2 * np.pi * 400 * t) if i % 2 else 0.0)
        sf.write(root / f"w{i}.wav", wav.astype(np.float32), 16000)
        rows.append({"path": str(root / f"w{i}.wav"), "label": i % 2, "split": "train", "group": f"s{i}",
                     "metadata": {"wheeze": "yes" if i % 2 else "no", "age": 20 + 5 * i}})
    (root / "items.json").write_text(json.dumps(rows))
    (root / "run.py").write_text(SCRIPT)
    return root


def _run(root, name: str, torchrun: bool) -> list[dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"] if torchrun \
        else [sys.executable]
    cmd = [*launcher, str(root / "run.py"), str(root / "items.json"), str(root / name), str(root / "cache")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in (root / name / "train_log.jsonl").read_text().splitlines()]


def test_two_processes_match_one(setup):
    single = _run(setup, "single", torchrun=False)
    double = _run(setup, "ddp", torchrun=True)
    assert [h["step"] for h in double] == [1, 2, 3]
    for a, b in zip(single, double, strict=True):
        assert b["align"] == pytest.approx(a["align"], abs=5e-4)  # (a large lr amplifies rounding differences)
        assert b["ssl"] == pytest.approx(a["ssl"], abs=5e-4)
        assert b["lr"] == pytest.approx(a["lr"])
    info = json.loads((setup / "ddp" / "align_config.json").read_text())
    assert info["optimisation"]["processes"] == 2 and info["data"]["items"] == 10
    assert not list((setup / "ddp").glob(".*.tmp"))  # rank 0 alone wrote, nothing half-written left
