"""A content-addressed store of small computed results (probe results, leaderboard figures), verified when read.

One file per key: ROOT/<key[:2]>/<key>.res. Layout: 8-byte magic `AZRES001`, a 4-byte little-endian header
length, a JSON header `{"key", "n_bytes", "sha256"}`, then the payload bytes. `sha256` covers the key and the
payload, so a truncated or zero-byte file, a file copied from another key and a payload changed after writing are
all told apart from a good entry (the framing is benchmark_tasks/cache_entry.py's `frame` / `unframe`). A bad
entry is never trusted: `load` reports it on stderr in one line and returns None, and the caller recomputes and
saves over it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from adapters._io import atomic_path
from benchmark_tasks.cache_entry import CorruptEntry, frame, unframe

MAGIC = b"AZRES001"
SUFFIX = ".res"


def _digest(key: str, payload: bytes) -> str:
    h = hashlib.sha256()
    h.update(f"{key}\n".encode())
    h.update(payload)
    return h.hexdigest()


def encode_stored(key: str, payload: bytes) -> bytes:
    """The bytes of one entry holding `payload` under `key`."""
    return frame(MAGIC, {"key": key, "n_bytes": len(payload), "sha256": _digest(key, payload)}, payload)


def decode_stored(path: str | Path, key: str) -> bytes:
    """The payload of the entry at `path` after every check; raises CorruptEntry (or OSError if unreadable)."""
    blob, payload = unframe(path, Path(path).read_bytes(), MAGIC, "stored result")
    try:
        header = json.loads(blob)
        n_bytes = int(header["n_bytes"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptEntry(path, f"unreadable header ({exc})") from None
    if header.get("key") != key:
        raise CorruptEntry(path, "entry belongs to another key")
    if len(payload) != n_bytes:
        raise CorruptEntry(path, f"truncated: {len(payload)} of {n_bytes} payload bytes")
    if _digest(key, payload) != header.get("sha256"):
        raise CorruptEntry(path, "checksum mismatch: the payload was changed after writing")
    return payload


class ResultStore:
    """Entries under one root folder; `what` names them in messages ("probe result", "leaderboard figure")."""

    def __init__(self, root: str | Path, what: str = "stored result"):
        self.root, self.what = Path(root), what

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}{SUFFIX}"

    def load(self, key: str) -> bytes | None:
        """The payload stored under `key`; None when there is none or it is corrupt (then one line on stderr)."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            return decode_stored(path, key)
        except (CorruptEntry, OSError) as exc:
            self.report_corrupt(path, getattr(exc, "reason", str(exc)))
            return None

    def report_corrupt(self, path: Path, reason: str) -> None:
        print(f"{self.what} cache entry {path} is corrupt ({reason}); recomputing", file=sys.stderr, flush=True)

    def save(self, key: str, payload: bytes) -> Path:
        """Store `payload` under `key` atomically (a reader never sees a partial entry); returns its path."""
        path = self.path(key)
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(encode_stored(key, payload))
        return path
