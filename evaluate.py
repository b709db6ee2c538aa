#!/usr/bin/env python
"""`python evaluate.py ...` from a checkout: the same as `acula-zoo evaluate ...` (code in acula_zoo/evaluate.py).

Kept as a shim for the commands in the README and for `torchrun evaluate.py`; it is not installed, so installing
acula-zoo adds no top-level module named `evaluate` (Hugging Face's `evaluate` library has that import name).
"""

import sys

from acula_zoo.evaluate import main, rank_device, render_comparison, write_run_config  # noqa: F401

if __name__ == "__main__":
    from adapters._cli import run_cli

    sys.exit(run_cli(main, prog="evaluate.py"))
