"""Everything an alignment run holds, and how it starts, resumes and ends (the loop is align.train._loop;
the model, objective, optimizer and schedule come from align.model, so this module never imports align.train).

`prepare_run` builds, in this order (the order fixes what the seed produces): the base encoder (random weights
come from build_encoder's fixed init seed), the alignment items and their reports, the teacher embeddings (computed
once, cached on disk; rank 0 first so the other processes read its cache; then the teacher is freed), the
frozen copy of the base for the mfd term, LoRA (or full fine-tuning), the heads, AdamW and the warm-up/cosine
schedule. With `resume` it then loads the newest checkpoint, including this process's RNG state.
`AlignRun.finish` computes the held-out alignment loss and writes the aligned directory (align.aligned.save_aligned).
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import Tensor, nn

from align.config import AlignConfig


@dataclass
class AlignRun:
    cfg: AlignConfig
    out: Path
    encoder: nn.Module
    peft_model: object
    base: nn.Module | None
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    dataset: object
    val_items: list
    train_text: Tensor
    val_text: Tensor
    data: object
    teacher: object
    base_info: dict
    trainable: dict
    sample_rate: int
    train_samples: int
    fingerprint: str
    device: str
    world: int
    step: int = 0
    micro: int = 0
    history: list = field(default_factory=list)
    t0: float = field(default_factory=time.perf_counter)

    def checkpoint_payload(self) -> dict:
        return {"fingerprint": self.fingerprint, "step": self.step, "micro": self.micro, "world": self.world,
                "trainable": self.model.trainable_state(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "history": self.history}

    def restore(self, payload: dict, rank: int) -> None:
        from align.checkpointing import set_rng_state

        if payload["world"] != self.world:
            raise ValueError(f"checkpoint written by {payload['world']} process(es), resuming with {self.world}: "
                             f"resume with the same torchrun --nproc_per_node")
        self.model.load_trainable_state(payload["trainable"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        self.step, self.micro, self.history = payload["step"], payload["micro"], list(payload["history"])
        set_rng_state(payload["rng"][rank])

    def write_log(self) -> None:
        from adapters._io import write_text

        write_text(self.out / "train_log.jsonl", "".join(json.dumps(h) + "\n" for h in self.history))

    @torch.no_grad()
    def val_loss(self) -> float | None:
        """Alignment loss of the held-out items, all at once (clips cropped at their start; eval mode)."""
        from align.data import ClipDataset

        if len(self.val_items) < 2:
            return None
        ds = ClipDataset(self.val_items, self.sample_rate, self.encoder.prepare, self.train_samples, "start",
                         self.cfg.seed, cache_audio=False)
        rows = []
        for start in range(0, len(ds), self.cfg.batch_size):
            wav = torch.stack([ds[i][0] for i in range(start, min(start + self.cfg.batch_size, len(ds)))])
            rows.append(self.model.audio_head(self.encoder.embed(wav.to(self.device))))
        audio, text = torch.cat(rows), self.model.text_head(self.val_text.to(self.device))
        return float(self.model.objective.align_loss(audio, text)["loss"])

    def finish(self) -> str:
        """Write the aligned directory; returns the adapter sha256."""
        from align.aligned import save_aligned
        from align.model import effective_ssl

        cfg = self.cfg
        self.model.set_training(False)
        tail = self.history[-min(10, len(self.history)):]
        final = {k: round(sum(h[k] for h in tail) / len(tail), 6) for k in (tail[0] if tail else {})
                 if k not in ("step", "lr")}
        final["val_align"] = self.val_loss()
        head_lr = cfg.head_lr if cfg.head_lr is not None else cfg.lr
        info = {
            "format": 1, "base": self.base_info, "teacher": self.teacher.identity(),
            "reports": {"writer": cfg.reports, "seed": cfg.report_seed, "llm_base_url": cfg.llm_base_url,
                        "llm_model": cfg.llm_model, "quality": _read_json(self.out / "report_quality.json")},
            "adapter": {"method": "full" if cfg.full_finetune else "lora", "rank": cfg.lora_rank,
                        "alpha": cfg.lora_alpha, "dropout": cfg.lora_dropout,
                        "targets": list(self.encoder.spec.lora_targets), **self.trainable},
            "loss": cfg.loss, "cka_variant": cfg.cka_variant, "ssl": effective_ssl(cfg),
            "lambda_align": cfg.lambda_align, "lambda_ssl": cfg.lambda_ssl,
            "data": {**self.data.summary(), "train_seconds": self.train_samples / self.sample_rate,
                     "crop": cfg.crop, "reports_example": self.dataset.items[0].report},
            "optimisation": {"steps": self.step, "batch_size": cfg.batch_size, "grad_accum": cfg.grad_accum,
                             "epochs": cfg.epochs, "lr": cfg.lr, "head_lr": head_lr, "weight_decay": cfg.weight_decay,
                             "warmup_steps": cfg.warmup_steps, "clip_grad": cfg.clip_grad, "processes": self.world},
            "recipe": cfg.recipe, "seed": cfg.seed, "final_losses": final, "config_fingerprint": self.fingerprint,
            "wall_time_s": round(time.perf_counter() - self.t0, 1), "versions": _versions(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        sha = save_aligned(self.out, self.encoder, self.peft_model, self.model.audio_head, self.model.text_head, info,
                           trained_sha256=[i.sha256 for i in self.dataset.items])
        self.write_log()
        from align.model_card import write_model_card

        write_model_card(self.out)   # README.md: the Hugging Face model card (refresh: python -m align card)
        print(f"aligned encoder written to {self.out} (adapter sha256 {sha[:16]}; final losses {final})", flush=True)
        return sha


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _versions() -> dict:
    import peft
    import transformers

    return {"torch": torch.__version__, "peft": peft.__version__, "transformers": transformers.__version__}


def frozen_copy(encoder: nn.Module, share_weights: bool) -> nn.Module:
    """A frozen eval-mode copy of `encoder` (the mfd term's base). With `share_weights` (LoRA, where the encoder's
    own weights and buffers stay frozen and untouched) the copy holds the very same parameter and buffer tensors,
    so the base costs no second copy of the weights; otherwise (full fine-tuning) it owns a copy. Freezes the
    shared tensors, which LoRA freezes anyway."""
    memo = {id(t): t for t in (*encoder.parameters(), *encoder.buffers())} if share_weights else {}
    return copy.deepcopy(encoder, memo).requires_grad_(False).eval()


def _rank0_first(dist, fn):
    """fn() on rank 0, then on the other ranks (which then find rank 0's caches and generated data)."""
    result = fn() if dist.main else None
    dist.barrier()
    return result if dist.main else fn()


def finished_run(cfg: AlignConfig) -> bool:
    """True when `--resume` points at a finished run of the same settings (nothing left to do).

    Raises:
        ValueError: the finished run in OUT was made with other settings.
    """
    from align.aligned import ALIGN_CONFIG
    from align.checkpointing import RESUME_FREE, config_fingerprint
    from align.recipes import shaping_config

    path = cfg.out_dir() / ALIGN_CONFIG
    if not (cfg.resume and path.is_file()):
        return False
    found = json.loads(path.read_text()).get("config_fingerprint")
    if found != config_fingerprint(shaping_config(cfg)):
        raise ValueError(f"{path}: a finished run with other settings (fingerprint {found}); resume it with its "
                         f"train_config.json (--config) or choose another --out. Only {', '.join(RESUME_FREE)} "
                         f"may change on --resume")
    return True


def _check_out(cfg: AlignConfig, out: Path) -> Path | None:
    """The checkpoint to resume from (None = fresh start); refuses to mix a new run into an old one."""
    from align.aligned import ALIGN_CONFIG
    from align.checkpointing import latest_checkpoint

    latest = latest_checkpoint(out)
    if cfg.resume:
        if latest is None:
            print(f"--resume: no checkpoint in {out / 'checkpoints'}; starting at step 0", flush=True)
        return latest
    if latest is not None or (out / ALIGN_CONFIG).exists():
        raise FileExistsError(f"{out}: holds an earlier alignment run; pass --resume to continue it, or choose "
                              f"another --out (or delete the folder)")
    return None


def prepare_run(cfg: AlignConfig, dist, device: str) -> AlignRun:
    """Build a run from its config (see the module docstring); resumes from OUT/checkpoints with cfg.resume."""
    from adapters import build_encoder, get_encoder_class
    from adapters._io import write_json
    from align.aligned import base_identity, save_base_weights
    from align.audio_check import apply_policy, check_audio, merge_errors
    from align.checkpointing import config_fingerprint, load_latest_valid
    from align.data import ClipDataset, collect_for, write_reports
    from align.heads import ProjectionHead
    from align.lora import apply_lora, format_summary, prepare_full_finetune, trainable_summary
    from align.malloc_policy import trim
    from align.model import AlignModel, build_objective, build_optimizer, effective_ssl, warmup_cosine
    from align.recipes import recipe_departures, shaping_config, steps_for_epochs
    from align.report_quality import check_teachable, summarize_reports
    from align.teacher import TextTeacher

    t0 = time.perf_counter()
    out = cfg.out_dir()
    fingerprint = config_fingerprint(shaping_config(cfg))  # with epochs set, steps (derived below) is left out
    ckpt = _check_out(cfg, out)
    say = print if dist.main else (lambda *a, **k: None)  # a few lines of facts; --no-progress only hides the bar
    if cfg.recipe:
        changed = ", ".join(f"{k}={v!r} (recipe {r!r})" for k, (v, r) in recipe_departures(cfg).items())
        say(f"recipe {cfg.recipe} (align/recipes.py){'; overridden: ' + changed if changed else ''}", flush=True)
    if cfg.batch_size % dist.world:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by the {dist.world} processes")

    ssl = effective_ssl(cfg)
    if ssl == "mam" and not hasattr(get_encoder_class(cfg.encoder), "masked_reconstruction_loss"):
        raise ValueError(f"--ssl mam: encoder {cfg.encoder!r} has no masked_reconstruction_loss (only OPERA-GT has "
                         f"its pretraining objective); use --ssl mfd or --ssl none")
    torch.manual_seed(cfg.seed)
    encoder = build_encoder(cfg.encoder, weights=cfg.weights, config=cfg.encoder_config(),
                            trust_checkpoint=cfg.trust_checkpoint, device=device)
    base_info = {**base_identity(encoder), "tiny": cfg.tiny, "random_init": cfg.weights is None,
                 "weights_path": cfg.weights, "weights_source": getattr(encoder, "weights_source", None)}
    if cfg.weights is None and dist.main:  # random weights: keep an exact copy beside the adapter
        base_info["base_weights_sha256"] = save_base_weights(encoder, out)

    data = _rank0_first(dist, lambda: collect_for(cfg))
    # fail early: decode every recording now (training clips are kept when cache_audio; see align.audio_check)
    sr = encoder.spec.sample_rate
    keep = {i.path for i in data.train} if cfg.cache_audio else set()
    checked = check_audio(data.train + data.val, sr, encoder.prepare, keep, cfg.progress and dist.main,
                          *((0, 1) if cfg.cache_audio else (dist.rank, dist.world)), workers=cfg.num_workers)
    bad = checked.errors if cfg.cache_audio else merge_errors(*dist.gather_objects(checked.errors))
    data = apply_policy(data, bad, cfg.on_error, out, write=dist.main)
    writer = "template" if cfg.reports == "shuffled" else cfg.reports   # the control permutes template reports
    reports = dict(mode=writer, seed=cfg.report_seed, llm_base_url=cfg.llm_base_url, llm_model=cfg.llm_model,
                   cache_dir=cfg.cache_root())
    train_items = _rank0_first(dist, lambda: write_reports(data.train, **reports))
    if cfg.reports == "shuffled":
        from align.controls import shuffle_reports

        train_items = shuffle_reports(train_items, cfg.report_seed)
    val_items = _rank0_first(dist, lambda: write_reports(data.val, **reports))
    say(f"alignment data: {len(train_items)} training and {len(val_items)} held-out recordings from "
        f"{len(data.tasks)} task(s); {len(data.excluded)} excluded as test items or test subjects of some task"
        f"{' (test items ALLOWED)' if cfg.allow_test_items else ''}", flush=True)
    if cfg.epochs is not None:  # the step count follows from the training items (align.recipes.steps_for_epochs)
        cfg.steps = steps_for_epochs(cfg.epochs, len(train_items), cfg.batch_size, cfg.grad_accum)
        say(f"{cfg.epochs:g} epochs of {len(train_items)} recordings in batches of {cfg.batch_size} x "
            f"{cfg.grad_accum} = {cfg.steps} optimizer steps", flush=True)
    teacher = TextTeacher(cfg.teacher, device=cfg.teacher_device or device, max_length=cfg.teacher_max_length,
                          batch_size=cfg.teacher_batch_size, cache_dir=cfg.cache_root() / "text_embeddings",
                          dtype=cfg.teacher_dtype, pooling=cfg.teacher_pooling, prefix=cfg.teacher_prefix)
    train_text = _rank0_first(dist, lambda: teacher.encode([i.report for i in train_items]))
    val_text = _rank0_first(dist, lambda: teacher.encode([i.report for i in val_items]))
    teacher.release()  # embeddings computed once (and cached): the teacher's memory is free before training
    trim()
    quality = summarize_reports([i.report for i in train_items], [i.metadata for i in train_items], train_text,
                                [i.declaration for i in train_items])
    say(quality.describe(), flush=True)
    check_teachable(quality, cfg.reports)
    if dist.main:
        write_json(out / "report_quality.json", quality.to_dict())

    base = frozen_copy(encoder, share_weights=not cfg.full_finetune) if ssl == "mfd" else None
    if cfg.full_finetune:
        peft_model = None
        prepare_full_finetune(encoder)
    else:
        peft_model = apply_lora(encoder, cfg.lora_rank, cfg.lora_alpha, cfg.lora_dropout)
    trainable = trainable_summary(encoder)
    say(format_summary(trainable, f"{cfg.encoder} ({'full fine-tuning' if cfg.full_finetune else 'LoRA'})"),
        flush=True)
    audio_head = ProjectionHead(encoder.out_dim, cfg.head_hidden, cfg.head_out, cfg.head_dropout)
    text_head = ProjectionHead(teacher.dim, cfg.head_hidden, cfg.head_out, cfg.head_dropout)
    model = AlignModel(encoder, audio_head, text_head, build_objective(cfg), ssl, cfg.mam_mask_ratio).to(device)
    optimizer = build_optimizer(cfg, model)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(cfg.warmup_steps, cfg.steps))

    seconds = cfg.train_seconds or encoder.spec.clip_seconds or 8.0
    dataset = ClipDataset(train_items, sr, encoder.prepare, int(round(seconds * sr)), cfg.crop, cfg.seed,
                          cfg.cache_audio, preloaded=checked.clips)
    if len(dataset) // dist.world < cfg.batch_size // dist.world:
        raise ValueError(f"{len(dataset)} training recordings are fewer than one batch ({cfg.batch_size}); lower "
                         f"--batch-size or add --tasks")
    run = AlignRun(cfg, out, encoder, peft_model, base, model, optimizer, scheduler, dataset, val_items, train_text,
                   val_text, data, teacher, base_info, trainable, sr, dataset.train_samples, fingerprint, device,
                   dist.world, t0=t0)
    if ckpt is not None:
        ckpt, payload = load_latest_valid(out, fingerprint, say)
        if payload is None:
            say(f"no readable checkpoint in {out / 'checkpoints'}; starting at step 0", flush=True)
        else:
            run.restore(payload, dist.rank)
            say(f"resumed from {ckpt} at step {run.step}", flush=True)
    elif dist.main:
        write_json(out / "train_config.json", {**cfg.to_dict(), "out": str(out)})
    return run
