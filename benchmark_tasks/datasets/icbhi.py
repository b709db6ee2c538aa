"""ICBHI 2017 Respiratory Sound Database: COPD vs healthy per recording (T7).

Source: Rocha et al., "An open access database for the evaluation of respiratory sound classification
algorithms", Physiol. Meas. 2019; https://bhichallenge.med.auth.gr (ICBHI 2017 Challenge), CC0. 920 recordings
(10-90 s, 4-44.1 kHz) of 126 patients.

Expected layout under DATA_ROOT/icbhi/ (OPERA's datasets/icbhi/ works as is):

    ICBHI_final_database/<patient>_<rec>_<loc>_<mode>_<device>.wav   e.g. 101_1b1_Al_sc_Meditron.wav
        patient 101-226; recording index (e.g. 1b1); chest location Tc/Al/Ar/Pl/Pr/Ll/Lr; acquisition mode
        sc (sequential / single channel) or mc (simultaneous / multichannel); device AKGC417L, LittC2SE,
        Litt3200 or Meditron.
    ICBHI_final_database/<same stem>.txt    one respiratory cycle a line, tab-separated: start (s), end (s),
                                            crackles 0/1, wheezes 0/1. Read for metadata only (cycle, crackle,
                                            wheeze counts); a missing .txt leaves those counts None.
    ICBHI_Challenge_diagnosis.txt           "<patient>\\t<diagnosis>" (COPD, Healthy, URTI, Bronchiectasis,
                                            Bronchiolitis, Pneumonia, LRTI, Asthma)
    ICBHI_challenge_train_test.txt          "<recording stem>\\t<train|test>", the official challenge split.
                                            It lists 921 stems: 226_1b1_Pl_sc_Meditron has no recording in the
                                            database and is ignored.
    ICBHI_Challenge_demographic_information.txt
                                            no header, tab-separated, CRLF, "NA" for missing: patient, age
                                            (years; 0.58 for a 7-month-old), sex M/F, adult BMI (kg/m2), child
                                            weight (kg), child height (cm). Patient 223 is all NA.
The three .txt tables are also accepted inside ICBHI_final_database/ and, failing both, are read from the OPERA
checkout's datasets/icbhi/ (OPERA's processing script reads its own copies from there, unchanged).

OPERA file (--opera-root): feature/icbhidisease_eval/sound_dir_loc.npy, the 920 recordings in the order OPERA
globbed them. The order matters: OPERA draws the validation set with a seeded shuffle over that order. A
missing file is a DatasetError naming it; a listed recording missing from ICBHI_final_database/ is a DatasetError
naming the first ones; extra .wav files are ignored.

Labels and splits follow OPERA src/benchmark/processing/icbhi_processing.py (process_disease) and
src/benchmark/linear_eval.py (linear_evaluation_icbhidisease): label = the patient's diagnosis, only Healthy (0)
and COPD (1) kept (828 of 920 recordings); split = the official train/test file; then 20% of the train recordings
become validation with sklearn train_test_split(test_size=0.2, random_state=1337, stratify=label) over the
recordings in OPERA's order: 369 train / 93 val / 366 test (349 COPD + 17 healthy).
"""

from __future__ import annotations

from pathlib import Path

from benchmark_tasks._registry import DataContext, register_dataset
from benchmark_tasks._spec import Item, ProbeConfig, TaskSpec
from benchmark_tasks.clinical import ClinicalField
from benchmark_tasks.datasets._common import DatasetError, dataset_dir, opera_file, require_listed_audio

FOLDER = "icbhi"
AUDIO = "ICBHI_final_database"
SOURCE = "https://bhichallenge.med.auth.gr (ICBHI 2017 Respiratory Sound Database, CC0)"
DIAGNOSIS = "ICBHI_Challenge_diagnosis.txt"
SPLIT = "ICBHI_challenge_train_test.txt"
DEMOGRAPHICS = "ICBHI_Challenge_demographic_information.txt"
OPERA_ORDER = "feature/icbhidisease_eval/sound_dir_loc.npy"
LABELS = ("Healthy", "COPD")
VAL_FRACTION, VAL_SEED = 0.2, 1337  # linear_evaluation_icbhidisease

LOCATIONS = {"Tc": "trachea", "Al": "anterior left", "Ar": "anterior right", "Pl": "posterior left",
             "Pr": "posterior right", "Ll": "lateral left", "Lr": "lateral right"}
