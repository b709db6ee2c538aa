"""The aligned-encoder directory: write it after training, and load it on top of a base encoder.

Layout of `runs/align/<encoder>[-tiny]/` (the default of `python -m align`):
    adapter_config.json, adapter_model.safetensors   peft LoRA adapter (`PeftModel.save_pretrained`), or
    encoder.safetensors                              the whole encoder's weights after --full-finetune
    heads.safetensors                                audio and text projection heads (zero-shot scoring)
    base_weights.safetensors                         random-weight bases (--tiny) only: the exact base weights
    trained_items.txt                                sha256 of the audio bytes of every training recording, one
                                                     per line, sorted (its own sha256 is in align_config.json);
                                                     evaluate.py --aligned checks test items against it
    align_config.json                                base encoder identity, teacher, loss, data, steps, losses
    train_config.json, train_log.jsonl, checkpoints/ the resolved AlignConfig, the loss curve, resume state

`align_config.json` is written last and marks the directory complete. `adapter_sha256` (sha256 over the adapter
files, names and bytes) is set on the loaded encoder, so its identity, embedding cache key and result records
differ from the base's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

from adapters._checkpoint import load_exact, read_safetensors, save_safetensors, sha256_path
from adapters._errors import UserError
from adapters._io import write_json
from align.heads import ProjectionHead

ALIGN_CONFIG = "align_config.json"
HEADS = "heads.safetensors"
FULL_WEIGHTS = "encoder.safetensors"
BASE_WEIGHTS = "base_weights.safetensors"
PEFT_FILES = ("adapter_config.json", "adapter_model.safetensors")
TRAINED_ITEMS = "trained_items.txt"


class AlignedError(UserError, ValueError):
    """An aligned-encoder directory is missing, incomplete, or does not belong to the given base encoder."""


def state_sha256(module: torch.nn.Module) -> str:
    """sha256 of a module's state dict (sorted names, dtypes, shapes and bytes): identifies its weights."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _json_ready(obj):
    return json.loads(json.dumps(obj, default=str))


def base_identity(encoder) -> dict:
    """What the adapter is trained on: encoder name, its config, weights file sha256 and state sha256."""
    return {"encoder": encoder.spec.name, "config": _json_ready(encoder.config),
            "weights_sha256": encoder.weights_sha256, "state_sha256": state_sha256(encoder)}


def adapter_files(aligned_dir: str | Path, kind: str) -> list[Path]:
    d = Path(aligned_dir)
    return [d / n for n in (PEFT_FILES if kind == "lora" else (FULL_WEIGHTS,))]


def adapter_sha256(aligned_dir: str | Path, kind: str = "lora") -> str:
    """sha256 of the adapter's canonical content: identical weights and settings give the same value.

    Weight files count by their tensors (names, dtypes, shapes, bytes; not the file bytes, whose header order a
    writer may vary); JSON files by their content with keys sorted and lists of names (peft's `target_modules`,
    written in set order, which changes with the hash seed) sorted.
    """
    h = hashlib.sha256()
    for path in adapter_files(aligned_dir, kind):
        h.update(path.name.encode() + b"\0")
        h.update(_canonical_digest(path).encode())
    return h.hexdigest()


