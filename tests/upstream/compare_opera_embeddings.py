"""Our OPERA-CT/CE/GT embeddings against upstream OPERA's `extract_opera_feature`, at official size.

Not part of `make test` (it needs an OPERA checkout and an environment where OPERA's code imports). Run:

    .venv/bin/python tests/upstream/compare_opera_embeddings.py --opera-root /path/to/OPERA \
        --upstream-python /path/to/opera-env/bin/python [--work /tmp/opera-compare]

Stage 1 runs under `--upstream-python` (this same file with `--stage upstream`): it builds upstream's three
models (`src/benchmark/model_util.py::initialize_pretrained_model`), perturbs every weight with seeded noise
(so no weight is at a trivial init value), saves each as a Lightning-style `{"state_dict": ...}` checkpoint
under WORK/cks/model/ (where `get_encoder_path` looks), writes the clips of tests/fixtures/opera/clips.py as
16-bit wavs, and calls `extract_opera_feature` on them exactly as OPERA's processing scripts do (per-task
`input_sec`, `pad0=True` for CT on MMlung, `from_spec=True` with `get_entire_signal_librosa` spectrograms for
OPERA-GT on SSBPR / Coswara). Stage 2 (this interpreter) loads the same checkpoints with `build_encoder`, runs
`Preprocess(...).apply` + `embed_windowed` (the path evaluate.py takes) and prints the relative difference
||ours - upstream|| / ||upstream|| per case, and the worst per family.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "fixtures" / "opera"))
from clips import CLIPS, SR, clip, clip_int16  # noqa: E402

# (case, upstream pretrain name, clip, input_sec, pad0, from_spec)
CASES = (
    ("ct_breath_2s", "operaCT", "breath_in_silence", 2, False, False),
    ("ct_cough_2s", "operaCT", "cough_in_silence", 2, False, False),
    ("ct_breath_8s", "operaCT", "breath_in_silence", 8, False, False),
    ("ct_long_8s", "operaCT", "breathing_8p5s", 8, False, False),
    ("ct_short_zero_20s", "operaCT", "short_breath", 20, True, False),
    ("ct_40s_crops", "operaCT", "breathing_40s", 8, False, False),     # 1251 frames: 1024-frame crops averaged
    ("ce_40s", "operaCE", "breathing_40s", 8, False, False),
    ("gt_40s", "operaGT", "breathing_40s", 8.18, False, False),
    ("ce_breath_2s", "operaCE", "breath_in_silence", 2, False, False),
    ("ce_short_2s", "operaCE", "short_breath", 2, False, False),
    ("ce_cough_8s", "operaCE", "cough_in_silence", 8, False, False),
    ("gt_breath_8.18s", "operaGT", "breath_in_silence", 8.18, False, False),
    ("gt_long_8.18s", "operaGT", "breathing_8p5s", 8.18, False, False),
    ("gt_long_5s", "operaGT", "breathing_8p5s", 5, False, False),
    ("gt_cough_8s", "operaGT", "cough_in_silence", 8, False, False),
    ("gt_long_spec_2s", "operaGT", "breathing_8p5s", 2, False, True),
    ("gt_breath_spec_8s", "operaGT", "breath_in_silence", 8, False, True),
)
DIMS = {"operaCT": 768, "operaCE": 1280, "operaGT": 384}
OURS = {"operaCT": "opera-ct", "operaCE": "opera-ce", "operaGT": "opera-gt"}


def stage_upstream(opera_root: Path, work: Path) -> None:
    """Runs in OPERA's environment: checkpoints + upstream embeddings into WORK."""
    import soundfile as sf
    import torch

    sys.path.insert(0, str(opera_root))
    from src.benchmark.model_util import extract_opera_feature, initialize_pretrained_model
    from src.util import get_entire_signal_librosa

    (work / "cks" / "model").mkdir(parents=True, exist_ok=True)
    (work / "audio").mkdir(exist_ok=True)
    for name in CLIPS:
        sf.write(work / "audio" / f"{name}.wav", clip_int16(name), SR, subtype="PCM_16")
    g = torch.Generator().manual_seed(1234)
    for pretrain in DIMS:
        torch.manual_seed(0)
        state = initialize_pretrained_model(pretrain).state_dict()
        for key, t in state.items():
            if not t.is_floating_point():
                continue
            if key.endswith("running_var"):
                state[key] = t * (0.5 + torch.rand(t.shape, generator=g))
            else:
                state[key] = t + 0.02 * torch.randn(t.shape, generator=g)
        torch.save({"state_dict": state}, work / "cks" / "model" / f"encoder-{pretrain}.ckpt")
    os.chdir(work)   # get_encoder_path reads cks/model/encoder-<pretrain>.ckpt relative to the working folder
    out = {}
    for case, pretrain, name, sec, pad0, from_spec in CASES:
        wav = str(work / "audio" / f"{name}.wav")
        if from_spec:
            spec = get_entire_signal_librosa("", wav[:-4], spectrogram=True, pad=True, input_sec=sec)
            feats = extract_opera_feature([spec], pretrain=pretrain, from_spec=True, dim=DIMS[pretrain])
        else:
            feats = extract_opera_feature([wav], pretrain=pretrain, input_sec=sec, dim=DIMS[pretrain], pad0=pad0)
        out[case] = np.asarray(feats, dtype=np.float64).reshape(-1)
    np.savez(work / "upstream.npz", **out)


def stage_ours(work: Path) -> dict:
    """Runs here: the same checkpoints through acula-zoo's task path; returns {case: relative difference}."""
    import torch

    sys.path.insert(0, str(REPO))
    from adapters import build_encoder
    from adapters._spec import Windowing
    from benchmark_tasks.preprocess import Preprocess

    want = np.load(work / "upstream.npz")
    encoders = {p: build_encoder(OURS[p], weights=work / "cks" / "model" / f"encoder-{p}.ckpt").eval()
                for p in DIMS}
    rel = {}
    for case, pretrain, name, sec, pad0, from_spec in CASES:
        prep = Preprocess(trim_top_db=60.0, pad_seconds=float(sec), pad_mode="zeros" if pad0 else "repeat")
        x = torch.from_numpy(prep.apply(clip(name), SR))[None]
        windowing = None
        if pretrain == "operaGT":
            windowing = Windowing("spectrogram") if from_spec else Windowing("waveform", float(sec))
        with torch.inference_mode():
            ours = encoders[pretrain].embed_windowed(x, windowing)[0].double().numpy()
        ref = want[case]
        rel[case] = float(np.linalg.norm(ours - ref) / np.linalg.norm(ref))
    return rel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--opera-root", required=True)
    ap.add_argument("--upstream-python", help="interpreter of OPERA's environment (stage 1)")
    ap.add_argument("--work", default="/tmp/opera-compare")
    ap.add_argument("--stage", choices=("all", "upstream", "ours"), default="all")
    args = ap.parse_args()
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if args.stage == "upstream":
        stage_upstream(Path(args.opera_root).resolve(), work)
        return
    if args.stage == "all":
        if not args.upstream_python:
            ap.error("--upstream-python is required for stage 1")
        subprocess.run([args.upstream_python, __file__, "--stage", "upstream", "--opera-root", args.opera_root,
                        "--work", str(work)], check=True, stdout=subprocess.DEVNULL)
    rel = stage_ours(work)
    for case, value in rel.items():
        print(f"{case:22s} relative difference {value:.2e}")
    worst = {}
    for case, value in rel.items():
        family = case.split("_")[0]
        worst[family] = max(worst.get(family, 0.0), value)
    print(json.dumps({"worst_relative_difference": worst}))


if __name__ == "__main__":
    main()
