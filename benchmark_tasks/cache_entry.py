"""One embedding-cache entry on disk: the vector plus what proves it is the right, whole vector.

Layout (little-endian): 8-byte magic `AZEMB001`, a 4-byte header length, a JSON header
`{"namespace", "key", "dtype": "float32", "shape": [D], "sha256", "warnings"}`, then the D float32 values.
`sha256` covers the namespace, the key (the audio file's sha256) and the value bytes. So a truncated, zero-byte
or garbage file, a file copied from another entry, and a file rewritten with other (even valid) values are all
told apart from a good entry. A bad entry raises CorruptEntry naming the file and why; the caller recomputes it.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np

MAGIC = b"AZEMB001"
SUFFIX = ".emb"


class CorruptEntry(ValueError):
    """A cache entry that cannot be trusted; `path` and `reason` say which and why."""

    def __init__(self, path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{self.path}: {reason}")


def _digest(namespace: str, key: str, data: bytes) -> str:
    h = hashlib.sha256()
    h.update(f"{namespace}\n{key}\n".encode())
    h.update(data)
    return h.hexdigest()


def frame(magic: bytes, header: dict, payload: bytes) -> bytes:
    """`magic`, a 4-byte little-endian header length, `header` as JSON (sorted keys), then `payload`: the on-disk
    layout of an embedding entry and of a stored result (benchmark_tasks/result_store.py)."""
    blob = json.dumps(header, sort_keys=True).encode()
    return magic + struct.pack("<I", len(blob)) + blob + payload


def unframe(path: str | Path, raw: bytes, magic: bytes, what: str) -> tuple[bytes, bytes]:
    """(header JSON bytes, payload) of bytes laid out by `frame`; CorruptEntry ("not a `what`") when `raw` is too
    short or does not start with `magic`. The caller parses and checks the header."""
    start = len(magic) + 4
    if len(raw) < start or not raw.startswith(magic):
        raise CorruptEntry(path, f"not a {what} ({len(raw)} bytes, no {magic.decode()} header)")
    (n,) = struct.unpack("<I", raw[len(magic):start])
    return raw[start:start + n], raw[start + n:]


def encode_entry(namespace: str, key: str, vector: np.ndarray, warnings: list[str] = ()) -> bytes:
    """The bytes of an entry for a [D] vector (stored as float32) and the audio warnings of its file."""
    vec = np.ascontiguousarray(vector, dtype="<f4").reshape(-1)
    data = vec.tobytes()
    return frame(MAGIC, {"namespace": namespace, "key": key, "dtype": "float32", "shape": [int(vec.size)],
                         "sha256": _digest(namespace, key, data), "warnings": list(warnings)}, data)


def decode_entry(path: str | Path, namespace: str, key: str, dim: int | None = None) -> tuple[np.ndarray, list]:
    """([D] float32, the file's audio warnings) from an entry, after every check; raises CorruptEntry (or OSError
    if unreadable)."""
    blob, data = unframe(path, Path(path).read_bytes(), MAGIC, "cache entry")
    try:
        header = json.loads(blob)
        shape = [int(s) for s in header["shape"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptEntry(path, f"unreadable entry header ({exc})") from None
    if header.get("namespace") != namespace or header.get("key") != key:
        raise CorruptEntry(path, "entry belongs to another audio file or encoder (key mismatch)")
    if len(shape) != 1 or len(data) != 4 * shape[0]:
        raise CorruptEntry(path, f"truncated: {len(data)} value bytes for shape {shape}")
    if dim is not None and shape[0] != dim:
        raise CorruptEntry(path, f"holds a {shape[0]}-d vector, the encoder gives {dim}-d")
    if _digest(namespace, key, data) != header.get("sha256"):
        raise CorruptEntry(path, "checksum mismatch: the values were changed after writing")
    vec = np.frombuffer(data, dtype="<f4").astype(np.float32)
    if not np.isfinite(vec).all():
        raise CorruptEntry(path, "holds NaN or infinite values")
    return vec, [str(w) for w in header.get("warnings", [])]
