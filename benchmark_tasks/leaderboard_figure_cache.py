"""Leaderboard PNGs cached by content: a re-run whose scores did not change copies its figures instead of drawing.

Drawing the bar chart costs about a second (importing pyplot, rendering); on a warm re-run that is most of what is
left. A figure is a pure function of the data it draws (leaderboard_plots.bar_chart_data / heat_map_data), the
drawing code, matplotlib's version and its rc settings (a user's matplotlibrc changes the figure), so those are
the key (sha256). Entries are verified when read (benchmark_tasks/result_store.py): a corrupt one is reported in
one line on stderr and drawn again. Fonts installed on the system are not part of the key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from adapters._code_version import code_version
from benchmark_tasks.result_store import ResultStore


@lru_cache(maxsize=1)
def _renderer_version() -> str:
    """The drawing code, matplotlib's version and rc settings (without the backend, which is always Agg here)."""
    import matplotlib  # the package alone (~0.1 s), not pyplot

    rc = sorted((k, repr(v)) for k, v in dict.items(matplotlib.rcParams) if k != "backend")
    blob = json.dumps({"code": code_version("benchmark_tasks.leaderboard_plots", __name__),
                       "matplotlib": metadata.version("matplotlib"), "rc": rc})
    return hashlib.sha256(blob.encode()).hexdigest()


def figure_key(kind: str, data: dict) -> str:
    """64-hex sha256 of a figure of `kind` ("bars", "heatmap") drawing `data` (JSON-able)."""
    blob = json.dumps({"kind": kind, "data": data, "renderer": _renderer_version()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def cached_figure(root: str | Path | None, kind: str, data: dict, draw: Callable[[dict], bytes]) -> bytes:
    """The PNG bytes of draw(data), read from the store under `root` when it holds them (root None: drawn)."""
    if root is None:
        return draw(data)
    store = ResultStore(root, "leaderboard figure")
    key = figure_key(kind, data)
    png = store.load(key)
    if png is None:
        png = draw(data)
        store.save(key, png)
    return png
