"""Fail early: decode every alignment recording before step 0, so a bad file stops a run in its first minute.

`check_audio` decodes each training and held-out item exactly as training will (align.data.decode_clip: read,
resample, task preprocessing, encoder.prepare) and collects every AudioReadError. Cost: one decode of every
recording. With cache_audio (the default) the decoded training clips are kept and handed to ClipDataset, so
training never decodes them again and the check adds no decoding; held-out clips are decoded once more for the
final held-out loss (they are not kept in memory for the whole run). Without cache_audio training decodes every
clip again anyway, and the check is one extra pass (split over the torchrun processes). Decoding runs in
--num-workers processes when that is > 0.

`apply_policy` then follows `--on-error`: "fail" (default) writes every bad file to OUT/errors.json and raises
one AudioCheckError naming the count, the first few files and that list; "skip" leaves them out, writes the same
list and says "skipped N files (see OUT/errors.json)"; the count is recorded in align_config.json
(data.skipped_unreadable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from adapters._errors import AudioReadError, UserError
from align.data import AlignItem, AlignmentData, decode_clip

ERRORS = "errors.json"
SHOWN = 3   # bad files named in the error message


class AudioCheckError(UserError, ValueError):
    """Alignment recordings could not be decoded and --on-error is fail; the message names them and the list."""


@dataclass
class AudioCheck:
    """clips: path -> decoded clip [S'] float32 (the items asked to be kept); errors: {"path", "reason", "split"}."""

    clips: dict[str, np.ndarray] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)


class _Decode:
    """items[i] -> (path, clip or None, error or None), for a DataLoader (worker processes decode in parallel)."""

    def __init__(self, items: list[AlignItem], sample_rate: int, prepare, keep: set[str]):
        self.items, self.sample_rate, self.prepare, self.keep = items, sample_rate, prepare, keep

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        item = self.items[i]
        try:
            clip = decode_clip(item, self.sample_rate, self.prepare)
        except AudioReadError as exc:
            return item.path, None, {"path": exc.path, "reason": exc.reason, "split": item.split}
        return item.path, clip if item.path in self.keep else None, None


def _as_is(sample):
    return sample


def check_audio(items: list[AlignItem], sample_rate: int, prepare: Callable[[np.ndarray], np.ndarray],
                keep: set[str] = frozenset(), progress: bool = True, rank: int = 0, world: int = 1,
                workers: int = 0) -> AudioCheck:
    """Decode items; keep the clips of paths in `keep`, list every AudioReadError.

    Args:
        sample_rate: the encoder's rate (Hz); prepare: encoder.prepare.
        keep: paths whose decoded clip is returned (decoded on every process: each needs its own copy).
        rank, world: under torchrun the other items are split over the processes (item i on rank i % world);
            gather the errors of all ranks afterwards.
        workers: decoding worker processes (--num-workers; 0 = in this process).
    """
    import torch
    from tqdm.auto import tqdm

    out = AudioCheck()
    mine = [it for i, it in enumerate(items) if it.path in keep or i % world == rank]
    loader = torch.utils.data.DataLoader(_Decode(mine, sample_rate, prepare, set(keep)), batch_size=None,
                                         num_workers=workers, collate_fn=_as_is,
                                         generator=torch.Generator())   # leaves the global RNG (the seed's draws) alone
    for path, clip, error in tqdm(loader, desc="checking audio", unit="file", disable=not progress or not mine,
                                  leave=False):
        if error is not None:
            out.errors.append(error)
        elif clip is not None:
            out.clips[path] = clip
    return out


def merge_errors(*lists: list[dict]) -> list[dict]:
    """Errors of several lists (e.g. of several processes), one per path, sorted by path."""
    return sorted({e["path"]: e for errors in lists for e in errors}.values(), key=lambda e: e["path"])


def apply_policy(data: AlignmentData, errors: list[dict], on_error: str, out_dir: str | Path,
                 write: bool = True) -> AlignmentData:
    """Follow --on-error for the bad files: raise (fail) or drop them from `data` (skip). See the module docstring.

    Args:
        errors: every bad file (hashing failures in data.unreadable are added here).
        write: write OUT/errors.json and say what was skipped (rank 0 only).
    Raises:
        AudioCheckError: on_error "fail" and some file is bad, or "skip" left no training item.
    """
    from adapters._io import write_json

    errors = merge_errors(data.unreadable, errors)
    path = Path(out_dir) / ERRORS
    if write:
        write_json(path, {"n_errors": len(errors), "on_error": on_error, "errors": errors})
    if not errors:
        return replace(data, unreadable=[])
    if on_error == "fail":
        shown = "; ".join(f"{e['path']} ({e['reason']})" for e in errors[:SHOWN])
        more = f" and {len(errors) - SHOWN} more" if len(errors) > SHOWN else ""
        raise AudioCheckError(f"{len(errors)} alignment recording(s) cannot be decoded: {shown}{more}; full list in "
                              f"{path}; fix or remove them, or rerun with --on-error skip to leave them out")
    bad = {e["path"] for e in errors}
    train = [i for i in data.train if i.path not in bad]
    if not train:
        raise AudioCheckError(f"no training recording can be decoded ({len(errors)} bad files, listed in {path}); "
                              f"fix the files or choose other --tasks")
    if write:
        print(f"skipped {len(errors)} files (see {path})", flush=True)
    return replace(data, train=train, val=[i for i in data.val if i.path not in bad], unreadable=errors)
