"""The demo benchmark: reproducible, atomic generation; metadata; splits; tasks; recoverable ground truth."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import benchmark_tasks.demo as demo
from benchmark_tasks import DataContext, get_task
from benchmark_tasks.synth.cohort import COLUMNS

SMALL = 0.1  # every stratum at its minimum of three subjects, ~130 clips
TASK_IDS = [f"demo-{f}-{d}" for f in ("crackles", "wheeze", "murmur", "wetcough") for d in ("easy", "hard")]


def _small(task_id: str, seed: int = 0):
    task = get_task(task_id)
    return dataclasses.replace(task, options={**task.options, "scale": SMALL, "seed": seed})


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_root(tmp_path_factory) -> Path:
    return demo.generate_demo(tmp_path_factory.mktemp("demo") / "seed0", seed=0, scale=SMALL)


def test_same_seed_gives_the_same_bytes(small_root, tmp_path):
    again = _files(demo.generate_demo(tmp_path / "again", seed=0, scale=SMALL))
    first = _files(small_root)
    assert again.keys() == first.keys() and all(again[k] == first[k] for k in first)


def test_metadata_columns_types_and_audio_files(small_root):
    rows = demo.read_metadata(small_root)
    assert (small_root / "metadata.csv").read_text().splitlines()[0].split(",") == list(COLUMNS)
    assert 100 < len(rows) == len(list((small_root / "audio").glob("*.wav")))
    assert len({r["uid"] for r in rows}) == len(rows)
    truth = {"lung": ("crackles", "wheeze"), "heart": ("murmur",), "cough": ("cough_type",)}
    for r in rows[:60]:
        assert isinstance(r["age"], int) and isinstance(r["sample_rate"], int) and isinstance(r["duration_s"], float)
        info = sf.info(str(small_root / r["path"]))
        assert (info.samplerate, info.channels, info.subtype) == (r["sample_rate"], 1, "PCM_16")
        assert info.frames == round(r["duration_s"] * r["sample_rate"])
        for modality, cols in truth.items():
            assert all((r[c] is not None) == (r["modality"] == modality) for c in cols)
        assert r["findings"] and r["diagnosis"] and r["symptoms"]
        assert (r["findings"] == "none") == (r["diagnosis"] == "healthy") or r["modality"] == "cough"
        if r["murmur"] == "present":
            assert r["murmur_grade"] in (1, 2, 3, 4) and r["murmur_shape"] and r["murmur_timing"]
        elif r["modality"] == "heart":
            assert r["murmur_grade"] is None
    assert {r["sample_rate"] for r in rows} == {8000, 16000, 44100}
    assert {r["device"] for r in rows} >= {"Littmann 3200", "smartphone"}


def test_splits_are_subject_disjoint_with_one_to_three_recordings(small_root):
    rows = demo.read_metadata(small_root)
    split_of, count = {}, {}
    for r in rows:
        assert split_of.setdefault(r["subject"], r["split"]) == r["split"]
        count[r["subject"]] = count.get(r["subject"], 0) + 1
    assert set(count.values()) <= {1, 2, 3}
    assert set(split_of.values()) == {"train", "val", "test"}


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_task_items_and_both_classes_in_every_split(task_id, small_root, tmp_path_factory):
    task = _small(task_id)
    ctx = DataContext(cache_dir=small_root.parent.parent / "cache")
    demo.demo_root(ctx, 0, SMALL).parent.mkdir(parents=True, exist_ok=True)
    if not demo.demo_root(ctx, 0, SMALL).exists():  # reuse the module's small demo as this cache's copy
        demo.demo_root(ctx, 0, SMALL).symlink_to(small_root, target_is_directory=True)
    items = demo.read_demo(task, ctx)
    assert task.kind == "binary" and task.metric == "auroc" and task.group_by == "subject" and task.seeds == 5
    assert task.options["difficulty"] in task_id and task.options["suite"] == "demo"
    assert items and all(i.metadata["modality"] == task.modality for i in items)
    column, positive = task.options["label_column"], task.options["positive"]
    for split in ("train", "val", "test"):
        assert {i.label for i in items if i.split == split} == {0, 1}, split
    for i in items:
        assert Path(i.path).is_absolute() and Path(i.path).is_file()
        assert i.group == i.metadata["subject"] and i.uid == i.metadata["uid"]
        assert i.label == int(i.metadata[column] in positive)
        assert i.metadata["difficulty"] == task.options["difficulty"]
        assert set(i.metadata) == set(COLUMNS)


def test_failed_generation_leaves_nothing_and_the_next_call_regenerates(tmp_path, monkeypatch):
    real_write, written = demo._write_wav, []

    def failing_write(path, wav, sr):
        if len(written) == 5:
            raise KeyboardInterrupt  # an interrupted run, not only an exception
        written.append(path)
        real_write(path, wav, sr)

    monkeypatch.setattr(demo, "_write_wav", failing_write)
    target = tmp_path / "demo"
    with pytest.raises(KeyboardInterrupt):
        demo.generate_demo(target, seed=0, scale=SMALL)
    assert not target.exists() and list(tmp_path.iterdir()) == []
    # A hard kill leaves a hidden partial sibling behind; it must not stop or leak into the next run.
    (tmp_path / ".demo.partial-killed").mkdir()
    monkeypatch.setattr(demo, "_write_wav", real_write)
    root = demo.generate_demo(target, seed=0, scale=SMALL)
    assert len(demo.read_metadata(root)) == len(list((root / "audio").glob("*.wav")))


def test_complete_dataset_is_never_regenerated(small_root, monkeypatch):
    stamp = {p: p.stat().st_mtime_ns for p in small_root.rglob("*")}

    def no_render(*args):
        raise AssertionError("a complete demo was rendered again")

    monkeypatch.setattr(demo, "_render", no_render)
    assert demo.generate_demo(small_root, seed=0, scale=SMALL) == small_root
    assert stamp == {p: p.stat().st_mtime_ns for p in small_root.rglob("*")}
    with pytest.raises(FileExistsError, match="delete"):
        demo.generate_demo(small_root, seed=3, scale=SMALL)  # another seed's demo is not silently reused


def test_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a complete demo"):
        demo.generate_demo(tmp_path / "mine", scale=SMALL)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_cli_writes_the_demo_and_another_seed_gives_other_audio(small_root, tmp_path, capsys):
    demo.main(["--out", str(tmp_path / "cli"), "--seed", "1", "--scale", str(SMALL)])
    assert "recordings" in capsys.readouterr().out
    other = _files(tmp_path / "cli")
    first = _files(small_root)
    wavs = [k for k in first if k.endswith(".wav") and k in other]
    assert wavs and all(other[k] != first[k] for k in wavs)


def test_import_is_cheap():
    code = "import sys, benchmark_tasks.demo; print(sorted({'torch', 'numpy', 'scipy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(demo.__file__).parents[1])
    assert out.stdout.strip() == "[]"


BANDS_HZ = (50, 100, 200, 400, 800, 1600, 3200)


def _band_log_energy(wav: np.ndarray, sr: int, seconds: float):
    frame = int(seconds * sr)
    hop = frame // 2
    idx = np.arange(frame)[None, :] + hop * np.arange((len(wav) - frame) // hop + 1)[:, None]
    power = np.abs(np.fft.rfft(wav[idx] * np.hanning(frame), axis=1)) ** 2
    freqs = np.fft.rfftfreq(frame, 1 / sr)
    logb = np.stack([np.log(power[:, (freqs >= lo) & (freqs < hi)].sum(1) + 1e-10)
                     for lo, hi in zip(BANDS_HZ[:-1], BANDS_HZ[1:])], axis=1)
    return logb - logb.mean(), power, freqs


def spectral_features(wav: np.ndarray, sr: int) -> np.ndarray:
    """Band log-energies (mean, std over 32 ms frames), spectral flux over 8 ms frames (mean, 99th pct),
    tonal peakiness in 100-1000 Hz, and the crest factor of three FFT-masked bands: 31 numbers."""
    logb, power, freqs = _band_log_energy(wav, sr, 0.032)
    flux = np.maximum(np.diff(_band_log_energy(wav, sr, 0.008)[0], axis=0), 0)
    tonal = power[:, (freqs >= 100) & (freqs < 1000)] + 1e-12
    peaky = np.log(tonal.max(1) / tonal.mean(1))
    spec, f = np.fft.rfft(wav), np.fft.rfftfreq(len(wav), 1 / sr)
    crest = []
    for lo, hi in ((100, 300), (300, 800), (800, 2000)):
        x = np.fft.irfft(spec * ((f >= lo) & (f < hi)), len(wav))
        crest.append(np.log(np.max(np.abs(x)) / (np.sqrt(np.mean(x**2)) + 1e-12) + 1e-12))
    return np.concatenate([logb.mean(0), logb.std(0), flux.mean(0), np.percentile(flux, 99, axis=0),
                           [peaky.mean(), np.percentile(peaky, 95)], crest])


def test_ground_truth_is_recoverable_easy_above_hard(tmp_path_factory):
    """Logistic regression on spectral features, trained on train. Easy: test AUROC >= 0.8. Hard: AUROC on the
    held-out subjects (val + test, for a steadier estimate) above chance yet below easy. Full-size demo."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ctx = DataContext(cache_dir=tmp_path_factory.mktemp("full"))
    features, scores = {}, {}
    for task_id in TASK_IDS:
        items = demo.read_demo(get_task(task_id), ctx)
        for i in items:
            if i.path not in features:
                wav, sr = sf.read(i.path)
                features[i.path] = spectral_features(wav, sr)
        x = np.array([features[i.path] for i in items])
        y = np.array([i.label for i in items])
        split = np.array([i.split for i in items])
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(x[split == "train"],
                                                                                      y[split == "train"])
        held = (split == "test") if task_id.endswith("easy") else (split != "train")
        scores[task_id] = roc_auc_score(y[held], model.predict_proba(x[held])[:, 1])
    print({k: round(v, 3) for k, v in scores.items()})
    for family in ("crackles", "wheeze", "murmur", "wetcough"):
        easy, hard = scores[f"demo-{family}-easy"], scores[f"demo-{family}-hard"]
        assert easy >= 0.8, (family, easy)
        assert 0.55 < hard < easy, (family, hard, easy)
