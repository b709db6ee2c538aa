"""LLM clinical reports from item metadata through any OpenAI-compatible chat-completions endpoint.

AcuLa (arXiv 2512.04847; github janine714/AcuLA @781a96b, datasets/circor_dataset/circor_gen_report.py) asks
GPT-4o, temperature 1, JSON output, for a "2-3 lines report ... Only use the information given" from a metadata
string, with a cardiologist system prompt for heart sounds. Here the same request goes to any OpenAI-compatible
server (OpenAI, vLLM, Ollama, ...) with a pulmonologist prompt for respiratory recordings, and:

- the user prompt is `align.reports.describe_metadata`: the declared clinical facts of the item's dataset
  (benchmark_tasks/clinical.py), identifiers and bookkeeping left out, so subject ids, uids, paths and splits are
  never sent;
- every report is cached on disk as one JSON file named by sha256(model, system prompt, user prompt), written
  atomically, so a re-run costs nothing and an interrupted run resumes where it stopped;
- 429, 5xx, timeouts, connection errors and malformed JSON are retried with exponential backoff and jitter;
- a report that refuses ("I'm sorry", "as an AI", ...), repeats the prompt, mentions none of the given facts
  (`check_report`) or affirms a finding the metadata does not support (`unsupported_findings`) is rejected and
  asked again; a prompt still without a valid report after all attempts is never cached, and `write` ends with
  a `ReportRejectedError` that counts the items and says why (the other reports are written and cached);
- prompt / completion tokens are recorded per report and summed in `LLMReportWriter.totals`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import threading
from collections import Counter
from concurrent.futures import CancelledError, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from pathlib import Path
from urllib.parse import urlparse

from adapters._errors import UserError
from adapters._io import write_json
from align.reports import describe_metadata, readings
from align.secrets import redact
from benchmark_tasks.clinical import FACTS, Declaration, read_facts

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
FINDING_PATTERNS = {group: FACTS[name].regex for group, name in (
    ("crackles", "crackles"), ("wheeze", "wheeze"), ("murmur", "murmur"), ("covid", "covid_status"),
    ("smoking", "smoker"))}
_CLAUSES = re.compile(r"[.;!?\n,]|\b(?:but|however|whereas|although|though)\b")
_STOP = {"and", "but", "while", "whereas", "although", "though", "however", "yet", "with"}
_HEDGE = {"unknown", "uncertain", "unclear", "undetermined", "indeterminate"}
_NEG_BEFORE = {"no", "not", "without", "absence", "negative", "denies", "denied", "free", "non", "neither",
               "nor", "lack", "lacks", "lacking", "never", "none", "cannot"} | _HEDGE
_NEG_AFTER = {"absent", "not", "none", "negative", "no", "never"} | _HEDGE
_WINDOW = 6


def finding_states(metadata: dict, declaration: Declaration | None = None) -> dict[str, str]:
    """State of each finding group in `metadata` (read with its dataset's declaration, benchmark_tasks.clinical).

    Returns:
        {group: state} for the groups of FINDING_PATTERNS, state one of
        'present', 'absent', 'unknown' (e.g. CirCor murmur 'Unknown'), 'mentioned' (named in a free-text
        field, with a value we do not interpret, or stated both ways - e.g. CirCor: no murmur at this site, a
        murmur elsewhere - so any statement is allowed) or 'missing' (not in the metadata).
    """
    items = read_facts(metadata, declaration)
    states = {}
    for group, pattern in FINDING_PATTERNS.items():
        own = {r.state for r in items if r.fact.finding == group}
        named = any(re.search(pattern, r.text.lower()) for r in items
                    if r.state in ("present", "value") and r.fact.finding != group)
        if named or "value" in own or len(own) > 1:
            states[group] = "mentioned"
        elif own:
            states[group] = own.pop()
        elif group == "murmur" and any(r.fact.name.startswith(("murmur_", "diastolic_murmur_")) for r in items):
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


def unsupported_findings(report: str, metadata: dict, declaration: Declaration | None = None) -> list[str]:
    """Finding groups that `report` states without support in `metadata` (empty list = report accepted).

    Rules per group (see `finding_states`): 'missing' -> any mention is unsupported (the metadata says nothing);
    'absent' / 'unknown' -> an affirmed mention is unsupported; 'present' -> mentions that all negate it are a
    contradiction; 'mentioned' -> anything goes. A keyword heuristic, not a parser: it errs towards rejecting.
    """
    bad = []
    for group, state in finding_states(metadata, declaration).items():
        mentions = _mentions(report, FINDING_PATTERNS[group])
        if not mentions or state == "mentioned":
            continue
        if state == "missing" or (state in ("absent", "unknown") and any(mentions)) or (
                state == "present" and not any(mentions)):
            bad.append(f"{group} (metadata: {state})")
    return bad


# ---------------------------------------------------------------------------------------------------------
# Output check: refusals, prompt echoes, reports about nothing given
# ---------------------------------------------------------------------------------------------------------
REFUSAL = re.compile(
    r"\b(?:i'?m sorry|i am sorry|i apologi[sz]e|i cannot|i can'?t|i'?m unable|i am unable|i'?m not able|"
    r"i am not able|i won'?t|i will not|as an ai\b|as a language model|an ai language model|"
    r"(?:unable|not able) to (?:help|assist|comply)|cannot (?:help|assist|comply) with)", re.IGNORECASE)
_SYSTEM_ECHO = ("only use the information given", "your output should be json", "write 2-3 lines report",
                "you are a cardiologist", "you are a pulmonologist")
_CUE_STOP = {"and", "the", "with", "of", "not", "no", "yes", "absent", "present", "years", "year", "months",
             "month", "days", "day", "expert", "other", "set", "high", "low", "area", "chest", "point", "quality"}


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def repeats_prompt(report: str, system: str, user: str) -> bool:
    """Whether `report` echoes the prompt: half or more of its 'Label: value' lines (at least two) verbatim, the
    system prompt's instructions, or text that is mostly the prompt itself (similarity > 0.8)."""
    flat = _flat(report)
    lines = [_flat(line) for line in user.splitlines() if line.strip()]
    verbatim = sum(line in flat for line in lines)
    if verbatim >= 2 and verbatim * 2 >= len(lines):
        return True
    if any(fragment in flat for fragment in _SYSTEM_ECHO):
        return True
    return SequenceMatcher(None, flat, _flat(user)).ratio() > 0.8


def fact_cues(metadata: dict, declaration: Declaration | None = None) -> list[str]:
    """Regexes that find a mention of one of the facts of `metadata`: a finding's noun, the words and numbers of
    each value (at least three characters, or a number). Empty when the metadata states nothing."""
    cues = []
    for r in readings(metadata, declaration):
        if r.fact.noun:
            cues.append(r.fact.regex)
        for word in re.findall(r"[a-z0-9][a-z0-9/.-]*", r.text.lower()):
            word = word.strip(".-")
            if word and word not in _CUE_STOP and (len(word) >= 3 or word[0].isdigit()):
                cues.append(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])")
    return list(dict.fromkeys(cues))


