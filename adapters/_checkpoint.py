"""Safe checkpoint reading and strict key checking, shared by every encoder family."""

from __future__ import annotations

import hashlib
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

from adapters._errors import CheckpointError

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")

# torch names the first class its weights-only unpickler refused as "Unsupported global: GLOBAL argparse.Namespace".
_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([A-Za-z_][\w.]*\w)")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _plain(text: str, limit: int = 200) -> str:
    """Text copied from a library error, safe to print: no ANSI sequences or control characters, one line."""
    text = _CONTROL.sub(" ", _ANSI.sub("", text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3].rstrip() + "..."


def _refusal(path: Path, exc: BaseException) -> str:
    """One-line message for a checkpoint that weights-only loading refused, naming the classes when torch does."""
    names = list(dict.fromkeys(_UNSUPPORTED_GLOBAL.findall(_ANSI.sub("", str(exc)))))
    if names:
        what = f"{'a pickled Python object' if len(names) == 1 else 'pickled Python objects'} ({', '.join(names)})"
        detail = ""
    else:
        what = "pickled Python objects"
        first = next((line for line in (_plain(x) for x in str(exc).splitlines()) if line), "")
        detail = f" ({first})" if first else ""
    shown = _CONTROL.sub("?", _ANSI.sub("", str(path)))
    return (f"{shown}: the checkpoint holds {what} besides tensors; loading it can run code. If you trust the file, "
            f"pass --trust-checkpoint (trust_checkpoint=True), or rewrite it once as safetensors with "
            f"`python -m adapters convert {shown} OUT.safetensors --trust-checkpoint`.{detail}")


def sha256_path(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 hex digest of a file, or of a directory's weight files (sorted names and contents)."""
    path = Path(path)
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and (p.suffix in WEIGHT_SUFFIXES or p.name == "config.json"))
    if not files:
        raise CheckpointError(f"{path}: no weight files found (looked for {', '.join(WEIGHT_SUFFIXES)})")
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode())
        with open(f, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    return h.hexdigest()


def torch_load(path: str | Path, trust: bool = False) -> object:
    """torch.load on CPU with weights_only=True unless the user explicitly trusts the file.

    Raises CheckpointError when the file is missing, unreadable, or needs pickled objects and `trust` is False.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    if path.suffix == ".safetensors":
        return read_safetensors(path)
    try:
        return torch.load(str(path), map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(_refusal(path, exc)) from exc
    except Exception as exc:
        raise CheckpointError(f"{path}: cannot read as a PyTorch checkpoint ({exc})") from exc


def read_safetensors(path: str | Path) -> dict:
    """All tensors of a .safetensors file, plus its string metadata under the key '__metadata__' if any."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            out = {k: f.get_tensor(k) for k in f.keys()}
            meta = f.metadata()
    except Exception as exc:
        raise CheckpointError(f"{path}: cannot read as safetensors ({exc})") from exc
    if meta:
        out["__metadata__"] = dict(meta)
    return out


def strip_prefix(state: Mapping, prefix: str) -> dict:
    """Keys starting with `prefix`, with the prefix removed; other keys are dropped."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def check_state_dict(model, state: Mapping, source: str | Path, ignore: tuple[str, ...] = ()) -> None:
    """Raise CheckpointError unless `state` has exactly the model's keys with the model's shapes.

    Args:
        model: the nn.Module the weights are for.
        state: name -> tensor.
        source: file named in the error.
        ignore: key prefixes that may be present in `state` without being used (documented per encoder).
    """
    expected = model.state_dict()
    missing = sorted(k for k in expected if k not in state)
    unexpected = sorted(k for k in state if k not in expected and not k.startswith(ignore or ("\0",)))
    reshaped = sorted(
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or reshaped:
        parts = []
        for title, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", reshaped)):
            if keys:
                shown = ", ".join(keys[:12]) + (f", ... ({len(keys)} in all)" if len(keys) > 12 else "")
                parts.append(f"{title}: {shown}")
        raise CheckpointError(f"{source}: checkpoint does not match the architecture — " + "; ".join(parts)
                              + ". Check that the file is the right model and that the config matches it.")


def load_exact(model, state: Mapping, source: str | Path, ignore: tuple[str, ...] = ()) -> None:
    """check_state_dict, then load every tensor into `model`."""
    check_state_dict(model, state, source, ignore)
    wanted = {k: v for k, v in state.items() if k in model.state_dict()}
    model.load_state_dict(wanted, strict=True)


def save_safetensors(state: Mapping, path: str | Path, metadata: Mapping[str, str] | None = None) -> None:
    """Write tensors atomically as safetensors (contiguous copies; shared storage is broken up)."""
    from safetensors.torch import save_file

    from adapters._io import atomic_path

    tensors = {k: v.detach().contiguous().clone() for k, v in state.items() if hasattr(v, "detach")}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=dict(metadata or {}))
