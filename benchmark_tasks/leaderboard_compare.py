"""Base vs aligned on the leaderboard: per task aligned − base with a paired bootstrap 95% CI, and the mean.

An aligned row (adapter sha256 set) is compared with the base row of the same encoder and weights, no adapter and
the same probe. Differences use the per-item test scores stored beside both records
(benchmark_tasks.paired.paired_difference); where they are missing the point difference of the record means is
shown and the CI says "n/a (no per-item scores)". MAE tasks get the point difference only and stay out of the
mean, which is a mean AUROC difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmark_tasks.leaderboard_table import Column, Row
from benchmark_tasks.paired import PairedDifference, paired_difference

NO_SCORES = "n/a (no per-item scores)"


@dataclass(frozen=True)
class Difference:
    """aligned − base: the point value and its paired CI, or why there is no CI."""

    diff: float
    ci: PairedDifference | None = None
    note: str = ""

    def text(self) -> str:
        if self.ci is not None:
            return self.ci.text()
        return f"{self.diff:+.3f}, CI {self.note}"


@dataclass(frozen=True)
class TaskDifference:
    column: Column
    base: float
    aligned: float
    difference: Difference


@dataclass(frozen=True)
class Comparison:
    """One aligned row against its base row: per-task differences and the mean over the AUROC tasks."""

    base: Row
    aligned: Row
    tasks: list[TaskDifference]
    mean: Difference | None
    n_mean: int


def find_base(aligned: Row, rows: Sequence[Row]) -> Row | None:
    """The base row of an aligned row: same encoder, weights and probe, no adapter. Among several such rows, the
    one whose label the aligned label starts with ("opera-gt-tiny" for "opera-gt-tiny+aligned"); None when that
    does not single one out."""
    k = aligned.key
    bases = [r for r in rows if not r.is_aligned and r.encoder == aligned.encoder
             and r.key.weights_sha256 == k.weights_sha256 and r.key.probe == k.probe]
    if len(bases) == 1:
        return bases[0]
    named = [r for r in bases if k.label.startswith(r.key.label)]
    return max(named, key=lambda r: len(r.key.label)) if named else None


def _paired(pairs: list[tuple[dict, dict]], point: float, n_boot: int) -> Difference:
    try:
        ci = paired_difference(pairs, n_boot=n_boot)
    except (FileNotFoundError, KeyError):
        return Difference(point, None, NO_SCORES)
    except ValueError as exc:
        return Difference(point, None, f"n/a ({exc})")
    return Difference(ci.diff, ci)


def compare(base: Row, aligned: Row, columns: Sequence[Column], n_boot: int = 1000) -> Comparison:
    """Differences on every column both rows have (in column order)."""
    tasks, pairs, points = [], [], []
    for col in columns:
        if col not in base.cells or col not in aligned.cells:
            continue
        b, a = base.cells[col], aligned.cells[col]
        point = a.mean - b.mean
        if col.metric == "auroc":
            diff = _paired([(b.record, a.record)], point, n_boot)
            pairs.append((b.record, a.record))
            points.append(diff.diff)
        else:
            diff = Difference(point, None, f"n/a ({col.metric}: no paired CI)")
        tasks.append(TaskDifference(col, b.mean, a.mean, diff))
    mean = _paired(pairs, float(np.mean(points)), n_boot) if pairs else None
    return Comparison(base, aligned, tasks, mean, len(pairs))


def comparisons(rows: Sequence[Row], columns: Sequence[Column], n_boot: int = 1000) -> list[Comparison]:
    """One comparison per aligned row that has a base row and shares at least one column with it."""
    out = []
    for row in rows:
        base = find_base(row, rows) if row.is_aligned else None
        if base is not None:
            comp = compare(base, row, columns, n_boot)
            if comp.tasks:
                out.append(comp)
    return out
