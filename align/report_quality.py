"""What the reports can teach, measured before training, and the refusal of targets that teach nothing.

Alignment pulls each clip's embedding towards its report's teacher embedding. When every clip gets the same
report (a csv manifest with no metadata columns, an LLM endpoint that answers every prompt with one refusal),
the target carries no information: training still runs, the loss still moves, and an "aligned" adapter comes
out that has learnt nothing clinical. `check_teachable` stops such a run before step 0 and says why;
`summarize_reports` is written beside the adapter (report_quality.json) and printed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from adapters._errors import UserError

MIN_DISTINCT = 2          # fewer distinct reports (or teacher embeddings) than this teach nothing
MAX_TOP_SHARE = 0.5       # one report text may cover at most this share of the items
N_EXAMPLES = 3


class DegenerateReports(UserError, ValueError):
    """The reports cannot teach the encoder anything; the message names the cause and the fix."""


@dataclass(frozen=True)
class ReportQuality:
    """Summary of the training reports.

    n_items: reports summarised. n_distinct_reports / n_distinct_embeddings: distinct report texts and distinct
    teacher embeddings (rounded to 1e-5). top_report_share: share of items carrying the most frequent report.
    mean_words: mean report length in words. field_coverage: per clinical fact (benchmark_tasks.clinical: its
    label, or the column name for a generic statement), the share of items whose metadata states it (present,
    absent or a value; identifiers and ignored keys do not count). n_items_without_metadata: items whose
    metadata states no clinical fact at all. examples: the first distinct reports.
    """

    n_items: int
    n_distinct_reports: int
    n_distinct_embeddings: int
    top_report_share: float
    mean_words: float
    field_coverage: dict
    n_items_without_metadata: int
    examples: list

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """A few lines for the console."""
        cover = ", ".join(f"{k} {v:.0%}" for k, v in sorted(self.field_coverage.items(), key=lambda kv: -kv[1]))
        lines = [f"reports: {self.n_items} items, {self.n_distinct_reports} distinct texts, "
                 f"{self.n_distinct_embeddings} distinct teacher embeddings, most frequent text on "
                 f"{self.top_report_share:.0%} of items, {self.mean_words:.1f} words on average",
                 f"metadata fields present: {cover or 'none'}"]
        lines += [f"  e.g. {text}" for text in self.examples]
        return "\n".join(lines)


def _stated_facts(meta: dict, declaration) -> set[str]:
    from benchmark_tasks.clinical import read_facts

    return {r.label for r in read_facts(meta, declaration) if r.state != "unknown"}


def summarize_reports(reports: list[str], metadata: list[dict], text_embeddings,
                      declarations: list | None = None) -> ReportQuality:
    """Summarise N reports, the metadata they were written from (with each item's benchmark_tasks.clinical
    Declaration, None = recognised from the keys) and their [N, D] teacher embeddings."""
    n = len(reports)
    counts = Counter(reports)
    emb = np.asarray(text_embeddings, dtype=np.float64).reshape(n, -1) if n else np.zeros((0, 1))
    distinct_emb = len({tuple(row) for row in np.round(emb, 5)}) if n else 0
    fields: Counter = Counter()
    empty = 0
    for meta, decl in zip(metadata, declarations or [None] * len(metadata)):
        present = _stated_facts(meta, decl)
        fields.update(present)
        empty += not present
    examples = list(dict.fromkeys(reports))[:N_EXAMPLES]
    return ReportQuality(
        n_items=n, n_distinct_reports=len(counts), n_distinct_embeddings=distinct_emb,
        top_report_share=round(max(counts.values()) / n, 4) if n else 0.0,
        mean_words=round(sum(len(r.split()) for r in reports) / n, 2) if n else 0.0,
        field_coverage={k: round(c / n, 4) for k, c in sorted(fields.items())},
        n_items_without_metadata=empty, examples=examples)


def check_teachable(quality: ReportQuality, writer: str) -> None:
    """Raise DegenerateReports when the reports cannot teach (too few distinct targets, one dominant text)."""
    if quality.n_items == 0:
        raise DegenerateReports("no training reports: the alignment tasks gave no training items")
    if quality.n_items_without_metadata == quality.n_items:
        cause = ("no item carries any metadata (a csv manifest without metadata columns?): add clinical columns "
                 "such as age, sex, diagnosis, findings to the manifest, or align on tasks whose datasets have them")
    elif writer == "llm":
        cause = ("the LLM endpoint gave (nearly) the same text for different items: check its answers in the "
                 "report cache, or use --reports template")
    else:
        cause = ("the metadata that reaches the reports is (nearly) the same for every item: add clinical columns "
                 "that vary between recordings")
    if quality.n_distinct_reports < MIN_DISTINCT or quality.n_distinct_embeddings < MIN_DISTINCT:
        raise DegenerateReports(f"reports cannot teach anything: {quality.n_distinct_reports} distinct report(s) "
                                f"and {quality.n_distinct_embeddings} distinct teacher embedding(s) for "
                                f"{quality.n_items} items; {cause}")
    if quality.top_report_share > MAX_TOP_SHARE:
        raise DegenerateReports(f"reports cannot teach much: one report covers {quality.top_report_share:.0%} of "
                                f"{quality.n_items} items (limit {MAX_TOP_SHARE:.0%}): {quality.examples[0]!r}; "
                                f"{cause}")
