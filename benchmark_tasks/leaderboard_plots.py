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


def bar_chart(board: Board) -> bytes:
    """Grouped bars of AUROC per task with 95% CI whiskers (a note instead when no AUROC task is shown)."""
    plt = _pyplot()
    cols, rows = auroc_columns(board.columns), board.rows
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
    for j, (row, name) in enumerate(zip(rows, row_names(rows))):
        cells = [row.cells.get(c) for c in cols]
        means = np.array([c.mean if c else np.nan for c in cells])
        lo = np.array([c.mean - c.ci95[0] if c and c.ci95 else 0.0 for c in cells]).clip(min=0)
        hi = np.array([c.ci95[1] - c.mean if c and c.ci95 else 0.0 for c in cells]).clip(min=0)
        ax.bar(x - 0.4 + (j + 0.5) * width, means, width, yerr=np.vstack([lo, hi]), label=name,
               color=colours(j % colours.N), capsize=max(1.0, 3.0 - 0.2 * n_rows), error_kw={"lw": 0.8})
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xticks(x, [c.short for c in cols], rotation=30 if n_cols > 4 else 0, ha="right" if n_cols > 4 else "center")
    ax.set_xlim(-0.6, n_cols - 0.4)
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("AUROC (whiskers: 95% bootstrap CI)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return _png(fig)


def heat_map(comps: Sequence[Comparison]) -> bytes | None:
    """aligned − base per (comparison, AUROC task); None when there is no comparison to draw."""
    cols = list(dict.fromkeys(t.column for c in comps for t in c.tasks if t.column.metric == "auroc"))
    if not cols:
        return None
    plt = _pyplot()
    from matplotlib.colors import TwoSlopeNorm

    values = np.full((len(comps), len(cols)), np.nan)
    for i, comp in enumerate(comps):
        for t in comp.tasks:
            if t.column in cols:
                values[i, cols.index(t.column)] = t.difference.diff
    span = max(float(np.nanmax(np.abs(values))), 0.01)
    fig, ax = plt.subplots(figsize=(max(5.0, 2.5 + 0.9 * len(cols)), max(2.0, 1.2 + 0.5 * len(comps))))
    cmap = plt.get_cmap("RdBu").with_extremes(bad="#dddddd")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, aspect="auto",
                      norm=TwoSlopeNorm(vcenter=0.0, vmin=-span, vmax=span))
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, "—" if np.isnan(v) else f"{v:+.3f}", ha="center", va="center", fontsize=8,
                color="white" if abs(v) > 0.6 * span else "black")
    ax.set_xticks(range(len(cols)), [c.short for c in cols], rotation=30, ha="right")
    ax.set_yticks(range(len(comps)), [f"{c.aligned.key.label} − {c.base.key.label} ({c.aligned.key.probe})"
                                      for c in comps])
    fig.colorbar(image, ax=ax, label="AUROC aligned − base")
    ax.set_title("aligned − base AUROC per task (blue: aligned better)")
    return _png(fig)
