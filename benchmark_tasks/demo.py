"""The demo benchmark: synthetic body sounds with known ground truth (REFERENCE.md §5), generated on demand.

`generate_demo(root, seed)` writes `root/audio/*.wav` (PCM_16 mono; 16 kHz, plus 8 kHz and 44.1 kHz devices)
and `root/metadata.csv` (one row per recording, columns in synth.cohort.COLUMNS) and `root/demo.json`. It builds
into a hidden temporary sibling and renames it into place, so `root` either holds a complete dataset or does not
exist; a complete dataset is never regenerated. The same seed gives byte-identical files.

Eight binary tasks, `demo-{crackles,wheeze,murmur,wetcough}-{easy,hard}`, read it from
`ctx.cache_dir / "demo" / f"v{DEMO_VERSION}-seed{seed}"`. Each task's label rule is declarative: its options name
the metadata column and the values counted positive. This module imports nothing heavy: numpy, scipy and
soundfile are loaded only when data are generated. Full size: ~880 clips, ~12 s of CPU on this machine.

    python -m benchmark_tasks.demo --out DIR [--seed N] [--scale X]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmark_tasks._registry import DataContext, register_dataset
from benchmark_tasks._spec import Item, TaskSpec
from benchmark_tasks.clinical import ClinicalField

DEMO_VERSION = 1
MANIFEST = "demo.json"
METADATA = "metadata.csv"
NUMERIC_COLUMNS = {"age": int, "sample_rate": int, "duration_s": float, "murmur_grade": int}

# (task family, modality, label column, values counted positive, labels, clip seconds, what it asks)
_FAMILIES = (
    ("crackles", "lung", "crackles", ("fine", "coarse"), ("absent", "present"), 5.0,
     "any crackles (fine or coarse) in a lung recording"),
    ("wheeze", "lung", "wheeze", ("yes",), ("absent", "present"), 5.0, "wheeze in a lung recording"),
    ("murmur", "heart", "murmur", ("present",), ("absent", "present"), 5.0, "systolic murmur in a heart recording"),
    ("wetcough", "cough", "cough_type", ("wet",), ("dry", "wet"), 2.0, "wet (productive) vs dry cough"),
)

# Per family, the finding a report states for label 0 and label 1 (zero-shot prompts, align.zero_shot).
_CLASS_FINDINGS = {"crackles": ("no crackles are heard", "crackles are heard"),
                   "wheeze": ("no wheezes are heard", "wheezes are heard"),
                   "murmur": ("no murmur", "a murmur is present"), "wetcough": ("the cough is dry", "the cough is wet")}

# What each metadata.csv column states (benchmark_tasks/clinical.py); synth.cohort.COLUMNS lists them.
_SITE_NAMES = {"aortic": "aortic area", "pulmonic": "pulmonic area", "tricuspid": "tricuspid area",
               "mitral": "mitral area", **{s: f"{s} chest" for s in ("anterior left upper", "anterior right upper",
                                                                    "lateral left", "lateral right",
                                                                    "posterior left base", "posterior right base")}}
CLINICAL_FIELDS = (
    ClinicalField("age", "age", "number", unit="years"),
    ClinicalField("sex", "sex", "category"),
    ClinicalField("site", "site", "category", values=_SITE_NAMES),
    ClinicalField("device", "device", "text"),
    ClinicalField("crackles", "crackles", "category", negative=("none",)),
    ClinicalField("wheeze", "wheeze", "flag"),
    ClinicalField("murmur", "murmur", "flag"),
    ClinicalField("murmur_grade", "murmur_grade", "category",
                  values={str(k): f"{r}/VI" for k, r in enumerate(("I", "II", "III", "IV", "V", "VI"), start=1)}),
    ClinicalField("murmur_shape", "murmur_shape", "category"),
    ClinicalField("murmur_timing", "murmur_timing", "category"),
    ClinicalField("murmur_pitch", "murmur_pitch", "category"),
    ClinicalField("cough_type", "cough_type", "category"),
    ClinicalField("findings", "findings", "text", negative=("none",)),
    ClinicalField("diagnosis", "diagnosis", "category"),
    ClinicalField("symptoms", "symptoms", "list", separator=";", negative=("none",)),
)
IDENTIFIER_COLUMNS = ("uid", "path", "subject")
IGNORED_COLUMNS = ("sample_rate", "duration_s", "modality", "difficulty", "split")  # audio format, bookkeeping

DEMO_TASKS = tuple(
    TaskSpec(id=f"demo-{family}-{difficulty}", name=f"demo {family} ({difficulty})", dataset="demo",
             modality=modality, kind="binary", metric="auroc", labels=labels, class_findings=_CLASS_FINDINGS[family],
             split="official", group_by="subject",
             input_seconds={"default": seconds}, version=DEMO_VERSION, seeds=5,
             notes=f"synthetic: {question}; {difficulty} difficulty",
             options={"difficulty": difficulty, "suite": "demo", "label_column": column, "positive": positive})
    for family, modality, column, positive, labels, seconds, question in _FAMILIES
    for difficulty in ("easy", "hard")
)


def demo_root(ctx: DataContext, seed: int = 0, scale: float = 1.0) -> Path:
    """Where a demo lives under the cache: cache_dir/demo/v{DEMO_VERSION}-seed{seed}[-scale{scale}]."""
    suffix = "" if scale == 1.0 else f"-scale{scale:g}"
    return Path(ctx.cache_dir) / "demo" / f"v{DEMO_VERSION}-seed{seed}{suffix}"


def _manifest(seed: int, scale: float) -> dict:
    return {"dataset": "acula-zoo demo", "version": DEMO_VERSION, "seed": seed, "scale": scale}


def _is_complete(root: Path, seed: int, scale: float) -> bool:
    """True when `root` holds a finished demo; an error when it holds a different one or something else."""
    if not root.exists():
        return False
    manifest = root / MANIFEST
    if manifest.is_file() and (root / METADATA).is_file():
        found = json.loads(manifest.read_text())
        if found != _manifest(seed, scale):
            raise FileExistsError(f"{root}: holds a demo built with {found}, not {_manifest(seed, scale)}; "
                                  f"delete the folder or pass another --out")
        return True
    if root.is_dir() and not any(root.iterdir()):
        root.rmdir()  # an empty folder (e.g. made by the user) is simply replaced
        return False
    raise FileExistsError(f"{root}: exists but is not a complete demo dataset (no {MANIFEST}/{METADATA}); "
                          f"delete it or choose another --out")


def _write_wav(path: Path, wav, sample_rate: int) -> None:
    """PCM_16 mono WAV. Encoded in memory: libsndfile would fsync every file it closes, which is slow."""
    import io

    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, wav, sample_rate, subtype="PCM_16", format="WAV")
    path.write_bytes(buffer.getvalue())


def _render(row: dict, seed: int, index: int):
    """Audio of one planned recording: [duration_s * sample_rate] float32 in [-1, 1]."""
    import numpy as np

    from benchmark_tasks.synth.difficulty import knobs_for
    from benchmark_tasks.synth.heart import Murmur
    from benchmark_tasks.synth.scenes import cough_recording, heart_recording, lung_recording

    rng = np.random.default_rng([seed, index])
    knobs = knobs_for(row["difficulty"])
    sr, seconds = row["sample_rate"], row["duration_s"]
    if row["modality"] == "lung":
        return lung_recording(sr, seconds, rng, knobs, row["crackles"], row["wheeze"] == "yes", row["site"],
                              row["age"], row["device"])
    if row["modality"] == "heart":
        murmur = None
        if row["murmur"] == "present":
            murmur = Murmur(row["murmur_grade"], row["murmur_shape"], row["murmur_timing"], row["murmur_pitch"])
        return heart_recording(sr, seconds, rng, knobs, murmur, row["age"], row["device"])
    return cough_recording(sr, seconds, rng, knobs, row["cough_type"] == "wet", row["device"])


def _write_metadata(path: Path, rows: list[dict]) -> None:
    from benchmark_tasks.synth.cohort import COLUMNS

    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])


def generate_demo(root: Path, seed: int = 0, scale: float = 1.0, progress: bool | None = None) -> Path:
    """Write the demo dataset to `root` unless a complete one is already there; return `root`.

    Args:
        root: target folder (must not exist, be empty, or hold the same complete demo).
        seed: generation seed; the same (seed, scale) gives byte-identical files.
        scale: multiplies the number of subjects (1.0 ~ 855 clips; tests use ~0.1).
        progress: show a tqdm bar (None = only on a terminal).
    """
    root = Path(root)
    if _is_complete(root, seed, scale):
        return root
    from tqdm import tqdm

    from benchmark_tasks.synth.cohort import plan_cohort

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.partial-", dir=root.parent))
    try:
        rows = plan_cohort(seed, scale)
        (tmp / "audio").mkdir()
        disable = None if progress is None else not progress
        for index, row in enumerate(tqdm(rows, desc=f"demo -> {root}", unit="clip", disable=disable)):
            _write_wav(tmp / row["path"], _render(row, seed, index), row["sample_rate"])
        _write_metadata(tmp / METADATA, rows)
        (tmp / MANIFEST).write_text(json.dumps(_manifest(seed, scale), indent=1) + "\n")
        os.chmod(tmp, 0o755)  # mkdtemp makes it owner-only
        try:
            os.rename(tmp, root)  # atomic; fails if another process finished `root` meanwhile
        except OSError:
            if not _is_complete(root, seed, scale):
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def read_metadata(root: Path) -> list[dict]:
    """Rows of root/metadata.csv as dicts: numbers as int/float, empty fields as None."""
    path = Path(root) / METADATA
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = []
    for line, row in enumerate(rows, start=2):
        parsed = {}
        for key, value in row.items():
            if value == "":
                parsed[key] = None
            elif key in NUMERIC_COLUMNS:
                try:
                    parsed[key] = NUMERIC_COLUMNS[key](value)
                except ValueError as exc:
                    raise ValueError(f"{path}:{line}: column {key!r} holds {value!r}, expected "
                                     f"{NUMERIC_COLUMNS[key].__name__}; regenerate the demo") from exc
            else:
                parsed[key] = value
        out.append(parsed)
    return out


@register_dataset("demo", DEMO_TASKS)
def read_demo(task: TaskSpec, ctx: DataContext) -> list[Item]:
    """Items of a demo task, generating the demo under ctx.cache_dir first if it is missing.

    task.options may add "seed" (default 0) and "scale" (default 1.0; tests use a small demo this way, e.g.
    `dataclasses.replace(task, options={**task.options, "scale": 0.1})`).
    """
    seed, scale = task.options.get("seed", 0), task.options.get("scale", 1.0)
    root = generate_demo(demo_root(ctx, seed, scale), seed, scale)
    column, positive = task.options["label_column"], task.options["positive"]
    items = []
    for row in read_metadata(root):
        if row["modality"] != task.modality or row["difficulty"] != task.options["difficulty"]:
            continue
        label = 1 if row[column] in positive else 0
        items.append(Item(path=str((root / row["path"]).resolve()), label=label, split=row["split"],
                          group=row["subject"], metadata=row, uid=row["uid"]))
    return items


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmark_tasks.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write (must not hold other data)")
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    parser.add_argument("--scale", type=float, default=1.0, help="subject-count multiplier (default 1.0)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    root = generate_demo(args.out, args.seed, args.scale)
    print(f"demo dataset at {root} ({len(read_metadata(root))} recordings, {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
