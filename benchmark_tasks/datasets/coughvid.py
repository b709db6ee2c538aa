"""CoughVID: COVID-19 vs healthy (T5) and sex (T6) from one crowdsourced cough recording.

Source: COUGHVID (Orlandic et al., Sci. Data 2021; EPFL ESL), https://zenodo.org/records/4048312 (public_dataset.zip,
20,072 recordings), CC BY 4.0.

Expected layout under DATA_ROOT/coughvid/ (OPERA's datasets/coughvid/ works as is):

    public_dataset/metadata_compiled.csv  the publisher's metadata: uuid, datetime, cough_detected, latitude,
                                          longitude, age, gender, respiratory_condition, fever_muscle_pain, status,
                                          and the expert labels quality_1..3, cough_type_1..3, dyspnea_1..3,
                                          wheezing_1..3, stridor_1..3, choking_1..3, congestion_1..3,
                                          nothing_1..3, diagnosis_1..3, severity_1..3 (all kept as metadata).
                                          metadata_compiled.csv directly under coughvid/ (where OPERA keeps its
                                          copy) is used when public_dataset/ has none.
    wav/<uuid>.wav                        the audio as wav. The download holds <uuid>.webm and <uuid>.ogg, which
                                          OPERA converts with ffmpeg (datasets/coughvid/coughvid_wav.py). That script
                                          cuts 5 characters off every name, so an .ogg source becomes
                                          wav/<uuid minus its last character>.wav; that name is accepted too.
    public_dataset/<uuid>.ogg             read directly (libsndfile decodes Ogg) when no wav exists. .webm files
                                          must be converted: `ffmpeg -i public_dataset/<uuid>.webm wav/<uuid>.wav`.

OPERA files (--opera-root): datasets/coughvid/coughvid__train_uuids.npy, coughvid__val_uuids.npy and
coughvid_gender_test_uuids.npy (pickled numpy object arrays of uuid strings, made by coughvid_split.py from the
recordings with cough_detected >= 0.8; read here with an unpickler that accepts nothing but numpy arrays of
strings). A missing list is a DatasetError naming it; a listed uuid absent from metadata_compiled.csv, or without
audio, is a DatasetError naming the first ones.

Labels and splits follow OPERA src/benchmark/processing/coughvid_processing.py, preprocess_label(): walk
metadata_compiled.csv in row order, keep uuids in train + val + gender-test lists, label T5 by status
(healthy -> 0, COVID-19 -> 1; symptomatic and blank dropped) and T6 by gender (male -> 0, female -> 1; other and
blank dropped); split = train list, val list, else test. The T5 test set is therefore the gender-test list
filtered to healthy/COVID-19 (2,507 recordings): coughvid_covid_test_uuids.npy, which OPERA also ships, is loaded
but never used upstream, and is not used here. CoughVID has no subject id: each recording is its own group.
"""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

from benchmark_tasks._registry import DataContext, register_dataset
from benchmark_tasks._spec import Item, ProbeConfig, TaskSpec
from benchmark_tasks.clinical import ClinicalField
from benchmark_tasks.datasets._common import DatasetError, dataset_dir, opera_file, require_file

FOLDER = "coughvid"
SOURCE = "https://zenodo.org/records/4048312 (COUGHVID public_dataset.zip, CC BY 4.0)"
OPERA_LISTS = (("train", "datasets/coughvid/coughvid__train_uuids.npy"),
               ("val", "datasets/coughvid/coughvid__val_uuids.npy"),
               ("test", "datasets/coughvid/coughvid_gender_test_uuids.npy"))
# coughvid_processing.py pads to 2 s (--min_len_cnn/--min_len_htsat 2); OPERA-GT uses 8.18 s chunks.
SECONDS = {"default": 2.0, "opera-ct": 2.0, "opera-ce": 2.0, "opera-gt": 8.18}
NOTES = ("OPERA's uuid lists (cough_detected >= 0.8). One recording per group: CoughVID has no subject id, so "
         "one person may appear in several splits.")


