"""Summaries of leaderboard rows: mean AUROC over all of a row's tasks (with coverage), mean AUROC over the tasks
every row has, and OPERA's mean reciprocal rank.

Mean reciprocal rank (MRR) follows OPERA's `res_analysis/calculate_rank.py` (github.com/evelyn0414/OPERA, commit
3622310, `compute_all`): for each task the methods are ranked with `rankdata(-data[i], method="min")` for the
AUROC tasks (i < 12, higher is better) and `rankdata(data[i], method="min")` for the MAE tasks (lower is better);
tied methods all get the smallest rank of their tie (1, 2, 2, 4); `reciprocal_ranks = 1.0 / ranks` is averaged
over the tasks with equal weight (`mrrs = reciprocal_ranks.mean(axis=0)`). Upstream ranks the printed 3-decimal
values, so here values are rounded to 3 decimals before ranking, which makes ties match the table a reader sees.
Upstream's table is complete; here the ranking uses only the tasks that every ranked row has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmark_tasks.leaderboard_table import Column, Row


@dataclass(frozen=True)
class Mean:
    """A row's mean over some columns; `value` None with a `note` when it must not be formed."""

    value: float | None
    n: int
    of: int
    note: str = ""


@dataclass(frozen=True)
class Rank:
    """A row's mean reciprocal rank among `n_rows` rows over `n_tasks` tasks."""

    mrr: float
    n_tasks: int
    n_rows: int


def auroc_columns(columns: Sequence[Column]) -> list[Column]:
    return [c for c in columns if c.metric == "auroc"]


def one_per_task(columns: Sequence[Column]) -> list[Column]:
    """The first column of each task: a published value fills every column of its task but counts once."""
    seen: dict[str, Column] = {}
    for c in columns:
        seen.setdefault(c.task, c)
    return list(seen.values())


def _mean(row: Row, cols: Sequence[Column]) -> Mean:
    cols = one_per_task(cols) if row.published else list(cols)
    have = [c for c in cols if c in row.cells]
    tasks = [c.task for c in have]
    if len(set(tasks)) < len(tasks):
        return Mean(None, len(have), len(cols), "n/a (a task on two splits)")
    value = float(np.mean([row.cells[c].mean for c in have])) if have else None
    return Mean(value, len(have), len(cols))


def mean_all(row: Row, columns: Sequence[Column]) -> Mean:
    """Mean AUROC over every AUROC task the row has; n/of is its coverage of the AUROC columns."""
    return _mean(row, auroc_columns(columns))


def common_columns(rows: Sequence[Row], columns: Sequence[Column]) -> list[Column]:
    """The AUROC columns every given row has a result in."""
    return [c for c in auroc_columns(columns) if rows and all(c in r.cells for r in rows)]


def mean_common(row: Row, common: Sequence[Column]) -> Mean:
    """Mean AUROC over the common columns (None when the row lacks one, e.g. a published row)."""
    m = _mean(row, common)
    return m if m.n == len(common) and common else Mean(None, m.n, len(common))


def mean_reciprocal_rank(values: np.ndarray, higher_is_better: Sequence[bool], decimals: int = 3) -> np.ndarray:
    """values [tasks, methods] -> MRR per method, as calculate_rank.py's compute_all (see module docstring)."""
    from scipy.stats import rankdata

    data = np.round(np.asarray(values, dtype=float), decimals)
    ranks = np.zeros_like(data)
    for i, higher in enumerate(higher_is_better):
        ranks[i] = rankdata(-data[i] if higher else data[i], method="min")
    return (1.0 / ranks).mean(axis=0)


def ranks(rows: Sequence[Row], columns: Sequence[Column]) -> dict[int, Rank]:
    """MRR of each row (by index) among the given rows, over the columns (any metric) all of them have.

    Empty when fewer than two rows or no shared column: a rank needs something to be ranked against.
    """
    shared = [c for c in columns if all(c in r.cells for r in rows)]
    if len(rows) < 2 or not shared:
        return {}
    values = np.array([[r.cells[c].mean for r in rows] for c in shared])
    mrr = mean_reciprocal_rank(values, [c.higher_is_better for c in shared])
    return {i: Rank(float(mrr[i]), len(shared), len(rows)) for i in range(len(rows))}


def ranks_by_probe(rows: Sequence[Row], columns: Sequence[Column]) -> dict[int, Rank]:
    """MRR of our rows, ranked only against rows scored with the same probe (one ranking per protocol)."""
    out: dict[int, Rank] = {}
    for probe in dict.fromkeys(r.key.probe for r in rows):
        idx = [i for i, r in enumerate(rows) if r.key.probe == probe]
        out.update({idx[j]: rank for j, rank in ranks([rows[i] for i in idx], columns).items()})
    return out
