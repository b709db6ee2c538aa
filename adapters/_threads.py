"""CPU thread settings for the command lines, applied before torch is imported.

On a machine another process keeps busy, OpenMP threads that spin while they wait (GNU OpenMP's default active
wait) steal the cores the other threads need: issue 12 measured OPERA-CT at 3.7 clips/s with 2 threads against
4.8 with 1, and 4.9 with 2 threads under OMP_WAIT_POLICY=PASSIVE. So the command lines ask for a passive wait
policy unless the user set one, and size torch's pool from the CPUs this process may actually run on (a container's
or taskset's affinity mask), not from the machine's core count.
"""

from __future__ import annotations

import os


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def configure_threads() -> None:
    """Set OMP_WAIT_POLICY=PASSIVE (unless set) before torch loads, and torch's intra-op threads to the available
    CPUs shared among torchrun's processes on this node (unless OMP_NUM_THREADS is set). Call first thing in a
    command line's main."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if "OMP_NUM_THREADS" in os.environ:
        return
    import torch

    torch.set_num_threads(max(1, available_cpus() // int(os.environ.get("LOCAL_WORLD_SIZE", 1))))
