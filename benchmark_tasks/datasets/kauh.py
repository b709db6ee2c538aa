"""KAUH lung sounds: healthy vs obstructive disease (asthma or COPD) from an electronic stethoscope (T10).

Source: Fraiwan et al., "A dataset of lung sounds recorded from the chest wall using an electronic stethoscope",
Data in Brief 2021; King Abdullah University Hospital (KAUH), Jordan; Mendeley Data
https://data.mendeley.com/datasets/jwyy9np4gv/3, CC BY 4.0. 112 patients, each recording filtered three ways
(336 files).

Expected layout under DATA_ROOT/KAUH/ (OPERA's datasets/KAUH/ works as is):

    AudioFiles/<F>P<n>_<diagnosis>,<sound type>,<location>,<age>,<sex>.wav
        e.g. "BP1_Asthma,I E W,P L L,70,M.wav". F = stethoscope filter mode (B bell, D diaphragm, E extended);
        P<n> = patient n (BP7, DP7 and EP7 are the same recording of patient 7). Diagnosis as written by the
        publisher (N = normal, Asthma/asthma, COPD/copd, heart failure, pneumonia, Lung Fibrosis, BRON, Plueral
        Effusion, combinations such as "Heart Failure + COPD"); sound type codes I inspiratory, E expiratory,
        W wheezes, C crackles, N normal, Crep crepitations (B, Bronchial also occur); location codes
        A/P anterior/posterior, L/R left/right, U/M/L upper/middle/lower (a few names deviate, e.g. "P L L R").
        The folder is also found as "Audio Files" or "Audiofiles" (OPERA's README spelling).
    Data annotation.xlsx (not read)   the same five fields a row per patient, without any file or patient id;
        the file names carry them, and OPERA labels from the names.

OPERA files (--opera-root): feature/kauh_eval/sound_dir_loc_subset.npy (the 234 recordings OPERA keeps, in its
order) and feature/kauh_eval/train_test_split.npy (their split). A missing file is a DatasetError naming it; a
listed recording missing from the audio folder is a DatasetError naming the first ones.

Labels follow OPERA src/benchmark/processing/kauh_processing.py (preprocess_subset): the diagnosis field is N ->
healthy, contains "asthma"/"Asthma" -> asthma, contains "COPD" -> COPD, anything else dropped. So lower-case
"copd" (patient 25) is dropped, while "Heart Failure + COPD" and "Asthma and lung fibrosis" are kept. T10 label:
healthy 0, asthma or COPD 1 (linear_eval.py, linear_evaluation_kauh).

Split: linear_evaluation_kauh reads train_test_split.npy and treats every entry that is not "train" as test
(162 train / 72 test); 10% of the train recordings become validation with sklearn train_test_split(test_size=0.1,
random_state=1337, stratify=label) over OPERA's order: 145 train / 17 val / 72 test. Upstream defect (noted, not
fixable while keeping OPERA's numbers comparable): that file splits recordings, not patients - 49 of the 78
patients have filter variants of the same recording on both sides. The processing script's own split_set()
is patient-level; its output ships as train_test.npy (156 train / 78 test, 52 / 26 patients) but is never read
upstream. Task "T10-patient" uses it (validation drawn the same way, 140 / 16 / 78).
"""

from __future__ import annotations

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

FOLDER = "KAUH"
SOURCE = "https://data.mendeley.com/datasets/jwyy9np4gv/3 (KAUH lung sound dataset, CC BY 4.0)"
AUDIO_FOLDERS = ("AudioFiles", "Audio Files", "Audiofiles")
OPERA_FILES = "feature/kauh_eval/sound_dir_loc_subset.npy"
LABELS = ("healthy", "obstructive")
VAL_FRACTION, VAL_SEED = 0.1, 1337  # linear_evaluation_kauh

FILTERS = {"B": "bell", "D": "diaphragm", "E": "extended"}
SOUNDS = {"I": "inspiratory", "E": "expiratory", "W": "wheezes", "C": "crackles", "N": "normal",
          "Crep": "crepitations"}
SURFACES, SIDES, LEVELS = {"A": "anterior", "P": "posterior"}, {"L": "left", "R": "right"}, \
    {"U": "upper", "M": "middle", "L": "lower"}

# kauh_processing.py defaults: --min_len_cnn 8, --min_len_htsat 8; OPERA-GT cuts 8.18 s chunks.
SECONDS = {"default": 8.0, "opera-ct": 8.0, "opera-ce": 8.0, "opera-gt": 8.18}
# linear_eval.py: epochs 50, batch 32, lr/l2 from the CLI defaults, checkpoints every 5 epochs.
PROBE = ProbeConfig(lr=1e-4, l2=1e-5, epochs=50, batch_size=32, select_every=5)

# What each metadata key (all read from the file name) states (benchmark_tasks/clinical.py).
CLINICAL_FIELDS = (
    ClinicalField("filter_mode", "stethoscope_filter", "category"),
    ClinicalField("diagnosis", "diagnosis", "category", values={"N": "healthy"}),
    ClinicalField("sound_type", "sound_type", "category"),
    ClinicalField("location", "site", "category",
                  values={f"{a} {b} {c}": f"{a} {b} {c} chest" for a in SURFACES.values() for b in SIDES.values()
                          for c in LEVELS.values()}),
    ClinicalField("location_code", "site", "category", fallback=True),  # a code _location_text cannot spell out
    ClinicalField("age", "age", "number", unit="years"),
    ClinicalField("sex", "sex", "category", values={"M": "male", "F": "female"}),
)
IDENTIFIER_COLUMNS = ("patient",)
# codes spelled out in filter_mode / sound_type, OPERA's label class (derived from diagnosis), OPERA's split
IGNORED_COLUMNS = ("filter_mode_code", "sound_type_code", "diagnosis_class", "opera_split")
_FINDINGS = ("the subject is recorded as healthy", "the diagnosis is asthma or COPD")

