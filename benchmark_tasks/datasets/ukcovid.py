"""UK COVID-19 Vocal Audio Dataset: SARS-CoV-2 PCR result from an exhalation (T1) or a cough (T2).

Source: The UK COVID-19 Vocal Audio Dataset, Open Access Edition (UKHSA with the Turing-RSS Health Data Lab;
Budd et al., Sci. Data 2024, arXiv 2212.07738), https://zenodo.org/records/10043978, Open Government Licence v3.0.

Expected layout under DATA_ROOT/covidUK/ (the publisher's file names; OPERA's datasets/covidUK/ works as is):

    participant_metadata.csv   one row per participant_identifier: covid_test_result ("Positive"/"Negative"),
                               covid_test_method, age, gender, smoker_status, symptom_*, respiratory_condition_*,
                               influenza_*, recruitment_source, ... (all columns are kept as metadata)
    audio_metadata.csv         one row per participant: exhalation_file_name, cough_file_name,
                               three_cough_file_name and their *_size / *_sample_rate / *_channels / *_length
    audio/                     the wav files named in audio_metadata.csv. OPERA calls this folder audio_selected/;
                               audio/ is used when present, else audio_selected/.

OPERA files (--opera-root, commit 3622310): datasets/covidUK/<m>_training_files_downsample.npy,
<m>_val_files_downsample.npy and <m>_testing_files_downsample.npy for m in {exhalation, cough}: numpy arrays of
1000 / 500 / 1000 file names that OPERA drew from the Turing-RSS participant-level splits (train_test_splits.csv).
A missing list is a DatasetError naming it. Every listed file must appear in audio_metadata.csv, belong to a
participant in participant_metadata.csv with a Positive/Negative result, and exist on disk; otherwise a
DatasetError names the first offenders (OPERA would silently drop the first kind and crash on the others).

Labels and splits follow OPERA src/benchmark/processing/coviduk_processing.py, process_label(): walk
audio_metadata.csv in row order, keep the rows whose <m>_file_name is in one of the three lists, label
covid_test_result Negative -> 0, Positive -> 1, split = the list the file is in. Each participant gives one
recording per modality, so the group (participant_identifier) is unique per item.

Upstream defect (noted, not copied): scripts/eval_all.sh runs `coviduk_processing.p` for T2, a typo: T2's feature
extraction step fails and its linear evaluation runs on whatever cough features an earlier run left behind.
"""

from __future__ import annotations

import csv
from pathlib import Path

from benchmark_tasks._registry import DataContext, register_dataset
from benchmark_tasks._spec import Item, ProbeConfig, TaskSpec
from benchmark_tasks.clinical import ClinicalField
from benchmark_tasks.datasets._common import DatasetError, dataset_dir, opera_file, require_file

FOLDER = "covidUK"
SOURCE = "https://zenodo.org/records/10043978 (UK COVID-19 Vocal Audio Dataset, Open Access Edition, OGL v3.0)"
LABELS = {"Negative": 0, "Positive": 1}
SPLIT_LISTS = (("train", "training"), ("val", "val"), ("test", "testing"))
OPERA_LIST = "datasets/covidUK/{modality}_{part}_files_downsample.npy"
# OPERA pads to 2 s for its contrastive encoders (coviduk_processing.py --min_len_cnn/--min_len_htsat 2) and
# cuts 8.18 s chunks for OPERA-GT.
SECONDS = {"default": 2.0, "opera-ct": 2.0, "opera-ce": 2.0, "opera-gt": 8.18}
NOTES = ("OPERA's fixed lists: 1000/500/1000 recordings, one per participant, from the Turing-RSS "
         "participant-level splits. Upstream scripts/eval_all.sh calls `coviduk_processing.p` (typo) for T2.")


# What each participant_metadata.csv / audio_metadata.csv column states (benchmark_tasks/clinical.py). The 0/1
# columns symptom_* and respiratory_condition_* each add one item to the participant's list.
_ONE_ZERO = dict(positive=("1",), negative=("0",))
CLINICAL_FIELDS = (
    ClinicalField("age", "age", "number", unit="years"),  # an age band, "45-54"
    ClinicalField("gender", "sex", "category"),
    ClinicalField("smoker_status", "smoker", "category", negative=("Never smoked",), unknown=("Prefer not to say",)),
    ClinicalField("covid_test_result", "covid_status", "category", positive=("Positive",), negative=("Negative",),
                  values={"Positive": "positive", "Negative": "negative"}),
    ClinicalField("covid_test_method", "covid_test_method", "category"),
    ClinicalField("symptom_cough_any", "symptoms", "member", item="cough", **_ONE_ZERO),
    ClinicalField("symptom_*", "symptoms", "member", **_ONE_ZERO),
    ClinicalField("respiratory_condition_*", "respiratory_conditions", "member", **_ONE_ZERO),
)
IDENTIFIER_COLUMNS = ("participant_identifier", "*_file_name")
IGNORED_COLUMNS = ("*_size", "*_sample_rate", "*_channels", "*_length", "recruitment_source")


