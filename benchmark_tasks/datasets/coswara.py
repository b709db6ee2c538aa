"""Coswara: smoker (T8) and sex (T9) from a shallow-cough recording, on HeAR's split as OPERA uses it.

Source: Coswara (Sharma et al., Interspeech 2020; Bhattacharya et al., Sci. Data 2023; IISc Bangalore),
https://github.com/iiscleap/Coswara-Data, CC BY 4.0.

Expected layout under DATA_ROOT/Coswara-Data/ (a clone of the repository after its `python extract_data.py .`,
which unpacks every <YYYYMMDD>/<YYYYMMDD>.tar.gz.* into Extracted_data/; OPERA's datasets/Coswara-Data/ works):

    combined_data.csv                           one row per participant id: a (age), g (gender), smoker,
                                                covid_status, record_date, l_c/l_s/l_l (location), symptoms and
                                                conditions (cough, cold, fever, asthma, ...); all kept as metadata
    Extracted_data/<YYYYMMDD>/<id>/cough-shallow.wav   (plus metadata.json and the other eight recordings;
                                                metadata.json, when present, fills fields the csv leaves blank)

OPERA files (--opera-root), under feature/coswara_eval/, for label in {smoker, sex}:
    cough_aligned_filenames_<label>_w_cough-shallow.npy   the item list; its order indexes the split file
    cough_aligned_<label>_label_cough-shallow.npy         OPERA's labels, checked against combined_data.csv
    google_<label>_cough_split.npy                        HeAR's train/test assignment per item
A missing file is a DatasetError naming it; a listed id absent from combined_data.csv, a label that disagrees
with OPERA's, or missing audio is a DatasetError naming the first cases.

The item list is the output of OPERA src/benchmark/processing/coswara_processing.py (preprocess_label +
preprocess_modality): combined_data.csv rows whose cough-shallow quality annotation is not 0, minus three users
with broken files, minus users without both cough-heavy and cough-shallow, minus unknown labels (sex: male -> 0,
female -> 1; smoker: n/False -> 0, y/True -> 1). It is read rather than rebuilt because the split file indexes it
and Coswara-Data keeps growing. The validation split follows src/benchmark/linear_eval.py
(linear_evaluation_coswara, map_google): sklearn train_test_split of HeAR's train items, test_size 0.2,
stratified by label, random_state 1337. Upstream defect: with --mapgoogle, linear_eval.py opens
google_<label>_cough-shallow_split.npy, but the file OPERA ships is google_<label>_cough_split.npy (read here).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from adapters._spec import Windowing
from benchmark_tasks._registry import DataContext, register_dataset
from benchmark_tasks._spec import Item, ProbeConfig, TaskSpec
from benchmark_tasks.clinical import ClinicalField
from benchmark_tasks.datasets._common import DatasetError, dataset_dir, opera_file, require_file

FOLDER = "Coswara-Data"
SOURCE = "https://github.com/iiscleap/Coswara-Data (clone, then `python extract_data.py .`; CC BY 4.0)"
MODALITY = "cough-shallow"
EVAL = "feature/coswara_eval/"
VAL_FRACTION, VAL_SEED = 0.2, 1337
LABEL_RULES = {"sex": ("g", {"male": 0, "female": 1}),
               "smoker": ("smoker", {"n": 0, "False": 0, "FALSE": 0, "y": 1, "True": 1, "TRUE": 1})}
# coswara_processing.py: spectrograms padded to 8 s (--min_len_htsat 8; OPERA-GT cuts those into 256-frame
# chunks) and to 2 s for OPERA-CE (--min_len_cnn 2, the *_spec_pad2_* files).
SECONDS = {"default": 8.0, "opera-ct": 8.0, "opera-ce": 2.0, "opera-gt": 8.0}
# coswara_processing.py embeds precomputed spectrograms of 8 s-padded clips (OPERA-GT: from_spec)
WINDOWING = {"opera-gt": Windowing("spectrogram")}
NOTES = ("HeAR's split ({hear}); OPERA holds out a stratified 20% of train (random_state 1337) as validation. "
         "Not subject-disjoint: Coswara gives a returning user a new id. OPERA's published linear_eval.py never "
         "passes --mapgoogle (lines 908/910 at 3622310), so its T8/T9 numbers may come from a random 80/20 split "
         "(seed 1337) instead of this one.")


# What each combined_data.csv column states (its legend, csv_labels_legend.json; benchmark_tasks/clinical.py).
# Symptom and condition columns are True (or blank) per participant: each True adds one item to the list.
_TRUE_FALSE = dict(positive=("True", "y"), negative=("False", "n"))
SYMPTOM_COLUMNS = {"cough": "cough", "cold": "cold", "fever": "fever", "diarrhoea": "diarrhoea", "st": "sore throat",
                   "loss_of_smell": "loss of smell or taste", "mp": "muscle pain", "ftg": "fatigue",
                   "bd": "breathing difficulty"}
CONDITION_COLUMNS = {"asthma": "asthma", "cld": "chronic lung disease", "ht": "hypertension",
                     "ihd": "ischaemic heart disease", "diabetes": "diabetes", "pneumonia": "pneumonia",
                     "others_resp": "other respiratory illness", "others_preexist": "other pre-existing condition"}
COVID_STATUS = {"healthy": "healthy", "positive_mild": "positive, mild", "positive_moderate": "positive, moderate",
                "positive_asymp": "positive, asymptomatic", "recovered_full": "recovered from COVID-19",
                "resp_illness_not_identified": "respiratory illness, not identified as COVID-19",
                "no_resp_illness_exposed": "exposed to COVID-19, no respiratory illness"}
VACCINATION = {"y": "fully vaccinated against COVID-19 (two doses)",
               "p": "partially vaccinated against COVID-19 (one dose)", "n": "not vaccinated against COVID-19"}
CLINICAL_FIELDS = (
    ClinicalField("a", "age", "number", unit="years"),
    ClinicalField("g", "sex", "category"),
    ClinicalField("covid_status", "covid_status", "category", values=COVID_STATUS, unknown=("under_validation",),
                  positive=("positive_mild", "positive_moderate", "positive_asymp")),
    ClinicalField("test_status", "covid_test", "category", values={"p": "positive", "n": "negative"},
                  unknown=("na",)),
    ClinicalField("testType", "covid_test_method", "category"),
    ClinicalField("smoker", "smoker", "flag"),
    *(ClinicalField(c, "symptoms", "member", item=item, **_TRUE_FALSE) for c, item in SYMPTOM_COLUMNS.items()),
    *(ClinicalField(c, "comorbidities", "member", item=item, **_TRUE_FALSE) for c, item in CONDITION_COLUMNS.items()),
    ClinicalField("ctScan", "ct_scan", "flag"),
    ClinicalField("ctScore", "ct_score", "number"),
    ClinicalField("vacc", "covid_vaccination", "category", values=VACCINATION),
)
IDENTIFIER_COLUMNS = ("id",)
# dates, English proficiency, country / locality / state, returning user, mask use, the Extracted_data folder
IGNORED_COLUMNS = ("record_date", "test_date", "ctDate", "ep", "l_c", "l_l", "l_s", "rU", "um", "date_folder")


def _task(task_id: str, label: str, labels: tuple, hear: str, counts: tuple, findings: tuple) -> TaskSpec:
    return TaskSpec(
        id=task_id, name=f"coswara-{label}", dataset="coswara", modality="cough", kind="binary", metric="auroc",
        labels=labels, class_findings=findings, split="official", group_by="id", input_seconds=dict(SECONDS),
        windowing=dict(WINDOWING),
        probe=ProbeConfig(lr=1e-4, l2=1e-5, epochs=64, batch_size=32), version=1, seeds=5,
        notes=NOTES.format(hear=hear),
        options={"suite": "opera", "label": label, "recording": MODALITY,
                 "opera_counts": dict(zip(("train", "val", "test"), counts))})


TASKS = (
    _task("T8", "smoker", ("non-smoker", "smoker"), "847 train / 101 test", (677, 170, 101),
          ("the subject does not smoke", "the subject smokes")),
    _task("T9", "sex", ("male", "female"), "1844 train / 652 test", (1475, 369, 652),
          ("a male subject", "a female subject")),
)


def _opera_arrays(ctx: DataContext, label: str):
    import numpy as np

    files = [f"{EVAL}cough_aligned_filenames_{label}_w_{MODALITY}.npy",
             f"{EVAL}cough_aligned_{label}_label_{MODALITY}.npy", f"{EVAL}google_{label}_cough_split.npy"]
    names, labels, splits = (np.load(opera_file(ctx, f), allow_pickle=False).ravel() for f in files)
    if not len(names) == len(labels) == len(splits):
        raise DatasetError(f"{ctx.opera_root}: {files} hold {len(names)}, {len(labels)}, {len(splits)} entries; "
                           f"they must align one to one (re-check out OPERA)")
    odd = sorted({str(s) for s in splits} - {"train", "test"})
    if odd:
        raise DatasetError(f"{ctx.opera_root / files[2]}: split values {odd}; expected only 'train' and 'test'")
    return [str(n) for n in names], [int(v) for v in labels], [str(s) for s in splits]


def _val_positions(labels: list[int], splits: list[str]) -> set[int]:
    """Indices OPERA moves from HeAR's train to validation (its exact sklearn call on the train items)."""
    from sklearn.model_selection import train_test_split

    train = [i for i, s in enumerate(splits) if s == "train"]
    _, val = train_test_split(train, test_size=VAL_FRACTION, random_state=VAL_SEED,
                              stratify=[labels[i] for i in train])
    return set(val)


