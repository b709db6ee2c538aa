"""Fault suite: a run killed with SIGKILL (no cleanup at all) resumes to exactly the uninterrupted result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]


def _manifest(root: Path, n: int = 40) -> Path:
    rng = np.random.default_rng(0)
    rows = ["path,label,split,group,age,diagnosis"]
    for i in range(n):
        sf.write(root / f"c{i}.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
        split = "train" if i < 24 else "val" if i < 32 else "test"
        rows.append(f"c{i}.wav,{i % 2},{split},p{i},{30 + i},{'asthma' if i % 2 else 'healthy'}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root / "manifest.csv"


def _kill_when(cmd: list[str], ready, timeout: float = 240.0) -> None:
    """Start `cmd`, SIGKILL it as soon as ready() holds (it must not finish first)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    t0 = time.monotonic()
    try:
        while not ready():
            assert proc.poll() is None, "the run finished before it could be killed"
            assert time.monotonic() - t0 < timeout, "the run never reached the kill point"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()


def _scores(out: Path) -> list:
    recs = [json.loads(p.read_text()) for p in sorted((out / "records").glob("*.json"))]
    return [(r["task"], r["scores"]) for r in recs]


def test_killed_extraction_resumes_to_the_same_record(tmp_path):
    manifest = _manifest(tmp_path)
    base = [sys.executable, "evaluate.py", "--encoder", "opera-gt", "--tiny", "--tasks", f"csv:{manifest}",
            "--batch-size", "1", "--seeds", "2", "--no-progress"]
    cache = tmp_path / "cache"
    _kill_when(base + ["--out", str(tmp_path / "killed"), "--cache-dir", str(cache)],
               lambda: len(list(cache.rglob("*.emb"))) >= 5)
    done = len(list(cache.rglob("*.emb")))
    assert 5 <= done < 40
    resumed = subprocess.run(base + ["--out", str(tmp_path / "killed"), "--cache-dir", str(cache)], cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    whole = subprocess.run(base + ["--out", str(tmp_path / "whole"), "--cache-dir", str(tmp_path / "c2")], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert _scores(tmp_path / "killed") == _scores(tmp_path / "whole")
    record = json.loads(next((tmp_path / "killed" / "records").glob("*.json")).read_text())
    assert record["timings"]["computed"] <= 40 - done + 1            # finished clips were not encoded again


def test_killed_alignment_resumes_to_the_same_adapter(tmp_path):
    manifest = _manifest(tmp_path, n=24)
    args = [sys.executable, "-m", "align", "--encoder", "opera-gt", "--tiny", "--tasks", f"csv:{manifest}",
            "--steps", "6", "--batch-size", "4", "--grad-accum", "1", "--warmup-steps", "1", "--checkpoint-every",
            "1", "--ssl", "none", "--train-seconds", "1", "--no-progress", "--cache-dir", str(tmp_path / "cache")]
    killed = tmp_path / "killed"
    _kill_when(args + ["--out", str(killed)], lambda: len(list((killed / "checkpoints").glob("step-*.pt"))) >= 1
               and any(p.name >= "step-0000002.pt" for p in (killed / "checkpoints").glob("step-*.pt")))
    assert not (killed / "align_config.json").exists()
    for out, extra in ((killed, ["--resume"]), (tmp_path / "whole", [])):
        res = subprocess.run(args + ["--out", str(out), *extra], cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
    shas = [json.loads((d / "align_config.json").read_text())["adapter_sha256"] for d in (killed, tmp_path / "whole")]
    assert shas[0] == shas[1]


def test_killed_report_generation_keeps_finished_reports_and_pays_nothing_twice(tmp_path, monkeypatch):
    """An LLM report run killed midway: the rerun asks only for the missing reports; cache files are whole."""
    sys.path.insert(0, str(ROOT / "tests" / "unit"))
    from test_llm_reports import CLEAN, FakeChatServer, _items

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    srv = FakeChatServer(lifetime=200.0, max_requests=400).start()
    slow = srv.httpd.RequestHandlerClass.do_POST

    def do_post_slowly(handler):      # a slow model: the kill lands between answers
        time.sleep(0.15)
        slow(handler)

    srv.httpd.RequestHandlerClass.do_POST = do_post_slowly
    n = 24
    (tmp_path / "items.json").write_text(json.dumps(_items(n)))
    code = ("import json, sys; from align.llm_reports import LLMReportWriter; "
            "w = LLMReportWriter(sys.argv[1], 'fake-model', cache_dir=sys.argv[2], concurrency=2, progress=False); "
            "out = w.write(json.load(open(sys.argv[3])), ['cough'] * int(sys.argv[4])); "
            "print(json.dumps(out))")
    cache = tmp_path / "llm"
    cmd = [sys.executable, "-c", code, srv.url, str(cache), str(tmp_path / "items.json"), str(n)]
    try:
        _kill_when(cmd, lambda: len(list(cache.rglob("*.json"))) >= 5)
        time.sleep(0.6)                 # requests in flight at the kill reach the server (and are paid) now
        paid_before = srv.requests
        finished = len(list(cache.rglob("*.json")))
        assert 5 <= finished < n
        for path in cache.rglob("*.json"):
            json.loads(path.read_text())                                  # every cache file is whole
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"})
        assert res.returncode == 0, res.stderr[-2000:]
        assert json.loads(res.stdout.strip().splitlines()[-1]) == [CLEAN] * n
        rerun_paid = srv.requests - paid_before
        assert rerun_paid <= n - finished                                  # finished reports were not asked again
        assert srv.requests <= n + 2                                       # at most the 2 in flight paid twice
    finally:
        srv.stop()
