#!/usr/bin/env python3
"""CPU peer for bench/train.bench.ts: the same SGD training step in PyTorch (CPU, float32), on the
same initial weights and the same batch, timed. Prints one JSON object as its last stdout line.

    /usr/bin/python3 bench/peers/torch_train_step.py --inputs /tmp/case.safetensors \
        --warm 3 --steps 4 --threads 2

--inputs is a safetensors file written by the bench: the model's tensors under their PyTorch names
and layouts, `batch.images` (float32 [N, 3, H, W], normalised) and `batch.labels` (uint8 [N, H, W],
255 ignored), and a `settings` JSON in the metadata (model, config, optimizer, learning-rate
multipliers). Models:

  segmenter  weights/make_train_equivalence.py's Segmenter (the module the 20-step equivalence test
             trains against), BN in training mode; SGD with weight decay on 4-D weights only and the
             classifier at head_lr_mult times the rate, as that script and SegmenterTrainer group them
  deeplabv2  weights/deeplab_torch.py's DeepLabV2 (deeplab-pytorch's module names), every BN frozen
             as deeplab-pytorch's freeze_bn does and as seedmask's trainable DeepLab-v2 has them
             (eval mode, and γ, β without gradients: seedmask folds them into constants); logits
             resized to the input (bilinear, align_corners False), one cross-entropy; the ASPP
             (weights and biases) at head_lr_mult times the rate, weight decay on 4-D weights

One step: forward, F.cross_entropy(ignore_index=255), zero_grad(set_to_none=True), backward,
optimizer.step(), at a constant learning rate. The first step is the cold one; each warm sample is
`steps` steps and one loss.item(), divided by `steps` (the bench times seedmask the same way).
The FLOPs of every Conv2d's forward (2·MACs, from forward hooks on one extra forward) are reported
for the bench to compare with its own count.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "weights"))
from deeplab_torch import DeepLabV2  # noqa: E402
from make_train_equivalence import IGNORE, Segmenter, read_safetensors  # noqa: E402


def build(s: dict, tensors: dict[str, np.ndarray]) -> tuple[nn.Module, str]:
    cfg = s["config"]
    if s["model"] == "segmenter":
        model = Segmenter(cfg["classes"], cfg["widths"], cfg.get("inChannels", 3), s["bn_eps"], s["bn_momentum"])
        prefix = ""
    elif s["model"] == "deeplabv2":
        model = DeepLabV2(cfg["classes"], tuple(cfg["backbone"]["blocks"]), tuple(cfg["rates"]), cfg["backbone"]["stem"])
        prefix = s.get("prefix", "")
    else:
        raise SystemExit(f"unknown model {s['model']!r}")
    state = model.state_dict()
    wanted = [k for k in state if not k.endswith("num_batches_tracked")]
    missing = [prefix + k for k in wanted if prefix + k not in tensors]
    if missing:
        raise SystemExit(f"inputs lack {missing[:5]}")
    model.load_state_dict({k: torch.from_numpy(tensors[prefix + k]) for k in wanted}, strict=False)
    model.train()
    if s["model"] == "deeplabv2":
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
                for p in m.parameters():
                    p.requires_grad_(False)
    return model, s["head_prefix"]


def optimizer(model: nn.Module, s: dict, head_prefix: str) -> torch.optim.Optimizer:
    o = s["optimizer"]
    groups: dict[tuple[bool, float], list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        key = (p.dim() == 4, s["head_lr_mult"] if name.startswith(head_prefix) else 1.0)
        groups.setdefault(key, []).append(p)
    return torch.optim.SGD(
        [{"params": ps, "weight_decay": o["weight_decay"] if decay else 0.0, "lr": o["lr"] * mult} for (decay, mult), ps in groups.items()],
        lr=o["lr"], momentum=o["momentum"],
    )


def conv_flops(model: nn.Module, x: torch.Tensor) -> int:
    total = 0

    def hook(m: nn.Conv2d, _inp, out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = m.kernel_size
        total += 2 * out.numel() * (m.in_channels // m.groups) * kh * kw

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        # Eval mode so that BN's running statistics stay as they are; each module's mode is put back.
        modes = [(m, m.training) for m in model.modules()]
        model.eval()
        with torch.no_grad():
            model(x)
        for m, mode in modes:
            m.training = mode
    finally:
        for h in handles:
            h.remove()
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--warm", type=int, default=3)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    tensors, meta = read_safetensors(args.inputs)
    s = json.loads(meta["settings"])
    x = torch.from_numpy(tensors.pop("batch.images"))
    y = torch.from_numpy(tensors.pop("batch.labels").astype(np.int64))
    model, head_prefix = build(s, tensors)
    opt = optimizer(model, s, head_prefix)
    size = x.shape[2:]
    if s["model"] == "deeplabv2":
        def forward(inp: torch.Tensor) -> torch.Tensor:
            return F.interpolate(model(inp), size=size, mode="bilinear", align_corners=False)
    else:
        forward = model
    load_ms = 1000 * (time.perf_counter() - t0)

    def step() -> torch.Tensor:
        loss = F.cross_entropy(forward(x), y, ignore_index=IGNORE)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    losses = []
    t = time.perf_counter()
    losses.append(step().item())
    cold_ms = 1000 * (time.perf_counter() - t)
    warm_ms = []
    for _ in range(args.warm):
        t = time.perf_counter()
        pending = [step() for _ in range(args.steps)]
        losses.extend(v.item() for v in pending)
        warm_ms.append(1000 * (time.perf_counter() - t) / args.steps)
    flops = conv_flops(model, x)
    print(json.dumps({
        "name": f"PyTorch {torch.__version__} CPU float32, {args.threads} threads ({s['model']})",
        "torch": torch.__version__,
        "threads": args.threads,
        "load_ms": load_ms,
        "cold_ms": cold_ms,
        "steps_per_sample": args.steps,
        "warm_ms": warm_ms,
        "losses": losses,
        "conv_forward_flops": flops,
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
    }))


if __name__ == "__main__":
    main()
