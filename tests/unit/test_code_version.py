"""Cache keys carry the version of the code between the audio file and the embedding."""

from __future__ import annotations

import sys
import textwrap

import pytest

from adapters import build_encoder
from adapters._code_version import code_modules, code_version
from benchmark_tasks import embeddings
from benchmark_tasks.preprocess import Preprocess


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A throwaway first-party package `zoo_ext` with an encoder module importing a helper module."""
    root = tmp_path / "zoo_ext"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "helper.py").write_text("SCALE = 1.0\n")
    (root / "enc.py").write_text("def f():\n    from .helper import SCALE\n    return SCALE\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code_version.cache_clear()
    yield root
    code_version.cache_clear()
    for name in [m for m in sys.modules if m.startswith("zoo_ext")]:
        del sys.modules[name]


def test_version_follows_every_imported_module(package):
    assert code_modules("zoo_ext.enc") == ["zoo_ext.enc", "zoo_ext.helper"]
    before = code_version("zoo_ext.enc")
    (package / "helper.py").write_text(textwrap.dedent("SCALE = 2.0\n"))   # a lazy import's module changes
    code_version.cache_clear()
    assert code_version("zoo_ext.enc") != before


def test_pipeline_covers_front_end_preprocessing_and_model():
    enc = build_encoder("opera-gt", config="tiny")
    covered = code_modules(type(enc).__module__, "adapters._inference", "benchmark_tasks.preprocess",
                           "benchmark_tasks.embeddings")
    for module in ("adapters.opera_gt", "adapters._opera_frontend", "adapters._mae_vit", "adapters._audio",
                   "benchmark_tasks.preprocess", "adapters._inference", "benchmark_tasks.embeddings"):
        assert module in covered


def test_cache_namespace_changes_with_the_pipeline_version(monkeypatch):
    enc = build_encoder("opera-gt", config="tiny")
    before = embeddings.cache_namespace(enc, Preprocess())
    monkeypatch.setattr(embeddings, "pipeline_version", lambda encoder: "0" * 16)
    assert embeddings.cache_namespace(enc, Preprocess()) != before
