"""`python evaluate.py --check-data`: which datasets are found, item counts per split next to OPERA's, bad files."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark_tasks._registry import DataContext, load_items
from benchmark_tasks._spec import TaskSpec


@dataclass
class TaskCheck:
    task: TaskSpec
    found: bool
    problem: str = ""
    counts: dict = field(default_factory=dict)
    expected: dict = field(default_factory=dict)
    unreadable: list = field(default_factory=list)


def _probe_file(path: str) -> str | None:
    """None when the file's header reads as audio with samples, else the reason (no full decode: fast)."""
    import os

    import soundfile as sf

    if not os.path.exists(path):
        return "missing"
    try:
        info = sf.info(path)
    except Exception as exc:  # libsndfile's error types vary by format; all mean "not readable audio"
        return f"unreadable ({str(exc).splitlines()[0][:80]})"
    return None if info.frames > 0 else "no samples"


def check_task(task: TaskSpec, ctx: DataContext, read_headers: bool = True) -> TaskCheck:
    """Load a task's items and look at every file's header."""
    expected = task.options.get("opera_counts") or {}
    try:
        items = load_items(task, ctx)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        return TaskCheck(task, False, problem=str(exc), expected=expected)
    counts = {s: sum(it.split == s for it in items) for s in ("train", "val", "test")}
    bad = []
    if read_headers:
        for it in items:
            reason = _probe_file(it.path)
            if reason:
                bad.append((it.path, reason))
    return TaskCheck(task, True, counts=counts, expected=expected, unreadable=bad)


def render(checks: list[TaskCheck], max_bad: int = 5) -> str:
    """Plain-text report, one block per task."""
    lines = []
    for c in checks:
        t = c.task
        if not c.found:
            lines.append(f"[missing] {t.id:<20} {t.dataset:<14} {c.problem}")
            continue
        parts = []
        for s in ("train", "val", "test"):
            exp = c.expected.get(s)
            mark = "" if exp is None or exp == c.counts[s] else f" (OPERA {exp})"
            parts.append(f"{s} {c.counts[s]}{mark}")
        status = "ok" if not c.unreadable else f"{len(c.unreadable)} bad"
        lines.append(f"[{status:>7}] {t.id:<20} {t.dataset:<14} " + ", ".join(parts))
        for path, reason in c.unreadable[:max_bad]:
            lines.append(f"          {reason}: {path}")
        if len(c.unreadable) > max_bad:
            lines.append(f"          ... and {len(c.unreadable) - max_bad} more")
    return "\n".join(lines)
