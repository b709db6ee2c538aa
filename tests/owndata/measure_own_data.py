#!/usr/bin/env python
"""Own-data check (issue 10): the default probe on public recordings, next to an independent scikit-learn baseline.

Two public sets, neither used to build or tune anything in acula-zoo:
- Yaseen et al. 2018 heart sounds (github yaseen21khan/Classification-of-Heart-Sound-Signal-Using-Multiple-Features-,
  commit c4b93f1): 8 kHz wav, 200 each of normal (N), mitral regurgitation (MR), mitral stenosis (MS), mitral valve
  prolapse (MVP); the AS archive of that commit is not retrievable. Task: normal vs valve disease (200 vs 600).
  Get it: extract `N_New_3주기.rar`, `MR_...`, `MS_...`, `MVP_...` (e.g. `bsdtar -xf`) into YASEEN/<class>/.
- Virufy COVID-19 cough recordings (github virufy/virufy-data, clinical/segmented): 121 segmented coughs (48 kHz
  mp3) from 16 patients, PCR positive vs negative. Groups are patients, so no patient is in train and test.

For each set this script writes a manifest with an explicit train/test split (drawn here with scikit-learn:
stratified 80/20 for Yaseen, a patient-level StratifiedGroupKFold fold for Virufy) and no `val` rows, then:
1. runs `evaluate.py` on it for the weight-free baselines with the csv default (logreg probe, native rate), with
   `--native-rate off` (16 kHz) and with `--probe opera` (OPERA's protocol, 5 seeds);
2. computes an independent baseline without any acula-zoo code: openSMILE functionals from `opensmile` directly and
   log-mel statistics from `librosa`, both at the file's own rate, then scikit-learn
   `make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=15 (1e-4..1e3), cv=group-aware 5-fold, roc_auc))`
   fit on the same train items and scored on the same test items.
Writes WORK/own_data_results.md (and .json) and prints the table.

    python tests/owndata/measure_own_data.py --yaseen /data/yaseen --virufy /data/virufy-data/clinical/segmented \
        --work /tmp/owndata-run
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
ENCODERS = ("opensmile-egemaps", "opensmile-compare", "logmel-stats")
RUNS = {"default (logreg, native rate)": [], "logreg, 16 kHz": ["--native-rate", "off"],
        "opera probe, native rate": ["--probe", "opera"]}


def yaseen_rows(root: Path) -> list[dict]:
    rows = []
    for cls in ("N", "MR", "MS", "MVP"):
        for f in sorted((root / cls).rglob("*.wav")):
            rows.append({"path": str(f), "label": "normal" if cls == "N" else "valve_disease", "group": f.stem,
                         "diagnosis_class": cls})
    return rows


def virufy_rows(root: Path) -> list[dict]:
    rows = []
    for f in sorted(root.rglob("*.mp3")):
        m = re.match(r"(pos|neg)-(\d{4}-\d{3})-cough-([mf])-(\d+)-\d+$", f.stem)
        if m:
            rows.append({"path": str(f), "label": "positive" if m.group(1) == "pos" else "negative",
                         "group": m.group(2), "sex": {"m": "male", "f": "female"}[m.group(3)], "age": m.group(4)})
    return rows


def assign_split(rows: list[dict], grouped: bool) -> None:
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split

    y = np.array([r["label"] for r in rows])
    idx = np.arange(len(rows))
    if grouped:
        groups = np.array([r["group"] for r in rows])
        _, test = next(StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=0).split(idx, y, groups))
    else:
        _, test = train_test_split(idx, test_size=0.2, stratify=y, random_state=0)
    test = set(test.tolist())
    for i, r in enumerate(rows):
        r["split"] = "test" if i in test else "train"


def write_manifest(rows: list[dict], path: Path) -> Path:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def ours(manifest: Path, name: str, work: Path) -> dict[tuple[str, str], float]:
    """(run, encoder) -> test AUROC from acula-zoo's own records."""
    out = {}
    for run, extra in RUNS.items():
        folder = work / "runs" / name / re.sub(r"\W+", "-", run).strip("-")
        cmd = [sys.executable, str(ROOT / "evaluate.py"), "--encoder", ",".join(ENCODERS), "--tasks",
               f"csv:{manifest}#name={name}", "--out", str(folder), "--cache-dir", str(work / "cache"),
               "--no-progress", "--allow-outside-root", *extra]
        subprocess.run(cmd, check=True, cwd=ROOT)
        for rec in (json.loads(p.read_text()) for p in (folder / "records").glob("*.json")):
            out[(run, rec["encoder"])] = rec["mean"]
    return out


