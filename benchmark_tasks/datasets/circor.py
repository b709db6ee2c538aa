"""CirCor DigiScope phonocardiograms: murmur per recording (C1) and clinical outcome (C2), AcuLa's cardiac tasks.

Source: The CirCor DigiScope Phonocardiogram Dataset v1.0.3 (Oliveira et al., IEEE JBHI 2022; the public training
set of the George B. Moody PhysioNet Challenge 2022), https://physionet.org/content/circor-heart-sound/1.0.3/,
Open Data Commons Attribution (ODC-By) 1.0.

Expected layout under DATA_ROOT/circor/ (the zip's top folder the-circor-digiscope-phonocardiogram-dataset-1.0.3/
is accepted as DATA_ROOT/circor/ itself or inside it):

    training_data.csv               one row per patient (942): Patient ID, Recording locations:, Age, Sex, Height,
                                    Weight, Pregnancy status, Murmur, Murmur locations, Most audible location,
                                    Systolic murmur timing / shape / grading / pitch / quality, Diastolic murmur
                                    timing / shape / grading / pitch / quality, Outcome, Campaign, Additional ID.
                                    Missing values are the literal "nan". Every column is kept as metadata.
    training_data/<pid>.txt         the patient file in the challenge format: "<pid> <n recordings> <Hz>", then n
                                    lines "<loc> <rec>.hea <rec>.wav [<rec>.tsv]", then "#<Key>: <value>" lines
                                    with the csv's fields (Age ... Additional ID, including #Murmur and #Outcome).
    training_data/<rec>.wav         4 kHz recordings, rec = <pid>_<loc> or <pid>_<loc>_<k> when a site was
                                    recorded twice; loc in AV, PV, TV, MV, Phc. The .hea headers and .tsv S1/S2
                                    segmentations are not read (one recording, 50782_MV_1, has no .tsv).

Every file above is required: a missing folder, csv, patient file or listed wav is a DatasetError naming it;
a patient in the csv without a .txt (or the reverse), or a Murmur/Outcome outside the challenge's values, too.

Labels. The patient files are authoritative, as in the challenge's helper_code.py (get_murmur, get_outcome, and
the recording list that load_recordings walks): the #Key values override the csv's on conflict (an audit of the
real files reports that the two disagree only on Age, for 73 patients; some copies of training_data.csv have no
Outcome column at all). C2 gives every recording its patient's Outcome. C1 is per recording, from the patient's
Murmur and "Murmur locations" (where the annotator heard the murmur): a Present patient's recording is Present
at a listed location and Absent at the others; Absent and Unknown patients' recordings keep that value. So a
patient is Present exactly when one of its sites is, the challenge's patient-level rule. AcuLa's code does not
say how it maps patients to recordings: its reports and QAs (datasets/circor_dataset/*_report.csv) are per
patient and hold the locations, which is the information this rule uses.

Split. AcuLa used the challenge's train/validation/test patients (942 / 149 / 477, its training_data.csv,
validation_data.csv, test_data.csv), whose validation and test audio PhysioNet does not publish. Here the 942
public patients get a seeded patient-disjoint 60/20/20 split (benchmark_tasks.splits.group_stratified_split,
seed task.options["split_seed"] = 0, stratified by the patient's Murmur x Outcome), shared by C1 and C2.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from benchmark_tasks._registry import DataContext, register_dataset
from benchmark_tasks._spec import Item, ProbeConfig, TaskSpec
from benchmark_tasks.clinical import ClinicalField
from benchmark_tasks.datasets._common import DatasetError, dataset_dir, require_file

FOLDER = "circor"
ZIP_FOLDER = "the-circor-digiscope-phonocardiogram-dataset-1.0.3"
SOURCE = ("https://physionet.org/content/circor-heart-sound/1.0.3/ (The CirCor DigiScope Phonocardiogram "
          "Dataset v1.0.3, ODC-By 1.0)")
MURMUR = ("Present", "Unknown", "Absent")  # the challenge's class order (team_code.py murmur_classes)
OUTCOME = ("Normal", "Abnormal")
LOCATIONS = ("AV", "PV", "TV", "MV", "Phc")
SPLIT_SEED = 0
FRACTIONS = (0.6, 0.2, 0.2)
NOTES_COMMON = ("Seeded patient-disjoint split of the 942 public patients (seed 0): 565 / 190 / 187 patients, "
                "1,885 / 648 / 630 recordings. AcuLa evaluated on the challenge's unpublished validation/test "
                "patients, so its numbers are not comparable. ")


# What each metadata key states (benchmark_tasks/clinical.py): the patient's csv/#Key fields, then the recording's.
SITE_NAMES = {"AV": "aortic valve area", "PV": "pulmonary valve area", "TV": "tricuspid valve area",
              "MV": "mitral valve area", "Phc": "other auscultation point"}
_MURMUR_FLAG = dict(positive=("Present",), negative=("Absent",), unknown=("Unknown",))
CLINICAL_FIELDS = (
    ClinicalField("Age", "age_group", "category"),
    ClinicalField("Sex", "sex", "category"),
    ClinicalField("Height", "height", "number", unit="cm"),
    ClinicalField("Weight", "weight", "number", unit="kg"),
    ClinicalField("Pregnancy status", "pregnancy", "flag"),
    ClinicalField("Murmur", "murmur", "flag", **_MURMUR_FLAG),
    ClinicalField("Murmur locations", "murmur_locations", "list", values=SITE_NAMES, separator="+"),
    ClinicalField("Most audible location", "murmur_most_audible", "category", values=SITE_NAMES),
    *(ClinicalField(f"{phase.capitalize()} murmur {part}", f"{prefix}murmur_{'grade' if part == 'grading' else part}",
                    "category")
      for phase, prefix in (("systolic", ""), ("diastolic", "diastolic_"))
      for part in ("timing", "shape", "grading", "pitch", "quality")),
    ClinicalField("Outcome", "outcome", "category"),
    ClinicalField("recording_location", "site", "category", values=SITE_NAMES),
    ClinicalField("murmur_at_location", "murmur_at_site", "flag", **_MURMUR_FLAG),
)
IDENTIFIER_COLUMNS = ("Patient ID", "Additional ID", "recording_id", "segmentation_file")
IGNORED_COLUMNS = ("Recording locations:", "Campaign", "sampling_rate_hz")  # sites recorded, campaign, Hz


def _task(task_id: str, name: str, target: str, kind: str, labels: tuple, note: str,
          findings: tuple) -> TaskSpec:
    return TaskSpec(
        id=task_id, name=name, dataset="circor", modality="heart", kind=kind, metric="auroc", labels=labels,
        class_findings=findings,
        split="group-stratified", group_by="Patient ID", input_seconds={"default": 8.0},
        probe=ProbeConfig(lr=1e-4, l2=1e-5, epochs=64, batch_size=64), version=1, seeds=5,
        notes=NOTES_COMMON + note, options={"suite": "cardiac", "target": target, "split_seed": SPLIT_SEED})


TASKS = (
    _task("C1", "circor-murmur", "murmur", "multiclass", MURMUR,
          "Per recording: Present at the patient's 'Murmur locations', Absent at its other sites; Unknown "
          "patients stay Unknown (recordings: 499 Present, 156 Unknown, 2,508 Absent).",
          ("a murmur is present at this site", "murmur status unknown", "no murmur at this site")),
    _task("C2", "circor-outcome", "outcome", "binary", OUTCOME,
          "Per recording, the patient's clinical outcome (the cardiologist's decision after the full exam), "
          "which is not always audible.", ("the clinical outcome is normal", "the clinical outcome is abnormal")),
)


@dataclass(frozen=True)
class Recording:
    location: str
    wav: str
    tsv: str | None


@dataclass(frozen=True)
class PatientFile:
    """A parsed training_data/<pid>.txt."""

    pid: str
    sample_rate: str
    recordings: tuple[Recording, ...]
    fields: dict


def clean(value) -> str | None:
    """Strip a cell; the dataset's "nan" (and blanks) become None."""
    text = (value or "").strip()
    return None if text.lower() in ("", "nan") else text


