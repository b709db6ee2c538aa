"""`acula-zoo`: one installed command for the whole line.

    acula-zoo evaluate --encoder opera-gt --weights encoder-operaGT.ckpt --tasks T5,T7    # = python evaluate.py ...
    acula-zoo align --encoder opera-gt --tiny --tasks demo                                # = python -m align ...
    acula-zoo leaderboard runs/gt [--out site/]                # md, csv, html, png from records only
    acula-zoo convert IN OUT --encoder NAME [--trust-checkpoint]    # a checkpoint rewritten as safetensors
    acula-zoo check-data --data-root /data [--opera-root ~/OPERA] [--tasks opera]

Each subcommand takes the flags of the command it stands for (`acula-zoo evaluate --help`). Errors caused by the
input end with one line and exit code 2 (`--debug` for the traceback).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

USAGE = __doc__


def _evaluate(argv: list[str]) -> int:
    from acula_zoo.evaluate import main

    return main(argv)


def _align(argv: list[str]) -> int:
    from align.__main__ import main

    return main(argv)


def _leaderboard(argv: list[str]) -> int:
    from acula_zoo.evaluate import main

    if not argv or argv[0].startswith("-"):
        print("usage: acula-zoo leaderboard DIR [--out OUT]", file=sys.stderr)
        return 2
    return main(["--leaderboard", argv[0], *argv[1:]])


def _convert(argv: list[str]) -> int:
    from adapters.__main__ import main

    return main(["convert", *argv])


def _check_data(argv: list[str]) -> int:
    from acula_zoo.evaluate import main

    return main(["--check-data", *argv])


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "evaluate": _evaluate, "align": _align, "leaderboard": _leaderboard, "convert": _convert,
    "check-data": _check_data}


def main(argv: list[str] | None = None) -> int:
    """Dispatch `acula-zoo COMMAND ARGS...`; returns the exit code."""
    from adapters._cli import run_cli

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"acula-zoo: unknown command {command!r}; choose one of {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    return run_cli(COMMANDS[command], rest, prog=f"acula-zoo {command}")


if __name__ == "__main__":
    sys.exit(main())
