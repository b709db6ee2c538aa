"""MMlung: spirometry (FVC, FEV1, FEV1/FVC) from smartphone audio, leave-one-subject-out (T13-T18).

Source: Mosuily et al., "MMLung: Moving Closer to Practical Lung Health Estimation using Smartphones",
Interspeech 2023; University of Southampton, on request (mtm1g19@soton.ac.uk; github.com/MohammedMosuily/mmlung).
Licence: the dataset's own terms (research/education/evaluation use, credit the University of Southampton;
OPERA datasets/mmlung/Dataset License.txt). 40 subjects, one recording per subject and task.

Expected layout under DATA_ROOT/mmlung/ (OPERA's datasets/mmlung/ works as is):

    Trimmed Data from phone/9_3_deepbreath/<n>_deepbreaths.wav   deep breath (T13-T15)
    Trimmed Data from phone/5_2_O_single/<n>_vowelo.wav          sustained O vowel (T16-T18)
    spirometry_ground_truth/<n>_*.xls                            spirometer report; FVC in cell B23, FEV1 in B24,
                                                                 FEV1/FVC in B25 (a trailing '*' is stripped)
    All_path.xlsx    made from the two folders by OPERA's datasets/mmlung/extract_mmlung.py (run it inside
                     DATA_ROOT/mmlung; it needs pandas, xlrd, openpyxl): columns Spirometry_file,
                     Deep_Breath_file, O_Single_file, FVC, FEV1, FEV1/FVC (after pandas' unnamed index column),
                     paths relative to DATA_ROOT/mmlung ("./Trimmed Data from phone/..."), rows sorted by
                     Spirometry_file. The reader needs this table (the .xls reports need xlrd, which is not a
                     dependency here); without it a DatasetError gives the command. A recording path is
                     also found with underscores for spaces ("Trimmed_Data_from_phone", OPERA's data_dir).
No OPERA split file is needed. An empty path or target cell, or a listed recording missing on disk, is a
DatasetError naming the subject.

Labels and folds follow OPERA src/benchmark/processing/mmlung_processing.py and src/benchmark/linear_eval.py
(linear_evaluation_mmlung): target = the FVC / FEV1 / FEV1/FVC column as a float, items in All_path.xlsx row
order (the order OPERA's validation draw uses), one fold per row (40 subjects, each its own test fold), 11% of
the remaining rows as validation (random, seed 42, in the probe). Every item has split "test" (each is the test
item of its fold); group = subject number from the spirometry file name.

Probe: OPERA passes lr 1e-1 to linear_evaluation_mmlung, but the function never hands it to LinearHeadR, so its
probes trained at LinearHeadR's default lr 1e-4 (see benchmark_tasks/probe_regression.py); lr 1e-4 here
reproduces the published numbers. l2 1e-1, early stopping patience 5 (min_delta 0.001), checkpoints every 3
epochs, batch 64, 64 epochs.

Input lengths (mmlung_processing.py): OPERA-CT 20 s, padded by `_zero_padding` (a clip under 10 s is tiled
whole copies from the start with a zero tail, a 10-20 s clip gets zeros appended; options["pad_mode"] records
this, benchmark_tasks/preprocess.py repeat-pads); OPERA-CE 1 s (repeat); OPERA-GT 5 s chunks upstream
(get_split_signal_librosa with input_sec 5), where the adapter cuts 8.18 s chunks.
"""

from __future__ import annotations

from pathlib import Path

from adapters._spec import Windowing
from benchmark_tasks._registry import DataContext, register_dataset
from benchmark_tasks._spec import Item, ProbeConfig, TaskSpec
from benchmark_tasks.clinical import ClinicalField
from benchmark_tasks.datasets._common import DatasetError, dataset_dir

FOLDER = "mmlung"
SOURCE = "the University of Southampton on request (mtm1g19@soton.ac.uk; github.com/MohammedMosuily/mmlung)"
TABLE = "All_path.xlsx"
MAKE_TABLE = ("run OPERA's datasets/mmlung/extract_mmlung.py inside {root} (needs the 'Trimmed Data from phone' "
              "and 'spirometry_ground_truth' folders, pandas, xlrd and openpyxl) to create All_path.xlsx")
MODALITIES = {"breath": ("Deep_Breath_file", "deep breath"), "vowel": ("O_Single_file", "sustained O vowel")}
TARGETS = (("fvc", "FVC", "forced vital capacity"), ("fev1", "FEV1", "forced expiratory volume in 1 s"),
           ("fev1-fvc", "FEV1/FVC", "FEV1/FVC ratio"))
PROBE = ProbeConfig(lr=1e-4, l2=1e-1, epochs=64, batch_size=64, patience=5, min_delta=0.001, select_every=3,
                    val_fraction=0.11)
