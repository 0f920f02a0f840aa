"""Golden fixtures for seedmask's DeepLab tests (test/models/deeplab/, test/kernels/pool.test.ts).

    /usr/bin/python3 weights/make_deeplab_goldens.py --out test/fixtures/deeplab
    /usr/bin/python3 weights/make_deeplab_goldens.py --full deeplabv3_resnet50 --full-out /tmp/dl.pth

Writes into --out:
  ops.json       PyTorch outputs of max/avg pooling (ceil_mode) and bilinear resampling
                 (align_corners False/True, size or scale_factor) on small random inputs
  <model>.pth    torch.save(state_dict) of three reduced-width models with random weights and
                 non-trivial batch-norm statistics (see `randomise`):
                   deeplabv3_resnet50_aux  torchvision deeplabv3_resnet50(aux_loss=True), channels / 32
                   deeplabv3_resnet101     torchvision deeplabv3_resnet101(), channels / 32
                   deeplabv2_resnet101     weights/deeplab_torch.py (deeplab-pytorch layout,
                                           `base.` keys of the MSC wrapper), width 2 (= 64 / 32)
  models.json + models.bin   per model: the input image and its outputs (float32, little endian;
                 the JSON gives each array's shape and byte offset). torchvision models: the
                 classifier's (and aux classifier's) logits before the final upsampling, and for
                 inputs up to 40x40 also the upsampled `out`/`aux`; DeepLab v2: the base model's
                 logits at scale 1, the MSC max-fused logits, and those upsampled to the input.
  full_keys.json every state-dict key with its shape of the FULL-SIZE models (real widths, 21
                 classes): deeplabv3_resnet50 with aux, deeplabv3_resnet101, deeplabv2_resnet101.
                 Tests check the layout module against it without any large file.

Reduced width keeps torchvision's own modules and forward code: the model is built by torchvision,
then every Conv2d/BatchNorm2d is replaced by one with each channel count divided by the factor
(except the 3 image channels and the class outputs). Key names, kernel sizes, strides, paddings,
dilations and the topology stay those of the real model.

--full NAME writes a full-size checkpoint with random weights (about 160-240 MB) to --full-out, for
manual load checks and benchmarks; it is never committed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models.segmentation import deeplabv3_resnet50, deeplabv3_resnet101

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deeplab_torch import DeepLabV2, MSC, deeplabv2_resnet101_msc  # noqa: E402

GENERATOR = "weights/make_deeplab_goldens.py"
N_CLASSES = 21


# --------------------------------------------------------------------------------------------
# Models


def shrink(model: nn.Module, factor: int, n_classes: int) -> nn.Module:
    """Divide every conv/BN channel count by `factor`, keeping image inputs (3) and class outputs."""
    def scaled(c: int, keep: int) -> int:
        if c == keep:
            return c
        assert c % factor == 0, (c, factor)
        return c // factor

    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.Conv2d):
                new = nn.Conv2d(scaled(child.in_channels, 3), scaled(child.out_channels, n_classes), child.kernel_size,
                                child.stride, child.padding, child.dilation, child.groups, child.bias is not None)
                setattr(module, child_name, new)
            elif isinstance(child, nn.BatchNorm2d):
                setattr(module, child_name, nn.BatchNorm2d(child.num_features // factor, eps=child.eps))
    return model


def build(name: str, factor: int):
    if name == "deeplabv3_resnet50_aux":
        m = deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=N_CLASSES, aux_loss=True)
    elif name == "deeplabv3_resnet50":
        m = deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=N_CLASSES, aux_loss=False)
    elif name == "deeplabv3_resnet101":
        m = deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=N_CLASSES, aux_loss=False)
    elif name == "deeplabv3_resnet101_aux":
        m = deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=N_CLASSES, aux_loss=True)
    elif name == "deeplabv2_resnet101":
        return deeplabv2_resnet101_msc(N_CLASSES, width=64 // factor)
    else:
        raise SystemExit(f"unknown model {name}")
    return shrink(m, factor, N_CLASSES) if factor > 1 else m


def batchnorms(model: nn.Module):
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


@torch.no_grad()
def randomise(model: nn.Module, calibration: torch.Tensor, seed: int) -> None:
    """Random conv weights (PyTorch's default init), then batch-norm statistics that are neither
    trivial (0/1) nor wildly off: running mean/var are measured on random inputs (train mode,
    cumulative average), then perturbed, and gamma/beta are random."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.reset_parameters()
    bns = batchnorms(model)
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    base = model.base if isinstance(model, MSC) else model
    base.train()
    base(calibration)  # one batch: the ASPP pooling branch's BN sees one value per image
    model.eval()
    for bn in bns:
        c = bn.num_features
        std = bn.running_var.sqrt()
        bn.running_mean += 0.2 * std * torch.randn(c, generator=g)
        bn.running_var *= 0.6 + 0.8 * torch.rand(c, generator=g)
        bn.weight.copy_(0.6 + 0.8 * torch.rand(c, generator=g))
        bn.bias.copy_(0.2 * torch.randn(c, generator=g))
        bn.momentum = 0.1


def image(seed: int, h: int, w: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, 3, h, w, generator=g)


# --------------------------------------------------------------------------------------------
# Fixture writing


class Arrays:
    def __init__(self):
        self.blob = bytearray()
        self.index = {}

    def add(self, name: str, t: torch.Tensor) -> str:
        a = np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4"))
        self.index[name] = {"shape": list(a.shape), "offset": len(self.blob)}
        self.blob += a.tobytes()
        return name


def ops_cases():
    g = torch.Generator().manual_seed(7)
    cases = []

    def add(name, op, x, y, **args):
        cases.append({"name": name, "op": op, "args": args, "x_shape": list(x.shape), "x": x.flatten().tolist(),
                      "y_shape": list(y.shape), "y": y.flatten().tolist()})

    x = torch.randn(1, 1, 14, 10, generator=g)
    add("3x3 s2 p1 ceil_mode, 14x10 (deeplab-pytorch stem)", "max_pool2d", x, F.max_pool2d(x, 3, 2, 1, ceil_mode=True), kernel=3, stride=2, padding=1, ceil_mode=True)
    add("3x3 s2 p1, 14x10 (torchvision stem)", "max_pool2d", x, F.max_pool2d(x, 3, 2, 1, ceil_mode=False), kernel=3, stride=2, padding=1, ceil_mode=False)
    y = torch.randn(1, 1, 7, 7, generator=g)
    add("2x2 s2 ceil_mode, 7x7", "max_pool2d", y, F.max_pool2d(y, 2, 2, 0, ceil_mode=True), kernel=2, stride=2, padding=0, ceil_mode=True)
    add("3x3 s2 p1 ceil_mode, count_include_pad, 14x10", "avg_pool2d", x, F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True), kernel=3, stride=2, padding=1, ceil_mode=True, count_include_pad=True)
    add("3x3 s2 p1 ceil_mode, no pad count, 14x10", "avg_pool2d", x, F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), kernel=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
    add("2x2 s2 ceil_mode, 7x7", "avg_pool2d", y, F.avg_pool2d(y, 2, 2, 0, ceil_mode=True), kernel=2, stride=2, padding=0, ceil_mode=True)
    z = torch.randn(1, 1, 13, 9, generator=g)
    for ac in (False, True):
        add(f"13x9 -> 21x17 align_corners={ac}", "bilinear", z, F.interpolate(z, size=(21, 17), mode="bilinear", align_corners=ac), size=[21, 17], align_corners=ac)
        add(f"13x9 -> 5x4 align_corners={ac}", "bilinear", z, F.interpolate(z, size=(5, 4), mode="bilinear", align_corners=ac), size=[5, 4], align_corners=ac)
    u = torch.randn(1, 1, 33, 41, generator=g)
    for s in (0.5, 0.75):
        add(f"33x41 scale_factor={s}", "bilinear", u, F.interpolate(u, scale_factor=s, mode="bilinear", align_corners=False), scale_factor=s, align_corners=False)
    return {"generator": GENERATOR, "torch": torch.__version__, "cases": cases}


