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
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adapters._audio import audio_warnings, read_audio, resample
from adapters._code_version import code_version
from adapters._errors import AudioReadError
from adapters._inference import embed_clips, precision_context
from adapters._io import atomic_path, write_json
from benchmark_tasks.cache_entry import SUFFIX, CorruptEntry, decode_entry, encode_entry
from benchmark_tasks.prefetch import Prefetch
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
    computed / cached: how many items were encoded now vs read from the cache; warnings: [{"path", "warning"}]
    for files that were used but look wrong (all zeros, a truncated wav); repaired: cache entries found corrupt
    and recomputed [{"entry", "path", "reason"}]; precision: the encoder's compute precision ("fp32", "bf16")."""

    embeddings: np.ndarray
    ok_items: list
    errors: list[dict] = field(default_factory=list)
    computed: int = 0
    cached: int = 0
    warnings: list[dict] = field(default_factory=list)
    repaired: list[dict] = field(default_factory=list)
    precision: str = "fp32"


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_or_none(path: str | Path, sha=file_sha256) -> str | None:
    """`sha(path)` (default: file_sha256, the cache key), or None when the file cannot be read: callers that only
    compare contents leave unreadable files to the extraction, which reports them as --on-error says."""
    try:
        return sha(path)
    except OSError:
        return None


def pipeline_version(encoder) -> str:
    """16-hex version of the code from audio file to cached embedding for `encoder` (recorded in results)."""
    return code_version(type(encoder).__module__, "adapters._inference", "benchmark_tasks.preprocess", __name__)


def cache_namespace(encoder, prep: Preprocess, precision: str = "fp32") -> str:
    """16-hex digest of what, besides the audio bytes, determines an embedding (the compute precision is part of
    it when it is not fp32, so fp32 entries keep their key)."""
    key = {"encoder": encoder.identity(), "prep": prep.params(), "code": pipeline_version(encoder)}
    if precision != "fp32":
        key["precision"] = precision
    blob = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _shard(items: list, rank: int, world: int) -> list[int]:
    return [i for i in range(len(items)) if i % world == rank]


