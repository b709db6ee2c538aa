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
