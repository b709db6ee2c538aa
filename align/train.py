"""The alignment trainer (AcuLa recipe, LoRA by default): `python -m align` and `train(AlignConfig)`.

One optimizer step = `grad_accum` micro-batches of `batch_size` clips (summed over processes). Per micro-batch:
    audio = audio_head(encoder.embed(wav))            text = text_head(teacher embedding of the clip's report)
    loss  = lambda_align * align_loss(audio, text) + lambda_ssl * ssl
with align_loss CKA (AcuLa), InfoNCE or SigLIP over the whole batch, and ssl one of
    mfd: MaskedFrameDistillation - the adapted encoder sees the clip with random spans silenced and must
         reproduce, at the masked frames, what the frozen base encoder computes on the clean clip;
    mam: OPERA-GT's masked-spectrogram reconstruction (`masked_reconstruction_loss`, AcuLa's term);
    none.
AdamW, linear warm-up then cosine decay to 0, gradient clipping. The encoder stays in eval mode (BatchNorm
statistics and its own dropout frozen; only the LoRA and head dropouts are active), so LoRA leaves every base
weight and buffer untouched. Teacher embeddings are computed once before training (and cached on disk).

Distributed: under `torchrun --nproc_per_node=N` each process takes every N-th clip of the same seeded
permutation (DistributedSampler), and the projections are all-gathered (with gradients) so that the batch-level
alignment loss is computed on the whole global batch, exactly as in one process; DDP then averages gradients.
The mfd masks are drawn for the global batch and split by rank, and each process weights its mfd term by its
share of the masked frames, so that without dropout the run follows the single-process one up to float
rounding (the mam term is averaged per process). Only rank 0 writes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import Tensor, nn

from align.config import AlignConfig
from align.losses import make_time_mask
from align.model import effective_ssl
from align.run import finished_run, prepare_run


# -- processes -------------------------------------------------------------------------------------------------
class Dist:
    """This process's place in a torchrun job (rank 0 of 1 without torchrun)."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        self.rank, self.local_rank = int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0))
        self.owns_group = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    def start(self, device: str) -> str:
        """Join the process group (gloo on CPU, nccl on GPU); return this process's device."""
        if device.startswith("cuda") and self.world > 1:
            device = f"cuda:{self.local_rank}"
            torch.cuda.set_device(device)
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if device.startswith("cuda") else "gloo")
            self.owns_group = True
        return device

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def mean(self, value: Tensor) -> Tensor:
        if self.world > 1:
            value = value.detach().clone()
            torch.distributed.all_reduce(value)
            value /= self.world
        return value

    def gather_objects(self, obj) -> list:
        if self.world == 1:
            return [obj]
        out = [None] * self.world
        torch.distributed.all_gather_object(out, obj)
        return out

    def stop(self) -> None:
        if self.owns_group:
            torch.distributed.destroy_process_group()


# -- the run ---------------------------------------------------------------------------------------------------
def train(cfg: AlignConfig, on_step: Callable[[int, dict], None] | None = None) -> Path:
    """Run (or resume) one alignment; returns the output directory (see align.aligned for its layout).

    on_step(step, terms) is called after every optimizer step (after any checkpoint of that step); tests use it
    to interrupt a run.
    """

    if finished_run(cfg):
        print(f"{cfg.out_dir()}: this alignment is already finished", flush=True)
        return cfg.out_dir()
    from align.malloc_policy import return_freed_memory

    return_freed_memory()   # activations go back to the OS when freed (align.malloc_policy)
    dist = Dist()
    device = dist.start(cfg.device)
    try:
        run = prepare_run(cfg, dist, device)
        _loop(cfg, run, dist, device, on_step)
        if dist.main:
            run.finish()
        dist.barrier()
        return run.out
    finally:
        dist.stop()


