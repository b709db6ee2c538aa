"""Training checkpoints that let an interrupted alignment run continue exactly where it stopped.

A checkpoint (`OUT/checkpoints/step-0000200.pt`, written atomically by rank 0) holds the trainable weights (LoRA
or full encoder, heads, loss parameters), the AdamW and LR-scheduler states, the step counters (which fix the data
order: batches are a pure function of seed, epoch and position), every process's RNG states (torch, CUDA, numpy,
random), the loss history and a fingerprint of the settings that shape the run. Resuming with other settings is
refused. Everything is stored as tensors and plain containers, so loading uses `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

import numpy as np
import torch

from adapters._errors import UserError
from adapters._io import atomic_path

FORMAT = 1
# AlignConfig fields that may change between a run and its resumption (they do not change the result).
RESUME_FREE = ("resume", "progress", "num_workers", "checkpoint_every", "keep_checkpoints", "out", "device",
               "cache_audio", "cache_dir")
_NAME = re.compile(r"step-(\d+)\.pt$")


def config_fingerprint(config: dict) -> str:
    """sha256 (16 hex) of the config fields that determine the trained adapter."""
    shaping = {k: v for k, v in sorted(config.items()) if k not in RESUME_FREE}
    return hashlib.sha256(json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()[:16]


def rng_state() -> dict:
    """This process's RNG states as tensors and plain values."""
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": {"key": np_state[0], "state": torch.from_numpy(np_state[1].astype(np.int64)),
                       "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "gauss": float(np_state[4])}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    version, inner, gauss = state["python"]
    random.setstate((version, tuple(inner), gauss))
    n = state["numpy"]
    np.random.set_state((n["key"], n["state"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_dir(out_dir: str | Path) -> Path:
    return Path(out_dir) / "checkpoints"


def list_checkpoints(out_dir: str | Path) -> list[Path]:
    """Checkpoints of a run, oldest first."""
    folder = checkpoint_dir(out_dir)
    found = [(int(m.group(1)), p) for p in folder.glob("step-*.pt") if (m := _NAME.search(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    found = list_checkpoints(out_dir)
    return found[-1] if found else None


def save_checkpoint(out_dir: str | Path, step: int, payload: dict, keep: int = 2) -> Path:
    """Write `payload` (plus the format version) as step-NNNNNNN.pt atomically; keep the newest `keep` files."""
    path = checkpoint_dir(out_dir) / f"step-{step:07d}.pt"
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **payload}, tmp)
    for old in list_checkpoints(out_dir)[:-max(1, keep)]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path, fingerprint: str) -> dict:
    """Read a checkpoint and check that it was written by a run with the same shaping settings.

    Raises:
        ValueError: unreadable file, other format, or a different config fingerprint.
    """
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointUnreadable(f"{path}: not a readable alignment checkpoint ({exc}); delete it to resume "
                                   f"from an earlier one") from exc
    if payload.get("format") != FORMAT:
        raise ValueError(f"{path}: checkpoint format {payload.get('format')} != {FORMAT}")
    if payload.get("fingerprint") != fingerprint:
        raise ValueError(f"{path}: written by a run with other settings (fingerprint {payload.get('fingerprint')} "
                         f"vs {fingerprint}); resume with the run's train_config.json (--config) or start a new "
                         f"--out. Only {', '.join(RESUME_FREE)} may change on --resume")
    return payload


class CheckpointUnreadable(UserError, ValueError):
    """A checkpoint file that cannot be read (truncated by a kill, disk full, garbage)."""


def load_latest_valid(out_dir: str | Path, fingerprint: str, say=print) -> tuple[Path | None, dict | None]:
    """The newest readable checkpoint of a run and its payload, falling back past unreadable ones (saying so).

    Returns (None, None) when there is no readable checkpoint. A readable checkpoint of other settings is still
    an error (ValueError from `load_checkpoint`): falling back past it would silently mix two runs.
    """
    for path in reversed(list_checkpoints(out_dir)):
        try:
            return path, load_checkpoint(path, fingerprint)
        except CheckpointUnreadable as exc:
            say(f"{path} is unreadable ({exc.__cause__ or exc}); falling back to the previous checkpoint",
                flush=True)
    return None, None
