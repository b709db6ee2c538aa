"""HeAR (Health Acoustic Representations): a ViT-L/16 masked-autoencoder encoder of 2 s health sounds.

Paper: Baur et al., "HeAR -- Health Acoustic Representations", arXiv:2403.02522 (2024).
Upstream: github google-health/hear, preprocessing `python/data_processing/audio_utils.py` at commit 3cba3ba
(2025-04-21; read from the fork audiumhealth/hear); weights: HF `google/hear-pytorch` (gated, Health AI Developer
Foundations terms), a transformers `ViTModel` directory with transformers 4.x key names.

The model: transformers `ViTModel` on a [1, 192, 128] PCEN mel image (height = time, width = mel band) of one
2 s window at 16 kHz (see `adapters._hear_frontend`); the window's embedding is `pooler_output`, the CLS token
through a linear 1024 -> 512 layer, exactly as upstream's notebooks call the model.

Two deliberate differences from upstream, both about which samples are seen together:
- Per-window normalisation. Upstream's `preprocess_audio` min-max scales the whole batch tensor with one min and
  max, so a clip's embedding depends on the other clips in its batch. Here every 2 s window is scaled on its own,
  which equals upstream called with that window alone (batch of one). Batching no longer changes embeddings.
- Long clips. HeAR was trained on, and only accepts, 2 s. A clip longer than 2 s is cut into 2 s windows every
  1.8 s (10 % overlap; samples after the last whole window are dropped), which is how upstream's notebooks
  (`train_data_efficient_classifier.ipynb`) embed long recordings; `frames` returns one 512-d embedding per window
  and `embed` their mean. Cropping to the first 2 s instead would discard most of a 8-30 s breathing or lung
  recording. Hence length_policy "chunk" with min_seconds 0: clips reach the encoder whole, and a clip shorter than
  2 s is zero-padded at the end inside the front end, as upstream pads it.
  The windows of a long clip are cut and encoded `windows_per_pass` (16) at a time, so a 1 h recording (2000
  windows) never holds all its PCEN images or ViT activations at once (spec.max_seconds = 2, one window;
  long_clips "protocol": the windows are the long-clip rule).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from adapters._base import AudioEncoder
from adapters._errors import CheckpointError
from adapters._hear_frontend import IMAGE_SIZE, HearFrontend, window_count, window_rows
from adapters._inference import run_in_groups
from adapters._registry import register_encoder
from adapters._spec import EncoderSpec

_OFFICIAL = {
    "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096,
    "hidden_act": "gelu_fast", "layer_norm_eps": 1e-6, "image_size": [192, 128], "patch_size": 16,
    "num_channels": 1, "qkv_bias": True, "pooler_output_size": 512, "pooler_act": "linear",
    "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
}
# Fields the front end and the spec fix: a config.json that changes them cannot work with this encoder.
_FIXED_BY_FRONTEND = {"image_size": list(IMAGE_SIZE), "num_channels": 1, "pooler_output_size": 512}


def _vit_config(config: dict):
    from transformers import ViTConfig

    return ViTConfig(**{k: config[k] for k in _OFFICIAL})


@register_encoder("hear")
class HeAR(AudioEncoder):
    """HeAR encoder. Input [B, S] float32 in [-1, 1] at 16 kHz, any S >= 1.

    frames: [B, W, 512], one pooler embedding per 2 s window (W = 1 for S <= 32000).
    embed:  [B, 512], the mean over windows.
    """

    spec = EncoderSpec(
        name="hear",
        sample_rate=16000,
        embed_dim=512,
        clip_seconds=2.0,
        length_policy="chunk",
        min_seconds=0.0,
        max_seconds=2.0,             # one 2 s window; longer clips are windowed (2 s every 1.8 s) as upstream does
        long_clips="protocol",
        lora_targets=("attention.q_proj", "attention.k_proj", "attention.v_proj", "attention.o_proj",
                      "mlp.fc1", "mlp.fc2"),
        paper="arXiv:2403.02522",
        repo="https://github.com/Google-Health/hear",
        commit="3cba3ba843350a9166227cf56e2a4a58399640d3",
        license="Health AI Developer Foundations terms of use "
                "(https://developers.google.com/health-ai-developer-foundations/terms)",
        weights="HF google/hear-pytorch (gated)",
        params_published="~303M (ViT-L/16 encoder)",
        pretrained_on=("YT-NS: 313M two-second clips from public YouTube videos, chosen by a health acoustic "
                       "event detector (coughing, breathing, throat clearing, laughing, speaking)",),
    )
    configs = {
        "official": dict(_OFFICIAL),
        "tiny": {**_OFFICIAL, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                 "intermediate_size": 64},
    }

    # 2 s windows of a long clip encoded per forward pass (memory, not results: each window is encoded on its own)
    windows_per_pass: int = 16

    def __init__(self, config: dict):
        super().__init__(config)
        from transformers import ViTModel

        self.frontend = HearFrontend()
        self.vit = ViTModel(_vit_config(self.config), add_pooling_layer=True)

    def window_embeddings(self, windows: Tensor) -> Tensor:
        """[N, S<=32000] 2 s windows -> [N, 512] pooler embeddings."""
        return self.vit(pixel_values=self.frontend(windows)).pooler_output

    def frames(self, wav: Tensor) -> Tensor:
        """[B, S] float32 in [-1, 1] at 16 kHz -> [B, W, 512], one embedding per 2 s window.

        Clips of one window run as one batch of B. The B * W windows of longer clips (clip-major) are cut,
        turned into images and encoded `windows_per_pass` at a time, so memory beyond the waveform is one group's
        images and activations plus the [B, W, 512] outputs, whatever the clip length.
        """
        b, w = wav.shape[0], window_count(wav.shape[-1])
        if w == 1:
            return self.window_embeddings(window_rows(wav, range(b))).reshape(b, 1, -1)
        step = max(1, int(self.windows_per_pass))
        return run_in_groups(b * w, step, lambda rows: self.window_embeddings(window_rows(wav, rows))).reshape(b, w, -1)

    def frontend_params(self) -> dict:
        return {**super().frontend_params(), **self.frontend.params(), "embedding": "pooler_output",
                "clip_embedding": "mean over windows"}

    @classmethod
    def read_checkpoint(cls, path: Path, trust: bool = False) -> tuple[dict, dict]:
        """Read a transformers ViTModel directory (config.json + model.safetensors or pytorch_model.bin).

        transformers does the renaming of 4.x key names (`encoder.layer.N.attention.attention.query`, as
        published) to its in-memory names (`layers.N.attention.q_proj`); it only warns about missing,
        unexpected or reshaped weights, so its loading report is checked here and any of them is an error.
        `trust` allows pickled objects in a pytorch_model.bin (transformers' weights_only=False).

        Returns:
            ({"vit.<in-memory name>": tensor}, the architecture fields of config.json).
        Raises:
            CheckpointError: not a transformers directory, not a ViT, a config the HeAR front end cannot feed,
                or weights that do not match config.json (the message names the keys).
        """
        from transformers import ViTConfig, ViTModel

        path = Path(path)
        weight_files = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                        "pytorch_model.bin.index.json")
        if not path.is_dir() or not (path / "config.json").is_file() or not any(
                (path / f).is_file() for f in weight_files):
            raise CheckpointError(
                f"{path}: HeAR weights are a transformers directory holding config.json and model.safetensors "
                f"(or pytorch_model.bin), as downloaded from HF google/hear-pytorch; pass that directory")
        try:
            vit_config = ViTConfig.from_pretrained(str(path), local_files_only=True)
        except Exception as exc:  # transformers raises OSError/ValueError for unreadable or foreign config.json
            raise CheckpointError(f"{path / 'config.json'}: not a readable transformers config ({exc})") from exc
        config = _config_from_vit(path, vit_config)
        try:
            vit, info = ViTModel.from_pretrained(
                str(path), config=vit_config, local_files_only=True, output_loading_info=True,
                ignore_mismatched_sizes=True, dtype=torch.float32, weights_only=not trust)
        except Exception as exc:  # unreadable weight files: OSError/ValueError/RuntimeError/UnpicklingError
            raise CheckpointError(f"{path}: transformers cannot load the weights as a ViTModel ({exc})") from exc
        _raise_on_loading_problems(path, info)
        state = {f"vit.{k}": v for k, v in vit.state_dict().items()}
        return state, config


def _config_from_vit(path: Path, vit_config) -> dict:
    """The architecture fields of a loaded ViTConfig, checked against what the front end produces."""
    if vit_config.model_type != "vit":
        raise CheckpointError(f"{path / 'config.json'}: model_type is {vit_config.model_type!r}, HeAR needs 'vit'")
    config = {k: getattr(vit_config, k) for k in _OFFICIAL}
    size = config["image_size"]
    config["image_size"] = list(size) if isinstance(size, (list, tuple)) else [size, size]
    for field, wanted in _FIXED_BY_FRONTEND.items():
        if config[field] != wanted:
            raise CheckpointError(
                f"{path / 'config.json'}: {field} is {config[field]!r}, but the HeAR front end and spec need "
                f"{wanted!r}; this directory is not a HeAR checkpoint (or its config.json was edited)")
    return config


def _raise_on_loading_problems(path: Path, info: dict) -> None:
    """CheckpointError naming every missing, unexpected or reshaped weight in transformers' loading report."""
    parts = []
    for title, keys in (("missing", sorted(info.get("missing_keys", ()))),
                        ("unexpected", sorted(info.get("unexpected_keys", ()))),
                        ("wrong shape", sorted(f"{k}: checkpoint {tuple(a)} vs model {tuple(b)}"
                                               for k, a, b in info.get("mismatched_keys", ()))),
                        ("load errors", list(info.get("error_msgs", ())))):
        if keys:
            shown = ", ".join(keys[:12]) + (f", ... ({len(keys)} in all)" if len(keys) > 12 else "")
            parts.append(f"{title}: {shown}")
    if parts:
        raise CheckpointError(
            f"{path}: checkpoint does not match its config.json — " + "; ".join(parts)
            + ". Key names are transformers 5 in-memory names (layers.N.attention.q_proj is the file's "
            "encoder.layer.N.attention.attention.query). Re-download the directory from HF google/hear-pytorch.")
