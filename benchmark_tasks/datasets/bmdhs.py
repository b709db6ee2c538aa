"""BUET Multi-disease Heart Sound (BMD-HS): normal vs valvular disease (C3) and each valve lesion (C4-C7).

Source: BMD-HS (Ali et al., arXiv 2409.00724; recorded at the National Institute of Cardiovascular Diseases,
Dhaka), https://github.com/mHealthBuet/BMD-HS-Dataset (commit 97108f0). The repository states no licence; cite the
paper.

Expected layout under DATA_ROOT/BMD-HS-Dataset/ (a clone of the repository):

    train.csv                 one row per patient (108): patient_id (patient_001 ...), AS, AR, MR, MS, N (0/1:
                              aortic stenosis, aortic regurgitation, mitral regurgitation, mitral stenosis,
                              normal), recording_1 ... recording_8 (wav names without .wav)
    additional_metadata.csv   patient_id, Age, Gender (M/F), Smoker (0/1), Lives (U urban / R rural)
    train/<name>.wav          4 kHz, 20 s; name = <class>_<nnn>_<posture>_<site>: class AS AR MR MS MD (several
                              lesions) N, posture sup (supine) / sit (sitting), site Aor Pul Tri Mit; 8 per patient
    eco.xlsx                  not read: its sheet "Final" repeats train.csv and additional_metadata.csv, and
                              "Sheet1" holds patients' names.

train.csv, additional_metadata.csv and train/ are required: a missing one, a patient without a metadata row, a
listed wav that is absent, or flags that contradict each other (N = 1 with a lesion, or N = 0 without one) are a
DatasetError naming the file. Two publisher quirks are handled on purpose: train/MD_022_*.wav (8 files) have no
row in train.csv (eco.xlsx marks them "Others", without labels) and are not used; train.csv lists
MD_085_sit_Tri, which the repository stores as MD_085_sit_Tri6_06.wav (`FILE_ALIASES`).

Tasks follow AcuLa's BMD-HS question set (datasets/BMD/bmd.csv asks of every recording "Is this patient
normal?" and "Does this patient have Aortic Stenosis / Aortic Regurgitation / Mitral Regurgitation / Mitral
Stenosis?"): one binary task each, labels broadcast from the patient to its 8 recordings. AcuLa's repository has
no BMD-HS split; here patients get a seeded 60/20/20 split (benchmark_tasks.splits.group_stratified_split, seed
task.options["split_seed"] = 0, stratified by the recording-name class AS/AR/MR/MS/MD/N), shared by C3-C7.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from benchmark_tasks._registry import DataContext, register_dataset
from benchmark_tasks._spec import Item, ProbeConfig, TaskSpec
from benchmark_tasks.clinical import ClinicalField
from benchmark_tasks.datasets._common import DatasetError, dataset_dir, require_file

FOLDER = "BMD-HS-Dataset"
SOURCE = "https://github.com/mHealthBuet/BMD-HS-Dataset (BUET Multi-disease Heart Sound dataset)"
LESIONS = {"AS": "aortic stenosis", "AR": "aortic regurgitation", "MR": "mitral regurgitation",
           "MS": "mitral stenosis"}
FILE_ALIASES = {"MD_085_sit_Tri": "MD_085_sit_Tri6_06"}  # train.csv name -> the repository's file name
POSTURES = {"sup": "supine", "sit": "sitting"}
SITES = {"Aor": "aortic area", "Pul": "pulmonic area", "Tri": "tricuspid area", "Mit": "mitral area"}
NAME = re.compile(r"^(?P<cls>[A-Z]+)_(?P<num>\d+)_(?P<posture>sup|sit)_(?P<site>Aor|Pul|Tri|Mit)")
SPLIT_SEED = 0
FRACTIONS = (0.6, 0.2, 0.2)
NOTES = ("108 patients (21 normal), 8 recordings each (supine and sitting x 4 sites). Seeded patient-disjoint "
         "split (seed 0): 66 / 22 / 20 patients, the test set holds 4 normal patients; expect wide intervals. ")


# What each metadata key states (benchmark_tasks/clinical.py): train.csv flags, additional_metadata.csv, the name.
CLINICAL_FIELDS = (
    *(ClinicalField(code, full.replace(" ", "_"), "flag", positive=("1",), negative=("0",))
      for code, full in LESIONS.items()),
    ClinicalField("N", "valvular_disease", "flag", positive=("0",), negative=("1",)),  # N = 1: normal
    ClinicalField("Age", "age", "number", unit="years"),
    ClinicalField("Gender", "sex", "category", values={"M": "male", "F": "female"}),
    ClinicalField("Smoker", "smoker", "flag", positive=("1",), negative=("0",)),
    ClinicalField("Lives", "residence", "category", values={"U": "urban", "R": "rural"}),
    ClinicalField("posture", "body_position", "category"),
    ClinicalField("auscultation_site", "site", "category"),
)
IDENTIFIER_COLUMNS = ("patient_id", "recording_id")
IGNORED_COLUMNS = ("diagnosis", "recording_slot")  # diagnosis: the lesion flags joined; slot: train.csv column


def _task(task_id: str, name: str, column: str, labels: tuple, note: str, findings: tuple) -> TaskSpec:
    return TaskSpec(
        id=task_id, name=name, dataset="bmdhs", modality="heart", kind="binary", metric="auroc", labels=labels,
        class_findings=findings,
        split="group-stratified", group_by="patient_id", input_seconds={"default": 8.0},
        probe=ProbeConfig(lr=1e-4, l2=1e-5, epochs=64, batch_size=64), version=1, seeds=5, notes=NOTES + note,
        options={"suite": "cardiac", "label_column": column, "split_seed": SPLIT_SEED})


TASKS = (
    _task("C3", "bmdhs-disease", "N", ("normal", "valvular disease"),
          "Normal (N = 1) vs any valve lesion (AcuLa's 'Is this patient normal?').",
          ("no valvular heart disease", "valvular heart disease is present")),
    *(_task(f"C{4 + i}", f"bmdhs-{code.lower()}", code, ("absent", "present"),
            f"{full.capitalize()} present or not, other lesions may coexist (multi-disease patients).",
            (f"no {full}", f"{full} is present"))
      for i, (code, full) in enumerate(LESIONS.items())),
)


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def _flags(row: dict, path: Path) -> dict[str, int]:
    flags = {}
    for col in (*LESIONS, "N"):
        if row.get(col) not in ("0", "1"):
            raise DatasetError(f"{path}: {row.get('patient_id')} has {col} = {row.get(col)!r}, expected 0 or 1")
        flags[col] = int(row[col])
    if flags["N"] == any(flags[c] for c in LESIONS):
        raise DatasetError(f"{path}: {row['patient_id']} has N = {flags['N']} with lesions "
                           f"{[c for c in LESIONS if flags[c]]}; N must be 1 exactly when no lesion is marked")
    return flags


def patient_class(flags: dict[str, int]) -> str:
    """The recording-name class: N, the single lesion, or MD when several lesions are marked."""
    lesions = [c for c in LESIONS if flags[c]]
    return "N" if not lesions else lesions[0] if len(lesions) == 1 else "MD"


def _label(flags: dict[str, int], column: str) -> int:
    return 1 - flags["N"] if column == "N" else flags[column]


def _wav(folder: Path, name: str) -> Path:
    path = folder / f"{name}.wav"
    if not path.is_file() and name in FILE_ALIASES:
        path = folder / f"{FILE_ALIASES[name]}.wav"
    return path


def _recording_meta(name: str, slot: int) -> dict:
    m = NAME.match(name)
    return {"recording_id": name, "recording_slot": slot,
            "posture": POSTURES[m["posture"]] if m else None, "auscultation_site": SITES[m["site"]] if m else None}


@register_dataset("bmdhs", TASKS)
def read_bmdhs(task: TaskSpec, ctx: DataContext) -> list[Item]:
    """C3-C7 items: the 8 recordings of every train.csv patient, binary label, seeded patient-disjoint split."""
    from benchmark_tasks.splits import group_stratified_split

    root = dataset_dir(ctx, FOLDER, SOURCE)
    fix = f"clone {SOURCE} into {root}"
    table_path = require_file(root / "train.csv", "BMD-HS label table", fix)
    meta_path = require_file(root / "additional_metadata.csv", "BMD-HS patient metadata", fix)
    folder = require_file(root / "train", "BMD-HS recordings folder", fix)
    rows = _read_csv(table_path)
    people = {r["patient_id"]: r for r in _read_csv(meta_path)}
    lost = [r["patient_id"] for r in rows if r["patient_id"] not in people]
    if lost:
        raise DatasetError(f"{meta_path}: no row for {lost[:5]} listed in {table_path.name}; {fix}")

    flags = {r["patient_id"]: _flags(r, table_path) for r in rows}
    pids = sorted(flags)
    splits = group_stratified_split([patient_class(flags[p]) for p in pids], pids,
                                    seed=task.options.get("split_seed", SPLIT_SEED), fractions=FRACTIONS)
    split_of = dict(zip(pids, splits))
    column = task.options["label_column"]
    diagnosis = {p: "; ".join(LESIONS[c] for c in LESIONS if f[c]) or "normal" for p, f in flags.items()}

    items, absent = [], []
    for row in rows:
        pid = row["patient_id"]
        names = [row[k] for k in sorted((k for k in row if k.startswith("recording_")),
                                        key=lambda k: int(k.split("_")[1])) if row[k]]
        for slot, name in enumerate(names, start=1):
            path = _wav(folder, name)
            if not path.is_file():
                absent.append(f"{name}.wav")
                continue
            meta = {"patient_id": pid, **flags[pid], "diagnosis": diagnosis[pid],
                    **{k: (v or None) for k, v in people[pid].items() if k != "patient_id"},
                    **_recording_meta(name, slot)}
            items.append(Item(path=str(path), label=_label(flags[pid], column), split=split_of[pid], group=pid,
                              metadata=meta, uid=name))
    if absent:
        shown = ", ".join(absent[:5]) + (f" ... ({len(absent)} in all)" if len(absent) > 5 else "")
        raise DatasetError(f"{folder}: recordings listed in {table_path.name} are missing: {shown}; {fix}")
    return items
