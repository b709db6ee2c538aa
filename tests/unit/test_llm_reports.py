"""LLMReportWriter against a real chat-completions HTTP server on 127.0.0.1 that injects faults."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from align.llm_reports import (
    LLMReportWriter,
    ReportEndpointError,
    ReportRejectedError,
    check_report,
    system_prompt,
    unsupported_findings,
)

CLEAN = "A dry cough was recorded from the subject described."
HALLUCINATED = "A dry cough with coarse crackles and a loud systolic murmur."
REFUSAL = "I'm sorry, but as an AI I cannot write medical reports."
OFF_TOPIC = "The recording was made on a sunny afternoon."
CLIENT_TIMEOUT = 1.5  # generous: a slow but healthy answer must not time out on a busy machine


class _LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self):  # HTTPServer.server_bind does a reverse DNS lookup, slow without DNS
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class FakeChatServer:
    """OpenAI-style /v1/chat/completions on 127.0.0.1 (random port) with scripted faults.

    Each new user prompt takes the next fault plan from `plans` (a list of faults answered before the first
    clean answer): '429', '500', 'timeout' (sleeps past the client timeout, answers nothing), 'malformed'
    (JSON-invalid message content), 'badbody' (non-JSON HTTP body), 'hallucinate' (a report with findings the
    metadata lacks), 'refuse' (an "I'm sorry" answer), 'echo' (the prompt sent back as the report), 'offtopic' (a
    report about none of the facts), '401'. A prompt containing `fail_marker` always gets 500, one containing
    `refuse_marker` always a refusal. The server stops itself after `max_requests` requests or `lifetime` seconds.
    """

    def __init__(self, plans=(), fail_marker=None, refuse_marker=None, max_requests=100, lifetime=30.0):
        self.plans, self.fail_marker, self.max_requests = [list(p) for p in plans], fail_marker, max_requests
        self.refuse_marker = refuse_marker
        self.lock = threading.Lock()
        self.bodies: list[str] = []
        self.pending: dict[str, list[str]] = {}
        self.clean = Counter()
        self.usage_sent = [0, 0]
        self.httpd = _LocalServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True
        self._stopped = threading.Event()

    @property
    def requests(self) -> int:
        return len(self.bodies)

    def start(self):
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._timer.start()
        return self

    def stop(self):
        if not self._stopped.is_set():
            self._stopped.set()
            self._timer.cancel()
            self.httpd.shutdown()
            self.httpd.server_close()

    def _next_fault(self, user: str) -> str:
        with self.lock:
            if len(self.bodies) > self.max_requests:
                return "500"
            if self.fail_marker and self.fail_marker in user:
                return "500"
            if self.refuse_marker and self.refuse_marker in user:
                return "refuse"
            if user not in self.pending:
                self.pending[user] = self.plans.pop(0) if self.plans else []
            return self.pending[user].pop(0) if self.pending[user] else "ok"

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, payload, headers=None):
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _completion(self, content: str, user: str):
                usage = {"prompt_tokens": len(user.split()), "completion_tokens": len(content.split())}
                with server.lock:
                    server.usage_sent[0] += usage["prompt_tokens"]
                    server.usage_sent[1] += usage["completion_tokens"]
                self._send(200, {"id": "cmpl-1", "object": "chat.completion", "created": int(time.time()),
                                 "model": "fake", "usage": {**usage, "total_tokens": sum(usage.values())},
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": content}}]})

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                with server.lock:
                    server.bodies.append(body)
                user = json.loads(body)["messages"][-1]["content"]
                fault = server._next_fault(user)
                err = {"error": {"message": f"injected {fault}", "type": "test"}}
                if fault == "429":
                    self._send(429, err, {"retry-after": "0"})
                elif fault in ("500", "401"):
                    self._send(int(fault), err)
                elif fault == "timeout":
                    time.sleep(CLIENT_TIMEOUT + 0.4)  # the client has given up; answer nothing
                elif fault == "badbody":
                    self._send(200, b"<html>gateway hiccup</html>")
                elif fault == "malformed":
                    self._completion('{"report": "unterminated', user)
                elif fault == "hallucinate":
                    self._completion(json.dumps({"report": HALLUCINATED}), user)
                elif fault == "refuse":
                    self._completion(json.dumps({"report": REFUSAL}), user)
                elif fault == "echo":
                    self._completion(json.dumps({"report": user}), user)
                elif fault == "offtopic":
                    self._completion(json.dumps({"report": OFF_TOPIC}), user)
                else:
                    self._completion(json.dumps({"report": CLEAN}), user)
                    with server.lock:
                        server.clean[user] += 1

        return Handler


@pytest.fixture
def make_server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    servers = []

    def make(**kwargs):
        servers.append(FakeChatServer(**kwargs).start())
        return servers[-1]

    yield make
    for s in servers:
        s.stop()


def _items(n: int, **extra) -> list[dict]:
    return [{"subject": f"SUBJ-{i:04d}", "uid": f"uid-{i}-7f3a", "path": f"/data/secret/rec_{i}.wav",
             "split": "test", "difficulty": "hard", "age": 30 + i, "sex": "female", "cough_type": "dry", **extra}
            for i in range(n)]


def _writer(url, cache_dir, **kw) -> LLMReportWriter:
    opts = dict(concurrency=3, max_retries=4, timeout=CLIENT_TIMEOUT, backoff_base=0.01, backoff_max=0.05,
                progress=False)
    return LLMReportWriter(url, "fake-model", cache_dir=cache_dir, **{**opts, **kw})


def test_faults_are_retried_each_prompt_paid_once_and_rerun_is_free(make_server, tmp_path):
    plans = [["429"], ["500", "500"], ["timeout"], ["malformed"], ["hallucinate"], ["badbody"]]
    srv = make_server(plans=plans)
    items = _items(8)
    writer = _writer(srv.url, tmp_path)
    records = writer.write_records(items, ["cough"] * len(items))

    assert [r.report for r in records] == [CLEAN] * 8
    assert len(srv.clean) == 8 and set(srv.clean.values()) == {1}  # every prompt answered cleanly once
    assert srv.requests == 8 + 1 + 2 + 1 + 1 + 1 + 1  # one extra request per injected fault
    assert writer.totals["rejected"] == 1 and writer.totals["reports_written"] == 8
    assert [writer.totals["prompt_tokens"], writer.totals["completion_tokens"]] == srv.usage_sent
    assert sum(r.prompt_tokens for r in records) == srv.usage_sent[0]
    assert sum(r.completion_tokens for r in records) == srv.usage_sent[1]
    for body in srv.bodies:
        req = json.loads(body)
        assert req["response_format"] == {"type": "json_object"} and req["temperature"] == 1.0
        for item in items:
            for ident in (item["subject"], item["uid"], item["path"], "rec_", "split", "difficulty", "hard"):
                assert ident not in body

    before = srv.requests
    again = _writer(srv.url, tmp_path)
    assert again.dry_run(items, "cough", show=False)["calls"] == 0
    assert again.write(items, ["cough"] * len(items)) == [CLEAN] * 8
    assert srv.requests == before and again.totals["prompt_tokens"] == 0 and again.totals["cache_hits"] == 8
    assert all(r.cached for r in again.write_records(items, ["cough"] * 8))


def test_failing_endpoint_names_it_and_keeps_finished_reports(make_server, tmp_path):
    srv = make_server(fail_marker="unreachable")  # the prompt spells the diagnosis in lower case
    items = _items(2) + _items(1, diagnosis="Unreachable")
    items[2]["age"] = 99
    writer = _writer(srv.url, tmp_path, concurrency=1, max_retries=2)
    with pytest.raises(ReportEndpointError, match=srv.url) as err:
        writer.write(items, ["cough"] * 3)
    assert "3 attempts" in str(err.value) and "2 of 3" in str(err.value)
    plan = _writer(srv.url, tmp_path).dry_run(items, ["cough"] * 3, show=False)
    assert (plan["calls"], plan["cached"]) == (1, 2)
    assert [p["cached"] for p in plan["prompts"]] == [True, True, False]


def test_refusals_echoes_and_off_topic_reports_are_asked_again(make_server, tmp_path):
    srv = make_server(plans=[["refuse"], ["echo", "offtopic"], ["offtopic"]])
    items = [{**it, "age": 40 + k} for k, it in enumerate(_items(3))]
    writer = _writer(srv.url, tmp_path)
    assert writer.write(items, "cough") == [CLEAN] * 3
    assert writer.totals["rejected"] == 4 and srv.requests == 3 + 4 and writer.totals["reports_written"] == 3


def test_an_endpoint_that_keeps_refusing_is_reported_and_never_cached(make_server, tmp_path):
    srv = make_server(refuse_marker="refusable")
    items = _items(2) + _items(1, diagnosis="refusable") * 2  # the last two items share one prompt
    items[0]["age"], items[1]["age"] = 50, 51
    writer = _writer(srv.url, tmp_path, max_retries=2)
    with pytest.raises(ReportRejectedError) as err:
        writer.write(items, ["cough"] * 4)
    message = str(err.value)
    assert "no acceptable report for 2 item(s) (1 distinct prompt(s)) in 3 attempts each (refusal: 2 item(s))" \
        in message
    assert "I'm sorry" in message and "not cached" in message and "2 of 3 new reports were accepted" in message
    assert isinstance(err.value, ReportEndpointError) and len(err.value.rejected) == 1
    assert srv.requests == 2 + 3 and writer.totals["rejected"] == 3
    plan = _writer(srv.url, tmp_path).dry_run(items, "cough", show=False)
    assert (plan["calls"], plan["cached"]) == (1, 2)  # the refused prompt is asked again next time


@pytest.mark.parametrize("report, reason", [
    ("A dry cough from a 30-year-old woman.", ""),
    ("I'm sorry, I can't help with that.", "refusal"),
    ("As an AI language model, I do not give diagnoses.", "refusal"),
    ("I cannot provide medical reports.", "refusal"),
    ("Recording: cough Age: 30 years Sex: female Cough type: dry", "repeats the prompt"),
    ("Only use the information given. Your output should be JSON.", "repeats the prompt"),
    ("The weather was fine.", "mentions none of the given facts"),
    ("A dry cough with wheezing.", "states wheeze"),
])
def test_check_report(report, reason):
    md = {"subject": "S-0001", "uid": "u-1", "age": 30, "sex": "female", "cough_type": "dry"}
    writer = LLMReportWriter("http://127.0.0.1:9/v1", "m", progress=False)
    _, system, user = writer.prompt(md, "cough")
    found = check_report(report, md, system, user)
    assert found.startswith(reason) if reason else found == ""


def test_client_error_is_not_retried(make_server, tmp_path):
    srv = make_server(plans=[["401"]])
    with pytest.raises(ReportEndpointError, match="HTTP 401"):
        _writer(srv.url, tmp_path).write(_items(1), ["cough"])
    assert srv.requests == 1


def test_dry_run_counts_distinct_uncached_prompts(tmp_path, capsys):
    writer = _writer("http://127.0.0.1:9/v1", tmp_path)
    items = _items(3) + _items(1)  # the fourth repeats the first item's facts: same prompt
    plan = writer.dry_run(items, ["cough"] * 4)
    assert plan["calls"] == 3 and plan["items"] == 4 and len(plan["prompts"]) == 3
    out = capsys.readouterr().out
    assert "3 calls" in out and "Age: 31 years" in out and "SUBJ" not in out and "/data" not in out


def test_system_prompt_by_modality():
    assert "cardiologist" in system_prompt("heart")
    for modality in ("lung", "breath", "cough"):
        assert "pulmonologist" in system_prompt(modality)
    assert all("only use the information given" in system_prompt(m).lower() for m in ("heart", "cough"))


def test_missing_key_for_remote_endpoint(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    writer = LLMReportWriter("https://api.example.com/v1", "m", cache_dir=tmp_path, progress=False)
    with pytest.raises(ReportEndpointError, match="OPENAI_API_KEY"):
        writer.write(_items(1), ["cough"])


@pytest.mark.parametrize("report, metadata, bad", [
    ("A dry cough.", {"cough_type": "dry"}, []),
    ("A dry cough; no murmur.", {"cough_type": "dry"}, ["murmur"]),  # metadata says nothing about murmurs
    ("Fine crackles are heard.", {"crackles": "none"}, ["crackles"]),
    ("No crackles are heard and wheezes are present.", {"crackles": "none", "wheeze": "no"}, ["wheeze"]),
    ("Crackles and wheezes are absent.", {"crackles": "none", "wheeze": "no"}, []),
    ("There are no crackles.", {"crackles": "fine"}, ["crackles"]),  # contradicts the metadata
    ("The subject is a non-smoker.", {"smoker": False}, []),
    ("The subject smokes.", {"smoker": "no"}, ["smoking"]),
    ("COVID-19 status is negative.", {"covid_status": "negative"}, []),
    ("COVID-19 positive.", {"covid_status": "negative"}, ["covid"]),
    ("A murmur is heard.", {"murmur": "Unknown"}, ["murmur"]),
    ("Murmur status could not be determined.", {"murmur": "Unknown"}, []),
    ("Rales at both bases.", {"findings": "bilateral basal crackles"}, []),  # named in free text
])
def test_unsupported_findings(report, metadata, bad):
    assert [b.split(" ")[0] for b in unsupported_findings(report, metadata)] == bad


def test_a_refusing_endpoint_stops_python_m_align_with_one_line(make_server, tmp_path, capsys):
    """The real path: a manifest with metadata -> LLM writer -> refusals -> `python -m align` stops, exit 2."""
    import numpy as np
    import soundfile as sf

    from align.__main__ import main

    rows = ["path,label,split,group,age,diagnosis"]
    for i in range(12):
        sf.write(tmp_path / f"c{i}.wav", np.full(16000, 0.1 * (i + 1) / 12, np.float32), 16000)
        rows.append(f"c{i}.wav,{i % 2},{'train' if i < 8 else 'val'},p{i},{30 + i},{'asthma' if i % 2 else 'none'}")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    srv = make_server(refuse_marker="Recording")              # every prompt names the recording: all refused
    out = tmp_path / "out"
    code = main(["--encoder", "opera-gt", "--tiny", "--tasks", f"csv:{tmp_path / 'm.csv'}", "--reports", "llm",
                 "--llm-base-url", srv.url, "--llm-model", "m", "--out", str(out), "--cache-dir", str(tmp_path / "c"),
                 "--steps", "1", "--batch-size", "4", "--no-progress"])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("python -m align: error: ") and "refusal" in last
    assert not (out / "align_config.json").exists()
