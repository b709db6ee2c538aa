"""The decode thread never imports a package the caller may be importing at the same time.

`make bench`'s bf16 run of tiny BEATs on the demo failed once with "cannot import name 'GriffinLim' from partially
initialized module 'torchaudio.transforms'": the prefetch thread imported torchaudio.transforms (the resampler)
while the caller imported torchaudio for BEATs' fbank. extract_embeddings now does the decode path's imports before
the thread starts (benchmark_tasks.embeddings._import_decode_path). Checked in a fresh interpreter, where nothing is
imported yet: every import of soundfile / torchaudio modules happens on the main thread.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_CHILD = textwrap.dedent("""
    import sys, threading
    sys.path.insert(0, sys.argv[1])
    seen = []

    class Recorder:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torchaudio", "soundfile"):
                seen.append((name, threading.current_thread() is threading.main_thread()))
            return None

    sys.meta_path.insert(0, Recorder())
    import numpy as np
    from adapters import build_encoder
    from benchmark_tasks import Item
    from benchmark_tasks.embeddings import extract_embeddings

    folder = sys.argv[2]
    enc = build_encoder("opera-gt", config="tiny")
    items = [Item(f"{folder}/{i}.wav", i % 2, "train", str(i)) for i in range(4)]
    res = extract_embeddings(enc, items, folder + "/cache", batch_size=2, progress=False)
    assert res.embeddings.shape[0] == 4, res.errors
    off_main = sorted({name for name, main in seen if not main})
    print("OFF_MAIN", off_main, "SEEN", len(seen))
    sys.exit(1 if off_main or not seen else 0)
""")


def test_decode_thread_imports_nothing(tmp_path):
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(0)
    for i in range(4):                           # 44.1 kHz: every batch is resampled in the decode thread
        sf.write(tmp_path / f"{i}.wav", (0.1 * rng.standard_normal(44100)).astype(np.float32), 44100)
    run = subprocess.run([sys.executable, "-c", _CHILD, str(ROOT), str(tmp_path)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
