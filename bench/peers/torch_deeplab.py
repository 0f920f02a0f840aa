#!/usr/bin/env python3
"""CPU peer for bench/deeplab.bench.ts: the same DeepLab forward in PyTorch (CPU, float32), on the
same checkpoint and the same input, timed. Prints one JSON object on stdout.

    /usr/bin/python3 bench/peers/torch_deeplab.py --model deeplabv3_resnet101 \
        --weights weights/generated/deeplab/deeplabv3_resnet101.pth --input /tmp/x.npy \
        --warm 1 --threads 2 [--scales 0.5,0.75] [--logits-out /tmp/y.npy]

Models: torchvision deeplabv3_resnet50/101 (the `out` head; the aux head only when the checkpoint
has it, as seedmask does not run it unless asked: it is switched off here too), or the
deeplab-pytorch DeepLabV2-ResNet101 of weights/deeplab_torch.py with MSC at --scales ('' = single
scale). --input is a float32 .npy [1, 3, H, W] (already normalised); --logits-out saves the logits
at the input size for the benchmark's agreement check.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.dont_write_bytecode = True
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "weights"))
from deeplab_torch import DeepLabV2, MSC  # noqa: E402


def build(model: str, state: dict, scales):
    import torchvision.models.segmentation as seg
    if model.startswith("deeplabv3"):
        ctor = getattr(seg, model)
        has_aux = any(k.startswith("aux_classifier.") for k in state)
        m = ctor(weights=None, weights_backbone=None, num_classes=state["classifier.4.weight"].shape[0], aux_loss=has_aux)
        m.load_state_dict(state)
        m.aux_classifier = None  # seedmask's benchmark runs the main head only
        return lambda x: m(x)["out"], m
    width = state["base.layer1.conv1.conv.weight"].shape[0]
    classes = state["base.aspp.c0.weight"].shape[0]
    m = MSC(DeepLabV2(classes, (3, 4, 23, 3), (6, 12, 18, 24), width), scales)
    m.load_state_dict(state)

    def forward(x):
        y = m(x)
        return torch.nn.functional.interpolate(y, size=x.shape[2:], mode="bilinear", align_corners=False)

    return forward, m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--warm", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scales", default="0.5,0.75")
    ap.add_argument("--logits-out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    state = torch.load(args.weights, map_location="cpu")
    scales = [float(s) for s in args.scales.split(",") if s]
    forward, module = build(args.model, state, scales)
    module.eval()
    load_ms = 1000 * (time.perf_counter() - t0)
    x = torch.from_numpy(np.load(args.input).astype(np.float32))
    with torch.no_grad():
        t = time.perf_counter()
        y = forward(x)
        cold_ms = 1000 * (time.perf_counter() - t)
        warm = []
        for _ in range(args.warm):
            t = time.perf_counter()
            forward(x)
            warm.append(1000 * (time.perf_counter() - t))
    if args.logits_out:
        np.save(args.logits_out, y[0].numpy().astype(np.float32))
    print(json.dumps({
        "name": f"PyTorch {torch.__version__} CPU float32, {args.threads} threads ({args.model})",
        "torch": torch.__version__, "threads": args.threads, "load_ms": load_ms,
        "height": x.shape[2], "width": x.shape[3], "cold_ms": cold_ms, "warm_ms": warm,
    }))


if __name__ == "__main__":
    main()
