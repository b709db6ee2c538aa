"""How the command lines end on a user error: one line on stderr naming the file and the fix, exit code 2.

A traceback is for bugs. Errors caused by the input (adapters._errors.UserError and its subclasses in every
package: unreadable audio, a checkpoint of the wrong shape, a manifest with leaking rows, an unknown encoder or
task ...) already say what is wrong and how to fix it, so the command line prints that message alone, on one
line, and exits with 2; `--debug` shows the traceback instead. Ctrl-C ends with one line and exit code 130
(every long step resumes when the same command is run again).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from adapters._errors import UserError


def one_line(exc: BaseException) -> str:
    """The exception's message with whitespace (newlines included) collapsed."""
    return " ".join(str(exc).split()) or type(exc).__name__


def run_cli(main: Callable[[list[str]], int], argv: list[str] | None = None, prog: str = "") -> int:
    """Call main(argv) and turn a UserError into one stderr line + exit code 2 (unless --debug is in argv)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = prog or sys.argv[0]
    try:
        return main(argv)
    except UserError as exc:
        if "--debug" in argv:
            raise
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        if "--debug" in argv:
            raise
        print(f"{prog}: interrupted; run the same command again to resume", file=sys.stderr, flush=True)
        return 130
