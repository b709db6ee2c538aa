"""`python -m adapters convert`: any encoder's weights rewritten as safetensors load back to identical embeddings."""

import json

import numpy as np
import pytest
import torch

from adapters import CheckpointError, build_encoder, list_encoders
from adapters.__main__ import convert, main
from adapters._checkpoint import read_safetensors, save_safetensors
from adapters._inference import embed_clips
from adapters._registry import get_encoder_class

WITH_WEIGHTS = [n for n in list_encoders() if get_encoder_class(n).spec.requires_weights]


@pytest.mark.parametrize("name", WITH_WEIGHTS)
def test_convert_round_trip_gives_identical_embeddings(name, tmp_path):
    torch.manual_seed(0)
    enc = build_encoder(name, config="tiny")
    src = tmp_path / "src.safetensors"
    save_safetensors(enc.state_dict(), src, {"encoder": name, "cfg": json.dumps(enc.config)})
    out = convert(src, tmp_path / "out.safetensors", name, config="tiny")
    assert read_safetensors(out)["__metadata__"]["encoder"] == name
    back = build_encoder(name, weights=out, config="tiny")
    sr = enc.spec.sample_rate
    clip = (0.1 * np.random.default_rng(0).standard_normal(int(1.5 * sr))).astype(np.float32)
    np.testing.assert_array_equal(embed_clips(enc, [clip]), embed_clips(back, [clip]))
    assert back.weights_sha256 and back.identity_hash() != enc.identity_hash()


def test_convert_refuses_weights_that_do_not_fit_and_converted_files_name_their_encoder(tmp_path):
    gt = build_encoder("opera-gt", config="tiny")
    src = tmp_path / "gt.safetensors"
    save_safetensors(gt.state_dict(), src, {"cfg": json.dumps(gt.config)})
    with pytest.raises(CheckpointError, match="missing|unexpected|wrong shape"):
        main(["convert", str(src), str(tmp_path / "x.safetensors"), "--encoder", "opera-gt"])  # official size
    assert not (tmp_path / "x.safetensors").exists()
    assert main(["convert", str(src), str(tmp_path / "gt-conv.safetensors"), "--encoder", "opera-gt",
                 "--config", "tiny"]) == 0
    with pytest.raises(CheckpointError, match="converted from encoder 'opera-gt'"):
        build_encoder("beats", weights=tmp_path / "gt-conv.safetensors", config="tiny")


def test_convert_a_published_transformers_directory(tmp_path):
    from transformers import ViTModel

    from adapters.hear import _vit_config

    torch.manual_seed(0)
    ViTModel(_vit_config(get_encoder_class("hear").configs["tiny"])).save_pretrained(tmp_path / "hear")
    ref = build_encoder("hear", weights=tmp_path / "hear", config="tiny")
    out = convert(tmp_path / "hear", tmp_path / "hear.safetensors", "hear")
    back = build_encoder("hear", weights=out, config="tiny")
    clip = (0.1 * np.random.default_rng(1).standard_normal(32000)).astype(np.float32)
    np.testing.assert_array_equal(embed_clips(ref, [clip]), embed_clips(back, [clip]))