def _loop(cfg: AlignConfig, run, dist: Dist, device: str, on_step) -> None:
    from tqdm import tqdm

    from align.checkpointing import rng_state, save_checkpoint

    model, opt, sched, dataset = run.model, run.optimizer, run.scheduler, run.dataset
    ddp = model
    if dist.world > 1:
        ddp = nn.parallel.DistributedDataParallel(model, find_unused_parameters=cfg.full_finetune)
    local = cfg.batch_size // dist.world
    sampler = torch.utils.data.DistributedSampler(dataset, dist.world, dist.rank, shuffle=True, seed=cfg.seed,
                                                  drop_last=True)
    per_epoch = len(sampler) // local
    total = cfg.steps * cfg.grad_accum
    bar = tqdm(total=cfg.steps, initial=run.step, desc="align", disable=not (cfg.progress and dist.main))
    model.set_training(True)
    sums: dict[str, float] = {}
    while run.micro < total:
        epoch, start = divmod(run.micro, per_epoch)
        sampler.set_epoch(epoch)
        dataset.set_epoch(epoch)
        order = list(sampler)
        batches = [order[k * local:(k + 1) * local] for k in range(start, per_epoch)]
        loader = torch.utils.data.DataLoader(dataset, batch_sampler=batches, num_workers=cfg.num_workers,
                                             generator=torch.Generator())  # leaves the global RNG alone
        for wav, idx in loader:
            last = (run.micro + 1) % cfg.grad_accum == 0
            inputs = _inputs(cfg, run, dist, wav.to(device), idx, device)
            ctx = ddp.no_sync() if (dist.world > 1 and not last) else nullcontext()
            with ctx:
                terms = ddp(*inputs)
                (_backward_loss(cfg, terms, dist) / cfg.grad_accum).backward()
            for k, v in _log_terms(cfg, terms, dist).items():
                sums[k] = sums.get(k, 0.0) + v / cfg.grad_accum
            run.micro += 1
            if not last:
                continue
            nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], cfg.clip_grad)
            lr = opt.param_groups[0]["lr"]
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            run.step += 1
            entry = {"step": run.step, "lr": lr, **{k: round(v, 6) for k, v in sums.items()}}
            run.history.append(entry)
            sums = {}
            bar.update(1)
            bar.set_postfix({k: f"{v:.4f}" for k, v in entry.items() if k in ("loss", "align", "ssl")})
            if cfg.checkpoint_every and run.step % cfg.checkpoint_every == 0 and run.step < cfg.steps:
                states = dist.gather_objects(rng_state())
                if dist.main:
                    save_checkpoint(run.out, run.step, {**run.checkpoint_payload(), "rng": states},
                                    cfg.keep_checkpoints)
                    run.write_log()
                dist.barrier()
            if on_step is not None:
                on_step(run.step, entry)
            if run.micro >= total:
                break
    bar.close()
    model.set_training(False)


def _inputs(cfg: AlignConfig, run, dist: Dist, wav: Tensor, idx: Tensor, device: str) -> tuple:
    """Positional inputs of AlignModel.forward for one local micro-batch."""
    text = run.train_text[idx].to(device)
    ssl = effective_ssl(cfg)
    if ssl == "mfd":
        # masks of the whole global batch from a per-micro-step generator; this process's rows are rank::world
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + run.micro)
        mask = make_time_mask(wav.shape[0] * dist.world, wav.shape[1], cfg.mfd_mask_ratio,
                              int(round(cfg.mfd_span_seconds * run.sample_rate)), gen)[dist.rank::dist.world]
        with torch.no_grad():
            teacher = run.base.frames(wav)
        return wav, text, mask.to(device), teacher
    if ssl == "mam":
        gen = torch.Generator(device=device).manual_seed(cfg.seed * 1_000_003 + run.micro * 97 + dist.rank)
        return wav, text, None, None, gen
    return wav, text


def _backward_loss(cfg: AlignConfig, terms: dict, dist: Dist) -> Tensor:
    """The loss to differentiate. The mfd term is a mean over this process's masked frames; weighted by this
    process's share of all masked frames, DDP's gradient average equals the gradient of the global-batch mean."""
    loss = terms["loss"]
    if dist.world > 1 and "ssl/masked_fraction" in terms:
        frac = terms["ssl/masked_fraction"]
        loss = loss + cfg.lambda_ssl * terms["ssl"] * (frac / dist.mean(frac).clamp_min(1e-12) - 1.0)
    return loss