def check_report(report: str, metadata: dict, system: str, user: str,
                 declaration: Declaration | None = None) -> str:
    """Why `report` is no report of `metadata` ('' = accepted): it refuses, repeats the prompt, mentions none of
    the given facts, or states findings the metadata does not support (`unsupported_findings`)."""
    refusal = REFUSAL.search(report)
    if refusal:
        return f"refusal ({refusal.group(0)!r})"
    if repeats_prompt(report, system, user):
        return "repeats the prompt"
    cues = fact_cues(metadata, declaration)
    if cues and not any(re.search(c, report.lower()) for c in cues):
        return "mentions none of the given facts"
    bad = unsupported_findings(report, metadata, declaration)
    return f"states {', '.join(bad)}" if bad else ""


def _reason_kind(reason: str) -> str:
    return reason.split(" (")[0] if reason.startswith("refusal") else \
        "unsupported findings" if reason.startswith("states ") else reason


# ---------------------------------------------------------------------------------------------------------
# The writer
# ---------------------------------------------------------------------------------------------------------
class ReportEndpointError(UserError, RuntimeError):
    """The endpoint did not give a valid report after all retries (or refused the request outright)."""


class ReportRejectedError(ReportEndpointError):
    """Some prompts got only rejected reports (refusals, prompt echoes, reports about nothing given, invented
    findings) after all attempts. `rejected` maps each prompt key to its last reason; nothing of theirs is cached."""

    def __init__(self, message: str, rejected: dict[str, str]):
        super().__init__(message)
        self.rejected = rejected


