"""The frozen description every encoder family carries: its front-end contract and its model card."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

LENGTH_POLICIES = ("any", "pad_zeros", "pad_repeat", "crop", "chunk")
LONG_CLIP_POLICIES = ("segments", "protocol")
SEGMENT_MIN_TAIL_SECONDS = 1.0   # a last segment shorter than this (or than min_seconds) joins the one before it


@dataclass(frozen=True)
class EncoderSpec:
    """What an encoder expects as input and what it returns.

    Attributes:
        sample_rate: Hz of the waveform `frames`/`embed` receive.
        clip_seconds: the input length the model was trained on; None when any length works.
        length_policy: how `adapters.fit_length` brings a clip to `clip_seconds` before the encoder:
            "any" (left as is), "pad_zeros" (zero-pad short clips, crop long ones), "pad_repeat" (repeat short
            clips, crop long ones), "crop" (crop long clips only), "chunk" (the encoder splits long clips itself;
            short clips are padded by repetition).
        min_seconds: shortest clip the encoder accepts after the policy (shorter clips are padded up to it).
        max_seconds: the longest clip ONE forward pass of the model takes with bounded memory (None: no limit).
        long_clips: what happens to a clip longer than max_seconds (after the length policy):
            "segments" (no published protocol for long input): `AudioEncoder.embed_any_length` cuts it into
            consecutive max_seconds segments (the last one the remainder; a remainder shorter than
            max(SEGMENT_MIN_TAIL_SECONDS, min_seconds) is merged into the segment before it), embeds each and
            combines them with `combine_segments` (default: the mean weighted by segment length);
            "protocol": the encoder's own published protocol windows or crops long clips (OPERA-GT windows,
            HeAR 2 s windows, OPERA-CT 1024-frame crops, CLAP's first 10 s) and runs them in groups of bounded size.
        embed_dim: D of `embed` output [B, D].
        frame_dim: D of `frames` output [B, T, D] (defaults to embed_dim).
        lora_targets: module-name suffixes LoRA may wrap; each must match nn.Linear (or 1x1 conv) layers only.
        requires_weights: False for weight-free baselines (openSMILE, log-mel statistics).
        sub_batch: clips per forward pass inside one batch of `adapters._inference.embed_clips` (None: the whole
            batch in one pass). Chosen per encoder from tests/perf/measure_sub_batch.py (model clips/s at sub-batch
            1, 2, 4, 8, 16): past some size the activations of a pass fall out of cache and elementwise ops slow
            down. It changes speed only: every clip is embedded on its own, so the embeddings do not depend on it.
        paper, repo, commit, license, weights, params_published, pretrained_on: the model card.
    """

    name: str
    sample_rate: int
    embed_dim: int
    clip_seconds: float | None = None
    length_policy: str = "any"
    min_seconds: float = 0.0
    max_seconds: float | None = None
    long_clips: str = "segments"
    frame_dim: int | None = None
    lora_targets: tuple[str, ...] = ()
    requires_weights: bool = True
    sub_batch: int | None = None
    paper: str = ""
    repo: str = ""
    commit: str = ""
    license: str = ""
    weights: str = ""
    params_published: str = ""
    pretrained_on: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.length_policy not in LENGTH_POLICIES:
            raise ValueError(f"EncoderSpec {self.name!r}: length_policy {self.length_policy!r} "
                             f"is not one of {LENGTH_POLICIES}")
        if self.length_policy not in ("any", "chunk") and not self.clip_seconds:
            raise ValueError(f"EncoderSpec {self.name!r}: length_policy {self.length_policy!r} needs clip_seconds")
        if self.long_clips not in LONG_CLIP_POLICIES:
            raise ValueError(f"EncoderSpec {self.name!r}: long_clips {self.long_clips!r} is not one of "
                             f"{LONG_CLIP_POLICIES}")
        if self.sub_batch is not None and not (isinstance(self.sub_batch, int) and self.sub_batch >= 1):
            raise ValueError(f"EncoderSpec {self.name!r}: sub_batch must be an int >= 1 or None, "
                             f"got {self.sub_batch!r}")
        if self.max_seconds is not None:
            shortest = max(SEGMENT_MIN_TAIL_SECONDS, self.min_seconds) if self.long_clips == "segments" else 0.0
            if not (shortest < self.max_seconds < math.inf):  # NaN and inf fail too
                raise ValueError(f"EncoderSpec {self.name!r}: max_seconds {self.max_seconds} must be > {shortest} s "
                                 f"(min_seconds {self.min_seconds}, shortest segment {SEGMENT_MIN_TAIL_SECONDS} s)")
        elif self.long_clips == "protocol":
            raise ValueError(f"EncoderSpec {self.name!r}: long_clips 'protocol' needs max_seconds (one window/crop)")

    @property
    def clip_samples(self) -> int | None:
        """clip_seconds in samples at `sample_rate`, or None."""
        return None if self.clip_seconds is None else int(round(self.clip_seconds * self.sample_rate))

    @property
    def max_samples(self) -> int | None:
        """max_seconds in samples at `sample_rate`, or None."""
        return None if self.max_seconds is None else int(round(self.max_seconds * self.sample_rate))

    def card(self) -> dict:
        """The model card as a JSON-ready dict."""
        d = asdict(self)
        d["lora_targets"] = list(self.lora_targets)
        d["pretrained_on"] = list(self.pretrained_on)
        return d


WINDOW_DOMAINS = ("waveform", "spectrogram")


@dataclass(frozen=True)
class Windowing:
    """How an encoder that embeds fixed windows (OPERA-GT) cuts one clip into model inputs, chosen per task.

    Upstream OPERA (github evelyn0414/OPERA 3622310, `src/benchmark/model_util.py::extract_opera_feature`) feeds
    OPERA-GT in one of two ways, depending on the task's processing script:

    domain "waveform" (`get_split_signal_librosa` -> `src/util.py::split_pad_sample`): windows of
        L = int(seconds * sample_rate) samples at a hop of L // 2; the remainder after the last whole window
        becomes one more window, padded in front with the clip's own last samples; each window gets its own
        log-mel (min-max per window). `seconds` is the processing script's `input_sec`: 8.18 for most tasks,
        5 for MMlung (mmlung_processing.py), 8 for NoseMic (nosemic_processing.py).
    domain "spectrogram" (`from_spec=True`: ssbpr_processing.py, coswara_processing.py): one log-mel of the whole
        (task-padded) clip, min-max over the whole clip, cut into 256-frame pieces without overlap; pieces
        shorter than 16 frames are dropped. `seconds` is unused.
    """

    domain: str = "waveform"
    seconds: float = 8.18

    def __post_init__(self) -> None:
        if self.domain not in WINDOW_DOMAINS:
            raise ValueError(f"Windowing domain {self.domain!r} is not one of {WINDOW_DOMAINS}")
        if self.domain == "waveform" and not self.seconds > 0:
            raise ValueError(f"Windowing seconds must be > 0, got {self.seconds}")

    def samples(self, sample_rate: int) -> int:
        """Window length in samples, truncated as upstream computes it (int(seconds * sample_rate))."""
        return int(self.seconds * sample_rate)
