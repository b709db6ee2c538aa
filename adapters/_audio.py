"""Audio input in one place: read, down-mix, resample, scale, and fit to an encoder's length policy.

Everything an encoder receives passes through here, so every encoder sees the same
`[S] float32 in [-1, 1]` waveform at its own `spec.sample_rate`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from adapters._errors import AudioReadError

MIN_SAMPLE_RATE = 1000   # Hz; the slowest body-sound recordings (old heart-sound sets) are 2 kHz


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read an audio file (wav, flac, ogg, anything libsndfile reads) without resampling.

    Returns:
        (wav, sample_rate): wav is [S] float32 in [-1, 1], channels averaged to mono.
    Raises:
        AudioReadError: missing, unreadable, non-audio, empty, or non-finite content.
    """
    import soundfile as sf

    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise AudioReadError(path, f"dangling symbolic link (to {path.readlink()}); fix or remove the link")
    if not path.exists():
        raise AudioReadError(path, "file does not exist; check the path in your manifest or --data-root")
    if path.is_dir():
        raise AudioReadError(path, "is a directory, not an audio file; point the manifest at a file")
    if path.stat().st_size == 0:
        raise AudioReadError(path, "file is empty (0 bytes); re-download or remove it from the task")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile raises its own error types for every kind of unreadable input
        raise AudioReadError(path, f"not readable as audio ({exc}); convert it to wav/flac/ogg") from exc
    if data.shape[0] == 0:
        raise AudioReadError(path, "file holds no samples (0 frames)")
    if sr < MIN_SAMPLE_RATE:
        raise AudioReadError(path, f"sample rate {sr} Hz is below {MIN_SAMPLE_RATE} Hz, no body-sound recording is "
                                   f"that slow: the header is wrong or the file is not audio; re-export it")
    finite = np.isfinite(data)
    if not finite.all():
        bad = int((~finite).sum())
        raise AudioReadError(path, f"{bad} of {data.size} samples are NaN or infinite; the file is corrupt")
    wav = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.clip(wav, -1.0, 1.0).astype(np.float32, copy=False), int(sr)


def audio_warnings(path: str | Path, wav: np.ndarray) -> list[str]:
    """What looks wrong with a file that could still be read: all-zero samples, a wav whose header announces more
    audio than the file holds (cut off in transfer). [S] `wav` as read; returns one line per finding."""
    found = []
    if not np.any(wav):
        found.append("all samples are zero (a silent file): its embedding carries no information")
    declared = _wav_data_bytes(Path(path))
    if declared is not None and declared[0] > declared[1]:
        found.append(f"truncated wav: the header announces {declared[0]} bytes of audio, the file holds "
                     f"{declared[1]}; re-download or re-export it")
    return found


def _wav_data_bytes(path: Path) -> tuple[int, int] | None:
    """(bytes the RIFF 'data' chunk declares, bytes present after its header) of a wav file, else None."""
    import struct

    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            pos = 12
            while pos + 8 <= size:
                fh.seek(pos)
                chunk_id, chunk_size = struct.unpack("<4sI", fh.read(8))
                if chunk_id == b"data":
                    return chunk_size, size - pos - 8
                pos += 8 + chunk_size + (chunk_size & 1)
    except OSError:
        return None
    return None


def resample(wav: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling (torchaudio's windowed-sinc, its defaults). [S] -> [S * target/orig]."""
    if orig_sr == target_sr:
        return wav
    import torch

    with torch.inference_mode():
        out = _resampler(int(orig_sr), int(target_sr))(torch.from_numpy(np.ascontiguousarray(wav)))
    return out.numpy().astype(np.float32, copy=False)


@lru_cache(maxsize=16)
def _resampler(orig_sr: int, target_sr: int):
    """torchaudio's windowed-sinc resampler for one rate pair; its kernel (costly to build) is built once."""
    import torchaudio.transforms as AT

    g = math.gcd(orig_sr, target_sr)
    return AT.Resample(orig_sr // g, target_sr // g)


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read `path` and return [S] float32 mono in [-1, 1] at `sample_rate` Hz."""
    wav, sr = read_audio(path)
    return resample(wav, sr, sample_rate)


def repeat_to(wav: np.ndarray, n: int) -> np.ndarray:
    """Tile `wav` [S] until it has exactly `n` samples (a silent clip of zeros stays zeros)."""
    if len(wav) == 0:
        return np.zeros(n, dtype=np.float32)
    reps = -(-n // len(wav))
    return np.tile(wav, reps)[:n]


def fit_length(wav: np.ndarray, policy: str, n_samples: int | None, min_samples: int = 0) -> np.ndarray:
    """Apply an encoder's length policy to one clip.

    Args:
        wav: [S] float32.
        policy: "any", "pad_zeros", "pad_repeat", "crop" or "chunk" (see EncoderSpec).
        n_samples: the encoder's clip length in samples (None for "any"/"chunk" without a clip length).
        min_samples: clips shorter than this are first repeat-padded up to it.
    Returns:
        [S'] float32: exactly n_samples for pad_* policies; <= n_samples for "crop"; >= min for "any"/"chunk".
    Long clips are cropped from the start (deterministic), never at random.
    """
    wav = np.asarray(wav, dtype=np.float32)
    if policy == "pad_zeros":
        out = np.zeros(n_samples, dtype=np.float32)
        out[: min(len(wav), n_samples)] = wav[:n_samples]
        return out
    if policy == "pad_repeat":
        return repeat_to(wav, n_samples)
    if min_samples and len(wav) < min_samples:
        wav = repeat_to(wav, min_samples)
    if policy == "crop":
        return wav[:n_samples]
    if policy in ("any", "chunk"):
        return wav
    raise ValueError(f"unknown length policy {policy!r}")


def stack_clips(clips: list[np.ndarray]):
    """Stack equal-length clips into a [B, S] float32 tensor; clips of different length raise ValueError."""
    import torch

    lengths = {len(c) for c in clips}
    if len(lengths) != 1:
        raise ValueError(f"clips have different lengths {sorted(lengths)}; batch only clips of one length")
    return torch.from_numpy(np.stack(clips).astype(np.float32, copy=False))
