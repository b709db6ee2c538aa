"""Task registry: each dataset module registers its TaskSpecs and a reader that yields Items."""

from __future__ import annotations

import difflib
import importlib
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from adapters._errors import UserError
from benchmark_tasks._spec import Item, TaskSpec


class TaskNameClash(UserError, ValueError):
    """Two different tasks of one run would have the same id."""


class UnknownTaskError(UserError, KeyError):
    """No task is registered under the requested id."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])

def default_cache_dir() -> Path:
    """$ACULA_ZOO_CACHE, else ~/.cache/acula_zoo: demo data, embeddings, teacher and report caches."""
    return Path(os.environ.get("ACULA_ZOO_CACHE", Path.home() / ".cache" / "acula_zoo"))


@dataclass(frozen=True)
class DataContext:
    """Where datasets live on disk.

    data_root: folder holding one sub-folder per dataset (see each dataset module for its expected name).
    opera_root: an OPERA checkout, for the split files OPERA publishes (None when not needed).
    cache_dir: where generated data (the demo) and caches go (default: `default_cache_dir()`).
    """

    data_root: Path | None = None
    opera_root: Path | None = None
    cache_dir: Path = field(default_factory=default_cache_dir)


Reader = Callable[[TaskSpec, DataContext], list[Item]]
_TASKS: dict[str, TaskSpec] = {}
_READERS: dict[str, Reader] = {}
_DISCOVERED = False


def register_dataset(dataset: str, tasks: list[TaskSpec] | tuple[TaskSpec, ...]):
    """Decorator for a dataset reader `fn(task, ctx) -> list[Item]`: registers it and its tasks."""

    def wrap(fn: Reader) -> Reader:
        _READERS[dataset] = fn
        for t in tasks:
            if t.dataset != dataset:
                raise ValueError(f"task {t.id} declares dataset {t.dataset!r}, registered under {dataset!r}")
            if t.id in _TASKS and _TASKS[t.id] != t:
                raise ValueError(f"task id {t.id!r} registered twice")
            _TASKS[t.id] = t
        return fn

    return wrap


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    import benchmark_tasks.datasets as datasets

    importlib.import_module("benchmark_tasks.demo")
    for mod in pkgutil.iter_modules(datasets.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"benchmark_tasks.datasets.{mod.name}")
    _DISCOVERED = True


def all_tasks() -> list[TaskSpec]:
    """Every registered task, in registration order."""
    _discover()
    return list(_TASKS.values())


def get_task(task_id: str) -> TaskSpec:
    _discover()
    if task_id not in _TASKS:
        close = difflib.get_close_matches(task_id, list(_TASKS), n=3, cutoff=0.4)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownTaskError(f"no task {task_id!r}.{hint} See `python evaluate.py --list-tasks`.")
    return _TASKS[task_id]


def select_tasks(selector: str, id_columns: str | None = None, manifest_policy=None) -> list[TaskSpec]:
    """Resolve a --tasks value: 'demo', 'opera', 'cardiac', 'all', a modality, 'csv:PATH[#name=NAME]', or
    'ID,ID,...'.

    id_columns: for csv manifests, metadata columns that identify a subject or recording (--id-columns).
    manifest_policy: benchmark_tasks.datasets.manifest_checks.ManifestPolicy for csv manifests (default: refuse
        overlaps and paths outside the manifest's folder).
    Raises:
        UnknownTaskError: an id that is not registered. TaskNameClash: two manifests under one task name.
    """
    tasks = all_tasks()
    out: list[TaskSpec] = []
    for part in [p.strip() for p in selector.split(",") if p.strip()]:
        if part.startswith("csv:"):
            from benchmark_tasks.datasets.manifest import manifest_task

            where, _, fragment = part[4:].partition("#")
            name = fragment[len("name="):] if fragment.startswith("name=") else None
            if fragment and name is None:
                raise UnknownTaskError(f"--tasks {part!r}: after '#' only name=NAME is understood")
            out.append(manifest_task(where, id_columns=id_columns, name=name, policy=manifest_policy))
        elif part == "all":
            out += tasks
        elif part == "demo":
            out += [t for t in tasks if t.dataset == "demo"]
        elif part == "opera":
            out += [t for t in tasks if t.options.get("suite") == "opera"]
        elif part == "cardiac":
            out += [t for t in tasks if t.options.get("suite") == "cardiac"]
        elif part in {t.modality for t in tasks}:
            out += [t for t in tasks if t.modality == part]
        else:
            out.append(get_task(part))
    seen: dict[str, TaskSpec] = {}
    for t in out:
        first = seen.setdefault(t.id, t)
        if first is not t and first.options.get("manifest") != t.options.get("manifest"):
            raise TaskNameClash(f"two manifests make task {t.id!r} ({first.options.get('manifest')} and "
                                f"{t.options.get('manifest')}): their records would overwrite each other; name "
                                f"one with csv:PATH#name=NAME")
    return list(seen.values())


def load_items(task: TaskSpec, ctx: DataContext) -> list[Item]:
    """Items of `task` from its dataset reader."""
    _discover()
    if task.dataset not in _READERS:
        raise KeyError(f"task {task.id}: no reader registered for dataset {task.dataset!r}")
    return _READERS[task.dataset](task, ctx)
