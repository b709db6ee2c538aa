"""plugin.opera: features written under OPERA's names, in the row order of OPERA's own arrays, checked against them."""

from __future__ import annotations

import csv
import importlib.util
import json

import numpy as np
import pytest
import soundfile as sf
import torch

from adapters import build_encoder, load_audio
from adapters._inference import embed_clips
from benchmark_tasks import Item, get_task
from benchmark_tasks.embeddings import pipeline_version
from benchmark_tasks.preprocess import preprocess_for
from plugin.opera import OperaExportError, export_opera_features, opera_command, opera_feature_name
from plugin.opera.__main__ import main

SR = 16000
# CoughVID fixture: uuid number, status, OPERA list; OPERA's file list orders the T5 rows 5, 2, 6, 1, 4.
RECORDINGS = [(1, "healthy", "train"), (2, "COVID-19", "train"), (3, "symptomatic", "val"), (4, "healthy", "val"),
              (5, "COVID-19", "test"), (6, "healthy", "test")]
OPERA_ORDER = [5, 2, 6, 1, 4]


def _uuid(n: int) -> str:
    return f"{n:08d}-7f3a-42aa-ac13-834aaa2b6b9{n}"


def _tone(n: int, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 200 * n * t) * np.exp(-t * n)).astype(np.float32)


def _coughvid(tmp_path):
    """DATA/coughvid (csv + wav; uuid 2 under OPERA's truncated .ogg-conversion name) and an OPERA checkout."""
    root, opera = tmp_path / "data" / "coughvid", tmp_path / "opera"
    (root / "wav").mkdir(parents=True)
    with open(root / "metadata_compiled.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["uuid", "gender", "status"]] +
                                 [[_uuid(n), "male", status] for n, status, _ in RECORDINGS])
    for n, *_ in RECORDINGS:
        sf.write(root / "wav" / f"{_uuid(n)[:-1] if n == 2 else _uuid(n)}.wav", _tone(n), SR)
    lists = opera / "datasets" / "coughvid"
    lists.mkdir(parents=True)
    for split, name in (("train", "coughvid__train_uuids"), ("val", "coughvid__val_uuids"),
                        ("test", "coughvid_gender_test_uuids")):
        np.save(lists / f"{name}.npy", np.array([_uuid(n) for n, _, s in RECORDINGS if s == split]))
    eval_dir = opera / "feature" / "coughvid_eval"
    eval_dir.mkdir(parents=True)
    by_n = {n: (status, split) for n, status, split in RECORDINGS}
    np.save(eval_dir / "sound_dir_loc_covid.npy",
            np.array([f"datasets/coughvid/wav/{_uuid(n)[:-1] if n == 2 else _uuid(n)}.wav" for n in OPERA_ORDER]))
    np.save(eval_dir / "label_covid.npy", np.array([int(by_n[n][0] == "COVID-19") for n in OPERA_ORDER]))
    np.save(eval_dir / "split_covid.npy", np.array([by_n[n][1] for n in OPERA_ORDER]))
    return tmp_path / "data", opera


def _expected_rows(encoder, task, data_root, numbers):
    prep = preprocess_for(task, encoder.spec.name)
    paths = [data_root / "coughvid" / "wav" / f"{_uuid(n)[:-1] if n == 2 else _uuid(n)}.wav" for n in numbers]
    return embed_clips(encoder, [prep.apply(load_audio(p, SR), SR) for p in paths], windowing=prep.windowing)


def test_t5_rows_follow_operas_file_list_under_operas_feature_name(tmp_path):
    data_root, opera = _coughvid(tmp_path)
    enc = build_encoder("logmel-stats")
    res = export_opera_features(enc, "T5", opera / "feature", "az_test", data_root=data_root,
                                cache_dir=tmp_path / "cache", progress=False)
    assert res.feature_path == opera / "feature" / "coughvid_eval" / "az_test128_feature_covid.npy"
    feats = np.load(res.feature_path)
    assert feats.shape == (5, 128) and feats.dtype == np.float32
    np.testing.assert_allclose(feats, _expected_rows(enc, get_task("T5"), data_root, OPERA_ORDER), atol=1e-5)
    assert not np.allclose(feats, _expected_rows(enc, get_task("T5"), data_root, sorted(OPERA_ORDER)), atol=1e-3)
    side = json.loads(res.sidecar_path.read_text())
    assert side["encoder"]["encoder"] == "logmel-stats" and side["encoder_hash"] == enc.identity_hash()
    assert (side["rows"], side["dim"], side["pretrain"], side["task"]) == (5, 128, "az_test", "T5")
    assert side["order"]["file"] == "feature/coughvid_eval/sound_dir_loc_covid.npy"
    assert side["pipeline_version"] == pipeline_version(enc)
    assert res.command.endswith("linear_eval.py --task coughvidcovid --pretrain az_test --dim 128")
    assert sorted(p.name for p in res.feature_path.parent.iterdir() if p.name.startswith(".")) == []  # no temp


