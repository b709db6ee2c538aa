"""The HTML leaderboard in a real browser: headless Chromium driven over the DevTools protocol.

Chromium runs with `--remote-debugging-pipe` (DevTools messages as NUL-terminated JSON on file descriptors 3 and
4), so only the standard library is needed. The test loads the page from a file:// URL with name resolution
disabled (`--host-resolver-rules=MAP * ~NOTFOUND`), records every request the page starts (Network domain),
takes a screenshot, clicks a column header with a real mouse event and reads the new row order.
Skipped only when no Chromium binary is found (`apt-get install chromium`; .ci/run installs it).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from benchmark_tasks.leaderboard import write_leaderboard
from benchmark_tasks.records import load_records, write_record

SCREENSHOT_COPY = Path("/tmp/leaderboard_screenshot.png")
TIMEOUT_S = 60.0


def chromium_binary() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


class DevTools:
    """A minimal DevTools-protocol client over Chromium's --remote-debugging-pipe."""

    def __init__(self, binary: str, profile: Path, log: Path):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def map_fds():  # in the child: the pipe ends become fds 3 (commands in) and 4 (replies out)
            high_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        args = [binary, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions", "--mute-audio",
                "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}", "--window-size=1400,1000",
                "about:blank"]
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                                     close_fds=False, preexec_fn=map_fds)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._replies: dict[int, dict] = {}
        self._events: queue.Queue = queue.Queue()
        self.events: list[dict] = []
        self._lock = threading.Condition()
        self._next_id = 0
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self) -> None:
        buf = b""
        while chunk := os.read(self._from_chrome, 1 << 16):
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for raw in messages:
                msg = json.loads(raw)
                if "id" in msg:
                    with self._lock:
                        self._replies[msg["id"]] = msg
                        self._lock.notify_all()
                else:
                    self._events.put(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and wait for its reply; raises on a protocol error."""
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        with self._lock:
            if not self._lock.wait_for(lambda: msg["id"] in self._replies, timeout=TIMEOUT_S):
                raise TimeoutError(f"no reply to {method} within {TIMEOUT_S} s")
            reply = self._replies.pop(msg["id"])
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str) -> dict:
        """Collect events (kept in self.events) until one named `method` arrives."""
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                ev = self._events.get(timeout=0.2)
            except queue.Empty:
                continue
            self.events.append(ev)
            if ev["method"] == method:
                return ev
        raise TimeoutError(f"no {method} event within {TIMEOUT_S} s")

    def drain(self, seconds: float) -> None:
        """Keep collecting events for `seconds` (late requests, console messages)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                self.events.append(self._events.get(timeout=left))
            except queue.Empty:
                break

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        self._log.close()


def _record(task: str, label: str, mean: float, **extra) -> dict:
    return {"schema": 1, "task": task, "task_version": 1, "encoder": extra.pop("encoder", "opera-gt"),
            "encoder_label": label, "identity_hash": extra.pop("identity_hash"),
            "weights_sha256": None, "adapter_sha256": None, "metric": "auroc", "protocol": {"probe": "linear"},
            "split_fingerprint": "fp", "scores": [mean], "mean": mean, "std": 0.01,
            "ci95": [mean - 0.04, mean + 0.04], "dataset": {"T7": "icbhi", "T9": "coswara"}[task],
            "pretrained_on": [], "alignment": None,
            "n_errors": 0, "n_warnings": 0, "pipeline_version": "p", "date": "2026-01-01", **extra}


@pytest.fixture
def page(tmp_path) -> Path:
    """A leaderboard of four rows on T7 and T9 (one label with HTML in it), with OPERA's published rows."""
    rows = {"opera-gt-tiny": (0.70, 0.66), "opera-gt-tiny+aligned": (0.74, 0.69), "beats": (0.61, 0.80),
            "<b>x</b> & co": (0.90, 0.52)}
    for i, (label, (t7, t9)) in enumerate(rows.items()):
        extra = {"adapter_sha256": "ad" * 32} if label.endswith("+aligned") else {}
        if label == "beats":
            extra = {"encoder": "beats", "weights_sha256": "be" * 32, "pretrained_on": ["ICBHI"], "n_errors": 2}
        write_record(tmp_path / "run", _record("T7", label, t7, identity_hash=f"id{i}", **extra))
        write_record(tmp_path / "run", _record("T9", label, t9, identity_hash=f"id{i}", **extra))
    records = sorted(load_records(tmp_path / "run"), key=lambda r: list(rows).index(r["encoder_label"]))
    return write_leaderboard(tmp_path / "site", records, n_boot=50)["html"]


def _evaluate(dt: DevTools, session: str, expression: str):
    res = dt.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
    assert "exceptionDetails" not in res, res
    return res["result"]["value"]


ROW_LABELS = "Array.from(document.querySelectorAll('#leaderboard tbody.ours tr')).map(r => r.cells[0].textContent)"


def _click_header(dt: DevTools, session: str, starts_with: str) -> None:
    x, y = _evaluate(dt, session, f"""(() => {{
        const th = Array.from(document.querySelectorAll('#leaderboard thead th'))
                        .find(t => t.textContent.startsWith({json.dumps(starts_with)}));
        th.scrollIntoView({{block: 'center', inline: 'center'}});
        const r = th.getBoundingClientRect();
        return [r.x + r.width / 2, r.y + r.height / 2];
    }})()""")
    for kind in ("mousePressed", "mouseReleased"):
        dt.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
                session)


