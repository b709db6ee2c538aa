"""NoseMic: respiratory rate from nasal breathing sounds, leave-one-subject-out (T19).

Source: University of Cambridge (OPERA authors' group), copyright 2024, all rights reserved; download link in
OPERA's datasets/nosemic/README.md
(https://drive.google.com/drive/folders/1uVcfw8Us3IwUYRGLxJyp6lOLmaXlJmcT). Recordings from a microphone at the
nose, each labelled with the breathing rate measured alongside it.

Expected layout under DATA_ROOT/nosemic/ (OPERA's datasets/nosemic/ works as is):

    audio/<subject>_<x>_<y>_<rate>.wav   four '_'-separated fields: subject id (e.g. 4), two fields OPERA
                                         ignores (kept as metadata name_field_2/3; their meaning is not
                                         documented by the publisher), respiratory rate (breaths per minute).
No OPERA file is needed. A missing audio/ folder is a DatasetError with the download link; a .wav whose name
does not have four fields, or whose last field is not a number, is a DatasetError naming it (OPERA would crash).

Labels and folds follow OPERA src/benchmark/processing/nosemic_processing.py (process_label: files in sorted()
order, subject and rate from the name) and src/benchmark/linear_eval.py (linear_evaluation_nosemic): one test
fold for each of the 16 subjects 4-14 and 17-21; all other recordings train every fold, 20% of a fold's
training recordings become validation (random, seed 42, in the probe). Items keep the sorted file order, which
that validation draw depends on. Items of the 16 test subjects have split "test"; recordings of any other
subject (OPERA only ever trains on them) have split "train", so a LOSO runner can take folds over the "test"
groups only.

Probe: lr 1e-4, l2 1e-1, 64 epochs, batch 64, no early stopping. Input lengths (nosemic_processing.py):
OPERA-CT 30 s, OPERA-CE 1 s, OPERA-GT 8 s chunks upstream (the adapter cuts 8.18 s chunks).
"""

from __future__ import annotations

from pathlib import Path

from adapters._spec import Windowing
from benchmark_tasks._registry import DataContext, register_dataset
from benchmark_tasks._spec import Item, ProbeConfig, TaskSpec
from benchmark_tasks.clinical import ClinicalField
from benchmark_tasks.datasets._common import DatasetError, dataset_dir

FOLDER = "nosemic"
SOURCE = ("https://drive.google.com/drive/folders/1uVcfw8Us3IwUYRGLxJyp6lOLmaXlJmcT (NoseMic, University of "
          "Cambridge; link from OPERA datasets/nosemic/README.md)")
# What each metadata key (read from the file name) states (benchmark_tasks/clinical.py).
CLINICAL_FIELDS = (ClinicalField("respiratory_rate_bpm", "respiratory_rate", "number"),)
IDENTIFIER_COLUMNS = ("subject",)
IGNORED_COLUMNS = ("name_field_2", "name_field_3")  # undocumented by the publisher
LOSO_SUBJECTS = ("4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "17", "18", "19", "20", "21")

TASKS = (
    TaskSpec(
        id="T19", name="nosemic-respiratory-rate", dataset="nosemic", modality="breath", kind="regression",
        metric="mae", split="loso", group_by="subject",
        input_seconds={"default": 8.0, "opera-ct": 30.0, "opera-ce": 1.0, "opera-gt": 8.0},
        # nosemic_processing.py: OPERA-GT input_sec = 8 (not 8.18): 8 s windows at a 4 s hop
        windowing={"opera-gt": Windowing("waveform", 8.0)},
        probe=ProbeConfig(lr=1e-4, l2=1e-1, epochs=64, batch_size=64, val_fraction=0.2), version=1, seeds=1,
        notes=("Respiratory rate (breaths/min), leave-one-subject-out over OPERA's 16 test subjects, MAE (MAPE "
               "beside it). OPERA-GT used 8 s chunks upstream."),
        options={"suite": "opera", "opera_counts": None, "loso_subjects": list(LOSO_SUBJECTS)}),
)


def name_fields(file_name: str) -> dict:
    """subject, the two unnamed fields and the respiratory rate from a NoseMic file name."""
    parts = Path(file_name).stem.split("_")
    rate = None
    if len(parts) == 4:
        try:
            rate = float(parts[3])
        except ValueError:
            rate = None
    if rate is None:
        raise DatasetError(f"{file_name}: a NoseMic name is <subject>_<x>_<y>_<breaths per minute>.wav; use the "
                           f"files as published at {SOURCE}")
    return {"subject": parts[0], "name_field_2": parts[1], "name_field_3": parts[2],
            "respiratory_rate_bpm": rate}


@register_dataset("nosemic", TASKS)
def read_nosemic(task: TaskSpec, ctx: DataContext) -> list[Item]:
    """T19 items in sorted file order: wav path, rate (breaths/min), split test/train, group = subject."""
    audio = dataset_dir(ctx, FOLDER, SOURCE) / "audio"
    if not audio.is_dir():
        raise DatasetError(f"{audio}: folder not found; copy the 'audio' folder from {SOURCE} there")
    names = sorted(p.name for p in audio.iterdir() if p.suffix.lower() == ".wav")
    if not names:
        raise DatasetError(f"{audio}: no .wav files; copy the 'audio' folder from {SOURCE} there")
    items = []
    for name in names:
        meta = name_fields(name)
        split = "test" if meta["subject"] in LOSO_SUBJECTS else "train"
        items.append(Item(path=str(audio / name), label=meta["respiratory_rate_bpm"], split=split,
                          group=meta["subject"], metadata=meta, uid=name))
    return items
