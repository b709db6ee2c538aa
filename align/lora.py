"""LoRA on an encoder's declared `spec.lora_targets`, with peft, after checking what the targets hit.

LoRA (Hu et al. 2021, arXiv 2106.09685) adds a trainable low-rank update B·A (rank r, scaled by alpha / r) beside
each targeted weight and freezes everything else; B starts at zero, so the adapted encoder starts equal to the
base. peft (huggingface/peft 0.21) matches a target name `t` against a module name `n` when `n == t` or
`n.endswith("." + t)`; `check_targets` applies the same rule first and insists that every target hits at least
one layer and only nn.Linear or 1x1 convolutions, because peft also wraps other convolutions by copying their
`padding` attribute, which is wrong for same-padding convs such as OPERA-CE's efficientnet layers.
"""

from __future__ import annotations

import difflib

from torch import nn

from adapters._errors import UserError


class LoRATargetError(UserError, ValueError):
    """A LoRA target of an encoder matches nothing, or matches a layer LoRA must not wrap."""


def target_matches(name: str, target: str) -> bool:
    """peft's rule for a list of target names: exact name or a dotted suffix of it."""
    return name == target or name.endswith("." + target)


def _allowed(module: nn.Module) -> bool:
    if isinstance(module, nn.Linear):
        return True
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        return all(k == 1 for k in module.kernel_size)
    return False


def _where(encoder: nn.Module) -> str:
    spec = getattr(encoder, "spec", None)
    name = getattr(spec, "name", type(encoder).__name__)
    return f"encoder {name!r} ({type(encoder).__module__}.{type(encoder).__name__}.spec.lora_targets)"


def check_targets(encoder: nn.Module, targets: tuple[str, ...] | list[str]) -> dict[str, list[str]]:
    """Module names each target matches.

    Raises:
        LoRATargetError: no targets; a target matching no module (with the closest module names); a target
            matching a module that is not nn.Linear or a 1x1 Conv1d/Conv2d (named, with its type).
    """
    if not targets:
        raise LoRATargetError(f"{_where(encoder)} is empty: declare the nn.Linear (or 1x1 conv) module-name "
                              f"suffixes LoRA may wrap, or align with --full-finetune")
    names = [n for n, _ in encoder.named_modules() if n]
    modules = dict(encoder.named_modules())
    found: dict[str, list[str]] = {}
    for target in targets:
        hits = [n for n in names if target_matches(n, target)]
        if not hits:
            close = difflib.get_close_matches(target, names, n=3, cutoff=0.3)
            hint = f"; closest module names: {', '.join(close)}" if close else ""
            raise LoRATargetError(f"{_where(encoder)}: target {target!r} matches no module{hint}. Fix the "
                                  f"target to a suffix of the model's in-memory module names")
        wrong = [f"{n} ({type(modules[n]).__name__}"
                 f"{' kernel ' + str(tuple(modules[n].kernel_size)) if hasattr(modules[n], 'kernel_size') else ''})"
                 for n in hits if not _allowed(modules[n])]
        if wrong:
            raise LoRATargetError(f"{_where(encoder)}: target {target!r} also matches {', '.join(wrong[:5])}"
                                  f"{' ...' if len(wrong) > 5 else ''}; LoRA may only wrap nn.Linear or 1x1 "
                                  f"convolutions. Use a longer suffix that excludes them")
        found[target] = hits
    return found


def apply_lora(encoder: nn.Module, rank: int = 8, alpha: float = 16.0, dropout: float = 0.0,
               targets: tuple[str, ...] | None = None, fast: bool = True, recompute: bool = True):
    """Wrap the encoder's target layers with LoRA, in place, and freeze every other weight.

    Args:
        encoder: an AudioEncoder (any nn.Module); it keeps its class and methods and gains the LoRA layers.
        rank, alpha, dropout: LoRA r, lora_alpha (update scale alpha / r) and lora_dropout.
        targets: module-name suffixes; default `encoder.spec.lora_targets`.
        fast: compute the wrapped nn.Linear layers with align.lora_fast (one matmul with W + s*B@A and a
            hand-written backward: no output-sized temporaries); False keeps peft's own forward. Same function,
            parameters and saved adapter either way.
        recompute: recompute each transformer block holding LoRA layers in the backward pass (align.recompute):
            the step then holds one block's activations instead of all of them. Same gradients.
    Returns:
        the peft.PeftModel around `encoder` (for `save_pretrained`); `encoder` itself now computes the adapted
        function.
    """
    from peft import LoraConfig, get_peft_model

    targets = tuple(targets if targets is not None else encoder.spec.lora_targets)
    check_targets(encoder, targets)
    config = LoraConfig(r=int(rank), lora_alpha=alpha, lora_dropout=float(dropout), target_modules=list(targets),
                        bias="none")
    peft_model = get_peft_model(encoder, config)
    if fast:
        from align.lora_fast import use_fast_lora

        use_fast_lora(encoder)
    if recompute:
        from align.recompute import recompute_lora_blocks

        recompute_lora_blocks(encoder)
    return peft_model


def prepare_full_finetune(encoder: nn.Module) -> nn.Module:
    """Every weight of the encoder trainable (AcuLa's setting); returns the encoder."""
    return encoder.requires_grad_(True)


def is_lora_layer(module: nn.Module) -> bool:
    return hasattr(module, "lora_A") and hasattr(module, "base_layer")


def has_lora(encoder: nn.Module) -> bool:
    """True when peft LoRA layers are injected in the encoder."""
    return any(is_lora_layer(m) for m in encoder.modules())


def trainable_summary(model: nn.Module) -> dict:
    """{"trainable": parameters with requires_grad, "total": all parameters, "share": trainable / total}."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": trainable, "total": total, "share": trainable / total if total else 0.0}


def format_summary(summary: dict, what: str = "encoder") -> str:
    return (f"{what}: {summary['trainable']:,} trainable of {summary['total']:,} parameters "
            f"({100 * summary['share']:.2f}%)")
