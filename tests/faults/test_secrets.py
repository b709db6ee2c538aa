"""Fault suite: an endpoint that echoes the API key never gets it printed, logged, recorded or cached."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from align.llm_reports import LLMReportWriter, ReportEndpointError
from align.secrets import MASK, redact

KEY = "sk-proj-SECRETsecret0123456789abcdef"


class _EchoingAuth(BaseHTTPRequestHandler):
    """Answers every request 401 with the Authorization header it got copied into the error body."""

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        auth = self.headers.get("Authorization", "")
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {auth.split()[-1]}. "
                                                f"You sent Authorization: {auth}", "type": "invalid_request_error",
                                     "code": "invalid_api_key"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingAuth)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_key_echoed_in_a_401_body_is_redacted_everywhere(endpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    writer = LLMReportWriter(endpoint, "m", cache_dir=tmp_path / "cache", max_retries=1)
    with pytest.raises(ReportEndpointError) as info:
        writer.write([{"age": 40, "diagnosis": "asthma"}], ["lung"])
    message = str(info.value)
    assert "HTTP 401" in message and MASK in message and KEY not in message and "SECRET" not in message
    chain, exc = [], info.value
    while exc is not None:                      # no exception in the chain (what --debug would print) holds it
        chain.append(exc)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    assert all(KEY not in str(e) for e in chain) and len(chain) <= 3
    out = capsys.readouterr()
    assert KEY not in out.out + out.err
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("text", [
    f"Incorrect API key provided: {KEY}.", f"Authorization: Bearer {KEY}", f'{{"api_key": "{KEY}"}}',
    f"api-key={KEY}", "x-api-key: abcdefgh12345678", "Bearer abc.def-ghi_123456"])
def test_credential_shapes_are_masked(text):
    out = redact(text, (KEY,))
    assert KEY not in out and MASK in out and "12345678" not in out.replace(MASK, "")
