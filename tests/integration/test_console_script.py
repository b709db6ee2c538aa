"""Installing acula-zoo: one `acula-zoo` console script, and no top-level module that shadows another package.

A fresh venv (the pinned dependencies made visible from the project's own environment through a .pth file, so
nothing big is downloaded) gets a regular, non-editable `pip install --no-deps` of this checkout. Then:
the installed top-level names are exactly our packages (no `evaluate`, Hugging Face's `evaluate` import name), the
`acula-zoo` script exists and runs each subcommand, and `python evaluate.py` / `python -m align` still work here.
"""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
OUR_PACKAGES = {"acula_zoo", "adapters", "align", "benchmark_tasks", "plugin"}


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory):
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    # the project's environment (torch, pip, setuptools ...) behind the fresh one, without our own checkout on it
    deps = [p for p in {sysconfig.get_paths()["purelib"], *site.getsitepackages()} if Path(p).is_dir()]
    (purelib / "_project_deps.pth").write_text("\n".join(deps) + "\n")
    build = tmp_path_factory.mktemp("build")
    # a copy of the checkout: pip builds a local directory in place (build/, *.egg-info), never in the repo itself
    source = build / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "runs", "bench", "build",
                                                                  "*.egg-info", "__pycache__"))
    # pyproject's build requirements (setuptools>=68, wheel) come from the package index, as for any user
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--target", str(purelib), str(source)],
                   check=True, cwd=build)
    return venv, purelib


def _run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*args], cwd=cwd, capture_output=True, text=True,
                          env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(cwd)})


def test_installs_no_top_level_evaluate_module(fresh_venv):
    _, purelib = fresh_venv
    top = {p.name.removesuffix(".py") for p in purelib.iterdir()
           if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"}
    assert top == OUR_PACKAGES, top
    record = next(purelib.glob("acula_zoo-*.dist-info"))
    tops = set((record / "top_level.txt").read_text().split()) if (record / "top_level.txt").exists() else top
    assert "evaluate" not in tops


def test_console_script_runs_every_subcommand(fresh_venv, tmp_path):
    venv, purelib = fresh_venv
    script = purelib / "bin" / "acula-zoo"            # pip --target puts scripts under TARGET/bin
    assert script.exists()
    env_cmd = [str(venv / "bin" / "python"), str(script)]
    out = _run(venv, *env_cmd, "--help", cwd=tmp_path)
    assert out.returncode == 0 and "acula-zoo evaluate" in out.stdout
    res = _run(venv, *env_cmd, "align", "--help", cwd=tmp_path)
    assert res.returncode == 0 and "python -m align" in res.stdout, res.stderr
    listing = _run(venv, *env_cmd, "evaluate", "--list-encoders", cwd=tmp_path)
    assert listing.returncode == 0 and "opera-gt" in listing.stdout
    rows = ["path,label"]
    for i in range(20):            # a small own-data task: no demo audio to generate
        t = np.arange(8000) / 8000
        sf.write(tmp_path / f"s{i}.wav", (0.3 * np.sin(2 * np.pi * (200 + 40 * i) * t)).astype(np.float32), 8000)
        rows.append(f"s{i}.wav,{'high' if i >= 10 else 'low'}")
    (tmp_path / "tones.csv").write_text("\n".join(rows) + "\n")
    res = _run(venv, *env_cmd, "evaluate", "--encoder", "logmel-stats", "--tasks", f"csv:{tmp_path / 'tones.csv'}",
               "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rec = json.loads(next((tmp_path / "out" / "records").glob("*.json")).read_text())
    assert rec["encoder"] == "logmel-stats" and rec["task"] == "csv-tones"
    board = _run(venv, *env_cmd, "leaderboard", str(tmp_path / "out"), "--out", str(tmp_path / "site"), cwd=tmp_path)
    assert board.returncode == 0 and (tmp_path / "site" / "leaderboard.md").exists(), board.stderr
    bad = _run(venv, *env_cmd, "convert", str(tmp_path / "missing.ckpt"), str(tmp_path / "o.safetensors"),
               "--encoder", "beats", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "missing.ckpt" in bad.stderr
    assert _run(venv, *env_cmd, "nonsense", cwd=tmp_path).returncode == 2


def test_checkout_shims_keep_working(tmp_path):
    for cmd in ([sys.executable, "evaluate.py", "--list-tasks"], [sys.executable, "-m", "align", "--help"]):
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
