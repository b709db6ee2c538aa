"""Leaderboard figures (matplotlib, Agg backend), returned as PNG bytes.

- bars: per AUROC task one bar per row of ours, whiskers the record's 95% bootstrap CI (the interval the table
  shows), full 0–1 axis, legend outside the axes, figure size growing with tasks × rows;
- heat map: aligned − base per comparison × AUROC task, diverging colormap centred at 0, values written in.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from benchmark_tasks.leaderboard_compare import Comparison
from benchmark_tasks.leaderboard_stats import auroc_columns
from benchmark_tasks.leaderboard_table import Board, Row
from benchmark_tasks.leaderboard_view import short_sha


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def row_names(rows: Sequence[Row]) -> list[str]:
    """'label (probe)', with the weights and adapter sha256 prefixes added where that alone is ambiguous."""
    names = [f"{r.key.label} ({r.key.probe})" for r in rows]
    return [n if names.count(n) == 1 else
            f"{n} w:{short_sha(r.key.weights_sha256)} a:{short_sha(r.key.adapter_sha256)}"
            for n, r in zip(names, rows)]


def bar_chart_data(board: Board) -> dict:
    """Everything the bar chart draws, as plain JSON-able values: "columns" (short task names), per row "name",
    "means" (nan where the row has no cell), and the CI whisker lengths "lo", "hi" (0 without a CI)."""
    cols, rows = auroc_columns(board.columns), board.rows
    out = {"columns": [c.short for c in cols], "rows": []}
    if not cols:
        return out
    for row, name in zip(rows, row_names(rows)):
        cells = [row.cells.get(c) for c in cols]
        out["rows"].append({
            "name": name,
            "means": [float(c.mean) if c else float("nan") for c in cells],
            "lo": [max(float(c.mean - c.ci95[0]), 0.0) if c and c.ci95 else 0.0 for c in cells],
            "hi": [max(float(c.ci95[1] - c.mean), 0.0) if c and c.ci95 else 0.0 for c in cells]})
    return out


def bar_chart(board: Board) -> bytes:
    """Grouped bars of AUROC per task with 95% CI whiskers (a note instead when no AUROC task is shown)."""
    return draw_bar_chart(bar_chart_data(board))


def draw_bar_chart(data: dict) -> bytes:
    """The PNG of `bar_chart_data`'s output."""
    plt = _pyplot()
    cols, rows = data["columns"], data["rows"]
    if not cols:
        fig, ax = plt.subplots(figsize=(6, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, "no AUROC task on this leaderboard (see the table)", ha="center", va="center")
        return _png(fig)
    n_cols, n_rows = len(cols), len(rows)
    width = 0.8 / n_rows
    fig, ax = plt.subplots(figsize=(max(6.0, 1.0 + n_cols * max(1.0, 0.16 * n_rows)), 4.8))
    colours = plt.get_cmap("tab10" if n_rows <= 10 else "tab20")
    x = np.arange(n_cols)
    for j, row in enumerate(rows):
        ax.bar(x - 0.4 + (j + 0.5) * width, np.array(row["means"]), width,
               yerr=np.vstack([np.array(row["lo"]), np.array(row["hi"])]), label=row["name"],
               color=colours(j % colours.N), capsize=max(1.0, 3.0 - 0.2 * n_rows), error_kw={"lw": 0.8})
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xticks(x, cols, rotation=30 if n_cols > 4 else 0, ha="right" if n_cols > 4 else "center")
    ax.set_xlim(-0.6, n_cols - 0.4)
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("AUROC (whiskers: 95% bootstrap CI)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return _png(fig)


def heat_map_data(comps: Sequence[Comparison]) -> dict | None:
    """Everything the heat map draws: "columns" (short task names), per comparison its "name" and "values"
    (aligned − base, nan where missing); None when there is no comparison on an AUROC task."""
    cols = list(dict.fromkeys(t.column for c in comps for t in c.tasks if t.column.metric == "auroc"))
    if not cols:
        return None
    values = np.full((len(comps), len(cols)), np.nan)
    for i, comp in enumerate(comps):
        for t in comp.tasks:
            if t.column in cols:
                values[i, cols.index(t.column)] = t.difference.diff
    return {"columns": [c.short for c in cols],
            "rows": [{"name": f"{c.aligned.key.label} − {c.base.key.label} ({c.aligned.key.probe})",
                      "values": [float(v) for v in values[i]]} for i, c in enumerate(comps)]}


def heat_map(comps: Sequence[Comparison]) -> bytes | None:
    """aligned − base per (comparison, AUROC task); None when there is no comparison to draw."""
    data = heat_map_data(comps)
    return None if data is None else draw_heat_map(data)


def draw_heat_map(data: dict) -> bytes:
    """The PNG of `heat_map_data`'s output."""
    plt = _pyplot()
    from matplotlib.colors import TwoSlopeNorm

    cols, rows = data["columns"], data["rows"]
    values = np.array([r["values"] for r in rows], dtype=float).reshape(len(rows), len(cols))
    span = max(float(np.nanmax(np.abs(values))), 0.01)
    fig, ax = plt.subplots(figsize=(max(5.0, 2.5 + 0.9 * len(cols)), max(2.0, 1.2 + 0.5 * len(rows))))
    cmap = plt.get_cmap("RdBu").with_extremes(bad="#dddddd")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, aspect="auto",
                      norm=TwoSlopeNorm(vcenter=0.0, vmin=-span, vmax=span))
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, "—" if np.isnan(v) else f"{v:+.3f}", ha="center", va="center", fontsize=8,
                color="white" if abs(v) > 0.6 * span else "black")
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), [r["name"] for r in rows])
    fig.colorbar(image, ax=ax, label="AUROC aligned − base")
    ax.set_title("aligned − base AUROC per task (blue: aligned better)")
    return _png(fig)
