"""OPERA-GT: published checkpoint format, strict keys, upstream chunking, batching, LoRA targets, MAE loss."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from torch import nn

from adapters import CheckpointError, build_encoder
from adapters._checkpoint import save_safetensors
from adapters._opera_frontend import opera_logmel
from adapters.opera_gt import CHUNK_SAMPLES, OperaGT

SR = 16000


def upstream_names(state: dict) -> dict:
    """This module's keys -> the names in upstream's `encoder-operaGT.ckpt` (decoder blocks: attn / mlp)."""
    out = {}
    for key, value in state.items():
        if key.startswith("decoder_blocks."):
            key = key.replace(".window_attn.", ".attn.").replace(".ffn.", ".mlp.")
        out[key] = value
    return out


def lightning_checkpoint(model: OperaGT, **extra) -> dict:
    """A dict shaped like a PyTorch Lightning 2.x checkpoint of upstream's MaskedAutoencoderViTMD."""
    return {"epoch": 41, "global_step": 12345, "pytorch-lightning_version": "2.2.0.post0",
            "state_dict": upstream_names(model.state_dict()),
            "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 42}}}},
            "callbacks": {"ModelCheckpoint{'monitor': 'valid_loss', 'mode': 'min'}":
                          {"best_model_score": torch.tensor(0.0123), "dirpath": "cks/model/combined"}},
            "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1]}]}],
            "lr_schedulers": [], **extra}


@pytest.fixture(scope="module")
def tiny() -> OperaGT:
    torch.manual_seed(0)
    return build_encoder("opera-gt", config="tiny")


@pytest.fixture(scope="module")
def ckpt_path(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("gt") / "encoder-operaGT.ckpt"
    torch.save(lightning_checkpoint(tiny), path)
    return path


def clip(seconds: float, seed: int = 0) -> torch.Tensor:
    n = int(round(seconds * SR))
    t = np.arange(n) / SR
    rng = np.random.default_rng(seed)
    y = 0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t) + 0.05 * rng.standard_normal(n)
    return torch.from_numpy(y.astype(np.float32))


def test_official_checkpoint_format_loads_with_identical_embeddings(tiny, ckpt_path):
    file_keys = torch.load(ckpt_path, weights_only=True)["state_dict"].keys()
    assert {"cls_token", "pos_embed", "blocks.0.attn.qkv.weight", "decoder_blocks.1.attn.tau",
            "decoder_blocks.0.attn.meta_mlp.fc1.weight", "decoder_blocks.0.mlp.fc2.bias", "mask_token",
            "decoder_pos_embed", "decoder_pred.weight"} <= set(file_keys)
    loaded = build_encoder("opera-gt", weights=ckpt_path, config="tiny")
    x = clip(3.0)[None]
    with torch.no_grad():
        torch.testing.assert_close(loaded.embed(x), tiny.embed(x), rtol=0, atol=0)
    assert loaded.weights_sha256 and not loaded.training


def test_safetensors_of_the_module_loads(tiny, tmp_path):
    path = tmp_path / "gt.safetensors"
    save_safetensors(tiny.state_dict(), path)
    loaded = build_encoder("opera-gt", weights=path, config="tiny")
    x = clip(1.0)[None]
    with torch.no_grad():
        torch.testing.assert_close(loaded.embed(x), tiny.embed(x), rtol=0, atol=0)


@pytest.mark.parametrize("defect, key", [
    ("missing", "decoder_blocks.1.attn.tau"),
    ("extra", "blocks.0.attn.q_bias"),
    ("reshaped", "blocks.1.mlp.fc1.weight"),
])
def test_checkpoint_defects_name_the_key(tiny, tmp_path, defect, key):
    ckpt = lightning_checkpoint(tiny)
    state = ckpt["state_dict"]
    if defect == "missing":
        del state[key]
    elif defect == "extra":
        state[key] = torch.zeros(3)
    else:
        state[key] = torch.zeros(5, 5)
    path = tmp_path / f"{defect}.ckpt"
    torch.save(ckpt, path)
    expected = key.replace(".attn.tau", ".window_attn.tau")   # errors use this module's names
    with pytest.raises(CheckpointError, match=expected.replace(".", r"\.")):
        build_encoder("opera-gt", weights=path, config="tiny")


