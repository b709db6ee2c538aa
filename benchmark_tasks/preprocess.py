"""OPERA's task-level preprocessing, in one place, applied before each encoder's own length policy.

OPERA (src/benchmark/model_util.py, extract_opera_feature) loads 16 kHz mono, trims leading/trailing silence
(librosa.effects.trim, top_db 60, frame 1600, hop 800) and pads clips shorter than the task's input length by
repetition. Upstream places the repeated copy at a random offset drawn from random.seed(7456); we tile the clip
from its start, which is deterministic and independent of item order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from adapters._audio import repeat_to


@dataclass(frozen=True)
class Preprocess:
    """Task preprocessing.

    trim_top_db: trim silence quieter than this many dB below the clip's peak at both ends (None = no trim).
    pad_seconds: pad clips shorter than this (None = leave the length to the encoder's policy).
    pad_mode: "repeat" (tile the clip) or "zeros" (OPERA's `_zero_padding` for CT on MMlung: as many whole
        copies as fit, then zeros).
    """

    trim_top_db: float | None = None
    pad_seconds: float | None = None
    pad_mode: str = "repeat"

    def params(self) -> dict:
        return asdict(self)

    def apply(self, wav: np.ndarray, sample_rate: int) -> np.ndarray:
        """[S] float32 at `sample_rate` -> [S'] float32 (trimmed, then padded)."""
        if self.trim_top_db is not None:
            from adapters._opera_frontend import trim_silence

            trimmed = trim_silence(wav, top_db=self.trim_top_db)
            wav = trimmed if len(trimmed) else wav
        if self.pad_seconds is not None:
            n = int(round(self.pad_seconds * sample_rate))
            if len(wav) < n:
                wav = repeat_to(wav, n) if self.pad_mode == "repeat" else zero_pad_whole_copies(wav, n)
        return wav


def zero_pad_whole_copies(wav: np.ndarray, n: int) -> np.ndarray:
    """[S] -> [n]: floor(n / S) whole copies of the clip from the start, zeros after (S < n)."""
    out = np.zeros(n, dtype=np.float32)
    if len(wav):
        tiled = np.tile(wav, n // len(wav))
        out[: len(tiled)] = tiled
    return out


def preprocess_for(task, family: str) -> Preprocess:
    """The Preprocess a task asks of an encoder family.

    Trimming: task.options["trim_top_db"], default 60 dB for OPERA tasks (as OPERA does) and none otherwise.
    Padding: task.seconds_for(family) with task.options["pad_mode"][family] (default "repeat").
    """
    trim = task.options.get("trim_top_db", 60.0 if task.options.get("suite") == "opera" else None)
    mode = (task.options.get("pad_mode") or {}).get(family, "repeat")
    return Preprocess(trim_top_db=trim, pad_seconds=task.seconds_for(family), pad_mode=mode)