def independent_features(rows: list[dict], encoder: str) -> np.ndarray:
    """[N, D] features computed with the feature libraries alone, at each file's own rate."""
    import librosa
    import opensmile
    import soundfile as sf

    if encoder.startswith("opensmile"):
        fs = opensmile.FeatureSet.eGeMAPSv02 if encoder.endswith("egemaps") else opensmile.FeatureSet.ComParE_2016
        smile = opensmile.Smile(feature_set=fs, feature_level=opensmile.FeatureLevel.Functionals)
    feats = []
    for r in rows:
        wav, sr = sf.read(r["path"], dtype="float32", always_2d=True)
        wav = wav.mean(axis=1)
        if encoder.startswith("opensmile"):
            feats.append(np.nan_to_num(smile.process_signal(wav, sr).to_numpy()[0]))
        else:   # 25 ms window, 10 ms hop, 64 Slaney mel bands 50-8000 Hz, natural log; per-band mean and std
            mel = librosa.feature.melspectrogram(y=wav, sr=sr, n_fft=round(0.025 * sr), hop_length=round(0.01 * sr),
                                                 n_mels=64, fmin=50.0, fmax=8000.0, norm="slaney", htk=False)
            logmel = np.log(mel + 1e-6)
            feats.append(np.concatenate([logmel.mean(axis=1), logmel.std(axis=1)]))
    return np.stack(feats)


def independent_auroc(rows: list[dict], x: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.array([r["label"] for r in rows])
    classes = sorted(set(y))
    y01 = (y == classes[1]).astype(int)
    groups = np.array([r["group"] for r in rows])
    tr = np.array([r["split"] == "train" for r in rows])
    folds = list(StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0).split(x[tr], y01[tr], groups[tr]))
    model = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=np.logspace(-4, 3, 15), cv=folds,
                                                                 scoring="roc_auc", max_iter=5000))
    model.fit(x[tr], y01[tr])
    return float(roc_auc_score(y01[~tr], model.predict_proba(x[~tr])[:, 1]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--yaseen", type=Path, help="folder with N/, MR/, MS/, MVP/ (extracted archives)")
    p.add_argument("--virufy", type=Path, help="virufy-data's clinical/segmented folder")
    p.add_argument("--work", type=Path, required=True)
    args = p.parse_args()
    sets = []
    if args.yaseen:
        sets.append(("yaseen-valve", yaseen_rows(args.yaseen), False))
    if args.virufy:
        sets.append(("virufy-covid", virufy_rows(args.virufy), True))
    results, lines = {}, []
    for name, rows, grouped in sets:
        assign_split(rows, grouped)
        manifest = write_manifest(rows, args.work / name / "manifest.csv")
        n = {s: sum(r["split"] == s for r in rows) for s in ("train", "test")}
        print(f"{name}: {len(rows)} recordings ({n['train']} train, {n['test']} test)", flush=True)
        got = ours(manifest, name, args.work)
        for enc in ENCODERS:
            ind = independent_auroc(rows, independent_features(rows, enc))
            row = {run: got.get((run, enc)) for run in RUNS} | {"independent sklearn, native rate": ind}
            results[f"{name}/{enc}"] = row
            lines.append(f"| {name} ({len(rows)}: {n['train']}/{n['test']}) | {enc} | "
                         + " | ".join(f"{v:.3f}" for v in row.values()) + " |")
    head = ["| set (n: train/test) | features | " + " | ".join([*RUNS, "independent sklearn, native rate"]) + " |",
            "|---" * (3 + len(RUNS)) + "|"]
    table = "\n".join(head + lines)
    (args.work / "own_data_results.md").write_text(table + "\n")
    (args.work / "own_data_results.json").write_text(json.dumps(results, indent=2))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