def test_pickled_objects_need_trust(tiny, tmp_path):
    path = tmp_path / "with_hparams.ckpt"
    torch.save(lightning_checkpoint(tiny, hyper_parameters=argparse.Namespace(lr=1e-4)), path)
    with pytest.raises(CheckpointError, match="trust"):
        build_encoder("opera-gt", weights=path, config="tiny")
    assert build_encoder("opera-gt", weights=path, config="tiny", trust_checkpoint=True) is not None


def test_checkpoint_without_state_dict_is_rejected(tmp_path):
    path = tmp_path / "bad.ckpt"
    torch.save({"state_dict": {"blocks.0.norm1.weight": [1.0, 2.0]}}, path)
    with pytest.raises(CheckpointError, match="state_dict"):
        build_encoder("opera-gt", weights=path, config="tiny")


def test_long_clip_is_the_mean_of_upstream_chunks(tiny):
    y = clip(20.0, seed=1)
    n, L, hop = len(y), CHUNK_SAMPLES, CHUNK_SAMPLES // 2
    starts = range(0, n - L + 1, hop)                       # full windows at hop L/2: 0, 65440, 130880
    chunks = [y[s:s + L] for s in starts]
    tail = y[len(chunks) * hop:]                             # the remainder, front-filled with the clip's end
    chunks.append(torch.cat([y[n - (L - len(tail)):], tail]))
    assert len(chunks) == 4 and all(len(c) == L for c in chunks)
    with torch.no_grad():
        by_hand = torch.stack([tiny.forward_feature(opera_logmel(c[None]))[0] for c in chunks]).mean(0)
        torch.testing.assert_close(tiny.embed(y[None])[0], by_hand, rtol=0, atol=1e-5)
        assert tiny.frames(y[None]).shape == (1, 4 * 64, 32)


def test_short_clip_is_padded_in_front_by_repetition(tiny):
    y = clip(0.05)                                           # 800 samples
    chunk = OperaGT.chunk(y[None])[0, 0]
    left = CHUNK_SAMPLES - len(y)
    torch.testing.assert_close(chunk[left:], y, rtol=0, atol=0)
    torch.testing.assert_close(chunk[left - len(y):left], y, rtol=0, atol=0)
    torch.testing.assert_close(chunk[:100], y[-(left % len(y)):][:100], rtol=0, atol=0)
    with torch.no_grad():
        e = tiny.embed(y[None])
    assert e.shape == (1, 32) and torch.isfinite(e).all()


def test_sixty_second_clip_works(tiny):
    with torch.no_grad():
        e = tiny.embed(clip(60.0)[None])
    assert e.shape == (1, 32) and torch.isfinite(e).all()
    assert OperaGT.chunk(clip(60.0)[None]).shape == (1, 14, CHUNK_SAMPLES)


