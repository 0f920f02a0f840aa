"""DeepLab v2 (dilated ResNet + ASPP) with multi-scale (MSC) test-time inputs, in PyTorch, with the
module names -- and therefore the state-dict keys -- of kazuto1011/deeplab-pytorch
(libs/models/{resnet,deeplabv2,msc}.py at 4219467, `DeepLabV2_ResNet101_MSC`). Written for
seedmask's golden tests from a reading of that code (not copied from it):

  MSC                      keys under `base.` (a checkpoint saved from the MSC wrapper)
  base = DeepLabV2 (a Sequential):
    layer1  stem           conv1 = conv 7x7 stride 2 pad 3 (no bias) + bn + relu
                           pool  = MaxPool2d(3, stride 2, pad 1, ceil_mode=True)   <- ceil mode
    layer2..layer5         residual layers of n_blocks = [3, 4, 23, 3] bottlenecks, out channels
                           4w, 8w, 16w, 32w (w = 64): layer3 has stride 2; layer4 dilation 2;
                           layer5 dilation 4 (output stride 8). In block1 of each layer the stride
                           sits on the first 1x1 conv (`reduce`) and on the projection shortcut
                           (the MSRA/Caffe ResNet, not torchvision's stride on the 3x3).
      block{i}: reduce  (1x1, stride s)  + bn + relu       names: block{i}.reduce.conv/.bn
                conv3x3 (3x3, pad = dilation = d) + bn + relu
                increase (1x1) + bn (no relu)
                shortcut (block1 only: 1x1 stride s conv + bn; else identity, no keys)
                out = relu(increase + shortcut)
    aspp    c0..c3: 3x3 conv with bias, padding = dilation = rate in (6, 12, 18, 24), summed
  BatchNorm eps 1e-5 everywhere.

  MSC.forward (eval): logits = base(x); for s in (0.5, 0.75): base(F.interpolate(x,
  scale_factor=s, bilinear, align_corners=False)) resized bilinearly (align_corners=False) to the
  logits' size; result = element-wise max over the three.

`width` scales every channel count (64 -> w) so that test fixtures stay small; the topology and the
key layout do not change with it.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-5


class ConvBnRelu(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, padding: int, dilation: int, relu: bool = True):
        super().__init__()
        self.add_module("conv", nn.Conv2d(cin, cout, kernel, stride, padding, dilation, bias=False))
        self.add_module("bn", nn.BatchNorm2d(cout, eps=BN_EPS))
        if relu:
            self.add_module("relu", nn.ReLU())


class Bottleneck(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, dilation: int, project: bool):
        super().__init__()
        mid = cout // 4
        self.reduce = ConvBnRelu(cin, mid, 1, stride, 0, 1)
        self.conv3x3 = ConvBnRelu(mid, mid, 3, 1, dilation, dilation)
        self.increase = ConvBnRelu(mid, cout, 1, 1, 0, 1, relu=False)
        self.shortcut = ConvBnRelu(cin, cout, 1, stride, 0, 1, relu=False) if project else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.increase(self.conv3x3(self.reduce(x)))
        return F.relu(h + self.shortcut(x))


class ResLayer(nn.Sequential):
    def __init__(self, blocks: int, cin: int, cout: int, stride: int, dilation: int):
        super().__init__()
        for i in range(blocks):
            first = i == 0
            self.add_module(f"block{i + 1}", Bottleneck(cin if first else cout, cout, stride if first else 1, dilation, first))


class Stem(nn.Sequential):
    def __init__(self, cout: int):
        super().__init__()
        self.add_module("conv1", ConvBnRelu(3, cout, 7, 2, 3, 1))
        self.add_module("pool", nn.MaxPool2d(3, 2, 1, ceil_mode=True))


class ASPP(nn.Module):
    def __init__(self, cin: int, cout: int, rates: Sequence[int]):
        super().__init__()
        for i, r in enumerate(rates):
            self.add_module(f"c{i}", nn.Conv2d(cin, cout, 3, 1, padding=r, dilation=r, bias=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = None
        for conv in self.children():
            y = conv(x)
            out = y if out is None else out + y
        return out


class DeepLabV2(nn.Sequential):
    def __init__(self, n_classes: int, n_blocks: Sequence[int] = (3, 4, 23, 3), rates: Sequence[int] = (6, 12, 18, 24), width: int = 64):
        super().__init__()
        ch = [width * 2 ** p for p in range(6)]  # w, 2w, 4w, 8w, 16w, 32w
        self.add_module("layer1", Stem(ch[0]))
        self.add_module("layer2", ResLayer(n_blocks[0], ch[0], ch[2], 1, 1))
        self.add_module("layer3", ResLayer(n_blocks[1], ch[2], ch[3], 2, 1))
        self.add_module("layer4", ResLayer(n_blocks[2], ch[3], ch[4], 1, 2))
        self.add_module("layer5", ResLayer(n_blocks[3], ch[4], ch[5], 1, 4))
        self.add_module("aspp", ASPP(ch[5], n_classes, rates))


class MSC(nn.Module):
    def __init__(self, base: nn.Module, scales: Sequence[float] = (0.5, 0.75)):
        super().__init__()
        self.base = base
        self.scales = list(scales)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.base(x)
        size = logits.shape[2:]
        fused = logits
        for s in self.scales:
            h = F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)
            y = F.interpolate(self.base(h), size=size, mode="bilinear", align_corners=False)
            fused = torch.max(fused, y)
        return fused


def deeplabv2_resnet101_msc(n_classes: int = 21, width: int = 64) -> MSC:
    return MSC(DeepLabV2(n_classes, (3, 4, 23, 3), (6, 12, 18, 24), width), (0.5, 0.75))
