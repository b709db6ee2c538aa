"""Embedding extraction with a content-addressed cache.

One `.npy` per (encoder identity, preprocessing, pipeline code, audio content): the key is
sha256(encoder.identity() + Preprocess.params() + pipeline_version(encoder)) as the folder, and the sha256 of the
audio file's bytes as the name. `pipeline_version` hashes the source of every first-party module between the
audio file and the embedding (adapters._code_version), so a fix to a padding rule or a front end that keeps all
parameters the same still invalidates old entries. Every file is written under a
temporary name and renamed, so a killed run leaves only whole entries and the next run resumes with the items
that are missing. Items whose audio cannot be read are collected with their reason, never dropped silently.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adapters._audio import load_audio
from adapters._code_version import code_version
from adapters._errors import AudioReadError
from adapters._inference import embed_clips
from adapters._io import atomic_path, write_json
from benchmark_tasks.preprocess import Preprocess


class ExtractionFailed(AudioReadError):
    """Some files could not be read and on_error is "fail"; `errors` lists every one of them."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        first = errors[0]
        super().__init__(first["path"], f"{first['reason']} ({len(errors)} unreadable file(s) in all; fix or "
                                        f"remove them, or rerun with --on-error skip to leave them out)")


@dataclass
class ExtractionResult:
    """embeddings: [N_ok, D] float32 for `ok_items` (task order kept); errors: [{"path", "reason"}];
    computed / cached: how many items were encoded now vs read from the cache."""

    embeddings: np.ndarray
    ok_items: list
    errors: list[dict] = field(default_factory=list)
    computed: int = 0
    cached: int = 0


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def pipeline_version(encoder) -> str:
    """16-hex version of the code from audio file to cached embedding for `encoder` (recorded in results)."""
    return code_version(type(encoder).__module__, "adapters._inference", "benchmark_tasks.preprocess", __name__)


def cache_namespace(encoder, prep: Preprocess) -> str:
    """16-hex digest of what, besides the audio bytes, determines an embedding."""
    blob = json.dumps({"encoder": encoder.identity(), "prep": prep.params(), "code": pipeline_version(encoder)},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _shard(items: list, rank: int, world: int) -> list[int]:
    return [i for i in range(len(items)) if i % world == rank]


def _dist_info() -> tuple[int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def extract_embeddings(encoder, items: list, cache_dir: str | Path, prep: Preprocess | None = None,
                       batch_size: int = 16, on_error: str = "fail", progress: bool = True,
                       desc: str = "embedding") -> ExtractionResult:
    """Embed every item's audio, reading finished items from the cache.

    Args:
        encoder: AudioEncoder in eval mode.
        items: benchmark Items (only .path is used).
        cache_dir: cache root; entries live in cache_dir/<namespace>/<aa>/<sha256>.npy.
        prep: task preprocessing applied after resampling to the encoder's rate.
        on_error: "fail" raises AudioReadError listing every bad file (after embedding the good ones, so their
            work is kept); "skip" leaves bad items out of the result and lists them in `errors`.
    Under torchrun (WORLD_SIZE > 1) each rank embeds its shard of the missing items; all ranks then wait at a
    barrier and read the complete set from the cache.
    """
    from tqdm.auto import tqdm

    prep = prep or Preprocess()
    root = Path(cache_dir) / cache_namespace(encoder, prep)
    sr = encoder.spec.sample_rate
    errors: list[dict] = []
    keys: list[str | None] = []
    for it in items:
        try:
            keys.append(file_sha256(it.path))
        except OSError as exc:
            keys.append(None)
            errors.append({"path": str(it.path), "reason": f"cannot read file: {exc.strerror or exc}"})

    def entry(k: str) -> Path:
        return root / k[:2] / f"{k}.npy"

    rank, world = _dist_info()
    # shard over all items, not over the missing ones: other ranks may already be writing entries, so the
    # missing set differs between ranks, while item indices do not
    mine = _shard(items, rank, world) if world > 1 else range(len(items))
    todo = [i for i in mine if keys[i] is not None and not entry(keys[i]).exists()]
    computed = 0
    bar = tqdm(total=len(todo), desc=desc, unit="clip", disable=not progress or not todo, leave=False)
    for start in range(0, len(todo), batch_size):
        batch_idx, clips = [], []
        for i in todo[start:start + batch_size]:
            try:
                clips.append(prep.apply(load_audio(items[i].path, sr), sr))
                batch_idx.append(i)
            except AudioReadError as exc:
                errors.append({"path": exc.path, "reason": exc.reason})
                keys[i] = None
        if clips:
            emb = embed_clips(encoder, clips, batch_size=batch_size, windowing=prep.windowing)
            if not np.isfinite(emb).all():
                bad = [items[i].path for i, row in zip(batch_idx, emb) if not np.isfinite(row).all()]
                raise FloatingPointError(f"{encoder.spec.name} produced NaN/inf embeddings for {bad}")
            for i, row in zip(batch_idx, emb):
                with atomic_path(entry(keys[i])) as tmp:
                    with open(tmp, "wb") as fh:
                        np.save(fh, row)
            computed += len(clips)
        bar.update(len(todo[start:start + batch_size]))
    bar.close()
    if world > 1:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()
        # other ranks' failures are only known from the audio itself: re-check missing entries
        for i, k in enumerate(keys):
            if k is not None and not entry(k).exists():
                errors.append({"path": str(items[i].path), "reason": "not embedded by any rank"})
                keys[i] = None
    if errors and on_error == "fail":
        raise ExtractionFailed(errors)
    ok = [i for i, k in enumerate(keys) if k is not None]
    emb = np.stack([np.load(entry(keys[i])) for i in ok]) if ok else np.zeros((0, encoder.out_dim))
    return ExtractionResult(emb.astype(np.float32), [items[i] for i in ok], errors, computed,
                            len(ok) - computed)


def write_error_report(path: str | Path, errors: list[dict]) -> None:
    """Write the per-file failures as JSON (written even when empty, so a clean run is visible)."""
    write_json(path, {"n_errors": len(errors), "errors": errors})
