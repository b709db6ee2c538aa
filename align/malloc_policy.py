"""Make freed tensor memory go back to the operating system during alignment (glibc's malloc only).

PyTorch's CPU tensors come from malloc. glibc serves a block of at least M_MMAP_THRESHOLD bytes with its own
mmap (unmapped on free) and smaller ones from its heaps, which keep freed memory. The threshold starts at 128 KiB
but is dynamic: freeing an mmapped block raises it to that block's size (up to 32 MiB), so after the first step
every activation of a transformer block (for official-size OPERA-GT at batch 4: 6 MiB tokens, 25 MiB MLP
hidden) lives in the heaps, which grow with each step's fragmentation and hold the high-water mark of all freed
activations. For LoRA with recomputation most of a step's memory is such short-lived activations: the tensors
saved for backward are only each block's input, yet the heaps grew to hold every freed activation.

Fixing the threshold at `MMAP_THRESHOLD_BYTES` (setting it also switches the dynamic adjustment off) returns
every block of at least that size at free. The price is page faults when such blocks are allocated again; that is
why the threshold is 4 MiB and not glibc's initial 128 KiB (which the issue measured 43% slower per step): small
blocks stay in the heaps. tests/perf/test_bench_align.py prices it (peak RSS, wall and CPU seconds per step
against LoRA with glibc's own behaviour). `ACULA_MALLOC_MMAP_THRESHOLD` (bytes, or "off" for glibc's own
behaviour) overrides it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import lru_cache

MMAP_THRESHOLD_BYTES = 4 << 20
ENV = "ACULA_MALLOC_MMAP_THRESHOLD"
_M_MMAP_THRESHOLD = -3          # glibc <malloc.h>
_GLIBC_MAX_THRESHOLD = 32 << 20  # HEAP_MAX_SIZE / 2 on 64-bit: mallopt refuses larger values


@lru_cache(maxsize=1)
def _glibc():
    """The C library when it is glibc (has mallopt and malloc_trim), else None; looked up once (find_library runs
    ldconfig)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version.restype = ctypes.c_char_p   # AttributeError when not glibc
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        return libc
    except (OSError, AttributeError):
        return None


def chosen_threshold() -> int | None:
    """Bytes from ACULA_MALLOC_MMAP_THRESHOLD (default MMAP_THRESHOLD_BYTES); None for "off".

    Raises:
        ValueError: the variable is neither "off" nor a byte count in [0, 32 MiB].
    """
    raw = os.environ.get(ENV, "").strip().lower()
    if not raw:
        return MMAP_THRESHOLD_BYTES
    if raw == "off":
        return None
    if not raw.isdigit() or int(raw) > _GLIBC_MAX_THRESHOLD:
        raise ValueError(f"{ENV}={raw!r}: give a byte count up to {_GLIBC_MAX_THRESHOLD} or 'off'")
    return int(raw)


def return_freed_memory() -> int | None:
    """Fix glibc's mmap threshold for the rest of this process (see the module docstring) and trim the heaps once.

    Returns the threshold in bytes, or None when nothing was changed ("off", or not glibc).
    """
    threshold = chosen_threshold()
    libc = _glibc() if threshold is not None else None
    if libc is None or not libc.mallopt(_M_MMAP_THRESHOLD, threshold):
        return None
    libc.malloc_trim(0)
    return threshold


def trim() -> bool:
    """Hand the free pages of glibc's heaps back to the OS now (malloc_trim(0)); False when not glibc."""
    libc = _glibc()
    return bool(libc is not None and libc.malloc_trim(0) >= 0)
