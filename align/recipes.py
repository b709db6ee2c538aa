"""Named presets of AlignConfig fields (`python -m align --recipe NAME`) and the epochs -> steps conversion.

Precedence, lowest first: AlignConfig defaults < the recipe < the `--config FILE` < flags on the command line. The
recipe fills in only the fields that neither the file nor the flags give (AlignConfig.from_dict applies it); an
explicit `--steps` without `--epochs` replaces the recipe's epochs.

`acula`: AcuLa (arXiv 2512.04847, training details; github janine714/AcuLA @781a96b, main.py `parse_args`,
`load_language_teacher`, `train`; model.py `MLP`, `SelfSupervisedAudioAlignmentModel`; dataloader.py):
    encoder opera-gt                 main.py --audio_backbone operaGT (8 s + 3000 samples: OPERA-GT's 8.18 s clip)
    loss cka                         model.py compute_alignment_loss; cka_variant is left as configured (linear
                                     CKA by default; `acula-feature-gram` is upstream's formula, align.losses)
    ssl mam                          model.py: OPERA-GT's masked-spectrogram reconstruction loss (`mam_loss`)
    lambda_align 1, lambda_ssl 1     main.py --lambda_align 1.0 --lambda_mam 1.0
    heads 1024 -> 512                model.py MLP(384, 1024, 512) and MLP(2048, 1024, 512)
    lr 1e-5, weight_decay 1e-2       main.py --lr --weight_decay (AdamW over every trainable weight)
    warmup_steps 400, clip_grad 1    main.py --warmup_steps, clip_grad_norm_(max_norm=1.0)
    batch 24 x grad_accum 2          main.py --batch_size --grad_accum_steps (drop_last=True)
    50 epochs                        main.py --epochs; here `epochs` (steps computed at run start, see below)
    full fine-tuning                 main.py: the whole audio encoder trains (LoRA: --no-full-finetune)
    teacher google/medgemma-4b-pt    main.py --llm_type, bfloat16 (`load_language_teacher`), mean pooling of the
                                     last layer (model.py), reports up to 128 tokens (main.py --max_text_length)
    crop start                       dataloader.py: clips are cut at their start (`[:target_length]`)
Kept from this project, not AcuLa: head dropout 0 (AcuLa 0.2; see align.config), a cosine decay after the warm-up
(AcuLa: linear), mean pooling over real tokens only (AcuLa averages the padding in; see align.teacher).
The teacher is never downloaded: give `--teacher` a local checkpoint directory or a cached hub name.
"""

from __future__ import annotations

import math

ACULA_TEACHER = "google/medgemma-4b-pt"
RECIPES: dict[str, dict] = {
    "acula": dict(encoder="opera-gt", loss="cka", ssl="mam", lambda_align=1.0, lambda_ssl=1.0, head_hidden=1024,
                  head_out=512, lr=1e-5, weight_decay=1e-2, warmup_steps=400, clip_grad=1.0, batch_size=24,
                  grad_accum=2, epochs=50.0, full_finetune=True, teacher_pooling="mean", teacher_dtype="bf16",
                  teacher_max_length=128, crop="start"),
}
RECIPE_CHOICES = ("none", *RECIPES)


def apply_recipe(values: dict) -> dict:
    """AlignConfig fields with the named recipe (values["recipe"]) under them: given values win.

    Args:
        values: AlignConfig fields from a config file and/or flags; "recipe" None or "none" = no recipe.

    Returns:
        a new dict; "recipe" None when no recipe is named. An explicit "steps" without "epochs" drops the
        recipe's epochs (the user asked for a number of steps).
    """
    name = values.get("recipe")
    if name in (None, "none"):
        return {**values, "recipe": None} if "recipe" in values else dict(values)
    if name not in RECIPES:
        raise ValueError(f"AlignConfig.recipe = {name!r}; choose from {RECIPE_CHOICES}")
    preset = dict(RECIPES[name])
    if "steps" in values and values.get("epochs") is None:
        preset.pop("epochs", None)
    return {**preset, **values}


def check_recipe(cfg) -> None:
    """Requirements of a recipe that no default can meet (AcuLa: a local copy of its teacher)."""
    if cfg.recipe == "acula" and not cfg.teacher:
        raise ValueError(f"AlignConfig: --recipe acula reads reports with {ACULA_TEACHER}, which is never "
                         f"downloaded here: fetch it once (`hf download {ACULA_TEACHER}`, after accepting its terms "
                         f"on huggingface.co) and pass --teacher {ACULA_TEACHER} (found in the local Hugging Face "
                         f"cache) or --teacher /path/to/its/directory")


def recipe_departures(cfg) -> dict[str, tuple]:
    """Fields of a recipe run that differ from the recipe: {field: (value, recipe value)} (empty without one)."""
    if cfg.recipe is None:
        return {}
    preset = RECIPES[cfg.recipe]
    return {k: (getattr(cfg, k), v) for k, v in preset.items() if getattr(cfg, k) != v}


def steps_for_epochs(epochs: float, n_items: int, batch_size: int, grad_accum: int) -> int:
    """Optimizer steps of `epochs` passes: ceil(epochs * floor(n_items / batch_size) / grad_accum), at least 1.

    An epoch is floor(n_items / batch_size) micro-batches (the last incomplete batch is dropped, as in AcuLa's
    DataLoader(drop_last=True)); every grad_accum micro-batches make one step.
    """
    per_epoch = n_items // batch_size
    if per_epoch < 1:
        raise ValueError(f"{n_items} training items are fewer than one batch ({batch_size})")
    return max(1, math.ceil(epochs * per_epoch / grad_accum))


def shaping_config(cfg) -> dict:
    """The config as fingerprinted for resumption: with `epochs` set, `steps` is derived from it (and the data),
    so it is left out; a run restarted from its train_config.json (steps resolved) matches the original."""
    d = cfg.to_dict()
    if d.get("epochs") is not None:
        d.pop("steps", None)
    return d
