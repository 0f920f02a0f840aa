#!/usr/bin/env python3
"""Exports the CLIP image tower of a safetensors CLIP to ONNX, for the onnxruntime-web peer of the
browser benchmark (harness/bench-driver.ts). Run with /usr/bin/python3 (Debian's python3-torch):

    /usr/bin/python3 weights/export_onnx.py --weights test/fixtures/weights/tiny/clip_openai.safetensors
    /usr/bin/python3 weights/export_onnx.py --weights weights/generated/vitb16/clip_openai.safetensors

The graph is the forward that seedmask's vision graph computes (src/models/clip/vision.ts) and that
bench/peers/torch_clip_vision.py times: conv1 -> [class; patches] + the positional table (resized to
the grid bilinearly, align_corners=False, rounded to float16 as CLIP-ES does) -> ln_pre -> blocks ->
ln_post on every token -> @ proj. Input `image` [1, 3, H, W] (normalised pixels), output `features`
[L, E] for all L = 1 + (H/16)(W/16) tokens. The positional table for the exported size is computed
here once and stored as a constant, so the ONNX graph holds only the forward itself. Weights are
float32 (ONNX's dtype for every op onnxruntime-web's WebGPU providers run).

Default output: clip_vision_<H>x<W>.onnx next to the weights. For the tiny test model (48x48) that
file is about 0.5 MB and committed; the ViT-B/16-sized one (~350 MB) goes to the git-ignored
weights/generated/ and is made on demand by the driver. Opset 17 exports LayerNorm as the single
LayerNormalization op.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch
from torch import nn

sys.dont_write_bytecode = True  # keep weights/ and bench/peers/ free of __pycache__
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "weights"))
sys.path.insert(0, os.path.join(ROOT, "bench", "peers"))
from torch_clip import build_clip  # noqa: E402
from torch_clip_vision import config_from_state_dict, features, positional_table, read_safetensors  # noqa: E402

OPSET = 17


class VisionFeatures(nn.Module):
    """image [1, 3, H, W] -> features [L, E], with the positional table of this size as a constant."""

    def __init__(self, visual: nn.Module, pos: torch.Tensor):
        super().__init__()
        self.visual = visual
        self.register_buffer("pos", pos)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return features(self.visual, image, self.pos)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", required=True, help="CLIP weights, safetensors in the OpenAI layout")
    ap.add_argument("--size", default=None, help="HxW model input (multiples of the patch); default the model's native size")
    ap.add_argument("--out", default=None, help="output .onnx (default: clip_vision_<H>x<W>.onnx next to the weights)")
    args = ap.parse_args()

    sd = read_safetensors(args.weights)
    cfg = config_from_state_dict(sd)
    model = build_clip(cfg)
    model.load_state_dict(sd, strict=True)
    model.float().eval()

    h, w = (cfg.image_size, cfg.image_size) if args.size is None else (int(v) for v in args.size.lower().split("x"))
    p = cfg.patch_size
    if h % p or w % p:
        raise SystemExit(f"--size {h}x{w}: both sides must be multiples of the patch ({p})")
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.weights)), f"clip_vision_{h}x{w}.onnx")

    with torch.no_grad():
        pos = positional_table(model.visual, h // p, w // p)
        module = VisionFeatures(model.visual, pos).eval()
        image = torch.zeros(1, 3, h, w)
        torch.onnx.export(module, (image,), out, input_names=["image"], output_names=["features"],
                          opset_version=OPSET, do_constant_folding=True)
        tokens = 1 + (h // p) * (w // p)
    print(json.dumps({"generator": "weights/export_onnx.py", "weights": args.weights, "out": out, "opset": OPSET,
                      "input": [1, 3, h, w], "output": [tokens, cfg.embed_dim], "bytes": os.path.getsize(out)}))


if __name__ == "__main__":
    main()
