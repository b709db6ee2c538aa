"""A version for the code that turns audio into embeddings, so that caches never outlive a change to it.

Parameters alone do not identify an embedding: a fix to a padding rule or a front end that keeps every parameter
the same changes the numbers. `code_version(module)` hashes the source of `module` and of every first-party
module it imports, directly or through others, at module level or inside functions. Editing any line on that
path, a comment included, gives a new version: caches keyed by it are recomputed rather than silently reused.
Over-invalidation is the price; a stale embedding would be worse.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util

FIRST_PARTY = ("adapters", "benchmark_tasks")


def _imported_names(source: str, package: str | None) -> set[str]:
    """Absolute module names imported anywhere in `source` (relative imports resolved against `package`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and package:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            # `from pkg import submodule` imports a module too
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _source(name: str) -> tuple[str, str | None] | None:
    """(source text, package) of module `name`, or None when it is not a Python source module."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    with open(spec.origin, encoding="utf-8") as fh:
        text = fh.read()
    package = name if spec.submodule_search_locations is not None else name.rpartition(".")[0]
    return text, package or None


def _closure(roots: tuple[str, ...]) -> dict[str, str]:
    """{module name: source} for `roots` and their first-party imports, transitively.

    First party: the packages in FIRST_PARTY plus each root's own top-level package (so an encoder registered
    by another package is covered by its own code).
    """
    first_party = set(FIRST_PARTY) | {r.split(".")[0] for r in roots}
    seen: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name.split(".")[0] not in first_party:
            continue
        found = _source(name)
        if found is None:
            continue
        seen[name] = found[0]
        todo.extend(_imported_names(*found))
    return seen


@functools.lru_cache(maxsize=64)
def code_version(*roots: str) -> str:
    """16-hex sha256 over the sources of `roots` and of their first-party imports (transitively)."""
    h = hashlib.sha256()
    for name, text in sorted(_closure(roots).items()):
        h.update(f"{name}\n{len(text)}\n".encode())
        h.update(text.encode())
    return h.hexdigest()[:16]


def code_modules(*roots: str) -> list[str]:
    """The module names `code_version(*roots)` covers."""
    return sorted(_closure(roots))