def parse_patient_file(path: Path) -> PatientFile:
    """Parse one challenge-format patient file; a malformed one is a DatasetError naming the line."""
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    head = lines[0].split() if lines else []
    if len(head) < 3 or not head[1].isdigit():
        raise DatasetError(f"{path}: first line {lines[:1]} is not '<patient id> <number of recordings> <Hz>'")
    n = int(head[1])
    recordings = []
    for line in lines[1:1 + n]:
        parts = line.split()
        if line.startswith("#") or len(parts) < 3 or parts[0] not in LOCATIONS:
            raise DatasetError(f"{path}: recording line {line!r} is not '<location> <rec>.hea <rec>.wav "
                               f"[<rec>.tsv]' with a location in {LOCATIONS}")
        recordings.append(Recording(parts[0], parts[2], parts[3] if len(parts) > 3 else None))
    if len(recordings) != n:
        raise DatasetError(f"{path}: the first line announces {n} recordings but {len(recordings)} are listed")
    fields = {}
    for line in lines[1 + n:]:
        if line.startswith("#") and ":" in line:
            key, _, value = line[1:].partition(":")
            fields[key.strip()] = clean(value)
    return PatientFile(head[0], head[2], tuple(recordings), fields)


def recording_murmur(patient_murmur: str, murmur_locations: str | None, location: str) -> str:
    """C1's label of one recording: Present only at a site listed in the patient's 'Murmur locations'."""
    if patient_murmur != "Present":
        return patient_murmur
    return "Present" if location in (murmur_locations or "").split("+") else "Absent"


