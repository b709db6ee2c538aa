"""Leaderboard built only from result records: leaderboard.md, .csv, .html (self-contained) and PNG figures.

The pieces, one idea each:
    leaderboard_table    records -> rows (label, weights, adapter, probe) × columns (task, version, metric, split)
    leaderboard_stats    mean over all of a row's tasks (coverage n/N), mean over common tasks, OPERA's MRR
    leaderboard_compare  aligned − base per task and on average, paired bootstrap CIs
    leaderboard_view     the strings every format shows; leaderboard_text (md, csv), leaderboard_html, _plots
    published            OPERA's published table (its own row group)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapters._io import write_text
from benchmark_tasks.leaderboard_compare import Comparison, comparisons
from benchmark_tasks.leaderboard_table import Board, LeaderboardError, build_board, pretraining_overlap, used_test_items
from benchmark_tasks.records import load_records

__all__ = ["Leaderboard", "LeaderboardError", "build", "load_leaderboard_records", "pretraining_overlap",
           "render_markdown", "used_test_items", "write_leaderboard"]


@dataclass
class Leaderboard:
    """The grid built from the records and the base-vs-aligned comparisons drawn from it."""

    board: Board
    comparisons: list[Comparison]


def build(records: list[dict], n_boot: int = 1000) -> Leaderboard:
    """Raises LeaderboardError when there is no record."""
    board = build_board(records)
    return Leaderboard(board, comparisons(board.rows, board.columns, n_boot))


def load_leaderboard_records(folder: str | Path) -> list[dict]:
    """The records of a run folder (DIR/records/*.json or DIR/*.json); LeaderboardError when there are none."""
    root = Path(folder)
    records = load_records(root) if root.is_dir() else []
    if not records:
        where = "does not exist" if not root.exists() else "holds no result records (records/*.json)"
        raise LeaderboardError(f"{root}: {where}; give the --out folder of an evaluate.py run")
    return records


def render_markdown(records: list[dict], n_boot: int = 1000) -> str:
    """The markdown leaderboard of the records (what `write_leaderboard` writes to leaderboard.md)."""
    from benchmark_tasks.leaderboard_text import render_markdown as render

    lb = build(records, n_boot)
    return render(lb.board, lb.comparisons)


def write_leaderboard(out_dir: str | Path, records: list[dict], n_boot: int = 1000,
                      figure_cache: str | Path | None = None) -> dict[str, Path]:
    """Write leaderboard.{md,csv,html,png} (and leaderboard_heatmap.png when some aligned row has its base row)
    into out_dir; returns their paths by kind ("md", "csv", "html", "png", "heatmap"). figure_cache: a folder where
    the PNGs are kept by content (benchmark_tasks/leaderboard_figure_cache.py), so unchanged figures are not drawn
    again; None: always drawn."""
    from benchmark_tasks.leaderboard_figure_cache import cached_figure
    from benchmark_tasks.leaderboard_html import render_html
    from benchmark_tasks.leaderboard_plots import bar_chart_data, draw_bar_chart, draw_heat_map, heat_map_data
    from benchmark_tasks.leaderboard_text import render_csv
    from benchmark_tasks.leaderboard_text import render_markdown as render_md

    lb = build(records, n_boot)
    out = Path(out_dir)
    bars = cached_figure(figure_cache, "bars", bar_chart_data(lb.board), draw_bar_chart)
    heat_data = heat_map_data(lb.comparisons)
    heat = None if heat_data is None else cached_figure(figure_cache, "heatmap", heat_data, draw_heat_map)
    paths = {"md": out / "leaderboard.md", "csv": out / "leaderboard.csv", "html": out / "leaderboard.html",
             "png": out / "leaderboard.png"}
    write_text(paths["md"], render_md(lb.board, lb.comparisons))
    write_text(paths["csv"], render_csv(lb.board))
    write_text(paths["html"], render_html(lb.board, lb.comparisons, bars, heat))
    _write_bytes(paths["png"], bars)
    if heat is not None:
        paths["heatmap"] = out / "leaderboard_heatmap.png"
        _write_bytes(paths["heatmap"], heat)
    return paths


def _write_bytes(path: Path, data: bytes) -> None:
    from adapters._io import atomic_path

    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
