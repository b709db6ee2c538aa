"""SPRSound paediatric respiratory sounds: record-level adventitious-sound classes (C12) and normal vs
adventitious (C13), AcuLa's SPRSound tasks.

Source: SPRSound, the SJTU Paediatric Respiratory Sound Database (Zhang et al., IEEE TBioCAS 16(5), 2022; the
IEEE BioCAS 2022 Grand Challenge data), https://github.com/SJTU-YONGFU-RESEARCH-GRP/SPRSound. The repository
carries no licence file; cite the paper.

Expected layout under DATA_ROOT/SPRSound/ (a clone of the repository), either the current one

    BioCAS2022/train2022_wav/<name>.wav, BioCAS2022/train2022_json/<name>.json     training set (1,949)
    BioCAS2022/test2022_wav/<name>.wav                                              test set, one folder
    BioCAS2022/test2022_json/inter_test_json/<name>.json                            inter-subject test (355)
    BioCAS2022/test2022_json/intra_test_json/<name>.json                            intra-subject test (379)

or the older one AcuLa used (datasets/SPRSound/spr_process.py reads train_classification_wav/_json)

    Classification/train_classification_wav/, Classification/train_classification_json/
    Classification/valid_classification_wav/2022/, Classification/valid_classification_json/2022/inter_test_json/

plus, in both, the optional "Patient Summary/SPRSound_patient_summary.csv" (patient_num, disease, age, gender)
that AcuLa merges in for the diagnosis; without it `disease` is None. <name> is
<patient>_<age in years>_<sex 0 male / 1 female>_<site p1 left posterior, p2 left lateral, p3 right posterior,
p4 right lateral>_<recording number>. Each json holds "record_annotation" (Normal, CAS, DAS, CAS & DAS, Poor
Quality; the repository README's example spells the key "recording_annotation", accepted too) and
"event_annotation": [{"start", "end" (ms), "type"}]. A missing json folder, a json without a wav, a json without
a record label or with an unknown one, a file name outside that pattern, or an inter-subject test patient who
is also in the training set is a DatasetError naming it.

Labels follow AcuLa's spr_process.py: Poor Quality recordings are dropped, the record annotation is the class
(C12), and C13 merges CAS, DAS and CAS & DAS into "adventitious" (challenge task 2-1 without Poor Quality).
Split: the publisher's. Train = the training set, with a patient-disjoint validation set carved from it
(group_stratified_split over patients, 80/20, stratified by record class, seed task.options["split_seed"] = 0);
test = the inter-subject test set, whose patients are not in the training set. The intra-subject test set
re-uses training patients and is not used, nor are the later BioCAS 2023-2025 test sets. AcuLa's validation csv
(datasets/SPRSound/metadata_valid_classification_updated.csv) mixed both 2022 test sets: 157 of its 202
validation patients are training patients.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from benchmark_tasks._registry import DataContext, register_dataset
from benchmark_tasks._spec import Item, ProbeConfig, TaskSpec
from benchmark_tasks.clinical import ClinicalField
from benchmark_tasks.datasets._common import DatasetError, dataset_dir

FOLDER = "SPRSound"
SOURCE = "https://github.com/SJTU-YONGFU-RESEARCH-GRP/SPRSound (SPRSound, BioCAS 2022 release)"
# layout name -> (train wav, train json, test wav, inter-subject test json), relative to DATA_ROOT/SPRSound
LAYOUTS = {
    "BioCAS2022": ("BioCAS2022/train2022_wav", "BioCAS2022/train2022_json", "BioCAS2022/test2022_wav",
                   "BioCAS2022/test2022_json/inter_test_json"),
    "Classification": ("Classification/train_classification_wav", "Classification/train_classification_json",
                       "Classification/valid_classification_wav/2022",
                       "Classification/valid_classification_json/2022/inter_test_json"),
}
SUMMARY = "Patient Summary/SPRSound_patient_summary.csv"
RECORD_CLASSES = ("Normal", "CAS", "DAS", "CAS & DAS")
POOR = "Poor Quality"
SITES = {"p1": "left posterior", "p2": "left lateral", "p3": "right posterior", "p4": "right lateral"}
NAME = re.compile(r"^(?P<patient>[^_]*)_(?P<age>\d+(?:\.\d+)?)_(?P<sex>[01])_(?P<site>p\d)_(?P<number>\d+)$")
SPLIT_SEED = 0
VAL_FRACTION = 0.2
NOTES = ("BioCAS 2022 split: train (val = 20% of its patients, seed 0) and the inter-subject test set (unseen "
         "patients); the intra-subject test set and Poor Quality recordings are not used. Lung sounds, not heart: "
         "part of AcuLa's set, listed with the cardiac suite.")


# What each metadata key states (benchmark_tasks/clinical.py): the file name, the json annotation, the summary.
RECORD_TEXT = {"Normal": "normal", "CAS": "continuous adventitious sounds (CAS)",
               "DAS": "discontinuous adventitious sounds (DAS)",
               "CAS & DAS": "continuous and discontinuous adventitious sounds (CAS & DAS)"}
EVENT_TEXT = {"Normal": "normal breathing", "Fine Crackle": "fine crackles", "Coarse Crackle": "coarse crackles",
              "Wheeze": "wheezes", "Wheeze+Crackle": "wheezes with crackles", "Rhonchi": "rhonchi"}
CLINICAL_FIELDS = (
    ClinicalField("age", "age", "number", unit="years"),
    ClinicalField("sex", "sex", "category"),
    ClinicalField("location", "site", "category", values={s: f"{s} chest" for s in SITES.values()}),
    ClinicalField("record_annotation", "record_annotation", "category", values=RECORD_TEXT),
    ClinicalField("event_types", "adventitious_events", "list", values=EVENT_TEXT),
    ClinicalField("disease", "diagnosis", "category"),
)
IDENTIFIER_COLUMNS = ("patient", "recording_number")
# site_code: spelled out in location; event_annotation: per-event times (event_types holds the types); subset:
# which set of the release the recording comes from
IGNORED_COLUMNS = ("site_code", "event_annotation", "subset")


def _task(task_id: str, name: str, scheme: str, kind: str, labels: tuple, findings: tuple) -> TaskSpec:
    return TaskSpec(
        id=task_id, name=name, dataset="sprsound", modality="lung", kind=kind, metric="auroc", labels=labels,
        class_findings=findings,
        split="official", group_by="patient", input_seconds={"default": 8.0},
        probe=ProbeConfig(lr=1e-4, l2=1e-5, epochs=64, batch_size=64), version=1, seeds=5, notes=NOTES,
        options={"suite": "cardiac", "scheme": scheme, "split_seed": SPLIT_SEED})


TASKS = (
    _task("C12", "sprsound-record", "record", "multiclass", RECORD_CLASSES,
          tuple(f"the recording is annotated as {RECORD_TEXT[c]}" for c in RECORD_CLASSES)),
    _task("C13", "sprsound-adventitious", "adventitious", "binary", ("normal", "adventitious"),
          ("the recording is annotated as normal", "the recording is annotated as having adventitious sounds")),
)


def _layout(root: Path) -> tuple[Path, Path, Path, Path]:
    for dirs in LAYOUTS.values():
        paths = tuple(root / d for d in dirs)
        if paths[1].is_dir():
            for path in paths:
                if not path.is_dir():
                    raise DatasetError(f"{path}: folder not found; clone the whole repository {SOURCE}")
            return paths
    expected = " or ".join(str(root / d[1]) for d in LAYOUTS.values())
    raise DatasetError(f"{root}: no training annotations ({expected}); clone {SOURCE} into {root}")


def _record_class(data: dict, path: Path) -> str:
    raw = data.get("record_annotation", data.get("recording_annotation"))
    if not isinstance(raw, str):
        raise DatasetError(f"{path}: no 'record_annotation' (record-level label)")
    label = re.sub(r"\s*&\s*", " & ", raw.strip())
    if label not in RECORD_CLASSES and label != POOR:
        raise DatasetError(f"{path}: record_annotation {raw!r} is not one of {RECORD_CLASSES + (POOR,)}")
    return label


def _number(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _read_annotated(json_dir: Path, wav_dir: Path, subset: str) -> list[tuple[Path, str, dict]]:
    """(wav, record class, metadata) for every json in json_dir, Poor Quality dropped."""
    out, absent = [], []
    for path in sorted(json_dir.glob("*.json")):
        m = NAME.match(path.stem)
        if m is None:
            raise DatasetError(f"{path}: name is not <patient>_<age>_<sex 0/1>_<p1-p4>_<number>")
        data = json.loads(path.read_text(encoding="utf-8"))
        label = _record_class(data, path)
        if label == POOR:
            continue
        wav = wav_dir / f"{path.stem}.wav"
        if not wav.is_file():
            absent.append(wav.name)
            continue
        events = [{"start_ms": _number(e.get("start")), "end_ms": _number(e.get("end")), "type": e.get("type")}
                  for e in data.get("event_annotation") or []]
        meta = {"patient": m["patient"], "age": float(m["age"]), "sex": ("male", "female")[int(m["sex"])],
                "site_code": m["site"], "location": SITES.get(m["site"], m["site"]),
                "recording_number": m["number"], "record_annotation": label, "event_annotation": events,
                "event_types": sorted({e["type"] for e in events if e["type"]}), "subset": subset}
        out.append((wav, label, meta))
    if absent:
        shown = ", ".join(absent[:5]) + (f" ... ({len(absent)} in all)" if len(absent) > 5 else "")
        raise DatasetError(f"{wav_dir}: no wav for annotation(s) in {json_dir}: {shown}; clone the whole "
                           f"repository {SOURCE}")
    return out


def _diseases(root: Path) -> dict[str, str]:
    path = root / SUMMARY
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return {(r.get("patient_num") or "").strip(): (r.get("disease") or "").strip() or None
                for r in csv.DictReader(fh)}


@register_dataset("sprsound", TASKS)
def read_sprsound(task: TaskSpec, ctx: DataContext) -> list[Item]:
    """C12/C13 items: training set (train / carved val) and inter-subject test set, Poor Quality dropped."""
    from benchmark_tasks.splits import group_stratified_split

    root = dataset_dir(ctx, FOLDER, SOURCE)
    train_wav, train_json, test_wav, test_json = _layout(root)
    train = _read_annotated(train_json, train_wav, "train")
    test = _read_annotated(test_json, test_wav, "inter_test")
    shared = sorted({m["patient"] for _, _, m in train} & {m["patient"] for _, _, m in test})
    if shared:
        raise DatasetError(f"{test_json}: patient(s) {shared[:5]} also appear in {train_json}; the "
                           f"inter-subject test set must hold unseen patients (is this the intra-subject set?)")
    carved = group_stratified_split([lab for _, lab, _ in train], [m["patient"] for _, _, m in train],
                                    seed=task.options.get("split_seed", SPLIT_SEED),
                                    fractions=(1 - VAL_FRACTION, VAL_FRACTION, 0.0))
    splits = ["val" if s == "val" else "train" for s in carved] + ["test"] * len(test)
    disease = _diseases(root)
    items = []
    for (wav, label, meta), split in zip(train + test, splits):
        y = RECORD_CLASSES.index(label) if task.options["scheme"] == "record" else int(label != "Normal")
        meta = {**meta, "disease": disease.get(meta["patient"])}
        items.append(Item(path=str(wav), label=y, split=split, group=meta["patient"], metadata=meta,
                          uid=f"{meta['subset']}/{wav.stem}"))
    return items
