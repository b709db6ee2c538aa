"""Long recordings (issue 11): every encoder declares `spec.max_seconds` and embeds clips longer than that with
memory bounded by one forward pass.

- "segments" encoders (BEATs, OPERA-CE, the weight-free baselines): a clip longer than max_seconds is the
  length-weighted mean of its segments' embeddings (logmel-stats: pooled statistics); shorter clips are unchanged.
- "protocol" encoders (OPERA-GT windows, HeAR 2 s windows, OPERA-CT 1024-frame crops, CLAP's first 10 s): their
  windows/crops now run in groups of bounded size, and the embeddings equal the all-windows-at-once computation
  of the previous code (rebuilt here from the same primitives) on 0.5, 8 and 40 s clips.

Tiny configurations; a short max_seconds is set on the instance (`dataclasses.replace` of its spec) so that long
clips stay a few seconds long.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import adapters.opera_ct as opera_ct_module
from adapters import build_encoder, get_encoder_class, list_encoders
from adapters._inference import embed_clips, segment_bounds
from adapters._opera_frontend import opera_logmel
from adapters._spec import EncoderSpec, Windowing
from adapters.opera_ct import opera_logmel_blocked

SEGMENTED = ("beats", "opera-ce", "logmel-stats", "opensmile-egemaps", "opensmile-compare")
PROTOCOL = ("opera-gt", "hear", "opera-ct", "clap")
SECONDS = (0.5, 8.0, 40.0)


def clip(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """[S] float32: a slowly gliding tone with an envelope, plus noise (segments differ from each other)."""
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    rng = np.random.default_rng(seed)
    y = 0.3 * np.sin(2 * np.pi * (200 + 20 * t) * t) * (1 + 0.5 * np.sin(0.7 * t)) + 0.05 * rng.standard_normal(n)
    return y.astype(np.float32)


def assert_same(got, want, rel: float = 1e-6) -> None:
    """Equal up to `rel` of the reference's scale (grouping windows may reorder float reductions)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    scale = float(np.abs(want).max()) or 1.0
    assert float(np.abs(got - want).max()) <= rel * scale, float(np.abs(got - want).max()) / scale


def with_max(enc, seconds: float):
    """The encoder with spec.max_seconds set to `seconds` on this instance only."""
    enc.spec = dataclasses.replace(type(enc).spec, max_seconds=seconds)
    return enc


# -- the declaration ---------------------------------------------------------------------------------------------
def test_every_encoder_declares_max_seconds_and_is_covered_here():
    for name in list_encoders():
        spec = get_encoder_class(name).spec
        assert spec.max_seconds is not None and spec.max_seconds > 0, name
        assert name in (SEGMENTED if spec.long_clips == "segments" else PROTOCOL), name


def test_spec_validates_max_seconds():
    base = dict(name="x", sample_rate=16000, embed_dim=4)
    for bad in (0.0, -1.0, 1.0, float("nan"), float("inf")):   # 1.0: not longer than the shortest segment
        with pytest.raises(ValueError, match="max_seconds"):
            EncoderSpec(**base, max_seconds=bad)
    with pytest.raises(ValueError, match="max_seconds"):
        EncoderSpec(**base, min_seconds=2.0, max_seconds=1.5)
    with pytest.raises(ValueError, match="needs max_seconds"):
        EncoderSpec(**base, long_clips="protocol")
    with pytest.raises(ValueError, match="long_clips"):
        EncoderSpec(**base, long_clips="crop", max_seconds=3.0)
    assert EncoderSpec(**base, max_seconds=30.0).max_samples == 480000