MODELS = [
    # name, width divisor, input (H, W), seed
    ("deeplabv3_resnet50_aux", 32, (105, 121), 1),
    ("deeplabv3_resnet101", 32, (33, 41), 2),
    ("deeplabv2_resnet101", 32, (33, 41), 3),
]


@torch.no_grad()
def model_case(name: str, factor: int, size, seed: int, arrays: Arrays, out_dir: str):
    torch.manual_seed(seed)
    model = build(name, factor)
    calibration = torch.randn(4, 3, *size, generator=torch.Generator().manual_seed(seed + 100))
    randomise(model, calibration, seed)
    x = image(seed + 200, *size)
    case = {"name": name, "width_divisor": factor, "input": arrays.add(f"{name}.input", x), "outputs": {}}
    if isinstance(model, MSC):
        base = model.base(x)
        msc = model(x)
        case["outputs"]["base"] = arrays.add(f"{name}.base", base)
        case["outputs"]["msc"] = arrays.add(f"{name}.msc", msc)
        up = F.interpolate(msc, size=x.shape[2:], mode="bilinear", align_corners=False)
        case["outputs"]["msc_upsampled"] = arrays.add(f"{name}.msc_upsampled", up)
        case["scales"] = model.scales
        logits = up
    else:
        # The heads' outputs before the final upsampling, captured with forward hooks; the
        # upsampled `out` only for small inputs (it is the fixture's largest array).
        low = {}
        hooks = [getattr(model, head).register_forward_hook(lambda _m, _i, o, head=head: low.__setitem__(head, o))
                 for head in ("classifier", "aux_classifier") if getattr(model, head, None) is not None]
        out = model(x)
        for h in hooks:
            h.remove()
        case["outputs"]["out_lowres"] = arrays.add(f"{name}.out_lowres", low["classifier"])
        if "aux_classifier" in low:
            case["outputs"]["aux_lowres"] = arrays.add(f"{name}.aux_lowres", low["aux_classifier"])
        if x.shape[2] * x.shape[3] <= 40 * 40:
            case["outputs"]["out"] = arrays.add(f"{name}.out", out["out"])
            if "aux" in out:
                case["outputs"]["aux"] = arrays.add(f"{name}.aux", out["aux"])
        logits = out["out"]
    top2 = logits.topk(2, dim=1).values
    case["min_top2_margin"] = float((top2[:, 0] - top2[:, 1]).min())
    case["logit_absmax"] = float(logits.abs().max())
    path = os.path.join(out_dir, f"{name}.pth")
    torch.save(model.state_dict(), path)
    case["weights"] = os.path.basename(path)
    case["parameters"] = int(sum(t.numel() for t in model.state_dict().values()))
    return case