def _participant_metadata(row: dict, folder: Path) -> dict:
    meta = {k: (v or None) for k, v in row.items()}
    meta["date_folder"] = folder.parent.name
    extra = folder / "metadata.json"
    if extra.is_file():
        with open(extra, encoding="utf-8") as fh:
            for key, value in json.load(fh).items():
                if meta.get(key) is None:  # combined_data.csv wins; the json fills its blanks
                    meta[key] = value if value != "" else None
    return meta


def _shown(values: list[str]) -> str:
    return ", ".join(values[:5]) + (" ..." if len(values) > 5 else "")


@register_dataset("coswara", TASKS)
def read_coswara(task: TaskSpec, ctx: DataContext) -> list[Item]:
    """T8/T9 items: cough-shallow wav path, label index, split (HeAR train/test + OPERA's val), group = id."""
    label = task.options["label"]
    column, rule = LABEL_RULES[label]
    root = dataset_dir(ctx, FOLDER, SOURCE)
    csv_path = require_file(root / "combined_data.csv", "Coswara participant metadata", f"clone {SOURCE}")
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:
        people = {r["id"].strip(): {k.strip(): (v or "").strip() for k, v in r.items() if k is not None}
                  for r in csv.DictReader(fh)}
    names, opera_labels, splits = _opera_arrays(ctx, label)
    val = _val_positions(opera_labels, splits)
    items, unknown, disagree, absent = [], [], [], []
    for n, (name, opera_label, split) in enumerate(zip(names, opera_labels, splits)):
        date, pid, wav = name.split("/")[-3:]
        row = people.get(pid)
        if row is None:
            unknown.append(pid)
            continue
        value = rule.get(row.get(column, ""))
        if value != opera_label:
            disagree.append(f"{pid} ({column}={row.get(column, '')!r}, OPERA label {opera_label})")
            continue
        path = root / "Extracted_data" / date / pid / wav
        if not path.is_file():
            absent.append(f"{date}/{pid}/{wav}")
            continue
        items.append(Item(path=str(path), label=value, split="val" if n in val else split, group=pid,
                          metadata=_participant_metadata(row, path.parent), uid=f"{pid}/{wav}"))
    fix = f"use a checkout of {SOURCE} that contains OPERA's participants"
    if unknown:
        raise DatasetError(f"{len(unknown)} ids of OPERA's Coswara list are not in {csv_path}: {_shown(unknown)}; "
                           f"{fix}")
    if disagree:
        raise DatasetError(f"{len(disagree)} {label} labels in {csv_path} differ from OPERA's: "
                           f"{_shown(disagree)}; {fix}")
    if absent:
        raise DatasetError(f"{len(absent)} listed recordings are missing under {root / 'Extracted_data'}: "
                           f"{_shown(absent)}; run `python extract_data.py .` in {root}")
    return items