# OPERA-CT 20 s (zero-padded upstream), OPERA-CE 1 s, OPERA-GT 5 s chunks (mmlung_processing.py).
SECONDS = {"default": 8.0, "opera-ct": 20.0, "opera-ce": 1.0, "opera-gt": 5.0}
# mmlung_processing.py: OPERA-GT input_sec = 5 ("Segment duration"): 5 s windows at a 2.5 s hop
WINDOWING = {"opera-gt": Windowing("waveform", 5.0)}


# What each metadata key states (benchmark_tasks/clinical.py): spirometry in litres, FEV1/FVC as a ratio.
CLINICAL_FIELDS = (
    ClinicalField("task", "recording_task", "category"),
    ClinicalField("FVC", "fvc", "number"),
    ClinicalField("FEV1", "fev1", "number"),
    ClinicalField("FEV1/FVC", "fev1_fvc", "number"),
)
IDENTIFIER_COLUMNS = ("subject", "spirometry_file")
IGNORED_COLUMNS = ()


def _task(number: int, modality: str, slug: str, column: str, what: str) -> TaskSpec:
    audio_column, spoken = MODALITIES[modality]
    return TaskSpec(
        id=f"T{number}", name=f"mmlung-{modality}-{slug}", dataset="mmlung", modality=modality, kind="regression",
        metric="mae", split="loso", group_by="subject", input_seconds=dict(SECONDS),
        windowing=dict(WINDOWING), probe=PROBE, version=1,
        seeds=1,
        notes=(f"{what} from a {spoken}; leave-one-subject-out over 40 subjects (one recording each), MAE "
               "(MAPE beside it). Probe lr 1e-4: OPERA's advertised lr 1e-1 never reached its probe. OPERA-CT "
               "input zero-padded to 20 s upstream; OPERA-GT used 5 s chunks upstream."),
        options={"suite": "opera", "opera_counts": {"train": 0, "val": 0, "test": 40},
                 "audio_column": audio_column, "target": column, "pad_mode": {"opera-ct": "zeros"}})


TASKS = tuple(_task(13 + 3 * m + t, modality, slug, column, what)
              for m, modality in enumerate(MODALITIES) for t, (slug, column, what) in enumerate(TARGETS))


def _rows(path: Path) -> list[dict]:
    """All_path.xlsx as dicts keyed by its header (pandas' unnamed index column dropped)."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()
    header = [str(c).strip() if c is not None else "" for c in rows[0]] if rows else []
    needed = ["Spirometry_file"] + [c for c, _ in MODALITIES.values()] + [c for _, c, _ in TARGETS]
    missing = [c for c in needed if c not in header]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {missing}; found {header}. Re-create it: "
                           f"{MAKE_TABLE.format(root=path.parent)}")
    return [{h: v for h, v in zip(header, r) if h} for r in rows[1:] if any(v is not None for v in r)]


def _audio_path(root: Path, value: str) -> Path | None:
    rel = value.strip()
    rel = rel[2:] if rel.startswith("./") else rel.lstrip("/")
    for candidate in (root / rel, root / rel.replace(" ", "_")):
        if candidate.is_file():
            return candidate
    return None


def _float(value) -> float | None:
    try:
        return float(str(value).replace("*", ""))
    except (TypeError, ValueError):
        return None


@register_dataset("mmlung", TASKS)
def read_mmlung(task: TaskSpec, ctx: DataContext) -> list[Item]:
    """T13-T18 items in All_path.xlsx order: wav path, float target, split "test", group = subject."""
    root = dataset_dir(ctx, FOLDER, SOURCE)
    table = root / TABLE
    if not table.is_file():
        raise DatasetError(f"{table}: not found; {MAKE_TABLE.format(root=root)}")
    audio_column, target = task.options["audio_column"], task.options["target"]
    items, problems = [], []
    for row in _rows(table):
        spiro = str(row.get("Spirometry_file") or "")
        subject = Path(spiro).stem.split("_")[0]
        value = _float(row.get(target))
        audio = _audio_path(root, str(row.get(audio_column) or "")) if row.get(audio_column) else None
        if not subject or value is None or audio is None:
            problems.append(f"subject {subject or '?'} ({audio_column}={row.get(audio_column)!r}, "
                            f"{target}={row.get(target)!r})")
            continue
        meta = {"subject": subject, "task": MODALITIES[task.modality][1], "spirometry_file": spiro,
                **{column: _float(row.get(column)) for _, column, _ in TARGETS}}
        items.append(Item(path=str(audio), label=value, split="test", group=subject, metadata=meta,
                          uid=audio.relative_to(root).as_posix()))
    if problems:
        raise DatasetError(f"{table}: {len(problems)} row(s) without a recording on disk or a {target} value: "
                           f"{'; '.join(problems[:5])}; OPERA needs every row complete. {SOURCE}")
    if not items:
        raise DatasetError(f"{table}: no rows; {MAKE_TABLE.format(root=root)}")
    return items