def _task(task_id: str, recording: str, modality: str) -> TaskSpec:
    return TaskSpec(
        id=task_id, name=f"ukcovid-{recording}", dataset="ukcovid", modality=modality, kind="binary",
        metric="auroc", labels=("negative", "positive"),
        class_findings=("COVID-19 status is negative", "COVID-19 status is positive"), split="official",
        group_by="participant_identifier",
        input_seconds=dict(SECONDS), probe=ProbeConfig(lr=1e-4, l2=1e-5, epochs=64, batch_size=64),
        version=1, seeds=5, notes=NOTES,
        options={"suite": "opera", "opera_counts": {"train": 1000, "val": 500, "test": 1000},
                 "audio_modality": recording})


TASKS = (
    _task("T1", "exhalation", "breath"),
    _task("T2", "cough", "cough"),
)


def _read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in csv.DictReader(fh)]


def _split_of_file(ctx: DataContext, modality: str) -> dict[str, str]:
    """file name -> split, from OPERA's three downsampled lists."""
    import numpy as np

    split_of: dict[str, str] = {}
    for split, part in SPLIT_LISTS:
        path = opera_file(ctx, OPERA_LIST.format(modality=modality, part=part))
        for name in np.load(path, allow_pickle=False).ravel().tolist():
            split_of[str(name)] = split
    return split_of


def _audio_folder(root: Path) -> Path:
    for name in ("audio", "audio_selected"):
        if (root / name).is_dir():
            return root / name
    raise DatasetError(f"{root}: no audio/ folder (nor OPERA's audio_selected/); unpack the wav files from "
                       f"{SOURCE} into {root / 'audio'}")


def _missing(names: list[str], what: str, fix: str) -> DatasetError:
    shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
    return DatasetError(f"{len(names)} {what}: {shown}; {fix}")


@register_dataset("ukcovid", TASKS)
def read_ukcovid(task: TaskSpec, ctx: DataContext) -> list[Item]:
    """T1/T2 items: absolute wav path, label 0/1 (negative/positive PCR), OPERA's split, group = participant."""
    modality = task.options["audio_modality"]
    root = dataset_dir(ctx, FOLDER, SOURCE)
    fix = f"use the Open Access Edition files from {SOURCE}"
    people = {r["participant_identifier"]: r for r in _read_rows(
        require_file(root / "participant_metadata.csv", "participant metadata", fix))}
    audio_rows = _read_rows(require_file(root / "audio_metadata.csv", "audio metadata", fix))
    split_of = _split_of_file(ctx, modality)
    audio_dir = _audio_folder(root)
    column = f"{modality}_file_name"

    items, seen, bad_label = [], set(), []
    for row in audio_rows:
        name = row.get(column, "")
        if name not in split_of:
            continue  # not in OPERA's downstream lists
        person = people.get(row["participant_identifier"])
        result = person.get("covid_test_result", "") if person else "<no participant_metadata row>"
        if result not in LABELS:
            bad_label.append(f"{name} ({row['participant_identifier']}: {result!r})")
            continue
        seen.add(name)
        meta = {k: (v or None) for k, v in person.items()}
        meta.update({k: (v or None) for k, v in row.items() if k.startswith(f"{modality}_")})
        items.append(Item(path=str(audio_dir / name), label=LABELS[result], split=split_of[name],
                          group=row["participant_identifier"], metadata=meta, uid=name))
    if bad_label:
        raise _missing(bad_label, f"listed {modality} recordings have no Positive/Negative covid_test_result "
                       f"in {root / 'participant_metadata.csv'}", fix)
    unlisted = sorted(set(split_of) - seen)
    if unlisted:
        raise _missing(unlisted, f"files of OPERA's {modality} lists are not in {root / 'audio_metadata.csv'} "
                       f"(column {column})", fix)
    absent = [Path(i.path).name for i in items if not Path(i.path).is_file()]
    if absent:
        raise _missing(absent, f"listed {modality} recordings are missing from {audio_dir}", fix)
    return items
