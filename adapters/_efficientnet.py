"""EfficientNet-B0 without its classifier, as the `efficientnet_pytorch` package builds it (OPERA-CE's backbone).

A port of github lukemelas/EfficientNet-PyTorch (`efficientnet_pytorch` 0.7.1, `model.py` and `utils.py`) for
`EfficientNet.from_name("efficientnet-b0", include_top=False, drop_connect_rate=...)`, the call in OPERA's
`src/model/models_cola.py`. Module names equal the package's (`_conv_stem`, `_blocks.N._expand_conv`, ...), so
its state dict keys load unchanged. Mirrors of the package's behaviour that matter numerically:

- "same" padding is static: every conv's zero padding is computed once, for the 224 x 224 image that
  efficientnet-b0's parameters name (its `image_size`), and then applied to inputs of any size. On OPERA's
  [T - 2, 62] inputs this is not TensorFlow "same" padding; it is what the pretrained weights saw.
- BatchNorm eps 1e-3, momentum 0.01 (the package's 1 - 0.99), Swish (x * sigmoid(x)) activations.
- Squeeze-and-excitation width max(1, int(block input filters * 0.25)); drop connect (stochastic depth) rate
  * block index / block count, in training mode only.
- The skip connection exists in the repeated blocks of a stage only. The package tests `stride == 1` where the
  first block of a stage holds its stride as a list ([1] != 1), so a first block never adds its input, even
  when a width multiplier makes its input and output filters equal (never the case in B0 itself).

Random initialisation (what a model without a checkpoint has) differs on purpose: efficientnet_pytorch keeps
torch's default conv init, under which a fresh B0 in eval mode (untrained BatchNorm = identity) shrinks its
activations to ~1e-13 by the head. Convs here start from the TensorFlow reference's fan-out normal init
(std sqrt(2 / (k * k * out / groups)), as timm's `_init_weight_goog`), which leaves ~1e-6: still small, but
well clear of float32 trouble. Loaded weights replace all of it.

Width/depth multipliers (`width`, `depth`) follow the package's round_filters / round_repeats; B0 is 1.0 / 1.0.
`head_channels` (default round_filters(1280)) is exposed so that a toy-width model can keep a 1280-d output.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# efficientnet-b0 stages: (repeats, kernel, stride, expand ratio, input filters, output filters); SE ratio 0.25.
B0_STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
             (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
SE_RATIO = 0.25
BN_EPS = 1e-3
BN_MOMENTUM = 0.01
DIVISOR = 8


def round_filters(filters: int, width: float) -> int:
    """Channels scaled by the width multiplier, rounded to a multiple of 8 and never more than 10% down."""
    if not width:
        return filters
    scaled = filters * width
    new = max(DIVISOR, int(scaled + DIVISOR / 2) // DIVISOR * DIVISOR)
    if new < 0.9 * scaled:
        new += DIVISOR
    return int(new)


def round_repeats(repeats: int, depth: float) -> int:
    """Blocks of a stage scaled by the depth multiplier, rounded up."""
    return repeats if not depth else int(math.ceil(depth * repeats))


class SameConv2d(nn.Conv2d):
    """A k x k conv (k > 1) with zero padding fixed for an `image_size` x `image_size` input: the package's
    Conv2dStaticSamePadding. `static_padding` pads (left, right, top, bottom); the conv's own `padding` stays 0.

    1x1 stride-1 convs get no padding in the package (an nn.Identity): they are built as plain nn.Conv2d here,
    with the same state-dict keys. `image_size` is keyword-only so that a caller that rebuilds a conv with
    nn.Conv2d's positional signature (peft's LoRA conv does `type(base)(in, r, kernel, stride, padding)`)
    fails at once instead of producing a branch that is padded differently from the base conv.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, *, groups: int = 1,
                 bias: bool = True, image_size: int):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding=0, groups=groups, bias=bias)
        out = math.ceil(image_size / stride)
        pad = max((out - 1) * stride + kernel_size - image_size, 0)
        self.static_padding = (nn.ZeroPad2d((pad // 2, pad - pad // 2, pad // 2, pad - pad // 2)) if pad
                               else nn.Identity())

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(self.static_padding(x))


def _conv1x1(c_in: int, c_out: int, bias: bool) -> nn.Conv2d:
    """Pointwise conv; "same" padding of a 1x1 stride-1 conv is empty for every image size."""
    return nn.Conv2d(c_in, c_out, kernel_size=1, bias=bias)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, momentum=BN_MOMENTUM, eps=BN_EPS)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand -> depthwise k x k (stride s) -> squeeze-excite -> 1x1 project (+ skip)."""

    def __init__(self, kernel: int, stride: int, expand: int, c_in: int, c_out: int, image_size: int,
                 skip: bool):
        super().__init__()
        self.expand, self.skip = expand, skip
        mid = c_in * expand
        if expand != 1:
            self._expand_conv = _conv1x1(c_in, mid, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid, bias=False, image_size=image_size)
        self._bn1 = _bn(mid)
        squeezed = max(1, int(c_in * SE_RATIO))
        self._se_reduce = _conv1x1(mid, squeezed, bias=True)
        self._se_expand = _conv1x1(squeezed, mid, bias=True)
        self._project_conv = _conv1x1(mid, c_out, bias=False)
        self._bn2 = _bn(c_out)

    def forward(self, inputs: Tensor, drop_rate: float = 0.0) -> Tensor:
        x = inputs
        if self.expand != 1:
            x = F.silu(self._bn0(self._expand_conv(x)))
        x = F.silu(self._bn1(self._depthwise_conv(x)))
        s = self._se_expand(F.silu(self._se_reduce(F.adaptive_avg_pool2d(x, 1))))
        x = self._bn2(self._project_conv(torch.sigmoid(s) * x))
        if self.skip:
            if drop_rate and self.training:
                keep = 1.0 - drop_rate
                mask = torch.floor(keep + torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device))
                x = x / keep * mask
            x = x + inputs
        return x


class EfficientNet(nn.Module):
    """Stem (3x3 stride 2) -> MBConv stages -> 1x1 head conv; features only (no pooling, no classifier).

    Args:
        width, depth: multipliers (1.0, 1.0 for B0).
        image_size: the image side the static padding is computed for (224 for B0).
        head_channels: output channels; None = round_filters(1280, width).
        drop_connect_rate: stochastic depth rate of the last block (training only).
    """

    def __init__(self, width: float = 1.0, depth: float = 1.0, image_size: int = 224,
                 head_channels: int | None = None, drop_connect_rate: float = 0.2):
        super().__init__()
        self.drop_connect_rate = drop_connect_rate
        stem = round_filters(32, width)
        self._conv_stem = SameConv2d(3, stem, 3, 2, bias=False, image_size=image_size)
        self._bn0 = _bn(stem)
        size = math.ceil(image_size / 2)
        self._blocks = nn.ModuleList()
        for repeats, kernel, stride, expand, c_in, c_out in B0_STAGES:
            c_in, c_out = round_filters(c_in, width), round_filters(c_out, width)
            for i in range(round_repeats(repeats, depth)):
                s = stride if i == 0 else 1
                self._blocks.append(MBConvBlock(kernel, s, expand, c_in if i == 0 else c_out, c_out, size,
                                                skip=i > 0))
                size = math.ceil(size / s)
        self.out_channels = head_channels or round_filters(1280, width)
        self._conv_head = _conv1x1(c_out, self.out_channels, bias=False)
        self._bn1 = _bn(self.out_channels)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):   # see the module docstring: random weights only
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))

    def forward(self, x: Tensor) -> Tensor:
        """[B, 3, H, W] -> [B, head_channels, H', W'] feature map (H' ~ H / 32 for large H)."""
        x = F.silu(self._bn0(self._conv_stem(x)))
        n = len(self._blocks)
        for i, block in enumerate(self._blocks):
            x = block(x, self.drop_connect_rate * i / n)
        return F.silu(self._bn1(self._conv_head(x)))
