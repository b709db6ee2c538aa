"""LLM clinical reports from item metadata through any OpenAI-compatible chat-completions endpoint.

AcuLa (arXiv 2512.04847; github janine714/AcuLA @781a96b, datasets/circor_dataset/circor_gen_report.py) asks
GPT-4o, temperature 1, JSON output, for a "2-3 lines report ... Only use the information given" from a metadata
string, with a cardiologist system prompt for heart sounds. Here the same request goes to any OpenAI-compatible
server (OpenAI, vLLM, Ollama, ...) with a pulmonologist prompt for respiratory recordings, and:

- the user prompt is `align.reports.describe_metadata`: whitelisted fields only, identifier values scrubbed, so
  subject ids, uids, paths and splits are never sent;
- every report is cached on disk as one JSON file named by sha256(model, system prompt, user prompt), written
  atomically, so a re-run costs nothing and an interrupted run resumes where it stopped;
- 429, 5xx, timeouts, connection errors and malformed JSON are retried with exponential backoff and jitter;
- a report that affirms a finding the metadata does not support (`unsupported_findings`) is rejected and retried;
- prompt / completion tokens are recorded per report and summed in `LLMReportWriter.totals`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import threading
from concurrent.futures import CancelledError, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

from adapters._io import write_json
from align.reports import describe_metadata, normalize_metadata, value_text, yes_no

_REPORT_RULES = ("Based on the given conditions, write 2-3 lines report covering all clinically relevant "
                 "information. Only use the information given to write about conditions; do not mention any "
                 "sound, finding or diagnosis that is not given. Please do NOT mention anything about further "
                 "evaluation or characterization. Your output should be JSON of the following format: "
                 '{"report": ...}')
SYSTEM_PROMPTS = {
    "heart": "You are a cardiologist tasked with interpreting cardiac auscultation findings. " + _REPORT_RULES,
    "respiratory": "You are a pulmonologist tasked with interpreting respiratory sound recordings (lung "
                   "auscultation, breathing and cough sounds). " + _REPORT_RULES,
}
HEART_MODALITIES = ("heart", "pcg", "phonocardiogram", "cardiac")


def system_prompt(modality: str) -> str:
    """Cardiologist prompt for heart recordings, pulmonologist prompt for everything else."""
    return SYSTEM_PROMPTS["heart" if modality.strip().lower() in HEART_MODALITIES else "respiratory"]


# ---------------------------------------------------------------------------------------------------------
# Finding check: does a report affirm a finding the metadata does not support?
# ---------------------------------------------------------------------------------------------------------
FINDING_PATTERNS = {
    "crackles": r"crackl|crepitat|\bcreps?\b|\brales?\b",
    "wheeze": r"wheez|rhonch",
    "murmur": r"murmur",
    "covid": r"covid|sars[- ]?cov|coronavirus",
    "smoking": r"smok|tobacco|cigarette",
}
_FIELD_OF = {"crackles": "crackles", "wheeze": "wheeze", "murmur": "murmur", "covid": "covid_status",
             "smoking": "smoker"}
_CLAUSES = re.compile(r"[.;!?\n,]|\b(?:but|however|whereas|although|though)\b")
_STOP = {"and", "but", "while", "whereas", "although", "though", "however", "yet", "with"}
_HEDGE = {"unknown", "uncertain", "unclear", "undetermined", "indeterminate"}
_NEG_BEFORE = {"no", "not", "without", "absence", "negative", "denies", "denied", "free", "non", "neither",
               "nor", "lack", "lacks", "lacking", "never", "none", "cannot"} | _HEDGE
_NEG_AFTER = {"absent", "not", "none", "negative", "no", "never"} | _HEDGE
_WINDOW = 6


def finding_states(metadata: dict) -> dict[str, str]:
    """State of each finding group in `metadata`.

    Returns:
        {group: state} for the groups of FINDING_PATTERNS, state one of
        'present', 'absent', 'unknown' (e.g. CirCor murmur 'Unknown'), 'mentioned' (named in a free-text
        field or with a value we do not interpret: any statement allowed) or 'missing' (not in the metadata).
    """
    facts = normalize_metadata(metadata)
    text = " ".join(value_text(v) for v in facts.values()).lower()
    states = {}
    for group, pattern in FINDING_PATTERNS.items():
        field = _FIELD_OF[group]
        if re.search(pattern, text):
            states[group] = "mentioned"
        elif field in facts:
            flag = yes_no(facts[field])
            if group in ("crackles", "wheeze"):
                states[group] = "absent" if flag == "no" else "present"
            else:
                states[group] = {"yes": "present", "no": "absent", "unknown": "unknown"}.get(flag, "mentioned")
        elif group == "murmur" and any(k.startswith(("murmur_", "diastolic_murmur_")) for k in facts):
            states[group] = "present"
        else:
            states[group] = "missing"
    return states


def _mentions(report: str, pattern: str) -> list[bool]:
    """One bool per mention of `pattern` in `report`: True when affirmed, False when negated or hedged.

    A mention is negated when a negation cue (no, not, without, non-, absent, negative, unknown, ...) occurs within
    6 words before it or after it in the same clause; the look-back and look-ahead stop at 'and', 'with', 'but'
    ... so 'no crackles and wheezes are heard' affirms the wheezes (the look-ahead passes an 'and' right after
    the keyword: 'crackles and wheezes are absent' negates both).
    """
    out = []
    for clause in _CLAUSES.split(report.lower()):
        if not clause:
            continue
        tokens = list(re.finditer(r"[a-z0-9]+", clause))
        for m in re.finditer(pattern, clause):
            i = next((j for j, t in enumerate(tokens) if t.end() > m.start()), len(tokens) - 1)
            negated = tokens[i].group().startswith("non") and m.start() > tokens[i].start()
            for j in range(i - 1, max(-1, i - 1 - _WINDOW), -1):
                word = tokens[j].group()
                if word in _STOP:
                    break
                negated |= word in _NEG_BEFORE
            for j in range(i + 1, min(len(tokens), i + 1 + _WINDOW)):
                word = tokens[j].group()
                if word in _STOP and j > i + 1:  # 'crackles and wheezes are absent' negates both
                    break
                negated |= word in _NEG_AFTER
            out.append(not negated)
    return out


def unsupported_findings(report: str, metadata: dict) -> list[str]:
    """Finding groups that `report` states without support in `metadata` (empty list = report accepted).

    Rules per group (see `finding_states`): 'missing' -> any mention is unsupported (the metadata says nothing);
    'absent' / 'unknown' -> an affirmed mention is unsupported; 'present' -> mentions that all negate it are a
    contradiction; 'mentioned' -> anything goes. A keyword heuristic, not a parser: it errs towards rejecting.
    """
    bad = []
    for group, state in finding_states(metadata).items():
        mentions = _mentions(report, FINDING_PATTERNS[group])
        if not mentions or state == "mentioned":
            continue
        if state == "missing" or (state in ("absent", "unknown") and any(mentions)) or (
                state == "present" and not any(mentions)):
            bad.append(f"{group} (metadata: {state})")
    return bad


# ---------------------------------------------------------------------------------------------------------
# The writer
# ---------------------------------------------------------------------------------------------------------
class ReportEndpointError(RuntimeError):
    """The endpoint did not give a valid report after all retries (or refused the request outright)."""


@dataclass
class ReportRecord:
    """One report and what it cost. Tokens are those of every answered attempt for this prompt (also rejected
    ones); for a cache hit they are the tokens originally spent, and `cached` is True."""

    report: str
    key: str
    cached: bool
    prompt_tokens: int
    completion_tokens: int
    attempts: int


class _Cancelled(Exception):
    pass


class LLMReportWriter:
    """Clinical reports from an OpenAI-compatible chat-completions endpoint, cached on disk.

    Args:
        base_url: the endpoint, e.g. "https://api.openai.com/v1" or "http://127.0.0.1:8000/v1".
        model: model name sent to the endpoint (part of the cache key).
        api_key: defaults to $OPENAI_API_KEY; a local endpoint (localhost / 127.0.0.1) may go without one.
        cache_dir: one JSON file per report (default ~/.cache/acula_zoo/llm_reports).
        concurrency: parallel requests (threads).
        max_retries: retries after the first attempt, per prompt.
        timeout: seconds per request.
        temperature: sampling temperature (AcuLa: 1.0).
        max_tokens: completion-token cap per request (None: let the server decide).
        backoff_base, backoff_max: seconds; retry n waits about min(backoff_max, backoff_base * 2**n), jittered to
            [50%, 100%] of that (a server's Retry-After is honoured up to backoff_max).
        progress: show a tqdm bar.
    """

    def __init__(self, base_url: str, model: str, api_key: str | None = None, cache_dir: str | Path | None = None,
                 concurrency: int = 4, max_retries: int = 6, timeout: float = 30, temperature: float = 1.0,
                 max_tokens: int | None = 512, backoff_base: float = 1.0, backoff_max: float = 60.0,
                 progress: bool = True):
        self.base_url, self.model = base_url, model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.cache_dir = Path(cache_dir) if cache_dir else Path.home() / ".cache" / "acula_zoo" / "llm_reports"
        self.concurrency, self.max_retries, self.timeout = max(1, concurrency), max(0, max_retries), timeout
        self.temperature, self.max_tokens = temperature, max_tokens
        self.backoff_base, self.backoff_max, self.progress = backoff_base, backoff_max, progress
        self.totals = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "reports_written": 0,
                       "cache_hits": 0, "rejected": 0}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._client = None
        self._rng = random.Random()

    # -- prompts and cache -------------------------------------------------------------------------------
    def prompt(self, metadata: dict, modality: str) -> tuple[str, str, str]:
        """(cache key, system prompt, user prompt) of one item."""
        system, user = system_prompt(modality), describe_metadata(metadata, modality)
        blob = json.dumps({"model": self.model, "system": system, "user": user}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest(), system, user

    def _path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.json"

    def _cached(self, key: str) -> ReportRecord | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            d = json.loads(path.read_text())
            return ReportRecord(d["report"], key, True, int(d["prompt_tokens"]), int(d["completion_tokens"]),
                                int(d["attempts"]))
        except (ValueError, KeyError, TypeError):
            return None  # unreadable (e.g. hand-edited): asked again and overwritten

    def _plan(self, items_metadata: list[dict], modalities) -> tuple[list[str], dict[str, tuple]]:
        if isinstance(modalities, str):
            modalities = [modalities] * len(items_metadata)
        if len(modalities) != len(items_metadata):
            raise ValueError(f"LLMReportWriter: {len(items_metadata)} metadata dicts but {len(modalities)} "
                             f"modalities; pass one modality per item (or a single string for all)")
        keys, unique = [], {}
        for md, mod in zip(items_metadata, modalities):
            key, system, user = self.prompt(md, mod)
            keys.append(key)
            unique.setdefault(key, (system, user, md))
        return keys, unique

    def dry_run(self, items_metadata: list[dict], modalities: list[str], show: bool = True) -> dict:
        """What `write` would send, without sending anything.

        Returns:
            {"calls": prompts not cached yet (what `write` would pay for), "cached": prompts already cached,
             "items": len(items_metadata), "prompts": [{"key", "system", "user", "cached"}] one per unique prompt}.
        """
        _, unique = self._plan(items_metadata, modalities)
        prompts = [{"key": k, "system": s, "user": u, "cached": self._cached(k) is not None}
                   for k, (s, u, _) in unique.items()]
        calls = sum(not p["cached"] for p in prompts)
        if show:
            for p in prompts:
                if not p["cached"]:
                    print(f"--- {p['key'][:12]}\n[system] {p['system']}\n[user]\n{p['user']}")
            print(f"{len(items_metadata)} items, {len(prompts)} distinct prompts: {calls} calls to "
                  f"{self.base_url} ({self.model}), {len(prompts) - calls} cached in {self.cache_dir}")
        return {"calls": calls, "cached": len(prompts) - calls, "items": len(items_metadata), "prompts": prompts}

    # -- writing -----------------------------------------------------------------------------------------
    def write(self, items_metadata: list[dict], modalities: list[str]) -> list[str]:
        """One report per item, in order (items with identical prompts share one report)."""
        return [r.report for r in self.write_records(items_metadata, modalities)]

    def write_records(self, items_metadata: list[dict], modalities: list[str]) -> list[ReportRecord]:
        """Like `write`, with each report's key, cache status, token counts and attempts.

        Raises:
            ReportEndpointError: a prompt got no valid report after all retries; reports finished before are cached.
        """
        keys, unique = self._plan(items_metadata, modalities)
        done: dict[str, ReportRecord] = {}
        for key in unique:
            if (rec := self._cached(key)) is not None:
                done[key] = rec
        with self._lock:
            self.totals["cache_hits"] += len(done)
        todo = [k for k in unique if k not in done]
        if todo:
            self._run(todo, unique, done)
        return [done[k] for k in keys]

    def _run(self, todo: list[str], unique: dict, done: dict) -> None:
        from tqdm import tqdm

        self._stop.clear()
        error = None
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool, \
                tqdm(total=len(todo), desc="LLM reports", disable=not self.progress) as bar:
            futures = {pool.submit(self._fetch, k, *unique[k]): k for k in todo}
            try:
                for fut in as_completed(futures):
                    try:
                        done[futures[fut]] = fut.result()
                        bar.update(1)
                    except (_Cancelled, CancelledError):
                        pass
                    except Exception as exc:  # first failure: stop the rest, keep what is cached, re-raise
                        if error is None:
                            error = exc
                            self._stop.set()
                            for f in futures:
                                f.cancel()
            except BaseException:  # Ctrl-C: finished reports are cached; stop the workers before leaving
                self._stop.set()
                for f in futures:
                    f.cancel()
                raise
        if error is not None:
            if isinstance(error, ReportEndpointError):
                n = sum(1 for k in todo if k in done)
                raise ReportEndpointError(f"{error} {n} of {len(todo)} new reports were written before the "
                                          f"failure and stay cached in {self.cache_dir}; re-run to resume.") from error
            raise error

    def _client_or_make(self):
        with self._lock:
            return self._client or self._make_client()

    def _make_client(self):
        from openai import OpenAI

        key = self.api_key
        if not key:
            if urlparse(self.base_url).hostname not in ("localhost", "127.0.0.1", "::1"):
                raise ReportEndpointError(f"{self.base_url}: no API key; set OPENAI_API_KEY or pass api_key=")
            key = "not-needed"  # local servers (vLLM, Ollama) ignore it, the client insists on one
        self._client = OpenAI(base_url=self.base_url, api_key=key, timeout=self.timeout, max_retries=0)
        return self._client

    def _wait(self, attempt: int, retry_after: float | None = None) -> None:
        delay = min(self.backoff_max, self.backoff_base * 2 ** attempt)
        delay = delay * (0.5 + 0.5 * self._rng.random())
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max))
        if self._stop.wait(delay):
            raise _Cancelled

    def _fetch(self, key: str, system: str, user: str, metadata: dict) -> ReportRecord:
        """Ask until a valid report comes back; cache it. Runs in a worker thread."""
        import openai

        client = self._client_or_make()
        tokens = [0, 0]
        last = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if self._stop.is_set():
                raise _Cancelled
            kwargs = {"max_tokens": self.max_tokens} if self.max_tokens is not None else {}
            try:
                with self._lock:
                    self.totals["requests"] += 1
                resp = client.chat.completions.create(
                    model=self.model, temperature=self.temperature, response_format={"type": "json_object"},
                    messages=[{"role": "system", "content": system}, {"role": "user", "content": user}], **kwargs)
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                last = f"{type(exc).__name__}: {exc}"
                self._wait(attempt)
                continue
            except openai.APIStatusError as exc:
                last = f"HTTP {exc.status_code}: {str(exc)[:300]}"
                if exc.status_code not in (408, 409, 429) and exc.status_code < 500:
                    raise ReportEndpointError(f"{self.base_url}: model {self.model!r} refused the request "
                                              f"({last}); not retried.") from exc
                self._wait(attempt, _retry_after(exc))
                continue
            except (openai.APIResponseValidationError, ValueError) as exc:
                last = f"unreadable response ({exc})"
                self._wait(attempt)
                continue
            usage = getattr(resp, "usage", None)
            p, c = (int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0))
            tokens[0] += p
            tokens[1] += c
            with self._lock:
                self.totals["prompt_tokens"] += p
                self.totals["completion_tokens"] += c
            report, last = _parse_report(resp)
            if report is not None:
                bad = unsupported_findings(report, metadata)
                if not bad:
                    rec = ReportRecord(report, key, False, tokens[0], tokens[1], attempt + 1)
                    write_json(self._path(key), {**asdict(rec), "model": self.model, "endpoint": self.base_url,
                                                 "system": system, "user": user})
                    with self._lock:
                        self.totals["reports_written"] += 1
                    return rec
                last = f"report states {', '.join(bad)}: {report!r}"
                with self._lock:
                    self.totals["rejected"] += 1
                continue  # the endpoint is fine, only the sample was bad: ask again at once
            self._wait(attempt)
        raise ReportEndpointError(f"{self.base_url}: no valid report from model {self.model!r} after "
                                  f"{self.max_retries + 1} attempts; last error: {last}.")


def _retry_after(exc) -> float | None:
    try:
        return float(exc.response.headers.get("retry-after"))
    except (AttributeError, TypeError, ValueError):
        return None


def _parse_report(resp) -> tuple[str | None, str]:
    """(report, '') from a chat completion whose content is JSON {"report": "..."}, else (None, reason)."""
    try:
        content = resp.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        return None, "response without choices[0].message.content"
    try:
        obj = json.loads(content or "")
    except ValueError:
        return None, f"malformed JSON content: {str(content)[:200]!r}"
    report = obj.get("report") if isinstance(obj, dict) else None
    if isinstance(report, list):
        report = " ".join(str(x) for x in report)
    if not isinstance(report, str) or not report.strip():
        return None, f"JSON without a non-empty 'report' string: {str(content)[:200]!r}"
    return re.sub(r"\s+", " ", report).strip(), ""
