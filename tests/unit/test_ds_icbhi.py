"""ICBHI reader (T7) on a tiny fixture in the publisher's layout with OPERA's order file."""

import numpy as np
import pytest
import soundfile as sf
from sklearn.model_selection import train_test_split

from benchmark_tasks._registry import DataContext
from benchmark_tasks.datasets._common import DatasetError
from benchmark_tasks.datasets.icbhi import TASKS, read_icbhi

(T7,) = TASKS
DIAGNOSIS = {"101": "URTI", "102": "Healthy", "104": "COPD", "121": "Healthy", "130": "COPD", "223": "COPD"}
DEMOGRAPHICS = ["101\t3\tF\tNA\t19\t99", "102\t0.75\tF\tNA\t9.8\t73", "104\t70\tF\t28.47\tNA\tNA",
                "121\t13\tF\tNA\t63\t154", "130\t63\tM\t28.4\tNA\tNA", "223\tNA\tNA\tNA\tNA\tNA"]
# (stem, official split); 101 is URTI (dropped), 223 has no demographics.
RECORDINGS = (
    [(f"104_{k}b1_Al_sc_Litt3200", "train") for k in range(1, 7)]
    + [(f"130_{k}p2_Tc_mc_AKGC417L", "train") for k in range(1, 5)]
    + [(f"102_{k}b1_Ar_sc_Meditron", "train") for k in range(1, 4)]
    + [("121_1b1_Tc_sc_Meditron", "train"), ("121_1p1_Pl_sc_LittC2SE", "train")]
    + [("223_1b1_Pr_sc_Meditron", "test"), ("130_9p2_Ll_mc_AKGC417L", "test"), ("121_2b1_Lr_sc_Meditron", "test")]
    + [("101_1b1_Al_sc_Meditron", "test")]
)


def _write_lines(path, lines):
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())  # the published tables use CRLF


def _make(tmp_path, tables_in_data=True):
    root = tmp_path / "data" / "icbhi"
    audio = root / "ICBHI_final_database"
    audio.mkdir(parents=True)
    for stem, _ in RECORDINGS:
        sf.write(audio / f"{stem}.wav", np.zeros(400, np.float32), 4000)
    (audio / "104_1b1_Al_sc_Litt3200.txt").write_text("0.036\t0.579\t0\t0\n0.579\t2.45\t1\t0\n2.45\t3.893\t1\t1\n")
    (audio / "102_1b1_Ar_sc_Meditron.txt").write_text("0.1\t1.2\t0\t0\n")
    opera = tmp_path / "opera"
    tables = root if tables_in_data else opera / "datasets" / "icbhi"
    tables.mkdir(parents=True, exist_ok=True)
    _write_lines(tables / "ICBHI_Challenge_diagnosis.txt", [f"{p}\t{d}" for p, d in DIAGNOSIS.items()])
    _write_lines(tables / "ICBHI_challenge_train_test.txt",
                 [f"{s}\t{sp}" for s, sp in RECORDINGS] + ["226_1b1_Pl_sc_Meditron\ttrain"])  # no such wav
    _write_lines(tables / "ICBHI_Challenge_demographic_information.txt", DEMOGRAPHICS)
    order = [s for s, _ in RECORDINGS]
    np.random.default_rng(3).shuffle(order)
    (opera / "feature" / "icbhidisease_eval").mkdir(parents=True)
    np.save(opera / "feature" / "icbhidisease_eval" / "sound_dir_loc.npy",
            np.array([f"datasets/icbhi/ICBHI_final_database/{s}.wav" for s in order]))
    return root, order, DataContext(data_root=tmp_path / "data", opera_root=opera)


def test_copd_vs_healthy_with_official_test_and_opera_validation(tmp_path):
    root, order, ctx = _make(tmp_path)
    items = read_icbhi(T7, ctx)
    by_uid = {i.uid: i for i in items}
    assert "101_1b1_Al_sc_Meditron" not in by_uid  # URTI is dropped
    assert len(items) == len(RECORDINGS) - 1
    assert [i.uid for i in items] == [s for s in order if s in by_uid]  # OPERA's order is kept
    official = dict(RECORDINGS)
    assert {u for u, i in by_uid.items() if i.split == "test"} == {u for u in by_uid if official[u] == "test"}
    # OPERA: 20% of the train recordings (in its order), stratified, random_state 1337
    train = [u for u in order if u in by_uid and official[u] == "train"]
    _, val = train_test_split(train, test_size=0.2, random_state=1337,
                              stratify=[by_uid[u].label for u in train])
    assert {u for u, i in by_uid.items() if i.split == "val"} == set(val) and len(val) == 3
    assert {i.label for i in items if i.split == "val"} == {0, 1}
    assert by_uid["104_1b1_Al_sc_Litt3200"].label == 1 and by_uid["102_1b1_Ar_sc_Meditron"].label == 0
    assert {i.group for i in items} == {"102", "104", "121", "130", "223"}