# What each metadata_compiled.csv column states (benchmark_tasks/clinical.py). Columns _1, _2, _3 hold the labels
# of three different experts; each expert's value is reported with the expert's number.
_EXPERT_DIAGNOSIS = {"upper_infection": "upper respiratory tract infection",
                     "lower_infection": "lower respiratory tract infection",
                     "obstructive_disease": "obstructive lung disease", "COVID-19": "COVID-19",
                     "healthy_cough": "healthy cough"}


def _expert_fields(n: int) -> tuple[ClinicalField, ...]:
    rater = f"expert {n}"
    signs = (("dyspnea", "dyspnea"), ("wheezing", "wheeze"), ("stridor", "stridor"), ("choking", "choking"),
             ("congestion", "congestion"))
    return (ClinicalField(f"quality_{n}", "recording_quality", "category", values={"no_cough": "no cough audible"},
                          rater=rater),
            ClinicalField(f"cough_type_{n}", "cough_type", "category", unknown=("unknown",), rater=rater),
            *(ClinicalField(f"{column}_{n}", fact, "flag", rater=rater) for column, fact in signs),
            # "nothing" = none of the signs above: True says they are absent, False adds nothing
            ClinicalField(f"nothing_{n}", "audible_signs", "flag", negative=("True",), unknown=("False",),
                          rater=rater),
            ClinicalField(f"diagnosis_{n}", "diagnosis", "category", values=_EXPERT_DIAGNOSIS, rater=rater),
            ClinicalField(f"severity_{n}", "cough_severity", "category", unknown=("unknown",),
                          values={"pseudocough": "pseudocough (not a real cough)"}, rater=rater))


CLINICAL_FIELDS = (
    ClinicalField("age", "age", "number", unit="years"),
    ClinicalField("gender", "sex", "category"),
    ClinicalField("respiratory_condition", "respiratory_condition", "flag"),
    ClinicalField("fever_muscle_pain", "fever_muscle_pain", "flag"),
    ClinicalField("status", "covid_status", "category", positive=("COVID-19",),
                  values={"COVID-19": "positive", "healthy": "healthy", "symptomatic": "symptomatic"}),
    *_expert_fields(1), *_expert_fields(2), *_expert_fields(3),
)
IDENTIFIER_COLUMNS = ("uuid",)
IGNORED_COLUMNS = ("datetime", "cough_detected", "latitude", "longitude")  # time, cough-detector score, place


def _task(task_id: str, name: str, column: str, labels: tuple, counts: tuple, note: str,
          findings: tuple) -> TaskSpec:
    return TaskSpec(
        id=task_id, name=name, dataset="coughvid", modality="cough", kind="binary", metric="auroc",
        labels=labels, class_findings=findings, split="official", group_by="uuid", input_seconds=dict(SECONDS),
        probe=ProbeConfig(lr=1e-4, l2=1e-5, epochs=64, batch_size=64), version=1, seeds=5,
        notes=f"{NOTES} {note}".strip(),
        options={"suite": "opera", "opera_counts": dict(zip(("train", "val", "test"), counts)),
                 "label_column": column, "label_values": {v: i for i, v in enumerate(labels)}})


