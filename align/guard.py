"""The leakage guard: which recordings alignment must never train on.

Alignment must not see the benchmark's test recordings, nor other recordings of the people in them (an encoder
adapted on one recording of a patient has learned that patient's chest, heart or voice). An alignment item is
excluded when
  1. its file is a test item of any task whose data could be read, matched by resolved path and by sha256 of the
     file's bytes (so a renamed copy is caught too), or
  2. its (dataset key, group) is that of a test item of such a task. `Item.group` is the subject / patient /
     participant id; ids are only comparable within one dataset, hence the dataset key.

Guard tasks are the tasks whose test split MUST be read:
  - every alignment task;
  - every registered task of a dataset that an alignment task reads (aligning on T5 guards every ICBHI task);
  - every manifest passed with `--guard csv:PATH[,csv:PATH...]`.
A guard task that cannot be read (its split file or data missing) stops the run with LeakageGuardError, unless
`allow_unguarded`, which lists the tasks left unguarded in align_config.json. Registered tasks of other datasets
are read when their data are there (rules 1 and 2 then apply to them too) and otherwise only noted as unavailable:
a dataset missing from --data-root cannot be what is aligned on. The demo is read only when it already exists or
is aligned on (reading it generates it).

Dataset key: the task's `dataset`, plus the reader options that select another recording set (the demo's
`seed` and `scale`). All csv manifests, aligned or --guard, share the one dataset key "csv": their `group` columns
must use one id scheme. A manifest row without a group (the reader names it `item<row>`) has no group to match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from adapters._errors import UserError
from benchmark_tasks._registry import DataContext, all_tasks, load_items
from benchmark_tasks._spec import Item, TaskSpec
from benchmark_tasks.embeddings import file_sha256

GroupKey = tuple[str, str]   # (dataset key, group id)
DATA_OPTIONS = ("seed", "scale")   # reader options that select another set of recordings of one dataset


class LeakageGuardError(UserError, ValueError):
    """The test split of a guard task cannot be read, or a --guard value is malformed."""


@dataclass
class TestIndex:
    """Test-split recordings of every task that could be read.

    paths: resolved path -> task ids; shas: sha256 of the bytes -> task ids; groups: (dataset key, group) -> task
    ids. checked: tasks whose test split was read; required: the guard tasks; unavailable: reason -> ids of other
    tasks not read; unguarded: guard task id -> why it could not be read (only with allow_unguarded);
    manifests: the --guard manifest paths.
    """

    paths: dict[str, set] = field(default_factory=dict)
    shas: dict[str, set] = field(default_factory=dict)
    groups: dict[GroupKey, set] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)
    required: list[str] = field(default_factory=list)
    unavailable: dict[str, list] = field(default_factory=dict)
    unguarded: dict[str, str] = field(default_factory=dict)
    manifests: list[str] = field(default_factory=list)
    allow_unguarded: bool = False

    def tasks_of(self, path: str, sha: str) -> set:
        """Tasks whose test split holds this file (by path or content)."""
        return self.paths.get(path, set()) | self.shas.get(sha, set())

    def group_tasks(self, key: GroupKey | None) -> set:
        """Tasks whose test split holds a recording of this (dataset key, group)."""
        return set() if key is None else self.groups.get(key, set())

    def summary(self) -> dict:
        """JSON-ready record of what the guard read (align_config.json, data section)."""
        return {"leakage_guard_tasks": self.checked, "leakage_guard_required": self.required,
                "leakage_guard_unavailable": self.unavailable, "guard_manifests": self.manifests,
                "allow_unguarded": self.allow_unguarded, "unguarded_tasks": self.unguarded}


def dataset_key(task: TaskSpec) -> str:
    """The dataset a task's group ids belong to: `dataset`, plus any seed/scale reader option."""
    extra = "".join(f":{k}={task.options[k]}" for k in DATA_OPTIONS if k in task.options)
    return task.dataset + extra


