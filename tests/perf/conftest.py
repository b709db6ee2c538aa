"""`make bench` session hooks: start bench/rows.jsonl empty, measure the machine once, write the report at the end."""

from __future__ import annotations

import os
import time

# The command lines run models under a passive OpenMP wait policy (adapters/_threads.py); so do the benchmarks, for
# ours and the references alike. It must be set before torch starts its OpenMP pool, hence at import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import _report  # noqa: E402  # tests/perf is on sys.path (pytest rootdir-less conftest, prepend import mode)

_STATE: dict = {}


def pytest_sessionstart(session):
    _report.BENCH_DIR.mkdir(parents=True, exist_ok=True)
    _report.ROWS.write_text("")
    _STATE["started"] = time.time()
    _STATE["machine"] = _report.machine()


def pytest_sessionfinish(session, exitstatus):
    if "machine" not in _STATE:
        return
    report = _report.write_report(_STATE["machine"], _STATE["started"])
    print(f"\nbench report: {_report.BENCH_DIR / 'report.md'} ({len(report['figures'])} figures, "
          f"{report['met']} of {report['with_target']} targets met)")
