"""What the leaderboard shows, independent of the format: headers, row groups of cells, footnotes.

The markdown and HTML renderers only format this view, so the two always show the same strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark_tasks import published as pub
from benchmark_tasks.leaderboard_compare import Comparison
from benchmark_tasks.leaderboard_stats import (
    Mean,
    Rank,
    common_columns,
    mean_all,
    mean_common,
    one_per_task,
    ranks,
    ranks_by_probe,
)
from benchmark_tasks.leaderboard_table import Board, Cell, Row

DAGGER, DDAGGER, SPLIT_FLAG = "†", "‡", "⚠"
MISSING = "—"
FOOTNOTES = {
    DAGGER: "the official weights were pretrained on this task's dataset (its recordings may include the test set)",
    DDAGGER: "the adapter was trained with test items (of some task, or of this very task): not comparable",
    SPLIT_FLAG: "this task was scored on more than one split or task version: each has its own column, never "
                "averaged or compared with the others",
    "skipped": "(N skipped): N audio files of the task could not be read and were left out (--on-error skip)",
}


@dataclass(frozen=True)
class ViewCell:
    """A shown value (`text`), its footnote marks and suffix, and the number a sort uses (None: missing)."""

    text: str
    marks: str = ""
    suffix: str = ""
    sort: float | None = None

    @property
    def plain(self) -> str:
        return f"{self.text}{self.marks}{self.suffix}"


@dataclass(frozen=True)
class Header:
    text: str
    numeric: bool = False


@dataclass
class RowGroup:
    """Rows shown together (ours; OPERA's published) under an optional title."""

    name: str
    title: str
    rows: list[list[ViewCell]] = field(default_factory=list)


@dataclass
class TableView:
    headers: list[Header]
    groups: list[RowGroup]
    notes: list[str]


def plural(n: int, word: str) -> str:
    """'1 task', '3 tasks'."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def short_sha(sha: str | None) -> str:
    return sha[:8] if sha else MISSING


def result_cell(cell: Cell | None) -> ViewCell:
    """'0.712 ± 0.010 [0.650, 0.750]' with † ‡ marks and ' (3 skipped)'; '—' when missing."""
    if cell is None:
        return ViewCell(MISSING)
    ci = f" [{cell.ci95[0]:.3f}, {cell.ci95[1]:.3f}]" if cell.ci95 else ""
    marks = (DAGGER if cell.pretraining_overlap else "") + (DDAGGER if cell.test_items else "")
    suffix = f" ({cell.n_errors} skipped)" if cell.n_errors else ""
    return ViewCell(f"{cell.mean:.3f} ± {cell.std:.3f}{ci}", marks, suffix, cell.mean)


def _mean_cell(m: Mean) -> ViewCell:
    if m.value is None:
        return ViewCell(m.note or MISSING)
    return ViewCell(f"{m.value:.3f}", sort=m.value)


def _rank_cell(r: Rank | None) -> ViewCell:
    if r is None:
        return ViewCell(MISSING)
    return ViewCell(f"{r.mrr:.3f} ({plural(r.n_tasks, 'task')})", sort=r.mrr)


def _row_cells(row: Row, board: Board, common: list, rank: Rank | None) -> list[ViewCell]:
    k = row.key
    cells = [ViewCell(k.label), ViewCell(k.probe), ViewCell(short_sha(k.weights_sha256)),
             ViewCell(short_sha(k.adapter_sha256))]
    cells += [result_cell(row.cells.get(c)) for c in board.columns]
    every = mean_all(row, board.columns)
    cells += [_mean_cell(every), ViewCell(f"{every.n}/{every.of}", sort=every.n / every.of if every.of else None),
              _mean_cell(mean_common(row, common)), _rank_cell(rank)]
    return cells


def main_table(board: Board) -> TableView:
    """The leaderboard table: our rows, then OPERA's published rows, with means, coverage and MRR."""
    common = common_columns(board.rows, board.columns)
    headers = [Header("encoder"), Header("probe"), Header("weights"), Header("adapter")]
    headers += [Header(c.title, True) for c in board.columns]
    headers += [Header("mean AUROC (all its tasks)", True), Header("AUROC tasks", True),
                Header(f"mean AUROC ({plural(len(common), 'common task')})", True), Header("MRR (OPERA)", True)]
    ours = RowGroup("ours", "")
    our_ranks = ranks_by_probe(board.rows, board.columns)
    ours.rows = [_row_cells(r, board, common, our_ranks.get(i)) for i, r in enumerate(board.rows)]
    groups = [ours]
    if board.published:
        theirs = RowGroup("published", f"OPERA published (paper table; {pub.SOURCE}); not run here")
        pub_ranks = ranks(board.published, one_per_task(board.columns))
        theirs.rows = [_row_cells(r, board, common, pub_ranks.get(i)) for i, r in enumerate(board.published)]
        groups.append(theirs)
    return TableView(headers, groups, notes(board, common))


def notes(board: Board, common: list) -> list[str]:
    """Footnotes for the marks that occur, then how the summary columns are formed."""
    cells = [c for r in board.rows for c in r.cells.values()]
    used = {DAGGER: any(c.pretraining_overlap for c in cells), DDAGGER: any(c.test_items for c in cells),
            SPLIT_FLAG: any(c.flagged for c in board.columns), "skipped": any(c.n_errors for c in cells)}
    out = [f"{mark} {text}" if mark != "skipped" else text for mark, text in FOOTNOTES.items() if used[mark]]
    out.append("Cells: mean ± std over probe seeds (or folds) [95% bootstrap CI over test items]. "
               "Rows: one per (encoder label, weights sha256, adapter sha256, probe).")
    out.append(f"mean AUROC (all its tasks): over every AUROC task the row has; 'AUROC tasks' is its coverage n/N. "
               f"mean AUROC ({plural(len(common), 'common task')}): over the AUROC tasks every row of ours has.")
    out.append(f"MRR (OPERA): mean reciprocal rank as {pub.SOURCE} computes it: per task, rows ranked by the value "
               "rounded to 3 decimals, AUROC descending, MAE ascending, ties sharing the best rank "
               "(rankdata method='min'); 1/rank averaged over the tasks. Ours are ranked among rows with the same "
               "probe over the tasks all of them have; published rows among themselves over the shown tasks.")
    if board.published:
        out.append("Published rows are OPERA's own numbers on OPERA's splits; they enter no mean or rank of ours.")
    if board.superseded:
        out.append(f"{len(board.superseded)} older record(s) for an already filled cell were ignored: "
                   + ", ".join(board.superseded))
    return out


def comparison_table(comp: Comparison) -> TableView:
    """Per task base, aligned, aligned − base [paired 95% CI]; last row the mean over the AUROC tasks."""
    headers = [Header("task"), Header("base", True), Header("aligned", True),
               Header("aligned − base [paired 95% CI]", True)]
    group = RowGroup("tasks", "")
    for t in comp.tasks:
        group.rows.append([ViewCell(t.column.short), ViewCell(f"{t.base:.3f}", sort=t.base),
                           ViewCell(f"{t.aligned:.3f}", sort=t.aligned),
                           ViewCell(t.difference.text(), sort=t.difference.diff)])
    groups = [group]
    if comp.mean is not None:
        auroc = [t for t in comp.tasks if t.column.metric == "auroc"]
        base = sum(t.base for t in auroc) / len(auroc)
        aligned = sum(t.aligned for t in auroc) / len(auroc)
        groups.append(RowGroup("mean", "", [[ViewCell(f"mean AUROC ({plural(comp.n_mean, 'task')})"),
                                             ViewCell(f"{base:.3f}", sort=base),
                                             ViewCell(f"{aligned:.3f}", sort=aligned),
                                             ViewCell(comp.mean.text(), sort=comp.mean.diff)]]))
    return TableView(headers, groups, [])


def comparison_title(comp: Comparison) -> str:
    a, b = comp.aligned.key, comp.base.key
    return (f"{a.label} (adapter {short_sha(a.adapter_sha256)}) − {b.label}, weights {short_sha(b.weights_sha256)}, "
            f"probe {a.probe}")