def test_page_renders_sorts_on_click_and_requests_nothing(page, tmp_path):
    binary = chromium_binary()
    if binary is None:
        pytest.skip("Chromium not found (chromium / chromium-browser on PATH): apt-get install chromium")
    dt = DevTools(binary, tmp_path / "profile", tmp_path / "chromium.log")
    try:
        target = dt.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = dt.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Network", "Page", "Runtime", "Log"):
            dt.send(f"{domain}.enable", {}, session)
        dt.send("Emulation.setDeviceMetricsOverride",
                {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False}, session)
        url = page.resolve().as_uri()
        dt.send("Page.navigate", {"url": url}, session)
        dt.wait_event("Page.loadEventFired")
        dt.drain(1.0)

        # the page works: its script ran, the two figures decoded from data: URLs, the escaped label is text
        assert _evaluate(dt, session, "document.querySelectorAll('#leaderboard tbody.published tr').length") == 8
        assert _evaluate(dt, session, "Array.from(document.images).map(i => i.naturalWidth > 0)") == [True, True]
        labels = _evaluate(dt, session, ROW_LABELS)
        assert labels == ["opera-gt-tiny", "opera-gt-tiny+aligned", "beats", "<b>x</b> & co"]
        assert _evaluate(dt, session, "document.querySelectorAll('#leaderboard tbody b').length") == 0

        shot = base64.b64decode(dt.send("Page.captureScreenshot", {"format": "png"}, session)["data"])
        assert shot[:4] == b"\x89PNG"
        (tmp_path / "leaderboard_screenshot.png").write_bytes(shot)
        SCREENSHOT_COPY.write_bytes(shot)

        # one click: ascending by mean AUROC; a second click: descending; published rows sort in their own group
        _click_header(dt, session, "mean AUROC (all its tasks)")
        means = {"opera-gt-tiny": 0.68, "opera-gt-tiny+aligned": 0.715, "beats": 0.705, "<b>x</b> & co": 0.71}
        assert _evaluate(dt, session, ROW_LABELS) == sorted(means, key=means.get)
        _click_header(dt, session, "mean AUROC (all its tasks)")
        assert _evaluate(dt, session, ROW_LABELS) == sorted(means, key=means.get, reverse=True)
        sort_state = "document.querySelector('#leaderboard thead th[aria-sort]').textContent"
        assert _evaluate(dt, session, sort_state).startswith("mean AUROC (all its tasks)")
        published = _evaluate(dt, session, "Array.from(document.querySelectorAll('#leaderboard tbody.published "
                                           "tr:not(.group)')).map(r => r.cells[0].textContent)")
        assert published[0] == "OPERA-CT" and published[-1] == "VGGish"   # T7+T9 means .8645 ... .6055
        dt.drain(0.5)
    finally:
        dt.close()

    requested = [e["params"]["request"]["url"] for e in dt.events if e["method"] == "Network.requestWillBeSent"]
    assert requested and requested[0] == url
    assert [u for u in requested if u != url and not u.startswith("data:")] == []
    problems = [e for e in dt.events if e["method"] == "Runtime.exceptionThrown"
                or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert problems == []
