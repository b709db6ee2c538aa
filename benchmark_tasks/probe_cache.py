"""Probe results cached by content, so that re-scoring unchanged embeddings reads the result instead of refitting.

A probe's result is a pure function of what it is given: the embeddings, each item's label, split and group, the
probe spec (probe name, hyper-parameters, seeds, bootstrap resamples, ...), the probe code and the numeric
libraries. `probe_key` hashes all of them (sha256), so any change gives a new key and a miss; nothing is ever
invalidated by date. Entries live in a ResultStore (benchmark_tasks/result_store.py: atomic writes, verified reads;
a corrupt entry is reported in one line on stderr and recomputed).

The result is stored exactly: Python scalars as JSON (floats round-trip through repr), numpy arrays and scalars
with their dtype and raw bytes, tuples as tuples. So a cached result is equal, value and type, to the one computed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import platform
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from benchmark_tasks.result_store import ResultStore

FORMAT = "acula-zoo probe result 1"
_LIBRARIES = ("numpy", "scipy", "scikit-learn", "torch", "threadpoolctl")


class NotStorable(TypeError):
    """A result holding a value the codec cannot store exactly (it is then returned, not cached)."""


@lru_cache(maxsize=1)
def library_versions() -> dict:
    """Versions of Python and of the libraries the probes compute with (part of every key)."""
    out = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def probe_key(embeddings: np.ndarray, labels: list, splits: list[str], groups: list[str], spec: dict) -> str:
    """64-hex sha256 over everything a probe result depends on.

    Args:
        embeddings: [N, D] the probe's input, hashed as its dtype, shape and raw bytes.
        labels, splits, groups: per item, in the rows' order.
        spec: the probe spec (name, hyper-parameters, seeds, code version, ...); JSON-serialisable.
    """
    emb = np.ascontiguousarray(embeddings)
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT, "spec": spec, "libraries": library_versions()}, sort_keys=True,
                        default=str).encode())
    h.update(json.dumps([list(labels), list(splits), list(groups)], default=str).encode())
    h.update(f"\n{emb.dtype.str} {emb.shape}\n".encode())
    h.update(emb.tobytes())
    return h.hexdigest()


def _encode(value):
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise NotStorable(f"an object array ({value.dtype})")
        arr = np.ascontiguousarray(value)
        return {"__ndarray__": [arr.dtype.str, list(arr.shape), base64.b64encode(arr.tobytes()).decode()]}
    if isinstance(value, np.generic):   # before float: np.float64 is a float, and must come back as np.float64
        return {"__npscalar__": [value.dtype.str, base64.b64encode(value.tobytes()).decode()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value) or any(k.startswith("__") and k.endswith("__") for k in value):
            raise NotStorable(f"a dict with keys {list(value)[:5]}")
        return {k: _encode(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise NotStorable(f"a value of type {type(value).__name__}")


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__ndarray__" in value:
        dtype, shape, data = value["__ndarray__"]
        return np.frombuffer(base64.b64decode(data), dtype=np.dtype(dtype)).reshape(shape).copy()
    if "__npscalar__" in value:
        dtype, data = value["__npscalar__"]
        return np.frombuffer(base64.b64decode(data), dtype=np.dtype(dtype))[0]
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    return {k: _decode(v) for k, v in value.items()}


def encode_result(result: dict) -> bytes:
    """A probe result as bytes (raises NotStorable for a value it cannot store exactly)."""
    return json.dumps({"format": FORMAT, "result": _encode(result)}, allow_nan=True).encode()


def decode_result(payload: bytes) -> dict:
    """The probe result `encode_result` stored; ValueError when the payload is not one."""
    try:
        doc = json.loads(payload)
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}, expected {FORMAT!r}")
        return _decode(doc["result"])
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ValueError(f"not a probe result ({exc})") from None


def cached_probe(root: str | Path | None, key: str, compute: Callable[[], dict]) -> tuple[dict, bool]:
    """(result, True) from the store under `root` when it holds `key`, else (compute(), False), storing the result.

    root None: no cache, always computed. A stored entry that fails its checks, or whose payload does not decode,
    is reported on stderr in one line and recomputed (and overwritten).
    """
    if root is None:
        return compute(), False
    store = ResultStore(root, "probe result")
    payload = store.load(key)
    if payload is not None:
        try:
            return decode_result(payload), True
        except ValueError as exc:
            store.report_corrupt(store.path(key), f"undecodable payload: {exc}")
    result = compute()
    try:
        store.save(key, encode_result(result))
    except NotStorable:
        pass   # returned as computed; the next run computes it again
    return result, False
