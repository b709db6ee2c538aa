"""OPERA's task-level preprocessing, in one place, applied before each encoder's own length policy.

Upstream: github evelyn0414/OPERA, commit 3622310. `src/benchmark/model_util.py::extract_opera_feature` reads
each file through `src/util.py::get_entire_signal_librosa` (OPERA-CT/CE) or `get_split_signal_librosa`
(OPERA-GT), which load 16 kHz mono, trim leading/trailing silence (`librosa.effects.trim`, top_db 60, frame 1600,
hop 800) and bring a clip shorter than the task's `input_sec` to exactly int(input_sec * 16000) samples:

- "repeat" (`_duplicate_padding`): it calls `random.seed(7456)` on every call, so its `random.random()` is
  always 0.0618 < 0.5 and the branch is fixed: the clip goes at the **end** and the front is filled with the
  last samples of the clip doubled until long enough, i.e. out[i] = clip[(i - (L - n)) mod n]. Deterministic,
  independent of item order (`pad_front_repeat`).
- "zeros" (`_zero_padding`, via `_equally_slice_pad_sample`, used for OPERA-CT on MMlung, `pad0=True`): a clip
  shorter than half the target is copied forward while a whole copy still ends before the target (so a target
  that is an exact multiple of the clip gets one copy fewer than fits), the rest zeros; a clip of at least half
  the target is copied once (`pad_zeros_opera`).

A clip at least `input_sec` long is used whole. OPERA-GT's windowing (`Windowing`) travels with the
preprocessing so that one object says everything a task does to a clip before the model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from adapters._spec import Windowing

PAD_MODES = ("repeat", "zeros")


@dataclass(frozen=True)
class Preprocess:
    """Task preprocessing.

    trim_top_db: trim silence quieter than this many dB below the clip's peak at both ends (None = no trim).
        A clip that is silent throughout is kept whole (upstream would hang padding an empty clip).
    pad_seconds: a clip shorter than this is padded to int(pad_seconds * sample_rate) samples (None = leave the
        length to the encoder's policy).
    pad_mode: "repeat" (OPERA's `_duplicate_padding`: clip at the end, front filled from the clip's end) or
        "zeros" (OPERA's `_zero_padding`).
    windowing: how a windowed encoder (OPERA-GT) cuts the clip for this task (None = the encoder's default).
    """

    trim_top_db: float | None = None
    pad_seconds: float | None = None
    pad_mode: str = "repeat"
    windowing: Windowing | None = None

    def __post_init__(self) -> None:
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"Preprocess pad_mode {self.pad_mode!r} is not one of {PAD_MODES}")

    def params(self) -> dict:
        return asdict(self)

    def apply(self, wav: np.ndarray, sample_rate: int) -> np.ndarray:
        """[S] float32 at `sample_rate` -> [S'] float32 (trimmed, then padded)."""
        wav = np.asarray(wav, dtype=np.float32)
        if self.trim_top_db is not None:
            from adapters._opera_frontend import trim_silence

            trimmed = trim_silence(wav, top_db=self.trim_top_db)
            wav = trimmed if len(trimmed) else wav
        # upstream: `librosa.get_duration(y) < input_sec`, then a target of int(input_sec * sr) samples
        if self.pad_seconds is not None and len(wav) and len(wav) / sample_rate < self.pad_seconds:
            n = int(self.pad_seconds * sample_rate)
            if len(wav) < n:
                wav = pad_front_repeat(wav, n) if self.pad_mode == "repeat" else pad_zeros_opera(wav, n)
        return wav


def pad_front_repeat(wav: np.ndarray, n: int) -> np.ndarray:
    """[S] -> [n] (S <= n): OPERA's `_duplicate_padding`: out[n - S:] = wav, out[i] = wav[(i - (n - S)) mod S]."""
    import torch

    from adapters._opera_frontend import repeat_pad_front  # the one implementation of the rule (OPERA-GT's too)

    clip = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))[None]
    return repeat_pad_front(clip, n)[0].numpy()


def pad_zeros_opera(wav: np.ndarray, n: int) -> np.ndarray:
    """[S] -> [n] (S < n): OPERA's `_zero_padding`.

    S / n < 0.5: copies of the clip from the start at k * S for every k with (k + 1) * S < n (strictly), zeros
    after. Otherwise one copy, zeros after.
    """
    s = len(wav)
    out = np.zeros(n, dtype=np.float32)
    if s == 0:
        return out
    copies = max(1, -(-(n - s) // s)) if s / n < 0.5 else 1   # number of k >= 0 with k * s + s < n
    out[: copies * s] = np.tile(np.asarray(wav, dtype=np.float32), copies)
    return out


def preprocess_for(task, family: str) -> Preprocess:
    """The Preprocess a task asks of an encoder family.

    Trimming: task.options["trim_top_db"], default 60 dB for OPERA tasks (as OPERA does) and none otherwise.
    Padding: task.seconds_for(family) with task.options["pad_mode"][family] (default "repeat").
    Windowing: task.windowing.get(family) (None = the encoder's default).
    """
    trim = task.options.get("trim_top_db", 60.0 if task.options.get("suite") == "opera" else None)
    mode = (task.options.get("pad_mode") or {}).get(family, "repeat")
    return Preprocess(trim_top_db=trim, pad_seconds=task.seconds_for(family), pad_mode=mode,
                      windowing=task.windowing.get(family))


OPERA_FAMILIES = ("opera-ct", "opera-ce", "opera-gt")
# extract_opera_feature's default input_sec (8) for CT/CE; the processing scripts' 8.18 s windows for GT
_OPERA_DEFAULT_SECONDS = {"opera-ct": 8.0, "opera-ce": 8.0, "opera-gt": 8.18}


def host_preprocess(family: str, task_id: str | None = None) -> Preprocess | None:
    """The OPERA preprocessing a host benchmark (EVAR, HEAR-style) applies for an OPERA-family encoder.

    task_id: an acula-zoo task whose preprocessing to use (`preprocess_for`); None gives OPERA's defaults
        (60 dB trim, front repeat padding to 8 s for CT/CE and 8.18 s for GT). Other families get None.
    """
    if task_id:
        from benchmark_tasks import get_task

        return preprocess_for(get_task(task_id), family)
    if family not in OPERA_FAMILIES:
        return None
    return Preprocess(trim_top_db=60.0, pad_seconds=_OPERA_DEFAULT_SECONDS[family], pad_mode="repeat")
