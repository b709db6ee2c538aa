"""OPERA-CE (adapters/opera_ce.py, adapters/_efficientnet.py): checkpoint format, padding, lengths, LoRA targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from adapters import CheckpointError, build_encoder
from adapters._checkpoint import save_safetensors
from adapters._efficientnet import SameConv2d
from adapters.opera_ce import INPUT_SEC, OperaCE

SR = 16000
HEAD_EXTRAS = {"g.weight": (512, 1280), "g.bias": (512,), "layer_norm.weight": (512,), "layer_norm.bias": (512,),
               "linear.weight": (512, 512)}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _clip(seconds: float, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    n = int(round(seconds * SR))
    t = np.arange(n) / SR
    wav = 0.3 * np.sin(2 * np.pi * (300 + 200 * t) * t) + 0.05 * rng.standard_normal(n)
    return torch.from_numpy(wav.astype(np.float32))


@pytest.fixture(scope="module")
def model() -> OperaCE:
    """Tiny OPERA-CE with BatchNorm statistics calibrated on random log-mels, so embeddings depend on the input."""
    torch.manual_seed(0)
    m = build_encoder("opera-ce", config="tiny")
    for bn in m.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.reset_running_stats()
            bn.momentum = None
    m.train()
    with torch.no_grad():
        m.embed_from_logmel(torch.rand(4, 96, 64))
    for bn in m.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.momentum = 0.01
    return m.eval()


def _lightning(model: OperaCE, path, **hparams):
    """`model` saved the way OPERA's encoder-operaCE.ckpt is: a Lightning checkpoint of Cola(encoder='efficientnet')."""
    state = {"encoder." + k: v.clone() for k, v in model.state_dict().items()}
    state.update({k: torch.randn(shape) for k, shape in HEAD_EXTRAS.items()})
    torch.save({"epoch": 149, "global_step": 1000, "pytorch-lightning_version": "1.9.0", "state_dict": state,
                "hyper_parameters": {"encoder": "efficientnet", "dim_fea": 1280, "dim_hidden": 1280,
                                     "dim_out": 512, **hparams}}, path)
    return path


def test_lightning_checkpoint_loads_with_identical_embeddings(model, tmp_path):
    path = _lightning(model, tmp_path / "encoder-operaCE.ckpt")
    loaded = build_encoder("opera-ce", weights=path, config="tiny")
    wav = _clip(2.0, 1)[None]
    with torch.inference_mode():
        assert torch.equal(loaded.embed(wav), model.embed(wav))


def test_safetensors_of_own_state_dict_loads(model, tmp_path):
    path = tmp_path / "ce.safetensors"
    save_safetensors(model.state_dict(), path)
    loaded = build_encoder("opera-ce", weights=path, config="tiny")
    wav = _clip(2.0, 2)[None]
    with torch.inference_mode():
        assert torch.equal(loaded.embed(wav), model.embed(wav))


@pytest.mark.parametrize("defect, key", [
    ("missing", "encoder.efficientnet._blocks.3._se_expand.bias"),
    ("missing", "encoder.cnn1.weight"),
    ("extra", "encoder.efficientnet._fc.weight"),
    ("reshaped", "encoder.efficientnet._conv_head.weight"),
])
def test_checkpoint_defects_name_the_key(model, tmp_path, defect, key):
    path = _lightning(model, tmp_path / "bad.ckpt")
    ckpt = torch.load(path, weights_only=True)
    sd = ckpt["state_dict"]
    if defect == "missing":
        del sd[key]
    elif defect == "extra":
        sd[key] = torch.zeros(1000, 1280)
    else:
        sd[key] = sd[key][:-1]
    torch.save(ckpt, path)
    title = {"missing": "missing", "extra": "unexpected", "reshaped": "wrong shape"}[defect]
    with pytest.raises(CheckpointError, match=f"{title}: .*{key.replace('encoder.', '', 1)}"):
        build_encoder("opera-ce", weights=path, config="tiny")


def test_ct_checkpoint_is_refused(model, tmp_path):
    path = _lightning(model, tmp_path / "encoder-operaCT.ckpt", encoder="htsat")
    with pytest.raises(CheckpointError, match="not an OPERA efficientnet checkpoint"):
        build_encoder("opera-ce", weights=path, config="tiny")


def test_batch_equals_singles(model):
    clips = torch.stack([_clip(3.0, s) for s in range(3)])
    with torch.inference_mode():
        batch = model.embed(clips)
        singles = torch.cat([model.embed(c[None]) for c in clips])
    # conv kernels may pick another algorithm for another batch size: equal up to float32 rounding
    assert (batch - singles).abs().max() <= 1e-4 * singles.abs().max()