def test_opera_family_rows_take_the_tasks_opera_preprocessing(tmp_path):
    """An OPERA encoder's exported row is the number evaluate.py scores: OPERA's trim + padding for T5."""
    data_root, opera = _coughvid(tmp_path)
    enc = build_encoder("opera-ct", config="tiny")
    res = export_opera_features(enc, "T5", opera / "feature", "az_ct", data_root=data_root,
                                cache_dir=tmp_path / "cache", progress=False)
    assert json.loads(res.sidecar_path.read_text())["preprocess"]["pad_seconds"] == 2.0
    np.testing.assert_allclose(np.load(res.feature_path),
                               _expected_rows(enc, get_task("T5"), data_root, OPERA_ORDER), atol=1e-5)


def test_labels_that_disagree_with_operas_array_are_an_error_naming_it(tmp_path):
    data_root, opera = _coughvid(tmp_path)
    label_file = opera / "feature" / "coughvid_eval" / "label_covid.npy"
    np.save(label_file, 1 - np.load(label_file))
    with pytest.raises(OperaExportError, match="label_covid.npy"):
        export_opera_features(build_encoder("logmel-stats"), "T5", opera / "feature", "az_test",
                              data_root=data_root, cache_dir=tmp_path / "cache", progress=False)
    assert not list((opera / "feature" / "coughvid_eval").glob("az_test*"))


def test_items_missing_from_operas_list_and_missing_lists_are_errors(tmp_path):
    data_root, opera = _coughvid(tmp_path)
    order = opera / "feature" / "coughvid_eval" / "sound_dir_loc_covid.npy"
    np.save(order, np.load(order)[:-1])
    kwargs = dict(data_root=data_root, cache_dir=tmp_path / "cache", progress=False)
    with pytest.raises(OperaExportError, match="not in .*sound_dir_loc_covid.npy"):
        export_opera_features(build_encoder("logmel-stats"), "T5", opera / "feature", "az_test", **kwargs)
    order.unlink()
    with pytest.raises(OperaExportError, match="sound_dir_loc_covid.npy.*shipped with OPERA"):
        export_opera_features(build_encoder("logmel-stats"), "T5", opera / "feature", "az_test", **kwargs)


def _icbhi_items(tmp_path):
    audio = tmp_path / "icbhi"
    audio.mkdir()
    stems = ["101_1b1_Al_sc_Meditron", "102_1b1_Ar_sc_Meditron", "103_2b2_Ar_mc_LittC2SE"]
    for k, stem in enumerate(stems):
        sf.write(audio / f"{stem}.wav", _tone(k + 1, 1.0), SR)
    return [Item(str(audio / f"{stems[0]}.wav"), 1, "test", "101", uid=stems[0]),
            Item(str(audio / f"{stems[1]}.wav"), 0, "val", "102", uid=stems[1]),
            Item(str(audio / f"{stems[2]}.wav"), 1, "train", "103", uid=stems[2])]


def test_rows_operas_probe_drops_are_zeros_for_items_given_directly(tmp_path):
    items = _icbhi_items(tmp_path)
    eval_dir = tmp_path / "feature" / "icbhidisease_eval"
    eval_dir.mkdir(parents=True)
    order = [items[2].uid, "104_1b1_Ll_sc_Litt3200", items[0].uid, items[1].uid]
    np.save(eval_dir / "sound_dir_loc.npy", np.array([f"datasets/icbhi/ICBHI_final_database/{s}.wav" for s in order]))
    np.save(eval_dir / "labels.npy", np.array(["COPD", "URTI", "COPD", "Healthy"]))
    np.save(eval_dir / "split.npy", np.array(["train", "train", "test", "train"]))
    enc = build_encoder("logmel-stats")
    res = export_opera_features(enc, items, tmp_path / "feature", "az_x", task="T7", cache_dir=tmp_path / "c",
                                progress=False)
    feats = np.load(eval_dir / "az_x128_feature.npy")
    assert res.placeholder_rows == [1] and feats.shape == (4, 128)
    assert not feats[1].any() and all(feats[r].any() for r in (0, 2, 3))
    prep = preprocess_for(get_task("T7"), "logmel-stats")
    expected = embed_clips(enc, [prep.apply(load_audio(items[i].path, SR), SR) for i in (2, 0, 1)])
    np.testing.assert_allclose(feats[[0, 2, 3]], expected, atol=1e-5)
    np.save(eval_dir / "labels.npy", np.array(["COPD", "Healthy", "COPD", "Healthy"]))  # a kept label, no item
    with pytest.raises(OperaExportError, match="labels.npy"):
        export_opera_features(enc, items, tmp_path / "feature", "az_x", task="T7", cache_dir=tmp_path / "c",
                              progress=False)


