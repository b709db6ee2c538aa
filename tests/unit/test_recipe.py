"""`--recipe acula`: the preset, its precedence under the config file and flags, epochs -> steps, the teacher it
requires, and `make reproduce-acula DRY_RUN=1` run end to end on CPU (tiny OPERA-GT, tiny Gemma 3 teacher in bf16)."""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
from pathlib import Path

import pytest

from align.checkpointing import config_fingerprint
from align.config import AlignConfig, add_arguments, config_from_args
from align.recipes import RECIPES, shaping_config, steps_for_epochs

ROOT = Path(__file__).resolve().parents[2]


def _config(argv: list[str]) -> AlignConfig:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return config_from_args(parser.parse_args(argv))


def test_recipe_sets_acula_settings():
    cfg = _config(["--recipe", "acula", "--teacher", "/models/medgemma-4b-pt"])
    assert (cfg.encoder, cfg.loss, cfg.ssl, cfg.cka_variant) == ("opera-gt", "cka", "mam", "linear")
    assert (cfg.lambda_align, cfg.lambda_ssl, cfg.head_hidden, cfg.head_out) == (1.0, 1.0, 1024, 512)
    assert (cfg.lr, cfg.weight_decay, cfg.warmup_steps, cfg.clip_grad) == (1e-5, 1e-2, 400, 1.0)
    assert (cfg.batch_size, cfg.grad_accum, cfg.epochs, cfg.full_finetune) == (24, 2, 50.0, True)
    assert (cfg.teacher_pooling, cfg.teacher_dtype, cfg.teacher_max_length) == ("mean", "bf16", 128)
    plain = _config([])
    assert (plain.recipe, plain.epochs, plain.full_finetune, plain.lr, plain.teacher_dtype) == (None, None, False,
                                                                                                 1e-4, "fp32")
    assert _config(["--recipe", "none"]).recipe is None


def test_precedence_defaults_recipe_config_file_flags(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"lr": 2e-5, "warmup_steps": 10, "teacher": "/models/t"}))
    cfg = _config(["--config", str(tmp_path / "c.json"), "--recipe", "acula", "--warmup-steps", "20",
                   "--no-full-finetune", "--teacher-dtype", "fp32"])
    assert cfg.lr == 2e-5 and cfg.warmup_steps == 20  # file over recipe, flag over file
    assert cfg.full_finetune is False and cfg.teacher_dtype == "fp32"  # flags over recipe
    assert cfg.weight_decay == 1e-2 and cfg.ssl == "mam" and cfg.epochs == 50.0  # the rest from the recipe
    # the recipe named in the file works the same; an explicit --steps replaces the recipe's epochs
    (tmp_path / "r.json").write_text(json.dumps({"recipe": "acula", "teacher": "/models/t"}))
    cfg = _config(["--config", str(tmp_path / "r.json"), "--steps", "7"])
    assert cfg.lr == 1e-5 and cfg.steps == 7 and cfg.epochs is None
    # train_config.json (every field resolved) reads back as the same config
    assert AlignConfig.from_dict(cfg.to_dict()) == cfg


def test_recipe_without_teacher_names_the_model_and_the_download(capsys):
    from align.__main__ import main

    with pytest.raises(SystemExit):
        main(["--recipe", "acula", "--tiny", "--dry-run"])
    err = capsys.readouterr().err
    assert "google/medgemma-4b-pt" in err and "hf download google/medgemma-4b-pt" in err and "--teacher" in err
    with pytest.raises(ValueError, match="medgemma"):
        AlignConfig.from_dict({"recipe": "acula"})


def test_epochs_to_steps():
    # floor(138 / 8) = 17 micro-batches per epoch; 0.1 epoch -> ceil(1.7) = 2 steps
    assert steps_for_epochs(0.1, 138, 8, 1) == 2
    assert steps_for_epochs(50, 1000, 24, 2) == 1025  # 41 batches x 50 / 2, rounded up
    with pytest.raises(ValueError, match="fewer than one batch"):
        steps_for_epochs(1, 5, 24, 2)
    # with epochs set, steps is derived: the fingerprint ignores it, so a resolved train_config.json resumes
    a = AlignConfig(teacher="/t", recipe="acula", epochs=50.0)
    b = AlignConfig(teacher="/t", recipe="acula", epochs=50.0, steps=1025)
    assert config_fingerprint(shaping_config(a)) == config_fingerprint(shaping_config(b))
    assert config_fingerprint(shaping_config(AlignConfig(steps=3))) != config_fingerprint(
        shaping_config(AlignConfig(steps=4)))


