"""Run an encoder over clips of any length: length policy, equal-length batching, no-grad inference, and the
generic segmentation of clips longer than an encoder's `max_seconds`."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
from torch import Tensor

from adapters._audio import stack_clips


def segment_bounds(n_samples: int, max_samples: int | None, min_tail_samples: int) -> list[tuple[int, int]]:
    """Where a clip of `n_samples` is cut for an encoder that takes at most `max_samples` per forward pass.

    Consecutive segments of `max_samples` from the start; the last one is the remainder. A remainder shorter than
    `min_tail_samples` would be a degenerate input (below the encoder's minimum, or too short to say anything), so
    it is merged into the segment before it, which then holds up to max_samples + min_tail_samples - 1 samples.
    Nothing is dropped and nothing overlaps.

    Returns:
        [(start, end)] sample ranges covering [0, n_samples); one range (0, n_samples) when the clip fits (or
        `max_samples` is None).
    """
    if max_samples is None or n_samples <= max_samples:
        return [(0, n_samples)]
    starts = list(range(0, n_samples, max_samples))
    if n_samples - starts[-1] < min_tail_samples:
        starts.pop()
    return [(a, b) for a, b in zip(starts, starts[1:] + [n_samples])]


def run_in_groups(n: int, step: int, fn) -> Tensor:
    """`torch.cat([fn(range(i, min(i + step, n))) for i in range(0, n, step)])`, each group's [g, ...] result
    copied into one [n, ...] tensor as soon as it is computed.

    Used to run the windows/crops/segments of a long clip a bounded group at a time. Collecting the small results
    in a list instead would leave long-lived small allocations between the large, short-lived activations of
    successive groups, and glibc's heap then keeps growing although nothing live grows (measured on OPERA-GT at
    official size: about +16 MB of RSS per group of 16 windows, a 2.3 GB peak for 1 h against 1.2 GB for 1 min).
    """
    out = None
    for i in range(0, n, step):
        rows = range(i, min(i + step, n))
        part = fn(rows)
        if out is None:
            out = part.new_empty((n, *part.shape[1:]))
        out[i:i + len(rows)] = part
        del part
    return out


def _batch(clips: list[np.ndarray]) -> torch.Tensor:
    """[B, S] tensor of equal-length clips; a single clip is wrapped without a copy (a long recording is the
    largest thing in memory, so it is not duplicated)."""
    if len(clips) == 1:
        return torch.from_numpy(np.ascontiguousarray(clips[0], dtype=np.float32))[None]
    return stack_clips(clips)


PRECISIONS = ("fp32", "bf16")


def precision_context(precision: str, device):
    """The autocast context of an extraction precision: "fp32" none, "bf16" torch.autocast(bfloat16) on the
    encoder's device type (CPU or CUDA).

    Raises:
        ValueError: an unknown precision (names the allowed ones).
    """
    from contextlib import nullcontext

    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def sub_batch_size(encoder, batch: int) -> int:
    """Clips per forward pass for a batch of `batch` clips: the encoder's `spec.sub_batch`, capped at `batch`
    (the whole batch when the spec declares none)."""
    declared = getattr(encoder.spec, "sub_batch", None)
    return batch if declared is None else max(1, min(int(declared), batch))


def embed_in_sub_batches(encoder, wav: Tensor, windowing=None, sub_batch: int | None = None) -> Tensor:
    """`encoder.embed_windowed(wav, windowing)` computed `sub_batch` clips at a time (default: the encoder's
    `spec.sub_batch`). [B, S] -> [B, D]. Encoders embed each clip on its own, so the result is the same as one
    pass; only the size of the activations (and so their cache behaviour) changes."""
    step = sub_batch_size(encoder, wav.shape[0]) if sub_batch is None else max(1, int(sub_batch))
    if step >= wav.shape[0]:
        return encoder.embed_windowed(wav, windowing)
    return run_in_groups(wav.shape[0], step, lambda rows: encoder.embed_windowed(wav[rows.start:rows.stop], windowing))


def embed_clips(encoder, clips: list[np.ndarray], batch_size: int = 16, windowing=None,
                precision: str = "fp32") -> np.ndarray:
    """Clip embeddings for raw clips.

    Args:
        encoder: an AudioEncoder in eval mode.
        clips: list of [S_i] float32 in [-1, 1] at encoder.spec.sample_rate (any lengths).
        batch_size: clips stacked at once; clips are grouped by their length after `prepare`, so a batch never
            mixes lengths and no padding changes an embedding. Each batch runs through the model in passes of the
            encoder's `spec.sub_batch` clips (`embed_in_sub_batches`). Clips longer than the encoder's `max_seconds` are
            windowed by the encoder's protocol or cut into segments (`AudioEncoder.embed_windowed`).
        windowing: a task's adapters._spec.Windowing for windowed encoders (None = the encoder's default).
        precision: "fp32", or "bf16" to run the encoder under torch.autocast(bfloat16) (matmuls and convolutions
            in bfloat16, reductions and the returned embedding in float32).
    Returns:
        [N, D] float32, row i for clips[i].
    """
    autocast = precision_context(precision, encoder.device)
    prepared = [encoder.prepare(c) for c in clips]
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(prepared):
        by_length[len(c)].append(i)
    out: list[np.ndarray | None] = [None] * len(clips)
    with torch.inference_mode(), autocast:
        for idx in by_length.values():
            for start in range(0, len(idx), batch_size):
                chunk = idx[start:start + batch_size]
                wav = _batch([prepared[i] for i in chunk]).to(encoder.device)
                emb = embed_in_sub_batches(encoder, wav, windowing).float().cpu().numpy()
                for row, i in enumerate(chunk):
                    out[i] = emb[row]
    return np.stack(out).astype(np.float32, copy=False) if out else np.zeros((0, encoder.out_dim),
                                                                                np.float32)