# -- the generic segmentation ------------------------------------------------------------------------------------
def test_segment_bounds_cut_consecutive_pieces_and_merge_a_short_tail():
    assert segment_bounds(100, None, 10) == [(0, 100)]
    assert segment_bounds(100, 100, 10) == [(0, 100)]
    assert segment_bounds(300, 100, 10) == [(0, 100), (100, 200), (200, 300)]
    assert segment_bounds(315, 100, 10) == [(0, 100), (100, 200), (200, 300), (300, 315)]   # 15 >= 10: kept
    assert segment_bounds(305, 100, 10) == [(0, 100), (100, 200), (200, 305)]                # 5 < 10: merged
    assert segment_bounds(310, 100, 10) == [(0, 100), (100, 200), (200, 300), (300, 310)]
    assert segment_bounds(105, 100, 10) == [(0, 105)]


def test_shortest_segment_respects_min_seconds():
    ce = with_max(build_encoder("opera-ce", config="tiny"), 3.0)
    n = int(7.05 * 16000)                             # a 1.05 s tail is below opera-ce's 1.06 s minimum
    assert ce.segments(n)[-1] == (3 * 16000, n)
    beats = with_max(build_encoder("beats", config="tiny"), 3.0)
    assert beats.segments(n)[-1] == (6 * 16000, n)   # 1.05 s >= 1 s: a segment of its own


@pytest.mark.parametrize("name", SEGMENTED)
def test_segmented_encoders_take_the_length_weighted_mean_of_segments(name):
    enc = with_max(build_encoder(name, config="tiny"), 3.0)
    sr = enc.spec.sample_rate
    x = clip(7.5, sr)                                 # segments 3 + 3 + 1.5 s
    bounds = enc.segments(len(x))
    assert [b - a for a, b in bounds] == [3 * sr, 3 * sr, int(1.5 * sr)]
    got = embed_clips(enc, [x, x[::-1].copy()], batch_size=2)
    with torch.inference_mode():
        wav = torch.from_numpy(np.stack([x, x[::-1].copy()]))
        parts = torch.stack([enc.embed(wav[:, a:b]) for a, b in bounds], dim=1).double()
    w = torch.tensor([b - a for a, b in bounds], dtype=torch.float64)
    w = (w / w.sum())[None, :, None]
    if name == "logmel-stats":                        # pooled statistics of all frames
        mean, std = parts[..., :64], parts[..., 64:]
        pooled = (mean * w).sum(1)
        want = torch.cat([pooled, ((std ** 2 + mean ** 2) * w).sum(1).sub(pooled ** 2).sqrt()], dim=1)
    else:
        want = (parts * w).sum(1)
    assert_same(got, want.numpy(), rel=1e-5)
    assert np.abs(got[0] - embed_clips(enc, [x[:3 * sr]])[0]).max() > 0   # more than the first segment


@pytest.mark.parametrize("name", SEGMENTED)
def test_clips_up_to_max_seconds_are_unchanged(name):
    enc = with_max(build_encoder(name, config="tiny"), 3.0)
    x = clip(3.0, enc.spec.sample_rate)
    with torch.inference_mode():
        direct = enc.embed(torch.from_numpy(enc.prepare(x))[None]).numpy()
    np.testing.assert_array_equal(embed_clips(enc, [x]), direct)


def test_logmel_stats_pooling_gives_the_statistics_of_all_segment_frames():
    enc = with_max(build_encoder("logmel-stats", config="tiny"), 3.0)
    x = torch.from_numpy(clip(12.0))[None]              # 4 equal segments: sample weights = frame weights
    with torch.inference_mode():
        frames = torch.cat([enc.frames(x[:, a:b]) for a, b in enc.segments(x.shape[1])], dim=1).double()
        want = torch.cat([frames.mean(dim=1), frames.std(dim=1, unbiased=False)], dim=1)
        assert_same(enc.embed_any_length(x), want.numpy(), rel=1e-5)


@pytest.mark.parametrize("name", SEGMENTED)
def test_max_seconds_is_part_of_the_cache_key(name):
    a = build_encoder(name, config="tiny")
    b = with_max(build_encoder(name, config="tiny"), 3.0)
    assert a.frontend_params()["long_clips"]["max_seconds"] == type(a).spec.max_seconds
    assert a.identity_hash() != b.identity_hash()


