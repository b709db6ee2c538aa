"""ZCHSound paediatric heart sounds: normal vs congenital heart disease and the five diagnoses (C8-C11).

Source: ZCHSound (Jia et al., "ZCHSound: Open-Source ZJU Paediatric Heart Sound Database With Congenital Heart
Disease", IEEE TBME 71(8), 2024, doi 10.1109/TBME.2023.3348800), http://zchsound.ncrcch.org.cn/ and
github.com/WeiJieOvO/ZCHSound-Dataset (ZCHSound.zip, Git LFS). Terms of use: see the paper and the project site.

Expected layout under DATA_ROOT/ZCHSound/ (the unpacked ZCHSound.zip):

    Clean Heartsound Data Details.csv   the high-quality set: 941 recordings, one per participant (2 days - 14
                                        years); ';'-separated, columns fileName;gender;age(days);diagnosis with
                                        diagnosis NORMAL, ASD, PDA, PFO or VSD
    Noise Heartsound Data Details.csv   the low-quality set: 318 newborns (within 5 days of birth), same columns
    <any folder>/ZCH0001.wav ...        the recordings named in fileName (ZCH0001-0941 clean, ZCH0942-1259
                                        noisy). Reported folder names are "clean Heartsound Data/" and
                                        "Noise Heartsound Data Details/"; the reader finds each file by name
                                        anywhere under ZCHSound/, so a re-sorted copy (e.g. one folder per
                                        diagnosis) works too.

The csv names, the ';' separator and the fileName / diagnosis columns are those AcuLa reads
(datasets/ZCHSound/zch_metadata.py); gender and age(days) are confirmed only by third-party loaders. A task
needs only its subset's csv. A missing csv, a diagnosis outside the five codes, a listed file found nowhere or
found twice under ZCHSound/ are DatasetErrors naming the file.

Tasks are the publisher's (paper section IV.B): task 1-1 / 2-1, normal vs CHD (ASD, PDA, PFO and VSD all count
as disease, as in the paper, although a PFO is often a normal variant), and task 1-2 / 2-2, the five classes.
AcuLa aligns with both sets (datasets/ZCHSound/zch_metadata.csv: fileName, diagnosis spelled out, Data_Type
Clean/Noise) and publishes no split. Each recording is one participant; six byte-identical pairs under two ids
(an audit in github.com/hankju/ZCHSound-Classification, docs/DATASET_DUPLICATE_NOTICE.md; not re-checked here)
are put in one group so a copy never straddles splits (`DUPLICATES`). Split: seeded 60/20/20 per subset
(benchmark_tasks.splits.group_stratified_split, seed task.options["split_seed"] = 0, stratified by diagnosis),
shared by the subset's two tasks.
"""

from __future__ import annotations

import csv
from pathlib import Path

from benchmark_tasks._registry import DataContext, register_dataset
from benchmark_tasks._spec import Item, ProbeConfig, TaskSpec
from benchmark_tasks.clinical import ClinicalField
from benchmark_tasks.datasets._common import DatasetError, dataset_dir, require_file

FOLDER = "ZCHSound"
SOURCE = "http://zchsound.ncrcch.org.cn/ or github.com/WeiJieOvO/ZCHSound-Dataset (ZCHSound.zip)"
CSV_NAMES = {"clean": "Clean Heartsound Data Details.csv", "noisy": "Noise Heartsound Data Details.csv"}
DIAGNOSES = {"NORMAL": "Normal", "ASD": "Atrial septal defect", "PDA": "Patent ductus arteriosus",
             "PFO": "Patent foramen ovale", "VSD": "Ventricular septal defect"}  # AcuLa's zch_metadata.py names
# byte-identical recordings under two ids -> one group; the last pair is labelled ASD and VSD
DUPLICATES = {"ZCH0171": "ZCH0090", "ZCH0219": "ZCH0015", "ZCH0366": "ZCH0268", "ZCH0401": "ZCH0182",
              "ZCH0515": "ZCH0465", "ZCH0802": "ZCH0545"}
SPLIT_SEED = 0
FRACTIONS = (0.6, 0.2, 0.2)
SUBSET_NOTES = {
    "clean": "High-quality set, 941 children (533 normal; ASD 119, PDA 32, PFO 70, VSD 187); split 564 / 190 / "
             "187 recordings, the test split holds 6 PDA. ",
    "noisy": "Low-quality set, 318 newborns with clinical noise (160 normal; ASD 102, PDA 7, PFO 35, VSD 14); "
             "split 190 / 65 / 63 recordings, the test split holds 1 PDA and 3 VSD. ",
}
NOTES = ("Seeded participant-disjoint 60/20/20 split (seed 0). Two byte-identical recordings carry "
         "conflicting labels (ZCH0545 ASD, ZCH0802 VSD); both are kept, in one group.")


