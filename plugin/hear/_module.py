"""The HEAR 2021 API over any registered acula-zoo encoder: load_model, get_scene_embeddings,
get_timestamp_embeddings (hearbenchmark.com/hear-api.html; checked by github hearbenchmark/hear-validator 8c2cb84,
hearvalidator/validate.py).

`plugin.hear.<name>` (the registry name with "-" as "_": plugin.hear.opera_gt) binds these to one encoder.

load_model(model_file_path) rule: hearvalidator calls `load_model()` without arguments when `--model` is empty
and `load_model(path)` otherwise. A path is the encoder's checkpoint in its published format (or a file from
`python -m adapters convert`) and gives the official model. An empty path gives the official model for
weight-free encoders (openSMILE, log-mel statistics) and, with a warning, the tiny random-weight model for the
others (official weights are never downloaded): that model checks the API, its numbers mean nothing.

Scene embeddings are the clip embeddings `evaluate.py` scores (adapters._inference.embed_clips, after OPERA's
task preprocessing for OPERA-family encoders unless opera_preprocess=False). Timestamp embeddings:
- "frames" (encoders with a regular frame grid, plugin.hear._timing.frame_grid: logmel-stats 10 ms, openSMILE
  10 ms, BEATs 160 ms): the encoder's `frames` of the whole clip, each at its centre; frames centred after the
  end of the audio (openSMILE's and BEATs' padding of clips below their minimum length) are dropped.
- "windows" (the others, or when asked): timestamps every `hop_ms` (default 50 ms, hearvalidator's suggested
  maximum spacing) from 0 to the end of the audio; the embedding at t is the scene embedding of the audio within
  `window_seconds` / 2 of t (cut at the clip's ends). window_seconds defaults to the encoder's clip length
  (OPERA-GT 8.18 s, HeAR 2 s, CLAP 10 s) or OPERA's padding length (8 s for OPERA-CT/CE, a task's with
  opera_task). One forward pass per window: costly at official size; raise hop_ms for long audio.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from adapters._errors import UserError
from plugin.hear._timing import FrameGrid, frame_grid, window_bounds, window_timestamps

TIMESTAMP_MODES = ("auto", "frames", "windows")
DEFAULT_HOP_MS = 50.0


class HearModuleError(UserError, ValueError):
    """A HEAR module was loaded or called with arguments it cannot use (the message names the fix)."""


@dataclass(frozen=True)
class HearSettings:
    """How a HearModel turns audio into HEAR embeddings (see module docstring).

    timestamps: "frames" | "windows" (as resolved by load_model from "auto").
    hop_ms: spacing of window timestamps, ms. window_seconds: window length of "windows", s.
    """

    timestamps: str
    hop_ms: float
    window_seconds: float | None


class HearModel(nn.Module):
    """An acula-zoo encoder with the attributes HEAR reads.

    Attributes:
        encoder: the AudioEncoder (eval mode).
        sample_rate: Hz the audio must have (the encoder's native rate, spec.sample_rate).
        scene_embedding_size: D of get_scene_embeddings (encoder.out_dim).
        timestamp_embedding_size: D of get_timestamp_embeddings (out_frame_dim for "frames", out_dim for "windows").
        prep: OPERA task preprocessing (benchmark_tasks.preprocess.Preprocess) or None.
        grid: the FrameGrid of "frames" mode, else None.
    """

    def __init__(self, encoder, settings: HearSettings, prep=None):
        super().__init__()
        self.encoder = encoder
        self.settings = settings
        self.prep = prep
        self.grid: FrameGrid | None = frame_grid(encoder) if settings.timestamps == "frames" else None
        self.sample_rate = int(encoder.spec.sample_rate)
        self.scene_embedding_size = int(encoder.out_dim)
        self.timestamp_embedding_size = int(encoder.out_frame_dim if self.grid else encoder.out_dim)

    def scene(self, clips: list[np.ndarray]) -> np.ndarray:
        """Clips [S_i] float32 at sample_rate -> [N, scene_embedding_size] float32, as evaluate.py embeds them."""
        from adapters._inference import embed_clips

        windowing = None
        if self.prep is not None:
            clips = [self.prep.apply(c, self.sample_rate) for c in clips]
            windowing = self.prep.windowing
        return embed_clips(self.encoder, clips, windowing=windowing)

    def frame_embeddings(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[B, S] -> ([B, T, D] frames, [T] ms) on the encoder's frame grid, frames after the audio's end dropped."""
        prepared = np.stack([self.encoder.prepare(c) for c in audio])
        with torch.inference_mode():
            frames = self.encoder.frames(torch.from_numpy(prepared).to(self.encoder.device)).float().cpu().numpy()
        frames = frames[:, :frames.shape[1] - self.grid.drop_last]
        times = self.grid.times(frames.shape[1])
        keep = times <= 1000.0 * audio.shape[1] / self.sample_rate
        return frames[:, keep], times[keep]

    def window_embeddings(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[B, S] -> ([B, K, D] scene embeddings of the windows around each timestamp, [K] ms)."""
        s = self.settings
        times = window_timestamps(audio.shape[1], self.sample_rate, s.hop_ms)
        bounds = [window_bounds(t, s.window_seconds, audio.shape[1], self.sample_rate) for t in times]
        rows = [self.scene([clip[a:b] for a, b in bounds]) for clip in audio]   # one clip's windows at a time
        return np.stack(rows), times


def _check_audio(audio, model: HearModel) -> np.ndarray:
    """HEAR's input: (n_sounds, n_samples) float tensor -> float32 numpy on the CPU."""
    if not isinstance(audio, Tensor) or audio.ndim != 2:
        shape = tuple(audio.shape) if hasattr(audio, "shape") else type(audio).__name__
        raise HearModuleError(f"audio must be a (n_sounds, n_samples) torch tensor at {model.sample_rate} Hz, "
                              f"got {shape}")
    if not audio.is_floating_point():
        raise HearModuleError(f"audio must be float in [-1, 1], got {audio.dtype}; divide integer PCM by its "
                              f"full scale first")
    if audio.shape[1] == 0:
        raise HearModuleError("audio has 0 samples per sound; pass at least one sample")
    return audio.detach().to("cpu", torch.float32).numpy()


def get_scene_embeddings(audio: Tensor, model: HearModel) -> Tensor:
    """HEAR: (n_sounds, n_samples) float at model.sample_rate -> (n_sounds, scene_embedding_size) float32,
    on audio's device."""
    wav = _check_audio(audio, model)
    return torch.from_numpy(model.scene(list(wav))).to(audio.device)


def get_timestamp_embeddings(audio: Tensor, model: HearModel) -> tuple[Tensor, Tensor]:
    """HEAR: (n_sounds, n_samples) -> (embeddings (n_sounds, n_timestamps, timestamp_embedding_size) float32,
    timestamps (n_sounds, n_timestamps) float32 ms, the centre of each embedding), on audio's device."""
    wav = _check_audio(audio, model)
    emb, times = model.frame_embeddings(wav) if model.grid else model.window_embeddings(wav)
    stamps = np.broadcast_to(times.astype(np.float32), emb.shape[:2]).copy()
    return torch.from_numpy(np.ascontiguousarray(emb, dtype=np.float32)).to(audio.device), \
        torch.from_numpy(stamps).to(audio.device)


def load_model(model_file_path: str = "", *, encoder: str, config: str | dict | None = None,
               aligned: str | Path | None = None, opera_preprocess: bool = True, opera_task: str | None = None,
               timestamps: str = "auto", hop_ms: float = DEFAULT_HOP_MS, window_seconds: float | None = None,
               trust_checkpoint: bool = False, device: str = "cpu") -> HearModel:
    """HEAR's load_model for the registered `encoder` (bound by plugin.hear.<name>).

    Args:
        model_file_path: the encoder's checkpoint; "" follows the rule in the module docstring.
        config: "official" | "tiny" | overrides; None = the rule's choice (with `aligned`: the directory's own).
        aligned: a `python -m align` output directory, loaded on top of the base (model_file_path = base weights).
        opera_preprocess: OPERA's task preprocessing before OPERA-family encoders (60 dB trim, front repeat
            padding; plugin.evar does the same). opera_task: an acula-zoo task id whose preprocessing to use.
        timestamps: "auto" (frames where the encoder has a frame grid, else windows), "frames" or "windows".
        hop_ms, window_seconds: the "windows" timestamps (module docstring).
    Raises:
        HearModuleError: a missing checkpoint, the official config without weights, a bad timestamp option.
    """
    from adapters._registry import get_encoder_class
    from benchmark_tasks.preprocess import host_preprocess
    from plugin._build import build_host_encoder

    cls = get_encoder_class(encoder)
    path = str(model_file_path or "")
    if path and not Path(path).exists():
        raise HearModuleError(f"{path}: no such checkpoint; pass the {encoder} weights ({cls.spec.weights}) or ''")
    if timestamps not in TIMESTAMP_MODES:
        raise HearModuleError(f"timestamps={timestamps!r} is not one of {TIMESTAMP_MODES}")
    if not hop_ms > 0:
        raise HearModuleError(f"hop_ms must be > 0 ms, got {hop_ms}")
    needs_weights = cls.spec.requires_weights and not path and not aligned
    if config is None and needs_weights:
        warnings.warn(f"plugin.hear: no checkpoint given, so {encoder} is the tiny random-weight model (API checks "
                      f"only); pass model_file_path=<{cls.spec.weights}> for the official one", stacklevel=2)
        config = "tiny"
    if config == "official" and needs_weights:
        raise HearModuleError(f"{encoder}: the official config needs its weights; pass model_file_path=<path to "
                              f"{cls.spec.weights}> or config='tiny'")
    enc = build_host_encoder(encoder, weights=path or None, config=config, aligned=aligned or None, device=device,
                             trust_checkpoint=trust_checkpoint)
    prep = host_preprocess(enc.spec.name, opera_task) if opera_preprocess else None
    if timestamps == "auto":
        timestamps = "frames" if frame_grid(enc) is not None else "windows"
    if timestamps == "frames" and frame_grid(enc) is None:
        raise HearModuleError(f"{encoder} has no regular frame grid (plugin/hear/_timing.py); use "
                              f"timestamps='windows'")
    if timestamps == "windows":
        window_seconds = window_seconds or enc.spec.clip_seconds or (prep.pad_seconds if prep else None)
        if not window_seconds or window_seconds <= 0:
            raise HearModuleError(f"{encoder} has no clip length to window timestamps with; pass window_seconds=")
    return HearModel(enc, HearSettings(timestamps, float(hop_ms), window_seconds), prep).to(device).eval()
