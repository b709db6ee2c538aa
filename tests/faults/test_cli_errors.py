"""Fault suite, command lines: an error caused by the input is one stderr line naming the fix, exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args,needle", [
    (["--encoder", "opera-gtt", "--tiny", "--tasks", "demo-wheeze-easy"], "Did you mean opera-gt"),
    (["--encoder", "logmel-stats", "--tasks", "T99"], "no task 'T99'"),
])
def test_user_errors_are_one_line_with_exit_code_2(args, needle):
    res = _run("evaluate.py", *args)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert lines[-1].startswith("evaluate.py: error: ") and needle in lines[-1]


def test_garbage_checkpoint_names_the_file(tmp_path):
    bad = tmp_path / "encoder-operaGT.ckpt"
    bad.write_bytes(b"this is not a checkpoint")
    res = _run("evaluate.py", "--encoder", "opera-gt", "--weights", str(bad), "--tasks", "demo-wheeze-easy")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"error: {bad}" in res.stderr.strip().splitlines()[-1]


def test_debug_shows_the_traceback():
    res = _run("evaluate.py", "--encoder", "logmel-stats", "--tasks", "T99", "--debug")
    assert res.returncode != 0 and "Traceback" in res.stderr and "UnknownTaskError" in res.stderr


def test_each_torchrun_rank_takes_its_own_gpu(monkeypatch):
    import evaluate

    set_to = []
    monkeypatch.setattr("torch.cuda.set_device", set_to.append)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert evaluate.rank_device("cuda") == "cuda:1" and set_to == ["cuda:1"]
    assert evaluate.rank_device("cpu") == "cpu"
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert evaluate.rank_device("cuda:0") == "cuda:0"
