"""CLAP (LAION), unfused HTS-AT audio tower: the audio half of a contrastive language-audio model.

Paper: Wu, Chen et al., "Large-scale Contrastive Language-Audio Pretraining with Feature Fusion and
Keyword-to-Caption Augmentation", ICASSP 2023, arXiv:2211.06687. Original code: github LAION-AI/CLAP (`laion_clap`,
checkpoints `630k-*.pt`). This adapter runs the transformers port (`ClapAudioModel` + `ClapProjectionLayer`, as in
`ClapModel` / `ClapAudioModelWithProjection`, transformers 5.23) with the weights published as HF
`laion/clap-htsat-unfused`; original `630k-*.pt` checkpoints are renamed on load as transformers' conversion
script renames them. Checked (random weights, official size): equal to ClapFeatureExtractor + get_audio_features
and to laion_clap 1.1.7's own HTS-AT forward (torchlibrosa front end) within 5e-7 relative.

Pipeline, for one [S] clip at 48 kHz: length policy "crop" keeps the first 10 s -> repeat-pad to 10 s and log-mel
[1001, 64] (adapters._clap_frontend, equal to ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad")
within 1e-5 dB) -> BatchNorm over mel bins, time stretched to 1024 frames and folded into a 256x256 image -> Swin
(HTS-AT tiny, 4 stages) -> LayerNorm -> token grid [C, F, T] -> mean over F and T (pooler_output, C = 768) ->
projection 768 -> 512 -> 512 (ReLU) -> L2 normalisation = `ClapModel.get_audio_features(...).pooler_output`.
Repeat-padding lives in the front end, not in `prepare`, because upstream tiles a short clip only floor(10 s / S)
times and fills the rest with zeros, which none of the shared length policies does.
Long clips: the crop to the first 10 s is CLAP's protocol (spec.max_seconds = 10, long_clips "protocol"); `tower`
crops again before the float64 front end, so even an uncropped 1 h input costs one 10 s pass.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from torch import Tensor
from torch.nn import functional as F

from adapters._base import AudioEncoder
from adapters._checkpoint import read_safetensors, torch_load
from adapters._clap_frontend import CLIP_SAMPLES, HOP_LENGTH, N_MELS, ClapLogMel
from adapters._errors import CheckpointError
from adapters._registry import register_encoder
from adapters._spec import EncoderSpec

# The ClapAudioConfig fields that shape the audio tower and its projection (the rest only matter for training,
# weight initialisation or the fused variant, which this adapter refuses).
_ARCH_KEYS = ("spec_size", "num_mel_bins", "window_size", "patch_size", "patch_stride", "patch_embeds_hidden_size",
              "depths", "num_attention_heads", "hidden_size", "projection_dim", "projection_hidden_act", "hidden_act",
              "mlp_ratio", "qkv_bias", "layer_norm_eps", "enable_patch_layer_norm", "enable_fusion")

_OFFICIAL = {  # laion/clap-htsat-unfused: HTS-AT tiny (= ClapAudioConfig defaults) + 512-d projection
    "spec_size": 256, "num_mel_bins": 64, "window_size": 8, "patch_size": 4, "patch_stride": [4, 4],
    "patch_embeds_hidden_size": 96, "depths": [2, 2, 6, 2], "num_attention_heads": [4, 8, 16, 32],
    "hidden_size": 768, "projection_dim": 512, "projection_hidden_act": "relu", "hidden_act": "gelu",
    "mlp_ratio": 4.0, "qkv_bias": True, "layer_norm_eps": 1e-5, "enable_patch_layer_norm": True,
    "enable_fusion": False,
}
# Same code path at toy size: one block per stage, narrow MLPs. The last stage keeps 768 channels so that frames
# honour spec.frame_dim; spec_size stays 256 because 64 mels x 1001 frames only fold into a 256x256 image.
_TINY = dict(_OFFICIAL, depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 2, 2], mlp_ratio=1.0)


@register_encoder("clap")
class LaionClap(AudioEncoder):
    """LAION-CLAP unfused audio encoder. frames: [B, S] 48 kHz -> [B, T, C]; embed: [B, S] -> [B, 512], unit norm.

    frames() is the audio tower's final token grid before pooling, averaged over its frequency rows: T = 32 time
    steps of ~0.31 s covering the repeat-padded 10 s (official config), C = 768 -- upstream HTS-AT's
    `fine_grained_embedding` before its 32x upsampling. Its mean over T is exactly the tower's pooler_output;
    embed() is NOT the mean of frames but the projected, L2-normalised pooler_output.
    Module names equal the published checkpoint's (`audio_model.audio_encoder.*`, `audio_projection.*`).
    """

    spec = EncoderSpec(
        name="clap",
        sample_rate=48000,
        embed_dim=512,
        clip_seconds=10.0,
        length_policy="crop",
        min_seconds=0.0,
        max_seconds=10.0,            # the model's 10 s input; CLAP's protocol crops longer clips to their first 10 s
        long_clips="protocol",
        # sub-batch chosen by tests/perf/measure_sub_batch.py (2 threads, passive OpenMP wait, quiet 2-core AVX-512
        # machine, 2026-12-01):
        # sub-batch 4 is 1.10x the 16-clip pass (2: 1.06x, 8: 1.02x); at 1 thread sub-batch 2-4 is 1.23x
        sub_batch=4,
        frame_dim=768,
        # Swin block linears (= attn.qkv, attn.proj, mlp.fc1, mlp.fc2 upstream); "output.dense" also matches
        # "attention.output.dense": both are nn.Linear, and peft wraps each module once.
        lora_targets=("attention.self.query", "attention.self.key", "attention.self.value",
                      "attention.output.dense", "intermediate.dense", "output.dense"),
        paper="arXiv:2211.06687",
        repo="github LAION-AI/CLAP; transformers ClapModel (huggingface/transformers, v5.23)",
        license="CC0-1.0 (LAION-AI/CLAP code); Apache-2.0 (HF laion/clap-htsat-unfused model card)",
        weights="HF laion/clap-htsat-unfused",
        params_published="~153.5M full ClapModel (RoBERTa-base text tower included); audio tower 27.5M + "
                         "projection 0.66M counted from the official config",
        pretrained_on=("LAION-Audio-630K", "AudioSet (keyword-to-caption captions)"),
    )
    configs = {"official": _OFFICIAL, "tiny": _TINY}
    # A full ClapModel checkpoint also holds the text tower and the two contrastive temperatures. None of them
    # takes part in the audio embedding, so they are read and deliberately left unused.
    # The original LAION-CLAP checkpoints name the text side text_branch/text_transform, and add audio_transform,
    # an MLP that only the training loss applies after the audio projection.
    checkpoint_ignore = ("text_model.", "text_projection.", "logit_scale_t", "logit_scale_a",
                         "text_branch.", "text_transform.", "audio_transform.")

    def __init__(self, config: dict):
        super().__init__(config)
        from transformers import ClapAudioConfig
        from transformers.models.clap.modeling_clap import ClapAudioModel, ClapProjectionLayer

        from adapters._clap_swin import fuse_clap_swin_blocks

        _check_config(self.config)
        hf_config = ClapAudioConfig(**self.config)
        self.frontend = ClapLogMel()
        self.audio_model = fuse_clap_swin_blocks(ClapAudioModel(hf_config))   # same function, faster
        self.audio_projection = ClapProjectionLayer(hf_config)

    def tower(self, wav: Tensor):
        """Run front end + audio tower. wav: [B, S] float32 in [-1, 1], 48 kHz (S <= 480000 after `prepare`).

        Returns transformers' BaseModelOutputWithPooling: last_hidden_state [B, C, F, T], pooler_output [B, C].
        """
        features = self.frontend(wav[:, :CLIP_SAMPLES].to(self.device))  # the first 10 s, before any copy
        return self.audio_model(input_features=features)

    def frames(self, wav: Tensor) -> Tensor:
        """[B, S] -> [B, T, C]: final tokens averaged over frequency rows (official: T 32, C 768)."""
        grid = self.tower(wav).last_hidden_state
        return grid.mean(dim=2).transpose(1, 2)

    def embed(self, wav: Tensor) -> Tensor:
        """[B, S] -> [B, projection_dim] unit-norm, as `ClapModel.get_audio_features(...).pooler_output`."""
        pooled = self.tower(wav).pooler_output
        return F.normalize(self.audio_projection(pooled), dim=-1)

    def frontend_params(self) -> dict:
        return {**super().frontend_params(), **ClapLogMel.params()}

    @classmethod
    def read_checkpoint(cls, path: Path, trust: bool = False) -> tuple[dict, dict]:
        """Read published CLAP weights. Returns (state dict in this module's key names, audio config).

        Accepts a transformers directory of `ClapModel` or `ClapAudioModelWithProjection` (config.json + weights;
        `path` is the directory or a weight file inside it), or an original LAION-CLAP checkpoint
        (`630k-*.pt`, `.pth`, `.ckpt`: a "state_dict" of `module.audio_branch.*` keys), renamed as transformers'
        conversion script renames it, with the architecture read from the tensor shapes.
        Text-tower keys come back too; `checkpoint_ignore` lets the strict key check pass over them.
        """
        path = Path(path)
        if path.is_file() and path.suffix in (".pt", ".pth", ".ckpt"):
            return _from_laion(torch_load(path, trust=trust), path)
        folder = path if path.is_dir() else path.parent
        config_file = folder / "config.json"
        if not config_file.is_file():
            raise CheckpointError(f"{config_file}: not found. Pass the transformers directory of "
                                  f"laion/clap-htsat-unfused (config.json + model.safetensors or pytorch_model.bin).")
        state = _read_weights(path if path.is_file() else folder, trust)
        state.pop("__metadata__", None)
        return state, audio_config_from_json(config_file)


def audio_config_from_json(config_file: Path) -> dict:
    """The architecture fields of a CLAP config.json, resolved as transformers resolves them.

    A ClapModel config ("model_type": "clap") nests them under "audio_config", and its top-level projection_dim
    and projection_hidden_act override the nested ones (ClapConfig.__post_init__). A ClapAudioModelWithProjection
    config ("clap_audio_model") holds them at top level. Fields absent from the file take ClapAudioConfig defaults.
    """
    from transformers import ClapAudioConfig, ClapConfig

    raw = json.loads(Path(config_file).read_text())
    model_type = raw.get("model_type")
    if model_type == "clap":
        audio = dict(raw.get("audio_config") or {})
        audio["projection_dim"] = raw.get("projection_dim", ClapConfig.projection_dim)
        audio["projection_hidden_act"] = raw.get("projection_hidden_act", ClapConfig.projection_hidden_act)
    elif model_type == "clap_audio_model":
        audio = raw
    else:
        raise CheckpointError(f"{config_file}: model_type is {model_type!r}; expected 'clap' (ClapModel) or "
                              f"'clap_audio_model' (ClapAudioModelWithProjection). Is this a CLAP directory?")
    if audio.get("enable_fusion"):
        raise CheckpointError(f"{config_file}: audio_config.enable_fusion is true (a fused CLAP such as "
                              f"laion/clap-htsat-fused). This adapter runs the unfused model: use "
                              f"laion/clap-htsat-unfused.")
    defaults = ClapAudioConfig()
    out = {k: audio.get(k, getattr(defaults, k)) for k in _ARCH_KEYS}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def _read_weights(path: Path, trust: bool) -> dict:
    """All tensors of a weight file, or of the (possibly sharded) weights in a transformers directory."""
    if path.is_file():
        return dict(torch_load(path, trust=trust))
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (path / name).is_file():
            return dict(torch_load(path / name, trust=trust))
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = path / index_name
        if index.is_file():
            state: dict = {}
            for shard in sorted(set(json.loads(index.read_text())["weight_map"].values())):
                part = dict(torch_load(path / shard, trust=trust)) if shard.endswith(".bin") else read_safetensors(
                    path / shard)
                part.pop("__metadata__", None)
                state.update(part)
            return state
    raise CheckpointError(f"{path}: no model.safetensors, pytorch_model.bin or sharded index found. Download the "
                          f"files of HF laion/clap-htsat-unfused into this directory.")


def _check_config(cfg: dict) -> None:
    """Refuse configurations the front end or the tower cannot run, with the field and the fix."""
    if cfg.get("enable_fusion"):
        raise ValueError("clap: enable_fusion=True needs the 4-channel fused input; this adapter runs the unfused "
                         "model (laion/clap-htsat-unfused). Set enable_fusion=False.")
    if cfg["num_mel_bins"] != N_MELS:
        raise ValueError(f"clap: num_mel_bins={cfg['num_mel_bins']} but the CLAP front end makes {N_MELS} mel bands.")
    depths = list(cfg["depths"])
    width = cfg["patch_embeds_hidden_size"] * 2 ** (len(depths) - 1)
    if cfg["hidden_size"] != width:
        raise ValueError(f"clap: hidden_size={cfg['hidden_size']} must equal patch_embeds_hidden_size * "
                         f"2**(len(depths)-1) = {width}, the width of the tower's last stage.")
    frames = CLIP_SAMPLES // HOP_LENGTH + 1
    if cfg["spec_size"] * (cfg["spec_size"] // cfg["num_mel_bins"]) < frames:
        raise ValueError(f"clap: spec_size={cfg['spec_size']} folds fewer than the {frames} log-mel frames of a "
                         f"10 s clip; use spec_size=256.")


# Original HTS-AT block names -> transformers names (as transformers' convert_clap_original_pytorch_to_hf renames).
_LAION_BLOCK_RENAMES = {
    "norm1.": "layernorm_before.", "norm2.": "layernorm_after.", "attn.proj.": "attention.output.dense.",
    "attn.relative_position": "attention.self.relative_position", "mlp.fc1.": "intermediate.dense.",
    "mlp.fc2.": "output.dense.",
}
# Audio-branch tensors of the original checkpoint that the embedding never uses: the STFT and mel matrices
# (constants the front end recomputes), the AudioSet tagging head, and the shifted-window masks (recomputed).
_LAION_UNUSED = re.compile(r"^(spectrogram_extractor|logmel_extractor|head|tscam_conv)\.|\.attn_mask$")


def _from_laion(ckpt, source: Path) -> tuple[dict, dict]:
    """An original LAION-CLAP checkpoint -> (state dict with transformers names, audio config from shapes)."""
    raw = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(raw, dict) or not any(k.split(".", 1)[-1].startswith("audio_branch.") for k in raw):
        raise CheckpointError(f"{source}: no 'audio_branch.*' tensors; not an original LAION-CLAP checkpoint. "
                              f"Pass a 630k-*.pt file or the transformers directory of laion/clap-htsat-unfused.")
    state: dict = {}
    for key, value in raw.items():
        key = key.removeprefix("module.")
        if key.startswith("audio_projection."):
            index, rest = key[len("audio_projection."):].split(".", 1)
            state[f"audio_projection.linear{1 if index == '0' else 2}.{rest}"] = value
        elif key.startswith("audio_branch."):
            rest = key[len("audio_branch."):]
            if _LAION_UNUSED.search(rest):
                continue
            if re.search(r"(^|\.)(fusion_model|mel_conv1d|mel_conv2d)\.", rest):
                raise CheckpointError(f"{source}: holds {key}, so it is a fused CLAP checkpoint; this adapter runs "
                                      f"the unfused model (e.g. 630k-best.pt or 630k-audioset-best.pt).")
            rest = re.sub(r"^bn0\.", "batch_norm.", rest)
            for old, new in _LAION_BLOCK_RENAMES.items():
                rest = re.sub(r"(blocks\.\d+\.)" + re.escape(old), r"\g<1>" + new, rest)
            if re.search(r"blocks\.\d+\.attn\.qkv\.", rest):
                for name, part in zip(("query", "key", "value"), value.chunk(3, dim=0)):
                    state["audio_model.audio_encoder." + rest.replace("attn.qkv.", f"attention.self.{name}.")] = part
                continue
            state["audio_model.audio_encoder." + rest] = value
        else:
            state[key] = value
    return state, _laion_config(state, source)


def _laion_config(state: dict, source: Path) -> dict:
    """Architecture of a renamed original checkpoint, read from its tensor shapes (the .pt holds no config)."""
    from transformers import ClapAudioConfig

    prefix = "audio_model.audio_encoder."
    try:
        blocks = [re.match(r"layers\.(\d+)\.blocks\.(\d+)\.", k[len(prefix):]) for k in state
                  if k.startswith(prefix + "layers.")]
        n_layers = 1 + max(int(m.group(1)) for m in blocks if m)
        depths = [1 + max(int(m.group(2)) for m in blocks if m and int(m.group(1)) == i) for i in range(n_layers)]
        tables = [state[f"{prefix}layers.{i}.blocks.0.attention.self.relative_position_bias_table"]
                  for i in range(n_layers)]
        block0 = f"{prefix}layers.0.blocks.0."
        fc1 = state[block0 + "intermediate.dense.weight"]
        defaults = ClapAudioConfig()
        cfg = {k: getattr(defaults, k) for k in _ARCH_KEYS}
        cfg.update(patch_embeds_hidden_size=state[prefix + "patch_embed.proj.weight"].shape[0], depths=depths,
                   num_attention_heads=[t.shape[1] for t in tables], hidden_size=state[prefix + "norm.weight"].shape[0],
                   window_size=(round(tables[0].shape[0] ** 0.5) + 1) // 2,
                   mlp_ratio=fc1.shape[0] / fc1.shape[1], qkv_bias=block0 + "attention.self.query.bias" in state,
                   enable_patch_layer_norm=prefix + "patch_embed.norm.weight" in state,
                   projection_dim=state["audio_projection.linear1.weight"].shape[0])
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{source}: cannot read the HTS-AT architecture from the tensors ({exc}); the file is "
                              f"incomplete or not an original LAION-CLAP checkpoint.") from exc
    return {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}
