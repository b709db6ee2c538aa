"""plugin.opera score: OPERA's linear_eval.py (here a stand-in at upstream's path with upstream's signature and file
reads) runs on the exported features in a subprocess with its Trainer's accelerator overridden, and its per-seed
AUROCs become result records that the leaderboard keeps as their own row."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from benchmark_tasks import Item, get_task
from benchmark_tasks._spec import split_fingerprint
from benchmark_tasks.leaderboard import render_markdown
from benchmark_tasks.leaderboard_table import build_board
from benchmark_tasks.records import load_records
from plugin.opera.__main__ import main
from plugin.opera.export import OperaExport
from plugin.opera.score import OperaScoreError, UpstreamRun, opera_split_items, run_upstream, upstream_scores

SR = 16000
N = 24   # recordings: odd numbers COVID-19, even healthy; 1-12 train, 13-18 val, 19-24 test
SEEDS = 3

# A stand-in for OPERA's src/benchmark/linear_eval.py (github evelyn0414/OPERA 3622310): the same function
# signature, the same file names read with np.load, a Lightning Trainer built with accelerator="gpu" as upstream
# does, the same __main__ seed loop and `auc_scores` list; the probe is scikit-learn's logistic regression on a
# bootstrap of the training rows drawn from the seeded numpy RNG (so each seed gives its own number).
STAND_IN = '''
import numpy as np
import pytorch_lightning as pl
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score


def linear_evaluation_coughvid(use_feature="operaCE1280", l2_strength=1e-6, epochs=64, lr=1e-5, batch_size=64,
                               label="sex", head="linear"):
    feature_dir = "feature/coughvid_eval/"
    y_set = np.load(feature_dir + "split_{}.npy".format(label))
    y_label = np.load(feature_dir + "label_{}.npy".format(label))
    x_data = np.load(feature_dir + use_feature + "_feature_{}.npy".format(label)).squeeze()
    pl.Trainer(max_epochs=epochs, accelerator="gpu", devices=1)
    return bootstrap_auroc(x_data, y_label, y_set)


def bootstrap_auroc(x, y, split):
    train = np.flatnonzero(split == "train")
    pick = np.random.choice(train, size=len(train), replace=True)
    while len(set(y[pick])) < 2:
        pick = np.random.choice(train, size=len(train), replace=True)
    clf = LogisticRegression(max_iter=2000).fit(x[pick], y[pick])
    test = split == "test"
    return roc_auc_score(y[test], clf.decision_function(x[test]))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--task", type=str, default="covid19sounds")
    parser.add_argument("--pretrain", type=str, default="operaCE")
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--l2_strength", type=float, default=1e-5)
    parser.add_argument("--head", type=str, default="linear")
    parser.add_argument("--n_run", type=int, default=5)
    args = parser.parse_args()
    feature = args.pretrain + str(args.dim)
    auc_scores = []
    for seed in range(args.n_run):
        np.random.seed(seed)
        if args.task == "coughvidcovid":
            auc = linear_evaluation_coughvid(use_feature=feature, epochs=64, l2_strength=args.l2_strength,
                                             lr=args.lr, batch_size=64, label="covid", head=args.head)
        auc_scores.append(auc)
    print(auc_scores)
'''
# Lightning's refusal when no GPU is there, reduced to what the test needs: "gpu" fails, anything else is kept.
FAKE_LIGHTNING = '''
class Trainer:
    def __init__(self, *args, accelerator="auto", **kwargs):
        if accelerator == "gpu":
            raise RuntimeError("No supported gpu backend found!")
        self.accelerator = accelerator
'''


def _uuid(n: int) -> str:
    return f"{n:08d}-7f3a-42aa-ac13-834aaa2b6b90"


def _split(n: int) -> str:
    return "train" if n <= 12 else "val" if n <= 18 else "test"


def _covid(n: int) -> bool:
    return n % 2 == 1


def _fixture(tmp_path: Path, lightning: bool = True) -> tuple[Path, Path]:
    """DATA/coughvid (csv + wav) and an OPERA root: split lists, T5 arrays in a shuffled order, the stand-in."""
    data, opera = tmp_path / "data" / "coughvid", tmp_path / "opera"
    (data / "wav").mkdir(parents=True)
    with open(data / "metadata_compiled.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["uuid", "gender", "status"]] +
                                 [[_uuid(n), "male", "COVID-19" if _covid(n) else "healthy"] for n in range(1, N + 1)])
    rng = np.random.default_rng(0)
    for n in range(1, N + 1):
        t = np.arange(SR // 2) / SR
        f0 = rng.uniform(300, 700) + (80 if _covid(n) else 0)      # overlapping classes: AUROC strictly inside (0, 1)
        wav = 0.3 * np.sin(2 * np.pi * f0 * t) + rng.uniform(0.02, 0.2) * rng.standard_normal(t.size)
        sf.write(data / "wav" / f"{_uuid(n)}.wav", wav.astype(np.float32), SR)
    lists = opera / "datasets" / "coughvid"
    lists.mkdir(parents=True)
    for split, name in (("train", "coughvid__train_uuids"), ("val", "coughvid__val_uuids"),
                        ("test", "coughvid_gender_test_uuids")):
        np.save(lists / f"{name}.npy", np.array([_uuid(n) for n in range(1, N + 1) if _split(n) == split]))
    order = [int(n) for n in rng.permutation(np.arange(1, N + 1))]
    eval_dir = opera / "feature" / "coughvid_eval"
    eval_dir.mkdir(parents=True)
    np.save(eval_dir / "sound_dir_loc_covid.npy", np.array([f"datasets/coughvid/wav/{_uuid(n)}.wav" for n in order]))
    np.save(eval_dir / "label_covid.npy", np.array([int(_covid(n)) for n in order]))
    np.save(eval_dir / "split_covid.npy", np.array([_split(n) for n in order]))
    (opera / "src" / "benchmark").mkdir(parents=True)
    (opera / "src" / "benchmark" / "linear_eval.py").write_text(STAND_IN)
    if lightning:
        (opera / "pytorch_lightning").mkdir()
        (opera / "pytorch_lightning" / "__init__.py").write_text(FAKE_LIGHTNING)
    return tmp_path / "data", opera


def _expected_aurocs(opera: Path, feature_file: Path, n: int) -> list[float]:
    """The stand-in's numbers computed here, from the exported file, with the same seeded draws."""
    eval_dir = opera / "feature" / "coughvid_eval"
    x, y, split = np.load(feature_file), np.load(eval_dir / "label_covid.npy"), np.load(eval_dir / "split_covid.npy")
    train, test, out = np.flatnonzero(split == "train"), split == "test", []
    for seed in range(n):
        np.random.seed(seed)
        pick = np.random.choice(train, size=len(train), replace=True)
        while len(set(y[pick])) < 2:
            pick = np.random.choice(train, size=len(train), replace=True)
        clf = LogisticRegression(max_iter=2000).fit(x[pick], y[pick])
        out.append(float(roc_auc_score(y[test], clf.decision_function(x[test]))))
    return out


