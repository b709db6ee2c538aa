"""Error types raised by the adapters package.

Every error names the file (or encoder) it is about, what is wrong, and the fix.
"""

from __future__ import annotations


class UserError(Exception):
    """Marker base of every error caused by the user's input (a file, a flag, a checkpoint, a manifest) rather
    than by a bug: the command lines print its message as one line and exit with code 2 (--debug: traceback)."""


class AudioReadError(UserError, ValueError):
    """An audio file could not be turned into a usable waveform.

    Attributes:
        path: the file that failed.
        reason: a short human-readable reason ("empty file", "all samples are NaN", ...).
    """

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class CheckpointError(UserError, ValueError):
    """A checkpoint file does not match the architecture it is loaded into, or cannot be read safely."""


class UnknownEncoderError(UserError, KeyError):
    """No encoder is registered under the requested name."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])
