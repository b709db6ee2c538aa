"""The encoder registry and build_encoder: names, configs, the official-weights rule, fast listing."""

import subprocess
import sys
from pathlib import Path

import pytest

from adapters import UnknownEncoderError, build_encoder, list_encoders
from adapters._listing import static_encoder_cards
from adapters._registry import get_encoder_class, resolve_config

ROOT = Path(__file__).resolve().parents[2]


def test_unknown_name_suggests_close_names():
    with pytest.raises(UnknownEncoderError) as info:
        build_encoder("opensmile-egemap")
    assert "Did you mean opensmile-egemaps" in str(info.value)


def test_static_listing_agrees_with_the_imported_registry():
    assert [c["name"] for c in static_encoder_cards()] == list_encoders()


def test_every_registered_spec_is_a_complete_model_card():
    for name in list_encoders():
        spec = get_encoder_class(name).spec
        assert spec.sample_rate > 0 and spec.embed_dim > 0
        assert spec.paper and spec.repo and spec.license and spec.weights, f"{name}: incomplete model card"


def test_official_config_without_weights_says_where_weights_are():
    needs = [n for n in list_encoders() if get_encoder_class(n).spec.requires_weights]
    for name in needs:
        with pytest.raises(ValueError, match="Download them from"):
            build_encoder(name)


def test_config_overrides_apply_on_top_of_a_base():
    cls = get_encoder_class("logmel-stats")
    cfg = resolve_config(cls, {"base": "tiny", "hop": 320})
    assert cfg["hop"] == 320 and cfg["n_mels"] == 64
    with pytest.raises(ValueError, match="unknown config keys"):
        resolve_config(cls, {"hopp": 1})
    with pytest.raises(ValueError, match="unknown config"):
        resolve_config(cls, "huge")


def test_cli_listing_does_not_import_torch():
    code = ("import sys; sys.argv=['evaluate.py','--list-encoders']\nimport evaluate\nevaluate.main(sys.argv[1:])\n"
            "print('TORCH', 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "logmel-stats" in out.stdout and "TORCH False" in out.stdout


def test_list_tasks_cli_runs_without_torch():
    code = ("import sys; sys.argv=['evaluate.py','--list-tasks']\nimport evaluate\nevaluate.main(sys.argv[1:])\n"
            "print('TORCH', 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "TORCH False" in out.stdout


def test_random_weight_models_are_reproducible_and_leave_the_global_rng_alone():
    import torch

    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_encoder("opera-gt", config="tiny")
    after = torch.rand(1)
    b = build_encoder("opera-gt", config="tiny")
    assert torch.equal(before, after)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