def _canonical_digest(path: Path) -> str:
    if path.suffix == ".json":
        def canon(obj):
            if isinstance(obj, dict):
                return {k: canon(v) for k, v in obj.items()}
            if isinstance(obj, list) and all(isinstance(v, str) for v in obj):
                return sorted(obj)
            return [canon(v) for v in obj] if isinstance(obj, list) else obj

        text = json.dumps(canon(json.loads(path.read_text())), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()
    if path.suffix == ".safetensors":
        h = hashlib.sha256()
        for name, t in sorted((k, v) for k, v in read_safetensors(path).items() if k != "__metadata__"):
            t = t.contiguous()
            h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        return h.hexdigest()
    return sha256_path(path)


def save_base_weights(encoder, out_dir: str | Path) -> str:
    """Write a random-weight base encoder's state to out_dir/base_weights.safetensors; return its sha256."""
    path = Path(out_dir) / BASE_WEIGHTS
    save_safetensors(encoder.state_dict(), path, {"encoder": encoder.spec.name})
    return sha256_path(path)


def save_aligned(out_dir: str | Path, encoder, peft_model, audio_head: ProjectionHead, text_head: ProjectionHead,
                 info: dict, trained_sha256: list[str] | None = None) -> str:
    """Write the adapter (peft dir, or the full encoder if `peft_model` is None), heads and align_config.json.

    Args:
        info: align_config.json content; "kind", "adapter_sha256", "heads" (and "trained_items") are filled in here.
        trained_sha256: sha256 of the audio bytes of each training recording -> trained_items.txt.
    Returns:
        the adapter sha256.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / ALIGN_CONFIG).unlink(missing_ok=True)  # the directory is incomplete until it is written again
    kind = "full" if peft_model is None else "lora"
    if kind == "lora":
        tmp = Path(tempfile.mkdtemp(prefix=".adapter-", dir=out))
        try:
            peft_model.save_pretrained(str(tmp))
            for name in os.listdir(tmp):
                os.replace(tmp / name, out / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        save_safetensors(encoder.state_dict(), out / FULL_WEIGHTS, {"encoder": encoder.spec.name})
    heads = {f"audio.{k}": v for k, v in audio_head.state_dict().items()}
    heads.update({f"text.{k}": v for k, v in text_head.state_dict().items()})
    save_safetensors(heads, out / HEADS)
    sha = adapter_sha256(out, kind)
    head_cfg = {"audio_in": audio_head.in_dim, "text_in": text_head.in_dim, "out": audio_head.out_dim,
                "hidden": audio_head.layers[0].out_features, "dropout": audio_head.layers[2].p}
    if trained_sha256 is not None:
        info = {**info, "trained_items": write_trained_items(out, trained_sha256)}
    write_json(out / ALIGN_CONFIG, {**info, "kind": kind, "adapter_sha256": sha, "heads": head_cfg})
    return sha


def write_trained_items(out_dir: str | Path, shas: list[str]) -> dict:
    """Write out_dir/trained_items.txt (sorted unique sha256, one a line); returns its align_config.json entry."""
    from adapters._io import write_text

    path = Path(out_dir) / TRAINED_ITEMS
    unique = sorted(set(shas))
    write_text(path, "".join(s + "\n" for s in unique))
    return {"file": TRAINED_ITEMS, "count": len(unique), "sha256": sha256_path(path)}


def trained_items(aligned_dir: str | Path) -> set[str] | None:
    """sha256s of the recordings an adapter trained on; None for an adapter written before they were recorded.

    Raises:
        AlignedError: trained_items.txt is missing or does not match the sha256 in align_config.json.
    """
    d = Path(aligned_dir)
    entry = read_align_config(d).get("trained_items")
    if entry is None:
        return None
    path = d / entry["file"]
    if not path.is_file():
        raise AlignedError(f"{path}: missing from the aligned directory; copy the whole directory or re-run the "
                           f"alignment")
    if sha256_path(path) != entry["sha256"]:
        raise AlignedError(f"{path}: sha256 differs from the one in {ALIGN_CONFIG}; the file was edited or "
                           f"truncated: copy it again from the alignment run")
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def read_align_config(aligned_dir: str | Path) -> dict:
    """align_config.json of a complete aligned directory, with every adapter file present."""
    d = Path(aligned_dir)
    if not d.is_dir():
        raise AlignedError(f"{d}: aligned-encoder directory not found; train one with `python -m align --encoder "
                           f"NAME ... --out {d}` or pass the right --aligned DIR")
    if not (d / ALIGN_CONFIG).is_file():
        raise AlignedError(f"{d / ALIGN_CONFIG}: missing; the directory is not a finished alignment run (was "
                           f"training interrupted? resume it with `python -m align --resume --out {d}`)")
    info = json.loads((d / ALIGN_CONFIG).read_text())
    for path in [*adapter_files(d, info.get("kind", "lora")), d / HEADS]:
        if not path.is_file():
            raise AlignedError(f"{path}: missing from the aligned directory; copy the whole directory or re-run "
                               f"the alignment")
    return info


def check_base(encoder, info: dict, aligned_dir: str | Path) -> None:
    """Raise AlignedError naming what differs between `encoder` and the base the adapter was trained on."""
    base, where = info["base"], Path(aligned_dir) / ALIGN_CONFIG
    if encoder.spec.name != base["encoder"]:
        raise AlignedError(f"{where}: adapter trained on encoder {base['encoder']!r}, not {encoder.spec.name!r}; "
                           f"build {base['encoder']!r}")
    config = _json_ready(encoder.config)
    if config != base["config"]:
        diff = sorted(k for k in set(config) | set(base["config"]) if config.get(k) != base["config"].get(k))
        raise AlignedError(f"{where}: base encoder config differs in {diff} (adapter: "
                           f"{ {k: base['config'].get(k) for k in diff} }, given: { {k: config.get(k) for k in diff} })"
                           f"; build the encoder with the adapter's config (tiny vs official?)")
    if encoder.weights_sha256 and encoder.weights_sha256 == base.get("weights_sha256"):
        return
    if state_sha256(encoder) != base["state_sha256"]:
        hint = (f"build the base with align.aligned.build_base({str(Path(aligned_dir))!r})"
                if base.get("random_init") else "pass the checkpoint the adapter was trained on (--weights)")
        raise AlignedError(f"{where}: base weights differ (adapter trained on weights sha256 "
                           f"{base.get('weights_sha256')}, given {encoder.weights_sha256}; state sha256 differs); "
                           f"{hint}")


def load_aligned(encoder, aligned_dir: str | Path, merge: bool = False):
    """Apply an aligned directory's adapter to a freshly built base encoder (in place) and return it.

    Args:
        encoder: the base AudioEncoder (build_encoder with the adapter's name, config and weights), no adapter yet.
        aligned_dir: a directory written by `python -m align`.
        merge: fold the LoRA update into the base weights (faster; same embeddings up to float rounding).
    Returns:
        the same encoder object in eval mode: embed/frames/prepare/spec/identity as before, `adapter_sha256` set.
    Raises:
        AlignedError: missing directory or file, another base encoder, or an encoder that already has an adapter.
    """
    from align.lora import has_lora

    aligned_dir = Path(aligned_dir)
    info = read_align_config(aligned_dir)
    if getattr(encoder, "adapter_sha256", None) or has_lora(encoder):
        raise AlignedError(f"{aligned_dir}: the encoder already carries an adapter; load onto a fresh base")
    check_base(encoder, info, aligned_dir)
    if info["kind"] == "lora":
        from peft import PeftModel

        peft_model = PeftModel.from_pretrained(encoder, str(aligned_dir), is_trainable=False)
        if merge:
            encoder = peft_model.merge_and_unload()
        else:   # the forward training used (align.lora_fast): the same numbers as at the end of training
            from align.lora_fast import use_fast_lora

            use_fast_lora(encoder)
    else:
        load_exact(encoder, {k: v for k, v in read_safetensors(aligned_dir / FULL_WEIGHTS).items()
                             if k != "__metadata__"}, aligned_dir / FULL_WEIGHTS)
    encoder.adapter_sha256 = adapter_sha256(aligned_dir, info["kind"])
    return encoder.requires_grad_(False).eval()


def load_heads(aligned_dir: str | Path, device: str = "cpu") -> tuple[ProjectionHead, ProjectionHead]:
    """(audio_head, text_head) of an aligned directory, in eval mode."""
    info = read_align_config(aligned_dir)
    h = info["heads"]
    state = read_safetensors(Path(aligned_dir) / HEADS)
    heads = []
    for side, in_dim in (("audio", h["audio_in"]), ("text", h["text_in"])):
        head = ProjectionHead(in_dim, h["hidden"], h["out"], h["dropout"])
        head.load_state_dict({k[len(side) + 1:]: v for k, v in state.items() if k.startswith(side + ".")})
        heads.append(head.to(device).eval())
    return heads[0], heads[1]


def build_base(aligned_dir: str | Path, weights: str | Path | None = None, device: str = "cpu",
               trust_checkpoint: bool = False):
    """The base encoder the adapter was trained on, from align_config.json: pretrained bases need `weights`
    (the checkpoint); a random-weight base (--tiny) is rebuilt by build_encoder, or, if that no longer gives the
    same weights, read from the directory's base_weights.safetensors."""
    from adapters import build_encoder

    aligned_dir = Path(aligned_dir)
    base = read_align_config(aligned_dir)["base"]
    config = {**base["config"], "base": "tiny" if base.get("tiny") else "official"}
    if weights is not None:
        return build_encoder(base["encoder"], weights=weights, config=config, trust_checkpoint=trust_checkpoint,
                             device=device)
    if not base.get("random_init"):
        raise AlignedError(f"{aligned_dir / ALIGN_CONFIG}: the base encoder {base['encoder']!r} has pretrained "
                           f"weights (sha256 {base.get('weights_sha256')}); pass weights=PATH (--weights)")
    encoder = build_encoder(base["encoder"], config=config)
    if state_sha256(encoder) != base["state_sha256"]:
        path = aligned_dir / BASE_WEIGHTS
        if not path.is_file():
            raise AlignedError(f"{path}: missing; it holds the random base weights the adapter was trained on")
        load_exact(encoder, {k: v for k, v in read_safetensors(path).items() if k != "__metadata__"}, path)
        encoder.weights_sha256, encoder.weights_path = sha256_path(path), str(path)
    return encoder.to(device).eval()


def build_aligned(aligned_dir: str | Path, weights: str | Path | None = None, device: str = "cpu",
                  trust_checkpoint: bool = False, merge: bool = False):
    """`build_base` + `load_aligned`: the aligned encoder from its directory alone (plus official weights)."""
    encoder = build_base(aligned_dir, weights, device, trust_checkpoint)
    return load_aligned(encoder, aligned_dir, merge).to(device)


def resolve_aligned_dir(value: str | Path | None, encoder: str, tiny: bool = False) -> Path:
    """evaluate.py --aligned: a given DIR; a Hugging Face Hub id ORG/NAME that is not a local path (the snapshot
    folder of its cached main revision, offline: adapters._hub); or (flag without value) runs/align/<encoder>[-tiny]/.

    Raises:
        HubNotCachedError: ORG/NAME not in the local Hugging Face cache (the message says `hf download ORG/NAME`).
    """
    from adapters._hub import parse_hub_id, snapshot_folder
    from align.config import default_out_dir

    if not value:
        return default_out_dir(encoder, tiny)
    ref = parse_hub_id(value)
    if ref is None:
        return Path(value)
    if ref.file:
        raise AlignedError(f"{value}: an aligned adapter is a whole repository, not one file; pass --aligned "
                           f"{ref.repo}")
    return snapshot_folder(ref).path
