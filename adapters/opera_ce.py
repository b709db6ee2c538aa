"""OPERA-CE: the contrastive EfficientNet of OPERA (Zhang et al., NeurIPS 2024 D&B, arXiv:2406.16148).

Upstream: github evelyn0414/OPERA, commit 3622310 — `src/model/models_cola.py` (`Cola(encoder="efficientnet")`,
`Encoder`: Conv2d(1, 3, 3) then `efficientnet_pytorch` EfficientNet-B0 without classifier, ported in
`adapters/_efficientnet.py`) and `src/benchmark/model_util.py::extract_opera_feature(pretrain="operaCE",
dim=1280)`, which is `Cola.extract_feature(x, 1280)` = the encoder output, before the contrastive head.

Pipeline, per clip (the whole clip in one pass; no crops, no resizing):
    wav [S] float32 in [-1, 1], 16 kHz
    -> OPERA log-mel (adapters/_opera_frontend.py): [T, 64] in [0, 1], T = 1 + S // 512 (32 ms hop)
    -> cnn1: Conv2d(1 -> 3, 3x3, no padding): [3, T - 2, 62]
    -> EfficientNet-B0 features (static "same" padding computed for 224 x 224, BatchNorm eps 1e-3): [1280, T', 1]
    -> embed: global average pool -> [1280]
`frames` is the feature map before that pool, averaged over its frequency axis: [T', 1280], T' time steps of
32 log-mel frames (~1 s) each; the 62 mel columns always reduce to one. Its mean over time equals `embed`.

Long clips: activations grow with the clip and OPERA has no protocol for long input, so `spec.max_seconds` is
120 s (longer than any OPERA task recording): `embed_windowed` / `embed_any_length` cut longer clips into
consecutive 120 s segments and average their embeddings weighted by length (AudioEncoder.embed_any_length).

Length: the five stride-2 stages need at least 34 log-mel frames (16,896 samples, 1.056 s); upstream fails on
shorter input. `min_seconds = 1.06` makes `prepare` repeat-pad shorter clips up to that. OPERA pads each task's
clips to an `input_sec` first (`--min_len_cnn` defaults of `src/benchmark/processing/*_processing.py`):
`INPUT_SEC` lists them for the benchmark's preprocessing.

Weights: `encoder-operaCE.ckpt` (HF evelyn0414/OPERA), a PyTorch Lightning checkpoint of the whole Cola model;
`state_dict` keys `encoder.cnn1.*` / `encoder.efficientnet.*` map to `cnn1.*` / `efficientnet.*` by stripping
`encoder.`. Cola's contrastive projection head (`g`, `layer_norm`, `linear`; no `middle` since 1280 == 1280) is
not part of the feature and is ignored (`checkpoint_ignore`). A `.safetensors` written by
`adapters._checkpoint.save_safetensors(model.state_dict(), path)` loads too.

LoRA: OPERA-CE has no attention. Its targets are the 1x1 convolutions (`_expand_conv`, `_project_conv`,
`_se_reduce`, `_se_expand`, `_conv_head`): unpadded, stride 1, plain nn.Conv2d. The k x k convs (`_conv_stem`,
`_depthwise_conv`; `cnn1`) must not be targeted: peft builds its LoRA branch as
`type(base)(in, r, kernel, stride, base.padding)`, copying the conv's `padding` attribute — 0 for a same-padded
conv, whose padding lives in a separate ZeroPad2d (`static_padding`) — so the branch would not be padded like the
base conv (in efficientnet_pytorch that call even passes the padding tuple as the image size). Here the k x k
convs take `image_size` keyword-only, so such a target fails when peft injects it.

Parameters: 4.008M (cnn1 30 + EfficientNet-B0 without classifier 4,007,548), the published "~4M".
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from adapters._base import AudioEncoder
from adapters._efficientnet import EfficientNet
from adapters._registry import register_encoder
from adapters._spec import EncoderSpec
from adapters.opera_ct import read_opera_lightning

# OPERA's per-task input length for OPERA-CE, in seconds (clips shorter than this are repeat-padded up to it).
INPUT_SEC = {
    "T1": 2.0, "T2": 2.0,                                            # UK COVID-19
    "T3": 8.0, "T4": 8.0,                                            # COVID-19 Sounds
    "T5": 2.0, "T6": 2.0,                                            # CoughVID
    "T7": 8.0,                                                       # ICBHI
    "T8": 2.0, "T9": 2.0,                                            # Coswara (precomputed 2 s "pad2" spectrograms)
    "T10": 8.0,                                                      # KAUH
    "T11": 8.0,                                                      # Respiratory@TR
    "T12": 2.0,                                                      # SSBPR
    "T13": 1.0, "T14": 1.0, "T15": 1.0, "T16": 1.0, "T17": 1.0, "T18": 1.0,  # MMlung (repeat-padded)
    "T19": 1.0,                                                      # NoseMic
}

_OFFICIAL = {"width": 1.0, "depth": 1.0, "image_size": 224, "head_channels": 1280, "drop_connect_rate": 0.1}
# Same code path at toy width: quarter-width body (8-80 channels), depth x0.5 (stages of 1-2 blocks, so the
# repeated-block skip path still runs). The head keeps 1280 channels so the tiny model honours spec.embed_dim.
_TINY = dict(_OFFICIAL, width=0.25, depth=0.5)


@register_encoder("opera-ce")
class OperaCE(AudioEncoder):
    """OPERA-CE. frames: [B, S] 16 kHz -> [B, T', 1280]; embed: [B, S] -> [B, 1280] (OPERA's feature)."""

    spec = EncoderSpec(
        name="opera-ce",
        sample_rate=16000,
        embed_dim=1280,
        frame_dim=1280,
        clip_seconds=None,
        length_policy="any",
        min_seconds=1.06,
        # EfficientNet activations grow with the clip (measured at official size: +0.11 GB peak for 120 s, about
        # 3 GB for 1 h). OPERA feeds whole clips and has no long-input protocol; 120 s keeps its longest task
        # recordings (ICBHI, up to 86 s) whole, as upstream. Longer clips are segmented.
        max_seconds=120.0,
        long_clips="segments",
        lora_targets=("_expand_conv", "_project_conv", "_se_reduce", "_se_expand", "_conv_head"),
        paper="arXiv:2406.16148",
        repo="https://github.com/evelyn0414/OPERA",
        commit="3622310",
        license="MIT (code, github evelyn0414/OPERA); weights: see the HF evelyn0414/OPERA model card",
        weights="HF evelyn0414/OPERA encoder-operaCE.ckpt",
        params_published="~4M (4.008M: Conv2d(1,3,3) + EfficientNet-B0 without classifier)",
        pretrained_on=("COVID-19 Sounds (breath, cough)", "UK COVID-19 (exhalation, cough)", "CoughVID",
                       "ICBHI", "HF Lung"),
    )
    configs = {"official": _OFFICIAL, "tiny": _TINY}
    checkpoint_ignore = ("g.", "layer_norm.", "linear.")

    def __init__(self, config: dict):
        super().__init__(config)
        c = self.config
        self.cnn1 = nn.Conv2d(1, 3, kernel_size=3)
        self.efficientnet = EfficientNet(width=c["width"], depth=c["depth"], image_size=c["image_size"],
                                         head_channels=c["head_channels"], drop_connect_rate=c["drop_connect_rate"])

    @staticmethod
    def logmel(wav: Tensor) -> Tensor:
        """[B, S] float32 in [-1, 1], 16 kHz -> [B, T, 64] OPERA log-mel in [0, 1]."""
        from adapters._opera_frontend import opera_logmel

        return opera_logmel(wav)

    def feature_map(self, spec: Tensor) -> Tensor:
        """[B, T, 64] OPERA log-mel (T >= 34) -> [B, 1280, T', 1] EfficientNet feature map."""
        if spec.shape[1] < 34:
            raise ValueError(f"opera-ce needs at least 34 log-mel frames (1.056 s at 16 kHz), got {spec.shape[1]}; "
                             f"pass clips through encoder.prepare(), which repeat-pads them to min_seconds")
        return self.efficientnet(self.cnn1(spec.unsqueeze(1)))

    def frames_from_logmel(self, spec: Tensor) -> Tensor:
        """[B, T, 64] OPERA log-mel -> [B, T', 1280], frequency axis averaged."""
        return self.feature_map(spec).mean(dim=3).transpose(1, 2)

    def embed_from_logmel(self, spec: Tensor) -> Tensor:
        """[B, T, 64] OPERA log-mel -> [B, 1280], global average pool (upstream's AdaptiveAvgPool2d(1))."""
        return torch.flatten(self.feature_map(spec).mean(dim=(2, 3), keepdim=True), 1)

    def frames(self, wav: Tensor) -> Tensor:
        """[B, S] float32 in [-1, 1], 16 kHz, S >= 16,896 -> [B, T', 1280]."""
        return self.frames_from_logmel(self.logmel(wav))

    def embed(self, wav: Tensor) -> Tensor:
        """[B, S] float32 in [-1, 1], 16 kHz, S >= 16,896 -> [B, 1280]: OPERA-CE's feature."""
        return self.embed_from_logmel(self.logmel(wav))

    def frontend_params(self) -> dict:
        from adapters._opera_frontend import frontend_params

        return {**super().frontend_params(), **frontend_params()}

    @classmethod
    def read_checkpoint(cls, path: Path, trust: bool = False) -> tuple[dict, dict]:
        """encoder-operaCE.ckpt (Lightning, `state_dict` with `encoder.cnn1.*`, `encoder.efficientnet.*`) or our
        .safetensors."""
        state = read_opera_lightning(path, trust, "encoder.", "", "encoder.efficientnet.", "efficientnet",
                                     "encoder-operaCE.ckpt")
        return state, {}
