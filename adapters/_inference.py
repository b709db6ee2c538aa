"""Run an encoder over clips of any length: length policy, equal-length batching, no-grad inference."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from adapters._audio import stack_clips


def embed_clips(encoder, clips: list[np.ndarray], batch_size: int = 16, windowing=None) -> np.ndarray:
    """Clip embeddings for raw clips.

    Args:
        encoder: an AudioEncoder in eval mode.
        clips: list of [S_i] float32 in [-1, 1] at encoder.spec.sample_rate (any lengths).
        batch_size: clips per forward pass; clips are grouped by their length after `prepare`, so a batch never
            mixes lengths and no padding changes an embedding.
        windowing: a task's adapters._spec.Windowing for windowed encoders (None = the encoder's default).
    Returns:
        [N, D] float32, row i for clips[i].
    """
    prepared = [encoder.prepare(c) for c in clips]
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(prepared):
        by_length[len(c)].append(i)
    out: list[np.ndarray | None] = [None] * len(clips)
    with torch.inference_mode():
        for idx in by_length.values():
            for start in range(0, len(idx), batch_size):
                chunk = idx[start:start + batch_size]
                wav = stack_clips([prepared[i] for i in chunk]).to(encoder.device)
                emb = encoder.embed_windowed(wav, windowing).float().cpu().numpy()
                for row, i in enumerate(chunk):
                    out[i] = emb[row]
    return np.stack(out).astype(np.float32, copy=False) if out else np.zeros((0, encoder.out_dim),
                                                                                np.float32)
