"""Fail early: every alignment recording is decoded before step 0; --on-error fail lists them, skip drops them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

import align.data as data_mod
from align import guard
from align.audio_check import AudioCheckError, apply_policy, check_audio
from align.data import AlignItem, AlignmentData, ClipDataset
from benchmark_tasks.preprocess import Preprocess


def _items(tmp_path, n_good: int = 4) -> list[AlignItem]:
    """n_good demo-like wavs (0.5 s at 8 kHz), a corrupt wav (a header and garbage) and an empty file."""
    paths = []
    for i in range(n_good):
        path = tmp_path / f"good{i}.wav"
        sf.write(path, (0.2 * np.sin(np.arange(4000) * (0.05 + 0.01 * i))).astype(np.float32), 8000)
        paths.append(path)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x07" * 40)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    paths += [corrupt, empty]
    splits = ["train"] * (n_good - 1) + ["val", "train", "val"]
    return [AlignItem(str(p), f"sha{i}", "lung", s, ("T",), {}, Preprocess()) for i, (p, s) in
            enumerate(zip(paths, splits))]


def _same(wav):
    return wav


def _data(items) -> AlignmentData:
    return AlignmentData([i for i in items if i.split == "train"], [i for i in items if i.split == "val"], [], 0,
                         guard.TestIndex(), ["T"], ("train",), False)


@pytest.mark.parametrize("workers", [0, 2])
def test_corrupt_and_empty_files_are_found_and_good_clips_kept(tmp_path, workers):
    items = _items(tmp_path)
    keep = {i.path for i in items if i.split == "train"}
    out = check_audio(items, 16000, _same, keep, progress=False, workers=workers)
    assert sorted(e["path"].rsplit("/", 1)[1] for e in out.errors) == ["corrupt.wav", "empty.wav"]
    assert set(out.clips) == {items[0].path, items[1].path, items[2].path}   # val clips are not kept
    assert out.clips[items[0].path].shape == (8000,)   # resampled 8 kHz -> 16 kHz


def test_fail_names_count_first_files_and_the_full_list(tmp_path):
    items = _items(tmp_path)
    errors = check_audio(items, 16000, lambda w: w, progress=False).errors
    with pytest.raises(AudioCheckError) as err:
        apply_policy(_data(items), errors, "fail", tmp_path / "out")
    msg = str(err.value)
    assert msg.startswith("2 alignment recording(s) cannot be decoded") and "corrupt.wav" in msg and "\n" not in msg
    assert str(tmp_path / "out" / "errors.json") in msg and "--on-error skip" in msg
    assert json.loads((tmp_path / "out" / "errors.json").read_text())["n_errors"] == 2


def test_skip_leaves_bad_files_out_and_records_them(tmp_path, capsys):
    items = _items(tmp_path)
    data = _data(items)
    data.unreadable = [{"path": str(tmp_path / "gone.wav"), "reason": "cannot read file", "split": "train"}]
    errors = check_audio(items, 16000, lambda w: w, progress=False).errors
    kept = apply_policy(data, errors, "skip", tmp_path / "out")
    assert [i.path for i in kept.train] == [i.path for i in items[:3]] and [i.path for i in kept.val] == [items[3].path]
    assert kept.summary()["skipped_unreadable"] == 3   # corrupt, empty and the file that could not be hashed
    assert "skipped 3 files (see" in capsys.readouterr().out
    listed = json.loads((tmp_path / "out" / "errors.json").read_text())
    assert listed["on_error"] == "skip" and len(listed["errors"]) == 3


def test_training_reuses_the_checked_clips(tmp_path, monkeypatch):
    items = _items(tmp_path)[:3]
    out = check_audio(items, 16000, lambda w: w, {i.path for i in items}, progress=False)

    def no_decode(*a, **k):
        raise AssertionError("decoded twice")

    monkeypatch.setattr(data_mod, "decode_clip", no_decode)
    ds = ClipDataset(items, 16000, lambda w: w, 4000, preloaded=out.clips)
    assert all(ds[i][0].shape == (4000,) for i in range(3))
    with pytest.raises(AssertionError, match="decoded twice"):   # without the cache the clips are decoded again
        ClipDataset(items, 16000, lambda w: w, 4000, cache_audio=False, preloaded=out.clips)[0]


def test_sharded_check_covers_every_item_once(tmp_path):
    items = _items(tmp_path)
    seen = [check_audio(items, 16000, lambda w: w, progress=False, rank=r, world=2).errors for r in range(2)]
    assert sorted(e["path"] for e in seen[0] + seen[1]) == sorted(e["path"] for e in check_audio(
        items, 16000, lambda w: w, progress=False).errors)


def test_the_check_leaves_the_global_rng_alone(tmp_path):
    import torch

    items = _items(tmp_path)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    check_audio(items, 16000, _same, progress=False)
    assert torch.equal(torch.rand(3), expected)   # LoRA and head initialisation after the check are unchanged
