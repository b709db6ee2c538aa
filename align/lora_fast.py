"""A LoRA forward for peft's Linear layers that never builds full-size temporaries (issue 12, item 5).

peft 0.21's `lora.Linear.forward` (huggingface/peft v0.21.0, src/peft/tuners/lora/layer.py, `Linear.forward`)
computes `result = base_layer(x); result = result + lora_B(lora_A(dropout(x))) * scaling`: three extra tensors of
the output's size ([..., out]) per wrapped layer and step, which glibc's allocator keeps, so LoRA on OPERA-GT peaked
higher than full fine-tuning. Here the same function is one matmul with the merged weight:

    y = x @ (W + s * B @ A)^T + b                 x [..., in], W [out, in], A [r, in], B [out, r], s = alpha / r

(W + s B A is [out, in], the size of the frozen weight, built once per call and freed), with a hand-written
backward that saves only what the forward was given (x, W, A, B; no output-sized tensor):

    dL/dx = g @ (W + s B A)        dL/dB = s * g^T (x A^T)        dL/dA = s * (g B)^T x        (g = dL/dy)

With LoRA dropout active (training, p > 0) the branch sees dropout(x) = x', so y = x W^T + b + s (x' A^T) B^T and
dL/dx' = s (g B) A flows back through the dropout. Anything else (merged or disabled adapters, several active
adapters, DoRA or other variants, a LoRA bias, trainable base weights, dtype casts, autocast, peft's mixed-batch
`adapter_names`) takes peft's own forward unchanged.

The module stays a peft `lora.Linear` (its class is swapped for the subclass `FastLoraLinear`), so its state dict,
`save_pretrained` output (adapter_config.json + adapter_model.safetensors) and merging are peft's own.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class _LoRALinearFn(torch.autograd.Function):
    """y = x W_eff^T + b with W_eff = W + s B A (x2 None), or x W^T + b + s (x2 A^T) B^T (x2 = dropout(x))."""

    @staticmethod
    def forward(ctx, x: Tensor, x2: Tensor | None, weight: Tensor, bias: Tensor | None, lora_a: Tensor,
                lora_b: Tensor, scale: float) -> Tensor:
        if x2 is None:
            y = F.linear(x, torch.addmm(weight, lora_b, lora_a, alpha=scale), bias)
        else:
            y = F.linear(x, weight, bias)
            y.add_(F.linear(F.linear(x2, lora_a), lora_b), alpha=scale)
        ctx.save_for_backward(x, x2, weight, lora_a, lora_b)
        ctx.scale = scale
        return y

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, x2, weight, lora_a, lora_b = ctx.saved_tensors
        s = ctx.scale
        src = x if x2 is None else x2                      # what the LoRA branch saw
        g2, s2 = grad.reshape(-1, grad.shape[-1]), src.reshape(-1, src.shape[-1])
        gb = g2 @ lora_b                                   # [M, r]
        grad_x = grad_x2 = grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            w = weight if x2 is not None else torch.addmm(weight, lora_b, lora_a, alpha=s)
            grad_x = grad @ w
        if x2 is not None and ctx.needs_input_grad[1]:
            grad_x2 = (gb @ lora_a).mul_(s).reshape(x2.shape)
        if ctx.needs_input_grad[4]:
            grad_a = (gb.t() @ s2).mul_(s)
        if ctx.needs_input_grad[5]:
            grad_b = (g2.t() @ (s2 @ lora_a.t())).mul_(s)
        return grad_x, grad_x2, None, None, grad_a, grad_b, None


def _peft_linear():
    from peft.tuners.lora.layer import Linear

    return Linear


def _fast_ok(layer, x: Tensor, kwargs: dict) -> str | None:
    """The single active adapter the fast forward can compute, or None when peft's forward must run."""
    if kwargs or layer.disable_adapters or layer.merged or getattr(layer, "fan_in_fan_out", False):
        return None
    active = [a for a in layer.active_adapters if a in layer.lora_A]
    if len(active) != 1 or active[0] in getattr(layer, "lora_variant", {}):
        return None
    name = active[0]
    base, a, b = layer.base_layer, layer.lora_A[name], layer.lora_B[name]
    if type(base) is not nn.Linear or a.bias is not None or b.bias is not None:
        return None
    if base.weight.requires_grad or (base.bias is not None and base.bias.requires_grad):
        return None
    if not (x.dtype == base.weight.dtype == a.weight.dtype == b.weight.dtype):
        return None
    if torch.is_autocast_enabled(x.device.type):
        return None
    return name


class FastLoraLinear(_peft_linear()):
    """peft's lora.Linear with the memory-lean forward of `_LoRALinearFn` (same function, same parameters)."""

    def forward(self, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        name = None if args else _fast_ok(self, x, kwargs)
        if name is None:
            return super().forward(x, *args, **kwargs)
        dropout = self.lora_dropout[name]
        x2 = dropout(x) if isinstance(dropout, nn.Dropout) and dropout.training and dropout.p > 0 else None
        base = self.base_layer
        return _LoRALinearFn.apply(x, x2, base.weight, base.bias, self.lora_A[name].weight,
                                   self.lora_B[name].weight, float(self.scaling[name]))


def use_fast_lora(model: nn.Module) -> int:
    """Swap every peft lora.Linear in `model` (exactly that class) to FastLoraLinear, in place; returns how many."""
    linear = _peft_linear()
    count = 0
    for module in model.modules():
        if type(module) is linear:
            module.__class__ = FastLoraLinear
            count += 1
    return count