# What each metadata key states (benchmark_tasks/clinical.py): the subset's csv row, then what the reader adds.
CLINICAL_FIELDS = (
    ClinicalField("gender", "sex", "category", values={"M": "male", "F": "female"}),
    ClinicalField("age(days)", "age", "number", unit="days"),
    ClinicalField("diagnosis", "diagnosis", "category", values={"Normal": "healthy"}),
    ClinicalField("subset", "recording_quality", "category",
                  values={"clean": "clean (high-quality set)", "noisy": "noisy (low-quality set, clinical noise)"}),
)
IDENTIFIER_COLUMNS = ("fileName", "participant")
IGNORED_COLUMNS = ("diagnosis_code", "age_years")  # the code of diagnosis; age(days) in years
_DX_FINDINGS = ("the subject is recorded as healthy",
                *(f"the diagnosis is {name.lower()}" for code, name in DIAGNOSES.items() if code != "NORMAL"))


def _task(task_id: str, subset: str, scheme: str) -> TaskSpec:
    binary = scheme == "chd"
    return TaskSpec(
        id=task_id, name=f"zchsound-{subset}-{'chd' if binary else 'diagnosis'}", dataset="zchsound",
        modality="heart", kind="binary" if binary else "multiclass", metric="auroc",
        labels=("normal", "CHD") if binary else tuple(DIAGNOSES),
        class_findings=(_DX_FINDINGS[0], "the diagnosis is a congenital heart defect") if binary else _DX_FINDINGS,
        split="group-stratified",
        group_by="participant", input_seconds={"default": 8.0},
        probe=ProbeConfig(lr=1e-4, l2=1e-5, epochs=64, batch_size=64), version=1, seeds=5,
        notes=SUBSET_NOTES[subset] + NOTES,
        options={"suite": "cardiac", "subset": subset, "scheme": scheme, "split_seed": SPLIT_SEED})


TASKS = (_task("C8", "clean", "chd"), _task("C9", "clean", "diagnosis"),
         _task("C10", "noisy", "chd"), _task("C11", "noisy", "diagnosis"))


def _read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()}
                for row in csv.DictReader(fh, delimiter=";")]
    missing = [c for c in ("fileName", "diagnosis") if not rows or c not in rows[0]]
    if missing:
        raise DatasetError(f"{path}: no column(s) {missing} (or no rows); expected the publisher's "
                           f"';'-separated fileName;gender;age(days);diagnosis")
    return rows


def _wav_index(root: Path) -> dict[str, list[Path]]:
    index: dict[str, list[Path]] = {}
    for path in root.rglob("*"):
        if path.suffix.lower() == ".wav":
            index.setdefault(path.name, []).append(path)
    return index


def _age_years(days: str | None) -> float | None:
    try:
        return round(float(days) / 365.25, 2)
    except (TypeError, ValueError):
        return None


def _shown(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" ... ({len(names)} in all)" if len(names) > 5 else "")


@register_dataset("zchsound", TASKS)
def read_zchsound(task: TaskSpec, ctx: DataContext) -> list[Item]:
    """C8-C11 items: one per recording of the task's subset, seeded participant-disjoint split."""
    from benchmark_tasks.splits import group_stratified_split

    root = dataset_dir(ctx, FOLDER, SOURCE)
    subset = task.options["subset"]
    table = require_file(root / CSV_NAMES[subset], f"ZCHSound {subset}-set table", f"unpack ZCHSound.zip from "
                         f"{SOURCE} into {root}")
    rows = _read_rows(table)
    bad = [f"{r['fileName']} ({r['diagnosis']!r})" for r in rows if r["diagnosis"].upper() not in DIAGNOSES]
    if bad:
        raise DatasetError(f"{table}: diagnosis outside {tuple(DIAGNOSES)} for {_shown(bad)}")
    index = _wav_index(root)
    absent = [r["fileName"] for r in rows if r["fileName"] not in index]
    if absent:
        raise DatasetError(f"{root}: {len(absent)} recording(s) listed in {table.name} are missing: "
                           f"{_shown(absent)}; unpack the whole ZCHSound.zip from {SOURCE}")
    twice = [f"{r['fileName']} ({', '.join(str(p) for p in index[r['fileName']])})"
             for r in rows if len(index[r["fileName"]]) > 1]
    if twice:
        raise DatasetError(f"{root}: recording(s) found more than once: {_shown(twice)}; keep one copy")

    codes = [r["diagnosis"].upper() for r in rows]
    groups = [DUPLICATES.get(Path(r["fileName"]).stem, Path(r["fileName"]).stem) for r in rows]
    splits = group_stratified_split(codes, groups, seed=task.options.get("split_seed", SPLIT_SEED),
                                    fractions=FRACTIONS)
    items = []
    for row, code, group, split in zip(rows, codes, groups, splits):
        label = int(code != "NORMAL") if task.options["scheme"] == "chd" else list(DIAGNOSES).index(code)
        meta = {k: (v or None) for k, v in row.items()}
        meta.update({"diagnosis": DIAGNOSES[code], "diagnosis_code": code, "subset": subset,
                     "age_years": _age_years(row.get("age(days)")), "participant": group})
        items.append(Item(path=str(index[row["fileName"]][0]), label=label, split=split, group=group,
                          metadata=meta, uid=Path(row["fileName"]).stem))
    return items
