"""Our OPERA task path against OPERA's own front end (golden fixtures written by the upstream code).

tests/fixtures/opera/frontend.{npz,json} hold what upstream OPERA 3622310 returns for each case (see the README
there): `get_entire_signal_librosa` (trim, `_duplicate_padding` / `_zero_padding`, log-mel, min-max) for
OPERA-CT/CE, `get_split_signal_librosa` for OPERA-GT's windows, and the `from_spec` pieces OPERA-GT gets on
SSBPR and Coswara. Ours: `Preprocess(...).apply` then `opera_logmel` (CT/CE) or OPERA-GT's windowing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from adapters import build_encoder
from adapters._opera_frontend import opera_logmel
from adapters._spec import Windowing
from benchmark_tasks.preprocess import Preprocess

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "opera"
sys.path.insert(0, str(FIXTURES))
from clips import clip, clip_sha256  # noqa: E402

META = json.loads((FIXTURES / "frontend.json").read_text())
ARRAYS = np.load(FIXTURES / "frontend.npz")
TOL = 1e-5


@pytest.fixture(scope="module")
def gt():
    return build_encoder("opera-gt", config="tiny").eval()


def _ours(case: dict, gt) -> list[np.ndarray]:
    """Our [T, 64] windows for a fixture case."""
    prep = Preprocess(trim_top_db=60.0, pad_seconds=float(case["input_sec"]),
                      pad_mode="zeros" if case["types"] == "zero" else "repeat")
    x = torch.from_numpy(prep.apply(clip(case["clip"]), 16000))[None]
    if case["kind"] == "get_entire_signal_librosa":
        return [opera_logmel(x)[0].numpy()]
    if case["kind"] == "get_split_signal_librosa":
        length = Windowing("waveform", float(case["input_sec"])).samples(16000)
        return list(gt.chunk_spectrograms(x, length)[0].numpy())
    return [p[0].numpy() for p in gt.spectrogram_pieces(x)]


@pytest.mark.parametrize("case", META["cases"], ids=[c["case"] for c in META["cases"]])
def test_matches_upstream_opera(case, gt):
    assert clip_sha256(case["clip"]) == case["clip_sha256"], "the test clip generator changed"
    ours = _ours(case, gt)
    assert [list(w.shape) for w in ours] == case["window_shapes"]
    want_last = ARRAYS[f"{case['case']}/last"]
    assert np.abs(ours[-1] - want_last).max() <= TOL
    sums = np.array([w.astype(np.float64).sum() for w in ours])
    np.testing.assert_allclose(sums, ARRAYS[f"{case['case']}/sums"], rtol=0, atol=TOL * want_last.size)


def test_fixture_covers_every_path():
    kinds = {(c["kind"], c["types"]) for c in META["cases"]}
    assert {("get_entire_signal_librosa", "repeat"), ("get_entire_signal_librosa", "zero"),
            ("get_split_signal_librosa", "repeat"), ("from_spec", "repeat")} <= kinds
    split_seconds = {c["input_sec"] for c in META["cases"] if c["kind"] == "get_split_signal_librosa"}
    assert {8.18, 5} <= split_seconds
    assert any(c["n_windows"] > 1 for c in META["cases"])      # a remainder window


def test_old_tiling_rule_would_fail_the_fixture():
    """The fixture can tell front padding from tiling from the start (the defect this fixture pins down)."""
    case = next(c for c in META["cases"] if c["case"] == "ct_breath_2s")
    trimmed = Preprocess(trim_top_db=60.0).apply(clip(case["clip"]), 16000)
    tiled = np.tile(trimmed, -(-32000 // len(trimmed)))[:32000]
    spec = opera_logmel(torch.from_numpy(tiled)[None])[0].numpy()
    assert np.abs(spec - ARRAYS["ct_breath_2s/last"]).max() > 100 * TOL