def _log_terms(cfg: AlignConfig, terms: dict, dist: Dist) -> dict[str, float]:
    """Scalar terms for the log, for the global batch: the alignment terms are global already; the mfd term is
    the mean over all processes' masked frames; other ssl terms are averaged over processes."""
    out = {}
    for k, v in terms.items():
        if not torch.is_tensor(v) or v.numel() != 1:
            continue
        out[k] = float(dist.mean(v.detach()) if k.startswith("ssl") else v.detach())
    if dist.world > 1 and "ssl/masked_fraction" in terms:
        frac = terms["ssl/masked_fraction"].detach()
        out["ssl"] = float(dist.mean(terms["ssl"].detach() * frac) / dist.mean(frac).clamp_min(1e-12))
    out["loss"] = cfg.lambda_align * out["align"] + (out["ssl"] * cfg.lambda_ssl if effective_ssl(cfg) != "none"
                                                     else 0.0)
    return out


# -- the demo --------------------------------------------------------------------------------------------------
# Tuned for the tiny OPERA-GT on the demo's train split (507 recordings) on 2 shared CPU cores, ~1 min. InfoNCE:
# at batch 16 linear CKA is a weak signal (a small batch's Grams are near the identity) and CKA runs did not
# lift the probes; the mfd term keeps the adapted encoder close to the base, which protects what the base
# already separates (without it the logistic-regression probe lost ground). Measured in the helper report.
DEMO_SETTINGS = dict(loss="infonce", ssl="mfd", steps=60, batch_size=16, grad_accum=1, lr=3e-3, warmup_steps=5,
                     checkpoint_every=20)


def align_for_demo(encoder_name: str = "opera-gt", config: str = "tiny", out_dir: str | Path | None = None,
                   cache_dir: str | Path | None = None, weights: str | None = None, progress: bool = True,
                   **overrides) -> Path:
    """Align an encoder (default: the tiny OPERA-GT) on the demo tasks' TRAIN split; returns the aligned directory.

    Args:
        config: "tiny" (random weights from build_encoder's fixed init seed) or "official" (pass `weights`).
        out_dir: default runs/align/<encoder>[-tiny]/.
        cache_dir: demo data and teacher-embedding cache (default $ACULA_ZOO_CACHE or ~/.cache/acula_zoo).
        overrides: any AlignConfig field, over DEMO_SETTINGS.
    A finished run with the same settings in out_dir is reused as is; an interrupted one is resumed. Evaluate
    base vs aligned with align.aligned.build_base(dir) and build_aligned(dir) (for a tiny encoder build_base is
    the plain tiny model, checked against the weights the adapter was trained on).
    """
    cfg = AlignConfig(encoder=encoder_name, tiny=config == "tiny", weights=weights, tasks="demo",
                      out=str(out_dir) if out_dir is not None else None,
                      cache_dir=str(cache_dir) if cache_dir is not None else None, progress=progress, resume=True,
                      **{**DEMO_SETTINGS, **overrides})
    _drop_stale_demo_run(cfg)
    return train(cfg)


def _drop_stale_demo_run(cfg: AlignConfig) -> None:
    """A demo output folder made with other settings (an older version's) is the demo's own output: start it
    anew instead of refusing to resume, and say so."""
    import shutil

    from align.checkpointing import config_fingerprint
    from align.recipes import shaping_config

    out = cfg.out_dir()
    saved = out / "train_config.json"
    if not saved.is_file():
        return
    try:
        old = json.loads(saved.read_text())
        old.pop("out", None)
        same = config_fingerprint(shaping_config(AlignConfig.from_dict(old))) == config_fingerprint(
            shaping_config(cfg))
    except (ValueError, TypeError):
        same = False
    if not same:
        print(f"{out}: made with other settings (an earlier version?); aligning the demo anew", flush=True)
        shutil.rmtree(out)