# -- protocol encoders: grouped windows equal the all-at-once computation -----------------------------------------
@pytest.fixture(scope="module")
def gt():
    return build_encoder("opera-gt", config={"base": "tiny", "chunks_per_pass": 3})


def gt_all_at_once(enc, x: torch.Tensor, length: int) -> torch.Tensor:
    """The previous OPERA-GT path: every window's log-mel at once, then the ViT chunks_per_pass at a time."""
    spec = enc.chunk_spectrograms(x, length)
    b, k = spec.shape[:2]
    return enc._batched(spec.flatten(0, 1), enc.forward_feature).view(b, k, -1).mean(dim=1)


@pytest.mark.parametrize("seconds", SECONDS)
@pytest.mark.parametrize("window", (8.18, 5.0))
def test_opera_gt_grouped_windows_equal_all_windows_at_once(gt, seconds, window):
    x = torch.from_numpy(np.stack([clip(seconds), clip(seconds, seed=1)]))
    length = Windowing("waveform", window).samples(16000)
    with torch.inference_mode():
        want = gt_all_at_once(gt, x, length)
        if window == 8.18:
            assert_same(embed_clips(gt, list(x.numpy()), batch_size=2), want)
        else:
            assert_same(gt.embed_windowed(x, Windowing("waveform", window)), want)


def test_opera_gt_frames_of_a_long_clip_come_window_by_window(gt):
    x = torch.from_numpy(clip(20.0))[None]
    with torch.inference_mode():
        frames = gt.frames(x)
    assert frames.shape == (1, 64 * gt.window_count(x.shape[1]), gt.out_dim) and gt.window_count(x.shape[1]) == 4


@pytest.mark.parametrize("seconds", SECONDS)
def test_opera_gt_spectrogram_pieces_with_a_blocked_stft_are_unchanged(gt, seconds, monkeypatch):
    monkeypatch.setattr(opera_ct_module, "LOGMEL_BLOCK_FRAMES", 100)   # 40 s = 1251 frames: 13 STFT blocks
    x = torch.from_numpy(np.stack([clip(seconds), clip(seconds, seed=1)]))
    with torch.inference_mode():
        spec = opera_logmel(x)                                      # the previous front end: one STFT
        pieces = [spec[:, i:i + 256] for i in range(0, spec.shape[1], 256)]
        kept = [p for p in pieces if p.shape[1] >= 16] or pieces
        want = torch.stack([gt._batched(p, gt.forward_feature) for p in kept], dim=1).mean(dim=1)
        assert_same(gt.embed_windowed(x, Windowing("spectrogram")), want)


def test_opera_gt_chunk_rows_are_the_chunks():
    from adapters.opera_gt import OperaGT

    for seconds in (0.5, 8.18, 9.0, 40.0):
        x = torch.from_numpy(np.stack([clip(seconds), clip(seconds, seed=1)]))
        whole = OperaGT.chunk(x).flatten(0, 1)
        assert whole.shape[0] == 2 * OperaGT.window_count(x.shape[1])
        assert torch.equal(OperaGT.chunk_rows(x, range(1, whole.shape[0])), whole[1:])


@pytest.mark.parametrize("n", (1, 511, 512, 100_000, 640_000, 640_513))
def test_blocked_opera_logmel_equals_one_stft(n):
    x = torch.from_numpy(np.stack([clip(n / 16000), clip(n / 16000, seed=1)]))
    assert_same(opera_logmel_blocked(x, 97), opera_logmel(x))


@pytest.fixture(scope="module")
def ct():
    enc = build_encoder("opera-ct", config="tiny")
    enc.crops_per_pass = 2
    return enc


