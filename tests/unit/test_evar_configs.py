"""plugin/evar/configs: the committed EVAR yamls are what make_configs writes, and their feature_d is the size the
encoder really returns through AR_AculaZoo (tiny: built and embedded; official: the registered spec)."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest
import torch

from adapters import get_encoder_class
from plugin.evar import AR_AculaZoo
from plugin.evar.make_configs import CONFIG_DIR, builtin_encoders, file_name, generate, run_name, stale_files

yaml = pytest.importorskip("yaml")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return generate()


def test_committed_configs_equal_the_generated_ones(generated):
    committed = {p.name: p.read_text() for p in CONFIG_DIR.glob("*.yaml")}
    assert sorted(committed) == sorted(generated)
    stale = [name for name, text in generated.items() if committed[name] != text]
    assert not stale, f"run `python -m plugin.evar.make_configs`; stale: {stale}"
    assert len(generated) == 2 * len(builtin_encoders()) and "acula-opera-gt-tiny.yaml" in generated


def test_each_config_names_its_encoder_and_official_feature_d_is_the_spec(generated):
    names = set()
    for encoder in builtin_encoders():
        cfg = yaml.safe_load(generated[file_name(encoder, "official")])
        assert (cfg["audio_repr"], cfg["encoder"], cfg["config"]) == ("ar_acula.AR_AculaZoo", encoder, "official")
        assert cfg["feature_d"] == get_encoder_class(encoder).spec.embed_dim
        assert cfg["weights"] is None and cfg["aligned"] is None and cfg["sample_rate"] == 16000
        names |= {cfg["name"], yaml.safe_load(generated[file_name(encoder, "tiny")])["name"]}
    assert "AculaZoo-opera-gt" in names and "AculaZoo-opera-gt-tiny" in names
    assert len(names) == len(generated)      # one EVAR run id prefix per file: results are never merged


@pytest.mark.parametrize("encoder", ["opera-gt", "opera-ce", "logmel-stats", "beats", "hear"])
def test_tiny_feature_d_is_what_the_built_encoder_returns_inside_evars_wrapper(encoder):
    cfg = yaml.safe_load((CONFIG_DIR / file_name(encoder, "tiny")).read_text())
    assert cfg["name"] == run_name(encoder, "tiny") and cfg["config"] == "tiny"
    ar = AR_AculaZoo(cfg).eval()      # raises when the yaml's feature_d disagrees with the encoder's output
    wav = (torch.randn(2, 3 * 16000, generator=torch.Generator().manual_seed(0)) * 0.1).clamp(-1, 1)
    with torch.no_grad():
        assert ar(wav).shape == (2, cfg["feature_d"])


def test_opera_gt_tiny_is_narrower_than_official(generated):
    """The toy width differs from the official one: the tiny yaml cannot reuse the spec's embed_dim."""
    tiny = yaml.safe_load(generated["acula-opera-gt-tiny.yaml"])["feature_d"]
    assert tiny == 32 and tiny != get_encoder_class("opera-gt").spec.embed_dim


def test_stale_files_names_a_hand_edited_and_an_unknown_file(tmp_path, generated):
    for name, text in generated.items():
        (tmp_path / name).write_text(text)
    assert stale_files(generated, tmp_path) == []
    (tmp_path / "acula-hear.yaml").write_text(generated["acula-hear.yaml"].replace("feature_d: 512", "feature_d: 5"))
    (tmp_path / "acula-gone.yaml").write_text("encoder: gone\n")
    msgs = stale_files(generated, tmp_path)
    assert len(msgs) == 2 and "acula-hear.yaml: differs" in msgs[0] and "acula-gone.yaml: not written" in msgs[1]


def test_package_data_ships_the_configs():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    patterns = [p.strip() for p in cfg["options.package_data"]["plugin.evar"].split(",")]
    assert patterns == ["*.yaml", "configs/*.yaml"]
