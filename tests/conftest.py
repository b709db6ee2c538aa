"""Shared fixtures: tests never touch the user's cache, and torch runs with a fixed thread count."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("ACULA_ZOO_CACHE", str(tmp_path_factory.getbasetemp() / "acula_cache"))


@pytest.fixture(scope="session", autouse=True)
def _torch_threads():
    import torch

    torch.set_num_threads(2)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch intra-op thread for a module's tests (`pytestmark = pytest.mark.usefixtures("one_torch_thread")`):
    on small tensors one thread is several times faster than two on a shared, loaded CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
