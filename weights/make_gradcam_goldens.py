#!/usr/bin/env python3
"""Golden outputs of CLIP-ES's Softmax-Grad-CAM (docs/algorithms.md §3.3-3.5) from PyTorch autograd, for
seedmask's batched GPU Grad-CAM (src/wsss/gradcam.ts, test/wsss/gradcam.test.ts).

Usage (from the repository root; Debian's python3-torch, so /usr/bin/python3):

    /usr/bin/python3 weights/make_gradcam_goldens.py          # writes test/fixtures/gradcam/tiny.{json,bin}

    # ViT-B/16 dimensions (weights/make_test_weights.py --size vitb16): one VOC-sized RGBA image,
    # 500x375 -> 512x384 (grid 24x32), K = 3, M = 25; not committed (about 15 s of CPU)
    /usr/bin/python3 weights/make_gradcam_goldens.py --preset vitb16 \
        --weights weights/generated/vitb16/clip_state_dict.pt --out tmp/gradcam-golden/vitb16

Model: the tiny random CLIP of test/fixtures/weights/tiny (weights/make_test_weights.py; vision width
64, 2 blocks, 1 head, E = 32, logit_scale 2.65625, non-trivial LayerNorm weights and biases), loaded
strictly into weights/torch_clip.py. The Grad-CAM is weights/clip_es_torch.py's `grad_cam`: the fast
forward of blocks 0..L-2 under no_grad, the last block with autograd from A = ln_1(X), the head
ln_post -> mean over patch tokens -> @ proj -> L2 norm -> exp(logit_scale)·cos -> softmax over all text
rows, then for each label c: d p_c / d A, w_c = mean over patch tokens, cam = ReLU(A_patch w_c) and
the two float32 min-max passes (x - min) / (1e-7 + max).

Positional table: the exactly rounded float16 value of the bilinear formula (make_clip_golden.py's
`exact_f16_table`), which is what seedmask computes on the host. CLIP-ES's own float32 interpolation
moves some entries by one float16 ulp; `cams_torch32_nmse` in each case records how much that alone
changes the CAMs (a tolerance reference; it is not compared).

Cases (image sizes chosen awkward; the grid is H'/16 x W'/16):
    a  RGBA 40x56 (make_clip_golden.py's hash_rgba, seed 11) through CLIP-ES's preprocessing (Pillow
       bicubic on uint8 to 48x64, grid 3x4), K = 3 labels, M = 5 background rows
    b  normalised tensor 80x32 (hash_image, seed 12), grid 5x2, K = 1, M = 4
    c  normalised tensor 32x112 (hash_image, seed 13), grid 2x7, K = 2, M = 6, caa_layers = 1
Text rows are random normal rows of width E scaled by 0.5..2 (not normalised; the head normalises).

Per case, float32 arrays (the vitb16 preset skips the torch32 comparison): input [3, H', W'], text [K + M, E], probs [K + M], cams [K, gh, gw],
affinity [n, n] (mean of the last caa_layers head-averaged attention maps, class token row and column
removed), block_input [L, D] (X entering the last block, for the float64 reference of the test),
grad_weights [K, D] (w_c). Files: tiny.json (header, cases, array index) and tiny.bin (the arrays,
little-endian float32, back to back).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "weights"))
import clip_es_torch as ces  # noqa: E402

_spec = importlib.util.spec_from_file_location("make_clip_golden", os.path.join(ROOT, "test", "fixtures", "clip", "make_clip_golden.py"))
mcg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mcg)

# name, source, (H, W) before preprocessing, seed, K, M, caa_layers
PRESETS = {
    "tiny": {
        "weights": os.path.join("test", "fixtures", "weights", "tiny", "clip_state_dict.pt"),
        "out": os.path.join("test", "fixtures", "gradcam", "tiny"),
        "torch32": True,
        "cases": [
            ("a", "rgba", (40, 56), 11, 3, 5, 8),
            ("b", "hash", (80, 32), 12, 1, 4, 8),
            ("c", "hash", (32, 112), 13, 2, 6, 1),
        ],
    },
    "vitb16": {
        "weights": os.path.join("weights", "generated", "vitb16", "clip_state_dict.pt"),
        "out": os.path.join("tmp", "gradcam-golden", "vitb16"),
        "torch32": False,
        "cases": [("voc", "rgba", (375, 500), 21, 3, 25, 8)],
    },
}


def text_rows(rows: int, dim: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    t = torch.randn(rows, dim, generator=gen)
    return t * (0.5 + 1.5 * torch.rand(rows, 1, generator=gen))


def nmse(got: torch.Tensor, want: torch.Tensor) -> float:
    return float(((got.double() - want.double()) ** 2).sum() / max(float((want.double() ** 2).sum()), 1e-300))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    ap.add_argument("--weights", help="torch.save'd OpenAI-key state dict (default: the preset's)")
    ap.add_argument("--out", help="output path without extension (default: the preset's)")
    args = ap.parse_args()
    preset = PRESETS[args.preset]
    weights_path = args.weights or preset["weights"]
    out_path = args.out or preset["out"]
    torch.manual_seed(0)
    cfg, model = mcg.load_model(os.path.join(ROOT, weights_path))
    for p in model.parameters():
        p.requires_grad_(False)

    arrays: "dict[str, np.ndarray]" = {}

    def put(name: str, t: torch.Tensor) -> str:
        arrays[name] = t.detach().float().contiguous().numpy()
        return name

    cases = []
    for name, source, (h, w), seed, k, m, caa in preset["cases"]:
        image = mcg.clip_es_preprocess(mcg.hash_rgba(h, w, seed)) if source == "rgba" else mcg.hash_image(h, w, seed)
        p = cfg.patch_size
        gh, gw = image.shape[1] // p, image.shape[2] // p
        text = text_rows(k + m, cfg.embed_dim, 100 + seed)
        pos = mcg.interpolate_pos(model.visual.positional_embedding, gh, gw, "exact")
        extras: dict = {}
        cams, probs, maps = ces.grad_cam(model, image, text, list(range(k)), positional=pos, extras=extras)
        affinity = maps[-caa:].mean(dim=0)[1:, 1:]
        torch32 = None
        if preset["torch32"]:
            cams32, _, _ = ces.grad_cam(model, image, text, list(range(k)))
            torch32 = [nmse(cams32[i], cams[i]) for i in range(k)]
        case = {
            "name": name, "source": source, "seed": seed, "source_size": [h, w], "input_size": list(image.shape[1:]),
            "grid": [gh, gw], "classes": k, "background": m, "caa_layers": caa,
            "cams_torch32_nmse": torch32,
            "arrays": {
                "input": put(f"{name}.input", image), "text": put(f"{name}.text", text), "probs": put(f"{name}.probs", probs),
                "cams": put(f"{name}.cams", cams), "affinity": put(f"{name}.affinity", affinity),
                "block_input": put(f"{name}.block_input", extras["block_input"]),
                "grad_weights": put(f"{name}.grad_weights", extras["grad_weights"]),
            },
        }
        cases.append(case)
        print(f"case {name}: input {list(image.shape)}, grid {gh}x{gw}, K={k}, M={m}, probs[:K] {probs[:k].tolist()}, "
              f"cam max {[float(c.max()) for c in cams]}, cam>0 {[int((c > 0).sum()) for c in cams]}/{gh * gw}, "
              f"torch32 NMSE {case['cams_torch32_nmse']}", file=sys.stderr)

    blob, index = mcg.pack_arrays(arrays)
    weights_sha = mcg.sha256_file(os.path.join(ROOT, weights_path))
    header = {
        "generator": "weights/make_gradcam_goldens.py",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "preset": args.preset,
        "weights": weights_path,
        "weights_sha256": weights_sha,
        "logit_scale": float(model.logit_scale),
        "config": {"embed": cfg.embed_dim, "patch": cfg.patch_size, "vision_width": cfg.vision_width,
                   "vision_layers": cfg.vision_layers, "vision_heads": cfg.vheads},
        "bin_bytes": len(blob),
        "bin_sha256": hashlib.sha256(blob).hexdigest(),
        "cases": cases,
        "arrays": index,
    }
    mcg.write_golden(os.path.join(ROOT, out_path), header, blob)
    print(f"wrote {out_path}.json and {out_path}.bin ({len(blob)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
