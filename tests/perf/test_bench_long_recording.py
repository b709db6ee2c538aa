"""Benchmark (not run in CI; `make bench`): peak memory of embedding a 1-minute vs a 1-hour recording (issue 11).

For OPERA-GT (windows 16 at a time) and BEATs (30 s segments), tiny and official size (official architecture with
random weights: the class built directly, since `build_encoder(name)` asks for the published weights), each
duration runs in a fresh process: read the wav with `load_audio` (the benchmark's path), then `embed_clips`.
Reported per case, in MB: the process's peak RSS (os.wait4's ru_maxrss, everything included) and the peak while
embedding (VmHWM reset via /proc/self/clear_refs after the audio is read; it includes the resident waveform).

The target: the 1 h / 1 min ratio of the embedding peak, after taking out the waveform itself (230 MB for 1 h at
16 kHz), is at most 1.5; memory must not grow with the recording beyond its waveform. Each case is one figure in the
session report (tests/perf/_report.py) with the ratio and whether the target was met; nothing is asserted but that
the embedding came out. Official size on 1 h is slow on a laptop CPU (BEATs: 120 passes of 30 s; OPERA-GT: 880
windows; about 25 min for both): it runs only with ACULA_BENCH_OFFICIAL=1, so the default `make bench` measures the
tiny configs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from _report import figure

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL = os.environ.get("ACULA_BENCH_OFFICIAL") == "1"
SR = 16000
DURATIONS = (60, 3600)
TARGET = 1.5

_CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np, torch
    from adapters._audio import load_audio
    from adapters._inference import embed_clips
    from adapters._registry import RANDOM_INIT_SEED, build_encoder, get_encoder_class, resolve_config

    def status(key):
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) * 1024 for l in fh if l.startswith(key))

    name, size, path, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.set_num_threads(threads)
    if size == "tiny":
        enc = build_encoder(name, config="tiny")
    else:                                   # official architecture, random weights
        cls = get_encoder_class(name)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_INIT_SEED)
            enc = cls(resolve_config(cls, "official")).eval()
    embed_clips(enc, [np.zeros(31 * 16000, np.float32)])     # warm-up: one full pass of each kind
    wav = load_audio(path, enc.spec.sample_rate)
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:            # VmHWM := current RSS
        fh.write("5")
    t0 = time.perf_counter()
    emb = embed_clips(enc, [wav])
    took = time.perf_counter() - t0
    assert emb.shape == (1, enc.out_dim) and np.isfinite(emb).all()
    print(json.dumps({"rss_before_embed": before, "embed_peak": status("VmHWM"), "wav_bytes": wav.nbytes,
                      "embed_s": took}))
""")


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[int, Path]:
    """Noise wavs of each duration (16-bit, 16 kHz), written a minute at a time so the writer never holds 1 h."""
    import soundfile as sf

    root = tmp_path_factory.mktemp("long")
    rng = np.random.default_rng(0)
    paths = {}
    for seconds in DURATIONS:
        path = root / f"noise_{seconds}s.wav"
        with sf.SoundFile(path, "w", samplerate=SR, channels=1, subtype="PCM_16") as fh:
            for _ in range(seconds // 60):
                fh.write((0.1 * rng.standard_normal(60 * SR)).astype(np.float32))
        paths[seconds] = path
    return paths


def _run_case(name: str, size: str, path: Path) -> dict:
    """One fresh process; its own peak RSS from os.wait4 (RUSAGE_CHILDREN would keep the largest child so far)."""
    threads = min(4, os.cpu_count() or 1)
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, name, size, str(path), str(threads)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, err[-3000:]
    row = json.loads(out.strip().splitlines()[-1])
    row["process_peak"] = usage.ru_maxrss * 1024          # Linux reports kB
    return row


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux /proc/self/clear_refs")
@pytest.mark.parametrize("size", ("tiny", pytest.param("official", marks=pytest.mark.skipif(
    not OFFICIAL, reason="official size takes ~25 min: set ACULA_BENCH_OFFICIAL=1"))))
@pytest.mark.parametrize("name", ("opera-gt", "beats"))
def test_peak_rss_one_hour_vs_one_minute(recordings, name, size):
    rows = {seconds: _run_case(name, size, recordings[seconds]) for seconds in DURATIONS}
    short, long = rows[DURATIONS[0]], rows[DURATIONS[1]]
    mb = 1 / 2 ** 20
    beyond_long, beyond_short = long["embed_peak"] - long["wav_bytes"], short["embed_peak"] - short["wav_bytes"]
    ratio = beyond_long / beyond_short
    figure(f"long_recording/{name}/{size}/embed_peak_1h_vs_1min", beyond_long * mb, "MB",
           reference=beyond_short * mb, reference_name="1 min recording", ratio=ratio, target=f"<= {TARGET}",
           met=ratio <= TARGET,
           note=f"peak RSS while embedding minus the waveform ({long['wav_bytes'] * mb:.0f} MB at 1 h); raw peaks "
                f"{short['embed_peak'] * mb:.0f} / {long['embed_peak'] * mb:.0f} MB, process peaks "
                f"{short['process_peak'] * mb:.0f} / {long['process_peak'] * mb:.0f} MB; 1 h embedded in "
                f"{long['embed_s']:.0f} s; {min(4, os.cpu_count() or 1)} torch threads")
