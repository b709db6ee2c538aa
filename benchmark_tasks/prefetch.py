"""Run the next steps of a loop in one background thread while the caller works on the current one.

Extraction decodes, resamples and preprocesses batch k+1 here while the model runs batch k: soundfile, numpy and
torch release the GIL in their heavy parts, so the two overlap. Results come back in input order; an exception
raised by the work is raised again in the caller at the position of the input that raised it. At most `ahead`
results exist besides the one the caller holds, so memory stays bounded by `ahead + 1` steps.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache


class Prefetch:
    """`for out in Prefetch(work, inputs): ...` yields work(x) for x in inputs, in order, computing up to `ahead`
    of them in one background thread. Use it as a context manager so that leaving the loop early (an exception,
    a KeyboardInterrupt, a break) stops the thread before the `with` block ends.

    torch_threads: intra-op threads the background thread's torch calls (resampling) may use. Its default 1 keeps
    it from starting an OpenMP team of its own the size of the model's and fighting the model for the cores.
    """

    def __init__(self, work: Callable, inputs: Iterable, ahead: int = 1, torch_threads: int | None = 1):
        if ahead < 1:
            raise ValueError(f"ahead must be at least 1, got {ahead}")
        self._work, self._inputs, self._torch_threads = work, iter(inputs), torch_threads
        self._results: queue.Queue = queue.Queue()
        # one permit per step alive: the caller's current one plus `ahead` computed or in progress
        self._slots = threading.Semaphore(ahead + 1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="acula-prefetch", daemon=True)

    def __enter__(self) -> Prefetch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator:
        if self._thread.ident is None:
            self._thread.start()
        while True:
            kind, value = self._results.get()
            if kind == "error":
                raise value
            if kind == "done":
                return
            yield value
            value = None                         # the caller is done with it: drop it before the next is made
            self._slots.release()

    def close(self) -> None:
        """Stop the background thread (it finishes the step it is in) and wait for it."""
        self._stop.set()
        self._slots.release()                    # wakes a thread waiting for a slot
        if self._thread.ident is not None:
            self._thread.join()

    def _run(self) -> None:
        restore = self._limit_torch_threads()
        try:
            for x in self._inputs:
                self._slots.acquire()
                if self._stop.is_set():
                    return
                try:
                    out = self._work(x)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it
                    self._results.put(("error", exc))
                    return
                self._results.put(("ok", out))
                del out                          # the queue holds the only reference
            self._results.put(("done", None))
        finally:
            restore()

    def _limit_torch_threads(self) -> Callable[[], None]:
        """Give this thread `torch_threads` intra-op threads; returns what undoes it.

        torch.set_num_threads also sets the count that threads started later inherit, so it is put back when this
        thread ends; the caller's own thread keeps its count throughout (OpenMP's setting is per thread). Torch
        builds with another parallel backend share one pool between threads, whose size cannot change once it is
        used: there nothing is changed.
        """
        if self._torch_threads is None:
            return lambda: None
        import torch

        if not openmp_backend():
            return lambda: None

        before = torch.get_num_threads()
        torch.set_num_threads(self._torch_threads)
        return lambda: torch.set_num_threads(before)


class InOrder:
    """Prefetch's interface with no thread: each step is computed in the caller when the loop asks for it. The
    pipeline without the prefetch thread, which tests and benchmarks compare Prefetch against."""

    def __init__(self, work: Callable, inputs: Iterable, **_):
        self._work, self._inputs = work, inputs

    def __enter__(self) -> Iterator:
        return (self._work(x) for x in self._inputs)

    def __exit__(self, *exc) -> None:
        return None


@lru_cache(maxsize=1)
def openmp_backend() -> bool:
    """Whether torch's intra-op parallelism is OpenMP (a thread count per calling thread)."""
    import torch

    return "parallel backend: OpenMP" in torch.__config__.parallel_info()
