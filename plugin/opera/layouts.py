"""Where OPERA's linear_eval.py looks for each task's features, and which of its arrays fix the row order.

Source: github evelyn0414/OPERA (commit 3622310), src/benchmark/linear_eval.py (the loaders) and
src/benchmark/processing/<dataset>_processing.py (the scripts that write the label, split and file-list arrays).
`linear_eval.py --pretrain P --dim D` reads `feature/<eval_dir>/<file>` with `{feature}` = P + str(D) (for any
P other than its baselines vggish/opensmile/clap/audiomae), as an [N, D] array whose row i belongs to row i of
the task's label and split arrays. Those arrays are either shipped in OPERA's repository (T1, T2, T5-T11) or
written into the same folder by OPERA's processing script on its first run (T3, T4, T12, T13-T19).

Row order per task (`order_file`): the file list OPERA's processing script wrote. MMlung and NoseMic write no
file list: their order is All_path.xlsx's rows and sorted(os.listdir(audio)), which is also the order of the
acula-zoo readers (benchmark_tasks/datasets/mmlung.py, nosemic.py); `order_file` is None for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

# linear_eval.py appends --dim to every --pretrain value except these (its baseline list).
OPERA_BASELINES = ("vggish", "opensmile", "clap", "audiomae")
# names OPERA's own encoders use; exporting under them would overwrite or shadow OPERA's features
OPERA_RESERVED = (*OPERA_BASELINES, "operaCT", "operaCE", "operaGT")


@dataclass(frozen=True)
class OperaLayout:
    """One task's files in OPERA's feature/ folder.

    eval_dir: folder under OPERA's feature/ ("coughvid_eval").
    feature_file: name template of the features linear_eval.py loads; "{feature}" = pretrain + str(dim).
    order_file: the array of audio paths whose order the rows follow (None: the reader's order, see module doc).
    match: how an entry of `order_file` names an item: "name" (file name), "stem" (file name without suffix),
        "tail2"/"tail3" (last 2/3 path components), "coughvid" (the uuid, or the uuid minus its last character,
        which is how OPERA's coughvid_wav.py names converted .ogg files).
    label_file / split_file: OPERA's arrays, checked row by row against the items (None: not checked).
    label_values: how label_file spells each label index: entry i is the string (or a tuple of accepted
        strings) for label i; empty: label_file holds the label numbers (or regression targets) themselves.
    split_rule: how split_file's values relate to the task's splits: "exact" (train/val/test), "codes" (0/1/2
        for train/val/test), "train_else_test" (linear_eval.py's train_test_split_from_list: "train" rows, from
        which it draws its own validation set, and every other value is test - KAUH's file also says "val").
    label_column: column of a 2-D label_file (MMlung's label.npy is [40, 3]).
    placeholder_labels: OPERA label values whose rows linear_eval.py drops before probing; such rows have no item
        and are written as zeros (ICBHI: every diagnosis other than Healthy and COPD).
    eval_args: linear_eval.py arguments that select the task (besides --pretrain and --dim).
    made_by: the OPERA command that writes the label/split/order arrays when they are not shipped.
    """

    eval_dir: str
    feature_file: str
    order_file: str | None
    match: str
    label_file: str
    split_file: str | None
    eval_args: str
    made_by: str
    label_values: tuple = ()
    split_rule: str = "exact"
    label_column: int | None = None
    placeholder_labels: tuple = ()

    def feature_path(self, feature_dir, feature: str):
        """feature_dir / eval_dir / feature file for OPERA's feature name `feature` (= pretrain + str(dim))."""
        from pathlib import Path

        return Path(feature_dir) / self.eval_dir / self.feature_file.format(feature=feature)


PROC = "PYTHONPATH=. python src/benchmark/processing/"


def _coviduk(modality: str) -> OperaLayout:
    return OperaLayout("coviduk_eval", f"{{feature}}_feature_{modality}.npy", f"sound_dir_loc_{modality}.npy",
                       "name", f"label_{modality}.npy", f"split_{modality}.npy",
                       f"--task coviduk --modality {modality}", "shipped with OPERA (feature/coviduk_eval/)")


def _covid19sounds(modality: str) -> OperaLayout:
    return OperaLayout("covid19sounds_eval/downsampled", f"{{feature}}_feature_{modality}.npy",
                       f"sound_dir_loc_{modality}.npy", "tail3", "labels.npy", "data_split.npy",
                       f"--task covid19sounds --modality {modality}",
                       f"{PROC}covid19sounds_processing.py --task 1 --pretrain opensmile --modality {modality}",
                       split_rule="codes")


def _coughvid(label: str, task: str) -> OperaLayout:
    return OperaLayout("coughvid_eval", f"{{feature}}_feature_{label}.npy", f"sound_dir_loc_{label}.npy",
                       "coughvid", f"label_{label}.npy", f"split_{label}.npy", f"--task {task}",
                       "shipped with OPERA (feature/coughvid_eval/)")


def _coswara(label: str) -> OperaLayout:
    m = "cough-shallow"
    # linear_eval.py's __main__ never forwards --mapgoogle (lines 908/910 at 3622310): OPERA probes a random
    # stratified 80/20 split; HeAR's split (the google_* file, which the task uses) is checked, not used by OPERA.
    return OperaLayout("coswara_eval", f"{{feature}}_feature_{m}_{label}.npy",
                       f"cough_aligned_filenames_{label}_w_{m}.npy", "tail2",
                       f"cough_aligned_{label}_label_{m}.npy", f"google_{label}_cough_split.npy",
                       f"--task coswara{label} --modality {m}", "shipped with OPERA (feature/coswara_eval/)",
                       split_rule="train_else_test")


def _mmlung(file_prefix: str, modality: str, label: str, column: int) -> OperaLayout:
    return OperaLayout("mmlung_eval", f"{file_prefix}_{{feature}}_feature.npy", None, "name", "label.npy", None,
                       f"--task spirometry --modality {modality} --label {label} --LOOCV True",
                       f"{PROC}mmlung_processing.py --pretrain opensmile", label_column=column)


OPERA_LAYOUTS: dict[str, OperaLayout] = {
    "T1": _coviduk("exhalation"),
    "T2": _coviduk("cough"),
    "T3": _covid19sounds("breath"),
    "T4": _covid19sounds("cough"),
    "T5": _coughvid("covid", "coughvidcovid"),
    "T6": _coughvid("gender", "coughvidsex"),
    "T7": OperaLayout("icbhidisease_eval", "{feature}_feature.npy", "sound_dir_loc.npy", "stem", "labels.npy",
                      "split.npy", "--task icbhidisease", "shipped with OPERA (feature/icbhidisease_eval/)",
                      label_values=("Healthy", "COPD"), split_rule="train_else_test",
                      placeholder_labels=("URTI", "Bronchiectasis", "Bronchiolitis", "Pneumonia", "LRTI",
                                          "Asthma")),
    "T8": _coswara("smoker"),
    "T9": _coswara("sex"),
    "T10": OperaLayout("kauh_eval", "{feature}_feature_both.npy", "sound_dir_loc_subset.npy", "name",
                       "labels_both.npy", "train_test_split.npy", "--task kauh",
                       "shipped with OPERA (feature/kauh_eval/)", split_rule="train_else_test",
                       label_values=("healthy", ("asthma", "COPD", "obstructive"))),
    "T11": OperaLayout("copd_eval", "{feature}_feature.npy", "sound_dir_loc.npy", "stem", "labels.npy",
                       "train_test_split.npy", "--task copd", "shipped with OPERA (feature/copd_eval/)"),
    # SSBPR: linear_eval.py draws the split itself over the file order; only labels are checked.
    "T12": OperaLayout("snoring_eval", "{feature}_feature.npy", "sound_dir_loc.npy", "tail3", "labels.npy", None,
                       "--task snoring", f"{PROC}ssbpr_processing.py --pretrain opensmile"),
    "T13": _mmlung("Deep_Breath_file", "breath", "FVC", 0),
    "T14": _mmlung("Deep_Breath_file", "breath", "FEV1", 1),
    "T15": _mmlung("Deep_Breath_file", "breath", "FEV1_FVC", 2),
    "T16": _mmlung("O_Single_file", "vowels", "FVC", 0),
    "T17": _mmlung("O_Single_file", "vowels", "FEV1", 1),
    "T18": _mmlung("O_Single_file", "vowels", "FEV1_FVC", 2),
    "T19": OperaLayout("nosemic_eval", "{feature}_feature.npy", None, "name", "labels.npy", None,
                       "--task rr --LOOCV True", f"{PROC}nosemic_processing.py --pretrain opensmile"),
}


def split_ok(rule: str, opera_value, task_split: str) -> bool:
    """Whether OPERA's split value for a row agrees with the task item's split (see OperaLayout.split_rule)."""
    if rule == "exact":
        return str(opera_value) == task_split
    if rule == "codes":
        return str(opera_value) == str(("train", "val", "test").index(task_split))
    if rule == "train_else_test":
        return (str(opera_value) == "train") == (task_split in ("train", "val"))
    raise ValueError(f"unknown split rule {rule!r}")


def entry_key(entry: str, match: str) -> str:
    """The key of one `order_file` entry (an OPERA path such as 'datasets/coughvid/wav/<uuid>.wav')."""
    p = PurePosixPath(str(entry).replace("\\", "/"))
    if match == "name":
        return p.name
    if match in ("stem", "coughvid"):
        return p.stem
    if match in ("tail2", "tail3"):
        return "/".join(p.parts[-int(match[-1]):])
    raise ValueError(f"unknown match rule {match!r}")


def item_keys(item, match: str) -> tuple[str, ...]:
    """Keys under which an Item may appear in an `order_file` (see OperaLayout.match)."""
    if match == "coughvid":
        return (item.uid, item.uid[:-1]) if item.uid else (entry_key(item.path, "stem"),)
    return (entry_key(item.path, match),)