def group_keys(task: TaskSpec, items: list[Item]) -> list[GroupKey | None]:
    """(dataset key, group) of each item in reader order; None for an empty group or a manifest row without one."""
    ds = dataset_key(task)
    out: list[GroupKey | None] = []
    for row, it in enumerate(items):
        group = str(it.group or "").strip()
        synthesized = task.dataset == "csv" and group == f"item{row}"   # manifest.read_manifest's per-row default
        out.append(None if not group or synthesized else (ds, group))
    return out


def guard_manifests(spec: str | None, id_columns: str | None = None) -> list[TaskSpec]:
    """TaskSpecs of a --guard value `csv:PATH[,csv:PATH...]` (a missing or malformed manifest raises);
    id_columns: --id-columns, as for the alignment manifests."""
    from benchmark_tasks.datasets.manifest import manifest_task

    parts = [p.strip() for p in re.split(r",(?=\s*csv:)", spec or "") if p.strip()]
    bad = [p for p in parts if not p.startswith("csv:")]
    if bad:
        raise LeakageGuardError(f"--guard {spec!r}: {bad[0]!r} is not csv:PATH; pass manifests as "
                                f"csv:PATH[,csv:PATH...]")
    return [manifest_task(p[4:], id_columns=id_columns) for p in parts]


def guard_tasks(align_tasks: list[TaskSpec], guard: list[TaskSpec] = ()) -> list[TaskSpec]:
    """The tasks whose test split must be read: the alignment tasks, every registered task of their datasets,
    and the --guard manifests (see the module docstring)."""
    datasets = {t.dataset for t in align_tasks}
    tasks = [*align_tasks, *(t for t in all_tasks() if t.dataset in datasets), *guard]
    return list({t.id: t for t in tasks}.values())


def build_test_index(ctx: DataContext, align_tasks: list[TaskSpec] = (), guard: list[TaskSpec] = (),
                     allow_unguarded: bool = False) -> TestIndex:
    """Index the test split of every registered task, alignment task and guard manifest that can be read.

    Raises:
        LeakageGuardError: a guard task cannot be read (its reader raises FileNotFoundError, e.g. a DatasetError
            for a missing split file), unless allow_unguarded.
    """
    from benchmark_tasks.demo import demo_root

    required = guard_tasks(align_tasks, guard)
    index = TestIndex(required=[t.id for t in required], allow_unguarded=allow_unguarded,
                      manifests=[t.options["manifest"] for t in guard])
    must = set(index.required)
    failed: dict[str, str] = {}
    for task in {t.id: t for t in [*all_tasks(), *required]}.values():
        if task.id not in must and task.dataset == "demo" and not demo_root(ctx, task.options.get("seed", 0)).exists():
            index.unavailable.setdefault("demo not generated", []).append(task.id)
            continue
        try:
            items = load_items(task, ctx)
        except FileNotFoundError as exc:
            if task.id in must:
                failed[task.id] = str(exc)
            else:
                index.unavailable.setdefault(str(exc), []).append(task.id)
            continue
        index.checked.append(task.id)
        _add_test_items(index, task, items)
    if failed and not allow_unguarded:
        first = next(iter(failed))
        raise LeakageGuardError(
            f"leakage guard: the test split of {len(failed)} guard task(s) cannot be read ({', '.join(failed)}; "
            f"{first}: {failed[first]}), so its patients cannot be kept out of alignment; make the data readable "
            f"(--data-root, --opera-root) or pass --allow-unguarded (recorded in align_config.json)")
    index.unguarded = failed
    return index


def _add_test_items(index: TestIndex, task: TaskSpec, items: list[Item]) -> None:
    for it, key in zip(items, group_keys(task, items)):
        if it.split != "test":
            continue
        path = resolved(it.path)
        index.paths.setdefault(path, set()).add(task.id)
        if Path(path).is_file():
            index.shas.setdefault(file_sha(path), set()).add(task.id)
        if key is not None:
            index.groups.setdefault(key, set()).add(task.id)


def resolved(path: str) -> str:
    return str(Path(path).expanduser().resolve())


_SHA_CACHE: dict[tuple, str] = {}


def file_sha(path: str) -> str:
    """sha256 of a file's bytes, memoised by (path, size, mtime). Raises OSError when it cannot be read."""
    st = Path(path).stat()
    key = (path, st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = file_sha256(path)
    return _SHA_CACHE[key]
