"""SSBPR: sleep body position from a snoring sound (T12).

Source: Xiao et al., "A Snoring Sound Dataset for Body Position Recognition: Collection, Annotation, and
Analysis", Interspeech 2023 (arXiv 2307.13346); https://github.com/xiaoli1996/SSBPR, on request
(xiaoli1996@whu.edu.cn), CC BY 4.0. 7570 snoring recordings, six body positions.

Expected layout under DATA_ROOT/SSBPR/ (OPERA's datasets/SSBPR/ works as is; the publisher documents no more
than this, so the sub-folder level is taken from OPERA's glob "*/*/*.wav"):

    female/<folder>/<A>-<B>-<C>.wav    A-B identifies the patient, C the body position: 0 supine, 1 supine
    male/<folder>/<A>-<B>-<C>.wav      with the head turned left, 2 supine with the head turned right,
                                       3 left-side lying, 4 right-side lying, 5 prone.
No OPERA file is needed. A missing female/ folder is a DatasetError (OPERA checks the same folder); a name whose
last character is not a position digit is a DatasetError naming it.

Labels and split follow OPERA src/benchmark/processing/ssbpr_processing.py (preprocess_split: position = last
character of the name, prone dropped) and src/benchmark/linear_eval.py (linear_evaluation_ssbpr): sklearn
train_test_split(test_size=0.2, random_state=42, stratify=label), then the rest split again with test_size=0.25
(60/20/20). Upstream caveats, both noted on the task: (1) the split is per snore, not per patient - the same
sleeper appears in train and test; kept so that numbers compare with OPERA. (2) OPERA's item order is its glob
order, which depends on the file system and was never published; the split is therefore drawn here over the
recordings sorted by relative path, with OPERA's calls and seeds - the same procedure, not necessarily the same
assignment of files.
"""

from __future__ import annotations

from pathlib import Path

from adapters._spec import Windowing
from benchmark_tasks._registry import DataContext, register_dataset
from benchmark_tasks._spec import Item, ProbeConfig, TaskSpec
from benchmark_tasks.clinical import ClinicalField
from benchmark_tasks.datasets._common import DatasetError, dataset_dir

FOLDER = "SSBPR"
SOURCE = "https://github.com/xiaoli1996/SSBPR (on request from xiaoli1996@whu.edu.cn, CC BY 4.0)"
POSITIONS = ("supine", "supine, head turned left", "supine, head turned right", "left-side lying",
             "right-side lying", "prone")
DROPPED = 5  # prone: ssbpr_processing.py skips it
SEED, TEST_FRACTION, VAL_FRACTION = 42, 0.2, 0.2 / (0.2 + 0.6)
# What each metadata key (read from the path) states (benchmark_tasks/clinical.py).
CLINICAL_FIELDS = (
    ClinicalField("sex", "sex", "category", values={"M": "male", "F": "female"}),
    ClinicalField("body_position", "body_position", "category"),
)
IDENTIFIER_COLUMNS = ("subject", "folder")  # folder: the subject's own folder name
IGNORED_COLUMNS = ("position_code",)  # spelled out in body_position

TASKS = (
    TaskSpec(
        id="T12", name="ssbpr-body-position", dataset="ssbpr", modality="snore", kind="multiclass",
        metric="auroc", labels=POSITIONS[:DROPPED],
        class_findings=tuple(f"body position: {p}" for p in POSITIONS[:DROPPED]), split="official",
        group_by="subject",
        # ssbpr_processing.py: every OPERA encoder gets the 2 s repeat-padded spectrogram (process_spectrogram).
        input_seconds={"default": 2.0, "opera-ct": 2.0, "opera-ce": 2.0, "opera-gt": 2.0},
        # ssbpr_processing.py: one spectrogram per clip padded to 2 s, for every model (OPERA-GT: from_spec)
        windowing={"opera-gt": Windowing("spectrogram")},
        probe=ProbeConfig(lr=1e-4, l2=1e-5, epochs=32, batch_size=64, select_every=3), version=1, seeds=5,
        notes=("Split per snore (stratified 60/20/20, seed 42), not per sleeper: the same subject is in train "
               "and test, as upstream. OPERA's file order was never published, so the files in each split may "
               "differ from OPERA's. Prone (position 5) dropped as upstream. OPERA-GT upstream saw the 2 s "
               "spectrogram unchunked."),
        options={"suite": "opera", "opera_counts": None}),
)


def name_fields(rel: Path) -> dict:
    """Metadata from SSBPR's relative path <sex>/<folder>/<A>-<B>-<C>.wav."""
    stem = rel.stem
    code = stem[-1:]
    if not code.isdigit() or int(code) >= len(POSITIONS):
        raise DatasetError(f"{rel}: the last character of an SSBPR name is the body position 0-5; "
                           f"use the files as the publisher ships them")
    subject = stem.rsplit("-", 1)[0] if "-" in stem else stem[:-1]
    return {"subject": subject, "sex": {"female": "F", "male": "M"}.get(rel.parts[0].lower()),
            "folder": rel.parts[1] if len(rel.parts) > 2 else None, "position_code": int(code),
            "body_position": POSITIONS[int(code)]}


def opera_split(labels: list[int]) -> list[str]:
    """OPERA's two stratified sklearn splits (seed 42) over `labels` in the given order -> split per item."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    index = np.arange(len(labels))
    rest, test = train_test_split(index, test_size=TEST_FRACTION, random_state=SEED, stratify=labels)
    _, val = train_test_split(rest, test_size=VAL_FRACTION, random_state=SEED,
                              stratify=[labels[k] for k in rest])
    out = ["train"] * len(labels)
    for k in test:
        out[k] = "test"
    for k in val:
        out[k] = "val"
    return out


@register_dataset("ssbpr", TASKS)
def read_ssbpr(task: TaskSpec, ctx: DataContext) -> list[Item]:
    """T12 items: wav path, position 0-4, train/val/test, group = subject (A-B), metadata from the path."""
    root = dataset_dir(ctx, FOLDER, SOURCE)
    if not (root / "female").is_dir():
        raise DatasetError(f"{root / 'female'}: folder not found; unzip the SSBPR release from {SOURCE} so that "
                           f"{root} holds its female/ and male/ folders")
    files = sorted(p.relative_to(root) for p in root.glob("*/*/*.wav"))
    kept = [(rel, meta) for rel in files if (meta := name_fields(rel))["position_code"] != DROPPED]
    if not kept:
        raise DatasetError(f"{root}: no <sex>/<folder>/<name>.wav recordings found; see {SOURCE}")
    splits = opera_split([meta["position_code"] for _, meta in kept])
    return [Item(path=str(root / rel), label=meta["position_code"], split=split, group=meta["subject"],
                 metadata=meta, uid=rel.as_posix())
            for (rel, meta), split in zip(kept, splits)]