@pytest.mark.parametrize("seconds", SECONDS + (70.0,))
def test_opera_ct_grouped_crops_equal_all_crops_at_once(ct, seconds, monkeypatch):
    monkeypatch.setattr(opera_ct_module, "LOGMEL_BLOCK_FRAMES", 300)
    x = torch.from_numpy(np.stack([clip(seconds), clip(seconds, seed=1)]))
    h = ct.htsat
    with torch.inference_mode():
        spec = opera_logmel(x)
        bn = h.bn0(spec.transpose(1, 2).unsqueeze(-1)).squeeze(-1).transpose(1, 2)
        crops = h.crops(bn)
        b, k = crops.shape[:2]
        tokens = h.image_tokens(h.to_image(crops.flatten(0, 1)))
        want = tokens.view(b, k, *tokens.shape[1:]).mean(dim=2).mean(dim=1)
        want_frames = h.token_frames(tokens).reshape(b, -1, tokens.shape[-1])
        assert_same(ct.embed(x), want)
        assert_same(embed_clips(ct, list(x.numpy()), batch_size=2), want)
        assert_same(ct.frames(x), want_frames)
    assert k == {0.5: 1, 8.0: 1, 40.0: 1, 70.0: 3}[seconds]


@pytest.fixture(scope="module")
def hear():
    enc = build_encoder("hear", config="tiny")
    enc.windows_per_pass = 5
    return enc


@pytest.mark.parametrize("seconds", SECONDS)
def test_hear_grouped_windows_equal_all_windows_at_once(hear, seconds):
    from adapters._hear_frontend import split_windows

    x = torch.from_numpy(np.stack([clip(seconds), clip(seconds, seed=1)]))
    with torch.inference_mode():
        windows = split_windows(x)
        b, w, s = windows.shape
        want = hear.window_embeddings(windows.reshape(b * w, s)).reshape(b, w, -1)
        assert_same(hear.frames(x), want)
        assert_same(embed_clips(hear, list(x.numpy()), batch_size=2), want.mean(dim=1))


@pytest.mark.parametrize("seconds", SECONDS)
def test_clap_embeds_its_first_10_seconds(seconds):
    enc = build_encoder("clap", config="tiny")
    x = clip(seconds, 48000)
    with torch.inference_mode():
        want = enc.embed(torch.from_numpy(x[:480000])[None])
        whole = enc.embed(torch.from_numpy(x)[None])          # uncropped input: the tower crops it first
    np.testing.assert_array_equal(embed_clips(enc, [x]), want.numpy())
    np.testing.assert_array_equal(whole.numpy(), want.numpy())


# -- a real long recording ----------------------------------------------------------------------------------------
_PEAK_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np, torch
    from adapters import build_encoder
    from adapters._inference import embed_clips

    def status(key):
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) * 1024 for l in fh if l.startswith(key))

    torch.set_num_threads(1)
    enc = build_encoder("beats", config="tiny")
    x = (0.1 * np.random.default_rng(0).standard_normal(int(float(sys.argv[1]) * 16000))).astype(np.float32)
    embed_clips(enc, [x[:16000 * 31]])              # warm-up: one 30 s segment and a remainder
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:  # reset the peak (VmHWM) to the current RSS
        fh.write("5")
    e = embed_clips(enc, [x])
    assert e.shape == (1, 768) and np.isfinite(e).all()
    print(status("VmHWM") - before)
""")


def _peak_growth(seconds: float) -> int:
    """Bytes the peak RSS rises above the RSS before `embed_clips` (waveform already resident), in a fresh
    process. Large allocations are returned to the OS as soon as they are freed (MALLOC_MMAP_THRESHOLD_), so the
    figure counts live memory, not what glibc's heap keeps around."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    out = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(seconds)], capture_output=True, text=True,
                         env=env, cwd=Path(__file__).resolve().parents[2], timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux /proc/self/clear_refs")
def test_ten_minute_clip_through_beats_in_bounded_memory():
    """10 min of audio (previously a [30000, 30000] bucket table: 7 GB) peaks no higher than 1 min does."""
    one, ten = _peak_growth(60.0), _peak_growth(600.0)
    assert ten <= 1.25 * one + (16 << 20), (one >> 20, ten >> 20)
