"""Every registered encoder, tiny configuration: the behavioural contract checks and the LoRA target rule.

Parametrised over the registry, so a new encoder file is tested the moment it exists.
"""

import pytest
import torch
from torch import nn

from adapters import build_encoder, list_encoders
from adapters._validate import validate_encoder

ENCODERS = list_encoders()


@pytest.mark.parametrize("name", ENCODERS)
def test_contract_checks_pass_on_tiny_config(name):
    torch.manual_seed(0)
    enc = build_encoder(name, config="tiny")
    failed = [f"{r.name}: {r.detail}" for r in validate_encoder(enc) if not r.ok]
    assert not failed, failed


@pytest.mark.parametrize("name", ENCODERS)
def test_lora_targets_match_only_linear_or_pointwise_conv(name):
    enc = build_encoder(name, config="tiny")
    for target in enc.spec.lora_targets:
        hits = [(n, m) for n, m in enc.named_modules() if n == target or n.endswith("." + target)]
        assert hits, f"{name}: LoRA target {target!r} matches no module"
        for n, m in hits:
            pointwise = isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)
            assert isinstance(m, nn.Linear) or pointwise, f"{name}: {target!r} hits {n} ({type(m).__name__})"


@pytest.mark.parametrize("name", ENCODERS)
def test_identity_names_the_encoder_and_hashes_short(name):
    a = build_encoder(name, config="tiny")
    assert a.identity()["encoder"] == name and len(a.identity_hash()) == 16