def test_tasks_without_a_file_list_keep_the_reader_order_checked_against_operas_labels(tmp_path):
    audio = tmp_path / "nosemic" / "audio"
    audio.mkdir(parents=True)
    names = ["10_a_b_14.wav", "4_a_b_12.5.wav", "5_a_b_20.wav"]
    for k, name in enumerate(names):
        sf.write(audio / name, _tone(k + 1, 1.0), SR)
    items = [Item(str(audio / n), float(n.split("_")[3][:-4]), "test", n.split("_")[0], uid=n) for n in names]
    eval_dir = tmp_path / "feature" / "nosemic_eval"
    eval_dir.mkdir(parents=True)
    np.save(eval_dir / "labels.npy", np.array(["14", "12.5", "20"]))
    res = export_opera_features(build_encoder("logmel-stats"), items, tmp_path / "feature", "az_x", task="T19",
                                cache_dir=tmp_path / "c", progress=False)
    assert np.load(res.feature_path).shape == (3, 128) and res.command.endswith("--task rr --LOOCV True "
                                                                                "--pretrain az_x --dim 128")
    np.save(eval_dir / "labels.npy", np.array(["12.5", "14", "20"]))
    with pytest.raises(OperaExportError, match="labels.npy"):
        export_opera_features(build_encoder("logmel-stats"), items, tmp_path / "feature", "az_x", task="T19",
                              cache_dir=tmp_path / "c", progress=False)


def test_pretrain_names_follow_linear_evals_rule_and_refuse_operas_own():
    assert opera_feature_name("az_gt", 384) == "az_gt384"
    for bad in ("operaGT", "opensmile", "clap", "1abc", "a b", ""):
        with pytest.raises(OperaExportError):
            opera_feature_name(bad, 384)
    assert opera_command("T8", "az", 32) == ("PYTHONPATH=. python src/benchmark/linear_eval.py --task coswarasmoker "
                                             "--modality cough-shallow --pretrain az --dim 32")
    with pytest.raises(OperaExportError, match="no OPERA feature layout"):
        opera_command("demo-crackles-easy", "az", 32)


def test_cli_exports_and_prints_the_opera_command(tmp_path, capsys):
    data_root, opera = _coughvid(tmp_path)
    assert main(["export", "--encoder", "logmel-stats", "--task", "T5", "--data-root", str(data_root),
                 "--opera-root", str(opera), "--cache-dir", str(tmp_path / "cache"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert (opera / "feature" / "coughvid_eval" / "az_logmel_stats128_feature_covid.npy").is_file()
    assert "--task coughvidcovid --pretrain az_logmel_stats --dim 128" in out


@pytest.mark.skipif(importlib.util.find_spec("align.aligned") is None, reason="align.aligned not available")
def test_cli_with_an_aligned_directory_records_the_adapter(tmp_path, capsys):
    from align.aligned import adapter_sha256, base_identity, save_aligned, save_base_weights
    from align.heads import ProjectionHead
    from align.lora import apply_lora

    data_root, opera = _coughvid(tmp_path)
    aligned = tmp_path / "aligned"
    torch.manual_seed(0)
    enc = build_encoder("opera-gt", config="tiny")
    info = {"base": {**base_identity(enc), "tiny": True, "random_init": True}, "teacher": {"path": "none"}}
    info["base"]["weights_sha256"] = save_base_weights(enc, aligned)
    save_aligned(aligned, enc, apply_lora(enc, rank=2, alpha=4), ProjectionHead(32, 8, 4, 0.0),
                 ProjectionHead(8, 8, 4, 0.0), info)
    assert main(["export", "--aligned", str(aligned), "--task", "T5", "--data-root", str(data_root),
                 "--opera-root", str(opera), "--cache-dir", str(tmp_path / "cache"), "--no-progress"]) == 0
    side = json.loads((opera / "feature" / "coughvid_eval" / "az_opera_gt_aligned32_feature_covid.json")
                      .read_text())
    assert side["encoder"]["adapter_sha256"] == adapter_sha256(aligned) and side["dim"] == 32
