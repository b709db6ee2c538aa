"""align.malloc_policy: the setting it reads, and that glibc then serves (and returns) activation-sized blocks with
mmap, where its own dynamic threshold would keep them in its heaps (checked with mallinfo2 in a fresh process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from align.malloc_policy import ENV, MMAP_THRESHOLD_BYTES, _glibc, chosen_threshold

ROOT = Path(__file__).resolve().parents[2]


def test_threshold_from_the_environment(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert chosen_threshold() == MMAP_THRESHOLD_BYTES == 4 << 20
    monkeypatch.setenv(ENV, "off")
    assert chosen_threshold() is None
    monkeypatch.setenv(ENV, "1048576")
    assert chosen_threshold() == 1 << 20
    for bad in ("-1", "4MB", str(64 << 20)):
        monkeypatch.setenv(ENV, bad)
        with pytest.raises(ValueError, match=ENV):
            chosen_threshold()


_CHILD = textwrap.dedent("""
    import ctypes, json
    import torch
    from align.malloc_policy import return_freed_memory

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                      "fsmblks", "uordblks", "fordblks", "keepcost")]
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    chosen = return_freed_memory()
    first = torch.empty(6 << 20, dtype=torch.uint8)
    del first                                       # glibc's dynamic threshold now rises to 6 MiB
    before = libc.mallinfo2().hblkhd
    held = torch.empty(6 << 20, dtype=torch.uint8)
    print(json.dumps({"chosen": chosen, "mmapped": libc.mallinfo2().hblkhd - before}))
""")


def _child(setting: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != ENV and not k.startswith("MALLOC_")}
    if setting is not None:
        env[ENV] = setting
    out = subprocess.run([sys.executable, "-c", _CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.skipif(_glibc() is None, reason="glibc's mallopt")
def test_activation_sized_blocks_are_mmapped_only_under_the_policy():
    on, off = _child(None), _child("off")
    assert on["chosen"] == MMAP_THRESHOLD_BYTES and on["mmapped"] >= 6 << 20
    assert off["chosen"] is None and off["mmapped"] == 0
