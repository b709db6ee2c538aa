"""Where each timestamp embedding sits in time: the frame grids of encoders whose `frames` are a regular grid.

HEAR 2021's `get_timestamp_embeddings` returns embeddings with their centres in milliseconds; hearvalidator
(github hearbenchmark/hear-validator 8c2cb84, hearvalidator/validate.py `_check_timestamp_embeddings`) refuses
spacings that deviate by more than 1 ms from their mean and a last timestamp after the end of the audio.

An encoder's `frames(wav)` -> [B, T, D] is usable as timestamp embeddings only when frame i covers the same
stretch of the clip for every clip length. That holds for the encoders listed in `frame_grid`; the others pad
short clips into a fixed window (OPERA-GT, HeAR, CLAP), stretch them to a fixed length (OPERA-CT) or cut long
clips into overlapping windows, so their frames have no single time axis, and plugin.hear embeds windows around
regularly spaced timestamps instead (`window_timestamps`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrameGrid:
    """Frame i of `frames` is centred at `first_ms + i * hop_ms` from the start of the clip, for any length.

    hop_ms, first_ms: milliseconds. drop_last: trailing frames of `frames` that are not on the grid (dropped).
    """

    hop_ms: float
    first_ms: float
    drop_last: int = 0

    def times(self, n_frames: int) -> np.ndarray:
        """[n_frames] float64 centres in ms (computed from the index, so nothing accumulates)."""
        return self.first_ms + self.hop_ms * np.arange(n_frames, dtype=np.float64)


def frame_grid(encoder) -> FrameGrid | None:
    """The frame grid of a built encoder, or None when its frames have no single time axis (see module doc).

    - logmel-stats: torchaudio MelSpectrogram with center=True: frame i is centred on sample i * hop.
    - opensmile-egemaps / opensmile-compare: openSMILE's LLD frames start every 10 ms and last 20 ms (eGeMAPSv02)
      or 60 ms (ComParE_2016), as the start/end index opensmile.Smile.process_signal returns says
      (tests/unit/test_plugin_hear.py compares with that index). ComParE_2016's output ends with one more row
      at the start time of the row before it (opensmile 2.6, every length tried): that row is dropped.
    - beats: Kaldi fbank frames of 25 ms every 10 ms without edge padding (snip_edges, frame k spans
      [10k, 10k + 25) ms), grouped by the patch embedding into time patches of `input_patch_size` frames:
      patch j spans fbank frames j*P .. j*P + P - 1, so its centre is 10 (j P + (P - 1) / 2) + 12.5 ms.
    """
    name = encoder.spec.name
    sr = encoder.spec.sample_rate
    if name == "logmel-stats":
        return FrameGrid(hop_ms=1000.0 * encoder.config["hop"] / sr, first_ms=0.0)
    if name == "opensmile-egemaps":
        return FrameGrid(hop_ms=10.0, first_ms=10.0)
    if name == "opensmile-compare":
        return FrameGrid(hop_ms=10.0, first_ms=30.0, drop_last=1)
    if name == "beats":
        from adapters.beats import FRAME_LENGTH_MS, FRAME_SHIFT_MS

        patch = encoder.config["input_patch_size"]
        return FrameGrid(hop_ms=FRAME_SHIFT_MS * patch,
                         first_ms=FRAME_SHIFT_MS * (patch - 1) / 2 + FRAME_LENGTH_MS / 2)
    return None


def window_timestamps(n_samples: int, sample_rate: int, hop_ms: float) -> np.ndarray:
    """Timestamps 0, hop, 2 hop, ... up to the clip's duration, [K] float64 ms (K >= 1)."""
    duration_ms = 1000.0 * n_samples / sample_rate
    return hop_ms * np.arange(int(np.floor(duration_ms / hop_ms + 1e-9)) + 1, dtype=np.float64)


def window_bounds(centre_ms: float, window_seconds: float, n_samples: int, sample_rate: int) -> tuple[int, int]:
    """(start, end) samples of the window of `window_seconds` centred at `centre_ms`, cut to the clip [0, S)."""
    centre = centre_ms * sample_rate / 1000.0
    half = window_seconds * sample_rate / 2.0
    start = min(max(0, int(round(centre - half))), n_samples - 1)
    end = min(n_samples, int(round(centre + half)))
    return start, max(end, start + 1)
