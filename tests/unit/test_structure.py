"""Import structure: benchmark_tasks never imports align; align.run and align.train form no import cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_benchmark_tasks_never_imports_align():
    for path in sorted((ROOT / "benchmark_tasks").rglob("*.py")):
        bad = sorted(n for n in _imports(path) if n == "align" or n.startswith("align."))
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_run_does_not_import_train():
    assert not {n for n in _imports(ROOT / "align" / "run.py") if n == "align.train"}
    assert not {n for n in _imports(ROOT / "align" / "model.py") if n in ("align.train", "align.run")}


def test_zero_shot_is_a_registered_probe_found_by_name():
    from benchmark_tasks.probes import get_probe

    fn = get_probe("zero-shot")
    assert fn.__module__ == "align.zero_shot_probe"
