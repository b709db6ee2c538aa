"""Encoder registry: decorator registration, discovery of adapters/* modules, build by name."""

from __future__ import annotations

import copy
import difflib
import importlib
import pkgutil
from pathlib import Path

from adapters._errors import UnknownEncoderError

_REGISTRY: dict[str, type] = {}
_DISCOVERED = False
ENTRY_POINT_GROUP = "acula_zoo.encoders"
RANDOM_INIT_SEED = 0


def register_encoder(name: str):
    """Class decorator: register an AudioEncoder subclass under `name` (must equal its spec.name)."""

    def wrap(cls):
        if cls.spec.name != name:
            raise ValueError(f"register_encoder({name!r}) on {cls.__name__} whose spec.name is {cls.spec.name!r}")
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"encoder name {name!r} is already registered by {_REGISTRY[name].__module__}")
        for required in ("official", "tiny"):
            if required not in cls.configs:
                raise ValueError(f"{cls.__name__}.configs must define {required!r}")
        _REGISTRY[name] = cls
        return cls

    return wrap


def _discover() -> None:
    """Import every public module of the adapters package, then any installed entry-point plugins."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    import adapters

    for mod in pkgutil.iter_modules(adapters.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"adapters.{mod.name}")
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()
    _DISCOVERED = True


def list_encoders() -> list[str]:
    """Names of all registered encoders, sorted."""
    _discover()
    return sorted(_REGISTRY)


def get_encoder_class(name: str):
    """The class registered under `name`; UnknownEncoderError with the closest names otherwise."""
    _discover()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.4)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownEncoderError(f"no encoder named {name!r}.{hint} Known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def resolve_config(cls, config: str | dict) -> dict:
    """'official' | 'tiny' | {overrides[, 'base': 'official'|'tiny']} -> a full config dict."""
    if isinstance(config, str):
        if config not in cls.configs:
            raise ValueError(f"{cls.spec.name}: unknown config {config!r}; choose from {sorted(cls.configs)}")
        return copy.deepcopy(cls.configs[config])
    overrides = dict(config)
    base = overrides.pop("base", "official")
    out = resolve_config(cls, base)
    unknown = sorted(set(overrides) - set(out))
    if unknown:
        raise ValueError(f"{cls.spec.name}: unknown config keys {unknown}; known: {sorted(out)}")
    out.update(overrides)
    return out


def read_converted(path: Path, name: str) -> tuple[dict, dict] | None:
    """(state, cfg) of a file written by `python -m adapters convert`, None for any other file.

    Such a file is a .safetensors whose metadata names the encoder and holds its config as JSON.
    """
    import json

    from adapters._checkpoint import read_safetensors
    from adapters._errors import CheckpointError

    if not (path.is_file() and path.suffix == ".safetensors"):
        return None
    state = read_safetensors(path)
    meta = state.pop("__metadata__", {})
    if "encoder" not in meta or "cfg" not in meta:
        return None
    if meta["encoder"] != name:
        raise CheckpointError(f"{path}: converted from encoder {meta['encoder']!r}, not {name!r}; "
                              f"use --encoder {meta['encoder']}")
    return state, json.loads(meta["cfg"])


def build_encoder(name: str, weights: str | Path | None = None, config: str | dict = "official",
                  trust_checkpoint: bool = False, device: str = "cpu"):
    """Build a registered encoder in eval mode.

    Args:
        name: registered encoder name (see list_encoders()).
        weights: local checkpoint file or directory in the family's published format, or a Hugging Face Hub id
            `ORG/NAME[:FILE]` (a string that is not an existing local path) resolved offline from the local Hub
            cache (adapters._hub.resolve_weights), or None.
        config: "official", "tiny" (toy width, random weights: for tests and the demo) or a dict of overrides.
            Without weights, parameters are drawn from torch.manual_seed(RANDOM_INIT_SEED): reproducible.
        trust_checkpoint: allow checkpoints that contain pickled Python objects.
    Raises:
        ValueError: official config without weights (for encoders that need them); the message says where the
            official weights are published.
        CheckpointError: weights that do not match the architecture (names the keys).
        HubError: a Hub id that is not cached (the message holds the `hf download` command) or is ambiguous.
    The weights identity (weights_sha256) is that of the resolved local file; `weights_path` is that file and
    `weights_source` is "hub:ORG/NAME@<commit>[:FILE]" for a Hub id, None for a local path.
    """
    from adapters._checkpoint import sha256_path

    cls = get_encoder_class(name)
    cfg = resolve_config(cls, config)
    if weights is None and cls.spec.requires_weights and config == "official":
        raise ValueError(
            f"{name}: the official configuration needs its pretrained weights. Download them from "
            f"{cls.spec.weights} and pass weights=PATH (--weights PATH, or --weights ORG/NAME[:FILE] once it is in "
            f"the local Hugging Face cache), or use config='tiny' (--tiny) for a "
            f"random-weight model of the same architecture.")
    state, source = None, None
    if weights is not None:
        from adapters._hub import parse_hub_id, resolve_weights

        ref = parse_hub_id(weights)
        if ref is not None:
            resolved = resolve_weights(ref, cls.spec.weights)
            weights, source = resolved.path, resolved.source
        weights = Path(weights)
        converted = read_converted(weights, name)
        state, file_cfg = converted if converted else cls.read_checkpoint(weights, trust=trust_checkpoint)
        cfg.update(file_cfg)
    if state is None:
        # random weights (tiny configs, weight-free baselines) are drawn from a fixed seed without touching the
        # caller's RNG: the same name and config always give the same model, so its cached embeddings stay valid
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_INIT_SEED)
            model = cls(cfg)
    else:
        model = cls(cfg)
    if state is not None:
        model.load_weights(state, weights)
        model.weights_sha256 = sha256_path(weights)
        model.weights_path = str(weights)
        model.weights_source = source
    return model.to(device).eval()
