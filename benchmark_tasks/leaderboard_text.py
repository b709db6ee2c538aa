"""Markdown and CSV renderings of the leaderboard.

The markdown shows the view of benchmark_tasks.leaderboard_view (tables, footnotes, base-vs-aligned comparisons).
The CSV is the long form for machines: one line per shown result (ours and published), every number in its own
field, with the row and column keys in full so it can be pivoted back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from benchmark_tasks import published as pub
from benchmark_tasks.leaderboard_compare import Comparison
from benchmark_tasks.leaderboard_stats import one_per_task
from benchmark_tasks.leaderboard_table import Board, Cell, Column, Row
from benchmark_tasks.leaderboard_view import TableView, comparison_table, comparison_title, main_table

CSV_COLUMNS = ("group", "encoder_label", "encoder", "probe", "weights_sha256", "adapter_sha256", "identity_hash",
               "task", "task_version", "metric", "split_fingerprint", "mean", "std", "ci95_lo", "ci95_hi",
               "n_errors", "pretraining_overlap", "test_items", "source")


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_md_escape(c) for c in cells) + " |"


def markdown_table(view: TableView, group: str) -> list[str]:
    """The header and the rows of one row group of a view, as markdown table lines."""
    lines = [_md_row([h.text for h in view.headers]), "|" + "---|" * len(view.headers)]
    for g in view.groups:
        if g.name == group or group == "*":
            lines += [_md_row([c.plain for c in row]) for row in g.rows]
    return lines


def render_markdown(board: Board, comps: Sequence[Comparison] = ()) -> str:
    """Title, our table, the published table (when shown), footnotes, and one table per base-vs-aligned pair."""
    view = main_table(board)
    lines = ["# acula-zoo leaderboard", "", f"Built from {board.n_records} result records only.", ""]
    lines += markdown_table(view, "ours")
    for g in view.groups[1:]:
        lines += ["", f"## {g.title}", ""] + markdown_table(view, g.name)
    lines += ["", "## Notes", ""] + [f"- {n}" for n in view.notes]
    if comps:
        lines += ["", "## Aligned vs base (paired bootstrap 95% CI over test items)"]
        for comp in comps:
            lines += ["", f"### {comparison_title(comp)}", ""] + markdown_table(comparison_table(comp), "*")
    return "\n".join(lines) + "\n"


def _csv_line(group: str, row: Row, col: Column, cell: Cell) -> list:
    rec = cell.record or {}
    lo, hi = cell.ci95 if cell.ci95 else ("", "")
    source = Path(rec["record_path"]).name if rec.get("record_path") else (pub.SOURCE if row.published else "")
    return [group, row.key.label, row.encoder, row.key.probe, row.key.weights_sha256 or "",
            row.key.adapter_sha256 or "", rec.get("identity_hash", ""), col.task,
            "" if row.published else col.version, col.metric, "" if row.published else col.split_fingerprint,
            cell.mean, cell.std, lo, hi, cell.n_errors,
            str(cell.pretraining_overlap).lower(), str(cell.test_items).lower(), source]


def render_csv(board: Board) -> str:
    """One line per result, ours then published (once per task), rows in table order, columns in task order."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    for group, rows, cols in (("ours", board.rows, board.columns),
                              ("published", board.published, one_per_task(board.columns))):
        for row in rows:
            out.writerows(_csv_line(group, row, c, row.cells[c]) for c in cols if c in row.cells)
    return buf.getvalue()