def test_batch_equals_items_run_singly(tiny):
    batch = torch.stack([clip(9.0, seed=s) for s in range(3)])
    with torch.no_grad():
        together = tiny.embed(batch)
        alone = torch.cat([tiny.embed(batch[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-5)
    assert not torch.allclose(together[0], together[1])


def test_lora_targets_match_only_encoder_linears(tiny):
    names = dict(tiny.named_modules())
    for target in OperaGT.spec.lora_targets:            # peft's rule: name == target or ends with "." + target
        hits = [n for n in names if n == target or n.endswith("." + target)]
        assert len(hits) == tiny.config["depth"], (target, hits)
        assert all(isinstance(names[n], nn.Linear) and n.startswith("blocks.") for n in hits), hits


def test_masked_reconstruction_loss_is_deterministic_given_a_generator(tiny):
    x = clip(2.0)[None]
    with torch.no_grad():
        a = tiny.masked_reconstruction_loss(x, generator=torch.Generator().manual_seed(3))
        b = tiny.masked_reconstruction_loss(x, generator=torch.Generator().manual_seed(3))
        c = tiny.masked_reconstruction_loss(x, generator=torch.Generator().manual_seed(4))
    assert torch.isfinite(a) and a.ndim == 0
    assert a == b and a != c


def test_masked_reconstruction_loss_trains_encoder_and_decoder():
    torch.manual_seed(1)
    model = build_encoder("opera-gt", config="tiny").train()
    x = torch.stack([clip(1.0, seed=s) for s in range(2)])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(6):
        opt.zero_grad()
        loss = model.masked_reconstruction_loss(x, mask_ratio=0.7, generator=torch.Generator().manual_seed(0))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert model.blocks[0].attn.qkv.weight.grad.abs().sum() > 0
    assert model.decoder_blocks[0].window_attn.tau.grad is not None
    assert losses[-1] < 0.7 * losses[0], losses


def test_frontend_params_cover_chunking(tiny):
    p = tiny.frontend_params()
    assert p["chunk_samples"] == 130880 and p["opera_mel"]["hop_length"] == 512 and p["length_policy"] == "chunk"


@pytest.mark.slow
def test_official_size_matches_upstream_parameter_counts():
    model = OperaGT(OperaGT.configs["official"])
    sizes = {n: p.numel() for n, p in model.named_parameters()}
    encoder = sum(v for n, v in sizes.items() if not n.startswith(("decoder", "mask_token")))
    decoder = sum(v for n, v in sizes.items() if n.startswith(("decoder", "mask_token")))
    # upstream mae_vit_small counts its frozen sin-cos tables as parameters; here they are buffers
    assert encoder + model.pos_embed.numel() == 21_694_848
    assert decoder + model.decoder_pos_embed.numel() == 13_119_248
    assert len(model.state_dict()) == 430


# -- per-task windowing (adapters._spec.Windowing; the fixtures of test_opera_golden_frontend.py pin the windows)
def test_default_windowing_is_embed(tiny):
    from adapters._spec import Windowing

    x = clip(9.0)[None]
    with torch.no_grad():
        assert torch.equal(tiny.embed_windowed(x, None), tiny.embed(x))
        assert torch.equal(tiny.embed_windowed(x, Windowing("waveform", 8.18)), tiny.embed(x))


def test_shorter_windows_are_mean_of_their_features(tiny):
    from adapters._spec import Windowing

    x = clip(9.0)[None]
    with torch.no_grad():
        spec = tiny.chunk_spectrograms(x, 80000)            # 5 s windows: 157 frames each
        assert spec.shape == (1, 3, 157, 64)
        want = tiny.forward_feature(spec[0]).mean(dim=0)
        got = tiny.embed_windowed(x, Windowing("waveform", 5.0))[0]
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)


def test_spectrogram_pieces_drop_short_remainders(tiny):
    from adapters._spec import Windowing

    x = clip(8.5)[None]                                     # 266 frames: a 256-frame piece and 10 dropped
    pieces = tiny.spectrogram_pieces(x)
    assert [p.shape[1] for p in pieces] == [256]
    whole = opera_logmel(x)
    assert torch.equal(pieces[0], whole[:, :256])           # one min-max over the whole clip, then cut
    longer = tiny.spectrogram_pieces(clip(9.0)[None])       # 282 frames: 256 + 26
    assert [p.shape[1] for p in longer] == [256, 26]
    with torch.no_grad():
        got = tiny.embed_windowed(clip(9.0)[None], Windowing("spectrogram"))[0]
        want = torch.stack([tiny.forward_feature(p)[0] for p in longer]).mean(dim=0)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)


def test_windows_longer_than_the_position_table_are_refused(tiny):
    from adapters._spec import Windowing

    with pytest.raises(ValueError, match="8.18 s"):
        tiny.embed_windowed(clip(1.0)[None], Windowing("waveform", 10.0))


def test_other_encoders_refuse_a_windowing():
    from adapters._spec import Windowing

    enc = build_encoder("opera-ct", config="tiny")
    with pytest.raises(ValueError, match="no windowing"):
        enc.embed_windowed(clip(1.0)[None], Windowing("spectrogram"))