TASKS = (
    TaskSpec(
        id="T10", name="kauh-obstructive", dataset="kauh", modality="lung", kind="binary", metric="auroc",
        labels=LABELS, class_findings=_FINDINGS, split="official", group_by="patient", input_seconds=dict(SECONDS),
        probe=PROBE, version=1, seeds=5,
        notes=("OPERA's split (train_test_split.npy) is per recording, not per patient: 49 of 78 patients have "
               "bell/diaphragm/extended versions of one recording in both train and test, which inflates "
               "AUROC. Kept so numbers compare with OPERA; T10-patient is the patient-disjoint variant. "
               "Lower-case 'copd' (patient 25) is dropped upstream."),
        options={"suite": "opera", "opera_counts": {"train": 145, "val": 17, "test": 72},
                 "opera_split_file": "feature/kauh_eval/train_test_split.npy"}),
    TaskSpec(
        id="T10-patient", name="kauh-obstructive-patient-split", dataset="kauh", modality="lung", kind="binary",
        metric="auroc", labels=LABELS, class_findings=_FINDINGS, split="official", group_by="patient",
        input_seconds=dict(SECONDS), probe=PROBE, version=1, seeds=5,
        notes=("T10 on OPERA's patient-level split (train_test.npy, 52/26 patients; shipped but unused "
               "upstream). Validation = 10% of train recordings as upstream, so not patient-disjoint from "
               "train; test is. Not comparable with OPERA's published T10."),
        options={"suite": "opera-variant", "trim_top_db": 60.0,
                 "opera_counts": {"train": 140, "val": 16, "test": 78},
                 "opera_split_file": "feature/kauh_eval/train_test.npy"}),
)


def opera_class(diagnosis: str) -> str | None:
    """kauh_processing.py's rule: "healthy", "asthma", "COPD", or None (recording dropped)."""
    if diagnosis == "N":
        return "healthy"
    if "asthma" in diagnosis or "Asthma" in diagnosis:
        return "asthma"
    if "COPD" in diagnosis:
        return "COPD"
    return None


def _location_text(code: str) -> str | None:
    parts = code.split()
    if len(parts) == 3 and parts[0] in SURFACES and parts[1] in SIDES and parts[2] in LEVELS:
        return f"{SURFACES[parts[0]]} {SIDES[parts[1]]} {LEVELS[parts[2]]}"
    return None  # a deviating code (e.g. "P L L R"): only the raw code is kept


def name_fields(file_name: str) -> dict:
    """Metadata from a KAUH file name; fields the name lacks are None."""
    stem = Path(file_name).stem
    prefix, _, rest = stem.partition("_")
    fields = [f.strip() for f in rest.split(",")] + [None] * 5
    diagnosis, sound, location, age, sex = fields[:5]
    return {"patient": f"P{prefix[2:]}", "filter_mode_code": prefix[:1],
            "filter_mode": FILTERS.get(prefix[:1]), "diagnosis": diagnosis,
            "diagnosis_class": opera_class(diagnosis or ""), "sound_type_code": sound,
            "sound_type": " ".join(SOUNDS.get(t, t) for t in sound.split()) if sound else None,
            "location_code": location, "location": _location_text(location) if location else None,
            "age": float(age) if age and age.replace(".", "", 1).isdigit() else None, "sex": sex or None}


def _audio_folder(root: Path) -> Path:
    for name in AUDIO_FOLDERS:
        if (root / name).is_dir():
            return root / name
    raise DatasetError(f"{root}: no audio folder ({' / '.join(AUDIO_FOLDERS)}); unzip the audio files of "
                       f"{SOURCE} into {root / AUDIO_FOLDERS[0]}")


def _validation_positions(labels: list[int]) -> set[int]:
    import numpy as np
    from sklearn.model_selection import train_test_split

    _, held = train_test_split(np.arange(len(labels)), test_size=VAL_FRACTION, random_state=VAL_SEED,
                               stratify=labels)
    return set(held.tolist())


@register_dataset("kauh", TASKS)
def read_kauh(task: TaskSpec, ctx: DataContext) -> list[Item]:
    """T10 items: wav path, 0 healthy / 1 obstructive, train/val/test, group = patient, metadata from the name."""
    audio = _audio_folder(dataset_dir(ctx, FOLDER, SOURCE))
    names, splits = opera_names_and_splits(ctx, OPERA_FILES, task.options["opera_split_file"])
    require_listed_audio(audio, names, f"use version 3 of {SOURCE}")
    metas = [name_fields(n) for n in names]
    unlabeled = [n for n, m in zip(names, metas) if m["diagnosis_class"] is None]
    if unlabeled:
        raise DatasetError(f"{OPERA_FILES} lists recordings OPERA's label rule drops: {', '.join(unlabeled[:5])}; "
                           f"re-check out OPERA's file")
    labels = [int(m["diagnosis_class"] != "healthy") for m in metas]
    train_pos = [k for k, s in enumerate(splits) if s == "train"]
    val = {train_pos[j] for j in _validation_positions([labels[k] for k in train_pos])}
    return [Item(path=str(audio / name), label=label,
                 split="val" if k in val else ("train" if splits[k] == "train" else "test"),
                 group=meta["patient"], metadata={**meta, "opera_split": splits[k]}, uid=name)
            for k, (name, label, meta) in enumerate(zip(names, labels, metas))]
