"""The leaderboard's grid: which records form a row, which a column, and the published rows beside them.

Rows: one per (encoder label, weights sha256, adapter sha256, probe), so a linear-probe and a zero-shot record of
one encoder, or two adapters of one base, never share a cell. Columns: one per (task, task version, metric, split
fingerprint), so results scored on different splits or task versions sit in separate columns (flagged) and are
never averaged or compared with each other. OPERA's published results form their own row group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from adapters._errors import UserError
from benchmark_tasks import published as pub


class LeaderboardError(UserError, ValueError):
    """The leaderboard cannot be built from what was given (no records, a malformed record)."""


@dataclass(frozen=True)
class RowKey:
    """What makes two records belong to the same leaderboard row."""

    label: str
    weights_sha256: str | None
    adapter_sha256: str | None
    probe: str


@dataclass(frozen=True)
class Column:
    """One task column; `flagged` when the task has more than one column (another split or task version)."""

    task: str
    version: str
    metric: str
    split_fingerprint: str
    flagged: bool = False

    @property
    def higher_is_better(self) -> bool:
        return self.metric != "mae"

    @property
    def short(self) -> str:
        """Task and version, plus the split when the task has more than one column: 'T5 v1', 'T5 v1 @1a2b3c4d'."""
        return f"{self.task} v{self.version}" + (f" @{self.split_fingerprint[:8]}" if self.flagged else "")

    @property
    def title(self) -> str:
        """The column header: task, version, metric with its direction, split fingerprint, ⚠ when flagged."""
        arrow = "↑" if self.higher_is_better else "↓"
        flag = " ⚠" if self.flagged else ""
        return f"{self.task} v{self.version} {self.metric} {arrow} · split {self.split_fingerprint[:8]}{flag}"


@dataclass(frozen=True)
class Cell:
    """One result: mean ± std over seeds (or folds), 95% CI if any, and what the cell must warn about."""

    mean: float
    std: float
    ci95: tuple[float, float] | None = None
    n_errors: int = 0
    pretraining_overlap: bool = False
    test_items: bool = False
    record: dict | None = None


@dataclass
class Row:
    """One leaderboard row: its key, the encoder's registered name, and its cells by column."""

    key: RowKey
    encoder: str
    cells: dict[Column, Cell] = field(default_factory=dict)
    published: bool = False

    @property
    def is_aligned(self) -> bool:
        return self.key.adapter_sha256 is not None


@dataclass
class Board:
    """Columns in task order, our rows in first-seen order, the published rows, and ignored duplicates."""

    columns: list[Column]
    rows: list[Row]
    published: list[Row]
    superseded: list[str]
    n_records: int


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def pretraining_overlap(rec: dict) -> bool:
    """True for official weights (weights_sha256 set) whose pretraining data includes the task's dataset."""
    if rec.get("weights_sha256") is None:
        return False
    ds = _norm(rec.get("dataset") or "")
    corpora = [_norm(p) for p in rec.get("pretrained_on") or ()]
    return bool(ds) and any(p and (p.startswith(ds) or ds.startswith(p)) for p in corpora)


def used_test_items(rec: dict) -> bool:
    """True when the adapter was trained with test items: of some task (alignment.test_items_used > 0) or of this
    very task (alignment.test_items_overlap > 0, evaluate.py --allow-aligned-overlap)."""
    info = rec.get("alignment") or {}
    return (info.get("test_items_used") or 0) > 0 or (info.get("test_items_overlap") or 0) > 0


def task_order(task: str) -> tuple:
    """Demo tasks first, then by prefix and number (T2 before T10), then by the rest of the id."""
    m = re.fullmatch(r"([A-Za-z]+)(\d+)(.*)", task)
    return (1, m.group(1), int(m.group(2)), m.group(3)) if m else (0, task, 0, "")


def row_key(rec: dict) -> RowKey:
    return RowKey(rec["encoder_label"], rec.get("weights_sha256"), rec.get("adapter_sha256"),
                  str((rec.get("protocol") or {}).get("probe", "?")))


def _column_id(rec: dict) -> tuple[str, str, str, str]:
    return rec["task"], str(rec["task_version"]), rec["metric"], str(rec["split_fingerprint"])


def _cell(rec: dict) -> Cell:
    ci = rec.get("ci95")
    return Cell(float(rec["mean"]), float(rec.get("std") or 0.0), (float(ci[0]), float(ci[1])) if ci else None,
                int(rec.get("n_errors") or 0), pretraining_overlap(rec), used_test_items(rec), rec)


def _columns(records: list[dict]) -> dict[tuple, Column]:
    ids = list(dict.fromkeys(_column_id(r) for r in records))
    per_task: dict[str, int] = {}
    for task, *_ in ids:
        per_task[task] = per_task.get(task, 0) + 1
    cols = {i: Column(*i, flagged=per_task[i[0]] > 1) for i in ids}
    order = sorted(ids, key=lambda i: (task_order(i[0]), ids.index(i)))
    return {i: cols[i] for i in order}


def published_rows(columns: list[Column]) -> list[Row]:
    """OPERA's published results for the shown columns of T1–T19 (matching metric); empty if none is shown."""
    shown = [c for c in columns if pub.covers(c.task) and pub.metric_of(c.task) == c.metric]
    if not shown:
        return []
    rows = []
    for model in pub.MODELS:
        row = Row(RowKey(model, None, None, "published"), model, published=True)
        for col in shown:
            res = pub.published(col.task, model)
            row.cells[col] = Cell(res.mean, res.std)
        rows.append(row)
    return rows


def build_board(records: list[dict]) -> Board:
    """Group records into rows and columns. A second record for a filled cell keeps the newer one (by date)."""
    if not records:
        raise LeaderboardError("no result records to build a leaderboard from")
    try:
        columns = _columns(records)
        rows: dict[RowKey, Row] = {}
        superseded: list[str] = []
        for rec in records:
            key, col = row_key(rec), columns[_column_id(rec)]
            row = rows.setdefault(key, Row(key, rec["encoder"]))
            old = row.cells.get(col)
            if old is not None:
                keep_new = str(rec.get("date", "")) >= str(old.record.get("date", ""))
                loser = old.record if keep_new else rec
                superseded.append(str(loser.get("record_path", loser["encoder_label"])))
                if not keep_new:
                    continue
            row.cells[col] = _cell(rec)
    except KeyError as exc:
        where = next((r.get("record_path") for r in records if exc.args[0] not in r), "a record")
        raise LeaderboardError(f"{where}: result record lacks the field {exc.args[0]!r}; rerun the evaluation "
                               "that wrote it") from exc
    cols = list(columns.values())
    return Board(cols, list(rows.values()), published_rows(cols), superseded, len(records))