MODES = {"sc": "sequential/single channel", "mc": "simultaneous/multichannel"}
DEVICES = {"AKGC417L": "AKG C417L microphone", "LittC2SE": "3M Littmann Classic II SE stethoscope",
           "Litt3200": "3M Littmann 3200 electronic stethoscope",
           "Meditron": "WelchAllyn Meditron Master Elite electronic stethoscope"}

# What each metadata key states (benchmark_tasks/clinical.py); cycle counts come from the annotation .txt files.
CLINICAL_FIELDS = (
    ClinicalField("chest_location", "site", "category",
                  values={name: name if code == "Tc" else f"{name} chest" for code, name in LOCATIONS.items()}),
    ClinicalField("device", "device", "text"),
    ClinicalField("diagnosis", "diagnosis", "category",
                  values={"Healthy": "healthy", "URTI": "upper respiratory tract infection (URTI)",
                          "LRTI": "lower respiratory tract infection (LRTI)"}),
    ClinicalField("age", "age", "number", unit="years"),
    ClinicalField("sex", "sex", "category", values={"M": "male", "F": "female"}),
    ClinicalField("adult_bmi", "bmi", "number"),
    ClinicalField("child_weight_kg", "weight", "number", unit="kg"),
    ClinicalField("child_height_cm", "height", "number", unit="cm"),
    ClinicalField("n_cycles", "respiratory_cycles", "count"),
    ClinicalField("n_crackle_cycles", "crackle_cycles", "count"),
    ClinicalField("n_wheeze_cycles", "wheeze_cycles", "count"),
    ClinicalField("n_both_cycles", "both_cycles", "count"),
)
IDENTIFIER_COLUMNS = ("patient", "recording_index")
# codes spelled out in chest_location / device, the recording mode (single or multichannel setup), age_group
# (derived from age) and the official split
IGNORED_COLUMNS = ("chest_location_code", "device_code", "acquisition_mode_code", "acquisition_mode", "age_group",
                   "official_split")

TASKS = (
    TaskSpec(
        id="T7", name="icbhi-copd", dataset="icbhi", modality="lung", kind="binary", metric="auroc",
        labels=LABELS, class_findings=("the subject is recorded as healthy", "the diagnosis is COPD"),
        split="official", group_by="patient",
        # icbhi_processing.py defaults: --min_len_cnn 8, --min_len_htsat 8; OPERA-GT cuts 8.18 s chunks.
        input_seconds={"default": 8.0, "opera-ct": 8.0, "opera-ce": 8.0, "opera-gt": 8.18},
        probe=ProbeConfig(lr=1e-4, l2=1e-5, epochs=64, batch_size=32), version=1, seeds=5,
        notes=("Per recording, official ICBHI train/test split; test has only 17 healthy recordings (vs 349 "
               "COPD). Validation = 20% of the train recordings (stratified, seed 1337), not patient-disjoint "
               "from train, as upstream."),
        options={"suite": "opera", "opera_counts": {"train": 369, "val": 93, "test": 366}}),
)


def _table(root: Path, ctx: DataContext, name: str) -> list[list[str]]:
    """Whitespace-split rows of one of ICBHI's .txt tables (dataset folder first, then OPERA's copy)."""
    places = [root / name, root / AUDIO / name]
    if ctx.opera_root is not None:
        places.append(Path(ctx.opera_root) / "datasets" / "icbhi" / name)
    for path in places:
        if path.is_file():
            text = path.read_text(encoding="utf-8-sig")
            return [line.split() for line in text.splitlines() if line.strip()]
    raise DatasetError(f"{root / name}: ICBHI table not found (also looked in {root / AUDIO} and the OPERA "
                       f"checkout's datasets/icbhi/); download {name} from {SOURCE} into {root}")


def _number(value: str) -> float | None:
    return None if value.upper() == "NA" else float(value)


def _demographics(rows: list[list[str]]) -> dict[str, dict]:
    """patient -> age (years), sex, adult BMI (kg/m2), child weight (kg), child height (cm); None = NA."""
    out = {}
    for row in rows:
        if len(row) != 6:
            raise DatasetError(f"{DEMOGRAPHICS}: row {row} has {len(row)} fields, expected 6 (patient, age, "
                               f"sex, adult BMI, child weight, child height); use the file from {SOURCE}")
        pid, age, sex, bmi, weight, height = row
        age_years = _number(age)
        out[pid] = {"age": age_years, "sex": None if sex.upper() == "NA" else sex,
                    "adult_bmi": _number(bmi), "child_weight_kg": _number(weight),
                    "child_height_cm": _number(height),
                    "age_group": None if age_years is None else ("child" if age_years < 18 else "adult")}
    return out


