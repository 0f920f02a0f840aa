#!/usr/bin/env python3
"""Peer for bench/clip.bench.ts (CPU) and bench/device.bench.ts (`--device cuda`): the CLIP image
tower of weights/torch_clip.py (PyTorch, float32) on the same weights, timed at the same input
sizes. Prints one JSON object on stdout.
By default every Linear runs as a 1x1 convolution (weights/clip_es_torch.py): Debian's PyTorch runs
nn.Linear on the reference BLAS, 20-40x slower than its oneDNN convolutions; `--impl module` times
the plain nn.Module forward instead.

    /usr/bin/python3 bench/peers/torch_clip_vision.py \
        --weights weights/generated/vitb16/clip_openai.safetensors --sizes 224x224,384x512 --warm 3

On CUDA (`--device cuda`) each run is timed between two torch.cuda.synchronize() calls, TF32 is off
(float32 arithmetic, as seedmask's), and `--impl module` is the natural choice (cuBLAS runs
nn.Linear well; the 1x1-convolution detour only helps Debian's CPU build).

--sizes are HxW of the model input (already multiples of the patch). The forward is the one
seedmask's vision graph computes (src/models/clip/vision.ts): conv1 -> [class; patches] + the
positional table resized bilinearly to the grid (align_corners=False) and rounded to float16 ->
ln_pre -> blocks -> ln_post on every token -> @ proj, i.e. features [L, E] for all tokens.

The safetensors file is read with numpy (Debian's python3-torch has no `safetensors` package):
8-byte little-endian header length, JSON header, then the raw tensors; BF16/F16/F32 are handled.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "weights"))
import clip_es_torch as es  # noqa: E402
from torch_clip import ClipConfig, build_clip  # noqa: E402


def read_safetensors(path: str) -> "dict[str, torch.Tensor]":
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        blob = f.read()
    out = {}
    for key, meta in header.items():
        if key == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        raw = blob[a:b]
        dtype, shape = meta["dtype"], meta["shape"]
        if dtype == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif dtype == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dtype == "F32":
            arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif dtype == "I64":  # e.g. Hugging Face's position_ids buffer
            arr = np.frombuffer(raw, dtype="<i8")
        else:
            raise SystemExit(f"{path}: tensor {key} has dtype {dtype}, which this peer does not read")
        out[key] = torch.from_numpy(arr.reshape(shape).copy())
    return out


def load_openai_state_dict(path: str) -> "dict[str, torch.Tensor]":
    """OpenAI-layout CLIP weights as float32 tensors: a safetensors file (read with numpy), a plain
    state-dict .pt/.pth (torch.load with weights_only, so no pickled code runs), or OpenAI's
    TorchScript archive (ViT-B-16.pt; torch.jit.load, as clip.load does). Hugging Face's layout
    (vision_model.*) is not translated here: export OpenAI keys or use seedmask alone (--no-peer)."""
    if path.endswith(".safetensors"):
        sd = read_safetensors(path)
    else:
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a TorchScript archive is not a plain pickle
            sd = torch.jit.load(path, map_location="cpu")
        if isinstance(sd, torch.jit.ScriptModule):  # torch.load hands TorchScript archives to torch.jit.load
            sd = sd.state_dict()
        if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
            sd = sd["state_dict"]
        sd = {k: v.float() for k, v in sd.items() if isinstance(v, torch.Tensor)}
    if "visual.conv1.weight" not in sd:
        hf = any(k.startswith(("vision_model.", "text_model.")) for k in sd)
        raise SystemExit(f"{path}: no visual.conv1.weight; " + ("this is the Hugging Face layout, which the PyTorch peer does not read (use OpenAI keys or --no-peer)"
                                                               if hf else "not OpenAI-layout CLIP weights"))
    for key in ("input_resolution", "context_length", "vocab_size", "attn_mask"):  # TorchScript extras and buffers CLIP rebuilds
        sd.pop(key, None)
    return sd


def config_from_state_dict(sd) -> ClipConfig:
    # As in test/fixtures/clip/make_clip_golden.py.
    def count(prefix: str) -> int:
        return len({k.split(".")[prefix.count(".")] for k in sd if k.startswith(prefix) and k.endswith(".attn.in_proj_weight")})

    conv = sd["visual.conv1.weight"]
    grid = int(round(math.sqrt(sd["visual.positional_embedding"].shape[0] - 1)))
    return ClipConfig(
        embed_dim=sd["text_projection"].shape[1], image_size=grid * conv.shape[-1], patch_size=conv.shape[-1],
        vision_width=conv.shape[0], vision_layers=count("visual.transformer.resblocks."),
        context_length=sd["positional_embedding"].shape[0], vocab_size=sd["token_embedding.weight"].shape[0],
        text_width=sd["ln_final.weight"].shape[0], text_layers=count("transformer.resblocks."))


def positional_table(visual, gh: int, gw: int) -> torch.Tensor:
    pos = visual.positional_embedding
    g = int(round(math.sqrt(pos.shape[0] - 1)))
    grid = pos[1:].reshape(1, g, g, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(gh, gw), mode="bilinear", align_corners=False)
    table = torch.cat([pos[:1], grid.permute(0, 2, 3, 1).reshape(gh * gw, -1)], dim=0)
    return table.half().float()  # CLIP-ES rounds the table to float16 on every forward


def features(visual, image: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    x = visual.conv1(image)                                           # [1, D, gh, gw]
    x = x.flatten(2).transpose(1, 2)                                  # [1, n, D]
    cls = visual.class_embedding.expand(x.shape[0], 1, -1)
    x = visual.ln_pre(torch.cat([cls, x], dim=1) + pos)
    x = visual.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
    return visual.ln_post(x) @ visual.proj                            # [1, L, E]


def features_fast(model, image: torch.Tensor) -> torch.Tensor:
    """The same forward through weights/clip_es_torch.py's blocks: every Linear as a 1x1 convolution
    (oneDNN) instead of nn.Linear, which Debian's python3-torch runs on the reference BLAS at about
    1 GFLOP/s. Same parameters, same result to float32 rounding; this is the peer by default."""
    tokens = es.image_tokens(model, image, round_fp16_pos=True)
    return es.linear(model.visual.ln_post(tokens), model.visual.proj.t())  # [1, L, E]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--sizes", default="224x224", help="comma-separated HxW model input sizes")
    ap.add_argument("--warm", default="3", help="warm runs: one number, or one per size (comma-separated)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (cpu device)")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    ap.add_argument("--impl", choices=["fast", "module"], default="fast",
                    help="fast: Linear as 1x1 convolution (oneDNN); module: torch_clip's nn.Module forward (nn.Linear)")
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: torch.cuda.is_available() is False")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    else:
        torch.set_num_threads(args.threads)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    sd = load_openai_state_dict(args.weights)
    cfg = config_from_state_dict(sd)
    model = build_clip(cfg)
    model.load_state_dict(sd, strict=True)
    model.float().eval().to(device)
    sync()
    load_ms = (time.perf_counter() - t0) * 1e3

    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",") if s]
    warm = [int(w) for w in args.warm.split(",")]
    if len(warm) == 1:
        warm = warm * len(sizes)
    results = []
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for (h, w), n in zip(sizes, warm):
            p = cfg.patch_size
            image = torch.randn(1, 3, h, w, generator=gen).to(device)
            def forward() -> torch.Tensor:
                if args.impl == "fast":
                    return features_fast(model, image)
                return features(model.visual, image, positional_table(model.visual, h // p, w // p))

            sync()
            t = time.perf_counter()
            out = forward()
            sync()
            cold = (time.perf_counter() - t) * 1e3
            times = []
            for _ in range(n):
                t = time.perf_counter()
                out = forward()
                sync()
                times.append((time.perf_counter() - t) * 1e3)
            results.append({"height": h, "width": w, "tokens": out.shape[1], "cold_ms": cold, "warm_ms": times})
    print(json.dumps({
        "name": f"PyTorch {torch.__version__} "
                + (f"CUDA {torch.version.cuda} {torch.cuda.get_device_name(device)} float32 (TF32 off), " if device.type == "cuda"
                   else f"CPU ×{torch.get_num_threads()} float32, ")
                + ("Linear as 1x1 conv (weights/clip_es_torch.py)" if args.impl == "fast" else "nn.Module forward (weights/torch_clip.py)"),
        "impl": args.impl,
        "device": str(device), "cuda": torch.version.cuda if device.type == "cuda" else None,
        "torch": torch.__version__, "threads": torch.get_num_threads(), "load_ms": load_ms, "results": results,
    }))


if __name__ == "__main__":
    main()