def _dist_info() -> tuple[int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def extract_embeddings(encoder, items: list, cache_dir: str | Path, prep: Preprocess | None = None,
                       batch_size: int = 16, on_error: str = "fail", progress: bool = True,
                       desc: str = "embedding", precision: str = "fp32") -> ExtractionResult:
    """Embed every item's audio, reading finished items from the cache.

    Args:
        encoder: AudioEncoder in eval mode.
        items: benchmark Items (only .path is used).
        cache_dir: cache root; entries live in cache_dir/<namespace>/<aa>/<sha256>.emb (benchmark_tasks.cache_entry:
            checksummed and bound to their key; a truncated, garbage or altered entry is reported and recomputed).
        prep: task preprocessing applied after resampling to the encoder's rate (a native-rate encoder,
            `encoder.native_rate`, takes each file at its own rate: clips are grouped by rate and each group goes
            to `encoder.at_rate(rate)`).
        on_error: "fail" raises AudioReadError listing every bad file (after embedding the good ones, so their
            work is kept); "skip" leaves bad items out of the result and lists them in `errors`. Files the encoder
            itself fails on (e.g. out of memory) count as bad files too.
        precision: "fp32" or "bf16" (adapters._inference.embed_clips under bfloat16 autocast; its own cache key).
    Under torchrun (WORLD_SIZE > 1) each rank embeds its shard of the missing items; all ranks then wait at a
    barrier and read the complete set from the cache.
    """
    from tqdm.auto import tqdm

    prep = prep or Preprocess()
    precision_context(precision, "cpu")  # refuses an unknown precision before any work
    namespace = cache_namespace(encoder, prep, precision)
    root = Path(cache_dir) / namespace
    errors: list[dict] = []
    warnings: list[dict] = []
    keys: list[str | None] = []
    for it in items:
        try:
            keys.append(file_sha256(it.path))
        except OSError as exc:
            keys.append(None)
            errors.append({"path": str(it.path), "reason": f"cannot read file: {exc.strerror or exc}"})

    def entry(k: str) -> Path:
        return root / k[:2] / f"{k}{SUFFIX}"

    vectors: dict[int, np.ndarray] = {}
    repaired: list[dict] = []

    def read_entry(i: int) -> bool:
        """Load item i's entry into `vectors`; False when it is missing or corrupt (a corrupt one is noted)."""
        path = entry(keys[i])
        if not path.exists():
            return False
        try:
            vectors[i], found = decode_entry(path, namespace, keys[i])
            warnings.extend({"path": str(items[i].path), "warning": w} for w in found)
            return True
        except (CorruptEntry, OSError) as exc:
            reason = getattr(exc, "reason", str(exc))
            repaired.append({"entry": str(path), "path": str(items[i].path), "reason": reason})
            print(f"cache entry {path} is corrupt ({repaired[-1]['reason']}); recomputing {items[i].path}",
                  file=sys.stderr, flush=True)
            return False

    rank, world = _dist_info()
    # shard over all items, not over the missing ones: other ranks may already be writing entries, so the
    # missing set differs between ranks, while item indices do not
    mine = _shard(items, rank, world) if world > 1 else range(len(items))
    todo = [i for i in mine if keys[i] is not None and not read_entry(i)]
    computed = 0
    bar = tqdm(total=len(todo), desc=desc, unit="clip", disable=not progress or not todo, leave=False)
    batches = [todo[start:start + batch_size] for start in range(0, len(todo), batch_size)]
    # batch k+1 is read, resampled and preprocessed in a background thread while the model runs batch k; the
    # thread's lazy imports are done here first, so the two threads never import one package at the same time
    _import_decode_path()
    with Prefetch(lambda batch: _decode_batch(encoder, items, batch, prep), batches) as decoded:
        for batch, audio in zip(batches, decoded):
            errors.extend(audio.errors)
            for i in audio.unreadable:
                keys[i] = None
            for i, row in _embed_decoded(encoder, audio, batch_size, prep, items, errors, precision):
                if row is None:
                    keys[i] = None
                    continue
                with atomic_path(entry(keys[i])) as tmp:
                    tmp.write_bytes(encode_entry(namespace, keys[i], row, audio.warnings[i]))
                vectors[i] = row
                warnings.extend({"path": str(items[i].path), "warning": w} for w in audio.warnings[i])
                computed += 1
            del audio                  # its waveforms go before the thread decodes the batch after the next
            bar.update(len(batch))
    bar.close()
    if world > 1:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()
        # other ranks' entries (and failures, known only from the audio) are read from the cache
        for i, k in enumerate(keys):
            if k is not None and i not in vectors and not read_entry(i):
                errors.append({"path": str(items[i].path), "reason": "not embedded by any rank"})
                keys[i] = None
    if errors and on_error == "fail":
        raise ExtractionFailed(errors)
    ok = [i for i, k in enumerate(keys) if k is not None]
    emb = np.stack([vectors[i] for i in ok]) if ok else np.zeros((0, encoder.out_dim))
    return ExtractionResult(emb.astype(np.float32), [items[i] for i in ok], errors, computed,
                            len(ok) - computed, warnings, repaired, precision)


@dataclass
class DecodedBatch:
    """One batch of items read and made ready for the encoder (built in the prefetch thread).

    by_rate: {rate Hz: (item indices, [S_i] float32 clips after `prep`)}, one rate unless the encoder is native-rate;
    errors: [{"path", "reason"}] of the items that could not be read, in item order; unreadable: their indices;
    warnings: {item index: [warning]} for the items read."""

    by_rate: dict[int, tuple[list[int], list[np.ndarray]]] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    unreadable: list[int] = field(default_factory=list)
    warnings: dict[int, list[str]] = field(default_factory=dict)


def _import_decode_path() -> None:
    """Import, in the calling thread, every module `_decode_batch` imports lazily: soundfile (read_audio),
    torchaudio.transforms (resample) and adapters._opera_frontend (Preprocess.apply: trim, repeat padding).

    `_decode_batch` runs in the prefetch thread while the encoder runs in the caller, which may import parts of
    the same packages lazily (BEATs: torchaudio.compliance.kaldi). Two threads importing submodules of one package
    whose submodules import each other can see it partially initialised (seen: "cannot import name 'GriffinLim'
    from partially initialized module 'torchaudio.transforms'"), so these imports are done before the thread
    starts.
    """
    import soundfile  # noqa: F401
    import torchaudio  # noqa: F401
    import torchaudio.transforms  # noqa: F401

    import adapters._opera_frontend  # noqa: F401


def _decode_batch(encoder, items: list, batch: list[int], prep: Preprocess) -> DecodedBatch:
    """Read, resample to the encoder's decode rate and apply `prep` to items[i] for i in `batch`.

    The encoder's own length policy (`encoder.prepare`) is left to embed_clips: it is a crop or a pad, cheap, and
    embed_clips applies it in any case."""
    out = DecodedBatch()
    for i in batch:
        try:
            wav, file_rate = read_audio(items[i].path)
            rate = encoder.decode_rate(file_rate)
            wav = resample(wav, file_rate, rate)
            out.warnings[i] = audio_warnings(items[i].path, wav)
            idx, clips = out.by_rate.setdefault(rate, ([], []))
            clips.append(prep.apply(wav, rate))
            idx.append(i)
        except AudioReadError as exc:
            out.errors.append({"path": exc.path, "reason": exc.reason})
            out.unreadable.append(i)
    return out


def _embed_decoded(encoder, audio: DecodedBatch, batch_size: int, prep: Preprocess, items: list,
                   errors: list[dict], precision: str):
    """Yield (item index, [D] vector or None) for every clip of a decoded batch, rate group by rate group."""
    for rate, (idx, clips) in audio.by_rate.items():
        yield from _embed_or_report(encoder.at_rate(rate), idx, clips, batch_size, prep, items, errors, precision)


def _embed_or_report(encoder, idx: list[int], clips: list, batch_size: int, prep: Preprocess, items: list,
                     errors: list[dict], precision: str = "fp32"):
    """Yield (item index, [D] vector or None) for a batch; when the batch fails, each clip is retried alone and
    the ones the encoder still fails on are reported in `errors` (vector None)."""
    if not clips:
        return
    try:
        emb = embed_clips(encoder, clips, batch_size=batch_size, windowing=prep.windowing, precision=precision)
        rows = list(emb)
    except (RuntimeError, ValueError, MemoryError) as exc:
        if len(clips) == 1:
            errors.append({"path": str(items[idx[0]].path), "reason": f"the encoder failed on this file: "
                                                                      f"{_one_line(exc)}"})
            yield idx[0], None
            return
        for i, clip in zip(idx, clips):
            yield from _embed_or_report(encoder, [i], [clip], batch_size, prep, items, errors, precision)
        return
    for i, row in zip(idx, rows):
        if not np.isfinite(row).all():
            errors.append({"path": str(items[i].path),
                           "reason": f"{encoder.spec.name} produced NaN/inf embeddings for this file"})
            yield i, None
        else:
            yield i, row


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def write_error_report(path: str | Path, errors: list[dict], warnings: list[dict] = (),
                       repaired: list[dict] = ()) -> None:
    """Write the per-file failures, warnings and repaired cache entries as JSON (written even when empty, so a
    clean run is visible)."""
    write_json(path, {"n_errors": len(errors), "errors": errors, "n_warnings": len(warnings),
                      "warnings": list(warnings), "repaired_cache_entries": list(repaired)})
