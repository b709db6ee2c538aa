"""Typed task metadata and dataset items."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("binary", "multiclass", "regression")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ProbeConfig:
    """OPERA linear-probe hyperparameters (src/benchmark/linear_eval.py).

    Classification: Adam(lr), loss = CE + l2 * (||W||^2 + ||b||^2), lr *= lr_decay each epoch, grad-norm clip,
    `epochs` epochs, the test score taken at the epoch of best validation AUROC. Regression: the head predicts
    standardised targets, MSE in target units, early stopping after `patience` epochs without a validation-MAE
    improvement larger than `min_delta` (0 = no early stop). See benchmark_tasks/probe_linear.py.

    select_every: only epochs e with (e + 1) % select_every == 0 may be chosen as the best epoch (OPERA saves
        checkpoints every 5 epochs on KAUH, every 3 on SSBPR and MMlung; 1 elsewhere).
    val_fraction: share of each leave-one-subject-out training fold held out for validation (MMlung 0.11,
        NoseMic 0.2).
    """

    lr: float = 1e-4
    l2: float = 1e-5
    lr_decay: float = 0.97
    clip: float = 1.0
    epochs: int = 64
    batch_size: int = 64
    patience: int = 0
    min_delta: float = 0.0
    select_every: int = 1
    val_fraction: float = 0.2


@dataclass(frozen=True)
class TaskSpec:
    """One benchmark task.

    Attributes:
        id: short id ("T5", "demo-crackles-easy").
        name: readable name.
        dataset: dataset key of the reader that yields its items.
        modality: "cough", "breath", "lung", "heart", "snore", "vowel", ...
        kind: "binary", "multiclass" or "regression".
        metric: "auroc" (macro one-vs-rest) or "mae" (regression; MAPE is reported beside it).
        labels: class names in label-index order (empty for regression).
        class_findings: per label, the finding a report would state for that class ("no murmur", "a murmur is
            present"): zero-shot scoring prompts with it (align.zero_shot). Empty: the label names are used.
        split: "official" (read from the data), "group-stratified" (seeded, group-disjoint) or "loso".
        group_by: metadata key that groups recordings of one subject.
        input_seconds: per encoder family, OPERA's pad-to length in seconds ({"default": 8.0, ...}).
        windowing: per encoder family, how a windowed encoder cuts clips for this task
            ({"opera-gt": Windowing(seconds=5.0)}); families not named use the encoder's default.
        probe: probe hyperparameters.
        version: bumped whenever items, labels or splits change; part of every cache key and result.
        seeds: number of probe seeds (OPERA: 5 for classification, 1 for regression).
        notes: caveats shown on the leaderboard (e.g. "test has 17 healthy recordings").
        options: dataset-reader options (e.g. the demo difficulty).
    """

    id: str
    name: str
    dataset: str
    modality: str
    kind: str
    metric: str
    labels: tuple[str, ...] = ()
    class_findings: tuple[str, ...] = ()
    split: str = "official"
    group_by: str = "subject"
    input_seconds: dict = field(default_factory=lambda: {"default": 8.0})
    windowing: dict = field(default_factory=dict)
    probe: ProbeConfig = ProbeConfig()
    version: int = 1
    seeds: int = 5
    notes: str = ""
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"task {self.id}: kind {self.kind!r} not in {KINDS}")
        if self.kind != "regression" and len(self.labels) < 2:
            raise ValueError(f"task {self.id}: a {self.kind} task needs at least two labels")
        if self.class_findings and (len(self.class_findings) != len(self.labels)
                                    or len(set(self.class_findings)) != len(self.class_findings)):
            raise ValueError(f"task {self.id}: class_findings must give one distinct finding per label "
                             f"({len(self.labels)} labels), got {self.class_findings}")

    def __hash__(self) -> int:
        return hash((self.id, self.version))

    @property
    def default_probe(self) -> str:
        """The probe this task is scored with unless --probe says otherwise: OPERA's own protocol on OPERA's
        tasks (so numbers sit beside the published ones), the cross-validated logistic/ridge probe elsewhere
        (cardiac, demo and csv tasks: benchmark_tasks/probe_cv.py)."""
        return "opera" if self.options.get("suite") == "opera" else "logreg"

    @property
    def native_rate_default(self) -> bool:
        """Whether weight-free baselines compute their features at each file's own sample rate on this task unless
        --native-rate says otherwise: yes on csv (own-data) tasks, whose recordings are often 2-8 kHz heart sounds
        that upsampling to 16 kHz only distorts; no elsewhere, so OPERA's and the cardiac tasks keep OPERA's 16 kHz
        features and sit beside the published numbers."""
        return self.options.get("suite") == "csv"

    @property
    def validation_given(self) -> bool:
        """False when the validation split is one we carved from the training data (csv manifests without `val`
        rows): then the logreg probe picks its regularisation by group-aware CV on train + val instead of on that
        single carve-out; OPERA's probe still needs it to pick an epoch."""
        return self.options.get("validation", "given") == "given"

    def seconds_for(self, family: str) -> float | None:
        """OPERA's pad-to input length for an encoder family, or the task default."""
        return self.input_seconds.get(family, self.input_seconds.get("default"))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["labels"] = list(self.labels)
        d["class_findings"] = list(self.class_findings)
        return d


@dataclass(frozen=True)
class Item:
    """One recording of a task.

    Attributes:
        path: audio file.
        label: class index (int) for classification, float target for regression.
        split: "train", "val" or "test".
        group: subject (or patient) id: recordings of one group never straddle splits.
        metadata: every field the dataset provides (age, sex, site, device, findings, diagnosis, ...).
        uid: stable id of the item inside its dataset (defaults to the path).
    """

    path: str
    label: Any
    split: str
    group: str
    metadata: dict = field(default_factory=dict)
    uid: str = ""

    @property
    def key(self) -> str:
        return self.uid or self.path


def split_fingerprint(items: list[Item]) -> str:
    """sha256 (16 hex) of the sorted (uid, split, label) triples: two results compare only if it matches."""
    h = hashlib.sha256()
    for key, split, label in sorted((i.key, i.split, str(i.label)) for i in items):
        h.update(f"{key}\t{split}\t{label}\n".encode())
    return h.hexdigest()[:16]
