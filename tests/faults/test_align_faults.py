"""Fault suite, alignment: a truncated newest checkpoint falls back to the previous one and ends exactly right."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from align.checkpointing import list_checkpoints
from align.config import AlignConfig
from align.train import train


class Killed(Exception):
    pass


def _manifest(root):
    rng = np.random.default_rng(0)
    rows = ["path,label,split,group,age,diagnosis"]
    for i in range(16):
        sf.write(root / f"c{i}.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
        split = "train" if i < 10 else "val" if i < 13 else "test"
        rows.append(f"c{i}.wav,{i % 2},{split},p{i},{40 + 3 * i},{'asthma' if i % 2 else 'healthy'}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root / "manifest.csv"


def _cfg(tmp_path, out: str, **kw) -> AlignConfig:
    return AlignConfig(encoder="opera-gt", tiny=True, tasks=f"csv:{tmp_path / 'manifest.csv'}", steps=4,
                       batch_size=4, grad_accum=1, warmup_steps=1, checkpoint_every=1, keep_checkpoints=2,
                       ssl="none", train_seconds=1.0, progress=False, out=str(tmp_path / out),
                       cache_dir=str(tmp_path / "cache"), **kw)


def test_truncated_newest_checkpoint_falls_back_and_resumes_exactly(tmp_path, capsys):
    _manifest(tmp_path)
    whole = train(_cfg(tmp_path, "whole"))

    def kill_after_three(step, terms):
        if step == 3:
            raise Killed

    with pytest.raises(Killed):
        train(_cfg(tmp_path, "killed"), on_step=kill_after_three)
    newest = list_checkpoints(tmp_path / "killed")[-1]
    assert newest.name == "step-0000003.pt"
    newest.write_bytes(newest.read_bytes()[:1000])                  # cut off by the kill
    resumed = train(_cfg(tmp_path, "killed", resume=True))
    out = capsys.readouterr().out
    assert f"{newest} is unreadable" in out and "resumed from" in out and "step-0000002.pt at step 2" in out
    info = [json.loads((d / "align_config.json").read_text()) for d in (whole, resumed)]
    assert info[0]["adapter_sha256"] == info[1]["adapter_sha256"]


def test_demo_alignment_made_with_other_settings_is_redone(tmp_path, capsys):
    from align.train import _drop_stale_demo_run

    cfg = _cfg(tmp_path, "demo")
    out = cfg.out_dir()
    out.mkdir()
    (out / "train_config.json").write_text(json.dumps({**cfg.to_dict(), "lr": 0.5, "out": str(out)}))
    _drop_stale_demo_run(cfg)
    assert not out.exists() and "aligning the demo anew" in capsys.readouterr().out
    out.mkdir()
    (out / "train_config.json").write_text(json.dumps({**cfg.to_dict(), "out": str(out)}))
    _drop_stale_demo_run(cfg)                                   # same settings: kept (it resumes)
    assert out.exists()
