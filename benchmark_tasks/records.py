"""Result records: one JSON per (encoder identity, task, protocol); the leaderboard reads only these files."""

from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from adapters._io import write_json

SCHEMA_VERSION = 1
_PACKAGES = ("acula-zoo", "torch", "torchaudio", "transformers", "timm", "peft", "numpy", "scikit-learn")


@lru_cache(maxsize=1)
def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


@lru_cache(maxsize=1)
def git_revision() -> str | None:
    """HEAD commit of the acula-zoo checkout (with "+dirty" when it has uncommitted changes), or None."""
    here = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def record_filename(record: dict) -> str:
    """`<task>__<encoder label>__<identity hash>__<probe>.json` (filesystem-safe)."""
    label = record["encoder_label"].replace("/", "_").replace(" ", "_")
    return f"{record['task']}__{label}__{record['identity_hash']}__{record['protocol']['probe']}.json"


def new_record(encoder, encoder_label: str, task, protocol: dict, split_fp: str, n_items: dict) -> dict:
    """The fixed part of a record; the caller adds scores and timings."""
    ident = encoder.identity()
    return {
        "schema": SCHEMA_VERSION,
        "encoder": encoder.spec.name,
        "encoder_label": encoder_label,
        "identity_hash": encoder.identity_hash(),
        "weights_sha256": ident["weights_sha256"],
        "adapter_sha256": ident["adapter_sha256"],
        "encoder_config": ident["config"],
        "frontend": ident["frontend"],
        "pretrained_on": list(encoder.spec.pretrained_on),
        "alignment": getattr(encoder, "alignment", None),
        "task": task.id,
        "task_name": task.name,
        "task_version": task.version,
        "dataset": task.dataset,
        "modality": task.modality,
        "kind": task.kind,
        "metric": task.metric,
        "protocol": protocol,
        "split_fingerprint": split_fp,
        "n_items": n_items,
        "versions": package_versions(),
        "git_revision": git_revision(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def write_record(out_dir: str | Path, record: dict) -> Path:
    """Write atomically to out_dir/records/<record_filename>; returns the path."""
    path = Path(out_dir) / "records" / record_filename(record)
    write_json(path, record)
    return path


def load_records(out_dir: str | Path) -> list[dict]:
    """Every record under out_dir/records (or out_dir itself if it holds the JSON files directly)."""
    root = Path(out_dir)
    folder = root / "records" if (root / "records").is_dir() else root
    out = []
    for path in sorted(folder.glob("*.json")):
        rec = json.loads(path.read_text())
        if rec.get("schema") == SCHEMA_VERSION and "task" in rec:
            rec["record_path"] = str(path)   # where it was read (its per-item test scores lie beside it)
            out.append(rec)
    return out
