"""Your own data: `--tasks csv:path/to/manifest.csv`.

Columns: `path,label[,split][,group][,any metadata...]`. Paths are relative to the CSV's folder (or absolute).
Labels that are all numbers with more than 10 distinct values, or not whole numbers, make a regression task
(MAE); anything else is classification (labels sorted; AUROC, binary when there are two). Without a `split`
column the items get a seeded, group-disjoint, label-stratified 60/20/20 split; a `split` column without any
"val" rows gets 20% of its train groups carved out as validation (the probe picks its epoch there); without a
`group` column every file is its own group. Every other column is kept as metadata (alignment writes reports from it).

Reports read a manifest's columns by name (benchmark_tasks/clinical.py): recognised names (age, sex, site,
device, crackles, wheeze, murmur, diagnosis, symptoms, ...) become clinical facts, identifiers are recognised by
name (id, uid, uuid, patient, subject, participant, file, path, *_id, ...) or listed explicitly
(`manifest_task(path, id_columns=...)`, the CLI's --id-columns) and never reported, and every other column is
reported as "<column>: <value>".
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from benchmark_tasks._registry import DataContext, register_dataset
from benchmark_tasks._spec import Item, TaskSpec
from benchmark_tasks.datasets.manifest_checks import (
    ManifestError,
    ManifestPolicy,
    check_overlaps,
    find_overlaps,
    resolve_audio,
)
from benchmark_tasks.splits import group_stratified_split

REQUIRED = ("path", "label")
SPLITS = ("train", "val", "test")
# No fixed columns: the generic rules of benchmark_tasks/clinical.py read them (see the module docstring).
CLINICAL_FIELDS: tuple = ()
IDENTIFIER_COLUMNS: tuple = ()
IGNORED_COLUMNS: tuple = ()


__all__ = ["ManifestError", "ManifestPolicy", "manifest_task", "read_manifest", "task_name"]
# EVAR's metadata csv (evar/metadata/<task>.csv: file_name,label,split with train/valid/test) is read as is
_COLUMN_ALIASES = {"file_name": "path"}
_SPLIT_ALIASES = {"valid": "val", "validation": "val", "dev": "val"}


def _column(name: str, present: list[str]) -> str:
    """A column's name, with EVAR's `file_name` read as `path` (when the file has no `path` column itself)."""
    alias = _COLUMN_ALIASES.get(name)
    return alias if alias and alias not in present else name


def _read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        present = [c.strip() for c in (reader.fieldnames or [])]
        cols = [_column(c, present) for c in present]
        missing = [c for c in REQUIRED if c not in cols]
        if missing:
            raise ManifestError(f"{path}: missing column(s) {missing}; found {cols}. "
                                f"A manifest needs path,label[,split][,group][,metadata...]")
        rows = [{_column(k.strip(), present): (v or "").strip() for k, v in r.items() if k is not None}
                for r in reader]
    if not rows:
        raise ManifestError(f"{path}: no rows")
    for n, r in enumerate(rows, start=2):
        if r.get("split") in _SPLIT_ALIASES:
            r["split"] = _SPLIT_ALIASES[r["split"]]
        if not r["path"] or r["label"] == "":
            raise ManifestError(f"{path}: line {n} has an empty path or label")
        if "split" in r and r["split"] and r["split"] not in SPLITS:
            raise ManifestError(f"{path}: line {n}: split {r['split']!r} is not one of {SPLITS}")
    return rows


def _is_regression(values: list[str]) -> bool:
    try:
        nums = [float(v) for v in values]
    except ValueError:
        return False
    return len(set(nums)) > 10 or any(x != int(x) for x in nums)


def task_name(path: Path) -> str:
    """A manifest's default task name: its file stem, or its folder's name for a file called manifest.csv."""
    return path.parent.name if path.stem.lower() == "manifest" and path.parent.name else path.stem


def manifest_task(path: str | Path, id_columns: str | list[str] | tuple[str, ...] | None = None,
                  name: str | None = None, policy: ManifestPolicy | None = None) -> TaskSpec:
    """Build the TaskSpec of a manifest (reads the CSV once to learn its labels).

    id_columns: metadata columns that identify a subject or recording beyond the name rules (a list, or a
        comma-separated string as --id-columns gives it); kept in options["id_columns"], never reported.
    name: the task's name (`csv:PATH#name=NAME`; default `task_name(path)`); its id is "csv-<name>".
    policy: what the manifest may do that is refused by default (overlaps, paths outside its folder).
    """
    path = Path(path).expanduser().resolve()
    policy = policy or ManifestPolicy()
    rows = _read_rows(path)
    ids = [c.strip() for c in (id_columns.split(",") if isinstance(id_columns, str) else id_columns or ()) if c.strip()]
    unknown = [c for c in ids if c not in rows[0]]
    if unknown:
        raise ManifestError(f"{path}: --id-columns {unknown} are not columns of the manifest; found {list(rows[0])}")
    labels = [r["label"] for r in rows]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    regression = _is_regression(labels)
    has_split = "split" in rows[0] and all(r["split"] for r in rows)
    # a validation split the author gave is used as given; one we carve (no `val` rows, or no split column) exists
    # only for OPERA's probe to pick an epoch: the logreg probe cross-validates on train + carved val instead
    validation = "given" if has_split and any(r["split"] == "val" for r in rows) else "carved"
    name = name or task_name(path)
    common = dict(id=f"csv-{name}", name=f"manifest {name} ({path.name})", dataset="csv", modality="custom",
                  split="official" if has_split else "group-stratified", group_by="group",
                  input_seconds={"default": None}, notes=f"manifest sha256 {digest}",
                  options={"manifest": str(path), "manifest_sha256": digest, "suite": "csv", "validation": validation,
                           "allow_overlap": policy.allow_overlap, "allow_outside_root": policy.allow_outside_root,
                           **({"id_columns": ids} if ids else {})})
    if regression:
        return TaskSpec(kind="regression", metric="mae", seeds=1, **common)
    classes = tuple(sorted(set(labels), key=lambda v: (float(v), v) if _is_number(v) else (float("inf"), v)))
    if len(classes) < 2:
        raise ManifestError(f"{path}: the label column has a single value {classes}; nothing to classify")
    return TaskSpec(kind="binary" if len(classes) == 2 else "multiclass", metric="auroc", labels=classes,
                    class_findings=tuple(f"the recording is labelled {c}" for c in classes), **common)


def _is_number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


@register_dataset("csv", ())
def read_manifest(task: TaskSpec, ctx: DataContext) -> list[Item]:
    path = Path(task.options["manifest"])
    rows = _read_rows(path)
    groups = [r.get("group") or f"item{i}" for i, r in enumerate(rows)]
    if task.kind == "regression":
        labels = [float(r["label"]) for r in rows]
    else:
        index = {c: i for i, c in enumerate(task.labels)}
        labels = [index[r["label"]] for r in rows]
    if task.split == "official":
        splits = [r["split"] for r in rows]
        if "val" not in splits:  # the probe selects its epoch on validation: carve it from train, group-disjoint
            train = [i for i, sp in enumerate(splits) if sp == "train"]
            carved = group_stratified_split([labels[i] for i in train], [groups[i] for i in train], seed=0,
                                            fractions=(0.8, 0.2, 0.0), stratify=task.kind != "regression")
            for i, sp in zip(train, carved):
                splits[i] = "val" if sp == "val" else "train"
    else:
        splits = group_stratified_split(labels, groups, seed=0, stratify=task.kind != "regression")
    policy = ManifestPolicy(bool(task.options.get("allow_overlap")), bool(task.options.get("allow_outside_root")))
    audio_paths = resolve_audio(path, [r["path"] for r in rows], policy)
    explicit_groups = any(r.get("group") for r in rows)
    check_overlaps(path, find_overlaps(path, audio_paths, [r["label"] for r in rows], splits, groups,
                                       explicit_groups and task.split == "official"), policy)
    items = []
    for r, label, split, group, audio in zip(rows, labels, splits, groups, audio_paths):
        meta = {k: v for k, v in r.items() if k not in ("path", "label", "split", "group")}
        items.append(Item(path=str(audio), label=label, split=split, group=group, metadata=meta, uid=r["path"]))
    return items
