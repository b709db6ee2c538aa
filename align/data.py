"""Alignment data: (audio clip, report) pairs from benchmark tasks, with a guard against test-set leakage.

AcuLa aligned on metadata that covers whole evaluation datasets, test splits included (REFERENCE.md §2). Here an
item is never used for alignment when its file is in the test split of any task that could be read (by resolved
path and by sha256 of its bytes), nor when its subject / patient (Item.group) is in the test split of a task of the
same dataset: align.guard documents the rule and which tasks must be readable. `allow_test_items=True` keeps such
items; the run records that it did.

Items of several tasks that share a recording (the demo's crackles and wheeze tasks read the same lung clips)
become one alignment item: one clip, one report, its metadata merged over the tasks. A recording that is in the
training splits of one task and the validation split of another counts as training data (and is then not used
for the held-out loss). A file that cannot even be opened for hashing is listed in `AlignmentData.unreadable`
(align.audio_check then fails or skips, like every undecodable file).

Audio (`ClipDataset`): adapters.load_audio at the encoder's rate, the task's own preprocessing (as the benchmark
applies it: benchmark_tasks.preprocess.preprocess_for), `encoder.prepare` (the encoder's length policy), then a
fixed training length so clips batch together: a longer clip is cropped (at a seeded random offset that changes
every epoch, or at its start), a shorter one is tiled by repetition from its start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from adapters._audio import load_audio, repeat_to
from align.guard import TestIndex, build_test_index, file_sha, group_keys, guard_manifests, resolved
from align.reports import is_missing, template_report
from benchmark_tasks._registry import DataContext, load_items
from benchmark_tasks._spec import TaskSpec
from benchmark_tasks.clinical import Declaration, task_declaration
from benchmark_tasks.preprocess import Preprocess, preprocess_for

__all__ = ["AlignItem", "AlignmentData", "ClipDataset", "TestIndex", "build_test_index", "collect_for",
           "collect_items", "decode_clip", "write_reports"]


@dataclass(frozen=True)
class AlignItem:
    """One recording to align: its audio, the metadata its report is written from, and where it came from."""

    path: str
    sha256: str
    modality: str
    split: str
    task_ids: tuple[str, ...]
    metadata: dict
    prep: Preprocess
    report: str = ""
    declaration: Declaration | None = None   # what the metadata keys mean (benchmark_tasks.clinical)


@dataclass
class AlignmentData:
    """Training and held-out items plus what the leakage guard did (see `summary`).

    excluded: one dict per excluded (task, item): path, task, split, match ("file" or "group"), reason.
    unreadable: files left out because they could not be read: {"path", "reason", "split"} (--on-error skip).
    """

    train: list[AlignItem]
    val: list[AlignItem]
    excluded: list[dict]
    test_items_used: int
    index: TestIndex
    tasks: list[str]
    splits: tuple[str, ...]
    allow_test_items: bool
    unreadable: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        """JSON-ready record for align_config.json."""
        policy = ("test items allowed" if self.allow_test_items else
                  "train splits only; items in any task's test split excluded (matched by path and sha256), and "
                  "recordings of any subject in the test split of a task of the same dataset")
        return {"tasks": self.tasks, "items": len(self.train), "val_items": len(self.val),
                "splits": list(self.splits), "split_policy": policy,
                "allow_test_items": self.allow_test_items, "test_items_used": self.test_items_used,
                "excluded_test_items": len(self.excluded),
                "excluded_by_group": sum(e["match"] == "group" for e in self.excluded),
                **self.index.summary(), "skipped_unreadable": len(self.unreadable)}


def _merge(a: dict, b: dict) -> dict:
    """a's fields, with b's filling the ones a lacks."""
    out = dict(a)
    for k, v in b.items():
        if is_missing(out.get(k)) and not is_missing(v):
            out[k] = v
    return out


def _leak(index: TestIndex, path: str, sha: str, key) -> tuple[str, str] | None:
    """("file" | "group", reason) when the item must not be aligned on, else None."""
    tasks = index.tasks_of(path, sha)
    if tasks:
        return "file", f"in the test split of {', '.join(sorted(tasks))}"
    tasks = index.group_tasks(key)
    if tasks:
        return "group", f"subject {key[1]!r} of {key[0]} is in the test split of {', '.join(sorted(tasks))}"
    return None


def collect_items(tasks: list[TaskSpec], ctx: DataContext, encoder_name: str, splits=("train",),
                  val_split: str | None = "val", allow_test_items: bool = False, index: TestIndex | None = None,
                  guard: list[TaskSpec] = (), allow_unguarded: bool = False) -> AlignmentData:
    """Alignment items of `tasks` (reports not written yet; see `write_reports`).

    Args:
        encoder_name: picks the task preprocessing (benchmark_tasks.preprocess.preprocess_for).
        splits: splits used for training; val_split: split for the held-out loss (None = none).
        index: a TestIndex (default: `build_test_index(ctx, tasks, guard, allow_unguarded)`).
        guard: extra guard tasks (--guard manifests); allow_unguarded: see align.guard.build_test_index.
    """
    index = index if index is not None else build_test_index(ctx, tasks, guard, allow_unguarded)
    by_sha: dict[str, AlignItem] = {}
    excluded, used_test, unreadable = [], set(), []
    wanted = set(splits) | ({val_split} if val_split else set())
    for task in tasks:
        prep = preprocess_for(task, encoder_name)
        items = load_items(task, ctx)
        for it, key in zip(items, group_keys(task, items)):
            if it.split not in wanted:
                continue
            path = resolved(it.path)
            split = "train" if it.split in splits else "val"
            try:
                sha = file_sha(path)
            except OSError as exc:
                unreadable.append({"path": path, "reason": f"cannot read file: {exc.strerror or exc}",
                                   "split": split})
                continue
            leak = _leak(index, path, sha, key)
            if leak and not allow_test_items:
                excluded.append({"path": path, "task": task.id, "split": it.split, "match": leak[0],
                                 "reason": leak[1]})
                continue
            if leak:
                used_test.add(sha)
            new = AlignItem(path, sha, task.modality, split, (task.id,), dict(it.metadata), prep,
                            declaration=task_declaration(task))
            old = by_sha.get(sha)
            if old is not None:
                split = "train" if "train" in (old.split, split) else "val"
                new = AlignItem(old.path, sha, old.modality, split, tuple(dict.fromkeys(old.task_ids + new.task_ids)),
                                _merge(old.metadata, new.metadata), old.prep, declaration=old.declaration)
            by_sha[sha] = new
    items = sorted(by_sha.values(), key=lambda i: i.path)
    train = [i for i in items if i.split == "train"]
    if not train and not unreadable:
        raise ValueError(f"no alignment items: tasks {[t.id for t in tasks]} have no {'/'.join(splits)} items "
                         f"left ({len(excluded)} excluded as test items or test subjects of some task); check "
                         f"--tasks/--splits")
    return AlignmentData(train, [i for i in items if i.split == "val"], excluded, len(used_test), index,
                         [t.id for t in tasks], tuple(splits), allow_test_items, unreadable)


def collect_for(cfg) -> AlignmentData:
    """collect_items with everything an AlignConfig says: tasks, splits, data, --guard, --allow-unguarded."""
    from benchmark_tasks import select_tasks

    return collect_items(select_tasks(cfg.tasks, id_columns=cfg.id_columns), cfg.data_context(), cfg.encoder,
                         cfg.split_list(), cfg.val_split or None, cfg.allow_test_items,
                         guard=guard_manifests(cfg.guard, cfg.id_columns), allow_unguarded=cfg.allow_unguarded)


def write_reports(items: list[AlignItem], mode: str = "template", seed: int = 0, llm_base_url: str | None = None,
                  llm_model: str | None = None, cache_dir: str | Path | None = None) -> list[AlignItem]:
    """The items with their `report` filled in: template writer (offline) or LLMReportWriter (cached)."""
    from dataclasses import replace

    if mode == "template":
        reports = [template_report(i.metadata, i.modality, seed, declaration=i.declaration) for i in items]
    elif mode == "llm":
        from align.llm_reports import LLMReportWriter

        writer = LLMReportWriter(llm_base_url, llm_model,
                                 cache_dir=Path(cache_dir) / "llm_reports" if cache_dir else None)
        reports = writer.write([i.metadata for i in items], [i.modality for i in items],
                               declarations=[i.declaration for i in items])
    else:
        raise ValueError(f"write_reports: mode {mode!r} not in ('template', 'llm')")
    return [replace(i, report=r) for i, r in zip(items, reports)]


def decode_clip(item: AlignItem, sample_rate: int, prepare: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Item decoded at `sample_rate` (Hz), task-preprocessed and length-prepared: [S'] float32 in [-1, 1].

    Raises:
        AudioReadError: the file is missing, empty, not audio, or holds non-finite samples (names the file).
    """
    return prepare(item.prep.apply(load_audio(item.path, sample_rate), sample_rate))