@pytest.mark.parametrize("seconds, n_frames", [(0.05, 1), (60.0, 58)])
def test_very_short_and_very_long_clips(model, seconds, n_frames):
    """0.05 s is repeat-padded to min_seconds by prepare(); 60 s (1876 log-mel frames) runs whole."""
    wav = torch.from_numpy(model.prepare(_clip(seconds, 3).numpy()))[None]
    with torch.inference_mode():
        emb, fr = model.embed(wav), model.frames(wav)
    assert emb.shape == (1, 1280) and torch.isfinite(emb).all()
    assert fr.shape == (1, n_frames, 1280)
    torch.testing.assert_close(fr.mean(dim=1), emb, rtol=1e-5, atol=1e-6)


def test_min_seconds_is_the_shortest_input_that_runs(model):
    """Upstream fails below 34 log-mel frames; min_seconds is the first length that gives 34 frames."""
    assert 1 + int(OperaCE.spec.min_seconds * SR) // 512 == 34
    with torch.inference_mode():
        assert model.embed_from_logmel(torch.rand(1, 34, 64)).shape == (1, 1280)
        with pytest.raises(RuntimeError):      # the network itself cannot take 33 frames
            model.efficientnet(model.cnn1(torch.rand(1, 1, 33, 64)))
        with pytest.raises(ValueError, match="at least 34 log-mel frames"):
            model.embed_from_logmel(torch.rand(1, 33, 64))


def test_same_padding_is_fixed_for_224_pixel_images():
    """Padding of efficientnet_pytorch's Conv2dStaticSamePadding for image_size 224, whatever the input size."""
    net = OperaCE(OperaCE.configs["tiny"]).efficientnet
    pads = {name: m.static_padding.padding for name, m in net.named_modules()
            if isinstance(m, SameConv2d) and isinstance(m.static_padding, nn.ZeroPad2d)}
    assert pads["_conv_stem"] == (0, 1, 0, 1)                         # 3x3 s2 on 224: total 1
    assert pads["_blocks.0._depthwise_conv"] == (1, 1, 1, 1)          # 3x3 s1 on 112
    strided = [n for n in pads if n.endswith("_depthwise_conv") and net.get_submodule(n).stride == (2, 2)]
    assert [pads[n] for n in strided] == [(0, 1, 0, 1), (1, 2, 1, 2), (0, 1, 0, 1), (1, 2, 1, 2)]
    assert all(m.eps == 1e-3 for m in net.modules() if isinstance(m, nn.BatchNorm2d))


def test_lora_targets_are_exactly_the_1x1_convs(model):
    targets = model.spec.lora_targets
    hits = [(n, m) for n, m in model.named_modules() if any(n == t or n.endswith("." + t) for t in targets)]
    one_by_one = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    assert [n for n, _ in hits] == [n for n, _ in one_by_one]
    assert all(type(m) is nn.Conv2d and m.stride == (1, 1) and m.padding == (0, 0) for _, m in hits)


def test_peft_lora_on_the_targets_starts_as_the_base_model(model):
    from peft import LoraConfig, inject_adapter_in_model

    spec = torch.rand(1, 96, 64)
    base = build_encoder("opera-ce", config="tiny")
    base.load_state_dict(model.state_dict())
    with torch.inference_mode():
        want = base.embed_from_logmel(spec)
    lora = inject_adapter_in_model(LoraConfig(r=2, target_modules=list(model.spec.lora_targets)), base)
    n_blocks = len(lora.efficientnet._blocks)      # 4 per block, 3 in block 0 (no expansion), 1 head conv
    assert sum(hasattr(m, "lora_A") for m in lora.modules()) == 4 * n_blocks - 1 + 1
    with torch.inference_mode():
        torch.testing.assert_close(lora.embed_from_logmel(spec), want, rtol=1e-6, atol=1e-6)


def test_peft_refuses_a_same_padded_conv_target():
    """peft rebuilds the conv as type(base)(in, r, kernel, stride, padding): a same-padded conv must not accept it."""
    from peft import LoraConfig, inject_adapter_in_model

    with pytest.raises(TypeError):
        inject_adapter_in_model(LoraConfig(r=2, target_modules=["_conv_stem"]), build_encoder("opera-ce",
                                                                                             config="tiny"))


def test_input_seconds_cover_all_tasks():
    assert set(INPUT_SEC) == {f"T{i}" for i in range(1, 20)}
    assert INPUT_SEC["T8"] == 2.0 and INPUT_SEC["T19"] == 1.0


@pytest.mark.slow
def test_official_size_parameter_count():
    m = OperaCE(OperaCE.configs["official"])
    assert sum(p.numel() for p in m.parameters()) == 4_007_578      # == upstream Encoder (cnn1 + B0, no top)
    assert len(m.efficientnet._blocks) == 16