def test_real_target_commands():
    from align.reproduce_acula import build_parser, commands

    args = build_parser().parse_args(["--data-root", "/data", "--weights", "gt.ckpt", "--teacher", "/m/medgemma",
                                      "--device", "cuda", "--out", "runs/r"])
    align, base, aligned = commands(args)
    assert align[:6] == ["--recipe", "acula", "--weights", "gt.ckpt", "--teacher", "/m/medgemma"]
    for argv in (align, base, aligned):
        assert argv[argv.index("--tasks") + 1] == "opera,cardiac" and "--tiny" not in argv
        assert argv[argv.index("--data-root") + 1] == "/data" and argv[argv.index("--device") + 1] == "cuda"
    assert aligned == [*base, "--aligned", "runs/r/align"] and "--resume" in align
    assert set(RECIPES["acula"]) <= {f for f in AlignConfig.__dataclass_fields__}


def _make_dry_run_argv(out: Path) -> list[str]:
    """The arguments `make reproduce-acula DRY_RUN=1 OUT=...` passes to the driver (read from `make -n`)."""
    text = subprocess.run(["make", "-n", "reproduce-acula", "DRY_RUN=1", f"OUT={out}"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.replace("\\\n", " ")
    line = next(line for line in text.splitlines() if "align.reproduce_acula" in line)
    words = shlex.split(line)
    return words[words.index("align.reproduce_acula") + 1:]


def test_make_reproduce_acula_dry_run(tmp_path, monkeypatch, capsys):
    """The target's command sequence on CPU: align with the recipe (tiny Gemma 3 teacher, multimodal layout, bf16),
    then base and aligned scored on two demo tasks and the comparison table. About 40 s on 2 cores."""
    from align import model as align_model
    from align import teacher as align_teacher
    from align.reproduce_acula import main

    events = []
    release, forward = align_teacher.TextTeacher.release, align_model.AlignModel.forward
    monkeypatch.setattr(align_teacher.TextTeacher, "release", lambda self: events.append("release") or release(self))
    monkeypatch.setattr(align_model.AlignModel, "forward", lambda self, *a, **k: events.append("step") or
                        forward(self, *a, **k))
    argv = _make_dry_run_argv(tmp_path / "rep")
    assert "--dry-run" in argv
    assert main([*argv, "--no-progress"]) == 0
    out = tmp_path / "rep"
    assert events[0] == "release" and "step" in events  # the teacher is freed before the first training step

    teacher_config = json.loads((out / "teacher" / "config.json").read_text())
    assert teacher_config["model_type"] == "gemma3"
    info = json.loads((out / "align" / "align_config.json").read_text())
    assert info["recipe"] == "acula" and info["loss"] == "cka" and info["ssl"] == "mam"
    assert info["adapter"]["method"] == "full" and info["optimisation"]["lr"] == 1e-5
    teacher = info["teacher"]
    assert (teacher["dtype"], teacher["pooling"], teacher["prefix"]) == ("bfloat16", "mean", "")
    assert teacher["max_length"] == 128 and teacher["path"] == str(out / "teacher")
    n_train = info["data"]["items"]
    assert info["optimisation"]["epochs"] == 0.1
    assert info["optimisation"]["steps"] == steps_for_epochs(0.1, n_train, 8, 1) == 2
    log = capsys.readouterr().out
    assert f"0.1 epochs of {n_train} recordings" in log and "== 4/4 base vs aligned" in log

    comparison = (out / "comparison.md").read_text()
    for task in ("demo-wheeze-easy", "demo-murmur-easy"):
        assert task in comparison
    labels = {json.loads(p.read_text())["encoder_label"] for p in (out / "eval" / "records").rglob("*.json")}
    assert {"opera-gt-tiny", "opera-gt-tiny+aligned"} <= labels
