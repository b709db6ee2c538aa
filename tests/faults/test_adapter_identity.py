"""Fault suite: an adapter's identity comes from its content, not from the order a writer happened to use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from adapters._checkpoint import save_safetensors
from align.aligned import adapter_sha256

ROOT = Path(__file__).resolve().parents[2]


def _adapter(folder: Path, targets: list[str], scale: float = 1.0, order=("b", "a")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {"peft_type": "LORA", "r": 8, "target_modules": targets, "lora_alpha": 16}
    (folder / "adapter_config.json").write_text(json.dumps(config))
    tensors = {"a": torch.arange(6.0).reshape(2, 3) * scale, "b": torch.ones(3)}
    save_safetensors({k: tensors[k] for k in order}, folder / "adapter_model.safetensors")
    return folder


def test_same_weights_and_settings_in_another_order_give_the_same_identity(tmp_path):
    one = _adapter(tmp_path / "one", ["attn.qkv", "mlp.fc1", "attn.proj"])
    two = _adapter(tmp_path / "two", ["mlp.fc1", "attn.proj", "attn.qkv"], order=("a", "b"))
    assert adapter_sha256(one) == adapter_sha256(two)
    assert adapter_sha256(_adapter(tmp_path / "three", ["attn.qkv"], scale=2.0)) != adapter_sha256(one)
    assert adapter_sha256(_adapter(tmp_path / "four", ["attn.qkv", "mlp.fc2", "attn.proj"])) != adapter_sha256(one)


def test_peft_save_under_different_hash_seeds_gives_one_identity(tmp_path):
    """The measured defect: peft writes target_modules in set order, which follows PYTHONHASHSEED."""
    code = ("import sys, torch; from adapters import build_encoder; from align.lora import apply_lora; "
            "from align.aligned import adapter_sha256; torch.manual_seed(0); "
            "enc = build_encoder('opera-gt', config='tiny'); m = apply_lora(enc, 4, 8.0, 0.0); "
            "m.save_pretrained(sys.argv[1]); print(adapter_sha256(sys.argv[1]))")
    shas = []
    for seed in ("1", "2", "3"):
        out = tmp_path / f"seed{seed}"
        res = subprocess.run([sys.executable, "-c", code, str(out)], cwd=ROOT, capture_output=True, text=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        shas.append(res.stdout.strip().splitlines()[-1])
    assert len(set(shas)) == 1