class _Rejected(Exception):
    def __init__(self, reason: str, report: str):
        super().__init__(reason)
        self.reason, self.report = reason, report


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
    def prompt(self, metadata: dict, modality: str, declaration: Declaration | None = None) -> tuple[str, str, str]:
        """(cache key, system prompt, user prompt) of one item; declaration: what its metadata keys mean
        (benchmark_tasks.clinical; default: recognised from the keys)."""
        system, user = system_prompt(modality), describe_metadata(metadata, modality, declaration)
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

    def _plan(self, items_metadata: list[dict], modalities, declarations=None) -> tuple[list[str], dict[str, tuple]]:
        if isinstance(modalities, str):
            modalities = [modalities] * len(items_metadata)
        if declarations is None or isinstance(declarations, Declaration):
            declarations = [declarations] * len(items_metadata)
        if not len(modalities) == len(declarations) == len(items_metadata):
            raise ValueError(f"LLMReportWriter: {len(items_metadata)} metadata dicts but {len(modalities)} "
                             f"modalities / {len(declarations)} declarations; pass one per item (or one for all)")
        keys, unique = [], {}
        for md, mod, decl in zip(items_metadata, modalities, declarations):
            key, system, user = self.prompt(md, mod, decl)
            keys.append(key)
            unique.setdefault(key, (system, user, md, decl))
        return keys, unique

    def dry_run(self, items_metadata: list[dict], modalities: list[str], show: bool = True,
                declarations=None) -> dict:
        """What `write` would send, without sending anything.

        Returns:
            {"calls": prompts not cached yet (what `write` would pay for), "cached": prompts already cached,
             "items": len(items_metadata), "prompts": [{"key", "system", "user", "cached"}] one per unique prompt}.
        """
        _, unique = self._plan(items_metadata, modalities, declarations)
        prompts = [{"key": k, "system": s, "user": u, "cached": self._cached(k) is not None}
                   for k, (s, u, _, _) in unique.items()]
        calls = sum(not p["cached"] for p in prompts)
        if show:
            for p in prompts:
                if not p["cached"]:
                    print(f"--- {p['key'][:12]}\n[system] {p['system']}\n[user]\n{p['user']}")
            print(f"{len(items_metadata)} items, {len(prompts)} distinct prompts: {calls} calls to "
                  f"{self.base_url} ({self.model}), {len(prompts) - calls} cached in {self.cache_dir}")
        return {"calls": calls, "cached": len(prompts) - calls, "items": len(items_metadata), "prompts": prompts}

    # -- writing -----------------------------------------------------------------------------------------
    def write(self, items_metadata: list[dict], modalities: list[str], declarations=None) -> list[str]:
        """One report per item, in order (items with identical prompts share one report).

        declarations: per item (or one for all) what its metadata keys mean (benchmark_tasks.clinical
        .declaration(dataset)); default: recognised from the keys.
        """
        return [r.report for r in self.write_records(items_metadata, modalities, declarations)]

    def write_records(self, items_metadata: list[dict], modalities: list[str], declarations=None) -> list[ReportRecord]:
        """Like `write`, with each report's key, cache status, token counts and attempts.

        Raises:
            ReportEndpointError: the endpoint failed for a prompt after all retries (the other prompts stop);
                reports finished before are cached.
            ReportRejectedError: some prompts got only rejected reports (`check_report`) after all attempts; the
                message counts the items per reason; every other report is written and cached, the rejected ones
                are not.
        """
        keys, unique = self._plan(items_metadata, modalities, declarations)
        done: dict[str, ReportRecord] = {}
        for key in unique:
            if (rec := self._cached(key)) is not None:
                done[key] = rec
        with self._lock:
            self.totals["cache_hits"] += len(done)
        todo = [k for k in unique if k not in done]
        if todo:
            self._run(todo, unique, done, Counter(keys))
        return [done[k] for k in keys]

    def _run(self, todo: list[str], unique: dict, done: dict, items_per_key: Counter) -> None:
        from tqdm import tqdm

        self._stop.clear()
        error = None
        rejected: dict[str, _Rejected] = {}
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
                    except _Rejected as exc:  # the endpoint works: the other prompts go on
                        rejected[futures[fut]] = exc
                        bar.update(1)
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
        if rejected:
            raise self._rejection(rejected, todo, done, items_per_key)

    def _rejection(self, rejected: dict, todo: list[str], done: dict, items_per_key: Counter) -> ReportRejectedError:
        """The error that counts the items whose prompts got only rejected reports, per reason."""
        kinds = Counter()
        for key, exc in rejected.items():
            kinds[_reason_kind(exc.reason)] += items_per_key[key]
        n_items = sum(items_per_key[k] for k in rejected)
        example = next(iter(rejected.values()))
        why = "; ".join(f"{kind}: {n} item(s)" for kind, n in kinds.most_common())
        written = sum(1 for k in todo if k in done)
        return ReportRejectedError(
            f"{self.base_url}: model {self.model!r} gave no acceptable report for {n_items} item(s) "
            f"({len(rejected)} distinct prompt(s)) in {self.max_retries + 1} attempts each ({why}). Last rejected "
            f"answer: {example.report[:200]!r} ({example.reason}). Rejected reports are not cached; {written} of "
            f"{len(todo)} new reports were accepted and are cached in {self.cache_dir}. Re-run to ask again, or use "
            f"another model (or --reports template).", {k: exc.reason for k, exc in rejected.items()})

    def _redact(self, text: str) -> str:
        """`text` without the API key or anything shaped like a credential (align.secrets)."""
        return redact(text, (self.api_key, os.environ.get("OPENAI_API_KEY")))

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

    def _fetch(self, key: str, system: str, user: str, metadata: dict,
               declaration: Declaration | None = None) -> ReportRecord:
        """Ask until a valid report comes back; cache it. Runs in a worker thread.

        Raises:
            _Rejected: every answer was a report `check_report` rejected (the last one's reason).
            ReportEndpointError: the endpoint failed (HTTP errors, timeouts, unreadable answers) to the end.
        """
        import openai

        client = self._client_or_make()
        tokens = [0, 0]
        last, rejected = "no attempt made", None
        for attempt in range(self.max_retries + 1):
            rejected = None  # set again only if this attempt's answer is rejected
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
                last = self._redact(f"{type(exc).__name__}: {exc}")
                self._wait(attempt)
                continue
            except openai.APIStatusError as exc:
                last = self._redact(f"HTTP {exc.status_code}: {str(exc)[:300]}")
                if exc.status_code not in (408, 409, 429) and exc.status_code < 500:
                    raise ReportEndpointError(f"{self.base_url}: model {self.model!r} refused the request "
                                              f"({last}); not retried.") from None   # the cause may hold the key
                self._wait(attempt, _retry_after(exc))
                continue
            except (openai.APIResponseValidationError, ValueError) as exc:
                last = self._redact(f"unreadable response ({exc})")
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
            report, last = (self._redact(report) if report is not None else None), self._redact(last or "")
            if report is not None:
                reason = check_report(report, metadata, system, user, declaration)
                if not reason:
                    rec = ReportRecord(report, key, False, tokens[0], tokens[1], attempt + 1)
                    write_json(self._path(key), {**asdict(rec), "model": self.model, "endpoint": self.base_url,
                                                 "system": system, "user": user})
                    with self._lock:
                        self.totals["reports_written"] += 1
                    return rec
                last, rejected = f"report rejected, {reason}: {report!r}", _Rejected(reason, report)
                with self._lock:
                    self.totals["rejected"] += 1
                continue  # the endpoint is fine, only the sample was bad: ask again at once
            self._wait(attempt)
        if rejected is not None:
            raise rejected
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
