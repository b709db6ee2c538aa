"""`--tasks csv:` end to end, the path real users take with their own recordings."""

import json

import numpy as np
import soundfile as sf

import evaluate


def _tone(f, sr=16000, seconds=0.6, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    return 0.4 * np.sin(2 * np.pi * f * t) + 0.02 * rng.standard_normal(len(t))


def test_csv_classification_and_regression_records(tmp_path):
    rows_c, rows_r = ["path,label,group,site"], ["path,label,group"]
    for i in range(60):
        f = 300 + 25 * i
        sf.write(tmp_path / f"c{i}.wav", _tone(f, seed=i), 16000)
        rows_c.append(f"c{i}.wav,{'high' if f > 1000 else 'low'},p{i // 2},chest")
        rows_r.append(f"c{i}.wav,{f / 100:.2f},p{i // 2}")
    (tmp_path / "cls.csv").write_text("\n".join(rows_c) + "\n")
    (tmp_path / "reg.csv").write_text("\n".join(rows_r) + "\n")
    out = tmp_path / "out"
    argv = ["--encoder", "logmel-stats", "--tasks", f"csv:{tmp_path / 'cls.csv'},csv:{tmp_path / 'reg.csv'}",
            "--seeds", "2", "--probe", "logreg", "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
            "--no-progress"]
    assert evaluate.main(argv) == 0
    cls = json.loads(next((out / "records").glob("csv-cls__*.json")).read_text())
    reg = json.loads(next((out / "records").glob("csv-reg__*.json")).read_text())
    assert cls["metric"] == "auroc" and cls["mean"] > 0.9
    assert len(cls["scores"]) == 1 and cls["protocol"]["probe"] == "logreg" and cls["protocol"]["seeds"] == 1
    assert reg["metric"] == "mae" and np.isfinite(reg["mean"]) and "mape" in reg
    assert (out / "errors" / "csv-cls__logmel-stats@native-rate.json").exists()   # csv: native rate by default
    assert cls["encoder_label"] == "logmel-stats@native-rate" and cls["encoder_config"]["native_rate"] is True
