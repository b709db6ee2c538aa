"""COVID-19 Sounds, task 1 (0426_EN): respiratory symptoms from a breathing (T3) or a cough (T4) recording.

Source: COVID-19 Sounds (Xia et al., NeurIPS 2021 Datasets & Benchmarks; University of Cambridge), released on
request under a Data Transfer Agreement: https://covid-19-sounds.org/blog/neurips_dataset. The "task1" package
of github cam-mobsys/covid19-sounds-neurips (Respiratory_prediction/README.md) holds what this reader needs.

Expected layout under DATA_ROOT/covid19-sounds/ (the publisher's names; OPERA's datasets/covid19-sounds/ works):

    data_0426_en_task1.csv     semicolon-separated, one row per submission: Uid, Age, Sex, Medhistory, Smoking,
                               Language, Date, Folder Name, Symptoms, Covid-Tested, Hospitalized, ...,
                               Voice filename, Cough filename, Breath filename, split (0 train / 1 val / 2 test),
                               label (0 / 1). Every column is kept as metadata.
    0426_EN_used_task1/<Uid>/<Folder Name>/<file>           app submissions
    0426_EN_used_task1/form-app-users/<Folder Name>/<file>  web submissions (rows whose Uid starts with "2020")

No OPERA file is needed: the split and the label are columns of data_0426_en_task1.csv. REFERENCE §1 notes that
OPERA's own metadata csv is missing upstream; this reader takes labels, splits and metadata from the dataset's
task-1 csv above, which is the file OPERA's processing script reads. A missing csv or folder is a DatasetError
naming it and the DTA request page; listed audio that is not on disk is a DatasetError naming the first files.

Labels and splits follow OPERA src/benchmark/processing/covid19sounds_processing.py: preprocess_task1() walks the
csv in row order (path rule above) and task1_downsample() keeps every fifth training row (train[::5], the 1st,
6th, 11th, ... training row in csv order) plus all validation and test rows. The downsampling has no seed: it is
a stride, so it is deterministic. The label is the task-1 target of the publisher: 1 = participant reported
respiratory symptoms, 0 = no symptoms (covid19-sounds-neurips Respiratory_prediction/README.md). REFERENCE §1 lists
T3/T4 as "COVID +/-"; the source says symptom prediction (the COVID task is the separate task-2 package).
"""

from __future__ import annotations

import csv
from pathlib import Path

from benchmark_tasks._registry import DataContext, register_dataset
from benchmark_tasks._spec import Item, ProbeConfig, TaskSpec
from benchmark_tasks.clinical import ClinicalField
from benchmark_tasks.datasets._common import DatasetError, dataset_dir, require_file

FOLDER = "covid19-sounds"
SOURCE = "https://covid-19-sounds.org/blog/neurips_dataset (on request, Data Transfer Agreement; task1 files)"
CSV_NAME = "data_0426_en_task1.csv"
AUDIO_FOLDER = "0426_EN_used_task1"
WEB_FOLDER = "form-app-users"
SPLITS = {"0": "train", "1": "val", "2": "test"}
TRAIN_STRIDE = 5
# covid19sounds_processing.py pads to 8 s (--min_len_cnn/--min_len_htsat 8); OPERA-GT uses 8.18 s chunks.
SECONDS = {"default": 8.0, "opera-ct": 8.0, "opera-ce": 8.0, "opera-gt": 8.18}
NOTES = ("Task-1 target of COVID-19 Sounds: respiratory symptoms (not COVID status). Train = every 5th training "
         "row of data_0426_en_task1.csv (OPERA's stride, no seed); val and test complete.")


# What each column of the task-1 csv states (benchmark_tasks/clinical.py). The app stores codes; "None" = none,
# "pnts" = prefer not to say.
SYMPTOMS = {"drycough": "dry cough", "wetcough": "wet cough", "sorethroat": "sore throat",
            "runnyblockednose": "runny or blocked nose", "tightness": "chest tightness",
            "smelltasteloss": "loss of smell or taste", "shortbreath": "shortness of breath",
            "muscleache": "muscle ache"}
MEDICAL_HISTORY = {"copd": "COPD", "cystic": "cystic fibrosis", "hbp": "high blood pressure", "heart": "heart disease",
                   "lung": "other lung disease", "organ": "organ transplant", "longterm": "other long-term condition",
                   "valvular": "valvular heart disease", "otherHeart": "other heart disease", "hiv": "HIV"}
SMOKING = {"never": "never smoked", "ex": "ex-smoker", "ltOnce": "smokes less than once a day",
           "1to10": "smokes 1-10 cigarettes a day", "11to20": "smokes 11-20 cigarettes a day",
           "21+": "smokes more than 20 cigarettes a day", "ecig": "uses e-cigarettes"}
COVID_TESTED = {"negative": "negative", "positiveLast14": "positive within the last 14 days",
                "positiveOver14": "positive more than 14 days ago", "yes": "positive", "no": "not tested"}
