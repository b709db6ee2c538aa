"""evaluate.py --aligned and --zero-shot on an adapter trained for a few steps on one demo task."""

import json

import pytest

import evaluate


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    from align.config import AlignConfig
    from align.train import train

    root = tmp_path_factory.mktemp("aligned")
    cfg = AlignConfig(encoder="opera-gt", tiny=True, tasks="demo-murmur-easy", out=str(root / "adapter"),
                      cache_dir=str(root / "cache"), steps=3, batch_size=8, warmup_steps=1, checkpoint_every=10,
                      ssl="none", loss="infonce", progress=False)
    return train(cfg), root


def test_aligned_and_zero_shot_records(adapter):
    folder, root = adapter
    common = ["--encoder", "opera-gt", "--tiny", "--aligned", str(folder), "--tasks", "demo-murmur-easy",
              "--seeds", "1", "--cache-dir", str(root / "cache"), "--no-progress"]
    assert evaluate.main([*common, "--out", str(root / "probe")]) == 0
    assert evaluate.main([*common, "--zero-shot", "--out", str(root / "zs")]) == 0
    probe = json.loads(next((root / "probe" / "records").glob("*.json")).read_text())
    zs = json.loads(next((root / "zs" / "records").glob("*.json")).read_text())
    assert probe["encoder_label"] == "opera-gt-tiny+aligned" and probe["adapter_sha256"]
    assert probe["alignment"]["allow_test_items"] is False and probe["alignment"]["items"] > 0
    assert zs["protocol"]["probe"] == "zero-shot" and 0.0 <= zs["mean"] <= 1.0 and len(zs["scores"]) == 1


def test_aligned_dir_of_another_encoder_is_refused(adapter):
    folder, root = adapter
    from align.aligned import AlignedError

    with pytest.raises(AlignedError, match="trained on opera-gt --tiny, not on beats"):
        evaluate.main(["--encoder", "beats", "--tiny", "--aligned", str(folder), "--tasks", "demo-murmur-easy",
                       "--cache-dir", str(root / "cache"), "--out", str(root / "x"), "--no-progress"])


def test_adapter_records_the_hashes_of_its_training_recordings(adapter):
    folder, _ = adapter
    from align.aligned import trained_items

    info = json.loads((folder / "align_config.json").read_text())
    assert info["trained_items"]["count"] == info["data"]["items"] == len(trained_items(folder))
    assert json.loads((folder / "errors.json").read_text())["n_errors"] == 0   # every recording decoded before step 0


def _leaky_copy(folder, root, task_id: str) -> tuple:
    """A copy of the adapter whose trained_items.txt also lists the test recordings of `task_id`."""
    import shutil

    from align.aligned import trained_items, write_trained_items
    from benchmark_tasks import DataContext, get_task, load_items
    from benchmark_tasks.embeddings import file_sha256

    leaky = root / "leaky"
    if not leaky.exists():
        shutil.copytree(folder, leaky, ignore=shutil.ignore_patterns("checkpoints"))
        test = {file_sha256(it.path) for it in load_items(get_task(task_id), DataContext(cache_dir=root / "cache"))
                if it.split == "test"}
        info = json.loads((leaky / "align_config.json").read_text())
        info["trained_items"] = write_trained_items(leaky, [*trained_items(folder), *test])
        (leaky / "align_config.json").write_text(json.dumps(info))
    return leaky, len(trained_items(leaky)) - len(trained_items(folder))


def test_evaluate_refuses_test_recordings_the_adapter_trained_on(adapter):
    folder, root = adapter
    from align.aligned import AlignedError

    leaky, n = _leaky_copy(folder, root, "demo-murmur-easy")
    common = ["--encoder", "opera-gt", "--tiny", "--aligned", str(leaky), "--tasks", "demo-murmur-easy",
              "--seeds", "1", "--probe", "logreg", "--cache-dir", str(root / "cache"), "--no-progress"]
    with pytest.raises(AlignedError, match=rf"demo-murmur-easy \({n} of {n} test recordings\).*"
                                           r"--allow-aligned-overlap"):
        evaluate.main([*common, "--out", str(root / "refused")])
    assert not (root / "refused" / "records").exists()
    assert evaluate.main([*common, "--allow-aligned-overlap", "--out", str(root / "leaky-eval")]) == 0
    rec = json.loads(next((root / "leaky-eval" / "records").glob("*.json")).read_text())
    assert rec["alignment"]["test_items_overlap"] == n
    assert "‡" in (root / "leaky-eval" / "leaderboard.md").read_text()


def test_clean_adapter_records_zero_overlap(adapter):
    folder, root = adapter
    assert evaluate.main(["--encoder", "opera-gt", "--tiny", "--aligned", str(folder), "--tasks", "demo-murmur-easy",
                          "--seeds", "1", "--probe", "logreg", "--cache-dir", str(root / "cache"), "--no-progress",
                          "--out", str(root / "clean")]) == 0
    rec = json.loads(next((root / "clean" / "records").glob("*.json")).read_text())
    assert rec["alignment"]["test_items_overlap"] == 0
    assert "‡" not in (root / "clean" / "leaderboard.md").read_text()
