"""Write an acula-zoo encoder's embeddings as the feature file OPERA's linear_eval.py reads, in OPERA's row order.

Steps: items of the task (benchmark_tasks readers) -> matched to the rows of OPERA's file list -> checked against
OPERA's label and split arrays row by row -> embedded through the shared content-addressed cache
(benchmark_tasks.embeddings) with the task's OPERA preprocessing -> [N_rows, D] float32 .npy written atomically,
plus a json sidecar naming the encoder identity. See plugin/opera/__init__.py for the OPERA commands.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adapters._errors import UserError
from adapters._io import atomic_path, write_json
from benchmark_tasks._registry import DataContext, default_cache_dir, get_task, load_items
from benchmark_tasks._spec import TaskSpec, split_fingerprint
from benchmark_tasks.embeddings import extract_embeddings, file_sha256, pipeline_version
from benchmark_tasks.preprocess import Preprocess, preprocess_for
from plugin.opera.layouts import OPERA_LAYOUTS, OPERA_RESERVED, OperaLayout, entry_key, item_keys, split_ok

PRETRAIN_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


class OperaExportError(UserError, ValueError):
    """The task's items and OPERA's arrays disagree, or an OPERA file is missing; the message names the file."""


@dataclass
class OperaExport:
    """What export_opera_features wrote.

    feature_path: the [rows, dim] float32 .npy; sidecar_path: its json description; command: the OPERA command
    that evaluates it (run from the OPERA checkout); placeholder_rows: rows OPERA drops by label (zeros);
    row_items: the task's Item of each row, in OPERA's row order (None for a placeholder row);
    split_fingerprint: benchmark_tasks' fingerprint of the task's items (the one evaluate.py records).
    """

    task_id: str
    feature_path: Path
    sidecar_path: Path
    rows: int
    dim: int
    command: str
    placeholder_rows: list[int] = field(default_factory=list)
    computed: int = 0
    cached: int = 0
    row_items: list = field(default_factory=list)
    split_fingerprint: str = ""


def layout_for(task_id: str) -> OperaLayout:
    if task_id not in OPERA_LAYOUTS:
        raise OperaExportError(f"task {task_id!r} has no OPERA feature layout; OPERA's linear_eval.py evaluates "
                               f"{', '.join(OPERA_LAYOUTS)} (see plugin/opera/layouts.py)")
    return OPERA_LAYOUTS[task_id]


def opera_feature_name(pretrain: str, dim: int) -> str:
    """The name linear_eval.py forms from `--pretrain P --dim D`: P + str(D). Rejects names it treats specially."""
    if not PRETRAIN_PATTERN.fullmatch(pretrain or ""):
        raise OperaExportError(f"--pretrain {pretrain!r}: use letters, digits, '_' or '-', starting with a letter")
    if pretrain in OPERA_RESERVED:
        raise OperaExportError(f"--pretrain {pretrain!r} is one of OPERA's own names {OPERA_RESERVED}; pick a new "
                               f"one (e.g. az_{pretrain}) so OPERA's features are neither overwritten nor shadowed")
    return f"{pretrain}{int(dim)}"


def opera_command(task_id: str, pretrain: str, dim: int) -> str:
    """The shell command, run inside the OPERA checkout, that evaluates an exported feature file."""
    lay = layout_for(task_id)
    return f"PYTHONPATH=. python src/benchmark/linear_eval.py {lay.eval_args} --pretrain {pretrain} --dim {dim}"


def _opera_array(path: Path, what: str, lay: OperaLayout) -> np.ndarray:
    if not path.is_file():
        raise OperaExportError(f"{path}: OPERA's {what} not found; it is {lay.made_by} (run that inside the OPERA "
                               f"checkout once, or check --opera-root)")
    return np.load(path, allow_pickle=False)


def order_rows(lay: OperaLayout, items: list, eval_dir: Path) -> list[int | None]:
    """For each row OPERA's arrays hold, the index of its item (None: a row OPERA drops by label).

    Raises OperaExportError when an item is absent from OPERA's list, two items claim one key, or a row has no
    item and the task allows none.
    """
    if lay.order_file is None:
        return list(range(len(items)))
    order_path = eval_dir / lay.order_file
    entries = [str(e) for e in _opera_array(order_path, "file list", lay).ravel()]
    index: dict[str, int] = {}
    for i, it in enumerate(items):
        for key in item_keys(it, lay.match):
            if index.setdefault(key, i) != i:
                raise OperaExportError(f"items {items[index[key]].path} and {it.path} both match {key!r} of "
                                       f"{order_path}; the task lists one recording twice")
    rows = [index.get(entry_key(e, lay.match)) for e in entries]
    twice = [items[i].path for i, n in Counter(r for r in rows if r is not None).items() if n > 1]
    if twice:
        raise OperaExportError(f"{order_path} lists {len(twice)} recording(s) twice: {twice[:3]}")
    missing = sorted(set(range(len(items))) - {r for r in rows if r is not None})
    if missing:
        shown = ", ".join(str(items[i].path) for i in missing[:3])
        raise OperaExportError(f"{len(missing)} task item(s) are not in {order_path}: {shown}; use the OPERA checkout "
                               f"whose split files the task was read from (--opera-root)")
    unmatched = [e for e, r in zip(entries, rows) if r is None]
    if unmatched and not lay.placeholder_labels:
        raise OperaExportError(f"{len(unmatched)} row(s) of {order_path} match no task item: {unmatched[:3]}; "
                               f"the dataset under --data-root and the OPERA checkout disagree")
    return rows


def _label_ok(lay: OperaLayout, task: TaskSpec, label, value) -> bool:
    if lay.label_values:
        accepted = lay.label_values[int(label)]
        return str(value) in ((accepted,) if isinstance(accepted, str) else accepted)
    if task.kind == "regression":
        return abs(float(value) - float(label)) <= 1e-6 * max(1.0, abs(float(label)))
    return int(value) == int(label)


def check_rows(lay: OperaLayout, task: TaskSpec, items: list, rows: list[int | None], eval_dir: Path) -> None:
    """Every row's item has OPERA's label and split for that row; rows without an item carry a dropped label."""
    label_path = eval_dir / lay.label_file
    labels = _opera_array(label_path, "label array", lay)
    if lay.label_column is not None:
        labels = labels[:, lay.label_column]
    labels = labels.ravel()
    if len(labels) != len(rows):
        raise OperaExportError(f"{label_path} has {len(labels)} rows, the task's OPERA order has {len(rows)}; "
                               f"re-run {lay.made_by} or check --opera-root / --data-root")

    def row_ok(i: int | None, value) -> bool:
        if i is None:  # a row with no item must be one linear_eval.py drops by its label
            return str(value) in lay.placeholder_labels
        return _label_ok(lay, task, items[i].label, value)

    bad = [(r, str(v)) for r, (i, v) in enumerate(zip(rows, labels)) if not row_ok(i, v)]
    if bad:
        raise OperaExportError(f"{len(bad)} row(s) disagree with {label_path} (row, OPERA label): {bad[:5]}; the "
                               f"task's items and OPERA's arrays come from different data")
    if lay.split_file is None:
        return
    split_path = eval_dir / lay.split_file
    splits = [str(s) for s in _opera_array(split_path, "split array", lay).ravel()]
    bad = [(r, s, items[i].split) for r, (i, s) in enumerate(zip(rows, splits))
           if i is not None and not split_ok(lay.split_rule, s, items[i].split)]
    if len(splits) != len(rows) or bad:
        raise OperaExportError(f"{split_path} disagrees with the task's splits (row, OPERA, task): {bad[:5]} "
                               f"({len(splits)} rows vs {len(rows)}); check --opera-root")


def export_opera_features(encoder, task_or_items, opera_feature_dir: str | Path, feature_name: str, *,
                          task: TaskSpec | str | None = None, ctx: DataContext | None = None,
                          data_root: str | Path | None = None, cache_dir: str | Path | None = None,
                          prep: Preprocess | None = None, batch_size: int = 16,
                          progress: bool = True) -> OperaExport:
    """Embed a task's audio and write it where OPERA's linear_eval.py reads `--pretrain feature_name`.

    Args:
        encoder: AudioEncoder in eval mode (base, or with an aligned adapter loaded).
        task_or_items: a TaskSpec or task id ("T5": items read with load_items), or a list of Items (then `task`
            names their task).
        opera_feature_dir: OPERA's feature/ folder (<OPERA checkout>/feature); files go to its <eval_dir>/.
        feature_name: the new `--pretrain` value; the file's feature name is feature_name + str(D).
        ctx: where the data lives, for a task (default: data_root, opera_root = opera_feature_dir's parent,
            cache_dir = $ACULA_ZOO_CACHE or ~/.cache/acula_zoo).
        cache_dir: embedding cache (default: ctx.cache_dir / "embeddings", the one evaluate.py fills).
        prep: preprocessing (default: preprocess_for(task, encoder family), as evaluate.py uses).
    Returns:
        OperaExport; the .npy is [N_rows, D] float32, row r = OPERA's row r (zeros where OPERA drops the row).
    Raises:
        OperaExportError: items and OPERA's arrays disagree, or an OPERA array is missing.
        AudioReadError (ExtractionFailed): unreadable audio (every file is listed).
    """
    opera_feature_name(feature_name, 0)  # a name OPERA cannot use fails before any audio is embedded
    feature_dir = Path(opera_feature_dir)
    ctx = ctx or DataContext(data_root=Path(data_root) if data_root else None, opera_root=feature_dir.parent,
                             cache_dir=default_cache_dir())
    given_items = not isinstance(task_or_items, (TaskSpec, str))
    if given_items and task is None:
        raise OperaExportError("export_opera_features(items, ...) needs task= (the TaskSpec or id of the items)")
    task = task if given_items else task_or_items
    task = get_task(task) if isinstance(task, str) else task
    lay = layout_for(task.id)
    items = list(task_or_items) if given_items else load_items(task, ctx)
    eval_dir = feature_dir / lay.eval_dir
    rows = order_rows(lay, items, eval_dir)
    check_rows(lay, task, items, rows, eval_dir)

    prep = prep or preprocess_for(task, encoder.spec.name)
    cache = Path(cache_dir) if cache_dir else ctx.cache_dir / "embeddings"
    ext = extract_embeddings(encoder, items, cache, prep, batch_size=batch_size, on_error="fail",
                             progress=progress, desc=f"{task.id} for OPERA")
    dim = int(ext.embeddings.shape[1])
    feature = opera_feature_name(feature_name, dim)
    out = np.zeros((len(rows), dim), dtype=np.float32)
    for r, i in enumerate(rows):
        if i is not None:
            out[r] = ext.embeddings[i]
    path = lay.feature_path(feature_dir, feature)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, out)

    placeholders = [r for r, i in enumerate(rows) if i is None]
    command = opera_command(task.id, feature_name, dim)
    sidecar = path.with_suffix(".json")
    order = eval_dir / lay.order_file if lay.order_file else None
    write_json(sidecar, {
        "written_by": "acula-zoo plugin.opera", "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "task": task.id, "task_version": task.version, "split_fingerprint": split_fingerprint(items),
        "pretrain": feature_name, "dim": dim, "rows": len(rows), "dtype": "float32", "feature_file": path.name,
        "feature_sha256": file_sha256(path), "encoder": encoder.identity(), "encoder_hash": encoder.identity_hash(),
        "weights_path": encoder.weights_path, "preprocess": prep.params(),
        "pipeline_version": pipeline_version(encoder),
        "order": {"file": str(order.relative_to(feature_dir.parent)) if order else None,
                  "sha256": file_sha256(order) if order else None,
                  "rule": "OPERA's file list" if order else "the reader's order (OPERA lists no files)"},
        "placeholder_rows": placeholders, "opera_command": command})
    return OperaExport(task.id, path, sidecar, len(rows), dim, command, placeholders, ext.computed, ext.cached,
                       [None if i is None else items[i] for i in rows], split_fingerprint(items))