def _cycle_counts(txt: Path) -> dict:
    """Counts of annotated respiratory cycles (all / with crackles / with wheezes / with both) in one .txt."""
    if not txt.is_file():
        return {"n_cycles": None, "n_crackle_cycles": None, "n_wheeze_cycles": None, "n_both_cycles": None}
    rows = [line.split() for line in txt.read_text().splitlines() if line.strip()]
    if any(len(r) != 4 for r in rows):
        raise DatasetError(f"{txt}: every line must be 'start end crackles wheezes'; re-extract it from "
                           f"{SOURCE}")
    crackles = [r[2] == "1" for r in rows]
    wheezes = [r[3] == "1" for r in rows]
    return {"n_cycles": len(rows), "n_crackle_cycles": sum(crackles), "n_wheeze_cycles": sum(wheezes),
            "n_both_cycles": sum(c and w for c, w in zip(crackles, wheezes))}


def recording_fields(stem: str) -> dict:
    """The five fields of an ICBHI file name, with the codes spelled out."""
    parts = stem.split("_")
    if len(parts) != 5:
        raise DatasetError(f"{stem}: an ICBHI recording name has 5 '_'-separated fields "
                           f"(patient_rec_location_mode_device)")
    patient, rec, loc, mode, device = parts
    return {"patient": patient, "recording_index": rec, "chest_location_code": loc,
            "chest_location": LOCATIONS.get(loc, loc), "acquisition_mode_code": mode,
            "acquisition_mode": MODES.get(mode, mode), "device_code": device, "device": DEVICES.get(device, device)}


def _opera_order(ctx: DataContext) -> list[str]:
    import numpy as np

    paths = np.load(opera_file(ctx, OPERA_ORDER), allow_pickle=False).ravel().tolist()
    return [Path(str(p)).stem for p in paths]


def _validation_positions(labels: list[int]) -> set[int]:
    """Positions (within the train recordings, OPERA's order) that OPERA moves to validation."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    _, held = train_test_split(np.arange(len(labels)), test_size=VAL_FRACTION, random_state=VAL_SEED,
                               stratify=labels)
    return set(held.tolist())


@register_dataset("icbhi", TASKS)
def read_icbhi(task: TaskSpec, ctx: DataContext) -> list[Item]:
    """T7 items: wav path, 0 Healthy / 1 COPD, train/val/test, group = patient, metadata = every ICBHI field."""
    root = dataset_dir(ctx, FOLDER, SOURCE)
    audio = root / AUDIO
    if not audio.is_dir():
        raise DatasetError(f"{audio}: folder not found; unzip ICBHI_final_database.zip from {SOURCE} into {root}")
    diagnosis = {r[0]: r[1] for r in _table(root, ctx, DIAGNOSIS)}
    official = {r[0]: r[1] for r in _table(root, ctx, SPLIT)}
    people = _demographics(_table(root, ctx, DEMOGRAPHICS))
    order = _opera_order(ctx)

    require_listed_audio(audio, [f"{s}.wav" for s in order],
                         f"use the complete 920-recording database from {SOURCE}")
    rows = []
    for stem in order:
        fields = recording_fields(stem)
        dx = diagnosis.get(fields["patient"])
        if dx is None:
            raise DatasetError(f"patient {fields['patient']} ({stem}) has no row in {DIAGNOSIS}")
        if dx not in LABELS:
            continue  # OPERA keeps Healthy and COPD only
        if official.get(stem) not in ("train", "test"):
            raise DatasetError(f"{stem}: no train/test entry in {SPLIT}; use the file from {SOURCE}")
        rows.append((stem, fields, dx))

    train_pos = [k for k, (stem, _, _) in enumerate(rows) if official[stem] == "train"]
    held = _validation_positions([LABELS.index(rows[k][2]) for k in train_pos])
    val_rows = {train_pos[j] for j in held}
    items = []
    for k, (stem, fields, dx) in enumerate(rows):
        split = "val" if k in val_rows else official[stem]
        demo = people.get(fields["patient"], {})
        meta = {**fields, "diagnosis": dx, "age": demo.get("age"), "sex": demo.get("sex"),
                "adult_bmi": demo.get("adult_bmi"), "child_weight_kg": demo.get("child_weight_kg"),
                "child_height_cm": demo.get("child_height_cm"), "age_group": demo.get("age_group"),
                "official_split": official[stem], **_cycle_counts(audio / f"{stem}.txt")}
        items.append(Item(path=str(audio / f"{stem}.wav"), label=LABELS.index(dx), split=split,
                          group=fields["patient"], metadata=meta, uid=stem))
    return items
