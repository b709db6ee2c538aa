"""Activation recomputation for LoRA training: keep only each transformer block's input, recompute the block in
the backward pass (torch.utils.checkpoint, non-reentrant; the RNG state is replayed, so LoRA dropout draws the
same masks).

With LoRA the activations, not the weights, are what a step holds: for official-size OPERA-GT at batch 4 about
1.3 GB of saved tensors against 0.4 GB for full fine-tuning's gradients and AdamW state. Recomputing the blocks
keeps one block's activations at a time. The extra forward costs about what LoRA saves in the backward (no weight
gradients of the frozen layers), so a LoRA step stays near a full fine-tuning step. Same function, same gradients
(up to float rounding: the recomputation repeats the forward exactly).
"""

from __future__ import annotations

from torch import nn
from torch.utils.checkpoint import checkpoint

_SUBCLASSES: dict[type, type] = {}


def _recomputed(cls: type) -> type:
    """`cls` with a forward that runs under torch.utils.checkpoint while gradients are enabled."""
    if cls not in _SUBCLASSES:
        def forward(self, *args, **kwargs):
            import torch

            if not torch.is_grad_enabled():
                return super(sub, self).forward(*args, **kwargs)
            return checkpoint(super(sub, self).forward, *args, use_reentrant=False, **kwargs)

        sub = type(f"Recomputed{cls.__name__}", (cls,), {"forward": forward, "__module__": cls.__module__})
        _SUBCLASSES[cls] = sub
    return _SUBCLASSES[cls]


def recompute_lora_blocks(model: nn.Module) -> list[str]:
    """Recompute, in the backward pass, every entry of an nn.ModuleList that holds a LoRA layer (the outermost
    such entries: a transformer's blocks or layers), in place; returns their names. Modules keep their parameters
    and state-dict keys (only their class becomes a subclass)."""
    from align.lora import is_lora_layer

    done: list[str] = []
    for name, module in model.named_modules():
        if not isinstance(module, nn.ModuleList) or any(name.startswith(d + ".") for d in done):
            continue
        for i, block in enumerate(module):
            if any(is_lora_layer(m) for m in block.modules()):
                if type(block) not in _SUBCLASSES.values():      # idempotent
                    block.__class__ = _recomputed(type(block))
                done.append(f"{name}.{i}" if name else str(i))
    return done
