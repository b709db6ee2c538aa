"""benchmark_tasks.prefetch.Prefetch: order, bounded look-ahead, exceptions in the caller, clean stop, torch threads."""

import threading

import pytest
import torch

from benchmark_tasks.prefetch import Prefetch, openmp_backend


def _prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "acula-prefetch"]


def test_results_come_in_input_order():
    with Prefetch(lambda x: x * x, range(20)) as squares:
        assert list(squares) == [x * x for x in range(20)]
    assert not _prefetch_threads()


def test_no_more_than_ahead_results_exist_besides_the_callers():
    alive, most = set(), [0]
    lock = threading.Lock()

    class Step:
        def __init__(self, x):
            self.x = x
            with lock:
                alive.add(x)
                most[0] = max(most[0], len(alive))

    def release(step):
        with lock:
            alive.discard(step.x)

    with Prefetch(Step, range(12), ahead=2) as steps:
        for step in steps:
            release(step)              # the caller is done with it
            threading.Event().wait(0.01)   # give the thread time to run ahead as far as it may
    assert most[0] <= 3            # the caller's one + 2 ahead


def test_an_exception_in_the_work_is_raised_in_the_caller_at_its_position():
    def work(x):
        if x == 3:
            raise ValueError("bad input 3")
        return x

    seen = []
    with pytest.raises(ValueError, match="bad input 3"):
        with Prefetch(work, range(6)) as out:
            for x in out:
                seen.append(x)
    assert seen == [0, 1, 2]
    assert not _prefetch_threads()


def test_leaving_the_loop_early_stops_the_thread():
    started = []

    def work(x):
        started.append(x)
        return x

    with pytest.raises(KeyboardInterrupt):
        with Prefetch(work, range(1000)) as out:
            for x in out:
                if x == 2:
                    raise KeyboardInterrupt
    assert not _prefetch_threads()
    assert len(started) <= 4       # it stopped within its look-ahead, not at the end of the inputs


@pytest.fixture
def two_torch_threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(old)


@pytest.mark.skipif(not openmp_backend(), reason="per-thread counts exist only with torch's OpenMP backend")
def test_the_thread_uses_one_torch_thread_and_the_callers_count_is_kept(two_torch_threads):
    before = two_torch_threads
    inside = []
    with Prefetch(lambda x: inside.append(torch.get_num_threads()), range(2)) as out:
        list(out)
        assert torch.get_num_threads() == before
    assert inside == [1, 1]
    later = []
    t = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
    t.start()
    t.join()
    assert later == [before]       # threads started afterwards inherit the caller's count again


def test_ahead_must_be_positive():
    with pytest.raises(ValueError, match="ahead"):
        Prefetch(lambda x: x, [], ahead=0)