def _root(ctx: DataContext) -> Path:
    base = dataset_dir(ctx, FOLDER, SOURCE)
    inner = base / ZIP_FOLDER
    if not (base / "training_data.csv").exists() and inner.is_dir():
        return inner
    return base


def _read_csv(path: Path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [{(k or "").strip(): v for k, v in row.items()} for row in csv.DictReader(fh)]
    if not rows or "Patient ID" not in rows[0]:
        raise DatasetError(f"{path}: no 'Patient ID' column (or no rows); use training_data.csv from {SOURCE}")
    return {row["Patient ID"].strip(): row for row in rows}


def _shown(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" ... ({len(names)} in all)" if len(names) > 5 else "")


def _patients(root: Path) -> tuple[dict[str, dict], dict[str, PatientFile]]:
    fix = f"unpack the whole training set from {SOURCE}"
    table = _read_csv(require_file(root / "training_data.csv", "CirCor patient table", fix))
    folder = require_file(root / "training_data", "CirCor recordings folder", fix)
    files = {p.stem: p for p in folder.glob("*.txt")}
    lost = sorted(set(table) - set(files))
    if lost:
        raise DatasetError(f"{folder}: no patient file for {_shown([f'{p}.txt' for p in lost])} listed in "
                           f"training_data.csv; {fix}")
    extra = sorted(set(files) - set(table))
    if extra:
        raise DatasetError(f"{root / 'training_data.csv'}: no row for patient(s) {_shown(extra)} that have a "
                           f"patient file in {folder}; {fix}")
    return table, {pid: parse_patient_file(files[pid]) for pid in sorted(table)}


def _label(value: str | None, allowed: tuple, what: str, path: Path) -> str:
    if value not in allowed:
        raise DatasetError(f"{path}: {what} is {value!r}, expected one of {allowed}")
    return value


def _patient_splits(labels: dict[str, str], seed: int) -> dict[str, str]:
    from benchmark_tasks.splits import group_stratified_split

    pids = sorted(labels)
    splits = group_stratified_split([labels[p] for p in pids], pids, seed=seed, fractions=FRACTIONS)
    return dict(zip(pids, splits))


@register_dataset("circor", TASKS)
def read_circor(task: TaskSpec, ctx: DataContext) -> list[Item]:
    """C1/C2 items: one per recording, label index into task.labels, seeded patient-disjoint split."""
    root = _root(ctx)
    table, patients = _patients(root)
    folder = root / "training_data"
    merged, murmur, outcome = {}, {}, {}
    for pid, pf in patients.items():
        fields = {k: clean(v) for k, v in table[pid].items()}
        fields.update(pf.fields)  # the patient file wins (see the module docstring)
        merged[pid] = fields
        path = folder / f"{pid}.txt"
        murmur[pid] = _label(fields.get("Murmur"), MURMUR, "Murmur", path)
        outcome[pid] = _label(fields.get("Outcome"), OUTCOME, "Outcome", path)
    split_of = _patient_splits({p: f"{murmur[p]}|{outcome[p]}" for p in patients},
                               task.options.get("split_seed", SPLIT_SEED))

    items, absent = [], []
    for pid, pf in patients.items():
        for rec in pf.recordings:
            wav = folder / rec.wav
            if not wav.is_file():
                absent.append(rec.wav)
                continue
            at_site = recording_murmur(murmur[pid], merged[pid].get("Murmur locations"), rec.location)
            label = MURMUR.index(at_site) if task.options["target"] == "murmur" else OUTCOME.index(outcome[pid])
            meta = dict(merged[pid])
            meta.update({"recording_location": rec.location, "murmur_at_location": at_site,
                         "recording_id": Path(rec.wav).stem, "sampling_rate_hz": pf.sample_rate,
                         "segmentation_file": rec.tsv})
            items.append(Item(path=str(wav), label=label, split=split_of[pid], group=pid, metadata=meta,
                              uid=Path(rec.wav).stem))
    if absent:
        raise DatasetError(f"{folder}: {len(absent)} recording(s) listed in the patient files are missing: "
                           f"{_shown(absent)}; unpack the whole training set from {SOURCE}")
    return items
