"""Leaderboard PNGs cached by content: a re-run whose scores did not change copies its figures instead of drawing.

Drawing means importing pyplot and rendering, a large share of a warm re-run that computes nothing else
(tests/perf/profile_warm_run.py). A figure is a pure function of the data it draws (leaderboard_plots.
bar_chart_data / heat_map_data), the drawing code, matplotlib's version and its rc settings (a user's matplotlibrc
changes the figure), so those are the key (sha256), made without importing matplotlib. Entries are verified when
read (benchmark_tasks/result_store.py): a corrupt one is reported in one line on stderr and drawn again. Fonts
installed on the system are not part of the key.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

from benchmark_tasks.result_store import ResultStore


def matplotlibrc_candidates() -> list[Path]:
    """Every user rc file matplotlib may read (matplotlib.matplotlib_fname searches them in order; the package's
    own default comes with its version). All that exist go into the key, whichever of them matplotlib picks."""
    found = [Path("matplotlibrc")]
    if os.environ.get("MATPLOTLIBRC"):
        found += [Path(os.environ["MATPLOTLIBRC"]), Path(os.environ["MATPLOTLIBRC"]) / "matplotlibrc"]
    if os.environ.get("MPLCONFIGDIR"):
        found.append(Path(os.environ["MPLCONFIGDIR"]) / "matplotlibrc")
    for folder in (os.environ.get("XDG_CONFIG_HOME"), os.environ.get("LOCALAPPDATA")):
        if folder:
            found.append(Path(folder) / "matplotlib" / "matplotlibrc")
    found += [Path.home() / ".config" / "matplotlib" / "matplotlibrc", Path.home() / ".matplotlib" / "matplotlibrc"]
    return found


@lru_cache(maxsize=1)
def _renderer_version() -> str:
    """sha256 of the drawing code (leaderboard_plots.py: its draw_* functions take plain data and import nothing
    first-party), matplotlib's version and the user rc files it may read. matplotlib itself is not imported."""
    h = hashlib.sha256()
    h.update(Path(find_spec("benchmark_tasks.leaderboard_plots").origin).read_bytes())
    h.update(f"\nmatplotlib {metadata.version('matplotlib')}\n".encode())
    for rc in matplotlibrc_candidates():
        if rc.is_file():
            h.update(f"{rc.resolve()}\n".encode())
            h.update(rc.read_bytes())
    return h.hexdigest()


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
