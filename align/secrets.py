"""Keep credentials out of every message, log, record and cache the LLM writer produces.

An endpoint may echo the request's key in an error body ("Incorrect API key provided: sk-…"); a proxy may echo
the Authorization header. `redact` removes the known key itself and anything shaped like a credential.
"""

from __future__ import annotations

import re

MASK = "[REDACTED]"
_PATTERNS = (
    re.compile(r"(?i)(authorization\s*[:=]\s*)(bearer\s+)?[^\s,;\"']+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(r"(?i)((?:api[-_ ]?key|x-api-key|access[-_ ]?token)[\"']?\s*[:=]\s*[\"']?)[^\s,;\"']+"),
    re.compile(r"\b(sk-(?:proj-|live-|test-)?)[A-Za-z0-9_-]{8,}"),
)


def redact(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """`text` with each known secret (4+ characters) and every credential-shaped token replaced by MASK."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text
