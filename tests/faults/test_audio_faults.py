"""Fault suite: audio files that are wrong in ways a reader can still get past are refused or reported."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from adapters import AudioReadError, build_encoder, read_audio
from benchmark_tasks import Item
from benchmark_tasks.embeddings import ExtractionFailed, extract_embeddings


def _item(path, i=0):
    return Item(path=str(path), label=i % 2, split="train", group=f"s{i}")


def _noise(path, seconds=0.5, sr=16000, seed=0):
    sf.write(path, 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * sr)), sr)
    return path


def test_one_hertz_file_is_refused_and_named(tmp_path):
    path = tmp_path / "one_hz.wav"
    sf.write(path, np.linspace(-0.5, 0.5, 20), 1)
    with pytest.raises(AudioReadError, match=r"one_hz\.wav: sample rate 1 Hz is below 1000 Hz"):
        read_audio(path)


def test_all_zero_and_truncated_files_are_used_but_reported(tmp_path):
    zero = tmp_path / "zero.wav"
    sf.write(zero, np.zeros(8000), 16000)
    cut = _noise(tmp_path / "cut.wav", seconds=1.0)
    cut.write_bytes(cut.read_bytes()[: 44 + 2 * 9000])      # data chunk still announces 16000 frames
    good = _noise(tmp_path / "good.wav")
    items = [_item(zero, 0), _item(cut, 1), _item(good, 2)]
    res = extract_embeddings(build_encoder("logmel-stats"), items, tmp_path / "cache", progress=False)
    assert len(res.ok_items) == 3 and not res.errors
    found = {(w["path"].rsplit("/", 1)[-1], w["warning"].split(":")[0]) for w in res.warnings}
    assert found == {("zero.wav", "all samples are zero (a silent file)"), ("cut.wav", "truncated wav")}
    warm = extract_embeddings(build_encoder("logmel-stats"), items, tmp_path / "cache", progress=False)
    assert warm.computed == 0 and len(warm.warnings) == 2            # kept with the cache entry


def test_a_file_the_encoder_fails_on_is_reported_per_file_and_skippable(tmp_path):
    enc = build_encoder("logmel-stats")
    items = [_item(_noise(tmp_path / f"c{i}.wav", seconds=0.5 + 0.5 * (i == 2), seed=i), i) for i in range(4)]
    inner = enc.embed

    def fails_on_long_clips(wav):
        if wav.shape[1] > 12000:
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 259176960512 "
                               "bytes")
        return inner(wav)

    enc.embed = fails_on_long_clips
    res = extract_embeddings(enc, items, tmp_path / "cache", on_error="skip", progress=False)
    assert [it.path for it in res.ok_items] == [items[i].path for i in (0, 1, 3)]
    assert len(res.errors) == 1 and res.errors[0]["path"] == items[2].path
    assert res.errors[0]["reason"].startswith("the encoder failed on this file: DefaultCPUAllocator")
    with pytest.raises(ExtractionFailed, match="c2.wav"):
        extract_embeddings(enc, items, tmp_path / "cache2", on_error="fail", progress=False)


def _corpus(tmp_path):
    """(name, path, expected outcome): a regex the AudioReadError must match, or None = decodes."""
    rng = np.random.default_rng(1)
    noise = (0.2 * rng.standard_normal(16000)).astype(np.float32)
    cases = []

    def add(name, make, expect):
        path = tmp_path / name
        make(path)
        cases.append((name, path, expect))

    add("zero_bytes.wav", lambda p: p.write_bytes(b""), r"empty \(0 bytes\)")
    add("header_only.wav", lambda p: (sf.write(p, noise, 16000), p.write_bytes(p.read_bytes()[:44])),
        r"no samples|not readable as audio")
    add("nan.wav", lambda p: sf.write(p, np.where(np.arange(16000) % 7 == 0, np.nan, noise), 16000,
                                      subtype="FLOAT"), r"NaN or infinite")
    add("inf.wav", lambda p: sf.write(p, np.where(np.arange(16000) == 5, np.inf, noise), 16000, subtype="FLOAT"),
        r"NaN or infinite")
    add("text_named.wav", lambda p: p.write_text("patient_id,label\n1,2\n"), r"not readable as audio.*convert")
    add("opus_unsupported.xyz", lambda p: p.write_bytes(b"OggS" + bytes(200)), r"not readable as audio")
    add("one_hz.wav", lambda p: sf.write(p, noise[:20], 1), r"below 1000 Hz")
    add("directory.wav", lambda p: p.mkdir(), r"is a directory")
    add("dangling.wav", lambda p: p.symlink_to(tmp_path / "nowhere.wav"), r"dangling symbolic link")
    add("pcm8.wav", lambda p: sf.write(p, noise, 16000, subtype="PCM_U8"), None)
    add("pcm24.wav", lambda p: sf.write(p, noise, 16000, subtype="PCM_24"), None)
    add("six_channels.wav", lambda p: sf.write(p, np.stack([noise] * 6, 1), 16000), None)
    add("rate_384k.wav", lambda p: sf.write(p, np.tile(noise, 3), 384000), None)
    return cases


def test_every_corpus_file_decodes_or_fails_with_its_reason(tmp_path):
    for name, path, expect in _corpus(tmp_path):
        if expect is None:
            wav, sr = read_audio(path)
            assert wav.dtype == np.float32 and wav.ndim == 1 and np.abs(wav).max() <= 1.0, name
        else:
            with pytest.raises(AudioReadError, match=expect) as info:
                read_audio(path)
            assert name in str(info.value), name


def test_bad_files_are_listed_with_reasons_and_skip_keeps_the_rest(tmp_path):
    corpus = _corpus(tmp_path)
    items = [_item(path, i) for i, (_, path, _) in enumerate(corpus)]
    res = extract_embeddings(build_encoder("logmel-stats"), items, tmp_path / "cache", on_error="skip",
                             progress=False)
    bad = {e["path"].rsplit("/", 1)[-1] for e in res.errors}
    assert bad == {name for name, _, expect in corpus if expect is not None}
    assert len(res.ok_items) == 4
    with pytest.raises(ExtractionFailed, match=r"9 unreadable file\(s\)"):
        extract_embeddings(build_encoder("logmel-stats"), items, tmp_path / "cache", progress=False)
