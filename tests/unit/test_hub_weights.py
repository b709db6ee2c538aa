"""--weights ORG/NAME[:FILE]: resolved offline from a Hugging Face cache laid out as huggingface_hub lays it out
(refs/main -> snapshots/<commit>/ -> ../../blobs/<sha256>), checked against huggingface_hub's own offline resolvers;
the embeddings equal those of the same checkpoint passed as a local path."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from adapters import build_encoder, get_encoder_class
from adapters._hub import (
    HubAmbiguousError,
    HubNotCachedError,
    hub_cache_dir,
    parse_hub_id,
    published_hub_weights,
)

OPERA = "evelyn0414/OPERA"
COMMIT_OLD, COMMIT_NEW = "1" * 40, "a3f0c2" + "0" * 34
WAV = torch.from_numpy((0.3 * np.sin(2 * np.pi * 220 * np.arange(32000) / 16000)).astype(np.float32))[None]


def _opera_gt_ckpt(seed: int) -> bytes:
    """A tiny OPERA-GT in the published format: a Lightning checkpoint dict whose state_dict carries upstream's key
    names (decoder blocks `attn.` / `mlp.`, as in encoder-operaGT.ckpt), serialised by torch.save."""
    import io

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = get_encoder_class("opera-gt")(get_encoder_class("opera-gt").configs["tiny"])
    state = {(k.replace(".window_attn.", ".attn.").replace(".ffn.", ".mlp.") if k.startswith("decoder_blocks.")
              else k): v for k, v in model.state_dict().items()}
    buf = io.BytesIO()
    torch.save({"epoch": 1, "global_step": 10, "pytorch-lightning_version": "2.2.0.post0", "state_dict": state}, buf)
    return buf.getvalue()


def _cache_repo(cache, repo: str, commit: str, files: dict[str, bytes], main: bool = True):
    """Put one revision of `repo` into a hub cache folder; returns its snapshot folder."""
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    snap = repo_dir / "snapshots" / commit
    for name, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        (repo_dir / "blobs").mkdir(parents=True, exist_ok=True)
        (repo_dir / "blobs" / digest).write_bytes(data)
        link = snap / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(repo_dir / "blobs" / digest, link.parent))
    if main:
        (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
        (repo_dir / "refs" / "main").write_text(commit)
    return snap


@pytest.fixture(scope="module")
def ckpts():
    return {seed: _opera_gt_ckpt(seed) for seed in (0, 1)}


@pytest.fixture
def hub(tmp_path, monkeypatch, ckpts):
    """A hub cache in tmp_path/hub (via HF_HUB_CACHE) holding OPERA's repository as published: one checkpoint per
    family (the CT and CE files are not OPERA-GT checkpoints, so picking one of them fails); HF_HUB_OFFLINE unset."""
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    _cache_repo(cache, OPERA, COMMIT_OLD, {"encoder-operaGT.ckpt": ckpts[1]}, main=False)
    snap = _cache_repo(cache, OPERA, COMMIT_NEW, {"encoder-operaGT.ckpt": ckpts[0], "encoder-operaCT.ckpt": b"ct",
                                                  "encoder-operaCE.ckpt": b"ce", "gt-seed1.ckpt": ckpts[1]})
    local = tmp_path / "local"
    local.mkdir()
    for seed, data in ckpts.items():
        (local / f"seed{seed}.ckpt").write_bytes(data)
    return cache, snap, local


def _embed(weights, name="opera-gt"):
    enc = build_encoder(name, weights=weights, config="tiny")
    with torch.no_grad():
        return enc, enc.embed(WAV)


def test_hub_id_picks_the_family_file_of_refs_main_and_matches_the_local_path(hub):
    from huggingface_hub import hf_hub_download

    cache, snap, local = hub
    enc, emb = _embed(OPERA)
    ref, ref_emb = _embed(local / "seed0.ckpt")
    assert torch.equal(emb, ref_emb) and enc.weights_sha256 == ref.weights_sha256
    assert enc.weights_path == str(snap / "encoder-operaGT.ckpt")
    assert enc.weights_source == f"hub:{OPERA}@{COMMIT_NEW}:encoder-operaGT.ckpt" and ref.weights_source is None
    assert enc.weights_path == hf_hub_download(OPERA, "encoder-operaGT.ckpt", cache_dir=cache, local_files_only=True)


def test_file_suffix_picks_that_file(hub):
    _, _, local = hub
    enc, emb = _embed(f"{OPERA}:gt-seed1.ckpt")
    assert torch.equal(emb, _embed(local / "seed1.ckpt")[1])
    assert not torch.equal(emb, _embed(local / "seed0.ckpt")[1])
    assert enc.weights_source.endswith(":gt-seed1.ckpt")


def test_revision_comes_from_refs_main(hub):
    from huggingface_hub import snapshot_download

    cache, _, local = hub
    (cache / "models--evelyn0414--OPERA" / "refs" / "main").write_text(COMMIT_OLD)
    enc, emb = _embed(OPERA)
    assert torch.equal(emb, _embed(local / "seed1.ckpt")[1]) and f"@{COMMIT_OLD}:" in enc.weights_source
    assert os.path.dirname(enc.weights_path) == snapshot_download(OPERA, cache_dir=cache, local_files_only=True)


def test_hf_home_is_honoured(hub, tmp_path, monkeypatch):
    cache, _, local = hub
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    with pytest.raises(HubNotCachedError):
        build_encoder("opera-gt", weights=OPERA, config="tiny")
    shutil.copytree(cache, tmp_path / "home" / "hub", symlinks=True)
    assert torch.equal(_embed(OPERA)[1], _embed(local / "seed0.ckpt")[1])


def test_a_local_path_that_looks_like_a_hub_id_wins(hub, tmp_path, monkeypatch):
    _, _, local = hub
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evelyn0414").mkdir()
    shutil.copy(local / "seed1.ckpt", tmp_path / "evelyn0414" / "OPERA")
    enc, emb = _embed(OPERA)
    assert torch.equal(emb, _embed(local / "seed1.ckpt")[1]) and enc.weights_source is None


def test_uncached_ids_name_the_download_command(hub, capsys):
    import evaluate
    from adapters._cli import run_cli

    with pytest.raises(HubNotCachedError, match="`hf download google/hear-pytorch`"):
        build_encoder("hear", weights="google/hear-pytorch")
    with pytest.raises(HubNotCachedError, match="`hf download evelyn0414/OPERA encoder-operaCT2.ckpt`"):
        build_encoder("opera-ct", weights=f"{OPERA}:encoder-operaCT2.ckpt")
    code = run_cli(evaluate.main, ["--validate", "--encoder", "opera-gt", "--weights", "someone/opera-gt-ft"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "`hf download someone/opera-gt-ft`" in err[0]
    shutil.rmtree(hub[0] / "models--evelyn0414--OPERA" / "snapshots" / COMMIT_NEW)
    with pytest.raises(HubNotCachedError, match="`hf download evelyn0414/OPERA encoder-operaGT.ckpt`"):
        build_encoder("opera-gt", weights=OPERA, config="tiny")


def test_other_repositories_need_one_weight_file_or_a_file_name(hub, ckpts):
    cache, _, local = hub
    _cache_repo(cache, "someone/gt-ft", COMMIT_NEW, {"a.ckpt": ckpts[1], "b.ckpt": ckpts[0], "notes.txt": b"x"})
    with pytest.raises(HubAmbiguousError, match=r"a.ckpt, b.ckpt.*--weights someone/gt-ft:FILE"):
        build_encoder("opera-gt", weights="someone/gt-ft", config="tiny")
    _cache_repo(cache, "someone/gt-one", COMMIT_NEW, {"sub/only.ckpt": ckpts[1], "README.md": b"x"})
    assert torch.equal(_embed("someone/gt-one")[1], _embed(local / "seed1.ckpt")[1])


def test_transformers_directory_families_get_the_snapshot_folder(hub, tmp_path):
    from transformers import ViTModel

    from adapters.hear import _vit_config

    cache, _, _ = hub
    torch.manual_seed(0)
    ViTModel(_vit_config(get_encoder_class("hear").configs["tiny"])).save_pretrained(tmp_path / "hear")
    files = {p.name: p.read_bytes() for p in (tmp_path / "hear").iterdir()}
    snap = _cache_repo(cache, "google/hear-pytorch", COMMIT_NEW, files)
    enc = build_encoder("hear", weights="google/hear-pytorch", config="tiny")
    ref = build_encoder("hear", weights=tmp_path / "hear", config="tiny")
    wav = torch.randn(1, 32000, generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.no_grad():
        assert torch.equal(enc.embed(wav), ref.embed(wav))
    assert enc.weights_path == str(snap) and enc.weights_sha256 == ref.weights_sha256


CANDIDATES = ["org/name", "Org-1/na.me_2", "a/b", "org/name.git", "org--x/name", "org/na..me", "-org/name",
              "org/name-", "org/.name", "org/na/me", "name", "org/" + "n" * 96, "org/" + "n" * 97, "org/na me",
              "org/nâme", "./org", "/org/name", "org/"]


@pytest.mark.parametrize("value", CANDIDATES)
def test_repo_id_grammar_is_huggingface_hubs(value):
    """An ORG/NAME is accepted exactly when huggingface_hub's validator accepts it (with one slash)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(value)
        valid = value.count("/") == 1
    except HFValidationError:
        valid = False
    assert (parse_hub_id(value) is not None) == valid
    assert (parse_hub_id(value + ":x/model.ckpt") is not None) == valid
    assert parse_hub_id(value + ":../model.ckpt") is None


def test_published_repositories_come_from_the_encoder_specs():
    got = {n: published_hub_weights(get_encoder_class(n).spec.weights)
           for n in ("opera-gt", "opera-ct", "opera-ce", "hear", "clap", "beats")}
    assert got == {"opera-gt": (OPERA, "encoder-operaGT.ckpt"), "opera-ct": (OPERA, "encoder-operaCT.ckpt"),
                   "opera-ce": (OPERA, "encoder-operaCE.ckpt"), "hear": ("google/hear-pytorch", None),
                   "clap": ("laion/clap-htsat-unfused", None), "beats": (None, None)}


@pytest.mark.parametrize("env", [{"HF_HOME": "/x/home"}, {"XDG_CACHE_HOME": "/x/xdg"},
                                 {"HF_HOME": "/x/home", "HF_HUB_CACHE": "/x/hubcache"}])
def test_cache_folder_precedence_is_huggingface_hubs(env, monkeypatch):
    base = {k: v for k, v in os.environ.items()
            if k not in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME")}
    code = "from huggingface_hub import constants; print(constants.HF_HUB_CACHE)"
    theirs = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True,
                            check=True).stdout.strip()
    for k in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert str(hub_cache_dir()) == theirs