CLINICAL_FIELDS = (
    ClinicalField("Age", "age", "number", unit="years", unknown=("pnts",)),  # an age band, "30-39"
    ClinicalField("Sex", "sex", "category", unknown=("pnts",)),
    ClinicalField("Medhistory", "comorbidities", "list", values=MEDICAL_HISTORY, negative=("None",),
                  unknown=("pnts",)),
    ClinicalField("Smoking", "smoker", "category", values=SMOKING, negative=("never",), unknown=("pnts",)),
    ClinicalField("Symptoms", "symptoms", "list", values=SYMPTOMS, negative=("None",), unknown=("pnts",)),
    ClinicalField("Covid-Tested", "covid_status", "category", values=COVID_TESTED, negative=("negative",),
                  positive=("positiveLast14", "positiveOver14", "yes"), unknown=("pnts",)),
    ClinicalField("Hospitalized", "hospitalized", "flag", unknown=("pnts",)),
)
IDENTIFIER_COLUMNS = ("Uid", "Folder Name", "Voice filename", "Cough filename", "Breath filename")
IGNORED_COLUMNS = ("Language", "Date", "Voice check", "split", "label")  # label: the task target (Symptoms)


def _task(task_id: str, modality: str, column: str) -> TaskSpec:
    return TaskSpec(
        id=task_id, name=f"covid19sounds-symptom-{modality}", dataset="covid19sounds", modality=modality,
        kind="binary", metric="auroc", labels=("asymptomatic", "symptomatic"),
        class_findings=("no symptoms are reported", "respiratory symptoms are reported"), split="official",
        group_by="Uid",
        input_seconds=dict(SECONDS), probe=ProbeConfig(lr=1e-4, l2=1e-5, epochs=64, batch_size=64),
        version=1, seeds=5, notes=NOTES,
        # OPERA publishes no split counts for T3/T4 (its feature files for this dataset are not in the repo).
        options={"suite": "opera", "file_column": column, "train_stride": TRAIN_STRIDE})


TASKS = (
    _task("T3", "breath", "Breath filename"),
    _task("T4", "cough", "Cough filename"),
)


def _read_task_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh, delimiter=";")
        rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k is not None} for r in reader]
    needed = ("Uid", "Folder Name", "Breath filename", "Cough filename", "split", "label")
    missing = [c for c in needed if rows and c not in rows[0]]
    if not rows or missing:
        raise DatasetError(f"{path}: expected a ';'-separated csv with columns {list(needed)}; "
                           f"{'no rows' if not rows else f'missing {missing}'}. Use the task1 csv from {SOURCE}")
    return rows


def _audio_path(root: Path, row: dict, column: str) -> Path:
    """OPERA's rule: web submissions (Uid starting with "2020") live under form-app-users/."""
    user = WEB_FOLDER if row["Uid"][:4] == "2020" else row["Uid"]
    return root / AUDIO_FOLDER / user / row["Folder Name"] / row[column]


@register_dataset("covid19sounds", TASKS)
def read_covid19sounds(task: TaskSpec, ctx: DataContext) -> list[Item]:
    """T3/T4 items: audio path, label 0/1 (no symptoms / symptoms), split, group = Uid, metadata = csv row."""
    root = dataset_dir(ctx, FOLDER, SOURCE)
    csv_path = require_file(root / CSV_NAME, "COVID-19 Sounds task-1 metadata/split csv",
                            f"copy it from the task1 package ({SOURCE})")
    require_file(root / AUDIO_FOLDER, "COVID-19 Sounds task-1 audio folder",
                 f"unzip the task1 package ({SOURCE}) there")
    column = task.options["file_column"]
    items, train_seen, bad = [], 0, []
    for n, row in enumerate(_read_task_csv(csv_path), start=2):
        split = SPLITS.get(row["split"])
        if split is None or row["label"] not in ("0", "1"):
            bad.append(f"line {n}: split={row['split']!r} label={row['label']!r}")
            continue
        if split == "train":
            train_seen += 1
            if (train_seen - 1) % task.options["train_stride"]:
                continue
        path = _audio_path(root, row, column)
        meta = {k: (v or None) for k, v in row.items()}
        items.append(Item(path=str(path), label=int(row["label"]), split=split, group=row["Uid"],
                          metadata=meta, uid=f"{row['Uid']}/{row['Folder Name']}/{row[column]}"))
    if bad:
        raise DatasetError(f"{csv_path}: {len(bad)} rows have a split outside 0/1/2 or a label outside 0/1 "
                           f"({'; '.join(bad[:3])}); use the unmodified task1 csv from {SOURCE}")
    absent = [i.uid for i in items if not Path(i.path).is_file()]
    if absent:
        shown = ", ".join(absent[:5]) + (" ..." if len(absent) > 5 else "")
        raise DatasetError(f"{len(absent)} {task.modality} recordings listed in {csv_path} are missing under "
                           f"{root / AUDIO_FOLDER}: {shown}; unzip the complete task1 package ({SOURCE})")
    return items
