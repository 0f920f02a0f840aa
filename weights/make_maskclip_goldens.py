#!/usr/bin/env python3
"""Golden outputs of MaskCLIP's dense labels (docs/algorithms.md §7) from PyTorch, for seedmask's
MaskCLIP CAM source and zero-shot labels (src/wsss/sources/maskclip.ts, test/wsss/maskclip.test.ts).

Usage (from the repository root; Debian's python3-torch, so /usr/bin/python3):

    /usr/bin/python3 weights/make_maskclip_goldens.py     # writes test/fixtures/maskclip/tiny.{json,bin}

What is reference and what is not: MaskCLIP's own code (chongzhou96/MaskCLIP at 245d31f) runs inside
mmsegmentation and mmcv, which Debian does not package; this script therefore re-states its two
functions in PyTorch from reading them, step for step, and is a second opinion rather than a run of
the original:
  - mmseg/models/backbones/vit.py TransformerEncoderLayer.forward with return_qkv: y = ln_1(x);
    qkv = in_proj(y) split per token; out_proj applied to q, k and v alike; v = v + x;
    v = v + FFN(ln_2(v)); then the backbone's final norm (CLIP's ln_post) on v;
  - mmseg/models/decode_heads/maskclip_head.py: a 1x1 conv with CLIP's proj (no bias), cls_seg =
    per-pixel L2 normalisation and a 1x1 conv with the text embeddings (no logit scale).
The blocks are CLIP's (QuickGELU, eps 1e-5) on CLIP-ES's input, as seedmask runs them. On top, what
seedmask defines (the file header of src/wsss/sources/maskclip.ts): CAMs = softmax over the K + M
text rows at exp(logit_scale), the K label columns, pytorch_grad_cam's two float32 min-max passes;
CAA's affinity = mean head-averaged attention of the last caa_layers blocks, class token dropped;
image-level probabilities = standard CLIP's class-token embedding against the rows; zero-shot labels
= the score maps resized to the source size (bilinear, align_corners=False, as mmseg's resize),
argmax over the rows, rows >= K (background prompts) -> 0, row r < K -> r + 1.

Model: the tiny random CLIP of test/fixtures/weights/tiny (vision width 64, 2 blocks, 1 head, E = 32).
Images: make_clip_golden.py's hash_rgba through CLIP-ES's preprocessing (Pillow bicubic to multiples
of 16), positional table exactly rounded to float16 (as seedmask computes it).
Text rows: random normal rows, L2-normalised (the pipeline's label-set rows are).

Cases: a  RGBA 40x56 -> 48x64 (grid 3x4), K = 3, M = 5, caa_layers 8
       b  RGBA 70x33 -> 80x48 (grid 5x3), K = 1, M = 4, caa_layers 1
Arrays per case (float32): text [K + M, E], probs [K + M], cams [K, n], affinity [n, n],
scores [n, K + M], zeroshot [h, w] (label values as floats).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "weights"))
import clip_es_torch as ces  # noqa: E402

_spec = importlib.util.spec_from_file_location("make_clip_golden", os.path.join(ROOT, "test", "fixtures", "clip", "make_clip_golden.py"))
mcg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mcg)

WEIGHTS = os.path.join("test", "fixtures", "weights", "tiny", "clip_state_dict.pt")
OUT = os.path.join("test", "fixtures", "maskclip", "tiny")
# name, (h, w) before preprocessing, seed, K, M, caa_layers
CASES = [("a", (40, 56), 31, 3, 5, 8), ("b", (70, 33), 32, 1, 4, 1)]


def minmax_twice(x: torch.Tensor) -> torch.Tensor:
    for _ in range(2):
        x = x - x.min()
        x = x / (1e-7 + x.max())
    return x


def maskclip(model, image: torch.Tensor, text: torch.Tensor, k: int, caa: int, positional: torch.Tensor):
    v = model.visual
    patch = v.conv1.weight.shape[-1]
    gh, gw = image.shape[1] // patch, image.shape[2] // patch
    heads = model.config.vheads
    blocks = list(v.transformer.resblocks)
    x = F.conv2d(image[None], v.conv1.weight, stride=patch).flatten(2).transpose(1, 2)
    x = v.ln_pre(torch.cat([v.class_embedding.expand(1, 1, -1), x], dim=1) + positional)
    maps = []
    for blk in blocks[:-1]:
        x, w = ces.block_forward(x, blk, heads, want_weights=True)
        maps.append(w[0])
    last = blocks[-1]
    full, w = ces.block_forward(x, last, heads, want_weights=True)
    maps.append(w[0])

    # MaskCLIP's value path of the last block (vit.py, return_qkv).
    y = last.ln_1(x)
    qkv = F.linear(y, last.attn.in_proj_weight, last.attn.in_proj_bias)
    n, length, c3 = qkv.shape
    qkv = qkv.view(n, length, 3, c3 // 3).permute(2, 0, 1, 3).reshape(3 * n, length, c3 // 3)
    qkv = F.linear(qkv, last.attn.out_proj.weight, last.attn.out_proj.bias)
    _, _, val = qkv.tensor_split(3, dim=0)
    val = val + x
    val = val + ces.mlp(last.ln_2(val), last)
    val = v.ln_post(val)
    dense = val[0, 1:] @ v.proj                                   # the head's 1x1 proj conv
    feat = dense / dense.norm(dim=1, keepdim=True)                # cls_seg
    scores = feat @ text.t()                                      # [n, R]

    kappa = model.logit_scale.exp()
    cams = minmax_twice_rows((kappa * scores).softmax(dim=1)[:, :k].t())
    e = ces.normalized(v.ln_post(full[0, :1]) @ v.proj)
    probs = (kappa * e @ ces.normalized(text).t()).softmax(dim=-1)[0]
    affinity = torch.stack(maps[-caa:]).mean(dim=0)[1:, 1:]
    return scores, cams, probs, affinity, (gh, gw)


def minmax_twice_rows(x: torch.Tensor) -> torch.Tensor:
    return torch.stack([minmax_twice(r) for r in x])


def main() -> None:
    torch.manual_seed(0)
    cfg, model = mcg.load_model(os.path.join(ROOT, WEIGHTS))
    arrays: "dict[str, np.ndarray]" = {}

    def put(name: str, t: torch.Tensor) -> str:
        arrays[name] = t.detach().float().contiguous().numpy()
        return name

    cases = []
    with torch.no_grad():
        for name, (h, w), seed, k, m, caa in CASES:
            image = mcg.clip_es_preprocess(mcg.hash_rgba(h, w, seed))
            gh, gw = image.shape[1] // cfg.patch_size, image.shape[2] // cfg.patch_size
            gen = torch.Generator().manual_seed(200 + seed)
            text = ces.normalized(torch.randn(k + m, cfg.embed_dim, generator=gen))
            pos = mcg.interpolate_pos(model.visual.positional_embedding, gh, gw, "exact")
            scores, cams, probs, affinity, grid = maskclip(model, image, text, k, caa, pos)
            maps = scores.t().reshape(1, k + m, gh, gw)
            full = F.interpolate(maps, size=(h, w), mode="bilinear", align_corners=False)[0]
            winner = full.argmax(dim=0)
            zeroshot = torch.where(winner < k, winner + 1, torch.zeros_like(winner)).float()
            # How far the runner-up is at each pixel: pixels within float32 noise of a tie are
            # reported so that the test can tell a real disagreement from an ordering of equals.
            top2 = full.topk(2, dim=0).values
            near_ties = int(((top2[0] - top2[1]) < 1e-5).sum())
            cases.append({
                "name": name, "seed": seed, "source_size": [h, w], "input_size": list(image.shape[1:]), "grid": list(grid),
                "classes": k, "background": m, "caa_layers": caa, "zeroshot_near_ties": near_ties,
                "arrays": {"text": put(f"{name}.text", text), "probs": put(f"{name}.probs", probs), "cams": put(f"{name}.cams", cams),
                           "affinity": put(f"{name}.affinity", affinity), "scores": put(f"{name}.scores", scores),
                           "zeroshot": put(f"{name}.zeroshot", zeroshot)},
            })
            print(f"case {name}: grid {grid}, K={k}, M={m}, probs {probs.tolist()}, zero-shot labels {sorted(set(zeroshot.flatten().int().tolist()))}, near ties {near_ties}", file=sys.stderr)

    blob, index = mcg.pack_arrays(arrays)
    weights_sha = mcg.sha256_file(os.path.join(ROOT, WEIGHTS))
    header = {
        "generator": "weights/make_maskclip_goldens.py", "torch": torch.__version__, "numpy": np.__version__,
        "weights": WEIGHTS, "weights_sha256": weights_sha, "logit_scale": float(model.logit_scale),
        "bin_bytes": len(blob), "bin_sha256": hashlib.sha256(blob).hexdigest(), "cases": cases, "arrays": index,
    }
    mcg.write_golden(os.path.join(ROOT, OUT), header, blob)
    print(f"wrote {OUT}.json and {OUT}.bin ({len(blob)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
