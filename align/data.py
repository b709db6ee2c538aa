"""Alignment data: (audio clip, report) pairs from benchmark tasks, with a guard against test-set leakage.

AcuLa aligned on metadata that covers whole evaluation datasets, test splits included (REFERENCE.md §2). Here an
item is never used for alignment when its audio is in the test split of ANY registered task whose data is
available in the DataContext, matched by resolved file path and by sha256 of the file's bytes (so a copy under
another name is caught too). `allow_test_items=True` keeps such items; the run records that it did.

Items of several tasks that share a recording (the demo's crackles and wheeze tasks read the same lung clips)
become one alignment item: one clip, one report, its metadata merged over the tasks. A recording that is in the
training splits of one task and the validation split of another counts as training data (and is then not used
for the held-out loss).

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
from align.reports import is_missing, template_report
from benchmark_tasks._registry import DataContext, all_tasks, load_items
from benchmark_tasks._spec import TaskSpec
from benchmark_tasks.embeddings import file_sha256
from benchmark_tasks.preprocess import Preprocess, preprocess_for


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


@dataclass
class TestIndex:
    """Test-split recordings of every task whose data could be read: path -> tasks, sha256 -> tasks."""

    paths: dict[str, set] = field(default_factory=dict)
    shas: dict[str, set] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)
    unavailable: dict[str, list] = field(default_factory=dict)  # reason -> task ids

    def tasks_of(self, path: str, sha: str) -> set:
        return self.paths.get(path, set()) | self.shas.get(sha, set())


@dataclass
class AlignmentData:
    """Training and held-out items plus what the leakage guard did (see `summary`)."""

    train: list[AlignItem]
    val: list[AlignItem]
    excluded: list[dict]
    test_items_used: int
    index: TestIndex
    tasks: list[str]
    splits: tuple[str, ...]
    allow_test_items: bool

    def summary(self) -> dict:
        """JSON-ready record for align_config.json."""
        return {"tasks": self.tasks, "items": len(self.train), "val_items": len(self.val),
                "splits": list(self.splits), "split_policy": "train splits only; items in any task's test split "
                "excluded (matched by path and sha256)" if not self.allow_test_items else "test items allowed",
                "allow_test_items": self.allow_test_items, "test_items_used": self.test_items_used,
                "excluded_test_items": len(self.excluded), "leakage_guard_tasks": self.index.checked,
                "leakage_guard_unavailable": self.index.unavailable}


def _resolved(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def build_test_index(ctx: DataContext, extra_tasks: list[TaskSpec] = ()) -> TestIndex:
    """Index the test split of every registered task (and `extra_tasks`) whose data can be read.

    A task whose reader raises FileNotFoundError (benchmark_tasks DatasetError: no --data-root, dataset folder
    or split file missing) is listed in `unavailable` under the reason. Demo tasks are only read when the demo
    is already generated or one of `extra_tasks` is a demo task (reading them would otherwise generate it).
    """
    from benchmark_tasks.demo import demo_root

    index = TestIndex()
    tasks = {t.id: t for t in [*all_tasks(), *extra_tasks]}
    using_demo = any(t.dataset == "demo" for t in extra_tasks)
    for task in tasks.values():
        if task.dataset == "demo" and not using_demo and not demo_root(ctx, task.options.get("seed", 0)).exists():
            index.unavailable.setdefault("demo not generated", []).append(task.id)
            continue
        try:
            items = load_items(task, ctx)
        except FileNotFoundError as exc:
            index.unavailable.setdefault(str(exc), []).append(task.id)
            continue
        index.checked.append(task.id)
        for it in (i for i in items if i.split == "test"):
            path = _resolved(it.path)
            index.paths.setdefault(path, set()).add(task.id)
            if Path(path).is_file():
                index.shas.setdefault(_sha(path), set()).add(task.id)
    return index


_SHA_CACHE: dict[tuple, str] = {}


def _sha(path: str) -> str:
    """sha256 of a file, memoised by (path, size, mtime)."""
    st = Path(path).stat()
    key = (path, st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = file_sha256(path)
    return _SHA_CACHE[key]


def _merge(a: dict, b: dict) -> dict:
    """a's fields, with b's filling the ones a lacks."""
    out = dict(a)
    for k, v in b.items():
        if is_missing(out.get(k)) and not is_missing(v):
            out[k] = v
    return out


def collect_items(tasks: list[TaskSpec], ctx: DataContext, encoder_name: str, splits=("train",),
                  val_split: str | None = "val", allow_test_items: bool = False,
                  index: TestIndex | None = None) -> AlignmentData:
    """Alignment items of `tasks` (reports not written yet; see `write_reports`).

    Args:
        encoder_name: picks the task preprocessing (benchmark_tasks.preprocess.preprocess_for).
        splits: splits used for training; val_split: split for the held-out loss (None = none).
        index: a TestIndex (default: built with `build_test_index(ctx, tasks)`).
    """
    index = index if index is not None else build_test_index(ctx, tasks)
    by_sha: dict[str, AlignItem] = {}
    excluded, used_test = [], set()
    wanted = set(splits) | ({val_split} if val_split else set())
    for task in tasks:
        prep = preprocess_for(task, encoder_name)
        for it in load_items(task, ctx):
            if it.split not in wanted:
                continue
            path = _resolved(it.path)
            sha = _sha(path)
            in_test = index.tasks_of(path, sha)
            if in_test and not allow_test_items:
                excluded.append({"path": path, "task": task.id, "split": it.split,
                                 "reason": f"in the test split of {', '.join(sorted(in_test))}"})
                continue
            if in_test:
                used_test.add(sha)
            split = "train" if it.split in splits else "val"
            new = AlignItem(path, sha, task.modality, split, (task.id,), dict(it.metadata), prep)
            old = by_sha.get(sha)
            if old is not None:
                split = "train" if "train" in (old.split, split) else "val"
                new = AlignItem(old.path, sha, old.modality, split, tuple(dict.fromkeys(old.task_ids + new.task_ids)),
                                _merge(old.metadata, new.metadata), old.prep)
            by_sha[sha] = new
    items = sorted(by_sha.values(), key=lambda i: i.path)
    train = [i for i in items if i.split == "train"]
    if not train:
        raise ValueError(f"no alignment items: tasks {[t.id for t in tasks]} have no {'/'.join(splits)} items "
                         f"left ({len(excluded)} excluded as test items of some task); check --tasks/--splits")
    return AlignmentData(train, [i for i in items if i.split == "val"], excluded, len(used_test), index,
                         [t.id for t in tasks], tuple(splits), allow_test_items)


def write_reports(items: list[AlignItem], mode: str = "template", seed: int = 0, llm_base_url: str | None = None,
                  llm_model: str | None = None, cache_dir: str | Path | None = None) -> list[AlignItem]:
    """The items with their `report` filled in: template writer (offline) or LLMReportWriter (cached)."""
    from dataclasses import replace

    if mode == "template":
        reports = [template_report(i.metadata, i.modality, seed) for i in items]
    elif mode == "llm":
        from align.llm_reports import LLMReportWriter

        writer = LLMReportWriter(llm_base_url, llm_model,
                                 cache_dir=Path(cache_dir) / "llm_reports" if cache_dir else None)
        reports = writer.write([i.metadata for i in items], [i.modality for i in items])
    else:
        raise ValueError(f"write_reports: mode {mode!r} not in ('template', 'llm')")
    return [replace(i, report=r) for i, r in zip(items, reports)]


class ClipDataset(torch.utils.data.Dataset):
    """Fixed-length training clips: item i -> ([train_samples] float32 in [-1, 1], i).

    Args:
        items: AlignItems.
        sample_rate: the encoder's rate (Hz).
        prepare: the encoder's length policy, [S] -> [S'] (encoder.prepare).
        train_samples: output length in samples.
        crop: "random" (offset drawn from (seed, epoch, i): reproducible, different every epoch) or "start".
        cache_audio: keep each decoded, prepared clip in memory after its first use.
    """

    def __init__(self, items: list[AlignItem], sample_rate: int, prepare: Callable[[np.ndarray], np.ndarray],
                 train_samples: int, crop: str = "random", seed: int = 0, cache_audio: bool = True):
        self.items, self.sample_rate, self.prepare = items, int(sample_rate), prepare
        self.train_samples, self.crop, self.seed, self.cache_audio = int(train_samples), crop, int(seed), cache_audio
        self.epoch = 0
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def clip(self, i: int) -> np.ndarray:
        """Item i decoded at the encoder's rate, task-preprocessed and length-prepared (before the crop)."""
        if i in self._cache:
            return self._cache[i]
        item = self.items[i]
        wav = load_audio(item.path, self.sample_rate)
        wav = self.prepare(item.prep.apply(wav, self.sample_rate))
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
