"""Probes that other packages provide, registered by name and looked up by the runner.

The runner scores tasks with its own probes (OPERA's linear protocol, logistic regression). Anything else —
zero-shot scoring in an aligned encoder's text space (align.zero_shot_probe) — registers a function here, so
that benchmark_tasks never imports the packages built on top of it.

A probe function: `fn(task, items, embeddings, run_config) -> dict` with at least "scores", "mean", "std" and,
for paired comparisons, "_test_scores" = (labels [N_test], scores [N_test, seeds, C]) (see runner.TEST_SCORES).
"""

from __future__ import annotations

from collections.abc import Callable

_PROBES: dict[str, Callable] = {}
# where a probe that is not registered yet comes from (imported on first use)
_PROVIDERS = {"zero-shot": "align.zero_shot_probe"}


def register_probe(name: str) -> Callable[[Callable], Callable]:
    """Decorator: make `fn` the probe called `name`."""

    def wrap(fn: Callable) -> Callable:
        _PROBES[name] = fn
        return fn

    return wrap


def get_probe(name: str) -> Callable:
    """The probe registered as `name` (importing its provider module the first time)."""
    if name not in _PROBES and name in _PROVIDERS:
        import importlib

        importlib.import_module(_PROVIDERS[name])
    if name not in _PROBES:
        raise KeyError(f"no probe named {name!r}; registered: {sorted(_PROBES)}")
    return _PROBES[name]
