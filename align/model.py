"""The trainable alignment model and what trains it: objective, optimizer, learning-rate schedule.

align.run (which builds a run) and align.train (which loops over it) both import from here; neither imports
the other's internals, so there is no import cycle between them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from align.config import AlignConfig
from align.losses import (
    AlignmentObjective,
    CKALoss,
    InfoNCELoss,
    MaskedFrameDistillation,
    SigLIPLoss,
    apply_time_mask,
    frame_mask_from_samples,
)


def gather_rows(x: Tensor) -> Tensor:
    """[b, D] per process -> [b * world, D], differentiable (gradients flow back to the owning process)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return x
    if torch.distributed.get_world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x), dim=0)


# -- model -----------------------------------------------------------------------------------------------------
class AlignModel(nn.Module):
    """Encoder (LoRA-wrapped or fully trainable) + projection heads + objective; forward = one micro-batch's terms."""

    def __init__(self, encoder: nn.Module, audio_head: nn.Module, text_head: nn.Module,
                 objective: AlignmentObjective, ssl: str, mam_mask_ratio: float):
        super().__init__()
        self.encoder, self.audio_head, self.text_head, self.objective = encoder, audio_head, text_head, objective
        self.ssl, self.mam_mask_ratio = ssl, mam_mask_ratio

    def forward(self, wav: Tensor, text: Tensor, sample_mask: Tensor | None = None,
                teacher_frames: Tensor | None = None, generator: torch.Generator | None = None) -> dict:
        """wav [b, S] float32 in [-1, 1]; text [b, Dt] teacher embeddings; sample_mask [b, S] bool and
        teacher_frames [b, T, D] (mfd); generator (mam). Returns AlignmentObjective's terms."""
        audio = self.audio_head(self.encoder.embed(wav))
        text = self.text_head(text)
        ssl = None
        if self.ssl == "mfd":
            student = self.encoder.frames(apply_time_mask(wav, sample_mask))
            ssl = {"student_frames": student, "teacher_frames": teacher_frames,
                   "frame_mask": frame_mask_from_samples(sample_mask, student.shape[1])}
        elif self.ssl == "mam":
            ssl = self.encoder.masked_reconstruction_loss(wav, self.mam_mask_ratio, generator)
        return self.objective(gather_rows(audio), gather_rows(text), ssl)

    def set_training(self, training: bool) -> None:
        """Heads (and LoRA dropout) in train mode; the encoder itself always in eval mode."""
        self.train(training)
        self.encoder.eval()
        for name, module in self.encoder.named_modules():
            if "lora_dropout" in name.split("."):
                module.train(training)

    def trainable_state(self) -> dict[str, Tensor]:
        return {n: p.detach().cpu().clone() for n, p in self.named_parameters() if p.requires_grad}

    def load_trainable_state(self, state: dict[str, Tensor]) -> None:
        params = {n: p for n, p in self.named_parameters() if p.requires_grad}
        if set(params) != set(state):
            raise ValueError(f"checkpoint holds other trainable weights: missing {sorted(set(params) - set(state))[:5]}"
                             f", unexpected {sorted(set(state) - set(params))[:5]}")
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(state[n])


def build_objective(cfg: AlignConfig) -> AlignmentObjective:
    align = {"cka": lambda: CKALoss(cfg.cka_variant), "infonce": InfoNCELoss, "siglip": SigLIPLoss}[cfg.loss]()
    ssl = (MaskedFrameDistillation(cfg.mfd_mask_ratio, cfg.mfd_span_seconds, cfg.mfd_distance)
           if effective_ssl(cfg) == "mfd" else None)
    return AlignmentObjective(align, cfg.lambda_align, ssl, cfg.lambda_ssl if effective_ssl(cfg) != "none" else 0.0)


def effective_ssl(cfg: AlignConfig) -> str:
    return "none" if cfg.lambda_ssl == 0 else cfg.ssl


def warmup_cosine(warmup: int, total: int) -> Callable[[int], float]:
    """LR factor of optimizer step s (0-based): (s + 1) / warmup during warm-up, then cosine from 1 to 0."""

    def factor(s: int) -> float:
        if s < warmup:
            return (s + 1) / warmup
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (s - warmup) / max(1, total - warmup))))

    return factor


def build_optimizer(cfg: AlignConfig, model: AlignModel) -> torch.optim.Optimizer:
    """AdamW: encoder weights at lr, heads and loss parameters at head_lr (loss temperatures without decay)."""
    head_lr = cfg.head_lr if cfg.head_lr is not None else cfg.lr
    groups = [
        {"params": [p for p in model.encoder.parameters() if p.requires_grad], "lr": cfg.lr,
         "weight_decay": cfg.weight_decay},
        {"params": [*model.audio_head.parameters(), *model.text_head.parameters()], "lr": head_lr,
         "weight_decay": cfg.weight_decay},
        {"params": [p for p in model.objective.parameters() if p.requires_grad], "lr": head_lr, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]])
