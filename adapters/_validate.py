"""Behavioural checks of the encoder contract (in the spirit of hear-validator).

`validate_encoder(encoder)` runs each check and returns a list of CheckResult; `python evaluate.py --validate`
prints them. The test suite runs the same checks on every registered encoder's tiny configuration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from adapters._inference import embed_clips


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str


def _clip(seconds: float, sr: int, seed: int) -> np.ndarray:
    """A reproducible test clip: a chirp plus noise, [S] float32 in [-1, 1]."""
    n = max(1, int(round(seconds * sr)))
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    chirp = 0.3 * np.sin(2 * math.pi * (200 + 300 * t) * t)
    return (chirp + 0.05 * rng.standard_normal(n)).astype(np.float32)


def validate_encoder(encoder, atol: float = 1e-4) -> list[CheckResult]:
    """Run the contract checks on an encoder (tiny or official). Tolerance `atol` is relative to embedding scale."""
    spec = encoder.spec
    sr = spec.sample_rate
    base_seconds = spec.clip_seconds or 2.0
    results: list[CheckResult] = []

    def check(name, fn):
        try:
            ok, detail = fn()
        except Exception as exc:  # a check that crashes is a failed check, reported with its reason
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        results.append(CheckResult(name, bool(ok), detail))

    clips = [_clip(base_seconds, sr, s) for s in range(3)]

    def shapes():
        wav = torch.from_numpy(np.stack([encoder.prepare(c) for c in clips]))
        with torch.inference_mode():
            emb = encoder.embed(wav)
            fr = encoder.frames(wav)
        want_e, want_f = encoder.out_dim, encoder.out_frame_dim
        ok = (tuple(emb.shape) == (3, want_e) and fr.ndim == 3 and fr.shape[0] == 3
              and fr.shape[2] == want_f and emb.dtype == torch.float32 and bool(torch.isfinite(emb).all()))
        return ok, f"embed {tuple(emb.shape)} (want (3, {want_e})), frames {tuple(fr.shape)} (want D={want_f})"

    def determinism():
        a, b = embed_clips(encoder, clips), embed_clips(encoder, clips)
        d = float(np.abs(a - b).max())
        return d == 0.0, f"max |run1 - run2| = {d:.3g}"

    def batch_equals_singles():
        batch = embed_clips(encoder, clips, batch_size=3)
        single = np.concatenate([embed_clips(encoder, [c], batch_size=1) for c in clips])
        scale = float(np.abs(single).max()) or 1.0
        d = float(np.abs(batch - single).max())
        return d <= atol * scale, f"max |batch - singles| = {d:.3g} (scale {scale:.3g})"

    def very_short():
        e = embed_clips(encoder, [_clip(0.05, sr, 7)])
        return e.shape == (1, encoder.out_dim) and np.isfinite(e).all(), f"0.05 s clip -> {e.shape}"

    def max_seconds_declared():
        m = spec.max_seconds
        return m is not None, f"max_seconds {m} ({spec.long_clips})"

    def very_long():
        # longer than one forward pass, so that the segments or the encoder's own windows/crops are exercised
        seconds = max(60.0, 1.3 * (spec.max_seconds or 0.0))
        e = embed_clips(encoder, [_clip(seconds, sr, 8)])
        ok = e.shape == (1, encoder.out_dim) and np.isfinite(e).all()
        return ok, f"{seconds:g} s clip ({len(encoder.segments(int(seconds * sr)))} segment(s)) -> {e.shape}"

    def silence():
        e = embed_clips(encoder, [np.zeros(int(base_seconds * sr), np.float32)])
        return np.isfinite(e).all(), "all-zero clip gives finite embedding" if np.isfinite(e).all() else "NaN/inf"

    for name, fn in (("shapes", shapes), ("determinism", determinism), ("batch_equals_singles", batch_equals_singles),
                     ("very_short_clip", very_short), ("max_seconds_declared", max_seconds_declared),
                     ("very_long_clip", very_long), ("silence", silence)):
        check(name, fn)
    return results
