"""RespiratoryDatabase@TR: COPD severity 0-4 from 12-channel auscultation (T11).

Source: Altan et al., "Multimedia Respiratory Database (RespiratoryDatabase@TR): Auscultation Sounds and Chest
X-rays", Natural and Engineering Sciences 2017; Mendeley Data https://data.mendeley.com/datasets/p9z4h98s6j/1,
CC BY 4.0. Lung sounds of 42 patients, 12 channels each (504 files), with a GOLD-style COPD0-COPD4 label per
patient.

Expected layout under DATA_ROOT/copd/ (OPERA's datasets/copd/ works as is):

    RespiratoryDatabase@TR/<patient>_<channel>.wav   e.g. H002_L1.wav; patient H002-H050, channel L1-L6 / R1-R6
                                                     (left / right chest side)
    Labels.xlsx      sheet 1 columns "Patient ID", "Diagnosis" (COPD0 ... COPD4), one row per patient. Also
                     found inside RespiratoryDatabase@TR/, or as OPERA's Labels.csv (same columns, UTF-8 with
                     BOM) in DATA_ROOT/copd/ or, failing those, in the OPERA checkout's datasets/copd/ (OPERA
                     reads its own Labels.csv from there).

OPERA files (--opera-root): feature/copd_eval/sound_dir_loc.npy (the 504 recordings in OPERA's order) and
feature/copd_eval/train_test_split.npy (their split). A missing file is a DatasetError naming it; a listed
recording missing from RespiratoryDatabase@TR/ is a DatasetError naming the first ones; a patient without a
COPD0-4 label is a DatasetError.

Labels and splits follow OPERA src/benchmark/processing/copd_processing.py (preprocess_split): label = the last
digit of the patient's Diagnosis; patients split 80/20 then 80/20 again (sklearn train_test_split,
random_state 1337, stratified by label) into 26 / 7 / 9 patients = 312 / 84 / 108 recordings, the split OPERA
ships in train_test_split.npy (read here, not recomputed). linear_eval.py (linear_evaluation_copd) uses it as is.
"""

from __future__ import annotations

import csv
from pathlib import Path

from benchmark_tasks._registry import DataContext, register_dataset
from benchmark_tasks._spec import Item, ProbeConfig, TaskSpec
from benchmark_tasks.clinical import ClinicalField
from benchmark_tasks.datasets._common import (
    DatasetError,
    dataset_dir,
    opera_names_and_splits,
    require_listed_audio,
)

FOLDER = "copd"
AUDIO = "RespiratoryDatabase@TR"
SOURCE = "https://data.mendeley.com/datasets/p9z4h98s6j/1 (RespiratoryDatabase@TR, CC BY 4.0)"
OPERA_FILES = "feature/copd_eval/sound_dir_loc.npy"
OPERA_SPLIT = "feature/copd_eval/train_test_split.npy"
LABELS = ("COPD0", "COPD1", "COPD2", "COPD3", "COPD4")
# What each metadata key states (benchmark_tasks/clinical.py).
CLINICAL_FIELDS = (
    ClinicalField("channel", "channel", "category"),
    ClinicalField("side", "site", "category", values={"left": "left chest", "right": "right chest"}),
    ClinicalField("copd_severity", "copd_severity", "category"),
)
IDENTIFIER_COLUMNS = ("patient",)
IGNORED_COLUMNS = ("diagnosis",)  # "COPD<k>": the same label as copd_severity

TASKS = (
    TaskSpec(
        id="T11", name="resp-tr-copd-severity", dataset="resp_tr", modality="lung", kind="multiclass",
        metric="auroc", labels=LABELS, class_findings=tuple(f"COPD severity is level {k}" for k in range(5)),
        split="official", group_by="patient",
        # copd_processing.py defaults: --min_len_cnn 8, --min_len_htsat 8; OPERA-GT cuts 8.18 s chunks.
        input_seconds={"default": 8.0, "opera-ct": 8.0, "opera-ce": 8.0, "opera-gt": 8.18},
        probe=ProbeConfig(lr=1e-4, l2=1e-5, epochs=64, batch_size=32), version=1, seeds=5,
        notes=("Patient-level split 26/7/9 patients (12 channels each); test holds 9 patients, so the macro "
               "AUROC over 5 severities rests on 1-4 patients per class."),
        options={"suite": "opera", "opera_counts": {"train": 312, "val": 84, "test": 108}}),
)


def _xlsx_rows(path: Path) -> list[list]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()


def _csv_rows(path: Path) -> list[list]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return [list(r) for r in csv.reader(fh)]


def _labels_table(root: Path, ctx: DataContext) -> tuple[Path, list[list]]:
    places = [root / "Labels.xlsx", root / AUDIO / "Labels.xlsx", root / "Labels.csv"]
    if ctx.opera_root is not None:
        places.append(Path(ctx.opera_root) / "datasets" / "copd" / "Labels.csv")
    for path in places:
        if path.is_file():
            return path, (_xlsx_rows(path) if path.suffix == ".xlsx" else _csv_rows(path))
    raise DatasetError(f"{root / 'Labels.xlsx'}: patient labels not found (also looked for "
                       f"{AUDIO}/Labels.xlsx, Labels.csv and the OPERA checkout's datasets/copd/Labels.csv); "
                       f"download Labels.xlsx from {SOURCE} into {root}")


def patient_labels(root: Path, ctx: DataContext) -> dict[str, str]:
    """Patient id -> diagnosis ("COPD0" ... "COPD4") from the labels table."""
    path, rows = _labels_table(root, ctx)
    header = [str(c).strip() if c is not None else "" for c in rows[0]] if rows else []
    if "Patient ID" not in header or "Diagnosis" not in header:
        raise DatasetError(f"{path}: expected columns 'Patient ID' and 'Diagnosis', found {header}")
    pid, dx = header.index("Patient ID"), header.index("Diagnosis")
    out = {}
    for row in rows[1:]:
        cells = [str(c).strip() if c is not None else "" for c in row] + [""] * len(header)
        if cells[pid]:
            out[cells[pid]] = cells[dx]
    return out


@register_dataset("resp_tr", TASKS)
def read_resp_tr(task: TaskSpec, ctx: DataContext) -> list[Item]:
    """T11 items: wav path, severity 0-4, OPERA's train/val/test, group = patient, metadata = patient/channel."""
    root = dataset_dir(ctx, FOLDER, SOURCE)
    audio = root / AUDIO
    if not audio.is_dir():
        raise DatasetError(f"{audio}: folder not found; unzip the lung sounds of {SOURCE} into {root}")
    diagnosis = patient_labels(root, ctx)
    names, splits = opera_names_and_splits(ctx, OPERA_FILES, OPERA_SPLIT)
    require_listed_audio(audio, names, f"use the complete download from {SOURCE}")
    items = []
    for name, split in zip(names, splits):
        patient, _, channel = Path(name).stem.partition("_")
        dx = diagnosis.get(patient)
        if dx not in LABELS:
            raise DatasetError(f"{name}: patient {patient} has diagnosis {dx!r} in the labels table, expected one "
                               f"of {LABELS}")
        meta = {"patient": patient, "channel": channel or None,
                "side": {"L": "left", "R": "right"}.get(channel[:1]) if channel else None,
                "diagnosis": dx, "copd_severity": int(dx[-1])}
        items.append(Item(path=str(audio / name), label=int(dx[-1]), split=split, group=patient, metadata=meta,
                          uid=Path(name).stem))
    return items
