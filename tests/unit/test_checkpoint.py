"""Checkpoint safety and strict key checks shared by every encoder family."""

import argparse
import pickle

import pytest
import torch
from torch import nn

from adapters import CheckpointError
from adapters._checkpoint import check_state_dict, read_safetensors, save_safetensors, sha256_path, torch_load


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 4)
        self.b = nn.Linear(4, 2)


class _Opaque:  # stands for the non-tensor objects some Lightning checkpoints pickle
    pass


def test_missing_unexpected_and_reshaped_keys_are_named():
    net = _Net()
    state = dict(net.state_dict())
    state.pop("a.bias")
    state["extra.weight"] = torch.zeros(1)
    state["b.weight"] = torch.zeros(5, 5)
    with pytest.raises(CheckpointError) as info:
        check_state_dict(net, state, "model.ckpt")
    msg = str(info.value)
    assert "model.ckpt" in msg and "missing: a.bias" in msg and "unexpected: extra.weight" in msg
    assert "b.weight: checkpoint (5, 5) vs model (2, 4)" in msg


def test_ignored_prefixes_may_be_present():
    net = _Net()
    state = {**net.state_dict(), "text_model.w": torch.zeros(1)}
    check_state_dict(net, state, "x", ignore=("text_model.",))


def test_pickled_objects_are_refused_unless_trusted(tmp_path):
    path = tmp_path / "lightning.ckpt"
    torch.save({"state_dict": _Net().state_dict(), "hparams": _Opaque()}, path)
    with pytest.raises(CheckpointError, match="--trust-checkpoint"):
        torch_load(path)
    assert "state_dict" in torch_load(path, trust=True)


def test_refusal_names_the_pickled_class_on_one_plain_line(tmp_path):
    path = tmp_path / "namespace.pt"
    torch.save({"args": argparse.Namespace(lr=0.1), "w": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError) as info:
        torch_load(path)
    msg = str(info.value)
    assert "(argparse.Namespace)" in msg and "--trust-checkpoint" in msg and "python -m adapters convert" in msg
    assert "\x1b" not in msg and "\n" not in msg and msg.isprintable()
    assert isinstance(torch_load(path, trust=True)["args"], argparse.Namespace)


def test_refusal_without_a_class_name_keeps_a_sanitized_first_line(tmp_path, monkeypatch):
    path = tmp_path / "w.pt"
    torch.save({"w": torch.zeros(2)}, path)

    def refuse(*args, **kwargs):
        raise pickle.UnpicklingError("\x1b[1mWeights only load failed\x1b[0m.\x07 \n\tsecond line")

    monkeypatch.setattr(torch, "load", refuse)
    with pytest.raises(CheckpointError) as info:
        torch_load(path)
    msg = str(info.value)
    assert msg.endswith("(Weights only load failed.)") and "second line" not in msg
    assert msg.isprintable()


def test_plain_tensor_checkpoints_load_with_weights_only(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"state_dict": _Net().state_dict(), "epoch": 3}, path)
    assert torch_load(path)["epoch"] == 3


def test_garbage_and_missing_files_raise_checkpoint_error(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(pickle.dumps("nope")[:5])
    with pytest.raises(CheckpointError, match="bad.ckpt"):
        torch_load(bad)
    with pytest.raises(CheckpointError, match="not found"):
        torch_load(tmp_path / "absent.ckpt")


def test_safetensors_round_trip_keeps_tensors_and_metadata(tmp_path):
    net = _Net()
    save_safetensors(net.state_dict(), tmp_path / "w.safetensors", {"cfg": "{}"})
    state = read_safetensors(tmp_path / "w.safetensors")
    assert state.pop("__metadata__") == {"cfg": "{}"}
    for k, v in net.state_dict().items():
        assert torch.equal(state[k], v)


def test_sha256_changes_with_content(tmp_path):
    p = tmp_path / "w.pt"
    torch.save({"x": torch.zeros(2)}, p)
    h1 = sha256_path(p)
    torch.save({"x": torch.ones(2)}, p)
    assert sha256_path(p) != h1 and len(h1) == 64
