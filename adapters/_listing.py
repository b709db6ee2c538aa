"""Encoder model cards read from source without importing torch: fast `--list-encoders`.

Each encoder module declares `spec = EncoderSpec(...)` with literal keyword arguments inside a class decorated
with `@register_encoder("name")`; this module parses those files with `ast` and evaluates only the literals.
Encoders added through entry-point plugins are not seen here; `list_encoders()` (which imports) sees them.
"""

from __future__ import annotations

import ast
from pathlib import Path

_ADAPTERS_DIR = Path(__file__).resolve().parent


def _decorator_name(node: ast.ClassDef) -> str | None:
    for dec in node.decorator_list:
        if (isinstance(dec, ast.Call) and getattr(dec.func, "id", None) == "register_encoder" and dec.args
                and isinstance(dec.args[0], ast.Constant)):
            return dec.args[0].value
    return None


def _spec_kwargs(node: ast.ClassDef) -> dict:
    for stmt in node.body:
        if (isinstance(stmt, ast.Assign) and any(getattr(t, "id", None) == "spec" for t in stmt.targets)
                and isinstance(stmt.value, ast.Call)):
            out = {}
            for kw in stmt.value.keywords:
                try:
                    out[kw.arg] = ast.literal_eval(kw.value)
                except ValueError:
                    out[kw.arg] = "?"
            return out
    return {}


def static_encoder_cards(directory: Path = _ADAPTERS_DIR) -> list[dict]:
    """One dict per registered encoder found in `directory/*.py`: {"name", **literal EncoderSpec kwargs}."""
    cards = []
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and (name := _decorator_name(node)):
                cards.append({**_spec_kwargs(node), "name": name, "module": f"adapters.{path.stem}"})
    return sorted(cards, key=lambda c: c["name"])