def _score(tmp_path, data, opera) -> int:
    return main(["score", "--encoder", "logmel-stats", "--tasks", "T5", "--data-root", str(data), "--opera-root",
                 str(opera), "--out", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache"),
                 "--upstream-python", sys.executable, "--seeds", str(SEEDS), "--no-progress"])


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """One `python -m plugin.opera score` run on the fixture: (OPERA root, its record, what it printed)."""
    import contextlib
    import io

    tmp_path = tmp_path_factory.mktemp("scored")
    data, opera = _fixture(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert _score(tmp_path, data, opera) == 0
    (rec,) = load_records(tmp_path / "runs")
    return opera, rec, out.getvalue()


def test_operas_per_seed_aurocs_become_a_record_marked_scored_by_opera(scored):
    opera, rec, printed = scored
    feature_file = opera / "feature" / "coughvid_eval" / "az_logmel_stats128_feature_covid.npy"
    expected = _expected_aurocs(opera, feature_file, SEEDS)
    assert len(set(expected)) > 1                                   # the seeds really differ
    np.testing.assert_allclose(rec["scores"], expected, rtol=0, atol=1e-12)
    assert rec["mean"] == pytest.approx(np.mean(expected)) and rec["std"] == pytest.approx(np.std(expected))
    assert rec["scored_by"] == "opera" and rec["protocol"]["probe"] == "opera-upstream"
    assert (rec["task"], rec["metric"], rec["encoder_label"]) == ("T5", "auroc", "logmel-stats")
    assert rec["protocol"]["asked_accelerator"] == ["gpu"] and rec["protocol"]["accelerator"] == "cpu"
    assert rec["protocol"]["seeds"] == SEEDS
    assert rec["protocol"]["opera_command"].endswith("--task coughvidcovid --pretrain az_logmel_stats --dim 128 "
                                                     "--n_run 3")
    side = json.loads(feature_file.with_suffix(".json").read_text())
    assert rec["split_fingerprint"] == side["split_fingerprint"]   # T5: the task's split, the column evaluate.py uses
    assert rec["n_items"] == {"train": 12, "val": 6, "test": 6}
    assert Path(rec["record_path"]).name.endswith("__opera-upstream.json")
    assert "[" in Path(rec["opera_log"]).read_text()               # the stand-in's own print
    assert "T5   OPERA's linear_eval.py: auroc" in printed


def test_leaderboard_keeps_operas_score_as_its_own_row_in_the_same_column(scored):
    theirs = scored[1]
    ours = {**theirs, "protocol": {**theirs["protocol"], "probe": "opera"}, "scores": [0.5], "mean": 0.5, "std": 0.0}
    ours.pop("scored_by")
    board = build_board([ours, theirs])
    assert len(board.columns) == 1 and not board.columns[0].flagged
    assert sorted(r.key.probe for r in board.rows) == ["opera", "opera-upstream"]
    assert len({(r.key.label, r.key.weights_sha256, r.key.adapter_sha256) for r in board.rows}) == 1
    assert "opera-upstream" in render_markdown([ours, theirs], n_boot=0)


def test_without_lightning_the_run_fails_with_one_line_naming_the_log(tmp_path, capsys):
    data, opera = _fixture(tmp_path, lightning=False)
    assert _score(tmp_path, data, opera) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "T5__logmel-stats.log" in err[0] and "pytorch_lightning" in err[0]
    assert not (tmp_path / "runs" / "records").exists()


def test_run_upstream_reports_linear_evals_own_failure(tmp_path):
    _, opera = _fixture(tmp_path)
    run = UpstreamRun(opera, sys.executable, "cpu", 1)
    with pytest.raises(OperaScoreError, match=r"x\.log: OPERA's linear_eval.py failed .*NameError"):
        run_upstream(run, ["--task", "no-such-task", "--pretrain", "az", "--dim", "4", "--n_run", "1"],
                     tmp_path / "x.log")


def test_loocv_tasks_give_mae_records_from_operas_maes_and_mapes():
    got = upstream_scores(get_task("T19"), {"maes": [1.0, 2.0, 6.0], "mapes": [0.1, 0.2, 0.3]})
    assert got["scores"] == [1.0, 2.0, 6.0] and got["mean"] == pytest.approx(3.0)
    assert got["std"] == pytest.approx(np.std([1.0, 2.0, 6.0]))
    assert got["mape"] == pytest.approx([0.2, np.std([0.1, 0.2, 0.3])])
    with pytest.raises(OperaScoreError, match="no AUROC"):
        upstream_scores(get_task("T5"), {"maes": [1.0]})


def test_coswara_records_carry_operas_random_split_not_hears(tmp_path):
    """T8: linear_eval.py splits 80/20 at random (random_state 1337, stratified), then 20% of train as validation."""
    labels = np.array([0, 1] * 15)
    eval_dir = tmp_path / "coswara_eval"
    eval_dir.mkdir()
    np.save(eval_dir / "cough_aligned_smoker_label_cough-shallow.npy", labels)
    items = [Item(f"a{i}.wav", int(y), "test" if i < 6 else "train", f"g{i}", uid=f"a{i}")
             for i, y in enumerate(labels)]
    exp = OperaExport("T8", eval_dir / "f.npy", eval_dir / "f.json", len(items), 4, "", row_items=items)
    got = opera_split_items(get_task("T8"), exp, eval_dir)
    x_train, x_test, y_train, _ = train_test_split(np.arange(30)[:, None], labels, test_size=0.2, random_state=1337,
                                                   stratify=labels)
    _, x_val = train_test_split(x_train, test_size=0.2, random_state=1337, stratify=y_train)
    assert [it.split for it in got] == ["test" if i in x_test else "val" if i in x_val else "train" for i in range(30)]
    assert split_fingerprint(got) != split_fingerprint(items)
    assert opera_split_items(get_task("T5"), replace(exp, task_id="T5"), eval_dir) == items
