"""Leaderboard built only from result records: markdown, csv, html and a png chart."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adapters._io import atomic_path, write_text


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def pretraining_overlap(rec: dict) -> bool:
    """True when the encoder was pretrained on the task's dataset (e.g. OPERA models on CoughVID or ICBHI)."""
    ds = _norm(rec.get("dataset", ""))
    return bool(ds) and any(_norm(p).startswith(ds) or ds.startswith(_norm(p))
                            for p in rec.get("pretrained_on") or () if _norm(p))


def used_test_items(rec: dict) -> bool:
    """True when the aligned encoder was trained with test items of some task (explicit --allow-test-items) or
    with test items of this very task (evaluate.py --allow-aligned-overlap)."""
    info = rec.get("alignment") or {}
    return bool(info.get("allow_test_items") or info.get("test_items_used") or info.get("test_items_overlap"))


def _cell(rec: dict) -> str:
    ci = rec.get("ci95")
    ci_txt = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
    marks = ("†" if pretraining_overlap(rec) else "") + ("‡" if used_test_items(rec) else "")
    return f"{rec['mean']:.3f} ± {rec['std']:.3f}{ci_txt}{marks}"


def table_rows(records: list[dict]) -> tuple[list[str], list[str], dict]:
    """(task ids in first-seen order, encoder labels in first-seen order, {(task, label): record})."""
    tasks, labels, cells = [], [], {}
    for r in records:
        if r["task"] not in tasks:
            tasks.append(r["task"])
        if r["encoder_label"] not in labels:
            labels.append(r["encoder_label"])
        cells[(r["task"], r["encoder_label"])] = r
    return tasks, labels, cells


def mean_auroc(records: list[dict]) -> dict[str, float]:
    """Mean AUROC per encoder label over the classification tasks every listed encoder has a result for."""
    tasks, labels, cells = table_rows([r for r in records if r["metric"] == "auroc"])
    common = [t for t in tasks if all((t, lab) in cells for lab in labels)]
    return {lab: float(np.mean([cells[(t, lab)]["mean"] for t in common])) for lab in labels} if common else {}


def render_markdown(records: list[dict]) -> str:
    """A table: one row per task (metric, task version), one column per encoder, mean ± std [95% CI]."""
    tasks, labels, cells = table_rows(records)
    head = "| task | metric | " + " | ".join(labels) + " |"
    lines = [head, "|" + "---|" * (len(labels) + 2)]
    for t in tasks:
        any_rec = next(cells[(t, lab)] for lab in labels if (t, lab) in cells)
        fps = {cells[(t, lab)]["split_fingerprint"] for lab in labels if (t, lab) in cells}
        flag = " (splits differ!)" if len(fps) > 1 else ""
        arrow = "↑" if any_rec["metric"] == "auroc" else "↓"
        row = [f"{t} v{any_rec['task_version']}{flag}", f"{any_rec['metric']} {arrow}"]
        row += [_cell(cells[(t, lab)]) if (t, lab) in cells else "—" for lab in labels]
        lines.append("| " + " | ".join(row) + " |")
    means = mean_auroc(records)
    if means:
        lines.append("| **mean AUROC** | auroc ↑ | " + " | ".join(
            f"**{means[lab]:.3f}**" if lab in means else "—" for lab in labels) + " |")
    notes = []
    if any(pretraining_overlap(r) for r in records):
        notes.append("† the encoder was pretrained on this task's dataset (its recordings may include the test set)")
    if any(used_test_items(r) for r in records):
        notes.append("‡ aligned with test items of some task (--allow-test-items) or of this task "
                     "(--allow-aligned-overlap): not comparable")
    return "\n".join(lines) + "\n" + "".join(f"\n{n}\n" for n in notes)


def render_csv(records: list[dict]) -> str:
    cols = ["task", "task_version", "encoder_label", "encoder", "identity_hash", "metric", "mean", "std",
            "ci95_lo", "ci95_hi", "split_fingerprint", "date"]
    lines = [",".join(cols)]
    for r in records:
        ci = r.get("ci95") or [None, None]
        vals = [r["task"], r["task_version"], r["encoder_label"], r["encoder"], r["identity_hash"], r["metric"],
                r["mean"], r["std"], ci[0], ci[1], r["split_fingerprint"], r["date"]]
        lines.append(",".join("" if v is None else str(v) for v in vals))
    return "\n".join(lines) + "\n"


def plot_png(records: list[dict], path: str | Path) -> None:
    """Grouped bar chart of mean ± std per task (AUROC tasks), one bar colour per encoder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks, labels, cells = table_rows([r for r in records if r["metric"] == "auroc"])
    if not tasks:
        return
    width = 0.8 / max(1, len(labels))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(tasks) + 2), 4))
    x = np.arange(len(tasks))
    for j, lab in enumerate(labels):
        means = [cells[(t, lab)]["mean"] if (t, lab) in cells else np.nan for t in tasks]
        stds = [cells[(t, lab)]["std"] if (t, lab) in cells else 0 for t in tasks]
        ax.bar(x + j * width - 0.4 + width / 2, means, width, yerr=stds, label=lab, capsize=2)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xticks(x, tasks, rotation=30, ha="right")
    ax.set_ylim(0.3, 1.0)
    ax.set_ylabel("AUROC (mean ± std over seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def write_leaderboard(out_dir: str | Path, records: list[dict]) -> dict[str, Path]:
    """Write leaderboard.{md,csv,html,png} into out_dir; returns their paths."""
    out = Path(out_dir)
    md = render_markdown(records)
    paths = {"md": out / "leaderboard.md", "csv": out / "leaderboard.csv", "html": out / "leaderboard.html",
             "png": out / "leaderboard.png"}
    write_text(paths["md"], md)
    write_text(paths["csv"], render_csv(records))
    rows = [line.strip("|").split("|") for line in md.strip().splitlines() if not line.startswith("|---")]
    html = "<table>\n" + "\n".join(
        "<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{c.strip()}</{'th' if i == 0 else 'td'}>" for c in row)
        + "</tr>" for i, row in enumerate(rows)) + "\n</table>\n"
    write_text(paths["html"], f"<!doctype html><meta charset=utf-8><title>acula-zoo leaderboard</title>\n{html}")
    plot_png(records, paths["png"])
    return paths