class ClipDataset(torch.utils.data.Dataset):
    """Fixed-length training clips: item i -> ([train_samples] float32 in [-1, 1], i).

    Args:
        items: AlignItems.
        sample_rate: the encoder's rate (Hz).
        prepare: the encoder's length policy, [S] -> [S'] (encoder.prepare).
        train_samples: output length in samples.
        crop: "random" (offset drawn from (seed, epoch, i): reproducible, different every epoch) or "start".
        cache_audio: keep each decoded, prepared clip in memory after its first use.
        preloaded: path -> clip already decoded by `decode_clip` (align.audio_check); used when cache_audio.
    """

    def __init__(self, items: list[AlignItem], sample_rate: int, prepare: Callable[[np.ndarray], np.ndarray],
                 train_samples: int, crop: str = "random", seed: int = 0, cache_audio: bool = True,
                 preloaded: dict[str, np.ndarray] | None = None):
        self.items, self.sample_rate, self.prepare = items, int(sample_rate), prepare
        self.train_samples, self.crop, self.seed, self.cache_audio = int(train_samples), crop, int(seed), cache_audio
        self.epoch = 0
        preloaded = preloaded if cache_audio and preloaded else {}
        self._cache: dict[int, np.ndarray] = {i: preloaded[it.path] for i, it in enumerate(items)
                                              if it.path in preloaded}

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def clip(self, i: int) -> np.ndarray:
        """Item i decoded at the encoder's rate, task-preprocessed and length-prepared (before the crop)."""
        if i in self._cache:
            return self._cache[i]
        wav = decode_clip(self.items[i], self.sample_rate, self.prepare)
        if self.cache_audio:
            self._cache[i] = wav
        return wav

    def fit(self, wav: np.ndarray, i: int) -> np.ndarray:
        n = self.train_samples
        if len(wav) <= n:
            return repeat_to(wav, n)
        start = 0
        if self.crop == "random":
            start = int(np.random.default_rng([self.seed, self.epoch, i]).integers(0, len(wav) - n + 1))
        return wav[start:start + n]

    def __getitem__(self, i: int):
        return torch.from_numpy(np.ascontiguousarray(self.fit(self.clip(i), i), dtype=np.float32)), i