TASKS = (
    _task("T5", "coughvid-covid", "status", ("healthy", "COVID-19"), (2749, 919, 2507),
          "Test = OPERA's sex-task test uuids with status healthy/COVID-19 (coughvid_covid_test_uuids.npy is "
          "unused upstream).", ("COVID-19 status is healthy", "COVID-19 status is positive")),
    _task("T6", "coughvid-sex", "gender", ("male", "female"), (3218, 1090, 2955), "",
          ("a male subject", "a female subject")),
)


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles a numpy object array and nothing else (no arbitrary callables from the file)."""

    def find_class(self, module: str, name: str):
        import numpy as np

        allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
        core = getattr(np, "_core", None) or np.core
        for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
            allowed[(mod, "_reconstruct")] = core.multiarray._reconstruct
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return allowed[(module, name)]


def load_uuid_list(path: Path) -> list[str]:
    """Strings of a .npy file: plain unicode arrays directly, object arrays through _ArrayOnlyUnpickler."""
    import numpy as np

    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise DatasetError(f"{path}: unsupported .npy version {version}; re-check out OPERA's file")
        _, _, dtype = read_header(fh)
    if not dtype.hasobject:
        return [str(s) for s in np.load(path, allow_pickle=False).ravel()]
    with open(path, "rb") as fh:
        np.lib.format.read_magic(fh)
        read_header(fh)
        try:
            arr = _ArrayOnlyUnpickler(fh).load()
        except (pickle.UnpicklingError, EOFError, AttributeError) as exc:
            raise DatasetError(f"{path}: not a numpy array of uuid strings ({exc}); re-check out OPERA's "
                               f"file") from exc
    values = list(np.asarray(arr).ravel())
    if not all(isinstance(v, str) for v in values):
        raise DatasetError(f"{path}: expected uuid strings, found {type(values[0]).__name__}")
    return values


def _metadata_csv(root: Path) -> Path:
    for path in (root / "public_dataset" / "metadata_compiled.csv", root / "metadata_compiled.csv"):
        if path.is_file():
            return path
    return require_file(root / "public_dataset" / "metadata_compiled.csv", "CoughVID metadata",
                        f"unzip public_dataset.zip from {SOURCE} into {root}")


def _audio(root: Path, uuid: str) -> Path | None:
    for path in (root / "wav" / f"{uuid}.wav", root / "wav" / f"{uuid[:-1]}.wav",
                 root / "public_dataset" / f"{uuid}.ogg"):
        if path.is_file():
            return path
    return None


def _shown(values: list[str]) -> str:
    return ", ".join(values[:5]) + (" ..." if len(values) > 5 else "")


@register_dataset("coughvid", TASKS)
def read_coughvid(task: TaskSpec, ctx: DataContext) -> list[Item]:
    """T5/T6 items: audio path, label index, OPERA's split, group = uuid, metadata = metadata_compiled.csv row."""
    root = dataset_dir(ctx, FOLDER, SOURCE)
    csv_path = _metadata_csv(root)
    split_of = {}
    for split, rel in OPERA_LISTS:
        split_of.update({u: split for u in load_uuid_list(opera_file(ctx, rel))})
    column, values = task.options["label_column"], task.options["label_values"]
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:
        rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k is not None} for r in csv.DictReader(fh)]
    items, known, no_audio = [], set(), []
    for row in rows:
        uuid = row.get("uuid", "")
        if uuid not in split_of:
            continue
        known.add(uuid)
        if row.get(column, "") not in values:
            continue  # OPERA drops symptomatic / other / blank
        audio = _audio(root, uuid)
        if audio is None:
            no_audio.append(uuid)
            continue
        items.append(Item(path=str(audio), label=values[row[column]], split=split_of[uuid], group=uuid,
                          metadata={k: (v or None) for k, v in row.items()}, uid=uuid))
    unknown = sorted(set(split_of) - known)
    if unknown:
        raise DatasetError(f"{len(unknown)} uuids of OPERA's CoughVID lists are not in {csv_path}: "
                           f"{_shown(unknown)}; use metadata_compiled.csv of {SOURCE} (the 20,072-row release)")
    if no_audio:
        raise DatasetError(f"{len(no_audio)} listed CoughVID recordings have no audio under {root} "
                           f"(wav/<uuid>.wav or public_dataset/<uuid>.ogg): {_shown(no_audio)}; convert the "
                           f".webm/.ogg files with ffmpeg (OPERA datasets/coughvid/coughvid_wav.py)")
    return items