def full_keys():
    out = {}
    for name in ("deeplabv3_resnet50_aux", "deeplabv3_resnet101", "deeplabv2_resnet101"):
        m = build(name, 1)
        out[name] = [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in m.state_dict().items()]
    return {"generator": GENERATOR, "torch": torch.__version__, "torchvision": torchvision.__version__, "models": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="fixture folder (test/fixtures/deeplab)")
    ap.add_argument("--full", help="write a full-size random checkpoint of this model (e.g. deeplabv3_resnet101)")
    ap.add_argument("--full-out", help="where to write the --full checkpoint")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.full:
        if not args.full_out:
            raise SystemExit("--full needs --full-out")
        torch.manual_seed(args.seed)
        model = build(args.full, 1)
        model.eval()
        # Non-trivial statistics without a (slow) calibration pass at full size.
        g = torch.Generator().manual_seed(args.seed)
        with torch.no_grad():
            for bn in batchnorms(model):
                c = bn.num_features
                bn.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                bn.running_var.copy_(0.5 + torch.rand(c, generator=g))
                bn.weight.copy_(0.2 + 0.3 * torch.rand(c, generator=g))
                bn.bias.copy_(0.05 * torch.randn(c, generator=g))
        torch.save(model.state_dict(), args.full_out)
        print(f"wrote {args.full_out} ({sum(t.numel() for t in model.state_dict().values())} values)")
        return
    if not args.out:
        raise SystemExit("--out is required (or --full)")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "ops.json"), "w") as f:
        json.dump(ops_cases(), f)
    arrays = Arrays()
    cases = [model_case(n, k, s, seed, arrays, args.out) for n, k, s, seed in MODELS]
    header = {"generator": GENERATOR, "torch": torch.__version__, "torchvision": torchvision.__version__,
              "classes": N_CLASSES, "models": cases, "arrays": arrays.index, "bin_bytes": len(arrays.blob)}
    with open(os.path.join(args.out, "models.json"), "w") as f:
        json.dump(header, f, indent=1)
    with open(os.path.join(args.out, "models.bin"), "wb") as f:
        f.write(bytes(arrays.blob))
    with open(os.path.join(args.out, "full_keys.json"), "w") as f:
        json.dump(full_keys(), f)
    for c in cases:
        print(f"{c['name']}: {c['parameters']} values, |logit| max {c['logit_absmax']:.3g}, min top-2 margin {c['min_top2_margin']:.3g}")


if __name__ == "__main__":
    main()
