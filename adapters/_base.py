"""The encoder contract: every encoder family subclasses AudioEncoder and is registered by name."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from adapters._audio import fit_length
from adapters._checkpoint import load_exact
from adapters._inference import run_in_groups, segment_bounds
from adapters._spec import SEGMENT_MIN_TAIL_SECONDS, EncoderSpec

NATIVE_RATE = "native_rate"   # config key: features at each file's own sample rate (supports_native_rate encoders)
INPUT_RATE = "input_rate"     # config key of the per-rate instances `at_rate` builds (never in a cache key)


class AudioEncoder(nn.Module):
    """Base class of every encoder.

    A subclass sets `spec` (an EncoderSpec) and `configs` ({"official": {...}, "tiny": {...}}: architecture
    hyperparameters), builds its modules in `__init__(config)`, and implements `frames`. It overrides `embed` when
    the clip embedding is not the mean of its frames, and `read_checkpoint` for its published weight format.

    Inputs are [B, S] float32 in [-1, 1] at `spec.sample_rate`, already passed through `prepare` (length policy).
    """

    spec: ClassVar[EncoderSpec]
    configs: ClassVar[dict[str, dict]] = {"official": {}, "tiny": {}}
    checkpoint_ignore: ClassVar[tuple[str, ...]] = ()
    # weight-free baselines that can compute their features at a recording's own sample rate (see with_native_rate)
    supports_native_rate: ClassVar[bool] = False

    def __init__(self, config: dict | None = None):
        super().__init__()
        self.config = dict(config or {})
        if self.config.get(INPUT_RATE):   # an instance made by at_rate: this object runs at that rate
            self.spec = dataclasses.replace(type(self).spec, sample_rate=int(self.config[INPUT_RATE]))
        self.weights_sha256: str | None = None
        self.weights_path: str | None = None
        self.adapter_sha256: str | None = None

    # -- the two calls the benchmark makes -------------------------------------------------------------
    def frames(self, wav: Tensor) -> Tensor:
        """[B, S] float32 in [-1, 1] -> [B, T, D] frame-level features."""
        raise NotImplementedError

    def embed(self, wav: Tensor) -> Tensor:
        """[B, S] float32 in [-1, 1] -> [B, D] clip embedding (default: mean of `frames` over time)."""
        return self.frames(wav).mean(dim=1)

    def embed_windowed(self, wav: Tensor, windowing) -> Tensor:
        """`embed_any_length` with a task's windowing (adapters._spec.Windowing); None means the encoder's default.

        Only encoders that cut clips into fixed windows (OPERA-GT) override this; the others refuse a windowing
        rather than silently ignore it.
        """
        if windowing is None:
            return self.embed_any_length(wav)
        raise ValueError(f"{self.spec.name} has no windowing to set (got {windowing}); only windowed encoders "
                         "such as opera-gt take one")

    # -- clips longer than one forward pass ------------------------------------------------------------
    def segments(self, n_samples: int) -> list[tuple[int, int]]:
        """(start, end) sample ranges `embed_any_length` embeds separately for a clip of `n_samples` (see
        adapters._inference.segment_bounds); one range for clips up to `spec.max_seconds` and for encoders whose
        protocol handles long clips (`spec.long_clips == "protocol"`)."""
        s = self.spec
        if s.long_clips != "segments":
            return [(0, n_samples)]
        tail = int(round(max(SEGMENT_MIN_TAIL_SECONDS, s.min_seconds) * s.sample_rate))
        return segment_bounds(n_samples, s.max_samples, tail)

    def embed_any_length(self, wav: Tensor) -> Tensor:
        """[B, S] -> [B, D] for any S, with memory bounded by one forward pass of `spec.max_seconds`.

        Clips up to max_seconds (and every clip of a "protocol" encoder, which windows long clips itself) go
        through `embed` unchanged. Longer clips of a "segments" encoder are cut by `segments` into consecutive
        pieces of max_seconds; each piece is embedded on its own (the whole batch, one piece at a time) and the
        pieces are combined by `combine_segments`.
        """
        bounds = self.segments(wav.shape[1])
        if len(bounds) == 1:
            return self.embed(wav)

        def segment(rows: range) -> Tensor:                    # rows: one segment index -> [1, B, D]
            start, end = bounds[rows.start]
            return self.embed(wav[:, start:end])[None]

        parts = run_in_groups(len(bounds), 1, segment).transpose(0, 1)     # [B, K, D]
        lengths = torch.tensor([end - start for start, end in bounds], dtype=torch.float64)
        return self.combine_segments(parts, lengths)

    def combine_segments(self, parts: Tensor, lengths: Tensor) -> Tensor:
        """Segment embeddings [B, K, D] and their lengths [K] (samples, float64) -> [B, D] clip embeddings.

        Default: the mean weighted by segment length; for an encoder whose embedding is a mean over frames this
        approximates the mean over the whole clip (frames at segment edges see less context). Encoders whose
        embedding is another statistic override this.
        """
        weights = (lengths / lengths.sum()).to(device=parts.device, dtype=parts.dtype)
        return (parts * weights[None, :, None]).sum(dim=1)

    # -- the recording's own sample rate (weight-free baselines) ----------------------------------------
    @property
    def native_rate(self) -> bool:
        """True when this instance computes features at each file's own sample rate instead of spec.sample_rate."""
        return bool(self.config.get(NATIVE_RATE))

    def with_native_rate(self, on: bool) -> AudioEncoder:
        """This encoder with native-rate features switched on or off.

        Only weight-free baselines (`supports_native_rate`) have the option: a learned encoder's rate is fixed by
        its training, so for them this returns `self` unchanged. Switching it on adds `native_rate: True` to the
        config, hence to `identity()`, the cache key and every record; the default (off) leaves the config as it
        was, so 16 kHz embeddings keep their cache entries.
        """
        if not self.supports_native_rate or on == self.native_rate:
            return self
        config = {k: v for k, v in self.config.items() if k != NATIVE_RATE}
        return type(self)({**config, NATIVE_RATE: True} if on else config).to(self.device).eval()

    def decode_rate(self, file_rate: int) -> int:
        """The rate (Hz) a file recorded at `file_rate` is decoded at for this encoder."""
        return int(file_rate) if self.native_rate else self.spec.sample_rate

    def at_rate(self, sample_rate: int) -> AudioEncoder:
        """The instance that embeds waveforms at `sample_rate` (self when that is spec.sample_rate): its spec, and so
        its front end, length rules and segment lengths, are at that rate. Native-rate encoders only."""
        if sample_rate == self.spec.sample_rate:
            return self
        if not self.native_rate:
            raise ValueError(f"{self.spec.name} runs at {self.spec.sample_rate} Hz only; got {sample_rate} Hz audio")
        cache = self.__dict__.setdefault("_at_rate", {})
        if sample_rate not in cache:
            cache[sample_rate] = type(self)({**self.config, INPUT_RATE: int(sample_rate)}).to(self.device).eval()
        return cache[sample_rate]

    # -- output sizes (tiny configurations may be narrower than the spec's official size) ---------------
    @property
    def out_dim(self) -> int:
        """D of `embed` for this instance (spec.embed_dim unless the config narrows the model)."""
        return self.spec.embed_dim

    @property
    def out_frame_dim(self) -> int:
        """D of `frames` for this instance."""
        return self.spec.frame_dim or self.out_dim

    # -- input preparation -----------------------------------------------------------------------------
    def prepare(self, wav: np.ndarray) -> np.ndarray:
        """Apply the spec's length policy to one [S] clip at `spec.sample_rate`."""
        s = self.spec
        return fit_length(wav, s.length_policy, s.clip_samples, int(round(s.min_seconds * s.sample_rate)))

    def frontend_params(self) -> dict:
        """Everything in the front end that changes embeddings; part of the cache key. Override to add more."""
        s = self.spec
        params = {"sample_rate": s.sample_rate, "clip_seconds": s.clip_seconds, "length_policy": s.length_policy,
                  "min_seconds": s.min_seconds}
        if s.long_clips == "segments" and s.max_seconds is not None:
            # long clips are cut into segments whose embeddings are combined: that changes their embeddings
            params["long_clips"] = {"rule": "segments", "max_seconds": s.max_seconds,
                                    "min_tail_seconds": max(SEGMENT_MIN_TAIL_SECONDS, s.min_seconds),
                                    "combine": type(self).combine_segments.__qualname__}
        return params

    # -- weights ---------------------------------------------------------------------------------------
    @classmethod
    def read_checkpoint(cls, path: Path, trust: bool = False) -> tuple[dict, dict]:
        """Read the published weight format at `path`.

        Returns:
            (state_dict matching this module's own key names, architecture config found in the file or {}).
        """
        raise NotImplementedError(f"{cls.spec.name} does not read checkpoints")

    def load_weights(self, state: dict, source: str | Path) -> None:
        """Load a state dict with every key checked (missing, unexpected, reshaped -> CheckpointError)."""
        load_exact(self, state, source, ignore=self.checkpoint_ignore)

    # -- identity --------------------------------------------------------------------------------------
    def identity(self) -> dict:
        """What makes this encoder's embeddings what they are: name, config, weights, adapter, front end."""
        ident = {"encoder": self.spec.name, "config": self.config, "weights_sha256": self.weights_sha256,
                 "adapter_sha256": self.adapter_sha256, "frontend": self.frontend_params()}
        if self.weights_sha256 is None and self.spec.requires_weights:
            from adapters._registry import RANDOM_INIT_SEED

            ident["random_init_seed"] = RANDOM_INIT_SEED
        return ident

    def identity_hash(self) -> str:
        """sha256 of `identity()` (stable JSON), shortened to 16 hex digits."""
        blob = json.dumps(self.identity(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def device(self) -> torch.device:
        p = next(self.parameters(), None)
        return p.device if p is not None else torch.device("cpu")