def test_metadata_keeps_every_field(tmp_path):
    root, _, ctx = _make(tmp_path)
    by_uid = {i.uid: i for i in read_icbhi(T7, ctx)}
    adult = by_uid["104_1b1_Al_sc_Litt3200"]
    assert adult.path == str(root / "ICBHI_final_database" / "104_1b1_Al_sc_Litt3200.wav")
    assert adult.metadata == {
        "patient": "104", "recording_index": "1b1", "chest_location_code": "Al", "chest_location": "anterior left",
        "acquisition_mode_code": "sc", "acquisition_mode": "sequential/single channel", "device_code": "Litt3200",
        "device": "3M Littmann 3200 electronic stethoscope", "diagnosis": "COPD", "age": 70.0, "sex": "F",
        "adult_bmi": 28.47, "child_weight_kg": None, "child_height_cm": None, "age_group": "adult",
        "official_split": "train", "n_cycles": 3, "n_crackle_cycles": 2, "n_wheeze_cycles": 1, "n_both_cycles": 1}
    infant = by_uid["102_1b1_Ar_sc_Meditron"].metadata
    assert (infant["age"], infant["child_weight_kg"], infant["child_height_cm"], infant["adult_bmi"],
            infant["age_group"], infant["n_cycles"]) == (0.75, 9.8, 73.0, None, "child", 1)
    teen = by_uid["121_1b1_Tc_sc_Meditron"].metadata
    assert teen["chest_location"] == "trachea" and teen["age_group"] == "child" and teen["n_cycles"] is None
    unknown = by_uid["223_1b1_Pr_sc_Meditron"].metadata  # all NA in the demographic file
    assert unknown["age"] is None and unknown["sex"] is None and unknown["age_group"] is None


def test_tables_are_read_from_the_opera_checkout_when_absent(tmp_path):
    _, _, ctx = _make(tmp_path, tables_in_data=False)
    assert len(read_icbhi(T7, ctx)) == len(RECORDINGS) - 1


def test_missing_opera_order_file_is_named(tmp_path):
    _, _, ctx = _make(tmp_path)
    (ctx.opera_root / "feature" / "icbhidisease_eval" / "sound_dir_loc.npy").unlink()
    with pytest.raises(DatasetError, match="icbhidisease_eval/sound_dir_loc.npy"):
        read_icbhi(T7, ctx)
    with pytest.raises(DatasetError, match="--opera-root"):
        read_icbhi(T7, DataContext(data_root=ctx.data_root))


def test_missing_table_recording_and_folder_are_named(tmp_path):
    root, _, ctx = _make(tmp_path)
    (root / "ICBHI_final_database" / "130_2p2_Tc_mc_AKGC417L.wav").unlink()
    with pytest.raises(DatasetError, match="130_2p2_Tc_mc_AKGC417L"):
        read_icbhi(T7, ctx)
    (root / "ICBHI_Challenge_diagnosis.txt").unlink()
    with pytest.raises(DatasetError, match="ICBHI_Challenge_diagnosis.txt"):
        read_icbhi(T7, ctx)
    with pytest.raises(DatasetError, match="bhichallenge.med.auth.gr"):
        read_icbhi(T7, DataContext(data_root=tmp_path / "elsewhere", opera_root=ctx.opera_root))


def test_task_spec_matches_opera():
    assert T7.labels == ("Healthy", "COPD") and T7.kind == "binary" and T7.metric == "auroc"
    assert T7.options["opera_counts"] == {"train": 369, "val": 93, "test": 366}
    assert (T7.probe.epochs, T7.probe.batch_size, T7.probe.lr, T7.probe.l2) == (64, 32, 1e-4, 1e-5)
    assert T7.seconds_for("opera-gt") == 8.18 and T7.seconds_for("opera-ct") == 8.0 and T7.seeds == 5
    assert "17 healthy" in T7.notes
